"""Clinical heat delivery: the per-patient inputs of a session as practised with NanoTherm.

Data: ``data/heat_delivery.toml`` (every value with its source and ``verified`` flag).

* **Tolerance ceiling** (:func:`tolerance_ceilings_kA_per_m`). Discomfort at high field comes from eddy
  currents, whose surface power density is ``sigma (pi f mu0 H r)^2 / 2``; a patient tolerates up to a
  constant ``C = H r`` [A] at 100 kHz, drawn uniform over the body region's range, so
  ``H_ceiling = C / r_body * (100 kHz / f) * scale`` [kA/m]. Region = the host tissue's body region (head,
  pelvis, abdomen). The H*r scaling is derived, not measured (only the pelvic amplitudes were read).
* **Thermometry catheter** (:func:`catheter_impact_over_R`): a straight track through the tumour at
  distance ``b`` from its centre, ``b / R = sqrt(U)`` (a line placed through a sphere without aim),
  capped at ``impact_parameter_max_over_R``. Where a body region has no invasive thermometry (abdomen),
  the session is read on the hottest point of the computed (CT-based) distribution instead
  (:func:`thermometry_track_over_R`: ``b = 0``).
* **Deposit heterogeneity** (:func:`deposit_shell_multipliers`): iid lognormal multipliers of the local iron
  concentration per tumour shell, ``exp(sigma z)``; the kernel renormalises them over the deposit so that
  the deposited iron is conserved (volume-weighted mean 1).
* **Eddy heating in the radial model** (:func:`eddy_coefficient_W_per_m3_per_kA2`): the cross-section mean
  of ``sigma (pi f mu0 H r)^2 / 2`` over a disc of radius ``R_body``, ``<r^2> = R_body^2 / 2``, applied to
  every shell (the spherical model has no body axis).
* **Normal-tissue thermal dose** (:func:`healthy_cem43_limit_min`): per-session CEM43 limit of the hottest
  healthy shell by host tissue.

The random draws (ceiling, catheter, shell multipliers) come from one generator per patient keyed by
(seed, :data:`STREAM_DELIVERY`, patient_id), so they do not depend on chunking and are common to every
scenario that changes only the scales (common random numbers for sensitivity analyses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics.records import table_record
from mhtcdt.seeding import child_rng

STREAM_DELIVERY = 4


def heat_delivery_table() -> dict:
    """The parsed ``data/heat_delivery.toml`` (cached and shared: read-only)."""
    return load_toml("mhtcdt.physics", "data/heat_delivery.toml")


@dataclass(frozen=True)
class ClinicalControl:
    """Constants of the stepwise amplitude control (``heat_delivery.toml [clinical_control]``).

    start_kA_per_m: first amplitude of a session [kA/m]; step_kA_per_m: one raise or cut [kA/m];
    step_interval_s: time between two control actions [s]; target_band_K: the amplitude is cut when the
    thermometry reading exceeds the target by more than this [K] (held between target and target + band).
    """

    start_kA_per_m: float
    step_kA_per_m: float
    step_interval_s: float
    target_band_K: float


def clinical_control() -> ClinicalControl:
    """The stepwise-control constants from the data file."""
    return table_record(ClinicalControl, heat_delivery_table()["clinical_control"])


def _section_for_tissue(section: str, tissue: str) -> dict:
    table = heat_delivery_table()[section]
    for key, entry in table.items():
        if isinstance(entry, dict) and tissue in entry.get("tissues", ()):
            return {"key": key, **entry}
    known = sorted(t for e in table.values() if isinstance(e, dict) for t in e.get("tissues", ()))
    raise InputError("tissue", tissue, f"no {section} entry for this tissue; known: {known}")


def body_region(tissue: str) -> str:
    """The body region (``head``, ``pelvis``, ``abdomen``) of a host tissue."""
    return str(_section_for_tissue("field_tolerance", tissue)["key"])


def tolerance_h_times_r_A(tissue: str) -> tuple[float, float]:
    """Range [A] of the tolerated H*r at the reference frequency for the tissue's body region."""
    lo, hi = _section_for_tissue("field_tolerance", tissue)["h_times_r_A"]
    return float(lo), float(hi)


def default_body_radius_cm(tissue: str) -> float:
    """Body radius [cm] used for a patient table without ``body_radius_cm``."""
    return float(_section_for_tissue("field_tolerance", tissue)["default_body_radius_cm"])


def healthy_cem43_limit_min(tissue: str) -> float:
    """Per-session CEM43 limit [min] of the hottest healthy shell around a tumour in ``tissue``."""
    return float(_section_for_tissue("normal_tissue_dose", tissue)["cem43_limit_min"])


def healthy_cem43_limit_range_min() -> tuple[float, float]:
    """The published range [min] of single-exposure normal-tissue CEM43 thresholds (the valid input range)."""
    lo, hi = heat_delivery_table()["normal_tissue_dose"]["cem43_limit_range_min"]
    return float(lo), float(hi)


def deposit_sigma_ln() -> float:
    """Default log-SD of the local iron concentration between tumour shells."""
    return float(heat_delivery_table()["deposit_heterogeneity"]["sigma_ln"])


def eddy_conductivity_S_per_m() -> float:
    """Effective soft-tissue conductivity [S/m] for eddy-current heating."""
    return float(heat_delivery_table()["eddy_heating"]["effective_conductivity_S_per_m"])


@dataclass(frozen=True)
class PatientDraws:
    """The per-patient uniform and normal variates of heat delivery (one generator per patient).

    u_ceiling, u_catheter: (n,) uniforms on [0, 1); z_shells: (n, n_shells) standard normals.
    """

    u_ceiling: np.ndarray
    u_catheter: np.ndarray
    z_shells: np.ndarray


