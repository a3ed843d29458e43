"""Systemic therapy, durable control and the disease setting in the outcome model, against closed forms."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model.setting import apply_setting
from mhtcdt.errors import InputError
from mhtcdt.physics import Protocol


@pytest.fixture(scope="module")
def params():
    return outcome.load_outcome_params(calibrated=False)


def _run(params, n=1, *, kill_total=2.0, kill_rt=2.0, systemic=None, z_control=None, e_pps=1.0, seed=0):
    rng = np.random.default_rng(seed)
    draws = outcome.PatientDraws(
        np.zeros(n), np.full(n, e_pps), np.full(n, 1e9), None if z_control is None else np.asarray(z_control, float)
    )
    return outcome.latent_times(
        np.full(n, 20.0),
        np.full(n, kill_total),
        np.full(n, kill_rt),
        np.full(n, 50.0),
        np.zeros(n),
        6.0,
        draws,
        params,
        systemic=systemic,
    ) | {"rng": rng}


def _systemic(n, courses=0.0, lomustine=False, bevacizumab=False, mgmt=False, treated=True):
    return outcome.Systemic(
        np.full(n, courses), np.full(n, lomustine), np.full(n, bevacizumab), np.full(n, mgmt), np.full(n, treated)
    )


def test_effective_kill_formula_with_separate_rt_and_heat_effectiveness(params):
    """V_s = V0 ((1 - f) 10^-(e K_rt + r e (K_tot - K_rt) + S) + f 10^-(e K_rt + S)), e_heat = r e = 0.7."""
    p = params.with_free(
        log10_kill_effectiveness=0.3,
        heat_kill_effectiveness_ratio=0.7 / 0.3,
        infiltrative_fraction=0.02,
        temozolomide_log10_kill_methylated=1.2,
        mgmt_unmethylated_alkylator_ratio=0.25,
    )
    for mgmt, factor in ((True, 1.0), (False, 0.25)):
        r = _run(p, kill_total=5.0, kill_rt=3.0, systemic=_systemic(1, courses=1.0, mgmt=mgmt))
        s = 1.2 * factor
        sf = 0.98 * 10 ** -(0.3 * 3 + 0.7 * 2 + s) + 0.02 * 10 ** -(0.3 * 3 + s)
        assert r["surviving_burden_cm3"][0] == pytest.approx(20.0 * sf, rel=1e-12)
        assert r["effective_log10_kill"][0] == pytest.approx(-math.log10(sf), rel=1e-12)


def test_temozolomide_courses_follow_the_cumulative_dose(params):
    stupp = Protocol(rt_total_dose_Gy=60, rt_n_fractions=30, tmz_concomitant=True, tmz_adjuvant_cycles=6)
    assert outcome.temozolomide_courses(stupp, params) == pytest.approx(1.0)
    half = Protocol(rt_total_dose_Gy=60, rt_n_fractions=30, tmz_concomitant=True, tmz_adjuvant_cycles=0)
    assert outcome.temozolomide_courses(half, params) == pytest.approx(3150 / 8400)
    assert outcome.temozolomide_courses(Protocol(tmz_adjuvant_cycles=3), params) == pytest.approx(3 * 875 / 8400)
    cols = outcome.systemic_columns(Protocol(lomustine=True), params)
    assert cols == {
        "temozolomide_courses": 0.0,
        "lomustine": True,
        "bevacizumab": False,
        "tumour_specific_treatment": True,
        "gemcitabine_cycles": 0,
        "folfirinox_cycles": 0,
    }
    assert outcome.systemic_columns(Protocol(), params)["tumour_specific_treatment"] is False


def test_bevacizumab_delays_radiological_progression_and_leaves_survival_unchanged(params):
    p = params.with_free(bevacizumab_progression_time_ratio=2.5)
    n = 500
    rng = np.random.default_rng(1)
    draws = outcome.PatientDraws(rng.standard_normal(n), rng.standard_exponential(n), rng.standard_exponential(n))
    args = (np.full(n, 20.0), np.full(n, 1.0), np.full(n, 1.0), np.full(n, 60.0), np.zeros(n), 6.0, draws, p)
    off = outcome.latent_times(*args, systemic=_systemic(n))
    on = outcome.latent_times(*args, systemic=_systemic(n, bevacizumab=True))
    assert np.array_equal(on["os_latent_months"], off["os_latent_months"])
    assert np.allclose(on["progression_latent_months"], 2.5 * off["progression_latent_months"])
    assert np.all(on["pfs_latent_months"] >= off["pfs_latent_months"])
    assert np.all(on["pfs_latent_months"] <= on["os_latent_months"])


def test_durable_control_share_is_the_population_tcp(params):
    """With a fixed effective kill L, the share with durable control is Phi((L - L50) / sd) (probit TCP)."""
    p = params.with_free(
        durable_control_log10_kill_50=1.0,
        durable_control_log10_kill_sd=0.5,
        infiltrative_fraction=1e-5,
        log10_kill_effectiveness=0.5,
        heat_kill_effectiveness_ratio=1.0,
    )
    n = 40000
    z = np.random.default_rng(7).standard_normal(n)
    r = _run(p, n, kill_total=2.0, kill_rt=2.0, z_control=z)
    expected = stats.norm.cdf((r["effective_log10_kill"][0] - 1.0) / 0.5)
    share = r["durable_control"].mean()
    assert share == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))
    slow = r["doubling_time_days"][r["durable_control"]]
    fast = r["doubling_time_days"][~r["durable_control"]]
    assert slow == pytest.approx(fast[0] / p.free["durable_growth_ratio"])  # regrowth slowed by the ratio
    more = _run(p, n, kill_total=3.0, kill_rt=3.0, z_control=z)
    assert np.all(more["durable_control"] >= r["durable_control"])  # more kill never removes control


def test_supportive_care_shortens_post_progression_survival_only(params):
    p = params.with_free(pps_ratio_supportive_care=0.4, pps_weibull_shape=1.5)
    treated = _run(p, kill_total=0.0, kill_rt=0.0, systemic=_systemic(1, treated=True))
    bsc = _run(p, kill_total=0.0, kill_rt=0.0, systemic=_systemic(1, treated=False))
    pps_t = treated["os_latent_months"] - treated["progression_latent_months"]
    pps_b = bsc["os_latent_months"] - bsc["progression_latent_months"]
    assert bsc["progression_latent_months"] == pytest.approx(treated["progression_latent_months"])
    assert pps_b == pytest.approx(0.4 * pps_t)


def test_newly_diagnosed_setting_uses_its_own_post_progression_median(params):
    from mhtcdt.cohorts import generate_cohort

    cohort = apply_setting(generate_cohort("recurrent_glioblastoma", 50, 3), "newly_diagnosed")
    assert (cohort["recurrence_number"] == 0).all() and not cohort["prior_radiotherapy"].any()
    assert (cohort["indication"] == "recurrent_glioblastoma").all()  # the physics keeps the generator's
    pps = outcome.pps_median_for(cohort, params)
    assert np.all(pps == params.free["pps_median_months_newly_diagnosed"])
    with pytest.raises(InputError, match="disease_setting"):
        apply_setting(generate_cohort("prostate", 5, 3), "newly_diagnosed")


def test_protocol_effects_and_validation():
    assert outcome.protocol_effects(Protocol()) == []
    stupp = Protocol(rt_total_dose_Gy=60, rt_n_fractions=30, tmz_concomitant=True, tmz_adjuvant_cycles=6)
    assert outcome.protocol_effects(stupp) == ["radiotherapy", "temozolomide"]
    assert outcome.protocol_effects(Protocol(lomustine=True, bevacizumab=True)) == ["lomustine", "bevacizumab"]
    with pytest.raises(InputError, match="tmz_concomitant"):
        Protocol(tmz_concomitant=True)
    with pytest.raises(InputError, match="tmz_adjuvant_cycles"):
        Protocol(tmz_adjuvant_cycles=13)


def test_simulate_outcomes_reads_the_systemic_columns(params):
    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame(
        dict(
            patient_id=np.arange(n),
            indication="recurrent_glioblastoma",
            tumour_volume_cm3=rng.lognormal(3, 0.5, n),
            kps=80,
            age_years=55.0,
            mgmt_methylated=True,
            log10_kill_total=1.0,
            log10_kill_rt=1.0,
        )
    )
    base = outcome.simulate_outcomes(df, params, 4)
    lom = outcome.simulate_outcomes(df.assign(lomustine=True), params, 4)
    assert np.all(lom["pfs_latent_months"] >= base["pfs_latent_months"])
    assert np.median(lom["os_latent_months"]) > np.median(base["os_latent_months"])
    with pytest.raises(InputError, match="temozolomide_courses"):
        outcome.simulate_outcomes(df.assign(temozolomide_courses=-1.0), params, 4)
