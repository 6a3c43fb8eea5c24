"""The report asset: a Markdown report and a JSON analysis per snapshot date, with its check."""

import datetime as dt
import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from engagement_pipeline.analytics.intelligence_report import (
    ALERTS_CSV,
    SECTIONS,
    write_alerts_csv,
)
from engagement_pipeline.analytics.journeys_report import JOURNEY_SECTIONS
from engagement_pipeline.analytics.report import REPORT_INPUTS, report_documents, write_report
from engagement_pipeline.analytics.report_figures import FIGURE_SECTIONS
from engagement_pipeline.config import Config
from engagement_pipeline.defs.assets.snapshots import source_link
from engagement_pipeline.defs.checks import Contract, check_specs, partition_check_results
from engagement_pipeline.defs.errors import asset_step
from engagement_pipeline.defs.metadata import figure
from engagement_pipeline.defs.partitions import partition_keys
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import connection
from engagement_pipeline.quality import CheckOutcome
from engagement_pipeline.stages import CUSTOMER_ALERTS
from engagement_pipeline.vocabulary import SegmentTier

GROUP = "reporting"
OWNER = "team:customer-success"
ENGAGEMENT_REPORT = "engagement_report"
REPORT_COMPLETE = "report_complete"
REPORT_SECTIONS = (
    "## Overview",
    "## Segments",
    "## Recommended strategies",
    "## RFM segments",
    "## Lifecycle stages",
    "## Risk",
    "## Next-best actions",
    "## Alerts",
    "## Cohort retention",
    "## Funnel",
    "## Top journey paths",
    "## Channel attribution",
    "## Anomalies",
)

REPORT_CONTRACTS = [
    Contract(
        ENGAGEMENT_REPORT,
        REPORT_COMPLETE,
        "The Markdown, JSON and HTML reports and alerts.csv exist, parse and hold every "
        "section and chart.",
    ),
]


def report_outcome(
    markdown_path: Path, json_path: Path, html_path: Path | None, total_customers: int
) -> CheckOutcome:
    """One date's written reports exist, parse, hold every section and chart (the HTML when
    reports.html is on) and agree with the segments."""
    text = markdown_path.read_text(encoding="utf-8") if markdown_path.is_file() else ""
    problems = [f"Markdown lacks {s}" for s in REPORT_SECTIONS if s not in text]
    if html_path is not None:
        # here, not at the top: the charts bring Altair, a half-second import that a run
        # without HTML reports (a backfill, the benchmarks) should not pay
        from engagement_pipeline.presentation.charts import FIGURE_KEYS

        page = html_path.read_text(encoding="utf-8") if html_path.is_file() else ""
        problems += [
            f"HTML lacks the {k} chart" for k in FIGURE_KEYS if f'data-chart="{k}"' not in page
        ]
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        if doc.get("total_customers") != total_customers or len(
            doc.get("segment_analyses", [])
        ) != len(SegmentTier):
            problems.append("JSON totals or segments incomplete")
        problems += [
            f"JSON lacks {name}"
            for name in (*SECTIONS, *JOURNEY_SECTIONS, *FIGURE_SECTIONS)
            if name not in doc
        ]
    except (OSError, ValueError):
        problems.append("JSON missing or unreadable")
    if not (markdown_path.parent / ALERTS_CSV).is_file():
        problems.append(f"{ALERTS_CSV} missing")
    return CheckOutcome(
        not problems, "; ".join(problems) or "complete report", {"problems": len(problems)}
    )


def _write_date(
    context: dg.AssetExecutionContext,
    config: Config,
    document: dict,
    html_page: str | None,
    write_alerts: Callable[[Path], Path],
) -> tuple[dict, CheckOutcome]:
    """Write one date's Markdown, JSON, HTML (when rendered) and alerts.csv, attach them to
    its partition, and check them."""
    md_path, json_path, html_path = write_report(config.reports_dir, document, html_page)
    alerts_path = write_alerts(md_path.parent)
    date, figures = document["snapshot_date"], document["overall_metrics"]
    context.add_asset_metadata(
        {
            "dagster/row_count": 1,
            "report": dg.MetadataValue.md(md_path.read_text(encoding="utf-8")),
            "report_path": dg.MetadataValue.path(str(md_path)),
            "json_path": dg.MetadataValue.path(str(json_path)),
            **(
                {
                    "html_path": dg.MetadataValue.path(str(html_path)),
                    "html_report": dg.MetadataValue.url(html_path.resolve().as_uri()),
                }
                if html_path
                else {}
            ),
            "alerts_path": dg.MetadataValue.path(str(alerts_path)),
            "alerts": len(document.get("alerts", [])),
            "total_customers": int(document["total_customers"]),
            "total_revenue": figure(figures["total_revenue"] or 0.0),
            "avg_ltv": figure(figures["avg_ltv"] or 0.0),
        },
        partition_key=str(date),
    )
    context.log.info(f"report for {date} written to {md_path}")
    row = {
        "snapshot_date": dt.date.fromisoformat(str(date)),
        "total_customers": document["total_customers"],
        "total_revenue": figures["total_revenue"],
        "avg_ltv": figures["avg_ltv"],
        "avg_engagement_score": figures["avg_engagement_score"],
        "markdown_path": str(md_path),
        "json_path": str(json_path),
    }
    row["html_path"] = str(html_path) if html_path else None
    return row, report_outcome(md_path, json_path, html_path, document["total_customers"])


def _html_pages(documents: list[dict]) -> list[str]:
    # imported here: the charts bring Altair and vl-convert, which a run without HTML
    # reports should not load
    from engagement_pipeline.presentation.html_pages import render_html_pages

    return render_html_pages(documents)


def build_report_assets(common: dict) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name=ENGAGEMENT_REPORT,
        group_name=GROUP,
        ins={name: dg.AssetIn(name) for name in REPORT_INPUTS},
        kinds={"markdown", "json", "html"},
        owners=[OWNER],
        tags={"layer": "presentation"},
        code_version="1",
        metadata=source_link(__file__),
        check_specs=check_specs(REPORT_CONTRACTS, common["partitions_def"]),
        **common,
    )
    @asset_step
    def engagement_report(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        **assets: duckdb.DuckDBPyRelation,
    ) -> Iterator:
        """One snapshot date's report: where its Markdown, JSON, HTML and alerts.csv were
        written, with headline figures."""
        con, config = connection(), settings.load()
        documents = report_documents(con, assets, config)
        html = config.reports.html
        pages = _html_pages(list(documents.values())) if html else [None] * len(documents)
        rows, outcomes = [], {}
        for (day, document), page in zip(documents.items(), pages, strict=True):
            row, outcomes[day] = _write_date(
                context,
                config,
                document,
                page,
                partial(write_alerts_csv, assets[CUSTOMER_ALERTS], day=dt.date.fromisoformat(day)),
            )
            rows.append(row)
        yield dg.Output(pd.DataFrame(rows))
        keys = partition_keys(context)
        yield from partition_check_results(
            context, REPORT_CONTRACTS, {REPORT_COMPLETE: outcomes}, keys
        )

    return [engagement_report]
