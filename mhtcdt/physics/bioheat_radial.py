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
...     RadialPatients(r, c, q_at_ref, tumour_perfusion_mL_per_min_per_kg=perf),
...     tumour=tumour_tissue("brain"), healthy=load_tissue("brain"),
...     heating=Heating(field_ref_kA_per_m=10.0, field_exponent=1.43, field_kA_per_m=np.full((n, 4), 10.0)),
...     n_sessions=4, timing=SessionTiming(session_s=3600.0, cooldown_s=900.0, dt_s=10.0, record_every_s=60.0))
>>> res.tumour_temperature_C        # (n, n_sessions, n_records, cells_in_tumour), C, every record_every_s
>>> res.record_times_s             # (n_records,) s from session start
>>> res.shell_volume_fraction      # (cells_in_tumour,) volume weights of the tumour shells (sum 1)
>>> res.deposit_fraction           # (n, cells_in_tumour) fraction of each shell inside the deposit

``q`` scales as ``deposit_power_W_per_m3 * (H / field_ref_kA_per_m)**field_exponent``; build
``deposit_power_W_per_m3`` with ``particles.volumetric_heating_W_per_m3`` (SLP x local iron).
For titration pass ``Heating(control=SessionControl(mode="titrate", target_C=..., ...))`` instead of a
``field_kA_per_m``.

Numba kernel layout
-------------------
:func:`radial_sessions_kernel` (``prange`` over patients) takes named tuples grouped by meaning: what all
patients share (:class:`RadialMesh`, :class:`~mhtcdt.physics.tissue.ThermalMedium`, :class:`FieldLaw`,
:class:`~mhtcdt.physics.session.TitrationLaw`, :class:`~mhtcdt.physics.session.SessionClock`,
:class:`ArrheniusRates`, grouped again as a :class:`RadialProblem` inside), the :class:`PatientArrays` and
the :class:`RadialOutputs` it fills. Per patient (:func:`_simulate_patient`) it builds the cells
(:class:`CellSystem`: the :class:`PennesOperator` and the heat sources), a :class:`Workspace` and the
time-stepping :class:`SessionState`, solves the field-off steady state (:func:`_steady`), plans the
titration (:func:`_titration_plan`) and runs each session (:func:`_run_session`; every step is
:func:`_bdf_step` + :func:`assemble_and_solve`). Hot loops read the tuples' arrays into locals once:
numba updates a reference count at every read of an array from a tuple, which in a per-cell loop costs
more than the arithmetic.

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
tumour_temperature_C       (n, n_sessions, n_records, cells_in_tumour) C
healthy_max_record_C      (n, n_sessions, n_records)                 C
field_record_kA_per_m     (n, n_sessions, n_records)                 kA/m (0 after switch-off)
========================  =========================================  ==============================
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

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
from mhtcdt.physics.session import (
    SessionClock,
    SessionControl,
    SessionTiming,
    Titration,
    TitrationLaw,
    clinical_step,
    titration_step,
)
from mhtcdt.physics.tissue import (
    Blood,
    ThermalMedium,
    TissueProperties,
    load_blood,
    perfusion_factor,
    perfusion_per_s,
    thermal_medium,
)

RESTART_LEVELS = 3  # graded start after a source jump: dt/8 (BE), dt/8, dt/4, dt/2 -> sums to dt


# ----------------------------------------------------------------------------- kernel structures
class RadialMesh(NamedTuple):
    """The radial grid relative to the tumour radius (shared by all patients)."""

    faces_over_r: np.ndarray  # (n_cells + 1,) cell-face radius / tumour radius
    n_t: int  # cells across the tumour (the first n_t cells)


class FieldLaw(NamedTuple):
    """How the field heats the deposit and how its amplitude is chosen (shared by all patients)."""

    field_ref: float  # amplitude at which the deposit power is given [kA/m]
    exponent: float  # q = q_ref (H / field_ref)^exponent
    titrate: bool  # PI titration of the margin temperature (session.titration_step)
    field_min: float  # titration bounds [kA/m]; the first amplitude of the stepwise control
    field_max: float  # device maximum [kA/m]
    ctrl_every: int  # solver steps between two control actions
    steps: bool = False  # clinical stepwise control (session.clinical_step); neither: PatientArrays.field_fixed
    field_step: float = 1.0  # one raise or cut of the stepwise control [kA/m]


class ArrheniusRates(NamedTuple):
    """Arrhenius damage constants of one published set (``dose.arrhenius_set``)."""

    a_per_s: float
    ea_J_per_mol: float


class RadialProblem(NamedTuple):
    """What every patient of one kernel call shares (regrouped inside the kernel, see radial_sessions_kernel)."""

    mesh: RadialMesh
    medium: ThermalMedium
    drive: FieldLaw
    law: TitrationLaw
    clock: SessionClock
    arrhenius: ArrheniusRates


class PatientArrays(NamedTuple):
    """Per-patient kernel inputs, shape (n,) unless stated."""

    radius_m: np.ndarray  # tumour radius [m]
    coverage: np.ndarray  # tumour volume fraction inside the deposit
    q_ref: np.ndarray  # deposit power density at FieldLaw.field_ref [W/m3]
    omega_tumour: np.ndarray  # tumour perfusion at 37 C [1/s]
    omega_healthy: np.ndarray  # healthy-tissue perfusion at 37 C [1/s]
    field_fixed: np.ndarray  # (n, n_sessions) fixed amplitude [kA/m] (unused when titrating)
    shell_weight: np.ndarray  # (n, n_t) local iron concentration multiplier per tumour shell (renormalised)
    field_ceiling: np.ndarray  # (n,) patient's tolerated amplitude [kA/m] (stepwise control)
    catheter_b: np.ndarray  # (n,) thermometry track distance from the tumour centre / tumour radius
    eddy_coef: np.ndarray  # (n,) eddy-current power density per (kA/m)^2 [W/m3], applied to every cell


class RadialOutputs(NamedTuple):
    """Arrays the kernel fills (shapes and units in the module docstring's table)."""

    baseline: np.ndarray  # (n, n_cells)
    peak: np.ndarray  # (n, n_sessions, n_cells)
    cem: np.ndarray  # (n, n_sessions, n_cells)
    omega: np.ndarray  # (n, n_sessions, n_cells)
    tx: np.ndarray  # (n, n_sessions, 3): T90, T50, T10
    cem_t90: np.ndarray  # (n, n_sessions)
    max_healthy: np.ndarray  # (n, n_sessions)
    margin_peak: np.ndarray  # (n, n_sessions)
    field_mean: np.ndarray  # (n, n_sessions)
    rec_t: np.ndarray  # (n, n_sessions, n_records, n_t)
    rec_hmax: np.ndarray  # (n, n_sessions, n_records)
    rec_field: np.ndarray  # (n, n_sessions, n_records)
    deposit_frac: np.ndarray  # (n, n_t)
    status: np.ndarray  # (n,) int64: 0 ok, 1 non-finite temperature, 2 steady state did not converge
    cath_max: np.ndarray  # (n, n_sessions) session maximum of the hottest thermometry-track point [C]
    cath_min: np.ndarray  # (n, n_sessions) coolest track point in the tumour at the end of heating [C]
    stop_reason: np.ndarray  # (n, n_sessions) int64 why the amplitude stopped rising (heat_delivery.STOP_REASONS)
    field_peak: np.ndarray  # (n, n_sessions) highest amplitude applied [kA/m]
    rec_cath: np.ndarray  # (n, n_sessions, n_records) hottest track point [C]


