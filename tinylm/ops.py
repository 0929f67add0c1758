"""The differentiable operations of the Tensor, one ``Function`` each.

Each op is a forward rule and a backward rule, side by side, on raw arrays. Read
``backward`` next to the derivative it implements: for y = f(x) and an upstream
gradient g = dL/dy, it returns dL/dx = g · dy/dx (the chain rule). Broadcasting is undone
by the engine (``tinylm.autograd.unbroadcast``), so binary ops return gradients of the
broadcast shape.

Shapes in the comments: x, y … are arrays; ``g`` is dL/d(output), same shape as the output.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.device import array_module

# ---------------------------------------------------------------------------------------
# Elementwise binary ops (inputs broadcast against each other)
# ---------------------------------------------------------------------------------------


def _check_broadcast(name: str, a: Any, b: Any) -> None:
    if a.shape == b.shape:  # the common case, and nothing to check
        return
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise TinyLMError(
            f"{name}: operands could not be broadcast together: shapes {a.shape} {a.dtype} "
            f"and {b.shape} {b.dtype} (trailing dimensions must be equal or 1)"
        ) from None


class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        return g, g


class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        return g, -g


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast("mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b²."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast("div", a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """z = a ** b (both tensors);  dz/da = b·a^(b-1), dz/db = a^b · ln a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast("pow", a, b)
        z = a**b
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b, z = ctx.saved_arrays
        xp = array_module(a)
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            # ln a is undefined for a <= 0; there the derivative w.r.t. the exponent is NaN
            # in exact math as well, except at a = 0 where z = 0 and we use 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * xp.where(a == 0, 0, z * xp.log(a))
        return ga, gb


class PowScalar(Function):
    """z = x ** p for a fixed number p;  dz/dx = p·x^(p-1)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, exponent: float) -> Any:
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x**exponent

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        p = ctx.exponent
        if p == 0:
            return g * 0
        return g * p * x ** (p - 1)


class Maximum(Function):
    """z = max(a, b) elementwise; the gradient goes to the larger input (split at ties)."""

    pick = "maximum"

    @classmethod
    def forward(cls, ctx: Context, a: Any, b: Any) -> Any:
        _check_broadcast(cls.pick, a, b)
        ctx.save_for_backward(a, b)
        return getattr(array_module(a), cls.pick)(a, b)

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        a_wins = a > b if cls.pick == "maximum" else a < b
        # 1 where a wins, 0 where b wins, ½ at a tie (the average of the two one-sided slopes)
        share_a = (a_wins + 0.5 * (a == b)).astype(g.dtype, copy=False)
        return g * share_a, g * (1 - share_a)


class Minimum(Maximum):
    """z = min(a, b) elementwise; the gradient goes to the smaller input (split at ties)."""

    pick = "minimum"


class Where(Function):
    """z = a where cond else b;  the gradient flows to a where cond holds, else to b.

    ``cond`` is passed as a keyword (it is a boolean array and gets no gradient).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, cond: Any) -> Any:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
        ctx.cond = cond
        return array_module(a).where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        zero = g.dtype.type(0)
        xp = array_module(g)
        return xp.where(ctx.cond, g, zero), xp.where(ctx.cond, zero, g)


# ---------------------------------------------------------------------------------------
# Elementwise unary ops
# ---------------------------------------------------------------------------------------


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return -x

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return -g


class Exp(Function):
    """y = eˣ;  dy/dx = eˣ = y (so we keep y, not x)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        return g * y


class Log(Function):
    """y = ln x;  dy/dx = 1/x."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return g / x


