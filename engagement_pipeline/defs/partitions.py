"""The one daily partitions definition (partition key = snapshot date) and the mappings to earlier days."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg

from engagement_pipeline.config import SnapshotsConfig


def earlier_days(first: int, last: int = 1) -> dg.TimeWindowPartitionMapping:
    """An asset's own partitions from `first` days to `last` days before each date.

    Snapshots are built from their own earlier rows (the previous day's state, and the day
    before each window starts); ingestion checks compare a day with the days before it.
    Lineage shows exactly those reads. Dates before the first partition are dropped.
    """
    with warnings.catch_warnings():
        # allow_nonexistent_upstream_partitions is beta; it drops dates before the start.
        warnings.filterwarnings(
            "ignore", category=dg.BetaWarning, message=".*allow_nonexistent_upstream_partitions"
        )
        return dg.TimeWindowPartitionMapping(
            start_offset=-first, end_offset=-last, allow_nonexistent_upstream_partitions=True
        )


# Input metadata for reads of earlier partitions that may not all exist yet (the first
# dates of a lake); the IO manager then loads those that exist, and the asset decides.
EXISTING_ONLY = {"existing_partitions_only": True}


def earlier_in(asset: str, first: int, last: int = 1) -> dg.AssetIn:
    """An input of the asset's own (or another asset's) earlier partitions."""
    return dg.AssetIn(asset, partition_mapping=earlier_days(first, last), metadata=EXISTING_ONLY)


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


def partition_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The snapshot dates of this run, as partition keys in date order."""
    return [d.isoformat() for d in dates_between(*partition_dates(context))]


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The first and last snapshot date of this run (one date, or a backfill's range)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def dates_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]
