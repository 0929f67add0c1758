"""``tinylm.cuda``: the ``torch.cuda`` calls a PyTorch script makes before it picks a device,
``device = "cuda" if torch.cuda.is_available() else "cpu"`` above all; ``tinylm.cuda.amp`` is
:mod:`tinylm.amp` (PyTorch's older spelling of ``torch.amp``).

tinylm's GPU arrays are CuPy's (``tinylm/devices.py``); these functions ask CuPy. Random
numbers are drawn on the CPU and moved to the device (``tinylm/random.py``), so one generator
serves every device: ``manual_seed`` and ``manual_seed_all`` seed it, as ``tinylm.manual_seed``
does.
"""

from __future__ import annotations

from tinylm import amp
from tinylm.devices import cuda_is_available
from tinylm.random import manual_seed as _seed_all_devices

__all__ = ["amp", "device_count", "is_available", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device (``torch.cuda.is_available``)."""
    return cuda_is_available()


def device_count() -> int:
    """How many CUDA devices CuPy sees (0 without CuPy or a GPU)."""
    if not cuda_is_available():
        return 0
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())


def manual_seed(seed: int) -> None:
    """Seed the random numbers of tensors on the GPU: tinylm's one generator (see above)."""
    _seed_all_devices(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the random numbers of every GPU: tinylm's one generator (see above)."""
    _seed_all_devices(seed)
