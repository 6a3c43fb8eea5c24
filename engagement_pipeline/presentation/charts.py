"""The report's charts, built from one snapshot date's report document (its JSON).

Each chart is a Vega-Altair specification with a title, axis titles with units, a one-line
reading and the table of figures it draws. The HTML report renders them to static SVG
(vl-convert, no script in the page); the dashboard hands the same specifications to
Streamlit. Nothing here computes a business figure: it only reshapes the document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from engagement_pipeline.analytics.journeys_report import FUNNEL_NOTE
from engagement_pipeline.markdown import agreeing, counted
from engagement_pipeline.vocabulary import MODEL_LABELS

WIDTH, HEIGHT = 560, 260
# An RFM cell's width and height: the grid is sized by its cells, on every surface. Charts
# carry no title of their own: the report and the dashboard give each one its heading.
RFM_CELL = (56, 44)
MONEY = "$,.0f"
NO_TOUCH = "(no touch)"  # conversions without a touch in the lookback (attribution)
UNITS = {"revenue": "$"}  # a metric's unit in the anomaly timeline; counts otherwise
RISK_COLOURS = {"low": "#4c9f70", "medium": "#e0b040", "high": "#e07b39", "critical": "#c23b3b"}

Document = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    """One chart: its key, title, one-line reading, the figures it draws and the chart, and
    a note on how to read it where the chart alone could mislead."""

    key: str
    title: str
    reading: str
    table: pd.DataFrame
    chart: alt.TopLevelMixin | None  # None: nothing to draw on this date
    note: str = ""


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def _legible_on(field: str, dark_from: float) -> alt.ColorValue:
    """A heat map's numbers in white on its darkest cells, in black on the others."""
    return alt.condition(f"datum.{field} >= {dark_from!r}", alt.value("white"), alt.value("black"))


def _frame(doc: Document, section: str) -> pd.DataFrame:
    return pd.DataFrame(doc.get(section) or [])


def segments_figure(doc: Document) -> Figure:
    table = _frame(doc, "segment_analyses")[["segment", "customer_count", "total_revenue"]]
    title = "Segment sizes and revenue"
    biggest = table.loc[table["customer_count"].idxmax()]
    richest = table.loc[table["total_revenue"].idxmax()]
    revenue = table["total_revenue"].sum()
    reading = (
        f"{biggest['segment']} is the largest segment "
        f"({biggest['customer_count'] / max(table['customer_count'].sum(), 1):.0%} of customers); "
        f"{richest['segment']} brings the most revenue "
        f"({richest['total_revenue'] / revenue if revenue else 0:.0%})."
    )
    base = alt.Chart(table).encode(y=alt.Y("segment:N", title="Segment", sort=None))
    chart = alt.hconcat(
        base.mark_bar()
        .encode(
            x=alt.X("customer_count:Q", title="Customers (count)"),
            tooltip=["segment", "customer_count"],
        )
        .properties(width=WIDTH // 2 - 60, height=HEIGHT // 2 + 40),
        base.mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("total_revenue:Q", title="Revenue to date ($)", axis=alt.Axis(format=MONEY)),
            tooltip=["segment", alt.Tooltip("total_revenue", format=MONEY)],
        )
        .properties(width=WIDTH // 2 - 60, height=HEIGHT // 2 + 40),
    )
    return Figure("segments", title, reading, table, chart)


DISTRIBUTION_TITLES = {
    "lifetime_value": ("Lifetime value of purchasing customers", "Lifetime value ($)"),
    "predicted_clv": ("Predicted CLV (BG/NBD + Gamma-Gamma)", "Predicted CLV ($)"),
    "engagement_score": ("Engagement score of every customer", "Engagement score (0-1)"),
}


def _median_edge(bins: pd.DataFrame) -> float:
    """The upper edge of the bin in which half of the customers are reached."""
    share = bins["customers"].cumsum() / bins["customers"].sum()
    return float(bins.loc[share >= 0.5, "bin_high"].iloc[0])


def distribution_figure(doc: Document, measure: str) -> Figure:
    title, axis = DISTRIBUTION_TITLES[measure]
    rows = _frame(doc, "distributions")
    table = (
        rows[rows["measure"] == measure][["bin_low", "bin_high", "open_ended", "customers"]]
        if not rows.empty
        else pd.DataFrame(columns=["bin_low", "bin_high", "open_ended", "customers"])
    ).reset_index(drop=True)
    if table.empty:
        return Figure(measure, title, "No customer has this figure on this date.", table, None)
    money = measure != "engagement_score"
    edge = _median_edge(table)
    reading = (
        f"Half of the {int(table['customers'].sum()):,} customers shown are at or below "
        + (_money(edge) if money else f"{edge:.2f}")
        + (
            f"; the last bar holds the top 1% (from {_money(table['bin_low'].iloc[-1])} up)."
            if money
            else "."
        )
    )
    fmt = MONEY if money else ".2f"
    scale = alt.Scale() if money else alt.Scale(domain=[0, 1])
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("bin_low:Q", bin="binned", title=axis, axis=alt.Axis(format=fmt), scale=scale),
            x2="bin_high:Q",
            y=alt.Y("customers:Q", title="Customers (count)"),
            tooltip=[
                alt.Tooltip("bin_low", format=fmt, title="from"),
                alt.Tooltip("bin_high", format=fmt, title="to"),
                "customers",
            ],
        )
        .properties(width=WIDTH, height=HEIGHT - 60)
    )
    if money:  # the table reads in dollars, as the axis does (the chart keeps its frame)
        table = table.rename(columns={"bin_low": "amount_from", "bin_high": "amount_to"})
    return Figure(measure, title, reading, table, chart)


