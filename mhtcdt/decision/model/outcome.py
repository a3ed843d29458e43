"""Outcome model: from each patient's tumour kill and covariates to latent PFS and OS.

Model (every step is an assumption; the numbers and sources are in ``data/outcome_params.toml``,
the fitted values in ``data/outcome_calibration.toml``)
--------------------------------------------------------------------------------------------
1. **Surviving burden.** The physics layer gives the tumour log10 kill of the whole protocol
   (``log10_kill_total``) and of radiotherapy alone (``log10_kill_rt``). The clinically effective
   kill is a fraction of the model kill (hypoxia, stem-like resistance and heterogeneity make real
   tumours less sensitive than a uniform clonogen model), separately for radiotherapy and for what the
   protocol adds to it (heat, CDT and their interactions): ``e_rt = e`` (``log10_kill_effectiveness``)
   and ``e_heat = r e`` (``r = heat_kill_effectiveness_ratio``), so the effective kill is
   ``K_eff = e K_rt + r e (K_total - K_rt)``. Hypoxia protects cells against X-rays (oxygen enhancement
   ratio 2.5-3) but not against heat, and chronically hypoxic, acidic cells are more heat-sensitive
   (Gerweck 1979; Overgaard & Bichel 1977; research dossier physics13 section 11), so one shared factor
   is not supported; ``r = 1`` is the old shared factor, and a calibration file that has no ``r`` (written
   before the factors were separated) loads with ``r = 1``, which reproduces its results exactly.
   The physics already sends its infiltrative clonogens (beyond the heated volume) through RT only; a
   further fraction ``f`` (``infiltrative_fraction``, an additional RT-only reservoir, fitted with a wide
   prior that allows ~0) receives only the RT kill:
   ``V_s = V0 * ((1 - f) * 10^(-K_eff) + f * 10^(-e K_rt))`` with ``V0 = tumour_volume_cm3``.
2. **Regrowth.** Gompertz growth ``dV/dt = rho V ln(K/V)`` from ``V_s``, starting when treatment
   ends (``treatment_months``, default 0). The per-patient specific growth rate at the entry volume,
   ``rho ln(K/V0) = ln 2 / DT``, has a log-normal volume doubling time ``DT`` (median and log-SD are
   free parameters, prior from Ellingson 2016 and Stensjoen 2015) and is multiplied by the covariate
   factor ``exp(lp)``.
3. **Progression.** RANO-like: the burden exceeds ``max(1.40 V0, 0.52 cm3)`` (a 25 % increase in the
   product of diameters is a 40 % volume increase; 0.52 cm3 = a measurable 1 cm lesion). The time solves
   the Gompertz curve in closed form: ``t = ln(ln(K/V_s) / ln(K/V_th)) / rho``; a burden that never
   reaches the threshold (``V_s >= V_th`` means immediate progression) never progresses.
4. **Death after progression.** Post-progression survival is Weibull (shape and median free, the median
   per setting: recurrent vs newly diagnosed glioblastoma) with hazard multiplied by ``exp(lp)``.
5. **Covariates.** ``lp = sum_k log(HR_k) x_k`` over KPS <= 80, volume >= 50 cm3, eloquent location
   (Park 2010 scale), MGMT methylation (Hegi 2005) and age per decade over 55. ``exp(c lp)``
   accelerates regrowth and multiplies the post-progression hazard. Because acceleration of a
   less-than-exponentially dispersed time raises the hazard ratio more than proportionally, the
   calibration sets the scale ``c`` (``covariate_scale``) so that a Cox model of simulated OS on ``lp``
   has slope 1: the published (proportional-hazards) ratios are then reproduced.
6. **Other-cause mortality.** Gompertz in age (``a exp(b age)`` per year); OS is the earlier of
   tumour death and other-cause death, PFS the earlier of progression and any death.

Honesty: there is no randomised NanoTherm evidence. The model is calibrated to single-arm and
reference-arm results; any difference it predicts between arms is a model prediction, not a measured
effect.

Randomness: each patient's three draws (growth, post-progression, other cause) come from a
``numpy.random.Generator`` from :func:`mhtcdt.seeding.child_rng` ``(seed, patient_id, 12)``, so a
patient gets the same draws whatever the chunking and in whichever arm (common random numbers).

Returned DataFrame (:func:`simulate_outcomes`): the input columns plus
| column | dtype | meaning |
|---|---|---|
| surviving_burden_cm3 | float64 | V_s after treatment |
| doubling_time_days | float64 | per-patient DT after covariate scaling |
| progression_latent_months | float64 | time to radiological progression (inf if never) |
| pfs_latent_months | float64 | min(progression, death) from randomisation |
| os_latent_months | float64 | min(progression + post-progression survival, other-cause death) |
| death_other_cause | bool | True if the death is from other causes |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError, ModelError
from mhtcdt.seeding import child_rng, root_sequence

DAYS_PER_MONTH = 365.25 / 12.0
LN2 = math.log(2.0)

FREE_PARAMETERS = (
    "volume_doubling_time_days",
    "growth_log_sd",
    "log10_kill_effectiveness",
    "heat_kill_effectiveness_ratio",
    "infiltrative_fraction",
    "pps_median_months_recurrent",
    "pps_median_months_newly_diagnosed",
    "pps_weibull_shape",
)

#: indication -> the free parameter holding its post-progression median
PPS_KEY_BY_INDICATION = {
    "recurrent_glioblastoma": "pps_median_months_recurrent",
    "newly_diagnosed_glioblastoma": "pps_median_months_newly_diagnosed",
}

REQUIRED_COLUMNS = ("patient_id", "tumour_volume_cm3", "kps", "age_years", "log10_kill_total")


@dataclass(frozen=True)
class OutcomeParams:
    """Parameters of the outcome model (units in the names).

    ``free`` holds the calibrated values of :data:`FREE_PARAMETERS`; ``draws`` (may be empty) the
    accepted calibration draws of the same keys, one row per draw, for probabilistic analyses.
    """

    free: Mapping[str, float]
    rano_volume_ratio: float
    measurable_volume_cm3: float
    carrying_capacity_cm3: float
    hazard_ratios: Mapping[str, float]
    other_cause_a_per_year: float
    other_cause_b_per_year: float
    covariate_scale: float = 1.0
    priors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    draws: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FREE_PARAMETERS)))
    source: str = ""

    def with_free(self, **values: float) -> OutcomeParams:
        """A copy with some free parameters replaced (unknown names raise InputError)."""
        unknown = sorted(set(values) - set(FREE_PARAMETERS))
        if unknown:
            raise InputError("free", unknown, f"unknown free parameter(s); known: {list(FREE_PARAMETERS)}")
        free = dict(self.free)
        free.update({k: float(v) for k, v in values.items()})
        _check_free(free)
        return replace(self, free=free)

    def with_covariate_scale(self, scale: float) -> OutcomeParams:
        """A copy with another covariate scale (see :func:`latent_times`)."""
        if not (math.isfinite(scale) and 0 < scale <= 3):
            raise InputError("covariate_scale", scale, "must be in (0, 3]")
        return replace(self, covariate_scale=float(scale))

    def draw(self, index: int) -> OutcomeParams:
        """The parameter set of accepted calibration draw ``index`` (for PSA)."""
        if self.draws.empty:
            raise InputError("draw", index, "these outcome parameters carry no calibration draws")
        if not 0 <= index < len(self.draws):
            raise InputError("draw", index, f"draw index must be in 0..{len(self.draws) - 1}")
        row = self.draws.iloc[index]
        return self.with_free(**{k: float(row[k]) for k in FREE_PARAMETERS})


def _check_free(free: Mapping[str, float]) -> None:
    missing = [k for k in FREE_PARAMETERS if k not in free]
    if missing:
        raise InputError("free", missing, "missing free outcome parameter(s)")
    for k in FREE_PARAMETERS:
        v = free[k]
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InputError(f"free.{k}", v, "must be a positive finite number")
    if free["infiltrative_fraction"] >= 1.0:
        raise InputError("free.infiltrative_fraction", free["infiltrative_fraction"], "must be below 1")
    if free["log10_kill_effectiveness"] > 1.5:
        raise InputError("free.log10_kill_effectiveness", free["log10_kill_effectiveness"], "must be <= 1.5")
    if free["heat_kill_effectiveness_ratio"] > 10.0:
        raise InputError("free.heat_kill_effectiveness_ratio", free["heat_kill_effectiveness_ratio"], "must be <= 10")


#: defaults for free parameters that calibration files written before they existed do not carry:
#: the heat/RT effectiveness ratio 1 is the single shared effectiveness factor of those calibrations
LEGACY_FREE_DEFAULTS = {"heat_kill_effectiveness_ratio": 1.0}


def _legacy(row: Mapping[str, Any], key: str) -> Any:
    """``row[key]``, or its legacy default (:data:`LEGACY_FREE_DEFAULTS`) when an older file lacks it."""
    return row[key] if key in row or key not in LEGACY_FREE_DEFAULTS else LEGACY_FREE_DEFAULTS[key]


DATA_PACKAGE = "mhtcdt.decision.model"  # data files of this package: data/*.toml
PARAMS_FILE = "data/outcome_params.toml"
CALIBRATION_FILE = "data/outcome_calibration.toml"
#: where ``mhtcdt calibrate`` writes the versioned calibration by default
DEFAULT_CALIBRATION_PATH = Path(str(resources.files(DATA_PACKAGE).joinpath(CALIBRATION_FILE)))


def _toml(path: str | Path | None, package_file: str, field: str) -> tuple[Mapping[str, Any], str]:
    """(parsed TOML, where it came from): the package file through :func:`mhtcdt.datafiles.load_toml`,
    or a file the user names (:func:`mhtcdt.decision.scenario.loading.read_toml_file`)."""
    if path is None:
        return load_toml(DATA_PACKAGE, package_file), f"{DATA_PACKAGE}/{package_file}"
    from mhtcdt.decision.scenario.loading import read_toml_file

    return read_toml_file(path, field), str(path)


def load_outcome_params(
    path: str | Path | None = None, *, base_path: str | Path | None = None, calibrated: bool = True
) -> OutcomeParams:
    """Load outcome parameters.

    ``path`` is a calibration file (``[free]`` values and ``[[draws]]``) overlaid on the base file
    ``base_path`` (default ``data/outcome_params.toml``). ``path=None`` uses the versioned calibrated
    file ``data/outcome_calibration.toml`` when it exists, else the prior centres of the base file.
    ``calibrated=False`` ignores any calibration file (prior centres, no draws).
    """
    base, source = _toml(base_path, PARAMS_FILE, "outcome_params")
    try:
        priors = {k: dict(base["free"][k]) for k in FREE_PARAMETERS}
        free = {k: float(priors[k]["default"]) for k in FREE_PARAMETERS}
        hrs = {k: float(v["hazard_ratio"]) for k, v in base["covariates"].items()}
        params = dict(
            rano_volume_ratio=float(base["progression"]["rano_volume_ratio"]),
            measurable_volume_cm3=float(base["progression"]["measurable_volume_cm3"]),
            carrying_capacity_cm3=float(base["growth"]["carrying_capacity_cm3"]),
            other_cause_a_per_year=float(base["other_cause_mortality"]["a_per_year"]),
            other_cause_b_per_year=float(base["other_cause_mortality"]["b_per_year"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("outcome_params", source, f"missing or bad entry {exc}") from exc
    unknown_cov = sorted(set(hrs) - set(_COVARIATES))
    if unknown_cov:
        raise InputError("outcome_params.covariates", unknown_cov, f"unknown covariates; known {sorted(_COVARIATES)}")
    draws = pd.DataFrame(columns=list(FREE_PARAMETERS), dtype=float)
    if calibrated and (path is not None or resources.files(DATA_PACKAGE).joinpath(CALIBRATION_FILE).is_file()):
        cal, source = _toml(path, CALIBRATION_FILE, "outcome_calibration")
        try:
            free.update({k: float(_legacy(cal["free"], k)) for k in FREE_PARAMETERS})
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError("outcome_calibration.free", source, f"missing or bad entry {exc}") from exc
        cov_scale = float(cal.get("covariate_scale", 1.0))
        if not (math.isfinite(cov_scale) and 0 < cov_scale <= 3):
            raise InputError("outcome_calibration.covariate_scale", cov_scale, "must be in (0, 3]")
        params["covariate_scale"] = cov_scale
        rows = cal.get("draws", [])
        if rows:
            try:
                draws = pd.DataFrame([{k: float(_legacy(r, k)) for k in FREE_PARAMETERS} for r in rows])
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError("outcome_calibration.draws", source, f"missing or bad entry {exc}") from exc
    _check_free(free)
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"outcome_params.{name}", value, "must be a positive finite number")
    return OutcomeParams(free=free, hazard_ratios=hrs, priors=priors, draws=draws, source=source, **params)


# ----------------------------------------------------------------------------- covariates
def _col(df: pd.DataFrame, name: str, default: Any = None) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy()
    if default is None:
        raise InputError("patients", name, f"missing column {name!r} needed by the outcome model")
    return np.full(len(df), default)


_COVARIATES = {
    "kps_le_80": lambda df: (_col(df, "kps").astype(float) <= 80).astype(float),
    "volume_ge_50": lambda df: (_col(df, "tumour_volume_cm3").astype(float) >= 50.0).astype(float),
    "eloquent": lambda df: _col(df, "eloquent_location", False).astype(bool).astype(float),
    "mgmt_methylated": lambda df: _col(df, "mgmt_methylated", False).astype(bool).astype(float),
    "age_per_decade_over_55": lambda df: (_col(df, "age_years").astype(float) - 55.0) / 10.0,
}


def linear_predictor(patients: pd.DataFrame, params: OutcomeParams) -> np.ndarray:
    """``lp = sum_k log(HR_k) x_k`` per patient (float64); exp(lp) is the prognostic hazard multiplier."""
    lp = np.zeros(len(patients))
    for name, hr in params.hazard_ratios.items():
        lp += math.log(hr) * _COVARIATES[name](patients)
    return lp


# ----------------------------------------------------------------------------- random draws
@dataclass(frozen=True)
class PatientDraws:
    """Per-patient standard random numbers: growth z ~ N(0,1), PPS and other-cause E ~ Exp(1)."""

    z_growth: np.ndarray
    e_pps: np.ndarray
    e_other: np.ndarray


def patient_draws(patient_ids: np.ndarray, seed: int | np.random.SeedSequence) -> PatientDraws:
    """Draws keyed by :func:`mhtcdt.seeding.child_rng` ``(seed, patient_id, 12)``.

    The key is the patient, not the row, so draws are chunking- and arm-independent.
    """
    root = root_sequence(seed)
    ids = np.asarray(patient_ids, dtype=np.int64)
    out = np.empty((len(ids), 3))
    for i, pid in enumerate(ids):
        rng = child_rng(root, int(pid), 12)
        out[i, 0] = rng.standard_normal()
        out[i, 1:] = rng.standard_exponential(2)
    return PatientDraws(out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy())


# ----------------------------------------------------------------------------- the model
def effective_log10_kill(
    log10_kill_total: np.ndarray | float,
    log10_kill_rt: np.ndarray | float,
    effectiveness_rt: np.ndarray | float,
    heat_ratio: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Clinically effective log10 kill ``e K_rt + r e (K_total - K_rt)`` (step 1 of the module docstring);
    ``r = 1`` gives ``e K_total`` exactly (bit for bit: the shared factor of earlier calibrations)."""
    kt = np.asarray(log10_kill_total, float)
    if np.all(np.asarray(heat_ratio) == 1.0):
        return effectiveness_rt * kt
    return effectiveness_rt * (kt + (np.asarray(heat_ratio, float) - 1.0) * (kt - np.asarray(log10_kill_rt, float)))


