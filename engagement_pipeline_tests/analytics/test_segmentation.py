import pandas as pd
import pytest

from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.config import EngagementScoringConfig, SegmentationConfig

SEG = SegmentationConfig(
    ltv_threshold_high=1000,
    ltv_threshold_medium=300,
    engagement_threshold_high=0.6,
    engagement_threshold_low=0.2,
    recency_threshold_days=90,
)
SCORING = EngagementScoringConfig(window_days=90)
D = pd.Timestamp("2025-06-30")


def segment_of(con, ltv, score, days_inactive, first_seen_days_ago=365):
    ltv_frame = pd.DataFrame(
        {
            "snapshot_date": [D],
            "customer_id": ["x"],
            "first_seen_date": [D - pd.Timedelta(days=first_seen_days_ago)],
            "lifetime_value": [ltv],
            "total_revenue": [ltv],
            "purchase_count": [1],
            "last_purchase_date": [D],
            "country": ["DE"],
        }
    )
    eng_frame = pd.DataFrame(
        {
            "snapshot_date": [D],
            "customer_id": ["x"],
            "first_seen_date": [D - pd.Timedelta(days=first_seen_days_ago)],
            "engagement_score": [score],
            "window_events": [1],
            "last_engagement_date": [D],
            "days_since_last_engagement": [days_inactive],
            "last_activity_date": [D],
            "days_since_last_activity": pd.array([days_inactive], dtype="Int64"),
        }
    )
    for frame in (ltv_frame, eng_frame):
        frame["snapshot_date"] = frame["snapshot_date"].dt.date
        frame["first_seen_date"] = frame["first_seen_date"].dt.date
    rows = assign_segments(con, con.from_df(ltv_frame), con.from_df(eng_frame), SEG, SCORING).df()
    assert len(rows) == 1
    return rows["segment"].iloc[0], rows["value_tier"].iloc[0]


@pytest.mark.parametrize(
    "ltv, score, days, expected",
    [
        (5000, 0.9, 91, "Lost"),  # no activity beyond the recency threshold beats everything
        (5000, 0.9, None, "Lost"),  # never active
        (1000, 0.6, 90, "Champion"),  # thresholds are inclusive
        (5000, 0.1, 5, "Loyal"),  # high LTV, low engagement
        (10, 0.7, 5, "Loyal"),  # high engagement, low LTV
        (999.99, 0.59, 5, "Potential"),
        (500, 0.19, 5, "At Risk"),  # low recent engagement
        (0, 0.0, 60, "At Risk"),
        (400, 0.2, 5, "Potential"),  # low threshold is inclusive
    ],
)
def test_rules_and_precedence(con, ltv, score, days, expected):
    assert segment_of(con, ltv, score, days)[0] == expected


def test_new_customer_is_potential_not_at_risk(con):
    # first seen 10 days ago, no time yet to build engagement
    assert segment_of(con, 50, 0.0, 0, first_seen_days_ago=10)[0] == "Potential"
    assert segment_of(con, 50, 0.0, 0, first_seen_days_ago=90)[0] == "At Risk"


@pytest.mark.parametrize("ltv, tier", [(1000, "high"), (300, "medium"), (299.99, "low")])
def test_value_tier(con, ltv, tier):
    assert segment_of(con, ltv, 0.5, 1)[1] == tier
