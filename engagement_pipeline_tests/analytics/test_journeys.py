"""Journeys, milestones, cohorts, the funnel and anomalies, with hand-computed expectations,
and their incremental results against the full recomputation on the shipped sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engagement_pipeline.analytics.anomalies import (
    compute_anomalies,
    compute_daily_metrics,
    training_days,
)
from engagement_pipeline.analytics.attribution import compute_attribution
from engagement_pipeline.analytics.journeys import (
    compute_journeys,
    compute_top_paths,
    reported_journeys,
)
from engagement_pipeline.analytics.ltv import compute_customer_ltv
from engagement_pipeline.analytics.milestones import (
    compute_cohort_matrix,
    compute_funnel,
    compute_milestones,
)
from engagement_pipeline.analytics.path_conversions import compute_path_conversions, window_paths
from engagement_pipeline.config import (
    AnomaliesConfig,
    AttributionConfig,
    CohortsConfig,
    FunnelConfig,
    FunnelStage,
    JourneysConfig,
    LTVConfig,
    load_config,
)
from engagement_pipeline.errors import LakeError
from engagement_pipeline.sample_data import planted_days
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.analytics.test_incremental import History

ROOT = Path(__file__).resolve().parents[2]
D = dt.date(2025, 3, 31)


@pytest.fixture
def con():
    return new_connection()


def events(con, rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "touchpoint", "event_timestamp", "channel"])
    frame["event_id"] = [f"E{i}" for i in range(len(frame))]
    frame["event_type"] = "interaction"
    frame["campaign"] = None
    return con.from_df(frame).project(
        "event_id, customer_id, touchpoint, CAST(event_timestamp AS TIMESTAMP) AS event_timestamp, "
        "event_type, channel, CAST(campaign AS VARCHAR) AS campaign, "
        "CAST(event_timestamp AS DATE) AS snapshot_date"
    )


def purchases(con, rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "purchase_timestamp", "amount"])
    return con.from_df(frame).project(
        "customer_id, order_id, CAST(purchase_timestamp AS TIMESTAMP) AS purchase_timestamp, "
        "CAST(amount AS DOUBLE) AS amount, NULL::VARCHAR AS country, "
        "CAST(purchase_timestamp AS DATE) AS snapshot_date"
    )


def journeys(con, ev, pu, dates, config: JourneysConfig, earlier=None):
    """conversion_journeys with customer_ltv computed from the same purchases."""
    ltv = compute_customer_ltv(con, pu, dates, LTVConfig())
    return compute_journeys(con, ev, pu, ltv, dates, config, earlier)


def window_journeys(con, ev, pu, config: JourneysConfig):
    """D's journeys and the conversions of every day of its window (each dated its day)."""
    days = [D - dt.timedelta(days=i) for i in reversed(range(config.window_days))]
    every = journeys(con, ev, pu, days, config)
    return every.filter(f"converted OR snapshot_date = DATE '{D}'")


def counted(con, rows, config: JourneysConfig):
    """D's reported journeys counted by path, as journey_paths and channel_attribution read
    them: the window's conversions (path_conversions) and D's journeys that did not convert."""
    conversions = compute_path_conversions(con, rows, [D], config, AttributionConfig())
    return window_paths(con, rows.filter(f"snapshot_date = DATE '{D}'"), conversions, config)


