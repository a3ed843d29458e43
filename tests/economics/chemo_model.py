"""The chemotherapy side-effects model of Heath, Kunst & Jackson (eds.), *Value of Information for
Healthcare Decision-Making*, CRC 2024 (chapter 3 case study; the running example of the R package
``voi``; doi:10.1201/9781003156109), re-implemented from its public specification for the
published-EVPI oracle (``test_published_evpi.py``).

Specification read from (nothing copied; the numbers are facts of the specification):

* structure and formulas: repository github.com/convoigroup/Chemotherapy_Book,
  ``03_R/02_model_functions.R`` (identical in the voi package, ``R/model_chemo_source.R``);
* assumed distribution parameters: same repository, ``02_data/02_Assumption_Inputs.R``;
* the trial counts: same repository, ``01_data_raw/Side_Effects_SC.csv`` (one row per patient:
  111 patients, 52 with side effects, 43 of those hospitalised, 8 of those died).

Model (per patient starting chemotherapy; strategies "SoC" and "Novel"; no discounting):

* side effects with probability p1 (SoC) and p2 = odds^-1(odds(p1) exp(logOR)) (Novel);
* patients with side effects enter a weekly 4-state Markov model (home care, hospital,
  recovered, dead) for 52 weekly transitions: home -> hospital q_h = 1 - (1 - P_hosp)^(1/52),
  home -> recovered lambda_home (1 - q_h), hospital -> dead q_d = 1 - (1 - P_died)^(1/52),
  hospital -> recovered lambda_hosp (1 - q_d), recovered -> dead 1 - exp(-r / 52) with r the
  long-term death rate per year;
* side-effect costs: sum over the 53 trace points t = 0..52 of occupancy x state cost (home
  care, hospital; costs given per year) / 52, plus the one-off cost of death x (dead at week
  52) / 52 (the specification divides this term by 52 as well);
* side-effect QALYs: sum over the 53 points of occupancy x utility / 52; patients without side
  effects get u_recovery x 53/52;
* long term: everyone alive at week 52 (1 - p x dead share) gets
  u_home_care x integral_2^40 exp(-r x) dx = u_home_care (e^{-2r} - e^{-40r}) / r QALYs and the
  cost of death x P(T < 38 years) = (1 - e^{-38 r});
* drug costs: 120 (SoC), 1975 (Novel), in GBP.

The Markov part runs through :func:`mhtcdt.economics.run_markov` (one run per draw, vectorised
over draws; it is linear in the starting occupancy, so one run from "home care" scaled by p1 or
p2 gives both strategies).
"""

from __future__ import annotations

import numpy as np

from mhtcdt.economics import (
    Beta,
    Conventions,
    Gamma,
    LogNormal,
    MarkovStrategy,
    Normal,
    StateValues,
    entry_cost_matrix,
    run_markov,
    sample_psa,
)

STATES = ("home_care", "hospital", "recovered", "dead")
STRATEGIES = ("SoC", "Novel")

# Side_Effects_SC.csv (Chemotherapy_Book/01_data_raw): counts of the standard-of-care cohort
N_PATIENTS = 111
N_SIDE_EFFECTS = 52
N_HOSPITALISED = 43
N_DIED = 8
# 02_data/02_Assumption_Inputs.R
HORIZON_WEEKS = 52
HORIZON_LONGTERM_YEARS = 40
DRUG_COST_GBP = (120.0, 1975.0)
WEEKS_PER_YEAR = 52.0  # the specification's conversion (1/52 year per weekly cycle)


def distributions() -> dict:
    """The 13 sampled parameters as mhtcdt PSA distributions (p2 is derived, see module doc).

    Beta(1 + events, 1 + non-events) for the counts (uniform prior updated by the trial),
    method-of-moments Beta/Gamma and a log-normal matched to the natural-scale mean and sd
    for the assumed inputs, normal log odds ratio (mean log 0.54, sd 0.3)."""
    return {
        "p_side_effects_t1": Beta.from_counts(1 + N_SIDE_EFFECTS, 2 + N_PATIENTS),
        "logor_side_effects": Normal(float(np.log(0.54)), 0.3),
        "p_hospitalised_total": Beta.from_counts(1 + N_HOSPITALISED, 2 + N_SIDE_EFFECTS),
        "p_died": Beta.from_counts(1 + N_DIED, 2 + N_HOSPITALISED),
        "lambda_home": Beta(0.21, 0.03),
        "lambda_hosp": Beta(0.03, 0.0065),
        "c_home_care": LogNormal.from_mean_sd(830.0, float(np.sqrt(150.0))),
        "c_hospital": LogNormal.from_mean_sd(2400.0, float(np.sqrt(1880.0))),
        "c_death": LogNormal.from_mean_sd(1710.0, float(np.sqrt(760.0))),
        "u_recovery": Beta(0.98, float(np.sqrt(0.0008))),
        "u_home_care": Beta(0.7, float(np.sqrt(0.02))),
        "u_hospital": Beta(0.3, float(np.sqrt(0.03))),
        "rate_longterm": Gamma(0.95 / 20.0, float(np.sqrt(0.001))),
    }


def p_side_effects_novel(p1: np.ndarray, logor: np.ndarray) -> np.ndarray:
    """p2 from p1 and the log odds ratio: odds2 = odds1 exp(logor), p2 = odds2 / (1 + odds2)."""
    odds2 = p1 / (1.0 - p1) * np.exp(logor)
    return odds2 / (1.0 + odds2)


