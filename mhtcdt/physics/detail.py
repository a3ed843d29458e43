"""One patient's treatment in detail: the time courses behind a row of :func:`simulate_protocol` (app maps).

``simulate_patient_detail(patient, protocol, seed)`` runs the cohort path of
:mod:`mhtcdt.physics.chain` for this one patient (same code, same keyed random draws; the radial heat
histories are sampled every solver step, ``HEAT_DT_S`` = 10 s, instead of every 120 s, which changes no
result), and returns :class:`PatientDetail`:

* the simulate_protocol row itself (``outcome``) and its kill by mechanism (identical numbers);
* heat: temperature of every tumour shell vs time over every session, T90(t), the healthy-tissue maximum
  (tumour margin or beyond) vs time, the applied field vs time (titration), per-session T90/T50/T10,
  margin peak, healthy maximum, mean field and CEM43 at T90, the radial peak-temperature profile out to
  the solver's far boundary, CEM43 at T90 accumulated over time and CEM43 per shell at the end;
* chemistry: .OH, H2O2, Fe2+, GSH and lipid hydroperoxide vs time in each radial chemistry group of the
  deposit (or the tumour mean without a CDT agent) from the fast chemistry path, re-run piecewise over
  an output grid (the segments end at every temperature node and every hour; ends agree with the
  one-piece run within the solver tolerance, rtol 1e-3);
* a 3-D map: mid-plane (z = 0) temperature at the end of the first session's heating from
  :func:`mhtcdt.physics.bioheat_3d.simulate_session_3d`, with the radial deposit sphere made
  heterogeneous by a per-voxel lognormal iron-concentration factor (median-free: normalised to mean 1 over
  the deposit so the deposited power equals the radial model's; ``deposit_sigma`` its log-SD; the voxel
  size, ~R/5, is its correlation length). The heterogeneity is an ILLUSTRATIVE display assumption, not a
  calibrated value (no published voxel-level iron distribution is used); ``deposit_sigma=0`` gives the
  uniform deposit of the radial model. The 3-D session runs at constant power equal to the first
  session's time-mean particle power (the 3-D solver has no titration); the map does not feed any kill.

Units: times in minutes from the start of the first session; radii and coordinates in mm; temperatures
in C; CEM43 in min; field in kA/m; chemistry concentrations as named (uM, mM, nM).

``thermotolerance_by_interval(patient, protocol, seed, intervals_hours)`` returns a DataFrame, one row per
interval (sessions spaced ``interval_hours`` start to start, everything else unchanged):

=============================  =======  ==============================================================
column                         dtype    meaning
=============================  =======  ==============================================================
interval_hours                 float64  session spacing, start to start [h]
log10_kill_heat                float64  tumour-level heat log10 kill (simulate_protocol's column)
log10_kill_total               float64  tumour-level total log10 kill (simulate_protocol's column)
log10_kill_heat_enhancing      float64  heat-alone log10 kill of the heated (enhancing) tumour volume
                                        (``thermotolerance.kill_versus_interval``)
hsp_peak                       float64  highest tumour-volume-mean HSP level at a session start (0..1)
hsp_peak_shell                 float64  highest HSP level of any shell at a session start (0..1)
=============================  =======  ==============================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics import chain
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf
from mhtcdt.physics.assumptions import Assumptions
from mhtcdt.physics.dose import cem43_minutes, exceeded_temperature
from mhtcdt.physics.protocol import Protocol
from mhtcdt.seeding import child_rng

KILL_COLUMNS = ("log10_kill_rt", "log10_kill_heat", "log10_kill_cdt", "log10_kill_interaction", "log10_kill_total")
DEFAULT_DEPOSIT_SIGMA = 0.5  # illustrative log-SD of the voxel iron concentration (display assumption)
GRID_CELLS_3D = 31  # odd: a voxel centre lies on the tumour centre
HALF_WIDTH_OVER_R = 3.0  # 3-D domain half-width / tumour radius (outer faces at the arterial temperature)
CHEMISTRY_SAMPLE_S = 3600.0  # output spacing of the chemistry time courses between temperature nodes
_STREAM_DEPOSIT_3D = 11  # keyed stream of the 3-D concentration field (chain.py uses 1..3)


@dataclass(frozen=True)
class PatientDetail:
    """Time courses and maps of one patient's treatment (units in the names; see the module docstring).

    Heat arrays are empty (length 0) when the protocol has no heat sessions; the 3-D fields are then None.
    Shapes: T = sessions x records (one record per 10 s solver step, each session heating then cooling
    15 min), C = tumour shells (12), G = chemistry groups, K = chemistry samples, N = 3-D grid cells.
    A chemistry group whose cells are all killed by ferroptosis (hazard integral at its cap) stops its
    chemistry there, as in the cohort path: ``chemistry_stop_min`` records when (the end of the output
    interval in which it happened; inf = never); its
    concentrations are NaN afterwards (no living cells) and its cumulative .OH stays constant.
    """

    patient_id: int
    protocol_name: str
    outcome: pd.Series  # the simulate_protocol row (contract section 2)
    has_heat: bool
    # --- geometry [mm]
    tumour_radius_mm: float
    deposit_radius_mm: float
    domain_radius_mm: float  # far boundary of the radial solver (held at the arterial temperature)
    shell_radius_mm: np.ndarray  # (C,) shell centres
    shell_outer_radius_mm: np.ndarray  # (C,)
    shell_volume_fraction: np.ndarray  # (C,) sums to 1
    shell_deposit_fraction: np.ndarray  # (C,) volume fraction of each shell inside the deposit
    # --- heat vs time
    time_min: np.ndarray  # (T,) minutes from the first session start
    session_of_sample: np.ndarray  # (T,) int session index
    shell_temperature_C: np.ndarray  # (T, C)
    t90_history_C: np.ndarray  # (T,) T90 of the shell temperatures at each sample
    healthy_max_history_C: np.ndarray  # (T,) hottest healthy tissue incl. the tumour margin
    field_history_kA_per_m: np.ndarray  # (T,) applied amplitude (0 after switch-off)
    cem43_t90_cumulative_min: np.ndarray  # (T,) CEM43 of T90(t) accumulated over the sessions
    sample_dt_s: float  # spacing of the heat samples [s]
    sessions: pd.DataFrame  # one row per session (see ``session_table``)
    shell_peak_C: np.ndarray  # (S, C) per-shell peak temperature per session
    cem43_per_shell_min: np.ndarray  # (C,) CEM43 per shell summed over sessions (solver, per step)
    heat_surviving_fraction_per_shell: np.ndarray  # (C,) after all sessions, with thermotolerance
    profile_radius_mm: np.ndarray  # (C + healthy cells,) cell centres out to the far boundary
    profile_peak_C: np.ndarray  # (S, C + healthy cells) per-cell peak temperature per session
    profile_baseline_C: np.ndarray  # (C + healthy cells,) field-off steady state
    # --- chemistry vs time (fast path)
    chemistry_time_min: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K,)
    chemistry_group_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (G,) volume shares
    chemistry_group_label: tuple[str, ...] = ()
    chemistry_stop_min: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (G,) inf = never
    chemistry_temperature_C: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K)
    oh_nM: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K) quasi-steady [.OH]
    oh_cumulative_uM_min: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K)
    h2o2_uM: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K)
    fe2_uM: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K) free Fe2+
    gsh_mM: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K)
    lipid_peroxide_uM: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (G, K) LOOH
    gsh_nadir_mM: float = math.nan  # lowest GSH over groups and solver steps
    lipid_peroxide_peak_uM: float = math.nan  # highest LOOH over groups and solver steps
    # --- 3-D map (first session, end of heating, z = 0)
    slice_axis_mm: np.ndarray | None = None  # (N,) voxel-centre coordinates, x and y alike
    slice_temperature_C: np.ndarray | None = None  # (N, N) index order x, y
    slice_peak_C: np.ndarray | None = None  # (N, N) peak over the session
    slice_tumour_fraction: np.ndarray | None = None  # (N, N)
    slice_concentration_factor: np.ndarray | None = None  # (N, N) iron concentration / deposit mean
    slice_power_W_per_m3: np.ndarray | None = None  # (N, N)
    deposit_sigma: float = DEFAULT_DEPOSIT_SIGMA
    t90_3d_C: float = math.nan  # T90 of the 3-D session (voxel peaks, tumour-volume weighted)

    @property
    def kill_by_mechanism(self) -> dict[str, float]:
        """Tumour log10 kill by mechanism: exactly the simulate_protocol row's columns."""
        return {c: float(self.outcome[c]) for c in KILL_COLUMNS}


