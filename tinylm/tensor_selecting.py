"""PyTorch's indexing, splitting and shape functions that pick, place or rearrange elements.

``tinylm.f(x, ...)`` and the method ``x.f(...)`` (one line in ``tinylm/tensor_math.py``)
both land here. Most are compositions of ops that already have their backward rules
(``GetItem``, ``Reshape``, ``Permute``, ``Flip``, ``Concat``, ``Where``, ``CumProd``), so
their gradients are exactly those ops'; three new rules sit beside their wrappers:
:class:`IndexPut` (``index_put``, ``index_copy``, ``index_fill``), :class:`MaskedScatter`
and :class:`DiagEmbed` (``diag_embed``, ``diagflat``).

* views (in-place changes are seen through both tensors): :func:`ravel` (of a contiguous
  tensor), :func:`unflatten`, :func:`tensor_split`, :func:`hsplit`, :func:`vsplit`,
  :func:`dsplit`, :func:`split_with_sizes`, :func:`atleast_1d` / ``2d`` / ``3d``;
* picking: :func:`take`, :func:`take_along_dim`, :func:`argwhere`, :func:`combinations`,
  :func:`cartesian_prod`;
* placing: :func:`index_put`, :func:`index_copy`, :func:`index_fill`, :func:`masked_scatter`,
  :func:`fill_diagonal_`;
* rearranging: :func:`rot90`, :func:`fliplr`, :func:`flipud`, :func:`block_diag`,
  :func:`diag_embed`, :func:`diagflat`, :func:`vander`.

An index is checked before use: numpy would wrap a negative index silently where PyTorch
refuses it, and where PyTorch leaves the result of a repeated index undefined (``index_copy``,
``index_put`` without ``accumulate``) tinylm refuses the repeat. Shapes in the docstrings:
``(n, m)``; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
import functools
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm import ops, tensor_shaping
from tinylm.arg_checks import described, int_arg
from tinylm.autograd import Context, Function, TensorBase, TinyLMError
from tinylm.determinism import alert_if_nondeterministic
from tinylm.devices import array_module, to_device_array
from tinylm.dtypes import int64, promote_types
from tinylm.memory_formats import copy_preserving

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names (``tinylm.atleast_1d``, as
#: ``torch.atleast_1d``); the rest are Functions and the method ``fill_diagonal_``.
TOP_LEVEL = [
    "argwhere",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block_diag",
    "cartesian_prod",
    "combinations",
    "diag_embed",
    "diagflat",
    "dsplit",
    "fliplr",
    "flipud",
    "hsplit",
    "index_copy",
    "index_fill",
    "index_put",
    "masked_scatter",
    "ravel",
    "rot90",
    "split_with_sizes",
    "take",
    "take_along_dim",
    "tensor_split",
    "unflatten",
    "vander",
    "vsplit",
]
__all__ = [*TOP_LEVEL, "DiagEmbed", "IndexPut", "MaskedScatter", "fill_diagonal_"]


# ---------------------------------------------------------------------------------------
# Checks shared by the functions below
# ---------------------------------------------------------------------------------------


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _dim(op: str, dim: Any, ndim: int, what: str = "") -> int:
    """``dim`` of a tensor of ``ndim`` dims, made non-negative; a 0-d tensor takes 0 and −1,
    as in PyTorch."""
    d = int_arg(op, "dim", dim)
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise TinyLMError(f"{op}: dim {d} is out of range [{-n}, {n - 1}]{what}")
    return d % n


def _index_array(op: str, index: Any, like: Tensor, *, bools: bool = False) -> Any:
    """``index`` (a Tensor, an array or a list) as an integer array on ``like``'s device;
    a bool array too where ``bools`` (``index_put``'s masks)."""
    a = index.data if isinstance(index, TensorBase) else index
    a = a if hasattr(a, "shape") else np.asarray(a)
    if a.dtype.kind not in ("iub" if bools else "iu") or (a.dtype.kind == "b" and not bools):
        raise TinyLMError(
            f"{op}: indices must be an integer tensor{' or a bool mask' if bools else ''}, "
            f"got dtype {a.dtype}"
        )
    return to_device_array(a, like.device)


def _in_range(op: str, idx: Any, n: int, where: str, negative: bool) -> Any:
    """``idx`` checked to lie in [0, n) (or [−n, n) with ``negative``, then made
    non-negative): PyTorch's out-of-bounds error, in one line; ``where`` names the dim."""
    if idx.size:
        low = -n if negative else 0
        lo, hi = int(idx.min()), int(idx.max())
        if lo < low or hi >= n:
            bad = lo if lo < low else hi
            raise TinyLMError(f"{op}: index {bad} is out of bounds for {where} of size {n}")
        if negative and lo < 0:
            idx = idx % n
    return idx


def _no_repeats(op: str, idx: Any, what: str) -> None:
    """PyTorch leaves the result undefined when one place is written twice: refused."""
    flat = idx.reshape(-1)
    if flat.size != len(array_module(flat).unique(flat)):
        raise TinyLMError(
            f"{op}: {what} names a place more than once, where PyTorch's result is undefined "
            "(it depends on which write comes last); give each place once"
            + (", or pass accumulate=True to add the values" if op.startswith("index_put") else "")
        )


# ---------------------------------------------------------------------------------------
# Views: reshapes and slices
# ---------------------------------------------------------------------------------------


def ravel(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The elements as a 1-D tensor in row-major order: (n_1, …, n_k) → (n_1 ⋯ n_k,), a view
    of a contiguous tensor (a copy of a transposed or strided one), as ``reshape(-1)``."""
    return _tensor("ravel", "input", input).reshape(-1)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    """Dim ``dim`` (of size n) split into dims of ``sizes`` (product n; one of them may be
    −1, worked out from the others): (2, 6).unflatten(1, (3, 2)) is (2, 3, 2). A view."""
    x = _tensor("unflatten", "input", input)
    if x.ndim == 0:
        raise TinyLMError("unflatten: needs a tensor with at least 1 dim, got a 0-d tensor")
    d = _dim("unflatten", dim, x.ndim, f" for a tensor of shape {described(x)}")
    if not isinstance(sizes, list | tuple):
        raise TypeError(f"unflatten: sizes must be a tuple of ints, got {sizes!r}")
    given = [int_arg("unflatten", "sizes", s) for s in sizes]
    if not given:
        raise TinyLMError("unflatten: sizes must be non-empty")
    n = x.shape[d]
    unknown = [i for i, s in enumerate(given) if s == -1]
    known = math.prod(s for s in given if s != -1)
    if len(unknown) > 1 or any(s < -1 for s in given):
        raise TinyLMError(f"unflatten: sizes {given} may hold one -1 and no other negative size")
    if unknown:
        if known == 0 or n % known:
            raise TinyLMError(
                f"unflatten: sizes {given} don't multiply up to the size of dim {dim} ({n}) "
                "(the -1 cannot be worked out)"
            )
        given[unknown[0]] = n // known
    elif known != n:
        raise TinyLMError(
            f"unflatten: sizes {given} don't multiply up to the size of dim {dim} ({n}) in the "
            f"tensor of shape {described(x)}"
        )
    return x.reshape(tuple(x.shape[:d]) + tuple(given) + tuple(x.shape[d + 1 :]))


def _slices(x: Tensor, d: int, bounds: list[tuple[int, int]]) -> tuple[Tensor, ...]:
    """Views x[..., start:stop, ...] along dim ``d``, one per (start, stop)."""
    head = (slice(None),) * d
    return tuple(x[head + (slice(a, b),)] for a, b in bounds)


def tensor_split(
    input: Tensor,  # noqa: A002
    indices_or_sections: Any,
    dim: int = 0,
) -> tuple[Tensor, ...]:
    """Views of ``input`` cut along ``dim``: an int k gives k pieces, the first n mod k of
    them one longer (sizes ⌈n/k⌉ … ⌊n/k⌋, empty pieces past the end); a list of indices
    [i_0, i_1, …] gives x[:i_0], x[i_0:i_1], …, x[i_last:] with Python's slice rules
    (negatives count from the end; out of range is clipped). A 0-d integer tensor counts as
    sections, a 1-D one as indices."""
    x = _tensor("tensor_split", "input", input)
    if x.ndim == 0:
        raise TinyLMError(
            "tensor_split: expected at least a 1-dimensional tensor, but got a 0-d tensor"
        )
    d = _dim("tensor_split", dim, x.ndim, f" for a tensor of shape {described(x)}")
    spec = indices_or_sections
    if isinstance(spec, TensorBase):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise TinyLMError(
                "tensor_split: indices_or_sections must be an int, a list of ints or a 0-d or "
                f"1-D integer tensor, got a tensor {described(spec)}"
            )
        spec = spec.item() if spec.ndim == 0 else [int(i) for i in spec.tolist()]
    n = x.shape[d]
    if isinstance(spec, list | tuple):
        cuts = [int_arg("tensor_split", "indices", i) for i in spec]
        starts = [0, *cuts]
        stops = [*cuts, n]
        return _slices(x, d, [(a, b) for a, b in zip(starts, stops)])
    k = int_arg("tensor_split", "sections", spec)
    if k <= 0:
        raise TinyLMError(f"tensor_split: number of sections must be larger than 0, got {k}")
    size, longer = divmod(n, k)
    bounds, start = [], 0
    for i in range(k):
        stop = start + size + (1 if i < longer else 0)
        bounds.append((start, stop))
        start = stop
    return _slices(x, d, bounds)


def _split_at_least(op: str, x: Any, ndim: int, dim: int, spec: Any) -> tuple[Tensor, ...]:
    """hsplit, vsplit, dsplit: ``tensor_split`` along ``dim``, where an int must divide the
    dim's size evenly (numpy's rule, as PyTorch's)."""
    x = _tensor(op, "input", x)
    if x.ndim < ndim:
        raise TinyLMError(
            f"{op}: requires a tensor with at least {ndim} dim{'s' if ndim > 1 else ''}, but "
            f"got a tensor of shape {described(x)}"
        )
    if not isinstance(spec, list | tuple | TensorBase):
        k = int_arg(op, "sections", spec)
        if k <= 0 or x.shape[dim] % k:
            raise TinyLMError(
                f"{op}: attempted to split along dimension {dim}, but the size of the "
                f"dimension {x.shape[dim]} is not divisible by the split_size {k}"
            )
    return tensor_split(x, spec, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """Columns split: :func:`tensor_split` along dim 1 (dim 0 of a 1-D tensor); an int must
    divide that dim evenly."""
    x = _tensor("hsplit", "input", input)
    return _split_at_least("hsplit", x, 1, 1 if x.ndim > 1 else 0, indices_or_sections)


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """Rows split: :func:`tensor_split` along dim 0 of a tensor of at least 2 dims; an int
    must divide that dim evenly."""
    return _split_at_least("vsplit", input, 2, 0, indices_or_sections)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """Depth split: :func:`tensor_split` along dim 2 of a tensor of at least 3 dims; an int
    must divide that dim evenly."""
    return _split_at_least("dsplit", input, 3, 2, indices_or_sections)


def split_with_sizes(
    input: Tensor,  # noqa: A002
    split_sizes: Sequence[int],
    dim: int = 0,
) -> tuple[Tensor, ...]:
    """Views of ``input`` cut along ``dim`` into pieces of ``split_sizes`` (non-negative,
    summing exactly to the dim's size)."""
    x = _tensor("split_with_sizes", "input", input)
    if not isinstance(split_sizes, list | tuple):
        raise TypeError(
            f"split_with_sizes: split_sizes must be a list or tuple of ints, got {split_sizes!r}"
        )
    sizes = [int_arg("split_with_sizes", "split_sizes", s) for s in split_sizes]
    if x.ndim == 0:
        raise TinyLMError("split_with_sizes: cannot split a 0-d tensor")
    d = _dim("split_with_sizes", dim, x.ndim, f" for a tensor of shape {described(x)}")
    if any(s < 0 for s in sizes):
        raise TinyLMError(
            f"split_with_sizes: split_sizes must be non-negative, got split_sizes={sizes}"
        )
    if builtins.sum(sizes) != x.shape[d]:
        raise TinyLMError(
            f"split_with_sizes: split_sizes={sizes} must sum exactly to {x.shape[d]} (the size "
            f"of dim {dim} of the tensor of shape {described(x)})"
        )
    stops = list(itertools.accumulate(sizes))
    return _slices(x, d, list(zip([0, *stops[:-1]], stops)))


def _at_least(op: str, tensors: tuple[Any, ...], ndim: int) -> Any:
    """atleast_1d/2d/3d: one tensor → one tensor, several (or one list of them) → a tuple."""
    single = len(tensors) == 1 and isinstance(tensors[0], TensorBase)
    items = list(tensors[0]) if len(tensors) == 1 and not single else list(tensors)
    out = []
    for i, t in enumerate(items):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{op}: argument {i} must be a Tensor, got {type(t).__name__}")
        shape = tuple(t.shape)
        if len(shape) >= ndim:
            out.append(t)
        elif ndim == 3 and len(shape) == 2:
            out.append(t.reshape(shape + (1,)))  # (m, n) → (m, n, 1)
        elif ndim == 3 and len(shape) == 1:
            out.append(t.reshape((1,) + shape + (1,)))  # (n,) → (1, n, 1)
        else:
            out.append(t.reshape((1,) * (ndim - len(shape)) + shape))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim: a 0-d tensor becomes (1,), others are returned as
    they are. One tensor gives a tensor; several (or a list) a tuple. Views."""
    return _at_least("atleast_1d", tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims: () → (1, 1), (n,) → (1, n). Views."""
    return _at_least("atleast_2d", tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) →
    (m, n, 1). Views."""
    return _at_least("atleast_3d", tensors, 3)


# ---------------------------------------------------------------------------------------
# Picking elements
# ---------------------------------------------------------------------------------------


def take(input: Tensor, index: Any) -> Tensor:  # noqa: A002
    """The elements of ``input`` read as a 1-D tensor (row-major) at ``index`` (any shape;
    negative counts from the end): out has index's shape. One ``GetItem``: the gradient of
    each element is the sum of g over the places that picked it."""
    x = _tensor("take", "input", input)
    idx = _index_array("take", index, x)
    idx = _in_range("take", idx, x.numel(), "the flattened input", negative=True)
    return ops.GetItem.apply(x.reshape(-1), index=idx)


def take_along_dim(
    input: Tensor,  # noqa: A002
    indices: Any,
    dim: int | None = None,
) -> Tensor:
    """``gather`` with broadcasting: along ``dim``, out[…, i, …] = x[…, indices[…, i, …], …],
    where input and indices broadcast against each other in every other dim; with
    ``dim=None`` both are flattened first. Indices lie in [0, n) (no negatives, as PyTorch).
    The gradient sums g into the places picked."""
    x = _tensor("take_along_dim", "input", input)
    idx = _index_array("take_along_dim", indices, x)
    if dim is None:
        x, idx, d = x.reshape(-1), idx.reshape(-1), 0
    elif x.ndim == 0:
        raise TinyLMError(f"take_along_dim: dim {dim} was given but the input is a 0-d tensor")
    else:
        if idx.ndim != x.ndim:
            raise TinyLMError(
                f"take_along_dim: input {described(x)} and indices of shape {idx.shape} "
                "should have the same number of dimensions"
            )
        d = _dim("take_along_dim", dim, x.ndim, f" for a tensor of shape {described(x)}")
    idx = _in_range("take_along_dim", idx, x.shape[d], f"dimension {d}", negative=False)
    others = [s for i, s in enumerate(x.shape) if i != d]
    idx_others = [s for i, s in enumerate(idx.shape) if i != d]
    try:
        common = np.broadcast_shapes(tuple(others), tuple(idx_others))
    except ValueError:
        raise TinyLMError(
            f"take_along_dim: input {described(x)} and indices of shape {idx.shape} do not "
            f"broadcast in the dims other than {d}"
        ) from None
    shape_x = list(common[:d]) + [x.shape[d]] + list(common[d:])
    shape_i = list(common[:d]) + [idx.shape[d]] + list(common[d:])
    xb = x if tuple(x.shape) == tuple(shape_x) else x.expand(*shape_x)
    ib = array_module(idx).broadcast_to(idx, tuple(shape_i))
    return ops.GetItem.apply(xb, index=ops.along_axis_index(ib, d))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The indices of the non-zero elements, one row each: int64 (count, ndim), as
    ``nonzero()`` (a 0-d tensor gives (count, 0))."""
    return _tensor("argwhere", "input", input).nonzero()


def combinations(
    input: Tensor,  # noqa: A002
    r: int = 2,
    with_replacement: bool = False,
) -> Tensor:
    """The length-r combinations of the elements of a 1-D tensor (n,), in the order of
    ``itertools.combinations`` (``combinations_with_replacement``): (C, r), C = n choose r;
    r = 0 gives an empty (0,) tensor. One ``GetItem``: an element's gradient sums g over the
    places it appears."""
    x = _tensor("combinations", "input", input)
    if x.ndim != 1:
        raise TinyLMError(f"combinations: expects a 1-D vector, got shape {described(x)}")
    r = int_arg("combinations", "r", r)
    if r < 0:
        raise TinyLMError(f"combinations: expects a non-negative r, got {r}")
    if r == 0:
        return ops.GetItem.apply(x, index=np.zeros(0, dtype=np.int64))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(x.shape[0]), r))
    idx = np.array(rows, dtype=np.int64).reshape(len(rows), r)
    return ops.GetItem.apply(x, index=to_device_array(idx, x.device))


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All tuples (a_i, b_j, …) of the elements of k 1-D tensors (n_1,), …, (n_k,), in
    row-major order: (n_1 ⋯ n_k, k); one tensor is returned as it is. ``meshgrid('ij')``
    flattened and stacked: the gradient sums g over each element's copies."""
    if not tensors:
        raise TinyLMError("cartesian_prod: expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        _tensor("cartesian_prod", f"tensor {i}", t)
        if t.ndim != 1:
            raise TinyLMError(f"cartesian_prod: expects 1-D vectors, but tensor {i} is "
                              f"{described(t)}")  # fmt: skip
    if len(tensors) == 1:
        return tensors[0]
    grids = tensor_shaping.meshgrid(*tensors, indexing="ij")
    return ops.Stack.apply(*[g.reshape(-1) for g in grids], axis=1)


# ---------------------------------------------------------------------------------------
# Placing values: index_put and its relatives
# ---------------------------------------------------------------------------------------


class IndexPut(Function):
    """y = x with ``values`` written at ``x[index]`` (``accumulate``: added there, a place
    named twice receiving both values), values broadcast to the shape of ``x[index]``.

    dL/dx = g, with 0 at the written places unless accumulated (those values were replaced);
    dL/dvalues = g[index], summed over the broadcast (the engine's un-broadcasting).
    ``keep_layout``: y is laid out as x (PyTorch's ``index_put`` and ``index_fill``, which
    write into a preserve_format clone), else in C order (``index_copy``, ``put``, the
    ``*_scatter`` ops).
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        values: Any,
        *,
        index: Any,
        accumulate: bool,
        keep_layout: bool = False,
    ) -> Any:
        xp = array_module(x)
        # PyTorch's index_put and index_fill write into a preserve_format clone
        y = copy_preserving(x) if keep_layout else xp.array(x, copy=True, order="C")
        target_shape = y[index].shape
        try:
            placed = xp.broadcast_to(values, target_shape)
        except ValueError:
            raise TinyLMError(
                f"index_put: shape mismatch: values of shape {values.shape} cannot be "
                f"broadcast to the indexed shape {target_shape}"
            ) from None
        if accumulate:
            alert_if_nondeterministic("index_put with accumulate=True", y)
            xp.add.at(y, index, placed)
        else:
            y[index] = placed
        ctx.index, ctx.accumulate = index, accumulate
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        gx = gv = None
        if ctx.needs_input_grad[0]:
            if ctx.accumulate:
                gx = g
            else:
                gx = array_module(g).array(g, copy=True)
                gx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = g[ctx.index]
        return gx, gv


def _same_dtype(op: str, x: Tensor, source: Tensor, name: str) -> None:
    if source.dtype != x.dtype:
        raise TinyLMError(
            f"{op}: self and {name} expected to have the same dtype, but got {x.dtype} and "
            f"{source.dtype}; convert one first, e.g. {name}.to(x.dtype)"
        )


def index_put(
    input: Tensor,  # noqa: A002
    indices: Sequence[Any],
    values: Tensor,
    accumulate: bool = False,
) -> Tensor:
    """A copy of ``input`` with ``values`` at ``input[indices]`` (``indices``: a tuple of
    integer or bool tensors, one per leading dim, broadcast together, negatives from the
    end); ``accumulate=True`` adds them instead, a place named twice getting both. values
    (same dtype) broadcast to the indexed shape. Without ``accumulate`` a place named twice
    is refused (PyTorch's result is undefined). :class:`IndexPut`."""
    x = _tensor("index_put", "input", input)
    values = _tensor("index_put", "values", values)
    if not isinstance(indices, list | tuple):
        raise TypeError(
            f"index_put: indices must be a tuple of Tensors, not {type(indices).__name__}"
        )
    _same_dtype("index_put", x, values, "values")
    arrays = [_index_array("index_put", i, x, bools=True) for i in indices]
    covered = builtins.sum(a.ndim if a.dtype == np.bool_ else 1 for a in arrays)
    if not arrays or covered > x.ndim:
        raise TinyLMError(
            f"index_put: {len(arrays)} index tensors for a tensor of shape {described(x)}; "
            f"give between 1 and {x.ndim}"
        )
    index, dim = [], 0
    for a in arrays:
        if a.dtype == np.bool_:
            if tuple(a.shape) != tuple(x.shape[dim : dim + a.ndim]):
                raise TinyLMError(
                    f"index_put: the bool mask of shape {a.shape} does not match the shape "
                    f"{tuple(x.shape[dim : dim + a.ndim])} of the dims it indexes"
                )
            index.extend(array_module(a).nonzero(a))
            dim += a.ndim
        else:
            index.append(_in_range("index_put", a, x.shape[dim], f"dimension {dim}", True))
            dim += 1
    try:
        broadcast = array_module(index[0]).broadcast_arrays(*index)
    except ValueError:
        raise TinyLMError(
            "index_put: the index tensors do not broadcast together: shapes "
            + ", ".join(str(tuple(a.shape)) for a in index)
        ) from None
    if not accumulate:
        xp = array_module(broadcast[0])
        linear = xp.ravel_multi_index(tuple(broadcast), x.shape[: len(index)])
        _no_repeats("index_put", linear, "the index")
    return IndexPut.apply(
        x, values, index=tuple(broadcast), accumulate=builtins.bool(accumulate), keep_layout=True
    )


def _slice_index(op: str, x: Tensor, dim: Any, index: Any, negative: bool) -> tuple[int, Any]:
    """(dim, a 1-D index) for the ``index_*`` ops: index 0-d or 1-D, in range."""
    d = _dim(op, dim, x.ndim, f" for a tensor of shape {described(x)}")
    idx = _index_array(op, index, x)
    if idx.ndim > 1:
        raise TinyLMError(f"{op}: index should have dimension 1 or 0 (got shape {idx.shape})")
    n = x.shape[d] if x.ndim else 1
    return d, _in_range(op, idx.reshape(-1), n, f"dimension {d}", negative)


def index_copy(input: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with slice ``index[i]`` along ``dim`` replaced by slice i of
    ``source`` (input's shape with len(index) along dim, same dtype): for dim 0,
    y[index[i]] = source[i]. A slice named twice is refused (PyTorch's result is undefined).
    dL/dinput = g, 0 on the replaced slices; dL/dsource[i] = g[index[i]] (:class:`IndexPut`)."""
    x = _tensor("index_copy", "input", input)
    source = _tensor("index_copy", "source", source)
    d, idx = _slice_index("index_copy", x, dim, index, negative=False)
    _same_dtype("index_copy", x, source, "source")
    if x.ndim == 0:
        x1, s1 = x.reshape(1), source.reshape(-1)
        return index_copy(x1, 0, idx, s1).reshape(())
    expected = tuple(x.shape[:d]) + (len(idx),) + tuple(x.shape[d + 1 :])
    src = source
    if source.ndim == 0 and math.prod(expected) == 1:
        src = source.reshape(expected)  # one element given as a scalar, as PyTorch takes
    if tuple(src.shape) != expected:
        raise TinyLMError(
            f"index_copy: source of shape {tuple(source.shape)} must have shape {expected} "
            f"(the input's {tuple(x.shape)} with the index's length {len(idx)} along dim {d})"
        )
    _no_repeats("index_copy", idx, "index")
    return IndexPut.apply(x, src, index=(slice(None),) * d + (idx,), accumulate=False)


def index_fill(input: Tensor, dim: int, index: Any, value: Any) -> Tensor:  # noqa: A002
    """A copy of ``input`` with the slices ``index`` names along ``dim`` (repeats and
    negatives allowed) set to ``value``: a number (converted to input's dtype, as PyTorch:
    2.5 is 2 in an integer tensor) or a 0-d tensor, which then gets the sum of g over the
    filled places. dL/dinput = g, 0 on the filled slices (:class:`IndexPut`)."""
    x = _tensor("index_fill", "input", input)
    d, idx = _slice_index("index_fill", x, dim, index, negative=True)
    if isinstance(value, TensorBase):
        if value.ndim != 0:
            raise TinyLMError(
                "index_fill: only supports a 0-dimensional value tensor, but got a tensor of "
                f"shape {described(value)}"
            )
        fill = value.to(x.dtype)
    elif isinstance(value, builtins.bool | int | float | np.number | np.bool_):
        fill = x.new_full((), value)
    else:
        raise TypeError(f"index_fill: value must be a number or a 0-d Tensor, got {value!r}")
    unique = array_module(idx).unique(idx)  # filling twice is filling once
    if x.ndim == 0:  # dim 0 of a 0-d tensor: the element itself, or nothing
        whole = IndexPut.apply(x, fill, index=(...,), accumulate=False)
        return whole if unique.size else ops.Clone.apply(x)
    where = (slice(None),) * d + (unique,)
    return IndexPut.apply(x, fill, index=where, accumulate=False, keep_layout=True)


class MaskedScatter(Function):
    """y = x, with the places where ``mask`` is True (row-major order) taking the first
    elements of ``source`` (flattened) one after another.

    dL/dx = g, 0 where mask is True;  dL/dsource = g[mask] for its first mask.sum()
    elements (read in the same order), 0 for the rest.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, source: Any, *, mask: Any) -> Any:
        xp = array_module(x)
        count = int(mask.sum())
        if count > source.size:
            raise TinyLMError(
                f"masked_scatter: the source has {source.size} elements, fewer than the "
                f"{count} True places of the mask"
            )
        y = xp.array(x, copy=True, order="C")
        y[mask] = source.reshape(-1)[:count]
        ctx.mask, ctx.count, ctx.source_shape = mask, count, source.shape
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        xp = array_module(g)
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = xp.where(ctx.mask, g.dtype.type(0), g)
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(math.prod(ctx.source_shape), dtype=g.dtype)
            gs[: ctx.count] = g[ctx.mask]
            gs = gs.reshape(ctx.source_shape)
        return gx, gs


def masked_scatter(input: Tensor, mask: Any, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` (broadcast with the bool ``mask``) whose places where mask is
    True take the elements of ``source`` (same dtype, at least as many elements, any shape)
    in row-major order: :class:`MaskedScatter`."""
    x = _tensor("masked_scatter", "input", input)
    source = _tensor("masked_scatter", "source", source)
    m = mask.data if isinstance(mask, TensorBase) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TinyLMError(f"masked_scatter: only supports boolean masks, but got dtype {m.dtype}")
    _same_dtype("masked_scatter", x, source, "source")
    try:
        shape = np.broadcast_shapes(tuple(m.shape), tuple(x.shape))
    except ValueError:
        raise TinyLMError(
            f"masked_scatter: mask of shape {tuple(m.shape)} does not broadcast with the "
            f"input's {tuple(x.shape)}"
        ) from None
    xp = array_module(x.data)
    m = xp.broadcast_to(to_device_array(m, x.device), shape)
    xb = x if tuple(x.shape) == shape else x.expand(*shape)
    return MaskedScatter.apply(xb, source, mask=m)


def fill_diagonal_(input: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:  # noqa: A002
    """``fill_value`` written in place on the main diagonal of a 2-D tensor (n, m), or of a
    tensor whose dims are all equal (places (i, i, …, i)). ``wrap``: in a tall matrix
    (n > m) the diagonal starts again m + 1 rows down, as NumPy's ``fill_diagonal``. The
    value is converted to input's dtype (1.5 is 1 in an integer tensor, as PyTorch); it is
    ``index_put_``, so refused on a tensor that requires grad while recording."""
    x = _tensor("fill_diagonal_", "input", input)
    if x.ndim < 2:
        raise TinyLMError(
            f"fill_diagonal_: dimensions must be larger than 1, got a tensor of shape "
            f"{described(x)}"
        )
    if x.ndim > 2 and len(set(x.shape)) > 1:
        raise TinyLMError(
            f"fill_diagonal_: all dimensions of input must be of equal length, got shape "
            f"{tuple(x.shape)}"
        )
    if x.ndim == 2:
        rows, cols = x.shape
        end = rows * cols if wrap else builtins.min(rows, cols) * cols
        flat = np.arange(0, end, cols + 1, dtype=np.int64)  # a step of cols + 1: one down, right
        where = (flat // cols, flat % cols) if cols else (flat, flat)
    else:
        where = (np.arange(x.shape[0], dtype=np.int64),) * x.ndim
    return x.index_put_(where, x.new_full((), fill_value))


# ---------------------------------------------------------------------------------------
# Rearranging: rotations, flips, diagonals, blocks
# ---------------------------------------------------------------------------------------


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:  # noqa: A002
    """Rotated by 90° k times in the plane of ``dims``, from the first dim's direction
    towards the second's (k < 0 turns the other way): k = 1 is flip(dims[1]) then the two
    dims exchanged; k = 2 flips both; k = 3 flip(dims[0]) then the exchange; k = 0 a copy."""
    x = _tensor("rot90", "input", input)
    k = int_arg("rot90", "k", k)
    pair = list(dims) if isinstance(dims, list | tuple) else None
    if pair is None or len(pair) != 2:
        raise TinyLMError(f"rot90: expected total rotation dims == 2, but got dims = {dims!r}")
    if x.ndim < 2:
        raise TinyLMError(f"rot90: expected total dims >= 2, but got total dims = {x.ndim}")
    a, b = (_dim("rot90", d, x.ndim, f" for a tensor of shape {described(x)}") for d in pair)
    if a == b:
        raise TinyLMError(
            f"rot90: expected rotation dims to be different, but got dim0 = {pair[0]} and "
            f"dim1 = {pair[1]}"
        )
    k %= 4
    if k == 0:
        return ops.Clone.apply(x)
    if k == 2:
        return ops.Flip.apply(x, axes=(a, b))
    flipped = ops.Flip.apply(x, axes=(b,) if k == 1 else (a,))
    return flipped.transpose(a, b)


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Left and right exchanged: dim 1 reversed (a copy), for tensors of at least 2 dims."""
    x = _tensor("fliplr", "input", input)
    if x.ndim < 2:
        raise TinyLMError(f"fliplr: input must be >= 2-d, got shape {described(x)}")
    return ops.Flip.apply(x, axes=(1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Up and down exchanged: dim 0 reversed (a copy), for tensors of at least 1 dim."""
    x = _tensor("flipud", "input", input)
    if x.ndim < 1:
        raise TinyLMError(f"flipud: input must be >= 1-d, got shape {described(x)}")
    return ops.Flip.apply(x, axes=(0,))


class DiagEmbed(Function):
    """y: a tensor of zeros with x's last dim (n) on diagonal ``offset`` of the planes of
    the output dims (dim1, dim2), each of size m = n + |offset|: for x (…, n), output
    dims (…) in the other places and y[…, i + max(−offset, 0), i + max(offset, 0)] = x[…, i]
    (the plane's dims at dim1 and dim2).

    dL/dx[…, i] = g[…, i + max(−offset, 0), i + max(offset, 0)]: the same diagonal of g.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, offset: int, dim1: int, dim2: int) -> Any:
        xp = array_module(x)
        n = x.shape[-1]
        m = n + abs(offset)
        i = xp.arange(n)
        rows, cols = i + builtins.max(-offset, 0), i + builtins.max(offset, 0)
        planes = xp.zeros(x.shape[:-1] + (m, m), dtype=x.dtype)
        planes[..., rows, cols] = x
        ctx.meta = (rows, cols, dim1, dim2)
        return xp.moveaxis(planes, (-2, -1), (dim1, dim2))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        rows, cols, dim1, dim2 = ctx.meta
        planes = array_module(g).moveaxis(g, (dim1, dim2), (-2, -1))
        return planes[..., rows, cols]


def diag_embed(
    input: Tensor,  # noqa: A002
    offset: int = 0,
    dim1: int = -2,
    dim2: int = -1,
) -> Tensor:
    """Each vector along the last dim of ``input`` (…, n) placed on diagonal ``offset`` of a
    square (m, m) plane, m = n + |offset|, zeros elsewhere; the plane's dims are ``dim1``
    and ``dim2`` of the output (dims of a tensor with one more dim than input):
    :class:`DiagEmbed`. (n,) → (n, n) by default, (b, n) → (b, n, n)."""
    x = _tensor("diag_embed", "input", input)
    offset = int_arg("diag_embed", "offset", offset)
    if x.ndim == 0:
        raise TinyLMError("diag_embed: needs a tensor with at least 1 dim, got a 0-d tensor")
    out_ndim = x.ndim + 1
    where = f" for the output's {out_ndim} dims"
    a, b = _dim("diag_embed", dim1, out_ndim, where), _dim("diag_embed", dim2, out_ndim, where)
    if a == b:
        raise TinyLMError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbed.apply(x, offset=offset, dim1=a, dim2=b)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """The elements of ``input`` (flattened, k of them) on diagonal ``offset`` of a square
    (k + |offset|, k + |offset|) matrix, zeros elsewhere: :func:`diag_embed` of
    ``input.reshape(-1)``."""
    x = _tensor("diagflat", "input", input)
    return diag_embed(x.reshape(-1), offset)


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors as the diagonal blocks of one matrix, zeros elsewhere: a 0-d tensor is a
    (1, 1) block, (n,) a (1, n) block, (r, c) itself; the result is (Σ r, Σ c) in the dtype
    they promote to. Made of ``cat`` (each block row: zeros, the block, zeros), so each
    tensor's gradient is its block of g."""
    if not tensors:
        raise TinyLMError(
            "block_diag: expects at least one tensor (PyTorch gives an odd (1, 0) tensor for none)"
        )
    blocks = []
    for i, t in enumerate(tensors):
        _tensor("block_diag", f"tensor {i}", t)
        if t.ndim > 2:
            raise TinyLMError(
                f"block_diag: input tensors must have 2 or fewer dimensions, but input {i} is "
                f"{described(t)}"
            )
        blocks.append(t.reshape(1, -1) if t.ndim < 2 else t)
    dtype = functools.reduce(promote_types, [t.dtype for t in blocks])
    width = builtins.sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b.shape
        parts = [b.to(dtype)]
        if left:
            parts.insert(0, b.new_zeros((r, left), dtype=dtype))
        if width - left - c:
            parts.append(b.new_zeros((r, width - left - c), dtype=dtype))
        rows.append(ops.Concat.apply(*parts, axis=1) if len(parts) > 1 else parts[0])
        left += c
    return ops.Concat.apply(*rows, axis=0) if len(rows) > 1 else ops.Clone.apply(rows[0])


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """The Vandermonde matrix of a 1-D tensor (n,): (n, N) with columns x^(N−1), …, x, 1
    (``increasing``: 1, x, …, x^(N−1)); N defaults to n. Integers and bools give int64.
    Computed as PyTorch does, a cumulative product of [1, x, x, …] along each row
    (:func:`tinylm.cumprod`), so the gradient is exact where x is 0."""
    v = _tensor("vander", "x", x)
    if v.ndim != 1:
        raise TinyLMError(f"vander: x must be a one-dimensional tensor, got {described(v)}")
    cols = v.shape[0] if N is None else int_arg("vander", "N", N)
    if cols < 0:
        raise TinyLMError(f"vander: N must be non-negative, got {cols}")
    if v.dtype.kind in "biu":
        v = v.to(int64)
    n = v.shape[0]
    if cols == 0:
        return v.new_zeros((n, 0))
    ones = v.new_ones((n, 1))
    if cols == 1:
        return ones
    column = v.reshape(n, 1).expand(n, cols - 1)
    powers = tensor_shaping.cumprod(ops.Concat.apply(ones, column, axis=1), 1)
    return powers if increasing else ops.Flip.apply(powers, axes=(1,))
