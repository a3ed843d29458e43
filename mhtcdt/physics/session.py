"""Session control: a heat session is a field protocol, fixed amplitude or titrated to a target.

Titration (as clinicians titrate to tolerance)
----------------------------------------------
The controller acts on the normalised heating power ``u = (H / H_max)**n`` (``n`` = the agent's SLP field
exponent, so the deposit power density is ``q_max * u``). Before the session a steady-state solve with
the field on at ``H_max`` gives the linear gains ``G_margin`` and ``G_healthy`` (steady temperature rise
per unit ``u`` at the tumour margin and at the hottest healthy point). The controller then runs a
proportional-integral law every ``control_interval_s`` on the tighter of the two constraints::

    e_margin  = target_C - T_margin          (K)
    e_healthy = healthy_max_C - T_healthy_max
    e, G      = the smaller error and its gain
    u = clip(u_ff + Kp * min(e, 0) / G + I, u_min, 1),   I += e * dt_ctrl / (G * integral_time_s)

(anti-windup: integration only while ``|e| < integral_band_K`` and never into a saturated bound).
The proportional term acts only above a limit, so power is cut at once when a limit is exceeded but
is raised only by the integral (a slow ramp, as in
clinical titration), which avoids overshoot from the large start-up error.

with ``u_ff = min((target - T_base)/G_margin, (healthy_max - T_base)/G_healthy)`` as the feed-forward
(the planned amplitude). The amplitude applied is ``H = H_max * u**(1/n)``, never below ``field_min``.
Gains are re-scaled per patient, so no tuning per tumour size is needed.

``SessionControl`` is validated on construction; the numba step ``titration_step`` is used by the radial
kernel (``bioheat_radial``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from numba import njit

from mhtcdt.errors import InputError
from mhtcdt.physics.particles import load_magnetics


@dataclass(frozen=True)
class SessionControl:
    """How the field amplitude is chosen during a session.

    mode: ``"fixed"`` (amplitude given per patient/session) or ``"titrate"``.
    target_C: tumour-margin target temperature [C] (titrate only).
    healthy_max_C: healthy-tissue maximum [C] the controller must respect (titrate only).
    field_min_kA_per_m / field_max_kA_per_m: amplitude bounds of the applicator [kA/m].
    proportional_gain: Kp (dimensionless, in units of steady gain).
    integral_time_s: integral time [s].
    control_interval_s: how often the amplitude is changed [s] (clinical practice: about every minute).
    integral_band_K: the integral acts only while the controlling error is within this band [K].
    """

    mode: Literal["fixed", "titrate"] = "fixed"
    target_C: float | None = None
    healthy_max_C: float = 43.0
    field_min_kA_per_m: float = 2.0
    field_max_kA_per_m: float = 18.0
    proportional_gain: float = 0.5
    integral_time_s: float = 300.0
    control_interval_s: float = 60.0
    integral_band_K: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ("fixed", "titrate"):
            raise InputError("control.mode", self.mode, "must be 'fixed' or 'titrate'")
        if self.mode == "titrate":
            if self.target_C is None or not math.isfinite(self.target_C):
                raise InputError("control.target_C", self.target_C, "titration needs a finite target temperature")
            if not 37.0 < self.target_C < 60.0:
                raise InputError("control.target_C", self.target_C, "target must lie between 37 and 60 C")
        if not 37.0 < self.healthy_max_C < 60.0:
            raise InputError("control.healthy_max_C", self.healthy_max_C, "must lie between 37 and 60 C")
        if not (self.field_min_kA_per_m > 0 and math.isfinite(self.field_min_kA_per_m)):
            raise InputError("control.field_min_kA_per_m", self.field_min_kA_per_m, "must be > 0")
        if not (self.field_max_kA_per_m >= self.field_min_kA_per_m and math.isfinite(self.field_max_kA_per_m)):
            raise InputError(
                "control.field_max_kA_per_m",
                self.field_max_kA_per_m,
                "must be finite and >= field_min_kA_per_m",
            )
        h_device = float(load_magnetics()["device_range"]["field_kA_per_m"][1])
        if self.field_max_kA_per_m > h_device:
            raise InputError(
                "control.field_max_kA_per_m",
                self.field_max_kA_per_m,
                f"above the device range maximum {h_device} kA/m (magnetics.toml [device_range])",
            )
        for name in ("proportional_gain", "integral_time_s", "control_interval_s", "integral_band_K"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"control.{name}", v, "must be a finite number > 0")


@njit(cache=True)
def titration_step(
    t_margin: float,
    t_healthy_max: float,
    target_C: float,
    healthy_max_C: float,
    gain_margin: float,
    gain_healthy: float,
    u_ff: float,
    integral: float,
    kp: float,
    dt_ctrl_s: float,
    integral_time_s: float,
    u_min: float,
    integral_band_K: float,
) -> tuple[float, float]:
    """One PI update; returns (u, new integral). See the module docstring for the law."""
    e_m = target_C - t_margin
    e_h = healthy_max_C - t_healthy_max
    if e_h < e_m:
        e = e_h
        g = gain_healthy
    else:
        e = e_m
        g = gain_margin
    if g < 1e-9:
        g = 1e-9
    # proportional action only to cut power above a limit (no overshoot from the large start-up error)
    e_p = e if e < 0.0 else 0.0
    u_unclipped = u_ff + kp * e_p / g + integral
    new_integral = integral + e * dt_ctrl_s / (g * integral_time_s)
    # anti-windup: integrate only near the set point (|e| < integral_band_K: the feed-forward already
    # targets the steady state, so the rise must not wind the integral up) and not into a saturated bound
    if abs(e) > integral_band_K or (u_unclipped >= 1.0 and e > 0) or (u_unclipped <= u_min and e < 0):
        new_integral = integral
    u = u_ff + kp * e_p / g + new_integral
    if u > 1.0:
        u = 1.0
    if u < u_min:
        u = u_min
    return u, new_integral
