"""Every snapshot stage on Spark equals DuckDB's rows on the shipped sample and on CDNOW
(keys exact, floating point within 1e-9 relative): a range of dates from the whole history,
and one date by the daily path, from the previous days' rows."""

import datetime as dt
from pathlib import Path

import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, STAGES
from engagement_pipeline_tests.frames import assert_same_rows

# Spark's tests are one group of pytest-xdist (--dist loadgroup), on one worker: one JVM
# serves them all (two at once, on two cores, cost more than one after the other), and a
# module fixture runs once
pytestmark = pytest.mark.xdist_group("spark")

ROOT = Path(__file__).resolve().parents[2]
# the columns that identify a row, where it is not one per customer and date
KEYS = {
    "segment_strategies": ("snapshot_date", "segment"),
    "customer_alerts": ("snapshot_date", "customer_id"),
    "cohort_retention": ("snapshot_date", "cohort_month", "months_since"),
    "funnel_conversion": ("snapshot_date", "stage"),
    "conversion_journeys": ("snapshot_date", "customer_id", "journey_end", "order_id"),
    "path_conversions": ("snapshot_date", "journey_day", "path"),
    "journey_paths": ("snapshot_date", "rank"),
    "channel_attribution": ("snapshot_date", "model", "channel"),
    "daily_metrics": ("snapshot_date", "metric"),
    "metric_anomalies": ("snapshot_date", "metric"),
    "anomaly_timeline": ("snapshot_date", "metric", "day"),
}


# CDNOW has purchases only: the stages that follow touchpoints have no rows there
NEEDS_EVENTS = {
    "conversion_journeys",
    "journey_paths",
    "channel_attribution",
    "customer_alerts",
}
DATA_SETS = {"sample": ROOT / "config.yaml", "cdnow": ROOT / "data" / "cdnow" / "config.yaml"}


@pytest.fixture(scope="module", params=list(DATA_SETS))
def data_set(spark, request):
    """A data set's validated raw rows, as DuckDB tables and as Spark DataFrames: the
    shipped sample, and CDNOW (the published purchase history, 18 months)."""
    config = load_config(DATA_SETS[request.param])
    con = new_connection()
    first, last = config.snapshots.start_date, config.snapshots.end_date
    raw = {}
    for name, validate in (
        (RAW_ENGAGEMENT_EVENTS, validate_events),
        (RAW_PURCHASES, validate_purchases),
    ):
        validate(con, config, first, last).loaded.create(name)
        raw[name] = con.table(name)
    allowed_empty = NEEDS_EVENTS if request.param == "cdnow" else set()
    spark_raw = {n: spark.from_arrow(r.to_arrow_table()) for n, r in raw.items()}
    return config, con, raw, spark_raw, allowed_empty


def test_every_stage_equals_duckdb_over_a_range(spark, data_set):
    config, con, raw, spark_raw, allowed_empty = data_set
    last = config.snapshots.end_date
    dates = [last - dt.timedelta(days=2), last - dt.timedelta(days=1), last]
    duck, sparked = dict(raw), dict(spark_raw)
    for stage in STAGES:
        rows = stage.compute(con, {n: duck[n] for n in stage.inputs}, dates, config, None)
        duck[stage.name] = rows.create_view(f"_duck_{stage.name}", replace=True)
        computed = stage.compute(spark, {n: sparked[n] for n in stage.inputs}, dates, config, None)
        sparked[stage.name] = computed.create_view(f"_spark_{stage.name}")
        expected = duck[stage.name].df()
        # a comparison of nothing proves nothing
        assert len(expected) > 0 or stage.name in allowed_empty, stage.name
        assert_same_rows(
            expected,
            sparked[stage.name].df(),
            KEYS.get(stage.name, ("snapshot_date", "customer_id")),
        )


def test_every_stage_one_date_from_the_previous_days_rows(spark, data_set):
    """Every stage for one date as the daily run computes it: the day's raw rows, the same
    day's rows of the stages before it, and, for a stage with state, its own rows of the
    dates it builds on (here from DuckDB's full computation, as a backfill would write)."""
    config, con, raw, spark_raw, allowed_empty = data_set
    last, start = config.snapshots.end_date, config.snapshots.start_date
    # every earlier date some stage builds on, within the partitions that exist
    earlier_dates = sorted(
        {
            d
            for stage in STAGES
            if stage.lookback is not None
            for d in stage.lookback.needed(last, config)
            if start <= d < last
        }
    )
    history = dict(raw)
    duck = {n: r.filter(f"snapshot_date = DATE '{last}'") for n, r in raw.items()}
    sparked = {n: r.filter(f"snapshot_date = DATE '{last}'") for n, r in spark_raw.items()}
    for stage in STAGES:
        inputs = {n: history[n] for n in stage.inputs}
        computed = stage.compute(con, inputs, earlier_dates, config, None)
        history[stage.name] = computed.create_view(f"_history_{stage.name}", replace=True)
        earlier = spark_earlier = None
        if stage.lookback is not None:
            # what the asset reads: its partitions within its lookback
            oldest = last - dt.timedelta(days=stage.lookback.days(config))
            earlier = history[stage.name].filter(f"snapshot_date >= DATE '{oldest}'")
            spark_earlier = spark.from_arrow(earlier.to_arrow_table())  # DATE stays DATE
        rows = stage.compute(con, {n: duck[n] for n in stage.inputs}, [last], config, earlier)
        duck[stage.name] = rows.create_view(f"_day_{stage.name}", replace=True)
        on_spark = stage.compute(
            spark, {n: sparked[n] for n in stage.inputs}, [last], config, spark_earlier
        )
        sparked[stage.name] = on_spark.create_view(f"_spark_day_{stage.name}")
        expected = duck[stage.name].df()
        assert len(expected) > 0 or stage.name in allowed_empty, stage.name
        assert_same_rows(
            expected,
            sparked[stage.name].df(),
            KEYS.get(stage.name, ("snapshot_date", "customer_id")),
        )
