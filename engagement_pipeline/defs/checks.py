"""Asset check specs and their evaluation: data contracts from engagement_pipeline.quality."""

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import dagster as dg

from engagement_pipeline.quality import CheckOutcome


@dataclass(frozen=True)
class Contract:
    """One check on one asset: blocking checks stop downstream assets when they fail."""

    asset: str
    name: str
    description: str
    blocking: bool = True


RAW_EVENT_CONTRACTS = [
    Contract("raw_engagement_events", "schema", "Canonical columns are present with their types."),
    Contract(
        "raw_engagement_events",
        "keys_not_null",
        "event_id, customer_id, touchpoint and event_timestamp are never null.",
    ),
    Contract("raw_engagement_events", "unique_event_ids", "No event id appears twice in a day."),
    Contract(
        "raw_engagement_events",
        "timestamps_in_partition",
        "Every event is dated on its partition's day.",
    ),
    Contract("raw_engagement_events", "known_touchpoints", "Every touchpoint is one of the seven."),
    Contract(
        "raw_engagement_events", "scores_in_unit_interval", "engagement_score is null or in [0, 1]."
    ),
    Contract(
        "raw_engagement_events",
        "row_count_near_trailing_mean",
        "A day's event count is within 0.5x..2x of the previous 28 days' mean.",
        blocking=False,
    ),
    Contract(
        "raw_engagement_events",
        "quarantine_share",
        "A day's quarantined share stays under 5%, or under twice the previous 28 days' share.",
        blocking=False,
    ),
]
RAW_PURCHASE_CONTRACTS = [
    Contract("raw_purchases", "schema", "Canonical columns are present with their types."),
    Contract(
        "raw_purchases",
        "keys_not_null",
        "order_id, customer_id, purchase_timestamp and amount are never null.",
    ),
    Contract("raw_purchases", "unique_order_ids", "No order id appears twice in a day."),
    Contract(
        "raw_purchases", "timestamps_in_partition", "Every order is dated on its partition's day."
    ),
    Contract(
        "raw_purchases",
        "positive_amounts",
        "Every amount is > 0 (refunds are quarantined, never mixed in).",
    ),
    Contract(
        "raw_purchases",
        "row_count_near_trailing_mean",
        "A day's order count is within 0.5x..2x of the previous 28 days' mean.",
        blocking=False,
    ),
    Contract(
        "raw_purchases",
        "quarantine_share",
        "A day's quarantined share stays under 5%, or under twice the previous 28 days' share.",
        blocking=False,
    ),
]
QUARANTINE_CONTRACTS = {
    name: [
        Contract(
            name,
            "explained_rows",
            "Every quarantined row has its source file, row and a known reason code.",
        )
    ]
    for name in ("quarantined_engagement_events", "quarantined_purchases")
}
CLV_CONTRACTS = [
    Contract(
        "customer_clv", "one_row_per_customer", "Each purchaser appears once per snapshot date."
    ),
    Contract(
        "customer_clv",
        "model_fitted",
        "Both models were fitted and converged; otherwise predictions are empty and the reason is given.",
        blocking=False,
    ),
    Contract(
        "clv_model_parameters",
        "valid_parameters",
        "Converged fits have positive, finite parameters and a finite log-likelihood.",
    ),
]
SNAPSHOT_CONTRACTS = {
    "customer_ltv": [
        Contract(
            "customer_ltv", "one_row_per_customer", "Each customer appears once per snapshot date."
        ),
        Contract(
            "customer_ltv", "non_negative_values", "lifetime_value and total_revenue are >= 0."
        ),
    ],
    "engagement_scores": [
        Contract(
            "engagement_scores",
            "one_row_per_customer",
            "Each customer appears once per snapshot date.",
        ),
        Contract("engagement_scores", "scores_in_unit_interval", "engagement_score is in [0, 1]."),
    ],
    "customer_segments": [
        Contract(
            "customer_segments",
            "one_segment_per_customer",
            "Each customer has exactly one of the five segments.",
        ),
        Contract(
            "customer_segments",
            "covers_every_customer",
            "Every customer of customer_ltv and engagement_scores is segmented.",
        ),
    ],
    "segment_strategies": [
        Contract(
            "segment_strategies",
            "five_segments_adding_up",
            "All five segments are listed and their counts add up to the customers.",
        ),
    ],
    "engagement_report": [
        Contract(
            "engagement_report",
            "report_complete",
            "The Markdown and JSON reports exist, parse and hold every section.",
        ),
    ],
}


def check_specs(
    contracts: Iterable[Contract], partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    with warnings.catch_warnings():
        # Partitioned check specs are a preview feature; they attach results to the partition.
        warnings.simplefilter("ignore")
        return [
            dg.AssetCheckSpec(
                c.name,
                asset=c.asset,
                description=c.description,
                blocking=c.blocking,
                partitions_def=partitions_def,
            )
            for c in contracts
        ]


def check_results(
    contracts: Iterable[Contract], outcomes: dict[str, CheckOutcome]
) -> Iterator[dg.AssetCheckResult]:
    """One result per contract; non-blocking contracts fail as warnings."""
    for c in contracts:
        outcome = outcomes[c.name]
        yield dg.AssetCheckResult(
            asset_key=c.asset,
            check_name=c.name,
            passed=outcome.passed,
            description=outcome.description,
            metadata=outcome.metadata,
            severity=dg.AssetCheckSeverity.ERROR if c.blocking else dg.AssetCheckSeverity.WARN,
        )
