"""A PSA in blocks of draws: sample, build and run the model for one block at a time.

``run_in_blocks(model, n_draws)`` calls ``model(start, stop)`` for consecutive blocks of draws and writes
each block's :class:`~mhtcdt.economics.results.DrawResults` into arrays allocated once for all draws, so
the memory a PSA needs beyond its results is that of one block, whatever the number of draws, and its
cost per draw stays flat. ``model`` typically samples its parameters with
:func:`~mhtcdt.economics.psa.sample_psa` ``(..., n_draws=stop - start, start=start)`` (draws do not depend
on the blocks), builds the model objects and returns ``run_markov(...).draws`` or
``run_partitioned_survival(...)``. The default block is ``psa.BLOCK_SIZE`` draws, the block of the keyed
random streams: a block that starts inside a stream block would draw that block's prefix again.

The result equals one call over all draws (each draw's numbers are computed by the same elementwise
operations; tested to 1e-12).

A model with a parameter named ``out``, ``model(start, stop, out=None)``, is given from the second block on
the rows ``start .. stop - 1`` of the whole-run arrays by column name (``cost``, ..., ``cost_<category>``,
and the extras' names) and passes them to ``run_markov(..., out=out)``: the engine writes its results there
and no block is copied (a copy of every column per block, and a second set of result arrays per block,
measured at 5-7 % of a 100,000-draw HIV PSA). Columns returned elsewhere are copied as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from mhtcdt.economics.psa import BLOCK_SIZE
from mhtcdt.economics.results import RESULT_COLUMNS, DrawResults
from mhtcdt.errors import InputError

BlockModel = Callable[[int, int], DrawResults]


def _check_block(res: DrawResults, first: DrawResults, start: int, stop: int) -> None:
    if not isinstance(res, DrawResults):
        raise InputError(f"model({start}, {stop})", type(res).__name__, "must return DrawResults")
    if res.n_draws != stop - start or list(res.strategies) != list(first.strategies):
        raise InputError(
            f"model({start}, {stop})",
            (res.n_draws, list(res.strategies)),
            f"must return {stop - start} draws of the strategies {list(first.strategies)}",
        )
    if set(res.cost_by_category) != set(first.cost_by_category) or set(res.extra) != set(first.extra):
        raise InputError(f"model({start}, {stop})", sorted(res.cost_by_category), "columns differ from block 0")


class _Column:
    """One (D, strategies) output assembled from blocks: a read-only view of one row while every block
    gives the same row for all its draws (a zero-stride view, e.g. a one-off cost), else an array."""

    def __init__(self, n_draws: int, first: np.ndarray) -> None:
        self.n_draws = n_draws
        self.row = np.array(first[0], copy=True) if first.strides[0] == 0 else None
        self.full = None if self.row is not None else np.empty((n_draws,) + first.shape[1:])

    def destination(self, a: int, b: int) -> np.ndarray | None:
        """Rows a:b of the whole-run array (None while the column is one constant row)."""
        return None if self.full is None else self.full[a:b]

    def put(self, a: int, b: int, arr: np.ndarray) -> None:
        if self.full is not None and _same_view(arr, self.full, a):
            return  # written in place by the model (``out``)
        if self.row is not None:
            if arr.strides[0] == 0 and np.array_equal(arr[0], self.row):
                return
            self.full = np.empty((self.n_draws,) + self.row.shape)
            self.full[:a] = self.row
            self.row = None
        self.full[a:b] = arr

    def value(self) -> np.ndarray:
        return self.full if self.row is None else np.broadcast_to(self.row, (self.n_draws,) + self.row.shape)


def _same_view(arr: np.ndarray, full: np.ndarray, a: int) -> bool:
    """True if ``arr`` is the view of rows a: of ``full`` (same memory, strides and dtype)."""
    return (
        isinstance(arr, np.ndarray)
        and arr.dtype == full.dtype
        and arr.strides == full.strides
        and arr.__array_interface__["data"][0] == full[a:].__array_interface__["data"][0]
    )


def _takes_out(model: BlockModel) -> bool:
    try:
        return "out" in inspect.signature(model).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


def run_in_blocks(model: BlockModel, n_draws: int, block_draws: int = BLOCK_SIZE) -> DrawResults:
    """The DrawResults of draws 0 .. n_draws - 1 from ``model(start, stop)`` called block by block.

    Parameters
    ----------
    model:
        ``model(start, stop) -> DrawResults`` of draws ``start .. stop - 1`` (same strategies and
        columns for every block).
    n_draws:
        Total number of draws D.
    block_draws:
        Draws per call (default ``psa.BLOCK_SIZE`` = 65,536; a multiple of it keeps the sampling of
        keyed streams free of repeated prefixes).
    """
    if int(n_draws) != n_draws or n_draws < 1:
        raise InputError("n_draws", n_draws, "must be an integer >= 1")
    if int(block_draws) != block_draws or block_draws < 1:
        raise InputError("block_draws", block_draws, "must be an integer >= 1")
    n_draws, block_draws = int(n_draws), int(block_draws)
    first: DrawResults | None = None
    columns: dict[str, _Column] = {}
    categories: dict[str, _Column] = {}
    extra: dict[str, _Column] = {}
    takes_out = False  # learnt after the first block (a one-block run does not inspect the model)
    for a in range(0, n_draws, block_draws):
        b = min(n_draws, a + block_draws)
        if first is not None and takes_out:
            named = {**columns, **{f"cost_{k}": c for k, c in categories.items()}, **extra}
            out = {k: dest for k, col in named.items() if (dest := col.destination(a, b)) is not None}
            res = model(a, b, out=out)
        else:
            res = model(a, b)
        if first is None:
            if not isinstance(res, DrawResults):
                raise InputError(f"model({a}, {b})", type(res).__name__, "must return DrawResults")
            first = res
            if b == n_draws:  # one block: its results are the results
                _check_block(res, first, a, b)
                return res
            takes_out = _takes_out(model)
            columns = {k: _Column(n_draws, getattr(res, k)) for k in RESULT_COLUMNS[1:]}
            categories = {k: _Column(n_draws, v) for k, v in res.cost_by_category.items()}
            extra = {k: _Column(n_draws, v) for k, v in res.extra.items()}
        _check_block(res, first, a, b)
        for k, col in columns.items():
            col.put(a, b, getattr(res, k))
        for k, col in categories.items():
            col.put(a, b, res.cost_by_category[k])
        for k, col in extra.items():
            col.put(a, b, res.extra[k])
    assert first is not None
    return DrawResults(
        strategies=list(first.strategies),
        **{k: col.value() for k, col in columns.items()},
        cost_by_category={k: col.value() for k, col in categories.items()},
        extra={k: col.value() for k, col in extra.items()},
        attrs=dict(first.attrs),
    )
