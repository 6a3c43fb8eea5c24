"""Analytics tests build small events and purchases relations directly from rows."""

from __future__ import annotations

import pandas as pd


def events_rel(con, rows: list[tuple]):
    """rows: (customer_id, touchpoint, timestamp, engagement_score or None)."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "touchpoint", "event_timestamp", "engagement_score"]
    )
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"])
    frame["engagement_score"] = frame["engagement_score"].astype("float64")
    # as in the lake: a raw row's partition is its event's day
    frame["snapshot_date"] = frame["event_timestamp"].dt.date
    return (
        con.from_df(frame)
        if rows
        else con.sql(
            "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS touchpoint, "
            "NULL::TIMESTAMP AS event_timestamp, NULL::DOUBLE AS engagement_score, "
            "NULL::DATE AS snapshot_date WHERE false"
        )
    )


def purchases_rel(con, rows: list[tuple]):
    """rows: (customer_id, timestamp, amount[, country]); order ids are numbered in order."""
    if not rows:
        return con.sql(
            "SELECT NULL::VARCHAR AS order_id, NULL::VARCHAR AS customer_id, "
            "NULL::TIMESTAMP AS purchase_timestamp, NULL::DOUBLE AS amount, "
            "NULL::VARCHAR AS country, NULL::DATE AS snapshot_date WHERE false"
        )
    frame = pd.DataFrame(
        [(*r, None)[:4] for r in rows],
        columns=["customer_id", "purchase_timestamp", "amount", "country"],
    )
    frame.insert(0, "order_id", [f"O{i:04d}" for i in range(len(frame))])
    frame["country"] = frame["country"].astype("string")
    frame["purchase_timestamp"] = pd.to_datetime(frame["purchase_timestamp"])
    frame["snapshot_date"] = frame["purchase_timestamp"].dt.date
    return con.from_df(frame)
