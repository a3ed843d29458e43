"""One arm chain: the pipeline's treated patients and the counterfactual pools come from the same
treatment of the same patient with the same stream, so a patient's physics is the same in both."""

from __future__ import annotations

import pandas as pd
import pytest

from mhtcdt.decision.run.arm_chain import ArmSeeds, pools_from_scenario, treat_arms
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.streams import physics_seed
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_sequence

PHYSICS_COLUMNS = ["t90_C", "cem43_t90_min", "log10_kill_total", "log10_kill_rt", "surviving_fraction"]


@pytest.fixture(scope="module")
def scenario():
    base = default_scenario()
    return base.model_copy(update={"cohort": base.cohort.model_copy(update={"n_screened": 80})})


def test_pipeline_patients_have_their_counterfactual_pool_physics(scenario):
    result = run_pipeline(scenario, seed=4)
    arms = tuple(a.name for a in scenario.randomised_arms)
    pools, months = pools_from_scenario(scenario, arms, scenario.cohort.n_screened, 4)
    for name in arms:
        treated = result.trial[result.trial["arm"] == name]
        both = treated.merge(pools[name], on="patient_id", suffixes=("", "_pool"), validate="one_to_one")
        assert len(both) == len(treated) > 0
        for col in PHYSICS_COLUMNS:
            pd.testing.assert_series_equal(both[col], both[f"{col}_pool"], check_names=False)
        assert (treated["treatment_months"] == months[name]).all()


def test_arm_i_draws_from_child_i_of_the_physics_seed(scenario):
    result = run_pipeline(scenario, seed=4)
    randomised = result.trial[
        [
            c
            for c in result.trial.columns
            if c in ("patient_id", "arm", "stratum", "entry_months") or c in result.cohort.columns
        ]
    ]
    again = treat_arms(randomised, scenario.randomised_arms, child_sequence(4, 2))
    pd.testing.assert_frame_equal(again[PHYSICS_COLUMNS], result.trial[PHYSICS_COLUMNS])
    assert child_sequence(child_sequence(4, 2), 1).spawn_key == physics_seed(4, 1).spawn_key
    with pytest.raises(InputError):
        treat_arms(randomised.assign(arm="no such arm"), scenario.randomised_arms, child_sequence(4, 2))
    assert ArmSeeds(child_sequence(4, 2), child_sequence(4, 3)).outcome.spawn_key == (3,)
