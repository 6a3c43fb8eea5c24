"""Customer analytics: LTV, engagement score, segment and strategy per customer and date,
with their checks. Each asset, its check specs and the functions computing those checks
read together here."""

from collections.abc import Mapping

import dagster as dg
import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.defs.assets.snapshots import snapshot_asset
from engagement_pipeline.defs.checks import Contract
from engagement_pipeline.quality import (
    SEGMENT_SET,
    CheckOutcome,
    DateOutcomes,
    coverage_check,
    first_failure,
    membership_check,
    per_date,
    range_check,
    unique_check,
)
from engagement_pipeline.stages import (
    CUSTOMER_LTV,
    CUSTOMER_SEGMENTS,
    ENGAGEMENT_SCORES,
    SEGMENT_STRATEGIES,
    STAGE_BY_NAME,
)
from engagement_pipeline.vocabulary import SegmentTier

GROUP = "customer_analytics"


ONE_ROW_PER_CUSTOMER = "one_row_per_customer"
NON_NEGATIVE_VALUES = "non_negative_values"
SCORES_IN_UNIT_INTERVAL = "scores_in_unit_interval"
ONE_SEGMENT_PER_CUSTOMER = "one_segment_per_customer"
COVERS_EVERY_CUSTOMER = "covers_every_customer"
FIVE_SEGMENTS_ADDING_UP = "five_segments_adding_up"

LTV_CONTRACTS = [
    Contract(CUSTOMER_LTV, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."),
    Contract(CUSTOMER_LTV, NON_NEGATIVE_VALUES, "lifetime_value and total_revenue are >= 0."),
]
ENGAGEMENT_CONTRACTS = [
    Contract(
        ENGAGEMENT_SCORES, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."
    ),
    Contract(ENGAGEMENT_SCORES, SCORES_IN_UNIT_INTERVAL, "engagement_score is in [0, 1]."),
]
SEGMENT_CONTRACTS = [
    Contract(
        CUSTOMER_SEGMENTS,
        ONE_SEGMENT_PER_CUSTOMER,
        "Each customer has exactly one of the five segments.",
    ),
    Contract(
        CUSTOMER_SEGMENTS,
        COVERS_EVERY_CUSTOMER,
        "Every customer of customer_ltv and engagement_scores is segmented.",
    ),
]
STRATEGY_CONTRACTS = [
    Contract(
        SEGMENT_STRATEGIES,
        FIVE_SEGMENTS_ADDING_UP,
        "All five segments are listed and their counts add up to the customers.",
    ),
]


# -- check outcomes -----------------------------------------------------------------------


def customer_ltv_outcomes(rel: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {
        ONE_ROW_PER_CUSTOMER: unique_check(rel, ["customer_id"]),
        NON_NEGATIVE_VALUES: per_date(
            rel,
            "lifetime_value < 0 OR total_revenue < 0 OR lifetime_value IS NULL OR isnan(lifetime_value)",
            "with a negative or missing lifetime_value or total_revenue",
        ),
    }


def engagement_score_outcomes(rel: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {
        ONE_ROW_PER_CUSTOMER: unique_check(rel, ["customer_id"]),
        SCORES_IN_UNIT_INTERVAL: range_check(rel, "engagement_score", 0.0, 1.0, allow_null=False),
    }


def customer_segment_outcomes(
    segments: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    inputs: Mapping[str, duckdb.DuckDBPyRelation],
    *_: object,
) -> dict[str, DateOutcomes]:
    """One known segment per customer, and as many customers as LTV and engagement have."""
    unique = unique_check(segments, ["customer_id"])
    member = membership_check(segments, "segment", SEGMENT_SET, "five segments")
    one = first_failure(unique, member)
    customers = (
        inputs[CUSTOMER_LTV]
        .project("snapshot_date, customer_id")
        .union(inputs[ENGAGEMENT_SCORES].project("snapshot_date, customer_id"))
    )
    covers = coverage_check(con, segments, customers.distinct(), "customers segmented")
    return {ONE_SEGMENT_PER_CUSTOMER: one, COVERS_EVERY_CUSTOMER: covers}


def segment_strategy_outcomes(
    strategies: duckdb.DuckDBPyRelation,
    _con: duckdb.DuckDBPyConnection,
    inputs: Mapping[str, duckdb.DuckDBPyRelation],
    *_: object,
) -> dict[str, DateOutcomes]:
    customers = dict(
        inputs[CUSTOMER_SEGMENTS]
        .aggregate("CAST(CAST(snapshot_date AS DATE) AS VARCHAR), count(*)", "snapshot_date")
        .fetchall()
    )
    rows = strategies.aggregate(
        "CAST(CAST(snapshot_date AS DATE) AS VARCHAR) AS d, count(DISTINCT segment), "
        "sum(customer_count)",
        "snapshot_date",
    ).fetchall()
    return {
        FIVE_SEGMENTS_ADDING_UP: {
            d: CheckOutcome(
                segs == len(SegmentTier) and n == customers.get(d, 0),
                f"{segs} segments adding up to {n} of {customers.get(d, 0)} customers",
                {"segments": int(segs), "customers": int(n)},
            )
            for d, segs, n in rows
        }
    }


def build_customer_analytics_assets(config: Config, common: dict) -> list[dg.AssetsDefinition]:
    def asset(name, contracts, outcomes, **kwargs) -> dg.AssetsDefinition:
        return snapshot_asset(
            STAGE_BY_NAME[name], GROUP, contracts, outcomes, config, common, __file__, **kwargs
        )

    return [
        asset(CUSTOMER_LTV, LTV_CONTRACTS, customer_ltv_outcomes),
        asset(ENGAGEMENT_SCORES, ENGAGEMENT_CONTRACTS, engagement_score_outcomes),
        asset(CUSTOMER_SEGMENTS, SEGMENT_CONTRACTS, customer_segment_outcomes),
        asset(
            SEGMENT_STRATEGIES,
            STRATEGY_CONTRACTS,
            segment_strategy_outcomes,
            preview_order="segment_rank",
        ),
    ]
