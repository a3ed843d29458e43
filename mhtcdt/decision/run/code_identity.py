"""Code identity: a chunk computed by other code or data than the client's is refused, never mixed in.

Every worker returns, with each chunk, the SHA-256 of each ``mhtcdt`` module it has loaded and of each
package data file (TOML parameters: tissues, agents, outcome calibration ...) it has read
(:func:`loaded_code_hashes`; data files under ``data:<package>/<path>``); :mod:`mhtcdt.decision.run.chunking`
compares them with the client's (:func:`mismatched_modules`) and raises a ``ModelError`` for a worker
with another installed version (a cluster node) or a package or data file edited while the run was
under way. :func:`code_fingerprint` is one hash over the whole installed package (every ``.py`` and
``.toml`` file, each as loaded if it was), recorded with every run in the store: two runs of the same
code and data have the same fingerprint whatever modules each happened to import.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from mhtcdt.datafiles import loaded_data_hashes

_MODULE_HASHES: dict[str, str] = {}


def loaded_code_hashes() -> dict[str, str]:
    """SHA-256 of the source file of every ``mhtcdt`` module loaded in this process, by module name, and of
    every package data file it has read (``data:<package>/<path>``, :func:`mhtcdt.datafiles.loaded_data_hashes`).

    A module is hashed the first time it is seen loaded and the hash is kept: it stands for the code
    the process runs even if the file is edited later. Workers return theirs with each chunk and the
    client refuses a chunk whose modules differ from its own (e.g. a Dask worker with another
    installed version, or a worker started after the package was edited), since its results would
    not be those of the client's code.
    """
    for name, module in list(sys.modules.items()):
        if name in _MODULE_HASHES or not (name == "mhtcdt" or name.startswith("mhtcdt.")):
            continue
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and os.path.exists(path):
            with open(path, "rb") as handle:
                _MODULE_HASHES[name] = hashlib.sha256(handle.read()).hexdigest()
    data = {f"data:{name}": value for name, value in loaded_data_hashes().items()}
    return {**_MODULE_HASHES, **data}


#: SHA-256 of package files not loaded when first fingerprinted, by path relative to the package's parent
_FILE_HASHES: dict[str, str] = {}
_PACKAGE_SUFFIXES = (".py", ".toml")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_file_hashes() -> dict[str, str]:
    """SHA-256 of every ``.py`` and ``.toml`` file of the installed ``mhtcdt`` package, by path relative to
    the package's parent folder (``mhtcdt/physics/data/tissues.toml``).

    A file this process has loaded counts with the hash it had when loaded (:func:`loaded_code_hashes`),
    since that is what ran; any other file with its content when first seen here. The result does not
    depend on which modules a run happened to import (a run with ``--report`` loads more of them)."""
    import mhtcdt

    root = Path(mhtcdt.__file__).resolve().parent
    base = root.parent
    loaded: dict[str, str] = {}
    for key, value in loaded_code_hashes().items():
        if key.startswith("data:"):
            package, _, relative = key[len("data:") :].partition("/")
            path = base / package.replace(".", "/") / relative
        else:
            module = sys.modules.get(key)
            file = getattr(module, "__file__", None)
            if not file:
                continue
            path = Path(file).resolve()
        try:
            loaded[path.relative_to(base).as_posix()] = value
        except ValueError:  # a module outside the package folder (not expected): kept by its name
            loaded[key] = value
    hashes = dict(loaded)
    for path in root.rglob("*"):
        if path.suffix not in _PACKAGE_SUFFIXES or "__pycache__" in path.parts or not path.is_file():
            continue
        relative = path.relative_to(base).as_posix()
        if relative not in hashes:
            if relative not in _FILE_HASHES:
                _FILE_HASHES[relative] = _sha256_file(path)
            hashes[relative] = _FILE_HASHES[relative]
    return hashes


def code_fingerprint() -> str:
    """One SHA-256 over :func:`package_file_hashes`: the code and data of the whole package, recorded with
    each run (the same for every run of the same installation)."""
    digest = hashlib.sha256()
    for name, value in sorted(package_file_hashes().items()):
        digest.update(f"{name}={value};".encode())
    return digest.hexdigest()


def mismatched_modules(client: dict[str, str], worker: dict[str, str]) -> list[str]:
    """Names of the modules loaded by both sides whose source hashes differ (sorted)."""
    return sorted(name for name in client.keys() & worker.keys() if client[name] != worker[name])
