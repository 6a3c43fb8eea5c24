"""Risk signals, score, level and top signals; next-best actions, their economics and
explanations; alerts. Every figure below is worked out by hand in the comments."""

import datetime as dt

import pandas as pd
import pytest

from engagement_pipeline.analytics.decisions import compute_actions, compute_alerts
from engagement_pipeline.analytics.risk import compute_risk, level_sql
from engagement_pipeline.config import (
    ActionCondition,
    ActionRule,
    ActionsConfig,
    AlertsConfig,
    RiskConfig,
)

D = dt.date(2025, 2, 20)
TREND_COLUMNS = [
    "customer_id",
    "first_purchase_date",
    "last_purchase_date",
    "purchase_days",
    "recent_events",
    "previous_events",
    "events_change",
    "recent_spend",
    "previous_spend",
    "spend_change",
    "recent_support_contacts",
    "previous_support_contacts",
]
TRENDS = [
    # X: purchase days 2025-01-01 .. 2025-01-31, 4 of them: usual gap 30 / 3 = 10 days;
    # 20 days since the last: 2x the gap -> recency (2 - 1) / (3 - 1) = 0.5. Events down
    # 40% -> 0.4; spend up -> 0; support 1 -> 3: (3 - 1) / 3 = 2/3; P(alive) 0.75 -> 0.25.
    # Score 100 * (.35 * .5 + .2 * .4 + .15 * 0 + .1 * 2/3 + .2 * .25) = 37.1667: medium.
    ("X", "2025-01-01", "2025-01-31", 4, 6, 10, -0.4, 150.0, 100.0, 0.5, 3, 1),
    # Y: never bought (no recency, no P(alive)): events down 100% -> 1. The measured
    # weights are .2 + .15 + .1 = .45, so the score is 100 * .2 * 1 / .45 = 44.44: high.
    ("Y", None, None, 0, 0, 8, -1.0, 0.0, 0.0, None, 0, 0),
    ("Y2", None, None, 0, 0, 8, -1.0, 0.0, 0.0, None, 0, 0),
    # Z: one purchase day 45 days ago against the default gap of 30: (1.5 - 1) / 2 = .25;
    # no model: 100 * .35 * .25 / .8 = 10.94: low.
    ("Z", "2025-01-06", "2025-01-06", 1, 0, 0, None, 0.0, 0.0, None, 0, 0),
]


def trends_rel(con, rows=TRENDS, day=D):
    frame = pd.DataFrame(rows, columns=TREND_COLUMNS)
    frame["snapshot_date"] = day
    for c in ("first_purchase_date", "last_purchase_date"):
        frame[c] = pd.to_datetime(frame[c]).dt.date
    for c in ("events_change", "spend_change"):
        frame[c] = frame[c].astype("float64")
    return con.from_df(frame)


def clv_rel(con, p_alive: dict[str, float], day=D):
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(list(p_alive), dtype="object"),
            "p_alive": pd.Series(list(p_alive.values()), dtype="float64"),
        }
    )
    frame["snapshot_date"] = day
    return con.from_df(frame)


def risk_frame(con, config=None, earlier=None):
    rel = compute_risk(
        con, trends_rel(con), clv_rel(con, {"X": 0.75}), [D], config or RiskConfig(), earlier
    )
    return rel


def test_signals_score_level_and_top_signals_by_hand(con):
    out = risk_frame(con).df().set_index("customer_id")
    x = out.loc["X"]
    assert x["usual_gap_days"] == 10 and x["days_since_last_purchase"] == 20
    assert (x["recency_signal"], x["engagement_signal"], x["spend_signal"]) == (0.5, 0.4, 0.0)
    assert x["support_signal"] == pytest.approx(2 / 3)
    assert x["churn_probability_signal"] == pytest.approx(0.25)
    assert x["risk_score"] == pytest.approx(37.1667, abs=1e-4) and x["risk_level"] == "medium"
    assert [x["signal_1"], x["signal_2"], x["signal_3"]] == ["recency", "engagement", "support"]
    assert [x["contribution_1"], x["contribution_2"]] == pytest.approx([17.5, 8.0])
    assert x["contribution_3"] == pytest.approx(100 * 0.1 * 2 / 3)
    y = out.loc["Y"]
    assert pd.isna(y["recency_signal"]) and pd.isna(y["churn_probability_signal"])
    assert y["risk_score"] == pytest.approx(100 * 0.2 / 0.45) and y["risk_level"] == "high"
    assert y["signal_1"] == "engagement" and pd.isna(y["signal_2"])
    z = out.loc["Z"]
    assert z["usual_gap_days"] == 30 and z["recency_signal"] == 0.25
    assert z["risk_score"] == pytest.approx(100 * 0.35 * 0.25 / 0.8) and z["risk_level"] == "low"


def test_equal_contributions_list_in_the_signal_order(con):
    weights = {
        "recency": 0.25,
        "engagement": 0.25,
        "spend": 0.25,
        "support": 0.05,
        "churn_probability": 0.2,
    }
    rows = [("W", None, None, 0, 1, 2, -0.5, 50.0, 100.0, -0.5, 0, 0)]
    rel = compute_risk(
        con, trends_rel(con, rows), clv_rel(con, {}), [D], RiskConfig(weights=weights)
    )
    w = rel.df().iloc[0]
    assert (w["signal_1"], w["signal_2"]) == ("engagement", "spend")
    assert w["contribution_1"] == w["contribution_2"]


def test_weights_must_sum_to_one_and_name_the_signals():
    with pytest.raises(ValueError, match="sum to 1, they sum to 1.1"):
        RiskConfig(
            weights={
                "recency": 0.45,
                "engagement": 0.2,
                "spend": 0.15,
                "support": 0.1,
                "churn_probability": 0.2,
            }
        )
    with pytest.raises(ValueError, match="unknown signals tenure"):
        RiskConfig(weights={"tenure": 1.0})
    with pytest.raises(ValueError, match="medium <= high <= critical"):
        RiskConfig(levels={"medium": 50, "high": 40, "critical": 60})


def test_the_previous_level_comes_from_the_day_before(con):
    earlier = con.sql(
        "SELECT DATE '2025-02-19' AS snapshot_date, 'X' AS customer_id, 'low' AS risk_level"
    )
    out = risk_frame(con, earlier=earlier).df().set_index("customer_id")
    assert out.loc["X", "previous_risk_level"] == "low"
    assert pd.isna(out.loc["Y", "previous_risk_level"])


def lifecycle_rel(con, rows):
    frame = pd.DataFrame(
        rows, columns=["customer_id", "lifecycle_stage", "value_segment", "predicted_value"]
    )
    frame["snapshot_date"] = D
    return con.from_df(frame)


LIFECYCLE = [
    ("X", "cooling", "high", 1240.0),
    ("Y", "active", "high", 1240.0),
    ("Y2", "active", "medium", 1240.0),
    ("Z", "churned", "low", 50.0),
]


def actions(con, earlier=None, config=None, rfm=None):
    rfm = rfm or con.sql(
        "SELECT DATE '2025-02-20' AS snapshot_date, 'X' AS customer_id, 'Champions' AS rfm_segment"
    )
    return compute_actions(
        con,
        risk_frame(con, earlier=earlier),
        lifecycle_rel(con, LIFECYCLE),
        rfm,
        config or ActionsConfig(),
        window_days=30,
    )


def test_first_rule_that_holds_its_economics_and_its_explanation(con):
    out = actions(con).df().set_index("customer_id")
    # X: medium risk, cooling: Nurture (upside 1240 * .2 = 248, * .05 = 12.40; ROI 11.4)
    x = out.loc["X"]
    assert (x["action"], x["action_rank"], x["cost"]) == ("Nurture", 4, 1.0)
    assert x["value_at_stake"] == pytest.approx(248.0)
    assert x["expected_return"] == pytest.approx(12.4) and x["roi"] == pytest.approx(11.4)
    assert x["explanation"] == (
        "Risk 37 (medium): 20 days since last purchase against a usual gap of 10; engagement "
        "events down 40% on the previous 30 days; support contacts up from 1 to 3 on the "
        "previous 30 days; predicted value $1,240. Nurture: cost $1, expected return $12.40."
    )
    # Y: high risk and high value: VIP care (1240 * .4 = 496; ROI (496 - 50) / 50)
    y = out.loc["Y"]
    assert (y["action"], y["expected_return"]) == ("VIP care", pytest.approx(496.0))
    assert y["roi"] == pytest.approx(8.92)
    assert y["explanation"] == (
        "Risk 44 (high): engagement events down 100% on the previous 30 days; predicted value "
        "$1,240. VIP care: cost $50, expected return $496."
    )
    # Y2: the same risk at medium value: the win-back offer (1240 * .25 = 310)
    assert out.loc["Y2", "explanation"].endswith("Win-back offer: cost $15, expected return $310.")
    # Z: nothing holds but the last rule, which costs and returns nothing
    z = out.loc["Z"]
    assert (z["action"], z["cost"], z["expected_return"]) == ("No action", 0.0, 0.0)
    assert pd.isna(z["roi"])
    assert z["explanation"] == (
        "Risk 11 (low): 45 days since the only purchase day against a default gap of 30; "
        "predicted value $50. No action."
    )


def test_levels_at_their_thresholds(con):
    scores = [0.0, 19.99, 20.0, 39.99, 40.0, 59.99, 60.0, 100.0]
    levels = con.sql(
        f"SELECT {level_sql('s', RiskConfig())} FROM (SELECT unnest({scores}) AS s)"
    ).fetchall()
    # each threshold is the lowest score of its level (20, 40, 60 by default)
    assert [r[0] for r in levels] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
        "critical",
    ]


