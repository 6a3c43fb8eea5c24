"""Row validation shared by every source: one reason per rejected row, and the day each row belongs to.

Every scanned row ends up in exactly one place: loaded into the raw partition of its day,
or quarantined with a reason code in the quarantine partition of its day. Rows whose
timestamp is missing or unreadable cannot say their day, so they are filed under the
first day of their file (for daily export files, the file's own day); a file in which no
row has a readable timestamp is one clear error instead.
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

# Every reason code a quarantined row can carry (documented in docs/data_quality.md).
REASON_CODES = frozenset(
    {
        "wrong_column_count",
        "broken_quoting",
        "invalid_encoding",
        "malformed_row",
        "missing_customer_id",
        "value_too_long",
        "missing_timestamp",
        "invalid_timestamp",
        "before_start_date",
        "after_end_date",
        "missing_touchpoint",
        "unknown_touchpoint",
        "invalid_engagement_score",
        "duplicate_row",
        "duplicate_event_id",
        "missing_amount",
        "invalid_amount",
        "non_positive_amount",
        "implausible_amount",
        "invalid_quantity",
        "missing_quantity",
        "cancellation",
        "duplicate_order_id",
    }
)


@dataclass(frozen=True)
class Check:
    """A rule a row must pass: `failed` is a SQL condition over the parsed row."""

    reason: str
    column: str
    failed: str


@dataclass(frozen=True)
class SourceRules:
    """What one source adds to the validation every source shares.

    Shared: the id (`_id`, generated as file:row when the source has none) and the parsed
    timestamp (`ts_parsed`), the customer-id, id-length and timestamp checks, exact-repeat
    detection, and filing rows under their day. `parsed` adds parsed columns; `checks` come
    after the shared ones; `output_columns` is the canonical projection of a parsed row.
    """

    timestamp_column: str
    id_column: str
    unique_ids: bool  # quarantine repeats of a source id (not for generated or line ids)
    duplicate_id_reason: str
    parsed: list[str]
    checks: list[Check]
    output_columns: str


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


def row_id_sql(col: str) -> str:
    """The source id, or without one `<file name>:<row>`, which is stable across runs."""
    return (
        f"coalesce(nullif(trim({col}), ''), regexp_extract({SOURCE_FILE}, '[^/\\\\]+$') "
        f"|| ':' || CAST({SOURCE_ROW} AS VARCHAR))"
    )


# Identifiers longer than this are a broken export (a whole line in one field), not an id.
MAX_ID_LENGTH = 256


def too_long_sql(col: str) -> str:
    return f"length({col}) > {MAX_ID_LENGTH}"


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
    source: SourceConfig,
    rules: SourceRules,
    snapshots: SnapshotsConfig,
    start: dt.date,
    end: dt.date,
    section: str,
) -> Validated:
    """Validate scanned rows and keep those whose day lies in [start, end].

    `parsed_select` adds parsed columns to the scanned text columns; `checks` are tried in
    order and the first that fails is the row's reason; `unique_key` (parsed column, source
    column, reason) marks every repeat of a key after its first valid occurrence, wherever
    in the source that is. Rows that repeat another row exactly are duplicate_row.

    Memory follows the rows of [start, end], not the whole source: the source is scanned
    with streaming aggregates and filters, and only the run's rows are kept in a table,
    with just `output_columns` (the canonical projection of a parsed row), the bookkeeping
    columns, and the raw record of rejected rows. `loaded` has those canonical columns
    plus source_file, source_row and snapshot_date.
    """
    timestamp_raw_col, timestamp_col = rules.timestamp_column, "ts_parsed"
    raw_columns = [c for c in scan.rows.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    parsed_select = ", ".join(
        [
            f"{timestamp_sql(timestamp_raw_col, source)} AS ts_parsed",
            f"{row_id_sql(rules.id_column)} AS _id",
            *rules.parsed,
        ]
    )
    checks = [
        Check("missing_customer_id", "customer_id", missing_sql("customer_id")),
        Check("value_too_long", "customer_id", too_long_sql("customer_id")),
        Check("value_too_long", rules.id_column, too_long_sql(rules.id_column)),
        *timestamp_checks(timestamp_raw_col, timestamp_col, snapshots),
        *rules.checks,
    ]
    unique_key = ("_id", rules.id_column, rules.duplicate_id_reason) if rules.unique_ids else None
    keep_duplicate_rows, output_columns = source.keep_duplicate_rows, rules.output_columns
    key_select = quote_ident(unique_key[0]) if unique_key else "NULL"
    key_reason_lit = quote_literal(unique_key[2]) if unique_key else "NULL"
    key_source_lit = quote_literal(unique_key[1]) if unique_key else "NULL"
    table = f"validated_{next(_tables)}"
    scan.rows.create_view(f"{table}_rows", replace=True)
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

    def clamp(day: str) -> str:
        # Rows dated outside the partitions' span are filed under its first or last day.
        bounded = f"least({last_lit}, {day})" if last_lit else day
        return f"greatest({first_lit}, {bounded})"

    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW {table}_checked AS
            SELECT *, {reason_case} AS _first_reason, {column_case} AS _first_column,
                   CAST({timestamp_col} AS DATE) AS _day
            FROM (SELECT *, {parsed_select} FROM {table}_rows)
            """
        )
        # A row without a readable timestamp is filed under its file's first day.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table}_files AS
            SELECT {SOURCE_FILE}, min(_day) AS file_day,
                   arg_min({quote_ident(timestamp_raw_col)}, {SOURCE_ROW}) AS first_value
            FROM {table}_checked GROUP BY 1
            """
        )
        undated = fetch_all(
            con,
            f"SELECT {SOURCE_FILE}, first_value FROM {table}_files WHERE file_day IS NULL LIMIT 1",
        )
        if undated:
            raise SourceError(
                f"{section}: no row of {undated[0][0]} has a readable timestamp (first value: "
                f"{undated[0][1]!r}). Check {section}.timestamp_column, or set "
                f"{section}.timestamp_format (e.g. '%d/%m/%Y %H:%M')."
            )
        if unique_key is not None:
            # Repeats are found by key; a repeat identical to the first occurrence (same row
            # hash) is an exact duplicate, otherwise a reused id. A hash collision could only
            # swap those two labels, never quarantine a row that is not a repeat.
            key_col, _, key_reason = unique_key
            window = f"PARTITION BY _first_reason IS NULL, {quote_ident(key_col)}"
            repeat_reason = (
                f"CASE WHEN _row_hash = _first_hash THEN 'duplicate_row' "
                f"ELSE {quote_literal(key_reason)} END"
            )
        elif keep_duplicate_rows:
            window = f"PARTITION BY {SOURCE_FILE}, {SOURCE_ROW}"  # every row its own first
            repeat_reason = "NULL"
        else:
            # Without an id, exact repeats share hash, customer and timestamp.
            window = f"PARTITION BY _first_reason IS NULL, _row_hash, {quote_ident(raw_columns[1])}, {quote_ident(timestamp_raw_col)}"
            repeat_reason = "'duplicate_row'"
        row_hash = "hash(" + raw_list + ")"
        # Cheap, on the parsed day alone, so other days' rows can be dropped before the
        # checks: undated rows, the run's days, and the ends that clamp into the run.
        day_may_be_in_run = (
            f"(_day IS NULL OR _day BETWEEN {start_lit} AND {end_lit}"
            + (f" OR _day < {first_lit}" if start == snapshots.start_date else "")
            + (f" OR _day > {last_lit}" if last_lit and end == snapshots.end_date else "")
            + ")"
        )
        earlier_cte = earlier_rule = earlier_join = ""
        if unique_key is not None:
            # A key already used, validly and earlier in file order, on a day outside this run.
            # The run's keys are the small side: the rest of the source streams past them.
            position = f"{SOURCE_FILE} || chr(1) || lpad(CAST({SOURCE_ROW} AS VARCHAR), 20, '0')"
            earlier_cte = f"""
            earlier AS (
                SELECT {quote_ident(key_col)} AS _k, min({position}) AS _first_position
                FROM {table}_checked
                WHERE _first_reason IS NULL AND _day IS NOT NULL
                  AND {clamp("_day")} NOT BETWEEN {start_lit} AND {end_lit}
                  AND {quote_ident(key_col)} IN (
                      SELECT {quote_ident(key_col)} FROM in_range WHERE _first_reason IS NULL)
                GROUP BY 1
            ),"""
            earlier_rule = (
                f"WHEN e._first_position < i.{SOURCE_FILE} || chr(1) || "
                f"lpad(CAST(i.{SOURCE_ROW} AS VARCHAR), 20, '0') THEN {quote_literal(key_reason)}"
            )
            earlier_join = f"LEFT JOIN earlier e ON e._k = i.{quote_ident(key_col)}"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            WITH homed AS (
                SELECT c.*, {clamp("coalesce(c._day, f.file_day)")} AS snapshot_date,
                       {row_hash} AS _row_hash
                FROM (SELECT * FROM {table}_checked WHERE {day_may_be_in_run}) c
                JOIN {table}_files f USING ({SOURCE_FILE})
            ),
            in_range AS (
                -- repeats share their timestamp, hence their day: all are in the range together
                SELECT *,
                    row_number() OVER (w) AS _repeat,
                    first_value(_row_hash) OVER (w) AS _first_hash
                FROM homed
                WHERE snapshot_date BETWEEN {start_lit} AND {end_lit}
                WINDOW w AS ({window} ORDER BY {SOURCE_FILE}, {SOURCE_ROW})
            ),
            {earlier_cte}
            reasoned AS (
                SELECT i.*,
                    CASE WHEN _first_reason IS NOT NULL THEN _first_reason
                         WHEN _repeat > 1 THEN {repeat_reason}
                         {earlier_rule} END AS _reason
                FROM in_range i {earlier_join}
            )
            -- only what the outputs need: canonical columns, and the raw record of a reject
            SELECT {output_columns}, {SOURCE_FILE}, {SOURCE_ROW}, snapshot_date, _reason,
                   {key_select} AS _key,
                   CASE WHEN _reason IS NOT NULL THEN CAST({record} AS VARCHAR) END AS _record,
                   CASE WHEN _reason IS NULL OR _reason = 'duplicate_row' THEN NULL
                        WHEN _reason = {key_reason_lit} THEN {key_source_lit}
                        ELSE _first_column END AS _column
            FROM reasoned
            """
        )
    except duckdb.Error as exc:
        text = str(exc).strip().splitlines()[0]
        raise SourceError(f"{section}: cannot read {', '.join(scan.files[:3])}: {text}.") from None

    quarantined = con.sql(
        f"""
        SELECT {SOURCE_FILE} AS source_file, CAST({SOURCE_ROW} AS BIGINT) AS source_row,
               _column AS column_name, _reason AS reason,
               json_extract_string(_record, '$.' || _column) AS detail,
               _record AS record,
               snapshot_date
        FROM {table}
        WHERE _reason IS NOT NULL
        """
    )
    if scan.malformed is not None:
        quarantined = quarantined.union(
            _malformed_rows(con, scan, table, clamp("f.file_day"), start_lit, end_lit)
        )
    loaded = con.sql(
        f"SELECT * EXCLUDE (_reason, _key, _record, _column) FROM {table} WHERE _reason IS NULL"
    )
    return Validated(loaded=loaded, quarantined=quarantined)


def _malformed_rows(
    con: duckdb.DuckDBPyConnection,
    scan: SourceScan,
    table: str,
    clamped_file_day: str,
    start_lit: str,
    end_lit: str,
) -> duckdb.DuckDBPyRelation:
    """CSV lines the parser rejected, filed (like undated rows) under their file's first day."""
    scan.malformed.create_view(f"{table}_malformed", replace=True)
    return con.sql(
        f"""
        SELECT m.{SOURCE_FILE} AS source_file, CAST(m.{SOURCE_ROW} AS BIGINT) AS source_row,
               m.column_name,
               CASE WHEN m.error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')
                        THEN 'wrong_column_count'
                    WHEN m.error_type = 'INVALID ENCODING' THEN 'invalid_encoding'
                    WHEN m.error_type = 'UNQUOTED VALUE' OR m.error_type LIKE '%QUOTE%'
                        THEN 'broken_quoting'
                    ELSE 'malformed_row' END AS reason,
               m.error_message AS detail,
               m.csv_line AS record,
               {clamped_file_day} AS snapshot_date
        FROM {table}_malformed m JOIN {table}_files f USING ({SOURCE_FILE})
        WHERE {clamped_file_day} BETWEEN {start_lit} AND {end_lit}
        """
    )
