"""The report's customer-intelligence sections: RFM segments, lifecycle stages, risk,
actions and alerts of each snapshot date, as JSON-ready rows (the API returns the same)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from engagement_pipeline.analytics.decisions import ALERT_COLUMNS
from engagement_pipeline.config import LIFECYCLE_STAGES, RISK_LEVELS, Config
from engagement_pipeline.sql import exact_mean, exact_sum, quote_ident, ranked_values_sql

ALERTS_CSV = "alerts.csv"
SECTIONS = ("rfm_segments", "lifecycle_stages", "risk_levels", "actions", "alerts")


def _ordered(values: list[str] | tuple[str, ...]) -> str:
    """A relation of (name, rank) in the given order: every name listed, even with no one."""
    return ranked_values_sql(values)


def rows_by_date(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, list[dict[str, Any]]]:
    """Run a query with a snapshot_date column; its rows grouped per date (without it)."""
    rel = con.sql(query)
    columns = rel.columns
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rel.fetchall():  # a handful of summary rows per date
        record = dict(zip(columns, row, strict=True))
        out[str(record.pop("snapshot_date"))[:10]].append(record)
    return out


def intelligence_sections(
    con: duckdb.DuckDBPyConnection,
    rfm: duckdb.DuckDBPyRelation,
    lifecycle: duckdb.DuckDBPyRelation,
    actions: duckdb.DuckDBPyRelation,
    alerts: duckdb.DuckDBPyRelation,
    config: Config,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """date -> section -> rows. Every configured segment, stage, level and action is listed
    on every date, with zero customers where none."""
    # Named views: the queries below are built in a nested function, out of reach of
    # DuckDB's lookup of Python variables.
    for name, rel in (("r", rfm), ("lc", lifecycle), ("a", actions), ("al", alerts)):
        rel.create_view(f"_report_{name}", replace=True)
    dates = "(SELECT DISTINCT CAST(snapshot_date AS DATE) AS snapshot_date FROM _report_lc)"
    totals = "(SELECT CAST(snapshot_date AS DATE) AS snapshot_date, count(*) AS n FROM _report_lc GROUP BY 1)"
    share = "coalesce(g.customer_count, 0) / t.n"

    def section(names: str, grouped: str, key: str, figures: list[str]) -> dict:
        columns = ", ".join(f"g.{quote_ident(f)}" for f in figures)
        return rows_by_date(
            con,
            f"""
            SELECT d.snapshot_date, o.name AS {key}, coalesce(g.customer_count, 0) AS customer_count,
                   {share} AS share, {columns}
            FROM {dates} d CROSS JOIN {names} o JOIN {totals} t USING (snapshot_date)
            LEFT JOIN ({grouped}) g ON g.snapshot_date = d.snapshot_date AND g.name = o.name
            ORDER BY d.snapshot_date, o.rank
            """,
        )

    cost, gain = exact_sum("cost"), exact_sum("expected_return")
    sections = {
        "rfm_segments": section(
            _ordered(config.rfm.segment_names()),
            f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, rfm_segment AS name,
                      count(*) AS customer_count, {exact_sum("monetary")} AS total_revenue,
                      avg(recency_days) AS avg_recency_days, avg(frequency) AS avg_frequency,
                      {exact_mean("monetary")} AS avg_monetary
               FROM _report_r GROUP BY ALL""",
            "segment",
            ["total_revenue", "avg_recency_days", "avg_frequency", "avg_monetary"],
        ),
        "lifecycle_stages": section(
            _ordered(LIFECYCLE_STAGES),
            f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, lifecycle_stage AS name,
                      count(*) AS customer_count, {exact_sum("monetary")} AS total_revenue,
                      count(*) FILTER (WHERE value_segment = 'high') AS high_value,
                      count(*) FILTER (WHERE value_segment = 'medium') AS medium_value,
                      count(*) FILTER (WHERE value_segment = 'low') AS low_value
               FROM _report_lc GROUP BY ALL""",
            "stage",
            ["total_revenue", "high_value", "medium_value", "low_value"],
        ),
        "risk_levels": section(
            _ordered(RISK_LEVELS),
            f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, risk_level AS name,
                      count(*) AS customer_count, {exact_mean("risk_score")} AS avg_risk_score,
                      {exact_sum("predicted_value")} AS predicted_value
               FROM _report_a GROUP BY ALL""",
            "level",
            ["avg_risk_score", "predicted_value"],
        ),
        "actions": section(
            _ordered([rule.name for rule in config.actions.rules]),
            f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, action AS name,
                      count(*) AS customer_count, {cost} AS total_cost,
                      {gain} AS total_expected_return,
                      CASE WHEN {cost} > 0 THEN ({gain} - {cost}) / {cost} END AS roi
               FROM _report_a GROUP BY ALL""",
            "action",
            ["total_cost", "total_expected_return", "roi"],
        ),
    }
    alert_rows = rows_by_date(
        con,
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM _report_al ORDER BY snapshot_date, risk_score DESC, customer_id",
    )
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for date in sections["rfm_segments"].keys() | sections["lifecycle_stages"].keys():
        out[date] = {name: rows.get(date, []) for name, rows in sections.items()}
        out[date]["alerts"] = alert_rows.get(date, [])
    return out


def write_alerts_csv(alerts: duckdb.DuckDBPyRelation, folder: Path, *, day: dt.date) -> Path:
    """reports/<date>/alerts.csv: that date's alerts (a header alone when there are none)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, tmp = folder / ALERTS_CSV, folder / (ALERTS_CSV + ".tmp")
    on_day = alerts.filter(f"CAST(snapshot_date AS DATE) = DATE '{day.isoformat()}'")
    on_day.project(", ".join(ALERT_COLUMNS)).order("risk_score DESC, customer_id").write_csv(
        str(tmp), header=True
    )
    tmp.replace(path)
    return path
