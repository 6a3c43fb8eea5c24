"""The data-quality documentation lists every reason code and every check the code has."""

from pathlib import Path

from engagement_pipeline.defs.checks import (
    CLV_CONTRACTS,
    QUARANTINE_CONTRACTS,
    RAW_EVENT_CONTRACTS,
    RAW_PURCHASE_CONTRACTS,
    SNAPSHOT_CONTRACTS,
)
from engagement_pipeline.ingestion.validation import REASON_CODES

DOC = (Path(__file__).resolve().parents[1] / "docs" / "data_quality.md").read_text(encoding="utf-8")


def test_every_reason_code_is_documented():
    assert [c for c in sorted(REASON_CODES) if f"| {c} |" not in DOC] == []


def test_every_check_is_documented():
    contracts = [
        *RAW_EVENT_CONTRACTS,
        *RAW_PURCHASE_CONTRACTS,
        *CLV_CONTRACTS,
        *(c for cs in SNAPSHOT_CONTRACTS.values() for c in cs),
        *(c for cs in QUARANTINE_CONTRACTS.values() for c in cs),
    ]
    missing = [f"{c.asset}.{c.name}" for c in contracts if c.name not in DOC or c.asset not in DOC]
    assert missing == []
