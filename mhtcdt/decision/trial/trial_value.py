"""Is a randomised trial worth running, and how big: EVSI, ENBS and the optimal design of a scenario's trial.

Given a finished run (:class:`~mhtcdt.decision.run.pipeline.PipelineResult`) and its probabilistic analysis
(:class:`~mhtcdt.decision.model.psa.PSAResult`, whatever inputs it holds), :func:`trial_value` values
randomised trials of the scenario's arms, simulated by the package's own virtual-trial engine:

1. **Decision.** Net benefit per PSA draw at the willingness to pay (default: the scenario's) and, if asked,
   another MHT course price: the sampled price scales with the price (its range follows it), the course is paid
   once at the start and undiscounted, so each MHT arm's cost moves by the change of its draw's price.
2. **What the trial informs** (``informs``): PSA inputs by name or group (default ``"outcome"``: the outcome
   model's calibration draws; :mod:`.trial_data` lists the groups a trial can observe). EVPPI of these inputs is
   the ceiling of every trial's EVSI (regression on the inputs; costs and utilities absorbed as control
   covariates, :func:`mhtcdt.economics.evsi.fit_conditional_nb`).
3. **EVSI per design and sample size.** For every PSA draw one virtual trial is simulated from that draw's
   parameters (:func:`.trial_data.simulate_summaries`) and reduced to its analysis (log HR and SE, or landmark
   survival per arm); EVSI by regression of the incremental net benefit on those summaries (Strong et al. 2015,
   the primary estimate, with its Monte Carlo SE) and, as cross-checks, by importance sampling (Menzies 2016) and
   moment matching (Heath et al. 2018) with the Gaussian synthetic likelihood of the summaries per parameter
   state (``synthetic_replicates`` extra trials per state). The probability that the trial changes the decision
   is the share of simulated trials after which another strategy has the higher expected net benefit.
4. **ENBS** (Ades et al. 2004). ``ENBS(n) = EVSI(n) x M(n) - cost(n) - forgone(n)``: ``M(n)`` the discounted
   patients treated from the report of the trial (accrual + minimum follow-up + reporting lag) to the decision
   horizon (:class:`mhtcdt.economics.evsi.DecisionPopulation`); ``cost(n)`` fixed + per patient
   (:class:`mhtcdt.economics.evsi.TrialCost`); ``forgone(n)``: the expected net benefit lost by trial patients
   allocated to arms other than the current best (Willan and Pinto 2005; an arm that is not a strategy of the
   economic model, MF1001's NanoTherm-alone arm, is counted as its MHT + RT parent). The optimal sample size of
   each design maximises ENBS (0: no trial) with a band from a bootstrap over PSA draws (the regressions refitted
   on each resample, all sizes and designs on the same resamples).
5. **The closed MF1001 trial**: its planned design (three arms, about 270 patients, 12-month survival;
   :func:`.study_design.mf1001_design`) valued the same way.

Defaults (population, horizon, trial costs, reporting lag) come from ``data/trial_value.toml`` with their
sources; every one can be overridden in :class:`TrialValueRequest`. Every number is a model prediction: there
is no randomised NanoTherm evidence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.trial import study_design as sd
from mhtcdt.decision.trial import trial_data as tdm
from mhtcdt.economics import evsi
from mhtcdt.errors import InputError, InputErrors
from mhtcdt.seeding import child_rng, child_sequence

METHODS = ("regression", "importance_sampling", "moment_matching")
DEFAULT_SIZES = (100, 200, 400, 800)
#: key of this analysis' random streams under the run's seed (part of the results: never renumber)
TRIAL_VALUE_STREAM = 17
CURVE_COLUMNS = [
    "design",
    "endpoint",
    "arms",
    "follow_up_months",
    "n_patients",
    "months_to_report",
    "evsi",
    "evsi_se",
    "evsi_is",
    "evsi_is_se",
    "is_ess",
    "evsi_mm",
    "evsi_mm_se",
    "variance_share",
    "p_decision_change",
    "population_multiplier",
    "evsi_population",
    "evsi_population_se",
    "trial_cost",
    "forgone_net_benefit",
    "enbs",
    "enbs_se",
]


# --------------------------------------------------------------------------------------------- defaults


@dataclass(frozen=True)
class TrialValueDefaults:
    """The sourced defaults of ``data/trial_value.toml`` (England's population; the trial cost in GBP at the
    default scenario's price year, or moved by PPP to another jurisdiction's currency: ``currency``, ``note``)."""

    patients_per_year: float
    horizon_years: float
    reporting_lag_months: float
    fixed_cost: float
    per_patient_cost: float
    currency: str = "GBP"
    note: str = ""


#: Price year of the money in data/trial_value.toml (the default scenario's).
TRIAL_COST_PRICE_YEAR = 2017


def defaults(economics: Any = None) -> TrialValueDefaults:
    """Read the defaults: population = glioblastoma cases x share with documented recurrence x share treated.

    ``economics`` (a scenario's :class:`~mhtcdt.decision.scenario.schema.EconomicsSpec`): when its currency is
    not GBP, the trial costs are moved from England to its jurisdiction by PPP for GDP at the data's price year
    (:func:`mhtcdt.economics.ppp_transfer`), and ``note`` says so and that the population is still England's."""
    d = load_toml(sd.DATA_PACKAGE, sd.DATA_FILE)
    pop, cost = d["population"], d["trial_cost"]
    fixed = float(cost["fixed_gbp"])
    per_patient = float(cost["per_patient_usd"]) * float(cost["usd_to_gbp"])
    currency, note = "GBP", ""
    if economics is not None and economics.currency != "GBP":
        from mhtcdt.economics import ppp_transfer

        transfer = ppp_transfer("nice", economics.jurisdiction, TRIAL_COST_PRICE_YEAR)
        fixed, per_patient = transfer.apply(fixed), transfer.apply(per_patient)
        currency = economics.currency
        note = (
            f"Trial costs: the English defaults (GBP {TRIAL_COST_PRICE_YEAR}) x {transfer.factor:.4f} "
            f"{currency} per GBP (PPP for GDP); the decision population is England's (no local one is packaged)."
        )
    return TrialValueDefaults(
        patients_per_year=float(pop["glioblastoma_cases_per_year"])
        * float(pop["share_with_documented_recurrence"])
        * float(pop["share_treated_at_recurrence"]),
        horizon_years=float(pop["horizon_years"]),
        reporting_lag_months=float(pop["reporting_lag_months"]),
        fixed_cost=fixed,
        per_patient_cost=per_patient,
        currency=currency,
        note=note,
    )


# --------------------------------------------------------------------------------------------- request


@dataclass(frozen=True)
class TrialValueRequest:
    """What to value (the options of ``mhtcdt evsi`` and the app page; ``None`` = scenario or data default).

    ``designs``: the trial designs (the second axis of the ENBS grid, e.g. the same trial with OS and PFS
    endpoints or different follow-up); ``sample_sizes``: total patients; ``informs``: PSA inputs or groups the
    trial informs; ``willingness_to_pay`` and ``price`` (MHT course): the decision's; ``population``,
    ``trial_cost``, ``reporting_lag_months``: ENBS inputs; ``forgone_benefit``: count the net benefit lost by
    trial patients on arms other than the current best; ``methods``: the EVSI estimators (regression always);
    ``synthetic_replicates``: trials per parameter state for the cross-checks; ``n_bootstrap``: resamples for
    the optimal-size band (0: none); ``include_mf1001``: also value the closed MF1001 design; ``pool_size``:
    patients screened for the trial pools (default the scenario's); ``seed``: default the run's.
    """

    designs: tuple[sd.StudyDesign, ...] = (sd.StudyDesign(),)
    sample_sizes: tuple[int, ...] = DEFAULT_SIZES
    informs: tuple[str, ...] = ("outcome",)
    willingness_to_pay: float | None = None
    price: float | None = None
    population: evsi.DecisionPopulation | None = None
    trial_cost: evsi.TrialCost | None = None
    reporting_lag_months: float | None = None
    forgone_benefit: bool = True
    methods: tuple[str, ...] = METHODS
    synthetic_replicates: int = 30
    n_bootstrap: int = 100
    include_mf1001: bool = True
    pool_size: int | None = None
    seed: int | None = None

    def problems(self) -> list[InputError]:
        """Every problem of the request on its own (fields named as the request's attributes)."""
        out: list[InputError] = []
        try:
            evsi.check_sample_sizes(self.sample_sizes)
        except InputError as exc:
            out.append(exc)
        if not self.designs:
            out.append(InputError("designs", [], "give at least one trial design"))
        for d in self.designs:
            out.extend(d.problems())
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or "regression" not in self.methods:
            out.append(InputError("methods", list(self.methods), f"use 'regression' and any of {list(METHODS)}"))
        for name in ("willingness_to_pay", "price", "reporting_lag_months"):
            v = getattr(self, name)
            positive = name == "willingness_to_pay"
            if v is not None and not (
                isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 if positive else v >= 0)
            ):
                out.append(InputError(name, v, "must be a positive number" if positive else "must be a number >= 0"))
        n_syn = self.synthetic_replicates
        if isinstance(n_syn, bool) or not isinstance(n_syn, int) or n_syn < 5:
            out.append(InputError("synthetic_replicates", n_syn, "needs at least 5 trials per parameter state"))
        if isinstance(self.n_bootstrap, bool) or not isinstance(self.n_bootstrap, int) or self.n_bootstrap < 0:
            out.append(InputError("n_bootstrap", self.n_bootstrap, "must be a whole number >= 0"))
        if not self.informs:
            out.append(InputError("informs", [], "name at least one input or group the trial informs, e.g. 'outcome'"))
        for name in self.informs:
            if name.split(".", 1)[0] not in tdm.TRIAL_INPUT_GROUPS:
                out.append(
                    InputError(
                        "informs",
                        name,
                        f"a survival trial does not observe this input; it informs the groups "
                        f"{list(tdm.TRIAL_INPUT_GROUPS)}",
                    )
                )
        if self.pool_size is not None and self.pool_size < 2:
            out.append(InputError("pool_size", self.pool_size, "need at least 2 screened patients"))
        return out