# ---------------------------------------------------------------------- inputs
def _one_patient(patient) -> pd.DataFrame:
    if isinstance(patient, pd.Series):
        frame = patient.to_frame().T.infer_objects()
    elif isinstance(patient, pd.DataFrame):
        frame = patient
    else:
        raise InputError("patient", type(patient).__name__, "must be a pandas Series or a one-row DataFrame")
    if len(frame) != 1:
        raise InputError("patient", len(frame), "needs exactly one patient (one row)")
    chain.check_patients(frame)
    for col in ("patient_id", "tumour_volume_cm3"):
        try:
            v = float(frame[col].iloc[0])
        except (TypeError, ValueError):
            raise InputError(f"patient.{col}", frame[col].iloc[0], "must be a number") from None
        if not math.isfinite(v):
            raise InputError(f"patient.{col}", v, "must be finite")
    return frame.reset_index(drop=True)


def _run_one(p: pd.DataFrame, protocol: Protocol, seed, assumptions, record_every_s: float) -> tuple[pd.Series, dict]:
    """The cohort chunk for one patient with its intermediates (same finiteness check as simulate_protocol)."""
    capture: dict = {}
    out = chain.simulate_chunk(p, protocol, seed, assumptions, record_every_s=record_every_s, capture=capture)
    chain.check_finite(out, "simulate_patient_detail")
    return out.iloc[0], capture


