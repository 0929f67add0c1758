"""PyTorch's distances, small products and integrals: ``cdist``, ``pdist``, ``dist``,
``vdot``, ``mv``, ``addmv``, ``addr``, ``chain_matmul``, ``linalg.multi_dot``, ``renorm``,
``trapezoid``/``trapz``, ``cumulative_trapezoid``, ``cross``/``linalg.cross`` and
``linalg.vecdot``. ``tinylm.f(...)``, ``tinylm.linalg.f(...)`` and the methods ``x.f(...)``
(one line each in ``tinylm/tensor_math.py``) land here.

All but one are compositions of ops that have their backward rules (``@``, ``*``, ``sum``,
``cumsum``, slices, ``VectorNorm``, ``addmm``), composed as PyTorch composes them, so values
and gradients are theirs. The new rule is :class:`Cdist`, beside :func:`cdist`, with
PyTorch's gradient at zero distances and at ties of the ∞-distance.

Shapes in the docstrings: (B, P, M) and so on; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
import functools
import math
import numbers
import operator
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm import ops, tensor_shaping
from tinylm.arg_checks import described
from tinylm.autograd import Context, Function, TensorBase, TinyLMError
from tinylm.devices import array_module
from tinylm.dtypes import bool_, result_type
from tinylm.ops.norms import VectorNorm

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names (``tinylm.addr``, as
#: ``torch.addr``); the rest are ``tinylm.linalg``'s and ``Cdist``.
TOP_LEVEL = [
    "addmv",
    "addr",
    "cdist",
    "chain_matmul",
    "cross",
    "cumulative_trapezoid",
    "dist",
    "mv",
    "pdist",
    "renorm",
    "trapezoid",
    "trapz",
    "vdot",
]
__all__ = [*TOP_LEVEL, "Cdist", "linalg_cross", "multi_dot", "vecdot"]

COMPUTE_MODES = (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
)


def _tensor(op: str, x: Any, name: str) -> None:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, TensorBase) and value.numel() == 1:
        value = value.item()
    if isinstance(value, builtins.bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r:.60}")
    return float(value)


def _dim(op: str, x: Tensor, dim: Any, ndim: int | None = None) -> int:
    """``dim`` of a tensor of ``ndim`` dims (x's by default), made non-negative."""
    n = x.ndim if ndim is None else ndim
    if isinstance(dim, builtins.bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -n <= dim < n or n == 0:
        raise TinyLMError(f"{op}: dim {dim} is out of range for a tensor of shape {described(x)}")
    return int(dim) % n


def _floats(op: str, *tensors: Tensor) -> None:
    """Floating-point tensors of one dtype, as PyTorch's distances and linalg need."""
    for t in tensors:
        if t.dtype.kind != "f":
            raise TinyLMError(
                f"{op}: needs floating-point tensors, got {described(t)}, as in PyTorch"
            )
    if len({t.dtype for t in tensors}) > 1:
        raise TinyLMError(
            f"{op}: expected tensors of one dtype, got "
            f"{', '.join(described(t) for t in tensors)}; convert one with .to()"
        )


# ---------------------------------------------------------------------------------------
# Distances
# ---------------------------------------------------------------------------------------


class Cdist(Function):
    """d_bij = ‖x1_bi − x2_bj‖_p for x1 (B, P, M), x2 (B, R, M) → (B, P, R): the count of
    non-zero differences for p = 0, the largest |difference| for p = ∞.

    With δ = x1_bi − x2_bj (M,), d = d_bij and g = g_bij, dd/dδ is (PyTorch's choices):

    * p = 0: 0;   p = 1: sign δ;   p = 2: δ / d (0 where d = 0);
    * p = ∞: sign δ where |δ_m| = d (every tied element gets all of it), else 0;
    * p < 2: sign δ |δ|^(p−1) / d^(p−1) (0 where d = 0, and for p < 1 where δ_m = 0);
    * p > 2: δ |δ|^(p−2) / d^(p−1) (0 where d = 0).

    dL/dx1_bi = Σ_j g_bij dd/dδ, dL/dx2_bj = −Σ_i g_bij dd/dδ.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x1: Any, x2: Any, *, p: float) -> Any:
        xp = array_module(x1)
        diff = x1[:, :, None, :] - x2[:, None, :, :]  # (B, P, R, M)
        a = xp.abs(diff)
        if p == 0:
            d = (a != 0).sum(axis=-1).astype(x1.dtype)
        elif p == 1:
            d = a.sum(axis=-1)
        elif p == 2:
            d = xp.sqrt((diff * diff).sum(axis=-1))
        elif p == math.inf:
            d = a.max(axis=-1) if a.shape[-1] else xp.zeros(a.shape[:-1], dtype=x1.dtype)
        else:
            d = (a**p).sum(axis=-1) ** (1 / p)
        ctx.p = p
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x1, x2, d = ctx.saved_arrays
        xp, p = array_module(g), ctx.p
        diff = x1[:, :, None, :] - x2[:, None, :, :]
        dd, gg = d[..., None], g[..., None]
        zero = xp.zeros((), dtype=g.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 0:
                w = xp.zeros(diff.shape, dtype=g.dtype)
            elif p == 1:
                w = xp.sign(diff) * gg
            elif p == 2:
                w = xp.where(dd == 0, zero, gg * diff / dd)
            elif p == math.inf:
                w = gg * xp.sign(diff) * (xp.abs(diff) == dd)
            elif p < 2:
                w = xp.sign(diff) * xp.abs(diff) ** (p - 1) * gg / dd ** (p - 1)
                w = xp.where(dd == 0, zero, w)
                if p < 1:
                    w = xp.where(diff == 0, zero, w)
            else:
                w = xp.where(dd == 0, zero, diff * xp.abs(diff) ** (p - 2) * gg / dd ** (p - 1))
        return w.sum(axis=2), -w.sum(axis=1)


def _p(op: str, p: Any) -> float:
    p = _number(op, "p", p)
    if not p >= 0:
        raise TinyLMError(f"{op}: only supports non-negative p values, got p={p}")
    return p


def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """The p-norm distance between each row of x1 (*, P, M) and each row of x2 (*, R, M):
    (*, P, R), the leading dims broadcast; p ≥ 0, inf included (:class:`Cdist`). tinylm
    always subtracts (every ``compute_mode`` is accepted and gives the same result; PyTorch's
    matrix-product shortcut for p = 2 agrees to rounding)."""
    _tensor("cdist", x1, "x1")
    _tensor("cdist", x2, "x2")
    if compute_mode not in COMPUTE_MODES:
        raise TinyLMError(
            f"cdist: {compute_mode!r} is not a valid compute_mode: {', '.join(COMPUTE_MODES)}"
        )
    p = _p("cdist", p)
    _floats("cdist", x1, x2)
    for name, t in (("x1", x1), ("x2", x2)):
        if t.ndim < 2:
            raise TinyLMError(f"cdist: {name} must have at least 2 dims, got {described(t)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise TinyLMError(
            f"cdist: x1 and x2 must have the same number of columns, got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    try:
        batch = np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    except ValueError:
        raise TinyLMError(
            f"cdist: the batch dims of {tuple(x1.shape)} and {tuple(x2.shape)} do not broadcast"
        ) from None
    (n_p, m), n_r, b = x1.shape[-2:], x2.shape[-2], math.prod(batch)
    a = x1.expand(*batch, n_p, m).reshape(b, n_p, m)
    c = x2.expand(*batch, n_r, m).reshape(b, n_r, m)
    return Cdist.apply(a, c, p=p).reshape(*batch, n_p, n_r)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:  # noqa: A002
    """The p-norm distance of every pair of rows i < j of ``input`` (N, M): (N(N − 1)/2,),
    in the order (0, 1), (0, 2), …, (1, 2), … — the upper triangle of ``cdist(x, x)``, so
    its gradients are :class:`Cdist`'s."""
    _tensor("pdist", input, "input")
    p = _p("pdist", p)
    _floats("pdist", input)
    if input.ndim != 2:
        raise TinyLMError(f"pdist: only supports 2-D tensors, got {described(input)}")
    rows, cols = np.triu_indices(input.shape[0], 1)
    return Cdist.apply(input.unsqueeze(0), input.unsqueeze(0), p=p)[0][rows, cols]


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """‖input − other‖_p over all elements (shapes broadcast; dtypes promoted, floats only):
    a 0-d tensor; the norm's gradients (``VectorNorm``), as PyTorch's."""
    _tensor("dist", input, "input")
    _tensor("dist", other, "other")
    p = _number("dist", "p", p)
    dtype = result_type(input, other)
    if dtype.kind != "f":
        raise TinyLMError(
            f"dist: needs floating-point tensors, got {described(input)} and "
            f"{described(other)}, as in PyTorch"
        )
    ops.check_broadcast("dist", input.data, other.data)
    return VectorNorm.apply(input.to(dtype) - other.to(dtype), p=p, axis=None, keepdims=False)


# ---------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ_i input_i · other_i of two 1-D tensors of one size and dtype (real tensors: no
    conjugate to take), a 0-d tensor."""
    _tensor("vdot", input, "input")
    _tensor("vdot", other, "other")
    if input.ndim != 1 or other.ndim != 1:
        raise TinyLMError(
            f"vdot: 1-D tensors expected, got {described(input)} and {described(other)}"
        )
    if input.dtype != other.dtype or input.shape != other.shape:
        raise TinyLMError(
            f"vdot: expected two vectors of one size and dtype, got {described(input)} and "
            f"{described(other)}"
        )
    return input @ other


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """The matrix-vector product (n, m) @ (m,) → (n,), one dtype."""
    _tensor("mv", input, "input")
    _tensor("mv", vec, "vec")
    if input.ndim != 2 or vec.ndim != 1 or input.shape[1] != vec.shape[0]:
        raise TinyLMError(
            f"mv: needs a matrix (n, m) and a vector (m,), got {described(input)} and "
            f"{described(vec)}"
        )
    if input.dtype != vec.dtype:
        raise TinyLMError(f"mv: expected one dtype, got {described(input)} and {described(vec)}")
    return input @ vec


def addmv(
    input: Tensor,  # noqa: A002
    mat: Tensor,
    vec: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """beta · input + alpha · (mat @ vec): (n, m) @ (m,), input broadcast to (n,); beta = 0
    ignores input (NaN included), as PyTorch (``addmm`` of the vector as a column)."""
    _tensor("addmv", input, "input")
    product = mv(mat, vec)
    n = product.shape[0]
    if input.ndim > 1 or np.broadcast_shapes(tuple(input.shape), (1,)) not in ((1,), (n,)):
        raise TinyLMError(
            f"addmv: size mismatch, got input {tuple(input.shape)}, mat {tuple(mat.shape)}, "
            f"vec {tuple(vec.shape)}"
        )
    column = input.reshape(tuple(input.shape or (1,)) + (1,))
    return tensor_shaping.addmm(column, mat, vec.unsqueeze(1), beta=beta, alpha=alpha).squeeze(1)


def addr(
    input: Tensor,  # noqa: A002
    vec1: Tensor,
    vec2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """beta · input + alpha · (vec1 ⊗ vec2): the outer product (n,) ⊗ (m,) → (n, m), input
    broadcast to it, in the three tensors' promoted dtype. Bool tensors (PyTorch's logical
    form) are refused."""
    for name, t in (("input", input), ("vec1", vec1), ("vec2", vec2)):
        _tensor("addr", t, name)
        if t.dtype == bool_:
            raise TinyLMError(f"addr: bool tensors are not supported (got {name} {t.dtype})")
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        if t.ndim != 1:
            raise TinyLMError(f"addr: expected 1-D argument {name}, got {described(t)}")
    dtype = result_type(input, vec1, vec2)
    column, row = vec1.to(dtype).unsqueeze(1), vec2.to(dtype).unsqueeze(0)
    return tensor_shaping.addmm(input.to(dtype), column, row, beta=beta, alpha=alpha)


def _chain(op: str, mats: list[Tensor]) -> Tensor:
    """The product of matrices whose shapes chain, left to right, all of one dtype."""
    if len({t.dtype for t in mats}) > 1:
        raise TinyLMError(
            f"{op}: all tensors must have one dtype, got {', '.join(str(t.dtype) for t in mats)}"
        )
    for i in range(len(mats) - 1):
        if mats[i].shape[-1] != mats[i + 1].shape[0]:
            raise TinyLMError(
                f"{op}: tensors {i} and {i + 1} with shapes {tuple(mats[i].shape)} and "
                f"{tuple(mats[i + 1].shape)} cannot be multiplied"
            )
    return functools.reduce(operator.matmul, mats)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of 2-D tensors, (n, a) @ (a, b) @ … → (n, k): PyTorch's deprecated form
    of :func:`multi_dot` (taken left to right; PyTorch picks the cheapest order, which
    changes only rounding)."""
    if not matrices:
        raise TinyLMError("chain_matmul: expected one or more matrices")
    for i, t in enumerate(matrices):
        _tensor("chain_matmul", t, f"matrix {i}")
        if t.ndim != 2:
            raise TinyLMError(f"chain_matmul: matrix {i} must be 2-D, got {described(t)}")
    if len(matrices) == 1:
        return ops.Clone.apply(matrices[0])
    return _chain("chain_matmul", list(matrices))


