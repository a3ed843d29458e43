"""3-D Cartesian Pennes solver for one patient with a heterogeneous particle deposit (maps for the app).

Same physics as ``bioheat_radial`` and the same numba physics functions (``tissue.perfusion_factor``,
``dose.cem43_rate``, ``dose.arrhenius_rate``): cell-centred finite volumes on a uniform cubic grid of
``n`` cells per axis spanning ``[-half_width, half_width]``, harmonic face conductivities, the outer faces
held at the arterial temperature, BDF2 in time (backward Euler at start and switch-off) with the perfusion
LAGGED at the extrapolated temperature. Each step's symmetric positive-definite system is solved
matrix-free by Jacobi-preconditioned conjugate gradients in numba (relative residual 1e-10; failure to
converge raises ``ModelError``). Single patient, no ``prange`` (parallelism belongs across patients).

Inputs are voxel maps (``(n, n, n)`` arrays, index order x, y, z):
``tumour_fraction`` (0..1, volume fraction of tumour in the voxel: thermal properties and perfusion are
mixed linearly) and ``power_W_per_m3`` (particle heating density, e.g. ``SLP * iron map``).
:func:`sphere_fraction_map` builds sub-sampled sphere/ellipsoid fractions for both.

Result (:class:`Bioheat3DResult`): ``axis_m`` (n,) voxel-centre coordinates [m]; ``baseline_C``,
``peak_C``, ``end_of_heating_C`` (n, n, n) [C]; ``t90_C``, ``t50_C``, ``t10_C`` (tumour-volume percentiles
of the voxel peak temperatures, C); ``record_times_s`` (n_rec,); ``centre_line_C`` (n_rec, n) temperatures
along the x axis through the centre [C]. (Thermal dose is the radial solver's job: the 3-D session feeds
no kill, only the maps of ``mhtcdt.physics.detail``.)

Numba layout: :func:`_kernel_3d` takes named tuples (:class:`VoxelMaps`,
:class:`~mhtcdt.physics.tissue.ThermalMedium`, :class:`~mhtcdt.physics.session.SessionClock`,
:class:`CGSettings`, :class:`Outputs3D`); it builds the :class:`VoxelSystem` and the 7-point
:class:`Operator`, assembles each step with :func:`_assemble_3d` and solves it with :func:`_pcg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics.dose import exceeded_temperature
from mhtcdt.physics.session import SessionClock, SessionTiming
from mhtcdt.physics.tissue import Blood, ThermalMedium, TissueProperties, load_blood, perfusion_factor, thermal_medium


def sphere_fraction_map(
    n: int,
    half_width_m: float,
    semi_axes_m: tuple[float, float, float],
    centre_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    subsamples: int = 4,
) -> np.ndarray:
    """Volume fraction of each voxel inside an ellipsoid (sphere if the semi-axes are equal), estimated
    with ``subsamples**3`` points per voxel, on the grid of ``n`` voxels per axis spanning
    [-half_width_m, half_width_m] (semi-axes and centre in m). Returns (n, n, n) float64 in [0, 1]."""
    if n < 3:
        raise InputError("n", n, "grid needs at least 3 cells per axis")
    if not (half_width_m > 0 and math.isfinite(half_width_m)):
        raise InputError("half_width_m", half_width_m, "must be > 0")
    if any(not (a > 0 and math.isfinite(a)) for a in semi_axes_m):
        raise InputError("semi_axes_m", semi_axes_m, "semi-axes must be > 0")
    h = 2.0 * half_width_m / n
    sub = (np.arange(subsamples) + 0.5) / subsamples * h
    fine = (-half_width_m + np.arange(n)[:, None] * h + sub[None, :]).ravel()  # n*subsamples points per axis
    gx = ((fine - centre_m[0]) / semi_axes_m[0]) ** 2
    gy = ((fine - centre_m[1]) / semi_axes_m[1]) ** 2
    gz = ((fine - centre_m[2]) / semi_axes_m[2]) ** 2
    inside = gx[:, None, None] + gy[None, :, None] + gz[None, None, :] <= 1.0
    return inside.reshape(n, subsamples, n, subsamples, n, subsamples).mean(axis=(1, 3, 5))


# ----------------------------------------------------------------------------- kernel structures
class VoxelMaps(NamedTuple):
    """The kernel's inputs on the (n, n, n) grid."""

    frac: np.ndarray  # tumour volume fraction per voxel
    q_map: np.ndarray  # particle heating while the field is on [W/m3]
    h: float  # voxel edge [m]
    om_t: float  # tumour perfusion at 37 C [1/s]
    om_h: float  # healthy-tissue perfusion at 37 C [1/s]


