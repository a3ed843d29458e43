"""Markov engine: the HIV textbook model to every printed digit, closed forms, slow twins, bad input."""

import numpy as np
import pytest

from mhtcdt.economics import Conventions, CostCategory, StateValues, incremental_analysis
from mhtcdt.economics.markov import (
    MarkovStrategy,
    UntilAliveBelow,
    entry_cost_matrix,
    expand_tunnel_states,
    probability_to_rate,
    rate_to_probability,
    rescale_probability,
    run_markov,
)
from mhtcdt.errors import InputError

from . import hiv_model


def _values(costs=0.0, utilities=0.0, **kw):
    return StateValues(costs=costs, utilities=utilities, costs_per="cycle", **kw)


def _run_hiv():
    data = hiv_model.load()
    conv = Conventions(
        discount_costs=data["discount_costs"],
        discount_effects=data["discount_life_years"],
        counting="end",
        discount_method="discrete",
        cycle_length=1,
        cycle_unit="years",
    )
    res = run_markov(
        data["states"], hiv_model.strategies(data), data["start"], conv, n_cycles=data["cycles"], dead_states=["D"]
    )
    return data, res


def test_hiv_model_reproduces_published_results_to_every_digit():
    """Briggs, Claxton & Sculpher (2006) exercise 2.5: costs to 7 decimals, life-years to 7, ICER to 5."""
    data, res = _run_hiv()
    df = res.results.set_index("strategy")
    for arm in ("monotherapy", "combination"):
        pub = data["results"][arm]
        assert abs(df.loc[arm, "cost"] - pub["cost"]) < 5e-8
        assert abs(df.loc[arm, "life_years"] - pub["life_years"]) < 5e-8
    inc = incremental_analysis(res.results, effect="life_years").set_index("strategy")
    assert abs(inc.loc["combination", "icer"] - data["results"]["icer_per_life_year"]) < 5e-6
    assert inc.loc["monotherapy", "status"] == "reference"


def test_hiv_traces_are_distributions_and_match_matrix_powers():
    data, res = _run_hiv()
    tr = res.traces["monotherapy"][0]
    np.testing.assert_allclose(tr.sum(axis=1), 1.0, atol=1e-12)
    p, _ = hiv_model.matrices(np.array(data["transition_counts"]), data["relative_risk"])
    np.testing.assert_allclose(tr[7], np.array(data["start"]) @ np.linalg.matrix_power(p, 7), rtol=1e-12)
    frame = res.trace_frame("combination")
    assert set(frame.columns) == {"cycle", "time_years", "state", "proportion"}
    assert len(frame) == 21 * 4


def test_two_state_geometric_closed_forms():
    """Alive -> dead with annual probability q: alive_t = (1 - q)^t, sums are geometric series."""
    q, n, r = 0.1, 30, 0.05
    p = np.array([[1 - q, q], [0, 1]])
    strat = [MarkovStrategy("x", p, _values([1000.0, 0.0], [0.7, 0.0]))]
    a = 1 - q
    for counting, first, last in (("end", 1, n), ("beginning", 0, n - 1)):
        conv = Conventions(discount_costs=r, discount_effects=0.0, counting=counting)
        res = run_markov(["alive", "dead"], strat, [1, 0], conv, n_cycles=n, dead_states=["dead"]).results
        t = np.arange(first, last + 1)
        assert res["life_years"].iloc[0] == pytest.approx(np.sum(a**t), rel=1e-13)
        assert res["cost"].iloc[0] == pytest.approx(1000 * np.sum(a**t / (1 + r) ** t), rel=1e-13)
        assert res["qalys"].iloc[0] == pytest.approx(0.7 * np.sum(a**t), rel=1e-13)
    # half-cycle correction: mean of beginning and end
    conv = Conventions(discount_costs=0.0, discount_effects=0.0, counting="life_table")
    res = run_markov(["alive", "dead"], strat, [1, 0], conv, n_cycles=n, dead_states=["dead"]).results
    assert res["life_years"].iloc[0] == pytest.approx(np.sum(a ** np.arange(1, n)) + 0.5 * (1 + a**n))


