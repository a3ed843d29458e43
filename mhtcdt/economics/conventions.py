"""Modelling conventions made explicit: time units, cycle counting, discounting, jurisdiction presets.

Nothing here is hidden inside a model. A :class:`Conventions` object carries every choice (counting
method, discount method and rates for costs and effects, cycle length, currency), is validated once,
and is passed to both cohort engines (:func:`mhtcdt.economics.run_partitioned_survival`,
:func:`mhtcdt.economics.run_markov`); ``Conventions.for_jurisdiction("nice")`` fills the rates and
currency from the HTA presets in ``economics/data/hta.toml``. The functions below are the arithmetic
the engines call.

Time units
----------
One year is 365.25 days, one month is 1/12 year (30.4375 days), one week 7 days.
:func:`to_years` converts once at the boundary.

Counting (how a cohort trace evaluated at points t_0 = 0, t_1, ..., t_n becomes a time integral)
---------------------------------------------------------------------------------------------
``counting_weights`` returns one weight per point, in the time unit of the grid, so that
``sum_k w_k f(t_k)`` approximates ``int_0^{t_n} f(t) dt``:

* ``"beginning"``  -- each interval takes the value at its start (cycle 0 counted, last point not);
* ``"end"``        -- each interval takes the value at its end (cycle 0 not counted);
* ``"life_table"`` -- the mean of both ends (half-cycle correction); identical to ``"trapezoid"``;
* ``"trapezoid"``  -- trapezoidal rule, also on non-uniform grids;
* ``"simpson"``    -- composite Simpson 1/3 rule, weights h*(1/3, 4/3, 2/3, 4/3, ..., 2/3, 4/3, 1/3);
  needs a uniform grid with an even number of intervals (some packages ship the swapped
  pattern 1/3, 2/3, 4/3, ...; that is not Simpson's rule and is not offered);
* ``"cycle_average"`` -- heemod's ``method = "life-table"``: cycle k (k = 1..n) counts the mean of
  its start and end occupancy, (x_{k-1} + x_k) / 2, and takes the values of cycle k (row k of a
  reward that varies by cycle) with ONE discount factor, that of its end point t_k. So
  ``"cycle_average"`` is ``"end"`` counting applied to the cycle-average trace
  (:func:`cycle_average_trace`); with ``discount_method="discrete_lagged"`` cycle k is discounted by
  (1 + r)^-(k - 1), heemod's default ``discount(x, r)``, with ``"discrete"`` by (1 + r)^-k
  (heemod's ``discount(x, r, first = TRUE)``). It differs from ``"life_table"`` (which discounts
  each end of a cycle at its own time) by about 3% on the ICER of heemod's HIV vignette;
  ``counting_weights`` returns the ``"end"`` weights for it;
* any custom sequence of n+1 weights (multiplied by the uniform step h).

Whether cycle 0 (the starting state) counts follows the method unless overridden with
``cycle_zero="count"`` (a full step) or ``"skip"`` (weight 0); not with ``"cycle_average"``.

Discounting (factor applied to the value at a point of time t, in years)
--------------------------------------------------------------------------
* ``"discrete"``        -- (1 + r) ** -t  (exponent = time of the point; for annual end-of-cycle
  counting this is the classic 1/(1+r)^t with t = cycle number);
* ``"discrete_lagged"`` -- (1 + r) ** -(t - cycle length), i.e. exponent t-1 for annual cycles: the
  value of a cycle is discounted from the start of that cycle (floored at 0);
* ``"discrete_yearly"`` -- (1 + r) ** -floor(t): constant within each model year (common for
  monthly models in spreadsheets);
* ``"continuous"``      -- exp(-r * t) with r an instantaneous (continuous) rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mhtcdt.datafiles import load_toml
from mhtcdt.economics.validation import as_finite, check_rate
from mhtcdt.errors import InputError

DAYS_PER_YEAR = 365.25
UNIT_IN_YEARS: dict[str, float] = {
    "days": 1.0 / DAYS_PER_YEAR,
    "weeks": 7.0 / DAYS_PER_YEAR,
    "months": 1.0 / 12.0,
    "years": 1.0,
}

CountingMethod = Literal["beginning", "end", "life_table", "trapezoid", "simpson", "cycle_average"]
DiscountMethod = Literal["discrete", "discrete_lagged", "discrete_yearly", "continuous"]
COUNTING_METHODS = ("beginning", "end", "life_table", "trapezoid", "simpson", "cycle_average")
DISCOUNT_METHODS = ("discrete", "discrete_lagged", "discrete_yearly", "continuous")
CYCLE_ZERO_OPTIONS = ("method", "count", "skip")


def to_years(value: float | np.ndarray, unit: str) -> float | np.ndarray:
    """Convert a duration in ``unit`` ("days", "weeks", "months", "years") to years."""
    if not isinstance(unit, str) or unit not in UNIT_IN_YEARS:
        raise InputError("unit", unit, f"unknown time unit; use one of {sorted(UNIT_IN_YEARS)}")
    return (
        as_finite(value, "value") * UNIT_IN_YEARS[unit]
        if not isinstance(value, int | float)
        else value * UNIT_IN_YEARS[unit]
    )


def check_time_grid(time: Sequence[float] | np.ndarray, field: str = "time") -> np.ndarray:
    """Validate a time grid: 1-D, finite, starting at 0, strictly increasing, >= 2 points."""
    t = np.asarray(time, dtype=float)
    if t.ndim != 1 or t.size < 2:
        raise InputError(field, t.shape, "needs a 1-D grid with at least two points (0 and one cycle)")
    if not np.all(np.isfinite(t)):
        raise InputError(field, t[~np.isfinite(t)][:3].tolist(), "contains non-finite values")
    if t[0] != 0.0:
        raise InputError(field, float(t[0]), "the grid must start at 0")
    steps = np.diff(t)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raise InputError(f"{field}[{k + 1}]", float(t[k + 1]), "the grid must be strictly increasing")
    return t


def _is_uniform(t: np.ndarray) -> bool:
    steps = np.diff(t)
    return bool(np.allclose(steps, steps[0], rtol=1e-9, atol=0.0))


def counting_weights(
    time: Sequence[float] | np.ndarray,
    method: str | Sequence[float] = "trapezoid",
    cycle_zero: str = "method",
) -> np.ndarray:
    """Integration weights, one per grid point, in the unit of ``time`` (see module docstring).

    Parameters
    ----------
    time:
        Grid t_0 = 0 < t_1 < ... < t_n (any unit; weights come out in the same unit).
    method:
        A name from ``COUNTING_METHODS`` or a custom sequence of n+1 weights (multiplied by the
        uniform step; a custom vector needs a uniform grid).
    cycle_zero:
        Whether the starting point counts: ``"method"`` (as the method says: full for
        "beginning", half for "life_table"/"trapezoid", 1/3 for "simpson", none for "end"),
        ``"count"`` (a full first step, as some spreadsheet models do), ``"skip"`` (weight 0).
    """
    averaged = isinstance(method, str) and method == "cycle_average"
    if averaged and cycle_zero != "method":
        raise InputError("cycle_zero", cycle_zero, "'cycle_average' counts every cycle by its mean; use 'method'")
    w = _method_weights(time, "end" if averaged else method)
    if cycle_zero == "method":
        return w
    t = np.asarray(time, dtype=float)
    if cycle_zero == "count":
        w[0] = t[1] - t[0]
    elif cycle_zero == "skip":
        w[0] = 0.0
    else:
        raise InputError("cycle_zero", cycle_zero, "use 'method', 'count' or 'skip'")
    return w


def cycle_average_trace(trace: np.ndarray, axis: int = 0) -> np.ndarray:
    """The trace ``"cycle_average"`` counting weights: y_0 = 0, y_k = (x_{k-1} + x_k) / 2 along ``axis``
    (the time axis, points 0..n), so that the ``"end"`` weights give heemod's life-table count."""
    x = np.moveaxis(np.asarray(trace, dtype=float), axis, 0)
    y = np.empty_like(x)
    y[0] = 0.0
    np.add(x[:-1], x[1:], out=y[1:])
    y[1:] *= 0.5
    return np.moveaxis(y, 0, axis)


