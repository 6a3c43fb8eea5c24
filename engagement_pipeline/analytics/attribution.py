"""Attribution of conversions and revenue to channels: five heuristic models and two
data-driven ones (a first-order Markov chain's removal effects, Shapley values).

Every model splits each date's conversions and revenue completely: its channels' shares
add up to the date's conversions and revenue (an asset check holds them to it).
Conversions with no touch in their lookback go to NO_TOUCH in every model. Every model
reads the date's journeys counted by path (analytics/path_conversions.py): the heuristic
models weigh each path's touches by position (time decay by the journeys' own decay
shares, summed by position) in SQL; the data-driven models work on the date's distinct
paths with NumPy:

- Markov: states start, one per channel, conversion and null. Transition probabilities are
  counted over every journey with a touch, converted or not. The probability of
  conversion from start is solved exactly from the absorbing chain (the linear system
  (I - Q) x = r, i.e. the fundamental matrix, never a simulation); removing a channel sends
  its incoming transitions to null. Removal effect = 1 - P(conversion without it) / P(conversion);
  conversions and revenue are split in proportion to the removal effects. A repeated
  channel is a self-loop, which does not change absorption probabilities.
- Shapley: the players are the channels, and a coalition S is worth the conversions (or
  revenue) of the converting journeys whose set of channels is within S. Its Shapley values
  are computed exactly over every coalition while there are at most shapley_max_channels
  channels; rarer channels beyond that are merged into OTHER first (documented in
  docs/decision_logic.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from math import factorial
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engagement_pipeline.config import AttributionConfig
from engagement_pipeline.engines.batches import computed_once
from engagement_pipeline.sql import exact_sum

NO_TOUCH = "(no touch)"
OTHER = "(other channels)"
HEURISTIC_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
DATA_DRIVEN_MODELS = ("markov", "shapley")
MODELS = (*HEURISTIC_MODELS, *DATA_DRIVEN_MODELS)
ATTRIBUTION_COLUMNS = ["snapshot_date", "model", "channel", "conversions", "revenue"]


def _heuristic_weights_sql(config: AttributionConfig) -> str:
    """Each position-only model's weight of touch i (1-based) of n (time decay's weights are
    the journeys' own, summed by position in decay_shares)."""
    f, m, last = (
        config.position_based.first,
        config.position_based.middle,
        config.position_based.last,
    )
    ends = f + last
    two = (  # with two touches there is no middle: the first and last split in their ratio
        f"CASE WHEN i = 1 THEN {f / ends if ends else 0.5!r} ELSE {last / ends if ends else 0.5!r} END"
    )
    return f"""
        CASE WHEN i = 1 THEN 1.0 ELSE 0.0 END AS first_touch,
        CASE WHEN i = n THEN 1.0 ELSE 0.0 END AS last_touch,
        1.0 / n AS linear,
        CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN {two}
             WHEN i = 1 THEN {f!r} WHEN i = n THEN {last!r}
             ELSE {m!r} / (n - 2) END AS position_based"""


POSITION_MODELS = tuple(m for m in HEURISTIC_MODELS if m != "time_decay")


