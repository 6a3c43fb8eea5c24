"""Reading a configured source (CSV, JSON or Parquet; one file or a glob) into DuckDB as text columns."""

from __future__ import annotations

import functools
import glob
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engagement_pipeline.config import Config, SourceConfig
from engagement_pipeline.errors import SourceError, SourceFileNotFoundError
from engagement_pipeline.sql import fetch_all, quote_ident, quote_literal, scalar

# Names of the bookkeeping columns every scanned row carries.
SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
# Names the first mapped column holding a nested (object or array) value, else NULL.
NESTED = "_nested"
# The time column's value when the file stores it typed (Parquet, JSON): no text round trip.
TYPED_TIME = "_typed_time"
_TIME_TYPES = ("TIMESTAMP", "DATE")

_scan_ids = itertools.count()


@dataclass(frozen=True)
class SourceScan:
    """A source read into DuckDB.

    `rows` has one text column per mapped canonical field plus the file and row number;
    `malformed` holds the lines the CSV parser could not split into the header's columns.
    """

    rows: duckdb.DuckDBPyRelation
    malformed: duckdb.DuckDBPyRelation | None
    files: list[str]
    time_typed: bool = False  # every file stores the time column as a date or timestamp


def expand_source_paths(config: Config, source: SourceConfig, section: str) -> list[str]:
    """The files a source's file_path names, sorted so every run reads them in the same order."""
    pattern = str(config.resolve(source.file_path))
    if glob.has_magic(pattern):
        matches = sorted(p for p in glob.glob(pattern, recursive=True))
        files = [p for p in matches if Path(p).is_file()]
        if not files:
            raise SourceFileNotFoundError(
                f"{section}.file_path: the glob {pattern} matches no file. "
                "Check the path (relative paths start at the config file's folder)."
            )
        return files
    path = Path(pattern)
    if path.is_dir():
        raise SourceError(
            f"{section}.file_path: {path} is a directory, not a file. "
            "Point it at a file, or at a glob such as 'folder/*.csv'."
        )
    if not path.exists():
        label = "Engagement" if section == "engagement_data" else "Purchase"
        raise SourceFileNotFoundError(
            f"{label} data file not found: {path} ({section}.file_path). "
            "Relative paths start at the config file's folder."
        )
    return [str(path)]


def _raw_relation(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    files: list[str],
    scan: str,
    quoteless: bool = False,
) -> duckdb.DuckDBPyRelation:
    """The source files as DuckDB sees them, with `filename` (and `file_row_number`, Parquet).

    `quoteless` reads a CSV file without quote characters: it has a line with an unbalanced
    quote, which would otherwise swallow every line after it into one field.
    """
    if source.format == "csv" and source.csv.delimiter == "whitespace":
        return _whitespace_relation(con, source, files)
    if source.format == "csv":
        return _csv_relation(con, source, files, scan, quoteless)
    if source.format == "json":
        return con.sql(
            "SELECT * FROM read_json(?, format = 'auto', filename = true)", params=[files]
        )
    return con.sql(
        "SELECT * FROM read_parquet(?, filename = true, file_row_number = true)", params=[files]
    )


def _csv_relation(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    files: list[str],
    scan: str,
    quoteless: bool,
) -> duckdb.DuckDBPyRelation:
    options = [
        "header = true",
        "all_varchar = true",
        "filename = true",
        "store_rejects = true",
        f"rejects_table = {quote_literal(scan + '_errors')}",
        f"rejects_scan = {quote_literal(scan + '_scans')}",
    ]
    params: list[object] = [files]
    if source.csv.delimiter is not None:
        options.append("delim = ?")
        params.append(source.csv.delimiter)
    if not source.csv.header:
        options[0] = "header = false"
        options.append("names = ?")
        params.append(list(source.csv.column_names or []))
    if source.csv.encoding != "utf-8":
        options.append("encoding = ?")
        params.append(source.csv.encoding)
    if quoteless:
        options += ["quote = ''", "escape = ''"]
    return con.sql(f"SELECT * FROM read_csv(?, {', '.join(options)})", params=params)


