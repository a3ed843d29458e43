"""generate_cohort against its slow, obvious twin (mhtcdt.cohorts.oracle): same patients."""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.cohorts import generate_cohort, known_indications
from mhtcdt.cohorts.oracle import reference_cohort


@pytest.mark.parametrize("indication", known_indications())
@pytest.mark.parametrize("start", [0, 4000])
def test_fast_generator_equals_scipy_twin(indication: str, start: int) -> None:
    n = 1500  # crosses a block boundary when start = 4000
    fast = generate_cohort(indication, n, seed=424242, start=start)
    slow = reference_cohort(indication, n, seed=424242, start=start)
    for name, expected in slow.items():
        got = fast[name]
        if expected.dtype == object:
            np.testing.assert_array_equal(np.asarray(got.astype(object)), expected, err_msg=name)
        else:
            np.testing.assert_allclose(got.to_numpy(dtype=float), expected.astype(float), rtol=1e-9, err_msg=name)
