"""The model chain of the cohort API: one call simulates an arm (a :class:`Protocol`) for every patient.

``simulate_protocol(patients, protocol, seed)`` chains, per patient:

1. particle dose (fixed, or planned by :mod:`mhtcdt.physics.planning` when ``np_dose_mg_Fe_per_cm3`` is
   None), calibrated SLP with a per-patient lognormal factor (Physics I ``particles``), the H*f limit
   (Physics I ``field``);
2. heat sessions on the radial Pennes solver (Physics I ``bioheat_radial``): a fixed amplitude, or (default,
   ``field_control="clinical"``) the amplitude raised in steps from a low start until the thermometry
   reading reaches ``target_temperature_C``, the patient's tolerance ceiling (drawn per patient from the
   body region's H*r range and the body radius), ``healthy_max_C`` or the per-session normal-tissue CEM43
   limit (``heat_delivery``; ``"margin_pi"`` keeps the PI control of the tumour margin). Eddy-current power
   heats every shell; the deposit covers ``deposit_coverage_fraction`` of the tumour with a per-shell
   lognormal iron concentration. Arrhenius heat damage per shell with HSP thermotolerance (Physics I
   ``thermotolerance``; co-agents / GOx scale HSP expression);
3. Fenton/CDT chemistry and ferroptosis (this layer, numba fast path) driven by the shells' temperature
   histories over the exposure window (21 days from the first session by default, ``chemistry.toml``);
   the particle deposit is divided into ``CHEMISTRY_GROUPS`` equal-volume radial groups, each run on its
   volume-mean temperature history;
4. radiotherapy (LQ with a per-patient alpha drawn over the indication's range, repopulation, thermal
   radiosensitisation per shell and fraction, evaluated at min(T, 43 C): heat above the cap kills directly);
5. combination to tumour-level log10 kill by mechanism (:mod:`mhtcdt.physics.kill`); a share of the
   clonogens infiltrates beyond the enhancing volume (``infiltrative_clonogen_fraction`` per indication,
   radiobiology.toml) and receives RT only, which caps what heat and CDT can add.

CDT has no clinical evidence: ``log10_kill_cdt`` is the consequence of scenario assumptions
(data/chemistry.toml, data/agents.toml). Without ``cdt_agent`` the particle iron is not given any Fenton
role (the NanoTherm clinical arm is calibrated as heat + RT); the chemistry columns then report the
endogenous chemistry at the heated tumour temperature.

Returned DataFrame (one row per input patient, same order; contract section 2)
-----------------------------------------------------------------------------
patient_id int64; t90_C, t50_C, t10_C float64 [C] (first session, volume percentiles of shell peak
temperatures; 37.0 without heat); cem43_t90_min float64 [min] (sum over sessions of CEM43 of the T90
history); max_healthy_C float64 [C] (max over sessions; 37.0 without heat); field_kA_per_m_applied
float64 [kA/m] (mean over sessions of the mean amplitude while heating; 0 without field);
oh_cumulative_uM_min float64 [uM*min] (integral of [.OH], deposit-volume mean over the chemistry groups,
or the tumour mean without particles); gsh_nadir_mM float64 [mM] (lowest over groups and time);
lipid_peroxide_peak float64 [uM lipid hydroperoxide per litre cell water] (highest over groups and time);
log10_kill_heat, log10_kill_cdt, log10_kill_rt, log10_kill_interaction, log10_kill_total float64 (>= 0,
sequential attribution RT -> heat -> CDT -> interaction, summing to the total; see kill.py);
surviving_fraction float64; safety_ok bool (False when the H*f limit was exceeded by explicit permission,
in fixed-amplitude mode when healthy tissue exceeded ``healthy_max_C``, when the hottest healthy cell's CEM43
in a session exceeded the normal-tissue limit, or when a patient with a metal implant or pacemaker (AMF
contraindications) received field sessions); dose_mg_Fe_per_cm3_applied float64 (0 without particles);
peak_tumour_C float64 (hottest tumour shell over the course); thermometry_max_C float64 (session maximum
of the hottest point of the simulated thermometry track: what the clinic reports as the maximum
intratumoral temperature); thermometry_min_C float64 (coolest track point at the end of the first
session's heating); healthy_cem43_max_min float64 (CEM43 of the hottest healthy cell, largest session
[min]); healthy_cem43_course_min float64 (the same summed over the course); field_ceiling_kA_per_m float64
(the patient's tolerated amplitude; 0 without clinical control); field_stop_reason str (why the amplitude
stopped rising, most sessions: ``heat_delivery.STOP_REASONS``; ``"no_field"`` without heat). Without heat
the temperatures are 37.0 and the doses 0.

Deterministic for a seed and independent of chunking: the random draws (SLP factor, infiltrative clonogen
share, radiosensitivity alpha, tolerance ceiling, thermometry track, deposit heterogeneity) come from
generators keyed by (seed, stream, patient_id) (:func:`mhtcdt.seeding.child_rng`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf
from mhtcdt.physics import kill as kl
from mhtcdt.physics import radiotherapy as rt
from mhtcdt.physics.assumptions import DEFAULT_ASSUMPTIONS, Assumptions
from mhtcdt.physics.protocol import Protocol
from mhtcdt.physics.session import SessionTiming
from mhtcdt.seeding import child_rng, root_sequence

CHEMISTRY_GROUPS = 3
COOLDOWN_S = 900.0
HEAT_DT_S = 10.0
RECORD_EVERY_S = 120.0
CELLS_IN_TUMOUR = 12
CHUNK_PATIENTS = 2000
_STREAM_SLP = 1
_STREAM_INFILTRATION = 2
_STREAM_RADIOSENSITIVITY = 3

REQUIRED_COLUMNS = (
    "patient_id",
    "tumour_radius_cm",
    "tumour_volume_cm3",
    "deposit_coverage_fraction",
    "tumour_perfusion_mL_per_min_per_kg",
    "h2o2_production_uM_per_s",
    "gsh_mM",
    "ph_extracellular",
    "tissue",
)
OUTPUT_COLUMNS = (
    "patient_id",
    "t90_C",
    "t50_C",
    "t10_C",
    "cem43_t90_min",
    "max_healthy_C",
    "field_kA_per_m_applied",
    "oh_cumulative_uM_min",
    "gsh_nadir_mM",
    "lipid_peroxide_peak",
    "log10_kill_heat",
    "log10_kill_cdt",
    "log10_kill_rt",
    "log10_kill_interaction",
    "log10_kill_total",
    "surviving_fraction",
    "safety_ok",
    "dose_mg_Fe_per_cm3_applied",
    "peak_tumour_C",
    "thermometry_max_C",
    "thermometry_min_C",
    "healthy_cem43_max_min",
    "healthy_cem43_course_min",
    "field_ceiling_kA_per_m",
    "field_stop_reason",
)


# ---------------------------------------------------------------------- inputs
def check_patients(patients: pd.DataFrame) -> None:
    """InputError naming the column and row for a missing column or a value outside its physical range."""
    if not isinstance(patients, pd.DataFrame):
        raise InputError("patients", type(patients).__name__, "must be a pandas DataFrame")
    missing = [c for c in REQUIRED_COLUMNS if c not in patients.columns]
    if missing:
        raise InputError("patients", missing, f"missing columns; required: {list(REQUIRED_COLUMNS)}")
    bounds = {
        "ph_extracellular": (3.0, 9.0, "pH must lie in [3, 9]"),
        "gsh_mM": (0.0, 50.0, "intracellular GSH must lie in [0, 50] mM"),
        "h2o2_production_uM_per_s": (0.0, 1000.0, "H2O2 production must lie in [0, 1000] uM/s"),
        "deposit_coverage_fraction": (1e-6, 1.0, "coverage must lie in (0, 1]"),
        "tumour_radius_cm": (1e-3, 50.0, "tumour radius must lie in (0, 50] cm"),
        # NaN or negative volumes were accepted (issue 19); 50 cm radius -> 523,599 cm3
        "tumour_volume_cm3": (4.2e-9, 523_599.0, "tumour volume must lie in (0, 523,599] cm3 (radius up to 50 cm)"),
        "tumour_perfusion_mL_per_min_per_kg": (1e-3, 1e5, "perfusion must be > 0"),
    }
    if HEAT_TARGET_COLUMN in patients.columns:
        bounds[HEAT_TARGET_COLUMN] = (4.2e-9, 523_599.0, "deposit target volume must lie in (0, 523,599] cm3")
    for col, (lo, hi, msg) in bounds.items():
        v = patients[col].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise InputError(f"patients.{col}[{i}]", float(v[i]), msg)


def _typical_dose_mg_per_cm3(agent: str) -> float:
    a = ch.agent_table()["agents"][agent]
    return float(np.mean(a["typical_dose_mL_per_cm3"]) * a["iron_concentration_mg_per_mL"])


# ---------------------------------------------------------------------- cohort simulation
def simulate_protocol(
    patients: pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    *,
    progress: Callable[[float], None] | None = None,
    assumptions: Assumptions | None = None,
) -> pd.DataFrame:
    """Simulate ``protocol`` for every patient; one row per patient (see the module docstring).

    ``assumptions`` (keyword, optional) changes uncertain model inputs for scenarios and sensitivity runs.
    """
    assumptions = check_call(protocol, assumptions)
    check_patients(patients)
    n = len(patients)
    parts = []
    for start in range(0, n, CHUNK_PATIENTS):
        parts.append(simulate_chunk(patients.iloc[start : start + CHUNK_PATIENTS], protocol, seed, assumptions))
        if progress is not None:
            progress(min(1.0, (start + CHUNK_PATIENTS) / max(n, 1)))
    if not parts:
        dtypes = {"safety_ok": "bool", "field_stop_reason": "object"}
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in OUTPUT_COLUMNS}).astype(
            {"patient_id": "int64"}
        )
    out = pd.concat(parts, ignore_index=True)
    check_finite(out, "simulate_protocol")
    return out


def check_call(protocol: Protocol, assumptions: Assumptions | None) -> Assumptions:
    """The assumptions to use (the defaults for None); InputError unless ``protocol`` is a :class:`Protocol` and
    ``assumptions`` an :class:`Assumptions`."""
    if not isinstance(protocol, Protocol):
        raise InputError("protocol", type(protocol).__name__, "must be a mhtcdt.physics.Protocol")
    assumptions = DEFAULT_ASSUMPTIONS if assumptions is None else assumptions
    if not isinstance(assumptions, Assumptions):
        raise InputError("assumptions", type(assumptions).__name__, "must be a mhtcdt.physics.Assumptions")
    return assumptions


_NORMALS_CACHE: OrderedDict = OrderedDict()
_NORMALS_CACHE_SIZE = 256


def patient_normals(seed: int | np.random.SeedSequence, stream: int, patient_ids) -> np.ndarray:
    """One standard normal per patient from ``child_rng(seed, stream, patient_id)`` (float64, input order).

    The draws of a (seed, stream, patients) triple are cached (the last 256), so solves and recombinations
    of the same patients (dose planning, emulators of the chain) do not rebuild a generator per patient."""
    ids = np.asarray(patient_ids, dtype=np.int64)
    root = root_sequence(seed)
    key = (repr(root.entropy), tuple(root.spawn_key), root.pool_size, int(stream), ids.tobytes())
    hit = _NORMALS_CACHE.get(key)
    if hit is None:
        hit = np.array([child_rng(root, stream, int(i)).standard_normal() for i in ids], dtype=np.float64)
        _NORMALS_CACHE[key] = hit
        while len(_NORMALS_CACHE) > _NORMALS_CACHE_SIZE:
            _NORMALS_CACHE.popitem(last=False)
    return hit.copy()


def slp_factors(gsd: float, seed: int | np.random.SeedSequence, patient_ids: np.ndarray) -> np.ndarray:
    """Per-patient multiplicative factor on the calibrated SLP: lognormal with median 1 and geometric SD
    ``gsd`` (the agent's calibration uncertainty), keyed by (seed, SLP stream, patient_id)."""
    log_gsd = math.log(gsd)
    return np.array([math.exp(log_gsd * z) for z in patient_normals(seed, _STREAM_SLP, patient_ids)])


def session_timing(protocol: Protocol, record_every_s: float = RECORD_EVERY_S) -> SessionTiming:
    """The solver clock of the protocol's heat sessions: field on for ``session_minutes``, ``COOLDOWN_S`` of
    recorded cooling, ``HEAT_DT_S`` steps, histories every ``record_every_s`` [s]."""
    return SessionTiming(protocol.session_minutes * 60.0, COOLDOWN_S, HEAT_DT_S, record_every_s)


def check_finite(out: pd.DataFrame, caller: str) -> None:
    """ModelError naming ``caller`` and the column if any numeric output column holds a non-finite value."""
    for col in OUTPUT_COLUMNS:
        if col not in ("patient_id", "safety_ok", "field_stop_reason") and not np.all(np.isfinite(out[col].to_numpy())):
            raise ModelError(f"{caller} produced non-finite values in column {col}")


def heat_sessions(
    p: pd.DataFrame,
    protocol: Protocol,
    dose: np.ndarray,
    seed: int | np.random.SeedSequence,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
    record_every_s: float = RECORD_EVERY_S,
    keep_radial: bool = False,
) -> dict:
    """Run the heat sessions of every patient of a chunk (grouped by host tissue).

    ``record_every_s`` (a divisor of ``RECORD_EVERY_S``) samples the solver's histories more finely; the
    cohort quantities still use every ``RECORD_EVERY_S`` (the same samples, so the results do not change).
    ``keep_radial=True`` adds ``"radial"``: every :class:`RadialSessionsResult` array in patient order at
    the fine sampling, and ``"q_ref"``, the deposit heating at the calibration field [W/m3] (for
    :mod:`mhtcdt.physics.detail`)."""
    from mhtcdt.physics import heat_delivery as hd
    from mhtcdt.physics import particles
    from mhtcdt.physics.bioheat_radial import Heating, RadialGrid, RadialPatients, simulate_sessions_radial
    from mhtcdt.physics.field import max_field_within_limit_kA_per_m
    from mhtcdt.physics.tissue import load_tissue, tumour_tissue

    n = len(p)
    ids = p["patient_id"].to_numpy(np.int64)
    calib = particles.load_agent(protocol.agent).calibration
    exponent = calib.field_exponent if assumptions.slp_field_exponent is None else assumptions.slp_field_exponent
    factor = slp_factors(calib.gsd, seed, ids) * assumptions.slp_factor
    slp_ref = particles.calibrated_slp(calib, calib.field_ref_kA_per_m, protocol.field_freq_kHz) * factor
    coverage = fluid_limited_coverage(effective_coverage(p), dose, protocol.agent)
    q_ref = particles.volumetric_heating_W_per_m3(slp_ref, dose, coverage)
    perfusion = p["tumour_perfusion_mL_per_min_per_kg"].to_numpy(np.float64)  # factor applied at the boundary
    h_limit = max_field_within_limit_kA_per_m(protocol.field_freq_kHz, protocol.safety_limit)
    h_device = float(particles.load_magnetics()["nanotherm_applicator"]["field_max_kA_per_m"])
    h_max = h_device if protocol.allow_above_safety_limit else min(h_device, h_limit)
    fixed = None if protocol.titrated else float(protocol.field_kA_per_m)
    tissues = p["tissue"].astype(str).to_numpy()
    # per-patient delivery: tolerance ceiling, thermometry track, deposit heterogeneity, eddy heating
    draws = hd.patient_draws(seed, ids, CELLS_IN_TUMOUR)
    body_r = _body_radius_cm(p, tissues)
    if assumptions.tolerance_ceiling_kA_per_m is not None:
        ceiling = np.full(n, float(assumptions.tolerance_ceiling_kA_per_m))
    else:
        ceiling = hd.tolerance_ceilings_kA_per_m(
            tissues, body_r, protocol.field_freq_kHz, draws.u_ceiling, assumptions.tolerance_ceiling_scale
        )
    catheter = hd.thermometry_track_over_R(tissues, draws.u_catheter)
    sigma = (
        hd.deposit_sigma_ln()
        if assumptions.deposit_heterogeneity_sigma_ln is None
        else assumptions.deposit_heterogeneity_sigma_ln
    )
    shells = hd.deposit_shell_multipliers(draws.z_shells, sigma)
    eddy = hd.eddy_coefficient_W_per_m3_per_kA2(body_r, protocol.field_freq_kHz, assumptions.eddy_conductivity_S_per_m)
    cem_limit = np.array([_healthy_cem43_limit(protocol, assumptions, t) for t in tissues])
    results: dict[str, Any] = {}
    order = np.empty(0, dtype=np.int64)
    chunks = []
    for tissue in sorted(set(tissues)):
        idx = np.flatnonzero(tissues == tissue)
        control = _session_control(protocol, h_max, float(cem_limit[idx[0]]))
        heating = Heating(calib.field_ref_kA_per_m, exponent, field_kA_per_m=fixed, control=control)
        res = simulate_sessions_radial(
            RadialPatients(
                heated_radius_cm(p)[idx] / 100.0,
                coverage[idx],
                q_ref[idx],
                tumour_perfusion_mL_per_min_per_kg=perfusion[idx],
                field_ceiling_kA_per_m=ceiling[idx],
                catheter_radius_over_R=catheter[idx],
                eddy_W_per_m3_per_kA2=eddy[idx],
                deposit_shell_multipliers=shells[idx],
            ),
            tumour=tumour_tissue(tissue),
            healthy=load_tissue(tissue),
            heating=heating,
            n_sessions=protocol.n_sessions,
            timing=session_timing(protocol, record_every_s),
            grid=RadialGrid(cells_in_tumour=CELLS_IN_TUMOUR),
        )
        order = np.concatenate([order, idx])
        chunks.append(res)
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in chunks], axis=0)[inv]

    first = chunks[0]
    starts = protocol.session_start_hours()
    hsp_scale = _hsp_expression_scale(protocol)
    omega = cat("arrhenius_omega")[:, :, :CELLS_IN_TUMOUR]
    cem = cat("cem43_min")[:, :, :CELLS_IN_TUMOUR]
    sf_heat = heat_surviving_fraction(omega, cem, starts, hsp_scale, assumptions)
    stride = int(round(RECORD_EVERY_S / record_every_s))
    if stride < 1 or abs(stride * record_every_s - RECORD_EVERY_S) > 1e-9 * RECORD_EVERY_S:
        raise InputError("record_every_s", record_every_s, f"must divide {RECORD_EVERY_S} s")
    temps_fine = cat("tumour_temperature_C")
    temps = temps_fine[:, :, ::stride, :]  # (n, sessions, records, cells)
    rec_t = first.record_times_s[::stride]
    heating = rec_t <= protocol.session_minutes * 60.0 + 1e-9
    healthy_cem = cat("cem43_min")[:, :, CELLS_IN_TUMOUR:]  # (n, sessions, healthy cells)
    reasons = cat("stop_reason")
    results.update(
        peak_tumour=cat("peak_C")[:, :, :CELLS_IN_TUMOUR].max(axis=(1, 2)),
        thermometry_max=cat("thermometry_max_C").max(axis=1),
        thermometry_min=cat("thermometry_min_C")[:, 0],
        healthy_cem43_session=healthy_cem.max(axis=2).max(axis=1),
        healthy_cem43_course=healthy_cem.sum(axis=1).max(axis=1),
        healthy_cem43_limit=cem_limit,
        field_ceiling=ceiling if protocol.titrated and protocol.field_control == "clinical" else np.zeros(n),
        stop_reason=np.array([hd.STOP_REASONS[int(np.bincount(r).argmax())] for r in reasons], dtype=object),
        field_exponent=exponent,
        field_peak=cat("field_peak_kA_per_m").max(axis=1),
        t90=cat("t90_C")[:, 0],
        t50=cat("t50_C")[:, 0],
        t10=cat("t10_C")[:, 0],
        cem43_t90=cat("cem43_t90_min").sum(axis=1),
        max_healthy=cat("max_healthy_C").max(axis=1),
        field=cat("field_mean_kA_per_m").mean(axis=1),
        ln_s_heat=np.log(np.maximum(sf_heat, 1e-300)),
        omega=omega,  # per-session Arrhenius damage and CEM43 per tumour shell (n, sessions, cells): the
        cem=cem,  # thermotolerance preset acts on these after the solve (heat_log_survival)
        hsp_scale=hsp_scale,
        shell_weights=first.shell_volume_fraction,
        deposit_fraction=cat("deposit_fraction"),
        session_mean_C=temps[:, :, heating, :].mean(axis=2).transpose(0, 2, 1),  # (n, cells, sessions)
        temps=temps,
        record_times_s=rec_t,
        above_limit=(not protocol.titrated) and protocol.field_kA_per_m > h_limit * (1 + 1e-12),
    )
    if protocol.titrated and protocol.allow_above_safety_limit:
        results["above_limit"] = cat("field_mean_kA_per_m").max(axis=1) > h_limit * (1 + 1e-12)
    if keep_radial:
        per_patient = (
            "deposit_fraction baseline_C peak_C cem43_min arrhenius_omega t90_C t50_C t10_C cem43_t90_min "
            "max_healthy_C margin_peak_C field_mean_kA_per_m healthy_max_record_C field_record_kA_per_m "
            "thermometry_max_C thermometry_min_C thermometry_record_C stop_reason field_peak_kA_per_m"
        ).split()
        results["radial"] = {name: cat(name) for name in per_patient}
        results["radial"].update(
            tumour_temperature_C=temps_fine,
            record_times_s=first.record_times_s,
            face_radius_over_R=first.face_radius_over_R,
            cell_radius_over_R=first.cell_radius_over_R,
            shell_volume_fraction=first.shell_volume_fraction,
            cells_in_tumour=first.cells_in_tumour,
            dt_s=first.dt_s,
            hsp_expression_scale=hsp_scale,
            sf_heat=sf_heat,
        )
        results["q_ref"] = q_ref
        results["coverage"] = coverage  # as the solver used it (fluid_limited_coverage)
        results["eddy_coef"] = eddy
    return results


