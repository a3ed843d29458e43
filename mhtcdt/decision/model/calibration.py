"""Calibration of the outcome model's free parameters to published trial results (`mhtcdt calibrate`).

Procedure
---------
1. Populations: for each calibration arm in ``data/calibration_targets.toml`` a virtual cohort from
   :func:`mhtcdt.cohorts.generate_cohort` restricted to that study's eligibility
   (:func:`mhtcdt.cohorts.apply_criteria`). The two recurrent-glioblastoma arms share the same patients
   (paired, common random numbers). The newly diagnosed (Stupp 2005) population is derived from the
   recurrent generator as documented in the targets file (no newly-diagnosed generator exists).
2. Physics: :func:`mhtcdt.physics.simulate_protocol` per arm with the arm's protocol (RT 30 Gy / 15
   fractions; NanoTherm MHT + the same RT; RT 60 Gy / 30 fractions). Outputs are cached on disk keyed by
   a hash of the protocol, cohort size, seed and the source of the physics and cohorts packages.
3. Fit: the free parameters (:data:`mhtcdt.decision.model.outcome.FREE_PARAMETERS`) minimise
   ``sum_k ((sim_k - target_k) / halfwidth_k)^2`` (+ a weak ridge towards the prior centres for the
   directions the targets do not identify) with Nelder-Mead in the prior's scale (log for log-uniform
   priors), using common random numbers so the objective is deterministic. The 2-year OS fraction is
   smoothed (normal kernel, 0.25 months) inside the objective only. The covariate scale
   (:attr:`OutcomeParams.covariate_scale`) is set so that a Cox model of simulated OS on the prognostic
   index has slope 1 in the RT-alone recurrent arm (published HRs are proportional-hazards estimates),
   alternating with the fit twice.
4. Uncertainty: ABC-MCMC (Marjoram et al. 2003) started from the fitted point (moved into the joint
   acceptance region if needed): a random walk in the prior scale whose moves are accepted when *every*
   target lies in its acceptance interval. Because the priors are uniform in that scale, the chain samples
   the prior restricted to the acceptance region. Thinned draws are stored for the economics PSA.
5. Output: ``data/outcome_calibration.toml`` (versioned; loaded by default by
   :func:`mhtcdt.decision.model.outcome.load_outcome_params`) with the fitted values, the accepted draws and the
   simulated-vs-target table.

Acceptance interval of a target: its published 95 % CI, or its stated reference range, or +-10 % of the
value when neither is given.

HONESTY: there is no randomised NanoTherm evidence. The NanoTherm arm is fitted to one single-arm study
and the RT arms to reference arms of other trials; any difference between arms predicted by the
calibrated model is a model prediction, not a measured effect.

Targets table (:attr:`CalibrationResult.table`): ``target`` str, ``arm`` str, ``statistic`` str,
``target_value``, ``lower``, ``upper``, ``simulated`` (float64), ``within`` bool, ``verified`` bool,
``source`` str, ``draws_2_5``, ``draws_97_5`` (float64: the statistic's 2.5-97.5 % range over the
accepted draws).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from scipy import optimize
from scipy.special import ndtr

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.model import outcome
from mhtcdt.errors import InputError, ModelError
from mhtcdt.seeding import child_rng, child_sequence

TARGETS_FILE = "data/calibration_targets.toml"  # in the package outcome.DATA_PACKAGE
HONESTY_NOTE = (
    "No randomised NanoTherm evidence exists (MF1001 closed early): the NanoTherm arm is calibrated to one "
    "single-arm study and the RT arms to reference arms of other trials. Differences between simulated arms "
    "are model predictions, not measured effects."
)
STATISTICS = ("median_os_months", "median_pfs_months", "os_at_24_months")

PhysicsFn = Callable[[pd.DataFrame, Mapping[str, Any], np.random.SeedSequence], pd.DataFrame]


# ----------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    name: str
    arm: str
    statistic: str
    value: float
    lower: float
    upper: float
    source: str
    verified: bool

    @property
    def halfwidth(self) -> float:
        return (self.upper - self.lower) / 2.0


def load_targets(path: str | Path | None = None) -> tuple[dict[str, dict], list[Target]]:
    """Read the calibration arms and targets (acceptance interval computed per target)."""
    raw, source = outcome._toml(path, TARGETS_FILE, "targets")
    arms = raw.get("arms", {})
    targets = []
    for i, t in enumerate(raw.get("targets", [])):
        f = f"targets[{i}]"
        if t.get("arm") not in arms:
            raise InputError(f"{f}.arm", t.get("arm"), f"not a calibration arm; arms: {sorted(arms)}")
        if t.get("statistic") not in STATISTICS:
            raise InputError(f"{f}.statistic", t.get("statistic"), f"use one of {list(STATISTICS)}")
        v = float(t["value"])
        if "ci95" in t:
            lo, hi = map(float, t["ci95"])
        elif "range" in t:
            lo, hi = map(float, t["range"])
        else:
            tol = float(t.get("tolerance_relative", 0.10))
            lo, hi = v * (1 - tol), v * (1 + tol)
        if not lo < hi:
            raise InputError(f"{f}", (lo, hi), "acceptance interval must have lower < upper")
        targets.append(
            Target(
                t["name"],
                t["arm"],
                t["statistic"],
                v,
                lo,
                hi,
                t.get("source", ""),
                bool(t.get("verified", False)),
            )
        )
    if not targets:
        raise InputError("targets", source, "no [[targets]] entries")
    return arms, targets


# ----------------------------------------------------------------------------- populations and physics
def build_population(arm_spec: Mapping[str, Any], n_screened: int, seed: np.random.SeedSequence) -> pd.DataFrame:
    """Eligible virtual patients of one calibration arm (see the targets file for derivations).

    The ``indication`` column stays the generator's (the physics uses it); :func:`arm_with_physics`
    sets the arm's outcome setting afterwards.
    """
    from mhtcdt.cohorts import apply_criteria, generate_cohort

    source = arm_spec.get("derived_from", arm_spec["indication"])
    cohort = generate_cohort(source, n_screened, seed)
    for col, value in arm_spec.get("set_columns", {}).items():
        cohort[col] = value
    eligible = apply_criteria(cohort, list(arm_spec.get("criteria", []))).eligible.copy()
    if len(eligible) == 0:
        raise InputError("criteria", arm_spec.get("criteria"), "no virtual patient is eligible for this arm")
    return eligible.reset_index(drop=True)


def real_physics(patients: pd.DataFrame, protocol_fields: Mapping[str, Any], seed) -> pd.DataFrame:
    """The physics layer: ``simulate_protocol(patients, Protocol(**fields), seed)``."""
    from mhtcdt.physics import Protocol, simulate_protocol

    return simulate_protocol(patients, Protocol(**dict(protocol_fields)), seed)


def _source_hash() -> str:
    """Hash of the physics and cohorts source + data files (cache invalidation)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for sub in ("physics", "cohorts"):
        for f in sorted((root / sub).rglob("*")):
            if f.suffix in (".py", ".toml") and f.is_file():
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("MHTCDT_CACHE_DIR", Path.home() / ".cache" / "mhtcdt")) / "calibration"


