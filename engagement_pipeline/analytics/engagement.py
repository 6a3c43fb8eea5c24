"""Engagement score: touchpoint-weighted event frequency in a recent window, squashed into [0, 1]."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.ltv import first_seen_sql
from engagement_pipeline.config import EngagementScoringConfig
from engagement_pipeline.models import TouchpointType
from engagement_pipeline.sql import quote_ident, quote_literal


def touchpoint_count_column(touchpoint: TouchpointType) -> str:
    return f"{touchpoint.value}_events"


def engagement_score(weighted_events: float, half_saturation: float) -> float:
    """The score of a weighted event count: W / (W + k), 0 with no events, 0.5 at W = k."""
    return weighted_events / (weighted_events + half_saturation) if weighted_events > 0 else 0.0


def compute_engagement_scores(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: EngagementScoringConfig,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date: window counts, score, last engagement and activity.

    The window is the window_days days ending with the snapshot date. An event weighs its
    touchpoint's weight times its own engagement_score when it has one.
    """
    dates_rel = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    weight_case = (
        "CASE e.touchpoint "
        + " ".join(
            f"WHEN {quote_literal(t.value)} THEN {float(w)!r}"
            for t, w in sorted(config.touchpoint_weights.items(), key=lambda kv: kv[0].value)
        )
        + " ELSE 0.0 END"
    )
    counts = ",\n".join(
        f"count(*) FILTER (WHERE in_window AND touchpoint = {quote_literal(t.value)}) "
        f"AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    count_cols = ", ".join(
        f"coalesce({quote_ident(touchpoint_count_column(t))}, 0) "
        f"AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    k = float(config.half_saturation)
    # greatest() skips NULLs: a customer with only events or only purchases still has activity
    last_activity = "CAST(greatest(a.last_engagement_at, b.last_purchase_at) AS DATE)"
    return con.sql(
        f"""
        WITH e AS (
            SELECT d.snapshot_date, e.customer_id, e.touchpoint, e.event_timestamp,
                   CAST(e.event_timestamp AS DATE)
                       > d.snapshot_date - {int(config.window_days)} AS in_window,
                   {weight_case} * coalesce(e.engagement_score, 1.0) AS weight
            FROM dates_rel d JOIN events e
              ON CAST(e.event_timestamp AS DATE) <= d.snapshot_date
        ),
        agg AS (
            SELECT snapshot_date, customer_id,
                   count(*) AS total_events,
                   count(*) FILTER (WHERE in_window) AS window_events,
                   coalesce(sum(weight) FILTER (WHERE in_window), 0.0) AS weighted_events,
                   max(event_timestamp) AS last_engagement_at,
                   min(CAST(event_timestamp AS DATE)) AS first_event_date,
                   {counts}
            FROM e GROUP BY ALL
        ),
        bought AS (
            SELECT d.snapshot_date, p.customer_id, max(p.purchase_timestamp) AS last_purchase_at,
                   min(CAST(p.purchase_timestamp AS DATE)) AS first_purchase_date
            FROM dates_rel d JOIN purchases p
              ON CAST(p.purchase_timestamp AS DATE) <= d.snapshot_date
            GROUP BY ALL
        )
        SELECT snapshot_date, customer_id,
               coalesce(a.total_events, 0) AS total_events,
               coalesce(a.window_events, 0) AS window_events,
               {count_cols},
               coalesce(a.weighted_events, 0.0) AS weighted_events,
               CASE WHEN coalesce(a.weighted_events, 0) > 0
                    THEN a.weighted_events / (a.weighted_events + {k!r}) ELSE 0.0 END
                   AS engagement_score,
               CAST(a.last_engagement_at AS DATE) AS last_engagement_date,
               date_diff('day', CAST(a.last_engagement_at AS DATE), snapshot_date)
                   AS days_since_last_engagement,
               {last_activity} AS last_activity_date,
               date_diff('day', {last_activity}, snapshot_date) AS days_since_last_activity,
               {first_seen_sql("a.first_event_date", "b.first_purchase_date")} AS first_seen_date
        FROM agg a
        FULL OUTER JOIN bought b USING (snapshot_date, customer_id)
        ORDER BY snapshot_date, customer_id
        """
    )