#: Optional cohort column: the volume the deposit is planned into [cm3] when it is larger than the tumour
#: (prostate: the whole gland, Johannsen 2005/2007). Absent: the tumour itself.
HEAT_TARGET_COLUMN = "deposit_target_volume_cm3"


def heated_radius_cm(p: pd.DataFrame) -> np.ndarray:
    """Radius [cm] of the sphere the heat solver treats as the target: the tumour's, or, where the cohort gives
    ``deposit_target_volume_cm3`` (the organ the deposit is planned into, e.g. the prostate gland), the
    volume-equivalent sphere of the larger of the two. The tumour's clonogens are then taken as spread over
    that target like its volume (its shells' kill is volume-weighted; recurrent prostate cancer after
    radiotherapy is not confined to one lesion)."""
    r = p["tumour_radius_cm"].to_numpy(np.float64)
    if HEAT_TARGET_COLUMN not in p.columns:
        return r
    v = np.maximum(p[HEAT_TARGET_COLUMN].to_numpy(np.float64), p["tumour_volume_cm3"].to_numpy(np.float64))
    return np.maximum(r, np.cbrt(3.0 * v / (4.0 * math.pi)))


def effective_coverage(p: pd.DataFrame) -> np.ndarray:
    """Deposit coverage of every patient as the solvers use it: ``deposit_coverage_fraction`` of ``p`` (as
    :func:`apply_assumption_factors` returns it, so ``coverage_factor`` has acted once) clipped to [1e-6, 1]."""
    return np.clip(p["deposit_coverage_fraction"].to_numpy(np.float64), 1e-6, 1.0)


