"""Indication specifications: the covariate data files in ``cohorts/indications/*.toml``.

``covariate_table(indication)`` lists the variables (columns ``variable``, ``distribution``,
``by``, ``parameters`` (str), ``units``, ``source``, ``verified``); ``correlation_matrix(indication)``
returns the latent Gaussian-copula correlation matrix as a DataFrame indexed by variable name.

An indication file holds, for one disease setting, the marginal distribution of every covariate
(with units, source and ``verified`` flag), the latent Gaussian-copula correlations between them
(with a reason for each), and the published prognostic effects the trial layer may use.

:func:`load_indication` reads and validates one file into an :class:`IndicationSpec`; every
problem raises :class:`~mhtcdt.errors.InputError` naming the file, the field and the value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.cohorts.marginals import Marginal
from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError

INDICATIONS_DIR = Path(__file__).parent / "indications"


def known_indications() -> list[str]:
    """Names of the indications that have a data file (sorted)."""
    return sorted(p.stem for p in INDICATIONS_DIR.glob("*.toml"))


@dataclass(frozen=True)
class Variable:
    """One generated covariate: a marginal, or one marginal per level of an earlier variable."""

    name: str
    marginal: Marginal | None
    by: str | None = None
    cases: Mapping[Any, Marginal] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def levels(self) -> list[Any]:
        """Discrete levels (union over cases, in first-seen order)."""
        marginals = [self.marginal] if self.marginal is not None else list(self.cases.values())
        out: list[Any] = []
        for m in marginals:
            for level in m.levels_and_probabilities()[0]:
                if level not in out:
                    out.append(level)
        return out

    def from_latent(self, z: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Values for latent scores ``z``; conditional variables read their ``by`` column."""
        if self.by is None:
            assert self.marginal is not None
            return self.marginal.from_latent(z)
        key = columns[self.by]
        first = next(iter(self.cases.values()))
        out = np.empty(z.shape, dtype=first.from_latent(z[:0]).dtype)
        for level, marginal in self.cases.items():
            mask = key == level
            out[mask] = marginal.from_latent(z[mask])
        return out


@dataclass(frozen=True)
class IndicationSpec:
    """A validated indication file."""

    name: str
    label: str
    tissue: str
    performance_scale: str
    body_radius_from: str
    variables: tuple[Variable, ...]
    correlation: np.ndarray  # latent correlation matrix, variables order
    cholesky: np.ndarray  # lower-triangular factor of `correlation`
    correlations: tuple[Mapping[str, Any], ...]
    prognosis: tuple[Mapping[str, Any], ...]
    park_scale: Mapping[str, Any] | None
    raw: Mapping[str, Any]

    @property
    def variable_names(self) -> list[str]:
        return [v.name for v in self.variables]

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise InputError("variable", name, f"not a variable of {self.name}; known: {self.variable_names}")


def load_indication(indication: str) -> IndicationSpec:
    """Read and validate ``indications/<indication>.toml`` (cached)."""
    if not isinstance(indication, str) or indication not in known_indications():
        raise InputError("indication", indication, f"unknown indication; known: {known_indications()}")
    return _load(indication)


def _read(indication: str) -> Mapping[str, Any]:
    """The parsed ``indications/<indication>.toml`` of the installed package (one TOML loader for every
    layer: :func:`mhtcdt.datafiles.load_toml`)."""
    return load_toml("mhtcdt.cohorts", f"indications/{indication}.toml")


