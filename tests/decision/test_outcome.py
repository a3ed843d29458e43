"""Outcome model: closed forms against numerical oracles, covariate effects, keyed randomness, bad input."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from mhtcdt.decision.model import outcome
from mhtcdt.errors import InputError


def _patients(n=400, seed=1, kill=2.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        dict(
            patient_id=np.arange(n, dtype=np.int64),
            indication="recurrent_glioblastoma",
            tumour_volume_cm3=rng.lognormal(np.log(20), 0.6, n),
            kps=rng.choice([60, 70, 80, 90, 100], n),
            age_years=rng.normal(56, 10, n),
            eloquent_location=rng.random(n) < 0.4,
            mgmt_methylated=rng.random(n) < 0.4,
            log10_kill_total=np.full(n, kill),
            log10_kill_rt=np.full(n, kill),
        )
    )


@pytest.fixture(scope="module")
def params():
    return outcome.load_outcome_params(calibrated=False)


def test_prior_file_loads_with_sources(params):
    assert set(params.free) == set(outcome.FREE_PARAMETERS)
    assert params.rano_volume_ratio == pytest.approx(1.25**1.5, rel=0.01)
    assert params.hazard_ratios["kps_le_80"] > 1 > params.hazard_ratios["mgmt_methylated"]
    assert params.draws.empty


def test_progression_time_matches_numerical_gompertz_ode(params):
    """Closed-form threshold crossing vs integrating dV/dt = rho V ln(K/V) with an event."""
    p = params.with_free(
        growth_log_sd=0.3,
        infiltrative_fraction=0.01,
        log10_kill_effectiveness=0.6,
        heat_kill_effectiveness_ratio=1.0,
    )
    v0, k_tot, k_rt = 30.0, 5.0, 2.0
    draws = outcome.PatientDraws(np.array([0.7]), np.array([1.0]), np.array([1e9]))
    res = outcome.latent_times(
        np.array([v0]), np.array([k_tot]), np.array([k_rt]), np.array([40.0]), np.array([0.0]), 6.0, draws, p
    )
    f = p.free
    vs = v0 * (
        (1 - f["infiltrative_fraction"]) * 10 ** (-0.6 * k_tot) + f["infiltrative_fraction"] * 10 ** (-0.6 * k_rt)
    )
    assert res["surviving_burden_cm3"][0] == pytest.approx(vs, rel=1e-12)
    big_k = p.carrying_capacity_cm3
    dt_days = f["volume_doubling_time_days"] * math.exp(f["growth_log_sd"] * 0.7)
    rho = math.log(2) / dt_days * outcome.DAYS_PER_MONTH / math.log(big_k / v0)

    def hit(t, y):
        return y[0] - math.log(p.rano_volume_ratio * v0)

    hit.terminal = True
    sol = integrate.solve_ivp(
        lambda t, y: [rho * math.log(big_k / math.exp(y[0]))],
        (0, 500),
        [math.log(vs)],
        events=hit,
        rtol=1e-10,
        atol=1e-12,
    )
    assert res["progression_latent_months"][0] == pytest.approx(sol.t_events[0][0], rel=1e-6)


def test_post_progression_is_weibull_with_the_given_median(params):
    p = params.with_free(pps_weibull_shape=1.7)
    n = 20000
    rng = np.random.default_rng(3)
    draws = outcome.PatientDraws(np.zeros(n), rng.standard_exponential(n), np.full(n, 1e9))
    res = outcome.latent_times(
        np.full(n, 20.0), np.full(n, 2.0), np.full(n, 2.0), np.full(n, 20.0), np.zeros(n), 7.0, draws, p
    )
    pps = res["os_latent_months"] - res["progression_latent_months"]
    scale = 7.0 / math.log(2) ** (1 / 1.7)
    ks = stats.kstest(pps, stats.weibull_min(1.7, scale=scale).cdf)
    assert ks.pvalue > 0.001
    assert np.median(pps) == pytest.approx(7.0, rel=0.03)


def test_other_cause_mortality_follows_gompertz_life_table(params):
    """Other-cause times against the analytic Gompertz survival from age 70."""
    n = 20000
    rng = np.random.default_rng(4)
    draws = outcome.PatientDraws(np.zeros(n), np.full(n, 1e9), rng.standard_exponential(n))
    res = outcome.latent_times(
        np.full(n, 20.0),
        np.full(n, 50.0),
        np.full(n, 50.0),
        np.full(n, 70.0),
        np.zeros(n),
        6.0,
        draws,
        params.with_free(infiltrative_fraction=1e-9, log10_kill_effectiveness=1.0, heat_kill_effectiveness_ratio=1.0),
    )
    a, b = params.other_cause_a_per_year, params.other_cause_b_per_year

    def surv(t_months):
        t = np.asarray(t_months) / 12
        return np.exp(-(a / b) * math.exp(b * 70) * (np.exp(b * t) - 1))

    other = res["os_latent_months"][res["death_other_cause"]]
    assert res["death_other_cause"].mean() > 0.95
    assert stats.kstest(other, lambda t: 1 - surv(t)).pvalue > 0.001


def test_more_kill_never_shortens_pfs_and_draws_are_common_across_arms(params):
    low = outcome.simulate_outcomes(_patients(kill=1.0), params, 5)
    high = outcome.simulate_outcomes(_patients(kill=3.0), params, 5)
    assert np.all(high["pfs_latent_months"] >= low["pfs_latent_months"] - 1e-12)
    assert np.all(high["os_latent_months"] >= low["os_latent_months"] - 1e-12)
    assert np.median(high["pfs_latent_months"]) > np.median(low["pfs_latent_months"])
    same = ~high["durable_control"] & ~low["durable_control"]  # same patient, same draws
    assert np.allclose(high["doubling_time_days"][same], low["doubling_time_days"][same])
    assert np.all(high["durable_control"] >= low["durable_control"])


def test_covariate_scale_reproduces_each_published_hazard_ratio(params):
    """With the scale that gives Cox slope 1 on the prognostic index, each covariate's simulated OS hazard
    ratio (multivariable Cox, lifelines) is close to its published value."""
    from lifelines import CoxPHFitter
    from scipy.optimize import brentq

    df = _patients(6000, seed=9)
    df["tumour_volume_cm3"] = np.where(np.arange(6000) % 3 == 0, 70.0, 20.0)
    lp = outcome.linear_predictor(df, params)

    def sim(c):
        return outcome.simulate_outcomes(df, params.with_covariate_scale(c), 11)["os_latent_months"].to_numpy()

    def slope(c):
        data = pd.DataFrame(dict(t=sim(c), e=1, lp=lp))
        return CoxPHFitter().fit(data, "t", "e").params_["lp"] - 1.0

    c = brentq(slope, 0.2, 2.0, xtol=1e-3)
    assert 0.3 < c < 1.0  # acceleration of a sub-exponentially dispersed time inflates the HR
    data = pd.DataFrame(
        dict(
            t=sim(c),
            e=1,
            kps_le_80=(df.kps <= 80).astype(float),
            volume_ge_50=(df.tumour_volume_cm3 >= 50).astype(float),
            eloquent=df.eloquent_location.astype(float),
            mgmt=df.mgmt_methylated.astype(float),
        )
    )
    hr = CoxPHFitter().fit(data, "t", "e").hazard_ratios_
    assert hr["kps_le_80"] == pytest.approx(params.hazard_ratios["kps_le_80"], rel=0.2)
    assert hr["volume_ge_50"] == pytest.approx(params.hazard_ratios["volume_ge_50"], rel=0.2)
    assert hr["eloquent"] == pytest.approx(params.hazard_ratios["eloquent"], rel=0.2)
    assert hr["mgmt"] == pytest.approx(params.hazard_ratios["mgmt_methylated"], rel=0.2)


def test_results_do_not_depend_on_chunking(params):
    df = _patients(300)
    whole = outcome.simulate_outcomes(df, params, 21)
    parts = pd.concat(
        [
            outcome.simulate_outcomes(df.iloc[:117], params, 21),
            outcome.simulate_outcomes(df.iloc[117:], params, 21),
        ]
    )
    assert np.array_equal(whole["os_latent_months"].to_numpy(), parts["os_latent_months"].to_numpy())
    other = outcome.simulate_outcomes(df, params, 22)
    assert not np.allclose(whole["os_latent_months"], other["os_latent_months"])


def test_pfs_never_exceeds_os(params):
    r = outcome.simulate_outcomes(_patients(2000), params, 2)
    assert np.all(r["pfs_latent_months"] <= r["os_latent_months"])
    assert np.all(r["os_latent_months"] > 0)


def test_treatment_duration_from_protocol():
    class P:
        rt_n_fractions, rt_fractions_per_week, n_sessions, session_interval_hours = 30, 5.0, 0, 84.0

    assert outcome.treatment_months(P()) == pytest.approx(42 / outcome.DAYS_PER_MONTH)


def test_bad_input_names_field(params):
    with pytest.raises(InputError, match="log10_kill_total"):
        outcome.simulate_outcomes(_patients().drop(columns="log10_kill_total"), params, 1)
    with pytest.raises(InputError, match="calibrated only"):
        outcome.simulate_outcomes(_patients().assign(indication="melanoma"), params, 1)
    # prostate (and pancreas) have their own base file and calibration: the glioblastoma parameters refuse them
    # as a plain string (not np.str_(...))
    with pytest.raises(InputError, match="made for recurrent_glioblastoma") as info:
        outcome.simulate_outcomes(_patients().assign(indication="prostate"), params, 1)
    assert info.value.field == "patients.indication" and type(info.value.value) is str
    assert "np.str_" not in info.value.line()
    with pytest.raises(InputError, match="tumour_volume_cm3"):
        outcome.simulate_outcomes(_patients().assign(tumour_volume_cm3=-1.0), params, 1)
    with pytest.raises(InputError, match="infiltrative_fraction"):
        params.with_free(infiltrative_fraction=1.5)
    with pytest.raises(InputError, match="unknown free"):
        params.with_free(bogus=1.0)
    with pytest.raises(InputError, match="no calibration draws"):
        params.draw(0)


def test_separate_rt_and_heat_effectiveness(params):
    """K_eff = e K_rt + r e (K_total - K_rt): the surviving burden against the closed form, r = 1 is the
    old shared factor bit for bit, and a larger heat ratio never leaves more tumour."""
    v0, k_tot, k_rt = 30.0, 5.0, 2.0
    draws = outcome.PatientDraws(np.array([0.1]), np.array([1.0]), np.array([1e9]))

    def burden(**free):
        p = params.with_free(infiltrative_fraction=0.01, log10_kill_effectiveness=0.4, **free)
        args = (np.array([v0]), np.array([k_tot]), np.array([k_rt]), np.array([50.0]), np.array([0.0]), 6.0)
        return outcome.latent_times(*args, draws, p)["surviving_burden_cm3"][0]

    e, r, f = 0.4, 2.5, 0.01
    closed = v0 * ((1 - f) * 10 ** (-(e * k_rt + r * e * (k_tot - k_rt))) + f * 10 ** (-e * k_rt))
    assert burden(heat_kill_effectiveness_ratio=r) == pytest.approx(closed, rel=1e-12)
    shared = v0 * ((1 - f) * 10 ** (-e * k_tot) + f * 10 ** (-e * k_rt))
    assert burden(heat_kill_effectiveness_ratio=1.0) == shared  # exactly the shared-factor model
    kt = np.array([1.0, 3.0, 7.5])
    assert np.array_equal(outcome.effective_log10_kill(kt, kt - 1.0, 0.29), 0.29 * kt)
    ratios = [0.5, 1.0, 1.5, 3.0]
    assert np.all(np.diff([burden(heat_kill_effectiveness_ratio=q) for q in ratios]) < 0)


def _calibration_without_heat_ratio(tmp_path):
    """The packaged calibration file with the heat/RT ratio removed from its point and every draw (a file
    written before the factors were separated)."""
    import tomllib

    import tomli_w

    doc = tomllib.loads(outcome.DEFAULT_CALIBRATION_PATH.read_text())
    doc["free"].pop("heat_kill_effectiveness_ratio")
    for row in doc["draws"]:
        row.pop("heat_kill_effectiveness_ratio")
    path = tmp_path / "old.toml"
    path.write_text(tomli_w.dumps(doc))
    return doc, path


def test_calibration_file_without_heat_ratio_loads_linked(tmp_path):
    """A calibration written before the factors were separated loads with r = 1 in its point and every draw."""
    import warnings

    import tomli_w

    doc, path = _calibration_without_heat_ratio(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the edited file's hash is not the physics hash's business here
        p = outcome.load_outcome_params(path)
        assert p.free["heat_kill_effectiveness_ratio"] == 1.0
        assert set(p.draws["heat_kill_effectiveness_ratio"]) == {1.0}
        assert p.free["growth_log_sd"] == pytest.approx(doc["free"]["growth_log_sd"])
        doc["free"].pop("growth_log_sd")
        path.write_text(tomli_w.dumps(doc))
        with pytest.raises(InputError, match="growth_log_sd"):
            outcome.load_outcome_params(path)
    with pytest.raises(InputError, match="heat_kill_effectiveness_ratio"):
        p.with_free(heat_kill_effectiveness_ratio=20.0)


def test_psa_takes_the_heat_ratio_from_the_calibration_draws_and_the_prior_only_as_fallback(tmp_path):
    """The PSA samples the heat/RT effectiveness ratio from the calibration's posterior when the draws carry it;
    the registry's prior is used only for a calibration file without it (loaded at the constant 1)."""
    import warnings

    from mhtcdt.decision.model.physics_psa import psa_inputs
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()
    packaged = outcome.load_outcome_params()
    assert np.ptp(packaged.draws["heat_kill_effectiveness_ratio"].to_numpy()) > 0
    item = psa_inputs(sc, packaged)["heat_kill_effectiveness_ratio"]
    assert item.distribution.kind == "calibration" and not item.distribution.is_sampled
    assert psa_inputs(sc)["heat_kill_effectiveness_ratio"].distribution.kind == "loguniform"
    _, path = _calibration_without_heat_ratio(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = outcome.load_outcome_params(path)
    assert psa_inputs(sc, legacy)["heat_kill_effectiveness_ratio"].distribution.kind == "loguniform"
