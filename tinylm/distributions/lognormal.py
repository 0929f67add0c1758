"""``LogNormal(loc, scale)``: X = e^Y with Y ~ N(μ, σ²), as PyTorch's (written directly, not as
a TransformedDistribution); μ and σ broadcast to the batch_shape. Composed of differentiable
tensor ops on Normal's:

    log_prob(x) = log N(log x; μ, σ²) − log x
    entropy     = ½ + ½ log 2π + log σ + μ
    rsample     = e^(μ + σ ε),  ε ~ N(0, 1)      ∂/∂μ = x,  ∂/∂σ = x ε
    mean = e^(μ + σ²/2),  mode = e^(μ − σ²),  variance = (e^(σ²) − 1) e^(2μ + σ²)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.normal import Normal
from tinylm.tensor import Tensor

__all__ = ["LogNormal"]


class LogNormal(Distribution):
    """LogNormal(loc μ, scale σ): the exponential of N(μ, σ²).

    Args:
        loc: μ, a number or a tensor.
        scale: σ > 0, a number or a tensor (broadcast with loc).
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: Any = None) -> None:
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        self.loc, self.scale = self.base_dist.loc, self.base_dist.scale
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> LogNormal:
        new = self._get_checked_instance(LogNormal, _instance)
        batch_shape = tuple(batch_shape)
        new.base_dist = self.base_dist.expand(batch_shape)
        new.loc, new.scale = new.base_dist.loc, new.base_dist.scale
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self) -> Tensor:
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self) -> Tensor:
        s2 = self.scale.pow(2)
        return s2.expm1() * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """e^(μ + σ ε), sample_shape + batch_shape, differentiable in μ and σ."""
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value: Any) -> Tensor:
        """log N(log x; μ, σ²) − log x, shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        y = value.log()
        return self.base_dist.log_prob(y) - y

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.base_dist.cdf(value.log())

    def icdf(self, value: Tensor) -> Tensor:
        return self.base_dist.icdf(value).exp()

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() + self.loc
