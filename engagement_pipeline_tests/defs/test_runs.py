import datetime as dt

from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.jobs import ENGAGEMENT_JOB
from engagement_pipeline.defs.runs import date_chunks, execute_range
from engagement_pipeline.lake import connection, temp_objects
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES, read

D = dt.date


def test_date_chunks():
    assert list(date_chunks(D(2025, 1, 1), D(2025, 1, 5), 2)) == [
        (D(2025, 1, 1), D(2025, 1, 2)),
        (D(2025, 1, 3), D(2025, 1, 4)),
        (D(2025, 1, 5), D(2025, 1, 5)),
    ]
    assert list(date_chunks(D(2025, 1, 1), D(2025, 1, 5), 366)) == [(D(2025, 1, 1), D(2025, 1, 5))]


def test_backfill_policy_follows_config(make_project):
    defs = build_definitions(
        make_project(EVENTS, PURCHASES, end="2025-01-05", snapshots={"max_days_per_run": 2})
    )
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).backfill_policy.max_partitions_per_run == 2, key
    # standalone checks (no_anomaly on the raw assets) run within their assets' runs
    assert any(not d.keys and d.check_keys for d in graph.assets_defs)


def test_range_in_chunks_equals_one_run(make_project):
    path = make_project(EVENTS, PURCHASES, end="2025-01-05", snapshots={"max_days_per_run": 2})
    job = build_definitions(path).resolve_job_def(ENGAGEMENT_JOB)
    before = temp_objects(connection())
    runs = list(execute_range(job, D(2025, 1, 1), D(2025, 1, 5), 2))
    assert [(s.day, e.day) for s, e, _ in runs] == [(1, 2), (3, 4), (5, 5)]
    assert all(r.success for _, _, r in runs)
    # the steps ran on this thread's connection and dropped what they computed on it
    assert temp_objects(connection()) == before
    chunked = read(path, "customer_segments", "2025-01-05")
    list(execute_range(job, D(2025, 1, 1), D(2025, 1, 5), 366))
    assert read(path, "customer_segments", "2025-01-05").equals(chunked)


def test_progress_line_says_dates_rate_and_time_left():
    from engagement_pipeline.defs.runs import progress_line

    assert progress_line(40, 181, 1_234_567, 60.0) == (
        "40/181 dates, 1,234,567 source rows at 20,576 rows/s, about 3m 32s left"
    )
    # at the latest run's pace when given: its 31 dates took 90 s, so 141 more take 409 s
    assert progress_line(40, 181, 1_234_567, 60.0, (31, 90.0)).endswith("about 6m 49s left")
    # the last line: how long the whole took, not "about 0s left"
    assert progress_line(181, 181, 28_119, 425.4) == (
        "181/181 dates, 28,119 source rows at 66 rows/s, all in 7m 05s"
    )


def test_run_progress_names_the_dates_rows_and_pace():
    from engagement_pipeline.defs.runs import run_progress

    assert run_progress(["2025-01-01", "2025-01-31"], 62_000, 2.0) == (
        "2025-01-01..2025-01-31 (2 dates): 62,000 rows in 2.0 s (31,000 rows/s)"
    )
    assert run_progress(["2025-01-01"], 0, 0.0).startswith("2025-01-01: 0 rows")


def test_quarantine_line_names_each_asset_its_rows_and_reasons():
    from collections import Counter

    from engagement_pipeline.defs.runs import quarantine_line

    assert quarantine_line(Counter()) == "Quarantined at ingestion: no rows."
    counts = Counter(
        {
            ("quarantined_purchases", "non_positive_amount"): 1,
            ("quarantined_engagement_events", "missing_customer_id"): 1,
            ("quarantined_engagement_events", "invalid_timestamp"): 1_204,
        }
    )
    assert quarantine_line(counts) == (
        "Quarantined at ingestion: 1,205 rows in quarantined_engagement_events "
        "(invalid_timestamp 1,204, missing_customer_id 1); 1 row in quarantined_purchases "
        "(non_positive_amount 1). Each row is kept there with its source file, row and reason "
        "(docs/data_quality.md explains each reason)."
    )
