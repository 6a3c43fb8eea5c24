"""Safe SQL building: identifiers and literals from config are always quoted, never pasted raw."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

# DuckDB would otherwise take 80% of the machine; see docs/performance.md.
DEFAULT_MEMORY_LIMIT = "3GB"


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB (used only where a parameter cannot go, e.g. COPY TO)."""
    return "'" + value.replace("'", "''") + "'"


def values_sql(values) -> str:
    """A parenthesised list of string literals, for `column IN (...)`."""
    return "(" + ", ".join(quote_literal(str(v)) for v in values) + ")"


def list_sql(values) -> str:
    """A list literal of strings, e.g. file paths for read_parquet where a parameter
    cannot go (a view's definition)."""
    return "[" + ", ".join(quote_literal(str(v)) for v in values) + "]"


def ranked_values_sql(values, name: str = "name", rank: str = "rank") -> str:
    """A subquery of (name, rank) rows, rank 1.. in the given order: every value listed, even
    when no row has it. Plain VALUES, so it reads the same on DuckDB and Spark."""
    rows = ", ".join(f"({quote_literal(str(v))}, {i})" for i, v in enumerate(values, start=1))
    return f"(SELECT * FROM (VALUES {rows}) AS ranked({quote_ident(name)}, {quote_ident(rank)}))"


# Digits kept after the point by exact sums: amounts carry cents, and scores, shares and
# probabilities need nowhere near 1e-12; DECIMAL(38, 12) still holds totals up to 1e26.
EXACT_SUM_TYPE = "DECIMAL(38, 12)"


def exact_sum(expr: str, *, filter: str | None = None, over: str | None = None) -> str:
    """A sum of DOUBLEs that is the same whatever order the rows arrive in, as a DOUBLE.

    DuckDB (and Spark) add a group's values in the order their threads hand over partial
    sums, and float addition is not associative, so a plain `sum` of DOUBLEs changes in its
    last bits from run to run on the same data. Added as DECIMALs the sum is exact, so every
    order gives the same total; each value is rounded to 12 decimals first. `filter` is a
    FILTER condition, `over` a window (the text inside `OVER (...)`)."""
    aggregate = f"sum(CAST({expr} AS {EXACT_SUM_TYPE}))"
    if filter is not None:
        aggregate += f" FILTER (WHERE {filter})"
    if over is not None:
        aggregate += f" OVER ({over})"
    return f"CAST({aggregate} AS DOUBLE)"


def exact_mean(expr: str) -> str:
    """The mean of DOUBLEs, from their exact sum (exact_sum): the same in every row order;
    NULL for no values, as avg is."""
    return f"({exact_sum(expr)} / count({expr}))"


def new_connection(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set to UTC, so naive timestamps are never shifted."""
    con = duckdb.connect()
    # ICU is linked in but loads lazily, so the zone is set after connecting, not in config.
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws its own progress bar on the console for a query past two seconds (a
    # large landing or snapshot), in between the CLI's progress lines and in Dagster's
    # step logs: the pipeline reports its progress in its own words (cli.py, runs.py).
    # Printing is what is turned off: `progress_bar_time` turns the bar itself back on.
    con.execute("SET enable_progress_bar_print = false")
    # The snapshot folds ASOF-join every customer to its state. DuckDB turns an ASOF join
    # whose left side it *estimates* small into a nested loop, and its estimates over lazy
    # Parquet reads are often tiny: that turned one week of scores into minutes. Never.
    con.execute("SET asof_loop_join_threshold = 0")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # A bounded memory limit makes big backfills spill to disk instead of taking the machine;
    # spill files go to the system temp folder, not the working directory.
    con.execute(f"SET memory_limit = {quote_literal(memory_limit or DEFAULT_MEMORY_LIMIT)}")
    spill = Path(tempfile.gettempdir()) / "engagement-pipeline-duckdb"
    con.execute(f"SET temp_directory = {quote_literal(str(spill))}")
    return con


def fetch_all(
    con: duckdb.DuckDBPyConnection, query: str, params: list | None = None
) -> list[tuple]:
    """Run a query and fetch every row, leaving the connection free for the next statement."""
    return con.execute(query, params or []).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> object:
    """The first column of the first row of a query (None when it returns no row)."""
    rows = fetch_all(con, query, params)
    return rows[0][0] if rows else None
