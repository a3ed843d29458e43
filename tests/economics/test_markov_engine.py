"""The Markov engine's forms of transition input give one result (issue 18): draws-last matrices and per-cycle
lists against draws-first arrays and a transition function; a function that builds new matrices every cycle
is streamed with at most one cycle of them alive; checks name the draw and cycle of a bad matrix wherever it
is checked; an array shared by strategies is checked once."""

import gc
import weakref

import numpy as np
import pytest

from mhtcdt.economics import (
    Conventions,
    LogNormal,
    MarkovStrategy,
    StateValues,
    UntilAliveBelow,
    dirichlet_matrix,
    markov_trace,
    run_markov,
    sample_psa,
)
from mhtcdt.errors import InputError

from . import hiv_model

RTOL = 1e-12


def _hiv_inputs(n: int, seed: int = 11):
    """Draws-first monotherapy and combination matrices (D, S, S), care costs (D, 1, S), the data."""
    data = hiv_model.load()
    counts = np.array(data["transition_counts"], float)
    dists = {f"row{i}": d for i, d in enumerate(dirichlet_matrix(counts[:3]))}
    dists["rr"] = LogNormal.from_ci(0.509, 0.365, 0.710)
    s = sample_psa(dists, n, seed)
    p = np.zeros((n, 4, 4))
    for i in range(3):
        p[:, i] = s[f"row{i}"]
    p[:, 3, 3] = 1.0
    p_mono, p_comb = hiv_model.matrices(p, s["rr"])
    care = np.zeros((n, 1, 4))
    care[:, 0, :3] = np.array(data["direct_medical"][:3]) + np.array(data["community"][:3]) + data["zidovudine"]
    return data, p_mono, p_comb, care


def _run(data, mono, comb, care, keep_traces=None, mean_traces=True, **flags):
    lam = np.zeros((1, data["cycles"] + 1, 4))
    lam[0, data["relative_risk_cycles"], :3] = data["lamivudine"]
    alive = np.array([1.0, 1, 1, 0])
    strategies = [
        MarkovStrategy("mono", mono, StateValues(care, alive, costs_per="cycle"), draws=True, **flags),
        MarkovStrategy(
            "comb",
            comb,
            StateValues({"care": care, "lamivudine": lam}, alive, costs_per="cycle", end_of_life_cost=300.0),
            per_cycle=not callable(comb),
            draws=True,
            **flags,
        ),
    ]
    conv = Conventions(discount_costs=0.06, discount_effects=0.035, counting="cycle_average")
    return run_markov(
        data["states"],
        strategies,
        data["start"],
        conv,
        n_cycles=data["cycles"],
        dead_states=["D"],
        keep_traces=keep_traces,
        mean_traces=mean_traces,
    )


def _assert_same(a, b):
    for name in ("cost", "life_years", "qalys", "cost_undiscounted", "life_years_undiscounted", "qalys_undiscounted"):
        np.testing.assert_allclose(getattr(a.draws, name), getattr(b.draws, name), rtol=RTOL, atol=0, err_msg=name)
    assert list(a.draws.cost_by_category) == list(b.draws.cost_by_category)
    for name in a.draws.cost_by_category:
        np.testing.assert_allclose(a.draws.cost_by_category[name], b.draws.cost_by_category[name], rtol=RTOL)
    for name in a.mean_traces:
        np.testing.assert_allclose(a.mean_traces[name], b.mean_traces[name], rtol=RTOL)


def test_draws_last_and_per_cycle_lists_equal_draws_first_and_a_function():
    """5,000 draws (two blocks of 4,096): draws-last matrices with combination therapy as a per-cycle list,
    the same as draws-first matrices and a transition function, and as per-cycle (C, S, S, D) arrays;
    kept traces too."""
    data, p_mono, p_comb, care = _hiv_inputs(5_000)
    cycles = data["relative_risk_cycles"]
    function = _run(data, p_mono, lambda c: p_comb if c in cycles else p_mono, care, keep_traces=True)
    mono_last = np.ascontiguousarray(p_mono.transpose(1, 2, 0))
    comb_last = np.ascontiguousarray(p_comb.transpose(1, 2, 0))
    by_cycle = [comb_last if c in cycles else mono_last for c in range(1, data["cycles"] + 1)]
    listed = _run(data, mono_last, by_cycle, care, keep_traces=True, draws_last=True)
    stacked = _run(data, mono_last, np.stack(by_cycle), care, draws_last=True)
    first_list = _run(data, p_mono, [p_comb if c in cycles else p_mono for c in range(1, 21)], care)
    for res in (listed, stacked, first_list):
        _assert_same(res, function)
    np.testing.assert_allclose(listed.traces["comb"], function.traces["comb"], rtol=RTOL)
    assert listed.draws.cost.shape == (5_000, 2) and np.ptp(listed.draws.cost[:, 1]) > 0


def test_a_bad_matrix_is_named_by_its_draw_in_any_block():
    """A row summing to 1.5 in draw 9,000 (the third block): named by its global draw index whether the
    matrices are draws last (checked whole) or draws first (checked block by block), or in a per-cycle list."""
    data, p_mono, p_comb, care = _hiv_inputs(10_000)
    bad = p_mono.copy()
    bad[9_000, 1, 2] += 0.5
    with pytest.raises(InputError, match="sums to 1.5") as err:
        _run(data, bad, lambda c: p_comb, care)
    assert err.value.field.startswith("strategies[mono].transitions[9000, 1]")
    bad_last = np.ascontiguousarray(bad.transpose(1, 2, 0))
    with pytest.raises(InputError, match="sums to 1.5") as err:
        _run(data, bad_last, [bad_last] * 20, care, draws_last=True)
    assert "[9000, 1]" in err.value.field
    good_last = np.ascontiguousarray(p_mono.transpose(1, 2, 0))
    with pytest.raises(InputError, match="sums to 1.5") as err:
        _run(data, good_last, [good_last] * 4 + [bad_last] * 16, care, draws_last=True)
    assert err.value.field.startswith("strategies[comb].transitions[4]") and "9000" in err.value.field


