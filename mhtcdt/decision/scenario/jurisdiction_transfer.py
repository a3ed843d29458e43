"""Re-express an English NICE scenario in another jurisdiction's reference case (``mhtcdt transfer``, the app).

:func:`in_jurisdiction` does what the hand-made presets ``default_<jurisdiction>.toml`` did to ``default.toml``
(docs/jurisdictions.md), for any NICE scenario:

* ``economics.jurisdiction`` = the key, its currency and the discount rates of its reference case (hta.toml);
* perspective ``payer`` (a societal reference case is not modelled: the notes print the departure);
* every cost and every cost's ``[[economics.uncertainty]]`` low/high moved by PPP for GDP at the scenario's price
  year, ``C_target = C_GBP x PPP_target / PPP_UK`` (:func:`mhtcdt.economics.ppp_transfer`), rounded to cents;
* except the NanoTherm course (``mht_course`` and its range), a traded device quoted in euro
  (``economics/data/costs.toml`` ``reference.nanotherm_course``: EUR 23,000, range 15,000-35,000): the scenarios
  hold it in GBP at the ECB 2017 average (0.87667 GBP per EUR, ``ppp.toml``); it goes back to the euro quote
  (the packaged quote when the GBP figure is that quote's conversion rounded to whole pounds, else GBP / 0.87667)
  and, for a dollar jurisdiction, on at the ECB 2017 average USD per EUR: market exchange rates, not PPP;
* ``[economics.cost_transfer]`` = from ``nice`` at the scenario's price year, ``local_inputs = ["mht_course"]``;
* the willingness to pay = the given one, else the jurisdiction's default threshold, else an error (Germany and
  France set none);
* the name gets ``" (<country>, <currency>)"`` appended; the utilities stay the English values (not transferred).

The value-of-a-trial costs are not part of a scenario: ``decision/trial/trial_value.defaults`` moves them by PPP
itself for a non-GBP scenario. Refused (:class:`~mhtcdt.errors.InputError` naming the field): a scenario that is
not English NICE (``economics.jurisdiction``) or already transferred (``economics.cost_transfer``), the NICE key
itself or an unknown one (``jurisdiction``), a price year without a PPP (``economics.price_year``), no threshold
(``willingness_to_pay``).
"""

from __future__ import annotations

from typing import Any

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.scenario.loading import parse_scenario
from mhtcdt.decision.scenario.reference_case import DEFAULT_JURISDICTION
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.economics import Jurisdiction, exchange_rate, jurisdiction, jurisdictions, ppp_transfer
from mhtcdt.errors import MISSING, InputError

#: The cost given in the target currency instead of transferred: a traded device quoted in euro.
COURSE = "mht_course"
#: Year of the ECB average at which the scenarios converted the euro quote of the course to GBP (ppp.toml).
COURSE_RATE_YEAR = 2017


def _cents(value: float) -> float:
    return round(float(value), 2)


def _course_quotes() -> tuple[float, ...]:
    """The packaged NanoTherm course quote and its range [EUR] (costs.toml ``reference.nanotherm_course``)."""
    entry = load_toml("mhtcdt.economics", "data/costs.toml")["reference"]["nanotherm_course"]
    return (float(entry["value"]), *(float(x) for x in entry["range"]))


def course_price(gbp: float, currency: str) -> float:
    """A NanoTherm course held in GBP, in ``currency`` at market exchange rates [currency], rounded to cents.

    The GBP figure was the euro quote x 0.87667 GBP per EUR (ECB 2017) rounded to whole pounds; when it is the
    conversion of a packaged quote (EUR 23,000, 15,000 or 35,000) that quote is used as is (the presets quote
    EUR 23,000, not 22,999.76), otherwise ``gbp / 0.87667``. A dollar course is the euro figure x USD per EUR
    (ECB 2017)."""
    gbp_per_eur = exchange_rate("GBP", "EUR", COURSE_RATE_YEAR)
    euro = next((q for q in _course_quotes() if round(q * gbp_per_eur) == gbp), gbp / gbp_per_eur)
    if currency == "EUR":
        return _cents(euro)
    return _cents(euro * exchange_rate(currency, "EUR", COURSE_RATE_YEAR))


