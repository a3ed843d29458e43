"""ABC-SMC: adaptive sequential Monte Carlo for approximate Bayesian computation, Gaussian kernel.

Method: Del Moral P, Doucet A, Jasra A. An adaptive sequential Monte Carlo method for approximate Bayesian
computation. Stat Comput 2012;22:1009-1020 (the tolerance schedule, resampling and MCMC moves), with a
Gaussian kernel on a distance that weighs each target by its precision (Toni T et al. J R Soc Interface
2009;6:187-202 for ABC-SMC in dynamical models). With the kernel ``exp(-d^2 / (2 eps^2))`` and the squared
distance ``d^2 = sum_k ((g(s_k) - centre_k) / se_k)^2``, the generation at ``eps = 1`` targets the exact
posterior of the normal likelihood of the targets (Wilkinson RD. Approximate Bayesian computation (ABC) gives
exact results under the assumption of model error. Stat Appl Genet Mol Biol 2013;12:129-141).

The parameters live in the unit box ``[0, 1]^d`` in which the prior is uniform (the caller maps uniform and
log-uniform priors onto it). The particles move in the unconstrained coordinates ``y = logit(u)`` (prior density
``prod u (1 - u)``), so a posterior pressed against a prior bound is still explored efficiently. Each generation

1. lowers ``eps`` so that the effective sample size (ESS) of the reweighted particles is ``ess_fraction``
   times the previous one (bisection; never below ``eps_final``);
2. resamples (systematic) when the ESS falls below half the particles;
3. moves every particle by ``R`` random-walk Metropolis-Hastings steps targeting ``prior x kernel_eps`` with
   the proposal covariance ``scale^2 x`` the weighted particle covariance (``scale`` adapted towards an
   acceptance rate of about 0.25); ``R`` is chosen from the last acceptance rate ``a`` so that a particle moves
   at least once with probability 0.9, ``R = ceil(log 0.1 / log(1 - a))``, within ``[n_moves, max_moves]``
   (Drovandi CC, Pettitt AN. Biometrics 2011;67:225-233).

After ``eps_final`` is reached, ``final_moves`` more MH steps decorrelate the particles. The simulator is
deterministic in the parameters (common random numbers), so the distance of a particle is exact, not noisy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

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


def _log(w: np.ndarray) -> np.ndarray:
    """log of weights, -inf for zero weights (no warning)."""
    with np.errstate(divide="ignore"):
        return np.log(w)


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
        return _ess(_normalise(_log(w) + inc))

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


def _log_prior_y(y: np.ndarray) -> np.ndarray:
    """log density of ``y = logit(u)`` for ``u`` uniform on the box: ``sum log(u (1 - u))``."""
    return np.sum(-np.logaddexp(0.0, -y) - np.logaddexp(0.0, y), axis=-1)


def _to_box(y: np.ndarray) -> np.ndarray:
    return expit(y)


@dataclass(frozen=True)
class SMCSettings:
    """Tuning of :func:`abc_smc` (see the module docstring): particles kept, final tolerance, ESS fraction per
    generation, MH moves per generation (at least ``n_moves``, at most ``max_moves``), moves after the last
    generation, and the generation limit."""

    n_particles: int = 400
    eps_final: float = 1.0
    ess_fraction: float = 0.5
    n_moves: int = 2
    max_moves: int = 6
    final_moves: int = 4
    max_generations: int = 60


def abc_smc(
    distance2: DistanceFn,
    dim: int,
    settings: SMCSettings = SMCSettings(),
    *,
    seed: int | np.random.SeedSequence = 0,
    start: np.ndarray | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> SMCResult:
    """Sample ``prior(u) x exp(-distance2(u) / 2)`` on the unit box ``[0, 1]^dim`` (see the module docstring).

    ``settings``: the sampler's tuning (:class:`SMCSettings`).
    ``start``: optional initial particles (N, dim) in the box (default: uniform prior draws).
    ``progress(fraction, text)`` is called after each generation (fraction: log-eps progress towards the end).
    """
    n_particles, eps_final, ess_fraction = settings.n_particles, settings.eps_final, settings.ess_fraction
    n_moves, max_moves, final_moves = settings.n_moves, settings.max_moves, settings.final_moves
    max_generations = settings.max_generations
    if dim < 1 or n_particles < 10:
        raise InputError("n_particles", n_particles, "need at least 10 particles and 1 parameter")
    if not (0 < ess_fraction < 1 and eps_final > 0):
        raise InputError("ess_fraction", ess_fraction, "must be in (0, 1) with eps_final > 0")
    if not 1 <= n_moves <= max_moves:
        raise InputError("n_moves", n_moves, "need 1 <= n_moves <= max_moves")
    rng = np.random.default_rng(seed)
    u0 = rng.random((n_particles, dim)) if start is None else np.asarray(start, float)
    if u0.shape != (n_particles, dim):
        raise InputError("start", u0.shape, f"must be ({n_particles}, {dim})")
    y = logit(np.clip(u0, 1e-9, 1 - 1e-9))
    d2 = np.array([distance2(p) for p in _to_box(y)])
    if not np.any(np.isfinite(d2)):
        raise ModelError("no prior draw has a finite distance")
    evaluations = n_particles
    w = np.full(n_particles, 1.0 / n_particles)
    eps = math.inf
    scale = 2.38 / math.sqrt(dim)
    last_rate = 0.25
    gens: list[dict[str, float]] = []
    eps_start: float | None = None

    def move(y: np.ndarray, d2: np.ndarray, eps: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, float]:
        nonlocal evaluations, scale
        cov = np.cov(y.T, aweights=w) if dim > 1 else np.array([[np.var(y)]])
        cov = np.atleast_2d(cov) + 1e-8 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        accepted = 0
        for _ in range(n_steps):
            prop = y + scale * rng.standard_normal((n_particles, dim)) @ chol.T
            log_ratio_prior = _log_prior_y(prop) - _log_prior_y(y)
            u = np.log(np.maximum(rng.random(n_particles), 1e-300))
            box = _to_box(prop)
            for i in range(n_particles):
                d2p = distance2(box[i])
                evaluations += 1
                if np.isfinite(d2p) and u[i] < log_ratio_prior[i] - 0.5 * (d2p - d2[i]) / eps**2:
                    y[i], d2[i] = prop[i], d2p
                    accepted += 1
        rate = accepted / (n_steps * n_particles)
        scale *= math.exp(rate - 0.25)  # towards ~25 % acceptance
        scale = float(np.clip(scale, 0.05, 3.0))
        return y, d2, rate

    def n_steps_for(rate: float) -> int:
        if rate <= 0:
            return max_moves
        if rate >= 1:
            return n_moves
        return int(np.clip(math.ceil(math.log(0.1) / math.log(1.0 - rate)), n_moves, max_moves))

    for g in range(max_generations):
        finite = np.isfinite(d2)
        d2_now = np.where(finite, d2, np.inf)
        new_eps = _next_eps(np.where(finite, d2_now, 1e300), w, eps, ess_fraction * _ess(w), eps_final)
        inc = -0.5 * np.where(finite, d2_now, np.inf) * (1.0 / new_eps**2 - (0.0 if math.isinf(eps) else 1.0 / eps**2))
        w = _normalise(_log(w) + inc)
        eps = new_eps
        eps_start = eps if eps_start is None else eps_start
        ess = _ess(w)
        if ess < n_particles / 2:
            idx = _systematic(w, rng)
            y, d2 = y[idx].copy(), d2[idx].copy()
            w = np.full(n_particles, 1.0 / n_particles)
        steps = n_steps_for(last_rate)
        y, d2, last_rate = move(y, d2, eps, steps)
        gens.append(
            dict(
                generation=g,
                eps=eps,
                ess=ess,
                moves=steps,
                acceptance=last_rate,
                evaluations=evaluations,
                median_d2=float(np.median(d2)),
                min_d2=float(np.min(d2)),
            )
        )
        if progress is not None:
            frac = (
                1.0
                if eps <= eps_final
                else 1.0 - math.log(eps / eps_final) / max(math.log(eps_start / eps_final), 1e-9)
            )
            progress(float(np.clip(frac, 0.0, 1.0)), f"eps {eps:.3g}, ESS {ess:.0f}, accept {last_rate:.2f}")
        if eps <= eps_final:
            break
    else:
        raise ModelError(f"ABC-SMC did not reach eps = {eps_final} in {max_generations} generations (last {eps:.3g})")
    idx = _systematic(w, rng)
    y, d2 = y[idx].copy(), d2[idx].copy()
    w = np.full(n_particles, 1.0 / n_particles)
    if final_moves:
        y, d2, rate = move(y, d2, eps, final_moves)
        gens.append(
            dict(
                generation=len(gens),
                eps=eps,
                ess=float(n_particles),
                moves=final_moves,
                acceptance=rate,
                evaluations=evaluations,
                median_d2=float(np.median(d2)),
                min_d2=float(np.min(d2)),
            )
        )
    return SMCResult(particles=_to_box(y), distances2=d2, generations=gens, evaluations=evaluations)