def _whitespace_relation(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, files: list[str]
) -> duckdb.DuckDBPyRelation:
    """Fields separated by runs of spaces or tabs (fixed-width-ish exports such as CDNOW)."""
    names = list(source.csv.column_names or [])
    if source.csv.header:
        with open(files[0], encoding=source.csv.encoding) as fh:
            names = fh.readline().split()
    fields = ", ".join(f"split[{i + 1}] AS {quote_ident(name)}" for i, name in enumerate(names))
    lines = con.sql(
        "SELECT line, filename FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = chr(1), "
        "quote = '', escape = '', header = ?, filename = true)",
        params=[files, source.csv.header],
    )
    return lines.query(
        "lines",
        f"SELECT {fields}, filename FROM (SELECT regexp_split_to_array(trim(line), '\\s+') AS split, "
        "filename FROM lines WHERE trim(line) <> '')",
    )


def _line_endings(path: str, limit: int = 64 << 20) -> tuple[int, int]:
    """Lines ending in CR LF and lines ending in LF alone, in the first `limit` bytes of a
    file (only read when it could not be read as delimited text); none for a path that is
    no single file (the message's "one of N files")."""
    if not Path(path).is_file():
        return 0, 0
    with open(path, "rb") as fh:
        data = fh.read(limit)
    crlf = data.count(b"\r\n")
    return crlf, data.count(b"\n") - crlf


def explain_read_error(section: str, fmt: str, files: list[str], exc: Exception) -> SourceError:
    """A file DuckDB cannot read, explained in our words (the library's text is not shown)."""
    text = str(exc)
    where = next((f for f in files if f in text), None)
    if where is None:
        where = files[0] if len(files) == 1 else f"one of {len(files)} files ({files[0]}, ...)"
    if fmt == "json":
        byte = re.search(r"at byte (\d+)", text)
        near = f" (near byte {byte.group(1)})" if byte else ""
        why = (
            f"it is not valid JSON{near}: malformed or cut off. It must be a JSON array of "
            "objects or JSON Lines (one object per line); re-export it"
        )
    elif fmt == "parquet":
        why = (
            "it is not a Parquet file, or it is cut off or damaged. Re-export it, or set "
            f"{section}.format to the file's real format (csv, json)"
        )
    elif "sniff" not in text and re.search(r"encod|unicode|utf", text, re.IGNORECASE):
        why = f"it is not text in the configured encoding; set {section}.csv.encoding"
    elif all(endings := _line_endings(where)):
        crlf, lf = endings
        why = (
            f"its lines end two ways ({crlf:,} with CR LF, {lf:,} with LF alone), as when "
            "rows are added by another program, and the reader cannot tell its layout. Save "
            "it again with one kind of line ending (an editor or spreadsheet does, on save)"
        )
    else:
        why = (
            "it does not look like delimited text (binary data, or an unusual delimiter or "
            f"quoting). Check that it is a text export, and set {section}.csv.delimiter "
            f"and {section}.csv.encoding if needed"
        )
    return SourceError(f"{section}: cannot read {where} as {fmt}: {why}.")


