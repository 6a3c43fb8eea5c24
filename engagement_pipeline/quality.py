"""Data contracts: checks over one asset's partitions, as plain functions returning outcomes.

Every check is computed per snapshot date (never over the whole history); an outcome
passes when every date in the relation passes, and its metadata carries the numbers
behind it, with the failing dates listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from engagement_pipeline.ingestion.events import EVENT_SCHEMA
from engagement_pipeline.ingestion.purchases import PURCHASE_SCHEMA
from engagement_pipeline.ingestion.validation import REASON_CODES
from engagement_pipeline.models import SegmentTier, TouchpointType
from engagement_pipeline.sql import quote_ident, quote_literal

TOUCHPOINT_SET = "(" + ", ".join(quote_literal(t.value) for t in TouchpointType) + ")"
SEGMENT_SET = "(" + ", ".join(quote_literal(t.value) for t in SegmentTier) + ")"


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check: whether it passed, a sentence, and the numbers behind it."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _per_date(rel: duckdb.DuckDBPyRelation, bad_condition: str, what: str) -> CheckOutcome:
    """Count rows matching `bad_condition` per snapshot date; pass when there are none."""
    rel.create_view("_check_input", replace=True)
    rows = rel.query(
        "_check_input",
        f"SELECT CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, count(*) AS n, "
        f"count(*) FILTER (WHERE {bad_condition}) AS bad "
        "FROM _check_input GROUP BY 1 ORDER BY 1",
    ).fetchall()
    bad_dates = [d for d, _, bad in rows if bad]
    total_bad = sum(bad for _, _, bad in rows)
    metadata = {
        "rows_checked": int(sum(n for _, n, _ in rows)),
        "rows_failing": int(total_bad),
        "dates_checked": len(rows),
        "dates_failing": ", ".join(bad_dates[:20]) or "none",
    }
    if total_bad:
        return CheckOutcome(
            False, f"{total_bad} rows {what} (dates: {', '.join(bad_dates[:5])})", metadata
        )
    return CheckOutcome(True, f"no row {what}", metadata)


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


def not_null_check(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> CheckOutcome:
    condition = " OR ".join(f"{quote_ident(c)} IS NULL" for c in columns)
    return _per_date(rel, condition, f"with a null key ({', '.join(columns)})")


def unique_check(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> CheckOutcome:
    """No two rows of one snapshot date share the key."""
    keys = ", ".join(quote_ident(c) for c in columns)
    condition = f"count(*) OVER (PARTITION BY snapshot_date, {keys}) > 1"
    rel.create_view("_check_unique", replace=True)
    flagged = rel.query("_check_unique", f"SELECT *, {condition} AS _dup FROM _check_unique")
    return _per_date(flagged, "_dup", f"sharing their {keys} with another row of the same date")


def in_partition_day_check(rel: duckdb.DuckDBPyRelation, timestamp: str) -> CheckOutcome:
    return _per_date(
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
) -> CheckOutcome:
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
    return _per_date(rel, " OR ".join(f"({p})" for p in parts), f"with {column} outside {bounds}")


def positive_check(
    rel: duckdb.DuckDBPyRelation, column: str, allow_zero: bool = False
) -> CheckOutcome:
    col = quote_ident(column)
    op, what = (">=", "negative") if allow_zero else (">", "not positive")
    return _per_date(
        rel, f"NOT ({col} {op} 0) OR {col} IS NULL OR isnan({col})", f"with {column} {what}"
    )


def membership_check(
    rel: duckdb.DuckDBPyRelation, column: str, values_sql: str, label: str
) -> CheckOutcome:
    col = quote_ident(column)
    return _per_date(
        rel, f"{col} IS NULL OR {col} NOT IN {values_sql}", f"with a {column} outside the {label}"
    )


def row_count_check(
    counts: dict[str, int],
    trailing: dict[str, int],
    low_ratio: float = 0.5,
    high_ratio: float = 2.0,
    min_history: int = 7,
) -> CheckOutcome:
    """Each date's row count against the mean of the trailing dates before it (a warning)."""
    history = [trailing[d] for d in sorted(trailing)]
    if len(history) < min_history:
        return CheckOutcome(
            True,
            f"only {len(history)} earlier days to compare with",
            {"trailing_days": len(history)},
        )
    mean = sum(history) / len(history)
    odd = {
        d: n
        for d, n in counts.items()
        if mean > 0 and not (low_ratio * mean <= n <= high_ratio * mean)
    }
    metadata = {
        "trailing_mean": round(mean, 1),
        "trailing_days": len(history),
        **{f"rows/{d}": n for d, n in counts.items()},
    }
    if odd:
        worst = ", ".join(f"{d}: {n} rows" for d, n in sorted(odd.items())[:5])
        return CheckOutcome(
            False, f"row count far from the trailing mean {mean:.0f} ({worst})", metadata
        )
    return CheckOutcome(
        True,
        f"row counts within {low_ratio}x..{high_ratio}x of the trailing mean {mean:.0f}",
        metadata,
    )