def latent_times(
    volume_cm3: np.ndarray,
    log10_kill_total: np.ndarray,
    log10_kill_rt: np.ndarray,
    age_years: np.ndarray,
    lp: np.ndarray,
    pps_median_months: np.ndarray | float,
    draws: PatientDraws,
    params: OutcomeParams,
    treatment_months: np.ndarray | float = 0.0,
) -> dict[str, np.ndarray]:
    """Vectorised core of the model (arrays of equal length; see the module docstring). The arrays broadcast:
    with (D, n) kills and (D, 1) free parameters in ``params.free`` it computes D parameter draws at once
    (the PSA), the per-patient arrays (n,) shared by every draw.

    Returns arrays ``surviving_burden_cm3``, ``doubling_time_days``, ``progression_latent_months``,
    ``pfs_latent_months``, ``os_latent_months``, ``death_other_cause``.
    """
    f = params.free
    lp = params.covariate_scale * np.asarray(lp, dtype=float)
    v0 = np.asarray(volume_cm3, dtype=float)
    e = f["log10_kill_effectiveness"]
    frac = f["infiltrative_fraction"]
    k_eff = effective_log10_kill(log10_kill_total, log10_kill_rt, e, f["heat_kill_effectiveness_ratio"])
    sf = (1.0 - frac) * 10.0 ** (-k_eff) + frac * 10.0 ** (-e * np.asarray(log10_kill_rt, float))
    vs = v0 * sf
    k = params.carrying_capacity_cm3
    v_ref = np.minimum(v0, k / (params.rano_volume_ratio * 1.05))  # keep the threshold below K
    v_th = np.maximum(params.rano_volume_ratio * v_ref, params.measurable_volume_cm3)
    dt_days = f["volume_doubling_time_days"] * np.exp(f["growth_log_sd"] * draws.z_growth - lp)
    g0_per_month = LN2 / dt_days * DAYS_PER_MONTH
    rho = g0_per_month / np.log(k / v_ref)
    ln_k_vs = np.log(k / np.minimum(vs, k * 0.999))
    ln_k_vth = np.log(k / v_th)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_prog = np.where(vs >= v_th, 0.0, np.log(ln_k_vs / ln_k_vth) / rho)
    t_prog = t_prog + treatment_months * (vs < v_th)
    scale = np.asarray(pps_median_months, float) / LN2 ** (1.0 / f["pps_weibull_shape"])
    # Weibull with hazard multiplied by exp(lp): T = scale * (E / exp(lp))^(1/shape)
    pps = scale * (draws.e_pps * np.exp(-lp)) ** (1.0 / f["pps_weibull_shape"])
    a, b = params.other_cause_a_per_year, params.other_cause_b_per_year
    age = np.asarray(age_years, float)
    t_other = 12.0 * np.log1p(b * draws.e_other / (a * np.exp(b * age))) / b
    t_tumour_death = t_prog + pps
    os_ = np.minimum(t_tumour_death, t_other)
    pfs = np.minimum(t_prog, os_)
    if not (np.all(np.isfinite(os_)) and np.all(os_ >= 0)):
        raise ModelError("outcome model produced non-finite overall survival times")
    return {
        "surviving_burden_cm3": vs,
        "doubling_time_days": dt_days,
        "progression_latent_months": t_prog,
        "pfs_latent_months": pfs,
        "os_latent_months": os_,
        "death_other_cause": t_other < t_tumour_death,
    }


