"""Purchases: from a configured source (canonical or Online Retail II layout) to orders, validated."""

from __future__ import annotations

import datetime as dt
import functools

import duckdb

from engagement_pipeline.config import Config, PurchaseDataConfig
from engagement_pipeline.errors import SourceError
from engagement_pipeline.ingestion.landing import SourceReader, validate_source
from engagement_pipeline.ingestion.sources import (
    SOURCE_FILE,
    SOURCE_ROW,
    SourceScan,
    explain_read_error,
)
from engagement_pipeline.ingestion.validation import (
    Check,
    SourceRules,
    Validated,
    customer_id_sql,
    missing_sql,
)
from engagement_pipeline.sql import exact_sum

SECTION = "purchase_data"

# Canonical columns of a loaded purchase (one order) and their DuckDB types.
PURCHASE_SCHEMA = {
    "order_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "purchase_timestamp": "TIMESTAMP",
    "amount": "DOUBLE",
    "quantity": "DOUBLE",
    "product": "VARCHAR",
    "country": "VARCHAR",
    "line_count": "BIGINT",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "snapshot_date": "DATE",
}
PURCHASE_COLUMNS = tuple(PURCHASE_SCHEMA)


def number_sql(col: str, decimal_separator: str = ".") -> str:
    """Parse a money or count text: currency signs and spaces are ignored, and so are
    thousands separators (',' with a '.' decimal separator; '.' or a space with ',')."""
    cleaned = f"regexp_replace(trim({col}), '[$€£\\s]', '', 'g')"
    if decimal_separator == ",":
        # '1.234,50' and '12,5'; a '.' that does not group thousands makes it unreadable
        text = (
            f"CASE WHEN regexp_matches({cleaned}, '^-?\\d{{1,3}}(\\.\\d{{3}})+(,\\d+)?$') "
            f"THEN replace(replace({cleaned}, '.', ''), ',', '.') "
            f"WHEN contains({cleaned}, '.') THEN NULL "
            f"ELSE replace({cleaned}, ',', '.') END"
        )
    else:
        text = (
            f"CASE WHEN regexp_matches({cleaned}, '^-?\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?$') "
            f"THEN replace({cleaned}, ',', '') ELSE {cleaned} END"
        )
        # A plain number (most rows) reads as it is: one that parses has no sign, space or
        # comma for the cleaning to remove, so the result is the same without regexps.
        return f"coalesce(try_cast(trim({col}) AS DOUBLE), try_cast({text} AS DOUBLE))"
    return f"try_cast({text} AS DOUBLE)"


def _refuse_decimal_commas(
    con: duckdb.DuckDBPyConnection, scan: SourceScan, source: PurchaseDataConfig, price: str
) -> None:
    """One clear error for a file whose amounts all fail only because of a decimal comma.

    Row by row each would be invalid_amount; a whole file of them is a setting, not bad data.
    """
    if source.decimal_separator == ",":
        return
    cleaned = f"regexp_replace(trim({price}), '[$€£\\s]', '', 'g')"
    comma = f"regexp_full_match({cleaned}, '-?[0-9.]*[0-9],[0-9]+')"
    query = f"""
        SELECT {SOURCE_FILE}, arg_min(trim({price}), {SOURCE_ROW}) FILTER ({comma})
        FROM rows
        GROUP BY 1
        HAVING count(*) FILTER (NOT {missing_sql(price)}) > 0
           AND count({number_sql(price)}) = 0
           AND count(*) FILTER ({comma}) > 0
        LIMIT 1
        """
    try:
        found = scan.rows.query("rows", query).fetchall()
    except duckdb.Error as exc:  # a text source is read lazily: a bad record fails here
        raise explain_read_error(SECTION, source.format, scan.files, exc) from None
    if found:
        what = "price" if price == "unit_price" else "amount"
        raise SourceError(
            f"{SECTION}: every {what} in {found[0][0]} looks like a decimal comma (e.g. "
            f"{found[0][1]!r}); set {SECTION}.decimal_separator: ','"
        )


def _bad_number(raw: str, parsed: str) -> str:
    return f"NOT {missing_sql(raw)} AND ({parsed} IS NULL OR isnan({parsed}) OR isinf({parsed}))"


