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
from engagement_pipeline.ingestion.sources import (
    NESTED,
    SOURCE_FILE,
    SOURCE_ROW,
    SourceScan,
    explain_read_error,
)
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
        "nested_value",
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
        "non_positive_quantity",
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
    timestamp_source_column: str | None = None  # the source's name for it, for messages
    # Exact repeats within one file are real (Online Retail II lines); across files they
    # are the same export read twice and stay duplicate_row.
    repeats_within_file_kept: bool = False


@dataclass(frozen=True)
class Validated:
    """A source's rows for a date range: the loaded ones and the quarantined ones."""

    loaded: duckdb.DuckDBPyRelation
    quarantined: duckdb.DuckDBPyRelation


# Slash dates are month-first unless a file's own dates show it is day-first.
_MONTH_FIRST = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y%m%d")
_DAY_FIRST = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y%m%d")
# Beyond this, a Unix epoch number (auto unit) is in milliseconds: 1e11 s is the year 5138.
_MILLISECONDS_FROM = 1e11
# Below this an auto-unit number is not taken for a time at all: 1e8 s is March 1973.
_EPOCH_FROM = 1e8


def timestamp_sql(col: str, source: SourceConfig, day_first: str = "false") -> str:
    """SQL that parses a text timestamp column to a UTC TIMESTAMP, or NULL when it cannot.

    `day_first` is a SQL condition saying the row's file writes slash dates day-first.
    Numbers are Unix epoch times (UTC) in `source.timestamp_unit`; with the auto unit
    they are tried last, so an 8-digit YYYYMMDD stays a date.
    """
    value = f"trim({col})"
    epoch = _epoch_sql(value, source.timestamp_unit)
    if source.timestamp_format:
        parsed = f"try_strptime({value}, {quote_literal(source.timestamp_format)})"
    else:
        # Offsets are honoured and converted to UTC; naive values are taken as UTC.
        parsed = (
            f"coalesce(CAST(try_cast({value} AS TIMESTAMPTZ) AS TIMESTAMP), "
            f"CASE WHEN {day_first} THEN try_strptime({value}, {_format_list(_DAY_FIRST)}) "
            f"ELSE try_strptime({value}, {_format_list(_MONTH_FIRST)}) END)"
        )
    if source.timestamp_unit == "auto":
        return f"coalesce({parsed}, {epoch})"
    return f"coalesce({epoch}, {parsed})"


def _format_list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join(quote_literal(f) for f in formats) + "]"


def _epoch_sql(value: str, unit: str) -> str:
    """A number as a Unix epoch time in seconds or milliseconds (auto: by magnitude)."""
    number = (
        f"CASE WHEN regexp_full_match({value}, '-?\\d+(\\.\\d*)?([eE][+-]?\\d+)?') "
        f"THEN try_cast({value} AS DOUBLE) END"
    )
    if unit == "seconds":
        micros = f"{number} * 1e6"
    elif unit == "milliseconds":
        micros = f"{number} * 1e3"
    else:
        micros = (
            f"CASE WHEN abs({number}) >= {_MILLISECONDS_FROM} THEN {number} * 1e3 "
            f"WHEN abs({number}) >= {_EPOCH_FROM} THEN {number} * 1e6 END"
        )
    # Years 0001..9999 only: anything further is not a time but a wrong column.
    return (
        f"CASE WHEN abs({micros}) < 2.5e17 THEN make_timestamp(CAST(round({micros}) AS BIGINT)) END"
    )


def row_id_sql(col: str) -> str:
    """The source id, or without one `<file name>:<row>`, which is stable across runs."""
    return (
        f"coalesce(nullif(trim({col}), ''), regexp_extract({SOURCE_FILE}, '[^/\\\\]+$') "
        f"|| ':' || CAST({SOURCE_ROW} AS VARCHAR))"
    )


# Identifiers longer than this are a broken export (a whole line in one field), not an id.
MAX_ID_LENGTH = 256


def customer_id_sql(col: str) -> str:
    """The customer id, with a float export's '.0' taken off an all-digit id (12000.0)."""
    return f"regexp_replace(trim({col}), '^(\\d+)\\.0+$', '\\1')"


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


