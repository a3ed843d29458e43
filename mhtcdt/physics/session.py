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

Clinical stepwise control (``mode="clinical"``, as practised with NanoTherm)
-------------------------------------------------------------------------
The amplitude starts at ``field_min_kA_per_m`` and, every ``control_interval_s``, :func:`clinical_step`
raises it by ``step_kA_per_m`` until a stop criterion holds, checked in this order:

1. the hottest healthy cell has accrued ``healthy_cem43_limit_min`` CEM43 minutes this session: field off;
2. the hottest healthy tissue is above ``healthy_max_C``, or the hottest healthy cell's CEM43 projected to
   the end of heating at its current rate exceeds the limit: one step down;
3. the thermometry reading (the hottest point of the catheter track) is above ``target_C +
   target_band_K``: one step down; at or above ``target_C``: hold;
4. the amplitude has reached the patient's tolerance ceiling or the device maximum ``field_max_kA_per_m``:
   hold;

otherwise one step up (to at most the ceiling). The code of the last criterion that held is the session's
stop reason (``heat_delivery.STOP_REASONS``; 0 = the session ended while the amplitude was still rising).

``SessionControl`` and ``SessionTiming`` are validated on construction. The radial kernel (``bioheat_radial``)
takes the controller as a :class:`TitrationLaw` (``SessionControl.law``), the per-patient gains as a
:class:`Titration` and calls the numba step :func:`titration_step`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numba import njit

from mhtcdt.errors import InputError
from mhtcdt.physics.particles import load_magnetics


@dataclass(frozen=True)
class SessionControl:
    """How the field amplitude is chosen during a session.

    mode: ``"fixed"`` (amplitude given per patient/session), ``"titrate"`` (PI on the tumour margin) or
        ``"clinical"`` (stepwise on the thermometry reading; module docstring).
    target_C: tumour-margin target (titrate) or thermometry target (clinical) temperature [C].
    healthy_max_C: healthy-tissue maximum [C] the controller must respect (titrate, clinical).
    field_min_kA_per_m / field_max_kA_per_m: amplitude bounds of the applicator [kA/m]; in clinical mode the
        first amplitude of a session and the device maximum.
    step_kA_per_m: one raise or cut of the clinical control [kA/m].
    target_band_K: clinical control: the amplitude is cut above target_C + target_band_K [K].
    healthy_cem43_limit_min: clinical control: per-session CEM43 limit of the hottest healthy cell [min]
        (inf = none).
    proportional_gain: Kp (dimensionless, in units of steady gain).
    integral_time_s: integral time [s].
    control_interval_s: how often the amplitude is changed [s] (clinical practice: about every minute).
    integral_band_K: the integral acts only while the controlling error is within this band [K].
    """

    mode: Literal["fixed", "titrate", "clinical"] = "fixed"
    target_C: float | None = None
    healthy_max_C: float = 43.0
    field_min_kA_per_m: float = 2.0
    field_max_kA_per_m: float = 18.0
    proportional_gain: float = 0.5
    integral_time_s: float = 300.0
    control_interval_s: float = 60.0
    integral_band_K: float = 0.5
    step_kA_per_m: float = 1.0
    target_band_K: float = 0.5
    healthy_cem43_limit_min: float = math.inf

    def __post_init__(self) -> None:
        if self.mode not in ("fixed", "titrate", "clinical"):
            raise InputError("control.mode", self.mode, "must be 'fixed', 'titrate' or 'clinical'")
        if self.mode in ("titrate", "clinical"):
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
        for name in (
            "proportional_gain",
            "integral_time_s",
            "control_interval_s",
            "integral_band_K",
            "step_kA_per_m",
            "target_band_K",
        ):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"control.{name}", v, "must be a finite number > 0")
        limit = self.healthy_cem43_limit_min
        if isinstance(limit, bool) or not (isinstance(limit, numbers.Real) and limit > 0 and not math.isnan(limit)):
            raise InputError("control.healthy_cem43_limit_min", limit, "must be a number of minutes > 0 (inf = none)")

    def law(self, control_interval_steps: int, dt_s: float) -> TitrationLaw:
        """The controller constants as the numba kernel takes them; the PI law acts every
        ``control_interval_steps`` solver steps of ``dt_s`` seconds."""
        return TitrationLaw(
            target_C=float(self.target_C or 0.0),
            healthy_max_C=float(self.healthy_max_C),
            proportional_gain=float(self.proportional_gain),
            control_dt_s=float(control_interval_steps * dt_s),
            integral_time_s=float(self.integral_time_s),
            integral_band_K=float(self.integral_band_K),
            target_band_K=float(self.target_band_K),
            healthy_cem43_limit_min=float(self.healthy_cem43_limit_min),
        )


class TitrationLaw(NamedTuple):
    """The PI law's constants (numba-compatible; see the module docstring)."""

    target_C: float  # tumour-margin target [C]
    healthy_max_C: float  # healthy-tissue maximum [C]
    proportional_gain: float  # Kp, in units of the steady gain
    control_dt_s: float  # time between two control actions [s]
    integral_time_s: float  # [s]
    integral_band_K: float  # the integral acts only while |error| is below this [K]
    target_band_K: float = 0.5  # clinical: cut the amplitude above target_C + target_band_K [K]
    healthy_cem43_limit_min: float = math.inf  # clinical: per-session CEM43 limit of the hottest healthy cell