class PennesOperator(NamedTuple):
    """One patient's finite-volume Pennes operator (per 4 pi), one entry per cell."""

    volume: np.ndarray  # [m3 / 4 pi]
    conductance: np.ndarray  # [W/K / 4 pi]; j = face between cells j and j+1, last = far boundary
    rho_c: np.ndarray  # volumetric heat capacity [J/(m3 K)]
    omega37: np.ndarray  # perfusion at 37 C [1/s]
    model: np.ndarray  # perfusion model code (int64)
    coef: np.ndarray  # perfusion_coefficients()
    rho_c_blood: float  # [J/(m3 K)]
    t_art: float  # arterial temperature [C]


class CellSystem(NamedTuple):
    """One patient's cells: the Pennes operator and the heat sources per cell."""

    op: PennesOperator
    qm: np.ndarray  # metabolic heat [W/m3]
    dep: np.ndarray  # volume fraction inside the particle deposit
    qdep: np.ndarray  # particle heating weight: dep x the shell's concentration multiplier (deposit mean 1)


class Tridiagonal(NamedTuple):
    """The tridiagonal system of one step and the Thomas algorithm's work array (n_cells each)."""

    lower: np.ndarray
    diag: np.ndarray
    upper: np.ndarray
    rhs: np.ndarray
    work: np.ndarray


class Workspace(NamedTuple):
    """One patient's heat source, steady-state scratch and tridiagonal system (n_cells each)."""

    source: np.ndarray  # total heat per cell volume [W/m3]
    scratch: np.ndarray
    tri: Tridiagonal


class SessionState(NamedTuple):
    """One patient's time-stepping arrays (n_cells each, tumour arrays n_t)."""

    t_base: np.ndarray  # field-off steady state [C]
    t_prev: np.ndarray  # T^(n-1)
    t_now: np.ndarray  # T^n
    t_new: np.ndarray  # T^(n+1)
    t_lag: np.ndarray  # where perfusion is evaluated
    t_gain: np.ndarray  # steady state used by the titration plan
    cem_rate: np.ndarray  # CEM43 rate at T^n
    arr_rate: np.ndarray  # Arrhenius rate at T^n [1/s]
    tumour_vol: np.ndarray  # (n_t,) shell volumes
    tumour_t: np.ndarray  # (n_t,) shell temperatures for the percentiles
    order: np.ndarray  # (n_t,) int64 shell order by descending temperature


class BDFStep(NamedTuple):
    """Time derivative (a0 T^(n+1) - a1 T^n + a2 T^(n-1)) / dt, or the steady state."""

    a0: float
    a1: float
    a2: float
    dt: float  # [s]
    steady: bool


# ----------------------------------------------------------------------------- numba building blocks
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
def _patient_cells(problem: RadialProblem, patients: PatientArrays, p: int) -> CellSystem:
    """Patient ``p``'s cells: face radii [m], cell volumes (per 4 pi, m3), face conductances (per 4 pi,
    W/K; harmonic mean over the two half-cells), tissue properties and the deposit's volume fraction of
    each cell (exact overlap with the deposit sphere of radius R coverage^(1/3))."""
    m = problem.medium
    n_t = problem.mesh.n_t
    n_cells = problem.mesh.faces_over_r.shape[0] - 1
    radius_m = patients.radius_m[p]
    faces = np.empty(n_cells + 1)
    volume = np.empty(n_cells)
    conductance = np.empty(n_cells)
    k_cell = np.empty(n_cells)
    rho_c = np.empty(n_cells)
    om = np.empty(n_cells)
    model = np.empty(n_cells, dtype=np.int64)
    qm = np.empty(n_cells)
    dep = np.zeros(n_cells)
    for j in range(n_cells + 1):
        faces[j] = problem.mesh.faces_over_r[j] * radius_m
    for j in range(n_cells):
        volume[j] = (faces[j + 1] ** 3 - faces[j] ** 3) / 3.0
        k_cell[j] = m.k_t if j < n_t else m.k_h
    for j in range(n_cells - 1):
        r1 = faces[j + 1]
        half_in = 0.5 * (faces[j + 1] - faces[j])
        half_out = 0.5 * (faces[j + 2] - faces[j + 1])
        conductance[j] = r1 * r1 / (half_in / k_cell[j] + half_out / k_cell[j + 1])
    rn = faces[n_cells]
    conductance[n_cells - 1] = rn * rn * k_cell[n_cells - 1] / (0.5 * (faces[n_cells] - faces[n_cells - 1]))
    r_dep = radius_m * patients.coverage[p] ** (1.0 / 3.0)
    for j in range(n_cells):
        if j < n_t:
            rho_c[j] = m.rho_c_t
            om[j] = patients.omega_tumour[p]
            model[j] = m.model_t
            qm[j] = m.qm_t
            r0 = faces[j]
            r1 = faces[j + 1]
            top = min(r1, r_dep)
            if top > r0:
                dep[j] = (top**3 - r0**3) / (r1**3 - r0**3)
        else:
            rho_c[j] = m.rho_c_h
            om[j] = patients.omega_healthy[p]
            model[j] = m.model_h
            qm[j] = m.qm_h
    # heterogeneous deposit: shell multipliers renormalised so that the deposit keeps its iron
    qdep = np.zeros(n_cells)
    iron = 0.0
    weighted = 0.0
    for j in range(n_t):
        iron += volume[j] * dep[j]
        weighted += volume[j] * dep[j] * patients.shell_weight[p, j]
    norm = iron / weighted if weighted > 0.0 else 1.0
    for j in range(n_t):
        qdep[j] = dep[j] * patients.shell_weight[p, j] * norm
    op = PennesOperator(volume, conductance, rho_c, om, model, m.coef, m.rho_c_blood, m.t_art)
    return CellSystem(op, qm, dep, qdep)


@njit(cache=True)
def _workspace(n_cells: int) -> Workspace:
    tri = Tridiagonal(np.empty(n_cells), np.empty(n_cells), np.empty(n_cells), np.empty(n_cells), np.empty(n_cells))
    return Workspace(np.empty(n_cells), np.empty(n_cells), tri)


@njit(cache=True)
def _session_state(cells: CellSystem, n_t: int) -> SessionState:
    n_cells = cells.qm.shape[0]
    return SessionState(
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        np.empty(n_cells),
        cells.op.volume[:n_t].copy(),
        np.empty(n_t),
        np.empty(n_t, dtype=np.int64),
    )