# ---------------------------------------------------------------------- heat
def _heat_detail(heat: dict, protocol: Protocol, radius_mm: float) -> dict:
    rad = heat["radial"]
    c = int(rad["cells_in_tumour"])
    temps = rad["tumour_temperature_C"][0]  # (S, R, C)
    n_s, n_r, _ = temps.shape
    rec_s = rad["record_times_s"]
    dt = float(rec_s[1] - rec_s[0]) if n_r > 1 else float(rad["dt_s"])
    start_min = protocol.session_start_hours() * 60.0
    time_min = (start_min[:, None] + rec_s[None, :] / 60.0).ravel()
    weights = rad["shell_volume_fraction"]
    flat = temps.reshape(n_s * n_r, c)
    t90_hist = np.array([exceeded_temperature(row.copy(), weights, 0.9) for row in flat])
    cem_step = cem43_minutes(t90_hist[:, None], dt)  # per-sample CEM43 (rectangle rule)
    faces = rad["face_radius_over_R"]
    centres = rad["cell_radius_over_R"]
    sessions = pd.DataFrame(
        {
            "session": np.arange(n_s, dtype=np.int64),
            "start_min": start_min,
            "t90_C": rad["t90_C"][0],
            "t50_C": rad["t50_C"][0],
            "t10_C": rad["t10_C"][0],
            "margin_peak_C": rad["margin_peak_C"][0],
            "max_healthy_C": rad["max_healthy_C"][0],
            "field_mean_kA_per_m": rad["field_mean_kA_per_m"][0],
            "cem43_t90_min": rad["cem43_t90_min"][0],
        }
    )
    return dict(
        domain_radius_mm=float(faces[-1] * radius_mm),
        shell_radius_mm=centres[:c] * radius_mm,
        shell_outer_radius_mm=faces[1 : c + 1] * radius_mm,
        shell_volume_fraction=weights,
        shell_deposit_fraction=rad["deposit_fraction"][0],
        time_min=time_min,
        session_of_sample=np.repeat(np.arange(n_s, dtype=np.int64), n_r),
        shell_temperature_C=flat,
        t90_history_C=t90_hist,
        healthy_max_history_C=rad["healthy_max_record_C"][0].ravel(),
        field_history_kA_per_m=rad["field_record_kA_per_m"][0].ravel(),
        cem43_t90_cumulative_min=np.cumsum(cem_step),
        sample_dt_s=dt,
        sessions=sessions,
        shell_peak_C=rad["peak_C"][0][:, :c],
        cem43_per_shell_min=rad["cem43_min"][0][:, :c].sum(axis=0),
        heat_surviving_fraction_per_shell=rad["sf_heat"][0],
        profile_radius_mm=centres * radius_mm,
        profile_peak_C=rad["peak_C"][0],
        profile_baseline_C=rad["baseline_C"][0],
    )


