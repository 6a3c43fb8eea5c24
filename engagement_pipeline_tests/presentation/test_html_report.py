"""The HTML report: one self-contained file per date whose charts carry the lake's figures."""

import html
import re

import dagster as dg
import duckdb
import pandas as pd
import pytest

from engagement_pipeline.api import report_document
from engagement_pipeline.config import load_config
from engagement_pipeline.presentation.charts import FIGURE_KEYS
from engagement_pipeline.presentation.html_report import render_html
from engagement_pipeline.vocabulary import LTV_MEANING
from engagement_pipeline_tests.presentation.conftest import ROOT

# one sample run and one browser per worker under pytest-xdist (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("presentation")

MAX_BYTES = 2 * 1024 * 1024


def chart_tables(page: str) -> dict[str, pd.DataFrame]:
    """Each chart's figures table, as text cells, by the chart's key."""
    out = {}
    for key, body in re.findall(r'<figure id="[^"]+" data-chart="([^"]+)">(.*?)</figure>', page):
        rows = [
            re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", body)
        ]
        out[key] = pd.DataFrame(rows[1:], columns=rows[0]) if rows else pd.DataFrame()
    return out


def number(cell: str) -> float:
    return float(cell.replace(",", "").replace("$", ""))


def lake(run, asset: str, query: str) -> pd.DataFrame:
    files = f"{run.lake}/{asset}/snapshot_date={run.last}/data.parquet"
    return duckdb.sql(query.format(rows=f"read_parquet('{files}')")).df()


def test_every_chart_is_drawn_from_the_lakes_figures(sample_run):
    page = (sample_run.reports / sample_run.last / "engagement_report.html").read_text()
    assert html.escape(LTV_MEANING) in page  # what LTV is, under the figures
    tables = chart_tables(page)
    assert set(tables) == set(FIGURE_KEYS)
    # every table's columns are in words, not the lake's column names
    headers = {h for t in tables.values() for h in t.columns}
    assert headers and not [h for h in headers if "_" in h], headers
    segments = lake(
        sample_run, "customer_segments", "SELECT segment, count(*) AS n FROM {rows} GROUP BY 1"
    )
    shown = dict(
        zip(
            tables["segments"]["Segment"],
            tables["segments"]["Customers"].map(number),
            strict=False,
        )
    )
    assert shown == {s: n for s, n in zip(segments["segment"], segments["n"], strict=True)} | {
        s: 0 for s in shown if s not in set(segments["segment"])
    }
    buyers = lake(
        sample_run, "customer_segments", "SELECT count(*) AS n FROM {rows} WHERE purchase_count > 0"
    )
    assert tables["lifetime_value"]["Customers"].map(number).sum() == buyers["n"][0]
    everyone = lake(sample_run, "customer_segments", "SELECT count(*) AS n FROM {rows}")
    assert tables["engagement_score"]["Customers"].map(number).sum() == everyone["n"][0]
    grid = lake(
        sample_run,
        "customer_rfm",
        "SELECT r_score, f_score, count(*) AS n FROM {rows} GROUP BY ALL ORDER BY 1, 2",
    )
    assert tables["rfm_grid"]["Customers"].map(number).tolist() == grid["n"].tolist()
    risk = lake(
        sample_run, "customer_risk", "SELECT risk_level, count(*) AS n FROM {rows} GROUP BY 1"
    )
    shown = dict(
        zip(tables["risk"]["Risk level"], tables["risk"]["Customers"].map(number), strict=False)
    )
    assert {k: v for k, v in shown.items() if v} == dict(
        zip(risk["risk_level"], risk["n"], strict=False)
    )
    funnel = lake(
        sample_run, "funnel_conversion", "SELECT customers_reached FROM {rows} ORDER BY stage_order"
    )
    assert (
        tables["funnel"]["Customers reaching it"].map(number).tolist()
        == funnel["customers_reached"].tolist()
    )
    attribution = lake(sample_run, "channel_attribution", "SELECT count(*) AS n FROM {rows}")
    assert len(tables["attribution"]) == attribution["n"][0]
    timeline = lake(sample_run, "anomaly_timeline", "SELECT count(*) AS n FROM {rows}")
    assert len(tables["anomalies"]) == timeline["n"][0] > 0
    cohorts = lake(sample_run, "cohort_retention", "SELECT count(*) AS n FROM {rows}")
    assert len(tables["cohorts"]) == cohorts["n"][0]
    # every chart is a picture in the page itself: nothing to fetch, no script to run
    assert page.count("<svg") >= len(FIGURE_KEYS) - 1
    assert "<script" not in page and "src=" not in page and "@import" not in page


def test_the_materialization_links_to_the_html_report(sample_run, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(sample_run.dagster_home))
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("engagement_report"))
    metadata = event.asset_materialization.metadata
    path = sample_run.reports / sample_run.last / "engagement_report.html"
    assert event.asset_materialization.partition == sample_run.last
    assert metadata["html_report"].value == path.resolve().as_uri()
    assert metadata["html_path"].value == str(path)


def test_the_html_report_of_the_shipped_sample_is_under_2_mb():
    document = report_document(load_config(ROOT / "config.yaml"))
    page = render_html(document)
    assert len(page.encode("utf-8")) < MAX_BYTES
    assert all(f'data-chart="{k}"' in page for k in FIGURE_KEYS)
    # the planted revenue spike of the sample sits on the timeline
    assert "revenue spike on 2025-06-06" in page
