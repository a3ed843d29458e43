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


#: key of ``PipelineResult.extras`` holding the id of the run recorded in the results store
STORE_RUN_ID = "store_run_id"
#: key of ``PipelineResult.extras``: True when the run was loaded from the result cache (an identical earlier run)
FROM_RESULT_CACHE = "from_result_cache"


def _record(scenario_toml: str, seed: int, result: Any) -> None:
    """Record a run of the app in the user's results store (the one ``mhtcdt runs`` reads), its id kept
    in ``result.extras``. Without the store extra, or if the store cannot be written, the app works on
    unrecorded (the reason goes to the server log)."""
    import logging

    from mhtcdt.decision.extras import installed

    if not installed("store"):
        return
    from mhtcdt.decision.run import store

    try:
        with store.record_run(
            scenario_toml, seed=seed, scenario_name=result.scenario.name, executor="app worker", command="mhtcdt app"
        ) as record:
            record.add_result(result)
        result.extras[STORE_RUN_ID] = record.run_id
    except Exception as exc:  # noqa: BLE001 - recording must never cost the user the result
        logging.getLogger("mhtcdt.app").warning("the run was not recorded in the results store: %s", exc)


def run_pipeline_task(scenario_toml: str, seed: int | None = None, *, progress: Progress) -> Any:
    """``mhtcdt.decision.run.pipeline.run_pipeline`` on a scenario given as TOML text, recorded in the
    results store (:func:`_record`). Through the result cache (:mod:`mhtcdt.decision.run.result_cache`): the
    same scenario, seed, calibration and code return the stored result (identical to a new run), and
    ``extras[FROM_RESULT_CACHE]`` says so."""
    from mhtcdt.app.limits import check_scenario_fits
    from mhtcdt.decision.run.result_cache import cached_pipeline

    scenario = _scenario(scenario_toml)
    check_scenario_fits(scenario)  # a clear message instead of a MemoryError in the worker
    run_seed = scenario.seed if seed is None else int(seed)
    result, loaded = cached_pipeline(scenario, scenario_toml, run_seed, progress)  # computed once per inputs and code
    result.extras[FROM_RESULT_CACHE] = loaded
    _record(scenario_toml, run_seed, result)
    return result


def run_psa_task(result: Any, *, progress: Progress) -> Any:
    """``mhtcdt.decision.model.psa.run_psa`` on a pipeline result (the scenario's own number of draws), through
    the result cache (:func:`mhtcdt.decision.run.result_cache.cached_psa`), its physics emulators from the
    on-disk cache when built before (:mod:`mhtcdt.decision.model.emulator_cache`);
    its tables are added to the recorded run of the pipeline result, if there is one."""
    from mhtcdt.decision.run.result_cache import cached_psa

    psa, _ = cached_psa(result, progress)  # computed once per inputs and code; its emulators too
    run_id = result.extras.get(STORE_RUN_ID)
    if run_id is not None:
        import logging

        from mhtcdt.decision.report.tables import PHYSICS_PSA_TABLES, PSA_TABLES, run_tables
        from mhtcdt.decision.run import store

        try:
            tables = run_tables(result, psa)
            psa_names = PSA_TABLES + PHYSICS_PSA_TABLES
            store.add_tables(run_id, {name: table for name, table in tables.items() if name in psa_names})
        except Exception as exc:  # noqa: BLE001 - recording must never cost the user the result
            logging.getLogger("mhtcdt.app").warning("the PSA was not recorded in the results store: %s", exc)
    return psa


def trial_value_task(result: Any, psa: Any, request: Any, *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.trial.trial_value.trial_value` on a pipeline result and its PSA (the same call as
    ``mhtcdt evsi``); ``request`` a :class:`~mhtcdt.decision.trial.trial_value.TrialValueRequest`."""
    from mhtcdt.decision.trial.trial_value import trial_value

    return trial_value(result, psa, request, progress=progress)


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
    assumptions: Any = None,
    *,
    progress: Progress,
) -> dict:
    """One patient's physics for the Treatment physics page.

    ``patient``: one-row DataFrame (cohort columns); ``protocol``: :class:`mhtcdt.physics.Protocol`;
    ``seed``: the arm's physics seed; ``assumptions``: the scenario's :class:`mhtcdt.physics.Assumptions`.
    Returns ``{"detail": PatientDetail, "spacing": DataFrame | None}``:
    :func:`mhtcdt.physics.simulate_patient_detail` and, for protocols with more than one heat session,
    :func:`mhtcdt.physics.thermotolerance_by_interval` over ``intervals_hours`` (else None).
    """
    from mhtcdt.physics import simulate_patient_detail, thermotolerance_by_interval

    progress("heat, chemistry and 3-D map of this patient", 0.0)
    detail = simulate_patient_detail(patient, protocol, seed, assumptions=assumptions)
    spacing = None
    if protocol.has_mht and protocol.n_sessions > 1:
        progress("the same sessions spaced differently", 0.6)
        spacing = thermotolerance_by_interval(patient, protocol, seed, intervals_hours, assumptions=assumptions)
    progress("done", 1.0)
    return {"detail": detail, "spacing": spacing}


def subgroups_task(result: Any, psa: Any, *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.model.subgroups.analyse_subgroups` of a run and its PSA (counterfactual physics)."""
    from mhtcdt.decision.model.subgroups import analyse_subgroups

    return analyse_subgroups(result, psa, progress=progress)


def compare_task(labelled_tomls: list[tuple[str, str]], *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.run.compare.run_scenarios` on scenarios given as (label, TOML text), each checked
    against this server's memory first (as :func:`run_pipeline_task`)."""
    from mhtcdt.app.limits import check_scenario_fits
    from mhtcdt.decision.run.compare import run_scenarios

    labelled = [(label, _scenario(text)) for label, text in labelled_tomls]
    for _, scenario in labelled:
        check_scenario_fits(scenario)  # a clear message instead of a MemoryError in the worker
    return run_scenarios(labelled, progress=progress, emulator_cache=True)


def parametric_fits_task(trial: Any, *, progress: Progress) -> Any:
    """The parametric fits table of :func:`mhtcdt.decision.trial.parametric.fit_all` (an analysis on request)."""
    from mhtcdt.decision.trial.parametric import fit_all

    progress("fitting parametric survival curves", 0.0)
    fits, _ = fit_all(trial)
    return fits


def dose_response_task(scenario_toml: str, arm: str, n_patients: int, *, progress: Progress) -> Any:
    """:func:`mhtcdt.decision.model.dose_response.dose_response` (the same call as ``mhtcdt dose-response``)
    for one arm of a scenario given as TOML text, on its first ``n_patients`` eligible patients."""
    from mhtcdt.decision.model.dose_response import dose_response

    return dose_response(
        _scenario(scenario_toml), arm=arm, n_patients=int(n_patients), progress=lambda f: progress("dose-response", f)
    )
