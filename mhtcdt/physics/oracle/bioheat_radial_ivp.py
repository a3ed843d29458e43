"""Reference radial Pennes solver: method of lines + ``scipy.integrate.solve_ivp`` (one patient).

Same finite-volume semi-discretisation as ``bioheat_radial`` (the same cell faces from
``radial_faces_over_R``; cell-centred, harmonic face conductivity, Dirichlet far boundary), written
independently in numpy, with the perfusion evaluated at the CURRENT
temperature (no lagging) and an adaptive stiff integrator (BDF) at tight tolerances, so its difference
from the numba kernel measures that kernel's time-stepping error. Fixed amplitude only: power ``q`` in
the deposit for ``session_s``, then cooling for ``cooldown_s``. Initial state: field-off steady state from
``scipy.optimize.root``.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import root

from mhtcdt.errors import ModelError
from mhtcdt.physics.bioheat_radial import radial_faces_over_R
from mhtcdt.physics.tissue import Blood, TissueProperties, load_blood, load_tissue_data


def _lang_factor(t_c: np.ndarray, model: str) -> np.ndarray:
    d = load_tissue_data()["perfusion_temperature_dependence"]
    if model == "constant":
        return np.ones_like(t_c)

    def tumour(t):
        lo, hi = d["tumour_knee_C"]
        mid = d["tumour_w0_per_s"] - np.clip(t - lo, 0.0, None) ** d["tumour_exponent"] / d["tumour_divisor"]
        return np.where(t < lo, d["tumour_w0_per_s"], np.where(t <= hi, mid, d["tumour_hot_per_s"]))

    def muscle(t):
        curve = d["muscle_a_per_s"] + d["muscle_b_per_s"] * np.exp(-((t - d["muscle_knee_C"]) ** 2) / d["muscle_c_K2"])
        return np.where(t <= d["muscle_knee_C"], curve, d["muscle_hot_per_s"])

    f = tumour if model == "lang1999_tumour" else muscle
    return f(t_c) / f(np.array(37.0))


class RadialReference:
    """The semi-discrete radial system dT/dt = F(T, q) for one patient."""

    def __init__(
        self,
        radius_m: float,
        coverage: float,
        tumour: TissueProperties,
        healthy: TissueProperties,
        tumour_perfusion_mL_per_min_per_kg: float | None = None,
        healthy_perfusion_scale: float = 1.0,
        blood: Blood | None = None,
        cells_in_tumour: int = 12,
        cells_in_healthy: int = 12,
        far_factor: float = 4.0,
    ) -> None:
        blood = blood or load_blood()
        n_t = cells_in_tumour
        faces = radial_faces_over_R(cells_in_tumour, cells_in_healthy, far_factor) * radius_m
        n = faces.size - 1
        half = 0.5 * np.diff(faces)
        self.volume = (faces[1:] ** 3 - faces[:-1] ** 3) / 3.0
        in_tumour = np.arange(n) < n_t
        k = np.where(in_tumour, tumour.conductivity_W_per_m_K, healthy.conductivity_W_per_m_K)
        inner = faces[1:-1]
        self.g_inner = inner**2 / (half[:-1] / k[:-1] + half[1:] / k[1:])
        self.g_far = faces[-1] ** 2 * k[-1] / half[-1]
        self.rho_c = np.where(
            in_tumour, tumour.volumetric_heat_capacity_J_per_m3_K, healthy.volumetric_heat_capacity_J_per_m3_K
        )
        perf_t = (
            tumour.perfusion_mL_per_min_per_kg
            if tumour_perfusion_mL_per_min_per_kg is None
            else (tumour_perfusion_mL_per_min_per_kg)
        )
        w_t = perf_t * tumour.density_kg_per_m3 * 1e-6 / 60.0
        w_h = healthy.perfusion_mL_per_min_per_kg * healthy_perfusion_scale * healthy.density_kg_per_m3 * 1e-6 / 60.0
        self.omega = np.where(in_tumour, w_t, w_h)
        self.in_tumour = in_tumour
        self.models = (tumour.perfusion_model, healthy.perfusion_model)
        self.qm = np.where(in_tumour, tumour.metabolic_heat_W_per_m3, healthy.metabolic_heat_W_per_m3)
        r_dep = radius_m * coverage ** (1.0 / 3.0)
        top = np.clip(np.minimum(faces[1:], r_dep), faces[:-1], None)
        self.deposit = np.where(in_tumour, (top**3 - faces[:-1] ** 3) / (faces[1:] ** 3 - faces[:-1] ** 3), 0.0)
        self.rho_c_blood = blood.volumetric_heat_capacity_J_per_m3_K
        self.t_art = blood.arterial_temperature_C
        self.n_t = n_t

    def perfusion_sink(self, t_c: np.ndarray) -> np.ndarray:
        f = np.where(self.in_tumour, _lang_factor(t_c, self.models[0]), _lang_factor(t_c, self.models[1]))
        return self.rho_c_blood * self.omega * f

    def net_heat(self, t_c: np.ndarray, q: float) -> np.ndarray:
        """Net heat flow into each cell per 4 pi [W]."""
        flux = self.g_inner * (t_c[1:] - t_c[:-1])  # into cell j from j+1
        net = np.zeros_like(t_c)
        net[:-1] += flux
        net[1:] -= flux
        net[-1] += self.g_far * (self.t_art - t_c[-1])
        net += self.volume * (self.qm + q * self.deposit - self.perfusion_sink(t_c) * (t_c - self.t_art))
        return net

    def rhs(self, _t: float, t_c: np.ndarray, q: float) -> np.ndarray:
        return self.net_heat(t_c, q) / (self.rho_c * self.volume)

    def steady(self, q: float = 0.0) -> np.ndarray:
        sol = root(lambda x: self.net_heat(x, q), np.full(self.volume.shape, self.t_art), method="hybr", tol=1e-12)
        if not sol.success:
            raise ModelError(f"reference steady state failed: {sol.message}")
        return sol.x

    def session(
        self,
        q_W_per_m3: float,
        session_s: float,
        cooldown_s: float,
        t_eval: np.ndarray,
        rtol: float = 1e-9,
        atol: float = 1e-9,
    ) -> np.ndarray:
        """Temperatures (len(t_eval), n_cells) [C] for a session from the field-off steady state."""
        t0 = self.steady(0.0)
        t_eval = np.asarray(t_eval, dtype=np.float64)
        out = np.empty((t_eval.size, t0.size))
        on = t_eval <= session_s
        sol1 = solve_ivp(
            self.rhs,
            (0.0, session_s),
            t0,
            method="BDF",
            t_eval=t_eval[on],
            rtol=rtol,
            atol=atol,
            args=(q_W_per_m3,),
        )
        if not sol1.success:
            raise ModelError(f"reference solve_ivp failed: {sol1.message}")
        out[on] = sol1.y.T
        if np.any(~on):
            end = solve_ivp(self.rhs, (0.0, session_s), t0, method="BDF", rtol=rtol, atol=atol, args=(q_W_per_m3,))
            sol2 = solve_ivp(
                self.rhs,
                (session_s, session_s + cooldown_s),
                end.y[:, -1],
                method="BDF",
                t_eval=t_eval[~on],
                rtol=rtol,
                atol=atol,
                args=(0.0,),
            )
            if not sol2.success:
                raise ModelError(f"reference solve_ivp failed: {sol2.message}")
            out[~on] = sol2.y.T
        return out
