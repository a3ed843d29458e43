"""What a decision maker changes without a new run: the willingness to pay and the MHT course price.

Neither needs the physics, the trial or the PSA draws to be recomputed:

* **Willingness to pay (WTP).** Costs and QALYs do not depend on it; only what is derived from the net
  monetary benefit NMB = WTP x QALYs - cost does: the verdict, the CEAC/CEAF and their grid, EVPI and EVPPI
  at the WTP, the tornado of the incremental NMB and the value-based price.
* **MHT course price.** The course is paid once per patient at time 0 (undiscounted one-off cost of every
  arm with heat sessions: :func:`mhtcdt.decision.model.economic_model.one_off_cost`), so every strategy's
  cost moves by ``has_mht x (new price - old price)`` in the base case and in each PSA draw, and nothing
  else moves.

**The price's PSA range follows the price** (:func:`with_price`): the scenario's 95 % range of
``costs.mht_course`` is scaled by new price / old price, i.e. the price keeps its relative uncertainty.
For the gamma, lognormal and normal distributions of the schema this is exactly the distribution of
(new / old) x the old draw, and the PSA samples it that way (numpy draws a gamma as scale x a standard
gamma of the same shape), so each draw's price is the old draw times new / old. A scenario at price 0 has no
range (the schema needs low > 0 and a range around 0 has no scale), but the run's PSA keeps the relative range
(:class:`mhtcdt.decision.model.psa.PriceRange`): a what-if from 0 back to a positive price restores it, so a
chain 0 -> p equals a direct what-if at p, and the value-based price is the same at every price, 0 included
(:func:`mhtcdt.decision.model.psa.price_units`). Any non-negative price is allowed, far outside the
scenario's range too.

:func:`apply` returns the run and its PSA as a fresh run of the changed scenario would give them (tested
against fresh runs: same costs, QALYs, verdict, CEAC at the WTP, EVPPI, tornado and value-based price),
with the CEAC grid widened to cover the probabilistic ICER (:func:`wtp_grid`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mhtcdt.decision.model import physics_psa, structural
from mhtcdt.decision.model import psa as psa_module
from mhtcdt.decision.model.drivers import drivers_table
from mhtcdt.decision.model.economic_model import verdict_text
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.economics import incremental_analysis, nmb, voi
from mhtcdt.errors import InputError

MHT_PRICE = "costs.mht_course"
MAX_WILLINGNESS_TO_PAY = 1e7  # the scenario schema's bound [currency per QALY]


@dataclass(frozen=True)
class WhatIf:
    """A run and its PSA at another willingness to pay and MHT course price (``notes``: what was assumed)."""

    scenario: Scenario
    result: object  # PipelineResult
    psa: psa_module.PSAResult | None
    list_price: float
    notes: tuple[str, ...] = ()

    @property
    def price(self) -> float:
        return float(self.scenario.economics.costs.mht_course)

    @property
    def willingness_to_pay(self) -> float:
        return float(self.scenario.economics.willingness_to_pay)


def check_willingness_to_pay(wtp: float) -> float:
    """A willingness to pay as a float, or InputError (field ``willingness_to_pay``)."""
    try:
        w = float(wtp)
    except (TypeError, ValueError):
        raise InputError("willingness_to_pay", wtp, "must be a number [currency per QALY]") from None
    if not (math.isfinite(w) and 0 < w <= MAX_WILLINGNESS_TO_PAY):
        raise InputError("willingness_to_pay", wtp, f"must be above 0 and at most {MAX_WILLINGNESS_TO_PAY:,.0f}")
    return w


def check_price(price: float) -> float:
    """A course price as a float, or InputError (field ``costs.mht_course``): any finite value >= 0."""
    try:
        p = float(price)
    except (TypeError, ValueError):
        raise InputError(MHT_PRICE, price, "must be a number [currency]") from None
    if not (math.isfinite(p) and p >= 0):
        raise InputError(MHT_PRICE, price, "must be a finite price >= 0")
    return p


def with_willingness_to_pay(scenario: Scenario, wtp: float) -> Scenario:
    """``scenario`` with another willingness to pay."""
    eco = scenario.economics.model_copy(update={"willingness_to_pay": check_willingness_to_pay(wtp)})
    return scenario.model_copy(update={"economics": eco})


def with_price(scenario: Scenario, price: float, price_range: psa_module.PriceRange | None = None) -> Scenario:
    """``scenario`` with another MHT course price; its PSA range follows the price (see the module docstring).

    ``price_range``: the run's sampled range (``PSAResult.price_range``); it restores the range at a positive
    price when ``scenario`` has none because its price is 0. Validated as a scenario file would be (the result
    can be saved and run by the CLI)."""
    from mhtcdt.decision.scenario.loading import parse_scenario

    price = check_price(price)
    old = float(scenario.economics.costs.mht_course)
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["economics"]["costs"]["mht_course"] = price
    specs = data["economics"].get("uncertainty", [])
    if price_range is not None and old == 0 and price > 0:
        ref = price_range.spec.model_dump(mode="json", exclude_none=True)
        specs = [u for u in specs if u["parameter"] != MHT_PRICE]
        specs.insert(min(price_range.position, len(specs)), ref)
        old = price_range.list_price
    kept = []
    for spec in specs:
        if spec["parameter"] == MHT_PRICE:
            if price == 0 or old == 0:
                continue  # a scenario price of 0 is certain (the run's PSA keeps the relative range)
            factor = price / old
            spec = {**spec, "low": spec["low"] * factor, "high": spec["high"] * factor}
        kept.append(spec)
    data["economics"]["uncertainty"] = kept
    return parse_scenario(data)


def price_range_note(old: Scenario, new: Scenario) -> str:
    """One sentence saying how the price's PSA range was set for ``new`` (from ``old``)."""
    cur = new.economics.currency
    p_old, p_new = old.economics.costs.mht_course, new.economics.costs.mht_course
    spec_old = _spec(old, MHT_PRICE)
    spec_new = _spec(new, MHT_PRICE)
    if spec_new is None and p_new == 0 and (spec_old is not None or p_old == 0):
        return (
            f"The MHT course price {cur} 0 is fixed in the PSA (a price of 0 has no uncertainty); the run's relative "
            "range comes back at any positive price."
        )
    if spec_new is None:
        return f"The MHT course price {cur} {p_new:,.0f} is fixed in the PSA (the scenario gives it no range)."
    if spec_old is None:
        return (
            f"The MHT course price's PSA range follows the price: {cur} {spec_new.low:,.0f}-{spec_new.high:,.0f}, "
            "the run's relative range (restored after a price of 0)."
        )
    if p_new == p_old:
        return (
            f"The MHT course price's PSA range is the scenario's: {cur} {spec_new.low:,.0f}-{spec_new.high:,.0f} "
            f"({spec_new.distribution})."
        )
    return (
        f"The MHT course price's PSA range follows the price: {cur} {spec_new.low:,.0f}-{spec_new.high:,.0f}, the "
        f"scenario's {cur} {spec_old.low:,.0f}-{spec_old.high:,.0f} scaled by {p_new:,.0f}/{p_old:,.0f} "
        "(the same relative uncertainty)."
    )


