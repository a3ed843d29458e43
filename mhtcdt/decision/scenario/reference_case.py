"""A scenario's HTA reference case: its jurisdiction, every departure from it, and where its costs came from.

``[economics] jurisdiction`` (default ``"nice"``) selects one of the presets of
``mhtcdt/economics/data/hta.toml`` (England/NICE, the Netherlands, Germany, France, the United States). The rules:

* **Currency** must be the jurisdiction's (refused otherwise, naming ``economics.currency``): a EUR cost table
  under NICE, or GBP costs in a Dutch run, is a silent mix.
* **Discount rates** and the **perspective** may differ from the reference case; every difference is printed by
  every output of the run (summary, headline, HTML report, run.json), never silently mixed. The discount rates
  of the app's sensitivity edits stay possible that way.
* **Perspective** ``"societal"`` is refused: the model counts health-care costs only (no productivity losses,
  no informal care, no patient time), so a run labelled societal would be false. A Dutch run is therefore a
  payer run, and says that it departs from the societal Dutch reference case.
* **Willingness to pay**: a missing value takes the jurisdiction's default threshold; Germany (IQWiG, efficiency
  frontier) and France (HAS) set none, so a run there needs the user's, and every output says the jurisdiction
  sets none.
* **Cost transfer** (``[economics.cost_transfer]``): costs that are not local tariffs but English NHS costs moved
  by PPP for GDP (:mod:`mhtcdt.economics.transfer`) at the same price year; every output says so. A transfer
  across price years is refused (no sourced price index is packaged).

:func:`reference_case_notes` gives the lines the outputs print (none for an English NICE run that keeps the
reference case, so the default scenario's outputs are unchanged); :func:`reference_case_problems` the refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhtcdt.economics import Jurisdiction, PPPTransfer, jurisdiction, jurisdictions, ppp_transfer
from mhtcdt.errors import MISSING, InputError

DEFAULT_JURISDICTION = "nice"
#: How the source jurisdiction's costs are named in the outputs.
COST_SOURCE_LABEL = {"nice": "English NHS"}


def _percent(rate: float) -> str:
    return f"{100 * rate:.3g} %"


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def cost_transfer(eco: Any) -> PPPTransfer | None:
    """The PPP transfer of a scenario's ``[economics.cost_transfer]`` (None when its costs are its own)."""
    spec = eco.cost_transfer
    if spec is None:
        return None
    return ppp_transfer(spec.from_jurisdiction, eco.jurisdiction, spec.from_price_year)


def transfer_note(eco: Any) -> str | None:
    """The sentence every output of a run with transferred costs prints, or None."""
    transfer = cost_transfer(eco)
    if transfer is None:
        return None
    spec = eco.cost_transfer
    label = COST_SOURCE_LABEL.get(spec.from_jurisdiction, jurisdiction(spec.from_jurisdiction).name)
    local = ", ".join(spec.local_inputs)
    tail = f" Given in {eco.currency} instead: {local}." if local else ""
    return transfer.note(label) + tail


def deviations(eco: Any) -> list[str]:
    """Each departure of the scenario from its jurisdiction's reference case, one sentence each."""
    ref = jurisdiction(eco.jurisdiction)
    out = []
    for field, what in (("discount_costs", "costs"), ("discount_effects", "effects")):
        value, expected = float(getattr(eco, field)), float(getattr(ref, field))
        if abs(value - expected) > 1e-12:
            out.append(
                f"Deviation from the {ref.name} reference case: discount rate for {what} {_percent(value)} "
                f"(reference case {_percent(expected)})."
            )
    if eco.perspective != ref.reference_perspective:
        out.append(
            f"Deviation from the {ref.name} reference case: {eco.perspective} perspective, health-care costs only "
            f"(reference case {ref.perspective}); productivity losses and informal care are not modelled."
        )
    return out


def threshold_note(eco: Any) -> str | None:
    """What the jurisdiction says about the willingness to pay (None for NICE at one of its thresholds)."""
    ref = jurisdiction(eco.jurisdiction)
    wtp = _money(eco.willingness_to_pay, eco.currency)
    if not ref.sets_threshold:
        method = "efficiency frontier" if eco.jurisdiction == "germany" else "none in its guidance"
        return (
            f"{ref.name} sets no QALY threshold ({method}); the willingness to pay of {wtp} per QALY is the user's, "
            f"and every verdict here is at that value."
        )
    listed = " / ".join(_money(t, ref.currency) for t in ref.thresholds_per_qaly)
    if eco.jurisdiction == DEFAULT_JURISDICTION and eco.willingness_to_pay in ref.thresholds_per_qaly:
        return None
    return f"Willingness to pay {wtp} per QALY; {ref.name} thresholds: {listed} per QALY."


