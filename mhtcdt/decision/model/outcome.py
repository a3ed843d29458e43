"""Outcome model: from each patient's tumour kill, systemic therapy and covariates to latent PFS and OS.

Model (every step is an assumption; the numbers and sources are in ``data/outcome_params.toml``,
the fitted values in the calibration file, by default ``data/outcome_calibration.toml``)
--------------------------------------------------------------------------------------------
1. **Effective kill and surviving burden.** The physics layer gives the tumour log10 kill of the whole
   protocol (``log10_kill_total``) and of radiotherapy alone (``log10_kill_rt``). The clinically effective
   kill is a fraction of the model kill, ``e`` (``log10_kill_effectiveness``) for RT and ``r e``
   (``r = heat_kill_effectiveness_ratio``) for the rest (heat, CDT, their interaction): hypoxia and stem-like
   resistance make real tumours less sensitive than a uniform clonogen model, and differently so for RT and
   heat (hypoxia protects against X-rays, not against heat: research dossier physics13 section 11).
   Systemic therapy adds a kill ``S`` (step 2). The physics already sends its infiltrative clonogens
   (beyond the heated volume) through RT only; a further fraction ``f`` (``infiltrative_fraction``)
   receives only the RT and systemic kill::

       L_b = e K_rt + r e (K_total - K_rt) + S,   L_r = e K_rt + S
       V_s = V0 ((1 - f) 10^-L_b + f 10^-L_r),          L = -log10(V_s / V0)

   with ``V0 = tumour_volume_cm3`` and ``L`` the patient's effective log10 kill. ``r = 1`` is the shared
   factor of earlier calibrations; a calibration file without ``r`` loads with ``r = 1``
   (:data:`LEGACY_FREE_DEFAULTS`).
2. **Systemic therapy** (arm fields of :class:`mhtcdt.physics.Protocol`). Temozolomide and lomustine are
   alkylating agents: ``S = k_tmz * courses + k_lom * lomustine`` in MGMT-methylated tumours, times
   ``mgmt_unmethylated_alkylator_ratio`` in unmethylated ones (Hegi 2005), with ``courses`` the cumulative
   temozolomide dose relative to the Stupp course (:func:`systemic_columns`). Bevacizumab has no kill: it
   multiplies the time to *radiological* progression by ``bevacizumab_progression_time_ratio`` and leaves
   the tumour course and overall survival unchanged (EORTC 26101, AVAglio). Re-irradiation is the RT fields
   of a recurrent-glioblastoma arm. Pancreas chemotherapy after induction adds a kill per cycle,
   ``S += k_gem * gemcitabine_cycles + k_ffx * folfirinox_cycles`` (calibrated on LAP07 and NEOPAN,
   ``data/calibration_targets_pancreas.toml``); it reaches the burden outside the local treatment too (it is
   systemic), and its cycles lengthen the treatment phase (:func:`treatment_months`).
3. **Regrowth.** Gompertz growth ``dV/dt = rho V ln(K/V)`` from ``V_s``, starting when treatment
   ends (``treatment_months``, default 0). The per-patient specific growth rate at the entry volume,
   ``rho ln(K/V0) = ln 2 / DT``, has a log-normal volume doubling time ``DT`` (median and log-SD are
   free parameters, prior from Ellingson 2016 and Stensjoen 2015) and is multiplied by the covariate
   factor ``exp(lp)``.
4. **Durable control (long-term survivors).** Each patient has a latent log10 kill needed for durable
   control, ``T = L50 + sd * z`` (``z`` standard normal, common to every arm); a patient with ``L >= T``
   regrows ``durable_growth_ratio`` times slower (population tumour-control probability with inter-patient
   heterogeneity, Webb and Nahum 1993). More kill never removes durable control; MGMT acts through the
   alkylator kill.
5. **Progression.** RANO-like: the burden exceeds ``max(1.40 V0, 0.52 cm3)`` (a 25 % increase in the
   product of diameters is a 40 % volume increase; 0.52 cm3 = a measurable 1 cm lesion). The time solves
   the Gompertz curve in closed form: ``t = ln(ln(K/V_s) / ln(K/V_th)) / rho``; a burden at or above the
   threshold progresses at once. Under bevacizumab the radiological time is multiplied (step 2).
6. **Death after progression.** Post-progression survival from the *tumour's* progression is Weibull
   (shape and median free, the median per setting: recurrent vs newly diagnosed glioblastoma; the setting
   is the ``outcome_indication`` column when present, else ``indication``) with hazard multiplied by
   ``exp(lp)``. Patients of an arm without any tumour-specific treatment (best supportive care) receive no
   later lines either: their median is multiplied by ``pps_ratio_supportive_care`` (van Linde 2017).
7. **Covariates.** ``lp = c * sum_k log(HR_k) x_k`` over KPS <= 80, volume >= 50 cm3, eloquent location
   (Park 2010 scale), MGMT methylation (prognostic, Hegi 2005) and age per decade over 55. ``exp(lp)``
   accelerates regrowth and multiplies the post-progression hazard; the calibrated scale ``c``
   (``covariate_scale``) makes a Cox model of simulated OS on the index have slope 1, so the published
   (proportional-hazards) ratios are reproduced.
8. **Other-cause mortality.** Gompertz in age (``a exp(b age)`` per year); OS is the earlier of
   tumour death and other-cause death, PFS the earlier of radiological progression and any death.

Honesty: there is no randomised NanoTherm evidence. The model is calibrated to single-arm and
reference-arm results; any difference it predicts between arms is a model prediction, not a measured
effect.

Randomness: each patient's four draws (growth, post-progression, other cause, durable-control threshold)
come from a ``numpy.random.Generator`` from :func:`mhtcdt.seeding.child_rng` ``(seed, patient_id, 12)``, so
a patient gets the same draws whatever the chunking and in whichever arm (common random numbers).

Returned DataFrame (:func:`simulate_outcomes`): the input columns plus
| column | dtype | meaning |
|---|---|---|
| surviving_burden_cm3 | float64 | V_s after treatment |
| effective_log10_kill | float64 | L, the effective log10 kill (physics and systemic) |
| durable_control | bool | True if the patient reached durable control (slow regrowth) |
| doubling_time_days | float64 | per-patient DT after covariate scaling (and durable slowing) |
| progression_latent_months | float64 | time to radiological progression |
| pfs_latent_months | float64 | min(progression, death) from randomisation |
| os_latent_months | float64 | min(tumour progression + post-progression survival, other-cause death) |
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
    "pps_ratio_supportive_care",
    "temozolomide_log10_kill_methylated",
    "mgmt_unmethylated_alkylator_ratio",
    "lomustine_log10_kill_methylated",
    "bevacizumab_progression_time_ratio",
    "durable_control_log10_kill_50",
    "durable_control_log10_kill_sd",
    "durable_growth_ratio",
    "covariate_scale",
    "gemcitabine_log10_kill_per_cycle",
    "folfirinox_log10_kill_per_cycle",
)

#: free parameters a base file may leave out (the indications without such an arm): they are held at 0, with a
#: narrow "not used" prior, since ``mhtcdt validate`` refuses the regimen outside its indication
#: (``decision.scenario.checks.INDICATION_ONLY_ARM_FIELDS``); a calibration file without them loads them at 0
OPTIONAL_FREE_PRIORS = {
    name: {
        "default": 0.0,
        "prior": "uniform",
        "range": [0.0, 0.001],
        "source": "not used: no arm of this indication may give the regimen (pancreas only)",
        "verified": False,
    }
    for name in ("gemcitabine_log10_kill_per_cycle", "folfirinox_log10_kill_per_cycle")
}
#: free parameters that may be 0 (no effect) rather than strictly positive
NON_NEGATIVE_FREE = frozenset(OPTIONAL_FREE_PRIORS)

#: outcome setting -> the free parameter holding its post-progression median. The other indications have their
#: own calibration file on their own base file (:data:`INDICATION_FILES`), where ``pps_median_months_recurrent``
#: is the median survival after that indication's progression (prostate: after biochemical failure, on ADT).
PPS_KEY_BY_INDICATION = {
    "recurrent_glioblastoma": "pps_median_months_recurrent",
    "newly_diagnosed_glioblastoma": "pps_median_months_newly_diagnosed",
    "prostate": "pps_median_months_recurrent",
    "pancreas": "pps_median_months_recurrent",
}

#: indication -> (its base parameter file, its packaged calibration file), both in ``data/`` of this package; the
#: glioblastoma settings use :data:`PARAMS_FILE` and :data:`CALIBRATION_FILE`. A scenario without a ``calibration``
#: runs with the packaged calibration of its indication, so a calibration of one indication never touches another's.
INDICATION_FILES = {
    "prostate": ("outcome_params_prostate.toml", "outcome_calibration_prostate.toml"),
    "pancreas": ("outcome_params_pancreas.toml", "outcome_calibration_pancreas.toml"),
}

#: effect name -> the free parameters that carry it (a calibration file lists the effects it calibrated)
EFFECT_PARAMETERS = {
    "radiotherapy": ("log10_kill_effectiveness",),
    "heat": ("heat_kill_effectiveness_ratio",),
    "temozolomide": ("temozolomide_log10_kill_methylated", "mgmt_unmethylated_alkylator_ratio"),
    "lomustine": ("lomustine_log10_kill_methylated", "mgmt_unmethylated_alkylator_ratio"),
    "bevacizumab": ("bevacizumab_progression_time_ratio",),
    "gemcitabine": ("gemcitabine_log10_kill_per_cycle",),
    "folfirinox": ("folfirinox_log10_kill_per_cycle",),
}

REQUIRED_COLUMNS = ("patient_id", "tumour_volume_cm3", "kps", "age_years", "log10_kill_total")
#: per-patient systemic-therapy columns written by :func:`systemic_columns` (absent = no such therapy)
SYSTEMIC_COLUMNS = (
    "temozolomide_courses",
    "lomustine",
    "bevacizumab",
    "tumour_specific_treatment",
    "gemcitabine_cycles",
    "folfirinox_cycles",
)
#: days per cycle of the pancreas chemotherapy regimens (LAP07 and NEOPAN schedules)
CYCLE_DAYS = {"gemcitabine_cycles": 28.0, "folfirinox_cycles": 14.0}


@dataclass(frozen=True)
class OutcomeParams:
    """Parameters of the outcome model (units in the names).

    ``free`` holds the calibrated values of :data:`FREE_PARAMETERS`; ``draws`` (may be empty) the
    posterior calibration draws of the same keys, one row per draw, for probabilistic analyses;
    ``provenance`` the calibration file's identity (id, SHA-256, physics hash, effects, indications).
    """

    free: Mapping[str, float]
    rano_volume_ratio: float
    measurable_volume_cm3: float
    carrying_capacity_cm3: float
    hazard_ratios: Mapping[str, float]
    other_cause_a_per_year: float
    other_cause_b_per_year: float
    tmz_course_fractions: tuple[float, float] = (0.375, 0.104166)
    recurrence_to_treatment_months: float = 1.0
    priors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    draws: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FREE_PARAMETERS)))
    source: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def covariate_scale(self) -> float:
        """Scale ``c`` of the prognostic index (a calibrated free parameter)."""
        return float(self.free["covariate_scale"])

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
        """A copy with another covariate scale (see the module docstring, step 7)."""
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and 0 < scale <= 3):
            raise InputError("covariate_scale", scale, "must be in (0, 3]")
        return self.with_free(covariate_scale=float(scale))

    def draw(self, index: int) -> OutcomeParams:
        """The parameter set of posterior calibration draw ``index`` (for PSA)."""
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
        if k in NON_NEGATIVE_FREE:
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise InputError(f"free.{k}", v, "must be a finite number >= 0")
        elif isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InputError(f"free.{k}", v, "must be a positive finite number")
    upper = {
        "infiltrative_fraction": (1.0, "must be below 1"),
        "log10_kill_effectiveness": (1.5, "must be <= 1.5"),
        "heat_kill_effectiveness_ratio": (10.0, "must be <= 10"),
        "mgmt_unmethylated_alkylator_ratio": (1.0, "must be <= 1"),
        "pps_ratio_supportive_care": (1.0, "must be <= 1"),
        "covariate_scale": (3.0, "must be <= 3"),
    }
    for k, (hi, msg) in upper.items():
        if free[k] > hi or (k == "infiltrative_fraction" and free[k] >= hi):
            raise InputError(f"free.{k}", free[k], msg)
    if free["bevacizumab_progression_time_ratio"] < 1.0:
        raise InputError(
            "free.bevacizumab_progression_time_ratio",
            free["bevacizumab_progression_time_ratio"],
            "must be >= 1 (bevacizumab delays radiological progression)",
        )


#: defaults for free parameters that calibration files written before they existed do not carry:
#: the heat/RT effectiveness ratio 1 is the single shared effectiveness factor of those calibrations
LEGACY_FREE_DEFAULTS = {
    "heat_kill_effectiveness_ratio": 1.0,
    **{k: float(v["default"]) for k, v in OPTIONAL_FREE_PRIORS.items()},
}


DATA_PACKAGE = "mhtcdt.decision.model"  # data files of this package: data/*.toml
PARAMS_FILE = "data/outcome_params.toml"
CALIBRATION_FILE = "data/outcome_calibration.toml"
#: the packaged calibration (``mhtcdt calibrate --in-place`` rewrites it; ``--output PATH`` writes elsewhere)
DEFAULT_CALIBRATION_PATH = Path(str(resources.files(DATA_PACKAGE).joinpath(CALIBRATION_FILE)))


def packaged_data_file(name: str) -> str | None:
    """``data/<name>`` when ``name`` is a bare file name of this package's data folder, else None."""
    if "/" in name or "\\" in name:
        return None
    return f"data/{name}" if resources.files(DATA_PACKAGE).joinpath("data", name).is_file() else None


