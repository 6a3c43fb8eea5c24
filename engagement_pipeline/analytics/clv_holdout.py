"""Calibration/holdout evaluation of the BG/NBD predictions for any split date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engagement_pipeline.analytics.clv import FitResult, expected_transactions, fit_bgnbd
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.config import Config
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.markdown import markdown_table
from engagement_pipeline.sql import new_connection


@dataclass(frozen=True)
class HoldoutEvaluation:
    calibration_end: dt.date
    holdout_end: dt.date
    fit: FitResult
    customers: pd.DataFrame  # per customer: frequency, recency, T, predicted, actual
    by_frequency: pd.DataFrame
    totals: dict[str, float]


def evaluate_holdout(
    config: Config, calibration_end: dt.date, holdout_end: dt.date, max_bucket: int = 7
) -> HoldoutEvaluation:
    """Fit on purchases up to calibration_end; compare predicted and actual repeat transactions
    in (calibration_end, holdout_end] for the customers who had bought by calibration_end."""
    if holdout_end <= calibration_end:
        raise ValueError("holdout_end must be after calibration_end")
    con = new_connection()
    purchases = validate_purchases(con, config, config.snapshots.start_date, holdout_end).loaded
    unit = config.clv.time_unit_days
    summary = transaction_summary(con, purchases, [calibration_end], unit).df()
    actual = con.sql(
        f"""
        SELECT customer_id, count(DISTINCT CAST(purchase_timestamp AS DATE)) AS actual
        FROM purchases
        WHERE CAST(purchase_timestamp AS DATE) > DATE '{calibration_end.isoformat()}'
          AND CAST(purchase_timestamp AS DATE) <= DATE '{holdout_end.isoformat()}'
        GROUP BY 1
        """
    ).df()
    fit = fit_bgnbd(summary[["frequency", "recency", "T"]], config.clv.penalizer)
    horizon = (holdout_end - calibration_end).days / unit
    customers = summary.merge(actual, on="customer_id", how="left").fillna({"actual": 0})
    customers["predicted"] = expected_transactions(
        fit.params, horizon, *(customers[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    )
    bucket = customers["frequency"].clip(upper=max_bucket)
    by_frequency = (
        customers.assign(bucket=bucket)
        .groupby("bucket")
        .agg(
            customers=("customer_id", "size"),
            actual=("actual", "mean"),
            predicted=("predicted", "mean"),
        )
        .reset_index()
    )
    by_frequency["bucket"] = by_frequency["bucket"].astype(int).astype(str)
    by_frequency.loc[by_frequency["bucket"] == str(max_bucket), "bucket"] = f"{max_bucket}+"
    errors = customers["predicted"] - customers["actual"]
    totals = {
        "customers": float(len(customers)),
        "actual_total": float(customers["actual"].sum()),
        "predicted_total": float(customers["predicted"].sum()),
        "correlation": float(np.corrcoef(customers["predicted"], customers["actual"])[0, 1]),
        "mae": float(errors.abs().mean()),
        "bucket_mae": float((by_frequency["predicted"] - by_frequency["actual"]).abs().mean()),
    }
    return HoldoutEvaluation(calibration_end, holdout_end, fit, customers, by_frequency, totals)


def holdout_markdown(e: HoldoutEvaluation, title: str = "BG/NBD holdout evaluation") -> str:
    t = e.totals
    p = e.fit.params
    weeks = (e.holdout_end - e.calibration_end).days
    return "\n".join(
        [
            f"# {title}",
            "",
            f"Calibration: purchases up to {e.calibration_end}; holdout: {e.calibration_end} "
            f"(exclusive) to {e.holdout_end} ({weeks} days). Fitted on {int(t['customers']):,} "
            f"customers: r = {p['r']:.4f}, alpha = {p['alpha']:.4f}, a = {p['a']:.4f}, "
            f"b = {p['b']:.4f}, log-likelihood {e.fit.log_likelihood:.2f}.",
            "",
            "| | value |",
            "|---|---:|",
            f"| actual repeat transactions in the holdout | {t['actual_total']:,.0f} |",
            f"| predicted | {t['predicted_total']:,.1f} |",
            f"| relative error of the total | {(t['predicted_total'] / t['actual_total'] - 1):+.1%} |",
            f"| correlation, predicted vs actual per customer | {t['correlation']:.3f} |",
            f"| mean absolute error per customer | {t['mae']:.3f} |",
            f"| mean absolute error of the bucket means | {t['bucket_mae']:.3f} |",
            "",
            "Mean holdout transactions per customer, by calibration frequency:",
            "",
            markdown_table(
                e.by_frequency.rename(columns={"bucket": "calibration repeat purchases"})
            ),
            "",
        ]
    )
