"""Fast numba path for the Fenton/CDT + ferroptosis chemistry of chemistry.py.

Two reductions, both checked against the scipy Radau oracle (tests/physics/test_chemistry_fast.py):

1. Quasi-steady-state radicals. .OH lives ~1 ns (pseudo-first-order loss >= 1e9 1/s) and superoxide ~50 us
   (SOD); every other species changes on >= 10 ms. Their balances are solved algebraically each call
   (production = loss, including the quadratic radical-radical terminations, two fixed-point passes).
   The error is of order radical lifetime / slow time scale (< 1e-6).
2. A linearly implicit Rosenbrock 2(3) integrator (the ode23s pair of Shampine & Reichelt 1997,
   L-stable, finite-difference Jacobian), adaptive, run segment by segment between the temperature nodes
   so kinks in T(t) are never stepped over. Hand-written because scipy's integrators cannot be called
   from numba and the per-patient Python overhead would dominate a cohort.

State vector (M): Fe2, Fe3, H2O2, GSH, GSSG, LOOH, LH, FeP, O2, then the integrals 1e9*int[OH]dt,
int h dt (ferroptosis hazard) and int h*heat-factor dt (heat x ROS interaction).
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

F_FE2, F_FE3, F_H2O2, F_GSH, F_GSSG, F_LOOH, F_LH, F_FEP, F_O2, F_OHC, F_OMF, F_OMI = range(12)
N_FAST = 12
_GAS = ch.GAS_CONSTANT
_KELVIN = ch.KELVIN
STATUS_OK, STATUS_STEP_UNDERFLOW, STATUS_NON_FINITE, STATUS_TOO_MANY_STEPS = 0, 1, 2, 3
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
def _rates(kref, ea, trefs, temp_C, k):
    tk = temp_C + _KELVIN
    for i in range(kref.shape[0]):
        k[i] = kref[i] * math.exp(-ea[i] / _GAS * (1.0 / tk - 1.0 / trefs[i]))


@njit(cache=True)
def radicals_qssa(y: np.ndarray, k: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Quasi-steady .OH and superoxide (HO2. + O2.-) [M] for the slow state ``y`` [M], rate constants ``k``
    and scalar parameters ``s``."""
    fe2 = max(y[F_FE2], 0.0)
    fe3 = max(y[F_FE3], 0.0)
    h2o2 = max(y[F_H2O2], 0.0)
    gsh = max(y[F_GSH], 0.0)
    fep = max(y[F_FEP], 0.0)
    f = s[ch.P_F_HO2]
    p_oh = k[ch.R_FE2_H2O2] * fe2 * h2o2 + k[ch.R_SURF] * fep * h2o2
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
    return oh, so


