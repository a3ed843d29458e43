"""Survival analysis of a virtual trial with lifelines.

:func:`analyse` gives a :class:`SurvivalAnalysis` with four DataFrames.

``curves`` (contract section 4): Kaplan-Meier per arm and endpoint
| column | dtype | meaning |
|---|---|---|
| arm | str | |
| endpoint | str | "PFS" / "OS" |
| time_months | float64 | KM step times (first row 0) |
| survival | float64 | KM estimate |
| ci_lower, ci_upper | float64 | 95 % pointwise CI (lifelines' exponential Greenwood) |
| at_risk | int64 | patients at risk just before time_months |

``summary``: ``arm``, ``endpoint``, ``n``, ``events`` (int64), ``median_months``, ``median_ci_lower``,
``median_ci_upper`` (float64; NaN when not reached/not estimable), ``median_reached`` (bool). Use
:func:`format_median` or :func:`summary_text` to print medians ('not reached' instead of a number).

``comparison``: one row per (non-reference arm, endpoint): ``comparison`` ("B vs A"), ``endpoint``,
``hazard_ratio``, ``hr_ci_lower``, ``hr_ci_upper`` (Cox PH, arm only), ``logrank_p``,
``rmst_difference_months`` (KM RMST of the arm minus the reference up to ``rmst_tau_months``),
``rmst_tau_months``, ``ph_test_p`` (Schoenfeld-residual test of the arm coefficient, rank time
transform), ``adjusted_hazard_ratio``, ``adjusted_hr_ci_lower``, ``adjusted_hr_ci_upper``,
``adjusted_for`` (str, covariates in the adjusted Cox model).

``parametric``: the fits table of :func:`mhtcdt.decision.trial.parametric.fit_all` (AIC/BIC per distribution).

Honesty: in a virtual trial of MHT the hazard ratio is a model prediction from a calibrated
mechanistic model, not evidence; there is no randomised NanoTherm trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time

from mhtcdt.decision.trial import parametric
from mhtcdt.errors import InputError, ModelError

ENDPOINTS = ("PFS", "OS")
ADJUSTMENT_COVARIATES = ("kps", "age_years", "tumour_volume_cm3", "eloquent_location", "mgmt_methylated")


@dataclass
class SurvivalAnalysis:
    curves: pd.DataFrame
    summary: pd.DataFrame
    comparison: pd.DataFrame
    parametric: pd.DataFrame
    models: dict = field(default_factory=dict, repr=False)

    def summary_text(self) -> str:
        return summary_text(self.summary)


def format_median(value: float, reached: bool = True, digits: int = 1) -> str:
    """A median for humans: 'not reached' when not reached (never a number standing in for it)."""
    if not reached or value is None or not math.isfinite(value):
        return "not reached"
    return f"{value:.{digits}f}"


def summary_text(summary: pd.DataFrame) -> str:
    """Plain-text table of medians with 95 % CI (months); unreached medians/limits print 'not reached'."""
    lines = [f"{'arm':<28} {'endpoint':<8} {'n':>5} {'events':>6}  median (95% CI), months"]
    for r in summary.itertuples():
        lo = format_median(r.median_ci_lower, math.isfinite(r.median_ci_lower))
        hi = format_median(r.median_ci_upper, math.isfinite(r.median_ci_upper))
        med = format_median(r.median_months, bool(r.median_reached))
        lines.append(f"{r.arm:<28} {r.endpoint:<8} {r.n:>5} {r.events:>6}  {med} ({lo} to {hi})")
    return "\n".join(lines)


def _finite_or_nan(x: float) -> float:
    x = float(x)
    return x if math.isfinite(x) else math.nan


def _check(trial_df: pd.DataFrame, reference_arm: str) -> None:
    if not isinstance(trial_df, pd.DataFrame) or len(trial_df) == 0:
        raise InputError("trial", 0 if isinstance(trial_df, pd.DataFrame) else trial_df, "no trial patients to analyse")
    need = ["arm"] + [f"{e.lower()}_{s}" for e in ENDPOINTS for s in ("months", "event")]
    missing = [c for c in need if c not in trial_df.columns]
    if missing:
        raise InputError("trial", missing, "missing columns (run apply_follow_up first)")
    for endpoint in ENDPOINTS:  # lifelines would fail on NaN or negative times with a TypeError
        column = f"{endpoint.lower()}_months"
        try:
            times = trial_df[column].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"trial.{column}", str(trial_df[column].dtype), "times must be numbers") from None
        bad = ~np.isfinite(times) | (times < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"trial.{column}[{i}]", float(times[i]), "times are finite and >= 0 months")
        events = trial_df[f"{endpoint.lower()}_event"]
        if not (pd.api.types.is_bool_dtype(events) or events.isin([0, 1]).all()):
            raise InputError(f"trial.{endpoint.lower()}_event", str(events.dtype), "events are true/false (or 1/0)")
    arms = list(trial_df["arm"].drop_duplicates())
    if reference_arm not in arms:
        raise InputError("reference_arm", reference_arm, f"not an arm of the trial; arms are {arms}")
    if len(arms) < 2:
        raise InputError("trial.arm", arms, "a comparison needs at least two arms with patients")


def kaplan_meier(trial_df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """KM curves and median summary per arm and endpoint (see module docstring)."""
    curves, rows, models = [], [], {}
    for arm, grp in trial_df.groupby("arm", sort=False):
        for ep in ENDPOINTS:
            t = grp[f"{ep.lower()}_months"].to_numpy(float)
            e = grp[f"{ep.lower()}_event"].to_numpy(bool)
            kmf = KaplanMeierFitter().fit(t, e, label="survival")
            models[(arm, ep)] = kmf
            sf = kmf.survival_function_["survival"]
            ci = kmf.confidence_interval_
            at_risk = kmf.event_table["at_risk"].reindex(sf.index).to_numpy()
            curves.append(
                pd.DataFrame(
                    dict(
                        arm=arm,
                        endpoint=ep,
                        time_months=sf.index.to_numpy(float),
                        survival=sf.to_numpy(float),
                        ci_lower=ci.iloc[:, 0].to_numpy(float),
                        ci_upper=ci.iloc[:, 1].to_numpy(float),
                        at_risk=at_risk.astype(np.int64),
                    )
                )
            )
            med = float(kmf.median_survival_time_)
            med_ci = median_survival_times(kmf.confidence_interval_)
            rows.append(
                dict(
                    arm=arm,
                    endpoint=ep,
                    n=len(t),
                    events=int(e.sum()),
                    median_months=_finite_or_nan(med),
                    median_ci_lower=_finite_or_nan(med_ci.iloc[0, 0]),
                    median_ci_upper=_finite_or_nan(med_ci.iloc[0, 1]),
                    median_reached=bool(math.isfinite(med)),
                )
            )
    return pd.concat(curves, ignore_index=True), pd.DataFrame(rows), models


def _cox(data: pd.DataFrame, duration: str, event: str, covariates: list[str]):
    cph = CoxPHFitter()
    # lifelines notes convergence trouble on small or separated data; a fit that really fails raises
    with parametric.lifelines_notes_ignored():
        try:
            cph.fit(data[[duration, event, *covariates]], duration_col=duration, event_col=event)
        except Exception as exc:  # lifelines ConvergenceError and linear-algebra failures
            raise ModelError(f"Cox model did not converge: {exc}") from exc
    return cph


def compare(trial_df: pd.DataFrame, reference_arm: str, horizon_months: float, km_models: dict) -> pd.DataFrame:
    """Log-rank, Cox (unadjusted, adjusted, PH test) and RMST difference vs the reference arm."""
    rows = []
    covs = [c for c in ADJUSTMENT_COVARIATES if c in trial_df.columns]
    for arm in trial_df["arm"].drop_duplicates():
        if arm == reference_arm:
            continue
        sub = trial_df[trial_df["arm"].isin([arm, reference_arm])].copy()
        sub["treated"] = (sub["arm"] == arm).astype(float)
        adj = [c for c in covs if sub[c].astype(float).std() > 0]
        for c in adj:
            sub[c] = sub[c].astype(float)
        for ep in ENDPOINTS:
            tcol, ecol = f"{ep.lower()}_months", f"{ep.lower()}_event"
            a, r = sub[sub.treated == 1], sub[sub.treated == 0]
            row = dict(comparison=f"{arm} vs {reference_arm}", endpoint=ep)
            if sub[ecol].sum() == 0:
                raise InputError(
                    "trial", f"{arm} vs {reference_arm} {ep}", "no events: no hazard ratio can be estimated"
                )
            lr = logrank_test(a[tcol], r[tcol], a[ecol], r[ecol])
            row["logrank_p"] = float(lr.p_value)
            data = sub[[tcol, ecol, "treated", *adj]].copy()
            data[ecol] = data[ecol].astype(int)
            cph = _cox(data, tcol, ecol, ["treated"])
            s = cph.summary.loc["treated"]
            row.update(
                hazard_ratio=float(s["exp(coef)"]),
                hr_ci_lower=float(s["exp(coef) lower 95%"]),
                hr_ci_upper=float(s["exp(coef) upper 95%"]),
            )
            with parametric.lifelines_notes_ignored():  # notes on the test's approximation
                ph = proportional_hazard_test(cph, data[[tcol, ecol, "treated"]], time_transform="rank")
            row["ph_test_p"] = float(np.asarray(ph.p_value).ravel()[0])
            try:
                cpa = _cox(data, tcol, ecol, ["treated", *adj])
                sa = cpa.summary.loc["treated"]
                row.update(
                    adjusted_hazard_ratio=float(sa["exp(coef)"]),
                    adjusted_hr_ci_lower=float(sa["exp(coef) lower 95%"]),
                    adjusted_hr_ci_upper=float(sa["exp(coef) upper 95%"]),
                )
            except ModelError:
                row.update(adjusted_hazard_ratio=np.nan, adjusted_hr_ci_lower=np.nan, adjusted_hr_ci_upper=np.nan)
            row["adjusted_for"] = ", ".join(adj)
            tau = min(horizon_months, float(a[tcol].max()), float(r[tcol].max()))
            rm_a = restricted_mean_survival_time(km_models[(arm, ep)], t=tau)
            rm_r = restricted_mean_survival_time(km_models[(reference_arm, ep)], t=tau)
            row["rmst_difference_months"] = float(rm_a - rm_r)
            row["rmst_tau_months"] = tau
            rows.append(row)
    cols = [
        "comparison",
        "endpoint",
        "hazard_ratio",
        "hr_ci_lower",
        "hr_ci_upper",
        "logrank_p",
        "rmst_difference_months",
        "rmst_tau_months",
        "ph_test_p",
        "adjusted_hazard_ratio",
        "adjusted_hr_ci_lower",
        "adjusted_hr_ci_upper",
        "adjusted_for",
    ]
    return pd.DataFrame(rows)[cols]


def analyse(
    trial_df: pd.DataFrame,
    reference_arm: str,
    horizon_months: float = 24.0,
    distributions: tuple[str, ...] = parametric.DISTRIBUTIONS,
) -> SurvivalAnalysis:
    """KM, log-rank, Cox HR (unadjusted/adjusted, PH check), RMST difference and parametric fits.

    ``horizon_months``: RMST restriction time (capped at the shorter arm's last follow-up time).
    ``distributions``: parametric families to fit (``()``: none, the ``parametric`` table is empty).
    """
    _check(trial_df, reference_arm)
    if not (isinstance(horizon_months, (int, float)) and math.isfinite(horizon_months) and horizon_months > 0):
        raise InputError("horizon_months", horizon_months, "must be positive and finite")
    curves, summary, km = kaplan_meier(trial_df)
    comparison = compare(trial_df, reference_arm, horizon_months, km)
    fits, pmodels = parametric.fit_all(trial_df, distributions)
    return SurvivalAnalysis(curves, summary, comparison, fits, {"km": km, "parametric": pmodels})
