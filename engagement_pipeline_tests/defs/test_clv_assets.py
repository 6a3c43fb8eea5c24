"""The CLV assets in Dagster on a generated data set with enough repeat buyers.

Seventy dates run once per module: the whole job up to the first dates with predictions,
then the CLV chain alone (what these tests read) to the last date. The segments test
copies that project and re-materializes only customer_segments with its own config.
"""

import datetime as dt
import shutil

import dagster as dg
import pytest
import yaml

from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.sample_data import generate
from engagement_pipeline_tests.defs.test_assets import read

# the seventy-day run once: both tests on one worker under pytest-xdist
pytestmark = pytest.mark.xdist_group("clv_assets")


def write_config(root, **segmentation):
    config = {
        "snapshots": {"start_date": "2025-01-01", "end_date": "2025-03-11"},
        "engagement_data": {
            "file_path": "src/engagement_events.csv",
            "event_id_column": "event_id",
            "engagement_score_column": "engagement_score",
        },
        "purchase_data": {"file_path": "src/purchases.csv"},
        "segmentation": segmentation,
        "storage": {"lake_path": "lake", "reports_path": "reports"},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# What the CLV and segments tests read after the whole job's first dates: ingestion and
# the customer-analytics chain (the journeys and customer intelligence groups, built day by
# day from their previous day's rows, would double the module's time).
CLV_CHAIN = [
    dg.AssetKey(name)
    for name in (
        "raw_engagement_events",
        "quarantined_engagement_events",
        "raw_purchases",
        "quarantined_purchases",
        "customer_ltv",
        "engagement_scores",
        "customer_clv",
        "clv_model_parameters",
        "customer_segments",
    )
]


# The whole job runs to here: the first dates with predicted values, so its report has them
WHOLE_JOB_UNTIL = "2025-01-26"


def run_range(path, first, last, chain_only=False):
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    if chain_only:
        job = job.get_subset(asset_selection=set(CLV_CHAIN))
    return job.execute_in_process(
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )


@pytest.fixture(scope="module")
def seventy_days(tmp_path_factory):
    """A project whose 70 dates ran in one range run of the CLV chain: (config path, the
    run's result)."""
    root = tmp_path_factory.mktemp("clv")
    generate(root / "src", 400, dt.date(2025, 1, 1), 70, seed=5)
    path = write_config(root)
    assert run_range(path, "2025-01-01", WHOLE_JOB_UNTIL).success
    return path, run_range(path, "2025-01-27", "2025-03-11", chain_only=True)


def test_clv_per_snapshot_with_parameters_table_and_warm_start(seventy_days):
    path, result = seventy_days
    assert result.success
    clv = read(path, "customer_clv", "2025-03-11")
    assert (clv["model_status"] == "fitted").all() and clv["predicted_clv"].notna().all()
    assert {
        "p_alive",
        "expected_purchases_30d",
        "expected_purchases_90d",
        "expected_purchases_365d",
    } <= set(clv.columns)
    assert ((clv["p_alive"] >= 0) & (clv["p_alive"] <= 1)).all()
    # predictions grow with the horizon
    assert (clv["expected_purchases_365d"] >= clv["expected_purchases_90d"]).all()
    params = read(path, "clv_model_parameters", "2025-03-11")
    assert sorted(params["parameter"]) == sorted(["r", "alpha", "a", "b", "p", "q", "gamma"])
    assert params["converged"].all()
    mat = [
        m
        for m in result.asset_materializations_for_node("clv_model")
        if m.partition == "2025-03-11" and m.asset_key.path[-1] == "customer_clv"
    ][0]
    assert mat.metadata["status"].value == "fitted" and "bg_nbd/r" in mat.metadata
    # warm start: a re-run of one date starts from the previous date's parameters
    chain = (
        build_definitions(path)
        .resolve_job_def(ENGAGEMENT_JOB)
        .get_subset(asset_selection=set(CLV_CHAIN))
    )
    again = chain.execute_in_process(partition_key="2025-03-11")
    assert again.success
    rerun = read(path, "clv_model_parameters", "2025-03-11").set_index(["model", "parameter"])
    before = params.set_index(["model", "parameter"])
    assert (rerun["value"] - before["value"]).abs().max() < 1e-3 * before["value"].abs().max()
    # The report has the predicted-value section on the whole job's last date the models
    # were fitted, and says why not on a date they were not. Which of the job's small early
    # dates converge depends on SciPy's optimizer (2025-01-26 stopped short on SciPy 1.17).
    whole_job = [
        (dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat()
        for i in range((dt.date.fromisoformat(WHOLE_JOB_UNTIL) - dt.date(2025, 1, 1)).days + 1)
    ]
    fitted = {
        day: (read(path, "customer_clv", day)["model_status"] == "fitted").all()
        for day in whole_job
        if len(read(path, "customer_clv", day))
    }
    last_fitted = max(day for day, ok in fitted.items() if ok)
    report = (path.parent / "reports" / last_fitted / "engagement_report.md").read_text()
    assert (
        "## Predicted value (BG/NBD + Gamma-Gamma)" in report
        and "Customers with the most predicted value" in report
    )
    for day in (d for d, ok in fitted.items() if not ok):
        unfitted = (path.parent / "reports" / day / "engagement_report.md").read_text()
        assert "No predicted CLV on this date: the models were not fitted" in unfitted
    # early dates have too few repeat buyers: CLV empty with the reason, and the run went on
    early = read(path, "customer_clv", "2025-01-03")
    assert (
        early["predicted_clv"].isna().all()
        and early["model_status"].str.startswith("too little data").all()
    )


def test_segments_can_use_predicted_clv(seventy_days, tmp_path):
    shutil.copytree(seventy_days[0].parent, tmp_path, dirs_exist_ok=True)
    path = write_config(
        tmp_path, value_source="predicted_clv", ltv_threshold_high=400, ltv_threshold_medium=100
    )
    job = build_definitions(path).resolve_implicit_global_asset_job_def()
    segments = job.get_subset(asset_selection={dg.AssetKey("customer_segments")})
    for date in ("2025-01-03", "2025-03-11"):
        assert segments.execute_in_process(partition_key=date).success
    seg = read(path, "customer_segments", "2025-03-11")
    assert (seg["value_source"] == "predicted_clv").all()
    purchasers = seg[seg["purchase_count"] > 0]
    assert (purchasers["segment_value"] == purchasers["predicted_clv"]).all()
    assert (seg.loc[seg["purchase_count"] == 0, "segment_value"] == 0).all()
    high = seg[seg["segment"].isin(["Champion"])]
    assert (high["predicted_clv"] >= 400).all()
    # on a date without a fit the simple LTV is used, and the column says so
    assert (read(path, "customer_segments", "2025-01-03")["value_source"] == "simple_ltv").all()
