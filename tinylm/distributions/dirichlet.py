"""``Dirichlet(concentration)``: a probability vector on the simplex with concentrations
α (*B, K), α > 0, as PyTorch's: batch_shape (*B,), event_shape (K,). Composed of
differentiable tensor ops (α₀ = Σ_k α_k, ψ = digamma):

    log_prob(x) = Σ_k (α_k − 1) log x_k + log Γ(α₀) − Σ_k log Γ(α_k)
                  ∂/∂α_k = log x_k + ψ(α₀) − ψ(α_k)
    entropy     = Σ_k log Γ(α_k) − log Γ(α₀) − (K − α₀) ψ(α₀) − Σ_k (α_k − 1) ψ(α_k)

Draws are Gamma(α_k, 1) draws divided by their sum, outside the graph (``has_rsample``
False: see ``gamma.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import tensor
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.gamma import refuse_rsample, standard_gamma_draws
from tinylm.nn.functional import one_hot
from tinylm.tensor import Tensor

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """Dirichlet(concentration α): density Π_k x_k^(α_k − 1) / B(α) on the simplex.

    Args:
        concentration: α > 0, a tensor (*B, K) of at least one dim.
        validate_args: check the parameter and log_prob's values (default: on).
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = False

    def __init__(self, concentration: Tensor, validate_args: Any = None) -> None:
        if not isinstance(concentration, Tensor) or concentration.dim() < 1:
            raise TinyLMError(
                "Dirichlet: `concentration` must be a Tensor of at least one dim, got "
                f"{type(concentration).__name__}"
                + ("" if not isinstance(concentration, Tensor) else " of 0 dims")
            )
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Dirichlet:
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """max(α − 1, 0) normalised along the last axis; where every α_k < 1, the one-hot
        row of the largest α (as PyTorch's)."""
        a = self.concentration
        inner = (a - 1).clamp(min=0)
        inner = inner / inner.sum(-1, keepdim=True)
        corner = one_hot(inner.argmax(-1), a.shape[-1]).to(a.dtype)
        return inner.where(~(a < 1).all(-1, keepdim=True), corner)

    @property
    def variance(self) -> Tensor:
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0.pow(2) * (a0 + 1))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise refuse_rsample("Dirichlet")

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """Rows on the simplex, sample_shape + batch_shape + (K,), no gradient."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            g = standard_gamma_draws(self.concentration, shape)
            x = g / g.sum(-1, keepdims=True)
            finfo = np.finfo(x.dtype)
            return tensor(np.clip(x, finfo.tiny, 1 - finfo.eps))

    def log_prob(self, value: Any) -> Tensor:
        """Σ_k (α_k − 1) log x_k + log Γ(α₀) − Σ_k log Γ(α_k): broadcast(value.shape[:-1], B)."""
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return (a - 1).xlogy(value).sum(-1) + a.sum(-1).lgamma() - a.lgamma().sum(-1)

    def entropy(self) -> Tensor:
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (
            a.lgamma().sum(-1)
            - a0.lgamma()
            - (k - a0) * a0.digamma()
            - ((a - 1.0) * a.digamma()).sum(-1)
        )
