import datetime as dt

import pytest

from engagement_pipeline import (
    EngagementAnalysis,
    SegmentTier,
    TouchpointType,
    load_config,
    process_engagement_analysis,
)
from engagement_pipeline.config import Config
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.lake import Lake
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES


def test_load_config_returns_the_model(make_project):
    assert isinstance(load_config(make_project()), Config)


def test_process_engagement_analysis_matches_the_assets(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    analysis = process_engagement_analysis(path)
    assert isinstance(analysis, EngagementAnalysis)
    assert analysis.snapshot_date == dt.date(2025, 1, 5)  # end_date, never the wall clock
    assert analysis.generated_at == dt.datetime(2025, 1, 5, 23, 59, 59)
    assert analysis.total_customers == 3
    alice = next(m for m in analysis.customer_metrics if m.customer_id == "alice")
    assert alice.total_revenue == 120.0 and alice.purchase_count == 1
    assert (
        alice.touchpoint_count[TouchpointType.WEB] == 1
        and alice.touchpoint_count[TouchpointType.PURCHASE] == 1
    )
    assert alice.days_since_last_engagement == 3
    assert [s.segment for s in analysis.segment_analyses] == list(SegmentTier)
    assert analysis.overall_metrics["total_revenue"] == 150.0

    # the assets compute the same numbers (same functions, not a second implementation)
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    assert job.execute_in_process(
        tags={
            "dagster/asset_partition_range_start": "2025-01-01",
            "dagster/asset_partition_range_end": "2025-01-05",
        }
    ).success
    seg = (
        Lake(load_config(path).lake_dir)
        .read(new_connection(), "customer_segments", ["2025-01-05"])
        .df()
    )
    by_id = {m.customer_id: m for m in analysis.customer_metrics}
    for row in seg.to_dict("records"):
        assert by_id[row["customer_id"]].lifetime_value == pytest.approx(row["lifetime_value"])
        assert by_id[row["customer_id"]].segment.value == row["segment"]


def test_explicit_snapshot_date(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    analysis = process_engagement_analysis(path, "2025-01-02")
    assert analysis.total_customers == 1  # only alice exists on 2025-01-02
    with pytest.raises(ValueError, match="snapshot_date must be YYYY-MM-DD"):
        process_engagement_analysis(path, "02/01/2025")


def test_missing_config_and_data(make_project, tmp_path):
    with pytest.raises(FileNotFoundError):
        process_engagement_analysis(tmp_path / "none.yaml")
    with pytest.raises(FileNotFoundError, match="Engagement data file not found"):
        process_engagement_analysis(make_project(engagement_data={"file_path": "nope.csv"}))
