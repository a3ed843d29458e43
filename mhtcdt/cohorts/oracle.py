"""Slow, obvious twin of :func:`mhtcdt.cohorts.generate_cohort` (test oracle and benchmark baseline).

Same random stream by construction (the documented block keying), but everything else done the
plain way: a dense matrix product with the Cholesky factor, each marginal through its
``scipy.stats`` distribution (``ppf`` of ``norm.cdf(z)``; ``isf`` of ``norm.cdf(-z)`` in the
upper half, which is the same quantile computed without cancellation), discrete levels through
``scipy.stats.rv_discrete``, and ECOG through the published KPS-ECOG table. Returns only the
generated variables and the derived physics columns (a dict of numpy arrays), not a DataFrame.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from scipy import stats

from mhtcdt.cohorts.generator import BLOCK_SIZE, STREAM_TAG
from mhtcdt.cohorts.marginals import ECOG_TO_KPS, Marginal
from mhtcdt.cohorts.spec import load_indication
from mhtcdt.seeding import child_rng, root_sequence

_KPS_TO_ECOG = {kps: grade for grade, pair in ECOG_TO_KPS.items() for kps in pair}


def reference_latent(indication: str, n: int, seed: int | np.random.SeedSequence, start: int = 0) -> np.ndarray:
    """Latent scores (n x d) by a dense L @ eps per block."""
    spec = load_indication(indication)
    root = root_sequence(seed)
    d = len(spec.variables)
    out = np.empty((n, d))
    key = zlib.crc32(spec.name.encode())
    cache: dict[int, np.ndarray] = {}
    for row, patient in enumerate(range(start, start + n)):
        block, offset = divmod(patient, BLOCK_SIZE)
        if block not in cache:
            eps = child_rng(root, STREAM_TAG, key, block).standard_normal((d, BLOCK_SIZE))
            cache = {block: spec.cholesky @ eps}
        out[row] = cache[block][:, offset]
    return out


def _reference_values(marginal: Marginal, z: np.ndarray) -> np.ndarray:
    if marginal.is_discrete:
        levels, probs = marginal.levels_and_probabilities()
        index = stats.rv_discrete(values=(np.arange(len(levels)), probs)).ppf(stats.norm.cdf(z)).astype(int)
        return np.asarray(levels, dtype=object)[index]
    dist = marginal.reference_distribution()
    upper = z > 0
    values = np.empty(z.shape)
    values[~upper] = dist.ppf(stats.norm.cdf(z[~upper]))
    values[upper] = dist.isf(stats.norm.cdf(-z[upper])) if hasattr(dist, "isf") else dist.ppf(stats.norm.cdf(z[upper]))
    return values


def reference_cohort(
    indication: str, n: int, seed: int | np.random.SeedSequence, start: int = 0
) -> dict[str, np.ndarray]:
    """Generated variables plus ``tumour_radius_cm``, ``body_radius_cm``, ``ecog`` (numpy arrays)."""
    spec = load_indication(indication)
    z = reference_latent(indication, n, seed, start)
    out: dict[str, np.ndarray] = {}
    for j, var in enumerate(spec.variables):
        if var.by is None:
            out[var.name] = _reference_values(var.marginal, z[:, j])
            continue
        column = None
        for level, marginal in var.cases.items():
            mask = np.array([v == level for v in out[var.by]], dtype=bool)
            values = _reference_values(marginal, z[mask, j])
            if column is None:
                column = np.empty(n, dtype=values.dtype)
            column[mask] = values
        out[var.name] = column
    out["tumour_radius_cm"] = (3.0 * out["tumour_volume_cm3"].astype(float) / (4.0 * math.pi)) ** (1.0 / 3.0)
    out["body_radius_cm"] = out[spec.body_radius_from].astype(float) / (2.0 * math.pi)
    out["ecog"] = np.array([_KPS_TO_ECOG[int(k)] for k in out["kps"]], dtype=np.int64)
    return out
