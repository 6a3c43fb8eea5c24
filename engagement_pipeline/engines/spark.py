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
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from engagement_pipeline.config import Config
from engagement_pipeline.engines.translate import to_spark
from engagement_pipeline.errors import EngineError

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

    @property
    def types(self) -> list[str]:
        """Each column's type as SQL (bigint, decimal(38,0), date), for a CAST in a query."""
        return [field.dataType.simpleString() for field in self.frame.schema.fields]

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

    def map_batches(self, function, added: Mapping[str, str]) -> SparkRelation:
        """`function` over Arrow batches in the executors (mapInPandas), adding the
        columns `added` (name -> DOUBLE or VARCHAR); NaN in an added DOUBLE is NULL, as
        DuckDB reads a pandas NaN."""
        # optional dependency: only the Spark engine needs it
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        kinds = {"DOUBLE": T.DoubleType(), "VARCHAR": T.StringType()}
        schema = T.StructType(
            [*self.frame.schema.fields, *(T.StructField(n, kinds[k]) for n, k in added.items())]
        )
        mapped = self.frame.mapInPandas(
            lambda batches: (_plain_text(function(b)) for b in batches), schema
        )
        doubles = [n for n, k in added.items() if k == "DOUBLE"]
        nulls = {n: F.when(F.isnan(F.col(n)), None).otherwise(F.col(n)) for n in doubles}
        return SparkRelation(self.con, mapped.withColumns(nulls))

    def df(self) -> pd.DataFrame:
        return self.frame.toPandas()

    def fetchall(self) -> list[tuple]:
        return [tuple(row) for row in self.frame.collect()]


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: PySpark cannot yet take pandas' Arrow-backed strings
    from a UDF (it fails on their chunked arrays)."""
    text = [c for c, t in frame.dtypes.items() if isinstance(t, pd.StringDtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame


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

    def from_arrow(self, table) -> SparkRelation:
        """Rows from an Arrow table, with its types (also when it has no rows, where
        pandas would leave Spark nothing to infer the schema from)."""
        return SparkRelation(self, self.session.createDataFrame(table))

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
    # Spark 4's constraint propagation fails on a UNION of a checkpointed relation
    # (java.util.NoSuchElementException: key not found, metric_anomalies' daily path); it
    # only infers filters these queries state themselves
    "spark.sql.constraintPropagation.enabled": "false",
}
# A local session binds to loopback only and keeps shuffles small (test-sized data).
LOCAL_DEFAULTS = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "2g",
}


LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def spark_session(
    master: str = "local[2]",
    settings: dict[str, str] | None = None,
    remote: str | None = None,
    log_file: Path | None = None,
):
    """A Spark session (a local one unless `master` names a cluster, or a Spark Connect
    session when `remote` is given), set as above. Spark's own log goes to `log_file`
    (never to the console, where it would read as the pipeline's words)."""
    try:
        from pyspark.sql import SparkSession  # optional: only the Spark engine needs it
    except ImportError:
        raise EngineError(
            "engine: spark needs PySpark and SQLGlot: install the project with its spark extra "
            "(pip install -e '.[spark]'; `python3 bootstrap.py` does), or set engine: duckdb."
        ) from None
    if remote:
        builder = SparkSession.builder.remote(remote).appName("engagement-pipeline")
        for key, value in (settings or {}).items():
            builder = builder.config(key, value)
        with spark_errors("connecting to Spark", log_file):
            return builder.getOrCreate()
    if not _java_found():
        raise EngineError(
            "engine: spark runs Spark on Java, and no `java` was found (PATH or JAVA_HOME). "
            "Install Java 17 (Debian: apt-get install openjdk-17-jre-headless; "
            "`python3 bootstrap.py` does it as root), or set spark.remote to a Spark "
            "Connect server, or engine: duckdb."
        )
    local = master.startswith("local")
    if local:
        # The Python workers (CLV predictions) run this interpreter, with this
        # environment's packages; on a cluster the executors' image provides them
        # (docs/deployment.md).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    options = {**SESSION_DEFAULTS, **(LOCAL_DEFAULTS if local else {}), **(settings or {})}
    with spark_errors("starting Spark", log_file):
        return _start_session(master, options, log_file)


def _start_session(master: str, options: dict[str, str], log_file: Path | None):
    """A session on a Java gateway this process starts with its output in `log_file`:
    the JVM prints start-up notes to its own stderr before any logging is set up."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf().setMaster(master).setAppName("engagement-pipeline")
    conf.setAll(list(options.items()))
    if log_file is None or SparkContext._active_spark_context is not None:
        # one Spark context per process: a running one is reused, with its settings
        session = SparkSession.builder.config(conf=conf).getOrCreate()
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        conf.set(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG} -Dengagement.spark.log={log_file}",
        )
        with log_file.open("ab") as output:  # the JVM keeps its own copy of the handle
            gateway = launch_gateway(conf, popen_kwargs={"stdout": output, "stderr": output})
        session = SparkSession(SparkContext(conf=conf, gateway=gateway))
    session.sparkContext.setLogLevel("ERROR")
    return session


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


_sessions: dict[tuple, SparkConnection] = {}


def spark_connection(config: Config) -> SparkConnection:
    """This process's Spark session for the config's `spark` section (started once)."""
    spark = config.spark
    key = (spark.master, spark.remote, tuple(sorted(spark.settings.items())))
    if key not in _sessions:
        # PySpark warns on every conversion that it does not fully support pandas 3; the
        # conversions the engine uses are checked by its equality tests (docs/assumptions.md)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
        session = spark_session(spark.master, spark.settings, spark.remote, spark_log_file(config))
        _sessions[key] = SparkConnection(session)
    return _sessions[key]


def spark_log_file(config: Config) -> Path:
    """Where Spark's own log goes: beside the config, in .spark/ (git-ignored)."""
    return config.resolve(".spark/spark.log")


@contextmanager
def spark_errors(what: str, log_file: Path | None = None) -> Iterator[None]:
    """A Spark failure as one message in our words: what failed, Spark's error class (to
    look up, not as the explanation), where Spark's own log is, and what to check."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        kind = getattr(exc, "getCondition", lambda: None)() or type(exc).__name__
        where = f" Spark's own log: {log_file}." if log_file else ""
        raise EngineError(
            f"{what}: the Spark engine failed (Spark reports {kind}).{where} Check the "
            "`spark` section of the config (master or remote, settings such as memory), that "
            "the cluster is reachable and its executors have this project's packages; "
            "engine: duckdb computes the same rows in this process."
        ) from None
