"""The registry of uncertain physics and structural inputs of the PSA, their distributions and their checks.

The registry (``data/physics_uncertainty.toml``) lists each input once: a plain-language label, what it sets
(``target``: an :class:`mhtcdt.physics.Assumptions` field ``assumptions.<field>``, a chemistry override
``chemistry.<key>`` or an outcome-model free parameter ``outcome.<name>``), where in the chain it acts
(``stage``: ``heat``, ``chemistry``, ``kill`` or ``outcome``), its unit and physical support, its distribution
and the source of that distribution. A new uncertain input of the physics plugs in as one more table.

Distributions (:class:`InputDistribution`), all sampled by the inverse CDF of a uniform:

==============  ====================================  =================================================
kind            parameters                            meaning
==============  ====================================  =================================================
``lognormal``   ``median`` > 0, ``gsd`` >= 1          ``median * gsd ** z``, z ~ N(0, 1)
``beta``        ``low``, ``high`` in (0, 1),          the Beta whose central ``interval`` (0.95 unless
                ``interval``                          given) is [low, high] (two quantiles solved)
``uniform``     ``low`` < ``high``                    uniform on [low, high]
``loguniform``  0 < ``low`` < ``high``                uniform in log on [low, high]
``normal``      ``mean``, ``sd`` > 0                  only for inputs with an unbounded support
``choice``      ``choices``, ``weights`` (optional)   a discrete input (e.g. a preset name)
``fixed``       ``value``                             not sampled
``calibration`` (none)                                the outcome calibration's accepted draws
==============  ====================================  =================================================

A distribution must lie inside the input's physical support (a share inside (0, 1), a multiplier above 0,
a lognormal needs a positive median ...): every violation is an :class:`~mhtcdt.errors.InputError` naming
the field (``psa.inputs.<name>.<parameter>``) and the value, in the scenario file, the API and the app.

Continuous inputs are also represented by their normal score ``z = Phi^-1(F(x))`` (:meth:`InputDistribution.
from_score`): the emulator of the physics (:mod:`mhtcdt.decision.model.emulator`) places its design in that
scale, the same for every distribution.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics import radiotherapy as rt

DATA_PACKAGE = "mhtcdt.decision.scenario"
REGISTRY_FILE = "data/physics_uncertainty.toml"
PRESETS_FILE = "data/structural_presets.toml"

KINDS = ("lognormal", "beta", "uniform", "loguniform", "normal", "choice", "fixed", "calibration")
_REQUIRED = {
    "lognormal": ("median", "gsd"),
    "beta": ("low", "high"),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "choice": ("choices",),
    "fixed": ("value",),
    "calibration": (),
}
_OPTIONAL = {"beta": ("interval",), "choice": ("weights",)}
_NUMERIC = ("median", "gsd", "low", "high", "interval", "mean", "sd")
STAGES = ("heat", "chemistry", "kill", "outcome")
# Distributions kept in the physics data files next to the deterministic value they centre (a registry row names
# one with ``physics_distribution``): each returns a table with the distribution keys, ``source`` and ``verified``.
PHYSICS_DISTRIBUTIONS = {"thermal_enhancement": rt.thermal_enhancement_distribution}
INFINITE = 1e300  # "no upper bound" in a support (TOML has inf, but the data files avoid it)


@dataclass(frozen=True)
class InputDistribution:
    """One input's distribution (see the module docstring for the kinds and their parameters)."""

    kind: str
    median: float | None = None
    gsd: float | None = None
    low: float | None = None
    high: float | None = None
    interval: float = 0.95
    mean: float | None = None
    sd: float | None = None
    value: Any = None
    choices: tuple = ()
    weights: tuple = ()

    @property
    def is_sampled(self) -> bool:
        """False for ``fixed``; ``calibration`` inputs are sampled through the calibration draws."""
        return self.kind not in ("fixed", "calibration")

    @property
    def is_discrete(self) -> bool:
        return self.kind == "choice"

    def support(self) -> tuple[float, float]:
        """Smallest and largest value the distribution can take."""
        k = self.kind
        if k in ("lognormal",):
            return (0.0, math.inf)
        if k == "beta":
            return (0.0, 1.0)
        if k in ("uniform", "loguniform"):
            return (float(self.low), float(self.high))
        if k == "normal":
            return (-math.inf, math.inf)
        if k == "fixed":
            return (float(self.value), float(self.value)) if _is_number(self.value) else (math.nan, math.nan)
        return (math.nan, math.nan)

    @functools.cached_property
    def beta_shape(self) -> tuple[float, float]:
        """(a, b) of a ``beta`` whose central ``interval`` is [low, high]: the two quantile equations solved in
        log scale (scipy least squares over log a, log b in [-7, 9])."""
        q = ((1.0 - self.interval) / 2.0, (1.0 + self.interval) / 2.0)
        target = np.log([self.low, self.high])

        def gap(x: np.ndarray) -> np.ndarray:
            return np.log(stats.beta.ppf(q, *np.exp(x))) - target

        sol = optimize.least_squares(gap, np.log([1.0, 5.0]), bounds=([-7.0, -7.0], [9.0, 9.0]), xtol=1e-14, ftol=1e-14)
        if np.max(np.abs(gap(sol.x))) > 1e-6:
            raise InputError(
                "high",
                self.high,
                f"no beta distribution has [{self.low}, {self.high}] as its central {self.interval:.0%}",
            )
        a, b = np.exp(sol.x)
        return float(a), float(b)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u`` in (0, 1) (for ``choice``: the index of the choice, as float)."""
        u = np.asarray(u, dtype=np.float64)
        k = self.kind
        if k == "lognormal":
            return self.median * np.exp(math.log(self.gsd) * special.ndtri(u))
        if k == "beta":
            return stats.beta.ppf(u, *self.beta_shape)
        if k == "uniform":
            return self.low + (self.high - self.low) * u
        if k == "loguniform":
            return np.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)
        if k == "normal":
            return self.mean + self.sd * special.ndtri(u)
        if k == "choice":
            cum = np.cumsum(self.probabilities)
            return np.minimum(np.searchsorted(cum, u, side="right"), len(self.choices) - 1).astype(np.float64)
        if k == "fixed":
            return np.full(u.shape, float(self.value) if _is_number(self.value) else 0.0)
        raise InputError("distribution", k, "has no quantile function (calibration draws are sampled by the PSA)")

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Cumulative probability of values ``x`` (continuous kinds)."""
        x = np.asarray(x, dtype=np.float64)
        k = self.kind
        if k == "lognormal":
            return special.ndtr(np.log(np.maximum(x, 1e-300) / self.median) / math.log(self.gsd))
        if k == "beta":
            return stats.beta.cdf(x, *self.beta_shape)
        if k == "uniform":
            return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        if k == "loguniform":
            lx = np.log(np.maximum(x, 1e-300))
            return np.clip((lx - math.log(self.low)) / (math.log(self.high) - math.log(self.low)), 0.0, 1.0)
        if k == "normal":
            return special.ndtr((x - self.mean) / self.sd)
        raise InputError("distribution", k, "is not continuous")

    def from_score(self, z: np.ndarray) -> np.ndarray:
        """Values at normal scores ``z`` (``x = F^-1(Phi(z))``)."""
        return self.ppf(special.ndtr(np.asarray(z, dtype=np.float64)))

    def to_score(self, x: np.ndarray) -> np.ndarray:
        """Normal scores of values ``x`` (``z = Phi^-1(F(x))``, clipped to +-8)."""
        return np.clip(special.ndtri(np.clip(self.cdf(x), 1e-15, 1 - 1e-15)), -8.0, 8.0)

    @property
    def probabilities(self) -> np.ndarray:
        """Normalised weights of a ``choice`` (equal when none are given)."""
        w = np.ones(len(self.choices)) if not self.weights else np.asarray(self.weights, dtype=np.float64)
        return w / w.sum()

    def centre(self) -> Any:
        """The median (continuous kinds), the most likely choice, or the fixed value."""
        if self.kind == "choice":
            return self.choices[int(np.argmax(self.probabilities))]
        if self.kind == "fixed":
            return self.value
        if self.kind == "calibration":
            return None
        return float(self.ppf(np.array(0.5)))

    def describe(self) -> str:
        """One line, e.g. ``lognormal: median 1, 95 % 0.26-3.9``."""
        k = self.kind
        if k == "choice":
            p = self.probabilities
            return "choice: " + ", ".join(f"{c} {w:.0%}" for c, w in zip(self.choices, p, strict=True))
        if k == "fixed":
            return f"fixed at {_fmt(self.value)}"
        if k == "calibration":
            return "the outcome calibration's accepted draws"
        lo, mid, hi = self.ppf(np.array([0.025, 0.5, 0.975]))
        return f"{k}: median {_fmt(mid)}, 95 % {_fmt(lo)}-{_fmt(hi)}"


