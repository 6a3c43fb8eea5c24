"""BG/NBD and Gamma-Gamma against the published CDNOW results, through the project's own code."""

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from engagement_pipeline.analytics import clv
from engagement_pipeline.analytics.clv_fits import fit_snapshots
from engagement_pipeline.analytics.clv_summary import transaction_summary
from engagement_pipeline.config import CLVConfig, load_config
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION_END = dt.date(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    config = load_config(ROOT / "data" / "cdnow" / "config.yaml")
    con = new_connection()
    purchases = validate_purchases(
        con, config, config.snapshots.start_date, config.snapshots.end_date
    )
    assert purchases.quarantined.aggregate("count(*)").fetchall() == [(0,)]
    loaded = purchases.loaded
    assert loaded.aggregate("count(*), count(DISTINCT customer_id)").fetchall() == [(6919, 2357)]
    return transaction_summary(con, loaded, [CALIBRATION_END], 7.0).df()


def test_calibration_summary(cdnow_summary):
    s = cdnow_summary.set_index("customer_id")
    assert len(s) == 2357 and (s["frequency"] > 0).sum() == 946
    # customer 0001 bought on 1997-01-01, 01-18 and 08-02 before the end of calibration
    assert s.loc["0001", "frequency"] == 2
    assert s.loc["0001", "recency"] == pytest.approx(213 / 7)
    assert s.loc["0001", "T"] == pytest.approx(272 / 7)
    assert s.loc["0001", "monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_bgnbd_matches_fader_hardie_lee_2005(cdnow_summary):
    fit = clv.fit_bgnbd(cdnow_summary[["frequency", "recency", "T"]])
    assert fit.converged
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert round(fit.params[name], 2) == round(value, 2), name
        assert fit.params[name] == pytest.approx(value, abs=1e-3), name
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    # customers are aggregated: far fewer distinct (x, t_x, T) rows than customers
    assert fit.n_customers == 2357 and fit.n_rows < 1100


def test_gamma_gamma_matches_rfm_and_clv_paper(cdnow_summary):
    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    fit = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    assert fit.converged and fit.n_customers == 946
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert round(fit.params[name], 2) == value, name


def test_conditional_expectation_from_the_paper():
    # Fader, Hardie & Lee (2005), section 5: x = 2, t_x = 30.43, T = 38.86 -> 1.226 in 39 weeks
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    value = clv.expected_transactions(
        params, 39, np.array([2.0]), np.array([30.43]), np.array([38.86])
    )
    assert value[0] == pytest.approx(1.226, abs=0.001)


def test_hypergeometric_transform_equals_the_direct_formula_and_stays_finite():
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    r, alpha, a, b = params.values()
    x, t_x, T, t = np.array([0.0, 1, 5, 20]), np.array([0.0, 10, 30, 38]), np.full(4, 38.86), 39.0
    z = t / (alpha + T + t)
    direct = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        )
        * clv.probability_alive(params, x, t_x, T)
    )
    np.testing.assert_allclose(clv.expected_transactions(params, t, x, t_x, T), direct, rtol=1e-9)
    many = clv.expected_transactions(
        params, t, np.array([300.0, 800.0]), np.array([38.0, 1.0]), np.array([38.86, 38.86])
    )
    # a very frequent buyer keeps buying (~2.5 a week); one silent for 37 weeks is gone
    assert np.all(np.isfinite(many)) and 90 < many[0] < 110 and many[1] < 1e-100
    assert np.all(
        np.isfinite(
            clv.bgnbd_log_likelihood(
                np.array([0.24, 4.4, 0.79, 2.4]),
                np.array([900.0]),
                np.array([50.0]),
                np.array([52.0]),
            )
        )
    )


def _tail_by_summing_the_series(params: dict, x: float, T: float, t: float) -> float:
    """(1-z)^(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z) term by term, in logs: every term is
    positive, so the sum loses nothing however large a and b are (the test's reference)."""
    r, alpha, a, b = params.values()
    z = t / (alpha + T + t)
    k = np.arange(400_000, dtype=float)
    step = np.log(a + b - 1 - r + k) + np.log(a - 1 + k) - np.log(a + b + x - 1 + k)
    logs = np.concatenate([[0.0], np.cumsum(step - np.log(k + 1) + np.log(z))])
    return float(np.exp(special.logsumexp(logs) + (a - 1) * np.log1p(-z)))


