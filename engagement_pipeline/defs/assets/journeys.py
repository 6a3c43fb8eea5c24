"""Journeys and channels: customer milestones, cohort retention, the funnel, conversion
journeys and their top paths, channel attribution, daily metrics and their anomalies, with
their checks; and the anomalies as warning checks on the raw assets they count."""

import warnings
from collections.abc import Iterator, Mapping

import dagster as dg
import duckdb

from engagement_pipeline.analytics.anomalies import METRIC_SOURCES
from engagement_pipeline.config import Config
from engagement_pipeline.defs.assets.snapshots import snapshot_asset
from engagement_pipeline.defs.checks import Contract, check_evaluations
from engagement_pipeline.defs.errors import asset_step
from engagement_pipeline.defs.partitions import EXISTING_ONLY, partition_keys
from engagement_pipeline.defs.resources import EarlierPartitions
from engagement_pipeline.quality import (
    CheckOutcome,
    DateOutcomes,
    first_failure,
    per_date,
    unique_check,
)
from engagement_pipeline.stages import (
    ANOMALY_TIMELINE,
    CHANNEL_ATTRIBUTION,
    COHORT_RETENTION,
    CONVERSION_JOURNEYS,
    CUSTOMER_MILESTONES,
    DAILY_METRICS,
    FUNNEL_CONVERSION,
    JOURNEY_PATHS,
    METRIC_ANOMALIES,
    PATH_CONVERSIONS,
    STAGE_BY_NAME,
)

GROUP = "journeys"

ONE_ROW_PER_CUSTOMER = "one_row_per_customer"
MONTH_ZERO_IS_THE_COHORT = "month_zero_is_the_whole_cohort"
SHARES_IN_RANGE = "shares_in_range"
STAGES_NARROW = "each_stage_within_the_one_before"
ONE_JOURNEY_PER_ORDER = "one_journey_per_order"
ONE_ROW_PER_PATH_AND_DAY = "one_row_per_path_and_day_of_the_window"
SHARES_ADD_UP = "models_split_every_conversion"
EVERY_METRIC_ONCE = "every_metric_once"
NO_ANOMALY = "no_anomaly"

INPUT = "_journey_check_input"

CONTRACTS = {
    CUSTOMER_MILESTONES: [
        Contract(CUSTOMER_MILESTONES, ONE_ROW_PER_CUSTOMER, "Each customer appears once per date."),
    ],
    COHORT_RETENTION: [
        Contract(
            COHORT_RETENTION,
            MONTH_ZERO_IS_THE_COHORT,
            "Every cohort's month 0 holds its whole cohort (retention 100%).",
        ),
        Contract(
            COHORT_RETENTION,
            SHARES_IN_RANGE,
            "Retention is within [0, 1] and cumulative revenue per customer never falls.",
        ),
    ],
    FUNNEL_CONVERSION: [
        Contract(
            FUNNEL_CONVERSION,
            STAGES_NARROW,
            "No stage has more customers than the stage before it.",
        ),
    ],
    CONVERSION_JOURNEYS: [
        Contract(
            CONVERSION_JOURNEYS,
            ONE_JOURNEY_PER_ORDER,
            "Each order is one converting journey, each unconverted customer one journey.",
        ),
    ],
    PATH_CONVERSIONS: [
        Contract(
            PATH_CONVERSIONS,
            ONE_ROW_PER_PATH_AND_DAY,
            "Each path appears once per conversion day, and every day is within the window.",
        ),
    ],
    JOURNEY_PATHS: [
        Contract(JOURNEY_PATHS, SHARES_IN_RANGE, "Conversion rates and shares are within [0, 1]."),
    ],
    CHANNEL_ATTRIBUTION: [
        Contract(
            CHANNEL_ATTRIBUTION,
            SHARES_ADD_UP,
            "Every model's channels add up to the date's conversions and revenue.",
        ),
    ],
    DAILY_METRICS: [
        Contract(DAILY_METRICS, EVERY_METRIC_ONCE, "Each metric has one value per date."),
    ],
    METRIC_ANOMALIES: [
        Contract(METRIC_ANOMALIES, EVERY_METRIC_ONCE, "Each metric is judged once per date."),
    ],
    ANOMALY_TIMELINE: [
        Contract(
            ANOMALY_TIMELINE,
            EVERY_METRIC_ONCE,
            "Each metric appears once per judged day of the timeline.",
        ),
    ],
}

