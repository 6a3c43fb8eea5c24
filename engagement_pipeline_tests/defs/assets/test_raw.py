from engagement_pipeline.defs.assets import raw
from engagement_pipeline_tests.test_quality import GOOD, events


def test_clean_events_pass_every_contract(con):
    outcomes = raw.raw_event_outcomes(events(con, GOOD), None)
    failing = {
        (k, d): o.description
        for k, per in outcomes.items()
        if k != raw.SCHEMA
        for d, o in per.items()
        if not o.passed
    }
    assert failing == {}
    assert outcomes[raw.UNIQUE_EVENT_IDS]["2025-01-02"].metadata["rows_checked"] == 1


def test_each_contract_catches_its_fault_on_its_date(con):
    bad = GOOD + [
        ("2025-01-02", "e2", "c2", "web", "2025-01-02 11:00", 0.1),  # id repeated that day
        ("2025-01-02", "e3", None, "web", "2025-01-02 12:00", 0.1),  # null customer
        ("2025-01-02", "e4", "c3", "web", "2025-01-03 00:00", 0.1),  # outside the day
        ("2025-01-02", "e5", "c3", "fax", "2025-01-02 12:00", 0.1),  # unknown touchpoint
        ("2025-01-02", "e6", "c3", "web", "2025-01-02 12:00", 1.5),  # score out of range
    ]
    outcomes = raw.raw_event_outcomes(events(con, bad), None)
    day = {k: v["2025-01-02"] for k, v in outcomes.items() if k != raw.SCHEMA}
    assert day[raw.UNIQUE_EVENT_IDS].metadata["rows_failing"] == 2
    assert day[raw.KEYS_NOT_NULL].metadata["rows_failing"] == 1
    assert day[raw.TIMESTAMPS_IN_PARTITION].metadata["rows_failing"] == 1
    assert day[raw.KNOWN_TOUCHPOINTS].metadata["rows_failing"] == 1
    assert day[raw.SCORES_IN_UNIT_INTERVAL].metadata["rows_failing"] == 1
    # the day before stays clean
    assert all(v["2025-01-01"].passed for k, v in outcomes.items() if k != raw.SCHEMA)


def test_quarantine_rows_must_be_explained(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES ('f.csv', 2, 'unknown_touchpoint'), "
        "('f.csv', NULL, 'unknown_touchpoint'), ('f.csv', 4, 'made_up_code')) t(source_file, source_row, reason)"
    )
    outcome = raw.quarantine_outcomes(rel)[raw.EXPLAINED_ROWS]["2025-01-01"]
    assert not outcome.passed and outcome.metadata["rows_failing"] == 2


def test_row_accounting_counts_source_lines(con):
    loaded = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES ('o1', 3), ('o2', 1)) t(order_id, line_count)"
    )
    rejected = con.sql("SELECT DATE '2025-01-01' AS snapshot_date, 'x' AS reason")
    assert raw.row_accounting(loaded, rejected) == {
        "2025-01-01": {"rows_read": 5, "rows_loaded": 4, "rows_quarantined": 1}
    }