def test_an_array_shared_by_strategies_and_cycles_is_checked_once(monkeypatch):
    data, p_mono, _, care = _hiv_inputs(3_000)
    mono_last = np.ascontiguousarray(p_mono.transpose(1, 2, 0))
    calls = []
    real = markov_trace.check_draws_last

    def counting(m, *args):
        calls.append(m.shape)
        return real(m, *args)

    monkeypatch.setattr(markov_trace, "check_draws_last", counting)
    _run(data, mono_last, [mono_last] * 20, care, draws_last=True)
    assert len(calls) == 1


def test_a_function_building_new_matrices_runs_with_one_cycle_alive():
    """A transition function returning a new per-draw array every cycle is not prefetched (that would keep
    every cycle's matrices): when it is called, no array it returned before is still alive; the result is
    that of the same matrices as a per-cycle list."""
    n, n_cycles = 2_000, 12
    rng = np.random.default_rng(5)
    rate = rng.uniform(0.05, 0.2, n)
    alive_refs: list[weakref.ref] = []
    seen_alive = []

    def build(cycle: int) -> np.ndarray:
        gc.collect()
        seen_alive.append(sum(ref() is not None for ref in alive_refs))
        q = 1.0 - np.exp(-rate * cycle / 10.0)
        p = np.zeros((n, 3, 3))
        p[:, 0, 1], p[:, 0, 0] = q, 1.0 - q
        p[:, 1, 2], p[:, 1, 1] = 0.5 * q, 1.0 - 0.5 * q
        p[:, 2, 2] = 1.0
        alive_refs.append(weakref.ref(p))
        return p

    values = StateValues(np.array([100.0, 400.0, 0.0]), np.array([0.9, 0.6, 0.0]), costs_per="cycle")
    kw = dict(n_cycles=n_cycles, dead_states=["dead"], keep_traces=False)
    streamed = run_markov(["a", "b", "dead"], [MarkovStrategy("x", build, values)], [1, 0, 0], **kw)
    assert max(seen_alive) == 0
    listed = [build(c) for c in range(1, n_cycles + 1)]
    by_list = run_markov(
        ["a", "b", "dead"], [MarkovStrategy("x", listed, values, per_cycle=True, draws=True)], [1, 0, 0], **kw
    )
    _assert_same(streamed, by_list)


def test_draws_last_needs_draws_and_the_right_shape():
    p = np.tile(np.array([[0.9, 0.1], [0.0, 1.0]])[:, :, None], (1, 1, 5))
    values = StateValues(utilities=[1.0, 0.0])
    with pytest.raises(InputError) as err:
        run_markov(["a", "dead"], [MarkovStrategy("x", p, values, draws_last=True)], [1, 0], n_cycles=3)
    assert err.value.field == "strategies[x].draws_last"
    with pytest.raises(InputError):
        run_markov(
            ["a", "dead"],
            [MarkovStrategy("x", p.transpose(2, 0, 1), values, draws=True, draws_last=True)],
            [1, 0],
            n_cycles=3,
        )
    res = run_markov(["a", "dead"], [MarkovStrategy("x", p, values, draws=True, draws_last=True)], [1, 0], n_cycles=3)
    np.testing.assert_allclose(res.draws.life_years_undiscounted[:, 0], 0.5 + 0.9 + 0.81 + 0.5 * 0.729, rtol=1e-14)


def test_mean_traces_can_be_skipped_without_changing_the_draws():
    data, p_mono, p_comb, care = _hiv_inputs(2_000)
    per_cycle = [p_comb] * 2 + [p_mono] * 18
    full = _run(data, p_mono, per_cycle, care)
    lean = _run(data, p_mono, per_cycle, care, mean_traces=False)
    for name in ("cost", "life_years", "qalys", "cost_undiscounted", "life_years_undiscounted", "qalys_undiscounted"):
        np.testing.assert_array_equal(getattr(lean.draws, name), getattr(full.draws, name), err_msg=name)
    for name in full.draws.cost_by_category:
        np.testing.assert_array_equal(lean.draws.cost_by_category[name], full.draws.cost_by_category[name])
    for call in (lambda: lean.mean_traces, lambda: lean.trace_frame("comb")):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == "mean_traces"
    assert full.mean_traces["comb"].shape == (21, 4)


def test_mean_traces_can_be_skipped_with_an_open_horizon():
    data, p_mono, _, care = _hiv_inputs(500)
    alive = np.array([1.0, 1, 1, 0])
    strategies = [MarkovStrategy("mono", p_mono, StateValues(care, alive, costs_per="cycle"), draws=True)]
    runs = [
        run_markov(
            data["states"],
            strategies,
            data["start"],
            until_alive_below=UntilAliveBelow(1e-3),
            dead_states=["D"],
            **flag,
        )
        for flag in ({}, {"mean_traces": False})
    ]
    np.testing.assert_array_equal(runs[1].draws.cost, runs[0].draws.cost)
    np.testing.assert_array_equal(runs[1].draws.life_years, runs[0].draws.life_years)
    with pytest.raises(InputError):
        runs[1].mean_traces  # noqa: B018
