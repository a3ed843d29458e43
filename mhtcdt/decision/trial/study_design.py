"""The design of a randomised trial whose information is valued (EVSI): arms, allocation, endpoint, analysis,
accrual and follow-up, resolved against a scenario.

A :class:`StudyDesign` names its arms by *role* or by the scenario's arm names:

* ``"reference"``: the scenario's reference arm (``trial.reference_arm``);
* ``"experimental"``: the first randomised arm of the scenario that is not the reference;
* ``"mht_alone"``: the experimental arm without its radiotherapy (``rt_total_dose_Gy = 0``,
  ``rt_n_fractions = 0``), as in the closed NanoTherm trial MF1001; an arm the scenario does not have, so
  its physics and survival are simulated but it is not a strategy of the economic model;
* any arm name of the scenario.

The first arm is the control of every comparison. Endpoints are what the outcome model produces: overall
survival (``"OS"``) or progression-free survival (``"PFS"``); the analysis is either the log-rank test with
the Peto log hazard ratio of each arm against the control (``"log_rank"``, stratified by the scenario's
randomisation strata when it stratifies) or the Kaplan-Meier survival rate of each arm at ``landmark_months``
(``"landmark"``, e.g. 12-month survival, MF1001's primary endpoint). A short text form is accepted by
:func:`parse_endpoint`: ``"OS"``, ``"PFS"``, ``"OS@12"`` (12-month survival), ``"PFS@6"``.

Accrual and follow-up default to the scenario's ``[trial]`` section; ``min_follow_up_months`` can be varied
(a design axis of the expected net benefit of sampling). :func:`mf1001_design` reads the MF1001 design from
``data/trial_value.toml`` (with its sources). Every problem is an :class:`~mhtcdt.errors.InputError` naming the
field (``design.endpoint``, ``design.arms`` ...) and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.trial.design import TrialDesign
from mhtcdt.errors import InputError, InputErrors

ENDPOINTS = ("OS", "PFS")
ANALYSES = ("log_rank", "landmark")
ROLES = ("reference", "experimental", "mht_alone")
DATA_PACKAGE = "mhtcdt.decision.trial"
DATA_FILE = "data/trial_value.toml"
#: protocol fields changed to derive the "mht_alone" arm from the experimental arm
MHT_ALONE_CHANGES: Mapping[str, Any] = {"rt_total_dose_Gy": 0.0, "rt_n_fractions": 0}
MHT_ALONE_NAME = "NanoTherm alone (derived)"


@dataclass(frozen=True)
class StudyDesign:
    """A randomised trial to value (see the module docstring; ``None`` fields take the scenario's values)."""

    arms: tuple[str, ...] = ("reference", "experimental")
    allocation: tuple[float, ...] | None = None
    endpoint: str = "OS"
    analysis: str = "log_rank"
    landmark_months: float | None = None
    min_follow_up_months: float | None = None
    accrual_per_month: float | None = None
    label: str = ""

    def problems(self) -> list[InputError]:
        """Every problem of the design on its own (the scenario is checked by :meth:`resolve`)."""
        out = []
        if self.endpoint not in ENDPOINTS:
            out.append(
                InputError(
                    "design.endpoint",
                    self.endpoint,
                    "the outcome model produces overall and progression-free survival only: use 'OS' or 'PFS' "
                    "(a survival rate at a time point is the 'landmark' analysis, e.g. 'OS@12')",
                )
            )
        if self.analysis not in ANALYSES:
            out.append(InputError("design.analysis", self.analysis, f"use one of {list(ANALYSES)}"))
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms):
            out.append(InputError("design.arms", list(self.arms), "a randomised trial needs two or more distinct arms"))
        if self.allocation is not None:
            if len(self.allocation) != len(self.arms):
                out.append(InputError("design.allocation", list(self.allocation), "needs one weight per arm"))
            elif not all(isinstance(w, (int, float)) and math.isfinite(w) and w > 0 for w in self.allocation):
                out.append(InputError("design.allocation", list(self.allocation), "weights must be positive numbers"))
        if self.analysis == "landmark":
            lm = self.landmark_months
            if lm is None or not (isinstance(lm, (int, float)) and math.isfinite(lm) and 0 < lm <= 240):
                out.append(InputError("design.landmark_months", lm, "a landmark analysis needs a time in (0, 240]"))
        elif self.landmark_months is not None:
            out.append(
                InputError("design.landmark_months", self.landmark_months, "only used by the 'landmark' analysis")
            )
        for name in ("min_follow_up_months", "accrual_per_month"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 10_000):
                out.append(InputError(f"design.{name}", v, "must be a positive number"))
        return out

    @property
    def endpoint_label(self) -> str:
        """``"OS"``, ``"PFS"``, or ``"OS@12"`` for a landmark analysis."""
        if self.analysis == "landmark":
            return f"{self.endpoint}@{self.landmark_months:g}"
        return self.endpoint

    def describe(self) -> str:
        """The design's label, or a short description."""
        if self.label:
            return self.label
        fu = "" if self.min_follow_up_months is None else f", follow-up {self.min_follow_up_months:g} mo"
        what = (
            f"{self.endpoint} survival at {self.landmark_months:g} mo"
            if self.analysis == "landmark"
            else f"{self.endpoint}, log-rank"
        )
        return f"{len(self.arms)} arms, {what}{fu}"


