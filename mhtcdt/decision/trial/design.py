"""Trial engine: arms, stratified permuted-block randomisation, accrual, dropout and censoring.

:class:`TrialDesign` takes the scenario's ``[trial]`` fields by keyword and validates them.
:func:`randomise` assigns arms to the eligible patients (rows in order of arrival);
:func:`apply_follow_up` turns latent times (from :mod:`mhtcdt.decision.model.outcome`) into observed,
censored times.

Assumptions: accrual is a Poisson process (exponential inter-arrival times at
``accrual_per_month``); loss to follow-up is exponential with annual probability
``dropout_per_year`` (rate ``-ln(1 - p) / 12`` per month) and independent of outcome; the data
cut-off is ``data_cutoff_months`` after the first randomisation or, if not given, the last entry plus
``min_follow_up_months``. PFS is censored at the same time as OS (a lost patient is lost for both).

Trial-patient DataFrame (contract section 3): input columns plus
| column | dtype | meaning |
|---|---|---|
| arm | str | arm name |
| stratum | str | stratification cell, e.g. ``"mgmt_methylated=True|eloquent_location=False"``; ``"all"`` |
| entry_months | float64 | calendar time of randomisation since the first one |
and after :func:`apply_follow_up`
| pfs_months, os_months | float64 | observed time from randomisation (censored) |
| pfs_event, os_event | bool | True = event observed |
| censor_months | float64 | the censoring time (min of dropout and administrative) |
(``pfs_latent_months``/``os_latent_months`` are kept as given.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError, InputErrors
from mhtcdt.seeding import child_rng

# Stream keys so randomisation, accrual and follow-up draws never overlap.
_STREAM_BLOCKS, _STREAM_ACCRUAL, _STREAM_DROPOUT = 101, 102, 103


@dataclass(frozen=True)
class TrialDesign:
    """Design of a two- or multi-arm randomised trial (fields = the scenario's ``[trial]`` section).

    ``allocation``: arm name -> ratio weight (positive, finite; reduced to the smallest integer
    ratio, e.g. {A: 2, B: 1} or {A: 0.5, B: 0.5}). ``block_size`` must be a multiple of the sum of
    those integer weights. ``data_cutoff_months`` None = last entry + ``min_follow_up_months``.
    Extra scenario keys (``reference_arm``) are accepted and kept. Validation errors name fields
    relative to the ``[trial]`` section (``allocation.B``, ``block_size``...).
    """

    allocation: dict[str, float]
    stratify_by: list[str] = field(default_factory=list)
    block_size: int = 4
    accrual_per_month: float = 10.0
    min_follow_up_months: float = 12.0
    dropout_per_year: float = 0.0
    data_cutoff_months: float | None = None
    reference_arm: str | None = None

    def __post_init__(self) -> None:
        errors: list[InputError] = []
        alloc = self.allocation
        if not isinstance(alloc, dict) or len(alloc) < 2:
            errors.append(InputError("allocation", alloc, "need at least two arms with ratio weights"))
        else:
            for arm, w in alloc.items():
                if not (isinstance(w, (int, float)) and math.isfinite(w) and w > 0):
                    errors.append(InputError(f"allocation.{arm}", w, "ratio weight must be positive and finite"))
        if not errors:
            try:
                weights = integer_weights(alloc)
            except InputError as exc:
                errors.append(exc)
            else:
                total = sum(weights.values())
                if not isinstance(self.block_size, int) or self.block_size < 1 or self.block_size % total:
                    errors.append(
                        InputError(
                            "block_size",
                            self.block_size,
                            f"must be a positive multiple of {total}, the sum of the integer allocation "
                            f"ratio {':'.join(str(v) for v in weights.values())}",
                        )
                    )
        if not (
            isinstance(self.accrual_per_month, (int, float))
            and math.isfinite(self.accrual_per_month)
            and self.accrual_per_month > 0
        ):
            errors.append(InputError("accrual_per_month", self.accrual_per_month, "must be positive and finite"))
        if not (
            isinstance(self.min_follow_up_months, (int, float))
            and math.isfinite(self.min_follow_up_months)
            and self.min_follow_up_months > 0
        ):
            errors.append(InputError("min_follow_up_months", self.min_follow_up_months, "must be positive and finite"))
        if not (isinstance(self.dropout_per_year, (int, float)) and 0 <= self.dropout_per_year < 1):
            errors.append(InputError("dropout_per_year", self.dropout_per_year, "must be a probability in [0, 1)"))
        cut = self.data_cutoff_months
        if cut is not None and not (isinstance(cut, (int, float)) and math.isfinite(cut) and cut > 0):
            errors.append(InputError("data_cutoff_months", cut, "must be positive and finite (or omitted)"))
        if not isinstance(self.stratify_by, (list, tuple)) or not all(isinstance(s, str) for s in self.stratify_by):
            errors.append(InputError("stratify_by", self.stratify_by, "must be a list of cohort column names"))
        if self.reference_arm is not None and isinstance(alloc, dict) and self.reference_arm not in alloc:
            errors.append(InputError("reference_arm", self.reference_arm, f"not an arm of {list(alloc)}"))
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise InputErrors(errors)

    @property
    def arms(self) -> list[str]:
        return list(self.allocation)

    def block_arms(self) -> list[str]:
        """One block's arm labels (unshuffled): each arm repeated weight * block_size / sum(weights)."""
        weights = integer_weights(self.allocation)
        reps = self.block_size // sum(weights.values())
        return [arm for arm, w in weights.items() for _ in range(w * reps)]

    def expected_accrual_months(self, n_patients: int) -> float:
        """Expected time to randomise ``n_patients`` [months]."""
        return n_patients / self.accrual_per_month

    def check_follow_up(self, n_patients: int) -> None:
        """Raise InputError if a fixed data cut-off falls before the expected end of accrual."""
        if n_patients <= 0:
            raise InputError("eligible", n_patients, "no patients to randomise (zero left after selection)")
        accrual = self.expected_accrual_months(n_patients)
        if self.data_cutoff_months is not None and self.data_cutoff_months <= accrual:
            raise InputError(
                "trial.data_cutoff_months",
                self.data_cutoff_months,
                f"follow-up shorter than accrual: the cut-off is before accrual of {n_patients} patients at "
                f"{self.accrual_per_month:g}/month ends (about {accrual:.1f} months); late patients would "
                "have "
                "no follow-up. Give a later cut-off or omit it (= accrual + min_follow_up_months)",
            )


def integer_weights(allocation: dict[str, float]) -> dict[str, int]:
    """Smallest integer ratio equal to the allocation weights (e.g. 0.5:0.5 -> 1:1, 2:1 -> 2:1).

    Raises InputError when the weights are not a ratio of small integers (sum above 100).
    """
    fracs = {k: Fraction(float(v)).limit_denominator(1000) for k, v in allocation.items()}
    for k, v in allocation.items():
        if abs(float(fracs[k]) - float(v)) > 1e-9 * max(1.0, abs(v)):
            raise InputError(f"allocation.{k}", v, "ratio weights must be ratios of small integers, e.g. 1, 2, 0.5")
    den = reduce(math.lcm, (f.denominator for f in fracs.values()))
    ints = {k: int(f * den) for k, f in fracs.items()}
    g = reduce(math.gcd, ints.values())
    ints = {k: v // g for k, v in ints.items()}
    if sum(ints.values()) > 100:
        raise InputError("allocation", allocation, f"reduces to {ints}, whose sum exceeds 100; use a simpler ratio")
    return ints


def stratum_labels(df: pd.DataFrame, stratify_by: list[str]) -> np.ndarray:
    """Stratum label per row (object array of str)."""
    if not stratify_by:
        return np.full(len(df), "all", dtype=object)
    missing = [c for c in stratify_by if c not in df.columns]
    if missing:
        raise InputError("trial.stratify_by", missing, f"not cohort columns; available: {sorted(df.columns)[:40]}")
    parts = [c + "=" + df[c].astype(str).to_numpy(dtype=object) for c in stratify_by]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def block_assign(strata_codes: np.ndarray, block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permuted-block assignment within strata.

    ``strata_codes``: int codes per patient in arrival order; ``block``: the arm indices of one block.
    Returns the arm index per patient. Each stratum draws consecutive independently shuffled blocks.
    """
    n = len(strata_codes)
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    n_strata = int(strata_codes.max()) + 1
    for s in range(n_strata):
        idx = np.flatnonzero(strata_codes == s)
        if idx.size == 0:
            continue
        n_blocks = -(-idx.size // block.size)
        keys = rng.random((n_blocks, block.size))
        shuffled = np.take(block, np.argsort(keys, axis=1)).ravel()
        out[idx] = shuffled[: idx.size]
    return out


def randomise(eligible: pd.DataFrame, design: TrialDesign, seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Randomise eligible patients (rows in arrival order): adds ``arm``, ``stratum``, ``entry_months``."""
    if not isinstance(design, TrialDesign):
        raise InputError("design", type(design).__name__, "expected a TrialDesign")
    n = len(eligible)
    if n == 0:
        raise InputError(
            "eligible",
            0,
            "no patients left after selection: loosen the eligibility criteria or screen more patients",
        )
    strata = stratum_labels(eligible, list(design.stratify_by))
    codes, uniques = pd.factorize(pd.Series(strata), sort=True)
    arms = np.array(design.arms, dtype=object)
    block = np.array([design.arms.index(a) for a in design.block_arms()], dtype=np.int64)
    arm_idx = block_assign(np.asarray(codes, dtype=np.int64), block, child_rng(seed, _STREAM_BLOCKS))
    gaps = child_rng(seed, _STREAM_ACCRUAL).exponential(1.0 / design.accrual_per_month, size=n)
    gaps[0] = 0.0
    out = eligible.copy()
    out["arm"] = arms[arm_idx].astype(str)
    out["stratum"] = np.asarray(strata, dtype=str)
    out["entry_months"] = np.cumsum(gaps)
    return out


def data_cutoff(entry_months: np.ndarray, design: TrialDesign) -> float:
    """Calendar data cut-off [months since first randomisation]."""
    if design.data_cutoff_months is not None:
        return float(design.data_cutoff_months)
    return float(np.max(entry_months)) + design.min_follow_up_months


def apply_follow_up(df: pd.DataFrame, design: TrialDesign, seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Observed (censored) PFS and OS from latent times, entry times, dropout and the data cut-off.

    Needs ``entry_months``, ``pfs_latent_months``, ``os_latent_months``. Dropout draws are keyed by
    ``patient_id`` when present (row position otherwise).
    """
    need = [c for c in ("entry_months", "pfs_latent_months", "os_latent_months") if c not in df.columns]
    if need:
        raise InputError("trial", need, "missing columns: randomise() and simulate_outcomes() first")
    n = len(df)
    if n == 0:
        raise InputError("trial", 0, "no randomised patients")
    design.check_follow_up(n)
    entry = df["entry_months"].to_numpy(float)
    pfs_l = df["pfs_latent_months"].to_numpy(float)
    os_l = df["os_latent_months"].to_numpy(float)
    if np.any(~np.isfinite(os_l)) or np.any(os_l < 0) or np.any(pfs_l > os_l + 1e-12):
        raise InputError(
            "trial.os_latent_months",
            "non-finite/negative or PFS > OS",
            "latent times must be finite, >= 0, with PFS <= OS",
        )
    cutoff = data_cutoff(entry, design)
    if cutoff <= entry.max():
        raise InputError(
            "trial.data_cutoff_months",
            cutoff,
            f"follow-up shorter than accrual: the cut-off precedes the last randomisation at {entry.max():.1f} months",
        )
    admin = cutoff - entry
    rate = -math.log1p(-design.dropout_per_year) / 12.0 if design.dropout_per_year > 0 else 0.0
    if rate > 0:
        ids = df["patient_id"].to_numpy(np.int64) if "patient_id" in df.columns else np.arange(n)
        if len(np.unique(ids)) == n:  # keyed by patient: independent of row order and chunking
            drop = np.array([_keyed_exponential(seed, int(i)) for i in ids])
        else:
            drop = child_rng(seed, _STREAM_DROPOUT).standard_exponential(n)
        dropout = drop / rate
    else:
        dropout = np.full(n, np.inf)
    censor = np.minimum(admin, dropout)
    out = df.copy()
    out["censor_months"] = censor
    out["os_months"] = np.minimum(os_l, censor)
    out["os_event"] = os_l <= censor
    out["pfs_months"] = np.minimum(pfs_l, censor)
    out["pfs_event"] = pfs_l <= censor
    return out


def _keyed_exponential(seed: int | np.random.SeedSequence, patient_id: int) -> float:
    return float(child_rng(seed, _STREAM_DROPOUT, patient_id).standard_exponential())
