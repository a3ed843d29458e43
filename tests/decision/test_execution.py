"""The executor seam: keyed seeding, chunking, equality across executors, retries after killed workers."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.run import chunked, chunking, code_identity, executors
from mhtcdt.errors import InputError, ModelError
from mhtcdt.seeding import child_rng, root_sequence

TWO_PROCESSES = executors.resolve_executor("processes", n_workers=2)


# ------------------------------------------------------------------ chunk workloads (module level: picklable)
def keyed_normals(start: int, stop: int, seed) -> np.ndarray:
    """Per item: 3 normal draws and their running float sum (so reduction order would show)."""
    out = np.empty((stop - start, 4))
    for row, i in enumerate(range(start, stop)):
        z = child_rng(seed, i).standard_normal(3)
        out[row, :3] = z
        out[row, 3] = z[0] * 1e-3 + z[1] * 1e3 + z[2]
    return out


def shared_stream_normals(start: int, stop: int, seed) -> np.ndarray:
    """The WRONG way (one stream per chunk): used to show the equality test can fail."""
    rng = np.random.default_rng([root_sequence(seed).entropy, start])
    return rng.standard_normal((stop - start, 4))


def cohort_chunk(start: int, stop: int, seed) -> pd.DataFrame:
    from mhtcdt.cohorts import generate_cohort

    return generate_cohort("recurrent_glioblastoma", stop - start, seed, start=start)


def die_once(start: int, stop: int, seed, marker: str, victim_start: int) -> np.ndarray:
    """Kill this worker process (SIGKILL, no cleanup) the first time the victim chunk runs."""
    if start == victim_start and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return keyed_normals(start, stop, seed)


def pretend_other_version(start: int, stop: int, seed) -> np.ndarray:
    """A worker whose loaded mhtcdt.errors differs from the client's (as with another install)."""
    code_identity.loaded_code_hashes()
    code_identity._MODULE_HASHES["mhtcdt.errors"] = "0" * 64
    return keyed_normals(start, stop, seed)


def slow_keyed_normals(start: int, stop: int, seed) -> np.ndarray:
    import time

    time.sleep(0.3)
    return keyed_normals(start, stop, seed)


def always_die(start: int, stop: int, seed) -> np.ndarray:
    os.kill(os.getpid(), signal.SIGKILL)
    return np.zeros(0)  # unreachable


def bad_input_chunk(start: int, stop: int, seed) -> np.ndarray:
    raise InputError("demo.field", start, "deterministic failure from user code")


def sum_with_payload(start: int, stop: int, seed, payload: np.ndarray) -> float:
    return float(payload.sum())


class SumAccumulator:
    def __init__(self) -> None:
        self.total = 0.0
        self.order: list[float] = []

    def add(self, chunk: np.ndarray) -> None:
        self.order.append(float(chunk[0, 0]))
        self.total += float(chunk[:, 3].sum())


@pytest.fixture(scope="module")
def pool():
    """One warm 2-process pool shared by the tests (start-up paid once); set up as the "processes" executor."""
    with executors.local_process_pool(2) as shared:
        yield shared


# ------------------------------------------------------------------ inputs
def test_bad_seed_and_chunk_inputs_name_the_field():
    with pytest.raises(InputError) as err:
        chunking.map_chunks(keyed_normals, 10, 5, seed=-1, executor="serial")
    assert err.value.field == "seed"
    with pytest.raises(InputError) as err:
        chunking.chunk_bounds(10, 0)
    assert err.value.field == "chunk_size"


def test_chunk_bounds_cover_range_once():
    bounds = chunking.chunk_bounds(23, 5)
    assert bounds[0] == (0, 5) and bounds[-1] == (20, 23)
    covered = np.concatenate([np.arange(a, b) for a, b in bounds])
    np.testing.assert_array_equal(covered, np.arange(23))
    assert chunking.chunk_bounds(0, 5) == []


