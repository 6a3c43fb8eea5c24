"""The risk engine: signals in [0, 1], a weighted 0-100 score, a level and the top signals.

Each signal says how strongly one kind of evidence points to the customer slipping away
(see docs/decision_logic.md, "Risk"):

- recency: days since the last purchase against the customer's usual gap between
  purchase days (0 at the usual gap or sooner, 1 at risk.overdue_ratio_at_max times it),
- engagement, spend: the fall of the last trend window against the one before (a 40%
  fall is 0.4; rises are 0),
- support: more support contacts than in the previous window (1 at
  risk.support_rise_at_max more),
- churn_probability: 1 - P(alive) from customer_clv, where the model fitted.

A signal that cannot be measured (no purchase yet, no fitted model) is left out and the
score is the weighted mean of the others: 100 * sum(w * s) / sum(w over measured signals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.state import day_before
from engagement_pipeline.config import RISK_LEVELS, RISK_SIGNALS, RiskConfig
from engagement_pipeline.sql import quote_literal

TOP_SIGNALS = 3


def level_sql(score: str, config: RiskConfig) -> str:
    levels = config.levels
    return (
        f"CASE WHEN {score} >= {levels.critical!r} THEN 'critical' "
        f"WHEN {score} >= {levels.high!r} THEN 'high' "
        f"WHEN {score} >= {levels.medium!r} THEN 'medium' ELSE 'low' END"
    )


def level_rank_sql(level: str) -> str:
    """0 for low .. 3 for critical (NULL stays NULL)."""
    whens = " ".join(f"WHEN {quote_literal(v)} THEN {i}" for i, v in enumerate(RISK_LEVELS))
    return f"CASE {level} {whens} END"


def _signals_sql(config: RiskConfig) -> str:
    at_max = float(config.overdue_ratio_at_max)
    return f"""
        CASE WHEN days_since_last_purchase IS NOT NULL THEN
             least(1.0, greatest(0.0, (days_since_last_purchase / usual_gap_days - 1.0)
                                      / {at_max - 1.0!r})) END AS recency_signal,
        CASE WHEN events_change < 0 THEN least(1.0, -events_change) ELSE 0.0 END
            AS engagement_signal,
        CASE WHEN spend_change < 0 THEN least(1.0, -spend_change) ELSE 0.0 END AS spend_signal,
        least(1.0, greatest(0.0, (recent_support_contacts - previous_support_contacts)
                                 / {float(config.support_rise_at_max)!r})) AS support_signal,
        CASE WHEN p_alive IS NOT NULL THEN 1.0 - p_alive END AS churn_probability_signal"""


def _contribution_sql(signal: str) -> str:
    return f"coalesce(contribution_{signal}, 0.0)"


def _places_sql() -> str:
    """Each signal's place among the five: how many come before it, by contribution
    (largest first), ties in the order of RISK_SIGNALS. Scalar comparisons: a list sorted
    per customer cost a third of the asset at 1,000,000 customers."""
    places = []
    for i, s in enumerate(RISK_SIGNALS):
        ahead = " + ".join(
            f"CAST({_contribution_sql(t)} {'>=' if j < i else '>'} {_contribution_sql(s)} "
            "AS INTEGER)"
            for j, t in enumerate(RISK_SIGNALS)
            if t != s
        )
        places.append(f"{ahead} AS place_{s}")
    return ", ".join(places)


def _top_signals_sql(table: str) -> str:
    """signal_1..3 and contribution_1..3: the signals with a positive contribution, largest
    first; NULL where fewer signals contributed."""
    columns = []
    for n in range(1, TOP_SIGNALS + 1):
        at = [
            (s, f"{table}.contribution_{s} > 0 AND {table}.place_{s} = {n - 1}")
            for s in RISK_SIGNALS
        ]
        signal = " ".join(f"WHEN {cond} THEN {quote_literal(s)}" for s, cond in at)
        points = " ".join(f"WHEN {cond} THEN {table}.contribution_{s}" for s, cond in at)
        columns += [f"CASE {signal} END AS signal_{n}", f"CASE {points} END AS contribution_{n}"]
    return ", ".join(columns)


def compute_risk(
    con: duckdb.DuckDBPyConnection,
    trends: duckdb.DuckDBPyRelation,
    customer_clv: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    config: RiskConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer of customer_trends and snapshot date: the figures behind each
    signal, the signals, their contributions, the score, level, the previous date's level
    and the top three signals.

    The previous level comes from this asset's own row of the day before (`earlier` for
    the run's first date, the run's own rows after it); NULL for a customer not scored then.
    """
    t, clv = trends, customer_clv  # noqa: F841 - referenced by name in the SQL below
    previous_day = day_before(earlier, min(dates))
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    w = config.weights
    weighted = [f"{w[s]!r} * {s}_signal" for s in RISK_SIGNALS]
    measured = " + ".join(
        f"CASE WHEN {s}_signal IS NOT NULL THEN {w[s]!r} ELSE 0.0 END" for s in RISK_SIGNALS
    )
    contributions = ", ".join(
        f"CASE WHEN measured_weight > 0 THEN 100.0 * {term} / measured_weight END "
        f"AS contribution_{s}"
        for s, term in zip(RISK_SIGNALS, weighted, strict=True)
    )
    score = " + ".join(_contribution_sql(s) for s in RISK_SIGNALS)
    # The previous level: the run's first date finds it in the day before the run (joined
    # to the narrow input rows, so the hash table holds three columns, not the scored rows);
    # a later date of the run, in the run's own rows.
    if previous_day is None:
        previous_day = con.sql(  # noqa: F841 - referenced by name in the SQL below
            "SELECT NULL::DATE AS snapshot_date, NULL::VARCHAR AS customer_id, "
            "NULL::VARCHAR AS risk_level WHERE false"
        )
    within_run = len(set(dates)) > 1
    own_levels = (
        """LEFT JOIN leveled o
          ON o.customer_id = l.customer_id AND o.snapshot_date = l.snapshot_date - 1"""
        if within_run
        else ""
    )
    previous_level = (
        "coalesce(l.level_before_run, o.risk_level)" if within_run else "l.level_before_run"
    )
    default_gap = float(config.default_gap_days)
    return con.sql(
        f"""
        WITH base AS (
            SELECT CAST(t.snapshot_date AS DATE) AS snapshot_date, t.customer_id,
                   CASE WHEN t.last_purchase_date IS NOT NULL
                        THEN date_diff('day', t.last_purchase_date, CAST(t.snapshot_date AS DATE))
                   END AS days_since_last_purchase,
                   t.purchase_days,
                   CASE WHEN t.purchase_days >= 2
                        THEN greatest(1.0, date_diff('day', t.first_purchase_date,
                                                     t.last_purchase_date)
                                           / (t.purchase_days - 1))
                        WHEN t.purchase_days = 1 THEN {default_gap!r} END AS usual_gap_days,
                   t.recent_events, t.previous_events, t.events_change,
                   t.recent_spend, t.previous_spend, t.spend_change,
                   t.recent_support_contacts, t.previous_support_contacts,
                   c.p_alive, p.risk_level AS level_before_run
            FROM t LEFT JOIN clv c
              ON CAST(c.snapshot_date AS DATE) = CAST(t.snapshot_date AS DATE)
             AND c.customer_id = t.customer_id
            LEFT JOIN previous_day p
              ON p.customer_id = t.customer_id
             AND CAST(p.snapshot_date AS DATE) = CAST(t.snapshot_date AS DATE) - 1
            WHERE CAST(t.snapshot_date AS DATE) IN (SELECT snapshot_date FROM run_dates)
        ),
        signals AS (SELECT *, {_signals_sql(config)} FROM base),
        weighed AS (SELECT *, {measured} AS measured_weight FROM signals),
        contributed AS (SELECT *, {contributions} FROM weighed),
        scored AS (SELECT *, {score} AS risk_score, {_places_sql()} FROM contributed),
        leveled AS {"MATERIALIZED" if within_run else ""} (
            SELECT *, {level_sql("risk_score", config)} AS risk_level FROM scored
        )
        SELECT l.snapshot_date, l.customer_id,
               l.days_since_last_purchase, l.purchase_days, l.usual_gap_days,
               l.recent_events, l.previous_events, l.events_change,
               l.recent_spend, l.previous_spend, l.spend_change,
               l.recent_support_contacts, l.previous_support_contacts, l.p_alive,
               {", ".join(f"l.{s}_signal" for s in RISK_SIGNALS)},
               {", ".join(f"l.contribution_{s}" for s in RISK_SIGNALS)},
               l.risk_score, l.risk_level, {previous_level} AS previous_risk_level,
               {_top_signals_sql("l")}
        FROM leveled l {own_levels}
        ORDER BY l.snapshot_date, l.customer_id
        """
    )
