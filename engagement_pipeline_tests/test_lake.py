import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from engagement_pipeline.errors import LakeError
from engagement_pipeline.lake import Lake, connection, copy_by_day, scratch_dropped, temp_objects
from engagement_pipeline.sql import new_connection


def frame(dates, values):
    return pd.DataFrame({"snapshot_date": pd.to_datetime(dates).date, "value": values})


def test_write_read_replace_and_empty_partitions(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    counts = lake.write(
        con,
        "a",
        con.from_df(frame(["2025-01-01", "2025-01-01", "2025-01-03"], [1, 2, 3])),
        ["2025-01-01", "2025-01-02", "2025-01-03"],
    )
    assert counts == {"2025-01-01": 2, "2025-01-02": 0, "2025-01-03": 1}
    assert lake.existing_keys("a") == {"2025-01-01", "2025-01-02", "2025-01-03"}
    # from the files' footers; a date never written is left out
    assert lake.row_counts(con, "a", [*counts, "2025-01-09"]) == counts
    got = lake.read(con, "a", ["2025-01-01", "2025-01-02"]).df()
    assert (
        got["value"].tolist() == [1, 2] and str(got["snapshot_date"].iloc[0])[:10] == "2025-01-01"
    )
    # re-materializing replaces the partition instead of appending to it
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [9])), ["2025-01-01"])
    assert lake.read(con, "a", ["2025-01-01"]).df()["value"].tolist() == [9]
    assert not any((tmp_path / ".staging").iterdir())  # nothing left half-written


def test_a_date_without_rows_gets_a_file_of_the_columns_alone(tmp_path):
    # no rows at all over three dates (a quiet quarantine), and one quiet date in a range
    lake, con = Lake(tmp_path), new_connection()
    keys = ["2025-01-01", "2025-01-02", "2025-01-03"]
    none = con.sql("SELECT DATE '2025-01-01' AS snapshot_date, 1.5 AS value, 'x' AS note LIMIT 0")
    assert lake.write(con, "q", none, keys) == dict.fromkeys(keys, 0)
    some = con.sql("SELECT DATE '2025-01-03' AS snapshot_date, 2.5 AS value, 'y' AS note")
    assert lake.write(con, "r", some, keys) == {"2025-01-01": 0, "2025-01-02": 0, "2025-01-03": 1}
    for asset, key in [*(("q", k) for k in keys), ("r", "2025-01-01"), ("r", "2025-01-02")]:
        file = f"read_parquet('{lake.partition_file(asset, key)}', hive_partitioning = false)"
        columns = duckdb.sql(f"DESCRIBE SELECT * FROM {file}").fetchall()
        assert [(c[0], c[1]) for c in columns] == [("value", "DECIMAL(2,1)"), ("note", "VARCHAR")]
        assert duckdb.sql(f"SELECT count(*) FROM {file}").fetchall() == [(0,)]
    assert lake.read(con, "r", keys).df()["note"].tolist() == ["y"]
    assert not any((tmp_path / ".staging").iterdir())


def test_order_by_sorts_each_file_as_it_is_written(tmp_path):
    # rows in no order, 3,000 a date (several vectors): a range write and a one-date write
    lake, con = Lake(tmp_path), new_connection()
    rows = con.sql(
        """SELECT DATE '2025-01-01' + CAST(i % 2 AS INTEGER) AS snapshot_date,
                  (i * 7919) % 3001 AS customer, i % 3 AS part, i AS value
           FROM range(6000) t(i)"""
    )
    keys = ["2025-01-01", "2025-01-02"]
    lake.write(con, "a", rows, keys, order_by="customer, part")
    lake.write(con, "b", rows.filter("snapshot_date = DATE '2025-01-02'"), keys[1:], "customer")
    for asset, key in (("a", "2025-01-01"), ("a", "2025-01-02"), ("b", "2025-01-02")):
        got = pd.read_parquet(lake.partition_file(asset, key))
        assert len(got) == 3000
        assert got.equals(
            got.sort_values(["customer", "part"], kind="stable").reset_index(drop=True)
        )