def _fmt(v: Any) -> str:
    if isinstance(v, float | int | np.floating) and not isinstance(v, bool):
        return f"{v:.3g}"
    return str(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool) and math.isfinite(v)


def make_distribution(spec: Mapping[str, Any], support: tuple[float, float] | None, field: str) -> InputDistribution:
    """Build and check a distribution from a table (registry row or scenario ``[[psa.inputs]]``).

    ``support``: the input's physical range (None = unbounded). ``field`` prefixes the error paths, e.g.
    ``psa.inputs.slp_factor``; every problem is an :class:`InputError` naming ``<field>.<parameter>``."""
    kind = spec.get("distribution")
    if kind not in KINDS:
        raise InputError(f"{field}.distribution", kind, f"unknown distribution; known: {', '.join(KINDS)}")
    allowed = set(_REQUIRED[kind]) | set(_OPTIONAL.get(kind, ()))
    given = {k: v for k, v in spec.items() if k in (*_NUMERIC, "value", "choices", "weights") and v is not None}
    for k in _REQUIRED[kind]:
        if k not in given:
            raise InputError(f"{field}.{k}", None, f"a {kind} distribution needs {', '.join(_REQUIRED[kind])}")
    extra = sorted(set(given) - allowed)
    if extra:
        raise InputError(f"{field}.{extra[0]}", given[extra[0]], f"not a parameter of a {kind} distribution")
    for k in _NUMERIC:
        if k in given and not _is_number(given[k]):
            raise InputError(f"{field}.{k}", given[k], "must be a finite number")
    kwargs: dict[str, Any] = {k: (float(v) if k in _NUMERIC else v) for k, v in given.items()}
    if "choices" in kwargs:
        kwargs["choices"] = tuple(kwargs["choices"])
    if "weights" in kwargs:
        kwargs["weights"] = tuple(float(w) for w in kwargs["weights"])
    dist = InputDistribution(kind=kind, **kwargs)
    _check(dist, support, field)
    return dist