def arm_with_physics(
    name: str,
    arm_spec: Mapping[str, Any],
    population: pd.DataFrame,
    seed: int,
    physics_fn: PhysicsFn | None = None,
    use_cache: bool = True,
) -> pd.DataFrame:
    """Population + physics outputs (+ ``treatment_months``) for one arm, cached for the real physics."""
    fields = dict(arm_spec["protocol"])
    key = hashlib.sha256(
        repr((name, sorted(fields.items()), len(population), int(population["patient_id"].sum()), seed)).encode()
    ).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}-{_source_hash()}.pkl"
    if physics_fn is None and use_cache and path.exists():
        phys = pd.read_pickle(path)
    else:
        fn = physics_fn or real_physics
        phys = fn(population, fields, child_sequence(seed, 7, _arm_index(name)))
        if physics_fn is None and use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            phys.to_pickle(path)
    extra = [c for c in phys.columns if c not in population.columns or c == "patient_id"]
    merged = population.merge(phys[extra], on="patient_id", how="left", validate="one_to_one")
    # the physics sees the generator's indication (its radiobiology); the outcome model the arm's setting
    merged["indication"] = arm_spec["indication"]
    if merged["log10_kill_total"].isna().any():
        raise ModelError(f"physics returned no kill for some patients of arm {name}")
    merged["treatment_months"] = outcome.treatment_months(
        SimpleNamespace(
            **{
                "n_sessions": 0,
                "session_interval_hours": 0.0,
                "rt_n_fractions": 0,
                "rt_fractions_per_week": 5.0,
                **fields,
            }
        )
    )
    return merged


