import pandas as pd
import pytest

from engagement_pipeline import quality
from engagement_pipeline.sql import new_connection


@pytest.fixture
def con():
    return new_connection()


def events(con, rows):
    frame = pd.DataFrame(
        rows,
        columns=[
            "snapshot_date",
            "event_id",
            "customer_id",
            "touchpoint",
            "event_timestamp",
            "engagement_score",
        ],
    )
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"])
    return con.from_df(frame)


GOOD = [
    ("2025-01-01", "e1", "c1", "web", "2025-01-01 10:00", 0.5),
    ("2025-01-02", "e2", "c1", "email", "2025-01-02 10:00", None),
]


def test_clean_events_pass_every_contract(con):
    outcomes = quality.raw_event_outcomes(events(con, GOOD))
    failing = {k: o.description for k, o in outcomes.items() if not o.passed and k != "schema"}
    assert failing == {}
    assert outcomes["unique_event_ids"].metadata["rows_checked"] == 2


def test_each_contract_catches_its_fault(con):
    bad = GOOD + [
        ("2025-01-02", "e2", "c2", "web", "2025-01-02 11:00", 0.1),  # id repeated that day
        ("2025-01-02", "e3", None, "web", "2025-01-02 12:00", 0.1),  # null customer
        ("2025-01-02", "e4", "c3", "web", "2025-01-03 00:00", 0.1),  # outside the day
        ("2025-01-02", "e5", "c3", "fax", "2025-01-02 12:00", 0.1),  # unknown touchpoint
        ("2025-01-02", "e6", "c3", "web", "2025-01-02 12:00", 1.5),  # score out of range
    ]
    outcomes = quality.raw_event_outcomes(events(con, bad))
    assert outcomes["unique_event_ids"].metadata["rows_failing"] == 2
    assert outcomes["unique_event_ids"].metadata["dates_failing"] == "2025-01-02"
    assert outcomes["keys_not_null"].metadata["rows_failing"] == 1
    assert outcomes["timestamps_in_partition"].metadata["rows_failing"] == 1
    assert outcomes["known_touchpoints"].metadata["rows_failing"] == 1
    assert outcomes["scores_in_unit_interval"].metadata["rows_failing"] == 1
    assert not any(
        outcomes[k].passed for k in ("unique_event_ids", "keys_not_null", "known_touchpoints")
    )
    # the same id on two different days is not a within-day repeat
    assert quality.unique_check(
        events(con, GOOD + [("2025-01-03", "e1", "c1", "web", "2025-01-03 10:00", None)]),
        ["event_id"],
    ).passed


def test_schema_check(con):
    rel = con.sql("SELECT 'a' AS event_id, 1 AS amount")
    outcome = quality.schema_check(
        rel, {"event_id": "VARCHAR", "amount": "DOUBLE", "customer_id": "VARCHAR"}
    )
    assert not outcome.passed
    assert (
        "missing customer_id" in outcome.description
        and "amount: INTEGER (expected DOUBLE)" in outcome.description
    )


def test_positive_and_non_negative(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES (10.0), (0.0), (-1.0), ('nan'::DOUBLE)) t(amount)"
    )
    assert quality.positive_check(rel, "amount").metadata["rows_failing"] == 3


def test_row_count_check_against_trailing_mean():
    trailing = {f"2025-01-{d:02d}": 100 for d in range(1, 15)}
    assert quality.row_count_check({"2025-01-15": 120}, trailing).passed
    low = quality.row_count_check({"2025-01-15": 40}, trailing)
    assert not low.passed and "2025-01-15: 40 rows" in low.description
    assert low.metadata["trailing_mean"] == 100.0
    assert not quality.row_count_check({"2025-01-15": 201}, trailing).passed
    # too little history to judge: passes and says so
    assert quality.row_count_check({"2025-01-03": 1}, {"2025-01-01": 100}).passed


def test_quarantine_share_check():
    ok = quality.quarantine_share_check({"d1": 100}, {"d1": 5}, 0.05)
    assert ok.passed and ok.metadata["highest_share"] == 0.05
    high = quality.quarantine_share_check({"d1": 100, "d2": 10}, {"d2": 3}, 0.05)
    assert not high.passed and "d2: 30.0%" in high.description
    # a source that always rejects about 10% is not a sudden change; a jump from 2% is
    assert quality.quarantine_share_check({"d": 100}, {"d": 11}, 0.05, trailing_share=0.10).passed
    jumped = quality.quarantine_share_check({"d": 100}, {"d": 11}, 0.05, trailing_share=0.02)
    assert not jumped.passed and "above 5.0%" in jumped.description
    assert not quality.quarantine_share_check(
        {"d": 100}, {"d": 21}, 0.05, trailing_share=0.10
    ).passed


def test_segment_outcomes(con):
    seg = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES ('a', 'Champion'), ('b', 'Gold'), ('b', 'Lost')) t(customer_id, segment)"
    )
    out = quality.customer_segment_outcomes(seg, {"2025-01-01": 3})
    assert not out["one_segment_per_customer"].passed
    assert out["one_segment_per_customer"].metadata["rows_without_a_known_segment"] == 1
    assert out["covers_every_customer"].passed
    assert not quality.customer_segment_outcomes(seg, {"2025-01-01": 4})[
        "covers_every_customer"
    ].passed


def test_report_outcome(tmp_path):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    md.write_text("## Overview\n## Segments\n")
    js.write_text('{"total_customers": 2, "segment_analyses": [1, 2, 3, 4, 5]}')
    out = quality.report_outcome([str(md)], [str(js)], {"2025-01-01": 2})
    assert not out.passed and "Recommended strategies" in out.description


def test_quarantine_rows_must_be_explained(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES ('f.csv', 2, 'unknown_touchpoint'), "
        "('f.csv', NULL, 'unknown_touchpoint'), ('f.csv', 4, 'made_up_code')) t(source_file, source_row, reason)"
    )
    assert quality.quarantine_outcomes(rel)["explained_rows"].metadata["rows_failing"] == 2


def test_clv_parameters_must_be_positive_when_converged(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES (0.24, -9582.4, true), (-1.0, -10.0, true), "
        "(-1.0, -10.0, false), ('inf'::DOUBLE, -1.0, true)) t(value, log_likelihood, converged)"
    )
    assert quality.clv_parameter_outcomes(rel)["valid_parameters"].metadata["rows_failing"] == 2


def test_free_orders_pass_the_amount_contract_only_where_allowed(con):
    rel = con.sql(
        "SELECT DATE '2025-01-01' AS snapshot_date, * FROM (VALUES (0.0), (10.0)) t(amount)"
    )
    assert not quality.positive_check(rel, "amount").passed
    assert quality.positive_check(rel, "amount", allow_zero=True).passed
    negative = con.sql("SELECT DATE '2025-01-01' AS snapshot_date, -1.0 AS amount")
    assert not quality.positive_check(negative, "amount", allow_zero=True).passed