def test_monthly_cycles_convert_time_units():
    q_month = rescale_probability(0.2, 12.0, 1.0)
    p = np.array([[1 - q_month, q_month], [0, 1]])
    strat = [MarkovStrategy("x", p, _values(utilities=[1.0, 0.0]))]
    conv = Conventions(0, 0, counting="simpson", cycle_length=1, cycle_unit="months")
    res = run_markov(["alive", "dead"], strat, [1, 0], conv, n_cycles=120, dead_states=["dead"]).results
    # exact integral of exp(-h t), h = -ln(0.8) per year, over 10 years
    h = -np.log(0.8)
    assert res["life_years"].iloc[0] == pytest.approx((1 - np.exp(-10 * h)) / h, rel=1e-9)
    assert rate_to_probability(probability_to_rate(0.3, 2.0), 2.0) == pytest.approx(0.3)


def _time_varying_model(n_draws, n_cycles, seed=5):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    scale = rng.lognormal(0, 0.2, n_draws)
    ages = 60 + np.arange(1, n_cycles + 1)

    def p_of(cycle):
        mort = np.clip(1e-4 * np.exp(0.09 * ages[cycle - 1]) * scale, 0, 0.5)  # (D,)
        p = np.zeros((n_draws, 3, 3))
        p[:, 0, 1] = 0.1
        p[:, 0, 2] = mort
        p[:, 0, 0] = 1 - 0.1 - mort
        p[:, 1, 2] = np.minimum(2 * mort, 1)
        p[:, 1, 1] = 1 - p[:, 1, 2]
        p[:, 2, 2] = 1
        return p

    return p_of


def test_draws_match_a_plain_loop_over_draws():
    n_d, n = 7, 25
    p_of = _time_varying_model(n_d, n)
    costs = np.array([[500.0, 3000.0, 0.0]]) * np.linspace(1, 2, n_d)[:, None]
    strat = [MarkovStrategy("tv", p_of, _values(costs[:, None, :], [0.9, 0.5, 0]))]
    trapezoid = Conventions(counting="trapezoid")
    res = run_markov(["well", "sick", "dead"], strat, [1, 0, 0], trapezoid, n_cycles=n, dead_states=["dead"])
    for d in range(n_d):  # slow twin: explicit per-draw loop, plain python sums
        x = np.array([1.0, 0, 0])
        pts = [x]
        for c in range(1, n + 1):
            x = x @ p_of(c)[d]
            pts.append(x)
        w = np.ones(n + 1)
        w[0] = w[-1] = 0.5
        disc = 1.035 ** -np.arange(n + 1)
        cost = sum(w[t] * disc[t] * pts[t] @ costs[d] for t in range(n + 1))
        qaly = sum(w[t] * disc[t] * pts[t] @ np.array([0.9, 0.5, 0]) for t in range(n + 1))
        assert res.draws.cost[d, 0] == pytest.approx(cost, rel=1e-12)
        assert res.draws.qalys[d, 0] == pytest.approx(qaly, rel=1e-12)
    # per-cycle array gives the same as the callable
    arr = np.stack([p_of(c) for c in range(1, n + 1)], axis=1)  # (D, C, S, S)
    strat2 = [MarkovStrategy("tv", arr, _values(costs[:, None, :], [0.9, 0.5, 0]), per_cycle=True, draws=True)]
    res2 = run_markov(["well", "sick", "dead"], strat2, [1, 0, 0], trapezoid, n_cycles=n, dead_states=["dead"])
    np.testing.assert_allclose(res2.draws.cost, res.draws.cost, rtol=1e-13)


