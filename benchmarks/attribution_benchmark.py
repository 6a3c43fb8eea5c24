"""Our data-driven attribution against do-attribution and ChannelAttribution, on the same
paths, with the time of each (issue: journeys and channels, item 5).

The paths are synthetic and seeded: one journey per customer, 1 to 10 touches over eight
channels drawn from a first-order chain, converting with a probability that depends on
the channels touched, revenue log-normal. Ours runs here (.venv); the reference libraries
run in their own environment (.attr-venv, never a runtime dependency) on the aggregated
paths this script writes, through benchmarks/attribution_reference.py.

    python3 -m venv .attr-venv
    .attr-venv/bin/pip install do-attribution==0.0.2 channelattribution==2.2.5 matplotlib
    .venv/bin/python benchmarks/attribution_benchmark.py --customers 1000000

What is compared (docs/decision_logic.md, "Attribution against the reference libraries"):
- Markov removal effects (redirect to null, self-loops kept) against do-attribution's
  closed-form MarkovAttribution: the same quantity, to 1e-9.
- Shapley values: do-attribution's game is worth the conversions of the journeys whose set
  of channels is *exactly* S; ours, those whose set is *within* S. Our exact Shapley code
  is run on do-attribution's game (given as its Möbius inverse, which our subset sums turn
  back into it): the same quantity, to 1e-9. Our own values are shown beside its shares.
- Markov removal effects against ChannelAttribution's simulated ones, over several seeds:
  their mean, spread and distance from the exact values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engagement_pipeline.analytics.attribution import (
    channel_sets,
    distinct_paths,
    markov_removal_effects,
    shapley_values,
    transition_counts,
)
from engagement_pipeline.sql import new_connection

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PYTHON = ROOT / ".attr-venv" / "bin" / "python"
CHANNELS = ["affiliate", "direct", "display", "email", "referral", "search", "sms", "social"]
MAX_TOUCHES = 10
DAY = dt.date(2025, 6, 30)
AGREEMENT = 1e-9  # ours against do-attribution, where both define the same quantity


def synthetic_paths(customers: int, seed: int = 7) -> pd.DataFrame:
    """One journey per customer: channel indices (-1 past its end), converted, revenue."""
    rng = np.random.default_rng(seed)
    k = len(CHANNELS)
    moves = rng.dirichlet(np.full(k, 0.6), size=k)  # the chain between channels
    first = rng.dirichlet(np.full(k, 2.0))
    lengths = np.minimum(rng.geometric(0.35, customers), MAX_TOUCHES)
    steps = np.full((customers, MAX_TOUCHES), -1, dtype=np.int8)
    current = np.searchsorted(np.cumsum(first), rng.random(customers) * 0.999999)
    steps[:, 0] = current
    for position in range(1, MAX_TOUCHES):  # one vectorized draw per position
        cumulative = np.cumsum(moves[current], axis=1)
        current = (rng.random(customers)[:, None] * 0.999999 > cumulative).sum(axis=1)
        steps[:, position] = np.where(position < lengths, current, -1)
    lift = rng.normal(0.0, 0.6, k)  # each channel's pull towards conversion
    touched = np.zeros((customers, k), dtype=bool)
    for position in range(MAX_TOUCHES):
        valid = steps[:, position] >= 0
        touched[np.flatnonzero(valid), steps[valid, position]] = True
    logit = -2.0 + touched @ lift + 0.15 * lengths
    converted = rng.random(customers) < 1.0 / (1.0 + np.exp(-logit))
    revenue = np.where(converted, rng.lognormal(3.5, 0.8, customers), 0.0)
    frame = pd.DataFrame(steps, columns=[f"c{i}" for i in range(MAX_TOUCHES)])
    frame["customer_id"] = np.arange(customers).astype(str)
    frame["touches"], frame["converted"], frame["revenue"] = lengths, converted, revenue
    return frame


def journeys_relation(con, frame: pd.DataFrame):
    """The frame as conversion_journeys rows (snapshot_date, customer_id, converted,
    revenue, path), the path a list of channel names."""
    steps = ", ".join(f"c{i}" for i in range(MAX_TOUCHES))
    names = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    source = frame  # noqa: F841 - referenced by name in the SQL below
    con.execute(
        f"""CREATE OR REPLACE TABLE journeys AS
            SELECT DATE '{DAY}' AS snapshot_date, customer_id, converted, revenue,
                   list_transform(list_slice([{steps}], 1, touches),
                                  lambda c: {names}[c + 1]) AS path
            FROM source"""
    )
    return con.table("journeys")


def moebius(sets: pd.DataFrame) -> pd.DataFrame:
    """Channel sets whose subset sums are the conversions of each *exact* channel set:
    do-attribution's game, in the form our Shapley code reads."""
    bit = {c: 1 << i for i, c in enumerate(CHANNELS)}
    masks = np.array([sum(bit[c] for c in group) for group in sets["channels"]])
    size = 1 << len(CHANNELS)
    worth = np.bincount(masks, weights=sets["conversions"].to_numpy(), minlength=size)
    coalitions = np.arange(size)
    for i in range(len(CHANNELS)):  # the inverse of the subset sums
        has = ((coalitions >> i) & 1) == 1
        worth[has] -= worth[coalitions[has] ^ (1 << i)]
    keep = np.flatnonzero(worth)
    return pd.DataFrame(
        {
            "channels": [[c for c in CHANNELS if m & bit[c]] for m in keep],
            "conversions": worth[keep],
        }
    )


