"""The HIV/AIDS Markov model (Chancellor et al. 1997, as worked in Briggs, Claxton & Sculpher 2006,
exercise 2.5) built from tests/economics/data/hiv_markov_dmhee.toml, for tests and the benchmark."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from mhtcdt.economics import MarkovStrategy, StateValues

DATA = Path(__file__).with_name("data") / "hiv_markov_dmhee.toml"


def load() -> dict:
    with DATA.open("rb") as fh:
        return tomllib.load(fh)


def matrices(counts: np.ndarray, rr: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotherapy matrix from row-normalised counts (or (D, S, S) probabilities) and the combination
    matrix: off-diagonal x RR, diagonal = complement."""
    p = np.asarray(counts, float)
    if p.ndim == 2 and not np.allclose(p.sum(-1), 1):
        p = p / p.sum(axis=-1, keepdims=True)
    rr = np.asarray(rr, float).reshape(np.shape(rr) + (1, 1)) if np.ndim(rr) else rr
    eye = np.eye(p.shape[-1], dtype=bool)
    comb = np.where(eye, 0.0, p * rr)
    comb = comb + eye * (1.0 - comb.sum(axis=-1, keepdims=True))
    return p, comb


def strategies(data: dict, p_mono=None, p_comb=None, costs=None, rr=None, draws=False):
    """Monotherapy and combination strategies (annual cycles, costs per cycle = per year)."""
    if p_mono is None:
        p_mono, p_comb = matrices(np.array(data["transition_counts"]), data["relative_risk"])
    if costs is None:
        costs = np.array(data["direct_medical"]) + np.array(data["community"])
    zid = data["zidovudine"]
    lam = data["lamivudine"]
    n = data["cycles"]
    costs = np.asarray(costs, float)
    state_mono = np.concatenate([costs + zid, np.zeros(costs.shape[:-1] + (1,))], axis=-1)
    if state_mono.ndim == 2:
        state_mono = state_mono[:, None, :]  # (D, 1, S)
    rr_cycles = set(data["relative_risk_cycles"])
    lam_by_cycle = np.array([lam if t in rr_cycles else 0.0 for t in range(n + 1)])
    alive = np.array([1.0, 1.0, 1.0, 0.0])
    state_comb = state_mono + lam_by_cycle[:, None] * alive  # (n+1, S) or (D, n+1, S)

    def comb_transitions(cycle: int):
        return p_comb if cycle in rr_cycles else p_mono

    return [
        MarkovStrategy("monotherapy", p_mono, StateValues(state_mono, alive, costs_per="cycle"), draws=draws),
        MarkovStrategy("combination", comb_transitions, StateValues(state_comb, alive, costs_per="cycle")),
    ]
