"""Anomalies: each day's event counts per touchpoint, orders and revenue against the same
weekday over the trailing weeks.

The expected value of a metric on day D is its level (the median of the level_days, 7, days
before D) times the usual ratio of that weekday to its own level (the median of the ratio on D - 7,
D - 14, ... D - 7k, k = training_weeks): the weekly rhythm and a slow trend are the
baseline's, not anomalies. Its spread is the median absolute deviation (MAD) of those
ratios, scaled by 1.4826 so it estimates a standard deviation for normal data, times the
level. Both are robust: one odd day in the history does not move them. The spread never
falls below min_spread_share of the expected value nor below the counting noise, so a
flat history does not turn a change of one into an anomaly. The score is
(value - expected) / spread; past the threshold the day is a spike or a drop.
docs/decision_logic.md ("Anomalies") has the same in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.config import AnomaliesConfig
from engagement_pipeline.sql import exact_sum, quote_literal
from engagement_pipeline.vocabulary import TouchpointType

MAD_TO_SIGMA = 1.4826
EVENT_METRIC = "events/{}"  # the daily event count of one touchpoint
ORDERS, REVENUE = "orders", "revenue"
# The raw asset whose rows each metric counts (its anomalies become that asset's check).
METRIC_SOURCES = {"events": "raw_engagement_events", "purchases": "raw_purchases"}


def metric_names() -> list[str]:
    return [*(EVENT_METRIC.format(t.value) for t in TouchpointType), ORDERS, REVENUE]


def training_days(config: AnomaliesConfig) -> int:
    """How many days before a date its baseline reaches back (the training weeks, and the
    level_days before the first of them, which set that day's level)."""
    return 7 * int(config.training_weeks) + int(config.level_days)


def compute_daily_metrics(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
) -> duckdb.DuckDBPyRelation:
    """One row per date and metric (every metric, 0 on a day without rows): the value and
    the raw asset it counts."""
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    touchpoints = ", ".join(quote_literal(t.value) for t in TouchpointType)
    return con.sql(
        f"""
        WITH names AS (
            SELECT 'events/' || t AS metric, 'events' AS source
            FROM (SELECT unnest([{touchpoints}]) AS t)
            UNION ALL SELECT '{ORDERS}', 'purchases' UNION ALL SELECT '{REVENUE}', 'purchases'
        ),
        counted AS (
            SELECT snapshot_date, 'events/' || touchpoint AS metric, CAST(count(*) AS DOUBLE) AS value
            FROM seen GROUP BY ALL
            UNION ALL
            SELECT snapshot_date, '{ORDERS}', CAST(count(*) AS DOUBLE) FROM bought GROUP BY ALL
            UNION ALL
            SELECT snapshot_date, '{REVENUE}', {exact_sum("amount")} FROM bought GROUP BY ALL
        )
        SELECT d.snapshot_date, n.metric,
               CASE n.source WHEN 'events' THEN '{METRIC_SOURCES["events"]}'
                             ELSE '{METRIC_SOURCES["purchases"]}' END AS source_asset,
               coalesce(c.value, 0.0) AS value
        FROM run_dates d CROSS JOIN names n
        LEFT JOIN counted c ON c.snapshot_date = d.snapshot_date AND c.metric = n.metric
        ORDER BY d.snapshot_date, n.metric
        """
    )


def compute_anomalies(
    con: duckdb.DuckDBPyConnection,
    metrics: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: AnomaliesConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per date and metric: the value, the baseline median and spread from the same
    weekday of the trailing training_weeks, the expected range, the robust score, whether
    it is an anomaly and its direction (spike or drop). A metric with fewer than
    min_training_points earlier weeks is not judged (no baseline yet).

    Incremental: `earlier` holds this asset's own rows of the training_days before the
    first date (each carries its day's value), and `metrics` the run's days. Without it,
    `metrics` is the whole history."""
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    columns = "snapshot_date, metric, source_asset, value"
    history = metrics.project(columns)  # noqa: F841 - referenced by name in the SQL below
    if earlier is not None:
        history = (
            earlier.project(columns)
            .filter(f"snapshot_date < DATE '{min(dates).isoformat()}'")
            .union(history)
        )
    weeks, threshold = int(config.training_weeks), float(config.threshold)
    level_days = int(config.level_days)
    floor = float(config.min_spread_share)
    return con.sql(
        f"""
        WITH leveled AS (  -- each day's level: the median of the level_days before it
            SELECT snapshot_date, metric, source_asset, value,
                   median(value) OVER (PARTITION BY metric ORDER BY snapshot_date
                       RANGE BETWEEN INTERVAL {level_days} DAY PRECEDING
                             AND INTERVAL 1 DAY PRECEDING)
                       AS level
            FROM history
        ),
        today AS (
            SELECT l.* FROM leveled l JOIN run_dates d USING (snapshot_date)
        ),
        training AS (  -- the same weekday of the trailing weeks, as a share of its level
            SELECT t.snapshot_date, t.metric, b.value / b.level AS ratio
            FROM today t JOIN leveled b
              ON b.metric = t.metric
             AND b.snapshot_date < t.snapshot_date
             AND b.snapshot_date >= t.snapshot_date - {7 * weeks}
             AND datediff('day', b.snapshot_date, t.snapshot_date) % 7 = 0
             AND b.level > 0
        ),
        centre AS (
            SELECT snapshot_date, metric, median(ratio) AS usual_ratio, count(*) AS points
            FROM training GROUP BY ALL
        ),
        spread AS (
            SELECT c.snapshot_date, c.metric, c.usual_ratio, c.points,
                   {MAD_TO_SIGMA} * median(abs(t.ratio - c.usual_ratio)) AS ratio_spread
            FROM centre c JOIN training t USING (snapshot_date, metric)
            GROUP BY c.snapshot_date, c.metric, c.usual_ratio, c.points
        ),
        expected AS (
            SELECT t.snapshot_date, t.metric, t.source_asset, t.value, s.points,
                   t.level * s.usual_ratio AS expected_value, t.level * s.ratio_spread AS seen_spread
            FROM today t LEFT JOIN spread s USING (snapshot_date, metric)
        ),
        floored AS (  -- counting noise: a count varies by its square root, a sum of n orders
                      -- by 1 / sqrt(n) of itself
            SELECT e.*, greatest(e.seen_spread, {floor!r} * abs(e.expected_value),
                   CASE WHEN e.metric = '{REVENUE}'
                        THEN abs(e.expected_value) / sqrt(greatest(o.expected_value, 1))
                        ELSE sqrt(abs(e.expected_value) + 1) END, 1e-9) AS spread
            FROM expected e LEFT JOIN expected o
              ON o.snapshot_date = e.snapshot_date AND o.metric = '{ORDERS}'
        ),
        scored AS (
            SELECT snapshot_date, metric, source_asset, value, expected_value AS baseline, spread,
                   CAST(coalesce(points, 0) AS INTEGER) AS training_points,
                   CASE WHEN points >= {int(config.min_training_points)}
                        THEN (value - expected_value) / spread END AS score
            FROM floored
        )
        SELECT snapshot_date, metric, source_asset, value, baseline,
               CASE WHEN score IS NOT NULL THEN greatest(baseline - {threshold!r} * spread, 0) END
                   AS expected_low,
               CASE WHEN score IS NOT NULL THEN baseline + {threshold!r} * spread END
                   AS expected_high,
               score, training_points,
               coalesce(abs(score) > {threshold!r}, false) AS is_anomaly,
               CASE WHEN score > {threshold!r} THEN 'spike'
                    WHEN score < -{threshold!r} THEN 'drop' END AS direction
        FROM scored
        ORDER BY snapshot_date, metric
        """
    )


TIMELINE_COLUMNS = (
    "day, metric, source_asset, value, expected_low, expected_high, score, is_anomaly, direction"
)


def compute_anomaly_timeline(
    con: duckdb.DuckDBPyConnection,
    anomalies: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: AnomaliesConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per date, metric and judged day of the timeline_days up to the date: the
    day's value, expected range, score and verdict (the picture an anomaly sits in).

    Incremental: `earlier` is this asset's own timeline of the day before the first date,
    and `anomalies` the run's days; without it, `anomalies` is the whole history."""
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    judged = anomalies.project(  # noqa: F841 - referenced by name in the SQL below
        "snapshot_date AS " + TIMELINE_COLUMNS
    )
    if earlier is not None:
        before = (min(dates) - dt.timedelta(days=1)).isoformat()
        judged = (
            earlier.filter(f"snapshot_date = DATE '{before}'")
            .project(TIMELINE_COLUMNS)
            .union(judged)
        )
    days = int(config.timeline_days)
    return con.sql(
        f"""
        SELECT d.snapshot_date, {", ".join("j." + c for c in TIMELINE_COLUMNS.split(", "))}
        FROM run_dates d JOIN judged j
          ON j.day <= d.snapshot_date AND j.day > d.snapshot_date - {days}
        ORDER BY d.snapshot_date, j.metric, j.day
        """
    )
