"""Figures (structure) and conventions (weights, discounting, presets)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mhtcdt.economics import (  # noqa: E402
    ce_plane,
    ceac,
    cheers_items,
    counting_weights,
    discount_factors,
    evpi_curve,
    jurisdiction,
    jurisdictions,
)
from mhtcdt.economics.dsa import one_way_dsa  # noqa: E402
from mhtcdt.economics.plots import (  # noqa: E402
    ce_plane_figure,
    ceac_figure,
    evpi_figure,
    occupancy_figure,
    tornado_figure,
)
from mhtcdt.errors import InputError  # noqa: E402


def test_simpson_weights_pattern_and_exactness():
    w = counting_weights(np.arange(7.0), "simpson")
    np.testing.assert_allclose(w, [1 / 3, 4 / 3, 2 / 3, 4 / 3, 2 / 3, 4 / 3, 1 / 3])
    t = np.linspace(0, 2, 9)
    assert counting_weights(t, "simpson") @ t**3 == pytest.approx(4.0)  # exact for cubics
    with pytest.raises(InputError):
        counting_weights(np.arange(6.0), "simpson")
    custom = counting_weights(np.arange(3.0) * 0.5, [0.5, 1, 0.5])
    np.testing.assert_allclose(custom, [0.25, 0.5, 0.25])


def test_discounting_variants():
    t = np.array([0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(discount_factors(t, 0.03, "discrete"), 1.03**-t)
    np.testing.assert_allclose(discount_factors(t, 0.03, "discrete_yearly"), 1.03 ** -np.array([0, 0, 1, 2]))
    np.testing.assert_allclose(
        discount_factors(np.arange(4.0), 0.03, "discrete_lagged"), 1.03 ** -np.array([0, 0, 1, 2])
    )
    np.testing.assert_allclose(discount_factors(t, 0.03, "continuous"), np.exp(-0.03 * t))
    with pytest.raises(InputError):
        discount_factors(t, -0.01)


def test_jurisdiction_presets_match_reference():
    nice = jurisdiction("nice")
    assert (nice.discount_costs, nice.discount_effects) == (0.035, 0.035)
    nl = jurisdiction("netherlands")
    assert (nl.discount_costs, nl.discount_effects) == (0.03, 0.015)
    assert jurisdiction("germany").discount_costs == 0.03
    assert jurisdiction("france").discount_effects == 0.025
    assert jurisdiction("united_states").thresholds_per_qaly == (100000.0, 150000.0)
    assert len(jurisdictions()) == 5 and len(cheers_items()) == 28
    with pytest.raises(InputError):
        jurisdiction("mars")


def _psa():
    rng = np.random.default_rng(np.random.SeedSequence(4))
    c = rng.gamma(20, 1000, (300, 3))
    e = rng.normal([1.0, 1.2, 1.3], 0.2, (300, 3))
    return c, e


def test_figures_have_the_expected_artists():
    c, e = _psa()
    names = ["a", "b", "c"]
    fig = ce_plane_figure(ce_plane(c, e, names), wtp=30000)
    assert len(fig.axes[0].collections) == 2  # two comparisons vs "a"
    wtp = np.linspace(0, 1e5, 11)
    fig = ceac_figure(ceac(c, e, wtp, names))
    assert len(fig.axes[0].lines) == 4  # 3 strategies + frontier
    fig = evpi_figure(evpi_curve(c, e, wtp))
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), wtp)
    tor = one_way_dsa(lambda p: p["x"] * 2 + p["y"], {"x": 1.0, "y": 1.0}, {"x": (0, 2), "y": (0, 1)})
    fig = tornado_figure(tor)
    assert len(fig.axes[0].patches) == 4
    t = np.arange(5.0)
    fig = occupancy_figure(t, np.tile([0.5, 0.3, 0.2], (5, 1)), ["pf", "pd", "dead"])
    assert len(fig.axes[0].collections) == 3
    with pytest.raises(InputError):
        occupancy_figure(t, np.ones((4, 3)), ["a", "b", "c"])


def test_trace_figure_from_markov_result():
    from mhtcdt.economics import MarkovStrategy, run_markov
    from mhtcdt.economics.plots import trace_figure

    p = np.array([[0.8, 0.15, 0.05], [0.0, 0.9, 0.1], [0, 0, 1]])
    res = run_markov(["well", "sick", "dead"], [MarkovStrategy("x", p)], [1, 0, 0], n_cycles=10)
    assert res.draws.attrs["counting"] == "life_table" and res.draws.attrs["discount_costs"] == 0.035
    fig = trace_figure(res.trace_frame("x"))
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["well", "sick", "dead"]