class Titration(NamedTuple):
    """One patient's titration plan, from the steady states before the session (numba-compatible)."""

    gain_margin: float  # steady margin-temperature rise per unit normalised power u [K]
    gain_healthy: float  # steady healthy-maximum rise per unit u [K]
    u_ff: float  # feed-forward power: its steady state just meets the tighter limit
    u_min: float  # power at field_min_kA_per_m, (field_min / field_max)^n


@njit(cache=True)
def titration_step(
    t_margin: float, t_healthy_max: float, law: TitrationLaw, plan: Titration, integral: float
) -> tuple[float, float]:
    """One PI update from the margin and healthy-maximum temperatures [C]; returns (u, new integral).

    See the module docstring for the law; ``u`` is the normalised power (H / H_max)^n in [u_min, 1].
    """
    e_m = law.target_C - t_margin
    e_h = law.healthy_max_C - t_healthy_max
    if e_h < e_m:
        e = e_h
        g = plan.gain_healthy
    else:
        e = e_m
        g = plan.gain_margin
    if g < 1e-9:
        g = 1e-9
    # proportional action only to cut power above a limit (no overshoot from the large start-up error)
    e_p = e if e < 0.0 else 0.0
    u_unclipped = plan.u_ff + law.proportional_gain * e_p / g + integral
    new_integral = integral + e * law.control_dt_s / (g * law.integral_time_s)
    # anti-windup: integrate only near the set point (|e| < integral_band_K: the feed-forward already
    # targets the steady state, so the rise must not wind the integral up) and not into a saturated bound
    if abs(e) > law.integral_band_K or (u_unclipped >= 1.0 and e > 0) or (u_unclipped <= plan.u_min and e < 0):
        new_integral = integral
    u = plan.u_ff + law.proportional_gain * e_p / g + new_integral
    if u > 1.0:
        u = 1.0
    if u < plan.u_min:
        u = plan.u_min
    return u, new_integral


@njit(cache=True)
def clinical_step(
    field: float,
    t_reading: float,
    t_healthy_max: float,
    healthy_dose_min: float,
    healthy_dose_projected_min: float,
    ceiling: float,
    start: float,
    step: float,
    device_max: float,
    law: TitrationLaw,
) -> tuple[float, int]:
    """One action of the clinical stepwise control (module docstring); returns (amplitude [kA/m], reason).

    ``t_reading``: thermometry reading [C]; ``t_healthy_max``: hottest healthy tissue [C];
    ``healthy_dose_min`` / ``healthy_dose_projected_min``: CEM43 of the hottest healthy cell so far and
    projected to the end of heating [min]; ``ceiling``: the patient's tolerated amplitude; ``start``,
    ``step``, ``device_max`` [kA/m]. Reasons: 0 raised (or still rising), 1 thermometry target, 2
    tolerance ceiling, 3 healthy temperature, 4 healthy thermal dose, 5 device maximum."""
    if healthy_dose_min >= law.healthy_cem43_limit_min:
        return 0.0, 4
    if t_healthy_max > law.healthy_max_C:
        return max(field - step, 0.0), 3
    if healthy_dose_projected_min > law.healthy_cem43_limit_min:
        return max(field - step, 0.0), 4
    if t_reading > law.target_C + law.target_band_K:
        return max(field - step, 0.0), 1
    if t_reading >= law.target_C:
        return field, 1
    cap = min(ceiling, device_max)
    if field >= cap - 1e-9:
        return field, 2 if ceiling <= device_max else 5
    raised = field + step if field >= start else start
    return min(raised, cap), 0


@dataclass(frozen=True)
class SessionTiming:
    """The clock of one heat session [s]: field on for ``session_s``, then ``cooldown_s`` of recorded cooling
    (thermal dose accrued while cooling counts), solver step ``dt_s``, histories sampled every
    ``record_every_s`` (a whole multiple of ``dt_s``). ``session_s`` and ``cooldown_s`` are rounded to
    whole steps."""

    session_s: float = 3600.0
    cooldown_s: float = 900.0
    dt_s: float = 10.0
    record_every_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("session_s", "dt_s", "record_every_s"):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
                raise InputError(f"timing.{name}", v, "must be a finite number > 0")
        if not (isinstance(self.cooldown_s, numbers.Real) and math.isfinite(self.cooldown_s) and self.cooldown_s >= 0):
            raise InputError("timing.cooldown_s", self.cooldown_s, "must be a finite number >= 0")
        stride = int(round(self.record_every_s / self.dt_s))
        if stride < 1 or abs(stride * self.dt_s - self.record_every_s) > 1e-9 * self.record_every_s:
            raise InputError(
                "timing.record_every_s", self.record_every_s, f"must be a whole multiple of dt_s = {self.dt_s}"
            )

    def clock(self) -> SessionClock:
        """Step counts for the numba kernels."""
        n_heat = int(round(self.session_s / self.dt_s))
        return SessionClock(
            dt=float(self.dt_s),
            n_heat=n_heat,
            n_total=n_heat + int(round(self.cooldown_s / self.dt_s)),
            rec_every=int(round(self.record_every_s / self.dt_s)),
        )

    def record_times_s(self) -> np.ndarray:
        """Times of the recorded samples from the session start [s], shape (n_records,)."""
        c = self.clock()
        return np.arange(c.n_total // c.rec_every + 1, dtype=np.float64) * c.rec_every * c.dt


class SessionClock(NamedTuple):
    """A session in solver steps (numba-compatible)."""

    dt: float  # step [s]
    n_heat: int  # steps with the field on
    n_total: int  # steps with the field on + cooling steps
    rec_every: int  # steps between two recorded samples
