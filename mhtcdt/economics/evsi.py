"""Expected value of sample information (EVSI) and expected net benefit of sampling (ENBS) on PSA draws.

Notation as in :mod:`.voi`: ``NB_s(theta)`` is the net monetary benefit of strategy ``s`` for PSA draw
``theta`` (D draws), ``INB_s = NB_s - NB_0`` (strategy 0 is the first column); a study yields data ``X``
reduced to summary statistics ``T(X)``; ``phi`` are the parameters the study informs.

* EVSI   = E_X[max_s E(NB_s | X)] - max_s E[NB_s]                      (per patient, currency units)
* EVPPI  = E_phi[max_s E(NB_s | phi)] - max_s E[NB_s]; EVSI <= EVPPI(phi) <= EVPI for every design.

Methods (each a function of this module)
----------------------------------------
:func:`fit_conditional_nb` (regression; Strong M, Oakley JE, Brennan A, Breeze P. Estimating the expected
    value of sample information using the probabilistic sensitivity analysis sample: a fast, nonparametric
    regression-based method. Med Decis Making 2015;35:570-583). One data set ``X_i ~ p(X | theta_i)`` is
    simulated per PSA draw and reduced to ``T_i``; ``INB`` is regressed on ``T`` and the fitted values
    estimate ``E(INB | T_i)``; EVSI = mean_i max_s fitted - max_s mean_i fitted. The regression is the
    penalised regression spline of :func:`mhtcdt.economics.voi.evppi` (cubic truncated-power bases with knots
    at quantiles, ridge penalty on the knot terms chosen by GCV per response, a tensor product for two
    columns, additive for more), reused through its private helpers: the same function with ``phi`` in place
    of ``T`` is the EVPPI, so EVSI and its upper bound come from one machinery.
    ``adjust``: inputs independent of ``T`` and ``phi`` (costs and utilities when a trial informs survival)
    enter as unpenalised linear terms and are evaluated at their mean. Because ``psi`` is independent of
    ``T``, ``E[INB | T] = E[INB - b'(psi - E psi) | T]`` for any ``b``: the estimand is unchanged (no
    linearity in ``psi`` is needed) while the residual noise, and so the Monte Carlo error, falls (control
    variates). With ``adjust=None`` the fit is :func:`~mhtcdt.economics.voi.evppi`'s, number for number.
    Standard error: coefficient draws from their approximate sampling distribution, jointly across strategies,
    combined with the Monte Carlo error of the outer mean (as in :func:`~mhtcdt.economics.voi.evppi`).
:func:`evsi_importance_sampling` (Menzies NA. An efficient estimator for the expected value of sample
    information. Med Decis Making 2016;36:308-320). For outer data sets ``x_q`` from the preposterior, the
    posterior expectation of NB is the prior sample reweighted by the likelihood,
    ``E(NB | x_q) = sum_k w_qk NB_k`` with ``w_qk ~ pi_k p(x_q | theta_k)``; here over K distinct prior
    states with prior masses ``pi_k`` (the PSA draws themselves when every draw is its own state).
:func:`evsi_moment_matching` (Heath A, Manolopoulou I, Baio G. Efficient Monte Carlo estimation of the expected
    value of sample information using moment matching. Med Decis Making 2018;38:163-173). The fitted values
    ``mu_i = E(INB | phi_i)`` of the EVPPI regression are rescaled so their variance is the preposterior
    variance ``Var(mu) - E_X[Var(mu | X)]`` (the posterior variances from Q simulated data sets), keeping their
    shape: ``mu~_i = mean(mu) + L (mu_i - mean(mu))``, ``L = S_X^(1/2) S_mu^(-1/2)``; EVSI from ``mu~``.
    Because the rescaling shrinks towards the mean, the moment-matching EVSI never exceeds the EVPPI of the
    same fitted values.
:func:`gaussian_synthetic_loglik` (Wood SN. Statistical inference for noisy nonlinear ecological dynamic
    systems. Nature 2010;466:1102-1104): the likelihood of a summary vector under a simulator, as the normal
    density with the simulated mean and covariance of the summaries at each parameter state; it supplies
    ``p(x | theta)`` to the two methods above when the data come from a simulator with no closed-form
    likelihood.
:func:`normal_normal_evsi` the exact preposterior EVSI, EVPPI and EVPI of a normal prior, a normal sample
    mean with known variance and a linear incremental net benefit (Raiffa and Schlaifer 1961; the oracle of the
    tests and the benchmark).

Expected net benefit of sampling (Ades AE, Lu G, Claxton K. Expected value of sample information calculations
in medical decision modeling. Med Decis Making 2004;24:207-227):
``ENBS(n) = EVSI(n) x (patients who benefit, discounted) - cost(n)``, with :class:`DecisionPopulation`
(patients per year over a decision horizon, discounted, counted only after the study reports: a study that
takes longer informs fewer patients, Eckermann S, Willan AR. Pharmacoeconomics 2008;26:131-144) and
:class:`TrialCost` (fixed + per patient, plus optionally the expected net benefit forgone by patients
allocated to arms other than the current best, Willan AR, Pinto EM. Stat Med 2005;24:1791-1806).
:func:`optimal_sample_size` picks the ENBS-maximising size (0 = no study) with a band from resampled curves.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics import voi
from mhtcdt.economics.nmb import _ce_arrays, _wtp_array
from mhtcdt.economics.validation import as_finite, check_rate
from mhtcdt.errors import InputError, InputErrors
from mhtcdt.seeding import child_rng

DEFAULT_SEED = 20240521  # the seed of voi.evppi's standard-error draws (same defaults, same numbers)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS/LAPACK to one thread inside the block (threadpoolctl, when installed; else no change).

    Why: the regressions are many small products (2,000 x 50 matrices) for which OpenBLAS threads cost more than
    they save; on a shared, loaded 2-core machine a fit took 0.2 s of CPU with the default threads and 0.008 s
    with one (measured). Use it around loops of fits (the bootstrap of the optimal sample size)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the results are the same, only slower
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _matrix(values: ArrayLike, field: str, n_rows: int) -> np.ndarray:
    """``values`` as a finite (n_rows, P) float matrix; a (n_rows,) vector becomes one column."""
    arr = as_finite(values, field)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_rows:
        raise InputError(field, arr.shape, f"needs one row per PSA draw ({n_rows})")
    return arr


def _incremental_nb(c: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
    """INB of strategies 1..S-1 vs strategy 0 at every wtp: (D, W * (S - 1)), wtp-major as voi.evppi."""
    inc_e = e[:, 1:] - e[:, :1]
    inc_c = c[:, 1:] - c[:, :1]
    return (w[None, :, None] * inc_e[:, None, :] - inc_c[:, None, :]).reshape(c.shape[0], -1)


def _best_minus_chosen(full: np.ndarray) -> np.ndarray:
    """``max_s full - full[s*]`` per draw, ``s*`` the strategy with the highest mean: (N, W, S) -> (N, W)."""
    star = full.mean(axis=0).argmax(axis=-1)
    return full.max(axis=-1) - full[:, np.arange(full.shape[1]), star]


def _with_reference(inc: np.ndarray) -> np.ndarray:
    """Prepend the reference strategy's zero column: (..., S - 1) -> (..., S)."""
    return np.concatenate([np.zeros(inc.shape[:-1] + (1,)), inc], axis=-1)


