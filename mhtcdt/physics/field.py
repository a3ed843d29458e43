"""Field safety: H*f against the Atkinson-Brezovich and Hergt-Dutz limits, and eddy-current heating.

* ``H f`` [A/m/s] (H = peak amplitude) is compared with the limit chosen by the protocol:
  Atkinson-Brezovich 4.85e8 (IEEE TBME 1984;31:70) or Hergt-Dutz 5e9 (JMMM 2007;311:187), values in
  ``data/magnetics.toml [field_safety_limits]``. A protocol above the chosen limit is refused with an
  ``InputError`` unless ``allow_above_limit`` is set (the scenario must say so explicitly).
* Eddy currents: in a body region modelled as a conducting cylinder coaxial with a uniform field, the
  induced peak electric field at radius r is ``E = pi f mu0 H r`` and the time-averaged power density
  ``p = sigma E^2 / 2`` [W/m3]. The local steady temperature rise of perfused tissue with no conduction
  is ``p / (rho_b c_b omega)`` (an upper estimate for the skin/fat layer at the body surface).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mhtcdt.errors import InputError
from mhtcdt.physics.particles import check_field, load_magnetics

SafetyLimit = Literal["atkinson_brezovich", "hergt_dutz"]


def safety_limits_A_per_m_s() -> dict[str, float]:
    """The H*f limits [A/(m s)] by name (magnetics.toml [field_safety_limits])."""
    d = load_magnetics()["field_safety_limits"]
    return {
        "atkinson_brezovich": float(d["atkinson_brezovich_A_per_m_s"]),
        "hergt_dutz": float(d["hergt_dutz_A_per_m_s"]),
    }


def eddy_current_power_W_per_m3(
    field_kA_per_m: float, freq_kHz: float, radius_m: float, conductivity_S_per_m: float | None = None
) -> float:
    """Time-averaged eddy-current power density [W/m3] at distance ``radius_m`` from the field axis."""
    mu0 = float(load_magnetics()["constants"]["mu0_H_per_m"])
    sigma = (
        float(load_magnetics()["eddy_current"]["tissue_conductivity_S_per_m"])
        if conductivity_S_per_m is None
        else conductivity_S_per_m
    )
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise InputError("body_radius_m", radius_m, "must be > 0")
    if not (math.isfinite(sigma) and sigma > 0):
        raise InputError("conductivity_S_per_m", sigma, "must be > 0")
    e_field = math.pi * freq_kHz * 1e3 * mu0 * field_kA_per_m * 1e3 * radius_m
    return 0.5 * sigma * e_field**2


@dataclass(frozen=True)
class FieldSafety:
    """Safety report of one field setting."""

    field_kA_per_m: float
    freq_kHz: float
    h_times_f_A_per_m_s: float
    atkinson_brezovich_ratio: float
    hergt_dutz_ratio: float
    chosen_limit: SafetyLimit
    within_chosen_limit: bool
    eddy_power_at_body_radius_W_per_m3: float
    eddy_temperature_rise_K: float

    def message(self) -> str:
        """One line for a human: H*f, the limit and the verdict."""
        return (
            f"H*f = {self.h_times_f_A_per_m_s:.3g} A/m/s "
            f"({self.field_kA_per_m:g} kA/m x {self.freq_kHz:g} kHz) "
            f"is {self.atkinson_brezovich_ratio:.2f} x Atkinson-Brezovich and "
            f"{self.hergt_dutz_ratio:.2f} x Hergt-Dutz; eddy-current heating at the body surface "
            f"~{self.eddy_power_at_body_radius_W_per_m3:.3g} W/m3 "
            f"(~{self.eddy_temperature_rise_K:.2g} K local rise)"
        )


def field_safety(
    field_kA_per_m: float,
    freq_kHz: float,
    body_radius_m: float,
    limit: SafetyLimit = "hergt_dutz",
    perfusion_heat_sink_W_per_m3_K: float = 3.0e4,
) -> FieldSafety:
    """H*f versus both limits and the eddy-current heating at the body radius.

    ``perfusion_heat_sink_W_per_m3_K`` = rho_b c_b omega of the superficial tissue (default ~ IT'IS
    muscle/skin order, 3e4 W/m3/K; only used for the indicative temperature rise).
    """
    check_field(field_kA_per_m, freq_kHz)
    limits = safety_limits_A_per_m_s()
    if limit not in limits:
        raise InputError("safety_limit", limit, f"must be one of {sorted(limits)}")
    hf = field_kA_per_m * 1e3 * freq_kHz * 1e3
    p = eddy_current_power_W_per_m3(field_kA_per_m, freq_kHz, body_radius_m)
    return FieldSafety(
        field_kA_per_m=float(field_kA_per_m),
        freq_kHz=float(freq_kHz),
        h_times_f_A_per_m_s=hf,
        atkinson_brezovich_ratio=hf / limits["atkinson_brezovich"],
        hergt_dutz_ratio=hf / limits["hergt_dutz"],
        chosen_limit=limit,
        within_chosen_limit=hf <= limits[limit],
        eddy_power_at_body_radius_W_per_m3=p,
        eddy_temperature_rise_K=p / perfusion_heat_sink_W_per_m3_K,
    )


def enforce_field_safety(
    field_kA_per_m: float,
    freq_kHz: float,
    body_radius_m: float,
    limit: SafetyLimit = "hergt_dutz",
    allow_above_limit: bool = False,
) -> FieldSafety:
    """Like :func:`field_safety` but refuses (``InputError`` on ``field_kA_per_m``) a setting above the
    chosen limit unless ``allow_above_limit``. Returns the report either way when allowed."""
    report = field_safety(field_kA_per_m, freq_kHz, body_radius_m, limit)
    if not report.within_chosen_limit and not allow_above_limit:
        raise InputError(
            "field_kA_per_m",
            field_kA_per_m,
            f"refused: {report.message()}, above the chosen {limit} limit "
            f"({safety_limits_A_per_m_s()[limit]:.3g} A/m/s); set allow_above_safety_limit to run it anyway",
        )
    return report


def max_field_within_limit_kA_per_m(freq_kHz: float, limit: SafetyLimit = "hergt_dutz") -> float:
    """Largest amplitude [kA/m] at ``freq_kHz`` that satisfies the chosen H*f limit."""
    limits = safety_limits_A_per_m_s()
    if limit not in limits:
        raise InputError("safety_limit", limit, f"must be one of {sorted(limits)}")
    if not (math.isfinite(freq_kHz) and freq_kHz > 0):
        raise InputError("freq_kHz", freq_kHz, "must be > 0")
    return limits[limit] / (freq_kHz * 1e3) / 1e3
