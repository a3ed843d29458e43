"""Price and threshold analysis of the MHT course: the company's first question, answered from one run.

Everything here re-costs a finished run and its PSA (:mod:`mhtcdt.decision.model.whatif`: costs are linear
in the course price, net monetary benefit in the willingness to pay), except the two-way analysis, which
also re-draws the outcome model's survival (no physics, no trial) for other effect sizes.

* :func:`price_table`: deterministic and probabilistic ICER, probability of being cost-effective (with the
  Monte Carlo 95 % interval of that share, Wilson) and expected incremental net monetary benefit (INMB)
  per patient against price;
* :func:`headroom`: the value-based price (deterministic and probabilistic) next to the price asked, and
  the change that would make the ICER equal the WTP;
* :func:`two_way_price_effect`: INMB and ICER over price x effect size. The effect size is the share of the
  model's extra tumour kill of the new arm over radiotherapy that is realised
  (``log10 kill = RT kill + share x (total kill - RT kill)``): 0 = no effect beyond radiotherapy,
  1 = the model's prediction; each share's QALY gain is reported with it;
* :func:`threshold_wtp`: the willingness to pay at which the new arm becomes cost-effective (its ICER).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mhtcdt.decision.model import psa as psa_module
from mhtcdt.decision.model import whatif
from mhtcdt.decision.run.pipeline import COUNTERFACTUAL, decision_population
from mhtcdt.errors import InputError

DEFAULT_EFFECT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share k/n (the Monte Carlo uncertainty of a probability from n draws)."""
    from mhtcdt.decision.trial.power import wilson_interval as _wilson

    lo, hi = _wilson(int(k), int(n), level)
    return (0.0 if k == 0 else min(lo, k / n), 1.0 if k == n else max(hi, k / n))  # exact ends (no round-off)


def _focal_and_reference(psa: psa_module.PSAResult) -> tuple[int, int]:
    return psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)


def _check_prices(prices) -> np.ndarray:
    arr = np.asarray([whatif.check_price(p) for p in np.atleast_1d(prices)], dtype=float)
    if arr.size == 0:
        raise InputError("prices", list(arr), "give at least one price")
    return arr


def icer_of(inc_cost: float, inc_qalys: float) -> float:
    """Incremental cost per QALY gained; NaN unless QALYs are gained at an extra cost (``inc_qalys > 0`` and
    ``inc_cost > 0``). A cost per QALY *lost* reads as an ICER but means the opposite (the new strategy is then
    cost-effective only if its savings per QALY lost exceed the WTP), and a negative ratio of a dominant strategy
    is no cost per QALY either: :func:`mhtcdt.decision.report.labels.icer_cell` names those quadrants
    (``dominant``, ``dominated``, ``saves ... per QALY lost``) from the increments."""
    return inc_cost / inc_qalys if inc_qalys > 0 and inc_cost > 0 else math.nan


def threshold_of(inc_cost: float, inc_qalys: float) -> float:
    """The WTP above which QALYs gained at ``inc_cost`` pay: the ICER, 0 when dominant (any WTP), NaN when no
    QALYs are gained (no WTP makes a QALY loss worth paying for)."""
    return max(0.0, inc_cost / inc_qalys) if inc_qalys > 0 else math.nan


def default_prices(list_price: float, value_based_price: float | None = None, n: int = 41) -> np.ndarray:
    """Prices from 0 to 1.5 x the larger of the list and the value-based price, with both on the grid."""
    top = 1.5 * max(list_price, value_based_price or 0.0, 1.0)
    extra = [list_price] + ([value_based_price] if value_based_price is not None and value_based_price > 0 else [])
    return np.unique(np.concatenate([np.linspace(0.0, top, n), extra]))