def _no_heat_detail() -> dict:
    e1, e2 = np.zeros(0), np.zeros((0, 0))
    return dict(
        domain_radius_mm=math.nan,
        shell_radius_mm=e1,
        shell_outer_radius_mm=e1,
        shell_volume_fraction=e1,
        shell_deposit_fraction=e1,
        time_min=e1,
        session_of_sample=np.zeros(0, dtype=np.int64),
        shell_temperature_C=e2,
        t90_history_C=e1,
        healthy_max_history_C=e1,
        field_history_kA_per_m=e1,
        cem43_t90_cumulative_min=e1,
        sample_dt_s=math.nan,
        sessions=pd.DataFrame(
            columns=[
                "session",
                "start_min",
                "t90_C",
                "t50_C",
                "t10_C",
                "margin_peak_C",
                "max_healthy_C",
                "field_mean_kA_per_m",
                "cem43_t90_min",
            ]
        ),  # fmt: skip
        shell_peak_C=e2,
        cem43_per_shell_min=e1,
        heat_surviving_fraction_per_shell=e1,
        profile_radius_mm=e1,
        profile_peak_C=e2,
        profile_baseline_C=e1,
    )


# ---------------------------------------------------------------------- chemistry
def _chemistry_detail(chem: dict) -> dict:
    """Re-run the patient's fast-chemistry groups piecewise over an output grid (same nodes, same inputs)."""
    prep = chem["prepared"]
    groups = int(chem["groups"])
    tn = np.asarray(prep["t_nodes"][0], np.float64)  # all groups share the node times
    temps = np.array([np.asarray(prep["t_temps"][g], np.float64) for g in range(groups)])
    hourly = np.arange(0.0, tn[-1], CHEMISTRY_SAMPLE_S)
    grid = np.union1d(tn, hourly)
    grid_t = np.array([np.interp(grid, tn, temps[g]) for g in range(groups)])  # T(t) is piecewise linear
    k_ref, ea, t_refs, s = (prep[k][:groups] for k in ("k_ref", "ea", "t_refs", "s"))
    tol = cf.default_tolerances()
    states = np.full((groups, grid.size, cf.N_FAST), np.nan)
    stop_s = np.full(groups, np.inf)
    gsh_min = np.empty(groups)
    looh_max = np.empty(groups)
    y_end = np.empty(cf.N_FAST)
    for g in range(groups):
        y = prep["y0"][g].copy()
        states[g, 0] = y
        gsh_min[g], looh_max[g] = y[cf.F_GSH], y[cf.F_LOOH]
        cap = s[g, ch.P_OMEGA_CAP]
        params = cf.RunParameters(k_ref[g], ea[g], t_refs[g], s[g])
        for j in range(grid.size - 1):
            # the same numba integrator run_prepared calls, segment by segment (no thread start per segment)
            status, gmin, lmax, _, _ = cf.integrate(params, y, grid[j : j + 2], grid_t[g, j : j + 2], tol, y_end)
            if status != cf.STATUS_OK or not np.all(np.isfinite(y_end)):
                raise ModelError(f"fast chemistry failed in group {g} between {grid[j]:.0f} and {grid[j + 1]:.0f} s")
            y = y_end.copy()
            gsh_min[g], looh_max[g] = min(gsh_min[g], gmin), max(looh_max[g], lmax)
            if y[cf.F_OMF] >= cap:  # sterilised: the cohort path stops this group's chemistry here
                stop_s[g] = grid[j + 1]
                states[g, j + 1 :] = y
                break
            states[g, j + 1] = y
    oh = np.full((groups, grid.size), np.nan)
    for g in range(groups):
        for j in np.flatnonzero(grid <= stop_s[g]):
            k = ch.rate_constants(k_ref[g], ea[g], t_refs[g], grid_t[g, j], s[g])
            oh[g, j] = cf.radicals_qssa(states[g, j], k, s[g])[0]
    if groups == 1:
        labels = ("tumour" if chem["group_of_cell"].shape[1] == 0 else "deposit",)
    else:
        names = ("inner", "middle", "outer") if groups == 3 else tuple(f"#{g + 1}" for g in range(groups))
        labels = tuple(f"deposit, {name} third" if groups == 3 else f"deposit group {name}" for name in names)
    dead = grid[None, :] > stop_s[:, None]  # no living cells left: concentrations undefined (NaN)

    def conc(index: int, scale: float) -> np.ndarray:
        return np.where(dead, np.nan, states[:, :, index] * scale)

    return dict(
        chemistry_time_min=grid / 60.0,
        chemistry_stop_min=stop_s / 60.0,
        chemistry_group_weight=chem["group_weights"][0],
        chemistry_group_label=labels,
        chemistry_temperature_C=grid_t,
        oh_nM=np.where(dead, np.nan, oh * 1e9),
        oh_cumulative_uM_min=states[:, :, cf.F_OHC] / ch.OH_CUM_SCALE * 1e6 / 60.0,
        h2o2_uM=conc(cf.F_H2O2, 1e6),
        fe2_uM=conc(cf.F_FE2, 1e6),
        gsh_mM=conc(cf.F_GSH, 1e3),
        lipid_peroxide_uM=conc(cf.F_LOOH, 1e6),
        gsh_nadir_mM=float(gsh_min.min() * 1e3),
        lipid_peroxide_peak_uM=float(looh_max.max() * 1e6),
    )


