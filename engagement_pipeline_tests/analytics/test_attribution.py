"""Attribution models on small journeys worked out by hand.

Journeys of 2025-06-30 (revenue in brackets):
  J1  a > b      converted (100), 2 and 1 days before the purchase
  J2  b          converted (50),  1 day before
  J3  a          not converted
  J4  b > a      not converted
  J5  (no touch) converted (30)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engagement_pipeline.analytics.attribution import (
    NO_TOUCH,
    compute_attribution,
    distinct_paths,
    markov_removal_effects,
    shapley_values,
    transition_counts,
)
from engagement_pipeline.analytics.path_conversions import compute_path_conversions, count_paths
from engagement_pipeline.config import AttributionConfig, load_config
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import (
    CHANNEL_ATTRIBUTION,
    CONVERSION_JOURNEYS,
    PATH_CONVERSIONS,
    STAGE_BY_NAME,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2025, 6, 30)


@pytest.fixture
def con():
    return new_connection()


def journeys(con, rows):
    """Journeys ending at noon of DAY; each touch given by its days before that end."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "converted", "revenue", "path", "days_before_end"]
    )
    frame.insert(0, "snapshot_date", pd.Timestamp(DAY))
    return con.from_df(frame).project(
        "CAST(snapshot_date AS DATE) AS snapshot_date, customer_id, converted, "
        "CAST(revenue AS DOUBLE) AS revenue, CAST(path AS VARCHAR[]) AS path, "
        f"TIMESTAMP '{DAY} 12:00' AS journey_end, "
        f"list_transform(CAST(days_before_end AS DOUBLE[]), lambda d: TIMESTAMP '{DAY} 12:00' "
        "- to_microseconds(CAST(round(d * 86400e6) AS BIGINT))) AS touched_at"
    )


def counted(con, rows, config: AttributionConfig | None = None):
    """The journeys counted by path, as the models read them."""
    return count_paths(con, journeys(con, rows), config or AttributionConfig())


EXAMPLE = [
    ("J1", True, 100.0, ["a", "b"], [2.0, 1.0]),
    ("J2", True, 50.0, ["b"], [1.0]),
    ("J3", False, 0.0, ["a"], [3.0]),
    ("J4", False, 0.0, ["b", "a"], [4.0, 2.0]),
    ("J5", True, 30.0, [], []),
]


def table(con, config: AttributionConfig | None = None):
    config = config or AttributionConfig()
    frame = compute_attribution(con, counted(con, EXAMPLE, config), [DAY], config).df()
    return {(r.model, r.channel): (r.conversions, r.revenue) for r in frame.itertuples()}


def test_heuristic_models_by_hand(con):
    got = table(con, AttributionConfig(half_life_days=1.0))
    assert got[("first_touch", "a")] == pytest.approx((1.0, 100.0))
    assert got[("first_touch", "b")] == pytest.approx((1.0, 50.0))
    assert got[("last_touch", "b")] == pytest.approx((2.0, 150.0))
    assert got[("last_touch", "a")] == pytest.approx((0.0, 0.0))  # never a converting last touch
    assert got[("linear", "a")] == pytest.approx((0.5, 50.0))
    assert got[("linear", "b")] == pytest.approx((1.5, 100.0))
    # time decay, half-life 1 day: in J1 a (2 days) weighs 1/4 and b (1 day) 1/2 -> 1/3, 2/3
    assert got[("time_decay", "a")] == pytest.approx((1 / 3, 100 / 3))
    assert got[("time_decay", "b")] == pytest.approx((1 + 2 / 3, 50 + 200 / 3))
    # position based with two touches: first and last share in their ratio 40:40
    assert got[("position_based", "a")] == pytest.approx((0.5, 50.0))
    # untouched conversions are their own line in every model
    for model in ("first_touch", "linear", "markov", "shapley"):
        assert got[(model, NO_TOUCH)] == pytest.approx((1.0, 30.0))


def test_position_based_middle_touches(con):
    rows = [("J", True, 100.0, ["a", "b", "c", "d"], [4.0, 3.0, 2.0, 1.0])]
    frame = compute_attribution(con, counted(con, rows), [DAY], AttributionConfig()).df()
    shares = frame[frame["model"] == "position_based"].set_index("channel")["conversions"]
    assert shares.to_dict() == pytest.approx({"a": 0.4, "b": 0.1, "c": 0.1, "d": 0.4})


