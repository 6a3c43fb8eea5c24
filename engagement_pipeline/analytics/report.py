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


HIGH_VALUE_QUANTILE = 0.8  # "high value": top 20% of revenue to date
LOW_P_ALIVE = 0.5


def predicted_value(
    con: duckdb.DuckDBPyConnection, segments: duckdb.DuckDBPyRelation, top: int = 10
) -> dict[str, dict[str, Any]]:
    """Per snapshot date with predictions: the predicted CLV distribution, the customers with
    the most predicted value, and high-value customers the model thinks are probably gone."""
    segments.create_view("_report_segments", replace=True)
    dist = con.sql(
        """
        SELECT CAST(snapshot_date AS VARCHAR) AS d, count(predicted_clv) AS customers,
               sum(predicted_clv) AS total, avg(predicted_clv) AS mean,
               quantile_cont(predicted_clv, [0.1, 0.5, 0.9, 0.99]) AS q
        FROM _report_segments GROUP BY 1 HAVING count(predicted_clv) > 0
        """
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    columns = "customer_id, segment, predicted_clv, p_alive, total_revenue"
    for d, customers, total, mean, q in dist:  # one iteration per snapshot date
        on_date = f"CAST(snapshot_date AS VARCHAR) = '{d}'"
        best = con.sql(
            f"SELECT {columns} FROM _report_segments WHERE {on_date} AND predicted_clv IS NOT NULL "
            f"ORDER BY predicted_clv DESC, customer_id LIMIT {int(top)}"
        ).df()
        at_risk = con.sql(
            f"""
            SELECT {columns} FROM _report_segments
            WHERE {on_date} AND p_alive < {LOW_P_ALIVE}
              AND total_revenue >= (SELECT quantile_cont(total_revenue, {HIGH_VALUE_QUANTILE})
                                    FROM _report_segments WHERE {on_date} AND purchase_count > 0)
            ORDER BY total_revenue DESC, customer_id
            """
        ).df()
        out[d] = {
            "customers_with_prediction": int(customers),
            "total_predicted_clv": float(total),
            "mean_predicted_clv": float(mean),
            "quantiles": dict(zip(["p10", "p50", "p90", "p99"], map(float, q), strict=True)),
            "top_customers": best.to_dict("records"),
            "high_value_low_p_alive_count": len(at_risk),
            "high_value_low_p_alive": at_risk.head(top).to_dict("records"),
        }
    return out


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
    snapshot_date: dt.date,
    overall: pd.Series,
    strategies: pd.DataFrame,
    predicted: dict[str, Any] | None = None,
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
        "predicted_value": json.loads(json.dumps(predicted, default=_clean)) if predicted else None,
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
    lines += _predicted_value_markdown(document.get("predicted_value"))
    lines.append("Definitions and thresholds: docs/decision_logic.md.")
    return "\n".join(lines) + "\n"


def _predicted_value_markdown(p: dict[str, Any] | None) -> list[str]:
    lines = ["## Predicted value (BG/NBD + Gamma-Gamma)", ""]
    if not p:
        return lines + [
            "No predicted CLV on this date: the models were not fitted (see the `model_fitted` "
            "check of customer_clv for the reason).",
            "",
        ]
    q = p["quantiles"]
    lines += [
        f"{p['customers_with_prediction']:,} purchasing customers have a prediction; together "
        f"they are expected to bring **${p['total_predicted_clv']:,.2f}** (discounted) over the "
        f"horizon. Per customer: mean ${p['mean_predicted_clv']:,.2f}, median ${q['p50']:,.2f}, "
        f"10th percentile ${q['p10']:,.2f}, 90th ${q['p90']:,.2f}, 99th ${q['p99']:,.2f}.",
        "",
        "Customers with the most predicted value:",
        "",
        "| Customer | Segment | Predicted CLV | P(alive) | Revenue to date |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {c['customer_id']} | {c['segment']} | ${c['predicted_clv']:,.2f} | "
        f"{c['p_alive']:.2f} | ${c['total_revenue']:,.2f} |"
        for c in p["top_customers"]
    ]
    lines += [
        "",
        f"**High value, probably gone**: {p['high_value_low_p_alive_count']:,} customers in the "
        f"top 20% by revenue have P(alive) below {LOW_P_ALIVE:.0%} — the first calls for a "
        "win-back.",
        "",
    ]
    if p["high_value_low_p_alive"]:
        lines += [
            "| Customer | Segment | Revenue to date | P(alive) | Predicted CLV |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {c['customer_id']} | {c['segment']} | ${c['total_revenue']:,.2f} | "
            f"{c['p_alive']:.2f} | ${c['predicted_clv']:,.2f} |"
            for c in p["high_value_low_p_alive"]
        ]
        lines.append("")
    return lines


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
