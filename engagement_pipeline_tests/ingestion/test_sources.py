import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from engagement_pipeline.config import load_config
from engagement_pipeline.errors import SourceError, SourceFileNotFoundError
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev
from engagement_pipeline_tests.corpus.test_corpus import LIBRARY_WORDING

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


def test_lines_are_counted_per_file_past_rejected_lines(make_project, tmp_path):
    path = make_project([], engagement_data={"file_path": "daily/events-*.csv"})
    (tmp_path / "daily").mkdir()
    head = "event_id,customer_id,touchpoint,timestamp,engagement_score\n"
    (tmp_path / "daily" / "events-01.csv").write_text(
        head + "".join(f"a{i},c1,web,2025-01-01 10:0{i},\n" for i in range(3))
    )
    (tmp_path / "daily" / "events-02.csv").write_text(
        head
        + "b0,c1,web,2025-01-02 10:00,\n"
        + "b1,c1,web,2025-01-02 10:01,,too,many\n"  # line 3: a column too many
        + "b2,c1,web,2025-01-02 10:02,\n"
        + "b3,c1,web,2025-01-02 10:03,\n"
    )
    loaded, quarantined = run(path)
    rows = loaded.assign(file=loaded["source_file"].str[-6:-4])
    assert rows[["file", "source_row", "event_id"]].values.tolist() == [
        ["01", 2, "a0"],
        ["01", 3, "a1"],
        ["01", 4, "a2"],
        ["02", 2, "b0"],
        ["02", 4, "b2"],
        ["02", 5, "b3"],
    ]
    assert quarantined["source_file"].str.endswith("events-02.csv").all()
    assert quarantined["source_row"].tolist() == [3]


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


def _without_score(config_path):
    """The project's config with no engagement_score column mapped."""
    raw = yaml.safe_load(config_path.read_text())
    raw["engagement_data"]["engagement_score_column"] = None
    config_path.write_text(yaml.safe_dump(raw))
    return config_path


HEADER = "event_id,customer_id,touchpoint,timestamp,engagement_score\n"


def test_unbalanced_quote_is_broken_quoting_and_good_lines_keep_their_rows(make_project, tmp_path):
    path = make_project([])
    (tmp_path / "events.csv").write_text(
        HEADER
        + "e0,c0,web,2025-01-01 09:00,\n"  # line 2
        + 'e1,"C1,web,2025-01-01 10:00,\n'  # line 3: the quote never closes
        + 'e2,"c2",web,2025-01-01 11:00,\n'  # line 4: a well-quoted field is unquoted
        + "e3,c3,web,2025-01-02 12:00,\n"  # line 5
        + 'e4,"C4,web,2025-01-02 13:00,0.5,x\n'  # line 6: broken and too many fields
    )
    loaded, quarantined = run(path)
    rows = zip(loaded["event_id"], loaded["customer_id"], loaded["source_row"], strict=True)
    assert list(rows) == [
        ("e0", "c0", 2),
        ("e2", "c2", 4),
        ("e3", "c3", 5),
    ]
    by_row = dict(zip(quarantined["source_row"], quarantined["reason"], strict=True))
    assert by_row == {3: "broken_quoting", 6: "broken_quoting"}
    assert quarantined.set_index("source_row").loc[3, "record"] == 'e1,"C1,web,2025-01-01 10:00,'
    assert len(loaded) + len(quarantined) == 5  # rows read = loaded + quarantined


def test_broken_quoting_is_found_in_a_file_that_is_not_utf8(make_project, tmp_path):
    """The quote count reads lines as UTF-8 first; a bad byte makes it read them as latin-1,
    with the same line numbers."""
    path = make_project([])
    (tmp_path / "events.csv").write_bytes(
        HEADER.encode()
        + b"e0,c0,web,2025-01-01 09:00,\n"  # line 2
        + b"e1,c\xff1,web,2025-01-01 10:00,\n"  # line 3: not UTF-8
        + b'e2,"C2,web,2025-01-01 11:00,\n'  # line 4: the quote never closes
        + b"e3,c3,web,2025-01-02 12:00,\n"  # line 5
    )
    loaded, quarantined = run(path)
    rows = zip(loaded["event_id"], loaded["source_row"], strict=True)
    assert list(rows) == [("e0", 2), ("e3", 5)]
    by_row = dict(zip(quarantined["source_row"], quarantined["reason"], strict=True))
    assert by_row == {3: "invalid_encoding", 4: "broken_quoting"}


