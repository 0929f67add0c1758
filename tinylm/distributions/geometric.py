"""``Geometric(probs | logits)``: the number of failures k = 0, 1, 2, … before the first
success of probability p, as PyTorch's; p is the batch_shape. Composed of differentiable
tensor ops (p = σ(l) given logits):

    log_prob(k) = k log(1 − p) + log p        ∂/∂p = 1/p − k/(1 − p)   (0 at p = 1, k = 0)
    entropy     = (−p log p − (1 − p) log(1 − p)) / p
    sample      = ⌊log u / log(1 − p)⌋,  u ~ U(0, 1)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import tensor, where, zeros_like
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from tinylm.nn.functional import binary_cross_entropy_with_logits
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["Geometric"]


class Geometric(Distribution):
    """Geometric(probs=p) or Geometric(logits=l): counts in the parameter's dtype.

    Args:
        probs: p ∈ (0, 1], a number or a tensor of any shape (the batch_shape).
        logits: l = log(p / (1 − p)), a number or a tensor.
        validate_args: check the parameter and log_prob's values (default: on).
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise TinyLMError(
                "Geometric: either `probs` or `logits` must be specified, but not both"
            )
        given = probs if probs is not None else logits
        (param,) = broadcast_all(given, op="Geometric")
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        batch_shape = () if isinstance(given, numbers.Number) else tuple(param.shape)
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None and not bool((param > 0).all().item()):
            raise TinyLMError(
                f"Geometric: expected parameter probs (Tensor of shape {tuple(param.shape)}) "
                "to be > 0, but found invalid values"
            )

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Geometric:
        new = self._get_checked_instance(Geometric, _instance)
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
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        """0, outside the graph (as PyTorch's)."""
        return zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """⌊log u / log(1 − p)⌋, sample_shape + batch_shape, in p's dtype, no gradient."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = np.broadcast_to(np.asarray(self.probs.detach().numpy()), shape)
            tiny = np.finfo(p.dtype).tiny
            u = default_generator.numpy.uniform(tiny, 1.0, shape).astype(p.dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                draws = np.floor(np.log(u) / np.log1p(-p))
            return tensor(np.where(p == 1, 0.0, draws).astype(p.dtype))

    def log_prob(self, value: Any) -> Tensor:
        """k log(1 − p) + log p, shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs, op="Geometric.log_prob")
        # 0 · log(1 − 1) is 0 here (the first draw succeeds surely), not NaN
        probs = where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        return (
            binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs
        )
