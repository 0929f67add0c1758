"""``Binomial(total_count, probs | logits)``: successes k ∈ {0, …, n} in n trials of
probability p, as PyTorch's; n and p broadcast to the batch_shape. Composed of
differentiable tensor ops on the logits l (p = σ(l)), stable for large |l|:

    log_prob(k) = k l − n log(1 + eˡ) + log Γ(n + 1) − log Γ(k + 1) − log Γ(n − k + 1)
                  ∂/∂l = k − n σ(l)
    entropy     = −Σ_k P(k) log P(k) over k = 0 … n (one n for the whole batch)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import arange, tensor
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["Binomial"]


class Binomial(Distribution):
    """Binomial(total_count=n, probs=p) or Binomial(n, logits=l): counts in p's dtype.

    Args:
        total_count: n ≥ 0, an integer number or tensor (default 1).
        probs: p ∈ [0, 1], a number or a tensor.
        logits: l = log(p / (1 − p)), a number or a tensor.
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    has_enumerate_support = True

    def __init__(
        self,
        total_count: Any = 1,
        probs: Any = None,
        logits: Any = None,
        validate_args: Any = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise TinyLMError(
                "Binomial: either `probs` or `logits` must be specified, but not both"
            )
        given = probs if probs is not None else logits
        count, param = broadcast_all(total_count, given, op="Binomial")
        self.total_count = count.to(param.dtype)
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        batch_shape = () if isinstance(given, numbers.Number) else tuple(param.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Binomial:
        new = self._get_checked_instance(Binomial, _instance)
        batch_shape = tuple(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(batch_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(batch_shape)
            new._param = new.logits
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.total_count)

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
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Counts of shape sample_shape + batch_shape in p's dtype, no gradient."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = np.broadcast_to(np.asarray(self.probs.detach().numpy()), shape)
            n = np.broadcast_to(np.asarray(self.total_count.detach().numpy()), shape)
            draws = default_generator.numpy.binomial(n.astype(np.int64), p)
            return tensor(np.asarray(draws).astype(p.dtype))

    def log_prob(self, value: Any) -> Tensor:
        """log C(n, k) + k l − n log(1 + eˡ), shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        n, k, lg = self.total_count, value, self.logits
        # n · max(l, 0), with the kink's gradient split ½ / ½ as PyTorch's
        clamped = (lg.clamp(min=0) + lg - lg.clamp(max=0)) / 2
        normalizer = n * clamped + n * (-lg.abs()).exp().log1p() - (n + 1).lgamma()
        return k * lg - normalizer - (k + 1).lgamma() - (n - k + 1).lgamma()

    def entropy(self) -> Tensor:
        """−Σ_k P(k) log P(k), batch_shape; n must be the same over the batch."""
        support = self.enumerate_support(False)
        log_p = self.log_prob(support)
        return -(log_p.exp() * log_p).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """0 … n in p's dtype, (n + 1, 1, …, 1), or (n + 1, *B) when ``expand``."""
        counts = np.unique(np.asarray(self.total_count.detach().numpy()))
        if counts.size != 1:
            raise TinyLMError(
                "Binomial.enumerate_support: inhomogeneous total_count is not supported "
                "(PyTorch refuses it too)"
            )
        n = int(counts[0])
        values = arange(1 + n, dtype=self._param.dtype)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values
