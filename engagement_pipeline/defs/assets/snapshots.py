"""Snapshot assets: every customer as of the end of the snapshot date, from all history up to it."""

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb

from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.ltv import compute_customer_ltv
from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.analytics.strategy import segment_strategies as build_strategies
from engagement_pipeline.config import Config
from engagement_pipeline.defs.checks import SNAPSHOT_CONTRACTS, check_results, check_specs
from engagement_pipeline.defs.errors import reports_user_errors
from engagement_pipeline.defs.partitions import HISTORY_MAPPING, dates_between, partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import connection, materialize
from engagement_pipeline.markdown import markdown_table
from engagement_pipeline.quality import (
    CheckOutcome,
    customer_ltv_outcomes,
    customer_segment_outcomes,
    engagement_score_outcomes,
    segment_strategy_outcomes,
)
from engagement_pipeline.sql import fetch_all

SNAPSHOT_GROUP = "customer_analytics"


def history_ins(*assets: str) -> dict[str, dg.AssetIn]:
    """Inputs that read every raw partition up to the snapshot date."""
    return {a: dg.AssetIn(partition_mapping=HISTORY_MAPPING) for a in assets}


def _summary(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> dict:
    """A Markdown preview and column means of a materialized snapshot result, for the UI."""
    stats = rel.aggregate(", ".join(f"avg({c}) AS {c}" for c in columns)).df()
    return {
        "preview": dg.MetadataValue.md(markdown_table(rel.limit(10).df())),
        **{f"mean_{c}": float(stats[c].fillna(0.0).iloc[0]) for c in columns},
    }


# (connection, raw relations by asset name, snapshot dates, config) -> result relation
HistoryCompute = Callable[
    [duckdb.DuckDBPyConnection, dict[str, duckdb.DuckDBPyRelation], list, Config],
    duckdb.DuckDBPyRelation,
]


def _history_snapshot(
    name: str,
    description: str,
    inputs: tuple[str, ...],
    compute: HistoryCompute,
    summary: list[str],
    outcomes: Callable[[duckdb.DuckDBPyRelation], dict[str, CheckOutcome]],
    common: dict,
) -> dg.AssetsDefinition:
    """A snapshot asset computed from all raw events and purchases up to each snapshot date."""
    contracts = SNAPSHOT_CONTRACTS[name]

    @dg.asset(
        name=name,
        description=description,
        ins=history_ins(*inputs),
        kinds={"duckdb", "parquet"},
        check_specs=check_specs(contracts, common["partitions_def"]),
        **common,
    )
    @reports_user_errors
    def snapshot(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        **raw: duckdb.DuckDBPyRelation,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        con = connection()
        dates = dates_between(*partition_dates(context))
        computed = compute(con, raw, dates, settings.load())
        result = materialize(con, computed, name)
        yield dg.Output(result, metadata=_summary(result, summary))
        yield from check_results(contracts, outcomes(result))

    return snapshot


def build_snapshot_assets(
    partitions_def: dg.PartitionsDefinition, policy: dg.BackfillPolicy
) -> list[dg.AssetsDefinition]:
    common = dict(
        partitions_def=partitions_def,
        backfill_policy=policy,
        group_name=SNAPSHOT_GROUP,
    )

    customer_ltv = _history_snapshot(
        "customer_ltv",
        "One purchasing customer's purchase history and simple lifetime value as of the snapshot date.",
        ("raw_purchases",),
        lambda con, raw, dates, config: compute_customer_ltv(
            con, raw["raw_purchases"], dates, config.ltv
        ),
        ["lifetime_value", "total_revenue"],
        customer_ltv_outcomes,
        common,
    )
    engagement_scores = _history_snapshot(
        "engagement_scores",
        "One customer's engagement score, touchpoint counts and last activity as of the snapshot date.",
        ("raw_engagement_events", "raw_purchases"),
        lambda con, raw, dates, config: compute_engagement_scores(
            con,
            raw["raw_engagement_events"],
            raw["raw_purchases"],
            dates,
            config.engagement_scoring,
        ),
        ["engagement_score", "window_events"],
        engagement_score_outcomes,
        common,
    )

    @dg.asset(
        kinds={"duckdb", "parquet"},
        check_specs=check_specs(SNAPSHOT_CONTRACTS["customer_segments"], partitions_def),
        **common,
    )
    @reports_user_errors
    def customer_segments(
        settings: PipelineSettings,
        customer_ltv: duckdb.DuckDBPyRelation,
        engagement_scores: duckdb.DuckDBPyRelation,
        customer_clv: duckdb.DuckDBPyRelation,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """One customer's segment tier and value tier, with the figures that decided it, as of the snapshot date."""
        con = connection()
        config = settings.load()
        result = materialize(
            con,
            assign_segments(
                con,
                customer_ltv,
                engagement_scores,
                config.segmentation,
                config.engagement_scoring,
                customer_clv,
            ),
            "customer_segments",
        )
        counts = result.aggregate("segment, count(*) AS customers", "segment").order("segment")
        yield dg.Output(
            result,
            metadata={
                "segment_counts": dg.MetadataValue.md(markdown_table(counts.df())),
                "preview": dg.MetadataValue.md(markdown_table(result.limit(10).df())),
            },
        )
        customer_ltv.create_view("_ltv_in", replace=True)
        engagement_scores.create_view("_scores_in", replace=True)
        expected = dict(
            fetch_all(
                con,
                "SELECT CAST(snapshot_date AS VARCHAR), count(*) FROM (SELECT snapshot_date, "
                "customer_id FROM _ltv_in UNION SELECT snapshot_date, customer_id FROM _scores_in) "
                "GROUP BY 1",
            )
        )
        yield from check_results(
            SNAPSHOT_CONTRACTS["customer_segments"], customer_segment_outcomes(result, expected)
        )

    @dg.asset(
        kinds={"duckdb", "parquet"},
        check_specs=check_specs(SNAPSHOT_CONTRACTS["segment_strategies"], partitions_def),
        **common,
    )
    @reports_user_errors
    def segment_strategies(
        settings: PipelineSettings, customer_segments: duckdb.DuckDBPyRelation
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """One segment's figures (count, share, average LTV and engagement, revenue) and recommendations on the snapshot date."""
        con = connection()
        frame = build_strategies(con, customer_segments, settings.load().strategy)
        preview = frame.drop(columns=["recommendations"]).tail(5)
        yield dg.Output(frame, metadata={"segments": dg.MetadataValue.md(markdown_table(preview))})
        customers = dict(
            customer_segments.aggregate(
                "CAST(snapshot_date AS VARCHAR), count(*)", "snapshot_date"
            ).fetchall()
        )
        yield from check_results(
            SNAPSHOT_CONTRACTS["segment_strategies"],
            segment_strategy_outcomes(con.from_df(frame), customers),
        )

    return [customer_ltv, engagement_scores, customer_segments, segment_strategies]
