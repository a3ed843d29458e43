"""Blocked evaluation equals unblocked evaluation (issue 18): the Markov engine's blocks of draws, the
prefetched transition function against the cycle-by-cycle path, the PSM's curve function against its
arrays, run_in_blocks against one call; and ``import mhtcdt.economics`` stays free of pandas and scipy."""

import subprocess
import sys

import numpy as np
import pytest

from mhtcdt.economics import (
    Conventions,
    Gamma,
    LogNormal,
    MarkovStrategy,
    MultivariateNormal,
    StateValues,
    SurvivalCurves,
    dirichlet_matrix,
    markov_trace,
    psm,
    run_in_blocks,
    run_markov,
    run_partitioned_survival,
    sample_psa,
    survival,
)
from mhtcdt.economics.results import RESULT_COLUMNS
from mhtcdt.errors import InputError

from . import hiv_model

RTOL = 1e-12


def _hiv_psa(start: int, stop: int, seed: int = 5, keep_traces=None, out=None):
    """The HIV model's PSA (Dirichlet rows, lognormal RR, gamma costs) for draws start .. stop - 1, with
    the lamivudine cost as its own category (1, n+1, S) and the combination matrices from a function."""
    data = hiv_model.load()
    counts = np.array(data["transition_counts"], float)
    dists = {f"row{i}": d for i, d in enumerate(dirichlet_matrix(counts[:3]))}
    dists["rr"] = LogNormal.from_ci(0.509, 0.365, 0.710)
    base = np.array(data["direct_medical"]) + np.array(data["community"])
    for i in range(3):
        dists[f"cost{i}"] = Gamma(base[i], 0.2 * base[i])
    s = sample_psa(dists, stop - start, seed, start=start)
    n = stop - start
    p = np.zeros((n, 4, 4))
    for i in range(3):
        p[:, i] = s[f"row{i}"]
    p[:, 3, 3] = 1.0
    p_mono, p_comb = hiv_model.matrices(p, s["rr"])
    care = np.zeros((n, 1, 4))
    care[:, 0, :3] = np.column_stack([s[f"cost{i}"] for i in range(3)]) + data["zidovudine"]
    lam = np.zeros((1, data["cycles"] + 1, 4))
    lam[0, data["relative_risk_cycles"], :3] = data["lamivudine"]
    alive = np.array([1.0, 1, 1, 0])
    strategies = [
        MarkovStrategy("mono", p_mono, StateValues(care, alive, costs_per="cycle", one_off_cost=100.0), draws=True),
        MarkovStrategy(
            "comb",
            lambda c: p_comb if c in data["relative_risk_cycles"] else p_mono,
            StateValues({"care": care, "lamivudine": lam}, alive, costs_per="cycle", end_of_life_cost=500.0),
        ),
    ]
    conv = Conventions(discount_costs=0.06, discount_effects=0.035, counting="life_table")
    return run_markov(
        data["states"],
        strategies,
        data["start"],
        conv,
        n_cycles=data["cycles"],
        dead_states=["D"],
        keep_traces=keep_traces,
        out=out,
    )


def _assert_same(a, b, rtol=RTOL):
    for name in RESULT_COLUMNS[1:]:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0, err_msg=name)
    assert list(a.cost_by_category) == list(b.cost_by_category)
    for name in a.cost_by_category:
        np.testing.assert_allclose(a.cost_by_category[name], b.cost_by_category[name], rtol=rtol, err_msg=name)
    assert list(a.extra) == list(b.extra)
    for name in a.extra:
        np.testing.assert_allclose(a.extra[name], b.extra[name], rtol=rtol, err_msg=name)


def test_markov_blocks_of_draws_equal_one_block(monkeypatch):
    """10,000 draws in blocks of 4,096 (and of 1,000) equal one block of all draws to 1e-12: costs,
    life-years, QALYs (discounted and not), each cost category, and the mean trace."""
    blocked = _hiv_psa(0, 10_000)
    monkeypatch.setattr(markov_trace, "BLOCK_DRAWS", 1_000)
    small = _hiv_psa(0, 10_000)
    monkeypatch.setattr(markov_trace, "BLOCK_DRAWS", 10**9)
    whole = _hiv_psa(0, 10_000)
    for res in (blocked, small):
        _assert_same(res.draws, whole.draws)
        for name in ("mono", "comb"):
            np.testing.assert_allclose(res.mean_traces[name], whole.mean_traces[name], rtol=RTOL)
    assert blocked.draws.cost.shape == (10_000, 2)
    assert np.ptp(blocked.draws.cost[:, 1]) > 0  # the draws differ (not one value broadcast)


