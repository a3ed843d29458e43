"""Scenario files: the TOML schema of a virtual trial + cost-effectiveness analysis.

A scenario is a TOML file validated by the pydantic v2 models below. Every numeric field
carries its unit in its name (``_months``, ``_Gy``, ``_kHz`` ...) or in its description, and
bounds. Costs are in the scenario's ``economics.currency`` at ``economics.price_year``.

Layout (see ``mhtcdt/decision/scenario/presets/default.toml`` for a complete, sourced example)::

    name, description, seed
    [cohort]     indication, n_screened, criteria = ["kps >= 60", ...]
    [[arms]]     one treatment protocol per arm (fields of mhtcdt.physics.Protocol)
    [trial]      reference_arm, allocation, stratify_by, block_size, accrual, follow-up, censoring
    [economics]  jurisdiction (HTA reference case: nice, netherlands, germany, france, united_states),
                 currency, price_year, discounting, horizon, cycle length, willingness to pay,
                 [economics.cost_transfer],
                 [economics.costs], [economics.utilities]
    [assumptions] uncertain physics inputs of the deterministic run (mhtcdt.physics.Assumptions fields)
    [psa]        physics and structural uncertainty in the PSA: physics = true, fixed = [...],
                 [[psa.inputs]] distributions replacing the registry's, structural_presets = [...]

Validation reports every problem at once as :class:`mhtcdt.errors.InputErrors`, one line
per problem naming the dotted field path and the bad value. Reading, parsing and writing scenario
files: :mod:`mhtcdt.decision.scenario.loading`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mhtcdt.economics import jurisdiction as hta_jurisdiction
from mhtcdt.economics import jurisdictions as hta_jurisdictions
from mhtcdt.errors import InputError
from mhtcdt.physics import Assumptions, Protocol, ProtocolName
from mhtcdt.physics.assumptions import assumption_fields

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeCost = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class _Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CohortSpec(_Strict):
    indication: str = Field(description="Indication key, e.g. 'recurrent_glioblastoma', 'prostate', 'pancreas'.")
    n_screened: int = Field(gt=0, le=5_000_000, description="Virtual patients screened before selection [patients].")
    criteria: list[str] = Field(
        default_factory=list,
        description="Eligibility criteria as safe expressions over cohort columns, applied in order.",
    )
    disease_setting: Literal["recurrent", "newly_diagnosed"] | None = Field(
        None,
        description="Glioblastoma setting of the outcome model: 'newly_diagnosed' draws the population from the "
        "recurrent generator without prior therapy (mhtcdt.decision.model.setting); default: as generated.",
    )


class ArmSpec(Protocol):
    """One trial arm: a physics :class:`~mhtcdt.physics.Protocol` (its fields, bounds, descriptions and
    consistency rules, declared there once) with a required name."""

    name: ProtocolName

    # pydantic's own __init__, not Protocol's (which turns the first problem into an InputError for direct
    # physics calls): as a scenario section the arm reports every problem with its dotted path.
    __init__ = BaseModel.__init__


class TrialSpec(_Strict):
    reference_arm: str = Field(description="Comparator arm name for hazard ratios and ICERs.")
    allocation: dict[str, float] = Field(description="Allocation ratio weight per arm name, e.g. {A = 1, B = 1}.")
    stratify_by: list[str] = Field(default_factory=list, description="Cohort columns used as strata.")
    block_size: int = Field(4, ge=1, le=100, description="Randomisation block size [patients].")
    accrual_per_month: float = Field(10.0, gt=0.0, le=10_000.0, description="Accrual rate [patients/month].")
    min_follow_up_months: float = Field(12.0, gt=0.0, le=240.0, description="Minimum follow-up [months].")
    dropout_per_year: Probability = Field(0.05, description="Annual probability of loss to follow-up.")
    rmst_horizon_months: float = Field(
        24.0, gt=0.0, le=240.0, description="Restriction time of the RMST difference [months]."
    )
    data_cutoff_months: float | None = Field(
        None, gt=0.0, le=600.0, description="Data cut-off from first randomisation [months]; default accrual + min FU."
    )

    @field_validator("allocation")
    @classmethod
    def _positive_weights(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w > 0 and w < 1e6)}
        if bad:
            raise ValueError(f"allocation weights must be positive and finite, got {bad}")
        if len(v) < 2:
            raise ValueError(f"a comparative trial needs at least two arms in allocation, got {list(v)}")
        return v


class CostSpec(_Strict):
    """Unit costs in the scenario's currency and price year."""

    mht_course: NonNegativeCost = Field(description="One MHT course (particles, instillation, sessions) [currency].")
    rt_course: NonNegativeCost = Field(description="One radiotherapy course as in the arms [currency].")
    cdt_agent_course: NonNegativeCost = Field(0.0, description="A CDT agent course, if any arm uses one [currency].")
    temozolomide_course: NonNegativeCost = Field(
        0.0, description="One Stupp temozolomide course (concomitant + 6 adjuvant cycles), pro rata [currency]."
    )
    lomustine_course: NonNegativeCost = Field(0.0, description="Lomustine until progression, per patient [currency].")
    bevacizumab_course: NonNegativeCost = Field(
        0.0, description="Bevacizumab until progression, per patient [currency]."
    )
    gemcitabine_cycle: NonNegativeCost = Field(
        0.0, description="One 28-day gemcitabine cycle (drug and three administrations) [currency]."
    )
    folfirinox_cycle: NonNegativeCost = Field(
        0.0, description="One 14-day FOLFIRINOX cycle (drugs, administration, infusion pump) [currency]."
    )
    progression_free_per_month: NonNegativeCost = Field(description="Care while progression-free [currency/month].")
    progressed_per_month: NonNegativeCost = Field(description="Care after progression [currency/month].")
    end_of_life: NonNegativeCost = Field(description="One-off cost at death [currency].")


