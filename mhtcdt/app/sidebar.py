"""The sidebar shown on every page: which scenario is in use and whether its results are ready."""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state


def render_sidebar() -> None:
    with st.sidebar:
        with state.guard():
            scenario = state.get_scenario()
            st.markdown(f"**Scenario**  \n{scenario.name}")
            st.caption(
                f"{scenario.cohort.n_screened:,} screened · {len(scenario.arms)} arms · "
                f"seed {scenario.seed} · "
                f"WTP {scenario.economics.currency} {scenario.economics.willingness_to_pay:,.0f}/QALY"
            )
            done = state.pipeline_done(scenario)
            if done is None:
                st.caption("Results: not computed yet for these inputs (the trial pages start the run).")
            else:
                st.caption("Results: ready.")
        st.caption(
            "Model predictions, not evidence: there is no randomised trial of NanoTherm and no "
            "clinical evidence for chemodynamic therapy."
        )
