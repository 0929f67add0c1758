"""What a tensor says of its memory, as PyTorch's: ``layout`` (always ``tinylm.strided``:
tinylm has no sparse tensors), ``is_sparse`` and ``is_meta`` (False), ``pin_memory`` and
``is_pinned`` (page-locked memory for fast copies to a GPU: CuPy's, where a GPU is usable),
and ``share_memory_``/``is_shared`` (memory shared between processes).

PyTorch's ``share_memory_`` moves a CPU tensor's memory where other processes see the same
numbers (Hogwild training with ``torch.multiprocessing``). tinylm's tensors hold NumPy
arrays, which each process copies (on ``fork``, or on pickling), so that cannot be kept:
``share_memory_`` refuses a CPU tensor instead of pretending, and ``is_shared`` is False for
it. A CUDA tensor is shareable already (PyTorch: a no-op, ``is_shared()`` True).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import cuda_is_available, device_type

__all__ = ["PinMemory", "TensorMemory", "layout", "strided"]


class layout:  # noqa: N801 - PyTorch's name (torch.layout)
    """A tensor's memory layout, as ``torch.layout``; tinylm has one, :data:`strided`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"  # as PyTorch prints it, like x.type()'s names

    def __reduce__(self) -> str:
        return self.name


#: Dense tensors whose elements sit at steps (strides) through memory: every tinylm tensor.
strided = layout("strided")


def _cupy_for(op: str) -> Any:
    """CuPy, where a GPU is usable; else a one-line refusal."""
    if not cuda_is_available():
        raise TinyLMError(
            f"{op}: pinned memory needs a GPU, and no CUDA device is usable (as PyTorch "
            "without an accelerator); CPU tensors need no pinning"
        )
    import cupy  # noqa: PLC0415 - optional dependency, there when a GPU is usable

    return cupy


class PinMemory(Function):
    """y = x, copied into page-locked host memory (CuPy's pinned allocator); dL/dx = dL/dy.
    x: any shape, a NumPy array; y: the same shape and dtype."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        import cupyx  # noqa: PLC0415 - optional dependency (checked by the caller)

        pinned = cupyx.empty_pinned(x.shape, dtype=x.dtype)
        np.copyto(pinned, x)
        return pinned

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad


def _is_pinned_array(array: Any) -> bool:
    if device_type(array) != "cpu" or not cuda_is_available() or array.size == 0:
        return False
    import cupy  # noqa: PLC0415 - optional dependency

    address = array.__array_interface__["data"][0]
    try:
        kind = cupy.cuda.runtime.pointerGetAttributes(address).type
    except Exception:  # not memory CUDA knows of
        return False
    return kind == cupy.cuda.runtime.memoryTypeHost


class TensorMemory:
    """The Tensor methods above (see the module doc)."""

    __slots__ = ()

    @property
    def layout(self) -> layout:
        """``tinylm.strided``: every tinylm tensor is dense."""
        return strided

    @property
    def is_sparse(self) -> bool:
        """False: tinylm has no sparse tensors."""
        return False

    @property
    def is_meta(self) -> bool:
        """False: tinylm has no meta tensors (shapes without memory)."""
        return False

    def is_pinned(self, device: Any = None) -> bool:
        """True for a CPU tensor in page-locked memory (:meth:`pin_memory`)."""
        return _is_pinned_array(self.data)

    def pin_memory(self, device: Any = None) -> Any:
        """A copy in page-locked memory, for fast copies to the GPU (differentiable);
        itself when pinned already. Needs a GPU, as PyTorch's."""
        _cupy_for("pin_memory")  # refuses without a GPU
        if device_type(self.data) != "cpu":
            raise TinyLMError(f"pin_memory: only CPU tensors can be pinned, got {self.device}")
        if self.is_pinned():
            return self
        return PinMemory.apply(self)

    def share_memory_(self) -> Any:
        """Itself for a CUDA tensor (shareable already); refused for a CPU tensor, whose
        NumPy memory every process copies (see the module doc)."""
        if device_type(self.data) == "cuda":
            return self
        raise TinyLMError(
            "share_memory_: tinylm's CPU tensors hold NumPy arrays that each process copies, "
            "so they cannot be shared between processes; pass results back instead"
        )

    def is_shared(self) -> bool:
        """True for a CUDA tensor, False for a CPU one (see the module doc)."""
        return device_type(self.data) == "cuda"
