"""The dashboard: a read-only Streamlit app over the lake (`engagement-pipeline dashboard`).

Every figure comes from LakeReader (the report's own documents and the assets' rows) and
every chart from presentation.charts; this file only lays them out and filters rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import pandas as pd
import streamlit as st

from engagement_pipeline.analytics.journeys_report import top_paths_intro
from engagement_pipeline.analytics.report import ALERTS_MEANING, EMPTY_SEGMENT, RFM_INTRO
from engagement_pipeline.config import default_config_path, load_config
from engagement_pipeline.errors import PipelineError
from engagement_pipeline.presentation import charts
from engagement_pipeline.presentation.columns import (
    ALERT_COLUMNS,
    as_text,
    column,
    formatted,
    label,
    readable,
)
from engagement_pipeline.presentation.lake_reader import FILTERS, LakeReader
from engagement_pipeline.vocabulary import LTV_MEANING, RiskLevel, SegmentTier

CACHE_SECONDS = 60  # a running pipeline's new dates appear within a minute
ROWS_SHOWN = 500
# The overview's trend lines (report asset columns) and their axis units
TREND = {
    "total_customers": "",
    "total_revenue": " ($)",
    "avg_ltv": " ($)",
    "avg_engagement_score": " (0-1)",
}
# Filter options in the order readers know them (others alphabetically)
OPTION_ORDER = {
    "segment": [t.value for t in SegmentTier],
    "risk_level": list(get_args(RiskLevel)),
}
# How Streamlit's tables write each kind of number (presentation.columns.Kind)
NUMBER_FORMATS = {
    "money": "dollar",
    "share": "%.1f%%",  # of values times 100 (_rows)
    "count": "localized",
    "score": "%.3f",
    "probability": "%.2f",
    "whole": "%.0f",
    "number": "%.2f",
}


def _reader() -> LakeReader:
    return LakeReader(load_config(default_config_path()))


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _dates() -> list[str]:
    return _reader().dates()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Reading the snapshot ...")
def _document(day: str) -> dict[str, Any]:
    return _reader().document(day)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _trend() -> pd.DataFrame:
    return _reader().trend()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Reading customers ...")
def _customers(day: str) -> pd.DataFrame:
    return _reader().customers(day)


def _chart(figure: charts.Figure) -> None:
    st.subheader(figure.title)
    st.caption(figure.reading)
    if figure.note:
        st.caption(figure.note)
    if figure.chart is not None:
        # drawn as designed, as in the HTML report: Streamlit's theme squeezed the heights
        st.altair_chart(figure.chart, width="content", theme=None)


def _table(frame: pd.DataFrame) -> None:
    """A table of a few dozen rows as the report shows it: columns in words, values as
    readers read them, long text (an alert's explanation) wrapped."""
    st.table(as_text(frame).style.hide(axis="index"))


def _rows(frame: pd.DataFrame) -> None:
    """Customers' rows (up to ROWS_SHOWN) in a scrolling, sortable grid, columns in words."""
    columns = {name: column(name) for name in frame.columns}
    shown = readable(frame)
    shares = [name for name, c in columns.items() if c.kind == "share"]
    shown[shares] = shown[shares] * 100  # written "12.3%", as in the tables
    config = {
        name: st.column_config.NumberColumn(c.label, format=NUMBER_FORMATS[c.kind])
        if c.kind in NUMBER_FORMATS
        else st.column_config.Column(c.label)
        for name, c in columns.items()
    }
    st.dataframe(shown, hide_index=True, column_config=config)


def _strategies(doc: dict[str, Any]) -> None:
    """Each segment's recommended strategies, as the report lists them."""
    st.subheader("Recommended strategies")
    for s in doc["segment_analyses"]:
        with st.expander(f"{s['segment']} ({s['customer_count']:,} customers)"):
            recommendations = s["recommendations"]
            st.markdown(
                "\n".join(f"{i}. {r}" for i, r in enumerate(recommendations, 1))
                if recommendations
                else EMPTY_SEGMENT
            )


def _options(name: str, values: pd.Series) -> list[str]:
    """A filter's values in the order readers know them (segments Champion to Lost, risk
    levels rising), others alphabetically."""
    order = OPTION_ORDER.get(name, [])
    present = set(values.dropna())
    return [v for v in order if v in present] + sorted(present - set(order))


def _money(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"${value:,.0f}"


def _signed_money(change: float, digits: int = 0) -> str:
    """A change of money as readers write it: +$3,650, -$12.50."""
    return f"{'-' if change < 0 else '+'}${abs(change):,.{digits}f}"


def overview(day: str) -> None:
    doc = _document(day)
    st.title(f"Overview — {day}")
    metrics, trend = doc["overall_metrics"], _trend()
    before = trend[pd.to_datetime(trend["snapshot_date"]).dt.strftime("%Y-%m-%d") < day].tail(1)
    previous = before.iloc[0] if not before.empty else None

    def delta(key: str, write: Callable[[float], str]) -> str | None:
        """The change since the previous snapshot date, written like the figure."""
        if previous is None:
            return None
        return write(float(metrics[key] or 0) - float(previous[key] or 0))

    cols = st.columns(4)
    cols[0].metric(
        "Customers", f"{metrics['total_customers']:,}", delta("total_customers", "{:+,.0f}".format)
    )
    cols[1].metric(
        "Revenue to date", _money(metrics["total_revenue"]), delta("total_revenue", _signed_money)
    )
    cols[2].metric(
        "Average LTV",
        f"${metrics['avg_ltv']:,.2f}",
        delta("avg_ltv", lambda change: _signed_money(change, 2)),
        help=LTV_MEANING,
    )
    cols[3].metric(
        "Average engagement",
        f"{metrics['avg_engagement_score']:.3f}",
        delta("avg_engagement_score", "{:+.4f}".format),
    )
    st.subheader("Trend across snapshot dates")
    st.caption(
        "Customers, revenue to date, average LTV and engagement on every snapshot date, "
        "to the last one whatever date is picked."
    )
    by_date = trend.set_index("snapshot_date")
    for name, unit in TREND.items():
        st.line_chart(by_date[[name]], y_label=label(name) + unit, height=220)
    _chart(charts.segments_figure(doc))
    for measure in charts.DISTRIBUTION_TITLES:
        _chart(charts.distribution_figure(doc, measure))


def segments(day: str) -> None:
    doc = _document(day)
    st.title(f"Segments and RFM — {day}")
    _table(pd.DataFrame(doc["segment_analyses"]).drop(columns=["recommendations"]))
    _strategies(doc)
    _chart(charts.rfm_grid_figure(doc))
    st.subheader("RFM segments")
    st.caption(RFM_INTRO)
    _table(pd.DataFrame(doc["rfm_segments"]))
    st.subheader("Drill down")
    names = [s["segment"] for s in doc["rfm_segments"]]
    chosen = st.selectbox("Customers of the RFM segment", names, key="drill")
    rows = _customers(day)
    shown = rows[rows["rfm_segment"] == chosen]
    st.metric("Customers in the segment", f"{len(shown):,}")
    _rows(shown.head(ROWS_SHOWN))


def risk_and_actions(day: str) -> None:
    doc = _document(day)
    st.title(f"Risk and actions — {day}")
    rows = _customers(day)
    cols = st.columns(len(FILTERS))
    chosen = {
        name: cols[i].multiselect(label(name), _options(name, rows[name]), key=f"f_{name}")
        for i, name in enumerate(FILTERS)
    }
    shown = rows
    for name, values in chosen.items():
        if values:
            shown = shown[shown[name].isin(values)]
    cols = st.columns(3)
    cols[0].metric("Customers shown", f"{len(shown):,}")
    cols[1].metric("Total cost", _money(shown["cost"].sum()))
    cols[2].metric("Expected return", _money(shown["expected_return"].sum()))
    st.caption(f"Riskiest first; the first {ROWS_SHOWN} rows (download below for all).")
    _rows(shown.head(ROWS_SHOWN))
    st.download_button(
        "Download these customers (CSV)", shown.to_csv(index=False), f"customers-{day}.csv"
    )
    st.caption("The two charts below cover every customer of the date, whatever the filters.")
    _chart(charts.risk_figure(doc))
    _chart(charts.actions_figure(doc))


def customer_lookup(day: str) -> None:
    st.title(f"Customer lookup — {day}")
    customer_id = st.text_input("Customer id", key="customer_id").strip()
    if not customer_id:
        st.info("Type a customer id (for example one from the Risk and actions table).")
        return
    reader = _reader()
    figures = reader.customer(day, customer_id)
    if figures is None:
        st.warning(f"No customer {customer_id!r} on {day}.")
        return
    st.subheader(f"{customer_id}: {figures['action']}")
    st.markdown(f"**Why:** {figures['explanation']}")
    cols = st.columns(4)
    cols[0].metric("Segment", figures["segment"])
    cols[1].metric("Risk", f"{figures['risk_score']:.0f} ({figures['risk_level']})")
    cols[2].metric("Lifetime value", formatted(figures["lifetime_value"], "money"))
    cols[3].metric("Predicted CLV", formatted(figures["predicted_clv"], "money"))
    each = pd.DataFrame(
        {
            "Figure": [label(k) for k in figures if k != "explanation"],  # shown above
            "Value": [
                formatted(v, column(k).kind) for k, v in figures.items() if k != "explanation"
            ],
        }
    )
    st.table(each.style.hide(axis="index"))
    history = reader.customer_history(customer_id, day).set_index("snapshot_date")
    st.subheader("History across snapshot dates")
    values = history[["lifetime_value", "predicted_clv"]]
    st.line_chart(values.rename(columns=label), y_label="Value ($)")
    st.line_chart(history[["risk_score"]].rename(columns=label), y_label="Risk (0-100)")


def journeys(day: str) -> None:
    doc = _document(day)
    st.title(f"Journeys and channels — {day}")
    _chart(charts.cohort_figure(doc))
    _chart(charts.funnel_figure(doc))
    _chart(charts.attribution_figure(doc))
    st.subheader("Top journey paths")
    st.caption(top_paths_intro(doc))
    _table(pd.DataFrame(doc["top_paths"]))


def alerts(day: str) -> None:
    doc = _document(day)
    st.title(f"Alerts and anomalies — {day}")
    rows = pd.DataFrame(doc["alerts"])
    st.metric("Alerts", f"{len(rows):,}", help=ALERTS_MEANING)
    st.caption(ALERTS_MEANING)
    if rows.empty:
        st.info("No alerts on this date.")
    else:
        _table(rows[list(ALERT_COLUMNS)])
    _chart(charts.anomaly_figure(doc))


PAGES = {
    "Overview": overview,
    "Segments and RFM": segments,
    "Risk and actions": risk_and_actions,
    "Customer lookup": customer_lookup,
    "Journeys and channels": journeys,
    "Alerts and anomalies": alerts,
}


def main() -> None:
    st.set_page_config(page_title="Engagement dashboard", layout="wide")
    try:
        dates = _dates()
    except PipelineError as exc:
        st.error(str(exc))
        return
    if not dates:
        config = load_config(default_config_path())
        st.title("Engagement dashboard")
        st.warning(
            f"The lake at {config.lake_location} has no complete snapshot yet. Run "
            "`python3 bootstrap.py` (the sample) or `engagement-pipeline run`, then reload."
        )
        return
    day = st.sidebar.selectbox("Snapshot date", dates[::-1], key="snapshot_date")
    page = st.sidebar.radio("Page", list(PAGES), key="page")
    PAGES[page](day)


main()
