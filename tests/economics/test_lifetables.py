"""Life-table lookup and proportional hazards: the total hip replacement model of Briggs et al. (2006)
to every published digit, plus closed forms.

The THR model (exercise 3.5) has age-specific background mortality from a life table by cycle and a
Weibull revision hazard with a proportional-hazards effect of the new prosthesis: it exercises
``LifeTable.annual_probability``, ``survival.proportional_hazards`` (with the log hazard ratio of the
regression) and ``survival.interval_event_probabilities`` together in ``run_markov``. Expected numbers
and inputs: tests/economics/data/thr_markov_dmhee.toml (with source). R reproduction by heemod
(test_dmhee.R, abridged):

    thr <- run_model(standard = mod_standard, np1 = mod_np1, parameters = param, cycles = 61,
                     cost = cost, effect = utility, method = "beginning", init = c(1, 0, 0, 0, 0))
"""

import tomllib
from pathlib import Path

import numpy as np
import pytest

from mhtcdt.economics import Conventions, MarkovStrategy, StateValues, incremental_analysis, run_markov
from mhtcdt.economics import survival as sv
from mhtcdt.economics.lifetables import LifeTable, life_table, life_tables
from mhtcdt.errors import InputError

DATA = Path(__file__).with_name("data") / "thr_markov_dmhee.toml"


def _thr():
    with DATA.open("rb") as fh:
        d = tomllib.load(fh)
    table = life_table("uk_dmhee")
    male = 1.0 if d["sex"] == "male" else 0.0
    lam = np.exp(d["revision_cons"] + d["revision_age_coef"] * d["age_start_years"] + d["revision_male_coef"] * male)
    gamma = np.exp(d["revision_log_gamma"])
    t = np.arange(d["cycles"] + 1, dtype=float)
    standard = sv.weibull(t, gamma, lam ** (-1.0 / gamma))  # exp(-lam t^gamma) in the scale parameterisation
    np1 = sv.proportional_hazards(standard, log_hazard_ratio=d["log_hazard_ratio_np1"])
    revision = {"standard": sv.interval_event_probabilities(standard), "np1": sv.interval_event_probabilities(np1)}

    def transitions(arm):
        def matrix(cycle):
            mr = float(table.annual_probability(d["age_start_years"] + cycle, d["sex"]))
            rr = revision[arm][cycle - 1]
            omr_p, omr_r, rrr = (
                d["operative_mortality_primary"],
                d["operative_mortality_revision"],
                d["re_revision_probability"],
            )
            return np.array(
                [
                    [0.0, 1 - omr_p, 0.0, 0.0, omr_p],
                    [0.0, 1 - rr - mr, rr, 0.0, mr],
                    [0.0, 0.0, 0.0, 1 - omr_r - mr, omr_r + mr],
                    [0.0, 0.0, rrr, 1 - rrr - mr, mr],
                    [0.0, 0.0, 0.0, 0.0, 1.0],
                ]
            )

        return matrix

    utilities = [0.0, d["utility_success_primary"], d["utility_revision"], d["utility_success_revision"], 0.0]
    strategies = [
        MarkovStrategy(
            arm,
            transitions(arm),
            StateValues([d["cost_primary"][arm], 0.0, d["cost_revision"], 0.0, 0.0], utilities, costs_per="cycle"),
        )
        for arm in ("standard", "np1")
    ]
    conv = Conventions(d["discount_costs"], d["discount_effects"], counting="beginning", discount_method="discrete")
    res = run_markov(d["states"], strategies, [1, 0, 0, 0, 0], conv, n_cycles=d["cycles"], dead_states=["death"])
    return d, res


def test_thr_model_reproduces_published_results_to_every_digit():
    d, res = _thr()
    df = res.results.set_index("strategy")
    for arm in ("standard", "np1"):
        assert abs(df.loc[arm, "cost"] - d["results"][arm]["cost"]) < 5e-7  # printed to 6 decimals
        assert abs(df.loc[arm, "qalys"] - d["results"][arm]["qalys"]) < 5e-8
    inc = incremental_analysis(res.results).set_index("strategy")
    assert abs(inc.loc["np1", "icer"] - d["results"]["icer"]) < 5e-6
    trace = res.traces["standard"][0]
    np.testing.assert_allclose(trace[1:4, 1:], d["results"]["standard_counts"], atol=5e-9)


