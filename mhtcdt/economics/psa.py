"""PSA parameter distributions and chunk-independent sampling.

Distributions (parameterised the way HTA analysts report them; impossible parameters raise
InputError naming the distribution field and value):

* ``Gamma(mean, sd)``         costs, rates: shape (mean/sd)^2, scale sd^2/mean (method of moments);
* ``Beta(mean, sd)``          probabilities, utilities: alpha = mean*k, beta = (1-mean)*k with
  k = mean(1-mean)/sd^2 - 1 (needs 0 < mean < 1 and sd^2 < mean(1-mean)); ``Beta.from_counts(events, n)``;
* ``LogNormal(meanlog, sdlog)`` relative risks, hazard ratios; ``LogNormal.from_ci(point, lower, upper)``
  (log-symmetric 95% CI) and ``LogNormal.from_mean_sd(mean, sd)`` (natural scale);
* ``Normal(mean, sd)``, ``Uniform(low, high)``, ``Fixed(value)``;
* ``Dirichlet(alpha)``        one transition-matrix row from counts (draws (n, K));
* ``MultivariateNormal(mean, cov)`` correlated survival-model coefficients (draws (n, K));
* ``EmpiricalDraws(values)``  rows of a table of calibrated parameter sets (e.g. from the trial
  layer): draw i takes row i (``resample=False``, needs enough rows) or a uniformly resampled row.

Sampling
--------
:func:`sample_psa` returns ``{name: array}`` with the draw index first.  Every parameter has its
own random stream keyed by (seed, crc32(name), block of 65,536 draws), so (a) adding a parameter does
not change the draws of the others, and (b) draws ``start .. start+n-1`` are identical whether
sampled in one call or in chunks.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng

BLOCK_SIZE = 1 << 16
Z_975 = 1.959963984540054


def _pos(value: float, field: str) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise InputError(field, value, "must be a finite number > 0")
    return v


def _finite(value: float, field: str) -> float:
    v = float(value)
    if not np.isfinite(v):
        raise InputError(field, value, "must be finite")
    return v


class Distribution(ABC):
    """Base class: ``sample(rng, n)`` returns n draws (n, *event_shape); ``mean`` the expectation."""

    event_shape: tuple[int, ...] = ()

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws from the distribution using ``rng``."""

    @property
    @abstractmethod
    def mean(self) -> float | np.ndarray:
        """Expectation (scalar or vector)."""


@dataclass(frozen=True)
class Gamma(Distribution):
    mean_value: float
    sd: float

    def __post_init__(self) -> None:
        _pos(self.mean_value, "Gamma.mean")
        _pos(self.sd, "Gamma.sd")

    @property
    def shape(self) -> float:
        return (self.mean_value / self.sd) ** 2

    @property
    def scale(self) -> float:
        return self.sd**2 / self.mean_value

    @property
    def mean(self) -> float:
        return float(self.mean_value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale, n)


@dataclass(frozen=True)
class Beta(Distribution):
    mean_value: float
    sd: float

    def __post_init__(self) -> None:
        m = _finite(self.mean_value, "Beta.mean")
        if not 0 < m < 1:
            raise InputError("Beta.mean", self.mean_value, "a beta mean must be in (0, 1)")
        s = _pos(self.sd, "Beta.sd")
        if s * s >= m * (1 - m):
            raise InputError("Beta.sd", self.sd, f"sd^2 must be < mean(1 - mean) = {m * (1 - m):.6g}")

    @classmethod
    def from_counts(cls, events: float, n: float) -> Beta:
        """Beta(events, n - events) as a mean/sd pair."""
        a = _pos(events, "Beta.events")
        b = _pos(float(n) - a, "Beta.non_events")
        m = a / (a + b)
        return cls(m, float(np.sqrt(m * (1 - m) / (a + b + 1))))

    @property
    def alpha_beta(self) -> tuple[float, float]:
        m, s = self.mean_value, self.sd
        k = m * (1 - m) / s**2 - 1
        return m * k, (1 - m) * k

    @property
    def mean(self) -> float:
        return float(self.mean_value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        a, b = self.alpha_beta
        return rng.beta(a, b, n)


@dataclass(frozen=True)
class LogNormal(Distribution):
    meanlog: float
    sdlog: float

    def __post_init__(self) -> None:
        _finite(self.meanlog, "LogNormal.meanlog")
        _pos(self.sdlog, "LogNormal.sdlog")

    @classmethod
    def from_ci(cls, point: float, lower: float, upper: float) -> LogNormal:
        """From a point estimate and a 95% CI symmetric on the log scale (e.g. a relative risk)."""
        p, lo, hi = (
            _pos(point, "LogNormal.point"),
            _pos(lower, "LogNormal.lower"),
            _pos(upper, "LogNormal.upper"),
        )
        if not lo < p < hi:
            raise InputError("LogNormal.lower/upper", (lower, upper), "needs lower < point < upper")
        return cls(float(np.log(p)), float((np.log(hi) - np.log(lo)) / (2 * Z_975)))

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> LogNormal:
        """From the mean and sd on the natural scale."""
        m, s = _pos(mean, "LogNormal.mean"), _pos(sd, "LogNormal.sd")
        s2 = np.log1p((s / m) ** 2)
        return cls(float(np.log(m) - s2 / 2), float(np.sqrt(s2)))

    @property
    def mean(self) -> float:
        return float(np.exp(self.meanlog + self.sdlog**2 / 2))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.meanlog, self.sdlog, n)


