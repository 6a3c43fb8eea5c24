"""The report's journeys-and-channels sections: cohort retention, the funnel, the top paths,
attribution by model and the day's anomalies, as JSON-ready rows per snapshot date, and
their Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from engagement_pipeline.analytics.anomalies import REVENUE
from engagement_pipeline.analytics.attribution import MODELS
from engagement_pipeline.analytics.intelligence_report import rows_by_date
from engagement_pipeline.analytics.strategy import money
from engagement_pipeline.stages import (
    CHANNEL_ATTRIBUTION,
    COHORT_RETENTION,
    FUNNEL_CONVERSION,
    JOURNEY_PATHS,
    METRIC_ANOMALIES,
)
from engagement_pipeline.vocabulary import MODEL_LABELS

# each section and the journeys asset it is read from (the report asset and the API)
JOURNEY_INPUTS = {
    "cohort_retention": COHORT_RETENTION,
    "funnel": FUNNEL_CONVERSION,
    "top_paths": JOURNEY_PATHS,
    "channel_attribution": CHANNEL_ATTRIBUTION,
    "anomalies": METRIC_ANOMALIES,
}
JOURNEY_SECTIONS = tuple(JOURNEY_INPUTS)
COHORTS_SHOWN = 12  # the most recent cohorts in the Markdown matrix (the JSON has them all)

_QUERIES = {
    "cohort_retention": """
        SELECT snapshot_date, CAST(cohort_month AS DATE) AS cohort_month, months_since,
               cohort_customers, active_customers, retention_rate, cumulative_revenue_per_customer
        FROM {rows} ORDER BY snapshot_date, cohort_month, months_since""",
    "funnel": """
        SELECT snapshot_date, stage, customers_reached, share_of_customers,
               conversion_from_previous, median_days_from_previous
        FROM {rows} ORDER BY snapshot_date, stage_order""",
    "top_paths": """
        SELECT snapshot_date, rank, path, journeys, conversions, conversion_rate, revenue
        FROM {rows} ORDER BY snapshot_date, rank""",
    "channel_attribution": """
        SELECT snapshot_date, channel, model, conversions, revenue, share_of_conversions
        FROM {rows} ORDER BY snapshot_date, channel, model""",
    "anomalies": """
        SELECT snapshot_date, metric, direction, value, expected_low, expected_high, score
        FROM {rows} WHERE is_anomaly ORDER BY snapshot_date, metric""",
}


WINDOW_DAYS = "journeys_window_days"  # how many days of conversions paths and attribution cover


def journey_sections(
    con: duckdb.DuckDBPyConnection,
    assets: Mapping[str, duckdb.DuckDBPyRelation],
    window_days: int,
) -> dict[str, dict[str, Any]]:
    """date -> section -> rows, from the journeys assets keyed by section name
    (cohort_retention, funnel, top_paths, channel_attribution, anomalies), and the
    journeys window's length (journeys_window_days). A date without anomalies has an
    empty list."""
    by_section = {}
    for name, query in _QUERIES.items():
        view = f"_report_{name}"  # a named view: the query text refers to it
        assets[name].create_view(view, replace=True)
        by_section[name] = rows_by_date(con, query.format(rows=view))
    dates = by_section["funnel"].keys() | by_section["cohort_retention"].keys()
    return {
        day: {
            **{name: rows.get(day, []) for name, rows in by_section.items()},
            WINDOW_DAYS: window_days,
        }
        for day in dates
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _metric(metric: str, value: float) -> str:
    """Revenue in money, counts with one decimal at most (an expected count is a median)."""
    return money(value) if metric == REVENUE else f"{value:,.1f}".removesuffix(".0")


def _cohort_markdown(cells: list[dict[str, Any]]) -> list[str]:
    """Cohort rows by months since acquisition: retention, then cumulative revenue per
    customer; an empty cell is a month not observable yet."""
    cohorts = sorted({c["cohort_month"] for c in cells})[-COHORTS_SHOWN:]
    months = sorted({c["months_since"] for c in cells if c["cohort_month"] in cohorts})
    at = {(c["cohort_month"], c["months_since"]): c for c in cells}
    size = {c["cohort_month"]: c["cohort_customers"] for c in cells}
    header = "| Cohort | Customers | " + " | ".join(f"M{m}" for m in months) + " |"
    rule = "|---|---:|" + "---:|" * len(months)
    retention = [header, rule]
    revenue = [header, rule]
    for cohort in cohorts:  # at most COHORTS_SHOWN rows
        label = str(cohort)[:7]
        shares = [
            _percent(at[(cohort, m)]["retention_rate"]) if (cohort, m) in at else "" for m in months
        ]
        values = [
            money(at[(cohort, m)]["cumulative_revenue_per_customer"]) if (cohort, m) in at else ""
            for m in months
        ]
        retention.append(f"| {label} | {size[cohort]:,} | " + " | ".join(shares) + " |")
        revenue.append(f"| {label} | {size[cohort]:,} | " + " | ".join(values) + " |")
    return [
        "Share of each acquisition cohort active in each month since acquisition (month 0 is "
        "the cohort itself; an empty cell is a month not observable yet)"
        + (f", the {COHORTS_SHOWN} most recent cohorts:" if len(size) > COHORTS_SHOWN else ":"),
        "",
        *retention,
        "",
        "Cumulative revenue per cohort customer:",
        "",
        *revenue,
        "",
    ]


def _attribution_markdown(rows: list[dict[str, Any]], span: str) -> list[str]:
    """Channels by model: attributed conversions (revenue in the JSON)."""
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    table = {(r["channel"], r["model"]): r["conversions"] for r in rows}
    channels = sorted({r["channel"] for r in rows})
    lines = [
        f"Conversions of {span} attributed to each channel, by model (each column adds up "
        "to the same total):",
        "",
        "| Channel | " + " | ".join(MODEL_LABELS.get(m, m) for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    lines += [
        f"| {channel} | "
        + " | ".join(f"{table.get((channel, m), 0.0):,.1f}" for m in models)
        + " |"
        for channel in channels
    ]
    return [*lines, ""]


# How the funnel counts, for every surface that shows it (its purchase stage can count
# fewer customers than "with a purchase")
FUNNEL_NOTE = (
    "A customer counts at a stage when they reached it after every stage before it, so a "
    "stage can hold fewer customers than, say, all buyers."
)


def journeys_span(doc: dict[str, Any]) -> str:
    """The days the date's paths and attribution cover, in words."""
    window = doc.get(WINDOW_DAYS)
    return f"the last {window} days" if window else "the journeys window"


