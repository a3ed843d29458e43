"""Compare scenarios: up to four side by side, one table of headline answers and one cost-effectiveness
plane, at the session's one willingness to pay.

Choices: the current scenario (at the session's MHT price), the same at another price, the new arm replaced
by MHT + CDT + RT, best supportive care as the comparator, the bundled presets and an uploaded file. The runs
are made in the worker (:func:`mhtcdt.decision.run.compare.run_scenarios`; scenarios that differ only in
price share one trial).
"""

from __future__ import annotations

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md
from mhtcdt.errors import InputError

MAX = 4


def _choices(scenario, price: float, cut_price: float) -> dict[str, object]:
    """Label -> a function building the scenario (built only when chosen)."""
    from mhtcdt.decision.model.whatif import with_price
    from mhtcdt.decision.run import compare
    from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario_text, scenario_text

    cur = scenario.economics.currency
    choices = {
        "current scenario": lambda: with_price(scenario, price),
        f"price {cur} {cut_price:,.0f}": lambda: with_price(scenario, cut_price),
        "CDT added: MHT + CDT + RT as the new arm": lambda: compare.arm_variant(with_price(scenario, price)),
        "best supportive care as the comparator": lambda: compare.comparator_variant(with_price(scenario, price)),
    }
    for name in bundled_scenarios():
        choices[f"preset {name}"] = lambda name=name: parse_scenario_text(scenario_text(name), source=name)
    return choices


def render() -> None:
    st.title("Compare scenarios")
    scenario = state.get_scenario()
    st.caption(
        f"Up to {MAX} scenarios side by side, each with its own probabilistic analysis, at one willingness to pay."
    )
    state.decision_controls()
    price = state.mht_price()
    c1, c2 = st.columns([2, 1])
    cut = c2.number_input(
        f"price of the 'price' variant [{md(scenario.economics.currency)}]",
        min_value=0.0,
        value=round(0.5 * scenario.economics.costs.mht_course, -2),
        step=500.0,
        format="%.0f",
        key="compare_cut_price",
    )
    choices = _choices(scenario, price, cut)
    labels = list(choices)
    chosen = c1.multiselect(
        "scenarios", labels, default=labels[:4], max_selections=MAX, key="compare_choice",
        help="The first is shown first; scenarios that differ only in price share one virtual trial.",
    )  # fmt: skip
    upload = st.file_uploader("…and/or your own scenario file (TOML)", type=["toml"], key="compare_upload")
    with state.guard():
        from mhtcdt.decision.scenario.loading import parse_scenario_text, scenario_to_toml

        labelled = [(label, choices[label]()) for label in chosen]
        if upload is not None and len(labelled) < MAX:
            try:
                text = upload.getvalue().decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(upload.name, "<bytes>", "the file is not UTF-8 text") from None
            labelled.append((f"file {upload.name}", parse_scenario_text(text, upload.name)))
        if not labelled:
            st.info("Choose at least one scenario.")
            return
        texts = [(label, scenario_to_toml(sc)) for label, sc in labelled]
        key = "compare-" + state.input_key(texts)
        known = state.job_manager().status(key)
        if known is None and not st.button("Compare", type="primary", key="compare_run"):
            st.caption(f"{len(texts)} scenario(s) chosen: press Compare to run them in the background.")
            return
        runs = state.run_job(key, "mhtcdt.app.tasks:compare_task", texts, label="Running the scenarios")
        if runs is None:
            return
        _show(runs)


def _show(runs) -> None:
    from mhtcdt.decision.model.whatif import apply
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report.decision_html import comparison_table
    from mhtcdt.decision.report.headline import build_headline
    from mhtcdt.decision.run.compare import ScenarioRun, unpriced_agents

    wtp = state.willingness_to_pay()
    session_currency = state.get_scenario().economics.currency
    at_wtp = []
    for r in runs:  # the session's WTP is in the session scenario's currency: other currencies keep their own
        same = r.scenario.economics.currency == session_currency
        moved = apply(r.result, r.psa, willingness_to_pay=wtp if same else None)
        at_wtp.append(ScenarioRun(r.label, moved.scenario, moved.result, moved.psa, r.shared_with))
    headlines = [build_headline(r.result, r.psa, population=state.population()) for r in at_wtp]
    table = comparison_table(at_wtp, headlines)
    st.dataframe(table, hide_index=True, width="stretch", key="comparison_table")
    for r in at_wtp:
        for warning in unpriced_agents(r.scenario):
            st.caption(md(warning))
    for fig in dfig.comparison_planes(at_wtp, headlines).values():  # one per currency, each scenario at its WTP
        st.pyplot(fig, width="stretch")
    for r, h in zip(at_wtp, headlines, strict=True):
        shared = f" (same trial as '{r.shared_with}', re-costed)" if r.shared_with else ""
        st.markdown(f"**{md(r.label)}**{md(shared)}: {md(h.verdict)}. {md(h.agreement)}")


if __name__ == "__main__":
    render()