def _check(d: InputDistribution, support: tuple[float, float] | None, field: str) -> None:
    """InputError unless ``d`` is a proper distribution lying inside ``support``."""
    k = d.kind
    if k == "lognormal":
        if d.median <= 0:
            raise InputError(f"{field}.median", d.median, "a lognormal needs a median > 0")
        if d.gsd < 1:
            raise InputError(f"{field}.gsd", d.gsd, "a geometric standard deviation is >= 1")
    elif k == "beta":
        if not 0 < d.interval < 1:
            raise InputError(f"{field}.interval", d.interval, "the central interval must lie in (0, 1)")
        if not 0 < d.low < d.high < 1:
            bad, v = ("low", d.low) if not 0 < d.low < 1 else ("high", d.high)
            raise InputError(f"{field}.{bad}", v, "a beta needs 0 < low < high < 1 (a share)")
        try:
            d.beta_shape  # noqa: B018 - solved here so an impossible interval is reported now
        except InputError as exc:
            raise InputError(f"{field}.{exc.field}", exc.value, exc.message) from None
    elif k in ("uniform", "loguniform"):
        if not d.low < d.high:
            raise InputError(f"{field}.low", d.low, f"must be below high ({d.high})")
        if k == "loguniform" and d.low <= 0:
            raise InputError(f"{field}.low", d.low, "a log-uniform needs low > 0")
    elif k == "normal":
        if d.sd <= 0:
            raise InputError(f"{field}.sd", d.sd, "a standard deviation is > 0")
    elif k == "choice":
        if not d.choices:
            raise InputError(f"{field}.choices", list(d.choices), "needs at least one choice")
        if d.weights and (len(d.weights) != len(d.choices) or any(not (w >= 0) for w in d.weights)):
            raise InputError(f"{field}.weights", list(d.weights), "one weight >= 0 per choice")
        if d.weights and sum(d.weights) <= 0:
            raise InputError(f"{field}.weights", list(d.weights), "the weights must not all be 0")
        return
    if support is None or k == "calibration":
        return
    lo, hi = support
    s_lo, s_hi = d.support()
    hi_shown = "inf" if hi >= INFINITE else f"{hi:g}"
    if k == "fixed":
        if not (_is_number(d.value) and lo <= d.value <= hi):
            raise InputError(f"{field}.value", d.value, f"outside the physical range [{lo:g}, {hi_shown}]")
        return
    if s_lo < lo or s_hi > (math.inf if hi >= INFINITE else hi):
        name = {"lognormal": "median", "beta": "high", "normal": "sd"}.get(k, "low" if s_lo < lo else "high")
        value = getattr(d, name)
        raise InputError(
            f"{field}.{name}", value, f"a {k} distribution here reaches [{_fmt(s_lo)}, {_fmt(s_hi)}], outside the "
            f"physical range [{lo:g}, {hi_shown}] of the input"
        )  # fmt: skip


