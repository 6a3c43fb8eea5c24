"""A seeded, deterministic generator of engagement events and purchases with distinct personas.

Customers are drawn from personas whose activity differs enough that every segment appears
in the last snapshot: champions, big spenders who rarely engage, engaged browsers who
rarely buy, steady middling customers, customers drifting away, and customers long gone.
Generation is vectorized per chunk of customers and streamed to disk chunk by chunk, so a
million customers and tens of millions of events fit in a few hundred MB of memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engagement_pipeline.vocabulary import TouchpointType

TOUCHPOINTS = np.array([t.value for t in TouchpointType])
CHANNELS = np.array(
    ["organic", "paid_search", "email_campaign", "social_ads", "referral", "direct"]
)
CAMPAIGNS = np.array(["", "spring_sale", "loyalty_push", "win_back", "new_arrivals", "newsletter"])
COUNTRIES = np.array(
    ["United Kingdom", "Germany", "France", "Netherlands", "Spain", "United States"]
)


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    events_per_day: float
    purchases_per_day: float
    order_value: float  # median order value
    # touchpoint mix: email, web, mobile, social, support, purchase, review
    mix: tuple[float, ...]
    # activity ends this many days before the end of the period (range), None: still active
    quiet_days: tuple[int, int] | None = None
    # first seen within this many days of the end of the period (range), None: any time
    new_days: tuple[int, int] | None = None


PERSONAS = (
    Persona("champion", 0.12, 0.50, 0.080, 120.0, (0.20, 0.25, 0.25, 0.08, 0.04, 0.10, 0.08)),
    Persona("big_spender", 0.08, 0.03, 0.060, 180.0, (0.30, 0.30, 0.10, 0.05, 0.10, 0.12, 0.03)),
    Persona("engaged_browser", 0.12, 0.45, 0.006, 40.0, (0.25, 0.30, 0.25, 0.12, 0.03, 0.02, 0.03)),
    Persona("steady", 0.25, 0.12, 0.015, 60.0, (0.30, 0.30, 0.20, 0.08, 0.05, 0.05, 0.02)),
    Persona(
        "newcomer",
        0.08,
        0.20,
        0.020,
        50.0,
        (0.30, 0.35, 0.20, 0.05, 0.03, 0.05, 0.02),
        None,
        (0, 45),
    ),
    Persona(
        "drifting", 0.15, 0.25, 0.020, 70.0, (0.30, 0.30, 0.20, 0.08, 0.06, 0.04, 0.02), (35, 85)
    ),
    Persona(
        "gone", 0.20, 0.20, 0.015, 55.0, (0.35, 0.30, 0.15, 0.10, 0.05, 0.04, 0.01), (100, 170)
    ),
)


def _customer_ids(start: int, stop: int) -> np.ndarray:
    return np.char.add("C", np.char.zfill(np.arange(start, stop).astype(str), 7))


def _active_days(
    rng: np.random.Generator, persona: np.ndarray, n: int, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer is active on [first_day, last_day] (day offsets from the start)."""
    first_day = np.floor(rng.uniform(0, days * 0.5, n)).astype(np.int64)
    last_day = np.full(n, days - 1, dtype=np.int64)
    for i, p in enumerate(PERSONAS):  # a handful of personas, not customers
        members = persona == i
        k = int(members.sum())
        if p.new_days is not None:
            first_day[members] = days - 1 - rng.integers(p.new_days[0], p.new_days[1] + 1, k)
        if p.quiet_days is not None:
            last_day[members] = days - 1 - rng.integers(p.quiet_days[0], p.quiet_days[1] + 1, k)
            first_day[members] = np.minimum(
                first_day[members], np.maximum(last_day[members] - 60, 0)
            )
    first_day = np.clip(first_day, 0, days - 1)
    return first_day, np.maximum(last_day, first_day)


def _events(
    rng: np.random.Generator, ids: np.ndarray, persona: np.ndarray, owner: np.ndarray, ts
) -> pd.DataFrame:
    mixes = np.array([p.mix for p in PERSONAS])
    cum = np.cumsum(mixes[persona[owner]], axis=1)
    tp_idx = (rng.random(owner.size)[:, None] > cum).sum(axis=1).clip(0, len(TOUCHPOINTS) - 1)
    score = np.round(rng.beta(4, 3, owner.size), 3)
    score[rng.random(owner.size) < 0.3] = np.nan  # the score is optional in real exports
    return pd.DataFrame(
        {
            "event_id": np.char.add(
                np.char.add(ids[owner], "-E"), np.arange(owner.size).astype(str)
            ),
            "customer_id": ids[owner],
            "touchpoint": TOUCHPOINTS[tp_idx],
            "timestamp": ts,
            "engagement_score": score,
            "event_type": np.where(TOUCHPOINTS[tp_idx] == "web", "page_view", "interaction"),
            "channel": CHANNELS[rng.integers(0, CHANNELS.size, owner.size)],
            "campaign": CAMPAIGNS[rng.integers(0, CAMPAIGNS.size, owner.size)],
            "session_id": np.char.add("S", (rng.integers(0, 10**9, owner.size)).astype(str)),
        }
    )


