"""Predictive CLV: per-customer predictions and the fitted parameters per snapshot date, with
their checks. The fit of each date starts from the previous date's parameters (an input)."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from engagement_pipeline.analytics.clv import expected_column
from engagement_pipeline.analytics.clv_fits import fit_and_predict
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.defs.assets.snapshots import asset_out, require_earlier
from engagement_pipeline.defs.checks import Contract, check_specs, partition_check_results
from engagement_pipeline.defs.errors import step_scope
from engagement_pipeline.defs.metadata import record_partition_metadata
from engagement_pipeline.defs.partitions import earlier_in, partition_keys
from engagement_pipeline.defs.resources import EarlierPartitions, PipelineSettings
from engagement_pipeline.lake import InLake, connection, materialize, open_lake
from engagement_pipeline.quality import CheckOutcome, DateOutcomes, per_date, unique_check
from engagement_pipeline.sql import exact_mean, exact_sum, quote_ident
from engagement_pipeline.stages import (
    CLV_MODEL_PARAMETERS,
    CUSTOMER_CLV,
    STAGE_BY_NAME,
)

GROUP = "predictive_clv"
OWNER = "team:customer-analytics"

ONE_ROW_PER_CUSTOMER = "one_row_per_customer"
MODEL_FITTED = "model_fitted"
VALID_PARAMETERS = "valid_parameters"

CLV_CONTRACTS = [
    Contract(CUSTOMER_CLV, ONE_ROW_PER_CUSTOMER, "Each purchaser appears once per snapshot date."),
    Contract(
        CUSTOMER_CLV,
        MODEL_FITTED,
        "Both models were fitted and converged; otherwise predictions are empty and the reason is given.",
        blocking=False,
    ),
    Contract(
        CLV_MODEL_PARAMETERS,
        VALID_PARAMETERS,
        "Converged fits have positive, finite parameters and a finite log-likelihood.",
    ),
]
# -- check outcomes -----------------------------------------------------------------------


def clv_parameter_outcomes(rel: duckdb.DuckDBPyRelation) -> DateOutcomes:
    """Converged fits have positive, finite parameters and log-likelihoods."""
    return per_date(
        rel,
        "converged AND (NOT (value > 0) OR isinf(value) OR isnan(log_likelihood) OR log_likelihood > 0)",
        "of a converged fit with a parameter that is not positive and finite",
    )


def model_fitted_outcomes(statuses: dict[str, str]) -> DateOutcomes:
    return {
        d: CheckOutcome(s == "fitted", "both models converged" if s == "fitted" else s)
        for d, s in statuses.items()
    }


# -- computation ------------------------------------------------------------------------------


def warm_start_from(parameters: duckdb.DuckDBPyRelation | None, day: dt.date) -> dict | None:
    """The converged parameters of `day`, to start that date's successor from."""
    if parameters is None:
        return None
    rows = parameters.filter(f"snapshot_date = DATE '{day.isoformat()}' AND converged").df()
    if rows.empty:
        return None
    return {m: dict(zip(g["parameter"], g["value"], strict=True)) for m, g in rows.groupby("model")}


def _parameter_metadata(params: pd.DataFrame):
    days = pd.to_datetime(params["snapshot_date"]).dt.date.map(dt.date.isoformat)

    def extra(key: str) -> dict:
        rows = params[days == key]
        figures = {f"{r.model}/{r.parameter}": float(r.value) for r in rows.itertuples()}
        figures.update(
            {f"{r.model}/log_likelihood": float(r.log_likelihood) for r in rows.itertuples()}
        )
        return figures

    return extra


