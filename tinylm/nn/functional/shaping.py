"""Functions that lay data out for a network rather than compute with it: ``one_hot``
(class indices → rows of 0s and a 1) and ``pad`` (extra elements at the ends of axes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module, to_device_array
from tinylm.nn.functional.common import as_array
from tinylm.tensor import Tensor

__all__ = ["PAD_MODES", "one_hot", "pad"]


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Row ``tensor[...]`` of the identity: out[..., c] = 1 if tensor[...] == c else 0.

    Args:
        tensor: integer class indices of any shape, each in [0, num_classes).
        num_classes: C; -1 takes the largest index + 1.
    Returns:
        int64 (*tensor.shape, C). No gradient (the result is a function of integers).
    """
    like = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    idx = as_array("one_hot", tensor, like, "the class indices")
    xp = array_module(idx)
    if idx.dtype.kind not in "iu":
        raise TinyLMError(f"one_hot: class indices must be integers, got dtype {idx.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise TinyLMError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(idx.max()) + 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise TinyLMError(f"one_hot: class index {bad} is out of range for {num_classes} classes")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out)


#: PyTorch's padding modes and what each puts beyond an edge
PAD_MODES = {
    "constant": "the value",
    "reflect": "the mirror image, edge not repeated (3 2 | 1 2 3 | 2 1)",
    "replicate": "the edge element (1 1 | 1 2 3 | 3 3)",
    "circular": "the other end (2 3 | 1 2 3 | 1 2)",
}
_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _source_positions(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input position it copies (-1: the constant).
    Negative pads crop, as PyTorch's: constant, reflect and replicate read output position
    i from input coordinate i − before, mirrored or clamped into [0, n); circular first
    crops, then wraps around what is left (so it repeats the cropped tensor's ends)."""
    if mode == "circular":
        kept = np.arange(max(0, -before), n - max(0, -after))
        return np.pad(kept, (max(0, before), max(0, after)), mode="wrap")
    src = np.arange(-before, n + after)
    if mode == "constant":
        return np.where((src >= 0) & (src < n), src, -1)
    if mode == "replicate":
        return np.clip(src, 0, n - 1)
    period = 2 * (n - 1)  # reflect: … 2 1 | 0 1 2 … n−1 | n−2 …, a zigzag of this period
    if period == 0:
        return np.zeros_like(src)
    src = np.abs(src) % period
    return np.where(src < n, src, period - src)


def _check_pads(mode: str, shape: tuple[int, ...], pads: list[int]) -> None:
    """PyTorch's limits for reflect, replicate and circular: 2, 4 or 6 pads (1 to 3 dims)
    of an input of that many dims + 1 (unbatched) or + 2 (batched); reflect's pads below
    the size of their dim; circular's at most the size left after cropping; at least one
    element left in every padded dim (circular: none is fine)."""
    k = len(pads) // 2
    if k > 3:
        raise TinyLMError(
            f"pad: {mode} padding pads 1 to 3 dims (2, 4 or 6 pads), got {len(pads)} pads"
        )
    if len(shape) not in (k + 1, k + 2):
        raise TinyLMError(
            f"pad: {mode} padding with {len(pads)} pads needs a {k + 1}-D or {k + 2}-D input "
            f"(unbatched or batched), got shape {shape}"
        )
    for j in range(k):
        axis, (before, after) = len(shape) - 1 - j, pads[2 * j : 2 * j + 2]
        n = shape[axis]
        left = n + min(before, 0) + min(after, 0)
        out = n + before + after
        if mode == "reflect" and max(before, after) >= n:
            raise TinyLMError(
                f"pad: reflect pads must be less than the size of their dim, got ({before}, "
                f"{after}) for dim {axis} of size {n}"
            )
        if mode == "circular" and (left < 0 or max(before, after) > left):
            raise TinyLMError(
                f"pad: circular pads must be at most the size of their dim after cropping, "
                f"got ({before}, {after}) for dim {axis} of size {n} (would leave {left})"
            )
        if mode != "circular" and out < 1:
            raise TinyLMError(
                f"pad: {mode} pads ({before}, {after}) must leave at least one element of "
                f"dim {axis} (size {n}), got {out}"
            )


class _Pad(Function):
    """y = x with elements added (or, for negative pads, removed) at the ends of some axes.

    Each padded axis is read through a map ``src`` from output to input positions (-1 where
    the constant goes): y = x.take(src) along that axis. The gradient of a copy is a sum:
    dL/dx_j = Σ_{i: src_i = j} g_i, since reflect, replicate and circular copy some input
    elements several times; the constant's places get nothing.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, maps: tuple[tuple[int, Any], ...], value: float) -> Any:
        xp = array_module(x)
        y = x
        for axis, src in maps:
            y = xp.take(y, xp.maximum(src, 0), axis=axis)
            if (src < 0).any():
                fill = (src < 0).reshape((-1,) + (1,) * (y.ndim - 1 - axis))
                y = xp.where(fill, y.dtype.type(value), y)
        ctx.meta = (x.shape, maps)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, maps = ctx.meta
        xp = array_module(g)
        for axis, src in reversed(maps):
            rows = xp.moveaxis(g, axis, 0)
            gx = xp.zeros((shape[axis],) + rows.shape[1:], dtype=g.dtype)
            copied = src >= 0
            xp.add.at(gx, src[copied], rows[copied])  # add.at: repeated positions add up
            g = xp.moveaxis(gx, 0, axis)
        return g


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None):
    """Pad the last axes: ``pad`` = (left, right) for the last axis, then (top, bottom) for
    the one before, and so on, as in PyTorch.

    Args:
        input: any tensor with at least len(pad) / 2 dims.
        pad: an even number of ints; negative ones crop. Reflect, replicate and circular
            pad 1 to 3 dims of an input with 1 or 2 more (PyTorch's limits, see
            :func:`_check_pads`).
        mode: "constant", "reflect", "replicate" or "circular" (see :data:`PAD_MODES`).
        value: the constant (default 0).
    Returns:
        input with each padded axis lengthened by its two pads.
    """
    if mode not in PAD_MODES:
        raise TinyLMError(f"pad: mode must be one of {tuple(PAD_MODES)}, got {mode!r}")
    pads = [int(p) for p in pad]
    if len(pads) % 2 or len(pads) // 2 > input.ndim:
        raise TinyLMError(
            f"pad: needs an even number of pads, at most 2 per dim, got {len(pads)} for a "
            f"tensor of shape {input.shape} {input.dtype}"
        )
    if mode != "constant" and value not in (None, 0):
        raise TinyLMError(f"pad: a value is for mode 'constant' only, not {mode!r}")
    if mode != "constant":
        _check_pads(mode, input.shape, pads)
    maps = []
    for k in range(len(pads) // 2):
        axis, (before, after) = input.ndim - 1 - k, pads[2 * k : 2 * k + 2]
        n = input.shape[axis]
        if mode == "constant" and n + before + after < 0:
            raise TinyLMError(f"pad: pads ({before}, {after}) crop dim {axis} of size {n} below 0")
        src = to_device_array(_source_positions(n, before, after, mode), input.device)
        maps.append((axis, src))
    return _Pad.apply(input, maps=tuple(maps), value=0.0 if value is None else value)
