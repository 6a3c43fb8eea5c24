"""Raw assets: each source's validated rows of their day, and the rows it quarantined."""

import datetime as dt
from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.defs.checks import (
    QUARANTINE_CONTRACTS,
    RAW_EVENT_CONTRACTS,
    RAW_PURCHASE_CONTRACTS,
    Contract,
    check_results,
    check_specs,
)
from engagement_pipeline.defs.errors import user_errors
from engagement_pipeline.defs.partitions import dates_between, partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.ingestion.validation import Validated
from engagement_pipeline.lake import Lake, connection, materialize
from engagement_pipeline.markdown import markdown_table
from engagement_pipeline.quality import (
    CheckOutcome,
    quarantine_outcomes,
    quarantine_share_check,
    raw_event_outcomes,
    raw_purchase_outcomes,
    row_count_check,
)

RAW_GROUP = "raw"


TRAILING_DAYS = 28
MAX_QUARANTINE_SHARE = 0.05


def _ingest(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    validate: Callable[[duckdb.DuckDBPyConnection, Config, object, object], Validated],
    loaded_name: str,
    quarantine_name: str,
    contracts: list[Contract],
    outcomes: Callable[[duckdb.DuckDBPyRelation, Config], dict[str, CheckOutcome]],
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    con = connection()
    config = settings.load()
    first, last = partition_dates(context)
    result = validate(con, config, first, last)
    loaded = materialize(con, result.loaded, loaded_name)
    quarantined = materialize(con, result.quarantined, quarantine_name)
    # Online Retail II orders group several source lines; rows are counted in source lines.
    lines = "sum(line_count)" if "line_count" in loaded.columns else "count(*)"
    per_day = {
        d: n
        for d, n in loaded.aggregate(
            f"CAST(snapshot_date AS VARCHAR), {lines}", "snapshot_date"
        ).fetchall()
    }
    quarantined_per_day = dict(
        quarantined.aggregate(
            "CAST(snapshot_date AS VARCHAR), count(*)", "snapshot_date"
        ).fetchall()
    )
    reasons = (
        quarantined.aggregate("reason, count(*) AS rows", "reason").order("rows DESC, reason").df()
    )
    n_loaded, n_quarantined = int(sum(per_day.values())), int(sum(quarantined_per_day.values()))
    days = [d.isoformat() for d in dates_between(first, last)]
    read = {d: int(per_day.get(d, 0) + quarantined_per_day.get(d, 0)) for d in days}
    context.log.info(
        f"{first}..{last}: {n_loaded + n_quarantined} rows read, {n_loaded} loaded, "
        f"{n_quarantined} quarantined"
    )
    yield dg.Output(
        loaded,
        output_name=loaded_name,
        metadata={
            "rows_read": n_loaded + n_quarantined,
            "rows_loaded": n_loaded,
            "rows_quarantined": n_quarantined,
            "records_written": int(loaded.aggregate("count(*)").fetchall()[0][0]),
            "preview": dg.MetadataValue.md(markdown_table(loaded.limit(10).df())),
        },
    )
    yield dg.Output(
        quarantined,
        output_name=quarantine_name,
        metadata={
            "rows_quarantined": n_quarantined,
            "reasons": dg.MetadataValue.md(markdown_table(reasons) if len(reasons) else "none"),
            **{
                f"reason/{r}": int(n)
                for r, n in zip(reasons["reason"], reasons["rows"], strict=True)
            },
        },
    )
    lake = Lake(config.lake_dir)
    trailing_start = first - dt.timedelta(days=TRAILING_DAYS)
    trailing_keys = [
        d.isoformat() for d in dates_between(trailing_start, first - dt.timedelta(days=1))
    ]
    trailing = lake.row_counts(con, loaded_name, trailing_keys)
    trailing_quarantined = sum(lake.row_counts(con, quarantine_name, trailing_keys).values())
    trailing_read = sum(trailing.values()) + trailing_quarantined
    written = {
        d: int(n)
        for d, n in loaded.aggregate(
            "CAST(snapshot_date AS VARCHAR), count(*)", "snapshot_date"
        ).fetchall()
    }
    found = outcomes(loaded, config)
    found["row_count_near_trailing_mean"] = row_count_check(
        {d: written.get(d, 0) for d in days}, trailing
    )
    found["quarantine_share"] = quarantine_share_check(
        read,
        quarantined_per_day,
        MAX_QUARANTINE_SHARE,
        trailing_quarantined / trailing_read if trailing_read else None,
    )
    yield from check_results(contracts, found)
    yield from check_results(
        QUARANTINE_CONTRACTS[quarantine_name], quarantine_outcomes(quarantined)
    )


def _ingestion_asset(
    partitions_def: dg.PartitionsDefinition,
    policy: dg.BackfillPolicy,
    name: str,
    validate: Callable[[duckdb.DuckDBPyConnection, Config, object, object], Validated],
    loaded: tuple[str, str],
    quarantined: tuple[str, str],
    description: str,
    contracts: list[Contract],
    outcomes: Callable[[duckdb.DuckDBPyRelation, Config], dict[str, CheckOutcome]],
) -> dg.AssetsDefinition:
    """One ingestion step: a source's loaded rows and its quarantined rows, from one read."""

    def out(asset_description: str) -> dg.AssetOut:
        return dg.AssetOut(
            description=asset_description, group_name=RAW_GROUP, kinds={"duckdb", "parquet"}
        )

    @dg.multi_asset(
        name=name,
        description=description,
        outs={loaded[0]: out(loaded[1]), quarantined[0]: out(quarantined[1])},
        partitions_def=partitions_def,
        backfill_policy=policy,
        can_subset=False,
        check_specs=check_specs(contracts + QUARANTINE_CONTRACTS[quarantined[0]], partitions_def),
    )
    def ingestion(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        with user_errors():
            yield from _ingest(
                context, settings, validate, loaded[0], quarantined[0], contracts, outcomes
            )

    return ingestion


def build_raw_assets(
    partitions_def: dg.PartitionsDefinition, policy: dg.BackfillPolicy
) -> list[dg.AssetsDefinition]:
    quarantine_row = "that was not loaded, with its file, row, column and reason code."
    return [
        _ingestion_asset(
            partitions_def,
            policy,
            "engagement_events_ingestion",
            validate_events,
            (
                "raw_engagement_events",
                "One engagement event of the partition's day, in the canonical schema.",
            ),
            ("quarantined_engagement_events", f"One engagement source row {quarantine_row}"),
            "Reads the engagement source and splits its rows of the run's days into loaded and quarantined.",
            RAW_EVENT_CONTRACTS,
            lambda rel, _config: raw_event_outcomes(rel),
        ),
        _ingestion_asset(
            partitions_def,
            policy,
            "purchases_ingestion",
            validate_purchases,
            (
                "raw_purchases",
                "One purchase order of the partition's day, in the canonical schema.",
            ),
            (
                "quarantined_purchases",
                f"One purchase source row (a line, for Online Retail II) {quarantine_row}",
            ),
            "Reads the purchase source and splits its rows of the run's days into orders and quarantined rows.",
            RAW_PURCHASE_CONTRACTS,
            lambda rel, config: raw_purchase_outcomes(rel, config.purchase_data.allow_zero_amounts),
        ),
    ]
