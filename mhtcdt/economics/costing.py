"""Micro-costing of a magnetic hyperthermia (MHT) course, payer and societal perspectives.

Components of one course (EUR; defaults and sources in ``economics/data/costs.toml``):

* particles       = tumour volume [cm3] x dose [mg Fe/cm3] x price [EUR/mg Fe]
* instillation    = procedure cost per course (image-guided instillation incl. admission)
* applicator      = equivalent annual cost of the field applicator / annual patients, with
  EAC = capital x r / (1 - (1 + r)^-L) + maintenance fraction x capital (annuity over lifetime L
  years at rate r; straight-line capital / L when r = 0)
* staff           = sessions x (session minutes + setup minutes) / 60 x team cost per hour
* imaging         = planning imaging per course + thermometry per session x sessions
* patient_time    = sessions x patient hours x value of time          (societal perspective only)
* productivity    = working days lost x wage per day                    (societal perspective only)

Every input may be a numpy array (e.g. PSA draws); arithmetic is elementwise.

DataFrame from :func:`mht_course_cost`: one row per component: ``component`` str, ``cost_EUR``
float64, ``perspective`` str ("payer" or "societal": where the component is counted), ``formula`` str;
``df.attrs["total_EUR"]`` is the total for the requested perspective.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PAYER_COMPONENTS = ("particles", "instillation", "applicator", "staff", "imaging")
SOCIETAL_COMPONENTS = ("patient_time", "productivity")


def cost_data() -> dict[str, Any]:
    """The parsed ``economics/data/costs.toml`` (reference costs, utilities, micro-costing items;
    cached and shared by :func:`mhtcdt.datafiles.load_toml`: treat it as read-only)."""
    return load_toml("mhtcdt.economics", "data/costs.toml")


@dataclass(frozen=True)
class MHTCourseInputs:
    """Inputs of one MHT course (units in the names; see costs.toml for defaults and sources)."""

    tumour_volume_cm3: float
    dose_mg_Fe_per_cm3: float
    n_sessions: int
    session_minutes: float
    particle_price_EUR_per_mg_Fe: float
    instillation_procedure_EUR: float
    applicator_capital_EUR: float
    applicator_lifetime_years: float
    applicator_maintenance_fraction_per_year: float
    capital_discount_rate: float
    annual_patients: float
    staff_cost_EUR_per_hour: float
    session_setup_minutes: float
    planning_imaging_EUR: float
    thermometry_EUR_per_session: float
    patient_hours_per_session: float
    value_of_time_EUR_per_hour: float
    productivity_days_lost_per_course: float
    wage_EUR_per_day: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = np.asarray(getattr(self, f.name), dtype=float)
            if not np.all(np.isfinite(v)):
                raise InputError(f.name, getattr(self, f.name), "must be finite")
            if np.any(v < 0):
                raise InputError(f.name, getattr(self, f.name), "must be >= 0")
        for name in ("annual_patients", "applicator_lifetime_years"):
            if np.any(np.asarray(getattr(self, name)) <= 0):
                raise InputError(name, getattr(self, name), "must be > 0")
        if np.any(np.asarray(self.capital_discount_rate) >= 1):
            raise InputError("capital_discount_rate", self.capital_discount_rate, "an annual rate must be < 1")


def default_mht_inputs(
    *,
    tumour_volume_cm3: float,
    dose_mg_Fe_per_cm3: float,
    n_sessions: int,
    session_minutes: float,
    **overrides: float,
) -> MHTCourseInputs:
    """Inputs with the protocol/patient quantities given and every cost item from costs.toml
    (``overrides`` replace any item, e.g. ``annual_patients=120``)."""
    items = {k: v["value"] for k, v in cost_data()["mht_micro_costing"].items()}
    known = {f.name for f in fields(MHTCourseInputs)}
    for k in overrides:
        if k not in known:
            raise InputError(k, overrides[k], f"unknown MHT costing input; use one of {sorted(known)}")
    items.update(overrides)
    return MHTCourseInputs(
        tumour_volume_cm3=tumour_volume_cm3,
        dose_mg_Fe_per_cm3=dose_mg_Fe_per_cm3,
        n_sessions=n_sessions,
        session_minutes=session_minutes,
        **items,
    )


def micro_costing_ranges() -> dict[str, tuple[float, float]]:
    """(low, high) of every micro-costing item in costs.toml, for DSA."""
    return {k: tuple(v["range"]) for k, v in cost_data()["mht_micro_costing"].items()}


def equivalent_annual_cost(
    capital: ArrayLike, lifetime_years: ArrayLike, rate: ArrayLike, maintenance_fraction: ArrayLike = 0.0
) -> np.ndarray:
    """Annuitised capital cost plus maintenance: capital r / (1 - (1 + r)^-L) + m capital (EUR/year)."""
    capital = np.asarray(capital, dtype=float)
    life = np.asarray(lifetime_years, dtype=float)
    r = np.asarray(rate, dtype=float)
    safe_r = np.where(r > 0, r, 1.0)
    annuity = np.where(r > 0, safe_r / (1.0 - (1.0 + safe_r) ** -life), 1.0 / life)
    return capital * annuity + np.asarray(maintenance_fraction, dtype=float) * capital


def course_components(inputs: MHTCourseInputs) -> dict[str, np.ndarray]:
    """Cost of each component of one course (EUR), arrays if inputs are arrays."""
    i = inputs
    eac = equivalent_annual_cost(
        i.applicator_capital_EUR,
        i.applicator_lifetime_years,
        i.capital_discount_rate,
        i.applicator_maintenance_fraction_per_year,
    )
    n = np.asarray(i.n_sessions, dtype=float)
    return {
        "particles": np.asarray(i.tumour_volume_cm3 * i.dose_mg_Fe_per_cm3 * i.particle_price_EUR_per_mg_Fe, float),
        "instillation": np.asarray(i.instillation_procedure_EUR, float),
        "applicator": eac / np.asarray(i.annual_patients, float),
        "staff": n
        * (np.asarray(i.session_minutes) + np.asarray(i.session_setup_minutes))
        / 60.0
        * np.asarray(i.staff_cost_EUR_per_hour),
        "imaging": np.asarray(i.planning_imaging_EUR) + n * np.asarray(i.thermometry_EUR_per_session),
        "patient_time": n * np.asarray(i.patient_hours_per_session) * np.asarray(i.value_of_time_EUR_per_hour),
        "productivity": np.asarray(i.productivity_days_lost_per_course) * np.asarray(i.wage_EUR_per_day),
    }


def _check_perspective(perspective: str) -> tuple[str, ...]:
    if perspective == "payer":
        return PAYER_COMPONENTS
    if perspective == "societal":
        return PAYER_COMPONENTS + SOCIETAL_COMPONENTS
    raise InputError("perspective", perspective, "use 'payer' or 'societal'")


def mht_course_total(inputs: MHTCourseInputs, perspective: str = "payer") -> np.ndarray:
    """Total cost of one course (EUR) in the given perspective."""
    comps = course_components(inputs)
    return sum(comps[c] for c in _check_perspective(perspective))


_FORMULAS = {
    "particles": "tumour_volume_cm3 x dose_mg_Fe_per_cm3 x particle_price_EUR_per_mg_Fe",
    "instillation": "instillation_procedure_EUR",
    "applicator": "EAC(capital, lifetime, rate) + maintenance, / annual_patients",
    "staff": "n_sessions x (session + setup minutes) / 60 x staff_cost_EUR_per_hour",
    "imaging": "planning_imaging_EUR + n_sessions x thermometry_EUR_per_session",
    "patient_time": "n_sessions x patient_hours_per_session x value_of_time_EUR_per_hour",
    "productivity": "productivity_days_lost_per_course x wage_EUR_per_day",
}


def mht_course_cost(inputs: MHTCourseInputs, perspective: str = "payer") -> pd.DataFrame:
    """Component table of one course (scalar inputs), see the module docstring."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    keep = _check_perspective(perspective)
    comps = course_components(inputs)
    rows = []
    for name in keep:
        val = np.asarray(comps[name])
        if val.ndim:
            raise InputError(name, val.shape, "mht_course_cost needs scalar inputs; use course_components for arrays")
        rows.append((name, float(val), "payer" if name in PAYER_COMPONENTS else "societal", _FORMULAS[name]))
    df = pd.DataFrame(rows, columns=["component", "cost_EUR", "perspective", "formula"])
    df.attrs["total_EUR"] = float(df["cost_EUR"].sum())
    df.attrs["perspective"] = perspective
    return df


