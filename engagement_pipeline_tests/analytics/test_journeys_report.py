"""The report's journeys sections: rows per date from the assets, and their Markdown."""

from __future__ import annotations

from engagement_pipeline.analytics.attribution import MODELS
from engagement_pipeline.analytics.journeys_report import journey_sections, journeys_markdown
from engagement_pipeline.vocabulary import MODEL_LABELS

D1, D2 = "2025-03-30", "2025-03-31"


def assets(con):
    return {
        "cohort_retention": con.sql(
            f"""SELECT * FROM (VALUES
                (DATE '{D2}', DATE '2025-01-01', 0, 4, 4, 1.0, 25.0),
                (DATE '{D2}', DATE '2025-01-01', 1, 4, 1, 0.25, 30.0),
                (DATE '{D2}', DATE '2025-01-01', 2, 4, 2, 0.5, 41.5),
                (DATE '{D2}', DATE '2025-03-01', 0, 2, 2, 1.0, 10.0))
                t(snapshot_date, cohort_month, months_since, cohort_customers,
                  active_customers, retention_rate, cumulative_revenue_per_customer)"""
        ),
        "funnel": con.sql(
            f"""SELECT * FROM (VALUES
                (DATE '{D1}', 1, 'awareness', 6, 1.0, NULL, NULL),
                (DATE '{D2}', 1, 'awareness', 6, 1.0, NULL, NULL),
                (DATE '{D2}', 2, 'purchase', 3, 0.5, 0.5, 2.5))
                t(snapshot_date, stage_order, stage, customers_reached, share_of_customers,
                  conversion_from_previous, median_days_from_previous)"""
        ),
        "top_paths": con.sql(
            f"""SELECT * FROM (VALUES (DATE '{D2}', 1, 'mail > search', 4, 1, 0.25, 40.0))
                t(snapshot_date, rank, path, journeys, conversions, conversion_rate, revenue)"""
        ),
        "channel_attribution": con.sql(
            f"""SELECT * FROM (VALUES
                (DATE '{D2}', 'mail', 'first_touch', 1.0, 40.0, 1.0),
                (DATE '{D2}', 'mail', 'markov', 0.25, 10.0, 0.25),
                (DATE '{D2}', 'search', 'markov', 0.75, 30.0, 0.75))
                t(snapshot_date, channel, model, conversions, revenue, share_of_conversions)"""
        ),
        "anomalies": con.sql(
            f"""SELECT * FROM (VALUES
                (DATE '{D2}', 'revenue', 'spike', 900.0, 100.0, 300.0, 9.5, true),
                (DATE '{D2}', 'orders', NULL, 10.0, 5.0, 15.0, 0.4, false))
                t(snapshot_date, metric, direction, value, expected_low, expected_high, score,
                  is_anomaly)"""
        ),
    }


def test_sections_per_date_and_their_markdown(con):
    sections = journey_sections(con, assets(con), 30)
    assert set(sections) == {D1, D2} and sections[D2]["journeys_window_days"] == 30
    assert sections[D1]["anomalies"] == [] and sections[D1]["top_paths"] == []
    day = sections[D2]
    assert [r["metric"] for r in day["anomalies"]] == ["revenue"]  # only the anomalies
    assert [r["stage"] for r in day["funnel"]] == ["awareness", "purchase"]
    text = "\n".join(journeys_markdown(day))
    # month 2 of the March cohort is not observable yet: an empty cell, not 0%
    assert "| 2025-01 | 4 | 100% | 25% | 50% |" in text
    assert "| 2025-03 | 2 | 100% |  |  |" in text
    assert "| 2025-01 | 4 | $25.00 | $30.00 | $41.50 |" in text
    # channels by model, a model without the channel at 0
    assert "| Channel | First touch | Markov |" in text  # the models by their readers' names
    assert "| search | 0.0 | 0.8 |" in text
    assert "| revenue | spike | $900.00 | $100.00 – $300.00 | 9.5 |" in text
    assert "Conversions of the last 30 days attributed to each channel" in text
    assert "| purchase | 3 | 50% | 50% | 2.5 |" in text
    quiet = "\n".join(journeys_markdown(sections[D1]))
    assert "Every daily metric was within its expected range" in quiet
    assert "No conversions in the journeys window." in quiet


def test_every_attribution_model_has_a_readers_name():
    assert list(MODEL_LABELS) == list(MODELS)
