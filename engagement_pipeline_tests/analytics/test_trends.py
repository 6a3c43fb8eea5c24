"""Trend windows: the last window against the one before, ratios and directions."""

import datetime as dt

import pytest

from engagement_pipeline.analytics.trends import compute_trends
from engagement_pipeline.config import TrendsConfig
from engagement_pipeline_tests.analytics.conftest import events_rel, purchases_rel

D = dt.date(2025, 3, 31)
CONFIG = TrendsConfig(window_days=10, dead_band=0.1)


def trends(con, events, purchases, dates=(D,), config=CONFIG, earlier=None):
    rel = compute_trends(
        con, events_rel(con, events), purchases_rel(con, purchases), list(dates), config, earlier
    )
    return rel.df().set_index("customer_id")


def test_windows_ratios_and_directions_by_hand(con):
    # windows for 2025-03-31 with 10 days: recent 03-22..03-31, previous 03-12..03-21
    events = [
        ("A", "web", "2025-03-12 08:00", None),  # first day of the previous window
        ("A", "web", "2025-03-15 08:00", None),
        ("A", "support", "2025-03-21 23:00", None),  # last day of the previous window
        ("A", "email", "2025-03-22 00:00", None),  # first day of the recent window
        ("A", "web", "2025-03-11 23:59", None),  # before both windows: lifetime only
        ("B", "web", "2025-03-30 08:00", None),  # events, never a purchase
    ]
    purchases = [
        ("A", "2025-03-14 10:00", 100.0),
        ("A", "2025-03-16 10:00", 100.0),
        ("A", "2025-03-25 10:00", 80.0),
        ("A", "2025-04-01 10:00", 999.0),  # after the date: never seen
    ]
    out = trends(con, events, purchases)
    a = out.loc["A"]
    assert (a["recent_events"], a["previous_events"]) == (1, 3)
    assert a["events_change"] == pytest.approx(-2 / 3) and a["events_direction"] == "falling"
    assert (a["recent_purchases"], a["previous_purchases"]) == (1, 2)
    assert (a["recent_spend"], a["previous_spend"]) == (80.0, 200.0)
    assert a["spend_change"] == pytest.approx(-0.6) and a["spend_direction"] == "falling"
    assert (a["recent_support_contacts"], a["previous_support_contacts"]) == (0, 1)
    assert a["purchase_days"] == 3 and str(a["last_purchase_date"])[:10] == "2025-03-25"
    assert a["total_events"] == 5
    b = out.loc["B"]
    # from an empty window anything is rising; the ratio is undefined
    assert b["events_direction"] == "rising" and b["events_change"] != b["events_change"]
    assert b["spend_direction"] == "stable" and b["purchase_days"] == 0
    assert b["recent_spend"] == 0.0


def test_the_dead_band_keeps_small_changes_stable(con):
    # 10 events then 11 (+10%): stable at the band's edge; 12 (+20%): rising
    def events(n_previous, n_recent, who):
        return [(who, "web", f"2025-03-15 {h:02d}:00", None) for h in range(n_previous)] + [
            (who, "web", f"2025-03-25 {h:02d}:00", None) for h in range(n_recent)
        ]

    out = trends(con, events(10, 11, "edge") + events(10, 12, "up") + events(10, 9, "down"), [])
    assert out.loc["edge", "events_direction"] == "stable"
    assert out.loc["up", "events_direction"] == "rising"
    assert out.loc["down", "events_direction"] == "stable"  # -10%
    assert out.loc["down", "events_change"] == pytest.approx(-0.1)


def test_a_day_built_on_the_previous_days_rows_equals_the_full_computation(con):
    events = [("A", "web", f"2025-03-{d:02d} 08:00", None) for d in range(1, 32, 2)]
    purchases = [("A", f"2025-03-{d:02d} 09:00", float(d)) for d in range(2, 32, 5)]
    days = [dt.date(2025, 3, d) for d in range(1, 32)]
    full = compute_trends(con, events_rel(con, events), purchases_rel(con, purchases), days, CONFIG)
    full.create("full_trends")
    earlier = con.table("full_trends").filter(f"snapshot_date < DATE '{D}'")
    day_events = [e for e in events if e[2].startswith("2025-03-31")]
    day_purchases = [p for p in purchases if p[1].startswith("2025-03-31")]
    one = trends(con, day_events, day_purchases, earlier=earlier)
    whole = (
        con.table("full_trends").filter(f"snapshot_date = DATE '{D}'").df().set_index("customer_id")
    )
    assert one.drop(columns="snapshot_date").equals(whole.drop(columns="snapshot_date"))
