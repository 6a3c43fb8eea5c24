"""RFM scores by quintile (ties, a lone customer), codes and the segment rule table."""

from pathlib import Path

import pandas as pd
import pytest

from engagement_pipeline.analytics.rfm import compute_rfm
from engagement_pipeline.config import RFMConfig, RFMSegmentRule, parse_config
from engagement_pipeline.errors import ConfigError
from engagement_pipeline_tests.conftest import base_config


def ltv_rel(con, rows):
    """rows: (customer_id, days since last purchase, orders, revenue) as of 2025-03-31."""
    frame = pd.DataFrame(rows, columns=["customer_id", "days", "purchase_count", "total_revenue"])
    frame["snapshot_date"] = pd.Timestamp("2025-03-31").date()
    frame["last_purchase_date"] = (
        pd.Timestamp("2025-03-31") - pd.to_timedelta(frame["days"], "D")
    ).dt.date
    return con.from_df(frame.drop(columns="days"))


def rfm(con, rows, config: RFMConfig | None = None):
    out = compute_rfm(con, ltv_rel(con, rows), config or RFMConfig()).df()
    return out.set_index("customer_id")


def test_ten_distinct_customers_fill_each_quintile_twice(con):
    rows = [(f"c{i}", 100 - i, i + 1, 10.0 * (i + 1)) for i in range(10)]
    out = rfm(con, rows)
    # position k of 10 (from 0, worst first) scores 1 + floor(5k / 10)
    assert out["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # fewer days since the last purchase is better: c9 (91 days) is the most recent
    assert out["r_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out.loc["c9", "rfm_code"] == "555" and out.loc["c9", "rfm_segment"] == "Champions"
    assert out.loc["c0", "rfm_code"] == "111" and out.loc["c0", "rfm_segment"] == "Lost"
    assert out.loc["c0", "recency_days"] == 100


def test_ties_share_the_score_of_their_lowest_position(con):
    # frequencies 1, 1, 1, 2, 3: positions 0, 0, 0, 3, 4 of 5 -> 1, 1, 1, 4, 5
    rows = [
        ("a", 5, 1, 10.0),
        ("b", 5, 1, 20.0),
        ("c", 5, 1, 30.0),
        ("d", 5, 2, 40.0),
        ("e", 5, 3, 50.0),
    ]
    out = rfm(con, rows)
    assert out["f_score"].tolist() == [1, 1, 1, 4, 5]
    # everyone bought on the same day: one tie, everyone at position 0
    assert out["r_score"].tolist() == [1, 1, 1, 1, 1]
    # recency [40, 10, 10, 0] days: positions 0, 1, 1, 3 of 4 -> 1, 2, 2, 4
    out = rfm(con, [("w", 40, 1, 1.0), ("x", 10, 1, 1.0), ("y", 10, 1, 1.0), ("z", 0, 1, 1.0)])
    assert out["r_score"].tolist() == [1, 2, 2, 4]


def test_a_lone_customer_scores_111_and_non_purchasers_are_not_scored(con):
    out = rfm(con, [("solo", 3, 4, 500.0), ("browser", 0, 0, 0.0)])
    assert list(out.index) == ["solo"]
    assert out.loc["solo", "rfm_code"] == "111" and out.loc["solo", "rfm_segment"] == "Lost"


def test_default_rules_give_every_code_exactly_one_of_the_eleven_segments():
    config = RFMConfig()
    assert config.segment_names() == [
        "Champions",
        "Loyal Customers",
        "Potential Loyalist",
        "New Customers",
        "Promising",
        "Need Attention",
        "About To Sleep",
        "Can't Lose Them",
        "At Risk",
        "Hibernating",
        "Lost",
    ]
    hits = {
        (r, f, m): [s.segment for s in config.segments if s.covers(r, f, m)]
        for r in range(1, 6)
        for f in range(1, 6)
        for m in range(1, 6)
    }
    assert all(len(set(names)) == 1 for names in hits.values())
    assert hits[(2, 5, 5)] == ["Can't Lose Them"] and hits[(2, 5, 3)] == ["At Risk"]


def test_a_user_renames_and_redraws_segments_without_code(con):
    config = RFMConfig(
        segments=[
            RFMSegmentRule(segment="Best", recency=(4, 5), frequency=(4, 5)),
            RFMSegmentRule(segment="Rest", recency=(1, 3)),
            RFMSegmentRule(segment="Rest", recency=(4, 5), frequency=(1, 3)),
        ]
    )
    out = rfm(con, [(f"c{i}", 100 - i, i + 1, 1.0) for i in range(10)], config)
    # c6..c9 score 44, 44, 55, 55
    assert out["rfm_segment"].tolist() == ["Rest"] * 6 + ["Best"] * 4


def _load(tmp_path: Path, segments) -> None:
    raw = {**base_config("2025-01-01", "2025-01-31"), "rfm": {"segments": segments}}
    parse_config(raw, tmp_path / "config.yaml", tmp_path)


def test_rules_that_leave_gaps_or_overlap_are_clear_errors_naming_them(tmp_path):
    with pytest.raises(ConfigError) as gap:
        _load(tmp_path, [{"segment": "Top", "recency": [3, 5]}])
    message = str(gap.value)
    assert "rfm.segments" in message and "no rule covers the RFM codes 111, 112" in message
    assert "and 42 more" in message  # 50 codes with recency 1 or 2
    with pytest.raises(ConfigError) as overlap:
        _load(
            tmp_path,
            [
                {"segment": "Top", "recency": [3, 5]},
                {"segment": "Bottom", "recency": [1, 3]},
            ],
        )
    assert "rule 1 ('Top') and rule 2 ('Bottom') both cover the RFM codes 311" in str(overlap.value)
    with pytest.raises(ConfigError, match="1 <= low <= high <= 5"):
        _load(tmp_path, [{"segment": "All", "recency": [0, 5]}])