@njit(cache=True)
def assemble_and_solve(
    t_new: np.ndarray,
    t_now: np.ndarray,
    t_prev: np.ndarray,
    t_lag: np.ndarray,
    source: np.ndarray,
    step: BDFStep,
    op: PennesOperator,
    tri: Tridiagonal,
    t_far: float,
) -> None:
    """One implicit step (or, with ``step.steady``, the steady state) of the finite-volume Pennes system.

    ``source`` is the total heat per cell volume [W/m3] (metabolic + particles + eddy currents); perfusion
    is evaluated at ``t_lag`` (lagged); the far boundary is held at ``t_far`` [C]. Time derivative
    ``(a0 T^{n+1} - a1 T^n + a2 T^{n-1}) / dt``: backward Euler (1, 1, 0); BDF2 with step ratio
    w = dt_n / dt_{n-1}: ((1+2w)/(1+w), 1+w, w^2/(1+w)).
    """
    # fields read once into locals: the loop then indexes plain arrays
    volume, conductance, rho_c, omega37, model, coef, rho_c_blood, t_art = op
    lower, diag, upper, rhs, work = tri
    a0, a1, a2, dt, steady = step
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
            r += g_out * t_far
        if not steady:
            cap = rho_c[j] * volume[j] / dt
            d += a0 * cap
            r += cap * (a1 * t_now[j] - a2 * t_prev[j])
        diag[j] = d
        rhs[j] = r
    thomas_solve(lower, diag, upper, rhs, t_new, work)


@njit(cache=True)
def _margin_and_healthy_max(t: np.ndarray, n_t: int, k_t: float, k_h: float) -> tuple[float, float]:
    """Temperature at the tumour margin (conductivity-weighted face value) and the hottest healthy
    tissue including the margin [C]."""
    t_margin = (k_t * t[n_t - 1] + k_h * t[n_t]) / (k_t + k_h)
    hmax = t_margin
    for j in range(n_t, t.shape[0]):
        if t[j] > hmax:
            hmax = t[j]
    return t_margin, hmax


@njit(cache=True)
def _steady(t_out: np.ndarray, cells: CellSystem, ws: Workspace, lag_fixed: bool) -> bool:
    """Steady state with the source ``ws.source``, by fixed-point iteration on the lagged perfusion starting
    from ``t_out`` (or one linear solve with perfusion frozen at ``t_out`` when ``lag_fixed``). Returns
    False if it did not converge."""
    n = t_out.shape[0]
    steady = BDFStep(1.0, 1.0, 0.0, 1.0, True)
    op, tri, source, scratch = cells.op, ws.tri, ws.source, ws.scratch
    if lag_fixed:
        assemble_and_solve(scratch, t_out, t_out, t_out, source, steady, op, tri, op.t_art)
        for j in range(n):
            t_out[j] = scratch[j]
        return True
    for _ in range(200):
        assemble_and_solve(scratch, t_out, t_out, t_out, source, steady, op, tri, op.t_art)
        change = 0.0
        for j in range(n):
            d = abs(scratch[j] - t_out[j])
            if d > change:
                change = d
            # under-relaxed update keeps the iteration monotone near the steep Lang knees
            t_out[j] = 0.5 * t_out[j] + 0.5 * scratch[j]
        if change < 1e-10:
            return True
    return False


@njit(cache=True)
def _titration_residual(
    u: float,
    q_max: float,
    st: SessionState,
    problem: RadialProblem,
    cells: CellSystem,
    ws: Workspace,
) -> float:
    """min(target - T_margin, healthy_max - T_healthy_max) [K] at the nonlinear steady state with the
    deposit at normalised power ``u`` (``q_max`` = power density at field_max [W/m3]); uses ``st.t_gain``
    as work array."""
    t_work = st.t_gain
    for j in range(t_work.shape[0]):
        t_work[j] = st.t_base[j]
        ws.source[j] = cells.qm[j] + q_max * u * cells.qdep[j]
    _steady(t_work, cells, ws, False)
    tm, th = _margin_and_healthy_max(t_work, problem.mesh.n_t, problem.medium.k_t, problem.medium.k_h)
    law = problem.law
    return min(law.target_C - tm, law.healthy_max_C - th)


@njit(cache=True)
def _titration_plan(
    q_ref: float, problem: RadialProblem, cells: CellSystem, ws: Workspace, st: SessionState
) -> Titration:
    """The PI controller's plan for one patient: linear steady gains per unit normalised power u
    (u = 1 <=> H = field_max) and the feed-forward u_ff = the power whose NONLINEAR steady state just meets
    the tighter constraint (Illinois regula falsi on u; the Lang tumour curve makes the linear estimate
    too high, which would overshoot). Without titration: gains 0 and u_ff = 1."""
    d = problem.drive
    m = problem.medium
    q_max = q_ref * (d.field_max / d.field_ref) ** d.exponent
    gain_m = 0.0
    gain_h = 0.0
    u_ff = 1.0
    u_min = (d.field_min / d.field_max) ** d.exponent
    if d.titrate:
        base_margin, base_hmax = _margin_and_healthy_max(st.t_base, problem.mesh.n_t, m.k_t, m.k_h)
        for j in range(st.t_gain.shape[0]):
            st.t_gain[j] = st.t_base[j]
            ws.source[j] = cells.qm[j] + q_max * cells.qdep[j]
        _steady(st.t_gain, cells, ws, True)
        gm, gh = _margin_and_healthy_max(st.t_gain, problem.mesh.n_t, m.k_t, m.k_h)
        gain_m = gm - base_margin
        gain_h = gh - base_hmax
        u_lo = u_min
        u_hi = 1.0
        f_lo = _titration_residual(u_lo, q_max, st, problem, cells, ws)
        f_hi = _titration_residual(u_hi, q_max, st, problem, cells, ws)
        if f_hi >= 0.0:
            u_ff = 1.0
        elif f_lo <= 0.0:
            u_ff = u_min
        else:
            side = 0
            u_ff = u_lo
            for _ in range(40):
                u_ff = (u_lo * f_hi - u_hi * f_lo) / (f_hi - f_lo)
                f_mid = _titration_residual(u_ff, q_max, st, problem, cells, ws)
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
    return Titration(gain_m, gain_h, u_ff, u_min)


@njit(cache=True, inline="always")  # every sub-step: inlined, a call costs ~7 % of the kernel time
def _bdf_step(
    t_lag: np.ndarray, t_now: np.ndarray, t_prev: np.ndarray, h_step: float, h_prev: float, backward_euler: bool
) -> BDFStep:
    """Coefficients of a step of ``h_step`` seconds after one of ``h_prev``, and the temperature at which the
    perfusion is lagged (into ``t_lag``): backward Euler at T^n, or variable-step BDF2 (step ratio
    w = h_step / h_prev) at the extrapolation T^n + w (T^n - T^(n-1))."""
    if backward_euler:
        for j in range(t_now.shape[0]):
            t_lag[j] = t_now[j]
        return BDFStep(1.0, 1.0, 0.0, h_step, False)
    w = h_step / h_prev
    for j in range(t_now.shape[0]):
        t_lag[j] = t_now[j] + w * (t_now[j] - t_prev[j])
    return BDFStep((1.0 + 2.0 * w) / (1.0 + w), 1.0 + w, w * w / (1.0 + w), h_step, False)


