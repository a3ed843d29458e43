"""Virtual trial page: Kaplan-Meier curves per arm with 95% bands and numbers at risk, medians,
hazard ratios, log-rank tests and RMST differences from :func:`mhtcdt.decision.pipeline.run_pipeline`.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from mhtcdt.app import figures, state


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
            "log-rank p": f"{r.logrank_p:.3g}",
            "RMST difference [months]": f"{r.rmst_difference_months:+.2f}",
        }
        if hasattr(r, "rmst_tau_months"):
            row["RMST horizon [months]"] = f"{r.rmst_tau_months:.0f}"
        if hasattr(r, "ph_test_p"):
            row["PH test p"] = f"{r.ph_test_p:.3g}"
        rows.append(row)
    return pd.DataFrame(rows)


def render() -> None:
    st.title("Virtual trial")
    scenario = state.get_scenario()
    st.caption(
        f"{scenario.name} · reference arm: {scenario.trial.reference_arm}. The effect of MHT is a "
        "model prediction from a calibrated mechanistic model, not trial evidence."
    )
    result = state.pipeline_result(scenario)
    if result is None:
        return

    counts = result.trial.groupby("arm", sort=False).size()
    cols = st.columns(len(counts) + 1)
    cols[0].metric("randomised", f"{int(counts.sum()):,}")
    for c, (arm, n) in zip(cols[1:], counts.items(), strict=True):
        c.metric(arm, f"{int(n):,}")

    endpoint = st.radio(
        "endpoint",
        ["OS", "PFS"],
        horizontal=True,
        key="km_endpoint",
        format_func=lambda e: {"OS": "overall survival", "PFS": "progression-free survival"}[e],
    )
    times = figures.at_risk_times(result.curves, endpoint)
    at_risk = figures.numbers_at_risk(result.trial, endpoint, times)
    left, right = st.columns([3, 2])
    with left:
        st.pyplot(figures.kaplan_meier(result.curves, endpoint, at_risk))
    with right:
        st.markdown("**Medians**")
        summ = result.survival_summary
        st.dataframe(_medians_table(summ[summ["endpoint"] == endpoint]), hide_index=True, width="stretch")
        st.markdown("**Comparisons** (Cox hazard ratio, log-rank test, restricted mean survival time)")
        comp = result.comparison
        st.dataframe(
            _comparison_table(comp[comp["endpoint"] == endpoint]),
            hide_index=True,
            width="stretch",
            key="comparison_table",
        )


if __name__ == "__main__":
    render()