def test_transition_end_of_life_and_one_off_costs():
    p = np.array([[0.8, 0.15, 0.05], [0.0, 0.9, 0.1], [0, 0, 1]])
    tc = np.zeros((3, 3))
    tc[0, 1] = 5000.0  # cost of progression, on entry into "sick"
    strat = [MarkovStrategy("x", p, StateValues(transition_costs=tc, one_off_cost=20000.0, end_of_life_cost=700.0))]
    conv = Conventions(discount_costs=0.04, counting="end")
    res = run_markov(["well", "sick", "dead"], strat, [1, 0, 0], conv, n_cycles=10, dead_states=["dead"]).results
    well = 0.8 ** np.arange(10)  # share in "well" before transition t = 1..10
    sick = np.array([np.linalg.matrix_power(p, t)[0, 1] for t in range(10)])  # share in "sick" before it
    disc = 1.04 ** -np.arange(1, 11)
    transitions = np.sum(5000 * 0.15 * well * disc)
    deaths = np.sum(700 * (0.05 * well + 0.1 * sick) * disc)
    assert res["cost"].iloc[0] == pytest.approx(20000 + transitions + deaths, rel=1e-13)
    assert res["cost_transitions"].iloc[0] == pytest.approx(transitions, rel=1e-13)
    assert res["cost_end_of_life"].iloc[0] == pytest.approx(deaths, rel=1e-13)
    assert res["cost_one_off"].iloc[0] == 20000.0
    # end-of-life costs are transition costs into the dead state
    entry = StateValues(transition_costs=tc + entry_cost_matrix(["well", "sick", "dead"], {"dead": 700.0}))
    same = run_markov(
        ["well", "sick", "dead"], [MarkovStrategy("x", p, entry)], [1, 0, 0], conv, n_cycles=10, dead_states=["dead"]
    ).results
    assert same["cost"].iloc[0] == pytest.approx(transitions + deaths, rel=1e-13)


