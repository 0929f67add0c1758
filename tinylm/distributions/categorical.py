"""``Categorical`` and ``OneHotCategorical``: K classes with probabilities p_0 … p_{K−1},
as PyTorch's. The parameter's last axis holds the K classes; the axes before it are the
batch: probs or logits (*B, K) give batch_shape (*B,).

Given ``probs``, they are normalised along the last axis (p / Σp); given ``logits``, they are
normalised in log space (l − logsumexp(l)); each form computes the other when first read:
probs = softmax(logits), logits = log(clamp(p, ε, 1 − ε)). Every quantity is composed of
differentiable tensor ops, so its gradient follows by the chain rule:

    log_prob(k) = logits[k]              ∂/∂logits_j = [j = k] − p_j  (through the normalising)
    entropy     = −Σ_k p_k logits_k      ∂/∂logits_j = −p_j (logits_j − Σ_k p_k logits_k)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.creation import arange, full, multinomial, tensor
from tinylm.distributions import constraints
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.utils import lazy_property, logits_to_probs, probs_to_logits
from tinylm.nn.functional import one_hot
from tinylm.tensor import Tensor
from tinylm.tensor_shaping import broadcast_tensors

__all__ = ["Categorical", "OneHotCategorical"]


def _one_parameter(name: str, probs: Any, logits: Any) -> Tensor:
    """The one of probs and logits that was given, checked: a Tensor of at least one dim."""
    if (probs is None) == (logits is None):
        raise TinyLMError(f"{name}: either `probs` or `logits` must be specified, but not both")
    param, which = (probs, "probs") if probs is not None else (logits, "logits")
    if not isinstance(param, Tensor):
        raise TinyLMError(f"{name}: `{which}` must be a Tensor, got {type(param).__name__}")
    if param.dim() < 1:
        raise TinyLMError(f"{name}: `{which}` parameter must be at least one-dimensional")
    return param


class Categorical(Distribution):
    """Class indices 0 … K−1 drawn with probabilities ``probs`` (or softmax(``logits``)).

    Args:
        probs: (*B, K) non-negative weights (normalised along the last axis).
        logits: (*B, K) unnormalised log-probabilities.
        validate_args: check the parameters and ``log_prob``'s values (default: on).

    ``sample(S)`` gives int64 indices of shape S + B; ``log_prob(value)`` takes indices of a
    shape that broadcasts with B.
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(
        self, probs: Tensor | None = None, logits: Tensor | None = None, validate_args: Any = None
    ) -> None:
        param = _one_parameter(type(self).__name__, probs, logits)
        if probs is not None:
            self.probs = param / param.sum(-1, keepdim=True)
        else:
            self.logits = param - param.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = tuple(self._param.shape[:-1])
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Categorical:
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = tuple(batch_shape)
        param_shape = batch_shape + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self) -> Tensor:
        """log p (*B, K), p clamped into [ε, 1 − ε]."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        """softmax(logits) (*B, K)."""
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        """NaN (B,): class indices have no mean, as in PyTorch."""
        return full(self._extended_shape(), np.nan, dtype=self._param.dtype)

    @property
    def mode(self) -> Tensor:
        """The most probable class (B,), int64."""
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return full(self._extended_shape(), np.nan, dtype=self._param.dtype)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """int64 class indices, sample_shape + batch_shape, drawn by ``tinylm.multinomial``
        from the global generator (``tinylm.manual_seed`` repeats them)."""
        shape = self._extended_shape(sample_shape)
        n = int(np.prod(shape[: len(shape) - len(self._batch_shape)], dtype=np.int64))
        with no_grad():
            rows = self.probs.detach().reshape(-1, self._num_events)
            if n == 0 or rows.shape[0] == 0:
                return tensor(np.zeros(shape, dtype=np.int64))
            draws = multinomial(rows, n, True)  # (rows, n)
            return draws.T.reshape(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        """log p[value] of shape broadcast(value.shape, B); differentiable in the parameter."""
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        index, log_pmf = broadcast_tensors(index, self.logits)
        return log_pmf.gather(-1, index[..., :1]).squeeze(-1)

    def entropy(self) -> Tensor:
        """H = −Σ_k p_k log p_k (B,), with −inf logits clamped to the dtype's lowest value
        (so that a class of probability 0 adds 0, not NaN)."""
        lowest = float(np.finfo(self.logits.dtype).min)
        return -(self.logits.clamp(min=lowest) * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The classes 0 … K−1 as int64 (K, 1, …, 1), or (K, *B) when ``expand``."""
        values = arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """``Categorical`` whose values are one-hot rows: event_shape (K,), samples
    S + B + (K,) in the parameter's dtype. Same arguments as :class:`Categorical`."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(
        self, probs: Tensor | None = None, logits: Tensor | None = None, validate_args: Any = None
    ) -> None:
        self._categorical = Categorical(probs, logits)
        batch_shape = self._categorical.batch_shape
        event_shape = tuple(self._categorical.param_shape[-1:])
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> OneHotCategorical:
        new = self._get_checked_instance(OneHotCategorical, _instance)
        batch_shape = tuple(batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._categorical.param_shape

    @property
    def mean(self) -> Tensor:
        """p (*B, K)."""
        return self._categorical.probs

    @property
    def mode(self) -> Tensor:
        """The one-hot row of the most probable class (*B, K), in p's dtype."""
        probs = self._categorical.probs
        return one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self) -> Tensor:
        """p (1 − p) (*B, K)."""
        probs = self._categorical.probs
        return probs * (1 - probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """One-hot rows S + B + (K,), in p's dtype."""
        probs = self._categorical.probs
        indices = self._categorical.sample(sample_shape)
        return one_hot(indices, probs.shape[-1]).to(probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """log p[argmax(value)], shape broadcast(value.shape[:-1], B)."""
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The K one-hot rows, (K, 1, …, 1, K), or (K, *B, K) when ``expand``."""
        n = self.event_shape[0]
        values = one_hot(arange(n), n).to(self._categorical.probs.dtype)
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        return values.expand((n,) + self.batch_shape + (n,)) if expand else values
