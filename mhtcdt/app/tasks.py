"""Functions the worker process runs (see :mod:`mhtcdt.app.jobs`): thin adapters onto the package API.

Each takes plain, picklable inputs (scenario as TOML text) plus ``progress(stage, fraction)``
and returns the package's own result object. No model logic lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Progress = Callable[[str, float], None]


def _scenario(scenario_toml: str):
    from mhtcdt.decision.scenario.loading import parse_scenario_text

    return parse_scenario_text(scenario_toml, source="app scenario")


def run_pipeline_task(scenario_toml: str, seed: int | None = None, *, progress: Progress) -> Any:
    """``mhtcdt.decision.run.pipeline.run_pipeline`` on a scenario given as TOML text."""
    from mhtcdt.decision.run.pipeline import run_pipeline

    return run_pipeline(_scenario(scenario_toml), seed=seed, progress=progress)


def run_psa_task(result: Any, *, progress: Progress) -> Any:
    """``mhtcdt.decision.model.psa.run_psa`` on a pipeline result (the scenario's own number of draws)."""
    from mhtcdt.decision.model.psa import run_psa

    return run_psa(result, progress=progress)


def power_curve_task(
    scenario_toml: str,
    sample_sizes: tuple[int, ...],
    n_replicates: int,
    endpoint: str = "OS",
    alpha: float = 0.05,
    *,
    progress: Progress,
) -> Any:
    """Power versus total sample size: :func:`mhtcdt.decision.trial.power_analysis.power_analysis` (the
    same call as ``mhtcdt power``) with the curve over ``sample_sizes`` and nothing else.

    Returns the curve DataFrame (``n_patients``, ``power``, ``power_ci_lower``, ``power_ci_upper``,
    ``expected_hr``, ``mean_events``) with ``attrs`` naming the comparison, endpoint, alpha and replicates.
    """
    from mhtcdt.decision.trial.power_analysis import PowerRequest, power_analysis

    request = PowerRequest(
        n_replicates=int(n_replicates),
        alpha=alpha,
        endpoint=endpoint,
        power_at_n=False,
        curve_sizes=tuple(int(n) for n in sample_sizes),
    )
    analysis = power_analysis(_scenario(scenario_toml), request, progress)
    table = analysis.curve
    table.attrs.update(comparison=analysis.comparison, endpoint=endpoint, alpha=alpha, n_replicates=n_replicates)
    return table


def patient_physics_task(
    patient: Any,
    protocol: Any,
    seed: Any,
    intervals_hours: tuple[float, ...],
    *,
    progress: Progress,
) -> dict:
    """One patient's physics for the Treatment physics page.

    ``patient``: one-row DataFrame (cohort columns); ``protocol``: :class:`mhtcdt.physics.Protocol`;
    ``seed``: the arm's physics seed. Returns ``{"detail": PatientDetail, "spacing": DataFrame | None}``:
    :func:`mhtcdt.physics.simulate_patient_detail` and, for protocols with more than one heat session,
    :func:`mhtcdt.physics.thermotolerance_by_interval` over ``intervals_hours`` (else None).
    """
    from mhtcdt.physics import simulate_patient_detail, thermotolerance_by_interval

    progress("heat, chemistry and 3-D map of this patient", 0.0)
    detail = simulate_patient_detail(patient, protocol, seed)
    spacing = None
    if protocol.has_mht and protocol.n_sessions > 1:
        progress("the same sessions spaced differently", 0.6)
        spacing = thermotolerance_by_interval(patient, protocol, seed, intervals_hours)
    progress("done", 1.0)
    return {"detail": detail, "spacing": spacing}


def subgroups_task(result: Any, psa: Any, *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.model.subgroups.analyse_subgroups` of a run and its PSA (counterfactual physics)."""
    from mhtcdt.decision.model.subgroups import analyse_subgroups

    return analyse_subgroups(result, psa, progress=progress)


def compare_task(labelled_tomls: list[tuple[str, str]], *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.run.compare.run_scenarios` on scenarios given as (label, TOML text)."""
    from mhtcdt.decision.run.compare import run_scenarios

    return run_scenarios([(label, _scenario(text)) for label, text in labelled_tomls], progress=progress)


def parametric_fits_task(trial: Any, *, progress: Progress) -> Any:
    """The parametric fits table of :func:`mhtcdt.decision.trial.parametric.fit_all` (an analysis on request)."""
    from mhtcdt.decision.trial.parametric import fit_all

    progress("fitting parametric survival curves", 0.0)
    fits, _ = fit_all(trial)
    return fits
