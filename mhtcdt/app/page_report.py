"""Report page: download the run's tables (CSV/XLSX), figures (PNG/SVG) and a CHEERS 2022 HTML report."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md
from mhtcdt.decision.extras import MissingExtra
from mhtcdt.decision.report import figures, html, tables, workbook
from mhtcdt.decision.report.criteria_text import consort_display
from mhtcdt.decision.report.labels import output_title, stakeholder_table


@st.cache_data(show_spinner=False, max_entries=8)
def _tables_files(key: str, _result: Any, _psa: Any) -> tuple[bytes, bytes | str]:
    """The CSV zip and the workbook (or, without openpyxl, the line saying which extra to install)."""
    named = tables.result_tables(_result, _psa)
    try:
        book: bytes | str = workbook.xlsx_workbook(named)
    except MissingExtra as exc:
        book = exc.message
    return tables.csv_zip(named), book


@st.cache_data(show_spinner=False, max_entries=32)
def _figure_file(key: str, name: str, fmt: str, _result: Any, _psa: Any) -> bytes:
    return figures.to_bytes(figures.result_figures(_result, _psa)[name](), fmt)


@st.cache_data(show_spinner=False, max_entries=8)
def _html(key: str, _result: Any, _psa: Any, _subgroups: Any, _population: Any, list_price: float) -> str:
    return html.build_html_report(_result, _psa, subgroups=_subgroups, population=_population, list_price=list_price)


def render() -> None:
    st.title("Report")
    scenario = state.get_scenario()
    state.decision_controls()
    decision = state.decision_results(scenario)
    if decision is None:
        return
    result, psa = decision.result, decision.psa
    from mhtcdt.app.page_subgroups import subgroups_done

    subgroups = subgroups_done(scenario)
    population = state.population()
    key = state.input_key(
        state.run_inputs_key(scenario), decision.willingness_to_pay, decision.price, subgroups is not None, population
    )
    stem = f"mhtcdt-{key[:8]}"
    st.caption(
        f"Everything at {md(decision.scenario.economics.currency)} {decision.willingness_to_pay:,.0f} per QALY and an "
        f"MHT course price of {md(decision.scenario.economics.currency)} {decision.price:,.0f} (the values of every "
        "page)." + ("" if subgroups is not None else " Open 'For whom' first to add the subgroups to the HTML report.")
    )

    st.subheader("Tables")
    with state.guard():
        zipped, xlsx = _tables_files(key, result, psa)
        c1, c2 = st.columns(2)
        c1.download_button(
            "All tables (CSV, zip)",
            zipped,
            file_name=f"{stem}-tables.zip",
            mime="application/zip",
            key="dl_csv",
        )
        if isinstance(xlsx, str):
            c2.caption(f"Excel workbook: {md(xlsx)}")
        else:
            c2.download_button(
                "All tables (Excel workbook)",
                xlsx,
                file_name=f"{stem}-tables.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key="dl_xlsx",
            )
        named = tables.result_tables(result, psa)
        name = st.selectbox("Preview a table", list(named), key="table_preview", format_func=output_title)
        st.caption(
            f"Preview with plain headers and rounded numbers; the file ({md(name)}.csv) keeps every column at full "
            "precision."
        )
        preview = (
            consort_display(named[name])
            if name == "consort"
            else stakeholder_table(named[name].head(200), decision.scenario.economics.currency)
        )
        st.dataframe(
            preview,
            hide_index=True,
            width="stretch",
            key="table_preview_data",
        )

    st.subheader("Figures")
    with state.guard():
        names = list(figures.result_figures(result, psa))
        c1, c2 = st.columns([3, 1])
        fig_name = c1.selectbox("Figure", names, key="figure_choice", format_func=output_title)
        fmt = c2.radio("Format", ["png", "svg"], horizontal=True, key="figure_format")
        data = _figure_file(key, fig_name, fmt, result, psa)
        st.download_button(
            f"Download {fig_name}.{fmt}",
            data,
            file_name=f"{stem}-{fig_name}.{fmt}",
            mime="image/png" if fmt == "png" else "image/svg+xml",
            key="dl_figure",
        )
        if fmt == "png":
            st.image(data, width=700)

    st.subheader("HTML report (CHEERS 2022)")
    with state.guard():
        page = _html(key, result, psa, subgroups, population, decision.list_price)
        st.download_button(
            "Download the HTML report",
            page.encode("utf-8"),
            file_name=f"{stem}-report.html",
            mime="text/html",
            key="dl_html",
        )
        entries = html.checklist(psa is not None)
        done = sum(e.status == html.REPORTED for e in entries)
        st.caption(
            f"CHEERS 2022: {done} of {len(entries)} items reported from the run; the others are marked "
            "'not applicable' or 'to be completed by the analyst' in the report's checklist."
        )
        with st.expander("Checklist"):
            st.dataframe(
                [{"item": e.item, "status": e.status, "where / why": e.where} for e in entries],
                hide_index=True,
                width="stretch",
            )


if __name__ == "__main__":
    render()
