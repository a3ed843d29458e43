"""Simulated trial data for the value of sample information: one virtual trial per PSA draw, reduced to
summary statistics, with the package's own replicate-trial engine (:func:`mhtcdt.decision.trial.power.replicate_data`).

The chain
---------
1. **Which inputs the trial informs** (:func:`draw_states`). A PSA draw's inputs are the columns of
   ``PSAResult.parameters``. ``informs`` selects columns by name (``"outcome.pps_weibull_shape"``) or by group,
   the part before the dot (``"outcome"``: every free parameter of the outcome model, whatever their names in
   the calibration draws). Only groups the trial simulator can turn into data are accepted
   (:data:`TRIAL_INPUT_GROUPS`: the outcome model; costs and utilities are not observed by a survival
   trial). Draws with identical informed inputs share a *state*; each state's outcome parameters are the
   calibrated point with the informed values put in (:meth:`OutcomeParams.with_free`), so inputs not informed
   stay at their point values in the simulated trials.
2. **One trial per draw** (:func:`simulate_summaries`). The draws of a state are simulated together by
   :func:`~mhtcdt.decision.trial.power.replicate_data` with that state's parameters: patients resampled from
   the eligible pool, stratified permuted blocks, Poisson accrual, latent PFS/OS from the outcome model with
   fresh random numbers, dropout and the data cut-off. Replicate ``r`` of state ``k`` draws from
   ``child_sequence(seed, k)`` keyed by ``r`` (the engine's own keying), the same seeds at every sample size
   (common random numbers: EVSI is smooth in n).
   A design with more than two arms is simulated as the two-arm trial of its first two arms plus, for every
   further arm, a single-arm cohort with that arm's physics: under randomisation with allocation weights
   ``w`` and Poisson accrual at rate ``lambda``, the arms' accruals are independent Poisson processes of rates
   ``lambda w_a / sum(w)`` (thinning), which is how the sub-trials are accrued; what is not reproduced is the
   exact balance of a common block list across all arms and a common data cut-off when it is set by the last
   entry (each sub-trial ends ``min_follow_up_months`` after its own last entry; equal in expectation).
3. **Summaries** (:func:`trial_summaries`). ``log_rank``: the Peto log hazard ratio ``(O - E)/V`` of each arm
   against the control (:func:`~mhtcdt.decision.trial.fastlogrank.logrank_replicates`, stratified by the
   randomisation strata when the design stratifies; the other arms of a multi-arm trial sit in a stratum of
   their own, which adds nothing to O - E or V) and, for two arms, its standard error ``1/sqrt(V)``; ``landmark``:
   the Kaplan-Meier survival of each arm at the landmark (:func:`km_at`). A comparison without an event
   (``V = 0``, only in tiny trials) carries no information: log HR 0 and standard error :data:`NO_INFORMATION_SE`.
4. **Their sampling distribution per state** (:func:`summary_moments`): ``n_replicates`` further trials per
   state (a separate stream) give the mean and covariance of the summaries in each state, the Gaussian
   synthetic likelihood (Wood 2010) used by the importance-sampling and moment-matching estimators.

The trial world (:class:`TrialWorld`): the scenario's eligible patients, each treated with every arm
(:func:`mhtcdt.decision.run.arm_chain.pools_from_scenario`, the pipeline's seed streams). A new group of
trial inputs (e.g. physics inputs through an emulator) plugs in as one more entry of
:data:`TRIAL_INPUT_GROUPS` whose state builder returns the parameters and pools of a state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial import power
from mhtcdt.decision.trial.fastlogrank import logrank_replicates
from mhtcdt.decision.trial.study_design import ResolvedDesign
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_sequence

#: standard error given to a log hazard ratio that no event informs (V = 0): a flat likelihood
NO_INFORMATION_SE = 10.0
#: groups of PSA inputs the trial simulator turns into data -> what they are
TRIAL_INPUT_GROUPS: Mapping[str, str] = {"outcome": "free parameters of the outcome model (calibration draws)"}
#: keys of this module's random streams under the analysis seed (part of the results: never renumber)
_TRIALS, _MOMENTS = 0, 1
#: patients (trials x trial size) analysed per call of the vectorised analysis: bounds memory (~25 bytes each)
_ANALYSIS_BLOCK = 2_000_000


@dataclass(frozen=True)
class TrialWorld:
    """Patient pools per arm (the same eligible patients in the same order, each with that arm's physics)
    and each arm's treatment duration [months]."""

    pools: Mapping[str, pd.DataFrame]
    treatment_months: Mapping[str, float]

    def restricted_to(self, patient_ids: np.ndarray) -> TrialWorld:
        """The same world drawing only from ``patient_ids`` (a subgroup)."""
        pools = {a: p[p["patient_id"].isin(patient_ids)].reset_index(drop=True) for a, p in self.pools.items()}
        return TrialWorld(pools, self.treatment_months)


def build_world(
    scenario, arms: Sequence[str], seed: int, n_screened: int | None = None, progress: Callable | None = None
) -> TrialWorld:
    """The pools of ``arms`` (names in ``scenario``, derived arms included) for ``scenario``'s eligible cohort."""
    from mhtcdt.decision.run.arm_chain import pools_from_scenario

    pools, months = pools_from_scenario(
        scenario, tuple(arms), int(n_screened or scenario.cohort.n_screened), seed, progress=progress
    )
    return TrialWorld(pools, months)


@dataclass(frozen=True)
class DrawStates:
    """PSA draws grouped by their informed inputs: ``index`` (D,) the state of each draw; ``params`` (K,) the
    outcome parameters of each state; ``informed`` the PSA columns the trial informs; ``values`` (K, I)."""

    index: np.ndarray
    params: tuple[outcome.OutcomeParams, ...]
    informed: tuple[str, ...]
    values: np.ndarray

    @property
    def n_states(self) -> int:
        return len(self.params)

    @property
    def prior(self) -> np.ndarray:
        """Share of the PSA draws in each state (K,)."""
        return np.bincount(self.index, minlength=self.n_states) / self.index.size


def informed_columns(parameters: pd.DataFrame, informs: Sequence[str]) -> list[str]:
    """The PSA columns named or grouped by ``informs`` (InputError for unknown or unobservable inputs)."""
    if not informs:
        raise InputError("informs", [], "name at least one input or group the trial informs, e.g. 'outcome'")
    cols: list[str] = []
    for name in informs:
        group = name.split(".", 1)[0]
        if group not in TRIAL_INPUT_GROUPS:
            raise InputError(
                "informs",
                name,
                f"a survival trial does not observe this input; it informs the groups {list(TRIAL_INPUT_GROUPS)}",
            )
        if "." in name:
            if name not in parameters.columns:
                known = [c for c in parameters.columns if c.startswith(group + ".")]
                raise InputError("informs", name, f"not an input of this PSA; {group} inputs: {known}")
            picked = [name]
        else:
            picked = [c for c in parameters.columns if c.startswith(group + ".")]
            if not picked:
                raise InputError("informs", name, "this PSA has no such inputs (no calibration draws?)")
        cols.extend(c for c in picked if c not in cols)
    return cols


def draw_states(parameters: pd.DataFrame, informs: Sequence[str], base: outcome.OutcomeParams) -> DrawStates:
    """Group PSA draws by their informed inputs (see the module docstring)."""
    cols = informed_columns(parameters, informs)
    values = parameters[cols].to_numpy(float)
    unique, index = np.unique(values, axis=0, return_inverse=True)
    names = [c.split(".", 1)[1] for c in cols]
    params = tuple(base.with_free(**dict(zip(names, row, strict=True))) for row in unique)
    return DrawStates(np.asarray(index, dtype=np.int64).ravel(), params, tuple(cols), unique)


# --------------------------------------------------------------------------------------------- simulation


def arm_sizes(n_patients: int, weights: Sequence[float]) -> list[int]:
    """Patients of the two-arm core trial and of each further arm: ``n w / sum(w)`` rounded, the core taking
    the remainder (at least 2 each; the engine needs two patients per trial)."""
    w = np.asarray(weights, float)
    if w.size == 2:
        return [int(n_patients)]
    extra = [max(2, int(round(n_patients * wi / w.sum()))) for wi in w[2:]]
    return [max(2, int(n_patients) - sum(extra)), *extra]


def simulate_trials(
    world: TrialWorld,
    resolved: ResolvedDesign,
    params: outcome.OutcomeParams,
    n_patients: int,
    n_replicates: int,
    seed: np.random.SeedSequence,
) -> np.ndarray:
    """``n_replicates`` trials of ``resolved`` under ``params``, each reduced to its summaries: (R, P)."""
    times, events, arm, strata = trial_data(world, resolved, params, n_patients, n_replicates, seed)
    return trial_summaries(times, events, arm, strata, resolved)


def trial_data(
    world: TrialWorld,
    resolved: ResolvedDesign,
    params: outcome.OutcomeParams,
    n_patients: int,
    n_replicates: int,
    seed: np.random.SeedSequence,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed (times, events, arm index, stratum code) of replicate trials, each (R, n)."""
    arms, w, td = resolved.arms, resolved.weights, resolved.trial_design
    total = float(sum(w))
    sizes = arm_sizes(n_patients, w)
    parts = []
    share = (w[0] + w[1]) / total
    core = power.ReplicateTrial(
        world.pools,
        replace(td, accrual_per_month=td.accrual_per_month * share),
        arms[0],
        arms[1],
        world.treatment_months,
        params=params,
        endpoint=resolved.endpoint,
    )
    t, e, g, s = power.replicate_data(core, sizes[0], n_replicates, child_sequence(seed, 0))
    parts.append((t, e, g, s))
    for j in range(2, len(arms)):
        cohort = power.ReplicateTrial(
            world.pools,
            replace(td, accrual_per_month=td.accrual_per_month * w[j] / total),
            arms[j],
            arms[0],
            world.treatment_months,
            params=params,
            endpoint=resolved.endpoint,
        )
        t, e, _, s = power.replicate_data(cohort, sizes[j - 1], n_replicates, child_sequence(seed, j), null=True)
        parts.append((t, e, np.full(t.shape, j, dtype=np.int64), s))
    times, events, arm, strata = (np.concatenate([p[i] for p in parts], axis=1) for i in range(4))
    return times, events, arm, strata


def km_at(times: np.ndarray, events: np.ndarray, mask: np.ndarray, t: float) -> np.ndarray:
    """Kaplan-Meier survival at ``t`` of the patients in ``mask``, per replicate (rows): (R,).

    ``S(t) = prod over event times u <= t of (1 - d_u / n_u)`` with patients censored at an event time still at
    risk at it (lifelines' convention): rows sorted by time with events before censorings at ties, each event
    contributing ``1 - 1/(number of masked patients from it onwards)``.
    """
    order = np.lexsort((~events, times), axis=-1)
    ts = np.take_along_axis(times, order, axis=-1)
    ev = np.take_along_axis(events & mask, order, axis=-1)
    m = np.take_along_axis(mask, order, axis=-1)
    at_risk = np.cumsum(m[:, ::-1], axis=-1)[:, ::-1].astype(float)
    hit = ev & (ts <= t)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(hit, np.log1p(-1.0 / np.where(at_risk > 0, at_risk, 1.0)), 0.0)
    return np.exp(terms.sum(axis=-1))


def trial_summaries(
    times: np.ndarray, events: np.ndarray, arm: np.ndarray, strata: np.ndarray, resolved: ResolvedDesign
) -> np.ndarray:
    """The analysis of each replicate trial (see the module docstring): (R, P) in the order of
    :meth:`ResolvedDesign.summary_names`."""
    design = resolved.design
    k = len(resolved.arms)
    if design.analysis == "landmark":
        return np.column_stack([km_at(times, events, arm == a, design.landmark_months) for a in range(k)])
    stratified = bool(resolved.trial_design.stratify_by)
    cols = []
    for j in range(1, k):
        group = (arm == j).astype(np.int64)
        if k == 2:
            codes = strata if stratified else None
        else:  # patients of other arms: a stratum of their own, which adds nothing to O - E or V
            inside = (arm == 0) | (arm == j)
            codes = np.where(inside, (strata if stratified else 0) + 1, 0)
        res = logrank_replicates(times, events, group, codes)
        var = res["variance"].to_numpy(float)
        log_hr = np.where(var > 0, res["log_hr_peto"].to_numpy(float), 0.0)
        cols.append(np.nan_to_num(log_hr, nan=0.0))
        if k == 2:
            with np.errstate(divide="ignore"):
                cols.append(np.where(var > 0, 1.0 / np.sqrt(np.where(var > 0, var, 1.0)), NO_INFORMATION_SE))
    return np.column_stack(cols)


def _summaries_by_state(
    world: TrialWorld,
    resolved: ResolvedDesign,
    states: DrawStates,
    replicates: np.ndarray,
    n_patients: int,
    seed: np.random.SeedSequence,
    progress: Callable[[float], None] | None,
) -> list[np.ndarray]:
    """``replicates[k]`` trials of each state ``k`` (seeds ``child_sequence(seed, k)``), summarised: one (R_k, P)
    array per state. The trials of many states are analysed together in blocks (one call of the vectorised
    log-rank or Kaplan-Meier per block, not per state)."""
    out: list[np.ndarray] = [np.empty((0, len(resolved.summary_names())))] * states.n_states
    pending: list[tuple[int, tuple]] = []

    def flush() -> None:
        if pending:
            data = [np.concatenate([d[i] for _, d in pending], axis=0) for i in range(4)]
            summaries = trial_summaries(*data, resolved)
            start = 0
            for k, d in pending:
                out[k] = summaries[start : start + d[0].shape[0]]
                start += d[0].shape[0]
            pending.clear()

    size = sum(arm_sizes(n_patients, resolved.weights))
    for k in range(states.n_states):
        if replicates[k]:
            data = trial_data(
                world, resolved, states.params[k], n_patients, int(replicates[k]), child_sequence(seed, k)
            )
            pending.append((k, data))
            if sum(d[0].shape[0] for _, d in pending) * size >= _ANALYSIS_BLOCK:
                flush()
        if progress is not None:
            progress((k + 1) / states.n_states)
    flush()
    return out


def simulate_summaries(
    world: TrialWorld,
    resolved: ResolvedDesign,
    states: DrawStates,
    n_patients: int,
    seed: int | np.random.SeedSequence,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """One simulated trial per PSA draw, from its own state's parameters: summaries (D, P)."""
    counts = np.bincount(states.index, minlength=states.n_states)
    per_state = _summaries_by_state(
        world, resolved, states, counts, n_patients, child_sequence(seed, _TRIALS), progress
    )
    out = np.empty((states.index.size, len(resolved.summary_names())))
    for k, sims in enumerate(per_state):
        out[np.flatnonzero(states.index == k)] = sims
    return out


def summary_moments(
    world: TrialWorld,
    resolved: ResolvedDesign,
    states: DrawStates,
    n_patients: int,
    n_replicates: int,
    seed: int | np.random.SeedSequence,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (K, P) and covariance (K, P, P) of the summaries in each state, from ``n_replicates`` further
    trials per state (a stream of their own): the Gaussian synthetic likelihood of :func:`synthetic_loglik`.

    The covariance is per state because the precision of a log hazard ratio or a survival rate depends on the
    number of events, which the parameters change (a covariance pooled over states flattens the likelihood of
    the states with many events and understates what the trial learns)."""
    if isinstance(n_replicates, bool) or int(n_replicates) != n_replicates or n_replicates < 5:
        raise InputError("synthetic_replicates", n_replicates, "needs at least 5 trials per state")
    per_state = _summaries_by_state(
        world,
        resolved,
        states,
        np.full(states.n_states, int(n_replicates)),
        n_patients,
        child_sequence(seed, _MOMENTS),
        progress,
    )
    means = np.array([sims.mean(axis=0) for sims in per_state])
    covs = np.array([np.atleast_2d(np.cov(sims, rowvar=False)) for sims in per_state])
    # a summary that does not vary within a state (e.g. a landmark every patient passes) would make the
    # covariance singular: add a ridge of 1e-6 of the variance pooled over states (and an absolute floor)
    pooled = np.diagonal(covs, axis1=-2, axis2=-1).mean(axis=0)
    return means, covs + np.diag(1e-6 * pooled + 1e-12)[None]


def synthetic_loglik(summaries: np.ndarray, means: np.ndarray, covs: np.ndarray, n_replicates: int) -> np.ndarray:
    """Synthetic log-likelihood (Q, K) of observed summaries (Q, P) under states whose means and covariances
    (:func:`summary_moments`) come from ``n_replicates`` trials each: the covariance is inflated by
    ``1 + 1/n_replicates`` for the error of the estimated mean."""
    from mhtcdt.economics.evsi import gaussian_synthetic_loglik

    return gaussian_synthetic_loglik(summaries, means, covs * (1.0 + 1.0 / n_replicates))