def multi_dot(tensors: Any) -> Tensor:
    """``linalg.multi_dot``: the product of two or more tensors, the first (n,) or (n, a)
    and the last (k,) or (b, k), the others 2-D; a 1-D end is a row (first) or a column
    (last) that leaves the result without that dim."""
    if not isinstance(tensors, list | tuple):
        raise TypeError(f"multi_dot: expects a list of tensors, got {type(tensors).__name__}")
    if len(tensors) < 2:
        raise TinyLMError(f"multi_dot: expected at least 2 tensors, got {len(tensors)}")
    mats = list(tensors)
    for i, t in enumerate(mats):
        _tensor("multi_dot", t, f"tensor {i}")
        ends = ("first" if i == 0 else "last") if i in (0, len(mats) - 1) else None
        if (t.ndim not in (1, 2)) if ends else t.ndim != 2:
            allowed = "1-D or 2-D" if ends else "2-D"
            where = f"the {ends} tensor" if ends else f"tensor {i}"
            raise TinyLMError(f"multi_dot: {where} must be {allowed}, got {described(t)}")
    row, column = mats[0].ndim == 1, mats[-1].ndim == 1
    if row:
        mats[0] = mats[0].unsqueeze(0)
    if column:
        mats[-1] = mats[-1].unsqueeze(1)
    out = _chain("multi_dot", mats)
    if column:
        out = out.squeeze(-1)
    return out.squeeze(0) if row else out


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:  # noqa: A002
    """Each slice ``input.select(dim, i)`` whose p-norm exceeds ``maxnorm`` scaled down to
    it: x · maxnorm / (‖x_i‖_p + 1e−7) there, x elsewhere (PyTorch's formula and ε), so
    the gradient is that product's. p > 0 (inf included), maxnorm ≥ 0, floats, ≥ 2 dims."""
    _tensor("renorm", input, "input")
    p, maxnorm = _number("renorm", "p", p), _number("renorm", "maxnorm", maxnorm)
    if not p > 0:
        raise TinyLMError(f"renorm: non-positive norms are not supported, got p={p}")
    if not maxnorm >= 0:
        raise TinyLMError(f"renorm: expected maxnorm to be >= 0, got {maxnorm}")
    if input.ndim < 2:
        raise TinyLMError(f"renorm: input needs at least 2 dims, got {described(input)}")
    _floats("renorm", input)
    d = _dim("renorm", input, dim)
    axes = tuple(i for i in range(input.ndim) if i != d)
    norm = VectorNorm.apply(input, p=p, axis=axes, keepdims=True)
    factor = (maxnorm / (norm + 1e-7)).where(norm > maxnorm, 1.0)
    return (input * factor).contiguous()  # C order whatever the input's, as PyTorch's


