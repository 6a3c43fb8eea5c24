"""The Spark engine: the snapshot computations' DuckDB SQL, run on Apache Spark.

The computations take a connection and relations and call a small part of DuckDB's
Python API (`con.sql`, `rel.filter`, `rel.project`, `rel.union`, ...). `SparkConnection`
and `SparkRelation` offer that same part over Spark DataFrames, translating each query
with `engines.translate`: the computations run unchanged on either engine.

Names in a query resolve as DuckDB's replacement scans resolve them: a relation held in
a local variable of the calling function, by that variable's name.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence

import pandas as pd

from engagement_pipeline.engines.translate import to_spark

_views = itertools.count()


class SparkRelation:
    """A Spark DataFrame with the part of DuckDB's relation API the computations use."""

    def __init__(self, con: SparkConnection, frame):
        self.con, self.frame = con, frame
        self._view: str | None = None

    @property
    def view(self) -> str:
        """A temporary view of this relation, registered on first use."""
        if self._view is None:
            self._view = f"_rel_{next(_views)}"
            self.frame.createOrReplaceTempView(self._view)
        return self._view

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def _over(self, query: str) -> SparkRelation:
        return self.con.sql(query, _tables={"self_": self})

    def filter(self, condition: str) -> SparkRelation:
        return self._over(f"SELECT * FROM self_ WHERE {condition}")

    def project(self, columns: str | Sequence[str]) -> SparkRelation:
        select = columns if isinstance(columns, str) else ", ".join(columns)
        return self._over(f"SELECT {select} FROM self_")

    def aggregate(self, expressions: str, group_by: str | None = None) -> SparkRelation:
        group = f" GROUP BY {group_by}" if group_by else " GROUP BY ALL"
        return self._over(f"SELECT {expressions} FROM self_{group}")

    def order(self, by: str) -> SparkRelation:
        return self._over(f"SELECT * FROM self_ ORDER BY {by}")

    def distinct(self) -> SparkRelation:
        return self._over("SELECT DISTINCT * FROM self_")

    def union(self, other: SparkRelation) -> SparkRelation:
        return SparkRelation(self.con, self.frame.unionByName(other.frame))

    def create_view(self, name: str, replace: bool = True) -> SparkRelation:
        """A named intermediate, computed once: later plans start from its rows, not from
        its whole lineage (which each reference would otherwise repeat)."""
        kept = SparkRelation(self.con, self.frame.localCheckpoint(eager=True))
        kept.frame.createOrReplaceTempView(name)
        return kept

    def df(self) -> pd.DataFrame:
        return self.frame.toPandas()

    def fetchall(self) -> list[tuple]:
        return [tuple(row) for row in self.frame.collect()]


class SparkConnection:
    """A Spark session with the part of DuckDB's connection API the computations use."""

    def __init__(self, session):
        self.session = session

    def sql(
        self,
        query: str,
        params: Sequence[object] | None = None,
        _tables: dict[str, SparkRelation] | None = None,
    ) -> SparkRelation:
        caller = sys._getframe(1)
        scope = {**caller.f_globals, **caller.f_locals, **(_tables or {})}

        def view_of(name: str) -> str | None:
            value = scope.get(name)
            if isinstance(value, SparkRelation):
                return value.view
            if isinstance(value, pd.DataFrame):
                return self.from_df(value).view
            return None

        return SparkRelation(self, self.session.sql(to_spark(query, params, view_of)))

    def from_df(self, frame: pd.DataFrame) -> SparkRelation:
        return SparkRelation(self, self.session.createDataFrame(frame))

    def table(self, name: str) -> SparkRelation:
        return SparkRelation(self, self.session.table(name))


# Settings that make Spark compute what DuckDB computes (see docs/assumptions.md, "Engines").
SESSION_DEFAULTS = {
    # timestamps are naive UTC, as DuckDB's connection is set to UTC
    "spark.sql.session.timeZone": "UTC",
    # DuckDB's lenient semantics: an index past a list's end is NULL, not an error
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# A local session binds to loopback only and keeps shuffles small (test-sized data).
LOCAL_DEFAULTS = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "2g",
}


def spark_session(master: str = "local[2]", settings: dict[str, str] | None = None):
    """A Spark session (a local one unless `master` names a cluster), set as above."""
    from pyspark.sql import SparkSession  # optional dependency: only the Spark engine needs it

    builder = SparkSession.builder.master(master).appName("engagement-pipeline")
    local = master.startswith("local")
    for key, value in {
        **SESSION_DEFAULTS,
        **(LOCAL_DEFAULTS if local else {}),
        **(settings or {}),
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