def _spec(scenario: Scenario, parameter: str):
    return next((u for u in scenario.economics.uncertainty if u.parameter == parameter), None)


def decision_inputs_text(scenario: Scenario) -> str:
    """The scenario as TOML with the willingness to pay and the MHT price normalised (WTP 1, price 1 and its
    range divided by the price): two scenarios with the same text need the same run and PSA, and
    :func:`apply` gives one from the other's results."""
    from mhtcdt.decision.scenario.loading import scenario_to_toml

    base = with_willingness_to_pay(scenario, 1.0)
    if base.economics.costs.mht_course > 0:
        base = with_price(base, 1.0)
    return scenario_to_toml(base)


def has_mht(scenario: Scenario, strategies: list[str]) -> np.ndarray:
    """1.0 for each strategy whose arm pays the MHT course (heat sessions), else 0.0."""
    specs = {a.name: a for a in scenario.arms}
    return np.array([1.0 if specs[s].has_mht else 0.0 for s in strategies])


def wtp_grid(wtp: float, icers: list[float] | tuple[float, ...] = (), n: int = 101) -> np.ndarray:
    """A willingness-to-pay grid from 0 that covers ``wtp`` and every finite positive ICER of ``icers``
    (up to 1.5 x the largest, at most the schema's bound), with ``wtp`` itself on the grid and the PSA's own
    grid (0 to 4 x ``wtp`` in 81 points, :func:`mhtcdt.decision.model.psa.run_psa`) kept, so the curves stay
    as fine near the threshold as a fresh run's however far the ICER lies."""
    top = 4.0 * wtp
    for icer in icers:
        if icer is not None and math.isfinite(icer) and icer > 0:
            top = max(top, 1.5 * icer)
    top = min(top, MAX_WILLINGNESS_TO_PAY)
    step = 10.0 ** math.floor(math.log10(top / 4.0))
    top = math.ceil(top / step) * step
    near = np.linspace(0.0, 4.0 * wtp, 81)
    return np.unique(np.concatenate([near[near <= top], np.linspace(0.0, top, n), [float(wtp)]]))


