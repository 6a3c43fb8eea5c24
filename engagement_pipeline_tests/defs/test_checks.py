"""Asset checks in Dagster: blocking contracts stop downstream assets; warnings do not."""

import dataclasses
import datetime as dt

import dagster as dg
import pandas as pd

import engagement_pipeline.defs.assets.raw as raw_module
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB, INGESTION_JOB
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.validation import Validated
from engagement_pipeline_tests.conftest import ev, po
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES, range_tags, run


def evaluations(result, partition=None):
    """(asset, check) -> evaluation of one partition (the only one, or the one asked for)."""
    found = {}
    for e in all_evaluations(result):
        if partition is None or e.partition == partition:
            found[(e.asset_key.path[-1], e.check_name)] = e
    return found


def all_evaluations(result):
    return [
        ev.event_specific_data
        for ev in result.all_events
        if ev.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def test_every_asset_has_checks_and_they_pass_on_clean_data(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    result = run(path, "2025-01-01", "2025-01-05")
    every = all_evaluations(result)
    assert {e.asset_key.path[-1] for e in every} == {
        "raw_engagement_events",
        "raw_purchases",
        "customer_ltv",
        "engagement_scores",
        "customer_segments",
        "segment_strategies",
        "engagement_report",
        "customer_clv",
        "clv_model_parameters",
        "quarantined_engagement_events",
        "quarantined_purchases",
        "customer_rfm",
        "customer_lifecycle",
        "customer_trends",
        "customer_risk",
        "next_best_actions",
        "customer_alerts",
        "customer_milestones",
        "cohort_retention",
        "funnel_conversion",
        "conversion_journeys",
        "path_conversions",
        "journey_paths",
        "channel_attribution",
        "daily_metrics",
        "metric_anomalies",
        "anomaly_timeline",
    }
    # every check has one evaluation per date of the range run, attached to that date
    days = [f"2025-01-0{d}" for d in range(1, 6)]
    per_check: dict = {}
    for e in every:
        per_check.setdefault((e.asset_key.path[-1], e.check_name), []).append(e.partition)
    assert all(sorted(p) == days for p in per_check.values())
    failing = {(e.asset_key.path[-1], e.check_name, e.partition) for e in every if not e.passed}
    # the sample has one unknown touchpoint on 2025-01-03 and one refund on 2025-01-05:
    # far above 5% of those days' rows, so the quarantine-share warnings fire on those
    # days only; and two purchasers are too few to fit the CLV models on any date
    assert failing == {
        ("raw_engagement_events", "quarantine_share", "2025-01-03"),
        ("raw_purchases", "quarantine_share", "2025-01-05"),
        *(("customer_clv", "model_fitted", d) for d in days),
    }
    checks = evaluations(result, "2025-01-03")
    assert "too little data" in checks[("customer_clv", "model_fitted")].description
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in every if not e.passed)
    assert result.success  # warnings do not stop the run
    # each date's evaluation carries that date's own numbers: 2025-01-03 had bob's email
    # (the fax was quarantined)
    unique = checks[("raw_engagement_events", "unique_event_ids")]
    assert unique.metadata["rows_checked"].value == 1
    assert (
        evaluations(result, "2025-01-04")[("raw_engagement_events", "unique_event_ids")].description
        == "no rows on this date"
    )


def test_single_partition_check_is_attached_to_the_partition(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert run(path, "2025-01-01", "2025-01-05").success
    result = run(path, "2025-01-03")
    assert (
        evaluations(result)[("customer_segments", "one_segment_per_customer")].partition
        == "2025-01-03"
    )


def test_blocking_check_stops_downstream(make_project, monkeypatch):
    def validate_with_a_repeated_id(con, config, start, end):
        good = validate_events(con, config, start, end)
        loaded = good.loaded  # noqa: F841 - referenced by name in the SQL below
        # a bug or a corrupt export slipping past validation: one event twice in a day
        broken = con.sql("SELECT * FROM loaded UNION ALL (SELECT * FROM loaded LIMIT 1)")
        return Validated(loaded=broken, quarantined=good.quarantined)

    monkeypatch.setattr(
        raw_module,
        "EVENTS_SOURCE",
        dataclasses.replace(raw_module.EVENTS_SOURCE, validate=validate_with_a_repeated_id),
    )
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    result = job.execute_in_process(partition_key="2025-01-01", raise_on_error=False)
    assert not result.success
    unique = evaluations(result)[("raw_engagement_events", "unique_event_ids")]
    assert not unique.passed and unique.metadata["rows_failing"].value == 2
    materialized = {
        e.event_specific_data.materialization.asset_key.path[-1]
        for e in result.get_asset_materialization_events()
    }
    # everything built on the events stops; customer_ltv reads purchases only and still runs
    assert "engagement_scores" not in materialized and "customer_segments" not in materialized
    assert "customer_ltv" in materialized


def test_rows_read_equal_loaded_plus_quarantined_per_partition(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    # the ingestion's own job: the snapshots have nothing to say on rows read
    job = build_definitions(path).resolve_job_def(INGESTION_JOB)
    source_rows_per_day = pd.Series([e["timestamp"][:10] for e in EVENTS]).value_counts().to_dict()
    total_loaded = total_quarantined = 0
    for day in ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"]:
        result = job.execute_in_process(partition_key=day)
        mats = {
            m.asset_key.path[-1]: m.metadata
            for m in (
                e.event_specific_data.materialization
                for e in result.get_asset_materialization_events()
            )
        }
        loaded = mats["raw_engagement_events"]["rows_loaded"].value
        quarantined = mats["raw_engagement_events"]["rows_quarantined"].value
        assert mats["raw_engagement_events"]["rows_read"].value == loaded + quarantined
        assert loaded + quarantined == source_rows_per_day.get(day, 0)
        assert mats["quarantined_engagement_events"]["dagster/row_count"].value == quarantined
        total_loaded += loaded
        total_quarantined += quarantined
    assert total_loaded + total_quarantined == len(EVENTS)
    assert (total_loaded, total_quarantined) == (4, 1)


def test_an_email_outage_fails_the_raw_events_no_anomaly_warning_on_its_day(make_project):
    # 60 email and 10 web events a day, one order a day; on 2025-01-20 no email at all.
    # With two training weeks and a one-day level, days from 2025-01-16 on are judged:
    # email's expected 60 with a spread of sqrt(61) = 7.8, so 0 scores -7.7 (beyond -5).
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(20)]
    events = [
        ev(f"{d}-{t}-{i}", f"c{i}", t, f"{d} 10:00")
        for d in days
        for t, n in (("email", 0 if d == days[-1] else 60), ("web", 10))
        for i in range(n)
    ]
    purchases = [po(f"o{d}", "c1", f"{d} 12:00", "10.00") for d in days]
    path = make_project(
        events,
        purchases,
        end=str(days[-1]),
        anomalies={"training_weeks": 2, "min_training_points": 2, "level_days": 1},
    )
    defs = build_definitions(path)
    judged = {
        "raw_engagement_events",
        "quarantined_engagement_events",
        "raw_purchases",
        "quarantined_purchases",
        "daily_metrics",
        "metric_anomalies",
    }
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(a) for a in judged}
    )
    result = job.execute_in_process(tags=range_tags(str(days[0]), str(days[-1])))
    assert result.success  # a warning does not fail the run
    outage = evaluations(result, "2025-01-20")[("raw_engagement_events", "no_anomaly")]
    assert not outage.passed and outage.severity == dg.AssetCheckSeverity.WARN
    assert outage.metadata["anomalies"].value == 1
    assert outage.metadata["events/email"].value.startswith("0.00 (expected ")
    assert outage.description.startswith("events/email drop: 0.00 against ")
    before = evaluations(result, "2025-01-19")[("raw_engagement_events", "no_anomaly")]
    assert before.passed
    # orders and revenue kept their rhythm: raw_purchases' check passes on the same day
    assert evaluations(result, "2025-01-20")[("raw_purchases", "no_anomaly")].passed


def test_rows_outside_the_snapshot_span_raise_no_quarantine_share_warning(make_project):
    """A shortened end_date keeps every later row (after_end_date, on the last day), but
    they are not bad data: the last day's share check passes, and its rows still add up."""
    later = [ev(f"late{i}", "carol", "web", f"2025-01-0{d} 10:00") for i, d in enumerate((7, 8, 9))]
    path = make_project(EVENTS + later, PURCHASES, end="2025-01-05")
    result = run(path, "2025-01-01", "2025-01-05")
    share = evaluations(result, "2025-01-05")[("raw_engagement_events", "quarantine_share")]
    assert share.passed
    assert share.metadata["rows_read"].value == 1  # carol's mobile event; the late three aside
    assert share.metadata["rows_quarantined"].value == 0
    materialization = next(
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization
        and e.event_specific_data.materialization.asset_key.path[-1] == "raw_engagement_events"
        and e.event_specific_data.materialization.partition == "2025-01-05"
    )
    # the accounting still has them: read = loaded + quarantined
    assert materialization.metadata["rows_read"].value == 4
    assert materialization.metadata["rows_quarantined"].value == 3
