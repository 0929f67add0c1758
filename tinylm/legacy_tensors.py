"""PyTorch's tensor types, ``FloatTensor``, ``LongTensor`` …: the names of
``'torch.FloatTensor'`` (``x.type()``) as classes, for ``isinstance(x, tinylm.FloatTensor)``
(a CPU tensor of float32), ``x.type(tinylm.DoubleTensor)``, and the legacy constructors:

* ``FloatTensor([1, 2])`` — the values (a list, or a tuple holding a float), converted to
  the type's dtype (floats to ints drop their fraction);
* ``FloatTensor(2, 3)`` — a tensor of that shape whose values are not to be relied on
  (PyTorch's are uninitialised; tinylm's are zeros), ``FloatTensor()`` an empty one;
* ``FloatTensor(array)`` — a NumPy array: shared when it has the type's dtype, else a copy;
  ``FloatTensor(x)`` of a tensor of that type shares its memory too.

Calling one returns a plain :class:`tinylm.Tensor`, as in PyTorch (no tensor has these
classes as its type). They make CPU tensors; move them with ``.to``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import empty, from_numpy, tensor
from tinylm.devices import normalize_device
from tinylm.tensor import Tensor
from tinylm.tensor_type_names import TENSOR_TYPE_NAMES

__all__ = [
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "HalfTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
]


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


class TensorType(type):
    """The type of ``FloatTensor`` and its kin: makes them callable as constructors and
    ``isinstance`` tests of a tensor's dtype (on the CPU)."""

    dtype: np.dtype
    type_name: str

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, Tensor) and instance.is_cpu and instance.dtype == cls.dtype

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return subclass is cls

    def __repr__(cls) -> str:
        return f"<class '{cls.type_name}'>"

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:  # type: ignore[override]
        op = cls.__name__
        if device is not None and normalize_device(device).type != "cpu":
            raise TinyLMError(f"{op}: makes CPU tensors; got device {str(device)!r}, use .to()")
        if not args:
            return empty(0, dtype=cls.dtype)
        if all(_is_int(a) for a in args):  # the sizes
            if any(a < 0 for a in args):
                raise TinyLMError(f"{op}: negative dimension in the size {tuple(args)}")
            return empty(*(int(a) for a in args), dtype=cls.dtype)
        if len(args) > 1:
            raise TypeError(f"{op}: takes sizes (ints) or one sequence of values, got {args!r}")
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype or not data.is_cpu:
                raise TinyLMError(
                    f"{op}: expected a CPU {cls.dtype} tensor, got {data.dtype} on "
                    f"{data.device}; convert it with .to() or .type({op})"
                )
            return data.detach()
        if isinstance(data, np.ndarray):
            return from_numpy(data) if data.dtype == cls.dtype else tensor(data, dtype=cls.dtype)
        if isinstance(data, tuple) and data and all(_is_int(a) for a in data):
            raise TinyLMError(
                f"{op}: a tuple of ints is a size in PyTorch only as torch.Size and values "
                f"otherwise, and tinylm's shapes are tuples; pass {op}(*size) or a list"
            )
        if not isinstance(data, list | tuple):
            raise TypeError(f"{op}: data must be a sequence, got {type(data).__name__}")
        return tensor(data, dtype=cls.dtype)


def _tensor_type(dtype: Any) -> TensorType:
    name = TENSOR_TYPE_NAMES[np.dtype(dtype).name]
    namespace = {
        "dtype": np.dtype(dtype),
        "type_name": f"torch.{name}",
        "is_cuda": False,
        "__module__": "tinylm",
        "__doc__": f"PyTorch's ``torch.{name}``: CPU {np.dtype(dtype)} tensors (module doc).",
    }
    return TensorType(name, (), namespace)


FloatTensor = _tensor_type(np.float32)
DoubleTensor = _tensor_type(np.float64)
HalfTensor = _tensor_type(np.float16)
ByteTensor = _tensor_type(np.uint8)
CharTensor = _tensor_type(np.int8)
ShortTensor = _tensor_type(np.int16)
IntTensor = _tensor_type(np.int32)
LongTensor = _tensor_type(np.int64)
BoolTensor = _tensor_type(np.bool_)
