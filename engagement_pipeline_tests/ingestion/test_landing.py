"""Landing: each source file is validated once, kept by day, and landed again only when it changes."""

import datetime as dt
import os

from engagement_pipeline.config import load_config
from engagement_pipeline.ingestion.events import SECTION, validate_events
from engagement_pipeline.ingestion.landing import LANDING_FOLDER, MANIFEST
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ev

HEADER = "event_id,customer_id,touchpoint,timestamp,engagement_score\n"


def _landings(config_path):
    root = load_config(config_path).lake_dir / LANDING_FOLDER / SECTION
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def _run(config_path, start="2025-01-01", end="2025-01-10"):
    config = load_config(config_path)
    v = validate_events(
        new_connection(), config, dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    )
    return v.loaded.df(), v.quarantined.df()


def test_an_unchanged_file_is_landed_once_and_read_by_day(make_project):
    path = make_project(
        [ev("e1", "c1", "web", "2025-01-01 10:00"), ev("e2", "c2", "email", "2025-01-03 09:00")]
    )
    loaded, _ = _run(path)
    (landing,) = _landings(path)
    written = (landing / MANIFEST).stat().st_mtime_ns
    # one folder per day, named by the day, of rows in the lake's form: a run lists the
    # days it needs (a single file is settled at landing: see test_settle.py)
    assert sorted(p.name for p in (landing / "loaded").iterdir()) == [
        "snapshot_date=2025-01-01",
        "snapshot_date=2025-01-03",
    ]
    day, _ = _run(path, "2025-01-03", "2025-01-03")
    assert day["event_id"].tolist() == ["e2"]
    assert _landings(path) == [landing]
    assert (landing / MANIFEST).stat().st_mtime_ns == written  # not landed again
    assert loaded["event_id"].tolist() == ["e1", "e2"]


def test_a_changed_file_lands_again_and_its_old_landing_goes(make_project, tmp_path):
    path = make_project([ev("e1", "c1", "web", "2025-01-01 10:00")])
    _run(path)
    (before,) = _landings(path)
    events = tmp_path / "events.csv"
    events.write_text(events.read_text() + "e2,c2,mobile,2025-01-02 08:00,\n")
    loaded, _ = _run(path)
    (after,) = _landings(path)
    assert after != before and not before.exists()
    assert loaded["event_id"].tolist() == ["e1", "e2"]


def test_a_new_daily_file_lands_alone_and_a_removed_one_is_forgotten(make_project, tmp_path):
    path = make_project([], engagement_data={"file_path": "daily/*.csv"})
    daily = tmp_path / "daily"
    daily.mkdir()
    (daily / "a.csv").write_text(HEADER + "a1,c1,web,2025-01-01 10:00,\n")
    _run(path)
    (first,) = _landings(path)
    written = (first / MANIFEST).stat().st_mtime_ns
    (daily / "b.csv").write_text(HEADER + "b1,c1,web,2025-01-02 10:00,\n")
    loaded, _ = _run(path)
    assert len(_landings(path)) == 2 and (first / MANIFEST).stat().st_mtime_ns == written
    assert loaded["event_id"].tolist() == ["a1", "b1"]
    os.remove(daily / "a.csv")
    loaded, _ = _run(path)
    assert len(_landings(path)) == 1 and not first.exists()
    assert loaded["event_id"].tolist() == ["b1"]


def test_an_id_reused_in_another_file_on_another_day_is_found_from_the_key_files(
    make_project, tmp_path
):
    path = make_project([], engagement_data={"file_path": "daily/*.csv"})
    daily = tmp_path / "daily"
    daily.mkdir()
    (daily / "a.csv").write_text(HEADER + "x1,c1,web,2025-01-01 10:00,\n")
    (daily / "b.csv").write_text(
        HEADER + "x1,c2,email,2025-01-05 10:00,\nb2,c2,web,2025-01-05 11:00,\n"
    )
    loaded, quarantined = _run(path, "2025-01-05", "2025-01-05")
    assert loaded["event_id"].tolist() == ["b2"]
    assert quarantined[["reason", "source_row", "detail"]].values.tolist() == [
        ["duplicate_event_id", 2, "x1"]
    ]
    # the repeat passed every check: its record is the row as it would have been loaded
    assert '"customer_id":"c2"' in quarantined["record"][0].replace(" ", "")


def test_a_run_of_days_without_rows_has_the_columns_and_no_rows(make_project):
    path = make_project([ev("e1", "c1", "web", "2025-01-01 10:00")])
    loaded, quarantined = _run(path, "2025-01-07", "2025-01-08")
    assert loaded.empty and quarantined.empty
    assert "event_timestamp" in loaded.columns and "reason" in quarantined.columns
