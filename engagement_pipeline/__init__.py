"""The engagement pipeline: customer value, engagement, segments, risk and next-best actions per snapshot date.

The public API (load_config, process_engagement_analysis and the data models) is imported
on first use: a Dagster process that loads the definitions never builds the API's pydantic
models or imports its report code (PEP 562 module __getattr__).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
# the module that defines each public name; the others are the API's data models
_MODULE_OF = {
    "process_engagement_analysis": "engagement_pipeline.api",
    "Config": "engagement_pipeline.config",
    "load_config": "engagement_pipeline.config",
    "SegmentTier": "engagement_pipeline.vocabulary",
    "TouchpointType": "engagement_pipeline.vocabulary",
}

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports
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
    )
    from engagement_pipeline.vocabulary import SegmentTier, TouchpointType


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'engagement_pipeline' has no attribute {name!r}")
    module = _MODULE_OF.get(name, "engagement_pipeline.models")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