def _arm_index(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)


# ----------------------------------------------------------------------------- the problem
class CalibrationProblem:
    """Targets + per-arm patient arrays + fixed random draws: ``stats(free)`` is deterministic."""

    def __init__(
        self,
        arms: Mapping[str, pd.DataFrame],
        targets: list[Target],
        params: outcome.OutcomeParams,
        seed: int,
    ) -> None:
        self.targets = targets
        self.base = params
        self.names = list(outcome.FREE_PARAMETERS)
        self.arrays = {}
        for name, df in arms.items():
            kill_t = df["log10_kill_total"].to_numpy(float)
            kill_rt = df["log10_kill_rt"].to_numpy(float) if "log10_kill_rt" in df.columns else kill_t
            self.arrays[name] = dict(
                volume=df["tumour_volume_cm3"].to_numpy(float),
                kill_total=kill_t,
                kill_rt=np.minimum(kill_rt, kill_t),
                age=df["age_years"].to_numpy(float),
                lp=outcome.linear_predictor(df, params),
                indication=df["indication"].astype(str).to_numpy(),
                tm=df["treatment_months"].to_numpy(float) if "treatment_months" in df.columns else 0.0,
                draws=outcome.patient_draws(df["patient_id"].to_numpy(), child_sequence(seed, 11)),
            )
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

    # unit box [0, 1]^d in the prior's scale
    def to_unit(self, x: np.ndarray) -> np.ndarray:
        u = np.where(self.is_log, np.log(x), x)
        return (u - self.lo) / (self.hi - self.lo)

    def from_unit(self, s: np.ndarray) -> dict[str, float]:
        u = self.lo + np.asarray(s) * (self.hi - self.lo)
        x = np.where(self.is_log, np.exp(u), u)
        return dict(zip(self.names, map(float, x), strict=True))

    def simulate(self, free: Mapping[str, float]) -> dict[str, dict[str, np.ndarray]]:
        p = self.base.with_free(**free)
        out = {}
        for name, a in self.arrays.items():
            pps = np.array([p.free[outcome.PPS_KEY_BY_INDICATION[i]] for i in a["indication"]])
            out[name] = outcome.latent_times(
                a["volume"], a["kill_total"], a["kill_rt"], a["age"], a["lp"], pps, a["draws"], p, a["tm"]
            )
        return out

    def stats(self, free: Mapping[str, float], smooth: bool = False) -> np.ndarray:
        sims = self.simulate(free)
        vals = []
        for t in self.targets:
            r = sims[t.arm]
            if t.statistic == "median_os_months":
                vals.append(float(np.median(r["os_latent_months"])))
            elif t.statistic == "median_pfs_months":
                vals.append(float(np.median(r["pfs_latent_months"])))
            else:
                os_ = r["os_latent_months"]
                vals.append(float(np.mean(ndtr((os_ - 24.0) / 0.25))) if smooth else float(np.mean(os_ > 24.0)))
        return np.array(vals)

    def within(self, values: np.ndarray) -> np.ndarray:
        return np.array([t.lower <= v <= t.upper for t, v in zip(self.targets, values, strict=True)])

    def objective(self, s: np.ndarray) -> float:
        s = np.asarray(s, float)
        outside = np.sum(np.clip(-s, 0, None) ** 2 + np.clip(s - 1, 0, None) ** 2)
        v = self.stats(self.from_unit(np.clip(s, 0.0, 1.0)), smooth=True)
        z = np.array([(vi - t.value) / t.halfwidth for vi, t in zip(v, self.targets, strict=True)])
        return float(np.sum(z**2) + 0.02 * np.sum((s - self.s0) ** 2) + 1e3 * outside)