# --------------------------------------------------------------------------------------------- result


@dataclass
class TrialValue:
    """Results of :func:`trial_value` (money in the scenario's currency; per patient unless named population).

    ``curve``: one row per design and sample size (:data:`CURVE_COLUMNS`); ``optimal``: one row per design
    (``design``, ``n_optimal`` (0 = no trial), ``band_low``, ``band_high``, ``p_no_trial``, ``enbs``,
    ``enbs_se``); ``mf1001``: the closed trial's planned design (curve columns) or None; ``by_wtp``: EVPI,
    EVPPI of the informed inputs and the MF1001 EVSI over a willingness-to-pay grid.
    """

    scenario_name: str
    currency: str
    willingness_to_pay: float
    price: float
    strategies: list[str]
    current_best: str
    informed: tuple[str, ...]
    n_draws: int
    n_states: int
    evpi: float
    evppi: float
    evppi_se: float
    population: evsi.DecisionPopulation
    trial_cost: evsi.TrialCost
    reporting_lag_months: float
    curve: pd.DataFrame
    optimal: pd.DataFrame
    mf1001: pd.DataFrame | None
    by_wtp: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    subgroups: pd.DataFrame | None = None

    def best(self) -> dict[str, Any]:
        """The design and size with the highest ENBS, or ``n_optimal = 0`` when no trial is worth its cost."""
        best = self.optimal.sort_values("enbs", ascending=False).iloc[0]
        return best.to_dict()

    def summary(self) -> dict[str, Any]:
        """Headline numbers as a flat dict (``mhtcdt evsi --json``; non-finite values as None)."""
        b = self.best()
        out: dict[str, Any] = dict(
            scenario=self.scenario_name,
            currency=self.currency,
            willingness_to_pay=self.willingness_to_pay,
            price=self.price,
            current_best=self.current_best,
            n_draws=self.n_draws,
            parameter_states=self.n_states,
            informs=list(self.informed),
            evpi_per_patient=self.evpi,
            evppi_per_patient=self.evppi,
            evppi_se=self.evppi_se,
            population_per_year=self.population.patients_per_year,
            horizon_years=self.population.horizon_years,
            best_design=b["design"],
            optimal_n=int(b["n_optimal"]),
            optimal_n_band=[int(b["band_low"]), int(b["band_high"])],
            optimal_enbs=b["enbs"],
            optimal_enbs_se=b["enbs_se"],
            p_no_trial=b["p_no_trial"],
        )
        if self.mf1001 is not None:
            m = self.mf1001.iloc[0]
            out.update(
                mf1001_n=int(m["n_patients"]),
                mf1001_evsi=m["evsi"],
                mf1001_evsi_se=m["evsi_se"],
                mf1001_evsi_population=m["evsi_population"],
                mf1001_enbs=m["enbs"],
                mf1001_enbs_se=m["enbs_se"],
                mf1001_p_decision_change=m["p_decision_change"],
            )
        out = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}

    def verdict(self) -> str:
        """One plain-language sentence on whether a trial is worth running."""
        b = self.best()
        cur = self.currency
        head = f"At {cur} {self.willingness_to_pay:,.0f}/QALY and an MHT course price of {cur} {self.price:,.0f}"
        if int(b["n_optimal"]) == 0:
            return (
                f"{head}, no randomised trial is worth its cost: the expected net benefit of sampling is negative at "
                f"every size valued (EVSI per patient at most {cur} {self.curve['evsi'].max():,.0f}; EVPPI of the "
                f"inputs a trial informs {cur} {self.evppi:,.0f} per patient)."
            )
        return (
            f"{head}, the best trial is '{b['design']}' with {int(b['n_optimal'])} patients (95% band "
            f"{int(b['band_low'])}-{int(b['band_high'])}): expected net benefit of sampling {cur} {b['enbs']:,.0f} "
            f"(SE {b['enbs_se']:,.0f})."
        )


