"""``Normal(loc, scale)``: the Gaussian N(μ, σ²), as PyTorch's; μ and σ broadcast to the
batch_shape. Composed of differentiable tensor ops:

    log_prob(x) = −(x − μ)² / (2σ²) − log σ − ½ log 2π
                  ∂/∂μ = (x − μ) / σ²,   ∂/∂σ = (x − μ)² / σ³ − 1/σ,   ∂/∂x = −(x − μ) / σ²
    entropy     = ½ + ½ log 2π + log σ              ∂/∂σ = 1/σ
    rsample     = μ + σ ε,  ε ~ N(0, 1)            ∂/∂μ = 1,  ∂/∂σ = ε
    cdf(x)      = ½ (1 + erf((x − μ) / (σ √2))),   icdf(q) = μ + σ √2 erfinv(2q − 1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from tinylm.autograd import no_grad
from tinylm.creation import randn
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import broadcast_all
from tinylm.tensor import Tensor

__all__ = ["LocScale", "Normal"]

LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


class LocScale(Distribution):
    """A distribution fixed by a location μ (any real) and a scale > 0, broadcast to one
    batch_shape: what Normal and Laplace share (parameters, checks, ``expand``, mean = mode =
    μ). A subclass adds its density, moments and sampler."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: Any = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale, op=type(self).__name__)
        both_numbers = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        batch_shape = () if both_numbers else tuple(self.loc.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> LocScale:
        family = next(c for c in type(self).__mro__ if LocScale in c.__bases__)  # Normal …
        new = self._get_checked_instance(family, _instance)
        batch_shape = tuple(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc


class Normal(LocScale):
    """N(loc, scale²).

    Args:
        loc: the mean μ, a number or a tensor.
        scale: the standard deviation σ > 0, a number or a tensor (broadcast with loc).
        validate_args: check σ > 0 and that μ is not NaN (default: on).
    """

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """μ + σ ε of shape sample_shape + batch_shape, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """μ + σ ε, ε ~ N(0, 1) from the global generator; shape sample_shape +
        batch_shape; differentiable in μ (∂/∂μ = 1) and σ (∂/∂σ = ε)."""
        shape = self._extended_shape(sample_shape)
        eps = randn(size=shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> Tensor:
        """log N(x; μ, σ²), shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale**2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        """P(X ≤ x) = ½ (1 + erf((x − μ) / (σ √2)))."""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)).erf())

    def icdf(self, value: Tensor) -> Tensor:
        """The x with P(X ≤ x) = q: μ + σ √2 erfinv(2q − 1)."""
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    def entropy(self) -> Tensor:
        """½ + ½ log 2π + log σ, batch_shape."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
