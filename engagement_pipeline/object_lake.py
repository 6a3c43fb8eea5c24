"""The lake in an S3-compatible object store (`storage.lake_path: s3://bucket/prefix`).

Same layout as a local lake, `<asset>/snapshot_date=<YYYY-MM-DD>/`, but S3 has no atomic
rename, so a partition is replaced by a pointer switch, not by renaming over the old file:

- the new rows are uploaded as an object under a fresh name, `part-<uuid>.parquet`;
- then the partition's pointer object, `_CURRENT`, is overwritten with that name. A PUT of
  an object is atomic (a reader gets the whole old or the whole new object), so a reader
  resolves the pointer to one complete file, never half a partition and never a mix;
- the file the pointer named before is kept (a reader that resolved it a moment ago can
  finish); files older than that, and uploads whose pointer switch never happened (a
  writer that died), are deleted at the partition's next replacement, once they are an
  hour older than the new file: a younger one may be another run's upload of the same
  date, about to switch (two runs writing one date at once: the last switch wins, as the
  last rename does in a folder lake).

Partitions are independent: parallel runs writing different dates never touch the same
pointer. Everything goes through Arrow's own S3 client (built into pyarrow), which both
engines read with: DuckDB scans an Arrow dataset of the current files, Spark reads and
writes them in its Python workers (`engines.spark_lake`), so neither needs an S3 plug-in.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from engagement_pipeline.errors import LakeError
from engagement_pipeline.lake import PARTITION_COLUMN, Lake

POINTER_FILE = "_CURRENT"
PART_PREFIX = "part-"
# An upload no pointer names is deleted only when it is this much older than the new file.
STALE_AFTER = dt.timedelta(hours=1)
# Pointer reads and small uploads wait on the network, not the CPU: overlap them.
_IO_THREADS = 16
HIVE_DATES = ds.partitioning(pa.schema([(PARTITION_COLUMN, pa.date32())]), flavor="hive")


def s3_filesystem(endpoint_url: str | None, region: str | None) -> pafs.S3FileSystem:
    """Arrow's S3 client; credentials from the environment, as any AWS client takes them."""
    options: dict[str, str] = {}
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme)
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


# What the store's error says, in our words (AWS error names, as Arrow reports them).
_STORE_ERRORS = [
    (r"NO_SUCH_BUCKET|NoSuchBucket", "the bucket does not exist: create it first"),
    (
        r"ACCESS_DENIED|AccessDenied|INVALID_ACCESS_KEY|SignatureDoesNotMatch|InvalidAccessKeyId",
        "the store refused the credentials: check AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment",
    ),
    (
        r"NETWORK_CONNECTION|Couldn't connect|curlCode|Connection refused|resolve host",
        "the store cannot be reached: check storage.s3.endpoint_url and that the store is up",
    ),
]


@contextmanager
def store_errors(what: str, uri: str) -> Iterator[None]:
    """An object-store failure as one message: what was being done, where, and what to check."""
    try:
        yield
    except OSError as exc:
        text = str(exc)
        reason = next(
            (said for pattern, said in _STORE_ERRORS if re.search(pattern, text)),
            "the store answered with an error; check storage.s3 in the config and the "
            "credentials in the environment",
        )
        raise LakeError(f"Could not {what} in the lake {uri}: {reason}.") from None


