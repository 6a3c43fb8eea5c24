"""The Parquet lake: one file per asset partition, atomic replace, and a DuckDB catalog of views.

Layout: <root>/<asset>/snapshot_date=<YYYY-MM-DD>/data.parquet. Writers produce a complete
file in <root>/.staging and rename it over the old one, so a reader (or a crash) never sees
half a partition. The partition column lives in the path (hive partitioning), not the file.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from engagement_pipeline.config import Config
from engagement_pipeline.errors import LakeError
from engagement_pipeline.sql import (
    fetch_all,
    list_sql,
    new_connection,
    quote_ident,
    quote_literal,
)

PARTITION_COLUMN = "snapshot_date"
DATA_FILE = "data.parquet"
CATALOG_FILE = "catalog.duckdb"

log = logging.getLogger(__name__)
_local = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection: relations passed between IO manager and asset share it."""
    con = getattr(_local, "con", None)
    if con is None:
        con = new_connection(
            threads=int(os.environ["ENGAGEMENT_DUCKDB_THREADS"])
            if os.environ.get("ENGAGEMENT_DUCKDB_THREADS")
            else None,
            memory_limit=os.environ.get("ENGAGEMENT_DUCKDB_MEMORY_LIMIT") or None,
        )
        _local.con = con
    return con


def temp_objects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    """The connection's own tables and views, as (TABLE or VIEW, database, name): its
    temporary ones and those of its in-memory database (where a relation's `create_view`
    puts its view)."""
    mine = "database_name IN ('temp', current_database()) AND schema_name = 'main'"
    tables = fetch_all(
        con, f"SELECT 'TABLE', database_name, table_name FROM duckdb_tables() WHERE {mine}"
    )
    views = fetch_all(
        con,
        f"SELECT 'VIEW', database_name, view_name FROM duckdb_views() "
        f"WHERE {mine} AND NOT internal",
    )
    return {tuple(row) for row in [*tables, *views]}


@contextmanager
def scratch_dropped() -> Iterator[None]:
    """Drop the temporary tables and views made on this thread's connection inside the block.

    Dropping only frees memory, so one that fails is left for the connection's end.
    """
    con = connection()
    before = temp_objects(con)
    try:
        yield
    finally:
        # views first, then the tables they may read
        for kind, database, name in sorted(
            temp_objects(con) - before, key=lambda o: o[0] != "VIEW"
        ):
            try:
                con.execute(
                    f"DROP {kind} IF EXISTS {quote_ident(database)}.main.{quote_ident(name)}"
                )
            except duckdb.Error as exc:
                log.debug("temporary %s %s not dropped: %s", kind.lower(), name, exc)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def as_relation(con: duckdb.DuckDBPyConnection, obj: object) -> duckdb.DuckDBPyRelation:
    """Accept a DuckDB relation or a pandas DataFrame as an asset's value."""
    if isinstance(obj, duckdb.DuckDBPyRelation):
        return obj
    if isinstance(obj, pd.DataFrame):
        return con.from_df(obj)
    raise TypeError(f"expected a DuckDB relation or pandas DataFrame, got {type(obj).__name__}")


def _is_dated_table(relation: duckdb.DuckDBPyRelation) -> bool:
    """A temp table whose partition column is already a DATE."""
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    return relation.type == "TABLE_RELATION" and types.get(PARTITION_COLUMN) == "DATE"


@dataclass(frozen=True)
class InLake:
    """An asset's value that its engine already wrote to the lake (Spark writes its own
    partitions); `rows` reads them back for metadata and checks. The IO manager does not
    write it again."""

    rows: duckdb.DuckDBPyRelation


def check_dates(asset: str, counts: Mapping[str, int], keys: Sequence[str]) -> None:
    """Rows dated outside the run's partitions are a programming error, never written."""
    stray = sorted(set(counts) - set(keys))
    if stray:
        raise LakeError(
            f"{asset}: rows dated {stray[:3]} fall outside the partitions {keys[0]}..{keys[-1]}"
        )


def materialize(
    con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, name: str
) -> duckdb.DuckDBPyRelation:
    """Compute a lazy relation once into a temp table, so previews, checks and the write reuse it.

    The table is not named after the asset: a later run on the same thread (the CLI's runs,
    a partial selection) would find it before the Python variable of that name which a
    computation's SQL means (DuckDB resolves catalog tables before replacement scans).
    """
    if relation.type == "TABLE_RELATION" and relation.alias.startswith("_computed_"):
        return relation  # computed once already (by an engine step before the asset's)
    table = f"_computed_{name}"
    relation.create_view(f"{table}__lazy", replace=True)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS SELECT * FROM {quote_ident(table + '__lazy')}"
    )
    return con.table(table)


