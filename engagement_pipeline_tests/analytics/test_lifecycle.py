"""Lifecycle stages at their thresholds, value segments by revenue percentile."""

import pandas as pd

from engagement_pipeline.analytics.lifecycle import compute_lifecycle
from engagement_pipeline.config import LifecycleConfig


def segments_rel(con, rows):
    """rows: (customer_id, days since first seen, days since last activity, revenue,
    predicted CLV or None, simple LTV) as of 2025-06-30."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "tenure",
            "days_since_last_activity",
            "total_revenue",
            "predicted_clv",
            "lifetime_value",
        ],
    )
    day = pd.Timestamp("2025-06-30")
    frame["snapshot_date"] = day.date()
    frame["first_seen_date"] = (day - pd.to_timedelta(frame.pop("tenure"), "D")).dt.date
    frame["predicted_clv"] = frame["predicted_clv"].astype("float64")
    return con.from_df(frame)


def test_stages_at_each_threshold(con):
    rows = [
        ("new", 30, 30, 0.0, None, 0.0),  # first seen 30 days ago: still new
        ("active", 31, 30, 10.0, None, 1.0),
        ("cooling", 100, 31, 20.0, None, 2.0),
        ("cooling_edge", 100, 60, 30.0, None, 3.0),
        ("lapsed", 200, 61, 40.0, None, 4.0),
        ("lapsed_edge", 200, 120, 50.0, None, 5.0),
        ("churned", 200, 121, 60.0, None, 6.0),
    ]
    out = compute_lifecycle(con, segments_rel(con, rows), LifecycleConfig()).df()
    stages = dict(zip(out["customer_id"], out["lifecycle_stage"], strict=True))
    assert stages == {
        "new": "new",
        "active": "active",
        "cooling": "cooling",
        "cooling_edge": "cooling",
        "lapsed": "lapsed",
        "lapsed_edge": "lapsed",
        "churned": "churned",
    }


def test_value_segments_by_revenue_percentile_with_ties_and_non_purchasers(con):
    # revenue 0, 0, 10, 20, 30, 40, 50, 60, 70, 80: percentiles 0, 0, .2, .3, ... .9
    revenue = [0.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    rows = [(f"c{i}", 100, 5, r, None, r * 2) for i, r in enumerate(revenue)]
    out = compute_lifecycle(con, segments_rel(con, rows), LifecycleConfig()).df()
    assert out["value_percentile"].round(2).tolist() == [
        0,
        0,
        0.2,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
    ]
    assert out["value_segment"].tolist() == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2


def test_predicted_value_is_the_clv_where_fitted_else_the_simple_ltv(con):
    rows = [("fitted", 100, 5, 50.0, 321.0, 100.0), ("unfitted", 100, 5, 50.0, None, 100.0)]
    out = (
        compute_lifecycle(con, segments_rel(con, rows), LifecycleConfig())
        .df()
        .set_index("customer_id")
    )
    assert out.loc["fitted", "predicted_value"] == 321.0
    assert out.loc["fitted", "predicted_value_source"] == "predicted_clv"
    assert out.loc["unfitted", "predicted_value"] == 100.0
    assert out.loc["unfitted", "predicted_value_source"] == "simple_ltv"
    # a single customer is at percentile 0: low value
    alone = compute_lifecycle(con, segments_rel(con, rows[:1]), LifecycleConfig()).df()
    assert alone["value_segment"].tolist() == ["low"]
