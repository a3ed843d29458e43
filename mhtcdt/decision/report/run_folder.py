"""Run outputs: the printed summary and the files written to the output folder.

Files written by :func:`write_outputs` (CSV, UTF-8, one header row):

=====================  ===========================================================
``scenario.toml``      the scenario text exactly as run
``run.json``           run id, seed, package version, scenario SHA-256, stage timings
``consort.csv``        step, criterion, n_before, excluded, remaining
``patients.csv``       one row per randomised patient (trial contract)
``survival_summary.csv`` arm, endpoint, n, events, median_months with 95% CI
``comparison.csv``     hazard ratios with 95% CI, log-rank p, RMST difference
``parametric_fits.csv`` parametric survival fits with AIC/BIC
``km_curves.csv``      Kaplan-Meier curves with 95% CI and numbers at risk
``economics.csv``      per-arm discounted/undiscounted costs, life-years, QALYs
``incremental.csv``    incremental analysis with dominance and ICERs
``psa_summary.csv``    PSA mean and 95% interval of cost and QALYs per arm (if a PSA ran)
``ceac.csv``           acceptability curve: wtp, strategy, probability, expected_nmb, optimal
``evppi.csv``          EVPPI per uncertain input at the willingness to pay, with standard error
``tornado.csv``        one-way DSA of the incremental net monetary benefit
``summary.txt``        the printed summary
=====================  ===========================================================
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from mhtcdt import __version__
from mhtcdt.decision.run.pipeline import PipelineResult
from mhtcdt.decision.trial.survival import format_median


def scenario_hash(scenario_text: str) -> str:
    """SHA-256 of the scenario text (hex)."""
    return hashlib.sha256(scenario_text.encode("utf-8")).hexdigest()


def run_id(scenario_text: str, seed: int, when: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-s<seed>-<hash8>``: sortable by time, traceable to scenario and seed."""
    when = when or datetime.now(UTC)
    return f"{when:%Y%m%d-%H%M%S}-s{seed}-{scenario_hash(scenario_text)[:8]}"


def default_out_dir(scenario_text: str, seed: int) -> Path:
    return Path("mhtcdt-results") / run_id(scenario_text, seed)


def _fmt_ci(lo: float, hi: float) -> str:
    return f"({format_median(lo)} to {format_median(hi)})"


def format_money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def format_summary(result: PipelineResult, psa=None) -> str:
    """A readable plain-text summary of one run."""
    sc = result.scenario
    eco = sc.economics
    lines: list[str] = []
    add = lines.append
    add("=" * 78)
    add(f"mhtcdt {__version__}  |  {sc.name}  |  seed {result.seed}")
    add("=" * 78)

    add("\nCONSORT flow")
    for row in result.flow.itertuples(index=False):
        excl = f"excluded {row.excluded:>6d}" if row.step > 0 else " " * 15
        add(f"  {row.criterion:<46s} {excl}   remaining {row.remaining:>6d}")
    counts = result.trial.groupby("arm", sort=False).size()
    add("  randomised: " + ", ".join(f"{arm} {n}" for arm, n in counts.items()))

    add("\nSurvival from randomisation (months; median with 95% CI)")
    summ = result.survival_summary
    for endpoint in ("PFS", "OS"):
        for row in summ[summ["endpoint"] == endpoint].itertuples(index=False):
            reached = bool(getattr(row, "median_reached", True))
            add(
                f"  {endpoint:<3s} {row.arm:<28s} n={row.n:<4d} events={row.events:<4d} median "
                f"{format_median(row.median_months, reached):>11s} {_fmt_ci(row.median_ci_lower, row.median_ci_upper)}"
            )
    add("\nComparisons (vs reference arm " + sc.trial.reference_arm + ")")
    for row in result.comparison.itertuples(index=False):
        add(
            f"  {row.endpoint:<3s} {row.comparison:<40s} HR {row.hazard_ratio:.2f} "
            f"(95% CI {row.hr_ci_lower:.2f}-{row.hr_ci_upper:.2f}), log-rank p = {row.logrank_p:.3g}, "
            f"RMST difference {row.rmst_difference_months:+.1f} months"
        )

    add(
        f"\nCost-effectiveness ({eco.currency} {eco.price_year}, {eco.perspective} perspective, "
        f"discount {eco.discount_costs:.1%} costs / {eco.discount_effects:.1%} effects, "
        f"horizon {eco.horizon_years:g} years)"
    )
    for row in result.economics.itertuples(index=False):
        add(
            f"  {row.strategy:<28s} cost {format_money(row.cost, eco.currency):>14s}   "
            f"life-years {row.life_years:6.3f}   QALYs {row.qalys:6.3f}"
        )
    add("\nIncremental analysis")
    for row in result.incremental.itertuples(index=False):
        icer = "" if pd.isna(row.icer) else f"ICER {format_money(row.icer, eco.currency)}/QALY"
        add(f"  {row.strategy:<28s} {row.status:<22s} {icer}")
    add("\nVerdict (deterministic)")
    add("  " + result.verdict)
    if psa is not None:
        add(f"\nProbabilistic sensitivity analysis ({psa.n_draws} draws)")
        prob = psa.probability_cost_effective()
        for row in psa.summary().itertuples(index=False):
            add(
                f"  {row.strategy:<28s} cost {format_money(row.cost_mean, eco.currency):>14s} "
                f"({row.cost_low:,.0f}-{row.cost_high:,.0f})   QALYs {row.qalys_mean:.3f} "
                f"({row.qalys_low:.3f}-{row.qalys_high:.3f})   P(cost-effective) {prob[row.strategy]:.2f}"
            )
        if psa.value_based_price is not None:
            add(
                f"  value-based price of the MHT course at {format_money(eco.willingness_to_pay, eco.currency)}/QALY: "
                f"{format_money(psa.value_based_price, eco.currency)} (scenario: "
                f"{format_money(eco.costs.mht_course, eco.currency)})"
            )
        for note in psa.notes:
            add("  note: " + note)
        add("  " + psa.verdict())
    add(
        "\nNote: no randomised evidence exists for NanoTherm and no clinical evidence for CDT; the "
        "comparative effect is a model prediction calibrated to single-arm and reference-arm results."
    )
    return "\n".join(lines)


def write_outputs(result: PipelineResult, scenario_text: str, out_dir: Path, psa=None) -> list[Path]:
    """Write the run's tables, a copy of the scenario and metadata into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, content: pd.DataFrame | str) -> None:
        path = out_dir / name
        if isinstance(content, pd.DataFrame):
            content.to_csv(path, index=False)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)

    put("scenario.toml", scenario_text)
    put("consort.csv", result.flow)
    put("patients.csv", result.trial)
    put("survival_summary.csv", result.survival_summary)
    put("comparison.csv", result.comparison)
    put("parametric_fits.csv", result.parametric)
    put("km_curves.csv", result.curves)
    put("economics.csv", result.economics)
    put("incremental.csv", result.incremental)
    if psa is not None:
        put("psa_summary.csv", psa.summary())
        put("ceac.csv", psa.ceac)
        put("evppi.csv", psa.evppi)
        put("tornado.csv", psa.tornado)
    put("summary.txt", format_summary(result, psa) + "\n")
    meta = {
        "run_id": out_dir.name,
        "seed": result.seed,
        "mhtcdt_version": __version__,
        "scenario_name": result.scenario.name,
        "scenario_sha256": scenario_hash(scenario_text),
        "written_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()},
        "verdict": result.verdict,
        "psa_draws": 0 if psa is None else psa.n_draws,
    }
    put("run.json", json.dumps(meta, indent=2) + "\n")
    return written