@njit(cache=True, inline="always")  # every step: inlined like _bdf_step
def _catheter_track(t: np.ndarray, n_t: int, jb: int, wb: float, t_margin: float) -> tuple[float, float]:
    """Hottest and coolest point of the thermometry track inside the tumour [C]: the track crosses the
    radii from its distance b to the centre out to the margin; ``T(b)`` is interpolated between the cell
    centres ``jb - 1`` and ``jb`` with weight ``wb`` (``jb = 0``: the centre cell; ``jb = n_t``: between the
    last tumour cell and the margin)."""
    if jb == 0:
        t_b = t[0]
    elif jb == n_t:
        t_b = (1.0 - wb) * t[n_t - 1] + wb * t_margin
    else:
        t_b = (1.0 - wb) * t[jb - 1] + wb * t[jb]
    hot = t_b
    cold = t_b if t_b < t_margin else t_margin
    for j in range(jb, n_t):
        if t[j] > hot:
            hot = t[j]
        if t[j] < cold:
            cold = t[j]
    return hot, cold


@njit(cache=True)
def _track_position(faces_over_r: np.ndarray, n_t: int, b_over_r: float) -> tuple[int, float]:
    """(jb, wb) of :func:`_catheter_track` for a track at ``b_over_r`` tumour radii from the centre."""
    for j in range(n_t):
        centre = 0.5 * (faces_over_r[j] + faces_over_r[j + 1])
        if centre >= b_over_r:
            if j == 0:
                return 0, 0.0
            before = 0.5 * (faces_over_r[j - 1] + faces_over_r[j])
            return j, (b_over_r - before) / (centre - before)
    last = 0.5 * (faces_over_r[n_t - 1] + faces_over_r[n_t])
    return n_t, min(1.0, (b_over_r - last) / (1.0 - last))


@njit(cache=True)
def _run_session(
    p: int,
    s: int,
    patients: PatientArrays,
    problem: RadialProblem,
    cells: CellSystem,
    ws: Workspace,
    st: SessionState,
    plan: Titration,
    out: RadialOutputs,
) -> bool:
    """Session ``s`` of patient ``p`` from the field-off steady state ``st.t_base``: heating (fixed, PI-titrated
    or stepwise amplitude) then cooling, recording every ``clock.rec_every`` steps. False at a non-finite
    temperature.

    Eddy currents add ``eddy_coef H^2`` [W/m3] to every cell while the field is on; the far boundary follows
    the far tissue heated by them, a lumped node ``rho c dT/dt = q_eddy - rho_b c_b omega (T - T_a)``
    (implicit Euler per step), so a uniform eddy source gives the uniform Pennes rise ``q / (rho_b c_b omega)``.
    The thermometry track (:func:`_catheter_track`) is read every step; the stepwise control
    (:func:`~mhtcdt.physics.session.clinical_step`) acts every ``ctrl_every`` steps on its hottest point, the
    hottest healthy tissue and the projected per-session CEM43 of the hottest healthy cell."""
    k_t, k_h = problem.medium.k_t, problem.medium.k_h
    d = problem.drive
    clock = problem.clock
    n_t = problem.mesh.n_t
    # arrays read once into locals (a read from a tuple updates a reference count; the loops below run
    # ~10^4 times per session)
    t_base, t_now, tumour_t, tumour_vol, order = st.t_base, st.t_now, st.tumour_t, st.tumour_vol, st.order
    source, qm, qdep, op, tri = ws.source, cells.qm, cells.qdep, cells.op, ws.tri
    peak, cem_t90, max_healthy, margin_peak = out.peak, out.cem_t90, out.max_healthy, out.margin_peak
    rec_t, rec_hmax, rec_field, rec_cath = out.rec_t, out.rec_hmax, out.rec_field, out.rec_cath
    a_per_s, ea_J_per_mol = problem.arrhenius
    t_new, t_prev, t_lag, cem_rate, arr_rate = st.t_new, st.t_prev, st.t_lag, st.cem_rate, st.arr_rate
    cem, omega = out.cem, out.omega
    q_ref = patients.q_ref[p]
    eddy = patients.eddy_coef[p]
    ceiling = patients.field_ceiling[p]
    t_art = op.t_art
    rho_c_far = problem.medium.rho_c_h
    perf_far = op.rho_c_blood * patients.omega_healthy[p]
    model_far = problem.medium.model_h
    coef = op.coef
    jb, wb = _track_position(problem.mesh.faces_over_r, n_t, patients.catheter_b[p])
    n_cells = t_base.shape[0]
    for j in range(n_cells):
        t_now[j] = t_base[j]
        st.t_prev[j] = t_base[j]
        peak[p, s, j] = t_base[j]
        out.cem[p, s, j] = 0.0
        out.omega[p, s, j] = 0.0
        st.cem_rate[j] = cem43_rate(t_base[j])
        st.arr_rate[j] = arrhenius_rate(t_base[j], a_per_s, ea_J_per_mol)
    for j in range(n_t):
        tumour_t[j] = t_base[j]
    for j in range(n_t):
        order[j] = j
    t90_old = exceeded_temperature_inplace(tumour_t, tumour_vol, 0.9, order)
    cem_t90[p, s] = 0.0
    m0, hm0 = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
    max_healthy[p, s] = hm0
    margin_peak[p, s] = m0
    c_hot, c_cold = _catheter_track(t_now, n_t, jb, wb, m0)
    cath_max = c_hot
    cath_min = c_cold
    u = plan.u_ff
    integral = 0.0
    h_sum = 0.0
    h_prev = clock.dt
    reason = 0
    if d.titrate:
        field = d.field_max * u ** (1.0 / d.exponent)
        reason = 7
    elif d.steps:
        field = min(d.field_min, ceiling, d.field_max)
    else:
        field = patients.field_fixed[p, s]
        reason = 6
    f_peak = field if clock.n_heat > 0 else 0.0
    d_far = 0.0  # eddy-current rise of the far boundary [K]
    for j in range(n_t):
        rec_t[p, s, 0, j] = t_now[j]
    rec_hmax[p, s, 0] = hm0
    rec_field[p, s, 0] = field if clock.n_heat > 0 else 0.0
    rec_cath[p, s, 0] = c_hot
    rec_i = 1
    for k in range(clock.n_total):
        heating = k < clock.n_heat
        if heating and k % d.ctrl_every == 0 and k > 0:
            tm, th = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
            if d.titrate:
                u, integral = titration_step(tm, th, problem.law, plan, integral)
                field = d.field_max * u ** (1.0 / d.exponent)
            elif d.steps:
                c_hot, c_cold = _catheter_track(t_now, n_t, jb, wb, tm)
                remaining_min = (clock.n_heat - k) * clock.dt / 60.0
                dose_now = 0.0
                dose_proj = 0.0
                for j in range(n_t, n_cells):
                    if cem[p, s, j] > dose_now:
                        dose_now = cem[p, s, j]
                    proj = cem[p, s, j] + cem_rate[j] * remaining_min
                    if proj > dose_proj:
                        dose_proj = proj
                field, why = clinical_step(
                    field, c_hot, th, dose_now, dose_proj, ceiling, d.field_min, d.field_step, d.field_max, problem.law
                )
                if why != 0:
                    reason = why
            if field > f_peak:
                f_peak = field
        q_now = q_ref * (field / d.field_ref) ** d.exponent if heating else 0.0
        q_eddy = eddy * field * field if heating else 0.0
        if heating:
            h_sum += field
        for j in range(n_cells):
            source[j] = qm[j] + q_now * qdep[j] + q_eddy
        # The source jumps at the start and at switch-off: BDF2 restarts there with a backward-Euler
        # step of dt/2^L followed by variable-step BDF2 steps dt/2^L, dt/2^(L-1), ..., dt/2 (ratios 1,
        # then 2, and 2 for the next full step; zero-stable below 1 + sqrt 2), which resolves the fast
        # initial transient of the small cells. Elsewhere constant-step BDF2.
        restart = k == 0 or k == clock.n_heat
        n_sub = RESTART_LEVELS + 1 if restart else 1
        for sub in range(n_sub):
            if restart:
                h_step = clock.dt / 2.0 ** (RESTART_LEVELS - max(sub - 1, 0))
            else:
                h_step = clock.dt
            if eddy > 0.0:
                sink = perf_far * perfusion_factor(t_art + d_far, model_far, coef)
                d_far = (d_far + h_step * q_eddy / rho_c_far) / (1.0 + h_step * sink / rho_c_far)
            step = _bdf_step(t_lag, t_now, t_prev, h_step, h_prev, restart and sub == 0)
            h_prev = h_step
            assemble_and_solve(t_new, t_now, t_prev, t_lag, source, step, op, tri, t_art + d_far)
            # accept T^(n+1); accrue the per-cell peak, CEM43 [min] and Arrhenius damage (trapezoid rule)
            for j in range(n_cells):
                tj = t_new[j]
                if not math.isfinite(tj):
                    return False
                t_prev[j] = t_now[j]
                t_now[j] = tj
                if tj > peak[p, s, j]:
                    peak[p, s, j] = tj
                rate_new = cem43_rate(tj)
                cem[p, s, j] += 0.5 * (cem_rate[j] + rate_new) * h_step / 60.0
                cem_rate[j] = rate_new
                a_new = arrhenius_rate(tj, a_per_s, ea_J_per_mol)
                omega[p, s, j] += 0.5 * (arr_rate[j] + a_new) * h_step
                arr_rate[j] = a_new
            for j in range(n_t):
                tumour_t[j] = t_now[j]
            t90_new = exceeded_temperature_inplace(tumour_t, tumour_vol, 0.9, order)
            cem_t90[p, s] += 0.5 * (cem43_rate(t90_old) + cem43_rate(t90_new)) * h_step / 60.0
            t90_old = t90_new
        tm, th = _margin_and_healthy_max(t_now, n_t, k_t, k_h)
        if th > max_healthy[p, s]:
            max_healthy[p, s] = th
        if tm > margin_peak[p, s]:
            margin_peak[p, s] = tm
        c_hot, c_cold = _catheter_track(t_now, n_t, jb, wb, tm)
        if c_hot > cath_max:
            cath_max = c_hot
        if k == clock.n_heat - 1:
            cath_min = c_cold
        if (k + 1) % clock.rec_every == 0:
            for j in range(n_t):
                rec_t[p, s, rec_i, j] = t_now[j]
            rec_hmax[p, s, rec_i] = th
            rec_field[p, s, rec_i] = field if (k + 1) < clock.n_heat else 0.0
            rec_cath[p, s, rec_i] = c_hot
            rec_i += 1
    out.field_mean[p, s] = h_sum / clock.n_heat if clock.n_heat > 0 else 0.0
    out.field_peak[p, s] = f_peak
    out.cath_max[p, s] = cath_max
    out.cath_min[p, s] = cath_min
    out.stop_reason[p, s] = reason
    for j in range(n_t):
        tumour_t[j] = peak[p, s, j]
    out.tx[p, s, 0] = exceeded_temperature(tumour_t, tumour_vol, 0.9)
    out.tx[p, s, 1] = exceeded_temperature(tumour_t, tumour_vol, 0.5)
    out.tx[p, s, 2] = exceeded_temperature(tumour_t, tumour_vol, 0.1)
    return True


