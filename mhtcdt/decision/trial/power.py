"""Replicate virtual trials: power, type-I error, expected hazard ratio and sample size.

A replicate trial (two arms: ``reference_arm`` and ``experimental_arm``):
1. draws ``n_patients`` from the patient pool with replacement (the pool = eligible virtual patients with
   the physics outputs of *each* arm, aligned row by row: ``pools[arm].iloc[i]`` is patient ``i`` treated
   with ``arm``);
2. randomises them with the design's stratified permuted blocks (:func:`design.block_assign`) and
   Poisson accrual;
3. draws latent PFS/OS with the outcome model (fresh random numbers per replicate) and censors them
   with dropout and the data cut-off exactly as :func:`design.apply_follow_up`;
4. tests the endpoint with the vectorised log-rank (:mod:`fastlogrank`, checked against lifelines),
   stratified by the randomisation strata when the design is stratified (the analysis that matches
   stratified randomisation; an unstratified test would be conservative when strata are prognostic).

Under ``null=True`` both arms receive the reference arm's physics, so rejections estimate the
type-I error. The hazard ratio per replicate is the Peto one-step estimate ``exp((O-E)/V)`` (close to
the Cox estimate for HR near 1); "expected HR" is its geometric mean over replicates.
Replicate ``r`` draws from :func:`mhtcdt.seeding.child_rng` ``(seed, r)``: results do not depend on chunking.

The effect is a model prediction (no randomised NanoTherm evidence): power is the probability that a
trial *would* detect the effect the calibrated model predicts.

Entry points: :class:`ReplicateTrial` (pools, design, the two arms, endpoint and alpha: the trial that
is replicated; pools from :func:`mhtcdt.decision.run.arm_chain.pools_from_scenario`),
:func:`replicate_data` (the observed arrays), :func:`simulate_replicates` (+ the test per replicate),
:func:`summarise` / :func:`power_at` (:class:`PowerResult`), :func:`power_curve` (power versus sample
size), :func:`sample_size` (:class:`SampleSizeResult`), :func:`schoenfeld_events`. The scenario-level
use case (power, type-I error, curve and sample size in one call for the CLI and the app) is
:func:`mhtcdt.decision.trial.power_analysis.power_analysis`.

:func:`simulate_replicates` returns one row per replicate: ``replicate`` int64, the
:func:`fastlogrank.logrank_replicates` columns, ``hazard_ratio`` (Peto), ``reject`` (bool, two-sided
p < alpha), ``events`` int64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial.design import TrialDesign, block_assign, integer_weights, stratum_labels
from mhtcdt.decision.trial.fastlogrank import logrank_replicates
from mhtcdt.errors import InputError, ModelError
from mhtcdt.seeding import child_rng


@dataclass
class PowerResult:
    """Summary of a replicate run (HR = experimental vs reference)."""

    n_patients: int
    n_replicates: int
    alpha: float
    endpoint: str
    power: float
    power_ci: tuple[float, float]
    expected_hr: float
    hr_quantiles: tuple[float, float, float]
    median_reference_months: float
    median_experimental_months: float
    fraction_medians_reached: float
    mean_events: float
    replicates: pd.DataFrame


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _arrays(pool: pd.DataFrame, params: outcome.OutcomeParams) -> dict[str, np.ndarray]:
    missing = [c for c in outcome.REQUIRED_COLUMNS if c not in pool.columns]
    if missing:
        raise InputError("pools", missing, "pool lacks columns needed by the outcome model")
    kill_total = pool["log10_kill_total"].to_numpy(float)
    kill_rt = pool["log10_kill_rt"].to_numpy(float) if "log10_kill_rt" in pool.columns else kill_total
    return dict(
        volume=pool["tumour_volume_cm3"].to_numpy(float),
        kill_total=kill_total,
        kill_rt=np.minimum(kill_rt, kill_total),
        age=pool["age_years"].to_numpy(float),
        lp=outcome.linear_predictor(pool, params),
        pps=outcome.pps_median_for(pool, params),
        **{f"systemic_{k}": v for k, v in vars(outcome.systemic_from(pool)).items()},
    )


@dataclass(frozen=True)
class ReplicateTrial:
    """The two-arm virtual trial that replicates are drawn from, validated once.

    ``pools``: arm name -> eligible patients with that arm's physics outputs, the same patients in the
    same order in every pool (:func:`mhtcdt.decision.run.arm_chain.pools_from_scenario`);
    ``design``: the scenario's :class:`~mhtcdt.decision.trial.design.TrialDesign` (accrual, follow-up,
    dropout, strata, allocation of the two arms); ``treatment_months``: arm -> treatment duration
    [months] (regrowth starts at its end; missing arms 0); ``params``: outcome parameters (None: the
    calibrated default); ``endpoint`` ``"OS"`` or ``"PFS"``; ``alpha`` the two-sided significance level;
    ``stratified_analysis``: stratified log-rank (None: when the design stratifies).
    """

    pools: Mapping[str, pd.DataFrame]
    design: TrialDesign
    reference_arm: str
    experimental_arm: str
    treatment_months: Mapping[str, float] = field(default_factory=dict)
    params: outcome.OutcomeParams | None = None
    endpoint: str = "OS"
    alpha: float = 0.05
    stratified_analysis: bool | None = None

    def __post_init__(self) -> None:
        for arm in (self.reference_arm, self.experimental_arm):
            if arm not in self.pools:
                raise InputError("arm", arm, f"no patient pool for this arm; pools: {list(self.pools)}")
            if arm not in self.design.allocation:
                raise InputError("arm", arm, f"not in the design's allocation {list(self.design.allocation)}")
        if self.reference_arm == self.experimental_arm:
            raise InputError("experimental_arm", self.experimental_arm, "must differ from the reference arm")
        if self.endpoint not in ("OS", "PFS"):
            raise InputError("endpoint", self.endpoint, "use 'OS' or 'PFS'")
        if not 0 < self.alpha < 1:
            raise InputError("alpha", self.alpha, "must be in (0, 1)")
        ref_pool, exp_pool = self.pools[self.reference_arm], self.pools[self.experimental_arm]
        if len(ref_pool) == 0:
            raise InputError("pools", 0, "zero patients in the pool after selection")
        if len(exp_pool) != len(ref_pool) or not np.array_equal(
            ref_pool["patient_id"].to_numpy(), exp_pool["patient_id"].to_numpy()
        ):
            raise InputError("pools", self.experimental_arm, "arm pools must hold the same patients in the same order")
        if self.params is None:
            object.__setattr__(self, "params", outcome.load_outcome_params())

    @property
    def stratified(self) -> bool:
        """Whether the log-rank test is stratified by the randomisation strata."""
        return bool(self.design.stratify_by) if self.stratified_analysis is None else self.stratified_analysis

    def restricted_to(self, patient_ids: np.ndarray) -> ReplicateTrial:
        """The same trial drawing only from the patients ``patient_ids`` (e.g. a subgroup's criteria)."""
        pools = {arm: df[df["patient_id"].isin(patient_ids)].reset_index(drop=True) for arm, df in self.pools.items()}
        return replace(self, pools=pools)

    def two_arm_design(self) -> TrialDesign:
        """The design restricted to the two compared arms, keeping the block size per allocation cycle."""
        d = self.design
        pair = {
            self.reference_arm: d.allocation[self.reference_arm],
            self.experimental_arm: d.allocation[self.experimental_arm],
        }
        cycles = max(1, d.block_size // sum(integer_weights(d.allocation).values()))
        return TrialDesign(
            allocation=pair,
            stratify_by=list(d.stratify_by),
            block_size=sum(integer_weights(pair).values()) * cycles,
            accrual_per_month=d.accrual_per_month,
            min_follow_up_months=d.min_follow_up_months,
            dropout_per_year=d.dropout_per_year,
            data_cutoff_months=d.data_cutoff_months,
        )


def replicate_data(
    trial: ReplicateTrial,
    n_patients: int,
    n_replicates: int,
    seed: int,
    *,
    null: bool = False,
    first_replicate: int = 0,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed data of ``n_replicates`` virtual trials: ``(times, events, group, strata)``, each (R, n).

    Replicate ``r`` draws from ``child_rng(seed, first_replicate + r)``: replicates
    ``first_replicate .. first_replicate + n_replicates - 1`` are the same whatever the chunking.
    ``null=True`` gives both arms the reference arm's physics (type-I error).

    ``group`` is 0 for the reference arm, 1 for the experimental arm; times are the censored endpoint
    times [months]; ``strata`` the stratum code of each patient. Steps 1-3 of the module docstring.
    """
    if not (isinstance(n_patients, (int, np.integer)) and n_patients >= 2):
        raise InputError("n_patients", n_patients, "need at least 2 patients per trial")
    if not (isinstance(n_replicates, (int, np.integer)) and n_replicates >= 1):
        raise InputError("n_replicates", n_replicates, "need at least 1 replicate")
    design, params = trial.design, trial.params
    reference_arm = trial.reference_arm
    ref_pool = trial.pools[reference_arm]
    exp_pool = ref_pool if null else trial.pools[trial.experimental_arm]
    two = trial.two_arm_design()
    two.check_follow_up(n_patients)
    block = np.array([0 if a == reference_arm else 1 for a in two.block_arms()], dtype=np.int64)
    strata = stratum_labels(ref_pool, list(design.stratify_by))
    codes = np.asarray(pd.factorize(pd.Series(strata), sort=True)[0], dtype=np.int64)
    a_ref, a_exp = _arrays(ref_pool, params), _arrays(exp_pool, params)
    tm = trial.treatment_months
    tm_ref = float(tm.get(reference_arm, 0.0))
    tm_exp = float(tm.get(reference_arm if null else trial.experimental_arm, 0.0))
    dropout_rate = -math.log1p(-design.dropout_per_year) / 12.0 if design.dropout_per_year > 0 else 0.0
    n_pool = len(ref_pool)

    R, n = n_replicates, n_patients
    idx = np.empty((R, n), dtype=np.int64)
    grp = np.empty((R, n), dtype=np.int64)
    z = np.empty((R, n))
    e_pps = np.empty((R, n))
    e_oth = np.empty((R, n))
    z_ctl = np.empty((R, n))
    censor = np.empty((R, n))
    step = max(1, R // 50)
    for r in range(R):
        rng = child_rng(seed, first_replicate + r)
        idx[r] = rng.integers(0, n_pool, n)
        grp[r] = block_assign(codes[idx[r]], block, rng)
        gaps = rng.exponential(1.0 / design.accrual_per_month, n)
        gaps[0] = 0.0
        entry = np.cumsum(gaps)
        cutoff = (
            design.data_cutoff_months
            if design.data_cutoff_months is not None
            else (entry[-1] + design.min_follow_up_months)
        )
        admin = cutoff - entry
        drop = rng.standard_exponential(n) / dropout_rate if dropout_rate > 0 else np.full(n, np.inf)
        censor[r] = np.maximum(np.minimum(admin, drop), 0.0)
        z[r] = rng.standard_normal(n)
        e_pps[r] = rng.standard_exponential(n)
        e_oth[r] = rng.standard_exponential(n)
        z_ctl[r] = rng.standard_normal(n)
        if progress is not None and (r % step == 0 or r == R - 1):
            progress(0.8 * (r + 1) / R)
    is_exp = grp == 1

    def pick(key: str) -> np.ndarray:
        return np.where(is_exp, a_exp[key][idx], a_ref[key][idx]).ravel()

    draws = outcome.PatientDraws(z.ravel(), e_pps.ravel(), e_oth.ravel(), z_ctl.ravel())
    systemic = outcome.Systemic(
        *(
            pick(f"systemic_{k}")
            for k in (
                "temozolomide_courses",
                "lomustine",
                "bevacizumab",
                "mgmt_methylated",
                "tumour_specific_treatment",
                "gemcitabine_cycles",
                "folfirinox_cycles",
            )
        )
    )
    res = outcome.latent_times(
        pick("volume"),
        pick("kill_total"),
        pick("kill_rt"),
        pick("age"),
        pick("lp"),
        pick("pps"),
        draws,
        params,
        np.where(is_exp, tm_exp, tm_ref).ravel(),
        systemic=systemic,
    )
    latent = res[f"{trial.endpoint.lower()}_latent_months"].reshape(R, n)
    return np.minimum(latent, censor), latent <= censor, grp, codes[idx]


def simulate_replicates(
    trial: ReplicateTrial,
    n_patients: int,
    n_replicates: int,
    seed: int,
    *,
    null: bool = False,
    first_replicate: int = 0,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Run ``n_replicates`` virtual trials of ``n_patients`` and test each (see module docstring).

    ``first_replicate`` offsets the replicate index (and its seed) so chunks of replicates equal one call.
    """
    if not (isinstance(first_replicate, (int, np.integer)) and first_replicate >= 0):
        raise InputError("first_replicate", first_replicate, "must be an integer >= 0")
    times, events, grp, strata = replicate_data(
        trial, n_patients, n_replicates, seed, null=null, first_replicate=first_replicate, progress=progress
    )
    out = logrank_replicates(times, events, grp, strata if trial.stratified else None)
    if progress is not None:
        progress(1.0)
    R = n_replicates
    out.insert(0, "replicate", np.arange(first_replicate, first_replicate + R, dtype=np.int64))
    out["hazard_ratio"] = np.exp(out["log_hr_peto"])
    out["reject"] = out["p_value"] < trial.alpha
    out["events"] = out["events_0"] + out["events_1"]
    return out


def power_at(
    trial: ReplicateTrial,
    n_patients: int,
    n_replicates: int,
    seed: int,
    *,
    null: bool = False,
    progress: Callable[[float], None] | None = None,
) -> PowerResult:
    """:func:`simulate_replicates` summarised (:func:`summarise`): power (or, ``null=True``, type-I error)."""
    reps = simulate_replicates(trial, n_patients, n_replicates, seed, null=null, progress=progress)
    return summarise(reps, n_patients, trial.alpha, trial.endpoint)


def summarise(reps: pd.DataFrame, n_patients: int, alpha: float, endpoint: str) -> PowerResult:
    """Power (fraction rejecting, Wilson 95 % CI), HR geometric mean and 2.5/50/97.5 % quantiles."""
    k, R = int(reps["reject"].sum()), len(reps)
    log_hr = reps["log_hr_peto"].to_numpy(float)
    finite = np.isfinite(log_hr)
    if not finite.any():
        raise ModelError("no replicate had events in both arms: the hazard ratio is not estimable")
    q = np.quantile(np.exp(log_hr[finite]), [0.025, 0.5, 0.975])
    m0, m1 = reps["median_0_months"].to_numpy(), reps["median_1_months"].to_numpy()
    reached = np.isfinite(m0) & np.isfinite(m1)
    return PowerResult(
        n_patients=n_patients,
        n_replicates=R,
        alpha=alpha,
        endpoint=endpoint,
        power=k / R,
        power_ci=wilson_interval(k, R),
        expected_hr=float(np.exp(np.mean(log_hr[finite]))),
        hr_quantiles=(float(q[0]), float(q[1]), float(q[2])),
        median_reference_months=float(np.median(m0[np.isfinite(m0)])) if np.isfinite(m0).any() else math.nan,
        median_experimental_months=float(np.median(m1[np.isfinite(m1)])) if np.isfinite(m1).any() else math.nan,
        fraction_medians_reached=float(reached.mean()),
        mean_events=float(reps["events"].mean()),
        replicates=reps,
    )


def schoenfeld_events(
    hazard_ratio: float, power: float, alpha: float = 0.05, allocation_fraction: float = 0.5
) -> float:
    """Events needed by the Schoenfeld formula ``(z_{1-a/2} + z_power)^2 / (p (1-p) ln(HR)^2)``."""
    if not (hazard_ratio > 0 and hazard_ratio != 1 and math.isfinite(hazard_ratio)):
        raise InputError("hazard_ratio", hazard_ratio, "must be positive, finite and not 1 (no effect)")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    p = allocation_fraction
    return (za + zb) ** 2 / (p * (1 - p) * math.log(hazard_ratio) ** 2)


CURVE_COLUMNS = ["n_patients", "power", "power_ci_lower", "power_ci_upper", "expected_hr", "mean_events"]


def curve_row(result: PowerResult) -> dict[str, float]:
    """One row of a power curve: ``n_patients``, ``power`` with its Wilson 95 % CI, ``expected_hr``,
    ``mean_events``."""
    return dict(
        n_patients=result.n_patients,
        power=result.power,
        power_ci_lower=result.power_ci[0],
        power_ci_upper=result.power_ci[1],
        expected_hr=result.expected_hr,
        mean_events=result.mean_events,
    )


def power_curve(
    trial: ReplicateTrial,
    sample_sizes: Sequence[int],
    n_replicates: int,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Power versus total sample size: one :func:`curve_row` per size, the same replicate seeds at every
    size (common random numbers, so the curve is smooth in ``n``)."""
    rows = []
    for i, n in enumerate(sample_sizes):
        rows.append(curve_row(power_at(trial, int(n), int(n_replicates), seed)))
        if progress is not None:
            progress((i + 1) / len(sample_sizes))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@dataclass
class SampleSizeResult:
    """Smallest total sample size reaching ``target_power`` (simulated) and the Schoenfeld estimate."""

    n_patients: int
    power: float
    target_power: float
    schoenfeld_n: int
    expected_hr: float
    searched: pd.DataFrame  # the power_curve columns at every size evaluated by the search


def sample_size(
    trial: ReplicateTrial,
    target_power: float,
    seed: int,
    *,
    n_replicates: int = 500,
    n_max: int = 5000,
    progress: Callable[[float], None] | None = None,
) -> SampleSizeResult:
    """Smallest total sample size (even) reaching ``target_power`` by simulation.

    Starts from the Schoenfeld estimate using the HR and event fraction of a pilot run, then bisects
    with common random numbers (same replicate seeds at every n). Raises InputError if even ``n_max``
    patients do not reach the target (effect too small).
    """
    if not 0 < target_power < 1:
        raise InputError("target_power", target_power, "must be in (0, 1)")
    rows = []
    pilot: list[PowerResult] = []

    def evaluate(n: int) -> float:
        result = power_at(trial, n, n_replicates, seed)
        if not pilot:
            pilot.append(result)
        rows.append(curve_row(result))
        if progress is not None:
            progress(min(0.99, len(rows) / 12))
        return result.power

    pilot_n = 200
    evaluate(pilot_n)
    hr, ev_frac = rows[0]["expected_hr"], rows[0]["mean_events"] / pilot_n
    w = integer_weights(trial.design.allocation)
    frac = w[trial.experimental_arm] / (w[trial.experimental_arm] + w[trial.reference_arm])
    pilot_log_hr = pilot[0].replicates["log_hr_peto"].to_numpy(float)
    pilot_log_hr = pilot_log_hr[np.isfinite(pilot_log_hr)]
    se = float(np.std(pilot_log_hr) / math.sqrt(max(1, pilot_log_hr.size)))
    if abs(math.log(hr)) < max(2.0 * se, 1e-3):
        raise InputError(
            "experimental_arm",
            trial.experimental_arm,
            f"predicted HR {hr:.3f} is indistinguishable from 1 (no effect): no sample size can reach power "
            f"{target_power}",
        )
    n_sch = int(math.ceil(schoenfeld_events(hr, target_power, trial.alpha, frac) / max(ev_frac, 1e-6)))
    n_sch += n_sch % 2
    hi = min(max(n_sch, 4), n_max)
    while evaluate(hi) < target_power:
        if hi >= n_max:
            raise InputError(
                "target_power",
                target_power,
                f"not reached with {n_max} patients (predicted HR {hr:.2f}); the effect is too small",
            )
        hi = min(2 * hi, n_max)
    lo = max(2, hi // 2)
    while lo > 2 and evaluate(lo) >= target_power:
        hi, lo = lo, max(2, lo // 2)
    while hi - lo > max(2, hi // 50):
        mid = (lo + hi) // 2
        mid += mid % 2
        if mid >= hi:
            break
        if evaluate(mid) >= target_power:
            hi = mid
        else:
            lo = mid
    table = pd.DataFrame(rows).drop_duplicates("n_patients").sort_values("n_patients").reset_index(drop=True)
    p_hi = float(table.loc[table.n_patients == hi, "power"].iloc[0])
    if progress is not None:
        progress(1.0)
    return SampleSizeResult(
        n_patients=hi,
        power=p_hi,
        target_power=target_power,
        schoenfeld_n=n_sch,
        expected_hr=hr,
        searched=table,
    )
