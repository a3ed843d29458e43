"""Trial engine: stratified permuted blocks, accrual, dropout, cut-off; design validation."""

import math

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.trial import design
from mhtcdt.decision.trial.design import TrialDesign
from mhtcdt.errors import InputError, InputErrors


def _eligible(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        dict(
            patient_id=np.arange(n, dtype=np.int64),
            mgmt_methylated=rng.random(n) < 0.4,
            eloquent_location=rng.random(n) < 0.5,
        )
    )


def _design(**kw):
    base = dict(
        allocation={"A": 1, "B": 1},
        stratify_by=["mgmt_methylated", "eloquent_location"],
        block_size=4,
        accrual_per_month=10.0,
        min_follow_up_months=12.0,
        dropout_per_year=0.0,
    )
    base.update(kw)
    return TrialDesign(**base)


def test_permuted_blocks_balance_every_stratum_2_to_1():
    d = _design(allocation={"A": 2, "B": 1}, block_size=6)
    r = design.randomise(_eligible(), d, 3)
    for _, g in r.groupby("stratum"):
        arms = g["arm"].to_numpy()
        n_full = len(arms) // 6
        for k in range(n_full):  # every complete block holds exactly 4 A and 2 B
            block = arms[6 * k : 6 * k + 6]
            assert (block == "A").sum() == 4 and (block == "B").sum() == 2
        assert abs((arms == "A").sum() - 2 * (arms == "B").sum()) <= 6
    assert r["stratum"].nunique() == 4
    assert set(r["stratum"]) >= {"mgmt_methylated=True|eloquent_location=False"}


def test_blocks_are_random_not_fixed():
    r1 = design.randomise(_eligible(), _design(), 1)
    r2 = design.randomise(_eligible(), _design(), 2)
    assert not np.array_equal(r1["arm"].to_numpy(), r2["arm"].to_numpy())
    r1b = design.randomise(_eligible(), _design(), 1)
    assert np.array_equal(r1["arm"].to_numpy(), r1b["arm"].to_numpy())


def test_accrual_is_poisson_at_the_given_rate():
    r = design.randomise(_eligible(4000), _design(accrual_per_month=20.0), 5)
    gaps = np.diff(r["entry_months"].to_numpy())
    assert r["entry_months"].iloc[0] == 0.0
    assert gaps.mean() == pytest.approx(1 / 20.0, rel=0.05)
    assert gaps.std() == pytest.approx(1 / 20.0, rel=0.08)  # exponential: sd = mean


def _with_latent(df, os_months=1000.0):
    out = df.copy()
    out["pfs_latent_months"] = os_months / 2
    out["os_latent_months"] = os_months
    return out


def test_administrative_censoring_at_default_cutoff():
    d = _design(min_follow_up_months=6.0)
    r = _with_latent(design.randomise(_eligible(200), d, 7), os_months=1000.0)
    f = design.apply_follow_up(r, d, 8)
    cutoff = r["entry_months"].max() + 6.0
    assert np.allclose(f["os_months"], cutoff - r["entry_months"])
    assert not f["os_event"].any()
    assert f["os_months"].min() == pytest.approx(6.0)


def test_events_before_censoring_are_observed():
    d = _design(data_cutoff_months=100.0)
    r = design.randomise(_eligible(200), d, 7)
    r["os_latent_months"] = np.linspace(1, 150, 200)
    r["pfs_latent_months"] = r["os_latent_months"] / 2
    f = design.apply_follow_up(r, d, 8)
    expect = r["os_latent_months"] <= 100.0 - r["entry_months"]
    assert np.array_equal(f["os_event"].to_numpy(), expect.to_numpy())
    assert np.all(f["pfs_months"] <= f["os_months"])


def test_dropout_rate_matches_annual_probability_and_is_keyed_by_patient():
    d = _design(dropout_per_year=0.2, data_cutoff_months=2000.0, accrual_per_month=1000.0)
    r = _with_latent(design.randomise(_eligible(5000), d, 9), os_months=12.0)
    f = design.apply_follow_up(r, d, 10)
    lost_in_year = (~f["os_event"]).mean()
    assert lost_in_year == pytest.approx(0.2, abs=0.02)
    shuffled = design.apply_follow_up(r.sample(frac=1.0, random_state=1), d, 10).sort_index()
    assert np.array_equal(shuffled["censor_months"].to_numpy(), f["censor_months"].to_numpy())


@pytest.mark.parametrize(
    "alloc,expected",
    [
        ({"A": 1, "B": 1}, {"A": 1, "B": 1}),
        ({"A": 0.5, "B": 0.5}, {"A": 1, "B": 1}),
        ({"A": 2, "B": 1}, {"A": 2, "B": 1}),
        ({"A": 1.5, "B": 1}, {"A": 3, "B": 2}),
        ({"A": 4, "B": 2}, {"A": 2, "B": 1}),
    ],
)
def test_integer_weights(alloc, expected):
    assert design.integer_weights(alloc) == expected


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(allocation={"A": 1}), "allocation"),
        (dict(allocation={"A": 1, "B": 0}), "allocation.B"),
        (dict(allocation={"A": 1, "B": math.inf}), "allocation.B"),
        (dict(allocation={"A": 1, "B": math.nan}), "allocation.B"),
        (dict(allocation={"A": 1, "B": math.pi}), "allocation.B"),
        (dict(allocation={"A": 2, "B": 1}, block_size=4), "block_size"),
        (dict(min_follow_up_months=0.0), "min_follow_up_months"),
        (dict(accrual_per_month=-1.0), "accrual_per_month"),
        (dict(dropout_per_year=1.0), "dropout_per_year"),
        (dict(data_cutoff_months=-5.0), "data_cutoff_months"),
    ],
)
def test_bad_design_names_the_field(kw, field):
    with pytest.raises((InputError, InputErrors)) as info:
        _design(**kw)
    fields = [e.field for e in info.value.errors] if isinstance(info.value, InputErrors) else [info.value.field]
    assert field in fields


def test_follow_up_shorter_than_accrual_is_a_clear_error():
    d = _design(data_cutoff_months=5.0, accrual_per_month=10.0)
    with pytest.raises(InputError, match="follow-up shorter than accrual"):
        d.check_follow_up(300)
    r = _with_latent(design.randomise(_eligible(300), _design(accrual_per_month=10.0), 1))
    with pytest.raises(InputError, match="follow-up shorter than accrual"):
        design.apply_follow_up(r, d, 2)


def test_zero_patients_after_selection():
    with pytest.raises(InputError, match="no patients left"):
        design.randomise(_eligible(0), _design(), 1)


def test_unknown_stratification_column():
    with pytest.raises(InputError, match="stratify_by"):
        design.randomise(_eligible(), _design(stratify_by=["no_such_column"]), 1)
