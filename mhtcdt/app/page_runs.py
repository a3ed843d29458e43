"""Recorded runs page: the results store (:mod:`mhtcdt.decision.run.store`) — every run recorded from the
command line or from this app, with its provenance and stored tables, and two runs side by side.

The page only opens stores in the configured folder (:func:`mhtcdt.decision.run.store.store_folder`: that
of ``$MHTCDT_STORE``, or the user's ``~/.local/share/mhtcdt``), chosen from a list; it never takes a
path typed by a user, so it cannot open, or put a lock file next to, any other file of the server. It
only reads the stores (shared lock), so it can stay open while runs are being recorded. The comparison
matches the rows of each table by their keys (:mod:`mhtcdt.decision.run.run_comparison`), with
plain-language headers and formatted numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mhtcdt.app.text import code_span, md
from mhtcdt.decision.run import run_comparison, store
from mhtcdt.errors import InputError, InputErrors


def _show_problem(exc: InputError | InputErrors) -> None:
    for line in exc.lines() if isinstance(exc, InputErrors) else [exc.line()]:
        st.error(md(line), icon=":material/warning:")


def stores_in_folder(folder: Path) -> list[Path]:
    """The DuckDB results stores directly in ``folder`` (regular files starting like a DuckDB database)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.duckdb") if store.is_store_file(p))


def _runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The list of runs with plain-language headers."""
    return pd.DataFrame(
        {
            "run": runs["run_id"],
            "status": runs["status"],
            "scenario": runs["scenario_name"].fillna(""),
            "seed": runs["seed"],
            "started (UTC)": runs["started_utc"].dt.strftime("%Y-%m-%d %H:%M"),
            "duration [s]": runs["duration_s"].round(1),
            "recorded by": runs["command"].fillna("").str.split().str[:2].str.join(" "),
            "tables": runs["n_tables"],
        }
    )


def _run_detail(run_id: str, db: Path) -> None:
    run = store.get_run(run_id, db)
    shown = ("scenario_text", "summary_text", "timings_json")
    provenance = {k: v for k, v in run.items() if k not in shown and v is not None}
    c1, c2, c3 = st.columns(3)
    c1.metric("status", run["status"])
    c2.metric("seed", run["seed"])
    c3.metric("duration", f"{run['duration_s']:.1f} s" if run["duration_s"] is not None else "—")
    if run["verdict"]:
        st.info(md(run["verdict"]))
    if run["error"]:
        st.error(f"Run failed: {md(run['error'])}")
    with st.expander("Provenance (everything needed to reproduce the run)"):
        st.dataframe(
            pd.DataFrame({"field": list(provenance), "value": [str(v) for v in provenance.values()]}),
            hide_index=True,
            width="stretch",
        )
    with st.expander("Scenario as run"):
        st.code(run["scenario_text"], language="toml")
    if run.get("summary_text"):
        with st.expander("Summary as printed"):
            st.code(run["summary_text"], language=None)
    tables = store.run_tables(run_id, db)
    if tables.empty:
        st.caption("No result tables stored for this run.")
        return
    name = st.selectbox("result table", list(tables["table_name"]), key="runs_table")
    table = store.load_table(run_id, name, db)
    st.dataframe(table, hide_index=True, width="stretch", key="runs_table_view")
    from mhtcdt.decision.report.cells import spreadsheet_safe

    st.download_button(
        f"Download {md(name)}.csv",
        spreadsheet_safe(table).to_csv(index=False).encode("utf-8"),
        file_name=f"{run_id}-{name}.csv",
        mime="text/csv",
        key="runs_download",
    )


def _comparison(run_a: str, run_b: str, db: Path) -> None:
    cmp = store.compare_runs(run_a, run_b, db)
    meta = cmp.metadata
    differing = meta[~meta["same"]].drop(columns="same")
    st.markdown("**What differs between the two runs**")
    st.dataframe(differing, hide_index=True, width="stretch", key="runs_compare_meta")
    if cmp.scenario_diff:
        st.markdown("**Scenario differences** (lines starting with - are run A's, + run B's)")
        st.code(cmp.scenario_diff, language="diff")
    else:
        st.caption("Identical scenario text.")
    show_all = st.toggle("Show the values that are the same too", key="runs_compare_all")
    for name, table in cmp.tables.items():
        rows = table if show_all else run_comparison.changed(table)
        n_changed = len(run_comparison.changed(table))
        st.markdown(f"**{md(cmp.titles[name])}**: {n_changed} of {len(table)} values differ")
        if len(rows):
            st.dataframe(run_comparison.readable(rows), hide_index=True, width="stretch", key=f"runs_diff_{name}")
    for name, why in cmp.not_compared.items():
        st.caption(f"{md(name)}: not compared ({md(why)})")
    for label, names in (("only in run A", cmp.only_in_a), ("only in run B", cmp.only_in_b)):
        if names:
            st.caption(f"Tables {label}: {md(', '.join(names))}")


def render() -> None:
    """Draw the page."""
    st.title("Recorded runs")
    st.caption(
        "Every `mhtcdt run` / `mhtcdt demo` and every run started in this app is kept with its scenario, "
        "seed, package version, git commit and executor, so any result can be traced and reproduced."
    )
    folder = store.store_folder()
    stores = stores_in_folder(folder)
    if not stores:
        st.info(
            f"No runs recorded yet in {code_span(folder)}. Open a results page of the app, or run "
            "`mhtcdt demo` or `mhtcdt run SCENARIO.toml`."
        )
        return
    default = store.default_store_path()
    index = stores.index(default) if default in stores else 0
    db = st.selectbox("results store", stores, index=index, format_func=lambda p: p.name, key="runs_store_choice")
    st.caption(f"Results stores in {code_span(folder)}.")
    try:
        show_failed = st.toggle("Show failed attempts", key="runs_show_failed")
        runs = store.list_runs(db, include_failed=show_failed)
        if runs.empty:
            st.info("No completed run in this store yet." + ("" if show_failed else " (Failed attempts are hidden.)"))
            return
        st.dataframe(_runs_table(runs), hide_index=True, width="stretch", key="runs_list")
        ids = list(runs["run_id"])
        tab_one, tab_two = st.tabs(["One run", "Compare two runs"])
        with tab_one:
            _run_detail(st.selectbox("run", ids, key="runs_selected"), db)
        with tab_two:
            if len(ids) < 2:
                st.caption("Record a second run to compare.")
            else:
                c1, c2 = st.columns(2)
                run_a = c1.selectbox("run A", ids, index=1, key="runs_a")
                run_b = c2.selectbox("run B", ids, index=0, key="runs_b")
                _comparison(run_a, run_b, db)
    except (InputError, InputErrors) as exc:
        _show_problem(exc)


if __name__ == "__main__":
    render()
