"""Helpers the distributions share, as ``torch.distributions.utils``: turning numbers into
tensors of one shape, and converting between probabilities and logits."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import tensor
from tinylm.dtypes import get_default_dtype
from tinylm.tensor import Tensor
from tinylm.tensor_shaping import broadcast_tensors

__all__ = [
    "broadcast_all",
    "clamp_probs",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "sum_rightmost",
]


def broadcast_all(*values: Any, op: str = "broadcast_all") -> tuple[Tensor, ...]:
    """Numbers and tensors as tensors of one broadcast shape, as PyTorch's: numbers take the
    dtype of the first tensor (the default dtype when all are numbers); tensors keep theirs.
    Anything else is refused in one line naming ``op``."""
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Number | Tensor):
            raise TinyLMError(
                f"{op}: parameters must be numbers or Tensors, got {type(v).__name__}"
            )
    first = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = first.dtype if first is not None else get_default_dtype()
    device = first.device if first is not None else None
    tensors = [
        v if isinstance(v, Tensor) else tensor(v, dtype=dtype, device=device) for v in values
    ]
    if len(tensors) == 1:
        return (tensors[0],)
    return tuple(broadcast_tensors(*tensors))


def clamp_probs(probs: Tensor) -> Tensor:
    """probs clamped into [ε, 1 − ε] (ε: the dtype's machine epsilon), so that their logs
    are finite; the gradient is 0 where a value was clamped. Shape kept."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log p (categorical; shape kept), or log p − log(1 − p) (binary), of clamped p."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """σ(logits) (binary) or softmax(logits) along the last axis (categorical)."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` (*B, *E) summed over its ``dim`` rightmost axes E: (*B,)."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[: value.dim() - dim]) + (-1,)).sum(-1)


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first access and then kept as an attribute of the instance
    (``Categorical(probs=p).logits`` is computed from ``p`` once)."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
