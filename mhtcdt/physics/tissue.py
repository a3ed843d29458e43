"""Tissue properties for the Pennes bioheat equation and temperature-dependent perfusion.

Data: ``physics/data/tissues.toml`` (IT'IS Foundation database V3.0 for density, specific heat,
conductivity, perfusion and metabolic heat; Lang, Erdmann & Seebass, IEEE TBME 1999;46:1129 for the
temperature dependence of perfusion).

Perfusion conventions
---------------------
IT'IS gives perfusion as a heat-transfer rate (HTR) in mL/min/kg. The Pennes sink uses a volumetric
rate ``omega`` [1/s] (m3 blood per m3 tissue per second)::

    omega = HTR * density_kg_per_m3 * 1e-6 / 60
    q_perfusion [W/m3] = rho_b * c_b * omega(T) * (T - T_arterial)

``omega(T) = omega_37 * perfusion_factor(T, model)``, where the factor is the Lang 1999 curve divided by
its value at 37 C (so 1 at 37 C). Models: ``constant`` (0), ``lang1999_tumour`` (1),
``lang1999_muscle`` (2). The factor is a numba function shared by the radial and the 3-D solvers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numba import njit

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics.records import table_entry, table_record

PERFUSION_MODELS: dict[str, int] = {"constant": 0, "lang1999_tumour": 1, "lang1999_muscle": 2}


def load_tissue_data() -> dict:
    """The parsed ``data/tissues.toml`` (cached and shared: read-only)."""
    return load_toml("mhtcdt.physics", "data/tissues.toml")


def perfusion_coefficients() -> np.ndarray:
    """Lang 1999 coefficients as the float64 array the numba kernels take.

    Order: tumour w0, exponent, divisor, hot value, knee low, knee high; muscle a, b, c, knee, hot value
    (1/s, K^2 or C as in ``tissues.toml``); then the tumour and muscle curves at 37 C (the normalisers,
    computed here once so the kernels do not re-evaluate them every step).
    """
    d = load_tissue_data()["perfusion_temperature_dependence"]
    lo, hi = d["tumour_knee_C"]
    tumour_37 = (
        d["tumour_w0_per_s"]
        if 37.0 < lo
        else d["tumour_w0_per_s"] - max(37.0 - lo, 0.0) ** d["tumour_exponent"] / d["tumour_divisor"]
    )
    muscle_37 = d["muscle_a_per_s"] + d["muscle_b_per_s"] * math.exp(
        -((37.0 - d["muscle_knee_C"]) ** 2) / d["muscle_c_K2"]
    )
    return np.array(
        [
            d["tumour_w0_per_s"],
            d["tumour_exponent"],
            d["tumour_divisor"],
            d["tumour_hot_per_s"],
            lo,
            hi,
            d["muscle_a_per_s"],
            d["muscle_b_per_s"],
            d["muscle_c_K2"],
            d["muscle_knee_C"],
            d["muscle_hot_per_s"],
            tumour_37,
            muscle_37,
        ],
        dtype=np.float64,
    )


@njit(cache=True)
def _lang_absolute(temperature_C: float, model: int, coef: np.ndarray) -> float:
    if model == 1:
        if temperature_C < coef[4]:
            return coef[0]
        if temperature_C <= coef[5]:
            return coef[0] - (temperature_C - coef[4]) ** coef[1] / coef[2]
        return coef[3]
    if temperature_C <= coef[9]:
        return coef[6] + coef[7] * math.exp(-((temperature_C - coef[9]) ** 2) / coef[8])
    return coef[10]


@njit(cache=True)
def perfusion_factor(temperature_C: float, model: int, coef: np.ndarray) -> float:
    """omega(T)/omega(37 C) for perfusion model code ``model`` (0 constant, 1 Lang tumour, 2 Lang muscle).

    ``coef`` is :func:`perfusion_coefficients`. Dimensionless; equals 1 at 37 C for every model.
    """
    if model == 0:
        return 1.0
    return _lang_absolute(temperature_C, model, coef) / (coef[11] if model == 1 else coef[12])


def perfusion_per_s(htr_mL_per_min_per_kg: np.ndarray | float, density_kg_per_m3: float) -> np.ndarray:
    """Convert an IT'IS heat-transfer rate [mL/min/kg] into a volumetric perfusion rate [1/s]."""
    htr = np.asarray(htr_mL_per_min_per_kg, dtype=np.float64)
    if np.any(~np.isfinite(htr)) or np.any(htr < 0):
        bad = htr[~(np.isfinite(htr) & (htr >= 0))].ravel()[0]
        raise InputError("perfusion_mL_per_min_per_kg", float(bad), "perfusion must be finite and >= 0")
    return htr * density_kg_per_m3 * 1e-6 / 60.0