@njit(cache=True)
def rhs_k(y: np.ndarray, k: np.ndarray, s: np.ndarray, temp_C: float, dy: np.ndarray) -> None:
    """Slow-species derivatives [M/s] into ``dy`` with radicals at quasi-steady state (rate constants ``k``
    at ``temp_C`` [C] given)."""
    fe2 = max(y[F_FE2], 0.0)
    fe3 = max(y[F_FE3], 0.0)
    h2o2 = max(y[F_H2O2], 0.0)
    gsh = max(y[F_GSH], 0.0)
    gssg = max(y[F_GSSG], 0.0)
    looh = max(y[F_LOOH], 0.0)
    lh = max(y[F_LH], 0.0)
    fep = max(y[F_FEP], 0.0)
    o2 = max(y[F_O2], 0.0)
    oh, so = radicals_qssa(y, k, s)
    f = s[ch.P_F_HO2]
    ho2 = f * so
    o2m = (1.0 - f) * so
    r1 = k[ch.R_FE2_H2O2] * fe2 * h2o2
    r1b = k[ch.R_FE3_H2O2] * fe3 * h2o2
    r2 = k[ch.R_OH_H2O2] * oh * h2o2
    r3 = k[ch.R_FE3_HO2] * fe3 * ho2
    r3b = k[ch.R_FE3_O2M] * fe3 * o2m
    r4 = k[ch.R_FE2_HO2] * fe2 * ho2
    r4b = k[ch.R_FE2_O2M] * fe2 * o2m
    r5 = k[ch.R_FE2_OH] * fe2 * oh
    r6 = k[ch.R_OH_OH] * oh * oh
    r7 = k[ch.R_HO2_HO2] * ho2 * ho2 + k[ch.R_HO2_O2M] * ho2 * o2m  # both dismutations give H2O2 + O2
    r8 = k[ch.R_OH_HO2] * oh * ho2
    r9 = k[ch.R_OH_O2M] * oh * o2m
    r10 = k[ch.R_GSH_OH] * gsh * oh
    r11 = k[ch.R_GSH_H2O2] * gsh * h2o2
    r12 = k[ch.R_GSH_FE3] * gsh * fe3
    rsod = k[ch.R_SOD] * so
    rcat = k[ch.R_CAT] * h2o2
    rgpx = k[ch.R_GPX] * h2o2 * gsh / (s[ch.P_K_GPX_GSH] + gsh)
    rgr = k[ch.R_GR] * gssg / (s[ch.P_KM_GR] + gssg)
    rsurf = k[ch.R_SURF] * fep * h2o2
    rel = k[ch.R_DISS] * fep
    turn = s[ch.P_TURNOVER]
    kseq = s[ch.P_K_SEQ]
    chain = s[ch.P_CHAIN] * lh / s[ch.P_LH0]
    init = s[ch.P_F_PUFA] * k[ch.R_OH_BIO] * oh + s[ch.P_BASAL_INIT]
    vfel = k[ch.R_FE2_LOOH] * fe2 * looh
    vg4 = gpx4_rate(k[ch.R_GPX4] * s[ch.P_GPX4_ACTIVE], gsh, s[ch.P_K_GPX_GSH], looh, s[ch.P_KM_LOOH])
    fe2rel = s[ch.P_FE2_FRAC_RELEASE]
    dy[F_FE2] = (
        -r1
        + r1b
        + r3
        + r3b
        - r4
        - r4b
        - r5
        + r12
        + rel * (fe2rel + s[ch.P_METAL_EQ])
        - kseq * (fe2 - s[ch.P_FE2_BASAL])
        - vfel
    )
    dy[F_FE3] = (
        r1 - r1b - r3 - r3b + r4 + r4b + r5 - r12 + rel * (1.0 - fe2rel) - kseq * (fe3 - s[ch.P_FE3_BASAL]) + vfel
    )
    dy[F_H2O2] = -r1 - r1b - r2 + r4 + r4b + r6 + r7 - r11 + 0.5 * rsod - rcat - rgpx + s[ch.P_H2O2_PROD] - rsurf
    dy[F_GSH] = -r10 - 2.0 * r11 - r12 - 2.0 * rgpx + 2.0 * rgr + turn * (s[ch.P_GSH_POOL0] - gsh) - 2.0 * vg4
    dy[F_GSSG] = 0.5 * r10 + r11 + 0.5 * r12 + rgpx - rgr - turn * gssg + vg4
    dy[F_LOOH] = chain * init + (chain - 1.0) * vfel - vg4
    dy[F_LH] = -chain * (init + vfel) + s[ch.P_K_REPAIR] * (s[ch.P_LH0] - lh)
    dy[F_FEP] = -rel
    dy[F_O2] = r3 + r3b + r7 + r8 + r9 + 0.5 * rsod + 0.5 * rcat + s[ch.P_K_O2] * (s[ch.P_O2_0] - o2)
    h = death_hazard(1.0 - lh / s[ch.P_LH0] - s[ch.P_P_BASAL], s[ch.P_LETHAL_FRACTION], s[ch.P_HILL], s[ch.P_HMAX])
    dy[F_OHC] = ch.OH_CUM_SCALE * oh
    dy[F_OMF] = h
    dy[F_OMI] = h * heat_ros_factor(temp_C, s[ch.P_HEAT_ROS])


@njit(cache=True)
def _lu_solve_inplace(a, b, piv):
    """Solve a x = b (a -> its LU factors, b -> x); partial pivoting. False if singular."""
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
    _lu_apply(a, piv, b)
    return True


