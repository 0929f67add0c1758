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

from tinylm.errors import TinyLMError

__all__ = [
    "Device",
    "device",
    "array_module",
    "cuda_is_available",
    "device_and_dtype",
    "device_of",
    "device_type",
    "get_xp",
    "normalize_device",
    "to_device_array",
]


# The device types PyTorch knows; tinylm's tensors live on the first two only.
_TORCH_TYPES = (
    "cpu cuda ipu xpu mkldnn opengl opencl ideep hip ve fpga maia xla lazy vulkan mps meta "
    "hpu mtia privateuseone"
).split()


class device:  # noqa: N801 - PyTorch's name: tinylm.device("cuda", 0) as torch.device
    """A place a tensor lives, as ``torch.device``: ``device("cpu")``, ``device("cuda")``,
    ``device("cuda", 1)`` or ``device("cuda:1")``, or a copy of another device.

    ``.type`` is "cpu" or "cuda", ``.index`` the GPU's number or None. Two devices are
    equal when both agree (``device("cuda") != device("cuda:0")``, as in PyTorch), and a
    device is never equal to a string: compare ``x.device.type == "cuda"``. Making one
    needs no GPU; putting a tensor there does. PyTorch's other types ("mps", "meta" …)
    are refused, since tinylm has no arrays for them."""

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - torch's
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: takes a device or a type string with an index, not both")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):  # torch.device(0): a GPU
            if not cuda_is_available():
                raise RuntimeError(
                    f"device: {type} names a GPU, but no CUDA device is usable; use 'cpu'"
                )
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cuda:0', got {type!r}")
        name, colon, number = type.partition(":")
        if colon:
            if index is not None:
                raise RuntimeError(
                    f"device: the type string {type!r} must not include an index because "
                    "index was passed explicitly"
                )
            if not number.isdigit() or not number.isascii() or number != str(int(number)):
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        if name not in ("cpu", "cuda"):
            if name in _TORCH_TYPES:
                raise TinyLMError(
                    f"device: tinylm's tensors live on 'cpu' or 'cuda' only, got {type!r}"
                )
            raise TinyLMError(
                f"device: unknown device {type!r}; expected 'cpu', 'cuda' or 'cuda:N'"
            )
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int | np.integer):
                raise TypeError(f"device: index must be an int, got {index!r}")
            if index < 0:
                raise RuntimeError(f"device: the index must not be negative, got {index}")
            index = int(index)
        self._type, self._index = name, index

    @property
    def type(self) -> str:
        """ "cpu" or "cuda"."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device's number (``cuda:1`` → 1), or None when none was named."""
        return self._index

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self._type, self._index))

    def __enter__(self) -> device:
        """``with tinylm.device("cpu"):`` as PyTorch's (factories use the CPU already);
        another device is refused, as :func:`tinylm.set_default_device` refuses it."""
        if self._type != "cpu":
            raise TinyLMError(
                f"device: `with device({str(self)!r})` would make it the default device; "
                "tinylm creates tensors on the CPU unless told otherwise: pass device= or "
                "use .to()"
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


#: The name tinylm's own modules use for the device class.
Device = device

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
    """The device that ``None``/"cpu"/"cuda"/"cuda:1"/a :class:`device` names, as a
    :class:`device` where a tensor can be put: None and "cpu:N" give the CPU (PyTorch's
    CPU tensors have no index either).

    Raises a clear error for unknown names, or for "cuda" when no GPU can be used.
    """
    if device is None:
        return CPU
    if type(device) is not Device:
        device = _parse(device) if isinstance(device, str) else Device(device)
    if device._type == "cpu":
        return CPU
    if not cuda_is_available():
        raise RuntimeError(
            f"device {str(device)!r} was requested but no CUDA device is usable "
            "(install the `gpu` extra, `pip install tinylm[gpu]`, on a machine with a GPU)"
        )
    return device


_PARSED: dict[str, Device] = {}


def _parse(name: str) -> Device:
    """``Device(name)``, remembered: the same few names are parsed again and again."""
    found = _PARSED.get(name)
    if found is None:
        found = _PARSED[name] = Device(name)
    return found


def array_module(array: Any) -> ModuleType:
    """The module (numpy or cupy) that owns ``array``."""
    if type(array) is np.ndarray or isinstance(array, np.ndarray | np.generic):
        return np
    cupy = _load_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def get_xp(device: Device) -> ModuleType:
    """The array module for a device (or its name)."""
    if normalize_device(device).type == "cpu":
        return np
    cupy = _load_cupy()
    if cupy is None:
        raise RuntimeError(f"device {device!r} needs cupy, which is not installed")
    return cupy


def device_of(array: Any) -> Device:
    """The device of an array."""
    if array_module(array) is np:
        return CPU
    return Device("cuda", int(array.device.id))  # with its index, as PyTorch's


def device_type(array: Any) -> str:
    """``"cpu"`` or ``"cuda"``: the kind of device an array lives on, without its index.

    The one test every op and the kernel registry use to pick an implementation.
    """
    return "cpu" if type(array) is np.ndarray or array_module(array) is np else "cuda"


def to_device_array(array: Any, device: Any) -> Any:
    """Copy ``array`` to ``device`` (a :class:`device` or its name; no copy when it is
    already there: "cuda" without an index is any GPU)."""
    device = normalize_device(device)
    if device._type == "cpu":
        return array if array_module(array) is np else array.get()
    if array_module(array) is not np and device._index in (None, array.device.id):
        return array
    cupy = get_xp(device)
    with cupy.cuda.Device(device._index or 0):
        return cupy.asarray(array)


def _is_device_name(x: Any) -> bool:
    """A device, its name, or a GPU's index (an int, as PyTorch's ``to(0)``)."""
    if isinstance(x, Device):
        return True
    if isinstance(x, int) and not isinstance(x, bool):
        return True
    return isinstance(x, str) and (x.partition(":")[0] in ("cpu", "cuda"))


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
