"""Heating by magnetic nanoparticles: specific loss power (SLP) and volumetric heating.

Two models, and every result says which one it used (``SLPResult.method``):

* ``"theory"``: Rosensweig's linear-response theory (J Magn Magn Mater 2002;252:370). For a particle of
  magnetic core diameter D (volume V_M) and hydrodynamic diameter D + 2 delta (volume V_H)::

      tau_N   = (sqrt(pi)/2) tau_0 exp(Gamma) / sqrt(Gamma),  Gamma = K V_M / (k_B T)   (Neel)
      tau_B   = 3 eta V_H / (k_B T)                                                      (Brownian)
      tau     = tau_N tau_B / (tau_N + tau_B)      (tau = tau_N when immobilised in tissue)
      chi_i   = mu0 phi M_d^2 V_M / (3 k_B T)                   (equilibrium initial susceptibility)
      xi      = mu0 M_d H V_M / (k_B T);  chi_0 = chi_i (3/xi) (coth xi - 1/xi)  (chord susceptibility)
      P       = mu0 pi chi_0 f H^2 * 2 pi f tau / (1 + (2 pi f tau)^2)       [W per m3 of fluid]

  SLP per gram of iron = P / (phi rho_core w_Fe) / 1000, averaged over a lognormal NUMBER distribution of
  D weighted by particle volume (mass): SLP = int P(D)/phi n(D) V(D) dD / (rho w_Fe int n V dD).
  H is the peak field amplitude [A/m]. For ~12 nm magnetite the prediction spans two orders of magnitude
  with K, so the theory is a cross-check, not the default.
* ``"calibrated"`` (default): the agent's measured/prior curve
  ``SLP = slp_ref (H/H_ref)^a (f/f_ref)^b`` with a lognormal uncertainty of geometric SD ``gsd``
  (``data/magnetics.toml``, each with its basis and verified flag).

Volumetric heating: ``q [W/m3] = SLP [W/g Fe] * c_Fe [g Fe per m3 of deposit]`` with
``c_Fe = dose_mg_Fe_per_cm3 (per tumour cm3) / coverage_fraction * 1000`` (1 mg/cm3 = 1000 g/m3): the
injected iron spread uniformly over the deposit, which occupies ``coverage_fraction`` of the tumour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics.records import table_entry, table_record


def load_magnetics() -> dict:
    """The parsed ``data/magnetics.toml`` (cached and shared: read-only)."""
    return load_toml("mhtcdt.physics", "data/magnetics.toml")


def known_agents() -> list[str]:
    """Keys of the agents with a magnetic description (magnetics.toml [agent.*])."""
    return sorted(load_magnetics()["agent"])


@dataclass(frozen=True)
class MagneticParticle:
    """Magnetic part of an agent (SI units unless named). Diameters are of the magnetic core."""

    core_median_diameter_nm: float
    core_sigma_ln: float
    coating_thickness_nm: float
    domain_magnetization_A_per_m: float
    anisotropy_J_per_m3: float
    attempt_time_s: float
    density_kg_per_m3: float
    iron_mass_fraction: float

    def __post_init__(self) -> None:
        for name in (
            "core_median_diameter_nm",
            "domain_magnetization_A_per_m",
            "anisotropy_J_per_m3",
            "attempt_time_s",
            "density_kg_per_m3",
            "iron_mass_fraction",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"particle.{name}", v, "must be a finite number > 0")
        if not (math.isfinite(self.core_sigma_ln) and self.core_sigma_ln >= 0):
            raise InputError("particle.core_sigma_ln", self.core_sigma_ln, "must be >= 0")
        if not (math.isfinite(self.coating_thickness_nm) and self.coating_thickness_nm >= 0):
            raise InputError("particle.coating_thickness_nm", self.coating_thickness_nm, "must be >= 0")
        if self.iron_mass_fraction > 1:
            raise InputError("particle.iron_mass_fraction", self.iron_mass_fraction, "must be <= 1")


@dataclass(frozen=True)
class SLPCalibration:
    """``SLP = slp_ref (H/H_ref)^field_exponent (f/f_ref)^freq_exponent`` [W/g Fe], lognormal with ``gsd``."""

    slp_ref_W_per_g_Fe: float
    field_ref_kA_per_m: float
    freq_ref_kHz: float
    field_exponent: float
    freq_exponent: float
    gsd: float
    basis: str
    verified: bool


@dataclass(frozen=True)
class Agent:
    """A nanoparticle agent's magnetic description (``magnetics.toml [agent.<key>]``)."""

    key: str
    particle: MagneticParticle
    calibration: SLPCalibration
    source: str
    verified: bool


