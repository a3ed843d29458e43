"""Independent-method oracles for the engines (second methods, not published numbers).

* Markov engine vs the continuous-time closed form: for a chain with generator Q, the discounted
  expected time in each transient state is x0 (rI - Q_TT)^-1 (fundamental matrix); monthly cycles
  with P = expm(Q / 12), Simpson counting and continuous discounting must converge to it.
* Incremental analysis vs net monetary benefit: a strategy is on the efficient frontier iff it
  maximises NMB for some willingness to pay, and the ICERs are exactly the wtp switch points.
* EVPPI regression vs a one-dimensional quadrature of the exact conditional expectation.

No published textbook model other than the HIV model (test_markov.py) is reproduced here: the
author was not certain of every printed digit of other published examples, so these structural
oracles stand in for them (as the issue allows).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.linalg import expm

from mhtcdt.economics import Conventions, MarkovStrategy, StateValues, evppi, incremental_analysis, run_markov


def test_markov_engine_matches_continuous_time_fundamental_matrix():
    # well -> mild -> severe -> dead with recovery mild -> well; rates per year
    q = np.array(
        [
            [-0.35, 0.30, 0.00, 0.05],
            [0.20, -0.60, 0.30, 0.10],
            [0.00, 0.00, -0.80, 0.80],
            [0.00, 0.00, 0.00, 0.00],
        ]
    )
    p_month = expm(q / 12.0)
    cost_per_year = np.array([500.0, 4000.0, 20000.0, 0.0])
    utility = np.array([0.9, 0.7, 0.4, 0.0])
    r = 0.03  # continuous rate
    # costs given per year: the engine converts them to per cycle (x 1/12) by the unit rule
    strat = [MarkovStrategy("ctmc", p_month, StateValues(cost_per_year, utility, costs_per="years"))]
    monthly = dict(cycle_length=1, cycle_unit="months", discount_costs=r, discount_effects=r)
    res = run_markov(
        ["well", "mild", "severe", "dead"],
        strat,
        [1, 0, 0, 0],
        Conventions(counting="simpson", discount_method="continuous", **monthly),
        n_cycles=12 * 200,
        dead_states=["dead"],
    ).results
    qtt = q[:3, :3]
    x0 = np.array([1.0, 0, 0])
    time_disc = x0 @ np.linalg.inv(r * np.eye(3) - qtt)
    time_undisc = x0 @ np.linalg.inv(-qtt)
    # composite Simpson error with h = 1/12 year and rates <= 0.8/year is O(h^4 rate^4 / 180) ~ 1e-8
    assert res["life_years"].iloc[0] == pytest.approx(time_disc.sum(), rel=1e-7)
    assert res["life_years_undiscounted"].iloc[0] == pytest.approx(time_undisc.sum(), rel=1e-7)
    assert res["cost"].iloc[0] == pytest.approx(time_disc @ cost_per_year[:3], rel=1e-7)
    assert res["qalys"].iloc[0] == pytest.approx(time_disc @ utility[:3], rel=1e-7)
    # the trapezoid (half-cycle) rule is O(h^2): a visibly larger but still small error
    trap = run_markov(
        ["well", "mild", "severe", "dead"],
        strat,
        [1, 0, 0, 0],
        Conventions(counting="trapezoid", discount_method="continuous", **monthly),
        n_cycles=12 * 200,
        dead_states=["dead"],
    ).results
    err_trap = abs(trap["life_years"].iloc[0] - time_disc.sum())
    assert 1e-6 < err_trap < 1e-3


@pytest.mark.parametrize("seed", range(10))
def test_frontier_equals_nmb_maximisers(seed):
    rng = np.random.default_rng(np.random.SeedSequence(100 + seed))
    n = int(rng.integers(4, 9))
    e = rng.uniform(1, 3, n)
    c = 5000 + 25000 * e + rng.normal(0, 12000, n)
    out = incremental_analysis(pd.DataFrame({"strategy": [f"s{i}" for i in range(n)], "cost": c, "qalys": e}))
    frontier = out[out["status"].isin(["reference", "non-dominated"])]
    wtp = np.linspace(0, 5e5, 200_001)
    winners = np.argmax(wtp[:, None] * e[None, :] - c[None, :], axis=1)
    assert {f"s{i}" for i in np.unique(winners)} <= set(frontier["strategy"])
    # each ICER is the wtp at which the NMB-maximiser switches to that strategy
    for _, row in frontier.iloc[1:].iterrows():
        if row["icer"] >= 5e5:
            continue
        k = int(row["strategy"][1:])
        first_win = wtp[np.argmax(winners == k)]
        assert first_win == pytest.approx(row["icer"], abs=5.0)


def test_evppi_nonlinear_matches_quadrature():
    # INB = 1000 (phi^2 - 1) + 800 psi, phi, psi ~ N(0, 1): E[INB | phi] = 1000 (phi^2 - 1),
    # EVPPI(phi) = E[max(1000 (phi^2 - 1), 0)] - max(E[INB], 0) = 1000 E[(phi^2 - 1)+]
    n = 10_000
    rng = np.random.default_rng(np.random.SeedSequence(21))
    phi = rng.standard_normal(n)
    psi = rng.standard_normal(n)
    inb = 1000 * (phi**2 - 1) + 800 * psi
    cost = np.column_stack([np.zeros(n), -inb])
    effect = np.zeros((n, 2))
    exact = 1000 * 2 * integrate.quad(lambda x: (x * x - 1) * stats.norm.pdf(x), 1, np.inf)[0]
    res = evppi(cost, effect, phi, 0.0)
    # sampling error of the sample mean of the same functional, plus 3 regression SEs
    sample_sd = np.std(np.maximum(1000 * (phi**2 - 1), 0)) / np.sqrt(n)
    tol = 3 * (res["evppi_se"].iloc[0] + sample_sd) + 3 * abs(inb.mean())
    assert res["evppi"].iloc[0] == pytest.approx(exact, abs=tol)
    assert res["evppi"].iloc[0] <= res["evpi"].iloc[0]
