"""Dose-response of a scenario's MHT arm: one lever at a time -> heat kill, CDT kill, OS gain, QALY gain, ICER.

Levers (:data:`LEVERS`), each varied alone from the arm as the scenario defines it:

* ``heat_sessions``: 1..6 sessions (or up to the arm's number, if larger);
* ``iron_dose``: 0.25, 0.5, 1, 1.5 and 2 x the arm's fixed iron dose [mg Fe/cm3];
* ``field_amplitude``: fixed amplitudes 4, 7, 10, 13 and 16 kA/m instead of the arm's titration (a titrated arm
  keeps its row "titrated" as the scenario's setting);
* ``gsh_depletion``: without and with the GSH-synthesis inhibitor buthionine sulfoximine (co-agent ``BSO``);
* ``session_spacing``: 24, 48, 84, 120 and 168 h between session starts.

Every variant treats the *same* patients (the scenario's eligible cohort, the first ``n_patients``) with the
arm's physics seed (so per-patient draws are common to all variants), under the scenario's ``[assumptions]``;
the reference arm treats them once with the same seed (its RT kill is each variant's). Outcomes use the
calibrated outcome model at its point estimate with the trial's per-patient random numbers (common random
numbers), so a difference between rows is the lever's effect, not noise. OS gain = mean latent OS (variant -
reference) [months]; QALY gain, incremental cost and ICER from the partitioned-survival model on the empirical
curves at the scenario's point costs and utilities (the course cost is the scenario's whatever the sessions or
dose: no per-session cost is sourced).

**Explanations** (:func:`explain`, per lever over its range and, for sessions and iron, for halving the
scenario's setting), computed from the rows: a change of the QALY gain below :data:`VISIBLE_QALYS` is "not
visible", and the reason is one of: the heated deposit is already sterilised (its survivors are below a tenth
of the clonogens outside it, ``at_ceiling_share``) so what limits the benefit is the share of tumour outside
the heated volume (its median and the heat-kill ceiling it implies); the titration holds the margin at its
target, so the lever changes the applied field, not the temperature; or a kill change too small to move
survival after the clinical effectiveness factor; for GSH depletion, an arm without CDT kill (nothing for
the depletion to enhance) or a CDT kill that hardly moves. A visible change with an unchanged kill is attributed to
the treatment's duration (regrowth starts when treatment ends). Every explanation quotes its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model.economic_model import time_grid_months
from mhtcdt.decision.model.psa_curves import arm_curves, psm, trial_draws
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.decision.streams import physics_seed
from mhtcdt.errors import InputError
from mhtcdt.physics import Assumptions, Protocol, chain

LEVERS = ("heat_sessions", "iron_dose", "field_amplitude", "gsh_depletion", "session_spacing")
LEVER_LABELS = {
    "heat_sessions": "heat sessions",
    "iron_dose": "iron dose [mg Fe/cm3]",
    "field_amplitude": "field amplitude [kA/m]",
    "gsh_depletion": "GSH depletion (BSO co-agent)",
    "session_spacing": "session spacing [h]",
}
DOSE_MULTIPLIERS = (0.25, 0.5, 1.0, 1.5, 2.0)
FIELDS_KA_PER_M = (4.0, 7.0, 10.0, 13.0, 16.0)
SPACINGS_H = (24.0, 48.0, 84.0, 120.0, 168.0)
BSO = "buthionine_sulfoximine"
NO_CDT_LOG10 = 1e-3  # a mean CDT kill below this is "no CDT kill" in the explanations
VISIBLE_QALYS = 0.005  # about 2 quality-adjusted days: a change below this is not visible in a decision
DEFAULT_PATIENTS = 200


@dataclass
class DoseResponse:
    """The table (one row per lever setting) and one explanation per lever."""

    arm: str
    reference: str
    n_patients: int
    table: pd.DataFrame
    explanations: dict[str, str] = field(default_factory=dict)

    def to_csv(self, path) -> None:
        self.table.assign(explanation=self.table["lever"].map(self.explanations)).to_csv(path, index=False)


def focal_arm(scenario: Scenario, arm: str | None = None):
    """The arm whose levers are varied: ``arm`` or the first randomised arm with heat sessions."""
    if arm is not None:
        try:
            spec = scenario.arm(arm)
        except KeyError:
            raise InputError("arm", arm, f"not an arm; arms are {[a.name for a in scenario.arms]}") from None
        if not spec.has_mht:
            raise InputError("arm", arm, "has no heat sessions: the dose-response levers are heat and iron levers")
        return spec
    for spec in scenario.randomised_arms:
        if spec.has_mht:
            return spec
    raise InputError("arms", [a.name for a in scenario.arms], "no randomised arm has heat sessions")


def _variants(arm: Protocol, levers: Sequence[str]) -> list[tuple[str, str, float, bool, Protocol]]:
    """(lever, setting label, numeric value, is the scenario's setting, protocol) for every lever setting."""
    base = arm.model_dump()
    out = []

    def variant(**changes: Any) -> Protocol:
        return Protocol(**{**base, **changes})

    for lever in levers:
        if lever == "heat_sessions":
            for k in range(1, max(6, arm.n_sessions) + 1):
                out.append((lever, f"{k} session{'s' * (k > 1)}", float(k), k == arm.n_sessions, variant(n_sessions=k)))
        elif lever == "iron_dose":
            if arm.np_dose_mg_Fe_per_cm3 is None:
                continue  # planned per patient: no fixed dose to scale
            for m in DOSE_MULTIPLIERS:
                dose = arm.np_dose_mg_Fe_per_cm3 * m
                out.append((lever, f"{dose:g} mg Fe/cm3", dose, m == 1.0, variant(np_dose_mg_Fe_per_cm3=dose)))
        elif lever == "field_amplitude":
            if arm.titrated:
                out.append((lever, f"titrated to {arm.target_temperature_C:g} C", math.nan, True, arm))
            for h in FIELDS_KA_PER_M:
                out.append(
                    (
                        lever,
                        f"{h:g} kA/m fixed",
                        h,
                        h == arm.field_kA_per_m,
                        variant(field_kA_per_m=h, target_temperature_C=None),
                    )
                )
        elif lever == "gsh_depletion":
            co = tuple(a for a in arm.co_agents if a != BSO)
            out.append((lever, "no BSO", 0.0, BSO not in arm.co_agents, variant(co_agents=list(co))))
            out.append((lever, "with BSO", 1.0, BSO in arm.co_agents, variant(co_agents=[*co, BSO])))
        elif lever == "session_spacing":
            if arm.n_sessions < 2:
                continue
            spacings = sorted({*SPACINGS_H, float(arm.session_interval_hours)})
            for h in spacings:
                out.append(
                    (lever, f"every {h:g} h", h, h == arm.session_interval_hours, variant(session_interval_hours=h))
                )
        else:
            raise InputError("levers", lever, f"unknown lever; known: {', '.join(LEVERS)}")
    return out


def _physics(patients: pd.DataFrame, protocol, seed, assumptions: Assumptions) -> tuple[pd.DataFrame, np.ndarray]:
    """The chain's rows and each patient's core kill beyond RT (no infiltrative clonogens) of one protocol."""
    pp = chain.apply_assumption_factors(patients, assumptions)
    solved = chain.solve_stages(pp, protocol, seed, assumptions)
    rows = chain.combine_stage(pp, protocol, seed, assumptions, solved)
    core = chain.combine_stage(pp, protocol, seed, replace(assumptions, infiltrative_clonogen_fraction=0.0), solved)
    chain.check_finite(rows, "dose_response")
    return rows, (core["log10_kill_total"] - core["log10_kill_rt"]).to_numpy(np.float64)


def dose_response(
    scenario: Scenario,
    arm: str | None = None,
    n_patients: int | None = DEFAULT_PATIENTS,
    levers: Sequence[str] = LEVERS,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
    params: outcome.OutcomeParams | None = None,
) -> DoseResponse:
    """The dose-response table of ``scenario``'s MHT arm (see the module docstring)."""
    from mhtcdt.decision.run.pipeline import screen

    spec = focal_arm(scenario, arm)
    reference = scenario.arm(scenario.trial.reference_arm)
    if reference.name == spec.name:
        raise InputError("arm", spec.name, "is the reference arm: nothing to compare it with")
    seed = scenario.seed if seed is None else int(seed)
    if n_patients is not None and not (isinstance(n_patients, int) and n_patients >= 10):
        raise InputError("n_patients", n_patients, "needs at least 10 patients")
    _, selection = screen(scenario, seed)
    patients = selection.eligible.reset_index(drop=True)
    if n_patients is not None:
        patients = patients.head(n_patients)
    if len(patients) < 10:
        raise InputError("cohort.criteria", scenario.cohort.criteria, f"only {len(patients)} eligible patients")
    assumptions = scenario.physics_assumptions()
    names = [a.name for a in scenario.randomised_arms]
    # one physics stream for every patient under the reference and every variant (the MHT arm's): the same
    # patients with the same draws, so the reference's RT kill is each variant's (common random numbers, as the
    # counterfactual population of the pipeline: mhtcdt.decision.run.arm_chain.simulate_counterfactual)
    arm_seed = physics_seed(seed, names.index(spec.name) if spec.name in names else len(names))
    params = _scenario_params(scenario) if params is None else params
    params = replace(params, draws=params.draws.iloc[0:0])
    variants = _variants(spec, levers)
    report = progress or (lambda f: None)
    ref_rows, _ = _physics(patients, reference, arm_seed, assumptions)
    shares = chain.infiltrative_fractions(patients, arm_seed, [assumptions.infiltrative_clonogen_fraction])[0]
    grid = time_grid_months(scenario)
    arms = [reference.name, spec.name]
    frame = patients.assign(
        arm=reference.name,
        treatment_months=outcome.treatment_months(reference),
        **outcome.systemic_columns(reference),  # the arm's systemic therapy (outcome model)
    )
    ref_frame = frame.assign(**{c: ref_rows[c].to_numpy() for c in ("log10_kill_total", "log10_kill_rt")})
    ref_os = _latent_os(ref_frame, params, seed)
    rows = []
    for i, (lever, setting, value, is_base, protocol) in enumerate(variants):
        phys, core = _physics(patients, protocol, arm_seed, assumptions)
        var_frame = frame.assign(
            arm=spec.name,
            treatment_months=outcome.treatment_months(protocol),
            **outcome.systemic_columns(protocol),
            log10_kill_total=phys["log10_kill_total"].to_numpy(),
            log10_kill_rt=phys["log10_kill_rt"].to_numpy(),
        )
        both = pd.concat([ref_frame, var_frame], ignore_index=True)
        draws = trial_draws(both, arms, seed)
        pfs, os_ = arm_curves(both, arms, params, draws, grid)
        econ = psm(scenario, arms, grid, pfs[None], os_[None], {}, 1)
        cost, qalys = econ.cost[0], econ.qalys[0]
        inc_c, inc_q = float(cost[1] - cost[0]), float(qalys[1] - qalys[0])
        rows.append(
            {
                "lever": lever,
                "lever_label": LEVER_LABELS[lever],
                "setting": setting,
                "value": value,
                "scenario_setting": is_base,
                "heat_kill_log10": float(phys["log10_kill_heat"].mean()),
                "cdt_kill_log10": float(phys["log10_kill_cdt"].mean()),
                "total_kill_log10": float(phys["log10_kill_total"].mean()),
                "t90_C": float(phys["t90_C"].median()),
                "field_kA_per_m": float(phys["field_kA_per_m_applied"].mean()),
                "at_ceiling_share": float(np.mean(core >= -np.log10(shares) + 1.0)),
                "treatment_months": outcome.treatment_months(protocol),
                "os_gain_months": float(np.mean(_latent_os(var_frame, params, seed) - ref_os)),
                "qaly_gain": inc_q,
                "inc_cost": inc_c,
                "icer": inc_c / inc_q if inc_q > 0 else math.nan,
            }
        )
        report((i + 1) / len(variants))
    table = pd.DataFrame(rows)
    explanations = {
        lever: explain(table[table["lever"] == lever], spec, shares, params) for lever in dict.fromkeys(table["lever"])
    }
    return DoseResponse(spec.name, reference.name, len(patients), table, explanations)


def _latent_os(frame: pd.DataFrame, params: outcome.OutcomeParams, seed: int) -> np.ndarray:
    from mhtcdt.decision.streams import outcome_seed

    return outcome.simulate_outcomes(frame, params, outcome_seed(seed))["os_latent_months"].to_numpy(np.float64)


def explain(rows: pd.DataFrame, arm: Protocol, shares: np.ndarray, params: outcome.OutcomeParams) -> str:
    """Why a lever moves, or does not move, the QALY gain (computed from the rows of that lever); for heat
    sessions and iron dose also what halving the scenario's setting does."""
    lever = str(rows["lever"].iloc[0])
    text = _reason(
        rows, arm, shares, params, f"over its range ({rows['setting'].iloc[0]} to {rows['setting'].iloc[-1]})"
    )
    base = rows[rows["scenario_setting"]]
    if lever in ("heat_sessions", "iron_dose") and len(base):
        target = float(base["value"].iloc[0]) / 2.0
        half = rows[np.isclose(rows["value"].to_numpy(float), target) | (rows["value"] == math.floor(target))]
        if len(half):
            pair = pd.concat([base, half.iloc[[0]]])
            what = "halving the sessions" if lever == "heat_sessions" else "halving the iron dose"
            text += " " + _reason(
                pair, arm, shares, params, f"{what} ({pair['setting'].iloc[0]} -> {pair['setting'].iloc[1]})"
            )
    return text


def _reason(
    rows: pd.DataFrame, arm: Protocol, shares: np.ndarray, params: outcome.OutcomeParams, what: str, pair: bool = False
) -> str:
    label = LEVER_LABELS[str(rows["lever"].iloc[0])].split(" [")[0]
    q = rows["qaly_gain"].to_numpy(float)
    heat = rows["heat_kill_log10"].to_numpy(float)
    dq = float(q[-1] - q[0])
    span_q, span_heat = float(np.ptp(q)), float(np.ptp(heat))
    months = rows["treatment_months"].to_numpy(float)
    median_share = float(np.median(shares)) if shares.size else 0.0
    ceiling = -math.log10(median_share) if median_share > 0 else math.inf
    at_ceiling = rows["at_ceiling_share"].to_numpy(float)
    what = what[0].upper() + what[1:]
    if len(q) != 2:
        head = f"{what} the QALY gain spans {q.min():.4f}-{q.max():.4f}"
    elif what.startswith("Over"):  # a lever with two settings, e.g. "Over its range (no BSO to with BSO)"
        head = f"{what} the QALY gain changes by {dq:+.4f}"
    else:  # an action, e.g. "Halving the sessions (6 sessions -> 3 sessions)"
        head = f"{what} changes the QALY gain by {dq:+.4f}"
    visible = span_q >= VISIBLE_QALYS
    head += " (visible)" if visible else f" (not visible: below {VISIBLE_QALYS} QALY)"
    cdt = rows["cdt_kill_log10"].to_numpy(float)
    if str(rows["lever"].iloc[0]) == "gsh_depletion" and not visible and float(np.ptp(cdt)) < 0.05:
        if float(cdt.max()) < NO_CDT_LOG10:
            return (
                f"{head}: this arm's agent ({arm.agent}) gives no CDT kill at either setting (mean CDT kill "
                f"{cdt.max():.3f} log10); GSH depletion acts only through the chemodynamic (Fenton) chemistry, whose "
                "hydroxyl radicals glutathione scavenges, so it has nothing to enhance."
            )
        return (
            f"{head}: GSH depletion moves the mean CDT kill only from {cdt[0]:.3f} to {cdt[-1]:.3f} log10, too little "
            "to move survival."
        )
    if span_heat < 0.05 and np.ptp(months) > 1e-9 and visible:
        return (
            f"{head}: the heat kill does not change ({heat.min():.2f}-{heat.max():.2f} log10); the gain comes from "
            f"the longer treatment ({months.min():.2f}-{months.max():.2f} months), because the outcome model starts "
            "regrowth when treatment ends."
        )
    if span_heat < 0.05 and np.median(at_ceiling) >= 0.5:
        return (
            f"{head}: the heated deposit is already sterilised (its survivors are below a tenth of the clonogens "
            f"outside it) in {at_ceiling.min():.0%}-{at_ceiling.max():.0%} of patients, so what limits the benefit is "
            f"the share of tumour outside the heated volume (median {median_share:.1%}: heat adds at most about "
            f"{ceiling:.1f} log10 kill whatever the {label})."
        )
    field = rows["field_kA_per_m"].to_numpy(float)
    t90 = rows["t90_C"].to_numpy(float)
    if span_heat < 0.05 and arm.titrated and np.ptp(t90) < 0.5 and np.ptp(field) > 0.5:
        return (
            f"{head}: the titration holds the tumour margin at {arm.target_temperature_C:g} C, so the {label} changes "
            f"the applied field ({field.min():.1f}-{field.max():.1f} kA/m), not the temperature (median T90 "
            f"{t90.min():.1f}-{t90.max():.1f} C)."
        )
    if visible:
        return (
            f"{head}: the mean heat kill moves {heat.min():.2f}-{heat.max():.2f} log10 (heated deposit sterilised in "
            f"{at_ceiling.min():.0%}-{at_ceiling.max():.0%} of patients), OS gain "
            f"{rows['os_gain_months'].min():.2f}-{rows['os_gain_months'].max():.2f} months."
        )
    e = float(np.asarray(params.free["log10_kill_effectiveness"]).ravel()[0])
    return (
        f"{head}: the mean heat kill changes by {span_heat:.2f} log10, but only {e:.2f} of a model log10 kill is "
        f"clinically effective and the clonogens outside the heated volume (median {median_share:.1%}) regrow "
        "regardless, so survival hardly moves."
    )


def format_dose_response(result: DoseResponse, currency: str) -> str:
    """The table as text (the CLI's output) with each lever's explanation."""
    lines = [
        f"Dose-response of '{result.arm}' vs '{result.reference}' ({result.n_patients} patients, same patients and "
        "random numbers in every row; '*' = the scenario's setting)",
        f"  {'lever':<28s} {'setting':<22s} {'heat kill':>9s} {'CDT kill':>9s} {'OS gain':>8s} {'QALY gain':>9s} "
        f"{'ICER':>16s}",
    ]
    for lever, rows in result.table.groupby("lever", sort=False):
        for r in rows.itertuples(index=False):
            icer = f"{currency} {r.icer:,.0f}" if r.icer == r.icer else "n/a"
            mark = "*" if r.scenario_setting else " "
            lines.append(
                f"  {r.lever_label:<28s} {mark}{r.setting:<21s} {r.heat_kill_log10:>9.2f} {r.cdt_kill_log10:>9.3f} "
                f"{r.os_gain_months:>8.2f} {r.qaly_gain:>9.4f} {icer:>16s}"
            )
        lines.append(f"    -> {result.explanations[lever]}")
    return "\n".join(lines)


def _scenario_params(scenario):
    """The outcome parameters the scenario runs with (its calibration, else its indication's packaged one)."""
    from mhtcdt.decision.model.calibration_file import scenario_params

    return scenario_params(scenario)
