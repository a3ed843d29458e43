"""Value of information: EVPI and EVPPI (regression / Strong-Oakley method).

Notation: NB_d(theta) is the net monetary benefit of strategy d for PSA draw theta (D draws).

* EVPI = E_theta[max_d NB_d] - max_d E_theta[NB_d]   (per patient, in currency units).
* Population EVPI = per-patient EVPI x sum_{y=0}^{Y-1} N_y / (1 + r)^y  (N_y patients in year y).
* EVPPI(phi) = E_phi[max_d E(NB_d | phi)] - max_d E[NB_d], with E(NB_d | phi) estimated by a
  penalised regression spline of NB_d (in practice of NB_d - NB_1, which has less noise and the same
  EVPPI) on phi, fitted to the PSA draws themselves (Strong, Oakley, Brennan. Med Decis Making
  2014;34:311-326).  For a pair of parameters a tensor-product spline with interactions is fitted;
  for larger groups an additive model (one smooth per parameter; interactions are not modelled,
  which can underestimate the EVPPI of strongly interacting groups).
  The standard error comes from drawing the regression coefficients from their approximate
  sampling distribution N(beta_hat, sigma^2 (X'X + lambda P)^-1 X'X (X'X + lambda P)^-1), jointly
  across strategies with the residual covariance of their incremental net benefits, and
  recomputing EVPPI (Monte Carlo SE of the regression, in the spirit of Strong et al. 2014),
  combined with the Monte Carlo error of the outer mean over the D draws (variance of
  max_d g_d - g_d* over draws / D).

DataFrame returned by :func:`evppi`: one row per wtp: ``wtp`` float64, ``evppi`` float64,
``evppi_se`` float64, ``evpi`` float64, ``parameters`` str (comma-separated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics.nmb import _ce_arrays, _wtp_array, max_nmb_over_strategies
from mhtcdt.economics.validation import as_finite, check_rate
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng

if TYPE_CHECKING:
    import pandas as pd

MIN_EVPPI_DRAWS = 20


def evpi(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray | float:
    """Per-patient EVPI at each wtp.  cost, effect: (D, S); wtp scalar -> float, (W,) -> (W,).

    EVPI = E[max_s NB_s] - max_s E[NB_s], computed as the mean regret E[max_s NB_s - NB_s*] of the
    strategy s* with the highest expected net benefit: the same quantity, but a mean of non-negative
    terms, so never negative from round-off and exactly 0 when s* wins every draw.
    """
    c, e = _ce_arrays(cost, effect)
    w = _wtp_array(wtp)
    w1 = np.atleast_1d(w)
    best, _ = max_nmb_over_strategies(c, e, w1)
    star = (w1[:, None] * e.mean(axis=0)[None] - c.mean(axis=0)[None]).argmax(axis=1)
    chosen = w1[:, None] * e[:, star].T - c[:, star].T  # same arithmetic as max_nmb_over_strategies
    out = (best - chosen).mean(axis=1)
    return float(out[0]) if w.ndim == 0 else out


def population_multiplier(
    patients_per_year: Sequence[float] | float, years: int | None = None, discount_rate: float = 0.035
) -> float:
    """sum_y N_y / (1 + r)^y over the decision's lifetime (first year undiscounted).

    ``patients_per_year`` is a sequence (one value per year) or a constant with ``years``.
    """
    r = check_rate(discount_rate, "discount_rate")
    n = as_finite(patients_per_year, "patients_per_year")
    if n.ndim == 0:
        if years is None or years < 1:
            raise InputError("years", years, "give the number of years (>= 1) with a constant population")
        n = np.full(int(years), float(n))
    if np.any(n < 0):
        raise InputError("patients_per_year", float(n.min()), "must be >= 0")
    return float(np.sum(n * (1.0 + r) ** -np.arange(n.size)))


def evpi_curve(
    cost: ArrayLike,
    effect: ArrayLike,
    wtp: ArrayLike,
    *,
    patients_per_year: ArrayLike | None = None,
    years: int | None = None,
    discount_rate: float = 0.035,
) -> pd.DataFrame:
    """EVPI over a wtp grid: columns ``wtp``, ``evpi_per_patient`` and, with a population,
    ``evpi_population`` (per-patient EVPI x :func:`population_multiplier`)."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    w = np.atleast_1d(_wtp_array(wtp))
    per = np.atleast_1d(evpi(cost, effect, w))
    df = pd.DataFrame({"wtp": w, "evpi_per_patient": per})
    if patients_per_year is not None:
        df["evpi_population"] = per * population_multiplier(patients_per_year, years, discount_rate)
    return df


