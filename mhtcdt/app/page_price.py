"""Price and threshold: the MHT course price as a first-class what-if.

ICER and probability of being cost-effective against price (with the Monte Carlo interval), the headroom
(value-based price vs the price asked), the threshold willingness to pay, the acceptability curve over a
range that covers the ICER, and a two-way analysis of price x effect size. Everything is re-costed from the
stored run and PSA (:mod:`mhtcdt.decision.model.price`): changing the price or the WTP re-runs no physics
and no trial.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md, metric_delta
from mhtcdt.decision.report.labels import icer_cells, money, percent, price_text, threshold_text

EFFECT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


@st.cache_data(show_spinner=False, max_entries=16)
def _two_way(key: str, _result, _psa, prices: tuple[float, ...]) -> pd.DataFrame:
    from mhtcdt.decision.model.price import two_way_price_effect

    return two_way_price_effect(_result, _psa, prices=list(prices), effect_shares=EFFECT_SHARES)


def render() -> None:
    st.title("Price and threshold")
    scenario = state.get_scenario()
    st.caption(
        "The MHT course is paid once per patient: costs move linearly with its price, so every number here is "
        "re-costed from the stored run (no new trial, no new PSA)."
    )
    state.decision_controls()
    decision = state.decision_results(scenario)
    if decision is None:
        return
    from mhtcdt.decision.model import price
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report.decision_html import two_way_table
    from mhtcdt.decision.report.palette import scenario_palette

    result, psa = decision.result, decision.psa
    cur = psa.currency
    mcur = md(cur)  # the currency inside Markdown (metric values, deltas and help texts render it)
    wtp = decision.willingness_to_pay
    room = price.headroom(result, psa, list_price=decision.list_price)
    thresholds = price.threshold_wtp(result, psa)
    for note in decision.notes:
        st.caption(md(note))
    c = st.columns(3)
    c[0].metric(
        "price asked", money(room.price, mcur), help=f"List price in the scenario: {money(room.list_price, mcur)}."
    )
    c[1].metric(
        "value-based price",
        price_text(room.value_based_price, mcur),
        delta=None
        if room.headroom is None
        else f"not cost-effective even at {mcur} 0"
        if room.value_based_price <= 0
        else metric_delta(
            room.headroom,
            f"{money(abs(room.headroom), mcur)} "
            + ("headroom" if room.headroom >= 0 else "headroom (the price asked is above the value-based price)"),
        ),
        delta_color="red" if room.value_based_price is not None and room.value_based_price <= 0 else "normal",
        delta_arrow="off" if room.value_based_price is not None and room.value_based_price <= 0 else "auto",
        help="Price at which the expected ICER equals the willingness to pay (mean of the PSA draws: "
        + money(room.value_based_price, mcur)
        + "); base case: "
        + money(room.value_based_price_deterministic, mcur),
    )
    c[2].metric(
        "threshold willingness to pay",
        threshold_text(thresholds["probabilistic"], mcur).split(" (")[0].removesuffix(" per QALY"),
        help=f"The ICER (mean of the draws): the WTP above which '{md(psa.focal)}' is cost-effective; "
        f"{threshold_text(thresholds['probabilistic'], mcur)}. Base case: "
        f"{threshold_text(thresholds['deterministic'], mcur)}.",
    )
    st.markdown(md(room.sentence()))
    if room.value_based_price is None:
        return
    table = price.price_table(result, psa)
    left, right = st.columns(2)
    with left:
        st.markdown("**ICER and probability cost-effective against the price**")
        st.pyplot(dfig.price_curves(table, room.price, wtp, cur, room.value_based_price), width="stretch")
    with right:
        st.markdown("**Probability cost-effective against the willingness to pay** (at the price asked)")
        st.pyplot(dfig.ceac(psa.ceac, wtp, cur, scenario_palette(decision.scenario)), width="stretch")
    shown = table.iloc[:: max(1, len(table) // 12)]
    st.dataframe(
        pd.DataFrame(
            {
                "MHT course price": shown["price"].map(lambda v: money(v, cur)),
                "ICER (mean of draws)": icer_cells(shown, "probabilistic", cur),
                "ICER (base case)": icer_cells(shown, "deterministic", cur),
                "probability cost-effective (Monte Carlo 95 %)": [
                    f"{percent(p)} ({percent(lo)}-{percent(hi)})"
                    for p, lo, hi in zip(
                        shown["p_cost_effective"], shown["p_ce_lower"], shown["p_ce_upper"], strict=True
                    )
                ],
                "expected INMB per patient": shown["expected_inmb"].map(lambda v: money(v, cur)),
            }
        ),
        hide_index=True,
        width="stretch",
        key="price_table",
    )
    from mhtcdt.decision.model.price import two_way_basis

    basis = two_way_basis(result, psa.focal)
    st.subheader("Two-way: price x effect size" + (" (outcome model at its calibrated point)" if basis else ""))
    st.caption(
        "Rows: the share of the model's extra tumour kill over radiotherapy that is realised (100 % = the model's "
        "prediction), with its QALY gain; columns: the course price. Cells: ICER; ✓ cost-effective at the "
        f"willingness to pay of {money(wtp, mcur)}. " + " ".join(basis)
    )
    prices = sorted({0.0, 0.25 * room.list_price, 0.5 * room.list_price, room.price, room.list_price,
                     max(0.0, room.value_based_price)})  # fmt: skip
    key = state.run_inputs_key(scenario) + f"-{wtp}-{room.price}"
    st.dataframe(two_way_table(_two_way(key, result, psa, tuple(prices)), cur), hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