def test_prefetched_transition_function_equals_cycle_by_cycle(monkeypatch):
    """A transition function evaluated up front (kept by reference) gives the result of the cycle-by-cycle
    path (forced here by a function whose arrays change after they are returned)."""
    prefetched = _hiv_psa(0, 3_000)
    calls = []
    real = markov_trace._prefetch

    def refusing(*args, **kwargs):
        calls.append(1)
        return None  # as if an array had changed: fall back to cycle by cycle

    monkeypatch.setattr(markov_trace, "_prefetch", refusing)
    by_cycle = _hiv_psa(0, 3_000)
    assert calls and real is not refusing
    _assert_same(prefetched.draws, by_cycle.draws)


def test_traces_kept_in_blocks_equal_one_block_and_are_refused_when_not_kept(monkeypatch):
    kept = _hiv_psa(0, 5_000, keep_traces=True)
    monkeypatch.setattr(markov_trace, "BLOCK_DRAWS", 10**9)
    whole = _hiv_psa(0, 5_000)
    np.testing.assert_allclose(kept.traces["comb"], whole.traces["comb"], rtol=RTOL)
    np.testing.assert_allclose(kept.mean_traces["comb"], whole.traces["comb"].mean(axis=0), rtol=RTOL)
    monkeypatch.undo()
    lean = _hiv_psa(0, 5_000, keep_traces=False)
    with pytest.raises(InputError) as err:
        lean.traces  # noqa: B018
    assert err.value.field == "keep_traces"
    frame = lean.trace_frame("mono")  # from the mean trace, always kept
    np.testing.assert_allclose(frame["proportion"].to_numpy(), whole.traces["mono"].mean(axis=0).ravel(), rtol=RTOL)


def test_run_in_blocks_equals_one_call():
    """The PSA in blocks of 2,500 draws (sampling, matrices and engine per block) equals one call over
    all 6,000 draws; the one-off cost stays one row for every draw."""
    one = _hiv_psa(0, 6_000).draws
    blocks = run_in_blocks(lambda a, b: _hiv_psa(a, b).draws, 6_000, block_draws=2_500)
    _assert_same(blocks, one)
    assert blocks.cost_by_category["one_off"].strides[0] == 0
    assert blocks.cost_by_category["care"].shape == (6_000, 2)
    with pytest.raises(InputError):
        run_in_blocks(lambda a, b: _hiv_psa(0, 10).draws, 30, block_draws=20)  # wrong number of draws


T_MONTHS = np.arange(0.0, 121.0)


def _psm_values() -> StateValues:
    """Two strategies' monthly care costs, utilities, a one-off treatment cost and an end-of-life cost."""
    return StateValues(
        np.array([[1000.0, 2500.0]]),
        [0.8, 0.6],
        costs_per="months",
        one_off_cost=[0.0, 20000.0],
        end_of_life_cost=5000.0,
    )


def _psm_coefficients(n: int, seed: int = 3):
    dists = {
        f"{ep}{k}": MultivariateNormal(m, [[0.02, -0.004], [-0.004, 0.04]])
        for ep, ms in {"ttp": [(0.1, 2.3), (0.15, 2.6)], "os": [(0.2, 2.7), (0.2, 3.1)]}.items()
        for k, m in enumerate(ms)
    }
    return sample_psa(dists, n, seed)


def _curves(s, a, b):
    """PFS = TTP x OS and OS, Weibull curves of draws a .. b - 1 (each (b - a, 2, T))."""
    out = {}
    for ep in ("ttp", "os"):
        coef = np.stack([s[f"{ep}{k}"][a:b] for k in range(2)], axis=1)  # (b - a, 2, 2)
        out[ep] = survival.weibull_from_coefficients(T_MONTHS, coef[..., 0], coef[..., 1])
    return out["ttp"] * out["os"], out["os"]


def test_psm_curve_function_equals_curve_arrays(monkeypatch):
    """The PSM with a curve function evaluated block by block equals the PSM with the curve arrays of all
    draws to 1e-12, whatever the block (curve values per block patched from 65,536 to 2,000)."""
    n = 3_000
    s = _psm_coefficients(n)
    values = _psm_values()
    arrays = run_partitioned_survival(SurvivalCurves(["a", "b"], T_MONTHS, _curves(s, 0, n)), values)
    lazy = SurvivalCurves(["a", "b"], T_MONTHS, lambda a, b: _curves(s, a, b), n_draws=n)
    by_function = run_partitioned_survival(lazy, values)
    _assert_same(by_function, arrays)
    monkeypatch.setattr(psm, "CHUNK_ELEMENTS", 2_000)
    _assert_same(run_partitioned_survival(lazy, values), arrays)
    assert by_function.cost_by_category["one_off"].strides[0] == 0


