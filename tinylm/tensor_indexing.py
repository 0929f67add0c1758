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

from tinylm import ops
from tinylm.autograd import TensorBase, TinyLMError
from tinylm.device import array_module, to_device_array

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
        """``(values, indices)`` sorted along ``dim``; equal values keep their order (the
        sort is always stable) and NaN counts as the largest value, as in PyTorch."""
        indices = self.argsort(dim, descending, stable)
        return ValuesIndices(self.gather(self._axis(dim, "sort"), indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort the tensor along ``dim`` (int64; see :meth:`sort`)."""
        return self._wrap(_argsort(self.data, self._axis(dim, "argsort"), descending))

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
