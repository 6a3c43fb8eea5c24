"""Where things stand, from the Dagster instance: per asset the materialized date ranges and
the run that last materialized it, the latest run and its outcome, and the checks whose
latest evaluation on some date failed (`engagement-pipeline status`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from engagement_pipeline.markdown import counted

FAILED = (AssetCheckExecutionRecordStatus.FAILED,)  # evaluated and did not pass


def date_ranges(keys: Iterable[str]) -> list[tuple[str, str]]:
    """Daily partition keys as runs of consecutive days: [(first, last), ...]."""
    days = sorted(dt.date.fromisoformat(k) for k in keys)
    ranges: list[list[dt.date]] = []
    for day in days:  # partition keys, not rows of data
        if ranges and day - ranges[-1][1] == dt.timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(a.isoformat(), b.isoformat()) for a, b in ranges]


@dataclass(frozen=True)
class AssetStatus:
    asset: str
    ranges: list[tuple[str, str]]
    last_run_id: str | None
    last_run_status: str | None


@dataclass(frozen=True)
class FailingCheck:
    asset: str
    check: str
    dates: list[str]
    blocking: bool  # a blocking check stops what is downstream; the others are warnings


@dataclass(frozen=True)
class PipelineStatus:
    assets: list[AssetStatus]
    latest_run: tuple[str, str, str] | None  # run id, status, start time (UTC)
    failing_checks: list[FailingCheck]


def _run_status(instance: dg.DagsterInstance, run_id: str | None) -> str | None:
    run = instance.get_run_by_id(run_id) if run_id else None
    return run.status.value if run else None


def pipeline_status(instance: dg.DagsterInstance, defs: dg.Definitions) -> PipelineStatus:
    graph = defs.resolve_asset_graph()
    assets = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        event = instance.get_latest_materialization_event(key)
        run_id = event.run_id if event else None
        assets.append(
            AssetStatus(
                key.to_user_string(),
                date_ranges(instance.get_materialized_partitions(key)),
                run_id,
                _run_status(instance, run_id),
            )
        )
    records = instance.get_run_records(limit=1)
    latest = None
    if records:
        run = records[0]
        started = dt.datetime.fromtimestamp(
            run.start_time or run.create_timestamp.timestamp(), dt.timezone.utc
        )
        latest = (
            run.dagster_run.run_id,
            run.dagster_run.status.value,
            started.strftime("%Y-%m-%d %H:%M UTC"),
        )
    check_keys = list(graph.asset_check_keys)
    failing: dict[dg.AssetCheckKey, list[str]] = {}
    for info in instance.event_log_storage.get_asset_check_partition_info(check_keys):
        if info.latest_execution_status in FAILED:
            failing.setdefault(info.check_key, []).append(info.partition_key or "(unpartitioned)")
    return PipelineStatus(
        assets,
        latest,
        [
            FailingCheck(
                k.asset_key.to_user_string(),
                k.name,
                sorted(dates),
                graph.get_check_spec(k).blocking,
            )
            for k, dates in sorted(failing.items(), key=lambda kv: kv[0].to_user_string())
        ],
    )


def _ranges_text(ranges: list[tuple[str, str]]) -> str:
    if not ranges:
        return "not materialized"
    shown = ", ".join(a if a == b else f"{a} .. {b}" for a, b in ranges[:3])
    return shown + (f" (+{len(ranges) - 3} more ranges)" if len(ranges) > 3 else "")


def status_text(status: PipelineStatus) -> str:
    """The status as plain text for a terminal."""
    lines = []
    if status.latest_run:
        run_id, outcome, started = status.latest_run
        lines.append(f"Latest run: {run_id[:8]} {outcome} (started {started})")
    else:
        lines.append("No run yet: `engagement-pipeline run` materializes the sample.")
    width = max((len(a.asset) for a in status.assets), default=10)
    lines += ["", f"{'Asset':<{width}}  Materialized dates                     Last run"]
    lines += [
        f"{a.asset:<{width}}  {_ranges_text(a.ranges):<38} "
        + (f"{a.last_run_id[:8]} {a.last_run_status}" if a.last_run_id else "–")
        for a in status.assets
    ]
    lines.append("")
    if not status.failing_checks:
        lines.append("Failing checks: none.")
    else:
        lines.append(
            "Failing checks (latest evaluation per date; an error stopped what is downstream "
            "of it, a warning asks a person to look):"
        )
        lines += [
            f"  {c.asset}.{c.check} ({'error' if c.blocking else 'warning'})"
            + (
                f": {counted(len(c.dates), 'date')} ({_ranges_text(date_ranges(c.dates))})"
                if c.dates[0] != "(unpartitioned)"
                else ""
            )
            for c in status.failing_checks
        ]
    return "\n".join(lines) + "\n"