# ------------------------------------------------------------------ executor choice
def test_resolve_executor_precedence(monkeypatch):
    monkeypatch.delenv(executors.SCHEDULER_ENV, raising=False)
    assert executors.resolve_executor().kind == "processes"
    assert executors.resolve_executor("serial").kind == "serial"
    spec = executors.resolve_executor(scheduler="tcp://10.0.0.1:8786")
    assert spec.kind == "dask" and spec.scheduler_address == "tcp://10.0.0.1:8786"
    monkeypatch.setenv(executors.SCHEDULER_ENV, "tcp://sched:8786")
    assert executors.resolve_executor().describe() == "dask(tcp://sched:8786)"
    assert executors.resolve_executor("processes", n_workers=2).describe() == "processes(2)"
    with pytest.raises(InputError) as err:
        executors.resolve_executor(scheduler="http://sched")
    assert err.value.field == "scheduler"
    with pytest.raises(InputError):
        executors.resolve_executor("gpu")
    monkeypatch.delenv(executors.SCHEDULER_ENV)
    with pytest.raises(InputError):
        executors.resolve_executor("dask")


# ------------------------------------------------------------------ equality across chunkings and executors
def test_serial_result_does_not_depend_on_chunk_size():
    whole = keyed_normals(0, 37, 7)
    for size in (1, 5, 37, 100):
        got = chunking.concat_results(chunking.map_chunks(keyed_normals, 37, size, seed=7, executor="serial"))
        np.testing.assert_array_equal(got, whole)


def test_equality_check_detects_chunk_dependent_randomness():
    """Guard that the equality tests can fail: per-chunk streams change with the chunk size."""
    a = chunking.concat_results(chunking.map_chunks(shared_stream_normals, 20, 5, seed=7, executor="serial"))
    b = chunking.concat_results(chunking.map_chunks(shared_stream_normals, 20, 10, seed=7, executor="serial"))
    assert not np.array_equal(a, b)


def test_two_processes_equal_serial_bit_for_bit():
    serial = chunking.concat_results(chunking.map_chunks(keyed_normals, 200, 7, seed=99, executor="serial"))
    procs = chunking.concat_results(chunking.map_chunks(keyed_normals, 200, 13, seed=99, executor=TWO_PROCESSES))
    np.testing.assert_array_equal(procs, serial)
    assert procs.tobytes() == serial.tobytes()


def test_cohort_generated_in_chunks_on_processes_equals_one_call(pool):
    from mhtcdt.cohorts import generate_cohort

    whole = generate_cohort("recurrent_glioblastoma", 300, 2024)
    parts = chunking.map_chunks(cohort_chunk, 300, 64, seed=2024, executor=pool)
    pd.testing.assert_frame_equal(chunking.concat_results(parts), whole)


def test_fold_streams_in_index_order_with_bounded_buffer(pool):
    acc = chunking.fold_chunks(
        keyed_normals, 90, SumAccumulator(), chunk_size=10, seed=3, executor=pool, max_in_flight=3
    )
    expected = keyed_normals(0, 90, 3)
    assert acc.order == [float(expected[s, 0]) for s in range(0, 90, 10)]
    assert acc.total == float(sum(expected[s : s + 10, 3].sum() for s in range(0, 90, 10)))


def test_chunk_args_send_per_chunk_payload():
    data = np.arange(100.0)
    sums = chunking.map_chunks(
        sum_with_payload, 100, 30, seed=0, executor="serial", chunk_args=lambda a, b: (data[a:b],)
    )
    assert sums == [float(data[a:b].sum()) for a, b in chunking.chunk_bounds(100, 30)]


def test_user_errors_propagate_without_retry(pool):
    with pytest.raises(InputError) as err:
        chunking.map_chunks(bad_input_chunk, 10, 5, seed=0, executor=pool)
    assert err.value.field == "demo.field"


