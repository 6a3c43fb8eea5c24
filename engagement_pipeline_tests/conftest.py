"""Shared fixtures: a temporary project (config, small CSV sources, lake) per test."""

from __future__ import annotations

import csv
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from engagement_pipeline.config import deep_merge
from engagement_pipeline.sql import new_connection

EVENT_FIELDS = ["event_id", "customer_id", "touchpoint", "timestamp", "engagement_score"]
PURCHASE_FIELDS = ["order_id", "customer_id", "purchase_date", "amount"]


def write_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def base_config(start: str, end: str | None) -> dict[str, Any]:
    return {
        "snapshots": {"start_date": start, **({"end_date": end} if end else {})},
        "engagement_data": {
            "file_path": "events.csv",
            "event_id_column": "event_id",
            "engagement_score_column": "engagement_score",
        },
        "purchase_data": {"file_path": "purchases.csv"},
        "storage": {"lake_path": "lake", "reports_path": "reports"},
        # about a second a date: on where a test asks for it (tests/presentation)
        "reports": {"html": False},
    }


MakeProject = Callable[..., Path]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB connection set up like the pipeline's (UTC, memory cap)."""
    return new_connection()


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Write events.csv, purchases.csv and config.yaml into tmp_path; return the config path."""

    def make(
        events: list[dict[str, Any]] | None = None,
        purchases: list[dict[str, Any]] | None = None,
        start: str = "2025-01-01",
        end: str | None = "2025-01-10",
        **overrides: Any,
    ) -> Path:
        write_csv(tmp_path / "events.csv", EVENT_FIELDS, events or [])
        write_csv(tmp_path / "purchases.csv", PURCHASE_FIELDS, purchases or [])
        config = deep_merge(base_config(start, end), overrides)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    return make


def ev(event_id: str, customer: str, touchpoint: str, ts: str, score: float | None = None) -> dict:
    return {
        "event_id": event_id,
        "customer_id": customer,
        "touchpoint": touchpoint,
        "timestamp": ts,
        "engagement_score": score,
    }


def po(order_id: str, customer: str, ts: str, amount: float | str) -> dict:
    return {"order_id": order_id, "customer_id": customer, "purchase_date": ts, "amount": amount}


@dataclass(frozen=True)
class ObjectStore:
    """A local S3-compatible server for the tests (moto's server mode on 127.0.0.1)."""

    endpoint_url: str

    def new_bucket(self) -> str:
        """A fresh, empty bucket's name."""
        import pyarrow.fs as pafs

        name = f"lake-{uuid.uuid4().hex[:12]}"
        store = pafs.S3FileSystem(
            endpoint_override=self.endpoint_url.removeprefix("http://"),
            scheme="http",
            allow_bucket_creation=True,
        )
        store.create_dir(name)
        return name


@pytest.fixture(scope="session")
def s3_credentials() -> Iterator[None]:
    """Test credentials in the environment, where every S3 client (and Spark's Python
    workers, which inherit the JVM's environment) takes them from: set before any Spark
    session starts in this process."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def object_store(s3_credentials) -> Iterator[ObjectStore]:
    """moto's S3 server, started by the tests themselves on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield ObjectStore(f"http://{host}:{port}")
    server.stop()
