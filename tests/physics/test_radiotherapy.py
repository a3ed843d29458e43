"""LQ radiotherapy: closed forms, standard schedules, repopulation, thermal radiosensitisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics import radiotherapy as rt

GBM = rt.radiobiology("recurrent_glioblastoma")


def test_gbm_parameters_are_pedicini() -> None:
    assert GBM.alpha_per_Gy == 0.12
    assert GBM.alpha_beta_Gy == pytest.approx(8.0)
    assert GBM.beta_per_Gy2 == pytest.approx(0.015)


def test_maier_hauff_schedule_log_kill_closed_form() -> None:
    total, n, per_week = rt.schedule("maier_hauff_recurrent")
    assert (total, n, per_week) == (30.0, 15, 5.0)
    ln37, _ = rt.rt_log_survival_elements(total, n, per_week, GBM)
    # 15 x (0.12*2 + 0.015*4) = 4.5; no repopulation (19 days < 37-day kick-off)
    assert ln37 == pytest.approx(-4.5, rel=1e-12)
    assert -ln37 / math.log(10) == pytest.approx(1.954, abs=1e-3)


def test_lq_equals_biologically_effective_dose_form() -> None:
    for d, n in [(2.0, 30), (3.5, 10), (1.8, 28), (8.0, 3)]:
        bed = n * d * (1 + d / GBM.alpha_beta_Gy)
        assert rt.lq_log_survival(d, n, GBM.alpha_per_Gy, GBM.beta_per_Gy2) == pytest.approx(-GBM.alpha_per_Gy * bed)


def test_stupp_schedule_includes_repopulation_after_kickoff() -> None:
    total, n, per_week = rt.schedule("stupp_newly_diagnosed")
    days = rt.fraction_days(n, per_week)
    assert days[-1] == 39.0  # 6 weeks of weekdays: last fraction on day 39
    ln37, _ = rt.rt_log_survival_elements(total, n, per_week, GBM)
    expected = -30 * (0.24 + 0.06) + math.log(2) / 15.4 * (39 - 37)
    assert ln37 == pytest.approx(expected, rel=1e-12)


def test_rtog_1205_schedule() -> None:
    total, n, per_week = rt.schedule("rtog_1205_reirradiation")
    ln37, _ = rt.rt_log_survival_elements(total, n, per_week, GBM)
    assert ln37 == pytest.approx(-10 * (0.12 * 3.5 + 0.015 * 3.5**2), rel=1e-12)


def test_fraction_calendar_skips_weekends() -> None:
    np.testing.assert_array_equal(rt.fraction_days(7, 5.0), [0, 1, 2, 3, 4, 7, 8])
    np.testing.assert_array_equal(rt.fraction_days(4, 2.0), [0, 1, 7, 8])
    np.testing.assert_array_equal(rt.fraction_days(4, 3.5), [0, 2, 4, 6])


def test_thermal_enhancement_is_capped_within_its_measured_range() -> None:
    """Above the cap heat adds no radiosensitisation (it kills directly): TER(60 C) = TER(43 C), and at the cap a
    2 Gy glioblastoma fraction is enhanced ~1.9x, below the murine simultaneous maximum TER ~2.5 (Overgaard 1980
    IJROBP abstract); without the cap the fit gave alpha x 23 at 60 C."""
    temps = np.array([[43.0], [50.0], [60.0]])

    def ter(cap: float | None) -> np.ndarray:
        ln37, ln_h = rt.rt_log_survival_elements(
            2.0,
            1,
            5.0,
            GBM,
            element_session_mean_C=temps,
            session_start_hours=np.array([0.0]),
            session_hours=1.0,
            rt_heat_interval_hours=0.0,
            trs=rt.thermoradiosensitisation(cap),
        )
        return ln_h / ln37

    capped = ter(None)
    np.testing.assert_allclose(capped, capped[0], rtol=1e-12)
    assert 1.5 < capped[0] < 2.5
    assert ter(44.0)[2] > capped[2]  # a higher cap (an uncertain input) enhances more
    assert 1.73**5.75 == pytest.approx(23.3, rel=0.01)  # the uncapped alpha factor at 60 C (the 23)
    with pytest.raises(InputError):
        rt.thermoradiosensitisation(36.0)


def test_thermal_radiosensitisation_closed_form() -> None:
    trs = rt.thermoradiosensitisation()
    # one fraction of 2 Gy given right after a session at 41 C: alpha x 1.73, beta x 0.41
    ln37, ln_h = rt.rt_log_survival_elements(
        2.0,
        1,
        5.0,
        GBM,
        element_session_mean_C=np.array([[41.0], [37.0], [45.0]]),
        session_start_hours=np.array([0.0]),
        session_hours=1.0,
        rt_heat_interval_hours=0.0,
        trs=trs,
    )
    assert ln_h[0] == pytest.approx(-(0.12 * 1.73 * 2 + 0.015 * 0.41 * 4), rel=1e-12)
    assert ln_h[1] == pytest.approx(ln37)
    x = 1.5  # 45 C is evaluated at the 43 C cap: exponent (43-37)/4 = 1.5
    assert trs.temperature_cap_C == 43.0
    assert ln_h[2] == pytest.approx(-(0.12 * 1.73**x * 2 + 0.015 * 0.41**x * 4), rel=1e-12)
    # the effect decays with the heat-RT interval as exp(-mu dt)
    _, later = rt.rt_log_survival_elements(
        2.0,
        1,
        5.0,
        GBM,
        element_session_mean_C=np.array([[41.0]]),
        session_start_hours=np.array([0.0]),
        session_hours=1.0,
        rt_heat_interval_hours=4.0,
        trs=trs,
    )
    e = math.exp(-trs.mu_per_hour * 4.0)
    assert later[0] == pytest.approx(-(0.12 * 1.73**e * 2 + 0.015 * 0.41**e * 4), rel=1e-12)
    assert ln_h[0] < later[0] < ln37


def test_fraction_follows_same_day_session() -> None:
    starts = np.array([0.0, 84.0])  # Monday 00:00 and Thursday 12:00
    times = rt.fraction_times_hours(5, 5.0, starts, 1.0, 1.0)
    assert times[0] == 2.0  # Monday: 1 h session + 1 h interval
    assert times[3] == 84.0 + 2.0  # Thursday: after that day's session
    assert times[1] == 24.0 + 2.0  # Tuesday: same clock time, no session


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-2.0, 1, 5.0), "rt_total_dose_Gy"),
        ((30.0, 0, 5.0), "rt_n_fractions"),
        ((30.0, 15, 0.0), "rt_fractions_per_week"),
    ],
)
def test_bad_schedules_are_refused(args: tuple, field: str) -> None:
    with pytest.raises(InputError) as exc:
        rt.check_schedule(*args)
    assert exc.value.field == field


def test_unknown_indication_lists_known() -> None:
    with pytest.raises(InputError, match="recurrent_glioblastoma"):
        rt.radiobiology("melanoma")


def test_deterministic_thermal_enhancement_is_the_median_of_its_psa_distribution() -> None:
    """One data entry (radiobiology.toml [thermoradiosensitisation.enhancement]) gives both the PSA's distribution
    of the thermal-enhancement scale s and the deterministic default, which is its median; the PSA registry reads
    the same entry. At that centre a 2 Gy glioblastoma fraction right after 41 C is enhanced by a TER inside the
    clinical 1.2-2 (dossier section 8), below the fit as fitted (s = 1)."""
    from scipy import stats

    from mhtcdt.decision.scenario import uncertain_inputs as ui
    from mhtcdt.physics import Assumptions

    d = rt.thermal_enhancement_distribution()
    median = stats.uniform(d["low"], d["high"] - d["low"]).median()
    assert Assumptions().thermal_enhancement_factor == pytest.approx(median, rel=1e-12)
    assert rt.thermal_enhancement_factor_default() == pytest.approx(0.875)
    item = ui.registry()["thermal_enhancement_factor"]
    assert item.distribution.centre() == pytest.approx(Assumptions().thermal_enhancement_factor, rel=1e-12)
    assert (item.distribution.low, item.distribution.high) == (d["low"], d["high"]) and item.source == d["source"]

    def ter(s: float, temp_C: float) -> float:
        # dose at 37 C with the same log survival as one 2 Gy fraction right after a session at temp_C
        trs = rt.thermoradiosensitisation()
        a = trs.alpha41_over_alpha37 ** (s * (temp_C - 37.0) / 4.0)
        b = trs.beta41_over_beta37 ** (s * (temp_C - 37.0) / 4.0)
        alpha, beta = GBM.alpha_per_Gy, GBM.beta_per_Gy2
        effect = alpha * a * 2.0 + beta * b * 4.0
        return (-alpha + np.sqrt(alpha**2 + 4 * beta * effect)) / (2 * beta) / 2.0

    centre = Assumptions().thermal_enhancement_factor
    assert 1.2 < ter(centre, 41.0) < ter(1.0, 41.0)
    assert ter(centre, 43.0) < 2.0
    assert ter(d["high"], 43.0) == pytest.approx(2.5, abs=0.05)  # the murine simultaneous maximum (Overgaard 1980)
