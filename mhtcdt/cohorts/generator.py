"""Virtual cohorts: seeded Gaussian-copula sampling of an indication's covariates.

``generate_cohort(indication, n, seed, start=0)`` returns one row per virtual patient, rows
``start .. start + n - 1`` of an endless, seeded stream of patients.

Method
------
1. Latent scores. Patients are grouped in fixed blocks of ``BLOCK_SIZE`` consecutive indices.
   Block ``k`` draws an i.i.d. standard-normal matrix ``E_k`` (``d x BLOCK_SIZE``) from
   ``Generator(PCG64(SeedSequence(entropy, spawn_key=(*root.spawn_key, STREAM_TAG, crc32(indication), k))))``
   (the tag and the indication key keep this stream apart from other layers' and other indications').
   Only the rows a call needs are kept, so ``generate_cohort(n=10, start=5)`` equals rows 5..14
   of ``generate_cohort(n=20)`` (chunk invariance), whatever the chunking.
2. Copula. ``Z = L E`` with ``L`` the Cholesky factor of the documented latent correlation
   matrix ``R`` (indication file, ``[[correlations]]``), so each row of ``Z`` is N(0, R).
3. Marginals. Column ``j`` becomes ``F_j^-1(Phi(Z_j))`` (see :mod:`mhtcdt.cohorts.marginals`);
   conditional marginals (``by = "sex"``) use the parameters of the patient's level.
4. Derived columns: ``tumour_radius_cm = (3 V / 4 pi)^(1/3)``, ``body_radius_cm = C / (2 pi)``
   from the body (head/pelvis/abdomen) circumference ``C``, ``ecog`` from ``kps``
   (Buccheri 1996 conversion), constant ``indication`` and ``tissue``.

Returned DataFrame (contract section 1; units in names)
-------------------------------------------------------
| column | dtype | meaning |
|---|---|---|
| patient_id | int64 | global index in the seeded stream |
| indication | category | indication name (categories: every known indication) |
| age_years | float64 | age at study entry, years |
| sex | category | "female" / "male" |
| kps | int64 | Karnofsky performance status, 10..100 step 10 |
| ecog | int64 | ECOG from KPS (Buccheri 1996 table); ECOG indications draw KPS from their ECOG mix |
| tumour_volume_cm3 | float64 | tumour volume, cm3 |
| tumour_radius_cm | float64 | radius of the volume-equivalent sphere, cm |
| eloquent_location | bool | eloquent / deep / critical location |
| months_since_diagnosis | float64 | months from primary diagnosis to study entry |
| mgmt_methylated | bool | MGMT promoter methylation (glioblastoma; False elsewhere) |
| tumour_perfusion_mL_per_min_per_kg | float64 | tumour blood perfusion at 37 C |
| h2o2_production_uM_per_s | float64 | intracellular H2O2 production flux, uM/s |
| gsh_mM | float64 | intracellular glutathione, mM |
| ph_extracellular | float64 | tumour extracellular pH |
| deposit_coverage_fraction | float64 | fraction of tumour volume reached by the deposit, (0, 1] |
| metal_implant | bool | metal implant near the field (MHT contraindication) |
| pacemaker | bool | pacemaker (MHT contraindication) |
| tissue | object (str) | surrounding healthy tissue name ("brain", "prostate", "pancreas") |
| body_radius_cm | float64 | radius of the body region in the applicator, cm |
followed by the indication's extra variables in file order (e.g. ``recurrence_number`` int64,
``prior_radiotherapy`` bool, ``psa_ng_per_mL`` float64, ``gleason_grade_group`` int64,
``ca19_9_U_per_mL`` float64, ``body_circumference_cm`` float64; see each indication file).
"""

from __future__ import annotations

import math
import numbers
import zlib

import numpy as np
import pandas as pd

from mhtcdt.cohorts.marginals import kps_to_ecog
from mhtcdt.cohorts.spec import IndicationSpec, known_indications, load_indication
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng, root_sequence

#: Patients per random-number block (a block is the unit of the keyed random stream).
BLOCK_SIZE = 4096
#: Spawn-key tag that separates the cohort stream from other layers' streams under the same seed.
STREAM_TAG = 0x434F48  # "COH"

CONTRACT_COLUMNS = (
    "patient_id",
    "indication",
    "age_years",
    "sex",
    "kps",
    "ecog",
    "tumour_volume_cm3",
    "tumour_radius_cm",
    "eloquent_location",
    "months_since_diagnosis",
    "mgmt_methylated",
    "tumour_perfusion_mL_per_min_per_kg",
    "h2o2_production_uM_per_s",
    "gsh_mM",
    "ph_extracellular",
    "deposit_coverage_fraction",
    "metal_implant",
    "pacemaker",
    "tissue",
    "body_radius_cm",
)
#: Contract columns the generator fills itself: identity, values derived from sampled variables, and
#: ``mgmt_methylated`` (optional: False where an indication does not define it).
FILLED_COLUMNS = frozenset(
    {"patient_id", "indication", "ecog", "tumour_radius_cm", "tissue", "body_radius_cm", "mgmt_methylated"}
)
#: Variables every indication file must define: the rest of the contract columns.
REQUIRED_VARIABLES = tuple(c for c in CONTRACT_COLUMNS if c not in FILLED_COLUMNS)


