"""Streaming aggregates: large PSAs and trials reduced chunk by chunk, never holding every draw or patient.

Accumulators (``.add(chunk)`` is called by :func:`mhtcdt.decision.run.chunking.fold_chunks` in chunk
index order, so results do not depend on the executor or the number of workers; they depend on the
chunk size only through floating-point summation order, a relative difference of order 1e-15):

:class:`PSAAccumulator`
    per-strategy running mean and variance of cost and effect (Chan-Golub-LeVeque pairwise update),
    counts of draws in which each strategy has the highest net monetary benefit at each
    willingness-to-pay, and the running sum of the per-draw maximum NMB. These give exactly the
    quantities of :func:`mhtcdt.economics.ceac` and :func:`mhtcdt.economics.evpi` (EVPI = mean of the
    maximum NMB - maximum of the mean NMB) without keeping the draws.
    ``.summary()`` -> DataFrame ``strategy`` str, ``n_draws`` int64, ``mean_cost``, ``sd_cost``,
    ``mean_effect``, ``sd_effect`` float64 (cost in the model's currency, effect in QALYs or life-years);
    ``.ceac()`` -> DataFrame ``wtp``, ``strategy``, ``probability``, ``expected_nmb``, ``optimal`` (as
    :func:`mhtcdt.economics.ceac`); ``.evpi()`` -> DataFrame ``wtp``, ``evpi_per_patient``.
:class:`EventTable`
    per-arm counts of events and censorings at each distinct time (exact, or grouped up to a
    ``resolution_months`` grid): memory grows with the number of distinct times, not with patients
    times columns. ``.table()`` -> DataFrame ``arm`` str, ``time_months`` float64, ``events`` int64,
    ``censored`` int64, ``at_risk`` int64 (at risk just before the time); ``.kaplan_meier(endpoint)``
    -> survival-curve contract (``arm``, ``endpoint``, ``time_months``, ``survival``, ``ci_lower``,
    ``ci_upper`` (95 % log(-log) Greenwood, as lifelines), ``at_risk``); ``.median(arm)`` [months];
    ``.logrank(arm_a, arm_b)`` -> dict ``chi2``, ``p_value``, ``o_minus_e``, ``variance``,
    ``log_hr_peto`` (arm_b vs arm_a) with the same definitions as lifelines' ``logrank_test``.
:class:`ArmMeans`
    per-arm count, mean and SD of numeric columns; ``.frame()`` -> DataFrame ``arm``, ``column``,
    ``n`` int64, ``mean``, ``sd`` float64.
:class:`TrialAccumulator`
    a trial reduced per chunk (in the worker) by :func:`summarise_trial_chunk` to a
    :class:`TrialChunkSummary`: screened/eligible counts, PFS and OS event tables, arm means.

Drivers: :func:`psa_streamed` (PSA draws through a vectorised model, chunked over draws),
:func:`stream_trial` (any trial chunk function, chunked over screened patients) and
:func:`stream_scenario_trial` (a scenario's trial with every draw keyed by patient, through
:func:`scenario_trial_chunk`; simple randomisation and constant screening rate, see there).
A 1,000,000-patient trial streamed in chunks of 20,000 holds only the chunks in flight plus the
event tables (about 24 bytes per distinct time per arm and endpoint, or a fixed grid with
``resolution_months``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mhtcdt.decision.run import chunking
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng, root_sequence

Z_975 = 1.959963984540054


# --------------------------------------------------------------------------------------------------
# PSA
# --------------------------------------------------------------------------------------------------
def _merge_moments(n_a: int, mean_a: np.ndarray, m2_a: np.ndarray, n_b: int, mean_b: np.ndarray,
                   m2_b: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan, Golub & LeVeque (1979) pairwise update of count, mean and sum of squared deviations."""
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return n, mean, m2


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
        self.n, self._mean, self._m2 = _merge_moments(self.n, self._mean, self._m2, n_b, mean_b, m2_b)
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
        return pd.DataFrame({
            "strategy": self.strategies,
            "n_draws": np.full(len(self.strategies), self.n, dtype=np.int64),
            "mean_cost": self._mean[0], "sd_cost": sd[0],
            "mean_effect": self._mean[1], "sd_effect": sd[1],
        })

    def expected_nmb(self) -> np.ndarray:
        """(W, S) expected net monetary benefit."""
        return self.wtp[:, None] * self._mean[1][None] - self._mean[0][None]

    def ceac(self) -> pd.DataFrame:
        self._check()
        s = len(self.strategies)
        exp_nmb = self.expected_nmb()
        optimal = exp_nmb.argmax(axis=1)
        return pd.DataFrame({
            "wtp": np.repeat(self.wtp, s),
            "strategy": np.tile(np.array(self.strategies, dtype=object), self.wtp.size),
            "probability": (self._best / self.n).ravel(),
            "expected_nmb": exp_nmb.ravel(),
            "optimal": (np.arange(s)[None, :] == optimal[:, None]).ravel(),
        })

    def evpi(self) -> pd.DataFrame:
        self._check()
        per = self._sum_max_nmb / self.n - self.expected_nmb().max(axis=1)
        return pd.DataFrame({"wtp": self.wtp, "evpi_per_patient": np.maximum(per, 0.0)})


