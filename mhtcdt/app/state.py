"""Session state, caching and error display shared by the pages.

* The current scenario lives in ``st.session_state["scenario"]`` (a validated
  :class:`mhtcdt.decision.scenario.schema.Scenario`); every page reads it with :func:`get_scenario`.
* Heavy results come from the worker process (:mod:`mhtcdt.app.jobs`), keyed by the SHA-256 of the
  scenario's TOML text and the seed, so unchanged inputs return the stored result at once.
* Cheap derived results use ``st.cache_data`` keyed by the same TOML text.
* :func:`guard` turns every exception into an in-page message: bad input lists each field and
  value, anything else is one line; no traceback reaches the user (it goes to the server log).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from mhtcdt.app.jobs import JobFailure, JobManager, JobStatus
from mhtcdt.app.text import code_block, code_span, md
from mhtcdt.errors import InputError, InputErrors, ModelError

log = logging.getLogger("mhtcdt.app")

SCENARIO_KEY = "scenario"
SCENARIO_SOURCE_KEY = "scenario_source"
SCENARIO_VERSION_KEY = "scenario_version"


# ---------------------------------------------------------------- scenario


def get_scenario():
    """The session's current scenario (the embedded default until the user picks another)."""
    if SCENARIO_KEY not in st.session_state:
        from mhtcdt.decision.scenario.loading import default_scenario

        st.session_state[SCENARIO_KEY] = default_scenario()
        st.session_state[SCENARIO_SOURCE_KEY] = "default.toml"
        st.session_state.setdefault(SCENARIO_VERSION_KEY, 0)
    return st.session_state[SCENARIO_KEY]


def set_scenario(scenario, source: str | None = None, *, reload_widgets: bool = False) -> None:
    """Make ``scenario`` current. ``reload_widgets`` re-initialises the editors from it (new file) and the
    what-ifs (willingness to pay, MHT price) from its values."""
    st.session_state[SCENARIO_KEY] = scenario
    if source is not None:
        st.session_state[SCENARIO_SOURCE_KEY] = source
    if reload_widgets:
        st.session_state[SCENARIO_VERSION_KEY] = st.session_state.get(SCENARIO_VERSION_KEY, 0) + 1
        for key in (WTP_KEY, PRICE_KEY):
            st.session_state.pop(key, None)


# ---------------------------------------------------------------- one WTP, one price (what-ifs, no new run)

WTP_KEY = "wtp"
PRICE_KEY = "mht_price"
PATIENTS_KEY = "patients_per_year"
YEARS_KEY = "decision_years"
_RENDERED = "_decision_controls_rendered"


def willingness_to_pay() -> float:
    """The session's willingness to pay [currency per QALY]: one value for every page, sidebar and report
    (initially the scenario's). Changing it re-runs nothing: results are re-derived
    (:func:`mhtcdt.decision.model.whatif.apply`)."""
    if WTP_KEY not in st.session_state:
        st.session_state[WTP_KEY] = float(get_scenario().economics.willingness_to_pay)
    return float(st.session_state[WTP_KEY])


def mht_price() -> float:
    """The session's MHT course price (initially the scenario's list price); a what-if, no new run."""
    if PRICE_KEY not in st.session_state:
        st.session_state[PRICE_KEY] = float(get_scenario().economics.costs.mht_course)
    return float(st.session_state[PRICE_KEY])


def population():
    """Patients per year and decision years of the population EVPI (illustrative defaults)."""
    from mhtcdt.decision.report.headline import DEFAULT_DECISION_YEARS, DEFAULT_PATIENTS_PER_YEAR, Population

    return Population(
        float(st.session_state.get(PATIENTS_KEY, DEFAULT_PATIENTS_PER_YEAR)),
        int(st.session_state.get(YEARS_KEY, DEFAULT_DECISION_YEARS)),
    )


