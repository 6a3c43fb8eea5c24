"""Raw assets: each source's validated rows of their day and the rows it quarantined, with
their contracts. Each ingestion step, its check specs and the functions computing those
checks read together here."""

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.defs.assets.snapshots import asset_out
from engagement_pipeline.defs.checks import Contract, check_specs, partition_check_results
from engagement_pipeline.defs.errors import step_scope
from engagement_pipeline.defs.late_data import later_snapshots_note
from engagement_pipeline.defs.metadata import record_partition_metadata
from engagement_pipeline.defs.partitions import earlier_days, earlier_in, partition_keys
from engagement_pipeline.defs.resources import EarlierPartitions, PipelineSettings
from engagement_pipeline.defs.runs import REASON_METADATA_PREFIX, run_progress
from engagement_pipeline.ingestion.events import EVENT_SCHEMA, validate_events
from engagement_pipeline.ingestion.purchases import PURCHASE_SCHEMA, validate_purchases
from engagement_pipeline.ingestion.validation import OUTSIDE_SPAN_REASONS, REASON_CODES, Validated
from engagement_pipeline.lake import InLake, connection, materialize, open_lake
from engagement_pipeline.markdown import markdown_table
from engagement_pipeline.quality import (
    TOUCHPOINT_SET,
    DateOutcomes,
    in_partition_day_check,
    membership_check,
    not_null_check,
    per_date,
    positive_check,
    quarantine_share_check,
    range_check,
    row_count_check,
    schema_check,
    unique_check,
)
from engagement_pipeline.sql import values_sql
from engagement_pipeline.stages import RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES

GROUP = "raw"
OWNER = "team:data-engineering"
QUARANTINED_ENGAGEMENT_EVENTS = "quarantined_engagement_events"
QUARANTINED_PURCHASES = "quarantined_purchases"

TRAILING_DAYS = 28
MAX_QUARANTINE_SHARE = 0.05

SCHEMA = "schema"
KEYS_NOT_NULL = "keys_not_null"
UNIQUE_EVENT_IDS = "unique_event_ids"
UNIQUE_ORDER_IDS = "unique_order_ids"
TIMESTAMPS_IN_PARTITION = "timestamps_in_partition"
KNOWN_TOUCHPOINTS = "known_touchpoints"
SCORES_IN_UNIT_INTERVAL = "scores_in_unit_interval"
POSITIVE_AMOUNTS = "positive_amounts"
ROW_COUNT_NEAR_TRAILING_MEAN = "row_count_near_trailing_mean"
QUARANTINE_SHARE = "quarantine_share"
EXPLAINED_ROWS = "explained_rows"


def _trend_contracts(asset: str, quarantine: str, what: str) -> list[Contract]:
    return [
        Contract(
            asset,
            ROW_COUNT_NEAR_TRAILING_MEAN,
            f"A day's {what} count is within 0.5x..2x of the previous {TRAILING_DAYS} days' mean.",
            blocking=False,
        ),
        Contract(
            asset,
            QUARANTINE_SHARE,
            f"A day's quarantined share (rows dated outside the snapshot span aside) stays "
            f"under 5%, or under twice the previous {TRAILING_DAYS} days' share.",
            blocking=False,
            reads=(dg.AssetDep(quarantine, partition_mapping=earlier_days(TRAILING_DAYS)),),
        ),
    ]


