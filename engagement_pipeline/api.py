"""The Python API: load_config and process_engagement_analysis, run by the stages the assets are built from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from engagement_pipeline.analytics.engagement import touchpoint_count_column
from engagement_pipeline.analytics.intelligence_report import SECTIONS
from engagement_pipeline.analytics.journeys_report import (
    JOURNEY_SECTIONS,
)
from engagement_pipeline.analytics.report import report_documents
from engagement_pipeline.analytics.risk import TOP_SIGNALS
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.models import (
    CustomerMetrics,
    EngagementAnalysis,
    RiskContribution,
    SegmentAnalysis,
    SegmentTier,
    TouchpointType,
)
from engagement_pipeline.sql import new_connection, scalar
from engagement_pipeline.stages import (
    CUSTOMER_LIFECYCLE,
    CUSTOMER_RFM,
    CUSTOMER_RISK,
    CUSTOMER_SEGMENTS,
    CUSTOMER_TRENDS,
    ENGAGEMENT_SCORES,
    NEXT_BEST_ACTIONS,
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


def _optional(value: object) -> object:
    return None if pd.isna(value) else value


def _top_signals(r: dict) -> list[RiskContribution]:
    return [
        RiskContribution(signal=r[f"signal_{i}"], contribution=r[f"contribution_{i}"])
        for i in range(1, TOP_SIGNALS + 1)
        if not pd.isna(r[f"signal_{i}"])
    ]


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
            rfm_segment=_optional(r["rfm_segment"]),
            rfm_code=_optional(r["rfm_code"]),
            r_score=_optional(r["r_score"]),
            f_score=_optional(r["f_score"]),
            m_score=_optional(r["m_score"]),
            lifecycle_stage=r["lifecycle_stage"],
            value_segment=r["value_segment"],
            predicted_value=r["predicted_value"],
            events_direction=r["events_direction"],
            spend_direction=r["spend_direction"],
            risk_score=r["risk_score"],
            risk_level=r["risk_level"],
            previous_risk_level=_optional(r["previous_risk_level"]),
            top_risk_signals=_top_signals(r),
            next_best_action=r["action"],
            action_cost=r["cost"],
            expected_return=r["expected_return"],
            roi=_optional(r["roi"]),
            explanation=r["explanation"],
        )
        for r in records
    ]


def computed_on(
    con: duckdb.DuckDBPyConnection, config: Config, snapshot_date: dt.date | None
) -> tuple[dt.date, dict[str, duckdb.DuckDBPyRelation]]:
    """Every asset's rows of one snapshot date (default: the config's end, else the data's
    last day), computed from the sources' whole history without the lake."""
    first = config.snapshots.start_date
    last = snapshot_date or config.snapshots.end_date or dt.date(9999, 12, 31)
    events = validate_events(con, config, first, last).loaded
    purchases = validate_purchases(con, config, first, last).loaded
    if snapshot_date is None:
        snapshot_date = config.snapshots.end_date or _latest_data_date(con, events, purchases)
        if snapshot_date is None:
            snapshot_date = config.snapshots.start_date
    # The day before too: the risk level it had is what makes an alert (a rise).
    day_before = snapshot_date - dt.timedelta(days=1)
    dates = ([day_before] if day_before >= first else []) + [snapshot_date]
    computed = run_stages(
        con, {RAW_ENGAGEMENT_EVENTS: events, RAW_PURCHASES: purchases}, dates, config
    )
    return snapshot_date, {
        name: rel.filter(f"CAST(snapshot_date AS DATE) = DATE '{snapshot_date.isoformat()}'")
        for name, rel in computed.items()
    }


def report_document(config: Config, snapshot_date: dt.date | None = None) -> dict[str, Any]:
    """One snapshot date's report document (what engagement_analysis.json holds), computed
    from the sources without the lake."""
    con = new_connection()
    snapshot_date, on_day = computed_on(con, config, snapshot_date)
    return report_documents(con, on_day, config)[snapshot_date.isoformat()]


def analyze(config: Config, snapshot_date: dt.date | None = None) -> EngagementAnalysis:
    """The full analysis of one snapshot date for an already-loaded configuration."""
    con = new_connection()
    snapshot_date, on_day = computed_on(con, config, snapshot_date)
    # referenced by name in the SQL below
    segments, scores = on_day[CUSTOMER_SEGMENTS], on_day[ENGAGEMENT_SCORES]  # noqa: F841
    rfm, lifecycle = on_day[CUSTOMER_RFM], on_day[CUSTOMER_LIFECYCLE]  # noqa: F841
    trends = on_day[CUSTOMER_TRENDS]  # noqa: F841
    risk, actions = on_day[CUSTOMER_RISK], on_day[NEXT_BEST_ACTIONS]  # noqa: F841
    strategies = on_day[SEGMENT_STRATEGIES].df()
    counts = ", ".join(f"s.{touchpoint_count_column(t)}" for t in TouchpointType)
    top = ", ".join(f"k.signal_{i}, k.contribution_{i}" for i in range(1, TOP_SIGNALS + 1))
    per_customer = con.sql(
        f"""
        SELECT g.*, {counts}, f.rfm_segment, f.rfm_code, f.r_score, f.f_score, f.m_score,
               l.lifecycle_stage, l.value_segment, l.predicted_value,
               t.events_direction, t.spend_direction,
               k.risk_score, k.risk_level, k.previous_risk_level, {top},
               a.action, a.cost, a.expected_return, a.roi, a.explanation
        FROM segments g
        JOIN scores s USING (snapshot_date, customer_id)
        JOIN lifecycle l USING (snapshot_date, customer_id)
        JOIN trends t USING (snapshot_date, customer_id)
        JOIN risk k USING (snapshot_date, customer_id)
        JOIN actions a USING (snapshot_date, customer_id)
        LEFT JOIN rfm f USING (snapshot_date, customer_id)
        ORDER BY g.customer_id
        """
    ).df()
    document = report_documents(con, on_day, config).get(snapshot_date.isoformat())
    if document is not None:
        metrics = {k: float(v or 0.0) for k, v in document["overall_metrics"].items()}
    else:
        document = {name: [] for name in (*SECTIONS, *JOURNEY_SECTIONS)}
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
        rfm_segments=document["rfm_segments"],
        lifecycle_stages=document["lifecycle_stages"],
        risk_levels=document["risk_levels"],
        actions=document["actions"],
        alerts=document["alerts"],
        **{name: document[name] for name in JOURNEY_SECTIONS},
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