def scan_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: SourceConfig,
    section: str,
    columns: dict[str, str | None],
    files: list[str] | None = None,
    time_column: str | None = None,
) -> SourceScan:
    """Read a source's mapped columns as text, each row tagged with its file and row number.

    `files` reads only those of the source's files (default: every file it names).
    `time_column` (a canonical name) gets its typed value in TYPED_TIME where the file has
    one (NULL where it is text), so typed timestamps need not be parsed from text.
    `columns` maps canonical names to source column names (None: not mapped). A mapped
    column missing from the file is one clear error naming the file, the column and the
    columns the file does have. Null spellings (`null_values`) become NULL here, and a
    nested JSON or Parquet value is named in the NESTED column (its text kept as JSON).
    """
    files = files if files is not None else expand_source_paths(config, source, section)
    empty = [f for f in files if Path(f).stat().st_size == 0]
    if empty:
        raise SourceError(
            f"{section}: {empty[0]} is empty (0 bytes). Remove it or re-export it; a file with "
            "only a header line is fine and loads no rows."
        )
    scan = f"scan_{next(_scan_ids)}"
    # Parquet numbers its rows itself; text formats are read file by file so each file is
    # numbered on its own (CSV by its place in the parsed table, whitespace files by a
    # streaming row_number()).
    groups = [files] if source.format == "parquet" else [[f] for f in files]
    file_sql = _file_enum_sql(files)  # one type for every group: their rows are unioned
    parts = [
        _scan_group(con, source, section, columns, group, f"{scan}_{i}", time_column, file_sql)
        for i, group in enumerate(groups)
    ]
    time_typed = all(typed for _, typed in parts)
    malformed = None
    if _is_delimited(source):
        rows, malformed = _with_csv_line_numbers(
            con, [rel for rel, _ in parts], scan, section, files, int(source.csv.header)
        )
    else:
        rows = functools.reduce(lambda a, b: a.union(b), (rel for rel, _ in parts))
        # whitespace files: one record per non-blank line after the header
        offset = int(source.csv.header) if source.format == "csv" else 0
        rows = rows.query(
            "r", f"SELECT * EXCLUDE (_record), _record + {offset} AS {SOURCE_ROW} FROM r"
        )
    return SourceScan(rows=rows, malformed=malformed, files=files, time_typed=time_typed)


def _is_delimited(source: SourceConfig) -> bool:
    """CSV read by DuckDB's CSV parser (not whitespace-separated)."""
    return source.format == "csv" and source.csv.delimiter != "whitespace"


def _scan_group(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    section: str,
    columns: dict[str, str | None],
    group: list[str],
    name: str,
    time_column: str | None,
    file_sql: str,
) -> tuple[duckdb.DuckDBPyRelation, bool]:
    """One file (all files, Parquet) as text columns, NESTED, TYPED_TIME, the file (by
    `file_sql`, `_file_enum_sql` of the scan's files) and a record number; and whether the
    time column is typed."""
    quoteless = _is_delimited(source) and _find_broken_quotes(con, source, group[0], name) > 0
    try:
        raw = _raw_relation(con, source, group, name, quoteless)
        types = {c: str(t) for c, t in zip(raw.columns, raw.types, strict=True)}
    except duckdb.Error as exc:
        raise explain_read_error(section, source.format, group, exc) from None
    available = [c for c in types if c not in ("filename", "file_row_number")]
    _require_columns(section, group[0], columns, available)
    selected = ", ".join(
        f"{_text_sql(name, types[name], source, quoteless)} AS {quote_ident(canonical)}"
        if name is not None
        else f"CAST(NULL AS VARCHAR) AS {quote_ident(canonical)}"
        for canonical, name in columns.items()
    )
    nested = [
        f"WHEN {_nested_sql(name, types[name])} THEN {quote_literal(canonical)}"
        for canonical, name in columns.items()
        if name is not None and _may_nest(types[name])
    ]
    nested_sql = f"CASE {' '.join(nested)} END" if nested else "CAST(NULL AS VARCHAR)"
    if source.format == "parquet":
        record = "file_row_number + 1"
    elif _is_delimited(source):
        record = "CAST(NULL AS BIGINT)"  # its place in the parsed table (_with_csv_line_numbers)
    else:
        record = "row_number() OVER ()"
    time_name = columns.get(time_column) if time_column else None
    time_typed = time_name is not None and types[time_name].startswith(_TIME_TYPES)
    typed = f"CAST({quote_ident(time_name)} AS TIMESTAMP)" if time_typed else "NULL"
    rel = raw.query(
        "raw",
        f"SELECT {selected}, {nested_sql} AS {NESTED}, "
        f"CAST({typed} AS TIMESTAMP) AS {TYPED_TIME}, {file_sql} AS {SOURCE_FILE}, "
        f"{record} AS _record FROM raw",
    )
    return rel, time_typed