def fluid_limited_coverage(coverage: np.ndarray, dose_mg_Fe_per_cm3: np.ndarray, agent: str) -> np.ndarray:
    """Deposit coverage no smaller than the volume of the injected fluid: ``max(c, dose / c_fluid)``.

    The mean iron concentration of the deposit, ``dose / c``, cannot exceed that of the undiluted magnetic
    fluid (``iron_concentration_mg_per_mL`` of the agent, 112 mg Fe/mL for NanoTherm): mass conservation,
    the deposit holds at least the injected volume. At 28 mg Fe per cm3 of target the floor is 0.25."""
    c_fluid = float(ch.agent_table()["agents"][agent]["iron_concentration_mg_per_mL"])
    floor = np.asarray(dose_mg_Fe_per_cm3, dtype=np.float64) / c_fluid
    return np.minimum(np.maximum(np.asarray(coverage, dtype=np.float64), floor), 1.0)


def _body_radius_cm(p: pd.DataFrame, tissues: np.ndarray) -> np.ndarray:
    """The cohort's ``body_radius_cm``, or the body region's typical radius when the column is absent."""
    from mhtcdt.physics.heat_delivery import default_body_radius_cm

    if "body_radius_cm" in p.columns:
        return p["body_radius_cm"].to_numpy(np.float64)
    return np.array([default_body_radius_cm(t) for t in tissues])