def load_agent(key: str) -> Agent:
    """Magnetic description of an agent key (e.g. ``"nanotherm_mfl_as1"``)."""
    d = table_entry(load_magnetics()["agent"], key, "agent", "agent")
    particle = table_record(MagneticParticle, d)
    calib = table_record(SLPCalibration, d["slp_calibration"])
    return Agent(key=key, particle=particle, calibration=calib, source=str(d["source"]), verified=bool(d["verified"]))


def _constants() -> tuple[float, float, float]:
    c = load_magnetics()["constants"]
    return float(c["mu0_H_per_m"]), float(c["boltzmann_J_per_K"]), float(c["body_temperature_K"])


def check_field(field_kA_per_m: float | np.ndarray, freq_kHz: float | np.ndarray) -> None:
    """Raise ``InputError`` if a field amplitude or frequency is outside the device envelope."""
    dev = load_magnetics()["device_range"]
    f_lo, f_hi = dev["freq_kHz"]
    h_lo, h_hi = dev["field_kA_per_m"]
    for name, value, lo, hi, unit in (
        ("freq_kHz", freq_kHz, f_lo, f_hi, "kHz"),
        ("field_kA_per_m", field_kA_per_m, h_lo, h_hi, "kA/m"),
    ):
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
        bad = ~np.isfinite(arr) | (arr < lo) | (arr > hi)
        if np.any(bad):
            raise InputError(
                name,
                float(arr[np.argmax(bad)]),
                f"outside the device range [{lo}, {hi}] {unit} (magnetics.toml)",
            )


