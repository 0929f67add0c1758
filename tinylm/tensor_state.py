"""What set-up and utility code asks a tensor about itself, with PyTorch's names:
``is_cpu``, ``is_cuda``, ``get_device()``, ``data_ptr()``, ``storage_offset()``,
``is_inference()``, ``retains_grad``; the legacy constructor ``x.new(...)``; ``x.multinomial``;
and ``register_post_accumulate_grad_hook``.

:class:`TensorState` is one of the bases of :class:`tinylm.Tensor`. A tensor's memory is its
NumPy (or CuPy) array: the "storage" PyTorch speaks of is the array that owns the memory
(the end of the chain of ``.base``), and a view's offset is its distance from that start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm.autograd import RemovableHandle, TinyLMError
from tinylm.devices import device_type, normalize_device, to_device_array
from tinylm.random import Generator
from tinylm.sampling import multinomial_indices

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = ["TensorState", "memory_address"]


def memory_address(array: Any) -> int:
    """The address of an array's first element (NumPy or CuPy)."""
    if type(array) is np.ndarray or isinstance(array, np.ndarray):
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)  # a CuPy array: its device pointer


def _owner(array: Any) -> Any:
    """The array that owns ``array``'s memory: the last array in its chain of ``.base``.
    A view made by NumPy's ``as_strided`` (``expand``, ``unsqueeze``) has as its base a
    holder of the array it views, under that holder's own ``.base``: followed too."""
    while True:
        base = getattr(array, "base", None)
        if base is not None and not hasattr(base, "shape"):  # as_strided's holder
            base = getattr(base, "base", None)
        if base is None or not hasattr(base, "shape"):
            return array
        array = base


class TensorState:
    """The Tensor methods that describe where a tensor lives and how it was made."""

    __slots__ = ()

    @property
    def is_cpu(self) -> bool:
        """True for a tensor in main memory (a NumPy array)."""
        return device_type(self.data) == "cpu"

    @property
    def is_cuda(self) -> bool:
        """True for a tensor on a GPU (a CuPy array)."""
        return device_type(self.data) == "cuda"

    def get_device(self) -> int:
        """The GPU's index of a CUDA tensor; -1 for a CPU tensor, as in PyTorch."""
        if self.is_cpu:
            return -1
        return int(self.data.device.id)

    def data_ptr(self) -> int:
        """The memory address of the first element (0 when there is none): two tensors that
        share memory from the same place have the same ``data_ptr()``. A tensor whose memory
        holds nothing (``empty(0)``) has none: 0, as in PyTorch."""
        if _owner(self.data).size == 0:
            return 0
        return memory_address(self.data)

    def storage_offset(self) -> int:
        """How many elements into its memory's owner this tensor starts, as PyTorch's: a
        fresh tensor 0, ``x[1]`` of a (2, 3) tensor 3, ``x[:, 1:]`` 1, ``x.t()`` 0. The
        owner is the array whose memory a view shares. Unlike PyTorch, a tensor made by
        ``from_numpy`` of a NumPy view counts from that view's owner (PyTorch from the view
        itself), and a view without elements says 0 (NumPy keeps no offset for it)."""
        array = self.data
        start = memory_address(_owner(array))
        return (memory_address(array) - start) // array.dtype.itemsize

    def is_inference(self) -> bool:
        """True for a tensor made inside ``inference_mode()`` (views of other tensors are of
        their base's kind), as PyTorch's."""
        return self._inference

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor on which :meth:`retain_grad` was called (it keeps its
        ``.grad`` after backward); always False for a leaf, whose ``.grad`` is kept anyway."""
        return self._retains_grad and self._node is not None

    def new(self, *size: Any, device: Any = None) -> Tensor:
        """PyTorch's legacy constructor: ``x.new(2, 3)`` a tensor of that shape in x's dtype
        and on x's (or ``device``'s) device, ``x.new()`` an empty one (0,). PyTorch leaves the
        values unset; tinylm fills them with zeros (never read them).

        PyTorch's other forms are refused: a list or tuple is data in ``x.new((2, 3))`` but
        a shape in ``x.new(x.size())`` there, and tinylm's shapes are tuples, so say which
        with ``x.new_tensor(data)`` or ``x.new_empty(shape)``; ``x.new(other)`` (sharing
        other's memory) is ``other.detach()``."""
        for n in size:
            if isinstance(n, bool) or not isinstance(n, int | np.integer):
                raise TinyLMError(
                    f"new: takes sizes as ints (x.new(2, 3)), got {type(n).__name__}; use "
                    "x.new_tensor(data) for data, x.new_empty(shape) for a shape tuple"
                )
        shape = tuple(int(n) for n in size) if size else (0,)
        if any(n < 0 for n in shape):
            raise TinyLMError(f"new: sizes must be non-negative, got {shape}")
        place = self.device if device is None else normalize_device(device)
        array = to_device_array(np.zeros(shape, dtype=self.dtype), place)
        return type(self)._wrap(array)

    def multinomial(
        self, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
    ) -> Tensor:
        """``num_samples`` category indices drawn per row with probabilities proportional to
        this tensor's weights (C,) or (N, C): see ``tinylm.multinomial``."""
        if self.dtype.kind != "f":
            raise TinyLMError(
                f"multinomial: needs floating-point weights, got a tensor of dtype {self.dtype}"
            )
        weights = to_device_array(self.data, normalize_device("cpu"))
        draws = multinomial_indices(weights, num_samples, replacement, generator)
        return type(self)._wrap(to_device_array(draws, self.device))

    def register_post_accumulate_grad_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(tensor)`` after backward has added this leaf's gradient into its
        ``.grad``, as PyTorch's (an optimizer step per parameter while backward runs, say).
        The hook returns None. Only a leaf that requires grad takes one; ``autograd.grad``,
        which fills no ``.grad``, calls none. ``handle.remove()`` takes it away."""
        if not self.requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                "does not require grad"
            )
        if self._node is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                "registered on non-leaf tensors"
            )
        if not callable(hook):
            raise TypeError(
                f"register_post_accumulate_grad_hook: the hook must be callable, got "
                f"{type(hook).__name__}"
            )
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        handle = RemovableHandle(self._post_accumulate_hooks)
        self._post_accumulate_hooks[handle.id] = hook
        return handle
