"""Every snapshot stage on Spark equals DuckDB's rows on the shipped sample and on CDNOW
(keys exact, floating point within 1e-9 relative): a range of dates from the whole history,
and the daily path from the previous day's rows."""

import datetime as dt
from pathlib import Path

import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, STAGES
from engagement_pipeline_tests.frames import assert_same_rows

# one Spark session (JVM) per worker under pytest-xdist (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("spark")

ROOT = Path(__file__).resolve().parents[2]
# the columns that identify a row, where it is not one per customer and date
KEYS = {
    "segment_strategies": ("snapshot_date", "segment"),
    "customer_alerts": ("snapshot_date", "customer_id"),
    "cohort_retention": ("snapshot_date", "cohort_month", "months_since"),
    "funnel_conversion": ("snapshot_date", "stage"),
    "conversion_journeys": ("snapshot_date", "customer_id", "journey_end", "order_id"),
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


def test_the_daily_path_from_the_previous_days_rows(spark, data_set):
    """Stages with state, one date from the rows of the day before (the daily run's path)."""
    config, con, raw, spark_raw, allowed_empty = data_set
    last = config.snapshots.end_date
    before = last - dt.timedelta(days=1)
    day = {n: r.filter(f"snapshot_date = DATE '{last}'") for n, r in raw.items()}
    spark_day = {n: r.filter(f"snapshot_date = DATE '{last}'") for n, r in spark_raw.items()}
    for stage in STAGES:
        if stage.lookback is None or set(stage.inputs) - {RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES}:
            continue
        needed = sorted({*stage.lookback.needed(last, config), before})
        earlier = stage.compute(con, raw, needed, config, None).create_view(
            f"_earlier_{stage.name}", replace=True
        )
        expected = stage.compute(con, day, [last], config, earlier).df()
        computed = stage.compute(spark, spark_day, [last], config, spark.from_df(earlier.df()))
        assert len(expected) > 0 or stage.name in allowed_empty, stage.name
        assert_same_rows(
            expected, computed.df(), KEYS.get(stage.name, ("snapshot_date", "customer_id"))
        )
