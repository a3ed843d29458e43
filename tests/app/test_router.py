"""The router: every page is registered and opens; errors on results pages are in-page messages."""

from __future__ import annotations

import pytest

from mhtcdt.app.router import PAGES
from tests.app.conftest import open_page, small_scenario


def test_every_page_file_exists_and_no_pages_folder():
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "mhtcdt" / "app"
    assert not (here / "pages").exists()  # Streamlit would auto-discover a folder named pages/
    for file, *_ in PAGES:
        assert (here / file).is_file(), file
    assert len({url for *_, url in PAGES}) == len(PAGES)


def test_navigation_lists_every_page(app):
    at = app.run()
    assert not at.exception
    # The default page is the answer (the headline of the current scenario).
    assert at.title[0].value == "The answer"


def test_without_autostart_nothing_runs_until_asked(app):
    """With the automatic start off (``$MHTCDT_APP_AUTOSTART=0``), opening the app submits no job: the answer
    page offers to compute and its button turns the automatic start on for the session."""
    from mhtcdt.app import state

    sc = small_scenario(70).model_copy(update={"seed": 11})  # a scenario no other test has run
    app.session_state["scenario"] = sc
    at = app.run()
    assert not at.exception
    assert state.pipeline_status(sc) is None
    assert at.button(key="answer_start").label == "Compute the answer"
    at.switch_page("page_scenario.py").run()
    assert state.pipeline_status(sc) is None  # other pages start nothing either
    assert at.session_state[state.AUTOSTART_KEY] is False


def test_autostart_follows_the_environment(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from mhtcdt.app import state
    from tests.app.conftest import ROUTER

    for value, expected in (("0", False), ("1", True)):
        monkeypatch.setenv(state.AUTOSTART_ENV, value)
        at = AppTest.from_file(ROUTER, default_timeout=60)
        at.session_state["scenario"] = small_scenario(60).model_copy(
            update={"cohort": small_scenario(60).cohort.model_copy(update={"criteria": ["age_years < 0"]})}
        )  # a run that fails at once: autostart on costs nothing here
        at.run()
        assert at.session_state[state.AUTOSTART_KEY] is expected


@pytest.mark.parametrize(
    "page_file", ["page_answer.py", "page_trial.py", "page_economics.py", "page_price.py", "page_report.py"]
)
def test_impossible_criteria_are_an_in_page_error_on_results_pages(app, page_file):
    from mhtcdt.app import state

    sc = small_scenario(60)
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"criteria": ["age_years < 0"]})})
    app.session_state["scenario"] = sc
    app.session_state[state.AUTOSTART_KEY] = True  # as a user opens the app: the run starts (and fails) at once
    at = open_page(app, page_file)
    err = "\n".join(e.value for e in at.error)
    assert "cohort.criteria" in err and "relax the criteria" in err, err
    assert "Something went wrong" not in err


def test_the_run_starts_when_the_app_opens(app):
    """Whichever page opens first, the current scenario's run starts in the background at once (the headline
    answer is ready sooner), then its PSA; the sidebar says when the results are ready."""
    from mhtcdt.app import psa_view, state

    sc = small_scenario(90).model_copy(update={"seed": 7})  # a scenario no other test has run
    app.session_state["scenario"] = sc
    app.session_state[state.AUTOSTART_KEY] = True  # the default of a server
    app.run()
    app.switch_page("page_scenario.py")  # a page that computes nothing itself
    at = app.run()
    assert not at.exception
    assert state.pipeline_status(sc) is not None  # submitted without blocking the page
    final = state.job_manager().wait(state._pipeline_key(sc)[0], poll_s=0.2)
    assert final.state == "done", final.error
    at.run()
    assert any("Results: ready." in c.value for c in at.sidebar.caption)
    assert state.job_manager().status(psa_view.psa_key(sc)) is not None  # the PSA follows