def test_a_conversion_path_starts_after_the_previous_purchase(con):
    ev = events(
        con,
        [
            ("A", "email", "2025-03-01 09:00", "mail"),  # before A's first order: its path
            ("A", "web", "2025-03-10 09:00", "search"),  # between the orders: second path
            ("A", "web", "2025-03-20 09:00", "social"),
            ("A", "purchase", "2025-03-20 09:30", "social"),  # purchase touchpoint: excluded
            ("B", "web", "2025-03-30 10:00", "search"),  # touches, no purchase: not converted
            ("C", "web", "2025-01-02 10:00", "search"),  # outside the 30-day lookback
            ("D", "email", "2025-03-25 10:00", "mail"),  # after D's purchase: in progress
        ],
    )
    pu = purchases(
        con,
        [
            ("A", "O1", "2025-03-05 12:00", 40.0),
            ("A", "O2", "2025-03-21 12:00", 60.0),
            ("D", "O3", "2025-01-20 12:00", 5.0),  # before the window: not reported
            ("D", "O4", "2025-03-20 12:00", 9.0),
        ],
    )
    stored = window_journeys(con, ev, pu, JourneysConfig())
    rows = stored.df()
    by_key = {(r.customer_id, r.order_id if r.converted else None): r for r in rows.itertuples()}
    # each conversion on the day of its order, the open journeys on D
    assert {(k, str(r.snapshot_date)[:10]) for k, r in by_key.items()} == {
        (("A", "O1"), "2025-03-05"),
        (("A", "O2"), "2025-03-21"),
        (("B", None), "2025-03-31"),
        (("D", None), "2025-03-31"),
        (("D", "O4"), "2025-03-20"),
    }
    assert list(by_key[("A", "O1")].channels) == ["mail"]
    assert list(by_key[("A", "O2")].channels) == ["search", "social"]
    assert by_key[("A", "O2")].revenue == 60.0
    assert list(by_key[("B", None)].channels) == ["search"] and not by_key[("B", None)].converted
    assert ("C", None) not in by_key  # no touch in the lookback
    # D bought in the lookback and touched since: neither converted nor not converted
    assert by_key[("D", None)].status == "in_progress" and by_key[("B", None)].status == (
        "not_converted"
    )
    assert list(by_key[("D", "O4")].channels) == []  # a conversion without touches is kept
    assert len(rows) == 5
    # each touch's touchpoint, channel and campaign side by side, in time order
    a2 = by_key[("A", "O2")]
    assert (list(a2.touchpoints), list(a2.channels), list(a2.campaigns)) == (
        ["web", "web"],
        ["search", "social"],
        ["(none)", "(none)"],
    )
    assert [pd.Timestamp(t) for t in a2.touched_at] == [
        pd.Timestamp("2025-03-10 09:00"),
        pd.Timestamp("2025-03-20 09:00"),
    ]
    paths = compute_top_paths(con, counted(con, stored, JourneysConfig()), JourneysConfig()).df()
    # D's in-progress journey is not a path; its conversion without touches is
    assert set(paths["path"]) == {"mail", "search > social", "search", "(no touch)"}
    search = paths.set_index("path").loc["search"]
    assert (search.journeys, search.conversions, search.conversion_rate) == (1, 0, 0.0)


def test_paths_keep_their_last_touches(con):
    ev = events(con, [("A", "web", f"2025-03-{d:02d} 09:00", f"c{d}") for d in range(1, 6)])
    pu = purchases(con, [("A", "O1", "2025-03-06 12:00", 10.0)])
    rows = window_journeys(con, ev, pu, JourneysConfig(max_path_length=2)).df()
    assert list(rows.loc[0, "channels"]) == ["c4", "c5"]
    assert [str(t)[:10] for t in rows.loc[0, "touched_at"]] == ["2025-03-04", "2025-03-05"]


