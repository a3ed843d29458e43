"""Fast start: compile every numba kernel once and keep it in numba's on-disk cache.

Every kernel is ``@njit(cache=True)``: the first call compiles it (tens of seconds for the whole physics on a
small machine) and writes the machine code to the cache (``__pycache__`` beside the module, or
``$NUMBA_CACHE_DIR``); every later process loads it in milliseconds. :func:`warm_up` makes those first calls
on a few patients, for every code path the app and the CLI use (radial bioheat with titration, chemistry with
and without a CDT agent, thermal dose, a patient's detail with the 3-D map and session spacing, the
vectorised log-rank of replicate trials and subgroups). ``mhtcdt warmup`` runs it (once after installing: the
README's first command); without it the app's worker compiles each kernel on its first use.

With ``answer`` (the default of ``mhtcdt warmup``) it then computes the app's first screen once, through the
same calls as the app's worker: the default scenario's run and PSA, stored in the result cache
(:mod:`mhtcdt.decision.run.result_cache`), and the PSA's physics emulators in theirs
(:mod:`mhtcdt.decision.model.emulator_cache`). The app's first answer then loads the stored run and PSA instead
of computing them (identical results; both caches are keyed by the inputs and the code). A cold start costs, on
a 2-core machine under a load of 4-5: about 65-100 s of compilation, 40-60 s of emulator building and 10-15 s
for the rest (docs/architecture.md, "Cold start").
"""

from __future__ import annotations

import time

from mhtcdt.decision.progress import ProgressCallback, sub_progress


def warm_up(progress: ProgressCallback | None = None, answer: bool = False) -> float:
    """Compile (or load from the cache) every kernel and, with ``answer``, build the default scenario's PSA
    emulators into their on-disk cache; returns the seconds it took."""
    import numpy as np

    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.checks import protocol_for_arm
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.decision.streams import physics_seed
    from mhtcdt.decision.trial.fastlogrank import logrank_replicates
    from mhtcdt.physics import protocol_preset, simulate_patient_detail, simulate_protocol, thermotolerance_by_interval

    t0 = time.perf_counter()
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 24})})
    share = 0.3 if answer else 1.0  # of the progress: the kernels, then the default answer

    def step(stage: str, lo: float, hi: float):
        return sub_progress(progress, stage, lo * share, hi * share)

    step("compiling the trial's kernels", 0.0, 0.5)(0.0)
    result = run_pipeline(sc, seed=1)
    patients = result.trial.head(2)
    cohort_cols = [c for c in result.cohort.columns if c in patients.columns]
    step("compiling the chemistry of a CDT agent", 0.5, 0.6)(0.0)
    simulate_protocol(patients[cohort_cols], protocol_preset("mht_cdt_rt"), 1)
    step("compiling one patient's detail (3-D map)", 0.6, 0.9)(0.0)
    arm = next(a for a in sc.arms if a.has_mht)
    protocol = protocol_for_arm(arm)
    one = patients[cohort_cols].head(1)
    simulate_patient_detail(one, protocol, physics_seed(1, 1))
    thermotolerance_by_interval(one, protocol, physics_seed(1, 1), (24.0, 84.0))
    step("compiling the log-rank of replicate trials", 0.9, 1.0)(0.0)
    t = np.array([[1.0, 2.0, 3.0, 4.0]])
    g = np.array([[0, 1, 0, 1]])
    logrank_replicates(t, np.ones_like(t, dtype=bool), g)
    logrank_replicates(t, np.ones_like(t, dtype=bool), g, strata=np.zeros_like(g))
    if answer:
        default_answer_emulators(_within(progress, share, 1.0))
    if progress is not None:
        progress("done", 1.0)
    return time.perf_counter() - t0


def default_answer_emulators(progress: ProgressCallback | None = None) -> int:
    """Run the default scenario (the app's first screen) and its PSA through the result cache and the emulator
    cache, as the app's worker does (:func:`mhtcdt.app.tasks.run_pipeline_task` and
    :func:`~mhtcdt.app.tasks.run_psa_task`: the same calls on the same scenario text, seed and code, hence the
    same cache keys); returns how many emulators were already in the cache (-1: the whole PSA was)."""
    from mhtcdt.decision.run.result_cache import cached_pipeline, cached_psa
    from mhtcdt.decision.scenario.loading import default_scenario, parse_scenario_text, scenario_to_toml

    text = scenario_to_toml(default_scenario())  # what the app's session sends its worker
    scenario = parse_scenario_text(text, source="app scenario")
    result, _ = cached_pipeline(scenario, text, scenario.seed, _within(progress, 0.0, 0.2))
    psa, loaded = cached_psa(result, _within(progress, 0.2, 1.0))
    if loaded:  # the whole PSA was stored, so were its emulators (unless they were deleted since)
        return -1
    return 0 if psa.physics is None else psa.physics.loaded_from_cache


def _within(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback | None:
    """``progress`` with a whole run's fractions mapped onto [start, stop] (its stage names kept)."""
    if progress is None:
        return None
    return lambda stage, fraction: progress(stage, start + (stop - start) * fraction)
