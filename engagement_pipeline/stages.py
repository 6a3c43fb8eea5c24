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

from engagement_pipeline.analytics.anomalies import (
    compute_anomalies,
    compute_anomaly_timeline,
    compute_daily_metrics,
    training_days,
)
from engagement_pipeline.analytics.attribution import compute_attribution
from engagement_pipeline.analytics.clv_fits import fit_and_predict
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.analytics.decisions import compute_actions, compute_alerts
from engagement_pipeline.analytics.engagement import compute_engagement_scores
from engagement_pipeline.analytics.journeys import compute_journeys, compute_top_paths
from engagement_pipeline.analytics.lifecycle import compute_lifecycle
from engagement_pipeline.analytics.ltv import compute_customer_ltv, ltv_window_offsets
from engagement_pipeline.analytics.milestones import (
    compute_cohort_matrix,
    compute_funnel,
    compute_milestones,
)
from engagement_pipeline.analytics.path_conversions import (
    compute_path_conversions,
    window_paths,
)
from engagement_pipeline.analytics.rfm import compute_rfm
from engagement_pipeline.analytics.risk import compute_risk
from engagement_pipeline.analytics.segmentation import assign_segments
from engagement_pipeline.analytics.state import add_months
from engagement_pipeline.analytics.strategy import segment_strategies
from engagement_pipeline.analytics.trends import compute_trends
from engagement_pipeline.config import LIFECYCLE_STAGES, RISK_LEVELS, Config
from engagement_pipeline.lake import materialize
from engagement_pipeline.sql import exact_mean, exact_sum, quote_literal
from engagement_pipeline.vocabulary import SegmentTier

RAW_ENGAGEMENT_EVENTS = "raw_engagement_events"
RAW_PURCHASES = "raw_purchases"
CUSTOMER_LTV = "customer_ltv"
ENGAGEMENT_SCORES = "engagement_scores"
CUSTOMER_CLV = "customer_clv"
CLV_MODEL_PARAMETERS = "clv_model_parameters"
CUSTOMER_SEGMENTS = "customer_segments"
SEGMENT_STRATEGIES = "segment_strategies"
CUSTOMER_RFM = "customer_rfm"
CUSTOMER_LIFECYCLE = "customer_lifecycle"
CUSTOMER_TRENDS = "customer_trends"
CUSTOMER_RISK = "customer_risk"
NEXT_BEST_ACTIONS = "next_best_actions"
CUSTOMER_ALERTS = "customer_alerts"
CUSTOMER_MILESTONES = "customer_milestones"
COHORT_RETENTION = "cohort_retention"
FUNNEL_CONVERSION = "funnel_conversion"
CONVERSION_JOURNEYS = "conversion_journeys"
PATH_CONVERSIONS = "path_conversions"
JOURNEY_PATHS = "journey_paths"
CHANNEL_ATTRIBUTION = "channel_attribution"
DAILY_METRICS = "daily_metrics"
METRIC_ANOMALIES = "metric_anomalies"
ANOMALY_TIMELINE = "anomaly_timeline"

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
    # The order of each partition's rows, applied as they are written (the asset's
    # row_order metadata), for a stage whose rows are too wide to sort in its computation:
    # a sort inside the query materializes every row once more.
    row_order: str | None = None


def _days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from first to last, both included."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


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
    )
    return fit_and_predict(con, summaries, dates, config).customers


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


def _trends_needed(day: dt.date, config: Config) -> list[dt.date]:
    window = dt.timedelta(days=int(config.trends.window_days))
    return [day - dt.timedelta(days=1), day - window, day - 2 * window]


