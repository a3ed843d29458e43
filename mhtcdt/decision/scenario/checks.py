"""Cross-layer checks of a scenario, and the mapping of scenario sections onto layer objects.

:func:`mhtcdt.decision.scenario.loading.parse_scenario` checks types and bounds; this module checks what
needs the other layers: that the indication exists, that every criterion parses against the
indication's columns, that stratification columns exist and that the trial design is feasible. (Each arm
is a physics protocol, checked when the scenario is parsed: known agents, field within the safety
limit ...) Every problem is reported, each as one :class:`~mhtcdt.errors.InputError` with a dotted field path.
"""

from __future__ import annotations

import warnings

from pydantic import ValidationError

from mhtcdt.decision.scenario.schema import ArmSpec, Scenario
from mhtcdt.errors import InputError, InputErrors

_PROBE_PATIENTS = 64  # a small cohort is enough to know the columns and exercise every criterion


def protocol_for_arm(arm: ArmSpec) -> ArmSpec:
    """The :class:`mhtcdt.physics.Protocol` of a scenario arm: the arm itself (an ``ArmSpec`` is a
    ``Protocol`` with a name, validated when the scenario was parsed)."""
    return arm


def trial_design(scenario: Scenario):
    """The :class:`mhtcdt.decision.trial.design.TrialDesign` of a scenario's ``[trial]`` section."""
    from mhtcdt.decision.trial.design import TrialDesign

    fields = scenario.trial.model_dump(exclude={"reference_arm", "rmst_horizon_months"})
    return TrialDesign(**fields)


def _relabel(exc: Exception, prefix: str) -> list[InputError]:
    """Prefix the field paths of errors raised by a layer with the scenario section they came from."""
    if isinstance(exc, InputErrors):
        return [InputError(f"{prefix}.{e.field}", e.value, e.message) for e in exc.errors]
    if isinstance(exc, InputError):
        return [InputError(f"{prefix}.{exc.field}", exc.value, exc.message)]
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            out.append(
                InputError(
                    f"{prefix}.{loc}" if loc else prefix, err.get("input"), err["msg"].removeprefix("Value error, ")
                )
            )
        return out
    return [InputError(prefix, None, str(exc))]


def scenario_problems(scenario: Scenario) -> list[InputError]:
    """Every cross-layer problem of a scenario (empty list when it is runnable)."""
    from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria, generate_cohort, known_indications

    problems: list[InputError] = []
    indication = scenario.cohort.indication
    if indication not in known_indications():
        problems.append(
            InputError("cohort.indication", indication, f"unknown indication; known: {', '.join(known_indications())}")
        )
    else:
        probe = generate_cohort(indication, _PROBE_PATIENTS, seed=0)
        for i, criterion in enumerate(scenario.cohort.criteria):
            try:
                with warnings.catch_warnings():  # the probe only checks syntax and columns
                    warnings.simplefilter("ignore", EmptySelectionWarning)
                    apply_criteria(probe, [criterion])
            except (InputError, InputErrors) as exc:
                for e in _relabel(exc, "cohort"):
                    problems.append(InputError(f"cohort.criteria[{i}]", criterion, e.message))
        for i, column in enumerate(scenario.trial.stratify_by):
            if column not in probe.columns:
                problems.append(
                    InputError(
                        f"trial.stratify_by[{i}]",
                        column,
                        f"not a cohort column; columns: {', '.join(map(str, probe.columns))}",
                    )
                )

    try:
        trial_design(scenario)
    except (InputError, InputErrors, ValidationError, ValueError) as exc:
        problems.extend(_relabel(exc, "trial"))
    problems.extend(outcome_model_problems(scenario))
    return problems


def outcome_model_problems(scenario: Scenario) -> list[InputError]:
    """The disease setting and the calibration a scenario runs with: a bad or mismatched calibration file,
    or an arm asking for an effect (e.g. bevacizumab) the calibration has no targets for."""
    from mhtcdt.decision.model.calibration_file import calibration_problems, scenario_params
    from mhtcdt.decision.model.setting import GENERATOR

    problems: list[InputError] = []
    if scenario.cohort.disease_setting == "newly_diagnosed" and scenario.cohort.indication != GENERATOR:
        problems.append(
            InputError(
                "cohort.disease_setting",
                "newly_diagnosed",
                f"a newly diagnosed population is derived from the {GENERATOR} generator, not "
                f"{scenario.cohort.indication}",
            )
        )
        return problems
    try:
        params = scenario_params(scenario)
    except (InputError, InputErrors) as exc:
        return _relabel(exc, "calibration") if not str(getattr(exc, "field", "")).startswith("calibration") else [exc]
    return problems + calibration_problems(scenario, params)


def check_scenario(scenario: Scenario) -> None:
    """Raise :class:`InputErrors` listing every cross-layer problem of ``scenario``."""
    problems = scenario_problems(scenario)
    if problems:
        raise InputErrors(problems)
