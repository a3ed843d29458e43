"""Cost-effectiveness page: per-strategy results, incremental analysis with dominance, the
cost-effectiveness plane and a plain-language verdict at a willingness to pay chosen in the page.

Numbers come from the pipeline (``PipelineResult.economics``, ``.incremental`` and the
:class:`mhtcdt.decision.model.economic_model.EconomicEvaluation` in ``extras``); the verdict is
:func:`mhtcdt.decision.model.economic_model.verdict_text` at the chosen willingness to pay (a change of
willingness to pay needs no new run: costs and QALYs do not depend on it).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from mhtcdt.app import psa_view, state
from mhtcdt.app.text import md
from mhtcdt.decision.report import figures


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
    """The pipeline's verdict text at another willingness to pay (same costs and QALYs)."""
    from mhtcdt.decision.model.economic_model import verdict_text

    econ = result.extras["economic_details"]
    scenario = result.scenario
    eco = scenario.economics.model_copy(update={"willingness_to_pay": float(wtp)})
    return verdict_text(
        scenario.model_copy(update={"economics": eco}),
        dataclasses.replace(econ, willingness_to_pay=float(wtp)),
    )


def render() -> None:
    st.title("Cost-effectiveness")
    scenario = state.get_scenario()
    eco = scenario.economics
    cur = eco.currency
    st.caption(
        f"{md(cur)} {eco.price_year}, {eco.perspective} perspective, "
        f"discounting {eco.discount_costs:.1%} (costs) / "
        f"{eco.discount_effects:.1%} (effects), horizon {eco.horizon_years:g} years, "
        f"partitioned survival model on {eco.survival_source.replace('_', '-')} curves."
    )
    result = state.pipeline_result(scenario)
    if result is None:
        return

    wtp = st.number_input(
        f"Willingness to pay [{md(cur)} per QALY]",
        min_value=0.0,
        max_value=1e7,
        value=float(eco.willingness_to_pay),
        step=5000.0,
        format="%.0f",
        key="wtp_verdict",
        help="Changing it updates the verdict at once: costs and QALYs do not depend on it.",
    )
    psa = psa_view.psa_result(scenario, result)
    with state.guard():
        text = verdict_at(result, wtp)
        if psa is not None:
            text += " " + psa.verdict(wtp)
        else:
            text += " (No probability shown: the probabilistic sensitivity analysis is not available.)"
        st.subheader("Verdict")
        st.info(md(text), icon=":material/balance:")

    st.subheader("Results per patient")
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
        st.pyplot(figures.ce_plane(result.economics, scenario.trial.reference_arm, wtp, cur))
    with right:
        undiscounted = result.economics[
            ["strategy", "cost_undiscounted", "life_years_undiscounted", "qalys_undiscounted"]
        ]
        st.markdown("**Undiscounted totals** (for transparency)")
        st.dataframe(
            undiscounted,
            hide_index=True,
            width="stretch",
            column_config={
                "cost_undiscounted": st.column_config.NumberColumn("cost", format=f"{cur} %.0f"),
                "life_years_undiscounted": st.column_config.NumberColumn("life-years", format="%.3f"),
                "qalys_undiscounted": st.column_config.NumberColumn("QALYs", format="%.3f"),
            },
        )
    if psa is not None:
        psa_view.render_psa_sections(psa, wtp, cur)


if __name__ == "__main__":
    render()