def quarantine_share_check(
    read: dict[str, int],
    quarantined: dict[str, int],
    max_share: float,
    trailing_share: float | None = None,
    jump: float = 2.0,
) -> CheckOutcome:
    """A warning when a date's quarantined share is both above max_share and sudden: more
    than `jump` times the trailing share (any share above max_share without history)."""
    shares = {d: (quarantined.get(d, 0) / n if n else 0.0) for d, n in read.items()}
    limit = max_share if trailing_share is None else max(max_share, jump * trailing_share)
    high = {d: s for d, s in shares.items() if s > limit}
    metadata = {
        "max_share": max_share,
        "trailing_share": round(trailing_share, 4) if trailing_share is not None else "no history",
        "rows_read": sum(read.values()),
        "rows_quarantined": sum(quarantined.values()),
        "highest_share": round(max(shares.values(), default=0.0), 4),
    }
    if high:
        worst = ", ".join(f"{d}: {s:.1%}" for d, s in sorted(high.items())[:5])
        return CheckOutcome(
            False, f"quarantined share jumped above {limit:.1%} ({worst})", metadata
        )
    return CheckOutcome(
        True,
        f"quarantined share at most {metadata['highest_share']:.1%} (limit {limit:.1%})",
        metadata,
    )


# -- contracts of each asset: name -> outcome (names match defs/checks.py) ------------------


def raw_event_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, CheckOutcome]:
    return {
        "schema": schema_check(rel, EVENT_SCHEMA),
        "keys_not_null": not_null_check(
            rel, ["event_id", "customer_id", "touchpoint", "event_timestamp"]
        ),
        "unique_event_ids": unique_check(rel, ["event_id"]),
        "timestamps_in_partition": in_partition_day_check(rel, "event_timestamp"),
        "known_touchpoints": membership_check(
            rel, "touchpoint", TOUCHPOINT_SET, "seven touchpoints"
        ),
        "scores_in_unit_interval": range_check(rel, "engagement_score", 0.0, 1.0),
    }


def raw_purchase_outcomes(
    rel: duckdb.DuckDBPyRelation, allow_zero_amounts: bool = False
) -> dict[str, CheckOutcome]:
    """allow_zero_amounts follows purchase_data: free orders loaded are not a violation."""
    return {
        "schema": schema_check(rel, PURCHASE_SCHEMA),
        "keys_not_null": not_null_check(
            rel, ["order_id", "customer_id", "purchase_timestamp", "amount"]
        ),
        "unique_order_ids": unique_check(rel, ["order_id"]),
        "timestamps_in_partition": in_partition_day_check(rel, "purchase_timestamp"),
        "positive_amounts": positive_check(rel, "amount", allow_zero_amounts),
    }


def customer_ltv_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, CheckOutcome]:
    return {
        "one_row_per_customer": unique_check(rel, ["customer_id"]),
        "non_negative_values": _per_date(
            rel,
            "lifetime_value < 0 OR total_revenue < 0 OR lifetime_value IS NULL OR isnan(lifetime_value)",
            "with a negative or missing lifetime_value or total_revenue",
        ),
    }


def engagement_score_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, CheckOutcome]:
    return {
        "one_row_per_customer": unique_check(rel, ["customer_id"]),
        "scores_in_unit_interval": range_check(rel, "engagement_score", 0.0, 1.0, allow_null=False),
    }


