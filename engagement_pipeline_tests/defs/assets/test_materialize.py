"""Fast unit tests of single assets: dg.materialize one asset with in-process resources on a
temporary lake, and look at its rows, its per-date metadata and its check evaluations."""

import dagster as dg
import pytest

from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline_tests.conftest import ev, po
from engagement_pipeline_tests.defs.test_assets import read

EVENTS = [
    ev("e1", "alice", "web", "2025-01-01 09:00"),
    ev("e2", "bob", "email", "2025-01-02 10:00"),
    ev("e3", "bob", "fax", "2025-01-02 11:00"),  # quarantined: unknown touchpoint
]
PURCHASES = [
    po("o1", "alice", "2025-01-01 10:00", "100.00"),
    po("o2", "alice", "2025-01-02 10:00", "50.00"),
    po("o3", "bob", "2025-01-02 12:00", "20.00"),
]


@pytest.fixture
def project(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-03")
    defs = build_definitions(path)
    return path, defs


def materialize(defs: dg.Definitions, selection: list[str], key: str) -> dg.ExecuteInProcessResult:
    assets = list(defs.assets)
    return dg.materialize(
        assets,
        selection=selection,
        partition_key=key,
        resources=dict(defs.resources),
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (mat,) = [
        m.materialization
        for m in (e.event_specific_data for e in result.get_asset_materialization_events())
        if m.materialization.asset_key.path[-1] == asset
    ]
    return {k: v.value for k, v in mat.metadata.items()}


def test_ingestion_of_one_day(project):
    path, defs = project
    result = materialize(
        defs, ["raw_engagement_events", "quarantined_engagement_events"], "2025-01-02"
    )
    assert result.success
    assert read(path, "raw_engagement_events", "2025-01-02")["event_id"].tolist() == ["e2"]
    raw = metadata(result, "raw_engagement_events")
    assert (raw["rows_read"], raw["rows_loaded"], raw["rows_quarantined"]) == (2, 1, 1)
    assert raw["dagster/row_count"] == 1
    assert metadata(result, "quarantined_engagement_events")["reason/unknown_touchpoint"] == 1
    checks = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert all(c.partition == "2025-01-02" for c in checks.values())
    assert checks["known_touchpoints"].passed


def test_customer_ltv_builds_on_the_previous_day(project):
    path, defs = project
    purchases = ["raw_purchases", "quarantined_purchases"]
    for day in ("2025-01-01", "2025-01-02"):
        assert materialize(defs, purchases, day).success
    # without the previous day's own rows, one clear failure
    failed = materialize(defs, ["customer_ltv"], "2025-01-02")
    assert not failed.success
    assert materialize(defs, ["customer_ltv"], "2025-01-01").success
    result = materialize(defs, ["customer_ltv"], "2025-01-02")
    assert result.success
    ltv = read(path, "customer_ltv", "2025-01-02").set_index("customer_id")
    # alice: 100 on day 1 (the state) + 50 on day 2 (the day's rows); bob: 20 on day 2
    assert ltv.loc["alice", "purchase_count"] == 2 and ltv.loc["alice", "total_revenue"] == 150.0
    assert ltv.loc["bob", "total_revenue"] == 20.0
    assert str(ltv.loc["alice", "first_purchase_date"])[:10] == "2025-01-01"
    figures = metadata(result, "customer_ltv")
    assert figures["customers"] == 2 and figures["total_revenue"] == 170.0
    assert "alice" in figures["preview"]
