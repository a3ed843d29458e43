"""Likelihood-based calibration of the outcome model to published trials (``mhtcdt calibrate``).

Procedure
---------
1. **Populations.** Each population of ``data/calibration_targets.toml`` (Stupp, EORTC 26101, RTOG 1205,
   Maier-Hauff at first recurrence, van Linde fit/unfit) is drawn from :func:`mhtcdt.cohorts.generate_cohort`,
   put in its disease setting (:func:`mhtcdt.decision.model.setting.apply_setting`) and restricted to its
   eligibility (:func:`mhtcdt.cohorts.apply_criteria`) until it holds ``n_patients`` patients.
2. **Physics.** :func:`mhtcdt.physics.simulate_protocol` per (population, protocol); arms that differ only in
   systemic therapy share it (same patients, same RT: common random numbers). Outputs are cached on disk keyed
   by the protocol, the population, the seed and :func:`~mhtcdt.decision.model.calibration_file.physics_source_hash`.
3. **Likelihood.** Every target is a normal term on its scale with its sampling error
   (:mod:`mhtcdt.decision.model.calibration_targets`): medians with CIs from n and events, landmarks as binomial,
   hazard ratios with CIs, time origins explicit (diagnosis of recurrence = delay + time from treatment).
   Guyot et al. (BMC Med Res Methodol 2012;12:9) reconstruction of individual data needs the numbers at risk
   printed under the published Kaplan-Meier curves; none could be obtained for any target (survival14 dossier,
   sections 1.3 and 7), so the summary likelihood is used. The simulated statistics come from fixed per-patient
   random numbers (common random numbers): the likelihood is a deterministic function of the parameters. Its
   Monte Carlo error (bootstrap over patients, :func:`monte_carlo_se`) is added to each target's variance and
   must stay under a quarter of the target's acceptance half-width (printed; ``n_patients`` sets it).
4. **Posterior.** ABC-SMC with a Gaussian kernel on the precision-weighted distance
   (:mod:`mhtcdt.decision.model.abc_smc`; Del Moral, Doucet and Jasra 2012; Toni et al. 2009): the last
   generation (kernel width 1) samples the exact posterior of the summary likelihood (Wilkinson 2013) under the
   priors of ``data/outcome_params.toml`` ``[free]`` (uniform or log-uniform on their ranges). The point estimate
   is the posterior mode: the best particle, polished by a bounded Nelder-Mead on the same objective.
5. **Report** (:mod:`mhtcdt.decision.model.identifiability`): prior vs posterior per parameter, a local
   sensitivity matrix (which targets inform which parameters), posterior correlations and posterior predictive
   checks for every target; an **out-of-sample check** re-simulates every target on fresh populations (another
   seed, ``oos_factor`` x larger) at the point estimate.
6. **Output** (:func:`write_calibration`): a calibration file (schema in
   :mod:`mhtcdt.decision.model.calibration_file`) where the user says; the packaged file only on request.

HONESTY: there is no randomised NanoTherm evidence. The NanoTherm arm is fitted to one single-arm study and
the comparators to arms of other trials; any difference between arms predicted by the calibrated model is a
model prediction, not a measured effect.

Targets table (:attr:`CalibrationResult.table`): ``target``, ``arm``, ``statistic``, ``target_value``,
``lower``, ``upper`` (acceptance), ``simulated`` (at the point), ``within``, ``mc_se``, ``mc_ratio``
(MC SE / acceptance half-width), ``verified``, ``source``; with the posterior predictive columns of
:func:`mhtcdt.decision.model.identifiability.predictive_checks`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from scipy import optimize

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model import survival_statistics as ss
from mhtcdt.decision.model.abc_smc import SMCSettings, abc_smc
from mhtcdt.decision.model.calibration_file import SCHEMA_VERSION, physics_source_hash
from mhtcdt.decision.model.calibration_targets import (
    Arm,
    Population,
    Target,
    TargetSet,
    calibrated_effects,
    from_scale,
    indications,
    load_targets,
    to_scale,
)
from mhtcdt.errors import InputError, InputErrors, ModelError
from mhtcdt.seeding import child_rng, child_sequence

HONESTY_NOTE = (
    "No randomised NanoTherm evidence exists (MF1001 closed early): the NanoTherm arm is calibrated to one "
    "single-arm study and the comparators to arms of other trials. Differences between simulated arms "
    "are model predictions, not measured effects."
)
METHOD = "ABC-SMC, Gaussian kernel on a precision-weighted distance (exact summary-likelihood posterior at eps = 1)"
CITATION = (
    "Del Moral P, Doucet A, Jasra A. Stat Comput 2012;22:1009-1020; Toni T et al. J R Soc Interface 2009;6:187-202; "
    "Wilkinson RD. Stat Appl Genet Mol Biol 2013;12:129-141"
)
#: protocol fields without physics (the outcome model gives them their effect)
NON_PHYSICS_FIELDS = (
    "name",
    "tmz_concomitant",
    "tmz_adjuvant_cycles",
    "lomustine",
    "bevacizumab",
    "gemcitabine_cycles",
    "folfirinox_cycles",
)

PhysicsFn = Callable[[pd.DataFrame, Mapping[str, Any], np.random.SeedSequence], pd.DataFrame]
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Settings:
    """Sizes of a calibration run (defaults: ``mhtcdt calibrate`` without options)."""

    n_patients: int = 3000
    seed: int = 20261121
    n_particles: int = 200
    n_moves: int = 2
    max_moves: int = 6
    final_moves: int = 8
    polish_evaluations: int = 1200
    oos_factor: int = 5
    oos_seed: int | None = None  # default: seed + 1
    bootstrap: int = 60

    def __post_init__(self) -> None:
        checks = {
            "n_patients": (self.n_patients, 200),
            "n_particles": (self.n_particles, 20),
            "oos_factor": (self.oos_factor, 0),
            "bootstrap": (self.bootstrap, 10),
            "polish_evaluations": (self.polish_evaluations, 0),
            "n_moves": (self.n_moves, 1),
            "max_moves": (self.max_moves, self.n_moves),
            "final_moves": (self.final_moves, 0),
        }
        problems = [
            InputError(name, value, f"must be an integer >= {minimum}")
            for name, (value, minimum) in checks.items()
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum
        ]
        if problems:
            raise InputErrors(problems)


# ----------------------------------------------------------------------------- populations and physics
def build_population(pop: Population, n_patients: int, seed: np.random.SeedSequence) -> pd.DataFrame:
    """The first ``n_patients`` eligible patients of a population (generated in chunks until enough)."""
    from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria, generate_cohort
    from mhtcdt.decision.model.setting import apply_setting

    parts, have, start = [], 0, 0
    chunk = max(1000, 2 * n_patients)
    import warnings

    while have < n_patients:
        cohort = apply_setting(generate_cohort(pop.generator, chunk, seed, start=start), pop.setting)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptySelectionWarning)
            eligible = apply_criteria(cohort, list(pop.criteria)).eligible
        parts.append(eligible)
        have += len(eligible)
        start += chunk
        if start > 200 * n_patients + 10_000:
            raise InputError(f"populations.{pop.name}.criteria", list(pop.criteria), "too few eligible patients")
    return pd.concat(parts, ignore_index=True).iloc[:n_patients].reset_index(drop=True)


def real_physics(patients: pd.DataFrame, protocol_fields: Mapping[str, Any], seed) -> pd.DataFrame:
    """The physics layer: ``simulate_protocol(patients, Protocol(**fields), seed)``."""
    from mhtcdt.physics import Protocol, simulate_protocol

    return simulate_protocol(patients, Protocol(**dict(protocol_fields)), seed)


def cache_dir() -> Path:
    return Path(os.environ.get("MHTCDT_CACHE_DIR", Path.home() / ".cache" / "mhtcdt")) / "calibration"


def _physics_fields(protocol: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in protocol.items() if k not in NON_PHYSICS_FIELDS}


def arm_table(
    arm: Arm,
    population: pd.DataFrame,
    seed: int,
    physics_fn: PhysicsFn | None = None,
    use_cache: bool = True,
    memo: dict | None = None,
) -> pd.DataFrame:
    """Population + physics outputs + ``treatment_months`` + systemic columns of one calibration arm."""
    from mhtcdt.physics import Protocol

    fields = _physics_fields(arm.protocol)
    key = hashlib.sha256(
        repr(
            (arm.population, sorted(fields.items()), len(population), int(population["patient_id"].sum()), seed)
        ).encode()
    ).hexdigest()[:16]
    if memo is not None and key in memo:
        phys = memo[key]
    else:
        path = cache_dir() / f"{arm.population}-{key}-{physics_source_hash()}.pkl"
        if physics_fn is None and use_cache and path.exists():
            phys = pd.read_pickle(path)
        else:
            fn = physics_fn or real_physics
            phys = fn(population, {"name": arm.name, **fields}, child_sequence(seed, 7, int(key[:6], 16)))
            if physics_fn is None and use_cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                phys.to_pickle(path)
        if memo is not None:
            memo[key] = phys
    extra = [c for c in phys.columns if c not in population.columns or c == "patient_id"]
    merged = population.merge(phys[extra], on="patient_id", how="left", validate="one_to_one")
    if merged["log10_kill_total"].isna().any():
        raise ModelError(f"physics returned no kill for some patients of arm {arm.name}")
    protocol = Protocol(**arm.protocol)
    merged["treatment_months"] = outcome.treatment_months(protocol)
    for column, value in outcome.systemic_columns(protocol).items():
        merged[column] = value
    return merged


def simulate_populations(
    target_set: TargetSet,
    n_patients: int,
    seed: int,
    physics_fn: PhysicsFn | None = None,
    use_cache: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every calibration arm's table (populations drawn once, shared by their arms)."""
    pops: dict[str, pd.DataFrame] = {}
    memo: dict[str, pd.DataFrame] = {}
    tables = {}
    names = list(target_set.arms)
    for i, name in enumerate(names):
        arm = target_set.arms[name]
        if arm.population not in pops:
            index = sorted(target_set.populations).index(arm.population)
            pop = target_set.populations[arm.population]
            size = max(200, round(n_patients * pop.size_factor))
            pops[arm.population] = build_population(pop, size, child_sequence(seed, 3, index))
        if progress is not None:
            progress(i / len(names), f"physics: {name}")
        tables[name] = arm_table(arm, pops[arm.population], seed, physics_fn, use_cache, memo)
    if progress is not None:
        progress(1.0, "physics done")
    return tables


