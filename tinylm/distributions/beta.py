"""``Beta(concentration1, concentration0)``: a probability x ∈ [0, 1] with shapes α, β > 0, as
PyTorch's; α and β broadcast to the batch_shape. Composed of differentiable tensor ops
(ψ = digamma, log B(α, β) = log Γ(α) + log Γ(β) − log Γ(α + β)):

    log_prob(x) = (α − 1) log x + (β − 1) log(1 − x) − log B(α, β)
                  ∂/∂α = log x − ψ(α) + ψ(α + β)
    entropy     = log B(α, β) − (α − 1) ψ(α) − (β − 1) ψ(β) + (α + β − 2) ψ(α + β)

Draws are X/(X + Y) of Gamma(α, 1) and Gamma(β, 1) draws, outside the graph
(``has_rsample`` False: see ``gamma.py``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import no_grad
from tinylm.creation import tensor
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.gamma import refuse_rsample, standard_gamma_draws
from tinylm.distributions.utils import broadcast_all
from tinylm.tensor import Tensor

__all__ = ["Beta"]


def log_beta(a: Tensor, b: Tensor) -> Tensor:
    """log B(α, β) = log Γ(α) + log Γ(β) − log Γ(α + β), elementwise."""
    return a.lgamma() + b.lgamma() - (a + b).lgamma()


class Beta(Distribution):
    """Beta(concentration1 α, concentration0 β): density x^(α−1) (1 − x)^(β−1) / B(α, β).

    Args:
        concentration1: α > 0, a number or a tensor.
        concentration0: β > 0, a number or a tensor (broadcast with α).
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = False

    def __init__(self, concentration1: Any, concentration0: Any, validate_args: Any = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(
            concentration1, concentration0, op="Beta"
        )
        numbers_only = isinstance(concentration1, numbers.Number) and isinstance(
            concentration0, numbers.Number
        )
        batch_shape = () if numbers_only else tuple(self.concentration1.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        """(α − 1)/(α + β − 2) (meaningful where α, β > 1, as PyTorch's)."""
        a, b = self.concentration1, self.concentration0
        return (a - 1) / (a + b - 2)

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise refuse_rsample("Beta")

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """X/(X + Y), X ~ Gamma(α), Y ~ Gamma(β): sample_shape + batch_shape, no gradient."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            x = standard_gamma_draws(self.concentration1, shape)
            y = standard_gamma_draws(self.concentration0, shape)
            tiny = np.finfo(x.dtype).tiny
            return tensor(np.clip(x / (x + y), tiny, 1 - np.finfo(x.dtype).eps))

    def log_prob(self, value: Any) -> Tensor:
        """(α − 1) log x + (β − 1) log(1 − x) − log B(α, β), broadcast shape."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (a - 1).xlogy(value) + (b - 1).xlogy(1 - value) - log_beta(a, b)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (
            log_beta(a, b)
            - (a - 1) * a.digamma()
            - (b - 1) * b.digamma()
            + (total - 2) * total.digamma()
        )
