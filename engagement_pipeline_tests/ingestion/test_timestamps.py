"""Timestamps: Unix epoch numbers, and slash dates read day-first or month-first per file."""

import json

import pytest

from engagement_pipeline.errors import SourceError
from engagement_pipeline_tests.ingestion.test_sources import HEADER, run


def _events(tmp_path, name, stamps, prefix="e"):
    lines = "".join(f"{prefix}{i},c1,web,{ts},\n" for i, ts in enumerate(stamps, start=1))
    (tmp_path / name).write_text(HEADER + lines)


def test_epoch_seconds_and_milliseconds_in_json(make_project, tmp_path):
    rows = [
        {"event_id": "e1", "customer_id": "c1", "touchpoint": "web", "timestamp": 1735725600},
        {"event_id": "e2", "customer_id": "c1", "touchpoint": "web", "timestamp": 1735812000000},
        {"event_id": "e3", "customer_id": "c1", "touchpoint": "web", "timestamp": 1735725600.5},
    ]
    (tmp_path / "events.json").write_text(json.dumps(rows))
    path = make_project(
        [],
        engagement_data={
            "file_path": "events.json",
            "format": "json",
            "engagement_score_column": None,
        },
    )
    loaded, quarantined = run(path)
    assert quarantined.empty
    stamps = loaded.set_index("event_id")["event_timestamp"]
    assert stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_dict() == {
        "e1": "2025-01-01 10:00:00.000000",  # 1735725600 s
        "e3": "2025-01-01 10:00:00.500000",
        "e2": "2025-01-02 10:00:00.000000",  # 1735812000000 ms
    }


@pytest.mark.parametrize(
    "unit, expected",
    [
        # auto: 8 digits stay YYYYMMDD, 10 digits are seconds, 13 milliseconds, 4 not a time
        ("auto", {2: "2025-01-01", 3: "2025-01-01", 4: "2025-01-02", 5: "invalid_timestamp"}),
        # seconds: 20250101 s is 1970-08-23; 1735812000000 s is past the year 9999
        (
            "seconds",
            {
                2: "before_start_date",
                3: "2025-01-01",
                4: "invalid_timestamp",
                5: "before_start_date",
            },
        ),
        # milliseconds: 1735725600 ms is 1970-01-21
        (
            "milliseconds",
            {
                2: "before_start_date",
                3: "before_start_date",
                4: "2025-01-02",
                5: "before_start_date",
            },
        ),
    ],
)
def test_timestamp_unit(make_project, tmp_path, unit, expected):
    path = make_project([], engagement_data={"timestamp_unit": unit})
    _events(tmp_path, "events.csv", ["20250101", "1735725600", "1735812000000", "2025"])
    loaded, quarantined = run(path)
    got = {
        **dict(
            zip(
                loaded["source_row"], loaded["event_timestamp"].dt.strftime("%Y-%m-%d"), strict=True
            )
        ),
        **dict(zip(quarantined["source_row"], quarantined["reason"], strict=True)),
    }
    assert got == expected


def _days(loaded):
    return dict(
        zip(loaded["event_id"], loaded["event_timestamp"].dt.strftime("%Y-%m-%d"), strict=True)
    )


def test_a_day_first_file_is_read_day_first_throughout(make_project, tmp_path):
    path = make_project([], end="2025-04-30")
    _events(tmp_path, "events.csv", ["15/03/2025 10:00", "03/04/2025 10:00", "01/02/2025"])
    loaded, quarantined = run(path)
    assert quarantined.empty
    assert _days(loaded) == {"e1": "2025-03-15", "e2": "2025-04-03", "e3": "2025-02-01"}


def test_month_first_and_ambiguous_files_read_month_first(make_project, tmp_path):
    path = make_project([], end="2025-04-30", engagement_data={"file_path": "daily/*.csv"})
    (tmp_path / "daily").mkdir()
    _events(tmp_path, "daily/a.csv", ["03/15/2025 10:00", "03/04/2025 10:00"], "a")
    _events(tmp_path, "daily/b.csv", ["03/04/2025 11:00"], "b")  # all ambiguous: month-first
    _events(tmp_path, "daily/c.csv", ["15/03/2025 12:00", "03/04/2025 12:00"], "c")  # its own order
    loaded, quarantined = run(path)
    assert quarantined.empty, quarantined[["source_file", "source_row", "reason", "detail"]]
    got = sorted(
        zip(loaded["source_file"].str[-5:], loaded["event_timestamp"].astype(str), strict=True)
    )
    assert got == [
        ("a.csv", "2025-03-04 10:00:00"),
        ("a.csv", "2025-03-15 10:00:00"),
        ("b.csv", "2025-03-04 11:00:00"),
        ("c.csv", "2025-03-15 12:00:00"),
        ("c.csv", "2025-04-03 12:00:00"),
    ]


def test_a_file_with_both_orders_is_one_clear_error(make_project, tmp_path):
    path = make_project([], end="2025-04-30", engagement_data={"timestamp_column": "timestamp"})
    _events(tmp_path, "events.csv", ["15/03/2025 10:00", "03/04/2025 10:00", "03/16/2025 10:00"])
    with pytest.raises(SourceError) as info:
        run(path)
    message = str(info.value)
    assert f"{tmp_path / 'events.csv'} has dates in column 'timestamp'" in message
    assert "'15/03/2025 10:00'" in message and "'03/16/2025 10:00'" in message
    assert "set engagement_data.timestamp_format" in message.lower()
    assert "'%d/%m/%Y %H:%M'" in message


def test_timestamp_format_decides_without_detection(make_project, tmp_path):
    path = make_project([], end="2025-04-30", engagement_data={"timestamp_format": "%d/%m/%Y"})
    _events(tmp_path, "events.csv", ["15/03/2025", "03/04/2025", "03/16/2025"])
    loaded, quarantined = run(path)
    assert _days(loaded) == {"e1": "2025-03-15", "e2": "2025-04-03"}
    assert quarantined["reason"].tolist() == ["invalid_timestamp"]


def test_plain_and_zoned_texts_of_the_same_length_read_alike(make_project, tmp_path):
    """'YYYY-MM-DD HH:MM:SS' takes the plain cast; a text of the same 19 characters with an
    offset ('HH:MM+HH') must still be shifted to UTC, and a date that does not exist is
    still invalid, whichever cast reads it."""
    path = make_project([])
    stamps = [
        "2025-01-02 01:30:00",  # row 2: no offset, taken as UTC
        "2025-01-02 01:30+02",  # row 3: 19 characters too, two hours east of UTC
        " 2025-01-03 04:05:06 ",  # row 4: spaces around are trimmed first
        "2025-02-30 10:00:00",  # row 5: no 30 February
        "2025-01-04T08:00:00",  # row 6: the T form goes the zoned way, same result
        "2025-01-05 23:59:59+00:00",  # row 7
    ]
    _events(tmp_path, "events.csv", stamps)
    loaded, quarantined = run(path)
    got = dict(
        zip(
            loaded["source_row"],
            loaded["event_timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            strict=True,
        )
    )
    assert got == {
        2: "2025-01-02 01:30:00",
        3: "2025-01-01 23:30:00",
        4: "2025-01-03 04:05:06",
        6: "2025-01-04 08:00:00",
        7: "2025-01-05 23:59:59",
    }
    assert dict(zip(quarantined["source_row"], quarantined["reason"], strict=True)) == {
        5: "invalid_timestamp"
    }
