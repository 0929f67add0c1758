"""PyTorch's random creation functions beyond ``randn``/``rand``/``randint``: ``normal`` in
its four forms, ``poisson``, ``randint_like`` and (not random, but a creation function
beside them) ``logspace``. Draws come from :mod:`tinylm.random`'s generator on the CPU (the
global one, seeded by ``tinylm.manual_seed``, unless ``generator=`` is given) and move to
the device, so a seed repeats them; they are other numbers than PyTorch's draws.

PyTorch gives ``normal(mean, std)`` and ``poisson(rates)`` a gradient of zero for tensor
parameters (a draw is not reparametrised): :class:`Draws` records the same.
"""

from __future__ import annotations

import builtins
import numbers
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TensorBase, TinyLMError, is_grad_enabled
from tinylm.creation import relaid, zeros
from tinylm.devices import Device, normalize_device, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.memory_formats import preserve_format
from tinylm.random import Generator, default_generator
from tinylm.sampling import random_integers
from tinylm.tensor import Tensor

__all__ = ["Draws", "logspace", "normal", "poisson", "randint_like"]


class Draws(Function):
    """y = draws made from the inputs (means, deviations, rates), given as ``values``.

    dy/dx = 0 for every input, as PyTorch defines it for ``normal`` and ``poisson``: the
    draws are not a differentiable function of their parameters here.
    """

    @staticmethod
    def forward(ctx: Context, *params: Any, values: Any) -> Any:
        ctx.shapes = [(p.shape, p.dtype) for p in params]
        return values

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        grads = tuple(np.zeros(shape, dtype=dtype) for shape, dtype in ctx.shapes)
        return grads[0] if len(grads) == 1 else grads


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy


def _finish(values: Any, params: list[Tensor], device: Any, requires_grad: bool) -> Tensor:
    """The draws as a tensor: recorded by :class:`Draws` when a parameter tensor needs a
    gradient (zero), else a leaf (``requires_grad`` as asked)."""
    if params and is_grad_enabled() and any(p.requires_grad for p in params):
        return Draws.apply(*params, values=to_device_array(values, params[0].device))
    out = Tensor._wrap(to_device_array(values, normalize_device(device)))
    out.requires_grad = requires_grad
    return out


def _float_tensor(op: str, name: str, t: Tensor) -> None:
    if t.dtype.kind != "f":
        raise TinyLMError(f"{op}: {name} must be a floating-point tensor, got {t.dtype}")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, builtins.bool)


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    out: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Draws of N(mean, std²), PyTorch's forms:

    * ``normal(mean_tensor, std_tensor)`` — one draw per element of the broadcast shape;
    * ``normal(mean_tensor, std=1.0)`` and ``normal(mean, std_tensor)`` — the tensor's shape
      and float dtype;
    * ``normal(mean, std, size)`` — numbers and a shape (the default float dtype, or
      ``dtype``).

    std ≥ 0. A tensor mean or std that requires grad gets a zero gradient, as in PyTorch.
    """
    if out is not None:
        raise TinyLMError("normal: out= is not supported; use the returned tensor")
    m_tensor, s_tensor = isinstance(mean, TensorBase), isinstance(std, TensorBase)
    if not (m_tensor or _is_number(mean)) or not (s_tensor or _is_number(std)):
        raise TypeError(
            f"normal: mean and std must be tensors or numbers, got {type(mean).__name__} and "
            f"{type(std).__name__}"
        )
    if not m_tensor and not s_tensor:
        if size is None:
            raise TypeError("normal: with a number mean and std, give a size: normal(0, 1, (2, 3))")
        if std < 0:
            raise TinyLMError(f"normal: expects std >= 0.0, got std={std}")
        shape = tuple(size) if isinstance(size, list | tuple) else (size,)
        values = _rng(generator).normal(mean, std, size=shape)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        return _finish(values.astype(dtype), [], device, requires_grad)
    if size is not None or dtype is not None or requires_grad:
        raise TypeError(
            "normal: size, dtype and requires_grad go with a number mean and std only, as in "
            "PyTorch; a tensor mean or std sets the shape and dtype"
        )
    params = [t for t in (mean, std) if isinstance(t, TensorBase)]
    if m_tensor:
        _float_tensor("normal", "mean", mean)
    if s_tensor:
        if not m_tensor:  # the result takes std's dtype: a float
            _float_tensor("normal", "std", std)
        stds = np.asarray(std.detach().numpy())
        if stds.size and not (stds >= 0).all():
            raise TinyLMError("normal: expects all elements of std >= 0.0")
    elif std < 0:
        raise TinyLMError(f"normal: expects std >= 0.0, got std={std}")
    else:
        stds = np.asarray(std)
    means = np.asarray(mean.detach().numpy()) if m_tensor else np.asarray(mean)
    try:
        shape = np.broadcast_shapes(means.shape, stds.shape)
    except ValueError:
        raise TinyLMError(
            f"normal: the shapes of mean {means.shape} and std {stds.shape} do not broadcast"
        ) from None
    dtype = mean.dtype if m_tensor else std.dtype
    values = means + stds * _rng(generator).standard_normal(shape)
    return _finish(values.astype(dtype), params, None, False)


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:  # noqa: A002
    """Draws of the Poisson distribution of rate ``input[i]`` (≥ 0) per element, in the
    input's float dtype: a count with mean and variance equal to the rate. Its gradient is
    zero, as PyTorch's."""
    if not isinstance(input, TensorBase):
        raise TypeError(f"poisson: input must be a Tensor, got {type(input).__name__}")
    _float_tensor("poisson", "input", input)
    rates = np.asarray(input.detach().numpy())
    if rates.size and not (rates >= 0).all():
        raise TinyLMError("poisson: invalid rate, expected every rate to be non-negative")
    values = _rng(generator).poisson(rates).astype(input.dtype)
    return _finish(values, [input], input.device, False)


