"""``Exponential(rate)``: the waiting time of rate λ > 0, as PyTorch's; λ is the batch_shape.
Composed of differentiable tensor ops:

    log_prob(x) = log λ − λ x             ∂/∂λ = 1/λ − x,   ∂/∂x = −λ
    entropy     = 1 − log λ               ∂/∂λ = −1/λ
    rsample     = E / λ,  E ~ Exp(1)      ∂/∂λ = −E/λ²
    cdf(x)      = 1 − e^(−λx),            icdf(q) = −log(1 − q) / λ
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from tinylm.creation import tensor, zeros_like
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import broadcast_all
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["Exponential"]


class Exponential(Distribution):
    """Exp(rate): density λ e^(−λx) on x ≥ 0.

    Args:
        rate: λ > 0, a number or a tensor of any shape (the batch_shape).
        validate_args: check λ > 0 and log_prob's values (default: on).
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate: Any, validate_args: Any = None) -> None:
        (self.rate,) = broadcast_all(rate, op=type(self).__name__)
        batch_shape = () if isinstance(rate, numbers.Number) else tuple(self.rate.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Exponential:
        new = self._get_checked_instance(Exponential, _instance)
        batch_shape = tuple(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        """0, outside the graph (as PyTorch's)."""
        return zeros_like(self.rate)

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate.pow(-2)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """E / λ with E ~ Exp(1) from the global generator: sample_shape + batch_shape."""
        shape = self._extended_shape(sample_shape)
        draws = default_generator.numpy.standard_exponential(shape)
        return tensor(draws, dtype=self.rate.dtype) / self.rate

    def log_prob(self, value: Any) -> Tensor:
        """log λ − λ x, shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        return -(-value).log1p() / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - self.rate.log()