@njit(cache=True)
def _copy_session(p: int, src: int, dst: int, out: RadialOutputs) -> None:
    """Session ``dst`` of patient ``p`` := session ``src`` (every session starts from the same field-off
    steady state, so a session with the same amplitude law is the same session)."""
    out.peak[p, dst] = out.peak[p, src]
    out.cem[p, dst] = out.cem[p, src]
    out.omega[p, dst] = out.omega[p, src]
    out.tx[p, dst] = out.tx[p, src]
    out.cem_t90[p, dst] = out.cem_t90[p, src]
    out.max_healthy[p, dst] = out.max_healthy[p, src]
    out.margin_peak[p, dst] = out.margin_peak[p, src]
    out.field_mean[p, dst] = out.field_mean[p, src]
    out.rec_t[p, dst] = out.rec_t[p, src]
    out.rec_hmax[p, dst] = out.rec_hmax[p, src]
    out.rec_field[p, dst] = out.rec_field[p, src]
    out.cath_max[p, dst] = out.cath_max[p, src]
    out.cath_min[p, dst] = out.cath_min[p, src]
    out.stop_reason[p, dst] = out.stop_reason[p, src]
    out.field_peak[p, dst] = out.field_peak[p, src]
    out.rec_cath[p, dst] = out.rec_cath[p, src]


@njit(cache=True)
def _simulate_patient(
    p: int,
    mesh: RadialMesh,
    medium: ThermalMedium,
    drive: FieldLaw,
    law: TitrationLaw,
    clock: SessionClock,
    arrhenius: ArrheniusRates,
    patients: PatientArrays,
    out: RadialOutputs,
) -> None:
    """Every session of patient ``p``, each from the field-off steady state; ``out.status[p]`` reports a
    failure. Sessions start from the same state and (titrated, stepwise, or fixed at the same amplitude) run
    the same amplitude law, so a session equal to an earlier one is copied, not solved again."""
    problem = RadialProblem(mesh, medium, drive, law, clock, arrhenius)
    cells = _patient_cells(problem, patients, p)
    n_cells = cells.qm.shape[0]
    ws = _workspace(n_cells)
    st = _session_state(cells, mesh.n_t)
    for j in range(mesh.n_t):
        out.deposit_frac[p, j] = cells.dep[j]
    for j in range(n_cells):
        st.t_base[j] = cells.op.t_art
        ws.source[j] = cells.qm[j]
    if not _steady(st.t_base, cells, ws, False):
        out.status[p] = 2
        return
    for j in range(n_cells):
        out.baseline[p, j] = st.t_base[j]
    plan = _titration_plan(patients.q_ref[p], problem, cells, ws, st)
    n_sessions = patients.field_fixed.shape[1]
    for s in range(n_sessions):
        same = -1
        if s > 0:
            if drive.titrate or drive.steps:
                same = 0
            else:
                for r in range(s):
                    if patients.field_fixed[p, r] == patients.field_fixed[p, s]:
                        same = r
                        break
        if same >= 0:
            _copy_session(p, same, s, out)
        elif not _run_session(p, s, patients, problem, cells, ws, st, plan, out):
            out.status[p] = 1
            return