def _file_enum_sql(scan_files: list[str]) -> str:
    """Each row's file as an ENUM of the scan's files, sorted (so ordering by it is ordering
    by the path). A path as text is a copy on every row: a year of events at 1,000,000
    customers held 2.4 GB of them in the parsed CSV, spilled to disk past the memory cap;
    an ENUM holds a one-byte code a row and reads back as the same text."""
    values = ", ".join(quote_literal(f) for f in sorted(set(scan_files)))
    return f"CAST(filename AS ENUM({values}))"


def _may_nest(duck_type: str) -> bool:
    """Whether a column of this type can hold objects or arrays (JSON, STRUCT, MAP, LIST)."""
    return duck_type == "JSON" or duck_type.endswith("]") or duck_type.startswith(_NESTED_TYPES)


_NESTED_TYPES = ("STRUCT", "MAP", "UNION")


def _nested_sql(name: str, duck_type: str) -> str:
    col = quote_ident(name)
    if duck_type == "JSON":  # mixed scalars and objects: decided value by value
        return f"json_type({col}) IN ('OBJECT', 'ARRAY')"
    return f"{col} IS NOT NULL"


def _text_sql(name: str, duck_type: str, source: SourceConfig, quoteless: bool) -> str:
    """A source column as text, NULL for the configured null spellings.

    JSON strings lose their JSON quotes; nested values keep their JSON text (the row is
    quarantined as nested_value). In a file read without quoting, a field wholly inside
    quotes is unquoted (doubled quotes inside it become one) as a CSV parser would.
    """
    col = quote_ident(name)
    if duck_type == "JSON":
        text = f"json_extract_string({col}, '$')"
    elif _may_nest(duck_type):
        text = f"CAST(to_json({col}) AS VARCHAR)"
    else:
        text = f"CAST({col} AS VARCHAR)"
    if quoteless:
        quoted = "'^\\s*\"(.*)\"\\s*$'"
        text = (
            f"CASE WHEN regexp_matches({text}, {quoted}) "
            f"THEN replace(regexp_extract({text}, {quoted}, 1), '\"\"', '\"') ELSE {text} END"
        )
    # A typed value (a number, a timestamp) never spells a null token: only text is checked.
    if not source.null_values or duck_type not in ("VARCHAR", "JSON"):
        return text
    tokens = [v.strip() for v in source.null_values]
    listed = ", ".join(quote_literal(v) for v in tokens)
    # Only a short text, or one with spaces around it, can trim to a token: the length
    # test spares trimming and looking up the long values (ids, names) of every row.
    could_be = (
        f"(length({text}) <= {max(map(len, tokens))} "
        f"OR starts_with({text}, ' ') OR ends_with({text}, ' '))"
    )
    return f"CASE WHEN {could_be} AND trim({text}) IN ({listed}) THEN NULL ELSE {text} END"


