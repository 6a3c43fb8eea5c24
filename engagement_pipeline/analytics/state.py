"""Incremental per-customer state: snapshot D from the asset's own earlier rows and day D's rows.

Every snapshot asset that describes customers "as of the end of D" is a fold over history:
cumulative figures (counts, sums, first and last dates) only grow. So a snapshot is

- the previous date's state (the asset's own rows of D-1),
- plus *deltas*: one row per customer and day with that day's raw rows aggregated,

folded by a running aggregate per customer in date order and read off at every snapshot
date of the run (an ASOF join). A window figure (the LTV lookback, the engagement window)
is the cumulative figure at D minus the same figure on the day before the window starts,
which is again the asset's own row of an earlier date: no raw row is read twice. A range
of N dates is one pass, linear in N; without earlier rows the same fold over all history
is the full computation, which the tests compare the incremental result with.

See docs/architecture.md ("Incremental snapshots") for how an asset declares its state.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.sql import quote_ident

# How the deltas of one column combine: sums add (exits carry negative values), min and
# max keep the earliest/latest value (struct values compare field by field, so
# min({day, amount}) is the amount of the earliest day).
Combine = str  # "sum" | "min" | "max"


@dataclass(frozen=True)
class StateSpec:
    """An asset's per-customer state: each state column and how its deltas combine.

    `reached` adds milestone dates: name -> (a summed state column, n), the first date
    on which that running total reached n (e.g. the day of the second purchase). A
    milestone is state too (the previous state carries it); deltas leave it out.
    """

    columns: Mapping[str, Combine]
    reached: Mapping[str, tuple[str, int]] = field(default_factory=dict)


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
    cols = [*spec.columns, *spec.reached]
    select = ", ".join(quote_ident(c) for c in cols)
    # deltas carry no milestone: it is derived from the running totals below
    delta_select = ", ".join(
        [
            *(quote_ident(c) for c in spec.columns),
            *(f"NULL::DATE AS {quote_ident(c)}" for c in spec.reached),
        ]
    )
    combine = {**spec.columns, **dict.fromkeys(spec.reached, "min")}
    # Deltas dated before the run are already in the previous state.
    lower = f"effective_date >= DATE '{first.isoformat()}' AND " if previous is not None else ""
    deltas_in = deltas.filter(  # noqa: F841 - referenced by name in the SQL below
        f"{lower}effective_date <= DATE '{last.isoformat()}'"
    )
    if previous is not None and first == last:  # a daily run: no running aggregate needed
        return _fold_one_day(con, spec, previous, deltas_in, first)
    start_rows = ""
    if previous is not None:
        previous_in = previous  # noqa: F841 - referenced by name in the SQL below
        start_rows = (
            f"SELECT customer_id, DATE '{(first - dt.timedelta(days=1)).isoformat()}' "
            f"AS effective_date, {select} FROM previous_in UNION ALL "
        )
    per_day = ", ".join(
        f"{how}({quote_ident(c)}) AS {quote_ident(c)}" for c, how in combine.items()
    )
    running = ", ".join(
        f"{how}({quote_ident(c)}) OVER running AS {quote_ident(c)}" for c, how in combine.items()
    )
    # A milestone is the earlier of the carried date (reached before the run) and the first
    # day the running total is at least n; when it was reached before the run, the carried
    # date is the earlier one (the start row's own day comes after it).
    milestones = "".join(
        f", least({quote_ident(m)}, min(CASE WHEN {quote_ident(total)} >= {int(n)} "
        f"THEN effective_date END) OVER running) AS {quote_ident(m)}"
        for m, (total, n) in spec.reached.items()
    )
    plain = ", ".join(quote_ident(c) for c in spec.columns)
    return con.sql(
        f"""
        WITH rows AS (
            {start_rows}SELECT customer_id, effective_date, {delta_select} FROM deltas_in
        ),
        per_day AS (
            SELECT customer_id, effective_date, {per_day} FROM rows GROUP BY ALL
        ),
        totals AS (
            SELECT customer_id, effective_date, {running} FROM per_day
            WINDOW running AS (PARTITION BY customer_id ORDER BY effective_date
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ),
        folded AS (
            SELECT customer_id, effective_date, {plain}{milestones} FROM totals
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


def _combined_sql(how: Combine, before: str, day: str) -> str:
    """SQL: a state column after the day: the previous value combined with the day's (NULL
    where either has none, as the aggregate would ignore it)."""
    if how == "sum":
        return f"coalesce({before} + {day}, {before}, {day})"
    return f"{'least' if how == 'min' else 'greatest'}({before}, {day})"  # both skip NULLs


def _fold_one_day(
    con: duckdb.DuckDBPyConnection,
    spec: StateSpec,
    previous: duckdb.DuckDBPyRelation,
    deltas: duckdb.DuckDBPyRelation,
    day: dt.date,
) -> duckdb.DuckDBPyRelation:
    """A daily run's fold: the previous state joined with the day's deltas per customer.

    The same rows as aggregating the state rows and the deltas together, and the same types
    (a sum of integers is HUGEINT there, so each sum is cast to the aggregate's type),
    but the join's hash table holds only the day's active customers where the aggregate's
    holds every customer: a third of a daily run's fold at 1,000,000 customers.
    """
    state, today = previous, deltas  # noqa: F841 - referenced by name in the SQL below
    sums = [c for c, how in spec.columns.items() if how == "sum"]
    # a sum's type, from binding the aggregate over both (nothing runs); least and greatest
    # keep their arguments' type, as min and max do
    bound = (
        con.sql(
            f"SELECT {', '.join(f'sum({quote_ident(c)})' for c in sums)} FROM "
            f"(SELECT {', '.join(quote_ident(c) for c in sums)} FROM state UNION ALL "
            f"SELECT {', '.join(quote_ident(c) for c in sums)} FROM today)"
        ).types
        if sums
        else []
    )
    types = dict(zip(sums, bound, strict=True))
    per_customer = ", ".join(
        f"{how}({quote_ident(c)}) AS {quote_ident(c)}" for c, how in spec.columns.items()
    )
    columns = []
    for c, how in spec.columns.items():
        after = _combined_sql(how, f"p.{quote_ident(c)}", f"d.{quote_ident(c)}")
        columns.append(f"CAST({after} AS {types[c]})" if c in types else after)
    day_before = (day - dt.timedelta(days=1)).isoformat()
    for m, (total, n) in spec.reached.items():
        after = _combined_sql(
            spec.columns[total], f"p.{quote_ident(total)}", f"d.{quote_ident(total)}"
        )
        columns.append(
            f"least(p.{quote_ident(m)}, CASE WHEN p.{quote_ident(total)} >= {int(n)} "
            f"THEN DATE '{day_before}' WHEN {after} >= {int(n)} THEN DATE '{day.isoformat()}' "
            f"END)"
        )
    names = [*spec.columns, *spec.reached]
    columns = [f"{sql} AS {quote_ident(name)}" for sql, name in zip(columns, names, strict=True)]
    return con.sql(
        f"""
        WITH d AS (SELECT customer_id, {per_customer} FROM today GROUP BY customer_id)
        SELECT DATE '{day.isoformat()}' AS snapshot_date,
               coalesce(p.customer_id, d.customer_id) AS customer_id, {", ".join(columns)}
        FROM state p FULL OUTER JOIN d ON d.customer_id = p.customer_id
        """
    )


def day_before(
    earlier: duckdb.DuckDBPyRelation | None, first: dt.date
) -> duckdb.DuckDBPyRelation | None:
    """The asset's own rows of the day before a run's first date: the state it starts from."""
    if earlier is None:
        return None
    return earlier.filter(f"snapshot_date = DATE '{(first - dt.timedelta(days=1)).isoformat()}'")


def fold_dates(
    dates: Sequence[dt.date], window_starts: Sequence[dt.date], incremental: bool
) -> list[dt.date]:
    """The dates to read the fold off at: the run's dates, and the days before its windows
    start that the run must compute itself (all of them without earlier rows; with them,
    those on or after the run's first date)."""
    first = min(dates)
    return sorted({*dates, *(d for d in window_starts if not incremental or d >= first)})


def window_start_rows(
    con: duckdb.DuckDBPyConnection,
    earlier: duckdb.DuckDBPyRelation | None,
    folded: duckdb.DuckDBPyRelation,
    columns: Sequence[str],
    first: dt.date,
    starts_on: Sequence[dt.date],
) -> duckdb.DuckDBPyRelation:
    """Cumulative columns on the days the run's windows start from (`starts_on`): the
    asset's own earlier rows (before the run) and the rows the run computes. A window's
    figures are the cumulative figures at its end minus those on the day before it starts.

    Only those days of the earlier rows are read (a filter on the partition column skips
    the other files): a 12-month window reads one earlier day per date, not a year."""
    cols = ", ".join(["snapshot_date", "customer_id", *map(quote_ident, columns)])
    run = folded.project(cols)
    if earlier is None:  # the fold covered every start day itself
        return run
    before_run = sorted({d for d in starts_on if d < first})
    if not before_run:
        return run
    days = ", ".join(f"DATE '{d.isoformat()}'" for d in before_run)
    from_earlier = earlier.filter(f"snapshot_date IN ({days})").project(cols)
    # A daily run's windows all start before it: then the fold is not read a second time
    # (each reference to a lazy relation computes it again).
    if all(d < first for d in starts_on):
        return from_earlier
    return from_earlier.union(run)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months (negative: minus), clamped to the month's last day (as DuckDB's date + INTERVAL)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_window_offsets(months: int) -> tuple[int, int]:
    """The fewest and most days between a snapshot date and the day before its window of
    `months` calendar months starts (the window ends on the date, both ends included);
    over a whole 4-year leap cycle, so every calendar case is seen. The asset reads its
    own rows that far back (its partition mapping)."""
    start = dt.date(2000, 1, 1)
    gaps = set()
    for i in range(1461):  # over calendar days of a cycle, not over data
        day = start + dt.timedelta(days=i)
        before_window = add_months(day + dt.timedelta(days=1), -months) - dt.timedelta(days=1)
        gaps.add((day - before_window).days)
    return min(gaps), max(gaps)
