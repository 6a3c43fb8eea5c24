"""How readers see the columns of the tables the HTML report and the dashboard show: a
label in words and a kind that says how a value is written ($1,234.56, 12.3%, 0.652).

The report documents, the JSON and the lake keep the columns' names; only what a reader
sees is labelled here, once for both surfaces (the Markdown report writes its own
headers beside its text). A column not listed still reads as words ("days_since_x" is
"Days since x").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from engagement_pipeline.vocabulary import MODEL_LABELS

Kind = Literal[
    "text", "money", "share", "count", "score", "probability", "whole", "number", "date", "flag"
]
NUMERIC_KINDS = frozenset({"money", "share", "count", "score", "probability", "whole", "number"})
MISSING = "–"


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"
    values: dict[str, str] = field(default_factory=dict)  # how readers see a key's values


COLUMNS: dict[str, Column] = {
    # customers and segments
    "snapshot_date": Column("Snapshot date", "date"),
    "customer_id": Column("Customer"),
    "segment": Column("Segment"),
    "country": Column("Country"),
    "customer_count": Column("Customers", "count"),
    "total_customers": Column("Customers", "count"),
    "customers": Column("Customers", "count"),
    "customer_share": Column("Share of all customers", "share"),
    "share": Column("Share of all customers", "share"),
    "avg_ltv": Column("Average LTV", "money"),
    "lifetime_value": Column("Lifetime value (LTV)", "money"),
    "predicted_clv": Column("Predicted CLV", "money"),
    "predicted_value": Column("Predicted value", "money"),
    "p_alive": Column("P(alive)", "probability"),
    "total_revenue": Column("Revenue to date", "money"),
    "purchase_count": Column("Orders", "count"),
    "avg_engagement_score": Column("Average engagement", "score"),
    "engagement_score": Column("Engagement score", "score"),
    "avg_days_since_last_activity": Column("Average days inactive", "whole"),
    "days_since_last_activity": Column("Days since last activity", "whole"),
    # RFM, lifecycle, risk and actions
    "rfm_segment": Column("RFM segment"),
    "rfm_code": Column("RFM code"),
    "r_score": Column("Recency score", "count"),
    "f_score": Column("Frequency score", "count"),
    "avg_recency_days": Column("Average days since purchase", "whole"),
    "avg_frequency": Column("Average orders", "number"),
    "avg_monetary": Column("Average revenue", "money"),
    "lifecycle_stage": Column("Lifecycle stage"),
    "value_segment": Column("Value segment"),
    "high_value": Column("High value", "count"),
    "medium_value": Column("Medium value", "count"),
    "low_value": Column("Low value", "count"),
    "level": Column("Risk level"),
    "risk_level": Column("Risk level"),
    "previous_risk_level": Column("Risk level the day before"),
    "risk_score": Column("Risk score (0-100)", "whole"),
    "avg_risk_score": Column("Average risk score", "number"),
    "action": Column("Action"),
    "cost": Column("Cost", "money"),
    "total_cost": Column("Total cost", "money"),
    "expected_return": Column("Expected return", "money"),
    "total_expected_return": Column("Expected return", "money"),
    "roi": Column("Return on cost", "share"),
    "explanation": Column("Why, and what to do"),
    **{f"signal_{i}": Column(f"Risk signal {i}") for i in (1, 2, 3)},
    **{f"contribution_{i}": Column(f"Risk points of signal {i}", "whole") for i in (1, 2, 3)},
    # distributions
    "bin_low": Column("From", "number"),
    "bin_high": Column("To", "number"),
    "amount_from": Column("From", "money"),
    "amount_to": Column("To", "money"),
    "open_ended": Column("Open-ended (the top 1%)", "flag"),
    # cohorts and funnel
    "cohort_month": Column("Acquisition month"),
    "months_since": Column("Months since acquisition", "count"),
    "cohort_customers": Column("Customers in the cohort", "count"),
    "active_customers": Column("Active customers", "count"),
    "retention_rate": Column("Active share", "share"),
    "cumulative_revenue_per_customer": Column("Revenue per customer to date", "money"),
    "stage": Column("Stage"),
    "customers_reached": Column("Customers reaching it", "count"),
    "share_of_customers": Column("Share of customers", "share"),
    "conversion_from_previous": Column("From the stage before", "share"),
    "median_days_from_previous": Column("Median days from the stage before", "number"),
    # paths and attribution
    "rank": Column("Rank", "count"),  # not "#": Streamlit reads a table's header as Markdown
    "path": Column("Path"),
    "steps": Column("Steps", "count"),
    "journeys": Column("Journeys", "count"),
    "conversions": Column("Conversions", "count"),
    "conversion_rate": Column("Conversion rate", "share"),
    "revenue": Column("Revenue", "money"),
    "share_of_journeys": Column("Share of journeys", "share"),
    "channel": Column("Channel"),
    "model": Column("Model", values=MODEL_LABELS),
    "share_of_conversions": Column("Share of conversions", "share"),
    "share_of_revenue": Column("Share of revenue", "share"),
    # daily metrics and anomalies
    "day": Column("Day", "date"),
    "metric": Column("Metric"),
    "value": Column("Value", "number"),
    "expected_low": Column("Expected from", "number"),
    "expected_high": Column("Expected to", "number"),
    "score": Column("Robust z-score", "number"),
    "is_anomaly": Column("Anomaly", "flag"),
    "direction": Column("Direction"),
}


# The alerts table of the HTML report and the dashboard
ALERT_COLUMNS = ("customer_id", "risk_score", "risk_level", "previous_risk_level", "explanation")


def column(name: str) -> Column:
    """How readers see a column (in words, as text, when it is not listed)."""
    return COLUMNS.get(name) or Column(name.replace("_", " ").strip().capitalize())


def label(name: str) -> str:
    return column(name).label


def numeric(name: str) -> bool:
    """Whether a column holds numbers (written right-aligned)."""
    return column(name).kind in NUMERIC_KINDS


def formatted(value: Any, kind: Kind) -> str:
    """One value as a reader sees it: $1,234.56, 12.3%, 1,234, 0.652; – where missing."""
    if _missing(value):
        return MISSING
    if kind == "flag":
        return "yes" if bool(value) else "no"
    if kind == "date":
        return str(value)[:10]
    if kind not in NUMERIC_KINDS or isinstance(value, (str, bool)):
        return str(value)
    number = float(value)
    if kind == "money":
        return f"-${-number:,.2f}" if number < 0 else f"${number:,.2f}"
    if kind == "share":
        return f"{number:.1%}"
    if kind == "count":  # attributed conversions are fractional: one decimal then
        return f"{number:,.0f}" if math.isclose(number, round(number)) else f"{number:,.1f}"
    if kind == "score":
        return f"{number:.3f}"
    if kind == "probability":
        return f"{number:.2f}"
    if kind == "whole":  # days, a 0-100 score: a fraction of one says nothing
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column's keyed values in words (a model's name, not its key)."""
    shown = frame.copy()
    for name in shown.columns:
        values = column(name).values
        if values:
            shown[name] = shown[name].map(lambda v, values=values: values.get(v, v))
    return shown


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a reader reads it: columns in words, every value written out as text
    ($1,234.56, 12.3%), keyed values in words. For tables of a few dozen rows. A column of
    counts with a fraction anywhere (attributed conversions) has one decimal throughout."""
    text = readable(frame)
    for name in text.columns:
        kind = column(name).kind
        values = text[name]
        if kind == "count" and any(_fractional(v) for v in values):
            text[name] = [MISSING if _missing(v) else f"{float(v):,.1f}" for v in values]
        else:
            text[name] = [formatted(v, kind) for v in values]
    return text.rename(columns=label)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _fractional(value: Any) -> bool:
    return (
        not _missing(value)
        and isinstance(value, (int, float))
        and not math.isclose(value, round(value))
    )
