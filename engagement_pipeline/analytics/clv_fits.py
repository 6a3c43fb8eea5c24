"""Fitting the CLV models date by date: each snapshot's fit starts from the previous one's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from engagement_pipeline.analytics.clv import SnapshotCLV, parameter_rows, predict_snapshot
from engagement_pipeline.config import Config

PARAMETER_COLUMNS = {
    "snapshot_date": "object",
    "model": "object",
    "parameter": "object",
    "value": float,
    "log_likelihood": float,
    "converged": bool,
    "iterations": int,
    "customers": int,
    "distinct_rows": int,
    "status": "object",
}
WarmStart = dict[str, dict[str, float]]


@dataclass(frozen=True)
class FittedSnapshots:
    """Per-customer predictions and the fitted parameters of a run's dates."""

    customers: pd.DataFrame
    parameters: pd.DataFrame
    statuses: dict[str, str]  # snapshot date -> "fitted" or why CLV is empty


def _warm_start(result: SnapshotCLV) -> WarmStart | None:
    return {f.model: f.params for f in result.fits} if result.status == "fitted" else None


def fit_snapshots(
    summaries: pd.DataFrame,
    dates: list[dt.date],
    config: Config,
    warm: WarmStart | None = None,
    log: Callable[[dt.date, str, bool], None] | None = None,
) -> FittedSnapshots:
    """One fit per snapshot date (a handful per run), never per customer; each starts from
    the previous date's parameters. `log(date, message, is_warning)` hears each outcome."""
    frames, parameters, statuses = [], [], {}
    days = pd.to_datetime(summaries["snapshot_date"]).dt.date
    for day in dates:
        summary = summaries[days == day]
        result = predict_snapshot(summary, config.clv, config.ltv.discount_rate, warm)
        warm = _warm_start(result) or warm
        statuses[day.isoformat()] = result.status
        frames.append(result.customers.assign(model_status=result.status))
        parameters.extend(parameter_rows(day, result))
        if log is not None:
            for note in result.notes:
                log(day, note, True)
            log(day, f"{result.status} ({len(summary)} purchasers)", False)
    params = pd.DataFrame(parameters, columns=list(PARAMETER_COLUMNS)).astype(PARAMETER_COLUMNS)
    params["snapshot_date"] = pd.to_datetime(params["snapshot_date"]).dt.date
    return FittedSnapshots(pd.concat(frames, ignore_index=True), params, statuses)