def _value(inc: np.ndarray) -> np.ndarray:
    """``mean max_s - max_s mean`` of incremental values (..., N, W, S - 1) -> (..., W), never below 0."""
    best = np.maximum(inc[..., 0], 0.0)
    for s in range(1, inc.shape[-1]):
        np.maximum(best, inc[..., s], out=best)
    return np.maximum(best.mean(axis=-2) - np.maximum(inc.mean(axis=-3).max(axis=-1), 0.0), 0.0)


# ---------------------------------------------------------------------------------------------
# regression (EVPPI and EVSI)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionalNB:
    """A fitted ``E(INB | x)`` at every PSA draw and the value of learning ``x`` (EVSI or EVPPI).

    ``fitted``: (D, W, S - 1) incremental net benefit of strategies 1.. vs strategy 0 given ``x``;
    ``value``/``se``: the value of information per patient and its Monte Carlo standard error (W,);
    ``evpi``: the EVPI of the same draws (W,); ``names``: the columns of ``x`` that vary (others carry no
    information and are dropped).
    """

    wtp: np.ndarray
    fitted: np.ndarray
    value: np.ndarray
    se: np.ndarray
    evpi: np.ndarray
    names: tuple[str, ...]

    @property
    def n_draws(self) -> int:
        return int(self.fitted.shape[0])

    def current_choice(self) -> np.ndarray:
        """Index of the strategy with the highest expected net benefit now (W,)."""
        return _with_reference(self.fitted).mean(axis=0).argmax(axis=-1)

    def probability_decision_changes(self) -> np.ndarray:
        """Share of draws whose ``x`` would make another strategy the best (W,): the probability that the
        study (or perfect knowledge of the parameters) changes the decision."""
        full = _with_reference(self.fitted)
        return (full.argmax(axis=-1) != self.current_choice()[None, :]).mean(axis=0)