def _method_weights(time: Sequence[float] | np.ndarray, method: str | Sequence[float]) -> np.ndarray:
    t = check_time_grid(time)
    h = np.diff(t)
    n = t.size - 1
    w = np.zeros(t.size)
    if isinstance(method, str):
        if method == "beginning":
            w[:-1] = h
        elif method == "end":
            w[1:] = h
        elif method in ("life_table", "trapezoid"):
            w[:-1] += 0.5 * h
            w[1:] += 0.5 * h
        elif method == "simpson":
            if not _is_uniform(t):
                raise InputError("counting", method, "Simpson's rule needs a uniform grid")
            if n % 2 != 0:
                raise InputError("counting", method, f"Simpson's rule needs an even number of intervals, got {n}")
            w[:] = 2.0 / 3.0
            w[1::2] = 4.0 / 3.0
            w[0] = w[-1] = 1.0 / 3.0
            w *= h[0]
        else:
            raise InputError(
                "counting",
                method,
                f"unknown counting method; use one of {COUNTING_METHODS} or a weight vector",
            )
        return w
    custom = np.asarray(method, dtype=float)
    if custom.shape != t.shape:
        raise InputError("counting", custom.shape, f"a custom weight vector needs {t.size} weights (one per point)")
    if not np.all(np.isfinite(custom)) or np.any(custom < 0):
        raise InputError("counting", custom.tolist()[:5], "custom weights must be finite and >= 0")
    if not _is_uniform(t):
        raise InputError("counting", "custom", "custom weights need a uniform grid")
    return custom * h[0]


