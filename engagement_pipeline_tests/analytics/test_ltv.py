import datetime as dt

import pandas as pd
import pytest

from engagement_pipeline.analytics.ltv import annuity_factor, compute_customer_ltv
from engagement_pipeline.config import LTVConfig
from engagement_pipeline_tests.analytics.conftest import purchases_rel

D = dt.date(2025, 1, 15)
CONFIG = LTVConfig(discount_rate=0.10, average_customer_lifespan_years=3, lookback_months=12)


def test_annuity_factor_by_hand():
    # 1/1.1 + 1/1.1^2 + 1/1.1^3
    assert annuity_factor(0.10, 3) == pytest.approx(0.909091 + 0.826446 + 0.751315, abs=1e-6)
    assert annuity_factor(0.0, 2.5) == 2.5
    assert annuity_factor(0.10, 1) == pytest.approx(1 / 1.1)


def ltv_rows(con, purchases, dates=(D,), config=CONFIG):
    rel = compute_customer_ltv(con, purchases_rel(con, purchases), list(dates), config)
    return {
        (str(r["snapshot_date"])[:10], r["customer_id"]): r for r in rel.df().to_dict("records")
    }


def test_ltv_by_hand(con):
    purchases = [
        ("A", "2024-01-15 12:00", 100.0),  # one day before the window: history only
        ("A", "2024-01-16 00:00", 50.0),  # first day of the window
        ("A", "2025-01-15 23:59", 150.0),  # on the snapshot date
        ("A", "2025-01-16 00:00", 999.0),  # after the snapshot date: never seen
    ]
    row = ltv_rows(con, purchases)[("2025-01-15", "A")]
    assert row["purchase_count"] == 3
    assert row["total_revenue"] == pytest.approx(300.0)
    assert row["window_purchase_count"] == 2
    assert row["window_revenue"] == pytest.approx(200.0)
    assert row["average_order_value"] == pytest.approx(100.0)
    assert row["annual_purchase_frequency"] == pytest.approx(2.0)
    assert row["annual_value"] == pytest.approx(200.0)
    assert row["lifetime_value"] == pytest.approx(200.0 * 2.486852, rel=1e-6)
    assert str(row["first_purchase_date"])[:10] == "2024-01-15"
    assert str(row["last_purchase_date"])[:10] == "2025-01-15"


def test_country_is_the_latest_orders(con):
    purchases = [
        ("A", "2025-01-02 09:00", 10.0, "DE"),
        ("A", "2025-01-05 18:00", 10.0, "FR"),  # the latest order: its country counts
        ("A", "2025-01-05 08:00", 10.0, "NL"),  # same day, earlier in it
        ("B", "2025-01-03 10:00", 10.0, None),  # no country given
    ]
    rows = ltv_rows(con, purchases)
    assert rows[("2025-01-15", "A")]["country"] == "FR"
    assert rows[("2025-01-15", "A")]["latest_order"]["order_id"] == "O0001"
    assert pd.isna(rows[("2025-01-15", "B")]["country"])


def test_shorter_lookback_annualises(con):
    config = LTVConfig(discount_rate=0.0, average_customer_lifespan_years=2, lookback_months=6)
    row = ltv_rows(con, [("A", "2024-12-01", 60.0)], config=config)[("2025-01-15", "A")]
    # 60 in 6 months = 120 a year; undiscounted over 2 years = 240
    assert row["annual_value"] == pytest.approx(120.0)
    assert row["lifetime_value"] == pytest.approx(240.0)


def test_customer_without_purchases_has_no_ltv_row(con):
    # customer_segments gives such customers LTV 0 (tested there and in the Dagster tests)
    assert ltv_rows(con, [("A", "2025-01-10", 5.0)]).keys() == {("2025-01-15", "A")}
    assert ltv_rows(con, []) == {}


def test_only_old_purchases_give_zero_ltv_but_keep_history(con):
    row = ltv_rows(con, [("C", "2023-06-01", 80.0)])[("2025-01-15", "C")]
    assert (
        row["total_revenue"] == 80.0 and row["window_revenue"] == 0 and row["lifetime_value"] == 0
    )


def test_customer_first_seen_on_the_snapshot_date(con):
    rows = ltv_rows(con, [("N", "2025-01-15 08:00", 30.0)])
    row = rows[("2025-01-15", "N")]
    assert str(row["first_seen_date"])[:10] == "2025-01-15"
    assert row["lifetime_value"] == pytest.approx(30.0 * 2.486852, rel=1e-6)


def test_several_dates_at_once_never_see_the_future(con):
    purchases = [("A", "2025-01-10", 10.0), ("A", "2025-01-12", 20.0)]
    rows = ltv_rows(
        con,
        purchases,
        dates=(dt.date(2025, 1, 9), dt.date(2025, 1, 10), dt.date(2025, 1, 12)),
    )
    assert ("2025-01-09", "A") not in rows  # not yet a customer
    assert rows[("2025-01-10", "A")]["total_revenue"] == 10.0
    assert rows[("2025-01-12", "A")]["total_revenue"] == 30.0


def test_everything_on_one_day(con):
    purchases = [
        ("A", "2025-01-15 01:00", 10.0),
        ("A", "2025-01-15 02:00", 10.0),
        ("A", "2025-01-15 03:00", 10.0),
    ]
    row = ltv_rows(con, purchases)[("2025-01-15", "A")]
    assert row["purchase_count"] == 3 and row["window_revenue"] == 30.0
