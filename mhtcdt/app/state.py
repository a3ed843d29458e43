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
    """Make ``scenario`` current. ``reload_widgets`` re-initialises the editors from it (new file)."""
    st.session_state[SCENARIO_KEY] = scenario
    if source is not None:
        st.session_state[SCENARIO_SOURCE_KEY] = source
    if reload_widgets:
        st.session_state[SCENARIO_VERSION_KEY] = st.session_state.get(SCENARIO_VERSION_KEY, 0) + 1


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
    """The :class:`PipelineResult` of ``scenario`` (computed in the worker once per distinct input)."""
    key, text = _pipeline_key(scenario)
    t0 = time.perf_counter()
    result = run_job(key, "mhtcdt.app.tasks:run_pipeline_task", text, scenario.seed, label=label)
    st.session_state["last_pipeline_fetch_s"] = time.perf_counter() - t0
    return result


def _pipeline_key(scenario) -> tuple[str, str]:
    text = scenario_toml(scenario)
    return "pipeline-" + input_key(text, scenario.seed), text


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
