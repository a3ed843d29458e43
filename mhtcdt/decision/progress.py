"""Progress reporting for long runs.

The pipeline reports progress through a plain callable ``progress(stage: str, fraction: float)``
with ``fraction`` in [0, 1] for the whole run, so the same pipeline drives a terminal bar
(:class:`TqdmProgress`), a Streamlit progress bar, or nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

ProgressCallback = Callable[[str, float], None]


class TqdmProgress:
    """Context manager giving a ``progress(stage, fraction)`` callable backed by a tqdm bar (0-100 %)."""

    def __init__(self, disable: bool = False) -> None:
        self._bar = tqdm(total=100, unit="%", disable=disable, bar_format="{l_bar}{bar}| {elapsed}")
        self._done = 0.0

    def __enter__(self) -> TqdmProgress:
        return self

    def __call__(self, stage: str, fraction: float) -> None:
        pct = max(0.0, min(100.0, 100.0 * fraction))
        self._bar.set_description_str(stage[:40].ljust(40))
        if pct > self._done:
            self._bar.update(pct - self._done)
            self._done = pct

    def __exit__(self, *exc) -> None:
        self._bar.close()


def sub_progress(progress: ProgressCallback | None, stage: str, start: float, stop: float) -> Callable[[float], None]:
    """Map a stage-local fraction in [0, 1] onto [start, stop] of the whole run."""

    def report(fraction: float) -> None:
        if progress is not None:
            progress(stage, start + (stop - start) * max(0.0, min(1.0, fraction)))

    return report
