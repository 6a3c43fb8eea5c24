"""The decision engine: one next-best action per customer from ordered rules, its cost,
expected return and ROI, and a plain-English explanation naming the figures behind it.

Also the alerts: customers worth watching whose risk level rose since the previous date.
"""

from __future__ import annotations

import duckdb

from engagement_pipeline.analytics.risk import TOP_SIGNALS, level_rank_sql
from engagement_pipeline.config import ActionCondition, ActionsConfig, AlertsConfig
from engagement_pipeline.sql import quote_literal

ALERT_COLUMNS = (
    "snapshot_date",
    "customer_id",
    "risk_score",
    "risk_level",
    "previous_risk_level",
    "value_segment",
    "predicted_value",
    "action",
    "expected_return",
    "explanation",
)


def _in_list(column: str, values: list[str] | None) -> str | None:
    if values is None:
        return None
    return f"{column} IN ({', '.join(quote_literal(v) for v in values)})"


def condition_sql(when: ActionCondition) -> str:
    """A rule's conditions as SQL: every listed field holds one of its values."""
    parts = [
        _in_list("rfm_segment", when.rfm_segments),
        _in_list("lifecycle_stage", when.lifecycle_stages),
        _in_list("value_segment", when.value_segments),
        _in_list("risk_level", when.risk_levels),
    ]
    # coalesce: a customer without an RFM segment does not match a rule that asks for one
    return " AND ".join(f"coalesce({p}, false)" for p in parts if p) or "true"


def action_rank_sql(config: ActionsConfig) -> str:
    """The 1-based position of the first rule that holds (the last rule always holds)."""
    whens = " ".join(
        f"WHEN {condition_sql(r.when)} THEN {i}" for i, r in enumerate(config.rules[:-1], 1)
    )
    return f"CASE {whens} ELSE {len(config.rules)} END"


def whole_sql(number: str) -> str:
    """A number rounded to a whole one, as text: the same as format('{:.0f}') (ties to even)
    without a formatting call per row, which was most of the explanations' cost."""
    return f"CAST(CAST(round_even({number}, 0) AS BIGINT) AS VARCHAR)"


def money_sql(amount: str) -> str:
    """Whole dollars from $100 and for whole amounts ($1,240, $15), cents below ($1.20).
    Below $999.50 whole dollars need no thousands separator, so no formatting call."""
    return (
        f"'$' || CASE WHEN abs({amount}) >= 100 OR {amount} = round({amount}) "
        f"THEN CASE WHEN abs({amount}) < 999.5 THEN {whole_sql(amount)} "
        f"ELSE format('{{:,.0f}}', {amount}) END "
        f"ELSE format('{{:,.2f}}', {amount}) END"
    )


def signal_phrase_sql(signal: str, window_days: int) -> str:
    """The sentence for one signal, naming its figures."""
    w = int(window_days)
    return f"""CASE {signal}
        WHEN 'recency' THEN days_since_last_purchase || CASE WHEN purchase_days = 1
             THEN ' days since the only purchase day against a default gap of '
             ELSE ' days since last purchase against a usual gap of ' END
             || {whole_sql("usual_gap_days")}
        WHEN 'engagement' THEN 'engagement events down ' || {whole_sql("-100.0 * events_change")}
             || '% on the previous {w} days'
        WHEN 'spend' THEN 'spend down ' || {whole_sql("-100.0 * spend_change")}
             || '% on the previous {w} days'
        WHEN 'support' THEN 'support contacts up from ' || previous_support_contacts || ' to '
             || recent_support_contacts || ' on the previous {w} days'
        WHEN 'churn_probability' THEN 'P(alive) ' || {whole_sql("100.0 * p_alive")}
             || '% by the purchase model'
    END"""


def explanation_sql(window_days: int) -> str:
    phrases = ", ".join(
        signal_phrase_sql(f"signal_{i}", window_days) for i in range(1, TOP_SIGNALS + 1)
    )
    return f"""'Risk ' || {whole_sql("risk_score")} || ' (' || risk_level || '): '
        || coalesce(nullif(concat_ws('; ', {phrases}), ''), 'no risk signal')
        || '; predicted value ' || {money_sql("predicted_value")} || '. '
        || CASE WHEN cost = 0 AND expected_return = 0 THEN action || '.'
                ELSE action || ': cost ' || {money_sql("cost")} || ', expected return '
                     || {money_sql("expected_return")} || '.' END"""