def timed(action):
    began = time.perf_counter()
    result = action()
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--nsim", type=float, default=1e5, help="ChannelAttribution's walks")
    args = parser.parse_args()
    con = new_connection()
    frame = synthetic_paths(args.customers)
    journeys = journeys_relation(con, frame)
    del frame

    _, bare = timed(
        lambda: con.sql(
            "SELECT path, converted, count(*), sum(revenue) FROM journeys GROUP BY ALL"
        ).fetchall()
    )
    # each synthetic journey is one counted row (journeys = 1), as count_paths gives them
    counted = journeys.project("snapshot_date, converted, path, 1 AS journeys, revenue")
    paths, path_counting = timed(lambda: distinct_paths(con, counted))
    moves, counting = timed(lambda: transition_counts(con, paths))
    effects, solving = timed(lambda: markov_removal_effects(moves.drop(columns="snapshot_date")))
    sets, grouping = timed(lambda: channel_sets(con, paths, 12))
    ours_shapley, shapley_seconds = timed(lambda: shapley_values(sets, "conversions"))

    with tempfile.TemporaryDirectory() as folder:
        paths_file = Path(folder) / "paths.csv"
        con.sql(
            """SELECT array_to_string(path, '>') AS path,
                      count(*) FILTER (WHERE converted) AS conversions,
                      count(*) FILTER (WHERE NOT converted) AS nulls,
                      coalesce(sum(revenue), 0) AS value
               FROM journeys WHERE len(path) > 0 GROUP BY 1 ORDER BY 1"""
        ).write_csv(str(paths_file))
        distinct = con.sql(f"SELECT count(*) FROM read_csv('{paths_file}')").fetchall()[0][0]
        out = subprocess.run(
            [
                str(REFERENCE_PYTHON),
                str(ROOT / "benchmarks" / "attribution_reference.py"),
                str(paths_file),
                "--seeds",
                str(args.seeds),
                "--nsim",
                str(args.nsim),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    reference = json.loads(out.stdout)
    do, ca = reference["do_attribution"], reference["channel_attribution"]

    do_effects = pd.Series(do["markov_removal_effects"]).reindex(effects.index)
    on_their_game = shapley_values(moebius(sets), "conversions")
    do_values = pd.Series(do["shapley_values"]).reindex(on_their_game.index)
    ca_runs = pd.DataFrame([r["removal_effects"] for r in ca["runs"]])[effects.index]
    ca_seconds = [r["seconds"] for r in ca["runs"]]

    table = pd.DataFrame(
        {
            "markov exact (ours)": effects,
            "do-attribution markov": do_effects,
            "ChannelAttribution mean": ca_runs.mean(),
            "ChannelAttribution sd": ca_runs.std(ddof=1),
            "shapley on do-attribution's game (ours)": on_their_game,
            "do-attribution shapley": do_values,
            "shapley (ours), share": ours_shapley / ours_shapley.sum(),
        }
    )
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}")
    print(
        f"{args.customers:,} journeys, {distinct:,} distinct paths, "
        f"{int(journeys.filter('converted').aggregate('count(*)').fetchall()[0][0]):,} conversions\n"
    )
    print(table.to_markdown(floatfmt=".10f"))
    print()
    # the same quantities must agree to AGREEMENT: the run fails (after its figures) if not
    differences = {
        "Markov removal effect": float((effects - do_effects).abs().max()),
        "Shapley value (same game)": float((on_their_game - do_values).abs().max()),
    }
    for quantity, difference in differences.items():
        print(f"max |ours - do-attribution| {quantity}: {difference:.2e}")
    print(f"do-attribution's Shapley shares (normalised by v(N)): {do['shapley_shares_status']}")
    print(
        f"max |ChannelAttribution mean - exact| removal effect: "
        f"{(ca_runs.mean() - effects).abs().max():.4f}; largest sd over {args.seeds} seeds: "
        f"{ca_runs.std(ddof=1).max():.4f} (nsim_start {ca['nsim_start']:.0e}, "
        f"max_step {ca['max_step']})"
    )
    print()
    timings = {
        "bare DuckDB GROUP BY path, converted": bare,
        "ours: journeys counted by path (DuckDB)": path_counting,
        "ours: transition counts (DuckDB)": counting,
        "ours: Markov exact solve (NumPy)": solving,
        "ours: channel sets (DuckDB)": grouping,
        "ours: Shapley exact (NumPy)": shapley_seconds,
        "do-attribution Markov (weighted distinct paths)": do["markov_seconds"],
        f"do-attribution Shapley ({do['journey_rows']:,} rows: it takes no weights)": do[
            "shapley_seconds"
        ],
        "ChannelAttribution Markov, one seed (mean)": float(np.mean(ca_seconds)),
    }
    print("| step | seconds |\n|---|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} |")
    disagreeing = [q for q, d in differences.items() if not d <= AGREEMENT]
    if disagreeing:
        sys.exit(
            f"ours and do-attribution differ by more than {AGREEMENT:g}: {', '.join(disagreeing)}"
        )


if __name__ == "__main__":
    main()
