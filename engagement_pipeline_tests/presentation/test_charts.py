"""The charts are built from the report document's figures, with readings worked by hand."""

import re

import pytest

from engagement_pipeline.presentation import charts
from engagement_pipeline.presentation.columns import as_text
from engagement_pipeline.presentation.html_report import render_html
from engagement_pipeline.vocabulary import MODEL_LABELS

# one sample run and one browser per worker under pytest-xdist (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("presentation")

SEGMENTS = [
    {
        "segment": "Champion",
        "customer_count": 10,
        "total_revenue": 5000.0,
        "recommendations": ["Reward the 10 Champions with a VIP tier."],
    },
    {
        "segment": "Potential",
        "customer_count": 30,
        "total_revenue": 1000.0,
        "recommendations": ["Nurture the 30 Potential customers."],
    },
    {"segment": "Lost", "customer_count": 0, "total_revenue": 0.0, "recommendations": []},
]


def bins(measure: str, counts: list[int], width: float) -> list[dict]:
    return [
        {
            "measure": measure,
            "bin": i,
            "bin_low": i * width,
            "bin_high": (i + 1) * width,
            "open_ended": i == len(counts) - 1,
            "customers": n,
        }
        for i, n in enumerate(counts)
    ]


def document() -> dict:
    return {
        "snapshot_date": "2025-04-28",
        "total_customers": 40,
        "overall_metrics": {
            "total_customers": 40,
            "active_customers": 35,
            "purchasing_customers": 20,
            "total_revenue": 6000.0,
            "avg_ltv": 150.0,
            "median_ltv": 87.5,
            "avg_engagement_score": 0.25,
        },
        "segment_analyses": SEGMENTS,
        "distributions": bins("lifetime_value", [4, 5, 6, 5], 100.0)
        + bins("engagement_score", [30, 10], 0.5),
        "rfm_grid": [
            {"r_score": 5, "f_score": 5, "customers": 5, "avg_monetary": 900.0},
            {"r_score": 1, "f_score": 1, "customers": 15, "avg_monetary": 50.0},
        ],
        "risk_levels": [
            {"level": lvl, "customer_count": n, "share": n / 40, "avg_risk_score": 10.0}
            for lvl, n in (("low", 20), ("medium", 10), ("high", 6), ("critical", 4))
        ],
        "actions": [
            {
                "action": "Win-back offer",
                "customer_count": 10,
                "total_cost": 150.0,
                "total_expected_return": 600.0,
            },
            {
                "action": "No action",
                "customer_count": 30,
                "total_cost": 0.0,
                "total_expected_return": 0.0,
            },
        ],
        "cohort_retention": [
            {
                "cohort_month": "2025-03-01",
                "months_since": m,
                "cohort_customers": 10,
                "retention_rate": r,
            }
            for m, r in ((0, 1.0), (1, 0.4))
        ]
        + [
            {
                "cohort_month": "2025-04-01",
                "months_since": 0,
                "cohort_customers": 5,
                "retention_rate": 1.0,
            }
        ],
        "funnel": [
            {
                "stage": "awareness",
                "customers_reached": 40,
                "share_of_customers": 1.0,
                "conversion_from_previous": None,
            },
            {
                "stage": "purchase",
                "customers_reached": 20,
                "share_of_customers": 0.5,
                "conversion_from_previous": 0.5,
            },
            {
                "stage": "repeat_purchase",
                "customers_reached": 8,
                "share_of_customers": 0.2,
                "conversion_from_previous": 0.4,
            },
        ],
        "channel_attribution": [
            {
                "channel": c,
                "model": "markov",
                "conversions": n,
                "revenue": 10.0 * n,
                "share_of_conversions": n / 10,
            }
            for c, n in (("(no touch)", 5), ("email", 3), ("web", 2))
        ],
        "anomaly_timeline": [
            {
                "day": "2025-04-27",
                "metric": "orders",
                "value": 9.0,
                "expected_low": 5.0,
                "expected_high": 15.0,
                "is_anomaly": False,
                "direction": None,
            },
            {
                "day": "2025-04-28",
                "metric": "orders",
                "value": 40.0,
                "expected_low": 5.0,
                "expected_high": 15.0,
                "is_anomaly": True,
                "direction": "spike",
            },
        ],
        "alerts": [],
    }


