"""Thermal dose: CEM43, Arrhenius damage, volume temperature percentiles (T90/T50/T10), heat kill.

Equations
---------
* CEM43 (Sapareto & Dewey, IJROBP 1984;10:787): ``CEM43 = sum dt_min * R**(43 - T)`` with
  ``R = 0.5`` for T >= 43 C and ``0.25`` below (values in ``data/tissues.toml`` are not needed: the two
  constants are the definition of the dose unit, kept here as ``CEM43_R_ABOVE/BELOW``).
* Arrhenius damage: ``Omega = integral A exp(-Ea / (R_gas (T + 273.15))) dt``, surviving fraction
  ``exp(-Omega)``. Parameter sets (A, Ea pairs, never mixed) are in ``data/magnetics.toml`` under
  ``[arrhenius_sets]``; default ``he_bischof_2003_at1`` (AT-1 prostate tumour cells).
* Tx: the temperature exceeded by the fraction x of the tumour volume (T90: exceeded by 90 %), from
  shell or voxel temperatures and their volume weights. Each element is treated as uniform; the
  exceedance curve is interpolated linearly between element mid-points.

The numba primitives (``cem43_rate``, ``arrhenius_rate``, ``exceeded_temperature``) are used inside the
bioheat kernels; the numpy functions are for callers and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics.records import table_entry

CEM43_R_ABOVE = 0.5
CEM43_R_BELOW = 0.25
GAS_CONSTANT_J_PER_MOL_K = 8.314462618  # CODATA 2018 (R = N_A k_B, exact in the 2019 SI; chemistry.toml)
KELVIN_OFFSET = 273.15
_LN_R_ABOVE = math.log(CEM43_R_ABOVE)
_LN_R_BELOW = math.log(CEM43_R_BELOW)


@njit(cache=True)
def cem43_rate(temperature_C: float) -> float:
    """Equivalent minutes at 43 C accumulated per minute at ``temperature_C``."""
    # exp of a precomputed log is cheaper than pow inside the kernels' inner loop
    if temperature_C >= 43.0:
        return math.exp(_LN_R_ABOVE * (43.0 - temperature_C))
    return math.exp(_LN_R_BELOW * (43.0 - temperature_C))


@njit(cache=True)
def arrhenius_rate(temperature_C: float, a_per_s: float, ea_J_per_mol: float) -> float:
    """Damage rate k(T) = A exp(-Ea / (R T)) [1/s]."""
    return a_per_s * math.exp(-ea_J_per_mol / (GAS_CONSTANT_J_PER_MOL_K * (temperature_C + KELVIN_OFFSET)))


@njit(cache=True)
def exceeded_temperature(temps: np.ndarray, weights: np.ndarray, fraction: float) -> float:
    """Temperature exceeded by ``fraction`` of the total weight (e.g. 0.9 -> T90).

    ``temps`` and ``weights`` are 1-D of equal length; weights are volumes (any positive scale).
    """
    order = np.argsort(-temps)
    return _exceeded_from_order(temps, weights, fraction, order)


@njit(cache=True)
def exceeded_temperature_inplace(temps: np.ndarray, weights: np.ndarray, fraction: float, order: np.ndarray) -> float:
    """Same as :func:`exceeded_temperature` without allocation, for use at every time step.

    ``order`` (int64, a permutation of the indices) is re-sorted in place by insertion sort to descending
    temperature; between time steps it is nearly sorted already, so this costs O(n).
    """
    n = temps.shape[0]
    for i in range(1, n):
        key = order[i]
        t_key = temps[key]
        j = i - 1
        while j >= 0 and temps[order[j]] < t_key:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = key
    return _exceeded_from_order(temps, weights, fraction, order)


@njit(cache=True)
def _exceeded_from_order(temps: np.ndarray, weights: np.ndarray, fraction: float, order: np.ndarray) -> float:
    """Volume-weighted exceeded temperature given ``order`` (indices by descending temperature):
    linear interpolation between the volume midpoints of neighbouring cells."""
    n = temps.shape[0]
    total = 0.0
    for i in range(n):
        total += weights[i]
    cum = 0.0
    prev_mid = 0.0
    prev_t = temps[order[0]]
    for k in range(n):
        j = order[k]
        mid = (cum + 0.5 * weights[j]) / total
        if fraction <= mid:
            if k == 0:
                return temps[j]
            return prev_t + (temps[j] - prev_t) * (fraction - prev_mid) / (mid - prev_mid)
        prev_mid = mid
        prev_t = temps[j]
        cum += weights[j]
    return temps[order[n - 1]]


def _check_temperatures(temperature_C: np.ndarray, field: str) -> np.ndarray:
    t = np.asarray(temperature_C, dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise InputError(field, "non-finite", "temperatures must be finite")
    if np.any(t < 0.0):
        raise InputError(field, float(t.min()), "temperature below 0 C")
    return t


def cem43_minutes(temperature_C: np.ndarray, dt_s: float) -> np.ndarray:
    """CEM43 [min] of temperature histories sampled every ``dt_s`` seconds along the LAST axis.

    Rectangle rule (each sample held for ``dt_s``): for a constant temperature this is exactly
    ``t_min * R**(43 - T)``.
    """
    t = _check_temperatures(temperature_C, "temperature_C")
    if not (dt_s > 0 and math.isfinite(dt_s)):
        raise InputError("dt_s", dt_s, "time step must be > 0")
    r = np.where(t >= 43.0, CEM43_R_ABOVE, CEM43_R_BELOW)
    return np.sum(r ** (43.0 - t), axis=-1) * dt_s / 60.0


def arrhenius_omega(temperature_C: np.ndarray, dt_s: float, a_per_s: float, ea_J_per_mol: float) -> np.ndarray:
    """Arrhenius damage integral Omega (dimensionless) of histories along the last axis (rectangle rule)."""
    t = _check_temperatures(temperature_C, "temperature_C")
    if not (dt_s > 0 and math.isfinite(dt_s)):
        raise InputError("dt_s", dt_s, "time step must be > 0")
    k = a_per_s * np.exp(-ea_J_per_mol / (GAS_CONSTANT_J_PER_MOL_K * (t + KELVIN_OFFSET)))
    return np.sum(k, axis=-1) * dt_s


def volume_percentile_temperature(temps_C: np.ndarray, weights: np.ndarray, exceeded_fraction: float) -> float:
    """Tx (e.g. ``exceeded_fraction=0.9`` -> T90) of one set of shell/voxel temperatures."""
    t = np.asarray(temps_C, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if t.shape != w.shape or t.size == 0:
        raise InputError("weights", w.shape, f"must match temperatures of shape {t.shape}")
    if np.any(w <= 0):
        raise InputError("weights", float(w.min()), "volume weights must be > 0")
    if not 0.0 <= exceeded_fraction <= 1.0:
        raise InputError("exceeded_fraction", exceeded_fraction, "must lie in [0, 1]")
    return float(exceeded_temperature(t, w, float(exceeded_fraction)))


@dataclass(frozen=True)
class ArrheniusSet:
    """One published (A, Ea) pair; never mix A and Ea from different sets."""

    name: str
    a_per_s: float
    ea_J_per_mol: float
    source: str
    verified: bool


def arrhenius_set(name: str = "he_bischof_2003_at1") -> ArrheniusSet:
    """An Arrhenius parameter set by key (``he_bischof_2003_at1``, ``henriques_1947_skin``, ``liver``)."""
    d = table_entry(load_toml("mhtcdt.physics", "data/magnetics.toml")["arrhenius_sets"], name, "arrhenius_set", "set")
    return ArrheniusSet(name, float(d["A_per_s"]), float(d["Ea_J_per_mol"]), d["source"], bool(d["verified"]))


def heat_surviving_fraction(omega: np.ndarray) -> np.ndarray:
    """Surviving fraction exp(-Omega) of cells with Arrhenius damage ``omega`` (>= 0)."""
    om = np.asarray(omega, dtype=np.float64)
    if np.any(~np.isfinite(om)) or np.any(om < 0):
        raise InputError("omega", "negative or non-finite", "damage integral must be finite and >= 0")
    return np.exp(-om)


def tumour_log10_kill(surviving_fraction_per_shell: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Tumour-level log10 kill from per-shell surviving fractions (last axis) and volume weights.

    ``-log10(sum_j w_j SF_j / sum_j w_j)``: the surviving cells of every shell are added, so an unheated
    shell caps the kill (the physical reason partial deposit coverage matters).
    """
    sf = np.asarray(surviving_fraction_per_shell, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    mean_sf = np.sum(sf * w, axis=-1) / np.sum(w)
    return -np.log10(np.maximum(mean_sf, 1e-300))
