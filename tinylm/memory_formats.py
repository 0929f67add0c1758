"""PyTorch's memory formats, for ``clone``, ``contiguous`` and the ``*_like`` creators.

A tensor's memory format says in which order its elements lie in memory. tinylm has the two
that do not depend on image layouts:

* ``preserve_format`` (the default of ``clone`` and ``*_like``): as the input lies — a
  transposed input gives a transposed result; a view with gaps or a broadcast, a dense
  layout in the order of its strides (:func:`empty_preserving`, PyTorch's rule, which differs
  from NumPy's ``order="K"`` for broadcasts).
* ``contiguous_format`` (``contiguous``'s): C order, the last dim's neighbours adjacent;
  NumPy's ``order="C"``.

``channels_last`` and ``channels_last_3d`` exist so that code naming them fails with a clear
error rather than a missing name: tinylm's convolutions work in (N, C, H, W) C order only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module

__all__ = [
    "channels_last",
    "channels_last_3d",
    "contiguous_format",
    "copy_preserving",
    "empty_in_order",
    "empty_preserving",
    "inverse_axes",
    "iteration_order",
    "memory_format",
    "numpy_order",
    "preserve_format",
    "preserving_axes",
]


class memory_format:  # noqa: N801 - PyTorch's class name (torch.memory_format)
    """One of the memory formats above (compare with ``is``, as PyTorch's)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"tinylm.{self.name}"


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def numpy_order(op: str, fmt: object, *, preserve_ok: bool = True) -> str:
    """ "C" for ``contiguous_format``, "K" for ``preserve_format`` (then the copy is made by
    :func:`empty_preserving`).

    Raises:
        TinyLMError: channels_last (not supported), or preserve_format where ``op`` cannot
            preserve (``contiguous``, as PyTorch refuses it).
        TypeError: anything that is not a memory format.
    """
    if fmt is contiguous_format:
        return "C"
    if fmt is preserve_format and preserve_ok:
        return "K"
    if fmt is preserve_format:
        raise TinyLMError(f"{op}: preserve_format is not supported here, as in PyTorch")
    if fmt is channels_last or fmt is channels_last_3d:
        raise TinyLMError(
            f"{op}: memory_format={fmt!r} is not supported: tinylm keeps tensors in C order "
            "(contiguous_format) or as their input lies (preserve_format)"
        )
    raise TypeError(
        f"{op}: memory_format must be tinylm.preserve_format or tinylm.contiguous_format, "
        f"got {fmt!r}"
    )


def _dense(shape: tuple[int, ...], steps: tuple[int, ...]) -> bool:
    """Do strides ``steps`` (in elements) lay ``shape`` out with neither gaps nor overlaps?"""
    expected = 1
    for step, n in sorted((step, n) for n, step in zip(shape, steps) if n > 1):
        if step != expected:
            return False
        expected *= n
    return True


def iteration_order(shape: tuple[int, ...], operands: list[tuple[int, ...]]) -> list[int]:
    """The dims of an output PyTorch allocates for an op over ``operands`` (each a tuple of
    strides in elements, one per dim of ``shape``), innermost first: TensorIterator's
    ``reorder_dimensions``, a stable insertion sort from C order. Two dims are compared by
    the first operand that decides them: a stride-0 (broadcast) dim in either leaves it to
    the next operand, a larger stride goes outside, and of two equal strides the longer dim
    goes outside; undecided by all, C order stays."""

    def comes_after(d0: int, d1: int) -> int:  # 1: d0 lies outside d1; -1: inside; 0: undecided
        for steps in operands:
            s0, s1 = steps[d0], steps[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return 1 if s0 > s1 else -1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    perm = list(range(len(shape) - 1, -1, -1))  # C order, innermost first
    for i in range(1, len(perm)):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = comes_after(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return perm


def _preserved_order(shape: tuple[int, ...], steps: tuple[int, ...]) -> list[int]:
    """The dims of a ``preserve_format`` copy, innermost first: PyTorch's rule
    (``infer_dense_strides``), :func:`iteration_order` over the one input."""
    return iteration_order(shape, [steps])


def preserving_axes(a: Any) -> tuple[int, ...] | None:
    """The axes of ``a`` from outermost to innermost in PyTorch's ``preserve_format`` layout
    of a copy (see :func:`empty_preserving`), or None when that layout is C order.

    ``a.transpose(axes)`` is then C-contiguous when ``a`` is dense (a view of its memory in
    memory order, no copy): an element-wise kernel that wants C order runs on it, and its
    result transposed back by :func:`inverse_axes` is laid out as PyTorch lays out the
    result of an element-wise op on ``a``."""
    shape = a.shape
    if len(shape) < 2 or a.flags.c_contiguous:
        return None
    steps = tuple(abs(s) // a.itemsize for s in a.strides)
    if _dense(shape, steps) and all(s >= 0 for s in a.strides):
        inner_first = sorted(range(len(shape)), key=lambda d: (steps[d], -d))
    else:
        inner_first = _preserved_order(shape, steps)
    outer_first = tuple(inner_first[::-1])
    return None if outer_first == tuple(range(len(shape))) else outer_first


def inverse_axes(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``transpose(axes)``: ``a.transpose(axes).transpose(
    inverse_axes(axes))`` is ``a``'s layout again."""
    return tuple(int(d) for d in np.argsort(axes))


def empty_preserving(a: Any, dtype: Any = None) -> Any:
    """An uninitialised array of ``a``'s shape (and dtype unless given) laid out as
    PyTorch's ``preserve_format`` lays out a copy of ``a``: with ``a``'s own strides when it
    is dense (a transpose stays a transpose), else densely in the order of its strides (a
    slice with gaps, a broadcast)."""
    xp = array_module(a)
    dtype = a.dtype if dtype is None else dtype
    axes = preserving_axes(a)
    if axes is None:
        return xp.empty(a.shape, dtype)
    return empty_in_order(xp, a.shape, dtype, axes)


def empty_in_order(xp: Any, shape: tuple[int, ...], dtype: Any, axes: tuple[int, ...]) -> Any:
    """An uninitialised ``shape`` array whose dims lie in memory in the order ``axes``
    (outermost first): ``result.transpose(axes)`` is C-contiguous."""
    return xp.empty([shape[d] for d in axes], dtype).transpose(inverse_axes(axes))


def copy_preserving(a: Any, dtype: Any = None) -> Any:
    """A copy of ``a`` (in ``dtype`` if given) laid out by :func:`empty_preserving`:
    PyTorch's ``clone()`` (``preserve_format``)."""
    y = empty_preserving(a, dtype)
    y[...] = a
    return y
