"""The registry of uncertain physics inputs: provenance, targets that exist, distributions against scipy, the
physical-support rule (API, scenario file and CLI), and the [assumptions] table of a scenario."""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pytest
from scipy import stats

from mhtcdt.datafiles import load_toml, provenance_problems
from mhtcdt.decision.cli.main import main
from mhtcdt.decision.model import outcome
from mhtcdt.decision.scenario import uncertain_inputs as ui
from mhtcdt.decision.scenario.loading import parse_scenario, scenario_text
from mhtcdt.errors import InputError, InputErrors
from mhtcdt.physics import Assumptions
from mhtcdt.physics import chemistry as ch

REQUIRED = {"slp_factor", "coverage_factor", "perfusion_factor", "infiltrative_share", "thermotolerance"}


@pytest.mark.parametrize("name", [ui.REGISTRY_FILE, ui.PRESETS_FILE])
def test_every_input_and_preset_has_source_and_verified_flag(name):
    assert provenance_problems(load_toml(ui.DATA_PACKAGE, name), name) == []


def test_registry_covers_the_issue_inputs_and_every_target_exists():
    reg = ui.registry()
    assert REQUIRED <= set(reg)
    assert {"thermal_enhancement_factor", "fenton_rate", "ferroptosis_rate"} <= set(reg)
    assert {"heat_kill_effectiveness_ratio", "rt_kill_effectiveness"} <= set(reg)
    fields = {f.name for f in dataclasses.fields(Assumptions)}
    for item in reg.values():
        assert item.label and item.unit and item.source and item.stage in ui.STAGES
        if item.target_kind == "assumptions":
            assert item.target_name in fields, item.name
        elif item.target_kind == "chemistry":
            assert item.target_name in ch.known_override_keys(), item.name
            assert item.stage == "chemistry"
        else:
            assert item.target_kind == "outcome" and item.target_name in outcome.FREE_PARAMETERS, item.name
            assert item.stage == "outcome"


def test_presets_name_registry_inputs_with_values_in_their_support():
    reg = ui.registry()
    for preset in ui.structural_presets().values():
        for name, value in preset.values.items():
            support = reg[name].support
            if support is not None:
                assert support[0] <= value <= support[1]
            else:
                assert value in reg[name].distribution.choices


def test_beta_distribution_has_the_stated_interval():
    """The GBM infiltrative share: central 90 % = [0.07, 0.45] (dossier) checked with scipy's beta."""
    d = ui.registry()["infiltrative_share"].for_indication("recurrent_glioblastoma").distribution
    a, b = d.beta_shape
    assert stats.beta.ppf([0.05, 0.95], a, b) == pytest.approx([0.07, 0.45], rel=1e-6)
    u = np.array([0.01, 0.3, 0.5, 0.9])
    assert d.ppf(u) == pytest.approx(stats.beta.ppf(u, a, b))
    assert d.cdf(d.ppf(u)) == pytest.approx(u)


@pytest.mark.parametrize(
    "spec",
    [
        {"distribution": "lognormal", "median": 2.0, "gsd": 1.5},
        {"distribution": "uniform", "low": 0.2, "high": 1.4},
        {"distribution": "loguniform", "low": 10.0, "high": 1e4},
        {"distribution": "normal", "mean": -1.0, "sd": 0.3},
    ],
)
def test_quantiles_against_scipy_and_scores_round_trip(spec):
    d = ui.make_distribution(spec, None, "x")
    u = np.array([0.025, 0.2, 0.5, 0.8, 0.975])
    reference = {
        "lognormal": stats.lognorm(np.log(1.5), scale=2.0),
        "uniform": stats.uniform(0.2, 1.2),
        "loguniform": stats.loguniform(10.0, 1e4),
        "normal": stats.norm(-1.0, 0.3),
    }[spec["distribution"]]
    assert d.ppf(u) == pytest.approx(reference.ppf(u), rel=1e-10)
    z = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
    assert d.to_score(d.from_score(z)) == pytest.approx(z, abs=1e-9)


def test_weighted_choice_draws_its_weights():
    d = ui.registry()["thermotolerance"].distribution
    idx = d.ppf(np.random.default_rng(3).random(100_000))
    assert np.mean(idx == 0) == pytest.approx(0.75, abs=0.01)
    assert d.centre() == "literature"


