"""What every ``mhtcdt`` command shares: one-line argument errors, argument types, bounded problem lists,
text safe for terminals, and quiet broken pipes.

* :class:`Parser` prints a bad argument as one line, ``mhtcdt run: error: argument --seed: ... (see
  'mhtcdt run --help')``, naming the subcommand, and exits with 2.
* The argument types (:func:`seed`, :func:`positive_int`, :func:`probability`, :func:`port` ...) turn
  a value out of range into such a line before any work (``--seed -1``, ``--seed 2**64``,
  ``--pool-size 0``).
* :func:`print_problems` prints at most :data:`MAX_PROBLEM_LINES` problems and how many more there are
  (a file with 500,000 unknown keys gives a short message, not megabytes), with control characters escaped.
* :func:`quiet_broken_pipe`: ``mhtcdt runs list | head -n0`` ends quietly with exit code 0.
"""

from __future__ import annotations

import argparse
import os
import sys

from mhtcdt.decision.report.cells import terminal_safe
from mhtcdt.errors import InputError, InputErrors

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
MAX_PROBLEM_LINES = 20
#: seeds are 64-bit signed integers in the store and the scenario schema
MAX_SEED = 2**63 - 1


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the (sub)command, with exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {terminal_safe(message)} (see '{self.prog} --help')\n")


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def seed(text: str) -> int:
    """A master seed: a whole number from 0 to 2^63 - 1."""
    value = _whole(text, "a whole number from 0 to 2^63 - 1")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2^63 - 1, got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _whole(text, "a whole number >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def psa_draws(text: str) -> int:
    """0 (no PSA) or the number of PSA draws, at least the EVPPI regression's minimum."""
    from mhtcdt.economics.voi import MIN_EVPPI_DRAWS

    value = _whole(text, "a whole number")
    if value != 0 and not MIN_EVPPI_DRAWS <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(
            f"expected 0 (no PSA) or {MIN_EVPPI_DRAWS} to 1,000,000 draws (EVPPI needs {MIN_EVPPI_DRAWS}), got {text}"
        )
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    value = _whole(text, "a port number from 1 to 65535")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text}")
    return value


def problem_lines(exc: InputError | InputErrors) -> list[str]:
    """The lines of one or several problems (``field = value: message``), at most
    :data:`MAX_PROBLEM_LINES` and a line saying how many more, control characters escaped."""
    lines = exc.lines() if isinstance(exc, InputErrors) else [exc.line()]
    shown = [terminal_safe(line) for line in lines[:MAX_PROBLEM_LINES]]
    if len(lines) > MAX_PROBLEM_LINES:
        shown.append(f"... and {len(lines) - MAX_PROBLEM_LINES:,} more problem(s)")
    return shown


def print_problems(exc: InputError | InputErrors, *, header: bool = True) -> int:
    """Print the problems on stderr (:func:`problem_lines`); returns exit code 2."""
    lines = problem_lines(exc)
    n = len(exc.errors) if isinstance(exc, InputErrors) else 1
    if header:
        print(f"error: {n:,} problem(s):", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
    else:
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def quiet_broken_pipe() -> int:
    """After a ``BrokenPipeError`` on stdout (the reader, e.g. ``head``, has gone): point stdout at
    /dev/null so that the interpreter's last flush cannot fail again, and end with exit code 0 (the
    Python documentation's recipe, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK
