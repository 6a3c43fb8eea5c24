"""Journeys: the ordered touches before each conversion, the journeys that did not convert,
and the most frequent paths with their conversion rate.

A journey ends with a purchase (a conversion) or is still open at the end of the snapshot
date. Its path is the customer's touches in the lookback_days before its end and after
their previous purchase (touches before that belong to the previous conversion), in time
order, the last max_path_length kept: each touch's touchpoint, channel and campaign side by
side (lists in the same order as touched_at). The path that paths and attribution count is
the configured dimension's list; path_key is it joined. A snapshot holds the conversions of
its own day and every open journey of its date, with a status:

- converted: an order of the day (the window_days of conversions that paths and
  attribution report are counted by path in path_conversions, not kept journey by journey);
- not_converted: a customer with touches and no purchase in the lookback (reported);
- in_progress: touches since a purchase within the lookback (not reported: the customer
  converted recently). It is kept because the next date's journeys continue from it.

Incremental: the open journeys of the day before hold every touch a later conversion can
use (the touches since each customer's last purchase, within the lookback, the last
max_path_length of them: trimming keeps what later trimming would), so a date reads its
own day's raw rows and its own previous rows, never the span of days before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.state import day_before
from engagement_pipeline.config import JourneysConfig
from engagement_pipeline.errors import LakeError
from engagement_pipeline.sql import exact_sum, quote_ident, values_sql

NO_VALUE = "(none)"  # a touch without a value in the dimension (e.g. no campaign)
PATH_SEPARATOR = " > "
CONVERTED, NOT_CONVERTED, IN_PROGRESS = "converted", "not_converted", "in_progress"
# The journeys a date reports (paths, attribution, the report): not those in progress.
REPORTED = f"status <> '{IN_PROGRESS}'"


def reported_journeys(
    journeys: duckdb.DuckDBPyRelation, config: JourneysConfig
) -> duckdb.DuckDBPyRelation:
    """The converted and not-converted journeys (the in-progress ones are state only), each
    with its `path`: the configured dimension's list, the steps paths and attribution count."""
    return journeys.filter(REPORTED).project(f"*, {touch_list(config.dimension)} AS path")


# SQL over a journeys row: the days from each kept touch (touched_at) to the journey's end.
DAYS_BEFORE_END = "list_transform(touched_at, lambda s: epoch(journey_end - s) / 86400.0)"


# What a journey records of each touch, side by side (a column of lists each): the column
# of the raw events it comes from. The configured one is the path (reported_journeys).
TOUCH_LISTS = {"touchpoints": "touchpoint", "channels": "channel", "campaigns": "campaign"}


def touch_list(dimension: str) -> str:
    """The journeys' list column that holds a dimension's value of each touch."""
    return next(name for name, column in TOUCH_LISTS.items() if column == dimension)