# ----------------------------------------------------------------------------- the problem
@dataclass
class _ArmArrays:
    population: str
    volume: np.ndarray
    kill_total: np.ndarray
    kill_rt: np.ndarray
    age: np.ndarray
    lp: np.ndarray
    settings: np.ndarray
    tm: np.ndarray
    systemic: outcome.Systemic
    draws: outcome.PatientDraws
    mgmt: np.ndarray
    shift: float

    def take(self, idx: np.ndarray) -> _ArmArrays:
        sys_ = self.systemic
        d = self.draws
        return _ArmArrays(
            self.population,
            self.volume[idx],
            self.kill_total[idx],
            self.kill_rt[idx],
            self.age[idx],
            self.lp[idx],
            self.settings[idx],
            self.tm[idx],
            sys_.take(idx),
            outcome.PatientDraws(d.z_growth[idx], d.e_pps[idx], d.e_other[idx], d.z_control[idx]),
            self.mgmt[idx],
            self.shift,
        )


class CalibrationProblem:
    """Targets + per-arm patient arrays + fixed random draws: ``stats(free)`` is deterministic.

    The parameter vector lives in the unit box of the priors (uniform or log-uniform on each range).
    """

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        target_set: TargetSet,
        params: outcome.OutcomeParams,
        seed: int,
        mc_se: np.ndarray | None = None,
    ) -> None:
        self.target_set = target_set
        self.targets: list[Target] = list(target_set.targets)
        self.base = params
        self.names = list(outcome.FREE_PARAMETERS)
        self.arrays: dict[str, _ArmArrays] = {}
        for name, df in tables.items():
            arm = target_set.arms[name]
            delay = params.recurrence_to_treatment_months if arm.time_origin == "diagnosis_of_recurrence" else 0.0
            kill_t = df["log10_kill_total"].to_numpy(float)
            kill_rt = df["log10_kill_rt"].to_numpy(float) if "log10_kill_rt" in df.columns else kill_t
            self.arrays[name] = _ArmArrays(
                population=arm.population,
                volume=df["tumour_volume_cm3"].to_numpy(float),
                kill_total=kill_t,
                kill_rt=np.minimum(kill_rt, kill_t),
                age=df["age_years"].to_numpy(float),
                lp=outcome.linear_predictor(df, params),
                settings=outcome.outcome_settings(df),
                tm=df["treatment_months"].to_numpy(float),
                systemic=outcome.systemic_from(df),
                draws=outcome.patient_draws(df["patient_id"].to_numpy(), child_sequence(seed, 11)),
                mgmt=outcome._col(df, "mgmt_methylated", False).astype(bool),
                shift=delay if arm.treated else 0.0,
            )
            outcome.pps_median_for(df, params)  # every patient's setting has a post-progression median
        self.lo, self.hi, self.is_log = [], [], []
        for k in self.names:
            pr = params.priors[k]
            lo, hi = map(float, pr["range"])
            log = pr.get("prior", "uniform") == "log-uniform"
            self.is_log.append(log)
            self.lo.append(math.log(lo) if log else lo)
            self.hi.append(math.log(hi) if log else hi)
        self.lo, self.hi, self.is_log = np.array(self.lo), np.array(self.hi), np.array(self.is_log)
        self.s0 = self.to_unit(np.array([float(params.priors[k]["default"]) for k in self.names]))
        self.centre = np.array([t.centre for t in self.targets])
        self.se = np.array([t.se for t in self.targets])
        self.mc_se = np.zeros(len(self.targets)) if mc_se is None else np.asarray(mc_se, float)
        self.evaluations = 0

    # unit box [0, 1]^d in the prior's scale
    def to_unit(self, x: np.ndarray) -> np.ndarray:
        u = np.where(self.is_log, np.log(x), x)
        return (u - self.lo) / (self.hi - self.lo)

    def from_unit(self, s: np.ndarray) -> dict[str, float]:
        u = self.lo + np.clip(np.asarray(s, float), 0.0, 1.0) * (self.hi - self.lo)
        x = np.where(self.is_log, np.exp(u), u)
        return dict(zip(self.names, map(float, x), strict=True))

    def simulate(
        self, free: Mapping[str, float], arrays: Mapping[str, _ArmArrays] | None = None
    ) -> dict[str, dict[str, np.ndarray]]:
        """Per arm: ``os`` and ``pfs`` [months from the arm's time origin] under ``free``."""
        p = self.base.with_free(**free)
        out = {}
        for name, a in (arrays or self.arrays).items():
            pps = np.where(
                a.settings == "newly_diagnosed_glioblastoma",
                p.free["pps_median_months_newly_diagnosed"],
                p.free["pps_median_months_recurrent"],
            )
            r = outcome.latent_times(
                a.volume, a.kill_total, a.kill_rt, a.age, a.lp, pps, a.draws, p, a.tm, systemic=a.systemic
            )
            out[name] = {"os": r["os_latent_months"] + a.shift, "pfs": r["pfs_latent_months"] + a.shift}
        return out

    def stats(self, free: Mapping[str, float], arrays: Mapping[str, _ArmArrays] | None = None) -> np.ndarray:
        """The simulated statistic of every target (natural scale), in target order."""
        arrays = arrays or self.arrays
        sims = self.simulate(free, arrays)
        self.evaluations += 1
        return np.array([_statistic(t, sims, arrays) for t in self.targets])

    def scaled(self, values: np.ndarray) -> np.ndarray:
        return np.array([to_scale(t.scale, v) for t, v in zip(self.targets, values, strict=True)], dtype=float)

    def z_scores(self, values: np.ndarray) -> np.ndarray:
        """(g(sim) - centre) / sqrt(se^2 + mc^2) per target."""
        return (self.scaled(values) - self.centre) / np.sqrt(self.se**2 + self.mc_se**2)

    def distance2(self, s: np.ndarray) -> float:
        """Squared precision-weighted distance of a unit-box point (the negative twice log-likelihood)."""
        try:
            z = self.z_scores(self.stats(self.from_unit(s)))
        except ModelError:
            return math.inf
        d2 = float(np.sum(z * z))
        return d2 if math.isfinite(d2) else math.inf

    def within(self, values: np.ndarray) -> np.ndarray:
        return np.array([t.lower <= v <= t.upper for t, v in zip(self.targets, values, strict=True)])

    def bootstrap_arrays(self, rng: np.random.Generator) -> dict[str, _ArmArrays]:
        """The arms resampled by patient, one resample per population (arms of a population stay paired)."""
        idx = {}
        out = {}
        for name, a in self.arrays.items():
            if a.population not in idx:
                idx[a.population] = rng.integers(0, a.volume.size, a.volume.size)
            out[name] = a.take(idx[a.population])
        return out


