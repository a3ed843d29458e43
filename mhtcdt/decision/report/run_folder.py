"""The run folder: the files ``mhtcdt run``/``demo`` write to ``./mhtcdt-results/<run id>/`` (or ``--out``).

Files written by :func:`write_outputs` (CSV, UTF-8, one header row, full precision; text cells that a
spreadsheet would run as a formula start with an apostrophe, :mod:`mhtcdt.decision.report.cells`):

=========================  ===========================================================
``scenario.toml``          the scenario text exactly as run
``run.json``               run id, seed, package version, scenario SHA-256, stage timings, verdict, the
                           outcome calibration (id, SHA-256, path, physics hash and whether it matches the
                           code), the physics assumptions used (and with physics uncertainty the PSA's inputs and
                           emulator error) and
                           ``computed``: what was computed (horizon asked and computed, and why they
                           differ, survival source, counting, patients, PSA draws), the table names
``consort.csv``            step, criterion, n_before, excluded, remaining
``patients.csv``           one row per randomised patient (trial contract)
``survival_summary.csv``   arm, endpoint, n, events, median_months with 95% CI
``comparison.csv``         hazard ratios with 95% CI, log-rank p, RMST difference
``parametric_fits.csv``    parametric survival fits with AIC/BIC
``km_curves.csv``          Kaplan-Meier curves with 95% CI and numbers at risk
``economics.csv``          per-arm discounted/undiscounted costs, life-years, QALYs
``incremental.csv``        incremental analysis with dominance and ICERs
``psa_summary.csv``        PSA mean and 95% interval of cost and QALYs per arm (if a PSA ran)
``ceac.csv``               acceptability curve: wtp, strategy, probability, expected_nmb, optimal
``ceaf.csv``               acceptability frontier: the strategy with the highest expected NMB per wtp
``evpi.csv``               expected value of perfect information over the wtp grid
``evppi.csv``              EVPPI per uncertain input at the willingness to pay, with standard error
``tornado.csv``            one-way DSA of the incremental net monetary benefit
``decision_drivers.csv``   with physics uncertainty: every uncertain input ranked by EVPPI, with its label and
                           its share of the variance of the incremental net benefit and QALYs
``structural.csv``         with physics uncertainty: structural alternatives side by side (ICER, P(CE))
``psa_inputs.csv``         with physics uncertainty: the physics and structural inputs, distributions, sources
``columns.csv``            the data dictionary: table, column, unit, meaning of every column above
                           (:mod:`mhtcdt.decision.report.data_dictionary`)
``summary.txt``            the printed summary (:mod:`mhtcdt.decision.report.summary`)
=========================  ===========================================================

The table names (the CSV stems) are the same in the results store (``mhtcdt runs show RUN --table
NAME``), in ``mhtcdt runs export`` and in the app's downloads (:data:`mhtcdt.decision.report.tables.RUN_TABLES`).

With ``report=True`` (``--report``) also, by :func:`write_report`:

=====================  ===========================================================
``report.html``        the CHEERS 2022 HTML report (:mod:`mhtcdt.decision.report.html`), numbers rounded
                       for reading (the CSVs keep full precision)
``tables.xlsx``        every table of the run, one sheet each (needs ``mhtcdt[report]``)
``figures/*.png|svg``  every figure of :func:`mhtcdt.decision.report.figures.result_figures`
=====================  ===========================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mhtcdt import __version__
from mhtcdt.decision.report.cells import spreadsheet_safe, terminal_safe
from mhtcdt.decision.report.summary import computed_horizon, format_summary
from mhtcdt.decision.report.tables import run_tables
from mhtcdt.decision.run.pipeline import PipelineResult
from mhtcdt.decision.scenario.reference_case import reference_case_notes


def scenario_hash(scenario_text: str) -> str:
    """SHA-256 of the scenario text (hex)."""
    return hashlib.sha256(scenario_text.encode("utf-8")).hexdigest()


def run_id(scenario_text: str, seed: int, when: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-s<seed>-<hash8>``: sortable by time, traceable to scenario and seed (the folder
    and the store add ``-2``, ``-3`` ... when two runs would share one)."""
    when = when or datetime.now(UTC)
    return f"{when:%Y%m%d-%H%M%S}-s{seed}-{scenario_hash(scenario_text)[:8]}"


