"""Predictive CLV: BG/NBD for the purchase process and Gamma-Gamma for spend, fitted by MLE.

Written on NumPy/SciPy (see docs/decision_logic.md and docs/assumptions.md for why not a
library). Everything works on the per-customer summary (frequency x, recency t_x, age T,
mean repeat spend m) and is vectorized; fits run on the distinct (x, t_x, T) rows with
weights, so their cost grows with distinct combinations, not customers.

References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2); Fader, Hardie & Lee (2005),
"RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", JMR 42(4); Fader &
Hardie, "A Note on Deriving the Pareto/NBD Model and Related Expressions" (expectations).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from scipy import optimize

from engagement_pipeline.config import CLVConfig


class _SciPySpecial:
    """scipy.special, imported at first use. Every run process imports this module (it is
    part of the asset graph) but only the CLV steps call it: importing it up front was
    0.15 s of every process's start."""

    def __getattr__(self, name: str) -> Any:
        from scipy import special as module

        return getattr(module, name)


special = _SciPySpecial()

BGNBD_PARAMS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS = ("p", "q", "gamma")


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, the log-likelihood at them, and whether the optimizer converged."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    converged: bool
    iterations: int
    n_rows: int  # distinct rows the likelihood was evaluated on
    n_customers: float
    message: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    start: str = "default"  # which start the kept fit came from: "default" or "warm"


# -- data aggregation --------------------------------------------------------------------


