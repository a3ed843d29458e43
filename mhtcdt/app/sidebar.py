"""The sidebar shown on every page: which scenario is in use and whether its results are ready."""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md


def render_sidebar() -> None:
    with st.sidebar:
        with state.guard():
            scenario = state.get_scenario()
            st.markdown(f"**Scenario**  \n{md(scenario.name)}")
            st.caption(
                f"{scenario.cohort.n_screened:,} screened · {len(scenario.arms)} arms · "
                f"seed {scenario.seed} · "
                f"WTP {md(scenario.economics.currency)} {scenario.economics.willingness_to_pay:,.0f}/QALY"
            )
            done = state.pipeline_done(scenario)
            status = state.pipeline_status(scenario)
            if done is not None:
                st.caption("Results: ready.")
            elif status is not None and status.state == "running":
                st.caption(f"Results: running in the background ({md(status.stage)}, {status.fraction:.0%}).")
            else:
                st.caption("Results: not computed yet for these inputs.")
                if st.button(
                    "Start the run in the background",
                    key="sidebar_run",
                    help="Starts the virtual trial now; the result pages then open at once.",
                ):
                    state.start_pipeline(scenario)
                    st.rerun()
        st.caption(
            "Model predictions, not evidence: there is no randomised trial of NanoTherm and no "
            "clinical evidence for chemodynamic therapy."
        )
