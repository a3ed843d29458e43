"""Cross-field and cross-layer checks of a scenario, and the mapping of scenario sections onto layer objects.

:func:`mhtcdt.decision.scenario.loading.parse_scenario` checks types and bounds (the schema) together with
the rules over several fields of this module (:func:`data_problems`); :func:`validate_scenario_data` adds
what needs the other layers' data (criteria against the indication's columns, strata, the trial design)
and reports every problem of every stage at once. It is what ``mhtcdt validate`` and ``mhtcdt run``
check before any compute, and what the app checks on upload.

The rules here run on the parsed TOML mapping, section by section, so a problem in one section never
hides a problem in another; each is one :class:`~mhtcdt.errors.InputError` whose dotted field path names
the field (and the message the other fields involved), never a dump of a section:

* arm references: unique arm names; ``trial.reference_arm`` is an arm and is randomised (it has an
  ``trial.allocation`` weight); ``trial.allocation`` names only arms;
* the reference case (:mod:`.reference_case`): the currency is the jurisdiction's, no 'societal' perspective
  (not modelled), a willingness to pay where the jurisdiction sets none, a cost transfer at its own price year;
* the economic grid: the horizon is at least one cycle; Simpson's rule gets an even number of cycles
  (and is refused with Kaplan-Meier curves, whose horizon is cut at the follow-up); enough PSA draws for
  the EVPPI regression; the currency is an ISO 4217 code; utilities lie in [0, 1];
* each ``[[economics.uncertainty]]`` entry: low < high, the distribution's own support, the range within
  the parameter's bounds (:data:`PARAMETER_BOUNDS`), containing the scenario value, a distribution that
  can be built, and one that does not draw outside the parameter's bounds (:data:`MAX_EXPECTED_OUTSIDE`);
* each arm's field amplitude and frequency within the device envelope (``physics/data/magnetics.toml``);
* the indication exists and has an outcome model;
* no arm gives a drug of another indication (:data:`INDICATION_ONLY_ARM_FIELDS`: temozolomide, lomustine and
  bevacizumab are glioblastoma treatments, gemcitabine and FOLFIRINOX cycles pancreas ones);
* no control characters in names, criteria and other text (they would reach terminals and files).

(Each arm is a physics protocol, checked when the scenario is parsed: known agents, field within the
safety limit ...)
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from mhtcdt.decision.scenario.reference_case import reference_case_problems
from mhtcdt.decision.scenario.schema import (
    UNCERTAIN_PARAMETERS,
    ArmSpec,
    CohortSpec,
    CostSpec,
    EconomicsSpec,
    Scenario,
    TrialSpec,
    UtilitySpec,
)
from mhtcdt.errors import InputError, InputErrors

_PROBE_PATIENTS = 64  # a small cohort is enough to know the columns and exercise every criterion

#: [lower, upper] of each economic input as the economic model takes it: costs are amounts >= 0,
#: utilities QALY weights in [0, 1] (the partitioned-survival model has no state worse than death)
PARAMETER_BOUNDS = {"costs": (0.0, math.inf), "utilities": (0.0, 1.0)}
#: a PSA distribution may put at most this expected number of the scenario's draws outside the
#: parameter's bounds (one run in a thousand would fail on an impossible draw)
MAX_EXPECTED_OUTSIDE = 1e-3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CURRENCY = re.compile(r"[A-Z]{3}")


def protocol_for_arm(arm: ArmSpec) -> ArmSpec:
    """The :class:`mhtcdt.physics.Protocol` of a scenario arm: the arm itself (an ``ArmSpec`` is a
    ``Protocol`` with a name, validated when the scenario was parsed)."""
    return arm


def trial_design(scenario: Scenario):
    """The :class:`mhtcdt.decision.trial.design.TrialDesign` of a scenario's ``[trial]`` section."""
    return _design(scenario.trial)


def _design(trial: TrialSpec):
    from mhtcdt.decision.trial.design import TrialDesign

    return TrialDesign(**trial.model_dump(exclude={"reference_arm", "rmst_horizon_months"}))


