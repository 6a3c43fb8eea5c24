"""Raw assets: each source's validated rows of their day, and the rows it quarantined."""

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.defs.errors import user_errors
from engagement_pipeline.defs.partitions import partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.ingestion.validation import Validated
from engagement_pipeline.lake import connection
from engagement_pipeline.markdown import markdown_table

RAW_GROUP = "raw"


def _ingest(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    validate: Callable[[duckdb.DuckDBPyConnection, Config, object, object], Validated],
    loaded_name: str,
    quarantine_name: str,
) -> Iterator[dg.Output]:
    con = connection()
    first, last = partition_dates(context)
    result = validate(con, settings.load(), first, last)
    quarantined = result.quarantined  # noqa: F841 - referenced by name in the SQL below
    reasons = con.sql(
        "SELECT reason, count(*) AS rows FROM quarantined GROUP BY 1 ORDER BY 2 DESC, 1"
    ).df()
    n_quarantined = int(reasons["rows"].sum()) if len(reasons) else 0
    n_loaded = result.loaded.aggregate("count(*)").fetchall()[0][0]
    # Online Retail II orders group several source lines; rows read are counted in lines.
    source_rows = result.loaded.aggregate(
        "coalesce(sum(line_count), 0)" if "line_count" in result.loaded.columns else "count(*)"
    ).fetchall()[0][0]
    context.log.info(
        f"{first}..{last}: {source_rows + n_quarantined} rows read, {source_rows} loaded, "
        f"{n_quarantined} quarantined"
    )
    yield dg.Output(
        result.loaded,
        output_name=loaded_name,
        metadata={
            "rows_read": int(source_rows + n_quarantined),
            "rows_loaded": int(source_rows),
            "rows_quarantined": n_quarantined,
            "records_written": int(n_loaded),
            "preview": dg.MetadataValue.md(markdown_table(result.loaded.limit(10).df())),
        },
    )
    yield dg.Output(
        result.quarantined,
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


def _ingestion_asset(
    partitions_def: dg.PartitionsDefinition,
    policy: dg.BackfillPolicy,
    name: str,
    validate: Callable[[duckdb.DuckDBPyConnection, Config, object, object], Validated],
    loaded: tuple[str, str],
    quarantined: tuple[str, str],
    description: str,
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
    )
    def ingestion(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> Iterator[dg.Output]:
        with user_errors():
            yield from _ingest(context, settings, validate, loaded[0], quarantined[0])

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
        ),
    ]