def top_paths_intro(doc: dict[str, Any]) -> str:
    """What the top paths table counts, for readers of the Markdown and HTML reports."""
    return (
        f"The most frequent paths of the journeys of {journeys_span(doc)} (conversions) and "
        "of the customers with touches and no purchase in the lookback; (no touch) is a "
        "purchase with no touch before it, converting by definition."
    )


def journeys_markdown(doc: dict[str, Any]) -> list[str]:
    """Cohorts, funnel, paths, attribution and anomalies (when the document has them)."""
    if "funnel" not in doc:
        return []
    lines = ["## Cohort retention", ""]
    lines += (
        _cohort_markdown(doc["cohort_retention"])
        if doc["cohort_retention"]
        else [
            "No acquired customers yet.",
            "",
        ]
    )
    lines += [
        "## Funnel",
        "",
        FUNNEL_NOTE,
        "",
        "| Stage | Customers | Share of customers | From the stage before | Median days from it |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['stage']} | {r['customers_reached']:,} | {_percent(r['share_of_customers'])} | "
        f"{_percent(r['conversion_from_previous'])} | "
        f"{'–' if r['median_days_from_previous'] is None else format(r['median_days_from_previous'], '.1f')} |"
        for r in doc["funnel"]
    ]
    span = journeys_span(doc)
    lines += [
        "",
        "## Top journey paths",
        "",
        top_paths_intro(doc),
        "",
        "| # | Path | Journeys | Conversions | Conversion rate | Revenue |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['rank']} | {r['path']} | {r['journeys']:,} | {r['conversions']:,} | "
        f"{_percent(r['conversion_rate'])} | {money(r['revenue'])} |"
        for r in doc["top_paths"]
    ]
    lines += ["", "## Channel attribution", ""]
    lines += (
        _attribution_markdown(doc["channel_attribution"], span)
        if doc["channel_attribution"]
        else ["No conversions in the journeys window.", ""]
    )
    lines += ["## Anomalies", ""]
    if not doc["anomalies"]:
        return [*lines, "Every daily metric was within its expected range on this date.", ""]
    lines += [
        "| Metric | Direction | Value | Expected range | Score |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['metric']} | {r['direction']} | {_metric(r['metric'], r['value'])} | "
        f"{_metric(r['metric'], r['expected_low'])} – {_metric(r['metric'], r['expected_high'])} "
        f"| {r['score']:.1f} |"
        for r in doc["anomalies"]
    ]
    return [*lines, ""]