# --------------------------------------------------------------------------------------------------
# Reading fields of a mapping that may not validate as a whole
# --------------------------------------------------------------------------------------------------
@cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    info = model.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)


def _field(section: Any, model: type[BaseModel], name: str) -> Any | None:
    """The validated value of one field of a section (its default when absent), or None when it is
    missing, invalid or a bool given for a number (the schema reports those)."""
    info = model.model_fields[name]
    if not isinstance(section, Mapping):
        return None
    if name not in section:
        return None if info.is_required() else info.get_default(call_default_factory=True)
    raw = section[name]
    if isinstance(raw, bool) and info.annotation is not bool:
        return None
    try:
        value = _adapter(model, name).validate_python(raw)
    except ValidationError:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _section(data: Any, model: type[BaseModel], key: str) -> Any | None:
    """``data[key]`` validated as ``model``, or None (its problems are reported by the schema)."""
    if not isinstance(data, Mapping) or not isinstance(data.get(key), Mapping):
        return None
    try:
        return model.model_validate(data[key])
    except (ValidationError, InputError, InputErrors):
        return None


def _items(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------------------------------
# Rules over several fields (no other layer's data needed beyond small tables)
# --------------------------------------------------------------------------------------------------
def _text_problems(data: Mapping) -> list[InputError]:
    """Control characters (escape sequences, bell, NUL ...) in the text a scenario carries."""
    texts: list[tuple[str, Any]] = [("name", data.get("name")), ("description", data.get("description"))]
    texts += [(f"arms[{i}].name", a.get("name")) for i, a in enumerate(_items(data, "arms")) if isinstance(a, Mapping)]
    cohort, trial = data.get("cohort"), data.get("trial")
    texts += [(f"cohort.criteria[{i}]", c) for i, c in enumerate(_items(cohort, "criteria"))]
    texts += [(f"trial.stratify_by[{i}]", c) for i, c in enumerate(_items(trial, "stratify_by"))]
    if isinstance(trial, Mapping):
        texts.append(("trial.reference_arm", trial.get("reference_arm")))
        if isinstance(trial.get("allocation"), Mapping):
            texts += [("trial.allocation", k) for k in trial["allocation"]]
    eco = data.get("economics")
    texts += [
        (f"economics.uncertainty[{i}].source", u.get("source"))
        for i, u in enumerate(_items(eco, "uncertainty"))
        if isinstance(u, Mapping)
    ]
    out = []
    for path, text in texts:
        if not isinstance(text, str):
            continue
        allowed = text.replace("\n", "").replace("\t", "") if path == "description" else text
        if _CONTROL.search(allowed):
            out.append(InputError(path, text, "contains control characters (escape sequences, bell, NUL ...)"))
    return out


def _arm_reference_problems(data: Mapping) -> list[InputError]:
    """Unique arm names; the reference arm is an arm and is randomised; allocation names only arms."""
    arms = _items(data, "arms")
    names = [a.get("name") if isinstance(a, Mapping) else None for a in arms]
    out = []
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if isinstance(name, str):
            if name in first:
                out.append(InputError(f"arms[{i}].name", name, f"arm names must be unique: arms[{first[name]}] too"))
            first.setdefault(name, i)
    if not arms or not all(isinstance(n, str) for n in names):
        return out  # the schema reports the missing names; references cannot be checked yet
    trial = data.get("trial")
    if not isinstance(trial, Mapping):
        return out
    ref, allocation = trial.get("reference_arm"), trial.get("allocation")
    if isinstance(allocation, Mapping):
        for name in allocation:
            if name not in first:
                out.append(InputError("trial.allocation", name, f"names no arm; arms are {names}"))
    if isinstance(ref, str):
        if ref not in first:
            out.append(InputError("trial.reference_arm", ref, f"is not an arm; arms are {names}"))
        elif isinstance(allocation, Mapping) and ref not in allocation:
            out.append(
                InputError(
                    "trial.reference_arm",
                    ref,
                    f"is not randomised: trial.allocation gives it no weight (it lists {list(allocation)})",
                )
            )
    return out


def _grid_problems(eco: Any) -> list[InputError]:
    """Horizon, cycle, counting rule, PSA draws, currency and utilities of ``[economics]``."""
    from mhtcdt.economics.voi import MIN_EVPPI_DRAWS

    out = []
    horizon = _field(eco, EconomicsSpec, "horizon_years")
    cycle = _field(eco, EconomicsSpec, "cycle_months")
    counting = _field(eco, EconomicsSpec, "counting")
    source = _field(eco, EconomicsSpec, "survival_source")
    if horizon is not None and cycle is not None:
        months = 12.0 * horizon
        if months < cycle:
            out.append(
                InputError(
                    "economics.horizon_years",
                    horizon,
                    f"shorter than one cycle ({months:g} months < economics.cycle_months = {cycle:g})",
                )
            )
        elif counting == "simpson":
            n = math.floor(months / cycle + 1e-9)  # the intervals of economic_model.time_grid_months
            if n % 2:
                out.append(
                    InputError(
                        "economics.counting",
                        counting,
                        f"Simpson's rule needs an even number of cycles; economics.horizon_years = {horizon:g} with "
                        f"economics.cycle_months = {cycle:g} gives {n}",
                    )
                )
    if counting == "simpson" and source == "kaplan_meier":
        out.append(
            InputError(
                "economics.counting",
                counting,
                "Simpson's rule needs an even number of cycles, but with economics.survival_source = 'kaplan_meier' "
                "the horizon is cut at the last follow-up; use another counting rule or parametric survival",
            )
        )
    draws = _field(eco, EconomicsSpec, "psa_draws")
    if draws is not None and draws < MIN_EVPPI_DRAWS:
        out.append(
            InputError(
                "economics.psa_draws",
                draws,
                f"the value-of-information analysis (EVPPI regression) needs at least {MIN_EVPPI_DRAWS} draws",
            )
        )
    currency = _field(eco, EconomicsSpec, "currency")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        out.append(InputError("economics.currency", currency, "an ISO 4217 code is three capital letters, e.g. GBP"))
    lo, hi = PARAMETER_BOUNDS["utilities"]
    utilities = eco.get("utilities") if isinstance(eco, Mapping) else None
    for name in UtilitySpec.model_fields:
        value = _field(utilities, UtilitySpec, name)
        if value is not None and not lo <= value <= hi:
            out.append(
                InputError(
                    f"economics.utilities.{name}",
                    value,
                    f"utilities lie in [{lo:g}, {hi:g}]: the partitioned-survival model has no state worse than death",
                )
            )
    return out


def _point_values(eco: Any) -> dict[str, float]:
    """Valid point values of the uncertain economic inputs, by dotted name (``costs.mht_course``)."""
    out = {}
    for section, model in (("costs", CostSpec), ("utilities", UtilitySpec)):
        raw = eco.get(section) if isinstance(eco, Mapping) else None
        for name in model.model_fields:
            value = _field(raw, model, name)
            if value is not None:
                out[f"{section}.{name}"] = float(value)
    return out


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _outside_probability(dist: Any, lower: float, upper: float) -> float:
    """P(draw < lower or draw > upper) of an :mod:`mhtcdt.economics.psa` distribution (scipy twin)."""
    from scipy import stats

    from mhtcdt.economics import psa as econ_psa

    if isinstance(dist, econ_psa.Gamma):
        twin = stats.gamma(dist.shape, scale=dist.scale)
    elif isinstance(dist, econ_psa.Beta):
        twin = stats.beta(*dist.alpha_beta)
    elif isinstance(dist, econ_psa.LogNormal):
        twin = stats.lognorm(dist.sdlog, scale=math.exp(dist.meanlog))
    else:
        twin = stats.norm(dist.mean_value, dist.sd)
    below = twin.cdf(lower) if math.isfinite(lower) else 0.0
    above = twin.sf(upper) if math.isfinite(upper) else 0.0
    return float(below + above)


def _uncertainty_problems(eco: Any) -> list[InputError]:
    """Each ``[[economics.uncertainty]]`` entry against its distribution, its parameter and the scenario."""
    from mhtcdt.decision.model.psa import distribution_for  # the PSA's own mapping (a later stage)

    points = _point_values(eco)
    draws = _field(eco, EconomicsSpec, "psa_draws")
    draws = 1000 if draws is None else draws
    out: list[InputError] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(_items(eco, "uncertainty")):
        if not isinstance(raw, Mapping):
            continue
        at = f"economics.uncertainty[{i}]"
        param, dist_name = raw.get("parameter"), raw.get("distribution")
        low, high = _number(raw.get("low")), _number(raw.get("high"))
        if param not in UNCERTAIN_PARAMETERS or dist_name not in ("gamma", "beta", "lognormal", "normal"):
            continue  # the schema names these
        if param in seen:
            out.append(InputError(f"{at}.parameter", param, f"listed twice: economics.uncertainty[{seen[param]}] too"))
            continue
        seen[param] = i
        if low is None or high is None:
            continue
        lower, upper = PARAMETER_BOUNDS[param.split(".")[0]]
        found = []
        if not low < high:
            found.append(InputError(f"{at}.high", high, f"must be above {at}.low = {low:g}"))
        if dist_name in ("gamma", "lognormal") and low <= 0:
            found.append(InputError(f"{at}.low", low, f"a {dist_name} distribution needs low > 0"))
        if dist_name == "beta" and not (0 < low and high < 1):
            bad, value = ("low", low) if not 0 < low else ("high", high)
            found.append(InputError(f"{at}.{bad}", value, "a beta distribution needs 0 < low and high < 1"))
        if low < lower:
            found.append(InputError(f"{at}.low", low, f"below the smallest possible {param} ({lower:g})"))
        if high > upper:
            found.append(InputError(f"{at}.high", high, f"above the largest possible {param} ({upper:g})"))
        point = points.get(param)
        if point is not None and not low <= point <= high:
            bad, value = ("low", low) if point < low else ("high", high)
            found.append(
                InputError(
                    f"{at}.{bad}",
                    value,
                    f"the range [{low:g}, {high:g}] does not contain the scenario value economics.{param} = {point:g}",
                )
            )
        out += found
        if found or point is None:
            continue
        spec = _UncertainEntry(param, dist_name, low, high)
        try:
            dist = distribution_for(spec, point)
        except InputError as exc:
            out.append(InputError(f"{at}.distribution", dist_name, f"cannot be built from this range: {exc.message}"))
            continue
        outside = _outside_probability(dist, lower, upper)
        if outside * draws > MAX_EXPECTED_OUTSIDE:
            better = "beta" if param.startswith("utilities") else "gamma"
            where = f"below {lower:g}" if math.isinf(upper) else f"outside [{lower:g}, {upper:g}]"
            out.append(
                InputError(
                    f"{at}.distribution",
                    dist_name,
                    f"draws {param} {where} with probability {outside:.2g} (about {outside * draws:.2g} of "
                    f"{draws} PSA draws); a {better} distribution stays inside",
                )
            )
    return out


class _UncertainEntry:
    """The fields of one uncertainty entry that :func:`~mhtcdt.decision.model.psa.distribution_for` reads."""

    def __init__(self, parameter: str, distribution: str, low: float, high: float) -> None:
        self.parameter, self.distribution, self.low, self.high = parameter, distribution, low, high


def _device_problems(data: Mapping) -> list[InputError]:
    """Field amplitude and frequency of each heat arm within the device envelope (magnetics.toml)."""
    from mhtcdt.physics.particles import check_field, load_magnetics

    device = load_magnetics()["device_range"]
    out = []
    for i, raw in enumerate(_items(data, "arms")):
        arm = _section({"arm": raw}, ArmSpec, "arm")
        if arm is None or not arm.has_mht:
            continue
        checks = [(device["field_kA_per_m"][0], arm.field_freq_kHz)]
        if arm.field_kA_per_m is not None:
            checks.append((arm.field_kA_per_m, device["freq_kHz"][0]))
        for field_kA_per_m, freq_kHz in checks:
            try:
                check_field(field_kA_per_m, freq_kHz)
            except InputError as exc:
                name = "field_freq_kHz" if exc.field == "freq_kHz" else exc.field  # the protocol's names
                out.append(InputError(f"arms[{i}].{name}", exc.value, exc.message))
    return out


def _indication_problems(data: Mapping) -> list[InputError]:
    """The indication has a cohort data file and an outcome model."""
    from mhtcdt.cohorts import known_indications
    from mhtcdt.decision.model.outcome import PPS_KEY_BY_INDICATION

    indication = _field(data.get("cohort"), CohortSpec, "indication")
    if indication is None:
        return []
    if indication not in known_indications():
        return [
            InputError("cohort.indication", indication, f"unknown indication; known: {', '.join(known_indications())}")
        ]
    if indication not in PPS_KEY_BY_INDICATION:
        supported = sorted(set(PPS_KEY_BY_INDICATION) & set(known_indications()))
        return [
            InputError(
                "cohort.indication",
                indication,
                f"no outcome model for this indication (the outcome model is calibrated for {', '.join(supported)})",
            )
        ]
    return []


#: arm fields (systemic therapies) given in one indication only: an arm of another indication that sets them is an
#: error naming the field (the outcome model has no calibrated effect of e.g. lomustine in the pancreas)
INDICATION_ONLY_ARM_FIELDS = {
    "tmz_concomitant": ("recurrent_glioblastoma",),
    "tmz_adjuvant_cycles": ("recurrent_glioblastoma",),
    "lomustine": ("recurrent_glioblastoma",),
    "bevacizumab": ("recurrent_glioblastoma",),
    "gemcitabine_cycles": ("pancreas",),
    "folfirinox_cycles": ("pancreas",),
}


def _arm_indication_problems(data: Mapping) -> list[InputError]:
    """Arms giving a drug of another indication (e.g. lomustine in a pancreas arm, FOLFIRINOX for glioblastoma)."""
    indication = _field(data.get("cohort"), CohortSpec, "indication")
    arms = data.get("arms")
    if indication is None or not isinstance(arms, list):
        return []
    problems = []
    for i, arm in enumerate(arms):
        if not isinstance(arm, Mapping):
            continue
        for name, owners in INDICATION_ONLY_ARM_FIELDS.items():
            value = arm.get(name)
            if indication not in owners and value not in (None, False, 0):
                problems.append(
                    InputError(
                        f"arms[{i}].{name}",
                        value,
                        f"{name} is a treatment of {', '.join(owners)} only, not of {indication} "
                        f"(cohort.indication); remove it from this arm",
                    )
                )
    return problems


def data_problems(data: Any) -> list[InputError]:
    """Every problem of the rules over several fields (module docstring) in a parsed scenario mapping.

    Each rule reads only the fields it needs and only when they are valid on their own, so every
    problem is found whatever else is wrong; the schema reports the fields themselves.
    """
    if not isinstance(data, Mapping):
        return []
    eco = data.get("economics")
    return (
        _text_problems(data)
        + _arm_reference_problems(data)
        + _grid_problems(eco)
        + reference_case_problems(eco)
        + _uncertainty_problems(eco)
        + _device_problems(data)
        + _indication_problems(data)
        + _arm_indication_problems(data)
    )


# --------------------------------------------------------------------------------------------------
# Checks against the other layers' data (a probe cohort of the indication, the trial design)
# --------------------------------------------------------------------------------------------------
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


def layer_problems(data: Any) -> list[InputError]:
    """Criteria and strata against a probe cohort of the indication; the trial design's feasibility.

    Reads the fields it needs from the scenario mapping ``data`` one by one (a criterion is checked
    whenever the indication and the criteria list are valid, whatever else is wrong)."""
    from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria, generate_cohort, known_indications

    problems: list[InputError] = []
    cohort_data = data.get("cohort") if isinstance(data, Mapping) else None
    trial_data = data.get("trial") if isinstance(data, Mapping) else None
    indication = _field(cohort_data, CohortSpec, "indication")
    if indication in known_indications():
        probe = generate_cohort(indication, _PROBE_PATIENTS, seed=0)
        for i, criterion in enumerate(_field(cohort_data, CohortSpec, "criteria") or ()):
            try:
                with warnings.catch_warnings():  # the probe only checks syntax and columns
                    warnings.simplefilter("ignore", EmptySelectionWarning)
                    apply_criteria(probe, [criterion])
            except (InputError, InputErrors) as exc:
                for e in _relabel(exc, "cohort"):
                    problems.append(InputError(f"cohort.criteria[{i}]", criterion, e.message))
        problems += _foreign_marker_problems(indication, cohort_data, trial_data)
        for i, column in enumerate(_field(trial_data, TrialSpec, "stratify_by") or ()):
            if column not in probe.columns:
                problems.append(
                    InputError(
                        f"trial.stratify_by[{i}]",
                        column,
                        f"not a cohort column; columns: {', '.join(map(str, probe.columns))}",
                    )
                )
    trial = _section(data, TrialSpec, "trial")
    if trial is not None:
        try:
            _design(trial)
        except (InputError, InputErrors, ValidationError, ValueError) as exc:
            problems.extend(_relabel(exc, "trial"))
    return problems


#: cohort columns that carry a meaning in one indication only (the generators of the others fill them with a
#: constant): using them elsewhere in criteria or strata is an error, not an empty or meaningless selection
INDICATION_ONLY_COLUMNS = {"mgmt_methylated": ("recurrent_glioblastoma",)}


def _foreign_marker_problems(indication: str, cohort_data: Any, trial_data: Any) -> list[InputError]:
    """Criteria or strata naming a column of another indication (e.g. MGMT status in a prostate cohort)."""
    problems = []
    for column, owners in INDICATION_ONLY_COLUMNS.items():
        if indication in owners:
            continue
        why = f"{column} is a marker of {', '.join(owners)} only, not of {indication}"
        for i, criterion in enumerate(_field(cohort_data, CohortSpec, "criteria") or ()):
            if isinstance(criterion, str) and re.search(rf"\b{column}\b", criterion):
                problems.append(InputError(f"cohort.criteria[{i}]", criterion, why))
        for i, name in enumerate(_field(trial_data, TrialSpec, "stratify_by") or ()):
            if name == column:
                problems.append(InputError(f"trial.stratify_by[{i}]", name, why))
    return problems


def scenario_problems(scenario: Scenario) -> list[InputError]:
    """Every cross-layer problem of a valid scenario (empty list when it is runnable)."""
    data = scenario.model_dump(mode="json")
    return _indication_problems(data) + layer_problems(data) + outcome_model_problems(scenario)


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


def validate_scenario_data(data: Any, source: str = "scenario") -> Scenario:
    """Everything a run checks before any compute, every problem at once: input bounds, strict types,
    the schema, the rules of :func:`data_problems` and :func:`layer_problems` (on every section that
    validates). Returns the scenario or raises :class:`InputErrors`."""
    from mhtcdt.decision.scenario.loading import parse_scenario, structure_problems

    bounded = structure_problems(data, source)
    if bounded:
        raise InputErrors(bounded)
    try:
        scenario = parse_scenario(data)
        problems: list[InputError] = []
    except InputErrors as exc:
        scenario, problems = None, list(exc.errors)
    seen = {(e.field, e.message) for e in problems}
    problems += [p for p in layer_problems(data) if (p.field, p.message) not in seen]
    if scenario is not None:  # the disease setting and the calibration, once the scenario is valid
        problems += [p for p in outcome_model_problems(scenario) if (p.field, p.message) not in seen]
    if problems:
        raise InputErrors(problems)
    return scenario


def validate_scenario_text(text: str, source: str = "<text>") -> Scenario:
    """:func:`validate_scenario_data` of TOML text (malformed or oversized text names ``source``)."""
    from mhtcdt.decision.scenario.loading import parse_toml

    return validate_scenario_data(parse_toml(text, source), source)
