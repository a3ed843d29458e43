"""Benchmark: the 1,000-draw PSA of the default scenario with physics and structural uncertainty (issue 13).

Run: ``python benchmarks/bench_physics_psa.py [--draws 1000] [--repeats 5] [--check 50] [--threads 2]``.

Timed with :mod:`benchmarks._harness` (after one untimed warm-up each, at least 5 alternating runs; median and
min-max of wall time, median CPU time of the process, threads pinned and read back, the load average):

* ``psa_physics``: :func:`mhtcdt.decision.model.psa.run_psa` end to end on a finished run of the default
  scenario (seed 7, as ``mhtcdt demo --seed 7``): both arms' emulators (their physics solves on the trial's
  patients), the draws of every input, CEAC/CEAF/EVPI, EVPPI of every input, the decision drivers and the
  structural presets side by side (each a re-run of the draws);
* ``psa_without_physics``: the same PSA without physics uncertainty (economic inputs and calibration draws),
  for scale;
* ``pipeline`` (once): the deterministic run the PSA analyses, for the end-to-end total.

``--check N``: the emulators' error against direct simulation of the whole chain on N held-out draws
(:func:`mhtcdt.decision.model.emulator_check.check_emulators`: per-patient log10 kill and per-arm QALYs), and
what direct simulation of every draw would cost (the measured seconds per direct draw x the draws).
Goal: ``psa_physics`` wall median <= 60 s. The machine is shared: quote the load average with the times.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as h  # noqa: E402

GOAL_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=h.MIN_REPEATS)
    parser.add_argument("--check", type=int, default=50, help="held-out draws for the emulator error (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    h.pin_threads(args.threads)

    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.loading import default_scenario

    scenario = default_scenario()
    load_start = h.load()
    c0, t0 = time.process_time(), time.perf_counter()
    result = run_pipeline(scenario, seed=args.seed)
    pipeline_wall, pipeline_cpu = time.perf_counter() - t0, time.process_time() - c0
    last: dict = {}

    def with_physics():
        last["psa"] = run_psa(result, n_draws=args.draws)

    def without_physics():
        run_psa(result, n_draws=args.draws, physics=False)

    physics_t, plain_t = h.compare([with_physics, without_physics], args.repeats)
    load_end = h.load()
    psa = last["psa"]
    figures: dict[str, object] = {
        "draws": args.draws,
        "patients_per_arm": {r.arm: r.n_patients for r in psa.physics.reports},
        **physics_t.figures("psa_physics"),
        "psa_physics_cpu_min_s": min(physics_t.cpu),
        "psa_physics_cpu_max_s": max(physics_t.cpu),
        **plain_t.figures("psa_without_physics"),
        "pipeline_wall_s": pipeline_wall,
        "pipeline_cpu_s": pipeline_cpu,
        "end_to_end_wall_s": pipeline_wall + physics_t.median,
        "emulator_build_s": {r.arm: r.seconds for r in psa.physics.reports},
        "emulator_solves": {r.arm: r.n_solves for r in psa.physics.reports},
        "emulated_inputs": {r.arm: r.dims + r.weak for r in psa.physics.reports},
        "structural_presets": int(psa.structural["evaluated"].sum()) - 1,
        "load_average_start": load_start,
        "load_average_end": load_end,
        **h.thread_report(),
        "goal_s": GOAL_S,
        "goal_met_wall": physics_t.median <= GOAL_S,
    }
    rows = [
        ["PSA with physics uncertainty", h.span(physics_t), f"{physics_t.cpu_median:.4g}"],
        ["PSA without physics uncertainty", h.span(plain_t), f"{plain_t.cpu_median:.4g}"],
        ["pipeline (once)", f"{pipeline_wall:.4g}", f"{pipeline_cpu:.4g}"],
    ]
    if args.check:
        from mhtcdt.decision.model.emulator_check import check_emulators

        chk = check_emulators(result, psa.physics, n_draws=args.check)
        kills = chk.kill_errors()
        qalys = chk.qaly_errors()
        per_draw = chk.seconds_direct / args.check
        figures.update(
            check_draws=args.check,
            kill_error=kills.set_index("arm").round(6).to_dict(orient="index"),
            qaly_error=qalys.set_index("qalys_of").round(6).to_dict(orient="index"),
            direct_s_per_draw=per_draw,
            direct_s_for_all_draws=per_draw * args.draws,
        )
        rows.append([f"direct simulation, {args.draws} draws (extrapolated)", f"{per_draw * args.draws:.4g}", "-"])
        print(kills.to_string(index=False))
        print(qalys.to_string(index=False))
    print(f"load average {load_start:.2f} -> {load_end:.2f}; threads {h.thread_report()}")
    h.emit(["what", "wall s median [min-max]", "CPU s median"], rows, figures)


if __name__ == "__main__":
    main()