@dataclass(frozen=True)
class Normal(Distribution):
    mean_value: float
    sd: float

    def __post_init__(self) -> None:
        _finite(self.mean_value, "Normal.mean")
        _pos(self.sd, "Normal.sd")

    @property
    def mean(self) -> float:
        return float(self.mean_value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(self.mean_value, self.sd, n)


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = _finite(self.low, "Uniform.low"), _finite(self.high, "Uniform.high")
        if not lo < hi:
            raise InputError("Uniform.high", self.high, f"must be > low = {lo}")

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


@dataclass(frozen=True)
class Fixed(Distribution):
    value: float

    def __post_init__(self) -> None:
        _finite(self.value, "Fixed.value")

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, float(self.value))


class Dirichlet(Distribution):
    """Dirichlet(alpha): a probability vector (e.g. one transition-matrix row from observed counts).

    Zero entries are structural zeros (always 0 in the draws); at least one entry must be > 0.
    """

    def __init__(self, alpha: ArrayLike) -> None:
        a = np.asarray(alpha, dtype=float)
        if a.ndim != 1 or a.size < 2:
            raise InputError("Dirichlet.alpha", a.tolist(), "needs a 1-D vector of >= 2 counts")
        if not np.all(np.isfinite(a)) or np.any(a < 0) or not np.any(a > 0):
            raise InputError("Dirichlet.alpha", a.tolist(), "counts must be finite, >= 0 and not all 0")
        self.alpha = a
        self.event_shape = (a.size,)

    @property
    def mean(self) -> np.ndarray:
        return self.alpha / self.alpha.sum()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        pos = self.alpha > 0
        out = np.zeros((n, self.alpha.size))
        if pos.sum() == 1:
            out[:, pos] = 1.0
            return out
        # normalised independent gammas (the Dirichlet construction), zeros stay structural
        g = rng.standard_gamma(self.alpha[pos], size=(n, int(pos.sum())))
        out[:, pos] = g / g.sum(axis=1, keepdims=True)
        return out


class MultivariateNormal(Distribution):
    """Correlated normal coefficients (e.g. Weibull log-shape and log-scale of a fitted curve)."""

    def __init__(self, mean: ArrayLike, cov: ArrayLike) -> None:
        m = np.asarray(mean, dtype=float)
        c = np.asarray(cov, dtype=float)
        if m.ndim != 1 or not np.all(np.isfinite(m)):
            raise InputError("MultivariateNormal.mean", m.tolist(), "needs a finite 1-D vector")
        if c.shape != (m.size, m.size) or not np.all(np.isfinite(c)):
            raise InputError("MultivariateNormal.cov", c.shape, f"needs a finite ({m.size}, {m.size}) matrix")
        if not np.allclose(c, c.T, rtol=1e-10, atol=1e-14):
            raise InputError("MultivariateNormal.cov", c.tolist(), "must be symmetric")
        try:
            self._chol = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            evals = np.linalg.eigvalsh(c)
            if evals.min() < -1e-12 * max(1.0, abs(evals.max())):
                raise InputError(
                    "MultivariateNormal.cov",
                    float(evals.min()),
                    "not positive semi-definite (negative eigenvalue)",
                ) from None
            w, v = np.linalg.eigh(c)
            self._chol = v * np.sqrt(np.clip(w, 0, None))
        self.mean_vector = m
        self.cov = c
        self.event_shape = (m.size,)

    @property
    def mean(self) -> np.ndarray:
        return self.mean_vector

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, self.mean_vector.size))
        # explicit row-wise sum instead of a BLAS matmul: BLAS kernels differ with the number of
        # rows in the last bit, which would make draws depend on chunking
        out = np.broadcast_to(self.mean_vector, z.shape).copy()
        for k in range(z.shape[1]):
            out += z[:, k, None] * self._chol[:, k][None, :]
        return out