def relaxation_times(
    core_diameter_m: np.ndarray,
    particle: MagneticParticle,
    viscosity_Pa_s: float = 0.7e-3,
    temperature_K: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Neel and Brownian relaxation times [s] for core diameters [m] (Rosensweig 2002, eqs. 9-10)."""
    _, kb, t_body = _constants()
    temp = t_body if temperature_K is None else temperature_K
    d = np.asarray(core_diameter_m, dtype=np.float64)
    v_m = math.pi / 6.0 * d**3
    v_h = math.pi / 6.0 * (d + 2e-9 * particle.coating_thickness_nm) ** 3
    gamma = particle.anisotropy_J_per_m3 * v_m / (kb * temp)
    with np.errstate(over="ignore"):
        tau_n = 0.5 * math.sqrt(math.pi) * particle.attempt_time_s * np.exp(gamma) / np.sqrt(gamma)
    tau_b = 3.0 * viscosity_Pa_s * v_h / (kb * temp)
    return tau_n, tau_b


def rosensweig_power_per_volume(
    core_diameter_m: np.ndarray,
    particle: MagneticParticle,
    field_A_per_m: float,
    freq_Hz: float,
    relaxation: Literal["neel", "brownian", "both"] = "neel",
    viscosity_Pa_s: float = 0.7e-3,
    linear_susceptibility: bool = False,
) -> np.ndarray:
    """Loss power per unit volume of magnetic material, P/phi [W/m3], for monodisperse cores.

    ``relaxation``: ``"neel"`` (immobilised in tissue: Brownian rotation blocked), ``"brownian"``
    (Brownian only) or ``"both"`` (parallel, carrier fluid of ``viscosity_Pa_s``).
    ``linear_susceptibility=True`` uses chi_i instead of the chord susceptibility chi_0(xi).
    """
    mu0, kb, temp = _constants()
    d = np.asarray(core_diameter_m, dtype=np.float64)
    v_m = math.pi / 6.0 * d**3
    tau_n, tau_b = relaxation_times(d, particle, viscosity_Pa_s, temp)
    if relaxation == "neel":
        tau = tau_n
    elif relaxation == "brownian":
        tau = tau_b
    elif relaxation == "both":
        tau = 1.0 / (1.0 / tau_n + 1.0 / tau_b)  # parallel channels; 1/inf = 0 for a blocked Neel channel
    else:
        raise InputError("relaxation", relaxation, "must be 'neel', 'brownian' or 'both'")
    ms = particle.domain_magnetization_A_per_m
    chi_i = mu0 * ms**2 * v_m / (3.0 * kb * temp)  # per unit volume fraction
    if linear_susceptibility:
        chi0 = chi_i
    else:
        xi = mu0 * ms * field_A_per_m * v_m / (kb * temp)
        # (3/xi)(coth xi - 1/xi) -> 1 - xi^2/15 for small xi (series avoids cancellation)
        small = xi < 1e-3
        xs = np.where(small, 1.0, xi)
        lang = np.where(small, 1.0 - xi**2 / 15.0, (3.0 / xs) * (1.0 / np.tanh(xs) - 1.0 / xs))
        chi0 = chi_i * lang
    omega_tau = 2.0 * math.pi * freq_Hz * tau
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.where(np.isinf(omega_tau), 0.0, omega_tau / (1.0 + omega_tau**2))
    return mu0 * math.pi * chi0 * freq_Hz * field_A_per_m**2 * loss


def rosensweig_slp(
    particle: MagneticParticle,
    field_kA_per_m: float,
    freq_kHz: float,
    relaxation: Literal["neel", "brownian", "both"] = "neel",
    viscosity_Pa_s: float = 0.7e-3,
    n_quadrature: int = 401,
    linear_susceptibility: bool = False,
) -> float:
    """Theory SLP [W/g Fe] averaged over the lognormal core-size distribution (mass-weighted)."""
    if not (math.isfinite(field_kA_per_m) and field_kA_per_m > 0):
        raise InputError("field_kA_per_m", field_kA_per_m, "must be > 0")
    if not (math.isfinite(freq_kHz) and freq_kHz > 0):
        raise InputError("freq_kHz", freq_kHz, "must be > 0")
    d0 = particle.core_median_diameter_nm * 1e-9
    s = particle.core_sigma_ln
    if s == 0:
        d = np.array([d0])
        w = np.array([1.0])
    else:
        # quadrature in ln D over +-6 sigma around the volume-weighted median (exp(mu + 3 sigma^2))
        mu_v = math.log(d0) + 3.0 * s * s
        x = np.linspace(mu_v - 6 * s, mu_v + 6 * s, n_quadrature)
        d = np.exp(x)
        number_pdf = np.exp(-((x - math.log(d0)) ** 2) / (2 * s * s))  # per unit ln D (unnormalised)
        w = number_pdf * d**3
        w = w / np.trapezoid(w, x)
        p = rosensweig_power_per_volume(
            d,
            particle,
            field_kA_per_m * 1e3,
            freq_kHz * 1e3,
            relaxation,
            viscosity_Pa_s,
            linear_susceptibility,
        )
        mean_p = float(np.trapezoid(p * w, x))
        return mean_p / (particle.density_kg_per_m3 * particle.iron_mass_fraction) / 1000.0
    p = rosensweig_power_per_volume(
        d, particle, field_kA_per_m * 1e3, freq_kHz * 1e3, relaxation, viscosity_Pa_s, linear_susceptibility
    )
    return float(p[0]) / (particle.density_kg_per_m3 * particle.iron_mass_fraction) / 1000.0


def calibrated_slp(
    calibration: SLPCalibration, field_kA_per_m: np.ndarray | float, freq_kHz: np.ndarray | float
) -> np.ndarray | float:
    """Calibrated SLP [W/g Fe] (median of the lognormal band) at amplitude [kA/m] and frequency [kHz]."""
    h = np.asarray(field_kA_per_m, dtype=np.float64)
    f = np.asarray(freq_kHz, dtype=np.float64)
    return (
        calibration.slp_ref_W_per_g_Fe
        * (h / calibration.field_ref_kA_per_m) ** calibration.field_exponent
        * (f / calibration.freq_ref_kHz) ** calibration.freq_exponent
    )


@dataclass(frozen=True)
class SLPResult:
    """SLP [W/g Fe] with the 68 % band and the model that produced it."""

    slp_W_per_g_Fe: float
    low_W_per_g_Fe: float
    high_W_per_g_Fe: float
    method: Literal["calibrated", "theory"]
    basis: str
    verified: bool


def specific_loss_power(
    agent: str,
    field_kA_per_m: float,
    freq_kHz: float,
    method: Literal["calibrated", "theory"] = "calibrated",
    immobilised: bool = True,
) -> SLPResult:
    """SLP of ``agent`` at a field amplitude [kA/m] and frequency [kHz], reporting which model was used.

    ``method="theory"``: Rosensweig with Neel relaxation only if ``immobilised`` (in tissue), else Neel and
    Brownian in parallel in water at 37 C; its band spans the agent's anisotropy range.
    """
    check_field(field_kA_per_m, freq_kHz)
    a = load_agent(agent)
    if method == "calibrated":
        c = a.calibration
        value = float(calibrated_slp(c, field_kA_per_m, freq_kHz))
        return SLPResult(value, value / c.gsd, value * c.gsd, "calibrated", c.basis, c.verified)
    if method != "theory":
        raise InputError("method", method, "must be 'calibrated' or 'theory'")
    relax = "neel" if immobilised else "both"
    value = rosensweig_slp(a.particle, field_kA_per_m, freq_kHz, relax)
    k_lo, k_hi = load_magnetics()["agent"][agent]["anisotropy_range_J_per_m3"]
    band = []
    for k in (k_lo, k_hi):
        p = MagneticParticle(**{**a.particle.__dict__, "anisotropy_J_per_m3": float(k)})
        band.append(rosensweig_slp(p, field_kA_per_m, freq_kHz, relax))
    return SLPResult(
        value, min(band + [value]), max(band + [value]), "theory", "Rosensweig 2002 linear response", False
    )


def iron_concentration_g_per_m3(
    dose_mg_Fe_per_cm3: np.ndarray | float, coverage_fraction: np.ndarray | float
) -> np.ndarray:
    """Iron concentration inside the deposit [g/m3] from dose per tumour volume and coverage."""
    dose = np.asarray(dose_mg_Fe_per_cm3, dtype=np.float64)
    cov = np.asarray(coverage_fraction, dtype=np.float64)
    if np.any(~np.isfinite(dose)) or np.any(dose <= 0):
        raise InputError("dose_mg_Fe_per_cm3", float(np.min(dose)), "iron dose must be > 0")
    if np.any(~np.isfinite(cov)) or np.any(cov <= 0) or np.any(cov > 1):
        bad = cov[~(np.isfinite(cov) & (cov > 0) & (cov <= 1))].ravel()[0]
        raise InputError("coverage_fraction", float(bad), "must lie in (0, 1]")
    return dose / cov * 1000.0


def volumetric_heating_W_per_m3(
    slp_W_per_g_Fe: np.ndarray | float, dose_mg_Fe_per_cm3: np.ndarray | float, coverage_fraction: np.ndarray | float
) -> np.ndarray:
    """Heating power density in the deposit q = SLP x local iron concentration [W/m3]."""
    slp = np.asarray(slp_W_per_g_Fe, dtype=np.float64)
    if np.any(~np.isfinite(slp)) or np.any(slp < 0):
        raise InputError("slp_W_per_g_Fe", float(np.min(slp)), "SLP must be finite and >= 0")
    return slp * iron_concentration_g_per_m3(dose_mg_Fe_per_cm3, coverage_fraction)