class ObjectLake(Lake):
    """A hive-partitioned Parquet lake under an s3:// URI; partitions switch by pointer."""

    def __init__(self, uri: str, endpoint_url: str | None = None, region: str | None = None):
        self.uri = uri.rstrip("/")
        self.endpoint_url, self.region = endpoint_url, region
        self.bucket_path = self.uri.removeprefix("s3://")  # Arrow's paths have no scheme
        self.fs = s3_filesystem(endpoint_url, region)
        self.stale_after = STALE_AFTER

    def asset_dir(self, asset: str) -> str:  # type: ignore[override]  # a URI, not a Path
        return f"{self.uri}/{asset}"

    def _folder(self, asset: str, key: str | None = None) -> str:
        folder = f"{self.bucket_path}/{asset}"
        return folder if key is None else f"{folder}/{PARTITION_COLUMN}={key}"

    def existing_keys(self, asset: str) -> set[str]:
        """Dates with a pointer: a partition whose first upload never switched does not exist."""
        selector = pafs.FileSelector(self._folder(asset), recursive=True, allow_not_found=True)
        with store_errors(f"list {asset}", self.uri):
            found = self.fs.get_file_info(selector)
        prefix = f"{PARTITION_COLUMN}="
        return {
            info.path.rsplit("/", 2)[-2].removeprefix(prefix)
            for info in found
            if info.base_name == POINTER_FILE
        }

    # -- reading -----------------------------------------------------------------------

    def _files(self, asset: str, keys: Sequence[str]) -> list[str]:
        """The file each partition's pointer names now (Arrow paths: bucket/...)."""
        pointers = [f"{self._folder(asset, key)}/{POINTER_FILE}" for key in keys]
        with store_errors(f"read the pointers of {asset}", self.uri):
            names = self._in_threads(self._read_text, pointers)
        return [f"{self._folder(asset, key)}/{name}" for key, name in zip(keys, names, strict=True)]

    def read(
        self, con: duckdb.DuckDBPyConnection, asset: str, keys: Iterable[str]
    ) -> duckdb.DuckDBPyRelation:
        """The rows of the given partitions, with their snapshot_date, as a lazy relation
        (DuckDB scans an Arrow dataset of the current files: columns and filters pushed down)."""
        dataset = self.dataset(asset, keys)
        return con.from_arrow(dataset)

    def dataset(self, asset: str, keys: Iterable[str]) -> ds.Dataset:
        """The current files of the partitions as one Arrow dataset. Its schema is every
        file's, unified as DuckDB unifies a local lake's files: a column all NULL in one
        file (an empty day's) takes its type from the others."""
        files = self.partition_files(asset, keys)
        with store_errors(f"open {asset}", self.uri):
            factory = ds.FileSystemDatasetFactory(
                self.fs,
                files,
                ds.ParquetFileFormat(),
                ds.FileSystemFactoryOptions(
                    partition_base_dir=self._folder(asset), partitioning=HIVE_DATES
                ),
            )
            return factory.finish(factory.inspect(fragments=None))

    def _file_rows(self, con: duckdb.DuckDBPyConnection, files: list[str]) -> list[int]:
        """Each file's row count, from its Parquet footer (read through the store)."""
        with store_errors("read row counts", self.uri):
            return self._in_threads(
                lambda f: pq.read_metadata(f, filesystem=self.fs).num_rows, files
            )

    # -- writing -----------------------------------------------------------------------

    def replace_partitions(
        self, asset: str, keys: Sequence[str], stage: Callable[[Path], dict[str, int]]
    ) -> dict[str, int]:
        """As a local lake's, but the staged files are uploaded under fresh names and each
        partition then switches by its pointer (see the module's docstring)."""
        with tempfile.TemporaryDirectory(prefix="engagement-staging-") as staging:
            counts = stage(Path(staging))
            names = {key: _fresh_name() for key in keys}
            with store_errors(f"upload {asset}", self.uri):
                self._in_threads(
                    lambda key: pafs.copy_files(
                        str(Path(staging) / f"{key}.parquet"),
                        f"{self._folder(asset, key)}/{names[key]}",
                        source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.fs,
                    ),
                    list(keys),
                )
        self.publish(asset, names)
        return {key: int(counts.get(key, 0)) for key in keys}

    def new_object(self, asset: str, key: str) -> str:
        """A fresh object path for a partition's next file (an engine uploads it itself,
        then calls `publish`)."""
        return f"{self._folder(asset, key)}/{_fresh_name()}"

    def publish(self, asset: str, names: Mapping[str, str]) -> None:
        """Switch each partition's pointer to its uploaded file (`names`: date -> file
        name), then delete what neither the new nor the previous pointer names and is
        `stale_after` older than the new file (by the store's clock)."""

        def switch(key: str) -> None:
            folder = self._folder(asset, key)
            pointer = f"{folder}/{POINTER_FILE}"
            previous = self._read_text(pointer) if self._exists(pointer) else None
            with self.fs.open_output_stream(pointer) as out:
                out.write(names[key].encode())
            keep = {names[key], previous, POINTER_FILE}
            listing = self.fs.get_file_info(pafs.FileSelector(folder))
            written = next(i.mtime for i in listing if i.base_name == names[key])
            for info in listing:  # a handful of files: superseded or abandoned uploads
                if info.base_name not in keep and info.mtime <= written - self.stale_after:
                    self.fs.delete_file(info.path)

        with store_errors(f"switch the partitions of {asset}", self.uri):
            self._in_threads(switch, list(names))

    # -- catalog -----------------------------------------------------------------------

    def ensure_view(self, asset: str) -> None:
        """No local catalog for an object-store lake: its current files are behind pointers
        a view over a glob cannot follow (read it with `engagement-pipeline report`, the
        dashboard or the API)."""

    def rebuild_catalog(self) -> list[str]:
        raise LakeError(
            f"The lake {self.uri} is in an object store: it has no local DuckDB catalog "
            "(its partitions are found through pointers, not a folder glob). Read it with "
            "`engagement-pipeline report`, the dashboard or the API."
        )

    # -- helpers -----------------------------------------------------------------------

    def _read_text(self, path: str) -> str:
        with self.fs.open_input_stream(path) as stream:
            return stream.read().decode().strip()

    def _exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    @staticmethod
    def _in_threads(function: Callable, items: Sequence) -> list:
        if len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(min(_IO_THREADS, len(items))) as pool:
            return list(pool.map(function, items))


def _fresh_name() -> str:
    """A partition file's name never used before: files are immutable once written."""
    return f"{PART_PREFIX}{uuid.uuid4().hex}.parquet"
