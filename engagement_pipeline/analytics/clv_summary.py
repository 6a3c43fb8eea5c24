"""The per-customer purchase summary the CLV models are fitted on, kept incrementally.

BG/NBD and Gamma-Gamma need, per customer and snapshot date, the number of repeat
transactions (frequency), the time from the first to the last one (recency), the age since
the first (T) and the mean value of the repeat transactions. All follow from a small
cumulative state: the days with a purchase, the first day and its spend, the last day
and the total spend; so snapshot D is the state of D-1 plus day D's purchases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.state import StateSpec, day_before, fold_state
from engagement_pipeline.sql import exact_sum

CLV_STATE = StateSpec(
    {
        "purchase_days": "sum",
        "first_purchase": "min",  # {day, spend}: the spend of the earliest day
        "last_purchase_date": "max",
        "total_spend": "sum",
    }
)
# Output columns that carry the state to the next date.
STATE_COLUMNS = ("purchase_days", "first_purchase_spend", "last_purchase_date", "total_spend")


def previous_clv_state(previous: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The state columns of customer_clv rows of the day before a run."""
    return previous.project(
        "customer_id, purchase_days, "
        "{'day': first_purchase_date, 'spend': first_purchase_spend} AS first_purchase, "
        "last_purchase_date, total_spend"
    )


def transaction_summary(
    con: duckdb.DuckDBPyConnection,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    unit_days: float,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """Per customer with a purchase and snapshot date: frequency, recency, T, mean repeat spend.

    Purchases on the same day are one transaction (their amounts summed); frequency counts
    repeat transactions; recency and T run from the first purchase day to the last one and
    to the snapshot date, in days / unit_days. Incremental: with `earlier` (customer_clv
    rows of earlier dates; the day before the first date is the state it starts from)
    `purchases` holds only the run's days; without it, the whole history.
    """
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    # A raw row's partition is its purchase day: one transaction per customer and day.
    spend = exact_sum("amount")
    deltas = con.sql(
        f"""
        SELECT customer_id, snapshot_date AS effective_date, 1 AS purchase_days,
               {{'day': snapshot_date, 'spend': {spend}}} AS first_purchase,
               snapshot_date AS last_purchase_date, {spend} AS total_spend
        FROM bought GROUP BY customer_id, snapshot_date
        """
    )
    state = fold_state(  # noqa: F841 - referenced by name in the SQL below
        con,
        CLV_STATE,
        deltas,
        dates,
        previous_clv_state(previous) if (previous := day_before(earlier, min(dates))) else None,
    )
    unit = float(unit_days)
    first_day = "first_purchase.day"
    return con.sql(
        f"""
        SELECT snapshot_date, customer_id,
               CAST(purchase_days - 1 AS BIGINT) AS frequency,
               date_diff('day', {first_day}, last_purchase_date) / {unit!r} AS recency,
               date_diff('day', {first_day}, snapshot_date) / {unit!r} AS "T",
               CASE WHEN purchase_days > 1
                    THEN (total_spend - first_purchase.spend) / (purchase_days - 1)
                    ELSE 0.0 END AS monetary_value,
               {first_day} AS first_purchase_date,
               CAST(purchase_days AS BIGINT) AS purchase_days,
               first_purchase.spend AS first_purchase_spend,
               last_purchase_date, total_spend
        FROM state
        ORDER BY snapshot_date, customer_id
        """
    )