def _healthy_cem43_limit(protocol: Protocol, assumptions: Assumptions, tissue: str) -> float:
    """Per-session normal-tissue CEM43 limit [min]: the protocol's, else the assumption's, else the host
    tissue's sourced threshold (heat_delivery.toml [normal_tissue_dose])."""
    from mhtcdt.physics.heat_delivery import healthy_cem43_limit_min

    if protocol.healthy_cem43_limit_min is not None:
        return float(protocol.healthy_cem43_limit_min)
    if assumptions.healthy_cem43_limit_min is not None:
        return float(assumptions.healthy_cem43_limit_min)
    return healthy_cem43_limit_min(tissue)


def _session_control(protocol: Protocol, h_max: float, cem43_limit_min: float):
    """The :class:`~mhtcdt.physics.session.SessionControl` of a protocol: fixed amplitude, clinical stepwise
    control (heat_delivery.toml [clinical_control]) or PI control of the tumour margin."""
    from mhtcdt.physics.heat_delivery import clinical_control
    from mhtcdt.physics.session import SessionControl

    if not protocol.titrated:
        return SessionControl(mode="fixed")
    if protocol.field_control == "clinical":
        c = clinical_control()
        return SessionControl(
            mode="clinical",
            target_C=protocol.target_temperature_C,
            healthy_max_C=protocol.healthy_max_C,
            field_min_kA_per_m=min(c.start_kA_per_m, h_max),
            field_max_kA_per_m=h_max,
            control_interval_s=c.step_interval_s,
            step_kA_per_m=c.step_kA_per_m,
            target_band_K=c.target_band_K,
            healthy_cem43_limit_min=cem43_limit_min,
        )
    return SessionControl(
        mode="titrate",
        target_C=protocol.target_temperature_C,
        healthy_max_C=protocol.healthy_max_C,
        field_min_kA_per_m=min(2.0, h_max),
        field_max_kA_per_m=h_max,
    )


