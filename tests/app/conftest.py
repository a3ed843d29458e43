"""Shared fixtures of the app tests: a small scenario and an AppTest of the router."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROUTER = str(Path(__file__).resolve().parents[2] / "mhtcdt" / "app" / "router.py")


def small_scenario(n_screened: int = 160):
    """The default scenario with fewer patients (fast enough for the default test suite)."""
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()
    return sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": n_screened})})


def app_test(scenario, *, timeout_s: float = 180, autostart: bool = False):
    """An AppTest of the router on ``scenario``.

    ``autostart`` False (the default here): the app does not start the scenario's run when it opens
    (:func:`mhtcdt.app.state.autostart`), so the first ``run()`` (on the answer page, which then only offers
    to compute) is cheap and a test pays only for what the page it checks computes. Tests of the start-up
    behaviour itself pass True."""
    from streamlit.testing.v1 import AppTest

    from mhtcdt.app import state

    at = AppTest.from_file(ROUTER, default_timeout=timeout_s)
    at.session_state["scenario"] = scenario
    at.session_state[state.AUTOSTART_KEY] = autostart
    return at


@pytest.fixture(scope="package", autouse=True)
def _own_emulator_cache(tmp_path_factory):
    """The app stores PSA emulators on disk (mhtcdt.decision.model.emulator_cache): the app's tests use a folder
    of their own (set before the worker process starts, which inherits it), never the user's cache; restored
    after the last test of tests/app."""
    from tests.conftest import environment_variable

    with environment_variable("MHTCDT_CACHE_DIR", str(tmp_path_factory.mktemp("mhtcdt-cache"))):
        yield


@pytest.fixture
def app():
    """A fresh AppTest of the router on a small scenario (no run on opening); call ``.run()`` or ``open_page``."""
    return app_test(small_scenario())


def open_page(at, page_file: str):
    """Run the app once (the default page registers the pages), then switch to ``page_file`` (e.g.
    'page_trial.py') and run it."""
    at.run()
    at.switch_page(page_file)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    """The text a reader sees of Markdown escaped by :func:`mhtcdt.app.text.md` (backslash escapes removed)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))


def texts(at) -> str:
    """Every markdown, caption, info, error, warning and success text on the page, joined (as read)."""
    parts = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success", "title", "subheader"):
        parts.extend(plain(el.value) for el in getattr(at, kind))
    return "\n".join(parts)