@pytest.mark.parametrize(
    ("dimension", "a_path", "b_path"),
    [
        ("touchpoint", ["email", "web", "web"], ["social"]),
        ("channel", ["newsletter", "search", "(none)"], ["ads"]),
        ("campaign", ["spring", "(none)", "spring"], ["(none)"]),
    ],
)
def test_a_journey_keeps_touchpoints_channels_and_campaigns_side_by_side(
    con, dimension, a_path, b_path
):
    """Whatever the configured dimension, a journey records all three lists in time order;
    the path (and so the paths table and attribution) is the configured one."""
    frame = pd.DataFrame(
        [  # customer, touchpoint, time, channel, campaign
            ("A", "web", "2025-03-12 09:00", "search", None),
            ("A", "email", "2025-03-10 09:00", "newsletter", "spring"),
            ("A", "web", "2025-03-14 09:00", " ", "spring"),  # blank channel: (none)
            ("B", "social", "2025-03-20 09:00", "ads", ""),  # blank campaign: (none)
        ],
        columns=["customer_id", "touchpoint", "event_timestamp", "channel", "campaign"],
    )
    frame["event_id"] = [f"E{i}" for i in range(len(frame))]
    ev = con.from_df(frame).project(
        "event_id, customer_id, touchpoint, CAST(event_timestamp AS TIMESTAMP) AS event_timestamp, "
        "'interaction' AS event_type, channel, CAST(campaign AS VARCHAR) AS campaign, "
        "CAST(event_timestamp AS DATE) AS snapshot_date"
    )
    pu = purchases(con, [("A", "O1", "2025-03-15 12:00", 80.0)])
    config = JourneysConfig(dimension=dimension)
    stored = window_journeys(con, ev, pu, config)
    rows = stored.df().set_index("customer_id")
    a, b = rows.loc["A"], rows.loc["B"]
    assert (list(a.touchpoints), list(a.channels), list(a.campaigns)) == (
        ["email", "web", "web"],
        ["newsletter", "search", "(none)"],
        ["spring", "(none)", "spring"],
    )
    assert (list(b.touchpoints), list(b.channels), list(b.campaigns)) == (
        ["social"],
        ["ads"],
        ["(none)"],
    )
    assert (a.path_key, b.path_key) == (" > ".join(a_path), " > ".join(b_path))
    assert list(reported_journeys(stored, config).df().set_index("customer_id").path["A"]) == a_path
    paths = compute_top_paths(con, counted(con, stored, config), config).df()
    assert paths.set_index("path").loc[" > ".join(a_path), "conversions"] == 1
    credited = compute_attribution(con, counted(con, stored, config), [D], AttributionConfig()).df()
    last_touch = credited[credited.model == "last_touch"].set_index("channel")
    assert last_touch.loc[a_path[-1], "revenue"] == pytest.approx(80.0)


def test_milestones_cohorts_and_funnel_by_hand(con):
    ev = events(
        con,
        [
            ("A", "email", "2025-01-03 09:00", "mail"),
            ("A", "web", "2025-01-04 09:00", "search"),
            ("B", "web", "2025-02-02 09:00", "search"),
            ("C", "email", "2025-02-10 09:00", "mail"),
        ],
    )
    pu = purchases(
        con,
        [
            ("A", "O1", "2025-01-05 10:00", 10.0),  # A joins January
            ("A", "O2", "2025-01-20 10:00", 20.0),  # repeat in month 0
            ("A", "O3", "2025-03-02 10:00", 30.0),  # active in month 2, not month 1
            ("B", "O4", "2025-02-03 10:00", 50.0),  # B joins February
        ],
    )
    funnel = FunnelConfig()
    days = [dt.date(2025, 3, 2)]
    milestones = compute_milestones(con, ev, pu, days, CohortsConfig(), funnel)
    ms = milestones.df().set_index("customer_id")
    assert ms.loc["A", "active_months"] == 2 and ms.loc["A", "purchase_count"] == 3
    assert str(ms.loc["A", "repeat_purchase_date"])[:10] == "2025-01-20"
    assert str(ms.loc["B", "consideration_date"])[:10] == "2025-02-02"
    assert pd.isna(ms.loc["C", "acquisition_date"])  # engaged, never bought
    matrix = compute_cohort_matrix(con, ev, pu, milestones, days, CohortsConfig(), funnel).df()
    cells = {
        (str(r.cohort_month)[:7], r.months_since): (r.active_customers, r.revenue)
        for r in matrix.itertuples()
    }
    assert cells == {
        ("2025-01", 0): (1, 30.0),
        ("2025-01", 1): (0, 0.0),  # observable and empty: zero, not missing
        ("2025-01", 2): (1, 30.0),
        ("2025-02", 0): (1, 50.0),
        ("2025-02", 1): (0, 0.0),
    }
    jan = matrix[matrix["cohort_month"].astype(str).str.startswith("2025-01")]
    assert list(jan["cumulative_revenue_per_customer"]) == [30.0, 30.0, 60.0]
    stages = compute_funnel(con, milestones, funnel).df().set_index("stage")
    # awareness: A, B, C; consideration (web/mobile): A, B; purchase: A, B; repeat: A
    assert list(stages["customers_reached"]) == [3, 2, 2, 1]
    assert stages.loc["repeat_purchase", "conversion_from_previous"] == 0.5
    # A: awareness 01-03 -> consideration 01-04 (1 day); B: same day (0) -> median 0.5
    assert stages.loc["consideration", "median_days_from_previous"] == 0.5