def test_null_spellings_are_missing_values(make_project, tmp_path):
    path = make_project([])
    (tmp_path / "events.csv").write_text(
        HEADER
        + "e1,NULL,web,2025-01-01 10:00,\n"
        + "e2, None ,web,2025-01-01 10:00,\n"
        + "e3,c3,N/A,2025-01-01 10:00,\n"
        + "e4,c4,web,null,\n"
        + "e5,c5,web,2025-01-01 10:00,NaN\n"  # no score: loaded without one
        + "e6,Null,web,2025-01-01 10:00,\n"  # case as written: 'Null' is a customer
    )
    loaded, quarantined = run(path)
    assert dict(zip(quarantined["source_row"], quarantined["reason"], strict=True)) == {
        2: "missing_customer_id",
        3: "missing_customer_id",
        4: "missing_touchpoint",
        5: "missing_timestamp",
    }
    assert loaded["event_id"].tolist() == ["e5", "e6"]
    assert loaded["engagement_score"].isna().all()
    assert loaded["customer_id"].tolist() == ["c5", "Null"]


def test_null_spellings_are_configurable(make_project, tmp_path):
    path = make_project([], engagement_data={"null_values": ["", "-"]})
    (tmp_path / "events.csv").write_text(
        HEADER + "e1,NULL,web,2025-01-01 10:00,\ne2,-,web,2025-01-01 10:00,\n"
    )
    loaded, quarantined = run(path)
    assert loaded["customer_id"].tolist() == ["NULL"]
    assert quarantined["reason"].tolist() == ["missing_customer_id"]


def test_nested_json_values_are_quarantined(make_project, tmp_path):
    rows = [
        {"event_id": "e1", "customer_id": "c1", "touchpoint": "web", "timestamp": "2025-01-01"},
        {
            "event_id": "e2",
            "customer_id": {"id": 7},
            "touchpoint": "web",
            "timestamp": "2025-01-01",
        },
        {"event_id": "e3", "customer_id": "c3", "touchpoint": "web", "timestamp": ["2025-01-01"]},
        {"event_id": "e4", "customer_id": 42, "touchpoint": "web", "timestamp": "2025-01-02"},
    ]
    (tmp_path / "events.json").write_text(json.dumps(rows))
    path = make_project([], engagement_data={"file_path": "events.json", "format": "json"})
    loaded, quarantined = run(_without_score(path))
    assert loaded["customer_id"].tolist() == ["c1", "42"]  # JSON strings lose their quotes
    q = quarantined.set_index("source_row")
    assert q["reason"].to_dict() == {2: "nested_value", 3: "nested_value"}
    assert q["column_name"].to_dict() == {2: "customer_id", 3: "timestamp"}
    assert json.loads(q.loc[2, "detail"]) == {"id": 7}


def test_nested_values_in_every_row_of_a_column(make_project, tmp_path):
    # JSON Lines whose customer ids are all objects: the column is a STRUCT, not JSON
    rows = [
        {"event_id": f"e{i}", "customer_id": {"id": i}, "touchpoint": "web", "timestamp": D1}
        for i in (1, 2)
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    path = make_project([], engagement_data={"file_path": "events.jsonl", "format": "json"})
    loaded, quarantined = run(_without_score(path))
    assert loaded.empty
    assert quarantined["reason"].tolist() == ["nested_value", "nested_value"]


@pytest.mark.parametrize(
    "name, fmt, content, expected",
    [
        ("garbage.csv", "csv", bytes(range(256)) * 4, "does not look like delimited text"),
        ("events.json", "json", b'[{"event_id": "e1", "customer_id": "c1"', "not valid JSON"),
        ("events.parquet", "parquet", b"PAR1 not parquet \x00\x01", "not a Parquet file"),
    ],
)
def test_unreadable_files_are_explained_in_our_words(
    make_project, tmp_path, name, fmt, content, expected
):
    (tmp_path / name).write_bytes(content)
    path = make_project([], engagement_data={"file_path": name, "format": fmt})
    with pytest.raises(SourceError) as info:
        run(path)
    message = str(info.value)
    assert message.startswith(f"engagement_data: cannot read {tmp_path / name} as {fmt}: ")
    assert expected in message
    assert not LIBRARY_WORDING.search(message), message


def test_a_bad_record_past_the_sampled_part_is_explained_too(make_project, tmp_path):
    # read_json infers the columns from the first records; this one fails while rows are read
    good = json.dumps(ev("e1", "c1", "web", "2025-01-01 10:00"))
    (tmp_path / "events.jsonl").write_text((good + "\n") * 30_000 + '{"event_id": "x", "cu')
    path = make_project([], engagement_data={"file_path": "events.jsonl", "format": "json"})
    with pytest.raises(SourceError) as info:
        run(path)
    message = str(info.value)
    assert "cannot read" in message and "events.jsonl as json: it is not valid JSON" in message
    assert not LIBRARY_WORDING.search(message), message
