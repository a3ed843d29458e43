"""For whom: subgroup results and the eligibility rule with the highest expected net benefit.

Every trial patient is also treated with the other arm (counterfactual physics, in the worker, once per
run); the table and the rules are then at the session's willingness to pay and MHT price without a new run
(:mod:`mhtcdt.decision.model.subgroups`).
"""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md


def subgroup_analysis(scenario, decision):
    """The stored subgroup analysis of the scenario's run (computed in the worker once per run)."""
    from mhtcdt.app import psa_view

    raw_psa = psa_view.psa_done(scenario)
    raw = state.pipeline_done(scenario)
    if raw is None or raw_psa is None:
        return None
    return state.run_job(
        "subgroups-" + state.run_inputs_key(scenario),
        "mhtcdt.app.tasks:subgroups_task",
        raw,
        raw_psa,
        label="Treating every patient with every arm",
    )


def subgroups_done(scenario):
    """The finished subgroup analysis of the scenario's run if there is one (never starts a run)."""
    status = state.job_manager().status("subgroups-" + state.run_inputs_key(scenario))
    return status.result if status is not None and status.state == "done" else None


def render() -> None:
    st.title("For whom")
    scenario = state.get_scenario()
    st.caption(
        "Subgroups by the covariates clinicians name, and which patients the new arm should be given to. "
        "Model predictions for counterfactual virtual patients (each patient under every arm)."
    )
    state.decision_controls()
    decision = state.decision_results(scenario)
    if decision is None:
        return
    with state.guard():
        analysis = subgroup_analysis(scenario, decision)
        if analysis is None:
            return
        from mhtcdt.decision.report import decision_figures as dfig
        from mhtcdt.decision.report.decision_html import best_rule_sentence, rules_table, subgroup_table

        cur = decision.scenario.economics.currency
        wtp, price = decision.willingness_to_pay, decision.price
        table = analysis.table(wtp, price)
        rules = analysis.rules_table(wtp, price)
        st.info(md(best_rule_sentence(rules, cur)), icon=":material/rule:")
        st.subheader(f"Subgroups: '{md(analysis.new)}' vs '{md(analysis.reference)}'")
        for note in analysis.notes:
            st.caption(md(note))
        st.dataframe(subgroup_table(table, cur), hide_index=True, width="stretch", key="subgroup_table")
        fig = dfig.subgroup_forest(table, cur)
        if fig is not None:
            st.pyplot(fig, width="stretch")
        st.subheader("Eligibility rules")
        st.caption(
            "Giving the new arm only to the patients a rule selects (the others get the reference arm): expected "
            "incremental net monetary benefit per eligible patient over giving it to nobody, and how often each "
            "rule is the best one across the PSA draws."
        )
        st.dataframe(rules_table(rules, cur), hide_index=True, width="stretch", key="rules_table")


if __name__ == "__main__":
    render()
