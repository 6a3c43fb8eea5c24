"""Journeys: the ordered touches before each conversion, the journeys that did not convert,
and the most frequent paths with their conversion rate.

A journey ends with a purchase (a conversion) or, for a customer with touches and no
purchase in the lookback, with the snapshot date (not converted). Its path is the
customer's touches in the lookback_days before its end and after their previous purchase
(touches before that belong to the previous conversion), in time order, each named by the
configured dimension (touchpoint, channel or campaign), the last max_path_length kept.
A snapshot reports the conversions of its last window_days days and the customers not
converted as of its date. The raw rows it reads are those of window + lookback days before
it: its cost follows that span, not the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.config import JourneysConfig
from engagement_pipeline.sql import quote_ident, values_sql

NO_VALUE = "(none)"  # a touch without a value in the dimension (e.g. no campaign)
PATH_SEPARATOR = " > "


def journey_span_days(config: JourneysConfig) -> int:
    """How many days before a snapshot date its journeys reach back (the raw days it reads)."""
    return int(config.window_days) + int(config.lookback_days)


def compute_journeys(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: JourneysConfig,
) -> duckdb.DuckDBPyRelation:
    """One row per journey and snapshot date: each conversion of the window (by order) and
    each customer with touches and no purchase in the lookback, with the path, the days
    from each touch to the journey's end, and the revenue.

    `events` and `purchases` hold at least the journey_span_days before each date."""
    window, lookback, keep = (
        int(config.window_days),
        int(config.lookback_days),
        int(config.max_path_length),
    )
    dim = quote_ident(config.dimension)
    excluded = (
        f"touchpoint NOT IN {values_sql(t.value for t in config.exclude_touchpoints)}"
        if config.exclude_touchpoints
        else "true"
    )
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    first, last = min(dates), max(dates)
    return con.sql(
        f"""
        WITH touches AS (
            SELECT customer_id, event_timestamp AS ts, event_id,
                   coalesce(nullif(trim(CAST({dim} AS VARCHAR)), ''), '{NO_VALUE}') AS step
            FROM seen WHERE {excluded}
        ),
        orders AS (
            SELECT customer_id, order_id, purchase_timestamp AS ts, amount, snapshot_date AS day,
                   lag(purchase_timestamp) OVER (PARTITION BY customer_id
                       ORDER BY purchase_timestamp, order_id) AS previous_at
            FROM bought
        ),
        conversions AS (  -- each order of the run's windows, once
            SELECT customer_id, order_id, ts AS journey_end, amount AS revenue, day,
                   previous_at
            FROM orders
            WHERE day > DATE '{first}' - {window} AND day <= DATE '{last}'
        ),
        lookback_touch AS (  -- (date, customer) with a touch in the date's lookback
            SELECT DISTINCT d.snapshot_date, t.customer_id
            FROM run_dates d JOIN touches t
              ON t.ts >= d.snapshot_date + 1 - INTERVAL {lookback} DAY
             AND t.ts < d.snapshot_date + 1
        ),
        lookback_order AS (
            SELECT DISTINCT d.snapshot_date, o.customer_id
            FROM run_dates d JOIN orders o
              ON o.ts >= d.snapshot_date + 1 - INTERVAL {lookback} DAY
             AND o.ts < d.snapshot_date + 1
        ),
        open_journeys AS (  -- not converted: touches and no purchase in the lookback
            SELECT t.snapshot_date, t.customer_id,
                   CAST(t.snapshot_date + 1 AS TIMESTAMP) AS journey_end
            FROM lookback_touch t ANTI JOIN lookback_order o USING (snapshot_date, customer_id)
        ),
        ends AS (
            SELECT customer_id, order_id, journey_end, revenue, true AS converted,
                   previous_at, NULL::DATE AS open_date
            FROM conversions
            UNION ALL
            SELECT customer_id, NULL, journey_end, 0.0, false, NULL, snapshot_date
            FROM open_journeys
        ),
        paths AS (
            SELECT e.customer_id, e.order_id, e.journey_end, e.converted, e.revenue, e.open_date,
                   count(t.step) AS touches,
                   coalesce(list(t.step ORDER BY t.ts, t.event_id)
                       FILTER (WHERE t.step IS NOT NULL), []) AS steps,
                   coalesce(list(epoch(e.journey_end - t.ts) / 86400.0 ORDER BY t.ts, t.event_id)
                       FILTER (WHERE t.step IS NOT NULL), []) AS days
            FROM ends e LEFT JOIN touches t
              ON t.customer_id = e.customer_id
             AND t.ts >= e.journey_end - INTERVAL {lookback} DAY AND t.ts < e.journey_end
             AND (e.previous_at IS NULL OR t.ts > e.previous_at)
            GROUP BY ALL
        ),
        journeys AS (  -- the last max_path_length touches
            SELECT * REPLACE (
                       list_slice(steps, greatest(len(steps) - {keep} + 1, 1), len(steps)) AS steps,
                       list_slice(days, greatest(len(days) - {keep} + 1, 1), len(days)) AS days)
            FROM paths
        )
        SELECT d.snapshot_date, j.customer_id, j.order_id, j.journey_end, j.converted,
               CAST(j.revenue AS DOUBLE) AS revenue, CAST(j.touches AS BIGINT) AS touches,
               j.steps AS path, array_to_string(j.steps, '{PATH_SEPARATOR}') AS path_key,
               j.days AS days_before_end
        FROM run_dates d JOIN journeys j
          ON (j.converted AND CAST(j.journey_end AS DATE) > d.snapshot_date - {window}
              AND CAST(j.journey_end AS DATE) <= d.snapshot_date)
          OR (NOT j.converted AND j.open_date = d.snapshot_date)
        ORDER BY d.snapshot_date, j.customer_id, j.journey_end, j.order_id
        """
    )


def compute_top_paths(
    con: duckdb.DuckDBPyConnection, journeys: duckdb.DuckDBPyRelation, config: JourneysConfig
) -> duckdb.DuckDBPyRelation:
    """The most frequent paths of each date (top_paths of them, most journeys first; ties by
    the path itself), with journeys, conversions, conversion rate and revenue."""
    source = journeys  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH counted AS (
            SELECT snapshot_date, CASE WHEN path_key = '' THEN '(no touch)' ELSE path_key END
                       AS path, max(len(path)) AS steps,
                   count(*) AS journeys, count(*) FILTER (WHERE converted) AS conversions,
                   sum(revenue) AS revenue
            FROM source GROUP BY snapshot_date, 2
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY snapshot_date
                                         ORDER BY journeys DESC, path) AS rank,
                   journeys / sum(journeys) OVER (PARTITION BY snapshot_date) AS share_of_journeys
            FROM counted
        )
        SELECT snapshot_date, CAST(rank AS INTEGER) AS rank, path, CAST(steps AS INTEGER) AS steps,
               CAST(journeys AS BIGINT) AS journeys, CAST(conversions AS BIGINT) AS conversions,
               conversions / journeys AS conversion_rate, CAST(revenue AS DOUBLE) AS revenue,
               share_of_journeys
        FROM ranked WHERE rank <= {int(config.top_paths)}
        ORDER BY snapshot_date, rank
        """
    )