def default_calibration_path(indication: str | None) -> Path | None:
    """The packaged calibration of an outcome setting (None: the glioblastoma one, CALIBRATION_FILE)."""
    files = INDICATION_FILES.get(str(indication)) if indication is not None else None
    if files is None:
        return None
    return Path(str(resources.files(DATA_PACKAGE).joinpath("data", files[1])))


def _toml(path: str | Path | None, package_file: str, field: str) -> tuple[Mapping[str, Any], str]:
    """(parsed TOML, where it came from): the package file through :func:`mhtcdt.datafiles.load_toml`,
    a bare name of a package data file (e.g. ``outcome_params_prostate.toml``), or a file the user names
    (:func:`mhtcdt.decision.scenario.loading.read_toml_file`)."""
    if isinstance(path, str) and packaged_data_file(path) is not None:
        package_file, path = packaged_data_file(path), None
    if path is None:
        return load_toml(DATA_PACKAGE, package_file), f"{DATA_PACKAGE}/{package_file}"
    from mhtcdt.decision.scenario.loading import read_toml_file

    return read_toml_file(path, field), str(path)


def base_params(base_path: str | Path | None = None) -> OutcomeParams:
    """The base file (default ``data/outcome_params.toml``) at its prior centres, without a calibration."""
    base, source = _toml(base_path, PARAMS_FILE, "outcome_params")
    try:
        priors = {
            k: dict(base["free"][k]) if k in base["free"] or k not in OPTIONAL_FREE_PRIORS else OPTIONAL_FREE_PRIORS[k]
            for k in FREE_PARAMETERS
        }
        free = {k: float(priors[k]["default"]) for k in FREE_PARAMETERS}
        hrs = {k: float(v["hazard_ratio"]) for k, v in base["covariates"].items()}
        sys_ = base["systemic_therapy"]
        course = float(sys_["tmz_concomitant_mg_per_m2"]) + int(sys_["tmz_stupp_adjuvant_cycles"]) * float(
            sys_["tmz_adjuvant_cycle_mg_per_m2"]
        )
        params = dict(
            rano_volume_ratio=float(base["progression"]["rano_volume_ratio"]),
            measurable_volume_cm3=float(base["progression"]["measurable_volume_cm3"]),
            carrying_capacity_cm3=float(base["growth"]["carrying_capacity_cm3"]),
            other_cause_a_per_year=float(base["other_cause_mortality"]["a_per_year"]),
            other_cause_b_per_year=float(base["other_cause_mortality"]["b_per_year"]),
            recurrence_to_treatment_months=float(base["time_origin"]["recurrence_to_treatment_months"]),
        )
        fractions = (
            float(sys_["tmz_concomitant_mg_per_m2"]) / course,
            float(sys_["tmz_adjuvant_cycle_mg_per_m2"]) / course,
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise InputError("outcome_params", source, f"missing or bad entry {exc}") from exc
    unknown_cov = sorted(set(hrs) - set(_COVARIATES))
    if unknown_cov:
        raise InputError("outcome_params.covariates", unknown_cov, f"unknown covariates; known {sorted(_COVARIATES)}")
    _check_free(free)
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"outcome_params.{name}", value, "must be a positive finite number")
    return OutcomeParams(
        free=free, hazard_ratios=hrs, priors=priors, source=source, tmz_course_fractions=fractions, **params
    )


