"""The answer: the first screen. The headline of the current scenario at the session's willingness to pay
and MHT price, computed as soon as the app opens (progress shown while the worker runs the trial and the
PSA): verdict with a traffic light, ICER vs the reference, probability cost-effective with its Monte Carlo
uncertainty, value-based price next to the price asked, EVPI per patient and for a population, what drives
the uncertainty, and whether the deterministic and probabilistic analyses agree (and why not).

Every number and sentence comes from :func:`mhtcdt.decision.report.headline.build_headline`.
"""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md, metric_delta
from mhtcdt.decision.report.labels import icer_cell, money, price_text

BADGES = {
    "green": ("Cost-effective", "green", ":material/check_circle:"),
    "amber": ("Uncertain", "orange", ":material/help:"),
    "red": ("Not cost-effective", "red", ":material/cancel:"),
}


def _population_inputs() -> None:
    from mhtcdt.decision.report.headline import DEFAULT_DECISION_YEARS, DEFAULT_PATIENTS_PER_YEAR

    st.session_state.setdefault(state.PATIENTS_KEY, float(DEFAULT_PATIENTS_PER_YEAR))
    st.session_state.setdefault(state.YEARS_KEY, int(DEFAULT_DECISION_YEARS))
    with st.expander("Population for the EVPI (illustrative defaults: enter your setting's numbers)"):
        c1, c2 = st.columns(2)
        c1.number_input(
            "patients treated per year", min_value=1.0, max_value=1e7, step=100.0, format="%.0f", key=state.PATIENTS_KEY
        )
        c2.number_input("years the decision holds", min_value=1, max_value=100, step=1, key=state.YEARS_KEY)


def render() -> None:
    st.title("The answer")
    scenario = state.get_scenario()
    st.caption(f"{md(scenario.name)} · model predictions, not trial evidence")
    state.decision_controls()
    if not state.autostart() and not state.answer_known(scenario):
        st.info("The run starts when you ask for it (automatic start is off on this server).", icon=":material/info:")
        if st.button("Compute the answer", type="primary", key="answer_start"):
            st.session_state[state.AUTOSTART_KEY] = True  # from now on, as if the app had started it
            state.prefetch()
            st.rerun()
        return
    with state.guard():
        first_stage = st.empty()  # the deterministic base case while the PSA runs; replaced by the headline
        if not _preliminary(scenario, first_stage):
            return
        decision = state.decision_results(scenario)
        first_stage.empty()
        if decision is None:
            return
        from mhtcdt.decision.report.headline import build_headline

        h = build_headline(decision.result, decision.psa, list_price=decision.list_price, population=state.population())
        render_headline(h)
        _say_if_cached(decision.result)
        _figures(decision)
        _population_inputs()
        st.caption(md(h.caveat))
        st.markdown("**More:**")
        links = st.columns(3)
        links[0].page_link(state.page_path("page_price.py"), label="Price and threshold", icon=":material/sell:")
        links[1].page_link(state.page_path("page_subgroups.py"), label="For whom", icon=":material/person_search:")
        links[2].page_link(state.page_path("page_compare.py"), label="Compare scenarios", icon=":material/compare:")


def _say_if_cached(result) -> None:
    """Say so when the run was loaded from the result cache (:mod:`mhtcdt.decision.run.result_cache`)."""
    from mhtcdt.app.tasks import FROM_RESULT_CACHE

    if result.extras.get(FROM_RESULT_CACHE):
        st.caption(
            "The virtual trial behind this answer was loaded from the result cache: the stored result of an "
            "identical earlier run (same scenario, seed, calibration, model code and library versions), which a "
            "new run reproduces exactly.",
            help="`mhtcdt warmup` computes the default answer once after installing; "
            "`MHTCDT_RESULT_CACHE=0` turns the cache off.",
        )


