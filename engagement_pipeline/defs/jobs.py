"""The main job (every asset, one snapshot date or a range) and its daily schedule."""

from __future__ import annotations

import dagster as dg

ENGAGEMENT_JOB = "engagement_job"


def build_jobs(
    partitions_def: dg.PartitionsDefinition,
) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    job = dg.define_asset_job(
        ENGAGEMENT_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions_def,
        description="Ingest the day's events and purchases, then rebuild every snapshot and the report.",
    )
    # Each tick at 02:00 runs the partition of the day that just ended (the previous day).
    schedule = dg.build_schedule_from_partitioned_job(
        job, name="daily_engagement_schedule", hour_of_day=2, minute_of_hour=0
    )
    return job, schedule
