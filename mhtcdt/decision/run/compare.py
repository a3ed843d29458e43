"""Scenario comparison: up to four scenarios run side by side (each with its PSA), for one table and one
cost-effectiveness plane (:mod:`mhtcdt.decision.report.comparison`).

Scenarios that differ only in the willingness to pay or the MHT course price share one run: the second is
the first re-costed (:func:`mhtcdt.decision.model.whatif.apply`), exactly what its own run would give.
Variants of a scenario that a meeting asks for first are built here: another course price
(:func:`price_variant`), another new arm from the physics presets, e.g. chemodynamic therapy added
(:func:`arm_variant`), another comparator (:func:`comparator_variant`, e.g. best supportive care).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mhtcdt.decision.model import whatif
from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.errors import InputError, InputErrors

MAX_SCENARIOS = 4
BEST_SUPPORTIVE_CARE = "Best supportive care"


@dataclass(frozen=True)
class ScenarioRun:
    """One compared scenario: its label, run and PSA (at its own WTP and price)."""

    label: str
    scenario: Scenario
    result: object  # PipelineResult
    psa: object  # PSAResult
    shared_with: str | None = None  # label of the scenario whose run was re-costed for this one


def check_labels(labelled: Sequence[tuple[str, Scenario]]) -> None:
    """2 to :data:`MAX_SCENARIOS` scenarios with distinct, non-empty labels (InputErrors otherwise)."""
    problems = []
    if not 1 <= len(labelled) <= MAX_SCENARIOS:
        problems.append(InputError("scenarios", len(labelled), f"compare 1 to {MAX_SCENARIOS} scenarios"))
    labels = [label for label, _ in labelled]
    for label in labels:
        if not str(label).strip():
            problems.append(InputError("scenarios.label", label, "every scenario needs a label"))
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        problems.append(InputError("scenarios.label", dup, "labels must differ"))
    if problems:
        raise InputErrors(problems)


def run_scenarios(
    labelled: Sequence[tuple[str, Scenario]],
    *,
    n_draws: int | None = None,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    emulator_cache: bool = False,
) -> list[ScenarioRun]:
    """Run each scenario and its PSA (``n_draws``: default each scenario's; ``seed``: default each one's;
    ``emulator_cache``: the PSA's emulators from the on-disk cache, as :func:`~mhtcdt.decision.model.psa.run_psa`
    takes them: the app's base scenario then reuses the answer's)."""
    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.checks import check_scenario

    check_labels(labelled)
    for _, sc in labelled:
        check_scenario(sc)
    runs: list[ScenarioRun] = []
    done: dict[tuple[str, int], ScenarioRun] = {}
    span = 1.0 / len(labelled)
    for i, (label, sc) in enumerate(labelled):
        s = sc.seed if seed is None else int(seed)
        key = (whatif.decision_inputs_text(sc), s)
        report = sub_progress(progress, label, i * span, (i + 1) * span)
        if key in done:
            base = done[key]
            moved = whatif.apply(
                base.result,
                base.psa,
                willingness_to_pay=sc.economics.willingness_to_pay,
                price=sc.economics.costs.mht_course,
            )
            runs.append(ScenarioRun(label, moved.scenario, moved.result, moved.psa, shared_with=base.label))
            report(1.0)
            continue
        result = run_pipeline(sc, seed=s, progress=None if progress is None else (lambda st, f, r=report: r(0.8 * f)))
        psa = run_psa(result, n_draws=n_draws, emulator_cache=emulator_cache)
        at = whatif.apply(result, psa)  # the CEAC grid covering the ICER, as every other view shows it
        run = ScenarioRun(label, sc, at.result, at.psa)
        done[key] = run
        runs.append(run)
        report(1.0)
    return runs


def price_variant(scenario: Scenario, price: float) -> Scenario:
    """The scenario at another MHT course price (its PSA range follows the price)."""
    return whatif.with_price(scenario, price)


def _focal_arm(scenario: Scenario) -> str:
    ref = scenario.trial.reference_arm
    for arm in scenario.randomised_arms:
        if arm.name != ref and arm.has_mht:
            return arm.name
    others = [a.name for a in scenario.randomised_arms if a.name != ref]
    if not others:
        raise InputError("arms", [a.name for a in scenario.arms], "no randomised arm besides the reference")
    return others[0]


def _replace_arm(scenario: Scenario, old: str, fields: dict) -> Scenario:
    from mhtcdt.decision.scenario.loading import parse_scenario

    data = scenario.model_dump(mode="json", exclude_none=True)
    new_name = fields["name"]
    if new_name != old and new_name in [a["name"] for a in data["arms"]]:
        raise InputError("arms", new_name, "the scenario already has an arm of that name")
    data["arms"] = [fields if a["name"] == old else a for a in data["arms"]]
    alloc = data["trial"]["allocation"]
    data["trial"]["allocation"] = {(new_name if k == old else k): v for k, v in alloc.items()}
    if data["trial"]["reference_arm"] == old:
        data["trial"]["reference_arm"] = new_name
    return parse_scenario(data)


def arm_variant(scenario: Scenario, preset: str = "mht_cdt_rt") -> Scenario:
    """The scenario with its new (MHT) arm replaced by a physics preset (default MHT + CDT + RT)."""
    from mhtcdt.physics.presets import PRESETS

    if preset not in PRESETS:
        raise InputError("preset", preset, f"unknown protocol preset; known: {sorted(PRESETS)}")
    return _replace_arm(scenario, _focal_arm(scenario), dict(PRESETS[preset]))


def comparator_variant(scenario: Scenario, preset: str | None = None) -> Scenario:
    """The scenario with another reference arm: a physics preset, or (``None``) best supportive care, an arm
    with no active treatment (no radiotherapy course is costed)."""
    from mhtcdt.physics.presets import PRESETS

    if preset is None:
        fields = {"name": BEST_SUPPORTIVE_CARE}
    elif preset in PRESETS:
        fields = dict(PRESETS[preset])
    else:
        raise InputError("preset", preset, f"unknown protocol preset; known: {sorted(PRESETS)}")
    return _replace_arm(scenario, scenario.trial.reference_arm, fields)


def unpriced_agents(scenario: Scenario) -> list[str]:
    """Warnings for randomised arms with a CDT agent when the scenario prices the agent course at 0."""
    if scenario.economics.costs.cdt_agent_course > 0:
        return []
    return [
        f"'{a.name}' uses a CDT agent that the scenario prices at 0 (no price exists): its value-based price is "
        "what the agent and the MHT course together could cost"
        for a in scenario.randomised_arms
        if a.has_cdt
    ]


def currency_groups(runs: Sequence) -> dict[str, list[int]]:
    """Indices of the compared runs by the currency of their costs, in order of first appearance: money is
    plotted or compared only within one currency (a EUR and a USD scenario get a cost-effectiveness plane each)."""
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        groups.setdefault(run.scenario.economics.currency, []).append(i)
    return groups
