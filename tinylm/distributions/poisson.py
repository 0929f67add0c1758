"""``Poisson(rate)``: counts 0, 1, 2, … with mean λ ≥ 0, as PyTorch's; λ is the batch_shape.
Composed of differentiable tensor ops:

    log_prob(k) = k log λ − λ − log Γ(k + 1)      ∂/∂λ = k/λ − 1
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from tinylm.autograd import no_grad
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import broadcast_all
from tinylm.random_creation import poisson
from tinylm.tensor import Tensor

__all__ = ["Poisson"]


class Poisson(Distribution):
    """Poisson(rate): P(k) = λ^k e^(−λ) / k!, values in the rate's float dtype.

    Args:
        rate: λ ≥ 0, a number or a tensor of any shape (the batch_shape).
        validate_args: check λ ≥ 0 and log_prob's values (default: on).
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate: Any, validate_args: Any = None) -> None:
        (self.rate,) = broadcast_all(rate, op=type(self).__name__)
        batch_shape = () if isinstance(rate, numbers.Number) else tuple(self.rate.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Poisson:
        new = self._get_checked_instance(Poisson, _instance)
        batch_shape = tuple(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Counts of shape sample_shape + batch_shape in λ's dtype, from the global generator."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            return poisson(self.rate.detach().expand(shape).contiguous())

    def log_prob(self, value: Any) -> Tensor:
        """k log λ − λ − log Γ(k + 1), shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value, op="Poisson.log_prob")
        return value.xlogy(rate) - rate - (value + 1).lgamma()