@dataclass
class CalibrationResult:
    free: dict[str, float]
    table: pd.DataFrame
    draws: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def fit(
    problem: CalibrationProblem, restarts: int = 3, seed: int = 0, start: Mapping[str, float] | None = None
) -> tuple[dict[str, float], float]:
    """Nelder-Mead from ``start`` (default the prior centre) and ``restarts - 1`` random starts."""
    rng = child_rng(seed, 13)
    s_start = problem.s0 if start is None else problem.to_unit(np.array([start[k] for k in problem.names]))
    starts = [s_start] + [rng.uniform(0.2, 0.8, problem.s0.size) for _ in range(max(0, restarts - 1))]
    best = None
    for s in starts:
        res = optimize.minimize(
            problem.objective,
            s,
            method="Nelder-Mead",
            options=dict(maxiter=1500, xatol=1e-4, fatol=1e-6, adaptive=True),
        )
        if best is None or res.fun < best.fun:
            best = res
    if best is None or not math.isfinite(best.fun):
        raise ModelError("calibration objective is not finite")
    return problem.from_unit(np.clip(best.x, 0, 1)), float(best.fun)


def cox_slope(problem: CalibrationProblem, free: Mapping[str, float], arm: str) -> float:
    """Cox coefficient of simulated OS on the prognostic index ``lp`` in one arm (1 = HRs reproduced)."""
    from lifelines import CoxPHFitter

    os_ = problem.simulate(free)[arm]["os_latent_months"]
    data = pd.DataFrame(dict(t=os_, e=np.ones(len(os_)), lp=problem.arrays[arm]["lp"]))
    return float(CoxPHFitter().fit(data, "t", "e").params_["lp"])


def covariate_scale_for(problem: CalibrationProblem, free: Mapping[str, float], arm: str) -> float:
    """Scale ``c`` of the prognostic index such that simulated OS has Cox slope 1 on ``lp`` (brentq)."""
    base = problem.base

    def g(c: float) -> float:
        problem.base = base.with_covariate_scale(c)
        return cox_slope(problem, free, arm) - 1.0

    try:
        c = optimize.brentq(g, 0.1, 3.0, xtol=1e-3)
    except ValueError as exc:
        raise ModelError(f"no covariate scale in [0.1, 3] reproduces the published hazard ratios: {exc}") from exc
    finally:
        problem.base = base
    return float(c)


def feasible(problem: CalibrationProblem, free: Mapping[str, float]) -> dict[str, float]:
    """Move a least-squares optimum into the joint acceptance region if it is just outside.

    Minimises the largest normalised distance to the target relative to its acceptance interval,
    ``max_k |sim_k - target_k| / halfwidth_k``; returns the point unchanged if already inside.
    """
    if problem.within(problem.stats(free)).all():
        return dict(free)

    def worst(s: np.ndarray) -> float:
        s = np.asarray(s, float)
        outside = np.sum(np.clip(-s, 0, None) ** 2 + np.clip(s - 1, 0, None) ** 2)
        v = problem.stats(problem.from_unit(np.clip(s, 0, 1)), smooth=True)
        z = [abs(vi - t.value) / t.halfwidth for vi, t in zip(v, problem.targets, strict=True)]
        return float(max(z) + 1e3 * outside)

    s0 = problem.to_unit(np.array([free[k] for k in problem.names]))
    res = optimize.minimize(
        worst, s0, method="Nelder-Mead", options=dict(maxiter=2000, xatol=1e-5, fatol=1e-6, adaptive=True)
    )
    return problem.from_unit(np.clip(res.x, 0, 1))


