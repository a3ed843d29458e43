"""Uncertain model inputs that a scenario or a sensitivity analysis may change (defaults: the data files)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from mhtcdt.errors import InputError
from mhtcdt.physics import chemistry as ch

#: multiplier fields: name -> (lowest allowed, highest allowed); 1.0 = the data files (today's behaviour)
FACTOR_RANGES = {
    "slp_factor": (1e-3, 100.0),
    "coverage_factor": (1e-3, 1e3),
    "perfusion_factor": (1e-2, 100.0),
    "thermal_enhancement_factor": (0.0, 5.0),
}


@dataclass(frozen=True)
class Assumptions:
    """Uncertain model inputs a scenario or sensitivity analysis may change (defaults = the data files).

    chemistry_overrides: ``{name: value}`` for chemistry.toml parameters, names as in
        ``chemistry.known_override_keys()`` (e.g. ``"k.fe3_ho2": 2e3`` for the disputed constant,
        ``"cdt_kill.heat_ros_sensitisation": 0.5``).
    thermotolerance: Physics I preset (``"literature"`` default, ``"seed_review"``) or ``"none"``.
    infiltrative_clonogen_fraction: median share of clonogens beyond the heated volume (None = data file).
    rt_alpha_heterogeneity: draw alpha per patient over the indication's range (True) or use its mean.
    slp_factor: multiplies every patient's calibrated specific loss power (the agent's SLP curve,
        agents.toml; the per-patient lognormal factor stays) [dimensionless, (0, 100]].
    coverage_factor: multiplies the odds of each patient's deposit coverage c:
        ``c' = k c / (1 + (k - 1) c)`` (stays in (0, 1]; ~ k c for small c; full coverage stays full)
        [dimensionless, (0, 1000]].
    perfusion_factor: multiplies each patient's tumour perfusion at 37 C (the cohort column) [dimensionless].
    thermal_enhancement_factor: scales the exponent of thermal radiosensitisation,
        ``alpha(T) = alpha37 (alpha41/alpha37)^(s x)`` and likewise beta, ``x = (T - 37)/4 exp(-mu dt)``
        (radiotherapy.py); 1 = the data file's fit, 0 = no thermal radiosensitisation [dimensionless, [0, 5]].

    The multipliers act on the inputs of the chain (:func:`mhtcdt.physics.chain.apply_assumption_factors`
    for coverage and perfusion, the heat source for SLP, the RT step for thermal enhancement); at 1.0 the
    results are those of the data files exactly.
    """

    chemistry_overrides: dict = field(default_factory=dict)
    thermotolerance: str = "literature"
    infiltrative_clonogen_fraction: float | None = None
    rt_alpha_heterogeneity: bool = True
    slp_factor: float = 1.0
    coverage_factor: float = 1.0
    perfusion_factor: float = 1.0
    thermal_enhancement_factor: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.chemistry_overrides, dict):
            raise InputError(
                "assumptions.chemistry_overrides", self.chemistry_overrides, "must be a table of {key: value}"
            )
        ch.ChemistryConditions(overrides=dict(self.chemistry_overrides))  # validates names and values
        if self.thermotolerance != "none":
            from mhtcdt.physics.thermotolerance import thermotolerance_preset

            thermotolerance_preset(self.thermotolerance)
        f = self.infiltrative_clonogen_fraction
        if f is not None and not (_is_number(f) and 0.0 <= f < 1.0):
            raise InputError("assumptions.infiltrative_clonogen_fraction", f, "must lie in [0, 1)")
        if not isinstance(self.rt_alpha_heterogeneity, bool):
            raise InputError("assumptions.rt_alpha_heterogeneity", self.rt_alpha_heterogeneity, "must be true or false")
        for name, (lo, hi) in FACTOR_RANGES.items():
            v = getattr(self, name)
            if not (_is_number(v) and lo <= v <= hi) or (name != "thermal_enhancement_factor" and v <= 0):
                raise InputError(f"assumptions.{name}", v, f"must be a number in [{lo:g}, {hi:g}] (1 = data files)")


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def assumption_fields() -> tuple[str, ...]:
    """Names of the fields of :class:`Assumptions` (a scenario's ``[assumptions]`` table accepts these)."""
    return tuple(f.name for f in fields(Assumptions))


DEFAULT_ASSUMPTIONS = Assumptions()
