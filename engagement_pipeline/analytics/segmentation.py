"""Segments: exactly one tier per customer, decided by an ordered list of rules."""

from __future__ import annotations

import duckdb

from engagement_pipeline.config import EngagementScoringConfig, SegmentationConfig
from engagement_pipeline.sql import quote_literal
from engagement_pipeline.vocabulary import SegmentTier


def segment_case_sql(seg: SegmentationConfig, window_days: int) -> str:
    """The segment rules as one SQL CASE; the first rule that holds decides (see decision_logic.md).

    Expects columns segment_value (the LTV the thresholds apply to), engagement_score,
    days_since_last_activity, first_seen_date and snapshot_date.
    """
    lost = quote_literal(SegmentTier.LOST.value)
    return f"""CASE
        WHEN days_since_last_activity IS NULL
             OR days_since_last_activity > {int(seg.recency_threshold_days)} THEN {lost}
        WHEN segment_value >= {float(seg.ltv_threshold_high)!r}
             AND engagement_score >= {float(seg.engagement_threshold_high)!r}
             THEN {quote_literal(SegmentTier.CHAMPION.value)}
        WHEN segment_value >= {float(seg.ltv_threshold_high)!r}
             OR engagement_score >= {float(seg.engagement_threshold_high)!r}
             THEN {quote_literal(SegmentTier.LOYAL.value)}
        WHEN engagement_score < {float(seg.engagement_threshold_low)!r}
             AND first_seen_date <= snapshot_date - {int(window_days)}
             THEN {quote_literal(SegmentTier.AT_RISK.value)}
        ELSE {quote_literal(SegmentTier.POTENTIAL.value)}
    END"""


def value_tier_sql(seg: SegmentationConfig) -> str:
    return f"""CASE
        WHEN segment_value >= {float(seg.ltv_threshold_high)!r} THEN 'high'
        WHEN segment_value >= {float(seg.ltv_threshold_medium)!r} THEN 'medium'
        ELSE 'low' END"""


def assign_segments(
    con: duckdb.DuckDBPyConnection,
    customer_ltv: duckdb.DuckDBPyRelation,
    engagement_scores: duckdb.DuckDBPyRelation,
    seg: SegmentationConfig,
    scoring: EngagementScoringConfig,
    customer_clv: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date with its value, engagement and segment.

    With segmentation.value_source = predicted_clv the value thresholds apply to the
    predicted CLV on dates where the model produced one, and to the simple LTV otherwise
    (value_source says which was used).
    """
    if customer_clv is None:
        customer_clv = con.sql(
            "SELECT NULL::DATE AS snapshot_date, NULL::VARCHAR AS customer_id, "
            "NULL::DOUBLE AS predicted_clv, NULL::DOUBLE AS p_alive WHERE false"
        )
    clv = customer_clv.project(  # noqa: F841 - referenced by name in the SQL below
        "CAST(snapshot_date AS DATE) AS snapshot_date, customer_id, predicted_clv, p_alive"
    )
    use_predicted = seg.value_source == "predicted_clv"
    return con.sql(
        f"""
        WITH joined AS (
            SELECT coalesce(l.snapshot_date, e.snapshot_date) AS snapshot_date,
                   coalesce(l.customer_id, e.customer_id) AS customer_id,
                   coalesce(l.first_seen_date, e.first_seen_date) AS first_seen_date,
                   coalesce(l.lifetime_value, 0.0) AS lifetime_value,
                   coalesce(l.total_revenue, 0.0) AS total_revenue,
                   coalesce(l.purchase_count, 0) AS purchase_count,
                   l.last_purchase_date, l.country,
                   coalesce(e.engagement_score, 0.0) AS engagement_score,
                   coalesce(e.window_events, 0) AS window_events,
                   e.last_engagement_date, e.days_since_last_engagement,
                   e.last_activity_date, e.days_since_last_activity
            FROM customer_ltv l
            FULL OUTER JOIN engagement_scores e USING (snapshot_date, customer_id)
        ),
        predicted AS (
            SELECT j.*, c.predicted_clv, c.p_alive,
                   -- the model produced predictions on this date
                   bool_or(c.predicted_clv IS NOT NULL) OVER (PARTITION BY j.snapshot_date) AS has_clv
            FROM joined j LEFT JOIN clv c USING (snapshot_date, customer_id)
        ),
        valued AS (
            SELECT *,
                   CASE WHEN {use_predicted} AND has_clv THEN coalesce(predicted_clv, 0.0)
                        ELSE lifetime_value END AS segment_value,
                   CASE WHEN {use_predicted} AND has_clv THEN 'predicted_clv'
                        ELSE 'simple_ltv' END AS value_source
            FROM predicted
        )
        SELECT snapshot_date, customer_id, first_seen_date, lifetime_value, total_revenue,
               purchase_count, last_purchase_date, engagement_score, window_events,
               last_engagement_date, days_since_last_engagement, last_activity_date,
               days_since_last_activity, predicted_clv, p_alive, segment_value, value_source,
               {value_tier_sql(seg)} AS value_tier,
               {segment_case_sql(seg, scoring.window_days)} AS segment, country
        FROM valued
        ORDER BY snapshot_date, customer_id
        """
    )
