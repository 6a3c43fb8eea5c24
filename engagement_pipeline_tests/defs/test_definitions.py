"""The shape of the Dagster definitions: a snapshot that makes any change to the graph show
up in review, and what a backfill of a few days really targets."""

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.asset_backfill import AssetBackfillData

from engagement_pipeline.defs.build import build_definitions

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("definitions_snapshot.txt")


def _mapping(graph, child: dg.AssetKey, parent: dg.AssetKey) -> str:
    mapping = graph.get_partition_mapping(child, parent)
    if isinstance(mapping, dg.TimeWindowPartitionMapping):
        return f"days {mapping.start_offset}..{mapping.end_offset}"
    return type(mapping).__name__


def describe(defs: dg.Definitions) -> str:
    """Every asset (group, kinds, owners, tags, code version, partitions, inputs with their
    partition mapping), every check, job and schedule, as sorted lines."""
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        spec = node.assets_def.specs_by_key[key]
        partitions = node.partitions_def
        lines.append(
            f"asset {key.to_user_string()}: group={node.group_name} "
            f"kinds={sorted(spec.kinds)} owners={list(spec.owners)} "
            f"tags={dict(sorted((k, v) for k, v in spec.tags.items() if not k.startswith('dagster/kind')))} "
            f"code_version={node.code_version} "
            f"partitions={type(partitions).__name__}({partitions.start.date()}..) "
            f"backfill={node.backfill_policy}"
        )
        for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string()):
            lines.append(f"  <- {parent.to_user_string()} [{_mapping(graph, key, parent)}]")
    for check in sorted(graph.asset_check_keys, key=lambda c: c.to_user_string()):
        spec = graph.get_check_spec(check)
        reads = sorted(d.asset_key.to_user_string() for d in spec.additional_deps)
        lines.append(f"check {check.to_user_string()}: blocking={spec.blocking} reads={reads}")
    for job in defs.jobs:
        executor = defs.resolve_job_def(job.name).executor_def.name
        lines.append(f"job {job.name}: executor={executor}")
    for schedule in defs.schedules:
        lines.append(
            f"schedule {schedule.name}: {schedule.cron_schedule} {schedule.execution_timezone}"
        )
    for sensor in defs.sensors:
        lines.append(f"sensor {sensor.name}: {sensor.default_status.value}")
    return "\n".join(lines) + "\n"


def test_definitions_match_the_reviewed_snapshot():
    """Set UPDATE_DEFINITIONS_SNAPSHOT=1 to rewrite the file after a deliberate change."""
    text = describe(build_definitions(ROOT / "config.yaml"))
    if os.environ.get("UPDATE_DEFINITIONS_SNAPSHOT"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_every_asset_has_a_description_owner_code_version_and_source_link():
    graph = build_definitions(ROOT / "config.yaml").resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        spec = node.assets_def.specs_by_key[key]
        assert spec.description and spec.owners and node.code_version, key
        (reference,) = spec.metadata["dagster/code_references"].code_references
        assert Path(reference.file_path).is_file(), key


# Dagster's own backfill code calls a deprecated selection method; not ours to change.
@pytest.mark.filterwarnings("ignore:Function `AssetSelection.sources` is deprecated")
def test_a_backfill_of_three_days_targets_those_three_days(tmp_path):
    """What the launch dialog previews is what runs: a snapshot depends on its raw day and
    on its own earlier rows, so three days of every asset are three days of snapshots."""
    defs = build_definitions(ROOT / "config.yaml")
    graph = defs.resolve_asset_graph()
    days = ["2025-04-01", "2025-04-02", "2025-04-03"]
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        backfill = AssetBackfillData.from_asset_partitions(
            asset_graph=graph,
            partition_names=days,
            asset_selection=list(graph.get_all_asset_keys()),
            dynamic_partitions_store=instance,
            backfill_start_timestamp=dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc).timestamp(),
            all_partitions=False,
        )
    target = backfill.target_subset
    for key in graph.get_all_asset_keys():
        assert sorted(target.get_partitions_subset(key).get_partition_keys()) == days, key
    # one backfill policy for every asset: the launch has no reason to warn of varying ones
    assert len({str(graph.get(k).backfill_policy) for k in graph.get_all_asset_keys()}) == 1