@njit(parallel=True, cache=True)
def radial_sessions_kernel(
    mesh: RadialMesh,
    medium: ThermalMedium,
    drive: FieldLaw,
    law: TitrationLaw,
    clock: SessionClock,
    arrhenius: ArrheniusRates,
    patients: PatientArrays,
    out: RadialOutputs,
) -> None:
    """Numba kernel behind :func:`simulate_sessions_radial`; parallel over patients only.

    Two numba limits of parallel loops shape it: every argument is a flat named tuple (arrays and scalars)
    because the loop passes each variable to its body unpacked one level, which fails for a tuple holding a
    tuple (numba issue #4846); and the body only calls :func:`_simulate_patient` (never inlined), which
    groups them into a :class:`RadialProblem`, because the loop silently drops stores into an array reached
    through a named tuple (numba issues #7135, #10338) while a called function stores normally.
    """
    for p in prange(patients.radius_m.shape[0]):
        # int64: the parallel loop's index is unsigned inside the gufunc, which would compile a second copy
        _simulate_patient(np.int64(p), mesh, medium, drive, law, clock, arrhenius, patients, out)


# ----------------------------------------------------------------------------- public API
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
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise InputError(name, value, "must be a finite number > 0")
    return float(value)


@dataclass(frozen=True)
class RadialPatients:
    """The n heated tumours of one call, validated and stored as float64 arrays of shape (n,).

    tumour_radius_m: tumour radius [m] (volume-equivalent sphere); sets n.
    coverage_fraction: fraction of the tumour volume inside the particle deposit, (0, 1].
    deposit_power_W_per_m3: particle heating power density in the deposit at ``Heating.field_ref_kA_per_m``
        [W/m3] (>= 0; 0 = no particles).
    tumour_perfusion_mL_per_min_per_kg: tumour perfusion at 37 C (IT'IS heat-transfer rate); None = the
        tumour tissue's value.
    healthy_perfusion_scale: multiplies the healthy tissue's 37 C perfusion.
    field_ceiling_kA_per_m: the patient's tolerated amplitude [kA/m] (clinical control; inf = none).
    catheter_radius_over_R: distance of the thermometry track from the tumour centre / tumour radius, [0, 1).
    eddy_W_per_m3_per_kA2: eddy-current power density per (kA/m)^2 added to every cell while the field is on
        [W/m3] (``heat_delivery.eddy_coefficient_W_per_m3_per_kA2``; 0 = none).
    The last seven accept a scalar or a length-1 array for every patient.
    deposit_shell_multipliers: (n, cells_in_tumour) local iron concentration multiplier per tumour shell (> 0;
        renormalised over the deposit so the deposited power is conserved); None = a uniform deposit.
    """

    tumour_radius_m: np.ndarray
    coverage_fraction: np.ndarray
    deposit_power_W_per_m3: np.ndarray
    tumour_perfusion_mL_per_min_per_kg: np.ndarray | None = None
    healthy_perfusion_scale: np.ndarray | float = 1.0
    field_ceiling_kA_per_m: np.ndarray | float = math.inf
    catheter_radius_over_R: np.ndarray | float = 0.0
    eddy_W_per_m3_per_kA2: np.ndarray | float = 0.0
    deposit_shell_multipliers: np.ndarray | None = None

    def __post_init__(self) -> None:
        radius = _positive_array("patients.tumour_radius_m", self.tumour_radius_m, None)
        n = radius.shape[0]
        coverage = _positive_array("patients.coverage_fraction", self.coverage_fraction, n)
        if np.any(coverage > 1.0):
            i = int(np.argmax(coverage > 1.0))
            raise InputError(f"patients.coverage_fraction[{i}]", float(coverage[i]), "must lie in (0, 1]")
        fields = {
            "tumour_radius_m": radius,
            "coverage_fraction": coverage,
            "deposit_power_W_per_m3": _positive_array(
                "patients.deposit_power_W_per_m3", self.deposit_power_W_per_m3, n, allow_zero=True
            ),
            "healthy_perfusion_scale": _positive_array(
                "patients.healthy_perfusion_scale", self.healthy_perfusion_scale, n
            ),
            "eddy_W_per_m3_per_kA2": _positive_array(
                "patients.eddy_W_per_m3_per_kA2", self.eddy_W_per_m3_per_kA2, n, allow_zero=True
            ),
        }
        ceiling = np.atleast_1d(np.asarray(self.field_ceiling_kA_per_m, dtype=np.float64))
        ceiling = np.full(n, ceiling[0]) if ceiling.shape == (1,) else ceiling
        if ceiling.shape != (n,) or np.any(np.isnan(ceiling) | (ceiling <= 0)):
            bad = int(np.argmax(np.isnan(ceiling) | (ceiling <= 0))) if ceiling.shape == (n,) else 0
            raise InputError(
                f"patients.field_ceiling_kA_per_m[{bad}]",
                float(ceiling.ravel()[bad]) if ceiling.size else ceiling.shape,
                f"must be (n,) = ({n},) amplitudes > 0 kA/m (inf = none)",
            )
        fields["field_ceiling_kA_per_m"] = ceiling
        cath = _positive_array("patients.catheter_radius_over_R", self.catheter_radius_over_R, n, allow_zero=True)
        if np.any(cath >= 1.0):
            i = int(np.argmax(cath >= 1.0))
            raise InputError(f"patients.catheter_radius_over_R[{i}]", float(cath[i]), "must lie in [0, 1)")
        fields["catheter_radius_over_R"] = cath
        if self.deposit_shell_multipliers is not None:
            mult = np.asarray(self.deposit_shell_multipliers, dtype=np.float64)
            if mult.ndim != 2 or mult.shape[0] != n:
                raise InputError("patients.deposit_shell_multipliers", mult.shape, f"expected ({n}, cells_in_tumour)")
            bad = ~np.isfinite(mult) | (mult <= 0)
            if np.any(bad):
                i, j = np.argwhere(bad)[0]
                raise InputError(f"patients.deposit_shell_multipliers[{i}, {j}]", float(mult[i, j]), "must be > 0")
            fields["deposit_shell_multipliers"] = mult
        if self.tumour_perfusion_mL_per_min_per_kg is not None:
            fields["tumour_perfusion_mL_per_min_per_kg"] = _positive_array(
                "patients.tumour_perfusion_mL_per_min_per_kg", self.tumour_perfusion_mL_per_min_per_kg, n
            )
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        """Number of patients."""
        return self.tumour_radius_m.shape[0]


