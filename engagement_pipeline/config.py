"""The pipeline's configuration: pydantic models for config.yaml and the loader that validates it."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engagement_pipeline.errors import ConfigError, ConfigFileNotFoundError
from engagement_pipeline.vocabulary import LifecycleStage, RiskLevel, TouchpointType, ValueSegment

DEFAULT_CONFIG_FILE = "config.yaml"
CONFIG_PATH_ENV = "CONFIG_PATH"

FileFormat = Literal["csv", "json", "parquet"]

# The spellings of "no value" that exports commonly use (see SourceConfig.null_values).
DEFAULT_NULL_VALUES = ("", "NULL", "null", "None", "NaN", "N/A")


class _Section(BaseModel):
    # Unknown keys are almost always typos of real ones; reject them so they are not ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotsConfig(_Section):
    """Which snapshot dates exist: the daily partitions run from start_date to end_date."""

    start_date: dt.date
    end_date: dt.date | None = Field(
        default=None,
        description="Last snapshot date (inclusive). Leave empty for an open-ended daily schedule.",
    )

    max_days_per_run: int = Field(
        default=366,
        ge=1,
        le=3660,
        description="A backfill runs in runs of at most this many snapshot dates; each run "
        "computes its dates at once. Lower it for large data (see docs/performance.md).",
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> SnapshotsConfig:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must be on or after start_date")
        return self


class CsvOptions(_Section):
    delimiter: str | None = Field(
        default=None,
        description="None lets DuckDB sniff it; 'whitespace' splits on runs of spaces and tabs.",
    )
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    header: bool = True
    column_names: list[str] | None = Field(
        default=None, description="Names of the columns, for files without a header line."
    )

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvOptions:
        if not self.header and not self.column_names:
            raise ValueError("column_names is required when header is false")
        return self


ONLINE_RETAIL_II_COLUMNS: dict[str, Any] = {
    "customer_id_column": "Customer ID",
    "order_id_column": "Invoice",
    "purchase_date_column": "InvoiceDate",
    "amount_column": None,
    "quantity_column": "Quantity",
    "product_column": "StockCode",
    "country_column": "Country",
}


class SourceConfig(_Section):
    file_path: str = Field(description="A file or a glob of files, relative to the config file.")
    format: FileFormat = "csv"
    csv: CsvOptions = CsvOptions()
    keep_duplicate_rows: bool = Field(
        default=False,
        description="Keep identical rows as separate records (sources without ids whose repeats "
        "are real, e.g. the same item bought twice a day). Repeated ids are always quarantined.",
    )
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format such as '%d/%m/%Y %H:%M'. Empty: ISO 8601 (with or "
        "without offset), then month-first 'MM/DD/YYYY HH:MM' and 'YYYYMMDD'.",
    )

    null_values: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_VALUES),
        description="Texts that mean 'no value' in every mapped column (compared after trimming "
        "spaces, case as written): a customer id 'NULL' is a missing customer id.",
    )
    timestamp_unit: Literal["auto", "seconds", "milliseconds"] = Field(
        default="auto",
        description="Unit of numeric (Unix epoch, UTC) timestamps. auto: values of 1e11 or more "
        "are milliseconds, smaller ones seconds; 8-digit numbers are read as YYYYMMDD.",
    )
    decimal_separator: Literal[".", ","] = Field(
        default=".",
        description="Decimal separator of numbers (amounts, quantities, scores). With ',' "
        "thousands are grouped with '.' or a space ('1.234,50').",
    )

    @field_validator("file_path")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("file_path must not be empty")
        return value


class EngagementDataConfig(SourceConfig):
    """Where engagement events come from and which source column holds each canonical field."""

    customer_id_column: str = "customer_id"
    touchpoint_column: str = "touchpoint"
    timestamp_column: str = "timestamp"
    engagement_score_column: str | None = None
    event_id_column: str | None = None
    event_type_column: str | None = None
    channel_column: str | None = None
    campaign_column: str | None = None
    session_id_column: str | None = None


class PurchaseDataConfig(SourceConfig):
    """Where purchases come from: canonical columns, or the Online Retail II line-item layout."""

    layout: Literal["canonical", "online_retail_ii"] = "canonical"
    customer_id_column: str = "customer_id"
    order_id_column: str | None = "order_id"
    purchase_date_column: str = "purchase_date"
    amount_column: str | None = Field(
        default="amount",
        description="Required for the canonical layout; unused for Online Retail II.",
    )
    quantity_column: str | None = None
    product_column: str | None = None
    country_column: str | None = None
    # Online Retail II prices each line as quantity x unit price.
    unit_price_column: str = "Price"
    allow_zero_amounts: bool = Field(
        default=False,
        description="Load amounts of exactly 0 (free orders) instead of quarantining them.",
    )
    max_amount: float = Field(
        default=1_000_000.0,
        gt=0,
        description="Larger order amounts are quarantined as implausible_amount.",
    )

    @model_validator(mode="after")
    def _amount_for_canonical(self) -> PurchaseDataConfig:
        if self.layout == "canonical" and not self.amount_column:
            raise ValueError("amount_column is required for the canonical layout")
        if self.layout == "online_retail_ii" and not self.quantity_column:
            raise ValueError("quantity_column is required for the online_retail_ii layout")
        return self

    @model_validator(mode="before")
    @classmethod
    def _online_retail_defaults(cls, data: Any) -> Any:
        # The Online Retail II export has fixed column names; default to them for that layout.
        if isinstance(data, dict) and data.get("layout") == "online_retail_ii":
            data = {**ONLINE_RETAIL_II_COLUMNS, **data}
        return data


class LTVConfig(_Section):
    """Simple lifetime value: annual value from the lookback window, discounted over the lifespan."""

    discount_rate: float = Field(default=0.10, ge=0.0, lt=1.0)
    average_customer_lifespan_years: float = Field(default=3.0, gt=0.0, le=100.0)
    lookback_months: int = Field(default=12, ge=1, le=240)


class EngagementScoringConfig(_Section):
    """How engagement events become a score in [0, 1]."""

    window_days: int = Field(default=90, ge=1, le=3650)
    half_saturation: float = Field(
        default=10.0,
        gt=0.0,
        description="Weighted events in the window at which the score reaches 0.5.",
    )
    touchpoint_weights: dict[TouchpointType, float] = Field(
        default_factory=lambda: {
            TouchpointType.PURCHASE: 1.0,
            TouchpointType.REVIEW: 0.8,
            TouchpointType.SUPPORT: 0.6,
            TouchpointType.MOBILE: 0.5,
            TouchpointType.WEB: 0.4,
            TouchpointType.SOCIAL: 0.3,
            TouchpointType.EMAIL: 0.2,
        }
    )

    @field_validator("touchpoint_weights")
    @classmethod
    def _weights_complete(cls, value: dict[TouchpointType, float]) -> dict[TouchpointType, float]:
        missing = [t.value for t in TouchpointType if t not in value]
        if missing:
            raise ValueError(f"missing weights for touchpoints: {', '.join(missing)}")
        negative = [t.value for t, w in value.items() if w < 0]
        if negative:
            raise ValueError(f"weights must be >= 0 (negative for: {', '.join(negative)})")
        return value


class SegmentationConfig(_Section):
    """Thresholds of the five segment tiers (see docs/decision_logic.md for the precedence)."""

    ltv_threshold_high: float = Field(default=1000.0, ge=0.0)
    ltv_threshold_medium: float = Field(default=300.0, ge=0.0)
    engagement_threshold_high: float = Field(default=0.6, ge=0.0, le=1.0)
    engagement_threshold_low: float = Field(default=0.2, ge=0.0, le=1.0)
    recency_threshold_days: int = Field(default=90, ge=1)
    value_source: Literal["simple_ltv", "predicted_clv"] = Field(
        default="simple_ltv",
        description="Which value the LTV thresholds apply to; predicted_clv needs clv.enabled.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> SegmentationConfig:
        if self.ltv_threshold_medium > self.ltv_threshold_high:
            raise ValueError("ltv_threshold_medium must not exceed ltv_threshold_high")
        if self.engagement_threshold_low > self.engagement_threshold_high:
            raise ValueError("engagement_threshold_low must not exceed engagement_threshold_high")
        return self


class CLVConfig(_Section):
    """Predictive CLV (BG/NBD + Gamma-Gamma), refitted on every snapshot date."""

    enabled: bool = True
    time_unit_days: float = Field(default=7.0, gt=0, description="Model time unit (7: weeks).")
    horizons_days: list[int] = Field(
        default_factory=lambda: [30, 90, 365],
        description="Horizons of the expected-purchases columns.",
    )
    clv_horizon_days: int = Field(default=365, ge=1, le=3650)
    penalizer: float = Field(default=0.0, ge=0.0, description="L2 penalty on the parameters.")
    min_repeat_customers: int = Field(
        default=20, ge=1, description="Fewer customers with repeat purchases: no fit, CLV empty."
    )

    @field_validator("horizons_days")
    @classmethod
    def _positive_horizons(cls, value: list[int]) -> list[int]:
        if not value or any(h < 1 for h in value):
            raise ValueError("horizons must be a non-empty list of days >= 1")
        return sorted(set(value))


class StrategyConfig(_Section):
    max_recommendations_per_segment: int = Field(default=3, ge=0, le=10)


# -- customer intelligence (docs/decision_logic.md, "Customer intelligence") --------------

RFM_SCORES = (1, 2, 3, 4, 5)
ScoreRange = tuple[int, int]


class RFMSegmentRule(_Section):
    """One rule of the segment table: the inclusive score ranges it covers (all of 1..5
    when left out). A segment may take several rules (e.g. two rectangles of the grid)."""

    segment: str = Field(min_length=1)
    recency: ScoreRange = (1, 5)
    frequency: ScoreRange = (1, 5)
    monetary: ScoreRange = (1, 5)

    @field_validator("recency", "frequency", "monetary")
    @classmethod
    def _score_range(cls, value: ScoreRange) -> ScoreRange:
        low, high = value
        if not (1 <= low <= high <= 5):
            raise ValueError("a score range is [low, high] with 1 <= low <= high <= 5")
        return value

    def ranges(self) -> tuple[ScoreRange, ScoreRange, ScoreRange]:
        return self.recency, self.frequency, self.monetary

    def covers(self, r: int, f: int, m: int) -> bool:
        return all(lo <= s <= hi for s, (lo, hi) in zip((r, f, m), self.ranges(), strict=True))


def _default_rfm_segments() -> list[RFMSegmentRule]:
    # The usual R x F grid, with monetary splitting the lapsed frequent buyers; see
    # docs/decision_logic.md for the picture.
    rows = [
        ("Champions", (5, 5), (4, 5), (1, 5)),
        ("Loyal Customers", (3, 4), (4, 5), (1, 5)),
        ("Potential Loyalist", (4, 5), (2, 3), (1, 5)),
        ("New Customers", (5, 5), (1, 1), (1, 5)),
        ("Promising", (4, 4), (1, 1), (1, 5)),
        ("Need Attention", (3, 3), (3, 3), (1, 5)),
        ("About To Sleep", (3, 3), (1, 2), (1, 5)),
        ("Can't Lose Them", (1, 2), (4, 5), (4, 5)),
        ("At Risk", (1, 2), (4, 5), (1, 3)),
        ("At Risk", (1, 2), (3, 3), (1, 5)),
        ("Hibernating", (2, 2), (1, 2), (1, 5)),
        ("Lost", (1, 1), (1, 2), (1, 5)),
    ]
    return [RFMSegmentRule(segment=n, recency=r, frequency=f, monetary=m) for n, r, f, m in rows]


class RFMConfig(_Section):
    """RFM scores by quintile and the segment rule table: every score combination must fall
    in exactly one segment."""

    segments: list[RFMSegmentRule] = Field(default_factory=_default_rfm_segments)

    @field_validator("segments")
    @classmethod
    def _one_segment_per_code(cls, segments: list[RFMSegmentRule]) -> list[RFMSegmentRule]:
        if not segments:
            raise ValueError("at least one segment rule is needed")
        gaps, overlaps = [], {}
        # 125 score combinations, checked once when the config is read.
        for r in RFM_SCORES:
            for f in RFM_SCORES:
                for m in RFM_SCORES:
                    hits = [(i, s.segment) for i, s in enumerate(segments) if s.covers(r, f, m)]
                    if not hits:
                        gaps.append(f"{r}{f}{m}")
                    elif len({name for _, name in hits}) > 1:
                        rules = " and ".join(f"rule {i + 1} ('{name}')" for i, name in hits)
                        overlaps.setdefault(rules, []).append(f"{r}{f}{m}")
        problems = []
        if gaps:
            problems.append(
                f"no rule covers the RFM codes {_codes(gaps)} (recency, frequency, monetary "
                "scores): widen a rule's ranges or add a rule"
            )
        for rules, codes in overlaps.items():
            problems.append(f"{rules} both cover the RFM codes {_codes(codes)}")
        if problems:
            raise ValueError("; ".join(problems))
        return segments

    def segment_names(self) -> list[str]:
        """The segments in the order of their first rule."""
        return list(dict.fromkeys(s.segment for s in self.segments))


def _codes(codes: list[str], shown: int = 8) -> str:
    more = f" and {len(codes) - shown} more" if len(codes) > shown else ""
    return ", ".join(codes[:shown]) + more


LIFECYCLE_STAGES: tuple[str, ...] = get_args(LifecycleStage)
VALUE_SEGMENTS: tuple[str, ...] = get_args(ValueSegment)
RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)  # in rising order


class LifecycleConfig(_Section):
    """Lifecycle stage from days since the last activity and tenure; value segment from
    the percentile of revenue to date."""

    new_max_tenure_days: int = Field(
        default=30, ge=0, description="Customers first seen at most this many days ago are new."
    )
    active_max_recency_days: int = Field(default=30, ge=0)
    cooling_max_recency_days: int = Field(default=60, ge=0)
    lapsed_max_recency_days: int = Field(
        default=120, ge=0, description="Longer without any activity: churned."
    )
    high_value_percentile: float = Field(
        default=0.8, gt=0.0, le=1.0, description="At or above this percentile of revenue: high."
    )
    medium_value_percentile: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        days = (
            self.active_max_recency_days,
            self.cooling_max_recency_days,
            self.lapsed_max_recency_days,
        )
        if list(days) != sorted(days):
            raise ValueError(
                "active_max_recency_days <= cooling_max_recency_days <= lapsed_max_recency_days "
                f"is required, got {days[0]}, {days[1]}, {days[2]}"
            )
        if self.medium_value_percentile > self.high_value_percentile:
            raise ValueError("medium_value_percentile must not exceed high_value_percentile")
        return self


class TrendsConfig(_Section):
    """Each customer's last window of behaviour against the window before it."""

    window_days: int = Field(default=30, ge=1, le=730)
    dead_band: float = Field(
        default=0.1,
        ge=0.0,
        description="Changes within +/- this share of the previous window are 'stable'.",
    )