def aggregate(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Identical rows collapsed into one with a `weight` (their count)."""
    return frame.groupby(columns, sort=True, observed=True).size().rename("weight").reset_index()


# -- BG/NBD -----------------------------------------------------------------------------


def _bgnbd_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # log(a / (b + x - 1)) is only defined for repeat buyers; others contribute exp(A3) alone.
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    log_sum = np.logaddexp(a3, a4)
    return a1, a2, a3, a4, log_sum


def bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-row BG/NBD log-likelihood, in log space throughout (logaddexp, gammaln)."""
    a1, a2, _, _, log_sum = _bgnbd_terms(np.asarray(params, dtype=float), x, t_x, T)
    return a1 + a2 + log_sum


@dataclass(frozen=True)
class _BGNBDData:
    """Weighted rows plus their distinct frequencies: terms that depend on x alone (the
    gammaln/digamma ones, the costly part) are evaluated once per distinct x, weighted."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray
    ux: np.ndarray  # distinct frequencies
    wx: np.ndarray  # total weight of each distinct frequency
    inverse: np.ndarray  # row -> index into ux
    repeat: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> _BGNBDData:
        ux, inverse = np.unique(x, return_inverse=True)
        return cls(x, t_x, T, w, ux, np.bincount(inverse, weights=w), inverse, x > 0)


def _bgnbd_objective(
    log_params: np.ndarray, d: _BGNBDData, penalizer: float
) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood (+ L2 penalty on the parameters) and its gradient in log space."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    ux, wx, w, x = d.ux, d.wx, d.w, d.x
    n = w.sum()
    # x-only terms, once per distinct x
    b_x1 = np.where(ux > 0, b + ux - 1, 1.0)
    x_terms = special.gammaln(r + ux) + special.gammaln(b + ux) - special.gammaln(a + b + ux)
    log_b_x1 = np.log(b_x1)[d.inverse]
    # per-row terms
    log_at = np.log(alpha + d.T)
    log_atx = np.log(alpha + d.t_x)
    a3 = -(r + x) * log_at
    a4 = np.where(d.repeat, np.log(a) - log_b_x1 - (r + x) * log_atx, -np.inf)
    log_sum = np.logaddexp(a3, a4)
    ll = (
        (wx * x_terms).sum()
        + n
        * (-special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b) - special.gammaln(b))
        + (w * log_sum).sum()
    )
    w3 = w * np.exp(a3 - log_sum)  # weight x share of the "still alive at T" term
    w4 = w * np.exp(a4 - log_sum)  # weight x share of the "died after t_x" term
    psi_ab = special.digamma(a + b)
    psi_abx = (wx * special.digamma(a + b + ux)).sum()
    d_r = (
        (wx * special.digamma(r + ux)).sum()
        + n * (np.log(alpha) - special.digamma(r))
        - (w3 * log_at).sum()
        - (w4 * log_atx).sum()
    )
    d_alpha = (
        n * r / alpha
        - (w3 * (r + x) / (alpha + d.T)).sum()
        - (w4 * (r + x) / (alpha + d.t_x)).sum()
    )
    d_a = n * psi_ab - psi_abx + w4.sum() / a
    d_b = (
        n * (psi_ab - special.digamma(b))
        + (wx * special.digamma(b + ux)).sum()
        - psi_abx
        - (w4 / np.exp(log_b_x1)).sum()
    )
    grad = np.array([d_r, d_alpha, d_a, d_b]) * params
    value = -ll / n + penalizer * (params**2).sum()
    return float(value), -grad / n + penalizer * 2 * params**2


def _fit_from(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    loglik: Callable[[np.ndarray], float],
) -> tuple[np.ndarray, float, bool, int, str]:
    """One BFGS run in log space (parameters stay positive): parameters, log-likelihood,
    converged, iterations and the optimizer's message."""
    # here: scipy.optimize takes 0.15 s to import, paid by every run process otherwise
    from scipy import optimize

    result = optimize.minimize(
        objective,
        np.log(start),
        jac=True,
        method="BFGS",
        options={"maxiter": 1000, "gtol": 1e-7},
    )
    params = np.exp(np.clip(result.x, -700.0, 700.0))
    ll = float(loglik(params))
    finite = bool(np.all(np.isfinite(params)) and np.isfinite(result.fun) and np.isfinite(ll))
    # BFGS may stop on "precision loss" at the optimum; a tiny gradient there is convergence.
    gradient_small = bool(np.all(np.isfinite(result.jac)) and np.abs(result.jac).max() < 1e-5)
    converged = (bool(result.success) or gradient_small) and finite
    message = _in_our_words(result, converged, finite)
    # A parameter far out (past e^+-12) is a limit of the model the data prefer, e.g. a -> 0
    # (no customer drops out): still the maximum, but worth saying.
    if converged and np.any(np.abs(result.x) >= 12.0):
        message = "at a limit of the model (a parameter ran past e^+-12)"
    return params, ll if np.isfinite(ll) else -np.inf, converged, int(result.nit), message


def _in_our_words(result: optimize.OptimizeResult, converged: bool, finite: bool) -> str:
    """What the optimizer's stop means for the fit, in our words (SciPy's wording is about
    its algorithm, not about the customers' data); its status code is kept for reference."""
    if converged:
        return "converged"
    if not finite:
        return "the likelihood was not finite at the end (the data are at a limit of the model)"
    if result.nit >= 1000:
        return "no optimum within 1,000 iterations"
    return (
        "stopped before an optimum: the likelihood stopped improving while its slope was not "
        f"yet flat (optimizer status {result.status})"
    )


def _fit(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: dict[str, np.ndarray],
    model: str,
    names: tuple[str, ...],
    loglik: Callable[[np.ndarray], float],
    n_rows: int,
    n_customers: float,
) -> FitResult:
    """Fit from every start (the default one, and the previous date's parameters when
    given) and keep the one with the higher log-likelihood, with its own convergence. A
    warm start that got stuck can never make a date worse than a fresh fit.

    Overflow and the like inside the search are expected (the optimizer probes far
    parameters and backs off); they are silenced here and judged by the outcome instead.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fits = {label: _fit_from(objective, start, loglik) for label, start in starts.items()}
    # The higher log-likelihood wins; within rounding of it, a converged fit, then the
    # warm one (the chain's own).
    top = max(f[1] for f in fits.values())
    tied = [k for k, f in fits.items() if f[1] >= top - 1e-9 * abs(top)]
    label = max(tied, key=lambda k: (fits[k][2], k == "warm"))
    params, ll, converged, iterations, message = fits[label]
    return FitResult(
        model=model,
        params=dict(zip(names, map(float, params), strict=True)),
        log_likelihood=ll,
        converged=converged,
        iterations=iterations,
        n_rows=n_rows,
        n_customers=float(n_customers),
        message=message,
        start=label,
    )


def bgnbd_default_start(x: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A start from the data alone: r = 1 and alpha = mean age / (mean repeat purchases + 1),
    so the prior mean purchase rate r / alpha is the observed one; a = 1, b = 1 (a neutral
    drop-out probability)."""
    rate_scale = float(np.average(T, weights=w)) / (float(np.average(x, weights=w)) + 1.0)
    return np.array([1.0, max(rate_scale, 1e-3), 1.0, 1.0])


def fit_bgnbd(
    summary: pd.DataFrame,
    penalizer: float = 0.0,
    initial: dict[str, float] | None = None,
) -> FitResult:
    """Fit BG/NBD by maximum likelihood on columns frequency, recency, T (one row per customer,
    or pre-aggregated with a `weight` column)."""
    data = (
        summary
        if "weight" in summary.columns
        else aggregate(summary, ["frequency", "recency", "T"])
    )
    x = data["frequency"].to_numpy(float)
    t_x = data["recency"].to_numpy(float)
    T = data["T"].to_numpy(float)
    w = data["weight"].to_numpy(float)
    starts = {"default": bgnbd_default_start(x, T, w)}
    if initial:
        starts["warm"] = np.array([initial[k] for k in BGNBD_PARAMS])

    def loglik(params: np.ndarray) -> float:
        return float((w * bgnbd_log_likelihood(params, x, t_x, T)).sum())

    prepared = _BGNBDData.of(x, t_x, T, w)
    return _fit(
        lambda p: _bgnbd_objective(p, prepared, penalizer),
        starts,
        "bg_nbd",
        BGNBD_PARAMS,
        loglik,
        len(data),
        w.sum(),
    )


def probability_alive(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(alive at T | x, t_x, T); 1 for customers without repeat purchases."""
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    log_odds = (
        np.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    # 1 / (1 + exp(log_odds)) without overflow for customers long silent after many purchases
    return np.where(repeat, special.expit(-log_odds), 1.0)


@dataclass(frozen=True)
class PairGroups:
    """Distinct (x, T) pairs of a set of customers and each customer's pair."""

    x: np.ndarray
    T: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, T: np.ndarray) -> PairGroups:
        frame = pd.DataFrame({"x": np.asarray(x, float), "T": np.asarray(T, float)})
        inverse = frame.groupby(["x", "T"], sort=False).ngroup().to_numpy()
        first = np.unique(inverse, return_index=True)[1]
        return cls(frame["x"].to_numpy()[first], frame["T"].to_numpy()[first], inverse)


def expected_transactions(
    params: dict[str, float],
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    groups: PairGroups | None = None,
    alive: np.ndarray | None = None,
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat transactions in the next t time units.
    `groups` and `alive` (P(alive) of the same customers) may be passed when computed once
    for several horizons.

    The Gaussian hypergeometric term 2F1(r+x, b+x; a+b+x-1; z) overflows for customers with
    hundreds of purchases; Euler's transformation turns ((alpha+T)/(alpha+T+t))^(r+x) * 2F1
    into (1-z)^(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z), whose arguments stay small.
    """
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if t <= 0:
        return np.zeros_like(x)
    # The hypergeometric term depends on (x, T) only: evaluate it once per distinct pair.
    groups = groups if groups is not None else PairGroups.of(x, T)
    z = t / (alpha + groups.T + t)
    with np.errstate(all="ignore"):  # an overflow here is taken in hand just below
        prefactor = (1.0 - z) ** (a - 1.0)
        tail = prefactor * special.hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + groups.x - 1.0, z)
    # With a and b in the thousands (a small data set whose dropout rate is nearly the same
    # for everyone) the prefactor underflows and 2F1 overflows: 0 * inf. The tail is then an
    # average of numbers in (0, 1], computed as such (Euler's integral).
    lost = ~np.isfinite(tail) | (prefactor < _TINY)
    if lost.any() and a > 2.0:
        tail[lost] = _tail_by_quadrature(r, a, b, groups.x[lost], z[lost])
    scale = ((a + b + groups.x - 1.0) / (a - 1.0) * (1.0 - tail))[groups.inverse]
    return scale * (alive if alive is not None else probability_alive(params, x, t_x, T))


# Below this a power is in or near the subnormal range: its product has lost its digits.
_TINY = 1e-250
# Gauss-Legendre nodes over the central span of each Beta density (a smooth, single hump
# for shape parameters above 1): 1e-9 relative accuracy on the cases in the tests.
_QUADRATURE_NODES = 256
_BETA_SPAN = 1e-14  # the probability left out on each side of the span


def _tail_by_quadrature(r: float, a: float, b: float, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(1-z)^(r+x) * 2F1(r+x, b+x; a+b+x-1; z) by Euler's integral: the mean of
    ((1-z) / (1-z*s))^(r+x) over s ~ Beta(b+x, a-1). Every term is in (0, 1], so nothing
    overflows, whatever the size of a and b. Needs a > 2 (a Beta density without poles)."""
    from scipy import stats

    shape_s, shape_rest = b + x, a - 1.0
    lo = stats.beta.ppf(_BETA_SPAN, shape_s, shape_rest)
    hi = stats.beta.isf(_BETA_SPAN, shape_s, shape_rest)
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    half = ((hi - lo) / 2.0)[:, None]
    s = ((hi + lo) / 2.0)[:, None] + half * nodes[None, :]  # one row per (x, z) pair
    log_density = stats.beta.logpdf(s, shape_s[:, None], shape_rest)
    # the weights renormalized over the span: what the span leaves out (2e-14) is dropped
    mass = weights[None, :] * np.exp(log_density - log_density.max(axis=1, keepdims=True))
    mass /= mass.sum(axis=1, keepdims=True)
    log_term = (r + x)[:, None] * (np.log1p(-z)[:, None] - np.log1p(-z[:, None] * s))
    return (mass * np.exp(log_term)).sum(axis=1)


# -- Gamma-Gamma ------------------------------------------------------------------------


def gamma_gamma_log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend m over x repeat purchases."""
    p, q, g = params
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + g)
    )


def fit_gamma_gamma(
    frequency: np.ndarray,
    monetary_value: np.ndarray,
    penalizer: float = 0.0,
    initial: dict[str, float] | None = None,
) -> FitResult:
    """Fit Gamma-Gamma on repeat customers (frequency > 0, mean repeat spend > 0)."""
    frame = pd.DataFrame(
        {"x": np.asarray(frequency, float), "m": np.asarray(monetary_value, float)}
    )
    frame = frame[(frame["x"] > 0) & (frame["m"] > 0)]
    return fit_gamma_gamma_weighted(aggregate(frame, ["x", "m"]), penalizer, initial)


def fit_gamma_gamma_weighted(
    data: pd.DataFrame,
    penalizer: float = 0.0,
    initial: dict[str, float] | None = None,
) -> FitResult:
    """Fit Gamma-Gamma on distinct repeat customers' (x, m) rows with their `weight`."""
    x, m, w = (data[c].to_numpy(float) for c in ("x", "m", "weight"))
    n = w.sum()

    ux, inverse = np.unique(x, return_inverse=True)
    wx = np.bincount(inverse, weights=w)
    wxx = np.bincount(inverse, weights=w * x)
    log_m, log_x, xm = np.log(m), np.log(x), x * m
    sum_w_x_logs = (w * x * (log_m + log_x)).sum()
    sum_w_log_m = (w * log_m).sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        p, q, g = params
        pux = p * ux  # x-only special functions once per distinct x, weighted
        log_xmg = np.log(xm + g)
        ll = (
            (wx * (special.gammaln(pux + q) - special.gammaln(pux))).sum()
            + n * (q * np.log(g) - special.gammaln(q))
            + p * sum_w_x_logs
            - sum_w_log_m
            - (w * (p * x + q) * log_xmg).sum()
        )
        psi_pxq = special.digamma(pux + q)
        d_p = (
            (wxx * (psi_pxq - special.digamma(pux))).sum() + sum_w_x_logs - (w * x * log_xmg).sum()
        )
        d_q = (wx * psi_pxq).sum() + n * (np.log(g) - special.digamma(q)) - (w * log_xmg).sum()
        d_g = n * q / g - (w * (p * x + q) / (xm + g)).sum()
        grad = np.array([d_p, d_q, d_g]) * params
        value = -ll / n + penalizer * (params**2).sum()
        return float(value), -grad / n + penalizer * 2 * params**2

    def loglik(params: np.ndarray) -> float:
        return float((w * gamma_gamma_log_likelihood(params, x, m)).sum())

    # Default: p = q = 1 puts the mean spend at gamma / (q - 1) ... so gamma at the data's
    # mean repeat spend is the right scale; the optimizer does the rest.
    starts = {"default": np.array([1.0, 1.0, max(float(np.average(m, weights=w)), 1.0)])}
    if initial:
        starts["warm"] = np.array([initial[k] for k in GAMMA_GAMMA_PARAMS])
    return _fit(objective, starts, "gamma_gamma", GAMMA_GAMMA_PARAMS, loglik, len(data), n)


def expected_average_spend(params: dict[str, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[spend per transaction | x, m]: shrinks m toward the population mean p*gamma/(q-1)."""
    p, q, g = (params[k] for k in GAMMA_GAMMA_PARAMS)
    x, m = np.asarray(x, float), np.nan_to_num(np.asarray(m, float))
    return (p * (g + x * m)) / (p * x + q - 1.0)


def discounted_clv(
    bgnbd: dict[str, float],
    spend: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    horizon_days: int,
    annual_discount_rate: float,
    unit_days: float,
    step_days: int = 30,
    groups: PairGroups | None = None,
    alive: np.ndarray | None = None,
) -> np.ndarray:
    """Predicted CLV over the horizon: expected transactions in each step (30 days) times the
    expected spend, discounted at the annual rate to the end of each step."""
    total = np.zeros(len(np.asarray(x)), dtype=float)
    groups = groups if groups is not None else PairGroups.of(x, T)
    previous = np.zeros_like(total)
    steps = int(np.ceil(horizon_days / step_days))
    for i in range(1, steps + 1):  # over time steps (a dozen), never over customers
        day = min(i * step_days, horizon_days)
        cumulative = expected_transactions(bgnbd, day / unit_days, x, t_x, T, groups, alive)
        total += (cumulative - previous) * spend / (1.0 + annual_discount_rate) ** (day / 365.0)
        previous = cumulative
    return total


# -- per-snapshot computation -----------------------------------------------------------


@dataclass(frozen=True)
class SnapshotCLV:
    """One snapshot date's predictions and the fits behind them."""

    customers: pd.DataFrame
    fits: list[FitResult]
    status: str  # "fitted" or the reason CLV is empty
    # numerical problems that matter, in words, for the run log (with the date)
    notes: list[str] = field(default_factory=list)


def expected_column(horizon_days: int) -> str:
    return f"expected_purchases_{horizon_days}d"


def prediction_columns(config: CLVConfig) -> list[str]:
    """The columns predictions add to a customer's summary, in order."""
    horizons = [expected_column(h) for h in config.horizons_days]
    return ["p_alive", *horizons, "expected_avg_spend", "predicted_clv"]


def without_predictions(summary: pd.DataFrame, config: CLVConfig) -> pd.DataFrame:
    """The summary with every prediction column present and empty."""
    return summary.assign(**dict.fromkeys(prediction_columns(config), np.nan))


def predict_snapshot(
    summary: pd.DataFrame,
    config: CLVConfig,
    annual_discount_rate: float,
    warm_start: dict[str, dict[str, float]] | None = None,
) -> SnapshotCLV:
    """Fit both models on one snapshot's summary and predict for every customer in it.

    Too little data or a fit that does not converge leaves the predictions empty (NULL) and
    says why in `status`; it never raises.
    """
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    fits = fit_snapshot(
        aggregate(summary, ["frequency", "recency", "T"]),
        aggregate(repeat.rename(columns={"frequency": "x", "monetary_value": "m"}), ["x", "m"]),
        config,
        warm_start,
    )
    out, notes = predict_customers(summary, fits, config, annual_discount_rate)
    return SnapshotCLV(out, fits.fits, fits.status, [*fits.notes, *notes])


@dataclass(frozen=True)
class SnapshotFits:
    """One snapshot date's fits, or why there are none (then predictions are empty)."""

    fits: list[FitResult]
    status: str  # "fitted" or the reason CLV is empty
    notes: list[str] = field(default_factory=list)

    def params(self, model: str) -> dict[str, float]:
        return next(f.params for f in self.fits if f.model == model)


def fit_snapshot(
    purchase_rows: pd.DataFrame,
    spend_rows: pd.DataFrame,
    config: CLVConfig,
    warm_start: dict[str, dict[str, float]] | None = None,
) -> SnapshotFits:
    """Fit both models on one snapshot's weighted tables: distinct (frequency, recency, T)
    rows and distinct repeat customers' (x, m) rows, each with its `weight` (the number of
    customers). Only these tables are needed, so an engine aggregates them where the
    customers are and the fit never sees a customer row."""
    if not config.enabled:
        return SnapshotFits([], "disabled (clv.enabled is false)")
    repeat_customers = int(spend_rows["weight"].sum())
    if repeat_customers < config.min_repeat_customers:
        status = (
            f"too little data: {repeat_customers} customers with repeat purchases "
            f"(clv.min_repeat_customers = {config.min_repeat_customers})"
        )
        return SnapshotFits([], status)
    warm = warm_start or {}
    bgnbd = fit_bgnbd(purchase_rows, config.penalizer, warm.get("bg_nbd"))
    spend = fit_gamma_gamma_weighted(spend_rows, config.penalizer, warm.get("gamma_gamma"))
    failed = [f"{f.model}: {f.message}" for f in (bgnbd, spend) if not f.converged]
    if failed:
        notes = [f"no predicted CLV: {m} (from every start)" for m in failed]
        return SnapshotFits(
            [bgnbd, spend], "fit did not converge (" + "; ".join(failed) + ")", notes
        )
    notes = [f"{f.model} {f.message}" for f in (bgnbd, spend) if f.message.startswith("at a limit")]
    return SnapshotFits([bgnbd, spend], "fitted", notes)


def predict_customers(
    summary: pd.DataFrame, fits: SnapshotFits, config: CLVConfig, annual_discount_rate: float
) -> tuple[pd.DataFrame, list[str]]:
    """Every customer's predictions from one date's fits (empty when it has none), and a note
    when some are not finite. Row by row independent: any batch of customers gives the same
    values as the whole (engines call it per batch)."""
    out = without_predictions(summary, config)
    if fits.status != "fitted":
        return out, []
    with np.errstate(all="ignore"):
        _add_predictions(
            out,
            summary,
            config,
            annual_discount_rate,
            fits.params("bg_nbd"),
            fits.params("gamma_gamma"),
        )
    finite = np.isfinite(out["predicted_clv"])
    out.loc[~finite, "predicted_clv"] = np.nan
    if finite.all():
        return out, []
    return out, ["some predictions are not finite; those customers have no predicted CLV"]


def _add_predictions(
    out: pd.DataFrame,
    summary: pd.DataFrame,
    config: CLVConfig,
    annual_discount_rate: float,
    bgnbd: dict[str, float],
    spend: dict[str, float],
) -> None:
    """P(alive), expected purchases per horizon, expected spend and discounted CLV."""
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    alive = probability_alive(bgnbd, x, t_x, T)
    out["p_alive"] = alive
    groups = PairGroups.of(x, T)  # shared by every horizon and CLV step, as is P(alive)
    for horizon in config.horizons_days:
        out[expected_column(horizon)] = expected_transactions(
            bgnbd, horizon / config.time_unit_days, x, t_x, T, groups, alive
        )
    avg_spend = expected_average_spend(spend, x, summary["monetary_value"].to_numpy(float))
    out["expected_avg_spend"] = avg_spend
    out["predicted_clv"] = discounted_clv(
        bgnbd,
        avg_spend,
        x,
        t_x,
        T,
        config.clv_horizon_days,
        annual_discount_rate,
        config.time_unit_days,
        groups=groups,
        alive=alive,
    )


def parameter_rows(snapshot_date: dt.date, result: SnapshotCLV | SnapshotFits) -> list[dict]:
    """Long-format rows of the fitted parameters, for the clv_model_parameters table."""
    return [
        {
            "snapshot_date": snapshot_date,
            "model": fit.model,
            "parameter": name,
            "value": value,
            "log_likelihood": fit.log_likelihood,
            "converged": fit.converged,
            "iterations": fit.iterations,
            "customers": int(fit.n_customers),
            "distinct_rows": fit.n_rows,
            "status": result.status,
        }
        for fit in result.fits
        for name, value in fit.params.items()
    ]
