"""PyTorch's shape, combining and linear-algebra functions, built from differentiable ops.

Each function here is a composition of ops that already have their backward rules
(``GetItem``, ``Permute``, ``Reshape``, ``Expand``, ``Concat``, ``MatMul``, ``Mul``, ``Sub``),
so its gradient is exactly theirs; the one new rule is :class:`CumProd`, beside its
wrapper :func:`cumprod`. ``tinylm.f(x, ...)`` and the method ``x.f(...)`` (one line in
``tinylm/tensor_math.py``) both land here.

* views: :func:`unbind`, :func:`narrow`, :func:`movedim` / :func:`moveaxis`,
  :func:`swapaxes` / :func:`swapdims` (in-place changes are seen through both tensors);
* joining: :func:`tile`, :func:`vstack`, :func:`hstack`, :func:`dstack`,
  :func:`column_stack`, :func:`meshgrid`, :func:`broadcast_tensors`, :func:`broadcast_shapes`;
* products: :func:`tensordot`, :func:`mm`, :func:`addmm`, :func:`baddbmm`, :func:`addbmm`,
  :func:`inner`, :func:`kron`;
* scans: :func:`cumprod` (exact gradients where zeros occur), :func:`diff`;

Shapes in the docstrings: ``(n, m)`` and so on; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
import functools
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm import ops
from tinylm.arg_checks import described, int_arg
from tinylm.autograd import Context, Function, TensorBase, TinyLMError
from tinylm.devices import array_module
from tinylm.dtypes import bool_, promote_types

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names (``tinylm.addmm``, as
#: ``torch.addmm``); the rest is the Function ``CumProd``.
TOP_LEVEL = [
    "addbmm",
    "addmm",
    "baddbmm",
    "broadcast_shapes",
    "broadcast_tensors",
    "column_stack",
    "cumprod",
    "diff",
    "dstack",
    "hstack",
    "inner",
    "kron",
    "meshgrid",
    "mm",
    "movedim",
    "moveaxis",
    "narrow",
    "swapaxes",
    "swapdims",
    "tensordot",
    "tile",
    "unbind",
    "vstack",
]
__all__ = [*TOP_LEVEL, "CumProd"]


def _dim(x: Tensor, dim: Any, op: str) -> int:
    """``dim`` of ``x`` made non-negative; a 0-d tensor takes 0 and −1, as in PyTorch."""
    d = int_arg(op, "dim", dim)
    n = max(x.ndim, 1)
    if not -n <= d < n:
        raise TinyLMError(
            f"{op}: dim {d} is out of range [{-n}, {n - 1}] for a tensor of shape {described(x)}"
        )
    return d % n


def _dims(x: Tensor, dims: Any, op: str, name: str) -> list[int]:
    """An int or a sequence of ints, each a dim of ``x``, none twice."""
    items = list(dims) if isinstance(dims, list | tuple) else [dims]
    out = [_dim(x, d, op) for d in items]
    if len(set(out)) != len(out):
        raise TinyLMError(f"{op}: repeated dim in {name} {tuple(items)}")
    return out


def _tensors(op: str, tensors: Any) -> list[Tensor]:
    """A non-empty list or tuple of Tensors, as a list (PyTorch takes no single tensor)."""
    if not isinstance(tensors, list | tuple):
        raise TypeError(f"{op}: expects a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise TinyLMError(f"{op}: expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{op}: element {i} must be a Tensor, got {type(t).__name__}")
    return list(tensors)


def _join(op: str, tensors: list[Tensor], dim: int) -> Tensor:
    """``cat`` along ``dim`` in the dtype the tensors promote to (int64 with float32 is
    float32, as ``torch.cat``)."""
    dtype = functools.reduce(promote_types, [t.dtype for t in tensors])
    try:
        return ops.Concat.apply(*[t.to(dtype) for t in tensors], axis=dim)
    except TinyLMError as e:
        raise TinyLMError(f"{op}: {e}") from None


def _same_dtype(op: str, *tensors: Tensor) -> None:
    """PyTorch's matrix products promote nothing: every operand in one dtype."""
    if len({t.dtype for t in tensors}) > 1:
        raise TinyLMError(
            f"{op}: expected all tensors to have the same dtype, got "
            f"{', '.join(described(t) for t in tensors)}; convert one first, e.g. b.to(a.dtype)"
        )


