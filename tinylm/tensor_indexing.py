"""The Tensor's methods that pick, sort and accumulate along one dim: ``sort``,
``argsort``, ``topk``, ``gather``, ``index_select``, ``scatter_add``. :class:`TensorIndexing` is
a base class of :class:`tinylm.Tensor`, beside :class:`~tinylm.tensor_math.TensorMath`.

Picking is indexing: ``gather`` and ``index_select`` (and the values of ``sort``, ``topk`` and
``max(dim)``) are one ``GetItem`` op, whose backward adds each element of the gradient back to
the place it was picked from. Indices are checked to lie in [0, n): numpy would silently wrap a
negative one, PyTorch refuses it.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinylm import ops, tensor_scatter
from tinylm.autograd import TensorBase, TinyLMError
from tinylm.devices import array_module, to_device_array
from tinylm.memory_formats import inverse_axes, preserving_axes
from tinylm.scalar_writes import number_into

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = ["TensorIndexing", "ValuesIndices"]


class ValuesIndices(NamedTuple):
    """What ``max``/``min`` along a dim, ``sort`` and ``topk`` return, as in PyTorch: unpack
    it (``values, indices = x.max(1)``) or read ``.values`` and ``.indices``."""

    values: Tensor
    indices: Tensor


class TensorIndexing:
    """Sorting, gathering and scattering methods (a base class of ``tinylm.Tensor``)."""

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """``(values, indices)`` sorted along ``dim``; NaN counts as the largest value, as in
        PyTorch. tinylm's sort is always stable (equal values keep their order), PyTorch's only
        with ``stable=True`` or up to 16 elements: at ties beyond that the indices, and so the
        gradients, may go to a different one of the equal elements. Both results are laid
        out as the input (a transposed input gives transposed results), as PyTorch's."""
        d = self._axis(dim, "sort")
        axes = preserving_axes(self.data)
        if axes is not None:  # sorted in memory order, then turned back (see argsort)
            inner = self.permute(*axes).sort(axes.index(d), descending, stable)
            undo = inverse_axes(axes)
            return ValuesIndices(inner.values.permute(*undo), inner.indices.permute(*undo))
        indices = self._wrap(_argsort(self.data, d, descending))
        return ValuesIndices(self.gather(d, indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort the tensor along ``dim`` (int64; see :meth:`sort`), laid out
        as the input, as PyTorch's."""
        d, data = self._axis(dim, "argsort"), self.data
        axes = preserving_axes(data)
        if axes is None:
            return self._wrap(_argsort(data, d, descending))
        # sorted in the input's memory order (C order there), the result's axes turned back
        order = _argsort(data.transpose(axes), axes.index(d), descending)
        return self._wrap(order.transpose(inverse_axes(axes)))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``,
        largest first (smallest first when ``largest=False``)."""
        d = self._axis(dim, "topk")
        if isinstance(k, builtins.bool) or not isinstance(k, int | np.integer):
            raise TinyLMError(f"topk: k must be an int, got {k!r}")
        if not 0 <= k <= self.shape[d]:
            raise TinyLMError(
                f"topk: k={k} is out of range for dim {dim} of size {self.shape[d]} (tensor of "
                f"shape {self.shape} {self.dtype})"
            )
        order = _argsort(self.data, d, descending=largest)
        indices = self._wrap(order[(slice(None),) * d + (slice(0, k),)])
        return ValuesIndices(self.gather(d, indices), indices)

    def gather(self, dim: int, index: Any) -> Tensor:
        """out[i][j] = x[index[i][j]][j] for dim 0 (x[i][index[i][j]] for dim 1, and so on):
        ``index`` has x's number of dims and is no longer than x along the other dims.
        The gradient adds each element of g back to the place it was picked from."""
        d = self._axis(dim, "gather")
        idx = self._index("gather", index, d, full=True)
        return ops.GetItem.apply(self, index=ops.along_axis_index(idx, d))

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The slices ``index[0], index[1], …`` (a 1-D integer index) along ``dim``."""
        d = self._axis(dim, "index_select")
        idx = self._index("index_select", index, d, full=False)
        return ops.GetItem.apply(self, index=(slice(None),) * d + (idx,))

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        """A copy of x with src added at the places ``index`` names along ``dim``:
        y[index[i][j]][j] += src[i][j] for dim 0 (the mirror image of :meth:`gather`)."""
        d = self._axis(dim, "scatter_add")
        idx = self._index("scatter_add", index, d, full=True)
        src = self._operand(src)
        if src.ndim != self.ndim or any(i > s for i, s in zip(idx.shape, src.shape)):
            raise TinyLMError(
                f"scatter_add: src of shape {src.shape} must have the dims of index {idx.shape}"
                " and be at least as long along each"
            )
        if src.dtype != self.dtype:
            raise TinyLMError(
                f"scatter_add: src has dtype {src.dtype}, but the tensor has {self.dtype}"
            )
        return ops.ScatterAdd.apply(self, src, axis=d, index=idx)

    def scatter(
        self, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: Any = None
    ) -> Tensor:
        """A copy of x with the places ``index`` names along ``dim`` overwritten:
        y[index[i][j]][j] = src[i][j] for dim 0 (or the number ``value``), as PyTorch's
        ``scatter`` (``zeros(n, C).scatter(1, t.unsqueeze(1), 1.0)`` is a one-hot matrix).
        See :func:`tinylm.tensor_scatter.scatter` (a place named twice by a src is refused)."""
        return tensor_scatter.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(
        self, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: Any = None
    ) -> Tensor:
        """:meth:`scatter` written into x (refused on a tensor that requires grad while
        recording, as other in-place ops)."""
        return self._inplace_from(
            "scatter_", lambda x: x.scatter(dim, index, src, value=value, reduce=reduce)
        )

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
        """A copy of x with ``alpha · source`` added at the slices ``index`` names along
        ``dim``: y[index[i]] += alpha · source[i] for dim 0 (repeated indices add up).
        ``source`` has x's shape but ``len(index)`` along ``dim``. It is :meth:`scatter_add`
        with the index spread over the other dims; dL/dsource[i] = alpha · g[index[i]].
        In an integer tensor alpha is first converted to its dtype, as PyTorch does
        (2.5 → 2; a value out of the dtype's range is an error)."""
        d = self._axis(dim, "index_add")
        idx = self._index("index_add", index, d, full=False)
        source = self._operand(source)
        expected = self.shape[:d] + (len(idx),) + self.shape[d + 1 :]
        if source.shape != expected:
            raise TinyLMError(
                f"index_add: source of shape {source.shape} must have shape {expected} (the "
                f"tensor's {self.shape} with the index's length {len(idx)} along dim {d})"
            )
        if source.dtype != self.dtype:
            raise TinyLMError(
                f"index_add: source has dtype {source.dtype}, but the tensor has {self.dtype}"
            )
        spread = [1] * self.ndim
        spread[d] = -1
        xp = array_module(idx)
        full = xp.broadcast_to(idx.reshape(spread), expected)
        if self.dtype.kind in "biu":  # as PyTorch: alpha cast to the dtype (2.5 is 2)
            alpha = number_into("index_add: alpha", alpha, self.dtype).item()
        return self.scatter_add(d, full, source if alpha == 1 else source * alpha)

    def masked_select(self, mask: Any) -> Tensor:
        """The elements where ``mask`` (bool, broadcast against x) is True, as a 1-D tensor
        in row-major order; the gradient goes back to the selected places."""
        m = mask.data if isinstance(mask, TensorBase) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TinyLMError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
        try:
            shape = np.broadcast_shapes(m.shape, self.shape)
        except ValueError:
            raise TinyLMError(
                f"masked_select: mask of shape {m.shape} does not broadcast with the tensor's "
                f"{self.shape}"
            ) from None
        m = array_module(m).broadcast_to(to_device_array(m, self.device), shape)
        x = self if self.shape == shape else self.expand(*shape)
        return ops.GetItem.apply(x, index=m)

    def repeat_interleave(
        self, repeats: Any, dim: int | None = None, *, output_size: int | None = None
    ) -> Tensor:
        """Each element (or each slice along ``dim``) repeated ``repeats`` times in place:
        ``tensor([1, 2]).repeat_interleave(2)`` is [1, 1, 2, 2]. ``repeats`` is an int or one
        count per slice; without ``dim`` the tensor is flattened first. It is
        :meth:`index_select` with each index repeated; the gradient sums the copies."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else x._axis(dim, "repeat_interleave")
        n = x.shape[d]
        counts = repeats.numpy() if isinstance(repeats, TensorBase) else np.asarray(repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise TinyLMError(
                "repeat_interleave: repeats must be an int or a 1-D integer tensor, got "
                f"{repeats!r}"
            )
        if counts.ndim == 1 and counts.shape[0] not in (1, n):
            raise TinyLMError(
                f"repeat_interleave: {counts.shape[0]} repeat counts for {n} slices along dim {d}"
            )
        if (counts < 0).any():
            raise TinyLMError("repeat_interleave: repeats must be non-negative")
        idx = np.repeat(np.arange(n), counts.reshape(-1) if counts.ndim else counts)
        if output_size is not None and output_size != len(idx):
            raise TinyLMError(
                f"repeat_interleave: output_size={output_size}, but the repeats give {len(idx)}"
            )
        return x.index_select(d, idx)

    def _index(self, op: str, index: Any, dim: int, full: bool) -> Any:
        """``index`` as an integer array in [0, size of ``dim``), or an error naming ``op``.
        ``full``: it has this tensor's dims and is no longer along the others (gather);
        else it is 1-D (index_select)."""
        idx = index.data if isinstance(index, TensorBase) else index
        idx = idx if hasattr(idx, "shape") else np.asarray(idx)
        idx = to_device_array(idx, self.device)
        if idx.dtype.kind not in "iu":
            raise TinyLMError(f"{op}: index must hold integers, got dtype {idx.dtype}")
        if full and (
            idx.ndim != self.ndim
            or any(i > s for k, (i, s) in enumerate(zip(idx.shape, self.shape)) if k != dim)
        ):
            raise TinyLMError(
                f"{op}: index of shape {idx.shape} must have the {self.ndim} dims of the tensor "
                f"{self.shape} {self.dtype}, and be no longer along any dim but {dim}"
            )
        if not full and idx.ndim > 1:
            raise TinyLMError(f"{op}: index must be 1-D, got shape {idx.shape}")
        n = self.shape[dim]
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise TinyLMError(
                f"{op}: index {bad} is out of range for dim {dim} of size {n} (tensor of shape "
                f"{self.shape} {self.dtype})"
            )
        return idx.reshape(-1) if not full else idx


def _argsort(x: Any, axis: int, descending: bool) -> Any:
    """Stable sort order along ``axis`` (int64). Descending: the ascending order of the
    reversed array, reversed again, so equal values still keep their original order and NaN
    (last when ascending) comes first."""
    xp = array_module(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    flipped = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return (x.shape[axis] - 1 - xp.flip(flipped, axis)).astype(np.int64, copy=False)
