"""A single-file source settled at landing gives exactly the rows of the general path.

The same file is read twice: named as it is (one file: settled at landing, each row's
fate decided once and the lake's files written by day) and through a glob matching only
it (a set of files: landed, then each run's days classified). Every loaded and every
quarantined row must agree, column for column and type for type.
"""

import datetime as dt

import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import INGESTION_JOB
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.landing import LANDING_FOLDER
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.lake import Lake
from engagement_pipeline.sql import new_connection

EVENTS = """event_id,customer_id,touchpoint,timestamp,engagement_score
e1,c1,web,2025-01-01 10:00,0.5
e2,,web,2025-01-01 11:00,
e3,c1,fax,2025-01-02 09:00,
e4,c1,web,yesterday,
e5,c2,web,2025-01-03 10:00,
e5,c2,web,2025-01-03 10:00,
e5,c3,email,2025-01-03 11:00,
e6,,web,2025-01-04 10:00,
e6,c4,web,2025-01-05 10:00,
e6,c4,web,2025-01-06 10:00,
e7,c5,web,2025-01-04 12:00,0.2,extra
e8,c5,mobile,2024-12-30 10:00,
e9,c5,mobile,2025-01-20 10:00,
e10,c6,social,2025-01-07 08:00,1.5
e11,c6,social,2025-01-07 08:30,0.9
"""

# No event id: each line gets its own (file:row), so no line repeats another.
EVENTS_WITHOUT_IDS = """customer_id,touchpoint,timestamp
c1,web,2025-01-01 10:00
c1,web,2025-01-01 10:00
c1, web ,2025-01-01 10:00
c2,web,garbage
c2,web,garbage
c3,email,2025-01-02 10:00
"""

PURCHASES = """order_id,customer_id,purchase_date,amount
o1,c1,2025-01-01 10:00,10.5
o2,c1,2025-01-01 11:00,-3
o3,c2,2025-01-02 10:00,abc
o4,c2,2025-01-02 11:00,20
o4,c2,2025-01-02 11:00,20
o4,c3,2025-01-05 11:00,25
o5,,2025-01-03 10:00,5
o6,c4,,7
"""


def _both_paths(tmp_path, make_project, name, text, section, **source):
    """(loaded, quarantined) of the settled path and of the general path, rows sorted."""
    glob_name = f"{name[0]}[{name[1]}]{name[2:]}"  # matches only `name`, but is a glob
    results = []
    for file_path in (name, glob_name):
        path = make_project(**{section: {"file_path": file_path, **source}})
        (tmp_path / name).write_text(text)  # beside the project's own events.csv
        config = load_config(path)
        validate = validate_events if section == "engagement_data" else validate_purchases
        start, end = config.snapshots.start_date, config.snapshots.end_date
        v = validate(new_connection(), config, start, end)
        assert (v.files is not None) == (file_path == name)  # the path taken
        results.append(
            tuple(
                rel.df().sort_values("source_row", kind="stable").reset_index(drop=True)
                for rel in (v.loaded, v.quarantined)
            )
        )
    return results


def _assert_same(settled, general):
    for mine, theirs in zip(settled, general, strict=True):
        assert list(mine.columns) == list(theirs.columns)
        assert mine.dtypes.to_dict() == theirs.dtypes.to_dict()
        pd.testing.assert_frame_equal(mine, theirs)


def test_settled_events_equal_the_general_path_row_for_row(tmp_path, make_project):
    settled, general = _both_paths(tmp_path, make_project, "export.csv", EVENTS, "engagement_data")
    _assert_same(settled, general)
    loaded, quarantined = settled
    assert loaded["event_id"].tolist() == ["e1", "e5", "e6", "e11"]
    # e6 on 2025-01-05 is the id's first valid use (its first row lacks a customer):
    # loaded; its use a day later is a reused id
    assert loaded.set_index("event_id").loc["e6", "source_row"] == 10
    assert dict(zip(quarantined["source_row"], quarantined["reason"], strict=True)) == {
        3: "missing_customer_id",
        4: "unknown_touchpoint",
        5: "invalid_timestamp",
        7: "duplicate_row",
        8: "duplicate_event_id",
        9: "missing_customer_id",
        11: "duplicate_event_id",
        12: "wrong_column_count",
        13: "before_start_date",
        14: "after_end_date",
        15: "invalid_engagement_score",
    }


def test_settled_rows_without_ids_equal_the_general_path(tmp_path, make_project):
    settled, general = _both_paths(
        tmp_path,
        make_project,
        "export.csv",
        EVENTS_WITHOUT_IDS,
        "engagement_data",
        event_id_column=None,
        engagement_score_column=None,
    )
    _assert_same(settled, general)
    loaded, quarantined = settled
    assert loaded["source_row"].tolist() == [2, 3, 4, 7]
    assert loaded["event_id"].tolist() == [
        "export.csv:2",
        "export.csv:3",
        "export.csv:4",
        "export.csv:7",
    ]
    assert quarantined["reason"].tolist() == ["invalid_timestamp", "invalid_timestamp"]


def test_settled_purchases_equal_the_general_path(tmp_path, make_project):
    settled, general = _both_paths(tmp_path, make_project, "orders.csv", PURCHASES, "purchase_data")
    _assert_same(settled, general)
    loaded, quarantined = settled
    assert loaded["order_id"].tolist() == ["o1", "o4"]
    assert loaded["line_count"].tolist() == [1, 1]
    assert sorted(quarantined["reason"]) == sorted(
        [
            "non_positive_amount",
            "invalid_amount",
            "duplicate_row",
            "duplicate_order_id",
            "missing_customer_id",
            "missing_timestamp",
        ]
    )


@pytest.mark.parametrize("day", ["2025-01-03", "2025-01-08"])
def test_a_run_links_its_days_settled_files_into_the_lake(tmp_path, make_project, day):
    """A run's cost is its days' files: each partition is the landing's file itself (a
    hard link on the same disk), a day without rows gets the columns alone."""
    path = make_project()
    (tmp_path / "events.csv").write_text(EVENTS)
    result = (
        build_definitions(path).resolve_job_def(INGESTION_JOB).execute_in_process(partition_key=day)
    )
    assert result.success
    config = load_config(path)
    lake = Lake(config.lake_dir)
    partition = lake.partition_file("raw_engagement_events", day)
    (landing,) = (config.work_dir / LANDING_FOLDER / "engagement_data").iterdir()
    landed = list((landing / "loaded").glob(f"snapshot_date={day}/*.parquet"))
    if day == "2025-01-03":
        assert partition.stat().st_ino == landed[0].stat().st_ino
    else:
        assert not landed
    con = new_connection()
    rows = lake.read(con, "raw_engagement_events", [day]).df()
    expected = validate_events(
        con, config, dt.date.fromisoformat(day), dt.date.fromisoformat(day)
    ).loaded.df()
    pd.testing.assert_frame_equal(
        rows.sort_values("source_row").reset_index(drop=True),
        expected.sort_values("source_row").reset_index(drop=True),
    )