class UtilitySpec(_Strict):
    progression_free: float = Field(le=1.0, ge=-0.6, description="Utility while progression-free [QALY/year].")
    progressed: float = Field(le=1.0, ge=-0.6, description="Utility after progression [QALY/year].")


UNCERTAIN_PARAMETERS = (
    "costs.mht_course",
    "costs.rt_course",
    "costs.cdt_agent_course",
    "costs.gemcitabine_cycle",
    "costs.folfirinox_cycle",
    "costs.progression_free_per_month",
    "costs.progressed_per_month",
    "costs.end_of_life",
    "utilities.progression_free",
    "utilities.progressed",
)


class UncertainParameter(_Strict):
    """PSA distribution and DSA range of one economic input.

    The scenario's point value is the distribution's mean (median for ``lognormal``); ``low`` and
    ``high`` are the 95 % interval, so the standard deviation is (high - low) / 3.92 (on the log scale
    for ``lognormal``). The same bounds are the one-way DSA range.
    """

    parameter: Literal[UNCERTAIN_PARAMETERS] = Field(description="Dotted path of the economic input.")
    distribution: Literal["gamma", "beta", "lognormal", "normal"]
    low: float = Field(allow_inf_nan=False, description="Lower end of the 95 % interval [units of the parameter].")
    high: float = Field(allow_inf_nan=False, description="Upper end of the 95 % interval [units of the parameter].")
    source: str = Field("", description="Where the range comes from (citation or 'assumption').")

    @model_validator(mode="after")
    def _ordered(self) -> UncertainParameter:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.distribution in ("gamma", "lognormal") and self.low <= 0:
            raise ValueError(f"a {self.distribution} distribution needs low > 0, got {self.low}")
        if self.distribution == "beta" and not (0 < self.low and self.high < 1):
            raise ValueError(f"a beta distribution needs 0 < low and high < 1, got [{self.low}, {self.high}]")
        return self


JurisdictionKey = Literal[tuple(hta_jurisdictions())]
#: The cost fields a PPP transfer may leave alone (``local_inputs``: given in the target currency).
COST_FIELDS = tuple(CostSpec.model_fields)


class CostTransferSpec(_Strict):
    """How costs that are not local tariffs reached the scenario's currency: the English NHS costs of
    ``from_jurisdiction`` at ``from_price_year`` multiplied by PPP_to / PPP_from (:mod:`mhtcdt.economics.transfer`).

    The costs in ``[economics.costs]`` are the transferred values (in the scenario's currency); this table says
    so, and every output of the run prints it. ``local_inputs`` lists the costs given in the target currency
    instead (by default the NanoTherm course, a traded device priced in EUR)."""

    from_jurisdiction: JurisdictionKey = Field("nice", description="Jurisdiction whose costs were transferred.")
    from_price_year: int = Field(ge=1990, le=2100, description="Price year of the transferred costs.")
    method: Literal["ppp_gdp"] = Field("ppp_gdp", description="PPP for GDP (World Bank WDI), economics/data/ppp.toml.")
    local_inputs: list[Literal[COST_FIELDS]] = Field(
        default_factory=lambda: ["mht_course"], description="Costs given in the target currency, not transferred."
    )


