import json
from pathlib import Path

import pandas as pd

from engagement_pipeline.analytics.intelligence_report import SECTIONS
from engagement_pipeline.analytics.journeys_report import JOURNEY_SECTIONS
from engagement_pipeline.analytics.report_figures import FIGURE_SECTIONS
from engagement_pipeline.config import load_config
from engagement_pipeline.defs.assets import customer_analytics as ca
from engagement_pipeline.defs.assets.clv import clv_parameter_outcomes
from engagement_pipeline.defs.assets.journeys import (
    ONE_ROW_PER_PATH_AND_DAY,
    anomaly_outcomes,
    path_conversion_outcomes,
)
from engagement_pipeline.defs.assets.report import REPORT_SECTIONS, report_outcome

ROOT = Path(__file__).resolve().parents[3]


def test_segment_outcomes_per_date(con):
    seg = con.sql(
        "SELECT CAST(d AS DATE) AS snapshot_date, customer_id, segment FROM (VALUES "
        "('2025-01-01', 'a', 'Champion'), ('2025-01-01', 'b', 'Gold'), ('2025-01-01', 'b', 'Lost'), "
        "('2025-01-02', 'a', 'Champion')) t(d, customer_id, segment)"
    )
    ltv = con.sql(
        "SELECT CAST(d AS DATE) AS snapshot_date, customer_id FROM (VALUES "
        "('2025-01-01', 'a'), ('2025-01-02', 'a')) t(d, customer_id)"
    )
    scores = con.sql(
        "SELECT CAST(d AS DATE) AS snapshot_date, customer_id FROM (VALUES "
        "('2025-01-01', 'b'), ('2025-01-01', 'c'), ('2025-01-02', 'a')) t(d, customer_id)"
    )
    out = ca.customer_segment_outcomes(
        seg, con, {ca.CUSTOMER_LTV: ltv, ca.ENGAGEMENT_SCORES: scores}
    )
    one, covers = out[ca.ONE_SEGMENT_PER_CUSTOMER], out[ca.COVERS_EVERY_CUSTOMER]
    assert not one["2025-01-01"].passed and one["2025-01-02"].passed
    assert covers["2025-01-01"].passed  # a, b, c expected; three rows (b twice is the other check)
    assert covers["2025-01-02"].passed
    assert covers["2025-01-02"].metadata == {"customers_expected": 1, "customers_covered": 1}


def test_report_outcome(tmp_path):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    md.write_text("## Overview\n## Segments\n")
    js.write_text('{"total_customers": 2, "segment_analyses": [1, 2, 3, 4, 5]}')
    out = report_outcome(md, js, None, 2)
    assert not out.passed and "Recommended strategies" in out.description
    md.write_text("\n".join(REPORT_SECTIONS))
    assert report_outcome(md, js, None, 2).description == (
        "JSON lacks rfm_segments; JSON lacks lifecycle_stages; JSON lacks risk_levels; "
        "JSON lacks actions; JSON lacks alerts; JSON lacks cohort_retention; JSON lacks funnel; "
        "JSON lacks top_paths; JSON lacks channel_attribution; JSON lacks anomalies; "
        "JSON lacks distributions; JSON lacks rfm_grid; JSON lacks anomaly_timeline; "
        "alerts.csv missing"
    )
    sections = {name: [] for name in (*SECTIONS, *JOURNEY_SECTIONS, *FIGURE_SECTIONS)}
    js.write_text(
        json.dumps({"total_customers": 2, "segment_analyses": [1, 2, 3, 4, 5], **sections})
    )
    (tmp_path / "alerts.csv").write_text("snapshot_date,customer_id\n")
    assert report_outcome(md, js, None, 2).passed
    assert not report_outcome(md, js, None, 3).passed
    # with the HTML on, a page without the charts fails
    page = tmp_path / "r.html"
    page.write_text('<figure id="segments" data-chart="segments"></figure>')
    assert report_outcome(md, js, page, 2).description.startswith(
        "HTML lacks the lifetime_value chart"
    )


def test_clv_parameters_must_be_positive_when_converged(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES (0.24, -9582.4, true), (-1.0, -10.0, true), "
        "(-1.0, -10.0, false), ('inf'::DOUBLE, -1.0, true)) t(value, log_likelihood, converged)"
    )
    assert clv_parameter_outcomes(rel)["2025-01-01"].metadata["rows_failing"] == 2


