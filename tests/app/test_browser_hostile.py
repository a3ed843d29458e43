"""Real-browser test of hostile uploads: a scenario whose name, description, arm names, criteria and
file name carry HTML and Markdown payloads is uploaded in Chromium and every page is visited.

Passes when no script runs (``window.__xss`` stays unset and no dialog opens), no payload becomes an
element (no iframe, form, ``javascript:`` link, element with an ``on*`` handler, or image that is not
one of the app's own figures) and the payloads are shown as the text that was written.

Run with ``pytest -m browser tests/app/test_browser_hostile.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app import hostile
from tests.app.test_browser import RUNNING, _artifacts, _free_port, _wait_healthy, browser  # noqa: F401
from tests.processes import alive, descendants

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]

#: Elements or attributes a payload would create if it were rendered as markup.
PROBE = """() => ({
  flag: window.__xss === undefined ? null : String(window.__xss),
  iframes: document.querySelectorAll('iframe').length,
  forms: document.querySelectorAll('form').length,
  scripts: [...document.querySelectorAll('script')].filter(s => !s.src).map(s => s.textContent)
    .filter(t => t.includes('__xss')).length,
  javascript_links: [...document.querySelectorAll('[href], [src], [action]')].filter(e =>
    ['href', 'src', 'action'].some(a =>
      (e.getAttribute(a) || '').trim().toLowerCase().startsWith('javascript:'))).length,
  handlers: [...document.querySelectorAll('*')].filter(e =>
    [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
  foreign_images: [...document.querySelectorAll('img')].map(i => i.getAttribute('src') || '')
    .filter(s => !(s.startsWith('data:') || s.includes('/media/') || s.startsWith('blob:'))),
  text: document.body.innerText,
})"""


@pytest.fixture(scope="module")
def app_server():
    """``mhtcdt app`` (the launcher users run) on a free port, its log kept as an artifact."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["MHTCDT_APP_AUTOSTART"] = "0"  # the answer page waits for a click: this test drives the pages itself
    log = open(_artifacts() / "streamlit-hostile-server.log", "w", encoding="utf-8")  # noqa: SIM115
    cmd = [sys.executable, "-m", "mhtcdt.decision.cli.main", "app", "--port", str(port), "--headless"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    started: set[int] = set()
    try:
        _wait_healthy(url, proc)
        yield url
        started = descendants(proc.pid)  # the server, and the worker and forkserver the pages started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    # SIGTERM to `mhtcdt app` ends everything it started (issue 19: orphaned servers and workers)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(p) for p in started):
        time.sleep(0.2)
    assert len(started) >= 3 and not [p for p in started if alive(p)], started


def _settle(page, ready_text: str, timeout_s: float, errors_expected: bool = False) -> None:
    """Wait until ``ready_text`` is on the page (or an error box appears) and the script run is over. A text
    wait, not the router's page-ready marker: the hostile upload stays on one page and expects error boxes."""
    page.wait_for_function(
        "([text, stopOnError]) => document.body.innerText.includes(text)"
        " || (stopOnError && document.querySelector('[data-testid=\"stAlertContentError\"]'))",
        arg=[ready_text, not errors_expected],
        timeout=timeout_s * 1000,
    )
    page.wait_for_function("(sel) => !document.querySelector(sel)", arg=RUNNING, timeout=timeout_s * 1000)
    page.wait_for_timeout(500)  # the last deltas reach the page
    if not errors_expected:
        errors = page.locator("[data-testid='stAlertContentError']")
        assert errors.count() == 0, errors.first.inner_text()


def _assert_inert(page, where: str, dialogs: list[str]) -> str:
    found = page.evaluate(PROBE)
    slug = "".join(c if c.isalnum() else "_" for c in where.lower())
    (_artifacts() / f"hostile_text_{slug}.txt").write_text(found["text"], encoding="utf-8")
    assert not dialogs, f"{where}: a dialog opened: {dialogs}"
    assert found["flag"] is None, f"{where}: script ran (window.__xss = {found['flag']})"
    for key in ("iframes", "forms", "scripts", "javascript_links", "handlers"):
        assert found[key] == 0, f"{where}: {found[key]} {key} in the page"
    assert not found["foreign_images"], f"{where}: images from user text: {found['foreign_images']}"
    return found["text"]


def _upload(page, text: str, name: str) -> None:
    page.locator("input[type='file']").first.set_input_files(
        files=[{"name": name, "mimeType": "application/toml", "buffer": text.encode("utf-8")}]
    )


def test_hostile_upload_runs_no_script_and_shows_text(app_server, browser):  # noqa: F811
    out = _artifacts()
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_server, wait_until="domcontentloaded")
    page.get_by_role("link", name="Scenario").first.click(timeout=120_000)  # the app opens on the answer page
    _settle(page, "Download the edited scenario", timeout_s=120)

    _upload(page, hostile.hostile_scenario(), hostile.FILE_NAME)
    _settle(page, "Loaded", timeout_s=60)
    page.get_by_text("Description", exact=True).first.click()  # the expander: render the description
    page.wait_for_timeout(800)
    text = _assert_inert(page, "Scenario page", dialogs)
    # The payloads are shown as the characters written, Markdown included.
    assert hostile.NAME in text
    assert "[markdown link](javascript:window.__xss=4)" in text
    assert "**bold** :red[red] $x^2$" in text
    assert "onerror" in text and "<form action=" in text
    assert hostile.FILE_NAME in text
    page.get_by_role("tab", name=f"Arm: {hostile.ARM_MHT}").click()
    page.wait_for_timeout(500)
    _assert_inert(page, "Scenario page, arm tab", dialogs)
    page.screenshot(path=str(out / "hostile_1_scenario.png"), full_page=True)

    pages = [
        ("Patients", "CONSORT flow"),
        ("Virtual trial", "Power versus sample size"),
        ("Cost-effectiveness", "Expected value of perfect information"),
        ("Report", "items reported from the run"),
        ("Treatment physics", "Chemistry and cell kill"),
    ]
    for i, (link, ready) in enumerate(pages, start=2):
        page.get_by_role("link", name=link).first.click()
        _settle(page, ready, timeout_s=600)
        text = _assert_inert(page, link, dialogs)
        assert hostile.NAME in text, f"{link}: the sidebar shows the scenario name as text"
        if link in ("Virtual trial", "Cost-effectiveness"):  # metric labels, verdict, PSA notes
            assert hostile.ARM_MHT in text and hostile.ARM_REFERENCE in text, link
        page.screenshot(path=str(out / f"hostile_{i}_{link.lower().replace(' ', '_')}.png"), full_page=True)

    # A criterion with a script tag: refused by the criteria parser, the error shows it as text.
    page.get_by_role("link", name="Scenario").first.click()
    _settle(page, "Download the edited scenario", timeout_s=60, errors_expected=True)
    _upload(page, hostile.hostile_scenario(bad_criterion=True), "criteria.toml")
    _settle(page, "cohort.criteria", timeout_s=60, errors_expected=True)
    text = _assert_inert(page, "Scenario page with a hostile criterion", dialogs)
    assert "<script>window.__xss=9</script>" in text
    page.screenshot(path=str(out / "hostile_7_scenario_bad_criterion.png"), full_page=True)
    page.close()
