"""Dose planning: per patient, the smallest iron dose (mg Fe per cm3 of tumour) whose heat course reaches a
thermal-dose target at the T90 point, under the protocol's field control and healthy-tissue limit.

Method: the first session is simulated on the radial Pennes solver (Physics I, ``bioheat_radial``) for all
patients at once; CEM43T90 per session is monotone non-decreasing in the dose for a fixed amplitude and
the margin PI control (more iron, more power; the controller only caps the margin and healthy temperatures).
Under the clinical control the thermometry target caps the heat, so the curve flattens once the target is
reached and need not stay monotone: the bisection then returns a dose that reaches the target, not
necessarily the smallest. A bisection on
log(dose) over ``dose_bounds_mg_Fe_per_cm3`` finds the smallest dose reaching
``target_cem43_t90_min_total / n_sessions`` per session. Patients for whom even the upper bound does
not reach it are reported ``feasible = False`` and planned at the upper bound (no safer dose reaches the
target; a larger one would exceed the bound). Targets and bounds: ``data/radiobiology.toml [planning]``.

Returned DataFrame: patient_id int64, dose_mg_Fe_per_cm3 float64, feasible bool,
cem43_t90_min_per_session float64 (at the planned dose), t90_C float64 (first session at the planned dose).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError
from mhtcdt.physics import radiotherapy as rt

if TYPE_CHECKING:
    from mhtcdt.physics.assumptions import Assumptions
    from mhtcdt.physics.protocol import Protocol

BISECTION_STEPS = 9


def planning_targets() -> dict:
    """The planning target ``target_cem43_t90_min_total`` [min] and ``dose_bounds`` [mg Fe/cm3]
    (radiobiology.toml [planning])."""
    d = rt.radiobiology_table()["planning"]
    lo, hi = d["dose_bounds_mg_Fe_per_cm3"]
    return {
        "target_cem43_t90_min_total": float(d["target_cem43_t90_min_total"]),
        "dose_bounds": (float(lo), float(hi)),
    }


def plan_dose(
    patients: pd.DataFrame,
    protocol: Protocol,
    seed: int | np.random.SeedSequence,
    *,
    target_cem43_t90_min_total: float | None = None,
    dose_bounds_mg_Fe_per_cm3: tuple[float, float] | None = None,
    assumptions: Assumptions | None = None,
) -> pd.DataFrame:
    """Plan the iron dose of every patient for a heat protocol (see the module docstring)."""
    from mhtcdt.physics.assumptions import DEFAULT_ASSUMPTIONS
    from mhtcdt.physics.chain import heat_sessions

    if not protocol.has_mht:
        raise InputError("protocol.n_sessions", protocol.n_sessions, "dose planning needs heat sessions and an agent")
    defaults = planning_targets()
    target = (
        defaults["target_cem43_t90_min_total"] if target_cem43_t90_min_total is None else target_cem43_t90_min_total
    )
    lo, hi = defaults["dose_bounds"] if dose_bounds_mg_Fe_per_cm3 is None else dose_bounds_mg_Fe_per_cm3
    if not (math.isfinite(target) and target > 0):
        raise InputError("target_cem43_t90_min_total", target, "must be a finite number of minutes > 0")
    if not (0 < lo < hi <= 100):
        raise InputError("dose_bounds_mg_Fe_per_cm3", (lo, hi), "need 0 < lower < upper <= 100 mg Fe/cm3")
    per_session = target / protocol.n_sessions
    one = protocol.model_copy(update={"n_sessions": 1})
    n = len(patients)

    def evaluate(dose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = heat_sessions(patients, one, dose, seed, assumptions or DEFAULT_ASSUMPTIONS)
        return h["cem43_t90"], h["t90"]

    log_lo = np.full(n, math.log(lo))
    log_hi = np.full(n, math.log(hi))
    cem_hi, t90_hi = evaluate(np.exp(log_hi))
    feasible = cem_hi >= per_session
    cem_lo, t90_lo = evaluate(np.exp(log_lo))
    done_low = cem_lo >= per_session
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (log_lo + log_hi)
        cem_mid, _ = evaluate(np.exp(mid))
        ok = cem_mid >= per_session
        log_hi = np.where(ok, mid, log_hi)
        log_lo = np.where(ok, log_lo, mid)
    dose = np.where(done_low, lo, np.where(feasible, np.exp(log_hi), hi))
    cem, t90 = evaluate(dose)
    return pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(np.int64),
            "dose_mg_Fe_per_cm3": dose,
            "feasible": feasible,
            "cem43_t90_min_per_session": cem,
            "t90_C": t90,
        }
    )