# --------------------------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class DecisionArrays:
    """Per-draw costs and QALYs at the request's price, the wtp, and the covariates independent of the trial."""

    cost: np.ndarray
    qalys: np.ndarray
    wtp: float
    price: float
    adjust: np.ndarray | None
    strategies: list[str]

    def net_benefit(self, wtp: float | None = None) -> np.ndarray:
        w = self.wtp if wtp is None else wtp
        return w * self.qalys - self.cost


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    """(D, k) float covariates of PSA inputs: numbers as they are, a discrete choice (e.g. a thermotolerance
    preset) as its category code (a regression covariate only needs to separate the draws' states)."""
    return np.column_stack(
        [
            frame[c].to_numpy(float) if pd.api.types.is_numeric_dtype(frame[c]) else pd.factorize(frame[c])[0]
            for c in frame.columns
        ]
    ).astype(float)


def decision_at(result, psa, request: TrialValueRequest, informed: Sequence[str]) -> DecisionArrays:
    """Costs at the requested price and the control covariates. The price moves the costs as every what-if
    does (:func:`mhtcdt.decision.model.whatif.costs_at_price`: the sampled price draws scale with the list
    price), so the value-based price of :func:`mhtcdt.decision.model.psa.value_based_price_of` is the price at
    which this expected incremental net benefit is 0."""
    from mhtcdt.decision.model import whatif

    sc = result.scenario
    wtp = float(request.willingness_to_pay or psa.willingness_to_pay)
    run_price = float(sc.economics.costs.mht_course)
    price = run_price if request.price is None else float(request.price)
    params = psa.parameters.copy()
    cost = np.array(psa.cost, dtype=float)
    if price != run_price:
        cost = whatif.costs_at_price(psa, sc, run_price, price)
        if whatif.MHT_PRICE in params:
            params[whatif.MHT_PRICE] = whatif.price_draws(psa, run_price, price)[1]
    groups = {c.split(".", 1)[0] for c in informed}
    others = [c for c in params.columns if c.split(".", 1)[0] not in groups]
    adjust = _numeric(params[others]) if others else None
    return DecisionArrays(cost, np.asarray(psa.qalys, float), wtp, price, adjust, list(psa.strategies))


