"""Physics and structural uncertainty of a run's PSA: the inputs, their draws and each arm's emulated kill.

:class:`PhysicsUncertainty` holds, for a finished pipeline run, the uncertain inputs of its PSA (the registry
of :mod:`mhtcdt.decision.scenario.uncertain_inputs` for the scenario's indication, with the scenario's
``[psa]`` overrides and fixed inputs) and one :class:`~mhtcdt.decision.model.emulator.ArmEmulator` per
randomised arm and physics stream, built on the decision population (every randomised patient under the arm,
each with its own physics stream: :class:`PooledEmulator`; or the arm's own trial patients for a trial-only
table) and the scenario's ``[assumptions]`` (common random numbers: at the scenario's values the emulators
reproduce the pipeline's kill).

Per PSA draw, :meth:`PhysicsUncertainty.sample` draws every input by the inverse CDF of a uniform keyed by
``physics.<name>`` (:func:`mhtcdt.economics.psa.sample_psa`: chunk-independent), :meth:`kill` gives each arm's
per-patient ``log10_kill_total`` (D, n) and :meth:`outcome_free` the outcome-model parameters the draw sets
(the heat/RT effectiveness ratio).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.model import emulator_cache, outcome
from mhtcdt.decision.model.drivers import evppi_row
from mhtcdt.decision.model.emulator import ArmEmulator, EmulatorReport
from mhtcdt.decision.run.arm_chain import RANDOMISED_ARM
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.decision.scenario.uncertain_inputs import InputDistribution, UncertainInput, resolve_inputs
from mhtcdt.decision.streams import physics_seed
from mhtcdt.economics import psa as econ_psa
from mhtcdt.economics import voi

PARAMETER_PREFIX = "physics."


def psa_inputs(scenario: Scenario, params: outcome.OutcomeParams | None = None) -> dict[str, UncertainInput]:
    """The uncertain inputs of a scenario's PSA (empty when ``[psa] physics = false``).

    With ``params``, an outcome-model input whose calibration draws carry a posterior (the column varies
    across the draws) is taken from those draws (:func:`calibrated_outcome_inputs`), unless the scenario's
    ``[psa]`` gives it a distribution of its own."""
    if not scenario.psa.physics:
        return {}
    overrides = [spec.model_dump(exclude_none=True) for spec in scenario.psa.inputs]
    inputs = resolve_inputs(scenario.cohort.indication, overrides, scenario.psa.fixed)
    if params is None:
        return inputs
    return calibrated_outcome_inputs(inputs, params, {spec["name"] for spec in overrides})


def calibrated_outcome_inputs(
    inputs: Mapping[str, UncertainInput], params: outcome.OutcomeParams, scenario_overrides: set[str] = frozenset()
) -> dict[str, UncertainInput]:
    """``inputs`` with every outcome-model input that the calibration estimated taken from the calibration's
    accepted draws (distribution ``calibration``, sampled jointly with the other calibrated parameters) instead
    of the registry's prior: the PSA must not replace a fitted posterior by a prior. "Estimated" = the draws
    carry the parameter and it varies across them; a calibration file written before the parameter existed
    loads it at its legacy constant (:data:`mhtcdt.decision.model.outcome.LEGACY_FREE_DEFAULTS`) and keeps
    the registry's distribution as the fallback. Inputs the scenario's ``[psa]`` overrides are kept."""
    out = dict(inputs)
    for name, item in inputs.items():
        if item.target_kind != "outcome" or item.distribution.kind in ("calibration", "fixed"):
            continue
        if name in scenario_overrides or params.draws.empty or item.target_name not in params.draws:
            continue
        column = params.draws[item.target_name].to_numpy(float)
        if np.ptp(column) > 0:
            out[name] = item.with_distribution(
                InputDistribution("calibration"),
                f"the accepted draws of the outcome calibration ({params.source}), which estimated it; "
                f"registry prior not used: {item.distribution.describe()}",
            )
    return out


class PhysicsUncertainty:
    """The physics and structural inputs of one run's PSA and the emulated physics of its arms.

    ``cache``: take each emulator from the on-disk cache of :mod:`mhtcdt.decision.model.emulator_cache` when
    it was built before with the same inputs and code (bit-identical predictions), else build and store it."""

    def __init__(
        self,
        scenario: Scenario,
        trial: pd.DataFrame,
        arms: list[str],
        seed: int,
        cohort_columns: list[str],
        progress: Callable[[float], None] | None = None,
        params: outcome.OutcomeParams | None = None,
        cache: bool = False,
    ) -> None:
        clock = time.perf_counter()
        self.inputs = psa_inputs(scenario, params)
        self.sampled = {k: v for k, v in self.inputs.items() if v.distribution.is_sampled}
        self.arms = list(arms)
        base = scenario.physics_assumptions()
        index = {a.name: i for i, a in enumerate(scenario.randomised_arms)}
        self.emulators: dict[str, ArmEmulator | PooledEmulator] = {}
        self.loaded_from_cache = 0  # emulators loaded from the on-disk cache (``cache``) instead of built
        report = progress or (lambda f: None)
        for j, name in enumerate(self.arms):
            rows = trial[trial["arm"] == name]
            patients = rows[[c for c in cohort_columns if c in rows.columns]]
            # each patient's physics stream: its randomised arm's (counterfactual table), else the arm's own
            streams = rows[RANDOMISED_ARM].to_numpy() if RANDOMISED_ARM in rows.columns else np.full(len(rows), name)
            groups = list(dict.fromkeys(streams))
            parts = []
            for g, group in enumerate(groups):
                position = np.flatnonzero(streams == group)
                share = 1.0 / (len(self.arms) * len(groups))  # of the build's progress
                step = (j * len(groups) + g) * share
                args = (
                    name if len(groups) == 1 else f"{name} (patients randomised to {group})",
                    patients.iloc[position],
                    scenario.arm(name),
                    physics_seed(seed, index[group]),
                    base,
                    self.inputs,
                )
                part_progress = lambda f, step=step, share=share: report(step + f * share)  # noqa: E731
                if cache:
                    emu, loaded = emulator_cache.cached_emulator(
                        emulator_cache.emulator_key(*args),
                        lambda args=args, p=part_progress: ArmEmulator(*args, progress=p),
                        part_progress,
                    )
                    self.loaded_from_cache += int(loaded)
                else:
                    emu = ArmEmulator(*args, progress=part_progress)
                    emu.release_solves()
                parts.append((position, emu))
            self.emulators[name] = parts[0][1] if len(parts) == 1 else PooledEmulator(parts, len(rows))
        self.patient_ids = {
            name: trial.loc[trial["arm"] == name, "patient_id"].to_numpy(np.int64) for name in self.arms
        }
        self.seconds = time.perf_counter() - clock

    # ------------------------------------------------------------------ draws
    def distributions(self) -> dict[str, econ_psa.Distribution]:
        """Keyed uniforms of the sampled inputs (``physics.<name>``) for :func:`econ_psa.sample_psa`."""
        return {
            PARAMETER_PREFIX + k: econ_psa.Uniform(0.0, 1.0)
            for k, v in self.sampled.items()
            if v.distribution.kind != "calibration"
        }

    def values_from_uniforms(self, uniforms: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Input values (name -> (D,); a ``choice`` by its index) from the keyed uniforms."""
        out = {}
        for key, u in uniforms.items():
            if key.startswith(PARAMETER_PREFIX):
                name = key[len(PARAMETER_PREFIX) :]
                out[name] = self.sampled[name].distribution.ppf(np.clip(u, 1e-12, 1 - 1e-12))
        return out

    def kill(self, values: Mapping[str, np.ndarray], n_draws: int) -> dict[str, np.ndarray]:
        """Per arm, the emulated ``log10_kill_total`` (D, n) of its trial patients (order of the trial)."""
        return {name: emu.predict(values, n_draws) for name, emu in self.emulators.items()}

    def log10_kill_rt(self, arm: str) -> np.ndarray:
        return self.emulators[arm].log10_kill_rt

    def outcome_free(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outcome-model free parameters set by the draws (name -> (D,)), e.g. the heat/RT effectiveness ratio:
        the sampled outcome inputs and an input taken from the calibration draws that a structural preset
        holds fixed (it is in ``values`` only then)."""
        return {
            v.target_name: np.asarray(values[k], dtype=np.float64)
            for k, v in self.inputs.items()
            if v.target_kind == "outcome" and v.distribution.kind != "fixed" and k in values
        }

    @property
    def structural(self) -> list[str]:
        """The inputs a structural preset may hold fixed: the sampled ones and those from the calibration draws."""
        return [k for k, v in self.inputs.items() if v.distribution.is_sampled or v.distribution.kind == "calibration"]

    def value_of(self, name: str, value: Any) -> float:
        """The numeric draw value of ``value`` for input ``name`` (a choice's index for its label)."""
        dist = self.inputs[name].distribution
        if dist.is_discrete:
            return float(list(dist.choices).index(value))
        return float(value)

    # ------------------------------------------------------------------ records
    @property
    def reports(self) -> list[EmulatorReport]:
        out: list[EmulatorReport] = []
        for emu in self.emulators.values():
            out.extend(emu.reports if isinstance(emu, PooledEmulator) else [emu.report_])
        return out

    def label(self, name: str) -> str:
        return self.inputs[name].label

    def inputs_table(self) -> pd.DataFrame:
        """One row per uncertain input: name, label, stage, target, unit, distribution, source, verified."""
        rows = []
        for k, v in self.inputs.items():
            rows.append(
                {
                    "input": k,
                    "label": v.label,
                    "stage": v.stage,
                    "target": v.target,
                    "unit": v.unit,
                    "distribution": v.distribution.describe(),
                    "source": v.source,
                    "verified": v.verified,
                }
            )
        return pd.DataFrame(rows)

    def run_record(self) -> dict[str, Any]:
        """What run.json records about the physics uncertainty of the PSA."""
        return {
            "inputs": {k: v.distribution.describe() for k, v in self.inputs.items()},
            "emulators": [
                {k: v for k, v in asdict(r).items() if k != "notes"} | {"seconds": round(r.seconds, 3)}
                for r in self.reports
            ],
            "build_seconds": round(self.seconds, 3),
        }


class PooledEmulator:
    """One arm's emulated kill for patients of several physics streams (the counterfactual population treats
    each patient with its own stream, that of the arm it was randomised to): one
    :class:`~mhtcdt.decision.model.emulator.ArmEmulator` per stream, its predictions put back at the patients'
    positions. Same interface as an ArmEmulator for :class:`PhysicsUncertainty` and the emulator check."""

    def __init__(self, parts: list[tuple[np.ndarray, ArmEmulator]], n_patients: int) -> None:
        self.parts = parts
        self.n = int(n_patients)
        self.inputs = parts[0][1].inputs
        self.log10_kill_rt = self._scatter([emu.log10_kill_rt for _, emu in parts])

    def _scatter(self, arrays: list[np.ndarray]) -> np.ndarray:
        out = np.empty((*np.shape(arrays[0])[:-1], self.n))
        for (position, _), values in zip(self.parts, arrays, strict=True):
            out[..., position] = values
        return out

    def predict(self, values: Mapping[str, np.ndarray], n_draws: int) -> np.ndarray:
        """Emulated ``log10_kill_total`` (D, n) of the arm's patients (their order in the table)."""
        return self._scatter([emu.predict(values, n_draws) for _, emu in self.parts])

    def direct_kill(self, values: Mapping[str, Any]) -> np.ndarray:
        """``log10_kill_total`` (n,) by direct simulation with the inputs of one draw (each stream's own)."""
        return self._scatter([emu.direct_kill(values) for _, emu in self.parts])

    def release_solves(self) -> None:
        for _, emu in self.parts:
            emu.release_solves()

    @property
    def reports(self) -> list[EmulatorReport]:
        return [emu.report_ for _, emu in self.parts]


PHYSICS_GROUP = "physics and structural inputs (together)"


def physics_evppi(
    uncertainty: PhysicsUncertainty,
    phys: Mapping[str, np.ndarray],
    params: outcome.OutcomeParams,
    cal_index: np.ndarray,
    cost: np.ndarray,
    qalys: np.ndarray,
    wtp: float,
) -> tuple[pd.DataFrame, list[dict], dict[str, tuple[np.ndarray, bool]]]:
    """The physics inputs' columns of the parameters table (a choice by its label), their EVPPI rows (one per
    input, the calibrated RT effectiveness from the calibration draws, and the inputs together) and their
    draws (for the variance shares)."""
    table: dict[str, object] = {}
    rows: list[dict] = []
    cols: dict[str, tuple[np.ndarray, bool]] = {}
    for name, item in uncertainty.inputs.items():
        dist = item.distribution
        if dist.kind == "fixed":
            continue
        if dist.kind == "calibration":
            if params.draws.empty or item.target_name not in params.draws:
                continue
            key, x = f"outcome.{item.target_name}", params.draws[item.target_name].to_numpy(float)[cal_index]
        else:
            key, x = PARAMETER_PREFIX + name, np.asarray(phys[name], dtype=np.float64)
            table[key] = [dist.choices[int(i)] for i in x] if dist.is_discrete else x
        evppi, se = evppi_row(cost, qalys, x, wtp, dist.is_discrete)
        rows.append({"parameter": key, "evppi": evppi, "evppi_se": se})
        cols[key] = (x, dist.is_discrete)
    together = [v[0] for k, v in cols.items() if k.startswith(PARAMETER_PREFIX) and np.ptp(v[0]) > 0]
    if together:
        row = voi.evppi(cost, qalys, np.column_stack(together), wtp).iloc[0]
        rows.append({"parameter": PHYSICS_GROUP, "evppi": row["evppi"], "evppi_se": row["evppi_se"]})
    return pd.DataFrame(table), rows, cols


def input_labels(uncertainty: PhysicsUncertainty, outcome_group: str) -> dict[str, str]:
    """Plain-language label of every EVPPI row: economic inputs from the scenario schema's descriptions,
    physics and outcome inputs from the registry, the groups by name."""
    from mhtcdt.decision.scenario.schema import CostSpec, UtilitySpec

    labels = {outcome_group: "calibrated survival parameters of the outcome model (together)"}
    labels[PHYSICS_GROUP] = "physics and structural inputs (together, additive)"
    for section, spec in (("costs", CostSpec), ("utilities", UtilitySpec)):
        for name, f in spec.model_fields.items():
            text = (f.description or name).split(" [")[0].rstrip(".")
            labels[f"{section}.{name}"] = ("cost: " if section == "costs" else "utility: ") + text[0].lower() + text[1:]
    for name, item in uncertainty.inputs.items():
        key = f"outcome.{item.target_name}" if item.distribution.kind == "calibration" else PARAMETER_PREFIX + name
        labels[key] = item.label
    return labels


def input_kinds(evppi: pd.DataFrame, uncertainty: PhysicsUncertainty) -> dict[str, str]:
    kinds = {}
    for p in evppi["parameter"]:
        if p.startswith(PARAMETER_PREFIX):
            item = uncertainty.inputs[p[len(PARAMETER_PREFIX) :]]
            kinds[p] = "outcome" if item.stage == "outcome" else "physics"
        elif p.startswith("outcome."):
            kinds[p] = "outcome"
        elif p.startswith(("costs.", "utilities.")):
            kinds[p] = "economic"
    return kinds


def centre_notes(sc: Scenario, uncertainty: PhysicsUncertainty) -> list[str]:
    """A note for each sampled input whose distribution is not centred on the deterministic base case."""
    base = sc.physics_assumptions()
    from mhtcdt.decision.model.calibration_file import scenario_params

    params = scenario_params(sc)
    out = []
    for item in uncertainty.sampled.values():
        dist = item.distribution
        if dist.kind == "calibration":
            continue
        if item.target_kind == "assumptions":
            value = getattr(base, item.target_name)
            if value is None and item.target_name == "infiltrative_clonogen_fraction":
                from mhtcdt.physics.radiotherapy import radiobiology

                value = radiobiology(sc.cohort.indication).infiltrative_clonogen_fraction
        elif item.target_kind == "outcome":
            value = params.free.get(item.target_name)
        else:
            value = base.chemistry_overrides.get(item.target_name)
        centre = dist.centre()
        if value is None or centre is None:
            continue
        differs = value != centre if dist.is_discrete else abs(float(value) - float(centre)) > 0.1 * abs(float(centre))
        if differs:
            shown = value if dist.is_discrete else f"{float(value):.3g}"
            out.append(
                f"The PSA's distribution of '{item.label}' is centred on {dist.describe().split(': ', 1)[-1]}; "
                f"the deterministic base case uses {shown}."
            )
    return out