def test_curve_function_bad_input():
    good = lambda a, b: (np.ones((b - a, 1, 3)), np.ones((b - a, 1, 3)))  # noqa: E731
    with pytest.raises(InputError) as err:
        SurvivalCurves(["a"], [0, 1, 2], good)
    assert err.value.field == "n_draws"
    with pytest.raises(InputError) as err:
        SurvivalCurves(["a"], [0, 1, 2], lambda a, b: (np.ones((b - a, 2, 3)),) * 2, n_draws=5)
    assert err.value.field == "curves[0]"

    def rising_os(a, b):
        return np.full((b - a, 1, 3), 0.5), np.ones((b - a, 1, 3)) * [1, 0.9, 0.95]

    rising = SurvivalCurves(["a"], [0, 1, 2], rising_os, n_draws=5)
    with pytest.raises(InputError, match="increases"):
        run_partitioned_survival(rising, StateValues(0.0, [1.0, 1.0]))
    with pytest.raises(InputError) as err:
        SurvivalCurves(["a"], [0, 1, 2], (np.ones((1, 3)), np.ones((1, 3))), n_draws=4)
    assert err.value.field == "n_draws"


def test_weibull_equals_the_power_form():
    """S = exp(-(t / scale)^shape) computed through logarithms equals the pow form to 1e-15 absolute."""
    t = np.arange(0.0, 361.0)
    rng = np.random.default_rng(np.random.SeedSequence(18))
    shape, scale = rng.uniform(0.3, 3.0, (50, 3)), rng.uniform(1.0, 100.0, (50, 3))
    direct = np.exp(-((t / scale[..., None]) ** shape[..., None]))
    np.testing.assert_allclose(survival.weibull(t, shape, scale), direct, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        survival.loglogistic(t, shape, scale), 1 / (1 + (t / scale[..., None]) ** shape[..., None]), rtol=1e-14
    )
    assert survival.weibull(t, shape, scale)[..., 0].min() == 1.0


