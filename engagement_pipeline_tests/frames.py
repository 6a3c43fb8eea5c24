"""Comparing two computations' rows: the same values, whatever the Python types.

Used by the incremental-versus-full tests (millions of CDNOW rows: scalar columns are
compared whole-column) and by the engine tests (Spark gives dates as datetime.date, lists
as lists and structs as Rows where DuckDB gives datetime64, arrays and dicts: those cells
are compared one by one after normalising).
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_KEYS = ("snapshot_date", "customer_id")
# Floating point agrees within 1e-9 relative; the absolute floor only lets a value that is
# zero on one engine be a rounding residue (1e-17) on the other.
RELATIVE, ZERO = 1e-9, 1e-12


def assert_same_rows(
    left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS
) -> None:
    """Same columns, same rows: keys, text, dates and integers exact; floating point (also
    inside lists and structs) within 1e-9 relative."""
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    a, b = (_sorted(frame, keys) for frame in (left, right))
    for column in a.columns:
        same = _same(a[column], b[column])
        bad = np.flatnonzero(~same)
        assert not len(bad), (
            column,
            a.loc[bad[:3], [*keys, column]],
            b.loc[bad[:3], [*keys, column]],
        )


def _sorted(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    order = pd.DataFrame({key: _sortable(frame[key]) for key in keys})
    index = order.sort_values(list(keys), kind="stable").index
    return frame.loc[index].reset_index(drop=True)


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    a, b = _comparable(a), _comparable(b)
    if pd.api.types.is_datetime64_any_dtype(a) or pd.api.types.is_datetime64_any_dtype(b):
        # a column of NULLs only reads as float on one side and as timestamps on the other
        a, b = pd.to_datetime(a), pd.to_datetime(b)
    if a.dtype == object or b.dtype == object:
        a, b = a.astype(object).map(_plain), b.astype(object).map(_plain)
        return np.array([_close(x, y) for x, y in zip(a, b, strict=True)], dtype=bool)
    if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
        return np.isclose(
            a.astype(float), b.astype(float), rtol=RELATIVE, atol=ZERO, equal_nan=True
        )
    return ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)


def _comparable(column: pd.Series) -> pd.Series:
    """Whole-column types where the cells allow: dates as datetime64, text as str, numbers
    (DECIMAL sums, and a column of NULLs only, which a date computed alone may have) as
    float. A column's cells share one type, so the first present cell decides."""
    if column.dtype != object:
        return column
    present = column.dropna()
    if present.empty:
        return column.astype(float)
    first = present.iloc[0]
    if isinstance(first, dt.date | pd.Timestamp):
        return pd.to_datetime(column)
    if isinstance(first, str):
        return column.astype("string")
    if isinstance(first, numbers.Number):
        return column.astype(float)
    return column


def _sortable(column: pd.Series) -> pd.Series:
    """A key column to sort by: as _comparable, with a list key (a path) as a tuple."""
    column = _comparable(column)
    if column.dtype == object:
        return column.map(_plain)
    return column


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
        return bool(np.isclose(float(a), float(b), rtol=RELATIVE, atol=ZERO))
    return bool(a == b)
