"""Row validation shared by every source: one reason per rejected row, and the day each row belongs to.

Every scanned row ends up in exactly one place: loaded into the raw partition of its day,
or quarantined with a reason code in the quarantine partition of its day. Rows whose
timestamp is missing or unreadable cannot say their day, so they are filed under the day
of the nearest readable row before them in the same file (after them, for the first
rows), which for daily export files is the file's own day.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import duckdb

from engagement_pipeline.config import SnapshotsConfig, SourceConfig
from engagement_pipeline.errors import SourceError
from engagement_pipeline.ingestion.sources import SOURCE_FILE, SOURCE_ROW, SourceScan
from engagement_pipeline.sql import fetch_all, quote_ident, quote_literal

QUARANTINE_COLUMNS = (
    "source_file",
    "source_row",
    "column_name",
    "reason",
    "detail",
    "record",
    "snapshot_date",
)

_tables = itertools.count()


@dataclass(frozen=True)
class Check:
    """A rule a row must pass: `failed` is a SQL condition over the parsed row."""

    reason: str
    column: str
    failed: str


@dataclass(frozen=True)
class Validated:
    """A source's rows for a date range: the loaded ones and the quarantined ones."""

    loaded: duckdb.DuckDBPyRelation
    quarantined: duckdb.DuckDBPyRelation


def timestamp_sql(col: str, source: SourceConfig) -> str:
    """SQL that parses a text timestamp column to a UTC TIMESTAMP, or NULL when it cannot."""
    value = f"trim({col})"
    if source.timestamp_format:
        return f"try_strptime({value}, {quote_literal(source.timestamp_format)})"
    # Offsets are honoured and converted to UTC; naive values are taken as UTC.
    return (
        f"coalesce(CAST(try_cast({value} AS TIMESTAMPTZ) AS TIMESTAMP), "
        f"try_strptime({value}, ['%m/%d/%Y %H:%M', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y', '%Y%m%d']))"
    )


