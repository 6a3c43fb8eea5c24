"""Engagement score: touchpoint-weighted event frequency in a recent window, squashed into [0, 1]."""

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
from engagement_pipeline.config import EngagementScoringConfig
from engagement_pipeline.sql import exact_sum, quote_ident, quote_literal
from engagement_pipeline.vocabulary import TouchpointType


def first_seen_sql(a: str, b: str) -> str:
    """The earlier of two possibly-missing dates (a customer is seen in either source)."""
    return f"least(coalesce({a}, {b}), coalesce({b}, {a}))"


def touchpoint_count_column(touchpoint: TouchpointType) -> str:
    return f"{touchpoint.value}_events"


def engagement_score(weighted_events: float, half_saturation: float) -> float:
    """The score of a weighted event count: W / (W + k), 0 with no events, 0.5 at W = k."""
    return weighted_events / (weighted_events + half_saturation) if weighted_events > 0 else 0.0


def cumulative_column(column: str) -> str:
    """The all-history running total behind a window figure (the window is its difference)."""
    return f"total_{column}"


WINDOW_COLUMNS = (
    "window_events",
    "weighted_events",
    *(touchpoint_count_column(t) for t in TouchpointType),
)
ENGAGEMENT_STATE = StateSpec(
    {
        "total_events": "sum",
        "last_engagement_at": "max",
        "first_event_date": "min",
        **{cumulative_column(c): "sum" for c in WINDOW_COLUMNS},
        "last_purchase_at": "max",
        "first_purchase_date": "min",
    }
)


def _weight_case(config: EngagementScoringConfig) -> str:
    return (
        "CASE touchpoint "
        + " ".join(
            f"WHEN {quote_literal(t.value)} THEN {float(w)!r}"
            for t, w in sorted(config.touchpoint_weights.items(), key=lambda kv: kv[0].value)
        )
        + " ELSE 0.0 END"
    )


def engagement_deltas(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    config: EngagementScoringConfig,
) -> duckdb.DuckDBPyRelation:
    """What each day adds per customer: event counts and weights, and purchase dates. An
    event weighs its touchpoint's weight times its own engagement_score when it has one."""
    weight = f"{_weight_case(config)} * coalesce(engagement_score, 1.0)"
    counts = ", ".join(
        f"count_if(touchpoint = {quote_literal(t.value)}) "
        f"AS {quote_ident(cumulative_column(touchpoint_count_column(t)))}"
        for t in TouchpointType
    )
    nulls = ", ".join("NULL" for _ in TouchpointType)
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    # A raw row's snapshot_date is its event's (or purchase's) day.
    return con.sql(
        f"""
        SELECT customer_id, snapshot_date AS effective_date,
               count(*) AS total_events, max(event_timestamp) AS last_engagement_at,
               snapshot_date AS first_event_date,
               count(*) AS total_window_events, {exact_sum(weight)} AS total_weighted_events,
               {counts},
               NULL::TIMESTAMP AS last_purchase_at, NULL::DATE AS first_purchase_date
        FROM seen GROUP BY customer_id, snapshot_date
        UNION ALL
        SELECT customer_id, snapshot_date, NULL, NULL, NULL, NULL, NULL, {nulls},
               max(purchase_timestamp), snapshot_date
        FROM bought GROUP BY customer_id, snapshot_date
        """
    )


def _window_figures_sql() -> str:
    """Window figures as running totals at the date (c) minus those at the window's start
    (s). With no event left in the window the weight is exactly 0 (no rounding residue)."""
    counts = [
        f"CAST(coalesce(c.{quote_ident(cumulative_column(col))}, 0) "
        f"- coalesce(s.{quote_ident(cumulative_column(col))}, 0) AS BIGINT) AS {quote_ident(col)}"
        for col in WINDOW_COLUMNS
        if col != "weighted_events"
    ]
    weighted = (
        "CASE WHEN c.total_window_events IS DISTINCT FROM s.total_window_events THEN "
        "coalesce(c.total_weighted_events, 0) - coalesce(s.total_weighted_events, 0) "
        "ELSE 0.0 END AS weighted_events"
    )
    return ", ".join([*counts, weighted])


def compute_engagement_scores(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: EngagementScoringConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date: window counts, score, last engagement and activity.

    The window is the window_days days ending with the snapshot date; its figures are the
    running totals at the date minus those window_days earlier. Incremental: `earlier` is
    this asset's own rows of earlier dates (the day before the first date and window_days
    before each date); events and purchases then hold only the run's days. Without it,
    they are the whole history.
    """
    first, window = min(dates), int(config.window_days)
    deltas = engagement_deltas(con, events, purchases, config)
    starts_on = [d - dt.timedelta(days=window) for d in dates]
    folded = fold_state(
        con,
        ENGAGEMENT_STATE,
        deltas,
        fold_dates(dates, starts_on, earlier is not None),
        day_before(earlier, first),
    )
    totals = [cumulative_column(c) for c in WINDOW_COLUMNS]
    starts = window_start_rows(  # noqa: F841 - referenced by name in the SQL below
        con, earlier, folded, totals, first, starts_on
    )
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    k = float(config.half_saturation)
    count_cols = ", ".join(quote_ident(touchpoint_count_column(t)) for t in TouchpointType)
    # counts as BIGINT on every engine (DuckDB's running sum is a HUGEINT, which Parquet
    # would store as DOUBLE; Spark's is a BIGINT), so either engine writes the same types
    totals_out = ", ".join(
        f"CAST(coalesce({quote_ident(c)}, 0) AS "
        f"{'DOUBLE' if c == cumulative_column('weighted_events') else 'BIGINT'}) AS {quote_ident(c)}"
        for c in totals
    )
    # greatest() skips NULLs: a customer with only events or only purchases still has activity
    last_activity = "CAST(greatest(last_engagement_at, last_purchase_at) AS DATE)"
    return con.sql(
        f"""
        WITH windowed AS (
            SELECT c.*, {_window_figures_sql()}
            FROM folded c LEFT JOIN starts s
              ON s.customer_id = c.customer_id AND s.snapshot_date = c.snapshot_date - {window}
            WHERE c.snapshot_date IN (SELECT snapshot_date FROM run_dates)
        )
        SELECT snapshot_date, customer_id,
               CAST(coalesce(total_events, 0) AS BIGINT) AS total_events,
               window_events, {count_cols}, weighted_events,
               CASE WHEN weighted_events > 0
                    THEN weighted_events / (weighted_events + {k!r}) ELSE 0.0 END
                   AS engagement_score,
               CAST(last_engagement_at AS DATE) AS last_engagement_date,
               date_diff('day', CAST(last_engagement_at AS DATE), snapshot_date)
                   AS days_since_last_engagement,
               {last_activity} AS last_activity_date,
               date_diff('day', {last_activity}, snapshot_date) AS days_since_last_activity,
               {first_seen_sql("first_event_date", "first_purchase_date")} AS first_seen_date,
               last_engagement_at, first_event_date, last_purchase_at, first_purchase_date,
               {totals_out}
        FROM windowed
        ORDER BY snapshot_date, customer_id
        """
    )