def abc(
    problem: CalibrationProblem,
    start: Mapping[str, float],
    seed: int,
    n_steps: int = 4000,
    max_accepted: int = 200,
    burn_in: int = 500,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """ABC-MCMC (Marjoram et al. PNAS 2003) with an indicator likelihood.

    Random-walk Metropolis in the unit prior scale; a proposal is accepted iff it lies inside the prior
    support and *every* target lies in its acceptance interval. With priors uniform in that scale the
    chain samples the prior restricted to the acceptance region. The step size adapts during burn-in
    (target acceptance about 0.25); the kept chain is thinned to ``max_accepted`` draws.
    """
    s = problem.to_unit(np.array([start[k] for k in problem.names]))
    if not problem.within(problem.stats(problem.from_unit(s))).all():
        raise ModelError(
            "ABC start point does not meet every target: the model cannot reproduce all targets "
            "at once (see the calibration table)"
        )
    rng = child_rng(seed, 17)
    step = 0.05
    chain, moves, recent = [], 0, []
    for i in range(burn_in + n_steps):
        prop = s + step * rng.standard_normal(s.size)
        ok = bool(np.all((prop >= 0) & (prop <= 1))) and bool(
            problem.within(problem.stats(problem.from_unit(prop))).all()
        )
        if ok:
            s = prop
        recent.append(ok)
        if i < burn_in and len(recent) == 50:
            rate = np.mean(recent)
            step *= float(np.clip(math.exp(2.0 * (rate - 0.25)), 0.5, 2.0))
            recent = []
        if i >= burn_in:
            moves += ok
            chain.append(s.copy())
    chain = np.array(chain)
    keep = chain[np.linspace(0, len(chain) - 1, min(max_accepted, len(chain))).astype(int)]
    draws = pd.DataFrame([problem.from_unit(si) for si in keep])
    info = dict(
        method="ABC-MCMC, indicator likelihood",
        steps=n_steps,
        burn_in=burn_in,
        acceptance_rate=moves / n_steps,
        step_unit_scale=step,
        kept=len(draws),
        distinct_kept=int(len(np.unique(keep, axis=0))),
    )
    return draws, info


def targets_table(problem: CalibrationProblem, free: Mapping[str, float]) -> pd.DataFrame:
    v = problem.stats(free)
    return pd.DataFrame(
        [
            dict(
                target=t.name,
                arm=t.arm,
                statistic=t.statistic,
                target_value=t.value,
                lower=t.lower,
                upper=t.upper,
                simulated=float(vi),
                within=bool(t.lower <= vi <= t.upper),
                verified=t.verified,
                source=t.source,
            )
            for t, vi in zip(problem.targets, v, strict=True)
        ]
    )


def format_table(table: pd.DataFrame) -> str:
    """Simulated vs target, one line per target, with the honesty note."""
    has_draws = "draws_2_5" in table.columns
    lines = [
        f"{'target':<32} {'statistic':<18} {'simulated':>9} {'target':>7}  {'acceptance':<15} ok  verified"
        + ("  draws 95% range" if has_draws else "")
    ]
    for r in table.itertuples():
        pct = r.statistic == "os_at_24_months"
        f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.2f}")
        lines.append(
            f"{r.target:<32} {r.statistic:<18} {f(r.simulated):>9} {f(r.target_value):>7}  "
            f"{f(r.lower) + '-' + f(r.upper):<15} {'yes' if r.within else 'NO ':<3} {str(r.verified):<8}"
            + (f"  {f(r.draws_2_5)}-{f(r.draws_97_5)}" if has_draws else "")
        )
    lines.append("NOTE: " + HONESTY_NOTE)
    return "\n".join(lines)


