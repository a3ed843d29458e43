"""Combined tumour kill: per-element surviving fractions from heat, CDT/ferroptosis and RT, combined to
a tumour-level surviving fraction and an additive attribution of log10 kill by mechanism.

Per element e (a radial shell, split into its part inside and outside the particle deposit) with volume
weight w_e, the log surviving fractions are combined multiplicatively (independent lethal hits)::

    ln S_e = ln S_rt,37 + ln S_heat,e + ln S_cdt,e + [ln S_rt,heated,e - ln S_rt,37] + ln S_heatxROS,e

The tumour survives as the volume average ``S = sum_e w_e S_e / sum_e w_e`` (surviving cells of every
element add up, so an unheated or particle-free element caps the kill). Attribution is sequential, in
the fixed order RT (standard of care) -> heat -> CDT -> interactions::

    L_rt   = -log10 sum w S_rt,37                         log10_kill_rt
    L_1    = -log10 sum w S_rt,37 S_heat                  log10_kill_heat        = L_1 - L_rt
    L_2    = -log10 sum w S_rt,37 S_heat S_cdt            log10_kill_cdt         = L_2 - L_1
    L_tot  = -log10 sum w S_e                             log10_kill_interaction = L_tot - L_2

Each increment is >= 0 because every added factor is <= 1, and the four add up to the total exactly.
The interaction term holds thermal radiosensitisation and the (default-zero) heat x ROS term.
Computed in the log domain (logsumexp), so kills of hundreds of logs neither underflow nor give NaN.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from mhtcdt.errors import InputError, ModelError

LN10 = math.log(10.0)


def _log10_kill(ln_w: np.ndarray, ln_s: np.ndarray) -> np.ndarray:
    return -(logsumexp(ln_w + ln_s, axis=-1) - logsumexp(ln_w, axis=-1)) / LN10


def combine_kill(
    weights: np.ndarray,
    ln_s_rt37: np.ndarray,
    ln_s_heat: np.ndarray,
    ln_s_cdt: np.ndarray,
    ln_s_rt_heated: np.ndarray | None = None,
    ln_s_heat_ros: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Tumour-level log10 kill by mechanism for ``n`` patients with ``E`` elements each.

    weights: (n, E) element volume weights (>= 0, positive row sums).
    ln_s_rt37: (n,) or (n, E) natural-log RT survival at 37 C. ln_s_heat, ln_s_cdt: (n, E) (<= 0).
    ln_s_rt_heated: (n, E) RT survival with thermal radiosensitisation (None = same as 37 C); values above
        the 37 C survival are clipped to it (the fitted beta reduction is not extrapolated into protection).
    ln_s_heat_ros: (n, E) extra ln survival from heat sensitising cells to ROS (None = 0).
    Returns arrays (n,): log10_kill_rt, log10_kill_heat, log10_kill_cdt, log10_kill_interaction,
    log10_kill_total, surviving_fraction.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise InputError("weights", w.shape, "expected (n_patients, n_elements)")
    n, e = w.shape
    if np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(w.sum(axis=1) <= 0):
        raise InputError(
            "weights",
            "negative, non-finite or all-zero row",
            "element weights must be >= 0 with positive sum",
        )

    def arr(name: str, x) -> np.ndarray:
        a = np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(n, -1), (n, e))
        if np.any(np.isnan(a)) or np.any(a > 1e-12):
            raise InputError(
                name,
                float(np.nanmax(a)) if not np.all(np.isnan(a)) else "NaN",
                "log surviving fractions must be <= 0 and not NaN",
            )
        return np.minimum(a, 0.0)

    rt = arr("ln_s_rt37", ln_s_rt37)
    heat = arr("ln_s_heat", ln_s_heat)
    cdt = arr("ln_s_cdt", ln_s_cdt)
    rt_h = rt if ln_s_rt_heated is None else np.minimum(arr("ln_s_rt_heated", ln_s_rt_heated), rt)
    ros = np.zeros((n, e)) if ln_s_heat_ros is None else arr("ln_s_heat_ros", ln_s_heat_ros)
    with np.errstate(divide="ignore"):
        ln_w = np.log(w)
    l_rt = _log10_kill(ln_w, rt)
    l1 = _log10_kill(ln_w, rt + heat)
    l2 = _log10_kill(ln_w, rt + heat + cdt)
    lt = _log10_kill(ln_w, rt_h + heat + cdt + ros)
    out = {
        "log10_kill_rt": np.maximum(l_rt, 0.0),
        "log10_kill_heat": np.maximum(l1 - l_rt, 0.0),
        "log10_kill_cdt": np.maximum(l2 - l1, 0.0),
        "log10_kill_interaction": np.maximum(lt - l2, 0.0),
    }
    total = out["log10_kill_rt"] + out["log10_kill_heat"] + out["log10_kill_cdt"] + out["log10_kill_interaction"]
    out["log10_kill_total"] = total
    out["surviving_fraction"] = 10.0 ** (-total)
    for k, v in out.items():
        if not np.all(np.isfinite(v)):
            raise ModelError(f"combined kill produced non-finite {k}")
    return out