def probabilistic_icer(psa: psa_module.PSAResult, strategy: str, reference: str) -> float:
    """Ratio of mean incremental cost to mean incremental QALYs over the draws (NaN without a QALY change)."""
    j, r = psa.strategies.index(strategy), psa.strategies.index(reference)
    d_cost = float((psa.cost[:, j] - psa.cost[:, r]).mean())
    d_qaly = float((psa.qalys[:, j] - psa.qalys[:, r]).mean())
    return d_cost / d_qaly if d_qaly != 0 else math.nan


def apply(
    result,
    psa: psa_module.PSAResult | None = None,
    *,
    willingness_to_pay: float | None = None,
    price: float | None = None,
) -> WhatIf:
    """``result`` (a :class:`~mhtcdt.decision.run.pipeline.PipelineResult`) and its ``psa`` at another
    willingness to pay and/or MHT course price, without a new run (see the module docstring)."""
    old = result.scenario
    scenario = old
    if willingness_to_pay is not None:
        scenario = with_willingness_to_pay(scenario, willingness_to_pay)
    if price is not None:
        scenario = with_price(scenario, price, None if psa is None else psa.price_range)
    notes = (
        [price_range_note(old, scenario)]
        if scenario.economics.costs.mht_course != old.economics.costs.mht_course
        else []
    )
    new_result = _reprice_result(result, scenario)
    new_psa = None if psa is None else _reprice_psa(psa, result, new_result, scenario, notes)
    return WhatIf(scenario, new_result, new_psa, float(old.economics.costs.mht_course), tuple(notes))


def _reprice_result(result, scenario: Scenario):
    """The pipeline result with costs moved by the price change and the verdict at the new WTP."""
    old_price = result.scenario.economics.costs.mht_course
    delta = scenario.economics.costs.mht_course - old_price
    per = result.economics.copy()
    shift = has_mht(scenario, list(per["strategy"])) * delta
    for col in ("cost", "cost_undiscounted", "cost_one_off"):
        if col in per.columns:
            per[col] = per[col] + shift
    inc = incremental_analysis(per)
    extras = dict(result.extras)
    econ = extras.get("economic_details")
    if econ is not None:
        econ = dataclasses.replace(
            econ, per_strategy=per, incremental=inc, willingness_to_pay=scenario.economics.willingness_to_pay
        )
        extras["economic_details"] = econ
        verdict = verdict_text(scenario, econ)
    else:
        verdict = result.verdict
    return dataclasses.replace(
        result, scenario=scenario, economics=per, incremental=inc, verdict=verdict, extras=extras
    )


def _reprice_psa(psa, old_result, new_result, scenario: Scenario, notes: list[str]) -> psa_module.PSAResult:
    """Per-draw costs at the new price; every NMB-derived output at the new WTP."""
    old_price = float(old_result.scenario.economics.costs.mht_course)
    new_price = float(scenario.economics.costs.mht_course)
    params = psa.parameters.copy()
    old_draws, new_draws = price_draws(psa, old_price, new_price)
    if new_price > 0 and (MHT_PRICE in params.columns or psa.price_range is not None):
        if MHT_PRICE in params.columns:
            params[MHT_PRICE] = new_draws
        else:  # back from a price of 0: the column where the run had it
            params.insert(min(psa.price_range.position, len(params.columns)), MHT_PRICE, new_draws)
    elif MHT_PRICE in params.columns:
        params = params.drop(columns=[MHT_PRICE])
    cost = costs_at_price(psa, scenario, old_price, new_price)
    point = psa.point.copy()
    if len(point):
        shift = has_mht(scenario, list(point["strategy"])) * (new_price - old_price)
        for col in ("cost", "cost_undiscounted", "cost_one_off"):
            if col in point.columns:
                point[col] = point[col] + shift
    repriced = dataclasses.replace(psa, cost=cost, parameters=params, point=point, notes=[*psa.notes, *notes])
    return at_willingness_to_pay(repriced, new_result, scenario, original=psa)