RISK_SIGNALS = ("recency", "engagement", "spend", "support", "churn_probability")


class RiskLevels(_Section):
    """Lowest risk score (0-100) of each level above low."""

    medium: float = Field(default=20.0, ge=0.0, le=100.0)
    high: float = Field(default=40.0, ge=0.0, le=100.0)
    critical: float = Field(default=60.0, ge=0.0, le=100.0)

    @model_validator(mode="after")
    def _ascending(self) -> RiskLevels:
        if not (self.medium <= self.high <= self.critical):
            raise ValueError("levels must ascend: medium <= high <= critical")
        return self


class RiskConfig(_Section):
    """Risk signals in [0, 1], their weights (summing to 1) and the level thresholds."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "recency": 0.35,
            "engagement": 0.2,
            "spend": 0.15,
            "support": 0.1,
            "churn_probability": 0.2,
        }
    )
    overdue_ratio_at_max: float = Field(
        default=3.0,
        gt=1.0,
        description="Days since the last purchase at this multiple of the usual gap give a "
        "recency signal of 1 (at 1x the usual gap it is 0).",
    )
    default_gap_days: float = Field(
        default=30.0, gt=0.0, description="The usual gap of customers with one purchase day."
    )
    support_rise_at_max: float = Field(
        default=3.0,
        gt=0.0,
        description="This many more support contacts than in the previous window: signal 1.",
    )
    levels: RiskLevels = RiskLevels()

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(RISK_SIGNALS))
        if unknown:
            raise ValueError(
                f"unknown signals {', '.join(unknown)}; the signals are {', '.join(RISK_SIGNALS)}"
            )
        missing = [s for s in RISK_SIGNALS if s not in value]
        if missing:
            raise ValueError(f"missing weights for {', '.join(missing)} (use 0 to turn one off)")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be >= 0")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, they sum to {total:g}")
        return {s: value[s] for s in RISK_SIGNALS}


BenefitBasis = Literal["value_at_risk", "upside", "none"]


class ActionCondition(_Section):
    """When a rule applies: every listed field must hold one of its listed values."""

    rfm_segments: list[str] | None = None
    lifecycle_stages: list[LifecycleStage] | None = None
    value_segments: list[ValueSegment] | None = None
    risk_levels: list[RiskLevel] | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class ActionRule(_Section):
    """One next-best action: when it applies, what it costs and what it should return."""

    name: str = Field(min_length=1)
    when: ActionCondition = ActionCondition()
    cost: float = Field(default=0.0, ge=0.0, description="Estimated cost per customer ($).")
    benefit: BenefitBasis = Field(
        default="none",
        description="value_at_risk: the predicted value kept if it works; upside: the "
        "predicted value times actions.upside_rate; none: no return expected.",
    )
    success_rate: float = Field(default=0.0, ge=0.0, le=1.0)


def _default_action_rules() -> list[ActionRule]:
    return [
        ActionRule(
            name="VIP care",
            when=ActionCondition(value_segments=["high"], risk_levels=["high", "critical"]),
            cost=50.0,
            benefit="value_at_risk",
            success_rate=0.4,
        ),
        ActionRule(
            name="Win-back offer",
            when=ActionCondition(risk_levels=["high", "critical"]),
            cost=15.0,
            benefit="value_at_risk",
            success_rate=0.25,
        ),
        ActionRule(
            name="Upsell bundle",
            when=ActionCondition(
                value_segments=["high", "medium"],
                risk_levels=["low"],
                lifecycle_stages=["active"],
            ),
            cost=5.0,
            benefit="upside",
            success_rate=0.15,
        ),
        ActionRule(
            name="Nurture",
            when=ActionCondition(lifecycle_stages=["new", "active", "cooling"]),
            cost=1.0,
            benefit="upside",
            success_rate=0.05,
        ),
        ActionRule(name="No action"),
    ]


class ActionsConfig(_Section):
    """The next-best-action rules, in order: the first rule whose conditions hold decides."""

    upside_rate: float = Field(
        default=0.2,
        ge=0.0,
        description="The share of predicted value a successful upside action adds.",
    )
    rules: list[ActionRule] = Field(default_factory=_default_action_rules)

    @model_validator(mode="after")
    def _every_customer_gets_one(self) -> ActionsConfig:
        if not self.rules:
            raise ValueError("at least one rule is needed")
        names = [r.name for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        last = self.rules[-1]
        if not last.when.is_empty():
            raise ValueError(
                f"the last rule ('{last.name}') has conditions, so a customer matching no rule "
                "would get no action; end the list with a rule without 'when' (e.g. 'No action')"
            )
        unreachable = [r.name for r in self.rules[:-1] if r.when.is_empty()]
        if unreachable:
            raise ValueError(
                f"rule '{unreachable[0]}' has no conditions, so the rules after it never "
                "apply; only the last rule may leave out 'when'"
            )
        return self


class AlertsConfig(_Section):
    """Which customers raise an alert when their risk level rises."""

    value_segments: list[ValueSegment] = Field(default_factory=lambda: ["high"])
    risk_levels: list[RiskLevel] = Field(
        default_factory=lambda: ["high", "critical"],
        description="An alert when the level rises into one of these since the previous day.",
    )
    notifications_path: str = Field(
        default="reports/alerts.jsonl",
        description="Where the shipped notifier appends alerts (one JSON object per line).",
    )


# -- journeys and channels -------------------------------------------------------------


class CohortsConfig(_Section):
    """Acquisition cohorts: who joins each month and how many are active in each month since."""

    acquisition: Literal["first_purchase", "first_engagement"] = Field(
        default="first_purchase",
        description="first_purchase: a customer joins with their first purchase and is active "
        "in a month with a purchase; first_engagement: joins with their first event or "
        "purchase and is active in a month with either.",
    )


JOURNEY_DIMENSIONS = ("touchpoint", "channel", "campaign")


class JourneysConfig(_Section):
    """Which journeys a snapshot reports and what a step of a path is."""

    window_days: int = Field(
        default=30, ge=1, le=366, description="A snapshot reports the journeys of its last n days."
    )
    lookback_days: int = Field(
        default=30, ge=1, le=366, description="Touches up to n days before a conversion count."
    )
    dimension: Literal["touchpoint", "channel", "campaign"] = Field(
        default="channel", description="What a step of a path (and an attributed channel) is."
    )
    exclude_touchpoints: list[TouchpointType] = Field(
        default_factory=lambda: [TouchpointType.PURCHASE],
        description="Touchpoints that are not steps of a journey (the purchase is its end).",
    )
    max_path_length: int = Field(
        default=10, ge=1, le=100, description="A path keeps its last n touches."
    )
    top_paths: int = Field(default=20, ge=1, le=1000)


class FunnelStage(_Section):
    """One funnel stage: reached by a matching event, or by the n-th purchase."""

    # a column name of customer_milestones (<name>_date): letters, digits and underscores
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    touchpoints: list[TouchpointType] = Field(default_factory=list)
    event_types: list[str] = Field(default_factory=list)
    min_purchases: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_kind(self) -> FunnelStage:
        if self.min_purchases is not None and (self.touchpoints or self.event_types):
            raise ValueError(
                f"stage '{self.name}' has both min_purchases and event filters; a stage is "
                "reached by events (touchpoints, event_types) or by purchases, not both"
            )
        return self


class FunnelConfig(_Section):
    """Ordered stages; a customer counts at a stage once they reached it and every stage before."""

    stages: list[FunnelStage] = Field(
        default_factory=lambda: [
            FunnelStage(name="awareness"),
            FunnelStage(
                name="consideration",
                touchpoints=[TouchpointType.WEB, TouchpointType.MOBILE],
            ),
            FunnelStage(name="purchase", min_purchases=1),
            FunnelStage(name="repeat_purchase", min_purchases=2),
        ]
    )

    @field_validator("stages")
    @classmethod
    def _distinct(cls, stages: list[FunnelStage]) -> list[FunnelStage]:
        if len(stages) < 2:
            raise ValueError("a funnel needs at least two stages")
        names = [s.name for s in stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(repeated)}")
        return stages


class PositionShares(_Section):
    """Position-based attribution: the first and last touch's shares, the rest to the middle."""

    first: float = Field(default=0.4, ge=0.0, le=1.0)
    middle: float = Field(default=0.2, ge=0.0, le=1.0)
    last: float = Field(default=0.4, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sum_to_one(self) -> PositionShares:
        if abs(self.first + self.middle + self.last - 1.0) > 1e-9:
            raise ValueError(
                f"first + middle + last must be 1 (they are {self.first} + {self.middle} + "
                f"{self.last})"
            )
        return self


class AttributionConfig(_Section):
    """The heuristic models' parameters and the exact Shapley limit."""

    half_life_days: float = Field(
        default=7.0, gt=0.0, description="Time decay: a touch n half-lives before counts 2^-n."
    )
    position_based: PositionShares = PositionShares()
    shapley_max_channels: int = Field(
        default=12,
        ge=2,
        le=20,
        description="Exact Shapley over at most n channels; rarer channels are merged into 'other'.",
    )


class AnomaliesConfig(_Section):
    """Daily metrics against the same weekday's median and MAD over the trailing weeks."""

    training_weeks: int = Field(
        default=8,
        ge=2,
        le=52,
        description="The same weekday of this many weeks before a date makes its usual ratio.",
    )
    level_days: int = Field(
        default=7,
        ge=1,
        le=28,
        description="A day's level is the median of this many days before it (7: a week, "
        "so the weekly rhythm evens out).",
    )
    min_training_points: int = Field(default=6, ge=2)
    threshold: float = Field(
        default=5.0, gt=0.0, description="Robust z-score beyond which a day is an anomaly."
    )
    min_spread_share: float = Field(
        default=0.05,
        ge=0.0,
        description="The spread is at least this share of the median (a flat history "
        "does not flag noise).",
    )
    timeline_days: int = Field(
        default=91,
        ge=7,
        le=366,
        description="Days of judged metrics the anomaly timeline (report, dashboard) shows.",
    )

    @model_validator(mode="after")
    def _enough_weeks(self) -> AnomaliesConfig:
        if self.min_training_points > self.training_weeks:
            raise ValueError(
                f"min_training_points ({self.min_training_points}) cannot exceed "
                f"training_weeks ({self.training_weeks}): there is one point per week"
            )
        return self


class S3Config(_Section):
    """How to reach an object store when `storage.lake_path` is an s3:// URI. Credentials
    are never in the config: they come from the environment (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the machine's role), as for any AWS client."""

    endpoint_url: str | None = Field(
        default=None,
        description="The store's URL for an S3-compatible store (MinIO, Ceph, R2: "
        "http://127.0.0.1:9000); unset for AWS S3 itself.",
    )
    region: str | None = Field(
        default=None, description="The bucket's region (unset: the environment's AWS_REGION)."
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+/?$", value):
            raise ValueError(
                f"'{value}' is not an endpoint URL: write it as http://host:port or "
                "https://host (no path)"
            )
        return value


class StorageConfig(_Section):
    """Where the Parquet lake and the reports are written, relative to the config file."""

    lake_path: str = Field(
        default="data/warehouse",
        description="A folder (relative to the config file), or an object-store URI "
        "s3://bucket/prefix (see `s3`).",
    )
    reports_path: str = "reports"
    s3: S3Config = S3Config()

    @field_validator("lake_path")
    @classmethod
    def _lake_uri_known(cls, value: str) -> str:
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", value)
        if scheme and scheme.group(1) != "s3":
            raise ValueError(
                f"'{scheme.group(1)}://' is not a lake location this pipeline writes: use a "
                "folder path or an s3://bucket/prefix URI"
            )
        if scheme and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", value):
            raise ValueError(
                f"'{value}' does not name a bucket: write it as s3://bucket/prefix "
                "(bucket names are 3-63 lower-case letters, digits, dots and hyphens)"
            )
        return value.rstrip("/")


class SparkConfig(_Section):
    """Where the Spark engine runs (used when `engine: spark`)."""

    master: str = Field(
        default="local[2]",
        description="A Spark master URL: local[N] on this machine, or a cluster's "
        "(spark://host:7077, yarn, k8s://https://host).",
    )
    remote: str | None = Field(
        default=None,
        description="A Spark Connect URL (sc://host:15002); when set, `master` is not used.",
    )
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings passed to the session, e.g. spark.executor.memory: 8g.",
    )


class ReportsConfig(_Section):
    """What the report asset writes beside each date's Markdown, JSON and alerts.csv."""

    html: bool = Field(
        default=True,
        description="Write engagement_report.html with charts (about 0.7 s per date, "
        "shared across the cores in a run of many dates).",
    )


class Config(_Section):
    """The whole config.yaml."""

    snapshots: SnapshotsConfig
    engagement_data: EngagementDataConfig
    purchase_data: PurchaseDataConfig
    ltv: LTVConfig = LTVConfig()
    engagement_scoring: EngagementScoringConfig = EngagementScoringConfig()
    segmentation: SegmentationConfig = SegmentationConfig()
    clv: CLVConfig = CLVConfig()
    strategy: StrategyConfig = StrategyConfig()
    rfm: RFMConfig = RFMConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    trends: TrendsConfig = TrendsConfig()
    risk: RiskConfig = RiskConfig()
    actions: ActionsConfig = ActionsConfig()
    alerts: AlertsConfig = AlertsConfig()
    cohorts: CohortsConfig = CohortsConfig()
    journeys: JourneysConfig = JourneysConfig()
    funnel: FunnelConfig = FunnelConfig()
    attribution: AttributionConfig = AttributionConfig()
    reports: ReportsConfig = ReportsConfig()
    anomalies: AnomaliesConfig = AnomaliesConfig()
    storage: StorageConfig = StorageConfig()
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="What computes the snapshot assets: DuckDB in the run's process, or "
        "Apache Spark (the `spark` section) over the same lake.",
    )
    spark: SparkConfig = SparkConfig()
    base_dir: Path = Field(
        default=Path("."),
        description="Directory relative paths are resolved against (the config file's folder).",
    )

    @model_validator(mode="after")
    def _action_segments_known(self) -> Config:
        known = set(self.rfm.segment_names())
        for i, rule in enumerate(self.actions.rules):
            unknown = [n for n in rule.when.rfm_segments or [] if n not in known]
            if unknown:
                raise ValueError(
                    f"actions.rules[{i}] ('{rule.name}'): rfm_segments {', '.join(unknown)} "
                    f"are not segments of rfm.segments ({', '.join(sorted(known))})"
                )
        return self

    def resolve(self, path: str | Path) -> Path:
        """Return `path` as an absolute path, relative ones taken from the config file's folder."""
        p = Path(os.path.expanduser(str(path)))
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def lake_is_remote(self) -> bool:
        """The lake is in an object store (s3://), not a folder on this machine."""
        return self.storage.lake_path.startswith("s3://")

    @property
    def lake_location(self) -> str:
        """Where the lake is, as users read it: an absolute folder or the s3:// URI."""
        return self.storage.lake_path if self.lake_is_remote else str(self.lake_dir)

    @property
    def lake_dir(self) -> Path:
        """The lake's folder (a local lake only: see `lake_location`)."""
        if self.lake_is_remote:
            raise ValueError(f"the lake {self.storage.lake_path} is not a local folder")
        return self.resolve(self.storage.lake_path)

    @property
    def work_dir(self) -> Path:
        """Local working files (the landed sources, Spark's log): beside a local lake, or
        in .engagement beside the config file when the lake is in an object store."""
        return self.resolve(".engagement") if self.lake_is_remote else self.lake_dir

    @property
    def reports_dir(self) -> Path:
        return self.resolve(self.storage.reports_path)