def compute_actions(
    con: duckdb.DuckDBPyConnection,
    risk: duckdb.DuckDBPyRelation,
    lifecycle: duckdb.DuckDBPyRelation,
    rfm: duckdb.DuckDBPyRelation,
    config: ActionsConfig,
    window_days: int,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and snapshot date: the first rule that holds, its economics and
    the explanation.

    value_at_stake is the predicted value (benefit value_at_risk), the predicted value times
    actions.upside_rate (upside) or 0 (none); the expected return is that times the rule's
    success rate; ROI = (expected return - cost) / cost, empty for a rule that costs nothing.
    """
    r, lc, f = risk, lifecycle, rfm  # noqa: F841 - referenced by name in the SQL below
    rules = con.sql(  # noqa: F841 - referenced by name in the SQL below
        "SELECT * FROM (VALUES "
        + ", ".join(
            f"({i}, {quote_literal(rule.name)}, {float(rule.cost)!r}::DOUBLE, "
            f"{quote_literal(rule.benefit)}, {float(rule.success_rate)!r}::DOUBLE)"
            for i, rule in enumerate(config.rules, 1)
        )
        + ") AS v(action_rank, action, cost, benefit_basis, success_rate)"
    )
    upside = float(config.upside_rate)
    return con.sql(
        f"""
        WITH profile AS (
            SELECT CAST(lc.snapshot_date AS DATE) AS snapshot_date, lc.customer_id,
                   f.rfm_segment, lc.lifecycle_stage, lc.value_segment, lc.predicted_value,
                   r.* EXCLUDE (snapshot_date, customer_id)
            FROM lc
            JOIN r ON CAST(r.snapshot_date AS DATE) = CAST(lc.snapshot_date AS DATE)
                  AND r.customer_id = lc.customer_id
            LEFT JOIN f ON CAST(f.snapshot_date AS DATE) = CAST(lc.snapshot_date AS DATE)
                       AND f.customer_id = lc.customer_id
        ),
        decided AS (
            SELECT p.*, rules.* EXCLUDE (action_rank), rules.action_rank
            FROM (SELECT *, {action_rank_sql(config)} AS rank_ FROM profile) p
            JOIN rules ON rules.action_rank = p.rank_
        ),
        valued AS (
            SELECT *,
                   CASE benefit_basis WHEN 'value_at_risk' THEN predicted_value
                                      WHEN 'upside' THEN predicted_value * {upside!r}
                                      ELSE 0.0 END AS value_at_stake
            FROM decided
        ),
        returned AS (
            SELECT *, value_at_stake * success_rate AS expected_return FROM valued
        )
        SELECT snapshot_date, customer_id, rfm_segment, lifecycle_stage, value_segment,
               predicted_value, risk_score, risk_level, previous_risk_level,
               action, action_rank, cost, benefit_basis, value_at_stake, success_rate,
               expected_return,
               CASE WHEN cost > 0 THEN (expected_return - cost) / cost END AS roi,
               {explanation_sql(window_days)} AS explanation
        FROM returned
        ORDER BY snapshot_date, customer_id
        """
    )


def compute_alerts(
    con: duckdb.DuckDBPyConnection, actions: duckdb.DuckDBPyRelation, config: AlertsConfig
) -> duckdb.DuckDBPyRelation:
    """One row per alert: a customer of an alerting value segment whose risk level rose
    into an alerting level since the previous date (from no level at all: a customer first
    scored that day). A customer still at the same level is not alerted again."""
    a = actions  # noqa: F841 - referenced by name in the SQL below
    values = ", ".join(quote_literal(v) for v in config.value_segments)
    levels = ", ".join(quote_literal(v) for v in config.risk_levels)
    return con.sql(
        f"""
        SELECT {", ".join(ALERT_COLUMNS)} FROM a
        WHERE value_segment IN ({values}) AND risk_level IN ({levels})
          AND {level_rank_sql("risk_level")} > coalesce({level_rank_sql("previous_risk_level")}, -1)
        ORDER BY snapshot_date, risk_score DESC, customer_id
        """
    )
