"""Emulator of the physics-to-kill map of one arm's patients over the uncertain physics inputs of the PSA.

Re-running the physics for every PSA draw is too slow (a few seconds per arm and draw), so each arm gets an
emulator built from a small design of physics runs on the trial's own patients, seeds and assumptions
(common random numbers: every run uses the same per-patient draws as the trial).

1. **Stages.** Each uncertain input acts at one stage of :mod:`mhtcdt.physics.chain`
   (:mod:`mhtcdt.decision.scenario.uncertain_inputs`): ``heat`` inputs (SLP, deposit coverage, perfusion)
   need new bioheat solves, ``chemistry`` inputs (Fenton, ferroptosis rates) new chemistry solves, ``kill``
   inputs (thermotolerance preset, thermal radiosensitisation, infiltrative share) act after the solves
   (:func:`mhtcdt.physics.chain.combine_stage`, milliseconds), ``outcome`` inputs are not physics.
2. **What is emulated.** Per patient ``y`` = the log10 kill of the tumour core beyond RT
   (``log10_kill_total - log10_kill_rt`` with no infiltrative clonogens), capped at ``cap`` (the core's
   surviving fraction below 10^-cap is negligible next to the smallest infiltrative share the physics allows,
   1e-4: ``cap = 8``; 30 when the share can be 0). The infiltrative share is **not** emulated: its clonogens
   receive RT only, so the tumour survives as ``S = (1 - f) S_core + f S_rt`` exactly, with ``f`` the
   patient's share at the draw's median (:func:`mhtcdt.physics.chain.infiltrative_fractions`) and the two
   elements combined as :func:`mhtcdt.physics.kill.combine_kill` does. RT kill does not depend on any input.
3. **Relevance.** An input that changes no patient's capped ``y`` by more than ``RELEVANCE_TOL`` at its 0.6 %
   and 99.4 % quantiles (normal scores +-2.5, the others at their medians) is dropped from the design. The
   chemistry is *frozen* (solved once at the centre and reused with every heat solve) unless the CDT kill
   at the centre exceeds ``RELEVANCE_TOL`` or a chemistry input is strong.
4. **Design** in normal scores ``z = Phi^-1(F(x))`` of the relevant solve inputs, centred on their medians
   (the centre's solve is reused by the stages an input does not change): the axial points at
   ``+-AXIAL_SCORE`` (they are the relevance probes), then for the *strong* inputs (largest effect above
   ``WEAK_TOL``) the inner axial points at ``+-INNER_AXIAL_SCORE`` and the corners of the box at
   ``+-CORNER_SCORE`` (a scrambled Sobol set when there are more than 4 strong inputs). Patients whose ``y``
   exceeds ``cap + SATURATION_MARGIN`` at the centre and every axial point are saturated (their deposit is
   sterilised whatever the inputs) and are not solved again off the axes when at least a quarter are (a
   subset needs its own centre solve). *Weak* inputs (effect above ``RELEVANCE_TOL``, at most ``WEAK_TOL``)
   enter additively: a quadratic in their score through each patient's three axial values. At every solved
   point the cheap kill stage is evaluated for each level of the discrete kill inputs and at scores -2.5, 0,
   2.5 of each continuous kill input.
5. **Interpolation.** Per level of the discrete inputs, :class:`scipy.interpolate.RBFInterpolator`
   (thin-plate spline with a linear trend, exact at the design points) of the core's surviving fraction
   beyond RT, ``10^-y``, one output per patient (it mixes linearly with the infiltrative clonogens and has no
   kink where a deposit becomes sterilised; interpolating ``y`` itself was about twice as far from direct
   simulation); predictions are clipped to [10^-cap, 1].

:func:`emulator_error` compares the emulator with direct simulation (:func:`direct_kill`) on held-out draws.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import RBFInterpolator
from scipy.stats import qmc

from mhtcdt.decision.scenario.uncertain_inputs import UncertainInput
from mhtcdt.errors import InputError
from mhtcdt.physics import Assumptions, chain

LN10 = math.log(10.0)
RELEVANCE_TOL = 1e-3  # log10 kill
AXIAL_SCORE = 2.5
CORNER_SCORE = 1.5
INNER_AXIAL_SCORE = 1.25
KILL_NODE_SCORES = (-2.5, 0.0, 2.5)
SATURATION_MARGIN = 1.0
WEAK_TOL = 0.05  # log10 kill: inputs moving no patient more than this enter additively
SHARE_FLOOR = 1e-4  # smallest infiltrative share the physics draws for a positive median (chain.py clip)
INFILTRATIVE_FIELD = "infiltrative_clonogen_fraction"


def assumptions_for(base: Assumptions, inputs: Mapping[str, UncertainInput], values: Mapping[str, Any]) -> Assumptions:
    """``base`` with the physics inputs of one draw set (``values``: input name -> value; a ``choice``
    input by the index of its choice). Outcome inputs are ignored (they are not physics)."""
    changes: dict[str, Any] = {}
    overrides = dict(base.chemistry_overrides)
    for name, value in values.items():
        item = inputs[name]
        dist = item.distribution
        v = dist.choices[int(value)] if dist.is_discrete else (float(value) if _numeric(value) else value)
        if item.target_kind == "assumptions":
            changes[item.target_name] = v
        elif item.target_kind == "chemistry":
            overrides[item.target_name] = v
    if overrides != base.chemistry_overrides:
        changes["chemistry_overrides"] = overrides
    return replace(base, **changes) if changes else base


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


@dataclass
class EmulatorReport:
    """How an arm's emulator was built (for the report and run.json)."""

    arm: str
    n_patients: int
    dims: list[str]
    weak: list[str]
    effects: dict[str, float]
    dropped: dict[str, str]
    chemistry_frozen: bool
    n_solves: int
    n_patient_solves: int
    n_combines: int
    cap: float
    seconds: float
    saturated_share: float = 0.0
    notes: list[str] = field(default_factory=list)