def test_funnel_stages_from_event_types_and_touchpoints_with_the_share_reaching_each(con):
    ev = events(
        con,
        [
            ("A", "web", "2025-01-02 09:00", "search"),  # A: signs up on the web, 01-02
            ("A", "mobile", "2025-01-05 09:00", "app"),  # ... a mobile session, 01-05
            ("B", "mobile", "2025-01-03 09:00", "app"),  # B: a mobile session, no signup
            ("C", "web", "2025-01-04 09:00", "search"),  # C: signs up on the web, 01-04
            ("D", "email", "2025-01-04 09:00", "mail"),  # D: only an email view
        ],
    ).project(
        "* REPLACE (CASE WHEN touchpoint = 'web' THEN 'signup' WHEN touchpoint = 'mobile' "
        "THEN 'session' ELSE 'view' END AS event_type)"
    )
    pu = purchases(con, [("A", "O1", "2025-01-06 10:00", 10.0)])
    funnel = FunnelConfig(
        stages=[
            FunnelStage(name="awareness"),
            FunnelStage(name="signed_up", event_types=["signup"]),
            # both filters must hold: a session on mobile
            FunnelStage(name="app_session", touchpoints=["mobile"], event_types=["session"]),
            FunnelStage(name="purchase", min_purchases=1),
        ]
    )
    days = [dt.date(2025, 1, 6)]
    milestones = compute_milestones(con, ev, pu, days, CohortsConfig(), funnel)
    ms = milestones.df().set_index("customer_id")
    assert str(ms.loc["C", "signed_up_date"])[:10] == "2025-01-04"
    assert pd.isna(ms.loc["B", "signed_up_date"]) and pd.isna(ms.loc["D", "signed_up_date"])
    stages = compute_funnel(con, milestones, funnel).df().set_index("stage")
    # awareness A, B, C, D; signed up A, C; then a mobile session: A (B skipped the signup,
    # so it does not count); purchase: A
    assert list(stages["customers_reached"]) == [4, 2, 1, 1]
    assert list(stages["share_of_customers"]) == [1.0, 0.5, 0.25, 0.25]
    assert list(stages["conversion_from_previous"].iloc[1:]) == [0.5, 0.5, 1.0]
    # A: signup 01-02 -> session 01-05 (3 days) -> purchase 01-06 (1 day)
    assert stages.loc["app_session", "median_days_from_previous"] == 3.0
    assert stages.loc["purchase", "median_days_from_previous"] == 1.0


def test_first_engagement_cohorts_count_events_as_activity(con):
    ev = events(con, [("C", "email", "2025-02-10 09:00", "mail")])
    pu = purchases(con, [("C", "O1", "2025-03-01 10:00", 5.0)])
    cohorts = CohortsConfig(acquisition="first_engagement")
    days = [dt.date(2025, 3, 1)]
    ms = compute_milestones(con, ev, pu, days, cohorts, FunnelConfig())
    matrix = compute_cohort_matrix(con, ev, pu, ms, days, cohorts, FunnelConfig()).df()
    assert list(matrix["months_since"]) == [0, 1]
    assert list(matrix["retention_rate"]) == [1.0, 1.0]


@pytest.fixture(scope="module")
def sample() -> History:
    return History(load_config(ROOT / "config.yaml"))


def test_cohort_matrix_daily_chain_equals_full_recomputation(sample):
    config, con = sample.config, sample.con
    first, last = sample.dates[0], sample.dates[-1]
    milestones = compute_milestones(
        con,
        sample.days("events", first, last),
        sample.days("purchases", first, last),
        sample.dates,
        config.cohorts,
        config.funnel,
    )
    milestones.create("_milestones")
    con.execute("CREATE OR REPLACE TABLE _matrix AS SELECT * FROM (SELECT 1) WHERE false")
    for i, day in enumerate(sample.dates):  # a daily chain, like the asset's runs
        cell = compute_cohort_matrix(
            con,
            sample.days("events", day, day),
            sample.days("purchases", day, day),
            con.table("_milestones").filter(f"snapshot_date = DATE '{day}'"),
            [day],
            config.cohorts,
            config.funnel,
            con.table("_matrix") if i else None,
        )
        cell.create("_day")
        con.execute(
            "INSERT INTO _matrix SELECT * FROM _day"
            if i
            else "CREATE OR REPLACE TABLE _matrix AS SELECT * FROM _day"
        )
        con.execute("DROP TABLE _day")
    chained = con.table("_matrix").order("snapshot_date, cohort_month, months_since").df()
    full = compute_cohort_matrix(
        con,
        sample.days("events", first, last),
        sample.days("purchases", first, last),
        None,
        sample.dates,
        config.cohorts,
        config.funnel,
    ).df()
    pd.testing.assert_frame_equal(chained.reset_index(drop=True), full.reset_index(drop=True))
    last_day = full[pd.to_datetime(full["snapshot_date"]).dt.date == last]
    assert (last_day[last_day["months_since"] == 0]["retention_rate"] == 1.0).all()
    assert len(last_day["cohort_month"].unique()) == 6  # January .. June


