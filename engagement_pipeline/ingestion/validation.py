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
from pathlib import Path

import duckdb
import pyarrow as pa

from engagement_pipeline.config import SnapshotsConfig, SourceConfig
from engagement_pipeline.errors import SourceError
from engagement_pipeline.ingestion.sources import (
    NESTED,
    SOURCE_FILE,
    SOURCE_ROW,
    TYPED_TIME,
    SourceScan,
    explain_read_error,
)
from engagement_pipeline.lake import copy_by_day
from engagement_pipeline.sql import fetch_all, quote_ident, quote_literal, scalar

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

# Rows dated outside the configured snapshot span: kept, as every row is, but not bad data
# (a shortened end_date sends every later row there), so no quality measure counts them.
OUTSIDE_SPAN_REASONS = ("before_start_date", "after_end_date")

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
class DayFiles:
    """Finished partition files, ready to be copied into the lake as they are: each day's
    files (none: the day has no rows) and a file of the columns alone."""

    days: dict[str, list[str]]
    empty: str


@dataclass(frozen=True)
class Validated:
    """A source's rows for a date range: the loaded ones and the quarantined ones.

    `files` (loaded, quarantined), when present, are the same rows already written as
    the lake's partition files (a single-file source, see `ingestion/settle.py`).
    """

    loaded: duckdb.DuckDBPyRelation
    quarantined: duckdb.DuckDBPyRelation
    files: tuple[DayFiles, DayFiles] | None = None


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
        # Offsets are honoured and converted to UTC; naive values are taken as UTC. The
        # usual export form, 'YYYY-MM-DD HH:MM:SS' with nothing after the seconds, has no
        # room for an offset, so a plain TIMESTAMP cast reads it as the zoned one does, in
        # half the time (4.5 s less for the year's events at 1,000,000 customers); any
        # other text, or one that cast fails on, takes the zoned cast as before.
        parsed = (
            f"coalesce(CASE WHEN {value} LIKE '____-__-__ __:__:__' "
            f"THEN try_cast({value} AS TIMESTAMP) END, "
            f"CAST(try_cast({value} AS TIMESTAMPTZ) AS TIMESTAMP), "
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
    """The customer id, with a float export's '.0' taken off an all-digit id (12000.0).

    Only an id with a dot can change: the others skip the regular expression."""
    return (
        f"CASE WHEN contains({col}, '.') "
        f"THEN regexp_replace(trim({col}), '^(\\d+)\\.0+$', '\\1') ELSE trim({col}) END"
    )


def too_long_sql(col: str) -> str:
    return f"length({col}) > {MAX_ID_LENGTH}"


def missing_sql(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def timestamp_checks(
    raw_col: str, parsed_col: str, snapshots: SnapshotsConfig, typed: bool = False
) -> list[Check]:
    """The checks every dated source shares: present, readable, inside the partitions' span.

    A `typed` time (a Parquet timestamp) is missing only when NULL: its text is never
    blank, so it is not made text to be trimmed on every row."""
    missing = f"{TYPED_TIME} IS NULL" if typed else missing_sql(raw_col)
    checks = [
        Check("missing_timestamp", raw_col, missing),
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
class UniqueKey:
    """A source id that must not repeat: its parsed column, source column and reason."""

    column: str
    source_column: str
    reason: str


# Undated rows (no readable timestamp) are written to the partition DuckDB gives NULL.
UNDATED = "__HIVE_DEFAULT_PARTITION__"
# A landing's files besides rows/: CSV lines the parser rejected; each valid row's id
# hash, day and row (sources with unique ids); the landed columns with no rows, laid out
# like a day's file (for a run that has no rows).
MALFORMED_FILE = "malformed.parquet"
KEYS_FILE = "keys.parquet"
SCHEMA_FILE = f"schema/snapshot_date={UNDATED}/data.parquet"
# Columns a landed row carries besides its canonical output columns.
LANDED_BOOKKEEPING = (SOURCE_ROW, "_check", "_record", "snapshot_date")


@dataclass(frozen=True)
class LandedFile:
    """One source file validated row by row, its rows kept by day under `folder`.

    `days` maps each day (or UNDATED) to its Parquet files; `file_day` is where the file's
    undated and malformed rows are filed: its first day, clamped into the partitions' span.
    """

    source_file: str
    folder: Path
    file_day: dt.date
    days: dict[str, list[str]]
    checks: list[tuple[str, str]]  # (reason, column) of each check, in order

    @property
    def malformed(self) -> Path:
        return self.folder / MALFORMED_FILE

    @property
    def keys(self) -> Path:
        return self.folder / KEYS_FILE

    @property
    def schema(self) -> Path:
        return self.folder / SCHEMA_FILE


def _date_lit(day: dt.date) -> str:
    return f"DATE {quote_literal(day.isoformat())}"


def _clamp_sql(snapshots: SnapshotsConfig, day: str) -> str:
    """Rows dated outside the partitions' span are filed under its first or last day."""
    bounded = f"least({_date_lit(snapshots.end_date)}, {day})" if snapshots.end_date else day
    return f"CASE WHEN {day} IS NOT NULL THEN greatest({_date_lit(snapshots.start_date)}, {bounded}) END"


@dataclass(frozen=True)
class ScannedFile:
    """One source file as scanned, with what validating its rows needs."""

    scan: SourceScan
    source: SourceConfig
    rules: SourceRules
    snapshots: SnapshotsConfig
    section: str

    @property
    def path(self) -> str:
        return self.scan.files[0]

    def read_error(self, exc: duckdb.Error) -> SourceError:
        """A DuckDB error met while reading the file, in our words."""
        return explain_read_error(self.section, self.source.format, self.scan.files, exc)


@dataclass(frozen=True)
class CheckedRows:
    """One file's rows parsed and checked, as SQL: `landed` selects each row's canonical
    columns, SOURCE_ROW, its first failed check (`_check`), its raw record when it failed
    one (`_record`) and its day (`snapshot_date`, NULL when undated)."""

    table: str
    landed: str
    checks: list[Check]


def check_rows(con: duckdb.DuckDBPyConnection, file: ScannedFile) -> CheckedRows:
    """Views that parse and check a scanned file row by row (nothing is read yet)."""
    scan, source, rules, snapshots = file.scan, file.source, file.rules, file.snapshots
    raw_columns = [
        c for c in scan.rows.columns if c not in (SOURCE_FILE, SOURCE_ROW, NESTED, TYPED_TIME)
    ]
    table = f"landing_{next(_tables)}"
    scan.rows.create_view(f"{table}_rows", replace=True)
    record = (
        "json_object("
        + ", ".join(f"{quote_literal(c)}, {quote_ident(c)}" for c in raw_columns)
        + ")"
    )
    day_first = (
        "false" if scan.time_typed else _day_first_files(con, table, source, rules, file.section)
    )
    checks = _all_checks(rules, raw_columns, snapshots, scan.time_typed)
    _create_checked_view(con, table, source, rules, checks, day_first, scan.time_typed)
    landed = f"""
        SELECT {rules.output_columns}, {SOURCE_ROW}, _check,
               CASE WHEN _check IS NOT NULL THEN CAST({record} AS VARCHAR) END AS _record,
               {_clamp_sql(snapshots, "_day")} AS snapshot_date
        FROM {table}_checked"""
    return CheckedRows(table=table, landed=landed, checks=checks)


def land_rows(
    con: duckdb.DuckDBPyConnection, file: ScannedFile, folder: Path
) -> list[tuple[str, str]]:
    """Validate one file's rows, each on its own, and write them under `folder` by day.

    Everything a row can be judged on by itself is decided here, in one streaming pass:
    its parsed canonical columns, its first failed check, its day. Repeats are not: they
    depend on other days and files, and are decided per run (`classify_landed`). Written:
    rows/snapshot_date=<day>/ (the canonical columns plus LANDED_BOOKKEEPING; undated rows
    under UNDATED), a schema file (no rows) and, for CSV, malformed.parquet. Returns the
    (reason, column) of each check: a landed row names its first failed check by number.
    """
    try:
        checked = check_rows(con, file)
        schema = folder / SCHEMA_FILE
        schema.parent.mkdir(parents=True)
        con.execute(
            f"COPY (SELECT * EXCLUDE (snapshot_date) FROM ({checked.landed}) LIMIT 0) "
            f"TO {quote_literal(str(schema))}"
        )
        copy_by_day(con, checked.landed, folder / "rows")
        if file.rules.unique_ids:
            _write_keys(con, folder, file.rules.id_column)
        write_malformed(con, file.scan, folder, checked.table)
    except duckdb.Error as exc:
        # Text formats are read lazily: a bad record past what the reader sampled fails here.
        raise file.read_error(exc) from None
    return [(c.reason, c.column) for c in checked.checks]


def write_malformed(
    con: duckdb.DuckDBPyConnection, scan: SourceScan, folder: Path, table: str
) -> Path | None:
    """The CSV lines the parser rejected, kept as folder/malformed.parquet (None: no CSV)."""
    if scan.malformed is None:
        return None
    scan.malformed.create_view(f"{table}_malformed", replace=True)
    target = folder / MALFORMED_FILE
    con.execute(
        f"COPY (SELECT * EXCLUDE ({SOURCE_FILE}) FROM {table}_malformed) "
        f"TO {quote_literal(str(target))}"
    )
    return target


def _write_keys(con: duckdb.DuckDBPyConnection, folder: Path, id_column: str) -> None:
    """The landing's key file: each valid row's id hash, day and row, read back from the
    landed rows (one column), so a run checks its ids against 8 bytes a row, not text."""
    rows = folder / "rows" / "*" / "*.parquet"
    if not any(folder.glob("rows/*/*.parquet")):
        return
    target = folder / KEYS_FILE
    con.execute(
        f"COPY (SELECT hash({quote_ident(id_column)}) AS _key_hash, snapshot_date, {SOURCE_ROW} "
        f"FROM read_parquet({quote_literal(str(rows))}, hive_partitioning = true, "
        f"hive_types = {{'snapshot_date': DATE}}) WHERE _check IS NULL) "
        f"TO {quote_literal(str(target))}"
    )


def no_dated_row(
    con: duckdb.DuckDBPyConnection,
    undated: str,
    rules: SourceRules,
    section: str,
    source_file: str,
    params: list | None = None,
) -> SourceError:
    """A file in which no row has a readable timestamp cannot say its day: that is one
    clear error (usually a wrong column or format) rather than a file's worth of quarantine.
    `undated` is a FROM clause over the file's landed rows (their `_record`)."""
    first = scalar(
        con,
        f"SELECT json_extract_string(arg_min(_record, {SOURCE_ROW}), "
        f"{quote_literal('$.' + rules.timestamp_column)}) FROM {undated}",
        params,
    )
    return SourceError(
        f"{section}: no row of {source_file} has a readable timestamp (first value: "
        f"{first!r}). Check {section}.timestamp_column, or set "
        f"{section}.timestamp_format (e.g. '%d/%m/%Y %H:%M')."
    )


def _all_checks(
    rules: SourceRules, raw_columns: list[str], snapshots: SnapshotsConfig, time_typed: bool
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
        *timestamp_checks(rules.timestamp_column, "ts_parsed", snapshots, time_typed),
        *rules.checks,
    ]


def _first_failure_sql(checks: list[Check]) -> str:
    """CASE giving the number (from 1) of the first check a row fails, NULL if none."""
    whens = " ".join(f"WHEN {c.failed} THEN {i}" for i, c in enumerate(checks, start=1))
    return f"CAST(CASE {whens} END AS UTINYINT)"


def check_list_sql(checks: list[tuple[str, str]], field: int) -> str:
    """The reasons (field 0) or columns (field 1) of the checks, as a SQL list."""
    return "[" + ", ".join(quote_literal(c[field]) for c in checks) + "]"


def _create_checked_view(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: SourceConfig,
    rules: SourceRules,
    checks: list[Check],
    day_first: str,
    time_typed: bool,
) -> None:
    """`{table}_checked`: every scanned row parsed, with its first failed check and its day.

    A view, not a table: it streams into the landing, so the file is never held in memory.
    """
    parsed_select = ", ".join(
        [
            # a typed time is taken as it is (NULL when the text is empty too); text is parsed
            f"{TYPED_TIME} AS ts_parsed"
            if time_typed
            else f"{timestamp_sql(rules.timestamp_column, source, day_first)} AS ts_parsed",
            f"{row_id_sql(rules.id_column)} AS _id",
            *rules.parsed,
        ]
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {table}_checked AS
        SELECT *, {_first_failure_sql(checks)} AS _check, CAST(ts_parsed AS DATE) AS _day
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


def classify_landed(
    con: duckdb.DuckDBPyConnection,
    files: list[LandedFile],
    source: SourceConfig,
    rules: SourceRules,
    start: dt.date,
    end: dt.date,
) -> Validated:
    """The landed rows of [start, end] with repeats decided: loaded and quarantined.

    Only the run's days are read, plus, for a source with ids, the other days' id hashes
    (is an id of the run used validly earlier in file order?). A repeat's one reason:
    duplicate_row when it equals its group's first row, else the source's reused-id reason.
    `loaded` has the canonical columns plus source_file, source_row and snapshot_date.
    """
    table = f"validated_{next(_tables)}"
    key = unique_key(rules)
    run, rest = _landed_paths(con, table, files, start, end)
    schema = con.sql("SELECT * FROM read_parquet(?)", params=[[str(files[0].schema)]])
    outputs = [c for c in schema.columns if c not in LANDED_BOOKKEEPING]
    repeats = repeat_window(rules, source, key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_run AS "
        f"{in_range_sql(_landed_sql(table, '$1', files, outputs), repeats)}",
        # no rows in the run: the landing's file without rows gives the columns
        [run or [str(files[0].schema)]],
    )
    earlier = _earlier_key(con, table, files, outputs, key, start, end, rest)
    # A view: the loaded and the quarantined rows are each read from it once.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {table} AS
        SELECT i.* EXCLUDE (_repeat, _first_hash, _first_file, _row_hash, _valid),
               {reason_sql(repeats, earlier.rule)}
        FROM {table}_run i {earlier.join}
        """
    )
    loaded = con.sql(
        f"SELECT {', '.join(map(quote_ident, outputs))}, {SOURCE_FILE}, {SOURCE_ROW}, snapshot_date "
        f"FROM {table} WHERE _reason IS NULL"
    )
    quarantined = quarantined_rows(con, table, outputs, key)
    malformed = [
        str(f.malformed) for f in files if f.malformed.exists() and start <= f.file_day <= end
    ]
    if malformed:
        quarantined = quarantined.union(malformed_rows(con, table, malformed))
    return Validated(loaded=loaded, quarantined=quarantined)


def unique_key(rules: SourceRules) -> UniqueKey | None:
    """The source id that must not repeat, if the source has one."""
    if not rules.unique_ids:
        return None
    return UniqueKey(rules.id_column, rules.id_column, rules.duplicate_id_reason)


def reason_sql(repeats: Repeats, earlier_rule: str = "") -> str:
    """A row's one reason (NULL: loaded): its first failed check, else a repeat's reason."""
    return f"""CASE WHEN _first_reason IS NOT NULL THEN _first_reason
                    WHEN _repeat > 1 THEN {repeats.reason}
                    {earlier_rule} END AS _reason"""


def _landed_paths(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[LandedFile],
    start: dt.date,
    end: dt.date,
) -> tuple[list[str], list[str]]:
    """The Parquet files of the run's days and of the other days (dated rows only), and a
    table `{table}_files` naming each Parquet file's source file and file day."""
    run: list[str] = []
    rest: list[str] = []
    names: list[tuple[str, str, dt.date]] = []
    for landed in files:
        for day, paths in landed.days.items():
            when = landed.file_day if day == UNDATED else dt.date.fromisoformat(day)
            if start <= when <= end:
                run += paths
            elif day != UNDATED:
                rest += paths
            names += [(p, landed.source_file, landed.file_day) for p in paths]
        names += [
            (str(p), landed.source_file, landed.file_day)
            for p in (landed.malformed, landed.keys, landed.schema)
        ]
    paths = pa.table(
        {
            "path": [n[0] for n in names],
            SOURCE_FILE: [n[1] for n in names],
            "file_day": pa.array([n[2] for n in names], pa.date32()),
        }
    )
    con.register(f"{table}_paths", paths)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_files AS SELECT * FROM {table}_paths")
    con.unregister(f"{table}_paths")
    return run, rest


def _landed_sql(table: str, param: str, files: list[LandedFile], outputs: list[str]) -> str:
    """Landed rows of the Parquet files `param` names, with their source file, day, first
    failed check's reason and column, and a hash of their loaded form (for repeats)."""
    checks = files[0].checks  # one configuration, so one list of checks for every file
    return f"""
        SELECT r.* EXCLUDE (snapshot_date, filename), f.{SOURCE_FILE},
               coalesce(r.snapshot_date, f.file_day) AS snapshot_date,
               {verdict_sql(checks, outputs, "r.")}
        FROM read_parquet({param}, hive_partitioning = true, union_by_name = true,
                          hive_types = {{'snapshot_date': DATE}}, filename = true) r
        JOIN {table}_files f ON f.path = r.filename"""


def verdict_sql(checks: list[tuple[str, str]], outputs: list[str], prefix: str = "") -> str:
    """A landed row's first failed check (reason and column), whether it passed every
    check, and a hash of its loaded form (for repeats)."""
    row_hash = "hash(" + ", ".join(f"{prefix}{quote_ident(c)}" for c in outputs) + ")"
    return f"""{check_list_sql(checks, 0)}[{prefix}_check] AS _first_reason,
               {check_list_sql(checks, 1)}[{prefix}_check] AS _first_column,
               {prefix}_check IS NULL AS _valid,
               {row_hash} AS _row_hash"""


@dataclass(frozen=True)
class Repeats:
    """Which rows count as repeats of one another (same `group` values) and a repeat's reason."""

    group: tuple[str, ...]
    reason: str


def repeat_window(rules: SourceRules, source: SourceConfig, key: UniqueKey | None) -> Repeats:
    if key is not None:
        # Repeats are found by key; a repeat identical to the first occurrence (same row
        # hash) is an exact duplicate, otherwise a reused id. A hash collision could only
        # swap those two labels, never quarantine a row that is not a repeat.
        return Repeats(
            group=("_valid", quote_ident(key.column)),
            reason=f"CASE WHEN _row_hash = _first_hash THEN 'duplicate_row' "
            f"ELSE {quote_literal(key.reason)} END",
        )
    if source.keep_duplicate_rows:
        return Repeats(group=(), reason="NULL")  # every row its own first
    # Without an id, exact repeats share the hash of every source field, hence their
    # customer and day too (compared as well, so a hash collision needs all three).
    return Repeats(
        group=("_valid", "_row_hash", "customer_id", "snapshot_date"),
        reason=f"CASE WHEN {SOURCE_FILE} = _first_file THEN NULL ELSE 'duplicate_row' END"
        if rules.repeats_within_file_kept
        else "'duplicate_row'",
    )


def in_range_sql(rows: str, repeats: Repeats) -> str:
    """The run's rows, numbered within their repeat group in file order.

    Repeats share their timestamp, hence their day: all are in the range together. Most
    rows repeat nothing: only the groups seen twice (a hash aggregate finds them) are
    sorted and numbered; every other row is its group's first.
    """
    first = f"1 AS _repeat, _row_hash AS _first_hash, {SOURCE_FILE} AS _first_file"
    if not repeats.group:
        return f"SELECT *, {first} FROM ({rows})"
    group = ", ".join(repeats.group)
    return f"""
        WITH run AS ({rows}),
        repeated AS (SELECT {group} FROM run GROUP BY ALL HAVING count(*) > 1)
        SELECT *, {first} FROM run ANTI JOIN repeated USING ({group})
        UNION ALL BY NAME
        SELECT *,
            row_number() OVER (w) AS _repeat,
            first_value(_row_hash) OVER (w) AS _first_hash,
            first_value({SOURCE_FILE}) OVER (w) AS _first_file
        FROM run SEMI JOIN repeated USING ({group})
        WINDOW w AS (PARTITION BY {group} ORDER BY {SOURCE_FILE}, {SOURCE_ROW})"""


@dataclass(frozen=True)
class _Earlier:
    """SQL pieces marking a key already used validly, earlier, on a day outside the run."""

    rule: str = ""
    join: str = ""


def _file_position_sql(prefix: str = "") -> str:
    """A row's place in file order as one sortable text (file, then zero-padded row)."""
    return (
        f"{prefix}{SOURCE_FILE} || chr(1) || lpad(CAST({prefix}{SOURCE_ROW} AS VARCHAR), 20, '0')"
    )


def _earlier_key(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[LandedFile],
    outputs: list[str],
    key: UniqueKey | None,
    start: dt.date,
    end: dt.date,
    other_days: list[str],
) -> _Earlier:
    """Where an id of the run was used validly on another day: `{table}_earlier`.

    The other days' ids are read as hashes from each landing's key file (8 bytes a row,
    against the run's ids); the few rows whose hash matches are then read in full from
    their days, so a hash collision never makes a reused id.
    """
    keys = [str(f.keys) for f in files if f.keys.exists()]
    if key is None or not other_days or not keys:
        return _Earlier()
    col = quote_ident(key.column)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table}_candidates AS
        SELECT DISTINCT f.{SOURCE_FILE}, k.{SOURCE_ROW}, k.snapshot_date
        FROM read_parquet(?, filename = true) k JOIN {table}_files f ON f.path = k.filename
        WHERE NOT (k.snapshot_date BETWEEN {_date_lit(start)} AND {_date_lit(end)})
          AND k._key_hash IN (SELECT hash({col}) FROM {table}_run WHERE _first_reason IS NULL)
        """,
        [keys],
    )
    days = {
        d.isoformat()
        for (d,) in fetch_all(con, f"SELECT DISTINCT snapshot_date FROM {table}_candidates")
    }
    day_files = [p for f in files for d, paths in f.days.items() if d in days for p in paths]
    if not day_files:
        return _Earlier()
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table}_earlier AS
        SELECT {col} AS _k, min({_file_position_sql()}) AS _first_position
        FROM ({_landed_sql(table, "?", files, outputs)})
        SEMI JOIN {table}_candidates USING ({SOURCE_FILE}, {SOURCE_ROW})
        WHERE _first_reason IS NULL
          AND {col} IN (SELECT {col} FROM {table}_run WHERE _first_reason IS NULL)
        GROUP BY 1
        """,
        [day_files],
    )
    rule = f"WHEN e._first_position < {_file_position_sql('i.')} THEN {quote_literal(key.reason)}"
    return _Earlier(rule=rule, join=f"LEFT JOIN {table}_earlier e ON e._k = i.{col}")


def quarantined_rows(
    con: duckdb.DuckDBPyConnection, table: str, outputs: list[str], key: UniqueKey | None
) -> duckdb.DuckDBPyRelation:
    """Rejected rows in the quarantine schema.

    `detail` is the raw value of the failed column (the id, for a reused one); `record` is
    the raw source record, or for a repeat, which passed every check, the row as it would
    have been loaded.
    """
    loaded_form = (
        "json_object(" + ", ".join(f"{quote_literal(c)}, {quote_ident(c)}" for c in outputs) + ")"
    )
    key_reason = quote_literal(key.reason) if key else "NULL"
    key_source = quote_literal(key.source_column) if key else "NULL"
    key_value = quote_ident(key.column) if key else "NULL"
    return con.sql(
        f"""
        SELECT {SOURCE_FILE} AS source_file, CAST({SOURCE_ROW} AS BIGINT) AS source_row,
               CASE WHEN _first_reason IS NOT NULL THEN _first_column
                    WHEN _reason = {key_reason} THEN {key_source} END AS column_name,
               _reason AS reason,
               CASE WHEN _first_reason IS NOT NULL
                        THEN json_extract_string(_record, '$.' || _first_column)
                    WHEN _reason = {key_reason} THEN CAST({key_value} AS VARCHAR) END AS detail,
               coalesce(_record, CAST({loaded_form} AS VARCHAR)) AS record,
               snapshot_date
        FROM {table}
        WHERE _reason IS NOT NULL
        """
    )


def malformed_rows(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[str]
) -> duckdb.DuckDBPyRelation:
    """CSV lines the parser rejected, filed (like undated rows) under their file's day."""
    return con.sql(
        f"""
        SELECT f.{SOURCE_FILE} AS source_file, CAST(m.{SOURCE_ROW} AS BIGINT) AS source_row,
               m.column_name,
               CASE WHEN m.error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS')
                        THEN 'wrong_column_count'
                    WHEN m.error_type = 'INVALID ENCODING' THEN 'invalid_encoding'
                    WHEN m.error_type = 'UNQUOTED VALUE' OR m.error_type LIKE '%QUOTE%'
                        THEN 'broken_quoting'
                    ELSE 'malformed_row' END AS reason,
               m.error_message AS detail,
               m.csv_line AS record,
               f.file_day AS snapshot_date
        FROM read_parquet(?, filename = true) m JOIN {table}_files f ON f.path = m.filename
        """,
        params=[paths],
    )