def load_outcome_params(
    path: str | Path | None = None, *, base_path: str | Path | None = None, calibrated: bool = True
) -> OutcomeParams:
    """Load outcome parameters.

    ``path`` is a calibration file written by ``mhtcdt calibrate`` (``[free]`` values, ``[[draws]]`` and
    ``[meta]``, validated by :func:`mhtcdt.decision.model.calibration_file.read_calibration`) overlaid on
    the base file ``base_path`` (default ``data/outcome_params.toml``). ``path=None`` uses the packaged
    calibration ``data/outcome_calibration.toml`` when it exists, else the prior centres of the base file.
    ``calibrated=False`` ignores any calibration file (prior centres, no draws). A calibration made with
    other physics code warns (:class:`~mhtcdt.decision.model.calibration_file.CalibrationPhysicsWarning`).
    """
    if not calibrated:
        return base_params(base_path)
    if path is None and not resources.files(DATA_PACKAGE).joinpath(CALIBRATION_FILE).is_file():
        return base_params(base_path)
    from mhtcdt.decision.model.calibration_file import apply_calibration, read_calibration

    if base_path is None:  # the base file the calibration was made on (an indication's own file), else the default
        base_path = read_calibration(path).meta.get("outcome_params_file")
    return apply_calibration(base_params(base_path), path)


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
    """``sum_k log(HR_k) x_k`` per patient (float64), before the covariate scale (applied in
    :func:`latent_times`)."""
    lp = np.zeros(len(patients))
    for name, hr in params.hazard_ratios.items():
        lp += math.log(hr) * _COVARIATES[name](patients)
    return lp