def randint_like(
    input: Tensor,  # noqa: A002
    low: int = 0,
    high: int | None = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
    memory_format: Any = preserve_format,
) -> Tensor:
    """Integers drawn uniformly from [low, high) in ``input``'s shape and layout (and dtype
    and device unless given): ``randint_like(x, high)`` or ``randint_like(x, low, high)``."""
    if not isinstance(input, TensorBase):
        raise TypeError(f"randint_like: input must be a Tensor, got {type(input).__name__}")
    if high is None:
        low, high = 0, low
    target = zeros(input.shape, dtype=dtype if dtype is not None else input.dtype)
    values = random_integers(target, low, high, generator)
    device = device if device is not None else input.device
    out = Tensor._wrap(to_device_array(values, normalize_device(device)))
    out.requires_grad = requires_grad
    return relaid("randint_like", input, out, memory_format)


def logspace(
    start: Any,
    end: Any,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` values base^v, v evenly spaced from ``start`` to ``end``, computed as
    PyTorch's: base^(start + i · step) for the first half, base^(end − (steps − 1 − i) ·
    step) for the second (in the float dtype, or in float64 for an integer dtype, then cut)."""
    start, end = (v.item() if isinstance(v, TensorBase) else v for v in (start, end))
    if isinstance(steps, builtins.bool) or not isinstance(steps, int | np.integer):
        raise TypeError(f"logspace: steps must be an int, got {steps!r}")
    if steps < 0:
        raise TinyLMError(f"logspace: number of steps must be non-negative, got {steps}")
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    work = dtype if dtype.kind == "f" else np.dtype(np.float64)
    i = np.arange(steps)
    lo, hi, b = work.type(start), work.type(end), work.type(base)
    step = (hi - lo) / work.type(steps - 1) if steps > 1 else work.type(0)
    with np.errstate(over="ignore"):
        exponents = np.where(
            i < steps // 2, lo + step * i.astype(work), hi - step * (steps - 1 - i).astype(work)
        )
        if steps == 1:  # base^start, as PyTorch
            exponents = np.asarray([lo])
        values = np.power(b, exponents.astype(work))
    out = Tensor._wrap(to_device_array(values.astype(dtype), normalize_device(device)))
    out.requires_grad = requires_grad
    return out
