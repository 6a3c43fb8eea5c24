"""Simple lifetime value: annual value in the lookback window, discounted over the lifespan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.state import (
    StateSpec,
    add_months,
    day_before,
    fold_dates,
    fold_state,
    month_window_offsets,
    window_start_rows,
)
from engagement_pipeline.config import LTVConfig
from engagement_pipeline.sql import exact_sum

CUSTOMER_LTV_COLUMNS = (
    "snapshot_date",
    "customer_id",
    "first_seen_date",
    "purchase_count",
    "total_revenue",
    "first_purchase_date",
    "last_purchase_date",
    "window_purchase_count",
    "window_revenue",
    "average_order_value",
    "annual_purchase_frequency",
    "annual_value",
    "lifetime_value",
    "latest_order",
    "country",
)


def annuity_factor(discount_rate: float, lifespan_years: float) -> float:
    """Present value of 1 a year for `lifespan_years` years at `discount_rate`, paid at year ends.

    sum_{t=1..L} 1/(1+d)^t = (1 - (1+d)^-L) / d, extended to fractional L; L when d = 0.
    """
    if discount_rate == 0:
        return lifespan_years
    return (1.0 - (1.0 + discount_rate) ** (-lifespan_years)) / discount_rate


LTV_STATE = StateSpec(
    {
        "purchase_count": "sum",
        "total_revenue": "sum",
        "first_purchase_date": "min",
        "last_purchase_date": "max",
        # the latest order's time, id and country (a struct compares field by field)
        "latest_order": "max",
    }
)


def ltv_window_offsets(config: LTVConfig) -> tuple[int, int]:
    """Fewest and most days back to the day before a snapshot's lookback window starts."""
    return month_window_offsets(int(config.lookback_months))


def purchase_deltas(
    con: duckdb.DuckDBPyConnection, purchases: duckdb.DuckDBPyRelation
) -> duckdb.DuckDBPyRelation:
    """Each customer's purchases of a day, aggregated: what the day adds to the state."""
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    # A raw row's partition is its purchase day.
    return con.sql(
        f"""
        SELECT customer_id, snapshot_date AS effective_date,
               count(*) AS purchase_count, {exact_sum("amount")} AS total_revenue,
               snapshot_date AS first_purchase_date, snapshot_date AS last_purchase_date,
               max({{'purchase_timestamp': purchase_timestamp, 'order_id': order_id,
                     'country': country}}) AS latest_order
        FROM bought GROUP BY customer_id, snapshot_date
        """
    )


def compute_customer_ltv(
    con: duckdb.DuckDBPyConnection,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: LTVConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per purchasing customer and snapshot date: purchase history and simple LTV.

    Only purchases dated on or before each snapshot date count. The window is the
    lookback_months calendar months ending with the snapshot date (both ends included).
    Customers with events but no purchase have no row here; customer_segments gives them
    an LTV of 0 (it joins every customer of engagement_scores).

    Incremental: `earlier` is this asset's own rows of earlier dates (the day before the
    first date, and the days before each window starts); `purchases` then holds only the
    run's days. Without it, `purchases` is the whole history.
    """
    first, months = min(dates), int(config.lookback_months)
    # the day before each date's window starts: the window is the running totals' difference
    starts_on = [
        add_months(d + dt.timedelta(days=1), -months) - dt.timedelta(days=1) for d in dates
    ]
    folded = fold_state(
        con,
        LTV_STATE,
        purchase_deltas(con, purchases),
        fold_dates(dates, starts_on, earlier is not None),
        day_before(earlier, first),
    )
    starts = window_start_rows(  # noqa: F841 - referenced by name in the SQL below
        con, earlier, folded, ["purchase_count", "total_revenue"], first, starts_on
    )
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    years = config.lookback_months / 12.0
    factor = annuity_factor(config.discount_rate, config.average_customer_lifespan_years)
    # With nothing left in the window its revenue is exactly 0 (no rounding residue).
    window_revenue = "CASE WHEN window_purchase_count > 0 THEN window_revenue ELSE 0.0 END"
    return con.sql(
        f"""
        WITH windowed AS (
            SELECT c.*,
                   c.purchase_count - coalesce(s.purchase_count, 0) AS window_purchase_count,
                   c.total_revenue - coalesce(s.total_revenue, 0.0) AS window_revenue
            FROM folded c LEFT JOIN starts s
              ON s.customer_id = c.customer_id
             AND s.snapshot_date = CAST(c.snapshot_date + INTERVAL 1 DAY
                                        - INTERVAL ({months}) MONTH AS DATE) - 1
            WHERE c.snapshot_date IN (SELECT snapshot_date FROM run_dates)
        )
        SELECT snapshot_date, customer_id, first_purchase_date AS first_seen_date,
               CAST(purchase_count AS BIGINT) AS purchase_count, total_revenue,
               first_purchase_date, last_purchase_date,
               CAST(window_purchase_count AS BIGINT) AS window_purchase_count,
               {window_revenue} AS window_revenue,
               CASE WHEN window_purchase_count > 0
                    THEN window_revenue / window_purchase_count END AS average_order_value,
               window_purchase_count / {years!r} AS annual_purchase_frequency,
               {window_revenue} / {years!r} AS annual_value,
               {window_revenue} / {years!r} * {factor!r} AS lifetime_value,
               latest_order, latest_order.country AS country
        FROM windowed
        ORDER BY snapshot_date, customer_id
        """
    )