@pytest.mark.parametrize(
    ("name", "spec", "field", "value"),
    [
        ("infiltrative_share", {"distribution": "beta", "low": 0.1, "high": 1.2}, "high", 1.2),
        ("infiltrative_share", {"distribution": "uniform", "low": 0.1, "high": 1.5}, "high", 1.5),
        ("slp_factor", {"distribution": "uniform", "low": -0.5, "high": 2.0}, "low", -0.5),
        ("slp_factor", {"distribution": "lognormal", "median": 0.0, "gsd": 2.0}, "median", 0.0),
        ("slp_factor", {"distribution": "lognormal", "median": -1.0, "gsd": 2.0}, "median", -1.0),
        ("slp_factor", {"distribution": "normal", "mean": 1.0, "sd": 0.1}, "sd", 0.1),
        ("perfusion_factor", {"distribution": "fixed", "value": -2.0}, "value", -2.0),
        ("heat_kill_effectiveness_ratio", {"distribution": "lognormal", "median": 1.0, "gsd": 2.0}, "median", 1.0),
    ],
)
def test_distribution_outside_the_physical_support_names_field_and_value(name, spec, field, value):
    with pytest.raises(InputError) as exc:
        ui.resolve_inputs("recurrent_glioblastoma", [{"name": name, **spec}])
    assert exc.value.field == f"psa.inputs.{name}.{field}" and exc.value.value == value
    text = (
        scenario_text()
        + f'\n[[psa.inputs]]\nname = "{name}"\n'
        + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in spec.items())
    )
    with pytest.raises(InputErrors) as errs:
        parse_scenario(tomllib.loads(text))
    assert errs.value.errors[0].field == f"psa.inputs[0].{field}"
    assert errs.value.errors[0].value == value


def test_cli_validate_reports_a_bad_distribution_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(
        scenario_text()
        + '\n[[psa.inputs]]\nname = "infiltrative_share"\ndistribution = "beta"\nlow = 0.2\nhigh = 1.3\n'
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "psa.inputs[0].high = 1.3" in err and "share" in err


def test_assumptions_table_validated_and_used(tmp_path, capsys):
    base = tomllib.loads(scenario_text())
    sc = parse_scenario({**base, "assumptions": {"slp_factor": 2.0, "thermotolerance": "seed_review"}})
    a = sc.physics_assumptions()
    assert a.slp_factor == 2.0 and a.thermotolerance == "seed_review" and a.coverage_factor == 1.0
    for bad, field in [
        ({"slp_factor": -1.0}, "assumptions.slp_factor"),
        ({"coverage_factor": 0.0}, "assumptions.coverage_factor"),
        ({"infiltrative_clonogen_fraction": 1.2}, "assumptions.infiltrative_clonogen_fraction"),
        ({"thermotolerance": "sometimes"}, "assumptions.thermotolerance"),
        ({"slp_facter": 2.0}, "assumptions.slp_facter"),
        ({"chemistry_overrides": {"k.nothing": 1.0}}, "assumptions.chemistry_overrides.k.nothing"),
    ]:
        with pytest.raises(InputErrors) as exc:
            parse_scenario({**base, "assumptions": bad})
        assert exc.value.errors[0].field.startswith(field), (bad, exc.value.lines())
    path = tmp_path / "bad.toml"
    path.write_text(scenario_text() + "\n[assumptions]\nperfusion_factor = -3.0\n")
    assert main(["validate", str(path)]) == 2
    assert "assumptions.perfusion_factor = -3.0" in capsys.readouterr().err


def test_scenario_overrides_and_fixed_inputs():
    inputs = ui.resolve_inputs(
        "recurrent_glioblastoma",
        [{"name": "slp_factor", "distribution": "uniform", "low": 0.5, "high": 1.5, "source": "test"}],
        fixed=["thermotolerance"],
    )
    assert "thermotolerance" not in inputs
    assert inputs["slp_factor"].distribution.kind == "uniform" and inputs["slp_factor"].source == "test"
    assert inputs["infiltrative_share"].distribution.low == 0.07  # the glioblastoma row
    with pytest.raises(InputError, match="unknown input"):
        ui.resolve_inputs("recurrent_glioblastoma", fixed=["nothing"])