class ArmEmulator:
    """The emulated physics of one arm (see the module docstring).

    ``patients``: the arm's cohort rows (the trial's patients of that arm); ``protocol`` and ``seed``: the
    arm's physics protocol and seed as in the trial; ``base``: the run's Assumptions (a scenario's
    ``[assumptions]``); ``inputs``: the PSA's uncertain inputs (name -> :class:`UncertainInput`).
    """

    def __init__(
        self,
        arm: str,
        patients: pd.DataFrame,
        protocol: Any,
        seed: Any,
        base: Assumptions,
        inputs: Mapping[str, UncertainInput],
        progress: Callable[[float], None] | None = None,
    ) -> None:
        clock = time.perf_counter()
        self.arm = arm
        self.patients = patients.reset_index(drop=True)
        self.protocol = protocol
        self.seed = seed
        self.inputs = {k: v for k, v in inputs.items() if v.stage != "outcome"}
        fixed = {k: v.distribution.value for k, v in self.inputs.items() if v.distribution.kind == "fixed"}
        self.base = assumptions_for(base, self.inputs, fixed)
        self.sampled = {k: v for k, v in self.inputs.items() if v.distribution.is_sampled}
        self.n = len(self.patients)
        for name, item in self.sampled.items():
            if item.distribution.is_discrete and item.stage != "kill":
                raise InputError(
                    f"psa.inputs.{name}",
                    item.distribution.kind,
                    "a discrete input that needs new solves is not supported by the emulator: fix it",
                )
        self.infiltrative = next(
            (k for k, v in self.sampled.items() if v.target == f"assumptions.{INFILTRATIVE_FIELD}"), None
        )
        self.kill_discrete = [k for k, v in self.sampled.items() if v.stage == "kill" and v.distribution.is_discrete]
        kill_cont = [
            k
            for k, v in self.sampled.items()
            if v.stage == "kill" and not v.distribution.is_discrete and k != self.infiltrative
        ]
        heat_in = [k for k, v in self.sampled.items() if v.stage == "heat"]
        chem_in = [k for k, v in self.sampled.items() if v.stage == "chemistry"]
        self.cap = self._cap()
        self._solves = 0
        self._patient_solves = 0
        self._combines = 0
        self._subset_cache: dict[bytes, dict] = {}
        report = progress or (lambda f: None)

        # the centre of the design: every solve input at its median (normal score 0); its solve is reused by the
        # stages an input does not change
        self._solve_inputs = heat_in + chem_in
        self.centre = self._assumptions_at({})
        p0 = chain.apply_assumption_factors(self.patients, self.centre)
        self._base_solved = self._solve(p0, self.centre, None, ("heat", "chemistry"))
        base_rows = chain.combine_stage(p0, protocol, seed, self._no_share(self.centre), self._base_solved)
        self.log10_kill_rt = base_rows["log10_kill_rt"].to_numpy(np.float64)
        dropped: dict[str, str] = {}
        report(0.1)

        # axial probes: each solve input alone at scores -A and +A (chemistry first: whether the heat points
        # must re-solve the chemistry depends on them)
        y0 = self._y(p0, self.centre, self._base_solved, {})
        self.chemistry_frozen = True
        all_rows = np.arange(self.n)
        axial: dict[str, list[tuple[dict, np.ndarray, dict, pd.DataFrame]]] = {}
        self.effects: dict[str, float] = {}
        for j, k in enumerate(chem_in + heat_in):
            if k == (heat_in[0] if heat_in else None):
                self.chemistry_frozen = float(base_rows["log10_kill_cdt"].max()) <= RELEVANCE_TOL and all(
                    self.effects[c] <= WEAK_TOL for c in chem_in
                )
            axial[k] = []
            for score in (-AXIAL_SCORE, AXIAL_SCORE):
                a, pp, solved = self._solve_point({k: score}, all_rows)
                axial[k].append(({k: score}, self._y(pp, a, solved, {}), solved, pp))
            self.effects[k] = max(float(np.max(np.abs(self._capped(y) - self._capped(y0)))) for _, y, _, _ in axial[k])
            report(0.1 + 0.5 * (j + 1) / max(1, len(chem_in) + len(heat_in)))
        if heat_in == [] and chem_in:
            self.chemistry_frozen = all(self.effects[c] <= WEAK_TOL for c in chem_in)
        strong = [k for k in chem_in + heat_in if self.effects[k] > WEAK_TOL]
        self.weak = [k for k in chem_in + heat_in if RELEVANCE_TOL < self.effects[k] <= WEAK_TOL]
        for k in chem_in + heat_in:
            if self.effects[k] <= RELEVANCE_TOL:
                dropped[k] = (
                    f"changes no patient's kill by more than {RELEVANCE_TOL:g} log10 at its 0.6-99.4 % quantiles"
                )
        # weak inputs: additive quadratic through the three axial values of each patient (base kill levels)
        c0 = self._capped(y0)
        self._weak_coef = {}
        for k in self.weak:
            (_, y_lo, _, _), (_, y_hi, _, _) = axial[k]
            lo, hi = self._capped(y_lo), self._capped(y_hi)
            self._weak_coef[k] = ((hi - lo) / (2 * AXIAL_SCORE), (hi + lo - 2 * c0) / (2 * AXIAL_SCORE**2))
        points: list[dict[str, float]] = [dict.fromkeys(strong, 0.0)]
        solved_points: list[tuple[np.ndarray, dict | None, pd.DataFrame | None]] = [(all_rows, self._base_solved, p0)]
        y_axial = [y0]
        for k in strong:
            for pt, y, solved, pp in axial[k]:
                points.append({**dict.fromkeys(strong, 0.0), **pt})
                solved_points.append((all_rows, solved, pp))
                y_axial.append(y)
        saturated = np.all(np.array(y_axial) >= self.cap + SATURATION_MARGIN, axis=0)
        self.saturated_share = float(saturated.mean())

        # corners (or a Sobol set) of the strong inputs, for the unsaturated patients
        d = len(strong)
        if d:
            if d <= 4:
                corners = np.array(list(itertools.product((-CORNER_SCORE, CORNER_SCORE), repeat=d)))
            else:
                corners = (
                    qmc.Sobol(d, scramble=True, seed=20261205).random(2 ** math.ceil(math.log2(2 * d))) * 2 - 1
                ) * CORNER_SCORE
            # solving a subset costs one more base solve of it: worth it only when many are saturated
            active = np.flatnonzero(~saturated) if self.saturated_share >= 0.25 else all_rows
            inner = [
                np.where(np.arange(d) == j, z, 0.0) for j in range(d) for z in (-INNER_AXIAL_SCORE, INNER_AXIAL_SCORE)
            ]
            corners = np.vstack([np.array(inner), corners])
            for i, row in enumerate(corners):
                pt = dict(zip(strong, map(float, row), strict=True))
                points.append(pt)
                if active.size:
                    _, pp, solved = self._solve_point(pt, active)
                    solved_points.append((active, solved, pp))
                else:
                    solved_points.append((active, None, None))
                report(0.6 + 0.3 * (i + 1) / len(corners))
        relevant = strong
        self.dims = relevant

        # kill-stage evaluations at every solved point
        kill_relevant = list(kill_cont)  # screened below at the centre and the axial points
        levels = [range(len(self.sampled[k].distribution.choices)) for k in self.kill_discrete]
        self.level_keys = list(itertools.product(*levels)) if levels else [()]
        nodes = self._kill_nodes(kill_relevant)
        data: dict[tuple, tuple[list, list]] = {lv: ([], []) for lv in self.level_keys}
        for pt, (idx, solved, pp) in zip(points, solved_points, strict=True):
            a_pt = self._assumptions_at(pt)
            for lv in self.level_keys:
                discrete = dict(zip(self.kill_discrete, lv, strict=True))
                for node in nodes:
                    y = np.full(self.n, self.cap)
                    if idx.size:
                        y[idx] = self._capped(self._y(pp, a_pt, solved, {**discrete, **node}))
                    x = [pt[k] for k in relevant] + [node[k] for k in kill_relevant]
                    data[lv][0].append(x)
                    data[lv][1].append(y)
        # drop continuous kill inputs that move nothing
        for j, k in enumerate(kill_relevant):
            moved = any(
                _largest_effect(np.array(xs).reshape(len(xs), -1), np.array(ys), len(relevant) + j) > RELEVANCE_TOL
                for xs, ys in data.values()
            )
            if not moved:
                dropped[k] = "changes no patient's kill at its 0.6-99.4 % quantiles"
        keep_k = [j for j, k in enumerate(kill_relevant) if k not in dropped]
        self.kill_dims = [kill_relevant[j] for j in keep_k]
        self._interp: dict[tuple, Any] = {}
        for lv, (xs, ys) in data.items():
            x = np.array(xs, dtype=np.float64).reshape(len(xs), -1)
            cols = list(range(len(relevant))) + [len(relevant) + j for j in keep_k]
            x = x[:, cols]
            y = np.array(ys)
            x, y = _unique_rows(x, y)  # dropped kill dimensions repeat rows
            self._interp[lv] = _Interpolant(x, 10.0**-y)  # the core's surviving fraction beyond RT
        self.report_ = EmulatorReport(
            arm=arm,
            n_patients=self.n,
            dims=self.dims + self.kill_dims,
            weak=list(self.weak),
            effects=dict(self.effects),
            dropped=dropped,
            chemistry_frozen=self.chemistry_frozen,
            n_solves=self._solves,
            n_patient_solves=self._patient_solves,
            n_combines=self._combines,
            cap=self.cap,
            seconds=time.perf_counter() - clock,
            saturated_share=self.saturated_share,
        )
        report(1.0)

    def release_solves(self) -> None:
        """Drop the stored solves (large per-session histories): prediction needs only the interpolants."""
        self._base_solved = None
        self._subset_cache = {}

    # ------------------------------------------------------------------ building blocks
    def _cap(self) -> float:
        """The cap of ``y``: 4 logs above the smallest infiltrative share any draw can give a patient."""
        medians = [self.base.infiltrative_clonogen_fraction]
        if self.infiltrative is not None:
            medians.append(float(self.sampled[self.infiltrative].distribution.ppf(np.array(1e-6))))
        f = chain.infiltrative_fractions(self.patients, self.seed, medians)
        f_min = float(f.min()) if f.size else 0.0
        return 30.0 if f_min <= 0 else min(30.0, -math.log10(max(f_min, SHARE_FLOOR)) + 4.0)

    def _value(self, name: str, score: float) -> float:
        return float(self.sampled[name].distribution.from_score(np.array(score)))

    def _assumptions_at(self, point: Mapping[str, float]) -> Assumptions:
        """The run's assumptions with every solve input at its score in ``point`` (0, the median, if absent)."""
        scores = {k: point.get(k, 0.0) for k in self._solve_inputs}
        return assumptions_for(self.base, self.inputs, {k: self._value(k, z) for k, z in scores.items()})

    def _solve(self, pp: pd.DataFrame, a: Assumptions, reuse: dict | None, stages: tuple[str, ...]) -> dict:
        self._solves += 1
        self._patient_solves += len(pp)
        return chain.solve_stages(pp, self.protocol, self.seed, a, reuse=reuse, stages=stages)

    def _solve_point(self, point: Mapping[str, float], idx: np.ndarray) -> tuple[Assumptions, pd.DataFrame, dict]:
        """Assumptions, patients and solves of a design point for the patients ``idx``: only the stages whose
        inputs move are solved again (the chemistry too when the heat moves, unless it is frozen)."""
        a = self._assumptions_at(point)
        pp = chain.apply_assumption_factors(self.patients.iloc[idx].reset_index(drop=True), a)
        reuse = self._base_solved if idx.size == self.n else self._subset_base(idx)
        heat_moves = any(z != 0.0 for k, z in point.items() if self.sampled[k].stage == "heat")
        chem_moves = any(z != 0.0 for k, z in point.items() if self.sampled[k].stage == "chemistry")
        stages = (("heat",) if heat_moves else ()) + (
            ("chemistry",) if chem_moves or (heat_moves and not self.chemistry_frozen) else ()
        )
        if not stages:
            return a, pp, reuse
        return a, pp, self._solve(pp, a, reuse, stages)

    def _subset_base(self, idx: np.ndarray) -> dict:
        """The base solves of the patients ``idx`` (cached: the corners share one subset)."""
        key = idx.tobytes()
        if key not in self._subset_cache:
            pp = chain.apply_assumption_factors(self.patients.iloc[idx].reset_index(drop=True), self.centre)
            self._subset_cache[key] = self._solve(pp, self.centre, None, ("heat", "chemistry"))
        return self._subset_cache[key]

    @staticmethod
    def _no_share(a: Assumptions) -> Assumptions:
        return replace(a, **{INFILTRATIVE_FIELD: 0.0})

    def _y(self, pp: pd.DataFrame, a: Assumptions, solved: dict, kill_values: Mapping[str, float]) -> np.ndarray:
        """Core kill beyond RT (uncapped) of solved patients under the kill-stage values (choice index or score)."""
        values = {
            k: (v if self.sampled[k].distribution.is_discrete else self._value(k, v)) for k, v in kill_values.items()
        }
        a = self._no_share(assumptions_for(a, self.inputs, values))
        self._combines += 1
        rows = chain.combine_stage(pp, self.protocol, self.seed, a, solved)
        return rows["log10_kill_total"].to_numpy(np.float64) - rows["log10_kill_rt"].to_numpy(np.float64)

    def _capped(self, y: np.ndarray) -> np.ndarray:
        return np.clip(y, 0.0, self.cap)

    def _kill_nodes(self, names: list[str]) -> list[dict[str, float]]:
        if not names:
            return [{}]
        if len(names) <= 2:
            return [dict(zip(names, c, strict=True)) for c in itertools.product(KILL_NODE_SCORES, repeat=len(names))]
        star = [{k: 0.0 for k in names}]
        for k in names:
            for z in (KILL_NODE_SCORES[0], KILL_NODE_SCORES[-1]):
                star.append({**{j: 0.0 for j in names}, k: z})
        return star

    # ------------------------------------------------------------------ prediction
    def scores(self, values: Mapping[str, np.ndarray], n_draws: int) -> np.ndarray:
        """(D, dims) normal scores of the emulator's continuous inputs (centre for inputs not given)."""
        cols = []
        for k in self.dims + self.kill_dims:
            if k in values:
                cols.append(self.sampled[k].distribution.to_score(np.asarray(values[k], dtype=np.float64)))
            else:
                cols.append(np.zeros(n_draws))
        return np.column_stack(cols) if cols else np.zeros((n_draws, 0))

    def predict(self, values: Mapping[str, np.ndarray], n_draws: int) -> np.ndarray:
        """Emulated ``log10_kill_total`` (D, n) of the arm's patients for ``n_draws`` draws of the inputs
        (``values``: input name -> (D,) values; a ``choice`` by its index; inputs not given stay at the
        scenario's value, discrete ones at their most likely level)."""
        z = self.scores(values, n_draws)
        y = np.empty((n_draws, self.n))
        if self.kill_discrete:
            lv = np.column_stack(
                [
                    np.asarray(values[k], dtype=np.int64)
                    if k in values
                    else np.full(n_draws, int(np.argmax(self.sampled[k].distribution.probabilities)))
                    for k in self.kill_discrete
                ]
            )
        else:
            lv = np.zeros((n_draws, 0), dtype=np.int64)
        for key in self.level_keys:
            rows = np.all(lv == np.array(key, dtype=np.int64), axis=1) if key else np.ones(n_draws, bool)
            if rows.any():
                y[rows] = -np.log10(np.clip(self._interp[key](z[rows]), 10.0**-self.cap, 1.0))
        for k in self.weak:
            if k in values:
                zk = np.clip(
                    self.sampled[k].distribution.to_score(np.asarray(values[k], float)), -AXIAL_SCORE, AXIAL_SCORE
                )
                b, c = self._weak_coef[k]
                y += zk[:, None] * b[None, :] + (zk**2)[:, None] * c[None, :]
        y = np.clip(y, 0.0, self.cap)
        return self.total_kill(y, values.get(self.infiltrative) if self.infiltrative else None, n_draws)

    def total_kill(self, y: np.ndarray, shares: np.ndarray | None, n_draws: int) -> np.ndarray:
        """Tumour log10 kill (D, n) from the core kill beyond RT ``y`` and the draws' infiltrative medians
        (None: the scenario's): the two-element case of the physics' combination
        (:func:`mhtcdt.physics.kill.combine_kill`), the core with weight ``1 - f`` and surviving fraction
        ``10^-(K_rt + y)`` and the infiltrative clonogens with weight ``f`` receiving RT at 37 C only:
        ``K = -log10((1 - f) 10^-(K_rt + y) + f 10^-K_rt)`` (in logs, so no underflow; tested against
        combine_kill)."""
        if shares is None:
            f = chain.infiltrative_fractions(self.patients, self.seed, [self.base.infiltrative_clonogen_fraction])
            f = np.broadcast_to(f, (n_draws, self.n))
        else:
            f = chain.infiltrative_fractions(self.patients, self.seed, np.asarray(shares, dtype=np.float64))
        with np.errstate(divide="ignore"):
            ln_core = np.log1p(-f) - y * LN10
            ln_infiltrative = np.log(f)
        ln_s = np.logaddexp(ln_core, ln_infiltrative) - self.log10_kill_rt[None, :] * LN10
        return np.maximum(-ln_s / LN10, self.log10_kill_rt[None, :])

    # ------------------------------------------------------------------ direct simulation
    def direct_kill(self, values: Mapping[str, Any]) -> np.ndarray:
        """``log10_kill_total`` (n,) of the arm's patients by direct simulation of the whole chain with the
        inputs of one draw (``values``: name -> value), for the emulator's error."""
        a = assumptions_for(self.base, self.inputs, values)
        rows = chain.simulate_chunk(self.patients, self.protocol, self.seed, a)
        return rows["log10_kill_total"].to_numpy(np.float64)


