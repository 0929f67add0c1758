"""PyTorch's ``tril_indices`` and ``triu_indices``: the coordinates of a triangle of a
(row, col) matrix, made without an input tensor (so here, beside ``tinylm.tensor``, and not
in ``tinylm/tensor_selecting.py``, which the Tensor class itself imports).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import normalize_device, to_device_array
from tinylm.dtypes import int32, int64
from tinylm.tensor import Tensor

__all__ = ["tril_indices", "triu_indices"]


def _triangle(
    op: str, row: Any, col: Any, offset: Any, dtype: Any, device: Any, layout: Any
) -> Tensor:
    for name, value in (("row", row), ("col", col), ("offset", offset)):
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if row < 0 or col < 0:
        raise TinyLMError(f"{op}: row and col must be non-negative, got row={row}, col={col}")
    kind = np.dtype(int64 if dtype is None else dtype)
    if kind not in (int32, int64):
        raise TinyLMError(f"{op}: only int32 and int64 indices are supported, got dtype {kind}")
    if layout is not None and str(layout) not in ("torch.strided", "strided"):
        raise TinyLMError(f"{op}: only the strided layout is supported, got {layout!r}")
    pick = np.tril_indices if op == "tril_indices" else np.triu_indices
    rows, cols = pick(int(row), int(offset), int(col))
    array = np.stack([rows, cols]).astype(kind).reshape(2, -1)
    return Tensor(to_device_array(array, normalize_device(device or "cpu")))


def tril_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, layout=None
) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a (row, col) matrix: the entries
    (i, j) with j ≤ i + offset, row by row, first the row indices, then the column indices
    (int64 unless ``dtype`` is int32); ``x[tuple(tril_indices(n, n))]`` picks them."""
    return _triangle("tril_indices", row, col, offset, dtype, device, layout)


def triu_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, layout=None
) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a (row, col) matrix: the entries
    (i, j) with j ≥ i + offset, row by row (int64 unless ``dtype`` is int32)."""
    return _triangle("triu_indices", row, col, offset, dtype, device, layout)
