"""Power of a scenario's trial in one call: power and type-I error at a trial size, the power curve
and the sample size reaching a target power, from replicate virtual trials (:mod:`.power`).

Both front ends use it: ``mhtcdt power`` (:mod:`mhtcdt.decision.cli.trial`) and the app's
"Power versus sample size" section (:func:`mhtcdt.app.tasks.power_curve_task`).

Steps: one eligible cohort of the scenario treated with the reference arm and the experimental arm
(:func:`mhtcdt.decision.run.arm_chain.pools_from_scenario`, the pipeline's seed streams); a
:class:`~.power.ReplicateTrial` with the scenario's design; then, as the :class:`PowerRequest` asks,
power at ``n_patients`` (replicate seeds from ``seed``), the type-I error at the same size (both arms
with the reference physics, seeds from ``seed + 1``), the power curve over ``curve_sizes`` and the
sample-size search (at most 500 replicates per size). Every number is a model prediction: there is
no randomised NanoTherm evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.trial import power
from mhtcdt.errors import InputError, InputErrors

SAMPLE_SIZE_REPLICATES = 500  # replicates per size in the sample-size search (bisection over many sizes)


@dataclass(frozen=True)
class PowerRequest:
    """What to compute for a scenario's replicate trials (the options of ``mhtcdt power``).

    ``experimental_arm``: default the first randomised arm other than the reference; ``n_patients``:
    the trial size for power and type-I error (default: the eligible patients of the pool);
    ``pool_size``: patients screened for the pool (default the scenario's ``n_screened``); ``seed``:
    default the scenario's.
    """

    experimental_arm: str | None = None
    n_patients: int | None = None
    n_replicates: int = 1000
    alpha: float = 0.05
    endpoint: str = "OS"
    power_at_n: bool = True
    type_one_error: bool = True
    curve_sizes: tuple[int, ...] = ()
    target_power: float | None = None
    pool_size: int | None = None
    seed: int | None = None

    def problems(self, scenario: Any) -> list[InputError]:
        """Every problem of this request for ``scenario`` (fields named as the request's attributes)."""
        out = []
        ref = scenario.trial.reference_arm
        others = [a for a in scenario.trial.allocation if a != ref]
        exp = self.experimental_arm or (others[0] if others else None)
        if exp not in others:
            out.append(InputError("experimental_arm", exp, f"must be a randomised arm other than {ref!r}: {others}"))
        if self.n_replicates < 1:
            out.append(InputError("n_replicates", self.n_replicates, "need at least 1 replicate"))
        if not 0 < self.alpha < 1:
            out.append(InputError("alpha", self.alpha, "must be in (0, 1)"))
        if self.endpoint not in ("OS", "PFS"):
            out.append(InputError("endpoint", self.endpoint, "use 'OS' or 'PFS'"))
        if self.n_patients is not None and self.n_patients < 2:
            out.append(InputError("n_patients", self.n_patients, "need at least 2 patients per trial"))
        if any(n < 2 for n in self.curve_sizes):
            out.append(InputError("curve_sizes", list(self.curve_sizes), "every size needs at least 2 patients"))
        if self.target_power is not None and not 0 < self.target_power < 1:
            out.append(InputError("target_power", self.target_power, "must be in (0, 1)"))
        pool_size = self.pool_size or scenario.cohort.n_screened
        if pool_size < 2:
            out.append(InputError("pool_size", pool_size, "need at least 2 screened patients"))
        return out


@dataclass
class PowerAnalysis:
    """Results of :func:`power_analysis` (HR = experimental vs reference arm)."""

    scenario_name: str
    reference_arm: str
    experimental_arm: str
    request: PowerRequest
    n_patients: int
    power: power.PowerResult | None = None
    type_one_error: power.PowerResult | None = None
    curve: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=power.CURVE_COLUMNS))
    sample_size: power.SampleSizeResult | None = None

    @property
    def comparison(self) -> str:
        return f"{self.experimental_arm} vs {self.reference_arm}"

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a flat dict (``mhtcdt power --json``; non-finite values as None)."""
        out: dict[str, Any] = dict(
            scenario=self.scenario_name,
            comparison=self.comparison,
            endpoint=self.request.endpoint,
            n_patients=self.n_patients,
            replicates=self.request.n_replicates,
            alpha=self.request.alpha,
        )
        if self.power is not None:
            s = self.power
            out.update(
                power=s.power,
                power_ci95=list(s.power_ci),
                expected_hr=s.expected_hr,
                hr_2_5=s.hr_quantiles[0],
                hr_median=s.hr_quantiles[1],
                hr_97_5=s.hr_quantiles[2],
                median_reference_months=s.median_reference_months,
                median_experimental_months=s.median_experimental_months,
                mean_events=s.mean_events,
            )
        if self.type_one_error is not None:
            out.update(type1_error=self.type_one_error.power, type1_error_ci95=list(self.type_one_error.power_ci))
        if self.sample_size is not None:
            ss = self.sample_size
            out.update(
                target_power=ss.target_power,
                sample_size=ss.n_patients,
                sample_size_power=ss.power,
                schoenfeld_sample_size=ss.schoenfeld_n,
            )
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def power_analysis(
    scenario: Any, request: PowerRequest = PowerRequest(), progress: ProgressCallback | None = None
) -> PowerAnalysis:
    """Power, type-I error, power curve and sample size of ``scenario``'s trial as ``request`` asks
    (see the module docstring). Bad requests raise :class:`~mhtcdt.errors.InputErrors` listing every
    problem. ``progress(stage, fraction)`` covers the whole analysis."""
    from mhtcdt.decision.run.arm_chain import pools_from_scenario
    from mhtcdt.decision.scenario.checks import trial_design

    problems = request.problems(scenario)
    if problems:
        raise InputErrors(problems)
    ref = scenario.trial.reference_arm
    exp = request.experimental_arm or next(a for a in scenario.trial.allocation if a != ref)
    seed = scenario.seed if request.seed is None else request.seed
    steps = [
        name
        for name, wanted in (
            ("replicate trials", request.power_at_n),
            ("type-I error", request.power_at_n and request.type_one_error),
            ("power curve", bool(request.curve_sizes)),
            ("sample size", request.target_power is not None),
        )
        if wanted
    ]
    width = 0.7 / max(1, len(steps))
    span = {name: (0.3 + i * width, 0.3 + (i + 1) * width) for i, name in enumerate(steps)}

    def stage(name: str):
        return sub_progress(progress, name, *span.get(name, (0.0, 0.3)))

    pools, months = pools_from_scenario(
        scenario,
        (ref, exp),
        request.pool_size or scenario.cohort.n_screened,
        seed,
        progress=stage("physics of the patient pools"),
    )
    from mhtcdt.decision.model.calibration_file import scenario_params

    trial = power.ReplicateTrial(
        pools,
        trial_design(scenario),
        ref,
        exp,
        months,
        params=scenario_params(scenario),
        endpoint=request.endpoint,
        alpha=request.alpha,
    )
    n = request.n_patients or len(pools[ref])
    result = PowerAnalysis(scenario.name, ref, exp, request, n)
    if request.power_at_n:
        result.power = power.power_at(trial, n, request.n_replicates, seed, progress=stage("replicate trials"))
        if request.type_one_error:
            result.type_one_error = power.power_at(
                trial, n, request.n_replicates, seed + 1, null=True, progress=stage("type-I error")
            )
    if request.curve_sizes:
        result.curve = power.power_curve(
            trial, request.curve_sizes, request.n_replicates, seed, progress=stage("power curve")
        )
    if request.target_power is not None:
        result.sample_size = power.sample_size(
            trial,
            request.target_power,
            seed,
            n_replicates=min(request.n_replicates, SAMPLE_SIZE_REPLICATES),
            progress=stage("sample size"),
        )
    if progress is not None:
        progress("done", 1.0)
    return result
