"""The report asset: a Markdown report and a JSON analysis per snapshot date."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from engagement_pipeline.analytics.report import (
    build_report_document,
    overall_metrics,
    predicted_value,
    write_report,
)
from engagement_pipeline.defs.checks import SNAPSHOT_CONTRACTS, check_results, check_specs
from engagement_pipeline.defs.errors import reports_user_errors
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import connection
from engagement_pipeline.quality import report_outcome

REPORT_GROUP = "reporting"


def build_report_assets(
    partitions_def: dg.PartitionsDefinition, policy: dg.BackfillPolicy
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=policy,
        group_name=REPORT_GROUP,
        kinds={"markdown", "json"},
        check_specs=check_specs(SNAPSHOT_CONTRACTS["engagement_report"], partitions_def),
    )
    @reports_user_errors
    def engagement_report(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        customer_segments: duckdb.DuckDBPyRelation,
        segment_strategies: duckdb.DuckDBPyRelation,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """One snapshot date's report: where its Markdown and JSON were written, with headline figures."""
        con = connection()
        reports_dir = settings.load().reports_dir
        overall = overall_metrics(con, customer_segments)
        predicted = predicted_value(con, customer_segments)
        strategies = segment_strategies.df()
        rows, markdown = [], ""
        for _, metrics in overall.iterrows():  # one iteration per snapshot date
            date = metrics["snapshot_date"]
            date = date.date() if isinstance(date, pd.Timestamp) else date
            document = build_report_document(
                date,
                metrics,
                strategies=strategies[pd.to_datetime(strategies["snapshot_date"]).dt.date == date],
                predicted=predicted.get(date.isoformat()),
            )
            md_path, json_path = write_report(reports_dir, document)
            markdown = md_path.read_text(encoding="utf-8")
            rows.append(
                {
                    "snapshot_date": date,
                    "total_customers": document["total_customers"],
                    "total_revenue": document["overall_metrics"]["total_revenue"],
                    "avg_ltv": document["overall_metrics"]["avg_ltv"],
                    "avg_engagement_score": document["overall_metrics"]["avg_engagement_score"],
                    "markdown_path": str(md_path),
                    "json_path": str(json_path),
                }
            )
            context.log.info(f"report for {date} written to {md_path}")
        result = pd.DataFrame(rows)
        metadata = {"report": dg.MetadataValue.md(markdown)}
        if rows:
            metadata["report_path"] = dg.MetadataValue.path(rows[-1]["markdown_path"])
        yield dg.Output(result, metadata=metadata)
        outcome = report_outcome(
            [r["markdown_path"] for r in rows],
            [r["json_path"] for r in rows],
            {r["snapshot_date"].isoformat(): r["total_customers"] for r in rows},
        )
        yield from check_results(
            SNAPSHOT_CONTRACTS["engagement_report"], {"report_complete": outcome}
        )

    return [engagement_report]
