"""Keyed streams (mhtcdt.seeding) against numpy's own sequential spawning."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng, child_sequence, root_sequence


@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_child_equals_numpy_spawn(seed):
    children = np.random.SeedSequence(seed).spawn(6)
    for k in (0, 3, 5):
        assert child_sequence(seed, k).generate_state(4).tolist() == children[k].generate_state(4).tolist()


def test_nested_keys_equal_nested_spawn():
    grand = np.random.SeedSequence(11).spawn(3)[2].spawn(5)[4]
    assert child_sequence(11, 2, 4).generate_state(4).tolist() == grand.generate_state(4).tolist()
    assert child_sequence(child_sequence(11, 2), 4).spawn_key == (2, 4)


def test_rng_is_pcg64_on_the_child():
    a = child_rng(5, 1, 9).random(3)
    b = np.random.Generator(np.random.PCG64(np.random.SeedSequence(5, spawn_key=(1, 9)))).random(3)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_bad_seed_names_the_field(bad):
    with pytest.raises(InputError) as err:
        root_sequence(bad, field="scenario.seed")
    assert err.value.field == "scenario.seed"


def test_bad_key():
    with pytest.raises(InputError):
        child_sequence(1, -2)
