"""Reductions (sum, mean, max, min), the cumulative sum, and the row-wise softmax and
log-softmax.

A reduction's backward puts the reduced axes back (as size 1) and broadcasts g over them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module, device_type
from tinylm.kernels import registry

__all__ = [
    "CumSum",
    "LogSoftmax",
    "Max",
    "Mean",
    "Min",
    "Prod",
    "Softmax",
    "Sum",
    "normalize_axis",
]

# ---------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``None``/int/tuple into a sorted tuple of non-negative axes, with clear errors."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise TinyLMError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise TinyLMError(f"{op}: repeated axis in {axis}")
    if ndim == 0:
        # As in PyTorch, a 0-d tensor accepts axis 0 or -1 as if it had one axis of size 1;
        # reducing over it changes nothing, which numpy spells axis=().
        return ()
    return tuple(sorted(out))


def _expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Put back the reduced axes (as size 1) so ``g`` broadcasts against the input."""
    if not keepdims and len(shape) > 0:
        g = g.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return g


def c_order(y: Any) -> Any:
    """``y`` laid out in C order: PyTorch returns reductions and scans that way whatever the
    input's layout (so ``x.t().sum(0).view(-1)`` works), where NumPy keeps the input's
    axis order. A copy only when ``y`` is not C-ordered already."""
    if getattr(y, "ndim", 0) < 2 or y.flags.c_contiguous:
        return y
    return array_module(y).ascontiguousarray(y)


