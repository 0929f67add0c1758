"""Order statistics and binary search on raw arrays: the median (PyTorch's lower median)
and ``searchsorted``.

``Tensor.median()`` of all elements is the Function :class:`Median`; ``Tensor.median(dim)``
picks :func:`median_indices` and gathers the values there (so the gradient goes to that
element, as PyTorch's). ``searchsorted`` and ``bucketize`` return indices: no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module

__all__ = ["Median", "median_indices", "search_sorted"]


class Median(Function):
    """y = the lower median of all n elements of x: the ((n − 1) // 2)-th smallest (for even
    n the smaller of the two middle values, not their mean, as PyTorch); NaN if x holds a
    NaN or nothing.

    dy/dx: the gradient is shared evenly by the elements equal to y (the NaNs if y is NaN),
    as PyTorch's; 0 elsewhere.
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        flat = x.reshape(-1)
        if flat.size == 0 or (flat.dtype.kind == "f" and bool(xp.isnan(flat).any())):
            if x.dtype.kind != "f":
                raise TinyLMError(f"median: cannot take the median of an empty {x.dtype} tensor")
            y = xp.asarray(np.nan, dtype=x.dtype)
        else:
            y = xp.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2]
            y = xp.asarray(y, dtype=x.dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, y = ctx.saved_arrays
        xp = array_module(x)
        picked = (x == y) | (xp.isnan(x) & xp.isnan(y))
        return g * picked / max(int(picked.sum()), 1)


def median_indices(x: Any, axis: int) -> Any:
    """Where along ``axis`` each lane of ``x`` has its lower median (shape: x's with ``axis``
    of size 1, int64): the ((n − 1) // 2)-th position of a stable sort, or the first NaN of a
    lane that holds one (its median is NaN, as in PyTorch)."""
    xp = array_module(x)
    n = x.shape[axis]
    order = xp.argsort(x, axis=axis, kind="stable")  # NaNs sort last
    index = xp.take(order, [(n - 1) // 2], axis=axis)
    if x.dtype.kind == "f":
        nans = xp.isnan(x)
        has_nan = nans.any(axis=axis, keepdims=True)
        index = xp.where(has_nan, nans.argmax(axis=axis, keepdims=True), index)
    return index.astype(np.int64)


def search_sorted(sequence: Any, values: Any, side: str, sorter: Any = None) -> Any:
    """For each of ``values``, the index at which it would be inserted into ``sequence`` to
    keep it sorted: the first such place (``side="left"``: sequence[i-1] < v <= sequence[i])
    or the last (``"right"``: sequence[i-1] <= v < sequence[i]). ``sequence`` is 1-D, or
    (*, m) with ``values`` (*, k): one sorted row per leading index. ``sorter`` (sequence's
    shape) holds the indices that sort an unsorted ``sequence``. Returns int64, values'
    shape."""
    xp = array_module(sequence)
    if sorter is not None:
        sequence = xp.take_along_axis(sequence, sorter, axis=-1)
    if sequence.ndim == 1:
        return xp.searchsorted(sequence, values, side=side).astype(np.int64)
    rows = sequence.reshape(-1, sequence.shape[-1])
    lanes = values.reshape(rows.shape[0], -1)
    out = xp.stack([xp.searchsorted(r, v, side=side) for r, v in zip(rows, lanes)])
    return out.reshape(values.shape).astype(np.int64)