def test_strategy_outcome_counts_segments_and_customers(con):
    segments = con.sql("SELECT DATE '2025-01-01' AS snapshot_date, 'a' AS customer_id")
    frame = pd.DataFrame(
        {
            "snapshot_date": [pd.Timestamp("2025-01-01").date()] * 5,
            "segment": ["Champion", "Loyal", "Potential", "At Risk", "Lost"],
            "customer_count": [1, 0, 0, 0, 0],
        }
    )
    out = ca.segment_strategy_outcomes(con.from_df(frame), con, {ca.CUSTOMER_SEGMENTS: segments})
    assert out[ca.FIVE_SEGMENTS_ADDING_UP]["2025-01-01"].passed
    frame.loc[0, "customer_count"] = 2
    out = ca.segment_strategy_outcomes(con.from_df(frame), con, {ca.CUSTOMER_SEGMENTS: segments})
    assert not out[ca.FIVE_SEGMENTS_ADDING_UP]["2025-01-01"].passed


def test_an_anomaly_fails_the_raw_assets_warning_check_with_the_expected_range(con):
    # (the check is non-blocking: defs/definitions_snapshot.txt pins blocking=False)
    rows = con.sql(
        """
        SELECT CAST(d AS DATE) AS snapshot_date, * EXCLUDE (d) FROM (VALUES
            ('2025-05-15', 'events/email', 'raw_engagement_events', 3.0, 80.0, 120.0, 8, true, 'drop'),
            ('2025-05-15', 'events/web', 'raw_engagement_events', 50.0, 40.0, 60.0, 8, false, NULL),
            ('2025-05-15', 'revenue', 'raw_purchases', 9000.0, 100.0, 900.0, 8, true, 'spike'),
            ('2025-05-16', 'events/email', 'raw_engagement_events', 95.0, 80.0, 120.0, 8, false, NULL),
            ('2025-05-16', 'events/web', 'raw_engagement_events', 52.0, NULL, NULL, 3, false, NULL)
        ) t(d, metric, source_asset, value, expected_low, expected_high, training_points,
            is_anomaly, direction)
        """
    )
    events = anomaly_outcomes(rows, "raw_engagement_events")
    outage, next_day = events["2025-05-15"], events["2025-05-16"]
    assert not outage.passed
    assert outage.description == "events/email drop: 3.00 against 80.00..120.00"
    # every metric of the raw asset with its expected range; the revenue spike is not this
    # asset's (it fails raw_purchases' check)
    assert outage.metadata == {
        "anomalies": 1,
        "events/email": "3.00 (expected 80.00..120.00)",
        "events/web": "50.00 (expected 40.00..60.00)",
    }
    assert next_day.passed and next_day.description == "every metric within its expected range"
    assert next_day.metadata["events/web"] == "52.00 (no baseline yet: 3 earlier weeks)"
    spike = anomaly_outcomes(rows, "raw_purchases")["2025-05-15"]
    assert not spike.passed and spike.description.startswith("revenue spike: 9,000.00")


def test_path_conversions_check_finds_a_repeated_path_and_a_day_past_the_window(con):
    rows = con.sql(
        "SELECT CAST(d AS DATE) AS snapshot_date, CAST(j AS DATE) AS journey_day, "
        "string_split(p, ',') AS path, 1 AS journeys FROM (VALUES "
        "('2025-03-31', '2025-03-31', 'a,b'), ('2025-03-31', '2025-03-02', 'a'), "  # clean
        "('2025-04-01', '2025-04-01', 'a'), ('2025-04-01', '2025-04-01', 'a'), "  # a repeat
        "('2025-04-02', '2025-03-03', 'b')) t(d, j, p)"  # 30 days before: out of the window
    )
    config = load_config(ROOT / "config.yaml")  # journeys.window_days: 30
    outcomes = path_conversion_outcomes(rows, con, {}, config)[ONE_ROW_PER_PATH_AND_DAY]
    clean, repeated, stale = outcomes["2025-03-31"], outcomes["2025-04-01"], outcomes["2025-04-02"]
    assert clean.passed and clean.description == (
        "each path once per conversion day, every day within the last 30 days"
    )
    assert not repeated.passed and "sharing their" in repeated.description
    assert not stale.passed and "outside the last 30 days" in stale.description