@functools.cache
def _load(indication: str) -> IndicationSpec:
    raw = _read(indication)
    where = f"{indication}.toml"
    for key in ("name", "tissue", "performance_scale", "body_radius_from", "variables"):
        if key not in raw:
            raise InputError(f"{where}.{key}", None, "required key missing")
    if raw["name"] != indication:
        raise InputError(f"{where}.name", raw["name"], f"must equal the file name {indication!r}")

    variables: list[Variable] = []
    seen: dict[str, Variable] = {}
    for name, spec in raw["variables"].items():
        field_name = f"{where}.variables.{name}"
        for key in ("source", "verified", "units"):
            if key not in spec:
                raise InputError(f"{field_name}.{key}", None, "every variable needs units, source and verified")
        meta = {k: spec[k] for k in ("source", "verified", "units")}
        if "by" in spec:
            by = spec["by"]
            if by not in seen or not seen[by].marginal or not seen[by].marginal.is_discrete:
                raise InputError(f"{field_name}.by", by, "must name an earlier discrete variable")
            levels, _ = seen[by].marginal.levels_and_probabilities()
            cases_raw = spec.get("cases", {})
            if sorted(map(str, cases_raw)) != sorted(map(str, levels)):
                raise InputError(f"{field_name}.cases", list(cases_raw), f"need one case per level {levels}")
            if spec.get("distribution") == "categorical":
                raise InputError(f"{field_name}.by", by, "a categorical variable cannot be conditional")
            base = {k: v for k, v in spec.items() if k not in ("by", "cases")}
            cases = {}
            for level in levels:
                merged = {**base, **cases_raw[str(level)]}
                cases[level] = Marginal.from_spec(name, merged, f"{field_name}.cases.{level}")
            var = Variable(name, None, by=by, cases=cases, meta=meta)
        else:
            var = Variable(name, Marginal.from_spec(name, spec, field_name), meta=meta)
        variables.append(var)
        seen[name] = var

    if raw["body_radius_from"] not in seen:
        raise InputError(f"{where}.body_radius_from", raw["body_radius_from"], "must name a variable")

    names = [v.name for v in variables]
    corr = np.eye(len(names))
    correlations = tuple(raw.get("correlations", []))
    for i, item in enumerate(correlations):
        f = f"{where}.correlations[{i}]"
        pair, rho = item.get("pair"), item.get("rho")
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in names for p in pair) and pair[0] != pair[1]):
            raise InputError(f"{f}.pair", pair, f"must name two different variables of {names}")
        if not (isinstance(rho, (int, float)) and -1.0 < rho < 1.0):
            raise InputError(f"{f}.rho", rho, "must lie strictly between -1 and 1")
        a, b = names.index(pair[0]), names.index(pair[1])
        if corr[a, b] != 0.0:
            raise InputError(f"{f}.pair", pair, "pair listed twice")
        corr[a, b] = corr[b, a] = float(rho)
    for var in variables:
        if var.by is not None and corr[names.index(var.name), names.index(var.by)] != 0.0:
            # the per-level marginals hold only if the latent score is independent of the level
            raise InputError(
                f"{where}.correlations",
                [var.name, var.by],
                "a conditional (by) variable cannot be correlated with its by-variable",
            )
    try:
        chol = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise InputError(
            f"{where}.correlations", "matrix", "latent correlation matrix is not positive definite"
        ) from None

    prognosis = tuple(raw.get("prognosis", []))
    for i, item in enumerate(prognosis):
        f = f"{where}.prognosis[{i}]"
        for key in ("covariate", "kind", "endpoint", "hazard_ratio", "source", "verified"):
            if key not in item:
                raise InputError(f"{f}.{key}", None, "required key missing")
        if item["kind"] not in ("indicator", "per_unit"):
            raise InputError(f"{f}.kind", item["kind"], "must be 'indicator' or 'per_unit'")
        if not item["hazard_ratio"] > 0:
            raise InputError(f"{f}.hazard_ratio", item["hazard_ratio"], "must be > 0")

    return IndicationSpec(
        name=indication,
        label=raw.get("label", indication),
        tissue=raw["tissue"],
        performance_scale=raw["performance_scale"],
        body_radius_from=raw["body_radius_from"],
        variables=tuple(variables),
        correlation=corr,
        cholesky=chol,
        correlations=correlations,
        prognosis=prognosis,
        park_scale=raw.get("park_scale"),
        raw=raw,
    )


def covariate_table(indication: str) -> pd.DataFrame:
    """One row per covariate of ``indication``: distribution, parameters, units, source, verified."""
    spec = load_indication(indication)
    rows = []
    for var in spec.variables:
        if var.by is None:
            assert var.marginal is not None
            kind, params = var.marginal.kind, dict(var.marginal.params)
        else:
            first = next(iter(var.cases.values()))
            kind = first.kind
            params = {str(level): dict(m.params) for level, m in var.cases.items()}
        rows.append(
            (
                var.name,
                kind,
                var.by or "",
                str(params),
                var.meta["units"],
                var.meta["source"],
                bool(var.meta["verified"]),
            )
        )
    columns = ["variable", "distribution", "by", "parameters", "units", "source", "verified"]
    return pd.DataFrame(rows, columns=columns)


def correlation_matrix(indication: str) -> pd.DataFrame:
    """Latent (Gaussian-copula) correlation matrix of ``indication``, indexed by variable name."""
    spec = load_indication(indication)
    return pd.DataFrame(spec.correlation, index=spec.variable_names, columns=spec.variable_names)
