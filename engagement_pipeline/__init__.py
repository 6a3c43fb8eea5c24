"""The engagement pipeline: customer value, engagement, segments, risk and next-best actions per snapshot date."""

from engagement_pipeline.api import process_engagement_analysis
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.models import (
    ActionSummary,
    Alert,
    CustomerMetrics,
    EngagementAnalysis,
    EngagementRecord,
    LifecycleStageSummary,
    PurchaseRecord,
    RFMSegmentSummary,
    RiskContribution,
    RiskLevelSummary,
    SegmentAnalysis,
    SegmentTier,
    TouchpointType,
)

__all__ = [
    "ActionSummary",
    "Alert",
    "Config",
    "CustomerMetrics",
    "EngagementAnalysis",
    "EngagementRecord",
    "LifecycleStageSummary",
    "PurchaseRecord",
    "RFMSegmentSummary",
    "RiskContribution",
    "RiskLevelSummary",
    "SegmentAnalysis",
    "SegmentTier",
    "TouchpointType",
    "load_config",
    "process_engagement_analysis",
]
