"""The ``Tensor``: an n-dimensional array that remembers how it was computed.

A Tensor holds

* ``data`` — a numpy array (CPU) or cupy array (GPU), the numbers themselves;
* ``requires_grad`` — whether gradients should flow back to it;
* ``grad`` — after ``backward()``, a Tensor with dLoss/d(this tensor) (leaves only);
* ``_node`` — for a tensor made by an op, the record of that op (see ``tinylm.autograd``).

Every method that computes something calls ``SomeFunction.apply(...)`` from
``tinylm.ops``; this file only translates Python syntax (``a + b``, ``x[0]``, ``x.sum(1)``)
into those calls, and creates tensors.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from tinylm import autograd, ops
from tinylm.autograd import Node, TensorBase, TinyLMError
from tinylm.device import (
    Device,
    array_module,
    device_of,
    get_xp,
    normalize_device,
    to_device_array,
)
from tinylm.dtypes import (
    array_from_python,
    bool_,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    is_floating_point,
)
from tinylm.random import Generator, default_generator

__all__ = ["Tensor", "as_operand", "axis_args", "raw", "raw_index", "shape_from_args"]


class _VersionCounter:
    """Counts in-place changes. Views share the counter of the tensor they look into."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor(TensorBase):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: nested lists, a Python number, a numpy/cupy array, or another Tensor.
        dtype: the element type; default float32 for Python floats, int64 for Python ints,
            and the array's own dtype for arrays.
        device: "cpu" (default) or "cuda".
        requires_grad: record operations on this tensor so ``backward`` can reach it.
            Only floating-point tensors can require grad.
    """

    # Make numpy hand `ndarray <op> Tensor` over to Tensor's reflected operators.
    __array_ufunc__ = None

    def __init__(
        self,
        data: Any,
        dtype: Any = None,
        device: Device | None = None,
        requires_grad: bool = False,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.generic):
            # A numpy scalar keeps its dtype (np.float64(1.0) stays float64), like an array.
            data = np.asarray(data)
        if device is None:
            device = device_of(data) if hasattr(data, "shape") else "cpu"
        device = normalize_device(device)
        xp = get_xp(device)
        if hasattr(data, "shape"):
            array = to_device_array(data, device)
            if dtype is not None:
                array = array.astype(dtype, copy=False)
        else:
            array = array_from_python(_nested_to_numpy(data), dtype, xp)
        self._data = array
        self._node: Node | None = None
        self._version_counter = _VersionCounter()
        self._retains_grad = False
        self.grad: Tensor | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> Tensor:
        """Wrap an array that an op produced (no copy)."""
        if isinstance(array, np.generic):
            # numpy turns 0-d results into scalars, which cannot be changed in place
            # (``loss.zero_()``); keep every tensor's data an ndarray.
            array = np.asarray(array)
        t = cls.__new__(cls)
        t._data = array
        t._node = None
        t._version_counter = _VersionCounter()
        t._retains_grad = False
        t.grad = None
        t._requires_grad = requires_grad
        return t

    # ---- basic properties ---------------------------------------------------------------

    @property
    def data(self) -> Any:
        """The underlying numpy/cupy array (no gradient tracking)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        value = value.data if isinstance(value, Tensor) else value
        if value.shape != self._data.shape:
            raise TinyLMError(f"data: cannot assign shape {value.shape} to shape {self.shape}")
        self._data = value
        self._version_counter.value += 1

    @property
    def _version(self) -> int:
        return self._version_counter.value

    @property
    def _xp(self) -> ModuleType:
        return array_module(self._data)

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and not is_floating_point(self.dtype):
            raise TinyLMError(
                f"requires_grad: only floating-point tensors can require gradients, but this "
                f"tensor has dtype {self.dtype} and shape {self.shape}"
            )
        if not flag and self._node is not None:
            raise RuntimeError(
                "requires_grad: cannot turn off gradients of a non-leaf tensor; use .detach()"
            )
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by an op that records a graph)."""
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> Device:
        return device_of(self._data)

    @property
    def size(self) -> int:
        """Number of elements (numpy's ``.size``; see also :meth:`numel`)."""
        return int(self._data.size)

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if (
            self.dtype != get_default_dtype()
            and is_floating_point(self.dtype)
            or self.dtype == int32
        ):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---- conversion ---------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (copied from the GPU if needed; shared on CPU)."""
        return to_device_array(self._data, "cpu")

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise TinyLMError(f"item: only one-element tensors have an item, shape is {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.size != 1:
            raise TinyLMError(
                f"the truth value of a tensor with {self.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def to(self, target: Any) -> Tensor:
        """Move to a device ("cpu"/"cuda") or convert to a dtype. Differentiable."""
        if isinstance(target, str) and (target == "cpu" or target.startswith("cuda")):
            device = normalize_device(target)
            if device == self.device:
                return self
            return ops.ToDevice.apply(self, device=device)
        dtype = np.dtype(target)
        if dtype == self.dtype:
            return self
        return ops.Cast.apply(self, dtype=dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def detach(self) -> Tensor:
        """The same values, cut off from the graph (shares memory and version counter)."""
        t = Tensor._wrap(self._data)
        t._version_counter = self._version_counter
        return t

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to the original."""
        return ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        if self._data.flags.c_contiguous:
            return self
        return ops.Clone.apply(self)

    # ---- autograd -----------------------------------------------------------------------

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad; add it to ``leaf.grad``.

        Args:
            gradient: dL/d(self), needed when ``self`` has more than one element.
            retain_graph: keep the graph so backward can be called through it again.
        """
        autograd.backward(self, gradient, retain_graph)

    def retain_grad(self) -> None:
        """Also store ``.grad`` on this non-leaf tensor during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retains_grad = True

    def _accumulate_grad(self, g: Any) -> None:
        if self.grad is None:
            # A fresh copy: .grad must never alias another tensor's memory.
            self.grad = Tensor._wrap(self._xp.array(g, dtype=self.dtype, copy=True))
        else:
            self.grad._data = self.grad._data + g

    def zero_grad(self) -> None:
        self.grad = None

    # ---- in-place changes ---------------------------------------------------------------

    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{op}: in-place changes to a tensor that requires grad are not recorded by "
                "tinylm's autograd; use the out-of-place op, or wrap the update in "
                "tinylm.no_grad() (as optimizers do)"
            )

    def _inplace(self, op: str, value: Any) -> Tensor:
        self._check_inplace(op)
        self._data[...] = value
        self._version_counter.value += 1
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        self._data[raw_index(index)] = value.data if isinstance(value, Tensor) else value
        self._version_counter.value += 1

    def _augmented(self, op: str, other: Any, out_of_place: Any, in_place: Any) -> Tensor:
        """``x += y`` and friends, as in PyTorch: in place when no graph is being recorded
        through ``x`` or ``y`` (e.g. ``w -= lr * w.grad`` under ``no_grad``); a leaf that
        requires grad cannot be changed in place while recording; a non-leaf gets the
        out-of-place result (same value, and the graph stays correct)."""
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if autograd.is_grad_enabled() and (self.requires_grad or other_grad):
            if self.requires_grad and self.is_leaf:
                self._check_inplace(op)
            return out_of_place(self, other)
        return in_place(other)

    def __iadd__(self, other: Any) -> Tensor:
        return self._augmented("+=", other, Tensor.__add__, self.add_)

    def __isub__(self, other: Any) -> Tensor:
        return self._augmented("-=", other, Tensor.__sub__, self.sub_)

    def __imul__(self, other: Any) -> Tensor:
        return self._augmented("*=", other, Tensor.__mul__, self.mul_)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._augmented("/=", other, Tensor.__truediv__, self.div_)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return self._inplace("add_", self._data + alpha * raw(other))

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return self._inplace("sub_", self._data - alpha * raw(other))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", self._data * raw(other))

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", self._data / raw(other))

    def zero_(self) -> Tensor:
        return self._inplace("zero_", 0)

    def fill_(self, value: float) -> Tensor:
        return self._inplace("fill_", value)

    def copy_(self, src: Any) -> Tensor:
        return self._inplace("copy_", raw(src))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None):
        gen = generator or default_generator
        values = gen.numpy.normal(mean, std, size=self.shape).astype(self.dtype)
        return self._inplace("normal_", to_device_array(values, self.device))

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Generator | None = None):
        gen = generator or default_generator
        values = gen.numpy.uniform(a, b, size=self.shape).astype(self.dtype)
        return self._inplace("uniform_", to_device_array(values, self.device))

    # ---- arithmetic ---------------------------------------------------------------------

    def _operand(self, other: Any) -> Tensor:
        return as_operand(other, like=self)

    def _binary(self, function: type[autograd.Function], a: Any, b: Any) -> Tensor:
        """Apply a two-input op, promoting an integer tensor next to a float one (as PyTorch:
        ``int_tensor * 1.5`` is float32, not float64)."""
        a, b = self._operand(a), self._operand(b)
        if is_floating_point(a.dtype) != is_floating_point(b.dtype):
            target = a.dtype if is_floating_point(a.dtype) else b.dtype
            a, b = a.to(target), b.to(target)
        elif function is ops.Div and not is_floating_point(a.dtype):
            # int / int is a float: the default dtype, as in PyTorch (numpy would give float64)
            a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
        return function.apply(a, b)

    def __add__(self, other: Any) -> Tensor:
        return self._binary(ops.Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return self._binary(ops.Add, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return self._binary(ops.Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return self._binary(ops.Sub, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return self._binary(ops.Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary(ops.Mul, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return self._binary(ops.Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary(ops.Div, other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, int | float) and not isinstance(exponent, builtins.bool):
            return ops.PowScalar.apply(self, exponent=exponent)
        return self._binary(ops.Pow, self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return self._binary(ops.Pow, base, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __matmul__(self, other: Any) -> Tensor:
        return self._binary(ops.MatMul, self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._binary(ops.MatMul, other, self)

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def add(self, other: Any) -> Tensor:
        return self + other

    def sub(self, other: Any) -> Tensor:
        return self - other

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    # ---- comparisons (results are bool tensors; no gradient flows through them) ----------

    def _compare(self, other: Any, fn: Any) -> Tensor:
        b = raw(other)
        if hasattr(b, "shape"):
            ops.check_broadcast("compare", self._data, b)
        return Tensor._wrap(fn(self._data, b))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a >= b)

    def __invert__(self) -> Tensor:
        if self.dtype != bool_:
            raise TinyLMError(f"~: needs a bool tensor, got {self.dtype}")
        return Tensor._wrap(~self._data)

    def __and__(self, other: Any) -> Tensor:
        return Tensor._wrap(self._data & raw(other))

    def __or__(self, other: Any) -> Tensor:
        return Tensor._wrap(self._data | raw(other))

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    # ---- elementwise functions ----------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def neg(self) -> Tensor:
        return ops.Neg.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        return ops.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return self._binary(ops.Maximum, self, other)

    def minimum(self, other: Any) -> Tensor:
        return self._binary(ops.Minimum, self, other)

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """Replace the elements where ``mask`` (bool, broadcastable) is True by ``value``."""
        return ops.MaskedFill.apply(self, mask=raw(mask), value=value)

    def softmax(self, dim: int = -1) -> Tensor:
        return ops.Softmax.apply(self, axis=dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return ops.LogSoftmax.apply(self, axis=dim)

    def tril(self, diagonal: int = 0) -> Tensor:
        return ops.Tril.apply(self, diagonal=diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return ops.Triu.apply(self, diagonal=diagonal)

    # ---- reductions ---------------------------------------------------------------------
    # numpy names (axis, keepdims) and PyTorch names (dim, keepdim) are both accepted.

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim=None):
        axis, keepdims = axis_args("sum", axis, keepdims, dim, keepdim)
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim=None):
        axis, keepdims = axis_args("mean", axis, keepdims, dim, keepdim)
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim=None):
        """The largest values along ``axis`` (values only; use :meth:`argmax` for indices)."""
        axis, keepdims = axis_args("max", axis, keepdims, dim, keepdim)
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim=None):
        """The smallest values along ``axis`` (values only; use :meth:`argmin` for indices)."""
        axis, keepdims = axis_args("min", axis, keepdims, dim, keepdim)
        return ops.Min.apply(self, axis=axis, keepdims=keepdims)

    amax = max
    amin = min

    def var(
        self,
        axis: Any = None,
        keepdims: bool = False,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
        correction: int = 1,
        unbiased: bool | None = None,
    ) -> Tensor:
        """Variance Σ(x - mean)² / (n - correction); correction=1 (unbiased) as in PyTorch."""
        axis, keepdims = axis_args("var", axis, keepdims, dim, keepdim)
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axes = self._axes(axis, "var")
        n = math.prod(self.shape[a] for a in axes)
        if n - correction <= 0:
            raise TinyLMError(
                f"var: {n} element(s) along axis {axis} with correction={correction} "
                "leave no degrees of freedom"
            )
        centred = self - self.mean(axis=axes, keepdims=True)
        return (centred * centred).sum(axis=axes, keepdims=keepdims) / (n - correction)

    def std(
        self, axis: Any = None, keepdims: bool = False, *, dim=None, keepdim=None, correction=1
    ):
        return self.var(axis, keepdims, dim=dim, keepdim=keepdim, correction=correction).sqrt()

    def logsumexp(self, axis: Any = -1, keepdims: bool = False, *, dim=None, keepdim=None):
        """log Σ exp(x) along ``axis``, computed as m + log Σ exp(x - m) (no overflow)."""
        if dim is not None and axis == -1:  # -1 is only the default: dim= replaces it
            axis = None
        axis, keepdims = axis_args("logsumexp", axis, keepdims, dim, keepdim)
        axes = self._axes(axis, "logsumexp")
        m = Tensor._wrap(self._data.max(axis=axes, keepdims=True))  # a constant shift
        out = (self - m).exp().sum(axis=axes, keepdims=True).log() + m
        return out if keepdims else out.squeeze(axes)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim=None, keepdim=None):
        axis, keepdims = axis_args("argmax", axis, keepdims, dim, keepdim)
        axis = None if axis is None else self._axis(axis, "argmax")
        return Tensor._wrap(self._data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim=None, keepdim=None):
        axis, keepdims = axis_args("argmin", axis, keepdims, dim, keepdim)
        axis = None if axis is None else self._axis(axis, "argmin")
        return Tensor._wrap(self._data.argmin(axis=axis, keepdims=keepdims))

    def all(self) -> Tensor:
        return Tensor._wrap(self._data.all())

    def any(self) -> Tensor:
        return Tensor._wrap(self._data.any())

    # ---- shape ops ----------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, shape=shape_from_args(shape))

    def view(self, *shape: Any) -> Tensor:
        """Same as :meth:`reshape` (tinylm does not distinguish views from copies here)."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_dim % self.ndim, end_dim % self.ndim
        new = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        return self.reshape(new)

    def permute(self, *dims: Any) -> Tensor:
        return ops.Permute.apply(self, dims=shape_from_args(dims))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (the last two by default)."""
        if self.ndim < 2:
            return self
        dim0, dim1 = (self._axis(d, "transpose") for d in (dim0, dim1))
        order = list(range(self.ndim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        return ops.Permute.apply(self, dims=tuple(order))

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return ops.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
        sizes = shape_from_args(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise TinyLMError(
                f"expand: cannot expand a tensor of shape {self.shape} {self.dtype} to fewer "
                f"dims {sizes}"
            )
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return ops.Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.Expand.apply(self, shape=tuple(shape))

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Remove axes of size 1 (all of them, or just ``dim`` if it has size 1)."""
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            axes = self._axes(dim, "squeeze")
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert an axis of size 1 at position ``dim``."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise TinyLMError(
                f"unsqueeze: dim {dim} is out of range [{-self.ndim - 1}, {self.ndim}] for a "
                f"tensor of shape {self.shape} {self.dtype}"
            )
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Cut along ``dim`` into pieces of a given size (int) or sizes (list), like PyTorch."""
        dim = self._axis(dim, "split")
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise TinyLMError(
                    f"split: split size must be positive, got {split_size_or_sections}"
                )
            step = split_size_or_sections
            sizes = [min(step, n - s) for s in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if builtins.sum(sizes) != n:
                raise TinyLMError(
                    f"split: sizes {sizes} sum to {builtins.sum(sizes)}, but dim {dim} of the "
                    f"tensor of shape {self.shape} {self.dtype} has size {n}"
                )
        pieces, start = [], 0
        for s in sizes:
            index = (slice(None),) * dim + (slice(start, start + s),)
            pieces.append(self[index])
            start += s
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise TinyLMError(f"chunk: the number of chunks must be positive, got {chunks}")
        size = -(-self.shape[self._axis(dim, "chunk")] // chunks)
        return self.split(size, dim)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=raw_index(index))

    def _axes(self, axis: Any, op: str) -> tuple[int, ...]:
        """``axis`` (None, int or tuple) as sorted non-negative axes, or an error naming
        ``op`` and this tensor's shape and dtype."""
        try:
            return ops.normalize_axis(axis, self.ndim, op)
        except TinyLMError as e:
            raise TinyLMError(f"{e} (tensor of shape {self.shape} {self.dtype})") from None

    def _axis(self, axis: int, op: str) -> int:
        """One axis, made non-negative, with the same errors as :meth:`_axes`."""
        if self.ndim == 0 or not isinstance(axis, int | np.integer):
            raise TinyLMError(
                f"{op}: needs one integer dim of a tensor with at least 1 dim, got {axis!r} for "
                f"shape {self.shape} {self.dtype}"
            )
        return self._axes(axis, op)[0]


# ---------------------------------------------------------------------------------------
# Helpers for the functions that take tensors and Python values alike (here and in creation)
# ---------------------------------------------------------------------------------------


def _nested_to_numpy(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data.numpy()
    if isinstance(data, list | tuple):
        return [_nested_to_numpy(d) for d in data]
    return data


def raw(x: Any) -> Any:
    """The array of a Tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def raw_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(raw(i) for i in index)
    return raw(index)


def as_operand(x: Any, like: Tensor) -> Tensor:
    """Turn a Python number or array into a Tensor that combines naturally with ``like``.

    A Python float next to a float32 tensor stays float32 (as in PyTorch), and next to an
    integer tensor becomes the default float dtype.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, builtins.bool | int | float | np.number):
        if is_floating_point(like.dtype):
            dtype = like.dtype
        elif isinstance(x, float | np.floating):
            dtype = get_default_dtype()
        else:
            dtype = like.dtype
        return Tensor._wrap(like._xp.asarray(x, dtype=dtype))
    if hasattr(x, "shape"):
        return Tensor._wrap(to_device_array(x, like.device))
    return Tensor(x, device=like.device)


def axis_args(op: str, axis: Any, keepdims: bool, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """numpy's (axis, keepdims) or PyTorch's (dim, keepdim), whichever was given."""
    if dim is not None:
        if axis is not None:
            raise TinyLMError(f"{op}: give either axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def shape_from_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], list | tuple):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)