def pps_median_for(patients: pd.DataFrame, params: OutcomeParams) -> np.ndarray:
    """Post-progression median per patient from its ``indication`` (default recurrent glioblastoma)."""
    ind = _col(patients, "indication", "recurrent_glioblastoma").astype(str)
    out = np.empty(len(patients))
    for value in np.unique(ind):
        key = PPS_KEY_BY_INDICATION.get(value)
        if key is None:
            raise InputError(
                "patients.indication",
                value,
                f"the outcome model is calibrated only for {sorted(PPS_KEY_BY_INDICATION)}",
            )
        out[ind == value] = params.free[key]
    return out


def treatment_months(protocol: Any) -> float:
    """Duration of a protocol's treatment phase [months]: regrowth is counted from its end.

    RT: ``rt_n_fractions / rt_fractions_per_week`` weeks; MHT sessions:
    ``(n_sessions - 1) * session_interval_hours``; the longer of the two.
    """
    weeks_rt = 0.0
    if getattr(protocol, "rt_n_fractions", 0) and getattr(protocol, "rt_fractions_per_week", 0):
        weeks_rt = protocol.rt_n_fractions / protocol.rt_fractions_per_week
    hours_mht = max(0, getattr(protocol, "n_sessions", 0) - 1) * getattr(protocol, "session_interval_hours", 0.0)
    days = max(7.0 * weeks_rt, hours_mht / 24.0)
    return days / DAYS_PER_MONTH