def test_missing_partitions_are_named(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
    with pytest.raises(
        LakeError,
        match=r"a has no partition for 2025-01-02 \.\. 2025-01-04 \(3 days\).*Materialize a",
    ):
        lake.read(con, "a", ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"])


def test_rows_outside_the_partitions_are_refused(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    with pytest.raises(LakeError, match="fall outside the partitions"):
        lake.write(con, "a", con.from_df(frame(["2025-01-05"], [1])), ["2025-01-01"])


def test_catalog_views_see_new_partitions(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    lake.write(con, "odd name; drop", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
    lake.write(con, "odd name; drop", con.from_df(frame(["2025-01-02"], [2])), ["2025-01-02"])
    with duckdb.connect(str(lake.catalog_path), read_only=True) as cat:
        rows = cat.execute(
            'SELECT snapshot_date, value FROM "odd name; drop" ORDER BY 1'
        ).fetchall()
    assert [r[1] for r in rows] == [1, 2]
    assert lake.rebuild_catalog() == ["odd name; drop"]


def test_catalog_locked_by_another_process_does_not_fail_a_write(tmp_path):
    lake, con = Lake(tmp_path), new_connection()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(30)",
            str(lake.catalog_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        lake.write(con, "b", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
        assert lake.existing_keys("b") == {"2025-01-01"}
        assert not (lake.asset_dir("b") / ".in_catalog").exists()  # skipped, not failed
    finally:
        holder.kill()
        holder.wait()
    lake.write(con, "b", con.from_df(frame(["2025-01-02"], [2])), ["2025-01-02"])
    with duckdb.connect(str(lake.catalog_path), read_only=True) as cat:
        assert cat.execute("SELECT count(*) FROM b").fetchall() == [(2,)]


def test_scratch_dropped_drops_what_the_block_made_even_when_it_fails():
    con = connection()
    con.execute("CREATE OR REPLACE TEMP TABLE kept_before AS SELECT 1 AS a")
    before = temp_objects(con)
    with pytest.raises(ZeroDivisionError), scratch_dropped():
        con.execute("CREATE TEMP TABLE step_rows AS SELECT range AS a FROM range(10)")
        con.sql("SELECT a * 2 AS b FROM step_rows").create_view("step_view")
        made = {("TABLE", "temp", "step_rows"), ("VIEW", "memory", "step_view")}
        assert made <= temp_objects(con)
        1 / 0  # noqa: B018 - a step that fails still leaves nothing behind
    assert temp_objects(con) == before
    assert ("TABLE", "temp", "kept_before") in before
    con.execute("DROP TABLE kept_before")


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return con.execute("SELECT current_setting(?)", [name]).fetchone()[0]


def test_copy_by_day_writes_a_file_a_day_and_leaves_the_settings_as_they_were(tmp_path):
    con = new_connection()
    con.execute("SET partitioned_write_flush_threshold = 100000")
    # 1,200 days: more than the files it keeps open at once, so some days are closed and
    # reopened; every row must still land under its own day.
    rows = (
        "SELECT i, DATE '2020-01-01' + CAST(i % 1200 AS INTEGER) AS snapshot_date "
        "FROM range(60000) t(i)"
    )
    copy_by_day(con, rows, tmp_path / "days")

    days = sorted(p.name for p in (tmp_path / "days").iterdir())
    assert len(days) == 1200 and days[0] == "snapshot_date=2020-01-01"
    written = con.execute(
        "SELECT count(*), count(DISTINCT i), "
        "count(*) FILTER (WHERE snapshot_date <> DATE '2020-01-01' + CAST(i % 1200 AS INTEGER)) "
        f"FROM read_parquet('{tmp_path}/days/*/*.parquet', hive_partitioning = true)"
    ).fetchone()
    assert written == (60000, 60000, 0)
    assert _setting(con, "partitioned_write_flush_threshold") == 100000

    with pytest.raises(duckdb.Error):
        copy_by_day(
            con, "SELECT 1 / 0 AS x, CAST('no date' AS DATE) AS snapshot_date", tmp_path / "bad"
        )
    assert _setting(con, "partitioned_write_flush_threshold") == 100000
    assert _setting(con, "partitioned_write_max_open_files") == 100
