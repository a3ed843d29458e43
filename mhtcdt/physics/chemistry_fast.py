"""Fast numba path for the Fenton/CDT + ferroptosis chemistry of chemistry.py.

Reductions, all checked against the scipy Radau oracle (tests/physics/test_chemistry_fast.py):

1. Quasi-steady-state radicals. .OH lives ~1 ns (pseudo-first-order loss >= 1e9 1/s), superoxide ~50 us
   (SOD) and ferryl <= ~10 ms (biomolecules >= 1e2 1/s plus GSH); every other species changes on >= 10 ms
   and the iron held as ferryl is negligible. Their balances are solved algebraically each call
   (production = loss, including the quadratic radical-radical terminations, two fixed-point passes; ferryl
   is linear). The error is of order radical lifetime / slow time scale.
2. Dissolved O2 is dropped: no rate depends on it (the oracle keeps it as a diagnostic).
3. A linearly implicit Rosenbrock 2(3) integrator (the ode23s pair of Shampine & Reichelt 1997, L-stable),
   adaptive, with the analytic Jacobian through the quasi-steady radicals (:func:`jacobian_k`) and first-same-
   as-last reuse of f. The exposure integrals feed back into nothing, so only the coupled block (9 species) is
   factorised; the integrals follow by substitution. Hand-written because scipy's integrators cannot be called
   from numba and the per-patient Python overhead would dominate a cohort.
4. Steps may cross temperature nodes. T(t) is always evaluated on the full piecewise-linear history, but a
   step must end at every *breakpoint*: a node where the history departs from the straight line between
   breakpoints by more than ``BREAKPOINT_TOL_C`` (:func:`breakpoints`; so no heat session or ramp can be
   stepped over). A 60-min session recorded every 2 min (~38 nodes) has a handful of breakpoints; the
   error control sees the small kinks that remain inside a step.

State vector (M): Fe2, Fe3, H2O2, GSH, GSSG, LOOH, LH, FeP, FeT (ferritin iron), then the integrals
1e9*int[OH]dt, 1e6*int[FeO]dt, int h dt (ferroptosis hazard) and int h*heat-factor dt (heat x ROS).
``integrate`` runs one chemistry (its :class:`RunParameters`, :class:`Tolerances`); ``run_batch`` runs many
(patient, element) chemistries in parallel with ``prange`` (a :class:`Batch` in, :class:`BatchOutputs` out).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics.ferroptosis import death_hazard, gpx4_rate, heat_ros_factor

F_FE2, F_FE3, F_H2O2, F_GSH, F_GSSG, F_LOOH, F_LH, F_FEP, F_FT = range(9)
F_OHC, F_FEOC, F_OMF, F_OMI = 9, 10, 11, 12
N_COUPLED = 9  # species that feed back into the rates (factorised block)
N_FAST = 13
STATUS_OK, STATUS_STEP_UNDERFLOW, STATUS_NON_FINITE, STATUS_TOO_MANY_STEPS = 0, 1, 2, 3
BREAKPOINT_TOL_C = 0.03  # a step ends where T(t) leaves the chord between breakpoints by more than this [C]
# (0.03 C: fewer steps than 0.1 C, because the error control then meets no kink inside a step; 0.5-2 C need more)
_D = 1.0 / (2.0 + math.sqrt(2.0))
_E32 = 6.0 + math.sqrt(2.0)


class RunParameters(NamedTuple):
    """One chemistry's packed parameters (``chemistry.pack_parameters``)."""

    kref: np.ndarray  # (N_RATES,) rate constants at the reference temperatures
    ea: np.ndarray  # (N_RATES,) activation energies [J/mol]
    trefs: np.ndarray  # (N_RATES,) reference temperatures [K]
    s: np.ndarray  # (N_SCALARS,) scalar parameters


class Tolerances(NamedTuple):
    """Error control of the Rosenbrock integrator."""

    rtol: float  # relative tolerance
    atol: np.ndarray  # (N_FAST,) absolute tolerance per state [M]
    max_steps: int  # attempted steps before giving up (STATUS_TOO_MANY_STEPS)


class Batch(NamedTuple):
    """Many chemistries: row i of the parameter arrays, ``y0[i]`` and the temperature history
    ``t_flat[offsets[i]:offsets[i + 1]]`` [s], ``temp_flat[...]`` [C]."""

    kref: np.ndarray  # (m, N_RATES)
    ea: np.ndarray  # (m, N_RATES)
    trefs: np.ndarray  # (m, N_RATES)
    s: np.ndarray  # (m, N_SCALARS)
    y0: np.ndarray  # (m, N_FAST)
    t_flat: np.ndarray
    temp_flat: np.ndarray
    offsets: np.ndarray  # (m + 1,) int64


class BatchOutputs(NamedTuple):
    """What :func:`run_batch` fills, one row per chemistry."""

    y: np.ndarray  # (m, N_FAST) final state
    gsh_min: np.ndarray  # (m,) lowest GSH [M]
    looh_max: np.ndarray  # (m,) highest LOOH [M]
    fe2_max: np.ndarray  # (m,) highest labile Fe2+ [M]
    status: np.ndarray  # (m,) int64 STATUS_*
    steps: np.ndarray  # (m,) int64 attempted steps


@njit(cache=True)
def _interp(t, tn, temps):
    n = tn.shape[0]
    if t <= tn[0]:
        return temps[0]
    if t >= tn[n - 1]:
        return temps[n - 1]
    j = np.searchsorted(tn, t) - 1
    w = (t - tn[j]) / (tn[j + 1] - tn[j])
    return temps[j] + w * (temps[j + 1] - temps[j])


@njit(cache=True)
def breakpoints(tn: np.ndarray, temps: np.ndarray, tol_C: float) -> np.ndarray:
    """Indices of the nodes every step must end at: greedy, each chord between consecutive breakpoints
    passes within ``tol_C`` [C] of every node it spans (always includes the first and last node)."""
    n = tn.shape[0]
    out = np.empty(n, dtype=np.int64)
    out[0] = 0
    m = 1
    a = 0
    while a < n - 1:
        b = a + 1
        while b + 1 < n:
            c = b + 1
            ok = True
            for j in range(a + 1, c):
                chord = temps[a] + (temps[c] - temps[a]) * (tn[j] - tn[a]) / (tn[c] - tn[a])
                if abs(temps[j] - chord) > tol_C:
                    ok = False
                    break
            if not ok:
                break
            b = c
        out[m] = b
        m += 1
        a = b
    return out[:m]


