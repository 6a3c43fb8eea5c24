import pandas as pd

from engagement_pipeline.analytics.strategy import SEGMENT_ORDER, segment_strategies
from engagement_pipeline.config import StrategyConfig


def segments_rel(con):
    frame = pd.DataFrame(
        {
            "snapshot_date": [pd.Timestamp("2025-06-30").date()] * 4,
            "customer_id": ["a", "b", "c", "d"],
            "segment": ["Champion", "Champion", "Lost", "At Risk"],
            "lifetime_value": [3000.0, 1000.0, 0.0, 200.0],
            "engagement_score": [0.8, 0.6, 0.0, 0.1],
            "total_revenue": [1500.0, 500.0, 40.0, 100.0],
            "days_since_last_activity": [1, 3, 120, 40],
        }
    )
    return con.from_df(frame)


def test_analysis_by_hand_with_all_tiers(con):
    out = segment_strategies(
        con, segments_rel(con), StrategyConfig(max_recommendations_per_segment=2)
    )
    assert out["segment"].tolist() == SEGMENT_ORDER
    champ = out.set_index("segment").loc["Champion"]
    assert champ["customer_count"] == 2 and champ["customer_share"] == 0.5
    assert champ["avg_ltv"] == 2000.0 and champ["avg_engagement_score"] == 0.7
    assert champ["total_revenue"] == 2000.0 and champ["avg_days_since_last_activity"] == 2.0
    # recommendations quote the segment's own figures, at most two
    assert len(champ["recommendations"]) == 2
    assert (
        "2 Champions" in champ["recommendations"][0] and "$2,000.00" in champ["recommendations"][0]
    )
    assert "50.0% of customers" in champ["recommendations"][0]
    assert "$2,000.00 of revenue" in champ["recommendations"][1]
    lost = out.set_index("segment").loc["Lost"]
    assert "120 days inactive" in lost["recommendations"][0]
    # empty segments are reported with zeros and no recommendations
    loyal = out.set_index("segment").loc["Loyal"]
    assert loyal["customer_count"] == 0 and loyal["recommendations"] == []


def test_zero_recommendations(con):
    out = segment_strategies(
        con, segments_rel(con), StrategyConfig(max_recommendations_per_segment=0)
    )
    assert all(r == [] for r in out["recommendations"])