def price_draws(psa: psa_module.PSAResult, old_price: float, new_price: float) -> tuple[np.ndarray, np.ndarray]:
    """(old, new) course price of every PSA draw when the scenario price moves from ``old_price`` to
    ``new_price``: sampled prices scale with the price (the range follows it, relative to the run's list price,
    through a price of 0 too), a fixed price is the price itself."""
    if MHT_PRICE in psa.parameters.columns and old_price > 0:
        old = psa.parameters[MHT_PRICE].to_numpy(float)
        new = old * (new_price / old_price) if new_price > 0 else np.zeros(psa.n_draws)
        return old, new
    rng = getattr(psa, "price_range", None)
    if rng is not None:  # the run's relative draws (at a price of 0 the column is dropped)
        return old_price * rng.relative_draws, new_price * rng.relative_draws
    return np.full(psa.n_draws, float(old_price)), np.full(psa.n_draws, float(new_price))


def costs_at_price(psa: psa_module.PSAResult, scenario: Scenario, old_price: float, new_price: float) -> np.ndarray:
    """Per-draw costs (D, S) of ``psa`` (run at ``old_price``) at ``new_price``: the MHT arms' course cost
    moves, nothing else."""
    old, new = price_draws(psa, old_price, new_price)
    return psa.cost + has_mht(scenario, psa.strategies)[None, :] * (new - old)[:, None]


def at_willingness_to_pay(
    psa: psa_module.PSAResult, result, scenario: Scenario, original: psa_module.PSAResult | None = None
) -> psa_module.PSAResult:
    """Every NMB-derived output of ``psa`` at ``scenario``'s willingness to pay (``result`` is the pipeline
    result of ``scenario``: its base-case curves feed the tornado; ``original``: the PSA as it was run when
    ``psa``'s costs were moved to another price, whose structural table is re-costed, default ``psa``)."""
    wtp = float(scenario.economics.willingness_to_pay)
    arms, reference = psa.strategies, psa.reference
    expected = (wtp * psa.qalys - psa.cost).mean(axis=0)
    others = [j for j, a in enumerate(arms) if a != reference]
    focal = arms[max(others, key=lambda j: expected[j])] if others else reference
    icers = [probabilistic_icer(psa, a, reference) for a in arms if a != reference]
    grid = wtp_grid(wtp, icers)
    evppi = evppi_table(psa, wtp)
    grid_, pfs, os_ = model_curves(result)
    tornado = psa_module.one_way_tornado(scenario, arms, grid_, pfs, os_, focal, reference)
    out = dataclasses.replace(
        psa,
        willingness_to_pay=wtp,
        focal=focal,
        wtp_grid=grid,
        ceac=nmb.ceac(psa.cost, psa.qalys, grid, arms),
        ceaf=nmb.ceaf(psa.cost, psa.qalys, grid, arms),
        evpi=voi.evpi_curve(psa.cost, psa.qalys, grid),
        evppi=evppi,
        tornado=tornado,
        value_based_price=value_based_price(psa, scenario, focal),
        drivers=drivers_at(psa, evppi, focal, wtp),
    )
    return dataclasses.replace(out, structural=structural_at(original or psa, out))


def model_curves(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, PFS, OS) at the outcome model's calibrated point for the run's arms (S, T): the base case's
    own curves when it uses the outcome model, else recomputed from the trial's patients."""
    sc = result.scenario
    curves = result.extras.get("economic_curves")
    if sc.economics.survival_source == "outcome_model" and curves is not None:
        arms = list(dict.fromkeys(curves["arm"]))
        grid = np.sort(curves["time_months"].unique())
        pfs = np.vstack([curves.loc[curves["arm"] == a].sort_values("time_months")["pfs"].to_numpy() for a in arms])
        os_ = np.vstack([curves.loc[curves["arm"] == a].sort_values("time_months")["os"].to_numpy() for a in arms])
        return grid, pfs, os_
    _, grid, pfs, os_ = psa_module.model_point_curves(result)
    return grid, pfs, os_


