"""Dagster-level tests: materialize partitions and ranges on a temporary lake."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.defs.runs import RANGE_END_TAG, RANGE_START_TAG
from engagement_pipeline.lake import Lake
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev, po

EVENTS = [
    ev("e1", "alice", "web", "2025-01-01 09:00"),
    ev("e2", "alice", "purchase", "2025-01-02 10:00", 0.9),
    ev("e3", "bob", "email", "2025-01-03 11:00"),
    ev("e4", "bob", "fax", "2025-01-03 12:00"),  # quarantined: unknown touchpoint
    ev("e5", "carol", "mobile", "2025-01-05 08:00"),
]
PURCHASES = [
    po("o1", "alice", "2025-01-02 10:00", "120.00"),
    po("o2", "bob", "2025-01-04 10:00", "30.00"),
    po("o3", "alice", "2025-01-05 10:00", "-10"),  # quarantined: refund
]


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def run(config_path, first, last=None, run_config=None):
    job = build_definitions(config_path).resolve_job_def(ENGAGEMENT_JOB)
    if last is None:
        return job.execute_in_process(partition_key=first, run_config=run_config)
    return job.execute_in_process(
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        run_config=run_config,
    )


def read(config_path, asset, key):
    lake = Lake(load_config(config_path).lake_dir)
    return lake.read(new_connection(), asset, [key]).df()


def test_range_in_one_run_then_one_partition_idempotent(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    result = run(path, "2025-01-01", "2025-01-05")
    assert result.success
    # one run computed all five dates of every asset (single-run backfill policy)
    mats = result.asset_materializations_for_node("customer_segments")
    assert sorted(m.partition for m in mats) == [f"2025-01-0{d}" for d in range(1, 6)]

    seg5 = read(path, "customer_segments", "2025-01-05")
    assert seg5["customer_id"].tolist() == ["alice", "bob", "carol"]
    ltv = read(path, "customer_ltv", "2025-01-05").set_index("customer_id")
    assert ltv.loc["alice", "total_revenue"] == 120.0  # the refund was quarantined, not netted
    assert ltv.loc["bob", "total_revenue"] == 30.0
    # as of 2025-01-02, bob and carol do not exist yet
    assert read(path, "customer_ltv", "2025-01-02")["customer_id"].tolist() == ["alice"]

    quarantine = read(path, "quarantined_engagement_events", "2025-01-03")
    assert quarantine["reason"].tolist() == ["unknown_touchpoint"]
    assert read(path, "quarantined_purchases", "2025-01-05")["reason"].tolist() == [
        "non_positive_amount"
    ]

    report = json.loads(
        (load_config(path).reports_dir / "2025-01-05" / "engagement_analysis.json").read_text()
    )
    assert report["total_customers"] == 3

    # re-materializing one partition gives the same rows in the same order
    before = {
        a: read(path, a, "2025-01-05")
        for a in ("customer_ltv", "engagement_scores", "customer_segments")
    }
    assert run(path, "2025-01-05").success
    for asset, frame in before.items():
        pd.testing.assert_frame_equal(read(path, asset, "2025-01-05"), frame)


def test_snapshot_never_sees_rows_after_its_date(make_project, tmp_path):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert run(path, "2025-01-01", "2025-01-05").success
    early = {
        a: read(path, a, "2025-01-03")
        for a in ("customer_ltv", "engagement_scores", "customer_segments")
    }
    # later data arrives (a big purchase and a new customer on 2025-01-04 and 01-05) and all is rebuilt
    make_project(
        EVENTS + [ev("e9", "dave", "review", "2025-01-04 10:00")],
        PURCHASES + [po("o9", "alice", "2025-01-04 00:00", "5000")],
        end="2025-01-05",
    )
    assert run(path, "2025-01-01", "2025-01-05").success
    for asset, frame in early.items():
        pd.testing.assert_frame_equal(read(path, asset, "2025-01-03"), frame)
    assert "dave" in read(path, "customer_segments", "2025-01-05")["customer_id"].tolist()


def _upstream(graph, child: str, parent: str, key: str) -> list[str]:
    mapping = graph.get_partition_mapping(dg.AssetKey(child), dg.AssetKey(parent))
    partitions = graph.get(dg.AssetKey(child)).partitions_def
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        partitions.empty_subset().with_partition_keys([key]), partitions, partitions
    )
    return sorted(result.partitions_subset.get_partition_keys())


def test_lineage_is_the_raw_day_and_the_assets_own_earlier_rows(make_project):
    defs = build_definitions(make_project(EVENTS, PURCHASES, end="2025-01-05"))
    graph = defs.resolve_asset_graph()
    ltv = dg.AssetKey("customer_ltv")
    assert graph.get(ltv).parent_keys == {dg.AssetKey("raw_purchases"), ltv}
    scores = dg.AssetKey("engagement_scores")
    assert graph.get(scores).parent_keys == {
        dg.AssetKey("raw_purchases"),
        dg.AssetKey("raw_engagement_events"),
        scores,
    }
    # snapshot D reads the raw partition of D only ...
    assert _upstream(graph, "customer_ltv", "raw_purchases", "2025-01-03") == ["2025-01-03"]
    # ... and its own earlier rows (before the first partition there are none)
    assert _upstream(graph, "customer_ltv", "customer_ltv", "2025-01-03") == [
        "2025-01-01",
        "2025-01-02",
    ]
    # the CLV state and the warm start are each the previous day's own rows
    assert _upstream(graph, "customer_clv", "customer_clv", "2025-01-03") == ["2025-01-02"]
    assert _upstream(graph, "clv_model_parameters", "clv_model_parameters", "2025-01-03") == [
        "2025-01-02"
    ]
    assert (
        dg.AssetKey("clv_model_parameters")
        not in graph.get(dg.AssetKey("customer_clv")).parent_keys
    )
    assert _upstream(graph, "raw_purchases", "raw_purchases", "2025-01-01") == []


def test_missing_history_is_a_clear_failure(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    result = job.execute_in_process(partition_key="2025-01-05", raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    messages = {e.step_key: e.step_failure_data.user_failure_data.description for e in failures}
    # a snapshot is built from its own rows of the day before: without them, one message
    # names the first missing date and where a backfill must start: with no partition at
    # all, the first snapshot date (not the missing day, which would fail the same way)
    for asset in ("customer_ltv", "engagement_scores"):
        assert messages[asset].startswith(
            f"{asset} for 2025-01-05 is built from its own rows of 2025-01-04"
        ), messages[asset]
        assert "Materialize " + asset + " from 2025-01-01 on" in messages[asset]
        assert "has no partition from 2025-01-01 to 2025-01-04" in messages[asset]
    # with the first two days in the lake, the backfill starts on the third
    assert run(path, "2025-01-01", "2025-01-02").success
    result = job.execute_in_process(partition_key="2025-01-05", raise_on_error=False)
    failed = next(
        e for e in result.all_events if e.is_step_failure and e.step_key == "customer_ltv"
    )
    message = failed.step_failure_data.user_failure_data.description
    assert "Materialize customer_ltv from 2025-01-03 on" in message, message


def test_source_problem_is_one_message_in_the_ui(make_project):
    path = make_project(
        EVENTS, PURCHASES, end="2025-01-05", purchase_data={"file_path": "gone.csv"}
    )
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    result = job.execute_in_process(partition_key="2025-01-01", raise_on_error=False)
    failure = next(
        e for e in result.all_events if e.is_step_failure and e.step_key == "purchases_ingestion"
    )
    assert failure.step_failure_data.user_failure_data.description.startswith(
        "Purchase data file not found:"
    )


def test_run_config_overrides_settings_for_one_run(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert run(path, "2025-01-01", "2025-01-05").success
    base = (
        read(path, "customer_ltv", "2025-01-05")
        .set_index("customer_id")
        .loc["bob", "lifetime_value"]
    )
    settings = {"config_path": str(path), "overrides": {"ltv": {"discount_rate": 0.0}}}
    override = {"resources": {"settings": {"config": settings}}}
    assert run(path, "2025-01-05", run_config=override).success
    changed = (
        read(path, "customer_ltv", "2025-01-05")
        .set_index("customer_id")
        .loc["bob", "lifetime_value"]
    )
    assert base == pytest.approx(30.0 * 2.486852, rel=1e-6) and changed == pytest.approx(30.0 * 3)


def test_report_markdown_is_asset_metadata(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    result = run(path, "2025-01-01", "2025-01-05")
    mat = [
        m
        for m in result.asset_materializations_for_node("engagement_report")
        if m.partition == "2025-01-05"
    ][0]
    md = mat.metadata["report"].value
    assert md.startswith("# Customer engagement report — 2025-01-05")
    # the RFM table says it is a second scheme, whose names repeat the segments'
    assert "## RFM segments" in md and "a second view, from purchases alone" in md
    raw = [
        m
        for m in result.asset_materializations_for_node("engagement_events_ingestion")
        if m.partition == "2025-01-03"
    ]
    assert raw  # every partition of the range is recorded


def _tick(path, when: dt.datetime):
    defs = build_definitions(path)
    schedule = defs.resolve_schedule_def("daily_engagement_schedule")
    ctx = dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return schedule, schedule.evaluate_tick(ctx)


def test_daily_schedule_runs_the_previous_day(make_project):
    path = make_project(EVENTS, PURCHASES, start="2025-01-01", end=None)
    schedule, tick = _tick(path, dt.datetime(2025, 1, 5, 2, 0, tzinfo=dt.timezone.utc))
    assert [r.partition_key for r in tick.run_requests] == ["2025-01-04"]
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"


def test_historical_config_schedule_says_why_it_does_nothing(make_project):
    path = make_project(EVENTS, PURCHASES, start="2025-01-01", end="2025-01-05")
    schedule, tick = _tick(path, dt.datetime(2025, 1, 5, 2, 0, tzinfo=dt.timezone.utc))
    assert not tick.run_requests
    assert tick.skip_message.startswith("snapshots.end_date is 2025-01-05")
    assert "remove end_date" in tick.skip_message
    assert schedule.description.startswith("Does nothing for this config")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_late_data_reload_the_day_then_backfill_after_it(make_project, tmp_path):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
        assert job.execute_in_process(
            instance=instance, tags=range_tags("2025-01-01", "2025-01-05")
        ).success
        before = read(path, "customer_ltv", "2025-01-05").set_index("customer_id")
        # an order for 2025-01-02 arrives late, in the same export
        make_project(
            EVENTS, PURCHASES + [po("o7", "bob", "2025-01-02 09:00", "70.00")], end="2025-01-05"
        )
        defs = build_definitions(path)
        raw = {dg.AssetKey(k) for k in ("raw_purchases", "quarantined_purchases")}
        reload = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=raw)
        reloaded = reload.execute_in_process(partition_key="2025-01-02", instance=instance)
        assert reloaded.success
        # the re-loaded day says which built snapshots are now out of date
        (mat,) = [
            m
            for m in reloaded.asset_materializations_for_node("purchases_ingestion")
            if m.asset_key.path[-1] == "raw_purchases"
        ]
        assert (
            mat.metadata["later_snapshots_out_of_date"].value
            == "2025-01-03 .. 2025-01-05 (3 dates)"
        )
        # until the snapshots after it are rebuilt, they still show the old numbers
        assert (
            read(path, "customer_ltv", "2025-01-05")
            .set_index("customer_id")
            .loc["bob", "total_revenue"]
            == 30.0
        )
        # the late-data sensor asks for the rebuild from that day to the last built date
        sensor = defs.resolve_sensor_def("late_data_sensor")
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        (request,) = tick.run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
            "2025-01-02",
            "2025-01-05",
        )
        assert job.execute_in_process(instance=instance, tags=request.tags).success
        # rebuilt: nothing is late any more
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert not again.run_requests
    after = read(path, "customer_ltv", "2025-01-05").set_index("customer_id")
    assert after.loc["bob", "total_revenue"] == before.loc["bob", "total_revenue"] + 70.0 == 100.0
    assert (
        read(path, "customer_ltv", "2025-01-02")
        .set_index("customer_id")
        .loc["bob", "purchase_count"]
        == 1
    )
    # the day before it is untouched: alice only had events then (no purchase, no LTV row)
    assert read(path, "customer_ltv", "2025-01-01").empty
    assert read(path, "customer_segments", "2025-01-01")["customer_id"].tolist() == ["alice"]