class CGSettings(NamedTuple):
    """Stopping rule of the conjugate gradients: relative residual ``tol`` within ``max_iter`` iterations."""

    tol: float
    max_iter: int


class Outputs3D(NamedTuple):
    """Arrays the kernel fills."""

    baseline: np.ndarray  # (n, n, n) field-off steady state [C]
    peak: np.ndarray  # (n, n, n) [C]
    end_heat: np.ndarray  # (n, n, n) at switch-off [C]
    centre_line: np.ndarray  # (n_rec, n) along x through the centre [C]


class VoxelSystem(NamedTuple):
    """Per-voxel coefficients of the finite-volume Pennes system (mixed linearly by tumour fraction)."""

    frac: np.ndarray
    q_map: np.ndarray  # [W/m3]
    qm: np.ndarray  # metabolic heat [W/m3]
    rho_c: np.ndarray  # volumetric heat capacity [J/(m3 K)]
    gsum: np.ndarray  # sum of the face conductances, walls included [W/K]
    bnd: np.ndarray  # conductance to the Dirichlet walls [W/K]
    vol: float  # voxel volume [m3]
    om_t: float  # [1/s]
    om_h: float  # [1/s]


class Operator(NamedTuple):
    """The 7-point operator: diagonal (conductances + time and perfusion terms) and face conductances [W/K]."""

    diag: np.ndarray  # (n, n, n)
    gx: np.ndarray  # (n - 1, n, n)
    gy: np.ndarray  # (n, n - 1, n)
    gz: np.ndarray  # (n, n, n - 1)


class CGWork(NamedTuple):
    """Work arrays of the conjugate gradients (n, n, n)."""

    r: np.ndarray
    z: np.ndarray
    p: np.ndarray
    ap: np.ndarray


class Step3D(NamedTuple):
    """One system to assemble: mode 0 steady, 1 backward Euler, 2 BDF2; field on (q_on 1) or off (0)."""

    mode: int
    q_on: float
    dt: float  # [s]


# ----------------------------------------------------------------------------- numba building blocks
@njit(cache=True)
def _apply(x: np.ndarray, out: np.ndarray, op: Operator) -> None:
    """out = A x for the 7-point operator."""
    diag, gx, gy, gz = op
    n = x.shape[0]
    for i in range(n):
        for j in range(n):
            for k in range(n):
                v = diag[i, j, k] * x[i, j, k]
                if i > 0:
                    v -= gx[i - 1, j, k] * x[i - 1, j, k]
                if i < n - 1:
                    v -= gx[i, j, k] * x[i + 1, j, k]
                if j > 0:
                    v -= gy[i, j - 1, k] * x[i, j - 1, k]
                if j < n - 1:
                    v -= gy[i, j, k] * x[i, j + 1, k]
                if k > 0:
                    v -= gz[i, j, k - 1] * x[i, j, k - 1]
                if k < n - 1:
                    v -= gz[i, j, k] * x[i, j, k + 1]
                out[i, j, k] = v


