"""Engagement score: touchpoint-weighted event frequency in a recent window, squashed into [0, 1]."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
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
        f"count_if(e.touchpoint = {quote_literal(t.value)}) AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    count_cols = ", ".join(
        f"coalesce({quote_ident(touchpoint_count_column(t))}, 0) "
        f"AS {quote_ident(touchpoint_count_column(t))}"
        for t in TouchpointType
    )
    k = float(config.half_saturation)
    window = int(config.window_days)
    # Literal bounds on the partition column let DuckDB skip whole files: the window's
    # counts read only the window's days. (A raw row's snapshot_date is its event's day.)
    last = f"DATE '{max(dates).isoformat()}'"
    first = f"DATE '{min(dates).isoformat()}'"
    # greatest() skips NULLs: a customer with only events or only purchases still has activity
    last_activity = "CAST(greatest(h.last_engagement_at, b.last_purchase_at) AS DATE)"
    return con.sql(
        f"""
        WITH history AS (
            SELECT d.snapshot_date, e.customer_id,
                   count(*) AS total_events,
                   max(e.event_timestamp) AS last_engagement_at,
                   min(e.snapshot_date) AS first_event_date
            FROM dates_rel d
            JOIN (SELECT * FROM events WHERE snapshot_date <= {last}) e
              ON e.snapshot_date <= d.snapshot_date
            GROUP BY ALL
        ),
        recent AS (
            SELECT d.snapshot_date, e.customer_id,
                   count(*) AS window_events,
                   sum({weight_case} * coalesce(e.engagement_score, 1.0)) AS weighted_events,
                   {counts}
            FROM dates_rel d
            JOIN (SELECT * FROM events
                  WHERE snapshot_date <= {last} AND snapshot_date > {first} - {window}) e
              ON e.snapshot_date <= d.snapshot_date AND e.snapshot_date > d.snapshot_date - {window}
            GROUP BY ALL
        ),
        bought AS (
            SELECT d.snapshot_date, p.customer_id, max(p.purchase_timestamp) AS last_purchase_at,
                   min(p.snapshot_date) AS first_purchase_date
            FROM dates_rel d
            JOIN (SELECT * FROM purchases WHERE snapshot_date <= {last}) p
              ON p.snapshot_date <= d.snapshot_date
            GROUP BY ALL
        )
        SELECT snapshot_date, customer_id,
               coalesce(h.total_events, 0) AS total_events,
               coalesce(r.window_events, 0) AS window_events,
               {count_cols},
               coalesce(r.weighted_events, 0.0) AS weighted_events,
               CASE WHEN coalesce(r.weighted_events, 0) > 0
                    THEN r.weighted_events / (r.weighted_events + {k!r}) ELSE 0.0 END
                   AS engagement_score,
               CAST(h.last_engagement_at AS DATE) AS last_engagement_date,
               date_diff('day', CAST(h.last_engagement_at AS DATE), snapshot_date)
                   AS days_since_last_engagement,
               {last_activity} AS last_activity_date,
               date_diff('day', {last_activity}, snapshot_date) AS days_since_last_activity,
               {first_seen_sql("h.first_event_date", "b.first_purchase_date")} AS first_seen_date
        FROM history h
        LEFT JOIN recent r USING (snapshot_date, customer_id)
        FULL OUTER JOIN bought b USING (snapshot_date, customer_id)
        ORDER BY snapshot_date, customer_id
        """
    )
