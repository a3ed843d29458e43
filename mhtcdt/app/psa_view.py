"""Probabilistic sensitivity analysis on the cost-effectiveness and report pages.

The analysis is :func:`mhtcdt.decision.model.psa.run_psa` (run in the worker process, once per scenario
and seed); the figures are :mod:`mhtcdt.decision.report.figures` and :mod:`mhtcdt.economics.plots`, the
summary table :func:`mhtcdt.decision.report.tables.psa_summary_table`. This module only runs, looks up
and shows them; nothing is estimated here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from mhtcdt.app.text import md, metric_delta
from mhtcdt.decision.report import figures
from mhtcdt.decision.report.labels import price_text
from mhtcdt.decision.report.tables import psa_summary_table


def psa_result(scenario, result: Any) -> Any | None:
    """The :class:`~mhtcdt.decision.model.psa.PSAResult` of a pipeline result (computed in the worker once
    per scenario and seed), or None if unavailable or failed (the problem is then shown)."""
    if result is None:
        return None
    from mhtcdt.app import state

    return state.run_job(
        psa_key(scenario), "mhtcdt.app.tasks:run_psa_task", result, label="Probabilistic sensitivity analysis"
    )


def psa_key(scenario) -> str:
    """The job key of a scenario's PSA: its TOML text and seed."""
    from mhtcdt.app import state

    return "psa-" + state.run_inputs_key(scenario)


def psa_done(scenario) -> Any | None:
    """The finished PSA result of ``scenario`` if there is one (never starts a run)."""
    from mhtcdt.app import state

    status = state.job_manager().status(psa_key(scenario))
    return status.result if status is not None and status.state == "done" else None


def tidy(fig):
    """Lay a figure out so that long tick labels (parameter names) are not cut off."""
    fig.set_layout_engine("constrained")
    return fig


def show(fig, sentence: str = "") -> None:
    """A figure, or the sentence that replaces a figure that would be empty (value of information of zero)."""
    if fig is None:
        st.caption(sentence)
    else:
        st.pyplot(tidy(fig), width="stretch")


