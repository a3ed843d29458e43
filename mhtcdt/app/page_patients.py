"""Patients page: covariate distributions of the virtual cohort and the selection-criteria editor.

The CONSORT funnel updates as the criteria are typed (:func:`mhtcdt.cohorts.apply_criteria`);
a criterion the safe parser rejects is shown in the page with the offending token, and the
scenario keeps its last valid criteria. Valid criteria become the scenario's criteria.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md
from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria
from mhtcdt.decision.report import figures
from mhtcdt.decision.report.criteria_text import consort_display
from mhtcdt.decision.report.labels import significant
from mhtcdt.errors import InputError, InputErrors

# Covariates worth showing first, with readable labels (others are listed after them).
LABELS = {
    "age_years": "age [years]",
    "kps": "Karnofsky performance status",
    "tumour_volume_cm3": "tumour volume [cm³]",
    "eloquent_location": "eloquent / deep location",
    "mgmt_methylated": "MGMT promoter methylated",
    "sex": "sex",
    "months_since_diagnosis": "time since diagnosis [months]",
    "tumour_perfusion_mL_per_min_per_kg": "tumour perfusion [mL/min/kg]",
    "gsh_mM": "intracellular glutathione [mM]",
    "h2o2_production_uM_per_s": "H₂O₂ production [µM/s]",
    "ph_extracellular": "extracellular pH",
    "deposit_coverage_fraction": "nanoparticle deposit coverage [fraction of tumour]",
    "metal_implant": "metal implant near the field",
    "pacemaker": "pacemaker",
}
_HIDDEN = {"patient_id", "indication", "tissue"}


def _describe(x: pd.Series) -> str:
    """Median [IQR] (numeric), % true (boolean) or level shares (categorical) of one covariate."""
    if len(x) == 0:
        return "—"
    if pd.api.types.is_bool_dtype(x):
        return f"{100 * x.mean():.0f} %"
    if pd.api.types.is_numeric_dtype(x):
        median, q1, q3 = (significant(float(v)) for v in (x.median(), x.quantile(0.25), x.quantile(0.75)))
        return f"{median} [{q1}–{q3}]"
    return ", ".join(f"{k} {100 * v:.0f} %" for k, v in x.value_counts(normalize=True).items())


def _summary(screened: pd.DataFrame, eligible: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Display table of each covariate, screened vs eligible (see :func:`_describe`)."""
    return pd.DataFrame(
        [
            {
                "covariate": LABELS.get(c, c),
                "screened": _describe(screened[c]),
                "eligible": _describe(eligible[c]),
            }
            for c in columns
        ]
    )


def column_list(frame: pd.DataFrame) -> str:
    """The cohort's columns as wrapping Markdown: ``name`` (kind), separated by middle dots."""

    def kind(dtype) -> str:
        if pd.api.types.is_bool_dtype(dtype):
            return "yes/no"
        if pd.api.types.is_numeric_dtype(dtype):
            return "number"
        return "text"

    return " · ".join(f"`{c}` ({kind(t)})" for c, t in zip(frame.columns, frame.dtypes, strict=True))


def show_criteria_problems(exc: InputError | InputErrors) -> None:
    """Every bad criterion at once, each with its caret under the offending token (the list of columns is
    shown once, under *Columns you can use*, not after every error)."""
    errors = exc.errors if isinstance(exc, InputErrors) else [exc]
    lines = []
    for e in errors:
        message = e.message.split("\nknown columns:")[0]
        where = re.sub(r"^criteria\[(\d+)\]", lambda m: f"line {int(m[1]) + 1}", e.field)
        lines.append(f"{where} = {e.value!r}: {message}")
    state.show_input_lines(lines)


def render() -> None:
    st.title("Patients")
    scenario = state.get_scenario()
    st.caption(
        f"Virtual {md(scenario.cohort.indication.replace('_', ' '))} patients "
        f"({scenario.cohort.n_screened:,} screened, seed {scenario.seed}); the same patients the trial uses."
    )
    try:
        screened = state.screened_cohort(scenario.cohort.indication, scenario.cohort.n_screened, scenario.seed)
        if len(screened) < scenario.cohort.n_screened:
            st.info(
                f"Preview: the first {len(screened):,} of the {scenario.cohort.n_screened:,} screened patients "
                "(the same patients as in the trial; the trial itself uses all of them)."
            )
    except Exception as exc:  # noqa: BLE001 - shown in the page, never as a traceback
        state.show_problem(exc)
        return

    alerts = st.container()  # messages about the typed criteria, above the editor and the funnel
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Selection criteria")
        st.caption(
            "One criterion per line, applied in order, e.g. `kps >= 70`, `not metal_implant`, "
            "`tumour_volume_cm3 <= 50 and age_years < 75`. Columns are listed under *Columns*."
        )
        text = st.text_area(
            "criteria",
            "\n".join(scenario.cohort.criteria),
            height=180,
            key=f"v{state.scenario_version()}.criteria",
            label_visibility="collapsed",
        )
        criteria = [line.strip() for line in text.splitlines() if line.strip()]
        with st.expander("Columns you can use"):
            st.markdown(column_list(screened))

    def select(crit: list[str]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EmptySelectionWarning)
            sel = apply_criteria(screened, crit)
        return sel, any(isinstance(w.message, EmptySelectionWarning) for w in caught)

    try:
        selection, empty = select(criteria)
    except (InputError, InputErrors) as exc:
        with alerts:
            show_criteria_problems(exc)
            st.info("The scenario keeps its last valid criteria (their funnel is shown) until this is fixed.")
        criteria = list(scenario.cohort.criteria)
        try:
            selection, empty = select(criteria)
        except (InputError, InputErrors):
            return  # the scenario's own criteria are invalid too: the Scenario page lists the problems

    if selection is not None:
        if criteria != list(scenario.cohort.criteria):
            new_cohort = scenario.cohort.model_copy(update={"criteria": criteria})
            state.set_scenario(scenario.model_copy(update={"cohort": new_cohort}))
            scenario = state.get_scenario()
        with right:
            st.subheader("CONSORT flow")
            n_elig = int(selection.flow["remaining"].iloc[-1])
            c1, c2, c3 = st.columns(3)
            c1.metric("screened", f"{len(screened):,}")
            c2.metric("eligible", f"{n_elig:,}")
            c3.metric("eligible share", f"{100 * n_elig / max(1, len(screened)):.0f} %")
            if empty or n_elig == 0:
                st.warning(
                    "No patient meets every criterion: the trial cannot run. Relax a criterion.",
                    icon=":material/warning:",
                )
            st.pyplot(figures.consort_funnel(selection.flow), clear_figure=False)
            st.dataframe(
                consort_display(selection.flow),
                hide_index=True,
                width="stretch",
                key="consort_table",
                column_config={
                    "as written in the scenario": st.column_config.TextColumn(
                        help="The exact criterion expression of the scenario file (what the Criteria box edits)."
                    )
                },
            )

        st.subheader("Covariate distributions")
        columns = [c for c in LABELS if c in screened.columns] + [
            c for c in screened.columns if c not in LABELS and c not in _HIDDEN
        ]
        c1, c2 = st.columns([1, 1])
        with c1:
            col = st.selectbox("covariate", columns, format_func=lambda c: LABELS.get(c, c), key="covariate")
            st.pyplot(figures.covariate_distribution(screened, selection.eligible, col, LABELS.get(col, col)))
        with c2:
            st.dataframe(_summary(screened, selection.eligible, columns), hide_index=True, width="stretch", height=520)


if __name__ == "__main__":
    render()