class EmpiricalDraws(Distribution):
    """Rows of a table of parameter sets (M, ...), e.g. calibrated parameter sets of the trial layer.

    ``resample=False``: draw i is row i (exact pairing with an external PSA; needs M >= draws).
    ``resample=True``: each draw takes a uniformly chosen row.
    """

    def __init__(self, values: ArrayLike, resample: bool = True) -> None:
        v = np.asarray(values, dtype=float)
        if v.ndim < 1 or v.shape[0] < 1 or not np.all(np.isfinite(v)):
            raise InputError("EmpiricalDraws.values", v.shape, "needs a finite table with >= 1 row")
        self.values = v
        self.resample = bool(resample)
        self.event_shape = v.shape[1:]

    @property
    def mean(self) -> np.ndarray:
        return self.values.mean(axis=0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # only with resampling (else rows sliced)
        return self.values[rng.integers(0, self.values.shape[0], n)]


def _stream_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def sample_psa(
    distributions: Mapping[str, Distribution],
    n_draws: int,
    seed: int,
    *,
    start: int = 0,
) -> dict[str, np.ndarray]:
    """Draws ``start .. start + n_draws - 1`` of every parameter (chunk-independent, see module doc)."""
    if int(n_draws) != n_draws or n_draws < 1:
        raise InputError("n_draws", n_draws, "must be an integer >= 1")
    if int(start) != start or start < 0:
        raise InputError("start", start, "must be an integer >= 0")
    n_draws, start = int(n_draws), int(start)
    out: dict[str, np.ndarray] = {}
    first, last = start // BLOCK_SIZE, (start + n_draws - 1) // BLOCK_SIZE
    for name, dist in distributions.items():
        if not isinstance(dist, Distribution):
            raise InputError(f"distributions.{name}", type(dist).__name__, "must be a psa Distribution")
        if isinstance(dist, EmpiricalDraws) and not dist.resample:
            if dist.values.shape[0] < start + n_draws:
                raise InputError(
                    f"distributions.{name}",
                    dist.values.shape[0],
                    f"has fewer rows than draws ({start + n_draws})",
                )
            out[name] = dist.values[start : start + n_draws]
            continue
        key = _stream_key(str(name))
        blocks = []
        for b in range(first, last + 1):
            rng = child_rng(seed, key, b)  # SeedSequence(seed, spawn_key=(key, b)), PCG64
            # only the prefix of the block that is needed: numpy fills arrays element by element
            # (row by row for vectors), so the first m draws of a block do not depend on how many
            # are drawn after them (checked by the chunking tests for every distribution)
            need = min(BLOCK_SIZE, start + n_draws - b * BLOCK_SIZE)
            blocks.append(dist.sample(rng, need))
        arr = np.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]
        off = start - first * BLOCK_SIZE
        out[name] = arr[off : off + n_draws]
    return out


def dirichlet_matrix(counts: ArrayLike, *, field: str = "counts") -> list[Dirichlet]:
    """One Dirichlet per row of a count matrix (S, S) (for a transition matrix)."""
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2:
        raise InputError(field, c.shape, "needs an (S, S) count matrix")
    out = []
    for i, row in enumerate(c):
        try:
            out.append(Dirichlet(row))
        except InputError as err:
            raise InputError(f"{field}[{i}]", row.tolist(), err.message) from None
    return out
