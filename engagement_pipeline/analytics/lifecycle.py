"""Lifecycle stage (new, active, cooling, lapsed, churned) and value segment (high, medium, low)."""

from __future__ import annotations

import duckdb

from engagement_pipeline.analytics.rfm import date_count_sql, rank_position_sql
from engagement_pipeline.config import LifecycleConfig


def lifecycle_stage_sql(config: LifecycleConfig) -> str:
    """The first stage whose rule holds (see docs/decision_logic.md)."""
    return f"""CASE
        WHEN tenure_days <= {int(config.new_max_tenure_days)} THEN 'new'
        WHEN days_since_last_activity <= {int(config.active_max_recency_days)} THEN 'active'
        WHEN days_since_last_activity <= {int(config.cooling_max_recency_days)} THEN 'cooling'
        WHEN days_since_last_activity <= {int(config.lapsed_max_recency_days)} THEN 'lapsed'
        ELSE 'churned' END"""


def compute_lifecycle(
    con: duckdb.DuckDBPyConnection,
    customer_segments: duckdb.DuckDBPyRelation,
    config: LifecycleConfig,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date: stage, value segment and predicted value.

    The value percentile is the share of the date's customers with less revenue to date
    (customers without a purchase have 0); equal revenue, equal percentile. The predicted
    value is the predicted CLV where the model produced one, else the simple LTV.
    """
    segments = customer_segments  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH measured AS (
            SELECT CAST(snapshot_date AS DATE) AS snapshot_date, customer_id, first_seen_date,
                   date_diff('day', first_seen_date, CAST(snapshot_date AS DATE)) AS tenure_days,
                   coalesce(days_since_last_activity,
                            date_diff('day', first_seen_date, CAST(snapshot_date AS DATE)))
                       AS days_since_last_activity,
                   total_revenue AS monetary,
                   coalesce(predicted_clv, lifetime_value) AS predicted_value,
                   CASE WHEN predicted_clv IS NOT NULL THEN 'predicted_clv' ELSE 'simple_ltv' END
                       AS predicted_value_source
            FROM segments
        ),
        ranked AS (
            SELECT *, {rank_position_sql("monetary")} / {date_count_sql()} AS value_percentile
            FROM measured
        )
        SELECT snapshot_date, customer_id, first_seen_date, tenure_days,
               days_since_last_activity, {lifecycle_stage_sql(config)} AS lifecycle_stage,
               monetary, value_percentile,
               CASE WHEN value_percentile >= {float(config.high_value_percentile)!r} THEN 'high'
                    WHEN value_percentile >= {float(config.medium_value_percentile)!r} THEN 'medium'
                    ELSE 'low' END AS value_segment,
               predicted_value, predicted_value_source
        FROM ranked
        ORDER BY snapshot_date, customer_id
        """
    )
