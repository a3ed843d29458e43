"""The headline answer of a run at one willingness to pay: what a payer reads first.

:func:`build_headline` turns a run and its PSA (at the WTP and MHT price of interest:
:func:`mhtcdt.decision.model.whatif.apply`) into a :class:`Headline`: a traffic light, the verdict, the ICER
vs the reference, the probability of being cost-effective with its Monte Carlo uncertainty, the value-based
price next to the price asked, EVPI per patient and for a population, what drives the uncertainty most
(top EVPPI), and whether the deterministic and probabilistic analyses agree, with the reason when not.

Rules (so that no two statements can contradict each other):

* **The verdict follows the probabilistic analysis**: the strategy with the highest expected net monetary
  benefit over the PSA draws, as NICE's methods manual prefers for non-linear models. The deterministic
  base case (the model at its calibrated point) is always shown beside it; when it would choose another
  strategy, :attr:`Headline.agreement` says so and why (the calibrated point's QALY gain vs the draws').
* **Traffic light**: green = the new strategy is the probabilistic choice, the base case agrees and the
  probability that the choice is right is at least :data:`FIRM_PROBABILITY`; red = the same for the
  reference; amber otherwise (a close call, or the two analyses disagree).
* **Probabilities are counts of draws**: "0 %" is written "in none of the 1,000 draws" with the Wilson 95 %
  interval of the share, never a bare 0 % or 100 %; EVPI of (about) zero is explained, not shown as a
  value of "GBP 0".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mhtcdt.decision.model.price import headroom, icer_of, wilson_interval
from mhtcdt.decision.report.labels import icer_cell, parameter_label
from mhtcdt.decision.scenario.reference_case import reference_case_notes

FIRM_PROBABILITY = 0.8  # a choice right in at least 80 % of the draws is shown green/red, else amber
#: illustrative defaults for the population EVPI (the app and the CLI ask for the setting's own numbers)
DEFAULT_PATIENTS_PER_YEAR = 1000
DEFAULT_DECISION_YEARS = 5
NEGLIGIBLE_EVPI = 0.5  # [currency per patient]: below this the EVPI is reported as zero


@dataclass(frozen=True)
class Population:
    """Who the decision affects: patients treated per year and the decision's horizon [years]."""

    patients_per_year: float = DEFAULT_PATIENTS_PER_YEAR
    years: int = DEFAULT_DECISION_YEARS

    def __post_init__(self) -> None:
        from mhtcdt.errors import InputError

        if not (math.isfinite(self.patients_per_year) and self.patients_per_year > 0):
            raise InputError("patients_per_year", self.patients_per_year, "must be a positive number of patients")
        if int(self.years) != self.years or not 1 <= self.years <= 100:
            raise InputError("years", self.years, "the decision horizon must be a whole number of years, 1-100")


@dataclass(frozen=True)
class Headline:
    """The answer at one WTP and price; every number and sentence of the first screen."""

    light: str  # "green", "amber" or "red"
    verdict: str
    new: str
    reference: str
    decision: str  # strategy with the highest expected NMB (probabilistic)
    deterministic_decision: str  # strategy with the highest NMB in the base case
    currency: str
    willingness_to_pay: float
    n_draws: int
    inc_cost: float  # probabilistic mean, new vs reference
    inc_qalys: float
    inc_cost_deterministic: float
    inc_qalys_deterministic: float
    icer: float  # probabilistic (ratio of means); NaN unless QALYs gained at an extra cost (price.icer_of)
    icer_deterministic: float  # the same rule
    icer_text: str
    probability: float  # P(new strategy has the highest NMB)
    probability_interval: tuple[float, float]
    probability_text: str
    price: float
    list_price: float
    value_based_price: float | None
    price_text: str
    evpi_per_patient: float
    evpi_population: float
    population: Population
    evpi_text: str
    driver_text: str
    agreement: str
    agrees: bool
    caveat: str
    # the jurisdiction, a PPP cost transfer, departures from its reference case, its threshold (empty for an
    # English NICE run that keeps the reference case): decision/scenario/reference_case.py
    reference_case: tuple[str, ...] = ()

    def sentences(self) -> list[str]:
        """The headline as plain sentences (CLI summary, report, app)."""
        return [
            f"{self.verdict}.",
            f"ICER of '{self.new}' vs '{self.reference}': {self.icer_text}.",
            f"Probability that '{self.new}' is cost-effective at {self.currency} {self.willingness_to_pay:,.0f} "
            f"per QALY: {self.probability_text}.",
            self.price_text,
            self.evpi_text,
            self.driver_text,
            self.agreement,
            self.caveat,
        ]


