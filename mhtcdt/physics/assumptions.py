"""Uncertain model inputs that a scenario or a sensitivity analysis may change (defaults: the data files).

Every field is validated on construction: a value outside its physical range is an
:class:`~mhtcdt.errors.InputError` naming ``assumptions.<field>`` and the value. :data:`HEAT_FIELDS` lists the
heat-related fields with the range a probabilistic analysis should sample and its source (the default of
each is today's behaviour: 1.0 for a factor, the data file for ``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from mhtcdt.errors import InputError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import radiotherapy as rt


@dataclass(frozen=True)
class HeatAssumption:
    """One heat-related uncertain input: its valid (physical) range, the range a PSA should sample and why."""

    name: str
    unit: str
    valid: tuple[float, float]  # closed interval of accepted values
    psa_range: tuple[float, float]  # suggested sampling range (uniform unless the source says otherwise)
    default_note: str
    source: str
    verified: bool


#: The heat-related fields of :class:`Assumptions` (their defaults reproduce the data files).
HEAT_FIELDS: dict[str, HeatAssumption] = {
    a.name: a
    for a in (
        HeatAssumption(
            "slp_factor",
            "-",
            (0.01, 100.0),
            (0.25, 4.0),
            "1 = the calibrated SLP median (magnetics.toml, 15 W/g Fe at 10 kA/m, 100 kHz)",
            "No measured NanoTherm SLP(H) curve found; lognormal median 15 W/g Fe, GSD 2 covering recall (11.2) and "
            "Rosensweig theory with saturation and polydispersity (15-31 W/g) (dossier issue 13 section 9): a "
            "factor of 2 either way is one GSD, 0.25-4 two",
            False,
        ),
        HeatAssumption(
            "slp_field_exponent",
            "-",
            (1.0, 2.5),
            (1.4, 2.0),
            "None = magnetics.toml (1.6)",
            "Derived: local field exponent 1 + xi L'(xi)/L(xi) of the Langevin chord susceptibility with "
            "polydispersity, 1.4-1.8 at 3-18 kA/m; 2 in the linear limit (dossier section 9)",
            False,
        ),
        HeatAssumption(
            "perfusion_factor",
            "-",
            (0.05, 20.0),
            (0.4, 2.5),
            "1 = the cohort's tumour perfusion",
            "Glioblastoma tumour blood flow 98 +- 34.5 mL/100 g/min across 7 ASL studies (study means 49-137; Br J "
            "Radiol 2021;94:20201450 Table 3) and 28 +- 19 mL/100 mL/min by 15O-water PET (Gruener 2012 EJNMMI "
            "abstract): a factor ~2.5 either way (the range is derived from these, hence verified = false)",
            False,
        ),
        HeatAssumption(
            "coverage_factor",
            "-",
            (1e-3, 1e3),
            (0.33, 3.0),
            "1 = the cohort's deposit_coverage_fraction; multiplies its odds (chain.apply_assumption_factors)",
            "No number for deposit coverage on post-instillation CT was found, only 'irregular' and 'suboptimal' "
            "distributions (Johannsen 2010 IJH 26:790 and Actas Urol Esp 2007 31:660, abstracts): an assumption",
            False,
        ),
        HeatAssumption(
            "deposit_heterogeneity_sigma_ln",
            "-",
            (0.0, 2.0),
            (0.0, 1.0),
            "None = heat_delivery.toml (0.5)",
            "Assumption (heat_delivery.toml [deposit_heterogeneity]): no measured spread of local iron concentration",
            False,
        ),
        HeatAssumption(
            "tolerance_ceiling_scale",
            "-",
            (0.1, 5.0),
            (0.75, 1.35),
            "1 = the per-patient ceiling drawn over heat_delivery.toml [field_tolerance]",
            "H*r ceilings derived from pelvic (Johannsen 2005/2007 IJH abstracts, 4-5.4 kA/m) and head (Maier-Hauff "
            "2007/2011, recalled) amplitudes; the anchors differ by ~1.35x (dossier section 4a)",
            False,
        ),
        HeatAssumption(
            "tolerance_ceiling_kA_per_m",
            "kA/m",
            (0.5, 50.0),
            (4.0, 18.0),
            "None = the per-patient draw; a value = one ceiling for every patient (at the protocol frequency)",
            "Pelvis 4.0-5.4 kA/m (Johannsen 2005/2007 IJH abstracts) to the 18 kA/m device maximum (a derived span, "
            "hence verified = false)",
            False,
        ),
        HeatAssumption(
            "healthy_cem43_limit_min",
            "min",
            (0.1, 1000.0),
            (2.0, 120.0),
            "None = the protocol's limit, else heat_delivery.toml by host tissue (brain 15 min)",
            "van Rhoon 2013 Eur Radiol (2-9 min, conservative) to Matsumi 1994 (120 min, necrosis in monkey brain); "
            "Ikeda 1994 IJH (11-15 min, dog brain) central (abstracts; dossier section 5)",
            True,
        ),
        HeatAssumption(
            "thermal_enhancement_cap_C",
            "C",
            (37.5, 50.0),
            (42.5, 44.0),
            "None = radiobiology.toml [thermoradiosensitisation] temperature_cap_C (43 C)",
            "The alpha/beta fit spans 37-42 C; murine TER ~2.5 at 42.5 C (Overgaard 1980 IJROBP abstract), "
            "clinical TER 1.05-1.4 (dossier section 8): no source supports more enhancement above ~43 C",
            False,
        ),
        HeatAssumption(
            "thermal_enhancement_factor",
            "-",
            (0.0, 5.0),
            (0.05, 1.7),
            "default = median of radiobiology.toml [thermoradiosensitisation.enhancement] (0.875); 1 = the fit as "
            "fitted; 0 = no thermal radiosensitisation",
            "Clinical thermal enhancement ratios 1.05-1.4 against the murine ~2.5 at 42.5 C the fit follows "
            "(Overgaard 1980 IJROBP abstract; dossier section 8): from almost none to 1.7x the fit's exponent",
            False,
        ),
        HeatAssumption(
            "eddy_conductivity_S_per_m",
            "S/m",
            (0.01, 2.0),
            (0.2, 0.5),
            "None = heat_delivery.toml [eddy_heating] (0.35 S/m)",
            "Muscle 0.36, fat 0.02, grey/white matter 0.47/0.22 S/m near 100 kHz (dossier section 4b)",
            False,
        ),
    )
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

    Heat (ranges and sources in :data:`HEAT_FIELDS`):
    slp_factor: multiplies every patient's SLP. slp_field_exponent: SLP ~ H^exponent (None = data).
    perfusion_factor: multiplies the tumour perfusion. coverage_factor: multiplies the odds of
    the deposit coverage c, ``c' = k c / (1 + (k - 1) c)`` (stays in (0, 1]; ~ k c for small c).
    deposit_heterogeneity_sigma_ln: log-SD of the iron concentration between shells.
    tolerance_ceiling_scale: multiplies each patient's tolerated amplitude; tolerance_ceiling_kA_per_m: one
    ceiling for all (None = per-patient draw). healthy_cem43_limit_min: per-session normal-tissue CEM43
    limit. thermal_enhancement_cap_C: thermal radiosensitisation is evaluated at min(T, cap).
    thermal_enhancement_factor: scales the exponent of thermal radiosensitisation,
    ``alpha(T) = alpha37 (alpha41/alpha37)^(s x)`` and likewise beta (0 = none, 1 = the data file's fit as fitted;
    default = the median of its PSA distribution, radiobiology.toml [thermoradiosensitisation.enhancement]).
    eddy_conductivity_S_per_m: effective tissue conductivity for eddy-current heating.

    Coverage and perfusion factors act once, on the patients' columns, in
    :func:`mhtcdt.physics.chain.apply_assumption_factors`; SLP factors in the heat source; the thermal
    enhancement in the RT step. At their defaults the results are those of the data files exactly.
    """

    chemistry_overrides: dict = field(default_factory=dict)
    thermotolerance: str = "literature"
    infiltrative_clonogen_fraction: float | None = None
    rt_alpha_heterogeneity: bool = True
    slp_factor: float = 1.0
    slp_field_exponent: float | None = None
    perfusion_factor: float = 1.0
    coverage_factor: float = 1.0
    deposit_heterogeneity_sigma_ln: float | None = None
    tolerance_ceiling_scale: float = 1.0
    tolerance_ceiling_kA_per_m: float | None = None
    healthy_cem43_limit_min: float | None = None
    thermal_enhancement_cap_C: float | None = None
    eddy_conductivity_S_per_m: float | None = None
    thermal_enhancement_factor: float = field(default_factory=rt.thermal_enhancement_factor_default)

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
        for name, spec in HEAT_FIELDS.items():
            v = getattr(self, name)
            if v is None:
                continue
            lo, hi = spec.valid
            if not (_is_number(v) and lo <= v <= hi):
                raise InputError(f"assumptions.{name}", v, f"must be a number in [{lo:g}, {hi:g}] {spec.unit}".rstrip())


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def assumption_fields() -> tuple[str, ...]:
    """Names of the fields of :class:`Assumptions` (a scenario's ``[assumptions]`` table accepts these)."""
    return tuple(f.name for f in fields(Assumptions))


DEFAULT_ASSUMPTIONS = Assumptions()