def _designs(request: TrialValueRequest, scenario) -> list[tuple[sd.ResolvedDesign, tuple[int, ...], bool]]:
    """(resolved design, sample sizes, is MF1001) for every design of the request, and MF1001 if asked."""
    out = []
    problems: list[InputError] = []
    for d in request.designs:
        try:
            out.append((sd.resolve(d, scenario), tuple(int(n) for n in request.sample_sizes), False))
        except InputErrors as exc:
            problems.extend(exc.errors)
        except InputError as exc:
            problems.append(exc)
    if problems:
        raise InputErrors(problems) if len(problems) > 1 else problems[0]
    if request.include_mf1001:
        out.append((sd.resolve(sd.mf1001_design(), scenario), (sd.mf1001_sample_size(),), True))
    labels = [r.design.describe() for r, _, _ in out]
    if len(set(labels)) != len(labels):
        raise InputError("designs", labels, "two designs have the same description: give them distinct labels")
    return out


def _world(designs, scenario, seed: int, pool_size: int | None, progress) -> tdm.TrialWorld:
    """Pools of every arm any design uses (derived arms included), from one eligible cohort."""
    arms: list[str] = []
    world_scenario = scenario
    for r, _, _ in designs:
        if r.derived:
            world_scenario = r.scenario
        arms.extend(a for a in r.arms if a not in arms)
    return tdm.build_world(world_scenario, arms, seed, pool_size, progress)