def evppi_table(psa: psa_module.PSAResult, wtp: float) -> pd.DataFrame:
    """EVPPI at ``wtp`` with the rows :func:`~mhtcdt.decision.model.psa.run_psa` builds, in its order: each
    sampled economic input, the outcome model's calibration draws (one group, the ``outcome.*`` columns that
    vary) and, with physics uncertainty, the physics and structural inputs' rows of
    :func:`~mhtcdt.decision.model.physics_psa.physics_evppi` (one per input, a discrete input exactly, the
    calibrated outcome inputs from their draws, and the physics inputs together), recomputed from the PSA's
    parameter table."""
    rows = []
    params = psa.parameters
    economic = [c for c in params.columns if not str(c).startswith(("outcome.", physics_psa.PARAMETER_PREFIX))]
    for name in economic:
        row = voi.evppi(psa.cost, psa.qalys, params[name].to_numpy(float), wtp).iloc[0]
        rows.append({"parameter": name, "evppi": row["evppi"], "evppi_se": row["evppi_se"]})
    outcome_columns = [c for c in params.columns if str(c).startswith("outcome.")]
    group = params[outcome_columns].to_numpy(float)
    if group.size:
        varying = group[:, np.ptp(group, axis=0) > 0]
        if varying.shape[1]:
            row = voi.evppi(psa.cost, psa.qalys, varying, wtp).iloc[0]
            rows.append({"parameter": psa_module.OUTCOME_GROUP, "evppi": row["evppi"], "evppi_se": row["evppi_se"]})
    if psa.physics is not None:
        _, physics_rows, _ = _physics_evppi(psa, wtp)
        rows.extend(physics_rows)
    table = pd.DataFrame(rows, columns=["parameter", "evppi", "evppi_se"])
    table["evpi"] = max(0.0, float(voi.evpi(psa.cost, psa.qalys, wtp)))
    return table


def _physics_evppi(psa: psa_module.PSAResult, wtp: float):
    """:func:`~mhtcdt.decision.model.physics_psa.physics_evppi` on the draws recorded in ``psa.parameters``:
    each physics input's values (a ``choice`` back to its index) and the calibration draws of each draw
    (the ``outcome.*`` columns, one row per PSA draw, hence the identity index)."""
    params = psa.parameters
    phys = {}
    for name, item in psa.physics.sampled.items():
        key = physics_psa.PARAMETER_PREFIX + name
        if key not in params.columns:
            continue
        dist = item.distribution
        column = params[key]
        if dist.is_discrete:
            choices = list(dist.choices)
            phys[name] = np.array([float(choices.index(v)) for v in column])
        else:
            phys[name] = column.to_numpy(float)
    prefix = "outcome."
    draws = params[[c for c in params.columns if str(c).startswith(prefix)]]
    calibration = SimpleNamespace(draws=draws.rename(columns=lambda c: str(c)[len(prefix) :]))
    index = np.arange(psa.n_draws)
    return physics_psa.physics_evppi(psa.physics, phys, calibration, index, psa.cost, psa.qalys, wtp)


def drivers_at(psa: psa_module.PSAResult, evppi: pd.DataFrame, focal: str, wtp: float) -> pd.DataFrame:
    """The decision-drivers table (:func:`~mhtcdt.decision.model.drivers.drivers_table`) at ``wtp`` for the
    comparison ``focal`` vs the reference, as :func:`~mhtcdt.decision.model.psa.run_psa` builds it (empty
    without physics uncertainty)."""
    if psa.physics is None:
        return psa.drivers
    params = psa.parameters
    columns: dict[str, tuple[np.ndarray, bool]] = {
        c: (params[c].to_numpy(float), False)
        for c in params.columns
        if not str(c).startswith(("outcome.", physics_psa.PARAMETER_PREFIX))
    }
    _, _, physics_columns = _physics_evppi(psa, wtp)
    columns.update(physics_columns)
    j_f, j_r = psa.strategies.index(focal), psa.strategies.index(psa.reference)
    inc_q = psa.qalys[:, j_f] - psa.qalys[:, j_r]
    inb = wtp * inc_q - (psa.cost[:, j_f] - psa.cost[:, j_r])
    kinds = physics_psa.input_kinds(evppi, psa.physics)
    return drivers_table(evppi, inb, inc_q, columns, psa.labels, kinds)


