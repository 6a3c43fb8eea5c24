import json

import pandas as pd

from engagement_pipeline.analytics.report import (
    _predicted_value_markdown,
    build_report_document,
    overall_metrics,
    write_report,
)
from engagement_pipeline.analytics.strategy import segment_strategies
from engagement_pipeline.config import StrategyConfig
from engagement_pipeline.vocabulary import LTV_MEANING
from engagement_pipeline_tests.analytics.test_strategy import segments_rel


def test_report_files(con, tmp_path):
    rel = segments_rel(con)
    rel = con.sql("SELECT *, 1 AS purchase_count FROM rel")
    overall = overall_metrics(con, rel)
    assert overall["total_customers"].iloc[0] == 4 and overall["active_customers"].iloc[0] == 3
    assert overall["total_revenue"].iloc[0] == 2140.0 and overall["avg_ltv"].iloc[0] == 1050.0
    strategies = segment_strategies(con, rel, StrategyConfig())
    date = pd.Timestamp("2025-06-30").date()
    doc = build_report_document(date, overall.iloc[0], strategies)
    md_path, json_path, html_path = write_report(tmp_path, doc)
    assert html_path is None  # reports.html off: Markdown and JSON only
    assert md_path == tmp_path / "2025-06-30" / "engagement_report.md"
    data = json.loads(json_path.read_text())
    assert data["total_customers"] == 4 and data["snapshot_date"] == "2025-06-30"
    assert [s["segment"] for s in data["segment_analyses"]] == [
        "Champion",
        "Loyal",
        "Potential",
        "At Risk",
        "Lost",
    ]
    assert data["recommendations"]["Champion"][0].startswith("Reward the 2 Champions")
    text = md_path.read_text()
    assert "# Customer engagement report — 2025-06-30" in text
    assert LTV_MEANING in text  # what LTV is: a projection, not revenue
    assert "| Champion | 2 | 50.0% | $2,000.00 | 0.700 | $2,000.00 | 2 |" in text
    assert "No customers in this segment on this date." in text  # Loyal, Potential


def test_predicted_value_counts_agree_with_their_nouns():
    one = {"customer_id": "C1", "segment": "Champion", "predicted_clv": 120.0}
    one |= {"p_alive": 0.3, "total_revenue": 900.0}
    p = {
        "customers_with_prediction": 1,
        "total_predicted_clv": 120.0,
        "mean_predicted_clv": 120.0,
        "quantiles": {"p10": 120.0, "p50": 120.0, "p90": 120.0, "p99": 120.0},
        "top_customers": [one],
        "high_value_low_p_alive_count": 1,
        "high_value_low_p_alive": [one],
    }
    text = "\n".join(_predicted_value_markdown(p))
    assert "1 purchasing customer has a prediction; together" in text
    assert "probably gone**: 1 customer in the top 20% by revenue has P(alive) below 50%" in text
    p |= {"customers_with_prediction": 2, "high_value_low_p_alive_count": 0}
    text = "\n".join(_predicted_value_markdown(p))
    assert "2 purchasing customers have a prediction" in text
    assert "0 customers in the top 20% by revenue have P(alive)" in text