def default_config_path() -> Path:
    """The config file to use: $CONFIG_PATH if set, else ./config.yaml."""
    return Path(os.environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_FILE)


# What a config value failed on, in our words (pydantic's error types; its own wording,
# "Input should be ...", is not the reader's). {ge}, {expected} ... come from the error's
# context, {got} is the value as written.
_VALUE_PROBLEMS = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key (check its spelling: every key is listed in "
    "docs/data_dictionary.md, Configuration)",
    "greater_than_equal": "must be {ge} or more, got {got}",
    "greater_than": "must be more than {gt}, got {got}",
    "less_than_equal": "must be {le} or less, got {got}",
    "less_than": "must be less than {lt}, got {got}",
    "float_parsing": "must be a number, got {got}",
    "float_type": "must be a number, got {got}",
    "int_parsing": "must be a whole number, got {got}",
    "int_type": "must be a whole number, got {got}",
    "int_from_float": "must be a whole number, got {got}",
    "bool_parsing": "must be true or false, got {got}",
    "bool_type": "must be true or false, got {got}",
    "date_parsing": "must be a date written YYYY-MM-DD, got {got}",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD, got {got}",
    "date_type": "must be a date written YYYY-MM-DD, got {got}",
    "literal_error": "must be one of {expected}, got {got}",
    "enum": "must be one of {expected}, got {got}",
    "string_type": "must be text, got {got}",
    "dict_type": "must be a group of keys (key: value lines indented under it), got {got}",
    "model_type": "must be a group of keys (key: value lines indented under it), got {got}",
    "list_type": "must be a list, got {got}",
}


