"""Value of a trial page: is a randomised trial worth running, and how big?

The expected value of sample information of randomised trials of the scenario's arms, the expected net benefit of
sampling over sample sizes (and endpoints), the optimal number of patients with its band, and the value of the
closed MF1001 design: :func:`mhtcdt.decision.trial.trial_value.trial_value` on the run and its PSA (in the worker
process, once per distinct input), shown with :mod:`mhtcdt.decision.report.trial_value`. Nothing is estimated here.
"""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import psa_view, state
from mhtcdt.app.text import md
from mhtcdt.decision.report import trial_value as report

SIZES = (50, 100, 200, 300, 400, 600, 800, 1000)
DEFAULT_SIZES = (100, 200, 400, 800)
ENDPOINTS = ("OS", "PFS", "OS@12")


def _request(scenario, psa):
    """The request of the page's widgets (keys ``tv_*``)."""
    from mhtcdt.decision.trial import study_design as sd
    from mhtcdt.decision.trial.trial_value import TrialValueRequest, defaults
    from mhtcdt.economics.evsi import DecisionPopulation, TrialCost

    d = defaults(scenario.economics)
    cur = md(scenario.economics.currency)  # widget labels and help texts render Markdown
    c1, c2, c3 = st.columns(3)
    sizes = c1.multiselect("patients randomised (total)", SIZES, default=DEFAULT_SIZES, key="tv_sizes")
    endpoints = c2.multiselect(
        "endpoints (designs)",
        ENDPOINTS,
        default=("OS",),
        key="tv_endpoints",
        help="OS and PFS: log-rank test; OS@12: survival rate at 12 months (MF1001's primary endpoint).",
    )
    wtp = c3.number_input(
        f"willingness to pay [{cur}/QALY]",
        min_value=1.0,
        value=state.willingness_to_pay(),  # the session's one WTP (sidebar) until changed here
        step=5000.0,
        key="tv_wtp",
    )
    c1, c2, c3 = st.columns(3)
    price = c1.number_input(
        f"MHT course price [{cur}]",
        min_value=0.0,
        value=state.mht_price(),  # the session's MHT price (sidebar) until changed here
        step=1000.0,
        key="tv_price",
        help=f"The PSA's value-based price is {cur} {psa.value_based_price:,.0f}."
        if psa.value_based_price is not None
        else None,
    )
    fixed = c2.number_input(
        f"trial fixed cost [{cur}]", min_value=0.0, value=float(round(d.fixed_cost)), key="tv_fixed"
    )
    per = c3.number_input(
        f"trial cost per patient [{cur}]", min_value=0.0, value=float(round(d.per_patient_cost)), key="tv_per"
    )
    c1, c2, c3 = st.columns(3)
    patients = c1.number_input(
        "patients per year", min_value=1.0, value=float(round(d.patients_per_year)), key="tv_population"
    )
    horizon = c2.number_input("decision horizon [years]", min_value=1.0, max_value=200.0, value=d.horizon_years)
    cross = c3.checkbox(
        "cross-checks (moment matching, importance sampling)",
        value=False,
        key="tv_cross",
        help="Extra simulated trials per parameter state; slower.",
    )
    designs = tuple(sd.with_endpoint(sd.StudyDesign(), e) for e in endpoints) or (sd.StudyDesign(),)
    methods = ("regression", "importance_sampling", "moment_matching") if cross else ("regression",)
    return TrialValueRequest(
        designs=designs,
        sample_sizes=tuple(int(n) for n in sorted(sizes)) or DEFAULT_SIZES,
        willingness_to_pay=float(wtp),
        price=float(price),
        population=DecisionPopulation(float(patients), float(horizon), float(scenario.economics.discount_costs)),
        trial_cost=TrialCost(float(fixed), float(per)),
        methods=methods,
        n_bootstrap=50,
    )


def render() -> None:
    st.title("Value of a trial")
    scenario = state.get_scenario()
    st.caption(
        "Is a randomised trial of the scenario's arms worth running, and how big? The expected "
        "value of sample information of virtual trials simulated from the model's uncertainty, minus what a "
        "trial costs. Every number is a model prediction: there is no randomised NanoTherm evidence."
    )
    result = state.pipeline_result(scenario)
    if result is None:
        return
    psa = psa_view.psa_result(scenario, result)
    if psa is None:
        return
    request = _request(scenario, psa)
    key = "trial-value-" + state.input_key(state.scenario_toml(scenario), scenario.seed, repr(request))
    tv = state.run_job(key, "mhtcdt.app.tasks:trial_value_task", result, psa, request, label="Value of a trial")
    if tv is None:
        return
    st.session_state["trial_value"] = tv  # the result on show (read by the tests and other pages)
    best = tv.best()
    cur = md(tv.currency)
    st.info(md(tv.verdict()), icon=":material/science:")
    k = st.columns(4)
    k[0].metric(
        "optimal patients",
        "no trial" if int(best["n_optimal"]) == 0 else f"{int(best['n_optimal'])}",
        help=f"95% band {int(best['band_low'])}-{int(best['band_high'])} (bootstrap over PSA draws).",
    )
    k[1].metric("ENBS at the optimum", f"{cur} {best['enbs']:,.0f}", help=f"SE {best['enbs_se']:,.0f}")
    k[2].metric("EVPPI per patient", f"{cur} {tv.evppi:,.0f}", help="Of the inputs a trial informs: the ceiling.")
    if tv.mf1001 is not None:
        m = tv.mf1001.iloc[0]
        k[3].metric(
            "MF1001 design: EVSI per patient",
            f"{cur} {m['evsi']:,.1f}",
            help=f"{int(m['n_patients'])} patients, three arms, 12-month survival; SE {m['evsi_se']:,.1f}; "
            f"ENBS {cur} {m['enbs']:,.0f}.",
        )
    st.pyplot(report.enbs_figure(tv), width="content")
    st.dataframe(report.optimal_table(tv), hide_index=True, width="stretch", key="tv_optimal")
    st.pyplot(report.evsi_figure(tv), width="content")
    st.dataframe(report.curve_table(tv), hide_index=True, width="stretch", key="tv_curve")
    for note in tv.notes:
        st.caption(md(note))


if __name__ == "__main__":
    render()