@dataclass(frozen=True)
class UncertainInput:
    """One row of the registry (see the module docstring)."""

    name: str
    label: str
    target: str
    stage: str
    unit: str
    support: tuple[float, float] | None
    distribution: InputDistribution
    source: str
    verified: bool
    by_indication: Mapping[str, tuple[InputDistribution, str, bool]] = field(default_factory=dict)

    @property
    def target_kind(self) -> str:
        """``assumptions``, ``chemistry`` or ``outcome``."""
        return self.target.split(".", 1)[0]

    @property
    def target_name(self) -> str:
        """The Assumptions field, chemistry override key or outcome parameter."""
        return self.target.split(".", 1)[1]

    def for_indication(self, indication: str) -> UncertainInput:
        """This input with the distribution (and source) of ``indication`` when the registry gives one."""
        if indication not in self.by_indication:
            return self
        dist, source, verified = self.by_indication[indication]
        return replace(self, distribution=dist, source=source, verified=verified, by_indication={})

    def with_distribution(self, dist: InputDistribution, source: str | None = None) -> UncertainInput:
        return replace(self, distribution=dist, source=self.source if source is None else source, by_indication={})


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, UncertainInput]:
    """Every input of ``data/physics_uncertainty.toml`` by name (file order)."""
    data = load_toml(DATA_PACKAGE, REGISTRY_FILE)
    out = {}
    for name, row in data["inputs"].items():
        field_ = f"{REGISTRY_FILE}:inputs.{name}"
        if "physics_distribution" in row:
            key = row["physics_distribution"]
            if key not in PHYSICS_DISTRIBUTIONS:
                raise InputError(
                    f"{field_}.physics_distribution", key, f"unknown; known: {', '.join(PHYSICS_DISTRIBUTIONS)}"
                )
            row = {**{k: v for k, v in row.items() if k != "physics_distribution"}, **PHYSICS_DISTRIBUTIONS[key]()}
        support = tuple(float(v) for v in row["support"]) if "support" in row else None
        if row["stage"] not in STAGES:
            raise InputError(f"{field_}.stage", row["stage"], f"unknown stage; known: {', '.join(STAGES)}")
        by_ind = {
            ind: (
                make_distribution(sub, support, f"{field_}.by_indication.{ind}"),
                sub["source"],
                bool(sub["verified"]),
            )
            for ind, sub in row.get("by_indication", {}).items()
        }
        out[name] = UncertainInput(
            name=name,
            label=row["label"],
            target=row["target"],
            stage=row["stage"],
            unit=row["unit"],
            support=support,
            distribution=make_distribution(row, support, field_),
            source=row["source"],
            verified=bool(row["verified"]),
            by_indication=by_ind,
        )
    return out


def registry_table(indication: str | None = None) -> list[dict[str, Any]]:
    """The registry as rows (name, label, target, stage, unit, distribution, source, verified) for reports."""
    rows = []
    for item in registry().values():
        it = item.for_indication(indication) if indication else item
        rows.append(
            {
                "name": it.name,
                "label": it.label,
                "target": it.target,
                "stage": it.stage,
                "unit": it.unit,
                "distribution": it.distribution.describe(),
                "source": it.source,
                "verified": it.verified,
            }
        )
    return rows


@dataclass(frozen=True)
class StructuralPreset:
    """A named structural alternative: inputs of the registry held at given values."""

    name: str
    label: str
    values: Mapping[str, Any]
    source: str
    verified: bool


@functools.lru_cache(maxsize=1)
def structural_presets() -> dict[str, StructuralPreset]:
    """Named structural alternatives of ``data/structural_presets.toml`` (file order)."""
    data = load_toml(DATA_PACKAGE, PRESETS_FILE)
    out = {}
    for name, row in data["presets"].items():
        unknown = sorted(set(row["set"]) - set(registry()))
        if unknown:
            raise InputError(f"{PRESETS_FILE}:presets.{name}.set", unknown, "not inputs of the registry")
        out[name] = StructuralPreset(name, row["label"], dict(row["set"]), row["source"], bool(row["verified"]))
    return out


def resolve_inputs(
    indication: str,
    overrides: Sequence[Mapping[str, Any]] = (),
    fixed: Sequence[str] = (),
    field: str = "psa",
) -> dict[str, UncertainInput]:
    """The inputs of a PSA: the registry for ``indication``, with a scenario's distribution ``overrides``
    (each a table with ``name``, ``distribution`` and its parameters, optional ``source``) and the inputs
    named in ``fixed`` removed (held at the scenario's deterministic value)."""
    reg = registry()
    out = {name: item.for_indication(indication) for name, item in reg.items()}
    for i, spec in enumerate(overrides):
        name = spec.get("name")
        if name not in reg:
            raise InputError(f"{field}.inputs[{i}].name", name, f"unknown input; known: {', '.join(reg)}")
        dist = make_distribution(spec, reg[name].support, f"{field}.inputs.{name}")
        out[name] = out[name].with_distribution(dist, spec.get("source") or "scenario file")
    for i, name in enumerate(fixed):
        if name not in reg:
            raise InputError(f"{field}.fixed[{i}]", name, f"unknown input; known: {', '.join(reg)}")
        out.pop(name, None)
    return out
