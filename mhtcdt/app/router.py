"""The Streamlit router: ``st.navigation`` over one thin page module per task.

Run it directly (``python -m streamlit run mhtcdt/app/router.py``, which is what ``mhtcdt app``
does) or through ``streamlit run streamlit_app.py``. Pages are file-based ``st.Page`` objects
given by absolute path, so they resolve the same whichever of the two scripts is the main one.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent.parent
if str(_ROOT) not in sys.path:  # a plain checkout, not pip-installed: make ``import mhtcdt`` work
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

# (file, title, icon, url_path): the order of the sidebar and of a meeting.
PAGES: list[tuple[str, str, str, str]] = [
    ("page_answer.py", "The answer", ":material/traffic:", "answer"),
    ("page_scenario.py", "Scenario", ":material/tune:", "scenario"),
    ("page_patients.py", "Patients", ":material/groups:", "patients"),
    ("page_physics.py", "Treatment physics", ":material/device_thermostat:", "physics"),
    ("page_trial.py", "Virtual trial", ":material/monitoring:", "trial"),
    ("page_economics.py", "Cost-effectiveness", ":material/payments:", "economics"),
    ("page_price.py", "Price and threshold", ":material/sell:", "price"),
    ("page_subgroups.py", "For whom", ":material/person_search:", "for-whom"),
    ("page_compare.py", "Compare scenarios", ":material/compare:", "compare"),
    ("page_trial_value.py", "Value of a trial", ":material/science:", "trial-value"),
    ("page_report.py", "Report", ":material/description:", "report"),
    ("page_runs.py", "Recorded runs", ":material/history:", "runs"),
]


#: Streamlit keeps the sidebar open over the page after a navigation link is tapped on a phone (it covers the
#: whole screen there). After a page change this script, run in the page (not in an iframe), closes it when the
#: window is narrower than Streamlit's own mobile breakpoint (640 px); on wider screens it does nothing.
_CLOSE_SIDEBAR_ON_PHONES = """<script>
(() => {
  if (window.innerWidth >= 640) return;
  const sidebar = document.querySelector("[data-testid='stSidebar']");
  if (!sidebar || sidebar.getBoundingClientRect().right <= 20) return;
  const close = sidebar.querySelector("[data-testid='stSidebarCollapseButton'] button, "
    + "[data-testid='stSidebarHeader'] button");
  if (close) close.click();
})();
</script>"""
_LAST_PAGE_KEY = "_last_page"
#: key prefix of the empty container drawn after a page's script run is over (every job it waited for finished,
#: every section drawn): ``page_ready__<page title as a word>__<script-run number>``. Streamlit gives it the CSS
#: class ``st-key-<key>``; the browser test waits on it instead of a fixed wall time (no HTML is rendered).
READY_KEY_PREFIX = "page_ready__"


def _close_sidebar_after_navigation(selected) -> None:
    """Close the sidebar on a phone when the page has just changed (not on reruns of the same page)."""
    from mhtcdt.app import state

    last = st.session_state.get(_LAST_PAGE_KEY)
    st.session_state[_LAST_PAGE_KEY] = selected.url_path
    if last is not None and last != selected.url_path:
        run = st.session_state.get(state.RUN_COUNTER_KEY, 0)
        # a new container each time (keyed by the run number): the browser mounts the script anew and runs it
        with st.container(height=1, border=False, key=f"close_sidebar_{run}"):  # takes no room on the page
            st.html(_CLOSE_SIDEBAR_ON_PHONES, unsafe_allow_javascript=True)


def main() -> None:
    """Configure the page, register the pages and run the selected one."""
    st.set_page_config(
        page_title="mhtcdt: MHT-CDT decision support",
        page_icon=":material/thermostat:",
        layout="wide",
        initial_sidebar_state="auto",  # collapsed on phones, open on wide screens
    )
    import matplotlib

    # Arm and scenario names reach figure labels: '$' in a name must be a dollar sign, not the start of
    # a mathtext formula (a malformed one would make every figure of that scenario fail to draw).
    matplotlib.rcParams["text.parse_math"] = False
    from mhtcdt.app import state

    state.new_script_run()
    pages = [
        st.Page(_HERE / file, title=title, icon=icon, url_path=url, default=(i == 0))
        for i, (file, title, icon, url) in enumerate(PAGES)
    ]
    selected = st.navigation(pages)
    _close_sidebar_after_navigation(selected)
    from mhtcdt.app.sidebar import render_sidebar

    with state.guard():  # the answer is computed as soon as the app opens, whichever page is shown first
        state.prefetch()
    try:
        with state.guard():  # the last line of defence: any unexpected error becomes a message, not a traceback
            selected.run()
    finally:  # drawn after the page so that it shows the state the page has just produced
        render_sidebar()
        _mark_ready(selected)


def _mark_ready(selected) -> None:
    """Draw the page-ready marker (:data:`READY_KEY_PREFIX`) at the end of the sidebar: it appears only when this
    script run has drawn the whole page."""
    import re

    from mhtcdt.app import state

    run = int(st.session_state.get(state.RUN_COUNTER_KEY, 0))
    page = re.sub(r"\W+", "_", str(selected.title))
    with st.sidebar, st.container(height=1, border=False, key=f"{READY_KEY_PREFIX}{page}__{run}"):
        st.caption("\u200b")  # a zero-width space: the container is drawn, nothing shows


if __name__ == "__main__":
    main()