# ----------------------------------------------------------------------------- systemic therapy
@dataclass(frozen=True)
class Systemic:
    """Per-patient systemic therapy and the marker that modifies it (arrays of equal length).

    ``temozolomide_courses``: cumulative temozolomide dose / the Stupp course dose; ``lomustine`` and
    ``bevacizumab``: given until progression; ``mgmt_methylated``: MGMT promoter methylation;
    ``tumour_specific_treatment``: False for best supportive care (no treatment in the arm, and no later lines:
    post-progression survival times ``pps_ratio_supportive_care``); None = everybody treated.
    ``gemcitabine_cycles``, ``folfirinox_cycles``: pancreas chemotherapy cycles after entry (None = none).
    """

    temozolomide_courses: np.ndarray
    lomustine: np.ndarray
    bevacizumab: np.ndarray
    mgmt_methylated: np.ndarray
    tumour_specific_treatment: np.ndarray | None = None
    gemcitabine_cycles: np.ndarray | None = None
    folfirinox_cycles: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> Systemic:
        """The rows ``idx`` of every array (None stays None)."""
        return Systemic(*(None if v is None else v[idx] for v in vars(self).values()))


def temozolomide_courses(protocol: Any, params: OutcomeParams) -> float:
    """Cumulative temozolomide dose of a protocol relative to the Stupp course (concomitant + 6 cycles = 1)."""
    conc, cycle = params.tmz_course_fractions
    return (
        float(bool(getattr(protocol, "tmz_concomitant", False))) * conc
        + int(getattr(protocol, "tmz_adjuvant_cycles", 0)) * cycle
    )


