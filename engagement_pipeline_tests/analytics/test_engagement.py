import datetime as dt

import pytest

from engagement_pipeline.analytics.engagement import compute_engagement_scores, engagement_score
from engagement_pipeline.config import EngagementScoringConfig
from engagement_pipeline_tests.analytics.conftest import events_rel, purchases_rel

D = dt.date(2025, 3, 31)
CONFIG = EngagementScoringConfig(window_days=90, half_saturation=10.0)


def scores(con, events, purchases=(), dates=(D,), config=CONFIG):
    rel = compute_engagement_scores(
        con, events_rel(con, list(events)), purchases_rel(con, list(purchases)), list(dates), config
    )
    return {
        (str(r["snapshot_date"])[:10], r["customer_id"]): r for r in rel.df().to_dict("records")
    }


def test_score_function():
    assert engagement_score(0, 10) == 0.0
    assert engagement_score(10, 10) == 0.5
    assert engagement_score(30, 10) == 0.75


def test_score_by_hand(con):
    events = [
        ("A", "email", "2025-01-01 00:00", None),  # first day of the 90-day window: weight 0.2
        ("A", "purchase", "2025-03-31 23:00", 0.5),  # on the date: 1.0 x its score 0.5
        ("A", "web", "2024-12-31 23:59", None),  # one day before the window: not scored
        ("A", "review", "2025-04-01 00:00", None),  # after the snapshot: never seen
    ]
    row = scores(con, events)[("2025-03-31", "A")]
    assert row["weighted_events"] == pytest.approx(0.7)
    assert row["engagement_score"] == pytest.approx(0.7 / 10.7)
    assert (
        row["email_events"],
        row["purchase_events"],
        row["web_events"],
        row["review_events"],
    ) == (1, 1, 0, 0)
    assert row["window_events"] == 2 and row["total_events"] == 3
    assert str(row["last_engagement_date"])[:10] == "2025-03-31"
    assert row["days_since_last_engagement"] == 0


def test_custom_weights(con):
    weights = {
        t: 0.0 for t in ["email", "web", "mobile", "social", "support", "purchase", "review"]
    }
    weights["support"] = 2.0
    config = EngagementScoringConfig(
        window_days=30, half_saturation=2.0, touchpoint_weights=weights
    )
    row = scores(
        con, [("A", "support", "2025-03-30", None), ("A", "web", "2025-03-30", None)], config=config
    )[("2025-03-31", "A")]
    assert row["engagement_score"] == pytest.approx(2.0 / 4.0)


def test_single_event_and_days_since(con):
    row = scores(con, [("S", "web", "2025-03-01 12:00", None)])[("2025-03-31", "S")]
    assert row["engagement_score"] == pytest.approx(0.4 / 10.4)
    assert row["days_since_last_engagement"] == 30
    assert row["days_since_last_activity"] == 30


def test_purchase_only_customer_has_activity_but_no_engagement(con):
    row = scores(con, [], [("P", "2025-03-20 10:00", 10.0)])[("2025-03-31", "P")]
    assert row["engagement_score"] == 0.0 and row["total_events"] == 0
    assert row["last_engagement_date"] is None or str(row["last_engagement_date"]) in (
        "NaT",
        "None",
    )
    assert row["days_since_last_activity"] == 11


def test_last_activity_is_the_later_of_event_and_purchase(con):
    row = scores(con, [("A", "web", "2025-03-01", None)], [("A", "2025-03-21", 5.0)])[
        ("2025-03-31", "A")
    ]
    assert row["days_since_last_engagement"] == 30 and row["days_since_last_activity"] == 10


def test_scores_are_in_unit_interval(con):
    events = [("A", "purchase", "2025-03-30", 1.0)] * 500
    row = scores(con, events)[("2025-03-31", "A")]
    assert 0.0 <= row["engagement_score"] < 1.0
