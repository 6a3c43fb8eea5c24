"""The main job (every asset, one snapshot date or a range) and its daily schedule."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from engagement_pipeline.config import SnapshotsConfig
from engagement_pipeline.defs.assets.raw import GROUP as RAW_GROUP

ENGAGEMENT_JOB = "engagement_job"
INGESTION_JOB = "ingestion_job"
SNAPSHOT_JOB = "snapshot_job"
DAILY_SCHEDULE = "daily_engagement_schedule"


def build_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        ENGAGEMENT_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest the day's events and purchases, then build every snapshot and the report.",
    )


def build_ingestion_job() -> dg.UnresolvedAssetJobDefinition:
    """Days are independent here: a backfill's runs of this job may run side by side."""
    return dg.define_asset_job(
        INGESTION_JOB,
        selection=dg.AssetSelection.groups(RAW_GROUP),
        description="Ingest the days' events and purchases (validate, quarantine, write the "
        "raw partitions). Each day stands alone, so runs of different days run in parallel.",
    )


def build_snapshot_job() -> dg.UnresolvedAssetJobDefinition:
    """Everything built from the raw days; each date builds on the date before."""
    return dg.define_asset_job(
        SNAPSHOT_JOB,
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups(RAW_GROUP),
        description="Build every snapshot asset and the report from the raw partitions. "
        "Each date builds on the previous date's rows, so its runs go in date order.",
    )


def build_schedule(
    job: dg.UnresolvedAssetJobDefinition, snapshots: SnapshotsConfig
) -> dg.ScheduleDefinition:
    """Open-ended config: each tick at 02:00 UTC runs the day that just ended. Historical
    config (end_date set): every day already has its partition, so the schedule exists (so
    the UI says why) but each tick skips with the reason."""
    if snapshots.end_date is None:

        @dg.schedule(
            name=DAILY_SCHEDULE,
            job=job,
            cron_schedule="0 2 * * *",
            execution_timezone="UTC",
            description="Runs the previous day's snapshot (every asset) at 02:00 UTC.",
        )
        def daily_engagement_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
            # The tick's own time names the day that just ended; the run computes as of it.
            day = (context.scheduled_execution_time - dt.timedelta(days=1)).date().isoformat()
            return dg.RunRequest(run_key=day, partition_key=day)

        return daily_engagement_schedule
    reason = (
        f"snapshots.end_date is {snapshots.end_date}: this config describes a closed "
        "historical range, so there is no new day to run. Backfill its dates from the "
        "asset graph, or remove end_date from config.yaml to run every day."
    )

    @dg.schedule(
        name=DAILY_SCHEDULE,
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        description=f"Does nothing for this config. {reason}",
    )
    def daily_engagement_schedule(_context: dg.ScheduleEvaluationContext) -> dg.SkipReason:
        return dg.SkipReason(reason)

    return daily_engagement_schedule