def heuristic_attribution(
    con: duckdb.DuckDBPyConnection, counted: duckdb.DuckDBPyRelation, config: AttributionConfig
) -> duckdb.DuckDBPyRelation:
    """(snapshot_date, model, channel, conversions, revenue) for the heuristic models, from
    the converting journeys counted by path (path_conversions.count_paths).

    A path's touch i of n gets each position model's weight times the path's journeys (and
    revenue); time decay gets the journeys' own decay shares of that position, summed. All
    models are summed per channel in one pass (a column each), then turned into rows."""
    source = counted.filter("converted")  # noqa: F841 - referenced by name in the SQL below
    sums = ", ".join(
        [
            *(
                f"{exact_sum(f'{m} * CAST(journeys AS DOUBLE)')} AS {m}_conversions, "
                f"{exact_sum(f'{m} * revenue')} AS {m}_revenue"
                for m in POSITION_MODELS
            ),
            f"{exact_sum('decay_share')} AS time_decay_conversions, "
            f"{exact_sum('decay_revenue')} AS time_decay_revenue",
        ]
    )
    per_model = " UNION ALL ".join(
        f"SELECT snapshot_date, '{m}' AS model, channel, {m}_conversions AS conversions, "
        f"{m}_revenue AS revenue FROM summed"
        for m in HEURISTIC_MODELS
    )
    return con.sql(
        f"""
        WITH touches AS (
            SELECT snapshot_date, journeys, revenue, len(path) AS n,
                   unnest(path) AS channel, unnest(decay_shares) AS decay_share,
                   unnest(decay_revenue) AS decay_revenue,
                   unnest(range(1, len(path) + 1)) AS i
            FROM source WHERE len(path) > 0
        ),
        weighted AS (
            SELECT snapshot_date, channel, journeys, revenue, decay_share, decay_revenue,
                   {_heuristic_weights_sql(config)}
            FROM touches
        ),
        summed AS (
            SELECT snapshot_date, channel, {sums} FROM weighted GROUP BY ALL
        ),
        untouched AS (
            SELECT snapshot_date, m.model, '{NO_TOUCH}' AS channel,
                   CAST(sum(journeys) AS DOUBLE) AS conversions, {exact_sum("revenue")} AS revenue
            FROM source, (SELECT unnest({list(HEURISTIC_MODELS)}) AS model) m
            WHERE len(path) = 0 GROUP BY ALL
        )
        {per_model}
        UNION ALL SELECT * FROM untouched
        """
    )


START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


def distinct_paths(con: Any, counted: Any) -> Any:
    """(snapshot_date, converted, path, journeys, revenue): the journeys with a touch
    counted by their path alone (`counted` also splits them by the day they ended),
    computed once for the data-driven models to read."""
    paths = counted.filter("len(path) > 0").aggregate(
        f"snapshot_date, converted, path, sum(journeys) AS journeys, {exact_sum('revenue')} AS revenue",
        "snapshot_date, converted, path",
    )
    return computed_once(con, paths, "attribution_paths")


