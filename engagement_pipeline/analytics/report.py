"""The engagement report of one snapshot date: overall metrics, segments, recommendations."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from engagement_pipeline.analytics.intelligence_report import intelligence_sections
from engagement_pipeline.analytics.journeys_report import (
    JOURNEY_INPUTS,
    journey_sections,
    journeys_markdown,
)
from engagement_pipeline.analytics.report_figures import figure_sections
from engagement_pipeline.analytics.strategy import money
from engagement_pipeline.config import Config
from engagement_pipeline.markdown import agreeing, counted
from engagement_pipeline.sql import exact_mean, exact_sum
from engagement_pipeline.stages import (
    ANOMALY_TIMELINE,
    CUSTOMER_ALERTS,
    CUSTOMER_LIFECYCLE,
    CUSTOMER_RFM,
    CUSTOMER_SEGMENTS,
    NEXT_BEST_ACTIONS,
    SEGMENT_STRATEGIES,
)
from engagement_pipeline.vocabulary import LTV_MEANING

REPORT_MARKDOWN = "engagement_report.md"
REPORT_JSON = "engagement_analysis.json"
REPORT_HTML = "engagement_report.html"
# the assets a report document is built from (the report asset's inputs; the dashboard's reads)
REPORT_INPUTS = (
    CUSTOMER_SEGMENTS,
    SEGMENT_STRATEGIES,
    CUSTOMER_RFM,
    CUSTOMER_LIFECYCLE,
    NEXT_BEST_ACTIONS,
    CUSTOMER_ALERTS,
    ANOMALY_TIMELINE,
    *JOURNEY_INPUTS.values(),
)


def overall_metrics(
    con: duckdb.DuckDBPyConnection, segments: duckdb.DuckDBPyRelation
) -> pd.DataFrame:
    """Per snapshot date: customer counts, revenue, LTV and engagement across all customers."""
    return con.sql(
        f"""
        SELECT snapshot_date,
               count(*) AS total_customers,
               count(*) FILTER (WHERE segment <> 'Lost') AS active_customers,
               count(*) FILTER (WHERE purchase_count > 0) AS purchasing_customers,
               coalesce({exact_sum("total_revenue")}, 0.0) AS total_revenue,
               coalesce({exact_mean("lifetime_value")}, 0.0) AS avg_ltv,
               coalesce(median(lifetime_value), 0.0) AS median_ltv,
               coalesce({exact_sum("lifetime_value")}, 0.0) AS total_ltv,
               coalesce({exact_mean("engagement_score")}, 0.0) AS avg_engagement_score,
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
        f"""
        SELECT CAST(snapshot_date AS VARCHAR) AS d, count(predicted_clv) AS customers,
               {exact_sum("predicted_clv")} AS total, {exact_mean("predicted_clv")} AS mean,
               quantile_cont(predicted_clv, [0.1, 0.5, 0.9, 0.99]) AS q
        FROM _report_segments GROUP BY 1 HAVING count(predicted_clv) > 0
        """
    ).fetchall()
    columns = "customer_id, segment, predicted_clv, p_alive, total_revenue"
    # Every date of the range at once (a query per date read the range's rows per date).
    best = con.sql(
        f"""
        SELECT CAST(snapshot_date AS VARCHAR) AS d, {columns} FROM _report_segments
        WHERE predicted_clv IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY snapshot_date
                                   ORDER BY predicted_clv DESC, customer_id) <= {int(top)}
        ORDER BY d, predicted_clv DESC, customer_id
        """
    ).df()
    at_risk = con.sql(
        f"""
        WITH high_value AS (  -- each date's revenue threshold among its buyers
            SELECT snapshot_date,
                   quantile_cont(total_revenue, {HIGH_VALUE_QUANTILE}) AS threshold
            FROM _report_segments WHERE purchase_count > 0 GROUP BY snapshot_date
        )
        SELECT CAST(s.snapshot_date AS VARCHAR) AS d, {columns},
               count(*) OVER (PARTITION BY s.snapshot_date) AS gone_count
        FROM _report_segments s JOIN high_value h USING (snapshot_date)
        WHERE s.p_alive < {LOW_P_ALIVE} AND s.total_revenue >= h.threshold
        QUALIFY row_number() OVER (PARTITION BY s.snapshot_date
                                   ORDER BY s.total_revenue DESC, s.customer_id) <= {int(top)}
        ORDER BY d, s.total_revenue DESC, s.customer_id
        """
    ).df()
    out: dict[str, dict[str, Any]] = {}
    for d, customers, total, mean, q in dist:  # one iteration per snapshot date
        gone = at_risk[at_risk["d"] == d]
        out[d] = {
            "customers_with_prediction": int(customers),
            "total_predicted_clv": float(total),
            "mean_predicted_clv": float(mean),
            "quantiles": dict(zip(["p10", "p50", "p90", "p99"], map(float, q), strict=True)),
            "top_customers": _records(best[best["d"] == d]),
            "high_value_low_p_alive_count": int(gone["gone_count"].iloc[0]) if len(gone) else 0,
            "high_value_low_p_alive": _records(gone.drop(columns="gone_count")),
        }
    return out


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """A date's rows of a range-wide frame (its `d` column dropped), as records."""
    return rows.drop(columns="d").reset_index(drop=True).to_dict("records")