def reference_case_notes(eco: Any) -> list[str]:
    """Every line the outputs print about the reference case: the jurisdiction (when not NICE), the cost
    transfer, each deviation and the threshold. Empty for an English NICE run that keeps its reference case."""
    ref = jurisdiction(eco.jurisdiction)
    out = []
    if eco.jurisdiction != DEFAULT_JURISDICTION:
        out.append(
            f"Jurisdiction: {ref.name}: {ref.currency}, discount {_percent(ref.discount_costs)} costs / "
            f"{_percent(ref.discount_effects)} effects, {ref.perspective} perspective (economics/data/hta.toml"
            f"{'' if ref.verified else ', recalled'})."
        )
    transfer = transfer_note(eco)
    if transfer:
        out.append(transfer)
    out += deviations(eco)
    threshold = threshold_note(eco)
    if threshold:
        out.append(threshold)
    return out


def reference_case(eco: Any) -> Jurisdiction:
    """The :class:`~mhtcdt.economics.Jurisdiction` a scenario's economics follows."""
    return jurisdiction(eco.jurisdiction)


def reference_case_problems(eco: Any) -> list[InputError]:
    """The refusals of a parsed ``[economics]`` mapping (fields named ``economics.<field>``); each rule runs only
    when the fields it reads are valid on their own."""
    if not isinstance(eco, Mapping):
        return []
    key = eco.get("jurisdiction", DEFAULT_JURISDICTION)
    if not isinstance(key, str) or key not in jurisdictions():
        return []  # the schema names it
    ref = jurisdiction(key)
    out: list[InputError] = []
    currency = eco.get("currency")
    if isinstance(currency, str) and len(currency) == 3 and currency.isupper() and currency != ref.currency:
        out.append(
            InputError(
                "economics.currency",
                currency,
                f"the {ref.name} reference case (economics.jurisdiction = {key!r}) reports costs in {ref.currency}; "
                f"give the costs in {ref.currency} (e.g. transferred by PPP, [economics.cost_transfer]) or choose "
                f"the jurisdiction whose currency this is",
            )
        )
    if eco.get("perspective") == "societal":
        out.append(
            InputError(
                "economics.perspective",
                "societal",
                "productivity losses, informal care and patient time are not modelled (health-care costs only), so "
                "a run labelled societal would be false; use 'payer' (the outputs then state the departure from a "
                "societal reference case)",
            )
        )
    if "willingness_to_pay" not in eco and ref.default_willingness_to_pay is None:
        out.append(
            InputError(
                "economics.willingness_to_pay",
                MISSING,
                f"{ref.name} sets no QALY threshold; give the willingness to pay per QALY the analysis uses",
            )
        )
    out += _transfer_problems(eco, key)
    return out


def _transfer_problems(eco: Mapping, key: str) -> list[InputError]:
    spec = eco.get("cost_transfer")
    if not isinstance(spec, Mapping):
        return []
    source = spec.get("from_jurisdiction", DEFAULT_JURISDICTION)
    year, price_year = spec.get("from_price_year"), eco.get("price_year")
    if not isinstance(source, str) or source not in jurisdictions() or not isinstance(year, int):
        return []  # the schema names it
    out = []
    if source == key:
        out.append(
            InputError(
                "economics.cost_transfer.from_jurisdiction",
                source,
                "costs transferred from the scenario's own jurisdiction; remove [economics.cost_transfer]",
            )
        )
        return out
    if isinstance(price_year, int) and year != price_year:
        out.append(
            InputError(
                "economics.cost_transfer.from_price_year",
                year,
                f"differs from economics.price_year = {price_year}: no sourced price index is packaged, so costs "
                f"are transferred at their own price year; set economics.price_year = {year}",
            )
        )
        return out
    try:
        ppp_transfer(source, key, year)
    except InputError as exc:
        field = "economics.price_year" if exc.field == "price_year" else "economics.jurisdiction"
        out.append(InputError(field, exc.value, exc.message))
    return out