RAW_EVENT_CONTRACTS = [
    Contract(RAW_ENGAGEMENT_EVENTS, SCHEMA, "Canonical columns are present with their types."),
    Contract(
        RAW_ENGAGEMENT_EVENTS,
        KEYS_NOT_NULL,
        "event_id, customer_id, touchpoint and event_timestamp are never null.",
    ),
    Contract(RAW_ENGAGEMENT_EVENTS, UNIQUE_EVENT_IDS, "No event id appears twice in a day."),
    Contract(
        RAW_ENGAGEMENT_EVENTS,
        TIMESTAMPS_IN_PARTITION,
        "Every event is dated on its partition's day.",
    ),
    Contract(RAW_ENGAGEMENT_EVENTS, KNOWN_TOUCHPOINTS, "Every touchpoint is one of the seven."),
    Contract(
        RAW_ENGAGEMENT_EVENTS, SCORES_IN_UNIT_INTERVAL, "engagement_score is null or in [0, 1]."
    ),
    *_trend_contracts(RAW_ENGAGEMENT_EVENTS, QUARANTINED_ENGAGEMENT_EVENTS, "event"),
]
RAW_PURCHASE_CONTRACTS = [
    Contract(RAW_PURCHASES, SCHEMA, "Canonical columns are present with their types."),
    Contract(
        RAW_PURCHASES,
        KEYS_NOT_NULL,
        "order_id, customer_id, purchase_timestamp and amount are never null.",
    ),
    Contract(RAW_PURCHASES, UNIQUE_ORDER_IDS, "No order id appears twice in a day."),
    Contract(
        RAW_PURCHASES, TIMESTAMPS_IN_PARTITION, "Every order is dated on its partition's day."
    ),
    Contract(
        RAW_PURCHASES,
        POSITIVE_AMOUNTS,
        "Every amount is > 0 (refunds are quarantined, never mixed in).",
    ),
    *_trend_contracts(RAW_PURCHASES, QUARANTINED_PURCHASES, "order"),
]
QUARANTINE_CONTRACTS = {
    name: [
        Contract(
            name,
            EXPLAINED_ROWS,
            "Every quarantined row has its source file, row and a known reason code.",
        )
    ]
    for name in (QUARANTINED_ENGAGEMENT_EVENTS, QUARANTINED_PURCHASES)
}


# -- check outcomes -----------------------------------------------------------------------


def raw_event_outcomes(rel: duckdb.DuckDBPyRelation, _config: Config) -> dict:
    return {
        SCHEMA: schema_check(rel, EVENT_SCHEMA),
        KEYS_NOT_NULL: not_null_check(
            rel, ["event_id", "customer_id", "touchpoint", "event_timestamp"]
        ),
        UNIQUE_EVENT_IDS: unique_check(rel, ["event_id"]),
        TIMESTAMPS_IN_PARTITION: in_partition_day_check(rel, "event_timestamp"),
        KNOWN_TOUCHPOINTS: membership_check(rel, "touchpoint", TOUCHPOINT_SET, "seven touchpoints"),
        SCORES_IN_UNIT_INTERVAL: range_check(rel, "engagement_score", 0.0, 1.0),
    }


def raw_purchase_outcomes(rel: duckdb.DuckDBPyRelation, config: Config) -> dict:
    """Free orders loaded under purchase_data.allow_zero_amounts are not a violation."""
    return {
        SCHEMA: schema_check(rel, PURCHASE_SCHEMA),
        KEYS_NOT_NULL: not_null_check(
            rel, ["order_id", "customer_id", "purchase_timestamp", "amount"]
        ),
        UNIQUE_ORDER_IDS: unique_check(rel, ["order_id"]),
        TIMESTAMPS_IN_PARTITION: in_partition_day_check(rel, "purchase_timestamp"),
        POSITIVE_AMOUNTS: positive_check(rel, "amount", config.purchase_data.allow_zero_amounts),
    }


def quarantine_outcomes(rel: duckdb.DuckDBPyRelation) -> dict[str, DateOutcomes]:
    """Every quarantined row says where it came from and why, with a known reason code."""
    codes = values_sql(sorted(REASON_CODES))
    return {
        EXPLAINED_ROWS: per_date(
            rel,
            f"source_file IS NULL OR source_row IS NULL OR reason IS NULL OR reason NOT IN {codes}",
            "without a source file, row or known reason code",
        )
    }


def _per_day(rel: duckdb.DuckDBPyRelation | None, value: str = "count(*)") -> dict[str, int]:
    if rel is None:
        return {}
    rows = rel.aggregate(
        f"CAST(CAST(snapshot_date AS DATE) AS VARCHAR), {value}", "snapshot_date"
    ).fetchall()
    return {d: int(n) for d, n in rows}


def _inside_span(quarantined: duckdb.DuckDBPyRelation | None) -> duckdb.DuckDBPyRelation | None:
    """Quarantined rows but those dated outside the snapshot span."""
    if quarantined is None:
        return None
    return quarantined.filter(f"reason NOT IN {values_sql(OUTSIDE_SPAN_REASONS)}")


