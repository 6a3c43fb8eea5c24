"""The pipeline's DuckDB connection."""

import datetime as dt

from engagement_pipeline.sql import new_connection


def test_a_long_query_draws_no_progress_bar_of_duckdbs_own(capfd):
    """A query past DuckDB's progress-bar delay (two seconds; none here, which also turns
    the bar on) prints nothing: the CLI and the Dagster log report progress in the
    pipeline's words."""
    con = new_connection()
    con.execute("SET progress_bar_time = 0")
    assert con.sql("SELECT count(*) FROM range(20000000) t(i) WHERE i % 7 = 0").fetchall() == [
        (2857143,)
    ]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_naive_timestamps_are_read_as_utc():
    con = new_connection()
    day = con.sql("SELECT CAST(TIMESTAMPTZ '2025-01-02 00:30:00+02' AS DATE)").fetchall()
    assert day == [(dt.date(2025, 1, 1),)]
