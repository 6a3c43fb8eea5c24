import pytest

from engagement_pipeline.engines.spark import SparkConnection, spark_session


@pytest.fixture(scope="session")
def spark() -> SparkConnection:
    """A local Spark session (Java from Debian's packages; `bootstrap.py test` installs it)."""
    session = spark_session("local[2]")
    yield SparkConnection(session)
    session.stop()
