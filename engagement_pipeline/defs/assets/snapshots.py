"""Snapshot assets: every customer as of the end of the snapshot date, from all history up to it."""

import dagster as dg
import duckdb
import pandas as pd

from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.ltv import compute_customer_ltv
from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.analytics.strategy import segment_strategies as build_strategies
from engagement_pipeline.defs.errors import reports_user_errors
from engagement_pipeline.defs.partitions import HISTORY_MAPPING, dates_between, partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import connection
from engagement_pipeline.markdown import markdown_table

SNAPSHOT_GROUP = "customer_analytics"

HISTORY_INS = {
    "raw_engagement_events": dg.AssetIn(partition_mapping=HISTORY_MAPPING),
    "raw_purchases": dg.AssetIn(partition_mapping=HISTORY_MAPPING),
}


def _summary(
    con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, columns: list[str]
) -> dict:
    """Row count and a Markdown preview of a snapshot result, for the UI."""
    preview = rel.limit(10).df()
    stats = con.sql("SELECT " + ", ".join(f"avg({c}) AS {c}" for c in columns) + " FROM rel").df()
    return {
        "preview": dg.MetadataValue.md(markdown_table(preview)),
        **{
            f"mean_{c}": float(stats[c].iloc[0]) if pd.notna(stats[c].iloc[0]) else 0.0
            for c in columns
        },
    }


def build_snapshot_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    common = dict(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=SNAPSHOT_GROUP,
    )

    @dg.asset(ins=HISTORY_INS, kinds={"duckdb", "parquet"}, **common)
    @reports_user_errors
    def customer_ltv(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        raw_engagement_events: duckdb.DuckDBPyRelation,
        raw_purchases: duckdb.DuckDBPyRelation,
    ) -> dg.Output:
        """One customer's purchase history and simple lifetime value as of the snapshot date."""
        con = connection()
        dates = dates_between(*partition_dates(context))
        result = compute_customer_ltv(
            con, raw_engagement_events, raw_purchases, dates, settings.load().ltv
        )
        return dg.Output(
            result, metadata=_summary(con, result, ["lifetime_value", "total_revenue"])
        )

    @dg.asset(ins=HISTORY_INS, kinds={"duckdb", "parquet"}, **common)
    @reports_user_errors
    def engagement_scores(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        raw_engagement_events: duckdb.DuckDBPyRelation,
        raw_purchases: duckdb.DuckDBPyRelation,
    ) -> dg.Output:
        """One customer's engagement score, touchpoint counts and last activity as of the snapshot date."""
        con = connection()
        dates = dates_between(*partition_dates(context))
        result = compute_engagement_scores(
            con, raw_engagement_events, raw_purchases, dates, settings.load().engagement_scoring
        )
        return dg.Output(
            result, metadata=_summary(con, result, ["engagement_score", "window_events"])
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
        result = assign_segments(
            con, customer_ltv, engagement_scores, config.segmentation, config.engagement_scoring
        )
        counts = con.sql(
            "SELECT segment, count(*) AS customers FROM result GROUP BY 1 ORDER BY 1"
        ).df()
        return dg.Output(
            result,
            metadata={
                "segment_counts": dg.MetadataValue.md(markdown_table(counts)),
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