def test_the_level_is_the_median_of_the_configured_days_before(con):
    # A flat 10 a day for ten weeks, then 20 on the three days before D (a Wednesday):
    # with a level of 3 days D's level is 20, with 7 days the median of 10,10,10,10,20,20,20
    # = 10. The usual ratio of Wednesdays to their level is 1 (a flat history), so the
    # baseline is the level.
    day = dt.date(2025, 3, 19)
    metrics = con.sql(
        f"""
        SELECT CAST(d AS DATE) AS snapshot_date, 'orders' AS metric,
               'raw_purchases' AS source_asset,
               CASE WHEN d >= DATE '{day}' - 3 AND d < DATE '{day}' THEN 20.0 ELSE 10.0 END
                   AS value
        FROM range(DATE '{day}' - 70, DATE '{day}' + 1, INTERVAL 1 DAY) t(d)
        """
    )
    baselines = {}
    for level_days in (3, 7):
        config = AnomaliesConfig(level_days=level_days)
        assert training_days(config) == 7 * 8 + level_days  # what a daily run reads back
        found = compute_anomalies(con, metrics, [day], config).df()
        baselines[level_days] = found["baseline"].iloc[0]
    assert baselines == {3: 20.0, 7: 10.0}


def test_the_planted_anomalies_are_found_and_nothing_else(sample):
    first, last = sample.dates[0], sample.dates[-1]
    metrics = compute_daily_metrics(
        sample.con,
        sample.days("events", first, last),
        sample.days("purchases", first, last),
        sample.dates,
    )
    found = compute_anomalies(sample.con, metrics, sample.dates, sample.config.anomalies).df()
    flagged = found[found["is_anomaly"]]
    planted = planted_days(first, len(sample.dates))
    assert sorted(
        (str(r.snapshot_date)[:10], r.metric, r.direction) for r in flagged.itertuples()
    ) == [
        (planted["email_outage"].isoformat(), "events/email", "drop"),
        (planted["revenue_spike"].isoformat(), "revenue", "spike"),
    ]
    # the weekly rhythm (fewer events at weekends) is the baseline's, not an anomaly
    web = found[(found["metric"] == "events/web") & found["score"].notna()]
    weekend = pd.to_datetime(web["snapshot_date"]).dt.day_of_week >= 5
    assert web[weekend].value.mean() < 0.85 * web[~weekend].value.mean()
    spike = flagged[flagged["metric"] == "revenue"].iloc[0]
    assert spike.value > spike.expected_high and spike.training_points == 8


def test_journeys_written_before_touches_kept_every_dimension_ask_for_a_rebuild(con):
    # a lake from before the touchpoints/channels/campaigns lists: the day before D
    # carries only the path, so D cannot continue its open journeys
    old = con.sql(
        f"""SELECT DATE '{D - dt.timedelta(days=1)}' AS snapshot_date, 'A' AS customer_id,
                   NULL::VARCHAR AS order_id, TIMESTAMP '{D}' AS journey_end,
                   'not_converted' AS status, false AS converted, 0.0 AS revenue,
                   ['search'] AS path, [TIMESTAMP '2025-03-20 09:00'] AS touched_at"""
    )
    ev = events(con, [("A", "web", "2025-03-31 09:00", "search")])
    pu = purchases(con, [("A", "O1", "2025-03-31 12:00", 10.0)])
    with pytest.raises(LakeError, match=r"conversion_journeys of 2025-03-30 has no touchpoints"):
        journeys(con, ev, pu, [D], JourneysConfig(), earlier=old)