# ---------------------------------------------------------------------------------------
# Integrals and vector products
# ---------------------------------------------------------------------------------------


def _at(x: Tensor, d: int, i: int) -> Tensor:
    """x's slice i along dim d (that dim removed), differentiably: ``x.select(d, i)``."""
    return x[(slice(None),) * d + (i,)]


def _halves(op: str, y: Tensor, dim: Any) -> tuple[int, Tensor, Tensor]:
    """dim of y and the slices y[:-1] and y[1:] along it."""
    _tensor(op, y, "y")
    if y.ndim == 0:
        raise TinyLMError(f"{op}: y must have at least 1 dim, got a 0-d tensor")
    d = _dim(op, y, dim)
    head = (slice(None),) * d
    return d, y[head + (slice(None, -1),)], y[head + (slice(1, None),)]


def _spacing(op: str, y: Tensor, x: Tensor, d: int) -> Tensor:
    """x's differences along d, shaped to broadcast against y's: a 1-D x holds one
    coordinate per sample along dim d; any other x is diffed along that dim."""
    _tensor(op, x, "x")
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise TinyLMError(
                f"{op}: there must be one x value for each sample point: x has "
                f"{x.shape[0]}, y has {y.shape[d]} along dim {d}"
            )
        shape = [1] * y.ndim
        shape[d] = builtins.max(x.shape[0] - 1, 0)
        return tensor_shaping.diff(x).reshape(tuple(shape))
    return tensor_shaping.diff(x, dim=d - y.ndim)