def _statistic(t: Target, sims: Mapping[str, Mapping[str, np.ndarray]], arrays: Mapping[str, _ArmArrays]) -> float:
    endpoint = "pfs" if "pfs" in t.statistic else "os"
    if t.statistic in ("hazard_ratio_os", "hazard_ratio_pfs"):
        exp, ref = sims[t.arms[0]][endpoint], sims[t.arms[1]][endpoint]
        times = np.concatenate([ref, exp])
        group = np.concatenate([np.zeros(ref.size), np.ones(exp.size)])
        return math.exp(ss.cox_coefficient(times, group))
    if t.statistic == "hazard_ratio_os_marker":
        times = np.concatenate([sims[a]["os"] for a in t.arms])
        marker = np.concatenate([arrays[a].mgmt for a in t.arms]).astype(float)
        return math.exp(ss.cox_coefficient(times, marker))
    if t.statistic == "cox_slope_prognostic_index":
        return ss.cox_coefficient(sims[t.arm]["os"], arrays[t.arm].lp)
    times = sims[t.arm][endpoint]
    if t.subgroup is not None:
        mask = arrays[t.arm].mgmt
        times = times[~mask if t.subgroup.startswith("not ") else mask]
    if t.statistic.startswith("median"):
        return ss.median(times)
    return ss.survival_at(times, float(t.at_months))