def reference_cases() -> dict[str, Jurisdiction]:
    """Every jurisdiction a scenario may be expressed in, by key (hta.toml), English NICE first."""
    keys = sorted(jurisdictions(), key=lambda k: (k != DEFAULT_JURISDICTION, k))
    return {key: jurisdiction(key) for key in keys}


def _check_source(scenario: Scenario, key: str) -> None:
    eco = scenario.economics
    if eco.jurisdiction != DEFAULT_JURISDICTION:
        raise InputError(
            "economics.jurisdiction",
            eco.jurisdiction,
            "only an English NICE scenario (GBP, NHS costs) can be re-expressed in another jurisdiction",
        )
    if eco.cost_transfer is not None:
        raise InputError(
            "economics.cost_transfer",
            eco.cost_transfer.from_jurisdiction,
            "the scenario's costs are already transferred; start from the English NICE scenario",
        )
    if key not in jurisdictions():
        raise InputError("jurisdiction", key, f"unknown jurisdiction; use one of {sorted(jurisdictions())}")
    if key == DEFAULT_JURISDICTION:
        raise InputError("jurisdiction", key, "the scenario is already in the English NICE reference case")


def in_jurisdiction(scenario: Scenario, key: str, *, willingness_to_pay: float | None = None) -> Scenario:
    """``scenario`` (English NICE) re-expressed in jurisdiction ``key`` as the presets ``default_<key>.toml`` are
    (module docstring); ``willingness_to_pay`` [target currency per QALY] replaces the jurisdiction's default
    threshold (needed for Germany and France). Validated as any scenario (``parse_scenario``)."""
    _check_source(scenario, key)
    eco, ref = scenario.economics, jurisdiction(key)
    try:
        transfer = ppp_transfer(DEFAULT_JURISDICTION, key, eco.price_year)
    except InputError as exc:
        raise InputError("economics.price_year", eco.price_year, exc.message) from None
    wtp = ref.default_willingness_to_pay if willingness_to_pay is None else willingness_to_pay
    if wtp is None:
        raise InputError(
            "willingness_to_pay", MISSING, f"{ref.name} sets no QALY threshold; give the willingness to pay per QALY"
        )
    data: dict[str, Any] = scenario.model_dump(mode="json", exclude_none=True)
    country = ref.name.split(" (")[0]
    data["name"] = f"{scenario.name} ({country}, {ref.currency})"
    e = data["economics"]
    per = f"{transfer.factor:.6f} {ref.currency} per GBP"
    e.update(
        jurisdiction=key,
        currency=ref.currency,
        perspective="payer",
        discount_costs=ref.discount_costs,
        discount_effects=ref.discount_effects,
        willingness_to_pay=float(wtp),
        cost_transfer={
            "from_jurisdiction": DEFAULT_JURISDICTION,
            "from_price_year": eco.price_year,
            "method": "ppp_gdp",
            "local_inputs": [COURSE],
        },
    )
    e["costs"] = {
        name: course_price(value, ref.currency) if name == COURSE else _cents(transfer.apply(value))
        for name, value in e["costs"].items()
    }
    for u in e["uncertainty"]:
        if u["parameter"] == f"costs.{COURSE}":
            u["low"], u["high"] = course_price(u["low"], ref.currency), course_price(u["high"], ref.currency)
            u["source"] = f"{u['source']}; the euro quote at market exchange rates (ECB {COURSE_RATE_YEAR})"
        elif u["parameter"].startswith("costs."):
            u["low"], u["high"] = _cents(transfer.apply(u["low"])), _cents(transfer.apply(u["high"]))
            u["source"] = f"{u['source']}, moved by PPP ({per})"
    return parse_scenario(data)
