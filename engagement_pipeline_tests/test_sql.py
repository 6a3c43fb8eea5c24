"""The pipeline's DuckDB connection."""

import datetime as dt

from engagement_pipeline.sql import exact_mean, exact_sum, new_connection


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


def _sums(con, table: str, expr: str) -> list[tuple]:
    return con.sql(f"SELECT {expr} FROM {table}").fetchall()


def test_an_exact_sum_is_the_same_in_any_row_order():
    """Float addition is not associative: 0.1, 0.2, 0.3 add up to 0.6000000000000001 in
    that order and to 0.6 the other way round, and DuckDB's threads hand their partial
    sums over in no fixed order. The exact sum is the same both ways."""
    con = new_connection(threads=1)  # one thread adds in table order
    for name, order in (("up", "x"), ("down", "x DESC")):
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM (VALUES (0.1::DOUBLE, 'a'), (0.2, 'a'), "
            f"(0.3, 'a'), (2.5, 'b')) t(x, g) ORDER BY {order}"
        )
    # the case is one a plain sum gets different in the two orders
    assert _sums(con, "up", "sum(x) FILTER (WHERE g = 'a')") == [(0.6000000000000001,)]
    assert _sums(con, "down", "sum(x) FILTER (WHERE g = 'a')") == [(0.6,)]
    for table in ("up", "down"):
        assert _sums(con, table, exact_sum("x", filter="g = 'a'")) == [(0.6,)]
        assert _sums(con, table, f"{exact_sum('x')}, {exact_mean('x')}") == [(3.1, 0.775)]
        over = con.sql(f"SELECT g, {exact_sum('x', over='PARTITION BY g')} FROM {table}")
        assert sorted(set(over.fetchall())) == [("a", 0.6), ("b", 2.5)]


def test_an_exact_mean_of_no_values_is_null_as_avg_is():
    con = new_connection()
    none = "(SELECT NULL::DOUBLE AS x) t"
    assert _sums(con, none, f"{exact_mean('x')}, {exact_sum('x')}, avg(x)") == [(None, None, None)]
