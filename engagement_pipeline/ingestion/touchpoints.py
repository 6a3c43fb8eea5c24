"""Touchpoint spellings seen in real exports, mapped to the seven canonical touchpoints."""

from __future__ import annotations

from engagement_pipeline.vocabulary import TouchpointType

# Keys are compared after lower-casing and turning runs of '-', '_', '/', '.' and spaces into
# one space, so "E-Mail", "e_mail" and "E MAIL" all meet the "e mail" key.
TOUCHPOINT_ALIASES: dict[str, TouchpointType] = {
    **{t.value: t for t in TouchpointType},
    "e mail": TouchpointType.EMAIL,
    "mail": TouchpointType.EMAIL,
    "newsletter": TouchpointType.EMAIL,
    "email open": TouchpointType.EMAIL,
    "email click": TouchpointType.EMAIL,
    "website": TouchpointType.WEB,
    "web site": TouchpointType.WEB,
    "site": TouchpointType.WEB,
    "webpage": TouchpointType.WEB,
    "online": TouchpointType.WEB,
    "desktop": TouchpointType.WEB,
    "browser": TouchpointType.WEB,
    "app": TouchpointType.MOBILE,
    "mobile app": TouchpointType.MOBILE,
    "in app": TouchpointType.MOBILE,
    "ios": TouchpointType.MOBILE,
    "android": TouchpointType.MOBILE,
    "push": TouchpointType.MOBILE,
    "push notification": TouchpointType.MOBILE,
    "sms": TouchpointType.MOBILE,
    "social media": TouchpointType.SOCIAL,
    "facebook": TouchpointType.SOCIAL,
    "instagram": TouchpointType.SOCIAL,
    "twitter": TouchpointType.SOCIAL,
    "linkedin": TouchpointType.SOCIAL,
    "tiktok": TouchpointType.SOCIAL,
    "customer support": TouchpointType.SUPPORT,
    "customer service": TouchpointType.SUPPORT,
    "service": TouchpointType.SUPPORT,
    "helpdesk": TouchpointType.SUPPORT,
    "help desk": TouchpointType.SUPPORT,
    "ticket": TouchpointType.SUPPORT,
    "chat": TouchpointType.SUPPORT,
    "call center": TouchpointType.SUPPORT,
    "phone": TouchpointType.SUPPORT,
    "order": TouchpointType.PURCHASE,
    "transaction": TouchpointType.PURCHASE,
    "checkout": TouchpointType.PURCHASE,
    "buy": TouchpointType.PURCHASE,
    "purchases": TouchpointType.PURCHASE,
    "reviews": TouchpointType.REVIEW,
    "rating": TouchpointType.REVIEW,
    "product review": TouchpointType.REVIEW,
    "feedback": TouchpointType.REVIEW,
}

# The SQL expression that turns a raw touchpoint string into an alias key.
ALIAS_KEY_SQL = "trim(regexp_replace(lower(trim({col})), '[\\s_\\-/.]+', ' ', 'g'))"


def alias_key(raw: str) -> str:
    """The alias key of one raw spelling, the way ALIAS_KEY_SQL computes it (for tests and docs)."""
    import re

    return re.sub(r"[\s_\-/.]+", " ", raw.strip().lower()).strip()
