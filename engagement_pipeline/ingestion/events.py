"""Engagement events: from a configured source to the canonical schema, validated."""

from __future__ import annotations

import datetime as dt

import duckdb

from engagement_pipeline.config import Config
from engagement_pipeline.ingestion.landing import SourceReader, validate_source
from engagement_pipeline.ingestion.sources import SOURCE_FILE, SOURCE_ROW
from engagement_pipeline.ingestion.touchpoints import ALIAS_KEY_SQL, TOUCHPOINT_ALIASES
from engagement_pipeline.ingestion.validation import (
    Check,
    SourceRules,
    Validated,
    customer_id_sql,
    missing_sql,
)
from engagement_pipeline.sql import quote_literal
from engagement_pipeline.vocabulary import TouchpointType

SECTION = "engagement_data"

# Canonical columns of a loaded event and their DuckDB types (see docs/data_dictionary.md).
EVENT_SCHEMA = {
    "event_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "touchpoint": "VARCHAR",
    "event_timestamp": "TIMESTAMP",
    "engagement_score": "DOUBLE",
    "event_type": "VARCHAR",
    "channel": "VARCHAR",
    "campaign": "VARCHAR",
    "session_id": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "snapshot_date": "DATE",
}
EVENT_COLUMNS = tuple(EVENT_SCHEMA)


def _touchpoint_sql(col: str) -> str:
    cases = " ".join(
        f"WHEN {quote_literal(alias)} THEN {quote_literal(t.value)}"
        for alias, t in sorted(TOUCHPOINT_ALIASES.items())
    )
    exact = ", ".join(quote_literal(t.value) for t in TouchpointType)
    # Canonical spellings skip the alias key's regular expression (most rows of most files).
    return (
        f"CASE WHEN list_contains([{exact}], {col}) THEN {col} "
        f"ELSE CASE {ALIAS_KEY_SQL.format(col=col)} {cases} END END"
    )


def _score_sql(col: str, decimal_separator: str) -> str:
    if decimal_separator == ",":
        return f"try_cast(replace(trim({col}), ',', '.') AS DOUBLE)"
    return f"try_cast(trim({col}) AS DOUBLE)"


def validate_events(
    con: duckdb.DuckDBPyConnection, config: Config, start: dt.date, end: dt.date
) -> Validated:
    """Read the engagement source and return its events dated in [start, end], validated."""
    source = config.engagement_data
    mapping = {
        "event_id": source.event_id_column,
        "customer_id": source.customer_id_column,
        "touchpoint": source.touchpoint_column,
        "timestamp": source.timestamp_column,
        "engagement_score": source.engagement_score_column,
        "event_type": source.event_type_column,
        "channel": source.channel_column,
        "campaign": source.campaign_column,
        "session_id": source.session_id_column,
    }
    rules = SourceRules(
        timestamp_column="timestamp",
        timestamp_source_column=source.timestamp_column,
        id_column="event_id",
        # Generated ids (file:row) are unique by construction; only source ids can repeat.
        unique_ids=source.event_id_column is not None,
        duplicate_id_reason="duplicate_event_id",
        parsed=[
            f"{_touchpoint_sql('touchpoint')} AS touchpoint_parsed",
            f"{_score_sql('engagement_score', source.decimal_separator)} AS score_parsed",
        ],
        checks=[
            Check("missing_touchpoint", "touchpoint", missing_sql("touchpoint")),
            Check("unknown_touchpoint", "touchpoint", "touchpoint_parsed IS NULL"),
            Check(
                "invalid_engagement_score",
                "engagement_score",
                "NOT " + missing_sql("engagement_score") + " AND (score_parsed IS NULL OR "
                "isnan(score_parsed) OR score_parsed < 0 OR score_parsed > 1)",
            ),
        ],
        output_columns=f"""
            _id AS event_id,
            {customer_id_sql("customer_id")} AS customer_id,
            touchpoint_parsed AS touchpoint,
            ts_parsed AS event_timestamp,
            score_parsed AS engagement_score,
            nullif(trim(event_type), '') AS event_type,
            nullif(trim(channel), '') AS channel,
            nullif(trim(campaign), '') AS campaign,
            nullif(trim(session_id), '') AS session_id""",
    )
    reader = SourceReader(
        source, SECTION, mapping, rules, lake_form=_lake_form, order_by=EVENT_ORDER
    )
    return validate_source(con, config, reader, start, end)


# A run's events are sorted by day, time and id (a relation a caller reads; the lake's
# day files themselves keep no particular row order).
EVENT_ORDER = "snapshot_date, event_timestamp, event_id"


def _lake_form(rows: str) -> str:
    """Loaded events in the lake's columns (EVENT_SCHEMA), from the validated rows."""
    return f"""
        SELECT * EXCLUDE ({SOURCE_FILE}, {SOURCE_ROW}, snapshot_date),
               {SOURCE_FILE} AS source_file, {SOURCE_ROW} AS source_row, snapshot_date
        FROM {rows}"""
