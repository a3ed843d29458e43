"""Parametric survival curves for partitioned survival models, vectorised over PSA draws.

Each function returns S(t) for times ``t`` (any unit, the same as the scale parameters) and
parameters that broadcast against each other; the time axis is appended last, so parameters of
shape (D, S) give curves (D, S, T).  Parameterisations (lifelines conventions where they exist):

* exponential(rate):             S = exp(-rate t)
* weibull(shape k, scale lam):   S = exp(-(t / lam)^k)
* loglogistic(shape b, scale a): S = 1 / (1 + (t / a)^b)
* lognormal(mu, sigma):          S = 1 - Phi((ln t - mu) / sigma)
* gompertz(shape g, rate b):     S = exp(-(b / g) (exp(g t) - 1))   (g -> 0 gives exponential(b))
* gengamma is not offered (use a spline or an external fit and pass the curve).

:func:`weibull_from_coefficients` maps (log shape, log scale) draws, e.g. from
``psa.MultivariateNormal`` of a fitted model's coefficients, to curves.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from mhtcdt.economics.validation import as_finite
from mhtcdt.errors import InputError


def _time(t) -> np.ndarray:
    arr = as_finite(t, "time")
    if arr.ndim != 1 or np.any(arr < 0):
        raise InputError("time", arr.shape if arr.ndim != 1 else float(arr.min()), "needs a 1-D grid of times >= 0")
    return arr


def _positive(value, field: str) -> np.ndarray:
    arr = as_finite(value, field)
    if np.any(arr <= 0):
        raise InputError(field, float(arr.min()), "must be > 0")
    return arr[..., None]


def exponential(t, rate) -> np.ndarray:
    """S(t) = exp(-rate t)."""
    return np.exp(-_positive(rate, "rate") * _time(t))


def weibull(t, shape, scale) -> np.ndarray:
    """S(t) = exp(-(t / scale)^shape)."""
    return np.exp(-((_time(t) / _positive(scale, "scale")) ** _positive(shape, "shape")))


def loglogistic(t, shape, scale) -> np.ndarray:
    """S(t) = 1 / (1 + (t / scale)^shape)."""
    return 1.0 / (1.0 + (_time(t) / _positive(scale, "scale")) ** _positive(shape, "shape"))


def lognormal(t, meanlog, sdlog) -> np.ndarray:
    """S(t) = 1 - Phi((ln t - meanlog) / sdlog); S(0) = 1."""
    tt = _time(t)
    mu = as_finite(meanlog, "meanlog")[..., None]
    sd = _positive(sdlog, "sdlog")
    with np.errstate(divide="ignore"):
        z = (np.log(tt) - mu) / sd
    return 1.0 - ndtr(z)


def gompertz(t, shape, rate) -> np.ndarray:
    """S(t) = exp(-(rate / shape) (exp(shape t) - 1)); shape may be negative (a cure fraction
    exp(rate / shape)) or 0 (exponential)."""
    tt = _time(t)
    g = as_finite(shape, "shape")[..., None]
    b = _positive(rate, "rate")
    small = np.abs(g) < 1e-12
    safe_g = np.where(small, 1.0, g)
    cum = np.where(small, b * tt, b / safe_g * np.expm1(safe_g * tt))
    return np.exp(-cum)


def weibull_from_coefficients(t, log_shape, log_scale) -> np.ndarray:
    """Weibull curves from (log shape, log scale) coefficients (e.g. MVN PSA draws)."""
    return weibull(t, np.exp(as_finite(log_shape, "log_shape")), np.exp(as_finite(log_scale, "log_scale")))