Inputs = Mapping[str, duckdb.DuckDBPyRelation]


def milestone_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {ONE_ROW_PER_CUSTOMER: unique_check(rows, ["customer_id"])}


def cohort_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    rows.create_view(INPUT, replace=True)
    falling = rows.query(
        INPUT,
        f"""SELECT *, cumulative_revenue_per_customer < lag(cumulative_revenue_per_customer)
                OVER (PARTITION BY snapshot_date, cohort_month ORDER BY months_since) - 1e-9
                AS falls FROM {INPUT}""",
    )
    return {
        MONTH_ZERO_IS_THE_COHORT: per_date(
            rows,
            "months_since = 0 AND (active_customers <> cohort_customers OR retention_rate <> 1)",
            "whose month 0 is not the whole cohort",
        ),
        SHARES_IN_RANGE: per_date(
            falling,
            "retention_rate < 0 OR retention_rate > 1 OR retention_rate IS NULL OR coalesce(falls, false)",
            "with retention outside [0, 1] or falling cumulative revenue",
        ),
    }


def funnel_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    rows.create_view(INPUT, replace=True)
    widening = rows.query(
        INPUT,
        f"""SELECT *, customers_reached > lag(customers_reached)
                OVER (PARTITION BY snapshot_date ORDER BY stage_order) AS widens FROM {INPUT}""",
    )
    return {
        STAGES_NARROW: per_date(
            widening, "coalesce(widens, false)", "with more customers than the stage before"
        )
    }


def journey_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    keyed = rows.project(
        "snapshot_date, CASE WHEN converted THEN order_id ELSE customer_id END AS journey_key"
    )
    return {ONE_JOURNEY_PER_ORDER: unique_check(keyed, ["journey_key"])}


def path_conversion_outcomes(
    rows: duckdb.DuckDBPyRelation, _con: object, _inputs: object, config: Config
) -> dict[str, DateOutcomes]:
    window = int(config.journeys.window_days)
    repeated = unique_check(rows, ["journey_day", "path"])
    outside = per_date(
        rows,
        f"journey_day > snapshot_date OR journey_day <= snapshot_date - {window}",
        f"with a conversion day outside the last {window} days",
    )
    both = f"each path once per conversion day, every day within the last {window} days"
    return {  # a failure says which part failed; a pass says both held
        ONE_ROW_PER_PATH_AND_DAY: {
            d: o if not o.passed else CheckOutcome(True, both, o.metadata)
            for d, o in first_failure(repeated, outside).items()
        }
    }


def path_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {
        SHARES_IN_RANGE: per_date(
            rows,
            "conversion_rate NOT BETWEEN 0 AND 1 OR share_of_journeys NOT BETWEEN 0 AND 1",
            "with a rate or share outside [0, 1]",
        )
    }


def attribution_outcomes(
    rows: duckdb.DuckDBPyRelation, con: duckdb.DuckDBPyConnection, inputs: Inputs, _c: Config
) -> dict[str, DateOutcomes]:
    totals = inputs[PATH_CONVERSIONS].aggregate(  # noqa: F841 - referenced by name below
        "snapshot_date, sum(journeys) AS conversions, coalesce(sum(revenue), 0) AS revenue",
        "snapshot_date",
    )
    models = rows.aggregate(  # noqa: F841 - referenced by name below
        "snapshot_date, model, sum(conversions) AS conversions, sum(revenue) AS revenue",
        "snapshot_date, model",
    )
    compared = con.sql(
        """SELECT m.snapshot_date, m.model,
                  abs(m.conversions - t.conversions) > 1e-6 * greatest(t.conversions, 1)
                  OR abs(m.revenue - t.revenue) > 1e-6 * greatest(t.revenue, 1) AS off
           FROM models m JOIN totals t USING (snapshot_date)"""
    )
    return {
        SHARES_ADD_UP: per_date(
            compared, "off", "models whose channels do not add up to the date's totals"
        )
    }


def metric_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {EVERY_METRIC_ONCE: unique_check(rows, ["metric"])}


