"""What every snapshot asset shares: its earlier rows as an input, and one way to build it.

A snapshot asset describes each customer as of the end of its date. It reads the raw rows
of its own day (same-day partitions) and its own earlier rows (the previous day's state,
and where it has a window the day before the window starts), never the whole history; a
range of dates is one pass. See docs/architecture.md, "Incremental snapshots".
"""

import datetime as dt
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import dagster as dg
import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.defs.checks import Contract, check_specs, partition_check_results
from engagement_pipeline.defs.errors import asset_step
from engagement_pipeline.defs.metadata import record_partition_metadata
from engagement_pipeline.defs.partitions import earlier_in, partition_keys
from engagement_pipeline.defs.resources import ROW_ORDER, EarlierPartitions, PipelineSettings
from engagement_pipeline.defs.runs import run_progress
from engagement_pipeline.errors import LakeError
from engagement_pipeline.lake import InLake, connection, materialize, open_lake
from engagement_pipeline.quality import CheckOutcome, DateOutcomes
from engagement_pipeline.stages import Lookback, Stage

OWNER = "team:customer-analytics"
EARLIER = "earlier"  # the input name of an asset's own earlier rows

# (the computed rows, connection, inputs, the run's config) -> outcome of each check
SnapshotOutcomes = Callable[
    [
        duckdb.DuckDBPyRelation,
        duckdb.DuckDBPyConnection,
        Mapping[str, duckdb.DuckDBPyRelation],
        Config,
    ],
    Mapping[str, CheckOutcome | DateOutcomes],
]


def source_link(module_file: str) -> dict:
    """The module that defines the asset (its computation and checks), linked in the UI."""
    with warnings.catch_warnings():
        # Code references are beta; only that warning is silenced.
        warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*CodeReference")
        return {
            "dagster/code_references": dg.CodeReferencesMetadataValue(
                code_references=[
                    dg.LocalFileCodeReference(file_path=str(Path(module_file).resolve()))
                ]
            )
        }


def asset_out(
    description: str, group: str, owner: str, kinds: set[str], layer: str, module_file: str
) -> dg.AssetOut:
    """An output of a multi-asset, described like the single assets (owner, tags, version,
    link to its module)."""
    return dg.AssetOut(
        description=description,
        group_name=group,
        kinds=kinds,
        owners=[owner],
        tags={"layer": layer},
        code_version="1",
        metadata=source_link(module_file),
    )


def require_earlier(
    asset: str, earlier: EarlierPartitions, dates: list[dt.date], lookback: Lookback, config: Config
) -> duckdb.DuckDBPyRelation | None:
    """The asset's earlier rows the run builds on; a clear failure when a date it needs is
    missing (never compute from a gap)."""
    start, first = config.snapshots.start_date, min(dates)
    needed = {n for d in dates for n in lookback.needed(d, config) if start <= n < first}
    missing = sorted(n for n in needed if n.isoformat() not in earlier.keys)
    if missing:
        resume = resume_date(asset, missing[0], config)
        raise LakeError(
            f"{asset} for {first} is built from its own rows of {missing[0]}"
            + (f" (and {len(missing) - 1} other earlier dates)" if len(missing) > 1 else "")
            + f", which are not in the lake. Materialize {asset} from {resume} on "
            f"(a backfill in the UI, or `engagement-pipeline run --from {resume}`); "
            "snapshots are built day by day from the previous day's"
            + (
                f", and {asset} has no partition from {resume} to {missing[0]}."
                if resume < missing[0]
                else "."
            )
        )
    return earlier.rows


def resume_date(asset: str, missing: dt.date, config: Config) -> dt.date:
    """Where a backfill that fills a missing partition must start: the day after the last
    partition the asset has before it, or the first snapshot date when it has none (an
    asset new to the lake). Starting at the missing day itself would only move the same
    failure one day back."""
    before = [k for k in open_lake(config).existing_keys(asset) if k < missing.isoformat()]
    if not before:
        return config.snapshots.start_date
    return dt.date.fromisoformat(max(before)) + dt.timedelta(days=1)


def snapshot_asset(
    stage: Stage,
    group: str,
    contracts: list[Contract],
    outcomes: SnapshotOutcomes,
    config: Config,
    common: dict,
    module_file: str,
    preview_order: str = "customer_id",
) -> dg.AssetsDefinition:
    """A snapshot asset from its stage: same-day inputs, its own earlier rows when it has
    state, and one materialization and check evaluation per date with that date's figures."""
    name, lookback = stage.name, stage.lookback
    ins = {a: dg.AssetIn(a) for a in stage.inputs}
    if lookback is not None:
        ins[EARLIER] = earlier_in(name, lookback.days(config))

    @dg.asset(
        name=name,
        description=stage.description,
        group_name=group,
        ins=ins,
        kinds={config.engine, "parquet"},
        owners=[OWNER],
        tags={"layer": "snapshot"},
        code_version="1",
        metadata={
            **source_link(module_file),
            **({ROW_ORDER: stage.row_order} if stage.row_order else {}),
        },
        check_specs=check_specs(contracts, common["partitions_def"]),
        **common,
    )
    @asset_step
    def snapshot(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        **upstream: duckdb.DuckDBPyRelation,
    ) -> Iterator:
        con, run_config = connection(), settings.load()
        keys = partition_keys(context)
        dates = [dt.date.fromisoformat(k) for k in keys]
        state = upstream.pop(EARLIER) if lookback is not None else None
        earlier = (
            require_earlier(name, state, dates, lookback, run_config) if state is not None else None
        )
        began = time.perf_counter()
        if run_config.engine == "spark":
            # optional dependency (the spark extra): imported only when configured
            from engagement_pipeline.engines.spark_lake import run_stage

            # Spark reads the same partitions from the lake and writes the run's own;
            # metadata and checks below read what it wrote.
            rows = sum(
                run_stage(
                    run_config,
                    stage,
                    {a: context.asset_partition_keys_for_input(a) for a in upstream},
                    sorted(state.keys) if state is not None else [],
                    dates,
                    keys,
                ).values()
            )
            result = open_lake(run_config).read(con, name, keys)
            output = InLake(result)
        else:
            computed = stage.compute(con, upstream, dates, run_config, earlier)
            result = output = materialize(con, computed, name)
            rows = result.aggregate("count(*)").fetchall()[0][0]
        context.log.info(run_progress(keys, rows, time.perf_counter() - began))
        record_partition_metadata(
            context, name, result, keys, stage.figures, preview_order=preview_order
        )
        yield dg.Output(output)
        yield from partition_check_results(
            context, contracts, outcomes(result, con, upstream, run_config), keys
        )

    return snapshot
