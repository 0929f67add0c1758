"""What several files of ``tinylm.nn.functional`` share: the kernel lookup and argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module, device_of, device_type, to_device_array
from tinylm.kernels import registry
from tinylm.tensor import Tensor

__all__ = [
    "REDUCTIONS",
    "as_array",
    "check_not_inplace",
    "check_probability",
    "check_reduction",
    "check_same_dtype",
    "check_tensor",
    "kernel",
    "reduce_loss",
    "reduce_loss_array",
]


def kernel(name: str, x: Any) -> Any:
    """The implementation of kernel ``name`` that the registry picks for array ``x``'s device:
    Numba on the CPU, CUDA C on a GPU, or the numpy reference (``kernels/reference.py``)."""
    return registry.lookup(name, device_type(x))


def check_probability(op: str, p: Any, name: str = "p") -> float:
    """``p`` as a float in [0, 1], or an error naming ``op`` and the argument."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise TinyLMError(f"{op}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op: str, reduction: str, size_average: Any = None, reduce: Any = None) -> None:
    """``reduction`` is one of PyTorch's three; its deprecated ``size_average`` and ``reduce``
    (kept in the signatures so that positional arguments mean what they mean in PyTorch) are
    refused with the spelling to use instead."""
    if size_average is not None or reduce is not None:
        raise TinyLMError(
            f"{op}: size_average and reduce are PyTorch's deprecated spellings of reduction, "
            f"not supported; pass reduction= one of {REDUCTIONS}"
        )
    if reduction not in REDUCTIONS:
        raise TinyLMError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """PyTorch's reductions of an unreduced loss Tensor (one of :data:`REDUCTIONS`, already
    checked): the mean of all its elements, their sum, or the loss itself for "none". Tensor
    ops, so autograd derives the gradient (1/n each for a mean, 1 for a sum)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def reduce_loss_array(loss: Any, reduction: str) -> Any:
    """:func:`reduce_loss` on an array, in a Function's forward: the mean or the sum as a
    0-d array of the loss's dtype (never a NumPy scalar), or the array itself for "none"."""
    xp = array_module(loss)
    if reduction == "mean":
        if loss.size == 0:  # nan, as PyTorch's, without NumPy's "Mean of empty slice"
            return xp.full((), xp.nan, dtype=loss.dtype)
        return xp.asarray(loss.mean(), dtype=loss.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=loss.dtype)
    return loss


def check_tensor(op: str, name: str, value: Any) -> Tensor:
    """``value`` itself when it is a Tensor, else an error naming ``op`` and the argument."""
    if not isinstance(value, Tensor):
        raise TinyLMError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    return value


def check_not_inplace(op: str, inplace: bool) -> None:
    """PyTorch's ``inplace=True`` (overwrite the input) is refused: tinylm's autograd keeps
    inputs unchanged. ``inplace=False`` is accepted, so signatures line up."""
    if inplace:
        raise TinyLMError(f"{op}: inplace=True is not supported; leave it out (same result)")


def check_same_dtype(op: str, **arrays: Any) -> None:
    """All given arrays (or Tensors; None is skipped) have one dtype, or an error listing them."""
    present = {k: a for k, a in arrays.items() if a is not None}
    dtypes = {a.dtype for a in present.values()}
    if len(dtypes) > 1:
        listed = ", ".join(f"{k} {tuple(a.shape)} {a.dtype}" for k, a in present.items())
        raise TinyLMError(f"{op}: all inputs must have the same dtype, got {listed}")


def as_array(op: str, value: Any, like: Any, what: str) -> Any:
    """A Tensor/array/list argument that gets no gradient, as an array on ``like``'s device."""
    raw = value.data if isinstance(value, Tensor) else value
    if not hasattr(raw, "shape"):
        raw = np.asarray(raw)
        if raw.dtype == object:
            raise TinyLMError(f"{op}: could not turn {what} into an array")
    return to_device_array(raw, device_of(like))
