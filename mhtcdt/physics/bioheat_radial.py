"""Spherically symmetric Pennes bioheat solver for cohorts (numba, implicit, parallel over patients).

Geometry and physics
--------------------
A spherical tumour of radius ``R`` (host-organ thermal properties, patient perfusion, Lang 1999 tumour
perfusion curve) is surrounded by healthy tissue out to ``far_factor * R``, where the temperature is held
at the arterial temperature. The particle deposit is a central sphere covering ``coverage_fraction`` of
the tumour volume (radius ``R * coverage**(1/3)``) with uniform power density ``q`` [W/m3]; heat is
assigned to the grid cells by exact volume overlap, so the deposited power is conserved. Pennes::

    rho c dT/dt = div(k grad T) - rho_b c_b omega(T) (T - T_a) + Q_met + q(r, t)

Discretisation: cell-centred finite volumes on a radial grid with ``cells_in_tumour`` uniform cells across
the tumour and ``cells_in_healthy`` cells growing geometrically out to the far boundary (the tumour edge
is a cell face; see :func:`radial_faces_over_R`), harmonic face conductivities, Dirichlet far boundary.
Time: BDF2, one tridiagonal (Thomas) solve per step, unconditionally stable. Where the source jumps
(field on at t = 0, field off at ``session_s``) the integrator restarts with a backward-Euler step of dt/8
followed by variable-step BDF2 steps dt/8, dt/4, dt/2, so a jump does not cost an order. The nonlinear
perfusion coefficient ``omega(T)`` is LAGGED (semi-implicit): evaluated at the extrapolated temperature
``T^n + w (T^n - T^(n-1))`` (``T^n`` on a restart step), so each step stays linear and the scheme keeps
second order in time (tests: order ~2 against the scipy reference). BDF2 is A-stable but not monotone:
with steps comparable to the perfusion time constant (rho c / (rho_b c_b omega) ~ 100 s) it can
overshoot a steady state by ~0.01 K, so keep dt <= ~15 s (the default 10 s). Temperatures in C throughout.

Each session starts from the field-off steady state (sessions are days apart), heats for ``session_s``
and then cools for ``cooldown_s`` (thermal dose accrued while cooling is counted). Accuracy at the cohort
settings (dt 10 s, 12 + 12 cells): within ~0.04 C of the converged time integration (benchmark), and
within 1 % of closed-form steady states. Limits: the deposit is a central sphere (use ``bioheat_3d`` for
heterogeneous deposits); blood vessels are represented only through Pennes perfusion.

How Physics II calls it (chemistry needs T(t) in the tumour shells)
-------------------------------------------------------------------
>>> res = simulate_sessions_radial(
...     tumor_radius_m=r, coverage_fraction=c, deposit_power_W_per_m3=q_at_ref,
...     field_ref_kA_per_m=10.0, field_exponent=1.43, field_kA_per_m=np.full((n, 4), 10.0),
...     tumor=tumour_tissue("brain"), healthy=load_tissue("brain"),
...     tumor_perfusion_mL_per_min_per_kg=perf, n_sessions=4)
>>> res.tumor_temperature_C        # (n, n_sessions, n_records, cells_in_tumour), C, every record_every_s
>>> res.record_times_s             # (n_records,) s from session start
>>> res.shell_volume_fraction      # (cells_in_tumour,) volume weights of the tumour shells (sum 1)
>>> res.deposit_fraction           # (n, cells_in_tumour) fraction of each shell inside the deposit

``q`` scales as ``deposit_power_W_per_m3 * (H / field_ref_kA_per_m)**field_exponent``; build
``deposit_power_W_per_m3`` with ``particles.volumetric_heating_W_per_m3`` (SLP x local iron).
For titration pass ``control=SessionControl(mode="titrate", target_C=..., ...)`` instead of
``field_kA_per_m``.

Result arrays (:class:`RadialSessionsResult`; index order patient, session, ...):

========================  =========================================  ==============================
name                      shape                                      units / meaning
========================  =========================================  ==============================
face_radius_over_R        (n_cells + 1,)                             cell-face radius / tumour radius
cell_radius_over_R        (n_cells,)                                 cell-centre radius / tumour radius
shell_volume_fraction     (cells_in_tumour,)                         tumour volume weights (sum 1)
deposit_fraction          (n, cells_in_tumour)                       volume fraction heated
baseline_C                (n, n_cells)                               field-off steady state, C
peak_C                    (n, n_sessions, n_cells)                   per-cell maximum, C
cem43_min                 (n, n_sessions, n_cells)                   per-cell CEM43, min
arrhenius_omega           (n, n_sessions, n_cells)                   per-cell damage integral (-)
t90_C, t50_C, t10_C       (n, n_sessions)                            Tx of per-shell peak temps, C
cem43_t90_min             (n, n_sessions)                            CEM43 of the T90(t) history, min
max_healthy_C             (n, n_sessions)                            max healthy-tissue T (incl. margin)
margin_peak_C             (n, n_sessions)                            max tumour-margin temperature, C
field_mean_kA_per_m       (n, n_sessions)                            mean amplitude while heating
record_times_s            (n_records,)                               s since session start
tumor_temperature_C       (n, n_sessions, n_records, cells_in_tumour) C
healthy_max_record_C      (n, n_sessions, n_records)                 C
field_record_kA_per_m     (n, n_sessions, n_records)                 kA/m (0 after switch-off)
========================  =========================================  ==============================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics.dose import (
    arrhenius_rate,
    arrhenius_set,
    cem43_rate,
    exceeded_temperature,
    exceeded_temperature_inplace,
)
from mhtcdt.physics.particles import load_magnetics
from mhtcdt.physics.session import SessionControl, titration_step
from mhtcdt.physics.tissue import (
    PERFUSION_MODELS,
    Blood,
    TissueProperties,
    load_blood,
    perfusion_coefficients,
    perfusion_factor,
    perfusion_per_s,
)

# ----------------------------------------------------------------------------- numba building blocks

RESTART_LEVELS = 3  # graded start after a source jump: dt/8 (BE), dt/8, dt/4, dt/2 -> sums to dt


@njit(cache=True)
def thomas_solve(
    lower: np.ndarray, diag: np.ndarray, upper: np.ndarray, rhs: np.ndarray, out: np.ndarray, work: np.ndarray
) -> None:
    """Solve a tridiagonal system in place into ``out`` (Thomas algorithm; the matrices here are
    diagonally dominant, so no pivoting is needed). ``lower[0]`` and ``upper[-1]`` are ignored."""
    n = diag.shape[0]
    beta = diag[0]
    out[0] = rhs[0] / beta
    for i in range(1, n):
        work[i] = upper[i - 1] / beta
        beta = diag[i] - lower[i] * work[i]
        out[i] = (rhs[i] - lower[i] * out[i - 1]) / beta
    for i in range(n - 2, -1, -1):
        out[i] -= work[i + 1] * out[i + 1]


def radial_faces_over_R(cells_in_tumour: int, cells_in_healthy: int, far_factor: float) -> np.ndarray:
    """Cell-face radii / tumour radius, shape (cells_in_tumour + cells_in_healthy + 1,).

    Uniform cells of width 1/cells_in_tumour across the tumour; in healthy tissue the widths grow
    geometrically from that width (continuous at the margin) so that the last face is at ``far_factor``.
    The growth ratio tends to 1 as the grid is refined, so the scheme stays second order.
    """
    h = 1.0 / cells_in_tumour
    span = far_factor - 1.0
    if cells_in_healthy * h >= span:  # uniform grid already reaches (or passes) the far boundary
        widths = np.full(cells_in_healthy, span / cells_in_healthy)
    else:
        lo, hi = 1.0, 2.0
        while h * (hi**cells_in_healthy - 1.0) / (hi - 1.0) < span:
            hi *= 2.0
        for _ in range(200):  # bisection on the growth ratio g: h (g^n - 1)/(g - 1) = span
            g = 0.5 * (lo + hi)
            if h * (g**cells_in_healthy - 1.0) / (g - 1.0) < span:
                lo = g
            else:
                hi = g
        g = 0.5 * (lo + hi)
        widths = h * g ** np.arange(cells_in_healthy)
        widths *= span / widths.sum()
    faces = np.concatenate([np.arange(cells_in_tumour + 1) * h, 1.0 + np.cumsum(widths)])
    faces[-1] = far_factor
    return faces


@njit(cache=True)
def radial_geometry(
    n_t: int,
    faces_over_r: np.ndarray,
    radius_m: float,
    k_t: float,
    k_h: float,
    faces: np.ndarray,
    volume: np.ndarray,
    conductance: np.ndarray,
    k_cell: np.ndarray,
) -> None:
    """Fill face radii [m], cell volumes (per 4 pi, m3), face conductances (per 4 pi, W/K; index j = face
    between cells j and j+1, last = far boundary; harmonic mean over the two half-cells) and cell
    conductivities."""
    n_cells = volume.shape[0]
    for j in range(n_cells + 1):
        faces[j] = faces_over_r[j] * radius_m
    for j in range(n_cells):
        volume[j] = (faces[j + 1] ** 3 - faces[j] ** 3) / 3.0
        k_cell[j] = k_t if j < n_t else k_h
    for j in range(n_cells - 1):
        r1 = faces[j + 1]
        half_in = 0.5 * (faces[j + 1] - faces[j])
        half_out = 0.5 * (faces[j + 2] - faces[j + 1])
        conductance[j] = r1 * r1 / (half_in / k_cell[j] + half_out / k_cell[j + 1])
    rn = faces[n_cells]
    conductance[n_cells - 1] = rn * rn * k_cell[n_cells - 1] / (0.5 * (faces[n_cells] - faces[n_cells - 1]))


@njit(cache=True)
def assemble_and_solve(
    t_new: np.ndarray,
    t_now: np.ndarray,
    t_prev: np.ndarray,
    t_lag: np.ndarray,
    a0: float,
    a1: float,
    a2: float,
    steady: bool,
    dt: float,
    volume: np.ndarray,
    conductance: np.ndarray,
    rho_c: np.ndarray,
    omega37: np.ndarray,
    model: np.ndarray,
    source: np.ndarray,
    rho_c_blood: float,
    t_art: float,
    coef: np.ndarray,
    lower: np.ndarray,
    diag: np.ndarray,
    upper: np.ndarray,
    rhs: np.ndarray,
    work: np.ndarray,
) -> None:
    """One implicit step (or, with ``steady``, the steady state) of the finite-volume Pennes system.

    ``source`` is the total heat per cell volume [W/m3] (metabolic + particles); perfusion is evaluated
    at ``t_lag`` (lagged). Time derivative ``(a0 T^{n+1} - a1 T^n + a2 T^{n-1}) / dt``: backward Euler
    (1, 1, 0); BDF2 with step ratio w = dt_n / dt_{n-1}: ((1+2w)/(1+w), 1+w, w^2/(1+w)).
    """
    n = t_now.shape[0]
    for j in range(n):
        perf = rho_c_blood * omega37[j] * perfusion_factor(t_lag[j], model[j], coef) * volume[j]
        g_in = conductance[j - 1] if j > 0 else 0.0
        g_out = conductance[j]
        lower[j] = -g_in
        upper[j] = -g_out if j < n - 1 else 0.0
        d = g_in + g_out + perf
        r = volume[j] * source[j] + perf * t_art
        if j == n - 1:
            r += g_out * t_art
        if not steady:
            cap = rho_c[j] * volume[j] / dt
            d += a0 * cap
            r += cap * (a1 * t_now[j] - a2 * t_prev[j])
        diag[j] = d
        rhs[j] = r
    thomas_solve(lower, diag, upper, rhs, t_new, work)


@njit(cache=True)
def _margin_and_healthy_max(t: np.ndarray, n_t: int, k_t: float, k_h: float) -> tuple[float, float]:
    t_margin = (k_t * t[n_t - 1] + k_h * t[n_t]) / (k_t + k_h)
    hmax = t_margin
    for j in range(n_t, t.shape[0]):
        if t[j] > hmax:
            hmax = t[j]
    return t_margin, hmax


@njit(cache=True)
def _steady(
    t_out,
    volume,
    conductance,
    rho_c,
    omega37,
    model,
    source,
    rho_c_blood,
    t_art,
    coef,
    lower,
    diag,
    upper,
    rhs,
    work,
    t_scratch,
    lag_fixed: bool,
) -> bool:
    """Steady state by fixed-point iteration on the lagged perfusion (or one linear solve with perfusion
    frozen at ``t_out`` when ``lag_fixed``). Returns False if it did not converge."""
    n = t_out.shape[0]
    if lag_fixed:
        assemble_and_solve(
            t_scratch,
            t_out,
            t_out,
            t_out,
            1.0,
            1.0,
            0.0,
            True,
            1.0,
            volume,
            conductance,
            rho_c,
            omega37,
            model,
            source,
            rho_c_blood,
            t_art,
            coef,
            lower,
            diag,
            upper,
            rhs,
            work,
        )
        for j in range(n):
            t_out[j] = t_scratch[j]
        return True
    for _ in range(200):
        assemble_and_solve(
            t_scratch,
            t_out,
            t_out,
            t_out,
            1.0,
            1.0,
            0.0,
            True,
            1.0,
            volume,
            conductance,
            rho_c,
            omega37,
            model,
            source,
            rho_c_blood,
            t_art,
            coef,
            lower,
            diag,
            upper,
            rhs,
            work,
        )
        change = 0.0
        for j in range(n):
            d = abs(t_scratch[j] - t_out[j])
            if d > change:
                change = d
            # under-relaxed update keeps the iteration monotone near the steep Lang knees
            t_out[j] = 0.5 * t_out[j] + 0.5 * t_scratch[j]
        if change < 1e-10:
            return True
    return False


@njit(cache=True)
def _titration_residual(
    u,
    t_work,
    t_base,
    qm,
    q_max,
    dep,
    src,
    volume,
    conductance,
    rho_c,
    om,
    model,
    rho_c_blood,
    t_art,
    coef,
    lower,
    diag,
    upper,
    rhs,
    work,
    scratch,
    n_t,
    k_t,
    k_h,
    target_c,
    healthy_max_c,
) -> float:
    """min(target - T_margin, healthy_max - T_healthy_max) [K] at the nonlinear steady state with power u."""
    for j in range(t_work.shape[0]):
        t_work[j] = t_base[j]
        src[j] = qm[j] + q_max * u * dep[j]
    _steady(
        t_work,
        volume,
        conductance,
        rho_c,
        om,
        model,
        src,
        rho_c_blood,
        t_art,
        coef,
        lower,
        diag,
        upper,
        rhs,
        work,
        scratch,
        False,
    )
    tm, th = _margin_and_healthy_max(t_work, n_t, k_t, k_h)
    return min(target_c - tm, healthy_max_c - th)


@njit(parallel=True, cache=True)
def radial_sessions_kernel(
    radius_m,
    coverage,
    q_ref,
    field_fixed,
    omega_t,
    omega_h,
    field_ref,
    field_exp,
    titrate,
    target_c,
    healthy_max_c,
    field_min,
    field_max,
    kp,
    ti_s,
    ctrl_every,
    band,
    rho_c_t,
    k_t,
    qm_t,
    model_t,
    rho_c_h,
    k_h,
    qm_h,
    model_h,
    rho_c_blood,
    t_art,
    coef,
    n_t,
    faces_over_r,
    dt,
    n_heat,
    n_total,
    rec_every,
    arr_a,
    arr_ea,
    baseline,
    peak,
    cem,
    omega_out,
    tx,
    cem_t90,
    max_healthy,
    margin_peak,
    field_mean,
    rec_t,
    rec_hmax,
    rec_field,
    deposit_frac,
    status,
):
    """Numba kernel behind :func:`simulate_sessions_radial` (see there for arguments); parallel over
    patients only. ``status[p]``: 0 ok, 1 non-finite temperature, 2 steady state did not converge."""
    n_pat = radius_m.shape[0]
    n_sessions = field_fixed.shape[1]
    n_cells = faces_over_r.shape[0] - 1
    for p in prange(n_pat):
        volume = np.empty(n_cells)
        conductance = np.empty(n_cells)
        k_cell = np.empty(n_cells)
        rho_c = np.empty(n_cells)
        om = np.empty(n_cells)
        model = np.empty(n_cells, dtype=np.int64)
        qm = np.empty(n_cells)
        dep = np.zeros(n_cells)
        src = np.empty(n_cells)
        lower = np.empty(n_cells)
        diag = np.empty(n_cells)
        upper = np.empty(n_cells)
        rhs = np.empty(n_cells)
        work = np.empty(n_cells)
        scratch = np.empty(n_cells)
        t_base = np.empty(n_cells)
        t_prev = np.empty(n_cells)
        t_now = np.empty(n_cells)
        t_new = np.empty(n_cells)
        t_lag = np.empty(n_cells)
        t_gain = np.empty(n_cells)
        rate_old = np.empty(n_cells)
        arr_old = np.empty(n_cells)
        tumour_vol = np.empty(n_t)
        tumour_t = np.empty(n_t)
        order = np.empty(n_t, dtype=np.int64)

        faces = np.empty(n_cells + 1)
        radial_geometry(n_t, faces_over_r, radius_m[p], k_t, k_h, faces, volume, conductance, k_cell)
        r_dep = radius_m[p] * coverage[p] ** (1.0 / 3.0)
        for j in range(n_cells):
            if j < n_t:
                rho_c[j] = rho_c_t
                om[j] = omega_t[p]
                model[j] = model_t
                qm[j] = qm_t
                tumour_vol[j] = volume[j]
                r0 = faces[j]
                r1 = faces[j + 1]
                top = min(r1, r_dep)
                if top > r0:
                    dep[j] = (top**3 - r0**3) / (r1**3 - r0**3)
                deposit_frac[p, j] = dep[j]
            else:
                rho_c[j] = rho_c_h
                om[j] = omega_h[p]
                model[j] = model_h
                qm[j] = qm_h

        # field-off steady state (start of every session)
        for j in range(n_cells):
            t_base[j] = t_art
            src[j] = qm[j]
        if not _steady(
            t_base,
            volume,
            conductance,
            rho_c,
            om,
            model,
            src,
            rho_c_blood,
            t_art,
            coef,
            lower,
            diag,
            upper,
            rhs,
            work,
            scratch,
            False,
        ):
            status[p] = 2
            continue
        for j in range(n_cells):
            baseline[p, j] = t_base[j]
        base_margin, base_hmax = _margin_and_healthy_max(t_base, n_t, k_t, k_h)

        # titration set-up: linear steady gains per unit normalised power u (u = 1 <=> H = field_max) for
        # the PI law, and the feed-forward u_ff = the power whose NONLINEAR steady state just meets the
        # tighter constraint (Illinois regula falsi on u; the Lang tumour curve makes the linear estimate
        # too high, which would overshoot).
        q_max = q_ref[p] * (field_max / field_ref) ** field_exp
        gain_m = 0.0
        gain_h = 0.0
        u_ff = 1.0
        u_min = (field_min / field_max) ** field_exp
        if titrate:
            for j in range(n_cells):
                t_gain[j] = t_base[j]
                src[j] = qm[j] + q_max * dep[j]
            _steady(
                t_gain,
                volume,
                conductance,
                rho_c,
                om,
                model,
                src,
                rho_c_blood,
                t_art,
                coef,
                lower,
                diag,
                upper,
                rhs,
                work,
                scratch,
                True,
            )
            gm, gh = _margin_and_healthy_max(t_gain, n_t, k_t, k_h)
            gain_m = gm - base_margin
            gain_h = gh - base_hmax
            u_lo = u_min
            u_hi = 1.0
            f_lo = _titration_residual(
                u_lo,
                t_gain,
                t_base,
                qm,
                q_max,
                dep,
                src,
                volume,
                conductance,
                rho_c,
                om,
                model,
                rho_c_blood,
                t_art,
                coef,
                lower,
                diag,
                upper,
                rhs,
                work,
                scratch,
                n_t,
                k_t,
                k_h,
                target_c,
                healthy_max_c,
            )
            f_hi = _titration_residual(
                u_hi,
                t_gain,
                t_base,
                qm,
                q_max,
                dep,
                src,
                volume,
                conductance,
                rho_c,
                om,
                model,
                rho_c_blood,
                t_art,
                coef,
                lower,
                diag,
                upper,
                rhs,
                work,
                scratch,
                n_t,
                k_t,
                k_h,
                target_c,
                healthy_max_c,
            )
            if f_hi >= 0.0:
                u_ff = 1.0
            elif f_lo <= 0.0:
                u_ff = u_min
            else:
                side = 0
                u_ff = u_lo
                for _ in range(40):
                    u_ff = (u_lo * f_hi - u_hi * f_lo) / (f_hi - f_lo)
                    f_mid = _titration_residual(
                        u_ff,
                        t_gain,
                        t_base,
                        qm,
                        q_max,
                        dep,
                        src,
                        volume,
                        conductance,
                        rho_c,
                        om,
                        model,
                        rho_c_blood,
                        t_art,
                        coef,
                        lower,
                        diag,
                        upper,
                        rhs,
                        work,
                        scratch,
                        n_t,
                        k_t,
                        k_h,
                        target_c,
                        healthy_max_c,
                    )
                    if abs(f_mid) < 1e-4:
                        break
                    if f_mid > 0.0:
                        u_lo = u_ff
                        f_lo = f_mid
                        if side == 1:
                            f_hi *= 0.5
                        side = 1
                    else:
                        u_hi = u_ff
                        f_hi = f_mid
                        if side == -1:
                            f_lo *= 0.5
                        side = -1

        for s in range(n_sessions):
            for j in range(n_cells):
                t_now[j] = t_base[j]
                t_prev[j] = t_base[j]
                peak[p, s, j] = t_base[j]
                cem[p, s, j] = 0.0
                omega_out[p, s, j] = 0.0
                rate_old[j] = cem43_rate(t_base[j])
                arr_old[j] = arrhenius_rate(t_base[j], arr_a, arr_ea)
            for j in range(n_t):
                tumour_t[j] = t_base[j]
            for j in range(n_t):
                order[j] = j
            t90_old = exceeded_temperature_inplace(tumour_t, tumour_vol, 0.9, order)
            cem_t90[p, s] = 0.0
            m0, hm0 = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
            max_healthy[p, s] = hm0
            margin_peak[p, s] = m0
            u = u_ff
            integral = 0.0
            h_sum = 0.0
            h_prev = dt
            if titrate:
                field = field_max * u ** (1.0 / field_exp)
            else:
                field = field_fixed[p, s]
            rec_i = 0
            for j in range(n_t):
                rec_t[p, s, 0, j] = t_now[j]
            rec_hmax[p, s, 0] = hm0
            rec_field[p, s, 0] = field if n_heat > 0 else 0.0
            rec_i = 1
            for k in range(n_total):
                heating = k < n_heat
                if heating and titrate and k % ctrl_every == 0 and k > 0:
                    tm, th = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
                    u, integral = titration_step(
                        tm,
                        th,
                        target_c,
                        healthy_max_c,
                        gain_m,
                        gain_h,
                        u_ff,
                        integral,
                        kp,
                        ctrl_every * dt,
                        ti_s,
                        u_min,
                        band,
                    )
                    field = field_max * u ** (1.0 / field_exp)
                q_now = q_ref[p] * (field / field_ref) ** field_exp if heating else 0.0
                if heating:
                    h_sum += field
                for j in range(n_cells):
                    src[j] = qm[j] + q_now * dep[j]
                # The source jumps at the start and at switch-off: BDF2 restarts there with a backward-Euler
                # step of dt/2^L followed by variable-step BDF2 steps dt/2^L, dt/2^(L-1), ..., dt/2 (ratios 1,
                # then 2, and 2 for the next full step; zero-stable below 1 + sqrt 2), which resolves the fast
                # initial transient of the small cells. Elsewhere constant-step BDF2.
                restart = k == 0 or k == n_heat
                n_sub = RESTART_LEVELS + 1 if restart else 1
                ok = True
                for sub in range(n_sub):
                    if restart:
                        h_step = dt / 2.0 ** (RESTART_LEVELS - max(sub - 1, 0))
                    else:
                        h_step = dt
                    if restart and sub == 0:
                        a0, a1, a2 = 1.0, 1.0, 0.0
                        for j in range(n_cells):
                            t_lag[j] = t_now[j]
                    else:
                        w = h_step / h_prev
                        a0 = (1.0 + 2.0 * w) / (1.0 + w)
                        a1 = 1.0 + w
                        a2 = w * w / (1.0 + w)
                        for j in range(n_cells):
                            t_lag[j] = t_now[j] + w * (t_now[j] - t_prev[j])
                    h_prev = h_step
                    assemble_and_solve(
                        t_new, t_now, t_prev, t_lag, a0, a1, a2, False, h_step, volume, conductance, rho_c, om,
                        model, src, rho_c_blood, t_art, coef, lower, diag, upper, rhs, work,
                    )  # fmt: skip
                    for j in range(n_cells):
                        tj = t_new[j]
                        if not math.isfinite(tj):
                            ok = False
                            break
                        t_prev[j] = t_now[j]
                        t_now[j] = tj
                        if tj > peak[p, s, j]:
                            peak[p, s, j] = tj
                        rate_new = cem43_rate(tj)
                        cem[p, s, j] += 0.5 * (rate_old[j] + rate_new) * h_step / 60.0
                        rate_old[j] = rate_new
                        a_new = arrhenius_rate(tj, arr_a, arr_ea)
                        omega_out[p, s, j] += 0.5 * (arr_old[j] + a_new) * h_step
                        arr_old[j] = a_new
                    if not ok:
                        break
                    for j in range(n_t):
                        tumour_t[j] = t_now[j]
                    t90_new = exceeded_temperature_inplace(tumour_t, tumour_vol, 0.9, order)
                    cem_t90[p, s] += 0.5 * (cem43_rate(t90_old) + cem43_rate(t90_new)) * h_step / 60.0
                    t90_old = t90_new
                if not ok:
                    status[p] = 1
                    break
                tm, th = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
                if th > max_healthy[p, s]:
                    max_healthy[p, s] = th
                if tm > margin_peak[p, s]:
                    margin_peak[p, s] = tm
                if (k + 1) % rec_every == 0:
                    for j in range(n_t):
                        rec_t[p, s, rec_i, j] = t_now[j]
                    rec_hmax[p, s, rec_i] = th
                    rec_field[p, s, rec_i] = field if (k + 1) < n_heat else 0.0
                    rec_i += 1
            if status[p] != 0:
                break
            field_mean[p, s] = h_sum / n_heat if n_heat > 0 else 0.0
            for j in range(n_t):
                tumour_t[j] = peak[p, s, j]
            tx[p, s, 0] = exceeded_temperature(tumour_t, tumour_vol, 0.9)
            tx[p, s, 1] = exceeded_temperature(tumour_t, tumour_vol, 0.5)
            tx[p, s, 2] = exceeded_temperature(tumour_t, tumour_vol, 0.1)


# ----------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class RadialSessionsResult:
    """Per-patient, per-session, per-shell results of :func:`simulate_sessions_radial` (see module table)."""

    face_radius_over_R: np.ndarray
    cell_radius_over_R: np.ndarray
    shell_volume_fraction: np.ndarray
    deposit_fraction: np.ndarray
    baseline_C: np.ndarray
    peak_C: np.ndarray
    cem43_min: np.ndarray
    arrhenius_omega: np.ndarray
    t90_C: np.ndarray
    t50_C: np.ndarray
    t10_C: np.ndarray
    cem43_t90_min: np.ndarray
    max_healthy_C: np.ndarray
    margin_peak_C: np.ndarray
    field_mean_kA_per_m: np.ndarray
    record_times_s: np.ndarray
    tumor_temperature_C: np.ndarray
    healthy_max_record_C: np.ndarray
    field_record_kA_per_m: np.ndarray
    cells_in_tumour: int
    arrhenius_set: str
    dt_s: float

    @property
    def tumour_peak_C(self) -> np.ndarray:
        """(n, n_sessions, cells_in_tumour) per-shell peak temperature in the tumour."""
        return self.peak_C[:, :, : self.cells_in_tumour]

    @property
    def tumour_cem43_min(self) -> np.ndarray:
        """(n, n_sessions, cells_in_tumour) per-shell CEM43 in the tumour."""
        return self.cem43_min[:, :, : self.cells_in_tumour]

    @property
    def tumour_arrhenius_omega(self) -> np.ndarray:
        return self.arrhenius_omega[:, :, : self.cells_in_tumour]


def _positive_array(name: str, value, n: int | None, allow_zero: bool = False) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if n is not None and arr.shape != (n,):
        if arr.shape == (1,):
            arr = np.full(n, arr[0])
        else:
            raise InputError(name, arr.shape, f"expected shape ({n},)")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise InputError(f"{name}[{i}]", float(arr[i]), "must be finite and " + (">= 0" if allow_zero else "> 0"))
    return arr


def _positive_scalar(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise InputError(name, value, "must be a finite number > 0")
    return v


def simulate_sessions_radial(
    tumor_radius_m: np.ndarray,
    coverage_fraction: np.ndarray,
    deposit_power_W_per_m3: np.ndarray,
    *,
    tumor: TissueProperties,
    healthy: TissueProperties,
    field_ref_kA_per_m: float = 10.0,
    field_exponent: float = 2.0,
    field_kA_per_m: np.ndarray | float | None = None,
    control: SessionControl | None = None,
    tumor_perfusion_mL_per_min_per_kg: np.ndarray | float | None = None,
    healthy_perfusion_scale: np.ndarray | float = 1.0,
    blood: Blood | None = None,
    n_sessions: int = 1,
    session_s: float = 3600.0,
    cooldown_s: float = 900.0,
    dt_s: float = 10.0,
    cells_in_tumour: int = 12,
    cells_in_healthy: int = 12,
    far_factor: float = 4.0,
    record_every_s: float = 60.0,
    arrhenius: str = "he_bischof_2003_at1",
) -> RadialSessionsResult:
    """Simulate ``n_sessions`` heat sessions for each of ``n`` patients on the radial grid.

    Parameters (arrays have shape ``(n,)`` unless stated; scalars broadcast)
    ----------
    tumor_radius_m: tumour radius [m] (volume-equivalent sphere).
    coverage_fraction: fraction of tumour volume inside the particle deposit, (0, 1].
    deposit_power_W_per_m3: particle heating power density in the deposit at ``field_ref_kA_per_m`` [W/m3]
        (>= 0; 0 = no particles). Power at amplitude H: ``q * (H / field_ref)**field_exponent``.
    tumor, healthy: thermal properties (``tissue.tumour_tissue(host)``, ``tissue.load_tissue(name)``).
    field_kA_per_m: fixed amplitude [kA/m], scalar or ``(n,)`` or ``(n, n_sessions)`` (fixed mode).
    control: :class:`~mhtcdt.physics.session.SessionControl`; ``mode="titrate"`` ignores
        ``field_kA_per_m`` and titrates to ``target_C`` at the tumour margin under ``healthy_max_C``.
    tumor_perfusion_mL_per_min_per_kg: per-patient tumour perfusion at 37 C (default: ``tumor``'s value).
    healthy_perfusion_scale: multiplies the healthy tissue's 37 C perfusion (per patient or scalar).
    n_sessions, session_s, cooldown_s, dt_s: sessions per patient, field-on time [s], recorded cooling
        time after switch-off [s], time step [s] (``session_s`` and ``cooldown_s`` are rounded to whole
        steps).
    cells_in_tumour, cells_in_healthy, far_factor: radial grid (uniform cells across the tumour,
        geometrically growing cells in healthy tissue, far boundary at far_factor * R).
    record_every_s: sampling interval of the recorded histories [s] (a multiple of ``dt_s``).
    arrhenius: key of the Arrhenius set (``dose.arrhenius_set``) for the per-cell damage integral.

    Raises ``InputError`` for bad input and ``ModelError`` if any temperature became non-finite.
    """
    radius = _positive_array("tumor_radius_m", tumor_radius_m, None)
    n = radius.shape[0]
    coverage = _positive_array("coverage_fraction", coverage_fraction, n)
    if np.any(coverage > 1.0):
        i = int(np.argmax(coverage > 1.0))
        raise InputError(f"coverage_fraction[{i}]", float(coverage[i]), "must lie in (0, 1]")
    q_ref = _positive_array("deposit_power_W_per_m3", deposit_power_W_per_m3, n, allow_zero=True)
    field_ref = _positive_scalar("field_ref_kA_per_m", field_ref_kA_per_m)
    field_exp = _positive_scalar("field_exponent", field_exponent)
    if not (isinstance(n_sessions, int | np.integer) and n_sessions >= 1):
        raise InputError("n_sessions", n_sessions, "must be an integer >= 1")
    dt = _positive_scalar("dt_s", dt_s)
    session = _positive_scalar("session_s", session_s)
    if not (math.isfinite(cooldown_s) and cooldown_s >= 0):
        raise InputError("cooldown_s", cooldown_s, "must be a finite number >= 0")
    record = _positive_scalar("record_every_s", record_every_s)
    if not (isinstance(cells_in_tumour, int | np.integer) and cells_in_tumour >= 2):
        raise InputError("cells_in_tumour", cells_in_tumour, "must be an integer >= 2")
    if not (isinstance(cells_in_healthy, int | np.integer) and cells_in_healthy >= 2):
        raise InputError("cells_in_healthy", cells_in_healthy, "must be an integer >= 2")
    if not (math.isfinite(far_factor) and far_factor >= 2):
        raise InputError("far_factor", far_factor, "must be >= 2 (far boundary at far_factor * R)")
    control = control if control is not None else SessionControl()
    titrate = control.mode == "titrate"
    if titrate:
        fixed = np.zeros((n, n_sessions))
    else:
        if field_kA_per_m is None:
            raise InputError("field_kA_per_m", None, "fixed mode needs an amplitude (or use control mode 'titrate')")
        f = np.asarray(field_kA_per_m, dtype=np.float64)
        if f.ndim == 0:
            fixed = np.full((n, n_sessions), float(f))
        elif f.shape == (n,):
            fixed = np.repeat(f[:, None], n_sessions, axis=1)
        elif f.shape == (n, n_sessions):
            fixed = f.copy()
        else:
            raise InputError("field_kA_per_m", f.shape, f"expected a scalar, ({n},) or ({n}, {n_sessions})")
        h_device = float(load_magnetics()["device_range"]["field_kA_per_m"][1])
        bad = ~np.isfinite(fixed) | (fixed < 0) | (fixed > h_device)
        if np.any(bad):
            idx = np.argwhere(bad)[0]
            raise InputError(
                f"field_kA_per_m[{idx[0]}, {idx[1]}]",
                float(fixed[tuple(idx)]),
                f"must lie in [0, {h_device}] kA/m (0 = field off; device range in magnetics.toml)",
            )
    if tumor_perfusion_mL_per_min_per_kg is None:
        perf_t = np.full(n, tumor.perfusion_mL_per_min_per_kg)
    else:
        perf_t = _positive_array("tumor_perfusion_mL_per_min_per_kg", tumor_perfusion_mL_per_min_per_kg, n)
    scale_h = _positive_array("healthy_perfusion_scale", healthy_perfusion_scale, n)
    omega_t = perfusion_per_s(perf_t, tumor.density_kg_per_m3)
    omega_h = perfusion_per_s(healthy.perfusion_mL_per_min_per_kg * scale_h, healthy.density_kg_per_m3)
    blood = blood if blood is not None else load_blood()
    arr = arrhenius_set(arrhenius)

    n_heat = int(round(session / dt))
    n_total = n_heat + int(round(cooldown_s / dt))
    rec_every = int(round(record / dt))
    if rec_every < 1 or abs(rec_every * dt - record) > 1e-9 * record:
        raise InputError("record_every_s", record_every_s, f"must be a whole multiple of dt_s = {dt}")
    ctrl_every = max(1, int(round(control.control_interval_s / dt)))
    n_rec = n_total // rec_every + 1
    n_t = int(cells_in_tumour)
    faces_over_r = radial_faces_over_R(n_t, int(cells_in_healthy), float(far_factor))
    n_cells = faces_over_r.shape[0] - 1

    baseline = np.zeros((n, n_cells))
    peak = np.zeros((n, n_sessions, n_cells))
    cem = np.zeros((n, n_sessions, n_cells))
    omega_out = np.zeros((n, n_sessions, n_cells))
    tx = np.zeros((n, n_sessions, 3))
    cem_t90 = np.zeros((n, n_sessions))
    max_healthy = np.zeros((n, n_sessions))
    margin_peak = np.zeros((n, n_sessions))
    field_mean = np.zeros((n, n_sessions))
    rec_t = np.zeros((n, n_sessions, n_rec, n_t))
    rec_hmax = np.zeros((n, n_sessions, n_rec))
    rec_field = np.zeros((n, n_sessions, n_rec))
    deposit_frac = np.zeros((n, n_t))
    status = np.zeros(n, dtype=np.int64)

    radial_sessions_kernel(
        radius,
        coverage,
        q_ref,
        fixed,
        omega_t,
        omega_h,
        field_ref,
        field_exp,
        titrate,
        float(control.target_C or 0.0),
        control.healthy_max_C,
        control.field_min_kA_per_m,
        control.field_max_kA_per_m,
        control.proportional_gain,
        control.integral_time_s,
        ctrl_every,
        control.integral_band_K,
        tumor.volumetric_heat_capacity_J_per_m3_K,
        tumor.conductivity_W_per_m_K,
        tumor.metabolic_heat_W_per_m3,
        PERFUSION_MODELS[tumor.perfusion_model],
        healthy.volumetric_heat_capacity_J_per_m3_K,
        healthy.conductivity_W_per_m_K,
        healthy.metabolic_heat_W_per_m3,
        PERFUSION_MODELS[healthy.perfusion_model],
        blood.volumetric_heat_capacity_J_per_m3_K,
        blood.arterial_temperature_C,
        perfusion_coefficients(),
        n_t,
        faces_over_r,
        dt,
        n_heat,
        n_total,
        rec_every,
        arr.a_per_s,
        arr.ea_J_per_mol,
        baseline,
        peak,
        cem,
        omega_out,
        tx,
        cem_t90,
        max_healthy,
        margin_peak,
        field_mean,
        rec_t,
        rec_hmax,
        rec_field,
        deposit_frac,
        status,
    )
    if np.any(status != 0):
        i = int(np.argmax(status != 0))
        what = "non-finite temperature" if status[i] == 1 else "field-off steady state did not converge"
        raise ModelError(f"radial bioheat solver failed for patient index {i}: {what}")

    for name, arr in (
        ("peak_C", peak),
        ("cem43_min", cem),
        ("arrhenius_omega", omega_out),
        ("cem43_t90_min", cem_t90),
    ):
        if not np.all(np.isfinite(arr)):
            i = int(np.argmax(~np.isfinite(arr.reshape(n, -1)).any(axis=1)))
            raise ModelError(f"radial bioheat solver produced non-finite {name} for patient index {i}")
    edges = faces_over_r
    centres = 0.5 * (edges[:-1] + edges[1:])
    shell_vol = edges[1 : n_t + 1] ** 3 - edges[:n_t] ** 3
    return RadialSessionsResult(
        face_radius_over_R=edges,
        cell_radius_over_R=centres,
        shell_volume_fraction=shell_vol / shell_vol.sum(),
        deposit_fraction=deposit_frac,
        baseline_C=baseline,
        peak_C=peak,
        cem43_min=cem,
        arrhenius_omega=omega_out,
        t90_C=tx[:, :, 0],
        t50_C=tx[:, :, 1],
        t10_C=tx[:, :, 2],
        cem43_t90_min=cem_t90,
        max_healthy_C=max_healthy,
        margin_peak_C=margin_peak,
        field_mean_kA_per_m=field_mean,
        record_times_s=np.arange(n_rec, dtype=np.float64) * rec_every * dt,
        tumor_temperature_C=rec_t,
        healthy_max_record_C=rec_hmax,
        field_record_kA_per_m=rec_field,
        cells_in_tumour=n_t,
        arrhenius_set=arrhenius,
        dt_s=dt,
    )