def decision_controls(where=None, *, compact: bool = False) -> None:
    """The willingness-to-pay and MHT-price inputs (once per script run: a page that shows them in its body
    takes them from the sidebar). Both are keyed session values read by :func:`willingness_to_pay` and
    :func:`mht_price`."""
    if st.session_state.get(_RENDERED) == _run_marker():
        return
    st.session_state[_RENDERED] = _run_marker()
    willingness_to_pay(), mht_price()  # initialise the keys before the widgets read them
    scenario = get_scenario()
    cur = md(scenario.economics.currency)  # widget labels and help texts render Markdown
    box = where if where is not None else st
    cols = box.columns(2) if not compact else (box, box)
    wtp = cols[0].number_input(
        f"Willingness to pay [{cur} per QALY]",
        min_value=1.0,
        max_value=1e7,
        step=5000.0,
        format="%.0f",
        key=WTP_KEY,
        help="One value for every page, the sidebar and the report. Changing it re-runs nothing: costs and "
        "QALYs do not depend on it.",
    )
    cols[0].caption(f"{_grouped(wtp, cur)} per QALY", help="The value in the box, with thousands separators.")
    price = cols[1].number_input(
        f"MHT course price [{cur}]",
        min_value=0.0,
        max_value=1e8,
        step=500.0,
        format="%.0f",
        key=PRICE_KEY,
        help=f"A what-if on the price (list price in the scenario: {cur} "
        f"{scenario.economics.costs.mht_course:,.0f}). Costs are linear in it: nothing is re-run. Its PSA "
        "range follows the price.",
    )
    cols[1].caption(f"{_grouped(price, cur)} per course", help="The value in the box, with thousands separators.")


def _grouped(value: float | None, currency: str) -> str:
    """``GBP 30,000``: the value of a number box as people read it (Streamlit's number input cannot group
    thousands; the box keeps the plain digits one types)."""
    from mhtcdt.decision.report.labels import money

    return money(None if value is None else float(value), currency)


def _run_marker() -> int:
    """The number of the current script run (the router counts them): controls are drawn once per run."""
    return int(st.session_state.get(RUN_COUNTER_KEY, 0))


RUN_COUNTER_KEY = "_script_run"


def new_script_run() -> None:
    """Count a script run (called first by the router) and keep the what-if values across pages.

    A widget's value lives in ``st.session_state[key]`` only while the widget is drawn: the willingness-to-pay
    input of one page is another widget than the same input on the next page (Streamlit keys widgets by
    page), so its value would be dropped on navigation and the next page would fall back to the scenario's
    WTP. Writing each value back as a plain session value at the start of every run keeps it (the documented
    way to carry a widget's value across pages)."""
    st.session_state[RUN_COUNTER_KEY] = int(st.session_state.get(RUN_COUNTER_KEY, 0)) + 1
    for key in (WTP_KEY, PRICE_KEY, PATIENTS_KEY, YEARS_KEY):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def effective_scenario():
    """The scenario at the session's willingness to pay and MHT price (what downloads and reports show)."""
    from mhtcdt.decision.model.whatif import with_price, with_willingness_to_pay

    return with_price(with_willingness_to_pay(get_scenario(), willingness_to_pay()), mht_price())


def scenario_version() -> int:
    """Bumped whenever a new scenario file is loaded; part of every editor widget key."""
    return int(st.session_state.get(SCENARIO_VERSION_KEY, 0))


def scenario_toml(scenario) -> str:
    from mhtcdt.decision.scenario.loading import scenario_to_toml

    return scenario_to_toml(scenario)


def input_key(*parts: Any) -> str:
    """SHA-256 (hex, 16 chars) of the inputs of a computation: the key of its stored result."""
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:16]


