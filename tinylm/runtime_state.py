"""The top-level functions that a script's set-up and utility code calls, as PyTorch's:
the global random state (``seed``, ``initial_seed``, ``get_rng_state``, ``set_rng_state``),
the default device (``set_default_device``, ``get_default_device``: the CPU), and small
helpers (``typename``, ``is_same_size``, ``scalar_tensor``, ``unravel_index``).

``finfo``/``iinfo`` and the constants are in ``numeric_info.py``; the deterministic-mode
switch in ``determinism.py``; ``is_inference_mode_enabled`` beside ``inference_mode`` in
``autograd.py``.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import CPU, Device, normalize_device, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.random import default_generator, state_to_bytes
from tinylm.tensor import Tensor
from tinylm.tensor_type_names import tensor_type_name

__all__ = [
    "get_default_device",
    "get_rng_state",
    "initial_seed",
    "is_same_size",
    "scalar_tensor",
    "seed",
    "set_default_device",
    "set_rng_state",
    "typename",
    "unravel_index",
]


# ---- the global random state ------------------------------------------------------------


def seed() -> int:
    """Seed the global generator from a non-deterministic 64-bit number and return it."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the global generator was last seeded with (``manual_seed``, ``seed``)."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The global generator's state as a 1-D uint8 tensor, as PyTorch's ByteTensor:
    ``set_rng_state`` of it makes the next draws repeat (and restores ``initial_seed``).
    48 bytes of NumPy's PCG64 state and the seed, where PyTorch's Mersenne Twister has 5056:
    a state of one library means nothing to the other."""
    return Tensor._wrap(state_to_bytes(default_generator))


def set_rng_state(new_state: Tensor) -> None:
    """Restore the global generator to a state from :func:`get_rng_state`."""
    if not isinstance(new_state, Tensor):
        raise TinyLMError(
            f"set_rng_state: expected the uint8 tensor get_rng_state returns, got "
            f"{type(new_state).__name__}"
        )
    default_generator.set_state(new_state.numpy())


# ---- the default device -----------------------------------------------------------------


def set_default_device(device: Any) -> None:
    """PyTorch's switch of the device that factory functions use. tinylm's factories use
    the CPU unless given ``device=``, so only ``"cpu"`` (or None, PyTorch's reset) is
    accepted; another device is refused: pass ``device=`` or move tensors with ``.to``."""
    if device is None or str(device) == "cpu":
        return
    raise TinyLMError(
        f"set_default_device: tinylm creates tensors on the CPU unless told otherwise; only "
        f"'cpu' is accepted, got {str(device)!r}: pass device= to the factories or use .to()"
    )


def get_default_device() -> Device:
    """The device factory functions use: always the CPU in tinylm."""
    return CPU


# ---- small helpers ----------------------------------------------------------------------


def typename(obj: Any) -> str:
    """The name of ``obj``'s type as PyTorch prints it: a tensor's PyTorch tensor type
    (``'torch.FloatTensor'``, ``'torch.cuda.LongTensor'``), else ``module.QualifiedName``
    of a class or function itself, or of an object's class (``'int'`` for builtins)."""
    if isinstance(obj, Tensor):
        return tensor_type_name(obj.data)
    if isinstance(obj, type) and isinstance(getattr(obj, "type_name", None), str):
        return obj.type_name  # a tensor type: tinylm.FloatTensor is 'torch.FloatTensor'
    if hasattr(obj, "__qualname__"):  # a class, function or method: its own name
        module, name = getattr(obj, "__module__", None), obj.__qualname__
    else:  # any other object: its class's name
        module, name = type(obj).__module__, type(obj).__qualname__
    return name if module in (None, "", "builtins") else f"{module}.{name}"


def is_same_size(input: Tensor, other: Tensor) -> bool:  # noqa: A002 - PyTorch's name
    """Whether the two tensors have the same shape."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TinyLMError(f"is_same_size: {name} must be a Tensor, got {type(t).__name__}")
    return input.shape == other.shape


def scalar_tensor(
    s: Any,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A 0-d tensor holding the number ``s``, in the default float dtype unless ``dtype``
    says otherwise (an int or a bool too, as PyTorch: ``scalar_tensor(3)`` is ``tensor(3.)``).
    ``layout`` and ``pin_memory`` take only their defaults (tinylm has strided tensors in
    ordinary memory)."""
    if layout is not None or pin_memory:
        raise TinyLMError("scalar_tensor: layout and pin_memory take only None and False")
    if isinstance(s, Tensor):
        if s.numel() != 1:
            raise TinyLMError(f"scalar_tensor: s must be a number, got a tensor of {s.shape}")
        s = s.item()
    if not isinstance(s, builtins.bool | int | float | np.number | np.bool_):
        raise TinyLMError(f"scalar_tensor: s must be a number, got {type(s).__name__}")
    array = np.asarray(s).astype(np.dtype(dtype) if dtype is not None else get_default_dtype())
    t = Tensor._wrap(to_device_array(array, normalize_device(device)))
    t.requires_grad = requires_grad  # checks the dtype
    return t


def unravel_index(indices: Tensor, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of ``shape`` of each flat (row-major) index, as
    ``torch.unravel_index``: one int64 tensor per dim of ``shape``, each of ``indices``'
    shape. A negative index counts from the end (−1 is the last element); one outside
    [−numel, numel) is refused (PyTorch wraps it around silently).

    Shapes: indices (...) integers, shape (D,) → D tensors (...)."""
    if not isinstance(indices, Tensor):
        raise TinyLMError(f"unravel_index: indices must be a Tensor, got {type(indices).__name__}")
    if indices.dtype.kind not in "iu":
        raise TinyLMError(
            f"unravel_index: expected 'indices' to be integer dtype, got {indices.dtype}"
        )
    dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in dims):
        raise TinyLMError(f"unravel_index: shape must be ints, got {shape!r}")
    if any(n < 0 for n in dims):
        raise TinyLMError(f"unravel_index: shape cannot have negative values, got {shape!r}")
    numel = math.prod(dims)
    flat = indices.numpy().astype(np.int64)
    if flat.size and (flat.min() < -numel or flat.max() >= numel):
        raise TinyLMError(
            f"unravel_index: indices must lie in [-{numel}, {numel}) for shape {tuple(dims)}, "
            f"got values from {flat.min()} to {flat.max()}"
        )
    flat = np.where(flat < 0, flat + numel, flat)
    coords = np.unravel_index(flat, dims) if dims else ()
    return tuple(Tensor._wrap(to_device_array(c.astype(np.int64), indices.device)) for c in coords)