def _value_problem(item: Mapping[str, Any]) -> str:
    """One validation error's problem in our words; a rule of ours keeps its own message."""
    template = _VALUE_PROBLEMS.get(item["type"])
    if template is None:
        return item["msg"].removeprefix("Value error, ")
    context = {k: _shown(v) for k, v in (item.get("ctx") or {}).items()}
    return template.format(got=repr(item.get("input")), **context)


def _shown(value: object) -> str:
    """A bound as the reader wrote it: 0, not 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"Invalid configuration in {path}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        msg = _value_problem(item)
        # whole-file rules name their keys in the message itself
        lines.append(f"  - {key}: {msg}" if key else f"  - {msg}")
    return "\n".join(lines)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `overrides` merged in, nested dictionaries key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(raw: Any, source: Path, base_dir: Path | None = None) -> Config:
    """Validate an already-parsed YAML document; errors name the file and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Invalid configuration in {source}: the file must be a YAML mapping of sections "
            f"(snapshots, engagement_data, purchase_data, ...), got {type(raw).__name__}."
        )
    if "base_dir" in raw:
        raise ConfigError(f"Invalid configuration in {source}: base_dir is set by the loader.")
    data = dict(raw, base_dir=base_dir or source.resolve().parent)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None


def read_config_document(config_path: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Read config.yaml as a plain mapping, with clear errors for a missing or unparseable file."""
    path = Path(config_path) if config_path is not None else default_config_path()
    if not path.is_file():
        hint = (
            f"set {CONFIG_PATH_ENV} or pass the path" if config_path is None else "check the path"
        )
        raise ConfigFileNotFoundError(f"Configuration file not found: {path} ({hint}).")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"Configuration file {path} is not UTF-8 text.") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        loc = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"Configuration file {path} is not valid YAML{loc}: {problem}.") from None
    return path, raw


def load_config(
    config_path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Load and validate the configuration (default: $CONFIG_PATH, else ./config.yaml).

    Raises FileNotFoundError (ConfigFileNotFoundError) if the file does not exist and
    ValueError (ConfigError) naming the key if it is invalid.
    """
    path, raw = read_config_document(config_path)
    if overrides and isinstance(raw, dict):
        raw = deep_merge(raw, overrides)
    return parse_config(raw, path)
