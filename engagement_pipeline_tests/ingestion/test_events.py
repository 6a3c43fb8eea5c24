import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.errors import SourceError
from engagement_pipeline.ingestion.events import EVENT_COLUMNS, validate_events
from engagement_pipeline.ingestion.touchpoints import TOUCHPOINT_ALIASES, alias_key
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev


def run(config_path, start=None, end=None):
    config = load_config(config_path)
    con = new_connection()
    v = validate_events(
        con, config, start or config.snapshots.start_date, end or config.snapshots.end_date
    )
    return v.loaded.df(), v.quarantined.df()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Email", "email"),
        ("E-Mail", "email"),
        (" e_mail ", "email"),
        ("WEBSITE", "web"),
        ("Mobile App", "mobile"),
        ("in-app", "mobile"),
        ("Social Media", "social"),
        ("Customer Support", "support"),
        ("order", "purchase"),
        ("Product Review", "review"),
    ],
)
def test_touchpoint_spellings_are_normalised(make_project, raw, expected):
    loaded, quarantined = run(make_project([ev("e1", "c1", raw, "2025-01-01 10:00")]))
    assert quarantined.empty
    assert loaded["touchpoint"].tolist() == [expected]
    assert TOUCHPOINT_ALIASES[alias_key(raw)].value == expected


def test_every_row_is_loaded_or_quarantined_with_one_reason(make_project):
    rows = [
        ev("e1", "c1", "web", "2025-01-01 10:00", 0.5),
        ev("e2", "", "web", "2025-01-01 11:00"),  # missing customer
        ev("e3", "c1", "fax", "2025-01-02 09:00"),  # unknown touchpoint
        ev("e4", "c1", "", "2025-01-02 09:00"),  # missing touchpoint
        ev("e5", "c1", "web", "yesterday"),  # unreadable timestamp
        ev("e6", "c1", "web", ""),  # missing timestamp
        ev("e7", "c1", "web", "2025-01-02 10:00", 1.5),  # score out of range
        ev("e8", "c1", "web", "2025-01-02 10:00", "nan"),  # NaN (not the null token "NaN")
        ev("e9", "c2", "web", "2025-01-03 10:00"),
        ev("e9", "c2", "web", "2025-01-03 10:00"),  # exact duplicate row
        ev("e9", "c3", "email", "2025-01-03 11:00"),  # same id, other content
        ev("e10", "c2", "web", "2024-12-31 10:00"),  # before the first partition
        ev("e11", "c2", "web", "2025-01-11 10:00"),  # after the last partition
    ]
    loaded, q = run(make_project(rows))
    assert loaded["event_id"].tolist() == ["e1", "e9"]
    reasons = dict(zip(q["source_row"], q["reason"], strict=True))
    assert reasons == {
        3: "missing_customer_id",
        4: "unknown_touchpoint",
        5: "missing_touchpoint",
        6: "invalid_timestamp",
        7: "missing_timestamp",
        8: "invalid_engagement_score",
        9: "invalid_engagement_score",
        11: "duplicate_row",
        12: "duplicate_event_id",
        13: "before_start_date",
        14: "after_end_date",
    }
    assert len(loaded) + len(q) == len(rows)  # rows read = loaded + quarantined
    assert q.set_index("source_row").loc[4, "detail"] == "fax"
    assert q.set_index("source_row").loc[4, "column_name"] == "touchpoint"
    assert '"touchpoint":"fax"' in q.set_index("source_row").loc[4, "record"].replace(" ", "")


def test_rows_are_filed_under_their_day(make_project):
    rows = [
        ev("e1", "c1", "web", "2025-01-01 10:00"),
        ev("e2", "c1", "web", "garbage"),  # no day of its own: the file's first day
        ev("e3", "c1", "web", "2025-01-03 10:00"),
        ev("e4", "c1", "web", "2024-06-01 10:00"),  # before start: filed under the first day
        ev("e5", "c1", "web", "2030-01-01 10:00"),  # after end: filed under the last day
    ]
    path = make_project(rows)
    loaded, q = run(path)
    assert dict(zip(q["source_row"], q["snapshot_date"].astype(str), strict=True)) == {
        3: "2025-01-01",
        5: "2025-01-01",
        6: "2025-01-10",
    }
    # a one-day run sees only that day's rows, loaded and quarantined
    day = pd.Timestamp("2025-01-03").date()
    loaded3, q3 = run(path, day, day)
    assert loaded3["event_id"].tolist() == ["e3"] and q3.empty
    loaded1, q1 = run(path, pd.Timestamp("2025-01-01").date(), pd.Timestamp("2025-01-01").date())
    assert loaded1["event_id"].tolist() == ["e1"] and sorted(q1["source_row"]) == [3, 5]


