"""PyTorch's names of the tensor types, ``'torch.FloatTensor'`` for a float32 tensor on the
CPU and ``'torch.cuda.FloatTensor'`` on a GPU, which ``Tensor.type()`` and ``typename`` say.
The classes of those names (``tinylm.FloatTensor`` …, callable as PyTorch's legacy
constructors) are in ``legacy_tensors.py``.
"""

from __future__ import annotations

from typing import Any

from tinylm.devices import device_type

__all__ = ["TENSOR_TYPE_NAMES", "tensor_type_name"]

#: The PyTorch tensor type of each dtype, by the dtype's name (the CPU's; a GPU's adds "cuda.").
TENSOR_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "uint8": "ByteTensor",
    "int8": "CharTensor",
    "int16": "ShortTensor",
    "int32": "IntTensor",
    "int64": "LongTensor",
    "bool": "BoolTensor",
}


def tensor_type_name(array: Any) -> str:
    """``'torch.FloatTensor'``, ``'torch.cuda.LongTensor'`` …: the type name of an array."""
    prefix = "torch." if device_type(array) == "cpu" else "torch.cuda."
    return prefix + TENSOR_TYPE_NAMES[array.dtype.name]
