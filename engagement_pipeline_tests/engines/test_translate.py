"""Each rewrite of the DuckDB-to-Spark translation, run on both engines with hand-worked
expectations: the same query gives the same rows."""

import datetime as dt

import pandas as pd
import pytest

from engagement_pipeline.engines.translate import TranslationError, to_spark
from engagement_pipeline.sql import new_connection

# Spark's tests are one group of pytest-xdist (--dist loadgroup), on one worker: one JVM
# serves them all (two at once, on two cores, cost more than one after the other), and a
# module fixture runs once
pytestmark = pytest.mark.xdist_group("spark")


def both(spark, query: str, **frames: pd.DataFrame) -> tuple[list[tuple], list[tuple]]:
    """Rows of `query` on DuckDB and on Spark, the frames bound by name on each."""
    con = new_connection()
    for name, frame in frames.items():
        con.register(name, frame)
    duck = con.sql(query).fetchall()
    views = {name: spark.from_df(frame).view for name, frame in frames.items()}
    rows = [tuple(r) for r in spark.session.sql(to_spark(query, tables=views.get)).collect()]
    return duck, rows


def test_asof_join_takes_the_latest_row_at_or_before(spark):
    days = pd.DataFrame(
        {
            "k": ["a", "a", "a", "b"],
            "d": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-09", "2025-01-02"]),
        }
    )
    state = pd.DataFrame(
        {
            "k": ["a", "a", "b"],
            "e": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-01-03"]),
            "v": [1, 2, 3],
        }
    )
    query = """SELECT g.k, g.d, f.v FROM days g ASOF JOIN state f
               ON f.k = g.k AND g.d >= f.e ORDER BY g.k, g.d"""
    duck, rows = both(spark, query, days=days, state=state)
    # a on 01-01: nothing yet (inner join drops it); 01-05: the 01-05 row; 01-09: still it
    expected = [("a", dt.datetime(2025, 1, 5), 2), ("a", dt.datetime(2025, 1, 9), 2)]
    assert duck == expected and rows == expected


def test_strict_asof_left_join_keeps_unmatched_rows(spark):
    ends = pd.DataFrame({"k": ["a", "a"], "t": [5, 9]})
    orders = pd.DataFrame({"k": ["a", "a"], "t": [5, 7]})
    query = """SELECT e.t, o.t AS before FROM ends e ASOF LEFT JOIN orders o
               ON o.k = e.k AND e.t > o.t ORDER BY e.t"""
    duck, rows = both(spark, query, ends=ends, orders=orders)
    assert duck == rows == [(5, None), (9, 7)]  # strictly before: 5 has none


def test_adjacent_unnests_zip_their_lists(spark):
    paths = pd.DataFrame({"id": [1], "path": [["email", "web", "social"]], "days": [[3.0, 1.5]]})
    query = """SELECT id, unnest(path) AS step, unnest(days) AS day,
               unnest(range(1, len(path) + 1)) AS i FROM paths ORDER BY i"""
    duck, rows = both(spark, query, paths=paths)
    # side by side, the shorter list padded with NULL: never a cross product of 3 x 2 x 3
    assert duck == rows == [(1, "email", 3.0, 1), (1, "web", 1.5, 2), (1, "social", None, 3)]


def test_list_functions_and_format(spark):
    lists = pd.DataFrame({"xs": [[1.0, 2.0, 4.0]], "n": [2.5]})
    query = """SELECT list_slice(xs, 2, 3) AS tail, xs[1:1] AS head, list_sum(xs) AS total,
               len(xs) AS n_items, format('{} of {:,.0f}%', len(xs), n * 1000) AS text
               FROM lists"""
    duck, rows = both(spark, query, lists=lists)
    # 2500 rounds to an even 2,500 either way; the literal % is kept
    assert duck == [([2.0, 4.0], [1.0], 7.0, 3, "3 of 2,500%")]
    assert rows == duck


def test_round_even_rounds_halves_to_even(spark):
    numbers = pd.DataFrame({"x": [12.5, 13.5, -0.5, 82.4999, 999.5]})
    query = (
        "SELECT CAST(CAST(round_even(x, 0) AS BIGINT) AS VARCHAR) AS whole FROM numbers ORDER BY x"
    )
    duck, rows = both(spark, query, numbers=numbers)
    # -0.5 -> 0 (-0 cast to a whole 0), 12.5 -> 12, 13.5 -> 14 (to the even neighbour)
    assert duck == rows == [("0",), ("12",), ("14",), ("82",), ("1000",)]


def test_month_intervals_and_decimal_literals(spark):
    query = """SELECT CAST(DATE '2025-03-31' + INTERVAL 1 DAY - INTERVAL (1) MONTH AS DATE) - 1
               AS before_window, 7 / 2.0 AS half"""
    duck, rows = both(spark, query)
    assert duck == rows == [(dt.date(2025, 2, 28), 3.5)]


def test_parameters_bind_as_literals(spark):
    query = "SELECT unnest(CAST(? AS DATE[])) AS d ORDER BY d"
    days = [dt.date(2025, 1, 2), dt.date(2025, 1, 1)]
    rows = [tuple(r) for r in spark.session.sql(to_spark(query, [days])).collect()]
    assert (
        rows
        == new_connection().sql(query, params=[days]).fetchall()
        == [
            (dt.date(2025, 1, 1),),
            (dt.date(2025, 1, 2),),
        ]
    )


def test_an_asof_join_without_an_inequality_is_refused():
    with pytest.raises(TranslationError, match="inequality"):
        to_spark("SELECT * FROM a ASOF JOIN b ON a.k = b.k")


def test_the_spark_tests_are_grouped(request):
    """Under `--dist loadgroup` (pyproject's addopts) pytest-xdist gives each grouped test's
    id its group's name (this module's: spark) and sends the group to one worker.
    pytest 9.2 silently drops the name (pytest-dev/pytest-xdist#1386, hence pyproject's
    pin): the groups' tests would be spread over every worker, and a module fixture such
    as test_clv_assets' seventy dates would run once per worker."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("the suite runs without pytest-xdist's loadgroup (-n 0): nothing to group")
    assert request.node.nodeid.endswith("@spark"), request.node.nodeid