def discount_factors(
    time_years: np.ndarray, rate: float, method: str = "discrete", *, cycle_length_years: float | None = None
) -> np.ndarray:
    """Discount factor at each time (years), see the module docstring for the methods.

    ``cycle_length_years`` is needed by ``"discrete_lagged"`` (defaults to the first grid step).
    """
    t = as_finite(time_years, "time_years")  # a NaN time would give a NaN factor
    if np.any(t < 0):
        raise InputError(
            f"time_years[{int(np.argmax(t < 0))}]", float(t[t < 0][0]), "times are >= 0 (years from start)"
        )
    r = check_rate(rate, "discount_rate")
    if method == "discrete":
        return (1.0 + r) ** -t
    if method == "discrete_lagged":
        if cycle_length_years is None:
            cycle_length_years = float(t[1] - t[0]) if t.size > 1 else 1.0
        cycle_length_years = float(as_finite(cycle_length_years, "cycle_length_years"))
        if cycle_length_years <= 0:
            raise InputError("cycle_length_years", cycle_length_years, "must be > 0")
        return (1.0 + r) ** -np.maximum(t - cycle_length_years, 0.0)
    if method == "discrete_yearly":
        # a tiny tolerance keeps t = 1.0 computed as 12 * (1/12) in year 1, not year 0
        return (1.0 + r) ** -np.floor(t + 1e-9)
    if method == "continuous":
        return np.exp(-r * t)
    raise InputError("discount_method", method, f"unknown discount method; use one of {DISCOUNT_METHODS}")


@dataclass(frozen=True)
class Jurisdiction:
    """HTA conventions of one jurisdiction (values with source in economics/data/hta.toml)."""

    key: str
    name: str
    discount_costs: float
    discount_effects: float
    currency: str
    thresholds_per_qaly: tuple[float, ...]
    perspective: str
    source: str
    verified: bool
    reference_perspective: str = "payer"
    default_willingness_to_pay: float | None = None

    @property
    def sets_threshold(self) -> bool:
        """Whether the jurisdiction publishes a QALY threshold (IQWiG and HAS do not)."""
        return bool(self.thresholds_per_qaly)


def _hta_data() -> dict[str, Any]:
    return load_toml("mhtcdt.economics", "data/hta.toml")


def jurisdiction(key: str) -> Jurisdiction:
    """Preset discount rates, threshold(s) and perspective, e.g. ``jurisdiction("nice")``.

    Keys: ``nice``, ``netherlands``, ``germany``, ``france``, ``united_states``.
    """
    presets = _hta_data()["jurisdictions"]
    if not isinstance(key, str) or key not in presets:
        raise InputError("jurisdiction", key, f"unknown jurisdiction; use one of {sorted(presets)}")
    p = presets[key]
    return Jurisdiction(
        key=key,
        name=p["name"],
        discount_costs=float(p["discount_costs"]),
        discount_effects=float(p["discount_effects"]),
        currency=p["currency"],
        thresholds_per_qaly=tuple(float(x) for x in p.get("thresholds_per_qaly", [])),
        perspective=p["perspective"],
        source=p["source"],
        verified=bool(p["verified"]),
        reference_perspective=p["reference_perspective"],
        default_willingness_to_pay=(
            None if p.get("default_willingness_to_pay") is None else float(p["default_willingness_to_pay"])
        ),
    )


def jurisdictions() -> list[str]:
    """Keys of all jurisdiction presets."""
    return sorted(_hta_data()["jurisdictions"])


def cheers_items() -> list[str]:
    """The 28 CHEERS 2022 checklist items (Husereau et al. 2022), in order."""
    return list(_hta_data()["cheers_2022"]["items"])


