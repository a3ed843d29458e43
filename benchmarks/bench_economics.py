"""Benchmark of the economics layer against hand-vectorised numpy models doing the same work (issue 18).

Run:  PYTHONPATH=. python benchmarks/bench_economics.py [--sizes 1000,10000,100000,1000000] [--threads 1]

Cases and their baselines (one line each; printed with the table):
1. HIV/AIDS Markov PSA (Chancellor et al. 1997 as worked in Briggs, Claxton & Sculpher 2006 ex. 2.5, the
   model of tests/economics): Dirichlet rows, lognormal RR, 6 gamma costs; 2 strategies x 20 annual cycles.
   Library: ``run_in_blocks`` -> per block of 65,536 draws ``sample_psa`` + matrices + ``run_markov``
   (``keep_traces=False, mean_traces=False``: the per-draw results only, as the baseline; ``out``: the
   engine writes each block's results into the whole run's arrays, as the baseline does), the matrices
   built draws last (S, S, D) by the baseline's code and combination therapy given as a
   per-cycle list of the two arrays. Second row ("draws first, function"): the same model with (D, S, S)
   matrices and combination therapy as a transition function (the library fingerprints every array the
   function returns and transposes every block: the price of that form).
   Baseline: numpy drawing the same keyed streams (same Generator calls), draws-last matrices built per
   sampling block, the cycle loop in cache-sized sub-blocks of 4,096 draws with running weighted sums
   (no trace kept, no checks), all outputs the package returns (cost, life-years, QALYs, discounted and
   not, cost by category).
2. Weibull partitioned-survival PSA: 3 strategies, PFS = TTP x OS and OS from correlated (MVN) Weibull
   coefficients, monthly over 20 years (241 points), a utility and a cost drawn too. The survival curves
   are evaluated INSIDE the timing. Library: the curves given by their coefficients
   (``survival.NestedWeibull``, valid and nested in closed form: the coefficients are checked once, the
   evaluated values not), evaluated by the engine in blocks of 90 draws; second row ("curve function"): a
   function returning the evaluated curves of a block, every value of which the engine checks (range,
   monotone, PFS <= OS). Baseline: numpy drawing the same streams, minus cumulative hazards
   -exp(k (ln t - ln scale)) in sub-blocks of 90 draws, PFS as exp(-(H_OS + H_TTP)) (ten passes over a
   block, the fewest plain ufuncs allow), each curve integrated by one 2-D matmul (draws x strategies, T) x
   (T, 5) with the weights (life-table counting, discounting, deaths at interval midpoints by summation by
   parts); all outputs the package returns (cost, LY, QALY discounted and not, years per state, end-of-life
   cost). The library differs in building each exponent by one rank-2 BLAS product (8 passes, not 10).
3. 5-state Markov model with time-varying transitions (Gompertz mortality, Weibull failure), 60 cycles,
   a transition function returning new matrices every cycle. Baseline: the same matrices, one vectorised
   einsum per cycle with running sums. (Dropped: the per-draw loop baselines of the previous version,
   which rebuilt vectorised matrices for one draw per cycle or computed QALYs only: a loop over draws is
   not what anyone would write for a vectorisable model, so it is no bar.)
4. EVPPI of one parameter (penalised splines with GCV and SE) at 3 wtp from the PSM PSA's draws.
   Baseline: an unpenalised cubic least-squares fit without GCV or SE -- a lower bound on the work, NOT
   the same algorithm (reported as such; the library is also timed without the SE).

Every case: library and baseline on the same inputs, equal threads (BLAS and numba pinned to --threads,
read back from the libraries), results asserted equal to 1e-9 relative before timing, medians of >= 5
runs alternating library and baseline, wall and CPU time, time per draw, peak memory per size
(tracemalloc: numpy buffers and Python objects allocated during one run, after a first unmeasured one that
pays the process's one-off caches and lazy imports; no numba or BLAS-internal memory, neither side uses
numba), and the load average. Start-up: ``python -c "import mhtcdt.economics"``
and a whole 10,000-draw HIV PSA process (import, build, run, print the ICER), fresh processes with the
bytecode cached (as after ``pip install``); the import also without the package's bytecode (every start
compiles the source: ``PYTHONDONTWRITEBYTECODE=1`` on a source tree, as on the development machine).
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

from mhtcdt.economics import (  # noqa: E402
    Conventions,
    Dirichlet,
    Gamma,
    LogNormal,
    MarkovStrategy,
    MultivariateNormal,
    StateValues,
    SurvivalCurves,
    evppi,
    run_in_blocks,
    run_markov,
    run_partitioned_survival,
    sample_psa,
    survival,
)
from mhtcdt.economics.psa import BLOCK_SIZE, Z_975  # noqa: E402
from mhtcdt.economics.results import RESULT_COLUMNS  # noqa: E402

HIV_TOML = ROOT / "tests" / "economics" / "data" / "hiv_markov_dmhee.toml"
HIV = tomllib.loads(HIV_TOML.read_text())
RR_LOW, RR_HIGH = 0.365, 0.710  # 95% CI of the relative risk (Briggs et al. 2006, exercise 4.7)
SUB = 4096  # sub-block of the numpy Markov baseline (the library's markov_trace.BLOCK_DRAWS)
RTOL = 1e-9


def _rng(seed: int, name: str, block: int) -> np.random.Generator:
    """The keyed stream sample_psa uses for parameter ``name`` and block ``block`` (mhtcdt.seeding)."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key, block))))