def icer_text(d_cost: float, d_qalys: float, currency: str) -> str:
    """An ICER in words, with the dominance cases named (never a negative ICER without its meaning)."""
    if d_qalys > 0 and d_cost > 0:
        return f"{currency} {d_cost / d_qalys:,.0f} per QALY gained"
    if d_qalys > 0:
        return f"dominant (more QALYs at {currency} {-d_cost:,.0f} lower cost per patient)"
    if d_qalys == 0:
        return f"no QALY difference ({currency} {d_cost:+,.0f} per patient)"
    if d_cost >= 0:
        return f"dominated (fewer QALYs at {currency} {d_cost:,.0f} higher cost per patient)"
    return f"{currency} {d_cost / d_qalys:,.0f} saved per QALY lost"


def probability_text(k: int, n: int) -> tuple[str, tuple[float, float]]:
    """A share of PSA draws with its Monte Carlo 95 % interval (Wilson), counted when it is 0 or 1."""
    lo, hi = wilson_interval(k, n)
    if k == 0:
        return f"0 %: in none of the {n:,} draws (Monte Carlo 95 % interval 0-{100 * hi:.1f} %)", (lo, hi)
    if k == n:
        return f"100 %: in all {n:,} draws (Monte Carlo 95 % interval {100 * lo:.1f}-100 %)", (lo, hi)
    p = k / n
    return f"{100 * p:.0f} % ({k:,} of {n:,} draws; Monte Carlo 95 % interval {100 * lo:.0f}-{100 * hi:.0f} %)", (
        lo,
        hi,
    )


def _money(x: float, currency: str) -> str:
    return f"{currency} {x:,.0f}"


def build_headline(result, psa, *, list_price: float | None = None, population: Population | None = None) -> Headline:
    """The headline of ``result`` and its ``psa`` at their scenario's WTP and MHT price (see the module doc).

    ``list_price``: the price in the scenario before any what-if (default the run's price);
    ``population``: patients per year and decision years for the population EVPI (illustrative default)."""
    from mhtcdt.economics import voi

    population = population or Population()
    sc = result.scenario
    eco = sc.economics
    cur, wtp = eco.currency, float(eco.willingness_to_pay)
    strategies = psa.strategies
    new, ref = psa.focal, psa.reference
    j, r = strategies.index(new), strategies.index(ref)
    n = psa.n_draws

    nmb = wtp * psa.qalys - psa.cost
    decision = strategies[int(np.argmax(nmb.mean(axis=0)))]
    per = result.economics.set_index("strategy")
    det_nmb = wtp * per["qalys"] - per["cost"]
    deterministic_decision = str(det_nmb.idxmax())
    winners = nmb.argmax(axis=1)
    k_new = int((winners == j).sum())
    p_new = k_new / n
    p_text, p_interval = probability_text(k_new, n)
    k_choice = int((winners == strategies.index(decision)).sum())

    d_cost = float((psa.cost[:, j] - psa.cost[:, r]).mean())
    d_qaly = float((psa.qalys[:, j] - psa.qalys[:, r]).mean())
    d_cost_det = float(per.at[new, "cost"] - per.at[ref, "cost"])
    d_qaly_det = float(per.at[new, "qalys"] - per.at[ref, "qalys"])
    icer = icer_of(d_cost, d_qaly)
    icer_det = icer_of(d_cost_det, d_qaly_det)
    icer_words = (
        f"{icer_text(d_cost, d_qaly, cur)} (mean of {n:,} PSA draws; deterministic base case: "
        f"{icer_text(d_cost_det, d_qaly_det, cur)})"
    )

    agrees = decision == deterministic_decision
    firm = k_choice / n >= FIRM_PROBABILITY
    if agrees and firm:
        light = "green" if decision != ref else "red"
    else:
        light = "amber"
    at = f"at {cur} {wtp:,.0f} per QALY"
    if light == "green":
        verdict = f"'{new}' is cost-effective vs '{ref}' {at}"
    elif light == "red":
        verdict = f"'{new}' is not cost-effective vs '{ref}' {at}"
    elif decision == ref:
        verdict = f"Uncertain {at}: '{ref}' is the better choice on expected net benefit, but not firmly"
    else:
        verdict = f"Uncertain {at}: '{new}' is the better choice on expected net benefit, but not firmly"

    room = headroom(result, psa, list_price=list_price)
    price_text = _price_sentence(room, cur)

    evpi = max(0.0, float(voi.evpi(psa.cost, psa.qalys, wtp)))
    multiplier = voi.population_multiplier(population.patients_per_year, population.years, eco.discount_costs)
    evpi_pop = evpi * multiplier
    if evpi < NEGLIGIBLE_EVPI:
        same = "the same strategy is best in every draw" if k_choice == n else "the choice almost never changes"
        evpi_text = (
            f"Further research on the sampled inputs would not change the decision {at}: {same}, so the expected "
            f"value of perfect information is below {cur} 1 per patient."
        )
    else:
        evpi_text = (
            f"Perfect information would be worth {_money(evpi, cur)} per patient (EVPI), "
            f"{_money(evpi_pop, cur)} for {population.patients_per_year:,.0f} patients a year over "
            f"{population.years} years (discounted at {eco.discount_costs:.1%})."
        )
    driver_text = _driver_sentence(psa.evppi, evpi, cur)
    agreement = _agreement(psa, per, decision, deterministic_decision, new, ref, d_qaly, wtp, cur, eco.survival_source)
    caveat = (
        "These probabilities cover the uncertainty the PSA samples (costs, utilities and the outcome model's "
        "calibration); the comparative effect itself is a model prediction: there is no randomised evidence "
        "for NanoTherm and no clinical evidence for chemodynamic therapy."
    )
    return Headline(
        light=light,
        verdict=verdict,
        new=new,
        reference=ref,
        decision=decision,
        deterministic_decision=deterministic_decision,
        currency=cur,
        willingness_to_pay=wtp,
        reference_case=tuple(reference_case_notes(eco)),
        n_draws=n,
        inc_cost=d_cost,
        inc_qalys=d_qaly,
        inc_cost_deterministic=d_cost_det,
        inc_qalys_deterministic=d_qaly_det,
        icer=icer,
        icer_deterministic=icer_det,
        icer_text=icer_words,
        probability=p_new,
        probability_interval=p_interval,
        probability_text=p_text,
        price=room.price,
        list_price=room.list_price,
        value_based_price=room.value_based_price,
        price_text=price_text,
        evpi_per_patient=evpi,
        evpi_population=evpi_pop,
        population=population,
        evpi_text=evpi_text,
        driver_text=driver_text,
        agreement=agreement,
        agrees=agrees,
        caveat=caveat,
    )


