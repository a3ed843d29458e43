"""Runs page: the results store (:mod:`mhtcdt.decision.run.store`) — every recorded run with its provenance,
its stored result tables, and a side-by-side comparison of two runs.

The store path comes from the text box (key ``runs_store``), defaulting to ``$MHTCDT_STORE`` or
``mhtcdt-results/runs.duckdb``. The page only reads the store (shared lock), so it can stay open
while runs are being recorded.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mhtcdt.app.text import code_span, md
from mhtcdt.decision.run import store
from mhtcdt.errors import InputError, InputErrors


def _show_problem(exc: InputError | InputErrors) -> None:
    for line in exc.lines() if isinstance(exc, InputErrors) else [exc.line()]:
        st.error(md(line), icon="⚠️")


def _run_detail(run_id: str, db: Path) -> None:
    run = store.get_run(run_id, db)
    provenance = {k: v for k, v in run.items() if k not in ("scenario_text",) and v is not None}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("status", run["status"])
    c2.metric("seed", run["seed"])
    c3.metric("duration", f"{run['duration_s']:.1f} s" if run["duration_s"] is not None else "—")
    c4.metric("executor", run["executor"] or "—")
    if run["verdict"]:
        st.info(md(run["verdict"]))
    if run["error"]:
        st.error(f"Run failed: {md(run['error'])}")
    with st.expander("Provenance (everything needed to reproduce the run)"):
        st.table({"field": list(provenance), "value": [str(v) for v in provenance.values()]})
    with st.expander("Scenario as run"):
        st.code(run["scenario_text"], language="toml")
    tables = store.run_tables(run_id, db)
    if tables.empty:
        st.caption("No result tables stored for this run.")
        return
    name = st.selectbox("result table", list(tables["table_name"]), key="runs_table")
    table = store.load_table(run_id, name, db)
    st.dataframe(table, hide_index=True, width="stretch", key="runs_table_view")
    st.download_button(
        f"Download {md(name)}.csv",
        table.to_csv(index=False).encode("utf-8"),
        file_name=f"{run_id}-{name}.csv",
        mime="text/csv",
        key="runs_download",
    )


def _comparison(run_a: str, run_b: str, db: Path) -> None:
    cmp = store.compare_runs(run_a, run_b, db)
    st.dataframe(cmp.metadata, hide_index=True, width="stretch", key="runs_compare_meta")
    if cmp.scenario_diff:
        st.markdown("**Scenario differences**")
        st.code(cmp.scenario_diff, language="diff")
    else:
        st.caption("Identical scenario text.")
    for name, diff in cmp.tables.items():
        changed = diff[(diff["difference"].abs() > 0) | diff["difference"].isna()]
        st.markdown(f"**{md(name)}**: {len(changed)} of {len(diff)} numeric values differ")
        if len(changed):
            st.dataframe(changed, hide_index=True, width="stretch", key=f"runs_diff_{name}")
    for label, names in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b)):
        if names:
            st.caption(f"Tables {label}: {md(', '.join(names))}")


def render() -> None:
    """Draw the page."""
    st.title("Recorded runs")
    st.caption(
        "Every `mhtcdt run` / `mhtcdt demo` is kept with its scenario, seed, package version, "
        "git commit and executor, so any result can be traced and reproduced."
    )
    if not st.session_state.get("runs_store"):
        st.session_state["runs_store"] = str(store.default_store_path())
    db = Path(st.text_input("results store (DuckDB file)", key="runs_store"))
    if not db.exists():
        st.info(f"No runs recorded yet at {code_span(db)}. Run `mhtcdt demo` or `mhtcdt run SCENARIO.toml`.")
        return
    try:
        status = st.selectbox("status", ["all", *store.STATUSES], key="runs_status")
        runs = store.list_runs(db, status=None if status == "all" else status)
        if runs.empty:
            st.info("No run with this status.")
            return
        shown = runs[
            [
                "run_id",
                "status",
                "scenario_name",
                "seed",
                "started_utc",
                "duration_s",
                "executor",
                "n_tables",
                "git_commit",
            ]
        ]
        st.dataframe(shown, hide_index=True, width="stretch", key="runs_list")
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
