"""Parametric survival fits (lifelines + a custom Gompertz fitter), AIC/BIC, lifetime extrapolation.

Distributions: exponential, Weibull, log-normal, log-logistic, generalized gamma (lifelines) and
Gompertz (:class:`GompertzFitter`, written here because lifelines has no univariate Gompertz). Gompertz
hazard ``h(t) = b exp(eta t)`` [1/month], cumulative hazard ``H(t) = b (exp(eta t) - 1) / eta``;
``eta < 0`` gives a plateau (a cured fraction ``exp(b / eta)``), as often seen in extrapolation.

:func:`fit_all` returns the fits table
| column | dtype | meaning |
|---|---|---|
| arm | str | |
| endpoint | str | "PFS" / "OS" |
| distribution | str | one of :data:`DISTRIBUTIONS` |
| n, events | int64 | |
| log_likelihood | float64 | |
| n_parameters | int64 | |
| aic, bic | float64 | BIC = -2 LL + k ln(n) (lifelines' convention: n = patients) |
| delta_aic | float64 | AIC minus the arm/endpoint's best AIC |
| median_months | float64 | model median (inf if never reached) |
| converged | bool | False: the fit failed (its AIC is NaN and it is never selected) |

:func:`extrapolate` returns survival on a monthly grid to a lifetime horizon (long DataFrame):
``arm`` str, ``endpoint`` str, ``time_months`` float64, ``survival`` float64, ``distribution`` str.
With ``enforce_pfs_le_os`` (default) PFS is capped by OS at every time, as partitioned-survival
models require; with ``background_survival`` every curve's hazard is kept at or above the
general-population hazard (no parametric tail outlives the population).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
from autograd import numpy as anp
from lifelines import (
    ExponentialFitter,
    GeneralizedGammaFitter,
    LogLogisticFitter,
    LogNormalFitter,
    WeibullFitter,
)
from lifelines.exceptions import ApproximationWarning, ConvergenceWarning, StatisticalWarning
from lifelines.fitters import ParametricUnivariateFitter

from mhtcdt.errors import InputError, ModelError

#: lifelines' own warning classes: notes on convergence, approximations and small samples
LIFELINES_WARNINGS = (ApproximationWarning, ConvergenceWarning, StatisticalWarning)


@contextlib.contextmanager
def lifelines_notes_ignored() -> Iterator[None]:
    """Ignore lifelines' notes (:data:`LIFELINES_WARNINGS`) and only them: the caller checks the fit itself
    (convergence, finite likelihood) and reports a failure as a ``ModelError``."""
    with warnings.catch_warnings():
        for category in LIFELINES_WARNINGS:
            warnings.simplefilter("ignore", category)
        yield


class GompertzFitter(ParametricUnivariateFitter):
    """Univariate Gompertz model for lifelines: ``H(t) = b_ (exp(eta_ t) - 1) / eta_``.

    ``b_`` > 0 is the hazard at t = 0 [1/time]; ``eta_`` (unbounded) the log-hazard slope [1/time].
    """

    _fitted_parameter_names = ["b_", "eta_"]
    _bounds = [(1e-12, None), (None, None)]

    def _create_initial_point(self, Ts, E, *args) -> np.ndarray:
        t = np.asarray(Ts[0] if isinstance(Ts, tuple) else Ts, dtype=float)
        t = t[np.isfinite(t)]
        rate = max(float(np.sum(E)), 1.0) / max(float(np.sum(t)), 1e-9)
        return np.array([rate, 0.1 / max(float(np.mean(t)), 1e-9)])

    def _cumulative_hazard(self, params, times):
        b, eta = params
        return b * anp.expm1(eta * times) / eta


#: name -> lifelines fitter class
FITTERS = {
    "exponential": ExponentialFitter,
    "weibull": WeibullFitter,
    "lognormal": LogNormalFitter,
    "loglogistic": LogLogisticFitter,
    "gengamma": GeneralizedGammaFitter,
    "gompertz": GompertzFitter,
}
DISTRIBUTIONS = tuple(FITTERS)


def _check_data(durations: np.ndarray, events: np.ndarray, field: str) -> None:
    if durations.size == 0:
        raise InputError(field, 0, "no observations to fit")
    if np.any(~np.isfinite(durations)) or np.any(durations < 0):
        raise InputError(field, "durations", "durations must be finite and >= 0")
    if events.sum() == 0:
        raise InputError(field, 0, "no events: a parametric model cannot be fitted")


def fit_one(durations, events, distribution: str):
    """Fit one distribution (durations in months; zeros are moved to 1e-6 months for log-based models).

    Returns the fitted lifelines object; raises ModelError if it does not converge.
    """
    if distribution not in FITTERS:
        raise InputError("distribution", distribution, f"unknown; choose from {list(DISTRIBUTIONS)}")
    d = np.maximum(np.asarray(durations, dtype=float), 1e-6)
    e = np.asarray(events, dtype=bool)
    _check_data(d, e, "durations")
    fitter = FITTERS[distribution]()
    with lifelines_notes_ignored():  # a fit that really fails raises: ModelError below
        try:
            fitter.fit(d, e)
        except Exception as exc:  # lifelines raises ConvergenceError / numerical errors of its optimiser
            raise ModelError(f"{distribution} fit did not converge: {exc}") from exc
    if not math.isfinite(fitter.log_likelihood_):
        raise ModelError(f"{distribution} fit gave a non-finite log-likelihood")
    return fitter


def _median(fitter) -> float:
    try:
        m = float(fitter.median_survival_time_)
    except Exception:  # some fitters fail to invert when the curve plateaus above 0.5
        m = math.inf
    return m if math.isfinite(m) else math.inf


#: columns of the fits table of :func:`fit_all` and their dtypes
FIT_COLUMNS = {
    "arm": "object",
    "endpoint": "object",
    "distribution": "object",
    "n": "int64",
    "events": "int64",
    "log_likelihood": "float64",
    "n_parameters": "int64",
    "aic": "float64",
    "bic": "float64",
    "delta_aic": "float64",
    "median_months": "float64",
    "converged": "bool",
}


def fit_all(
    trial_df: pd.DataFrame,
    distributions: tuple[str, ...] = DISTRIBUTIONS,
    endpoints: tuple[str, ...] = ("PFS", "OS"),
) -> tuple[pd.DataFrame, dict[tuple[str, str, str], object]]:
    """Fit every distribution to every arm and endpoint of a trial DataFrame.

    Returns (fits table, {(arm, endpoint, distribution): fitted lifelines object}); no ``distributions``
    gives the empty table (nothing fitted).
    """
    if not distributions:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in FIT_COLUMNS.items()}), {}
    rows = []
    models: dict[tuple[str, str, str], object] = {}
    for arm, grp in trial_df.groupby("arm", sort=False):
        for ep in endpoints:
            t = grp[f"{ep.lower()}_months"].to_numpy(float)
            e = grp[f"{ep.lower()}_event"].to_numpy(bool)
            for dist in distributions:
                row = dict(arm=arm, endpoint=ep, distribution=dist, n=len(t), events=int(e.sum()))
                try:
                    m = fit_one(t, e, dist)
                except (ModelError, InputError):  # non-convergence, or no events in this arm/endpoint
                    row.update(
                        log_likelihood=np.nan,
                        n_parameters=len(FITTERS[dist]._fitted_parameter_names),
                        aic=np.nan,
                        bic=np.nan,
                        median_months=np.nan,
                        converged=False,
                    )
                else:
                    models[(arm, ep, dist)] = m
                    k = len(m._fitted_parameter_names)
                    row.update(
                        log_likelihood=float(m.log_likelihood_),
                        n_parameters=k,
                        aic=float(m.AIC_),
                        bic=float(m.BIC_),
                        median_months=_median(m),
                        converged=True,
                    )
                rows.append(row)
    fits = pd.DataFrame(rows)
    if fits.empty:
        raise InputError("trial", 0, "no arms to fit")
    fits["delta_aic"] = fits["aic"] - fits.groupby(["arm", "endpoint"])["aic"].transform("min")
    return fits[list(FIT_COLUMNS)], models


def best_distribution(fits: pd.DataFrame, arm: str, endpoint: str, criterion: str = "aic") -> str:
    """Name of the converged distribution with the lowest AIC (or BIC) for one arm and endpoint."""
    if criterion not in ("aic", "bic"):
        raise InputError("criterion", criterion, "use 'aic' or 'bic'")
    sub = fits[(fits.arm == arm) & (fits.endpoint == endpoint) & fits.converged]
    if sub.empty:
        raise ModelError(f"no parametric fit converged for arm {arm!r}, {endpoint}")
    return str(sub.loc[sub[criterion].idxmin(), "distribution"])


def survival_on_grid(model, grid: np.ndarray) -> np.ndarray:
    """S(t) of a fitted lifelines univariate model on ``grid`` (months), S(0) = 1."""
    s = np.asarray(model.survival_function_at_times(np.maximum(grid, 1e-9)), dtype=float)
    s = np.where(grid <= 0, 1.0, s)
    if not np.all(np.isfinite(s)):
        raise ModelError("parametric survival is not finite on the extrapolation grid")
    return np.clip(np.minimum.accumulate(s), 0.0, 1.0)


def extrapolate(
    trial_df: pd.DataFrame,
    horizon_months: float = 240.0,
    step_months: float = 1.0,
    distribution: str | dict[tuple[str, str], str] = "best",
    criterion: str = "aic",
    enforce_pfs_le_os: bool = True,
    fits: tuple[pd.DataFrame, dict] | None = None,
    background_survival: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-arm PFS and OS survival on a grid 0, step, ..., horizon [months] from parametric fits.

    ``distribution``: "best" (lowest AIC or BIC per arm and endpoint), one name for all, or a dict
    {(arm, endpoint): name}. ``fits`` may pass the output of :func:`fit_all` to avoid refitting.
    ``background_survival``: general-population survival on the same grid (e.g.
    :func:`background_survival_on_grid`); the hazard of every curve is then kept at or above the
    background hazard in each step, ``S(t+dt)/S(t) <= B(t+dt)/B(t)``, so a long parametric tail cannot
    outlive the general population.
    """
    if not (math.isfinite(horizon_months) and horizon_months > 0):
        raise InputError("horizon_months", horizon_months, "must be positive and finite")
    if not (math.isfinite(step_months) and 0 < step_months <= horizon_months):
        raise InputError("step_months", step_months, "must be positive and at most the horizon")
    named = set(distribution.values()) if isinstance(distribution, dict) else {distribution}
    bad = sorted(named - set(FITTERS) - {"best"})
    if bad:
        raise InputError("distribution", bad[0], f"unknown; choose 'best' or one of {list(DISTRIBUTIONS)}")
    grid = np.arange(0.0, horizon_months + step_months / 2, step_months)
    if fits is None:
        needs_all = "best" in named or (
            isinstance(distribution, dict) and len(distribution) < 2 * trial_df["arm"].nunique()
        )
        fits = fit_all(trial_df, DISTRIBUTIONS if needs_all else tuple(sorted(named)))
    table, models = fits
    out = []
    for arm in trial_df["arm"].drop_duplicates():
        curves = {}
        for ep in ("PFS", "OS"):
            if isinstance(distribution, dict):
                dist = distribution.get((arm, ep), "best")
            else:
                dist = distribution
            if dist == "best":
                dist = best_distribution(table, arm, ep, criterion)
            elif dist not in FITTERS:
                raise InputError("distribution", dist, f"unknown; choose 'best' or one of {list(DISTRIBUTIONS)}")
            model = models.get((arm, ep, dist))
            if model is None:
                raise ModelError(f"the {dist} fit for arm {arm!r}, {ep} did not converge; choose another")
            curves[ep] = (dist, survival_on_grid(model, grid))
        if background_survival is not None:
            bg = np.asarray(background_survival, dtype=float)
            if bg.shape != grid.shape or np.any(~np.isfinite(bg)) or bg[0] != 1.0 or np.any(np.diff(bg) > 0):
                raise InputError("background_survival", bg.shape, "must be a non-increasing curve on the grid, 1 at 0")
            for ep, (dist, sv) in list(curves.items()):
                curves[ep] = (dist, _cap_by_background(sv, bg))
        if enforce_pfs_le_os:
            curves["PFS"] = (curves["PFS"][0], np.minimum(curves["PFS"][1], curves["OS"][1]))
        for ep, (dist, s) in curves.items():
            out.append(pd.DataFrame(dict(arm=arm, endpoint=ep, time_months=grid, survival=s, distribution=dist)))
    return pd.concat(out, ignore_index=True)


def _cap_by_background(s: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Per-step conditional survival = min(model, background): the hazard never falls below background."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cond_s = np.where(s[:-1] > 0, s[1:] / s[:-1], 0.0)
        cond_b = np.where(bg[:-1] > 0, bg[1:] / bg[:-1], 0.0)
    return np.concatenate([[1.0], np.cumprod(np.minimum(cond_s, cond_b))])


def background_survival_on_grid(
    grid_months: np.ndarray, age_years: float, a_per_year: float, b_per_year: float
) -> np.ndarray:
    """General-population survival from ``age_years`` under a Gompertz hazard ``a exp(b age)`` per year
    (the other-cause mortality of :mod:`mhtcdt.decision.model.outcome`): ``exp(-(a/b) e^{b age} (e^{b t} - 1))``."""
    if not (math.isfinite(age_years) and 0 <= age_years <= 120):
        raise InputError("age_years", age_years, "must be between 0 and 120")
    t = np.asarray(grid_months, dtype=float) / 12.0
    return np.exp(-(a_per_year / b_per_year) * math.exp(b_per_year * age_years) * np.expm1(b_per_year * t))