# ------------------------------------------------------------------ faults
def test_killed_process_worker_chunk_is_retried(tmp_path):
    marker = str(tmp_path / "killed")
    func = functools.partial(die_once, marker=marker, victim_start=40)
    got = chunking.concat_results(chunking.map_chunks(func, 100, 10, seed=5, executor=TWO_PROCESSES))
    assert os.path.exists(marker), "the victim chunk never ran: the test did not kill anything"
    np.testing.assert_array_equal(got, keyed_normals(0, 100, 5))


def test_worker_that_always_dies_gives_model_error():
    with pytest.raises(ModelError, match="failed"):
        chunking.map_chunks(always_die, 4, 2, seed=0, executor=TWO_PROCESSES, retries=1)


def test_caller_supplied_process_pool_is_used():
    with cf.ProcessPoolExecutor(2) as plain:
        got = chunking.concat_results(chunking.map_chunks(keyed_normals, 30, 4, seed=11, executor=plain))
    np.testing.assert_array_equal(got, keyed_normals(0, 30, 11))


# ------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    from distributed import Client

    cluster = executors.local_dask_cluster(n_workers=2)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_local_cluster_equals_serial(dask_client):
    serial = chunking.concat_results(chunking.map_chunks(keyed_normals, 120, 9, seed=42, executor="serial"))
    on_dask = chunking.concat_results(chunking.map_chunks(keyed_normals, 120, 11, seed=42, executor=dask_client))
    np.testing.assert_array_equal(on_dask, serial)
    # identical chunk calls are not deduplicated away: every chunk arrives once, in order
    parts = chunking.map_chunks(keyed_normals, 40, 10, seed=1, executor=dask_client)
    assert [len(p) for p in parts] == [10, 10, 10, 10]


def test_dask_workers_limit_numba_threads(dask_client):
    envs = dask_client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
    assert set(envs.values()) == {"1"}


def test_dask_killed_worker_chunk_is_retried(dask_client, tmp_path):
    marker = str(tmp_path / "killed")
    func = functools.partial(die_once, marker=marker, victim_start=30)
    got = chunking.concat_results(chunking.map_chunks(func, 80, 10, seed=8, executor=dask_client))
    assert os.path.exists(marker)
    np.testing.assert_array_equal(got, keyed_normals(0, 80, 8))


@pytest.mark.slow
def test_four_worker_dask_cluster_equals_serial():
    from distributed import Client

    serial = chunking.concat_results(chunking.map_chunks(cohort_chunk, 400, 400, seed=3, executor="serial"))
    with executors.local_dask_cluster(n_workers=4) as cluster, Client(cluster) as client:
        got = chunking.concat_results(chunking.map_chunks(cohort_chunk, 400, 37, seed=3, executor=client))
    pd.testing.assert_frame_equal(got, serial)


# ------------------------------------------------------------------ drivers
def test_cohort_chunked_equals_generate_cohort():
    from mhtcdt.cohorts import generate_cohort

    seed = np.random.SeedSequence(4, spawn_key=(0,))
    got = chunked.cohort_chunked("recurrent_glioblastoma", 150, seed, executor="serial", chunk_size=40)
    pd.testing.assert_frame_equal(got, generate_cohort("recurrent_glioblastoma", 150, seed))


def _physics_case(n_screened: int, arm: int):
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.scenario.checks import protocol_for_arm
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()
    patients = apply_criteria(generate_cohort(sc.cohort.indication, n_screened, 12), sc.cohort.criteria).eligible
    return patients, protocol_for_arm(sc.arms[arm])


def test_physics_chunked_equals_one_call(pool):
    from mhtcdt.physics import simulate_protocol

    patients, rt_alone = _physics_case(60, 0)
    got = chunked.physics_chunked(patients, rt_alone, 77, executor=pool, chunk_size=9)
    pd.testing.assert_frame_equal(got, simulate_protocol(patients, rt_alone, 77))
    patients, mht = _physics_case(16, 1)  # NanoTherm MHT + RT: heat, chemistry and RT per patient
    got = chunked.physics_chunked(patients, mht, 77, executor="serial", chunk_size=5)
    pd.testing.assert_frame_equal(got, simulate_protocol(patients, mht, 77))


