"""Asset checks whose results belong to partitions: specs from contracts, one evaluation per date.

A run may build one snapshot date or a range of them. Either way every date gets its own
check evaluation, attached to its partition, so the Checks tab shows Passed or Failed per
date. Blocking contracts that fail on any date fail the step (Dagster stops downstream).
"""

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)

from engagement_pipeline.quality import CheckOutcome, DateOutcomes


@dataclass(frozen=True)
class Contract:
    """One check on one asset: blocking checks stop downstream assets when they fail."""

    asset: str
    name: str
    description: str
    blocking: bool = True
    # other assets' partitions the check reads (shown in lineage), e.g. earlier days
    reads: tuple[dg.AssetDep, ...] = ()


def check_specs(
    contracts: Iterable[Contract], partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    with warnings.catch_warnings():
        # Partitioned check specs are a preview feature; they are what attaches a result to
        # its date. Only that warning is silenced.
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*AssetCheckSpec")
        return [
            dg.AssetCheckSpec(
                c.name,
                asset=c.asset,
                description=c.description,
                blocking=c.blocking,
                partitions_def=partitions_def,
                additional_deps=c.reads,
            )
            for c in contracts
        ]


def _materializations(
    context: dg.AssetExecutionContext, asset: str, keys: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The latest materialization of each partition: what each evaluation is about."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=list(keys)),
        limit=len(keys),
    ).records
    return {
        r.partition_key: AssetCheckEvaluationTargetMaterializationData(
            run_id=r.run_id, storage_id=r.storage_id, timestamp=r.timestamp
        )
        for r in records
        if r.partition_key is not None
    }


def check_evaluations(
    context: dg.OpExecutionContext,
    contract: Contract,
    outcome: CheckOutcome | DateOutcomes,
    keys: Sequence[str],
    targets: Mapping[str, AssetCheckEvaluationTargetMaterializationData] | None = None,
) -> Iterator[AssetCheckEvaluation]:
    """One contract's outcome on each date, as evaluations of that date's partition.

    An outcome is one CheckOutcome (the same for every date, e.g. the schema) or one per
    date; a date without an outcome had no rows to check and passes."""
    if targets is None:
        targets = _materializations(context, contract.asset, keys)
    for key in keys:
        found = outcome if isinstance(outcome, CheckOutcome) else outcome.get(key)
        found = found or CheckOutcome(True, "no rows on this date", {"rows_checked": 0})
        yield AssetCheckEvaluation(
            asset_key=dg.AssetKey(contract.asset),
            check_name=contract.name,
            passed=found.passed,
            metadata=found.metadata,
            target_materialization_data=targets.get(key),
            severity=dg.AssetCheckSeverity.ERROR
            if contract.blocking
            else dg.AssetCheckSeverity.WARN,
            description=found.description,
            blocking=contract.blocking,
            partition=key,
        )


def partition_check_results(
    context: dg.AssetExecutionContext,
    contracts: Iterable[Contract],
    outcomes: Mapping[str, CheckOutcome | DateOutcomes],
    keys: Sequence[str],
) -> Iterator[dg.Output | AssetCheckEvaluation]:
    """Each contract's outcome on each date of the run, as evaluations of that partition
    (see check_evaluations). Yield after the asset's Output, so each evaluation points at
    the materialization it checked."""
    targets: dict[str, dict] = {}
    for c in contracts:
        if c.asset not in targets:
            targets[c.asset] = _materializations(context, c.asset, keys)
        check_key = dg.AssetCheckKey(dg.AssetKey(c.asset), c.name)
        # the check's output: it lets Dagster know the check ran in this step
        yield dg.Output(
            None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key)
        )
        yield from check_evaluations(context, c, outcomes[c.name], keys, targets[c.asset])
