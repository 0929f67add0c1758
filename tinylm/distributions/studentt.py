"""``StudentT(df, loc=0, scale=1)``: Student's t with ν > 0 degrees of freedom, location μ and
scale σ > 0, as PyTorch's; ν, μ and σ broadcast to the batch_shape. Composed of
differentiable tensor ops (y = (x − μ)/σ, ψ = digamma, B = the beta function):

    log_prob(x) = −(ν + 1)/2 · log(1 + y²/ν) − log σ − ½ log ν − log B(ν/2, ½)
    entropy     = log σ + (ν + 1)/2 · (ψ((ν + 1)/2) − ψ(ν/2)) + ½ log ν + log B(ν/2, ½)
    mean  = μ (NaN for ν ≤ 1);   variance = σ² ν/(ν − 2) (∞ for 1 < ν ≤ 2, NaN for ν ≤ 1)

Draws are μ + σ Z / √(V/ν), Z ~ N(0, 1), V ~ χ²(ν) = 2 Gamma(ν/2), outside the graph
(``has_rsample`` False: see ``gamma.py``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import no_grad
from tinylm.creation import tensor, where
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.gamma import refuse_rsample, standard_gamma_draws
from tinylm.distributions.utils import broadcast_all
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["StudentT"]


class StudentT(Distribution):
    """StudentT(df ν, loc μ, scale σ).

    Args:
        df: ν > 0, a number or a tensor.
        loc: μ, a number or a tensor (default 0).
        scale: σ > 0, a number or a tensor (default 1).
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = False

    def __init__(
        self, df: Any, loc: Any = 0.0, scale: Any = 1.0, validate_args: Any = None
    ) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale, op="StudentT")
        numbers_only = all(isinstance(v, numbers.Number) for v in (df, loc, scale))
        batch_shape = () if numbers_only else tuple(self.df.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> StudentT:
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = tuple(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2)
        return where(df > 2, finite, where(df > 1, math.inf, math.nan))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise refuse_rsample("StudentT")

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """μ + σ Z / √(V/ν), sample_shape + batch_shape, no gradient."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            chi2 = 2 * standard_gamma_draws(self.df / 2, shape)
            z = default_generator.numpy.standard_normal(shape).astype(chi2.dtype)
            t = tensor(np.asarray(z / np.sqrt(chi2 / np.broadcast_to(self.df.numpy(), shape))))
            return self.loc.detach() + self.scale.detach() * t

    def _log_normalizer(self) -> Tensor:
        """log σ + ½ log ν + log B(ν/2, ½)."""
        half = self.df / 2
        log_b = half.lgamma() + math.lgamma(0.5) - (half + 0.5).lgamma()
        return self.scale.log() + 0.5 * self.df.log() + log_b

    def log_prob(self, value: Any) -> Tensor:
        """−(ν + 1)/2 log(1 + y²/ν) − log σ − ½ log ν − log B(ν/2, ½), broadcast shape."""
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        return -0.5 * (self.df + 1) * (y.pow(2) / self.df).log1p() - self._log_normalizer()

    def entropy(self) -> Tensor:
        half = self.df / 2
        spread = (half + 0.5) * ((half + 0.5).digamma() - half.digamma())
        return self._log_normalizer() + spread