def monte_carlo_se(problem: CalibrationProblem, free: Mapping[str, float], n_boot: int, seed: int) -> np.ndarray:
    """Monte Carlo SE of each simulated statistic on its likelihood scale: SD over bootstrap resamples of the
    patients (paired within populations). Divide by nothing: it is the SE of the full-population statistic."""
    rng = child_rng(seed, 23)
    vals = np.array([problem.scaled(problem.stats(free, problem.bootstrap_arrays(rng))) for _ in range(n_boot)])
    return vals.std(axis=0, ddof=1)


def natural_mc_se(problem: CalibrationProblem, values: np.ndarray, mc_scaled: np.ndarray) -> np.ndarray:
    """Monte Carlo SE on the natural scale (delta method from the likelihood scale)."""
    out = []
    for t, v, m in zip(problem.targets, values, mc_scaled, strict=True):
        g = to_scale(t.scale, v)
        out.append(abs(from_scale(t.scale, g + m) - from_scale(t.scale, g - m)) / 2.0)
    return np.array(out)


# ----------------------------------------------------------------------------- results
@dataclass
class CalibrationResult:
    free: dict[str, float]
    table: pd.DataFrame
    draws: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    out_of_sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    identifiability: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def all_within(self) -> bool:
        ok = bool(self.table["within"].all())
        if not self.out_of_sample.empty:
            ok = ok and bool(self.out_of_sample["within"].all())
        return ok