def systemic_columns(protocol: Any, params: OutcomeParams | None = None) -> dict[str, float | bool]:
    """The per-patient systemic-therapy columns (:data:`SYSTEMIC_COLUMNS`) of an arm's protocol."""
    params = base_params() if params is None else params
    return {
        "temozolomide_courses": temozolomide_courses(protocol, params),
        "lomustine": bool(getattr(protocol, "lomustine", False)),
        "bevacizumab": bool(getattr(protocol, "bevacizumab", False)),
        "tumour_specific_treatment": bool(protocol_effects(protocol)),
        "gemcitabine_cycles": int(getattr(protocol, "gemcitabine_cycles", 0)),
        "folfirinox_cycles": int(getattr(protocol, "folfirinox_cycles", 0)),
    }


def systemic_from(patients: pd.DataFrame) -> Systemic:
    """:class:`Systemic` arrays from a DataFrame's systemic columns (missing columns: no such therapy)."""
    n = len(patients)
    courses = _col(patients, "temozolomide_courses", 0.0).astype(float)
    if np.any(~np.isfinite(courses)) or np.any(courses < 0):
        raise InputError("patients.temozolomide_courses", "non-finite or negative", "must be finite and >= 0")
    return Systemic(
        courses,
        _col(patients, "lomustine", False).astype(bool),
        _col(patients, "bevacizumab", False).astype(bool),
        _col(patients, "mgmt_methylated", False).astype(bool) if n else np.zeros(0, bool),
        _col(patients, "tumour_specific_treatment", True).astype(bool),
        _cycles(patients, "gemcitabine_cycles"),
        _cycles(patients, "folfirinox_cycles"),
    )