STRUCTURAL_RERUN_NOTE = "P(cost-effective) at another WTP or price needs this preset's PSA re-run"


def structural_at(old: psa_module.PSAResult, new: psa_module.PSAResult) -> pd.DataFrame:
    """The structural alternatives (:func:`~mhtcdt.decision.model.structural.structural_table`) of ``old``
    re-costed for ``new`` (the same draws at another price and/or WTP). Exact where the table allows it: the
    base row from ``new``'s draws; a preset row's expected costs move by the same mean course-price change as
    the base PSA's (a preset fixes physics inputs only, the price draws are shared), hence its incremental
    cost and ICER. A preset's probability of being cost-effective needs its per-draw results, which the
    table does not keep: it is NaN with a note when the WTP, the price or the compared strategy changed (a
    fresh run gives it)."""
    table = old.structural
    same = (
        old.willingness_to_pay == new.willingness_to_pay
        and old.focal == new.focal
        and np.array_equal(old.cost, new.cost)
    )
    if table.empty or same:
        return table
    out = table.copy()
    arms = new.strategies
    j_f, j_r = arms.index(new.focal), arms.index(new.reference)
    shift = (new.cost - old.cost).mean(axis=0)
    for i, row in out.iterrows():
        if not row["evaluated"]:
            continue
        if row["preset"] == structural.BASE_ROW:
            values = _structural_row(new, j_f, j_r)
        elif old.focal != new.focal:
            values = dict.fromkeys(
                ("cost_focal", "qalys_focal", "inc_cost", "inc_qalys", "icer", "p_cost_effective"), math.nan
            )
            values.update(cost_reference=row["cost_reference"] + shift[j_r], icer_status="not evaluated")
            values["note"] = f"{new.focal} is the compared strategy now: re-run the PSA for this preset"
        else:
            cost_f, cost_r = row["cost_focal"] + shift[j_f], row["cost_reference"] + shift[j_r]
            icer, status = _icer_and_status(cost_f - cost_r, row["inc_qalys"])
            values = dict(
                cost_focal=cost_f,
                cost_reference=cost_r,
                inc_cost=cost_f - cost_r,
                icer=icer,
                icer_status=status,
                p_cost_effective=math.nan,
                note=STRUCTURAL_RERUN_NOTE,
            )
        for key, value in values.items():
            out.at[i, key] = value
    return out


def _structural_row(psa: psa_module.PSAResult, j_f: int, j_r: int) -> dict:
    """The base row's numbers from the PSA's draws, as :func:`structural.structural_table` computes them."""
    inc_c = float((psa.cost[:, j_f] - psa.cost[:, j_r]).mean())
    inc_q = float((psa.qalys[:, j_f] - psa.qalys[:, j_r]).mean())
    nb = psa.willingness_to_pay * psa.qalys - psa.cost
    icer, status = _icer_and_status(inc_c, inc_q)
    return {
        "cost_reference": float(psa.cost[:, j_r].mean()),
        "cost_focal": float(psa.cost[:, j_f].mean()),
        "qalys_reference": float(psa.qalys[:, j_r].mean()),
        "qalys_focal": float(psa.qalys[:, j_f].mean()),
        "inc_cost": inc_c,
        "inc_qalys": inc_q,
        "icer": icer,
        "icer_status": status,
        "p_cost_effective": float(np.mean(nb[:, j_f] >= nb[:, j_r])),
    }


def _icer_and_status(inc_cost: float, inc_qalys: float) -> tuple[float, str]:
    """ICER and its status with the rules of :mod:`mhtcdt.decision.model.structural`."""
    if inc_qalys > 0:
        return inc_cost / inc_qalys, "ICER"
    if inc_cost <= 0:
        return math.nan, "dominant" if inc_qalys >= 0 else "cheaper, less effective"
    return math.nan, "dominated"


def value_based_price(psa: psa_module.PSAResult, scenario: Scenario, focal: str | None = None) -> float | None:
    """MHT course price at which the focal strategy's expected ICER vs the reference equals the WTP (None
    when the focal arm has no MHT or the reference has it too): the PSA's closed form
    (:func:`mhtcdt.decision.model.psa.value_based_price_of`), the same whatever price is asked."""
    return psa_module.value_based_price_of(psa, scenario, focal)
