"""More of PyTorch's losses: the ranking and embedding losses (``margin_ranking_loss``,
``cosine_embedding_loss``, ``triplet_margin_loss``, ``hinge_embedding_loss``), the margin
losses on logits (``soft_margin_loss``, ``multilabel_soft_margin_loss``) and the
likelihoods (``gaussian_nll_loss``, ``poisson_nll_loss``).

Most are short compositions of Tensor ops, written as PyTorch composes them, so autograd
derives their gradients (for every float input, targets included where PyTorch gives
them one) with PyTorch's choices at the kinks (``clamp(min=0)`` passes the gradient at 0).
``soft_margin_loss`` is a Function, to stay finite for large |x|. Each takes PyTorch's
``reduction``: "mean" (over all elements of the unreduced loss), "sum" or "none"; the
deprecated ``size_average``/``reduce`` keep their places but are refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm import creation, ops
from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.nn.functional.common import (
    as_array,
    check_reduction,
    check_tensor,
    reduce_loss,
    reduce_loss_array,
)
from tinylm.nn.functional.distances import pairwise_distance
from tinylm.nn.functional.more_activations import logsigmoid
from tinylm.tensor import Tensor

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
]


def _target(op: str, target: Any, like: Tensor) -> Tensor:
    """A target as a Tensor (a list or an array becomes one, on ``like``'s device)."""
    if isinstance(target, Tensor):
        return target
    return Tensor(as_array(op, target, like.data, "target"))


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TinyLMError(f"{op}: {name} must be a number, got {value!r:.60}")
    return float(value)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, −y (x1 − x2) + margin): y = 1 asks for x1 ranked above x2 by ``margin``,
    y = −1 for the reverse.

    Shapes: input1, input2 and target have the same number of dims and broadcast; "none"
    gives their broadcast shape. Gradients: −y·g for x1, y·g for x2 and −(x1 − x2)·g for
    a float target where the hinge is active (≥ 0).
    """
    op = "margin_ranking_loss"
    check_reduction(op, reduction, size_average, reduce)
    x1, x2 = check_tensor(op, "input1", input1), check_tensor(op, "input2", input2)
    y = _target(op, target, x1)
    if not x1.ndim == x2.ndim == y.ndim:
        raise TinyLMError(
            f"{op}: input1 {tuple(x1.shape)}, input2 {tuple(x2.shape)} and target "
            f"{tuple(y.shape)} must have the same number of dims"
        )
    loss = (-y * (x1 - x2) + _number(op, "margin", margin)).clamp(min=0)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Any,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1 (x is usually a distance: small for
    similar pairs, at least ``margin`` for dissimilar ones). As PyTorch's, a target that is
    neither gives the sum of both terms. Shapes: input and target broadcast."""
    op = "hinge_embedding_loss"
    check_reduction(op, reduction, size_average, reduce)
    x = check_tensor(op, "input", input)
    y = _target(op, target, x)
    zeros = creation.zeros_like(x)
    hinge = (_number(op, "margin", margin) - x).clamp(min=0)
    loss = creation.where(y != 1, hinge, zeros) + creation.where(y != -1, x, zeros)
    return reduce_loss(loss, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1, 0 otherwise.

    cos = Σ x1·x2 / √((Σ x1² + ε)(Σ x2² + ε)) over the last dim, ε = 1e-12 (PyTorch's,
    rounded to float32). Shapes: inputs (N, D) with target (N,), or (D,) with a 0-d target;
    the result (N,) or 0-d for "none". Only the inputs get gradients (the target selects).
    """
    op = "cosine_embedding_loss"
    check_reduction(op, reduction, size_average, reduce)
    x1, x2 = check_tensor(op, "input1", input1), check_tensor(op, "input2", input2)
    y = _target(op, target, x1)
    if y.ndim > 1 or not x1.ndim == x2.ndim == y.ndim + 1:
        raise TinyLMError(
            f"{op}: expected inputs (N, D) with target (N,), or (D,) with a 0-d target; got "
            f"input1 {tuple(x1.shape)}, input2 {tuple(x2.shape)}, target {tuple(y.shape)}"
        )
    eps = float(np.float32(1e-12))  # PyTorch's constant is a float32 1e-12, in every dtype
    prod = (x1 * x2).sum(-1)
    denom = (((x1 * x1).sum(-1) + eps) * ((x2 * x2).sum(-1) + eps)).sqrt()
    cos = prod / denom
    zeros = creation.zeros_like(cos)
    pos = creation.where(y == 1, 1 - cos, zeros)
    neg = creation.where(y == -1, (cos - _number(op, "margin", margin)).clamp(min=0), zeros)
    return reduce_loss(pos + neg, reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)), d = ``pairwise_distance(·, ·, p, eps)``: the
    anchor should be nearer the positive than the negative, by ``margin``. With ``swap``,
    d(a, n) is replaced by min(d(a, n), d(p, n)) (the harder negative distance).

    Shapes: three tensors of the same number of dims, broadcasting, (N, D) or (D,) → (N,)
    or 0-d for "none".
    """
    op = "triplet_margin_loss"
    check_reduction(op, reduction, size_average, reduce)
    a = check_tensor(op, "anchor", anchor)
    pos, neg = check_tensor(op, "positive", positive), check_tensor(op, "negative", negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise TinyLMError(
            f"{op}: anchor {tuple(a.shape)}, positive {tuple(pos.shape)} and negative "
            f"{tuple(neg.shape)} must have the same number of dims"
        )
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = creation.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    loss = (d_pos - d_neg + _number(op, "margin", margin)).clamp(min=0)
    return reduce_loss(loss, reduction)


class _SoftMargin(Function):
    """ℓ = log(1 + e^{−y x}), computed as max(−yx, 0) + log(1 + e^{−|yx|}) (finite for any
    x; PyTorch's log1p(exp(−yx)) overflows to inf past yx ≈ −709 in float64).
    dℓ/dx = −y σ(−y x). The target gets no gradient (PyTorch refuses one too).
    Shapes: x and y broadcast; ℓ has their broadcast shape before ``reduction``.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, y: Any, reduction: str) -> Any:
        xp = array_module(x)
        z = -y * x
        loss = xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
        ctx.save_for_backward(z)
        ctx.y, ctx.reduction = y, reduction
        return reduce_loss_array(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (z,) = ctx.saved_arrays
        if ctx.reduction == "mean":
            g = g / max(z.size, 1)
        return g * (-ctx.y * ops.sigmoid_array(z))


def soft_margin_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """log(1 + e^{−y x}) for labels y = ±1 (a two-class logistic loss); see
    :class:`_SoftMargin`. Shapes: input and target broadcast."""
    op = "soft_margin_loss"
    check_reduction(op, reduction, size_average, reduce)
    x = check_tensor(op, "input", input)
    if not np.issubdtype(x.dtype, np.floating):
        raise TinyLMError(f"{op}: input must be floating point, got {x.dtype}")
    y = _target(op, target, x)
    if y.requires_grad:
        raise TinyLMError(f"{op}: is not differentiable in target; pass target.detach()")
    try:
        np.broadcast_shapes(tuple(x.shape), tuple(y.shape))
    except ValueError:
        raise TinyLMError(
            f"{op}: input {tuple(x.shape)} and target {tuple(y.shape)} do not broadcast"
        ) from None
    return _SoftMargin.apply(x, y=y.data.astype(x.dtype), reduction=reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Any,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """One binary logistic loss per class, averaged over the C classes (the last dim):
        ℓ = −(1/C) Σ_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)],
    with ``logsigmoid`` (stable for any x). Shapes: input (N, C) (or (C,), or (…, C)),
    target the same, weight (C,) broadcast; "none" gives (N,) (the input without its last
    dim). Autograd derives the gradients, for target and weight too when they need them.
    """
    op = "multilabel_soft_margin_loss"
    check_reduction(op, reduction, size_average, reduce)
    x = check_tensor(op, "input", input)
    if x.ndim == 0:
        raise TinyLMError(f"{op}: input must have a class dim (C,) or (N, C), got 0-d")
    y = _target(op, target, x)
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * _target(op, weight, x)
    loss = loss.sum(-1) / x.shape[-1]
    return reduce_loss(loss, reduction)


class _ClampForward(Function):
    """y = max(x, lo) in the forward pass; dL/dx = g everywhere (the clamp is invisible to
    the gradient). PyTorch's ``gaussian_nll_loss`` clamps its variance this way (in place
    under ``no_grad``)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, lo: float) -> Any:
        return array_module(x).maximum(x, x.dtype.type(lo))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g


