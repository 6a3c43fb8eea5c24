"""Incremental snapshots equal the full recomputation, row for row, on every date.

The incremental path computes snapshot D from the rows of D-1, the raw rows of day D and
the raw rows leaving each window; the full path folds the whole history up to D. Both run
on the shipped sample (a daily chain over all 181 dates) and on CDNOW (weekly runs over
18 months, with an LTV window short enough that purchases leave it), and each equals one
pass over the whole range from no state, on every date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.journeys import compute_journeys
from engagement_pipeline.analytics.ltv import compute_customer_ltv
from engagement_pipeline.analytics.milestones import compute_milestones
from engagement_pipeline.analytics.state import add_months, month_window_offsets
from engagement_pipeline.analytics.trends import compute_trends
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.defs.partitions import dates_between
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import (
    CONVERSION_JOURNEYS,
    DAILY_METRICS,
    METRIC_ANOMALIES,
    PATH_CONVERSIONS,
    RAW_ENGAGEMENT_EVENTS,
    RAW_PURCHASES,
    STAGE_BY_NAME,
)
from engagement_pipeline_tests.frames import assert_same_rows

ROOT = Path(__file__).resolve().parents[2]

# (con, events, purchases, dates, config, the asset's own earlier rows) -> relation
Compute = Callable[..., duckdb.DuckDBPyRelation]


def _ltv(con, events, purchases, dates, config, earlier):
    return compute_customer_ltv(con, purchases, dates, config.ltv, earlier)


def _engagement(con, events, purchases, dates, config, earlier):
    return compute_engagement_scores(
        con, events, purchases, dates, config.engagement_scoring, earlier
    )


def _clv_summary(con, events, purchases, dates, config, earlier):
    return transaction_summary(con, purchases, dates, config.clv.time_unit_days, earlier)


def _trends(con, events, purchases, dates, config, earlier):
    return compute_trends(con, events, purchases, dates, config.trends, earlier)


def _milestones(con, events, purchases, dates, config, earlier):
    return compute_milestones(con, events, purchases, dates, config.cohorts, config.funnel, earlier)


def _as_the_lake_has(
    con: duckdb.DuckDBPyConnection,
    name: str,
    config: Config,
    dates: list[dt.date],
    build: Callable[[list[dt.date]], duckdb.DuckDBPyRelation],
) -> duckdb.DuckDBPyRelation:
    """An upstream asset's rows of `dates` as the lake has them: built once per data set,
    over every date in one pass from the whole history (which each asset's own case shows
    equal to computing each date alone), then filtered, not rebuilt for every run."""
    table = f"_lake_{name}"
    known = con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name = ?", [table])
    if not known.fetchall():
        build(dates_between(config.snapshots.start_date, config.snapshots.end_date)).create(table)
    wanted = ", ".join(f"DATE '{d}'" for d in dates)
    return con.table(table).filter(f"snapshot_date IN ({wanted})")


def _lake_ltv(con, dates, config):
    # last purchase days as customer_ltv has them on each date (from the whole history)
    return _as_the_lake_has(
        con,
        "customer_ltv",
        config,
        dates,
        lambda every: compute_customer_ltv(con, con.table("purchases"), every, config.ltv),
    )


def _journeys(con, events, purchases, dates, config, earlier):
    ltv = _lake_ltv(con, dates, config)
    return compute_journeys(con, events, purchases, ltv, dates, config.journeys, earlier)


def _path_conversions(con, events, purchases, dates, config, earlier):
    # conversion_journeys of the run's dates as the lake has them; without earlier rows
    # the stage finds the window's conversions in the raw rows itself
    journeys = _as_the_lake_has(
        con,
        "conversion_journeys",
        config,
        dates,
        lambda every: compute_journeys(
            con,
            con.table("events"),
            con.table("purchases"),
            _lake_ltv(con, every, config),
            every,
            config.journeys,
        ),
    )
    inputs = {
        CONVERSION_JOURNEYS: journeys,
        RAW_ENGAGEMENT_EVENTS: events,
        RAW_PURCHASES: purchases,
    }
    return STAGE_BY_NAME[PATH_CONVERSIONS].compute(con, inputs, dates, config, earlier)


def _anomalies(con, events, purchases, dates, config, earlier):
    # the stages' own computation: daily_metrics of the run's days, and without earlier
    # rows the stage rebuilds every day's metrics from the raw rows
    metrics = STAGE_BY_NAME[DAILY_METRICS].compute(
        con, {RAW_ENGAGEMENT_EVENTS: events, RAW_PURCHASES: purchases}, dates, config, None
    )
    inputs = {DAILY_METRICS: metrics, RAW_ENGAGEMENT_EVENTS: events, RAW_PURCHASES: purchases}
    return STAGE_BY_NAME[METRIC_ANOMALIES].compute(con, inputs, dates, config, earlier)


COMPUTATIONS = {
    "customer_ltv": _ltv,
    "engagement_scores": _engagement,
    "clv": _clv_summary,
    "customer_trends": _trends,
    "customer_milestones": _milestones,
    "conversion_journeys": _journeys,
    "path_conversions": _path_conversions,
    "metric_anomalies": _anomalies,
}
# the columns that identify a row, where a customer has more than one or there is none
KEYS = {
    "conversion_journeys": ("snapshot_date", "customer_id", "journey_end", "order_id"),
    "path_conversions": ("snapshot_date", "journey_day", "path"),
    "metric_anomalies": ("snapshot_date", "metric"),
}


class History:
    """A data set's validated raw rows, as tables, with per-day slices like the lake's."""

    def __init__(self, config: Config):
        self.config = config
        self.con = new_connection()
        first, last = config.snapshots.start_date, config.snapshots.end_date
        for name, validate in (("events", validate_events), ("purchases", validate_purchases)):
            validate(self.con, config, first, last).loaded.create(name)
        self.dates = dates_between(first, last)

    def days(self, table: str, first: dt.date, last: dt.date) -> duckdb.DuckDBPyRelation:
        return self.con.table(table).filter(
            f"snapshot_date BETWEEN DATE '{first}' AND DATE '{last}'"
        )

    def full(self, compute: Compute, dates: list[dt.date]) -> pd.DataFrame:
        """Each date from the whole history alone (no previous state)."""
        frames = [
            compute(
                self.con,
                self.days("events", self.dates[0], d),
                self.days("purchases", self.dates[0], d),
                [d],
                self.config,
                None,
            )
            for d in dates
        ]
        return pd.concat(map(_frame, frames), ignore_index=True)

    def incremental(self, compute: Compute, step: int) -> pd.DataFrame:
        """Runs of `step` dates, each reading its own earlier rows, like the assets."""
        con = self.con
        con.execute("CREATE OR REPLACE TABLE computed AS SELECT * FROM (SELECT 1) WHERE false")
        for i in range(0, len(self.dates), step):
            run = self.dates[i : i + step]
            earlier = con.table("computed") if i else None
            result = compute(
                con,
                self.days("events", run[0], run[-1]),
                self.days("purchases", run[0], run[-1]),
                run,
                self.config,
                earlier,
            )
            result.create("_run")
            if i:
                con.execute("INSERT INTO computed SELECT * FROM _run")
            else:
                con.execute("CREATE OR REPLACE TABLE computed AS SELECT * FROM _run")
            con.execute("DROP TABLE _run")
        return _frame(con.table("computed").order("snapshot_date"))


def _frame(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """The rows with struct fields as columns of their own (whole-column comparisons over
    CDNOW's millions of rows; a struct column would be compared cell by cell)."""
    return relation.to_arrow_table().flatten().to_pandas(date_as_object=False)


@pytest.fixture(scope="module")
def sample() -> History:
    return History(load_config(ROOT / "config.yaml"))


@pytest.fixture(scope="module")
def cdnow() -> History:
    config = load_config(ROOT / "data" / "cdnow" / "config.yaml")
    # a 3-month lookback so that purchases leave the LTV window many times in 18 months
    return History(
        config.model_copy(update={"ltv": config.ltv.model_copy(update={"lookback_months": 3})})
    )


@pytest.mark.parametrize("name", list(COMPUTATIONS))
def test_daily_chain_equals_full_recomputation_on_the_sample(sample, name):
    compute, keys = COMPUTATIONS[name], KEYS.get(name, ("snapshot_date", "customer_id"))
    chained = sample.incremental(compute, step=1)
    # one pass over the whole range from no state folds all history for every date
    assert_same_rows(chained, sample.incremental(compute, step=len(sample.dates)), keys)
    # and each date computed alone from its whole history agrees
    checked = sorted({*sample.dates[::30], sample.dates[-1]})
    dates = pd.to_datetime(chained["snapshot_date"]).dt.date
    assert_same_rows(chained[dates.isin(checked)], sample.full(compute, checked), keys)


@pytest.mark.parametrize("name", list(COMPUTATIONS))
def test_incremental_equals_full_recomputation_on_cdnow(cdnow, name):
    compute, keys = COMPUTATIONS[name], KEYS.get(name, ("snapshot_date", "customer_id"))
    # weekly runs, each from the previous run's state (the daily chain is the sample's test)
    chained = cdnow.incremental(compute, step=7)
    assert_same_rows(chained, cdnow.incremental(compute, step=len(cdnow.dates)), keys)
    checked = [cdnow.dates[0], dt.date(1997, 9, 30), cdnow.dates[-1]]
    dates = pd.to_datetime(chained["snapshot_date"]).dt.date
    assert_same_rows(chained[dates.isin(checked)], cdnow.full(compute, checked), keys)


def test_month_windows_follow_the_calendar():
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    # the window of 12 months ending 2025-03-01 starts 2024-03-02: its day before is 365
    # days back; ending 2024-02-29 it starts 2023-03-01, 366 days back
    assert month_window_offsets(12) == (365, 366)
    assert month_window_offsets(1) == (28, 31)
