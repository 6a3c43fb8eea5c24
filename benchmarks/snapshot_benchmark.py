"""Time ingestion and snapshots through Dagster at a given scale, against bare DuckDB passes.

Phases, each in a fresh process (so peak RSS is per phase):
  generate   the seeded synthetic data set (Parquet, or CSV with --format csv), once per scale;
             with --dirty, a copy of the Parquet set where about 1 row in 100 fails a
             check and 1 in 1,000 is exported twice (to time ingestion with rejects)
  bare_ingest  DuckDB alone: read the sources, write the same columns as day-partitioned Parquet
  bare_ingest_capped  the same under the pipeline's DuckDB memory cap (3 GB by default)
  ingest_engine  the ingestion assets' work (landing, validation, lake writes) without Dagster
  ingest     the raw assets for the whole year, in runs of DAYS_PER_RUN days (landing included)
  history    every snapshot asset and the report for every date but the last, in runs of
             snapshot_days_per_run() dates (a backfill of the year's snapshots, raw loaded)
  daily      the daily job for the last date: that day's raw ingest + every snapshot + report
  daily_launched  the same run launched as the UI's run worker launches it (`execute_job` on
             a job rebuilt from its code pointer, with the code location's own executor)
  daily_launched_multiprocess  the same with Dagster's default multiprocess executor (a
             process per step), what every UI run used until 2026-12-07
  snapshot   only the snapshot assets and the report for the last date, built from the
             previous date's snapshots (raw already in the lake)
  snapshot_core  the same without the customer-intelligence assets (the report reads their
             rows of the date that a `snapshot` phase wrote): `snapshot` against it is
             what those assets add
  snapshot_day30  the same for the 30th date (after history): the last date against it
  bare       DuckDB alone: per-customer GROUP BY over the same raw Parquet (the floor)
  bare_events  the same over the events alone (what the journeys group is measured against)
  state      without Dagster, every partition a daily run of the last date builds on (each
             snapshot asset's previous day, the day before each window, the training weeks
             of metric_anomalies; customer_ltv of the date), by the full computation from
             the raw history: what `snapshot` and `journeys` need, without the hour-long
             `history` at 1,000,000 customers
  journeys   the journeys group alone for the last date, through Dagster, from that state

Each phase reports `seconds` from the start of its process's work (imports included). The
Dagster snapshot phases also report `run_seconds`, the Dagster run alone (after importing
Dagster and the package, loading the definitions and opening the instance: a fixed cost
of about 1.5 s at any scale), and the bare phases `query_seconds`, their queries alone
(after importing DuckDB): the like-for-like pair. In the same way `ingest_engine` reports
`work_seconds`, its work after importing the package, beside `bare_ingest`'s
`query_seconds`. The Dagster phases report too the events their instance stored and the
seconds its SQLite storage took for them (`events_stored`, `event_storage_seconds`):
Dagster's bookkeeping, whatever the assets compute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2025, 1, 1)
DAYS = 365
LAST = (START + dt.timedelta(days=DAYS - 1)).isoformat()
DAY30 = (START + dt.timedelta(days=29)).isoformat()  # against LAST: does cost follow history?
DAYS_PER_RUN = 31  # ingestion runs


def snapshot_days_per_run() -> int:
    """Dates per snapshot run: a run holds customers x dates rows per asset, and DuckDB's
    3 GB cap holds about seven million (31 dates at 100,000 customers, 7 at 1,000,000)."""
    return min(31, max(1, 7_000_000 // CUSTOMERS))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase(name: str, folder: Path) -> dict:
    """Run inside the child process; returns timing and peak memory of this phase."""
    config_path = folder / CONFIG
    t0 = time.perf_counter()
    rows: dict[str, int] = {}
    if name == "generate" and DIRTY:
        rows = dirty_copy(folder / "source", folder / SOURCE)
    elif name == "generate":
        from engagement_pipeline.sample_data import generate

        rows = generate(folder / SOURCE, CUSTOMERS, START, DAYS, seed=11, fmt=FORMAT)
    elif name in ("bare_ingest", "bare_ingest_capped"):
        rows = bare_ingest(folder, capped=name == "bare_ingest_capped")
    elif name == "ingest_engine":
        rows = ingest_without_dagster(config_path)
    elif name == "state":
        rows = snapshot_state(config_path, dt.date.fromisoformat(UNTIL))
    elif name in ("bare", "bare_events"):
        import duckdb

        con = duckdb.connect()
        lake = folder / LAKE
        began = time.perf_counter()
        ev = con.execute(
            "SELECT count(*) FROM (SELECT customer_id, count(*), max(event_timestamp), "
            "count(*) FILTER (WHERE touchpoint = 'web') "
            f"FROM read_parquet('{lake}/raw_engagement_events/*/*.parquet') GROUP BY 1)"
        ).fetchall()
        rows = {"event_customers": ev[0][0]}
        if name == "bare":  # bare_events: the events alone (the journeys group's baseline)
            pu = con.execute(
                "SELECT count(*) FROM (SELECT customer_id, count(*), sum(amount), "
                "max(purchase_timestamp) "
                f"FROM read_parquet('{lake}/raw_purchases/*/*.parquet') GROUP BY 1)"
            ).fetchall()
            rows["purchase_customers"] = pu[0][0]
        # the queries alone, without importing DuckDB: what a Dagster phase's run_seconds
        # is compared with like for like (neither counts the process's start)
        rows["query_seconds"] = round(time.perf_counter() - began, 2)
    else:
        import dagster as dg

        from engagement_pipeline.defs.build import build_definitions
        from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB

        defs = build_definitions(config_path)
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        # The data set's Dagster instance, SQLite storage on disk as `dagster dev` has, kept
        # between phases: a scheduled daily run writes to an instance that exists (opening a
        # new one is 0.8 s of migrations, not part of any run).
        home = folder / "dagster_home"
        home.mkdir(exist_ok=True)
        instance = dg.DagsterInstance.local_temp(str(home))
        storage = _time_event_storage(instance)
        if name in ("daily_launched", "daily_launched_multiprocess"):
            rows = launched_daily(config_path, instance, quiet, name.endswith("multiprocess"))
        elif name == "ingest":
            from engagement_pipeline.defs.runs import execute_range

            raw = {
                k
                for k in defs.resolve_asset_graph().get_all_asset_keys()
                if k.path[0].startswith(("raw", "quarantined"))
            }
            job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=raw)
            # Runs of max_days_per_run dates, as a UI backfill with the same policy would do.
            for _, _, result in execute_range(
                job,
                START,
                dt.date.fromisoformat(UNTIL),
                DAYS_PER_RUN,
                instance=instance,
                run_config=quiet,
            ):
                assert result.success
        elif name == "history":
            from engagement_pipeline.defs.runs import execute_range

            snapshots = {
                k
                for k in defs.resolve_asset_graph().get_all_asset_keys()
                if not k.path[0].startswith(("raw", "quarantined"))
            }
            job = defs.resolve_job_def(ENGAGEMENT_JOB).get_subset(asset_selection=snapshots)
            before_last = dt.date.fromisoformat(UNTIL) - dt.timedelta(days=1)
            for start, end, result in execute_range(
                job,
                START,
                before_last,
                snapshot_days_per_run(),
                instance=instance,
                run_config=quiet,
            ):
                assert result.success
                print(f"{start}..{end} done at {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        else:
            job = defs.resolve_job_def(ENGAGEMENT_JOB)
            day = DAY30 if name == "snapshot_day30" else UNTIL
            if name == "journeys":
                graph = defs.resolve_asset_graph()
                job = job.get_subset(
                    asset_selection={
                        k
                        for k in graph.get_all_asset_keys()
                        if graph.get(k).group_name == "journeys"
                    }
                )
            if name.startswith("snapshot"):
                graph = defs.resolve_asset_graph()
                # snapshot_core leaves out the customer-intelligence assets: what they add.
                # The report still runs, reading their rows of the date from the lake (a
                # `snapshot` phase must have written them).
                later = {"customer_intelligence"} if name == "snapshot_core" else set()
                keys = {
                    k
                    for k in graph.get_all_asset_keys()
                    if not ("raw" in k.path[0] or "quarantined" in k.path[0])
                    and graph.get(k).group_name not in later
                }
                job = job.get_subset(asset_selection=keys)
            began = time.perf_counter()
            result = job.execute_in_process(partition_key=day, run_config=quiet, instance=instance)
            assert result.success
            # the run alone, without starting Python, importing Dagster and loading definitions
            rows = {"run_seconds": round(time.perf_counter() - began, 2)}
        rows |= {k: round(v, 2) if isinstance(v, float) else v for k, v in storage.items()}
    elapsed = time.perf_counter() - t0
    return {
        "phase": name,
        "seconds": round(elapsed, 2),
        "peak_rss_mib": round(_peak_mib(), 1),
        **rows,
    }


STEP_EXECUTOR_ENV = "BENCHMARK_STEP_EXECUTOR"


def daily_job():
    """The main job as $CONFIG_PATH's code location defines it, rebuilt from this pointer by
    the run (and by each step process, with the multiprocess executor);
    BENCHMARK_STEP_EXECUTOR=multiprocess swaps in Dagster's default executor."""
    import dagster as dg

    from engagement_pipeline.defs.build import STEP_EXECUTOR, build_definitions
    from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB

    multiprocess = os.environ.get(STEP_EXECUTOR_ENV) == "multiprocess"
    executor = dg.multiprocess_executor if multiprocess else STEP_EXECUTOR
    return build_definitions(executor=executor).resolve_job_def(ENGAGEMENT_JOB)


