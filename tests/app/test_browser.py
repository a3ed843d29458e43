"""Real-browser test: ``streamlit run streamlit_app.py`` driven by Playwright with Debian's Chromium.

Visits every page through the sidebar (one browser session, as an analyst would), checks that no
page shows a traceback, changes one assumption (the willingness to pay) and checks that the verdict
text follows, and saves a screenshot per page plus ``browser_timings.json`` (full-pipeline time in
the app, revisit time) in ``$MHTCDT_ARTIFACTS`` (default ``./test-artifacts``).

Run with ``pytest -m browser tests/app/test_browser.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PAGES = [  # (sidebar link text, text drawn late on the page: it has finished rendering)
    ("Scenario", "Download the edited scenario"),
    ("Patients", "Covariate distributions"),
    ("Treatment physics", "Session spacing and thermotolerance"),
    ("Virtual trial", "Power versus sample size"),
    ("Cost-effectiveness", "Expected value of perfect information"),
    ("Report", "items reported from the run"),
    ("Recorded runs", "results store"),
]
RUNNING = "[data-testid='stStatusWidgetRunningIcon'], [data-testid='stStatusWidgetRunningManIcon']"


def _artifacts() -> Path:
    path = Path(os.environ.get("MHTCDT_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout_s} s")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log_path = _artifacts() / "streamlit-server.log"
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in teardown
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--client.showErrorDetails", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (expected /usr/bin/chromium); browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _settle(page, ready_text: str, timeout_s: float, errors_expected: bool = False) -> float:
    """Wait until ``ready_text`` is on the page (or an error box appears) and the script run is over;
    return the seconds until ``ready_text`` appeared. Unexpected in-page errors fail the test."""
    t0 = time.monotonic()
    page.wait_for_function(
        "([text, stopOnError]) => document.body.innerText.includes(text)"
        " || (stopOnError && document.querySelector('[data-testid=\"stAlertContentError\"]'))",
        arg=[ready_text, not errors_expected],
        timeout=timeout_s * 1000,
    )
    t_ready = time.monotonic() - t0
    # The status widget's running icon disappears when the script run is over.
    page.wait_for_function("(sel) => !document.querySelector(sel)", arg=RUNNING, timeout=timeout_s * 1000)
    page.wait_for_timeout(500)  # the last deltas reach the page
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=timeout_s * 1000)
    page.wait_for_timeout(300)  # let images (matplotlib PNGs) paint
    if not errors_expected:
        errors = page.locator("[data-testid='stAlertContentError']")
        assert errors.count() == 0, errors.first.inner_text()
    return t_ready


def _assert_no_traceback(page, name: str) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, f"a traceback is shown on {name}"


def _verdict(page) -> str:
    return page.locator("[data-testid='stAlert']", has_text="per QALY the strategy").first.inner_text()


def test_every_page_and_a_changed_assumption(server, browser):
    out = _artifacts()
    page = browser.new_page(viewport={"width": 1400, "height": 2800})
    page.goto(server, wait_until="domcontentloaded")
    timings: dict[str, float] = {}
    for i, (link, ready) in enumerate(PAGES):
        t0 = time.monotonic()
        if i > 0:
            page.get_by_role("link", name=link).first.click()
        # The first visit to a results page starts the full pipeline (default scenario, 500 screened):
        # "ready" = its key content is on screen; "complete" = every section (power curve, PSA) drawn.
        timings[f"first_visit_ready_s[{link}]"] = _settle(page, ready, timeout_s=240)
        timings[f"first_visit_complete_s[{link}]"] = time.monotonic() - t0
        _assert_no_traceback(page, link)
        page.screenshot(path=str(out / f"page_{i + 1}_{link.lower().replace(' ', '_')}.png"), full_page=True)
        if link == "Treatment physics":  # the lower half: chemistry and session spacing charts
            page.get_by_text("Session spacing and thermotolerance").first.evaluate(
                "e => e.scrollIntoView({block: 'center'})"
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "page_3b_treatment_physics_chemistry_spacing.png"), full_page=True)
        if link == "Scenario":  # the arm editor: protocol assumptions with units
            page.get_by_role("tab", name="Arm: NanoTherm MHT + RT").click()
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "page_1b_scenario_arm_editor.png"), full_page=True)
            page.get_by_role("tab", name="Costs and utilities").click()
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "page_1c_scenario_costs_uncertainty.png"), full_page=True)

    (out / "browser_timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")

    # Revisit the trial page with unchanged inputs: the stored results are shown without a new run.
    t0 = time.monotonic()
    page.get_by_role("link", name="Virtual trial").first.click()
    page.wait_for_function(  # no fixed sleeps here: this is the measured revisit time
        "(sel) => document.body.innerText.includes('Power versus sample size') && !document.querySelector(sel)"
        " && document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 2"
        " && [...document.images].every(i => i.complete)",
        arg=RUNNING,
        timeout=60_000,
    )
    timings["revisit_s[Virtual trial, all figures]"] = time.monotonic() - t0
    _settle(page, "Power versus sample size", timeout_s=60)
    assert page.get_by_text("Running the virtual trial").count() == 0

    # Change one assumption (willingness to pay) and check the verdict follows.
    page.get_by_role("link", name="Cost-effectiveness").first.click()
    _settle(page, "Expected value of perfect information", timeout_s=60)
    before = _verdict(page)
    wtp = page.locator("input[aria-label^='Willingness to pay']").first
    wtp.fill("100000")
    wtp.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stAlert\"]')]"
        ".some(e => e.innerText.includes('At GBP 100,000 per QALY'))",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # the status widget shows up with a delay after a rerun starts
    _settle(page, "Expected value of perfect information", timeout_s=60)
    after = _verdict(page)
    assert after != before
    assert "GBP 100,000" in after and "GBP 100,000" not in before
    _assert_no_traceback(page, "Cost-effectiveness after the change")
    page.screenshot(path=str(out / "page_5b_cost_effectiveness_wtp_100000.png"), full_page=True)

    # A bad input in the browser: an unknown column in the criteria is an in-page error, not a traceback.
    page.get_by_role("link", name="Patients").first.click()
    _settle(page, "CONSORT flow", timeout_s=60)
    box = page.locator("textarea").first
    box.fill("kps >= 60\ntumour_size <= 3")
    box.press("Control+Enter")
    _settle(page, "unknown column", timeout_s=60, errors_expected=True)
    _assert_no_traceback(page, "Patients with a bad criterion")
    page.screenshot(path=str(out / "page_2b_patients_bad_criterion.png"), full_page=True)

    (out / "browser_timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    page.close()
