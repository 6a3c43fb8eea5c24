"""The engagement report of one snapshot date: overall metrics, segments, recommendations."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

REPORT_MARKDOWN = "engagement_report.md"
REPORT_JSON = "engagement_analysis.json"


def overall_metrics(
    con: duckdb.DuckDBPyConnection, segments: duckdb.DuckDBPyRelation
) -> pd.DataFrame:
    """Per snapshot date: customer counts, revenue, LTV and engagement across all customers."""
    return con.sql(
        """
        SELECT snapshot_date,
               count(*) AS total_customers,
               count(*) FILTER (WHERE segment <> 'Lost') AS active_customers,
               count(*) FILTER (WHERE purchase_count > 0) AS purchasing_customers,
               coalesce(sum(total_revenue), 0.0) AS total_revenue,
               coalesce(avg(lifetime_value), 0.0) AS avg_ltv,
               coalesce(median(lifetime_value), 0.0) AS median_ltv,
               coalesce(sum(lifetime_value), 0.0) AS total_ltv,
               coalesce(avg(engagement_score), 0.0) AS avg_engagement_score,
               coalesce(median(engagement_score), 0.0) AS median_engagement_score
        FROM segments GROUP BY 1 ORDER BY 1
        """
    ).df()


def _clean(value: Any) -> Any:
    """JSON-safe scalars: numpy types to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    return value


def build_report_document(
    snapshot_date: dt.date, overall: pd.Series, strategies: pd.DataFrame
) -> dict[str, Any]:
    """The JSON document of one snapshot date (strategies: that date's five segment rows)."""
    metrics = {k: _clean(v) for k, v in overall.items() if k != "snapshot_date"}
    segments = [
        {
            "segment": row["segment"],
            "customer_count": int(row["customer_count"]),
            "customer_share": _clean(row["customer_share"]),
            "avg_ltv": _clean(row["avg_ltv"]),
            "avg_engagement_score": _clean(row["avg_engagement_score"]),
            "total_revenue": _clean(row["total_revenue"]),
            "avg_days_since_last_activity": _clean(row["avg_days_since_last_activity"]),
            "recommendations": list(row["recommendations"]),
        }
        for _, row in strategies.iterrows()
    ]
    return {
        "snapshot_date": snapshot_date.isoformat(),
        "total_customers": int(metrics["total_customers"]),
        "overall_metrics": metrics,
        "segment_analyses": segments,
        "recommendations": {s["segment"]: s["recommendations"] for s in segments},
    }


def render_markdown(document: dict[str, Any]) -> str:
    """The human-readable report for one snapshot date."""
    m = document["overall_metrics"]
    date = document["snapshot_date"]
    lines = [
        f"# Customer engagement report — {date}",
        "",
        f"As of the end of {date}, computed from every event and purchase up to that day.",
        "",
        "## Overview",
        "",
        "| Metric | Value |",
        "|---|---:|",
        f"| Customers | {m['total_customers']:,} |",
        f"| Active (not Lost) | {m['active_customers']:,} |",
        f"| With a purchase | {m['purchasing_customers']:,} |",
        f"| Total revenue to date | ${m['total_revenue']:,.2f} |",
        f"| Average LTV | ${m['avg_ltv']:,.2f} |",
        f"| Median LTV | ${m['median_ltv']:,.2f} |",
        f"| Average engagement score | {m['avg_engagement_score']:.3f} |",
        "",
        "## Segments",
        "",
        "| Segment | Customers | Share | Avg LTV | Avg engagement | Revenue to date | Avg days inactive |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in document["segment_analyses"]:
        days = (
            "–"
            if s["avg_days_since_last_activity"] is None
            else f"{s['avg_days_since_last_activity']:.0f}"
        )
        lines.append(
            f"| {s['segment']} | {s['customer_count']:,} | {s['customer_share']:.1%} | "
            f"${s['avg_ltv']:,.2f} | {s['avg_engagement_score']:.3f} | "
            f"${s['total_revenue']:,.2f} | {days} |"
        )
    lines += ["", "## Recommended strategies", ""]
    for s in document["segment_analyses"]:
        lines.append(f"### {s['segment']}")
        lines.append("")
        if s["recommendations"]:
            lines += [f"{i}. {r}" for i, r in enumerate(s["recommendations"], 1)]
        else:
            lines.append("No customers in this segment on this date.")
        lines.append("")
    lines.append("Definitions and thresholds: docs/decision_logic.md.")
    return "\n".join(lines) + "\n"


def write_report(reports_dir: Path, document: dict[str, Any]) -> tuple[Path, Path]:
    """Write reports/<snapshot_date>/engagement_report.md and engagement_analysis.json atomically."""
    folder = reports_dir / document["snapshot_date"]
    folder.mkdir(parents=True, exist_ok=True)
    md_path, json_path = folder / REPORT_MARKDOWN, folder / REPORT_JSON
    for path, text in (
        (md_path, render_markdown(document)),
        (json_path, json.dumps(document, indent=2, sort_keys=False) + "\n"),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return md_path, json_path