def _psa_chunk(start: int, stop: int, seed: Any, model: Callable[..., tuple[np.ndarray, np.ndarray]],
               distributions: Mapping[str, Any], psa_seed: int) -> tuple[np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------------------------------
# Event tables (survival)
# --------------------------------------------------------------------------------------------------
def _group_counts(times: np.ndarray, events: np.ndarray, censored: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(times, return_inverse=True)
    d = np.bincount(inverse, weights=events, minlength=uniq.size).astype(np.int64)
    c = np.bincount(inverse, weights=censored, minlength=uniq.size).astype(np.int64)
    return uniq, d, c


@dataclass
class _ArmCounts:
    times: np.ndarray = field(default_factory=lambda: np.empty(0))
    events: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    censored: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    pending_size: int = 0

    def compact(self) -> None:
        if not self.pending:
            return
        parts = [(self.times, self.events, self.censored), *self.pending]
        t = np.concatenate([p[0] for p in parts])
        d = np.concatenate([p[1] for p in parts])
        c = np.concatenate([p[2] for p in parts])
        self.times, self.events, self.censored = _group_counts(t, d, c)
        self.pending, self.pending_size = [], 0


class EventTable:
    """Per-arm event/censoring counts at distinct times for one endpoint (see module docstring).

    ``resolution_months=None`` keeps exact times (KM, log-rank and medians equal the patient-level
    computation); a positive value groups times up to the next multiple of it (interval-grouped
    data: bounded memory for any number of patients, estimates change by at most one grid step).
    """

    _COMPACT_AT = 1_000_000

    def __init__(self, resolution_months: float | None = None) -> None:
        if resolution_months is not None and not (resolution_months > 0 and math.isfinite(resolution_months)):
            raise InputError("resolution_months", resolution_months, "must be a positive number or None")
        self.resolution_months = resolution_months
        self._arms: dict[str, _ArmCounts] = {}

    def add_arm_data(self, arm: str, times: np.ndarray, events: np.ndarray) -> None:
        t = np.asarray(times, dtype=float)
        e = np.asarray(events, dtype=bool)
        if t.shape != e.shape or t.ndim != 1:
            raise InputError("times", t.shape, "times and events must be 1-D arrays of equal length")
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InputError("times", "non-finite or negative", "observed times must be finite and >= 0")
        if self.resolution_months is not None:
            t = np.ceil(t / self.resolution_months) * self.resolution_months
        counts = _group_counts(t, e.astype(np.int64), (~e).astype(np.int64))
        self.add_counts(arm, *counts)

    def add_counts(self, arm: str, times: np.ndarray, events: np.ndarray, censored: np.ndarray) -> None:
        """Merge already grouped counts (e.g. from a worker's chunk summary)."""
        entry = self._arms.setdefault(str(arm), _ArmCounts())
        entry.pending.append((np.asarray(times, float), np.asarray(events, np.int64),
                              np.asarray(censored, np.int64)))
        entry.pending_size += len(times)
        if entry.pending_size >= self._COMPACT_AT:
            entry.compact()

    def merge(self, other: EventTable) -> None:
        for arm, counts in other.arm_counts().items():
            self.add_counts(arm, *counts)

    def arm_counts(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = {}
        for arm, entry in self._arms.items():
            entry.compact()
            out[arm] = (entry.times, entry.events, entry.censored)
        return out

    @property
    def arms(self) -> list[str]:
        return list(self._arms)

    def _arm(self, arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if arm not in self._arms:
            raise InputError("arm", arm, f"no patients of this arm; arms: {', '.join(self._arms) or 'none'}")
        t, d, c = self.arm_counts()[arm]
        at_risk = (d + c).sum() - np.concatenate([[0], np.cumsum(d + c)[:-1]])
        return t, d, c, at_risk

    def n_patients(self, arm: str) -> int:
        t, d, c, _ = self._arm(arm)
        return int(d.sum() + c.sum())

    def table(self) -> pd.DataFrame:
        frames = []
        for arm in self._arms:
            t, d, c, n = self._arm(arm)
            frames.append(pd.DataFrame({"arm": arm, "time_months": t, "events": d, "censored": c,
                                        "at_risk": n.astype(np.int64)}))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["arm", "time_months", "events", "censored", "at_risk"])

    def kaplan_meier(self, endpoint: str = "OS") -> pd.DataFrame:
        """KM curves with 95 % log(-log) Greenwood bands, a row at time 0 and at each distinct time."""
        frames = []
        for arm in self._arms:
            t, d, c, n = self._arm(arm)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_s = np.cumsum(np.log1p(-d / n))
                surv = np.exp(log_s)
                greenwood = np.cumsum(np.where(n > d, d / (n * (n - d)), 0.0))
                half = Z_975 * np.sqrt(greenwood) / np.abs(log_s)
                loglog = np.log(-log_s)
                lower = np.where(surv > 0, np.exp(-np.exp(loglog + half)), 0.0)
                upper = np.where(surv > 0, np.exp(-np.exp(loglog - half)), 0.0)
            lower = np.where(log_s == 0, 1.0, lower)
            upper = np.where(log_s == 0, 1.0, upper)
            head = 1 if (t.size == 0 or t[0] > 0) else 0  # a time-0 row unless data start at 0
            frames.append(pd.DataFrame({
                "arm": arm, "endpoint": endpoint,
                "time_months": np.r_[[0.0] * head, t], "survival": np.r_[[1.0] * head, surv],
                "ci_lower": np.r_[[1.0] * head, lower], "ci_upper": np.r_[[1.0] * head, upper],
                "at_risk": np.r_[[n[0] if n.size else 0] * head, n].astype(np.int64),
            }))
        return pd.concat(frames, ignore_index=True)

    def median(self, arm: str) -> float:
        """KM median [months]: first time with S <= 0.5; ``inf`` if not reached (as lifelines)."""
        t, d, c, n = self._arm(arm)
        with np.errstate(divide="ignore"):
            surv = np.exp(np.cumsum(np.log1p(-d / n)))
        hit = np.nonzero(surv <= 0.5)[0]
        return float(t[hit[0]]) if hit.size else math.inf

    def logrank(self, arm_a: str, arm_b: str) -> dict[str, float]:
        """Two-group log-rank test of ``arm_b`` vs ``arm_a`` (O-E, variance and Peto log HR of ``arm_b``)."""
        ta, da, ca, _ = self._arm(arm_a)
        tb, db, cb, _ = self._arm(arm_b)
        times = np.union1d(ta, tb)

        def on_grid(t, d, c):
            dd = np.zeros(times.size, dtype=np.int64)
            cc = np.zeros(times.size, dtype=np.int64)
            pos = np.searchsorted(times, t)
            dd[pos], cc[pos] = d, c
            removed = dd + cc
            at_risk = removed.sum() - np.concatenate([[0], np.cumsum(removed)[:-1]])
            return dd, at_risk

        d0, n0 = on_grid(ta, da, ca)
        d1, n1 = on_grid(tb, db, cb)
        d, n = d0 + d1, n0 + n1
        use = (d > 0) & (n > 0)
        d, n = d[use].astype(float), n[use].astype(float)
        d1, n1 = d1[use].astype(float), n1[use].astype(float)
        expected = d * n1 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1), 0.0)
        o_e, v = float((d1 - expected).sum()), float(var.sum())
        chi2 = o_e * o_e / v if v > 0 else 0.0
        return {"chi2": chi2, "p_value": float(stats.chi2.sf(chi2, 1)) if v > 0 else 1.0,
                "o_minus_e": o_e, "variance": v, "log_hr_peto": o_e / v if v > 0 else math.nan}


# --------------------------------------------------------------------------------------------------
# Per-arm means
# --------------------------------------------------------------------------------------------------
class ArmMeans:
    """Per-arm count, mean and SD of numeric columns (pairwise-merged moments)."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], tuple[int, float, float]] = {}

    def add_frame(self, df: pd.DataFrame, columns: Sequence[str], arm_column: str = "arm") -> None:
        for arm, part in df.groupby(arm_column, sort=True, observed=True):
            for col in columns:
                x = part[col].to_numpy(dtype=float)
                x = x[np.isfinite(x)]
                if x.size:
                    mean = float(x.mean())
                    self.add_moments(str(arm), col, x.size, mean, float(((x - mean) ** 2).sum()))

    def add_moments(self, arm: str, column: str, n: int, mean: float, m2: float) -> None:
        key = (arm, column)
        if key in self._state:
            n0, mean0, m20 = self._state[key]
            n_, mean_, m2_ = _merge_moments(n0, np.float64(mean0), np.float64(m20), n, np.float64(mean),
                                            np.float64(m2))
            self._state[key] = (n_, float(mean_), float(m2_))
        else:
            self._state[key] = (int(n), float(mean), float(m2))

    def merge(self, other: ArmMeans) -> None:
        for (arm, col), (n, mean, m2) in other._state.items():
            self.add_moments(arm, col, n, mean, m2)

    def frame(self) -> pd.DataFrame:
        rows = [(arm, col, n, mean, math.sqrt(m2 / (n - 1)) if n > 1 else math.nan)
                for (arm, col), (n, mean, m2) in sorted(self._state.items())]
        return pd.DataFrame(rows, columns=["arm", "column", "n", "mean", "sd"]).astype({"n": np.int64})


# --------------------------------------------------------------------------------------------------
# Trials
# --------------------------------------------------------------------------------------------------
@dataclass
class TrialChunkSummary:
    """What a worker sends back for one chunk of screened patients (small, whatever the chunk size)."""

    n_screened: int
    n_eligible: int
    pfs: EventTable
    os: EventTable
    means: ArmMeans


def summarise_trial_chunk(trial: pd.DataFrame, n_screened: int, *, mean_columns: Sequence[str] = (),
                          resolution_months: float | None = None) -> TrialChunkSummary:
    """Reduce trial patients (contract section 3: ``arm``, ``pfs_months``, ``pfs_event``, ``os_months``,
    ``os_event``) to event tables and arm means."""
    pfs, os_ = EventTable(resolution_months), EventTable(resolution_months)
    for arm, part in trial.groupby("arm", sort=True, observed=True):
        pfs.add_arm_data(str(arm), part["pfs_months"].to_numpy(), part["pfs_event"].to_numpy())
        os_.add_arm_data(str(arm), part["os_months"].to_numpy(), part["os_event"].to_numpy())
    means = ArmMeans()
    means.add_frame(trial, [c for c in mean_columns if c in trial.columns])
    return TrialChunkSummary(int(n_screened), len(trial), pfs, os_, means)


class TrialAccumulator:
    """Merges :class:`TrialChunkSummary` objects in chunk order."""

    def __init__(self, resolution_months: float | None = None) -> None:
        self.n_screened = 0
        self.n_eligible = 0
        self.pfs = EventTable(resolution_months)
        self.os = EventTable(resolution_months)
        self.means = ArmMeans()

    def add(self, chunk: TrialChunkSummary) -> None:
        self.n_screened += chunk.n_screened
        self.n_eligible += chunk.n_eligible
        self.pfs.merge(chunk.pfs)
        self.os.merge(chunk.os)
        self.means.merge(chunk.means)

    def survival_summary(self) -> pd.DataFrame:
        """arm, endpoint, n, events, median_months (KM; inf if not reached)."""
        rows = []
        for endpoint, table in (("PFS", self.pfs), ("OS", self.os)):
            for arm in table.arms:
                _, d, c, _ = table._arm(arm)
                rows.append((arm, endpoint, int(d.sum() + c.sum()), int(d.sum()), table.median(arm)))
        return pd.DataFrame(rows, columns=["arm", "endpoint", "n", "events", "median_months"])


def stream_trial(
    chunk_func: Callable[..., pd.DataFrame],
    n_screened: int,
    seed: int | np.random.SeedSequence,
    *,
    executor: Any = None,
    chunk_size: int = 50_000,
    mean_columns: Sequence[str] = (),
    resolution_months: float | None = None,
    **options: Any,
) -> TrialAccumulator:
    """A trial of ``n_screened`` screened patients, chunked over patients and streamed into a
    :class:`TrialAccumulator`; the full patient table never exists in memory.

    ``chunk_func(start, stop, seed)`` returns the randomised, followed-up trial patients (contract
    section 3) among screened patients ``start .. stop-1``, with every random draw keyed by
    ``patient_id``: see :func:`keyed_trial_chunk`. Each worker reduces its chunk to event tables
    and arm means before sending it back.
    """
    func = functools.partial(_trial_chunk, chunk_func=chunk_func, mean_columns=tuple(mean_columns),
                             resolution_months=resolution_months)
    acc = TrialAccumulator(resolution_months)
    return chunking.fold_chunks(func, int(n_screened), acc, chunk_size, seed, executor, **options)


def _trial_chunk(start: int, stop: int, seed: Any, chunk_func: Callable[..., pd.DataFrame],
                 mean_columns: tuple[str, ...], resolution_months: float | None) -> TrialChunkSummary:
    trial = chunk_func(start, stop, seed)
    return summarise_trial_chunk(trial, stop - start, mean_columns=mean_columns,
                                 resolution_months=resolution_months)


# Stream keys of the streamed scenario trial (distinct from the pipeline's 0..5: a streamed trial
# randomises per patient, so it is a different, chunkable trial, not a chunked copy of the pipeline's).
_TRIAL_COHORT, _TRIAL_RANDOMISE, _TRIAL_PHYSICS, _TRIAL_OUTCOME, _TRIAL_FOLLOW_UP = 100, 101, 102, 103, 104


def _stage(seed: Any, stream: int, *extra: int) -> np.random.SeedSequence:
    root = root_sequence(seed)
    return np.random.SeedSequence(entropy=root.entropy, spawn_key=(*root.spawn_key, stream, *extra))


def scenario_trial_chunk(start: int, stop: int, seed: Any, *, scenario: Any, n_screened: int,
                         screened_per_month: float | None = None) -> pd.DataFrame:
    """Trial patients (contract section 3) among screened patients ``start .. stop-1`` of a scenario,
    every random draw keyed by ``patient_id`` so that any chunking gives the same trial.

    Differences from :func:`mhtcdt.decision.run.pipeline.run_pipeline` (whose permuted blocks and
    Poisson accrual are sequential over the whole trial and cannot be chunked):

    * simple randomisation with the scenario's allocation ratio, one keyed uniform per patient
      (no blocks, no strata; ``stratum`` is ``"all"``);
    * screening at a constant ``screened_per_month`` (default: the scenario's
      ``accrual_per_month``): patient ``i`` enters at ``i / screened_per_month`` months and the data
      cut-off is ``n_screened / screened_per_month + min_follow_up_months``, known to every chunk.

    Cohort (``generate_cohort(..., start=start)``), physics (``simulate_protocol``, keyed by patient),
    outcomes (``outcome.simulate_outcomes``) and follow-up (``design.apply_follow_up``) are the
    package's own; this function only chains them per chunk.
    """
    from dataclasses import replace

    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.model import outcome
    from mhtcdt.decision.scenario.checks import protocol_for_arm, trial_design
    from mhtcdt.decision.trial.design import apply_follow_up
    from mhtcdt.physics import simulate_protocol

    rate = float(screened_per_month or scenario.trial.accrual_per_month)
    if not (rate > 0 and math.isfinite(rate)):
        raise InputError("screened_per_month", screened_per_month, "must be a positive number")
    design = replace(trial_design(scenario),
                     data_cutoff_months=n_screened / rate + scenario.trial.min_follow_up_months)
    cohort_seed = _stage(seed, _TRIAL_COHORT)
    cohort = generate_cohort(scenario.cohort.indication, stop - start, cohort_seed, start=start)
    eligible = apply_criteria(cohort, scenario.cohort.criteria).eligible.reset_index(drop=True)
    del cohort
    pid = eligible["patient_id"].to_numpy(np.int64)
    arms = scenario.randomised_arms
    weights = np.array([float(scenario.trial.allocation[a.name]) for a in arms])
    edges = np.cumsum(weights / weights.sum())
    rand = _stage(seed, _TRIAL_RANDOMISE)
    u = np.array([child_rng(rand, int(i)).random() for i in pid])
    arm_index = np.minimum(np.searchsorted(edges, u, side="right"), len(arms) - 1)
    parts = []
    for k, arm in enumerate(arms):
        patients = eligible[arm_index == k]
        if len(patients) == 0:
            continue
        protocol = protocol_for_arm(arm)
        physics = simulate_protocol(patients, protocol, _stage(seed, _TRIAL_PHYSICS, k))
        extra = [c for c in physics.columns if c not in patients.columns or c == "patient_id"]
        treated = patients.merge(physics[extra], on="patient_id", how="left", validate="one_to_one")
        treated["arm"] = arm.name
        treated["stratum"] = "all"
        treated["treatment_months"] = outcome.treatment_months(protocol)
        parts.append(treated)
    if not parts:
        return eligible.assign(arm=pd.Series(dtype=str), pfs_months=pd.Series(dtype=float),
                               pfs_event=pd.Series(dtype=bool), os_months=pd.Series(dtype=float),
                               os_event=pd.Series(dtype=bool))
    treated = pd.concat(parts, ignore_index=True).sort_values("patient_id", kind="stable", ignore_index=True)
    treated["entry_months"] = treated["patient_id"].to_numpy(float) / rate
    latent = outcome.simulate_outcomes(treated, None, _stage(seed, _TRIAL_OUTCOME))
    return apply_follow_up(latent, design, _stage(seed, _TRIAL_FOLLOW_UP))


def stream_scenario_trial(scenario: Any, n_screened: int, seed: int, *, executor: Any = None,
                          chunk_size: int = 20_000, screened_per_month: float | None = None,
                          mean_columns: Sequence[str] = ("log10_kill_total", "t90_C", "age_years"),
                          resolution_months: float | None = None, **options: Any) -> TrialAccumulator:
    """A scenario's trial with ``n_screened`` screened patients, streamed (see
    :func:`scenario_trial_chunk` for how it differs from the pipeline's trial)."""
    if isinstance(n_screened, bool) or int(n_screened) < 1:
        raise InputError("n_screened", n_screened, "must be an integer >= 1")
    func = functools.partial(scenario_trial_chunk, scenario=scenario, n_screened=int(n_screened),
                             screened_per_month=screened_per_month)
    return stream_trial(func, int(n_screened), seed, executor=executor, chunk_size=chunk_size,
                        mean_columns=mean_columns, resolution_months=resolution_months, **options)
