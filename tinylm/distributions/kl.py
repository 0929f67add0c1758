"""``kl_divergence(p, q)``: KL(p ‖ q) = E_p[log p(x) − log q(x)], one value per batch
element, and ``register_kl`` to add a pair, as ``torch.distributions.kl``. Each formula is
composed of differentiable tensor ops (gradients in both p's and q's parameters):

    Normal ‖ Normal          ½ (σp²/σq² + (μp − μq)²/σq² − 1 − log σp²/σq²)
    Categorical ‖ Categorical Σ_k p_k (log p_k − log q_k)   (+inf where q_k = 0 < p_k)
    Bernoulli ‖ Bernoulli    p log(p/q) + (1 − p) log((1 − p)/(1 − q)), on the logits
    Uniform ‖ Uniform        log((hq − lq)/(hp − lp))   (+inf unless [lp, hp] ⊆ [lq, hq])
    OneHotCategorical and Independent pairs: their inner distributions' (summed over the
    reinterpreted axes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.creation import where
from tinylm.distributions.bernoulli import Bernoulli
from tinylm.distributions.categorical import Categorical, OneHotCategorical
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.independent import Independent
from tinylm.distributions.normal import Normal
from tinylm.distributions.uniform import Uniform
from tinylm.distributions.utils import sum_rightmost
from tinylm.nn.functional import softplus
from tinylm.tensor import Tensor

__all__ = ["KLNotImplementedError", "kl_divergence", "register_kl"]

KLFunction = Callable[[Any, Any], Tensor]
_REGISTRY: dict[tuple[type, type], KLFunction] = {}


class KLNotImplementedError(TinyLMError, NotImplementedError):
    """No formula is registered for the pair: a ``NotImplementedError`` as PyTorch raises,
    and a ``TinyLMError``."""


def register_kl(type_p: type, type_q: type) -> Callable[[KLFunction], KLFunction]:
    """A decorator that registers ``fn(p, q)`` as KL(p ‖ q) for p of type_p and q of type_q
    (and their subclasses, unless a closer pair is registered)::

        @register_kl(Normal, Normal)
        def kl_normal_normal(p, q): ...
    """
    for name, t in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TinyLMError(
                f"register_kl: expected {name} to be a Distribution subclass, got {t!r}"
            )

    def decorator(fn: KLFunction) -> KLFunction:
        _REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def _dispatch(type_p: type, type_q: type) -> KLFunction | None:
    """The registered function of the closest pair: the smallest distance up p's class
    hierarchy, then q's (single inheritance is assumed, as PyTorch does)."""
    best, best_rank = None, None
    for (super_p, super_q), fn in _REGISTRY.items():
        if issubclass(type_p, super_p) and issubclass(type_q, super_q):
            rank = (type_p.__mro__.index(super_p), type_q.__mro__.index(super_q))
            if best_rank is None or rank < best_rank:
                best, best_rank = fn, rank
    return best


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q) = E_p[log p(x) − log q(x)], of shape p's batch_shape (broadcast with q's).

    Refuses, as a ``NotImplementedError`` (and a ``TinyLMError``), a pair with no registered
    formula."""
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise KLNotImplementedError(
            f"kl_divergence: no KL(p || q) is implemented for p type {type(p).__name__} and q "
            f"type {type(q).__name__} (register one with register_kl)"
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = where((q.probs == 0).expand_as(t), math.inf, t)
    t = where((p.probs == 0).expand_as(t), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def kl_onehotcategorical_onehotcategorical(p: OneHotCategorical, q: OneHotCategorical) -> Tensor:
    return kl_categorical_categorical(Categorical(logits=p.logits), Categorical(logits=q.logits))


@register_kl(Bernoulli, Bernoulli)
def kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """p (softplus(−l_q) − softplus(−l_p)) + (1 − p)(softplus(l_q) − softplus(l_p)), where
    softplus(−l) = −log σ(l) = −log p: stable for logits of any size."""
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(q.probs == 0, math.inf, t1)
    t1 = where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(q.probs == 1, math.inf, t2)
    t2 = where(p.probs == 1, 0.0, t2)
    return t1 + t2


@register_kl(Uniform, Uniform)
def kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return where((q.low > p.low) | (q.high < p.high), math.inf, result)


@register_kl(Independent, Independent)
def kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise KLNotImplementedError(
            "kl_divergence: Independent distributions with different reinterpreted_batch_ndims "
            f"({p.reinterpreted_batch_ndims} vs {q.reinterpreted_batch_ndims})"
        )
    result = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(result, p.reinterpreted_batch_ndims)