def rfm_grid_figure(doc: Document) -> Figure:
    title = "RFM grid: purchasing customers by recency and frequency score"
    table = _frame(doc, "rfm_grid")
    if table.empty:
        return Figure("rfm_grid", title, "No purchasing customer on this date.", table, None)
    total = int(table["customers"].sum())
    best = int(table.loc[(table["r_score"] == 5) & (table["f_score"] == 5), "customers"].sum())
    worst = int(table.loc[(table["r_score"] == 1) & (table["f_score"] == 1), "customers"].sum())
    reading = (
        f"{best:,} of {total:,} purchasing customers ({best / total:.0%}) are in the best cell "
        f"(R5 F5: recent and frequent); {worst:,} ({worst / total:.0%}) in R1 F1."
    )
    base = alt.Chart(table).encode(
        x=alt.X("f_score:O", title="Frequency score (1-5, 5 = most orders)"),
        y=alt.Y("r_score:O", title="Recency score (1-5, 5 = most recent)", sort="descending"),
    )
    chart = base.mark_rect().encode(
        color=alt.Color(
            "customers:Q",
            title="Customers",
            scale=alt.Scale(scheme="blues"),
            legend=alt.Legend(format=",d", tickMinStep=1),  # whole customers, never 3.000000
        ),
        tooltip=["r_score", "f_score", "customers", alt.Tooltip("avg_monetary", format=MONEY)],
    ) + base.mark_text(fontSize=11).encode(
        text="customers:Q",
        color=_legible_on("customers", 0.7 * float(table["customers"].max())),
    )
    return Figure(
        "rfm_grid",
        title,
        reading,
        table,
        chart.properties(width=alt.Step(RFM_CELL[0]), height=alt.Step(RFM_CELL[1])),
    )


def risk_figure(doc: Document) -> Figure:
    title = "Customers by risk level"
    table = _frame(doc, "risk_levels")[["level", "customer_count", "share", "avg_risk_score"]]
    urgent = table[table["level"].isin(["high", "critical"])]
    at_risk = int(urgent["customer_count"].sum())
    reading = (
        f"{counted(at_risk, 'customer')} ({urgent['share'].sum():.0%}) "
        f"{agreeing(at_risk, 'is', 'are')} at high or critical risk of leaving."
    )
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("level:N", title="Risk level", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("customer_count:Q", title="Customers (count)"),
            color=alt.Color(
                "level:N",
                scale=alt.Scale(domain=list(RISK_COLOURS), range=list(RISK_COLOURS.values())),
                legend=None,
            ),
            tooltip=["level", "customer_count", alt.Tooltip("share", format=".1%")],
        )
        .properties(width=WIDTH // 2, height=HEIGHT - 60)
    )
    return Figure("risk", title, reading, table, chart)


