import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.errors import SourceError, SourceFileNotFoundError
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev

D1 = "2025-01-01"


def run(config_path):
    config = load_config(config_path)
    con = new_connection()
    v = validate_events(con, config, config.snapshots.start_date, config.snapshots.end_date)
    return v.loaded.df(), v.quarantined.df()


def test_missing_file_is_named(make_project, tmp_path):
    path = make_project([], engagement_data={"file_path": "missing.csv"})
    with pytest.raises(
        SourceFileNotFoundError,
        match=r"Engagement data file not found: .*missing\.csv \(engagement_data\.file_path\)",
    ):
        run(path)


def test_glob_matching_nothing(make_project):
    path = make_project([], engagement_data={"file_path": "exports/*.csv"})
    with pytest.raises(SourceFileNotFoundError, match=r"glob .*exports/\*\.csv matches no file"):
        run(path)


def test_directory_instead_of_file(make_project, tmp_path):
    (tmp_path / "adir").mkdir()
    path = make_project([], engagement_data={"file_path": "adir"})
    with pytest.raises(SourceError, match="is a directory, not a file"):
        run(path)


def test_missing_column_names_file_column_and_key(make_project):
    path = make_project(
        [ev("e1", "c1", "web", D1)], engagement_data={"touchpoint_column": "Touchpoint"}
    )
    with pytest.raises(SourceError) as info:
        run(path)
    text = str(info.value)
    assert "Missing required columns in" in text and "events.csv" in text
    assert "'Touchpoint' (engagement_data.touchpoint_column)" in text
    assert "'touchpoint' exists: column names are case-sensitive" in text


def test_glob_of_daily_files_in_order(make_project, tmp_path):
    path = make_project([], engagement_data={"file_path": "daily/events-*.csv"})
    (tmp_path / "daily").mkdir()
    for day in ("02", "01"):
        (tmp_path / "daily" / f"events-{day}.csv").write_text(
            f"event_id,customer_id,touchpoint,timestamp,engagement_score\ne{day},c1,web,2025-01-{day} 10:00,\n"
        )
    loaded, quarantined = run(path)
    assert list(loaded["event_id"]) == ["e01", "e02"]
    assert loaded["source_file"].str.endswith("events-01.csv").iloc[0]
    assert list(loaded["source_row"]) == [2, 2]  # line 2 of each file (line 1 is the header)
    assert quarantined.empty


def test_json_array_and_json_lines(make_project, tmp_path):
    rows = [
        ev("e1", "c1", "web", "2025-01-01T10:00:00"),
        ev("e2", "c2", "email", "2025-01-02T10:00:00", 0.5),
    ]
    (tmp_path / "events.json").write_text(json.dumps(rows))
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    for name in ("events.json", "events.jsonl"):
        path = make_project([], engagement_data={"file_path": name, "format": "json"})
        loaded, quarantined = run(path)
        assert list(loaded["event_id"]) == ["e1", "e2"], name
        assert loaded["engagement_score"].iloc[1] == 0.5
        assert list(loaded["source_row"]) == [1, 2]


def test_parquet_source_with_typed_columns(make_project, tmp_path):
    table = pa.table(
        {
            "event_id": ["e1", "e2"],
            "customer_id": ["c1", "c1"],
            "touchpoint": ["WEB", "Mobile App"],
            "timestamp": pa.array(
                [1735725600, 1735812000], pa.timestamp("s")
            ),  # 2025-01-01/02 10:00
            "engagement_score": [0.25, None],
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    path = make_project([], engagement_data={"file_path": "events.parquet", "format": "parquet"})
    loaded, _ = run(path)
    assert list(loaded["touchpoint"]) == ["web", "mobile"]
    assert str(loaded["event_timestamp"].iloc[0]) == "2025-01-01 10:00:00"


def test_csv_line_numbers_account_for_rejected_lines(make_project, tmp_path):
    path = make_project([])
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,touchpoint,timestamp,engagement_score\n"
        "e1,c1,web,2025-01-01 10:00,\n"
        "e2,c1,web,2025-01-01 11:00,,EXTRA\n"
        "e3,c1,web,2025-01-01 12:00,\n"
        "e4,c1,fax,2025-01-01 13:00,\n"
    )
    loaded, quarantined = run(path)
    assert list(zip(loaded["event_id"], loaded["source_row"], strict=True)) == [
        ("e1", 2),
        ("e3", 4),
    ]
    by_row = dict(zip(quarantined["source_row"], quarantined["reason"], strict=True))
    assert by_row == {3: "wrong_column_count", 5: "unknown_touchpoint"}
