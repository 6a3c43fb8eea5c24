"""Running the jobs over a range of snapshot dates: in runs of bounded size, in date order,
and (ingestion) as parallel runs in processes of their own."""

import datetime as dt
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from engagement_pipeline.config import CONFIG_PATH_ENV
from engagement_pipeline.defs.errors import USER_ERROR
from engagement_pipeline.markdown import counted

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def date_chunks(first: dt.date, last: dt.date, max_days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """[first, last] cut into consecutive pieces of at most max_days dates."""
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=max_days - 1))
        yield start, end
        start = end + dt.timedelta(days=1)


def execute_range(
    job: dg.JobDefinition,
    first: dt.date,
    last: dt.date,
    max_days: int,
    instance: dg.DagsterInstance | None = None,
    run_config: dict | None = None,
) -> Iterator[tuple[dt.date, dt.date, dg.ExecuteInProcessResult]]:
    """Execute `job` for every snapshot date in [first, last], chunk by chunk, in date order.

    Each chunk is one run over a partition range (the assets compute its dates at once);
    earlier chunks write the raw history later chunks read. Stops after a failed chunk.
    """
    for start, end in date_chunks(first, last, max_days):
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
            run_config=run_config,
            raise_on_error=False,
        )
        yield start, end, result
        if not result.success:
            return


def rows_read(result: dg.ExecuteInProcessResult) -> int:
    """Source rows the run's ingestion read (its raw materializations' rows_read)."""
    total = 0
    for event in result.get_asset_materialization_events():
        value = event.event_specific_data.materialization.metadata.get("rows_read")
        total += int(value.value) if value is not None else 0
    return total


# A quarantine partition's rows per reason, in its materialization's metadata.
REASON_METADATA_PREFIX = "reason/"

Quarantined = Counter  # (quarantine asset, reason) -> rows


def quarantined_rows(result: dg.ExecuteInProcessResult) -> Quarantined:
    """Rows the run's ingestion quarantined, per (quarantine asset, reason): its quarantine
    partitions' reason/<code> metadata."""
    counts: Quarantined = Counter()
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        for key, value in materialization.metadata.items():
            if key.startswith(REASON_METADATA_PREFIX):
                reason = key.removeprefix(REASON_METADATA_PREFIX)
                counts[(materialization.asset_key.to_user_string(), reason)] += int(value.value)
    return counts


def quarantine_line(counts: Quarantined) -> str:
    """What a command's runs quarantined, for its last lines: per quarantine asset its rows
    and their reasons, most first, and where the rows are kept."""
    if not sum(counts.values()):
        return "Quarantined at ingestion: no rows."
    parts = []
    for asset in sorted({a for a, _ in counts}):
        reasons = sorted(
            ((r, n) for (a, r), n in counts.items() if a == asset and n),
            key=lambda x: (-x[1], x[0]),
        )
        listed = ", ".join(f"{r} {n:,}" for r, n in reasons)
        parts.append(f"{counted(sum(n for _, n in reasons), 'row')} in {asset} ({listed})")
    return (
        f"Quarantined at ingestion: {'; '.join(parts)}. Each row is kept there with its "
        "source file, row and reason (docs/data_quality.md explains each reason)."
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def progress_line(
    done: int, total: int, rows: int, seconds: float, latest: tuple[int, float] | None = None
) -> str:
    """'40/181 dates, 1,234,567 source rows at 20,576 rows/s, about 3m 26s left' (the rows
    the runs' ingestion read, over the whole time the runs took); the last line says how
    long the whole took instead. The time left goes at the pace of the `latest`
    run (its dates, its seconds) when given, else at the average so far: snapshot dates
    cost more as customers accumulate, so the average so far promised the sample's run
    minutes sooner than it ended."""
    rate = rows / seconds if seconds > 0 else 0.0
    line = f"{done}/{total} dates, {rows:,} source rows at {rate:,.0f} rows/s"
    if done >= total:
        return f"{line}, all in {_duration(seconds)}"
    dates, spent = latest if latest and latest[0] else (done, seconds)
    left = spent / dates * (total - done) if dates else 0.0
    return f"{line}, about {_duration(left)} left"


def run_progress(keys: list[str], rows: int, seconds: float) -> str:
    """A step's line in the run log: its dates, rows and pace."""
    rate = rows / seconds if seconds > 0 else 0.0
    span = keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]} ({len(keys)} dates)"
    return f"{span}: {rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)"


# -- ingestion days as parallel runs --------------------------------------------------------


@dataclass(frozen=True)
class StepFailure:
    step: str
    message: str
    user_error: bool  # bad config or input (exit 2), not a bug


@dataclass(frozen=True)
class RunOutcome:
    """What a run in another process reports back: enough to print progress or failures."""

    run_id: str
    success: bool
    rows: int
    failures: list[StepFailure]
    quarantined: Quarantined


def step_failures(result) -> list[StepFailure]:
    """Each failed step's message: ours for bad config or input, else the cause's."""
    failures = []
    for event in (e for e in result.all_events if e.is_step_failure):
        error = event.step_failure_data.user_failure_data
        # A bug arrives wrapped in Dagster's step error: its cause says what went wrong.
        failure = event.step_failure_data.error
        message = (error.description if error else None) or (failure.cause or failure).message
        flag = error.metadata.get(USER_ERROR) if error and error.metadata else None
        user = flag is not None and getattr(flag, "value", flag) is True
        failures.append(StepFailure(event.step_key, message.strip(), user))
    return failures


def ingestion_job_from_config() -> dg.JobDefinition:
    """$CONFIG_PATH's ingestion job: what each parallel run (and each of its step processes)
    rebuilds for itself."""
    # imported here: the asset modules import this one (run_progress)
    from engagement_pipeline.defs.build import build_definitions
    from engagement_pipeline.defs.jobs import INGESTION_JOB

    return build_definitions().resolve_job_def(INGESTION_JOB)


def _ingest_days(config_path: str, first: str, last: str) -> RunOutcome:
    """One ingestion run of the days [first, last], in this (worker) process with its steps
    (the code location's in-process executor), recorded in $DAGSTER_HOME."""
    os.environ[CONFIG_PATH_ENV] = config_path
    instance = dg.DagsterInstance.get()
    with dg.execute_job(
        dg.reconstructable(ingestion_job_from_config),
        instance,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        raise_on_error=False,
    ) as result:
        return RunOutcome(
            result.run_id,
            result.success,
            rows_read(result),
            step_failures(result),
            quarantined_rows(result),
        )


def ingest_in_parallel(
    config_path: Path, chunks: list[tuple[dt.date, dt.date]], parallel: int
) -> Iterator[tuple[dt.date, dt.date, RunOutcome]]:
    """Ingest each chunk of days as its own Dagster run, up to `parallel` at once (each run
    writes only its own days' partitions; landing is shared safely). Yields each run as it
    finishes; stops starting new runs after a failure."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited state
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        pending = {
            pool.submit(_ingest_days, str(config_path), a.isoformat(), b.isoformat()): (a, b)
            for a, b in chunks
        }
        for future in as_completed(pending):
            start, end = pending[future]
            outcome = future.result()
            yield start, end, outcome
            if not outcome.success:
                for other in pending:
                    other.cancel()
                return
