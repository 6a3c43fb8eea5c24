"""The public data model: records, metrics and the analysis result (pydantic models), with
the vocabulary they use (touchpoint and segment enums: engagement_pipeline.vocabulary)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from engagement_pipeline.vocabulary import (
    LifecycleStage,
    RiskLevel,
    SegmentTier,
    TouchpointType,
    ValueSegment,
)

__all__ = ["LifecycleStage", "RiskLevel", "SegmentTier", "TouchpointType", "ValueSegment"]


class EngagementRecord(BaseModel):
    """One engagement event in the canonical schema."""

    event_id: str
    customer_id: str
    touchpoint: TouchpointType
    timestamp: dt.datetime
    engagement_score: float | None = Field(default=None, ge=0.0, le=1.0)
    event_type: str | None = None
    channel: str | None = None
    campaign: str | None = None
    session_id: str | None = None


class PurchaseRecord(BaseModel):
    """One purchase (order) in the canonical schema."""

    customer_id: str
    order_id: str
    purchase_date: dt.datetime
    amount: float = Field(gt=0.0)
    quantity: float | None = None
    product: str | None = None
    country: str | None = None


class RiskContribution(BaseModel):
    """One risk signal and the points (of the 0-100 score) it contributes."""

    signal: str
    contribution: float


class CustomerMetrics(BaseModel):
    """A customer's value, engagement and segment as of one snapshot date."""

    customer_id: str
    lifetime_value: float
    total_revenue: float
    purchase_count: int
    engagement_score: float = Field(ge=0.0, le=1.0)
    touchpoint_count: dict[TouchpointType, int]
    last_engagement_date: dt.datetime | None = None
    days_since_last_engagement: int | None = None
    segment: SegmentTier
    # customer intelligence (docs/decision_logic.md); RFM only for purchasing customers
    rfm_segment: str | None = None
    rfm_code: str | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    lifecycle_stage: LifecycleStage
    value_segment: ValueSegment
    predicted_value: float
    events_direction: str
    spend_direction: str
    risk_score: float = Field(ge=0.0, le=100.0)
    risk_level: RiskLevel
    previous_risk_level: RiskLevel | None = None
    top_risk_signals: list[RiskContribution]
    next_best_action: str
    action_cost: float
    expected_return: float
    roi: float | None = None
    explanation: str


class SegmentAnalysis(BaseModel):
    """Figures and recommendations for one segment."""

    segment: SegmentTier
    customer_count: int
    avg_ltv: float
    avg_engagement_score: float
    total_revenue: float
    recommendations: list[str]


class RFMSegmentSummary(BaseModel):
    segment: str
    customer_count: int
    share: float
    total_revenue: float | None
    avg_recency_days: float | None
    avg_frequency: float | None
    avg_monetary: float | None


class LifecycleStageSummary(BaseModel):
    stage: LifecycleStage
    customer_count: int
    share: float
    total_revenue: float | None
    high_value: int | None
    medium_value: int | None
    low_value: int | None


class RiskLevelSummary(BaseModel):
    level: RiskLevel
    customer_count: int
    share: float
    avg_risk_score: float | None
    predicted_value: float | None


class ActionSummary(BaseModel):
    action: str
    customer_count: int
    share: float
    total_cost: float | None
    total_expected_return: float | None
    roi: float | None


class Alert(BaseModel):
    """A customer worth watching whose risk level rose since the previous date."""

    customer_id: str
    risk_score: float
    risk_level: RiskLevel
    previous_risk_level: RiskLevel | None
    value_segment: ValueSegment
    predicted_value: float
    action: str
    expected_return: float
    explanation: str


class CohortCell(BaseModel):
    """One cell of the cohort matrix: an acquisition month and a month since acquisition."""

    cohort_month: dt.date
    months_since: int
    cohort_customers: int
    active_customers: int
    retention_rate: float
    cumulative_revenue_per_customer: float


class FunnelStageSummary(BaseModel):
    stage: str
    customers_reached: int
    share_of_customers: float | None
    conversion_from_previous: float | None
    median_days_from_previous: float | None


class PathSummary(BaseModel):
    """One of the most frequent journey paths of the journeys window."""

    rank: int
    path: str
    journeys: int
    conversions: int
    conversion_rate: float
    revenue: float


class ChannelAttribution(BaseModel):
    """A channel's attributed conversions and revenue under one model."""

    channel: str
    model: str
    conversions: float
    revenue: float
    share_of_conversions: float | None


class MetricAnomaly(BaseModel):
    """A daily metric outside its expected range on the snapshot date."""

    metric: str
    direction: Literal["spike", "drop"]
    value: float
    expected_low: float
    expected_high: float
    score: float


class EngagementAnalysis(BaseModel):
    """The complete analysis of one snapshot date."""

    snapshot_date: dt.date
    total_customers: int
    customer_metrics: list[CustomerMetrics]
    segment_analyses: list[SegmentAnalysis]
    overall_metrics: dict[str, float]
    rfm_segments: list[RFMSegmentSummary]
    lifecycle_stages: list[LifecycleStageSummary]
    risk_levels: list[RiskLevelSummary]
    actions: list[ActionSummary]
    alerts: list[Alert]
    cohort_retention: list[CohortCell] = Field(default_factory=list)
    funnel: list[FunnelStageSummary] = Field(default_factory=list)
    top_paths: list[PathSummary] = Field(default_factory=list)
    channel_attribution: list[ChannelAttribution] = Field(default_factory=list)
    anomalies: list[MetricAnomaly] = Field(default_factory=list)
    generated_at: dt.datetime = Field(
        description="End of the snapshot date (never the wall clock), so results are reproducible."
    )