@njit(cache=True)
def _lu_apply(a, piv, b):
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
def integrate(
    params: RunParameters, y0: np.ndarray, tn: np.ndarray, temps: np.ndarray, tol: Tolerances, out_y: np.ndarray
) -> tuple[int, float, float, int]:
    """Integrate one chemistry from ``y0`` over the temperature history (``tn`` [s], ``temps`` [C]).

    Returns (status, gsh_min [M], looh_max [M], n_steps); final state in ``out_y``.
    """
    kref, ea, trefs, s = params
    rtol, atol, max_steps = tol
    n = N_FAST
    y = y0.copy()
    k = np.empty(kref.shape[0])
    kmid = np.empty(kref.shape[0])
    kend = np.empty(kref.shape[0])
    f0 = np.empty(n)
    f1 = np.empty(n)
    f2 = np.empty(n)
    ftmp = np.empty(n)
    jac = np.empty((n, n))
    w = np.empty((n, n))
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    ytmp = np.empty(n)
    ynew = np.empty(n)
    tdot = np.empty(n)
    piv = np.zeros(n, dtype=np.int64)
    gsh_min = y[F_GSH]
    looh_max = y[F_LOOH]
    h = 1.0
    steps = 0
    for seg in range(tn.shape[0] - 1):
        t = tn[seg]
        t_end = tn[seg + 1]
        while t < t_end:
            if steps >= max_steps:
                out_y[:] = y
                return STATUS_TOO_MANY_STEPS, gsh_min, looh_max, steps
            last = False
            h_free = h  # proposal before clipping to the segment end (restored after a clipped step)
            if t + 1.01 * h >= t_end:
                h = t_end - t
                last = True
            temp0 = _interp(t, tn, temps)
            _rates(kref, ea, trefs, temp0, k)
            rhs_k(y, k, s, temp0, f0)
            # finite-difference Jacobian and time derivative (temperature is linear within the segment)
            for j in range(n):
                if j >= F_OHC:  # the exposure integrals feed back into nothing: zero columns
                    for i in range(n):
                        jac[i, j] = 0.0
                    continue
                dj = 1e-7 * max(abs(y[j]), atol[j] * 1e3)
                for i in range(n):
                    ytmp[i] = y[i]
                ytmp[j] += dj
                rhs_k(ytmp, k, s, temp0, ftmp)
                for i in range(n):
                    jac[i, j] = (ftmp[i] - f0[i]) / dj
            const_t = temps[seg] == temps[seg + 1]
            if const_t:  # constant temperature: autonomous, rate constants fixed over the step
                for i in range(n):
                    tdot[i] = 0.0
                for i in range(k.shape[0]):
                    kmid[i] = k[i]
                    kend[i] = k[i]
            else:
                dt = 1e-6 * max(h, 1.0)
                tempd = _interp(min(t + dt, t_end), tn, temps)
                _rates(kref, ea, trefs, tempd, kmid)
                rhs_k(y, kmid, s, tempd, ftmp)
                dtt = min(t + dt, t_end) - t
                for i in range(n):
                    tdot[i] = (ftmp[i] - f0[i]) / dtt if dtt > 0 else 0.0
            while True:
                for i in range(n):
                    for j in range(n):
                        w[i, j] = -h * _D * jac[i, j]
                    w[i, i] += 1.0
                for i in range(n):
                    k1[i] = f0[i] + h * _D * tdot[i]
                if not _lu_solve_inplace(w, k1, piv):
                    out_y[:] = y
                    return STATUS_NON_FINITE, gsh_min, looh_max, steps
                tm = t + 0.5 * h
                tempm = _interp(tm, tn, temps)
                if not const_t:
                    _rates(kref, ea, trefs, tempm, kmid)
                for i in range(n):
                    ytmp[i] = y[i] + 0.5 * h * k1[i]
                rhs_k(ytmp, kmid, s, tempm, f1)
                for i in range(n):
                    k2[i] = f1[i] - k1[i]
                _lu_apply(w, piv, k2)
                for i in range(n):
                    k2[i] += k1[i]
                    ynew[i] = y[i] + h * k2[i]
                tempe = _interp(t + h, tn, temps)
                if not const_t:
                    _rates(kref, ea, trefs, tempe, kend)
                rhs_k(ynew, kend, s, tempe, f2)
                for i in range(n):
                    k3[i] = f2[i] - _E32 * (k2[i] - f1[i]) - 2.0 * (k1[i] - f0[i]) + h * _D * tdot[i]
                _lu_apply(w, piv, k3)
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
                    return STATUS_STEP_UNDERFLOW, gsh_min, looh_max, steps
            t = t_end if last else t + h
            cap = s[ch.P_OMEGA_CAP]
            if ynew[F_OMF] >= cap > y[F_OMF]:
                # element sterilised: stop at the crossing (linear interpolation within the step)
                theta = (cap - y[F_OMF]) / (ynew[F_OMF] - y[F_OMF])
                for i in range(n):
                    y[i] = y[i] + theta * (ynew[i] - y[i])
                gsh_min = min(gsh_min, y[F_GSH])
                looh_max = max(looh_max, y[F_LOOH])
                out_y[:] = y
                return STATUS_OK, gsh_min, looh_max, steps
            for i in range(n):
                y[i] = ynew[i]
            if y[F_GSH] < gsh_min:
                gsh_min = y[F_GSH]
            if y[F_LOOH] > looh_max:
                looh_max = y[F_LOOH]
            fac = 5.0 if err < 1e-6 else min(5.0, 0.8 * err ** (-1.0 / 3.0))
            h = h * max(0.2, fac)
            if last and h < h_free:
                h = h_free
    out_y[:] = y
    return STATUS_OK, gsh_min, looh_max, steps