def test_every_chart_reads_its_figures_off_the_document():
    figures = {f.key: f for f in charts.report_figures(document())}
    assert list(figures) == list(charts.FIGURE_KEYS)
    assert figures["segments"].reading == (
        "Potential is the largest segment (75% of customers); Champion brings the most "
        "revenue (83%)."
    )
    # 4 + 5 = 9 of 20 below 200, 15 of 20 by 300: half are reached in the third bin
    assert figures["lifetime_value"].reading.startswith(
        "Half of the 20 customers shown are at or below $300;"
    )
    assert figures["lifetime_value"].table["customers"].tolist() == [4, 5, 6, 5]
    # a money distribution's table reads in dollars; the score's stays a number
    shown = as_text(figures["lifetime_value"].table)
    assert shown[["From", "To"]].iloc[1].tolist() == ["$100.00", "$200.00"]
    assert as_text(figures["engagement_score"].table)["To"].tolist() == ["0.50", "1.00"]
    assert (
        figures["engagement_score"].reading
        == "Half of the 40 customers shown are at or below 0.50."
    )
    assert figures["rfm_grid"].reading.startswith("5 of 20 purchasing customers (25%)")
    assert figures["risk"].reading.startswith("10 customers (25%) are at high or critical risk")
    one = document() | {
        "risk_levels": [
            {"level": "low", "customer_count": 39, "share": 0.975, "avg_risk_score": 10.0},
            {"level": "high", "customer_count": 1, "share": 0.025, "avg_risk_score": 80.0},
        ]
    }
    assert charts.risk_figure(one).reading.startswith("1 customer (2%) is at high or critical")
    assert figures["actions"].reading == (
        "The actions cost $150 in all and are expected to return $600 (ROI 300%)."
    )
    assert figures["cohorts"].reading == "Month-1 retention ranges from 40% to 40% across cohorts."
    assert figures["funnel"].reading == (
        "20% of customers reach repeat_purchase; the weakest step is into repeat_purchase "
        "(40% go on)."
    )
    # the no-touch conversions are named apart, not crowned as the best channel
    assert figures["attribution"].reading == (
        "Under the Markov model email earns the largest share of conversions (30%); "
        "50% had no touch in the lookback (shown as (no touch))."
    )
    # the models by their readers' names
    assert set(figures["attribution"].table["model"]) <= set(MODEL_LABELS.values())
    assert "Markov" in set(figures["attribution"].table["model"])
    assert (
        figures["anomalies"].reading == "1 anomaly in the last 2 days: orders spike on 2025-04-28."
    )
    # a date without predictions has no chart, and says why
    assert figures["predicted_clv"].chart is None


@pytest.mark.parametrize("section", ["rfm_grid", "cohort_retention", "channel_attribution"])
def test_an_empty_section_gives_a_sentence_not_an_error(section):
    doc = {**document(), section: []}
    page = render_html(doc)
    assert 'class="empty"' in page


def test_the_page_is_self_contained_and_carries_every_chart():
    page = render_html(document())
    assert "<script" not in page and "src=" not in page and "@import" not in page
    for key in charts.FIGURE_KEYS:
        assert f'data-chart="{key}"' in page
    assert page.count("<svg") == len(charts.FIGURE_KEYS) - 1  # no predicted CLV on this date


def test_the_headline_figures_are_the_documents_with_the_median_beside_the_mean():
    page = render_html(document())
    kpis = page.split('<section class="kpis">')[1].split("</section>")[0]
    cards = re.findall(
        r'data-kpi="(\w+)"><div class="value">([^<]*)</div><div class="label">([^<]*)<', kpis
    )
    assert cards == [
        ("total_customers", "40", "Customers"),
        ("active_customers", "35", "Active (not Lost)"),
        ("purchasing_customers", "20", "With a purchase"),
        ("total_revenue", "$6,000", "Revenue to date"),
        ("avg_ltv", "$150.00", "Average LTV"),
        ("median_ltv", "$87.50", "Median LTV"),
        ("avg_engagement_score", "0.250", "Average engagement"),
    ]