def _forgone_per_patient(resolved: sd.ResolvedDesign, decision: DecisionArrays, scenario) -> float:
    """Expected net benefit lost per trial patient (allocation-weighted), relative to the current best strategy.

    A derived arm that is not a strategy (MF1001's NanoTherm alone) counts as the experimental arm it is
    derived from."""
    nb = decision.net_benefit().mean(axis=0)
    best = float(nb.max())
    ref = scenario.trial.reference_arm
    parent = next((a.name for a in scenario.randomised_arms if a.name != ref), ref)
    losses = []
    for arm in resolved.arms:
        name = parent if arm in resolved.derived else arm
        losses.append(best - float(nb[decision.strategies.index(name)]) if name in decision.strategies else 0.0)
    w = np.asarray(resolved.weights, float)
    return float(np.dot(w / w.sum(), losses))


def _state_means(fitted: np.ndarray, states: tdm.DrawStates) -> np.ndarray:
    """The fitted ``E(INB | phi)`` of each state (all its draws share phi): (K, W, S - 1)."""
    first = np.array([np.flatnonzero(states.index == k)[0] for k in range(states.n_states)])
    return fitted[first]


def trial_value(
    result: Any,
    psa: Any,
    request: TrialValueRequest = TrialValueRequest(),
    *,
    params: Any | None = None,
    progress: ProgressCallback | None = None,
    world: tdm.TrialWorld | None = None,
) -> TrialValue:
    """EVSI, ENBS and optimal sample size of ``request``'s trial designs for a run and its PSA (module docstring).

    ``params``: the outcome parameters the PSA used (default: the calibrated file, as :func:`run_psa`);
    ``world``: trial pools built before (:func:`.trial_data.build_world`) to skip the physics of the pools.
    Bad requests raise :class:`~mhtcdt.errors.InputErrors` listing every problem. BLAS runs on one thread
    (:func:`mhtcdt.economics.evsi.single_blas_thread`: many small regressions).
    """
    with evsi.single_blas_thread():
        return _trial_value(result, psa, request, params=params, progress=progress, world=world)