@njit(cache=True)
def radicals_qssa(y: np.ndarray, k: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """Quasi-steady .OH, superoxide (HO2. + O2.-) and ferryl [M] for the slow state ``y`` [M], rate
    constants ``k`` and scalar parameters ``s``."""
    fe2 = max(y[F_FE2], 0.0)
    fe3 = max(y[F_FE3], 0.0)
    h2o2 = max(y[F_H2O2], 0.0)
    gsh = max(y[F_GSH], 0.0)
    fep = max(y[F_FEP], 0.0)
    f = s[ch.P_F_HO2]
    fenton = k[ch.R_FE2_H2O2] * fe2 * h2o2
    feo = (1.0 - s[ch.P_OH_YIELD]) * fenton / (k[ch.R_FERRYL_FE2] * fe2 + k[ch.R_FERRYL_GSH] * gsh + k[ch.R_FERRYL_BIO])
    p_oh = s[ch.P_OH_YIELD] * fenton + k[ch.R_SURF] * fep * h2o2
    l_oh = k[ch.R_OH_H2O2] * h2o2 + k[ch.R_FE2_OH] * fe2 + k[ch.R_GSH_OH] * gsh + k[ch.R_OH_BIO]
    l_so = (
        f * (k[ch.R_FE3_HO2] * fe3 + k[ch.R_FE2_HO2] * fe2)
        + (1.0 - f) * (k[ch.R_FE3_O2M] * fe3 + k[ch.R_FE2_O2M] * fe2)
        + k[ch.R_SOD]
    )
    oh = p_oh / l_oh
    so = 0.0
    for _ in range(2):
        p_so = k[ch.R_FE3_H2O2] * fe3 * h2o2 + k[ch.R_OH_H2O2] * oh * h2o2
        lso = l_so + (f * k[ch.R_OH_HO2] + (1.0 - f) * k[ch.R_OH_O2M]) * oh
        q = 2.0 * (k[ch.R_HO2_HO2] * f * f + k[ch.R_HO2_O2M] * f * (1.0 - f))
        so = 2.0 * p_so / (lso + math.sqrt(lso * lso + 4.0 * q * p_so))
        loh = l_oh + (f * k[ch.R_OH_HO2] + (1.0 - f) * k[ch.R_OH_O2M]) * so
        q2 = 2.0 * k[ch.R_OH_OH]
        oh = 2.0 * p_oh / (loh + math.sqrt(loh * loh + 4.0 * q2 * p_oh))
    return oh, so, feo


@njit(cache=True)
def rhs_k(y: np.ndarray, k: np.ndarray, s: np.ndarray, temp_C: float, dy: np.ndarray) -> None:
    """Slow-species derivatives [M/s] into ``dy`` with radicals and ferryl at quasi-steady state (rate
    constants ``k`` at ``temp_C`` [C] given)."""
    fe2 = max(y[F_FE2], 0.0)
    fe3 = max(y[F_FE3], 0.0)
    h2o2 = max(y[F_H2O2], 0.0)
    gsh = max(y[F_GSH], 0.0)
    gssg = max(y[F_GSSG], 0.0)
    looh = max(y[F_LOOH], 0.0)
    lh = max(y[F_LH], 0.0)
    fep = max(y[F_FEP], 0.0)
    ft = max(y[F_FT], 0.0)
    oh, so, feo = radicals_qssa(y, k, s)
    f = s[ch.P_F_HO2]
    ho2 = f * so
    o2m = (1.0 - f) * so
    r1 = k[ch.R_FE2_H2O2] * fe2 * h2o2  # Fenton events, .OH and ferryl branches together
    rfo_fe = k[ch.R_FERRYL_FE2] * feo * fe2
    rfo_gsh = k[ch.R_FERRYL_GSH] * feo * gsh
    rfo_bio = k[ch.R_FERRYL_BIO] * feo
    r1b = k[ch.R_FE3_H2O2] * fe3 * h2o2
    r2 = k[ch.R_OH_H2O2] * oh * h2o2
    r3 = k[ch.R_FE3_HO2] * fe3 * ho2
    r3b = k[ch.R_FE3_O2M] * fe3 * o2m
    r4 = k[ch.R_FE2_HO2] * fe2 * ho2
    r4b = k[ch.R_FE2_O2M] * fe2 * o2m
    r5 = k[ch.R_FE2_OH] * fe2 * oh
    r6 = k[ch.R_OH_OH] * oh * oh
    r7 = k[ch.R_HO2_HO2] * ho2 * ho2 + k[ch.R_HO2_O2M] * ho2 * o2m  # both dismutations give H2O2 + O2
    r10 = k[ch.R_GSH_OH] * gsh * oh
    r11 = k[ch.R_GSH_H2O2] * gsh * h2o2
    r12 = k[ch.R_GSH_FE3] * gsh * fe3
    rsod = k[ch.R_SOD] * so
    rcat = k[ch.R_CAT] * h2o2
    rgpx = k[ch.R_GPX] * h2o2 * gsh / (s[ch.P_K_GPX_GSH] + gsh)
    rgr = k[ch.R_GR] * gssg / (s[ch.P_KM_GR] + gssg)
    rsurf = k[ch.R_SURF] * fep * h2o2
    rel = k[ch.R_DISS] * fep
    phi = ft / s[ch.P_FT_CAPACITY]
    up2 = s[ch.P_FT_K_IN] * fe2 * (1.0 - phi)
    up3 = s[ch.P_FT_K_IN] * fe3 * (1.0 - phi)
    out2 = s[ch.P_FT_K_OUT2] * phi
    out3 = s[ch.P_FT_K_OUT3] * phi
    turn = s[ch.P_TURNOVER]
    chain = s[ch.P_CHAIN] * lh / s[ch.P_LH0]
    init = s[ch.P_F_PUFA] * k[ch.R_OH_BIO] * oh + s[ch.P_F_PUFA_FERRYL] * rfo_bio + s[ch.P_BASAL_INIT]
    vfel = k[ch.R_FE2_LOOH] * fe2 * looh
    vg4 = gpx4_rate(k[ch.R_GPX4] * s[ch.P_GPX4_ACTIVE], gsh, s[ch.P_K_GPX_GSH], looh, s[ch.P_KM_LOOH])
    fe2rel = s[ch.P_FE2_FRAC_RELEASE]
    dy[F_FE2] = (
        -r1 - rfo_fe + r1b + r3 + r3b - r4 - r4b - r5 + r12 + rel * (fe2rel + s[ch.P_METAL_EQ]) - up2 + out2 - vfel
    )
    # Fe3: every Fenton event ends as one Fe3 (directly, or its ferryl is reduced at QSSA: production (1-Y) r1 =
    # loss), and ferryl + Fe2 oxidises one more Fe2
    dy[F_FE3] = r1 + rfo_fe - r1b - r3 - r3b + r4 + r4b + r5 - r12 + rel * (1.0 - fe2rel) - up3 + out3 + vfel
    dy[F_H2O2] = -r1 - r1b - r2 + r4 + r4b + r6 + r7 - r11 + 0.5 * rsod - rcat - rgpx + s[ch.P_H2O2_PROD] - rsurf
    dy[F_GSH] = -r10 - rfo_gsh - 2.0 * r11 - r12 - 2.0 * rgpx + 2.0 * rgr + turn * (s[ch.P_GSH_POOL0] - gsh) - 2.0 * vg4
    dy[F_GSSG] = 0.5 * r10 + 0.5 * rfo_gsh + r11 + 0.5 * r12 + rgpx - rgr - turn * gssg + vg4
    dy[F_LOOH] = chain * init + (chain - 1.0) * vfel - vg4
    dy[F_LH] = -chain * (init + vfel) + s[ch.P_K_REPAIR] * (s[ch.P_LH0] - lh)
    dy[F_FEP] = -rel
    dy[F_FT] = up2 + up3 - out2 - out3
    h = death_hazard(1.0 - lh / s[ch.P_LH0] - s[ch.P_P_BASAL], s[ch.P_LETHAL_FRACTION], s[ch.P_HILL], s[ch.P_HMAX])
    dy[F_OHC] = ch.OH_CUM_SCALE * oh
    dy[F_FEOC] = ch.FEO_CUM_SCALE * feo
    dy[F_OMF] = h
    dy[F_OMI] = h * heat_ros_factor(temp_C, s[ch.P_HEAT_ROS])


@njit(cache=True)
def _add(jac, row, coef, grad):
    """jac[row, :] += coef * grad (one rate's gradient over the coupled species)."""
    for j in range(N_COUPLED):
        jac[row, j] += coef * grad[j]


N_JAC_SCRATCH = 8  # rows of the scratch array of :func:`jacobian_k`


@njit(cache=True)
def jacobian_k(
    y: np.ndarray, k: np.ndarray, s: np.ndarray, temp_C: float, jac: np.ndarray, scratch: np.ndarray
) -> None:
    """Analytic Jacobian of :func:`rhs_k` with respect to the coupled species, (N_FAST, N_COUPLED) into ``jac``
    (``scratch``: a (N_JAC_SCRATCH, N_COUPLED) work array).

    Chain rule through the quasi-steady radicals: ferryl is explicit; .OH and superoxide follow from implicit
    differentiation of their two balances (production = loss, with the radical-radical terminations), whose
    root :func:`radicals_qssa` approximates to far below the integrator's tolerance. Checked against finite
    differences in tests/physics/test_chemistry_fast.py. Species clamped at zero contribute no derivative.
    """
    a = max(y[F_FE2], 0.0)
    b = max(y[F_FE3], 0.0)
    h2o2 = max(y[F_H2O2], 0.0)
    g = max(y[F_GSH], 0.0)
    q = max(y[F_GSSG], 0.0)
    lo = max(y[F_LOOH], 0.0)
    lh = max(y[F_LH], 0.0)
    fep = max(y[F_FEP], 0.0)
    ft = max(y[F_FT], 0.0)
    pos, d_feo, g1, g2, d_oh, d_so, gr, d_init = scratch  # rows of the work array
    # pos: 1 where the species is positive (else its derivative is zero)
    for j in range(N_COUPLED):
        pos[j] = 1.0 if y[j] > 0.0 else 0.0
    oh, so, feo = radicals_qssa(y, k, s)
    f = s[ch.P_F_HO2]
    yld = s[ch.P_OH_YIELD]
    kf = k[ch.R_FE2_H2O2]
    # ---- radical derivatives d(radical)/d(species)
    l_feo = k[ch.R_FERRYL_FE2] * a + k[ch.R_FERRYL_GSH] * g + k[ch.R_FERRYL_BIO]
    for j in range(N_COUPLED):
        d_feo[j] = 0.0
        g1[j] = 0.0
        g2[j] = 0.0
    d_feo[F_FE2] = ((1.0 - yld) * kf * h2o2 - feo * k[ch.R_FERRYL_FE2]) / l_feo
    d_feo[F_H2O2] = (1.0 - yld) * kf * a / l_feo
    d_feo[F_GSH] = -feo * k[ch.R_FERRYL_GSH] / l_feo
    c = f * k[ch.R_OH_HO2] + (1.0 - f) * k[ch.R_OH_O2M]
    l_oh = k[ch.R_OH_H2O2] * h2o2 + k[ch.R_FE2_OH] * a + k[ch.R_GSH_OH] * g + k[ch.R_OH_BIO]
    k_so_fe3 = f * k[ch.R_FE3_HO2] + (1.0 - f) * k[ch.R_FE3_O2M]
    k_so_fe2 = f * k[ch.R_FE2_HO2] + (1.0 - f) * k[ch.R_FE2_O2M]
    l_so = k_so_fe3 * b + k_so_fe2 * a + k[ch.R_SOD]
    q_oh = 2.0 * k[ch.R_OH_OH]
    q_so = 2.0 * (k[ch.R_HO2_HO2] * f * f + k[ch.R_HO2_O2M] * f * (1.0 - f))
    a11 = -(l_oh + c * so) - 2.0 * q_oh * oh
    a12 = -c * oh
    a21 = k[ch.R_OH_H2O2] * h2o2 - c * so
    a22 = -(l_so + c * oh) - 2.0 * q_so * so
    det = a11 * a22 - a12 * a21
    # g1, g2: dG_oh/d(species), dG_so/d(species)
    g1[F_FE2] = yld * kf * h2o2 - k[ch.R_FE2_OH] * oh
    g1[F_H2O2] = yld * kf * a + k[ch.R_SURF] * fep - k[ch.R_OH_H2O2] * oh
    g1[F_GSH] = -k[ch.R_GSH_OH] * oh
    g1[F_FEP] = k[ch.R_SURF] * h2o2
    g2[F_FE2] = -k_so_fe2 * so
    g2[F_FE3] = k[ch.R_FE3_H2O2] * h2o2 - k_so_fe3 * so
    g2[F_H2O2] = k[ch.R_FE3_H2O2] * b + k[ch.R_OH_H2O2] * oh
    for j in range(N_COUPLED):
        d_oh[j] = (-g1[j] * a22 + a12 * g2[j]) / det
        d_so[j] = (-a11 * g2[j] + a21 * g1[j]) / det
    # ---- rates and their gradients
    for i in range(N_FAST):
        for j in range(N_COUPLED):
            jac[i, j] = 0.0

    def reset():
        for j in range(N_COUPLED):
            gr[j] = 0.0

    # Fenton r1 = kf a h2o2 (rows Fe2 -1, Fe3 +1, H2O2 -1)
    reset()
    gr[F_FE2] = kf * h2o2
    gr[F_H2O2] = kf * a
    _add(jac, F_FE2, -1.0, gr)
    _add(jac, F_FE3, 1.0, gr)
    _add(jac, F_H2O2, -1.0, gr)
    # ferryl + Fe2: kffe feo a (Fe2 -1, Fe3 +1)
    kffe = k[ch.R_FERRYL_FE2]
    for j in range(N_COUPLED):
        gr[j] = kffe * a * d_feo[j]
    gr[F_FE2] += kffe * feo
    _add(jac, F_FE2, -1.0, gr)
    _add(jac, F_FE3, 1.0, gr)
    # ferryl + GSH: kfg feo g (GSH -1, GSSG +1/2)
    kfg = k[ch.R_FERRYL_GSH]
    for j in range(N_COUPLED):
        gr[j] = kfg * g * d_feo[j]
    gr[F_GSH] += kfg * feo
    _add(jac, F_GSH, -1.0, gr)
    _add(jac, F_GSSG, 0.5, gr)
    # Fenton-like r1b = k b h2o2 (Fe2 +1, Fe3 -1, H2O2 -1)
    reset()
    gr[F_FE3] = k[ch.R_FE3_H2O2] * h2o2
    gr[F_H2O2] = k[ch.R_FE3_H2O2] * b
    _add(jac, F_FE2, 1.0, gr)
    _add(jac, F_FE3, -1.0, gr)
    _add(jac, F_H2O2, -1.0, gr)
    # r2 = k oh h2o2 (H2O2 -1)
    for j in range(N_COUPLED):
        gr[j] = k[ch.R_OH_H2O2] * h2o2 * d_oh[j]
    gr[F_H2O2] += k[ch.R_OH_H2O2] * oh
    _add(jac, F_H2O2, -1.0, gr)
    # superoxide reduces Fe3: (k3 f + k3b (1-f)) b so (Fe2 +1, Fe3 -1)
    for j in range(N_COUPLED):
        gr[j] = k_so_fe3 * b * d_so[j]
    gr[F_FE3] += k_so_fe3 * so
    _add(jac, F_FE2, 1.0, gr)
    _add(jac, F_FE3, -1.0, gr)
    # superoxide oxidises Fe2: (k4 f + k4b (1-f)) a so (Fe2 -1, Fe3 +1, H2O2 +1)
    for j in range(N_COUPLED):
        gr[j] = k_so_fe2 * a * d_so[j]
    gr[F_FE2] += k_so_fe2 * so
    _add(jac, F_FE2, -1.0, gr)
    _add(jac, F_FE3, 1.0, gr)
    _add(jac, F_H2O2, 1.0, gr)
    # r5 = k a oh (Fe2 -1, Fe3 +1)
    for j in range(N_COUPLED):
        gr[j] = k[ch.R_FE2_OH] * a * d_oh[j]
    gr[F_FE2] += k[ch.R_FE2_OH] * oh
    _add(jac, F_FE2, -1.0, gr)
    _add(jac, F_FE3, 1.0, gr)
    # r6 = k oh^2 (H2O2 +1); r7 = (q_so / 2) so^2 (H2O2 +1); rsod = k so (H2O2 +1/2)
    for j in range(N_COUPLED):
        gr[j] = 2.0 * k[ch.R_OH_OH] * oh * d_oh[j] + q_so * so * d_so[j] + 0.5 * k[ch.R_SOD] * d_so[j]
    _add(jac, F_H2O2, 1.0, gr)
    # r10 = k g oh (GSH -1, GSSG +1/2)
    for j in range(N_COUPLED):
        gr[j] = k[ch.R_GSH_OH] * g * d_oh[j]
    gr[F_GSH] += k[ch.R_GSH_OH] * oh
    _add(jac, F_GSH, -1.0, gr)
    _add(jac, F_GSSG, 0.5, gr)
    # r11 = k g h2o2 (GSH -2, GSSG +1, H2O2 -1)
    reset()
    gr[F_GSH] = k[ch.R_GSH_H2O2] * h2o2
    gr[F_H2O2] = k[ch.R_GSH_H2O2] * g
    _add(jac, F_GSH, -2.0, gr)
    _add(jac, F_GSSG, 1.0, gr)
    _add(jac, F_H2O2, -1.0, gr)
    # r12 = k g b (GSH -1, GSSG +1/2, Fe3 -1, Fe2 +1)
    reset()
    gr[F_GSH] = k[ch.R_GSH_FE3] * b
    gr[F_FE3] = k[ch.R_GSH_FE3] * g
    _add(jac, F_GSH, -1.0, gr)
    _add(jac, F_GSSG, 0.5, gr)
    _add(jac, F_FE3, -1.0, gr)
    _add(jac, F_FE2, 1.0, gr)
    # catalase (H2O2 -1); GPx = k h2o2 g/(K + g) (H2O2 -1, GSH -2, GSSG +1)
    jac[F_H2O2, F_H2O2] -= k[ch.R_CAT]
    kg = s[ch.P_K_GPX_GSH]
    reset()
    gr[F_H2O2] = k[ch.R_GPX] * g / (kg + g)
    gr[F_GSH] = k[ch.R_GPX] * h2o2 * kg / ((kg + g) * (kg + g))
    _add(jac, F_H2O2, -1.0, gr)
    _add(jac, F_GSH, -2.0, gr)
    _add(jac, F_GSSG, 1.0, gr)
    # glutathione reductase k q/(Km + q) (GSSG -1, GSH +2); turnover
    kmq = s[ch.P_KM_GR]
    d_gr = k[ch.R_GR] * kmq / ((kmq + q) * (kmq + q))
    jac[F_GSSG, F_GSSG] -= d_gr
    jac[F_GSH, F_GSSG] += 2.0 * d_gr
    jac[F_GSH, F_GSH] -= s[ch.P_TURNOVER]
    jac[F_GSSG, F_GSSG] -= s[ch.P_TURNOVER]
    # surface peroxidase k fep h2o2 (H2O2 -1); dissolution k fep
    jac[F_H2O2, F_H2O2] -= k[ch.R_SURF] * fep
    jac[F_H2O2, F_FEP] -= k[ch.R_SURF] * h2o2
    fe2rel = s[ch.P_FE2_FRAC_RELEASE]
    jac[F_FEP, F_FEP] -= k[ch.R_DISS]
    jac[F_FE2, F_FEP] += k[ch.R_DISS] * (fe2rel + s[ch.P_METAL_EQ])
    jac[F_FE3, F_FEP] += k[ch.R_DISS] * (1.0 - fe2rel)
    # ferritin: uptake k_in Fe_i (1 - ft/C), release k_out,i ft/C
    cap = s[ch.P_FT_CAPACITY]
    kin = s[ch.P_FT_K_IN]
    phi = ft / cap
    for row, conc in ((F_FE2, a), (F_FE3, b)):
        jac[row, row] -= kin * (1.0 - phi)
        jac[row, F_FT] += kin * conc / cap
        jac[F_FT, row] += kin * (1.0 - phi)
        jac[F_FT, F_FT] -= kin * conc / cap
    d_out = (s[ch.P_FT_K_OUT2] + s[ch.P_FT_K_OUT3]) / cap
    jac[F_FE2, F_FT] += s[ch.P_FT_K_OUT2] / cap
    jac[F_FE3, F_FT] += s[ch.P_FT_K_OUT3] / cap
    jac[F_FT, F_FT] -= d_out
    # lipids: chain = nu lh/lh0; init = fP kbio oh + fPf kfb feo + basal; vfel = k a lo; vg4 = V g/(K+g) lo/(KL+lo)
    nu_l = s[ch.P_CHAIN] / s[ch.P_LH0]
    chain = nu_l * lh
    kfb = k[ch.R_FERRYL_BIO]
    init = s[ch.P_F_PUFA] * k[ch.R_OH_BIO] * oh + s[ch.P_F_PUFA_FERRYL] * kfb * feo + s[ch.P_BASAL_INIT]
    for j in range(N_COUPLED):
        d_init[j] = s[ch.P_F_PUFA] * k[ch.R_OH_BIO] * d_oh[j] + s[ch.P_F_PUFA_FERRYL] * kfb * d_feo[j]
    kfel = k[ch.R_FE2_LOOH]
    vfel = kfel * a * lo
    reset()
    gr[F_FE2] = kfel * lo
    gr[F_LOOH] = kfel * a
    _add(jac, F_FE2, -1.0, gr)
    _add(jac, F_FE3, 1.0, gr)
    # dLOOH = chain init + (chain - 1) vfel - vg4 ; dLH = -chain (init + vfel) + rep
    for j in range(N_COUPLED):
        jac[F_LOOH, j] += chain * d_init[j] + (chain - 1.0) * gr[j]
        jac[F_LH, j] -= chain * (d_init[j] + gr[j])
    jac[F_LOOH, F_LH] += nu_l * (init + vfel)
    jac[F_LH, F_LH] -= nu_l * (init + vfel) + s[ch.P_K_REPAIR]
    if g > 0.0 and lo > 0.0:
        vmax = k[ch.R_GPX4] * s[ch.P_GPX4_ACTIVE]
        kl = s[ch.P_KM_LOOH]
        sat_g = g / (kg + g)
        sat_l = lo / (kl + lo)
        reset()
        gr[F_GSH] = vmax * kg / ((kg + g) * (kg + g)) * sat_l
        gr[F_LOOH] = vmax * sat_g * kl / ((kl + lo) * (kl + lo))
        _add(jac, F_LOOH, -1.0, gr)
        _add(jac, F_GSH, -2.0, gr)
        _add(jac, F_GSSG, 1.0, gr)
    # ---- exposure integrals
    for j in range(N_COUPLED):
        jac[F_OHC, j] = ch.OH_CUM_SCALE * d_oh[j]
        jac[F_FEOC, j] = ch.FEO_CUM_SCALE * d_feo[j]
    x_p = 1.0 - lh / s[ch.P_LH0] - s[ch.P_P_BASAL]
    if x_p > 0.0:
        xn = (x_p / s[ch.P_LETHAL_FRACTION]) ** s[ch.P_HILL]
        dh_dp = s[ch.P_HMAX] * s[ch.P_HILL] * xn / (x_p * (1.0 + xn) * (1.0 + xn))
        jac[F_OMF, F_LH] = -dh_dp / s[ch.P_LH0]
        jac[F_OMI, F_LH] = jac[F_OMF, F_LH] * heat_ros_factor(temp_C, s[ch.P_HEAT_ROS])
    for i in range(N_FAST):
        for j in range(N_COUPLED):
            jac[i, j] *= pos[j]


@njit(cache=True)
def _lu_factor(a, piv):
    """LU factors of ``a`` in place (partial pivoting, row swaps in ``piv``). False if singular."""
    n = a.shape[0]
    for c in range(n):
        p = c
        m = abs(a[c, c])
        for r in range(c + 1, n):
            if abs(a[r, c]) > m:
                m = abs(a[r, c])
                p = r
        if m == 0.0:
            return False
        piv[c] = p
        if p != c:
            for j in range(n):
                tmp = a[c, j]
                a[c, j] = a[p, j]
                a[p, j] = tmp
        for r in range(c + 1, n):
            fct = a[r, c] / a[c, c]
            a[r, c] = fct
            for j in range(c + 1, n):
                a[r, j] -= fct * a[c, j]
    return True


@njit(cache=True)
def _lu_apply(a, piv, b):
    """Solve with the factors of :func:`_lu_factor`: the first ``a.shape[0]`` entries of ``b`` in place."""
    n = a.shape[0]
    for c in range(n):
        p = piv[c]
        if p != c:
            tmp = b[c]
            b[c] = b[p]
            b[p] = tmp
    for r in range(n):
        acc = b[r]
        for j in range(r):
            acc -= a[r, j] * b[j]
        b[r] = acc
    for r in range(n - 1, -1, -1):
        acc = b[r]
        for j in range(r + 1, n):
            acc -= a[r, j] * b[j]
        b[r] = acc / a[r, r]


@njit(cache=True)
def _w_solve(lu, piv, jac, hd, v):
    """Solve (I - hd J) x = v in place for the block-triangular J: the coupled species by LU, then each
    exposure integral x_i = v_i + hd sum_j J_ij x_j (its own column of J is zero)."""
    _lu_apply(lu, piv, v)
    for i in range(N_COUPLED, N_FAST):
        acc = v[i]
        for j in range(N_COUPLED):
            acc += hd * jac[i, j] * v[j]
        v[i] = acc


class _Work(NamedTuple):
    """Scratch arrays of one :func:`integrate` call."""

    k: np.ndarray
    kmid: np.ndarray
    kend: np.ndarray
    f0: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    ftmp: np.ndarray
    jac: np.ndarray
    w: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    k3: np.ndarray
    ytmp: np.ndarray
    ynew: np.ndarray
    tdot: np.ndarray
    piv: np.ndarray
    jac_scratch: np.ndarray


@njit(cache=True)
def _work(n_rates: int) -> _Work:
    n = N_FAST
    return _Work(
        np.empty(n_rates),
        np.empty(n_rates),
        np.empty(n_rates),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty((n, N_COUPLED)),
        np.empty((N_COUPLED, N_COUPLED)),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.zeros(N_COUPLED, dtype=np.int64),
        np.empty((N_JAC_SCRATCH, N_COUPLED)),
    )


@njit(cache=True)
def _segment_is_isothermal(temps, a, b):
    for j in range(a, b):
        if temps[j + 1] != temps[a]:
            return False
    return True


@njit(cache=True)
def integrate(
    params: RunParameters, y0: np.ndarray, tn: np.ndarray, temps: np.ndarray, tol: Tolerances, out_y: np.ndarray
) -> tuple[int, float, float, float, int]:
    """Integrate one chemistry from ``y0`` over the temperature history (``tn`` [s], ``temps`` [C]).

    Returns (status, gsh_min [M], looh_max [M], fe2_max [M], n_steps); final state in ``out_y``.
    """
    kref, ea, trefs, s = params
    rtol, atol, max_steps = tol
    n = N_FAST
    wk = _work(kref.shape[0])
    k, kmid, kend = wk.k, wk.kmid, wk.kend
    f0, f1, f2, ftmp, tdot = wk.f0, wk.f1, wk.f2, wk.ftmp, wk.tdot
    k1, k2, k3, ytmp, ynew = wk.k1, wk.k2, wk.k3, wk.ytmp, wk.ynew
    y = y0.copy()
    gsh_min = y[F_GSH]
    looh_max = y[F_LOOH]
    fe2_max = y[F_FE2]
    cap = s[ch.P_OMEGA_CAP]
    h = 1.0
    steps = 0
    bp = breakpoints(tn, temps, BREAKPOINT_TOL_C)
    groups = ch.arrhenius_groups(kref, ea, trefs)
    have_f0 = False  # FSAL: f(t, y) of a new step is f(t + h, y_new) of the accepted one (with its rates)
    for seg in range(bp.shape[0] - 1):
        t = tn[bp[seg]]
        t_end = tn[bp[seg + 1]]
        const_t = _segment_is_isothermal(temps, bp[seg], bp[seg + 1])
        if const_t:  # constant temperature: autonomous, rate constants fixed over the segment
            ch.set_rate_constants(kref, ea, trefs, s, temps[bp[seg]], k, groups)
            for i in range(kref.shape[0]):
                kmid[i] = k[i]
                kend[i] = k[i]
            for i in range(n):
                tdot[i] = 0.0
        have_f0 = False
        while t < t_end:
            if steps >= max_steps:
                out_y[:] = y
                return STATUS_TOO_MANY_STEPS, gsh_min, looh_max, fe2_max, steps
            last = False
            h_free = h  # proposal before clipping to the segment end (restored after a clipped step)
            if t + 1.01 * h >= t_end:
                h = t_end - t
                last = True
            temp0 = _interp(t, tn, temps)
            if not have_f0:
                if not const_t:
                    ch.set_rate_constants(kref, ea, trefs, s, temp0, k, groups)
                rhs_k(y, k, s, temp0, f0)
            jacobian_k(y, k, s, temp0, wk.jac, wk.jac_scratch)
            if not const_t:  # time derivative from the local slope of T(t)
                dt = 1e-6 * max(h, 1.0)
                tempd = _interp(min(t + dt, t_end), tn, temps)
                ch.set_rate_constants(kref, ea, trefs, s, tempd, kmid, groups)
                rhs_k(y, kmid, s, tempd, ftmp)
                dtt = min(t + dt, t_end) - t
                for i in range(n):
                    tdot[i] = (ftmp[i] - f0[i]) / dtt if dtt > 0 else 0.0
            while True:
                hd = h * _D
                for i in range(N_COUPLED):
                    for j in range(N_COUPLED):
                        wk.w[i, j] = -hd * wk.jac[i, j]
                    wk.w[i, i] += 1.0
                if not _lu_factor(wk.w, wk.piv):
                    out_y[:] = y
                    return STATUS_NON_FINITE, gsh_min, looh_max, fe2_max, steps
                for i in range(n):
                    k1[i] = f0[i] + hd * tdot[i]
                _w_solve(wk.w, wk.piv, wk.jac, hd, k1)
                tempm = _interp(t + 0.5 * h, tn, temps)
                if not const_t:
                    ch.set_rate_constants(kref, ea, trefs, s, tempm, kmid, groups)
                for i in range(n):
                    ytmp[i] = y[i] + 0.5 * h * k1[i]
                rhs_k(ytmp, kmid, s, tempm, f1)
                for i in range(n):
                    k2[i] = f1[i] - k1[i]
                _w_solve(wk.w, wk.piv, wk.jac, hd, k2)
                for i in range(n):
                    k2[i] += k1[i]
                    ynew[i] = y[i] + h * k2[i]
                tempe = _interp(t + h, tn, temps)
                if not const_t:
                    ch.set_rate_constants(kref, ea, trefs, s, tempe, kend, groups)
                rhs_k(ynew, kend, s, tempe, f2)
                for i in range(n):
                    k3[i] = f2[i] - _E32 * (k2[i] - f1[i]) - 2.0 * (k1[i] - f0[i]) + hd * tdot[i]
                _w_solve(wk.w, wk.piv, wk.jac, hd, k3)
                err = 0.0
                finite = True
                for i in range(n):
                    e = h / 6.0 * (k1[i] - 2.0 * k2[i] + k3[i])
                    sc = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
                    r = abs(e) / sc
                    if not math.isfinite(r) or not math.isfinite(ynew[i]):
                        finite = False
                    elif r > err:
                        err = r
                steps += 1
                if finite and err <= 1.0:
                    break
                if not finite:
                    err = 1e6
                h = h * max(0.2, 0.8 * err ** (-1.0 / 3.0))
                last = False
                if h < 1e-12 * max(1.0, abs(t)):
                    out_y[:] = y
                    return STATUS_STEP_UNDERFLOW, gsh_min, looh_max, fe2_max, steps
            t = t_end if last else t + h
            if ynew[F_OMF] >= cap > y[F_OMF]:
                # element sterilised: stop at the crossing (linear interpolation within the step)
                theta = (cap - y[F_OMF]) / (ynew[F_OMF] - y[F_OMF])
                for i in range(n):
                    y[i] = y[i] + theta * (ynew[i] - y[i])
                gsh_min = min(gsh_min, y[F_GSH])
                looh_max = max(looh_max, y[F_LOOH])
                fe2_max = max(fe2_max, y[F_FE2])
                out_y[:] = y
                return STATUS_OK, gsh_min, looh_max, fe2_max, steps
            for i in range(n):
                y[i] = ynew[i]
                f0[i] = f2[i]
            if not const_t:
                for i in range(kref.shape[0]):
                    k[i] = kend[i]
            have_f0 = True
            gsh_min = min(gsh_min, y[F_GSH])
            looh_max = max(looh_max, y[F_LOOH])
            fe2_max = max(fe2_max, y[F_FE2])
            fac = 5.0 if err < 1e-6 else min(5.0, 0.8 * err ** (-1.0 / 3.0))
            h = h * max(0.2, fac)
            if last and h < h_free:
                h = h_free
    out_y[:] = y
    return STATUS_OK, gsh_min, looh_max, fe2_max, steps


#: unknowns of the steady-state solve: the coupled species but the particle iron (zero before treatment)
_HOMEOSTASIS_UNKNOWNS = np.array([F_FE2, F_FE3, F_H2O2, F_GSH, F_GSSG, F_LOOH, F_LH, F_FT], dtype=np.int64)
HOMEOSTASIS_MAX_ITERATIONS = 60


@njit(cache=True)
def _homeostasis_one(kref, ea, trefs, s, y, atol) -> bool:
    """Newton's method for the steady state of :func:`rhs_k` at 37 C without particles, in place in ``y``
    (starting guess in, solution out; analytic Jacobian). The ferritin row is replaced by conservation of the
    cell's iron (Fe2 + Fe3 + FeT as given), which the steady-state equations leave undetermined. True if
    converged."""
    idx = _HOMEOSTASIS_UNKNOWNS
    m = idx.shape[0]
    k = np.empty(kref.shape[0])
    ch.set_rate_constants(kref, ea, trefs, s, ch.BODY_TEMPERATURE_C, k, ch.arrhenius_groups(kref, ea, trefs))
    y[F_FEP] = 0.0
    total_fe = y[F_FE2] + y[F_FE3] + y[F_FT]
    f = np.empty(N_FAST)
    full_jac = np.empty((N_FAST, N_COUPLED))
    scratch = np.empty((N_JAC_SCRATCH, N_COUPLED))
    g = np.empty(m)
    jac = np.empty((m, m))
    piv = np.zeros(m, dtype=np.int64)
    for _ in range(HOMEOSTASIS_MAX_ITERATIONS):
        rhs_k(y, k, s, ch.BODY_TEMPERATURE_C, f)
        jacobian_k(y, k, s, ch.BODY_TEMPERATURE_C, full_jac, scratch)
        for i in range(m - 1):
            g[i] = -f[idx[i]]
            for j in range(m):
                jac[i, j] = full_jac[idx[i], idx[j]]
        g[m - 1] = -(y[F_FE2] + y[F_FE3] + y[F_FT] - total_fe)
        for j in range(m):
            col = idx[j]
            jac[m - 1, j] = 1.0 if (col == F_FE2 or col == F_FE3 or col == F_FT) else 0.0
        if not _lu_factor(jac, piv):
            return False
        _lu_apply(jac, piv, g)
        # damped step: stay non-negative (concentrations)
        lam = 1.0
        for i in range(m):
            if y[idx[i]] + g[i] < 0.0:
                lam = min(lam, 0.9 * y[idx[i]] / -g[i])
        small = True
        for i in range(m):
            step = lam * g[i]
            y[idx[i]] += step
            if abs(step) > 1e-10 * abs(y[idx[i]]) + 1e-3 * atol[idx[i]]:
                small = False
        if small and lam == 1.0:
            return True
    return False


@njit(cache=True, parallel=True)
def _homeostasis_batch(kref, ea, trefs, s, y, atol, converged):
    for i in prange(y.shape[0]):
        converged[i] = _homeostasis_one(kref, ea, trefs, s[i], y[i], atol)


def homeostatic_states(
    k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray, s: np.ndarray, start_full: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Steady states at 37 C without particles of the reduced mechanism, one per row of ``s`` (runs sharing
    ``k_ref``/``ea``/``t_refs``), from the full-state starting guesses ``start_full`` (its Fe2 + Fe3 + FeT fix
    the iron of the cell). Returns (fast states [M], converged flags)."""
    s = np.ascontiguousarray(np.atleast_2d(s), dtype=np.float64)
    y = fast_initial_states(np.atleast_2d(start_full))
    converged = np.zeros(s.shape[0], dtype=np.bool_)
    _homeostasis_batch(
        np.ascontiguousarray(k_ref, dtype=np.float64),
        np.ascontiguousarray(ea, dtype=np.float64),
        np.ascontiguousarray(t_refs, dtype=np.float64),
        s,
        y,
        default_atol(),
        converged,
    )
    return y, converged & np.all(np.isfinite(y), axis=1)


@njit(cache=True)
def _run_one(i: int, batch: Batch, tol: Tolerances, out: BatchOutputs) -> None:
    """Chemistry ``i`` of the batch into row ``i`` of ``out``."""
    a = batch.offsets[i]
    b = batch.offsets[i + 1]
    yend = np.empty(N_FAST)
    params = RunParameters(batch.kref[i], batch.ea[i], batch.trefs[i], batch.s[i])
    st, gmin, lmax, fmax, nst = integrate(params, batch.y0[i], batch.t_flat[a:b], batch.temp_flat[a:b], tol, yend)
    out.y[i, :] = yend
    out.gsh_min[i] = gmin
    out.looh_max[i] = lmax
    out.fe2_max[i] = fmax
    out.status[i] = st
    out.steps[i] = nst


@njit(cache=True, parallel=True)
def run_batch(batch: Batch, tol: Tolerances, out: BatchOutputs) -> None:
    """Run ``batch.y0.shape[0]`` independent chemistries in parallel (one :func:`integrate` each).

    The loop body only calls :func:`_run_one`: numba's parallel loop silently drops stores into an array
    reached through a named tuple (numba issues #7135, #10338); inside a called function they work.
    """
    for i in prange(batch.y0.shape[0]):
        _run_one(i, batch, tol, out)


# rtol 3e-3 with 0.03 C breakpoints (chem15 branch, issue 18 item 4): on 900 cohort runs of the MHT + CDT + RT
# protocol (300 glioblastoma patients x 3 deposit groups) the worst relative error of every output against a
# tight solution (rtol 1e-7) is 0.4 % (lipid peroxide peak; .OH exposure 0.04 %) for 42 % less CPU than the former
# rtol 1e-3 with 0.1 C breakpoints (0.2 % worst error); the tests demand 1 % against the Radau oracle.
DEFAULT_RTOL = 3e-3
DEFAULT_MAX_STEPS = 200_000


def default_atol() -> np.ndarray:
    """Absolute tolerances [M] per fast state, far below each species' physiological scale."""
    atol = np.full(N_FAST, 1e-13)
    atol[F_LOOH] = 1e-15
    atol[F_H2O2] = 1e-14
    atol[F_OHC] = 1e-10
    atol[F_FEOC] = 1e-10
    atol[F_OMF] = 1e-9
    atol[F_OMI] = 1e-9
    return atol


def default_tolerances(rtol: float = DEFAULT_RTOL, max_steps: int = DEFAULT_MAX_STEPS) -> Tolerances:
    """The error control of the cohort path (``rtol`` relative, :func:`default_atol` absolute)."""
    return Tolerances(float(rtol), default_atol(), int(max_steps))


#: the oracle's state index of each fast coupled species (the fast integrals start at zero)
FULL_INDEX_OF_FAST = (ch.S_FE2, ch.S_FE3, ch.S_H2O2, ch.S_GSH, ch.S_GSSG, ch.S_LOOH, ch.S_LH, ch.S_FEP, ch.S_FT)


def fast_initial_state(full_state: np.ndarray) -> np.ndarray:
    """Map the oracle's full state (chemistry.initial_state) to the fast state vector."""
    return fast_initial_states(np.asarray(full_state)[None, :])[0]


def fast_initial_states(full_states: np.ndarray) -> np.ndarray:
    """:func:`fast_initial_state` for every row of ``full_states``."""
    y = np.zeros((full_states.shape[0], N_FAST))
    y[:, :N_COUPLED] = full_states[:, list(FULL_INDEX_OF_FAST)]
    return y


_STATUS_TEXT = {
    STATUS_STEP_UNDERFLOW: "step size underflow",
    STATUS_NON_FINITE: "non-finite values / singular iteration matrix",
    STATUS_TOO_MANY_STEPS: "too many steps",
}


def solve_fast(
    conditions: ch.ChemistryConditions,
    t_nodes_s: np.ndarray,
    temp_nodes_C: np.ndarray,
    *,
    rtol: float = DEFAULT_RTOL,
) -> ch.ChemistryResult:
    """One chemistry run on the fast path; same inputs and result type as ``chemistry.solve_oracle``."""
    res = solve_fast_many([conditions], [np.asarray(t_nodes_s, float)], [np.asarray(temp_nodes_C, float)], rtol=rtol)
    return res[0]


def solve_fast_many(
    conditions: list[ch.ChemistryConditions],
    t_nodes: list[np.ndarray],
    temps: list[np.ndarray],
    *,
    rtol: float = DEFAULT_RTOL,
) -> list[ch.ChemistryResult]:
    """Many runs in parallel (numba prange); raises ModelError naming the failed run."""
    m = len(conditions)
    kref = np.empty((m, ch.N_RATES))
    ea = np.empty((m, ch.N_RATES))
    trefs = np.empty((m, ch.N_RATES))
    s = np.empty((m, ch.N_SCALARS))
    y0 = np.empty((m, N_FAST))
    for i, c in enumerate(conditions):
        kref[i], ea[i], trefs[i], s[i] = ch.pack_parameters(c)
        y0[i] = fast_initial_state(ch.initial_state(kref[i], ea[i], trefs[i], s[i], c.particle_iron_mM * 1e-3))
    for tn, tp in zip(t_nodes, temps, strict=True):
        ch.check_temperature_history(np.asarray(tn, float), np.asarray(tp, float))
    raw = run_prepared(kref, ea, trefs, s, y0, t_nodes, temps, rtol=rtol)
    out = []
    for i in range(m):
        y = raw["final_state"][i]
        out.append(
            ch.ChemistryResult(
                oh_cumulative_uM_min=float(y[F_OHC] / ch.OH_CUM_SCALE * 1e6 / 60.0),
                ferryl_cumulative_uM_min=float(y[F_FEOC] / ch.FEO_CUM_SCALE * 1e6 / 60.0),
                gsh_nadir_mM=float(raw["gsh_min"][i] * 1e3),
                lipid_peroxide_peak_uM=float(raw["looh_max"][i] * 1e6),
                labile_fe2_peak_uM=float(raw["fe2_max"][i] * 1e6),
                omega_ferroptosis=float(y[F_OMF]),
                omega_interaction=float(y[F_OMI]),
                final_state=y,
            )
        )
    return out


def run_prepared(
    kref: np.ndarray,
    ea: np.ndarray,
    trefs: np.ndarray,
    s: np.ndarray,
    y0: np.ndarray,
    t_nodes: list[np.ndarray],
    temps: list[np.ndarray],
    *,
    rtol: float = DEFAULT_RTOL,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> dict:
    """Low-level batch call on packed parameters (rows as ``chemistry.pack_parameters``, ``y0`` [M]) and one
    temperature history per run (times [s], temperatures [C]); returns ``final_state`` [M], ``gsh_min`` [M],
    ``looh_max`` [M], ``fe2_max`` [M] and ``steps`` arrays and raises ModelError on any failure."""
    if not (0 < rtol < 0.1):
        raise InputError("rtol", rtol, "relative tolerance must lie in (0, 0.1)")
    m = y0.shape[0]
    lengths = np.array([len(t) for t in t_nodes], dtype=np.int64)
    offsets = np.zeros(m + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    t_flat = np.concatenate(t_nodes).astype(np.float64) if m else np.zeros(0)
    temp_flat = np.concatenate(temps).astype(np.float64) if m else np.zeros(0)
    out = BatchOutputs(
        np.empty((m, N_FAST)),
        np.empty(m),
        np.empty(m),
        np.empty(m),
        np.empty(m, dtype=np.int64),
        np.empty(m, dtype=np.int64),
    )
    run_batch(
        Batch(kref, ea, trefs, s, y0, t_flat, temp_flat, offsets),
        default_tolerances(rtol, max_steps),
        out,
    )
    out_y, gmin, lmax, fmax, status, steps = out
    bad = np.flatnonzero(status != STATUS_OK)
    if bad.size:
        i = int(bad[0])
        raise ModelError(f"fast chemistry failed for run {i}: {_STATUS_TEXT.get(int(status[i]), status[i])}")
    if not (np.all(np.isfinite(out_y)) and np.all(np.isfinite(gmin)) and np.all(np.isfinite(lmax))):
        raise ModelError("fast chemistry produced non-finite values")
    return {"final_state": out_y, "gsh_min": gmin, "looh_max": lmax, "fe2_max": fmax, "steps": steps}
