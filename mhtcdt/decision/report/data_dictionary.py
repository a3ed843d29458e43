"""The data dictionary of a run: every column of every table, its unit and its meaning.

Written as ``columns.csv`` (``table, column, unit, meaning``) into every run folder by
:func:`mhtcdt.decision.report.run_folder.write_outputs`, so a CSV can be read without the code. Units
follow the column-name suffixes (``_months``, ``_C``, ``_Gy`` ...); costs are in the scenario's currency
at its price year (``{currency}`` below is replaced by it). Cohort covariates of the ``patients`` table
take their units from the indication's data file (:func:`mhtcdt.cohorts.covariate_table`). A column
without an entry is an error (:func:`data_dictionary` raises), so a new column cannot ship undocumented.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mhtcdt.errors import ModelError

_ = "none"  # no unit (not "-": a cell starting with "-" is neutralised for spreadsheets)
C = "{currency}"
QALY_PER_YEAR = "QALY per year"

#: column -> (unit, meaning) shared by several tables
COMMON = {
    "arm": (_, "trial arm (a strategy of the economic model)"),
    "strategy": (_, "strategy: a trial arm in the economic model"),
    "endpoint": (_, "PFS = progression-free survival, OS = overall survival"),
    "n": ("patients", "patients in the arm"),
    "events": ("patients", "observed events (progression or death for PFS, death for OS)"),
    "median_months": ("months", "median survival from randomisation (empty = not reached)"),
    "parameter": (_, "uncertain economic input (dotted scenario path) or the outcome-model group"),
    "wtp": (f"{C} per QALY", "willingness to pay per QALY"),
    "probability": ("share of draws", "probability that the strategy has the highest net monetary benefit"),
    "expected_nmb": (f"{C} per patient", "expected net monetary benefit = wtp x QALYs - cost, mean over PSA draws"),
}

#: table -> column -> (unit, meaning)
TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "consort": {
        "step": (_, "order of the criterion (0 = all screened patients)"),
        "criterion": (_, "eligibility criterion as written in the scenario"),
        "n_before": ("patients", "patients before this criterion"),
        "excluded": ("patients", "patients excluded by this criterion"),
        "remaining": ("patients", "patients remaining after it"),
    },
    "survival_summary": {
        "median_ci_lower": ("months", "lower end of the 95 % confidence interval of the median"),
        "median_ci_upper": ("months", "upper end of the 95 % confidence interval of the median"),
        "median_reached": ("true/false", "whether the Kaplan-Meier curve fell to 50 %"),
    },
    "comparison": {
        "comparison": (_, "experimental arm vs reference arm"),
        "hazard_ratio": ("ratio", "Cox hazard ratio, arm only (below 1 favours the experimental arm)"),
        "hr_ci_lower": ("ratio", "lower end of the 95 % confidence interval of the hazard ratio"),
        "hr_ci_upper": ("ratio", "upper end of the 95 % confidence interval of the hazard ratio"),
        "logrank_p": ("p-value", "two-sided log-rank test"),
        "rmst_difference_months": ("months", "restricted mean survival time, experimental minus reference"),
        "rmst_tau_months": ("months", "restriction time of the RMST difference"),
        "ph_test_p": ("p-value", "test of proportional hazards (scaled Schoenfeld residuals)"),
        "adjusted_hazard_ratio": ("ratio", "Cox hazard ratio adjusted for the covariates in adjusted_for"),
        "adjusted_hr_ci_lower": ("ratio", "lower end of the 95 % confidence interval of the adjusted hazard ratio"),
        "adjusted_hr_ci_upper": ("ratio", "upper end of the 95 % confidence interval of the adjusted hazard ratio"),
        "adjusted_for": (_, "covariates of the adjusted Cox model"),
    },
    "parametric_fits": {
        "distribution": (_, "parametric survival distribution fitted to the arm's times"),
        "log_likelihood": (_, "maximised log-likelihood"),
        "n_parameters": ("count", "parameters of the distribution"),
        "aic": (_, "Akaike information criterion (lower is better)"),
        "bic": (_, "Bayesian information criterion (lower is better)"),
        "delta_aic": (_, "AIC minus the best AIC of the arm and endpoint (0 = chosen fit)"),
        "median_months": ("months", "median of the fitted distribution"),
        "converged": ("true/false", "whether the fit converged"),
    },
    "km_curves": {
        "time_months": ("months", "time from randomisation"),
        "survival": ("probability", "Kaplan-Meier estimate of survival"),
        "ci_lower": ("probability", "lower end of the 95 % confidence band"),
        "ci_upper": ("probability", "upper end of the 95 % confidence band"),
        "at_risk": ("patients", "patients still at risk just before this time"),
    },
    "economics": {
        "cost": (f"{C} per patient", "total cost, discounted"),
        "life_years": ("years per patient", "life-years, discounted"),
        "qalys": ("QALY per patient", "quality-adjusted life-years, discounted"),
        "cost_undiscounted": (f"{C} per patient", "total cost, undiscounted"),
        "life_years_undiscounted": ("years per patient", "life-years, undiscounted"),
        "qalys_undiscounted": ("QALY per patient", "quality-adjusted life-years, undiscounted"),
        "cost_one_off": (f"{C} per patient", "treatment courses at time 0 (MHT, RT, CDT agent)"),
        "cost_end_of_life": (f"{C} per patient", "end-of-life costs, discounted"),
        "pf_years": ("years per patient", "years progression-free, discounted"),
        "progressed_years": ("years per patient", "years after progression, discounted"),
        "pf_years_undiscounted": ("years per patient", "years progression-free, undiscounted"),
        "progressed_years_undiscounted": ("years per patient", "years after progression, undiscounted"),
    },
    "calibration": {
        "calibration_id": (_, "id of the outcome calibration the run used (none = prior centres)"),
        "calibration_sha256": (_, "SHA-256 of the calibration file"),
        "calibration_path": (_, "where the calibration file was read"),
        "physics_source_hash": (_, "hash of the physics and cohort code the calibration was made with"),
        "physics_matches": ("true/false", "the running physics and cohort code has that hash"),
        "indications": (_, "disease settings the calibration was made for"),
        "calibrated_effects": (_, "treatment effects the calibration has targets for"),
        "assumed_effects": (_, "treatment effects allowed without targets (parameters at their priors; if any)"),
    },
    "incremental": {
        "cost": (f"{C} per patient", "total cost, discounted"),
        "qalys": ("QALY per patient", "QALYs, discounted"),
        "inc_cost": (f"{C} per patient", "cost minus that of the next cheaper non-dominated strategy"),
        "inc_qalys": ("QALY per patient", "QALYs minus those of the next cheaper non-dominated strategy"),
        "icer": (f"{C} per QALY", "incremental cost-effectiveness ratio = inc_cost / inc_qalys"),
        "status": (_, "reference, non-dominated, dominated or extendedly dominated"),
    },
    "psa_summary": {
        "cost_mean": (f"{C} per patient", "mean discounted cost over the PSA draws"),
        "cost_low": (f"{C} per patient", "2.5 % quantile of the cost over the draws (95 % interval)"),
        "cost_high": (f"{C} per patient", "97.5 % quantile of the cost over the draws (95 % interval)"),
        "qalys_mean": ("QALY per patient", "mean discounted QALYs over the draws"),
        "qalys_low": ("QALY per patient", "2.5 % quantile of the QALYs over the draws"),
        "qalys_high": ("QALY per patient", "97.5 % quantile of the QALYs over the draws"),
        "life_years_mean": ("years per patient", "mean discounted life-years over the draws"),
    },
    "ceac": {
        "optimal": ("true/false", "the strategy with the highest expected net monetary benefit at this wtp"),
    },
    "ceaf": {},
    "evpi": {
        "evpi_per_patient": (f"{C} per patient", "expected value of perfect information at this wtp"),
        "evpi_population": (C, "EVPI for the population and decision horizon"),
    },
    "evppi": {
        "evppi": (f"{C} per patient", "expected value of partial perfect information at the scenario's wtp"),
        "evppi_se": (f"{C} per patient", "Monte Carlo standard error of the EVPPI (regression estimate)"),
        "evpi": (f"{C} per patient", "EVPI at the scenario's wtp (the upper bound of every EVPPI)"),
    },
    "tornado": {
        "low_value": ("unit of the parameter", "low end of the parameter's range (2.5 %)"),
        "high_value": ("unit of the parameter", "high end of the parameter's range (97.5 %)"),
        "outcome_low": (
            f"{C} per patient",
            "incremental net monetary benefit of the focal strategy vs the reference, parameter at low_value",
        ),
        "outcome_high": (f"{C} per patient", "incremental net monetary benefit, parameter at high_value"),
        "outcome_base": (f"{C} per patient", "incremental net monetary benefit at the scenario's values"),
        "swing": (f"{C} per patient", "|outcome_high - outcome_low|: the bar's width"),
    },
    "decision_drivers": {
        "label": (_, "plain-language name of the uncertain input"),
        "kind": (_, "economic, physics, outcome or group (inputs valued together)"),
        "evppi": (f"{C} per patient", "expected value of partial perfect information at the scenario's wtp"),
        "evppi_se": (f"{C} per patient", "Monte Carlo standard error of the EVPPI (regression estimate)"),
        "share_of_evpi": ("fraction", "evppi / EVPI (0 when the EVPI is 0)"),
        "inb_variance_share": ("fraction", "share of the variance of the incremental net benefit explained by it"),
        "qaly_gain_variance_share": ("fraction", "share of the variance of the incremental QALYs explained by it"),
        "rank": ("rank", "order by EVPPI, then by the net-benefit variance share (1 = drives the decision most)"),
    },
    "structural": {
        "preset": (_, "structural alternative (base = every input uncertain)"),
        "label": (_, "plain-language description of the alternative"),
        "fixed": (_, "the inputs this alternative holds at fixed values"),
        "evaluated": ("true/false", "false when the alternative fixes an input this PSA does not sample"),
        "note": (_, "why an alternative was not evaluated"),
        "cost_reference": (f"{C} per patient", "expected discounted cost of the reference strategy"),
        "cost_focal": (f"{C} per patient", "expected discounted cost of the focal strategy"),
        "qalys_reference": ("QALY per patient", "expected discounted QALYs of the reference strategy"),
        "qalys_focal": ("QALY per patient", "expected discounted QALYs of the focal strategy"),
        "inc_cost": (f"{C} per patient", "focal minus reference expected cost"),
        "inc_qalys": ("QALY per patient", "focal minus reference expected QALYs"),
        "icer": (f"{C} per QALY", "inc_cost / inc_qalys (empty unless the focal strategy gains QALYs)"),
        "icer_status": (_, "ICER, dominant, dominated or cheaper and less effective"),
        "p_cost_effective": ("share of draws", "probability the focal strategy has the higher net benefit"),
    },
    "psa_inputs": {
        "input": (_, "name of the uncertain physics or structural input"),
        "label": (_, "plain-language name"),
        "stage": (_, "where it acts: heat, chemistry, kill or outcome"),
        "target": (_, "what it sets: assumptions.<field>, chemistry.<key> or outcome.<parameter>"),
        "unit": (_, "unit of the value"),
        "distribution": (_, "its PSA distribution"),
        "source": (_, "source of the distribution"),
        "verified": ("true/false", "true only where the number was read in the primary source"),
    },
}

#: columns of the ``patients`` table that the trial, physics and outcome models add to the cohort
PATIENT_COLUMNS = {
    "patient_id": (_, "index of the patient in the seeded stream of screened patients"),
    "indication": (_, "indication of the virtual cohort"),
    "sex": (_, "female or male"),
    "age_years": ("years", "age at entry"),
    "tumour_volume_cm3": ("cm3", "tumour volume at entry"),
    "eloquent_location": ("true/false", "tumour in an eloquent, deep or critical location"),
    "months_since_diagnosis": ("months", "time from the primary diagnosis to entry"),
    "mgmt_methylated": ("true/false", "MGMT promoter methylated (glioblastoma marker)"),
    "recurrence_number": ("count", "which recurrence (1 = first)"),
    "prior_radiotherapy": ("true/false", "radiotherapy before entry"),
    "prior_chemotherapy": ("true/false", "chemotherapy before entry"),
    "body_circumference_cm": ("cm", "circumference of the body region in the applicator"),
    "kps": ("Karnofsky points", "Karnofsky performance status (10-100)"),
    "ecog": ("ECOG grade", "ECOG performance status derived from the Karnofsky score"),
    "tumour_radius_cm": ("cm", "radius of the sphere with the tumour's volume"),
    "tumour_perfusion_mL_per_min_per_kg": ("mL/min/kg", "tumour perfusion at 37 C"),
    "h2o2_production_uM_per_s": ("uM/s", "endogenous hydrogen peroxide production"),
    "gsh_mM": ("mM", "intracellular glutathione"),
    "ph_extracellular": ("pH", "tumour extracellular pH"),
    "deposit_coverage_fraction": ("fraction", "tumour fraction reached by the nanoparticle deposit"),
    "metal_implant": ("true/false", "metal implant near the field (an MHT contraindication)"),
    "pacemaker": ("true/false", "pacemaker (an MHT contraindication)"),
    "tissue": (_, "healthy tissue around the tumour"),
    "body_radius_cm": ("cm", "radius of the body region in the applicator (eddy currents)"),
    "stratum": (_, "randomisation stratum (values of the stratification covariates)"),
    "entry_months": ("months", "calendar time of randomisation from the first patient's"),
    "t90_C": ("C", "temperature exceeded by 90 % of the tumour at the session peak"),
    "t50_C": ("C", "temperature exceeded by 50 % of the tumour at the session peak"),
    "t10_C": ("C", "temperature exceeded by 10 % of the tumour at the session peak"),
    "cem43_t90_min": ("min", "cumulative equivalent minutes at 43 C at the T90 point, all sessions"),
    "max_healthy_C": ("C", "highest healthy-tissue temperature"),
    "field_kA_per_m_applied": ("kA/m", "mean applied field amplitude after titration"),
    "oh_cumulative_uM_min": ("uM min", "cumulative hydroxyl-radical exposure"),
    "gsh_nadir_mM": ("mM", "lowest glutathione during treatment"),
    "lipid_peroxide_peak": ("uM", "peak lipid hydroperoxide"),
    "log10_kill_heat": ("log10 cells", "tumour cell kill by heat"),
    "log10_kill_cdt": ("log10 cells", "tumour cell kill by chemodynamic therapy"),
    "log10_kill_rt": ("log10 cells", "tumour cell kill by radiotherapy"),
    "log10_kill_interaction": ("log10 cells", "kill from the interaction of the mechanisms"),
    "log10_kill_total": ("log10 cells", "total tumour cell kill (the four above summed)"),
    "surviving_fraction": ("fraction", "surviving tumour fraction = 10^-log10_kill_total"),
    "safety_ok": ("true/false", "false if a safety limit was exceeded or a contraindicated patient was heated"),
    "dose_mg_Fe_per_cm3_applied": ("mg Fe/cm3", "iron dose per cm3 of tumour (planned or fixed)"),
    "peak_tumour_C": ("C", "hottest tumour shell over the course"),
    "thermometry_max_C": ("C", "session maximum of the simulated thermometry track (maximum intratumoral temperature)"),
    "thermometry_min_C": ("C", "coolest thermometry track point in the tumour at the end of heating, first session"),
    "healthy_cem43_max_min": ("min", "CEM43 of the hottest healthy cell in its largest session"),
    "healthy_cem43_course_min": ("min", "CEM43 of the hottest healthy cell summed over the course"),
    "field_ceiling_kA_per_m": ("kA/m", "the patient's tolerated field amplitude (0 without clinical control)"),
    "field_stop_reason": (_, "why the field amplitude stopped rising (thermometry target, tolerance ceiling ...)"),
    "treatment_months": ("months", "length of the treatment phase (regrowth counts from its end)"),
    "surviving_burden_cm3": ("cm3", "tumour volume surviving the treatment"),
    "doubling_time_days": ("days", "tumour volume doubling time of the regrowth"),
    "outcome_indication": (_, "disease setting of the outcome model (newly diagnosed or recurrent glioblastoma)"),
    "temozolomide_courses": ("Stupp courses", "cumulative temozolomide dose of the arm / the Stupp course dose"),
    "lomustine": ("true/false", "the arm gives lomustine (until progression)"),
    "bevacizumab": ("true/false", "the arm gives bevacizumab (until progression)"),
    "tumour_specific_treatment": ("true/false", "false = best supportive care (no tumour-specific treatment)"),
    "gemcitabine_cycles": ("cycles", "28-day gemcitabine cycles of the arm after entry (pancreas)"),
    "folfirinox_cycles": ("cycles", "14-day FOLFIRINOX cycles of the arm after entry (pancreas)"),
    "effective_log10_kill": ("log10", "effective log10 kill of the outcome model (physics and systemic therapy)"),
    "durable_control": ("true/false", "the effective kill reached the patient's durable-control threshold"),
    "progression_latent_months": ("months", "time to radiological progression, uncensored"),
    "pfs_latent_months": ("months", "progression-free survival time, uncensored"),
    "os_latent_months": ("months", "overall survival time, uncensored"),
    "death_other_cause": ("true/false", "death from another cause before death from the tumour"),
    "censor_months": ("months", "censoring time (loss to follow-up or data cut-off)"),
    "pfs_months": ("months", "observed progression-free survival time"),
    "pfs_event": ("true/false", "progression or death observed (false = censored)"),
    "os_months": ("months", "observed overall survival time"),
    "os_event": ("true/false", "death observed (false = censored)"),
}


def _cohort_units(indication: str | None) -> dict[str, str]:
    from mhtcdt.cohorts import covariate_table, known_indications

    if indication not in known_indications():
        return {}
    table = covariate_table(indication)
    return dict(zip(table["variable"], table["units"], strict=True))


def describe(table: str, column: str, currency: str, cohort_units: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(unit, meaning) of one column of a run table; ModelError if it is not documented."""
    found = TABLES.get(table, {}).get(column) or COMMON.get(column)
    if found is None and table == "patients":
        found = PATIENT_COLUMNS.get(column)
        if found is None and cohort_units and column in cohort_units:
            found = (cohort_units[column], f"cohort covariate {column} (indication data file)")
    if found is None:
        raise ModelError(f"column {column!r} of table {table!r} has no entry in the data dictionary")
    unit, meaning = found
    return unit.replace(C, currency), meaning.replace(C, currency)


def data_dictionary(tables: Mapping[str, pd.DataFrame], currency: str, indication: str | None = None) -> pd.DataFrame:
    """``table, column, unit, meaning`` for every column of every table in ``tables`` (in order)."""
    units = _cohort_units(indication)
    rows = [
        (name, str(column), *describe(name, str(column), currency, units))
        for name, table in tables.items()
        for column in table.columns
    ]
    return pd.DataFrame(rows, columns=["table", "column", "unit", "meaning"])