def test_expectations_stay_finite_when_a_and_b_run_into_the_thousands():
    # A fit of the shipped sample's 2025-01-30 (45 customers): a dropout rate of 1.6% for
    # everyone, as a = 1231, b = 75984. There (1-z)^(a-1) underflows and 2F1 overflows:
    # every prediction of the date was empty. Against the series summed term by term.
    params = {"r": 1.1529, "alpha": 2.6196, "a": 1231.36, "b": 75984.17}
    r, alpha, a, b = params.values()
    cases = [(0.0, 0.0, 30 / 7), (0.0, 0.0, 365 / 7), (1.0, 3.71, 90 / 7), (5.0, 10.0, 52.0)]
    x, T, t = (np.array(c) for c in zip(*cases, strict=True))
    for i, (xi, Ti, ti) in enumerate(cases):
        tail = _tail_by_summing_the_series(params, xi, Ti, ti)
        alive = clv.probability_alive(params, x[i : i + 1], T[i : i + 1], T[i : i + 1])[0]
        expected = (a + b + xi - 1) / (a - 1) * (1 - tail) * alive
        got = clv.expected_transactions(params, ti, x[i : i + 1], T[i : i + 1], T[i : i + 1])
        assert got[0] == pytest.approx(expected, rel=1e-8), (xi, Ti, ti)
    # and the whole chain: every customer of such a date gets a predicted CLV
    summary = pd.DataFrame(
        {"frequency": x, "recency": T, "T": T, "monetary_value": [0.0, 0.0, 70.0, 120.0]}
    )
    fits = clv.SnapshotFits(
        [
            clv.FitResult("bg_nbd", params, -90.0, True, 10, 4, 4),
            clv.FitResult(
                "gamma_gamma", {"p": 3.9, "q": 28.3, "gamma": 1071.5}, -150, True, 9, 2, 2
            ),
        ],
        "fitted",
        [],
    )
    predicted, notes = clv.predict_customers(summary, fits, CLVConfig(), 0.1)
    assert notes == [] and predicted["predicted_clv"].notna().all()
    assert (predicted["predicted_clv"] > 0).all()


def test_analytic_gradients_match_finite_differences(cdnow_summary):
    data = clv.aggregate(cdnow_summary, ["frequency", "recency", "T"])
    x, t_x, T, w = (data[c].to_numpy(float) for c in ("frequency", "recency", "T", "weight"))
    point = np.log([0.3, 5.0, 0.7, 2.0])
    prepared = clv._BGNBDData.of(x, t_x, T, w)

    def value(p):
        return clv._bgnbd_objective(p, prepared, 0.1)[0]

    def gradient(p):
        return clv._bgnbd_objective(p, prepared, 0.1)[1]

    assert optimize.check_grad(value, gradient, point) < 1e-5
    # the objective is the mean per-row log-likelihood (negated) plus the penalty
    direct = -(w * clv.bgnbd_log_likelihood(np.exp(point), x, t_x, T)).sum() / w.sum()
    assert value(point) == pytest.approx(direct + 0.1 * (np.exp(point) ** 2).sum(), rel=1e-12)


def test_aggregation_gives_the_same_fit_as_one_row_per_customer(cdnow_summary):
    rows = cdnow_summary[["frequency", "recency", "T"]].assign(weight=1)
    one_per_customer = clv.fit_bgnbd(rows)
    aggregated = clv.fit_bgnbd(cdnow_summary[["frequency", "recency", "T"]])
    assert one_per_customer.n_rows == 2357 and aggregated.n_rows < 1100
    for k in clv.BGNBD_PARAMS:
        assert one_per_customer.params[k] == pytest.approx(aggregated.params[k], rel=1e-5)


def test_gamma_gamma_gradient_matches_finite_differences(cdnow_summary):
    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    # the fit converges to the published optimum only if its gradient is right; and a
    # penalized fit must land where the penalized objective's gradient vanishes
    fit = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"], penalizer=0.01)
    x, m = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)

    def objective(log_p):
        p = np.exp(log_p)
        return -clv.gamma_gamma_log_likelihood(p, x, m).mean() + 0.01 * (p**2).sum()

    at = np.log(list(fit.params.values()))
    numeric = optimize.approx_fprime(at, objective, 1e-6)
    assert np.abs(numeric).max() < 1e-4


def test_penalizer_shrinks_and_warm_start_lands_on_the_same_optimum(cdnow_summary):
    plain = clv.fit_bgnbd(cdnow_summary[["frequency", "recency", "T"]])
    penalized = clv.fit_bgnbd(cdnow_summary[["frequency", "recency", "T"]], penalizer=0.1)
    assert sum(v**2 for v in penalized.params.values()) < sum(v**2 for v in plain.params.values())
    warm = clv.fit_bgnbd(cdnow_summary[["frequency", "recency", "T"]], initial=plain.params)
    assert warm.iterations < plain.iterations
    for k in clv.BGNBD_PARAMS:
        assert warm.params[k] == pytest.approx(plain.params[k], rel=1e-4)


