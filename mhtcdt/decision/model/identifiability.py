"""Identifiability report of a calibration: what the targets tell about each parameter.

* **Prior vs posterior** per parameter (:func:`prior_posterior`): prior range and shape, posterior mean, SD and
  95 % interval, the point estimate, and the shrinkage ``1 - var_post / var_prior`` in the unit box of the prior
  (0 = the targets say nothing, 1 = fully determined).
* **Local sensitivity matrix** (:func:`sensitivity`): ``J[k, j]`` = change of target ``k``'s z-score
  ``(g(sim) - centre) / se`` when parameter ``j`` moves by one posterior SD around the point estimate (central
  differences on the unit box). Large ``|J|`` = target ``k`` informs parameter ``j``.
* **Posterior correlations** (:func:`correlations`) in the unit box; strongly correlated pairs are directions the
  targets pin down only jointly.
* **Posterior predictive checks** (:func:`predictive_checks`): for every target the 95 % range of the simulated
  statistic over the posterior draws and the predictive p-value ``P(replicated study > observed)`` with the
  replicate ``N(g(sim(theta)), se^2)`` (Gelman A, Meng XL, Stern H. Stat Sin 1996;6:733-807); p near 0 or 1 flags
  a target the model cannot reproduce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm

if TYPE_CHECKING:
    from mhtcdt.decision.model.calibration import CalibrationProblem


def prior_posterior(problem: CalibrationProblem, particles: np.ndarray, point_u: np.ndarray) -> pd.DataFrame:
    """One row per parameter: prior, posterior summary, point estimate and shrinkage."""
    draws = np.array([[problem.from_unit(p)[k] for k in problem.names] for p in particles])
    point = problem.from_unit(point_u)
    rows = []
    for j, k in enumerate(problem.names):
        prior = problem.base.priors[k]
        lo, hi = map(float, prior["range"])
        col = draws[:, j]
        rows.append(
            dict(
                parameter=k,
                prior=str(prior.get("prior", "uniform")),
                prior_low=lo,
                prior_high=hi,
                posterior_mean=float(col.mean()),
                posterior_sd=float(col.std(ddof=1)),
                posterior_2_5=float(np.quantile(col, 0.025)),
                posterior_97_5=float(np.quantile(col, 0.975)),
                point=float(point[k]),
                shrinkage=float(1.0 - np.var(particles[:, j], ddof=1) / (1.0 / 12.0)),
            )
        )
    return pd.DataFrame(rows)


def sensitivity(problem: CalibrationProblem, particles: np.ndarray, point_u: np.ndarray) -> pd.DataFrame:
    """Local sensitivity matrix (targets x parameters) in z-units per posterior SD (see the module docstring)."""
    sd = np.maximum(particles.std(axis=0, ddof=1), 0.01)
    cols = {}
    for j, k in enumerate(problem.names):
        h = min(0.5 * sd[j], 0.25)
        up, dn = point_u.copy(), point_u.copy()
        up[j] = min(1.0, point_u[j] + h)
        dn[j] = max(0.0, point_u[j] - h)
        z_up = problem.scaled(problem.stats(problem.from_unit(up))) / problem.se
        z_dn = problem.scaled(problem.stats(problem.from_unit(dn))) / problem.se
        cols[k] = (z_up - z_dn) / (up[j] - dn[j]) * sd[j]
    out = pd.DataFrame(cols)
    out.insert(0, "target", [t.name for t in problem.targets])
    return out


def informative_targets(sens: pd.DataFrame, top: int = 3, threshold: float = 0.2) -> pd.DataFrame:
    """Per parameter, the targets it moves most (|J| >= threshold z per posterior SD), strongest first."""
    rows = []
    for k in sens.columns[1:]:
        mag = sens[k].abs()
        order = mag.sort_values(ascending=False)
        best = [f"{sens['target'][i]} ({sens[k][i]:+.2f})" for i in order.index[:top] if mag[i] >= threshold]
        rows.append(dict(parameter=k, total_abs_sensitivity=float(mag.sum()), informed_by="; ".join(best) or "none"))
    return pd.DataFrame(rows)


def correlations(problem: CalibrationProblem, particles: np.ndarray, threshold: float = 0.5) -> pd.DataFrame:
    """Pairs of parameters whose posterior correlation (unit box) is at least ``threshold`` in size."""
    r = np.corrcoef(particles.T)
    rows = []
    names = problem.names
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(r[i, j]) >= threshold:
                rows.append(dict(parameter_a=names[i], parameter_b=names[j], correlation=float(r[i, j])))
    out = pd.DataFrame(rows, columns=["parameter_a", "parameter_b", "correlation"])
    return out.reindex(out["correlation"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def predictive_checks(problem: CalibrationProblem, table: pd.DataFrame, draw_stats: np.ndarray) -> pd.DataFrame:
    """Add ``pp_2_5``, ``pp_97_5`` (95 % range of the simulated statistic over the draws) and
    ``predictive_p`` (P(replicate > observed), replicate ~ N(g(sim), se^2) averaged over draws) to ``table``."""
    out = table.copy()
    out["pp_2_5"] = np.quantile(draw_stats, 0.025, axis=0)
    out["pp_97_5"] = np.quantile(draw_stats, 0.975, axis=0)
    scaled = np.array([problem.scaled(v) for v in draw_stats])
    obs = np.array([t.centre for t in problem.targets])
    out["predictive_p"] = norm.sf((obs[None, :] - scaled) / problem.se[None, :]).mean(axis=0)
    return out


def report(problem: CalibrationProblem, particles: np.ndarray, point_u: np.ndarray) -> dict[str, pd.DataFrame]:
    """The identifiability tables: prior_posterior, sensitivity, informative_targets, correlations."""
    sens = sensitivity(problem, particles, point_u)
    return {
        "prior_posterior": prior_posterior(problem, particles, point_u),
        "sensitivity": sens,
        "informative_targets": informative_targets(sens),
        "correlations": correlations(problem, particles),
    }


def format_report(tables: dict[str, pd.DataFrame]) -> str:
    """The identifiability report as text."""
    pp = tables["prior_posterior"]
    lines = [
        "IDENTIFIABILITY",
        "Prior vs posterior (shrinkage 0 = not informed by the targets, 1 = determined):",
        f"  {'parameter':<38} {'prior':<11} {'range':<17} {'posterior mean (95%)':<30} {'point':>9} {'shrink':>6}",
    ]
    for r in pp.itertuples():
        lines.append(
            f"  {r.parameter:<38} {r.prior:<11} {f'{r.prior_low:.3g}-{r.prior_high:.3g}':<17} "
            f"{f'{r.posterior_mean:.3g} ({r.posterior_2_5:.3g}-{r.posterior_97_5:.3g})':<30} {r.point:>9.3g} "
            f"{r.shrinkage:>6.2f}"
        )
    lines.append("Which targets inform which parameter (z-change per posterior SD, local sensitivity matrix):")
    for r in tables["informative_targets"].itertuples():
        lines.append(f"  {r.parameter:<38} {r.informed_by}")
    corr = tables["correlations"]
    if corr.empty:
        lines.append("Posterior correlations: none with |r| >= 0.5")
    else:
        lines.append("Posterior correlations with |r| >= 0.5:")
        for r in corr.itertuples():
            lines.append(f"  {r.parameter_a} ~ {r.parameter_b}: {r.correlation:+.2f}")
    return "\n".join(lines)
