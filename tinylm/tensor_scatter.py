"""PyTorch's scatter and select families: ``scatter``, ``scatter_reduce``, ``index_reduce``,
``put``, ``select``, ``select_scatter``, ``slice_scatter``, ``diagonal_scatter`` and the
sliding-window view ``Tensor.unfold``.

``tinylm.f(x, ...)`` and the method ``x.f(...)`` (one line in ``tinylm/tensor_math.py``)
both land here. Three rules are new and sit beside their wrappers: :class:`ScatterReduce`
(``scatter``, ``scatter_reduce``, ``index_reduce``), :class:`DiagonalScatter` and
:class:`UnfoldWindows`; the others reuse ``GetItem`` (``select``) and
:class:`tinylm.tensor_selecting.IndexPut` (``put``, ``select_scatter``, ``slice_scatter``).

The gradients are PyTorch's, also where PyTorch picks a convention: ``amax``/``amin`` share
g evenly among the elements equal to the result; ``prod`` divides out an element that is not
0 and recomputes the product without it where it is. Where PyTorch leaves a result undefined
(``scatter`` and ``put`` without accumulating, one place written twice) tinylm refuses the
repeat, as ``index_copy`` does. Shapes in the docstrings: ``(n, m)``; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm import ops
from tinylm.arg_checks import described, int_arg
from tinylm.autograd import Context, Function, TensorBase, TinyLMError
from tinylm.devices import array_module, to_device_array
from tinylm.tensor_selecting import IndexPut

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names.
TOP_LEVEL = [
    "diagonal_scatter",
    "index_reduce",
    "put",
    "scatter",
    "scatter_reduce",
    "select",
    "select_scatter",
    "slice_scatter",
]
__all__ = [*TOP_LEVEL, "DiagonalScatter", "ScatterReduce", "UnfoldWindows", "unfold"]

SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")
INDEX_REDUCES = ("prod", "mean", "amax", "amin")


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _dim(op: str, dim: Any, ndim: int) -> int:
    """``dim`` of a tensor of ``ndim`` dims, made non-negative (a 0-d tensor takes 0, −1)."""
    d = int_arg(op, "dim", dim)
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise TinyLMError(f"{op}: dim {d} is out of range [{-n}, {n - 1}]")
    return d % n


def _int_array(op: str, name: str, index: Any, like: Tensor) -> Any:
    a = index.data if isinstance(index, TensorBase) else index
    a = a if hasattr(a, "shape") else np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TinyLMError(f"{op}: {name} must be an integer tensor, got dtype {a.dtype}")
    return to_device_array(a, like.device)


def _same_dtype(op: str, x: Tensor, src: Tensor, name: str) -> None:
    if src.dtype != x.dtype:
        raise TinyLMError(
            f"{op}: self and {name} must have the same dtype, got {x.dtype} and {src.dtype}; "
            f"convert one first, e.g. {name}.to(x.dtype)"
        )


def _scatter_index(op: str, x: Tensor, dim: Any, index: Any, src_shape: Any) -> tuple[int, Any]:
    """(dim, index) checked as PyTorch's scatter family checks them: index has x's number
    of dims, is no longer than ``src_shape`` along any dim nor than x along the others, and
    lies in [0, x.shape[dim]) (no negatives)."""
    d = _dim(op, dim, x.ndim)
    idx = _int_array(op, "index", index, x)
    if idx.size == 0:
        return d, idx
    if idx.ndim != builtins.max(x.ndim, 1) and not (x.ndim == 0 and idx.ndim == 0):
        raise TinyLMError(
            f"{op}: index of shape {tuple(idx.shape)} must have the same number of dims as the "
            f"tensor {described(x)}"
        )
    shape = tuple(x.shape) or (1,)
    ishape = tuple(idx.shape) or (1,)
    sshape = tuple(src_shape) if src_shape is not None else ishape
    sshape = sshape or (1,)
    if len(sshape) != len(ishape) or any(i > s for i, s in zip(ishape, sshape)):
        raise TinyLMError(
            f"{op}: index of shape {tuple(idx.shape)} must be no longer than src "
            f"{tuple(src_shape)} along any dim (and have its number of dims)"
        )
    if any(i > s for k, (i, s) in enumerate(zip(ishape, shape)) if k != d):
        raise TinyLMError(
            f"{op}: index of shape {tuple(idx.shape)} must be no longer than the tensor "
            f"{described(x)} along every dim but {d}"
        )
    n = shape[d]
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= n:
        raise TinyLMError(
            f"{op}: index {lo if lo < 0 else hi} is out of bounds for dimension {d} with size {n}"
        )
    return d, idx


def _no_repeats(op: str, where: tuple[Any, ...], shape: tuple[int, ...], hint: str) -> None:
    xp = array_module(where[0])
    flat = xp.ravel_multi_index(tuple(xp.broadcast_arrays(*where)), shape).reshape(-1)
    if flat.size != len(xp.unique(flat)):
        raise TinyLMError(
            f"{op}: the index names a place more than once, where PyTorch's result is undefined "
            f"(it depends on which write comes last); give each place once{hint}"
        )


# ---------------------------------------------------------------------------------------
# scatter, scatter_reduce, index_reduce: one rule
# ---------------------------------------------------------------------------------------


def _identity(reduce: str, dtype: np.dtype) -> Any:
    """The value that leaves ``reduce`` unchanged: written first where include_self=False."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _reduced(x: Any, s: Any, where: tuple[Any, ...], reduce: str, include_self: bool) -> Any:
    """x with the elements s reduced into the places ``where`` (the forward of
    :class:`ScatterReduce`, on arrays); an integer mean rounds down, as PyTorch's."""
    xp = array_module(x)
    y = xp.array(x, copy=True, order="C")
    if reduce == "assign":
        y[where] = s
        return y
    if not include_self:
        y[where] = _identity(reduce, y.dtype)
    ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply}.get(reduce)
    ufunc = ufunc or (xp.maximum if reduce == "amax" else xp.minimum)
    if y.dtype == np.bool_ and reduce in ("sum", "mean"):
        ufunc = xp.logical_or
    ufunc.at(y, where, s)
    if reduce == "mean":
        count = xp.zeros(y.shape, dtype=np.int64)
        xp.add.at(count, where, 1)
        count = count + 1 if include_self else xp.maximum(count, 1)
        if y.dtype.kind == "f":
            y = y / count.astype(y.dtype)
        else:
            y = xp.floor_divide(y, count).astype(y.dtype)
    return y


