"""Command line: run the pipeline for a date range, see where things stand, write one
report, open the dashboard, generate sample data, analyse, rebuild the catalog."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from engagement_pipeline.errors import PipelineError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


# The command's runs hold at most a month of dates, whatever snapshots.max_days_per_run
# allows, so a long run prints its progress (dates done, rows a second, time left) after
# every month: the sample's 181 dates in one run printed nothing for seven minutes.
PROGRESS_DAYS = 31


def run(config_path: Path, first: dt.date | None, last: dt.date | None, parallel: int = 1) -> int:
    """Materialize every asset for the snapshot dates [first, last]: in runs of at most
    snapshots.max_days_per_run dates (and PROGRESS_DAYS), in date order, each followed by a
    progress line; with `parallel` > 1 the days' ingestion first, as up to `parallel` runs
    at once, then the snapshots in date order."""

    from engagement_pipeline.config import load_config
    from engagement_pipeline.defs.build import build_definitions
    from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB, SNAPSHOT_JOB
    from engagement_pipeline.defs.runs import quarantine_line
    from engagement_pipeline.ingestion.sources import expand_source_paths

    config = load_config(config_path)
    # A missing source stops the command before any run starts, not half a minute into
    # it when its ingestion step gets to it (after the other source's).
    for section in ("engagement_data", "purchase_data"):
        expand_source_paths(config, getattr(config, section), section)
    defs = build_definitions(config_path)
    job = defs.resolve_job_def(ENGAGEMENT_JOB)
    keys = job.partitions_def.get_partition_keys()
    if not keys:
        raise PipelineError(
            "snapshots: no snapshot date has ended yet; check snapshots.start_date."
        )
    first_key = (first or dt.date.fromisoformat(keys[0])).isoformat()
    last_key = (last or dt.date.fromisoformat(keys[-1])).isoformat()
    for name, key in (("--from", first_key), ("--to", last_key)):
        if key not in keys:
            raise PipelineError(
                f"{name} {key} is not a snapshot date of this config ({keys[0]} .. {keys[-1]})."
            )
    start, end = dt.date.fromisoformat(first_key), dt.date.fromisoformat(last_key)
    instance = _instance()
    quarantined: Counter = Counter()  # (quarantine asset, reason) -> rows, over the runs
    if parallel > 1:
        if instance.is_ephemeral:
            raise PipelineError(
                "--parallel runs each ingestion run in a process of its own, which record "
                "into a persistent Dagster instance: set DAGSTER_HOME to a folder (`python3 "
                "bootstrap.py` uses dagster_home/), or leave out --parallel."
            )
        code = _ingest_in_parallel(
            config_path, start, end, config.snapshots.max_days_per_run, parallel, quarantined
        )
        if code:
            return code
        job = defs.resolve_job_def(SNAPSHOT_JOB)
    print(f"Materializing snapshots {first_key} .. {last_key} ({config_path}) ...", flush=True)
    days_per_run = min(config.snapshots.max_days_per_run, PROGRESS_DAYS)
    code = _run_in_date_order(job, start, end, days_per_run, instance, quarantined)
    if code:
        return code
    # the page marketing readers open; the Markdown and JSON twins are beside it
    report = (
        config.reports_dir
        / last_key
        / ("engagement_report.html" if config.reports.html else "engagement_report.md")
    )
    catalog = (
        "" if config.lake_is_remote else f"  (DuckDB catalog: {config.lake_dir / 'catalog.duckdb'})"
    )
    print(f"Done. Lake: {config.lake_location}{catalog}")
    print(quarantine_line(quarantined))
    print(f"Report for {last_key}: {report}")
    return 0


def _run_in_date_order(
    job, start: dt.date, end: dt.date, max_days: int, instance, quarantined: Counter
) -> int:
    """Run the dates in order, a progress line after each run; `quarantined` adds up what
    their ingestion quarantined."""
    from engagement_pipeline.defs.runs import (
        execute_range,
        progress_line,
        quarantined_rows,
        rows_read,
        step_failures,
    )

    runs = execute_range(
        job,
        start,
        end,
        max_days,
        instance=instance,
        # Dagster's console log would print tracebacks; failures are summarised below instead.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    total = (end - start).days + 1
    began, done, rows = time.perf_counter(), 0, 0
    run_began = began
    for first, last, result in runs:
        if not result.success:
            return _report_failures(step_failures(result), first, last)
        dates = (last - first).days + 1
        done, rows = done + dates, rows + rows_read(result)
        quarantined.update(quarantined_rows(result))
        now = time.perf_counter()
        latest = (dates, now - run_began)  # the time left goes at the latest run's pace
        line = progress_line(done, total, rows, now - began, latest)
        print(f"  {first} .. {last} done: {line}", flush=True)
        run_began = now
    return 0


def _ingest_in_parallel(
    config_path: Path,
    start: dt.date,
    end: dt.date,
    max_days: int,
    parallel: int,
    quarantined: Counter,
) -> int:
    from engagement_pipeline.defs.runs import date_chunks, ingest_in_parallel, progress_line

    chunks = list(date_chunks(start, end, max_days))
    print(
        f"Ingesting {start} .. {end} ({config_path}) in {len(chunks)} runs, "
        f"up to {parallel} at once ...",
        flush=True,
    )
    total = (end - start).days + 1
    began, done, rows = time.perf_counter(), 0, 0
    for first, last, outcome in ingest_in_parallel(config_path.resolve(), chunks, parallel):
        if not outcome.success:
            return _report_failures(outcome.failures, first, last)
        done, rows = done + (last - first).days + 1, rows + outcome.rows
        quarantined.update(outcome.quarantined)
        elapsed = time.perf_counter() - began
        print(
            f"  ingested {first} .. {last}: {progress_line(done, total, rows, elapsed)}",
            flush=True,
        )
    return 0


def _report_failures(failures, start: dt.date, end: dt.date) -> int:
    """Print each failed step's message; 2 if any failed on bad config or input, else 1."""
    for failure in failures:
        print(f"error in {failure.step} ({start} .. {end}): {failure.message}", file=sys.stderr)
    # README: exit 2 for bad config or input
    return 2 if any(f.user_error for f in failures) else 1