@njit(cache=True)
def _pcg(x: np.ndarray, b: np.ndarray, op: Operator, work: CGWork, cg: CGSettings) -> int:
    """Jacobi-preconditioned CG; x holds the initial guess and the solution. Returns iterations or -1."""
    r, z, p, ap = work
    diag = op.diag
    _apply(x, ap, op)
    r[:] = b - ap
    bnorm = math.sqrt(np.sum(b * b))
    if bnorm == 0.0:
        bnorm = 1.0
    z[:] = r / diag
    p[:] = z
    rz = np.sum(r * z)
    for it in range(cg.max_iter):
        if math.sqrt(np.sum(r * r)) <= cg.tol * bnorm:
            return it
        _apply(p, ap, op)
        alpha = rz / np.sum(p * ap)
        x += alpha * p
        r -= alpha * ap
        z[:] = r / diag
        rz_new = np.sum(r * z)
        p[:] = z + (rz_new / rz) * p
        rz = rz_new
    if math.sqrt(np.sum(r * r)) <= cg.tol * bnorm:
        return cg.max_iter
    return -1


@njit(cache=True)
def _assemble_3d(
    t_now: np.ndarray,
    t_prev: np.ndarray,
    t_lag: np.ndarray,
    step: Step3D,
    vox: VoxelSystem,
    medium: ThermalMedium,
    op: Operator,
    rhs: np.ndarray,
) -> None:
    """Diagonal (into ``op.diag``) and right-hand side of one step (see :class:`Step3D`); perfusion at ``t_lag``."""
    frac, q_map, qm, rho_c, gsum, bnd, vol, om_t, om_h = vox
    mode, q_on, dt = step
    model_t, model_h, rho_c_blood, t_art, coef = (
        medium.model_t,
        medium.model_h,
        medium.rho_c_blood,
        medium.t_art,
        medium.coef,
    )
    diag = op.diag
    n = frac.shape[0]
    for i in range(n):
        for j in range(n):
            for k in range(n):
                f = frac[i, j, k]
                tl = t_lag[i, j, k]
                sink = (
                    rho_c_blood
                    * vol
                    * (
                        f * om_t * perfusion_factor(tl, model_t, coef)
                        + (1.0 - f) * om_h * perfusion_factor(tl, model_h, coef)
                    )
                )
                d = gsum[i, j, k] + sink
                b = vol * (qm[i, j, k] + q_on * q_map[i, j, k]) + sink * t_art + bnd[i, j, k] * t_art
                cap = rho_c[i, j, k] * vol / dt
                if mode == 1:
                    d += cap
                    b += cap * t_now[i, j, k]
                elif mode == 2:
                    d += 1.5 * cap
                    b += cap * (2.0 * t_now[i, j, k] - 0.5 * t_prev[i, j, k])
                diag[i, j, k] = d
                rhs[i, j, k] = b


@njit(cache=True)
def _voxel_system(maps: VoxelMaps, medium: ThermalMedium) -> tuple[VoxelSystem, Operator]:
    """Coefficients of every voxel (properties mixed linearly by tumour fraction, harmonic face conductances,
    the outer faces held at the arterial temperature through a half-voxel) and the operator's conductances."""
    frac, h = maps.frac, maps.h
    n = frac.shape[0]
    m = medium
    vol = h * h * h
    rho_c = m.rho_c_t * frac + m.rho_c_h * (1.0 - frac)
    kk = m.k_t * frac + m.k_h * (1.0 - frac)
    qm = m.qm_t * frac + m.qm_h * (1.0 - frac)
    # face conductances between neighbours: harmonic mean over the two half-voxels
    gx = h * h / (0.5 * h / kk[:-1, :, :] + 0.5 * h / kk[1:, :, :])
    gy = h * h / (0.5 * h / kk[:, :-1, :] + 0.5 * h / kk[:, 1:, :])
    gz = h * h / (0.5 * h / kk[:, :, :-1] + 0.5 * h / kk[:, :, 1:])
    # conductance sum of every voxel: its faces to the neighbours (x-, x+, y-, y+, z-, z+), then the outer
    # faces to the Dirichlet wall at h/2 (bnd, in the same order)
    s = np.zeros((n, n, n))
    s[1:, :, :] += gx
    s[:-1, :, :] += gx
    s[:, 1:, :] += gy
    s[:, :-1, :] += gy
    s[:, :, 1:] += gz
    s[:, :, :-1] += gz
    wall = h * h * kk / (0.5 * h)
    bnd = np.zeros((n, n, n))
    bnd[0, :, :] += wall[0, :, :]
    bnd[n - 1, :, :] += wall[n - 1, :, :]
    bnd[:, 0, :] += wall[:, 0, :]
    bnd[:, n - 1, :] += wall[:, n - 1, :]
    bnd[:, :, 0] += wall[:, :, 0]
    bnd[:, :, n - 1] += wall[:, :, n - 1]
    gsum = s + bnd
    vox = VoxelSystem(frac, maps.q_map, qm, rho_c, gsum, bnd, vol, maps.om_t, maps.om_h)
    return vox, Operator(np.empty((n, n, n)), gx, gy, gz)


