"""Spark (local mode) against DuckDB on the same machine, stage by stage.

Reads the raw partitions of the snapshot benchmark's lake (run snapshot_benchmark.py
--phases generate,ingest first) and computes every snapshot stage for one date from the
whole year's raw rows (no earlier state: the full path, so each engine processes every
raw row once), each stage's result computed once and kept for the stages that read it.
Each engine runs in its own process; the same process also times a bare per-customer
GROUP BY over the same raw Parquet on that engine (the floor), so the figures say where
each engine's time goes and how far above its own floor it is.

    .venv/bin/python benchmarks/engine_benchmark.py --customers 100000
    .venv/bin/python benchmarks/engine_benchmark.py --customers 1000000 --spark-memory 12g

Prints one JSON line per engine (stage seconds and rows, session start, bare GROUP BY,
total, peak memory of the process; Spark's JVM is a child of it: its peak is the
children's) and a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2025, 1, 1)
BARE = {
    "events": "SELECT count(*) FROM (SELECT customer_id, count(*), max(event_timestamp), "
    "count(*) FILTER (WHERE touchpoint = 'web') FROM events GROUP BY 1)",
    "purchases": "SELECT count(*) FROM (SELECT customer_id, count(*), sum(amount), "
    "max(purchase_timestamp) FROM purchases GROUP BY 1)",
}


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def _running_children_peak_mib() -> float:
    """Peak memory of this process's running children (Spark's JVM), from /proc (Linux):
    getrusage counts only children that have ended."""
    peak = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():  # the parent pid
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def run_engine(engine: str, folder: Path, day: dt.date, spark_memory: str) -> dict:
    """In a child process: every stage for `day` on `engine`, timed."""
    from engagement_pipeline.config import load_config
    from engagement_pipeline.engines.batches import computed_once
    from engagement_pipeline.lake import Lake
    from engagement_pipeline.stages import RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, STAGES

    config = load_config(folder / "config.yaml")
    lake = Lake(config.lake_dir)
    keys = [(START + dt.timedelta(days=i)).isoformat() for i in range((day - START).days + 1)]
    began = time.perf_counter()
    if engine == "spark":
        from engagement_pipeline.engines.spark import SparkConnection, spark_session
        from engagement_pipeline.engines.spark_lake import read_partitions

        session = spark_session(
            "local[2]",
            {"spark.driver.memory": spark_memory},
            log_file=Path("/tmp/engine_benchmark_spark.log"),
        )
        con = SparkConnection(session)

        def read(asset):
            return read_partitions(con, lake, asset, keys)

        def count(relation) -> int:
            return relation.frame.count()
    else:
        from engagement_pipeline.lake import connection

        con = connection()

        def read(asset):
            return lake.read(con, asset, keys)

        def count(relation) -> int:
            return relation.aggregate("count(*)").fetchall()[0][0]

    started = time.perf_counter() - began
    relations = {
        RAW_ENGAGEMENT_EVENTS: read(RAW_ENGAGEMENT_EVENTS),
        RAW_PURCHASES: read(RAW_PURCHASES),
    }
    raw_rows = {name: count(rel) for name, rel in relations.items()}

    t0 = time.perf_counter()
    events, purchases = relations[RAW_ENGAGEMENT_EVENTS], relations[RAW_PURCHASES]  # noqa: F841
    bare = [con.sql(BARE["events"]).fetchall(), con.sql(BARE["purchases"]).fetchall()]
    bare_seconds = time.perf_counter() - t0
    assert bare[0][0][0] > 0

    stages = {}
    for stage in STAGES:
        t0 = time.perf_counter()
        rows = stage.compute(con, {n: relations[n] for n in stage.inputs}, [day], config, None)
        relations[stage.name] = computed_once(con, rows, f"bench_{stage.name}")
        stages[stage.name] = {
            "seconds": round(time.perf_counter() - t0, 2),
            "rows": count(relations[stage.name]),
        }
    total = sum(s["seconds"] for s in stages.values())
    return {
        "engine": engine,
        "customers": int(folder.name),
        "date": day.isoformat(),
        "raw_rows": raw_rows,
        "session_start_seconds": round(started, 2),
        "bare_group_by_seconds": round(bare_seconds, 2),
        "stages_seconds": round(total, 2),
        "stages_over_bare": round(total / bare_seconds, 1),
        "peak_mib_python": round(_peak_mib(resource.RUSAGE_SELF)),
        "peak_mib_children": round(
            max(_peak_mib(resource.RUSAGE_CHILDREN), _running_children_peak_mib())
        ),
        "stages": stages,
    }


def _child(engine: str, folder: str, day: str, spark_memory: str, queue) -> None:
    queue.put(run_engine(engine, Path(folder), dt.date.fromisoformat(day), spark_memory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--date", default="2025-12-31")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-memory", default="8g", help="spark.driver.memory (local mode)")
    args = parser.parse_args()
    folder = ROOT / "data" / "benchmark" / str(args.customers)
    context = multiprocessing.get_context("spawn")
    results = []
    for engine in args.engines.split(","):
        queue = context.Queue()
        child = context.Process(
            target=_child, args=(engine, str(folder), args.date, args.spark_memory, queue)
        )
        child.start()
        result = queue.get()
        child.join()
        print(json.dumps(result), flush=True)
        results.append(result)
    names = list(results[0]["stages"])
    print(f"\n| stage | rows | {' | '.join(r['engine'] for r in results)} |")
    print("|---|---:|" + "---:|" * len(results))
    for name in names:
        cells = " | ".join(f"{r['stages'][name]['seconds']:.2f} s" for r in results)
        print(f"| {name} | {results[0]['stages'][name]['rows']:,} | {cells} |")
    for key in ("stages_seconds", "bare_group_by_seconds", "session_start_seconds"):
        print(f"| {key} | | " + " | ".join(str(r[key]) for r in results) + " |")


if __name__ == "__main__":
    main()
