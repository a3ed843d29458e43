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
    # The default page is the scenario page.
    assert at.title[0].value == "Scenario"


@pytest.mark.parametrize("page_file", ["page_trial.py", "page_economics.py", "page_report.py"])
def test_impossible_criteria_are_an_in_page_error_on_results_pages(app, page_file):
    sc = small_scenario(60)
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"criteria": ["age_years < 0"]})})
    app.session_state["scenario"] = sc
    at = open_page(app, page_file)
    err = "\n".join(e.value for e in at.error)
    assert "cohort.criteria" in err and "relax the criteria" in err, err
    assert "Something went wrong" not in err