class ScatterReduce(Function):
    """y = x with the elements of src reduced into the places ``index`` names along ``axis``
    (for axis 0 of a 2-D x: y[index[i, j], j] = reduce(x[index[i, j], j] if include_self,
    src[i, j], …)); places no index names keep x. Only the part of src of index's shape is
    used. ``reduce``: "sum", "prod", "mean", "amax", "amin", or "assign" (``scatter``:
    src[i, j] replaces the value; each place named once).

    Gradients (PyTorch's), with G = g at each src element's place (g[index[i, j], j]), and
    dL/dx zero at the named places when include_self=False (or for "assign"):

    * sum: dL/dx = g, dL/dsrc = G;
    * mean: with N the count of values averaged at a place, dL/dx = g / N, dL/dsrc = G / N;
    * prod: dL/dx = g · y / x, dL/dsrc = G · y / src; where an element is 0, the product of
      the others instead (y / element is 0 / 0 there);
    * amax, amin: g shared evenly among the values (of x and src) equal to y at a place;
    * assign: dL/dsrc = G.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        src: Any,
        *,
        axis: int,
        index: Any,
        reduce: str,
        include_self: bool,
    ) -> Any:
        where = ops.along_axis_index(index, axis)
        used = tuple(slice(0, n) for n in index.shape)
        s = src[used]
        y = _reduced(x, s, where, reduce, include_self)
        ctx.meta = (where, used, src.shape, reduce, include_self)
        if reduce in ("prod", "amax", "amin") and any(ctx.needs_input_grad):
            ctx.save_for_backward(x, s, y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        where, used, src_shape, reduce, include_self = ctx.meta
        xp = array_module(g)
        if reduce in ("sum", "assign"):
            gx, gs = g, g[where]
        elif reduce == "mean":
            n = xp.full(g.shape, 1 if include_self else 0, dtype=g.dtype)
            xp.add.at(n, where, 1)
            n[n == 0] = 1
            gx, gs = g / n, g[where] / n[where]
        elif reduce == "prod":
            gx, gs = _prod_grads(g, *ctx.saved_arrays, where, include_self)
        else:
            x, s, y = ctx.saved_arrays
            x_is = (x == y).astype(g.dtype)
            s_is = (s == y[where]).astype(g.dtype)
            n = x_is.copy()
            xp.add.at(n, where, s_is)
            shared = g / n
            gx, gs = x_is * shared, s_is * shared[where]
        if not include_self or reduce == "assign":
            gx = xp.array(gx, copy=True)
            gx[where] = 0
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = xp.zeros(src_shape, dtype=g.dtype)
            gsrc[used] = gs
        return gx, gsrc


def _prod_grads(
    g: Any, x: Any, s: Any, y: Any, where: tuple[Any, ...], include_self: bool
) -> tuple[Any, Any]:
    """The product's gradients, PyTorch's way: y / element where the element is not 0;
    where it is, the product of the others (recomputed with that element set to 1), which is
    0 where another 0 shares the place."""
    xp = array_module(g)
    one = g.dtype.type(1)
    masked_x = xp.where(x == 0, one, x)
    gx = g * _reduced(masked_x, s, where, "prod", include_self) / masked_x
    s_zero = s == 0
    zeros_at = xp.zeros(g.shape, dtype=g.dtype)
    xp.add.at(zeros_at, where, s_zero.astype(g.dtype))
    single = s_zero & (zeros_at[where] == 1)
    without = _reduced(x, xp.where(single, one, s), where, "prod", include_self)
    gs = xp.where(single, (g * without)[where], (g * y)[where] / xp.where(s_zero, one, s))
    return gx, gs


def _check_reduce(op: str, reduce: Any, allowed: tuple[str, ...]) -> str:
    if reduce not in allowed:
        hint = ""
        if reduce in ("max", "min"):  # PyTorch's forward takes them; its backward refuses
            hint = f" (use '{'a' + reduce}', the name PyTorch documents)"
        raise TinyLMError(
            f"{op}: reduce must be one of {', '.join(repr(r) for r in allowed)}, got "
            f"{reduce!r}{hint}"
        )
    return reduce


def scatter_reduce(
    input: Tensor,  # noqa: A002 - PyTorch's name
    dim: int,
    index: Any,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of ``input`` with the elements of ``src`` reduced into the places ``index``
    names along ``dim`` (for dim 0: y[index[i][j]][j] = reduce(y[…][j], src[i][j])), as
    ``torch.scatter_reduce``: ``reduce`` is "sum", "prod", "mean", "amax" or "amin";
    ``include_self=False`` leaves input's value out of the reduction at the named places.
    index (integers in [0, n)) has input's dims, no longer than src along any dim nor than
    input along the others; src has input's dtype. An integer mean rounds down, as PyTorch's.
    :class:`ScatterReduce` (gradients as PyTorch's, for src larger than index too)."""
    x = _tensor("scatter_reduce", "input", input)
    src = _tensor("scatter_reduce", "src", src)
    _check_reduce("scatter_reduce", reduce, SCATTER_REDUCES)
    _same_dtype("scatter_reduce", x, src, "src")
    if x.dtype == np.bool_ and reduce == "mean":
        raise TinyLMError("scatter_reduce: reduce='mean' is not supported for bool tensors")
    d, idx = _scatter_index("scatter_reduce", x, dim, index, src.shape)
    if idx.size == 0:
        return ops.Clone.apply(x)
    if x.ndim == 0:  # as a (1,) tensor: every index is 0
        out = scatter_reduce(
            x.reshape(1), 0, idx.reshape(-1), src.reshape(-1), reduce, include_self=include_self
        )
        return out.reshape(())
    return ScatterReduce.apply(
        x, src, axis=d, index=idx, reduce=reduce, include_self=builtins.bool(include_self)
    )