class Sum(Function):
    """y = Σ_axes x;  dy/dx = 1 for every summed element, so the gradient is g broadcast.
    Integers and bools sum as int64, as in PyTorch (NumPy sums uint8 as uint64)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "sum")
        ctx.meta = (x.shape, axes, keepdims)
        return c_order(
            x.sum(axis=axes, keepdims=keepdims, dtype=np.int64 if x.dtype.kind in "biu" else None)
        )

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, axes, keepdims = ctx.meta
        return array_module(g).broadcast_to(_expand_reduced(g, shape, axes, keepdims), shape)


class Mean(Function):
    """y = (1/n) Σ_axes x;  dy/dx = 1/n."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "mean")
        if x.dtype.kind not in "fc":  # PyTorch refuses to guess a float dtype for integers
            raise TinyLMError(
                f"mean: needs a floating-point tensor, got {x.dtype}; convert first "
                "(x.float().mean()) or pass dtype=, as in PyTorch"
            )
        if any(x.shape[a] == 0 for a in axes):
            raise TinyLMError(f"mean: reducing an empty axis of shape {x.shape}")
        ctx.meta = (x.shape, axes, keepdims)
        return c_order(x.mean(axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, axes, keepdims = ctx.meta
        n = math.prod(shape[a] for a in axes)
        g = _expand_reduced(g, shape, axes, keepdims) / n
        return array_module(g).broadcast_to(g, shape)


class Max(Function):
    """y = max_axes x;  the gradient goes to the maximal element(s), split evenly at ties."""

    reduce = "max"

    @classmethod
    def forward(cls, ctx: Context, x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, cls.reduce)
        if x.size == 0:
            raise TinyLMError(f"{cls.reduce}: cannot reduce an empty tensor of shape {x.shape}")
        y = getattr(x, cls.reduce)(axis=axes, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.meta = (x.shape, axes, keepdims)
        return c_order(
            y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, y = ctx.saved_arrays
        shape, axes, keepdims = ctx.meta
        winners = x == y
        count = winners.sum(axis=axes, keepdims=True)
        return _expand_reduced(g, shape, axes, keepdims) * winners / count


class Min(Max):
    """y = min_axes x;  the gradient goes to the minimal element(s), split evenly at ties."""

    reduce = "min"


class CumSum(Function):
    """y_i = Σ_{j ≤ i} x_j along ``axis`` (PyTorch's ``cumsum``; integers and bools sum as int64).

    x_j appears in every y_i with i ≥ j, so dL/dx_j = Σ_{i ≥ j} g_i: the cumulative sum of g
    taken from the far end (flip, cumsum, flip back).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int) -> Any:
        axes = normalize_axis(axis, x.ndim, "cumsum")
        ctx.axes = axes
        if not axes:  # a 0-d tensor: the sum of one element is itself
            return x.copy()
        kind = x.dtype.kind
        xp = array_module(x)
        return c_order(xp.cumsum(x, axis=axes[0], dtype=np.int64 if kind in "biu" else None))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        if not ctx.axes:
            return g
        xp, a = array_module(g), ctx.axes[0]
        return xp.flip(xp.cumsum(xp.flip(g, a), axis=a), a)


class Prod(Function):
    """y = Π x over one ``axis`` (or all elements); integers and bools multiply as int64.

    dy/dx_i = Π_{j ≠ i} x_j, the product of the *other* elements. Not y / x_i, which is 0/0
    where x_i = 0: backward multiplies the products of the elements before i (an exclusive
    cumulative product from the start) and after i (from the end), so a zero anywhere gives
    exactly PyTorch's gradient (the other elements' product at a lone zero, 0 elsewhere).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int | None = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "prod")
        ctx.save_for_backward(x)
        ctx.meta = (axis, axes, keepdims)
        return c_order(
            x.prod(axis=axes, keepdims=keepdims, dtype=np.int64 if x.dtype.kind in "biu" else None)
        )

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        axis, axes, keepdims = ctx.meta
        xp = array_module(x)
        g = _expand_reduced(g, x.shape, axes, keepdims)
        if not axes:  # a 0-d tensor: y = x
            return g
        flat = axis is None  # over every element: one row of all of them
        rows = x.reshape(-1) if flat else x
        a = 0 if flat else axes[0]
        n = rows.shape[a]
        if n == 0:  # the product of nothing is 1, a constant
            return xp.zeros(x.shape, dtype=g.dtype)

        def part(start: int, stop: int) -> Any:  # elements start … stop−1 along a
            return rows[(slice(None),) * a + (slice(start, stop),)]

        one = xp.ones_like(part(0, 1))
        # before_i = x_0 ⋯ x_{i−1} and after_i = x_{i+1} ⋯ x_{n−1} (each 1 when empty)
        before = xp.cumprod(xp.concatenate([one, part(0, n - 1)], axis=a), axis=a)
        reversed_rest = xp.flip(xp.concatenate([part(1, n), one], axis=a), a)
        after = xp.flip(xp.cumprod(reversed_rest, axis=a), a)
        others = before * after
        return g * (others.reshape(x.shape) if flat else others)


# ---------------------------------------------------------------------------------------
# Softmax and log-softmax over one axis (numerically stable)
# ---------------------------------------------------------------------------------------


def _to_last(x: Any, axis: int) -> Any:
    if axis == x.ndim - 1:  # the usual case: no view to make (moveaxis costs ~10 µs)
        return x
    return array_module(x).moveaxis(x, axis, -1)


def _from_last(x: Any, axis: int) -> Any:
    if axis == x.ndim - 1:
        return x
    return array_module(x).moveaxis(x, -1, axis)


class _RowwiseKernelOp(Function):
    """An op along one axis computed by a kernel of the registry (``tinylm.kernels``).

    The kernels work on the last axis, so the chosen axis is moved there and back. Forward
    saves its output y, which is all either backward needs: ``kernel_backward(y, g)``.
    """

    kernel = ""  # registry name without the _forward/_backward suffix
    fresh_grads = True  # backward returns the kernel's new array

    @classmethod
    def forward(cls, ctx: Context, x: Any, *, axis: int = -1) -> Any:
        if x.ndim == 0:
            raise TinyLMError(f"{cls.kernel}: needs a tensor with at least 1 dim, got a scalar")
        if x.dtype.kind != "f":  # PyTorch refuses integers too (F.softmax's dtype= converts)
            raise TinyLMError(f"{cls.kernel}: needs a floating-point tensor, got {x.dtype}")
        axis = normalize_axis(axis, x.ndim, cls.kernel)[0]
        forward = registry.lookup(f"{cls.kernel}_forward", device_type(x))
        y = c_order(_from_last(forward(_to_last(x, axis)), axis))  # over another axis: a copy
        ctx.axis = axis
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        backward = registry.lookup(f"{cls.kernel}_backward", device_type(y))
        return _from_last(backward(_to_last(y, ctx.axis), _to_last(g, ctx.axis)), ctx.axis)


class Softmax(_RowwiseKernelOp):
    """p_i = e^{x_i - m} / Σ_j e^{x_j - m}, with m = max_j x_j along ``axis``.

    Subtracting the maximum changes nothing mathematically (it cancels between numerator
    and denominator) but keeps every exponent ≤ 0, so nothing overflows.
    Backward: dL/dx_i = p_i (g_i - Σ_j g_j p_j).
    Readable: ``kernels/reference.py: softmax_forward/backward``; fast:
    ``kernels/numba/rowwise.py`` (CPU), ``kernels/cuda/softmax.cu`` (GPU).
    """

    kernel = "softmax"


class LogSoftmax(_RowwiseKernelOp):
    """log p_i = x_i - m - log Σ_j e^{x_j - m} (log-sum-exp, never log of 0).

    Backward: dL/dx_i = g_i - p_i Σ_j g_j, with p = exp(log p).
    Readable: ``kernels/reference.py: log_softmax_forward/backward``; fast:
    ``kernels/numba/rowwise.py`` (CPU), ``kernels/cuda/softmax.cu`` (GPU).
    """

    kernel = "log_softmax"