def _find_broken_quotes(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, path: str, name: str
) -> int:
    """Record the lines of `path` with an odd number of quote characters in `{name}_quotes`.

    Records are one per line in the exports we read, so an odd count is an unterminated or
    stray quote. The file is read as raw lines: as UTF-8 when it is (the faster read), else
    as latin-1, which decodes any byte (a quote is the same byte in both), so a bad byte
    cannot shift the line numbers. A file that cannot even be read as lines is left to the
    CSV reader to report.
    """
    lines = (
        "read_csv(?, columns = {'text': 'VARCHAR'}, header = false, delim = chr(1), "
        "quote = '', escape = '', encoding = ?, filename = true)"
    )
    odd = "(strlen({0}) - strlen(replace({0}, '\"', ''))) % 2 = 1"
    for encoding in _line_encodings(source):
        try:
            # Most files have no such line: counted in parallel first, the lines are
            # numbered (a pass in file order) only when some line has an odd count.
            odd_lines = scalar(
                con, f"SELECT count(*) FROM {lines} WHERE {odd.format('text')}", [[path], encoding]
            )
            break
        except duckdb.Error:
            continue
    else:
        return _no_broken_quotes(con, name)
    if not odd_lines:
        return _no_broken_quotes(con, name)
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {name}_quotes AS
            SELECT filename AS file_path, line, csv_line FROM (
                SELECT filename, row_number() OVER () AS line, text AS csv_line FROM {lines}
            )
            WHERE line > ? AND {odd.format("csv_line")}
            """,
            [[path], encoding, int(source.csv.header)],
        )
    except duckdb.Error:
        return _no_broken_quotes(con, name)
    return int(scalar(con, f"SELECT count(*) FROM {name}_quotes"))


def _line_encodings(source: SourceConfig) -> list[str]:
    """How to read a file's raw lines, in the order to try: UTF-8 reads about 40% faster
    than latin-1 (0.9 s against 1.6 s for the events at 100,000 customers); latin-1 reads
    any bytes at all."""
    if source.csv.encoding == "utf-16":
        return ["utf-16"]
    return ["utf-8", "latin-1"] if source.csv.encoding == "utf-8" else ["latin-1"]


def _no_broken_quotes(con: duckdb.DuckDBPyConnection, name: str) -> int:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_quotes "
        "(file_path VARCHAR, line BIGINT, csv_line VARCHAR)"
    )
    return 0


def _require_columns(
    section: str, path: str, columns: dict[str, str | None], available: list[str]
) -> None:
    for canonical, name in columns.items():
        if name is not None and name not in available:
            close = [c for c in available if c.strip().lower() == name.strip().lower()]
            hint = f" {close[0]!r} exists: column names are case-sensitive." if close else ""
            raise SourceError(
                f"Missing required columns in {path}: {name!r} ({section}.{canonical}_column)."
                f" The file has: {', '.join(map(repr, available))}.{hint}"
            )


def _with_csv_line_numbers(
    con: duckdb.DuckDBPyConnection,
    parts: list[duckdb.DuckDBPyRelation],
    scan: str,
    section: str,
    files: list[str],
    header_lines: int,
) -> tuple[duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation]:
    """Give parsed CSV records (one relation per file) their line numbers and return the
    lines that are malformed.

    A parsed record's line is its record number + 1 (the header) + the rejected lines before
    it; this assumes one record per line, which is what a person looking a row up expects.
    Malformed lines are those the parser rejected plus those with broken quoting (a parsed
    record on such a line is taken out of the rows: its fields cannot be trusted).
    """
    _parse_into_table(con, parts, f"{scan}_parsed", section, files)
    n_scans = len(parts)
    errors = _collect_rejects(con, scan, n_scans)
    quotes = " UNION ALL ".join(f"SELECT * FROM {scan}_{i}_quotes" for i in range(n_scans))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {scan}_quotes AS {quotes}")
    malformed = _malformed_lines(con, errors, f"{scan}_quotes")
    # a record's number in its file: its place in the table after the file's first row
    parsed = (
        f"(SELECT * EXCLUDE (_first_rowid), rowid + 1 - _first_rowid AS _record FROM {scan}_parsed)"
    )
    if not fetch_all(con, f"SELECT 1 FROM {errors} UNION ALL SELECT 1 FROM {scan}_quotes LIMIT 1"):
        # Every line parsed (the usual file): a record's line is its number after the
        # header, with no join to re-run on every read of the rows.
        lined = con.sql(
            f"SELECT * EXCLUDE (_record), _record + {header_lines} AS {SOURCE_ROW} FROM {parsed}"
        )
        return lined, malformed
    lined = con.sql(
        f"""
        WITH numbered AS (
            SELECT file_path, line,
                   row_number() OVER (PARTITION BY file_path ORDER BY line) AS rejects_so_far
            FROM {errors}
        ),
        rejects AS (
            -- good_before: parsed records before this rejected line (after the header line)
            SELECT file_path, line - rejects_so_far - {header_lines} AS good_before,
                   max(rejects_so_far) AS rejects_so_far
            FROM numbered GROUP BY ALL
        ),
        lined AS (
            SELECT p.* EXCLUDE (_record),
                   p._record + {header_lines} + coalesce(r.rejects_so_far, 0) AS {SOURCE_ROW}
            FROM {parsed} p
            ASOF LEFT JOIN rejects r
              ON p.{SOURCE_FILE} = r.file_path AND p._record > r.good_before
        )
        SELECT l.* FROM lined l
        ANTI JOIN {scan}_quotes q ON q.file_path = l.{SOURCE_FILE} AND q.line = l.{SOURCE_ROW}
        """
    )
    return lined, malformed


def _parse_into_table(
    con: duckdb.DuckDBPyConnection,
    parts: list[duckdb.DuckDBPyRelation],
    table: str,
    section: str,
    files: list[str],
) -> None:
    """Parse each file's records into `table`, in file order, each row with the rowid of its
    file's first row (`_first_rowid`).

    Materialised once: the rejects tables are filled as a side effect of reading. Rows keep
    the file's order (DuckDB preserves insertion order), so a row's place in the table
    numbers it, where a row_number() window over the scan took as long again as the parse.
    """
    first_rowid = 0
    for i, part in enumerate(parts):
        part.query(
            "part", f"SELECT * EXCLUDE (_record), {first_rowid} AS _first_rowid FROM part"
        ).to_view(f"{table}_file", replace=True)
        into = f"CREATE OR REPLACE TEMP TABLE {table} AS" if i == 0 else f"INSERT INTO {table}"
        try:
            con.execute(f"{into} SELECT * FROM {table}_file")
        except duckdb.Error as exc:
            raise explain_read_error(section, "csv", files[i : i + 1], exc) from None
        first_rowid = int(scalar(con, f"SELECT count(*) FROM {table}"))


def _malformed_lines(
    con: duckdb.DuckDBPyConnection, errors: str, quotes: str
) -> duckdb.DuckDBPyRelation:
    """Rejected lines and lines with broken quoting, one row each (broken quoting wins)."""
    return con.sql(
        f"""
        SELECT file_path AS {SOURCE_FILE}, line AS {SOURCE_ROW}, column_name,
               error_type, error_message, csv_line
        FROM {errors} e
        WHERE NOT EXISTS (
            SELECT 1 FROM {quotes} q WHERE q.file_path = e.file_path AND q.line = e.line)
        UNION ALL
        SELECT file_path, line, NULL, 'UNBALANCED QUOTES',
               'the line has an odd number of quote characters', csv_line
        FROM {quotes}
        """
    )


def _collect_rejects(con: duckdb.DuckDBPyConnection, scan: str, n_scans: int) -> str:
    """One table of the lines the CSV parser rejected, in every file of the scan; its name."""
    reject_scans = [
        i
        for i in range(n_scans)
        if scalar(
            con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [f"{scan}_{i}_errors"]
        )
    ]
    errors = f"{scan}_errs"
    if not reject_scans:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {errors} (file_path VARCHAR, line BIGINT, "
            "column_name VARCHAR, error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR)"
        )
        return errors
    union = " UNION ALL ".join(
        f"SELECT s.file_path, e.line, e.column_idx, e.column_name, e.error_type, e.csv_line, "
        f"e.error_message FROM {scan}_{i}_errors e JOIN {scan}_{i}_scans s USING (scan_id, file_id)"
        for i in reject_scans
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {errors} AS
        SELECT file_path, line, column_name, error_type, csv_line, error_message
        FROM ({union})
        -- a line may be reported once per problem; one quarantine row per line
        QUALIFY row_number() OVER (PARTITION BY file_path, line ORDER BY column_idx) = 1
        """
    )
    return errors
