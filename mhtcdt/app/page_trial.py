"""Virtual trial page: Kaplan-Meier curves per arm with 95% bands and numbers at risk, medians,
hazard ratios, log-rank tests and RMST differences from :func:`mhtcdt.decision.run.pipeline.run_pipeline`,
and power versus sample size from replicate virtual trials (:mod:`mhtcdt.decision.trial.power`).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.text import md
from mhtcdt.decision.report import figures
from mhtcdt.decision.report.labels import p_value
from mhtcdt.decision.report.palette import scenario_palette

POWER_SIZES = (50, 100, 200, 300, 400, 600, 800, 1000)


def _fmt(x: float, digits: int = 1) -> str:
    return "not reached" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _medians_table(summary: pd.DataFrame) -> pd.DataFrame:
    out = summary[["arm", "endpoint", "n", "events"]].copy()
    reached = summary["median_reached"] if "median_reached" in summary else [True] * len(summary)
    out["median [months] (95% CI)"] = [
        f"{_fmt(m) if r else 'not reached'} ({_fmt(lo)} to {_fmt(hi)})"
        for m, r, lo, hi in zip(
            summary["median_months"],
            reached,
            summary["median_ci_lower"],
            summary["median_ci_upper"],
            strict=True,
        )
    ]
    return out


def _comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in comparison.itertuples(index=False):
        row = {
            "comparison": r.comparison,
            "endpoint": r.endpoint,
            "hazard ratio (95% CI)": f"{r.hazard_ratio:.2f} ({r.hr_ci_lower:.2f}–{r.hr_ci_upper:.2f})",
            "log-rank p": p_value(r.logrank_p),
            "RMST difference [months]": f"{r.rmst_difference_months:+.2f}",
        }
        if hasattr(r, "rmst_tau_months"):
            row["RMST horizon [months]"] = f"{r.rmst_tau_months:.0f}"
        if hasattr(r, "ph_test_p"):
            row["proportional-hazards test p"] = p_value(r.ph_test_p)
        rows.append(row)
    return pd.DataFrame(rows)


def render() -> None:
    st.title("Virtual trial")
    scenario = state.get_scenario()
    st.caption(
        f"{md(scenario.name)} · reference arm: {md(scenario.trial.reference_arm)}. The effect of MHT is a "
        "model prediction from a calibrated mechanistic model, not trial evidence."
    )
    result = state.pipeline_result(scenario)
    if result is None:
        return

    counts = result.trial.groupby("arm", sort=False).size()
    cols = st.columns(len(counts) + 1)
    cols[0].metric("randomised", f"{int(counts.sum()):,}")
    for c, (arm, n) in zip(cols[1:], counts.items(), strict=True):
        c.metric(md(arm), f"{int(n):,}")

    endpoint = st.radio(
        "endpoint",
        ["OS", "PFS"],
        horizontal=True,
        key="km_endpoint",
        format_func=lambda e: {"OS": "overall survival", "PFS": "progression-free survival"}[e],
    )
    times = figures.at_risk_times(result.curves, endpoint)
    at_risk = figures.numbers_at_risk(result.trial, endpoint, times)
    comp = result.comparison[result.comparison["endpoint"] == endpoint]
    if len(comp):
        first = comp.iloc[0]
        k = st.columns(4)
        k[0].metric(
            "hazard ratio",
            f"{first.hazard_ratio:.2f}",
            help=f"{md(first.comparison)}: Cox proportional hazards, arm only; below 1 favours "
            f"{md(first.comparison.split(' vs ')[0])}.",
        )
        k[1].metric("95% CI", f"{first.hr_ci_lower:.2f} – {first.hr_ci_upper:.2f}")
        k[2].metric("log-rank p", p_value(first.logrank_p))
        k[3].metric("RMST difference", f"{first.rmst_difference_months:+.2f} months")
    st.pyplot(figures.kaplan_meier(result.curves, endpoint, at_risk, scenario_palette(scenario)), width="stretch")
    st.markdown("**Medians**")
    summ = result.survival_summary
    st.dataframe(_medians_table(summ[summ["endpoint"] == endpoint]), hide_index=True, width="stretch")
    st.markdown("**Comparisons** (Cox hazard ratio, log-rank test, restricted mean survival time)")
    st.dataframe(_comparison_table(comp), hide_index=True, width="stretch", key="comparison_table")
    _parametric_section(scenario, result)
    _power_section(scenario, endpoint, len(result.trial))


def _parametric_section(scenario, result) -> None:
    """Parametric fits to the censored trial, on request: an analysis (as an HTA submission would fit a trial),
    not the economics input unless the scenario selects ``survival_source = "parametric"``."""
    st.subheader("Parametric fits (an analysis)")
    source = scenario.economics.survival_source
    st.caption(
        "As an HTA submission would fit a trial: six parametric families per arm and endpoint, with AIC. "
        + (
            "This scenario uses them as the economics input (survival_source = parametric)."
            if source == "parametric"
            else "The economics uses the outcome model's own survival (one source for the base case and the "
            "PSA); these fits are for comparison only."
        )
    )
    fits = result.parametric
    if fits.empty:
        if not st.button("Fit parametric curves", key="fit_parametric"):
            return
        fits = state.run_job(
            "parametric-" + state.trial_key(scenario),
            "mhtcdt.app.tasks:parametric_fits_task",
            result.trial,
            label="Fitting parametric curves",
        )
        if fits is None:
            return
    shown = fits[["arm", "endpoint", "distribution", "aic", "delta_aic", "median_months", "converged"]].copy()
    shown["aic"] = shown["aic"].map(lambda v: f"{v:,.1f}")
    shown["delta_aic"] = shown["delta_aic"].map(lambda v: f"{v:,.1f}")
    shown["median_months"] = shown["median_months"].map(lambda v: f"{v:.1f}" if v == v else "—")
    shown.columns = ["arm", "endpoint", "distribution", "AIC", "AIC above the best", "median [months]", "converged"]
    st.dataframe(shown, hide_index=True, width="stretch", key="parametric_table")


def _power_section(scenario, endpoint: str, trial_n: int) -> None:
    """Power vs sample size by replicate virtual trials (worker job, once per scenario and settings)."""
    st.subheader("Power versus sample size")
    c1, c2 = st.columns(2)
    replicates = c1.select_slider(
        "replicate trials per size",
        [100, 200, 500, 1000],
        value=200,
        key="power_replicates",
        help="More replicates: narrower bands, longer run.",
    )
    alpha = c2.select_slider("two-sided significance level", [0.01, 0.025, 0.05, 0.1], value=0.05, key="power_alpha")
    sizes = POWER_SIZES
    text = state.scenario_toml(scenario)
    key = "power-" + state.input_key(state.trial_key(scenario), sizes, replicates, endpoint, alpha)
    table = state.run_job(
        key,
        "mhtcdt.app.tasks:power_curve_task",
        text,
        sizes,
        replicates,
        endpoint,
        alpha,
        label="Replicate virtual trials",
    )
    if table is None:
        return
    st.pyplot(figures.power_curve(table, trial_n), width="content")
    st.caption(
        f"{md(table.attrs.get('comparison', ''))}, {endpoint}, log-rank test at α = {alpha:g}; "
        f"{replicates} replicate trials per size drawn from the scenario's eligible patients. Power is "
        "the probability that a trial would detect the effect the model predicts."
    )


if __name__ == "__main__":
    render()