def targets_table(problem: CalibrationProblem, values: np.ndarray, mc_natural: np.ndarray) -> pd.DataFrame:
    rows = []
    for t, v, m in zip(problem.targets, values, mc_natural, strict=True):
        rows.append(
            dict(
                target=t.name,
                arm=" vs ".join(t.arms) if len(t.arms) == 2 and "hazard" in t.statistic else t.arm,
                statistic=t.statistic + (f"_{t.at_months:g}" if t.at_months else ""),
                subgroup=t.subgroup or "",
                target_value=t.value,
                lower=t.lower,
                upper=t.upper,
                simulated=float(v),
                within=bool(t.lower <= v <= t.upper),
                z=float((to_scale(t.scale, v) - t.centre) / t.se),
                mc_se=float(m),
                mc_ratio=float(m / t.halfwidth),
                verified=t.verified,
                source=t.source,
            )
        )
    return pd.DataFrame(rows)


def _fmt(statistic: str, x: float) -> str:
    if statistic.startswith(("os_at", "pfs_at")):
        return f"{100 * x:.1f}%"
    return f"{x:.2f}"


def format_table(table: pd.DataFrame, title: str = "Simulated vs target") -> str:
    """Simulated vs target, one line per target, with the acceptance interval and the MC error."""
    has_pp = "pp_2_5" in table.columns
    lines = [
        title,
        f"{'target':<40} {'simulated':>9} {'target':>7}  {'acceptance':<15} ok  {'MC/hw':>5}  verified"
        + ("  posterior 95% range" if has_pp else ""),
    ]
    for r in table.itertuples():
        f = lambda x, s=r.statistic: _fmt(s, x)  # noqa: E731
        lines.append(
            f"{r.target:<40} {f(r.simulated):>9} {f(r.target_value):>7}  "
            f"{f(r.lower) + '-' + f(r.upper):<15} {'yes' if r.within else 'NO ':<3} {r.mc_ratio:>5.2f}  "
            f"{str(r.verified):<8}" + (f"  {f(r.pp_2_5)}-{f(r.pp_97_5)}" if has_pp else "")
        )
    n_in = int(table["within"].sum())
    lines.append(
        f"{n_in} of {len(table)} targets inside their acceptance; MC/hw = Monte Carlo SE / half-width (< 0.25)"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the whole calibration
def _stage(progress: Progress | None, lo: float, hi: float) -> Callable[[float, str], None]:
    def report(frac: float, text: str) -> None:
        if progress is not None:
            progress(text, lo + (hi - lo) * float(np.clip(frac, 0.0, 1.0)))

    return report


def polish(problem: CalibrationProblem, start: np.ndarray, max_evaluations: int) -> np.ndarray:
    """Bounded Nelder-Mead on the squared distance from a unit-box point (the posterior mode under flat priors)."""
    if max_evaluations <= 0:
        return start

    def objective(s: np.ndarray) -> float:
        outside = float(np.sum(np.clip(-s, 0, None) ** 2 + np.clip(s - 1, 0, None) ** 2))
        return problem.distance2(np.clip(s, 0.0, 1.0)) + 1e4 * outside

    res = optimize.minimize(
        objective,
        start,
        method="Nelder-Mead",
        options=dict(maxfev=max_evaluations, xatol=1e-4, fatol=1e-4, adaptive=True),
    )
    best = np.clip(res.x, 0.0, 1.0)
    return best if problem.distance2(best) <= problem.distance2(start) else start


def calibrate(
    settings: Settings | None = None,
    targets_path: str | Path | None = None,
    physics_fn: PhysicsFn | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Run the whole calibration (module docstring). ``physics_fn`` None = the real physics."""
    from mhtcdt.decision.model import identifiability

    settings = settings or Settings()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    target_set = load_targets(targets_path)
    params = outcome.base_params(target_set.outcome_params_file)
    tables = simulate_populations(
        target_set, settings.n_patients, settings.seed, physics_fn, use_cache, _stage(progress, 0.0, 0.12)
    )
    lap("populations_and_physics")
    problem = CalibrationProblem(tables, target_set, params, settings.seed)
    pilot = problem.from_unit(problem.s0)
    problem.mc_se = monte_carlo_se(problem, pilot, max(10, settings.bootstrap // 2), settings.seed)
    lap("pilot_monte_carlo")
    smc = abc_smc(
        problem.distance2,
        len(problem.names),
        SMCSettings(
            n_particles=settings.n_particles,
            n_moves=settings.n_moves,
            max_moves=settings.max_moves,
            final_moves=settings.final_moves,
        ),
        seed=child_sequence(settings.seed, 19),
        progress=_stage(progress, 0.13, 0.78),
    )
    lap("abc_smc")
    _stage(progress, 0.78, 0.82)(0.0, "posterior mode")
    best = smc.particles[int(np.argmin(smc.distances2))]
    point_u = polish(problem, best.copy(), settings.polish_evaluations)
    free = problem.from_unit(point_u)
    lap("posterior_mode")
    _stage(progress, 0.82, 0.86)(0.0, "Monte Carlo error, report")
    values = problem.stats(free)
    mc_scaled = monte_carlo_se(problem, free, settings.bootstrap, settings.seed)
    mc_nat = natural_mc_se(problem, values, mc_scaled)
    table = targets_table(problem, values, mc_nat)
    draws = pd.DataFrame([problem.from_unit(p) for p in smc.particles])
    draw_stats = np.array([problem.stats(problem.from_unit(p)) for p in smc.particles])
    table = identifiability.predictive_checks(problem, table, draw_stats)
    report = identifiability.report(problem, smc.particles, point_u)
    lap("report")
    oos = pd.DataFrame()
    oos_sizes: dict[str, int] = {}
    if settings.oos_factor > 0:
        oos_seed = settings.oos_seed if settings.oos_seed is not None else settings.seed + 1
        oos_tables = simulate_populations(
            target_set,
            settings.oos_factor * settings.n_patients,
            oos_seed,
            physics_fn,
            use_cache,
            _stage(progress, 0.86, 0.98),
        )
        oos = out_of_sample_table(oos_tables, target_set, params, free, oos_seed, settings.bootstrap)
        oos_sizes = {k: len(v) for k, v in oos_tables.items()}
        lap("out_of_sample")
    _stage(progress, 0.98, 1.0)(1.0, "done")
    created = _dt.datetime.now(_dt.UTC)
    meta = dict(
        created_utc=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=settings.seed,
        method=METHOD,
        citation=CITATION,
        physics=("real" if physics_fn is None else getattr(physics_fn, "__name__", "custom")),
        physics_source_hash=physics_source_hash(),
        indications=indications(target_set),
        **({"outcome_params_file": target_set.outcome_params_file} if target_set.outcome_params_file else {}),
        calibrated_effects=calibrated_effects(target_set),
        **({"assumed_effects": dict(target_set.assumed_effects)} if target_set.assumed_effects else {}),
        targets_file=target_set.source,
        patients_per_arm={k: len(v) for k, v in tables.items()},
        out_of_sample_patients_per_arm=oos_sizes,
        out_of_sample_seed=(settings.oos_seed if settings.oos_seed is not None else settings.seed + 1),
        settings=dict(vars(settings)),
        smc=dict(
            particles=settings.n_particles,
            generations=len(smc.generations),
            evaluations=smc.evaluations,
            final_eps=float(smc.generations[-1]["eps"]),
            final_acceptance=float(smc.generations[-1]["acceptance"]),
        ),
        smc_generations=smc.generations,
        point="posterior mode (best particle, Nelder-Mead polished)",
        point_distance2=float(problem.distance2(point_u)),
        n_targets=len(problem.targets),
        in_sample_within=int(table["within"].sum()),
        out_of_sample_within=int(oos["within"].sum()) if not oos.empty else -1,
        max_mc_ratio=float(table["mc_ratio"].max()),
        timings_s=timings,
        honesty_note=HONESTY_NOTE,
    )
    return CalibrationResult(free=free, table=table, draws=draws, meta=meta, out_of_sample=oos, identifiability=report)


def out_of_sample_table(
    tables: Mapping[str, pd.DataFrame],
    target_set: TargetSet,
    params: outcome.OutcomeParams,
    free: Mapping[str, float],
    seed: int,
    n_boot: int,
) -> pd.DataFrame:
    """Every target re-simulated at ``free`` on other populations (e.g. a fresh seed, 5x larger)."""
    problem = CalibrationProblem(tables, target_set, params, seed)
    values = problem.stats(free)
    mc = natural_mc_se(problem, values, monte_carlo_se(problem, free, max(10, n_boot // 2), seed))
    return targets_table(problem, values, mc)


def format_result(result: CalibrationResult) -> str:
    """The printed calibration: in-sample and out-of-sample tables, the identifiability report, the method."""
    from mhtcdt.decision.model import identifiability

    m = result.meta
    parts = [
        f"Calibration {m.get('calibration_id', '(not written)')}: {m['method']}",
        f"  {m['citation']}",
        f"  {m['n_targets']} targets from {len(m['patients_per_arm'])} arms; patients per arm "
        f"{min(m['patients_per_arm'].values())}-{max(m['patients_per_arm'].values())}; "
        f"{m['smc']['particles']} particles, {m['smc']['generations']} generations, "
        f"{m['smc']['evaluations']} model evaluations; physics hash {m['physics_source_hash']}",
        "",
        format_table(result.table, "IN SAMPLE (point estimate = posterior mode)"),
    ]
    if not result.out_of_sample.empty:
        sizes = m["out_of_sample_patients_per_arm"]
        parts += [
            "",
            format_table(
                result.out_of_sample,
                f"OUT OF SAMPLE (seed {m['out_of_sample_seed']}, {min(sizes.values())}-{max(sizes.values())} "
                "patients per arm)",
            ),
        ]
    parts += ["", identifiability.format_report(result.identifiability), "", "NOTE: " + HONESTY_NOTE]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the file
def write_calibration(result: CalibrationResult, path: str | Path) -> Path:
    """Write the calibration file (TOML, schema :data:`SCHEMA_VERSION`) and its text report beside it
    (``<path>.report.txt``); sets ``meta.calibration_id``. Returns the file's path."""
    p = Path(path)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": "mhtcdt calibrate (mhtcdt/decision/model/calibration.py)",
        "note": HONESTY_NOTE,
        "meta": _toml_safe(result.meta),
        "free": {k: float(v) for k, v in result.free.items()},
        "targets": [_toml_safe(r) for r in result.table.to_dict(orient="records")],
        "out_of_sample": [_toml_safe(r) for r in result.out_of_sample.to_dict(orient="records")],
        "identifiability": {
            k: [_toml_safe(r) for r in v.to_dict(orient="records")] for k, v in result.identifiability.items()
        },
        "draws": [_toml_safe(r) for r in result.draws.to_dict(orient="records")],
    }
    content = hashlib.sha256(tomli_w.dumps(doc).encode()).hexdigest()[:8]
    created = result.meta["created_utc"].replace("-", "").replace(":", "")
    result.meta["calibration_id"] = f"{created}-s{result.meta['seed']}-{content}"
    doc["meta"]["calibration_id"] = result.meta["calibration_id"]
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(b"# Calibrated outcome-model parameters: generated by `mhtcdt calibrate`, do not edit by hand.\n")
        tomli_w.dump(doc, fh)
    report_path(p).write_text(format_result(result) + "\n", encoding="utf-8")
    from mhtcdt.datafiles import load_toml

    load_toml.cache_clear()
    return p


def report_path(path: str | Path) -> Path:
    """Where the text report of a calibration file is written (beside it)."""
    p = Path(path)
    return p.with_name(p.name + ".report.txt")


def _toml_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        out[k] = _toml_value(v)
    return out


def _toml_value(v: Any) -> Any:
    if isinstance(v, Mapping):
        return _toml_safe(v)
    if isinstance(v, (list, tuple)):
        return [_toml_value(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        x = float(v)
        return x if math.isfinite(x) else str(x)
    if v is None:
        return "none"
    return v
