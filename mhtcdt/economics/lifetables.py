"""General-population mortality by age and sex: life tables for Markov transition functions.

A :class:`LifeTable` holds annual probabilities of death q (per person per year) by age band and sex,
with its source and ``verified`` flag (tables in ``economics/data/life_tables.toml``; load one with
:func:`life_table`). Lookups are vectorised over ages:

* :meth:`LifeTable.annual_probability` -- q of the band that holds each age (lower bound inclusive; the
  last band open-ended; ages below the first band are an InputError, never extrapolated);
* :meth:`LifeTable.cycle_probability` -- the probability of death within a cycle of another length,
  1 - (1 - q)^(cycle length in years), assuming a constant hazard within the year.

Typical use, age-dependent background mortality in a transition function (cycle k runs from age
a0 + (k - 1) x cycle to a0 + k x cycle; which age a model uses for cycle k is its own convention, e.g.
``a0 + k`` in Briggs et al.'s THR model)::

    table = life_table("uk_dmhee")
    def transitions(cycle):
        q = table.cycle_probability(60 + cycle, "female", cycle_years=1.0)
        ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mhtcdt.datafiles import load_toml
from mhtcdt.economics.validation import as_finite
from mhtcdt.errors import InputError

SEXES = ("female", "male")


@dataclass(frozen=True)
class LifeTable:
    """Annual probability of death by age band and sex (see the module docstring).

    Attributes
    ----------
    age_lower_years:
        Lower bounds of the age bands (years), strictly increasing; the last band is open-ended.
    annual_probability_by_sex:
        ``{"female": q, "male": q}``, one annual probability in [0, 1] per band.
    source, verified:
        Provenance of the numbers (``verified`` = read in the primary source).
    """

    key: str
    age_lower_years: np.ndarray
    annual_probability_by_sex: dict[str, np.ndarray]
    source: str
    verified: bool
    description: str = ""

    def __post_init__(self) -> None:
        ages = as_finite(self.age_lower_years, "age_lower_years")
        if ages.ndim != 1 or ages.size == 0 or np.any(np.diff(ages) <= 0):
            raise InputError("age_lower_years", ages.tolist(), "needs strictly increasing band lower bounds")
        object.__setattr__(self, "age_lower_years", ages)
        q_by_sex = {}
        for sex in SEXES:
            if sex not in self.annual_probability_by_sex:
                raise InputError("annual_probability_by_sex", sorted(self.annual_probability_by_sex), f"needs {sex!r}")
            q = as_finite(self.annual_probability_by_sex[sex], f"annual_probability_by_sex.{sex}")
            if q.shape != ages.shape or np.any((q < 0) | (q > 1)):
                raise InputError(
                    f"annual_probability_by_sex.{sex}", q.tolist(), "needs one probability in [0, 1] per band"
                )
            q_by_sex[sex] = q
        object.__setattr__(self, "annual_probability_by_sex", q_by_sex)

    def annual_probability(self, age_years: float | np.ndarray, sex: str) -> np.ndarray:
        """q of the band holding each age (lower bound inclusive), same shape as ``age_years``."""
        if sex not in SEXES:
            raise InputError("sex", sex, f"use one of {SEXES}")
        age = as_finite(age_years, "age_years")
        if np.any(age < self.age_lower_years[0]):
            raise InputError(
                "age_years", float(age.min()), f"table {self.key!r} starts at age {self.age_lower_years[0]:g}"
            )
        band = np.searchsorted(self.age_lower_years, age, side="right") - 1
        return self.annual_probability_by_sex[sex][band]

    def cycle_probability(self, age_years: float | np.ndarray, sex: str, cycle_years: float = 1.0) -> np.ndarray:
        """Probability of death within a cycle of ``cycle_years``: 1 - (1 - q)^cycle_years (constant
        hazard -ln(1 - q) per year within the band)."""
        if not np.isfinite(cycle_years) or cycle_years <= 0:
            raise InputError("cycle_years", cycle_years, "must be > 0")
        q = self.annual_probability(age_years, sex)
        return -np.expm1(cycle_years * np.log1p(-q))


def life_tables() -> list[str]:
    """Keys of the life tables in ``economics/data/life_tables.toml``."""
    return sorted(load_toml("mhtcdt.economics", "data/life_tables.toml"))


def life_table(key: str) -> LifeTable:
    """The life table ``key`` from ``economics/data/life_tables.toml`` (e.g. ``"uk_dmhee"``)."""
    tables = load_toml("mhtcdt.economics", "data/life_tables.toml")
    if not isinstance(key, str) or key not in tables:
        raise InputError("life_table", key, f"unknown life table; use one of {sorted(tables)}")
    t = tables[key]
    return LifeTable(
        key=key,
        age_lower_years=np.asarray(t["age_lower_years"], float),
        annual_probability_by_sex={sex: np.asarray(t[f"{sex}_annual_probability"], float) for sex in SEXES},
        source=t["source"],
        verified=bool(t["verified"]),
        description=t.get("description", ""),
    )
