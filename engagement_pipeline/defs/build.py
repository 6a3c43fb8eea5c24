"""Builds the Dagster definitions for one config file."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from engagement_pipeline.config import default_config_path, load_config
from engagement_pipeline.defs.assets.clv import build_clv_assets
from engagement_pipeline.defs.assets.raw import build_raw_assets
from engagement_pipeline.defs.assets.report import build_report_assets
from engagement_pipeline.defs.assets.snapshots import build_snapshot_assets
from engagement_pipeline.defs.jobs import build_jobs
from engagement_pipeline.defs.partitions import backfill_policy, snapshot_partitions
from engagement_pipeline.defs.resources import ParquetLakeIOManager, PipelineSettings


def build_definitions(config_path: str | Path | None = None) -> dg.Definitions:
    """All assets, the job, the schedule and resources for one config file."""
    path = Path(config_path) if config_path is not None else default_config_path()
    config = load_config(path)
    partitions_def = snapshot_partitions(config.snapshots)
    policy = backfill_policy(config.snapshots)
    job, schedule = build_jobs(partitions_def)
    with warnings.catch_warnings():
        # Single-run backfill policies are marked beta; they are how a range runs at once.
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = [
            *build_raw_assets(partitions_def, policy),
            *build_snapshot_assets(partitions_def, policy),
            *build_report_assets(partitions_def, policy),
            *build_clv_assets(partitions_def, policy),
        ]
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        schedules=[schedule],
        resources={
            "settings": PipelineSettings(config_path=str(path.resolve())),
            "io_manager": ParquetLakeIOManager(lake_path=str(config.lake_dir)),
        },
    )