def page_path(file: str) -> str:
    """The path of a page file as the router registers it (for ``st.page_link``)."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / file)


# ---------------------------------------------------------------- errors


def show_problem(exc: BaseException) -> None:
    """Show an exception as an in-page message (never a traceback)."""
    if isinstance(exc, InputErrors):
        lines = exc.lines()
        kind = "input"
    elif isinstance(exc, InputError):
        lines = [exc.line()]
        kind = "input"
    elif isinstance(exc, JobFailure):
        lines, kind = exc.lines, exc.kind
        if exc.trace:
            log.error("job failed:\n%s", exc.trace)
    elif isinstance(exc, ModelError):
        lines, kind = [str(exc)], "model"
    else:
        log.exception("unexpected error in the app", exc_info=exc)
        lines, kind = [f"{type(exc).__name__}: {exc}"], "internal"
    if kind == "input":
        show_input_lines(lines)
    elif kind == "model":
        st.error(f"**The model could not compute this case:** {md('; '.join(lines))}", icon=":material/calculate:")
    else:
        st.error(
            f"**Something went wrong inside the application** ({md('; '.join(lines))}). "
            "The details are in the server log; please report them.",
            icon=":material/error:",
        )


def show_input_lines(lines: list[str]) -> None:
    """One in-page error listing bad inputs, one line each (``field = value: message``)."""
    parts = []
    for line in lines:
        # Multi-line messages (a caret under the bad token) keep their layout in a code block.
        parts.append(code_block(line) if "\n" in line else f"- {code_span(line)}")
    body = "\n".join(parts)
    st.error(
        f"**Please check the input** ({len(lines)} problem{'s' if len(lines) != 1 else ''}):\n\n{body}",
        icon=":material/warning:",
    )


@contextmanager
def guard() -> Iterator[None]:
    """Show any exception raised inside the block as an in-page message and continue.

    Streamlit's own control-flow signals (rerun, stop) derive from BaseException, not Exception,
    so they pass through untouched.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the app's last line of defence against tracebacks
        show_problem(exc)