# ---------------------------------------------------------------------------------------
# Views: the result shares the input's memory
# ---------------------------------------------------------------------------------------


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002 - PyTorch's name
    """The slices of ``input`` along ``dim``, that dim removed: (n, m).unbind(0) gives n
    tensors of shape (m,). Views (indexing), so each gets its part of the gradient."""
    if input.ndim == 0:
        raise TinyLMError(f"unbind: needs a tensor with at least 1 dim, got {described(input)}")
    d = _dim(input, dim, "unbind")
    return tuple(input[(slice(None),) * d + (i,)] for i in range(input.shape[d]))


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    """Elements ``start`` … ``start + length − 1`` along ``dim``: a view (in-place changes are
    seen through both). ``start`` may be negative (counted from the end) or a 0-d integer
    tensor; (…, n, …) → (…, length, …)."""
    if input.ndim == 0:
        raise TinyLMError("narrow: cannot be applied to a 0-dim tensor")
    d = _dim(input, dim, "narrow")
    begin, length = int_arg("narrow", "start", start), int_arg("narrow", "length", length)
    size = input.shape[d]
    if not -size <= begin <= size:
        raise TinyLMError(
            f"narrow: start {begin} is out of range [{-size}, {size}] for dim {dim} of size {size}"
        )
    if length < 0:
        raise TinyLMError(f"narrow: length must be non-negative, got {length}")
    if begin < 0:
        begin += size
    if begin + length > size:
        raise TinyLMError(
            f"narrow: start ({begin}) + length ({length}) exceeds dim {dim}'s size ({size})"
        )
    return input[(slice(None),) * d + (slice(begin, begin + length),)]


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    """The dims ``source`` (an int or a sequence) moved to the places ``destination``, the
    other dims keeping their order: (2, 3, 4) with source 0, destination −1 is (3, 4, 2).
    A view (a permutation of the axes)."""
    src = _dims(input, source, "movedim", "source")
    dst = _dims(input, destination, "movedim", "destination")
    if len(src) != len(dst):
        raise TinyLMError(
            f"movedim: source {source} and destination {destination} must name as many dims"
        )
    if input.ndim == 0:  # dims 0 and -1 of a 0-d tensor: nothing moves
        return input.permute(())
    order: list[int | None] = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(input.ndim) if d not in src)
    return input.permute(tuple(next(rest) if o is None else o for o in order))


moveaxis = movedim


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    """Dims ``axis0`` and ``axis1`` exchanged: a view (``transpose``), checked as PyTorch's
    (also for tensors of fewer than 2 dims)."""
    a, b = _dim(input, axis0, "swapaxes"), _dim(input, axis1, "swapaxes")
    order = list(range(input.ndim))
    if input.ndim:
        order[a], order[b] = order[b], order[a]
    return input.permute(tuple(order))


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """:func:`swapaxes` by PyTorch's other name."""
    return swapaxes(input, dim0, dim1)


# ---------------------------------------------------------------------------------------
# Joining and broadcasting
# ---------------------------------------------------------------------------------------


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    """``input`` repeated ``dims[i]`` times along dim i; fewer counts than dims are padded
    with leading 1s (``tile((2,))`` of a (2, 3) tensor is (2, 6)), more add leading dims.
    Always a new tensor, as PyTorch's; the gradient sums the copies (``repeat``)."""
    counts = dims if isinstance(dims, list | tuple) else [dims]
    reps = tuple(int_arg("tile", "dims", r) for r in counts)
    if any(r < 0 for r in reps):
        raise TinyLMError(f"tile: repeat counts must be non-negative, got {reps}")
    reps = (1,) * (input.ndim - len(reps)) + reps
    out = input.repeat(reps) if reps else input.reshape(())
    if out.numel() and array_module(out.data).may_share_memory(out.data, input.data):
        out = ops.Clone.apply(out)  # repeat may hand back a view (all counts 1): tile copies
    return out


