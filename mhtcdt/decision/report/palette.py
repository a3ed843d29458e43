"""One colour per arm on every page and export, and one figure style readable in a meeting and on a phone.

:func:`arm_palette` is the single palette function: the scenario's arms, in the scenario's order, map to
fixed colours (the reference arm grey, the others the Okabe-Ito colour-blind-safe colours in order), so an
arm keeps its colour whichever table it comes from (Kaplan-Meier curves, CE plane, CEAC, subgroup plots).
:data:`STYLE` is the matplotlib style of every figure (applied with :func:`styled`): text large enough to
stay legible when a 5-6 inch figure is shown 360 px wide.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import matplotlib

REFERENCE_COLOUR = "#6b6b6b"
#: Okabe & Ito (2008) colour-blind-safe palette, strongest first (vermillion, blue, bluish green, purple ...)
ARM_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
#: colours of compared scenarios (distinct from nothing in particular: scenarios are not arms)
SCENARIO_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")

STYLE: dict[str, Any] = {
    "font.size": 11.0,
    "axes.titlesize": 12.0,
    "axes.labelsize": 11.0,
    "xtick.labelsize": 10.0,
    "ytick.labelsize": 10.0,
    "legend.fontsize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100.0,
    "savefig.dpi": 150.0,
}

F = TypeVar("F", bound=Callable[..., Any])


def styled(func: F) -> F:
    """Build the figure of ``func`` under :data:`STYLE` (matplotlib reads rc values when artists are made)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def arm_palette(arms: Sequence[str], reference: str | None = None) -> dict[str, str]:
    """Arm name -> colour: ``reference`` grey, the other arms the :data:`ARM_COLOURS` in the given order
    (pass the scenario's arms in file order, ``[a.name for a in scenario.arms]``)."""
    out: dict[str, str] = {}
    i = 0
    for name in arms:
        if name == reference:
            out[name] = REFERENCE_COLOUR
        else:
            out[name] = ARM_COLOURS[i % len(ARM_COLOURS)]
            i += 1
    return out


def scenario_palette(scenario: Any) -> dict[str, str]:
    """:func:`arm_palette` of a scenario's arms with its reference arm."""
    return arm_palette([a.name for a in scenario.arms], scenario.trial.reference_arm)


def colour_of(name: str, colours: Mapping[str, str] | None, fallback_index: int = 0) -> str:
    """The colour of ``name`` in ``colours`` (or a palette colour by position when it is not there)."""
    if colours and name in colours:
        return colours[name]
    return ARM_COLOURS[fallback_index % len(ARM_COLOURS)]
