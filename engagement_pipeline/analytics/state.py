"""Incremental per-customer state: snapshot D from the state of D-1, day D's rows and window exits.

Every snapshot asset that describes customers "as of the end of D" is a fold over history:
cumulative figures (counts, sums, first and last dates) only grow, and window figures
(the LTV lookback, the engagement window) also lose the rows that leave the window. So a
snapshot is computed from

- the previous date's state (one row per customer, the asset's own output of D-1),
- signed *deltas*: one row per customer and effective date: the day's rows entering (+),
  and the rows leaving a window on the date they leave it (-),

by a running aggregate per customer over the deltas in date order, read off at every
snapshot date of the run (an ASOF join). A range of N dates is one pass, linear in N;
without a previous state the same fold over all history is the full computation, which
is what the tests compare the incremental result with.

See docs/architecture.md ("Incremental snapshots") for how an asset declares its state.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.sql import quote_ident

# How the deltas of one column combine: sums add (exits carry negative values), min and
# max keep the earliest/latest value (struct values compare field by field, so
# min({day, amount}) is the amount of the earliest day).
Combine = str  # "sum" | "min" | "max"


@dataclass(frozen=True)
class StateSpec:
    """An asset's per-customer state: each state column and how its deltas combine."""

    columns: Mapping[str, Combine]


def fold_state(
    con: duckdb.DuckDBPyConnection,
    spec: StateSpec,
    deltas: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    previous: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """(snapshot_date, customer_id, state columns) for every date and every customer known by it.

    `deltas` has customer_id, effective_date and the state columns (NULL where a delta does
    not touch a column); rows dated after the last date, or (with `previous`) before the
    first, are ignored. `previous` is the
    state as of the day before the first date (customer_id and the state columns).
    """
    first, last = min(dates), max(dates)
    dates_rel = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    cols = list(spec.columns)
    select = ", ".join(quote_ident(c) for c in cols)
    # Deltas dated before the run are already in the previous state.
    lower = f"effective_date >= DATE '{first.isoformat()}' AND " if previous is not None else ""
    deltas_in = deltas.filter(  # noqa: F841 - referenced by name in the SQL below
        f"{lower}effective_date <= DATE '{last.isoformat()}'"
    )
    start_rows = ""
    if previous is not None:
        previous_in = previous  # noqa: F841 - referenced by name in the SQL below
        start_rows = (
            f"SELECT customer_id, DATE '{(first - dt.timedelta(days=1)).isoformat()}' "
            f"AS effective_date, {select} FROM previous_in UNION ALL "
        )
    per_day = ", ".join(
        f"{how}({quote_ident(c)}) AS {quote_ident(c)}" for c, how in spec.columns.items()
    )
    running = ", ".join(
        f"{how}({quote_ident(c)}) OVER running AS {quote_ident(c)}"
        for c, how in spec.columns.items()
    )
    return con.sql(
        f"""
        WITH rows AS (
            {start_rows}SELECT customer_id, effective_date, {select} FROM deltas_in
        ),
        per_day AS (
            SELECT customer_id, effective_date, {per_day} FROM rows GROUP BY ALL
        ),
        folded AS (
            SELECT customer_id, effective_date, {running} FROM per_day
            WINDOW running AS (PARTITION BY customer_id ORDER BY effective_date
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ),
        known AS (
            SELECT customer_id, min(effective_date) AS since FROM per_day GROUP BY 1
        ),
        grid AS (
            SELECT d.snapshot_date, k.customer_id
            FROM known k JOIN dates_rel d ON d.snapshot_date >= k.since
        )
        SELECT g.snapshot_date, g.customer_id, {", ".join(f"f.{quote_ident(c)}" for c in cols)}
        FROM grid g ASOF JOIN folded f
          ON f.customer_id = g.customer_id AND g.snapshot_date >= f.effective_date
        """
    )


def earlier_rows(
    rows: duckdb.DuckDBPyRelation, exits: duckdb.DuckDBPyRelation | None, first: dt.date
) -> duckdb.DuckDBPyRelation:
    """The raw rows whose window exits can fall in a run starting on `first`: the run's own
    rows, plus the rows of `exits` (earlier raw days) dated before `first`."""
    if exits is None:
        return rows
    earlier = exits.filter(f"snapshot_date < DATE '{first.isoformat()}'")
    return rows.union(earlier.project(", ".join(quote_ident(c) for c in rows.columns)))


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's last day (as DuckDB's date + INTERVAL)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_exit_offsets(months: int) -> tuple[int, int]:
    """The fewest and most days between a row's day and the day it leaves a window of
    `months` calendar months (the row leaves on its day + months); over a whole 4-year
    leap cycle, so every calendar case is seen. Used for the exits' partition mapping."""
    start = dt.date(2000, 1, 1)
    gaps = {
        (add_months(start + dt.timedelta(days=i), months) - (start + dt.timedelta(days=i))).days
        for i in range(1461)
    }
    return min(gaps), max(gaps)