@pytest.mark.slow
def test_mht_physics_on_processes_equals_one_call():
    from mhtcdt.physics import simulate_protocol

    patients, mht = _physics_case(30, 1)
    got = chunked.physics_chunked(patients, mht, 77, executor=TWO_PROCESSES, chunk_size=7)
    pd.testing.assert_frame_equal(got, simulate_protocol(patients, mht, 77))


def _synthetic_pools(n: int) -> dict[str, pd.DataFrame]:
    from mhtcdt.cohorts import generate_cohort

    cohort = generate_cohort("recurrent_glioblastoma", n, 3)
    return {
        "ref": cohort.assign(log10_kill_total=1.5, log10_kill_rt=1.5),
        "exp": cohort.assign(log10_kill_total=3.0, log10_kill_rt=1.5),
    }


def test_replicate_trials_chunked_is_executor_invariant(pool):
    from mhtcdt.decision.trial import power
    from mhtcdt.decision.trial.design import TrialDesign

    pools = _synthetic_pools(80)
    design = TrialDesign(allocation={"ref": 1, "exp": 1}, accrual_per_month=10.0, min_follow_up_months=12.0)
    trial = power.ReplicateTrial(pools, design, "ref", "exp", endpoint="OS")
    serial = chunked.replicate_trials_chunked(trial, 60, 23, 9, executor="serial", chunk_size=10)
    procs = chunked.replicate_trials_chunked(trial, 60, 23, 9, executor=pool, chunk_size=10)
    pd.testing.assert_frame_equal(procs, serial, check_exact=True)
    assert list(serial["replicate"]) == list(range(23))
    # replicate r is keyed by its global index: chunks equal one unchunked call, and so does any slice
    direct = power.simulate_replicates(trial, 60, 23, 9)
    pd.testing.assert_frame_equal(serial, direct, check_exact=True)
    middle = power.simulate_replicates(trial, 60, 7, 9, first_replicate=11)
    pd.testing.assert_frame_equal(middle, direct.iloc[11:18].reset_index(drop=True), check_exact=True)


def test_worker_running_other_code_is_refused():
    with pytest.raises(ModelError, match="mhtcdt.errors"):
        chunking.map_chunks(pretend_other_version, 4, 2, seed=0, executor=TWO_PROCESSES)
    hashes = code_identity.loaded_code_hashes()
    assert "mhtcdt.decision.run.executors" in hashes and len(code_identity.code_fingerprint()) == 64


def test_dask_executor_by_scheduler_address(dask_client):
    address = dask_client.scheduler.address
    spec = executors.resolve_executor(scheduler=address)
    got = chunking.concat_results(chunking.map_chunks(keyed_normals, 30, 7, seed=2, executor=spec))
    np.testing.assert_array_equal(got, keyed_normals(0, 30, 2))


@pytest.mark.slow
def test_dask_worker_killed_from_outside_mid_run(dask_client):
    """SIGKILL a worker process while chunks run on it; the run still equals the serial result."""
    import threading
    import time

    pids = dask_client.run(os.getpid)
    result: dict[str, np.ndarray] = {}
    runner = threading.Thread(
        target=lambda: result.setdefault(
            "got",
            chunking.concat_results(chunking.map_chunks(slow_keyed_normals, 120, 5, seed=13, executor=dask_client)),
        )
    )
    runner.start()
    time.sleep(1.5)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    runner.join(timeout=120)
    assert "got" in result
    np.testing.assert_array_equal(result["got"], keyed_normals(0, 120, 13))


def test_progress_reports_each_chunk_in_order():
    seen: list[float] = []
    chunking.map_chunks(keyed_normals, 50, 10, seed=1, executor="serial", progress=seen.append)
    assert seen == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_dask_chunk_that_always_kills_its_worker_gives_model_error(dask_client):
    with pytest.raises(ModelError, match="KilledWorker"):
        chunking.map_chunks(always_die, 2, 2, seed=0, executor=dask_client, retries=0)