@njit(cache=True)
def _kernel_3d(maps: VoxelMaps, medium: ThermalMedium, clock: SessionClock, cg: CGSettings, out: Outputs3D) -> int:
    """The field-off steady state, then one session: heating for ``clock.n_heat`` steps and cooling to
    ``clock.n_total``. Returns 0, 1 (non-finite temperature) or 2 (CG or steady state did not converge)."""
    vox, op = _voxel_system(maps, medium)
    n = maps.frac.shape[0]
    rhs = np.empty((n, n, n))
    work = CGWork(np.empty((n, n, n)), np.empty((n, n, n)), np.empty((n, n, n)), np.empty((n, n, n)))

    # field-off steady state by lagged fixed point (perfusion curves are flat near 37 C: few iterations)
    t_now = np.full((n, n, n), medium.t_art)
    t_new = t_now.copy()
    converged = False
    for _ in range(100):
        _assemble_3d(t_now, t_now, t_now, Step3D(0, 0.0, clock.dt), vox, medium, op, rhs)
        if _pcg(t_new, rhs, op, work, cg) < 0:
            return 2
        change = np.max(np.abs(t_new - t_now))
        t_now[:] = t_new
        if change < 1e-8:
            converged = True
            break
    if not converged:
        return 2
    out.baseline[:] = t_now
    t_prev = t_now.copy()
    out.peak[:] = t_now
    peak = out.peak
    c = n // 2
    out.centre_line[0, :] = t_now[:, c, c]
    rec_i = 1
    t_lag = np.empty((n, n, n))
    for step in range(clock.n_total):
        smooth = step > 0 and step != clock.n_heat
        if smooth:
            t_lag[:] = 2.0 * t_now - t_prev
        else:
            t_lag[:] = t_now
        mode = 2 if smooth else 1
        q_on = 1.0 if step < clock.n_heat else 0.0
        _assemble_3d(t_now, t_prev, t_lag, Step3D(mode, q_on, clock.dt), vox, medium, op, rhs)
        t_new[:] = t_now
        if _pcg(t_new, rhs, op, work, cg) < 0:
            return 2
        if not np.all(np.isfinite(t_new)):
            return 1
        t_prev[:] = t_now
        t_now[:] = t_new
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    if t_now[i, j, k] > peak[i, j, k]:
                        peak[i, j, k] = t_now[i, j, k]
        if step + 1 == clock.n_heat:
            out.end_heat[:] = t_now
        if (step + 1) % clock.rec_every == 0:
            out.centre_line[rec_i, :] = t_now[:, c, c]
            rec_i += 1
    return 0


# ----------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class Bioheat3DResult:
    """Maps and summaries of one 3-D session (see the module docstring for shapes and units)."""

    axis_m: np.ndarray
    baseline_C: np.ndarray
    peak_C: np.ndarray
    end_of_heating_C: np.ndarray
    t90_C: float
    t50_C: float
    t10_C: float
    record_times_s: np.ndarray
    centre_line_C: np.ndarray