def test_too_little_data_gives_empty_clv_with_a_reason():
    summary = pd.DataFrame(
        {
            "frequency": [0, 1, 2],
            "recency": [0.0, 3.0, 5.0],
            "T": [10.0, 10.0, 10.0],
            "monetary_value": [0.0, 10.0, 20.0],
        }
    )
    result = clv.predict_snapshot(summary, CLVConfig(min_repeat_customers=5), 0.1)
    assert result.status.startswith("too little data: 2 customers with repeat purchases")
    assert result.customers["predicted_clv"].isna().all() and result.fits == []


def test_predictions_by_hand_for_cdnow(cdnow_summary):
    result = clv.predict_snapshot(cdnow_summary, CLVConfig(horizons_days=[273]), 0.0)
    assert result.status == "fitted"
    c = result.customers.set_index("customer_id")
    # customer 0001 (x=2, t_x=30.43, T=38.86): P(alive), 39-week expectation, spend shrinkage
    fit = {f.model: f.params for f in result.fits}
    expected = clv.expected_transactions(
        fit["bg_nbd"], 39, np.array([2.0]), np.array([213 / 7]), np.array([272 / 7])
    )[0]
    assert c.loc["0001", "expected_purchases_273d"] == pytest.approx(expected)
    p, q, g = fit["gamma_gamma"].values()
    assert c.loc["0001", "expected_avg_spend"] == pytest.approx(
        p * (g + 2 * 22.345) / (p * 2 + q - 1)
    )
    assert 0 < c.loc["0001", "p_alive"] < 1
    assert (c["predicted_clv"] >= 0).all() and c["predicted_clv"].notna().all()


@pytest.fixture(scope="module")
def cdnow_daily() -> tuple[pd.DataFrame, list[dt.date], object]:
    """The CDNOW summary on every day from 1997-01-01 to the end of calibration."""
    config = load_config(ROOT / "data" / "cdnow" / "config.yaml")
    con = new_connection()
    loaded = validate_purchases(con, config, config.snapshots.start_date, CALIBRATION_END).loaded
    days = [dt.date(1997, 1, 1) + dt.timedelta(days=i) for i in range(273)]
    return transaction_summary(con, loaded, days, 7.0).df(), days, config


def test_daily_warm_started_fits_are_never_worse_than_a_fresh_fit(cdnow_daily):
    """The chain the asset runs (each date warm-started from the previous one) keeps, on
    every date, a log-likelihood within 1e-6 of the better of a fresh fit and the warm
    one, reports converged wherever a fresh fit converges, and lets no warning out."""
    summaries, days, config = cdnow_daily
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = fit_snapshots(summaries, days, config)
        by_day = pd.to_datetime(summaries["snapshot_date"]).dt.date
        params = fitted.parameters
        for day in days:
            summary = summaries[by_day == day]
            stored = params[params["snapshot_date"] == day].drop_duplicates("model")
            if stored.empty:
                continue  # too little data on this date, by rule
            fresh = {
                "bg_nbd": clv.fit_bgnbd(summary[["frequency", "recency", "T"]]),
                "gamma_gamma": clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]),
            }
            for row in stored.itertuples():
                best = fresh[row.model]
                assert row.log_likelihood >= best.log_likelihood - 1e-6 * abs(
                    best.log_likelihood
                ), (day, row.model)
                assert row.converged or not best.converged, (day, row.model)
    # the end of calibration still matches the published figures
    last = params[(params["snapshot_date"] == CALIBRATION_END) & (params["model"] == "bg_nbd")]
    values = dict(zip(last["parameter"], last["value"], strict=True))
    assert values["r"] == pytest.approx(0.2426, abs=5e-4)
    assert values["b"] == pytest.approx(2.4259, abs=5e-3)


def test_an_optimizer_stop_reads_in_our_words():
    """SciPy's wording ("Desired error not necessarily achieved due to precision loss")
    never reaches the run log: each way a fit can end is said in terms of the fit."""
    from scipy.optimize import OptimizeResult

    stalled = OptimizeResult(status=2, nit=40, message="Desired error not necessarily achieved")
    assert clv._in_our_words(stalled, converged=False, finite=True) == (
        "stopped before an optimum: the likelihood stopped improving while its slope was not "
        "yet flat (optimizer status 2)"
    )
    assert clv._in_our_words(stalled, converged=True, finite=True) == "converged"
    assert "not finite" in clv._in_our_words(stalled, converged=False, finite=False)
    capped = OptimizeResult(status=1, nit=1000, message="Maximum number of iterations")
    assert clv._in_our_words(capped, converged=False, finite=True) == (
        "no optimum within 1,000 iterations"
    )