def _hsp_expression_scale(protocol: Protocol) -> float:
    agents = ch.agent_table()
    scale = 1.0
    for co in protocol.co_agents:
        scale *= agents["co_agents"][co]["hsp_induction_factor"]
    for a in {protocol.agent, protocol.cdt_agent} - {None}:
        scale *= agents["agents"][a]["hsp_induction_factor"]
    return float(scale)


def heat_surviving_fraction(
    omega: np.ndarray, cem: np.ndarray, starts_h: np.ndarray, hsp_scale: float, assumptions: Assumptions
) -> np.ndarray:
    """Per-shell heat surviving fraction (n, cells) from the per-session damage ``omega`` and ``cem``
    (n, sessions, cells) with the thermotolerance of ``assumptions`` (:mod:`mhtcdt.physics.thermotolerance`)."""
    from mhtcdt.physics import thermotolerance

    model = (
        None
        if assumptions.thermotolerance == "none"
        else thermotolerance.thermotolerance_preset(assumptions.thermotolerance)
    )
    return thermotolerance.heat_surviving_fraction_with_tolerance(omega, cem, starts_h, model, hsp_scale)


def heat_log_survival(heat: dict, protocol: Protocol, assumptions: Assumptions) -> np.ndarray:
    """ln of the per-shell heat surviving fraction (n, cells) of solved heat sessions (:func:`heat_sessions`)
    under the thermotolerance of ``assumptions``: the preset acts on the stored per-session damage, so it can
    change after the solve."""
    sf = heat_surviving_fraction(
        heat["omega"], heat["cem"], protocol.session_start_hours(), heat["hsp_scale"], assumptions
    )
    return np.log(np.maximum(sf, 1e-300))


def apply_assumption_factors(patients: pd.DataFrame, assumptions: Assumptions) -> pd.DataFrame:
    """The patients as the chain sees them under ``assumptions``: deposit coverage with its odds multiplied by
    ``coverage_factor`` (``c' = k c / (1 + (k - 1) c)``) and tumour perfusion times ``perfusion_factor``.
    Factors of 1 return the input unchanged (the data files' model)."""
    k_cov, k_perf = assumptions.coverage_factor, assumptions.perfusion_factor
    if k_cov == 1.0 and k_perf == 1.0:
        return patients
    out = patients.copy()
    c = patients["deposit_coverage_fraction"].to_numpy(np.float64)
    out["deposit_coverage_fraction"] = k_cov * c / (1.0 + (k_cov - 1.0) * c)
    out["tumour_perfusion_mL_per_min_per_kg"] = (
        patients["tumour_perfusion_mL_per_min_per_kg"].to_numpy(np.float64) * k_perf
    )
    return out


def _chemistry_histories(
    heat: dict, protocol: Protocol, n: int, groups: int
) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Per (patient, group) temperature histories over the exposure window, the element -> group map and the
    group volume weights. Without heat: one 37 C history per patient and group.

    The deposit's shells (volume weight x deposit fraction) are split into ``groups`` equal-weight radial
    groups by the cumulative weight at each shell's middle; a group's history is the weighted mean of its
    shells' histories (37 C for a group without deposit). Vectorised over patients."""
    window_h = ch.chemistry_parameters()["cdt_kill"]["exposure_window_days"] * 24.0
    starts_h = protocol.session_start_hours() if heat else np.zeros(0)
    if not heat:
        tn = np.array([0.0, window_h * 3600.0])
        flat = np.array([ch.BODY_TEMPERATURE_C, ch.BODY_TEMPERATURE_C])
        return (
            [tn] * (n * groups),
            [flat] * (n * groups),
            np.zeros((n, 0), dtype=np.int64),
            np.full((n, groups), 1.0 / groups),
        )
    rec = heat["record_times_s"]
    last_end_h = starts_h[-1] + rec[-1] / 3600.0
    end_s = max(window_h, last_end_h + 1.0) * 3600.0
    temps = heat["temps"]  # (n, sessions, records, cells)
    wd = heat["shell_weights"][None, :] * heat["deposit_fraction"]  # (n, cells)
    total = wd.sum(axis=1, keepdims=True)
    cum_mid = (np.cumsum(wd, axis=1) - 0.5 * wd) / total
    group_of_cell = np.minimum((cum_mid * groups).astype(np.int64), groups - 1)
    gweights = np.zeros((n, groups))
    hist = np.full((n, groups, temps.shape[1] * temps.shape[2] + 1), ch.BODY_TEMPERATURE_C)
    for k in range(groups):
        wk = np.where((group_of_cell == k) & (wd > 0), wd, 0.0)  # (n, cells)
        gweights[:, k] = wk.sum(axis=1)
        has = gweights[:, k] > 0
        mean = np.einsum("nsrc,nc->nsr", temps[has], wk[has]) / gweights[has, k][:, None, None]
        hist[has, k, :-1] = mean.reshape(mean.shape[0], -1)
        hist[has, k, -1] = mean[:, 0, 0]  # back to the pre-session baseline at the end of the window
    tn = np.concatenate([(starts_h[:, None] * 3600.0 + rec[None, :]).ravel(), [end_s]])
    flat = hist.reshape(n * groups, -1)
    return [tn] * (n * groups), list(flat), group_of_cell, gweights


