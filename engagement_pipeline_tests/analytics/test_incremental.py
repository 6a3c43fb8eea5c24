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
import numpy as np
import pandas as pd
import pytest

from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.ltv import compute_customer_ltv, ltv_exit_offsets
from engagement_pipeline.analytics.state import add_months, month_exit_offsets
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection

ROOT = Path(__file__).resolve().parents[2]

# (con, events, purchases, dates, config, previous, event exits, purchase exits) -> relation
Compute = Callable[..., duckdb.DuckDBPyRelation]


def _ltv(con, events, purchases, dates, config, previous, _event_exits, purchase_exits):
    return compute_customer_ltv(con, purchases, dates, config.ltv, previous, purchase_exits)


def _engagement(con, events, purchases, dates, config, previous, event_exits, _purchase_exits):
    return compute_engagement_scores(
        con, events, purchases, dates, config.engagement_scoring, previous, event_exits
    )


def _clv_summary(con, events, purchases, dates, config, previous, _e, _p):
    return transaction_summary(con, purchases, dates, config.clv.time_unit_days, previous)


COMPUTATIONS = {"customer_ltv": _ltv, "engagement_scores": _engagement, "clv": _clv_summary}


class History:
    """A data set's validated raw rows, as tables, with per-day slices like the lake's."""

    def __init__(self, config: Config):
        self.config = config
        self.con = new_connection()
        first, last = config.snapshots.start_date, config.snapshots.end_date
        for name, validate in (("events", validate_events), ("purchases", validate_purchases)):
            validate(self.con, config, first, last).loaded.create(name)
        self.dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

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
                None,
                None,
            ).df()
            for d in dates
        ]
        return pd.concat(frames, ignore_index=True)

    def incremental(self, compute: Compute, step: int) -> pd.DataFrame:
        """Runs of `step` dates, each from the previous run's last date, like the assets."""
        window = self.config.engagement_scoring.window_days
        lo, hi = ltv_exit_offsets(self.config.ltv)
        previous, frames = None, []
        for i in range(0, len(self.dates), step):
            run = self.dates[i : i + step]
            a, b = run[0], run[-1]
            result = compute(
                self.con,
                self.days("events", a, b),
                self.days("purchases", a, b),
                run,
                self.config,
                previous,
                self.days("events", a - dt.timedelta(days=window), b - dt.timedelta(days=window)),
                self.days("purchases", a - dt.timedelta(days=hi), b - dt.timedelta(days=lo)),
            )
            frame = result.df()
            frames.append(frame)
            last = frame[pd.to_datetime(frame["snapshot_date"]).dt.date == b]
            previous = self.con.from_df(last)
        return pd.concat(frames, ignore_index=True)


def assert_same_rows(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Keys, dates and integers exact; floating point within 1e-9 relative."""
    keys = ["snapshot_date", "customer_id"]
    left = left.sort_values(keys).reset_index(drop=True)
    right = right.sort_values(keys).reset_index(drop=True)
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), column
        else:
            same = (a == b) | (a.isna() & b.isna())
            assert bool(same.all()), (column, left[~same].head(3), right[~same].head(3))


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
    compute = COMPUTATIONS[name]
    chained = sample.incremental(compute, step=1)
    # one pass over the whole range from no state folds all history for every date
    assert_same_rows(chained, sample.incremental(compute, step=len(sample.dates)))
    # and each date computed alone from its whole history agrees
    checked = sorted({*sample.dates[::30], sample.dates[-1]})
    dates = pd.to_datetime(chained["snapshot_date"]).dt.date
    assert_same_rows(chained[dates.isin(checked)], sample.full(compute, checked))


@pytest.mark.parametrize("name", list(COMPUTATIONS))
def test_incremental_equals_full_recomputation_on_cdnow(cdnow, name):
    compute = COMPUTATIONS[name]
    # weekly runs, each from the previous run's state (the daily chain is the sample's test)
    chained = cdnow.incremental(compute, step=7)
    assert_same_rows(chained, cdnow.incremental(compute, step=len(cdnow.dates)))
    checked = [cdnow.dates[0], dt.date(1997, 9, 30), cdnow.dates[-1]]
    dates = pd.to_datetime(chained["snapshot_date"]).dt.date
    assert_same_rows(chained[dates.isin(checked)], cdnow.full(compute, checked))


def test_month_exits_follow_the_calendar():
    # a purchase leaves a window of N months on its day + N months (end of month clamped)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert month_exit_offsets(12) == (365, 366)
    assert month_exit_offsets(1) == (28, 31)