@dataclass(frozen=True)
class Heating:
    """How the deposit is heated: power density ``deposit_power_W_per_m3 (H / field_ref_kA_per_m)^field_exponent``
    at amplitude H [kA/m]; H is fixed (``field_kA_per_m``: scalar, (n,) or (n, n_sessions); 0 = field off)
    or chosen by a controller (``control`` in mode ``"titrate"`` or ``"clinical"``, which ignores
    ``field_kA_per_m``)."""

    field_ref_kA_per_m: float = 10.0
    field_exponent: float = 2.0
    field_kA_per_m: np.ndarray | float | None = None
    control: SessionControl | None = None

    def __post_init__(self) -> None:
        _positive_scalar("heating.field_ref_kA_per_m", self.field_ref_kA_per_m)
        _positive_scalar("heating.field_exponent", self.field_exponent)
        if self.control is not None and not isinstance(self.control, SessionControl):
            raise InputError("heating.control", type(self.control).__name__, "must be a SessionControl")

    @property
    def titrated(self) -> bool:
        """True when a controller chooses the amplitude (PI ``"titrate"`` or stepwise ``"clinical"``)."""
        return self.control is not None and self.control.mode in ("titrate", "clinical")

    def fixed_amplitudes(self, n: int, n_sessions: int) -> np.ndarray:
        """The fixed amplitude of every patient and session [kA/m], shape (n, n_sessions); zeros when titrated.

        Raises InputError when no amplitude is given in fixed mode, for a wrong shape, and for an amplitude
        outside [0, device maximum] (magnetics.toml [device_range])."""
        if self.titrated:
            return np.zeros((n, n_sessions))
        if self.field_kA_per_m is None:
            raise InputError(
                "heating.field_kA_per_m", None, "fixed mode needs an amplitude (or use control mode 'titrate')"
            )
        f = np.asarray(self.field_kA_per_m, dtype=np.float64)
        if f.ndim == 0:
            fixed = np.full((n, n_sessions), float(f))
        elif f.shape == (n,):
            fixed = np.repeat(f[:, None], n_sessions, axis=1)
        elif f.shape == (n, n_sessions):
            fixed = f.copy()
        else:
            raise InputError("heating.field_kA_per_m", f.shape, f"expected a scalar, ({n},) or ({n}, {n_sessions})")
        h_device = float(load_magnetics()["device_range"]["field_kA_per_m"][1])
        bad = ~np.isfinite(fixed) | (fixed < 0) | (fixed > h_device)
        if np.any(bad):
            idx = np.argwhere(bad)[0]
            raise InputError(
                f"heating.field_kA_per_m[{idx[0]}, {idx[1]}]",
                float(fixed[tuple(idx)]),
                f"must lie in [0, {h_device}] kA/m (0 = field off; device range in magnetics.toml)",
            )
        return fixed


@dataclass(frozen=True)
class RadialGrid:
    """The radial grid: ``cells_in_tumour`` uniform cells across the tumour, ``cells_in_healthy`` geometrically
    growing cells in healthy tissue out to the far boundary at ``far_factor`` x the tumour radius (held at the
    arterial temperature); see :func:`radial_faces_over_R`."""

    cells_in_tumour: int = 12
    cells_in_healthy: int = 12
    far_factor: float = 4.0

    def __post_init__(self) -> None:
        for name in ("cells_in_tumour", "cells_in_healthy"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, int | np.integer) and v >= 2):
                raise InputError(f"grid.{name}", v, "must be an integer >= 2")
        f = self.far_factor
        if isinstance(f, bool) or not (isinstance(f, numbers.Real) and math.isfinite(f) and f >= 2):
            raise InputError("grid.far_factor", f, "must be >= 2 (far boundary at far_factor * R)")

    def faces_over_R(self) -> np.ndarray:
        """Cell-face radii / tumour radius, shape (cells_in_tumour + cells_in_healthy + 1,)."""
        return radial_faces_over_R(int(self.cells_in_tumour), int(self.cells_in_healthy), float(self.far_factor))


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
    tumour_temperature_C: np.ndarray
    healthy_max_record_C: np.ndarray
    field_record_kA_per_m: np.ndarray
    cells_in_tumour: int
    dt_s: float
    thermometry_max_C: np.ndarray
    thermometry_min_C: np.ndarray
    thermometry_record_C: np.ndarray
    stop_reason: np.ndarray
    field_peak_kA_per_m: np.ndarray

    @property
    def tumour_cem43_min(self) -> np.ndarray:
        """(n, n_sessions, cells_in_tumour) per-shell CEM43 in the tumour [min]."""
        return self.cem43_min[:, :, : self.cells_in_tumour]

    @property
    def healthy_cem43_max_min(self) -> np.ndarray:
        """(n, n_sessions) CEM43 of the hottest healthy cell in each session [min]."""
        return self.cem43_min[:, :, self.cells_in_tumour :].max(axis=2)


def _outputs(n: int, n_sessions: int, n_cells: int, n_t: int, n_rec: int) -> RadialOutputs:
    return RadialOutputs(
        baseline=np.zeros((n, n_cells)),
        peak=np.zeros((n, n_sessions, n_cells)),
        cem=np.zeros((n, n_sessions, n_cells)),
        omega=np.zeros((n, n_sessions, n_cells)),
        tx=np.zeros((n, n_sessions, 3)),
        cem_t90=np.zeros((n, n_sessions)),
        max_healthy=np.zeros((n, n_sessions)),
        margin_peak=np.zeros((n, n_sessions)),
        field_mean=np.zeros((n, n_sessions)),
        rec_t=np.zeros((n, n_sessions, n_rec, n_t)),
        rec_hmax=np.zeros((n, n_sessions, n_rec)),
        rec_field=np.zeros((n, n_sessions, n_rec)),
        deposit_frac=np.zeros((n, n_t)),
        status=np.zeros(n, dtype=np.int64),
        cath_max=np.zeros((n, n_sessions)),
        cath_min=np.zeros((n, n_sessions)),
        stop_reason=np.zeros((n, n_sessions), dtype=np.int64),
        field_peak=np.zeros((n, n_sessions)),
        rec_cath=np.zeros((n, n_sessions, n_rec)),
    )


