"""``Gamma(concentration, rate)``: shape α > 0 and rate β > 0, as PyTorch's; α and β broadcast
to the batch_shape. Composed of differentiable tensor ops (ψ = digamma):

    log_prob(x) = α log β + (α − 1) log x − β x − log Γ(α)
                  ∂/∂α = log β + log x − ψ(α),   ∂/∂β = α/β − x
    entropy     = α − log β + log Γ(α) + (1 − α) ψ(α)

Draws come from NumPy's gamma sampler on the global generator, outside the graph: tinylm has
no exact reparameterised gradient ∂x/∂α, so ``has_rsample`` is False and ``rsample`` refuses
(PyTorch's Gamma has one).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import tensor
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import broadcast_all
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["Gamma", "standard_gamma_draws"]


def standard_gamma_draws(concentration: Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Gamma(α, 1) draws of ``shape`` (α broadcast to it) from the global generator, in α's
    dtype, clamped up to the dtype's smallest normal number as PyTorch's (a draw is never 0)."""
    alpha = np.broadcast_to(np.asarray(concentration.detach().numpy()), shape)
    draws = np.asarray(default_generator.numpy.standard_gamma(alpha)).astype(alpha.dtype)
    return np.maximum(draws, np.finfo(alpha.dtype).tiny)


def refuse_rsample(name: str) -> TinyLMError:
    """The one-line refusal of ``rsample`` for a family drawn through Gamma variates."""
    return TinyLMError(
        f"{name}.rsample: not supported in tinylm (no exact reparameterised gradient of Gamma "
        "draws; PyTorch has one); use sample(), which carries no gradient"
    )


class Gamma(Distribution):
    """Gamma(concentration α, rate β): density β^α x^(α−1) e^(−βx) / Γ(α) on x ≥ 0.

    Args:
        concentration: α > 0, a number or a tensor.
        rate: β > 0, a number or a tensor (broadcast with α).
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = False

    def __init__(self, concentration: Any, rate: Any, validate_args: Any = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate, op="Gamma")
        numbers_only = isinstance(concentration, numbers.Number) and isinstance(
            rate, numbers.Number
        )
        batch_shape = () if numbers_only else tuple(self.rate.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Gamma:
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        """(α − 1)/β, 0 where α < 1."""
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise refuse_rsample("Gamma")

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Gamma(α, β) draws, sample_shape + batch_shape, outside the graph."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            draws = tensor(standard_gamma_draws(self.concentration, shape))
            return (draws / self.rate.detach()).clamp(min=float(np.finfo(draws.dtype).tiny))

    def log_prob(self, value: Any) -> Tensor:
        """α log β + (α − 1) log x − β x − log Γ(α), broadcast(value.shape, batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return a.xlogy(b) + (a - 1).xlogy(value) - b * value - a.lgamma()

    def cdf(self, value: Tensor) -> Tensor:
        raise TinyLMError("Gamma.cdf: not supported in tinylm (needs the regularised igamma)")

    def entropy(self) -> Tensor:
        a = self.concentration
        return a - self.rate.log() + a.lgamma() + (1.0 - a) * a.digamma()
