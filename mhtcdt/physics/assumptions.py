"""Uncertain model inputs that a scenario or a sensitivity analysis may change (defaults: the data files)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mhtcdt.errors import InputError
from mhtcdt.physics import chemistry as ch


@dataclass(frozen=True)
class Assumptions:
    """Uncertain model inputs a scenario or sensitivity analysis may change (defaults = the data files).

    chemistry_overrides: ``{name: value}`` for chemistry.toml parameters, names as in
        ``chemistry.known_override_keys()`` (e.g. ``"k.fe3_ho2": 2e3`` for the disputed constant,
        ``"cdt_kill.heat_ros_sensitisation": 0.5``).
    thermotolerance: Physics I preset (``"literature"`` default, ``"seed_review"``) or ``"none"``.
    infiltrative_clonogen_fraction: median share of clonogens beyond the heated volume (None = data file).
    rt_alpha_heterogeneity: draw alpha per patient over the indication's range (True) or use its mean.
    """

    chemistry_overrides: dict = field(default_factory=dict)
    thermotolerance: str = "literature"
    infiltrative_clonogen_fraction: float | None = None
    rt_alpha_heterogeneity: bool = True

    def __post_init__(self) -> None:
        ch.ChemistryConditions(overrides=dict(self.chemistry_overrides))  # validates names and values
        if self.thermotolerance != "none":
            from mhtcdt.physics.thermotolerance import thermotolerance_preset

            thermotolerance_preset(self.thermotolerance)
        f = self.infiltrative_clonogen_fraction
        if f is not None and not (math.isfinite(f) and 0.0 <= f < 1.0):
            raise InputError("assumptions.infiltrative_clonogen_fraction", f, "must lie in [0, 1)")


DEFAULT_ASSUMPTIONS = Assumptions()
