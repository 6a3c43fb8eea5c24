"""One snapshot date's report as a single self-contained HTML file: the headline figures,
every chart as inline SVG with its reading and the figures it draws, the recommended
strategies, the RFM, lifecycle and top-paths tables, and the day's alerts; every table's
columns in words (presentation.columns).

No script runs in the page and nothing is fetched: the charts are rendered to SVG here
(vl-convert), the style is inline, and the page prints (figures tables open, no page
break inside a chart).
"""

from __future__ import annotations

import html
import re
import warnings
from typing import Any

import pandas as pd

from engagement_pipeline.analytics.journeys_report import top_paths_intro
from engagement_pipeline.analytics.report import (
    ALERTS_MEANING,
    EMPTY_SEGMENT,
    RFM_INTRO,
    probably_gone,
)
from engagement_pipeline.presentation.charts import Figure, report_figures
from engagement_pipeline.presentation.columns import ALERT_COLUMNS, as_text, numeric
from engagement_pipeline.vocabulary import LTV_MEANING

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 980px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.lead { color: #555; margin-top: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .6rem; }
@media (min-width: 700px) { .kpis { grid-template-columns: repeat(4, 1fr); } }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .7rem; }
.kpi .value { font-size: 1.3rem; font-weight: 600; } .kpi .label { color: #666; font-size: .85rem; }
figure { margin: 1.2rem 0 2rem; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption.reading { font-weight: 500; margin: .3rem 0 .6rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .4rem 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .2rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #4c78a8; }
.empty { color: #777; font-style: italic; } .note { color: #555; font-size: .85rem; }
footer { margin-top: 3rem; color: #777; font-size: .8rem; }
@media print { body { margin: 0; max-width: none; } details > summary { display: none; }
               details { display: block; } h2 { break-after: avoid; } }
"""


def _svg(figure: Figure) -> str:
    import vl_convert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Altair's notes on pandas dtypes are not the reader's
        spec = figure.chart.to_dict()
    return own_ids(vl_convert.vegalite_to_svg(spec), figure.key)


_SVG_ID = re.compile(r'(\sid="|url\(#|href="#)([^")]+)')


def own_ids(svg: str, prefix: str) -> str:
    """`svg` with each id it defines renamed `<prefix>-<n>` (in order of definition), and
    every reference to it.

    Vega numbers gradients and clip paths with a counter for the whole process, so the same
    chart came out `gradient_0` alone and `gradient_38` after other reports: the page
    depended on what else was rendered. Numbered per chart and prefixed with its key, the
    page is the same wherever it is rendered and no two charts on it share an id.
    """
    defined = re.findall(r'\sid="([^"]+)"', svg)
    names = {old: f"{prefix}-{n}" for n, old in enumerate(dict.fromkeys(defined))}
    return _SVG_ID.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)


def html_table(frame: pd.DataFrame, css_class: str = "figures") -> str:
    """A plain HTML table of a frame's rows, its columns in words and each value as a reader
    reads it ($1,234.56, 12.3%; presentation.columns)."""
    cells = ['<td class="num">' if numeric(c) else "<td>" for c in frame.columns]
    text = as_text(frame)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in text.columns)
    body = "".join(
        "<tr>"
        + "".join(f"{td}{html.escape(v)}</td>" for td, v in zip(cells, row, strict=True))
        + "</tr>"
        for row in text.itertuples(index=False)  # a table's few dozen rows
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure_html(figure: Figure) -> str:
    picture = (
        f'<div class="chart">{_svg(figure)}</div>'
        if figure.chart is not None
        else f'<p class="empty">{html.escape(figure.reading)}</p>'
    )
    return (
        f'<figure id="{figure.key}" data-chart="{figure.key}">'
        f"<h2>{html.escape(figure.title)}</h2>"
        f'<figcaption class="reading">{html.escape(figure.reading)}</figcaption>'
        + (f'<p class="note">{html.escape(figure.note)}</p>' if figure.note else "")
        + f"{picture}"
        f"<details><summary>Figures in this chart</summary>{html_table(figure.table)}</details>"
        "</figure>"
    )


KPIS = (  # (label, overall_metrics key, format)
    ("Customers", "total_customers", "{:,.0f}"),
    ("Active (not Lost)", "active_customers", "{:,.0f}"),
    ("With a purchase", "purchasing_customers", "{:,.0f}"),
    ("Revenue to date", "total_revenue", "${:,.0f}"),
    ("Average LTV", "avg_ltv", "${:,.2f}"),
    # beside the mean, which a few large spenders pull up: the typical customer's value
    ("Median LTV", "median_ltv", "${:,.2f}"),
    ("Average engagement", "avg_engagement_score", "{:.3f}"),
)


def _kpis(doc: dict[str, Any]) -> str:
    metrics = doc["overall_metrics"]
    cards = "".join(
        f'<div class="kpi" data-kpi="{key}"><div class="value">{fmt.format(metrics[key] or 0)}'
        f'</div><div class="label">{label}</div></div>'
        for label, key, fmt in KPIS
    )
    # what LTV is, under the figures that show it (it is not revenue)
    return f'<section class="kpis">{cards}</section><p class="note">{html.escape(LTV_MEANING)}</p>'


def _alerts(doc: dict[str, Any]) -> str:
    alerts = pd.DataFrame(doc.get("alerts") or [])
    if alerts.empty:
        return '<h2>Alerts</h2><p class="empty">No alerts on this date.</p>'
    shown = alerts[list(ALERT_COLUMNS)]
    return (
        f'<h2>Alerts ({len(alerts):,})</h2><p class="note">{html.escape(ALERTS_MEANING)}</p>'
        f"{html_table(shown, 'alerts')}"
    )


def _strategies(doc: dict[str, Any]) -> str:
    """Each segment's recommended strategies, as the Markdown report lists them."""
    parts = []
    for s in doc["segment_analyses"]:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in s["recommendations"])
        parts.append(
            f"<h3>{html.escape(s['segment'])}</h3>"
            + (f"<ol>{items}</ol>" if items else f'<p class="empty">{EMPTY_SEGMENT}</p>')
        )
    return f'<section id="strategies"><h2>Recommended strategies</h2>{"".join(parts)}</section>'


def _table_section(key: str, title: str, rows: list[dict[str, Any]], note: str = "") -> str:
    """A titled table of a report section's rows (nothing when the document has none)."""
    if not rows:
        return ""
    lead = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (
        f'<section id="{key}"><h2>{html.escape(title)}</h2>{lead}'
        f"{html_table(pd.DataFrame(rows))}</section>"
    )


def _after_figure(doc: dict[str, Any], key: str) -> str:
    """The report's tables that follow a chart: the strategies after the segments, the
    customers with the most predicted value and the valuable ones probably gone after the
    predicted CLV, the RFM and lifecycle tables after the RFM grid, the top paths after the
    funnel."""
    if key == "segments":
        return _strategies(doc)
    if key == "predicted_clv" and doc.get("predicted_value"):
        p = doc["predicted_value"]
        return _table_section(
            "top_predicted", "Customers with the most predicted value", p["top_customers"]
        ) + (
            _table_section(
                "probably_gone",
                "High value, probably gone",
                p["high_value_low_p_alive"],
                probably_gone(p),
            )
            or f'<section id="probably_gone"><h2>High value, probably gone</h2>'
            f'<p class="note">{html.escape(probably_gone(p))}</p></section>'
        )
    if key == "rfm_grid":
        return _table_section(
            "rfm_segments", "RFM segments", doc.get("rfm_segments") or [], RFM_INTRO
        ) + _table_section(
            "lifecycle_stages", "Lifecycle stages", doc.get("lifecycle_stages") or []
        )
    if key == "funnel":
        return _table_section(
            "top_paths", "Top journey paths", doc.get("top_paths") or [], top_paths_intro(doc)
        )
    return ""


def render_html(doc: dict[str, Any]) -> str:
    """The whole HTML report of one date's report document."""
    date = html.escape(doc["snapshot_date"])
    body = "".join(_figure_html(f) + _after_figure(doc, f.key) for f in report_figures(doc))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>Customer engagement report — {date}'
        f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Customer engagement report — {date}</h1>"
        f'<p class="lead">As of the end of {date}, computed from every event and purchase up to '
        "that day. Each chart says in one line what it shows; its figures are under it.</p>"
        f"{_kpis(doc)}{body}{_alerts(doc)}"
        "<footer>Definitions and thresholds: docs/decision_logic.md. The same figures are in "
        "engagement_report.md and engagement_analysis.json beside this file.</footer>"
        "</body></html>\n"
    )
