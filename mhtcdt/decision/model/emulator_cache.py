"""On-disk cache of the PSA's physics emulators: built once per (inputs, code), loaded by every later run.

Building the emulators is most of a PSA's time (25 physics solves of every patient per NanoTherm stream:
about 40-60 s of the app's first answer on a loaded 2-core machine, section "Cold start" of
docs/architecture.md). An :class:`~mhtcdt.decision.model.emulator.ArmEmulator` is a pure function of its
constructor's inputs (arm, patients, protocol, physics seed, base assumptions, uncertain inputs) and of the
code and data of the installed package, so it is stored under the SHA-256 of all of them
(:func:`emulator_key`; the code by :func:`model_code_fingerprint`, which changes with any ``.py`` or ``.toml``
file of the package outside its presentation layers) and a later run with the same key loads it instead of
solving again: the loaded emulator is the built one (pickled after ``release_solves``), so its predictions are
bit-identical (tested in ``tests/decision/test_emulator_cache.py``).

Where: ``$MHTCDT_CACHE_DIR/emulators`` (default ``~/.cache/mhtcdt/emulators``, beside the calibration's physics
cache); a file is written to a temporary name and renamed, so a concurrent reader never sees half a file.
The cache is the user's own (like numba's cache, it holds pickles: never point ``$MHTCDT_CACHE_DIR`` at a
folder others can write). ``$MHTCDT_EMULATOR_CACHE=0`` turns it off; a file that cannot be read is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

log = logging.getLogger("mhtcdt.emulator_cache")

ENV_SWITCH = "MHTCDT_EMULATOR_CACHE"
#: bump when the pickled layout of ArmEmulator changes in a way the code fingerprint would not catch
LAYOUT = 1


def cache_dir() -> Path:
    """``$MHTCDT_CACHE_DIR/emulators`` (default ``~/.cache/mhtcdt/emulators``)."""
    return Path(os.environ.get("MHTCDT_CACHE_DIR", Path.home() / ".cache" / "mhtcdt")) / "emulators"


def enabled() -> bool:
    """On unless ``$MHTCDT_EMULATOR_CACHE`` is ``0``."""
    return os.environ.get(ENV_SWITCH, "1").strip() != "0"


#: package folders that present results and cannot change an emulator: left out of the code's fingerprint
PRESENTATION = ("mhtcdt/app/", "mhtcdt/decision/report/", "mhtcdt/decision/cli/")


def model_code_fingerprint() -> str:
    """SHA-256 over every ``.py`` and ``.toml`` file of the package
    (:func:`mhtcdt.decision.run.code_identity.package_file_hashes`) except the presentation layers
    (:data:`PRESENTATION`): editing a page or a report keeps the emulators, editing anything they could
    depend on (physics, cohorts, decision model, data files) does not."""
    from mhtcdt.decision.run.code_identity import package_file_hashes

    digest = hashlib.sha256()
    for name, value in sorted(package_file_hashes().items()):
        if not name.startswith(PRESENTATION):
            digest.update(f"{name}={value};".encode())
    return digest.hexdigest()


def emulator_key(arm: str, patients: pd.DataFrame, protocol, seed, base, inputs) -> str:
    """SHA-256 (hex) of everything an emulator is a function of: the package's code and data
    (:func:`model_code_fingerprint`), the arm's name, the patients (values, columns, dtypes and order), the
    protocol, the physics seed, the base assumptions and the uncertain inputs (their reprs: frozen dataclasses
    and pydantic models, floats written exactly)."""
    h = hashlib.sha256()
    table = patients.reset_index(drop=True)
    parts = [
        f"layout={LAYOUT}",
        model_code_fingerprint(),
        arm,
        repr(list(table.columns)),
        repr([str(t) for t in table.dtypes]),
        pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes().hex(),
        protocol.model_dump_json() if hasattr(protocol, "model_dump_json") else repr(protocol),
        repr((getattr(seed, "entropy", seed), getattr(seed, "spawn_key", ()))),
        repr(base),
        repr(sorted(inputs.items())),
    ]
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def cached_emulator(key: str, build: Callable[[], object], progress: Callable[[float], None] | None = None):
    """The emulator stored under ``key``, else ``build()`` (its solves released) stored under it.

    Returns ``(emulator, loaded)``. Without the cache (:func:`enabled` false) it only builds."""
    if not enabled():
        emulator = build()
        emulator.release_solves()
        return emulator, False
    path = cache_dir() / f"{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as handle:
                emulator = pickle.load(handle)
            if progress is not None:
                progress(1.0)
            return emulator, True
        except Exception as exc:  # noqa: BLE001 - a damaged or stale file is rebuilt, never trusted
            log.warning("emulator cache file %s could not be read (%s): rebuilding it", path, exc)
    emulator = build()
    emulator.release_solves()
    _store(path, emulator)
    return emulator, False


def _store(path: Path, emulator: object) -> None:
    """Write ``emulator`` to ``path`` atomically (temporary file, then rename); a failure is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(emulator, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        log.warning("emulator not stored in the cache %s: %s", path.parent, exc)
