"""The worker-process job manager: results, progress, de-duplication by key, error mapping."""

from __future__ import annotations

import os

import pytest

from mhtcdt.app.jobs import JobFailure, JobManager


@pytest.fixture(scope="module")
def jobs():
    manager = JobManager(max_workers=1)
    yield manager
    manager.shutdown()


def test_result_comes_from_another_process_with_progress(jobs):
    jobs.submit("sq-3", "tests.app.job_targets:square_slowly", 3.0)
    seen = []
    status = jobs.wait("sq-3", on_progress=lambda s: seen.append((s.stage, s.fraction)), poll_s=0.05)
    assert status.state == "done"
    assert status.result["value"] == 9.0
    assert status.result["pid"] != os.getpid()  # ran off the script's process
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)  # progress never goes backwards
    assert any(0.0 < f < 1.0 for f in fractions), seen
    assert any(stage == "squaring" for stage, _ in seen)


def test_same_key_is_not_run_twice(jobs):
    jobs.submit("sq-4", "tests.app.job_targets:square_slowly", 4.0)
    first = jobs.wait("sq-4", poll_s=0.05)
    jobs.submit("sq-4", "tests.app.job_targets:square_slowly", 4.0)
    again = jobs.status("sq-4")
    assert again.state == "done"
    assert again.result is first.result  # the stored object: no second run
    assert again.elapsed_s == first.elapsed_s


@pytest.mark.parametrize(
    ("target", "kind", "needle"),
    [
        ("bad_input", "input", "economics.willingness_to_pay = -1.0: must be positive"),
        ("model_failure", "model", "solver did not converge"),
        ("bug", "internal", "ZeroDivisionError"),
    ],
)
def test_errors_come_back_as_picklable_job_failures(jobs, target, kind, needle):
    jobs.submit(f"err-{target}", f"tests.app.job_targets:{target}")
    status = jobs.wait(f"err-{target}", poll_s=0.05)
    assert status.state == "failed"
    assert isinstance(status.error, JobFailure)
    assert status.error.kind == kind
    assert any(needle in line for line in status.error.lines), status.error.lines
    if kind == "internal":
        assert "Traceback" in status.error.trace  # for the log, not the page


def test_failed_job_can_be_resubmitted(jobs):
    jobs.submit("retry", "tests.app.job_targets:bug")
    assert jobs.wait("retry", poll_s=0.05).state == "failed"
    jobs.submit("retry", "tests.app.job_targets:square_slowly", 2.0, steps=1)
    # A failed key is forgotten on resubmission: the new job runs.
    status = jobs.wait("retry", poll_s=0.05)
    assert status.state == "done" and status.result["value"] == 4.0