def _purchases(
    rng: np.random.Generator, ids: np.ndarray, persona: np.ndarray, owner: np.ndarray, ts
) -> pd.DataFrame:
    value = np.array([p.order_value for p in PERSONAS])[persona[owner]]
    return pd.DataFrame(
        {
            "order_id": np.char.add(
                np.char.add(ids[owner], "-O"), np.arange(owner.size).astype(str)
            ),
            "customer_id": ids[owner],
            "purchase_date": ts,
            "amount": np.round(value * rng.lognormal(0, 0.5, owner.size), 2),
            "quantity": rng.integers(1, 6, owner.size),
            "product": np.char.add("SKU-", rng.integers(100, 999, owner.size).astype(str)),
            "country": COUNTRIES[rng.integers(0, COUNTRIES.size, owner.size)],
        }
    )


def _chunk(
    seed: int, chunk: int, first_id: int, n: int, start: dt.date, days: int, planted: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One chunk of customers and their events and purchases (its own seeded generator;
    the order of random draws is part of the shipped sample's identity)."""
    rng = np.random.default_rng([seed, chunk])
    shares = np.array([p.share for p in PERSONAS])
    persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum())
    ids = _customer_ids(first_id, first_id + n)
    first_day, last_day = _active_days(rng, persona, n, days)
    active = (last_day - first_day + 1).astype(float)

    ev_rate = np.array([p.events_per_day for p in PERSONAS])[persona] * rng.lognormal(0, 0.35, n)
    pu_rate = np.array([p.purchases_per_day for p in PERSONAS])[persona] * rng.lognormal(0, 0.35, n)
    n_events = rng.poisson(ev_rate * active) + 1  # everyone is seen at least once
    n_purchases = rng.poisson(pu_rate * active)

    base = np.datetime64(start.isoformat(), "s")

    def when(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owner = np.repeat(np.arange(n), counts)
        span = (active[owner] * 86400).astype(np.int64)
        offset = first_day[owner] * 86400 + (rng.random(owner.size) * span).astype(np.int64)
        return owner, base + offset.astype("timedelta64[s]")

    events = _events(rng, ids, persona, *when(n_events))
    purchases = _purchases(rng, ids, persona, *when(n_purchases))
    if planted:
        events, purchases = _plant(
            np.random.default_rng([seed, chunk, 1]), events, purchases, start, days
        )
    return (
        events.sort_values(["timestamp", "event_id"], kind="stable"),
        purchases.sort_values(["purchase_date", "order_id"], kind="stable"),
    )


# What `planted=True` adds, for the anomaly detection to find (and to leave alone):
WEEKEND_SHARE = 0.7  # a weekly rhythm: weekend days keep this share of their events
OUTAGE_DAYS_BEFORE_END = 46  # an email outage: no email events that day
SPIKE_DAYS_BEFORE_END = 24  # a revenue spike: that day's orders are worth SPIKE_FACTOR times
SPIKE_FACTOR = 4.0


def planted_days(start: dt.date, days: int) -> dict[str, dt.date]:
    """The days of the planted email outage and revenue spike."""
    end = start + dt.timedelta(days=days - 1)
    return {
        "email_outage": end - dt.timedelta(days=OUTAGE_DAYS_BEFORE_END),
        "revenue_spike": end - dt.timedelta(days=SPIKE_DAYS_BEFORE_END),
    }


def _plant(
    rng: np.random.Generator,
    events: pd.DataFrame,
    purchases: pd.DataFrame,
    start: dt.date,
    days: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A weekly rhythm (fewer events at weekends), an email outage day and a revenue spike."""
    planted = planted_days(start, days)
    day = events["timestamp"].to_numpy().astype("datetime64[D]")
    weekend = pd.DatetimeIndex(day).day_of_week.to_numpy() >= 5
    outage = (day == np.datetime64(planted["email_outage"])) & (
        events["touchpoint"] == "email"
    ).to_numpy()
    keep = ~outage & ~(weekend & (rng.random(len(events)) > WEEKEND_SHARE))
    spike = purchases["purchase_date"].to_numpy().astype("datetime64[D]") == np.datetime64(
        planted["revenue_spike"]
    )
    purchases = purchases.assign(
        amount=np.where(spike, np.round(purchases["amount"] * SPIKE_FACTOR, 2), purchases["amount"])
    )
    return events[keep], purchases


def generate(
    out_dir: str | Path,
    customers: int,
    start: dt.date,
    days: int,
    seed: int = 7,
    fmt: str = "csv",
    chunk_size: int = 50_000,
    planted: bool = False,
) -> dict[str, int]:
    """Write engagement_events.<fmt> and purchases.<fmt> into out_dir; returns row counts.

    Rows are sorted by time within each chunk of customers; files are written chunk by chunk.
    With `planted`, the data has a weekly rhythm, an email outage day and a revenue spike
    (planted_days) for anomaly detection to find.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.{fmt}" for name in ("engagement_events", "purchases")}
    writers: dict[str, object] = {}
    counts = {"customers": customers, "engagement_events": 0, "purchases": 0}
    try:
        for chunk, first in enumerate(range(0, customers, chunk_size)):
            n = min(chunk_size, customers - first)
            frames = dict(
                zip(paths, _chunk(seed, chunk, first + 1, n, start, days, planted), strict=True)
            )
            for name, frame in frames.items():
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = (
                        pq.ParquetWriter(paths[name], table.schema)
                        if fmt == "parquet"
                        else pacsv.CSVWriter(paths[name], table.schema)
                    )
                writers[name].write_table(table)
                counts[name] += len(frame)
    finally:
        for w in writers.values():
            w.close()
    return counts