def trend_outcomes(
    loaded: duckdb.DuckDBPyRelation,
    quarantined: duckdb.DuckDBPyRelation,
    earlier_loaded: duckdb.DuckDBPyRelation | None,
    earlier_quarantined: duckdb.DuckDBPyRelation | None,
    keys: list[str],
) -> dict[str, DateOutcomes]:
    """Each day's row count and quarantined share against the days before it. Rows dated
    outside the snapshot span count in neither the share nor the rows read: a shortened
    end_date made the share of its last day a false alarm."""
    # Online Retail II orders group several source lines; rows read are source lines.
    lines = "sum(line_count)" if "line_count" in loaded.columns else "count(*)"
    written = _per_day(loaded)
    read_loaded, rejected = _per_day(loaded, lines), _per_day(_inside_span(quarantined))
    read = {k: read_loaded.get(k, 0) + rejected.get(k, 0) for k in keys}
    history_written = _per_day(earlier_loaded)
    history_lines = _per_day(earlier_loaded, lines)
    history_rejected = _per_day(_inside_span(earlier_quarantined))
    history = {
        d: (history_lines.get(d, 0) + history_rejected.get(d, 0), history_rejected.get(d, 0))
        for d in history_written.keys() | history_rejected.keys()
    }
    return {
        ROW_COUNT_NEAR_TRAILING_MEAN: row_count_check(
            {k: written.get(k, 0) for k in keys}, history_written, TRAILING_DAYS
        ),
        QUARANTINE_SHARE: quarantine_share_check(
            read, rejected, history, MAX_QUARANTINE_SHARE, TRAILING_DAYS
        ),
    }


ACCOUNTING = ("rows_read", "rows_loaded", "rows_quarantined")


def row_accounting(
    loaded: duckdb.DuckDBPyRelation, quarantined: duckdb.DuckDBPyRelation
) -> dict[str, dict[str, int]]:
    """Per day: source rows read = loaded + quarantined (Online Retail II loads orders, so
    loaded rows are counted in the source lines they came from)."""
    lines = "sum(line_count)" if "line_count" in loaded.columns else "count(*)"
    read_loaded, rejected = _per_day(loaded, lines), _per_day(quarantined)
    return {
        d: {
            "rows_read": read_loaded.get(d, 0) + rejected.get(d, 0),
            "rows_loaded": read_loaded.get(d, 0),
            "rows_quarantined": rejected.get(d, 0),
        }
        for d in read_loaded.keys() | rejected.keys()
    }


# -- ingestion steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One ingestion step: a source's loaded and quarantined assets and their rules."""

    step: str
    loaded: str
    loaded_description: str
    quarantined: str
    quarantined_description: str
    description: str
    validate: Callable[[duckdb.DuckDBPyConnection, Config, object, object], Validated]
    contracts: list[Contract]
    outcomes: Callable[[duckdb.DuckDBPyRelation, Config], dict]


def _quarantine_metadata(quarantined: duckdb.DuckDBPyRelation, keys: list[str]):
    reasons = quarantined.aggregate(
        "CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, reason, count(*) AS rows",
        "snapshot_date, reason",
    ).df()

    def extra(key: str) -> dict:
        day = reasons[reasons["d"] == key].sort_values(["rows", "reason"], ascending=[False, True])
        return {
            "reasons": dg.MetadataValue.md(
                markdown_table(day[["reason", "rows"]]) if len(day) else "none"
            ),
            **{
                f"{REASON_METADATA_PREFIX}{r}": int(n)
                for r, n in zip(day["reason"], day["rows"], strict=True)
            },
        }

    return extra


def _into_lake(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: Source,
    result: Validated,
    keys: list[str],
) -> tuple[duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation, tuple[object, object]]:
    """The run's loaded and quarantined rows, and the two outputs for the IO manager.

    Rows settled at landing are already the lake's files: they are copied in here and read
    back (the IO manager leaves them); other rows are computed once into temp tables, which
    the IO manager writes."""
    if result.files is None:
        loaded = materialize(con, result.loaded, source.loaded)
        quarantined = materialize(con, result.quarantined, source.quarantined)
        return loaded, quarantined, (loaded, quarantined)
    lake = open_lake(config)
    read = []
    for asset, files in zip((source.loaded, source.quarantined), result.files, strict=True):
        lake.copy_partitions(con, asset, keys, files.days, files.empty)
        read.append(lake.read(con, asset, keys))
    return read[0], read[1], (InLake(read[0]), InLake(read[1]))