def _trial_value(
    result: Any,
    psa: Any,
    request: TrialValueRequest = TrialValueRequest(),
    *,
    params: Any | None = None,
    progress: ProgressCallback | None = None,
    world: tdm.TrialWorld | None = None,
) -> TrialValue:
    timings: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    problems = request.problems()
    if problems:
        raise InputErrors(problems) if len(problems) > 1 else problems[0]
    sc = result.scenario
    if len(psa.strategies) < 2:
        raise InputError("psa.strategies", psa.strategies, "a decision needs at least two strategies")
    if params is None:
        from mhtcdt.decision.model.calibration_file import scenario_params

        params = scenario_params(sc)
    seed = int(result.seed if request.seed is None else request.seed)
    root = child_sequence(seed, TRIAL_VALUE_STREAM)
    defaults_ = defaults(sc.economics)
    population = request.population or evsi.DecisionPopulation(
        defaults_.patients_per_year, defaults_.horizon_years, float(sc.economics.discount_costs)
    )
    trial_cost = request.trial_cost or evsi.TrialCost(defaults_.fixed_cost, defaults_.per_patient_cost)
    lag = defaults_.reporting_lag_months if request.reporting_lag_months is None else request.reporting_lag_months
    designs = _designs(request, sc)
    states = tdm.draw_states(psa.parameters, request.informs, params)
    decision = decision_at(result, psa, request, states.informed)
    notes: list[str] = [defaults_.note] if defaults_.note and request.trial_cost is None else []

    # --- the ceiling: EVPPI of the informed inputs, and their fitted E(INB | phi) for the cross-checks
    phi = psa.parameters[list(states.informed)].to_numpy(float)
    ceiling = evsi.fit_conditional_nb(
        decision.cost, decision.qalys, phi, decision.wtp, adjust=decision.adjust, names=states.informed
    )
    mu_state = _state_means(ceiling.fitted, states)
    _lap(timings, "evppi", t0, c0)

    report = sub_progress(progress, "trial pools (physics of every arm)", 0.0, 0.15)
    if world is None:
        t1, c1 = time.perf_counter(), time.process_time()
        world = _world(designs, sc, seed, request.pool_size, report)
        _lap(timings, "pools", t1, c1)
    report(1.0)

    cells = [(r, n, is_mf) for r, sizes, is_mf in designs for n in sizes]
    rows, summaries = [], {}
    shared = _CrossCheckInputs(world, states, request, mu_state, ceiling, root)
    t1, c1 = time.perf_counter(), time.process_time()
    for i, (resolved, n, is_mf) in enumerate(cells):
        label = resolved.design.describe()
        span = 0.75 / len(cells)
        step = sub_progress(progress, f"EVSI: {label[:24]}, n = {n}", 0.15 + span * i, 0.15 + span * (i + 1))
        summ = tdm.simulate_summaries(world, resolved, states, n, root, lambda f, s=step: s(0.4 * f))
        summaries[(label, n)] = summ
        fit = evsi.fit_conditional_nb(
            decision.cost,
            decision.qalys,
            summ,
            decision.wtp,
            adjust=decision.adjust,
            names=resolved.summary_names(),
            seed=int(root.generate_state(1)[0]),
        )
        row = dict(
            design=label,
            endpoint=resolved.design.endpoint_label,
            arms=" | ".join(resolved.arms),
            follow_up_months=resolved.trial_design.min_follow_up_months,
            n_patients=n,
            months_to_report=resolved.months_to_report(n, lag),
            # EVSI <= EVPPI of the inputs the trial informs (a trial learns at most what they hold): the regression
            # estimator's small upward bias on noise-only summaries (one parameter state) is capped there
            evsi=min(float(fit.value[0]), max(float(ceiling.value[0]), 0.0)),
            evsi_se=float(fit.se[0]),
            p_decision_change=float(fit.probability_decision_changes()[0]),
        )
        row.update(_cross_checks(shared, resolved, n, summ, step))
        rows.append((row, is_mf, resolved))
    _lap(timings, "evsi", t1, c1)

    # --- ENBS
    curve_rows, mf_rows = [], []
    for row, is_mf, resolved in rows:
        mult = population.multiplier(row["months_to_report"] / 12.0)
        forgone = row["n_patients"] * _forgone_per_patient(resolved, decision, sc) if request.forgone_benefit else 0.0
        cost = float(trial_cost(row["n_patients"]))
        row.update(
            population_multiplier=mult,
            evsi_population=row["evsi"] * mult,
            evsi_population_se=row["evsi_se"] * mult,
            trial_cost=cost,
            forgone_net_benefit=forgone,
            enbs=row["evsi"] * mult - cost - forgone,
            enbs_se=row["evsi_se"] * mult,
        )
        (mf_rows if is_mf else curve_rows).append(row)
    curve = pd.DataFrame(curve_rows, columns=CURVE_COLUMNS)
    mf1001 = pd.DataFrame(mf_rows, columns=CURVE_COLUMNS) if mf_rows else None

    # --- optimal size per design, band by a bootstrap over PSA draws
    t1, c1 = time.perf_counter(), time.process_time()
    optimal = _optimal(curve, designs, summaries, decision, request, child_rng(root, 1), progress)
    _lap(timings, "bootstrap", t1, c1)

    by_wtp = _by_wtp(decision, phi, states, designs, summaries, mf1001, request)
    if any(r.derived for r, _, _ in designs):
        notes.append(
            "MF1001's NanoTherm-alone arm is derived from the MHT + RT arm without radiotherapy: its survival is a "
            "model extrapolation (the outcome model was never calibrated to MHT alone) and it is not a strategy of "
            "the economic model; its patients' forgone net benefit is counted as that of the MHT + RT arm."
        )
    if decision.price != float(sc.economics.costs.mht_course):
        notes.append(
            f"MHT course price {sc.economics.currency} {decision.price:,.0f} instead of the scenario's "
            f"{sc.economics.costs.mht_course:,.0f} (the sampled price range scales with it)."
        )
    notes.append(
        f"{states.n_states} distinct parameter states of the informed inputs among {psa.n_draws} PSA draws; "
        "inputs not informed by the trial stay at their calibrated point in the simulated trials."
    )
    if progress is not None:
        progress("done", 1.0)
    _lap(timings, "total", t0, c0)
    best = decision.strategies[int(ceiling.current_choice()[0])]
    return TrialValue(
        scenario_name=sc.name,
        currency=sc.economics.currency,
        willingness_to_pay=decision.wtp,
        price=decision.price,
        strategies=decision.strategies,
        current_best=best,
        informed=states.informed,
        n_draws=psa.n_draws,
        n_states=states.n_states,
        evpi=float(ceiling.evpi[0]),
        evppi=float(ceiling.value[0]),
        evppi_se=float(ceiling.se[0]),
        population=population,
        trial_cost=trial_cost,
        reporting_lag_months=float(lag),
        curve=curve,
        optimal=optimal,
        mf1001=mf1001,
        by_wtp=by_wtp,
        notes=notes,
        timings_s=timings,
    )


