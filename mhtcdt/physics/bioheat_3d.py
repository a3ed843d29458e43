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
``peak_C``, ``end_of_heating_C``, ``cem43_min``, ``arrhenius_omega`` (n, n, n); ``t90_C``, ``t50_C``,
``t10_C`` (tumour-volume percentiles of the voxel peak temperatures, C); ``cem43_t90_min``;
``max_healthy_C``; ``record_times_s`` (n_rec,); ``centre_line_C`` (n_rec, n) temperatures along the x axis
through the centre; ``tumour_mean_C`` (n_rec,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics.dose import arrhenius_rate, arrhenius_set, cem43_rate, exceeded_temperature
from mhtcdt.physics.tissue import (
    PERFUSION_MODELS,
    Blood,
    TissueProperties,
    load_blood,
    perfusion_coefficients,
    perfusion_factor,
)


def sphere_fraction_map(
    n: int,
    half_width_m: float,
    semi_axes_m: tuple[float, float, float],
    centre_m=(0.0, 0.0, 0.0),
    subsamples: int = 4,
) -> np.ndarray:
    """Volume fraction of each voxel inside an ellipsoid (sphere if the semi-axes are equal), estimated
    with ``subsamples**3`` points per voxel. Returns (n, n, n) float64 in [0, 1]."""
    if n < 3:
        raise InputError("n", n, "grid needs at least 3 cells per axis")
    if not (half_width_m > 0 and math.isfinite(half_width_m)):
        raise InputError("half_width_m", half_width_m, "must be > 0")
    if any(not (a > 0 and math.isfinite(a)) for a in semi_axes_m):
        raise InputError("semi_axes_m", semi_axes_m, "semi-axes must be > 0")
    h = 2.0 * half_width_m / n
    sub = (np.arange(subsamples) + 0.5) / subsamples * h
    fine = (-half_width_m + np.arange(n)[:, None] * h + sub[None, :]).ravel()  # n*subsamples points per axis
    inside = np.zeros((n * subsamples,) * 3, dtype=bool)
    gx = ((fine - centre_m[0]) / semi_axes_m[0]) ** 2
    gy = ((fine - centre_m[1]) / semi_axes_m[1]) ** 2
    gz = ((fine - centre_m[2]) / semi_axes_m[2]) ** 2
    inside = gx[:, None, None] + gy[None, :, None] + gz[None, None, :] <= 1.0
    return inside.reshape(n, subsamples, n, subsamples, n, subsamples).mean(axis=(1, 3, 5))


@njit(cache=True)
def _apply(x, out, diag, gx, gy, gz):
    """out = A x for the 7-point operator (diag holds all face conductances and time/perfusion terms)."""
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
def _pcg(x, b, diag, gx, gy, gz, r, z, p, ap, tol, max_iter) -> int:
    """Jacobi-preconditioned CG; x holds the initial guess and the solution. Returns iterations or -1."""
    _apply(x, ap, diag, gx, gy, gz)
    r[:] = b - ap
    bnorm = math.sqrt(np.sum(b * b))
    if bnorm == 0.0:
        bnorm = 1.0
    z[:] = r / diag
    p[:] = z
    rz = np.sum(r * z)
    for it in range(max_iter):
        if math.sqrt(np.sum(r * r)) <= tol * bnorm:
            return it
        _apply(p, ap, diag, gx, gy, gz)
        alpha = rz / np.sum(p * ap)
        x += alpha * p
        r -= alpha * ap
        z[:] = r / diag
        rz_new = np.sum(r * z)
        p[:] = z + (rz_new / rz) * p
        rz = rz_new
    if math.sqrt(np.sum(r * r)) <= tol * bnorm:
        return max_iter
    return -1


@njit(cache=True)
def _assemble_3d(
    t_now,
    t_prev,
    t_lag,
    mode,
    q_on,
    frac,
    q_map,
    qm,
    rho_c,
    gsum,
    bnd,
    vol,
    dt,
    om_t,
    om_h,
    model_t,
    model_h,
    rho_c_blood,
    t_art,
    coef,
    diag,
    rhs,
):
    """Diagonal and right-hand side of one step; mode 0 steady, 1 backward Euler, 2 BDF2."""
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
def _kernel_3d(
    frac,
    q_map,
    h,
    dt,
    n_heat,
    n_total,
    rec_every,
    rho_c_t,
    k_t,
    om_t,
    qm_t,
    model_t,
    rho_c_h,
    k_h,
    om_h,
    qm_h,
    model_h,
    rho_c_blood,
    t_art,
    coef,
    arr_a,
    arr_ea,
    tol,
    max_iter,
    baseline,
    peak,
    end_heat,
    cem,
    omega,
    centre_line,
    tumour_mean,
    cem_t90,
    max_healthy,
):
    n = frac.shape[0]
    vol = h * h * h
    rho_c = rho_c_t * frac + rho_c_h * (1.0 - frac)
    kk = k_t * frac + k_h * (1.0 - frac)
    qm = qm_t * frac + qm_h * (1.0 - frac)
    gx = np.empty((n - 1, n, n))
    gy = np.empty((n, n - 1, n))
    gz = np.empty((n, n, n - 1))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                if i < n - 1:
                    gx[i, j, k] = h * h / (0.5 * h / kk[i, j, k] + 0.5 * h / kk[i + 1, j, k])
                if j < n - 1:
                    gy[i, j, k] = h * h / (0.5 * h / kk[i, j, k] + 0.5 * h / kk[i, j + 1, k])
                if k < n - 1:
                    gz[i, j, k] = h * h / (0.5 * h / kk[i, j, k] + 0.5 * h / kk[i, j, k + 1])
    # conductance sum of every voxel, boundary faces to the Dirichlet wall at h/2
    gsum = np.zeros((n, n, n))
    bnd = np.zeros((n, n, n))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                s = 0.0
                b = 0.0
                wall = h * h * kk[i, j, k] / (0.5 * h)
                if i > 0:
                    s += gx[i - 1, j, k]
                else:
                    b += wall
                if i < n - 1:
                    s += gx[i, j, k]
                else:
                    b += wall
                if j > 0:
                    s += gy[i, j - 1, k]
                else:
                    b += wall
                if j < n - 1:
                    s += gy[i, j, k]
                else:
                    b += wall
                if k > 0:
                    s += gz[i, j, k - 1]
                else:
                    b += wall
                if k < n - 1:
                    s += gz[i, j, k]
                else:
                    b += wall
                gsum[i, j, k] = s + b
                bnd[i, j, k] = b
    diag = np.empty((n, n, n))
    rhs = np.empty((n, n, n))
    r = np.empty((n, n, n))
    z = np.empty((n, n, n))
    p = np.empty((n, n, n))
    ap = np.empty((n, n, n))

    # field-off steady state by lagged fixed point (perfusion curves are flat near 37 C: few iterations)
    t_now = np.full((n, n, n), t_art)
    t_new = t_now.copy()
    converged = False
    for _ in range(100):
        _assemble_3d(
            t_now,
            t_now,
            t_now,
            0,
            0.0,
            frac,
            q_map,
            qm,
            rho_c,
            gsum,
            bnd,
            vol,
            dt,
            om_t,
            om_h,
            model_t,
            model_h,
            rho_c_blood,
            t_art,
            coef,
            diag,
            rhs,
        )
        if _pcg(t_new, rhs, diag, gx, gy, gz, r, z, p, ap, tol, max_iter) < 0:
            return 2
        change = np.max(np.abs(t_new - t_now))
        t_now[:] = t_new
        if change < 1e-8:
            converged = True
            break
    if not converged:
        return 2
    baseline[:] = t_now
    t_prev = t_now.copy()
    peak[:] = t_now
    rate_old = np.empty((n, n, n))
    arr_old = np.empty((n, n, n))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                rate_old[i, j, k] = cem43_rate(t_now[i, j, k])
                arr_old[i, j, k] = arrhenius_rate(t_now[i, j, k], arr_a, arr_ea)
    tumour_idx = np.nonzero(frac.ravel() > 0.0)[0]
    w = frac.ravel()[tumour_idx]
    t90_old = exceeded_temperature(t_now.ravel()[tumour_idx], w, 0.9)
    c = n // 2
    centre_line[0, :] = t_now[:, c, c]
    tumour_mean[0] = np.sum(t_now.ravel()[tumour_idx] * w) / np.sum(w)
    rec_i = 1
    t_lag = np.empty((n, n, n))
    for step in range(n_total):
        smooth = step > 0 and step != n_heat
        if smooth:
            t_lag[:] = 2.0 * t_now - t_prev
        else:
            t_lag[:] = t_now
        mode = 2 if smooth else 1
        q_on = 1.0 if step < n_heat else 0.0
        _assemble_3d(
            t_now,
            t_prev,
            t_lag,
            mode,
            q_on,
            frac,
            q_map,
            qm,
            rho_c,
            gsum,
            bnd,
            vol,
            dt,
            om_t,
            om_h,
            model_t,
            model_h,
            rho_c_blood,
            t_art,
            coef,
            diag,
            rhs,
        )
        t_new[:] = t_now
        if _pcg(t_new, rhs, diag, gx, gy, gz, r, z, p, ap, tol, max_iter) < 0:
            return 2
        if not np.all(np.isfinite(t_new)):
            return 1
        t_prev[:] = t_now
        t_now[:] = t_new
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    tv = t_now[i, j, k]
                    if tv > peak[i, j, k]:
                        peak[i, j, k] = tv
                    rn = cem43_rate(tv)
                    cem[i, j, k] += 0.5 * (rate_old[i, j, k] + rn) * dt / 60.0
                    rate_old[i, j, k] = rn
                    an = arrhenius_rate(tv, arr_a, arr_ea)
                    omega[i, j, k] += 0.5 * (arr_old[i, j, k] + an) * dt
                    arr_old[i, j, k] = an
                    if frac[i, j, k] < 1.0 and tv > max_healthy[0]:
                        max_healthy[0] = tv
        t90_new = exceeded_temperature(t_now.ravel()[tumour_idx], w, 0.9)
        cem_t90[0] += 0.5 * (cem43_rate(t90_old) + cem43_rate(t90_new)) * dt / 60.0
        t90_old = t90_new
        if step + 1 == n_heat:
            end_heat[:] = t_now
        if (step + 1) % rec_every == 0:
            centre_line[rec_i, :] = t_now[:, c, c]
            tumour_mean[rec_i] = np.sum(t_now.ravel()[tumour_idx] * w) / np.sum(w)
            rec_i += 1
    return 0


@dataclass(frozen=True)
class Bioheat3DResult:
    """Maps and summaries of one 3-D session (see the module docstring for shapes and units)."""

    axis_m: np.ndarray
    baseline_C: np.ndarray
    peak_C: np.ndarray
    end_of_heating_C: np.ndarray
    cem43_min: np.ndarray
    arrhenius_omega: np.ndarray
    t90_C: float
    t50_C: float
    t10_C: float
    cem43_t90_min: float
    max_healthy_C: float
    record_times_s: np.ndarray
    centre_line_C: np.ndarray
    tumour_mean_C: np.ndarray


def simulate_session_3d(
    tumour_fraction: np.ndarray,
    power_W_per_m3: np.ndarray,
    half_width_m: float,
    *,
    tumor: TissueProperties,
    healthy: TissueProperties,
    blood: Blood | None = None,
    session_s: float = 3600.0,
    cooldown_s: float = 900.0,
    dt_s: float = 10.0,
    record_every_s: float = 60.0,
    arrhenius: str = "he_bischof_2003_at1",
    cg_tolerance: float = 1e-10,
    cg_max_iter: int = 2000,
) -> Bioheat3DResult:
    """One fixed-power heat session on an (n, n, n) grid spanning [-half_width_m, half_width_m]^3.

    ``tumour_fraction``: voxel tumour volume fraction in [0, 1] (at least one voxel > 0).
    ``power_W_per_m3``: particle heating per voxel [W/m3] (>= 0) while the field is on.
    Perfusion of ``tumor`` and ``healthy`` at 37 C and their temperature models are used as given.
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
    for name, v in (
        ("half_width_m", half_width_m),
        ("dt_s", dt_s),
        ("session_s", session_s),
        ("record_every_s", record_every_s),
    ):
        if not (math.isfinite(v) and v > 0):
            raise InputError(name, v, "must be a finite number > 0")
    if not (math.isfinite(cooldown_s) and cooldown_s >= 0):
        raise InputError("cooldown_s", cooldown_s, "must be >= 0")
    rec_every = int(round(record_every_s / dt_s))
    if rec_every < 1 or abs(rec_every * dt_s - record_every_s) > 1e-9 * record_every_s:
        raise InputError("record_every_s", record_every_s, f"must be a whole multiple of dt_s = {dt_s}")
    blood = blood or load_blood()
    arr = arrhenius_set(arrhenius)
    n = frac.shape[0]
    h = 2.0 * half_width_m / n
    n_heat = int(round(session_s / dt_s))
    n_total = n_heat + int(round(cooldown_s / dt_s))
    n_rec = n_total // rec_every + 1
    baseline = np.zeros_like(frac)
    peak = np.zeros_like(frac)
    end_heat = np.zeros_like(frac)
    cem = np.zeros_like(frac)
    omega = np.zeros_like(frac)
    centre_line = np.zeros((n_rec, n))
    tumour_mean = np.zeros(n_rec)
    cem_t90 = np.zeros(1)
    max_healthy = np.full(1, -np.inf)
    status = _kernel_3d(
        frac, q, h, float(dt_s), n_heat, n_total, rec_every,
        tumor.volumetric_heat_capacity_J_per_m3_K, tumor.conductivity_W_per_m_K, tumor.perfusion_per_s,
        tumor.metabolic_heat_W_per_m3, PERFUSION_MODELS[tumor.perfusion_model],
        healthy.volumetric_heat_capacity_J_per_m3_K, healthy.conductivity_W_per_m_K, healthy.perfusion_per_s,
        healthy.metabolic_heat_W_per_m3, PERFUSION_MODELS[healthy.perfusion_model],
        blood.volumetric_heat_capacity_J_per_m3_K, blood.arterial_temperature_C, perfusion_coefficients(),
        arr.a_per_s, arr.ea_J_per_mol, float(cg_tolerance), int(cg_max_iter),
        baseline, peak, end_heat, cem, omega, centre_line, tumour_mean, cem_t90, max_healthy,
    )  # fmt: skip
    if status == 2:
        raise ModelError("3-D bioheat solver: conjugate gradients did not converge")
    if status == 1 or not (np.all(np.isfinite(peak)) and np.all(np.isfinite(cem))):
        raise ModelError("3-D bioheat solver produced non-finite temperatures")
    sel = frac > 0
    temps, weights = peak[sel], frac[sel]
    return Bioheat3DResult(
        axis_m=-half_width_m + (np.arange(n) + 0.5) * h,
        baseline_C=baseline,
        peak_C=peak,
        end_of_heating_C=end_heat,
        cem43_min=cem,
        arrhenius_omega=omega,
        t90_C=float(exceeded_temperature(temps, weights, 0.9)),
        t50_C=float(exceeded_temperature(temps, weights, 0.5)),
        t10_C=float(exceeded_temperature(temps, weights, 0.1)),
        cem43_t90_min=float(cem_t90[0]),
        max_healthy_C=float(max_healthy[0]),
        record_times_s=np.arange(n_rec) * rec_every * dt_s,
        centre_line_C=centre_line,
        tumour_mean_C=tumour_mean,
    )