def simulate_sessions_radial(
    patients: RadialPatients,
    *,
    tumour: TissueProperties,
    healthy: TissueProperties,
    heating: Heating,
    n_sessions: int = 1,
    timing: SessionTiming | None = None,
    grid: RadialGrid | None = None,
    blood: Blood | None = None,
    arrhenius: str = "he_bischof_2003_at1",
) -> RadialSessionsResult:
    """Simulate ``n_sessions`` heat sessions for each of the ``patients`` on the radial grid.

    patients: the tumours (:class:`RadialPatients`: radius [m], deposit coverage, deposit power [W/m3],
        perfusion).
    tumour, healthy: thermal properties (``tissue.tumour_tissue(host)``, ``tissue.load_tissue(name)``).
    heating: the power law in the amplitude and the amplitude, fixed or titrated (:class:`Heating`).
    n_sessions: sessions per patient, each from the field-off steady state.
    timing: field-on time, recorded cooling, time step and record interval [s]
        (:class:`~mhtcdt.physics.session.SessionTiming`; default 3600, 900, 10, 60 s).
    grid: radial grid (:class:`RadialGrid`; default 12 + 12 cells, far boundary at 4 R).
    blood: blood properties and arterial temperature (default ``tissue.load_blood()``).
    arrhenius: key of the Arrhenius set (``dose.arrhenius_set``) for the per-cell damage integral.

    Raises ``InputError`` for bad input, also for heating so strong that the thermal dose overflows
    (CEM43 = 2^(T - 43) min per minute exceeds the largest float64 above about 1,067 degC: a field far
    above the safety limit, allowed with ``allow_above_safety_limit``), and ``ModelError`` if any
    temperature became non-finite.
    """
    if not isinstance(patients, RadialPatients):
        raise InputError("patients", type(patients).__name__, "must be a RadialPatients")
    if not isinstance(heating, Heating):
        raise InputError("heating", type(heating).__name__, "must be a Heating")
    if isinstance(n_sessions, bool) or not (isinstance(n_sessions, int | np.integer) and n_sessions >= 1):
        raise InputError("n_sessions", n_sessions, "must be an integer >= 1")
    timing = timing if timing is not None else SessionTiming()
    grid = grid if grid is not None else RadialGrid()
    blood = blood if blood is not None else load_blood()
    n = patients.n
    control = heating.control if heating.control is not None else SessionControl()
    fixed = heating.fixed_amplitudes(n, int(n_sessions))
    if patients.tumour_perfusion_mL_per_min_per_kg is None:
        perf_t = np.full(n, tumour.perfusion_mL_per_min_per_kg)
    else:
        perf_t = patients.tumour_perfusion_mL_per_min_per_kg
    omega_t = perfusion_per_s(perf_t, tumour.density_kg_per_m3)
    omega_h = perfusion_per_s(
        healthy.perfusion_mL_per_min_per_kg * patients.healthy_perfusion_scale, healthy.density_kg_per_m3
    )
    arr = arrhenius_set(arrhenius)
    clock = timing.clock()
    ctrl_every = max(1, int(round(control.control_interval_s / clock.dt)))
    n_rec = clock.n_total // clock.rec_every + 1
    faces_over_r = grid.faces_over_R()
    n_t = int(grid.cells_in_tumour)
    n_cells = faces_over_r.shape[0] - 1
    mesh = RadialMesh(faces_over_r=faces_over_r, n_t=n_t)
    drive = FieldLaw(
        field_ref=float(heating.field_ref_kA_per_m),
        exponent=float(heating.field_exponent),
        titrate=heating.titrated and control.mode == "titrate",
        field_min=float(control.field_min_kA_per_m),
        field_max=float(control.field_max_kA_per_m),
        ctrl_every=ctrl_every,
        steps=control.mode == "clinical",
        field_step=float(control.step_kA_per_m),
    )
    rates = ArrheniusRates(arr.a_per_s, arr.ea_J_per_mol)
    if patients.deposit_shell_multipliers is None:
        shell_weight = np.ones((n, n_t))
    elif patients.deposit_shell_multipliers.shape != (n, n_t):
        raise InputError(
            "patients.deposit_shell_multipliers", patients.deposit_shell_multipliers.shape, f"expected ({n}, {n_t})"
        )
    else:
        shell_weight = patients.deposit_shell_multipliers
    inputs = PatientArrays(
        patients.tumour_radius_m,
        patients.coverage_fraction,
        patients.deposit_power_W_per_m3,
        omega_t,
        omega_h,
        fixed,
        shell_weight,
        patients.field_ceiling_kA_per_m,
        patients.catheter_radius_over_R,
        patients.eddy_W_per_m3_per_kA2,
    )
    out = _outputs(n, int(n_sessions), n_cells, n_t, n_rec)
    medium = thermal_medium(tumour, healthy, blood)
    radial_sessions_kernel(mesh, medium, drive, control.law(ctrl_every, clock.dt), clock, rates, inputs, out)
    if np.any(out.status != 0):
        i = int(np.argmax(out.status != 0))
        what = "non-finite temperature" if out.status[i] == 1 else "field-off steady state did not converge"
        raise ModelError(f"radial bioheat solver failed for patient index {i}: {what}")
    for name, values in (
        ("peak_C", out.peak),
        ("cem43_min", out.cem),
        ("arrhenius_omega", out.omega),
        ("cem43_t90_min", out.cem_t90),
    ):
        if not np.all(np.isfinite(values)):
            i = int(np.argmax((~np.isfinite(values.reshape(n, -1))).any(axis=1)))  # the first patient affected
            hottest = float(out.peak[i].max())
            if name != "peak_C" and np.isfinite(hottest):  # finite temperatures whose dose overflowed
                raise InputError(
                    "field_kA_per_m",
                    float(out.field_mean[i].max()),
                    f"patient index {i} would reach {hottest:,.0f} degC, where the thermal dose overflows "
                    if hottest < 1e6
                    else f"patient index {i} would reach {hottest:.3g} degC, where the thermal dose overflows "
                    "(CEM43 = 2^(T - 43) min per minute): far beyond any treatment; lower the field amplitude or "
                    "frequency",
                )
            raise ModelError(f"radial bioheat solver produced non-finite {name} for patient index {i}")
    edges = faces_over_r
    centres = 0.5 * (edges[:-1] + edges[1:])
    shell_vol = edges[1 : n_t + 1] ** 3 - edges[:n_t] ** 3
    return RadialSessionsResult(
        face_radius_over_R=edges,
        cell_radius_over_R=centres,
        shell_volume_fraction=shell_vol / shell_vol.sum(),
        deposit_fraction=out.deposit_frac,
        baseline_C=out.baseline,
        peak_C=out.peak,
        cem43_min=out.cem,
        arrhenius_omega=out.omega,
        t90_C=out.tx[:, :, 0],
        t50_C=out.tx[:, :, 1],
        t10_C=out.tx[:, :, 2],
        cem43_t90_min=out.cem_t90,
        max_healthy_C=out.max_healthy,
        margin_peak_C=out.margin_peak,
        field_mean_kA_per_m=out.field_mean,
        record_times_s=timing.record_times_s(),
        tumour_temperature_C=out.rec_t,
        healthy_max_record_C=out.rec_hmax,
        field_record_kA_per_m=out.rec_field,
        cells_in_tumour=n_t,
        dt_s=clock.dt,
        thermometry_max_C=out.cath_max,
        thermometry_min_C=out.cath_min,
        thermometry_record_C=out.rec_cath,
        stop_reason=out.stop_reason,
        field_peak_kA_per_m=out.field_peak,
    )
