"""The emulators' error against direct simulation, on held-out draws of the physics inputs.

For ``n_draws`` draws of the uncertain inputs (keyed uniforms on a seed the PSA never uses, so none is a
design point), each arm's patients are simulated directly (the whole chain,
:meth:`mhtcdt.decision.model.emulator.ArmEmulator.direct_kill`) and by the emulator. Compared:

* per patient ``log10_kill_total`` (emulated - direct);
* per arm QALYs: the outcome model at the calibrated point (the draw's outcome inputs applied, e.g. the
  heat/RT effectiveness ratio) and the scenario's economic point values, run once on the emulated and
  once on the direct kills (same per-patient random numbers), so the difference is the emulator's alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model.economic_model import time_grid_months
from mhtcdt.decision.model.physics_psa import PhysicsUncertainty
from mhtcdt.decision.model.psa_curves import arm_data, curves, draw_params, psm
from mhtcdt.decision.run.pipeline import decision_population
from mhtcdt.economics import psa as econ_psa

CHECK_SEED_KEY = 20261205  # sample_psa seed of the held-out draws (the PSA's seeds come from the run seed)


@dataclass
class EmulatorCheck:
    """Emulated vs direct results of held-out draws (arrays (D, n) per arm; QALYs (D, S))."""

    arms: list[str]
    values: dict[str, np.ndarray]
    emulated_kill: dict[str, np.ndarray]
    direct_kill: dict[str, np.ndarray]
    emulated_qalys: np.ndarray
    direct_qalys: np.ndarray
    seconds_direct: float
    seconds_emulated: float
    notes: list[str] = field(default_factory=list)

    @property
    def n_draws(self) -> int:
        return int(self.emulated_qalys.shape[0])

    def kill_errors(self) -> pd.DataFrame:
        """Per arm: max, 95th percentile and RMS of |emulated - direct| log10 kill over draws x patients, and the
        mean error (bias)."""
        rows = []
        for arm in self.arms:
            err = self.emulated_kill[arm] - self.direct_kill[arm]
            rows.append(
                {
                    "arm": arm,
                    "draws": err.shape[0],
                    "patients": err.shape[1],
                    "max_abs_log10": float(np.abs(err).max()),
                    "p95_abs_log10": float(np.quantile(np.abs(err), 0.95)),
                    "rms_log10": float(np.sqrt(np.mean(err**2))),
                    "mean_log10": float(err.mean()),
                }
            )
        return pd.DataFrame(rows)

    def qaly_errors(self) -> pd.DataFrame:
        """Per arm (and the incremental QALYs of each arm vs the first): max |error|, RMS, mean error and the
        spread of the direct QALYs over the draws (the error's yardstick)."""
        rows = []
        for j, arm in enumerate(self.arms):
            err = self.emulated_qalys[:, j] - self.direct_qalys[:, j]
            rows.append(self._qaly_row(arm, err, self.direct_qalys[:, j]))
        for j, arm in enumerate(self.arms[1:], start=1):
            inc_e = self.emulated_qalys[:, j] - self.emulated_qalys[:, 0]
            inc_d = self.direct_qalys[:, j] - self.direct_qalys[:, 0]
            rows.append(self._qaly_row(f"{arm} - {self.arms[0]}", inc_e - inc_d, inc_d))
        return pd.DataFrame(rows)

    @staticmethod
    def _qaly_row(name: str, err: np.ndarray, direct: np.ndarray) -> dict:
        return {
            "qalys_of": name,
            "max_abs": float(np.abs(err).max()),
            "rms": float(np.sqrt(np.mean(err**2))),
            "mean": float(err.mean()),
            "direct_mean": float(direct.mean()),
            "direct_sd": float(direct.std(ddof=1)) if direct.size > 1 else 0.0,
        }


def check_emulators(
    result,
    uncertainty: PhysicsUncertainty,
    n_draws: int = 50,
    params: outcome.OutcomeParams | None = None,
    seed: int = CHECK_SEED_KEY,
) -> EmulatorCheck:
    """Emulated vs direct kill and QALYs of ``n_draws`` held-out draws (see the module docstring)."""
    sc = result.scenario
    arms = uncertainty.arms
    u = econ_psa.sample_psa(uncertainty.distributions(), n_draws, seed=seed) if uncertainty.distributions() else {}
    values = uncertainty.values_from_uniforms(u)
    clock = time.perf_counter()
    emulated = uncertainty.kill(values, n_draws)
    seconds_emulated = time.perf_counter() - clock
    clock = time.perf_counter()
    direct = {}
    for arm, emu in uncertainty.emulators.items():
        direct[arm] = np.array(
            [emu.direct_kill({k: v[i] for k, v in values.items() if k in emu.inputs}) for i in range(n_draws)]
        )
    seconds_direct = time.perf_counter() - clock
    params = _scenario_params(sc) if params is None else params
    point = replace(params, draws=params.draws.iloc[0:0])  # the calibrated point for every draw
    trial = decision_population(result)  # the patients the emulators were built on
    data = arm_data(trial, arms, point, result.seed)
    grid = time_grid_months(sc)
    dp = draw_params(point, np.zeros(n_draws, dtype=np.int64), uncertainty.outcome_free(values))
    qalys = {}
    for name, kills in (("emulated", emulated), ("direct", direct)):
        pfs, os_ = curves(data, arms, dp, grid, kills)
        qalys[name] = psm(sc, arms, grid, pfs, os_, {}, n_draws).qalys
    return EmulatorCheck(
        arms=arms,
        values=values,
        emulated_kill=emulated,
        direct_kill=direct,
        emulated_qalys=qalys["emulated"],
        direct_qalys=qalys["direct"],
        seconds_direct=seconds_direct,
        seconds_emulated=seconds_emulated,
    )


def _scenario_params(scenario):
    """The outcome parameters the scenario runs with (its calibration, else its indication's packaged one)."""
    from mhtcdt.decision.model.calibration_file import scenario_params

    return scenario_params(scenario)
