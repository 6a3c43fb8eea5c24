"""CLV fit and snapshot times at scale, side by side with lifetimes on the same summary.

    .venv/bin/python benchmarks/clv_benchmark.py --customers 100000
    .venv/bin/python benchmarks/clv_benchmark.py --customers 1000000

Needs the data of benchmarks/snapshot_benchmark.py (data/benchmark/<customers>/source) and,
for the lifetimes columns, a separate environment with lifetimes (archived; never a
dependency of the project):

    python3 -m venv .bench-venv && .bench-venv/bin/pip install "numpy<2" "pandas<2.2" "scipy<1.12" lifetimes==0.11.3 pyarrow

Each side runs in its own process, so peak RSS is its own. With a lake from the snapshot
benchmark (all raw_purchases partitions), the customer_clv asset is also timed through Dagster.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = "2025-12-31"
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"

LIFETIMES = r"""
import json, resource, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
s = pd.read_parquet(sys.argv[1])
t = time.perf_counter()
bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
t_bg = time.perf_counter() - t
r = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
t = time.perf_counter()
gg = GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
t_gg = time.perf_counter() - t
print("RESULT " + json.dumps({
    "bg_nbd_seconds": t_bg, "gamma_gamma_seconds": t_gg,
    "bg_nbd": bg.params_.to_dict(), "gamma_gamma": {"p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"]},
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def ours(folder: Path) -> dict:
    import datetime as dt

    from engagement_pipeline.analytics import clv
    from engagement_pipeline.analytics.clv_summary import transaction_summary
    from engagement_pipeline.config import CLVConfig
    from engagement_pipeline.sql import new_connection

    con = new_connection()
    purchases = con.sql(
        "SELECT customer_id, purchase_date AS purchase_timestamp, amount, "
        "CAST(purchase_date AS DATE) AS snapshot_date FROM read_parquet(?)",
        params=[str(folder / "source" / "purchases.parquet")],
    )
    t = time.perf_counter()
    summary = transaction_summary(con, purchases, [dt.date.fromisoformat(SNAPSHOT)], 7.0).df()
    t_summary = time.perf_counter() - t
    summary.to_parquet(folder / "clv_summary.parquet")
    t = time.perf_counter()
    bg = clv.fit_bgnbd(summary[["frequency", "recency", "T"]])
    t_bg = time.perf_counter() - t
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    t = time.perf_counter()
    gg = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    t_gg = time.perf_counter() - t
    t = time.perf_counter()
    predicted = clv.predict_snapshot(summary, CLVConfig(), 0.10)
    t_predict = time.perf_counter() - t
    assert predicted.status == "fitted", predicted.status
    return {
        "customers": len(summary),
        "repeat_customers": len(repeat),
        "summary_seconds": t_summary,
        "bg_nbd_seconds": t_bg,
        "gamma_gamma_seconds": t_gg,
        "fit_and_predict_seconds": t_predict,
        "bg_nbd_distinct_rows": bg.n_rows,
        "gamma_gamma_distinct_rows": gg.n_rows,
        "bg_nbd": bg.params,
        "gamma_gamma": gg.params,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def through_dagster(folder: Path) -> dict:
    import dagster as dg

    from engagement_pipeline.defs.build import build_definitions

    defs = build_definitions(folder / "config.yaml")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("customer_clv"), dg.AssetKey("clv_model_parameters")}
    )
    t = time.perf_counter()
    result = job.execute_in_process(
        partition_key=SNAPSHOT,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success
    return {
        "customer_clv_asset_seconds": time.perf_counter() - t,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(argv: list[str], python: str = sys.executable) -> dict:
    out = subprocess.run([python, *argv], capture_output=True, text=True, cwd=ROOT)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{argv[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def sig3(x: float) -> str:
    return f"{x:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--child", choices=["ours", "dagster"])
    args = parser.parse_args()
    folder = ROOT / "data" / "benchmark" / str(args.customers)
    if args.child == "ours":
        print("RESULT " + json.dumps(ours(folder)))
        return
    if args.child == "dagster":
        print("RESULT " + json.dumps(through_dagster(folder)))
        return
    mine = child([__file__, "--customers", str(args.customers), "--child", "ours"])
    print(json.dumps(mine))
    theirs = (
        child(["-c", LIFETIMES, str(folder / "clv_summary.parquet")], str(BENCH_PYTHON))
        if BENCH_PYTHON.exists()
        else None
    )
    print(json.dumps(theirs))
    lake = folder / "lake" / "raw_purchases"
    dag = (
        child([__file__, "--customers", str(args.customers), "--child", "dagster"])
        if lake.is_dir() and len(list(lake.iterdir())) >= 365
        else None
    )
    print(json.dumps(dag))
    print(
        f"\n{args.customers:,} customers ({mine['repeat_customers']:,} with repeat purchases); "
        f"BG/NBD on {mine['bg_nbd_distinct_rows']:,} distinct (x, t_x, T) rows"
    )
    print(f"summary (DuckDB): {mine['summary_seconds']:.2f} s")
    for model in ("bg_nbd", "gamma_gamma"):
        line = f"{model:>12}: ours {mine[model + '_seconds']:7.2f} s"
        if theirs:
            line += f" | lifetimes {theirs[model + '_seconds']:8.2f} s | speed-up {theirs[model + '_seconds'] / mine[model + '_seconds']:6.1f}x"
            same = all(sig3(mine[model][k]) == sig3(theirs[model][k]) for k in mine[model])
            line += f" | same to 3 significant digits: {same}"
            line += f"\n{'':>14}ours {json.dumps({k: sig3(v) for k, v in mine[model].items()})}  lifetimes {json.dumps({k: sig3(v) for k, v in theirs[model].items()})}"
        print(line)
    print(
        f"fit + predict every customer: {mine['fit_and_predict_seconds']:.2f} s; peak RSS ours {mine['peak_rss_mib']:.0f} MiB"
        + (f", lifetimes {theirs['peak_rss_mib']:.0f} MiB" if theirs else "")
    )
    if dag:
        print(
            f"customer_clv asset through Dagster (one snapshot): {dag['customer_clv_asset_seconds']:.2f} s, peak RSS {dag['peak_rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
