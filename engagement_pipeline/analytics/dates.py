"""The snapshot dates a computation covers, as a one-column DuckDB relation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb


def snapshot_dates(
    con: duckdb.DuckDBPyConnection, dates: Sequence[dt.date]
) -> duckdb.DuckDBPyRelation:
    """A relation with one snapshot_date row per date (a run may compute a range at once)."""
    if not dates:
        raise ValueError("at least one snapshot date is needed")
    return con.sql("SELECT unnest(CAST(? AS DATE[])) AS snapshot_date", params=[list(dates)])
