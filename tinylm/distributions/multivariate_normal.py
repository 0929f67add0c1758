"""``MultivariateNormal(loc, covariance_matrix | scale_tril | precision_matrix)``: the
Gaussian N(μ, Σ) over vectors of D numbers, as PyTorch's: loc (*B₁, D) and the matrix
(*B₂, D, D) broadcast to the batch_shape B; event_shape (D,). Everything goes through the
lower Cholesky factor L (Σ = L Lᵀ; L = cholesky(Σ), or cholesky(P⁻¹) given the precision P),
composed of differentiable tensor and linalg ops:

    log_prob(x) = −½ (D log 2π + ‖L⁻¹(x − μ)‖²) − Σ_i log L_ii
    entropy     = ½ D (1 + log 2π) + Σ_i log L_ii
    rsample     = μ + L ε,  ε ~ N(0, I_D)            ∂/∂μ = I,  ∂/∂L = upstream · εᵀ
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import randn
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.linalg_decompositions import inv, linalg_cholesky, solve_triangular
from tinylm.tensor import Tensor

__all__ = ["MultivariateNormal"]


def _is_lower_cholesky(m: Tensor) -> bool:
    """Lower triangular with a positive diagonal."""
    a = np.asarray(m.detach().numpy())
    return bool(np.all(np.triu(a, 1) == 0) and np.all(np.diagonal(a, 0, -2, -1) > 0))


class MultivariateNormal(Distribution):
    """N(loc, Σ) given exactly one of Σ, L or P = Σ⁻¹.

    Args:
        loc: μ (*B, D), at least one dim.
        covariance_matrix: Σ (*B, D, D), symmetric positive-definite.
        precision_matrix: P (*B, D, D), symmetric positive-definite.
        scale_tril: L (*B, D, D), lower triangular with a positive diagonal.
        validate_args: check the parameters and log_prob's values (default: on).
    """

    arg_constraints = {"loc": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Tensor,
        covariance_matrix: Tensor | None = None,
        precision_matrix: Tensor | None = None,
        scale_tril: Tensor | None = None,
        validate_args: Any = None,
    ) -> None:
        name = "MultivariateNormal"
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise TinyLMError(
                f"{name}: exactly one of covariance_matrix or precision_matrix or scale_tril "
                "may be specified"
            )
        if not isinstance(loc, Tensor) or loc.dim() < 1:
            raise TinyLMError(f"{name}: loc must be at least one-dimensional")
        matrix = given[0]
        if not isinstance(matrix, Tensor) or matrix.dim() < 2:
            raise TinyLMError(
                f"{name}: scale_tril, covariance_matrix or precision_matrix must be at least "
                "two-dimensional, with optional leading batch dimensions"
            )
        d = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (d, d):
            raise TinyLMError(
                f"{name}: the matrix must be ({d}, {d}) to match loc's last dim, got "
                f"{tuple(matrix.shape[-2:])}"
            )
        batch_shape = tuple(np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        if scale_tril is not None:
            if (validate_args or (validate_args is None and self._validate_args)) and not (
                _is_lower_cholesky(scale_tril)
            ):
                raise TinyLMError(
                    f"{name}: expected parameter scale_tril to be lower triangular with a "
                    "positive diagonal (LowerCholesky), but found invalid values"
                )
            self.scale_tril = scale_tril.expand(batch_shape + (d, d))
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch_shape + (d, d))
            self.scale_tril = linalg_cholesky(self.covariance_matrix)
        else:
            self.precision_matrix = precision_matrix.expand(batch_shape + (d, d))
            self.scale_tril = linalg_cholesky(inv(self.precision_matrix))
        self.loc = loc.expand(batch_shape + (d,))
        super().__init__(batch_shape, (d,), validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        d = self.event_shape[0]
        new.loc = self.loc.expand(batch_shape + (d,))
        new.scale_tril = self.scale_tril.expand(batch_shape + (d, d))
        for key in ("covariance_matrix", "precision_matrix"):
            if key in self.__dict__:
                setattr(new, key, self.__dict__[key].expand(batch_shape + (d, d)))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def __getattr__(self, key: str) -> Any:
        """covariance_matrix = L Lᵀ and precision_matrix = Σ⁻¹ (*B, D, D) when not given."""
        if key == "covariance_matrix":
            return self.scale_tril @ self.scale_tril.mT
        if key == "precision_matrix":
            return inv(self.scale_tril @ self.scale_tril.mT)
        raise AttributeError(f"'MultivariateNormal' object has no attribute '{key}'")

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        """diag(Σ) = Σ_j L_ij² (*B, D)."""
        return self.scale_tril.pow(2).sum(-1)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """μ + L ε, sample_shape + batch_shape + (D,), differentiable in μ and L."""
        shape = self._extended_shape(sample_shape)
        eps = randn(size=shape, dtype=self.loc.dtype)
        return self.loc + (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        """Σ_i log L_ii (*B)."""
        return self.scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Any) -> Tensor:
        """log N(x; μ, Σ), shape broadcast(value.shape[:-1], batch_shape)."""
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        d = self.event_shape[0]
        shape = tuple(np.broadcast_shapes(tuple(diff.shape[:-1]), self.batch_shape))
        tril = self.scale_tril.expand(shape + (d, d))
        z = solve_triangular(tril, diff.expand(shape + (d,)).unsqueeze(-1), upper=False)
        maha = z.squeeze(-1).pow(2).sum(-1)
        half_log_det = self._half_log_det()
        return -0.5 * (d * math.log(2 * math.pi) + maha) - half_log_det

    def entropy(self) -> Tensor:
        d = self.event_shape[0]
        return 0.5 * d * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
