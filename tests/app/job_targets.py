"""Functions the job-manager tests run in the worker process (importable by module path)."""

from __future__ import annotations

import os
import time

from mhtcdt.errors import InputError, ModelError


def square_slowly(x: float, *, progress, steps: int = 5) -> dict:
    for i in range(steps):
        progress("squaring", i / steps)
        time.sleep(0.12)
    progress("squaring", 1.0)
    return {"value": x * x, "pid": os.getpid()}


def bad_input(*, progress) -> None:
    raise InputError("economics.willingness_to_pay", -1.0, "must be positive")


def model_failure(*, progress) -> None:
    raise ModelError("solver did not converge")


def bug(*, progress) -> None:
    return 1 / 0
