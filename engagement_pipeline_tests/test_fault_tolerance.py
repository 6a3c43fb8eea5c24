"""Crashes, concurrent runs and re-runs never corrupt or lose what the lake holds."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.lake import Lake
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev, po
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES, read, run

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        **kwargs,
    )


KILL_DURING_WRITE = """
    import os, signal, sys
    import pandas as pd
    import engagement_pipeline.lake as lake_module
    from engagement_pipeline.lake import Lake
    from engagement_pipeline.sql import new_connection

    def die(*args, **kwargs):  # the new file is complete in staging: die before it replaces the old
        os.kill(os.getpid(), signal.SIGKILL)

    lake, con = Lake(sys.argv[1]), new_connection()
    frame = pd.DataFrame({"snapshot_date": pd.to_datetime(["2025-01-01"] * 1000).date, "v": range(1000)})
    if sys.argv[2] == "before_replace":
        lake_module.os.replace = die
    lake.write(con, "a", con.from_df(frame), ["2025-01-01"])
"""


def test_sigkill_before_replace_keeps_the_previous_partition(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    lake.write(
        con,
        "a",
        con.from_df(pd.DataFrame({"snapshot_date": pd.to_datetime(["2025-01-01"]).date, "v": [1]})),
        ["2025-01-01"],
    )
    killed = python(KILL_DURING_WRITE, str(tmp_path), "before_replace")
    assert killed.returncode == -signal.SIGKILL
    # the previous version is intact and readable; the dead writer's staging is left over
    assert lake.read(con, "a", ["2025-01-01"]).df()["v"].tolist() == [1]
    assert any((tmp_path / ".staging").iterdir())
    # the next run completes the partition and clears the dead writer's staging
    done = python(KILL_DURING_WRITE, str(tmp_path), "normal")
    assert done.returncode == 0, done.stderr
    assert lake.read(con, "a", ["2025-01-01"]).df()["v"].tolist() == list(range(1000))
    assert not any((tmp_path / ".staging").iterdir())


def test_sigkill_at_a_random_moment_of_a_run_never_leaves_a_broken_partition(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert run(path, "2025-01-01", "2025-01-05").success
    before = read(path, "customer_segments", "2025-01-05")
    lake = Lake(load_config(path).lake_dir)
    # kill a full re-run at several moments; every partition file stays readable and whole
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "engagement_pipeline.cli", "--config", str(path), "run"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        con = new_connection()
        for asset in ("raw_engagement_events", "customer_ltv", "customer_segments"):
            for key in sorted(lake.existing_keys(asset)):
                lake.read(con, asset, [key]).df()  # raises if a file were half-written
    pd.testing.assert_frame_equal(read(path, "customer_segments", "2025-01-05"), before)


CONCURRENT_RAW_RUN = """
    import sys
    import dagster as dg
    from engagement_pipeline.defs.build import build_definitions

    defs = build_definitions(sys.argv[1])
    raw = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0].startswith(("raw", "quarantined"))]
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(raw))
    result = job.execute_in_process(partition_key=sys.argv[2], raise_on_error=False)
    sys.exit(0 if result.success else 1)
"""


def test_two_processes_on_different_partitions_at_once(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CONCURRENT_RAW_RUN), str(path), day],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in ("2025-01-01", "2025-01-02", "2025-01-03")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outputs]
    for _, err in outputs:
        assert "lock" not in err.lower() or "not added now" in err
    lake = Lake(load_config(path).lake_dir)
    assert lake.existing_keys("raw_engagement_events") == {"2025-01-01", "2025-01-02", "2025-01-03"}
    assert lake.read(
        new_connection(), "raw_engagement_events", ["2025-01-01", "2025-01-02", "2025-01-03"]
    ).df()["event_id"].tolist() == ["e1", "e2", "e3"]


def test_rerun_gives_the_same_rows_and_the_same_bytes(make_project):
    # six more customers who buy on 2025-01-04 after one to six touches: that day's
    # conversions have six paths, which path_conversions must keep in its row order
    touches = [
        ev(f"x{n}{k}", f"buyer{n}", "web", f"2025-01-0{1 + k % 3} 0{k}:00")
        for n in range(1, 7)
        for k in range(n)
    ]
    orders = [po(f"x{n}", f"buyer{n}", "2025-01-04 12:00", "10.00") for n in range(1, 7)]
    path = make_project(EVENTS + touches, PURCHASES + orders, end="2025-01-05")
    assert run(path, "2025-01-01", "2025-01-05").success
    lake = Lake(load_config(path).lake_dir)
    assets = (
        "raw_engagement_events",
        "raw_purchases",
        "customer_ltv",
        "customer_segments",
        "segment_strategies",
        # sorted as they are written (row_order), not by their query
        "conversion_journeys",
        "path_conversions",
    )
    from_range = {a: read(path, a, "2025-01-05") for a in assets}
    paths = from_range["path_conversions"][["journey_day", "path"]]
    in_order = paths.sort_values(
        ["journey_day", "path"], key=lambda c: c.map(tuple) if c.name == "path" else c
    )
    assert len(paths) > 1 and paths.equals(in_order)
    assert run(path, "2025-01-05").success
    first = {a: lake.partition_file(a, "2025-01-05").read_bytes() for a in assets}
    assert run(path, "2025-01-05").success
    for asset in assets:
        # same rows in the same order as the range run wrote, and a byte-identical file on re-run
        pd.testing.assert_frame_equal(read(path, asset, "2025-01-05"), from_range[asset])
        assert lake.partition_file(asset, "2025-01-05").read_bytes() == first[asset], asset


@pytest.mark.parametrize(
    "weird", ['cust"id', "tp; DROP TABLE raw_purchases; --", "time stamp", "naïve 'quoted'"]
)
def test_config_names_are_never_pasted_into_sql(make_project, tmp_path, weird):
    header = ["event_id", weird, "touchpoint", "timestamp"]
    frame = pd.DataFrame(
        [["e1", "'); DROP TABLE x; --", "web", "2025-01-01 10:00"]], columns=header
    )
    folder = tmp_path / 'it\'s a "folder"; rm -rf'
    folder.mkdir()
    frame.to_csv(folder / "ev'ents.csv", index=False)
    path = make_project(
        [],
        PURCHASES,
        end="2025-01-05",
        engagement_data={
            "file_path": str(folder / "ev'ents.csv"),
            "customer_id_column": weird,
            "engagement_score_column": None,
        },
        storage={"lake_path": str(tmp_path / "lake 'with' \"quotes\""), "reports_path": "reports"},
    )
    assert run(path, "2025-01-01", "2025-01-05").success
    loaded = read(path, "raw_engagement_events", "2025-01-01")
    # the value is data, never code: it is stored as written
    assert loaded["customer_id"].tolist() == ["'); DROP TABLE x; --"]
    assert (
        "'); DROP TABLE x; --"
        in read(path, "customer_segments", "2025-01-05")["customer_id"].tolist()
    )
