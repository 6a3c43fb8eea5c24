"""Simple lifetime value: annual value in the lookback window, discounted over the lifespan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.state import (
    StateSpec,
    earlier_rows,
    fold_state,
    month_exit_offsets,
)
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


LTV_STATE = StateSpec(
    {
        "purchase_count": "sum",
        "total_revenue": "sum",
        "first_purchase_date": "min",
        "last_purchase_date": "max",
        "window_purchase_count": "sum",
        "window_revenue": "sum",
    }
)


def ltv_exit_offsets(config: LTVConfig) -> tuple[int, int]:
    """Fewest and most days between a purchase and the snapshot date it leaves the window."""
    return month_exit_offsets(int(config.lookback_months))


def ltv_deltas(
    con: duckdb.DuckDBPyConnection,
    purchases: duckdb.DuckDBPyRelation,
    config: LTVConfig,
    first: dt.date,
    exits: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """Signed per-customer contributions: each purchase enters on its day and leaves the
    lookback window on its day + lookback_months (the first snapshot whose window of
    lookback_months calendar months, both ends included, no longer holds it).

    `exits` are purchases of earlier days whose exit may fall in the run: only those dated
    before the run's first date count (later ones are in `purchases`, whose own exits are
    included).
    """
    months = int(config.lookback_months)
    entering = purchases  # noqa: F841 - referenced by name in the SQL below
    leaving = earlier_rows(purchases, exits, first)  # noqa: F841 - referenced by name below
    return con.sql(
        f"""
        SELECT customer_id, CAST(purchase_timestamp AS DATE) AS effective_date,
               1 AS purchase_count, amount AS total_revenue,
               CAST(purchase_timestamp AS DATE) AS first_purchase_date,
               CAST(purchase_timestamp AS DATE) AS last_purchase_date,
               1 AS window_purchase_count, amount AS window_revenue
        FROM entering
        UNION ALL
        SELECT customer_id,
               CAST(CAST(purchase_timestamp AS DATE) + INTERVAL ({months}) MONTH AS DATE),
               NULL, NULL, NULL, NULL, -1, -amount
        FROM leaving
        """
    )


def compute_customer_ltv(
    con: duckdb.DuckDBPyConnection,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: LTVConfig,
    previous: duckdb.DuckDBPyRelation | None = None,
    exits: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per purchasing customer and snapshot date: purchase history and simple LTV.

    Only purchases dated on or before each snapshot date count. The window is the
    lookback_months calendar months ending with the snapshot date (both ends included).
    Customers with events but no purchase have no row here; customer_segments gives them
    an LTV of 0 (it joins every customer of engagement_scores).

    Incremental: with `previous` (this asset's rows of the day before the first date),
    `purchases` holds only the run's days and `exits` the earlier days whose purchases
    leave the window during the run. Without it, `purchases` is the whole history.
    """
    state = fold_state(  # noqa: F841 - referenced by name in the SQL below
        con, LTV_STATE, ltv_deltas(con, purchases, config, min(dates), exits), dates, previous
    )
    years = config.lookback_months / 12.0
    factor = annuity_factor(config.discount_rate, config.average_customer_lifespan_years)
    # With nothing left in the window its revenue is exactly 0 (no rounding residue).
    window_revenue = "CASE WHEN window_purchase_count > 0 THEN window_revenue ELSE 0.0 END"
    return con.sql(
        f"""
        SELECT snapshot_date, customer_id, first_purchase_date AS first_seen_date,
               CAST(purchase_count AS BIGINT) AS purchase_count, total_revenue,
               first_purchase_date, last_purchase_date,
               CAST(window_purchase_count AS BIGINT) AS window_purchase_count,
               {window_revenue} AS window_revenue,
               CASE WHEN window_purchase_count > 0
                    THEN window_revenue / window_purchase_count END AS average_order_value,
               window_purchase_count / {years!r} AS annual_purchase_frequency,
               {window_revenue} / {years!r} AS annual_value,
               {window_revenue} / {years!r} * {factor!r} AS lifetime_value
        FROM state
        ORDER BY snapshot_date, customer_id
        """
    )
