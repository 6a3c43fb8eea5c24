"""Data contracts: checks over one asset's partitions, as plain functions returning outcomes.

Every check is computed per snapshot date (never over the whole history); an outcome
passes when every date in the relation passes, and its metadata carries the numbers
behind it, with the failing dates listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb

from engagement_pipeline.sql import quote_ident, values_sql
from engagement_pipeline.vocabulary import SegmentTier, TouchpointType

TOUCHPOINT_SET = values_sql(t.value for t in TouchpointType)
SEGMENT_SET = values_sql(t.value for t in SegmentTier)


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check: whether it passed, a sentence, and the numbers behind it."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


DateOutcomes = dict[str, CheckOutcome]  # snapshot date (YYYY-MM-DD) -> its outcome


def _failing_rows(rows: list[tuple[str, int, int]], what: str) -> DateOutcomes:
    """Outcomes from (date, rows, failing rows): a date passes with no failing row."""
    return {
        d: CheckOutcome(
            not bad,
            f"{bad} of {n} rows {what}" if bad else f"no row {what}",
            {"rows_checked": int(n), "rows_failing": int(bad)},
        )
        for d, n, bad in rows
    }


def per_date(rel: duckdb.DuckDBPyRelation, bad_condition: str, what: str) -> DateOutcomes:
    """Count rows matching `bad_condition` on each snapshot date; a date passes with none."""
    rel.create_view("_check_input", replace=True)
    rows = rel.query(
        "_check_input",
        f"SELECT CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, count(*) AS n, "
        f"count(*) FILTER (WHERE {bad_condition}) AS bad "
        "FROM _check_input GROUP BY 1 ORDER BY 1",
    ).fetchall()
    return _failing_rows(rows, what)


def schema_check(rel: duckdb.DuckDBPyRelation, expected: dict[str, str]) -> CheckOutcome:
    """Every expected column is present with the expected DuckDB type."""
    actual = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
    missing = [c for c in expected if c not in actual]
    wrong = [
        f"{c}: {actual[c]} (expected {t})"
        for c, t in expected.items()
        if c in actual and actual[c] != t
    ]
    metadata = {"columns": ", ".join(f"{c} {t}" for c, t in actual.items())}
    if missing or wrong:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + wrong
        return CheckOutcome(False, "; ".join(problems), metadata)
    return CheckOutcome(True, f"all {len(expected)} columns present with their types", metadata)


def not_null_check(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> DateOutcomes:
    condition = " OR ".join(f"{quote_ident(c)} IS NULL" for c in columns)
    return per_date(rel, condition, f"with a null key ({', '.join(columns)})")


def unique_check(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> DateOutcomes:
    """No two rows of one snapshot date share the key."""
    keys = ", ".join(quote_ident(c) for c in columns)
    what = f"sharing their {keys} with another row of the same date"
    rel.create_view("_check_unique", replace=True)
    # one aggregate per key, then the keys held by more than one row: half the cost of a
    # count over a window partitioned by the key
    rows = rel.query(
        "_check_unique",
        f"""
        WITH per_key AS (
            SELECT CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, count(*) AS k
            FROM _check_unique GROUP BY snapshot_date, {keys}
        )
        SELECT d, sum(k), coalesce(sum(k) FILTER (WHERE k > 1), 0) FROM per_key
        GROUP BY d ORDER BY d
        """,
    ).fetchall()
    return _failing_rows(rows, what)


def in_partition_day_check(rel: duckdb.DuckDBPyRelation, timestamp: str) -> DateOutcomes:
    return per_date(
        rel,
        f"CAST({quote_ident(timestamp)} AS DATE) <> snapshot_date",
        "with a timestamp outside its partition's day",
    )


def range_check(
    rel: duckdb.DuckDBPyRelation,
    column: str,
    low: float | None,
    high: float | None,
    allow_null: bool = True,
) -> DateOutcomes:
    col = quote_ident(column)
    parts = []
    if low is not None:
        parts.append(f"{col} < {float(low)!r}")
    if high is not None:
        parts.append(f"{col} > {float(high)!r}")
    parts.append(f"isnan({col})")
    if not allow_null:
        parts.append(f"{col} IS NULL")
    bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
    return per_date(rel, " OR ".join(f"({p})" for p in parts), f"with {column} outside {bounds}")


def positive_check(
    rel: duckdb.DuckDBPyRelation, column: str, allow_zero: bool = False
) -> DateOutcomes:
    col = quote_ident(column)
    op, what = (">=", "negative") if allow_zero else (">", "not positive")
    return per_date(
        rel, f"NOT ({col} {op} 0) OR {col} IS NULL OR isnan({col})", f"with {column} {what}"
    )


def membership_check(
    rel: duckdb.DuckDBPyRelation, column: str, values_sql: str, label: str
) -> DateOutcomes:
    col = quote_ident(column)
    return per_date(
        rel, f"{col} IS NULL OR {col} NOT IN {values_sql}", f"with a {column} outside the {label}"
    )


def first_failure(*outcomes: DateOutcomes) -> DateOutcomes:
    """Several checks reported as one: per date, the first that failed, else the last."""
    dates = sorted({d for o in outcomes for d in o})
    return {
        d: next(
            (o[d] for o in outcomes if d in o and not o[d].passed),
            outcomes[-1].get(d) or CheckOutcome(True, "no rows on this date"),
        )
        for d in dates
    }


def coverage_check(
    con: duckdb.DuckDBPyConnection,
    actual: duckdb.DuckDBPyRelation,
    expected: duckdb.DuckDBPyRelation,
    noun: str,
) -> DateOutcomes:
    """Per date, as many rows in `actual` as `expected` has (both have snapshot_date)."""
    got_rel, want_rel = actual, expected  # noqa: F841 - referenced by name in the SQL below
    counts = con.sql(
        """
        WITH want AS (SELECT CAST(snapshot_date AS DATE) AS d, count(*) AS n FROM want_rel GROUP BY 1),
             got AS (SELECT CAST(snapshot_date AS DATE) AS d, count(*) AS n FROM got_rel GROUP BY 1)
        SELECT CAST(d AS VARCHAR), coalesce(want.n, 0), coalesce(got.n, 0)
        FROM want FULL JOIN got USING (d)
        """
    ).fetchall()
    return {
        d: CheckOutcome(
            want == got,
            f"all {got} {noun}" if want == got else f"{got} {noun} of {want}",
            {"customers_expected": int(want), "customers_covered": int(got)},
        )
        for d, want, got in counts
    }


def trailing_values(values: dict[str, float], day: str, days: int) -> list[float]:
    """The values of the `days` dates before `day` that have one, oldest first."""
    first = dt.date.fromisoformat(day)
    keys = [(first - dt.timedelta(days=i)).isoformat() for i in range(days, 0, -1)]
    return [values[k] for k in keys if k in values]


def row_count_check(
    counts: dict[str, int],
    history: dict[str, int],
    trailing_days: int = 28,
    low_ratio: float = 0.5,
    high_ratio: float = 2.0,
    min_history: int = 7,
) -> DateOutcomes:
    """Each date's row count against the mean of the trailing dates before it (a warning).

    `history` has the row counts of earlier dates (the run's own dates included, so a
    range compares each date with the days before it, inside the run or not)."""
    known = {**history, **counts}
    outcomes = {}
    for day, n in counts.items():  # one per snapshot date of the run
        earlier = trailing_values(known, day, trailing_days)
        if len(earlier) < min_history:
            outcomes[day] = CheckOutcome(
                True, f"only {len(earlier)} earlier days to compare with", {"rows": n}
            )
            continue
        mean = sum(earlier) / len(earlier)
        ok = mean == 0 or low_ratio * mean <= n <= high_ratio * mean
        outcomes[day] = CheckOutcome(
            ok,
            f"{n} rows, within {low_ratio}x..{high_ratio}x of the trailing mean {mean:.0f}"
            if ok
            else f"{n} rows, far from the trailing mean {mean:.0f}",
            {"rows": n, "trailing_mean": round(mean, 1), "trailing_days": len(earlier)},
        )
    return outcomes


def quarantine_share_check(
    read: dict[str, int],
    quarantined: dict[str, int],
    history: dict[str, tuple[int, int]],
    max_share: float,
    trailing_days: int = 28,
    jump: float = 2.0,
) -> DateOutcomes:
    """A warning when a date's quarantined share is both above max_share and sudden: more
    than `jump` times the trailing share (any share above max_share without history).

    `history` has (rows read, rows quarantined) of earlier dates."""
    known = {**history, **{d: (n, quarantined.get(d, 0)) for d, n in read.items()}}
    reads = {d: float(r) for d, (r, _) in known.items()}
    rejects = {d: float(q) for d, (_, q) in known.items()}
    outcomes = {}
    for day, n in read.items():  # one per snapshot date of the run
        share = quarantined.get(day, 0) / n if n else 0.0
        earlier_read = sum(trailing_values(reads, day, trailing_days))
        trailing = (
            sum(trailing_values(rejects, day, trailing_days)) / earlier_read
            if earlier_read
            else None
        )
        limit = max_share if trailing is None else max(max_share, jump * trailing)
        metadata = {
            "rows_read": n,
            "rows_quarantined": quarantined.get(day, 0),
            "share": round(share, 4),
            "limit": round(limit, 4),
            "trailing_share": round(trailing, 4) if trailing is not None else "no history",
        }
        outcomes[day] = CheckOutcome(
            share <= limit,
            f"quarantined share {share:.1%} (limit {limit:.1%})"
            if share <= limit
            else f"quarantined share jumped to {share:.1%}, above {limit:.1%}",
            metadata,
        )
    return outcomes