def parse_endpoint(text: str) -> tuple[str, str, float | None]:
    """``"OS"`` -> ("OS", "log_rank", None); ``"OS@12"`` -> ("OS", "landmark", 12.0). Raises InputError."""
    raw = str(text).strip()
    head, _, tail = raw.partition("@")
    head = head.strip().upper()
    if not tail:
        return head, "log_rank", None
    try:
        months = float(tail)
    except ValueError:
        raise InputError("design.endpoint", raw, "write a landmark as ENDPOINT@MONTHS, e.g. 'OS@12'") from None
    return head, "landmark", months


def with_endpoint(design: StudyDesign, text: str) -> StudyDesign:
    """A copy of ``design`` with the endpoint and analysis of ``text`` (see :func:`parse_endpoint`)."""
    endpoint, analysis, landmark = parse_endpoint(text)
    return replace(design, endpoint=endpoint, analysis=analysis, landmark_months=landmark, label="")


@dataclass(frozen=True)
class ResolvedDesign:
    """A :class:`StudyDesign` bound to a scenario.

    ``arms``: arm names (scenario names; the derived MHT-alone arm under :data:`MHT_ALONE_NAME`), the control
    first; ``weights``: allocation weights per arm; ``scenario``: the scenario with any derived arm added
    (not randomised in its own trial); ``trial_design``: the scenario's randomisation and follow-up with this
    design's accrual and follow-up; ``derived``: names of arms the scenario did not have.
    """

    design: StudyDesign
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    scenario: Any
    trial_design: TrialDesign
    derived: tuple[str, ...] = field(default_factory=tuple)

    @property
    def control(self) -> str:
        return self.arms[0]

    @property
    def endpoint(self) -> str:
        return self.design.endpoint

    def summary_names(self) -> tuple[str, ...]:
        """Names of the summary statistics the analysis reduces a trial to (see :mod:`.trial_data`)."""
        if self.design.analysis == "landmark":
            return tuple(f"km_{self.design.landmark_months:g}m[{a}]" for a in self.arms)
        if len(self.arms) == 2:
            return (f"log_hr[{self.arms[1]}]", f"se_log_hr[{self.arms[1]}]")
        return tuple(f"log_hr[{a}]" for a in self.arms[1:])

    def months_to_report(self, n_patients: int, reporting_lag_months: float) -> float:
        """Expected time from the first randomisation to results [months]: accrual of ``n_patients``, the
        minimum follow-up (or the fixed data cut-off) and the reporting lag."""
        td = self.trial_design
        end = (
            td.data_cutoff_months
            if td.data_cutoff_months is not None
            else td.expected_accrual_months(n_patients) + td.min_follow_up_months
        )
        return float(end + reporting_lag_months)