def transition_counts(
    con: duckdb.DuckDBPyConnection, paths: duckdb.DuckDBPyRelation
) -> pd.DataFrame:
    """(snapshot_date, source, target, moves) over every journey with a touch (`paths`:
    distinct_paths): start to the first touch, touch to touch, the last touch to conversion
    or null."""
    source = paths  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH states AS (
            SELECT snapshot_date, journeys,
                   ['{START}'] || path || [CASE WHEN converted THEN '{CONVERSION}' ELSE '{NULL}' END]
                       AS chain
            FROM source
        ),
        moves AS (
            SELECT snapshot_date, journeys, unnest(chain[1:len(chain) - 1]) AS source,
                   unnest(chain[2:len(chain)]) AS target
            FROM states
        )
        SELECT snapshot_date, source, target, CAST(sum(journeys) AS DOUBLE) AS moves
        FROM moves GROUP BY snapshot_date, source, target ORDER BY ALL
        """
    ).df()


def channel_sets(
    con: duckdb.DuckDBPyConnection, paths: duckdb.DuckDBPyRelation, max_channels: int
) -> pd.DataFrame:
    """(snapshot_date, channels, conversions, revenue): the converting journeys with a touch
    (`paths`: distinct_paths) grouped by their set of channels, the channels beyond the
    max_channels - 1 most touched of the date merged into OTHER when there are more than
    max_channels."""
    source = paths.filter("converted")  # noqa: F841 - used in the SQL
    return con.sql(
        f"""
        WITH counted AS (
            SELECT snapshot_date, channel, sum(journeys) AS touches
            FROM (SELECT snapshot_date, journeys, unnest(path) AS channel FROM source)
            GROUP BY snapshot_date, channel
        ),
        ranked AS (
            SELECT snapshot_date, channel,
                   row_number() OVER (PARTITION BY snapshot_date ORDER BY touches DESC, channel)
                       AS rank,
                   count(*) OVER (PARTITION BY snapshot_date) AS channels
            FROM counted
        ),
        kept AS (  -- each date's channels that keep their name
            SELECT snapshot_date, list(channel) FILTER (
                       WHERE channels <= {int(max_channels)} OR rank < {int(max_channels)}
                   ) AS kept
            FROM ranked GROUP BY snapshot_date
        ),
        sets AS (
            SELECT s.snapshot_date, s.journeys, s.revenue,
                   list_sort(list_distinct(list_transform(s.path, lambda c:
                       CASE WHEN list_contains(k.kept, c) THEN c ELSE '{OTHER}' END)))
                       AS channels
            FROM source s JOIN kept k USING (snapshot_date)
        )
        SELECT snapshot_date, channels, CAST(sum(journeys) AS DOUBLE) AS conversions,
               {exact_sum("revenue")} AS revenue
        FROM sets GROUP BY snapshot_date, channels ORDER BY ALL
        """
    ).df()


# -- Markov chain removal effects -----------------------------------------------------------


def _conversion_probability(
    transitions: np.ndarray, conversions: np.ndarray, nulls: np.ndarray, removed: int | None
) -> float:
    """P(conversion | start) of the absorbing chain; state 0 is start, 1.. the channels.

    `transitions[a, b]` counts moves a -> b between transient states, `conversions[a]` and
    `nulls[a]` the moves from a into the absorbing states. Removing channel k sends its
    incoming moves to null (its column is dropped: its probability mass is lost)."""
    out = transitions.sum(axis=1) + conversions + nulls
    safe = np.where(out > 0, out, 1.0)
    q = transitions / safe[:, None]
    r = conversions / safe
    if removed is not None:
        q[:, removed] = 0.0
        r[removed] = 0.0
    return float(np.linalg.solve(np.eye(len(r)) - q, r)[0])


def markov_removal_effects(moves: pd.DataFrame) -> pd.Series:
    """Removal effect of each channel from one date's (source, target, moves) counts."""
    channels = sorted(set(moves["source"]) - {START})
    index = {START: 0, **{c: i + 1 for i, c in enumerate(channels)}}
    size = len(channels) + 1
    transitions = np.zeros((size, size))
    conversions, nulls = np.zeros(size), np.zeros(size)
    source = moves["source"].map(index).to_numpy()
    target = moves["target"]
    between = target.isin(index.keys()).to_numpy()
    np.add.at(
        transitions,
        (source[between], target[between].map(index).to_numpy()),
        moves["moves"].to_numpy()[between],
    )
    np.add.at(
        conversions, source[(target == CONVERSION).to_numpy()], moves["moves"][target == CONVERSION]
    )
    np.add.at(nulls, source[(target == NULL).to_numpy()], moves["moves"][target == NULL])
    base = _conversion_probability(transitions, conversions, nulls, None)
    if base <= 0:
        return pd.Series(0.0, index=channels)
    effects = [
        1.0 - _conversion_probability(transitions, conversions, nulls, index[c]) / base
        for c in channels  # one linear solve per channel
    ]
    return pd.Series(effects, index=channels)


# -- Shapley values ---------------------------------------------------------------------------


def shapley_values(sets: pd.DataFrame, value: str) -> pd.Series:
    """Exact Shapley value of each channel, where a coalition is worth the `value` of the
    converting journeys whose channels all belong to it, from one date's channel sets."""
    channels = sorted({c for group in sets["channels"] for c in group})
    n = len(channels)
    if n == 0:
        return pd.Series(dtype=float)
    bit = {c: 1 << i for i, c in enumerate(channels)}
    masks = np.array([sum(bit[c] for c in group) for group in sets["channels"]], dtype=np.int64)
    coalitions = np.arange(1 << n)
    worth = np.bincount(masks, weights=sets[value].to_numpy(), minlength=1 << n)
    for i in range(n):  # subset sums (the zeta transform): worth of every coalition
        has = ((coalitions >> i) & 1) == 1
        worth[has] += worth[coalitions[has] ^ (1 << i)]
    sizes = np.array([bin(m).count("1") for m in coalitions])
    weight = np.array([factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)])
    values = []
    for i in range(n):  # one vectorized sum over coalitions per channel
        without = coalitions[((coalitions >> i) & 1) == 0]
        marginal = worth[without | (1 << i)] - worth[without]
        values.append(float(np.sum(weight[sizes[without]] * marginal)))
    return pd.Series(values, index=channels)


