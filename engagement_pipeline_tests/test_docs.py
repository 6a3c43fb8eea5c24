"""The data-quality documentation lists every reason code and every check the code has."""

from pathlib import Path

from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.ingestion.validation import REASON_CODES

DOC = (Path(__file__).resolve().parents[1] / "docs" / "data_quality.md").read_text(encoding="utf-8")


def test_every_reason_code_is_documented():
    assert [c for c in sorted(REASON_CODES) if f"| {c} |" not in DOC] == []


def documented_checks() -> set[tuple[str, str]]:
    """(asset, check) pairs of the checks table: cells may list several, comma-separated."""
    pairs = set()
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2] in ("blocking", "warning"):
            pairs |= {(a, c) for a in cells[0].split(", ") for c in cells[1].split(", ")}
    return pairs


def test_every_check_in_the_graph_is_documented():
    checks = build_definitions().resolve_asset_graph().asset_check_keys
    assert len(checks) > 20
    in_graph = {(c.asset_key.to_user_string(), c.name) for c in checks}
    assert sorted(in_graph - documented_checks()) == []
    assert sorted(documented_checks() - in_graph) == []