@dataclass(frozen=True)
class Conventions:
    """Every modelling convention of a cohort model in one validated object (hesim keeps the same
    choices as explicit arguments: ``dr``, ``integrate_method``).

    Attributes
    ----------
    discount_costs, discount_effects:
        Annual discount rates, fractions in [0, 1) (0.035 = 3.5 %).
    discount_method:
        One of ``DISCOUNT_METHODS`` (module docstring).
    counting:
        One of ``COUNTING_METHODS`` or a custom sequence of n + 1 weights (module docstring).
    cycle_zero:
        ``"method"``, ``"count"`` or ``"skip"``: whether the starting point counts (module docstring).
    cycle_length, cycle_unit:
        The model cycle (``cycle_unit`` in "days", "weeks", "months", "years"): the step of a Markov
        model, and the unit of costs given per cycle (:class:`~mhtcdt.economics.values.StateValues`).
        A partitioned survival model takes its time grid from its curves, not from the cycle.
    currency:
        ISO 4217 code of every cost (reported in the results' ``attrs``), or None.
    """

    discount_costs: float = 0.035
    discount_effects: float = 0.035
    discount_method: DiscountMethod = "discrete"
    counting: CountingMethod | tuple[float, ...] = "life_table"
    cycle_zero: str = "method"
    cycle_length: float = 1.0
    cycle_unit: str = "years"
    currency: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "discount_costs", check_rate(self.discount_costs, "discount_costs"))
        object.__setattr__(self, "discount_effects", check_rate(self.discount_effects, "discount_effects"))
        if self.discount_method not in DISCOUNT_METHODS:
            raise InputError(
                "discount_method", self.discount_method, f"unknown discount method; use one of {DISCOUNT_METHODS}"
            )
        if isinstance(self.counting, str):
            if self.counting not in COUNTING_METHODS:
                raise InputError(
                    "counting", self.counting, f"unknown counting method; use one of {COUNTING_METHODS} or weights"
                )
        else:
            custom = np.asarray(self.counting, dtype=float)
            if custom.ndim != 1 or not np.all(np.isfinite(custom)) or np.any(custom < 0):
                raise InputError("counting", custom.tolist()[:5], "custom weights must be finite values >= 0 (1-D)")
            object.__setattr__(self, "counting", tuple(float(x) for x in custom))
        if self.cycle_zero not in CYCLE_ZERO_OPTIONS:
            raise InputError("cycle_zero", self.cycle_zero, f"use one of {CYCLE_ZERO_OPTIONS}")
        if self.counting == "cycle_average" and self.cycle_zero != "method":
            raise InputError("cycle_zero", self.cycle_zero, "'cycle_average' counts cycles by their mean; use 'method'")
        length = float(self.cycle_length)
        if not np.isfinite(length) or length <= 0:
            raise InputError("cycle_length", self.cycle_length, "must be > 0")
        object.__setattr__(self, "cycle_length", length)
        to_years(length, self.cycle_unit)  # validates the unit

    @classmethod
    def for_jurisdiction(cls, key: str, **overrides: Any) -> Conventions:
        """Discount rates and currency of a jurisdiction preset (:func:`jurisdiction`), other fields from
        ``overrides`` (e.g. ``Conventions.for_jurisdiction("nice", counting="simpson")``); an override of a
        rate replaces the preset's."""
        preset = jurisdiction(key)
        fields = {
            "discount_costs": preset.discount_costs,
            "discount_effects": preset.discount_effects,
            "currency": preset.currency,
        }
        fields.update(overrides)
        return cls(**fields)

    @property
    def cycle_length_years(self) -> float:
        """The cycle length in years (:func:`to_years`)."""
        return float(to_years(self.cycle_length, self.cycle_unit))

    @property
    def counting_label(self) -> str:
        """The counting method's name, or ``"custom"`` for a weight vector."""
        return self.counting if isinstance(self.counting, str) else "custom"

    def weights(self, time: Sequence[float] | np.ndarray) -> np.ndarray:
        """:func:`counting_weights` of this counting rule on the grid ``time`` (weights in its unit)."""
        return counting_weights(time, self.counting, self.cycle_zero)

    def attrs(self) -> dict[str, Any]:
        """The conventions as reported in a result's ``attrs`` (contract section 5)."""
        return {
            "currency": self.currency,
            "counting": self.counting_label,
            "discount_method": self.discount_method,
            "discount_costs": self.discount_costs,
            "discount_effects": self.discount_effects,
        }