def computed(result: PipelineResult, psa: Any | None = None) -> dict[str, Any]:
    """What the run computed, for ``run.json``: it may differ from what the scenario asks (a
    Kaplan-Meier horizon is cut at the last follow-up)."""
    sc = result.scenario
    asked, done, reason = computed_horizon(result)
    return {
        "horizon_months_asked": asked,
        "horizon_months_computed": done,
        "horizon_cut": reason,
        "survival_source": sc.economics.survival_source,
        "counting": sc.economics.counting,
        "cycle_months": sc.economics.cycle_months,
        "willingness_to_pay": sc.economics.willingness_to_pay,
        "currency": sc.economics.currency,
        "patients_screened": int(result.flow["n_before"].iloc[0]),
        "patients_eligible": int(result.flow["remaining"].iloc[-1]),
        "patients_randomised": len(result.trial),
        "psa_draws": 0 if psa is None else psa.n_draws,
    }


def write_outputs(
    result: PipelineResult,
    scenario_text: str,
    out_dir: Path,
    psa=None,
    *,
    report: bool = False,
    run_id: str | None = None,
) -> list[Path]:
    """Write the run's tables, their data dictionary, a copy of the scenario and metadata into ``out_dir``
    (and, with ``report=True``, the HTML report, the workbook and the figures: :func:`write_report`).
    ``run_id`` (default: the folder's name) is the id recorded in ``run.json``."""
    from mhtcdt.decision.report.data_dictionary import data_dictionary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, content: pd.DataFrame | str) -> None:
        path = out_dir / name
        if isinstance(content, pd.DataFrame):
            spreadsheet_safe(content).to_csv(path, index=False)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)

    tables = run_tables(result, psa)
    sc = result.scenario
    dictionary = data_dictionary(tables, sc.economics.currency, sc.cohort.indication)  # before any file
    put("scenario.toml", scenario_text)
    for name, table in tables.items():
        put(f"{name}.csv", table)
    put("columns.csv", dictionary)
    put("summary.txt", terminal_safe(format_summary(result, psa)) + "\n")
    meta = {
        "run_id": run_id or out_dir.name,
        "seed": result.seed,
        "mhtcdt_version": __version__,
        "scenario_name": sc.name,
        "scenario_sha256": scenario_hash(scenario_text),
        "written_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()},
        "verdict": result.verdict,
        "psa_draws": 0 if psa is None else psa.n_draws,
        "calibration": result.extras.get("calibration", {}),
        # the physics assumptions the run used (the scenario's [assumptions] over the data-file defaults)
        "assumptions": dataclasses.asdict(result.scenario.physics_assumptions()),
        "computed": computed(result, psa),
        "tables": list(tables),
    }
    notes = reference_case_notes(sc.economics)
    if notes:  # the jurisdiction, a PPP cost transfer, departures from the reference case, the threshold
        meta["reference_case"] = {"jurisdiction": sc.economics.jurisdiction, "notes": notes}
    if psa is not None and getattr(psa, "physics", None) is not None:
        meta["psa_physics"] = psa.physics.run_record()
    put("run.json", json.dumps(meta, indent=2) + "\n")
    if report:
        written += write_report(result, out_dir, psa)
    return written


def write_report(result: PipelineResult, out_dir: Path, psa=None) -> list[Path]:
    """``report.html``, ``tables.xlsx`` and ``figures/<name>.png`` + ``.svg`` of a run into ``out_dir``.

    The workbook needs openpyxl (``pip install 'mhtcdt[report]'``; :class:`~mhtcdt.decision.extras.MissingExtra`
    otherwise, raised before anything is written).
    """
    import matplotlib

    from mhtcdt.decision.report.figures import result_figures, to_bytes
    from mhtcdt.decision.report.html import build_html_report
    from mhtcdt.decision.report.tables import result_tables
    from mhtcdt.decision.report.workbook import xlsx_workbook

    workbook = xlsx_workbook(result_tables(result, psa))
    out_dir = Path(out_dir)
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.html", out_dir / "tables.xlsx"]
    # names in figure labels are text: a '$' in an arm name is not the start of a mathtext formula
    with matplotlib.rc_context({"text.parse_math": False}):
        written[0].write_text(build_html_report(result, psa), encoding="utf-8")
        written[1].write_bytes(workbook)
        for name, draw in result_figures(result, psa).items():
            figure = draw()
            for fmt in ("png", "svg"):
                path = figures_dir / f"{name}.{fmt}"
                path.write_bytes(to_bytes(figure, fmt))
                written.append(path)
    return written
