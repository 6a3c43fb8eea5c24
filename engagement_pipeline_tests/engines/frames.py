"""Comparing one asset's rows from two engines: the same values, whatever the Python types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd


def _plain(value: object) -> object:
    """A cell as plain Python: dates as Timestamps, arrays and lists as tuples, structs as
    sorted tuples of items (Spark gives Rows, DuckDB dicts)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    if hasattr(value, "asDict"):  # a Spark Row
        return _plain(value.asDict())
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dt.date | np.datetime64 | pd.Timestamp):
        return pd.Timestamp(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_missing(value: object) -> bool:
    return value is None or (not isinstance(value, tuple) and bool(pd.isna(value)))


def _close(a: object, b: object) -> bool:
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-9))
    return bool(a == b)


def assert_same_values(left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str]) -> None:
    """Same columns, same rows: keys, text, dates and integers exact, floating point (also
    inside lists and structs) within 1e-9 relative."""
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    frames = []
    for frame in (left, right):
        frame = frame.astype(object).map(_plain)
        order = frame[list(keys)].map(repr).agg("\x1f".join, axis=1)
        frames.append(frame.loc[order.sort_values(kind="stable").index].reset_index(drop=True))
    a, b = frames
    for column in a.columns:
        same = [_close(x, y) for x, y in zip(a[column], b[column], strict=True)]
        bad = [i for i, ok in enumerate(same) if not ok]
        assert not bad, (column, a.loc[bad[:3], [*keys, column]], b.loc[bad[:3], [*keys, column]])
