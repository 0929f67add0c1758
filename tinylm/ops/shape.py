"""Shape ops: they move numbers around (or between devices and dtypes); backward moves the
gradient back to where each number came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, Node, TinyLMError, is_grad_enabled, no_grad
from tinylm.determinism import alert_if_nondeterministic
from tinylm.devices import Device, array_module, device_of, device_type, to_device_array
from tinylm.kernels import registry
from tinylm.kernels.policy import copies_by_tiles
from tinylm.memory_formats import (
    copy_preserving,
    empty_in_order,
    empty_preserving,
    inverse_axes,
    iteration_order,
)
from tinylm.ops.reductions import c_order
from tinylm.scalar_writes import number_into

__all__ = [
    "Cast",
    "Clone",
    "Concat",
    "Diagonal",
    "Expand",
    "Flip",
    "GetItem",
    "MaskedFill",
    "Permute",
    "Reshape",
    "Roll",
    "ScatterAdd",
    "Stack",
    "ToDevice",
    "Tril",
    "Triu",
    "Unsqueeze",
    "advanced_index_axes",
    "along_axis_index",
    "with_strides",
]

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
            if copies_by_tiles(x):  # a large x.t(): if it must be copied, then by tiles
                return _view_or_tiled_copy(x, shape)
            return x.reshape(shape)
        except ValueError:
            raise TinyLMError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.reshape(ctx.in_shape)


def _view_or_tiled_copy(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``x.reshape(shape)``: a view where the layout allows one, else the registry's C-ordered
    copy reshaped (NumPy's own copy of a transposed matrix reads it along its columns)."""
    try:
        return x.reshape(shape, copy=False)  # NumPy >= 2.1 refuses instead of copying
    except TypeError:  # an older NumPy: its own copy
        return x.reshape(shape)
    except ValueError:  # a copy is needed (or the shape is wrong: the reshape below says so)
        return registry.lookup("c_order_copy", "cpu")(x).reshape(shape)


class Unsqueeze(Function):
    """y = x with a new size-1 axis at ``dim`` (a view); backward drops that axis of g.

    Shapes: x (*a, *b) → y (*a, 1, *b) with len(a) = dim. PyTorch's stride for the new axis
    is size·stride of the axis it lands before (the one that was at ``dim``), or 1 at the
    end, so ``stride()`` agrees: (3, 4) with strides (1, 3) → (3, 4, 1) has (1, 3, 1)."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, dim: int) -> Any:
        ctx.in_shape = x.shape
        y = array_module(x).expand_dims(x, dim)
        new = x.shape[dim] * x.strides[dim] if dim < x.ndim else x.itemsize
        # every other dim keeps its stride (NumPy's reshape recomputes those of size-1 dims)
        return with_strides(y, (*x.strides[:dim], new, *x.strides[dim:]))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.reshape(ctx.in_shape)


def with_strides(y: Any, strides: tuple[int, ...]) -> Any:
    """``y`` seen with other byte ``strides`` for its size-1 dims (where a stride moves no
    element, so only ``stride()`` sees the change): the same memory, writable as ``y``."""
    if tuple(y.strides) == tuple(strides):
        return y
    if isinstance(y, np.ndarray):
        return np.lib.stride_tricks.as_strided(y, y.shape, strides, writeable=y.flags.writeable)
    return array_module(y).lib.stride_tricks.as_strided(y, y.shape, strides)


def none_index_strides(x: Any, index: Any, y: Any) -> tuple[int, ...] | None:
    """The byte strides PyTorch gives ``y = x[index]`` for a basic index (ints, slices,
    ``...``, None) holding a None, else None. PyTorch reads the index left to right, and
    a None unsqueezes at the current position: its stride is size·stride of the first of
    x's dims not yet used (1 if none is left), as :class:`Unsqueeze`'s. Every other dim
    keeps the stride NumPy gives."""
    entries = index if isinstance(index, tuple) else (index,)
    if not any(i is None for i in entries) or not all(
        i is None
        or i is Ellipsis
        or isinstance(i, slice | int | np.integer)
        and not isinstance(i, bool | np.bool_)
        for i in entries
    ):
        return None
    used = sum(1 for i in entries if i is not None and i is not Ellipsis)
    strides, out, at = list(y.strides), 0, 0  # out: y's dim; at: x's next unused dim
    for i in entries:
        if i is None:
            left = at < x.ndim
            strides[out] = x.shape[at] * x.strides[at] if left else x.itemsize
            out += 1
        elif i is Ellipsis:
            skipped = x.ndim - used
            out, at = out + skipped, at + skipped
        elif isinstance(i, slice):
            out, at = out + 1, at + 1
        else:  # an int removes its dim
            at += 1
    return tuple(strides)


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
        return g.transpose(inverse_axes(ctx.dims))


class Expand(Function):
    """y = x broadcast to a larger shape (a view: stride 0 along the broadcast dims). Backward
    is a sum over the copies, which the engine's un-broadcasting already does, so the
    gradient passes through unchanged.

    NumPy makes every broadcast view read-only; PyTorch refuses writes only where elements
    repeat, so a view that repeats none (only size-1 dims added or kept) stays writable."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, shape: tuple[int, ...]) -> Any:
        try:
            y = array_module(x).broadcast_to(x, shape)
        except ValueError:
            raise TinyLMError(f"expand: cannot expand shape {x.shape} to {tuple(shape)}") from None
        no_repeats = y.size == x.size or y.size == 0
        if isinstance(y, np.ndarray):
            writeable = no_repeats and x.flags.writeable
            strides = expanded_strides(x.shape, x.strides, y.shape)
            y = np.lib.stride_tricks.as_strided(x, y.shape, strides, writeable=writeable)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g