def fit_conditional_nb(
    cost: ArrayLike,
    effect: ArrayLike,
    x: ArrayLike,
    wtp: ArrayLike,
    *,
    adjust: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    n_knots: int = 8,
    interaction: bool = True,
    n_se_samples: int = 100,
    seed: int = DEFAULT_SEED,
) -> ConditionalNB:
    """Regress the incremental net benefit on ``x`` (summaries: EVSI; parameters: EVPPI).

    ``cost``, ``effect``: PSA outputs (D, S); ``x``: (D,) or (D, P); ``wtp`` scalar or (W,); ``adjust``:
    (D, C) inputs independent of ``x`` to absorb linearly (see the module docstring) or None; the other
    options as :func:`mhtcdt.economics.voi.evppi`. Columns of ``x`` that do not vary are dropped; if none
    varies the data carry no information and the value is exactly 0.
    """
    c, e = _ce_arrays(cost, effect)
    n_d, n_s = c.shape
    if n_s < 2:
        raise InputError("cost", n_s, "value of information needs at least two strategies")
    if n_d < voi.MIN_EVPPI_DRAWS:
        raise InputError("cost", n_d, f"the regression needs at least {voi.MIN_EVPPI_DRAWS} PSA draws")
    if isinstance(n_knots, bool) or int(n_knots) != n_knots or n_knots < 0:
        raise InputError("n_knots", n_knots, "must be an integer >= 0")
    if isinstance(n_se_samples, bool) or int(n_se_samples) != n_se_samples or n_se_samples < 0:
        raise InputError("n_se_samples", n_se_samples, "must be an integer >= 0")
    w = np.atleast_1d(_wtp_array(wtp))
    phi = _matrix(x, "x", n_d)
    all_names = list(names) if names is not None else [f"x_{j}" for j in range(phi.shape[1])]
    if len(all_names) != phi.shape[1]:
        raise InputError("names", len(all_names), f"needs one name per column of x ({phi.shape[1]})")
    varying = np.ptp(phi, axis=0) > 0
    y = _incremental_nb(c, e, w)
    total = np.atleast_1d(voi.evpi(c, e, w))
    kept = tuple(n for n, v in zip(all_names, varying, strict=True) if v)
    if not varying.any():
        fitted = np.broadcast_to(y.mean(axis=0), y.shape).reshape(n_d, w.size, n_s - 1).copy()
        zero = np.zeros(w.size)
        return ConditionalNB(w, fitted, zero, zero.copy(), total, kept)
    phi = phi[:, varying]
    k = int(min(n_knots, max(0, n_d // (5 * phi.shape[1]) - 4)))
    x_t, pen_t = voi._design(phi, k, interaction and n_d >= 200)
    p_t = x_t.shape[1]
    design, pen = x_t, pen_t
    if adjust is not None:
        z = _matrix(adjust, "adjust", n_d)
        z = z - z.mean(axis=0)  # centred: evaluated at their mean they add nothing
        scale = z.std(axis=0)
        z = z[:, scale > 0] / scale[scale > 0]  # columns that do not vary (numerically) are dropped
        if z.shape[1]:
            design = np.hstack([x_t, z])
            pen = np.r_[pen_t, np.zeros(z.shape[1])]
    xtx = design.T @ design
    xty = design.T @ y
    yty = np.einsum("ij,ij->j", y, y)
    lambdas = np.logspace(-8, 4, 25) * np.trace(xtx[:p_t, :p_t]) / p_t  # voi.evppi's grid (same scale)
    beta, sigma2, a, shrink = voi._fit_gcv(xtx, xty, yty, pen, n_d, lambdas)
    fitted_flat = x_t @ beta[:p_t]
    fitted = fitted_flat.reshape(n_d, w.size, n_s - 1)
    value = _value(fitted)
    se = np.full(w.size, np.nan)
    if n_se_samples > 0:
        fit = _PenalisedFit(design, x_t, y, beta, sigma2, a, shrink)
        se = _regression_se(fit, fitted, n_se_samples, seed)
    return ConditionalNB(w, fitted, value, se, total, kept)


class _PenalisedFit(NamedTuple):
    """The pieces of one penalised regression fit (``voi._fit_gcv``) that its standard error needs: the full
    design (spline basis ``x_t`` then control covariates), the responses ``y`` (D, R), coefficients ``beta``,
    residual variances ``sigma2``, the coefficient map ``a`` and the shrinkage factors ``shrink``."""

    design: np.ndarray
    x_t: np.ndarray
    y: np.ndarray
    beta: np.ndarray
    sigma2: np.ndarray
    a: np.ndarray
    shrink: np.ndarray


def _regression_se(fit: _PenalisedFit, fitted: np.ndarray, n_samples: int, seed) -> np.ndarray:
    """Standard error of the value: coefficient draws (joint across responses) + outer Monte Carlo error.
    ``fitted``: the fit's conditional incremental net benefits (D, W, S - 1)."""
    design, x_t, y, beta, sigma2, a, shrink = fit
    n_d, n_w, n_s1 = fitted.shape
    n_r = y.shape[1]
    fitted_flat = fitted.reshape(n_d, n_r)
    p_t = x_t.shape[1]
    rng = child_rng(seed)
    resid = y - design @ beta
    sigma = resid.T @ resid / max(n_d - float(np.mean(shrink.sum(axis=0))), 1.0)
    sigma = 0.5 * (sigma + sigma.T) + 1e-12 * np.trace(sigma) / sigma.shape[0] * np.eye(sigma.shape[0])
    try:
        chol_sigma = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:  # degenerate (identical responses): independent fallback
        chol_sigma = np.diag(np.sqrt(sigma2))
    zs = rng.standard_normal((n_samples, a.shape[1], n_r)) @ chol_sigma.T
    delta = np.einsum("pk,skr->spr", a[:p_t], zs * shrink[None])  # only the coefficients of x
    samples = np.empty((n_samples, n_w))
    block = max(1, (1 << 20) // (n_d * n_r))
    for lo in range(0, n_samples, block):
        hi = min(n_samples, lo + block)
        deltas = delta[lo:hi].transpose(1, 0, 2).reshape(p_t, -1)
        drawn = (x_t @ deltas).reshape(n_d, hi - lo, n_r) + fitted_flat.reshape(n_d, 1, n_r)
        drawn = drawn.transpose(1, 0, 2).reshape(hi - lo, n_d, n_w, n_s1)
        samples[lo:hi] = _value(drawn)
    se_regression = samples.std(axis=0, ddof=1)
    h = _best_minus_chosen(_with_reference(fitted))
    return np.sqrt(se_regression**2 + h.var(axis=0, ddof=1) / n_d)


# ---------------------------------------------------------------------------------------------
# importance sampling and moment matching
# ---------------------------------------------------------------------------------------------


def posterior_weights(log_likelihood: ArrayLike, prior_weight: ArrayLike) -> np.ndarray:
    """Normalised posterior weights ``w_qk ~ pi_k exp(loglik_qk)`` (Q, K), computed stably (log-sum-exp)."""
    ll = np.asarray(log_likelihood, dtype=float)
    pi = as_finite(prior_weight, "prior_weight")
    if ll.ndim != 2 or pi.ndim != 1 or ll.shape[1] != pi.size:
        raise InputError("log_likelihood", ll.shape, f"needs shape (Q, K) with K = {pi.size} prior states")
    if np.any(pi < 0) or pi.sum() <= 0:
        raise InputError("prior_weight", float(pi.min()), "prior weights must be >= 0 with a positive sum")
    if np.isnan(ll).any() or np.isposinf(ll).any():
        raise InputError("log_likelihood", "NaN or +inf", "log-likelihoods must be finite or -inf")
    with np.errstate(divide="ignore"):
        logw = ll + np.log(pi)[None, :]
    top = logw.max(axis=1, keepdims=True)
    if not np.all(np.isfinite(top)):
        raise InputError("log_likelihood", "-inf", "a data set has zero likelihood under every prior state")
    w = np.exp(logw - top)
    return w / w.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class SampledValue:
    """An EVSI estimate per wtp with its Monte Carlo standard error, and diagnostics of the method."""

    value: np.ndarray
    se: np.ndarray
    diagnostics: dict


def evsi_importance_sampling(state_inb: ArrayLike, prior_weight: ArrayLike, log_likelihood: ArrayLike) -> SampledValue:
    """EVSI by reweighting the prior sample (Menzies 2016).

    ``state_inb``: (K, W, S - 1) expected incremental net benefit in each of K prior states (or (K, W) for two
    strategies); ``prior_weight``: (K,) prior masses; ``log_likelihood``: (Q, K) ``log p(x_q | state k)`` for Q
    data sets drawn from the preposterior (one per PSA draw, simulated from its own state). The standard error is
    that of the outer mean over the Q data sets; ``diagnostics['ess']`` is the mean effective number of states
    (Kish) behind each posterior: when it is small the inner estimate is noisy and biased upwards.
    """
    inb = np.asarray(state_inb, dtype=float)
    if inb.ndim == 2:
        inb = inb[..., None]
    weights = posterior_weights(log_likelihood, prior_weight)
    if inb.ndim != 3 or inb.shape[0] != weights.shape[1]:
        raise InputError("state_inb", inb.shape, f"needs shape (K, W, S - 1) with K = {weights.shape[1]}")
    prior = np.asarray(prior_weight, float) / float(np.sum(prior_weight))
    k, n_w, n_r = inb.shape
    post = (weights @ inb.reshape(k, -1)).reshape(-1, n_w, n_r)  # (Q, W, S - 1)
    prior_mean = np.tensordot(prior, inb, axes=1)  # (W, S - 1)
    full = _with_reference(post)
    star = _with_reference(prior_mean).argmax(axis=-1)
    h = full.max(axis=-1) - full[:, np.arange(n_w), star]
    value = np.maximum(h.mean(axis=0), 0.0)
    se = h.std(axis=0, ddof=1) / math.sqrt(h.shape[0])
    ess = 1.0 / np.sum(weights**2, axis=1)
    return SampledValue(value, se, {"ess_mean": float(ess.mean()), "ess_min": float(ess.min()), "n_outer": h.shape[0]})


def weighted_moments(values: ArrayLike, weights: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean (Q, W, R) and covariance (Q, W, R, R) of state values (K, W, R) under weights (Q, K)."""
    v = np.asarray(values, dtype=float)
    wt = np.asarray(weights, dtype=float)
    k, n_w, n_r = v.shape
    mean = (wt @ v.reshape(k, -1)).reshape(-1, n_w, n_r)
    outer = np.einsum("kwr,kws->kwrs", v, v).reshape(k, -1)
    second = (wt @ outer).reshape(-1, n_w, n_r, n_r)
    cov = second - np.einsum("qwr,qws->qwrs", mean, mean)
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def _moment_matched_value(mu: np.ndarray, post_cov_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(EVSI (W,), preposterior share of variance (W,)) of fitted values mu (D, W, R) and E_X[Var(mu | X)]."""
    centre = mu.mean(axis=0)  # (W, R)
    dev = mu - centre[None]
    prior_cov = np.einsum("dwr,dws->wrs", dev, dev) / max(mu.shape[0] - 1, 1)
    pre_cov = prior_cov - post_cov_mean
    # the preposterior variance lies between 0 and the prior variance: clip the estimate into that range
    pv, pvec = np.linalg.eigh(prior_cov)
    scale = np.maximum(pv.max(axis=-1, keepdims=True), 1e-300)
    # a rank-deficient prior covariance (several strategies driven by one parameter) has no deviation along its
    # null directions: they get weight 0
    inv_root = np.where(pv > 1e-12 * scale, 1.0 / np.sqrt(np.where(pv > 1e-12 * scale, pv, 1.0)), 0.0)
    inv_sqrt = np.einsum("wij,wj,wkj->wik", pvec, inv_root, pvec)
    ratio = np.einsum("wij,wjk,wkl->wil", inv_sqrt, pre_cov, inv_sqrt)  # whitened preposterior covariance
    rv, rvec = np.linalg.eigh(0.5 * (ratio + np.swapaxes(ratio, -1, -2)))
    rv = np.clip(rv, 0.0, 1.0)
    sqrt_prior = np.einsum("wij,wj,wkj->wik", pvec, np.sqrt(np.maximum(pv, 0.0)), pvec)
    root_ratio = np.einsum("wij,wj,wkj->wik", rvec, np.sqrt(rv), rvec)
    transform = np.einsum("wij,wjk,wkl->wil", sqrt_prior, root_ratio, inv_sqrt)  # S_X^(1/2) S_mu^(-1/2)
    matched = centre[None] + np.einsum("wrs,dws->dwr", transform, dev)
    share = rv.mean(axis=-1)
    return _value(matched), share


def evsi_moment_matching(
    mu: ArrayLike, posterior_cov: ArrayLike, *, n_bootstrap: int = 200, seed: int = DEFAULT_SEED
) -> SampledValue:
    """EVSI by moment matching (Heath, Manolopoulou, Baio 2018).

    ``mu``: (D, W, S - 1) (or (D, W)) fitted ``E(INB | phi_i)`` of the EVPPI regression of the informed
    parameters; ``posterior_cov``: (Q, W, S - 1, S - 1) (or (Q, W)) ``Var(mu | x_q)`` for Q simulated data sets
    (e.g. :func:`weighted_moments` of the state values under :func:`posterior_weights`). The standard error is a
    bootstrap over the D fitted values and the Q data sets (``n_bootstrap`` resamples; 0 skips it: NaN);
    ``diagnostics['variance_share']`` is ``1 - E[Var(mu | X)] / Var(mu)`` per wtp (the share of the prior
    variance the study is expected to resolve; 1 for perfect information).
    """
    m = np.asarray(mu, dtype=float)
    if m.ndim == 2:
        m = m[..., None]
    pc = np.asarray(posterior_cov, dtype=float)
    if pc.ndim == 2:
        pc = pc[..., None, None]
    if m.ndim != 3 or pc.ndim != 4 or pc.shape[1:] != (m.shape[1], m.shape[2], m.shape[2]):
        raise InputError("posterior_cov", pc.shape, f"needs shape (Q, W, R, R) matching mu {m.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(pc))):
        raise InputError("mu", "non-finite", "fitted values and posterior variances must be finite")
    value, share = _moment_matched_value(m, pc.mean(axis=0))
    se = np.full(value.shape, np.nan)
    if n_bootstrap > 0:
        rng = child_rng(seed, 1)
        boot = np.empty((n_bootstrap, value.size))
        for b in range(n_bootstrap):
            i = rng.integers(0, m.shape[0], m.shape[0])
            q = rng.integers(0, pc.shape[0], pc.shape[0])
            boot[b] = _moment_matched_value(m[i], pc[q].mean(axis=0))[0]
        se = boot.std(axis=0, ddof=1)
    return SampledValue(value, se, {"variance_share": share, "n_outer": int(pc.shape[0])})


def gaussian_synthetic_loglik(summaries: ArrayLike, state_mean: ArrayLike, cov: ArrayLike) -> np.ndarray:
    """Gaussian synthetic log-likelihood (Wood 2010) of observed summaries under K simulator states.

    ``summaries``: (Q, P) observed summary vectors; ``state_mean``: (K, P) simulated mean of the summaries at
    each state; ``cov``: (P, P) covariance pooled over states or (K, P, P) per state. Returns (Q, K)
    ``log N(t_q; m_k, Sigma_k)``, the full normal log-density (the determinant matters when the covariance is
    per state).
    """
    t = np.asarray(summaries, dtype=float)
    m = np.asarray(state_mean, dtype=float)
    s = np.asarray(cov, dtype=float)
    if t.ndim == 1:
        t = t[:, None]
    if m.ndim == 1:
        m = m[:, None]
    n_p = t.shape[1]
    if m.shape[1] != n_p:
        raise InputError("state_mean", m.shape, f"needs {n_p} columns like the summaries")
    if s.ndim == 0:
        s = s.reshape(1, 1)
    if s.shape not in ((n_p, n_p), (m.shape[0], n_p, n_p)):
        raise InputError("cov", s.shape, f"needs shape ({n_p}, {n_p}) or (K, {n_p}, {n_p})")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise InputError("summaries", "non-finite", "summaries, means and covariances must be finite")
    try:
        chol = np.linalg.cholesky(s)
    except np.linalg.LinAlgError as exc:
        raise InputError("cov", "not positive definite", "the summary covariance must be positive definite") from exc
    diff = t[:, None, :] - m[None, :, :]  # (Q, K, P)
    if s.ndim == 2:
        z = np.linalg.solve(chol, diff.reshape(-1, n_p).T).T.reshape(diff.shape)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        return -0.5 * (np.einsum("qkp,qkp->qk", z, z) + logdet + n_p * math.log(2.0 * math.pi))
    inv = np.linalg.inv(chol)  # (K, P, P)
    z = np.einsum("kij,qkj->qki", inv, diff)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    return -0.5 * (np.einsum("qkp,qkp->qk", z, z) + logdet[None, :] + n_p * math.log(2.0 * math.pi))


# ---------------------------------------------------------------------------------------------
# closed form (oracle)
# ---------------------------------------------------------------------------------------------


def _unit_loss(z: np.ndarray) -> np.ndarray:
    """E[max(Z + z, 0)] - max(z, 0) for Z ~ N(0, 1): phi(z) - |z| Phi(-|z|)."""
    from scipy.special import ndtr

    a = np.abs(np.asarray(z, dtype=float))
    small = np.minimum(a, 40.0)  # beyond 40 both terms are below 1e-300: the loss is 0 (and z * z would overflow)
    loss = np.exp(-0.5 * small * small) / math.sqrt(2.0 * math.pi) - small * ndtr(-small)
    return np.where(a < 40.0, np.maximum(loss, 0.0), 0.0)


def normal_normal_evsi(
    inb_mean: float, slope: float, prior_sd: float, sampling_sd: float, n: ArrayLike, noise_sd: float = 0.0
) -> dict[str, np.ndarray | float]:
    """Exact EVSI, EVPPI and EVPI of two strategies with ``INB = inb_mean + slope (theta - m) + eps``.

    ``theta ~ N(m, prior_sd^2)``; a study of ``n`` observations gives ``xbar ~ N(theta, sampling_sd^2 / n)``;
    ``eps ~ N(0, noise_sd^2)`` is independent of both (inputs the study does not inform). The posterior mean
    of theta given xbar is normal around ``m`` with variance ``prior_sd^4 / (prior_sd^2 + sampling_sd^2 / n)``
    (Raiffa H, Schlaifer R. Applied statistical decision theory. 1961), so ``E(INB | xbar)`` is normal with
    sd ``s_n = |slope| prior_sd^2 / sqrt(prior_sd^2 + sampling_sd^2 / n)`` and
    ``EVSI = s_n L(inb_mean / s_n)``, ``L(z) = phi(z) - |z| Phi(-|z|)``; EVPPI(theta) is the limit n -> inf
    (``s = |slope| prior_sd``) and EVPI uses ``sqrt(slope^2 prior_sd^2 + noise_sd^2)``. n = 0 gives 0.
    """
    for name, v in (("prior_sd", prior_sd), ("sampling_sd", sampling_sd), ("noise_sd", noise_sd)):
        if not (math.isfinite(v) and v >= 0):
            raise InputError(name, v, "must be finite and >= 0")
    n_arr = as_finite(n, "n")
    if np.any(n_arr < 0):
        raise InputError("n", float(n_arr.min()), "sample sizes must be >= 0")

    def value(s: np.ndarray | float) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # z = +-inf: a loss of 0
            out = s * _unit_loss(inb_mean / np.where(s > 0, s, 1.0))
        return np.where(s > 0, out, 0.0)

    with np.errstate(divide="ignore"):
        var_mean = np.where(n_arr > 0, prior_sd**4 / (prior_sd**2 + sampling_sd**2 / np.maximum(n_arr, 1e-300)), 0.0)
    return {
        "evsi": value(abs(slope) * np.sqrt(var_mean)),
        "evppi": float(value(abs(slope) * prior_sd)),
        "evpi": float(value(math.sqrt(slope**2 * prior_sd**2 + noise_sd**2))),
    }


# ---------------------------------------------------------------------------------------------
# expected net benefit of sampling
# ---------------------------------------------------------------------------------------------


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _raise(problems: list[InputError]) -> None:
    """Raise one InputError, or InputErrors listing several; nothing when the list is empty."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputErrors(problems)


@dataclass(frozen=True)
class DecisionPopulation:
    """Patients whose treatment the decision governs: ``patients_per_year`` over ``horizon_years``,
    discounted at ``discount_rate`` per year (year 0 undiscounted, as :func:`~.voi.population_multiplier`)."""

    patients_per_year: float
    horizon_years: float
    discount_rate: float = 0.035

    def __post_init__(self) -> None:
        problems = []
        if not (_is_number(self.patients_per_year) and self.patients_per_year > 0):
            problems.append(
                InputError("population.patients_per_year", self.patients_per_year, "must be a positive number")
            )
        if not (_is_number(self.horizon_years) and 0 < self.horizon_years <= 200):
            problems.append(InputError("population.horizon_years", self.horizon_years, "must be in (0, 200] years"))
        try:
            check_rate(self.discount_rate, "population.discount_rate")
        except (InputError, TypeError, ValueError) as exc:
            problems.append(
                exc
                if isinstance(exc, InputError)
                else InputError("population.discount_rate", self.discount_rate, "must be a number")
            )
        _raise(problems)

    def multiplier(self, delay_years: float = 0.0) -> float:
        """Discounted patients treated after ``delay_years`` (when a study reports) and before the horizon:
        ``sum_y N (1 + r)^-y x (share of year y in [delay, horizon))``; with no delay and a whole number of
        years it equals ``voi.population_multiplier(N, years, r)``."""
        if not (math.isfinite(delay_years) and delay_years >= 0):
            raise InputError("delay_years", delay_years, "must be finite and >= 0")
        years = np.arange(math.ceil(self.horizon_years))
        share = np.clip(np.minimum(years + 1.0, self.horizon_years) - np.maximum(years, delay_years), 0.0, 1.0)
        return float(np.sum(self.patients_per_year * share * (1.0 + self.discount_rate) ** -years))


@dataclass(frozen=True)
class TrialCost:
    """Cost of a study of n patients: ``fixed + per_patient x n`` (currency units)."""

    fixed: float
    per_patient: float

    def __post_init__(self) -> None:
        _raise(
            [
                InputError(f"trial_cost.{name}", getattr(self, name), "a trial cost must be a finite number >= 0")
                for name in ("fixed", "per_patient")
                if not (_is_number(getattr(self, name)) and getattr(self, name) >= 0)
            ]
        )

    def __call__(self, n: ArrayLike) -> np.ndarray | float:
        n_arr = check_sample_sizes(n)
        out = self.fixed + self.per_patient * n_arr
        return float(out) if out.ndim == 0 else out


def check_sample_sizes(n: ArrayLike, field: str = "sample_sizes") -> np.ndarray:
    """Positive whole numbers of patients (InputError naming the first bad one)."""
    arr = np.asarray(n, dtype=float)
    if arr.size == 0:
        raise InputError(field, [], "give at least one sample size")
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr != np.round(arr))
    if bad.any():
        raise InputError(field, float(arr[bad].flat[0]), "sample sizes must be positive whole numbers of patients")
    return arr


@dataclass(frozen=True)
class OptimalSampleSize:
    """The ENBS-maximising sample size (0: no study is worth its cost) and its uncertainty.

    ``band``: 2.5 and 97.5 % quantiles of the optimal size over resampled ENBS curves; ``p_no_study``: share
    of resamples in which no size has a positive ENBS; ``p_optimal``: share of resamples choosing each size.
    """

    n: int
    enbs: float
    band: tuple[int, int]
    p_no_study: float
    p_optimal: dict[int, float]


def optimal_sample_size(sample_sizes: ArrayLike, enbs: ArrayLike, enbs_resampled: ArrayLike) -> OptimalSampleSize:
    """Optimal size among ``sample_sizes`` (N,) given the ENBS curve (N,) and resampled curves (B, N)."""
    n = check_sample_sizes(sample_sizes).astype(np.int64)
    curve = as_finite(enbs, "enbs")
    boot = np.atleast_2d(as_finite(enbs_resampled, "enbs_resampled"))
    if curve.shape != n.shape or boot.shape[1] != n.size:
        raise InputError("enbs", curve.shape, f"needs one value per sample size ({n.size})")

    def pick(values: np.ndarray) -> np.ndarray:
        j = values.argmax(axis=-1)
        return np.where(values.max(axis=-1) > 0, n[j], 0)

    best = int(pick(curve))
    picks = pick(boot)
    lo, hi = np.quantile(picks, [0.025, 0.975], method="inverted_cdf")
    sizes, counts = np.unique(picks, return_counts=True)
    return OptimalSampleSize(
        n=best,
        enbs=float(curve.max()) if best else 0.0,
        band=(int(lo), int(hi)),
        p_no_study=float(np.mean(picks == 0)),
        p_optimal={int(s): float(c) / picks.size for s, c in zip(sizes, counts, strict=True)},
    )