class EconomicsSpec(_Strict):
    jurisdiction: JurisdictionKey = Field(
        "nice",
        description="HTA reference case (economics/data/hta.toml): currency, discount rates, perspective and the "
        "default willingness to pay; every departure from it is printed by every output of the run.",
    )
    cost_transfer: CostTransferSpec | None = Field(
        None, description="Set when the costs are transferred from another jurisdiction by PPP (not local tariffs)."
    )
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 currency code of every cost.")
    price_year: int = Field(ge=1990, le=2100)
    perspective: Literal["payer", "societal"] = Field(
        "payer",
        description="'payer': health-care costs only; 'societal' is refused (productivity losses and informal care "
        "are not modelled: decision/scenario/reference_case.py).",
    )
    discount_costs: float = Field(ge=0.0, le=0.2, description="Annual discount rate for costs.")
    discount_effects: float = Field(ge=0.0, le=0.2, description="Annual discount rate for life-years and QALYs.")
    horizon_years: float = Field(gt=0.0, le=100.0, description="Time horizon [years].")
    cycle_months: float = Field(1.0, gt=0.0, le=12.0, description="Cycle length [months].")
    counting: Literal["beginning", "end", "life_table", "trapezoid", "simpson"] = Field(
        "life_table", description="How cycles are counted (life-table / half-cycle correction by default)."
    )
    discount_method: Literal["discrete", "discrete_lagged", "discrete_yearly", "continuous"] = Field(
        "discrete", description="Discounting: (1+r)^-t at each time t in years (see economics.conventions)."
    )
    survival_source: Literal["outcome_model", "parametric", "kaplan_meier"] = Field(
        "outcome_model",
        description=(
            "Curves for the partitioned survival model: 'outcome_model' (the outcome model's complete latent "
            "survival of the trial's patients at the calibrated point: the same model the PSA samples), "
            "'parametric' (best-AIC fits to the censored trial, extrapolated, as an HTA submission would) or "
            "'kaplan_meier' (no extrapolation)."
        ),
    )
    willingness_to_pay: float = Field(gt=0.0, le=1e7, description="Willingness to pay [currency per QALY].")
    costs: CostSpec
    utilities: UtilitySpec
    psa_draws: int = Field(1000, ge=10, le=1_000_000, description="Probabilistic sensitivity analysis draws.")
    uncertainty: list[UncertainParameter] = Field(
        default_factory=list, description="PSA distributions and DSA ranges of economic inputs."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_willingness_to_pay(cls, data: Any) -> Any:
        """A missing ``willingness_to_pay`` takes the jurisdiction's default threshold (hta.toml), when it has
        one (Germany and France set none: the rule in scenario/checks.py then asks for one)."""
        if isinstance(data, dict) and "willingness_to_pay" not in data:
            key = data.get("jurisdiction", "nice")
            if isinstance(key, str) and key in hta_jurisdictions():
                default = hta_jurisdiction(key).default_willingness_to_pay
                if default is not None:
                    return {**data, "willingness_to_pay": default}
        return data

    def point_value(self, parameter: str) -> float:
        """The scenario's value of a dotted economic input, e.g. ``costs.mht_course``."""
        section, name = parameter.split(".")
        return float(getattr(getattr(self, section), name))

    @model_validator(mode="after")
    def _uncertainty_brackets_point(self) -> EconomicsSpec:
        seen = set()
        for spec in self.uncertainty:
            if spec.parameter in seen:
                raise ValueError(f"uncertainty lists {spec.parameter!r} twice")
            seen.add(spec.parameter)
            point = self.point_value(spec.parameter)
            if not spec.low <= point <= spec.high:
                raise ValueError(
                    f"uncertainty range of {spec.parameter} [{spec.low}, {spec.high}] does not contain "
                    f"the scenario value {point}"
                )
        return self


def check_assumptions(table: dict[str, Any]) -> Assumptions:
    """The :class:`mhtcdt.physics.Assumptions` of a scenario's ``[assumptions]`` table (its keys are the
    fields of Assumptions; missing keys keep the data files' values). An unknown key or a value out of range
    is an :class:`InputError` naming the key (``<key>`` or ``chemistry_overrides.<name>``)."""
    known = assumption_fields()
    for key, value in table.items():
        if key not in known:
            raise InputError(key, value, f"unknown assumption; known: {', '.join(known)}")
    try:
        return Assumptions(**table)
    except InputError as exc:
        name = exc.field.removeprefix("assumptions.").replace("overrides.", "chemistry_overrides.", 1)
        raise InputError(name, exc.value, exc.message) from None
    except TypeError as exc:  # e.g. a table where a number belongs
        raise InputError("assumptions", table, str(exc)) from None


class PSAInputSpec(_Strict):
    """A scenario's distribution for one uncertain input of the registry
    (:mod:`mhtcdt.decision.scenario.uncertain_inputs`), replacing the registry's."""

    name: str = Field(description="Input name in decision/scenario/data/physics_uncertainty.toml.")
    distribution: str = Field(description="lognormal, beta, uniform, loguniform, normal, choice or fixed.")
    median: float | None = None
    gsd: float | None = None
    low: float | None = None
    high: float | None = None
    interval: float | None = None
    mean: float | None = None
    sd: float | None = None
    value: Any = None
    choices: list[str] | None = None
    weights: list[float] | None = None
    source: str = Field("", description="Where the distribution comes from.")

    @model_validator(mode="after")
    def _proper(self) -> PSAInputSpec:
        from mhtcdt.decision.scenario.uncertain_inputs import make_distribution, registry

        reg = registry()
        if self.name not in reg:
            raise InputError("name", self.name, f"unknown input; known: {', '.join(reg)}")
        spec = {k: v for k, v in self.model_dump().items() if v is not None}
        try:
            make_distribution(spec, reg[self.name].support, self.name)
        except InputError as exc:
            raise InputError(exc.field.removeprefix(f"{self.name}."), exc.value, exc.message) from None
        return self


class PSASpec(_Strict):
    """Physics and structural uncertainty in the probabilistic sensitivity analysis."""

    physics: bool = Field(True, description="Sample the physics and structural inputs of the registry.")
    fixed: list[str] = Field(
        default_factory=list, description="Registry inputs held at the scenario's deterministic value."
    )
    inputs: list[PSAInputSpec] = Field(
        default_factory=list, description="Distributions replacing the registry's for some inputs."
    )
    structural_presets: list[str] | None = Field(
        None, description="Structural alternatives listed side by side (default: every preset of the package)."
    )

    @model_validator(mode="after")
    def _known_names(self) -> PSASpec:
        from mhtcdt.decision.scenario.uncertain_inputs import registry, structural_presets

        for i, name in enumerate(self.fixed):
            if name not in registry():
                raise InputError(f"fixed[{i}]", name, f"unknown input; known: {', '.join(registry())}")
        for i, name in enumerate(self.structural_presets or []):
            if name not in structural_presets():
                raise InputError(
                    f"structural_presets[{i}]", name, f"unknown preset; known: {', '.join(structural_presets())}"
                )
        seen = set()
        for i, spec in enumerate(self.inputs):
            if spec.name in seen:
                raise InputError(f"inputs[{i}].name", spec.name, "listed twice")
            seen.add(spec.name)
        return self


class Scenario(_Strict):
    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    seed: int = Field(20261121, ge=0, le=2**63 - 1, description="Master seed of the run.")
    calibration: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="Outcome-model calibration file written by `mhtcdt calibrate --output` (a path; relative to "
        "the scenario file's folder); default: the packaged calibration.",
    )
    cohort: CohortSpec
    arms: list[ArmSpec] = Field(min_length=2)
    trial: TrialSpec
    economics: EconomicsSpec
    assumptions: dict[str, Any] = Field(
        default_factory=dict,
        description="Uncertain physics inputs for the deterministic run (fields of mhtcdt.physics.Assumptions).",
    )
    psa: PSASpec = Field(default_factory=PSASpec, description="Physics and structural uncertainty in the PSA.")

    @field_validator("assumptions")
    @classmethod
    def _valid_assumptions(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_assumptions(v)
        return v

    def physics_assumptions(self) -> Assumptions:
        """The :class:`mhtcdt.physics.Assumptions` of the ``[assumptions]`` table (defaults: the data files)."""
        return check_assumptions(self.assumptions)

    @model_validator(mode="after")
    def _arms_consistent(self) -> Scenario:
        names = [a.name for a in self.arms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"arm names must be unique, repeated: {dup}")
        if self.trial.reference_arm not in names:
            raise ValueError(f"trial.reference_arm = {self.trial.reference_arm!r} is not an arm; arms are {names}")
        unknown = sorted(set(self.trial.allocation) - set(names))
        if unknown:
            raise ValueError(f"trial.allocation names unknown arms {unknown}; arms are {names}")
        return self

    def arm(self, name: str) -> ArmSpec:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def randomised_arms(self) -> list[ArmSpec]:
        """Arms that receive patients, in file order."""
        return [a for a in self.arms if a.name in self.trial.allocation]