def breakeven_annual_volume(
    inputs: MHTCourseInputs, target_cost_per_course: ArrayLike, perspective: str = "payer"
) -> np.ndarray:
    """Annual patients per applicator at which the course cost equals the target (EUR).

    Solves EAC / V + other components = target; InputError if the other components alone already
    exceed the target (no volume makes it pay)."""
    comps = course_components(inputs)
    other = sum(comps[c] for c in _check_perspective(perspective) if c != "applicator")
    eac = comps["applicator"] * np.asarray(inputs.annual_patients, float)
    margin = np.asarray(target_cost_per_course, float) - other
    if np.any(margin <= 0):
        raise InputError(
            "target_cost_per_course",
            target_cost_per_course,
            f"the non-capital costs alone ({float(np.max(other)):.0f} EUR) reach the target: no volume breaks even",
        )
    return eac / margin


def threshold_particle_price(
    inputs: MHTCourseInputs, target_cost_per_course: ArrayLike, perspective: str = "payer"
) -> np.ndarray:
    """Particle price (EUR per mg Fe) at which the course cost equals the target; may be negative
    if the other components alone exceed the target (then no particle price makes it pay)."""
    comps = course_components(inputs)
    other = sum(comps[c] for c in _check_perspective(perspective) if c != "particles")
    mg = np.asarray(inputs.tumour_volume_cm3, float) * np.asarray(inputs.dose_mg_Fe_per_cm3, float)
    if np.any(mg <= 0):
        raise InputError("dose_mg_Fe_per_cm3", inputs.dose_mg_Fe_per_cm3, "needs a positive iron amount")
    return (np.asarray(target_cost_per_course, float) - other) / mg
