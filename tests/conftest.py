"""Fixtures of the whole suite."""

from __future__ import annotations

import contextlib
import os

import pytest


@contextlib.contextmanager
def environment_variable(name: str, value: str):
    """``os.environ[name] = value`` for the block (inherited by processes started in it), then as before."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@pytest.fixture(autouse=True, scope="session")
def private_results_store(tmp_path_factory):
    """No test reads or writes the developer's own results store (``~/.local/share/mhtcdt``): the
    per-user data folder is a temporary one for the whole session (also for the app's worker process,
    which inherits the environment)."""
    root = tmp_path_factory.mktemp("user-data")
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "MHTCDT_STORE")}
    os.environ["XDG_DATA_HOME"] = str(root)
    os.environ.pop("MHTCDT_STORE", None)
    yield root / "mhtcdt"
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """No test reads or writes the developer's own caches (``~/.cache/mhtcdt``: PSA emulators and whole
    results, which ``mhtcdt run``/``demo`` and the app fill): a temporary folder for the whole session (the app's
    tests use one of their own, tests/app/conftest.py)."""
    with environment_variable("MHTCDT_CACHE_DIR", str(tmp_path_factory.mktemp("mhtcdt-cache"))):
        yield
