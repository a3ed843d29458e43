"""The disease setting of a glioblastoma population: recurrent (as generated) or newly diagnosed.

There is no newly-diagnosed cohort generator: a newly diagnosed population is drawn from the recurrent
glioblastoma generator (its tumour volumes stand in for the post-operative residual burden; the physics keeps
the generator's ``indication`` and radiobiology) and relabelled by :func:`apply_setting`: no prior therapy,
``recurrence_number = 0``, about a month from diagnosis (surgery) to randomisation, and the outcome setting
``outcome_indication = "newly_diagnosed_glioblastoma"`` (its own post-progression survival). The Stupp 2005
calibration arms and the newly diagnosed scenario preset use the same function.
"""

from __future__ import annotations

import pandas as pd

from mhtcdt.errors import InputError

SETTINGS = ("recurrent", "newly_diagnosed")

#: columns set for a newly diagnosed population (source: Stupp R et al. N Engl J Med 2005;352:987-996, RT began
#: within 6 weeks of surgery; no prior RT or chemotherapy - eligibility recalled, verified = false)
NEWLY_DIAGNOSED_COLUMNS = {
    "prior_radiotherapy": False,
    "prior_chemotherapy": False,
    "recurrence_number": 0,
    "months_since_diagnosis": 1.0,
    "outcome_indication": "newly_diagnosed_glioblastoma",
}
GENERATOR = "recurrent_glioblastoma"


def apply_setting(cohort: pd.DataFrame, setting: str | None) -> pd.DataFrame:
    """``cohort`` in a disease setting (``None`` or ``"recurrent"``: unchanged). Apply before the criteria."""
    if setting in (None, "recurrent"):
        return cohort
    if setting != "newly_diagnosed":
        raise InputError("cohort.disease_setting", setting, f"use one of {list(SETTINGS)}")
    indications = set(cohort["indication"].astype(str)) if "indication" in cohort.columns else {GENERATOR}
    if indications - {GENERATOR}:
        raise InputError(
            "cohort.disease_setting",
            setting,
            f"a newly diagnosed population is derived from the {GENERATOR} generator, not {sorted(indications)}",
        )
    out = cohort.copy()
    for column, value in NEWLY_DIAGNOSED_COLUMNS.items():
        out[column] = value
    return out