def sample_parameters(n_draws: int, seed: int, start: int = 0) -> dict[str, np.ndarray]:
    """Draws ``start .. start + n_draws - 1`` (chunk-independent), plus the derived p2."""
    params = sample_psa(distributions(), n_draws, seed, start=start)
    params["p_side_effects_t2"] = p_side_effects_novel(params["p_side_effects_t1"], params["logor_side_effects"])
    return params


def _weekly_matrices(pr: dict[str, np.ndarray]) -> np.ndarray:
    """Per-draw weekly transition matrices (D, 4, 4) in the order of ``STATES``."""
    q_hosp = 1.0 - (1.0 - pr["p_hospitalised_total"]) ** (1.0 / HORIZON_WEEKS)
    q_dead = 1.0 - (1.0 - pr["p_died"]) ** (1.0 / HORIZON_WEEKS)
    q_long = -np.expm1(-pr["rate_longterm"] / WEEKS_PER_YEAR)
    lam_home, lam_hosp = pr["lambda_home"], pr["lambda_hosp"]
    m = np.zeros((q_hosp.size, 4, 4))
    m[:, 0, 0] = (1.0 - lam_home) * (1.0 - q_hosp)
    m[:, 0, 1] = q_hosp
    m[:, 0, 2] = lam_home * (1.0 - q_hosp)
    m[:, 1, 1] = (1.0 - lam_hosp) * (1.0 - q_dead)
    m[:, 1, 2] = lam_hosp * (1.0 - q_dead)
    m[:, 1, 3] = q_dead
    m[:, 2, 2] = 1.0 - q_long
    m[:, 2, 3] = q_long
    m[:, 3, 3] = 1.0
    return m


def side_effect_course(pr: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient WITH side effects: (cost, QALYs, share dead at week 52), each (D,).

    One :func:`run_markov` call over all draws: cycle 1/52 year, every one of the 53 trace points
    weighted by one cycle (custom counting weights), no discounting; state costs per cycle =
    annual cost / 52; the cost of death / 52 charged on entry into "dead"."""
    n = pr["p_side_effects_t1"].size
    zeros = np.zeros(n)
    state_costs = np.stack([pr["c_home_care"], pr["c_hospital"], zeros, zeros], axis=-1) / WEEKS_PER_YEAR
    utilities = np.stack([pr["u_home_care"], pr["u_hospital"], pr["u_recovery"], zeros], axis=-1)
    death_entry = entry_cost_matrix(STATES, {"dead": 1.0})[None] * (pr["c_death"] / WEEKS_PER_YEAR)[:, None, None]
    values = StateValues(
        costs=state_costs[:, None, :], costs_per="cycle", utilities=utilities[:, None, :], transition_costs=death_entry
    )
    strategy = MarkovStrategy("side_effects", _weekly_matrices(pr), values, draws=True)
    weekly = Conventions(
        discount_costs=0.0,
        discount_effects=0.0,
        counting=np.ones(HORIZON_WEEKS + 1),
        cycle_length=1.0 / WEEKS_PER_YEAR,
        cycle_unit="years",
    )
    res = run_markov(STATES, [strategy], [1.0, 0.0, 0.0, 0.0], weekly, n_cycles=HORIZON_WEEKS)
    dead_share = res.traces["side_effects"][:, -1, STATES.index("dead")]
    return res.draws.cost[:, 0], res.draws.qalys[:, 0], dead_share


def costs_effects(pr: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Total cost (GBP) and QALYs per patient, arrays (D, 2) for ("SoC", "Novel")."""
    se_cost, se_qalys, dead_share = side_effect_course(pr)
    p = np.stack([pr["p_side_effects_t1"], pr["p_side_effects_t2"]], axis=-1)  # (D, 2)
    rate = pr["rate_longterm"][:, None]
    alive_week52 = 1.0 - p * dead_share[:, None]
    t0, t1 = 2.0, float(HORIZON_LONGTERM_YEARS)
    longterm_qalys = pr["u_home_care"][:, None] * (np.exp(-rate * t0) - np.exp(-rate * t1)) / rate
    longterm_death_cost = -np.expm1(-rate * (t1 - t0)) * pr["c_death"][:, None]
    no_se_qalys = (1.0 - p) * pr["u_recovery"][:, None] * (HORIZON_WEEKS + 1) / WEEKS_PER_YEAR
    cost = np.asarray(DRUG_COST_GBP)[None] + p * se_cost[:, None] + alive_week52 * longterm_death_cost
    effect = p * se_qalys[:, None] + no_se_qalys + alive_week52 * longterm_qalys
    return cost, effect


def run_psa(n_draws: int, seed: int, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Sample and evaluate ``n_draws`` draws in chunks (chunk-independent draws): cost, effect
    (D, 2) and the parameter draws (including p2)."""
    costs, effects, params = [], [], []
    for first in range(0, n_draws, chunk):
        pr = sample_parameters(min(chunk, n_draws - first), seed, start=first)
        c, e = costs_effects(pr)
        costs.append(c)
        effects.append(e)
        params.append(pr)
    merged = {k: np.concatenate([p[k] for p in params]) for k in params[0]}
    return np.concatenate(costs), np.concatenate(effects), merged
