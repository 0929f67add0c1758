"""``asarray`` and ``frombuffer``, PyTorch's ways of making a tensor that shares memory with
what it is given where it can: a tensor (itself), a NumPy array (``from_numpy``), or any
object with Python's buffer protocol (``bytes``, ``bytearray``, ``memoryview``,
``array.array``), whose bytes are read as elements of ``dtype``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import from_numpy, tensor
from tinylm.devices import normalize_device
from tinylm.dtypes import get_default_dtype
from tinylm.tensor import Tensor

__all__ = ["asarray", "frombuffer"]


def frombuffer(
    buffer: Any,
    *,
    dtype: Any,
    count: int = -1,
    offset: int = 0,
    requires_grad: bool = False,
) -> Tensor:
    """A 1-D tensor of ``count`` elements of ``dtype`` (-1: as many as the buffer holds after
    ``offset`` bytes), sharing the memory of ``buffer``, as ``torch.frombuffer``: a change to
    either is seen in the other. A read-only buffer (``bytes``) gives a tensor that cannot
    be written (PyTorch warns and lets it be written; NumPy refuses the write)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TinyLMError(
            f"frombuffer: {type(buffer).__name__} does not implement Python's buffer protocol"
        ) from None
    dtype = np.dtype(dtype)
    length = view.nbytes
    if count == 0 or length == 0:
        raise TinyLMError(
            f"frombuffer: both the buffer length ({length}) and count ({count}) must not be 0"
        )
    if not 0 <= offset < length:
        raise TinyLMError(
            f"frombuffer: offset ({offset} bytes) must be non-negative and less than the "
            f"buffer length ({length} bytes)"
        )
    if count < 0:
        if (length - offset) % dtype.itemsize:
            raise TinyLMError(
                f"frombuffer: the buffer length ({length} bytes) after offset ({offset} bytes) "
                f"must be a multiple of the element size ({dtype.itemsize})"
            )
        count = (length - offset) // dtype.itemsize
    elif offset + count * dtype.itemsize > length:
        raise TinyLMError(
            f"frombuffer: {count} elements of {dtype.itemsize} bytes after offset ({offset} "
            f"bytes) do not fit in the buffer ({length} bytes)"
        )
    if view.readonly:
        warnings.warn(
            "frombuffer: the buffer is not writable, so neither is the tensor that shares it",
            UserWarning,
            stacklevel=2,
        )
    array = np.frombuffer(view.cast("B"), dtype=dtype, count=count, offset=offset)
    return from_numpy(array).requires_grad_(requires_grad)


def _has_buffer(obj: Any) -> bool:
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def asarray(
    obj: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    copy: bool | None = None,
    requires_grad: bool | None = None,
) -> Tensor:
    """``obj`` as a tensor, as ``torch.asarray``: sharing its memory where it can and
    copying otherwise (``copy=True``: always a copy; ``copy=False``: never, so a dtype or
    device change, or a Python list, is refused).

    * a Tensor: itself, or converted differentiably to ``dtype``/``device`` (without a graph
      when ``requires_grad=False``); ``requires_grad`` given and the result ``obj`` itself
      sets ``obj.requires_grad``, as PyTorch does; None keeps ``obj``'s;
    * a NumPy array: shared (:func:`from_numpy`) unless ``dtype``/``device`` differ or it
      is 0-d (copied, as PyTorch copies it);
    * a buffer (``bytes``, ``memoryview`` …): its bytes read as ``dtype`` (default the
      default float dtype), shared (:func:`frombuffer`);
    * numbers and (nested) lists: a new tensor (:func:`tensor`'s dtypes)."""
    if dtype is not None:
        dtype = np.dtype(dtype)
    target = None if device is None else normalize_device(device)
    if isinstance(obj, Tensor):
        result = obj
        convert = (
            (dtype is not None and dtype != obj.dtype)
            or (target is not None and target != obj.device and target.index is not None)
            or (target is not None and target.type != obj.device.type)
        )
        if copy is False and convert:
            raise TinyLMError(
                f"asarray: can't alias a {obj.dtype} tensor on {obj.device} as "
                f"{dtype or obj.dtype} on {target or obj.device} (copy=False)"
            )
        if convert or copy:
            if requires_grad is False:
                with no_grad():
                    result = obj.to(device=target, dtype=dtype, copy=bool(copy))
            else:
                result = obj.to(device=target, dtype=dtype, copy=bool(copy))
        if requires_grad is not None and (result is obj or result.grad_fn is None):
            result.requires_grad_(requires_grad)
        return result
    if isinstance(obj, np.ndarray):
        same = (dtype is None or dtype == obj.dtype) and (target is None or target.type == "cpu")
        if same and not copy and obj.ndim:  # a 0-d array is read as a number, as PyTorch
            result = from_numpy(obj)
        elif copy is False:
            raise TinyLMError(
                f"asarray: can't alias a NumPy array of {obj.dtype} as {dtype or obj.dtype} "
                f"on {target or 'cpu'} (copy=False)"
            )
        else:
            result = tensor(obj, dtype=dtype, device=target)
    elif not isinstance(obj, list | tuple | np.generic) and _has_buffer(obj):
        result = frombuffer(obj, dtype=dtype or get_default_dtype())
        if copy or (target is not None and target.type != "cpu"):
            if copy is False:
                raise TinyLMError("asarray: can't alias a buffer on a GPU (copy=False)")
            result = result.to(target or "cpu", copy=bool(copy))
    else:
        if copy is False:
            raise TinyLMError(f"asarray: can't alias a {type(obj).__name__} (copy=False)")
        if isinstance(obj, str):
            raise TypeError("asarray: a str is not data; give numbers, a list or an array")
        result = tensor(obj, dtype=dtype, device=target)
    return result.requires_grad_(bool(requires_grad))
