"""Thermotolerance: HSP induction and decay driven by each session's thermal dose, reducing later heat kill.

Model (parameters and both timing presets in ``data/tissues.toml [thermotolerance.*]``)::

    H(t)  = min(1, s * sum_{i: t_i < t} A_i K(t - t_i))         HSP level, 0 = baseline, 1 = maximal
    A_i   = 1 - exp(-CEM43_i / D_ind)                           induction by session i (per shell)
    K(tau)= (tau / t_peak)^a exp(a (1 - tau / t_peak))          K(t_peak) = 1, K(t_baseline) = 0.05
    Omega_eff,j = Omega_j / (1 + (F - 1) H(t_j))                heat damage of session j (per shell)
    SF    = exp(-sum_j Omega_eff,j)                             per-shell surviving fraction

``s`` in [0, 1] scales HSP expression (1 = untreated; < 1 for HSP suppression, e.g. an HSP90 inhibitor or
glucose-oxidase ATP depletion, which Physics II passes as ``hsp_expression_scale``). Sessions are
treated as impulses: each lasts about an hour, short against the HSP time scale. ``t_j`` is the session
start time [h]. The shape ``a`` follows from ``peak_h`` and ``baseline_h``:
``a = ln(0.05) / (ln x - x + 1)`` with ``x = baseline_h / peak_h``.

:func:`kill_versus_interval` returns a DataFrame with columns ``interval_hours`` (float64) and
``log10_kill_heat`` (float64), one row per interval, showing how session spacing changes total heat kill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError
from mhtcdt.physics.dose import tumour_log10_kill
from mhtcdt.physics.records import table_entry, table_record
from mhtcdt.physics.tissue import load_tissue_data

BASELINE_LEVEL = 0.05


@dataclass(frozen=True)
class ThermotoleranceModel:
    """HSP-mediated thermotolerance parameters (see the module docstring)."""

    name: str
    peak_h: float
    baseline_h: float
    max_protection: float
    induction_cem43_min: float

    def __post_init__(self) -> None:
        for field in ("peak_h", "baseline_h", "induction_cem43_min"):
            v = getattr(self, field)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"thermotolerance.{field}", v, "must be a finite number > 0")
        if not self.baseline_h > self.peak_h:
            raise InputError("thermotolerance.baseline_h", self.baseline_h, "must exceed peak_h")
        if not (math.isfinite(self.max_protection) and self.max_protection >= 1):
            raise InputError("thermotolerance.max_protection", self.max_protection, "must be >= 1 (1 = none)")

    @property
    def shape(self) -> float:
        """Shape exponent a of the kernel, so that K(baseline_h) = BASELINE_LEVEL (dimensionless)."""
        x = self.baseline_h / self.peak_h
        return math.log(BASELINE_LEVEL) / (math.log(x) - x + 1.0)

    def kernel(self, hours_since: np.ndarray) -> np.ndarray:
        """Normalised HSP response K(tau) to one session, tau in hours (0 for tau <= 0)."""
        tau = np.asarray(hours_since, dtype=np.float64)
        x = np.where(tau > 0, tau, 1.0) / self.peak_h
        a = self.shape
        k = np.exp(a * (np.log(x) + 1.0 - x))
        return np.where(tau > 0, k, 0.0)


def thermotolerance_preset(name: str = "literature") -> ThermotoleranceModel:
    """``"literature"`` (raised 48-72 h, default: better supported) or ``"seed_review"`` (peak 18-20 h,
    baseline by 24 h)."""
    d = table_entry(load_tissue_data()["thermotolerance"], name, "thermotolerance", "preset")
    return table_record(ThermotoleranceModel, d, name=name)


def session_start_hours(n_sessions: int, interval_hours: float) -> np.ndarray:
    """Start times [h] of equally spaced sessions."""
    if not (math.isfinite(interval_hours) and interval_hours > 0):
        raise InputError("session_interval_hours", interval_hours, "must be > 0")
    return np.arange(n_sessions, dtype=np.float64) * interval_hours


def hsp_level(
    cem43_min: np.ndarray,
    start_hours: np.ndarray,
    model: ThermotoleranceModel,
    hsp_expression_scale: float = 1.0,
) -> np.ndarray:
    """HSP level at the start of each session, induced by the earlier ones.

    ``cem43_min``: (..., n_sessions, n_shells) per-session CEM43; returns the same shape (level in [0, 1]).
    """
    cem = np.asarray(cem43_min, dtype=np.float64)
    t = np.asarray(start_hours, dtype=np.float64)
    if cem.shape[-2] != t.shape[0]:
        raise InputError("start_hours", t.shape, f"needs one time per session ({cem.shape[-2]})")
    if np.any(np.diff(t) <= 0):
        raise InputError("start_hours", t.tolist(), "session times must increase")
    if not 0.0 <= hsp_expression_scale <= 1.0:
        raise InputError("hsp_expression_scale", hsp_expression_scale, "must lie in [0, 1]")
    induction = 1.0 - np.exp(-cem / model.induction_cem43_min)
    lag = t[:, None] - t[None, :]  # (j, i) hours from session i to session j
    weights = model.kernel(lag)  # zero for i >= j
    level = np.einsum("ji,...is->...js", weights, induction) * hsp_expression_scale
    return np.minimum(level, 1.0)


def heat_surviving_fraction_with_tolerance(
    omega: np.ndarray,
    cem43_min: np.ndarray,
    start_hours: np.ndarray,
    model: ThermotoleranceModel | None,
    hsp_expression_scale: float = 1.0,
) -> np.ndarray:
    """Per-shell surviving fraction after all sessions, (..., n_shells), from per-session Arrhenius damage
    ``omega`` and CEM43 (both (..., n_sessions, n_shells)); ``model=None`` means no thermotolerance."""
    om = np.asarray(omega, dtype=np.float64)
    if np.any(~np.isfinite(om)) or np.any(om < 0):
        raise InputError("omega", "negative or non-finite", "damage integrals must be finite and >= 0")
    if model is None:
        return np.exp(-om.sum(axis=-2))
    level = hsp_level(cem43_min, start_hours, model, hsp_expression_scale)
    return np.exp(-(om / (1.0 + (model.max_protection - 1.0) * level)).sum(axis=-2))


def kill_versus_interval(
    omega: np.ndarray,
    cem43_min: np.ndarray,
    shell_weights: np.ndarray,
    intervals_hours: np.ndarray,
    model: ThermotoleranceModel,
    hsp_expression_scale: float = 1.0,
) -> pd.DataFrame:
    """Tumour heat log10 kill of one patient's sessions (``omega``, ``cem43_min``: (n_sessions, n_shells))
    when the sessions are spaced by each of ``intervals_hours``."""
    rows = []
    n_sessions = np.asarray(omega).shape[-2]
    for interval in np.asarray(intervals_hours, dtype=np.float64):
        sf = heat_surviving_fraction_with_tolerance(
            omega, cem43_min, session_start_hours(n_sessions, float(interval)), model, hsp_expression_scale
        )
        rows.append((float(interval), float(tumour_log10_kill(sf, shell_weights))))
    return pd.DataFrame(rows, columns=["interval_hours", "log10_kill_heat"]).astype("float64")
