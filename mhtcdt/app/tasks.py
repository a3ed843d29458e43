"""Functions the worker process runs (see :mod:`mhtcdt.app.jobs`): thin adapters onto the package API.

Each takes plain, picklable inputs (scenario as TOML text) plus ``progress(stage, fraction)``
and returns the package's own result object. No model logic lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Progress = Callable[[str, float], None]


def _scenario(scenario_toml: str):
    from mhtcdt.decision.scenario import parse_scenario_text

    return parse_scenario_text(scenario_toml, source="app scenario")


def run_pipeline_task(scenario_toml: str, seed: int | None = None, *, progress: Progress) -> Any:
    """``mhtcdt.decision.pipeline.run_pipeline`` on a scenario given as TOML text."""
    from mhtcdt.decision.pipeline import run_pipeline

    return run_pipeline(_scenario(scenario_toml), seed=seed, progress=progress)


def run_psa_task(result: Any, *, progress: Progress) -> Any:
    """``mhtcdt.decision.psa.run_psa`` on a pipeline result (the scenario's own number of draws)."""
    from mhtcdt.decision.psa import run_psa

    return run_psa(result, progress=progress)