def launched_daily(
    config_path: Path, instance, run_config: dict, multiprocess: bool
) -> dict[str, float]:
    """The daily run of UNTIL launched as a run worker does (`execute_job`), on the data
    set's instance. Its storage timing sees this process's events only: with a process per
    step, the steps' events are stored from their own processes."""
    import dagster as dg

    from engagement_pipeline.config import CONFIG_PATH_ENV

    os.environ[CONFIG_PATH_ENV] = str(config_path)
    os.environ[STEP_EXECUTOR_ENV] = "multiprocess" if multiprocess else ""
    began = time.perf_counter()
    with dg.execute_job(
        dg.reconstructable(daily_job),
        instance,
        tags={"dagster/partition": UNTIL},
        run_config=run_config,
    ) as result:
        assert result.success
        steps = sum(1 for e in result.all_events if e.is_step_success)
    return {
        "run_seconds": round(time.perf_counter() - began, 2),
        "steps": steps,
        # the step processes' peak, when there were any (this process's is the phase's)
        "step_processes_peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


def _time_event_storage(instance) -> dict[str, float]:
    """Count the events the instance stores and the seconds its storage spends on them
    (SQLite on disk: a connection, an insert and a commit per table an event goes to).

    What part of a Dagster phase is the instance's bookkeeping, the same whatever the
    assets compute: per date, a materialization, its planned event and each check's
    evaluation.
    """
    spent = {"events_stored": 0, "event_storage_seconds": 0.0}
    storage = instance.event_log_storage
    store = storage.store_event

    def timed(event) -> None:
        began = time.perf_counter()
        store(event)
        spent["event_storage_seconds"] += time.perf_counter() - began
        spent["events_stored"] += 1

    storage.store_event = timed
    return spent


def dirty_copy(clean: Path, out: Path) -> dict[str, int]:
    """The clean Parquet set with rejects planted, chosen by a hash (the same every time):
    1 event in 100 gets an unknown touchpoint and 1 purchase in 100 a negative amount; 1
    row in 1,000 of each is exported a second time at the end of its file."""
    import duckdb

    if not (clean / "purchases.parquet").exists():
        sys.exit(f"--dirty copies the clean Parquet set: generate it first ({clean})")
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    rows = {}
    for name, key, column, spoiled in (
        ("engagement_events", "event_id", "touchpoint", "'fax'"),
        ("purchases", "order_id", "amount", "-amount"),
    ):
        src = f"read_parquet('{clean / name}.parquet')"
        con.execute(
            f"COPY (SELECT * REPLACE (CASE WHEN hash({key}) % 100 = 0 THEN {spoiled} "
            f"ELSE {column} END AS {column}) FROM {src} "
            f"UNION ALL SELECT * FROM {src} WHERE hash({key}) % 1000 = 1) "
            f"TO '{out / name}.parquet' (FORMAT parquet)"
        )
        rows[name] = con.execute(f"SELECT count(*) FROM '{out / name}.parquet'").fetchall()[0][0]
    return rows


def bare_ingest(folder: Path, capped: bool = False) -> dict[str, int | float]:
    """The floor for ingestion: DuckDB reads each source and writes its columns (and the
    day) as day-partitioned Parquet, nothing else; `capped`: under the memory cap every
    pipeline connection has (DuckDB's own default is 80% of the machine's memory)."""
    import duckdb

    from engagement_pipeline.sql import DEFAULT_MEMORY_LIMIT

    began = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if capped:
        con.execute(f"SET memory_limit = '{DEFAULT_MEMORY_LIMIT}'")
    out = folder / f"bare_ingest_{FORMAT}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    rows = {}
    for name, ts in (("engagement_events", "timestamp"), ("purchases", "purchase_date")):
        src = folder / SOURCE / f"{name}.{FORMAT}"
        reader = f"read_csv('{src}')" if FORMAT == "csv" else f"read_parquet('{src}')"
        con.execute(
            f"COPY (SELECT *, CAST({ts} AS DATE) AS snapshot_date FROM {reader}) "
            f"TO '{out / name}' (FORMAT parquet, PARTITION_BY (snapshot_date))"
        )
        rows[name] = con.execute(
            f"SELECT count(*) FROM read_parquet('{out / name}/*/*.parquet')"
        ).fetchall()[0][0]
    # the statements alone, after importing DuckDB: like for like with ingest_engine's
    # work_seconds (neither counts its imports)
    rows["query_seconds"] = round(time.perf_counter() - began, 2)
    shutil.rmtree(out)
    return rows


def ingest_without_dagster(config_path: Path) -> dict[str, int | float]:
    """The ingestion assets' own work without Dagster's bookkeeping: land the sources,
    validate each run's days and write them to a lake of their own, in the same runs."""
    from engagement_pipeline.config import load_config
    from engagement_pipeline.defs.runs import date_chunks
    from engagement_pipeline.ingestion.events import validate_events
    from engagement_pipeline.ingestion.purchases import validate_purchases
    from engagement_pipeline.lake import Lake, connection, materialize

    # Importing the package (Dagster, pandas, pydantic) takes 1.4 to 1.7 s, which the bare
    # pass (DuckDB alone, 0.1 s) does not pay: work_seconds is the work after it.
    began = time.perf_counter()
    config = load_config(config_path)
    lake = Lake(config.lake_dir.parent / f"{config.lake_dir.name}_engine")
    shutil.rmtree(lake.root, ignore_errors=True)
    config = config.model_copy(
        update={"storage": config.storage.model_copy(update={"lake_path": str(lake.root)})}
    )
    con, rows = connection(), {"loaded": 0, "quarantined": 0}
    for start, end in date_chunks(START, dt.date.fromisoformat(LAST), DAYS_PER_RUN):
        keys = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        for name, validate in (("events", validate_events), ("purchases", validate_purchases)):
            result = validate(con, config, start, end)
            for i, kind in enumerate(("loaded", "quarantined")):
                if result.files is not None:  # settled at landing: the asset copies its files
                    files = result.files[i]
                    written = lake.copy_partitions(
                        con, f"{kind}_{name}", keys, files.days, files.empty
                    )
                else:
                    rel = (result.loaded, result.quarantined)[i]
                    table = materialize(con, rel, f"{kind}_{name}")
                    written = lake.write(con, f"{kind}_{name}", table, keys)
                rows[kind] += sum(written.values())
    rows["work_seconds"] = round(time.perf_counter() - began, 2)
    shutil.rmtree(lake.root)
    return rows


def snapshot_state(config_path: Path, day: dt.date) -> dict[str, int]:
    """Write, by the full computation from the raw history, every partition a daily run of
    `day` builds on besides the day's raw rows: each snapshot asset's own earlier dates
    (Lookback.needed: the day before, the day before each window, metric_anomalies'
    training weeks), the same dates of the assets they read, the CLV fit's previous
    parameters (its warm start), and customer_ltv of `day` itself (the journeys phase
    builds only its group). A backfill of the year writes the same rows, in an hour."""
    import duckdb

    from engagement_pipeline.analytics.clv_fits import fit_and_predict
    from engagement_pipeline.analytics.clv_summary import transaction_summary
    from engagement_pipeline.config import load_config
    from engagement_pipeline.lake import Lake, connection, materialize
    from engagement_pipeline.stages import (
        CLV_MODEL_PARAMETERS,
        CUSTOMER_CLV,
        CUSTOMER_LTV,
        DAILY_METRICS,
        RAW_ENGAGEMENT_EVENTS,
        RAW_PURCHASES,
        STAGES,
    )

    config = load_config(config_path)
    lake, con = Lake(config.lake_dir), connection()
    start = config.snapshots.start_date
    history = [start + dt.timedelta(days=i) for i in range((day - start).days + 1)]
    # the dates each asset needs: its own, and those its readers are built for here (a
    # snapshot reads its inputs of the same day); STAGES is in dependency order
    needed: dict[str, set[dt.date]] = {
        s.name: {d for d in s.lookback.needed(day, config) if start <= d < day}
        if s.lookback
        else set()
        for s in STAGES
    }
    for stage in reversed(STAGES):
        for name in stage.inputs:
            if name in needed:
                needed[name] |= needed[stage.name]
    # metric_anomalies' full computation reads daily_metrics of the weeks before each date
    needed[DAILY_METRICS] |= {d for d in history if d < day}
    needed[CUSTOMER_LTV].add(day)
    raw = {
        a: lake.read(con, a, [d.isoformat() for d in history])
        for a in (RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES)
    }
    rows: dict[str, int] = {}
    # The lake is raw days plus this state, as after a backfill: partitions left by earlier
    # runs (older code, other dates) would be read with it.
    for name in (*needed, CLV_MODEL_PARAMETERS):
        shutil.rmtree(lake.root / name, ignore_errors=True)

    def write(
        asset: str,
        computed: duckdb.DuckDBPyRelation,
        dates: list[dt.date],
        order_by: str | None = None,  # the stage's row_order, as the asset writes it
    ) -> None:
        keys = [d.isoformat() for d in dates]
        table = materialize(con, computed, asset)
        rows[asset] = sum(lake.write(con, asset, table, keys, order_by).values())

    for stage in STAGES:
        dates = sorted(needed[stage.name])
        if not dates:
            continue
        inputs = {
            n: raw[n] if n in raw else lake.read(con, n, [d.isoformat() for d in sorted(needed[n])])
            for n in stage.inputs
        }
        if stage.name == CUSTOMER_CLV:  # the asset also keeps the fit's parameters
            summaries = transaction_summary(
                con, inputs[RAW_PURCHASES], dates, config.clv.time_unit_days, None
            )
            fitted = fit_and_predict(con, summaries, dates, config)
            write(CUSTOMER_CLV, fitted.customers, dates)
            write(CLV_MODEL_PARAMETERS, con.from_df(fitted.parameters), dates)
        else:
            computed = stage.compute(con, inputs, dates, config, None)
            write(stage.name, computed, dates, stage.row_order)
        print(f"{stage.name}: {len(dates)} dates", file=sys.stderr, flush=True)
    return rows


def write_config(folder: Path) -> None:
    config = {
        "snapshots": {
            "start_date": START.isoformat(),
            "end_date": LAST,
            "max_days_per_run": snapshot_days_per_run(),
        },
        "engagement_data": {
            "file_path": f"{SOURCE}/engagement_events.{FORMAT}",
            "format": FORMAT,
            "event_id_column": "event_id",
            "engagement_score_column": "engagement_score",
            "event_type_column": "event_type",
            "channel_column": "channel",
            "campaign_column": "campaign",
            "session_id_column": "session_id",
        },
        "purchase_data": {
            "file_path": f"{SOURCE}/purchases.{FORMAT}",
            "format": FORMAT,
            "quantity_column": "quantity",
            "product_column": "product",
            "country_column": "country",
        },
        "segmentation": {"ltv_threshold_high": 2000, "ltv_threshold_medium": 500},
        "storage": {"lake_path": LAKE, "reports_path": f"reports{SUFFIX}"},
    }
    (folder / CONFIG).write_text(yaml.safe_dump(config))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--phases",
        default="generate,bare_ingest,ingest_engine,ingest,history,daily,snapshot,snapshot_day30,bare",
    )
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--dirty",
        action="store_true",
        help="Parquet sources with planted rejects and repeats (see the generate phase)",
    )
    parser.add_argument(
        "--until",
        default=LAST,
        help="The date the snapshot phases build (ingest and history run up to it); "
        "default the last of the year.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = ROOT / "data" / "benchmark" / str(args.customers)
    global CUSTOMERS, FORMAT, SUFFIX, SOURCE, LAKE, CONFIG, UNTIL, DIRTY
    CUSTOMERS, FORMAT, UNTIL, DIRTY = args.customers, args.format, args.until, args.dirty
    if DIRTY and FORMAT != "parquet":
        sys.exit("--dirty is a variant of the Parquet sources")
    SUFFIX = "_dirty" if DIRTY else ("" if FORMAT == "parquet" else f"_{FORMAT}")
    SOURCE, LAKE, CONFIG = f"source{SUFFIX}", f"lake{SUFFIX}", f"config{SUFFIX}.yaml"
    if args.child:
        print("RESULT " + json.dumps(phase(args.child, folder)), flush=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder)
    results = []
    for name in args.phases.split(","):
        if name == "generate" and (folder / SOURCE / f"purchases.{FORMAT}").exists():
            continue
        out = subprocess.run(
            [sys.executable, __file__, "--customers", str(args.customers), "--format", FORMAT]
            + ["--until", UNTIL, "--child", name]
            + (["--dirty"] if DIRTY else []),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"phase {name} failed:\n{out.stderr[-3000:]}")
        result = json.loads(line.removeprefix("RESULT "))
        results.append(result)
        print(json.dumps(result), flush=True)
    import duckdb

    con = duckdb.connect()
    lake = folder / LAKE
    if (lake / "raw_engagement_events").exists():
        n_events = con.execute(
            f"SELECT count(*) FROM read_parquet('{lake}/raw_engagement_events/*/*.parquet')"
        ).fetchall()[0][0]
        n_purchases = con.execute(
            f"SELECT count(*) FROM read_parquet('{lake}/raw_purchases/*/*.parquet')"
        ).fetchall()[0][0]
        print(
            json.dumps({"customers": args.customers, "events": n_events, "purchases": n_purchases})
        )
        for r in results:
            if r["phase"] != "generate":
                rate = (n_events + n_purchases) / r["seconds"]
                print(
                    f"{r['phase']:>9}: {r['seconds']:8.2f} s  {rate:14,.0f} rows/s  peak {r['peak_rss_mib']:8.1f} MiB"
                )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB, "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}"
    )


CUSTOMERS = 0
UNTIL = LAST
DIRTY = False
FORMAT, SUFFIX, SOURCE, LAKE, CONFIG = "parquet", "", "source", "lake", "config.yaml"

if __name__ == "__main__":
    main()