def build_clv_assets(config, common: dict) -> list[dg.AssetsDefinition]:
    stage = STAGE_BY_NAME[CUSTOMER_CLV]

    def out(description: str) -> dg.AssetOut:
        return asset_out(description, GROUP, OWNER, {"scipy", "parquet"}, "snapshot", __file__)

    @dg.multi_asset(
        name="clv_model",
        description="Fits BG/NBD and Gamma-Gamma on each snapshot's purchase history and predicts every purchaser.",
        outs={
            CUSTOMER_CLV: out(stage.description),
            CLV_MODEL_PARAMETERS: out(
                "One fitted parameter of one model (BG/NBD or Gamma-Gamma) on the snapshot date, "
                "with the fit's log-likelihood and convergence."
            ),
        },
        ins={
            **{a: dg.AssetIn(a) for a in stage.inputs},
            "earlier": earlier_in(CUSTOMER_CLV, 1),
            "earlier_parameters": earlier_in(CLV_MODEL_PARAMETERS, 1),
        },
        # each output builds on its own previous date (the state; the warm start), so a
        # backfill's dates stay its dates
        internal_asset_deps={
            CUSTOMER_CLV: {dg.AssetKey(a) for a in (*stage.inputs, CUSTOMER_CLV)},
            CLV_MODEL_PARAMETERS: {dg.AssetKey(a) for a in (*stage.inputs, CLV_MODEL_PARAMETERS)},
        },
        can_subset=False,
        check_specs=check_specs(CLV_CONTRACTS, common["partitions_def"]),
        **common,
    )
    def clv_model(
        context: dg.AssetExecutionContext,
        settings: PipelineSettings,
        raw_purchases: duckdb.DuckDBPyRelation,
        earlier: EarlierPartitions,
        earlier_parameters: EarlierPartitions,
    ) -> Iterator:
        with step_scope():
            yield from _clv(
                context, settings, stage.lookback, raw_purchases, earlier, earlier_parameters
            )

    return [clv_model]


def _clv(context, settings, lookback, raw_purchases, earlier, earlier_parameters) -> Iterator:
    config, con = settings.load(), connection()
    keys = partition_keys(context)
    dates = [dt.date.fromisoformat(k) for k in keys]
    state = require_earlier(CUSTOMER_CLV, earlier, dates, lookback, config)
    warm = warm_start_from(earlier_parameters.rows, dates[0] - dt.timedelta(days=1))

    def log(day: dt.date, message: str, warning: bool) -> None:
        (context.log.warning if warning else context.log.info)(f"{day}: {message}")

    if config.engine == "spark":
        # optional dependency (the spark extra): imported only when configured
        from engagement_pipeline.engines.spark_lake import run_clv

        params, statuses = run_clv(
            config,
            context.asset_partition_keys_for_input("raw_purchases"),
            sorted(earlier.keys),
            dates,
            keys,
            warm,
            log,
        )
        customers_rel = open_lake(config).read(con, CUSTOMER_CLV, keys)
        customers_out = InLake(customers_rel)
    else:
        summaries = transaction_summary(con, raw_purchases, dates, config.clv.time_unit_days, state)
        fitted = fit_and_predict(con, summaries, dates, config, warm, log)
        params, statuses = fitted.parameters, fitted.statuses
        customers_rel = customers_out = materialize(con, fitted.customers, CUSTOMER_CLV)
    params_rel = materialize(con, con.from_df(params), CLV_MODEL_PARAMETERS)
    horizon = expected_column(config.clv.horizons_days[-1])
    parameter_figures = _parameter_metadata(params)
    record_partition_metadata(
        context,
        CUSTOMER_CLV,
        customers_rel,
        keys,
        figures={
            "purchasers": "count(*)",
            "total_predicted_clv": f"coalesce({exact_sum('predicted_clv')}, 0)",
            "mean_p_alive": f"coalesce({exact_mean('p_alive')}, 0)",
            f"total_{horizon}": f"coalesce({exact_sum(quote_ident(horizon))}, 0)",
        },
        extra=lambda key: {"status": statuses[key], **parameter_figures(key)},
        preview_order="predicted_clv DESC NULLS LAST, customer_id",
    )
    record_partition_metadata(
        context,
        CLV_MODEL_PARAMETERS,
        params_rel,
        keys,
        extra=parameter_figures,
        preview_order="model, parameter",
    )
    yield dg.Output(customers_out, output_name=CUSTOMER_CLV)
    yield dg.Output(params_rel, output_name=CLV_MODEL_PARAMETERS)
    outcomes = {
        MODEL_FITTED: model_fitted_outcomes(statuses),
        ONE_ROW_PER_CUSTOMER: unique_check(customers_rel, ["customer_id"]),
        VALID_PARAMETERS: clv_parameter_outcomes(params_rel),
    }
    yield from partition_check_results(context, CLV_CONTRACTS, outcomes, keys)
