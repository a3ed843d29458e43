"""Patient selection: compare eligibility criteria and fit a benefit score (a nomogram).

Both rest on *counterfactual* virtual patients: every screened patient is simulated under both arms
with the same random draws (the outcome model keys draws by ``patient_id``), so each patient has a
predicted individual gain. That is possible only in a model; the gains are model predictions (there is
no randomised NanoTherm evidence), never observed effects.

:func:`individual_gain` -> DataFrame (one row per patient): ``patient_id`` int64,
``rmst_reference_months``, ``rmst_experimental_months``, ``gain_months`` (float64): mean over
``n_draws`` outcome draws of OS restricted to ``horizon_months``, and their difference.

:func:`compare_criteria` -> DataFrame (one row per criteria set): ``criteria_set`` str,
``n_eligible`` int64, ``fraction_eligible``, ``mean_gain_months`` (predicted RMST gain),
``expected_hr``, ``hr_2_5``, ``hr_97_5`` (Peto HR over replicate trials), ``power`` (at
``n_patients``), ``nmb`` (incremental net monetary benefit per patient from ``nmb_fn``, NaN without
it; :func:`scenario_nmb_fn` builds one from a scenario's economic model).

:class:`BenefitScore`: least-squares linear model of ``gain_months`` on patient features (tumour size,
location, markers), fitted on one half of the cohort and checked on the other (R^2, calibration
slope). ``nomogram()`` gives points per feature level (0-100 scale for the feature with the widest
contribution), as clinicians read a nomogram.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial import power
from mhtcdt.errors import InputError, ModelError
from mhtcdt.seeding import child_rng, child_sequence

DEFAULT_FEATURES = (
    "log_tumour_volume_cm3",
    "eloquent_location",
    "mgmt_methylated",
    "kps",
    "age_years",
    "deposit_coverage_fraction",
    "gsh_mM",
    "h2o2_production_uM_per_s",
)


def individual_gain(
    pools: Mapping[str, pd.DataFrame],
    reference_arm: str,
    experimental_arm: str,
    seed: int,
    params: outcome.OutcomeParams | None = None,
    horizon_months: float = 60.0,
    n_draws: int = 20,
    treatment_months: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Predicted restricted-mean OS under each arm and the gain, per patient (same draws in both arms)."""
    if params is None:
        params = outcome.load_outcome_params()
    if not (math.isfinite(horizon_months) and horizon_months > 0):
        raise InputError("horizon_months", horizon_months, "must be positive and finite")
    if n_draws < 1:
        raise InputError("n_draws", n_draws, "need at least one draw")
    tm = treatment_months or {}
    ref, exp = pools[reference_arm], pools[experimental_arm]
    if len(ref) == 0:
        raise InputError("pools", 0, "zero patients")
    if not np.array_equal(ref["patient_id"].to_numpy(), exp["patient_id"].to_numpy()):
        raise InputError("pools", experimental_arm, "arm pools must hold the same patients in the same order")
    acc = {reference_arm: np.zeros(len(ref)), experimental_arm: np.zeros(len(ref))}
    for d in range(n_draws):
        ss = child_sequence(seed, d)
        for arm, df in ((reference_arm, ref), (experimental_arm, exp)):
            r = outcome.simulate_outcomes(df, params, ss, treatment_months=float(tm.get(arm, 0.0)))
            acc[arm] += np.minimum(r["os_latent_months"].to_numpy(), horizon_months)
    out = pd.DataFrame({"patient_id": ref["patient_id"].to_numpy(np.int64)})
    out["rmst_reference_months"] = acc[reference_arm] / n_draws
    out["rmst_experimental_months"] = acc[experimental_arm] / n_draws
    out["gain_months"] = out["rmst_experimental_months"] - out["rmst_reference_months"]
    return out