def test_life_table_lookup_by_band_and_sex():
    table = life_table("uk_dmhee")
    assert "uk_dmhee" in life_tables() and table.verified is False and "Briggs" in table.source
    ages = np.array([35.0, 44.99, 45.0, 61.0, 84.0, 85.0, 102.0])
    np.testing.assert_array_equal(
        table.annual_probability(ages, "female"), [0.00099, 0.00099, 0.0026, 0.0067, 0.0535, 0.1548, 0.1548]
    )
    assert table.annual_probability(70, "male") == 0.0316
    # monthly cycles: constant hazard within the year, 12 monthly survivals make the annual one
    q_month = table.cycle_probability(ages, "male", cycle_years=1 / 12)
    np.testing.assert_allclose((1 - q_month) ** 12, 1 - table.annual_probability(ages, "male"), rtol=1e-13)
    np.testing.assert_array_equal(table.cycle_probability(ages, "male"), table.annual_probability(ages, "male"))
    with pytest.raises(InputError, match="starts at age 35"):
        table.annual_probability(30.0, "female")
    with pytest.raises(InputError):
        table.annual_probability(50.0, "other")
    with pytest.raises(InputError):
        life_table("atlantis")
    with pytest.raises(InputError):
        LifeTable("bad", np.array([30.0, 20.0]), {"female": [0.1, 0.2], "male": [0.1, 0.2]}, "s", False)


def test_proportional_hazards_closed_forms():
    t = np.linspace(0, 40, 81)
    hr = 0.6
    # Weibull: an HR rescales the scale by HR^(-1/shape) (not by HR: that would be a time ratio)
    np.testing.assert_allclose(
        sv.proportional_hazards(sv.weibull(t, 1.4, 12.0), hr), sv.weibull(t, 1.4, 12.0 * hr ** (-1 / 1.4)), rtol=1e-12
    )
    assert not np.allclose(sv.proportional_hazards(sv.weibull(t, 1.4, 12.0), hr), sv.weibull(t, 1.4, 12.0 / hr))
    # exponential and Gompertz: the rate is multiplied by the HR
    np.testing.assert_allclose(
        sv.proportional_hazards(sv.exponential(t, 0.05), hr), sv.exponential(t, 0.03), rtol=1e-12
    )
    np.testing.assert_allclose(
        sv.proportional_hazards(sv.gompertz(t, 0.08, 0.01), hr), sv.gompertz(t, 0.08, 0.006), rtol=1e-12
    )
    # the log hazard ratio of a regression gives the same; HR draws broadcast over the leading axes
    base = sv.loglogistic(t, 1.8, 10.0)
    np.testing.assert_allclose(sv.proportional_hazards(base, log_hazard_ratio=np.log(hr)), base**hr, rtol=1e-13)
    draws = sv.proportional_hazards(base, np.array([[0.5, 1.0], [2.0, 0.7]]))
    assert draws.shape == (2, 2, t.size)
    np.testing.assert_allclose(draws[1, 0], base**2.0)
    # the hazard ratio holds at every time: numerical hazards of both curves
    s0, s1 = sv.lognormal(t[1:], 2.0, 0.7), sv.proportional_hazards(sv.lognormal(t[1:], 2.0, 0.7), hr)
    np.testing.assert_allclose(np.diff(np.log(s1)) / np.diff(np.log(s0)), hr, rtol=1e-10)
    for bad in ({"hazard_ratio": 0.0}, {"hazard_ratio": -1.0}, {}, {"hazard_ratio": 1.0, "log_hazard_ratio": 0.0}):
        with pytest.raises(InputError):
            sv.proportional_hazards(base, **bad)


def test_interval_event_probabilities():
    t = np.arange(0.0, 11.0)
    q = sv.interval_event_probabilities(sv.exponential(t, 0.2))
    np.testing.assert_allclose(q, 1 - np.exp(-0.2), rtol=1e-13)  # constant hazard: constant probability
    s = np.array([1.0, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(sv.interval_event_probabilities(s), [0.5, 1.0, 1.0])
    with pytest.raises(InputError, match="increase"):
        sv.interval_event_probabilities(np.array([1.0, 0.5, 0.6]))
