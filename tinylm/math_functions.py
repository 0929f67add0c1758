"""PyTorch's function forms of more math, reductions and searches: ``tinylm.hypot(a, b)``
is ``a.hypot(b)``, with ``torch.``'s signatures. The Tensor methods are in
``tinylm/tensor_math.py``, their Functions in ``tinylm/ops/pointwise.py``,
``ops/order.py`` and ``ops/norms.py``; ``searchsorted`` and ``bucketize`` (indices, no
gradient) are here, on ``ops.order.search_sorted``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.ops import order
from tinylm.tensor import Tensor
from tinylm.tensor_math import as_operand

__all__ = [
    "arctan2",
    "atan2",
    "bitwise_not",
    "bucketize",
    "fmod",
    "frac",
    "hypot",
    "isclose",
    "lerp",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "median",
    "nanmean",
    "nansum",
    "norm",
    "reciprocal",
    "searchsorted",
    "std_mean",
    "trunc",
    "var_mean",
]


def _no_out(op: str, out: Any) -> None:
    if out is not None:
        raise TinyLMError(f"{op}: out= is not supported; use the returned tensor")


def norm(
    input: Tensor,  # noqa: A002 - PyTorch's name
    p: Any = "fro",
    dim: Any = None,
    keepdim: bool = False,
    out: Any = None,
    dtype: Any = None,
) -> Tensor:
    """``torch.norm``: see :meth:`Tensor.norm` and ``tinylm.linalg``."""
    _no_out("norm", out)
    return input.norm(p, dim, keepdim, dtype)


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:  # noqa: A002
    """input + weight·(end − input)."""
    return input.lerp(end, weight)


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return input.reciprocal()


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    return input.trunc()


def frac(input: Tensor) -> Tensor:  # noqa: A002
    return input.frac()


def fmod(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """The remainder of input / other with input's sign (see :meth:`Tensor.fmod`)."""
    return input.fmod(other)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.logaddexp(other)


def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.atan2(other)


arctan2 = atan2


def hypot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.hypot(other)


def logical_and(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.logical_and(other)


def logical_or(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.logical_or(other)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.logical_xor(other)


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    return input.logical_not()


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    return input.bitwise_not()


def nansum(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,  # noqa: A002
) -> Tensor:
    return input.nansum(dim, keepdim, dtype)


def nanmean(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,  # noqa: A002
) -> Tensor:
    return input.nanmean(dim, keepdim, dtype=dtype)


def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median, or ``(values, indices)`` along ``dim`` (see :meth:`Tensor.median`)."""
    return input.median(dim, keepdim)


def _moments(
    op: str,
    input: Tensor,
    dim: Any,
    unbiased: Any,
    keepdim: bool,
    correction: Any,  # noqa: A002
) -> tuple[Tensor, Tensor]:
    spread = getattr(input, op)(dim, unbiased, keepdim, correction=correction)
    if isinstance(dim, bool):  # the (input, unbiased) form
        dim = None
    if dim is None and keepdim:
        dim = tuple(range(input.ndim))
    return spread, input.mean(dim=dim, keepdim=keepdim)


def var_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim``, with :meth:`Tensor.var`'s ``unbiased``/``correction``."""
    return _moments("var", input, dim, unbiased, keepdim, correction)


def std_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim``, with :meth:`Tensor.std`'s ``unbiased``/``correction``."""
    return _moments("std", input, dim, unbiased, keepdim, correction)


def isclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """Element-wise |input − other| ≤ atol + rtol·|other|: a bool tensor."""
    return input.isclose(other, rtol, atol, equal_nan)


def searchsorted(
    sorted_sequence: Tensor,
    values: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    out: Any = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """For each of ``values``, where it would go in ``sorted_sequence`` to keep it sorted:
    the first such index (side "left", the default) or the last (side "right", or
    right=True). ``sorted_sequence`` is (m,), or (*, m) with ``values`` (*, k), one sorted
    row per leading index; ``sorter`` sorts an unsorted sequence. int64 (int32 with
    ``out_int32``), values' shape; a number gives a 0-d tensor."""
    _no_out("searchsorted", out)
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(
            f"searchsorted: sorted_sequence must be a Tensor, got {type(sorted_sequence).__name__}"
        )
    if side not in (None, "left", "right"):
        raise TinyLMError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise TinyLMError("searchsorted: side='left' and right=True contradict each other")
    seq = sorted_sequence
    vals = as_operand(values, like=seq)
    if seq.ndim == 0:
        raise TinyLMError("searchsorted: sorted_sequence must have at least 1 dim, got a 0-d one")
    if seq.ndim > 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise TinyLMError(
            f"searchsorted: sorted_sequence of shape {seq.shape} needs values whose leading "
            f"dims are {seq.shape[:-1]} (one row each), got values of shape {vals.shape}"
        )
    arranged = None
    if sorter is not None:
        if not isinstance(sorter, Tensor) or sorter.shape != seq.shape or sorter.dtype.kind != "i":
            raise TinyLMError(
                f"searchsorted: sorter must be an integer tensor of sorted_sequence's shape "
                f"{seq.shape}"
            )
        arranged = sorter.data
    found = order.search_sorted(
        seq.data, vals.data, "right" if right or side == "right" else "left", arranged
    )
    return Tensor._wrap(found.astype(np.int32 if out_int32 else np.int64))


def bucketize(
    input: Any,  # noqa: A002
    boundaries: Tensor,
    *,
    out_int32: bool = False,
    right: bool = False,
    out: Any = None,
) -> Tensor:
    """The bucket of each element of ``input`` among the 1-D increasing ``boundaries``: i
    with boundaries[i−1] < x ≤ boundaries[i] (``right=True``: boundaries[i−1] ≤ x <
    boundaries[i]); 0 below the first, len(boundaries) above the last. int64."""
    if not isinstance(boundaries, Tensor) or boundaries.ndim != 1:
        shape = getattr(boundaries, "shape", type(boundaries).__name__)
        raise TinyLMError(f"bucketize: boundaries must be a 1-D tensor, got {shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
