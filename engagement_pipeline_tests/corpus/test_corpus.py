"""Every input in the bad-input corpus ends in quarantine with a reason or one clear error."""

import re
from pathlib import Path

import pytest
import yaml

from engagement_pipeline.config import parse_config
from engagement_pipeline.errors import PipelineError
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.ingestion.validation import REASON_CODES
from engagement_pipeline.sql import new_connection

HERE = Path(__file__).resolve().parent
CASES = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
# How DuckDB (or pyarrow, Python) words its errors: never part of a message of ours.
LIBRARY_WORDING = re.compile(
    r"(Invalid Input|Conversion|Binder|Parser|IO|Catalog|Internal|Out of Range|Not implemented"
    r"|Serialization|Constraint|Invalid Configuration|Permission|Syntax|Type Mismatch) Error"
    r"|\w+Error\b|\w+Exception\b|Traceback"
)


def run_case(case: dict, lake: Path):
    start, end = case.get("start", "2025-01-01"), case.get("end", "2025-01-03")
    section = "engagement_data" if case["source"] == "events" else "purchase_data"
    other = "purchase_data" if section == "engagement_data" else "engagement_data"
    mapped = (
        {"event_id_column": "event_id", "engagement_score_column": "engagement_score"}
        if section == "engagement_data"
        else {}
    )
    config = parse_config(
        {
            "snapshots": {"start_date": start, "end_date": end},
            section: {"file_path": case["file"], **mapped, **case.get("config", {})},
            other: {"file_path": "unused.csv"},
            # the sources are landed in the lake: a temporary one, never the source tree
            "storage": {"lake_path": str(lake)},
        },
        HERE / "files" / "config.yaml",
    )
    validate = validate_events if case["source"] == "events" else validate_purchases
    result = validate(
        new_connection(), config, config.snapshots.start_date, config.snapshots.end_date
    )
    return result.loaded.df(), result.quarantined.df()


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case, tmp_path):
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(PipelineError) as info:
            run_case(case, tmp_path)
        message = str(info.value)
        assert re.search(expect["error"], message), message
        assert "\n" not in message.strip()
        assert not LIBRARY_WORDING.search(message), message
        return
    loaded, quarantined = run_case(case, tmp_path)
    assert len(loaded) == expect["loaded"]
    got = quarantined["reason"].value_counts().to_dict()
    assert got == expect["quarantined"], quarantined[["source_row", "reason", "detail"]]
    assert set(got) <= REASON_CODES  # every code is a documented one
    # every quarantined row says where it came from
    assert quarantined["source_file"].str.endswith(case["file"]).all()
    assert quarantined["source_row"].notna().all() and quarantined["reason"].notna().all()
    if "days" in expect:
        days = loaded["snapshot_date"].astype(str).value_counts().to_dict()
        assert days == expect["days"]