@dataclass(frozen=True)
class _Span:
    """The run's days [start, end] inside the partitions' span, as SQL date literals."""

    start: str
    end: str
    first: str
    last: str | None
    starts_span: bool  # the run begins on the first partition
    ends_span: bool  # the run ends on the last partition

    @classmethod
    def of(cls, snapshots: SnapshotsConfig, start: dt.date, end: dt.date) -> _Span:
        return cls(
            start=_date_lit(start),
            end=_date_lit(end),
            first=_date_lit(snapshots.start_date),
            last=_date_lit(snapshots.end_date) if snapshots.end_date else None,
            starts_span=start == snapshots.start_date,
            ends_span=end == snapshots.end_date,
        )

    def clamp(self, day: str) -> str:
        """Rows dated outside the partitions' span are filed under its first or last day."""
        bounded = f"least({self.last}, {day})" if self.last else day
        return f"greatest({self.first}, {bounded})"

    def in_run(self, day: str) -> str:
        return f"({day} BETWEEN {self.start} AND {self.end})"

    def may_be_in_run(self, day: str) -> str:
        """Cheap, on the parsed day alone, so other days' rows can be dropped before the
        checks: undated rows, the run's days, and the ends that clamp into the run."""
        return (
            f"({day} IS NULL OR {self.in_run(day)}"
            + (f" OR {day} < {self.first}" if self.starts_span else "")
            + (f" OR {day} > {self.last}" if self.last and self.ends_span else "")
            + ")"
        )


def _date_lit(day: dt.date) -> str:
    return f"DATE {quote_literal(day.isoformat())}"


@dataclass(frozen=True)
class _UniqueKey:
    """A source id that must not repeat: its parsed column, source column and reason."""

    column: str
    source_column: str
    reason: str


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

    `rules.parsed` adds parsed columns to the scanned text columns; the checks are tried in
    order and the first that fails is the row's reason; a unique key (source ids) marks
    every repeat of a key after its first valid occurrence, wherever in the source that is.
    Rows that repeat another row exactly are duplicate_row.

    Memory follows the rows of [start, end], not the whole source: the source is scanned
    with streaming aggregates and filters, and only the run's rows are kept in a table,
    with just `output_columns` (the canonical projection of a parsed row), the bookkeeping
    columns, and the raw record of rejected rows. `loaded` has those canonical columns
    plus source_file, source_row and snapshot_date.
    """
    raw_columns = [c for c in scan.rows.columns if c not in (SOURCE_FILE, SOURCE_ROW, NESTED)]
    key = (
        _UniqueKey("_id", rules.id_column, rules.duplicate_id_reason) if rules.unique_ids else None
    )
    span = _Span.of(snapshots, start, end)
    table = f"validated_{next(_tables)}"
    scan.rows.create_view(f"{table}_rows", replace=True)
    try:
        day_first = _day_first_files(con, table, source, rules, section)
        checks = _all_checks(rules, raw_columns, snapshots)
        _create_checked_view(con, table, source, rules, checks, day_first)
        _create_file_days(con, table, rules.timestamp_column, section)
        repeats = _repeat_window(rules, source, raw_columns, key)
        earlier = _earlier_key(table, key, span)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            WITH homed AS ({_homed_sql(table, raw_columns, span)}),
            in_range AS ({_in_range_sql(span, repeats)}),
            {earlier.cte}
            reasoned AS (
                SELECT i.*,
                    CASE WHEN _first_reason IS NOT NULL THEN _first_reason
                         WHEN _repeat > 1 THEN {repeats.reason}
                         {earlier.rule} END AS _reason
                FROM in_range i {earlier.join}
            )
            {_projection_sql(rules.output_columns, raw_columns, key)}
            """
        )
    except duckdb.Error as exc:
        # Text formats are read lazily: a bad record past what the reader sampled fails here.
        raise explain_read_error(section, source.format, scan.files, exc) from None

    quarantined = _quarantined_rows(con, table)
    if scan.malformed is not None:
        quarantined = quarantined.union(_malformed_rows(con, scan, table, span))
    loaded = con.sql(
        f"SELECT * EXCLUDE (_reason, _key, _record, _column) FROM {table} WHERE _reason IS NULL"
    )
    return Validated(loaded=loaded, quarantined=quarantined)


def _all_checks(
    rules: SourceRules, raw_columns: list[str], snapshots: SnapshotsConfig
) -> list[Check]:
    """The shared checks, then the source's own; their order decides a row's one reason.

    A nested value comes first: an object where an id or a time belongs says nothing
    trustworthy about the row's other checks.
    """
    return [
        *(Check("nested_value", c, f"{NESTED} = {quote_literal(c)}") for c in raw_columns),
        Check("missing_customer_id", "customer_id", missing_sql("customer_id")),
        Check("value_too_long", "customer_id", too_long_sql("customer_id")),
        Check("value_too_long", rules.id_column, too_long_sql(rules.id_column)),
        *timestamp_checks(rules.timestamp_column, "ts_parsed", snapshots),
        *rules.checks,
    ]


def _first_failure_sql(checks: list[Check], field: str) -> str:
    """CASE giving the reason (or column) of the first check a row fails, NULL if none."""
    whens = " ".join(f"WHEN {c.failed} THEN {quote_literal(getattr(c, field))}" for c in checks)
    return f"CASE {whens} END"


