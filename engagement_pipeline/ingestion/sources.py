"""Reading a configured source (CSV, JSON or Parquet; one file or a glob) into DuckDB as text columns."""

from __future__ import annotations

import glob
import itertools
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engagement_pipeline.config import Config, SourceConfig
from engagement_pipeline.errors import SourceError, SourceFileNotFoundError
from engagement_pipeline.sql import quote_ident, scalar

# Names of the bookkeeping columns every scanned row carries.
SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"

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
    con: duckdb.DuckDBPyConnection, source: SourceConfig, files: list[str], scan: str
) -> duckdb.DuckDBPyRelation:
    """The source files as DuckDB sees them, with `filename` (and `file_row_number`, Parquet)."""
    if source.format == "csv" and source.csv.delimiter == "whitespace":
        return _whitespace_relation(con, source, files)
    if source.format == "csv":
        options = [
            "header = true",
            "all_varchar = true",
            "filename = true",
            "store_rejects = true",
            f"rejects_table = '{scan}_errors'",
            f"rejects_scan = '{scan}_scans'",
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
        return con.sql(f"SELECT * FROM read_csv(?, {', '.join(options)})", params=params)
    if source.format == "json":
        return con.sql(
            "SELECT * FROM read_json(?, format = 'auto', filename = true)", params=[files]
        )
    return con.sql(
        "SELECT * FROM read_parquet(?, filename = true, file_row_number = true)", params=[files]
    )


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


_FORMAT_HINTS = {
    "csv": "check the delimiter, quoting and encoding ({section}.csv), and that it is text",
    "json": "it must be a JSON array of objects or JSON Lines (one object per line)",
    "parquet": "it must be a Parquet file",
}


def _explain_read_error(section: str, fmt: str, files: list[str], exc: Exception) -> SourceError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = next((f for f in files if f in str(exc)), None)
    if where is None:
        where = files[0] if len(files) == 1 else f"one of {len(files)} files ({files[0]}, ...)"
    hint = _FORMAT_HINTS[fmt].format(section=section)
    return SourceError(f"{section}: cannot read {where} as {fmt}: {text} ({hint}).")


def scan_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: SourceConfig,
    section: str,
    columns: dict[str, str | None],
) -> SourceScan:
    """Read a source's mapped columns as text, each row tagged with its file and row number.

    `columns` maps canonical names to source column names (None: not mapped). A mapped
    column missing from the file is one clear error naming the file, the column and the
    columns the file does have.
    """
    files = expand_source_paths(config, source, section)
    empty = [f for f in files if Path(f).stat().st_size == 0]
    if empty:
        raise SourceError(
            f"{section}: {empty[0]} is empty (0 bytes). Remove it or re-export it; a file with "
            "only a header line is fine and loads no rows."
        )
    scan = f"scan_{next(_scan_ids)}"
    # Parquet numbers its rows itself; text formats are read file by file so a streaming
    # row_number() numbers each file without holding the whole source in a window.
    groups = [files] if source.format == "parquet" else [[f] for f in files]
    parts = []
    for i, group in enumerate(groups):
        try:
            raw = _raw_relation(con, source, group, f"{scan}_{i}")
            available = [c for c in raw.columns if c not in ("filename", "file_row_number")]
        except duckdb.Error as exc:
            raise _explain_read_error(section, source.format, group, exc) from None
        _require_columns(section, group[0], columns, available)
        selected = ", ".join(
            f"CAST({quote_ident(name)} AS VARCHAR) AS {quote_ident(canonical)}"
            if name is not None
            else f"CAST(NULL AS VARCHAR) AS {quote_ident(canonical)}"
            for canonical, name in columns.items()
        )
        record = "file_row_number + 1" if source.format == "parquet" else "row_number() OVER ()"
        parts.append(
            raw.query(
                "raw", f"SELECT {selected}, filename AS {SOURCE_FILE}, {record} AS _record FROM raw"
            )
        )
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.union(part)
    malformed = None
    if source.format == "csv" and source.csv.delimiter != "whitespace":
        rows, malformed = _with_csv_line_numbers(
            con, rows, scan, section, files, len(groups), int(source.csv.header)
        )
    elif source.format == "csv":
        offset = int(source.csv.header)
        rows = rows.query(
            "r", f"SELECT * EXCLUDE (_record), _record + {offset} AS {SOURCE_ROW} FROM r"
        )
    else:
        rows = rows.query("r", f"SELECT * EXCLUDE (_record), _record AS {SOURCE_ROW} FROM r")
    return SourceScan(rows=rows, malformed=malformed, files=files)


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
    rows: duckdb.DuckDBPyRelation,
    scan: str,
    section: str,
    files: list[str],
    n_scans: int,
    header_lines: int,
) -> tuple[duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation]:
    """Give parsed CSV records their line numbers and return the lines the parser rejected.

    A parsed record's line is its record number + 1 (the header) + the rejected lines before
    it; this assumes one record per line, which is what a person looking a row up expects.
    """
    # Materialise the scan once: the rejects tables are filled as a side effect of reading.
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {scan}_parsed AS SELECT * FROM rows")
    except duckdb.Error as exc:
        raise _explain_read_error(section, "csv", files, exc) from None
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
    else:
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
        )
        SELECT p.* EXCLUDE (_record),
               p._record + {header_lines} + coalesce(r.rejects_so_far, 0) AS {SOURCE_ROW}
        FROM {scan}_parsed p
        ASOF LEFT JOIN rejects r
          ON p.{SOURCE_FILE} = r.file_path AND p._record > r.good_before
        """
    )
    malformed = con.sql(
        f"""
        SELECT file_path AS {SOURCE_FILE}, line AS {SOURCE_ROW}, column_name,
               error_type, error_message, csv_line
        FROM {errors}
        """
    )
    return lined, malformed
