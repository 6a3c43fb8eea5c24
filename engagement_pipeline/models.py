"""The public data model: touchpoint and segment enums, records, metrics and the analysis result."""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import BaseModel, Field


class TouchpointType(str, Enum):
    """Customer touchpoint types."""

    EMAIL = "email"
    WEB = "web"
    MOBILE = "mobile"
    SOCIAL = "social"
    SUPPORT = "support"
    PURCHASE = "purchase"
    REVIEW = "review"


class SegmentTier(str, Enum):
    """Customer segment tiers, in the order they are decided (see docs/decision_logic.md)."""

    CHAMPION = "Champion"
    LOYAL = "Loyal"
    POTENTIAL = "Potential"
    AT_RISK = "At Risk"
    LOST = "Lost"


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


class SegmentAnalysis(BaseModel):
    """Figures and recommendations for one segment."""

    segment: SegmentTier
    customer_count: int
    avg_ltv: float
    avg_engagement_score: float
    total_revenue: float
    recommendations: list[str]


class EngagementAnalysis(BaseModel):
    """The complete analysis of one snapshot date."""

    snapshot_date: dt.date
    total_customers: int
    customer_metrics: list[CustomerMetrics]
    segment_analyses: list[SegmentAnalysis]
    overall_metrics: dict[str, float]
    generated_at: dt.datetime = Field(
        description="End of the snapshot date (never the wall clock), so results are reproducible."
    )
