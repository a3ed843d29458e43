"""Ferroptosis: lipid peroxidation against the GSH/GPX4 capacity, and the resulting death hazard.

Mechanism (review 004, section 2; review 000 section 3.1): .OH (from Fenton chemistry) and labile Fe2+
drive peroxidation of PUFA phospholipids; GPX4 reduces lipid hydroperoxides (LOOH) using GSH; when GSH is
depleted or GPX4 inhibited, its capacity collapses and LOOH accumulates; cells die when LOOH exceeds a
lethal level. The terms, used by both the scipy oracle (chemistry.py) and the numba path
(chemistry_fast.py)::

    initiation      v_i   = f_PUFA * k_bio[.OH] + v_basal                  (.OH hitting PUFA, basal LOX)
    propagation     each initiation yields nu * [LH]/[LH]0 LOOH (chain length nu, PUFA pool LH)
    Fe2+ branching  v_Fe  = k_FeL [Fe2+][LOOH]  -> LO. starts a new chain (net nu*[LH]/[LH]0 - 1 LOOH)
    GPX4            v_G   = Vmax * a_GPX4 * GSH/(K_GSH + GSH) * LOOH/(K_L + LOOH)     (uses 2 GSH)
    PUFA repair     d[LH]/dt += k_rep ([LH]0 - [LH])   (membrane remodelling / resynthesis)
    death hazard    h     = h_max * x^n / (1 + x^n),  x = (P - P_b) / P_lethal,  P = 1 - [LH]/[LH]0  [1/s]
                    (P_b: the untreated cell's homeostatic level, chemistry.basal_peroxidised_fraction)
    heat x ROS      h_int = h * s * max(0, T - 37)/6   (s = 0 by default; see data/chemistry.toml)

The Fe2+-branching term makes peroxidation autocatalytic once nu * k_FeL [Fe2+] exceeds GPX4's
first-order clearance Vmax/K_L: the threshold behaviour of ferroptosis. Death is tied to the peroxidised
share of membrane PUFA (irreversible damage accumulated, repaired slowly), not to the momentary LOOH
level: a faster or earlier burst is never less lethal (kill is monotone in heat, iron and GSH loss).
Surviving fraction of the element is ``exp(-integral h dt)``. All numbers are modelling assumptions (verified = false).

Units: concentrations in M (LOOH reported in uM), rates in M/s, hazards in 1/s.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def gpx4_rate(vmax_active: float, gsh: float, k_gsh: float, looh: float, km_looh: float) -> float:
    """GPX4 reduction rate of LOOH [M/s] with GSH saturation (capacity collapses as GSH falls)."""
    if gsh <= 0.0 or looh <= 0.0:
        return 0.0
    return vmax_active * gsh / (k_gsh + gsh) * looh / (km_looh + looh)


@njit(cache=True)
def death_hazard(peroxidised_fraction: float, lethal_fraction: float, hill: float, h_max: float) -> float:
    """Ferroptotic death hazard [1/s]: Hill function of the peroxidised PUFA fraction relative to the lethal
    fraction (half-maximal hazard there)."""
    if peroxidised_fraction <= 0.0:
        return 0.0
    x = (peroxidised_fraction / lethal_fraction) ** hill
    return h_max * x / (1.0 + x)


@njit(cache=True)
def heat_ros_factor(temperature_C: float, sensitisation: float) -> float:
    """Extra multiple of the ferroptotic hazard caused by heat: ``s * max(0, T - 37) / 6``."""
    if temperature_C <= 37.0:
        return 0.0
    return sensitisation * (temperature_C - 37.0) / 6.0


def autocatalysis_threshold_fe2_M(
    chain_length: float,
    k_fe2_looh: float,
    gpx4_vmax: float,
    gpx4_km_looh: float,
    gsh_M: float,
    k_gsh_M: float,
) -> float:
    """Labile Fe2+ [M] above which Fe2+-driven LOOH branching outgrows GPX4 (linearised at low LOOH).

    ``(nu - 1) k_FeL [Fe2+] = Vmax * GSH/(K + GSH) / K_L``; a closed form used in tests and reports.
    """
    capacity = gpx4_vmax * gsh_M / (k_gsh_M + gsh_M) / gpx4_km_looh
    if chain_length <= 1.0:
        return math.inf
    return capacity / ((chain_length - 1.0) * k_fe2_looh)
