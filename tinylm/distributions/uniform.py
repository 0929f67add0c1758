"""``Uniform(low, high)``: the uniform distribution on [low, high), as PyTorch's; low and high
broadcast to the batch_shape. Composed of differentiable tensor ops:

    log_prob(x) = −log(high − low) inside [low, high), −inf outside
                  ∂/∂low = 1 / (high − low),  ∂/∂high = −1 / (high − low)
    rsample     = low + u (high − low),  u ~ U[0, 1)    ∂/∂low = 1 − u,  ∂/∂high = u
    entropy     = log(high − low)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.creation import rand
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import broadcast_all
from tinylm.tensor import Tensor

__all__ = ["Uniform"]


class Uniform(Distribution):
    """U[low, high).

    Args:
        low: the lower end (inclusive), a number or a tensor.
        high: the upper end (exclusive), broadcast with low; low < high is checked.
        validate_args: check low < high and ``log_prob``'s values (default: on).
    """

    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: Any = None) -> None:
        self.low, self.high = broadcast_all(low, high, op=type(self).__name__)
        both_numbers = isinstance(low, numbers.Number) and isinstance(high, numbers.Number)
        batch_shape = () if both_numbers else tuple(self.low.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        return {
            "low": constraints.less_than(self.high),
            "high": constraints.greater_than(self.low),
        }

    @property
    def support(self) -> constraints.Constraint:
        """[low, high] (closed, as PyTorch's check)."""
        return constraints.interval(self.low, self.high)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Uniform:
        new = self._get_checked_instance(Uniform, _instance)
        batch_shape = tuple(batch_shape)
        new.low = self.low.expand(batch_shape)
        new.high = self.high.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        """NaN: every point of the interval is as likely."""
        return np.nan * self.high

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """low + u (high − low), u ~ U[0, 1) from the global generator; shape sample_shape +
        batch_shape; differentiable in low and high."""
        shape = self._extended_shape(sample_shape)
        u = rand(size=shape, dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        """−log(high − low) where low ≤ x < high, else −inf; broadcast shape."""
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value).type_as(self.low) * (self.high > value).type_as(self.low)
        with np.errstate(divide="ignore"):  # log 0 = −inf outside is the answer, not a slip
            log_inside = inside.log()
        return log_inside - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        """(x − low) / (high − low), clamped into [0, 1]."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Tensor) -> Tensor:
        """low + q (high − low)."""
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()
