"""Benchmark of the value of a trial (issue 17): EVSI of one design, an ENBS curve, and the regression EVSI
against a nested Monte Carlo EVSI at matched accuracy.

Run:  PYTHONPATH=. python benchmarks/bench_evsi.py [--draws 2000] [--repeats 5] [--threads 1] [--skip-scenario]

Cases
-----
1. **One design, 2,000 PSA draws** (goal <= 30 s): the default scenario's two-arm OS log-rank trial of 200
   patients, :func:`mhtcdt.decision.trial.trial_value.trial_value` with all three estimators (regression,
   moment matching and importance sampling with 30 synthetic trials per parameter state), no bootstrap, no
   MF1001. The trial pools (the physics of each arm for the eligible cohort, built once per scenario and
   reused by the app) are built before the timing and timed on their own.
2. **ENBS curve over 10 sample sizes** (goal <= 3 minutes): the same trial at 50..1,000 patients, regression
   EVSI with its SE, the ENBS and the optimal size with a 100-resample bootstrap band (the regressions refitted
   on every resample), and the closed MF1001 design (270 patients, three arms, 12-month survival), pools built
   before. Its numbers (optimal n, MF1001 EVSI, with standard errors) are in the JSON line.
3. **Regression vs nested Monte Carlo at matched accuracy** (goal >= 100x), a small case both can do: two
   strategies, a 40-cycle monthly survival model (QALYs and costs of the experimental arm move with its log
   hazard ratio ``theta ~ N(-0.2, 0.3^2)``; an independent cost ``c ~ N(0, 3000^2)``), a trial observing the
   log hazard ratio with ``xbar ~ N(theta, 4 / events)`` (the normal approximation of a log-rank estimate,
   200 events). Nested Monte Carlo: Q outer trials, for each J draws from the exact (normal-normal) posterior
   of theta and of c, the model evaluated on each, ``EVSI = mean_q max_s mean_j NB - max_s mean NB``; its
   standard error is the outer one, sd(h_q)/sqrt(Q), and its upward bias from J inner draws is checked to be
   below it (J doubled once). Q is chosen so that the nested standard error equals the regression's (matched
   accuracy); the regression uses D = 2,000 draws (one trial per draw), the same model function. Both EVSIs
   and their standard errors are printed; they must agree within their combined standard error.

Timings: medians of >= 5 runs with min-max, wall and CPU (all threads), BLAS pinned to --threads, with the load
average (a shared 2-core machine: quote CPU time when loaded). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

from mhtcdt.economics import evsi  # noqa: E402

SIZES_10 = (50, 100, 150, 200, 300, 400, 500, 600, 800, 1000)

# ------------------------------------------------------------------------------------------- case 3: small model
THETA_MEAN, THETA_SD = -0.2, 0.3  # log hazard ratio of the experimental arm
COST_SD = 3000.0  # an input the trial does not inform
EVENTS = 200
SAMPLING_SD = 2.0  # log HR estimate: var = 4 / events
WTP = 30000.0
CYCLES = 40
BASE_HAZARD = 0.06  # per month, control arm
EXTRA_COST = 700.0  # experimental arm, up front (the decision is close: mean INB about -100)
COST_PER_MONTH = 1500.0
UTILITY = 0.7 / 12.0  # QALY per month alive
DISCOUNT = 1.035 ** (-np.arange(CYCLES) / 12.0)


def small_model(theta: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Net benefit (..., 2) of control and experimental at WTP: survival sum_t (1 - h)^t, h = h0 exp(theta)."""
    t = np.arange(CYCLES)
    h_exp = 1.0 - (1.0 - BASE_HAZARD) ** np.exp(theta)  # monthly probability under the hazard ratio
    alive_c = (1.0 - BASE_HAZARD) ** t
    alive_e = (1.0 - h_exp[..., None]) ** t
    months_c = float(alive_c @ DISCOUNT)
    months_e = alive_e @ DISCOUNT
    nb_c = np.full_like(theta, WTP * UTILITY * months_c - COST_PER_MONTH * months_c)
    nb_e = WTP * UTILITY * months_e - COST_PER_MONTH * months_e - EXTRA_COST - cost
    return np.stack([nb_c, nb_e], axis=-1)