def resolve(design: StudyDesign, scenario: Any) -> ResolvedDesign:
    """Bind ``design`` to ``scenario``: arm roles to arms, allocation and follow-up defaults; InputErrors."""
    problems = design.problems()
    ref = scenario.trial.reference_arm
    others = [a.name for a in scenario.randomised_arms if a.name != ref]
    names: list[str] = []
    derived: list[str] = []
    sc = scenario
    for role in design.arms:
        if role == "reference":
            names.append(ref)
        elif role in ("experimental", "mht_alone"):
            if not others:
                problems.append(InputError("design.arms", role, "the scenario has no randomised experimental arm"))
                continue
            if role == "experimental":
                names.append(others[0])
                continue
            base = scenario.arm(others[0])
            if not (base.has_mht and base.has_rt):
                problems.append(
                    InputError("design.arms", role, f"needs an experimental arm with MHT and RT; {base.name!r} is not")
                )
                continue
            names.append(MHT_ALONE_NAME)
            derived.append(MHT_ALONE_NAME)
        else:
            try:
                scenario.arm(role)
            except KeyError:
                known = [a.name for a in scenario.arms]
                problems.append(
                    InputError("design.arms", role, f"not an arm of the scenario {known} nor a role {list(ROLES)}")
                )
                continue
            names.append(role)
    if len(set(names)) != len(names):
        problems.append(InputError("design.arms", list(design.arms), "names the same arm twice"))
    if problems:
        raise InputErrors(problems) if len(problems) > 1 else problems[0]
    if derived:
        base = scenario.arm(others[0])
        arm = type(base)(**{**base.model_dump(), **MHT_ALONE_CHANGES, "name": MHT_ALONE_NAME})
        sc = scenario.model_copy(update={"arms": [*scenario.arms, arm]})
    if design.allocation is None:
        alloc = scenario.trial.allocation
        weights = tuple(float(alloc.get(a, 1.0)) for a in names)
    else:
        weights = tuple(float(w) for w in design.allocation)
    t = scenario.trial
    td = TrialDesign(
        allocation=dict(zip(names, weights, strict=True)),
        stratify_by=list(t.stratify_by),
        block_size=_block_size(weights, t.block_size),
        accrual_per_month=float(design.accrual_per_month or t.accrual_per_month),
        min_follow_up_months=float(design.min_follow_up_months or t.min_follow_up_months),
        dropout_per_year=float(t.dropout_per_year),
        data_cutoff_months=t.data_cutoff_months,
    )
    if design.analysis == "landmark" and design.landmark_months > td.min_follow_up_months:
        raise InputError(
            "design.landmark_months",
            design.landmark_months,
            f"every patient must be followed to the landmark: the minimum follow-up is {td.min_follow_up_months:g} "
            "months (set design.min_follow_up_months at least as long)",
        )
    return ResolvedDesign(design, tuple(names), weights, sc, td, tuple(derived))


def _block_size(weights: tuple[float, ...], scenario_block: int) -> int:
    """A block holding whole allocation cycles: the scenario's block size if it is a multiple of the integer
    ratio, else the smallest multiple of the ratio's sum at least as large."""
    from mhtcdt.decision.trial.design import integer_weights

    total = sum(integer_weights({str(i): w for i, w in enumerate(weights)}).values())
    return scenario_block if scenario_block % total == 0 else total * max(1, math.ceil(scenario_block / total))


def mf1001_design() -> StudyDesign:
    """The closed MF1001 trial's design from ``data/trial_value.toml`` (three arms, 12-month survival)."""
    d = load_toml(DATA_PACKAGE, DATA_FILE)["mf1001"]
    return StudyDesign(
        arms=tuple(d["arms"]),
        allocation=tuple(float(w) for w in d["allocation"]),
        endpoint=str(d["endpoint"]),
        analysis=str(d["analysis"]),
        landmark_months=float(d["landmark_months"]),
        min_follow_up_months=float(d["min_follow_up_months"]),
        label=str(d["label"]),
    )


def mf1001_sample_size() -> int:
    """MF1001's planned number of patients (data file)."""
    return int(load_toml(DATA_PACKAGE, DATA_FILE)["mf1001"]["n_patients"])
