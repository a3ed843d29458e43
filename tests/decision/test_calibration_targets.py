"""Calibration targets: copied faithfully from the reference, standard errors and acceptance from their sources."""

import math
import tomllib
from pathlib import Path

import pytest
import tomli_w
from scipy.special import logit

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.model import calibration_targets as ct
from mhtcdt.decision.model import outcome
from mhtcdt.errors import InputError

REFERENCE = Path("/work/shared/reference/clinical_targets.toml")


@pytest.fixture(scope="module")
def targets():
    return {t.name: t for t in ct.load_targets().targets}


def test_targets_are_copied_faithfully_from_the_reference(targets):
    if not REFERENCE.exists():
        pytest.skip("shared reference folder not available")
    ref = tomllib.loads(REFERENCE.read_text())
    mh, stupp, eortc, rtog, dutch = (
        ref["maier_hauff_2011"],
        ref["stupp_2005_rt_arm"],
        ref["eortc_26101"],
        ref["rtog_1205"],
        ref["dutch_recurrent_gbm_cohort"],
    )
    assert targets["maier_hauff_2011_median_os"].value == mh["median_os_from_first_recurrence"]
    assert [targets["maier_hauff_2011_median_os"].lower, targets["maier_hauff_2011_median_os"].upper] == mh[
        "median_os_from_first_recurrence_ci95"
    ]
    assert targets["stupp_rt_median_os"].value == stupp["median_os_rt"]
    assert targets["stupp_rt_tmz_median_os"].value == stupp["median_os_rt_tmz"]
    assert targets["stupp_rt_median_pfs"].value == stupp["median_pfs_rt"]
    assert targets["stupp_hazard_ratio_os"].value == stupp["hazard_ratio_os_2009"]
    assert [targets["stupp_hazard_ratio_os"].lower, targets["stupp_hazard_ratio_os"].upper] == stupp[
        "hazard_ratio_os_2009_ci95"
    ]
    assert targets["eortc_lomustine_median_os"].value == eortc["median_os_lomustine"]
    assert targets["eortc_lomustine_bevacizumab_median_os"].value == eortc["median_os_lomustine_bevacizumab"]
    assert targets["eortc_hazard_ratio_os"].value == eortc["hazard_ratio_os"]
    assert targets["rtog_bevacizumab_median_os"].value == rtog["median_os_bevacizumab"]
    assert targets["rtog_reirradiation_median_pfs"].value == rtog["median_pfs_reirradiation_bevacizumab"]
    assert targets["rtog_hazard_ratio_pfs"].value == rtog["hazard_ratio_pfs"]
    assert targets["van_linde_bsc_median_os"].value == dutch["median_os_best_supportive_care"]
    assert targets["van_linde_systemic_median_os"].value == dutch["median_os_systemic_therapy"]
    assert targets["van_linde_reirradiation_median_os"].value == dutch["median_os_reirradiation"]
    # corrected against the reference (survival14 dossier): 2-year OS from the 2009 update with its CI
    assert targets["stupp_rt_os_24_months"].value == 0.109 and targets["stupp_rt_os_24_months"].lower == 0.076
    assert not targets["stupp_rt_median_pfs"].verified and targets["maier_hauff_2011_median_os"].verified


def test_standard_errors_from_cis_events_and_binomial(targets):
    t = targets["stupp_hazard_ratio_os"]  # 95 % CI on the log scale
    assert t.se == pytest.approx((math.log(0.7) - math.log(0.5)) / (2 * ct.Z95))
    t = targets["rtog_hazard_ratio_os"]  # 80 % CI
    assert t.se == pytest.approx((math.log(1.23) - math.log(0.79)) / (2 * ct.Z80))
    assert t.lower == pytest.approx(0.98 * math.exp(-ct.Z95 * t.se)) and t.lower < 0.79
    t = targets["stupp_rt_os_60_months"]  # landmark CI on the logit scale, acceptance = the published CI
    assert t.se == pytest.approx((logit(0.044) - logit(0.006)) / (2 * ct.Z95))
    assert (t.lower, t.upper) == (0.006, 0.044)
    t = targets["van_linde_bsc_median_os"]  # from events, plus the selection SD
    assert t.se == pytest.approx(math.sqrt(1 / 118 + 0.2**2))
    t = targets["eortc_lomustine_median_pfs"]  # scheduled visits every 6 weeks: latent median and variance
    latent = 1.5 - 1.38 / 2
    assert math.exp(t.centre) == pytest.approx(latent)
    assert t.se == pytest.approx(math.sqrt(1 / 140 + (1.38**2 / 12) / latent**2))
    assert t.lower < latent < t.upper


def test_time_origins_effects_and_settings():
    ts = ct.load_targets()
    assert ts.arms["maier_hauff_nanotherm_rt"].time_origin == "diagnosis_of_recurrence"
    assert ts.arms["maier_hauff_nanotherm_rt"].treated and not ts.arms["van_linde_bsc"].treated
    assert "recurrence_number == 1" in ts.populations["maier_hauff"].criteria
    assert set(ct.calibrated_effects(ts)) == {"radiotherapy", "heat", "temozolomide", "lomustine", "bevacizumab"}
    assert ct.indications(ts) == ["newly_diagnosed_glioblastoma", "recurrent_glioblastoma"]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["targets"][0].update(statistic="mean_os"), "targets[0].statistic"),
        (lambda d: d["targets"][0].update(arm="nowhere"), "targets[0].arm"),
        (lambda d: d["targets"][0].update(ci95=[13.0, 11.0]), "targets[0].ci95"),
        (lambda d: d["targets"][1].update(value=1.4), "targets[1].value"),
        (lambda d: d["arms"]["stupp_rt"].update(time_origin="birth"), "arms.stupp_rt.time_origin"),
        (lambda d: d["arms"]["stupp_rt"]["protocol"].update(rt_total_dose_Gy=-1), "arms.stupp_rt.protocol"),
        (lambda d: d.update(schema_version=1), "targets.schema_version"),
    ],
)
def test_bad_targets_file_names_the_field(tmp_path, edit, field):
    import copy

    raw = copy.deepcopy(load_toml(outcome.DATA_PACKAGE, ct.TARGETS_FILE))
    edit(raw)
    path = tmp_path / "t.toml"
    path.write_bytes(tomli_w.dumps(raw).encode())
    with pytest.raises(InputError) as err:
        ct.load_targets(path)
    assert err.value.field.startswith(field)
