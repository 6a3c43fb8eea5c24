"""Late data: a raw day re-loaded after later snapshots were built makes them out of date.

Snapshots are built day by day from the previous day's, so a change to raw day D reaches
every snapshot from D on. Dagster marks only snapshot D stale (it does not follow
self-dependencies), so the ingestion names the rest itself, and `late_data_sensor` (off
by default) launches the rebuild from D to the last built date.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from engagement_pipeline.defs.runs import RANGE_END_TAG, RANGE_START_TAG
from engagement_pipeline.stages import CUSTOMER_SEGMENTS, RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES

LATE_DATA_SENSOR = "late_data_sensor"
# Every snapshot feeds it, so its partitions say which dates have been built.
BUILT_MARKER = dg.AssetKey(CUSTOMER_SEGMENTS)
RAW_KEYS = (dg.AssetKey(RAW_ENGAGEMENT_EVENTS), dg.AssetKey(RAW_PURCHASES))


def built_after(instance: dg.DagsterInstance, day: str) -> list[str]:
    """Snapshot dates after `day` that have been built (Dagster's record, not the lake)."""
    return sorted(p for p in instance.get_materialized_partitions(BUILT_MARKER) if p > day)


def later_snapshots_note(
    context: dg.AssetExecutionContext, asset: str, keys: list[str]
) -> dict[str, str]:
    """Per run date: the built snapshots after the run that are now out of date (warned)."""
    later = built_after(context.instance, keys[-1])
    if not later:
        return {}
    span = f"{later[0]} .. {later[-1]} ({len(later)} dates)"
    context.log.warning(
        f"{asset} changed for {keys[0]}..{keys[-1]} after snapshots up to {later[-1]} were "
        f"built: snapshots {span} are now out of date. Rebuild them with a backfill from "
        f"{keys[0]}, `engagement-pipeline run --from {keys[0]} --to {later[-1]}`, or turn "
        f"on {LATE_DATA_SENSOR}."
    )
    return {"later_snapshots_out_of_date": span}


def _out_of_date_from(
    instance: dg.DagsterInstance, records: Iterable[dg.EventLogRecord]
) -> str | None:
    """The earliest raw day re-loaded after a snapshot on or after it was built."""
    built = instance.event_log_storage.get_latest_storage_id_by_partition(
        BUILT_MARKER, dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    late = [
        r.partition_key
        for r in records
        if any(q >= r.partition_key and sid < r.storage_id for q, sid in built.items())
    ]
    return min(late, default=None)


def build_late_data_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name=LATE_DATA_SENSOR,
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="When a raw day is re-loaded after later snapshots were built, rebuilds "
        "every snapshot from that day to the last built date in one run.",
    )
    def late_data_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        after = int(context.cursor or 0)
        records = [
            r
            for key in RAW_KEYS
            for r in context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
                limit=1000,
                ascending=True,
            ).records
        ]
        # Only finished runs: a run in progress writes its snapshots after its raw days.
        finished = [
            r
            for r in records
            if (run := context.instance.get_run_by_id(r.run_id)) and run.is_finished
        ]
        unfinished = [r.storage_id for r in records if r not in finished]
        cursor = (
            min(unfinished) - 1
            if unfinished
            else max((r.storage_id for r in records), default=after)
        )
        first = _out_of_date_from(context.instance, finished)
        if first is None:
            return dg.SensorResult(cursor=str(cursor), skip_reason="no late raw data")
        last = max(built_after(context.instance, first) + [first])
        request = dg.RunRequest(
            run_key=f"late-data-{first}-{cursor}",
            tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        )
        return dg.SensorResult(run_requests=[request], cursor=str(cursor))

    return late_data_sensor