@dataclass(frozen=True)
class TissueProperties:
    """Thermal properties of one tissue (SI units).

    Attributes: ``density_kg_per_m3``, ``specific_heat_J_per_kg_K``, ``conductivity_W_per_m_K``,
    ``perfusion_mL_per_min_per_kg`` (IT'IS HTR at 37 C), ``metabolic_heat_W_per_m3``,
    ``perfusion_model`` (key of :data:`PERFUSION_MODELS`), ``name``.
    """

    name: str
    density_kg_per_m3: float
    specific_heat_J_per_kg_K: float
    conductivity_W_per_m_K: float
    perfusion_mL_per_min_per_kg: float
    metabolic_heat_W_per_m3: float
    perfusion_model: str = "constant"

    def __post_init__(self) -> None:
        for field in ("density_kg_per_m3", "specific_heat_J_per_kg_K", "conductivity_W_per_m_K"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{self.name}.{field}", value, "must be a finite number > 0")
        for field in ("perfusion_mL_per_min_per_kg", "metabolic_heat_W_per_m3"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{self.name}.{field}", value, "must be a finite number >= 0")
        if self.perfusion_model not in PERFUSION_MODELS:
            raise InputError(
                f"{self.name}.perfusion_model",
                self.perfusion_model,
                f"unknown model; known: {sorted(PERFUSION_MODELS)}",
            )

    @property
    def volumetric_heat_capacity_J_per_m3_K(self) -> float:
        """rho c [J/(m3 K)]."""
        return self.density_kg_per_m3 * self.specific_heat_J_per_kg_K

    @property
    def perfusion_per_s(self) -> float:
        """Volumetric perfusion rate at 37 C [1/s]."""
        return float(perfusion_per_s(self.perfusion_mL_per_min_per_kg, self.density_kg_per_m3))

    def with_perfusion(
        self, perfusion_mL_per_min_per_kg: float, perfusion_model: str | None = None
    ) -> TissueProperties:
        """A copy with another 37 C perfusion [mL/min/kg] (and optionally another temperature model)."""
        model = self.perfusion_model if perfusion_model is None else perfusion_model
        return replace(self, perfusion_mL_per_min_per_kg=perfusion_mL_per_min_per_kg, perfusion_model=model)


@dataclass(frozen=True)
class Blood:
    """Blood properties and arterial temperature (IT'IS V3.0)."""

    density_kg_per_m3: float
    specific_heat_J_per_kg_K: float
    arterial_temperature_C: float

    def __post_init__(self) -> None:
        for field in ("density_kg_per_m3", "specific_heat_J_per_kg_K"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"blood.{field}", value, "must be a finite number > 0")
        t = self.arterial_temperature_C
        if not (math.isfinite(t) and 0.0 < t <= 45.0):
            raise InputError("blood.arterial_temperature_C", t, "must lie in (0, 45] C")

    @property
    def volumetric_heat_capacity_J_per_m3_K(self) -> float:
        """rho c [J/(m3 K)]."""
        return self.density_kg_per_m3 * self.specific_heat_J_per_kg_K


def known_tissues() -> list[str]:
    """Keys of the healthy tissues in ``tissues.toml``."""
    return sorted(load_tissue_data()["tissue"])


def load_tissue(name: str) -> TissueProperties:
    """Healthy-tissue properties from ``tissues.toml`` (e.g. ``"brain"``, ``"prostate"``, ``"pancreas"``)."""
    d = table_entry(load_tissue_data()["tissue"], name, "tissue", "tissue")
    return table_record(
        TissueProperties, d, name=name, perfusion_model=str(d.get("perfusion_temperature_model", "constant"))
    )


def tumour_tissue(host: str, perfusion_mL_per_min_per_kg: float | None = None) -> TissueProperties:
    """Tumour properties: host-organ thermal properties, Lang 1999 tumour perfusion curve.

    ``perfusion_mL_per_min_per_kg`` defaults to the host value; cohorts pass per-patient perfusion
    to the solver as a scale factor instead (see ``bioheat_radial``).
    """
    base = load_tissue(host)
    model = load_tissue_data()["tumour"]["perfusion_temperature_model"]
    perf = base.perfusion_mL_per_min_per_kg if perfusion_mL_per_min_per_kg is None else perfusion_mL_per_min_per_kg
    return replace(base, name=f"tumour_in_{host}", perfusion_mL_per_min_per_kg=float(perf), perfusion_model=model)


def load_blood() -> Blood:
    """Blood properties and arterial temperature (``tissues.toml [blood]``)."""
    return table_record(Blood, load_tissue_data()["blood"])


class ThermalMedium(NamedTuple):
    """Tumour (``_t``), healthy-tissue (``_h``) and blood constants as the numba bioheat kernels take them.

    ``rho_c_*``: volumetric heat capacity [J/(m3 K)]; ``k_*``: conductivity [W/(m K)]; ``qm_*``: metabolic
    heat [W/m3]; ``model_*``: perfusion model code (:data:`PERFUSION_MODELS`); ``rho_c_blood`` [J/(m3 K)];
    ``t_art``: arterial temperature [C]; ``coef``: :func:`perfusion_coefficients`. Perfusion at 37 C is
    per patient (radial) or per tissue (3-D) and passed beside it.
    """

    rho_c_t: float
    k_t: float
    qm_t: float
    model_t: int
    rho_c_h: float
    k_h: float
    qm_h: float
    model_h: int
    rho_c_blood: float
    t_art: float
    coef: np.ndarray


def thermal_medium(tumour: TissueProperties, healthy: TissueProperties, blood: Blood) -> ThermalMedium:
    """The :class:`ThermalMedium` of a tumour in its host tissue."""
    return ThermalMedium(
        rho_c_t=float(tumour.volumetric_heat_capacity_J_per_m3_K),
        k_t=float(tumour.conductivity_W_per_m_K),
        qm_t=float(tumour.metabolic_heat_W_per_m3),
        model_t=PERFUSION_MODELS[tumour.perfusion_model],
        rho_c_h=float(healthy.volumetric_heat_capacity_J_per_m3_K),
        k_h=float(healthy.conductivity_W_per_m_K),
        qm_h=float(healthy.metabolic_heat_W_per_m3),
        model_h=PERFUSION_MODELS[healthy.perfusion_model],
        rho_c_blood=float(blood.volumetric_heat_capacity_J_per_m3_K),
        t_art=float(blood.arterial_temperature_C),
        coef=perfusion_coefficients(),
    )