def gaussian_nll_loss(
    input: Tensor,
    target: Any,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood of ``target`` under N(input, var):
        ℓ = ½ (log max(var, eps) + (input − target)² / max(var, eps))  [+ ½ log 2π if full].

    Shapes: var the input's shape, or that shape without its last dim (one variance per
    row), or with one other dim of size 1; a number is one variance for all. As in PyTorch,
    the clamp at ``eps`` does not stop the gradient of var (:class:`_ClampForward`); a
    negative variance is refused. Gradients for input, target and var.
    """
    op = "gaussian_nll_loss"
    check_reduction(op, reduction)
    x = check_tensor(op, "input", input)
    y = _target(op, target, x)
    if not isinstance(var, Tensor):
        v = _number(op, "var", var)
        if v < 0:
            raise TinyLMError(f"{op}: var has a negative entry ({v})")
        var = creation.full_like(x, v)
    elif var.numel() and bool((var.data < 0).any()):
        raise TinyLMError(f"{op}: var has negative entries (shape {tuple(var.shape)})")
    if var.shape != x.shape:
        if var.shape == x.shape[:-1]:
            var = var.unsqueeze(-1)
        elif not (var.ndim == x.ndim and sum(v for s, v in zip(x.shape, var.shape) if s != v) == 1):
            raise TinyLMError(
                f"{op}: var has shape {tuple(var.shape)}; for input {tuple(x.shape)} give "
                f"{tuple(x.shape)}, {tuple(x.shape[:-1])}, or that shape with one dim of size 1"
            )
    var = _ClampForward.apply(var, lo=_number(op, "eps", eps))
    loss = 0.5 * (var.log() + (x - y) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: Any = None,
    eps: float = 1e-8,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood of counts ``target`` under Poisson(λ), up to a constant:
        ℓ = e^x − y x       (log_input: the input is x = log λ), or
        ℓ = λ − y log(λ + eps)  (the input is λ),
    plus, with ``full``, Stirling's approximation of log(y!): y log y − y + ½ log(2π y),
    for y > 1 only. Shapes: input and target broadcast. Composed as PyTorch's, so its
    gradients (target's included: NaN where a masked Stirling term meets y = 0) are too.
    """
    op = "poisson_nll_loss"
    check_reduction(op, reduction, size_average, reduce)
    x = check_tensor(op, "input", input)
    y = _target(op, target, x)
    if log_input:
        loss = x.exp() - y * x
    else:
        loss = x - y * (x + _number(op, "eps", eps)).log()
    if full:
        stirling = y * y.log() - y + 0.5 * (2 * math.pi * y).log()
        loss = loss + stirling.masked_fill(y <= 1, 0)
    return reduce_loss(loss, reduction)