# ---------------------------------------------------------------------- 3-D map
def _map_3d(
    p: pd.DataFrame, protocol: Protocol, seed, heat: dict, sigma: float, grid_cells: int, assumptions: Assumptions
) -> dict:
    from mhtcdt.physics import particles
    from mhtcdt.physics.bioheat_3d import simulate_session_3d, sphere_fraction_map
    from mhtcdt.physics.tissue import load_tissue, tumour_tissue

    row = p.iloc[0]
    r_m = float(chain.heated_radius_cm(p)[0]) / 100.0
    coverage = float(heat["coverage"][0])  # the deposit the radial run heated (fluid-limited)
    half = HALF_WIDTH_OVER_R * r_m
    tumour = sphere_fraction_map(grid_cells, half, (r_m, r_m, r_m))
    r_dep = r_m * coverage ** (1.0 / 3.0)
    deposit = sphere_fraction_map(grid_cells, half, (r_dep, r_dep, r_dep))
    rng = child_rng(seed, _STREAM_DEPOSIT_3D, int(row["patient_id"]))
    factor = np.exp(sigma * rng.standard_normal(deposit.shape))
    factor /= float((deposit * factor).sum() / deposit.sum())  # mean 1 over the deposit: same total power
    calib = particles.load_agent(protocol.agent).calibration
    exponent = heat["field_exponent"]
    rad = heat["radial"]
    rec_s = rad["record_times_s"]
    heating = (rec_s > 0) & (rec_s <= protocol.session_minutes * 60.0 + 1e-9)
    h_rec = rad["field_record_kA_per_m"][0, 0, heating]
    h_rec = np.where(h_rec > 0, h_rec, rad["field_mean_kA_per_m"][0, 0])  # the switch-off sample
    power_scale = float(np.mean((h_rec / calib.field_ref_kA_per_m) ** exponent))
    # particle heating in the deposit plus the session-mean eddy-current heating everywhere (as in the radial run)
    q = float(heat["q_ref"][0]) * power_scale * deposit * factor + float(heat["eddy_coef"][0]) * np.mean(h_rec**2)
    tissue = str(row["tissue"])
    res = simulate_session_3d(
        tumour,
        q,
        half,
        tumour=tumour_tissue(tissue, float(row["tumour_perfusion_mL_per_min_per_kg"])),
        healthy=load_tissue(tissue),
        timing=chain.session_timing(protocol),
    )
    mid = grid_cells // 2
    return dict(
        slice_axis_mm=res.axis_m * 1e3,
        slice_temperature_C=res.end_of_heating_C[:, :, mid].copy(),
        slice_peak_C=res.peak_C[:, :, mid].copy(),
        slice_tumour_fraction=tumour[:, :, mid].copy(),
        slice_concentration_factor=np.where(deposit[:, :, mid] > 0, factor[:, :, mid], 0.0),
        slice_power_W_per_m3=q[:, :, mid].copy(),
        t90_3d_C=float(res.t90_C),
    )