def _assert_equal(label: str, lib: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> float:
    """Largest relative difference over every output; SystemExit above RTOL."""
    worst = 0.0
    for name, want in ref.items():
        got = np.asarray(lib[name])
        if got.shape != want.shape:
            raise SystemExit(f"{label}: {name} shape {got.shape} != {want.shape}")
        scale = np.maximum(np.abs(want), 1e-300)
        rel = float(np.max(np.abs(got - want) / scale)) if want.size else 0.0
        worst = max(worst, rel)
        if not rel <= RTOL:
            raise SystemExit(f"{label}: {name} differs from the numpy baseline by {rel:.3g} (relative)")
    return worst


def _outputs(res, categories=(), extra=()) -> dict[str, np.ndarray]:
    out = {k: getattr(res, k) for k in RESULT_COLUMNS[1:]}
    out.update({f"cost_{k}": res.cost_by_category[k] for k in categories})
    out.update({k: res.extra[k] for k in extra})
    return out


# --------------------------------------------------------------------------------------------
# 1. HIV Markov PSA
# --------------------------------------------------------------------------------------------

HIV_COUNTS = np.array(HIV["transition_counts"], float)
HIV_DIRECT, HIV_COMMUNITY = np.array(HIV["direct_medical"], float), np.array(HIV["community"], float)
ZID, LAM = float(HIV["zidovudine"]), float(HIV["lamivudine"])
RR = float(HIV["relative_risk"])
N_CYCLES = int(HIV["cycles"])
RR_CYCLES = tuple(HIV["relative_risk_cycles"])


def hiv_distributions() -> dict:
    dists = {f"row{i}": Dirichlet(HIV_COUNTS[i]) for i in range(3)}
    dists["rr"] = LogNormal.from_ci(RR, RR_LOW, RR_HIGH)
    for i in range(3):  # gamma costs; sd = mean (benchmark assumption)
        dists[f"direct{i}"] = Gamma(HIV_DIRECT[i], HIV_DIRECT[i])
        dists[f"community{i}"] = Gamma(HIV_COMMUNITY[i], HIV_COMMUNITY[i])
    return dists


def hiv_library(n: int, seed: int = 1, form: str = "last"):
    """The HIV PSA through the library. ``form="last"``: matrices built draws last (S, S, D), the engine's
    layout and the baseline's, combination therapy as a per-cycle list of the two arrays; ``"function"``:
    matrices built draws first (D, S, S) and combination therapy as a transition function (each returned
    array fingerprinted, each block transposed)."""
    dists = hiv_distributions()
    conv = Conventions(
        discount_costs=HIV["discount_costs"], discount_effects=HIV["discount_life_years"], counting="end"
    )
    lam = np.zeros((1, N_CYCLES + 1, 4))
    lam[0, list(RR_CYCLES), :3] = LAM
    alive = np.array([1.0, 1, 1, 0])
    d = np.arange(4)

    def block(a: int, b: int, out=None):
        s = sample_psa(dists, b - a, seed, start=a)
        care = np.zeros((b - a, 1, 4))
        for i in range(3):
            care[:, 0, i] = s[f"direct{i}"] + s[f"community{i}"] + ZID
        mono_values = StateValues(care, alive, costs_per="cycle")
        comb_values = StateValues({"care": care, "lamivudine": lam}, alive, costs_per="cycle")
        if form == "last":
            p = np.zeros((4, 4, b - a))  # draws last: p[s, k, d]
            for i in range(3):
                p[i] = s[f"row{i}"].T
            p[3, 3] = 1.0
            comb = p * s["rr"]  # off-diagonal x RR, diagonal = complement
            comb[d, d] = 0.0
            comb[d, d] = 1.0 - comb.sum(axis=1)
            by_cycle = [comb if c in RR_CYCLES else p for c in range(1, N_CYCLES + 1)]
            strategies = [
                MarkovStrategy("mono", p, mono_values, draws=True, draws_last=True),
                MarkovStrategy("comb", by_cycle, comb_values, per_cycle=True, draws=True, draws_last=True),
            ]
        else:
            p = np.zeros((b - a, 4, 4))
            for i in range(3):
                p[:, i] = s[f"row{i}"]
            p[:, 3, 3] = 1.0
            comb = p * s["rr"][:, None, None]
            comb[:, d, d] = 0.0
            comb[:, d, d] = 1.0 - comb.sum(axis=-1)
            strategies = [
                MarkovStrategy("mono", p, mono_values, draws=True),
                MarkovStrategy("comb", lambda c: comb if c in RR_CYCLES else p, comb_values),
            ]
        res = run_markov(
            HIV["states"],
            strategies,
            HIV["start"],
            conv,
            n_cycles=N_CYCLES,
            dead_states=["D"],
            keep_traces=False,
            mean_traces=False,  # the draws only, as the baseline computes
            out=out,  # the rows of the whole run's results (run_in_blocks): written in place, not copied
        )
        return res.draws

    return _outputs(run_in_blocks(block, n), categories=("care", "lamivudine"))


def _hiv_sample(seed: int, block: int, nb: int) -> dict[str, np.ndarray]:
    """The HIV parameters of one sampling block, drawn from the same streams as sample_psa."""
    s = {}
    for i in range(3):
        alpha = HIV_COUNTS[i]
        pos = alpha > 0
        g = _rng(seed, f"row{i}", block).standard_gamma(alpha[pos], size=(nb, int(pos.sum())))
        row = np.zeros((nb, 4))
        row[:, pos] = g / g.sum(axis=1, keepdims=True)
        s[f"row{i}"] = row
    sdlog = (np.log(RR_HIGH) - np.log(RR_LOW)) / (2 * Z_975)
    s["rr"] = _rng(seed, "rr", block).lognormal(np.log(RR), sdlog, nb)
    for i in range(3):
        s[f"direct{i}"] = _rng(seed, f"direct{i}", block).gamma(1.0, HIV_DIRECT[i], nb)
        s[f"community{i}"] = _rng(seed, f"community{i}", block).gamma(1.0, HIV_COMMUNITY[i], nb)
    return s


def hiv_numpy(n: int, seed: int = 1):
    names = [*RESULT_COLUMNS[1:], "cost_care", "cost_lamivudine"]
    out = {k: np.zeros((n, 2)) for k in names}
    disc = (1.0 + HIV["discount_costs"]) ** -np.arange(N_CYCLES + 1.0)
    alive = np.array([1.0, 1, 1, 0])
    for a in range(0, n, BLOCK_SIZE):
        nb = min(BLOCK_SIZE, n - a)
        s = _hiv_sample(seed, a // BLOCK_SIZE, nb)
        p = np.zeros((4, 4, nb))  # draws last: p[s, k, d]
        for i in range(3):
            p[i] = s[f"row{i}"].T
        p[3, 3] = 1.0
        comb = p * s["rr"]
        d = np.arange(4)
        comb[d, d] = 0.0
        comb[d, d] = 1.0 - comb.sum(axis=1)
        c = np.zeros((4, nb))
        for i in range(3):
            c[i] = s[f"direct{i}"] + s[f"community{i}"] + ZID
        for j in range(0, nb, SUB):
            k = min(nb, j + SUB)
            pj, cj, cost_j = p[..., j:k], comb[..., j:k], c[:, j:k]
            x = np.zeros((4, k - j))
            x[0] = 1.0
            xc = x.copy()
            occ = [np.zeros_like(x) for _ in range(4)]  # mono discounted, undiscounted; comb the same
            lam_d, lam_u = np.zeros(k - j), np.zeros(k - j)
            tmp = np.empty_like(x)
            for t in range(1, N_CYCLES + 1):
                x = np.einsum("sd,skd->kd", x, pj)
                xc = np.einsum("sd,skd->kd", xc, cj if t in RR_CYCLES else pj)
                for acc, y in ((occ[0], x), (occ[2], xc)):
                    np.multiply(y, disc[t], out=tmp)
                    acc += tmp
                occ[1] += x
                occ[3] += xc
                if t in RR_CYCLES:
                    alive_c = xc[0] + xc[1] + xc[2]
                    lam_d += disc[t] * LAM * alive_c
                    lam_u += LAM * alive_c
            rows = slice(a + j, a + k)
            for col, (o_d, o_u) in enumerate(((occ[0], occ[1]), (occ[2], occ[3]))):
                care = (o_d * cost_j).sum(axis=0)
                life = alive @ o_u  # effects undiscounted (rate 0); QALY weight 1 in every alive state
                extra_d, extra_u = (lam_d, lam_u) if col == 1 else (0.0, 0.0)
                out["cost"][rows, col] = care + extra_d
                out["cost_undiscounted"][rows, col] = (o_u * cost_j).sum(axis=0) + extra_u
                out["life_years"][rows, col] = out["life_years_undiscounted"][rows, col] = life
                out["qalys"][rows, col] = out["qalys_undiscounted"][rows, col] = alive @ o_u
                if col == 1:
                    out["cost_care"][rows, col] = care
                    out["cost_lamivudine"][rows, col] = lam_d
    return out


HIV_SCRIPT = f"""
import tomllib
import numpy as np
from mhtcdt.economics import (Conventions, Dirichlet, Gamma, LogNormal, MarkovStrategy, StateValues, run_markov,
                              sample_psa)
d = tomllib.loads(open({str(HIV_TOML)!r}).read())
counts = np.array(d["transition_counts"], float)
dists = {{f"row{{i}}": Dirichlet(counts[i]) for i in range(3)}}
dists["rr"] = LogNormal.from_ci(d["relative_risk"], {RR_LOW}, {RR_HIGH})
for i in range(3):
    dists[f"cost{{i}}"] = Gamma(d["direct_medical"][i] + d["community"][i], d["direct_medical"][i] + d["community"][i])
s = sample_psa(dists, 10_000, 1)
p = np.zeros((10_000, 4, 4))
for i in range(3):
    p[:, i] = s[f"row{{i}}"]
p[:, 3, 3] = 1.0
comb = p * s["rr"][:, None, None]
k = np.arange(4)
comb[:, k, k] = 0.0
comb[:, k, k] = 1.0 - comb.sum(axis=-1)
care = np.zeros((10_000, 1, 4))
care[:, 0, :3] = np.column_stack([s[f"cost{{i}}"] for i in range(3)]) + d["zidovudine"]
lam = np.zeros((1, d["cycles"] + 1, 4))
lam[0, d["relative_risk_cycles"], :3] = d["lamivudine"]
alive = np.array([1.0, 1, 1, 0])
strategies = [
    MarkovStrategy("mono", p, StateValues(care, alive, costs_per="cycle"), draws=True),
    MarkovStrategy("comb", lambda c: comb if c in d["relative_risk_cycles"] else p,
                   StateValues({{"care": care, "lamivudine": lam}}, alive, costs_per="cycle")),
]
conv = Conventions(discount_costs=d["discount_costs"], discount_effects=d["discount_life_years"], counting="end")
r = run_markov(d["states"], strategies, d["start"], conv, n_cycles=d["cycles"], dead_states=["D"]).draws
c, e = r.cost.mean(axis=0), r.life_years.mean(axis=0)
print(f"ICER {{(c[1] - c[0]) / (e[1] - e[0]):.2f}} GBP per life-year gained")
"""


# --------------------------------------------------------------------------------------------
# 2. Weibull partitioned survival PSA
# --------------------------------------------------------------------------------------------

T_MONTHS = np.arange(0.0, 241.0)
STRATEGIES = ["rt", "rt_mht", "rt_mht_cdt"]
PSM_MEANS = {
    "ttp": [(0.15, np.log(10.0)), (0.15, np.log(13.0)), (0.15, np.log(16.0))],
    "os": [(0.2, np.log(15.0)), (0.2, np.log(22.0)), (0.2, np.log(27.0))],
}
PSM_COV = np.array([[0.02, -0.004], [-0.004, 0.04]])
PSM_ONE_OFF = np.array([0.0, 23000.0, 26000.0])
C_PF, U_PD, EOL = 1000.0, 0.6, 7000.0  # per month in PF; utility of PD; cost per death
PSM_EXTRA = ("pf_years", "progressed_years", "pf_years_undiscounted", "progressed_years_undiscounted")
PSM_SUB = 90  # sub-block of the numpy baseline: the library's CHUNK_ELEMENTS // (3 x 241)


def psm_distributions() -> dict:
    dists = {f"{ep}{k}": MultivariateNormal(m, PSM_COV) for ep, ms in PSM_MEANS.items() for k, m in enumerate(ms)}
    dists.update(u_pf=Dirichlet([80.0, 20.0]), c_pd=Gamma(2000.0, 400.0))
    return dists


def psm_library(n: int, seed: int = 3, form: str = "nested"):
    """The Weibull PSM PSA through the library. ``form="nested"``: the curves given by their coefficients
    (``survival.NestedWeibull``: PFS = TTP x OS, checked in closed form on the coefficients, evaluated by the
    engine block by block); ``"function"``: a curve function returning evaluated (PFS, OS) blocks, whose
    every value the engine checks (range, monotonicity, PFS <= OS)."""
    dists = psm_distributions()

    def block(a: int, b: int):
        s = sample_psa(dists, b - a, seed, start=a)
        coef = {ep: np.stack([s[f"{ep}{k}"] for k in range(3)], axis=1) for ep in PSM_MEANS}  # (B, 3, 2)

        def function(i: int, j: int):
            os_ = survival.weibull_from_coefficients(T_MONTHS, coef["os"][i:j, :, 0], coef["os"][i:j, :, 1])
            ttp = survival.weibull_from_coefficients(T_MONTHS, coef["ttp"][i:j, :, 0], coef["ttp"][i:j, :, 1])
            ttp *= os_  # PFS = TTP x OS
            return ttp, os_

        curves = function
        if form == "nested":
            curves = survival.NestedWeibull(
                [coef["ttp"][..., 0], coef["os"][..., 0]], [coef["ttp"][..., 1], coef["os"][..., 1]]
            )

        nb = b - a
        util = np.empty((nb, 1, 2))
        util[:, 0, 0], util[:, 0, 1] = s["u_pf"][:, 0], U_PD
        cost = np.empty((nb, 1, 2))
        cost[:, 0, 0], cost[:, 0, 1] = C_PF, s["c_pd"]
        values = StateValues(cost, util, costs_per="months", one_off_cost=PSM_ONE_OFF, end_of_life_cost=EOL)
        n_draws = None if form == "nested" else nb
        return run_partitioned_survival(SurvivalCurves(STRATEGIES, T_MONTHS, curves, n_draws=n_draws), values)

    res = run_in_blocks(block, n)
    return _outputs(res, categories=("end_of_life",), extra=PSM_EXTRA)


def _psm_weights() -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) weights for PF (years: undiscounted, costs-, effects-discounted) and (T, 5) for OS (+ deaths
    undiscounted and discounted at interval midpoints, by summation by parts)."""
    t_y = T_MONTHS / 12.0
    w = np.full(t_y.size, 1.0 / 12.0)
    w[0] = w[-1] = 1.0 / 24.0  # life-table (trapezoid) counting, monthly
    d = 1.035**-t_y
    mid = 1.035 ** -(0.5 * (t_y[1:] + t_y[:-1]))
    deaths = np.zeros((t_y.size, 2))
    for col, m in enumerate((np.ones_like(mid), mid)):
        deaths[0, col], deaths[1:-1, col], deaths[-1, col] = m[0], m[1:] - m[:-1], -m[-1]
    pf_w = np.column_stack([w, w * d, w * d])
    return pf_w, np.column_stack([pf_w, deaths])


def psm_numpy(n: int, seed: int = 3):
    pf_w, os_w = _psm_weights()
    chol = np.linalg.cholesky(PSM_COV)
    with np.errstate(divide="ignore"):
        log_t = np.log(T_MONTHS)
    out = {k: np.empty((n, 3)) for k in [*RESULT_COLUMNS[1:], "cost_end_of_life", *PSM_EXTRA]}
    for a in range(0, n, BLOCK_SIZE):
        nb, blk = min(BLOCK_SIZE, n - a), a // BLOCK_SIZE
        shape, log_scale = {}, {}
        for ep, ms in PSM_MEANS.items():
            coef = np.stack(
                [
                    np.asarray(m) + _rng(seed, f"{ep}{k}", blk).standard_normal((nb, 2)) @ chol.T
                    for k, m in enumerate(ms)
                ],
                axis=1,
            )  # (nb, 3, 2)
            shape[ep], log_scale[ep] = np.exp(coef[..., 0])[..., None], coef[..., 1][..., None]
        g = _rng(seed, "u_pf", blk).standard_gamma([80.0, 20.0], size=(nb, 2))
        u_pf = (g[:, 0] / g.sum(axis=1))[:, None]
        c_pd = _rng(seed, "c_pd", blk).gamma(25.0, 80.0, nb)[:, None]  # Gamma(mean 2000, sd 400)
        i_pf, i_os = np.empty((nb, 3, 3)), np.empty((nb, 3, 5))
        for j in range(0, nb, PSM_SUB):
            k = min(nb, j + PSM_SUB)
            m_os = -np.exp(shape["os"][j:k] * (log_t - log_scale["os"][j:k]))  # minus cumulative hazard (m, 3, T)
            m_pfs = m_os - np.exp(shape["ttp"][j:k] * (log_t - log_scale["ttp"][j:k]))  # -(H_OS + H_TTP)
            # each curve integrated by one (m x 3, T) x (T, W) product (one BLAS call, not one per draw)
            np.matmul(np.exp(m_os).reshape(-1, T_MONTHS.size), os_w, out=i_os[j:k].reshape(-1, 5))
            np.matmul(np.exp(m_pfs).reshape(-1, T_MONTHS.size), pf_w, out=i_pf[j:k].reshape(-1, 3))
        pd = i_os[..., :3] - i_pf
        rows = slice(a, a + nb)
        deaths = i_os[..., 3:]
        out["life_years"][rows], out["life_years_undiscounted"][rows] = i_os[..., 2], i_os[..., 0]
        out["qalys"][rows] = u_pf * i_pf[..., 2] + U_PD * pd[..., 2]
        out["qalys_undiscounted"][rows] = u_pf * i_pf[..., 0] + U_PD * pd[..., 0]
        out["cost"][rows] = 12.0 * (C_PF * i_pf[..., 1] + c_pd * pd[..., 1]) + PSM_ONE_OFF + EOL * deaths[..., 1]
        out["cost_undiscounted"][rows] = (
            12.0 * (C_PF * i_pf[..., 0] + c_pd * pd[..., 0]) + PSM_ONE_OFF + EOL * deaths[..., 0]
        )
        out["cost_end_of_life"][rows] = EOL * deaths[..., 1]
        out["pf_years"][rows], out["progressed_years"][rows] = i_pf[..., 2], pd[..., 2]
        out["pf_years_undiscounted"][rows], out["progressed_years_undiscounted"][rows] = i_pf[..., 0], pd[..., 0]
    return out


# --------------------------------------------------------------------------------------------
# 3. 5-state time-varying Markov model
# --------------------------------------------------------------------------------------------

N5, C5 = 5, 60


def five_state_inputs(n: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(np.log(0.08), 0.15, n)  # Weibull failure scale (per year)
    gam = rng.lognormal(np.log(1.3), 0.1, n)  # Weibull shape
    prog = rng.beta(20, 180, n)  # response -> progression per cycle
    costs = np.column_stack([rng.gamma(25, s, n) for s in (40, 120, 600, 400)] + [np.zeros(n)])
    utils = np.column_stack([rng.beta(a, 100 - a, n) for a in (80, 70, 50, 60)] + [np.zeros(n)])
    return lam, gam, prog, costs, utils


def five_state_matrices(lam, gam, prog, cycle: int, draws_last: bool = False):
    """States: well, failure, progressed, post-progression, dead; age 50 + cycle (years)."""
    age = 50.0 + cycle
    mort = 1.0 - np.exp(-5e-5 * np.exp(0.085 * age))  # Gompertz background mortality
    fail = 1.0 - np.exp((lam * (cycle - 1)) ** gam - (lam * cycle) ** gam)  # Weibull failure in the cycle
    p = np.zeros((N5, N5, lam.size))
    p[0, 4] = mort
    p[0, 1] = (1 - mort) * fail
    p[0, 0] = 1.0 - p[0, 1] - mort
    p[1, 4] = mort
    p[1, 2] = (1 - mort) * prog
    p[1, 1] = 1.0 - p[1, 2] - mort
    d2 = min(mort * 3.0, 1.0)
    p[2, 4] = d2
    p[2, 3] = (1 - d2) * 0.5
    p[2, 2] = 1.0 - d2 - p[2, 3]
    d3 = min(mort * 2.0, 1.0)
    p[3, 4] = d3
    p[3, 3] = 1.0 - d3
    p[4, 4] = 1.0
    return p if draws_last else p.transpose(2, 0, 1)


def five_library(inputs):
    lam, gam, prog, costs, utils = inputs
    strat = [
        MarkovStrategy(
            "x",
            lambda c: five_state_matrices(lam, gam, prog, c),
            StateValues(costs[:, None, :], utils[:, None, :], costs_per="cycle"),
        )
    ]
    res = run_markov(
        ["well", "failure", "progressed", "post", "dead"],
        strat,
        [1.0, 0, 0, 0, 0],
        Conventions(counting="life_table"),
        n_cycles=C5,
        dead_states=["dead"],
        keep_traces=False,
        mean_traces=False,
    )
    return _outputs(res.draws)


def five_numpy(inputs):
    lam, gam, prog, costs, utils = inputs
    n = lam.size
    x = np.zeros((N5, n))
    x[0] = 1.0
    w = np.ones(C5 + 1)
    w[0] = w[-1] = 0.5
    disc = 1.035 ** -np.arange(C5 + 1)
    occ_d, occ_u = w[0] * x, w[0] * x  # weighted occupancy (discounted; undiscounted)
    for c in range(1, C5 + 1):
        x = np.einsum("sd,skd->kd", x, five_state_matrices(lam, gam, prog, c, draws_last=True))
        occ_d = occ_d + (w[c] * disc[c]) * x
        occ_u = occ_u + w[c] * x
    alive = np.array([1.0, 1, 1, 1, 0])
    return {
        "cost": (occ_d * costs.T).sum(0)[:, None],
        "life_years": (alive @ occ_d)[:, None],
        "qalys": (occ_d * utils.T).sum(0)[:, None],
        "cost_undiscounted": (occ_u * costs.T).sum(0)[:, None],
        "life_years_undiscounted": (alive @ occ_u)[:, None],
        "qalys_undiscounted": (occ_u * utils.T).sum(0)[:, None],
    }


# --------------------------------------------------------------------------------------------
# 4. EVPPI
# --------------------------------------------------------------------------------------------


def evppi_numpy(cost, qalys, phi, wtp):
    """Unpenalised cubic polynomial regression of incremental NB (no GCV, no SE): a lower bound on work."""
    x = np.column_stack([np.ones_like(phi), phi, phi**2, phi**3])
    out = []
    for w in wtp:
        nb = w * qalys - cost
        inc = nb[:, 1:] - nb[:, :1]
        beta, *_ = np.linalg.lstsq(x, inc, rcond=None)
        fit = np.concatenate([np.zeros((phi.size, 1)), x @ beta], axis=1)
        out.append(fit.max(1).mean() - fit.mean(0).max())
    return np.array(out)


# --------------------------------------------------------------------------------------------


def _case(label, key, n, lib, ref, repeats, fig, rows, goal):
    """Outputs compared (one run each), memory (a second run each: a call's own peak, not the one-off
    caches and lazy imports of a process's first call), then timing of library vs baseline at size n."""
    load0 = h.load()
    worst = _assert_equal(f"{label} ({n} draws)", lib(), ref())
    mem_lib = h.peak_memory(lib)
    mem_ref = h.peak_memory(ref)
    t_lib, t_ref = h.compare([lib, ref], repeats)
    ratio = t_lib.median / t_ref.median
    p = f"{key}_{n}"
    fig.update(t_lib.figures(f"{p}_library"))
    fig.update(t_ref.figures(f"{p}_numpy"))
    fig.update(
        {
            f"{p}_ratio_wall": ratio,
            f"{p}_ratio_cpu": t_lib.cpu_median / t_ref.cpu_median,
            f"{p}_library_us_per_draw": 1e6 * t_lib.median / n,
            f"{p}_numpy_us_per_draw": 1e6 * t_ref.median / n,
            f"{p}_library_peak_MiB": mem_lib / 2**20,
            f"{p}_numpy_peak_MiB": mem_ref / 2**20,
            f"{p}_memory_ratio": mem_lib / mem_ref,
            f"{p}_max_relative_difference": worst,
            f"{p}_load_average": load0,
        }
    )
    rows.append(
        (
            label,
            n,
            h.span(t_lib),
            h.span(t_ref),
            f"{t_lib.cpu_median:.4g}/{t_ref.cpu_median:.4g}",
            f"{ratio:.2f}",
            f"{1e6 * t_lib.median / n:.3g}/{1e6 * t_ref.median / n:.3g}",
            f"{mem_lib / 2**20:.1f}/{mem_ref / 2**20:.1f}",
            f"{mem_lib / mem_ref:.2f}",
            goal,
            f"{load0:.2f}",
        )
    )
    print(  # progress, and the row's figures should a long run be stopped before its table
        f"  done {label} n={n}: x{ratio:.2f} wall, x{t_lib.cpu_median / t_ref.cpu_median:.2f} CPU "
        f"({t_lib.cpu_median:.4g}/{t_ref.cpu_median:.4g} s), memory x{mem_lib / mem_ref:.2f} "
        f"({mem_lib / 2**20:.1f}/{mem_ref / 2**20:.1f} MiB) (load {load0:.2f})",
        file=sys.stderr,
        flush=True,
    )


def _startup_rows(rows: list[tuple], fig: dict[str, object]) -> None:
    """Start-up of fresh processes, with the bytecode of every imported module cached (the state after
    ``pip install``, which compiles it, or after any first run) -- the goal rows -- and, for information,
    the package's bytecode neither cached nor written (``PYTHONDONTWRITEBYTECODE=1`` and a source tree, as on
    the shared development machine, where every start compiles the package's source: about 0.06-0.1 s of CPU;
    numpy's installed bytecode is used). The cache is a
    private ``PYTHONPYCACHEPREFIX`` directory filled by one untimed run, so the tree is not touched."""
    import tempfile

    base = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory(prefix="bench_economics_pyc_") as prefix:
        cached = dict(base, PYTHONPYCACHEPREFIX=prefix)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        for code in ("import numpy", "import mhtcdt.economics", HIV_SCRIPT):  # fill the bytecode cache
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=cached)
        uncompiled = dict(base, PYTHONDONTWRITEBYTECODE="1")  # numpy's installed bytecode, none for the tree
        uncompiled.pop("PYTHONPYCACHEPREFIX", None)
        load0 = h.load()
        t_np = h.startup("import numpy", env=cached)
        t_imp = h.startup("import mhtcdt.economics", env=cached)
        t_psa = h.startup(HIV_SCRIPT, env=cached)
        t_np_src = h.startup("import numpy", env=uncompiled)
        t_imp_src = h.startup("import mhtcdt.economics", env=uncompiled)
    for label, t, goal, key in (
        ("start-up: python -c 'import numpy'", t_np, "-", "startup_import_numpy"),
        ("start-up: import mhtcdt.economics", t_imp, "<=0.25 s", "startup_import_mhtcdt_economics"),
        ("start-up: HIV PSA 10k process, ICER", t_psa, "<=0.35 s", "startup_hiv_psa_10k_process"),
        ("start-up, no bytecode cache: import numpy", t_np_src, "-", "startup_nocache_import_numpy"),
        ("start-up, no bytecode cache: import mhtcdt.economics", t_imp_src, "-", "startup_nocache_import_economics"),
    ):
        rows.append(
            (
                label,
                1 if "PSA" not in label else 10_000,
                h.span(t),
                "-",
                f"{t.cpu_median:.4g}",
                "-",
                "-",
                "-",
                "-",
                goal,
                f"{load0:.2f}",
            )
        )
        fig.update(t.figures(key))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="BLAS and numba threads for library and baseline")
    ap.add_argument(
        "--skip", default="", help="comma-separated cases to skip: hiv,hiv_fn,psm,psm_fn,five,evppi,startup"
    )
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    skip = set(args.skip.split(",")) - {""}
    h.pin_threads(args.threads)
    threads = h.thread_report()
    fig: dict[str, object] = {"threads_pinned": args.threads, **threads, "load_average_at_start": h.load()}
    rows: list[tuple] = []
    for n in sizes:
        if "hiv" not in skip:
            _case(
                "HIV Markov PSA",
                "hiv",
                n,
                lambda n=n: hiv_library(n),
                lambda n=n: hiv_numpy(n),
                args.repeats,
                fig,
                rows,
                "<=1.0x, mem<=1.5x",
            )
        if "hiv_fn" not in skip:
            _case(
                "HIV Markov PSA (draws first, function)",
                "hiv_function",
                n,
                lambda n=n: hiv_library(n, form="function"),
                lambda n=n: hiv_numpy(n),
                args.repeats,
                fig,
                rows,
                "-",
            )
        if "psm" not in skip:
            _case(
                "Weibull PSM PSA (curves timed)",
                "psm",
                n,
                lambda n=n: psm_library(n),
                lambda n=n: psm_numpy(n),
                args.repeats,
                fig,
                rows,
                "<=1.0x, mem<=1.5x",
            )
        if "psm_fn" not in skip:
            _case(
                "Weibull PSM PSA (curve function)",
                "psm_function",
                n,
                lambda n=n: psm_library(n, form="function"),
                lambda n=n: psm_numpy(n),
                args.repeats,
                fig,
                rows,
                "-",
            )
    if "five" not in skip:
        for n in [s for s in sizes if s <= 10_000]:
            inp = five_state_inputs(n)
            _case(
                "5-state time-varying Markov",
                "five_state",
                n,
                lambda inp=inp: five_library(inp),
                lambda inp=inp: five_numpy(inp),
                args.repeats,
                fig,
                rows,
                "-",
            )
    if "evppi" not in skip:
        n = 10_000
        s = sample_psa(psm_distributions(), n, 3)
        res = psm_library(n)
        phi = s["os1"][:, 1]  # log OS scale of the second strategy (drives the outcome)
        wtp3 = np.array([50_000.0, 75_000.0, 100_000.0])
        table = evppi(res["cost"], res["qalys"], phi, wtp3)
        t_lib, t_no_se, t_ref = h.compare(
            [
                lambda: evppi(res["cost"], res["qalys"], phi, wtp3),
                lambda: evppi(res["cost"], res["qalys"], phi, wtp3, n_se_samples=0),
                lambda: evppi_numpy(res["cost"], res["qalys"], phi, wtp3),
            ],
            args.repeats,
        )
        load0 = h.load()
        for label, t in (("EVPPI 1 param, 3 wtp (with SE)", t_lib), ("EVPPI 1 param, 3 wtp (no SE)", t_no_se)):
            rows.append(
                (
                    label,
                    n,
                    h.span(t),
                    h.span(t_ref),
                    f"{t.cpu_median:.4g}/{t_ref.cpu_median:.4g}",
                    f"{t.median / t_ref.median:.2f}",
                    "-",
                    "-",
                    "-",
                    "lower-bound baseline",
                    f"{load0:.2f}",
                )
            )
        fig.update(t_lib.figures("evppi_library"))
        fig.update(t_no_se.figures("evppi_library_no_se"))
        fig.update(t_ref.figures("evppi_numpy_cubic_lower_bound"))
        fig.update(evppi_at_75000=float(table["evppi"].iloc[1]), evppi_se_at_75000=float(table["evppi_se"].iloc[1]))
    if "startup" not in skip:
        _startup_rows(rows, fig)
    print(__doc__.split("\n\n", 1)[1].split("Every case:")[0].rstrip())
    print()
    h.emit(
        [
            "case",
            "draws",
            "library s med [min-max]",
            "numpy s med [min-max]",
            "cpu s lib/np",
            "x numpy",
            "us/draw lib/np",
            "peak MiB lib/np",
            "mem x",
            "goal",
            "load",
        ],
        rows,
        {
            **fig,
            "load_average_at_end": h.load(),
            "cores": os.cpu_count(),
            "memory_method": "tracemalloc peak above the start of the call (numpy buffers + Python objects)",
        },
    )


if __name__ == "__main__":
    main()
