"""Per-segment analysis and the recommendations that quote each segment's own figures."""

from __future__ import annotations

import duckdb
import pandas as pd

from engagement_pipeline.config import StrategyConfig
from engagement_pipeline.sql import exact_mean, exact_sum, ranked_values_sql
from engagement_pipeline.vocabulary import SegmentTier

SEGMENT_ORDER = [t.value for t in SegmentTier]

# Recommendation templates per segment, most important first. Placeholders are the
# segment's own figures: {count}, {share}, {avg_ltv}, {avg_engagement}, {total_revenue},
# {avg_days_inactive}.
STRATEGY_TEMPLATES: dict[SegmentTier, list[str]] = {
    SegmentTier.CHAMPION: [
        "Reward the {count} Champions ({share} of customers, average LTV {avg_ltv}) with a "
        "VIP tier: early access and personal thanks keep their engagement at {avg_engagement}.",
        "Ask Champions for reviews and referrals: they hold {total_revenue} of revenue and "
        "their advocacy converts best.",
        "Offer Champions premium bundles and loyalty perks rather than discounts; price is not "
        "what keeps them.",
        "Invite Champions to beta programmes and advisory panels to deepen the relationship.",
    ],
    SegmentTier.LOYAL: [
        "Upsell the {count} Loyal customers (average LTV {avg_ltv}, engagement "
        "{avg_engagement}) with personalised bundles and cross-category recommendations.",
        "Move Loyal customers toward Champion with a points programme that rewards both "
        "purchases and engagement.",
        "Where Loyal customers have high value but low engagement, add a mobile or email "
        "touchpoint they do not use yet.",
        "Survey Loyal customers to learn what would make them buy more often.",
    ],
    SegmentTier.POTENTIAL: [
        "Nurture the {count} Potential customers (average LTV {avg_ltv}) with an onboarding "
        "and education sequence across email and mobile.",
        "Give Potential customers a time-limited offer on a second purchase to lift their "
        "engagement from {avg_engagement}.",
        "Recommend products from the categories Potential customers browse to build habit.",
        "Test membership trials on Potential customers to speed them toward Loyal.",
    ],
    SegmentTier.AT_RISK: [
        "Win back the {count} At Risk customers (engagement {avg_engagement}, "
        "{avg_days_inactive} days since last activity on average) with a personal "
        "re-engagement campaign before they lapse.",
        "Have customer success call the At Risk customers with the highest LTV first; the "
        "segment holds {total_revenue} of revenue.",
        "Ask At Risk customers for feedback to find what went wrong and fix it.",
        "Offer At Risk customers a targeted incentive on their favourite category.",
    ],
    SegmentTier.LOST: [
        "Run a low-cost reactivation campaign for the {count} Lost customers ({share} of the "
        "base, {avg_days_inactive} days inactive on average).",
        "Exclude Lost customers from paid media to save spend; keep them on low-frequency email.",
        "Study why Lost customers left (their revenue was {total_revenue}) and feed the "
        "lessons into the At Risk playbook.",
        "Remove permanently unreachable Lost customers from active lists.",
    ],
}


def money(value: float | None) -> str:
    """$1,234.50; a dash for no value."""
    return "–" if value is None else f"${value:,.2f}"


def segment_analysis(
    con: duckdb.DuckDBPyConnection, segments: duckdb.DuckDBPyRelation
) -> pd.DataFrame:
    """Per snapshot date and segment: count, share, averages and revenue; all five tiers present."""
    tiers = con.sql(  # noqa: F841 - referenced by name in the SQL below
        f"SELECT * FROM {ranked_values_sql(SEGMENT_ORDER, 'segment', 'segment_rank')}"
    )
    return con.sql(
        f"""
        WITH dates AS (SELECT DISTINCT snapshot_date FROM segments),
        totals AS (SELECT snapshot_date, count(*) AS n FROM segments GROUP BY 1),
        agg AS (
            SELECT snapshot_date, segment,
                   count(*) AS customer_count,
                   {exact_mean("lifetime_value")} AS avg_ltv,
                   {exact_mean("engagement_score")} AS avg_engagement_score,
                   {exact_sum("total_revenue")} AS total_revenue,
                   avg(days_since_last_activity) AS avg_days_since_last_activity
            FROM segments GROUP BY ALL
        )
        SELECT d.snapshot_date, t.segment, t.segment_rank,
               coalesce(a.customer_count, 0) AS customer_count,
               coalesce(a.customer_count, 0) / totals.n AS customer_share,
               coalesce(a.avg_ltv, 0.0) AS avg_ltv,
               coalesce(a.avg_engagement_score, 0.0) AS avg_engagement_score,
               coalesce(a.total_revenue, 0.0) AS total_revenue,
               a.avg_days_since_last_activity
        FROM dates d CROSS JOIN tiers t
        JOIN totals USING (snapshot_date)
        LEFT JOIN agg a ON a.snapshot_date = d.snapshot_date AND a.segment = t.segment
        ORDER BY d.snapshot_date, t.segment_rank
        """
    ).df()


def recommendations(row: pd.Series, config: StrategyConfig) -> list[str]:
    """Up to max_recommendations_per_segment recommendations for one segment's figures."""
    if row["customer_count"] == 0:
        return []
    days = row["avg_days_since_last_activity"]
    figures = {
        "count": f"{int(row['customer_count']):,}",
        "share": f"{row['customer_share']:.1%}",
        "avg_ltv": money(row["avg_ltv"]),
        "avg_engagement": f"{row['avg_engagement_score']:.2f}",
        "total_revenue": money(row["total_revenue"]),
        "avg_days_inactive": "n/a" if pd.isna(days) else f"{days:.0f}",
    }
    templates = STRATEGY_TEMPLATES[SegmentTier(row["segment"])]
    return [t.format(**figures) for t in templates[: config.max_recommendations_per_segment]]


def segment_strategies(
    con: duckdb.DuckDBPyConnection, segments: duckdb.DuckDBPyRelation, config: StrategyConfig
) -> pd.DataFrame:
    """One row per snapshot date and segment: the analysis plus its recommendations."""
    analysis = segment_analysis(con, segments)
    # Five rows per snapshot date: formatting text per segment row is not a loop over customers.
    analysis["recommendations"] = [recommendations(row, config) for _, row in analysis.iterrows()]
    return analysis
