"""The lake read and written by Spark: the same hive-partitioned Parquet files DuckDB uses.

Reads take exactly the partition files a run's inputs name (as the DuckDB engine does);
writes stage one file per date and switch each partition with the lake's own replace
(`Lake.replace_partitions`), so a reader never sees half a partition, whatever engine
wrote it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engagement_pipeline.analytics.clv_fits import WarmStart, fit_and_predict
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.config import Config
from engagement_pipeline.engines.spark import (
    SparkConnection,
    SparkRelation,
    spark_connection,
    spark_errors,
    spark_log_file,
)
from engagement_pipeline.errors import LakeError
from engagement_pipeline.lake import PARTITION_COLUMN, Lake, check_dates, open_lake
from engagement_pipeline.object_lake import ObjectLake, s3_filesystem, store_errors
from engagement_pipeline.stages import CUSTOMER_CLV, RAW_PURCHASES, Stage


def read_partitions(
    con: SparkConnection, lake: Lake, asset: str, keys: Iterable[str]
) -> SparkRelation:
    """The rows of the given partitions with their snapshot_date (a DATE), lazily."""
    if isinstance(lake, ObjectLake):
        return SparkRelation(con, _read_objects(con, lake, asset, keys))
    files = lake.partition_files(asset, keys)
    frame = (
        con.session.read.option("basePath", str(lake.asset_dir(asset)))
        .option("recursiveFileLookup", "false")
        .parquet(*files)
    )
    return SparkRelation(con, frame)


def write_partitions(
    lake: Lake, asset: str, relation: SparkRelation, keys: Sequence[str]
) -> dict[str, int]:
    """Replace the partitions `keys` of `asset` with the relation's rows: one Parquet file
    per date (an empty one, with the schema, for a date without rows)."""
    from pyspark.sql import functions as F  # optional dependency: only the Spark engine needs it

    if PARTITION_COLUMN not in relation.columns:
        raise LakeError(f"{asset}: value has no {PARTITION_COLUMN} column to partition by")
    frame = relation.frame.withColumn(PARTITION_COLUMN, F.col(PARTITION_COLUMN).cast("date"))
    if isinstance(lake, ObjectLake):
        return _write_objects(lake, asset, frame, keys)

    def stage(staging: Path) -> dict[str, int]:
        out = staging / "spark"
        # all of a date's rows in one task: one file per date, computed in one job
        frame.repartition(F.col(PARTITION_COLUMN)).write.partitionBy(PARTITION_COLUMN).parquet(
            str(out)
        )
        written = {
            d.name.removeprefix(f"{PARTITION_COLUMN}="): sorted(d.glob("*.parquet"))
            for d in out.glob(f"{PARTITION_COLUMN}=*")
        }
        counts = {
            key: sum(pq.read_metadata(f).num_rows for f in files) for key, files in written.items()
        }
        check_dates(asset, counts, keys)
        schema = _data_schema(frame, out, written)
        for key in keys:
            files = written.get(key, [])
            if len(files) == 1:
                files[0].rename(staging / f"{key}.parquet")
            else:  # no rows that day (or, defensively, several files): one file
                tables = [pq.read_table(f) for f in files] or [schema.empty_table()]
                pq.write_table(pa.concat_tables(tables), staging / f"{key}.parquet")
        return counts

    return lake.replace_partitions(asset, keys, stage)


def _data_schema(frame, out: Path, written: dict[str, list[Path]]) -> pa.Schema:
    """The columns of a partition file (without the partition column), as Spark wrote them."""
    for files in written.values():
        if files:
            return pq.read_schema(files[0])
    empty = out.parent / "empty"
    frame.drop(PARTITION_COLUMN).limit(0).coalesce(1).write.parquet(str(empty))
    return pq.read_schema(next(empty.glob("*.parquet")))


# -- an object-store lake: Spark's Python workers read and write through Arrow's S3 client,
# so the cluster needs no Hadoop S3 connector; the switch itself is the lake's pointer.

# A task reads a few partition files: enough tasks to spread, few enough to start quickly.
_FILES_PER_TASK = 4


def _read_objects(con: SparkConnection, lake: ObjectLake, asset: str, keys: Iterable[str]):
    """The current files of the partitions, read in the executors (a task per few files)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    keys = sorted(set(keys))
    files = lake.partition_files(asset, keys)
    schema = lake.dataset(asset, keys).schema.remove_metadata()  # every file's, unified
    data = schema.remove(schema.get_field_index(PARTITION_COLUMN))
    endpoint, region = lake.endpoint_url, lake.region

    def read(listing: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store = s3_filesystem(endpoint, region)
        for batch in listing:
            for path, day in zip(batch["path"].to_pylist(), batch["day"].to_pylist(), strict=True):
                for rows in pq.ParquetFile(path, filesystem=store).iter_batches():
                    dates = pa.array(np.full(rows.num_rows, np.datetime64(day, "D")), pa.date32())
                    yield pa.RecordBatch.from_arrays(
                        [*rows.cast(data).columns, dates], schema=schema
                    )

    listing = con.session.createDataFrame(
        list(zip(files, keys, strict=True)), "path string, day string"
    )
    tasks = max(1, -(-len(files) // _FILES_PER_TASK))
    return listing.repartition(tasks).mapInArrow(read, from_arrow_schema(schema))


def _write_objects(lake: ObjectLake, asset: str, frame, keys: Sequence[str]) -> dict[str, int]:
    """Each date's rows written by one task as one object under a fresh name, then every
    partition switched by its pointer (an empty file, with the schema, for a date without rows)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    objects = {key: lake.new_object(asset, key) for key in keys}
    endpoint, region = lake.endpoint_url, lake.region

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store, writers, rows = s3_filesystem(endpoint, region), {}, {}
        for batch in batches:
            days = batch.column(PARTITION_COLUMN)
            for day in pc.unique(days).to_pylist():  # a task holds whole dates: few of them
                part = batch.filter(pc.equal(days, day)).drop_columns([PARTITION_COLUMN])
                key = day.isoformat()
                rows[key] = rows.get(key, 0) + part.num_rows
                if key not in objects:  # outside the run: counted, refused below, not written
                    continue
                if key not in writers:
                    stream = store.open_output_stream(objects[key])
                    writers[key] = (stream, pq.ParquetWriter(stream, part.schema))
                writers[key][1].write_batch(part)
        for stream, writer in writers.values():
            writer.close()
            stream.close()  # the upload completes here: the object appears whole
        yield pa.RecordBatch.from_pydict({"day": list(rows), "rows": list(rows.values())})

    written = (
        frame.repartition(F.col(PARTITION_COLUMN))
        .mapInArrow(write, "day string, rows long")
        .collect()
    )
    counts = {row["day"]: int(row["rows"]) for row in written}
    check_dates(asset, counts, keys)
    empty = to_arrow_schema(frame.drop(PARTITION_COLUMN).schema).empty_table()
    with store_errors(f"write {asset}", lake.uri):
        for key in sorted(set(keys) - set(counts)):
            pq.write_table(empty, objects[key], filesystem=lake.fs)
    lake.publish(asset, {key: path.rsplit("/", 1)[1] for key, path in objects.items()})
    return {key: counts.get(key, 0) for key in keys}


def run_stage(
    config: Config,
    stage: Stage,
    input_keys: Mapping[str, Sequence[str]],
    earlier_keys: Sequence[str],
    dates: list[dt.date],
    keys: Sequence[str],
) -> dict[str, int]:
    """One snapshot stage for a run's dates on Spark: its inputs read from the lake (the
    partitions `input_keys` names; its own earlier rows from `earlier_keys`), computed by
    the stage's own code, written back as the run's partitions. Returns each date's rows."""
    lake, con = open_lake(config), spark_connection(config)
    with spark_errors(f"{stage.name} for {_span(keys)}", spark_log_file(config)):
        inputs = {name: read_partitions(con, lake, name, ks) for name, ks in input_keys.items()}
        earlier = read_partitions(con, lake, stage.name, earlier_keys) if earlier_keys else None
        rows = stage.compute(con, inputs, dates, config, earlier)
        return write_partitions(lake, stage.name, rows, keys)


def run_clv(
    config: Config,
    purchase_keys: Sequence[str],
    earlier_keys: Sequence[str],
    dates: list[dt.date],
    keys: Sequence[str],
    warm: WarmStart | None,
    log: Callable[[dt.date, str, bool], None],
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The CLV asset's dates on Spark: summaries from the raw purchases and the previous
    date's state, the fits on the weighted tables only, the predictions in the executors;
    customer_clv's partitions written. Returns the fitted parameters and each date's status."""
    lake, con = open_lake(config), spark_connection(config)
    with spark_errors(f"{CUSTOMER_CLV} for {_span(keys)}", spark_log_file(config)):
        purchases = read_partitions(con, lake, RAW_PURCHASES, purchase_keys)
        earlier = read_partitions(con, lake, CUSTOMER_CLV, earlier_keys) if earlier_keys else None
        summaries = transaction_summary(con, purchases, dates, config.clv.time_unit_days, earlier)
        fitted = fit_and_predict(con, summaries, dates, config, warm, log)
        write_partitions(lake, CUSTOMER_CLV, fitted.customers, keys)
    return fitted.parameters, fitted.statuses


def _span(keys: Sequence[str]) -> str:
    """The run's dates as a failure message names them."""
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"
