"""Landing: each source file is read and validated once, kept by day, reused until it changes.

A run used to read the whole source for its few days; with a year in one export file that
is a year read per day. Now each source file is landed once into
<lake>/.landing/<section>/<fingerprint>/ (its rows validated one by one and written by
day, see `validation.land_rows`), and a run reads only the landed days it needs: its own
days, and one id column of the others to find reused ids. The fingerprint covers the file
(path, size, modification and change times), the source and snapshot settings and the
ingestion code, so a changed file, setting or rule lands again; landings of a file's
earlier versions, and of files that are gone, are removed.

A source of one file (not a glob) is settled at landing instead (`settle.py`): its
repeats can only be within the file, so landing decides every row and writes the lake's
own files by day, which a run copies in.

Landing writes into a private staging folder renamed into place, so parallel runs never
see half a landing; two runs landing the same file both finish and one rename wins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import glob
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engagement_pipeline.config import Config, SourceConfig
from engagement_pipeline.ingestion.settle import LakeForm, settle_rows, settled_days
from engagement_pipeline.ingestion.sources import (
    SourceScan,
    expand_source_paths,
    scan_source,
)
from engagement_pipeline.ingestion.validation import (
    UNDATED,
    LandedFile,
    ScannedFile,
    SourceRules,
    Validated,
    classify_landed,
    land_rows,
    no_dated_row,
)
from engagement_pipeline.lake import process_alive

LANDING_FOLDER = ".landing"
MANIFEST = "manifest.json"
PARTITION_PREFIX = "snapshot_date="

# Checks a whole file must pass before its rows are landed (e.g. decimal commas).
FileCheck = Callable[[duckdb.DuckDBPyConnection, SourceScan], None]


@functools.cache
def _code_version() -> str:
    """A digest of the ingestion code and configuration model: a changed rule lands again."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("*.py"), package.parent / "config.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint(path: str, settings: str) -> str:
    stat = os.stat(path)
    key = json.dumps(
        [os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, settings]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class SourceReader:
    """What landing needs to read one source: its settings, section, column mapping,
    row rules, the lake's form of its loaded rows (`lake_form`, and the order a run's rows
    are sorted in, `order_by`), whether that form is row by row (`row_wise`: then a
    single-file source is settled at landing) and an optional whole-file check."""

    source: SourceConfig
    section: str
    columns: dict[str, str | None]
    rules: SourceRules
    lake_form: LakeForm
    order_by: str
    row_wise: bool = True
    file_check: FileCheck | None = None


def _landings(
    con: duckdb.DuckDBPyConnection, config: Config, reader: SourceReader, settle: bool
) -> list[Path]:
    """The landing folder of every file of the source (landed now, or by an earlier run
    when unchanged)."""
    root = config.work_dir / LANDING_FOLDER / reader.section
    settings = json.dumps(
        [
            reader.source.model_dump(mode="json"),
            config.snapshots.model_dump(mode="json"),
            _code_version(),
            duckdb.__version__,  # id hashes are DuckDB's own
            settle,
        ],
        sort_keys=True,
    )
    files = expand_source_paths(config, reader.source, reader.section)
    folders = []
    for path in files:
        folder = root / _fingerprint(path, settings)
        if not (folder / MANIFEST).exists():
            _land(con, config, reader, path, folder, settle)
        folders.append(folder)
    _remove_superseded(root, {f.name for f in folders}, set(files))
    return folders


def validate_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    reader: SourceReader,
    start: dt.date,
    end: dt.date,
) -> Validated:
    """The source's rows of [start, end], validated, loaded rows in the lake's form.

    A source of one file (not a glob) whose lake form is row by row is settled at landing
    and a run reads its days' finished files (`settle.settled_days`); otherwise its files
    are landed and the run's days classified (see `validation.classify_landed`)."""
    # A glob names a set of files that grows (daily exports): their ids are compared
    # across files per run, and a new file lands alone.
    settle = reader.row_wise and not glob.has_magic(reader.source.file_path)
    folders = _landings(con, config, reader, settle)
    if settle:
        return settled_days(con, folders[0], start, end, reader.order_by)
    landed = [_read_landing(con, f, reader.rules, reader.section, config) for f in folders]
    validated = classify_landed(con, landed, reader.source, reader.rules, start, end)
    loaded = validated.loaded  # noqa: F841 - referenced by name in the SQL below
    return Validated(
        loaded=con.sql(f"{reader.lake_form('loaded')} ORDER BY {reader.order_by}"),
        quarantined=validated.quarantined,
    )


def _land(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    reader: SourceReader,
    path: str,
    folder: Path,
    settle: bool,
) -> None:
    staging = folder.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        scan = scan_source(
            con,
            config,
            reader.source,
            reader.section,
            reader.columns,
            files=[path],
            time_column=reader.rules.timestamp_column,
        )
        if reader.file_check is not None:
            reader.file_check(con, scan)
        file = ScannedFile(scan, reader.source, reader.rules, config.snapshots, reader.section)
        manifest: dict = {"source_file": path}
        if settle:
            file_day = settle_rows(con, file, staging, reader.lake_form)
            manifest["file_day"] = file_day.isoformat()
        else:
            manifest["checks"] = land_rows(con, file, staging)
        (staging / MANIFEST).write_text(json.dumps(manifest))
        # another run may have landed the same file first: then its landing is kept
        with contextlib.suppress(OSError):
            os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_landing(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    rules: SourceRules,
    section: str,
    config: Config,
) -> LandedFile:
    """A landing's days and files; its undated rows' day is its first dated day."""
    manifest = json.loads((folder / MANIFEST).read_text())
    days: dict[str, list[str]] = {}
    rows = folder / "rows"
    if rows.is_dir():
        for day in sorted(rows.iterdir()):
            days[day.name.removeprefix(PARTITION_PREFIX)] = sorted(
                str(p) for p in day.glob("*.parquet")
            )
    dated = [d for d in days if d != UNDATED]
    if not dated and UNDATED in days:
        raise no_dated_row(
            con, "read_parquet(?)", rules, section, manifest["source_file"], [days[UNDATED]]
        )
    # A file without a row (only a header, or only malformed lines) files its malformed
    # lines under the first partition.
    first = min(dated) if dated else config.snapshots.start_date.isoformat()
    return LandedFile(
        source_file=manifest["source_file"],
        folder=folder,
        file_day=dt.date.fromisoformat(first),
        days=days,
        checks=[tuple(c) for c in manifest["checks"]],
    )


def _remove_superseded(root: Path, current: set[str], files: set[str]) -> None:
    """Remove landings of earlier versions of the source's files and of vanished files,
    and staging folders whose writer died."""
    for entry in root.iterdir():
        if entry.name in current:
            continue
        if entry.name.startswith(".tmp-"):
            pid = entry.name.split("-")[1]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
            continue
        try:
            landed_from = json.loads((entry / MANIFEST).read_text())["source_file"]
        except (OSError, ValueError, KeyError):
            continue
        if landed_from in files or not os.path.exists(landed_from):
            shutil.rmtree(entry, ignore_errors=True)