def _ingest(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    source: Source,
    earlier: dict[str, duckdb.DuckDBPyRelation | None],
) -> Iterator:
    con, config = connection(), settings.load()
    keys, began = partition_keys(context), time.perf_counter()
    result = source.validate(
        con, config, dt.date.fromisoformat(keys[0]), dt.date.fromisoformat(keys[-1])
    )
    loaded, quarantined, outputs = _into_lake(con, config, source, result, keys)
    n_loaded = loaded.aggregate("count(*)").fetchall()[0][0]
    n_rejected = quarantined.aggregate("count(*)").fetchall()[0][0]
    context.log.info(
        f"{run_progress(keys, n_loaded + n_rejected, time.perf_counter() - began)}: "
        f"{n_loaded:,} records loaded, {n_rejected:,} rows quarantined"
    )
    accounting = row_accounting(loaded, quarantined)
    late = later_snapshots_note(context, source.loaded, keys)
    record_partition_metadata(
        context,
        source.loaded,
        loaded,
        keys,
        extra=lambda key: {**accounting.get(key, dict.fromkeys(ACCOUNTING, 0)), **late},
        preview_order="source_file, source_row",
    )
    record_partition_metadata(
        context,
        source.quarantined,
        quarantined,
        keys,
        extra=_quarantine_metadata(quarantined, keys),
        preview_order="source_file, source_row",
    )
    yield dg.Output(outputs[0], output_name=source.loaded)
    yield dg.Output(outputs[1], output_name=source.quarantined)
    found = {
        **source.outcomes(loaded, config),
        **trend_outcomes(
            loaded, quarantined, earlier[source.loaded], earlier[source.quarantined], keys
        ),
    }
    yield from partition_check_results(context, source.contracts, found, keys)
    yield from partition_check_results(
        context, QUARANTINE_CONTRACTS[source.quarantined], quarantine_outcomes(quarantined), keys
    )


def _ingestion_asset(source: Source, common: dict) -> dg.AssetsDefinition:
    """A source's loaded rows and its quarantined rows, from one read; the days before
    (as inputs) are what its row-count and quarantine-share warnings compare with."""

    def out(description: str) -> dg.AssetOut:
        return asset_out(description, GROUP, OWNER, {"duckdb", "parquet"}, "raw", __file__)

    @dg.multi_asset(
        name=source.step,
        description=source.description,
        outs={
            source.loaded: out(source.loaded_description),
            source.quarantined: out(source.quarantined_description),
        },
        ins={
            "earlier_loaded": earlier_in(source.loaded, TRAILING_DAYS),
            "earlier_quarantined": earlier_in(source.quarantined, TRAILING_DAYS),
        },
        # each output reads its own earlier days; the quarantine-share check also reads the
        # quarantine's (declared on the check), so a backfill's dates stay its dates
        internal_asset_deps={
            source.loaded: {dg.AssetKey(source.loaded)},
            source.quarantined: {dg.AssetKey(source.quarantined)},
        },
        can_subset=False,
        check_specs=check_specs(
            source.contracts + QUARANTINE_CONTRACTS[source.quarantined], common["partitions_def"]
        ),
        **common,
    )
    def ingestion(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        earlier_loaded: EarlierPartitions,
        earlier_quarantined: EarlierPartitions,
    ) -> Iterator:
        earlier = {
            source.loaded: earlier_loaded.rows,
            source.quarantined: earlier_quarantined.rows,
        }
        with step_scope():
            yield from _ingest(context, settings, source, earlier)

    return ingestion


QUARANTINE_ROW = "that was not loaded, with its file, row, column and reason code."
EVENTS_SOURCE = Source(
    "engagement_events_ingestion",
    RAW_ENGAGEMENT_EVENTS,
    "One engagement event of the partition's day, in the canonical schema.",
    QUARANTINED_ENGAGEMENT_EVENTS,
    f"One engagement source row {QUARANTINE_ROW}",
    "Reads the engagement source and splits its rows of the run's days into loaded and quarantined.",
    validate_events,
    RAW_EVENT_CONTRACTS,
    raw_event_outcomes,
)
PURCHASES_SOURCE = Source(
    "purchases_ingestion",
    RAW_PURCHASES,
    "One purchase order of the partition's day, in the canonical schema.",
    QUARANTINED_PURCHASES,
    f"One purchase source row (a line, for Online Retail II) {QUARANTINE_ROW}",
    "Reads the purchase source and splits its rows of the run's days into orders and quarantined rows.",
    validate_purchases,
    RAW_PURCHASE_CONTRACTS,
    raw_purchase_outcomes,
)


def build_raw_assets(common: dict) -> list[dg.AssetsDefinition]:
    return [_ingestion_asset(EVENTS_SOURCE, common), _ingestion_asset(PURCHASES_SOURCE, common)]