def _lap(timings: dict[str, float], name: str, wall0: float, cpu0: float) -> None:
    """Record the wall and CPU seconds (this process, all threads) since ``wall0``/``cpu0`` under ``name``."""
    timings[f"{name}_s"] = time.perf_counter() - wall0
    timings[f"{name}_cpu_s"] = time.process_time() - cpu0


class _CrossCheckInputs(NamedTuple):
    """What every cell of the design x size grid shares for the EVSI cross-checks: the trial pools, the PSA's
    parameter states, the request, each state's fitted E(INB | phi), the EVPPI fit and the random root."""

    world: Any
    states: Any
    request: TrialValueRequest
    mu_state: np.ndarray
    ceiling: Any
    root: Any


def _cross_checks(shared: _CrossCheckInputs, resolved, n: int, summ: np.ndarray, step) -> dict:
    """Importance-sampling and moment-matching EVSI of one design and size (NaN when not asked)."""
    world, states, request, mu_state, ceiling, root = shared
    methods = [m for m in request.methods if m != "regression"]
    out = dict(evsi_is=math.nan, evsi_is_se=math.nan, is_ess=math.nan, evsi_mm=math.nan, evsi_mm_se=math.nan)
    out["variance_share"] = math.nan
    if not methods:
        step(1.0)
        return out
    m = request.synthetic_replicates
    means, covs = tdm.summary_moments(world, resolved, states, n, m, root, lambda f: step(0.4 + 0.55 * f))
    loglik = tdm.synthetic_loglik(summ, means, covs, m)
    if "importance_sampling" in methods:
        res = evsi.evsi_importance_sampling(mu_state, states.prior, loglik)
        out.update(evsi_is=float(res.value[0]), evsi_is_se=float(res.se[0]), is_ess=res.diagnostics["ess_mean"])
    if "moment_matching" in methods:
        weights = evsi.posterior_weights(loglik, states.prior)
        _, post_cov = evsi.weighted_moments(mu_state, weights)
        res = evsi.evsi_moment_matching(ceiling.fitted, post_cov, seed=int(root.generate_state(2)[1]))
        out.update(
            evsi_mm=float(res.value[0]),
            evsi_mm_se=float(res.se[0]),
            variance_share=float(res.diagnostics["variance_share"][0]),
        )
    step(1.0)
    return out