def _no_both(op: str, x: Any, dx: Any) -> None:
    if x is not None and dx is not None:
        raise TypeError(f"{op}: give x or dx, not both, as in PyTorch")


def trapezoid(
    y: Tensor,
    x: Tensor | None = None,
    *,
    dx: Any = None,
    dim: int = -1,
) -> Tensor:
    """∫ y along ``dim`` by the trapezoidal rule: samples spaced ``dx`` apart (1 by default),
    Σ y − (y_first + y_last)/2, all times dx; or at the coordinates ``x``,
    Σ_i (x_{i+1} − x_i)(y_i + y_{i+1})/2. y (*, n, *) → (*, *); integers give floats."""
    _no_both("trapezoid", x, dx)
    d, left, right = _halves("trapezoid", y, dim)
    if x is not None:
        return (_spacing("trapezoid", y, x, d) * (left + right)).sum(dim=d) / 2.0
    step = 1 if dx is None else dx
    if y.shape[d] == 0:
        return y.sum(dim=d) * 0.5 * step
    ends = _at(y, d, 0) + _at(y, d, -1)
    return (y.sum(dim=d) - ends * 0.5) * step


trapz = trapezoid


def cumulative_trapezoid(
    y: Tensor,
    x: Tensor | None = None,
    *,
    dx: Any = None,
    dim: int = -1,
) -> Tensor:
    """The running trapezoidal integral of y along ``dim``: element i is the integral from
    sample 0 to sample i + 1 (the dim shrinks by one), with :func:`trapezoid`'s spacings."""
    _no_both("cumulative_trapezoid", x, dx)
    d, left, right = _halves("cumulative_trapezoid", y, dim)
    if x is not None:
        return (_spacing("cumulative_trapezoid", y, x, d) * (left + right) / 2.0).cumsum(d)
    step = 1 if dx is None else _number("cumulative_trapezoid", "dx", dx)
    return (step / 2.0 * (left + right)).cumsum(d)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """``linalg.cross``: the cross product of the 3-vectors along ``dim`` (size 3 in both;
    the other dims broadcast; one dtype): c = (a₁b₂ − a₂b₁, a₂b₀ − a₀b₂, a₀b₁ − a₁b₀)."""
    _tensor("linalg.cross", input, "input")
    _tensor("linalg.cross", other, "other")
    if input.ndim != other.ndim:
        raise TinyLMError(
            f"linalg.cross: inputs must have the same number of dims, got {described(input)} "
            f"and {described(other)}"
        )
    if input.dtype != other.dtype:
        raise TinyLMError(
            f"linalg.cross: expected one dtype, got {described(input)} and {described(other)}"
        )
    d = _dim("linalg.cross", input, dim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise TinyLMError(
            f"linalg.cross: dim {dim} must have length 3 in both inputs, got "
            f"{input.shape[d]} and {other.shape[d]}"
        )
    ops.check_broadcast("linalg.cross", input.data, other.data)
    a = [_at(input, d, i) for i in range(3)]
    b = [_at(other, d, i) for i in range(3)]
    parts = (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
    return ops.Concat.apply(*(c.unsqueeze(d) for c in parts), axis=d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """``torch.cross``: :func:`linalg_cross` along ``dim``; without one, along the first
    dim of size 3, with PyTorch's warning that this default is deprecated."""
    if dim is None:
        _tensor("cross", input, "input")
        _tensor("cross", other, "other")
        sizes = [
            n
            for n in (
                np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
                if input.ndim == other.ndim
                else input.shape
            )
        ]
        if 3 not in sizes:
            raise TinyLMError(
                f"cross: no dim of size 3 in {described(input)} and {described(other)}"
            )
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated; pass dim or use "
            "linalg.cross",
            UserWarning,
            stacklevel=2,
        )
        dim = sizes.index(3)
    return linalg_cross(input, other, dim=dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """``linalg.vecdot``: Σ x · y along ``dim`` of the broadcast shape (real tensors: no
    conjugate), floats of one dtype."""
    _tensor("linalg.vecdot", x, "x")
    _tensor("linalg.vecdot", y, "y")
    _floats("linalg.vecdot", x, y)
    ops.check_broadcast("linalg.vecdot", x.data, y.data)
    product = x * y
    return product.sum(dim=_dim("linalg.vecdot", product, dim))
