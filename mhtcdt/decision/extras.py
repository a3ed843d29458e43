"""Optional dependencies (pip extras) and the one message that names the extra to install.

The core install (``pip install mhtcdt``) runs scenarios end to end (``mhtcdt run``, ``demo``,
``validate``, ``calibrate``, ``power``) and writes the run folder. Other features import their library
lazily, through :func:`require`, which raises :class:`MissingExtra` (an
:class:`~mhtcdt.errors.InputError`: exit code 2 on the CLI, an in-page message in the app) naming the
extra:

=========  ===========================  ===========================================================
extra      libraries                    needed by
=========  ===========================  ===========================================================
``app``    streamlit                    ``mhtcdt app`` (the Streamlit front end)
``dask``   dask[distributed]            ``--executor dask`` / ``--scheduler`` / ``$DASK_SCHEDULER_ADDRESS``
``store``  duckdb, pyarrow              the run store: recording runs, ``mhtcdt runs ...``
``report`` openpyxl                     the Excel workbook of ``--report`` and the app's download
``all``    every extra above
=========  ===========================  ===========================================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mhtcdt.errors import InputError

#: extra -> the modules it installs (import names)
EXTRAS = {
    "app": ("streamlit",),
    "dask": ("dask", "distributed"),
    "store": ("duckdb", "pyarrow"),
    "report": ("openpyxl",),
}


class MissingExtra(InputError):
    """A feature needs an optional dependency that is not installed; the message says what to install."""

    def __init__(self, extra: str, purpose: str, module: str) -> None:
        super().__init__("extra", extra, f"{purpose} needs {module}: pip install 'mhtcdt[{extra}]'")
        self.extra, self.purpose, self.module = extra, purpose, module

    def __reduce__(self):  # picklable across worker processes
        return (MissingExtra, (self.extra, self.purpose, self.module))

    def line(self) -> str:
        """One line for a human: what needs which library and the pip command that installs it."""
        return self.message


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` (one of :data:`EXTRAS` ``[extra]``) or raise :class:`MissingExtra`.

    ``purpose`` names what needs it, e.g. ``"mhtcdt app"``.
    """
    if module not in EXTRAS.get(extra, ()):
        raise ValueError(f"{module!r} is not part of the extra {extra!r}")  # a programming error
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(extra, purpose, module) from None


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported."""
    try:
        for module in EXTRAS[extra]:
            require(module, extra, extra)
    except MissingExtra:
        return False
    return True