def compare_criteria(
    trial: power.ReplicateTrial,
    criteria_sets: Mapping[str, Sequence[str]],
    n_patients: int,
    seed: int,
    *,
    n_replicates: int = 300,
    gains: pd.DataFrame | None = None,
    nmb_fn: Callable[[Mapping[str, pd.DataFrame]], float] | None = None,
) -> pd.DataFrame:
    """Effect size, power and (optionally) net monetary benefit of alternative eligibility criteria.

    ``trial``: the replicate trial over every screened patient (cohort + physics of each arm, aligned
    pools). Each criteria set is applied with :func:`mhtcdt.cohorts.apply_criteria` to the reference
    pool and the trial restricted to the patients it keeps; a set leaving no patient raises InputError
    naming it. ``gains``: :func:`individual_gain` of the pools (computed with 5 draws when None).
    ``nmb_fn(restricted pools) -> NMB per patient`` plugs in the economics model.
    """
    from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria

    if not criteria_sets:
        raise InputError("criteria_sets", criteria_sets, "give at least one criteria set")
    ref = trial.pools[trial.reference_arm]
    if gains is None:
        gains = individual_gain(
            trial.pools,
            trial.reference_arm,
            trial.experimental_arm,
            seed,
            trial.params,
            n_draws=5,
            treatment_months=trial.treatment_months,
        )
    gain_by_id = gains.set_index("patient_id")["gain_months"]
    rows = []
    for name, criteria in criteria_sets.items():
        try:
            with warnings.catch_warnings():  # an empty selection is reported below as an InputError
                warnings.simplefilter("ignore", EmptySelectionWarning)
                keep_ids = apply_criteria(ref, list(criteria)).eligible["patient_id"].to_numpy()
        except InputError as exc:
            raise InputError(f"criteria_sets.{name}.{exc.field}", exc.value, exc.message) from exc
        if keep_ids.size == 0:
            raise InputError(f"criteria_sets.{name}", list(criteria), "zero patients remain after selection")
        sub = trial.restricted_to(keep_ids)
        s = power.power_at(sub, n_patients, n_replicates, seed)
        rows.append(
            dict(
                criteria_set=name,
                n_eligible=int(keep_ids.size),
                fraction_eligible=keep_ids.size / len(ref),
                mean_gain_months=float(gain_by_id.loc[keep_ids].mean()),
                expected_hr=s.expected_hr,
                hr_2_5=s.hr_quantiles[0],
                hr_97_5=s.hr_quantiles[2],
                power=s.power,
                nmb=float(nmb_fn(sub.pools)) if nmb_fn is not None else math.nan,
            )
        )
    return pd.DataFrame(rows)


