"""The Dagster assets with `engine: spark` write the same lake as with `engine: duckdb`:
every asset's rows (keys exact, floating point within 1e-9 relative) and column types,
for a range of dates in one run and for the next date alone (the daily path, built from
the lake's earlier partitions). Spark failures and a missing Java read in our words."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from engagement_pipeline.config import deep_merge, load_config
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.engines.spark import spark_errors, spark_session
from engagement_pipeline.errors import EngineError
from engagement_pipeline.lake import Lake, open_lake
from engagement_pipeline.object_lake import ObjectLake
from engagement_pipeline.sample_data import generate
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import base_config
from engagement_pipeline_tests.engines.test_spark_stages import KEYS
from engagement_pipeline_tests.frames import assert_same_rows

# Spark's tests are one group of pytest-xdist (--dist loadgroup), on one worker: one JVM
# serves them all (two at once, on two cores, cost more than one after the other), and a
# module fixture runs once
pytestmark = pytest.mark.xdist_group("spark")

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 1, 21)
ASSET_KEYS = {
    **KEYS,
    "clv_model_parameters": ("snapshot_date", "model", "parameter"),
    "engagement_report": ("snapshot_date",),
    "quarantined_engagement_events": ("snapshot_date", "source_row"),
    "quarantined_purchases": ("snapshot_date", "source_row"),
}


def write_project(root: Path, engine: str, lake: dict | None = None) -> Path:
    """A project over root/src, in root/<engine> (root/<engine>-s3 for a lake in a store)."""
    folder = root / (f"{engine}-s3" if lake else engine)
    folder.mkdir()
    config = deep_merge(
        base_config(FIRST.isoformat(), LAST.isoformat()),
        {
            "engagement_data": {"file_path": "../src/engagement_events.csv"},
            "purchase_data": {"file_path": "../src/purchases.csv"},
            # three weeks of a small sample: enough repeat buyers to fit CLV on most dates
            "clv": {"min_repeat_customers": 5},
            "engine": engine,
            **({"storage": lake} if lake else {}),
        },
    )
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run(path: Path, first: dt.date, last: dt.date) -> bool:
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    return job.execute_in_process(
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    ).success


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory) -> dict[str, Lake]:
    """The same data through both engines: a range run, then the last date alone."""
    root = tmp_path_factory.mktemp("engines")
    generate(root / "src", 300, FIRST, (LAST - FIRST).days + 1, seed=5)
    lakes = {}
    for engine in ("duckdb", "spark"):
        path = write_project(root, engine)
        assert run(path, FIRST, LAST - dt.timedelta(days=1)), engine
        assert run(path, LAST, LAST), engine
        lakes[engine] = Lake(load_config(path).lake_dir)
    return lakes


def local_assets(lake: Lake) -> list[str]:
    return sorted(p.name for p in lake.root.iterdir() if p.is_dir() and p.name[0] != ".")


def assert_same_lake(expected: Lake, got: Lake, assets: list[str], keys: set[str]) -> int:
    """Every asset's partitions, rows and column types equal; returns the rows compared."""
    con = new_connection()
    compared = 0
    for asset in assets:
        assert expected.existing_keys(asset) >= keys and got.existing_keys(asset) == keys, asset
        left, right = expected.read(con, asset, keys), got.read(con, asset, keys)
        assert dict(zip(left.columns, map(str, left.types), strict=True)) == dict(
            zip(right.columns, map(str, right.types), strict=True)
        ), asset
        # file locations differ by project folder, not by engine
        located = [c for c in left.columns if c.endswith("_path")]
        frame, other = left.df().drop(columns=located), right.df().drop(columns=located)
        compared += len(frame)
        assert_same_rows(frame, other, ASSET_KEYS.get(asset, ("snapshot_date", "customer_id")))
    return compared


def test_every_asset_has_the_same_rows_and_types_on_both_engines(lakes):
    assets = local_assets(lakes["duckdb"])
    assert len(assets) >= 25 and "customer_clv" in assets  # every asset group is there
    expected_keys = {(FIRST + dt.timedelta(days=i)).isoformat() for i in range(21)}
    compared = assert_same_lake(lakes["duckdb"], lakes["spark"], assets, expected_keys)
    assert compared > 30_000  # rows on every date, not a comparison of nothing
    con = new_connection()
    # the fits ran on Spark's weighted tables and predicted in its Python workers
    clv = lakes["spark"].read(con, "customer_clv", [LAST.isoformat()]).df()
    assert clv["predicted_clv"].notna().sum() > 50


def test_a_lake_on_an_s3_store_gets_the_same_rows_from_either_engine(lakes, object_store):
    """The whole job with `lake_path: s3://...` on a local S3 server: DuckDB builds a range,
    then Spark goes on from those partitions (reading them through the pointers) for the
    next range; every asset equals the local lake's rows."""
    bucket = object_store.new_bucket()
    s3_lake = {
        "lake_path": f"s3://{bucket}/lake",
        "s3": {"endpoint_url": object_store.endpoint_url},
    }
    # the same sources as the local lake's (their paths are in the raw rows)
    root = lakes["duckdb"].root.parent.parent
    duck, spark = (write_project(root, engine, s3_lake) for engine in ("duckdb", "spark"))
    middle, last = FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=3)
    assert run(duck, FIRST, middle)
    assert run(spark, middle + dt.timedelta(days=1), last)
    got = open_lake(load_config(spark))
    assert isinstance(got, ObjectLake)
    keys = {(FIRST + dt.timedelta(days=i)).isoformat() for i in range(4)}
    assets = local_assets(lakes["duckdb"])
    assert assert_same_lake(lakes["duckdb"], got, assets, keys) > 2_000
    # nothing of the lake went to local disk: only the landed sources' cache
    for project in (duck, spark):
        assert not (project.parent / "lake").exists()
        assert (project.parent / ".engagement").is_dir()


def test_a_spark_failure_is_one_message_in_our_words(spark, tmp_path):
    log_file = tmp_path / "spark.log"
    with (
        pytest.raises(EngineError) as caught,
        spark_errors("customer_ltv for 2025-01-01", log_file),
    ):
        spark.session.sql("SELECT no_such_column FROM range(1)").collect()
    message = str(caught.value)
    assert message.startswith("customer_ltv for 2025-01-01: the Spark engine failed")
    assert "UNRESOLVED_COLUMN" in message and str(log_file) in message
    assert "engine: duckdb" in message and "\n" not in message
    assert caught.value.__cause__ is None  # no Spark traceback chained under it


def test_no_java_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(EngineError, match="no `java` was found.*openjdk-17-jre-headless"):
        spark_session("local[1]")