def test_import_loads_neither_pandas_nor_scipy():
    """``import mhtcdt.economics`` (and a Markov PSA) stay light: pandas, scipy, matplotlib and numba are
    imported only by the functions that need them."""
    code = (
        "import sys, numpy as np, mhtcdt.economics as e\n"
        "p = np.array([[0.9, 0.1], [0.0, 1.0]])\n"
        "r = e.run_markov(['a', 'dead'], [e.MarkovStrategy('x', p, e.StateValues(utilities=[1, 0]))], [1, 0],"
        " n_cycles=5)\n"
        "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'numba') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_nested_weibull_equals_the_curve_function(monkeypatch):
    """Curves given by their Weibull coefficients (NestedWeibull: PFS = TTP x OS, checked in closed form and
    evaluated by the engine) equal the same curves evaluated by a curve function (every value checked) to
    1e-12 (the exponent shape ln t - shape ln scale by a rank-2 product against shape (ln t - ln scale)),
    whatever the block; the curves themselves agree with weibull_from_coefficients to 1e-13."""
    n = 3_000
    s = _psm_coefficients(n)
    values = _psm_values()
    coef = {ep: np.stack([s[f"{ep}{k}"] for k in range(2)], axis=1) for ep in ("ttp", "os")}  # (D, 2, 2)
    nested = survival.NestedWeibull(
        [coef["ttp"][..., 0], coef["os"][..., 0]], [coef["ttp"][..., 1], coef["os"][..., 1]]
    )
    pfs, os_ = nested.evaluate(T_MONTHS, 10, 20)
    want_pfs, want_os = _curves(s, 10, 20)
    np.testing.assert_allclose(pfs, want_pfs, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(os_, want_os, rtol=1e-13, atol=1e-300)
    assert np.all(pfs[..., 0] == 1.0) and np.all(os_[..., 0] == 1.0)
    by_function = run_partitioned_survival(
        SurvivalCurves(["a", "b"], T_MONTHS, lambda a, b: _curves(s, a, b), n_draws=n), values
    )
    data = SurvivalCurves(["a", "b"], T_MONTHS, nested)
    assert data.n_draws == n and data.valid_by_construction
    _assert_same(run_partitioned_survival(data, values), by_function)
    monkeypatch.setattr(psm, "CHUNK_ELEMENTS", 2_000)
    _assert_same(run_partitioned_survival(data, values), by_function)
    # one parameter set (S,) coefficients: no draw axis
    single = SurvivalCurves(
        ["a", "b"],
        T_MONTHS,
        survival.NestedWeibull([coef["ttp"][0, :, 0]], [coef["ttp"][0, :, 1]]),
        states=("alive",),
    )
    want = survival.weibull_from_coefficients(T_MONTHS, coef["ttp"][0, :, 0], coef["ttp"][0, :, 1])
    one = run_partitioned_survival(single, StateValues(0.0, [1.0], costs_per="months"), Conventions(0.0, 0.0))
    arrays = run_partitioned_survival(
        SurvivalCurves(["a", "b"], T_MONTHS, (want,), states=("alive",)),
        StateValues(0.0, [1.0], costs_per="months"),
        Conventions(0.0, 0.0),
    )
    _assert_same(one, arrays)


def test_nested_weibull_extremes_stay_valid():
    """What the closed form promises holds at extreme coefficients: values in [0, 1], S(0) = 1, non-increasing,
    nested, never NaN (overflowing hazards give S = 0; an exponent whose rank-2 terms would overflow is
    computed as shape (ln t - ln scale), which overflows to +-inf but not to NaN)."""
    t = np.arange(0.0, 241.0)
    log_shape = np.array([[-700.0, 0.0, 6.0, 700.0], [700.0, 700.0, -3.0, 0.5]])  # (D=2, S=4)
    log_scale = np.array([[700.0, -700.0, 0.0, -5.0], [-700.0, 700.0, 30.0, 1e10]])
    nested = survival.NestedWeibull([log_shape, log_shape[::-1]], [log_scale, log_scale[::-1]])
    first, last = nested.evaluate(t, 0, 2)
    for curve in (first, last):
        assert not np.isnan(curve).any()
        assert np.all((curve >= 0.0) & (curve <= 1.0)) and np.all(curve[..., 0] == 1.0)
        assert np.all(np.diff(curve, axis=-1) <= 0.0)
    assert np.all(first <= last)
    res = run_partitioned_survival(SurvivalCurves(list("abcd"), t, nested), StateValues(0.0, [1.0, 0.5]))
    assert np.all(np.isfinite(res.qalys))


def test_nested_weibull_bad_input():
    ok = np.zeros((3, 2))
    for bad_shape, field in (([np.full((3, 2), np.nan)], "log_shape[0]"), ([np.full((3, 2), 710.0)], "log_shape[0]")):
        with pytest.raises(InputError) as err:
            survival.NestedWeibull(bad_shape, [ok])
        assert err.value.field.startswith(field)
    with pytest.raises(InputError) as err:
        survival.NestedWeibull([np.full((3, 2), -750.0)], [ok])  # exp underflows to a shape of 0
    assert err.value.field == "log_shape[0]"
    with pytest.raises(InputError) as err:
        survival.NestedWeibull([ok, ok], [ok])
    assert err.value.field == "log_scale"
    with pytest.raises(InputError) as err:
        survival.NestedWeibull([ok], [np.zeros((4, 2))])
    assert err.value.field == "log_shape"
    with pytest.raises(InputError) as err:
        SurvivalCurves(["a", "b", "c"], T_MONTHS, survival.NestedWeibull([ok], [ok]))
    assert err.value.field == "curves"
    with pytest.raises(InputError) as err:
        SurvivalCurves(["a", "b"], T_MONTHS, survival.NestedWeibull([ok], [ok]), n_draws=3)
    assert err.value.field == "n_draws"


def test_run_in_blocks_writes_in_place_for_a_model_taking_out():
    """A model taking ``out`` gets, from the second block on, the rows of the whole run's arrays and the
    engine writes its results there (no copy): the same numbers as one call, the cost category that one
    strategy does not report is 0 in those rows (the whole-run arrays are not zeroed), and arrays of the
    wrong shape given as ``out`` are ignored."""
    one = _hiv_psa(0, 6_000).draws
    seen = []

    def model(a, b, out=None):
        res = _hiv_psa(a, b, out=out).draws
        seen.append((out is not None, out is not None and res.cost is out["cost"]))
        return res

    blocks = run_in_blocks(model, 6_000, block_draws=2_500)
    _assert_same(blocks, one)
    assert seen == [(False, False), (True, True), (True, True)]
    assert np.all(blocks.cost_by_category["lamivudine"][:, 0] == 0.0)  # mono reports no lamivudine cost
    assert blocks.cost_by_category["one_off"].strides[0] == 0
    odd = {"cost": np.full((7, 2), np.nan), "qalys": np.zeros((100, 2), dtype=np.float32)}
    _assert_same(_hiv_psa(0, 100, out=odd).draws, _hiv_psa(0, 100).draws)
    assert np.isnan(odd["cost"]).all()
