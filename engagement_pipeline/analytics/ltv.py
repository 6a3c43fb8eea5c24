"""Simple lifetime value: annual value in the lookback window, discounted over the lifespan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.config import LTVConfig

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
)


def annuity_factor(discount_rate: float, lifespan_years: float) -> float:
    """Present value of 1 a year for `lifespan_years` years at `discount_rate`, paid at year ends.

    sum_{t=1..L} 1/(1+d)^t = (1 - (1+d)^-L) / d, extended to fractional L; L when d = 0.
    """
    if discount_rate == 0:
        return lifespan_years
    return (1.0 - (1.0 + discount_rate) ** (-lifespan_years)) / discount_rate


def compute_customer_ltv(
    con: duckdb.DuckDBPyConnection,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: LTVConfig,
) -> duckdb.DuckDBPyRelation:
    """One row per purchasing customer and snapshot date: purchase history and simple LTV.

    Only purchases dated on or before each snapshot date count. The window is the
    lookback_months calendar months ending with the snapshot date (both ends included).
    Customers with events but no purchase have no row here; customer_segments gives them
    an LTV of 0 (it joins every customer of engagement_scores).
    """
    dates_rel = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    years = config.lookback_months / 12.0
    factor = annuity_factor(config.discount_rate, config.average_customer_lifespan_years)
    return con.sql(
        f"""
        WITH p AS (
            SELECT d.snapshot_date, p.customer_id, p.amount,
                   CAST(p.purchase_timestamp AS DATE) AS day,
                   CAST(d.snapshot_date + INTERVAL 1 DAY
                        - INTERVAL ({int(config.lookback_months)}) MONTH AS DATE) AS window_start
            FROM dates_rel d JOIN purchases p
              ON CAST(p.purchase_timestamp AS DATE) <= d.snapshot_date
        ),
        agg AS (
            SELECT snapshot_date, customer_id,
                   count(*) AS purchase_count,
                   sum(amount) AS total_revenue,
                   min(day) AS first_purchase_date,
                   max(day) AS last_purchase_date,
                   count(*) FILTER (WHERE day >= window_start) AS window_purchase_count,
                   coalesce(sum(amount) FILTER (WHERE day >= window_start), 0) AS window_revenue
            FROM p GROUP BY ALL
        )
        SELECT snapshot_date, customer_id, first_purchase_date AS first_seen_date,
               purchase_count, total_revenue, first_purchase_date, last_purchase_date,
               window_purchase_count, window_revenue,
               CASE WHEN window_purchase_count > 0
                    THEN window_revenue / window_purchase_count END AS average_order_value,
               window_purchase_count / {years!r} AS annual_purchase_frequency,
               window_revenue / {years!r} AS annual_value,
               window_revenue / {years!r} * {factor!r} AS lifetime_value
        FROM agg
        ORDER BY snapshot_date, customer_id
        """
    )
