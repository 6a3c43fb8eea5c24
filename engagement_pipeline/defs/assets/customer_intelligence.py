"""Customer intelligence: RFM, lifecycle and value, trends, risk, next-best actions and
alerts per customer and date, with their checks. Each asset, its check specs and the
functions computing those checks read together here."""

from collections.abc import Mapping

import dagster as dg
import duckdb

from engagement_pipeline.config import LIFECYCLE_STAGES, RISK_LEVELS, VALUE_SEGMENTS, Config
from engagement_pipeline.defs.assets.snapshots import snapshot_asset
from engagement_pipeline.defs.checks import Contract
from engagement_pipeline.quality import (
    DateOutcomes,
    coverage_check,
    first_failure,
    membership_check,
    per_date,
    unique_check,
)
from engagement_pipeline.sql import values_sql
from engagement_pipeline.stages import (
    CUSTOMER_ALERTS,
    CUSTOMER_LIFECYCLE,
    CUSTOMER_LTV,
    CUSTOMER_RFM,
    CUSTOMER_RISK,
    CUSTOMER_SEGMENTS,
    CUSTOMER_TRENDS,
    NEXT_BEST_ACTIONS,
    STAGE_BY_NAME,
)

GROUP = "customer_intelligence"

ONE_ROW_PER_CUSTOMER = "one_row_per_customer"
ONE_SEGMENT_PER_CUSTOMER = "one_segment_per_customer"
SCORES_FROM_1_TO_5 = "scores_from_1_to_5"
COVERS_EVERY_PURCHASER = "covers_every_purchasing_customer"
COVERS_EVERY_CUSTOMER = "covers_every_customer"
KNOWN_STAGE_AND_VALUE = "known_stage_and_value_segment"
WINDOWS_NOT_NEGATIVE = "windows_not_negative"
SCORE_FROM_0_TO_100 = "score_from_0_to_100"
CONTRIBUTIONS_ADD_UP = "contributions_add_up"
ONE_ACTION_PER_CUSTOMER = "one_action_per_customer"
EXPLAINED = "every_row_explained"
ONE_ALERT_PER_CUSTOMER = "one_alert_per_customer"