def _create_checked_view(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: SourceConfig,
    rules: SourceRules,
    checks: list[Check],
    day_first: str,
) -> None:
    """`{table}_checked`: every scanned row parsed, with its first failed check and its day.

    A view, not a table: it is read twice in streaming passes (file days, then the run's
    rows), so the whole source is never held in memory.
    """
    parsed_select = ", ".join(
        [
            f"{timestamp_sql(rules.timestamp_column, source, day_first)} AS ts_parsed",
            f"{row_id_sql(rules.id_column)} AS _id",
            *rules.parsed,
        ]
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {table}_checked AS
        SELECT *, {_first_failure_sql(checks, "reason")} AS _first_reason,
               {_first_failure_sql(checks, "column")} AS _first_column,
               CAST(ts_parsed AS DATE) AS _day
        FROM (SELECT *, {parsed_select} FROM {table}_rows)
        """
    )


def _day_first_files(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: SourceConfig,
    rules: SourceRules,
    section: str,
) -> str:
    """A SQL condition true for rows of files that write slash dates day-first.

    Without timestamp_format, each file decides for itself from its own dates: a first
    field above 12 can only be a day, a second field above 12 only a day of the month in
    month-first order. A file showing only the first kind is read day-first throughout, so
    03/04 in it is 3 April, never 4 March beside a 15/03; a file showing both kinds has no
    one reading and is an error; a file whose dates all fit both keeps month-first.
    """
    if source.timestamp_format:
        return "false"
    ts = f"trim({quote_ident(rules.timestamp_column)})"
    pattern = "'^(\\d{1,2})/(\\d{1,2})/\\d{2,4}'"
    orders = fetch_all(
        con,
        f"""
        SELECT {SOURCE_FILE}, count(*) FILTER (a > 12 AND b <= 12) AS day_first,
               arg_min(v, {SOURCE_ROW}) FILTER (a > 12 AND b <= 12) AS day_example,
               count(*) FILTER (b > 12 AND a <= 12) AS month_first,
               arg_min(v, {SOURCE_ROW}) FILTER (b > 12 AND a <= 12) AS month_example
        FROM (
            SELECT {SOURCE_FILE}, {SOURCE_ROW}, {ts} AS v,
                   try_cast(regexp_extract({ts}, {pattern}, 1) AS INTEGER) AS a,
                   try_cast(regexp_extract({ts}, {pattern}, 2) AS INTEGER) AS b
            FROM {table}_rows WHERE {ts} LIKE '%/%'
        )
        GROUP BY 1 HAVING day_first > 0
        """,
    )
    mixed = [o for o in orders if o[3] > 0]
    if mixed:
        path, _, day_example, _, month_example = mixed[0]
        column = rules.timestamp_source_column or rules.timestamp_column
        raise SourceError(
            f"{section}: {path} has dates in column {column!r} that only read day-first "
            f"(e.g. {day_example!r}) and others that only read month-first (e.g. "
            f"{month_example!r}). Set {section}.timestamp_format to the export's order, e.g. "
            "'%d/%m/%Y %H:%M' (day first) or '%m/%d/%Y %H:%M' (month first)."
        )
    if not orders:
        return "false"
    files = ", ".join(quote_literal(o[0]) for o in orders)
    return f"{SOURCE_FILE} IN ({files})"


def _create_file_days(
    con: duckdb.DuckDBPyConnection, table: str, timestamp_column: str, section: str
) -> None:
    """`{table}_files`: each file's first day, where its undated rows are filed.

    A file in which no row has a readable timestamp cannot say its day: that is one clear
    error (usually a wrong column or format) rather than a file's worth of quarantine.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table}_files AS
        SELECT {SOURCE_FILE}, min(_day) AS file_day,
               arg_min({quote_ident(timestamp_column)}, {SOURCE_ROW}) AS first_value
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


@dataclass(frozen=True)
class _Repeats:
    """Which rows count as repeats of one another (`window`) and the reason of a repeat."""

    window: str
    reason: str


def _repeat_window(
    rules: SourceRules, source: SourceConfig, raw_columns: list[str], key: _UniqueKey | None
) -> _Repeats:
    if key is not None:
        # Repeats are found by key; a repeat identical to the first occurrence (same row
        # hash) is an exact duplicate, otherwise a reused id. A hash collision could only
        # swap those two labels, never quarantine a row that is not a repeat.
        return _Repeats(
            window=f"PARTITION BY _first_reason IS NULL, {quote_ident(key.column)}",
            reason=f"CASE WHEN _row_hash = _first_hash THEN 'duplicate_row' "
            f"ELSE {quote_literal(key.reason)} END",
        )
    if source.keep_duplicate_rows:
        # every row its own first
        return _Repeats(window=f"PARTITION BY {SOURCE_FILE}, {SOURCE_ROW}", reason="NULL")
    # Without an id, exact repeats share hash, customer and timestamp.
    return _Repeats(
        window=f"PARTITION BY _first_reason IS NULL, _row_hash, "
        f"{quote_ident(raw_columns[1])}, {quote_ident(rules.timestamp_column)}",
        reason=f"CASE WHEN {SOURCE_FILE} = _first_file THEN NULL ELSE 'duplicate_row' END"
        if rules.repeats_within_file_kept
        else "'duplicate_row'",
    )


def _homed_sql(table: str, raw_columns: list[str], span: _Span) -> str:
    """Rows that may belong to the run, each filed under its day (undated: its file's day)."""
    row_hash = "hash(" + ", ".join(quote_ident(c) for c in raw_columns) + ")"
    return f"""
        SELECT c.*, {span.clamp("coalesce(c._day, f.file_day)")} AS snapshot_date,
               {row_hash} AS _row_hash
        FROM (SELECT * FROM {table}_checked WHERE {span.may_be_in_run("_day")}) c
        JOIN {table}_files f USING ({SOURCE_FILE})"""


def _in_range_sql(span: _Span, repeats: _Repeats) -> str:
    """The run's rows, numbered within their repeat group in file order.

    Repeats share their timestamp, hence their day: all are in the range together.
    """
    return f"""
        SELECT *,
            row_number() OVER (w) AS _repeat,
            first_value(_row_hash) OVER (w) AS _first_hash,
            first_value({SOURCE_FILE}) OVER (w) AS _first_file
        FROM homed
        WHERE {span.in_run("snapshot_date")}
        WINDOW w AS ({repeats.window} ORDER BY {SOURCE_FILE}, {SOURCE_ROW})"""


@dataclass(frozen=True)
class _Earlier:
    """SQL pieces marking a key already used validly, earlier, on a day outside the run."""

    cte: str = ""
    rule: str = ""
    join: str = ""


def _file_position_sql(prefix: str = "") -> str:
    """A row's place in file order as one sortable text (file, then zero-padded row)."""
    return (
        f"{prefix}{SOURCE_FILE} || chr(1) || lpad(CAST({prefix}{SOURCE_ROW} AS VARCHAR), 20, '0')"
    )


def _earlier_key(table: str, key: _UniqueKey | None, span: _Span) -> _Earlier:
    if key is None:
        return _Earlier()
    # The run's keys are the small side: the rest of the source streams past them.
    col = quote_ident(key.column)
    cte = f"""
        earlier AS (
            SELECT {col} AS _k, min({_file_position_sql()}) AS _first_position
            FROM {table}_checked
            WHERE _first_reason IS NULL AND _day IS NOT NULL
              AND NOT {span.in_run(span.clamp("_day"))}
              AND {col} IN (SELECT {col} FROM in_range WHERE _first_reason IS NULL)
            GROUP BY 1
        ),"""
    rule = f"WHEN e._first_position < {_file_position_sql('i.')} THEN {quote_literal(key.reason)}"
    return _Earlier(cte=cte, rule=rule, join=f"LEFT JOIN earlier e ON e._k = i.{col}")


def _projection_sql(output_columns: str, raw_columns: list[str], key: _UniqueKey | None) -> str:
    """Only what the outputs need: canonical columns, and the raw record of a reject."""
    record = (
        "json_object("
        + ", ".join(f"{quote_literal(c)}, {quote_ident(c)}" for c in raw_columns)
        + ")"
    )
    key_select = quote_ident(key.column) if key else "NULL"
    key_reason = quote_literal(key.reason) if key else "NULL"
    key_source = quote_literal(key.source_column) if key else "NULL"
    return f"""
        SELECT {output_columns}, {SOURCE_FILE}, {SOURCE_ROW}, snapshot_date, _reason,
               {key_select} AS _key,
               CASE WHEN _reason IS NOT NULL THEN CAST({record} AS VARCHAR) END AS _record,
               CASE WHEN _reason IS NULL OR _reason = 'duplicate_row' THEN NULL
                    WHEN _reason = {key_reason} THEN {key_source}
                    ELSE _first_column END AS _column
        FROM reasoned"""


def _quarantined_rows(con: duckdb.DuckDBPyConnection, table: str) -> duckdb.DuckDBPyRelation:
    """Rejected rows in the quarantine schema; `detail` is the raw value of the failed column."""
    return con.sql(
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


def _malformed_rows(
    con: duckdb.DuckDBPyConnection, scan: SourceScan, table: str, span: _Span
) -> duckdb.DuckDBPyRelation:
    """CSV lines the parser rejected, filed (like undated rows) under their file's first day."""
    scan.malformed.create_view(f"{table}_malformed", replace=True)
    file_day = span.clamp("f.file_day")
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
               {file_day} AS snapshot_date
        FROM {table}_malformed m JOIN {table}_files f USING ({SOURCE_FILE})
        WHERE {span.in_run(file_day)}
        """
    )
