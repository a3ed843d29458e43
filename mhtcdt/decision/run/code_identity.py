"""Code identity: a chunk computed by other code or data than the client's is refused, never mixed in.

Every worker returns, with each chunk, the SHA-256 of each ``mhtcdt`` module it has loaded and of each
package data file (TOML parameters: tissues, agents, outcome calibration ...) it has read
(:func:`loaded_code_hashes`; data files under ``data:<package>/<path>``); :mod:`mhtcdt.decision.run.chunking`
compares them with the client's (:func:`mismatched_modules`) and raises a ``ModelError`` for a worker
with another installed version (a cluster node) or a package or data file edited while the run was
under way. :func:`code_fingerprint` is one hash over them, recorded with every run in the store.
"""

from __future__ import annotations

import hashlib
import os
import sys

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


def code_fingerprint() -> str:
    """One SHA-256 over :func:`loaded_code_hashes` (for provenance records)."""
    digest = hashlib.sha256()
    for name, value in sorted(loaded_code_hashes().items()):
        digest.update(f"{name}={value};".encode())
    return digest.hexdigest()


def mismatched_modules(client: dict[str, str], worker: dict[str, str]) -> list[str]:
    """Names of the modules loaded by both sides whose source hashes differ (sorted)."""
    return sorted(name for name in client.keys() & worker.keys() if client[name] != worker[name])
