"""Initialisers with PyTorch's names and formulas (``torch.nn.init``): each fills a tensor in
place, under ``no_grad``, and returns it.

The random ones draw from ``tinylm.default_generator`` (or the ``generator`` given), so
``tinylm.manual_seed(s)`` makes them reproducible. The numbers are not PyTorch's (another
generator), but the distributions are: e.g. ``kaiming_uniform_`` with PyTorch's defaults is
U(−b, b), b = gain·√(3 / fan_in), gain = √(2 / (1 + a²)).

``fan_in`` of a weight (out, in, k₁, k₂ …) is in·k₁·k₂…, ``fan_out`` is out·k₁·k₂…: for a
Linear weight (out_features, in_features), fan_in = in_features.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.devices import to_device_array
from tinylm.random import Generator, default_generator
from tinylm.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "eye_",
    "fan_in_and_fan_out",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` (numpy, any float dtype) into ``tensor`` in place, outside the graph."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init: expected a Tensor, got {type(tensor).__name__}")
    array = to_device_array(np.asarray(values, dtype=tensor.dtype), tensor.device)
    with no_grad():  # an initialisation is not part of the model's computation
        tensor.copy_(array)
    return tensor


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity``:
    1 (linear, sigmoid, conv), 5/3 (tanh), √2 (relu), √(2 / (1 + slope²)) (leaky_relu,
    slope ``param``, default 0.01), 3/4 (selu)."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise TinyLMError(f"calculate_gain: negative slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise TinyLMError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): (in·k, out·k), k = the kernel's size."""
    if tensor.ndim < 2:
        raise TinyLMError(
            f"nn.init: fan in and fan out need a tensor with at least 2 dims, got shape "
            f"{tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise TinyLMError(f"nn.init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with draws from U(a, b)."""
    return _fill(tensor, _rng(generator).uniform(a, b, size=tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with draws from N(mean, std²)."""
    return _fill(tensor, _rng(generator).normal(mean, std, size=tensor.shape))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with draws from N(mean, std²) restricted to [a, b] (a and b are values, not
    multiples of std, as in PyTorch). Draws outside are drawn again until none is left."""
    if not a < b:
        raise TinyLMError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _rng(generator)
    values = rng.normal(mean, std, size=tensor.shape)
    for _ in range(1000):
        outside = (values < a) | (values > b)
        if not outside.any():
            return _fill(tensor, values)
        values[outside] = rng.normal(mean, std, size=int(outside.sum()))
    raise TinyLMError(
        f"trunc_normal_: [a, b] = [{a}, {b}] holds almost none of N({mean}, {std}²); "
        "choose bounds within a few std of the mean"
    )


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise TinyLMError(f"eye_: needs a 2-D tensor, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """U(−b, b), b = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None):
    """N(0, std²), std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """U(−b, b), b = gain·√(3 / fan), gain = calculate_gain(nonlinearity, a) (He et al., 2015)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """N(0, std²), std = gain / √fan, gain = calculate_gain(nonlinearity, a)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013), as PyTorch's:
    the tensor viewed as (rows, cols) = (shape[0], the product of the rest) gets
    orthonormal rows if rows ≤ cols, else orthonormal columns (W Wᵀ = gain² I, or
    Wᵀ W = gain² I).

    How: A (rows, cols) ~ N(0, 1), transposed if wider than tall; A = QR; Q's columns
    times the signs of R's diagonal (so that Q is uniform over the orthogonal matrices,
    not biased by the QR routine's convention); transposed back.
    """
    if tensor.ndim < 2:
        raise TinyLMError(
            f"orthogonal_: needs a tensor with at least 2 dims, got shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    a = _rng(generator).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)  # q: (max, min) with orthonormal columns
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
