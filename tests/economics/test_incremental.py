"""Incremental analysis: dominance rules checked against an independent convex-hull construction."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull

from mhtcdt.economics import incremental_analysis
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