def render_psa_sections(psa: Any, scenario: Any) -> None:
    """CE-plane cloud, CEAC with the WTP marked, tornado, EVPI/EVPPI and value-based price of a PSA result
    already at the session's WTP and price (:func:`mhtcdt.app.state.decision_results`)."""
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report.labels import stakeholder_table
    from mhtcdt.decision.report.palette import scenario_palette

    wtp, currency = psa.willingness_to_pay, psa.currency
    colours = scenario_palette(scenario)
    st.subheader(f"Uncertainty ({psa.n_draws:,} probabilistic draws)")
    for note in psa.notes:
        st.caption(md(note))
    st.dataframe(
        stakeholder_table(psa_summary_table(psa, wtp), currency),
        hide_index=True,
        width="stretch",
        key="psa_summary",
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Cost-effectiveness plane** (dots: draws; ×: their mean; large dot: the base case)")
        st.pyplot(tidy(figures.ce_plane(psa.point, psa.reference, wtp, currency, psa.ce_plane(), colours)))
    with right:
        st.markdown("**Probability cost-effective** against the willingness to pay (yours marked)")
        st.pyplot(tidy(dfig.ceac(psa.ceac, wtp, currency, colours)))
    left, right = st.columns(2)
    with left:
        st.markdown(
            f"**Tornado**: what moves the incremental net monetary benefit of '{md(psa.focal)}' vs "
            f"'{md(psa.reference)}' at {md(currency)} {wtp:,.0f}/QALY (each input over its range)"
        )
        show(
            dfig.tornado(psa.tornado, currency, psa.focal, psa.reference),
            "No one-way ranges in the scenario ([[economics.uncertainty]]), so no tornado.",
        )
    with right:
        st.markdown("**Expected value of perfect information** per patient")
        show(
            dfig.evpi(psa.evpi, wtp, currency),
            f"Below {md(currency)} 1 per patient at every willingness to pay shown: the same strategy is best in "
            "(almost) every draw, so resolving the sampled uncertainty would not change the decision.",
        )
    left, right = st.columns(2)
    with left:
        st.markdown(f"**EVPPI** per patient at {md(currency)} {wtp:,.0f}/QALY (which uncertainty is worth resolving)")
        show(
            dfig.evppi(psa.evppi, currency),
            "Every input's EVPPI is (about) zero at this willingness to pay: no single input is worth "
            "researching for this decision.",
        )
        labels = getattr(psa, "labels", {}) or {}
        table = psa.evppi.assign(input=psa.evppi["parameter"].map(lambda p: labels.get(p, p)))
        st.dataframe(
            stakeholder_table(table[["input", "parameter", "evppi", "evppi_se", "evpi"]], currency),
            hide_index=True,
            width="stretch",
            key="psa_evppi",
        )
    with right:
        st.markdown("**Value-based price** of the MHT course")
        if psa.value_based_price is None:
            st.caption(
                "Not defined for this comparison (the focal strategy is not an MHT arm compared with a "
                "non-MHT reference)."
            )
        else:
            st.metric(
                f"price at which the ICER equals {md(currency)} {wtp:,.0f}/QALY",
                price_text(psa.value_based_price, md(currency)),
                delta=f"not cost-effective even at {md(currency)} 0"
                if psa.value_based_price <= 0
                else metric_delta(
                    psa.value_based_price - scenario.economics.costs.mht_course,
                    f"{md(currency)} {abs(psa.value_based_price - scenario.economics.costs.mht_course):,.0f} "
                    "vs the price asked",
                ),
                delta_color="red" if psa.value_based_price <= 0 else "normal",
                delta_arrow="off" if psa.value_based_price <= 0 else "auto",
            )
    if getattr(psa, "physics", None) is not None:
        render_physics_uncertainty(psa, currency)


def render_physics_uncertainty(psa: Any, currency: str) -> None:
    """Which uncertain inputs drive the decision (the PSA's own answer and ranking, with labels) and the
    structural alternatives side by side (:attr:`PSAResult.drivers`, :attr:`PSAResult.structural`)."""
    st.subheader("Which uncertain inputs drive the decision")
    st.info("\n\n".join(md(text) for text in psa.drivers_text()))
    st.dataframe(
        psa.drivers[["rank", "label", "kind", "evppi", "inb_variance_share", "qaly_gain_variance_share"]],
        hide_index=True,
        width="stretch",
        key="psa_drivers",
        column_config={
            "label": "input",
            "evppi": st.column_config.NumberColumn(f"EVPPI [{currency}/patient]", format="%.0f"),
            "inb_variance_share": st.column_config.NumberColumn("share of net-benefit variance", format="percent"),
            "qaly_gain_variance_share": st.column_config.NumberColumn("share of QALY-gain variance", format="percent"),
        },
    )
    if len(psa.structural):
        st.markdown(
            f"**Structural alternatives** ('{md(psa.focal)}' vs '{md(psa.reference)}'; the same draws with one "
            "structural choice held fixed)"
        )
        st.dataframe(
            psa.structural[["label", "fixed", "inc_cost", "inc_qalys", "icer", "icer_status", "p_cost_effective"]],
            hide_index=True,
            width="stretch",
            key="psa_structural",
            column_config={
                "inc_cost": st.column_config.NumberColumn("incremental cost", format=f"{currency} %.0f"),
                "inc_qalys": st.column_config.NumberColumn("incremental QALYs", format="%.4f"),
                "icer": st.column_config.NumberColumn(f"ICER [{currency}/QALY]", format="%.0f"),
                "p_cost_effective": st.column_config.NumberColumn("P(cost-effective)", format="percent"),
            },
        )
    st.caption(
        "Physics inputs are drawn from sourced distributions (decision/scenario/data/physics_uncertainty.toml) "
        "and carried through emulators of each arm's physics: "
        + md("; ".join(f"{r.arm}: {', '.join(r.dims + r.weak) or 'no input moves it'}" for r in psa.physics.reports))
    )
