"""Parametric fits: custom Gompertz against an independent scipy MLE, AIC choice, extrapolation."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from mhtcdt.decision.trial import parametric
from mhtcdt.errors import InputError


def _gompertz_sample(n, b, eta, rng):
    """Inverse CDF of S(t) = exp(-b (exp(eta t) - 1) / eta); inf = never (plateau when eta < 0)."""
    e = rng.standard_exponential(n)
    arg = 1 + eta * e / b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(arg > 0, np.log(arg) / eta, np.inf)


def test_gompertz_fitter_matches_independent_scipy_mle():
    rng = np.random.default_rng(0)
    t = _gompertz_sample(3000, 0.05, 0.08, rng)
    c = rng.uniform(0, 40, t.size)
    d, e = np.minimum(t, c), t <= c
    m = parametric.fit_one(d, e, "gompertz")

    def nll(x):
        b, eta = math.exp(x[0]), x[1]
        h = b * np.exp(eta * d)
        big_h = b * np.expm1(eta * d) / eta
        return -(np.sum(np.log(h[e])) - np.sum(big_h))

    ref = optimize.minimize(nll, [math.log(0.03), 0.05], method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-10))
    assert m.b_ == pytest.approx(math.exp(ref.x[0]), rel=1e-3)
    assert m.eta_ == pytest.approx(ref.x[1], rel=1e-3, abs=1e-5)
    assert m.log_likelihood_ == pytest.approx(-ref.fun, abs=1e-3)
    assert m.b_ == pytest.approx(0.05, rel=0.15) and m.eta_ == pytest.approx(0.08, rel=0.15)


def test_gompertz_plateau_with_negative_shape():
    rng = np.random.default_rng(1)
    t = _gompertz_sample(3000, 0.2, -0.1, rng)  # cured fraction exp(b/eta) = exp(-2) = 13.5 %
    c = np.full(t.size, 60.0)
    m = parametric.fit_one(np.minimum(t, c), t <= c, "gompertz")
    assert m.eta_ < 0
    s = parametric.survival_on_grid(m, np.array([0.0, 240.0]))
    assert s[1] == pytest.approx(math.exp(-2), abs=0.02)


def _trial(seed=2, n=600):
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "A", "B")
    os_ = rng.weibull(1.8, n) * np.where(arm == "A", 10.0, 14.0)
    pfs = os_ * rng.uniform(0.3, 0.9, n)
    c = rng.uniform(5, 40, n)
    return pd.DataFrame(
        dict(
            arm=arm,
            os_months=np.minimum(os_, c),
            os_event=os_ <= c,
            pfs_months=np.minimum(pfs, c),
            pfs_event=pfs <= c,
        )
    )


def test_aic_prefers_weibull_over_exponential_for_weibull_data():
    fits, _ = parametric.fit_all(_trial(), ("exponential", "weibull", "gompertz"), endpoints=("OS",))
    a = fits[fits.arm == "A"].set_index("distribution")
    assert a.loc["weibull", "aic"] < a.loc["exponential", "aic"] - 10
    assert a.loc["weibull", "bic"] == pytest.approx(-2 * a.loc["weibull", "log_likelihood"] + 2 * math.log(300))
    assert parametric.best_distribution(fits, "A", "OS") in ("weibull", "gompertz")
    assert (fits.groupby(["arm", "endpoint"])["delta_aic"].min() == 0).all()


def test_extrapolation_grid_and_exponential_closed_form():
    df = _trial()
    ext = parametric.extrapolate(df, horizon_months=240, step_months=1.0, distribution="exponential")
    a = ext[(ext.arm == "A") & (ext.endpoint == "OS")]
    assert a["time_months"].iloc[-1] == 240.0 and len(a) == 241
    sub = df[df.arm == "A"]
    lam = sub.os_event.sum() / sub.os_months.sum()  # exponential MLE
    assert np.allclose(a["survival"], np.exp(-lam * a["time_months"]), atol=1e-6)
    for arm in ("A", "B"):
        p = ext[(ext.arm == arm) & (ext.endpoint == "PFS")]["survival"].to_numpy()
        o = ext[(ext.arm == arm) & (ext.endpoint == "OS")]["survival"].to_numpy()
        assert np.all(p <= o + 1e-15) and p[0] == 1.0 and np.all(np.diff(o) <= 0)


def test_extrapolation_best_and_per_arm_choice():
    df = _trial()
    fits = parametric.fit_all(df, ("exponential", "weibull", "lognormal"))
    ext = parametric.extrapolate(df, 120, distribution={("A", "OS"): "lognormal"}, fits=fits)
    assert (ext[(ext.arm == "A") & (ext.endpoint == "OS")]["distribution"] == "lognormal").all()
    best_b = parametric.best_distribution(fits[0], "B", "OS")
    assert (ext[(ext.arm == "B") & (ext.endpoint == "OS")]["distribution"] == best_b).all()


def test_bad_input():
    df = _trial()
    with pytest.raises(InputError, match="unknown"):
        parametric.extrapolate(df, 120, distribution="cauchy")
    with pytest.raises(InputError, match="horizon"):
        parametric.extrapolate(df, -1)
    with pytest.raises(InputError, match="no events"):
        parametric.fit_one(np.ones(10), np.zeros(10, bool), "weibull")


def test_background_mortality_caps_a_long_tail():
    """A plateauing Gompertz tail is capped by general-population survival from age 60 (closed form)."""
    rng = np.random.default_rng(1)
    t = _gompertz_sample(2000, 0.2, -0.1, rng)
    c = np.full(t.size, 60.0)
    df = pd.DataFrame(dict(arm="A", os_months=np.minimum(t, c), os_event=t <= c))
    df["pfs_months"], df["pfs_event"] = df["os_months"] * 0.5, df["os_event"]
    grid = np.arange(0.0, 481.0)
    bg = parametric.background_survival_on_grid(grid, 60.0, 3.5e-5, 0.0896)
    assert bg[120] == pytest.approx(math.exp(-(3.5e-5 / 0.0896) * math.exp(0.0896 * 60) * math.expm1(0.0896 * 10)))
    free = parametric.extrapolate(df, 480, distribution="gompertz")
    capped = parametric.extrapolate(df, 480, distribution="gompertz", background_survival=bg)
    f = free[free.endpoint == "OS"]["survival"].to_numpy()
    c_ = capped[capped.endpoint == "OS"]["survival"].to_numpy()
    assert np.all(c_ <= f + 1e-15) and np.all(c_ <= bg + 1e-15)
    assert f[-1] > 0.1 and c_[-1] < 0.01  # plateau ~13.5 % vs nobody alive at age 100
    ratio = c_[1:] / c_[:-1]
    assert np.all(ratio <= bg[1:] / bg[:-1] + 1e-12)
    with pytest.raises(InputError, match="background_survival"):
        parametric.extrapolate(df, 480, distribution="gompertz", background_survival=bg[:10])