def timeline_outcomes(rows: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {EVERY_METRIC_ONCE: unique_check(rows, ["metric", "day"])}


OUTCOMES = {
    CUSTOMER_MILESTONES: milestone_outcomes,
    COHORT_RETENTION: cohort_outcomes,
    FUNNEL_CONVERSION: funnel_outcomes,
    CONVERSION_JOURNEYS: journey_outcomes,
    PATH_CONVERSIONS: path_conversion_outcomes,
    JOURNEY_PATHS: path_outcomes,
    CHANNEL_ATTRIBUTION: attribution_outcomes,
    DAILY_METRICS: metric_outcomes,
    METRIC_ANOMALIES: metric_outcomes,
    ANOMALY_TIMELINE: timeline_outcomes,
}
PREVIEW_ORDER = {
    COHORT_RETENTION: "cohort_month, months_since",
    FUNNEL_CONVERSION: "stage_order",
    CONVERSION_JOURNEYS: "customer_id, journey_end",
    PATH_CONVERSIONS: "snapshot_date - journey_day, -journeys",  # the latest day first
    JOURNEY_PATHS: "rank",
    CHANNEL_ATTRIBUTION: "model, channel",
    DAILY_METRICS: "metric",
    METRIC_ANOMALIES: "metric",
    ANOMALY_TIMELINE: "metric, day",
}


def anomaly_outcomes(anomalies: duckdb.DuckDBPyRelation, source: str) -> DateOutcomes:
    """Per date: the anomalies among the metrics counted from `source`, with each metric's
    value and expected range in the metadata."""
    frame = anomalies.filter(f"source_asset = '{source}'").df()
    outcomes: dict[str, CheckOutcome] = {}
    for day, rows in frame.groupby(frame["snapshot_date"].astype(str).str[:10]):  # per date
        flagged = rows[rows["is_anomaly"]]
        described = [
            f"{r.metric} {r.direction}: {r.value:,.2f} against {r.expected_low:,.2f}..{r.expected_high:,.2f}"
            for r in flagged.itertuples()  # the day's few anomalies, not rows of data
        ]
        metadata = {
            f"{r.metric}": (
                f"{r.value:,.2f} (expected {r.expected_low:,.2f}..{r.expected_high:,.2f})"
                if r.expected_low == r.expected_low
                else f"{r.value:,.2f} (no baseline yet: {r.training_points} earlier weeks)"
            )
            for r in rows.itertuples()
        }
        outcomes[day] = CheckOutcome(
            flagged.empty,
            "; ".join(described) if described else "every metric within its expected range",
            {"anomalies": len(flagged), **metadata},
        )
    return outcomes


def anomaly_check(raw_asset: str, common: dict) -> dg.AssetChecksDefinition:
    """A warning check on a raw asset: its day's metrics against their expected ranges."""
    contract = Contract(
        raw_asset,
        NO_ANOMALY,
        f"The day's {('event counts per touchpoint' if 'events' in raw_asset else 'orders and revenue')} "
        "are within their expected range (metric_anomalies).",
        blocking=False,
    )

    @dg.asset_check(
        asset=raw_asset,
        name=NO_ANOMALY,
        description=contract.description,
        # the dates not judged yet (only the raw assets materialized) are left unevaluated
        additional_ins={"anomalies": dg.AssetIn(METRIC_ANOMALIES, metadata=EXISTING_ONLY)},
        partitions_def=common["partitions_def"],
    )
    @asset_step
    def check(context: dg.AssetCheckExecutionContext, anomalies: EarlierPartitions) -> Iterator:
        keys = [k for k in partition_keys(context) if k in anomalies.keys]
        yield dg.Output(None)  # lets Dagster know the check ran; the results follow per date
        if anomalies.rows is None:
            context.log.info(
                f"metric_anomalies is not materialized for these dates: {NO_ANOMALY} on "
                f"{raw_asset} is judged when it is."
            )
            return
        yield from check_evaluations(
            context, contract, anomaly_outcomes(anomalies.rows, raw_asset), keys
        )

    return check


def build_journey_assets(config: Config, common: dict) -> list[dg.AssetsDefinition]:
    return [
        snapshot_asset(
            STAGE_BY_NAME[name],
            GROUP,
            contracts,
            OUTCOMES[name],
            config,
            common,
            __file__,
            preview_order=PREVIEW_ORDER.get(name, "customer_id"),
        )
        for name, contracts in CONTRACTS.items()
    ]


def build_anomaly_checks(common: dict) -> list[dg.AssetChecksDefinition]:
    with warnings.catch_warnings():
        # Partitioned checks are a preview feature; they attach each result to its date.
        # Only that warning is silenced.
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*AssetCheckSpec")
        return [anomaly_check(source, common) for source in METRIC_SOURCES.values()]
