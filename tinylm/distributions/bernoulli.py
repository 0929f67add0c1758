"""``Bernoulli``: 1 with probability p, else 0, as PyTorch's; parameterised by ``probs`` p
or ``logits`` l = log p − log(1 − p) (p = σ(l)), any shape, which is the batch_shape.

log_prob and entropy are binary cross-entropies on the logits, so they are exact for large
|l| and differentiable by the chain rule through ``F.binary_cross_entropy_with_logits``:

    log_prob(x) = x l − log(1 + eˡ)        ∂/∂l = x − σ(l)
    entropy     = log(1 + eˡ) − p l         (with p = σ(l))
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import arange, where
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from tinylm.nn.functional import binary_cross_entropy_with_logits
from tinylm.tensor import Tensor

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    """Bernoulli(probs=p) or Bernoulli(logits=l): draws of 0. and 1. in the parameter's dtype.

    Args:
        probs: p ∈ [0, 1], a number or a tensor of any shape (the batch_shape).
        logits: l = log(p / (1 − p)), a number or a tensor.
        validate_args: check the parameter and ``log_prob``'s values (default: on).
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        name = type(self).__name__
        if (probs is None) == (logits is None):
            raise TinyLMError(f"{name}: either `probs` or `logits` must be specified, but not both")
        given = probs if probs is not None else logits
        (param,) = broadcast_all(given, op=name)
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        batch_shape = () if isinstance(given, numbers.Number) else tuple(param.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Bernoulli:
        new = self._get_checked_instance(Bernoulli, _instance)
        batch_shape = tuple(batch_shape)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(batch_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(batch_shape)
            new._param = new.logits
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self) -> Tensor:
        """log p − log(1 − p), p clamped into [ε, 1 − ε]."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        """σ(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where p > ½, 0 where p < ½, NaN at p = ½ (no single mode), as PyTorch."""
        p = self.probs
        ones = (p >= 0.5).to(p.dtype)
        return where(p == 0.5, np.nan, ones)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """0. or 1. of shape sample_shape + batch_shape, drawn by ``Tensor.bernoulli`` from
        the global generator."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            return self.probs.detach().expand(shape).bernoulli()

    def log_prob(self, value: Tensor) -> Tensor:
        """x l − log(1 + eˡ), shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        if isinstance(value, Tensor) and value.dtype.kind != "f":
            raise TinyLMError(
                f"Bernoulli.log_prob: value must be a floating-point tensor of 0. and 1., got "
                f"{value.dtype} (PyTorch refuses it too)"
            )
        logits, value = broadcast_all(self.logits, value, op="Bernoulli.log_prob")
        # PyTorch's result takes the value's dtype (float64 logits, float32 value: float32)
        logits = logits.to(value.dtype)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self) -> Tensor:
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """0. and 1. as (2, 1, …, 1), or (2, *B) when ``expand``."""
        values = arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values