def simulate_session_3d(
    tumour_fraction: np.ndarray,
    power_W_per_m3: np.ndarray,
    half_width_m: float,
    *,
    tumour: TissueProperties,
    healthy: TissueProperties,
    blood: Blood | None = None,
    timing: SessionTiming | None = None,
    cg_tolerance: float = 1e-10,
    cg_max_iter: int = 2000,
) -> Bioheat3DResult:
    """One fixed-power heat session on an (n, n, n) grid spanning [-half_width_m, half_width_m]^3 [m].

    ``tumour_fraction``: voxel tumour volume fraction in [0, 1] (at least one voxel > 0).
    ``power_W_per_m3``: particle heating per voxel [W/m3] (>= 0) while the field is on.
    ``timing``: field-on time, recorded cooling, time step and record interval [s]
    (:class:`~mhtcdt.physics.session.SessionTiming`; default 3600, 900, 10, 60 s).
    ``cg_tolerance``, ``cg_max_iter``: the conjugate gradients' relative residual and iteration limit.
    Perfusion of ``tumour`` and ``healthy`` at 37 C and their temperature models are used as given.
    """
    frac = np.ascontiguousarray(tumour_fraction, dtype=np.float64)
    q = np.ascontiguousarray(power_W_per_m3, dtype=np.float64)
    if frac.ndim != 3 or len(set(frac.shape)) != 1 or frac.shape[0] < 3:
        raise InputError("tumour_fraction", frac.shape, "must be a cubic (n, n, n) array with n >= 3")
    if q.shape != frac.shape:
        raise InputError("power_W_per_m3", q.shape, f"must have the shape of tumour_fraction {frac.shape}")
    if np.any(~np.isfinite(frac)) or np.any(frac < 0) or np.any(frac > 1):
        raise InputError("tumour_fraction", "outside [0, 1]", "voxel fractions must lie in [0, 1]")
    if not np.any(frac > 0):
        raise InputError("tumour_fraction", 0.0, "no tumour voxel")
    if np.any(~np.isfinite(q)) or np.any(q < 0):
        raise InputError("power_W_per_m3", float(np.nanmin(q)), "heating must be finite and >= 0")
    if not (math.isfinite(half_width_m) and half_width_m > 0):
        raise InputError("half_width_m", half_width_m, "must be a finite number > 0")
    timing = timing if timing is not None else SessionTiming()
    blood = blood or load_blood()
    n = frac.shape[0]
    h = 2.0 * half_width_m / n
    clock = timing.clock()
    n_rec = clock.n_total // clock.rec_every + 1
    out = Outputs3D(np.zeros_like(frac), np.zeros_like(frac), np.zeros_like(frac), np.zeros((n_rec, n)))
    maps = VoxelMaps(frac, q, h, tumour.perfusion_per_s, healthy.perfusion_per_s)
    status = _kernel_3d(
        maps, thermal_medium(tumour, healthy, blood), clock, CGSettings(float(cg_tolerance), int(cg_max_iter)), out
    )
    if status == 2:
        raise ModelError("3-D bioheat solver: conjugate gradients did not converge")
    if status == 1 or not np.all(np.isfinite(out.peak)):
        raise ModelError("3-D bioheat solver produced non-finite temperatures")
    sel = frac > 0
    temps, weights = out.peak[sel], frac[sel]
    return Bioheat3DResult(
        axis_m=-half_width_m + (np.arange(n) + 0.5) * h,
        baseline_C=out.baseline,
        peak_C=out.peak,
        end_of_heating_C=out.end_heat,
        t90_C=float(exceeded_temperature(temps, weights, 0.9)),
        t50_C=float(exceeded_temperature(temps, weights, 0.5)),
        t10_C=float(exceeded_temperature(temps, weights, 0.1)),
        record_times_s=timing.record_times_s(),
        centre_line_C=out.centre_line,
    )