def actions_figure(doc: Document) -> Figure:
    title = "Next-best actions: total cost and expected return"
    table = _frame(doc, "actions")[
        ["action", "customer_count", "total_cost", "total_expected_return"]
    ]
    cost, gain = table["total_cost"].fillna(0).sum(), table["total_expected_return"].fillna(0).sum()
    reading = (
        f"The actions cost {_money(cost)} in all and are expected to return {_money(gain)}"
        + (f" (ROI {(gain - cost) / cost:.0%})." if cost else ".")
    )
    long = table.melt(
        id_vars=["action"],
        value_vars=["total_cost", "total_expected_return"],
        var_name="figure",
        value_name="amount",
    ).replace({"figure": {"total_cost": "cost", "total_expected_return": "expected return"}})
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("action:N", title="Action", sort=None),
            yOffset="figure:N",
            x=alt.X("amount:Q", title="Amount ($)", axis=alt.Axis(format=MONEY)),
            color=alt.Color("figure:N", title=None),
            tooltip=["action", "figure", alt.Tooltip("amount", format=MONEY)],
        )
        .properties(width=WIDTH - 120, height=HEIGHT)
    )
    return Figure("actions", title, reading, table, chart)


def cohort_figure(doc: Document) -> Figure:
    title = "Cohort retention: share of each acquisition month active, by months since acquisition"
    table = _frame(doc, "cohort_retention")
    if table.empty:
        return Figure("cohorts", title, "No cohort yet on this date.", table, None)
    table = table[["cohort_month", "months_since", "cohort_customers", "retention_rate"]]
    month_one = table[table["months_since"] == 1]
    reading = (
        "Month-1 retention ranges from "
        f"{month_one['retention_rate'].min():.0%} to {month_one['retention_rate'].max():.0%} "
        "across cohorts."
        if not month_one.empty
        else "No cohort is a month old yet: only month 0 (100%) can be observed."
    )
    base = alt.Chart(table).encode(
        x=alt.X("months_since:O", title="Months since acquisition", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("cohort_month:O", title="Acquisition month", timeUnit="yearmonth"),
    )
    chart = base.mark_rect().encode(
        color=alt.Color(
            "retention_rate:Q",
            title="Active (%)",
            scale=alt.Scale(scheme="greens", domain=[0, 1]),
            legend=alt.Legend(format=".0%"),
        ),
        tooltip=[
            "cohort_month",
            "months_since",
            "cohort_customers",
            alt.Tooltip("retention_rate", format=".1%"),
        ],
    ) + base.mark_text(fontSize=10).encode(
        text=alt.Text("retention_rate:Q", format=".0%"),
        color=_legible_on("retention_rate", 0.7),
    )
    return Figure(
        "cohorts",
        title,
        reading,
        table,
        chart.properties(width=WIDTH - 100, height=HEIGHT),
    )


def funnel_figure(doc: Document) -> Figure:
    title = "Funnel: customers reaching each stage"
    table = _frame(doc, "funnel")[
        ["stage", "customers_reached", "share_of_customers", "conversion_from_previous"]
    ]
    steps = table.dropna(subset=["conversion_from_previous"])
    weakest = steps.loc[steps["conversion_from_previous"].idxmin()] if not steps.empty else None
    reading = (
        f"{table['share_of_customers'].iloc[-1]:.0%} of customers reach {table['stage'].iloc[-1]}"
        + (
            f"; the weakest step is into {weakest['stage']} ({weakest['conversion_from_previous']:.0%} go on)."
            if weakest is not None
            else "."
        )
    )
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", title="Stage", sort=None),
            x=alt.X("customers_reached:Q", title="Customers reaching the stage (count)"),
            tooltip=["stage", "customers_reached", alt.Tooltip("share_of_customers", format=".1%")],
        )
        .properties(width=WIDTH - 120, height=HEIGHT - 80)
    )
    return Figure("funnel", title, reading, table, chart, FUNNEL_NOTE)


