"""Small Markdown helpers for metadata previews and reports (no tabulate dependency)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def agreeing(n: int, singular: str, plural: str) -> str:
    """The word that agrees with a count of `n`: agreeing(1, "has", "have") is "has"."""
    return singular if n == 1 else plural


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun in agreement: "1 customer", "2 customers", "1,204 customers"."""
    return f"{n:,} {agreeing(n, noun, plural or noun + 's')}"


def _cell(value: object) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):  # a path: its steps, joined
        # an empty path (a conversion without touches) is shown as one, not as a blank
        return " > ".join(_cell(v) for v in value) if len(value) else "[]"
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A Markdown table of the first `max_rows` rows of `frame`. A column of times that
    are all midnight (snapshot_date, read back from the lake as a timestamp) shows dates."""
    head = frame.head(max_rows).copy()
    for name in head.columns:
        column = head[name]
        if (
            pd.api.types.is_datetime64_any_dtype(column)
            and (column.isna() | (column == column.dt.normalize())).all()
        ):
            head[name] = column.dt.strftime("%Y-%m-%d").astype(object).where(column.notna())
    lines = [
        "| " + " | ".join(str(c) for c in head.columns) + " |",
        "|" + "---|" * len(head.columns),
    ]
    lines += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in head.itertuples(index=False)
    ]
    if len(frame) > max_rows:
        lines.append(f"\n_{len(frame) - max_rows:,} more rows_")
    return "\n".join(lines)
