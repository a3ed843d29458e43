"""Error types shared by every layer.

A leaf module (imports nothing from the package), so ``physics``, ``cohorts`` and
``economics`` may all raise the same error type without importing each other.

Every user-facing problem is an :class:`InputError` naming the offending field and its
value; the CLI turns it into one line per problem and exit code 2, the app into an
in-page message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class _Missing:
    """Sentinel shown for a required value that was not given."""

    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self):  # unpickles to the same sentinel
        return "MISSING"


MISSING = _Missing()


class InputError(ValueError):
    """Bad user input: names the field (dotted path) and the offending value.

    Parameters
    ----------
    field:
        Dotted path of the offending item, e.g. ``"economics.utilities.progressed"``.
    value:
        The value that was given (shown with ``repr``).
    message:
        What is wrong and, where possible, what would be accepted.
    """

    def __init__(self, field: str, value: Any, message: str) -> None:
        self.field = field
        self.value = value
        self.message = message
        super().__init__(self.line())

    def __reduce__(self):  # picklable across worker processes
        return (InputError, (self.field, self.value, self.message))

    def line(self) -> str:
        """One line for a human: ``field = value: message``."""
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.field} = {shown}: {self.message}"


class InputErrors(ValueError):
    """Several :class:`InputError` at once (validation reports every problem, not the first)."""

    def __init__(self, errors: Iterable[InputError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(e.line() for e in self.errors))

    def __reduce__(self):  # picklable across worker processes
        return (InputErrors, (self.errors,))

    def lines(self) -> list[str]:
        return [e.line() for e in self.errors]


class ModelError(RuntimeError):
    """A computation failed (non-convergence, non-finite values): never returned silently as NaN."""