def test_a_valuable_active_customer_at_low_risk_gets_the_upsell_bundle(con):
    # Z (risk 10.94, low) made active and of high value, predicted value $50: the upsell
    # bundle (rule 3). Upside 50 * .2 = 10, expected return 10 * .15 = 1.50 for a cost of
    # $5: ROI (1.5 - 5) / 5 = -0.7 (the rule's economics, not a filter on them).
    lifecycle = [row if row[0] != "Z" else ("Z", "active", "high", 50.0) for row in LIFECYCLE]
    rfm = con.sql(
        "SELECT DATE '2025-02-20' AS snapshot_date, 'X' AS customer_id, 'Champions' AS rfm_segment"
    )
    out = compute_actions(
        con, risk_frame(con), lifecycle_rel(con, lifecycle), rfm, ActionsConfig(), window_days=30
    )
    z = out.df().set_index("customer_id").loc["Z"]
    assert (z["action"], z["action_rank"], z["cost"]) == ("Upsell bundle", 3, 5.0)
    assert z["value_at_stake"] == pytest.approx(10.0)
    assert z["expected_return"] == pytest.approx(1.5) and z["roi"] == pytest.approx(-0.7)
    assert z["explanation"].endswith(
        "predicted value $50. Upsell bundle: cost $5, expected return $1.50."
    )


def test_a_rule_on_rfm_segments_skips_customers_without_one(con):
    config = ActionsConfig(
        rules=[
            ActionRule(name="Thank", when=ActionCondition(rfm_segments=["Champions"]), cost=2.0),
            ActionRule(name="None"),
        ]
    )
    out = actions(con, config=config).df().set_index("customer_id")
    assert out["action"].to_dict() == {"X": "Thank", "Y": "None", "Y2": "None", "Z": "None"}


def test_rules_must_end_with_a_catch_all_and_not_hide_later_ones():
    with pytest.raises(ValueError, match=r"the last rule \('Call'\) has conditions"):
        ActionsConfig(rules=[ActionRule(name="Call", when=ActionCondition(risk_levels=["high"]))])
    with pytest.raises(ValueError, match=r"rule 'Everyone' has no conditions"):
        ActionsConfig(rules=[ActionRule(name="Everyone"), ActionRule(name="Rest")])


def test_alerts_fire_on_a_rise_into_high_or_critical_for_high_value_only(con):
    earlier = con.sql(
        "SELECT DATE '2025-02-19' AS snapshot_date, * FROM (VALUES "
        "('Y', 'high'), ('Y2', 'medium'), ('X', 'low')) t(customer_id, risk_level)"
    )
    # Y was high and is still high: no new alert; Y2 rose but is medium value; X is medium
    alerts = compute_alerts(con, actions(con, earlier=earlier), AlertsConfig()).df()
    assert alerts.empty
    earlier = con.sql(
        "SELECT DATE '2025-02-19' AS snapshot_date, 'Y' AS customer_id, 'medium' AS risk_level"
    )
    alerts = compute_alerts(con, actions(con, earlier=earlier), AlertsConfig()).df()
    assert alerts["customer_id"].tolist() == ["Y"]
    assert alerts.iloc[0]["previous_risk_level"] == "medium"
    assert alerts.iloc[0]["explanation"].startswith("Risk 44 (high)")
    # with medium value customers alerted too, Y2 (not scored the day before) is new
    wider = AlertsConfig(value_segments=["high", "medium"])
    assert compute_alerts(con, actions(con, earlier=earlier), wider)["customer_id"].fetchall() == [
        ("Y",),
        ("Y2",),
    ]


def test_a_customer_still_critical_is_not_alerted_again_but_a_rise_to_critical_is(con):
    # One high-value customer per case, each with its level and the day before's:
    # A critical -> critical: no alert (alerted when it first became critical);
    # B high -> critical: a rise within the alerting levels, alerted again;
    # C critical -> high: a fall, no alert;
    # D first scored today at critical: alerted (from no level at all);
    # E low -> critical but of medium value: not an alerting value segment.
    rows = con.sql(
        """
        SELECT DATE '2025-02-20' AS snapshot_date, * FROM (VALUES
            ('A', 90.0, 'critical', 'critical', 'high'),
            ('B', 70.0, 'critical', 'high', 'high'),
            ('C', 50.0, 'high', 'critical', 'high'),
            ('D', 65.0, 'critical', NULL, 'high'),
            ('E', 95.0, 'critical', 'low', 'medium')
        ) t(customer_id, risk_score, risk_level, previous_risk_level, value_segment)
        """
    ).project(
        "*, 1000.0 AS predicted_value, 'VIP care' AS action, 400.0 AS expected_return, "
        "'why' AS explanation"
    )
    alerts = compute_alerts(con, rows, AlertsConfig()).df()
    # ordered by risk score, highest first
    assert alerts["customer_id"].tolist() == ["B", "D"]
    assert alerts["previous_risk_level"].tolist()[0] == "high"
    assert pd.isna(alerts["previous_risk_level"].tolist()[1])
