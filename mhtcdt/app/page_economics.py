"""Cost-effectiveness page: the verdict (the headline of :mod:`mhtcdt.decision.report.headline`),
per-strategy results, incremental analysis with dominance, the cost-effectiveness plane and the PSA.

Everything is at the session's one willingness to pay and MHT price (:func:`mhtcdt.app.state.decision_results`:
a change re-derives the results from the stored run and PSA, it re-runs nothing).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mhtcdt.app import psa_view, state
from mhtcdt.app.text import md
from mhtcdt.decision.report import figures
from mhtcdt.decision.report.labels import money, number
from mhtcdt.decision.report.palette import scenario_palette
from mhtcdt.decision.scenario.reference_case import reference_case_notes

SOURCES = {
    "outcome_model": "the outcome model's survival (the PSA samples the same model: one survival source)",
    "parametric": "parametric fits to the virtual trial (the PSA uses the outcome model: two sources)",
    "kaplan_meier": "Kaplan-Meier curves of the virtual trial (no extrapolation)",
}


def _money(x: float, currency: str) -> str:
    return "—" if pd.isna(x) else f"{currency} {x:,.0f}"


def results_table(per: pd.DataFrame, inc: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Display table: discounted cost, life-years, QALYs, increments, ICER and dominance status."""
    merged = inc.merge(per[["strategy", "life_years"]], on="strategy", how="left")
    return pd.DataFrame(
        {
            "strategy": merged["strategy"],
            f"cost [{currency}]": merged["cost"].map(lambda x: _money(x, currency)),
            "life-years": merged["life_years"].map(lambda x: f"{x:.3f}"),
            "QALYs": merged["qalys"].map(lambda x: f"{x:.3f}"),
            f"incremental cost [{currency}]": merged["inc_cost"].map(lambda x: _money(x, currency)),
            "incremental QALYs": merged["inc_qalys"].map(lambda x: "—" if pd.isna(x) else f"{x:+.3f}"),
            f"ICER [{currency}/QALY]": merged["icer"].map(lambda x: _money(x, currency)),
            "status": merged["status"],
        }
    )


def verdict_at(result, wtp: float) -> str:
    """The pipeline's deterministic verdict text at another willingness to pay (same costs and QALYs)."""
    from mhtcdt.decision.model.whatif import apply

    return apply(result, willingness_to_pay=wtp).result.verdict


def render() -> None:
    st.title("Cost-effectiveness")
    scenario = state.get_scenario()
    eco = scenario.economics
    cur = eco.currency
    st.caption(
        f"{md(cur)} at {eco.price_year} prices, {eco.perspective} perspective, "
        f"discounting {eco.discount_costs:.1%} (costs) / "
        f"{eco.discount_effects:.1%} (effects), horizon {eco.horizon_years:g} years, "
        f"partitioned survival model on {SOURCES.get(eco.survival_source, eco.survival_source)}."
    )
    for note in reference_case_notes(eco):  # jurisdiction, PPP-transferred costs, departures, threshold
        st.caption(md(note))
    state.decision_controls()
    decision = state.decision_results(scenario)
    if decision is None:
        return
    result, psa = decision.result, decision.psa
    wtp = decision.willingness_to_pay
    with state.guard():
        from mhtcdt.app.page_answer import render_headline
        from mhtcdt.decision.report.headline import build_headline

        st.subheader("Verdict")
        render_headline(build_headline(result, psa, list_price=decision.list_price, population=state.population()))
        with st.expander("Deterministic base case in words"):
            st.markdown(md(result.verdict))

    st.subheader("Results per patient (deterministic base case)")
    st.dataframe(
        results_table(result.economics, result.incremental, cur),
        hide_index=True,
        width="stretch",
        key="results_table",
    )
    st.caption(
        "Status: *dominated* = another strategy gives at least as many QALYs for no more cost; "
        "*extendedly dominated* = a mix of its neighbours would be more efficient; ICERs are along the "
        "efficient frontier."
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Cost-effectiveness plane** (deterministic results vs the reference arm)")
        st.pyplot(
            figures.ce_plane(
                result.economics, scenario.trial.reference_arm, wtp, cur, colours=scenario_palette(scenario)
            ),
            width="stretch",
        )
    with right:
        st.markdown("**Undiscounted totals** (for transparency)")
        st.dataframe(
            pd.DataFrame(
                {
                    "strategy": result.economics["strategy"],
                    "cost (undiscounted)": result.economics["cost_undiscounted"].map(lambda v: money(v, cur)),
                    "life-years (undiscounted)": result.economics["life_years_undiscounted"].map(number),
                    "QALYs (undiscounted)": result.economics["qalys_undiscounted"].map(number),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    if psa is not None:
        psa_view.render_psa_sections(psa, decision.scenario)


if __name__ == "__main__":
    render()