def latent_scores(spec: IndicationSpec, n: int, root: np.random.SeedSequence, start: int = 0) -> np.ndarray:
    """Correlated N(0, R) latent scores for patients ``start .. start + n - 1``.

    Returns an ``n x d`` array whose columns are contiguous in memory (the transpose of a
    ``d x n`` array), so each covariate's scores are read without copying.
    """
    d = len(spec.variables)
    z = np.empty((d, n))
    if n == 0:
        return z.T
    indication_key = zlib.crc32(spec.name.encode())
    first_block, last_block = start // BLOCK_SIZE, (start + n - 1) // BLOCK_SIZE
    for block in range(first_block, last_block + 1):
        block_start = block * BLOCK_SIZE
        lo = max(start, block_start) - block_start
        hi = min(start + n, block_start + BLOCK_SIZE) - block_start
        eps = child_rng(root, STREAM_TAG, indication_key, block).standard_normal((d, BLOCK_SIZE))
        z[:, block_start + lo - start : block_start + hi - start] = eps[:, lo:hi]
    _correlate_in_place(z, spec.cholesky)
    return z.T


def _correlate_in_place(z: np.ndarray, chol: np.ndarray) -> None:
    """z <- L z for lower-triangular L, row by row from the last (row j reads rows k <= j only).

    Written with numpy axpy on the non-zero entries of the (sparse) Cholesky factor instead of a
    BLAS matrix product: identical result up to rounding order, no thread start-up per call, and
    no d x n temporary (the generator's peak memory stays at one latent array).
    """
    for j in range(z.shape[0] - 1, -1, -1):
        off = [k for k in range(j) if chol[j, k] != 0.0]
        if not off and chol[j, j] == 1.0:
            continue
        row = z[j]
        row *= chol[j, j]
        for k in off:
            row += chol[j, k] * z[k]


def generate_cohort(indication: str, n: int, seed: int | np.random.SeedSequence, start: int = 0) -> pd.DataFrame:
    """Generate ``n`` virtual patients of ``indication`` (rows ``start .. start + n - 1`` of the stream).

    Parameters
    ----------
    indication:
        One of :func:`mhtcdt.cohorts.known_indications` ("recurrent_glioblastoma", "prostate", "pancreas").
    n:
        Number of patients (>= 0).
    seed:
        Non-negative int or ``numpy.random.SeedSequence``; same seed, same patients.
    start:
        Global index of the first patient (>= 0); ``patient_id`` runs from ``start``.

    Returns
    -------
    DataFrame with the columns documented in this module's docstring.
    """
    spec = load_indication(indication)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise InputError("n", n, "cohort size must be a non-negative integer")
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise InputError("start", start, "first patient index must be a non-negative integer")
    n, start = int(n), int(start)
    root = root_sequence(seed)
    missing = [v for v in REQUIRED_VARIABLES if v not in spec.variable_names]
    if missing:
        raise InputError(f"indication[{indication}]", missing, "indication file lacks required variables")

    z = latent_scores(spec, n, root, start)
    values: dict[str, np.ndarray] = {}
    for j, var in enumerate(spec.variables):
        values[var.name] = var.from_latent(z[:, j], values)
    del z
    return _assemble(spec, values, n, start)


def _assemble(spec: IndicationSpec, values: dict[str, np.ndarray], n: int, start: int) -> pd.DataFrame:
    kps = values["kps"].astype(np.int64)
    volume = values["tumour_volume_cm3"].astype(np.float64)
    derived: dict[str, object] = {
        "patient_id": np.arange(start, start + n, dtype=np.int64),
        # all known indications as categories, so "indication == 'prostate'" is valid on any cohort
        "indication": pd.Categorical.from_codes(
            np.full(n, known_indications().index(spec.name), dtype=np.int8), categories=known_indications()
        ),
        "sex": pd.Categorical(values["sex"], categories=["female", "male"]),
        "kps": kps,
        "ecog": values["ecog"].astype(np.int64) if "ecog" in values else kps_to_ecog(kps),
        "tumour_radius_cm": np.cbrt(3.0 * volume / (4.0 * math.pi)),
        "mgmt_methylated": values.get("mgmt_methylated", np.zeros(n, dtype=bool)).astype(bool),
        "tissue": np.full(n, spec.tissue, dtype=object),
        "body_radius_cm": values[spec.body_radius_from].astype(np.float64) / (2.0 * math.pi),
    }
    columns: dict[str, object] = {}
    for name in CONTRACT_COLUMNS:
        columns[name] = derived[name] if name in derived else values[name]
    for var in spec.variables:
        if var.name not in columns:
            columns[var.name] = values[var.name]
    return pd.DataFrame(columns, copy=False)
