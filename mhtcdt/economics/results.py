"""Per-strategy results of a cohort model, for one parameter set or many PSA draws.

Per-strategy DataFrame (contract section 5), one row per strategy, in input order:

| column | dtype | meaning |
|---|---|---|
| strategy | str | strategy name |
| cost | float64 | discounted total cost per patient (currency in ``df.attrs["currency"]``) |
| life_years | float64 | discounted life-years per patient |
| qalys | float64 | discounted QALYs per patient |
| cost_undiscounted | float64 | undiscounted total cost |
| life_years_undiscounted | float64 | undiscounted life-years |
| qalys_undiscounted | float64 | undiscounted QALYs |
| cost_<category> | float64 | (optional) discounted cost of one cost category, e.g. ``cost_drug`` |
| (model extras) | float64 | e.g. time in each state, documented by the model |

``df.attrs`` holds ``currency`` (str or None) and the conventions used (``counting``,
``discount_method``, ``discount_costs``, ``discount_effects``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

RESULT_COLUMNS = (
    "strategy",
    "cost",
    "life_years",
    "qalys",
    "cost_undiscounted",
    "life_years_undiscounted",
    "qalys_undiscounted",
)


@dataclass
class DrawResults:
    """Results over PSA draws: every array has shape (D, S) (draw x strategy).

    ``summary()`` gives the per-strategy DataFrame of the means over draws (contract section 5).
    """

    strategies: list[str]
    cost: np.ndarray
    life_years: np.ndarray
    qalys: np.ndarray
    cost_undiscounted: np.ndarray
    life_years_undiscounted: np.ndarray
    qalys_undiscounted: np.ndarray
    cost_by_category: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def n_draws(self) -> int:
        return int(self.cost.shape[0])

    def draw(self, d: int) -> pd.DataFrame:
        """Per-strategy DataFrame of one draw."""
        return self._frame(lambda a: a[d])

    def summary(self) -> pd.DataFrame:
        """Per-strategy DataFrame of the means over draws."""
        return self._frame(lambda a: a.mean(axis=0))

    def uncertainty(self, level: float = 0.95) -> pd.DataFrame:
        """Long table over draws: ``strategy`` str, ``quantity`` str (cost, life_years, qalys and
        the undiscounted twins), ``mean``, ``sd``, ``lower``, ``upper`` float64 (equal-tailed
        interval at ``level``)."""
        import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

        if not 0 < level < 1:
            raise InputError("level", level, "must be in (0, 1)")
        rows = []
        q = [(1 - level) / 2, (1 + level) / 2]
        for name in RESULT_COLUMNS[1:]:
            arr = getattr(self, name)
            lo, hi = np.quantile(arr, q, axis=0)
            sd = arr.std(axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros(arr.shape[1])
            for k, strat in enumerate(self.strategies):
                rows.append((strat, name, float(arr[:, k].mean()), float(sd[k]), float(lo[k]), float(hi[k])))
        return pd.DataFrame(rows, columns=["strategy", "quantity", "mean", "sd", "lower", "upper"])

    def _frame(self, reduce) -> pd.DataFrame:
        import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

        data: dict[str, object] = {"strategy": list(self.strategies)}
        for name in RESULT_COLUMNS[1:]:
            data[name] = reduce(getattr(self, name)).astype(float)
        for cat, arr in self.cost_by_category.items():
            data[f"cost_{cat}"] = reduce(arr).astype(float)
        for name, arr in self.extra.items():
            data[name] = reduce(arr).astype(float)
        df = pd.DataFrame(data)
        df.attrs.update(self.attrs)
        return df
