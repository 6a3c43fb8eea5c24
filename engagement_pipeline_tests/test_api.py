import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engagement_pipeline import (
    EngagementAnalysis,
    SegmentTier,
    TouchpointType,
    load_config,
    process_engagement_analysis,
)
from engagement_pipeline.config import LIFECYCLE_STAGES, RISK_LEVELS, VALUE_SEGMENTS, Config
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.lake import Lake
from engagement_pipeline.sample_data import planted_days
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES

ROOT = Path(__file__).resolve().parents[1]


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
    # and the customer-intelligence fields, including the previous day's risk level
    lake, con = Lake(load_config(path).lake_dir), new_connection()
    actions = lake.read(con, "next_best_actions", ["2025-01-05"]).df()
    for row in actions.to_dict("records"):
        m = by_id[row["customer_id"]]
        assert (m.next_best_action, m.explanation) == (row["action"], row["explanation"])
        assert m.risk_score == pytest.approx(row["risk_score"])
        previous = row["previous_risk_level"]
        assert m.previous_risk_level == (None if pd.isna(previous) else previous)
    alerts = lake.read(con, "customer_alerts", ["2025-01-05"]).df()
    assert [a.customer_id for a in analysis.alerts] == alerts["customer_id"].tolist()
    # and the journeys sections
    funnel = lake.read(con, "funnel_conversion", ["2025-01-05"]).order("stage_order").df()
    assert [(f.stage, f.customers_reached) for f in analysis.funnel] == list(
        zip(funnel["stage"], funnel["customers_reached"], strict=True)
    )
    credited = lake.read(con, "channel_attribution", ["2025-01-05"]).df()
    assert analysis.channel_attribution and sorted(
        (a.model, a.channel, round(a.conversions, 9)) for a in analysis.channel_attribution
    ) == sorted(
        zip(credited["model"], credited["channel"], credited["conversions"].round(9), strict=True)
    )


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


def test_the_sample_shows_every_segment_stage_level_and_action():
    """The shipped sample's last date has customers in every RFM segment, lifecycle stage,
    risk level and action, so every section of the report has something to show."""
    analysis = process_engagement_analysis(ROOT / "config.yaml")
    config = load_config(ROOT / "config.yaml")
    metrics = analysis.customer_metrics
    assert {m.rfm_segment for m in metrics} - {None} == set(config.rfm.segment_names())
    assert {m.lifecycle_stage for m in metrics} == set(LIFECYCLE_STAGES)
    assert {m.value_segment for m in metrics} == set(VALUE_SEGMENTS)
    assert {m.risk_level for m in metrics} == set(RISK_LEVELS)
    assert {m.next_best_action for m in metrics} == {r.name for r in config.actions.rules}
    # customers with events but no purchase have no RFM scores, but everything else
    browsers = [m for m in metrics if m.purchase_count == 0]
    assert browsers and all(m.rfm_segment is None and m.explanation for m in browsers)
    # the summaries add up to the customers
    assert sum(s.customer_count for s in analysis.actions) == analysis.total_customers
    assert sum(s.customer_count for s in analysis.risk_levels) == analysis.total_customers
    assert sum(s.customer_count for s in analysis.rfm_segments) == len(metrics) - len(browsers)


def test_the_api_finds_the_planted_revenue_spike():
    """Anomalies from the whole history when there are no earlier rows (the API's case)."""
    config = load_config(ROOT / "config.yaml")
    start, end = config.snapshots.start_date, config.snapshots.end_date
    spike = planted_days(start, (end - start).days + 1)["revenue_spike"]
    analysis = process_engagement_analysis(ROOT / "config.yaml", spike)
    assert [(a.metric, a.direction) for a in analysis.anomalies] == [("revenue", "spike")]
    assert analysis.anomalies[0].value > analysis.anomalies[0].expected_high