def _price_sentence(room, cur: str) -> str:
    asked = f"price asked {_money(room.price, cur)}"
    if room.list_price != room.price:
        asked += f" (what-if; list price {_money(room.list_price, cur)})"
    else:
        asked += " (list price)"
    if room.value_based_price is None:
        return f"MHT course: {asked}; no value-based price for this comparison."
    if room.value_based_price <= 0:  # room.sentence() says by how much the other costs exceed the value
        return f"No value-based price for the MHT course: {asked}. {room.sentence()}"
    return f"Value-based price of the MHT course: {_money(room.value_based_price, cur)}; {asked}. {room.sentence()}"


def _driver_sentence(evppi, evpi: float, cur: str) -> str:
    if evpi < NEGLIGIBLE_EVPI or evppi is None or len(evppi) == 0:
        return "No uncertain input is worth researching for this decision at this willingness to pay (EVPPI ~ 0)."
    top = evppi.sort_values("evppi", ascending=False).iloc[0]
    if not top["evppi"] > NEGLIGIBLE_EVPI:
        return "No single uncertain input drives the decision: only their joint uncertainty matters (EVPPI ~ 0)."
    share = min(1.0, float(top["evppi"]) / evpi)
    se = top.get("evppi_se", math.nan)
    se_text = f" ± {_money(float(se), cur)}" if se is not None and math.isfinite(float(se)) else ""
    return (
        f"What drives the uncertainty most: {parameter_label(str(top['parameter']))} (EVPPI "
        f"{_money(float(top['evppi']), cur)}{se_text} per patient, {share:.0%} of the EVPI)."
    )


_BASE_CASE_BASIS = {
    "outcome_model": "the model at its calibrated point",
    "parametric": "parametric fits to the virtual trial",
    "kaplan_meier": "the Kaplan-Meier curves of the virtual trial",
}