def _cycles(patients: pd.DataFrame, name: str) -> np.ndarray:
    cycles = _col(patients, name, 0).astype(float)
    if np.any(~np.isfinite(cycles)) or np.any(cycles < 0):
        raise InputError(f"patients.{name}", "non-finite or negative", "must be finite and >= 0")
    return cycles


def protocol_effects(protocol: Any) -> list[str]:
    """The outcome-model effects an arm's protocol needs (keys of :data:`EFFECT_PARAMETERS`)."""
    effects = []
    if getattr(protocol, "rt_n_fractions", 0) > 0:
        effects.append("radiotherapy")
    if getattr(protocol, "n_sessions", 0) > 0 or getattr(protocol, "cdt_agent", None) is not None:
        effects.append("heat")
    if getattr(protocol, "tmz_concomitant", False) or getattr(protocol, "tmz_adjuvant_cycles", 0) > 0:
        effects.append("temozolomide")
    if getattr(protocol, "lomustine", False):
        effects.append("lomustine")
    if getattr(protocol, "bevacizumab", False):
        effects.append("bevacizumab")
    for effect in ("gemcitabine", "folfirinox"):
        if getattr(protocol, f"{effect}_cycles", 0) > 0:
            effects.append(effect)
    return effects


# ----------------------------------------------------------------------------- random draws
@dataclass(frozen=True)
class PatientDraws:
    """Per-patient standard random numbers: growth z ~ N(0,1), PPS and other-cause E ~ Exp(1), and the
    durable-control threshold z ~ N(0,1) (``None``: nobody reaches durable control)."""

    z_growth: np.ndarray
    e_pps: np.ndarray
    e_other: np.ndarray
    z_control: np.ndarray | None = None


