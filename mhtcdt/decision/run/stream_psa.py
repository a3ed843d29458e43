"""A large PSA reduced chunk by chunk: running summaries, never holding every draw.

:class:`PSAAccumulator` (``.add(chunk)`` is called by :func:`mhtcdt.decision.run.chunking.fold_chunks`
in chunk index order, so results do not depend on the executor or the number of workers; they depend
on the chunk size only through floating-point summation order, a relative difference of order 1e-15)
keeps per-strategy running mean and variance of cost and effect (Chan-Golub-LeVeque pairwise update),
counts of draws in which each strategy has the highest net monetary benefit at each
willingness-to-pay, and the running sum of the per-draw maximum NMB. These give exactly the
quantities of :func:`mhtcdt.economics.ceac` and :func:`mhtcdt.economics.evpi` (EVPI = mean of the
maximum NMB - maximum of the mean NMB) without keeping the draws.
``.summary()`` -> DataFrame ``strategy`` str, ``n_draws`` int64, ``mean_cost``, ``sd_cost``,
``mean_effect``, ``sd_effect`` float64 (cost in the model's currency, effect in QALYs or life-years);
``.ceac()`` -> DataFrame ``wtp``, ``strategy``, ``probability``, ``expected_nmb``, ``optimal`` (as
:func:`mhtcdt.economics.ceac`); ``.evpi()`` -> DataFrame ``wtp``, ``evpi_per_patient``.

Driver: :func:`psa_streamed` (PSA draws through a vectorised model, chunked over draws).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.run import chunking
from mhtcdt.decision.run.event_tables import merge_moments
from mhtcdt.errors import InputError


class PSAAccumulator:
    """Running PSA summaries over chunks of draws (see module docstring).

    ``add((cost, effect))`` with arrays of shape (draws in chunk, n strategies).
    """

    def __init__(self, strategies: Sequence[str], wtp: Sequence[float] | np.ndarray) -> None:
        self.strategies = [str(s) for s in strategies]
        if not self.strategies:
            raise InputError("strategies", strategies, "need at least one strategy")
        self.wtp = np.atleast_1d(np.asarray(wtp, dtype=float))
        if self.wtp.ndim != 1 or not np.all(np.isfinite(self.wtp)) or np.any(self.wtp < 0):
            raise InputError("wtp", wtp, "willingness to pay must be finite values >= 0")
        s = len(self.strategies)
        self.n = 0
        self._mean = np.zeros((2, s))
        self._m2 = np.zeros((2, s))
        self._best = np.zeros((self.wtp.size, s), dtype=np.int64)
        self._sum_max_nmb = np.zeros(self.wtp.size)

    def add(self, chunk: tuple[np.ndarray, np.ndarray]) -> None:
        cost, effect = (np.asarray(a, dtype=float) for a in chunk)
        s = len(self.strategies)
        if cost.shape != effect.shape or cost.ndim != 2 or cost.shape[1] != s:
            raise InputError("psa_chunk", (cost.shape, effect.shape), f"cost and effect must be (draws, {s})")
        if not (np.all(np.isfinite(cost)) and np.all(np.isfinite(effect))):
            raise InputError("psa_chunk", "non-finite", "the model returned non-finite costs or effects")
        n_b = cost.shape[0]
        if n_b == 0:
            return
        both = np.stack([cost, effect])  # (2, D, S)
        mean_b = both.mean(axis=1)
        m2_b = ((both - mean_b[:, None, :]) ** 2).sum(axis=1)
        self.n, self._mean, self._m2 = merge_moments(self.n, self._mean, self._m2, n_b, mean_b, m2_b)
        nmb = self.wtp[:, None, None] * effect[None] - cost[None]  # (W, D, S)
        best = nmb.argmax(axis=2)  # ties to the first strategy, as economics.ceac
        for j in range(s):
            self._best[:, j] += np.count_nonzero(best == j, axis=1)
        self._sum_max_nmb += nmb.max(axis=2).sum(axis=1)

    def _check(self) -> None:
        if self.n == 0:
            raise InputError("n_draws", 0, "no PSA draw was accumulated")

    def summary(self) -> pd.DataFrame:
        self._check()
        sd = np.sqrt(self._m2 / max(1, self.n - 1))
        return pd.DataFrame(
            {
                "strategy": self.strategies,
                "n_draws": np.full(len(self.strategies), self.n, dtype=np.int64),
                "mean_cost": self._mean[0],
                "sd_cost": sd[0],
                "mean_effect": self._mean[1],
                "sd_effect": sd[1],
            }
        )

    def expected_nmb(self) -> np.ndarray:
        """(W, S) expected net monetary benefit."""
        return self.wtp[:, None] * self._mean[1][None] - self._mean[0][None]

    def ceac(self) -> pd.DataFrame:
        self._check()
        s = len(self.strategies)
        exp_nmb = self.expected_nmb()
        optimal = exp_nmb.argmax(axis=1)
        return pd.DataFrame(
            {
                "wtp": np.repeat(self.wtp, s),
                "strategy": np.tile(np.array(self.strategies, dtype=object), self.wtp.size),
                "probability": (self._best / self.n).ravel(),
                "expected_nmb": exp_nmb.ravel(),
                "optimal": (np.arange(s)[None, :] == optimal[:, None]).ravel(),
            }
        )

    def evpi(self) -> pd.DataFrame:
        self._check()
        per = self._sum_max_nmb / self.n - self.expected_nmb().max(axis=1)
        return pd.DataFrame({"wtp": self.wtp, "evpi_per_patient": np.maximum(per, 0.0)})


def _psa_chunk(
    start: int,
    stop: int,
    seed: Any,
    model: Callable[..., tuple[np.ndarray, np.ndarray]],
    distributions: Mapping[str, Any],
    psa_seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Worker side: draws ``start .. stop-1`` (economics.sample_psa keys them by draw) through ``model``."""
    from mhtcdt.economics import sample_psa

    params = sample_psa(distributions, stop - start, psa_seed, start=start)
    cost, effect = model(params)
    return np.asarray(cost, dtype=float), np.asarray(effect, dtype=float)


def psa_streamed(
    model: Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]],
    distributions: Mapping[str, Any],
    n_draws: int,
    seed: int,
    *,
    strategies: Sequence[str],
    wtp: Sequence[float] | np.ndarray,
    executor: Any = None,
    chunk_size: int = 2048,
    **options: Any,
) -> PSAAccumulator:
    """A PSA of ``n_draws`` draws, chunked over draws and streamed into a :class:`PSAAccumulator`.

    ``model(params)`` receives ``{name: array (draws, ...)}`` from :func:`mhtcdt.economics.sample_psa`
    and returns ``(cost, effect)`` arrays of shape (draws, strategies), vectorised over draws (e.g. a
    wrapper around ``economics.run_partitioned_survival_draws`` or ``run_markov``). It must be
    picklable (module-level function or ``functools.partial``). The chunk size is fixed (not derived
    from the worker count) so every executor sums in the same order: identical results bit for bit.
    """
    if isinstance(n_draws, bool) or int(n_draws) < 1:
        raise InputError("n_draws", n_draws, "must be an integer >= 1")
    func = functools.partial(_psa_chunk, model=model, distributions=dict(distributions), psa_seed=int(seed))
    acc = PSAAccumulator(strategies, wtp)
    return chunking.fold_chunks(func, int(n_draws), acc, chunk_size, seed, executor, **options)
