"""Closed-form solutions used as oracles for the bioheat solvers and the thermal-dose functions.

All temperatures are rises above the arterial temperature [K] unless named ``_C``.
"""

from __future__ import annotations

import math

import numpy as np


def heated_sphere_steady_rise(
    r_m: np.ndarray,
    a_m: float,
    q_W_per_m3: float,
    k_W_per_m_K: float,
    sink_W_per_m3_K: float,
    far_radius_m: float | None = None,
) -> np.ndarray:
    """Steady rise of a sphere of radius ``a`` heated uniformly by ``q`` in a homogeneous medium of
    conductivity ``k`` with perfusion sink ``rho_b c_b omega`` = ``sink`` (0 allowed), the rise vanishing at
    ``far_radius_m`` (None = infinite medium; then ``sink`` must be > 0).

    theta'' + 2 theta'/r - m^2 theta = -q/k inside, = 0 outside, m^2 = sink/k; theta and k theta' continuous.
    """
    r = np.asarray(r_m, dtype=np.float64)
    q, k = q_W_per_m3, k_W_per_m_K
    if sink_W_per_m3_K == 0.0:
        big_r = math.inf if far_radius_m is None else far_radius_m
        d = q * a_m**3 / (3.0 * k)
        inv_r_far = 0.0 if math.isinf(big_r) else 1.0 / big_r
        c = d * (1.0 / a_m - inv_r_far)
        inside = q * (a_m**2 - r**2) / (6.0 * k) + c
        outside = d * (1.0 / np.maximum(r, 1e-300) - inv_r_far)
        return np.where(r <= a_m, inside, outside)
    m = math.sqrt(sink_W_per_m3_K / k)
    theta_p = q / sink_W_per_m3_K
    # inside: theta_p + A sinh(m r)/r ; outside: B g(r)/r with g = sinh(m (R - r)) or exp(-m r)
    if far_radius_m is None:
        g_a, dg_a = math.exp(-m * a_m), -m * math.exp(-m * a_m)
    else:
        g_a, dg_a = math.sinh(m * (far_radius_m - a_m)), -m * math.cosh(m * (far_radius_m - a_m))
    s_a, ds_a = math.sinh(m * a_m), m * math.cosh(m * a_m)
    # value:  theta_p + A s_a/a = B g_a/a ; slope: A (ds_a a - s_a)/a^2 = B (dg_a a - g_a)/a^2
    mat = np.array([[s_a / a_m, -g_a / a_m], [(ds_a * a_m - s_a), -(dg_a * a_m - g_a)]])
    rhs = np.array([-theta_p, 0.0])
    coef_a, coef_b = np.linalg.solve(mat, rhs)
    rr = np.maximum(r, 1e-300)
    inside = theta_p + coef_a * np.where(r > 0, np.sinh(m * rr) / rr, m)
    if far_radius_m is None:
        g = np.exp(-m * rr)
    else:
        g = np.sinh(m * (far_radius_m - rr))
    outside = coef_b * g / rr
    return np.where(r <= a_m, inside, outside)


def uniform_heating_rise(
    t_s: np.ndarray, q_W_per_m3: float, rho_c_J_per_m3_K: float, sink_W_per_m3_K: float
) -> np.ndarray:
    """Rise [K] at times ``t_s`` [s] under uniform heating everywhere (no gradients):
    rho c dtheta/dt = q - sink theta."""
    t = np.asarray(t_s, dtype=np.float64)
    if sink_W_per_m3_K == 0.0:
        return q_W_per_m3 * t / rho_c_J_per_m3_K
    return q_W_per_m3 / sink_W_per_m3_K * (1.0 - np.exp(-sink_W_per_m3_K * t / rho_c_J_per_m3_K))


def cem43_constant(temperature_C: float, minutes: float) -> float:
    """CEM43 of a constant temperature held for ``minutes``: t R^(43 - T)."""
    r = 0.5 if temperature_C >= 43.0 else 0.25
    return minutes * r ** (43.0 - temperature_C)


def arrhenius_constant(temperature_C: float, seconds: float, a_per_s: float, ea_J_per_mol: float) -> float:
    """Arrhenius damage of a constant temperature: A exp(-Ea / (R T)) t."""
    return a_per_s * math.exp(-ea_J_per_mol / (8.314462618 * (temperature_C + 273.15))) * seconds
