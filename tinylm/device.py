"""Devices and array modules.

A tinylm ``Tensor`` stores its numbers in an *array* from an *array module* ``xp``:
``numpy`` when the tensor lives on the CPU, ``cupy`` when it lives on a CUDA GPU.
Both modules expose the same functions (``xp.exp``, ``xp.matmul`` …), so every op is
written once against ``xp`` and runs on either device.

CuPy is optional: it is imported only when a CUDA tensor is asked for.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "Device",
    "array_module",
    "cuda_is_available",
    "device_and_dtype",
    "device_of",
    "device_type",
    "get_xp",
    "normalize_device",
    "to_device_array",
]


class Device(str):
    """A device name, "cpu" or "cuda" (a GPU index may follow: "cuda:0").

    It is the string itself (``x.device == "cpu"`` holds, and it prints as ``cpu``) with
    PyTorch's ``torch.device`` attributes: ``.type`` ("cpu" or "cuda") and ``.index`` (the
    GPU number, or None), which code like ``x.device.type == "cuda"`` reads."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        number = self.partition(":")[2]
        return int(number) if number else None


CPU = Device("cpu")

_cupy: ModuleType | None = None
_cupy_checked = False


def _load_cupy() -> ModuleType | None:
    """Import cupy once; return None when it is missing or unusable."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported on demand

            _cupy = cupy
        except Exception:  # ImportError, or a broken CUDA install
            _cupy = None
    return _cupy


def cuda_is_available() -> bool:
    """True when cupy imports and sees at least one CUDA device."""
    cupy = _load_cupy()
    if cupy is None:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def normalize_device(device: Any) -> Device:
    """Turn ``None``/"cpu"/"cuda"/"cuda:1" into a canonical device string.

    Raises a clear error for unknown names, or for "cuda" when no GPU can be used.
    """
    if device is None:
        return CPU
    name = str(device)
    if name == "cpu":
        return CPU
    if name == "cuda" or name.startswith("cuda:"):
        if not cuda_is_available():
            raise RuntimeError(
                f"device {name!r} was requested but no CUDA device is usable "
                "(install the `gpu` extra, `pip install tinylm[gpu]`, on a machine with a GPU)"
            )
        return Device(name)
    raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'cuda:N'")


def array_module(array: Any) -> ModuleType:
    """The module (numpy or cupy) that owns ``array``."""
    if type(array) is np.ndarray or isinstance(array, np.ndarray | np.generic):
        return np
    cupy = _load_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def get_xp(device: Device) -> ModuleType:
    """The array module for a device string."""
    if device == "cpu":
        return np
    cupy = _load_cupy()
    if cupy is None:
        raise RuntimeError(f"device {device!r} needs cupy, which is not installed")
    return cupy


def device_of(array: Any) -> Device:
    """The device of an array."""
    if array_module(array) is np:
        return CPU
    return Device(f"cuda:{array.device.id}" if array.device.id else "cuda")


def device_type(array: Any) -> str:
    """``"cpu"`` or ``"cuda"``: the kind of device an array lives on, without its index.

    The one test every op and the kernel registry use to pick an implementation.
    """
    return "cpu" if type(array) is np.ndarray or array_module(array) is np else "cuda"


def to_device_array(array: Any, device: Device) -> Any:
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    if device_of(array) == device or (device.startswith("cuda") and device_of(array) != "cpu"):
        return array
    if device == "cpu":
        return _load_cupy().asnumpy(array)  # type: ignore[union-attr]
    cupy = get_xp(device)
    index = int(device.split(":")[1]) if ":" in device else 0
    with cupy.cuda.Device(index):
        return cupy.asarray(array)


def _is_device_name(x: Any) -> bool:
    return isinstance(x, str) and (x == "cpu" or x == "cuda" or x.startswith("cuda:"))


def device_and_dtype(
    op: str, args: tuple[Any, ...], device: Any = None, dtype: Any = None
) -> tuple[Device | None, np.dtype | None]:
    """The (device, dtype) that PyTorch's ``.to(...)`` forms name, None where one is not
    named: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)`` (its
    device and dtype), and the keywords ``device=``, ``dtype=``."""
    if len(args) > 2:
        raise TypeError(f"{op}: takes a device, a dtype, or both, got {len(args)} arguments")
    for arg in args:
        if hasattr(arg, "requires_grad") and not isinstance(arg, type):  # another tensor
            device, dtype = arg.device, arg.dtype
        elif _is_device_name(arg):
            device = arg
        else:
            dtype = arg
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"{op}: {dtype!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor a dtype"
            ) from None
    return (None if device is None else normalize_device(device)), dtype