def _generate_sample(args: argparse.Namespace, _config_path: Path) -> int:
    from engagement_pipeline.markdown import counted
    from engagement_pipeline.sample_data import generate

    counts = generate(
        args.out,
        args.customers,
        args.start,
        args.days,
        args.seed,
        args.format,
        planted=not args.no_planted_anomalies,
    )
    print(
        f"Wrote a sample of {counted(counts['customers'], 'customer')} to {args.out}: "
        f"{counted(counts['engagement_events'], 'engagement event')} and "
        f"{counted(counts['purchases'], 'purchase')}."
    )
    return 0


def _analyze(args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.api import process_engagement_analysis

    analysis = process_engagement_analysis(config_path, args.date)
    print(f"Snapshot {analysis.snapshot_date}: {analysis.total_customers:,} customers")
    for s in analysis.segment_analyses:
        print(f"  {s.segment.value:<10} {s.customer_count:>8,}  avg LTV ${s.avg_ltv:,.2f}")
    return 0


def _clv_holdout(args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.analytics.clv_holdout import evaluate_holdout, holdout_markdown
    from engagement_pipeline.config import load_config

    if args.holdout_end <= args.calibration_end:
        raise PipelineError("--holdout-end must be after --calibration-end.")
    evaluation = evaluate_holdout(load_config(config_path), args.calibration_end, args.holdout_end)
    text = holdout_markdown(evaluation)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


def _catalog(_args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.config import load_config
    from engagement_pipeline.lake import open_lake

    lake = open_lake(load_config(config_path))
    views = lake.rebuild_catalog()
    print(f"{lake.catalog_path}: views {', '.join(views) or '(none: the lake is empty)'}")
    return 0


def _instance():
    import dagster as dg

    # A persistent instance (DAGSTER_HOME) keeps the runs in the UI's history.
    home = os.environ.get("DAGSTER_HOME")
    if home:
        if not Path(home).is_dir():
            raise PipelineError(
                f"DAGSTER_HOME is {home}, which is not a folder. Point it (in the environment "
                "or in .env) at the Dagster instance's folder, or create that folder; "
                "bootstrap.py uses ./dagster_home."
            )
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _status(_args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.defs.build import build_definitions
    from engagement_pipeline.defs.status import pipeline_status, status_text

    if not os.environ.get("DAGSTER_HOME"):
        raise PipelineError(
            "DAGSTER_HOME is not set (in the environment or in a .env file here), so there "
            "is no run history to show. Run this from the project's folder after `python3 "
            "bootstrap.py` (it writes DAGSTER_HOME=./dagster_home into .env), or set "
            "DAGSTER_HOME to the folder of the Dagster instance."
        )
    print(status_text(pipeline_status(_instance(), build_definitions(config_path))), end="")
    return 0


def _report(args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.config import load_config
    from engagement_pipeline.presentation.report_files import render_report

    text = render_report(load_config(config_path), args.date, args.format)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote the {args.format} report of {args.date} to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _dashboard(args: argparse.Namespace, config_path: Path) -> int:
    from engagement_pipeline.presentation.serve import serve_dashboard

    return serve_dashboard(config_path, args.port)


EXAMPLES = {
    "run": "engagement-pipeline run --from 2025-06-01 --to 2025-06-30",
    "status": "engagement-pipeline status --config config.yaml",
    "report": "engagement-pipeline report --date 2025-06-30 --format html --out report.html",
    "dashboard": "engagement-pipeline dashboard --port 8501",
    "generate-sample": "engagement-pipeline generate-sample --customers 100000 --days 365 "
    "--format parquet --out data/benchmark",
    "analyze": "engagement-pipeline analyze --date 2025-06-30",
    "catalog": "engagement-pipeline catalog",
    "clv-holdout": "engagement-pipeline clv-holdout --calibration-end 1997-09-30 "
    "--holdout-end 1998-06-30",
}


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before the subcommand and after it (SUPPRESS: an absent one
    # after it does not undo one given before).
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="config file (default: $CONFIG_PATH or ./config.yaml)",
    )
    parser = argparse.ArgumentParser(
        prog="engagement-pipeline",
        description=__doc__,
        parents=[config],
        epilog="Example: " + EXAMPLES["run"],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            parents=[config],
            epilog=f"Example:\n  {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p_run = add("run", "materialize all assets for a range of snapshot dates (default: all)")
    p_run.add_argument("--from", dest="first", type=_date)
    p_run.add_argument("--to", dest="last", type=_date)
    p_run.add_argument(
        "--parallel",
        type=_positive,
        default=1,
        metavar="N",
        help="ingest the days first, as up to N runs at once (each in its own processes; "
        "needs DAGSTER_HOME), then build the snapshots in date order",
    )
    p_run.set_defaults(handler=lambda a, path: run(path, a.first, a.last, a.parallel))

    p_status = add(
        "status",
        "per asset the materialized date ranges and its last run, the latest run's outcome "
        "and the failing checks",
    )
    p_status.set_defaults(handler=_status)

    p_report = add("report", "write or print one snapshot date's report from the lake")
    p_report.add_argument("--date", type=_date, required=True, help="snapshot date YYYY-MM-DD")
    p_report.add_argument("--format", choices=["md", "html", "json"], default="md")
    p_report.add_argument("--out", type=Path, default=None, help="write here (default: print)")
    p_report.set_defaults(handler=_report)

    p_dash = add("dashboard", "open the read-only dashboard over the lake on 127.0.0.1")
    p_dash.add_argument("--port", type=int, default=8501)
    p_dash.set_defaults(handler=_dashboard)

    p_gen = add("generate-sample", "write a seeded synthetic data set")
    p_gen.add_argument("--out", type=Path, default=Path("data/sample"))
    p_gen.add_argument("--customers", type=int, default=1000)
    p_gen.add_argument("--start", type=_date, default=dt.date(2025, 1, 1))
    p_gen.add_argument("--days", type=int, default=181)
    p_gen.add_argument("--seed", type=int, default=7)
    p_gen.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p_gen.add_argument(
        "--no-planted-anomalies",
        action="store_true",
        help="leave out the weekly rhythm, the email outage day and the revenue spike",
    )
    p_gen.set_defaults(handler=_generate_sample)

    p_an = add("analyze", "print the analysis of one snapshot date (Python API)")
    p_an.add_argument("--date", type=_date, default=None)
    p_an.set_defaults(handler=_analyze)

    p_cat = add("catalog", "rebuild the DuckDB catalog of views over the lake")
    p_cat.set_defaults(handler=_catalog)

    p_hold = add("clv-holdout", "calibration/holdout evaluation of predicted purchases")
    p_hold.add_argument("--calibration-end", type=_date, required=True)
    p_hold.add_argument("--holdout-end", type=_date, required=True)
    p_hold.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    p_hold.set_defaults(handler=_clv_holdout)
    return parser


def _read_dotenv(path: Path) -> dict[str, str | None]:
    """A .env file's variables, as `dagster dev` reads them; a line that is not NAME=value
    is left out with a note in our words (python-dotenv's own warning is silenced)."""
    import logging

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as fh:
            unread = [b.original.line for b in parse_stream(fh) if b.error]
    except UnicodeDecodeError:
        raise PipelineError(
            f"{path} is not UTF-8 text; write it as NAME=value lines, or remove it."
        ) from None
    except OSError:
        raise PipelineError(f"{path} cannot be opened; check its permissions.") from None
    if unread:
        lines = ", ".join(map(str, unread))
        print(
            f"note: {path}: line {lines} is not a NAME=value line and is left out.",
            file=sys.stderr,
        )
    dotenv_logger = logging.getLogger("dotenv.main")
    dotenv_logger.disabled = True  # its warning repeats the note above in its own words
    try:
        return dotenv_values(path)
    finally:
        dotenv_logger.disabled = False


@contextlib.contextmanager
def _dotenv_variables(folder: Path) -> Iterator[None]:
    """The variables of `.env` in `folder` that the environment leaves unset, for the
    command's duration. `dagster dev` reads .env from its working folder, and bootstrap.py
    writes DAGSTER_HOME into the project's, so `run` and `status` there record into and
    read the instance the UI shows."""
    path = folder / ".env"
    values = _read_dotenv(path) if path.is_file() else {}
    added = {k: v for k, v in values.items() if v is not None and k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from engagement_pipeline.config import default_config_path

    try:
        with _dotenv_variables(Path.cwd()):
            return args.handler(args, getattr(args, "config", None) or default_config_path())
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