def scatter(
    input: Tensor,  # noqa: A002 - PyTorch's name
    dim: int,
    index: Any,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    """A copy of ``input`` with the places ``index`` names along ``dim`` overwritten:
    y[index[i][j]][j] = src[i][j] for dim 0 (or the number ``value`` everywhere named), as
    ``torch.scatter`` (``zeros(n, C).scatter(1, t.unsqueeze(1), 1.0)`` is a one-hot matrix).
    With a src, a place named twice is refused (PyTorch's result depends on which write comes
    last); with a value it is written once. dL/dinput = g, 0 at the written places;
    dL/dsrc = g at each element's place (:class:`ScatterReduce`, reduce "assign").
    PyTorch's deprecated ``reduce=`` is refused: use :func:`scatter_reduce`."""
    x = _tensor("scatter", "input", input)
    if reduce is not None:
        raise TinyLMError(
            f"scatter: reduce={reduce!r} (deprecated in PyTorch) is not supported; use "
            "scatter_reduce(dim, index, src, 'sum' or 'prod') or scatter_add"
        )
    if value is None and isinstance(src, builtins.bool | int | float | np.number):
        value, src = src, None  # scatter(dim, index, 1.0): the number positionally
    if (src is None) == (value is None):
        raise TypeError("scatter: give src (a tensor) or value (a number), one of them")
    if src is not None:
        src = _tensor("scatter", "src", src)
        _same_dtype("scatter", x, src, "src")
    d, idx = _scatter_index("scatter", x, dim, index, None if src is None else src.shape)
    if idx.size == 0:
        return ops.Clone.apply(x)
    if x.ndim == 0:
        flat = src.reshape(-1) if src is not None else None
        return scatter(x.reshape(1), 0, idx.reshape(-1), flat, value=value).reshape(())
    where = ops.along_axis_index(idx, d)
    if src is None:  # one number: writing it twice at a place is writing it once
        src = x.new_full(tuple(idx.shape), value)
    else:
        _no_repeats("scatter", where, tuple(x.shape), "")
    return ScatterReduce.apply(x, src, axis=d, index=idx, reduce="assign", include_self=False)


# ---------------------------------------------------------------------------------------
# index_reduce, put
# ---------------------------------------------------------------------------------------


def _slice_index(op: str, x: Tensor, dim: Any, index: Any) -> tuple[int, Any]:
    """(dim, a 1-D index in [0, n)) for the index_* ops: index 0-d or 1-D."""
    d = _dim(op, dim, x.ndim)
    idx = _int_array(op, "index", index, x)
    if idx.ndim > 1:
        raise TinyLMError(f"{op}: index should have dimension 1 or 0 (got shape {idx.shape})")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise TinyLMError(f"{op}: index {bad} is out of range for dimension {d} of size {n}")
    return d, idx


def index_reduce(
    input: Tensor,  # noqa: A002 - PyTorch's name
    dim: int,
    index: Any,
    source: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of ``input`` with slice i of ``source`` reduced into slice ``index[i]`` along
    ``dim`` (for dim 0: y[index[i]] = reduce(y[index[i]], source[i])), as
    ``torch.index_reduce``: ``reduce`` is "prod", "mean", "amax" or "amin"; source has
    input's shape and dtype but len(index) along dim. An integer mean rounds down, as
    PyTorch's. It is :func:`scatter_reduce` with the index spread over the other dims, so
    its gradients are those of :class:`ScatterReduce`."""
    x = _tensor("index_reduce", "input", input)
    source = _tensor("index_reduce", "source", source)
    _check_reduce("index_reduce", reduce, INDEX_REDUCES)
    _same_dtype("index_reduce", x, source, "source")
    if x.dtype == np.bool_ and reduce == "mean":
        raise TinyLMError("index_reduce: reduce='mean' is not supported for bool tensors")
    d, idx = _slice_index("index_reduce", x, dim, index)
    if x.ndim == 0:
        if source.numel() != 1 or idx.size != 1:
            raise TinyLMError(
                f"index_reduce: source of shape {tuple(source.shape)} and index of "
                f"{idx.size} elements for a 0-d tensor: give one index and one source element"
            )
        x1, s1 = x.reshape(1), source.reshape(-1)
        out = index_reduce(x1, 0, idx, s1, reduce, include_self=include_self)
        return out.reshape(())
    expected = tuple(x.shape[:d]) + (len(idx),) + tuple(x.shape[d + 1 :])
    if tuple(source.shape) != expected:
        raise TinyLMError(
            f"index_reduce: source of shape {tuple(source.shape)} must have shape {expected} "
            f"(the input's {tuple(x.shape)} with the index's length {len(idx)} along dim {d})"
        )
    spread = [1] * x.ndim
    spread[d] = -1
    full = array_module(idx).broadcast_to(idx.reshape(spread), expected)
    if full.size == 0:
        return ops.Clone.apply(x)
    return ScatterReduce.apply(
        x,
        source,
        axis=d,
        index=full,
        reduce=reduce,
        include_self=builtins.bool(include_self),
    )


def put(
    input: Tensor,  # noqa: A002 - PyTorch's name
    index: Any,
    source: Tensor,
    accumulate: bool = False,
) -> Tensor:
    """A copy of ``input`` with the elements of ``source`` written at the places ``index``
    names in input read as 1-D (row-major; negatives count from the end), as ``torch.put``;
    ``accumulate=True`` adds them, a place named twice getting both. source has input's
    dtype and as many elements as index (any shapes). Without accumulate a place named twice
    is refused (PyTorch's result is undefined). :class:`IndexPut` on the flattened input:
    dL/dinput = g, 0 at the written places unless accumulated; dL/dsource = g at its places."""
    x = _tensor("put", "input", input)
    source = _tensor("put", "source", source)
    _same_dtype("put", x, source, "source")
    idx = _int_array("put", "index", index, x).reshape(-1)
    if idx.size != source.numel():
        raise TinyLMError(
            f"put: source and index must have the same number of elements, got "
            f"{source.numel()} and {idx.size}"
        )
    n = x.numel()
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            bad = lo if lo < -n else hi
            raise TinyLMError(f"put: index {bad} is out of range for a tensor of {n} elements")
        idx = idx % n
    if not accumulate:
        _no_repeats("put", (idx,), (n,), ", or pass accumulate=True to add the values")
    flat = IndexPut.apply(
        x.reshape(-1), source.reshape(-1), index=(idx,), accumulate=builtins.bool(accumulate)
    )
    return flat.reshape(tuple(x.shape))


# ---------------------------------------------------------------------------------------
# select and the *_scatter ops that write into what a view selects
# ---------------------------------------------------------------------------------------


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002 - PyTorch's name
    """The slice at ``index`` along ``dim`` (negatives count from the end), that dim
    removed: (n, m).select(1, j) is the column (n,), ``x[:, j]``. A view, as PyTorch's
    (writes reach input); the gradient puts g back in that slice (``GetItem``)."""
    x = _tensor("select", "input", input)
    if x.ndim == 0:
        raise TinyLMError("select: cannot be applied to a 0-dim tensor")
    d = _dim("select", dim, x.ndim)
    i = int_arg("select", "index", index)
    n = x.shape[d]
    if not -n <= i < n:
        raise TinyLMError(
            f"select: index {i} out of range for tensor of size {list(x.shape)} at dimension {d}"
        )
    return ops.GetItem.apply(x, index=(slice(None),) * d + (i % n,))


def _place(op: str, x: Tensor, src: Tensor, where: tuple[Any, ...], shape: tuple[int, ...]):
    """x with ``src`` (exactly ``shape``, converted to x's dtype as PyTorch does) written at
    the basic index ``where``: :class:`IndexPut`, so dL/dx = g with 0 there and
    dL/dsrc = g[where] (in src's dtype)."""
    if tuple(src.shape) != tuple(shape):
        raise TinyLMError(
            f"{op}: expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(shape)}"
        )
    return IndexPut.apply(x, src.to(x.dtype), index=where, accumulate=False)


def select_scatter(
    input: Tensor,  # noqa: A002 - PyTorch's name
    src: Tensor,
    dim: int,
    index: int,
) -> Tensor:
    """A copy of ``input`` with ``src`` written into the slice ``input.select(dim, index)``
    (src has exactly that slice's shape), as ``torch.select_scatter``."""
    x = _tensor("select_scatter", "input", input)
    src = _tensor("select_scatter", "src", src)
    view = select(x, dim, index)  # the checks of select
    d = _dim("select_scatter", dim, x.ndim)
    where = (slice(None),) * d + (int_arg("select_scatter", "index", index) % x.shape[d],)
    return _place("select_scatter", x, src, where, tuple(view.shape))


def slice_scatter(
    input: Tensor,  # noqa: A002 - PyTorch's name
    src: Tensor,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    """A copy of ``input`` with ``src`` written into the slice ``start:end:step`` along
    ``dim`` (Python's slice rules; step positive), as ``torch.slice_scatter``: src has
    exactly that slice's shape."""
    x = _tensor("slice_scatter", "input", input)
    src = _tensor("slice_scatter", "src", src)
    if x.ndim == 0:
        raise TinyLMError("slice_scatter: cannot be applied to a 0-dim tensor")
    d = _dim("slice_scatter", dim, x.ndim)
    step = int_arg("slice_scatter", "step", step)
    if step <= 0:
        raise TinyLMError(f"slice_scatter: slice step must be positive, got {step}")
    a = None if start is None else int_arg("slice_scatter", "start", start)
    b = None if end is None else int_arg("slice_scatter", "end", end)
    where = (slice(None),) * d + (slice(a, b, step),)
    n = len(range(*slice(a, b, step).indices(x.shape[d])))
    shape = tuple(x.shape[:d]) + (n,) + tuple(x.shape[d + 1 :])
    return _place("slice_scatter", x, src, where, shape)


class DiagonalScatter(Function):
    """y = x with ``src`` written on the diagonal ``offset`` of the (axis1, axis2) planes:
    y[…, i, …, i + offset, …] = src[…, i] (the diagonal's entries along src's last dim, as
    ``x.diagonal(offset, axis1, axis2)`` lays them out).

    dL/dx = g, 0 on that diagonal;  dL/dsrc = g's diagonal (``g.diagonal(offset, …)``).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, src: Any, *, offset: int, axis1: int, axis2: int) -> Any:
        xp = array_module(x)
        y = xp.array(x, copy=True, order="C")
        _writable_diagonal(y, offset, axis1, axis2)[...] = src
        ctx.meta = (offset, axis1, axis2)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        offset, axis1, axis2 = ctx.meta
        xp = array_module(g)
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = xp.array(g, copy=True)
            _writable_diagonal(gx, offset, axis1, axis2)[...] = 0
        if ctx.needs_input_grad[1]:
            gs = xp.diagonal(g, offset, axis1, axis2).copy()
        return gx, gs


def _writable_diagonal(a: Any, offset: int, axis1: int, axis2: int) -> Any:
    """NumPy's diagonal view of a (read-only by default), made writable: writes reach a."""
    view = array_module(a).diagonal(a, offset, axis1, axis2)
    if isinstance(view, np.ndarray):
        view.flags.writeable = True
    return view


def diagonal_scatter(
    input: Tensor,  # noqa: A002 - PyTorch's name
    src: Tensor,
    offset: int = 0,
    dim1: int = 0,
    dim2: int = 1,
) -> Tensor:
    """A copy of ``input`` with ``src`` written on the diagonal that
    ``input.diagonal(offset, dim1, dim2)`` reads (src has exactly its shape: the other dims,
    then the diagonal's length), as ``torch.diagonal_scatter``. :class:`DiagonalScatter`."""
    x = _tensor("diagonal_scatter", "input", input)
    src = _tensor("diagonal_scatter", "src", src)
    if x.ndim < 2:
        raise TinyLMError(
            f"diagonal_scatter: needs a tensor of at least 2 dims, got {described(x)}"
        )
    offset = int_arg("diagonal_scatter", "offset", offset)
    a, b = _dim("diagonal_scatter", dim1, x.ndim), _dim("diagonal_scatter", dim2, x.ndim)
    if a == b:
        raise TinyLMError(
            f"diagonal_scatter: diagonal dimensions cannot be identical {dim1}, {dim2}"
        )
    shape = array_module(x.data).diagonal(x.data, offset, a, b).shape
    if tuple(src.shape) != tuple(shape):
        raise TinyLMError(
            f"diagonal_scatter: expected src to have a size equal to the slice of self. src "
            f"size = {list(src.shape)}, slice size = {list(shape)}"
        )
    return DiagonalScatter.apply(x, src.to(x.dtype), offset=offset, axis1=a, axis2=b)


# ---------------------------------------------------------------------------------------
# Tensor.unfold: sliding windows as a view
# ---------------------------------------------------------------------------------------


class UnfoldWindows(Function):
    """y = every window of ``size`` elements along ``axis``, ``step`` apart: for x of shape
    (…, n, …) y has shape (…, m, …, size), m = (n − size) // step + 1, and
    y[…, k, …, j] = x[…, k·step + j, …]. A view (strides: x's, with step · x's stride along
    ``axis`` and x's stride along ``axis`` for the new last dim), so writes reach x, as
    PyTorch's.

    dL/dx[…, p, …] = Σ over the (k, j) with k·step + j = p of g[…, k, …, j]: each element's
    gradient sums the windows it appears in.
    """

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int, size: int, step: int) -> Any:
        ctx.meta = (x.shape, axis, size, step)
        if x.ndim == 0:  # a 0-d tensor is one window of its one element (or none)
            shape, strides = (size,), (x.itemsize,)
        else:
            m = (x.shape[axis] - size) // step + 1
            shape = x.shape[:axis] + (m,) + x.shape[axis + 1 :] + (size,)
            strides = list(x.strides)
            strides[axis] *= step
            strides = (*strides, x.strides[axis])
        if not isinstance(x, np.ndarray):
            return array_module(x).lib.stride_tricks.as_strided(x, shape, strides)
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, axis, size, step = ctx.meta
        xp = array_module(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        if not shape:
            return gx + g.sum()
        m = g.shape[axis]
        for j in range(size):  # window offset j: the elements j, j + step, … of x
            where = (slice(None),) * axis + (slice(j, j + step * (m - 1) + 1, step),)
            gx[where] += g[..., j]
        return gx


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """``Tensor.unfold``: the windows of ``size`` elements along ``dimension``, ``step``
    apart, as a new last dim: (…, n, …) → (…, (n − size) // step + 1, …, size). A view
    whose writes reach input (:class:`UnfoldWindows`)."""
    x = _tensor("unfold", "input", input)
    d = _dim("unfold", dimension, x.ndim)
    size = int_arg("unfold", "size", size)
    step = int_arg("unfold", "step", step)
    n = x.shape[d] if x.ndim else 1
    if size < 0:
        raise TinyLMError(f"unfold: size is {size} but must be >= 0")
    if size > n:
        raise TinyLMError(
            f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}"
        )
    if step <= 0:
        raise TinyLMError(f"unfold: step is {step} but must be > 0")
    return UnfoldWindows.apply(x, axis=d, size=size, step=step)
