"""The lake read and written by Spark: the same hive-partitioned Parquet files DuckDB uses.

Reads take exactly the partition files a run's inputs name (as the DuckDB engine does);
writes stage one file per date and switch each partition with the lake's own replace
(`Lake.replace_partitions`), so a reader never sees half a partition, whatever engine
wrote it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
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
from engagement_pipeline.lake import PARTITION_COLUMN, Lake, check_dates
from engagement_pipeline.stages import CUSTOMER_CLV, RAW_PURCHASES, Stage


def read_partitions(
    con: SparkConnection, lake: Lake, asset: str, keys: Iterable[str]
) -> SparkRelation:
    """The rows of the given partitions with their snapshot_date (a DATE), lazily."""
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
    lake, con = Lake(config.lake_dir), spark_connection(config)
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
    lake, con = Lake(config.lake_dir), spark_connection(config)
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