def simulate_outcomes(
    patients: pd.DataFrame,
    params: OutcomeParams | None,
    seed: int | np.random.SeedSequence,
    *,
    treatment_months: float = 0.0,
) -> pd.DataFrame:
    """Latent PFS/OS for patients with cohort + physics columns (see the module docstring).

    ``params=None`` loads the default (calibrated) parameters. ``treatment_months`` is the treatment
    duration (regrowth starts at its end; :func:`treatment_months` computes it from a protocol); a
    ``treatment_months`` column, when present, overrides it per patient (arms differ).
    """
    if params is None:
        params = load_outcome_params()
    if not isinstance(patients, pd.DataFrame):
        raise InputError("patients", type(patients).__name__, "expected a pandas DataFrame")
    missing = [c for c in REQUIRED_COLUMNS if c not in patients.columns]
    if missing:
        raise InputError("patients", missing, "missing columns needed by the outcome model (cohort + physics)")
    if not (math.isfinite(treatment_months) and treatment_months >= 0):
        raise InputError("treatment_months", treatment_months, "must be finite and >= 0")
    out = patients.copy()
    if len(patients) == 0:
        for c in (
            "surviving_burden_cm3",
            "doubling_time_days",
            "progression_latent_months",
            "pfs_latent_months",
            "os_latent_months",
        ):
            out[c] = pd.Series(dtype=float)
        out["death_other_cause"] = pd.Series(dtype=bool)
        return out
    for c in ("tumour_volume_cm3", "log10_kill_total", "age_years"):
        vals = patients[c].to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | (vals < 0)
        if c == "tumour_volume_cm3":
            bad |= vals <= 0
        if bad.any():
            raise InputError(f"patients.{c}", vals[bad][0], "must be finite and non-negative (volume > 0)")
    tm: np.ndarray | float = treatment_months
    if "treatment_months" in patients.columns:  # per-arm duration, e.g. set by the pipeline per arm
        tm = patients["treatment_months"].to_numpy(float)
        if np.any(~np.isfinite(tm)) or np.any(tm < 0):
            raise InputError("patients.treatment_months", "non-finite or negative", "must be finite and >= 0")
    kill_rt = patients["log10_kill_rt"] if "log10_kill_rt" in patients.columns else patients["log10_kill_total"]
    draws = patient_draws(patients["patient_id"].to_numpy(), seed)
    res = latent_times(
        patients["tumour_volume_cm3"].to_numpy(float),
        patients["log10_kill_total"].to_numpy(float),
        np.minimum(kill_rt.to_numpy(float), patients["log10_kill_total"].to_numpy(float)),
        patients["age_years"].to_numpy(float),
        linear_predictor(patients, params),
        pps_median_for(patients, params),
        draws,
        params,
        tm,
    )
    for k, v in res.items():
        out[k] = v
    return out