def feature_matrix(patients: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Numeric features; ``log_<col>`` means the natural log of column ``<col>``; booleans -> 0/1."""
    cols = []
    for f in features:
        if f.startswith("log_"):
            base = f[4:]
            if base not in patients.columns:
                raise InputError("features", f, f"needs column {base!r}")
            v = patients[base].to_numpy(float)
            if np.any(v <= 0):
                raise InputError("features", f, f"column {base!r} must be positive for a log feature")
            cols.append(np.log(v))
        else:
            if f not in patients.columns:
                raise InputError("features", f, f"not a column; available: {sorted(patients.columns)[:30]}")
            cols.append(patients[f].to_numpy(float))
    return np.column_stack(cols)


@dataclass
class BenefitScore:
    """Linear benefit score: ``gain_months ~ intercept + sum_j coef_j x_j``."""

    features: tuple[str, ...]
    intercept: float
    coefficients: np.ndarray
    feature_min: np.ndarray
    feature_max: np.ndarray
    r2_train: float
    r2_test: float
    calibration_slope_test: float
    n_train: int
    n_test: int

    def predict(self, patients: pd.DataFrame) -> np.ndarray:
        """Predicted gain [months of restricted-mean OS] per patient."""
        return self.intercept + feature_matrix(patients, self.features) @ self.coefficients

    def nomogram(self) -> pd.DataFrame:
        """Points per feature: 0 at the least favourable observed value, 100 for the widest feature.

        Columns: ``feature``, ``coefficient_months_per_unit``, ``value_at_0_points``,
        ``value_at_max_points``, ``max_points``, ``points_per_unit``.
        """
        span = np.abs(self.coefficients) * (self.feature_max - self.feature_min)
        scale = 100.0 / span.max() if span.max() > 0 else 0.0
        rows = []
        for j, f in enumerate(self.features):
            c = self.coefficients[j]
            lo, hi = (
                (self.feature_min[j], self.feature_max[j]) if c >= 0 else (self.feature_max[j], self.feature_min[j])
            )
            rows.append(
                dict(
                    feature=f,
                    coefficient_months_per_unit=float(c),
                    value_at_0_points=float(lo),
                    value_at_max_points=float(hi),
                    max_points=float(span[j] * scale),
                    points_per_unit=float(abs(c) * scale),
                )
            )
        return pd.DataFrame(rows)


def fit_benefit_score(
    patients: pd.DataFrame, gains: pd.DataFrame, features: Sequence[str] = DEFAULT_FEATURES, seed: int = 0
) -> BenefitScore:
    """Fit the benefit score on a random half of the patients, evaluate on the other half."""
    df = patients.merge(gains[["patient_id", "gain_months"]], on="patient_id", how="inner", validate="one_to_one")
    feats = tuple(f for f in features if f in df.columns or (f.startswith("log_") and f[4:] in df.columns))
    if not feats:
        raise InputError("features", list(features), "none of the features is a cohort column")
    if len(df) < 4 * (len(feats) + 1):
        raise InputError("patients", len(df), f"too few patients to fit {len(feats)} features")
    x = feature_matrix(df, feats)
    y = df["gain_months"].to_numpy(float)
    rng = child_rng(seed, 23)
    test = rng.random(len(df)) < 0.5
    xa = np.column_stack([np.ones(len(df)), x])
    beta, *_ = np.linalg.lstsq(xa[~test], y[~test], rcond=None)
    if not np.all(np.isfinite(beta)):
        raise ModelError("benefit score regression failed (non-finite coefficients)")

    def r2(mask: np.ndarray) -> float:
        resid = y[mask] - xa[mask] @ beta
        ss = np.sum((y[mask] - y[mask].mean()) ** 2)
        return float(1 - np.sum(resid**2) / ss) if ss > 0 else math.nan

    pred_test = xa[test] @ beta
    cov = np.cov(pred_test, y[test])
    slope = float(cov[0, 1] / cov[0, 0]) if cov[0, 0] > 0 else math.nan
    return BenefitScore(
        features=feats,
        intercept=float(beta[0]),
        coefficients=beta[1:],
        feature_min=x.min(axis=0),
        feature_max=x.max(axis=0),
        r2_train=r2(~test),
        r2_test=r2(test),
        calibration_slope_test=slope,
        n_train=int((~test).sum()),
        n_test=int(test.sum()),
    )


def scenario_nmb_fn(
    scenario: Any,
    reference_arm: str,
    experimental_arm: str,
    seed: int,
    params: outcome.OutcomeParams | None = None,
    treatment_months: Mapping[str, float] | None = None,
) -> Callable[[Mapping[str, pd.DataFrame]], float]:
    """An ``nmb_fn`` for :func:`compare_criteria` built on the scenario's economic model.

    For a subgroup's pools it simulates every patient under both arms with the same draws (uncensored
    latent PFS/OS, so the Kaplan-Meier curves are the exact empirical curves), costs them with
    :func:`mhtcdt.decision.model.economic_model.evaluate_arms` (Kaplan-Meier source, horizon = last death or
    the scenario's horizon) and returns the incremental net monetary benefit per patient of
    ``experimental_arm`` vs ``reference_arm`` at the scenario's willingness to pay [currency].
    """
    from mhtcdt.decision.model.economic_model import ShortFollowUpWarning, evaluate_arms

    if params is None:
        from mhtcdt.decision.model.calibration_file import scenario_params

        params = scenario_params(scenario)
    sc = scenario.model_copy(
        update={"economics": scenario.economics.model_copy(update={"survival_source": "kaplan_meier"})}
    )
    tm = treatment_months or {}

    def nmb(sub: Mapping[str, pd.DataFrame]) -> float:
        parts = []
        for arm in (reference_arm, experimental_arm):
            r = outcome.simulate_outcomes(
                sub[arm],
                params,
                child_sequence(seed, 29),
                treatment_months=float(tm.get(arm, 0.0)),
            )
            parts.append(
                pd.DataFrame(
                    dict(
                        arm=arm,
                        pfs_months=r["pfs_latent_months"].to_numpy(),
                        pfs_event=True,
                        os_months=r["os_latent_months"].to_numpy(),
                        os_event=True,
                    )
                )
            )
        with warnings.catch_warnings():  # complete data: the KM ends at the last death by construction
            warnings.simplefilter("ignore", ShortFollowUpWarning)
            ev = evaluate_arms(sc, pd.concat(parts, ignore_index=True))
        per = ev.per_strategy.set_index("strategy")
        w = ev.willingness_to_pay

        def net(arm: str) -> float:
            return float(per.loc[arm, "qalys"] * w - per.loc[arm, "cost"])

        return net(experimental_arm) - net(reference_arm)

    return nmb