def expanded_strides(
    shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The strides PyTorch's ``expand`` gives a view of ``shape``/``strides`` (any unit)
    broadcast to ``new_shape``, walking from the last dim: a kept dim keeps its stride, a
    repeated dim (size 1 → n) gets 0, and a new leading dim gets the size·stride of the dim
    after it (so a new size-1 dim looks C-ordered: (3, 1) → (1, 3, 1) has strides (3, 1, 1)),
    or 0 when repeated. A 0-d tensor expands to all-0 strides. NumPy's ``broadcast_to`` gives
    0 to every new dim, repeated or not; only size-1 dims differ, so no element moves."""
    if not shape:
        return (0,) * len(new_shape)
    lead = len(new_shape) - len(shape)
    out = [0] * len(new_shape)
    for i in range(len(new_shape) - 1, -1, -1):
        d = i - lead
        if d >= 0:
            out[i] = strides[d] if shape[d] == new_shape[i] else 0
        else:
            out[i] = new_shape[i + 1] * out[i + 1] if new_shape[i] == 1 else 0
    return tuple(out)


class Diagonal(Function):
    """y = the entries x[…, i, …, i + offset, …] of the (axis1, axis2) planes, along a new last
    axis (numpy reference: ``np.diagonal``): a view, as PyTorch's, so writes through it reach
    x (NumPy's own is read-only). Backward puts g on that diagonal of zeros of x's shape."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, offset: int, axis1: int, axis2: int) -> Any:
        ctx.meta = (x.shape, offset, axis1, axis2)
        y = array_module(x).diagonal(x, offset, axis1, axis2)
        if isinstance(y, np.ndarray) and x.flags.writeable:
            y.flags.writeable = True
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, offset, axis1, axis2 = ctx.meta
        xp = array_module(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        place = xp.diagonal(gx, offset, axis1, axis2)
        if isinstance(place, np.ndarray):
            place.flags.writeable = True
        place[...] = g
        return gx


class Flip(Function):
    """y = x with the order of elements reversed along ``axes`` (numpy reference:
    ``np.flip``), in fresh memory laid out as x, as PyTorch's ``flip`` (numpy's is a view);
    backward reverses g along the same axes."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, axes: tuple[int, ...]) -> Any:
        ctx.axes = axes
        y = empty_preserving(x)  # a transposed x gives a transposed y, as PyTorch's
        y[...] = array_module(x).flip(x, axis=axes)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).flip(g, axis=ctx.axes)


class Roll(Function):
    """y = x with its elements shifted ``shifts[k]`` places along ``axes[k]``, those pushed
    off the end coming back at the start (numpy reference: ``np.roll``); ``axes=None``
    rolls the flattened elements by ``shifts[0]`` and keeps the shape. Backward rolls g
    back by the opposite shifts."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, shifts: tuple[int, ...], axes: Any) -> Any:
        ctx.shifts, ctx.axes = shifts, axes
        xp = array_module(x)
        y = xp.roll(x, shifts[0], axis=None) if axes is None else xp.roll(x, shifts, axes)
        return c_order(y)  # C-ordered whatever x's layout, as PyTorch's

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        back = tuple(-s for s in ctx.shifts)
        xp = array_module(g)
        return xp.roll(g, back[0], axis=None) if ctx.axes is None else xp.roll(g, back, ctx.axes)


def advanced_index_axes(x: Any, index: Any) -> tuple[int, ...] | None:
    """The dims of ``x[index]`` from outermost to innermost as PyTorch lays out the copy an
    integer or boolean array index makes, or None for C order (any C-ordered ``x``).

    PyTorch gathers with a TensorIterator over the result's dims whose operands are ``x``
    re-strided (a dim taken by a slice keeps its stride, the dims the index arrays make have
    stride 0) and each index array (its strides in those dims, 0 elsewhere); the result is
    allocated in that iterator's order (:func:`iteration_order`). The index arrays make one
    block of dims, where the first of them stood when they are adjacent, else in front, as in
    NumPy. A boolean mask counts as one index array per dim it covers, the columns of its
    ``nonzero()`` (stride = the mask's number of dims)."""
    xp = array_module(x)
    items = index if isinstance(index, tuple) else (index,)
    items = tuple(xp.asarray(i) if isinstance(i, list) else i for i in items)
    if _c_strides(x) and all(_c_strides(i) for i in items if hasattr(i, "strides")):
        return None  # every operand in C order, so is the iterator: the common case at once
    covers = [  # how many of x's dims each entry uses
        0 if i is None or i is Ellipsis else getattr(i, "ndim", 1) if _is_mask(i) else 1
        for i in items
    ]
    view_dims: list[tuple[int, int]] = []  # (size, stride) of every dim a slice or None makes
    arrays: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # (shape, strides) per array
    places: list[int] = []  # per index array: how many view dims came before it
    at, itemsize = 0, x.itemsize
    for entry, n in zip(items, covers, strict=True):
        if entry is Ellipsis:
            for _ in range(x.ndim - sum(covers)):
                view_dims.append((x.shape[at], x.strides[at] // itemsize))
                at += 1
        elif entry is None:
            left = at < x.ndim
            view_dims.append((1, x.shape[at] * x.strides[at] // itemsize if left else 1))
        elif isinstance(entry, slice):
            start, stop, step = entry.indices(x.shape[at])
            size = len(range(start, stop, step))
            view_dims.append((size, x.strides[at] // itemsize * step))
            at += 1
        else:
            places.append(len(view_dims))
            if _is_mask(entry):
                count = int(entry.sum())  # nonzero() is (count, ndim): a column steps ndim
                arrays += [((count,), (entry.ndim,))] * entry.ndim
            else:
                arrays.append((entry.shape, tuple(s // entry.itemsize for s in entry.strides)))
            at += n
    for d in range(at, x.ndim):  # dims after the index: whole, as under a trailing ...
        view_dims.append((x.shape[d], x.strides[d] // itemsize))
    if not places:
        return None
    block = tuple(np.broadcast_shapes(*(shape for shape, _ in arrays)))
    # adjacent arrays (no slice or None between them) put the block where the first stood
    where = places[0] if len(set(places)) == 1 else 0
    shape = (*[n for n, _ in view_dims[:where]], *block, *[n for n, _ in view_dims[where:]])

    def spread(steps_before: list[int], block_steps: tuple[int, ...]) -> tuple[int, ...]:
        return (*steps_before[:where], *block_steps, *steps_before[where:])

    operands = [spread([s for _, s in view_dims], (0,) * len(block))]
    for arr_shape, arr_steps in arrays:
        pad = len(block) - len(arr_shape)  # broadcast: missing and size-1 dims step 0
        steps = (0,) * pad + tuple(
            0 if n == 1 and b != 1 else s
            for n, s, b in zip(arr_shape, arr_steps, block[pad:], strict=True)
        )
        # the array reshaped to the result's dims: 0 where it broadcasts, and in a size-1
        # dim the step a view gives (size·step of the block's first dim before it, the
        # block's last step after it), which the iterator keeps
        first, last = (block[0] * steps[0], steps[-1]) if block else (1, 1)
        around = [
            0 if n != 1 else first if d < where else last for d, (n, _) in enumerate(view_dims)
        ]
        operands.append(spread(around, steps))
    outer_first = tuple(iteration_order(shape, operands)[::-1])
    return None if outer_first == tuple(range(len(shape))) else outer_first


def _c_strides(a: Any) -> bool:
    """Are ``a``'s strides C order's, size-1 dims included (which NumPy's C-contiguous flag
    ignores and PyTorch's iterator reads)?"""
    step = a.itemsize
    for n, s in zip(reversed(a.shape), reversed(a.strides)):
        if s != step:
            return False
        step *= n
    return True


def _is_mask(i: Any) -> bool:
    return getattr(i, "dtype", None) == np.bool_


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
    def forward(ctx: Context, x: Any, *, index: Any, iterator_layout: bool = False) -> Any:
        """``iterator_layout``: lay an array index's copy out as PyTorch's ``x[index]`` does
        (:func:`advanced_index_axes`); the gathering functions built on this op (``take``,
        ``index_select``, ``gather``) make C-ordered results, as PyTorch's do."""
        ctx.meta = (x.shape, x.dtype, index)
        try:
            y = x[index]
        except IndexError as e:
            raise TinyLMError(f"index: {e} (tensor of shape {x.shape} {x.dtype})") from None
        if isinstance(y, np.generic):
            # numpy returns a single element as a scalar copy; x[index, ...] is the same
            # element as a 0-d view, so in-place changes reach x (as in PyTorch).
            y = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        if _index_has_arrays(index):
            # a copy either way; NumPy lays it out with the indexed dims first, PyTorch in
            # its iterator's order: C order for a C-ordered x (x[:, [0, 2]] is contiguous
            # there, and .view(-1) of it allowed), x's own order for a permuted one
            axes = advanced_index_axes(x, index) if iterator_layout and y.size else None
            xp = array_module(y)
            if axes is not None:
                laid_out = empty_in_order(xp, y.shape, y.dtype, axes)
                laid_out[...] = y
                y = laid_out
            elif not y.flags.c_contiguous:
                y = xp.ascontiguousarray(y)
        strides = none_index_strides(x, index, y)  # NumPy's None dims have stride 0
        return y if strides is None else with_strides(y, strides)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, dtype, index = ctx.meta
        xp = array_module(g)
        gx = xp.zeros(shape, dtype=g.dtype)
        if _index_has_arrays(index):
            alert_if_nondeterministic("indexing backward", gx)
            xp.add.at(gx, index, g)
        else:
            gx[index] = g  # basic indexing never selects an element twice
        return gx


def along_axis_index(index: Any, axis: int) -> tuple[Any, ...]:
    """The advanced index that ``gather`` and ``scatter_add`` use: for every position p of
    ``index``, the element whose coordinate along ``axis`` is ``index[p]`` and whose other
    coordinates are p's own. (For axis 0 of a 2-D array: x[index[i, j], j].)"""
    xp = array_module(index)
    grids = list(xp.ix_(*[xp.arange(n) for n in index.shape]))
    grids[axis] = index
    return tuple(grids)


class ScatterAdd(Function):
    """y = x, then y[index[i, j], j] += src[i, j] (axis 0 of a 2-D array; likewise for any
    axis and number of dims). Only the part of ``src`` of ``index``'s shape is used.

    dL/dx = g (x is copied through);  dL/dsrc[i, j] = g[index[i, j], j], the place each
    element of src was added to (several may share a place: each gets that place's g).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, src: Any, *, axis: int, index: Any) -> Any:
        where = along_axis_index(index, axis)
        used = tuple(slice(0, n) for n in index.shape)
        y = x.copy()
        alert_if_nondeterministic("scatter_add", y)
        array_module(x).add.at(y, where, src[used])  # add.at: repeated places add up
        ctx.meta = (src.shape, where, used)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        src_shape, where, used = ctx.meta
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = array_module(g).zeros(src_shape, dtype=g.dtype)
            gsrc[used] = g[where]
        return g, gsrc


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
        xp = array_module(x)
        fill = x.dtype.type(number_into("masked_fill", value, x.dtype))
        return c_order(xp.where(mask, fill, x))  # C-ordered, as PyTorch's

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
        return c_order(xp.where(ctx.keep, x, x.dtype.type(0)))  # C, as PyTorch's

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
        # C order whatever the inputs' (NumPy follows a layout they share), as PyTorch's
        return c_order(array_module(xs[0]).concatenate(xs, axis=ax))

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
        return c_order(array_module(xs[0]).stack(xs, axis=ctx.axis))  # C order, as in Concat

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        xp = array_module(g)
        return tuple(xp.take(g, i, axis=ctx.axis) for i in range(g.shape[ctx.axis]))


# ---------------------------------------------------------------------------------------
# Copies: to fresh memory, to another dtype, to another device
# ---------------------------------------------------------------------------------------


class Clone(Function):
    """y = a copy of x in fresh memory; dy/dx = 1. ``order="C"`` (``contiguous()``, the ops
    that copy) lays it out in C order; ``"K"`` (``clone()``, PyTorch's ``preserve_format``)
    as x is: a transposed x gives a transposed copy, a view with gaps or a broadcast a dense
    one in the order of its strides (``memory_formats.empty_preserving``)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, order: str = "C") -> Any:
        if order == "C" or x.flags.c_contiguous:
            # the registry's copy: the Numba backend copies a large transposed x by tiles
            return registry.lookup("c_order_copy", device_type(x))(x)
        return copy_preserving(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g


class Cast(Function):
    """y = x converted to another dtype; the gradient is converted back."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, dtype: Any) -> Any:
        ctx.source = x.dtype
        if x.flags.c_contiguous or x.flags.f_contiguous:
            return x.astype(dtype)  # NumPy's order "K" keeps a dense layout, as PyTorch
        # a broadcast or a slice with gaps: laid out as PyTorch's preserve_format lays it
        # (NumPy's "K" puts a broadcast axis elsewhere)
        return copy_preserving(x, dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.astype(ctx.source)

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        if np.dtype(params["dtype"]).kind != "f":
            with no_grad():  # integer results cannot carry gradients
                return super().apply(*inputs, **params)
        return super().apply(*inputs, **params)


class ToDevice(Function):
    """y = x on another device; the gradient travels back to x's device."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, device: Device) -> Any:
        ctx.source = device_of(x)
        return to_device_array(x, device)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return to_device_array(g, ctx.source)

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        # The output lives on another device than the input, so skip the device check.
        (x,) = inputs
        record = is_grad_enabled() and x.requires_grad
        ctx = Context((record,))
        out = type(x)._wrap(cls.forward(ctx, x.data, **params), requires_grad=record)
        if record:
            out._node = Node(cls, ctx, (x,))
        return out
