"""``tinylm.cuda``: the ``torch.cuda`` calls a PyTorch script makes before it picks a device,
``device = "cuda" if torch.cuda.is_available() else "cpu"`` above all; ``tinylm.cuda.amp`` is
:mod:`tinylm.amp` (PyTorch's older spelling of ``torch.amp``).

tinylm's GPU arrays are CuPy's (``tinylm/devices.py``); these functions ask CuPy. Without a
usable GPU they do what PyTorch's CPU build does: ``device_count()`` is 0, the memory counts
are 0, ``empty_cache`` and the seeds are no-ops, and the calls that need a GPU
(``current_device``, ``get_device_name``, ``synchronize``, ``reset_peak_memory_stats``)
raise. Random numbers are drawn on the CPU and moved to the device (``tinylm/random.py``), so
with a GPU ``manual_seed`` and ``manual_seed_all`` seed that one generator, as
``tinylm.manual_seed`` does.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tinylm import amp
from tinylm.devices import Device, cuda_is_available
from tinylm.errors import TinyLMError
from tinylm.random import manual_seed as _seed_all_devices

__all__ = [
    "amp",
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "is_bf16_supported",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "synchronize",
]


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device (``torch.cuda.is_available``)."""
    return cuda_is_available()


def _cupy(op: str) -> ModuleType:
    """CuPy, where a GPU is usable; else the one-line error PyTorch's CPU build raises."""
    if not cuda_is_available():
        raise TinyLMError(
            f"cuda.{op}: no CUDA device is usable (CuPy is not installed or sees no GPU), "
            "as PyTorch without CUDA"
        )
    import cupy  # noqa: PLC0415 - optional dependency, there when a GPU is usable

    return cupy


def _index(op: str, device: Any) -> int:
    """The GPU number ``device`` names (None, an int, "cuda:1" or a device): None and
    "cuda" are the current one."""
    cupy = _cupy(op)
    if device is None:
        return int(cupy.cuda.runtime.getDevice())
    if isinstance(device, int) and not isinstance(device, bool):
        number = device
    else:
        named = device if isinstance(device, Device) else Device(device)
        if named.type != "cuda":
            raise TinyLMError(f"cuda.{op}: expected a CUDA device, got {str(named)!r}")
        number = named.index if named.index is not None else cupy.cuda.runtime.getDevice()
    if not 0 <= number < device_count():
        raise TinyLMError(f"cuda.{op}: there is no GPU {number}; this machine has {device_count()}")
    return int(number)


def device_count() -> int:
    """How many CUDA devices CuPy sees (0 without CuPy or a GPU)."""
    if not cuda_is_available():
        return 0
    import cupy  # noqa: PLC0415 - optional dependency

    return int(cupy.cuda.runtime.getDeviceCount())


def current_device() -> int:
    """The number of the GPU that "cuda" means now; raises without a GPU, as PyTorch."""
    return _index("current_device", None)


def get_device_name(device: Any = None) -> str:
    """The GPU's name ("NVIDIA H100 …") of ``device`` (default the current one)."""
    cupy = _cupy("get_device_name")
    name = cupy.cuda.runtime.getDeviceProperties(_index("get_device_name", device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device: Any = None) -> None:
    """Wait until the GPU ``device`` (default the current one) has finished its work."""
    cupy = _cupy("synchronize")
    cupy.cuda.Device(_index("synchronize", device)).synchronize()


def empty_cache() -> None:
    """Give the GPU memory CuPy's pool keeps for reuse back to the driver (a no-op without a
    GPU, as PyTorch's)."""
    if cuda_is_available():
        import cupy  # noqa: PLC0415 - optional dependency

        cupy.get_default_memory_pool().free_all_blocks()


def _pool_bytes(op: str, device: Any, counted: str) -> int:
    if not cuda_is_available():
        return 0  # PyTorch's CPU build counts nothing, and says 0
    cupy = _cupy(op)
    with cupy.cuda.Device(_index(op, device)):
        return int(getattr(cupy.get_default_memory_pool(), counted)())


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU memory the tensors (CuPy's arrays) hold now; 0 without a GPU."""
    return _pool_bytes("memory_allocated", device, "used_bytes")


def memory_reserved(device: Any = None) -> int:
    """Bytes of GPU memory CuPy's pool holds (in use, or kept for reuse); 0 without a GPU."""
    return _pool_bytes("memory_reserved", device, "total_bytes")


def max_memory_allocated(device: Any = None) -> int:
    """The peak of :func:`memory_allocated`: 0 without a GPU, as PyTorch's CPU build. CuPy's
    pool keeps no peak, so on a GPU it is refused (:func:`memory_reserved` bounds it)."""
    if not cuda_is_available():
        return 0
    raise TinyLMError(
        "cuda.max_memory_allocated: CuPy's memory pool keeps no peak; read "
        "memory_allocated() where it matters, or memory_reserved() (an upper bound)"
    )


def reset_peak_memory_stats(device: Any = None) -> None:
    """PyTorch's reset of the peak counts: it raises without a GPU (as PyTorch's CPU build),
    and on a GPU it is refused, since CuPy keeps no peak (see :func:`max_memory_allocated`)."""
    _cupy("reset_peak_memory_stats")
    raise TinyLMError(
        "cuda.reset_peak_memory_stats: CuPy's memory pool keeps no peak to reset; read "
        "memory_allocated() before and after instead"
    )


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: tinylm has no bfloat16 dtype on any device (PyTorch's CPU build says False
    too), so a script that asks falls back to float16 or float32."""
    return False


def manual_seed(seed: int) -> None:
    """Seed the random numbers of tensors on the GPU: tinylm's one generator (see above); a
    no-op without a GPU, as PyTorch's (the CPU's numbers are not reseeded)."""
    seed = int(seed)  # a bad seed is refused on any machine, as PyTorch's
    if cuda_is_available():
        _seed_all_devices(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the random numbers of every GPU: tinylm's one generator (see above); a no-op
    without a GPU, as PyTorch's."""
    seed = int(seed)
    if cuda_is_available():
        _seed_all_devices(seed)