def test_the_page_carries_the_strategies_and_the_reports_tables_in_words():
    doc = document() | {
        "lifecycle_stages": [
            {"stage": "active", "customer_count": 40, "share": 1.0, "total_revenue": 6000.0}
        ],
        "top_paths": [
            {
                "rank": 1,
                "path": "email > web",
                "journeys": 4,
                "conversions": 3,
                "conversion_rate": 0.75,
                "revenue": 1234.5,
            }
        ],
        "journeys_window_days": 30,
    }
    page = render_html(doc)
    strategies = page.split('<section id="strategies">')[1].split("</section>")[0]
    assert "<li>Reward the 10 Champions with a VIP tier.</li>" in strategies
    assert '<h3>Lost</h3><p class="empty">No customers in this segment' in strategies
    paths = page.split('<section id="top_paths">')[1].split("</section>")[0]
    assert "of the last 30 days" in paths
    assert "<th>Conversion rate</th>" in paths and "<th>Revenue</th>" in paths
    assert '<td class="num">75.0%</td>' in paths and '<td class="num">$1,234.50</td>' in paths
    assert "<th>Stage</th>" in page.split('<section id="lifecycle_stages">')[1]
    # a section the document does not have is left out (no RFM segments on this date)
    assert 'id="rfm_segments"' not in page
    # the attribution figures name the model as readers know it
    assert "<td>Markov</td>" in page and "<td>markov</td>" not in page


def test_a_one_day_timeline_reads_in_the_singular():
    doc = document() | {"anomaly_timeline": document()["anomaly_timeline"][:1]}
    assert charts.anomaly_figure(doc).reading == (
        "No anomaly in the last 1 day: every metric stayed within its expected range."
    )


def test_the_page_names_the_most_valuable_customers_and_those_probably_gone():
    top = {
        "customer_id": "C1",
        "segment": "Loyal",
        "predicted_clv": 1234.5,
        "p_alive": 0.98,
        "total_revenue": 600.0,
    }
    predicted = {
        "top_customers": [top],
        "high_value_low_p_alive": [],
        "high_value_low_p_alive_count": 0,
    }
    page = render_html(document() | {"predicted_value": predicted})
    section = page.split('<section id="top_predicted">')[1].split("</section>")[0]
    assert '<td>C1</td><td>Loyal</td><td class="num">$1,234.50</td>' in section
    assert "<th>P(alive)</th>" in section
    gone = page.split('<section id="probably_gone">')[1].split("</section>")[0]
    # nobody probably gone: the sentence says so, with no empty table under it
    assert "0 customers in the top 20% by revenue have P(alive) below 50%" in gone
    assert "<table" not in gone
    # a date without predictions has neither section
    assert 'id="top_predicted"' not in render_html(document())


def test_the_page_is_the_same_wherever_it_is_rendered_and_its_ids_are_unique():
    import re

    first = render_html(document())
    render_html(document() | {"snapshot_date": "2025-04-29"})  # another report in between
    again = render_html(document())
    # Vega counts gradients for the whole process; the page must not carry that count
    assert again == first
    ids = re.findall(r'\sid="([^"]+)"', first)
    assert len(ids) == len(set(ids))
    gradients = [i for i in ids if i.startswith(("rfm_grid-", "cohorts-"))]
    assert gradients, "the RFM grid and cohort heatmap each define their colour gradient"
    for name in gradients:
        assert f"url(#{name})" in first  # each reference follows its renamed id


def test_own_ids_renames_definitions_and_their_references_only():
    from engagement_pipeline.presentation.html_report import own_ids

    svg = (
        '<svg><defs><linearGradient id="gradient_38"/><clipPath id="clip7"/></defs>'
        '<path fill="url(#gradient_38)" clip-path="url(#clip7)"/>'
        '<use href="#clip7"/><text>id="gradient_38" stays text</text></svg>'
    )
    assert own_ids(svg, "risk") == (
        '<svg><defs><linearGradient id="risk-0"/><clipPath id="risk-1"/></defs>'
        '<path fill="url(#risk-0)" clip-path="url(#risk-1)"/>'
        '<use href="#risk-1"/><text>id="gradient_38" stays text</text></svg>'
    )