class _Interpolant:
    """Thin-plate spline RBF with a linear trend over the design (exact at the design points); a
    constant when there is no dimension or the outputs do not vary."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.constant = None
        if x.shape[1] == 0 or np.all(np.ptp(y, axis=0) == 0):
            self.constant = y[0].copy()
            return
        self.rbf = RBFInterpolator(x, y, kernel="thin_plate_spline", degree=1)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.constant is not None:
            return np.broadcast_to(self.constant, (z.shape[0], self.constant.size)).copy()
        return self.rbf(z)


def _largest_effect(x: np.ndarray, y: np.ndarray, col: int) -> float:
    """Largest change of any output along column ``col`` with every other column held (rows grouped by the
    other columns)."""
    others = np.round(np.delete(x, col, axis=1), 12)
    _, group = np.unique(others, axis=0, return_inverse=True)
    return max((float(np.max(np.ptp(y[group.ravel() == g], axis=0))) for g in np.unique(group)), default=0.0)


def _unique_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, first = np.unique(np.round(x, 12), axis=0, return_index=True)
    first = np.sort(first)
    return x[first], y[first]


def emulator_error(
    emulator: ArmEmulator, values: Mapping[str, np.ndarray], n_draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """(emulated, direct) ``log10_kill_total`` (n_draws, n) for held-out draws ``values`` (name -> (D,))."""
    emulated = emulator.predict(values, n_draws)
    direct = np.array(
        [emulator.direct_kill({k: v[i] for k, v in values.items() if k in emulator.inputs}) for i in range(n_draws)]
    )
    return emulated, direct
