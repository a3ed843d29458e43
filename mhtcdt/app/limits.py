"""How large a run this server can hold in memory: the maxima of the app's size widgets.

The schema allows up to 5,000,000 screened patients and 1,000,000 PSA draws (for the command line on a
large machine); the app runs on the server it is on, where such a run dies with ``MemoryError`` (issue
19: under a 4 GB limit). The widgets of ``cohort.n_screened`` and ``economics.psa_draws`` therefore stop
at what fits in :data:`MEMORY_SHARE` of the memory available to this process (the smallest of the
physical memory, the cgroup limit and the address-space limit), and say so; the worker refuses a
scenario above them (:func:`check_scenario_fits`).

Memory per unit, measured (peak resident memory of ``run_pipeline`` on the default scenario with 2,000
and 10,000 screened patients: 371 and 469 MB, 12 kB per screened patient; ``run_psa`` with 1,000 and
10,000 draws: 4 kB per draw for 2 arms on a 10-year monthly grid) and doubled for headroom.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from mhtcdt.errors import InputError, InputErrors

BYTES_PER_SCREENED_PATIENT = 25_000
BYTES_PER_PSA_DRAW_AND_POINT = 8_000 / (2 * 121)  # per draw, strategy and point of the economic grid
MEMORY_SHARE = 0.5
SCHEMA_MAX_SCREENED = 5_000_000
SCHEMA_MAX_PSA_DRAWS = 1_000_000


def available_memory_bytes() -> int:
    """Memory this process may use: the smallest of physical memory, the cgroup limit and RLIMIT_AS."""
    limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits)


@dataclass(frozen=True)
class Limits:
    """Largest ``n_screened`` and ``psa_draws`` this server runs, and the memory they come from."""

    n_screened: int
    psa_draws: int
    memory_bytes: int

    def message(self) -> str:
        return (
            f"This server computes in memory: at most {self.n_screened:,} screened patients and "
            f"{self.psa_draws:,} PSA draws (half of its {self.memory_bytes / 1e9:.1f} GB). Larger runs: "
            "`mhtcdt run` on a larger machine or with `--executor dask`."
        )


def limits_for(n_strategies: int = 2, grid_points: int = 121, memory_bytes: int | None = None) -> Limits:
    """:class:`Limits` for a scenario with ``n_strategies`` arms and ``grid_points`` economic time points."""
    memory = available_memory_bytes() if memory_bytes is None else memory_bytes
    budget = MEMORY_SHARE * memory
    per_draw = BYTES_PER_PSA_DRAW_AND_POINT * max(1, n_strategies) * max(1, grid_points)
    return Limits(
        n_screened=int(min(SCHEMA_MAX_SCREENED, budget // BYTES_PER_SCREENED_PATIENT)),
        psa_draws=int(min(SCHEMA_MAX_PSA_DRAWS, budget // per_draw)),
        memory_bytes=int(memory),
    )


def scenario_limits(scenario) -> Limits:
    """:func:`limits_for` the arms and economic grid of a scenario."""
    eco = scenario.economics
    points = int(12.0 * eco.horizon_years / eco.cycle_months) + 1
    return limits_for(len(scenario.randomised_arms), points)


def check_scenario_fits(scenario) -> None:
    """InputError (naming the field) if the scenario is larger than this server can hold in memory."""
    limits = scenario_limits(scenario)
    problems = []
    if scenario.cohort.n_screened > limits.n_screened:
        problems.append(("cohort.n_screened", scenario.cohort.n_screened, limits.n_screened))
    if scenario.economics.psa_draws > limits.psa_draws:
        problems.append(("economics.psa_draws", scenario.economics.psa_draws, limits.psa_draws))
    if problems:
        raise InputErrors(
            [
                InputError(field, value, f"above what this server can compute in memory ({most:,}); {limits.message()}")
                for field, value, most in problems
            ]
        )
