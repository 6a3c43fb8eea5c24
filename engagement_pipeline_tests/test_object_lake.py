"""The lake on an S3-compatible store (moto's server on 127.0.0.1, started by the tests):
the same writes, reads and counts as a local lake, and a partition replaced by a pointer
switch, so a reader never sees half a partition or a mix of two."""

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml

from engagement_pipeline.config import deep_merge, load_config
from engagement_pipeline.errors import ConfigError, LakeError
from engagement_pipeline.lake import lake_at, open_lake
from engagement_pipeline.object_lake import POINTER_FILE, ObjectLake
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import ObjectStore, base_config

DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]


def frame(dates, values):
    return pd.DataFrame({"snapshot_date": pd.to_datetime(dates).date, "value": values})


@pytest.fixture
def lake(object_store: ObjectStore) -> ObjectLake:
    bucket = object_store.new_bucket()
    made = lake_at(f"s3://{bucket}/warehouse", object_store.endpoint_url, "us-east-1")
    assert isinstance(made, ObjectLake)
    return made


def objects(lake: ObjectLake, asset: str, key: str) -> set[str]:
    folder = f"{lake.bucket_path}/{asset}/snapshot_date={key}"
    return {info.base_name for info in lake.fs.get_file_info(pafs.FileSelector(folder))}


def test_write_read_count_and_replace_like_a_local_lake(lake):
    con = new_connection()
    counts = lake.write(
        con, "a", con.from_df(frame(["2025-01-01", "2025-01-01", "2025-01-03"], [1, 2, 3])), DAYS
    )
    assert counts == {"2025-01-01": 2, "2025-01-02": 0, "2025-01-03": 1}
    assert lake.existing_keys("a") == set(DAYS)
    assert lake.row_counts(con, "a", [*DAYS, "2025-01-09"]) == counts
    rel = lake.read(con, "a", DAYS)
    got = con.sql("SELECT CAST(snapshot_date AS VARCHAR) AS d, value FROM rel ORDER BY value")
    assert got.fetchall() == [("2025-01-01", 1), ("2025-01-01", 2), ("2025-01-03", 3)]
    assert dict(zip(rel.columns, map(str, rel.types), strict=True)) == {
        "value": "BIGINT",
        "snapshot_date": "DATE",
    }
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [9])), ["2025-01-01"])
    assert lake.read(con, "a", ["2025-01-01"]).fetchall()[0][0] == 9
    with pytest.raises(LakeError, match=r"a has no partition for 2025-01-04 in s3://"):
        lake.read(con, "a", ["2025-01-04"])


def test_a_reader_keeps_the_complete_file_it_resolved_while_the_partition_is_replaced(lake):
    con = new_connection()
    lake.write(con, "a", con.from_df(frame(["2025-01-01"] * 3, [1, 2, 3])), ["2025-01-01"])
    before = lake.dataset("a", ["2025-01-01"])  # a reader resolved the pointer ...
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [7])), ["2025-01-01"])
    # ... and still reads the whole old partition; a new reader gets the whole new one
    assert sorted(before.to_table()["value"].to_pylist()) == [1, 2, 3]
    assert lake.dataset("a", ["2025-01-01"]).to_table()["value"].to_pylist() == [7]
    # the previous file is kept for such readers; the one before it is deleted (once it is
    # stale_after older than the new file: an hour, none here)
    lake.stale_after = dt.timedelta(0)
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [8])), ["2025-01-01"])
    assert len(objects(lake, "a", "2025-01-01")) == 3  # the pointer, the current, the previous
    with pytest.raises(OSError):
        before.to_table()


def test_two_runs_writing_one_date_at_once_leave_the_last_switch_whole(lake):
    """Both upload, then both switch: the second switch wins and its file is there; the
    first run's cleanup did not delete the other run's upload, still young."""
    con = new_connection()
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
    first, second = (lake.new_object("a", "2025-01-01") for _ in range(2))
    for path, value in ((first, 10), (second, 20)):
        pq.write_table(pa.table({"value": [value]}), path, filesystem=lake.fs)
    lake.publish("a", {"2025-01-01": first.rsplit("/", 1)[1]})
    lake.publish("a", {"2025-01-01": second.rsplit("/", 1)[1]})
    assert lake.read(con, "a", ["2025-01-01"]).fetchall()[0][0] == 20