def _optimal(curve, designs, summaries, decision, request, rng, progress) -> pd.DataFrame:
    """Per design: the ENBS-maximising size and its bootstrap band (same resamples for every size/design)."""
    rows = []
    b = request.n_bootstrap
    d = decision.cost.shape[0]
    resamples = [rng.integers(0, d, d) for _ in range(b)]
    report = sub_progress(progress, "bootstrap of the optimal size", 0.9, 1.0)
    labels = [r.design.describe() for r, _, is_mf in designs if not is_mf]
    for j, label in enumerate(labels):
        part = curve[curve["design"] == label].sort_values("n_patients")
        sizes = part["n_patients"].to_numpy(int)
        enbs = part["enbs"].to_numpy(float)
        gain = (part["population_multiplier"]).to_numpy(float)
        costs = (part["trial_cost"] + part["forgone_net_benefit"]).to_numpy(float)
        boot = np.empty((b, sizes.size))
        for i, idx in enumerate(resamples):
            for k, n in enumerate(sizes):
                fit = evsi.fit_conditional_nb(
                    decision.cost[idx],
                    decision.qalys[idx],
                    summaries[(label, int(n))][idx],
                    decision.wtp,
                    adjust=None if decision.adjust is None else decision.adjust[idx],
                    n_se_samples=0,
                )
                boot[i, k] = fit.value[0] * gain[k] - costs[k]
            report((j * b + i + 1) / (b * len(labels)))
        if b:
            opt = evsi.optimal_sample_size(sizes, enbs, boot)
            band, p_none = opt.band, opt.p_no_study
        else:
            opt = evsi.optimal_sample_size(sizes, enbs, enbs[None])
            band, p_none = (opt.n, opt.n), math.nan
        k = int(np.argmax(enbs))
        rows.append(
            dict(
                design=label,
                n_optimal=opt.n,
                band_low=band[0],
                band_high=band[1],
                p_no_trial=p_none,
                enbs=max(0.0, float(enbs[k])) if opt.n else 0.0,
                enbs_se=float(part["enbs_se"].iloc[k]) if opt.n else 0.0,
                evsi=float(part["evsi"].iloc[k]) if opt.n else 0.0,
                evsi_se=float(part["evsi_se"].iloc[k]) if opt.n else 0.0,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["design", "n_optimal", "band_low", "band_high", "p_no_trial", "enbs", "enbs_se", "evsi", "evsi_se"],
    )


def _by_wtp(decision, phi, states, designs, summaries, mf1001, request, n_points: int = 21) -> pd.DataFrame:
    """EVPI, EVPPI of the informed inputs and the MF1001 EVSI over ``0 .. 4 x wtp`` (per patient)."""
    grid = np.linspace(0.0, 4.0 * decision.wtp, n_points)
    ceiling = evsi.fit_conditional_nb(decision.cost, decision.qalys, phi, grid, adjust=decision.adjust, n_se_samples=0)
    out = pd.DataFrame({"wtp": grid, "evpi": ceiling.evpi, "evppi": ceiling.value})
    if mf1001 is not None:
        r = next(r for r, _, is_mf in designs if is_mf)
        summ = summaries[(r.design.describe(), int(mf1001["n_patients"].iloc[0]))]
        fit = evsi.fit_conditional_nb(decision.cost, decision.qalys, summ, grid, adjust=decision.adjust, n_se_samples=0)
        out["evsi_mf1001"] = fit.value
    return out