def _at_least(x: Tensor, ndim: int) -> Tensor:
    """PyTorch's atleast_1d/2d/3d: a 0-d tensor is (1, …), (n,) is (1, n) in 2-D and
    (1, n, 1) in 3-D, (m, n) is (m, n, 1) in 3-D; more dims stay as they are."""
    shape = tuple(x.shape)
    if len(shape) >= ndim:
        return x
    if ndim == 3 and len(shape) == 2:
        return x.reshape(shape + (1,))
    if ndim == 3 and len(shape) == 1:
        return x.reshape((1,) + shape + (1,))
    return x.reshape((1,) * (ndim - len(shape)) + shape)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Rows joined: each tensor made at least 2-D ((n,) becomes (1, n)), then ``cat`` along
    dim 0, in the promoted dtype."""
    ts = _tensors("vstack", tensors)
    return _join("vstack", [_at_least(t, 2) for t in ts], 0)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Columns joined: ``cat`` along dim 0 when the first tensor is 1-D (or 0-d), else along
    dim 1, in the promoted dtype."""
    ts = [_at_least(t, 1) for t in _tensors("hstack", tensors)]
    return _join("hstack", ts, 0 if ts[0].ndim == 1 else 1)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Depth joined: each tensor made at least 3-D ((n,) is (1, n, 1), (m, n) is (m, n, 1)),
    then ``cat`` along dim 2, in the promoted dtype."""
    ts = _tensors("dstack", tensors)
    return _join("dstack", [_at_least(t, 3) for t in ts], 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Each 0-d or 1-D tensor of n elements as a column (n, 1), other tensors as they are,
    joined along dim 1 (``hstack``), in the promoted dtype."""
    ts = _tensors("column_stack", tensors)
    return _join("column_stack", [t.reshape(-1, 1) if t.ndim <= 1 else t for t in ts], 1)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids of k 0-d or 1-D tensors of sizes n_1 … n_k (one dtype): k tensors
    of shape (n_1, …, n_k) with ``indexing='ij'``, or (n_2, n_1, n_3, …) with ``'xy'`` (the
    first two dims exchanged, as NumPy's and MATLAB's). Tensor i varies along its own dim
    and is copied along the others: an ``expand`` (a view; the gradient sums the copies).
    Without ``indexing`` it is 'ij' and warns, as PyTorch does."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    ts = _tensors("meshgrid", list(tensors))
    if indexing is None:
        warnings.warn(
            "meshgrid: pass indexing='ij' or 'xy'; without it PyTorch (and tinylm) use 'ij', "
            "and PyTorch will require the argument in an upcoming release",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise TinyLMError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, t in enumerate(ts):
        if t.ndim > 1:
            raise TinyLMError(f"meshgrid: expects 0-d or 1-D tensors, but tensor {i} is "
                              f"{described(t)}")  # fmt: skip
    if len({t.dtype for t in ts}) > 1 or len({t.device for t in ts}) > 1:
        raise TinyLMError(
            "meshgrid: expects all tensors to have the same dtype and device, got "
            + ", ".join(f"{described(t)} on {t.device}" for t in ts)
        )
    place = list(range(len(ts)))  # the output dim along which tensor i varies
    if indexing == "xy" and len(ts) > 1:
        place[0], place[1] = 1, 0
    shape = [0] * len(ts)
    for i, t in enumerate(ts):
        shape[place[i]] = t.numel()
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[place[i]] = t.numel()
        grids.append(ops.Expand.apply(t.reshape(tuple(view)), shape=tuple(shape)))
    return tuple(grids)


def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    """The shape that tensors of ``shapes`` broadcast to (an int n stands for (n,)), without
    making any tensor: ``broadcast_shapes((2, 1), (3,))`` is (2, 3)."""
    given = []
    for s in shapes:
        shape = tuple(s) if isinstance(s, list | tuple) else (s,)
        shape = tuple(int_arg("broadcast_shapes", "sizes", n) for n in shape)
        if any(n < 0 for n in shape):
            raise TinyLMError(f"broadcast_shapes: sizes must be non-negative, got {shape}")
        given.append(shape)
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*given))
    except ValueError:
        raise TinyLMError(
            f"broadcast_shapes: shapes {', '.join(map(str, given))} do not broadcast together "
            "(each dim, counted from the end, must be equal or 1)"
        ) from None


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Each tensor expanded to the shape they broadcast to together (views, no copy; each
    tensor's gradient is the sum over its copies). Dtypes are kept."""
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(f"broadcast_tensors: argument {i} must be a Tensor, got {type(t)}")
    try:
        shape = broadcast_shapes(*[t.shape for t in tensors])
    except TinyLMError as e:
        raise TinyLMError(str(e).replace("broadcast_shapes", "broadcast_tensors", 1)) from None
    return tuple(ops.Expand.apply(t, shape=shape) for t in tensors)


# ---------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------


def _contraction(dims: Any, a: Tensor, b: Tensor) -> tuple[list[int], list[int]]:
    """tensordot's ``dims`` as the two lists of contracted dims (of a, of b)."""
    if isinstance(dims, TensorBase):
        dims = dims.tolist()
    if isinstance(dims, int | np.integer) and not isinstance(dims, builtins.bool):
        n = int(dims)
        if n < 0:
            raise TinyLMError(f"tensordot: expects dims >= 0, got dims={n}")
        if n > a.ndim or n > b.ndim:
            raise TinyLMError(
                f"tensordot: dims={n} is more than the dims of {described(a)} or {described(b)}"
            )
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    pair = list(dims) if isinstance(dims, list | tuple) else None
    if pair is None or len(pair) != 2 or not all(isinstance(p, list | tuple) for p in pair):
        raise TinyLMError(
            f"tensordot: dims must be an int or a pair of lists of dims ([dims of a], [dims of "
            f"b]), got {dims!r}"
        )
    if len(pair[0]) != len(pair[1]):
        raise TinyLMError(f"tensordot: both lists of dims must have the same length, got {dims}")
    return _dims(a, pair[0], "tensordot", "dims"), _dims(b, pair[1], "tensordot", "dims")


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Σ over the contracted dims of a·b: ``dims=k`` contracts a's last k dims with b's first
    k; ``dims=([i, …], [j, …])`` contracts a's dim i with b's dim j, and so on. The result's
    dims are a's free dims, then b's. (2, 3, 4) and (4, 3, 5) with dims=([1, 2], [1, 0]) give
    (2, 5). A contracted dim of size 1 pairs with any size (the other side is summed first),
    as in PyTorch. Computed as one matrix product: a permuted and reshaped to (free_a, K),
    b to (K, free_b)."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"tensordot: {name} must be a Tensor, got {type(t).__name__}")
    _same_dtype("tensordot", a, b)
    dims_a, dims_b = _contraction(dims, a, b)
    for i, j in zip(dims_a, dims_b):
        n, m = a.shape[i], b.shape[j]
        if n != m:
            if n != 1 and m != 1:
                raise TinyLMError(
                    f"tensordot: contracted dims must match, but a has size {n} in dim {i} "
                    f"and b has size {m} in dim {j} ({described(a)} and {described(b)})"
                )
            if n != 1:  # one side of size 1: the other side's elements are summed first
                a = a.sum(dim=i, keepdim=True).to(a.dtype)
            else:
                b = b.sum(dim=j, keepdim=True).to(b.dtype)
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = math.prod(a.shape[d] for d in dims_a)
    rows = a.permute(tuple(free_a + dims_a)).reshape(math.prod(a.shape[d] for d in free_a), k)
    cols = b.permute(tuple(dims_b + free_b)).reshape(k, math.prod(b.shape[d] for d in free_b))
    shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    return (rows @ cols).reshape(shape)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """The matrix product (n, m) @ (m, p) → (n, p): both 2-D and of one dtype (``matmul``
    broadcasts and takes other dims)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if not isinstance(t, TensorBase) or t.ndim != 2:
            shown = described(t) if isinstance(t, TensorBase) else type(t).__name__
            raise TinyLMError(f"mm: {name} must be a matrix (2-D), got {shown}")
    if input.shape[1] != mat2.shape[0]:
        raise TinyLMError(
            f"mm: shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})"
        )
    _same_dtype("mm", input, mat2)
    return input @ mat2


def _scalar(op: str, name: str, value: Any, dtype: np.dtype) -> Any:
    """beta or alpha: a number; an integer (or bool) for integer tensors, where PyTorch
    would silently cut 0.5 to 0."""
    if isinstance(value, TensorBase) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    if dtype.kind in "biu" and not isinstance(value, int | np.integer):
        raise TinyLMError(
            f"{op}: {name}={value!r} is not an integer, but the tensors are {dtype}; PyTorch "
            "would cut it to an integer silently: convert the tensors to a float dtype first"
        )
    return value


def _scaled_sum(op: str, input: Tensor, product: Tensor, beta: Any, alpha: Any) -> Tensor:  # noqa: A002
    """beta · input + alpha · product, with input broadcast to the product's shape (not the
    other way round). As in PyTorch, beta = 0 ignores input's values (NaN and inf too) and
    alpha = 0 the product's; their gradients are then 0."""
    if not isinstance(input, TensorBase):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    beta = _scalar(op, "beta", beta, product.dtype)
    alpha = _scalar(op, "alpha", alpha, product.dtype)
    shape = tuple(product.shape)
    try:
        fits = np.broadcast_shapes(tuple(input.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise TinyLMError(
            f"{op}: input of shape {tuple(input.shape)} does not broadcast to the product's "
            f"shape {shape}"
        )

    def times(t: Tensor, c: Any) -> Tensor:
        if c == 0:  # every element 0, whatever it was: MaskedFill (gradient 0)
            return t.masked_fill(t.new_ones(t.shape, dtype=bool_), 0)
        return t if c == 1 else t * c

    return times(input, beta) + times(product, alpha)


def addmm(
    input: Tensor,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """beta · input + alpha · (mat1 @ mat2): (n, m) @ (m, p), input broadcast to (n, p);
    every tensor of one dtype. beta = 0 ignores input (NaN included), as PyTorch."""
    product = mm(mat1, mat2)
    _same_dtype("addmm", input, mat1, mat2)
    return _scaled_sum("addmm", input, product, beta, alpha)


def _batches(op: str, batch1: Tensor, batch2: Tensor) -> None:
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if not isinstance(t, TensorBase) or t.ndim != 3:
            shown = described(t) if isinstance(t, TensorBase) else type(t).__name__
            raise TinyLMError(f"{op}: {name} must be a 3-D tensor (B, n, m), got {shown}")
    b1, b2 = batch1.shape, batch2.shape
    if b1[0] != b2[0] or b1[2] != b2[1]:
        raise TinyLMError(f"{op}: needs batches (B, n, m) and (B, m, p), got shapes {b1} and {b2}")


def baddbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """beta · input + alpha · (batch1 @ batch2): (B, n, m) @ (B, m, p) → (B, n, p), input
    broadcast to (B, n, p); every tensor of one dtype."""
    _batches("baddbmm", batch1, batch2)
    _same_dtype("baddbmm", input, batch1, batch2)
    return _scaled_sum("baddbmm", input, batch1 @ batch2, beta, alpha)


def addbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """beta · input + alpha · Σ_b batch1[b] @ batch2[b]: (B, n, m), (B, m, p) → (n, p), input
    broadcast to (n, p); every tensor of one dtype."""
    _batches("addbmm", batch1, batch2)
    _same_dtype("addbmm", input, batch1, batch2)
    return _scaled_sum("addbmm", input, (batch1 @ batch2).sum(0), beta, alpha)


def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ over the last dim of input·other: (…a, n) and (…b, n) → (…a, …b); with a 0-d
    tensor, the product input · other (in the promoted dtype, as in PyTorch)."""
    if not isinstance(other, TensorBase):
        raise TypeError(f"inner: other must be a Tensor, got {type(other).__name__}")
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise TinyLMError(
            f"inner: the last dims must match, got shapes {tuple(input.shape)} and "
            f"{tuple(other.shape)}"
        )
    _same_dtype("inner", input, other)
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product: block (i, j, …) of the result is input[i, j, …] · other;
    (a_1, …, a_k) and (b_1, …, b_k) → (a_1 b_1, …, a_k b_k), the shorter shape padded with
    leading 1s. Computed as input with a size-1 dim after each of its dims times other
    with one before each (a broadcast product, gradient exact), then merged."""
    if not isinstance(other, TensorBase):
        raise TypeError(f"kron: other must be a Tensor, got {type(other).__name__}")
    k = builtins.max(input.ndim, other.ndim)
    sa = (1,) * (k - input.ndim) + tuple(input.shape)
    sb = (1,) * (k - other.ndim) + tuple(other.shape)
    spread_a = input.reshape(tuple(v for n in sa for v in (n, 1)))
    spread_b = other.reshape(tuple(v for n in sb for v in (1, n)))
    return (spread_a * spread_b).reshape(tuple(n * m for n, m in zip(sa, sb)))


# ---------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------


class CumProd(Function):
    """y_i = x_0 · x_1 ⋯ x_i along ``axis`` (integers and bools multiply as int64).

    dy_i/dx_k = Π_{j ≤ i, j ≠ k} x_j for i ≥ k, so with g = dL/dy

        dL/dx_k = (x_0 ⋯ x_{k−1}) · S_k,   S_k = Σ_{i ≥ k} g_i · x_{k+1} ⋯ x_i,

    and S is one backward scan: S_{n−1} = g_{n−1}, S_k = g_k + x_{k+1} · S_{k+1}. Nothing is
    divided by x_k (Σ_{i≥k} g_i y_i / x_k, the short form, is 0/0 at a zero), so the
    gradient is exact where zeros occur. The scan is a Python loop over the axis, each
    step one vectorised multiply-add over all the other axes.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int) -> Any:
        axes = ops.normalize_axis(axis, x.ndim, "cumprod")
        ctx.axes = axes
        if not axes:  # a 0-d tensor: the product of one element is itself
            return x.copy()
        ctx.save_for_backward(x)
        kind = x.dtype.kind
        xp = array_module(x)
        return ops.c_order(xp.cumprod(x, axis=axes[0], dtype=np.int64 if kind in "biu" else None))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        if not ctx.axes:
            return g
        (x,) = ctx.saved_arrays
        xp, a = array_module(g), ctx.axes[0]
        gs, xs = xp.moveaxis(g, a, 0), xp.moveaxis(x, a, 0)  # the scanned axis first
        n = xs.shape[0]
        if n == 0:
            return xp.zeros(x.shape, dtype=g.dtype)
        s = xp.empty(gs.shape, dtype=g.dtype)
        s[n - 1] = gs[n - 1]
        for k in range(n - 2, -1, -1):
            s[k] = gs[k] + xs[k + 1] * s[k + 1]
        before = xp.ones(gs.shape, dtype=g.dtype)  # x_0 ⋯ x_{k−1}: 1 for k = 0
        before[1:] = xp.cumprod(xs[:-1], axis=0)
        return xp.moveaxis(before * s, 0, a)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """y_i = x_0 ⋯ x_i along ``dim`` (shape kept); integers and bools give int64; ``dtype``
    converts the input first. The gradient is exact where zeros occur (:class:`CumProd`)."""
    _dim(input, dim, "cumprod")  # an out-of-range dim named with this tensor's shape
    x = input if dtype is None else input.to(dtype)
    return CumProd.apply(x, axis=dim)


def diff(
    input: Tensor,  # noqa: A002
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The n-th forward difference along ``dim``: out_i = x_{i+1} − x_i, applied n times
    (the dim shrinks by n, to 0 at most), after ``prepend`` and ``append`` (tensors of the
    same number of dims) are joined on; bools give x_{i+1} != x_i, as in PyTorch (and
    n = 0 gives a copy of the input alone, as there). Made of slices and subtractions: the
    gradient is theirs."""
    n = int_arg("diff", "n", n)
    if n < 0:
        raise TinyLMError(f"diff: order n must be non-negative, got {n}")
    if input.ndim == 0:
        raise TinyLMError("diff: expects a tensor with at least 1 dim, got a 0-d tensor")
    d = _dim(input, dim, "diff")
    parts = [input]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        if not isinstance(extra, TensorBase):
            raise TypeError(f"diff: {name} must be a Tensor, got {type(extra).__name__}")
        if extra.ndim != input.ndim or any(
            p != q for i, (p, q) in enumerate(zip(extra.shape, input.shape)) if i != d
        ):
            raise TinyLMError(
                f"diff: {name} of shape {tuple(extra.shape)} must match the input's shape "
                f"{tuple(input.shape)} in every dim but dim {dim}"
            )
        parts.insert(0 if name == "prepend" else len(parts), extra)
    if n == 0:  # as PyTorch: the input itself (a copy), prepend and append left off
        return ops.Clone.apply(input)
    x = _join("diff", parts, d) if len(parts) > 1 else input
    head = (slice(None),) * d
    for _ in range(builtins.min(n, x.shape[d])):  # after x.shape[d] steps the dim is empty
        later, earlier = x[head + (slice(1, None),)], x[head + (slice(None, -1),)]
        x = (later != earlier) if x.dtype == bool_ else later - earlier
    return ops.Clone.apply(x) if x is input else x  # an empty dim: still a new tensor
