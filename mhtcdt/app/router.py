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
    ("page_report.py", "Report", ":material/description:", "report"),
    ("page_runs.py", "Recorded runs", ":material/history:", "runs"),
]


def main() -> None:
    """Configure the page, register the pages and run the selected one."""
    st.set_page_config(
        page_title="mhtcdt: MHT-CDT decision support",
        page_icon=":material/thermostat:",
        layout="wide",
        initial_sidebar_state="auto",  # collapsed on phones, open on wide screens
    )
    from mhtcdt.app import state

    state.new_script_run()
    pages = [
        st.Page(_HERE / file, title=title, icon=icon, url_path=url, default=(i == 0))
        for i, (file, title, icon, url) in enumerate(PAGES)
    ]
    selected = st.navigation(pages)
    from mhtcdt.app.sidebar import render_sidebar

    with state.guard():  # the answer is computed as soon as the app opens, whichever page is shown first
        state.prefetch()
    try:
        with state.guard():  # the last line of defence: any unexpected error becomes a message, not a traceback
            selected.run()
    finally:  # drawn after the page so that it shows the state the page has just produced
        render_sidebar()


if __name__ == "__main__":
    main()
