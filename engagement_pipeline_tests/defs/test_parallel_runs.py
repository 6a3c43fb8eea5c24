"""A backfill's ingestion days run as parallel Dagster runs, each in a process of its own
(its steps in that process: the in-process executor), each writing only its own days; the
snapshots follow in date order. Four runs at once, recorded in a persistent instance."""

import csv
import datetime as dt
from collections import Counter

import dagster as dg
import yaml

from engagement_pipeline.cli import main
from engagement_pipeline.config import deep_merge, load_config
from engagement_pipeline.defs.jobs import INGESTION_JOB, SNAPSHOT_JOB
from engagement_pipeline.defs.runs import RANGE_END_TAG, RANGE_START_TAG, quarantine_line
from engagement_pipeline.lake import Lake
from engagement_pipeline.sample_data import generate
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import base_config

# four runs of two days each: the fewest that show four at once and their order
FIRST, DAYS, PER_RUN = dt.date(2025, 1, 1), 8, 2


def test_ingestion_runs_four_at_once_then_snapshots_in_date_order(tmp_path, monkeypatch, capsys):
    counts = generate(tmp_path / "src", 200, FIRST, DAYS, seed=3)
    # two bad rows, on days of different runs: one without a customer, one of an unknown
    # touchpoint (each copies a good row of its day)
    events = tmp_path / "src" / "engagement_events.csv"
    with events.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    first_day = next(r for r in rows if r["timestamp"].startswith("2025-01-02"))
    last_day = next(r for r in rows if r["timestamp"].startswith("2025-01-07"))
    bad = [
        {**first_day, "event_id": "bad-1", "customer_id": ""},
        {**last_day, "event_id": "bad-2", "touchpoint": "fax"},
    ]
    with events.open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n").writerows(bad)
    counts["engagement_events"] += len(bad)
    last = FIRST + dt.timedelta(days=DAYS - 1)
    config = deep_merge(
        base_config(FIRST.isoformat(), last.isoformat()),
        {
            "snapshots": {"max_days_per_run": PER_RUN},
            "engagement_data": {"file_path": "src/engagement_events.csv"},
            "purchase_data": {"file_path": "src/purchases.csv"},
        },
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    assert main(["--config", str(path), "run", "--parallel", "4"]) == 0
    out = capsys.readouterr().out
    assert f"Ingesting {FIRST} .. {last} ({path}) in 4 runs, up to 4 at once" in out
    assert out.count("  ingested ") == 4 and f"Report for {last}:" in out

    instance = dg.DagsterInstance.get()
    ingest = instance.get_run_records(dg.RunsFilter(job_name=INGESTION_JOB))
    assert len(ingest) == 4
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in ingest)
    # the four were running at the same time: each started before any of them ended
    assert max(r.start_time for r in ingest) < min(r.end_time for r in ingest)
    starts = [FIRST + dt.timedelta(days=d) for d in range(0, DAYS, PER_RUN)]
    expected_ranges = {
        (d.isoformat(), (d + dt.timedelta(days=PER_RUN - 1)).isoformat()) for d in starts
    }
    ranges = set()
    for record in ingest:
        tags = record.dagster_run.tags
        first, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        ranges.add((first, end))
        # each run wrote only its own days
        written = {
            e.event_log_entry.dagster_event.partition
            for e in instance.get_records_for_run(
                record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
        }
        assert written == {
            (dt.date.fromisoformat(first) + dt.timedelta(days=i)).isoformat()
            for i in range(PER_RUN)
        }
    assert ranges == expected_ranges
    # each run's steps ran in the run's own process: no step worker was started for them
    for record in ingest:
        workers = instance.get_records_for_run(
            record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED
        ).records
        assert workers == []
    # and every source row is accounted for: loaded or quarantined, each exactly once
    lake, con = Lake(load_config(path).lake_dir), new_connection()
    keys = [(FIRST + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    loaded = lake.read(con, "raw_engagement_events", keys).aggregate("count(*)").fetchall()[0][0]
    rejected = lake.read(con, "quarantined_engagement_events", keys)
    rejected = rejected.aggregate("count(*)").fetchall()[0][0]
    assert loaded + rejected == counts["engagement_events"]
    # the four runs' quarantine, added up, is what the command's last lines report
    quarantined = Counter()
    for asset in ("quarantined_engagement_events", "quarantined_purchases"):
        rows = lake.read(con, asset, keys).aggregate("reason, count(*)", "reason").fetchall()
        quarantined.update({(asset, reason): n for reason, n in rows})
    assert quarantined[("quarantined_engagement_events", "missing_customer_id")] == 1
    assert quarantined[("quarantined_engagement_events", "unknown_touchpoint")] == 1
    assert quarantine_line(quarantined) in out
    # the snapshots ran after, in date order (each builds on the previous date)
    snapshots = sorted(
        instance.get_run_records(dg.RunsFilter(job_name=SNAPSHOT_JOB)),
        key=lambda r: r.dagster_run.tags[RANGE_START_TAG],
    )
    assert [r.dagster_run.tags[RANGE_START_TAG] for r in snapshots] == [
        d.isoformat() for d in starts
    ]
    assert all(s.start_time >= max(r.end_time for r in ingest) for s in snapshots)
    assert [s.start_time for s in snapshots] == sorted(s.start_time for s in snapshots)
    assert lake.existing_keys("customer_segments") == set(keys)


def test_parallel_without_a_persistent_instance_says_what_to_do(
    make_project, monkeypatch, capsys, tmp_path
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # away from the project's .env and its DAGSTER_HOME
    path = make_project(end="2025-01-02")
    assert main(["--config", str(path), "run", "--parallel", "2"]) == 2
    err = capsys.readouterr().err
    assert "set DAGSTER_HOME to a folder" in err and "Traceback" not in err
    assert not (path.parent / "lake" / "raw_engagement_events").exists()  # nothing ran
