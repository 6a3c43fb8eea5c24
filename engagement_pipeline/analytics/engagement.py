"""Engagement score: touchpoint-weighted event frequency in a recent window, squashed into [0, 1]."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.state import StateSpec, earlier_rows, fold_state
from engagement_pipeline.config import EngagementScoringConfig
from engagement_pipeline.models import TouchpointType
from engagement_pipeline.sql import quote_ident, quote_literal


def first_seen_sql(a: str, b: str) -> str:
    """The earlier of two possibly-missing dates (a customer is seen in either source)."""
    return f"least(coalesce({a}, {b}), coalesce({b}, {a}))"


def touchpoint_count_column(touchpoint: TouchpointType) -> str:
    return f"{touchpoint.value}_events"


def engagement_score(weighted_events: float, half_saturation: float) -> float:
    """The score of a weighted event count: W / (W + k), 0 with no events, 0.5 at W = k."""
    return weighted_events / (weighted_events + half_saturation) if weighted_events > 0 else 0.0


def engagement_state(touchpoints: Sequence[TouchpointType] = tuple(TouchpointType)) -> StateSpec:
    """Cumulative history, window counts (with exits) and purchase dates, per customer."""
    return StateSpec(
        {
            "total_events": "sum",
            "last_engagement_at": "max",
            "first_event_date": "min",
            "window_events": "sum",
            "weighted_events": "sum",
            **{touchpoint_count_column(t): "sum" for t in touchpoints},
            "last_purchase_at": "max",
            "first_purchase_date": "min",
        }
    )


ENGAGEMENT_STATE = engagement_state()


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
    first: dt.date,
    exits: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """Signed per-customer contributions: an event enters on its day and leaves the window
    window_days later; a purchase only moves the purchase dates. An event weighs its
    touchpoint's weight times its own engagement_score when it has one."""
    window = int(config.window_days)
    weight = f"{_weight_case(config)} * coalesce(engagement_score, 1.0)"
    counts = ", ".join(
        f"CAST(touchpoint = {quote_literal(t.value)} AS INTEGER) AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    minus_counts = ", ".join(
        f"-CAST(touchpoint = {quote_literal(t.value)} AS INTEGER)" for t in TouchpointType
    )
    nulls = ", ".join("NULL" for _ in TouchpointType)
    entering = events  # noqa: F841 - referenced by name in the SQL below
    leaving = earlier_rows(events, exits, first)  # noqa: F841 - referenced by name below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    # A raw row's snapshot_date is its event's day.
    return con.sql(
        f"""
        SELECT customer_id, snapshot_date AS effective_date,
               1 AS total_events, event_timestamp AS last_engagement_at,
               snapshot_date AS first_event_date,
               1 AS window_events, {weight} AS weighted_events, {counts},
               NULL::TIMESTAMP AS last_purchase_at, NULL::DATE AS first_purchase_date
        FROM entering
        UNION ALL
        SELECT customer_id, snapshot_date + {window}, NULL, NULL, NULL,
               -1, -({weight}), {minus_counts}, NULL, NULL
        FROM leaving
        UNION ALL
        SELECT customer_id, snapshot_date, NULL, NULL, NULL, NULL, NULL, {nulls},
               purchase_timestamp, snapshot_date
        FROM bought
        """
    )


def compute_engagement_scores(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: EngagementScoringConfig,
    previous: duckdb.DuckDBPyRelation | None = None,
    exits: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date: window counts, score, last engagement and activity.

    The window is the window_days days ending with the snapshot date. Incremental: with
    `previous` (this asset's rows of the day before the first date), events and purchases
    hold only the run's days and `exits` the events of earlier days that leave the window
    during the run. Without it, they are the whole history.
    """
    deltas = engagement_deltas(con, events, purchases, config, min(dates), exits)
    state = fold_state(  # noqa: F841 - referenced by name in the SQL below
        con, ENGAGEMENT_STATE, deltas, dates, previous
    )
    k = float(config.half_saturation)
    count_cols = ", ".join(
        f"CAST(coalesce({quote_ident(touchpoint_count_column(t))}, 0) AS BIGINT) "
        f"AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    # With nothing left in the window its weight is exactly 0 (no rounding residue).
    weighted = "CASE WHEN coalesce(window_events, 0) > 0 THEN weighted_events ELSE 0.0 END"
    # greatest() skips NULLs: a customer with only events or only purchases still has activity
    last_activity = "CAST(greatest(last_engagement_at, last_purchase_at) AS DATE)"
    return con.sql(
        f"""
        SELECT snapshot_date, customer_id,
               CAST(coalesce(total_events, 0) AS BIGINT) AS total_events,
               CAST(coalesce(window_events, 0) AS BIGINT) AS window_events,
               {count_cols},
               {weighted} AS weighted_events,
               CASE WHEN {weighted} > 0
                    THEN {weighted} / ({weighted} + {k!r}) ELSE 0.0 END AS engagement_score,
               CAST(last_engagement_at AS DATE) AS last_engagement_date,
               date_diff('day', CAST(last_engagement_at AS DATE), snapshot_date)
                   AS days_since_last_engagement,
               {last_activity} AS last_activity_date,
               date_diff('day', {last_activity}, snapshot_date) AS days_since_last_activity,
               {first_seen_sql("first_event_date", "first_purchase_date")} AS first_seen_date,
               last_engagement_at, first_event_date, last_purchase_at, first_purchase_date
        FROM state
        ORDER BY snapshot_date, customer_id
        """
    )