def patient_draws(patient_ids: np.ndarray, seed: int | np.random.SeedSequence) -> PatientDraws:
    """Draws keyed by :func:`mhtcdt.seeding.child_rng` ``(seed, patient_id, 12)``.

    The key is the patient, not the row, so draws are chunking- and arm-independent.
    """
    root = root_sequence(seed)
    ids = np.asarray(patient_ids, dtype=np.int64)
    out = np.empty((len(ids), 4))
    for i, pid in enumerate(ids):
        rng = child_rng(root, int(pid), 12)
        out[i, 0] = rng.standard_normal()
        out[i, 1:3] = rng.standard_exponential(2)
        out[i, 3] = rng.standard_normal()
    return PatientDraws(out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy())


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
    *,
    systemic: Systemic | None = None,
) -> dict[str, np.ndarray]:
    """Vectorised core of the model (arrays of equal length; see the module docstring). The arrays broadcast:
    with (D, n) kills and (D, 1) free parameters in ``params.free`` it computes D parameter draws at once
    (the PSA), the per-patient arrays (n,) shared by every draw.

    ``lp`` is :func:`linear_predictor` (the covariate scale is applied here); ``systemic`` None = no
    systemic therapy. Returns arrays ``surviving_burden_cm3``, ``effective_log10_kill``,
    ``durable_control``, ``doubling_time_days``, ``progression_latent_months``, ``pfs_latent_months``,
    ``os_latent_months``, ``death_other_cause``.
    """
    f = params.free
    lp = f["covariate_scale"] * np.asarray(lp, dtype=float)
    v0 = np.asarray(volume_cm3, dtype=float)
    k_total = np.asarray(log10_kill_total, float)
    k_rt = np.asarray(log10_kill_rt, float)
    if systemic is None:
        s_kill = 0.0
        bev = None
    else:
        alkylator = np.where(systemic.mgmt_methylated, 1.0, f["mgmt_unmethylated_alkylator_ratio"])
        s_kill = alkylator * (
            f["temozolomide_log10_kill_methylated"] * systemic.temozolomide_courses
            + f["lomustine_log10_kill_methylated"] * systemic.lomustine
        )
        if systemic.gemcitabine_cycles is not None:
            s_kill = s_kill + f["gemcitabine_log10_kill_per_cycle"] * systemic.gemcitabine_cycles
        if systemic.folfirinox_cycles is not None:
            s_kill = s_kill + f["folfirinox_log10_kill_per_cycle"] * systemic.folfirinox_cycles
        bev = systemic.bevacizumab
    e_rt = f["log10_kill_effectiveness"]
    l_res = e_rt * k_rt + s_kill
    l_bulk = effective_log10_kill(k_total, k_rt, e_rt, f["heat_kill_effectiveness_ratio"]) + s_kill
    frac = f["infiltrative_fraction"]
    sf = (1.0 - frac) * 10.0 ** (-l_bulk) + frac * 10.0 ** (-l_res)
    vs = v0 * sf
    l_eff = -np.log10(sf)
    if draws.z_control is None:
        durable = np.zeros(np.shape(sf), dtype=bool)
    else:
        threshold = f["durable_control_log10_kill_50"] + f["durable_control_log10_kill_sd"] * draws.z_control
        durable = l_eff >= threshold
    k = params.carrying_capacity_cm3
    v_ref = np.minimum(v0, k / (params.rano_volume_ratio * 1.05))  # keep the threshold below K
    v_th = np.maximum(params.rano_volume_ratio * v_ref, params.measurable_volume_cm3)
    dt_days = f["volume_doubling_time_days"] * np.exp(f["growth_log_sd"] * draws.z_growth - lp)
    dt_days = np.where(durable, dt_days / f["durable_growth_ratio"], dt_days)
    g0_per_month = LN2 / dt_days * DAYS_PER_MONTH
    rho = g0_per_month / np.log(k / v_ref)
    ln_k_vs = np.log(k / np.minimum(vs, k * 0.999))
    ln_k_vth = np.log(k / v_th)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_grow = np.where(vs >= v_th, 0.0, np.log(ln_k_vs / ln_k_vth) / rho)
    t_tumour = t_grow + treatment_months * (vs < v_th)
    t_radiological = (
        t_tumour if bev is None else np.where(bev, t_tumour * f["bevacizumab_progression_time_ratio"], t_tumour)
    )
    pps_median = np.asarray(pps_median_months, float)
    if systemic is not None and systemic.tumour_specific_treatment is not None:
        pps_median = np.where(
            systemic.tumour_specific_treatment, pps_median, pps_median * f["pps_ratio_supportive_care"]
        )
    scale = pps_median / LN2 ** (1.0 / f["pps_weibull_shape"])
    # Weibull with hazard multiplied by exp(lp): T = scale * (E / exp(lp))^(1/shape)
    pps = scale * (draws.e_pps * np.exp(-lp)) ** (1.0 / f["pps_weibull_shape"])
    a, b = params.other_cause_a_per_year, params.other_cause_b_per_year
    age = np.asarray(age_years, float)
    t_other = 12.0 * np.log1p(b * draws.e_other / (a * np.exp(b * age))) / b
    t_tumour_death = t_tumour + pps
    os_ = np.minimum(t_tumour_death, t_other)
    pfs = np.minimum(t_radiological, os_)
    if not (np.all(np.isfinite(os_)) and np.all(os_ >= 0)):
        raise ModelError("outcome model produced non-finite overall survival times")
    return {
        "surviving_burden_cm3": vs,
        "effective_log10_kill": l_eff,
        "durable_control": durable,
        "doubling_time_days": dt_days,
        "progression_latent_months": t_radiological,
        "pfs_latent_months": pfs,
        "os_latent_months": os_,
        "death_other_cause": t_other < t_tumour_death,
    }


def outcome_settings(patients: pd.DataFrame) -> np.ndarray:
    """The outcome setting of each patient: ``outcome_indication`` when present (a newly diagnosed
    population drawn from the recurrent generator keeps the generator's ``indication`` for the physics),
    else ``indication`` (default recurrent glioblastoma)."""
    if "outcome_indication" in patients.columns:
        return patients["outcome_indication"].astype(str).to_numpy()
    return _col(patients, "indication", "recurrent_glioblastoma").astype(str)


def covered_indications(params: OutcomeParams) -> list[str] | None:
    """The outcome settings ``params`` hold for: its calibration's, else its base file's (an indication's own base
    file of :data:`INDICATION_FILES`, or the glioblastoma settings for ``data/outcome_params.toml``); None for a
    base file the user named (not checked)."""
    if params.provenance:
        return [str(i) for i in params.provenance.get("indications", [])]
    for indication, (base, _) in INDICATION_FILES.items():
        if params.source.endswith(f"data/{base}"):
            return [indication]
    if params.source.endswith(PARAMS_FILE):
        return [k for k in PPS_KEY_BY_INDICATION if k not in INDICATION_FILES]
    return None