def _preliminary(scenario, slot) -> bool:
    """The answer in two stages: once the trial is done (seconds on a warm start) and while its PSA runs (most of
    the time), the deterministic base case in ``slot``, labelled as not yet the verdict
    (:func:`mhtcdt.decision.report.headline.build_preliminary`). False when the trial failed (shown)."""
    from mhtcdt.app import psa_view
    from mhtcdt.decision.report.headline import build_preliminary

    if state.pipeline_result(scenario) is None:
        return False
    if psa_view.psa_done(scenario) is None:
        base = state.decision_results(scenario, psa=False)
        if base is not None:
            p = build_preliminary(base.result, list_price=base.list_price)
            cur = md(p.currency)
            with slot.container(border=True, key="headline_preliminary"):
                st.badge("Preliminary: base case only", color="gray", icon=":material/hourglass_top:")
                st.markdown(f"**{md(p.text)}**")
                icer = (
                    money(p.icer, cur)
                    if p.inc_qalys > 0 and p.inc_cost > 0
                    else icer_cell(p.inc_cost, p.inc_qalys, cur)
                )
                st.metric(f"ICER vs {md(p.reference)} (base case)", icer)
    return True


def render_headline(h) -> None:
    """The headline box: traffic light, verdict, four numbers, the sentences that explain them."""
    label, colour, icon = BADGES[h.light]
    cur = md(h.currency)  # inside Markdown: metric values, deltas and help texts render it
    with st.container(border=True, key="headline"):
        st.badge(label, color=colour, icon=icon)
        st.markdown(f"### {md(h.verdict)}")
        m = st.columns(4)
        icer = money(h.icer, cur) if h.inc_qalys > 0 and h.inc_cost > 0 else md(h.icer_text.split(" (")[0])
        m[0].metric(
            "ICER vs " + md(h.reference),
            icer,
            help=f"Mean of {h.n_draws:,} PSA draws. Deterministic base case: "
            f"{icer_cell(h.inc_cost_deterministic, h.inc_qalys_deterministic, cur)}.",
        )
        m[1].metric("probability cost-effective", f"{100 * h.probability:.0f} %", help=md(h.probability_text))
        if h.value_based_price is not None:
            gap = h.value_based_price - h.price
            free = h.value_based_price <= 0
            m[2].metric(
                "value-based price",
                price_text(h.value_based_price, cur),
                delta=f"not cost-effective even at {cur} 0"
                if free
                else metric_delta(gap, f"{money(abs(gap), cur)} vs the price asked"),  # the sign says above or below
                delta_color="red" if free else "normal",
                delta_arrow="off" if free else "auto",
                help=f"MHT course price at which the ICER equals {money(h.willingness_to_pay, cur)} per QALY "
                f"(mean of the PSA draws: {money(h.value_based_price, cur)}); price asked {money(h.price, cur)}, "
                f"list price {money(h.list_price, cur)}.",
            )
        else:
            m[2].metric("value-based price", "—", help="Not defined for this comparison.")
        m[3].metric(
            "EVPI per patient",
            money(h.evpi_per_patient, cur) if h.evpi_per_patient >= 0.5 else f"< {cur} 1",
            help=f"For the population: {money(h.evpi_population, cur)} ({h.population.patients_per_year:,.0f} "
            f"patients a year over {h.population.years} years).",
        )
        st.markdown(f"**Probability cost-effective:** {md(h.probability_text)}.")
        st.markdown(md(h.price_text))
        st.markdown(md(h.evpi_text))
        st.markdown(md(h.driver_text))
        if h.agrees:
            st.caption(md(h.agreement))
        else:
            st.warning(md(h.agreement), icon=":material/compare_arrows:")
        for note in h.reference_case:  # jurisdiction, PPP-transferred costs, departures from the reference case
            st.caption(md(note))


def _figures(decision) -> None:
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report import figures
    from mhtcdt.decision.report.palette import scenario_palette

    psa = decision.psa
    colours = scenario_palette(decision.scenario)
    left, right = st.columns(2)
    with left:
        st.markdown("**Probability cost-effective** against the willingness to pay")
        st.pyplot(dfig.ceac(psa.ceac, psa.willingness_to_pay, psa.currency, colours), width="stretch")
    with right:
        st.markdown("**Cost-effectiveness plane** (each dot one PSA draw)")
        st.pyplot(
            figures.ce_plane(psa.point, psa.reference, psa.willingness_to_pay, psa.currency, psa.ce_plane(), colours),
            width="stretch",
        )


if __name__ == "__main__":
    render()