# ---------------------------------------------------------------- worker jobs


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The one worker process of this server, shared by all sessions."""
    return JobManager(max_workers=1)


def run_job(key: str, target: str, *args: Any, label: str, **kwargs: Any) -> Any | None:
    """Run ``target`` in the worker (or fetch its stored result) showing a progress bar.

    Returns the result, or None after showing the problem in the page.
    """
    jobs = job_manager()
    status = jobs.status(key)
    if status is None or status.state == "failed":
        jobs.submit(key, target, *args, **kwargs)
        status = jobs.status(key)
    if status is not None and status.state == "running":
        bar = st.progress(0.0, text=f"{md(label)}: starting the worker…")

        def show(s: JobStatus) -> None:
            bar.progress(min(1.0, max(0.0, s.fraction)), text=f"{md(label)}: {md(s.stage)} ({s.elapsed_s:.0f} s)")

        status = jobs.wait(key, on_progress=show)
        bar.empty()
    if status.state == "failed":
        show_problem(status.error)
        return None
    st.session_state.setdefault("job_seconds", {})[key] = status.elapsed_s
    return status.result


PREVIEW_MAX_PATIENTS = 100_000


@st.cache_data(show_spinner=False, max_entries=16)
def screened_cohort(indication: str, n_screened: int, seed: int):
    """The screened patients of a scenario: the same rows the pipeline draws (same seed stream).

    At most the first :data:`PREVIEW_MAX_PATIENTS` (generation is chunk-invariant, so they are exactly
    the trial's first patients); the pages say when they show a preview of a larger cohort.
    """
    n_screened = min(int(n_screened), PREVIEW_MAX_PATIENTS)
    from mhtcdt.cohorts import generate_cohort
    from mhtcdt.decision.streams import cohort_seed

    return generate_cohort(indication, n_screened, cohort_seed(seed))


def pipeline_result(scenario, *, label: str = "Running the virtual trial") -> Any | None:
    """The :class:`PipelineResult` of ``scenario`` (computed in the worker once per distinct input; scenarios
    that differ only in the willingness to pay or the MHT price share it: see :func:`decision_results`)."""
    key, text = _pipeline_key(scenario)
    t0 = time.perf_counter()
    result = run_job(key, "mhtcdt.app.tasks:run_pipeline_task", text, scenario.seed, label=label)
    st.session_state["last_pipeline_fetch_s"] = time.perf_counter() - t0
    return result


def run_inputs_key(scenario) -> str:
    """Hash of what a run depends on: the scenario with its WTP and MHT price normalised, and the seed."""
    from mhtcdt.decision.model.whatif import decision_inputs_text

    return input_key(decision_inputs_text(scenario), scenario.seed)


def trial_key(scenario) -> str:
    """Hash of what the virtual trial alone depends on (no economics): replicate trials, physics pools."""
    return input_key(scenario.model_dump(mode="json", exclude={"economics"}), scenario.seed)


def _pipeline_key(scenario) -> tuple[str, str]:
    return "pipeline-" + run_inputs_key(scenario), scenario_toml(scenario)


def decision_results(scenario=None, *, psa: bool = True):
    """The run of the session's scenario (and its PSA) at the session's willingness to pay and MHT price: a
    :class:`mhtcdt.decision.model.whatif.WhatIf`, or None when a job failed (the problem is shown).

    The pipeline and the PSA are computed once per :func:`run_inputs_key`; the WTP and the price are applied
    afterwards without a new run (memoised per WTP and price in the session)."""
    from mhtcdt.app import psa_view
    from mhtcdt.decision.model.whatif import apply

    scenario = get_scenario() if scenario is None else scenario
    result = pipeline_result(scenario)
    if result is None:
        return None
    psa_result = psa_view.psa_result(scenario, result) if psa else None
    if psa and psa_result is None:
        return None
    wtp, price = willingness_to_pay(), mht_price()
    memo_key = (run_inputs_key(scenario), psa, wtp, price)
    memo = st.session_state.setdefault("_whatif_memo", {})
    if memo_key not in memo:
        if len(memo) > 16:
            memo.clear()
        memo[memo_key] = apply(result, psa_result, willingness_to_pay=wtp, price=price)
    return memo[memo_key]


#: session key: whether the current scenario's run starts as soon as the app opens (see :func:`autostart`)
AUTOSTART_KEY = "autostart"
#: environment variable giving the default of :func:`autostart` for every session ("0": off)
AUTOSTART_ENV = "MHTCDT_APP_AUTOSTART"


def autostart() -> bool:
    """Whether the run (then its PSA) starts when the app opens, so that the answer is the first screen.

    On unless ``$MHTCDT_APP_AUTOSTART`` is ``0`` (a server for large scenarios, or the app's tests, which open
    the page they check without paying for a run it does not need). Off, the answer page waits for a button
    (which turns it on for the session) and every other page computes what it shows when it is opened."""
    import os

    if AUTOSTART_KEY not in st.session_state:
        st.session_state[AUTOSTART_KEY] = os.environ.get(AUTOSTART_ENV, "1").strip() != "0"
    return bool(st.session_state[AUTOSTART_KEY])


def answer_known(scenario) -> bool:
    """Whether the run and the PSA of ``scenario`` were submitted (running, done or failed): showing the answer
    then starts nothing new."""
    from mhtcdt.app import psa_view

    jobs = job_manager()
    return jobs.status(_pipeline_key(scenario)[0]) is not None and jobs.status(psa_view.psa_key(scenario)) is not None


def prefetch() -> None:
    """Start the current scenario's run, then its PSA, in the worker without waiting (the headline answer is
    ready sooner whichever page the user opens first); a no-op once they are known, or when
    :func:`autostart` is off."""
    from mhtcdt.app import psa_view

    if not autostart():
        return
    scenario = get_scenario()
    jobs = job_manager()
    status = jobs.status(_pipeline_key(scenario)[0])
    if status is None:
        start_pipeline(scenario)
    elif status.state == "done" and jobs.status(psa_view.psa_key(scenario)) is None:
        jobs.submit(psa_view.psa_key(scenario), "mhtcdt.app.tasks:run_psa_task", status.result)


def start_pipeline(scenario) -> None:
    """Submit the pipeline of ``scenario`` to the worker without waiting (no-op if known)."""
    key, text = _pipeline_key(scenario)
    job_manager().submit(key, "mhtcdt.app.tasks:run_pipeline_task", text, scenario.seed)


def pipeline_status(scenario) -> JobStatus | None:
    """The worker's status of the pipeline of ``scenario`` (None if never submitted)."""
    return job_manager().status(_pipeline_key(scenario)[0])


def pipeline_done(scenario) -> Any | None:
    """The stored pipeline result if it is already finished, else None (never starts a run)."""
    status = job_manager().status(_pipeline_key(scenario)[0])
    return status.result if status is not None and status.state == "done" else None