def validate_purchases(
    con: duckdb.DuckDBPyConnection, config: Config, start: dt.date, end: dt.date
) -> Validated:
    """Read the purchase source and return its orders dated in [start, end], validated.

    Quarantined rows are source rows (lines, for Online Retail II); loaded rows are orders.
    """
    source = config.purchase_data
    online_retail = source.layout == "online_retail_ii"
    mapping = {
        "order_id": source.order_id_column,
        "customer_id": source.customer_id_column,
        "purchase_date": source.purchase_date_column,
        "amount": None if online_retail else source.amount_column,
        "quantity": source.quantity_column,
        "unit_price": source.unit_price_column if online_retail else None,
        "product": source.product_column,
        "country": source.country_column,
    }
    # Online Retail II prices each line as quantity x unit price; checks name that column.
    price = "unit_price" if online_retail else "amount"
    rules = _purchase_rules(source, price)
    whole_file = functools.partial(_refuse_decimal_commas, source=source, price=price)
    reader = SourceReader(
        source,
        SECTION,
        mapping,
        rules,
        # Online Retail II groups an invoice's lines into one order: not row by row.
        lake_form=_orders if online_retail else _single_line_orders,
        order_by="snapshot_date, purchase_timestamp, order_id",
        row_wise=not online_retail,
        file_check=whole_file,
    )
    return validate_source(con, config, reader, start, end)


def _purchase_rules(source: PurchaseDataConfig, price: str) -> SourceRules:
    online_retail = source.layout == "online_retail_ii"
    sep = source.decimal_separator
    amount = (
        f"({number_sql('quantity', sep)} * {number_sql('unit_price', sep)})"
        if online_retail
        else number_sql("amount", sep)
    )
    return SourceRules(
        timestamp_column="purchase_date",
        timestamp_source_column=source.purchase_date_column,
        id_column="order_id",
        # An invoice has many lines in Online Retail II: they are grouped, not duplicates.
        unique_ids=not online_retail and source.order_id_column is not None,
        duplicate_id_reason="duplicate_order_id",
        parsed=[
            f"{amount} AS amount_parsed",
            f"{number_sql('quantity', sep)} AS quantity_parsed",
        ],
        # The same item entered twice on one invoice is two lines of that order.
        repeats_within_file_kept=online_retail,
        checks=_purchase_checks(source, price),
        output_columns=f"""
            _id AS order_id,
            {customer_id_sql("customer_id")} AS customer_id,
            ts_parsed AS purchase_timestamp,
            amount_parsed AS amount,
            quantity_parsed AS quantity,
            nullif(trim(product), '') AS product,
            nullif(trim(country), '') AS country""",
    )


def _purchase_checks(source: PurchaseDataConfig, price: str) -> list[Check]:
    online_retail = source.layout == "online_retail_ii"
    # Free orders (amount 0) are transactions too where the source says so; refunds never are.
    non_positive = "< 0" if source.allow_zero_amounts else "<= 0"
    retail_only = [
        # Cancellations are refunds of earlier invoices: counted, never mixed into revenue.
        Check("cancellation", "order_id", "upper(trim(order_id)) LIKE 'C%'"),
        Check("missing_quantity", "quantity", missing_sql("quantity")),
    ]
    return [
        *(retail_only if online_retail else []),
        Check("invalid_quantity", "quantity", _bad_number("quantity", "quantity_parsed")),
        # A line of no or negative items is a return or a correction, never a sale.
        Check("non_positive_quantity", "quantity", "quantity_parsed <= 0"),
        Check("missing_amount", price, missing_sql(price)),
        Check(
            "invalid_amount",
            price,
            _bad_number(price, number_sql(price, source.decimal_separator)),
        ),
        Check("non_positive_amount", price, f"amount_parsed {non_positive}"),
        Check("implausible_amount", price, f"amount_parsed > {float(source.max_amount)!r}"),
    ]


def _orders(rows: str) -> str:
    """Loaded lines grouped into orders (Online Retail II: an invoice's lines)."""
    return f"""
        SELECT order_id,
               arg_min(customer_id, {SOURCE_ROW}) AS customer_id,
               min(purchase_timestamp) AS purchase_timestamp,
               {exact_sum("amount")} AS amount,
               sum(quantity) AS quantity,
               CASE WHEN count(DISTINCT product) = 1 THEN min(product) END AS product,
               arg_min(country, {SOURCE_ROW}) AS country,
               count(*) AS line_count,
               min({SOURCE_FILE}) AS source_file,
               min({SOURCE_ROW}) AS source_row,
               min(snapshot_date) AS snapshot_date
        FROM {rows}
        GROUP BY order_id"""


def _single_line_orders(rows: str) -> str:
    """Loaded lines as orders where each order is one line (ids are unique, or generated
    per line): the same columns and types as `_orders`, row by row."""
    return f"""
        SELECT order_id, customer_id, purchase_timestamp, amount, quantity, product, country,
               CAST(1 AS BIGINT) AS line_count,
               {SOURCE_FILE} AS source_file,
               {SOURCE_ROW} AS source_row,
               snapshot_date
        FROM {rows}"""
