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

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from tinylm import autograd, ops, printing, sampling, tensor_inplace
from tinylm.autograd import Node, RemovableHandle, TensorBase, TinyLMError, modes
from tinylm.devices import (
    CPU,
    Device,
    array_module,
    device_and_dtype,
    device_of,
    get_xp,
    normalize_device,
    to_device_array,
)
from tinylm.dtypes import (
    array_from_python,
    bool_,
    check_float_fits,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    is_floating_point,
    uint8,
)
from tinylm.memory_formats import contiguous_format, numpy_order, preserve_format
from tinylm.random import Generator, default_generator
from tinylm.scalar_writes import number_into
from tinylm.tensor_indexing import TensorIndexing
from tinylm.tensor_math import TensorMath, index_stages, raw, raw_index
from tinylm.tensor_memory import TensorMemory
from tinylm.tensor_state import TensorState
from tinylm.tensor_type_names import tensor_type_name

__all__ = ["Tensor", "increment_version"]


class _VersionCounter:
    """Counts in-place changes. Views share the counter of the tensor they look into."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor(TensorMath, TensorIndexing, TensorState, TensorMemory, TensorBase):
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
            if data.dtype == object or data.dtype.kind in "USV":  # as array_from_python
                raise TinyLMError(
                    f"tensor: cannot build a tensor from an array of dtype {data.dtype}"
                )
            array = to_device_array(data, device)
            if dtype is not None and array.dtype != dtype:
                with np.errstate(all="ignore"):  # 1e5 → inf in float16, silent as PyTorch
                    array = array.astype(dtype, copy=False)
        else:
            array = array_from_python(_nested_to_numpy(data), dtype, xp)
        self._data = array
        self._node: Node | None = None
        self._version_counter = _VersionCounter()
        self._retains_grad = False
        self._grad: Tensor | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad
        if modes.inference:
            self._inference = True

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
        t._grad = None  # not through the .grad setter's checks: None needs none
        t._requires_grad = requires_grad
        if modes.inference and not requires_grad:  # made in inference_mode: an inference tensor
            t._inference = True
        return t

    # ---- basic properties ---------------------------------------------------------------

    @property
    def data(self) -> Any:
        """The underlying numpy/cupy array (no gradient tracking).

        Assigning ``t.data = array`` counts as an in-place change (backward through a graph
        that saved ``t`` then raises). Writing *into* the array (``t.data[0] = 1``) bypasses
        the tensor, as PyTorch's ``.data`` does: use ``with tinylm.no_grad(): t[0] = 1``
        or :func:`increment_version` so that backward can notice.
        """
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
    def grad(self) -> Tensor | None:
        """dL/d(this tensor) after ``backward``: a tensor of this one's shape, dtype and
        device, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:  # as PyTorch: a grad that does not fit is refused when assigned
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if (
                value.shape != self.shape
                or value.dtype != self.dtype
                or value.device != self.device
            ):
                raise TinyLMError(
                    f"grad: assigned a gradient of shape {value.shape} {value.dtype} on "
                    f"{value.device} to a tensor of shape {self.shape} {self.dtype} on "
                    f"{self.device}"
                )
        self._grad = value

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape  # a tuple already, for numpy's and cupy's arrays

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> Device:
        return CPU if type(self._data) is np.ndarray else device_of(self._data)

    def size(self, dim: int | None = None) -> Any:
        """The shape, as in PyTorch: ``x.size()`` is the tuple of extents, ``x.size(d)`` the
        extent of axis ``d`` (negative counts from the end). The number of elements is
        :meth:`numel` (numpy's ``.size`` attribute has no counterpart here)."""
        if dim is None:
            return self.shape
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise TinyLMError(f"size: dim must be an int, got {dim!r}")
        if not -max(self.ndim, 1) <= dim < max(self.ndim, 1) or self.ndim == 0:
            raise TinyLMError(
                f"size: dim {dim} is out of range for a tensor of shape {self.shape} {self.dtype}"
            )
        return self.shape[dim]

    def numel(self) -> int:
        """The number of elements: the product of the shape."""
        return int(self._data.size)

    def dim(self) -> int:
        """The number of axes (``ndim``)."""
        return self.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        """As PyTorch prints a tensor (``tinylm/printing.py``; ``tinylm.set_printoptions``)."""
        return printing.tensor_repr(self, self._numpy())

    # ---- conversion ---------------------------------------------------------------------

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a numpy array (copied from the GPU if needed; shared on CPU).

        As in PyTorch, a tensor that requires grad is refused (the array would leave the
        graph unnoticed): ``t.detach().numpy()``, or ``force=True``."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._numpy()

    def _numpy(self) -> np.ndarray:
        """:meth:`numpy` without the requires-grad check, for printing and ``item``."""
        return to_device_array(self._data, "cpu")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(t)`` — and so matplotlib, pandas — get the values, as :meth:`numpy`
        (a NumPy array of the tensor, not an object array holding it; refused, as there and
        in PyTorch, for a tensor that requires grad)."""
        a = self.numpy()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise TinyLMError(f"item: only one-element tensors have an item, shape is {self.shape}")
        return self._numpy().reshape(()).item()

    def tolist(self) -> Any:
        return self._numpy().tolist()

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(
                f"unsupported format string {spec!r} for a tensor of shape {self.shape}"
            )
        return str(self)

    def __index__(self) -> int:
        """A one-element integer tensor as a list index, ``range`` bound, … (as PyTorch)."""
        if self.numel() != 1 or self.dtype.kind not in "iub":
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"shape {self.shape} {self.dtype}"
            )
        return int(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise TinyLMError(
                f"the truth value of a tensor with {self.numel()} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def to(
        self,
        *args: Any,
        device: Any = None,
        dtype: Any = None,
        non_blocking: bool = False,
        copy: bool = False,
        memory_format: Any = preserve_format,
    ) -> Tensor:
        """Move to a device and/or convert to a dtype, PyTorch's forms: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(other)`` (like another tensor), or by
        keyword; a device is a name ("cpu", "cuda:1"), a :class:`device` or a GPU's index.
        Differentiable; returns ``self`` when nothing changes, unless ``copy``. A copy keeps
        this tensor's layout (``preserve_format``) or is made C-ordered
        (``memory_format=contiguous_format``), as in PyTorch. ``non_blocking`` is accepted
        and changes nothing (copies here are synchronous)."""
        order = numpy_order("to", memory_format)
        device, dtype = device_and_dtype("to", args, device, dtype)
        out = self
        if device is not None and device != out.device:
            out = ops.ToDevice.apply(out, device=device)
        if dtype is not None and dtype != out.dtype:
            out = ops.Cast.apply(out, dtype=dtype)
        if out is self:
            return self.clone(memory_format=memory_format) if copy else self
        return out.contiguous() if order == "C" else out

    def cpu(self, memory_format: Any = preserve_format) -> Tensor:
        return self.to("cpu", memory_format=memory_format)

    def cuda(
        self, device: Any = None, non_blocking: bool = False, memory_format: Any = preserve_format
    ) -> Tensor:
        """This tensor on a GPU: ``device`` is None (the current one), an index or a name."""
        return self.to("cuda" if device is None else device, memory_format=memory_format)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

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
        t._inference = self._inference  # a view: of this tensor's kind, as in PyTorch
        return t

    def clone(self, *, memory_format: Any = preserve_format) -> Tensor:
        """A copy with its own memory, laid out as this tensor (``preserve_format``, the
        default) or in C order (``contiguous_format``); gradients flow back to the original."""
        return ops.Clone.apply(self, order=numpy_order("clone", memory_format))

    # ---- new tensors like this one: its dtype and device unless told otherwise ----------

    def _new(self, array: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
        t = Tensor._wrap(to_device_array(array, normalize_device(device or self.device)))
        t.requires_grad = requires_grad  # checks the dtype
        return t

    def new_zeros(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros of ``size``, in this tensor's dtype and on its device unless given."""
        shape = _shape_of("new_zeros", size)
        return self._new(np.zeros(shape, dtype or self.dtype), dtype, device, requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Ones of ``size``, in this tensor's dtype and on its device unless given."""
        shape = _shape_of("new_ones", size)
        return self._new(np.ones(shape, dtype or self.dtype), dtype, device, requires_grad)

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """``fill_value`` everywhere in ``size``, in this tensor's dtype unless given."""
        shape = _shape_of("new_full", (size,))
        dtype_ = dtype or self.dtype
        array = np.full(shape, number_into("new_full", fill_value, dtype_), dtype_)
        return self._new(array, dtype, device, requires_grad)

    def new_tensor(
        self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A copy of ``data`` (lists, numbers, arrays, tensors) in this tensor's dtype and on
        its device unless given (``x.new_tensor([1, 2])`` of a float tensor is float), cut off
        from any graph."""
        if isinstance(data, Tensor):
            data = data.numpy()
        array = Tensor(_nested_to_numpy(data), dtype=dtype or self.dtype).numpy()
        return self._new(array.copy(), dtype, device, requires_grad)

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def contiguous(self, memory_format: Any = contiguous_format) -> Tensor:
        """This tensor if it lies in C order already, else a C-ordered copy (gradients flow
        back); ``memory_format`` must be ``contiguous_format``, as PyTorch's."""
        numpy_order("contiguous", memory_format, preserve_ok=False)
        if self._data.flags.c_contiguous:
            return self
        return ops.Clone.apply(self)

    def stride(self, dim: int | None = None) -> Any:
        """How far apart, in elements, neighbours along each dim lie in memory, as PyTorch's
        ``stride()`` (``stride(d)``: one dim's). A fresh tensor is laid out in C order (the
        last dim's neighbours adjacent): (2, 3) has strides (3, 1), its transpose (1, 3), a
        slice ``x[:, ::2]`` (3, 2), an expanded dim 0. Read from the NumPy array's byte
        strides; an empty tensor that owns its memory reports C order, as PyTorch."""
        steps = tuple(s // self.dtype.itemsize for s in self._data.strides)
        if self._data.size == 0 and not any(steps):  # NumPy gives a fresh empty array 0s
            sizes = [max(n, 1) for n in self.shape]
            steps = tuple(int(np.prod(sizes[i + 1 :], dtype=np.int64)) for i in range(self.ndim))
        if dim is None:
            return steps
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise TypeError(f"stride: dim must be an int, got {dim!r}")
        if not -self.ndim <= dim < self.ndim:
            raise TinyLMError(
                f"stride: dim {dim} is out of range for a tensor of shape {self.shape} {self.dtype}"
            )
        return steps[dim]

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """This tensor converted to ``dtype`` (itself if it already has it), as PyTorch's
        ``x.type(torch.float64)``; PyTorch's types and their names work too
        (``tinylm.DoubleTensor``, ``'torch.DoubleTensor'``, ``'torch.cuda.LongTensor'``).
        Differentiable, as :meth:`to`. ``x.type()`` with no argument is PyTorch's name of
        the tensor's type, ``'torch.FloatTensor'`` (``tensor_type_names.py``)."""
        if dtype is None:
            return tensor_type_name(self._data)
        if isinstance(getattr(dtype, "type_name", None), str):  # tinylm.DoubleTensor …
            dtype = dtype.type_name
        if isinstance(dtype, str):
            prefix, _, kind = dtype.rpartition(".")
            if prefix not in ("torch", "torch.cuda") or kind not in _TENSOR_TYPES:
                raise TinyLMError(
                    f"type: {dtype!r} is not a type name PyTorch knows here; give a dtype "
                    f"(tinylm.float64) or a name such as 'torch.DoubleTensor'"
                )
            return self.to("cuda" if prefix == "torch.cuda" else "cpu", _TENSOR_TYPES[kind])
        return self.to(dtype, non_blocking=non_blocking)

    def detach_(self) -> Tensor:
        """Cut this tensor off from the graph in place, as PyTorch's: it becomes a leaf that
        requires no grad, keeping its memory and values. A view that an op of a recorded graph
        made (``x[0]``, ``x.t()`` of an ``x`` that requires grad) is refused, as in PyTorch:
        use :meth:`detach`. Unlike PyTorch, a graph recorded *before* the call that used this
        tensor stops at it (backward through it no longer reaches what made this tensor), as
        after ``requires_grad_(False)``: detach before using the tensor again."""
        node = self._node
        if node is not None and not node.freed and node.function.is_view and node.inputs:
            if self._xp.may_share_memory(self._data, node.inputs[0].data):
                raise RuntimeError(
                    f"detach_: can't detach a view ({node.name} of a tensor in the graph) in "
                    "place; use detach() instead"
                )
        self._node = None
        self._requires_grad = False
        return self

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

    def register_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(grad)`` whenever backward (or ``autograd.grad``) has this tensor's
        whole gradient, as PyTorch's ``register_hook``: before it reaches ``.grad`` (a leaf)
        or flows on to the inputs (any other tensor). A hook that returns a tensor replaces
        the gradient (same shape and dtype); one that returns None leaves it. Hooks run in
        the order registered; ``handle.remove()`` takes one away.

        ``grad`` has this tensor's shape; treat it as read-only (it may be shared).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that does not require grad"
            )
        if not callable(hook):
            raise TypeError(f"register_hook: the hook must be callable, got {type(hook).__name__}")
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def _accumulate_grad(self, g: Any, owned: bool = False) -> None:
        """Add ``g`` to ``.grad``; ``owned``: the engine alone holds ``g`` (autograd.py)."""
        # ._grad, not the .grad setter: the engine's gradient has this tensor's shape and dtype
        grad = self._grad
        if grad is None:
            if owned and g.dtype == self._data.dtype and g.flags.c_contiguous:
                self._grad = Tensor._wrap(g)  # nothing else holds g: kept, not copied
                return
            # A fresh copy: .grad must never alias another tensor's memory.
            self._grad = Tensor._wrap(self._xp.array(g, dtype=self.dtype, copy=True))
        else:
            grad._data = grad._data + g

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
        self._write(op, ..., value)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        self._check_no_lost_gradient("__setitem__", value)
        self._write(
            "__setitem__", raw_index(index), value.data if isinstance(value, Tensor) else value
        )

    def _check_no_lost_gradient(self, op: str, value: Any) -> None:
        """Writing a value that needs a gradient into a tensor outside the graph would drop
        that gradient (PyTorch records the write; tinylm does not): an error instead."""
        if isinstance(value, Tensor) and value.requires_grad and autograd.is_grad_enabled():
            if not self.requires_grad:
                raise TinyLMError(
                    f"{op}: the value requires grad but this tensor does not, so its gradient "
                    "would be lost; build the result with cat, stack or where instead"
                )

    def _write(self, op: str, index: Any, value: Any) -> None:
        target, stages = self._data, index_stages(index)
        if stages is not None:  # integers first, as PyTorch (see index_stages)
            target, index = target[stages[0]], stages[1]  # a view: the write reaches x
        value = number_into(op, value, target.dtype)  # a Python number: PyTorch's rule
        if getattr(value, "size", 0) == 1 and getattr(value, "ndim", 0) > 0:
            # one value, whatever its shape: PyTorch writes t[0] = tensor([5.]) (NumPy refuses
            # a 1-element array for one element); where the slot holds several, it broadcasts
            if target[index].ndim < value.ndim:
                value = value.reshape(())
        try:
            if type(value) is float and not -65504.0 <= value <= 65504.0:
                with np.errstate(all="ignore"):  # t16[0] = 1e5 is inf, silent as PyTorch
                    target[index] = value
            else:
                target[index] = value
        except ValueError as e:  # NumPy's broadcast error, said with the op and the tensor
            why = str(e)
            if not getattr(getattr(target, "flags", None), "writeable", True):  # repeats
                why = "more than one element of this tensor refers to one memory location (an "
                why += "expanded view); clone() it first, as PyTorch asks"
            raise TinyLMError(f"{op}: {why} (tensor of shape {self.shape} {self.dtype})") from None
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

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace_from("add_", lambda x: x.add(other, alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace_from("sub_", lambda x: x.sub(other, alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace_from("mul_", lambda x: x * other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace_from("div_", lambda x: x / other)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", 0)

    def fill_(self, value: float) -> Tensor:
        """Every element set to ``value``: a number or a 0-d tensor, as in PyTorch."""
        if isinstance(value, Tensor) and value.ndim != 0:
            raise TinyLMError(
                f"fill_: value must be a number or a 0-d tensor, got shape {tuple(value.shape)}"
            )
        check_float_fits("fill_", self.dtype, value)  # refused, as PyTorch, not inf
        return self._inplace("fill_", value)

    def copy_(self, src: Any) -> Tensor:
        self._check_no_lost_gradient("copy_", src)
        return self._inplace("copy_", raw(src))

    def _inplace_from(self, op: str, compute: Any) -> Tensor:
        """PyTorch's in-place form ``x.op_(...)``: ``compute(x)``, the out-of-place op on a
        detached x, written into x's own memory (same checks and errors as the op). As in
        PyTorch, a result that x's dtype cannot hold (a float into an int tensor, an int
        into a bool one) or whose shape is not x's is an error, not silently truncated or
        broadcast; the rules are ``tensor_inplace.write_into``'s."""
        return tensor_inplace.write_into(self, op, compute)

    def masked_fill_(self, mask: Any, value: float) -> Tensor:
        return self._inplace_from("masked_fill_", lambda x: x.masked_fill(mask, value))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace_from("clamp_", lambda x: x.clamp(min, max))

    clip_ = clamp_

    # the in-place forms of the element-wise ops (x.exp_() is x.exp() written into x)
    def abs_(self) -> Tensor:
        return self._inplace_from("abs_", lambda x: x.abs())

    def neg_(self) -> Tensor:
        return self._inplace_from("neg_", lambda x: -x)

    def exp_(self) -> Tensor:
        return self._inplace_from("exp_", lambda x: x.exp())

    def log_(self) -> Tensor:
        return self._inplace_from("log_", lambda x: x.log())

    def sqrt_(self) -> Tensor:
        return self._inplace_from("sqrt_", lambda x: x.sqrt())

    def sigmoid_(self) -> Tensor:
        return self._inplace_from("sigmoid_", lambda x: x.sigmoid())

    def tanh_(self) -> Tensor:
        return self._inplace_from("tanh_", lambda x: x.tanh())

    def relu_(self) -> Tensor:
        return self._inplace_from("relu_", lambda x: x.relu())

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace_from("pow_", lambda x: x**exponent)

    def square_(self) -> Tensor:
        return self._inplace_from("square_", lambda x: x.square())

    def reciprocal_(self) -> Tensor:
        return self._inplace_from("reciprocal_", lambda x: x.reciprocal())

    def tril_(self, diagonal: int = 0) -> Tensor:
        return self._inplace_from("tril_", lambda x: x.tril(diagonal))

    def triu_(self, diagonal: int = 0) -> Tensor:
        return self._inplace_from("triu_", lambda x: x.triu(diagonal))

    # in-place forms of tinylm/tensor_special.py's functions, and the integer dtypes' names
    def lgamma_(self) -> Tensor:
        return self._inplace_from("lgamma_", lambda x: x.lgamma())

    def digamma_(self) -> Tensor:
        return self._inplace_from("digamma_", lambda x: x.digamma())

    def polygamma_(self, n: int) -> Tensor:
        return self._inplace_from("polygamma_", lambda x: x.polygamma(n))

    def mvlgamma_(self, p: int) -> Tensor:
        return self._inplace_from("mvlgamma_", lambda x: x.mvlgamma(p))

    def i0_(self) -> Tensor:
        return self._inplace_from("i0_", lambda x: x.i0())

    def logit_(self, eps: float | None = None) -> Tensor:
        return self._inplace_from("logit_", lambda x: x.logit(eps))

    def sinc_(self) -> Tensor:
        return self._inplace_from("sinc_", lambda x: x.sinc())

    def nextafter_(self, other: Any) -> Tensor:
        return self._inplace_from("nextafter_", lambda x: x.nextafter(other))

    def bitwise_left_shift_(self, other: Any) -> Tensor:
        return self._inplace_from("bitwise_left_shift_", lambda x: x << other)

    def bitwise_right_shift_(self, other: Any) -> Tensor:
        return self._inplace_from("bitwise_right_shift_", lambda x: x >> other)

    __ilshift__, __irshift__ = bitwise_left_shift_, bitwise_right_shift_

    def byte(self) -> Tensor:
        return self.to(uint8)

    def char(self) -> Tensor:
        return self.to(int8)

    def short(self) -> Tensor:
        return self.to(int16)

    # in-place forms of tinylm/tensor_elementwise.py's functions (x.asin_() is x.asin() into x)
    def tan_(self) -> Tensor:
        return self._inplace_from("tan_", lambda x: x.tan())

    def asin_(self) -> Tensor:
        return self._inplace_from("asin_", lambda x: x.asin())

    def acos_(self) -> Tensor:
        return self._inplace_from("acos_", lambda x: x.acos())

    def atan_(self) -> Tensor:
        return self._inplace_from("atan_", lambda x: x.atan())

    def sinh_(self) -> Tensor:
        return self._inplace_from("sinh_", lambda x: x.sinh())

    def cosh_(self) -> Tensor:
        return self._inplace_from("cosh_", lambda x: x.cosh())

    def asinh_(self) -> Tensor:
        return self._inplace_from("asinh_", lambda x: x.asinh())

    def acosh_(self) -> Tensor:
        return self._inplace_from("acosh_", lambda x: x.acosh())

    def atanh_(self) -> Tensor:
        return self._inplace_from("atanh_", lambda x: x.atanh())

    def deg2rad_(self) -> Tensor:
        return self._inplace_from("deg2rad_", lambda x: x.deg2rad())

    def rad2deg_(self) -> Tensor:
        return self._inplace_from("rad2deg_", lambda x: x.rad2deg())

    def log2_(self) -> Tensor:
        return self._inplace_from("log2_", lambda x: x.log2())

    def log10_(self) -> Tensor:
        return self._inplace_from("log10_", lambda x: x.log10())

    def exp2_(self) -> Tensor:
        return self._inplace_from("exp2_", lambda x: x.exp2())

    def erfc_(self) -> Tensor:
        return self._inplace_from("erfc_", lambda x: x.erfc())

    def erfinv_(self) -> Tensor:
        return self._inplace_from("erfinv_", lambda x: x.erfinv())

    def sgn_(self) -> Tensor:
        return self._inplace_from("sgn_", lambda x: x.sgn())

    def negative_(self) -> Tensor:
        return self._inplace_from("negative_", lambda x: x.negative())

    def absolute_(self) -> Tensor:
        return self._inplace_from("absolute_", lambda x: x.absolute())

    def fix_(self) -> Tensor:
        return self._inplace_from("fix_", lambda x: x.fix())

    arcsin_, arccos_, arctan_ = asin_, acos_, atan_
    arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_

    def xlogy_(self, other: Any) -> Tensor:
        return self._inplace_from("xlogy_", lambda x: x.xlogy(other))

    def copysign_(self, other: Any) -> Tensor:
        return self._inplace_from("copysign_", lambda x: x.copysign(other))

    def heaviside_(self, values: Any) -> Tensor:
        return self._inplace_from("heaviside_", lambda x: x.heaviside(values))

    def multiply_(self, other: Any) -> Tensor:
        return self._inplace_from("multiply_", lambda x: x.multiply(other))

    def true_divide_(self, other: Any) -> Tensor:
        return self._inplace_from("true_divide_", lambda x: x.true_divide(other))

    def bitwise_and_(self, other: Any) -> Tensor:
        return self._inplace_from("bitwise_and_", lambda x: x.bitwise_and(other))

    def bitwise_or_(self, other: Any) -> Tensor:
        return self._inplace_from("bitwise_or_", lambda x: x.bitwise_or(other))

    def bitwise_xor_(self, other: Any) -> Tensor:
        return self._inplace_from("bitwise_xor_", lambda x: x.bitwise_xor(other))

    def gcd_(self, other: Any) -> Tensor:
        return self._inplace_from("gcd_", lambda x: x.gcd(other))

    def lcm_(self, other: Any) -> Tensor:
        return self._inplace_from("lcm_", lambda x: x.lcm(other))

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace_from("clamp_min_", lambda x: x.clamp_min(min))

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace_from("clamp_max_", lambda x: x.clamp_max(max))

    def subtract_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace_from("subtract_", lambda x: x.subtract(other, alpha=alpha))

    def divide_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return self._inplace_from("divide_", lambda x: x.divide(other, rounding_mode=rounding_mode))

    def float_power_(self, exponent: Any) -> Tensor:
        """x ← x ** exponent in float64: as PyTorch, x must be float64 already."""
        if self.dtype != float64:
            raise TinyLMError(
                f"float_power_: the base has dtype {self.dtype} but the result is float64; "
                "convert first (x.double()), as in PyTorch"
            )
        return self._inplace_from("float_power_", lambda x: x.float_power(exponent))

    def __iand__(self, other: Any) -> Tensor:
        return self.bitwise_and_(other)

    def __ior__(self, other: Any) -> Tensor:
        return self.bitwise_or_(other)

    def __ixor__(self, other: Any) -> Tensor:
        return self.bitwise_xor_(other)

    def clamp_min(self, min: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return self.clamp(max=max)

    def is_floating_point(self) -> bool:
        return bool(np.issubdtype(self.dtype, np.floating))

    def is_complex(self) -> bool:
        return bool(np.issubdtype(self.dtype, np.complexfloating))

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self.dtype.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self.dtype.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def lerp_(self, end: Any, weight: Any) -> Tensor:
        """x ← x + weight·(end − x), e.g. an exponential moving average of weights: ``lerp``
        written into x, with its dtype rules (``end`` a tensor of x's dtype, as PyTorch)."""
        return self._inplace_from("lerp_", lambda x: x.lerp(end, weight))

    def addcmul_(self, tensor1: Any, tensor2: Any, value: float = 1) -> Tensor:
        """x ← x + value · tensor1 · tensor2."""
        return self._inplace_from("addcmul_", lambda x: x.addcmul(tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1: Any, tensor2: Any, value: float = 1) -> Tensor:
        """x ← x + value · tensor1 / tensor2."""
        return self._inplace_from("addcdiv_", lambda x: x.addcdiv(tensor1, tensor2, value=value))

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Tensor:
        return self._inplace_from("scatter_add_", lambda x: x.scatter_add(dim, index, src))

    def index_fill_(self, dim: int, index: Any, value: Any) -> Tensor:
        """Set the slices ``index`` along ``dim`` to ``value`` (see :meth:`index_fill`)."""
        return self._inplace_from("index_fill_", lambda x: x.index_fill(dim, index, value))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None):
        """Fill with draws of N(mean, std²): a floating-point tensor (tinylm/sampling.py)."""
        return self._inplace("normal_", sampling.normal(self, mean, std, generator))

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Generator | None = None):
        """Fill with draws of U[a, b): a floating-point tensor (tinylm/sampling.py)."""
        return self._inplace("uniform_", sampling.uniform(self, a, b, generator))

    def bernoulli_(self, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
        """Fill with 1 (probability p) or 0, any dtype: p a number or a float tensor of
        probabilities broadcast to this shape (tinylm/sampling.py)."""
        return self._inplace("bernoulli_", sampling.bernoulli(self, p, generator))

    # PyTorch's other in-place samplers: the draws and their checks are in tinylm/sampling.py
    def exponential_(self, lambd: float = 1.0, *, generator: Generator | None = None):
        """Fill with draws of density λe^(−λv), v ≥ 0 (mean 1/λ)."""
        return self._inplace("exponential_", sampling.exponential(self, lambd, generator))

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None):
        """Fill with e^v, v ~ N(mean, std²) (median e^mean)."""
        return self._inplace("log_normal_", sampling.log_normal(self, mean, std, generator))

    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None):
        """Fill with draws of the Cauchy distribution (quartiles median ± sigma)."""
        return self._inplace("cauchy_", sampling.cauchy(self, median, sigma, generator))

    def geometric_(self, p: float, *, generator: Generator | None = None):
        """Fill with the number of trials up to the first success of probability p."""
        return self._inplace("geometric_", sampling.geometric(self, p, generator))

    def random_(self, from_: Any = ..., to: Any = ..., *, generator: Generator | None = None):
        """Fill with integers drawn uniformly from [from, to − 1], as PyTorch's: ``random_(to)``
        from [0, to − 1], ``random_(from, None)`` from [from, the dtype's largest],
        ``random_()`` from [0, the dtype's largest] (floats: 2^24 or 2^53)."""
        if to is ...:  # random_() or random_(to)
            from_, to = (0, None) if from_ is ... else (0, from_)
        elif from_ is ...:  # random_(to=…)
            from_ = 0
        return self._inplace("random_", sampling.random_integers(self, from_, to, generator))

    def bernoulli(self, p: Any = None, *, generator: Generator | None = None) -> Tensor:
        """1 with probability p, else 0, drawn per element: p is this tensor's values (or the
        number ``p``), each in [0, 1]; the result has this tensor's dtype and no gradient."""
        probs = self.numpy() if p is None else np.full(self.shape, p)
        if probs.dtype.kind != "f" and p is None:
            raise TinyLMError(f"bernoulli: needs a float tensor of probabilities, got {self.dtype}")
        if probs.size and not ((probs >= 0) & (probs <= 1)).all():
            raise TinyLMError("bernoulli: every probability must lie in [0, 1]")
        draws = (generator or default_generator).numpy.random(self.shape) < probs
        return Tensor._wrap(to_device_array(draws.astype(self.dtype), self.device))


def increment_version(tensor: Tensor) -> None:
    """Record that ``tensor``'s memory was changed in place by code that bypasses Tensor's
    in-place methods (a kernel writing into ``tensor.data``, as the optimizers' updates do).

    Backward then refuses a graph that saved the old values instead of computing wrong
    gradients with the new ones — PyTorch's ``torch.autograd.graph.increment_version``.
    """
    tensor._version_counter.value += 1


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


# PyTorch's tensor type names (``'torch.FloatTensor'``) and the dtypes they stand for.
_TENSOR_TYPES = {
    "FloatTensor": float32,
    "DoubleTensor": float64,
    "HalfTensor": float16,
    "ByteTensor": np.dtype(np.uint8),
    "CharTensor": np.dtype(np.int8),
    "ShortTensor": np.dtype(np.int16),
    "IntTensor": int32,
    "LongTensor": int64,
    "BoolTensor": bool_,
}


def _nested_to_numpy(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._numpy()
    if isinstance(data, list | tuple):
        return [_nested_to_numpy(d) for d in data]
    return data


def _shape_of(op: str, size: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` as a shape of non-negative ints, or one clear line."""
    if len(size) == 1 and isinstance(size[0], list | tuple):
        size = tuple(size[0])
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in size):
        raise TypeError(f"{op}: size must be ints, e.g. {op}(2, 3) or {op}((2, 3)), got {size}")
    if any(n < 0 for n in size):
        raise TinyLMError(f"{op}: sizes must be non-negative, got {tuple(size)}")
    return tuple(int(n) for n in size)