def test_tunnel_states_equal_an_explicit_model():
    # "sick" has a tunnel of 2: first cycle after onset risk of death 0.3, afterwards 0.1
    p = np.array([[0.85, 0.1, 0.05], [0.0, 0.9, 0.1], [0, 0, 1]])
    rows = np.array([[0.0, 0.7, 0.3], [0.0, 0.9, 0.1]])
    names, pt = expand_tunnel_states(["well", "sick", "dead"], p, "sick", 2, position_rows=rows)
    assert names == ["well", "sick#1", "sick#2", "dead"]
    explicit = np.array(
        [
            [0.85, 0.1, 0.0, 0.05],
            [0.0, 0.0, 0.7, 0.3],
            [0.0, 0.0, 0.9, 0.1],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    np.testing.assert_allclose(pt, explicit)
    names1, pt1 = expand_tunnel_states(["well", "sick", "dead"], p, "sick", 3)
    # without position rows the chain is lumpable back to the original model
    x = np.array([1.0, 0, 0, 0, 0]) @ np.linalg.matrix_power(pt1, 6)
    y = np.array([1.0, 0, 0]) @ np.linalg.matrix_power(p, 6)
    np.testing.assert_allclose([x[0], x[1:4].sum(), x[4]], y, rtol=1e-12)


def test_run_until_dead():
    p = np.array([[0.7, 0.3], [0, 1]])
    res = run_markov(
        ["alive", "dead"],
        [MarkovStrategy("x", p, _values(utilities=[1, 0]))],
        [1, 0],
        Conventions(discount_effects=0, counting="end"),
        until_alive_below=UntilAliveBelow(1e-6),
        dead_states=["dead"],
    )
    n = res.draws.attrs["n_cycles"]
    assert 0.7**n < 1e-6 <= 0.7 ** (n - 1)
    assert res.results["life_years"].iloc[0] == pytest.approx(0.7 / 0.3, rel=1e-5)


@pytest.mark.parametrize(
    "transitions, kwargs, field",
    [
        (np.array([[0.9, 0.2], [0, 1]]), {}, "strategies[x].transitions"),
        (np.array([[1.1, -0.1], [0, 1]]), {}, "strategies[x].transitions"),
        (np.array([[0.9, 0.1], [0, 1]]), {"dead_states": ["gone"]}, "dead_states"),
        (np.array([[0.9, 0.1], [0, 1]]), {"n_cycles": 0}, "n_cycles"),
        (np.array([[0.9, 0.1], [0, 1]]), {"n_cycles": 0.5}, "n_cycles"),
    ],
)
def test_bad_input(transitions, kwargs, field):
    opts = dict(n_cycles=5, dead_states=["dead"])
    opts.update(kwargs)
    with pytest.raises(InputError) as err:
        run_markov(["alive", "dead"], [MarkovStrategy("x", transitions, _values(utilities=[1, 0]))], [1, 0], **opts)
    assert err.value.field.startswith(field)


def test_row_sum_error_names_row_and_value():
    with pytest.raises(InputError, match=r"row 'alive' sums to 1.1") as err:
        run_markov(
            ["alive", "dead"],
            [MarkovStrategy("x", np.array([[0.9, 0.2], [0, 1]]))],
            [1, 0],
            n_cycles=3,
            dead_states=["dead"],
        )
    assert err.value.value == pytest.approx(1.1)


def test_bad_rewards():
    p = np.array([[0.9, 0.1], [0, 1]])
    with pytest.raises(InputError, match="exceed 1"):
        _values(utilities=[1.2, 0])
    with pytest.raises(InputError, match=">= 0"):
        _values(costs=[-3, 0])
    with pytest.raises(InputError, match="broadcast") as err:
        run_markov(
            ["alive", "dead"],
            [MarkovStrategy("x", p, _values(costs=[1, 2, 3]))],
            [1, 0],
            n_cycles=3,
            dead_states=["dead"],
        )
    assert err.value.field == "strategies[x].values.costs"


def test_hiv_psa_vectorised_equals_per_draw_runs():
    """The HIV model's PSA (Dirichlet rows, lognormal RR, gamma costs) run for all draws at once
    equals the deterministic engine run draw by draw; the mean is near the deterministic result."""
    from mhtcdt.economics.psa import Gamma, LogNormal, dirichlet_matrix, sample_psa

    data = hiv_model.load()
    counts = np.array(data["transition_counts"], float)
    dists = {f"row{i}": d for i, d in enumerate(dirichlet_matrix(counts[:3]))}
    dists["rr"] = LogNormal.from_ci(0.509, 0.365, 0.710)
    base = np.array(data["direct_medical"]) + np.array(data["community"])
    for i in range(3):
        dists[f"cost{i}"] = Gamma(base[i], 0.2 * base[i])
    n = 40
    s = sample_psa(dists, n, seed=12)
    p = np.zeros((n, 4, 4))
    for i in range(3):
        p[:, i] = s[f"row{i}"]
    p[:, 3, 3] = 1.0
    p_mono, p_comb = hiv_model.matrices(p, s["rr"])
    costs = np.column_stack([s[f"cost{i}"] for i in range(3)])
    conv = Conventions(discount_costs=0.06, discount_effects=0.0, counting="end")
    opts = dict(n_cycles=20, dead_states=["D"])
    res = run_markov(
        data["states"], hiv_model.strategies(data, p_mono, p_comb, costs, draws=True), data["start"], conv, **opts
    )
    for d in (0, 17, 39):
        single = run_markov(
            data["states"], hiv_model.strategies(data, p_mono[d], p_comb[d], costs[d]), data["start"], conv, **opts
        ).results
        np.testing.assert_allclose(res.draws.cost[d], single["cost"], rtol=1e-12)
        np.testing.assert_allclose(res.draws.life_years[d], single["life_years"], rtol=1e-12)
    assert res.draws.cost.shape == (n, 2)
    assert abs(res.draws.life_years[:, 0].mean() - data["results"]["monotherapy"]["life_years"]) < 0.3


def test_time_and_draw_varying_costs():
    p = np.array([[0.9, 0.1], [0.0, 1.0]])
    rng = np.random.default_rng(np.random.SeedSequence(8))
    costs = rng.uniform(0, 100, size=(3, 6, 2))  # (D, n+1, S)
    strat = [MarkovStrategy("x", p, _values(costs))]
    conv = Conventions(discount_costs=0.05, counting="beginning")
    res = run_markov(["alive", "dead"], strat, [1, 0], conv, n_cycles=5, dead_states=["dead"])
    alive = 0.9 ** np.arange(6)
    for d in range(3):
        expected = sum((alive[t] * costs[d, t, 0] + (1 - alive[t]) * costs[d, t, 1]) / 1.05**t for t in range(5))
        assert res.draws.cost[d, 0] == pytest.approx(expected, rel=1e-13)


def test_cycle_zero_option():
    p = np.array([[0.8, 0.2], [0.0, 1.0]])
    strat = [MarkovStrategy("x", p, _values([100.0, 0.0], [1, 0]))]
    kw = dict(n_cycles=4, dead_states=["dead"])
    skip = run_markov(["alive", "dead"], strat, [1, 0], Conventions(0.0, 0.0, counting="end"), **kw).results
    conv = Conventions(0.0, 0.0, counting="end", cycle_zero="count")
    count = run_markov(["alive", "dead"], strat, [1, 0], conv, **kw).results
    assert count["cost"].iloc[0] - skip["cost"].iloc[0] == pytest.approx(100.0)
    assert count["life_years"].iloc[0] == pytest.approx(sum(0.8**t for t in range(5)))
    with pytest.raises(InputError):
        Conventions(cycle_zero="half")


def test_cost_category_with_its_own_counting():
    p = np.array([[0.8, 0.2], [0.0, 1.0]])
    drug = np.array([300.0, 0.0])
    care = np.array([100.0, 0.0])
    kw = dict(n_cycles=6, dead_states=["dead"])
    conv = Conventions(discount_costs=0.04, counting="life_table")
    mixed = run_markov(
        ["alive", "dead"],
        [MarkovStrategy("x", p, _values({"drug": CostCategory(drug, "beginning"), "care": care}))],
        [1, 0],
        conv,
        **kw,
    ).results
    beginning = Conventions(discount_costs=0.04, counting="beginning")
    drug_only = run_markov(["alive", "dead"], [MarkovStrategy("x", p, _values(drug))], [1, 0], beginning, **kw).results
    care_only = run_markov(["alive", "dead"], [MarkovStrategy("x", p, _values(care))], [1, 0], conv, **kw).results
    assert mixed["cost_drug"].iloc[0] == pytest.approx(drug_only["cost"].iloc[0], rel=1e-13)
    assert mixed["cost"].iloc[0] == pytest.approx(drug_only["cost"].iloc[0] + care_only["cost"].iloc[0], rel=1e-13)
    alive = 0.8 ** np.arange(6)
    assert drug_only["cost"].iloc[0] == pytest.approx(np.sum(300 * alive / 1.04 ** np.arange(6)), rel=1e-13)


def test_matrix_changed_in_place_by_a_transition_function_is_rejected():
    """A transition function that returns the same array object every cycle, modified in place, is
    checked every cycle: the row of 'alive' summing to 1.5 at cycle 3 is an InputError naming the
    cycle (it used to be accepted, and the trace then no longer summed to 1)."""
    p = np.array([[0.9, 0.1], [0.0, 1.0]])

    def transitions(cycle):
        p[0, 0] = 1.4 if cycle == 3 else 0.9
        return p

    with pytest.raises(InputError, match="sums to 1.5") as err:
        run_markov(
            ["alive", "dead"],
            [MarkovStrategy("x", transitions, _values(utilities=[1, 0]))],
            [1, 0],
            n_cycles=5,
            dead_states=["dead"],
        )
    assert "cycle=3" in err.value.field


def test_same_array_object_every_cycle_is_still_accepted_when_valid():
    """Returning one (valid) matrix object for several cycles gives the time-homogeneous result."""
    p = np.array([[0.9, 0.1], [0.0, 1.0]])
    kw = dict(n_cycles=6, dead_states=["dead"])
    conv = Conventions(counting="end", discount_effects=0.0)
    a = run_markov(["alive", "dead"], [MarkovStrategy("x", lambda c: p, _values(utilities=[1, 0]))], [1, 0], conv, **kw)
    b = run_markov(["alive", "dead"], [MarkovStrategy("x", p, _values(utilities=[1, 0]))], [1, 0], conv, **kw)
    expected = sum(0.9**t for t in range(1, 7))
    assert a.results["life_years"].iloc[0] == b.results["life_years"].iloc[0] == pytest.approx(expected)


def test_trace_that_does_not_sum_to_one_is_rejected(monkeypatch):
    """Second line of defence: were a matrix to slip past the checks, the trace check still refuses a
    cohort that no longer sums to 1 (simulated by switching the matrix check off)."""
    from mhtcdt.economics import markov_trace

    monkeypatch.setattr(markov_trace, "check_transition_matrices", lambda value, *a, **k: np.asarray(value, float))
    bad = np.array([[0.9, 0.6], [0.0, 1.0]])
    with pytest.raises(InputError, match="sums to 1.5") as err:
        run_markov(["alive", "dead"], [MarkovStrategy("x", bad)], [1, 0], n_cycles=3, dead_states=["dead"])
    assert err.value.field == "strategies[x].trace[cycle=1, draw=0]"


def test_trace_error_inside_a_chunk_is_named_at_its_first_cycle(monkeypatch):
    """The trace is tested at the last point of each chunk of points (the cohort's size is invariant under
    valid matrices, so an earlier error carries to it); the message still names the first bad cycle, here
    cycle 3 of a chunk of 8 points, where the other cycles' matrices are valid."""
    from mhtcdt.economics import markov_trace

    monkeypatch.setattr(markov_trace, "check_transition_matrices", lambda value, *a, **k: np.asarray(value, float))
    good = np.array([[0.9, 0.1], [0.0, 1.0]])
    bad = np.array([[0.9, 0.05], [0.0, 1.0]])  # loses 5 % of the alive
    per_cycle = [good, good, bad, good, good, good, good]
    with pytest.raises(InputError, match="not 1") as err:
        run_markov(
            ["alive", "dead"],
            [MarkovStrategy("x", per_cycle, per_cycle=True)],
            [1, 0],
            n_cycles=7,
            dead_states=["dead"],
        )
    assert err.value.field == "strategies[x].trace[cycle=3, draw=0]"


@pytest.mark.parametrize("per_draw", [False, True])
def test_one_buffer_refilled_every_cycle_equals_fresh_matrices(per_draw):
    """A transition function that refills one buffer in place with valid, changing matrices (seen again
    by identity) gives exactly the result of one returning a new array each cycle: changed contents are
    never mistaken for the matrices checked and transposed before."""
    n_d, n = 6, 15
    scale = np.linspace(0.5, 1.5, n_d)[:, None] if per_draw else np.array([[1.0]])

    def fresh(cycle):
        q = np.minimum(0.02 * cycle * scale[:, 0], 0.9)  # (D,) or (1,)
        p = np.zeros((q.size, 3, 3))
        p[:, 0, 1], p[:, 0, 2] = 0.1, q * 0.5
        p[:, 0, 0] = 1 - 0.1 - q * 0.5
        p[:, 1, 2] = q
        p[:, 1, 1] = 1 - q
        p[:, 2, 2] = 1.0
        return p if per_draw else p[0]

    buffer = np.empty_like(fresh(1))

    def refilled(cycle):
        buffer[...] = fresh(1 + (cycle - 1) // 3)  # the same contents for 3 cycles, then new ones
        return buffer

    def stepped(cycle):
        return fresh(1 + (cycle - 1) // 3).copy()

    kw = dict(n_cycles=n, dead_states=["dead"])
    values = _values([100.0, 300.0, 0.0], [0.9, 0.5, 0.0])
    a = run_markov(["a", "b", "dead"], [MarkovStrategy("x", refilled, values)], [1, 0, 0], **kw)
    b = run_markov(["a", "b", "dead"], [MarkovStrategy("x", stepped, values)], [1, 0, 0], **kw)
    np.testing.assert_array_equal(a.traces["x"], b.traces["x"])
    np.testing.assert_array_equal(a.draws.cost, b.draws.cost)
    assert a.draws.cost.shape == ((n_d, 1) if per_draw else (1, 1))


def test_conventions_from_a_jurisdiction_and_in_the_results():
    nice = Conventions.for_jurisdiction("nice", counting="end")
    assert (nice.discount_costs, nice.discount_effects, nice.currency) == (0.035, 0.035, "GBP")
    nl = Conventions.for_jurisdiction("netherlands", discount_costs=0.04)
    assert (nl.discount_costs, nl.discount_effects, nl.currency) == (0.04, 0.015, "EUR")
    p = np.array([[0.9, 0.1], [0.0, 1.0]])
    res = run_markov(["alive", "dead"], [MarkovStrategy("x", p, _values(utilities=[1, 0]))], [1, 0], nl, n_cycles=4)
    assert res.results.attrs["currency"] == "EUR" and res.results.attrs["discount_effects"] == 0.015
    assert res.results["qalys"].iloc[0] == pytest.approx(
        sum(0.9**t * 1.015**-t * (0.5 if t in (0, 4) else 1.0) for t in range(5))
    )
    with pytest.raises(InputError):
        Conventions.for_jurisdiction("atlantis")


def test_cost_units_in_a_markov_model():
    """Costs per year, per month or per cycle are the same costs by the unit rule (monthly cycles)."""
    p = np.array([[0.98, 0.02], [0.0, 1.0]])
    conv = Conventions(discount_costs=0.03, cycle_length=1, cycle_unit="months")
    kw = dict(n_cycles=24, dead_states=["dead"])
    per_cycle = run_markov(["a", "dead"], [MarkovStrategy("x", p, _values([100.0, 0.0]))], [1, 0], conv, **kw)
    for unit, value in (("months", 100.0), ("years", 1200.0), ("days", 100.0 * 12 / 365.25)):
        values = StateValues([value, 0.0], costs_per=unit)
        other = run_markov(["a", "dead"], [MarkovStrategy("x", p, values)], [1, 0], conv, **kw)
        assert other.results["cost"].iloc[0] == pytest.approx(per_cycle.results["cost"].iloc[0], rel=1e-12)
    with pytest.raises(InputError, match="per"):
        StateValues([100.0, 0.0])  # no unit: refused


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"share": 0.0}, "until_alive_below.share"), ({"share": 1e-4, "max_cycles": 0}, "until_alive_below.max_cycles")],
)
def test_open_horizon_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(InputError) as err:
        UntilAliveBelow(**kwargs)
    assert err.value.field == field


def test_open_horizon_stops_at_its_max_cycles():
    p = np.array([[0.99, 0.01], [0, 1]])
    with pytest.raises(InputError) as err:
        run_markov(
            ["alive", "dead"],
            [MarkovStrategy("x", p, _values(utilities=[1, 0]))],
            [1, 0],
            until_alive_below=UntilAliveBelow(1e-6, max_cycles=10),
            dead_states=["dead"],
        )
    assert err.value.field == "max_cycles"