# Landing writes a whole source by day in one COPY: hundreds of partitions of a few
# thousand to a few hundred thousand rows. DuckDB's writers flush after 524,288 rows (its
# default), so a year's days sat in memory until the end and, past the memory cap, spilled:
# the events of 1,000,000 customers took 72 to 91 s to write by day where one file took
# 28 s. Flushing every 16,384 rows, with a file open for every day of a span, writes them
# in 31 to 39 s, in row groups of about 30,000 rows.
_DAY_WRITE_SETTINGS = {
    "partitioned_write_flush_threshold": 16_384,
    "partitioned_write_max_open_files": 1_000,
}


def copy_by_day(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """The rows of `query` written under `folder` as snapshot_date=<day>/ Parquet files."""
    names = list(_DAY_WRITE_SETTINGS)
    saved = fetch_all(
        con, "SELECT name, value FROM duckdb_settings() WHERE list_contains(?, name)", [names]
    )
    try:
        for name, value in _DAY_WRITE_SETTINGS.items():
            con.execute(f"SET {name} = {value}")
        con.execute(
            f"COPY ({query}) TO {quote_literal(str(folder))} "
            "(FORMAT parquet, PARTITION_BY (snapshot_date), OVERWRITE_OR_IGNORE)"
        )
    finally:
        for name, value in saved:
            con.execute(f"SET {name} = {int(value)}")


def parquet_rows(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> list[int]:
    """Each local Parquet file's row count, from its footer (no data is read)."""
    if not files:
        return []
    rows = dict(
        fetch_all(
            con,
            "SELECT file_name, sum(num_rows) FROM parquet_file_metadata(?) GROUP BY 1",
            [list(files)],
        )
    )
    return [int(rows.get(f, 0)) for f in files]


def lake_at(location: str, endpoint_url: str | None = None, region: str | None = None) -> Lake:
    """The lake at a folder or an s3:// URI (`endpoint_url`, `region`: the store's, for s3)."""
    if location.startswith("s3://"):
        from engagement_pipeline.object_lake import ObjectLake  # it builds on this module

        return ObjectLake(location, endpoint_url, region)
    return Lake(location)


def open_lake(config: Config) -> Lake:
    """The configured lake (`storage.lake_path`, and `storage.s3` for an object store)."""
    s3 = config.storage.s3
    return lake_at(config.lake_location, s3.endpoint_url, s3.region)


class Lake:
    """A hive-partitioned Parquet lake rooted at one folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def asset_dir(self, asset: str) -> Path:
        return self.root / asset

    def partition_file(self, asset: str, key: str) -> Path:
        return self.asset_dir(asset) / f"{PARTITION_COLUMN}={key}" / DATA_FILE

    def existing_keys(self, asset: str) -> set[str]:
        prefix = f"{PARTITION_COLUMN}="
        folder = self.asset_dir(asset)
        if not folder.is_dir():
            return set()
        return {p.parent.name.removeprefix(prefix) for p in folder.glob(f"{prefix}*/{DATA_FILE}")}

    # -- writing -----------------------------------------------------------------------

    def write(
        self,
        con: duckdb.DuckDBPyConnection,
        asset: str,
        relation: duckdb.DuckDBPyRelation,
        keys: Sequence[str],
        order_by: str | None = None,
    ) -> dict[str, int]:
        """Replace the partitions `keys` of `asset` with the rows of `relation`.

        The relation carries a snapshot_date column; every key gets a file, an empty one
        (with the schema) when it has no rows, so "computed, nothing that day" differs from
        "never computed". Rows dated outside `keys` are a programming error. `order_by`
        (columns) sorts each file's rows as they are written.
        """
        if PARTITION_COLUMN not in relation.columns:
            raise LakeError(f"{asset}: value has no {PARTITION_COLUMN} column to partition by")

        def stage(staging: Path) -> dict[str, int]:
            source = relation  # noqa: F841 - referenced by name in the SQL below
            out = "_lake_out"
            try:
                if _is_dated_table(relation):
                    out = relation.alias  # computed once already (`materialize`): no copy
                else:
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT * REPLACE "
                        f"(CAST({PARTITION_COLUMN} AS DATE) AS {PARTITION_COLUMN}) FROM source"
                    )
                counts = dict(
                    fetch_all(
                        con,
                        f"SELECT CAST({PARTITION_COLUMN} AS VARCHAR), count(*) FROM {out} GROUP BY 1",
                    )
                )
                check_dates(asset, counts, keys)
                self._stage_partitions(
                    con, out, con.table(out).columns, keys, set(counts), staging, order_by
                )
                return counts
            finally:
                con.execute("DROP TABLE IF EXISTS _lake_out")

        return self.replace_partitions(asset, keys, stage)

    def replace_partitions(
        self, asset: str, keys: Sequence[str], stage: Callable[[Path], dict[str, int]]
    ) -> dict[str, int]:
        """Replace the partitions `keys` of `asset` with the files `stage` writes, one
        `<key>.parquet` per key, into a fresh staging folder (it returns the row count of
        each key that has rows). Each partition is switched with one rename: a reader sees
        the old file or the new one, never half of one. Any engine stages its own way."""
        self._remove_abandoned_staging()
        staging = self.root / ".staging" / f"{os.getpid()}-{uuid.uuid4().hex}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            counts = stage(staging)
            for key in keys:
                target = self.partition_file(asset, key)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / f"{key}.parquet", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.ensure_view(asset)
        return {key: int(counts.get(key, 0)) for key in keys}

    def copy_partitions(
        self,
        con: duckdb.DuckDBPyConnection,
        asset: str,
        keys: Sequence[str],
        files: Mapping[str, Sequence[str]],
        empty: str,
    ) -> dict[str, int]:
        """Replace the partitions `keys` of `asset` with finished Parquet files: `files`
        maps a key to its files (written elsewhere in this lake's form), `empty` is the file
        of the columns alone for a key without any. One file is linked (copied across
        disks); several are combined into one."""

        def stage(staging: Path) -> dict[str, int]:
            for key in keys:
                parts = list(files.get(key, ())) or [empty]
                target = staging / f"{key}.parquet"
                if len(parts) > 1:
                    self._copy(con, f"SELECT * FROM read_parquet({list_sql(parts)})", target)
                    continue
                try:
                    os.link(parts[0], target)
                except OSError:  # another disk, or links not allowed
                    shutil.copyfile(parts[0], target)
            # the staged files are local whatever the lake (an object lake uploads them)
            counts = parquet_rows(con, [str(staging / f"{k}.parquet") for k in keys])
            return dict(zip(keys, counts, strict=True))

        return self.replace_partitions(asset, keys, stage)

    def _stage_partitions(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        columns: list[str],
        keys: Sequence[str],
        with_rows: set[str],
        staging: Path,
        order_by: str | None = None,
    ) -> None:
        """Write `table` as one `<key>.parquet` per key into `staging` (each file's rows in
        `order_by` order, when given); `with_rows` are the keys that have rows."""
        data_columns = ", ".join(quote_ident(c) for c in columns if c != PARTITION_COLUMN)
        order = f" ORDER BY {order_by}" if order_by else ""
        blank = staging / "_no_rows.parquet"

        def copy_one(key: str) -> None:
            if key not in with_rows:  # the schema alone: written once, copied for the others
                if not blank.exists():  # a year of empty quarantine was 730 COPY queries
                    self._copy(
                        con, f"SELECT {data_columns} FROM {quote_ident(table)} LIMIT 0", blank
                    )
                shutil.copyfile(blank, staging / f"{key}.parquet")
                return
            self._copy(
                con,
                f"SELECT {data_columns} FROM {quote_ident(table)} WHERE {PARTITION_COLUMN} = DATE "
                f"{quote_literal(key)}{order}",
                staging / f"{key}.parquet",
            )

        if len(keys) == 1 or not with_rows:
            for key in keys:
                copy_one(key)
            return
        # One pass writes every partition of a range; empty ones are added after.
        con.execute(
            f"COPY (SELECT * FROM {quote_ident(table)}"
            + (f" ORDER BY {PARTITION_COLUMN}, {order_by}" if order_by else "")
            + f") TO {quote_literal(str(staging / 'range'))} "
            f"(FORMAT parquet, PARTITION_BY ({PARTITION_COLUMN}), "
            f"FILENAME_PATTERN 'part', OVERWRITE_OR_IGNORE)"
        )
        for key in keys:
            written = list((staging / "range" / f"{PARTITION_COLUMN}={key}").glob("*.parquet"))
            if len(written) == 1:
                written[0].rename(staging / f"{key}.parquet")
            else:
                copy_one(key)

    def _remove_abandoned_staging(self) -> None:
        """Delete staging folders left by writers that died (their process is gone)."""
        folder = self.root / ".staging"
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)

    @staticmethod
    def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
        con.execute(f"COPY ({query}) TO {quote_literal(str(path))} (FORMAT parquet)")

    # -- reading -----------------------------------------------------------------------

    def read(
        self,
        con: duckdb.DuckDBPyConnection,
        asset: str,
        keys: Iterable[str],
    ) -> duckdb.DuckDBPyRelation:
        """The rows of the given partitions, with their snapshot_date, as a lazy relation."""
        return con.sql(
            "SELECT * FROM read_parquet(?, hive_partitioning = true, "
            "hive_types = {'snapshot_date': DATE})",
            params=[self.partition_files(asset, keys)],
        )

    def partition_files(self, asset: str, keys: Iterable[str]) -> list[str]:
        """The files of the given partitions; a clear error naming the first missing ones."""
        keys = sorted(set(keys))
        missing = sorted(set(keys) - self.existing_keys(asset))
        if missing:
            span = (
                missing[0]
                if len(missing) == 1
                else f"{missing[0]} .. {missing[-1]} ({len(missing)} days)"
            )
            raise LakeError(
                f"{asset} has no partition for {span} in {self.asset_dir(asset)}. "
                f"Materialize {asset} for those dates first (a backfill in the UI, or "
                "`engagement-pipeline run --from ... --to ...`)."
            )
        if not keys:
            raise LakeError(f"{asset}: no partitions requested")
        return self._files(asset, keys)

    def _files(self, asset: str, keys: Sequence[str]) -> list[str]:
        """The file of each of `keys` (all of which exist)."""
        return [str(self.partition_file(asset, k)) for k in keys]

    def row_counts(
        self, con: duckdb.DuckDBPyConnection, asset: str, keys: Iterable[str]
    ) -> dict[str, int]:
        """Row counts of those of `keys` that exist, from Parquet metadata (no data is read)."""
        present = sorted(set(keys) & self.existing_keys(asset))
        if not present:
            return {}
        return dict(zip(present, self._file_rows(con, self._files(asset, present)), strict=True))

    def _file_rows(self, con: duckdb.DuckDBPyConnection, files: list[str]) -> list[int]:
        """Each file's row count, from its Parquet footer."""
        return parquet_rows(con, files)

    # -- catalog -----------------------------------------------------------------------

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    def view_sql(self, asset: str) -> str:
        pattern = str(self.asset_dir(asset) / f"{PARTITION_COLUMN}=*" / DATA_FILE)
        return (
            f"CREATE OR REPLACE VIEW {quote_ident(asset)} AS SELECT * FROM read_parquet("
            f"{quote_literal(pattern)}, hive_partitioning = true, "
            "hive_types = {'snapshot_date': DATE}, union_by_name = true)"
        )

    def ensure_view(self, asset: str) -> None:
        """Add a view for `asset` to the catalog if it has none; never blocks or fails a run.

        The view is over the folder's glob, so later partitions appear without touching
        the catalog again; another process holding the catalog's lock just means it is
        doing the same thing, so the attempt is skipped.
        """
        marker = self.asset_dir(asset) / ".in_catalog"
        if marker.exists():
            return
        try:
            with duckdb.connect(str(self.catalog_path)) as cat:
                cat.execute(self.view_sql(asset))
            marker.touch()
        except duckdb.Error as exc:  # typically "Could not set lock on file"
            log.info(
                "catalog view for %s not added now (%s); it will be on a later run", asset, exc
            )

    def rebuild_catalog(self) -> list[str]:
        """Recreate the catalog's views for every asset folder in the lake."""
        assets = (
            sorted(
                p.name
                for p in self.root.iterdir()
                if p.is_dir() and not p.name.startswith(".") and any(p.glob(f"*/{DATA_FILE}"))
            )
            if self.root.is_dir()
            else []
        )
        with duckdb.connect(str(self.catalog_path)) as cat:
            for asset in assets:
                cat.execute(self.view_sql(asset))
        for asset in assets:
            (self.asset_dir(asset) / ".in_catalog").touch()
        return assets