def _rfm(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_rfm(con, inputs[CUSTOMER_LTV], config.rfm)


def _lifecycle(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_lifecycle(con, inputs[CUSTOMER_SEGMENTS], config.lifecycle)


def _trends(con, inputs: Relations, dates, config: Config, earlier):
    return compute_trends(
        con, inputs[RAW_ENGAGEMENT_EVENTS], inputs[RAW_PURCHASES], dates, config.trends, earlier
    )


def _risk(con, inputs: Relations, dates, config: Config, earlier):
    return compute_risk(
        con, inputs[CUSTOMER_TRENDS], inputs[CUSTOMER_CLV], dates, config.risk, earlier
    )


def _actions(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_actions(
        con,
        inputs[CUSTOMER_RISK],
        inputs[CUSTOMER_LIFECYCLE],
        inputs[CUSTOMER_RFM],
        config.actions,
        config.trends.window_days,
    )


def _alerts(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_alerts(con, inputs[NEXT_BEST_ACTIONS], config.alerts)


def _milestones(con, inputs: Relations, dates, config: Config, earlier):
    return compute_milestones(
        con,
        inputs[RAW_ENGAGEMENT_EVENTS],
        inputs[RAW_PURCHASES],
        dates,
        config.cohorts,
        config.funnel,
        earlier,
    )


def _cohorts(con, inputs: Relations, dates, config: Config, earlier):
    return compute_cohort_matrix(
        con,
        inputs[RAW_ENGAGEMENT_EVENTS],
        inputs[RAW_PURCHASES],
        inputs[CUSTOMER_MILESTONES],
        dates,
        config.cohorts,
        config.funnel,
        earlier,
    )


def _funnel(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_funnel(con, inputs[CUSTOMER_MILESTONES], config.funnel)


def _journeys(con, inputs: Relations, dates, config: Config, earlier):
    return compute_journeys(
        con,
        inputs[RAW_ENGAGEMENT_EVENTS],
        inputs[RAW_PURCHASES],
        inputs[CUSTOMER_LTV],
        dates,
        config.journeys,
        earlier,
    )


def _path_conversions(con, inputs: Relations, dates, config: Config, earlier):
    journeys = inputs[CONVERSION_JOURNEYS]
    if earlier is None:  # the full computation: the conversions of every day of the windows
        window = int(config.journeys.window_days)
        first = max(config.snapshots.start_date, min(dates) - dt.timedelta(days=window - 1))
        days = _days_between(first, max(dates))
        events, purchases = inputs[RAW_ENGAGEMENT_EVENTS], inputs[RAW_PURCHASES]
        journeys = compute_journeys(con, events, purchases, None, days, config.journeys)
    return compute_path_conversions(
        con, journeys, dates, config.journeys, config.attribution, earlier
    )


def _window_paths(con, inputs: Relations, config: Config):
    """The date's reported journeys counted by path, for paths and attribution."""
    return window_paths(con, inputs[CONVERSION_JOURNEYS], inputs[PATH_CONVERSIONS], config.journeys)


def _paths(con, inputs: Relations, _dates, config: Config, _earlier):
    return compute_top_paths(con, _window_paths(con, inputs, config), config.journeys)


def _attribution(con, inputs: Relations, dates, config: Config, _earlier):
    return compute_attribution(con, _window_paths(con, inputs, config), dates, config.attribution)


def _daily_metrics(con, inputs: Relations, dates, _config: Config, _earlier):
    return compute_daily_metrics(con, inputs[RAW_ENGAGEMENT_EVENTS], inputs[RAW_PURCHASES], dates)


def _anomalies(con, inputs: Relations, dates, config: Config, earlier):
    if earlier is None:  # the full computation: the metrics of every raw day up to the dates
        events, purchases = inputs[RAW_ENGAGEMENT_EVENTS], inputs[RAW_PURCHASES]
        first = min(config.snapshots.start_date, min(dates))
        days = _days_between(first, max(dates))
        metrics = compute_daily_metrics(con, events, purchases, days)
    else:
        metrics = inputs[DAILY_METRICS]
    return compute_anomalies(con, metrics, dates, config.anomalies, earlier)


def _timeline(con, inputs: Relations, dates, config: Config, earlier):
    anomalies = inputs[METRIC_ANOMALIES]
    if earlier is None:  # the full computation: every judged day of the first date's timeline
        start = config.snapshots.start_date
        first = max(start, min(dates) - dt.timedelta(days=int(config.anomalies.timeline_days) - 1))
        days = _days_between(first, max(dates))
        anomalies = _anomalies(con, inputs, days, config, None)
    return compute_anomaly_timeline(con, anomalies, dates, config.anomalies, earlier)


def _training_days_needed(day: dt.date, config: Config) -> list[dt.date]:
    return [day - dt.timedelta(days=k) for k in range(1, training_days(config.anomalies) + 1)]


def count_by(column: str, values: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Per-date figures: customers with each value of `column` (charted on the Plots tab)."""
    return {
        f"customers/{v}": f"count(*) FILTER (WHERE {column} = {quote_literal(v)})" for v in values
    }


def _segment_figures() -> dict[str, str]:
    return count_by("segment", [t.value for t in SegmentTier])


STAGES: tuple[Stage, ...] = (
    Stage(
        CUSTOMER_LTV,
        "One purchasing customer's purchase history and simple lifetime value as of the snapshot date.",
        (RAW_PURCHASES,),
        _ltv,
        Lookback(lambda c: ltv_window_offsets(c.ltv)[1], _ltv_needed),
        {
            "customers": "count(*)",
            "total_revenue": exact_sum("total_revenue"),
            "mean_lifetime_value": exact_mean("lifetime_value"),
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
            "mean_engagement_score": exact_mean("engagement_score"),
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
    Stage(
        CUSTOMER_RFM,
        "One purchasing customer's recency, frequency and monetary value, their 1-5 scores "
        "by quintile within the date, the RFM code and its named segment.",
        (CUSTOMER_LTV,),
        _rfm,
        None,
        {"customers": "count(*)", "mean_monetary": exact_mean("monetary")},
    ),
    Stage(
        CUSTOMER_LIFECYCLE,
        "One customer's lifecycle stage (from recency and tenure), value segment (from the "
        "revenue percentile) and predicted value as of the snapshot date.",
        (CUSTOMER_SEGMENTS,),
        _lifecycle,
        None,
        {"customers": "count(*)", **count_by("lifecycle_stage", LIFECYCLE_STAGES)},
    ),
    Stage(
        CUSTOMER_TRENDS,
        "One customer's events, purchases, spend and support contacts in the last trend "
        "window against the window before it, with the change and its direction.",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _trends,
        Lookback(lambda c: 2 * int(c.trends.window_days), _trends_needed),
        {
            "customers": "count(*)",
            "customers/spend_falling": "count(*) FILTER (WHERE spend_direction = 'falling')",
            "customers/events_falling": "count(*) FILTER (WHERE events_direction = 'falling')",
        },
    ),
    Stage(
        CUSTOMER_RISK,
        "One customer's risk signals (0-1), weighted 0-100 risk score, level, previous "
        "day's level and top three contributing signals.",
        (CUSTOMER_TRENDS, CUSTOMER_CLV),
        _risk,
        Lookback(lambda _c: 1, _previous_day),
        {
            "customers": "count(*)",
            "mean_risk_score": exact_mean("risk_score"),
            **count_by("risk_level", RISK_LEVELS),
        },
    ),
    Stage(
        NEXT_BEST_ACTIONS,
        "One customer's next-best action from the ordered rules, its cost, expected return, "
        "ROI and the plain-English reason.",
        (CUSTOMER_RISK, CUSTOMER_LIFECYCLE, CUSTOMER_RFM),
        _actions,
        None,
        {
            "customers": "count(*)",
            "total_cost": exact_sum("cost"),
            "total_expected_return": exact_sum("expected_return"),
        },
    ),
    Stage(
        CUSTOMER_ALERTS,
        "One alert: a customer of an alerting value segment whose risk level rose into an "
        "alerting level since the previous date, with the reason and the action.",
        (NEXT_BEST_ACTIONS,),
        _alerts,
        None,
        {"alerts": "count(*)"},
    ),
    Stage(
        CUSTOMER_MILESTONES,
        "One customer's acquisition date and cohort month, last active day, active months, "
        "orders and revenue to date, the day each funnel stage was reached, and what the "
        "date added (a new active month, revenue).",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _milestones,
        Lookback(lambda _c: 1, _previous_day),
        {"customers": "count(*)", "acquired": "count(acquisition_date)"},
    ),
    Stage(
        COHORT_RETENTION,
        "One cell of the cohort matrix: an acquisition month and a month since acquisition "
        "that can be observed by the date, with the cohort's size, its customers active in "
        "that month, their share and the cumulative revenue per cohort customer.",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, CUSTOMER_MILESTONES),
        _cohorts,
        Lookback(lambda _c: 1, _previous_day),
        {"cells": "count(*)", "cohorts": "count(*) FILTER (WHERE months_since = 0)"},
    ),
    Stage(
        FUNNEL_CONVERSION,
        "One funnel stage on the date: customers who reached it (after every stage before "
        "it), their share, the conversion from the stage before and the median days it took.",
        (CUSTOMER_MILESTONES,),
        _funnel,
        None,
        {"stages": "count(*)", "customers_seen": "max(customers_seen)"},
    ),
    Stage(
        CONVERSION_JOURNEYS,
        "One journey on the date: a conversion (order) of the day, a customer with touches "
        "and no purchase in the lookback (not converted), or touches since a purchase in the "
        "lookback (in progress), with its path of touches.",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, CUSTOMER_LTV),
        _journeys,
        Lookback(lambda _c: 1, _previous_day),
        {
            "journeys": "count(*) FILTER (WHERE status <> 'in_progress')",
            "conversions": "count(*) FILTER (WHERE converted)",
            "not_converted": "count(*) FILTER (WHERE status = 'not_converted')",
            "in_progress": "count(*) FILTER (WHERE status = 'in_progress')",
            "revenue": exact_sum("revenue"),
        },
        row_order="customer_id, journey_end, order_id",
    ),
    Stage(
        PATH_CONVERSIONS,
        "One path and conversion day of the date's window (the last window_days): the "
        "conversions that ended that day with that path, their revenue, and each position's "
        "time-decay shares.",
        # the raw days: read only without earlier rows (the first date, or the API's
        # computation from the whole history), to find the window's conversions
        (CONVERSION_JOURNEYS, RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _path_conversions,
        Lookback(lambda _c: 1, _previous_day),
        {"paths": "count(*)", "conversions": "sum(journeys)", "revenue": exact_sum("revenue")},
        row_order="journey_day, path",
    ),
    Stage(
        JOURNEY_PATHS,
        "One of the date's most frequent journey paths, with its journeys, conversions, "
        "conversion rate and revenue.",
        (CONVERSION_JOURNEYS, PATH_CONVERSIONS),
        _paths,
        None,
        {"paths": "count(*)"},
    ),
    Stage(
        CHANNEL_ATTRIBUTION,
        "One channel's attributed conversions and revenue under one model (first touch, last "
        "touch, linear, time decay, position based, Markov, Shapley) on the date.",
        (CONVERSION_JOURNEYS, PATH_CONVERSIONS),
        _attribution,
        None,
        {"rows": "count(*)", "conversions": exact_sum("conversions", filter="model = 'markov'")},
    ),
    Stage(
        DAILY_METRICS,
        "One daily metric of the date: events per touchpoint, orders or revenue.",
        (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _daily_metrics,
        None,
        {"metrics": "count(*)"},
    ),
    Stage(
        METRIC_ANOMALIES,
        "One daily metric against the same weekday of the trailing weeks: its expected range, "
        "robust score and whether it is an anomaly (spike or drop).",
        # the raw days: read only without earlier rows (the first date, or the API's
        # computation from the whole history)
        (DAILY_METRICS, RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _anomalies,
        Lookback(lambda c: training_days(c.anomalies), _training_days_needed),
        {"anomalies": "count(*) FILTER (WHERE is_anomaly)"},
    ),
    Stage(
        ANOMALY_TIMELINE,
        "One metric on one judged day of the anomalies.timeline_days up to the date: its "
        "value, expected range, score and whether it was an anomaly.",
        # the raw days: read only without earlier rows, as for metric_anomalies
        (METRIC_ANOMALIES, RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES),
        _timeline,
        Lookback(lambda _c: 1, _previous_day),
        {
            "days": "count(DISTINCT day)",
            "anomalies": "count(*) FILTER (WHERE is_anomaly)",
        },
    ),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}


def run_stages(
    con: duckdb.DuckDBPyConnection, raw: Relations, dates: list[dt.date], config: Config
) -> dict[str, duckdb.DuckDBPyRelation]:
    """Every stage in order over the whole history (no earlier rows): the full computation.
    Each stage's rows are computed once into a temp table, as an asset's are: a view would
    repeat its whole chain of stages in every query that reads it (the API's report
    sections read a dozen of them)."""
    computed: dict[str, duckdb.DuckDBPyRelation] = dict(raw)
    for stage in STAGES:
        result = stage.compute(con, {n: computed[n] for n in stage.inputs}, dates, config, None)
        computed[stage.name] = materialize(con, result, stage.name)
    return computed
