"""Trends: each customer's last window of behaviour against the window before it.

Incremental like the other snapshots (see analytics/state.py): the state holds running
totals per customer, and each window is the difference of two of them: the last window
is total(D) - total(D - W), the one before it total(D - W) - total(D - 2W).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.state import (
    StateSpec,
    day_before,
    fold_dates,
    fold_state,
    window_start_rows,
)
from engagement_pipeline.config import TrendsConfig
from engagement_pipeline.sql import exact_sum, quote_literal
from engagement_pipeline.vocabulary import TouchpointType

# What each window measures: its name and the running total it is the difference of.
MEASURES = {
    "events": "total_events",
    "purchases": "total_purchases",
    "spend": "total_spend",
    "support_contacts": "total_support_contacts",
}
TRENDS_STATE = StateSpec(
    {
        **{total: "sum" for total in MEASURES.values()},
        "purchase_days": "sum",
        "first_purchase_date": "min",
        "last_purchase_date": "max",
        "first_seen_date": "min",
    }
)


def trend_deltas(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
) -> duckdb.DuckDBPyRelation:
    """What each day adds per customer: events, support contacts, orders, spend and the day
    as a purchase day."""
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    support = quote_literal(TouchpointType.SUPPORT.value)
    return con.sql(
        f"""
        SELECT customer_id, snapshot_date AS effective_date,
               count(*) AS total_events, count_if(touchpoint = {support}) AS total_support_contacts,
               NULL::BIGINT AS total_purchases, NULL::DOUBLE AS total_spend,
               NULL::BIGINT AS purchase_days, NULL::DATE AS first_purchase_date,
               NULL::DATE AS last_purchase_date, snapshot_date AS first_seen_date
        FROM seen GROUP BY customer_id, snapshot_date
        UNION ALL
        SELECT customer_id, snapshot_date, NULL, NULL, count(*), {exact_sum("amount")}, 1,
               snapshot_date, snapshot_date, snapshot_date
        FROM bought GROUP BY customer_id, snapshot_date
        """
    )


def _window_sql(measure: str, total: str, later: str, earlier: str) -> str:
    """A window's figure: the running total at its end minus the one before it starts."""
    diff = f"coalesce({later}.{total}, 0) - coalesce({earlier}.{total}, 0)"
    if measure == "spend":
        # With no purchase left in the window the spend is exactly 0 (no rounding residue).
        orders = f"coalesce({later}.total_purchases, 0) - coalesce({earlier}.total_purchases, 0)"
        return f"CASE WHEN {orders} > 0 THEN {diff} ELSE 0.0 END"
    return f"CAST({diff} AS BIGINT)"


def change_sql(measure: str, dead_band: float) -> str:
    """The change as a ratio of the previous window (NULL when it was empty) and a direction:
    rising or falling beyond the dead band, else stable; from an empty window, rising if
    anything happened."""
    recent, previous = f"recent_{measure}", f"previous_{measure}"
    ratio = f"CASE WHEN {previous} > 0 THEN ({recent} - {previous}) / {previous} END"
    band = float(dead_band)
    return (
        f"{ratio} AS {measure}_change, "
        f"CASE WHEN {previous} = 0 THEN (CASE WHEN {recent} > 0 THEN 'rising' ELSE 'stable' END) "
        f"WHEN {ratio} > {band!r} THEN 'rising' WHEN {ratio} < {-band!r} THEN 'falling' "
        f"ELSE 'stable' END AS {measure}_direction"
    )


def compute_trends(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: TrendsConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer (with an event or a purchase by then) and snapshot date.

    For events, purchases (orders), spend and support contacts: the last window_days days
    ending with the date (recent_*) and the window_days before them (previous_*), the
    change as a ratio of the previous window and its direction. Also the lifetime purchase
    days, first and last purchase date the risk engine measures recency against.

    Incremental: `earlier` is this asset's own rows of the day before the first date and of
    the days before each window starts (D - W and D - 2W); events and purchases then hold
    only the run's days. Without it, they are the whole history.
    """
    first, w = min(dates), int(config.window_days)
    starts_on = [d - dt.timedelta(days=n * w) for d in dates for n in (1, 2)]
    folded = fold_state(
        con,
        TRENDS_STATE,
        trend_deltas(con, events, purchases),
        fold_dates(dates, starts_on, earlier is not None),
        day_before(earlier, first),
    )
    starts = window_start_rows(  # noqa: F841 - referenced by name in the SQL below
        con, earlier, folded, list(MEASURES.values()), first, starts_on
    )
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    windows = ", ".join(
        f"{_window_sql(m, t, 'c', 's1')} AS recent_{m}, {_window_sql(m, t, 's1', 's2')} AS previous_{m}"
        for m, t in MEASURES.items()
    )
    changes = ", ".join(change_sql(m, config.dead_band) for m in MEASURES)
    totals = ", ".join(
        f"CAST(coalesce({t}, 0) AS {'DOUBLE' if m == 'spend' else 'BIGINT'}) AS {t}"
        for m, t in MEASURES.items()
    )
    return con.sql(
        f"""
        WITH windowed AS (
            SELECT c.*, {windows}
            FROM folded c
            LEFT JOIN starts s1
              ON s1.customer_id = c.customer_id AND s1.snapshot_date = c.snapshot_date - {w}
            LEFT JOIN starts s2
              ON s2.customer_id = c.customer_id AND s2.snapshot_date = c.snapshot_date - {2 * w}
            WHERE c.snapshot_date IN (SELECT snapshot_date FROM run_dates)
        )
        SELECT snapshot_date, customer_id, first_seen_date,
               {", ".join(f"recent_{m}, previous_{m}" for m in MEASURES)},
               {changes},
               CAST(coalesce(purchase_days, 0) AS BIGINT) AS purchase_days,
               first_purchase_date, last_purchase_date,
               {totals}
        FROM windowed
        ORDER BY snapshot_date, customer_id
        """
    )
