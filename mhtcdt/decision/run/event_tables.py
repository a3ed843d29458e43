"""Survival data reduced to counts: merged chunk by chunk, never holding every patient.

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
:func:`merge_moments`
    Chan, Golub & LeVeque (1979) pairwise update of count, mean and sum of squared deviations (also
    used by the streamed PSA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from mhtcdt.errors import InputError

Z_975 = 1.959963984540054


def merge_moments(
    n_a: int, mean_a: np.ndarray, m2_a: np.ndarray, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan, Golub & LeVeque (1979) pairwise update of count, mean and sum of squared deviations."""
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return n, mean, m2


def _group_counts(
    times: np.ndarray, events: np.ndarray, censored: np.ndarray
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
        entry.pending.append((np.asarray(times, float), np.asarray(events, np.int64), np.asarray(censored, np.int64)))
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
            frames.append(
                pd.DataFrame({"arm": arm, "time_months": t, "events": d, "censored": c, "at_risk": n.astype(np.int64)})
            )
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["arm", "time_months", "events", "censored", "at_risk"])
        )

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
            frames.append(
                pd.DataFrame(
                    {
                        "arm": arm,
                        "endpoint": endpoint,
                        "time_months": np.r_[[0.0] * head, t],
                        "survival": np.r_[[1.0] * head, surv],
                        "ci_lower": np.r_[[1.0] * head, lower],
                        "ci_upper": np.r_[[1.0] * head, upper],
                        "at_risk": np.r_[[n[0] if n.size else 0] * head, n].astype(np.int64),
                    }
                )
            )
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
        return {
            "chi2": chi2,
            "p_value": float(stats.chi2.sf(chi2, 1)) if v > 0 else 1.0,
            "o_minus_e": o_e,
            "variance": v,
            "log_hr_peto": o_e / v if v > 0 else math.nan,
        }


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
            n_, mean_, m2_ = merge_moments(n0, np.float64(mean0), np.float64(m20), n, np.float64(mean), np.float64(m2))
            self._state[key] = (n_, float(mean_), float(m2_))
        else:
            self._state[key] = (int(n), float(mean), float(m2))

    def merge(self, other: ArmMeans) -> None:
        for (arm, col), (n, mean, m2) in other._state.items():
            self.add_moments(arm, col, n, mean, m2)

    def frame(self) -> pd.DataFrame:
        rows = [
            (arm, col, n, mean, math.sqrt(m2 / (n - 1)) if n > 1 else math.nan)
            for (arm, col), (n, mean, m2) in sorted(self._state.items())
        ]
        return pd.DataFrame(rows, columns=["arm", "column", "n", "mean", "sd"]).astype({"n": np.int64})