def _agreement(psa, per, decision, det_decision, new, ref, d_qaly, wtp, cur, survival_source) -> str:
    """Whether the deterministic base case and the PSA mean choose the same strategy, and if not why. The base
    case's side of the willingness to pay is its net monetary benefit (``wtp * dQ - dC`` >= 0: cost-effective),
    valid in every quadrant; its ICER is named by :func:`labels.icer_cell` (dominant, dominated, saves ... per
    QALY lost); ``survival_source`` words what the base case is."""
    j, r = psa.strategies.index(new), psa.strategies.index(ref)
    d_cost_det = float(per.at[new, "cost"] - per.at[ref, "cost"])
    d_qaly_det = float(per.at[new, "qalys"] - per.at[ref, "qalys"])
    basis = _BASE_CASE_BASIS.get(survival_source, f"{survival_source} survival")
    if decision == det_decision:
        return (
            f"The deterministic base case ({basis}) and the probabilistic analysis (mean "
            f"of {psa.n_draws:,} draws) reach the same decision: '{decision}'."
        )
    inmb_det = wtp * d_qaly_det - d_cost_det
    side = "cost-effective" if inmb_det >= 0 else "not cost-effective"
    gains = psa.qalys[:, j] - psa.qalys[:, r]
    above = float((gains < d_qaly_det).mean())
    if survival_source == "outcome_model":
        why = (
            "The verdict follows the probabilistic analysis, which averages over the outcome model's calibration "
            "draws instead of using one point. They differ because the QALY gain at the calibrated point "
            f"({d_qaly_det:.3f}) is not its mean over the draws ({d_qaly:.3f}): the calibrated point's gain is "
            f"larger than in {above:.0%} of the draws."
        )
    else:
        why = (
            "The verdict follows the probabilistic analysis, which uses the outcome model's complete survival over "
            f"its calibration draws. They differ because the base case's QALY gain ({d_qaly_det:.3f}, from "
            f"{basis}) is not the mean over the draws ({d_qaly:.3f}): it is larger than in {above:.0%} of the draws."
        )
    return (
        f"The deterministic base case ({basis}) would choose '{det_decision}' ('{new}' vs '{ref}': ICER "
        f"{icer_cell(d_cost_det, d_qaly_det, cur)}, net monetary benefit {_money(inmb_det, cur)} per patient, "
        f"{side} at the willingness to pay) while the mean over the {psa.n_draws:,} PSA draws chooses "
        f"'{decision}'. {why}"
    )


@dataclass(frozen=True)
class Preliminary:
    """The deterministic base case alone, shown while the PSA runs (the app's first stage): never a verdict.

    The verdict follows the probabilistic analysis (module docstring), so this stage names the strategy the
    base case would choose and says that the verdict may differ; it is replaced by the :class:`Headline`
    when the PSA is done (never shown beside it)."""

    decision: str  # strategy with the highest NMB in the base case
    new: str  # the non-reference strategy with the highest base-case NMB
    reference: str
    currency: str
    willingness_to_pay: float
    inc_cost: float
    inc_qalys: float
    icer: float  # NaN unless QALYs gained at an extra cost (price.icer_of)
    price: float
    text: str


def build_preliminary(result, *, list_price: float | None = None) -> Preliminary:
    """The base case of ``result`` (at its scenario's WTP and MHT price) in words: which strategy it would
    choose, the new strategy's ICER vs the reference, the price asked; and that the verdict waits for the PSA."""
    sc = result.scenario
    eco = sc.economics
    cur, wtp = eco.currency, float(eco.willingness_to_pay)
    ref = sc.trial.reference_arm
    per = result.economics.set_index("strategy")
    nmb = wtp * per["qalys"] - per["cost"]
    decision = str(nmb.idxmax())
    others = [s for s in per.index if s != ref]
    new = str(nmb[others].idxmax()) if others else ref
    d_cost = float(per.at[new, "cost"] - per.at[ref, "cost"])
    d_qaly = float(per.at[new, "qalys"] - per.at[ref, "qalys"])
    price = float(eco.costs.mht_course)
    list_price = price if list_price is None else float(list_price)
    basis = _BASE_CASE_BASIS.get(eco.survival_source, f"{eco.survival_source} survival")
    asked = f"price asked {_money(price, cur)}, " + (
        "the list price" if price == list_price else f"a what-if (list price {_money(list_price, cur)})"
    )
    text = (
        f"Deterministic base case ({basis}), ready first: at {cur} {wtp:,.0f} per QALY it would choose "
        f"'{decision}'. '{new}' vs '{ref}': ICER {icer_cell(d_cost, d_qaly, cur)} at the {asked}. This is not yet "
        "the verdict: the verdict follows the probabilistic analysis, still running, which averages over the "
        "uncertain inputs and can choose differently."
    )
    return Preliminary(
        decision=decision,
        new=new,
        reference=ref,
        currency=cur,
        willingness_to_pay=wtp,
        inc_cost=d_cost,
        inc_qalys=d_qaly,
        icer=icer_of(d_cost, d_qaly),
        price=price,
        text=text,
    )