def patient_draws(seed: int | np.random.SeedSequence, patient_ids: np.ndarray, n_shells: int) -> PatientDraws:
    """The variates of every patient, keyed by (seed, :data:`STREAM_DELIVERY`, patient_id)."""
    ids = np.asarray(patient_ids, dtype=np.int64)
    u = np.empty((ids.shape[0], 2))
    z = np.empty((ids.shape[0], n_shells))
    for i, pid in enumerate(ids):
        rng = child_rng(seed, STREAM_DELIVERY, int(pid))
        u[i] = rng.random(2)
        z[i] = rng.standard_normal(n_shells)
    return PatientDraws(u[:, 0], u[:, 1], z)


def tolerance_ceilings_kA_per_m(
    tissues: np.ndarray,
    body_radius_cm: np.ndarray,
    freq_kHz: float,
    u: np.ndarray,
    scale: float = 1.0,
) -> np.ndarray:
    """Each patient's tolerated amplitude [kA/m]: ``C / r_body * (f_ref / f) * scale`` with
    ``C = lo + u (hi - lo)`` over the tissue's body-region range of H*r [A] (module docstring)."""
    tissues = np.asarray(tissues).astype(str)
    r_m = np.asarray(body_radius_cm, dtype=np.float64) / 100.0
    bad = ~np.isfinite(r_m) | (r_m <= 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise InputError(f"patients.body_radius_cm[{i}]", float(r_m[i] * 100.0), "must be a finite radius > 0 cm")
    f_ref = float(heat_delivery_table()["field_tolerance"]["reference_freq_kHz"])
    lo = np.empty(tissues.shape[0])
    hi = np.empty(tissues.shape[0])
    for t in set(tissues):
        m = tissues == t
        lo[m], hi[m] = tolerance_h_times_r_A(t)
    h_times_r = lo + np.asarray(u, dtype=np.float64) * (hi - lo)
    return h_times_r / r_m / 1e3 * (f_ref / freq_kHz) * scale


def catheter_impact_over_R(u: np.ndarray) -> np.ndarray:
    """Distance of the catheter track from the tumour centre / tumour radius: ``sqrt(u)``, capped."""
    cap = float(heat_delivery_table()["thermometry"]["impact_parameter_max_over_R"])
    return np.minimum(np.sqrt(np.asarray(u, dtype=np.float64)), cap)


#: How a body region's session is read (``heat_delivery.toml [thermometry.<region>] reading``).
THERMOMETRY_READINGS = ("catheter", "computed_maximum")


def thermometry_reading(tissue: str) -> str:
    """``"catheter"`` (invasive track) or ``"computed_maximum"`` (hottest point of the CT-based computed
    distribution) for the tissue's body region."""
    reading = str(_section_for_tissue("thermometry", tissue)["reading"])
    if reading not in THERMOMETRY_READINGS:
        raise InputError(f"thermometry.{tissue}.reading", reading, f"must be one of {THERMOMETRY_READINGS}")
    return reading


def thermometry_track_over_R(tissues: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per patient, the distance / tumour radius of the track the session is controlled on: the catheter
    (:func:`catheter_impact_over_R`) where the region has invasive thermometry, 0 (a track through the
    centre, which crosses every radius of the spherical model, so its hottest point is the hottest tumour
    cell) where the computed maximum is read."""
    tissues = np.asarray(tissues).astype(str)
    b = catheter_impact_over_R(u)
    for t in set(tissues):
        if thermometry_reading(t) == "computed_maximum":
            b[tissues == t] = 0.0
    return b


def deposit_shell_multipliers(z: np.ndarray, sigma_ln: float) -> np.ndarray:
    """Local iron concentration multipliers per tumour shell, ``exp(sigma z)`` (renormalised by the kernel)."""
    if not (math.isfinite(sigma_ln) and sigma_ln >= 0):
        raise InputError("deposit_heterogeneity_sigma_ln", sigma_ln, "must be a finite number >= 0")
    return np.exp(sigma_ln * np.asarray(z, dtype=np.float64))


def eddy_coefficient_W_per_m3_per_kA2(
    body_radius_cm: np.ndarray, freq_kHz: float, conductivity_S_per_m: float | None = None
) -> np.ndarray:
    """Cross-section mean eddy power density per (kA/m)^2 [W/m3/(kA/m)^2]: ``sigma (pi f mu0 1e3)^2 R^2 / 4``
    (the mean of ``sigma (pi f mu0 H r)^2 / 2`` over a disc of radius R; ``field.eddy_current_power_W_per_m3``
    at r = R / sqrt 2 and H = 1 kA/m)."""
    from mhtcdt.physics.field import eddy_current_power_W_per_m3

    sigma = eddy_conductivity_S_per_m() if conductivity_S_per_m is None else conductivity_S_per_m
    r = np.asarray(body_radius_cm, dtype=np.float64) / 100.0
    return np.array([eddy_current_power_W_per_m3(1.0, freq_kHz, float(x) / math.sqrt(2.0), sigma) for x in r])


#: Why the amplitude stopped rising in a session (kernel codes -> names of the ``field_stop_reason`` column).
STOP_REASONS: dict[int, str] = {
    0: "ramp_not_finished",
    1: "thermometry_target",
    2: "tolerance_ceiling",
    3: "healthy_temperature",
    4: "healthy_thermal_dose",
    5: "device_maximum",
    6: "fixed_amplitude",
    7: "margin_controller",
}
