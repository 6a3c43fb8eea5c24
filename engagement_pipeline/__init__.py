"""The engagement pipeline: customer value, engagement, segments and strategies per snapshot date."""

from engagement_pipeline.api import process_engagement_analysis
from engagement_pipeline.config import Config, load_config
from engagement_pipeline.models import (
    CustomerMetrics,
    EngagementAnalysis,
    EngagementRecord,
    PurchaseRecord,
    SegmentAnalysis,
    SegmentTier,
    TouchpointType,
)

__all__ = [
    "Config",
    "CustomerMetrics",
    "EngagementAnalysis",
    "EngagementRecord",
    "PurchaseRecord",
    "SegmentAnalysis",
    "SegmentTier",
    "TouchpointType",
    "load_config",
    "process_engagement_analysis",
]