def _run_chemistry(
    p: pd.DataFrame, protocol: Protocol, heat: dict | None, particle_mM: np.ndarray, overrides: dict | None = None
) -> dict:
    """The chemistry of every (patient, deposit group) on the fast path.

    The radical chemistry runs at the cytosolic pH of the data file (``cytosol.pH`` or its override) for every
    patient: tumour cells regulate their intracellular pH (7.2-7.4) whatever the extracellular pH, which enters
    no chemistry term (data/chemistry.toml header). Per patient: GSH and H2O2 production (cohort columns)."""
    n = len(p)
    agent = protocol.cdt_agent
    # radial groups only matter when the deposit is heated non-uniformly
    groups = CHEMISTRY_GROUPS if (agent is not None and heat is not None) else 1
    template = ch.ChemistryConditions(agent=agent, co_agents=tuple(protocol.co_agents), overrides=dict(overrides or {}))
    k_ref, ea, t_refs, s0 = ch.pack_parameters(template)
    s = np.repeat(s0[None, :], n, axis=0)
    gsh = p["gsh_mM"].to_numpy(np.float64)
    h2o2 = p["h2o2_production_uM_per_s"].to_numpy(np.float64)
    s[:, ch.P_GSH_POOL0] = gsh * 1e-3 * (s0[ch.P_GSH_POOL0] / (template.gsh_mM * 1e-3))
    s[:, ch.P_H2O2_PROD] = h2o2 * 1e-6 + (s0[ch.P_H2O2_PROD] - template.h2o2_production_uM_per_s * 1e-6)
    s[:, ch.P_P_BASAL] = ch.basal_peroxidised_fraction(k_ref, ea, t_refs, s, gsh * 1e-3, h2o2 * 1e-6)
    if heat is not None and agent is None:
        # endogenous chemistry at the tumour's volume-mean temperature
        heat_one = dict(heat)
        heat_one["deposit_fraction"] = np.ones_like(heat["deposit_fraction"])
        t_nodes, t_temps, _, _ = _chemistry_histories(heat_one, protocol, n, 1)
        gmap, gw = np.zeros((n, 0), dtype=np.int64), np.ones((n, 1))
    else:
        t_nodes, t_temps, gmap, gw = _chemistry_histories(heat or {}, protocol, n, groups)
    m = n * groups
    rows = np.repeat(np.arange(n), groups)
    prepared = {"t_nodes": t_nodes, "t_temps": t_temps}
    kr = np.repeat(k_ref[None, :], m, axis=0)
    eam = np.repeat(ea[None, :], m, axis=0)
    trm = np.repeat(t_refs[None, :], m, axis=0)
    sm = s[rows]
    y0 = cf.fast_initial_states(ch.initial_states(k_ref, ea, t_refs, s, 0.0)[rows])  # one steady state per patient
    y0[:, cf.F_FEP] = particle_mM[rows] * 1e-3
    prepared.update(k_ref=kr, ea=eam, t_refs=trm, s=sm, y0=y0)
    raw = cf.run_prepared(kr, eam, trm, sm, y0, t_nodes, t_temps)
    yend = raw["final_state"].reshape(n, groups, cf.N_FAST)
    gw_norm = gw / np.maximum(gw.sum(axis=1, keepdims=True), 1e-300)
    return {
        "omega_f": yend[:, :, cf.F_OMF],
        "omega_i": yend[:, :, cf.F_OMI],
        "group_of_cell": gmap,
        "oh_uM_min": (yend[:, :, cf.F_OHC] / ch.OH_CUM_SCALE * 1e6 / 60.0 * gw_norm).sum(axis=1),
        "ferryl_uM_min": (yend[:, :, cf.F_FEOC] / ch.FEO_CUM_SCALE * 1e6 / 60.0 * gw_norm).sum(axis=1),
        "gsh_nadir_mM": raw["gsh_min"].reshape(n, groups).min(axis=1) * 1e3,
        "looh_peak_uM": raw["looh_max"].reshape(n, groups).max(axis=1) * 1e6,
        "fe2_peak_uM": raw["fe2_max"].reshape(n, groups).max(axis=1) * 1e6,
        "groups": groups,
        "group_weights": gw_norm,
        "prepared": prepared,  # the packed runs (row i * groups + g), for mhtcdt.physics.detail
    }