def attribution_figure(doc: Document) -> Figure:
    title = "Channel attribution: share of conversions by model"
    table = _frame(doc, "channel_attribution")
    if table.empty:
        return Figure(
            "attribution", title, "No conversion in the window on this date.", table, None
        )
    table = table[["channel", "model", "conversions", "revenue", "share_of_conversions"]]
    markov = table[table["model"] == "markov"]
    untouched = markov[markov["channel"] == NO_TOUCH]
    channels = markov[markov["channel"] != NO_TOUCH]
    reading = (
        f"Under the Markov model {channels.loc[channels['conversions'].idxmax(), 'channel']} "
        "earns the largest share of conversions "
        f"({channels['share_of_conversions'].max():.0%})"
        if not channels.empty
        else "No conversion had a touch in its lookback"
    ) + (
        f"; {untouched['share_of_conversions'].sum():.0%} had no touch in the lookback "
        f"(shown as {NO_TOUCH})."
        if not untouched.empty
        else "."
    )
    # the models by the names readers know (the keys stay in the lake and the JSON)
    table = table.assign(model=table["model"].map(lambda m: MODEL_LABELS.get(m, m)))
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("channel:N", title="Channel"),
            xOffset="model:N",
            y=alt.Y(
                "share_of_conversions:Q",
                title="Share of conversions (%)",
                axis=alt.Axis(format=".0%"),
            ),
            color=alt.Color("model:N", title="Model"),
            tooltip=[
                "channel",
                "model",
                alt.Tooltip("conversions", format=",.1f"),
                alt.Tooltip("share_of_conversions", format=".1%"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return Figure("attribution", title, reading, table, chart)


def anomaly_figure(doc: Document) -> Figure:
    title = "Daily metrics against their expected range"
    table = _frame(doc, "anomaly_timeline")
    if table.empty:
        return Figure("anomalies", title, "No metric judged yet on this date.", table, None)
    table = table[
        ["day", "metric", "value", "expected_low", "expected_high", "is_anomaly", "direction"]
    ]
    flagged = table[table["is_anomaly"]]
    days = table["day"].nunique()
    reading = (
        f"No anomaly in the last {counted(days, 'day')}: every metric stayed within its "
        "expected range."
        if flagged.empty
        else f"{counted(len(flagged), 'anomaly', 'anomalies')} in the last {counted(days, 'day')}: "
        + "; ".join(
            f"{r.metric} {r.direction} on {str(r.day)[:10]}" for r in flagged.head(3).itertuples()
        )
        + ("…" if len(flagged) > 3 else ".")
    )
    panels = table.assign(
        panel=table["metric"] + " (" + table["metric"].map(UNITS).fillna("count") + ")"
    )
    base = alt.Chart(panels).encode(x=alt.X("day:T", title="Day"))
    layered = alt.layer(
        base.mark_area(opacity=0.25, color="#9ecae1").encode(
            y=alt.Y("expected_low:Q", title=None), y2="expected_high:Q"
        ),
        base.mark_line(color="#4c78a8").encode(y="value:Q"),
        base.transform_filter("datum.is_anomaly")
        .mark_point(color="#c23b3b", size=60, filled=True)
        .encode(y="value:Q", tooltip=["metric", "day", "value", "direction"]),
    ).properties(width=WIDTH - 40, height=55)
    chart = layered.facet(
        row=alt.Row(
            "panel:N",
            title="Value per day (band: expected range; red: anomaly)",
            header=alt.Header(labelAngle=0, labelAlign="left"),
        )
    ).resolve_scale(y="independent")
    return Figure("anomalies", title, reading, table, chart)


FIGURES: tuple[Callable[[Document], Figure], ...] = (
    segments_figure,
    lambda d: distribution_figure(d, "lifetime_value"),
    lambda d: distribution_figure(d, "predicted_clv"),
    lambda d: distribution_figure(d, "engagement_score"),
    rfm_grid_figure,
    risk_figure,
    actions_figure,
    cohort_figure,
    funnel_figure,
    attribution_figure,
    anomaly_figure,
)
FIGURE_KEYS = (
    "segments",
    "lifetime_value",
    "predicted_clv",
    "engagement_score",
    "rfm_grid",
    "risk",
    "actions",
    "cohorts",
    "funnel",
    "attribution",
    "anomalies",
)


def report_figures(doc: Document) -> list[Figure]:
    """Every chart of one date's report, in reading order."""
    return [build(doc) for build in FIGURES]
