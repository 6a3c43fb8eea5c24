import pytest

from engagement_pipeline.engines.spark import SparkConnection, spark_session


@pytest.fixture(scope="session")
def spark(tmp_path_factory, s3_credentials) -> SparkConnection:
    """A local Spark session (Java from Debian's packages; `bootstrap.py test` installs it),
    its log in a temporary folder. It starts after the test S3 credentials are in the
    environment: its Python workers inherit the JVM's. Assets run with engine: spark in the
    same process reuse it (one Spark context per process)."""
    log_file = tmp_path_factory.mktemp("spark") / "spark.log"
    session = spark_session("local[2]", log_file=log_file)
    yield SparkConnection(session)
    session.stop()