@njit(cache=True)
def _run_one(i: int, batch: Batch, tol: Tolerances, out: BatchOutputs) -> None:
    """Chemistry ``i`` of the batch into row ``i`` of ``out``."""
    a = batch.offsets[i]
    b = batch.offsets[i + 1]
    yend = np.empty(N_FAST)
    params = RunParameters(batch.kref[i], batch.ea[i], batch.trefs[i], batch.s[i])
    st, gmin, lmax, nst = integrate(params, batch.y0[i], batch.t_flat[a:b], batch.temp_flat[a:b], tol, yend)
    out.y[i, :] = yend
    out.gsh_min[i] = gmin
    out.looh_max[i] = lmax
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


DEFAULT_RTOL = 1e-3
DEFAULT_MAX_STEPS = 200_000


def default_atol() -> np.ndarray:
    """Absolute tolerances [M] per fast state, far below each species' physiological scale."""
    atol = np.full(N_FAST, 1e-13)
    atol[F_LOOH] = 1e-15
    atol[F_H2O2] = 1e-14
    atol[F_OHC] = 1e-10
    atol[F_OMF] = 1e-9
    atol[F_OMI] = 1e-9
    return atol


def fast_initial_state(full_state: np.ndarray) -> np.ndarray:
    """Map the oracle's full state (chemistry.initial_state) to the fast state vector."""
    y = np.zeros(N_FAST)
    y[F_FE2] = full_state[ch.S_FE2]
    y[F_FE3] = full_state[ch.S_FE3]
    y[F_H2O2] = full_state[ch.S_H2O2]
    y[F_GSH] = full_state[ch.S_GSH]
    y[F_GSSG] = full_state[ch.S_GSSG]
    y[F_LOOH] = full_state[ch.S_LOOH]
    y[F_LH] = full_state[ch.S_LH]
    y[F_FEP] = full_state[ch.S_FEP]
    y[F_O2] = full_state[ch.S_O2]
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
        full = ch.initial_state(kref[i], ea[i], trefs[i], s[i], c.particle_iron_mM * 1e-3)
        y0[i] = fast_initial_state(full)
    for tn, tp in zip(t_nodes, temps, strict=True):
        ch.check_temperature_history(np.asarray(tn, float), np.asarray(tp, float))
    raw = run_prepared(kref, ea, trefs, s, y0, t_nodes, temps, rtol=rtol)
    out = []
    for i in range(m):
        y = raw["final_state"][i]
        out.append(
            ch.ChemistryResult(
                oh_cumulative_uM_min=float(y[F_OHC] / ch.OH_CUM_SCALE * 1e6 / 60.0),
                gsh_nadir_mM=float(raw["gsh_min"][i] * 1e3),
                lipid_peroxide_peak_uM=float(raw["looh_max"][i] * 1e6),
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
    ``looh_max`` [M] and ``steps`` arrays and raises ModelError on any failure."""
    if not (0 < rtol < 0.1):
        raise InputError("rtol", rtol, "relative tolerance must lie in (0, 0.1)")
    m = y0.shape[0]
    lengths = np.array([len(t) for t in t_nodes], dtype=np.int64)
    offsets = np.zeros(m + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    t_flat = np.concatenate(t_nodes).astype(np.float64) if m else np.zeros(0)
    temp_flat = np.concatenate(temps).astype(np.float64) if m else np.zeros(0)
    out = BatchOutputs(
        np.empty((m, N_FAST)), np.empty(m), np.empty(m), np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    )
    run_batch(
        Batch(kref, ea, trefs, s, y0, t_flat, temp_flat, offsets),
        Tolerances(float(rtol), default_atol(), int(max_steps)),
        out,
    )
    out_y, gmin, lmax, status, steps = out
    bad = np.flatnonzero(status != STATUS_OK)
    if bad.size:
        i = int(bad[0])
        raise ModelError(f"fast chemistry failed for run {i}: {_STATUS_TEXT.get(int(status[i]), status[i])}")
    if not (np.all(np.isfinite(out_y)) and np.all(np.isfinite(gmin)) and np.all(np.isfinite(lmax))):
        raise ModelError("fast chemistry produced non-finite values")
    return {"final_state": out_y, "gsh_min": gmin, "looh_max": lmax, "steps": steps}
