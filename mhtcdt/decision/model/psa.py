"""Probabilistic and deterministic sensitivity analysis of a scenario's cost-utility result.

Sources of uncertainty, all drawn at once and run through the partitioned survival model as arrays
(no loop per draw):

* **Survival (outcome model).** Each PSA draw takes one accepted calibration draw of the outcome
  model's free parameters (``OutcomeParams.draws``, from ``mhtcdt calibrate``), chosen uniformly at
  random. The population is the run's counterfactual table (every randomised patient under every arm:
  :func:`mhtcdt.decision.run.pipeline.decision_population`), so the strategies are compared on the same
  patients. For every distinct calibration draw these patients are re-simulated
  with :func:`mhtcdt.decision.model.outcome.latent_times` using the *same* per-patient random numbers as
  the trial (common random numbers), and PFS/OS per arm are the empirical survival functions of the
  latent (uncensored) times on the economic grid: S(t) = share of patients with time > t. Latent
  times are complete, so no extrapolation is needed; their Monte Carlo error is that of the arm's
  sample size. Without calibration draws the survival curves are fixed and a warning says so.
* **Costs and utilities.** The scenario's ``[[economics.uncertainty]]`` entries: gamma, beta,
  lognormal or normal, mean = scenario value, sd = (high - low) / 3.92 (log scale for lognormal),
  sampled by :func:`mhtcdt.economics.psa.sample_psa` (chunk-independent, keyed by parameter name).

Outputs (:class:`PSAResult`): per-draw costs, QALYs and life-years (D, S); the sampled parameters;
CEAC and CEAF over a willingness-to-pay grid; the EVPI curve; EVPPI at the scenario's willingness to
pay for each uncertain input and for the outcome-model group (Strong-Oakley regression, with its
standard error); a tornado of the incremental net monetary benefit (one-way DSA over the same
ranges, survival at the calibrated point estimate); the value-based price of the MHT course; the
model-based deterministic result at the calibrated point (``point``: the pipeline's base case itself
when the scenario's ``survival_source`` is ``"outcome_model"``, the default) and a note on the basis.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model.drivers import decision_drivers_text, drivers_table
from mhtcdt.decision.model.economic_model import time_grid_months
from mhtcdt.decision.model.physics_psa import (
    PARAMETER_PREFIX,
    PhysicsUncertainty,
    centre_notes,
    input_kinds,
    input_labels,
    physics_evppi,
    psa_inputs,
)
from mhtcdt.decision.model.psa_curves import arm_curves, arm_data, curves, draw_params, psm, trial_draws
from mhtcdt.decision.model.structural import structural_table
from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.run.pipeline import decision_population, population_sentence
from mhtcdt.decision.scenario.schema import Scenario, UncertainParameter
from mhtcdt.decision.streams import Stream
from mhtcdt.economics import dsa, nmb, voi
from mhtcdt.economics import psa as econ_psa
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_sequence

if TYPE_CHECKING:  # only for annotations: a PSA analyses a finished run
    from mhtcdt.decision.run.pipeline import PipelineResult

Z95 = 3.919927969080108  # width of a 95 % normal interval in standard deviations (2 x 1.959964)
OUTCOME_GROUP = "outcome model (calibration draws)"
_CALIBRATION_DRAW = "outcome.calibration_draw"  # sample_psa key of each draw's calibration-draw index


class NoSurvivalUncertaintyWarning(UserWarning):
    """The outcome parameters carry no calibration draws: survival is fixed in the PSA."""


def distribution_for(spec: UncertainParameter, point: float) -> econ_psa.Distribution:
    """The PSA distribution of one input: mean (median for lognormal) = point, 95 % interval width = high - low."""
    sd = (spec.high - spec.low) / Z95
    if spec.distribution == "gamma":
        return econ_psa.Gamma(point, sd)
    if spec.distribution == "beta":
        return econ_psa.Beta(point, sd)
    if spec.distribution == "lognormal":
        return econ_psa.LogNormal(float(np.log(point)), float((np.log(spec.high) - np.log(spec.low)) / Z95))
    return econ_psa.Normal(point, sd)


@dataclass(frozen=True)
class PriceRange:
    """The MHT course price's PSA range as the run sampled it, kept through what-ifs (a price of 0 has no range
    in a scenario, but the relative range comes back at any positive price).

    ``spec``: the scenario's ``costs.mht_course`` uncertainty at ``list_price`` [currency]; ``relative_draws``:
    each draw's price / ``list_price`` (D,); ``position``: the column's index in the PSA's parameters;
    ``units``: mean price draw / ``list_price``, what one unit of price costs per patient on average."""

    spec: object  # UncertainParameter
    list_price: float
    relative_draws: np.ndarray
    position: int
    units: float


def price_units(psa: PSAResult | None = None, price_range: PriceRange | None = None) -> float:
    """The one definition of the price draws' scale, the same at every price (0 included): the run's mean price
    draw / its list price (:class:`PriceRange`), 1 when the price is fixed."""
    rng = price_range if psa is None else getattr(psa, "price_range", None)  # None in PSAs pickled before it
    return 1.0 if rng is None else rng.units


@dataclass
class PSAResult:
    """Results of :func:`run_psa` (arrays have shape (D, S): draw x strategy)."""

    strategies: list[str]
    reference: str
    focal: str
    currency: str
    willingness_to_pay: float
    cost: np.ndarray
    qalys: np.ndarray
    life_years: np.ndarray
    parameters: pd.DataFrame
    wtp_grid: np.ndarray
    ceac: pd.DataFrame
    ceaf: pd.DataFrame
    evpi: pd.DataFrame
    evppi: pd.DataFrame
    tornado: pd.DataFrame
    value_based_price: float | None
    point: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    physics: PhysicsUncertainty | None = None
    labels: dict[str, str] = field(default_factory=dict)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    structural: pd.DataFrame = field(default_factory=pd.DataFrame)
    price_range: PriceRange | None = None  # the course price's sampled range, relative to its list price

    @property
    def n_draws(self) -> int:
        return int(self.cost.shape[0])

    def summary(self) -> pd.DataFrame:
        """Per strategy: mean and 95 % interval of cost and QALYs over draws."""
        rows = []
        for j, s in enumerate(self.strategies):
            rows.append(
                {
                    "strategy": s,
                    "cost_mean": self.cost[:, j].mean(),
                    "cost_low": np.quantile(self.cost[:, j], 0.025),
                    "cost_high": np.quantile(self.cost[:, j], 0.975),
                    "qalys_mean": self.qalys[:, j].mean(),
                    "qalys_low": np.quantile(self.qalys[:, j], 0.025),
                    "qalys_high": np.quantile(self.qalys[:, j], 0.975),
                    "life_years_mean": self.life_years[:, j].mean(),
                }
            )
        return pd.DataFrame(rows)

    def probability_cost_effective(self, wtp: float | None = None) -> pd.Series:
        """Share of draws in which each strategy has the highest net monetary benefit at ``wtp``."""
        w = self.willingness_to_pay if wtp is None else float(wtp)
        table = nmb.ceac(self.cost, self.qalys, w, self.strategies)
        return table.set_index("strategy")["probability"]

    def optimal(self, wtp: float | None = None) -> tuple[str, float]:
        """(strategy with the highest expected NMB at ``wtp``, its probability of being cost-effective)."""
        w = self.willingness_to_pay if wtp is None else float(wtp)
        expected = (w * self.qalys - self.cost).mean(axis=0)
        best = self.strategies[int(np.argmax(expected))]
        return best, float(self.probability_cost_effective(w)[best])

    def drivers_text(self) -> list[str]:
        """The plain-language answer to "which uncertain inputs drive the decision" (empty without physics
        uncertainty; :func:`mhtcdt.decision.model.drivers.decision_drivers_text`)."""
        if self.drivers.empty:
            return []
        best, p = self.optimal()
        evpi_now = float(self.evppi["evpi"].iloc[0]) if len(self.evppi) else 0.0
        return decision_drivers_text(
            self.drivers, evpi_now, self.willingness_to_pay, self.currency, self.focal, self.reference, p, best
        )

    def ce_plane(self) -> pd.DataFrame:
        """Incremental cost and QALYs of every strategy vs the reference, per draw."""
        return nmb.ce_plane(self.cost, self.qalys, self.strategies, reference=self.reference)

    def verdict(self, wtp: float | None = None) -> str:
        """Plain-language answer with its probability of being right."""
        w = self.willingness_to_pay if wtp is None else float(wtp)
        best, p = self.optimal(w)
        evpi_now = max(0.0, float(voi.evpi(self.cost, self.qalys, w)))  # clamp float round-off below 0
        return (
            f"At {self.currency} {w:,.0f} per QALY, '{best}' is the best choice on expected net benefit; "
            f"the probability that this is right is {p:.0%} ({self.n_draws} PSA draws). "
            f"Perfect information would be worth {self.currency} {evpi_now:,.0f} per patient (EVPI)."
        )


_TRIAL_COLUMNS = (
    "patient_id",
    "arm",
    "tumour_volume_cm3",
    "log10_kill_total",
    "log10_kill_rt",
    "age_years",
    "kps",
    "eloquent_location",
    "mgmt_methylated",
    "indication",
    "outcome_indication",
    "treatment_months",
    *outcome.SYSTEMIC_COLUMNS,
)


def psa_draws(
    start: int,
    stop: int,
    seed: int,
    *,
    scenario: Scenario,
    trial: pd.DataFrame,
    arms: list[str],
    params: outcome.OutcomeParams,
    trial_seed: int,
    physics: PhysicsUncertainty | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, object]:
    """Costs, QALYs and life-years of PSA draws ``start .. stop - 1`` (a pure function of the draw indices).

    Every draw's inputs come from :func:`mhtcdt.economics.psa.sample_psa`, keyed by parameter name and
    draw index, including the index of its calibration draw (uniform over the accepted draws) and, with
    ``physics``, the uniforms of the physics inputs, so any split of the draws into chunks, on any executor,
    gives the same arrays as one call. ``fixed``: physics inputs held at a value in every draw (a structural
    preset; a ``choice`` by its label), the other inputs drawn as usual (common random numbers).
    """
    eco = scenario.economics
    n = stop - start
    grid = time_grid_months(scenario)
    dists = {spec.parameter: distribution_for(spec, eco.point_value(spec.parameter)) for spec in eco.uncertainty}
    n_cal = len(params.draws)
    if n_cal:
        dists[_CALIBRATION_DRAW] = econ_psa.EmpiricalDraws(np.arange(n_cal), resample=True)
    if physics is not None:
        dists.update(physics.distributions())
    values = econ_psa.sample_psa(dists, n, seed=seed, start=start) if dists else {}
    cal_index = values.pop(_CALIBRATION_DRAW).astype(np.int64) if n_cal else np.zeros(n, dtype=np.int64)
    if physics is None:
        draws_by_arm = trial_draws(trial, arms, trial_seed)
        unique = np.unique(cal_index)
        pfs_u = np.empty((unique.size, len(arms), grid.size))
        os_u = np.empty_like(pfs_u)
        for i, k in enumerate(unique):
            p = params.draw(int(k)) if n_cal else params
            pfs_u[i], os_u[i] = arm_curves(trial, arms, p, draws_by_arm, grid)
        position = np.searchsorted(unique, cal_index)
        res = psm(scenario, arms, grid, pfs_u[position], os_u[position], values, n)
        return {
            "cost": res.cost,
            "qalys": res.qalys,
            "life_years": res.life_years,
            "values": values,
            "calibration_draw": cal_index,
            "physics": {},
        }
    uniforms = {k: values.pop(k) for k in list(values) if k.startswith(PARAMETER_PREFIX)}
    phys = physics.values_from_uniforms(uniforms)
    for name, value in (fixed or {}).items():
        phys[name] = np.full(n, physics.value_of(name, value))
    kills = physics.kill(phys, n)
    data = arm_data(trial, arms, params, trial_seed)
    pfs, os_ = curves(data, arms, draw_params(params, cal_index, physics.outcome_free(phys)), grid, kills)
    res = psm(scenario, arms, grid, pfs, os_, values, n)
    return {
        "cost": res.cost,
        "qalys": res.qalys,
        "life_years": res.life_years,
        "values": values,
        "calibration_draw": cal_index,
        "physics": phys,
    }


def _psa_chunk(start: int, stop: int, _seed, **kwargs) -> dict[str, object]:
    return psa_draws(start, stop, **kwargs)


def run_psa(
    result: PipelineResult,
    n_draws: int | None = None,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    params: outcome.OutcomeParams | None = None,
    executor=None,
    chunk_size: int = 250,
    physics: bool | None = None,
    emulator_cache: bool = False,
) -> PSAResult:
    """PSA, DSA and value of information for the scenario of a pipeline ``result``.

    ``params``: outcome-model parameters with their calibration draws (default: the versioned
    calibrated file, as the pipeline uses). ``executor``: ``None`` evaluates every draw at once in this
    process; an executor of :mod:`mhtcdt.decision.run.executors` (serial, local processes, Dask) evaluates
    chunks of ``chunk_size`` draws; the results are identical either way. ``physics``: sample the physics
    and structural inputs (default: the scenario's ``[psa] physics``); their emulators are built first
    (:mod:`mhtcdt.decision.model.physics_psa`). ``emulator_cache``: take them from (and add them to) the on-disk
    cache of :mod:`mhtcdt.decision.model.emulator_cache` (the results are identical; the app and ``mhtcdt
    warmup`` use it).
    """
    sc = result.scenario
    eco = sc.economics
    n = eco.psa_draws if n_draws is None else int(n_draws)
    if n < 10:
        raise InputError("psa_draws", n, "needs at least 10 draws")
    seed = result.seed if seed is None else int(seed)
    report = sub_progress(progress, "PSA", 0.0, 1.0)
    report(0.0)
    trial = decision_population(result)  # every randomised patient under every arm (the same patients)
    arms = [a.name for a in sc.randomised_arms if (trial["arm"] == a.name).any()]
    reference = sc.trial.reference_arm
    grid = time_grid_months(sc)
    notes: list[str] = []
    if params is None:  # the scenario's calibration (default: the packaged one), as the pipeline uses
        from mhtcdt.decision.model.calibration_file import scenario_params

        params = scenario_params(sc)
    n_cal = len(params.draws)
    if n_cal == 0:
        warnings.warn(
            "outcome parameters carry no calibration draws: survival is fixed in the PSA",
            NoSurvivalUncertaintyWarning,
            stacklevel=2,
        )
        notes.append("Survival curves fixed at the calibrated point estimate (no calibration draws).")
    use_physics = sc.psa.physics if physics is None else bool(physics)
    uncertainty = None
    if use_physics and psa_inputs(sc, params):
        build = sub_progress(progress, "PSA: physics emulators", 0.0, 0.4)
        uncertainty = PhysicsUncertainty(
            sc,
            trial,
            arms,
            result.seed,
            list(result.cohort.columns),
            progress=build,
            params=params,
            cache=emulator_cache,
        )
        notes.extend(centre_notes(sc, uncertainty))

    kwargs = dict(
        seed=int(child_sequence(seed, Stream.PSA).generate_state(1)[0]),
        scenario=sc,
        trial=trial[[c for c in _TRIAL_COLUMNS if c in trial.columns]],
        arms=arms,
        params=params,
        trial_seed=result.seed,
        physics=uncertainty,
    )
    lo = 0.4 if uncertainty is not None else 0.0
    parts = _run_draws(n, kwargs, executor, chunk_size, lambda f: report(lo + (0.6 - lo) * f), None)
    report(0.6)
    res = SimpleNamespace(**{k: np.concatenate([p[k] for p in parts]) for k in ("cost", "qalys", "life_years")})
    values = {k: np.concatenate([p["values"][k] for p in parts]) for k in parts[0]["values"]}
    phys = {k: np.concatenate([p["physics"][k] for p in parts]) for k in parts[0]["physics"]}
    cal_index = np.concatenate([p["calibration_draw"] for p in parts])
    draws_by_arm = trial_draws(trial, arms, result.seed)
    report(0.7)

    wtp = eco.willingness_to_pay
    wtp_grid = np.linspace(0.0, 4.0 * wtp, 81)
    ceac = nmb.ceac(res.cost, res.qalys, wtp_grid, arms)
    ceaf = nmb.ceaf(res.cost, res.qalys, wtp_grid, arms)
    evpi_curve = voi.evpi_curve(res.cost, res.qalys, wtp_grid)

    parameters = pd.DataFrame(values)
    if n_cal:
        cal = params.draws.iloc[cal_index].reset_index(drop=True)
        parameters = pd.concat([parameters, cal.add_prefix("outcome.")], axis=1)
    evppi_rows = []
    for name in values:
        row = voi.evppi(res.cost, res.qalys, values[name], wtp).iloc[0]
        evppi_rows.append({"parameter": name, "evppi": row["evppi"], "evppi_se": row["evppi_se"]})
    if n_cal:
        group = params.draws.iloc[cal_index].to_numpy(float)
        varying = group[:, np.ptp(group, axis=0) > 0]
        if varying.shape[1]:
            row = voi.evppi(res.cost, res.qalys, varying, wtp).iloc[0]
            evppi_rows.append({"parameter": OUTCOME_GROUP, "evppi": row["evppi"], "evppi_se": row["evppi_se"]})
    columns: dict[str, tuple[np.ndarray, bool]] = {k: (v, False) for k, v in values.items()}
    if uncertainty is not None:
        table, rows, cols = physics_evppi(uncertainty, phys, params, cal_index, res.cost, res.qalys, wtp)
        parameters = pd.concat([parameters, table], axis=1)
        evppi_rows.extend(rows)
        columns.update(cols)
    evppi_table = pd.DataFrame(evppi_rows, columns=["parameter", "evppi", "evppi_se"])
    evppi_table["evpi"] = max(0.0, float(voi.evpi(res.cost, res.qalys, wtp)))
    report(0.85)

    # --- focal comparison: the non-reference strategy with the highest expected NMB
    expected_nmb = (wtp * res.qalys - res.cost).mean(axis=0)
    others = [j for j, a in enumerate(arms) if a != reference]
    focal = arms[max(others, key=lambda j: expected_nmb[j])] if others else reference
    pfs_point, os_point = arm_curves(trial, arms, params, draws_by_arm, grid)
    point = psm(sc, arms, grid, pfs_point[None], os_point[None], {}, 1).summary()
    notes.append(population_sentence(result))
    notes.append(_basis_note(point, result.economics, sc.economics.survival_source))
    tornado = _tornado(sc, arms, grid, pfs_point, os_point, focal, reference)
    price_range = _price_range(sc, parameters)
    vbp = _value_based_price(sc, arms, res, focal, reference, price_units(price_range=price_range))
    out = PSAResult(
        strategies=arms,
        reference=reference,
        focal=focal,
        currency=eco.currency,
        willingness_to_pay=wtp,
        cost=res.cost,
        qalys=res.qalys,
        life_years=res.life_years,
        parameters=parameters,
        wtp_grid=wtp_grid,
        ceac=ceac,
        ceaf=ceaf,
        evpi=evpi_curve,
        evppi=evppi_table,
        tornado=tornado,
        value_based_price=vbp,
        point=point,
        notes=notes,
        physics=uncertainty,
        price_range=price_range,
    )
    if uncertainty is not None:
        j_f, j_r = arms.index(focal), arms.index(reference)
        inb = wtp * (res.qalys[:, j_f] - res.qalys[:, j_r]) - (res.cost[:, j_f] - res.cost[:, j_r])
        out.labels = input_labels(uncertainty, OUTCOME_GROUP)
        inc_q = res.qalys[:, j_f] - res.qalys[:, j_r]
        kinds = input_kinds(evppi_table, uncertainty)
        out.drivers = drivers_table(evppi_table, inb, inc_q, columns, out.labels, kinds)
        report(0.9)

        def evaluate(fixed: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
            chunks = _run_draws(n, kwargs, executor, chunk_size, None, dict(fixed))
            return np.concatenate([p["cost"] for p in chunks]), np.concatenate([p["qalys"] for p in chunks])

        out.structural = structural_table(
            evaluate,
            (res.cost, res.qalys),
            uncertainty.structural,
            arms,
            focal,
            reference,
            wtp,
            sc.psa.structural_presets,
        )
    report(1.0)
    return out


def _run_draws(n: int, kwargs: dict, executor, chunk_size: int, progress, fixed) -> list[dict]:
    """:func:`psa_draws` over all draws, in this process or in chunks on ``executor``."""
    if executor is None:
        return [psa_draws(0, n, fixed=fixed, **kwargs)]
    import functools

    from mhtcdt.decision.run.chunking import map_chunks

    return map_chunks(
        functools.partial(_psa_chunk, fixed=fixed, **kwargs), n, chunk_size, 0, executor, progress=progress
    )


def _basis_note(point: pd.DataFrame, base_case: pd.DataFrame, survival_source: str = "outcome_model") -> str:
    """Say which survival the deterministic base case used and how it relates to the PSA's."""
    model = point.set_index("strategy")["qalys"]
    fitted = base_case.set_index("strategy")["qalys"]
    if survival_source == "outcome_model":
        return (
            "One survival source: the deterministic base case and the PSA both use the outcome model's complete "
            "(uncensored) survival of the same patients under each arm, the base case at the calibrated point, the "
            "PSA over the calibration draws (same patients, same random numbers); they differ only as the point "
            "estimate differs from the mean over the draws."
        )
    pairs = ", ".join(f"{s} {model[s]:.3f} vs {fitted[s]:.3f}" for s in model.index if s in fitted.index)
    how = (
        "extrapolates the censored virtual trial with parametric fits"
        if survival_source == "parametric"
        else ("uses the Kaplan-Meier curves of the censored virtual trial")
    )
    return (
        "Two survival sources (the scenario selects them): the PSA uses the outcome model's complete (uncensored) "
        f"survival; the deterministic base case {how}. QALYs at the calibrated point, "
        f"model-based vs trial-based: {pairs}."
    )


def _tornado(sc: Scenario, arms, grid, pfs, os_, focal: str, reference: str) -> pd.DataFrame:
    """One-way DSA of the incremental NMB (focal vs reference) over the scenario's uncertainty ranges."""
    eco = sc.economics
    if not eco.uncertainty or focal == reference:
        return pd.DataFrame(
            columns=["parameter", "low_value", "high_value", "outcome_low", "outcome_high", "outcome_base", "swing"]
        )
    j_f, j_r = arms.index(focal), arms.index(reference)
    base = {spec.parameter: eco.point_value(spec.parameter) for spec in eco.uncertainty}
    ranges = {spec.parameter: (spec.low, spec.high) for spec in eco.uncertainty}

    def incremental_nmb(scen: dict[str, np.ndarray]) -> np.ndarray:
        k = len(next(iter(scen.values())))
        res = psm(
            sc, arms, grid, np.broadcast_to(pfs, (k, *pfs.shape)), np.broadcast_to(os_, (k, *os_.shape)), dict(scen), k
        )
        nmb_ = eco.willingness_to_pay * res.qalys - res.cost
        return nmb_[:, j_f] - nmb_[:, j_r]

    return dsa.one_way_dsa(incremental_nmb, base, ranges)


def _price_range(sc: Scenario, parameters: pd.DataFrame) -> PriceRange | None:
    """The course price's sampled range relative to the scenario's price (None when it is fixed or 0)."""
    current = float(sc.economics.costs.mht_course)
    spec = next((u for u in sc.economics.uncertainty if u.parameter == "costs.mht_course"), None)
    if spec is None or current <= 0 or "costs.mht_course" not in parameters.columns:
        return None
    draws = parameters["costs.mht_course"].to_numpy(float)
    position = list(parameters.columns).index("costs.mht_course")
    return PriceRange(spec, current, draws / current, position, float(np.mean(draws)) / current)


def _value_based_price(sc: Scenario, arms, res, focal: str, reference: str, units: float = 1.0) -> float | None:
    """MHT course price at which the focal strategy's expected ICER vs the reference equals the WTP.

    The course is paid once at time 0 (undiscounted). When the price is uncertain, its PSA draws scale with
    the scenario price (the range follows the price), so each unit of price costs mean(draws) / price per
    patient on average: that is the ``units_per_patient`` of the closed form, which makes the value-based
    price the same whatever price the scenario asks, 0 included (p* = (WTP dE - dC without the course) / units;
    ``units``: :func:`price_units`)."""
    specs = {a.name: a for a in sc.arms}
    if focal == reference or not specs[focal].has_mht or specs[reference].has_mht:
        return None
    j_f, j_r = arms.index(focal), arms.index(reference)
    inc_cost = float((res.cost[:, j_f] - res.cost[:, j_r]).mean())
    inc_qalys = float((res.qalys[:, j_f] - res.qalys[:, j_r]).mean())
    current = sc.economics.costs.mht_course
    return dsa.value_based_price(
        inc_cost, inc_qalys, sc.economics.willingness_to_pay, current_price=current, units_per_patient=units
    )


# --------------------------------------------------------------------------------------------------
# Public entry points for analyses that consume a finished run and its PSAResult (what-if price and
# willingness to pay, price and threshold analysis, subgroups): the helpers above under stable names.


def model_point_curves(
    result: PipelineResult, params: outcome.OutcomeParams | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(arms, grid, PFS, OS) of the outcome model at its calibrated point for the decision population (every
    randomised patient under every arm, :func:`~mhtcdt.decision.run.pipeline.decision_population`) and the
    trial's random numbers: the curves of the PSA's ``point`` (and of the base case when ``survival_source`` is
    ``"outcome_model"``). PFS and OS have shape (S, T)."""
    sc = result.scenario
    trial = decision_population(result)
    arms = [a.name for a in sc.randomised_arms if (trial["arm"] == a.name).any()]
    grid = time_grid_months(sc)
    params = _scenario_params(sc) if params is None else params
    pfs, os_ = arm_curves(trial, arms, params, trial_draws(trial, arms, result.seed), grid)
    return arms, grid, pfs, os_


def evaluate_curves(
    scenario: Scenario,
    arms: list[str],
    grid: np.ndarray,
    pfs: np.ndarray,
    os_: np.ndarray,
    values: dict[str, np.ndarray],
    n: int,
):
    """The partitioned survival model of ``scenario`` on (D, S, T) curves with ``n`` sets of sampled
    economic inputs (``values``: dotted name -> (n,) array; inputs not given take the scenario's value)."""
    return psm(scenario, arms, grid, pfs, os_, values, n)


def one_way_tornado(
    scenario: Scenario, arms: list[str], grid: np.ndarray, pfs: np.ndarray, os_: np.ndarray, focal: str, reference: str
) -> pd.DataFrame:
    """One-way DSA of the incremental NMB (focal vs reference) at the scenario's willingness to pay over its
    ``[[economics.uncertainty]]`` ranges, survival at the curves given (the PSA's tornado)."""
    return _tornado(scenario, arms, grid, pfs, os_, focal, reference)


def trial_columns() -> tuple[str, ...]:
    """Columns of a trial DataFrame the PSA reads (:func:`psa_draws`)."""
    return _TRIAL_COLUMNS


def value_based_price_of(psa: PSAResult, scenario: Scenario, focal: str | None = None) -> float | None:
    """The value-based price of the MHT course from a PSA's draws at ``scenario``'s WTP and price (see
    :func:`_value_based_price`; the price draws' scale is :func:`price_units`, the same at every price)."""
    res = SimpleNamespace(cost=psa.cost, qalys=psa.qalys)
    return _value_based_price(
        scenario, psa.strategies, res, psa.focal if focal is None else focal, psa.reference, price_units(psa)
    )


def _scenario_params(scenario):
    """The outcome parameters the scenario runs with (its calibration, else its indication's packaged one)."""
    from mhtcdt.decision.model.calibration_file import scenario_params

    return scenario_params(scenario)
