"""The on-disk result cache (the app's warm start): a loaded run and PSA equal freshly computed ones field by
field (the oracle: the same calls with every cache off), and any change of an input, of the code or of the
library versions misses the cache."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model import emulator_cache
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run import result_cache
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario, parse_scenario_text, scenario_to_toml

#: fields that record how a result was obtained, not what it is (wall times, cache hits, build seconds)
HOW_OBTAINED = {"timings_s", "loaded_from_cache", "seconds"}


def _small_text(seed: int = 3) -> str:
    sc = default_scenario()
    sc = sc.model_copy(update={"seed": seed, "cohort": sc.cohort.model_copy(update={"n_screened": 60})})
    sc = sc.model_copy(update={"economics": sc.economics.model_copy(update={"psa_draws": 40})})
    return scenario_to_toml(sc)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MHTCDT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(result_cache.ENV_SWITCH, raising=False)
    monkeypatch.delenv(emulator_cache.ENV_SWITCH, raising=False)
    return tmp_path / "results"


def assert_same(a, b, where: str = "result", seen: set | None = None) -> None:
    """``a`` and ``b`` equal field by field: DataFrames and arrays exactly (NaN where NaN), dataclasses,
    pydantic models, mappings, sequences and plain objects member by member (:data:`HOW_OBTAINED` skipped)."""
    seen = set() if seen is None else seen
    if id(a) in seen:
        return
    seen.add(id(a))
    if isinstance(a, type | types.ModuleType | types.FunctionType | types.BuiltinFunctionType):
        assert a is b, f"{where}: {a!r} vs {b!r}"  # code, not data: the same object in one process
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, types.MethodType):
        assert a.__func__ is b.__func__, where
        assert_same(a.__self__, b.__self__, f"{where}.__self__", seen)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            if k not in HOW_OBTAINED:
                assert_same(a[k], b[k], f"{where}[{k!r}]", seen)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", seen)
    elif hasattr(a, "model_dump"):  # a pydantic model (the scenario)
        assert a.model_dump(mode="json") == b.model_dump(mode="json"), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in HOW_OBTAINED:
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}", seen)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    elif isinstance(a, str | int | float | bool | complex | type(None) | np.generic):
        assert a == b, f"{where}: {a!r} vs {b!r}"
    elif isinstance(a, np.random.SeedSequence):
        assert a.state == b.state and a.n_children_spawned == b.n_children_spawned, where
    elif hasattr(a, "__dict__"):
        assert_same(vars(a), vars(b), where, seen)
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def test_a_cached_run_and_psa_equal_fresh_ones_field_by_field(cache, monkeypatch):
    text = _small_text()
    scenario = parse_scenario_text(text, source="test")
    run, loaded = result_cache.cached_pipeline(scenario, text, 3)
    assert not loaded and len(list((cache / "pipeline").glob("*.pkl"))) == 1
    again, loaded = result_cache.cached_pipeline(parse_scenario_text(text, source="test"), text, 3)
    assert loaded
    psa, psa_loaded = result_cache.cached_psa(again)
    psa_again, psa_again_loaded = result_cache.cached_psa(run)
    assert (psa_loaded, psa_again_loaded) == (False, True)
    # the oracle: the same calls computed afresh with both caches off
    monkeypatch.setenv(result_cache.ENV_SWITCH, "0")
    monkeypatch.setenv(emulator_cache.ENV_SWITCH, "0")
    fresh = run_pipeline(parse_scenario_text(text, source="test"), seed=3)
    fresh_psa = run_psa(fresh)
    assert_same(again, fresh, "run")
    assert_same(psa_again, fresh_psa, "psa")
    assert again.verdict == fresh.verdict and psa_again.value_based_price == fresh_psa.value_based_price


def test_a_changed_input_code_or_library_misses_the_cache(cache, monkeypatch):
    text = _small_text()
    scenario = parse_scenario_text(text, source="test")
    key = result_cache.result_key("pipeline", text, 3, scenario)
    assert key == result_cache.result_key("pipeline", text, 3)  # the scenario parsed from the text
    other_text = _small_text(seed=4)
    variants = {
        "kind": result_cache.result_key("psa", text, 3, scenario),
        "seed": result_cache.result_key("pipeline", text, 4, scenario),
        "scenario": result_cache.result_key("pipeline", other_text, 3),
        "options": result_cache.result_key("pipeline", text, 3, scenario, n_draws=40),
    }
    with monkeypatch.context() as m:
        m.setattr(emulator_cache, "model_code_fingerprint", lambda: "edited code")
        variants["code"] = result_cache.result_key("pipeline", text, 3, scenario)
    with monkeypatch.context() as m:
        m.setattr(result_cache, "_versions", lambda: "numpy=0.0")
        variants["libraries"] = result_cache.result_key("pipeline", text, 3, scenario)
    assert key not in variants.values() and len(set(variants.values())) == len(variants), variants
    # a computed result is served for its own key only
    calls = []
    result_cache.cached_result("pipeline", key, lambda: calls.append(1) or "first")
    assert result_cache.cached_result("pipeline", key, lambda: calls.append(1) or "again") == ("first", True)
    assert result_cache.cached_result("pipeline", variants["seed"], lambda: "other") == ("other", False)
    assert calls == [1]


def test_the_calibration_file_is_in_the_key(cache, tmp_path):
    mine = tmp_path / "calibration.toml"  # a user's calibration file: only its bytes enter the key
    mine.write_text("[calibration]\nid = 'mine'\n", encoding="utf-8")
    sc = default_scenario().model_copy(update={"calibration": str(mine)})
    text = scenario_to_toml(sc)
    before = result_cache.result_key("pipeline", text, 3, sc)
    mine.write_bytes(mine.read_bytes() + b"\n# edited\n")
    assert result_cache.result_key("pipeline", text, 3, sc) != before


def test_a_damaged_file_is_recomputed_and_the_switch_turns_the_cache_off(cache, monkeypatch):
    key = "0" * 64
    assert result_cache.cached_result("psa", key, lambda: {"a": 1}) == ({"a": 1}, False)
    (cache / "psa" / f"{key}.pkl").write_bytes(b"not a pickle")
    assert result_cache.cached_result("psa", key, lambda: {"a": 2}) == ({"a": 2}, False)
    assert result_cache.cached_result("psa", key, lambda: {"a": 3}) == ({"a": 2}, True)
    monkeypatch.setenv(result_cache.ENV_SWITCH, "0")
    assert result_cache.cached_result("psa", "1" * 64, lambda: 5) == (5, False)
    assert not (cache / "psa" / f"{'1' * 64}.pkl").exists()


def test_only_the_most_recent_results_are_kept(cache, monkeypatch):
    monkeypatch.setattr(result_cache, "KEEP", 2)
    for i in range(4):
        result_cache.cached_result("pipeline", f"{i:064d}", lambda i=i: i)
    assert len(list((cache / "pipeline").glob("*.pkl"))) == 2


def test_the_apps_worker_loads_what_warmup_stored(cache):
    """``mhtcdt warmup`` (:func:`mhtcdt.decision.warmup.default_answer_emulators`) and the app's worker tasks make
    the same calls on the same scenario text: the worker's run and PSA are the stored ones, and say so."""
    from mhtcdt.app import tasks

    text = _small_text()
    scenario = parse_scenario_text(text, source="app scenario")
    stored, _ = result_cache.cached_pipeline(scenario, text, scenario.seed)
    stored_psa, _ = result_cache.cached_psa(stored)

    def no_progress(stage, fraction):
        return None

    run = tasks.run_pipeline_task(text, progress=no_progress)
    assert run.extras[tasks.FROM_RESULT_CACHE] is True
    psa = tasks.run_psa_task(run, progress=no_progress)
    assert [len(list((cache / kind).glob("*.pkl"))) for kind in ("pipeline", "psa")] == [1, 1]  # nothing new
    np.testing.assert_array_equal(psa.cost, stored_psa.cost)
    pd.testing.assert_frame_equal(run.economics, stored.economics)