def pps_median_for(patients: pd.DataFrame, params: OutcomeParams) -> np.ndarray:
    """Post-progression median per patient from its outcome setting (:func:`outcome_settings`)."""
    ind = outcome_settings(patients)
    out = np.empty(len(patients))
    covered = covered_indications(params)
    for value in np.unique(ind):
        key = PPS_KEY_BY_INDICATION.get(str(value))
        if key is None:
            raise InputError(
                "patients.indication",
                str(value),
                f"the outcome model is calibrated only for {sorted(PPS_KEY_BY_INDICATION)}",
            )
        if covered is not None and str(value) not in covered:
            made = params.provenance.get("calibration_id", params.source) if params.provenance else params.source
            raise InputError(
                "patients.indication",
                str(value),
                f"the outcome parameters {made} were made for {', '.join(covered)}; use the calibration of this "
                "indication (scenario field `calibration`) or run `mhtcdt calibrate`",
            )
        out[ind == value] = params.free[key]
    return out


def latent_times_for(
    patients: pd.DataFrame, params: OutcomeParams, draws: PatientDraws, treatment_months: np.ndarray | float = 0.0
) -> dict[str, np.ndarray]:
    """:func:`latent_times` for the rows of a DataFrame with cohort + physics (+ systemic) columns.

    A ``treatment_months`` column, when present, overrides the argument per patient; ``log10_kill_rt``
    defaults to the total kill (an RT-only physics table).
    """
    tm: np.ndarray | float = treatment_months
    if "treatment_months" in patients.columns:  # per-arm duration, e.g. set by the pipeline per arm
        tm = patients["treatment_months"].to_numpy(float)
        if np.any(~np.isfinite(tm)) or np.any(tm < 0):
            raise InputError("patients.treatment_months", "non-finite or negative", "must be finite and >= 0")
    kill_total = patients["log10_kill_total"].to_numpy(float)
    kill_rt = patients["log10_kill_rt"].to_numpy(float) if "log10_kill_rt" in patients.columns else kill_total
    return latent_times(
        patients["tumour_volume_cm3"].to_numpy(float),
        kill_total,
        np.minimum(kill_rt, kill_total),
        patients["age_years"].to_numpy(float),
        linear_predictor(patients, params),
        pps_median_for(patients, params),
        draws,
        params,
        tm,
        systemic=systemic_from(patients),
    )


def treatment_months(protocol: Any) -> float:
    """Duration of a protocol's treatment phase [months]: regrowth is counted from its end.

    RT: ``rt_n_fractions / rt_fractions_per_week`` weeks; MHT sessions:
    ``(n_sessions - 1) * session_interval_hours``; pancreas chemotherapy: its cycles (:data:`CYCLE_DAYS`); the
    longest of them. (The glioblastoma systemic therapy continues after this phase; its effect is the kill and
    the radiological delay of the module docstring.)
    """
    weeks_rt = 0.0
    if getattr(protocol, "rt_n_fractions", 0) and getattr(protocol, "rt_fractions_per_week", 0):
        weeks_rt = protocol.rt_n_fractions / protocol.rt_fractions_per_week
    hours_mht = max(0, getattr(protocol, "n_sessions", 0) - 1) * getattr(protocol, "session_interval_hours", 0.0)
    days_chemo = sum(days * getattr(protocol, name, 0) for name, days in CYCLE_DAYS.items())
    days = max(7.0 * weeks_rt, hours_mht / 24.0, days_chemo)
    return days / DAYS_PER_MONTH


_OUTPUT_COLUMNS = (
    "surviving_burden_cm3",
    "effective_log10_kill",
    "doubling_time_days",
    "progression_latent_months",
    "pfs_latent_months",
    "os_latent_months",
)


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
    ``treatment_months`` column, when present, overrides it per patient (arms differ). Systemic therapy
    comes from the columns of :func:`systemic_columns` (absent: none).
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
        for c in _OUTPUT_COLUMNS:
            out[c] = pd.Series(dtype=float)
        out["durable_control"] = pd.Series(dtype=bool)
        out["death_other_cause"] = pd.Series(dtype=bool)
        return out
    for c in ("tumour_volume_cm3", "log10_kill_total", "age_years"):
        vals = patients[c].to_numpy(dtype=float)
        bad = ~np.isfinite(vals) | (vals < 0)
        if c == "tumour_volume_cm3":
            bad |= vals <= 0
        if bad.any():
            raise InputError(f"patients.{c}", vals[bad][0], "must be finite and non-negative (volume > 0)")
    draws = patient_draws(patients["patient_id"].to_numpy(), seed)
    res = latent_times_for(patients, params, draws, treatment_months)
    for k, v in res.items():
        out[k] = v
    return out
