"""The snapshot stages in order: what each reads, how it computes, and how far back it looks.

This is the one description of the pipeline's order. The Dagster assets are built from it
(one snapshot asset per stage) and the Python API runs it in process (process_engagement_
analysis); neither repeats the order or the wiring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb

from engagement_pipeline.analytics.clv_fits import fit_snapshots
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.ltv import compute_customer_ltv, ltv_window_offsets
from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.analytics.state import add_months
from engagement_pipeline.analytics.strategy import segment_strategies
from engagement_pipeline.config import Config
from engagement_pipeline.models import SegmentTier
from engagement_pipeline.sql import quote_literal

RAW_ENGAGEMENT_EVENTS = "raw_engagement_events"
RAW_PURCHASES = "raw_purchases"
CUSTOMER_LTV = "customer_ltv"
ENGAGEMENT_SCORES = "engagement_scores"
CUSTOMER_CLV = "customer_clv"
CLV_MODEL_PARAMETERS = "clv_model_parameters"
CUSTOMER_SEGMENTS = "customer_segments"
SEGMENT_STRATEGIES = "segment_strategies"

Relations = Mapping[str, duckdb.DuckDBPyRelation]
# (connection, inputs by name, snapshot dates, config, the stage's own earlier rows) -> rows
Compute = Callable[
    [duckdb.DuckDBPyConnection, Relations, list[dt.date], Config, "duckdb.DuckDBPyRelation | None"],
    duckdb.DuckDBPyRelation,
]


@dataclass(frozen=True)
class Lookback:
    """A stage with state reads its own earlier rows: up to `days(config)` days back, and
    exactly the dates `needed(date, config)` (the day before; the day before a window)."""

    days: Callable[[Config], int]
    needed: Callable[[dt.date, Config], list[dt.date]]


@dataclass(frozen=True)
class Stage:
    name: str
    description: str  # what one row means
    inputs: tuple[str, ...]
    compute: Compute
    lookback: Lookback | None = None
    figures: Mapping[str, str] = field(default_factory=dict)  # per-date metadata (SQL)


def _previous_day(day: dt.date, _config: Config) -> list[dt.date]:
    return [day - dt.timedelta(days=1)]


def _ltv_needed(day: dt.date, config: Config) -> list[dt.date]:
    months = int(config.ltv.lookback_months)
    before_window = add_months(day + dt.timedelta(days=1), -months) - dt.timedelta(days=1)
    return [day - dt.timedelta(days=1), before_window]


def _engagement_needed(day: dt.date, config: Config) -> list[dt.date]:
    window = int(config.engagement_scoring.window_days)
    return [day - dt.timedelta(days=1), day - dt.timedelta(days=window)]


def _ltv(con, inputs: Relations, dates, config: Config, earlier):
    return compute_customer_ltv(con, inputs[RAW_PURCHASES], dates, config.ltv, earlier)


def _engagement(con, inputs: Relations, dates, config: Config, earlier):
    return compute_engagement_scores(
        con,
        inputs[RAW_ENGAGEMENT_EVENTS],
        inputs[RAW_PURCHASES],
        dates,
        config.engagement_scoring,
        earlier,
    )


def _clv(con, inputs: Relations, dates, config: Config, earlier):
    """Predictions only (the API's view); the asset also keeps the fitted parameters."""
    summaries = transaction_summary(
        con, inputs[RAW_PURCHASES], dates, config.clv.time_unit_days, earlier
    ).df()
    return con.from_df(fit_snapshots(summaries, dates, config).customers)


def _segments(con, inputs: Relations, _dates, config: Config, _earlier):
    return assign_segments(
        con,
        inputs[CUSTOMER_LTV],
        inputs[ENGAGEMENT_SCORES],
        config.segmentation,
        config.engagement_scoring,
        inputs[CUSTOMER_CLV],
    )


def _strategies(con, inputs: Relations, _dates, config: Config, _earlier):
    return con.from_df(segment_strategies(con, inputs[CUSTOMER_SEGMENTS], config.strategy))


def _segment_figures() -> dict[str, str]:
    return {
        f"customers/{t.value}": f"count(*) FILTER (WHERE segment = {quote_literal(t.value)})"
        for t in SegmentTier
    }


STAGES: tuple[Stage, ...] = (
    Stage(
        CUSTOMER_LTV,
        "One purchasing customer's purchase history and simple lifetime value as of the snapshot date.",
        (RAW_PURCHASES,),
        _ltv,
        Lookback(lambda c: ltv_window_offsets(c.ltv)[1], _ltv_needed),
        {
            "customers": "count(*)",
            "total_revenue": "sum(total_revenue)",
            "mean_lifetime_value": "avg(lifetime_value)",
        },
    ),
    Stage(
        ENGAGEMENT_SCORES,
        "One customer's engagement score, touchpoint counts and last activity as of the snapshot date.",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _engagement,
        Lookback(lambda c: int(c.engagement_scoring.window_days), _engagement_needed),
        {
            "customers": "count(*)",
            "mean_engagement_score": "avg(engagement_score)",
            "window_events": "sum(window_events)",
        },
    ),
    Stage(
        CUSTOMER_CLV,
        "One purchasing customer's frequency, recency, T, P(alive), expected purchases, "
        "expected spend and predicted CLV as of the snapshot date.",
        (RAW_PURCHASES,),
        _clv,
        Lookback(lambda _c: 1, _previous_day),
    ),
    Stage(
        CUSTOMER_SEGMENTS,
        "One customer's segment tier and value tier, with the figures that decided it, as of the snapshot date.",
        (CUSTOMER_LTV, ENGAGEMENT_SCORES, CUSTOMER_CLV),
        _segments,
        None,
        {"customers": "count(*)", **_segment_figures()},
    ),
    Stage(
        SEGMENT_STRATEGIES,
        "One segment's figures (count, share, average LTV and engagement, revenue) and recommendations on the snapshot date.",
        (CUSTOMER_SEGMENTS,),
        _strategies,
        None,
        {"customers": "sum(customer_count)"},
    ),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}


def run_stages(
    con: duckdb.DuckDBPyConnection, raw: Relations, dates: list[dt.date], config: Config
) -> dict[str, duckdb.DuckDBPyRelation]:
    """Every stage in order over the whole history (no earlier rows): the full computation."""
    computed: dict[str, duckdb.DuckDBPyRelation] = dict(raw)
    for stage in STAGES:
        result = stage.compute(con, {n: computed[n] for n in stage.inputs}, dates, config, None)
        computed[stage.name] = result.create_view(f"_stage_{stage.name}", replace=True)
    return computed
