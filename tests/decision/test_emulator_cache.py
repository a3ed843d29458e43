"""The on-disk emulator cache: a loaded emulator predicts exactly what the built one does, the PSA is the same
with and without the cache, any change of an input changes the key, and a damaged file is rebuilt."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model import emulator_cache
from mhtcdt.decision.model.emulator import ArmEmulator
from mhtcdt.decision.model.physics_psa import psa_inputs
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.streams import physics_seed


@pytest.fixture(scope="module")
def small_run():
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 60})})
    sc = sc.model_copy(update={"economics": sc.economics.model_copy(update={"psa_draws": 40})})
    return run_pipeline(sc, seed=3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MHTCDT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(emulator_cache.ENV_SWITCH, raising=False)
    return tmp_path / "emulators"


def _mht_args(run):
    sc = run.scenario
    arm = sc.randomised_arms[1]
    rows = run.trial[run.trial["arm"] == arm.name]
    patients = rows[list(run.cohort.columns)].reset_index(drop=True)
    return (arm.name, patients, arm, physics_seed(3, 1), sc.physics_assumptions(), psa_inputs(sc))


def test_the_psa_is_identical_with_an_empty_a_filled_and_no_cache(small_run, cache):
    built = run_psa(small_run, emulator_cache=True)  # builds and stores every emulator
    assert len(list(cache.glob("*.pkl"))) == len(built.physics.reports) >= 2
    loaded = run_psa(small_run, emulator_cache=True)  # loads them all
    plain = run_psa(small_run)
    assert loaded.physics.loaded_from_cache == len(built.physics.reports)
    assert built.physics.loaded_from_cache == 0 and plain.physics.loaded_from_cache == 0
    for other in (loaded, plain):
        np.testing.assert_array_equal(other.cost, built.cost)
        np.testing.assert_array_equal(other.qalys, built.qalys)
        pd.testing.assert_frame_equal(other.evppi, built.evppi)
        pd.testing.assert_frame_equal(other.parameters, built.parameters)


def test_the_summary_says_which_emulators_were_loaded_from_the_cache(small_run, cache):
    """A run whose emulators come from the cache does not present their build time as its own."""
    from mhtcdt.decision.report.summary import physics_uncertainty_lines

    built = run_psa(small_run, emulator_cache=True)
    loaded = run_psa(small_run, emulator_cache=True)
    n = len(built.physics.reports)
    assert not any("loaded from the emulator cache" in line for line in physics_uncertainty_lines(built))
    said = [line for line in physics_uncertainty_lines(loaded) if "loaded from the emulator cache" in line]
    assert said and said[0].strip().startswith(f"({n} of {n} emulators"), said


def test_a_loaded_emulator_predicts_exactly_as_the_built_one(small_run, cache):
    args = _mht_args(small_run)
    key = emulator_cache.emulator_key(*args)
    built, was_loaded = emulator_cache.cached_emulator(key, lambda: ArmEmulator(*args))
    loaded, now_loaded = emulator_cache.cached_emulator(key, lambda: pytest.fail("rebuilt although stored"))
    assert (was_loaded, now_loaded) == (False, True)
    rng = np.random.default_rng(5)
    values = {k: built.sampled[k].distribution.ppf(rng.uniform(0.01, 0.99, 16)) for k in built.dims + built.weak}
    np.testing.assert_array_equal(loaded.predict(values, 16), built.predict(values, 16))
    np.testing.assert_array_equal(loaded.log10_kill_rt, built.log10_kill_rt)


def test_every_input_of_an_emulator_is_in_its_key(small_run):
    arm_name, patients, arm, seed, base, inputs = _mht_args(small_run)
    key = emulator_cache.emulator_key(arm_name, patients, arm, seed, base, inputs)
    assert key == emulator_cache.emulator_key(arm_name, patients.copy(), arm, seed, base, dict(inputs))
    changed_patients = patients.copy()
    column = next(c for c in patients.columns if patients[c].dtype.kind == "f")
    changed_patients.loc[0, column] = changed_patients.loc[0, column] * 1.001 + 1e-9
    first = next(iter(inputs))
    changed_inputs = {**inputs, first: dataclasses.replace(inputs[first], unit=inputs[first].unit + " ")}
    variants = [
        (arm_name + " ", patients, arm, seed, base, inputs),
        (arm_name, changed_patients, arm, seed, base, inputs),
        (arm_name, patients.iloc[::-1], arm, seed, base, inputs),  # the same patients in another order
        (arm_name, patients, arm.model_copy(update={"n_sessions": arm.n_sessions + 1}), seed, base, inputs),
        (arm_name, patients, arm, physics_seed(4, 1), base, inputs),
        (arm_name, patients, arm, seed, dataclasses.replace(base, slp_factor=1.01), inputs),
        (arm_name, patients, arm, seed, base, changed_inputs),
    ]
    keys = {emulator_cache.emulator_key(*v) for v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_a_damaged_file_is_rebuilt_and_the_switch_turns_the_cache_off(small_run, cache, monkeypatch):
    args = _mht_args(small_run)
    key = emulator_cache.emulator_key(*args)
    cache.mkdir(parents=True)
    (cache / f"{key}.pkl").write_bytes(b"not a pickle")
    emu, loaded = emulator_cache.cached_emulator(key, lambda: ArmEmulator(*args))
    assert not loaded and isinstance(emu, ArmEmulator)
    _, loaded = emulator_cache.cached_emulator(key, lambda: pytest.fail("rebuilt although stored"))
    assert loaded  # the rebuilt emulator replaced the damaged file
    monkeypatch.setenv(emulator_cache.ENV_SWITCH, "0")
    calls = []
    emulator_cache.cached_emulator(key, lambda: calls.append(1) or ArmEmulator(*args))
    assert calls == [1]


def test_the_apps_scenario_text_finds_the_emulators_built_in_process(small_run, cache):
    """``mhtcdt warmup`` builds the default answer's emulators from the scenario object; the app's worker runs
    the scenario parsed from its TOML text (mhtcdt.app.tasks): the same keys, so the app loads them."""
    from mhtcdt.decision.scenario.loading import parse_scenario_text, scenario_to_toml

    built = run_psa(small_run, emulator_cache=True)
    text = scenario_to_toml(small_run.scenario)
    again = run_pipeline(parse_scenario_text(text, source="app scenario"), seed=3)
    loaded = run_psa(again, emulator_cache=True)
    assert loaded.physics.loaded_from_cache == len(built.physics.reports)
    np.testing.assert_array_equal(loaded.cost, built.cost)


def test_the_code_fingerprint_follows_the_model_code_not_the_pages(monkeypatch):
    from mhtcdt.decision.run import code_identity

    files = {
        "mhtcdt/physics/bioheat_radial.py": "a",
        "mhtcdt/decision/model/emulator.py": "b",
        "mhtcdt/physics/data/tissues.toml": "c",
        "mhtcdt/app/page_answer.py": "d",
        "mhtcdt/decision/report/headline.py": "e",
    }
    monkeypatch.setattr(code_identity, "package_file_hashes", lambda: dict(files))
    base = emulator_cache.model_code_fingerprint()
    for name in files:
        changed = {**files, name: files[name] + "'"}
        monkeypatch.setattr(code_identity, "package_file_hashes", lambda changed=changed: changed)
        moved = emulator_cache.model_code_fingerprint() != base
        assert moved == (not name.startswith(emulator_cache.PRESENTATION)), name


@pytest.mark.parametrize(
    "argv, switch, results, answer",
    [
        (["warmup"], "1", "1", True),
        (["warmup", "--kernels-only"], "1", "1", False),
        (["warmup"], "0", "0", False),
        (["warmup"], "0", "1", True),  # the stored run and PSA are worth computing without the emulators
    ],
)
def test_warmup_computes_the_default_answer_unless_told_not_to(monkeypatch, capsys, argv, switch, results, answer):
    """``mhtcdt warmup`` compiles the kernels and computes the default answer (result and emulator caches);
    ``--kernels-only``, or both caches switched off, only compiles (the computation itself is replaced here: it
    takes minutes)."""
    from mhtcdt.decision import warmup
    from mhtcdt.decision.cli.main import main
    from mhtcdt.decision.run import result_cache

    calls = []
    monkeypatch.setattr(warmup, "warm_up", lambda progress=None, answer=False: calls.append(answer) or 1.0)
    monkeypatch.setenv(emulator_cache.ENV_SWITCH, switch)
    monkeypatch.setenv(result_cache.ENV_SWITCH, results)
    assert main(argv) == 0
    assert calls == [answer]
    out = capsys.readouterr().out
    assert "Kernels compiled and cached" in out and ("default answer computed" in out) == answer
