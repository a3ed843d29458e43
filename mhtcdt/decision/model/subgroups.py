"""For whom: subgroup cost-effectiveness and the eligibility rule with the highest expected net benefit.

Counterfactual virtual patients: every patient of the run's trial is also treated with the other arms
(:func:`mhtcdt.decision.run.arm_chain.treated_under`, the arm's own physics seed, so a patient's row under
its randomised arm is its trial row) and keeps its own outcome random numbers in every arm (common random
numbers). A subgroup is a criterion over the cohort columns (the safe grammar of
:func:`mhtcdt.cohorts.evaluate_criterion`); its survival under each arm is the empirical survival of its
patients' complete latent times (the base case's survival source), and its costs and QALYs come from the
scenario's partitioned survival model:

* at the calibrated point of the outcome model (deterministic, the base case of the subgroup), and
* over the run's PSA draws: each draw's calibration draw, economic inputs and (when the PSA samples the
  physics) emulated kill of every patient under every arm are the main PSA's own (read from its
  ``parameters`` and emulators), so a subgroup's PSA is the run's PSA restricted to its patients: a paired
  comparison of the arms within the subgroup.

Per subgroup: patients, the model-predicted OS hazard ratio (Peto, complete follow-up; 95 % interval over
the calibration draws), the QALY gain (mean and 95 % interval over the PSA draws), the ICER, the
probability of being cost-effective and the value-based price, at any WTP and price
(:meth:`SubgroupAnalysis.table`). The covariates are those clinicians name: MGMT promoter methylation
(a prognostic covariate of the outcome model), Karnofsky performance status, tumour volume, age, the Park
score (Park et al. J Clin Oncol 2010;28:3838) and the recurrence number (not in the outcome model: its
subgroups differ only through correlated covariates; the table says so).

Eligibility rules (:meth:`SubgroupAnalysis.rules_table`): giving the new arm only to the patients a rule
selects (the others get the reference arm) has, by the linearity of the partitioned survival model in the
curves, an incremental net monetary benefit per eligible patient of share(R) x INMB(R) over treating
nobody; the best rule maximises its expectation, and the probability that it is the best rule is the
share of PSA draws in which it has the highest INMB. Every number is a model prediction (no randomised
NanoTherm evidence), with the Monte Carlo error of a finite virtual cohort (the table gives each n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome, whatif
from mhtcdt.decision.model import psa as psa_module
from mhtcdt.decision.model.economic_model import time_grid_months
from mhtcdt.decision.model.price import icer_of, wilson_interval
from mhtcdt.decision.model.psa_curves import draw_latent_times
from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.streams import outcome_seed
from mhtcdt.errors import InputError

#: (covariate, subgroup, criterion): the subgroups of the table, in the order shown
SUBGROUPS: tuple[tuple[str, str, str], ...] = (
    ("all eligible patients", "all", "true"),
    ("MGMT promoter", "methylated", "mgmt_methylated"),
    ("MGMT promoter", "unmethylated", "not mgmt_methylated"),
    ("Karnofsky performance status", "KPS 90-100", "kps > 80"),
    ("Karnofsky performance status", "KPS 80 or less", "kps <= 80"),
    ("tumour volume", "under 50 cm³", "tumour_volume_cm3 < 50"),
    ("tumour volume", "50 cm³ or more", "tumour_volume_cm3 >= 50"),
    ("age", "under 60", "age_years < 60"),
    ("age", "60 to 69", "age_years >= 60 and age_years < 70"),
    ("age", "70 or over", "age_years >= 70"),
    ("Park score", "0 (good prognosis)", "park_score == 0"),
    ("Park score", "1-2 (intermediate)", "park_score >= 1 and park_score <= 2"),
    ("Park score", "3 (poor prognosis)", "park_score == 3"),
    ("recurrence", "first", "recurrence_number == 1"),
    ("recurrence", "second or later", "recurrence_number >= 2"),
)
#: candidate eligibility rules for the new arm (on top of the scenario's criteria): name -> criterion
RULES: dict[str, str] = {
    "nobody (reference arm for all)": "false",
    "every eligible patient": "true",
    "KPS 90-100": "kps > 80",
    "tumour under 50 cm³": "tumour_volume_cm3 < 50",
    "Park score 0": "park_score == 0",
    "Park score 0-1": "park_score <= 1",
    "MGMT methylated": "mgmt_methylated",
    "age under 70": "age_years < 70",
    "first recurrence": "recurrence_number == 1",
    "KPS 90-100 and tumour under 50 cm³": "kps > 80 and tumour_volume_cm3 < 50",
}
NOT_IN_MODEL = {"recurrence": "not an outcome-model covariate: differences come only from correlated covariates"}
MIN_PATIENTS = 10  # smaller subgroups are listed but not analysed (their n says why)


@dataclass
class SubgroupAnalysis:
    """Per-draw costs and QALYs of each subgroup and rule group (see the module docstring)."""

    scenario: object  # the run's scenario (its WTP and price; use table()/rules_table() for others)
    strategies: list[str]
    reference: str
    groups: pd.DataFrame  # covariate, subgroup, criterion, n, note
    cost: dict[str, np.ndarray]  # key "covariate|subgroup" or "rule|name" -> (D, S)
    qalys: dict[str, np.ndarray]
    point_cost: dict[str, np.ndarray]  # (S,) at the calibrated point
    point_qalys: dict[str, np.ndarray]
    hazard_ratio: dict[str, tuple[float, float, float]]  # point, 2.5 %, 97.5 % (new vs reference, OS)
    rule_share: dict[str, float]
    price_draws: np.ndarray  # the PSA's price of each draw (D,) at the run's price
    n_patients: int
    new: str
    notes: list[str] = field(default_factory=list)

    @property
    def n_draws(self) -> int:
        return int(self.price_draws.size)

    def _costs(self, key: str, price: float) -> np.ndarray:
        """Per-draw costs at ``price``: the sampled course price scales with the price (the range follows
        it, 0 is certain), as :mod:`mhtcdt.decision.model.whatif` does for the whole trial."""
        run_price = float(self.scenario.economics.costs.mht_course)
        if price == run_price:
            return self.cost[key]
        new = self.price_draws * (price / run_price) if run_price > 0 else np.full_like(self.price_draws, price)
        shift = whatif.has_mht(self.scenario, self.strategies)[None, :] * (new - self.price_draws)[:, None]
        return self.cost[key] + shift

    def _point_cost(self, key: str, price: float) -> np.ndarray:
        delta = price - float(self.scenario.economics.costs.mht_course)
        return self.point_cost[key] + whatif.has_mht(self.scenario, self.strategies) * delta

    def table(self, willingness_to_pay: float | None = None, price: float | None = None) -> pd.DataFrame:
        """One row per subgroup at ``willingness_to_pay`` and MHT ``price`` (default the run's).

        Columns: ``covariate``, ``subgroup``, ``n``, ``hazard_ratio`` (+ ``hr_low``, ``hr_high``),
        ``qaly_gain`` (probabilistic mean, + ``qaly_gain_low``, ``qaly_gain_high``), ``qaly_gain_deterministic``,
        ``incremental_cost``, ``icer`` (ratio of means), ``icer_deterministic``, ``p_cost_effective``
        (+ ``p_ce_low``, ``p_ce_high``: Wilson interval of the share of draws), ``value_based_price``, ``note``.
        """
        wtp = float(self.scenario.economics.willingness_to_pay if willingness_to_pay is None else willingness_to_pay)
        price = float(self.scenario.economics.costs.mht_course if price is None else price)
        j, r = self.strategies.index(self.new), self.strategies.index(self.reference)
        mht = whatif.has_mht(self.scenario, self.strategies)
        units = _price_units(self.price_draws, float(self.scenario.economics.costs.mht_course))
        rows = []
        for g in self.groups.itertuples(index=False):
            key = f"{g.covariate}|{g.subgroup}"
            row = dict(covariate=g.covariate, subgroup=g.subgroup, n=int(g.n), note=g.note)
            if key not in self.cost:
                rows.append(row)
                continue
            cost, qalys = self._costs(key, price), self.qalys[key]
            gain = qalys[:, j] - qalys[:, r]
            inc = cost[:, j] - cost[:, r]
            k = int(((wtp * qalys - cost).argmax(axis=1) == j).sum())
            lo, hi = wilson_interval(k, self.n_draws)
            pc, pq = self._point_cost(key, price), self.point_qalys[key]
            d_gain, d_inc = float(pq[j] - pq[r]), float(pc[j] - pc[r])
            vbp = None
            if mht[j] > mht[r]:
                vbp = price + (wtp * gain.mean() - inc.mean()) / units
            hr = self.hazard_ratio[key]
            row.update(
                hazard_ratio=hr[0],
                hr_low=hr[1],
                hr_high=hr[2],
                qaly_gain=float(gain.mean()),
                qaly_gain_low=float(np.quantile(gain, 0.025)),
                qaly_gain_high=float(np.quantile(gain, 0.975)),
                qaly_gain_deterministic=d_gain,
                incremental_cost=float(inc.mean()),
                icer=icer_of(float(inc.mean()), float(gain.mean())),
                icer_deterministic=icer_of(d_inc, d_gain),
                p_cost_effective=k / self.n_draws,
                p_ce_low=lo,
                p_ce_high=hi,
                value_based_price=vbp,
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def rules_table(self, willingness_to_pay: float | None = None, price: float | None = None) -> pd.DataFrame:
        """Candidate eligibility rules for the new arm, best first: ``rule``, ``criterion``, ``share_treated``,
        ``expected_inmb`` (per eligible patient vs treating nobody, mean over draws), ``inmb_low``,
        ``inmb_high`` (95 % interval over draws), ``p_best`` (share of draws in which the rule has the highest
        INMB, + ``p_best_low``, ``p_best_high``), ``best`` (bool: highest expected INMB)."""
        wtp = float(self.scenario.economics.willingness_to_pay if willingness_to_pay is None else willingness_to_pay)
        price = float(self.scenario.economics.costs.mht_course if price is None else price)
        j, r = self.strategies.index(self.new), self.strategies.index(self.reference)
        names = list(self.rule_share)
        inmb = np.zeros((self.n_draws, len(names)))
        for i, name in enumerate(names):
            key = f"rule|{name}"
            share = self.rule_share[name]
            if share == 0 or key not in self.cost:
                continue
            cost, qalys = self._costs(key, price), self.qalys[key]
            inmb[:, i] = share * (wtp * (qalys[:, j] - qalys[:, r]) - (cost[:, j] - cost[:, r]))
        best_each = inmb.argmax(axis=1)
        expected = inmb.mean(axis=0)
        rows = []
        for i, name in enumerate(names):
            k = int((best_each == i).sum())
            lo, hi = wilson_interval(k, self.n_draws)
            rows.append(
                dict(
                    rule=name,
                    criterion=RULES.get(name, ""),
                    share_treated=self.rule_share[name],
                    expected_inmb=float(expected[i]),
                    inmb_low=float(np.quantile(inmb[:, i], 0.025)),
                    inmb_high=float(np.quantile(inmb[:, i], 0.975)),
                    p_best=k / self.n_draws,
                    p_best_low=lo,
                    p_best_high=hi,
                )
            )
        table = pd.DataFrame(rows)
        table["best"] = table["expected_inmb"] == table["expected_inmb"].max()
        return table.sort_values("expected_inmb", ascending=False, kind="stable").reset_index(drop=True)


def _price_units(price_draws: np.ndarray, run_price: float) -> float:
    """Mean sampled price per unit of the run's list price, the same at every price asked, 0 included
    (:func:`mhtcdt.decision.model.psa.price_units`); 1 when the run's price is fixed or 0."""
    if run_price <= 0:
        return 1.0
    return float(np.mean(price_draws)) / run_price


def counterfactual_pool(result, progress: ProgressCallback | None = None) -> dict[str, pd.DataFrame]:
    """Every trial patient treated with every randomised arm: arm -> DataFrame in ``patient_id`` order.

    The pipeline's counterfactual table (:func:`mhtcdt.decision.run.pipeline.decision_population`) is that
    population (each patient under every arm with its own physics stream, the scenario's physics assumptions and
    each arm's systemic therapy); it is used when the result carries it, and for a result without it (built by
    hand, or streamed) it is simulated again the pipeline's way
    (:func:`mhtcdt.decision.run.arm_chain.simulate_counterfactual` with the run's :class:`ArmSeeds`), which gives
    the same table: a patient's row under its randomised arm is its trial row."""
    from mhtcdt.decision.model.calibration_file import scenario_params
    from mhtcdt.decision.run.arm_chain import RANDOMISATION_COLUMNS, RANDOMISED_ARM, ArmSeeds, simulate_counterfactual
    from mhtcdt.decision.run.pipeline import COUNTERFACTUAL
    from mhtcdt.decision.streams import Stream
    from mhtcdt.seeding import child_sequence

    table = result.extras.get(COUNTERFACTUAL) if isinstance(getattr(result, "extras", None), dict) else None
    if table is None:
        sc = result.scenario
        trial = result.trial
        keep = [c for c in result.cohort.columns if c in trial.columns and c not in RANDOMISATION_COLUMNS]
        randomised = trial[keep + [c for c in RANDOMISATION_COLUMNS if c in trial.columns]]
        seeds = ArmSeeds(physics=child_sequence(result.seed, Stream.PHYSICS), outcome=outcome_seed(result.seed))
        table = simulate_counterfactual(
            randomised,
            sc.randomised_arms,
            seeds,
            scenario_params(sc),
            progress=progress,
            assumptions=sc.physics_assumptions(),
        )
    drop = [*RANDOMISATION_COLUMNS, RANDOMISED_ARM]
    return {
        str(arm): rows.drop(columns=[c for c in drop if c in rows.columns])
        .sort_values("patient_id", kind="stable")
        .reset_index(drop=True)
        for arm, rows in table.groupby("arm", sort=False)
    }


def _masks(frame: pd.DataFrame, criteria: Sequence[str]) -> np.ndarray:
    from mhtcdt.cohorts import evaluate_criterion

    return np.vstack([evaluate_criterion(frame, c, field="subgroups") for c in criteria]).astype(bool)


def _calibration_index(psa: psa_module.PSAResult, params: outcome.OutcomeParams) -> np.ndarray:
    """Each PSA draw's calibration draw, read back from its ``outcome.*`` parameter values."""
    cols = [f"outcome.{k}" for k in outcome.FREE_PARAMETERS]
    if params.draws.empty or not set(cols) <= set(psa.parameters.columns):
        return np.full(psa.n_draws, -1, dtype=np.int64)
    lookup = {tuple(row): i for i, row in enumerate(params.draws[list(outcome.FREE_PARAMETERS)].to_numpy(float))}
    rows = psa.parameters[cols].to_numpy(float)
    try:
        return np.array([lookup[tuple(row)] for row in rows], dtype=np.int64)
    except KeyError:
        raise InputError("psa", "calibration draws", "the PSA was run with other outcome parameters") from None


def analyse_subgroups(
    result,
    psa: psa_module.PSAResult,
    *,
    params: outcome.OutcomeParams | None = None,
    subgroups: Sequence[tuple[str, str, str]] = SUBGROUPS,
    rules: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> SubgroupAnalysis:
    """Subgroup and eligibility-rule analysis of a run and its PSA (see the module docstring).

    ``psa`` must come from :func:`~mhtcdt.decision.model.psa.run_psa` of ``result`` with the same outcome
    ``params`` (default: the calibrated file, as the pipeline uses)."""
    from mhtcdt.cohorts import park_score
    from mhtcdt.decision.trial.fastlogrank import logrank_replicates

    rules = dict(RULES if rules is None else rules)
    params = _scenario_params(result.scenario) if params is None else params
    sc = result.scenario
    strategies, reference = list(psa.strategies), psa.reference
    new = psa.focal if psa.focal != reference else next((s for s in strategies if s != reference), reference)
    if new == reference:
        raise InputError("arms", strategies, "subgroup analysis needs a strategy besides the reference")
    pools = counterfactual_pool(result, progress=None if progress is None else (lambda st, f: progress(st, 0.6 * f)))
    first = pools[strategies[0]]
    frame = first.assign(park_score=park_score(first).to_numpy())
    group_rows = []
    masks = {}
    sub_masks = _masks(frame, [c for _, _, c in subgroups])
    for (cov, name, crit), mask in zip(subgroups, sub_masks, strict=True):
        n = int(mask.sum())
        note = NOT_IN_MODEL.get(cov, "")
        if n < MIN_PATIENTS:
            note = (note + "; " if note else "") + f"fewer than {MIN_PATIENTS} patients: not analysed"
        else:
            masks[f"{cov}|{name}"] = mask
        group_rows.append(dict(covariate=cov, subgroup=name, criterion=crit, n=n, note=note))
    rule_masks = _masks(frame, list(rules.values()))
    rule_share = {}
    for name, mask in zip(rules, rule_masks, strict=True):
        rule_share[name] = float(mask.mean())
        if mask.any():
            masks[f"rule|{name}"] = mask
    keys = list(masks)
    weights = np.vstack([masks[k] for k in keys])  # (G, N) bool

    grid = time_grid_months(sc)
    draws = outcome.patient_draws(first["patient_id"].to_numpy(), outcome_seed(result.seed))
    cal_index = _calibration_index(psa, params)
    report = sub_progress(progress, "survival of every subgroup", 0.6, 0.95)
    point_pfs, point_os, point_hr_times = _group_curves(pools, strategies, params, draws, weights, grid)
    if _physics_applies(psa, pools, strategies):  # every draw's own emulated kill, as in the PSA
        pfs_d, os_d, os_times_d = _physics_draw_curves(result, psa, pools, strategies, params, weights, grid, cal_index)
        report(1.0)
    else:  # curves per distinct calibration draw (index -1 = the calibrated point), the trial's kill
        unique = np.unique(cal_index)
        pfs_u = np.empty((unique.size, len(keys), len(strategies), grid.size))
        os_u = np.empty_like(pfs_u)
        os_times = []
        for i, k in enumerate(unique):
            p = params if k < 0 else params.draw(int(k))
            pfs_u[i], os_u[i], times = _group_curves(
                pools, strategies, params=p, draws=draws, weights=weights, grid=grid
            )
            os_times.append(times)
            report((i + 1) / unique.size)
        position = np.searchsorted(unique, cal_index)
        pfs_d, os_d, os_times_d = pfs_u[position], os_u[position], np.stack(os_times)[position]
    values = {  # the sampled economic inputs (discrete physics/structural inputs act through the draws' curves)
        c: psa.parameters[c].to_numpy(float)
        for c in psa.parameters.columns
        if not str(c).startswith("outcome.") and pd.api.types.is_numeric_dtype(psa.parameters[c])
    }
    cost, qalys, point_cost, point_qalys, hrs = {}, {}, {}, {}, {}
    j_new, j_ref = strategies.index(new), strategies.index(reference)
    for g, key in enumerate(keys):
        res = psa_module.evaluate_curves(sc, strategies, grid, pfs_d[:, g], os_d[:, g], values, psa.n_draws)
        cost[key], qalys[key] = res.cost, res.qalys
        point = psa_module.evaluate_curves(sc, strategies, grid, point_pfs[None, g], point_os[None, g], {}, 1)
        point_cost[key], point_qalys[key] = point.cost[0], point.qalys[0]
        mask = masks[key]
        hr_point = _peto_hr(point_hr_times[None], mask, j_new, j_ref, logrank_replicates)[0]
        hr_draws = _peto_hr(os_times_d, mask, j_new, j_ref, logrank_replicates)
        hrs[key] = (float(hr_point), float(np.quantile(hr_draws, 0.025)), float(np.quantile(hr_draws, 0.975)))
    price_col = whatif.MHT_PRICE
    price_draws = (
        psa.parameters[price_col].to_numpy(float)
        if price_col in psa.parameters.columns
        else np.full(psa.n_draws, float(sc.economics.costs.mht_course))
    )
    if progress is not None:
        progress("done", 1.0)
    notes = [
        "Subgroups and rules are model predictions for counterfactual virtual patients (each patient under every "
        f"arm with the same random numbers); {len(first):,} patients; Monte Carlo error grows as n falls."
    ]
    return SubgroupAnalysis(
        scenario=sc,
        strategies=strategies,
        reference=reference,
        groups=pd.DataFrame(group_rows),
        cost=cost,
        qalys=qalys,
        point_cost=point_cost,
        point_qalys=point_qalys,
        hazard_ratio=hrs,
        rule_share=rule_share,
        price_draws=price_draws,
        n_patients=len(first),
        new=new,
        notes=notes,
    )


def _physics_applies(psa: psa_module.PSAResult, pools: dict[str, pd.DataFrame], strategies: list[str]) -> bool:
    """The PSA sampled the physics and its emulators cover exactly the pools' patients (the run's
    counterfactual table: the same patients in the same order)."""
    phys = psa.physics
    if phys is None:
        return False
    return all(phys.patient_ids.get(a) is not None and len(phys.patient_ids[a]) == len(pools[a]) for a in strategies)


def _physics_draw_curves(result, psa, pools, strategies, params, weights, grid, cal_index):
    """PFS and OS (D, G, S, T) and OS times (D, S, N) of every PSA draw: the draw's emulated kill of each
    patient under each arm (:meth:`~mhtcdt.decision.model.physics_psa.PhysicsUncertainty.kill`), its
    calibration draw and the outcome parameters its physics inputs set, as
    :func:`mhtcdt.decision.model.psa.psa_draws` evaluates the whole population."""
    from mhtcdt.decision.model.physics_psa import PARAMETER_PREFIX
    from mhtcdt.decision.model.psa_curves import arm_data, draw_params

    phys, n = psa.physics, psa.n_draws
    values = {
        name: np.array([phys.value_of(name, v) for v in psa.parameters[PARAMETER_PREFIX + name]], dtype=float)
        for name in phys.sampled
        if PARAMETER_PREFIX + name in psa.parameters.columns
    }
    kills = phys.kill(values, n)
    dp = draw_params(params, np.maximum(cal_index, 0), phys.outcome_free(values))
    data = arm_data(
        pd.concat([pools[a].assign(arm=a) for a in strategies], ignore_index=True), strategies, params, result.seed
    )
    g, size = weights.shape[0], len(next(iter(pools.values())))
    pfs = np.empty((n, g, len(strategies), grid.size))
    os_ = np.empty_like(pfs)
    os_times = np.empty((n, len(strategies), size))
    for s, arm in enumerate(strategies):
        times = draw_latent_times(data[arm], kills[arm], dp)
        for i in range(n):
            pfs[i, :, s] = _group_survival(times["pfs_latent_months"][i], weights, grid)
            os_[i, :, s] = _group_survival(times["os_latent_months"][i], weights, grid)
        os_times[:, s] = times["os_latent_months"]
    return pfs, os_, os_times


def _group_curves(pools, strategies, params, draws, weights, grid):
    """PFS and OS (G, S, T) of each weighted patient group under each arm, and OS times (S, N)."""
    pfs = np.empty((weights.shape[0], len(strategies), grid.size))
    os_ = np.empty_like(pfs)
    times_all = np.empty((len(strategies), len(draws.z_growth)))
    for s, arm in enumerate(strategies):
        pool = pools[arm]
        kill_total = pool["log10_kill_total"].to_numpy(float)
        times = outcome.latent_times(
            pool["tumour_volume_cm3"].to_numpy(float),
            kill_total,
            np.minimum(pool["log10_kill_rt"].to_numpy(float), kill_total),
            pool["age_years"].to_numpy(float),
            outcome.linear_predictor(pool, params),
            outcome.pps_median_for(pool, params),
            draws,
            params,
            pool["treatment_months"].to_numpy(float),
            systemic=outcome.systemic_from(pool),
        )
        pfs[:, s] = _group_survival(times["pfs_latent_months"], weights, grid)
        os_[:, s] = _group_survival(times["os_latent_months"], weights, grid)
        times_all[s] = times["os_latent_months"]
    return pfs, os_, times_all


def _group_survival(times: np.ndarray, masks: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Empirical survival (G, T) of each masked group of complete ``times``: S(t_k) = #{times > t_k} / n.

    Each time falls after ``b = searchsorted(grid, t)`` grid points, so it is alive at points k < b; the
    counts come from one bincount over (group, b) pairs (integer counts: the shares are exact)."""
    g, t = masks.shape[0], grid.size
    b = np.searchsorted(grid, times, side="left")  # grid points strictly below each time
    rows, cols = np.nonzero(masks)
    deaths_by = np.bincount(rows * (t + 1) + b[cols], minlength=g * (t + 1)).reshape(g, t + 1)
    n = deaths_by.sum(axis=1, keepdims=True)
    return (n - np.cumsum(deaths_by, axis=1)[:, :t]) / n


def _peto_hr(times: np.ndarray, mask: np.ndarray, j_new: int, j_ref: int, logrank) -> np.ndarray:
    """OS hazard ratio new vs reference of the masked patients per replicate (``times`` (R, S, N); complete
    follow-up, Peto one-step estimate exp((O - E) / V))."""
    t = np.concatenate([times[:, j_ref][:, mask], times[:, j_new][:, mask]], axis=1)
    n = int(mask.sum())
    group = np.broadcast_to(np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)], t.shape)
    res = logrank(t, np.ones(t.shape, dtype=bool), group)
    return np.exp(res["log_hr_peto"].to_numpy(float))


def _scenario_params(scenario):
    """The outcome parameters the scenario runs with (its calibration, else its indication's packaged one)."""
    from mhtcdt.decision.model.calibration_file import scenario_params

    return scenario_params(scenario)