def missing_sql(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def timestamp_checks(raw_col: str, parsed_col: str, snapshots: SnapshotsConfig) -> list[Check]:
    """The checks every dated source shares: present, readable, inside the partitions' span."""
    checks = [
        Check("missing_timestamp", raw_col, missing_sql(raw_col)),
        Check("invalid_timestamp", raw_col, f"{parsed_col} IS NULL"),
        Check(
            "before_start_date",
            raw_col,
            f"CAST({parsed_col} AS DATE) < DATE {quote_literal(snapshots.start_date.isoformat())}",
        ),
    ]
    if snapshots.end_date is not None:
        checks.append(
            Check(
                "after_end_date",
                raw_col,
                f"CAST({parsed_col} AS DATE) > DATE {quote_literal(snapshots.end_date.isoformat())}",
            )
        )
    return checks


def classify(
    con: duckdb.DuckDBPyConnection,
    scan: SourceScan,
    parsed_select: str,
    checks: list[Check],
    raw_columns: list[str],
    timestamp_col: str,
    timestamp_raw_col: str,
    snapshots: SnapshotsConfig,
    start: dt.date,
    end: dt.date,
    unique_key: tuple[str, str] | None,
    section: str,
) -> Validated:
    """Validate scanned rows and keep those whose day lies in [start, end].

    `parsed_select` adds parsed columns to the scanned text columns; `checks` are tried in
    order and the first that fails is the row's reason; `unique_key` (column, reason) marks
    every repeat of a key after its first valid occurrence. Rows that repeat another row
    exactly are quarantined as duplicate_row.
    """
    table = f"validated_{next(_tables)}"
    rows = scan.rows  # noqa: F841 - referenced by name in the SQL below
    reason_case = (
        "CASE "
        + " ".join(f"WHEN {c.failed} THEN {quote_literal(c.reason)}" for c in checks)
        + " END"
    )
    column_case = (
        "CASE "
        + " ".join(f"WHEN {c.failed} THEN {quote_literal(c.column)}" for c in checks)
        + " END"
    )
    raw_list = ", ".join(quote_ident(c) for c in raw_columns)
    record = (
        "json_object("
        + ", ".join(f"{quote_literal(c)}, {quote_ident(c)}" for c in raw_columns)
        + ")"
    )
    start_lit = f"DATE {quote_literal(start.isoformat())}"
    end_lit = f"DATE {quote_literal(end.isoformat())}"
    first_lit = f"DATE {quote_literal(snapshots.start_date.isoformat())}"
    last_lit = (
        f"DATE {quote_literal(snapshots.end_date.isoformat())}" if snapshots.end_date else None
    )
    # Rows dated outside the partitions' span are filed under its first or last day.
    bounded = f"least({last_lit}, home_day)" if last_lit else "home_day"
    clamp = f"CASE WHEN home_day IS NOT NULL THEN greatest({first_lit}, {bounded}) END"
    if unique_key is not None:
        key_col, key_reason = unique_key
        dup_rule = (
            f"WHEN _first_reason IS NULL AND row_number() OVER (PARTITION BY _first_reason IS NULL, "
            f"{quote_ident(key_col)} ORDER BY {SOURCE_FILE}, {SOURCE_ROW}) > 1 "
            f"THEN {quote_literal(key_reason)}"
        )
        dup_col = f"WHEN _reason = {quote_literal(key_reason)} THEN {quote_literal(key_col)}"
    else:
        dup_rule = dup_col = ""
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            WITH parsed AS (
                SELECT *, {parsed_select} FROM rows
            ),
            checked AS (
                SELECT *, {reason_case} AS _first_reason, {column_case} AS _first_column,
                       CAST({timestamp_col} AS DATE) AS _day
                FROM parsed
            ),
            deduped AS (
                SELECT *,
                    CASE
                        WHEN _first_reason IS NOT NULL THEN _first_reason
                        WHEN row_number() OVER (
                            PARTITION BY _first_reason IS NULL, {raw_list}
                            ORDER BY {SOURCE_FILE}, {SOURCE_ROW}) > 1 THEN 'duplicate_row'
                        {dup_rule}
                    END AS _reason
                FROM checked
            ),
            homed AS (
                SELECT *,
                    coalesce(
                        _day,
                        last_value(_day IGNORE NULLS) OVER (
                            PARTITION BY {SOURCE_FILE} ORDER BY {SOURCE_ROW}
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                        first_value(_day IGNORE NULLS) OVER (
                            PARTITION BY {SOURCE_FILE} ORDER BY {SOURCE_ROW}
                            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
                    ) AS home_day
                FROM deduped
            )
            SELECT * EXCLUDE (home_day, _first_reason, _first_column),
                   CASE WHEN _reason = 'duplicate_row' THEN NULL
                        {dup_col}
                        ELSE _first_column END AS _column,
                   {clamp} AS snapshot_date
            FROM homed
            WHERE home_day IS NULL OR {clamp} BETWEEN {start_lit} AND {end_lit}
            """
        )
    except duckdb.Error as exc:
        text = str(exc).strip().splitlines()[0]
        raise SourceError(f"{section}: cannot read {', '.join(scan.files[:3])}: {text}.") from None

    undated = fetch_all(
        con,
        f"SELECT {SOURCE_FILE}, {quote_ident(timestamp_raw_col)} "
        f"FROM {table} WHERE snapshot_date IS NULL LIMIT 1",
    )
    if undated:
        undated = undated[0]
        raise SourceError(
            f"{section}: no row of {undated[0]} has a readable timestamp (first value: "
            f"{undated[1]!r}). Check {section}.timestamp_column, or set "
            f"{section}.timestamp_format (e.g. '%d/%m/%Y %H:%M')."
        )

    quarantined = con.sql(
        f"""
        SELECT {SOURCE_FILE} AS source_file, {SOURCE_ROW} AS source_row,
               _column AS column_name, _reason AS reason,
               CASE WHEN _column IS NULL THEN NULL
                    ELSE CAST(json_extract_string({record}, '$.' || _column) AS VARCHAR) END AS detail,
               CAST({record} AS VARCHAR) AS record,
               snapshot_date
        FROM {table}
        WHERE _reason IS NOT NULL
        """
    )
    if scan.malformed is not None:
        quarantined = quarantined.union(
            _malformed_rows(con, scan, table, start_lit, end_lit, clamp)
        )
    loaded = con.sql(f"SELECT * FROM {table} WHERE _reason IS NULL")
    return Validated(loaded=loaded, quarantined=quarantined)


def _malformed_rows(
    con: duckdb.DuckDBPyConnection,
    scan: SourceScan,
    table: str,
    start_lit: str,
    end_lit: str,
    clamp: str,
) -> duckdb.DuckDBPyRelation:
    """CSV lines the parser rejected, filed under the day of the nearest parsed row before them."""
    malformed = scan.malformed  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH days AS (
            SELECT {SOURCE_FILE}, {SOURCE_ROW}, _day FROM {table} WHERE _day IS NOT NULL
        ),
        homed AS (
            SELECT m.*, coalesce(
                (SELECT d._day FROM days d WHERE d.{SOURCE_FILE} = m.{SOURCE_FILE}
                   AND d.{SOURCE_ROW} < m.{SOURCE_ROW} ORDER BY d.{SOURCE_ROW} DESC LIMIT 1),
                (SELECT d._day FROM days d WHERE d.{SOURCE_FILE} = m.{SOURCE_FILE}
                   ORDER BY d.{SOURCE_ROW} LIMIT 1)) AS home_day
            FROM malformed m
        )
        SELECT {SOURCE_FILE} AS source_file, {SOURCE_ROW} AS source_row,
               column_name,
               CASE WHEN error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS') THEN 'wrong_column_count'
                    WHEN error_type = 'INVALID ENCODING' THEN 'invalid_encoding'
                    WHEN error_type = 'UNQUOTED VALUE' OR error_type LIKE '%QUOTE%' THEN 'broken_quoting'
                    ELSE 'malformed_row' END AS reason,
               error_message AS detail,
               csv_line AS record,
               {clamp} AS snapshot_date
        FROM homed
        WHERE home_day IS NULL OR {clamp} BETWEEN {start_lit} AND {end_lit}
        """
    )
