"""What the dashboard and the `report` command show, read from the lake.

Read-only: an in-memory DuckDB connection reads the Parquet partitions (never the
catalog file, whose lock a running pipeline may hold), and a partition replaced while it
is read is replaced by a rename, so a reader sees the old file or the new one, never half.
The figures come from the same functions that write the report (report_documents): the
dashboard formats them and computes nothing of its own.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from engagement_pipeline.analytics.report import REPORT_INPUTS, report_documents
from engagement_pipeline.config import Config
from engagement_pipeline.lake import open_lake
from engagement_pipeline.sql import new_connection, quote_literal
from engagement_pipeline.stages import (
    CUSTOMER_LIFECYCLE,
    CUSTOMER_RFM,
    CUSTOMER_RISK,
    CUSTOMER_SEGMENTS,
    NEXT_BEST_ACTIONS,
)

# the per-customer table of the risk-and-actions view and the customer lookup: what a
# reader acts on first (risk, action and its return), then the figures behind it
CUSTOMER_COLUMNS = """
    g.customer_id, g.segment, k.risk_score, k.risk_level, a.action, a.expected_return, a.cost,
    a.roi, g.lifetime_value, g.predicted_clv, g.p_alive, g.total_revenue, g.purchase_count,
    g.engagement_score, g.days_since_last_activity, g.country,
    f.rfm_segment, f.rfm_code, l.lifecycle_stage, l.value_segment, k.previous_risk_level,
    k.signal_1, k.contribution_1, k.signal_2, k.contribution_2, k.signal_3, k.contribution_3,
    a.explanation
"""
CUSTOMER_ASSETS = (
    CUSTOMER_SEGMENTS,
    CUSTOMER_RFM,
    CUSTOMER_LIFECYCLE,
    CUSTOMER_RISK,
    NEXT_BEST_ACTIONS,
)
FILTERS = ("segment", "rfm_segment", "risk_level", "action", "country")
HISTORY = ("lifetime_value", "predicted_clv", "engagement_score", "segment")


class LakeReader:
    """The report documents, customers and history of a lake, by snapshot date."""

    def __init__(self, config: Config):
        self.config = config
        self.lake = open_lake(config)
        self.con: duckdb.DuckDBPyConnection = new_connection()

    def dates(self) -> list[str]:
        """Snapshot dates whose every report input is in the lake, oldest first."""
        keys = [self.lake.existing_keys(a) for a in REPORT_INPUTS]
        return sorted(set.intersection(*keys)) if keys else []

    def _rows(self, asset: str, day: str) -> duckdb.DuckDBPyRelation:
        return self.lake.read(self.con, asset, [day])

    def document(self, day: str) -> dict[str, Any]:
        """The report document of one date: what its Markdown, JSON and HTML say."""
        assets = {a: self._rows(a, day) for a in REPORT_INPUTS}
        return report_documents(self.con, assets, self.config)[day]

    def trend(self) -> pd.DataFrame:
        """Per snapshot date: customers, revenue to date, average LTV and engagement (the
        report asset's headline row of every materialized date)."""
        days = sorted(self.lake.existing_keys("engagement_report"))
        if not days:
            return pd.DataFrame()
        return (
            self.lake.read(self.con, "engagement_report", days)
            .project("snapshot_date, total_customers, total_revenue, avg_ltv, avg_engagement_score")
            .order("snapshot_date")
            .df()
        )

    def _customer_rows(self, day: str, where: str) -> pd.DataFrame:
        """The per-customer table of the date (CUSTOMER_COLUMNS) for the rows `where` keeps."""
        for alias, asset in zip("gflka", CUSTOMER_ASSETS, strict=True):
            self._rows(asset, day).create_view(f"_dash_{alias}", replace=True)
        return self.con.sql(
            f"""
            SELECT * FROM (
                SELECT {CUSTOMER_COLUMNS}
                FROM _dash_g g
                LEFT JOIN _dash_f f USING (customer_id)
                LEFT JOIN _dash_l l USING (customer_id)
                LEFT JOIN _dash_k k USING (customer_id)
                LEFT JOIN _dash_a a USING (customer_id)
            ) WHERE {where}
            ORDER BY risk_score DESC NULLS LAST, customer_id
            """
        ).df()

    def customers(self, day: str, **filters: list[str]) -> pd.DataFrame:
        """Every customer of the date with segment, RFM, lifecycle, risk and action; `filters`
        (segment, rfm_segment, risk_level, action, country) keep the listed values."""
        where = " AND ".join(
            f"{column} IN ({', '.join(quote_literal(v) for v in values)})"
            for column, values in filters.items()
            if values and column in FILTERS
        )
        return self._customer_rows(day, where or "true")

    def customer(self, day: str, customer_id: str) -> dict[str, Any] | None:
        """Every figure of one customer on the date, or None when the date has no such customer."""
        rows = self._customer_rows(day, f"customer_id = {quote_literal(customer_id)}")
        return None if rows.empty else rows.iloc[0].to_dict()

    def customer_history(self, customer_id: str, until: str) -> pd.DataFrame:
        """One customer's LTV, predicted CLV, engagement, segment and risk on every date up
        to `until`."""
        days = [d for d in self.dates() if d <= until]
        if not days:
            return pd.DataFrame()
        who = f"customer_id = {quote_literal(customer_id)}"
        segments = self.lake.read(self.con, CUSTOMER_SEGMENTS, days).filter(who)  # noqa: F841
        risk = self.lake.read(self.con, CUSTOMER_RISK, days).filter(who)  # noqa: F841
        return self.con.sql(
            f"""SELECT g.snapshot_date, {", ".join("g." + c for c in HISTORY)}, k.risk_score,
                       k.risk_level
                FROM segments g LEFT JOIN risk k USING (snapshot_date, customer_id)
                ORDER BY g.snapshot_date"""
        ).df()

    def values(self, day: str, column: str) -> list[str]:
        """The values a filter can take on the date (from the customers table)."""
        return sorted(v for v in self.customers(day)[column].dropna().unique())
