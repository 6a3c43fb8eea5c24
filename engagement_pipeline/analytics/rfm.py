"""RFM: recency, frequency and monetary scores by quintile, the RFM code and its named segment."""

from __future__ import annotations

import duckdb

from engagement_pipeline.config import RFMConfig
from engagement_pipeline.sql import quote_ident, quote_literal


def rank_position_sql(order: str, measure: str = "") -> str:
    """How many of the date's customers rank strictly before this one under `order` (from
    0). Equal values share a position: the lowest of their tie (SQL RANK).

    `measure` names the ranking: DuckDB 2.0 fails with an internal error ("partition
    columns not supported") when windows over a hive-partitioned read share the partition
    key but differ in order, so each ranking partitions by (snapshot_date, its name)."""
    key = f", {quote_literal(measure)}" if measure else ""
    return f"(rank() OVER (PARTITION BY snapshot_date{key} ORDER BY {order}) - 1)"


def date_count_sql() -> str:
    return "count(*) OVER (PARTITION BY snapshot_date)"


def quintile_sql(order: str, measure: str) -> str:
    """A score 1..5 by quintile of `order` (worst first): 1 + floor(5 * position / n), in
    integers so an edge never depends on rounding. Customers with equal values get equal
    scores: a tie that spans a quintile edge takes the score of its lowest position."""
    return score_sql(rank_position_sql(order, measure), date_count_sql())


def counted_positions_sql(source: str, column: str, descending: bool = False) -> str:
    """SQL: each (snapshot_date, value of `column`) of `source` with its position, the count
    of the date's rows ranking strictly before it: rank() - 1, as rank_position_sql gives,
    from the counts per value instead of sorting every row. For whole-number measures with
    few distinct values (days, order counts)."""
    order = f"{quote_ident(column)}{' DESC' if descending else ''}"
    return f"""
        SELECT snapshot_date, {quote_ident(column)},
               coalesce(sum(n) OVER (PARTITION BY snapshot_date ORDER BY {order}
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                   AS position
        FROM (SELECT snapshot_date, {quote_ident(column)}, count(*) AS n FROM {source} GROUP BY ALL)
    """


def score_sql(position: str, count: str) -> str:
    """A score 1..5 by quintile from a position (from 0) among `count`: 1 + floor(5 * p / n),
    in integers so an edge never depends on rounding."""
    return f"CAST(1 + (5 * {position}) // {count} AS TINYINT)"


def rfm_segment_sql(config: RFMConfig) -> str:
    """The segment rule table as one CASE; every code is covered by rules of exactly one
    segment (checked when the config is read), so their order does not matter."""
    whens = []
    for rule in config.segments:
        ranges = zip(("r_score", "f_score", "m_score"), rule.ranges(), strict=True)
        cond = " AND ".join(f"{col} BETWEEN {lo} AND {hi}" for col, (lo, hi) in ranges)
        whens.append(f"WHEN {cond} THEN {quote_literal(rule.segment)}")
    return "CASE " + " ".join(whens) + " END"


def compute_rfm(
    con: duckdb.DuckDBPyConnection, customer_ltv: duckdb.DuckDBPyRelation, config: RFMConfig
) -> duckdb.DuckDBPyRelation:
    """One row per purchasing customer and snapshot date: R, F and M, their scores within the
    date, the code (e.g. '545') and the segment.

    Recency is days since the last purchase (fewer is better), frequency the number of
    orders, monetary the revenue to date. Customers without a purchase have no RFM row.
    """
    ltv = customer_ltv  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH measured AS (
            SELECT CAST(snapshot_date AS DATE) AS snapshot_date, customer_id,
                   date_diff('day', last_purchase_date, CAST(snapshot_date AS DATE)) AS recency_days,
                   purchase_count AS frequency, total_revenue AS monetary
            FROM ltv WHERE purchase_count > 0
        ),
        -- recency and frequency are whole numbers: their positions from counts per value
        recency_positions AS ({counted_positions_sql("measured", "recency_days", descending=True)}),
        frequency_positions AS ({counted_positions_sql("measured", "frequency")}),
        scored AS (
            SELECT m.*,
                   {score_sql("r.position", date_count_sql())} AS r_score,
                   {score_sql("f.position", date_count_sql())} AS f_score,
                   {quintile_sql("monetary", "m")} AS m_score
            FROM measured m
            JOIN recency_positions r USING (snapshot_date, recency_days)
            JOIN frequency_positions f USING (snapshot_date, frequency)
        )
        SELECT snapshot_date, customer_id, recency_days, frequency, monetary,
               r_score, f_score, m_score,
               CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR)
                   AS rfm_code,
               {rfm_segment_sql(config)} AS rfm_segment
        FROM scored
        ORDER BY snapshot_date, customer_id
        """
    )
