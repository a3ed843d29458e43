"""State values: what a cohort model attaches to its states and events, with explicit time units.

One object for both engines (:func:`mhtcdt.economics.run_partitioned_survival`,
:func:`mhtcdt.economics.run_markov`): the parameters of a model, kept apart from its input data (the
survival curves or the transition matrices) and its conventions (:class:`~.conventions.Conventions`),
and validated once, here (finite, costs >= 0, utilities <= 1).

The unit rule for costs
-----------------------
* **State costs are rates**: currency per unit of time spent in a state. Their unit is stated with
  ``costs_per``: ``"cycle"`` (the model cycle, ``Conventions.cycle_length`` ``cycle_unit``) or a time
  unit, ``"days"``, ``"weeks"``, ``"months"``, ``"years"``; there is no default, so no cost is read in
  the wrong unit. Each engine converts once to the unit it integrates in: per year = value x
  ``UNITS_PER_YEAR[unit]`` (365.25 per day, 365.25 / 7 per week, 12 per month; 1 / cycle length in
  years per cycle); per cycle = per year x cycle length in years (no conversion for ``"cycle"``).
* **Event costs are amounts** (currency per patient per event, no time unit): ``one_off_cost`` at
  time 0 (undiscounted, e.g. the therapy course), ``end_of_life_cost`` per death, ``transition_costs``
  per move from state i to state j (Markov only).
* **Utilities are QALY weights per year** (1 = a year in full health): QALYs = utility x time in the
  state in years, whatever the cycle.

Shapes (aligned from the right, so a scalar or a per-state vector is shared by every draw and
strategy): in a partitioned survival model state values broadcast to (D, S, K) (draw, strategy, alive
state) and event costs to (D, S); in a Markov model each strategy carries its own values, which
broadcast to (D, n+1, S) (draw, trace point, state; row t = point t, so values can change by cycle),
``one_off_cost`` and ``end_of_life_cost`` to (D,), ``transition_costs`` to (D, S, S).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics.conventions import DAYS_PER_YEAR
from mhtcdt.economics.validation import check_costs, check_utilities
from mhtcdt.errors import InputError

UNITS_PER_YEAR: dict[str, float] = {"days": DAYS_PER_YEAR, "weeks": DAYS_PER_YEAR / 7.0, "months": 12.0, "years": 1.0}
COST_UNITS = ("cycle", *UNITS_PER_YEAR)


@dataclass(frozen=True)
class CostCategory:
    """A state-cost category with its own counting rule (Markov models), e.g. drug acquisition paid at
    the start of each cycle (``counting="beginning"``) while care costs follow the model's rule:
    ``costs={"drug": CostCategory(drug, "beginning"), "care": care}``. Same unit as the other costs."""

    values: ArrayLike
    counting: str | Sequence[float] = "beginning"
    cycle_zero: str = "method"


@dataclass(frozen=True)
class StateValues:
    """Costs and utilities of the states of a cohort model (units and shapes: module docstring).

    Attributes
    ----------
    costs:
        State cost rates per ``costs_per``; an array, or a mapping category -> array (or
        :class:`CostCategory`) that adds a ``cost_<category>`` column per category.
    utilities:
        QALY weight per year in each state; <= 1, and >= 0 unless ``allow_negative_utilities``.
    costs_per:
        Unit of ``costs``: ``"cycle"``, ``"days"``, ``"weeks"``, ``"months"`` or ``"years"``; required
        when any state cost is not zero.
    one_off_cost:
        Cost per patient at time 0, undiscounted (e.g. the therapy course).
    end_of_life_cost:
        Cost per death. A partitioned survival model charges the deaths of each interval discounted at
        its midpoint; a Markov model charges moves from an alive into a dead state at the time of the
        transition, like ``transition_costs``.
    transition_costs:
        Cost per move from state i to j, (S, S) or (D, S, S) (Markov models only).
    allow_negative_utilities:
        Accept states worse than death (utility < 0).
    """

    costs: ArrayLike | Mapping[str, ArrayLike | CostCategory] = 0.0
    utilities: ArrayLike = 0.0
    costs_per: str | None = None
    one_off_cost: ArrayLike = 0.0
    end_of_life_cost: ArrayLike = 0.0
    transition_costs: ArrayLike | None = None
    allow_negative_utilities: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.costs, Mapping):
            if not self.costs:
                raise InputError("costs", {}, "give at least one cost category")
            costs: dict[str, np.ndarray | CostCategory] = {}
            for key, value in self.costs.items():
                if isinstance(value, CostCategory):
                    checked = check_costs(value.values, f"costs.{key}")
                    costs[str(key)] = CostCategory(checked, value.counting, value.cycle_zero)
                else:
                    costs[str(key)] = check_costs(value, f"costs.{key}")
            object.__setattr__(self, "costs", costs)
        else:
            object.__setattr__(self, "costs", check_costs(self.costs, "costs"))
        if self.costs_per is None:
            if any(np.any(arr != 0) for arr in self.cost_arrays().values()):
                raise InputError("costs_per", None, f"say what the state costs are per: one of {COST_UNITS}")
        elif self.costs_per not in COST_UNITS:
            raise InputError("costs_per", self.costs_per, f"use one of {COST_UNITS}")
        object.__setattr__(
            self, "utilities", check_utilities(self.utilities, "utilities", self.allow_negative_utilities)
        )
        object.__setattr__(self, "one_off_cost", check_costs(self.one_off_cost, "one_off_cost"))
        object.__setattr__(self, "end_of_life_cost", check_costs(self.end_of_life_cost, "end_of_life_cost"))
        if self.transition_costs is not None:
            object.__setattr__(self, "transition_costs", check_costs(self.transition_costs, "transition_costs"))

    @property
    def categorised(self) -> bool:
        """True if ``costs`` is a mapping of categories (each reported as a ``cost_<category>`` column)."""
        return isinstance(self.costs, Mapping)

    def categories(self) -> dict[str, np.ndarray | CostCategory]:
        """The state costs by category (one category ``"state"`` when not categorised)."""
        return dict(self.costs) if isinstance(self.costs, Mapping) else {"state": self.costs}

    def cost_arrays(self) -> dict[str, np.ndarray]:
        """The state cost values by category (a :class:`CostCategory` replaced by its values)."""
        return {k: np.asarray(v.values if isinstance(v, CostCategory) else v) for k, v in self.categories().items()}

    def cost_factor(self, per: str, cycle_length_years: float) -> float:
        """Multiplier that turns ``costs`` into costs per ``per`` (``"years"`` or ``"cycle"``), by the unit
        rule of the module docstring (1.0 where no conversion is needed)."""
        unit = self.costs_per or "years"  # all costs are zero when no unit is given
        if per == "years":
            return 1.0 / cycle_length_years if unit == "cycle" else UNITS_PER_YEAR[unit]
        if per == "cycle":
            return 1.0 if unit == "cycle" else UNITS_PER_YEAR[unit] * cycle_length_years
        raise InputError("per", per, "use 'years' or 'cycle'")