def _particle_iron_mM(protocol: Protocol, dose_heat: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Internalised CDT-agent iron per litre of cell water inside the deposit [mM]."""
    if protocol.cdt_agent is None:
        return np.zeros_like(coverage)
    a = ch.agent_table()["agents"][protocol.cdt_agent]
    if protocol.cdt_agent == protocol.agent or protocol.agent is None:
        dose = (
            dose_heat
            if protocol.np_dose_mg_Fe_per_cm3 is None and protocol.agent
            else np.full_like(coverage, protocol.np_dose_mg_Fe_per_cm3 or _typical_dose_mg_per_cm3(protocol.cdt_agent))
        )
    else:
        dose = np.full_like(coverage, _typical_dose_mg_per_cm3(protocol.cdt_agent))
    # mg/cm3 = g/L; spread over the deposit; a fraction internalised by the tumour cells
    return dose / coverage / ch.FE_MOLAR_MASS_G_PER_MOL * 1e3 * a["internalised_fraction"]


def simulate_chunk(
    p: pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    assumptions: Assumptions,
    *,
    record_every_s: float = RECORD_EVERY_S,
    capture: dict | None = None,
) -> pd.DataFrame:
    """One chunk of :func:`simulate_protocol`: :func:`solve_stages` then :func:`combine_stage`. ``capture`` (a
    dict) receives the intermediate results (``heat`` with the radial histories sampled every
    ``record_every_s``, ``chem``, ``dose``, ``particle_mM``) for the single-patient detail API; neither
    argument changes the returned rows."""
    p = apply_assumption_factors(p, assumptions)
    solved = solve_stages(
        p, protocol, seed, assumptions, record_every_s=record_every_s, keep_radial=capture is not None
    )
    if capture is not None:
        capture.update(solved)
    return combine_stage(p, protocol, seed, assumptions, solved)


def solve_stages(
    p: pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    assumptions: Assumptions,
    *,
    record_every_s: float = RECORD_EVERY_S,
    keep_radial: bool = False,
    reuse: dict | None = None,
    stages: tuple[str, ...] = ("heat", "chemistry"),
) -> dict:
    """The solves of a chunk (``p`` as :func:`apply_assumption_factors` returns it): iron dose (planned or
    fixed) and heat sessions (bioheat, titration, per-session damage): stage ``"heat"``; Fenton/ferroptosis
    chemistry: stage ``"chemistry"``.

    Returns ``{"dose", "heat", "particle_mM", "chem"}`` for :func:`combine_stage`. A stage missing from
    ``stages`` is taken from ``reuse`` (an earlier result for the same patients) instead of being solved: an
    emulator of the chain re-solves only what an input changes (the thermotolerance preset, thermal
    radiosensitisation and the infiltrative share act only in :func:`combine_stage`)."""
    unknown = sorted(set(stages) - {"heat", "chemistry"})
    if unknown or (reuse is None and set(stages) != {"heat", "chemistry"}):
        raise InputError("stages", stages, "solve 'heat' and/or 'chemistry'; reuse the others from an earlier result")
    n = len(p)
    coverage = effective_coverage(p)
    if "heat" not in stages:
        dose, heat = reuse["dose"], reuse["heat"]
    else:
        if protocol.agent is not None:
            if protocol.np_dose_mg_Fe_per_cm3 is None and not protocol.has_mht:
                dose = np.full(n, _typical_dose_mg_per_cm3(protocol.agent))  # nothing to plan without heat
            elif protocol.np_dose_mg_Fe_per_cm3 is None:
                from mhtcdt.physics.planning import plan_dose

                dose = plan_dose(p, protocol, seed, assumptions=assumptions)["dose_mg_Fe_per_cm3"].to_numpy(np.float64)
            else:
                dose = np.full(n, float(protocol.np_dose_mg_Fe_per_cm3))
        else:
            dose = np.zeros(n)
        heat = (
            heat_sessions(p, protocol, dose, seed, assumptions, record_every_s, keep_radial=keep_radial)
            if protocol.has_mht
            else None
        )
    if protocol.agent is not None:
        coverage = fluid_limited_coverage(coverage, dose, protocol.agent)
    particle_mM = _particle_iron_mM(protocol, dose, coverage)
    chem = (
        _run_chemistry(p, protocol, heat, particle_mM, assumptions.chemistry_overrides)
        if "chemistry" in stages
        else reuse["chem"]
    )
    return {"dose": dose, "heat": heat, "particle_mM": particle_mM, "chem": chem}


def combine_stage(
    p: pd.DataFrame, protocol: Protocol, seed: int | np.random.SeedSequence, assumptions: Assumptions, solved: dict
) -> pd.DataFrame:
    """The output rows of a chunk from its solves (:func:`solve_stages`): thermotolerance on the per-session
    heat damage, radiotherapy with thermal radiosensitisation, the infiltrative clonogens and the combined
    kill by mechanism (:mod:`mhtcdt.physics.kill`). Cheap: an emulator may call it for several
    thermotolerance presets, thermal-enhancement factors or infiltrative shares of one solve."""
    n = len(p)
    coverage = effective_coverage(p)
    dose, heat, chem = solved["dose"], solved["heat"], solved["chem"]
    rb = rt.radiobiology(_indication(p))
    if heat is not None:
        cells = heat["shell_weights"].shape[0]
        dep = heat["deposit_fraction"]
        weights = np.concatenate([heat["shell_weights"] * dep, heat["shell_weights"] * (1 - dep)], axis=1)
        ln_s_heat = heat_log_survival(heat, protocol, assumptions)
        ln_heat = np.concatenate([ln_s_heat, ln_s_heat], axis=1)
        mean_c = np.concatenate([heat["session_mean_C"], heat["session_mean_C"]], axis=1)
        ln_rt37, ln_rt_h = _rt_log_survival(p, protocol, rb, seed, assumptions, mean_c)
        ln_cdt = np.zeros((n, 2 * cells))
        ln_ros = np.zeros((n, 2 * cells))
        if chem["groups"] > 1:
            g = chem["group_of_cell"]
            rows = np.arange(n)[:, None]
            ln_cdt[:, :cells] = -chem["omega_f"][rows, g]
            ln_ros[:, :cells] = -chem["omega_i"][rows, g]
        else:
            ln_cdt[:] = -chem["omega_f"][:, :1]
            ln_ros[:] = -chem["omega_i"][:, :1]
        t90, t50, t10 = heat["t90"], heat["t50"], heat["t10"]
        cem, hmax, field = heat["cem43_t90"], heat["max_healthy"], heat["field"]
        safety_ok = np.ones(n, dtype=bool) & ~np.broadcast_to(heat["above_limit"], (n,))
        if not protocol.titrated:
            safety_ok &= hmax <= protocol.healthy_max_C + 0.05
        # normal-tissue thermal dose: the hottest healthy cell's CEM43 in any session within the limit
        safety_ok &= heat["healthy_cem43_session"] <= heat["healthy_cem43_limit"] * (1.0 + 1e-6)
        delivery = {
            "peak_tumour_C": heat["peak_tumour"],
            "thermometry_max_C": heat["thermometry_max"],
            "thermometry_min_C": heat["thermometry_min"],
            "healthy_cem43_max_min": heat["healthy_cem43_session"],
            "healthy_cem43_course_min": heat["healthy_cem43_course"],
            "field_ceiling_kA_per_m": heat["field_ceiling"],
            "field_stop_reason": heat["stop_reason"],
        }
        for contraindication in ("metal_implant", "pacemaker"):  # AMF contraindications (cohort columns)
            if contraindication in p.columns:
                safety_ok &= ~p[contraindication].to_numpy(dtype=bool)
    else:
        groups = chem["groups"]
        gw = np.full((n, groups), 1.0 / groups)
        weights = np.concatenate([coverage[:, None] * gw, (1 - coverage)[:, None]], axis=1)
        e = groups + 1
        ln_heat = np.zeros((n, e))
        ln_rt37, _ = _rt_log_survival(p, protocol, rb, seed, assumptions, None)
        ln_rt_h = np.repeat(ln_rt37[:, None], e, axis=1)
        ln_cdt = np.zeros((n, e))
        ln_ros = np.zeros((n, e))
        ln_cdt[:, :groups] = -chem["omega_f"]
        ln_ros[:, :groups] = -chem["omega_i"]
        if protocol.cdt_agent is None:  # endogenous ferroptosis acts on the whole tumour
            ln_cdt[:, groups] = -chem["omega_f"][:, 0]
            ln_ros[:, groups] = -chem["omega_i"][:, 0]
        t90 = t50 = t10 = np.full(n, ch.BODY_TEMPERATURE_C)
        cem = np.zeros(n)
        hmax = np.full(n, ch.BODY_TEMPERATURE_C)
        field = np.zeros(n)
        safety_ok = np.ones(n, dtype=bool)
        delivery = {name: np.full(n, ch.BODY_TEMPERATURE_C) for name in ("peak_tumour_C", "thermometry_max_C")}
        delivery.update(
            thermometry_min_C=np.full(n, ch.BODY_TEMPERATURE_C),
            healthy_cem43_max_min=np.zeros(n),
            healthy_cem43_course_min=np.zeros(n),
            field_ceiling_kA_per_m=np.zeros(n),
            field_stop_reason=np.full(n, "no_field", dtype=object),
        )
    weights, ln_heat, ln_cdt, ln_rt_h, ln_ros = _add_infiltrative_element(
        _infiltrative_fraction(p, rb, seed, assumptions.infiltrative_clonogen_fraction),
        weights,
        ln_rt37,
        ln_heat,
        ln_cdt,
        ln_rt_h,
        ln_ros,
    )
    kills = kl.combine_kill(weights, ln_rt37, ln_heat, ln_cdt, ln_rt_h, ln_ros)
    has_particles = protocol.agent is not None or protocol.cdt_agent is not None
    dose_applied = (
        dose
        if protocol.agent is not None
        else (
            np.full(n, protocol.np_dose_mg_Fe_per_cm3 or _typical_dose_mg_per_cm3(protocol.cdt_agent))
            if has_particles
            else np.zeros(n)
        )
    )
    out = pd.DataFrame(
        {
            "patient_id": p["patient_id"].to_numpy(np.int64),
            "t90_C": np.asarray(t90, np.float64),
            "t50_C": np.asarray(t50, np.float64),
            "t10_C": np.asarray(t10, np.float64),
            "cem43_t90_min": np.asarray(cem, np.float64),
            "max_healthy_C": np.asarray(hmax, np.float64),
            "field_kA_per_m_applied": np.asarray(field, np.float64),
            "oh_cumulative_uM_min": chem["oh_uM_min"],
            "gsh_nadir_mM": chem["gsh_nadir_mM"],
            "lipid_peroxide_peak": chem["looh_peak_uM"],
            **kills,  # the log10 kill by mechanism, total and surviving fraction (kill.combine_kill)
            "safety_ok": np.asarray(safety_ok, dtype=bool),
            "dose_mg_Fe_per_cm3_applied": np.asarray(dose_applied, np.float64),
            **delivery,
        }
    )
    return out[list(OUTPUT_COLUMNS)]


def _patient_alpha(p: pd.DataFrame, rb: rt.Radiobiology, seed, assumptions: Assumptions) -> np.ndarray:
    """Per-patient alpha [1/Gy]: normal around the indication's alpha with its range as the central 95 %
    interval (inter-patient radiosensitivity, as in population TCP models; Webb & Nahum 1993), alpha/beta
    fixed, keyed by (seed, patient_id). ``assumptions.rt_alpha_heterogeneity=False`` uses alpha for all."""
    if not assumptions.rt_alpha_heterogeneity or rb.alpha_range_per_Gy[1] <= rb.alpha_range_per_Gy[0]:
        return np.full(len(p), rb.alpha_per_Gy)
    sd = (rb.alpha_range_per_Gy[1] - rb.alpha_range_per_Gy[0]) / (2 * 1.959963984540054)
    z = patient_normals(seed, _STREAM_RADIOSENSITIVITY, p["patient_id"].to_numpy())
    return np.clip(rb.alpha_per_Gy + sd * z, 0.2 * rb.alpha_per_Gy, 3.0 * rb.alpha_per_Gy)


def _rt_log_survival(p, protocol: Protocol, rb: rt.Radiobiology, seed, assumptions: Assumptions, mean_c):
    """(ln S_rt at 37 C (n,), ln S_rt heated (n, elements) or None) with per-patient alpha and beta.

    ln S is linear in (alpha, beta) once the heat modulation is fixed: ln S = alpha A + beta B + R, so the
    schedule is evaluated three times with unit coefficients and combined per patient."""
    n = len(p)
    if not protocol.has_rt:
        return np.zeros(n), None if mean_c is None else np.zeros(mean_c.shape[:2])
    alpha = _patient_alpha(p, rb, seed, assumptions)
    beta = alpha / rb.alpha_beta_Gy
    kwargs = {}
    if mean_c is not None:
        kwargs = dict(
            element_session_mean_C=mean_c,
            session_start_hours=protocol.session_start_hours(),
            session_hours=protocol.session_minutes / 60.0,
            rt_heat_interval_hours=protocol.rt_heat_interval_hours,
        )
    trs = thermal_radiosensitisation(assumptions)

    def run(a: float, b: float):
        unit = rt.Radiobiology(a, b, rb.doubling_time_days, rb.repopulation_kickoff_days)
        return rt.rt_log_survival_elements(
            protocol.rt_total_dose_Gy, protocol.rt_n_fractions, protocol.rt_fractions_per_week, unit, trs=trs, **kwargs
        )

    r37, rh = run(0.0, 0.0)
    a37, ah = run(1.0, 0.0)
    b37, bh = run(0.0, 1.0)
    ln37 = alpha * (a37 - r37) + beta * (b37 - r37) + r37
    if mean_c is None:
        return ln37, None
    lnh = alpha[:, None] * (ah - rh) + beta[:, None] * (bh - rh) + rh
    return ln37, lnh


def thermal_radiosensitisation(assumptions: Assumptions) -> rt.Thermoradiosensitisation:
    """The data file's thermal radiosensitisation, capped at ``assumptions.thermal_enhancement_cap_C`` (None = the
    data file's cap), with its exponent scaled by ``assumptions.thermal_enhancement_factor`` s:
    ``(alpha41/alpha37)^(s x) = ((alpha41/alpha37)^s)^x``."""
    trs = rt.thermoradiosensitisation(assumptions.thermal_enhancement_cap_C)
    s = assumptions.thermal_enhancement_factor
    if s == 1.0:
        return trs
    return dataclasses.replace(
        trs, alpha41_over_alpha37=trs.alpha41_over_alpha37**s, beta41_over_beta37=trs.beta41_over_beta37**s
    )


def _infiltrative_fraction(p: pd.DataFrame, rb: rt.Radiobiology, seed, median: float | None = None) -> np.ndarray:
    """Per-patient share of clonogens beyond the enhancing volume: lognormal with the indication's median
    and its range as the central 95 % interval (radiobiology.toml), keyed by (seed, patient_id)."""
    return infiltrative_fractions(p, seed, [median], rb)[0]


def infiltrative_fractions(p: pd.DataFrame, seed, medians, rb: rt.Radiobiology | None = None) -> np.ndarray:
    """Per-patient infiltrative clonogen shares (len(medians), n) for each population median in ``medians``
    (None = the indication's data-file median): the same per-patient draws (keyed by (seed, patient_id))
    shifted to each median with the data file's spread kept, clipped to [1e-4, 0.9]; a median of 0 gives 0."""
    rb = rt.radiobiology(_indication(p)) if rb is None else rb
    lo, hi = rb.infiltrative_clonogen_fraction_range
    sigma = math.log(hi / lo) / (2 * 1.959963984540054)
    z = None
    out = np.zeros((len(medians), len(p)))
    for j, median in enumerate(medians):
        median = rb.infiltrative_clonogen_fraction if median is None else float(median)
        if median <= 0.0:
            continue
        if z is None:
            z = patient_normals(seed, _STREAM_INFILTRATION, p["patient_id"].to_numpy())
        out[j] = np.clip(median * np.exp(sigma * z), 1e-4, 0.9)
    return out


def _add_infiltrative_element(fraction, weights, ln_rt37, ln_heat, ln_cdt, ln_rt_h, ln_ros):
    """Append the clonogens infiltrating beyond the enhancing (heated, particle-bearing) volume: a share
    ``fraction`` (per patient) of all clonogens that receives RT at 37 C only (radiobiology.toml)."""
    n = weights.shape[0]
    fraction = np.broadcast_to(np.asarray(fraction, dtype=np.float64), (n,))[:, None]
    w = weights / weights.sum(axis=1, keepdims=True) * (1.0 - fraction)
    zeros = np.zeros((n, 1))
    return (
        np.concatenate([w, fraction], axis=1),
        np.concatenate([ln_heat, zeros], axis=1),
        np.concatenate([ln_cdt, zeros], axis=1),
        np.concatenate([ln_rt_h, np.asarray(ln_rt37, np.float64).reshape(n, 1)], axis=1),
        np.concatenate([ln_ros, zeros], axis=1),
    )


def _indication(p: pd.DataFrame) -> str:
    if "indication" not in p.columns or len(p) == 0:
        return "recurrent_glioblastoma"
    values = p["indication"].astype(str).unique()
    if len(values) != 1:
        raise InputError("patients.indication", sorted(values), "one indication per call")
    return str(values[0])
