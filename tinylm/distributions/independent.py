"""``Independent(base, n)``: the rightmost ``n`` batch axes of ``base`` read as one event,
as PyTorch's. A Normal of batch_shape (B, D) becomes, with n = 1, a distribution of
batch_shape (B,) and event_shape (D,) whose log_prob sums the D independent log-densities:

    log_prob(x)[b] = Σ_d base.log_prob(x)[b, d],   entropy[b] = Σ_d base.entropy()[b, d]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import sum_rightmost
from tinylm.tensor import Tensor

__all__ = ["Independent"]


class Independent(Distribution):
    """Reinterpret ``reinterpreted_batch_ndims`` batch axes of ``base_distribution`` as
    event axes.

    Args:
        base_distribution: a Distribution with batch_shape B and event_shape E.
        reinterpreted_batch_ndims: n ≤ len(B): the new batch_shape is B[:−n], the new
            event_shape B[−n:] + E.
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(
        self,
        base_distribution: Distribution,
        reinterpreted_batch_ndims: int,
        validate_args: Any = None,
    ) -> None:
        if not isinstance(base_distribution, Distribution):
            raise TinyLMError(
                "Independent: base_distribution must be a Distribution, got "
                f"{type(base_distribution).__name__}"
            )
        n = reinterpreted_batch_ndims
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TinyLMError(
                f"Independent: reinterpreted_batch_ndims must be an int >= 0, got {n!r}"
            )
        if n > len(base_distribution.batch_shape):
            raise TinyLMError(
                "Independent: expected reinterpreted_batch_ndims <= "
                f"len(base_distribution.batch_shape), actual {n} vs "
                f"{len(base_distribution.batch_shape)}"
            )
        shape = base_distribution.batch_shape + base_distribution.event_shape
        event_dim = n + len(base_distribution.event_shape)
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        super().__init__(
            shape[: len(shape) - event_dim], shape[len(shape) - event_dim :], validate_args
        )

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Independent:
        new = self._get_checked_instance(Independent, _instance)
        batch_shape = tuple(batch_shape)
        n = self.reinterpreted_batch_ndims
        new.base_dist = self.base_dist.expand(batch_shape + self.event_shape[:n])
        new.reinterpreted_batch_ndims = n
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def support(self) -> constraints.Constraint:
        result = self.base_dist.support
        n = self.reinterpreted_batch_ndims
        return constraints.independent(result, n) if n else result

    @property
    def mean(self) -> Tensor:
        return self.base_dist.mean

    @property
    def mode(self) -> Tensor:
        return self.base_dist.mode

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: Tensor) -> Tensor:
        """The base's log_prob summed over the reinterpreted axes: shape without them."""
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self) -> Tensor:
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Enumeration over cartesian product is not implemented")
        return self.base_dist.enumerate_support(expand=expand)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
