"""The reference libraries' side of attribution_benchmark.py; runs in .attr-venv only.

Reads the aggregated paths the benchmark wrote (path, conversions, nulls, value; channels
joined by ">"), runs do-attribution's Markov (redirect_to_null) and Shapley and
ChannelAttribution's Markov over several seeds, and prints one JSON object with their
removal effects, Shapley values and times. Never imported by the pipeline.

    .attr-venv/bin/python benchmarks/attribution_reference.py paths.csv --seeds 5
"""

import argparse
import contextlib
import io
import json
import time
import warnings

import numpy as np
import pandas as pd


def do_attribution(paths: pd.DataFrame) -> dict:
    from do_attribution import MarkovAttribution, ShapleyAttribution

    spaced = paths["path"].str.replace(">", " > ", regex=False)
    # Markov takes per-row weights: one row per (path, outcome) with its count
    converted = paths["conversions"] > 0
    failed = paths["nulls"] > 0
    rows = pd.concat(
        [
            pd.DataFrame(
                {"path": spaced[converted], "flag": 1, "weight": paths["conversions"][converted]}
            ),
            pd.DataFrame({"path": spaced[failed], "flag": 0, "weight": paths["nulls"][failed]}),
        ]
    )
    began = time.perf_counter()
    markov = MarkovAttribution(order=1, removal_strategy="redirect_to_null", separator=" > ").fit(
        rows["path"].tolist(), rows["flag"].tolist(), weights=rows["weight"].astype(float).tolist()
    )
    markov_seconds = time.perf_counter() - began
    # Shapley takes no weights: one row per journey (each path's converted, then the rest)
    counts = np.column_stack([paths["conversions"], paths["nulls"]]).ravel()
    journeys = np.repeat(np.repeat(spaced.to_numpy(), 2), counts)
    flags = np.repeat(np.tile([1, 0], len(paths)), counts)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its note that shares are normalised by v(N)
        shapley = ShapleyAttribution(separator=" > ").fit(journeys.tolist(), flags.tolist())
    shapley_seconds = time.perf_counter() - began
    return {
        "markov_removal_effects": markov["removal_effects"],
        "markov_seconds": markov_seconds,
        "shapley_values": {k: float(v) for k, v in shapley["shapley_values"].items()},
        "shapley_value_function": {
            ",".join(k): int(v) for k, v in shapley["value_function"].items()
        },
        "shapley_seconds": shapley_seconds,
        "shapley_shares_status": f"{shapley['normalization_status']} "
        f"({shapley['normalization_reason']})",
        "journey_rows": int(len(journeys)),
    }


def channel_attribution(paths: pd.DataFrame, seeds: int, nsim: float, max_step: int) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # its import prints a banner
        import ChannelAttribution as ca
    runs = []
    for seed in range(0, 1000 * seeds, 1000):  # fold f of seed s draws with seed s + f
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            out = ca.markov_model(
                paths,
                var_path="path",
                var_conv="conversions",
                var_null="nulls",
                var_value="value",
                order=1,
                nsim_start=nsim,
                max_step=max_step,
                out_more=True,
                sep=">",
                seed=seed,
                verbose=False,
                flg_pro=False,
            )
        seconds = time.perf_counter() - began
        effects = out["removal_effects"]
        column = [c for c in effects.columns if c.startswith("removal_effects")][0]
        runs.append(
            {
                "seed": seed,
                "seconds": seconds,
                "removal_effects": dict(
                    zip(effects["channel_name"], effects[column].astype(float), strict=True)
                ),
                "conversions": dict(
                    zip(
                        out["result"]["channel_name"],
                        out["result"]["total_conversions"].astype(float),
                        strict=True,
                    )
                ),
            }
        )
    return {"runs": runs, "nsim_start": nsim, "max_step": max_step}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--nsim", type=float, default=1e5)
    parser.add_argument("--max-step", type=int, default=100)
    # nsim_start: ChannelAttribution's default 1e5 simulated walks
    args = parser.parse_args()
    paths = pd.read_csv(args.paths)
    print(
        json.dumps(
            {
                "do_attribution": do_attribution(paths),
                "channel_attribution": channel_attribution(
                    paths, args.seeds, args.nsim, args.max_step
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