def test_markov_removal_effects_solved_exactly(con):
    moves = transition_counts(con, distinct_paths(con, counted(con, EXAMPLE)))
    # start->a 2, start->b 2; a->b 1, a->null 2 (J3, J4's last), b->conv 2, b->a 1
    # P(conv | a) = 1/3 * P(conv | b); P(conv | b) = 2/3 + 1/3 * P(conv | a)
    # => P(b) = 2/3 + P(b)/9 => P(b) = 3/4, P(a) = 1/4; P(start) = (1/4 + 3/4) / 2 = 1/2
    # without a: P(b) = 2/3, P(start) = 1/3 -> effect 1/3
    # without b: P(a) = 0, P(start) = 0 -> effect 1
    effects = markov_removal_effects(moves)
    assert effects["a"] == pytest.approx(1 / 3, abs=1e-12)
    assert effects["b"] == pytest.approx(1.0, abs=1e-12)
    got = table(con)
    # two touched conversions (150 revenue) split 1/4 : 3/4
    assert got[("markov", "a")] == pytest.approx((0.5, 37.5))
    assert got[("markov", "b")] == pytest.approx((1.5, 112.5))


def test_markov_is_stable_when_a_channel_is_rare(con):
    rows = [("J", True, 10.0, ["a"], [1.0])] * 500 + [("R", False, 0.0, ["rare"], [1.0])]
    frame = compute_attribution(con, counted(con, rows), [DAY], AttributionConfig()).df()
    markov = frame[frame["model"] == "markov"].set_index("channel")
    assert markov.loc["a", "conversions"] == pytest.approx(500.0)
    assert markov.loc["rare", "conversions"] == pytest.approx(0.0)


def test_shapley_by_hand():
    # coalition worth: conversions of journeys whose channels all belong to it
    # {a,b}: 10, {a}: 4, {b}: 2 -> v(a) = 4, v(b) = 2, v(ab) = 16
    # phi(a) = 1/2 * 4 + 1/2 * (16 - 2) = 9; phi(b) = 1/2 * 2 + 1/2 * (16 - 4) = 7
    sets = pd.DataFrame({"channels": [["a", "b"], ["a"], ["b"]], "conversions": [10.0, 4.0, 2.0]})
    values = shapley_values(sets, "conversions")
    assert values["a"] == pytest.approx(9.0)
    assert values["b"] == pytest.approx(7.0)
    assert values.sum() == pytest.approx(16.0)


def test_rare_channels_merge_beyond_the_exact_limit(con):
    rows = [(f"J{i}", True, 1.0, [f"c{i % 5}"], [1.0]) for i in range(20)]
    config = AttributionConfig(shapley_max_channels=3)
    frame = compute_attribution(con, counted(con, rows, config), [DAY], config).df()
    shapley = frame[frame["model"] == "shapley"].set_index("channel")["conversions"]
    assert len(shapley) == 3 and "(other channels)" in shapley.index
    assert shapley.sum() == pytest.approx(20.0)


def test_every_model_adds_up_to_the_totals(con):
    frame = compute_attribution(con, counted(con, EXAMPLE), [DAY], AttributionConfig()).df()
    sums = frame.groupby("model")[["conversions", "revenue"]].sum()
    assert len(sums) == 7
    for model, row in sums.iterrows():
        assert row["conversions"] == pytest.approx(3.0), model
        assert row["revenue"] == pytest.approx(180.0), model


def test_the_asset_attributes_the_reported_journeys_by_the_configured_dimension(con):
    """channel_attribution reads conversion_journeys as stored: the configured dimension's
    list is the path, and a journey in progress (touches since a recent purchase) is in no
    model. Here the example's channels are stored as touchpoints and an in-progress journey
    b is added: by touchpoint, the asset gives the example's Markov split."""
    stored = journeys(con, [*EXAMPLE, ("J6", False, 0.0, ["b"], [1.0])]).project(
        "snapshot_date, customer_id, converted, revenue, journey_end, touched_at, "
        "CASE WHEN customer_id = 'J6' THEN 'in_progress' WHEN converted THEN 'converted' "
        "ELSE 'not_converted' END AS status, path AS touchpoints, "
        "list_transform(path, lambda p: 'x') AS channels, "
        "list_transform(path, lambda p: 'y') AS campaigns"
    )
    shipped = load_config(ROOT / "config.yaml")
    by_touchpoint = shipped.journeys.model_copy(update={"dimension": "touchpoint"})
    config = shipped.model_copy(update={"journeys": by_touchpoint})
    conversions = compute_path_conversions(con, stored, [DAY], config.journeys, config.attribution)
    inputs = {CONVERSION_JOURNEYS: stored, PATH_CONVERSIONS: conversions}
    frame = STAGE_BY_NAME[CHANNEL_ATTRIBUTION].compute(con, inputs, [DAY], config, None).df()
    markov = frame[frame["model"] == "markov"].set_index("channel")["conversions"]
    # as in test_markov_removal_effects_solved_exactly; counting J6 as a journey that did
    # not convert would add start -> b -> null: effects a 1/4, b 1, a split of 1/5 : 4/5
    assert markov.to_dict() == pytest.approx({"a": 0.5, "b": 1.5, NO_TOUCH: 1.0})