def test_timestamps_with_offsets_become_utc(make_project):
    rows = [
        ev("e1", "c1", "web", "2025-01-02T01:30:00+02:00"),  # 2025-01-01 23:30 UTC
        ev("e2", "c1", "web", "2025-01-02T10:00:00Z"),
        ev("e3", "c1", "web", "01/03/2025 07:45"),  # Online Retail style, month first
        ev("e4", "c1", "web", "2025-01-04"),
    ]
    loaded, q = run(make_project(rows))
    assert q.empty
    got = dict(zip(loaded["event_id"], loaded["event_timestamp"].astype(str), strict=True))
    assert got == {
        "e1": "2025-01-01 23:30:00",
        "e2": "2025-01-02 10:00:00",
        "e3": "2025-01-03 07:45:00",
        "e4": "2025-01-04 00:00:00",
    }
    assert (
        dict(zip(loaded["event_id"], loaded["snapshot_date"].astype(str), strict=True))["e1"]
        == "2025-01-01"
    )


def test_custom_timestamp_format(make_project):
    path = make_project(
        [ev("e1", "c1", "web", "03/01/2025 07:45")],
        engagement_data={"timestamp_format": "%d/%m/%Y %H:%M"},
    )
    loaded, _ = run(path)
    assert str(loaded["event_timestamp"].iloc[0]) == "2025-01-03 07:45:00"


def test_a_file_with_no_readable_timestamp_is_one_clear_error(make_project):
    path = make_project([ev("e1", "c1", "web", "13/13/2025"), ev("e2", "c1", "web", "nope")])
    with pytest.raises(
        SourceError,
        match=r"no row of .*events\.csv has a readable timestamp \(first value: '13/13/2025'\).*timestamp_format",
    ):
        run(path)


def test_missing_event_id_column_gets_stable_ids(make_project):
    path = make_project(
        [ev("x", "c1", "web", "2025-01-01 10:00")], engagement_data={"event_id_column": None}
    )
    loaded, _ = run(path)
    assert loaded["event_id"].tolist() == ["events.csv:2"]


def test_loaded_schema(make_project):
    loaded, _ = run(make_project([ev("e1", "c1", "web", "2025-01-01 10:00", 0.25)]))
    assert tuple(loaded.columns) == EVENT_COLUMNS


def test_undated_rows_of_daily_files_land_on_the_files_day(make_project, tmp_path):
    path = make_project([], engagement_data={"file_path": "daily/*.csv"})
    (tmp_path / "daily").mkdir()
    header = "event_id,customer_id,touchpoint,timestamp,engagement_score\n"
    (tmp_path / "daily" / "a.csv").write_text(header + "a1,c1,web,2025-01-02 10:00,\n")
    (tmp_path / "daily" / "b.csv").write_text(
        header + "b1,c1,web,???,\nb2,c1,web,2025-01-04 10:00,\n"
    )
    loaded, q = run(path)
    assert q["snapshot_date"].astype(str).tolist() == ["2025-01-04"]
    assert q["source_file"].str.endswith("b.csv").all() and q["source_row"].tolist() == [2]


def test_repeated_id_on_a_later_day_is_caught_by_a_one_day_run(make_project):
    path = make_project(
        [
            ev("e1", "c1", "web", "2025-01-01 10:00"),
            ev("e1", "c2", "email", "2025-01-03 10:00"),
            ev("e2", "c2", "email", "2025-01-03 11:00"),
        ]
    )
    day = pd.Timestamp("2025-01-03").date()
    loaded, q = run(path, day, day)
    assert loaded["event_id"].tolist() == ["e2"]
    assert q[["reason", "column_name", "detail"]].values.tolist() == [
        ["duplicate_event_id", "event_id", "e1"]
    ]