# ---------------------------------------------------------------------- public API
def simulate_patient_detail(
    patient: pd.Series | pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    *,
    assumptions: Assumptions | None = None,
    deposit_sigma: float = DEFAULT_DEPOSIT_SIGMA,
    grid_cells_3d: int = GRID_CELLS_3D,
    with_3d: bool = True,
) -> PatientDetail:
    """Time courses and maps of one patient's treatment; its ``outcome`` equals the simulate_protocol row of
    the same patient, protocol, seed and assumptions (see the module docstring for every quantity).

    ``deposit_sigma``: log-SD of the per-voxel iron concentration in the 3-D map (0 = uniform deposit).
    ``grid_cells_3d``: odd number of voxels per axis of the 3-D grid (>= 11). ``with_3d=False`` skips the
    3-D session (about a second).
    """
    assumptions = chain.check_call(protocol, assumptions)
    p = _one_patient(patient)
    if not (math.isfinite(deposit_sigma) and 0.0 <= deposit_sigma <= 2.0):
        raise InputError("deposit_sigma", deposit_sigma, "log-SD must lie in [0, 2]")
    if not (isinstance(grid_cells_3d, int | np.integer) and grid_cells_3d >= 11 and grid_cells_3d % 2 == 1):
        raise InputError("grid_cells_3d", grid_cells_3d, "must be an odd integer >= 11")
    outcome, capture = _run_one(p, protocol, seed, assumptions, chain.HEAT_DT_S)
    seen = chain.apply_assumption_factors(p, assumptions)  # the patient as the chain saw it (factors applied once)
    row = seen.iloc[0]
    radius_mm = float(chain.heated_radius_cm(seen)[0]) * 10.0
    heat = capture["heat"]
    coverage = float(heat["coverage"][0] if heat is not None else chain.effective_coverage(seen)[0])
    parts = _heat_detail(heat, protocol, radius_mm) if heat is not None else _no_heat_detail()
    parts.update(_chemistry_detail(capture["chem"]))
    if heat is not None and with_3d:
        parts.update(_map_3d(seen, protocol, seed, heat, float(deposit_sigma), int(grid_cells_3d), assumptions))
    return PatientDetail(
        patient_id=int(row["patient_id"]),
        protocol_name=protocol.name,
        outcome=outcome,
        has_heat=heat is not None,
        tumour_radius_mm=radius_mm,
        deposit_radius_mm=radius_mm * coverage ** (1.0 / 3.0),
        deposit_sigma=float(deposit_sigma),
        **parts,
    )


def thermotolerance_by_interval(
    patient: pd.Series | pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    intervals_hours: Sequence[float] | np.ndarray,
    *,
    assumptions: Assumptions | None = None,
) -> pd.DataFrame:
    """Heat kill and HSP level of one patient when the sessions are spaced by each of ``intervals_hours``
    (columns in the module docstring). The tumour-level columns are simulate_protocol's for the re-spaced
    protocol (RT timing and chemistry included); the enhancing-volume column reuses
    ``thermotolerance.kill_versus_interval`` on the per-session damage of the patient's sessions (which do
    not depend on the spacing: each starts from the field-off steady state)."""
    from mhtcdt.physics import thermotolerance as tt
    from mhtcdt.physics.dose import tumour_log10_kill

    assumptions = chain.check_call(protocol, assumptions)
    p = _one_patient(patient)
    if not protocol.has_mht:
        raise InputError("protocol", protocol.name, "has no heat sessions: session spacing has no effect")
    intervals = np.atleast_1d(np.asarray(intervals_hours, dtype=np.float64))
    if intervals.ndim != 1 or intervals.size == 0 or not np.all(np.isfinite(intervals)) or np.any(intervals <= 0):
        raise InputError("intervals_hours", intervals_hours, "need one or more finite intervals > 0 h")
    model = None if assumptions.thermotolerance == "none" else tt.thermotolerance_preset(assumptions.thermotolerance)
    rows = []
    base: dict | None = None
    for interval in intervals:
        spaced = Protocol(**{**protocol.model_dump(), "session_interval_hours": float(interval)})
        out, capture = _run_one(p, spaced, seed, assumptions, chain.RECORD_EVERY_S)
        rad = capture["heat"]["radial"]
        c = int(rad["cells_in_tumour"])
        omega, cem = rad["arrhenius_omega"][0][:, :c], rad["cem43_min"][0][:, :c]
        if base is None:
            base = {"omega": omega, "cem": cem, "w": rad["shell_volume_fraction"], "scale": rad["hsp_expression_scale"]}
        if model is None:
            level = np.zeros_like(cem)
        else:
            level = tt.hsp_level(cem, spaced.session_start_hours(), model, rad["hsp_expression_scale"])
        rows.append(
            {
                "interval_hours": float(interval),
                "log10_kill_heat": float(out["log10_kill_heat"]),
                "log10_kill_total": float(out["log10_kill_total"]),
                "hsp_peak": float((level @ rad["shell_volume_fraction"]).max()),
                "hsp_peak_shell": float(level.max()),
            }
        )
    table = pd.DataFrame(rows)
    if model is None:
        kill = float(tumour_log10_kill(np.exp(-base["omega"].sum(axis=0)), base["w"]))
        table.insert(3, "log10_kill_heat_enhancing", kill)
    else:
        enh = tt.kill_versus_interval(base["omega"], base["cem"], base["w"], intervals, model, base["scale"])
        table.insert(3, "log10_kill_heat_enhancing", enh["log10_kill_heat"].to_numpy())
    return table.astype("float64")
