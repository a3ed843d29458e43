"""ABC-SMC: adaptive sequential Monte Carlo for approximate Bayesian computation, Gaussian kernel.

Method: Del Moral P, Doucet A, Jasra A. An adaptive sequential Monte Carlo method for approximate Bayesian
computation. Stat Comput 2012;22:1009-1020 (the tolerance schedule, resampling and MCMC moves), with a
Gaussian kernel on a distance that weighs each target by its precision (Toni T et al. J R Soc Interface
2009;6:187-202 for ABC-SMC in dynamical models). With the kernel ``exp(-d^2 / (2 eps^2))`` and the squared
distance ``d^2 = sum_k ((g(s_k) - centre_k) / se_k)^2``, the generation at ``eps = 1`` targets the exact
posterior of the normal likelihood of the targets (Wilkinson RD. Approximate Bayesian computation (ABC) gives
exact results under the assumption of model error. Stat Appl Genet Mol Biol 2013;12:129-141).

The parameters live in the unit box ``[0, 1]^d`` in which the prior is uniform (the caller maps uniform and
log-uniform priors onto it). Each generation

1. lowers ``eps`` so that the effective sample size (ESS) of the reweighted particles is ``ess_fraction``
   times the previous one (bisection; never below ``eps_final``);
2. resamples (systematic) when the ESS falls below half the particles;
3. moves every particle by ``n_moves`` random-walk Metropolis-Hastings steps targeting
   ``prior x kernel_eps`` with the proposal covariance ``scale^2 x`` the weighted particle covariance
   (``scale`` adapted towards an acceptance rate of about 0.25).

After ``eps_final`` is reached, ``final_moves`` more MH steps decorrelate the particles. The simulator is
deterministic in the parameters (common random numbers), so the distance of a particle is exact, not noisy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mhtcdt.errors import InputError, ModelError

DistanceFn = Callable[[np.ndarray], float]  # unit-box point -> squared precision-weighted distance


@dataclass
class SMCResult:
    """Particles (N, d) in the unit box with equal weights after the last resampling, their squared distances,
    and one row per generation (eps, ESS, acceptance, evaluations)."""

    particles: np.ndarray
    distances2: np.ndarray
    generations: list[dict[str, float]] = field(default_factory=list)
    evaluations: int = 0


def _ess(w: np.ndarray) -> float:
    return float(1.0 / np.sum(w * w))


def _normalise(logw: np.ndarray) -> np.ndarray:
    w = np.exp(logw - logw.max())
    return w / w.sum()


def _systematic(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = w.size
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), n - 1)


def _next_eps(d2: np.ndarray, w: np.ndarray, eps: float, target_ess: float, eps_final: float) -> float:
    def ess_at(e: float) -> float:
        inc = -0.5 * d2 * (1.0 / e**2 - (0.0 if math.isinf(eps) else 1.0 / eps**2))
        return _ess(_normalise(np.log(w) + inc))

    if ess_at(eps_final) >= target_ess:
        return eps_final
    lo, hi = eps_final, (float(np.sqrt(d2.max())) * 10.0 if math.isinf(eps) else eps)
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if ess_at(mid) >= target_ess:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1.0 + 1e-4:
            break
    return hi


def abc_smc(
    distance2: DistanceFn,
    dim: int,
    *,
    n_particles: int = 400,
    seed: int | np.random.SeedSequence = 0,
    eps_final: float = 1.0,
    ess_fraction: float = 0.5,
    n_moves: int = 2,
    final_moves: int = 4,
    max_generations: int = 60,
    start: np.ndarray | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> SMCResult:
    """Sample ``prior(u) x exp(-distance2(u) / 2)`` on the unit box ``[0, 1]^dim`` (see the module docstring).

    ``start``: optional initial particles (N, dim) in the box (default: uniform prior draws).
    ``progress(fraction, text)`` is called after each generation (fraction: log-eps progress towards the end).
    """
    if dim < 1 or n_particles < 10:
        raise InputError("n_particles", n_particles, "need at least 10 particles and 1 parameter")
    if not (0 < ess_fraction < 1 and eps_final > 0):
        raise InputError("ess_fraction", ess_fraction, "must be in (0, 1) with eps_final > 0")
    rng = np.random.default_rng(seed)
    x = rng.random((n_particles, dim)) if start is None else np.clip(np.asarray(start, float), 0.0, 1.0)
    if x.shape != (n_particles, dim):
        raise InputError("start", x.shape, f"must be ({n_particles}, {dim})")
    d2 = np.array([distance2(p) for p in x])
    if not np.all(np.isfinite(d2)):
        raise ModelError("non-finite distance for a prior draw")
    evaluations = n_particles
    w = np.full(n_particles, 1.0 / n_particles)
    eps = math.inf
    scale = 2.38 / math.sqrt(dim)
    gens: list[dict[str, float]] = []
    eps_start: float | None = None

    def move(x: np.ndarray, d2: np.ndarray, eps: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, float]:
        nonlocal evaluations, scale
        cov = np.cov(x.T, aweights=w) if dim > 1 else np.array([[np.var(x)]])
        cov = np.atleast_2d(cov) + 1e-10 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        accepted = 0
        for _ in range(n_steps):
            prop = x + scale * rng.standard_normal((n_particles, dim)) @ chol.T
            inside = np.all((prop >= 0.0) & (prop <= 1.0), axis=1)
            u = rng.random(n_particles)
            for i in np.flatnonzero(inside):
                d2p = distance2(prop[i])
                evaluations += 1
                if np.isfinite(d2p) and math.log(max(u[i], 1e-300)) < -0.5 * (d2p - d2[i]) / eps**2:
                    x[i], d2[i] = prop[i], d2p
                    accepted += 1
        rate = accepted / (n_steps * n_particles)
        scale *= math.exp(rate - 0.25)  # towards ~25 % acceptance
        scale = float(np.clip(scale, 0.05, 3.0))
        return x, d2, rate

    for g in range(max_generations):
        new_eps = _next_eps(d2, w, eps, ess_fraction * _ess(w), eps_final)
        inc = -0.5 * d2 * (1.0 / new_eps**2 - (0.0 if math.isinf(eps) else 1.0 / eps**2))
        w = _normalise(np.log(w) + inc)
        eps = new_eps
        eps_start = eps if eps_start is None else eps_start
        ess = _ess(w)
        if ess < n_particles / 2:
            idx = _systematic(w, rng)
            x, d2 = x[idx].copy(), d2[idx].copy()
            w = np.full(n_particles, 1.0 / n_particles)
        x, d2, rate = move(x, d2, eps, n_moves)
        gens.append(
            dict(
                generation=g, eps=eps, ess=ess, acceptance=rate, evaluations=evaluations, median_d2=float(np.median(d2))
            )
        )
        if progress is not None:
            frac = (
                1.0
                if eps <= eps_final
                else 1.0 - math.log(eps / eps_final) / max(math.log(eps_start / eps_final), 1e-9)
            )
            progress(float(np.clip(frac, 0.0, 1.0)), f"eps {eps:.3g}, ESS {ess:.0f}, accept {rate:.2f}")
        if eps <= eps_final:
            break
    else:
        raise ModelError(f"ABC-SMC did not reach eps = {eps_final} in {max_generations} generations (last {eps:.3g})")
    idx = _systematic(w, rng)
    x, d2 = x[idx].copy(), d2[idx].copy()
    w = np.full(n_particles, 1.0 / n_particles)
    if final_moves:
        x, d2, rate = move(x, d2, eps, final_moves)
        gens.append(
            dict(
                generation=len(gens),
                eps=eps,
                ess=float(n_particles),
                acceptance=rate,
                evaluations=evaluations,
                median_d2=float(np.median(d2)),
            )
        )
    return SMCResult(particles=x, distances2=d2, generations=gens, evaluations=evaluations)
