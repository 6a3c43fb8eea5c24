"""Snapshot assets: every customer as of the end of the snapshot date, from all history up to it."""

from collections.abc import Callable

import dagster as dg
import duckdb

from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.ltv import compute_customer_ltv
from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.analytics.strategy import segment_strategies as build_strategies
from engagement_pipeline.config import Config
from engagement_pipeline.defs.errors import reports_user_errors
from engagement_pipeline.defs.partitions import HISTORY_MAPPING, dates_between, partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import connection, materialize
from engagement_pipeline.markdown import markdown_table

SNAPSHOT_GROUP = "customer_analytics"

HISTORY_INS = {
    "raw_engagement_events": dg.AssetIn(partition_mapping=HISTORY_MAPPING),
    "raw_purchases": dg.AssetIn(partition_mapping=HISTORY_MAPPING),
}


def _summary(rel: duckdb.DuckDBPyRelation, columns: list[str]) -> dict:
    """A Markdown preview and column means of a materialized snapshot result, for the UI."""
    stats = rel.aggregate(", ".join(f"avg({c}) AS {c}" for c in columns)).df()
    return {
        "preview": dg.MetadataValue.md(markdown_table(rel.limit(10).df())),
        **{f"mean_{c}": float(stats[c].fillna(0.0).iloc[0]) for c in columns},
    }


HistoryCompute = Callable[
    [duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation, duckdb.DuckDBPyRelation, list, Config],
    duckdb.DuckDBPyRelation,
]


def _history_snapshot(
    name: str, description: str, compute: HistoryCompute, summary: list[str], common: dict
) -> dg.AssetsDefinition:
    """A snapshot asset computed from all raw events and purchases up to each snapshot date."""

    @dg.asset(
        name=name, description=description, ins=HISTORY_INS, kinds={"duckdb", "parquet"}, **common
    )
    @reports_user_errors
    def snapshot(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        raw_engagement_events: duckdb.DuckDBPyRelation,
        raw_purchases: duckdb.DuckDBPyRelation,
    ) -> dg.Output:
        con = connection()
        dates = dates_between(*partition_dates(context))
        computed = compute(con, raw_engagement_events, raw_purchases, dates, settings.load())
        result = materialize(con, computed, name)
        return dg.Output(result, metadata=_summary(result, summary))

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
        "One customer's purchase history and simple lifetime value as of the snapshot date.",
        lambda con, events, purchases, dates, config: compute_customer_ltv(
            con, events, purchases, dates, config.ltv
        ),
        ["lifetime_value", "total_revenue"],
        common,
    )
    engagement_scores = _history_snapshot(
        "engagement_scores",
        "One customer's engagement score, touchpoint counts and last activity as of the snapshot date.",
        lambda con, events, purchases, dates, config: compute_engagement_scores(
            con, events, purchases, dates, config.engagement_scoring
        ),
        ["engagement_score", "window_events"],
        common,
    )

    @dg.asset(kinds={"duckdb", "parquet"}, **common)
    @reports_user_errors
    def customer_segments(
        settings: PipelineSettings,
        customer_ltv: duckdb.DuckDBPyRelation,
        engagement_scores: duckdb.DuckDBPyRelation,
    ) -> dg.Output:
        """One customer's segment tier and value tier, with the figures that decided it, as of the snapshot date."""
        con = connection()
        config = settings.load()
        result = materialize(
            con,
            assign_segments(
                con, customer_ltv, engagement_scores, config.segmentation, config.engagement_scoring
            ),
            "customer_segments",
        )
        counts = result.aggregate("segment, count(*) AS customers", "segment").order("segment")
        return dg.Output(
            result,
            metadata={
                "segment_counts": dg.MetadataValue.md(markdown_table(counts.df())),
                "preview": dg.MetadataValue.md(markdown_table(result.limit(10).df())),
            },
        )

    @dg.asset(kinds={"duckdb", "parquet"}, **common)
    @reports_user_errors
    def segment_strategies(
        settings: PipelineSettings, customer_segments: duckdb.DuckDBPyRelation
    ) -> dg.Output:
        """One segment's figures (count, share, average LTV and engagement, revenue) and recommendations on the snapshot date."""
        con = connection()
        frame = build_strategies(con, customer_segments, settings.load().strategy)
        preview = frame.drop(columns=["recommendations"]).tail(5)
        return dg.Output(frame, metadata={"segments": dg.MetadataValue.md(markdown_table(preview))})

    return [customer_ltv, engagement_scores, customer_segments, segment_strategies]