def regression_evsi(d: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    theta = rng.normal(THETA_MEAN, THETA_SD, d)
    cost = rng.normal(0.0, COST_SD, d)
    x = theta + SAMPLING_SD / math.sqrt(EVENTS) * rng.standard_normal(d)
    nb = small_model(theta, cost)
    fit = evsi.fit_conditional_nb(-nb, np.zeros_like(nb), x, 0.0, adjust=cost)
    return float(fit.value[0]), float(fit.se[0])


def nested_evsi(q: int, j: int, seed: int) -> tuple[float, float]:
    """Nested Monte Carlo EVSI with Q outer data sets and J exact posterior draws each (blocks of outer sets).

    The outer data sets come from one stream and the inner draws from another, so the same Q outer sets are
    reused when J changes (the J-doubling bias check compares like with like)."""
    outer = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    inner = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    prior_theta = np.random.default_rng(np.random.SeedSequence([seed, 4])).normal(THETA_MEAN, THETA_SD, 200_000)
    prior_mean_nb = small_model(prior_theta, np.zeros(prior_theta.size)).mean(axis=0)
    star = int(np.argmax(prior_mean_nb))
    v0, vs = THETA_SD**2, SAMPLING_SD**2 / EVENTS
    post_var = 1.0 / (1.0 / v0 + 1.0 / vs)
    theta = outer.normal(THETA_MEAN, THETA_SD, q)
    x = theta + math.sqrt(vs) * outer.standard_normal(q)
    post_mean = post_var * (THETA_MEAN / v0 + x / vs)
    gains = np.empty(q)
    block = max(1, 2_000_000 // (j * CYCLES))
    for lo in range(0, q, block):
        hi = min(q, lo + block)
        inner_theta = post_mean[lo:hi, None] + math.sqrt(post_var) * inner.standard_normal((hi - lo, j))
        inner_cost = inner.normal(0.0, COST_SD, (hi - lo, j))
        nb = small_model(inner_theta, inner_cost).mean(axis=1)  # (block, 2) posterior expected NB
        gains[lo:hi] = nb.max(axis=1) - nb[:, star]
    return float(gains.mean()), float(gains.std(ddof=1) / math.sqrt(q))


def case_nested(repeats: int, seed: int) -> tuple[list, dict]:
    d = 2000
    reg_value, reg_se = regression_evsi(d, seed)
    # the outer sd of the nested estimator, from a pilot, sets Q for the regression's standard error
    pilot_value, pilot_se = nested_evsi(2000, 200, seed + 1)
    sd_h = pilot_se * math.sqrt(2000)
    q = int(math.ceil((sd_h / reg_se) ** 2))
    j = 1000
    nest_value, nest_se = nested_evsi(q, j, seed + 2)
    bias_check, _ = nested_evsi(q, 2 * j, seed + 2)  # J doubled: the inner-sample bias must stay below the SE
    timings = h.compare([lambda: regression_evsi(d, seed), lambda: nested_evsi(q, j, seed + 2)], repeats)
    rows = [
        ["regression (D = 2000)", f"{reg_value:,.1f}", f"{reg_se:,.1f}", h.span(timings[0]), timings[0].cpu_median],
        [
            f"nested MC (Q = {q}, J = {j})",
            f"{nest_value:,.1f}",
            f"{nest_se:,.1f}",
            h.span(timings[1]),
            timings[1].cpu_median,
        ],
    ]
    figures = {
        "nested_case_regression_evsi": reg_value,
        "nested_case_regression_se": reg_se,
        "nested_case_nested_evsi": nest_value,
        "nested_case_nested_se": nest_se,
        "nested_case_nested_evsi_2j": bias_check,
        "nested_case_outer_q": q,
        "nested_case_inner_j": j,
        "nested_case_agree_within_combined_se": abs(reg_value - nest_value) <= 2.0 * math.hypot(reg_se, nest_se),
        "nested_case_ratio_wall": timings[1].median / timings[0].median,
        "nested_case_ratio_cpu": timings[1].cpu_median / timings[0].cpu_median,
        **timings[0].figures("nested_case_regression"),
        **timings[1].figures("nested_case_nested"),
    }
    return rows, figures


# ------------------------------------------------------------------------------------------- cases 1 and 2
def scenario_cases(draws: int, repeats: int) -> tuple[list, dict]:
    import time

    from mhtcdt.decision.model.outcome import load_outcome_params
    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.decision.trial import study_design as sd
    from mhtcdt.decision.trial import trial_data as tdm
    from mhtcdt.decision.trial.trial_value import TrialValueRequest, trial_value

    sc = default_scenario()
    result = run_pipeline(sc, seed=sc.seed)
    psa = run_psa(result, n_draws=draws)
    params = load_outcome_params()
    # where the decision is uncertain (at the scenario's price the EVPI is ~0); 0 if MHT is not worth it even free
    price = max(float(psa.value_based_price), 0.0)
    t0, c0 = time.perf_counter(), time.process_time()
    mf = sd.resolve(sd.mf1001_design(), sc)
    world = tdm.build_world(mf.scenario, mf.arms, result.seed)  # every arm of both designs (MF1001 adds one)
    pools_wall, pools_cpu = time.perf_counter() - t0, time.process_time() - c0
    one = TrialValueRequest(sample_sizes=(200,), price=price, n_bootstrap=0, include_mf1001=False)
    curve = TrialValueRequest(
        sample_sizes=SIZES_10, price=price, methods=("regression",), n_bootstrap=100, include_mf1001=True
    )
    out = {}

    def run_one():
        out["one"] = trial_value(result, psa, one, params=params, world=world)

    def run_curve():
        out["curve"] = trial_value(result, psa, curve, params=params, world=world)

    timings = h.compare([run_one, run_curve], repeats)
    r1 = out["one"].curve.iloc[0]
    opt = out["curve"].optimal.iloc[0]
    mf1001 = out["curve"].mf1001.iloc[0]
    rows = [
        [
            f"one design, n = 200, {draws} draws, 3 methods",
            f"{r1.evsi:,.1f}",
            f"{r1.evsi_se:,.1f}",
            h.span(timings[0]),
            timings[0].cpu_median,
        ],
        [
            f"ENBS curve, 10 sizes, bootstrap 100 (optimal n {opt.n_optimal})",
            f"{opt.evsi:,.1f}",
            f"{opt.evsi_se:,.1f}",
            h.span(timings[1]),
            timings[1].cpu_median,
        ],
        ["trial pools (once per scenario)", "", "", f"{pools_wall:.3g}", pools_cpu],
    ]
    figures = {
        "psa_draws": draws,
        "parameter_states": out["one"].n_states,
        "price": price,
        "one_design_evsi": float(r1.evsi),
        "one_design_evsi_se": float(r1.evsi_se),
        "one_design_evsi_mm": float(r1.evsi_mm),
        "one_design_evsi_mm_se": float(r1.evsi_mm_se),
        "one_design_evsi_is": float(r1.evsi_is),
        "one_design_evsi_is_se": float(r1.evsi_is_se),
        "curve_optimal_n": int(opt.n_optimal),
        "curve_optimal_band": [int(opt.band_low), int(opt.band_high)],
        "curve_p_no_trial": float(opt.p_no_trial),
        "curve_optimal_enbs": float(opt.enbs),
        "curve_optimal_enbs_se": float(opt.enbs_se),
        "curve_optimal_evsi": float(opt.evsi),
        "curve_optimal_evsi_se": float(opt.evsi_se),
        "mf1001_evsi": float(mf1001.evsi),
        "mf1001_evsi_se": float(mf1001.evsi_se),
        "mf1001_evsi_population": float(mf1001.evsi_population),
        "mf1001_enbs": float(mf1001.enbs),
        "mf1001_enbs_se": float(mf1001.enbs_se),
        "mf1001_p_decision_change": float(mf1001.p_decision_change),
        "evpi_per_patient": float(out["curve"].evpi),
        "evppi_outcome_per_patient": float(out["curve"].evppi),
        "evppi_outcome_se": float(out["curve"].evppi_se),
        "curve": out["curve"].curve[["n_patients", "evsi", "evsi_se", "enbs", "enbs_se"]].round(2).to_dict("list"),
        "pools_wall_s": pools_wall,
        "pools_cpu_s": pools_cpu,
        "goal_one_design_30s_met_cpu": timings[0].cpu_median <= 30.0,
        "goal_curve_180s_met_cpu": timings[1].cpu_median <= 180.0,
        **timings[0].figures("one_design"),
        **timings[1].figures("enbs_curve_10_sizes"),
    }
    return rows, figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--skip-scenario", action="store_true", help="only the nested Monte Carlo comparison")
    args = p.parse_args(argv)
    h.pin_threads(args.threads)
    load_before = h.load()
    rows, figures = case_nested(args.repeats, args.seed)
    if not args.skip_scenario:
        more_rows, more = scenario_cases(args.draws, args.repeats)
        rows += more_rows
        figures.update(more)
    figures.update(load_before=load_before, load_after=h.load(), threads=h.thread_report())
    h.emit(["case", "EVSI", "SE", "wall s median [min-max]", "cpu s median"], rows, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
