"""The Python API: load_config and process_engagement_analysis, run by the stages the assets are built from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from engagement_pipeline.analytics.engagement import touchpoint_count_column
from engagement_pipeline.analytics.report import build_report_document, overall_metrics
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.models import (
    CustomerMetrics,
    EngagementAnalysis,
    SegmentAnalysis,
    SegmentTier,
    TouchpointType,
)
from engagement_pipeline.sql import new_connection, scalar
from engagement_pipeline.stages import (
    CUSTOMER_SEGMENTS,
    ENGAGEMENT_SCORES,
    RAW_ENGAGEMENT_EVENTS,
    RAW_PURCHASES,
    SEGMENT_STRATEGIES,
    run_stages,
)

__all__ = ["load_config", "process_engagement_analysis"]


def _latest_data_date(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
) -> dt.date | None:
    return scalar(
        con,
        "SELECT max(d) FROM (SELECT max(snapshot_date) AS d FROM events "
        "UNION ALL SELECT max(snapshot_date) FROM purchases)",
    )


def _customer_metrics(frame: pd.DataFrame) -> list[CustomerMetrics]:
    # The API returns one object per customer by contract; the numbers are computed in SQL.
    records = frame.to_dict("records")
    return [
        CustomerMetrics(
            customer_id=r["customer_id"],
            lifetime_value=r["lifetime_value"],
            total_revenue=r["total_revenue"],
            purchase_count=r["purchase_count"],
            engagement_score=r["engagement_score"],
            touchpoint_count={t: int(r[touchpoint_count_column(t)]) for t in TouchpointType},
            last_engagement_date=None
            if pd.isna(r["last_engagement_date"])
            else pd.Timestamp(r["last_engagement_date"]).to_pydatetime(),
            days_since_last_engagement=None
            if pd.isna(r["days_since_last_engagement"])
            else int(r["days_since_last_engagement"]),
            segment=SegmentTier(r["segment"]),
        )
        for r in records
    ]


def analyze(config: Config, snapshot_date: dt.date | None = None) -> EngagementAnalysis:
    """The full analysis of one snapshot date for an already-loaded configuration."""
    con = new_connection()
    last = snapshot_date or config.snapshots.end_date or dt.date(9999, 12, 31)
    events = validate_events(con, config, config.snapshots.start_date, last).loaded
    purchases = validate_purchases(con, config, config.snapshots.start_date, last).loaded
    if snapshot_date is None:
        snapshot_date = config.snapshots.end_date or _latest_data_date(con, events, purchases)
        if snapshot_date is None:
            snapshot_date = config.snapshots.start_date
    computed = run_stages(
        con, {RAW_ENGAGEMENT_EVENTS: events, RAW_PURCHASES: purchases}, [snapshot_date], config
    )
    segments = computed[CUSTOMER_SEGMENTS]  # noqa: F841 - referenced by name in the SQL below
    scores = computed[ENGAGEMENT_SCORES]  # noqa: F841 - referenced by name in the SQL below
    strategies = computed[SEGMENT_STRATEGIES].df()
    overall = overall_metrics(con, computed[CUSTOMER_SEGMENTS])
    counts = ", ".join(f"s.{touchpoint_count_column(t)}" for t in TouchpointType)
    per_customer = con.sql(
        f"SELECT g.*, {counts} FROM segments g JOIN scores s USING (snapshot_date, customer_id) "
        "ORDER BY g.customer_id"
    ).df()
    if len(overall):
        document = build_report_document(snapshot_date, overall.iloc[0], strategies)
        metrics = {k: float(v or 0.0) for k, v in document["overall_metrics"].items()}
    else:
        metrics = {"total_customers": 0.0}
    return EngagementAnalysis(
        snapshot_date=snapshot_date,
        total_customers=len(per_customer),
        customer_metrics=_customer_metrics(per_customer),
        segment_analyses=[
            SegmentAnalysis(
                segment=SegmentTier(row["segment"]),
                customer_count=int(row["customer_count"]),
                avg_ltv=float(row["avg_ltv"]),
                avg_engagement_score=float(row["avg_engagement_score"]),
                total_revenue=float(row["total_revenue"]),
                recommendations=list(row["recommendations"]),
            )
            for _, row in strategies.iterrows()
        ],
        overall_metrics=metrics,
        generated_at=dt.datetime.combine(snapshot_date, dt.time(23, 59, 59)),
    )


def process_engagement_analysis(
    config_path: str | Path | None = None, snapshot_date: dt.date | str | None = None
) -> EngagementAnalysis:
    """Load config and data and return the analysis as of `snapshot_date`.

    snapshot_date defaults to snapshots.end_date, else the latest date in the data (never
    today's date, so the result is reproducible). Raises FileNotFoundError for a missing
    config or data file and ValueError for an invalid configuration.
    """
    if isinstance(snapshot_date, str):
        try:
            snapshot_date = dt.date.fromisoformat(snapshot_date)
        except ValueError:
            raise ValueError(f"snapshot_date must be YYYY-MM-DD, got {snapshot_date!r}") from None
    return analyze(load_config(config_path), snapshot_date)