def report_documents(
    con: duckdb.DuckDBPyConnection, assets: Mapping[str, duckdb.DuckDBPyRelation], config: Config
) -> dict[str, dict[str, Any]]:
    """date -> that date's report document, from the REPORT_INPUTS assets' rows (any range
    of dates): what the Markdown, the JSON, the HTML report and the dashboard show."""
    segments = assets[CUSTOMER_SEGMENTS]
    overall = overall_metrics(con, segments)
    intelligence = intelligence_sections(
        con,
        assets[CUSTOMER_RFM],
        assets[CUSTOMER_LIFECYCLE],
        assets[NEXT_BEST_ACTIONS],
        assets[CUSTOMER_ALERTS],
        config,
    )
    journeys = journey_sections(
        con,
        {section: assets[a] for section, a in JOURNEY_INPUTS.items()},
        config.journeys.window_days,
    )
    figures = figure_sections(con, segments, assets[CUSTOMER_RFM], assets[ANOMALY_TIMELINE])
    predicted = predicted_value(con, segments)
    strategies = assets[SEGMENT_STRATEGIES].df()
    strategy_days = pd.to_datetime(strategies["snapshot_date"]).dt.date
    documents = {}
    for _, metrics in overall.iterrows():  # one iteration per snapshot date
        date = pd.Timestamp(metrics["snapshot_date"]).date()
        day = date.isoformat()
        documents[day] = build_report_document(
            date,
            metrics,
            strategies=strategies[strategy_days == date],
            predicted=predicted.get(day),
            intelligence=intelligence.get(day),
            journeys=journeys.get(day),
            figures=figures.get(day),
        )
    return documents


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
    intelligence: dict[str, list[dict[str, Any]]] | None = None,
    journeys: dict[str, Any] | None = None,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of one snapshot date (strategies: that date's five segment rows;
    intelligence, journeys and figures: that date's sections from intelligence_sections,
    journey_sections and figure_sections)."""
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
        **{
            name: [{k: _clean(v) for k, v in row.items()} for row in rows]
            if isinstance(rows, list)
            else _clean(rows)
            for name, rows in {
                **(intelligence or {}),
                **(journeys or {}),
                **(figures or {}),
            }.items()
        },
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
        LTV_MEANING,
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
            lines.append(EMPTY_SEGMENT)
        lines.append("")
    lines += _predicted_value_markdown(document.get("predicted_value"))
    lines += _intelligence_markdown(document)
    lines += journeys_markdown(document)
    lines.append("Definitions and thresholds: docs/decision_logic.md.")
    return "\n".join(lines) + "\n"


def probably_gone(p: dict[str, Any]) -> str:
    """The sentence on the high-value customers the purchase model thinks are gone."""
    gone = p["high_value_low_p_alive_count"]
    return (
        f"{counted(gone, 'customer')} in the top 20% by revenue "
        f"{agreeing(gone, 'has', 'have')} P(alive) below {LOW_P_ALIVE:.0%} — the first calls "
        "for a win-back."
    )


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
        f"{counted(p['customers_with_prediction'], 'purchasing customer')} "
        f"{agreeing(p['customers_with_prediction'], 'has', 'have')} a prediction; together "
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
    lines += ["", f"**High value, probably gone**: {probably_gone(p)}", ""]
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


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


ALERTS_SHOWN = 20


# What the RFM table is, for readers of the Markdown and HTML reports
RFM_INTRO = (
    "Purchasing customers by recency, frequency and monetary quintile (scores 1-5): a "
    "second view, from purchases alone. The segments above also weigh engagement and "
    "activity, so a name found in both (At Risk, Lost) can count different customers."
)
EMPTY_SEGMENT = "No customers in this segment on this date."
# What an alert is, for readers of the dashboard (the rule: docs/decision_logic.md, "Alerts")
ALERTS_MEANING = (
    "An alert names a customer of high value whose risk level rose since the previous day "
    "into an alert level (high or critical unless configured otherwise), riskiest first."
)


def _intelligence_markdown(doc: dict[str, Any]) -> list[str]:
    """RFM segments, lifecycle stages, risk, actions and alerts (when the document has them)."""
    if "rfm_segments" not in doc:
        return []
    lines = [
        "## RFM segments",
        "",
        RFM_INTRO,
        "",
        "| Segment | Customers | Share of all | Revenue to date | Avg days since purchase | Avg orders | Avg revenue |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['segment']} | {r['customer_count']:,} | {r['share']:.1%} | "
        f"{money(r['total_revenue'])} | {_number(r['avg_recency_days'], 0)} | "
        f"{_number(r['avg_frequency'])} | {money(r['avg_monetary'])} |"
        for r in doc["rfm_segments"]
    ]
    lines += [
        "",
        "## Lifecycle stages",
        "",
        "| Stage | Customers | Share | Revenue to date | High value | Medium value | Low value |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['stage']} | {r['customer_count']:,} | {r['share']:.1%} | "
        f"{money(r['total_revenue'])} | {r['high_value'] or 0:,} | {r['medium_value'] or 0:,} | "
        f"{r['low_value'] or 0:,} |"
        for r in doc["lifecycle_stages"]
    ]
    lines += [
        "",
        "## Risk",
        "",
        "| Level | Customers | Share | Avg risk score | Predicted value |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['level']} | {r['customer_count']:,} | {r['share']:.1%} | "
        f"{_number(r['avg_risk_score'])} | {money(r['predicted_value'])} |"
        for r in doc["risk_levels"]
    ]
    actions = doc["actions"]
    cost = sum(r["total_cost"] or 0.0 for r in actions)
    gain = sum(r["total_expected_return"] or 0.0 for r in actions)
    lines += [
        "",
        "## Next-best actions",
        "",
        f"Together the actions cost **{money(cost)}** and are expected to return "
        f"**{money(gain)}**.",
        "",
        "| Action | Customers | Total cost | Expected return | ROI |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['action']} | {r['customer_count']:,} | {money(r['total_cost'])} | "
        f"{money(r['total_expected_return'])} | "
        f"{'–' if r['roi'] is None else format(r['roi'], '.0%')} |"
        for r in actions
    ]
    alerts = doc["alerts"]
    lines += ["", "## Alerts", ""]
    if not alerts:
        lines += [
            "No alerts on this date: no high-value customer's risk rose into an alert level.",
            "",
        ]
        return lines
    lines += [
        f"{counted(len(alerts), 'customer')} whose risk level rose since the previous day"
        + (
            f" (the {ALERTS_SHOWN} riskiest below; all in alerts.csv)"
            if len(alerts) > ALERTS_SHOWN
            else ""
        )
        + ":",
        "",
        "| Customer | Risk | Was | Why, and what to do |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['customer_id']} | {r['risk_score']:.0f} ({r['risk_level']}) | "
        f"{r['previous_risk_level'] or 'not scored'} | {r['explanation']} |"
        for r in alerts[:ALERTS_SHOWN]
    ]
    lines.append("")
    return lines


def write_report(
    reports_dir: Path, document: dict[str, Any], html_page: str | None = None
) -> tuple[Path, Path, Path | None]:
    """Write reports/<snapshot_date>/engagement_report.md, engagement_analysis.json and
    (given its rendered page, `presentation.html_pages`) engagement_report.html, each
    atomically."""
    folder = reports_dir / document["snapshot_date"]
    folder.mkdir(parents=True, exist_ok=True)
    md_path, json_path, html_path = (
        folder / REPORT_MARKDOWN,
        folder / REPORT_JSON,
        folder / REPORT_HTML,
    )
    pages = [
        (md_path, render_markdown(document)),
        (json_path, json.dumps(document, indent=2, sort_keys=False) + "\n"),
    ]
    if html_page is not None:
        pages.append((html_path, html_page))
    for path, text in pages:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return md_path, json_path, html_path if html_page is not None else None
