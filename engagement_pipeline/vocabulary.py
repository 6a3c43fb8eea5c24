"""The pipeline's vocabulary: touchpoint types, segment tiers, lifecycle stages, value
segments and risk levels. Plain enums and literals, importable without the pydantic models
of engagement_pipeline.models (which every Dagster process would otherwise build at start)."""

from __future__ import annotations

from enum import Enum
from typing import Literal


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


LifecycleStage = Literal["new", "active", "cooling", "lapsed", "churned"]
ValueSegment = Literal["high", "medium", "low"]
RiskLevel = Literal["low", "medium", "high", "critical"]  # rising


# What "LTV" means, for readers of the report, the HTML report and the dashboard (the
# formula: docs/decision_logic.md, "Lifetime value")
LTV_MEANING = (
    "LTV (lifetime value) is a projection, not money received: a customer's yearly purchase "
    "value over the LTV lookback, carried over the expected customer lifespan and discounted "
    "(0 without a purchase in the lookback). Revenue to date is what customers have spent."
)

# How readers see the attribution models (channel_attribution.model holds the keys)
MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position-based",
    "markov": "Markov",
    "shapley": "Shapley",
}
