"""What the computations ask of whichever engine holds the rows, beyond SQL.

The CLV predictions are NumPy/SciPy functions of each customer's summary. DuckDB hands the
rows to this process as one pandas frame; Spark runs the same function in its executors
over Arrow batches (a vectorized pandas UDF), so customers are never collected.
"""

from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pandas as pd

from engagement_pipeline.lake import materialize
from engagement_pipeline.sql import quote_ident

Batch = Callable[[pd.DataFrame], pd.DataFrame]


def map_batches(con: Any, relation: Any, function: Batch, added: Mapping[str, str]) -> Any:
    """`function` applied to the rows of `relation` batch by batch; it returns each batch's
    rows with the columns `added` (name -> DOUBLE or VARCHAR) after the relation's own.
    Row by row independent functions only: batches are the engine's choice."""
    if isinstance(relation, duckdb.DuckDBPyRelation):
        mapped = con.from_df(function(relation.df()))  # noqa: F841 - referenced by name below
        # the relation's own columns keep their types (pandas turns a DATE into a timestamp)
        kept = [
            f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}"
            for c, t in zip(relation.columns, relation.types, strict=True)
        ]
        added_columns = [quote_ident(c) for c in added]
        return con.sql(f"SELECT {', '.join([*kept, *added_columns])} FROM mapped")
    return relation.map_batches(function, added)


def computed_once(con: Any, relation: Any, name: str) -> Any:
    """The relation computed once, for several queries to read: a DuckDB temp table, or a
    checkpointed Spark DataFrame (each query would otherwise recompute its whole plan)."""
    if isinstance(relation, duckdb.DuckDBPyRelation):
        return materialize(con, relation, name)
    return relation.create_view(name)
