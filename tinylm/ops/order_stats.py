"""Order statistics, running extremes and counting on raw arrays: what ``kthvalue``, ``mode``,
``nanmedian``, ``cummax``/``cummin``, ``quantile``, ``logcumsumexp``, ``unique_consecutive``,
``histc`` and ``histogram`` compute (their wrappers: ``tinylm/tensor_stats.py``).

The selections (k-th value, mode, median, running max, the two neighbours a quantile
interpolates between) are found here as int64 indices; the wrappers gather the values at
them, so the gradient goes to the picked element, as PyTorch's. The two new derivatives are
:class:`NanMedian` (inherits :class:`~tinylm.ops.order.Median`'s) and :class:`LogCumSumExp`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.ops.order import Median
from tinylm.ops.reductions import c_order

__all__ = [
    "LogCumSumExp",
    "NanMedian",
    "bin_counts",
    "cumulative_extreme_indices",
    "kth_indices",
    "linspace_edges",
    "mode_indices",
    "nanmedian_indices",
    "quantile_positions",
    "unique_consecutive_arrays",
]


def kth_indices(x: Any, k: int, axis: int) -> Any:
    """Where along ``axis`` each lane of ``x`` has its k-th smallest element (k from 1), NaN
    counting as the largest value: the (k − 1)-th place of a stable sort (shape: x's with
    ``axis`` of size 1, int64)."""
    order = array_module(x).argsort(x, axis=axis, kind="stable")  # NaNs sort last
    return array_module(x).take(order, [k - 1], axis=axis).astype(np.int64)


def nanmedian_indices(x: Any, axis: int) -> Any:
    """Where each lane's lower median of its non-NaN elements is: the ((m − 1) // 2)-th
    place of a stable sort, m the number of non-NaNs (the first place when all are NaN: the
    median is NaN). Shape: x's with ``axis`` of size 1, int64."""
    xp = array_module(x)
    order = xp.argsort(x, axis=axis, kind="stable")  # NaNs sort last
    valid = x.shape[axis]
    if x.dtype.kind == "f":
        valid = (~xp.isnan(x)).sum(axis=axis, keepdims=True)
    place = xp.maximum((valid - 1) // 2, 0)
    place = xp.broadcast_to(place, order.shape[:axis] + (1,) + order.shape[axis + 1 :])
    return xp.take_along_axis(order, place, axis=axis).astype(np.int64)


class NanMedian(Median):
    """y = the lower median of the non-NaN elements of x (the ((m − 1) // 2)-th smallest of
    those m); NaN when all are NaN or there are none.

    dy/dx: :class:`~tinylm.ops.order.Median`'s — g shared evenly by the elements equal to y
    (the NaNs when y is NaN), as PyTorch's.
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        flat = x.reshape(-1)
        if flat.dtype.kind == "f":
            flat = flat[~xp.isnan(flat)]
        if flat.size == 0:
            if x.dtype.kind != "f":
                raise TinyLMError(f"nanmedian: cannot take the median of an empty {x.dtype} tensor")
            y = xp.asarray(np.nan, dtype=x.dtype)
        else:
            y = xp.asarray(xp.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2])
        y = y.astype(x.dtype)
        ctx.save_for_backward(x, y)
        return y


def mode_indices(x: Any, axis: int) -> Any:
    """Where each lane's mode is: its most frequent value (the smallest of several equally
    frequent), at that value's last place, as PyTorch's. Shape: x's with ``axis`` of size
    1, int64. One lane at a time."""
    xp = array_module(x)
    lanes = xp.moveaxis(x, axis, -1)
    rows = lanes.reshape(-1, lanes.shape[-1])
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(np.asarray(rows)):
        values, counts = np.unique(row, return_counts=True)  # ascending values
        value = values[int(np.argmax(counts))]  # the first (smallest) of the most frequent
        same = (row == value) | (
            np.isnan(row) & np.isnan(value) if row.dtype.kind == "f" else False
        )
        out[r] = int(np.flatnonzero(same)[-1])
    index = xp.asarray(out).reshape(lanes.shape[:-1] + (1,))
    return xp.moveaxis(index, -1, axis)


def cumulative_extreme_indices(x: Any, axis: int, largest: bool) -> Any:
    """For each place i along ``axis``, where the running maximum (``largest``) or minimum of
    x_0 … x_i is: a later element equal to it takes its place (PyTorch's ``>=``), and so
    does a NaN, which then stays the extreme (a later NaN takes over). int64, x's shape.
    A loop over the axis, each step vectorised over the other axes."""
    xp = array_module(x)
    xs = xp.moveaxis(x, axis, 0)
    out = xp.zeros(xs.shape, dtype=np.int64)
    if xs.shape[0] == 0:
        return xp.moveaxis(out, 0, axis)
    best, where = xs[0].copy(), xp.zeros(xs.shape[1:], dtype=np.int64)
    floats = x.dtype.kind == "f"
    for i in range(1, xs.shape[0]):
        v = xs[i]
        better = (v >= best) if largest else (v <= best)
        if floats:
            better = xp.isnan(v) | (~xp.isnan(best) & better)
        best = xp.where(better, v, best)
        where = xp.where(better, i, where)
        out[i] = where
    return xp.moveaxis(out, 0, axis)


class LogCumSumExp(Function):
    """y_i = log(e^(x_0) + … + e^(x_i)) along ``axis``: each step log-adds the next element,
    m + log1p(e^(−|a − b|)) with m = max(a, b), so nothing overflows (x = 1000 gives 1000).

    dy_i/dx_k = e^(x_k − y_i) for i ≥ k, so dL/dx_k = Σ_{i≥k} g_i e^(x_k − y_i). To stay finite
    for large x, the positive and negative parts of g are summed apart in log space:
    dL/dx_k = e^(x_k + R⁺_k) − e^(x_k + R⁻_k), R^±_k = log Σ_{i≥k} e^(log g^±_i − y_i) (a
    log-cumsum-exp from the end; log 0 taken as the dtype's lowest number, as PyTorch).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int) -> Any:
        if x.dtype.kind != "f":
            raise TinyLMError(
                f"logcumsumexp: needs a floating-point tensor, got {x.dtype}, as in PyTorch"
            )
        ctx.axis = axis
        y = c_order(np.logaddexp.accumulate(x, axis=axis) if x.shape[axis] else x.copy())
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, y = ctx.saved_arrays
        a = ctx.axis
        if x.shape[a] == 0:
            return np.zeros(x.shape, dtype=g.dtype)
        lowest = np.finfo(g.dtype).min
        with np.errstate(divide="ignore"):
            log_abs = np.log(np.abs(g))

        def from_the_end(v: Any) -> Any:
            return np.flip(np.logaddexp.accumulate(np.flip(v, a), axis=a), a)

        with np.errstate(over="ignore", invalid="ignore"):
            parts = [
                np.exp(from_the_end(np.where(sign * g > 0, log_abs, lowest) - y) + x)
                for sign in (1, -1)
            ]
        return parts[0] - parts[1]


def quantile_positions(sorted_x: Any, q: Any, interpolation: str, ignore_nan: bool) -> Any:
    """PyTorch's quantile of each lane of ``sorted_x`` (sorted along its last axis, NaNs
    last) at each of the probabilities ``q`` (1-D, in sorted_x's dtype), as positions in the
    lane: ``(below, above, weights)``, each of shape (*lanes, len(q)); the quantile is
    sorted[below] + weights · (sorted[above] − sorted[below]) ("linear", "midpoint"), or
    sorted[below] alone (above and weights None) for "lower", "higher", "nearest".

    The rank is q · (n − 1), n the lane's size or (``ignore_nan``) its number of non-NaNs:
    "lower" takes its floor, "higher" its ceiling, "nearest" rounds it half to even,
    "linear" weighs floor and ceiling by the fraction, "midpoint" by ½ each. A lane with a
    NaN points at its last place, one of nothing but NaNs (``ignore_nan``) at its first:
    NaN either way, the gradient going where PyTorch's goes."""
    xp = array_module(sorted_x)
    n = sorted_x.shape[-1]
    nans = xp.isnan(sorted_x)
    if ignore_nan:
        count = (~nans).sum(axis=-1, keepdims=True)
        ranks = q * (count - 1).astype(sorted_x.dtype)
        ranks = xp.where(ranks < 0, 0, ranks)  # nothing but NaNs: the first, a NaN
    else:
        ranks = xp.broadcast_to(q * sorted_x.dtype.type(n - 1), sorted_x.shape[:-1] + q.shape)
        ranks = xp.where(nans.any(axis=-1, keepdims=True), n - 1, ranks)
    ranks = ranks.astype(sorted_x.dtype)
    rounding = {"lower": xp.floor, "higher": xp.ceil, "nearest": xp.round}.get(interpolation)
    if rounding is not None:
        return rounding(ranks).astype(np.int64), None, None
    below = xp.floor(ranks)
    weights = xp.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
    return below.astype(np.int64), xp.ceil(ranks).astype(np.int64), weights


def unique_consecutive_arrays(x: Any, axis: int | None) -> tuple[Any, Any, Any]:
    """The first element of each run of equal consecutive elements (of the flattened ``x``,
    or of the slices along ``axis``), which run each element belongs to (x's shape, or
    (x.shape[axis],)), and each run's length: ``(values, inverse, counts)``. NaN equals
    nothing, so each NaN is a run of its own, as in PyTorch."""
    xp = array_module(x)
    moved = x.reshape(-1) if axis is None else xp.moveaxis(x, axis, 0)
    n = moved.shape[0]
    differs = moved[1:] != moved[:-1]
    if axis is not None:
        differs = differs.reshape(max(n - 1, 0), -1).any(axis=1)
    starts = xp.concatenate([xp.ones(min(n, 1), dtype=bool), differs])
    values = moved[starts]
    inverse = (xp.cumsum(starts) - 1).astype(np.int64)
    counts = xp.diff(xp.append(xp.flatnonzero(starts), n)).astype(np.int64)
    if axis is None:
        return values, inverse.reshape(x.shape), counts
    return xp.moveaxis(values, 0, axis), inverse, counts


def linspace_edges(low: float, high: float, steps: int, dtype: Any) -> np.ndarray:
    """``steps`` evenly spaced values from ``low`` to ``high``, computed in ``dtype`` as
    PyTorch's ``linspace``: the first half as low + i · step, the second as
    high − (steps − 1 − i) · step, so both ends are exact."""
    dtype = np.dtype(dtype)
    lo, hi = dtype.type(low), dtype.type(high)
    i = np.arange(steps)
    if steps == 1:
        return np.asarray([lo], dtype=dtype)
    step = (hi - lo) / dtype.type(steps - 1)
    out = np.where(
        i < steps // 2, lo + step * i.astype(dtype), hi - step * (steps - 1 - i).astype(dtype)
    )
    return out.astype(dtype)


def bin_counts(values: Any, edges: Any, weights: Any, linear: bool) -> Any:
    """How many of ``values`` (1-D; or the sum of their ``weights``) fall into each bin
    [edges_j, edges_{j+1}) (the last bin closed; values outside, and NaNs, left out), in
    values' dtype. ``linear`` (evenly spaced edges, ``histc``): the bin is
    ⌊(v − e_0) · bins / (e_last − e_0)⌋, as PyTorch computes it; else a binary search."""
    bins = edges.shape[0] - 1
    lo, hi = edges[0], edges[-1]
    keep = (values >= lo) & (values <= hi)
    v = values[keep]
    if linear:
        where = ((v - lo) * values.dtype.type(bins) / (hi - lo)).astype(np.int64)
    else:
        where = np.searchsorted(edges, v, side="right") - 1
    where = np.minimum(where, bins - 1)
    w = None if weights is None else weights[keep]
    return np.bincount(where, weights=w, minlength=bins).astype(values.dtype)