def _split(total: float, effects: pd.Series) -> pd.Series:
    positive = effects.clip(lower=0.0)
    if positive.sum() <= 0:
        return positive * 0.0
    return total * positive / positive.sum()


def data_driven_attribution(
    con: duckdb.DuckDBPyConnection,
    counted: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: AttributionConfig,
) -> pd.DataFrame:
    """(snapshot_date, model, channel, conversions, revenue) for Markov and Shapley, from
    the journeys counted by path."""
    paths = distinct_paths(con, counted)
    moves = transition_counts(con, paths)
    sets = channel_sets(con, paths, config.shapley_max_channels)
    untouched = (
        counted.filter("converted AND len(path) = 0")
        .aggregate(
            f"snapshot_date, sum(journeys) AS conversions, {exact_sum('revenue')} AS revenue",
            "snapshot_date",
        )
        .df()
    )
    frames = []
    for day in dates:  # one iteration per snapshot date of the run
        day_moves = moves[pd.to_datetime(moves["snapshot_date"]).dt.date == day]
        day_sets = sets[pd.to_datetime(sets["snapshot_date"]).dt.date == day]
        conversions, revenue = day_sets["conversions"].sum(), day_sets["revenue"].sum()
        effects = markov_removal_effects(day_moves) if len(day_moves) else pd.Series(dtype=float)
        share = _split(1.0, effects)
        by_model = {
            "markov": (conversions * share, revenue * share),
            "shapley": (
                shapley_values(day_sets, "conversions"),
                shapley_values(day_sets, "revenue"),
            ),
        }
        for model, (conv, rev) in by_model.items():
            frames.append(
                pd.DataFrame(
                    {
                        "snapshot_date": day,
                        "model": model,
                        "channel": conv.index,
                        "conversions": conv.to_numpy(),
                        "revenue": rev.reindex(conv.index).fillna(0.0).to_numpy(),
                    }
                )
            )
    for model in DATA_DRIVEN_MODELS:  # conversions without a touch, as in the heuristic models
        frames.append(
            untouched.assign(
                snapshot_date=pd.to_datetime(untouched["snapshot_date"]).dt.date,
                model=model,
                channel=NO_TOUCH,
                conversions=untouched["conversions"].astype(float),
            )[ATTRIBUTION_COLUMNS]
        )
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in ("model", "channel") else float)
                for c in ATTRIBUTION_COLUMNS
            }
        ).assign(snapshot_date=pd.Series(dtype="datetime64[ns]"))
    return pd.concat(frames, ignore_index=True)[ATTRIBUTION_COLUMNS]


def compute_attribution(
    con: duckdb.DuckDBPyConnection,
    counted: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: AttributionConfig,
) -> duckdb.DuckDBPyRelation:
    """Every model's conversions and revenue per channel and date, with each channel's share
    of the date's conversions and revenue under that model, from the date's reported
    journeys counted by path (path_conversions.count_paths, window_paths)."""
    heuristic = heuristic_attribution(con, counted, config)  # noqa: F841
    data_driven = data_driven_attribution(con, counted, dates, config)  # noqa: F841
    share_of = "PARTITION BY snapshot_date, model"
    return con.sql(
        f"""
        WITH every AS (
            SELECT snapshot_date, model, channel, conversions, revenue FROM heuristic
            UNION ALL
            SELECT CAST(snapshot_date AS DATE), model, channel, conversions, revenue
            FROM data_driven
        )
        SELECT snapshot_date, model, channel, CAST(conversions AS DOUBLE) AS conversions,
               CAST(revenue AS DOUBLE) AS revenue,
               conversions / nullif({exact_sum("conversions", over=share_of)}, 0)
                   AS share_of_conversions,
               revenue / nullif({exact_sum("revenue", over=share_of)}, 0) AS share_of_revenue
        FROM every
        ORDER BY snapshot_date, model, channel
        """
    )
