"""Probabilistic sensitivity analysis on the cost-effectiveness and report pages.

The analysis is :func:`mhtcdt.decision.model.psa.run_psa` (run in the worker process, once per scenario
and seed); the figures are :mod:`mhtcdt.decision.report.figures` and :mod:`mhtcdt.economics.plots`, the
summary table :func:`mhtcdt.decision.report.tables.psa_summary_table`. This module only runs, looks up
and shows them; nothing is estimated here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from mhtcdt.app.text import md
from mhtcdt.decision.report import figures
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

    return "psa-" + state.input_key(state.scenario_toml(scenario), scenario.seed)


def psa_done(scenario) -> Any | None:
    """The finished PSA result of ``scenario`` if there is one (never starts a run)."""
    from mhtcdt.app import state

    status = state.job_manager().status(psa_key(scenario))
    return status.result if status is not None and status.state == "done" else None


def tidy(fig):
    """Lay a figure out so that long tick labels (parameter names) are not cut off."""
    fig.set_layout_engine("constrained")
    return fig


def render_psa_sections(psa: Any, wtp: float, currency: str) -> None:
    """CE-plane cloud, CEAC/CEAF, tornado, EVPI/EVPPI and value-based price from the PSA result."""
    from mhtcdt.economics import plots

    st.subheader(f"Uncertainty ({psa.n_draws:,} probabilistic draws)")
    for note in psa.notes:
        st.caption(md(note))
    st.dataframe(
        psa_summary_table(psa, wtp),
        hide_index=True,
        width="stretch",
        key="psa_summary",
        column_config={
            "cost_mean": st.column_config.NumberColumn("mean cost", format=f"{currency} %.0f"),
            "cost_low": st.column_config.NumberColumn("cost 2.5%", format=f"{currency} %.0f"),
            "cost_high": st.column_config.NumberColumn("cost 97.5%", format=f"{currency} %.0f"),
            "qalys_mean": st.column_config.NumberColumn("mean QALYs", format="%.3f"),
            "qalys_low": st.column_config.NumberColumn("QALYs 2.5%", format="%.3f"),
            "qalys_high": st.column_config.NumberColumn("QALYs 97.5%", format="%.3f"),
            "life_years_mean": st.column_config.NumberColumn("mean life-years", format="%.3f"),
            "p_cost_effective": st.column_config.NumberColumn(
                f"P(cost-effective) at {currency} {wtp:,.0f}", format="percent"
            ),
        },
    )
    left, right = st.columns(2)
    with left:
        st.markdown(
            "**Cost-effectiveness plane** (each small dot one draw; × their mean; large dot the "
            "model at the calibrated point)"
        )
        st.pyplot(tidy(figures.ce_plane(psa.point, psa.reference, wtp, currency, psa.ce_plane())))
    with right:
        st.markdown("**Acceptability curve and frontier** (CEAC / CEAF)")
        st.pyplot(tidy(plots.ceac_figure(psa.ceac, currency=currency)))
    left, right = st.columns(2)
    with left:
        st.markdown(
            f"**Tornado**: incremental net monetary benefit of '{md(psa.focal)}' vs '{md(psa.reference)}' "
            f"at {md(currency)} {psa.willingness_to_pay:,.0f}/QALY (one-way ranges of the scenario)"
        )
        if len(psa.tornado):
            st.pyplot(tidy(plots.tornado_figure(psa.tornado, outcome_label=f"incremental NMB [{currency}]")))
        else:
            st.caption("No one-way ranges in the scenario ([[economics.uncertainty]]), so no tornado.")
    with right:
        st.markdown("**Expected value of perfect information** per patient")
        st.pyplot(tidy(plots.evpi_figure(psa.evpi, currency=currency)))
    left, right = st.columns(2)
    with left:
        st.markdown(
            f"**EVPPI** per patient at {md(currency)} {psa.willingness_to_pay:,.0f}/QALY "
            "(which uncertainty is worth resolving)"
        )
        labels = getattr(psa, "labels", {}) or {}
        table = psa.evppi.assign(input=psa.evppi["parameter"].map(lambda p: labels.get(p, p)))
        st.dataframe(
            table[["input", "parameter", "evppi", "evppi_se", "evpi"]],
            hide_index=True,
            width="stretch",
            key="psa_evppi",
            column_config={
                c: st.column_config.NumberColumn(format=f"{currency} %.0f") for c in ("evppi", "evppi_se", "evpi")
            },
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
                f"price at which the ICER equals {md(currency)} {psa.willingness_to_pay:,.0f}/QALY",
                f"{md(currency)} {psa.value_based_price:,.0f}",
            )
    if getattr(psa, "physics", None) is not None:
        render_physics_uncertainty(psa, currency)


def render_physics_uncertainty(psa: Any, currency: str) -> None:
    """Which uncertain inputs drive the decision (the PSA's own answer and ranking, with labels) and the
    structural alternatives side by side (:attr:`PSAResult.drivers`, :attr:`PSAResult.structural`)."""
    st.subheader("Which uncertain inputs drive the decision")
    st.info("\n\n".join(psa.drivers_text()))
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
            f"**Structural alternatives** ('{psa.focal}' vs '{psa.reference}'; the same draws with one structural "
            "choice held fixed)"
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
        + "; ".join(f"{r.arm}: {', '.join(r.dims + r.weak) or 'no input moves it'}" for r in psa.physics.reports)
    )
