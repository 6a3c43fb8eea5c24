"""The main job (every asset, one snapshot date or a range) and its daily schedule."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from engagement_pipeline.config import SnapshotsConfig

ENGAGEMENT_JOB = "engagement_job"
DAILY_SCHEDULE = "daily_engagement_schedule"


def build_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        ENGAGEMENT_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest the day's events and purchases, then build every snapshot and the report.",
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