RFM_CONTRACTS = [
    Contract(CUSTOMER_RFM, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."),
    Contract(
        CUSTOMER_RFM,
        ONE_SEGMENT_PER_CUSTOMER,
        "Each customer is in exactly one of the configured RFM segments.",
    ),
    Contract(CUSTOMER_RFM, SCORES_FROM_1_TO_5, "r_score, f_score and m_score are 1 to 5."),
    Contract(
        CUSTOMER_RFM,
        COVERS_EVERY_PURCHASER,
        "Every customer of customer_ltv with a purchase has RFM scores.",
    ),
]
LIFECYCLE_CONTRACTS = [
    Contract(
        CUSTOMER_LIFECYCLE, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."
    ),
    Contract(
        CUSTOMER_LIFECYCLE,
        KNOWN_STAGE_AND_VALUE,
        "Each customer has one of the five lifecycle stages and one of the three value segments.",
    ),
    Contract(
        CUSTOMER_LIFECYCLE,
        COVERS_EVERY_CUSTOMER,
        "Every customer of customer_segments has a stage.",
    ),
]
TRENDS_CONTRACTS = [
    Contract(
        CUSTOMER_TRENDS, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."
    ),
    Contract(
        CUSTOMER_TRENDS,
        WINDOWS_NOT_NEGATIVE,
        "No window holds a negative count or spend (a window is a difference of running totals).",
    ),
]
RISK_CONTRACTS = [
    Contract(CUSTOMER_RISK, ONE_ROW_PER_CUSTOMER, "Each customer appears once per snapshot date."),
    Contract(
        CUSTOMER_RISK,
        SCORE_FROM_0_TO_100,
        "risk_score is in [0, 100], every signal in [0, 1] and the level is known.",
    ),
    Contract(
        CUSTOMER_RISK,
        CONTRIBUTIONS_ADD_UP,
        "The signals' contributions add up to the risk score.",
    ),
]
ACTION_CONTRACTS = [
    Contract(
        NEXT_BEST_ACTIONS,
        ONE_ACTION_PER_CUSTOMER,
        "Each customer has exactly one action, one of the configured rules.",
    ),
    Contract(
        NEXT_BEST_ACTIONS,
        COVERS_EVERY_CUSTOMER,
        "Every customer of customer_lifecycle has an action.",
    ),
    Contract(
        NEXT_BEST_ACTIONS,
        EXPLAINED,
        "Every action has its explanation, cost and expected return.",
    ),
]
ALERT_CONTRACTS = [
    Contract(
        CUSTOMER_ALERTS, ONE_ALERT_PER_CUSTOMER, "A customer is alerted at most once per date."
    ),
    Contract(CUSTOMER_ALERTS, EXPLAINED, "Every alert has its explanation."),
]


# -- check outcomes -----------------------------------------------------------------------

Inputs = Mapping[str, duckdb.DuckDBPyRelation]


def rfm_outcomes(
    rfm: duckdb.DuckDBPyRelation, con: duckdb.DuckDBPyConnection, inputs: Inputs, config: Config
) -> dict[str, DateOutcomes]:
    unique = unique_check(rfm, ["customer_id"])
    member = membership_check(
        rfm, "rfm_segment", values_sql(config.rfm.segment_names()), "configured RFM segments"
    )
    scores = per_date(
        rfm,
        " OR ".join(
            f"{c} IS NULL OR {c} NOT BETWEEN 1 AND 5" for c in ("r_score", "f_score", "m_score")
        ),
        "with a score outside 1..5",
    )
    purchasers = inputs[CUSTOMER_LTV].filter("purchase_count > 0")
    return {
        ONE_ROW_PER_CUSTOMER: unique,
        ONE_SEGMENT_PER_CUSTOMER: member,
        SCORES_FROM_1_TO_5: scores,
        COVERS_EVERY_PURCHASER: coverage_check(con, rfm, purchasers, "purchasing customers scored"),
    }


def lifecycle_outcomes(
    lifecycle: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    inputs: Inputs,
    _config: Config,
) -> dict[str, DateOutcomes]:
    known = per_date(
        lifecycle,
        f"lifecycle_stage IS NULL OR lifecycle_stage NOT IN {values_sql(LIFECYCLE_STAGES)} "
        f"OR value_segment IS NULL OR value_segment NOT IN {values_sql(VALUE_SEGMENTS)}",
        "with an unknown lifecycle stage or value segment",
    )
    return {
        ONE_ROW_PER_CUSTOMER: unique_check(lifecycle, ["customer_id"]),
        KNOWN_STAGE_AND_VALUE: known,
        COVERS_EVERY_CUSTOMER: coverage_check(
            con, lifecycle, inputs[CUSTOMER_SEGMENTS], "customers staged"
        ),
    }


def trends_outcomes(trends: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    windows = [
        f"{w}_{m}"
        for m in ("events", "purchases", "spend", "support_contacts")
        for w in ("recent", "previous")
    ]
    return {
        ONE_ROW_PER_CUSTOMER: unique_check(trends, ["customer_id"]),
        WINDOWS_NOT_NEGATIVE: per_date(
            trends,
            " OR ".join(f"{c} < 0 OR {c} IS NULL" for c in windows),
            "with a negative or missing window figure",
        ),
    }


def risk_outcomes(risk: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    signals = [c for c in risk.columns if c.endswith("_signal")]
    contributions = [
        c for c in risk.columns if c.startswith("contribution_") and not c[-1].isdigit()
    ]
    out_of_range = " OR ".join(
        [
            "risk_score IS NULL OR risk_score < 0 OR risk_score > 100 OR isnan(risk_score)",
            f"risk_level IS NULL OR risk_level NOT IN {values_sql(RISK_LEVELS)}",
            *(f"{s} < 0 OR {s} > 1" for s in signals),
        ]
    )
    total = " + ".join(f"coalesce({c}, 0)" for c in contributions)
    return {
        ONE_ROW_PER_CUSTOMER: unique_check(risk, ["customer_id"]),
        SCORE_FROM_0_TO_100: per_date(
            risk, out_of_range, "with a score, signal or level out of range"
        ),
        CONTRIBUTIONS_ADD_UP: per_date(
            risk, f"abs(({total}) - risk_score) > 1e-6", "whose contributions do not add up"
        ),
    }


def action_outcomes(
    actions: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    inputs: Inputs,
    config: Config,
) -> dict[str, DateOutcomes]:
    unique = unique_check(actions, ["customer_id"])
    member = membership_check(
        actions, "action", values_sql(r.name for r in config.actions.rules), "configured actions"
    )
    return {
        ONE_ACTION_PER_CUSTOMER: first_failure(unique, member),
        COVERS_EVERY_CUSTOMER: coverage_check(
            con, actions, inputs[CUSTOMER_LIFECYCLE], "customers with an action"
        ),
        EXPLAINED: per_date(
            actions,
            "explanation IS NULL OR explanation = '' OR cost IS NULL OR expected_return IS NULL",
            "without an explanation, cost or expected return",
        ),
    }


def alert_outcomes(alerts: duckdb.DuckDBPyRelation, *_: object) -> dict[str, DateOutcomes]:
    return {
        ONE_ALERT_PER_CUSTOMER: unique_check(alerts, ["customer_id"]),
        EXPLAINED: per_date(
            alerts, "explanation IS NULL OR explanation = ''", "without an explanation"
        ),
    }


def build_customer_intelligence_assets(config: Config, common: dict) -> list[dg.AssetsDefinition]:
    def asset(name, contracts, outcomes, **kwargs) -> dg.AssetsDefinition:
        return snapshot_asset(
            STAGE_BY_NAME[name], GROUP, contracts, outcomes, config, common, __file__, **kwargs
        )

    return [
        asset(CUSTOMER_RFM, RFM_CONTRACTS, rfm_outcomes),
        asset(CUSTOMER_LIFECYCLE, LIFECYCLE_CONTRACTS, lifecycle_outcomes),
        asset(CUSTOMER_TRENDS, TRENDS_CONTRACTS, trends_outcomes),
        asset(CUSTOMER_RISK, RISK_CONTRACTS, risk_outcomes, preview_order="risk_score DESC"),
        asset(
            NEXT_BEST_ACTIONS, ACTION_CONTRACTS, action_outcomes, preview_order="risk_score DESC"
        ),
        asset(CUSTOMER_ALERTS, ALERT_CONTRACTS, alert_outcomes, preview_order="risk_score DESC"),
    ]
