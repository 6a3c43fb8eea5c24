"""The one daily partitions definition (partition key = snapshot date) and the history mapping."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg

from engagement_pipeline.config import SnapshotsConfig

# A snapshot reads every raw partition up to its own date. TimeWindowPartitionMapping has no
# "unbounded" start, so the offset reaches back further than any partitions definition
# (300 years); the window is clipped to the partitions that exist. Lineage therefore shows
# snapshot D depending on raw [start, D] and nothing after D — the truth.
HISTORY_DAYS = 300 * 366
with warnings.catch_warnings():
    # allow_nonexistent_upstream_partitions is marked beta; it is what clips the window.
    warnings.simplefilter("ignore", dg.BetaWarning)
    HISTORY_MAPPING = dg.TimeWindowPartitionMapping(
        start_offset=-HISTORY_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def snapshot_partitions(snapshots: SnapshotsConfig) -> dg.DailyPartitionsDefinition:
    """Daily snapshot dates from the configured start (and end, for a historical data set)."""
    end = (
        (snapshots.end_date + dt.timedelta(days=1)).isoformat()
        if snapshots.end_date is not None
        else None
    )
    return dg.DailyPartitionsDefinition(
        start_date=snapshots.start_date.isoformat(), end_date=end, fmt="%Y-%m-%d"
    )


def backfill_policy(snapshots: SnapshotsConfig) -> dg.BackfillPolicy:
    """Ranges run as one run of up to max_days_per_run dates (one run for the whole range
    when it is shorter), so a long backfill of big data stays within memory."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=snapshots.max_days_per_run)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The first and last snapshot date of this run (one date, or a backfill's range)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def dates_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]
