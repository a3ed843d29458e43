"""The sidebar shown on every page: the scenario in use, the one willingness to pay and MHT price of every
page (unless the page shows them itself), and whether the results are ready."""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md


def render_sidebar() -> None:
    with st.sidebar:
        with state.guard():
            scenario = state.get_scenario()
            st.markdown(f"**Scenario**  \n{md(scenario.name)}")
            st.caption(f"{scenario.cohort.n_screened:,} screened · {len(scenario.arms)} arms · seed {scenario.seed}")
            state.decision_controls(st.sidebar, compact=True)
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