# ---------------------------------------------------------------------------------------------
# EVPPI by penalised regression splines
# ---------------------------------------------------------------------------------------------


def _spline_basis(x: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """Cubic regression basis on x in [0, 1] (min-max scaled): [x, x^2, x^3, (x - k_j)_+^3],
    with the ridge penalty acting on the truncated terms (penalised regression spline,
    Ruppert-Wand-Carroll 2003 ch. 3).  Returns (basis (n, 3 + K), penalty diagonal)."""
    knots = np.quantile(x, np.linspace(0, 1, n_knots + 2)[1:-1])
    cols = [x, x * x, x * x * x]
    cols += [np.maximum(x - k, 0.0) ** 3 for k in knots]
    basis = np.column_stack(cols)
    pen = np.r_[np.zeros(3), np.ones(n_knots)]
    return basis, pen


def _design(params: np.ndarray, n_knots: int, interaction: bool) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix [1, basis(phi_1), basis(phi_2), ..., (tensor products)] on min-max scaled
    parameters (knots at quantiles, so skewed parameters are handled), with the penalty diagonal.

    With ``interaction`` and two parameters, row-wise tensor products of the two (smaller) bases
    are added; a product column is penalised if either factor is a truncated (knot) term."""
    n, p = params.shape
    blocks = [np.ones((n, 1))]
    pens = [np.zeros(1)]
    scaled = []
    for j in range(p):
        col = params[:, j]
        lo, hi = col.min(), col.max()
        if hi <= lo:
            raise InputError(f"parameters[{j}]", float(lo), "parameter does not vary across draws")
        x = (col - lo) / (hi - lo)
        scaled.append(x)
        b, pen = _spline_basis(x, n_knots)
        blocks.append(b - b.mean(axis=0))  # centred (identifiability with the intercept)
        pens.append(pen)
    if interaction and p == 2:
        k_int = min(n_knots, 4)
        b1, p1 = _spline_basis(scaled[0], k_int)
        b2, p2 = _spline_basis(scaled[1], k_int)
        tensor = (b1[:, :, None] * b2[:, None, :]).reshape(n, -1)
        blocks.append(tensor - tensor.mean(axis=0))
        pens.append(np.maximum(p1[:, None], p2[None, :]).ravel())
    return np.hstack(blocks), np.concatenate(pens)


def _fit_gcv(xtx: np.ndarray, xty: np.ndarray, yty: np.ndarray, pen: np.ndarray, n: int, lambdas: np.ndarray):
    """Ridge/penalised least squares for several responses, lambda per response by GCV.

    Solved in the eigenbasis of X'X^-1/2 P X'X^-1/2 so each lambda costs O(p) per response.
    Returns coefficients (p, R), residual variance (R,), and the covariance factors."""
    p = xtx.shape[0]
    # Cholesky of X'X (small jitter: a centred cubic basis can be near-collinear)
    jitter = 1e-10 * np.trace(xtx) / p
    chol = np.linalg.cholesky(xtx + jitter * np.eye(p))
    chol_inv = np.linalg.inv(chol)  # X'X = L L'
    m = chol_inv @ np.diag(pen) @ chol_inv.T
    evals, evecs = np.linalg.eigh(m)
    evals = np.maximum(evals, 0.0)
    # beta(lambda) = L^-T U (I + lambda E)^-1 U' L^-1 X'y
    z = evecs.T @ (chol_inv @ xty)  # (p, R)
    best = None
    for lam in lambdas:
        shrink = 1.0 / (1.0 + lam * evals)  # (p,)
        edf = shrink.sum()
        zs = shrink[:, None] * z
        # RSS = y'y - 2 z' S z + z' S^2 z
        rss = yty - 2.0 * np.sum(z * zs, axis=0) + np.sum(zs * zs, axis=0)
        gcv = n * rss / (n - edf) ** 2
        if best is None:
            best = [gcv, np.full(gcv.shape, lam), rss, np.full(gcv.shape, edf)]
        else:
            better = gcv < best[0]
            best[0] = np.where(better, gcv, best[0])
            best[1] = np.where(better, lam, best[1])
            best[2] = np.where(better, rss, best[2])
            best[3] = np.where(better, edf, best[3])
    lam_r, rss_r, edf_r = best[1], best[2], best[3]
    shrink = 1.0 / (1.0 + lam_r[None, :] * evals[:, None])  # (p, R)
    beta = chol_inv.T @ (evecs @ (shrink * z))
    sigma2 = np.maximum(rss_r, 0.0) / np.maximum(n - edf_r, 1.0)
    # coefficient covariance per response: sigma2 * A diag(shrink^2) A', A = L^-T U
    a = chol_inv.T @ evecs
    return beta, sigma2, a, shrink


def evppi(
    cost: ArrayLike,
    effect: ArrayLike,
    parameters: np.ndarray | Mapping[str, np.ndarray],
    wtp: ArrayLike,
    *,
    n_knots: int = 8,
    interaction: bool = True,
    n_se_samples: int = 100,
    seed: int = 20240521,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """EVPPI of one parameter or a group, by penalised regression splines (Strong-Oakley).

    Parameters
    ----------
    cost, effect:
        PSA outputs (D, S).
    parameters:
        The parameter draws (D,) or (D, P) (a group), or a mapping name -> (D,) array.
    wtp:
        Scalar or (W,) willingness to pay per unit of effect.
    n_knots:
        Interior knots per parameter (quantiles), reduced automatically for few draws (about five
        draws per basis column); the ridge penalty is chosen by GCV per response.
    interaction:
        For a group of exactly two parameters (and >= 200 draws), add a penalised tensor-product
        spline (interactions);
        groups of three or more are fitted additively (interactions ignored: may underestimate).
    n_se_samples:
        Coefficient draws for the standard error (0 to skip; then ``evppi_se`` is NaN).
    """
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    c, e = _ce_arrays(cost, effect)
    n_d, n_s = c.shape
    if isinstance(parameters, Mapping):
        names = [str(k) for k in parameters]
        phi = np.column_stack([as_finite(v, f"parameters.{k}") for k, v in parameters.items()])
    else:
        phi = as_finite(parameters, "parameters")
        if phi.ndim == 1:
            phi = phi[:, None]
        names = list(names) if names is not None else [f"parameter_{j}" for j in range(phi.shape[1])]
    if phi.shape[0] != n_d:
        raise InputError("parameters", phi.shape, f"needs one row per PSA draw ({n_d})")
    if n_d < MIN_EVPPI_DRAWS:
        raise InputError("cost", n_d, f"EVPPI regression needs at least {MIN_EVPPI_DRAWS} PSA draws")
    if n_s < 2:
        raise InputError("cost", n_s, "EVPPI needs at least two strategies")
    w = np.atleast_1d(_wtp_array(wtp))
    if int(n_knots) != n_knots or n_knots < 0:
        raise InputError("n_knots", n_knots, "must be an integer >= 0")
    # few draws: fewer knots so the basis stays well below the number of draws (about 5 per column)
    n_knots = int(min(n_knots, max(0, n_d // (5 * phi.shape[1]) - 4)))
    x, pen = _design(phi, n_knots, interaction and n_d >= 200)
    # responses: incremental NB of strategies 2..S vs 1 at every wtp -> (D, W*(S-1))
    inc_e = e[:, 1:] - e[:, :1]
    inc_c = c[:, 1:] - c[:, :1]
    y = (w[None, :, None] * inc_e[:, None, :] - inc_c[:, None, :]).reshape(n_d, -1)
    xtx = x.T @ x
    xty = x.T @ y
    yty = np.einsum("ij,ij->j", y, y)
    lambdas = np.logspace(-8, 4, 25) * np.trace(xtx) / x.shape[1]
    beta, sigma2, a, shrink = _fit_gcv(xtx, xty, yty, pen, n_d, lambdas)
    fitted = (x @ beta).reshape(n_d, w.size, n_s - 1)

    def _value(fit: np.ndarray) -> np.ndarray:  # fit (..., D, W, S-1) -> EVPPI (..., W)
        # max over strategies by elementwise maxima (a reduction over a short last axis is slow)
        best = np.maximum(fit[..., 0], 0.0)
        for s in range(1, fit.shape[-1]):
            np.maximum(best, fit[..., s], out=best)
        return best.mean(axis=-2) - np.maximum(fit.mean(axis=-3).max(axis=-1), 0.0)

    value = np.maximum(_value(fitted), 0.0)
    total = np.atleast_1d(evpi(c, e, w))
    se = np.full(w.size, np.nan)
    if n_se_samples > 0:
        rng = child_rng(seed)
        # beta_r = A diag(shrink_r) z_r with z_r = U' L^-1 X' y_r, so Cov(z_r, z_s) = Sigma_rs I where
        # Sigma is the residual covariance between responses (the incremental NBs of different
        # strategies are correlated): draw z jointly across responses with Sigma's Cholesky factor.
        resid = y - x @ beta
        sigma = resid.T @ resid / max(n_d - float(np.mean(shrink.sum(axis=0))), 1.0)
        sigma = 0.5 * (sigma + sigma.T) + 1e-12 * np.trace(sigma) / sigma.shape[0] * np.eye(sigma.shape[0])
        try:
            chol_sigma = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:  # degenerate (e.g. identical responses): independent fallback
            chol_sigma = np.diag(np.sqrt(sigma2))
        zs = rng.standard_normal((n_se_samples, a.shape[1], beta.shape[1])) @ chol_sigma.T
        delta = np.einsum("pk,skr->spr", a, zs * shrink[None])
        samples = np.empty((n_se_samples, w.size))
        n_r = beta.shape[1]
        block = max(1, (1 << 20) // (n_d * n_r))  # coefficient samples per batched matmul
        for a in range(0, n_se_samples, block):  # loop over blocks of SE samples, not PSA draws
            b = min(n_se_samples, a + block)
            deltas = delta[a:b].transpose(1, 0, 2).reshape(beta.shape[0], -1)  # (p, k * R)
            fit = (x @ deltas).reshape(n_d, b - a, n_r) + fitted.reshape(n_d, 1, n_r)
            fit = fit.transpose(1, 0, 2).reshape(b - a, n_d, w.size, n_s - 1)
            samples[a:b] = _value(fit)
        se_regression = samples.std(axis=0, ddof=1)
        # Monte Carlo error of the outer mean over PSA draws: EVPPI = mean_i h_i with
        # h_i = max_d g_d(phi_i) - g_d*(phi_i), d* the strategy with the highest mean
        full = np.concatenate([np.zeros(fitted.shape[:-1] + (1,)), fitted], axis=-1)  # (D, W, S)
        d_star = full.mean(axis=0).argmax(axis=-1)  # (W,)
        h = full.max(axis=-1) - full[:, np.arange(w.size), d_star]
        se = np.sqrt(se_regression**2 + h.var(axis=0, ddof=1) / n_d)
    return pd.DataFrame({"wtp": w, "evppi": value, "evppi_se": se, "evpi": total, "parameters": ",".join(names)})