class Sqrt(Function):
    """y = √x;  dy/dx = 1/(2√x) = 1/(2y)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        y = array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        return g / (2 * y)


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y²."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        return g * (1 - y * y)


def sigmoid_array(x: Any) -> Any:
    """σ(x) = 1/(1+e^(-x)), evaluated without overflow for large |x|.

    For x ≥ 0 use 1/(1+e^(-x)); for x < 0 use eˣ/(1+eˣ). Either way the exponent is ≤ 0,
    so ``exp`` never overflows.
    """
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """y = σ(x);  dy/dx = σ(x)(1 - σ(x)) = y(1 - y)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        y = sigmoid_array(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        return g * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dy/dx = 1 for x > 0, else 0 (we pick 0 at x = 0, like PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.save_for_backward(x)
        return array_module(x).maximum(x, 0).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return g * (x > 0)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return g * array_module(x).sign(x)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 strictly inside [lo, hi], else 0."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, min: float | None, max: float | None) -> Any:
        if min is None and max is None:
            raise TinyLMError("clamp: at least one of min and max must be given")
        ctx.save_for_backward(x)
        ctx.bounds = (min, max)
        return array_module(x).clip(x, min, max).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        lo, hi = ctx.bounds
        inside = np.ones((), dtype=bool)
        if lo is not None:
            inside = inside & (x >= lo)
        if hi is not None:
            inside = inside & (x <= hi)
        return g * inside


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


class Sum(Function):
    """y = Σ_axes x;  dy/dx = 1 for every summed element, so the gradient is g broadcast."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "sum")
        ctx.meta = (x.shape, axes, keepdims)
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, axes, keepdims = ctx.meta
        return array_module(g).broadcast_to(_expand_reduced(g, shape, axes, keepdims), shape)


class Mean(Function):
    """y = (1/n) Σ_axes x;  dy/dx = 1/n."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: Any = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "mean")
        if any(x.shape[a] == 0 for a in axes):
            raise TinyLMError(f"mean: reducing an empty axis of shape {x.shape}")
        ctx.meta = (x.shape, axes, keepdims)
        return x.mean(axis=axes, keepdims=keepdims)

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
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

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


# ---------------------------------------------------------------------------------------
# Shape ops: they move numbers around; backward moves the gradient back.
# ---------------------------------------------------------------------------------------


class Reshape(Function):
    """y = x viewed with another shape (same elements, same order)."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, shape: tuple[int, ...]) -> Any:
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise TinyLMError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.reshape(ctx.in_shape)


class Permute(Function):
    """y = x with its axes reordered; backward applies the inverse permutation."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, dims: tuple[int, ...]) -> Any:
        in_range = all(-x.ndim <= d < x.ndim for d in dims)
        if not in_range or sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
            raise TinyLMError(f"permute: {dims} is not a permutation of the {x.ndim} dims")
        ctx.dims = tuple(d % x.ndim for d in dims)
        return x.transpose(ctx.dims)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.transpose(np.argsort(ctx.dims))


class Expand(Function):
    """y = x broadcast to a larger shape. Backward is a sum over the copies, which the
    engine's un-broadcasting already does, so the gradient passes through unchanged."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, shape: tuple[int, ...]) -> Any:
        try:
            return array_module(x).broadcast_to(x, shape)
        except ValueError:
            raise TinyLMError(f"expand: cannot expand shape {x.shape} to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g


def _index_has_arrays(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(hasattr(i, "shape") or isinstance(i, list) for i in items)


class GetItem(Function):
    """y = x[index] for basic (slices, ints, None, ...) and integer/boolean array indexing.

    Backward scatters g into zeros of x's shape. With integer arrays an element can be
    picked several times (``x[[0, 0]]``); its gradient is the *sum* of the copies, which is
    what ``xp.add.at`` does (plain ``gx[index] += g`` would keep only one copy).
    """

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, index: Any) -> Any:
        ctx.meta = (x.shape, x.dtype, index)
        try:
            y = x[index]
        except IndexError as e:
            raise TinyLMError(f"index: {e} (tensor of shape {x.shape} {x.dtype})") from None
        if isinstance(y, np.generic):
            # numpy returns a single element as a scalar copy; x[index, ...] is the same
            # element as a 0-d view, so in-place changes reach x (as in PyTorch).
            y = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, dtype, index = ctx.meta
        xp = array_module(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        if _index_has_arrays(index):
            xp.add.at(gx, index, g)
        else:
            gx[index] = g  # basic indexing never selects an element twice
        return gx


class MaskedFill(Function):
    """y = x with ``value`` where ``mask`` is True;  the gradient is 0 at filled places."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, mask: Any, value: float) -> Any:
        if mask.dtype != bool:
            raise TinyLMError(f"masked_fill: mask must be a bool tensor, got {mask.dtype}")
        try:
            np.broadcast_shapes(mask.shape, x.shape)
        except ValueError:
            raise TinyLMError(
                f"masked_fill: mask of shape {mask.shape} does not broadcast to {x.shape}"
            ) from None
        ctx.mask = mask
        return array_module(x).where(mask, x.dtype.type(value), x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.mask, g.dtype.type(0), g)


class Tril(Function):
    """y = lower triangle of the last two axes (k-th diagonal and below); others zero."""

    upper = False

    @classmethod
    def forward(cls, ctx: Context, x: Any, *, diagonal: int = 0) -> Any:
        if x.ndim < 2:
            raise TinyLMError(f"{'triu' if cls.upper else 'tril'}: needs ≥ 2 dims, got {x.shape}")
        xp = array_module(x)
        rows, cols = x.shape[-2:]
        keep = xp.tri(rows, cols, diagonal - 1 if cls.upper else diagonal, dtype=bool)
        ctx.keep = ~keep if cls.upper else keep
        return xp.where(ctx.keep, x, x.dtype.type(0))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.keep, g, g.dtype.type(0))


class Triu(Tril):
    """y = upper triangle of the last two axes (k-th diagonal and above); others zero."""

    upper = True


class Concat(Function):
    """y = the inputs joined along ``axis``; backward slices g back into the pieces."""

    @staticmethod
    def forward(ctx: Context, *xs: Any, axis: int = 0) -> Any:
        if not xs:
            raise TinyLMError("concat: needs at least one tensor")
        ndim = xs[0].ndim
        if ndim == 0:
            raise TinyLMError("concat: zero-dimensional tensors cannot be concatenated")
        if not -ndim <= axis < ndim:
            raise TinyLMError(f"concat: axis {axis} is out of range for tensors with {ndim} dims")
        ax = axis % ndim
        for i, x in enumerate(xs):
            if x.ndim != ndim or any(
                a != b for d, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if d != ax
            ):
                raise TinyLMError(
                    f"concat: tensor {i} has shape {x.shape}, which does not match "
                    f"{xs[0].shape} outside axis {axis}"
                )
        ctx.axis = ax
        ctx.sizes = [x.shape[ax] for x in xs]
        return array_module(xs[0]).concatenate(xs, axis=ax)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        bounds = np.cumsum(ctx.sizes)[:-1]
        return tuple(array_module(g).split(g, bounds, axis=ctx.axis))


class Stack(Function):
    """y = the inputs stacked along a new ``axis``; backward takes the slices apart."""

    @staticmethod
    def forward(ctx: Context, *xs: Any, axis: int = 0) -> Any:
        if not xs:
            raise TinyLMError("stack: needs at least one tensor")
        for i, x in enumerate(xs):
            if x.shape != xs[0].shape:
                raise TinyLMError(
                    f"stack: all tensors must have the same shape; tensor 0 is {xs[0].shape} "
                    f"but tensor {i} is {x.shape}"
                )
        ndim = xs[0].ndim + 1  # the result has one more axis
        if not -ndim <= axis < ndim:
            raise TinyLMError(f"stack: axis {axis} is out of range for a result with {ndim} dims")
        ctx.axis = axis % ndim
        return array_module(xs[0]).stack(xs, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        xp = array_module(g)
        return tuple(xp.take(g, i, axis=ctx.axis) for i in range(g.shape[ctx.axis]))


# ---------------------------------------------------------------------------------------
# Matrix multiplication
# ---------------------------------------------------------------------------------------


class MatMul(Function):
    """C = A @ B over the last two axes, broadcasting the leading (batch) axes.

    With C_ij = Σ_k A_ik B_kj:  dL/dA = G Bᵀ  and  dL/dB = Aᵀ G.
    1-D operands are treated as a row (A) or a column (B) vector, as in numpy.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise TinyLMError(
                f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}"
            )
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if k_a != k_b:
            raise TinyLMError(
                f"matmul: shapes {a.shape} {a.dtype} and {b.shape} {b.dtype} are not aligned: "
                f"{k_a} (last dim of the first) != {k_b} "
                f"({'second-to-last' if b.ndim >= 2 else 'only'} dim of the second)"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise TinyLMError(
                f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        a2 = a[None, :] if a.ndim == 1 else a  # row vector (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # column vector (k, 1)
        # Put back the axes that numpy dropped for 1-D operands: m (b was 1-D) then n.
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


# ---------------------------------------------------------------------------------------
# Softmax and log-softmax over one axis (numerically stable)
# ---------------------------------------------------------------------------------------


def _to_last(x: Any, axis: int) -> Any:
    return array_module(x).moveaxis(x, axis, -1)


def _from_last(x: Any, axis: int) -> Any:
    return array_module(x).moveaxis(x, -1, axis)


class _RowwiseKernelOp(Function):
    """An op along one axis computed by a kernel of the registry (``tinylm.kernels``).

    The kernels work on the last axis, so the chosen axis is moved there and back. Forward
    saves its output y, which is all either backward needs: ``kernel_backward(y, g)``.
    """

    kernel = ""  # registry name without the _forward/_backward suffix

    @classmethod
    def forward(cls, ctx: Context, x: Any, *, axis: int = -1) -> Any:
        from tinylm.kernels import registry

        if x.ndim == 0:
            raise TinyLMError(f"{cls.kernel}: needs a tensor with at least 1 dim, got a scalar")
        axis = normalize_axis(axis, x.ndim, cls.kernel)[0]
        forward = registry.lookup(f"{cls.kernel}_forward", _device(x))
        y = _from_last(forward(_to_last(x, axis)), axis)
        ctx.axis = axis
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> Any:
        from tinylm.kernels import registry

        (y,) = ctx.saved_arrays
        backward = registry.lookup(f"{cls.kernel}_backward", _device(y))
        return _from_last(backward(_to_last(y, ctx.axis), _to_last(g, ctx.axis)), ctx.axis)


class Softmax(_RowwiseKernelOp):
    """p_i = e^{x_i - m} / Σ_j e^{x_j - m}, with m = max_j x_j along ``axis``.

    Subtracting the maximum changes nothing mathematically (it cancels between numerator
    and denominator) but keeps every exponent ≤ 0, so nothing overflows.
    Backward: dL/dx_i = p_i (g_i - Σ_j g_j p_j).
    The readable version of both is ``kernels/reference.py`` (softmax_forward/backward).
    """

    kernel = "softmax"


class LogSoftmax(_RowwiseKernelOp):
    """log p_i = x_i - m - log Σ_j e^{x_j - m} (log-sum-exp, never log of 0).

    Backward: dL/dx_i = g_i - p_i Σ_j g_j, with p = exp(log p).
    The readable version of both is ``kernels/reference.py`` (log_softmax_forward/backward).
    """

    kernel = "log_softmax"


def _device(x: Any) -> str:
    return "cpu" if array_module(x) is np else "cuda"
