import pandas as pd

from engagement_pipeline import quality


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


def test_per_date_outcomes_count_each_date_apart(con):
    rel = events(
        con,
        GOOD
        + [
            ("2025-01-02", "e2", "c2", "web", "2025-01-02 11:00", 0.1),  # id repeated that day
            ("2025-01-03", "e1", "c1", "web", "2025-01-03 10:00", None),  # same id, other day
        ],
    )
    unique = quality.unique_check(rel, ["event_id"])
    assert sorted(unique) == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert unique["2025-01-01"].passed and unique["2025-01-03"].passed
    assert not unique["2025-01-02"].passed
    assert unique["2025-01-02"].metadata == {"rows_checked": 2, "rows_failing": 2}
    assert unique["2025-01-02"].description.startswith("2 of 2 rows")


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
    assert quality.positive_check(rel, "amount")["2025-01-01"].metadata["rows_failing"] == 3
    assert (
        quality.positive_check(rel, "amount", allow_zero=True)["2025-01-01"].metadata[
            "rows_failing"
        ]
        == 2
    )


def test_row_count_check_against_each_dates_trailing_mean():
    history = {f"2025-01-{d:02d}": 100 for d in range(1, 15)}
    assert quality.row_count_check({"2025-01-15": 120}, history)["2025-01-15"].passed
    low = quality.row_count_check({"2025-01-15": 40}, history)["2025-01-15"]
    assert not low.passed and low.description == "40 rows, far from the trailing mean 100"
    assert low.metadata["trailing_mean"] == 100.0
    assert not quality.row_count_check({"2025-01-15": 201}, history)["2025-01-15"].passed
    # too little history to judge: passes and says so
    assert quality.row_count_check({"2025-01-03": 1}, {"2025-01-01": 100})["2025-01-03"].passed
    # in a range, a date compares with the days before it, including the run's own
    ranged = quality.row_count_check({"2025-01-15": 100, "2025-01-16": 40}, history)
    assert ranged["2025-01-15"].passed and not ranged["2025-01-16"].passed
    # only the trailing 28 days count: older days are ignored
    old = {f"2024-11-{d:02d}": 1000 for d in range(1, 29)}
    assert quality.row_count_check({"2025-01-15": 100}, {**old, **history})["2025-01-15"].passed


def test_quarantine_share_check():
    ok = quality.quarantine_share_check({"2025-01-01": 100}, {"2025-01-01": 5}, {}, 0.05)
    assert ok["2025-01-01"].passed and ok["2025-01-01"].metadata["share"] == 0.05
    high = quality.quarantine_share_check(
        {"2025-01-01": 100, "2025-01-02": 10}, {"2025-01-02": 3}, {}, 0.05
    )
    assert high["2025-01-01"].passed and not high["2025-01-02"].passed
    assert "30.0%" in high["2025-01-02"].description
    # a source that always rejects about 10% is not a sudden change; a jump from 2% is
    steady = {f"2025-01-{d:02d}": (100, 10) for d in range(1, 10)}
    assert quality.quarantine_share_check({"2025-01-10": 100}, {"2025-01-10": 11}, steady, 0.05)[
        "2025-01-10"
    ].passed
    low = {f"2025-01-{d:02d}": (100, 2) for d in range(1, 10)}
    jumped = quality.quarantine_share_check({"2025-01-10": 100}, {"2025-01-10": 11}, low, 0.05)
    assert not jumped["2025-01-10"].passed and "above 5.0%" in jumped["2025-01-10"].description
    assert not quality.quarantine_share_check(
        {"2025-01-10": 100}, {"2025-01-10": 21}, steady, 0.05
    )["2025-01-10"].passed