def test_a_write_that_fails_before_its_switch_leaves_the_old_partition(lake):
    con = new_connection()
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
    old = objects(lake, "a", "2025-01-01")

    def dies_after_uploading(staging):  # an engine that dies mid-way through its write
        frame(["2025-01-01"], [5]).drop(columns="snapshot_date").to_parquet(
            staging / "2025-01-01.parquet"
        )
        raise RuntimeError("the writer died")

    with pytest.raises(RuntimeError):
        lake.replace_partitions("a", ["2025-01-01"], dies_after_uploading)
    assert objects(lake, "a", "2025-01-01") == old  # nothing uploaded, nothing switched
    # an upload whose pointer switch never happened is invisible, then cleaned up
    lake.stale_after = dt.timedelta(0)
    abandoned = lake.new_object("a", "2025-01-01")
    with lake.fs.open_output_stream(abandoned) as out:
        out.write(b"half a parquet file")
    assert lake.read(con, "a", ["2025-01-01"]).fetchall() == [
        (1, pd.Timestamp("2025-01-01").date())
    ]
    lake.write(con, "a", con.from_df(frame(["2025-01-01"], [2])), ["2025-01-01"])
    assert abandoned.rsplit("/", 1)[1] not in objects(lake, "a", "2025-01-01")
    # a first upload that never switched is not a partition at all
    with lake.fs.open_output_stream(lake.new_object("a", "2025-01-02")) as out:
        out.write(b"junk")
    assert lake.existing_keys("a") == {"2025-01-01"}
    assert POINTER_FILE in objects(lake, "a", "2025-01-01")


def test_store_problems_are_one_message_in_our_words(object_store, lake):
    con = new_connection()
    missing = lake_at("s3://no-such-bucket-here/lake", object_store.endpoint_url)
    with pytest.raises(LakeError) as caught:
        missing.write(con, "a", con.from_df(frame(["2025-01-01"], [1])), ["2025-01-01"])
    assert str(caught.value) == (
        "Could not upload a in the lake s3://no-such-bucket-here/lake: "
        "the bucket does not exist: create it first."
    )
    unreachable = lake_at("s3://bucket/lake", "http://127.0.0.1:9")
    with pytest.raises(LakeError, match=r"cannot be reached: check storage.s3.endpoint_url"):
        unreachable.existing_keys("a")
    with pytest.raises(LakeError, match="no local DuckDB catalog"):
        lake.rebuild_catalog()


def test_config_takes_an_s3_uri_and_refuses_what_it_cannot_write(tmp_path):
    path = tmp_path / "config.yaml"

    def config_with(storage: dict):
        settings = deep_merge(base_config("2025-01-01", None), {"storage": storage})
        path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        return load_config(path)

    config = config_with(
        {
            "lake_path": "s3://my-bucket/engagement/",
            "s3": {"endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1"},
        }
    )
    assert config.lake_is_remote and config.lake_location == "s3://my-bucket/engagement"
    assert config.work_dir == tmp_path / ".engagement"  # landed sources stay on local disk
    lake = open_lake(config)
    assert isinstance(lake, ObjectLake) and lake.endpoint_url == "http://127.0.0.1:9000"
    local = config_with({"lake_path": "lake"})
    assert not local.lake_is_remote and local.work_dir == local.lake_dir == tmp_path / "lake"
    for storage, said in [
        ({"lake_path": "gs://bucket/lake"}, r"storage.lake_path: 'gs://' is not a lake location"),
        ({"lake_path": "s3://B/lake"}, r"storage.lake_path: 's3://B/lake' does not name a bucket"),
        (
            {"s3": {"endpoint_url": "127.0.0.1:9000"}},
            r"storage.s3.endpoint_url: '127.0.0.1:9000' is not",
        ),
    ]:
        with pytest.raises(ConfigError, match=said):
            config_with(storage)