def customer_segment_outcomes(
    segments: duckdb.DuckDBPyRelation, expected_customers: dict[str, int]
) -> dict[str, CheckOutcome]:
    """`expected_customers`: per date, the customers in customer_ltv and engagement_scores."""
    unique = unique_check(segments, ["customer_id"])
    member = membership_check(segments, "segment", SEGMENT_SET, "five segments")
    one = CheckOutcome(
        unique.passed and member.passed,
        unique.description if not unique.passed else member.description,
        {**unique.metadata, "rows_without_a_known_segment": member.metadata["rows_failing"]},
    )
    counts = dict(
        segments.aggregate(
            "CAST(CAST(snapshot_date AS DATE) AS VARCHAR), count(*)", "snapshot_date"
        ).fetchall()
    )
    missing = {
        d: n - counts.get(d, 0) for d, n in expected_customers.items() if counts.get(d, 0) != n
    }
    covers = CheckOutcome(
        not missing,
        f"segment counts differ from the customers on {', '.join(sorted(missing)[:5])}"
        if missing
        else f"all {sum(expected_customers.values())} customer rows segmented",
        {
            "customers_expected": sum(expected_customers.values()),
            "customers_segmented": sum(counts.values()),
        },
    )
    return {"one_segment_per_customer": one, "covers_every_customer": covers}


def segment_strategy_outcomes(
    strategies: duckdb.DuckDBPyRelation, customers: dict[str, int]
) -> dict[str, CheckOutcome]:
    rows = strategies.aggregate(
        "CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, count(DISTINCT segment) AS segments, sum(customer_count) AS n",
        "snapshot_date",
    ).fetchall()
    bad = [d for d, segs, n in rows if segs != len(SegmentTier) or n != customers.get(d, 0)]
    return {
        "five_segments_adding_up": CheckOutcome(
            not bad and len(rows) == len(customers),
            f"segments missing or counts not adding up on {', '.join(bad[:5])}"
            if bad
            else f"five segments on each of {len(rows)} dates, adding up to the customers",
            {"dates_checked": len(rows), "dates_failing": ", ".join(bad[:20]) or "none"},
        )
    }


REPORT_SECTIONS = ("## Overview", "## Segments", "## Recommended strategies")


def report_outcome(
    markdown_paths: list[str], json_paths: list[str], totals: dict[str, int]
) -> CheckOutcome:
    """The written reports exist, parse, hold every section and agree with the segments."""
    import json
    from pathlib import Path

    problems = []
    for md, js, (date, total) in zip(
        markdown_paths, json_paths, sorted(totals.items()), strict=True
    ):
        md_text = Path(md).read_text(encoding="utf-8") if Path(md).is_file() else ""
        missing = [s for s in REPORT_SECTIONS if s not in md_text]
        if missing:
            problems.append(f"{date}: Markdown lacks {', '.join(missing)}")
        try:
            doc = json.loads(Path(js).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append(f"{date}: JSON missing or unreadable")
            continue
        if doc.get("total_customers") != total or len(doc.get("segment_analyses", [])) != len(
            SegmentTier
        ):
            problems.append(f"{date}: JSON totals or segments incomplete")
    return CheckOutcome(
        not problems,
        "; ".join(problems[:5]) if problems else f"{len(markdown_paths)} complete report(s)",
        {"reports_checked": len(markdown_paths), "reports_failing": len(problems)},
    )


def quarantine_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, CheckOutcome]:
    """Every quarantined row says where it came from and why, with a known reason code."""
    codes = "(" + ", ".join(quote_literal(c) for c in sorted(REASON_CODES)) + ")"
    return {
        "explained_rows": _per_date(
            rel,
            f"source_file IS NULL OR source_row IS NULL OR reason IS NULL OR reason NOT IN {codes}",
            "without a source file, row or known reason code",
        )
    }


def clv_parameter_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, CheckOutcome]:
    """Converged fits have positive, finite parameters and log-likelihoods."""
    return {
        "valid_parameters": _per_date(
            rel,
            "converged AND (NOT (value > 0) OR isinf(value) OR isnan(log_likelihood) OR log_likelihood > 0)",
            "of a converged fit with a parameter that is not positive and finite",
        )
    }
