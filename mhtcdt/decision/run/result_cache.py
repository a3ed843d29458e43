"""On-disk cache of whole results (a run and its PSA): computed once per (inputs, code), loaded by later starts.

The app opens on the headline answer of the default scenario: its run (cohort, physics of both arms, outcomes,
survival, economics) and its PSA. A run is a pure function of the scenario, the outcome calibration, the seed
and the installed code (the package's rule; randomness only through keyed streams), so a result computed once
can be stored under the SHA-256 of all of them (:func:`result_key`) and returned to any later request with the
same key instead of being computed again: a warm start of the app then loads the answer in about a second
instead of recomputing it (docs/architecture.md, "Cold start"). ``mhtcdt warmup`` fills it for the default
answer.

The key covers (never served when any part differs):

* the kind of result and the options of the call (e.g. the PSA's number of draws);
* the scenario as TOML text and the seed;
* the outcome calibration file the scenario runs with (its bytes; a packaged file is also in the code hash);
* the package's code and data (:func:`~mhtcdt.decision.model.emulator_cache.model_code_fingerprint`: every
  ``.py`` and ``.toml`` file outside the presentation layers), the package version and the versions of Python
  and of the numerical libraries the results come from (numpy, scipy, pandas, numba, lifelines).

A loaded result is the pickled result of the same call, so it equals a fresh computation field by field
(tested in ``tests/decision/test_result_cache.py``). Where: ``$MHTCDT_CACHE_DIR/results`` (default
``~/.cache/mhtcdt/results``), written atomically as the emulators are; the user's own folder (pickles: never
point it at a folder others can write). ``$MHTCDT_RESULT_CACHE=0`` turns it off; a file that cannot be read is
recomputed. Each kind keeps its :data:`KEEP` most recent files (older ones are deleted).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mhtcdt.decision.model import emulator_cache

log = logging.getLogger("mhtcdt.result_cache")

ENV_SWITCH = "MHTCDT_RESULT_CACHE"
#: bump when the pickled layout of PipelineResult or PSAResult changes in a way the code hash would not catch
LAYOUT = 1
#: files kept per kind of result (a few scenarios' answers: each is 1-3 MB)
KEEP = 8
#: the libraries whose versions are part of the key (their numerics make the results)
LIBRARIES = ("numpy", "scipy", "pandas", "numba", "lifelines")


def cache_dir() -> Path:
    """``$MHTCDT_CACHE_DIR/results`` (default ``~/.cache/mhtcdt/results``)."""
    return emulator_cache.cache_dir().parent / "results"


def enabled() -> bool:
    """On unless ``$MHTCDT_RESULT_CACHE`` is ``0``."""
    return os.environ.get(ENV_SWITCH, "1").strip() != "0"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import mhtcdt

    parts = [f"python={platform.python_version()}", f"mhtcdt={mhtcdt.__version__}"]
    for name in LIBRARIES:
        try:
            parts.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name}=absent")
    return ";".join(parts)


def _calibration_bytes(scenario) -> bytes:
    """The bytes of the outcome calibration file ``scenario`` runs with (empty when it has none)."""
    from mhtcdt.decision.model import outcome
    from mhtcdt.decision.model.calibration_file import outcome_indication_of, resolve_path

    path = resolve_path(getattr(scenario, "calibration", None), getattr(scenario, "_source_dir", None))
    if path is None:
        path = outcome.default_calibration_path(outcome_indication_of(scenario))
    if path is None:  # the packaged glioblastoma calibration: a package data file, in the code's hash
        return b"packaged default"
    try:
        return Path(path).read_bytes()
    except OSError:
        return f"unreadable:{path}".encode()


def result_key(kind: str, scenario_text: str, seed: int, scenario=None, **options: Any) -> str:
    """SHA-256 (hex) of everything a result of ``kind`` (e.g. ``"pipeline"``, ``"psa"``) is a function of: the
    scenario's TOML text and seed, the calibration file of ``scenario`` (parsed from the text when not given),
    the call's ``options``, the package's model code and data and the library versions (module docstring)."""
    if scenario is None:
        from mhtcdt.decision.scenario.loading import parse_scenario_text

        scenario = parse_scenario_text(scenario_text, source="result cache")
    h = hashlib.sha256()
    parts = [
        f"layout={LAYOUT}",
        kind,
        emulator_cache.model_code_fingerprint(),
        _versions(),
        scenario_text,
        f"seed={int(seed)}",
        hashlib.sha256(_calibration_bytes(scenario)).hexdigest(),
        repr(sorted(options.items())),
    ]
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def cached_result(kind: str, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
    """The result stored under ``key``, else ``compute()`` stored under it. Returns ``(result, loaded)``.

    Without the cache (:func:`enabled` false) it only computes."""
    if not enabled():
        return compute(), False
    path = cache_dir() / kind / f"{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as handle:
                value = pickle.load(handle)
        except Exception as exc:  # noqa: BLE001 - a damaged or stale file is recomputed, never trusted
            log.warning("result cache file %s could not be read (%s): computing it again", path, exc)
        else:
            with contextlib.suppress(OSError):  # most recently used: kept by _trim (a read-only cache still serves)
                os.utime(path)
            return value, True
    value = compute()
    emulator_cache._store(path, value)
    _trim(path.parent)
    return value, False


def cached_pipeline(scenario, scenario_text: str, seed: int, progress=None) -> tuple[Any, bool]:
    """:func:`mhtcdt.decision.run.pipeline.run_pipeline` of ``scenario`` (given with its TOML text) at ``seed``
    through the cache (the app's run and ``mhtcdt warmup``'s: the same key). Returns ``(result, loaded)``."""
    from mhtcdt.decision.run.pipeline import run_pipeline

    key = result_key("pipeline", scenario_text, seed, scenario)
    result, loaded = cached_result("pipeline", key, lambda: run_pipeline(scenario, seed=seed, progress=progress))
    if loaded and progress is not None:
        progress("loaded from the result cache", 1.0)
    return result, loaded


def cached_psa(result, progress=None) -> tuple[Any, bool]:
    """:func:`mhtcdt.decision.model.psa.run_psa` of a pipeline result with the scenario's own options and the
    emulator cache on, through the cache. Keyed on the result's scenario and seed, so ``result`` must be what
    :func:`cached_pipeline` (``run_pipeline`` with its default options) returns for them, as in the app's
    worker and ``mhtcdt warmup``. Returns ``(psa, loaded)``."""
    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.scenario.loading import scenario_to_toml

    key = result_key("psa", scenario_to_toml(result.scenario), result.seed, result.scenario)
    psa, loaded = cached_result("psa", key, lambda: run_psa(result, progress=progress, emulator_cache=True))
    if loaded and progress is not None:
        progress("loaded from the result cache", 1.0)
    return psa, loaded


def _trim(folder: Path) -> None:
    """Keep the :data:`KEEP` most recently used files of ``folder``."""
    try:
        files = sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("result cache %s not trimmed: %s", folder, exc)
