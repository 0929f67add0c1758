"""``Laplace(loc, scale)``: the double exponential around μ with scale b > 0, as PyTorch's;
μ and b broadcast to the batch_shape. Composed of differentiable tensor ops:

    log_prob(x) = −log 2b − |x − μ| / b      ∂/∂μ = sign(x − μ)/b,  ∂/∂b = |x − μ|/b² − 1/b
    entropy     = 1 + log 2b
    rsample     = μ − b sign(u) log(1 − |u|),  u ~ U(−1, 1)
    cdf(x)      = ½ − ½ sign(x − μ) (e^(−|x − μ|/b) − 1)
    icdf(q)     = μ − b sign(q − ½) log(1 − 2|q − ½|)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.creation import tensor
from tinylm.distributions.normal import LocScale
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["Laplace"]


class Laplace(LocScale):
    """Laplace(loc, scale): density e^(−|x − μ|/b) / 2b.

    Args:
        loc: μ, a number or a tensor.
        scale: b > 0, a number or a tensor (broadcast with loc).
        validate_args: check the parameters and log_prob's values (default: on).
    """

    @property
    def stddev(self) -> Tensor:
        return math.sqrt(2) * self.scale

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """μ − b sign(u) log(1 − |u|), u uniform in (−1, 1) from the global generator;
        sample_shape + batch_shape; differentiable in μ and b."""
        shape = self._extended_shape(sample_shape)
        eps = float(np.finfo(self.loc.dtype).eps)
        u = tensor(default_generator.numpy.uniform(eps - 1, 1, shape), dtype=self.loc.dtype)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Any) -> Tensor:
        """−log 2b − |x − μ|/b, shape broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * (-z.abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self) -> Tensor:
        return 1 + (2 * self.scale).log()