def calibrate(
    n_screened: int = 3000,
    seed: int = 20261121,
    targets_path: str | Path | None = None,
    physics_fn: PhysicsFn | None = None,
    n_steps: int = 4000,
    max_accepted: int = 200,
    restarts: int = 3,
    use_cache: bool = True,
    progress: Callable[[str, float], None] | None = None,
    covariate_arm: str = "rt_alone_recurrent",
) -> CalibrationResult:
    """Run the whole calibration (see the module docstring). ``physics_fn`` None = the real physics."""
    if not (isinstance(n_screened, int) and n_screened >= 100):
        raise InputError("n_screened", n_screened, "need at least 100 screened patients per population")
    arm_specs, targets = load_targets(targets_path)
    params = outcome.load_outcome_params(calibrated=False)
    report = progress or (lambda stage, frac: None)
    pops: dict[str, pd.DataFrame] = {}
    arms: dict[str, pd.DataFrame] = {}
    needed = sorted({t.arm for t in targets})
    for i, name in enumerate(needed):
        spec = arm_specs[name]
        src = spec.get("derived_from", spec["indication"])
        pop_key = (src, tuple(spec.get("criteria", [])), tuple(sorted(spec.get("set_columns", {}).items())))
        if pop_key not in pops:
            pops[pop_key] = build_population(spec, n_screened, child_sequence(seed, 3, len(pops)))
        report(f"physics: {name}", i / len(needed) * 0.6)
        arms[name] = arm_with_physics(name, spec, pops[pop_key], seed, physics_fn, use_cache)
    problem = CalibrationProblem(arms, targets, params, seed)
    report("fitting", 0.6)
    free, obj = fit(problem, restarts=restarts, seed=seed)
    scale_arm = covariate_arm if covariate_arm in arms else needed[0]
    for _ in range(2):  # alternate: covariate scale given the fit, refit given the scale
        scale = covariate_scale_for(problem, free, scale_arm)
        problem.base = problem.base.with_covariate_scale(scale)
        free, obj = fit(problem, restarts=1, seed=seed, start=free)
    free = feasible(problem, free)
    report("ABC draws", 0.8)
    draws, info = abc(problem, free, seed, n_steps=n_steps, max_accepted=max_accepted)
    table = targets_table(problem, free)
    draw_stats = np.array([problem.stats(r._asdict()) for r in draws[problem.names].itertuples(index=False)])
    draw_ok = float(np.mean([problem.within(v).all() for v in draw_stats]))
    table["draws_2_5"] = np.quantile(draw_stats, 0.025, axis=0)
    table["draws_97_5"] = np.quantile(draw_stats, 0.975, axis=0)
    s_best = problem.to_unit(np.array([free[k] for k in problem.names]))
    at_bound = [k for k, u in zip(problem.names, s_best, strict=True) if u < 0.02 or u > 0.98]
    meta = dict(
        covariate_scale=problem.base.covariate_scale,
        covariate_scale_arm=scale_arm,
        created_utc=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=seed,
        n_screened=n_screened,
        patients_per_arm={k: len(v) for k, v in arms.items()},
        objective=obj,
        physics=("real" if physics_fn is None else getattr(physics_fn, "__name__", "custom")),
        physics_source_hash=_source_hash(),
        abc=info,
        draws_all_within=draw_ok,
        at_prior_bound=at_bound,
        honesty_note=HONESTY_NOTE,
    )
    report("done", 1.0)
    return CalibrationResult(free=free, table=table, draws=draws, meta=meta)


def write_calibration(result: CalibrationResult, path: str | Path | None = None) -> Path:
    """Write the versioned calibration file (TOML)."""
    p = Path(path) if path else outcome.DEFAULT_CALIBRATION_PATH
    doc = {
        "schema_version": 1,
        "generated_by": "mhtcdt calibrate (mhtcdt/decision/model/calibration.py)",
        "note": HONESTY_NOTE,
        "meta": _toml_safe(result.meta),
        "covariate_scale": float(result.meta.get("covariate_scale", 1.0)),
        "free": {k: float(v) for k, v in result.free.items()},
        "targets": [_toml_safe(r) for r in result.table.to_dict(orient="records")],
        "draws": [_toml_safe(r) for r in result.draws.to_dict(orient="records")],
    }
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(b"# Calibrated outcome-model parameters: generated by `mhtcdt calibrate`, do not edit by hand.\n")
        tomli_w.dump(doc, fh)
    load_toml.cache_clear()  # the next load_outcome_params() reads the file just written
    return p


def _toml_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out[k] = _toml_safe(v)
        elif isinstance(v, (np.floating, float)):
            out[k] = float(v)
        elif isinstance(v, (np.integer,)):
            out[k] = int(v)
        elif isinstance(v, (np.bool_,)):
            out[k] = bool(v)
        elif v is None:
            out[k] = "none"
        else:
            out[k] = v
    return out
