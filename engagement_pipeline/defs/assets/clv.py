"""Predictive CLV assets: per-customer predictions and the fitted parameters, per snapshot date."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from engagement_pipeline.analytics.clv import (
    SnapshotCLV,
    expected_column,
    parameter_rows,
    predict_snapshot,
    transaction_summary,
)
from engagement_pipeline.defs.checks import CLV_CONTRACTS, check_results, check_specs
from engagement_pipeline.defs.errors import user_errors
from engagement_pipeline.defs.partitions import HISTORY_MAPPING, dates_between, partition_dates
from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import Lake, connection
from engagement_pipeline.markdown import markdown_table
from engagement_pipeline.quality import CheckOutcome, clv_parameter_outcomes, unique_check

CLV_GROUP = "predictive_clv"
PARAMETERS_ASSET = "clv_model_parameters"


def _previous_parameters(lake: Lake, con: duckdb.DuckDBPyConnection, day: dt.date) -> dict | None:
    """The previous snapshot's converged parameters, to start the optimizer from."""
    key = (day - dt.timedelta(days=1)).isoformat()
    if key not in lake.existing_keys(PARAMETERS_ASSET):
        return None
    rows = lake.read(con, PARAMETERS_ASSET, [key]).df()
    rows = rows[rows["converged"]]
    if rows.empty:
        return None
    return {m: dict(zip(g["parameter"], g["value"], strict=True)) for m, g in rows.groupby("model")}


def _warm_start(result: SnapshotCLV) -> dict | None:
    if result.status != "fitted":
        return None
    return {f.model: f.params for f in result.fits}


def build_clv_assets(
    partitions_def: dg.PartitionsDefinition, policy: dg.BackfillPolicy
) -> list[dg.AssetsDefinition]:
    def out(description: str) -> dg.AssetOut:
        return dg.AssetOut(
            description=description, group_name=CLV_GROUP, kinds={"scipy", "parquet"}
        )

    @dg.multi_asset(
        name="clv_model",
        description="Fits BG/NBD and Gamma-Gamma on each snapshot's purchase history and predicts every purchaser.",
        outs={
            "customer_clv": out(
                "One purchasing customer's frequency, recency, T, P(alive), expected purchases, "
                "expected spend and predicted CLV as of the snapshot date."
            ),
            PARAMETERS_ASSET: out(
                "One fitted parameter of one model (BG/NBD or Gamma-Gamma) on the snapshot date, "
                "with the fit's log-likelihood and convergence."
            ),
        },
        ins={"raw_purchases": dg.AssetIn(partition_mapping=HISTORY_MAPPING)},
        partitions_def=partitions_def,
        backfill_policy=policy,
        can_subset=False,
        check_specs=check_specs(CLV_CONTRACTS, partitions_def),
    )
    def clv_model(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        raw_purchases: duckdb.DuckDBPyRelation,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        with user_errors():
            yield from _clv(context, settings, raw_purchases)

    return [clv_model]


def _clv(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    raw_purchases: duckdb.DuckDBPyRelation,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    config = settings.load()
    con = connection()
    lake = Lake(config.lake_dir)
    days = dates_between(*partition_dates(context))
    summaries = transaction_summary(con, raw_purchases, days, config.clv.time_unit_days).df()
    frames, parameters, statuses = [], [], {}
    warm = _previous_parameters(lake, con, days[0])
    for day in days:  # one fit per snapshot date (a handful per run), never per customer
        summary = summaries[pd.to_datetime(summaries["snapshot_date"]).dt.date == day]
        result = predict_snapshot(summary, config.clv, config.ltv.discount_rate, warm)
        warm = _warm_start(result) or warm
        statuses[day.isoformat()] = result.status
        frames.append(result.customers.assign(model_status=result.status))
        parameters.extend(parameter_rows(day, result))
        context.log.info(f"{day}: {result.status} ({len(summary)} purchasers)")
    customers = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    params = pd.DataFrame(
        parameters,
        columns=[
            "snapshot_date",
            "model",
            "parameter",
            "value",
            "log_likelihood",
            "converged",
            "iterations",
            "customers",
            "distinct_rows",
            "status",
        ],
    )
    # typed even when no date had a fit, so the table and its check keep their schema
    params = params.astype(
        {
            "value": float,
            "log_likelihood": float,
            "converged": bool,
            "iterations": int,
            "customers": int,
            "distinct_rows": int,
        }
    )
    params["snapshot_date"] = pd.to_datetime(params["snapshot_date"]).dt.date
    last = days[-1].isoformat()
    metadata = {
        "status": statuses[last],
        "purchasers": int((pd.to_datetime(customers["snapshot_date"]).dt.date == days[-1]).sum())
        if len(customers)
        else 0,
        "parameters": dg.MetadataValue.md(
            markdown_table(params.drop(columns=["status"])) if len(params) else "no fit"
        ),
    }
    for row in params[pd.to_datetime(params["snapshot_date"]).dt.date == days[-1]].itertuples():
        metadata[f"{row.model}/{row.parameter}"] = float(row.value)
        metadata[f"{row.model}/log_likelihood"] = float(row.log_likelihood)
    if len(customers) and statuses[last] == "fitted":
        latest = customers[pd.to_datetime(customers["snapshot_date"]).dt.date == days[-1]]
        metadata["total_predicted_clv"] = float(latest["predicted_clv"].sum())
        metadata["preview"] = dg.MetadataValue.md(
            markdown_table(
                latest.nlargest(10, "predicted_clv")[
                    [
                        "customer_id",
                        "frequency",
                        "recency",
                        "T",
                        "p_alive",
                        expected_column(config.clv.horizons_days[-1]),
                        "predicted_clv",
                    ]
                ]
            )
        )
    yield dg.Output(customers, output_name="customer_clv", metadata=metadata)
    yield dg.Output(params, output_name=PARAMETERS_ASSET, metadata={"rows": len(params)})
    not_fitted = {d: s for d, s in statuses.items() if s != "fitted"}
    fitted = CheckOutcome(
        not not_fitted,
        "; ".join(f"{d}: {s}" for d, s in sorted(not_fitted.items())[:3])
        if not_fitted
        else f"both models converged on {len(statuses)} date(s)",
        {"dates": len(statuses), "dates_without_clv": len(not_fitted)},
    )
    rel = (
        con.from_df(customers)
        if len(customers)
        else con.sql("SELECT NULL::DATE AS snapshot_date, NULL::VARCHAR AS customer_id WHERE false")
    )
    outcomes = {
        "model_fitted": fitted,
        "one_row_per_customer": unique_check(rel, ["customer_id"]),
        **clv_parameter_outcomes(con.from_df(params)),
    }
    yield from check_results(CLV_CONTRACTS, outcomes)
