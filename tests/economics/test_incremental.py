"""Incremental analysis: dominance rules checked against an independent convex-hull construction."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull

from mhtcdt.economics import efficient_frontier, incremental_analysis
from mhtcdt.errors import InputError


def _table(costs, effects):
    return pd.DataFrame({"strategy": [f"s{i}" for i in range(len(costs))], "cost": costs, "qalys": effects})


def test_hand_worked_five_strategies():
    # A reference; B dominated by C (costs more, less effect); D extendedly dominated
    # (ICER C->D = 40000 > ICER D->E = 20000); E on the frontier.
    df = pd.DataFrame(
        {
            "strategy": ["A", "B", "C", "D", "E"],
            "cost": [10000.0, 14000.0, 13000.0, 17000.0, 19000.0],
            "qalys": [1.0, 1.05, 1.1, 1.2, 1.3],
        }
    )
    out = incremental_analysis(df).set_index("strategy")
    assert out.loc["A", "status"] == "reference"
    assert out.loc["B", "status"] == "dominated"
    assert out.loc["C", "status"] == "non-dominated"
    assert out.loc["D", "status"] == "extendedly dominated"
    assert out.loc["E", "status"] == "non-dominated"
    assert out.loc["C", "icer"] == pytest.approx(3000.0 / 0.1)
    assert out.loc["E", "icer"] == pytest.approx(6000.0 / 0.2)
    assert out.loc["E", "inc_cost"] == pytest.approx(6000.0)
    assert np.isnan(out.loc["D", "icer"]) and np.isnan(out.loc["B", "inc_qalys"])
    assert list(incremental_analysis(df).columns) == [
        "strategy",
        "cost",
        "qalys",
        "inc_cost",
        "inc_qalys",
        "icer",
        "status",
    ]


def _hull_frontier(c, e):
    """Independent method: vertices of the convex hull on the lower-right chain, from the cheapest
    strategy among those with maximal effect for their cost to the most effective one."""
    pts = np.column_stack([e, c])
    hull = ConvexHull(pts)
    verts = set(hull.vertices.tolist())
    start = int(np.lexsort((-e, c))[0])
    end = int(np.lexsort((c, -e))[0])
    front = [start]
    cur = start
    while cur != end:
        cand = [j for j in verts if e[j] > e[cur] and c[j] >= c[cur]]
        slopes = [(c[j] - c[cur]) / (e[j] - e[cur]) for j in cand]
        best = min(slopes)
        ties = [j for j, s in zip(cand, slopes, strict=True) if np.isclose(s, best)]
        cur = min(ties, key=lambda j: e[j])
        front.append(cur)
    return front


@pytest.mark.parametrize("seed", range(25))
def test_frontier_equals_convex_hull(seed):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n = int(rng.integers(4, 12))
    e = rng.uniform(1, 5, n)
    c = 10000 + 20000 * e + rng.normal(0, 15000, n)
    out = incremental_analysis(_table(c, e))
    frontier = out[out["status"].isin(["reference", "non-dominated"])]["strategy"].tolist()
    expected = [f"s{i}" for i in _hull_frontier(c, e)]
    assert frontier == expected
    icers = out["icer"].dropna().to_numpy()
    assert np.all(np.diff(icers) > 0)


def test_single_strategy_and_errors():
    out = incremental_analysis(_table([5.0], [1.0]))
    assert out["status"].tolist() == ["reference"]
    with pytest.raises(InputError, match="missing column"):
        incremental_analysis(pd.DataFrame({"strategy": ["a"], "cost": [1.0]}))
    with pytest.raises(InputError):
        incremental_analysis(_table([1.0, np.nan], [1.0, 2.0]))


def test_life_year_effect_column():
    df = pd.DataFrame({"strategy": ["a", "b"], "cost": [1.0, 3.0], "life_years": [1.0, 2.0]})
    out = incremental_analysis(df, effect="life_years")
    assert out["icer"].iloc[1] == pytest.approx(2.0)
    assert "inc_life_years" in out.columns


def test_herc_six_strategy_example_with_extended_dominance():
    """Published worked example of the US VA Health Economics Resource Center (HERC) cost-effectiveness
    guidebook (herc.research.va.gov, "cost-effectiveness analysis"), as also encoded in dampack's
    tests/testthat/test_calculate_icers.R: UC reference; B, D, E on the frontier with ICERs 5,000,
    12,500 and 20,000; C extendedly dominated; A dominated."""
    df = pd.DataFrame(
        {
            "strategy": ["E", "D", "C", "B", "A", "UC"],
            "cost": [55000.0, 35000.0, 25000.0, 10000.0, 12000.0, 5000.0],
            "qalys": [5.0, 4.0, 3.0, 2.0, 1.5, 1.0],
        }
    )
    out = incremental_analysis(df).set_index("strategy")
    assert out.loc["UC", "status"] == "reference"
    assert out.loc["A", "status"] == "dominated"
    assert out.loc["C", "status"] == "extendedly dominated"
    for name, icer, inc_c, inc_e in (("B", 5000, 5000, 1), ("D", 12500, 25000, 2), ("E", 20000, 20000, 1)):
        assert out.loc[name, "status"] == "non-dominated"
        assert out.loc[name, "icer"] == icer
        assert out.loc[name, "inc_cost"] == inc_c
        assert out.loc[name, "inc_qalys"] == inc_e


def test_equal_effect_tie_makes_cheaper_the_reference():
    """dampack test case: 'Test & treat' has the effect of 'Treat all' at lower cost, and is cheaper
    than 'No Treat' with more effect: it is the reference, both others are dominated."""
    df = pd.DataFrame(
        {
            "strategy": ["No Treat", "Treat all", "Test & treat"],
            "cost": [163771.0, 164848.7, 163765.1],
            "qalys": [6.48273, 6.52861, 6.52861],
        }
    )
    out = incremental_analysis(df)
    assert out["strategy"].iloc[0] == "Test & treat"
    assert out.set_index("strategy")["status"].to_dict() == {
        "Test & treat": "reference",
        "No Treat": "dominated",
        "Treat all": "dominated",
    }


@pytest.mark.parametrize("seed", range(5))
def test_invariant_to_row_order_and_cost_scale(seed):
    rng = np.random.default_rng(np.random.SeedSequence(500 + seed))
    n = 7
    e = rng.uniform(1, 4, n)
    c = 20000 * e + rng.normal(0, 20000, n)
    base = incremental_analysis(_table(c, e)).set_index("strategy")
    perm = rng.permutation(n)
    shuffled = _table(c, e).iloc[perm]
    again = incremental_analysis(shuffled).set_index("strategy").loc[base.index]
    assert (again["status"] == base["status"]).all()
    np.testing.assert_allclose(again["icer"], base["icer"])
    scaled = incremental_analysis(_table(c * 1.5 + 1000, e)).set_index("strategy").loc[base.index]
    assert (scaled["status"] == base["status"]).all()
    np.testing.assert_allclose(scaled["icer"], base["icer"] * 1.5)


# ---------------------------------------------------------------------------------------------
# Ties: a strategy with the same cost and less effect (or the same effect and more cost) is strongly
# dominated; it may never become the reference or give a frontier ICER of 0 (or infinity).
# ---------------------------------------------------------------------------------------------


def _status(costs, effects):
    return incremental_analysis(_table(costs, effects)).set_index("strategy")


def test_equal_costs_the_more_effective_is_the_reference():
    # s0 is listed first and has the same cost as s1 but less effect: s1 dominates it
    out = _status([100.0, 100.0, 300.0], [1.0, 2.0, 3.0])
    assert out["status"].to_dict() == {"s1": "reference", "s0": "dominated", "s2": "non-dominated"}
    assert out.loc["s2", "icer"] == pytest.approx(200.0)
    assert out.loc["s2", "inc_cost"] == 200.0 and out.loc["s2", "inc_qalys"] == 1.0
    kept, status = efficient_frontier(np.array([100.0, 100.0, 300.0]), np.array([1.0, 2.0, 3.0]))
    assert kept == [1, 2] and status.tolist() == [2, 0, 1]


def test_equal_costs_higher_up_the_frontier():
    # s1 and s2 cost the same; s1 has less effect: dominated, and s2's ICER is against s0
    out = _status([100.0, 250.0, 250.0], [1.0, 1.5, 2.0])
    assert out["status"].to_dict() == {"s0": "reference", "s1": "dominated", "s2": "non-dominated"}
    assert out.loc["s2", "icer"] == pytest.approx(150.0)


def test_equal_effects_the_cheaper_wins():
    # s1 and s2 have the effect of each other at different costs; s0 and s1 cost the same
    out = _status([100.0, 100.0, 150.0], [1.0, 2.0, 2.0])
    assert out["status"].to_dict() == {"s1": "reference", "s0": "dominated", "s2": "dominated"}
    assert out["icer"].isna().all()
    # equal effects alone: the dearer one is dominated, not a frontier step with an infinite ICER
    out = _status([100.0, 150.0, 400.0], [1.0, 1.0, 2.0])
    assert out["status"].to_dict() == {"s0": "reference", "s1": "dominated", "s2": "non-dominated"}
    assert out.loc["s2", "icer"] == pytest.approx(300.0)


def test_exact_duplicates_and_a_cost_tie():
    # s0 and s1 are identical; s2 costs the same with more effect: it is the reference
    out = _status([100.0, 100.0, 100.0, 200.0], [1.0, 1.0, 2.0, 3.0])
    assert out["status"].to_dict() == {
        "s2": "reference",
        "s0": "dominated",
        "s1": "dominated",
        "s3": "non-dominated",
    }
    assert out.loc["s3", "icer"] == pytest.approx(100.0)
    # two identical strategies alone: the first listed is the reference, the copy dominated
    out = _status([100.0, 100.0], [1.0, 1.0])
    assert out["status"].to_dict() == {"s0": "reference", "s1": "dominated"}


@pytest.mark.parametrize("seed", range(20))
def test_frontier_with_many_ties_equals_the_nmb_maximisers(seed):
    """Independent oracle: the frontier is the set of strategies with the highest net monetary benefit
    at some willingness to pay > 0; evaluated between every pair of breakpoints, so each wtp has one
    maximiser. Costs and effects from small sets, so ties in cost and in effect are frequent."""
    rng = np.random.default_rng(np.random.SeedSequence(900 + seed))
    n = int(rng.integers(4, 10))
    c = rng.choice([100.0, 200.0, 350.0, 500.0], n)
    e = rng.choice(rng.uniform(1, 3, 3), n)
    pairs = {(i, j) for i in range(n) for j in range(n) if e[i] != e[j] and (c[i], e[i]) != (c[j], e[j])}
    breaks = sorted({(c[i] - c[j]) / (e[i] - e[j]) for i, j in pairs} | {0.0})
    breaks = [b for b in breaks if b >= 0.0]
    probes = [0.5 * (a + b) for a, b in zip(breaks[:-1], breaks[1:], strict=False)] + [breaks[-1] + 1.0]
    probes = [w for w in probes if w > 0] or [1.0]
    winners = set()
    for w in probes:
        nmb = w * e - c
        best = np.flatnonzero(np.isclose(nmb, nmb.max(), rtol=0, atol=1e-9))
        # identical copies tie at every wtp: the first listed represents them
        winners.add(int(best.min()))
    out = incremental_analysis(_table(c, e))
    frontier = out[out["status"].isin(["reference", "non-dominated"])]
    assert set(frontier["strategy"]) == {f"s{i}" for i in winners}
    icers = frontier["icer"].dropna().to_numpy()
    assert np.all(icers > 0) and np.all(np.isfinite(icers)) and np.all(np.diff(icers) > 0)