def compute_journeys(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    ltv: duckdb.DuckDBPyRelation | None,
    dates: Sequence[dt.date],
    config: JourneysConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per journey and snapshot date: each conversion of the date's day (by order)
    and each customer's open journey on the date, with the status, the revenue, and each kept
    touch's touchpoint, channel, campaign and time, in time order, and `path_key`: the
    configured dimension's list joined.

    `ltv` (customer_ltv of the dates) gives each customer's last purchase day, which tells
    a not-converted journey from one in progress; without it only the conversions are
    computed (path_conversions' full computation). Incremental: `earlier` holds this asset's
    rows of the day before the first date, and the raw rows only the run's days. Without it
    they are the whole history."""
    lookback, keep = int(config.lookback_days), int(config.max_path_length)
    path = touch_list(config.dimension)
    lists = list(TOUCH_LISTS)  # touchpoints, channels, campaigns
    values = {  # each touch's value in each dimension ('(none)' where it has none)
        name: f"coalesce(nullif(trim(CAST({quote_ident(column)} AS VARCHAR)), ''), '{NO_VALUE}')"
        for name, column in TOUCH_LISTS.items()
    }
    excluded = (
        f"touchpoint NOT IN {values_sql(t.value for t in config.exclude_touchpoints)}"
        if config.exclude_touchpoints
        else "true"
    )
    first, last = min(dates), max(dates)
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    customers = ltv  # noqa: F841 - referenced by name in the SQL below
    if ltv is None:  # the conversions alone: no open journey is asked for, none is computed
        customers = con.sql(  # noqa: F841 - referenced by name in the SQL below
            "SELECT NULL::DATE AS snapshot_date, NULL::VARCHAR AS customer_id, "
            "NULL::DATE AS last_purchase_date WHERE false"
        )
    previous = day_before(earlier, first)
    if previous is None:  # the same columns, no rows: everything comes from the raw rows
        previous = con.sql(  # noqa: F841 - referenced by name in the SQL below
            f"""SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS order_id,
                      NULL::TIMESTAMP AS journey_end, NULL::VARCHAR AS status,
                      NULL::DOUBLE AS revenue, {", ".join(f"NULL::VARCHAR[] AS {n}" for n in lists)},
                      NULL::TIMESTAMP[] AS touched_at
               WHERE false"""
        )
    else:
        require_touch_lists(previous, first)

    def each(template: str) -> str:
        """`template` with {n} for each list column, comma-separated."""
        return ", ".join(template.format(n=n) for n in lists)

    def carried_then_fresh(carried: str, field: str) -> str:
        """A journey's list: the carried touches it keeps, then its touches of the run."""
        return (
            f"list_concat(coalesce(list_slice({carried}, kept_from, len({carried})), []), "
            f"coalesce(list_transform(touched, lambda x: x.{field}), []))"
        )

    def last_kept(column: str) -> str:
        """The last max_path_length elements of a list."""
        return f"list_slice({column}, greatest(len({column}) - {keep} + 1, 1), len({column}))"

    return con.sql(
        f"""
        WITH active AS (  -- customers with a touch or an order in the run
            SELECT customer_id FROM seen UNION SELECT customer_id FROM bought
        ),
        carried_open AS (
            SELECT * FROM previous WHERE status <> '{CONVERTED}'
        ),
        carried AS (  -- the active customers' open journeys: every touch before the run
            SELECT customer_id, {each("{n}")}, touched_at
            FROM carried_open SEMI JOIN active USING (customer_id)
        ),
        quiet AS (  -- the others' open journeys only age: the touches leaving the lookback go
            SELECT d.snapshot_date AS open_date, o.customer_id,
                   CAST(d.snapshot_date + 1 AS TIMESTAMP) AS journey_end, {each("o.{n}")},
                   o.touched_at,
                   len(o.touched_at) - len(list_filter(o.touched_at, lambda t:
                       t >= d.snapshot_date + 1 - INTERVAL {lookback} DAY)) + 1 AS kept_from
            FROM carried_open o ANTI JOIN active USING (customer_id)
            CROSS JOIN run_dates d
        ),
        touches AS (  -- the run's own touches
            SELECT customer_id, event_timestamp AS ts, event_id,
                   {", ".join(f"{v} AS {n}" for n, v in values.items())}
            FROM seen WHERE {excluded}
        ),
        orders AS (
            SELECT customer_id, order_id, purchase_timestamp AS ts, amount, snapshot_date AS day,
                   lag(purchase_timestamp) OVER (PARTITION BY customer_id
                       ORDER BY purchase_timestamp, order_id) AS previous_at
            FROM bought
        ),
        conversions AS (  -- each order of the run's days
            SELECT customer_id, order_id, ts AS journey_end, amount AS revenue, previous_at
            FROM orders
            WHERE day BETWEEN DATE '{first}' AND DATE '{last}'
        ),
        open_ends AS (  -- (date, customer) with a touch in the date's lookback
            SELECT d.snapshot_date, t.customer_id FROM run_dates d JOIN touches t
              ON t.ts >= d.snapshot_date + 1 - INTERVAL {lookback} DAY
             AND t.ts < d.snapshot_date + 1
            UNION  -- a carried journey's last touch is its latest
            SELECT d.snapshot_date, c.customer_id FROM run_dates d JOIN carried c
              ON c.touched_at[len(c.touched_at)] >= d.snapshot_date + 1 - INTERVAL {lookback} DAY
        ),
        open_journeys AS (  -- cut at the customer's last purchase before the date ends
            SELECT e.snapshot_date, e.customer_id, e.journey_end, o.ts AS previous_at
            FROM (SELECT *, CAST(snapshot_date + 1 AS TIMESTAMP) AS journey_end FROM open_ends
                  WHERE {"false" if ltv is None else "true"}) e  -- none for conversions alone
            ASOF LEFT JOIN orders o
              ON o.customer_id = e.customer_id AND e.journey_end > o.ts
        ),
        ends AS (  -- end_key: a journey of its customer (the order, or the open date)
            SELECT *, coalesce('order ' || order_id, 'open ' || CAST(open_date AS VARCHAR))
                          AS end_key
            FROM (
                SELECT customer_id, order_id, journey_end, revenue, previous_at,
                       NULL::DATE AS open_date
                FROM conversions
                UNION ALL
                SELECT customer_id, NULL, journey_end, 0.0, previous_at, snapshot_date
                FROM open_journeys
            )
        ),
        run_touches AS (  -- each customer's touches of the run, in time order (ties: id)
            SELECT customer_id,
                   list_sort(list({{'ts': ts, 'event_id': event_id,
                                    {each("'{n}': {n}")}}})) AS touched
            FROM touches SEMI JOIN ends USING (customer_id)  -- only the journeys' customers
            GROUP BY customer_id
        ),
        fresh AS (  -- each journey's touches of the run: those in its lookback, after its
                    -- previous order (the customer's list sliced, not rebuilt per journey:
                    -- a run's dates share most of their touches)
            SELECT e.customer_id, e.end_key,
                   list_filter(r.touched, lambda x:
                       x.ts >= e.journey_end - INTERVAL {lookback} DAY
                       AND x.ts < e.journey_end
                       AND (e.previous_at IS NULL OR x.ts > e.previous_at)) AS touched
            FROM ends e JOIN run_touches r USING (customer_id)
        ),
        joined AS (  -- with the carried touches in its lookback and after its previous order
            SELECT e.*, {each("c.{n} AS carried_{n}")}, c.touched_at AS carried_at,
                   len(list_filter(c.touched_at, lambda t:
                       t < e.journey_end - INTERVAL {lookback} DAY
                       OR (e.previous_at IS NOT NULL AND t <= e.previous_at))) + 1 AS kept_from,
                   f.touched
            FROM ends e LEFT JOIN carried c USING (customer_id)
            LEFT JOIN fresh f USING (customer_id, end_key)
        ),
        whole AS (  -- carried touches precede the run's: the two lists join in time order
            SELECT customer_id, order_id, journey_end, revenue, open_date,
                   {", ".join(f"{carried_then_fresh(f'carried_{n}', n)} AS {n}" for n in lists)},
                   {carried_then_fresh("carried_at", "ts")} AS touched_at
            FROM joined
        ),
        kept AS (  -- the last max_path_length touches; an open journey needs one
            SELECT customer_id, order_id, journey_end, revenue, open_date,
                   {", ".join(f"{last_kept(n)} AS {n}" for n in [*lists, "touched_at"])}
            FROM whole
            WHERE order_id IS NOT NULL OR len(touched_at) > 0
        ),
        open_paths AS (  -- reported (no purchase in the lookback) or in progress
            SELECT customer_id, journey_end, {each("{n}")}, touched_at, open_date
            FROM kept WHERE order_id IS NULL
            UNION ALL
            SELECT customer_id, journey_end, {each("list_slice({n}, kept_from, len({n}))")},
                   list_slice(touched_at, kept_from, len(touched_at)), open_date
            FROM quiet WHERE kept_from <= len(touched_at)
        ),
        every AS (  -- each conversion on its own day
            SELECT CAST(journey_end AS DATE) AS snapshot_date, customer_id, order_id,
                   journey_end, '{CONVERTED}' AS status, true AS converted,
                   CAST(revenue AS DOUBLE) AS revenue, {each("{n}")}, touched_at
            FROM kept WHERE order_id IS NOT NULL
            UNION ALL
            -- an open journey's status from the customer's last purchase day (customer_ltv
            -- of the date): a purchase within the lookback means a journey in progress
            SELECT j.open_date, j.customer_id, NULL, j.journey_end,
                   CASE WHEN c.last_purchase_date > j.open_date - {lookback}
                        THEN '{IN_PROGRESS}' ELSE '{NOT_CONVERTED}' END,
                   false, 0.0, {each("j.{n}")}, j.touched_at
            FROM open_paths j LEFT JOIN customers c
              ON c.snapshot_date = j.open_date AND c.customer_id = j.customer_id
        )
        SELECT snapshot_date, customer_id, order_id, journey_end, status, converted, revenue,
               array_to_string({path}, '{PATH_SEPARATOR}') AS path_key, {each("{n}")},
               touched_at
        FROM every
        WHERE {"converted" if ltv is None else "true"}
        """  # unsorted: the lake sorts each partition as it writes it (the stage's row_order)
    )


def require_touch_lists(previous: duckdb.DuckDBPyRelation, first: dt.date) -> None:
    """Journeys written before they kept every dimension of a touch cannot be continued."""
    missing = [n for n in TOUCH_LISTS if n not in previous.columns]
    if missing:
        raise LakeError(
            f"conversion_journeys of {first - dt.timedelta(days=1)} has no {missing[0]} "
            "column: it was written by an earlier version of the pipeline, which kept only "
            "the path. Materialize conversion_journeys again from the first snapshot date "
            "(a backfill in the UI, or `engagement-pipeline run --from <start_date>`)."
        )


def compute_top_paths(
    con: duckdb.DuckDBPyConnection, counted: duckdb.DuckDBPyRelation, config: JourneysConfig
) -> duckdb.DuckDBPyRelation:
    """The most frequent paths of each date (top_paths of them, most journeys first; ties by
    the path itself), with journeys, conversions, conversion rate and revenue, from the
    date's reported journeys counted by path (path_conversions.window_paths)."""
    source = counted  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH keyed AS (
            SELECT snapshot_date, converted, journeys, revenue, len(path) AS steps,
                   CASE WHEN len(path) = 0 THEN '(no touch)'
                        ELSE array_to_string(path, '{PATH_SEPARATOR}') END AS path_key
            FROM source
        ),
        counted AS (
            SELECT snapshot_date, path_key AS path, max(steps) AS steps,
                   sum(journeys) AS journeys,
                   coalesce(sum(journeys) FILTER (WHERE converted), 0) AS conversions,
                   {exact_sum("revenue")} AS revenue
            FROM keyed GROUP BY snapshot_date, path_key
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