def price_table(result, psa: psa_module.PSAResult, prices=None) -> pd.DataFrame:
    """Results of the focal strategy vs the reference at each course price, at the run's WTP.

    ``result`` and ``psa`` as :func:`mhtcdt.decision.model.whatif.apply` returns them (any WTP and price).
    Columns: ``price``, ``icer_deterministic``, ``icer_probabilistic`` [currency/QALY] (NaN unless the focal
    strategy gains QALYs: a ratio to a QALY loss is not an ICER), the increments they come from
    (``inc_cost_deterministic``, ``inc_qalys_deterministic``, ``inc_cost_probabilistic`` and
    ``inc_qalys_probabilistic``, means over the draws: say "dominated" or "dominant" with them),
    ``p_cost_effective`` (share of draws in which the focal strategy has the highest NMB),
    ``p_ce_lower``, ``p_ce_upper`` (Wilson 95 % interval of that share), ``expected_inmb`` [currency per
    patient, mean over draws], ``inmb_deterministic``.
    """
    sc = result.scenario
    wtp = float(sc.economics.willingness_to_pay)
    current = float(sc.economics.costs.mht_course)
    if prices is None:
        prices = default_prices(current, whatif.value_based_price(psa, sc))
    prices = _check_prices(prices)
    j, r = _focal_and_reference(psa)
    per = result.economics.set_index("strategy")
    mht = whatif.has_mht(sc, psa.strategies)
    d_mht = mht[j] - mht[r]
    det_dc = float(per.at[psa.focal, "cost"] - per.at[psa.reference, "cost"])
    det_dq = float(per.at[psa.focal, "qalys"] - per.at[psa.reference, "qalys"])
    rows = []
    for p in prices:
        cost = whatif.costs_at_price(psa, sc, current, p)
        nmb_ = wtp * psa.qalys - cost
        k = int((nmb_.argmax(axis=1) == j).sum())
        lo, hi = wilson_interval(k, psa.n_draws)
        inc_c = cost[:, j] - cost[:, r]
        inc_q = psa.qalys[:, j] - psa.qalys[:, r]
        dc = det_dc + d_mht * (p - current)
        rows.append(
            dict(
                price=float(p),
                icer_deterministic=icer_of(dc, det_dq),
                icer_probabilistic=icer_of(float(inc_c.mean()), float(inc_q.mean())),
                inc_cost_deterministic=dc,
                inc_qalys_deterministic=det_dq,
                inc_cost_probabilistic=float(inc_c.mean()),
                inc_qalys_probabilistic=float(inc_q.mean()),
                p_cost_effective=k / psa.n_draws,
                p_ce_lower=lo,
                p_ce_upper=hi,
                expected_inmb=float((wtp * inc_q - inc_c).mean()),
                inmb_deterministic=wtp * det_dq - dc,
            )
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Headroom:
    """The price a payer could accept at the WTP, next to the price asked (currency per course)."""

    price: float
    list_price: float
    value_based_price: float | None  # probabilistic: expected ICER = WTP
    value_based_price_deterministic: float | None  # base case: ICER = WTP
    willingness_to_pay: float
    currency: str

    @property
    def headroom(self) -> float | None:
        """Value-based price minus the price asked (negative: the price must fall by that much)."""
        return None if self.value_based_price is None else self.value_based_price - self.price

    def sentence(self) -> str:
        cur = self.currency
        if self.value_based_price is None:
            return "No value-based price: the new strategy is not an MHT arm compared with a non-MHT reference."
        vbp, p = self.value_based_price, self.price
        at = f"at {cur} {self.willingness_to_pay:,.0f} per QALY"
        if vbp <= 0:
            return (
                f"Even at a price of 0 the MHT course is not cost-effective {at}: the MHT arm's expected net "
                f"monetary benefit would still be about {cur} {-vbp:,.0f} per patient below the comparator's."
            )
        change = vbp - p
        if abs(change) < 0.5:
            return f"The price asked, {cur} {p:,.0f}, is the value-based price {at}."
        if change > 0:
            return (
                f"Headroom: the course could cost up to {cur} {vbp:,.0f} {at}, {cur} {change:,.0f} more than the "
                f"{cur} {p:,.0f} asked."
            )
        cut = f" (a {-change / p:.0%} cut)" if p > 0 else ""
        return (
            f"The course would have to cost at most {cur} {vbp:,.0f} to be cost-effective {at}: {cur} {-change:,.0f} "
            f"below the {cur} {p:,.0f} asked{cut}."
        )


def headroom(result, psa: psa_module.PSAResult, list_price: float | None = None) -> Headroom:
    """The value-based price (probabilistic and deterministic) and the headroom against the run's price."""
    sc = result.scenario
    wtp = float(sc.economics.willingness_to_pay)
    price = float(sc.economics.costs.mht_course)
    vbp = whatif.value_based_price(psa, sc)
    det = None
    if vbp is not None:
        per = result.economics.set_index("strategy")
        dq = float(per.at[psa.focal, "qalys"] - per.at[psa.reference, "qalys"])
        dc = float(per.at[psa.focal, "cost"] - per.at[psa.reference, "cost"])
        det = price + (wtp * dq - dc)  # one course per patient at time 0
    return Headroom(price, price if list_price is None else float(list_price), vbp, det, wtp, sc.economics.currency)


def threshold_wtp(result, psa: psa_module.PSAResult) -> dict[str, float]:
    """The willingness to pay above which the focal strategy is cost-effective vs the reference: its ICER,
    deterministic and probabilistic (0 when dominant; NaN when it gains no QALYs: no WTP makes a QALY loss worth
    paying for)."""
    per = result.economics.set_index("strategy")
    dq = float(per.at[psa.focal, "qalys"] - per.at[psa.reference, "qalys"])
    dc = float(per.at[psa.focal, "cost"] - per.at[psa.reference, "cost"])
    j, r = _focal_and_reference(psa)
    return {
        "deterministic": threshold_of(dc, dq),
        "probabilistic": threshold_of(
            float((psa.cost[:, j] - psa.cost[:, r]).mean()), float((psa.qalys[:, j] - psa.qalys[:, r]).mean())
        ),
    }


def _with_effect_share(trial: pd.DataFrame, arm: str, share: float) -> pd.DataFrame:
    """The trial with ``arm``'s kill beyond radiotherapy scaled by ``share`` (other arms unchanged)."""
    out = trial.copy()
    mask = out["arm"] == arm
    rt = out.loc[mask, "log10_kill_rt"].to_numpy(float)
    total = out.loc[mask, "log10_kill_total"].to_numpy(float)
    extra = np.maximum(total - rt, 0.0)
    out.loc[mask, "log10_kill_total"] = np.minimum(rt, total) + share * extra
    return out


def two_way_basis(result, focal: str) -> list[str]:
    """What the two-way analysis's survival rests on, when it is not simply the base case (sentences for the
    page and the report): the outcome model at its calibrated point on the decision population, while a
    ``parametric`` or ``kaplan_meier`` base case is a fit to the randomised trial; and, for an arm without
    radiotherapy, that a share of 0 means no tumour kill from that arm at all."""
    sc = result.scenario
    notes = []
    if sc.economics.survival_source != "outcome_model":
        notes.append(
            "Survival in this table is the outcome model at its calibrated point on the same patients under each "
            f"arm; the base case above uses the {sc.economics.survival_source.replace('_', '-')} fit to the "
            "randomised trial, so the 100 % row need not equal it."
        )
    if not sc.arm(focal).has_rt:
        notes.append(
            f"'{focal}' has no radiotherapy: a share of 0 % means no tumour kill from it at all, not 'no effect "
            "beyond radiotherapy'."
        )
    return notes


def two_way_price_effect(
    result, psa: psa_module.PSAResult, prices=None, effect_shares=DEFAULT_EFFECT_SHARES
) -> pd.DataFrame:
    """Deterministic two-way analysis over the course price and the effect size (see the module docstring).

    Survival: the outcome model at its calibrated point for the trial's patients and random numbers, with
    the focal arm's kill beyond radiotherapy scaled; costs at each price by linearity. Long table:
    ``effect_share``, ``qaly_gain`` (focal vs reference), ``price``, ``incremental_cost``, ``icer``,
    ``inmb`` [currency per patient at the WTP], ``cost_effective`` (bool: INMB > 0).
    """
    sc = result.scenario
    shares = np.asarray(effect_shares, dtype=float)
    if shares.size == 0 or np.any(~np.isfinite(shares)) or np.any(shares < 0) or np.any(shares > 10):
        raise InputError("effect_shares", list(shares), "give shares of the modelled effect in [0, 10]")
    current = float(sc.economics.costs.mht_course)
    if prices is None:
        vbp = whatif.value_based_price(psa, sc)
        prices = np.unique([0.0, 0.25 * current, 0.5 * current, 0.75 * current, current, *([vbp] if vbp else [])])
        prices = prices[prices >= 0]
    prices = _check_prices(prices)
    wtp = float(sc.economics.willingness_to_pay)
    mht = whatif.has_mht(sc, psa.strategies)
    j, r = _focal_and_reference(psa)
    rows = []
    for share in shares:
        shifted = dataclasses.replace(
            result,
            trial=_with_effect_share(result.trial, psa.focal, float(share)),
            extras={
                **result.extras,
                COUNTERFACTUAL: _with_effect_share(decision_population(result), psa.focal, float(share)),
            },
        )
        arms, grid, pfs, os_ = psa_module.model_point_curves(shifted)
        res = psa_module.evaluate_curves(sc, arms, grid, pfs[None], os_[None], {}, 1).summary().set_index("strategy")
        dq = float(res.at[psa.focal, "qalys"] - res.at[psa.reference, "qalys"])
        dc0 = float(res.at[psa.focal, "cost"] - res.at[psa.reference, "cost"])
        for p in prices:
            dc = dc0 + (mht[j] - mht[r]) * (p - current)
            rows.append(
                dict(
                    effect_share=float(share),
                    qaly_gain=dq,
                    price=float(p),
                    incremental_cost=dc,
                    icer=dc / dq if dq > 0 else math.nan,
                    inmb=wtp * dq - dc,
                    cost_effective=bool(wtp * dq - dc > 0),
                )
            )
    return pd.DataFrame(rows)
