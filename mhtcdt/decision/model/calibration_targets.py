"""Calibration targets with their sampling error: populations, arms and targets of ``data/calibration_targets.toml``.

Each :class:`Target` is one normal likelihood term on a scale ``g`` (``log`` for medians and hazard ratios,
``logit`` for landmark proportions, ``identity`` for the structural Cox slope)::

    log L_k = -1/2 (g(sim_k) - centre_k)^2 / (se_k^2 + mc_k^2)

``centre_k = g(value)`` (for a PFS median with scheduled assessments every ``D`` months: ``g(value - D/2)``,
the latent median lies uniformly within the interval before the recording visit, adding ``D^2/12`` to its
variance), and ``se_k`` from the published 95 % or 80 % CI (``(g(upper) - g(lower)) / (2 z)``), else from n and
events (log median ``1/sqrt(events)``, Brookmeyer and Crowley 1982 with an exponential approximation; logit
landmark ``1/sqrt(n p (1-p))``, binomial; log HR ``2/sqrt(events)``), plus ``extra_log_sd`` in quadrature.
``mc_k`` is the Monte Carlo SE of the simulated statistic (small by design, see ``calibration.py``).

The acceptance interval of a target is its 95 % interval: the published 95 % CI when nothing was added to it,
else ``g^-1(centre +- 1.96 se)``. File layout and the meaning of every key: the header of the data file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from mhtcdt.decision.model import outcome
from mhtcdt.errors import InputError

TARGETS_FILE = "data/calibration_targets.toml"  # in the package outcome.DATA_PACKAGE
Z95 = 1.959963984540054
Z80 = 1.2815515655446004

#: statistic -> its likelihood scale
STATISTICS = {
    "median_os_months": "log",
    "median_pfs_months": "log",
    "os_at_months": "logit",
    "pfs_at_months": "logit",
    "hazard_ratio_os": "log",
    "hazard_ratio_pfs": "log",
    "hazard_ratio_os_marker": "log",
    "cox_slope_prognostic_index": "identity",
}
TIME_ORIGINS = ("randomisation", "diagnosis_of_recurrence")


def to_scale(scale: str, x: np.ndarray | float) -> np.ndarray | float:
    """``g(x)`` for a likelihood scale."""
    if scale == "log":
        return np.log(x)
    if scale == "logit":
        return logit(np.clip(x, 1e-9, 1 - 1e-9))
    return x


def from_scale(scale: str, y: np.ndarray | float) -> np.ndarray | float:
    """``g^-1(y)``."""
    if scale == "log":
        return np.exp(y)
    if scale == "logit":
        return expit(y)
    return y


@dataclass(frozen=True)
class Population:
    """A virtual study population: generator, disease setting and eligibility."""

    name: str
    generator: str
    setting: str | None
    criteria: tuple[str, ...]
    source: str
    verified: bool
    size_factor: float = 1.0  # simulated size relative to the calibration's n_patients


@dataclass(frozen=True)
class Arm:
    """A calibration arm: a population treated with a protocol, its survival measured from ``time_origin``."""

    name: str
    population: str
    protocol: dict[str, Any]
    time_origin: str
    label: str
    source: str
    verified: bool

    @property
    def treated(self) -> bool:
        """True when the protocol has any treatment (an untreated arm enters at diagnosis: no delay)."""
        return bool(outcome.protocol_effects(_Fields(self.protocol)))


class _Fields:
    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.__dict__.update(fields)


@dataclass(frozen=True)
class Target:
    """One published result and its likelihood term (see the module docstring)."""

    name: str
    statistic: str
    arms: tuple[str, ...]  # (arm,) or (arm, reference arm) for a hazard ratio, or the pooled arms of a marker HR
    value: float
    centre: float  # on the likelihood scale
    se: float  # on the likelihood scale
    lower: float  # acceptance interval (natural scale)
    upper: float
    scale: str
    at_months: float | None
    subgroup: str | None
    marker: str | None
    source: str
    verified: bool
    ci_verified: bool
    n: int | None

    @property
    def arm(self) -> str:
        return self.arms[0]

    @property
    def halfwidth(self) -> float:
        """Half the acceptance interval (natural scale)."""
        return (self.upper - self.lower) / 2.0

    @property
    def is_percentage(self) -> bool:
        return self.statistic in ("os_at_months", "pfs_at_months")


def _float(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(field, value, "must be a finite number")
    return float(value)


def _pair(field: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2):
        raise InputError(field, value, "must be [lower, upper]")
    lo, hi = _float(field, value[0]), _float(field, value[1])
    if not lo < hi:
        raise InputError(field, value, "lower must be below upper")
    return lo, hi


def _target(i: int, t: Mapping[str, Any], arms: Mapping[str, Arm]) -> Target:
    f = f"targets[{i}]"
    name = t.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{f}.name", name, "every target needs a name")
    stat = t.get("statistic")
    if stat not in STATISTICS:
        raise InputError(f"{f}.statistic", stat, f"use one of {list(STATISTICS)}")
    if stat == "hazard_ratio_os_marker":
        names = tuple(t.get("arms", ()))
    elif stat in ("hazard_ratio_os", "hazard_ratio_pfs"):
        names = (t.get("arm"), t.get("reference_arm"))
    else:
        names = (t.get("arm"),)
    for a in names:
        if a not in arms:
            raise InputError(f"{f}.arm", a, f"not a calibration arm; arms: {sorted(arms)}")
    scale = t.get("scale", STATISTICS[stat])
    if scale not in ("log", "logit", "identity"):
        raise InputError(f"{f}.scale", scale, "use log, logit or identity")
    value = _float(f"{f}.value", t.get("value"))
    if scale == "log" and value <= 0 or scale == "logit" and not 0 < value < 1:
        raise InputError(f"{f}.value", value, f"outside the support of the {scale} scale")
    at = _float(f"{f}.at_months", t["at_months"]) if "at_months" in t else None
    if stat in ("os_at_months", "pfs_at_months") and (at is None or at <= 0):
        raise InputError(f"{f}.at_months", at, "a landmark needs at_months > 0")
    n = t.get("n")
    events = t.get("events")
    interval = _float(f"{f}.assessment_interval_months", t.get("assessment_interval_months", 0.0))
    latent = value - interval / 2.0 if interval > 0 else value
    if interval > 0 and (stat != "median_pfs_months" or latent <= 0):
        raise InputError(f"{f}.assessment_interval_months", interval, "only for PFS medians longer than half of it")
    adjusted = interval > 0 or "extra_log_sd" in t
    if "ci95" in t:
        lo, hi = _pair(f"{f}.ci95", t["ci95"])
        se = (to_scale(scale, hi) - to_scale(scale, lo)) / (2 * Z95)
    elif "ci80" in t:
        lo, hi = _pair(f"{f}.ci80", t["ci80"])
        se = (to_scale(scale, hi) - to_scale(scale, lo)) / (2 * Z80)
        adjusted = True
    elif "se" in t:
        se = _float(f"{f}.se", t["se"])
        adjusted = True
    else:
        adjusted = True
        if scale == "log" and stat.startswith("median") and events:
            se = 1.0 / math.sqrt(_float(f"{f}.events", events))
        elif scale == "log" and events:
            se = 2.0 / math.sqrt(_float(f"{f}.events", events))
        elif scale == "logit" and n:
            se = 1.0 / math.sqrt(_float(f"{f}.n", n) * value * (1 - value))
        else:
            raise InputError(f, name, "needs ci95, ci80, se, or n and events to set its standard error")
    if not (math.isfinite(se) and se > 0):
        raise InputError(f"{f}.se", se, "standard error must be positive")
    centre = float(to_scale(scale, latent))
    if interval > 0:  # uniform position of the latent median within the assessment interval (delta method)
        se = math.sqrt(se**2 + (interval**2 / 12.0) / latent**2)
    if "extra_log_sd" in t:
        se = math.sqrt(se**2 + _float(f"{f}.extra_log_sd", t["extra_log_sd"]) ** 2)
    if adjusted:
        lo = float(from_scale(scale, centre - Z95 * se))
        hi = float(from_scale(scale, centre + Z95 * se))
    subgroup = t.get("subgroup")
    if subgroup is not None and subgroup.removeprefix("not ").strip() != "mgmt_methylated":
        raise InputError(f"{f}.subgroup", subgroup, "use 'mgmt_methylated' or 'not mgmt_methylated'")
    marker = t.get("marker")
    if stat == "hazard_ratio_os_marker" and marker != "mgmt_methylated":
        raise InputError(f"{f}.marker", marker, "use 'mgmt_methylated'")
    return Target(
        name=name,
        statistic=stat,
        arms=tuple(names),
        value=value,
        centre=centre,
        se=float(se),
        lower=float(lo),
        upper=float(hi),
        scale=scale,
        at_months=at,
        subgroup=subgroup,
        marker=marker,
        source=str(t.get("source", "")),
        verified=bool(t.get("verified", False)),
        ci_verified=bool(t.get("ci_verified", False)),
        n=int(n) if n else None,
    )


@dataclass(frozen=True)
class TargetSet:
    """Populations, arms and targets of a targets file."""

    populations: dict[str, Population]
    arms: dict[str, Arm]
    targets: list[Target]
    source: str
    #: the outcome model's base file (priors, fixed parameters) for these targets: a bare name of a packaged
    #: data file (``outcome_params_prostate.toml``) or a path; None = ``data/outcome_params.toml``
    outcome_params_file: str | None = None
    #: effects an arm may use without a target (effect -> why): their parameters keep their priors
    assumed_effects: dict[str, str] = field(default_factory=dict)


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Read and validate a targets file (``None``: the packaged ``data/calibration_targets.toml``)."""
    from mhtcdt.cohorts import known_indications
    from mhtcdt.physics import Protocol

    raw, source = outcome._toml(path, TARGETS_FILE, "targets")
    if raw.get("schema_version") != 2:
        raise InputError("targets.schema_version", raw.get("schema_version"), f"{source}: expected 2")
    pops = {}
    for name, p in dict(raw.get("populations", {})).items():
        gen = p.get("generator")
        if gen not in known_indications():
            raise InputError(f"populations.{name}.generator", gen, f"unknown; known: {known_indications()}")
        setting = p.get("setting")
        if setting not in (None, "recurrent", "newly_diagnosed"):
            raise InputError(f"populations.{name}.setting", setting, "use recurrent or newly_diagnosed")
        crit = p.get("criteria", [])
        if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
            raise InputError(f"populations.{name}.criteria", crit, "must be a list of criteria")
        factor = _float(f"populations.{name}.size_factor", p.get("size_factor", 1.0))
        if not 0 < factor <= 10:
            raise InputError(f"populations.{name}.size_factor", factor, "must be in (0, 10]")
        pops[name] = Population(
            name, gen, setting, tuple(crit), str(p.get("source", "")), bool(p.get("verified")), factor
        )
    arms = {}
    for name, a in dict(raw.get("arms", {})).items():
        if a.get("population") not in pops:
            raise InputError(f"arms.{name}.population", a.get("population"), f"unknown; populations: {sorted(pops)}")
        if a.get("time_origin") not in TIME_ORIGINS:
            raise InputError(f"arms.{name}.time_origin", a.get("time_origin"), f"use one of {list(TIME_ORIGINS)}")
        fields = dict(a.get("protocol", {}))
        try:
            Protocol(**fields)
        except InputError as exc:
            raise InputError(f"arms.{name}.protocol.{exc.field}", exc.value, exc.message) from None
        arms[name] = Arm(
            name,
            a["population"],
            fields,
            a["time_origin"],
            str(a.get("label", name)),
            str(a.get("source", "")),
            bool(a.get("verified")),
        )
    targets = [_target(i, t, arms) for i, t in enumerate(raw.get("targets", []))]
    if not targets:
        raise InputError("targets", source, "no [[targets]] entries")
    names = [t.name for t in targets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError("targets.name", dup, "target names must be unique")
    used = {a for t in targets for a in t.arms}
    base = raw.get("outcome_params")
    if base is not None:
        if not isinstance(base, str) or not base:
            raise InputError("targets.outcome_params", base, f"{source}: must name an outcome base parameter file")
        outcome.base_params(base)  # readable and valid, or an InputError naming it
    assumed = raw.get("assumed_effects", {})
    if not isinstance(assumed, dict):
        raise InputError("targets.assumed_effects", assumed, f"{source}: must be a table effect = reason")
    assumed = {k: v for k, v in assumed.items() if k not in ("source", "verified")}  # the table's provenance
    for effect, reason in assumed.items():
        if effect not in outcome.EFFECT_PARAMETERS:
            raise InputError(
                f"targets.assumed_effects.{effect}", effect, f"unknown effect; known: {list(outcome.EFFECT_PARAMETERS)}"
            )
        if not isinstance(reason, str) or not reason:
            raise InputError(f"targets.assumed_effects.{effect}", reason, "give the reason (a non-empty string)")
    return TargetSet(
        pops,
        {k: v for k, v in arms.items() if k in used},
        targets,
        source,
        base,
        {str(k): v for k, v in assumed.items()},
    )


def calibrated_effects(target_set: TargetSet) -> list[str]:
    """Effects (keys of ``outcome.EFFECT_PARAMETERS``) of the arms that have targets."""
    effects = set()
    for arm in target_set.arms.values():
        effects.update(outcome.protocol_effects(_Fields(arm.protocol)))
    return sorted(effects)


def indications(target_set: TargetSet) -> list[str]:
    """Outcome settings covered by the targets' populations."""
    out = set()
    for arm in target_set.arms.values():
        pop = target_set.populations[arm.population]
        out.add("newly_diagnosed_glioblastoma" if pop.setting == "newly_diagnosed" else pop.generator)
    return sorted(out)
