"""Journeys counted by path: what the top paths and every attribution model read.

Every figure of paths and attribution is a sum over journeys that depends on a journey only
through its path, its revenue and, for time decay, each touch's share of the journey's decay
weight. So journeys are counted by (the day they ended, path): how many, their revenue, and
per position of the path the sum of those shares (and of the revenue they carry).

path_conversions holds the conversions of a date's window counted that way, one row per
conversion day and path. It is incremental with window exits, like the per-customer
snapshots: date D is its own rows of D-1 whose day is still in the window, plus the
conversions of day D (conversion_journeys of D holds the journeys that ended on D). A
date's paths and attribution are those rows plus its not-converted journeys counted the
same way, so no snapshot rewrites the window's journeys one by one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.journeys import DAYS_BEFORE_END, reported_journeys
from engagement_pipeline.analytics.state import day_before
from engagement_pipeline.config import AttributionConfig, JourneysConfig
from engagement_pipeline.sql import exact_sum

# The columns of counted paths, converted or not (decay_* are NULL for unconverted ones).
COUNTED_COLUMNS = (
    "snapshot_date, journey_day, converted, path, journeys, revenue, decay_shares, decay_revenue"
)


def decay_sql(days: str, config: AttributionConfig) -> str:
    """A touch's time-decay factor: it halves every half_life_days before the conversion."""
    return f"pow(2.0, -{days} / {float(config.half_life_days)!r})"


def _longest_path(journeys: Any) -> int:
    """The most touches any of the journeys has (0 without any)."""
    return int(journeys.aggregate("max(len(path))").fetchall()[0][0] or 0)


def count_paths(con: Any, journeys: Any, decay: AttributionConfig | None) -> Any:
    """Journeys with a `path` (reported_journeys) counted by (snapshot_date, the day they
    ended, converted, path): journeys, revenue, and with `decay` (the time-decay model's
    half-life) each position's share of its journey's decay weight summed (decay_shares)
    and times the journey's revenue (decay_revenue); without it those are NULL."""
    source = journeys  # noqa: F841 - referenced by name in the SQL below
    if decay is None:
        shares = revenues = "NULL"
        factors = "NULL::DOUBLE[]"
    else:
        positions = range(1, _longest_path(journeys) + 1)
        # Position i's sums, one aggregate each, listed and cut to the path's length (every
        # journey of a group has that path, so the positions past its end are empty).
        listed = ", ".join(exact_sum(f"CASE WHEN n >= {i} THEN share[{i}] END") for i in positions)
        weighted = ", ".join(
            exact_sum(f"CASE WHEN n >= {i} THEN share[{i}] * revenue END") for i in positions
        )
        shares = f"list_slice([{listed or 'NULL'}], 1, max(n))"
        revenues = f"list_slice([{weighted or 'NULL'}], 1, max(n))"
        factors = f"list_transform({DAYS_BEFORE_END}, lambda d: {decay_sql('d', decay)})"
    return con.sql(
        f"""
        WITH decayed AS (
            SELECT snapshot_date, CAST(journey_end AS DATE) AS journey_day, converted, path,
                   revenue, len(path) AS n, {factors} AS factors
            FROM source
        ),
        shared AS (  -- each touch's share of its journey's decay weight
            SELECT *, list_transform(factors, lambda f: f / list_sum(factors)) AS share
            FROM decayed
        )
        SELECT snapshot_date, journey_day, converted, path, count(*) AS journeys,
               {exact_sum("revenue")} AS revenue,
               CAST({shares} AS DOUBLE[]) AS decay_shares,
               CAST({revenues} AS DOUBLE[]) AS decay_revenue
        FROM shared
        GROUP BY snapshot_date, journey_day, converted, path
        """
    )


def compute_path_conversions(
    con: Any,
    journeys: Any,
    dates: Sequence[dt.date],
    journeys_config: JourneysConfig,
    attribution: AttributionConfig,
    earlier: Any | None = None,
) -> Any:
    """One row per snapshot date, conversion day of its window (the last window_days days)
    and path: the conversions, their revenue and time-decay shares by position.

    `journeys` are conversion_journeys of the run's dates (each date's conversions are those
    of its own day), or, without `earlier` rows, of every day of the run's windows."""
    window = int(journeys_config.window_days)
    first = min(dates)
    converted = reported_journeys(  # the conversions of each date's own day
        journeys.filter("converted AND CAST(journey_end AS DATE) = snapshot_date"),
        journeys_config,
    )
    fresh = count_paths(con, converted, attribution)  # noqa: F841 - referenced by name below
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    previous = day_before(earlier, first)
    carried = (  # noqa: F841 - referenced by name in the SQL below
        previous.filter(f"journey_day > DATE '{first}' - {window}")
        if previous is not None
        else fresh.filter("false")
    )
    return con.sql(
        f"""
        WITH counted AS (
            SELECT journey_day, path, journeys, revenue, decay_shares, decay_revenue
            FROM carried
            UNION ALL
            SELECT journey_day, path, journeys, revenue, decay_shares, decay_revenue
            FROM fresh
        )
        SELECT d.snapshot_date, c.journey_day, c.path, CAST(c.journeys AS BIGINT) AS journeys,
               c.revenue, c.decay_shares, c.decay_revenue
        FROM run_dates d JOIN counted c
          ON c.journey_day > d.snapshot_date - {window} AND c.journey_day <= d.snapshot_date
        """  # unsorted: the lake sorts each partition as it writes it (the stage's row_order)
    )


def window_paths(con: Any, journeys: Any, path_conversions: Any, config: JourneysConfig) -> Any:
    """Each date's reported journeys counted by path (COUNTED_COLUMNS): the conversions of
    its window (path_conversions) and its not-converted journeys (conversion_journeys)."""
    converted = path_conversions  # noqa: F841 - referenced by name in the SQL below
    not_converted = count_paths(  # noqa: F841 - referenced by name in the SQL below
        con, reported_journeys(journeys.filter("NOT converted"), config), None
    )
    return con.sql(
        f"""
        SELECT snapshot_date, journey_day, true AS converted, path, journeys, revenue,
               decay_shares, decay_revenue
        FROM converted
        UNION ALL
        SELECT {COUNTED_COLUMNS} FROM not_converted
        """
    )
