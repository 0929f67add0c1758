"""Two more margin losses of PyTorch: ``multi_margin_loss`` (the multi-class hinge loss of
a linear SVM) and ``triplet_margin_with_distance_loss`` (a triplet loss with any distance).

Both are compositions of Tensor ops (gather, relu, products, sums), so autograd derives
their gradients exactly; the derivative is written beside each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinylm import creation
from tinylm.autograd import TinyLMError
from tinylm.nn.functional.common import check_reduction, check_tensor, reduce_loss
from tinylm.nn.functional.distances import pairwise_distance
from tinylm.tensor import Tensor

__all__ = ["multi_margin_loss", "triplet_margin_with_distance_loss"]


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """The multi-class hinge loss: for a row x with class y,

        ℓ(x, y) = Σ_{i ≠ y} w_y · max(0, margin − x_y + x_i)^p / C,

    so every other class's score should stay below the true one's by ``margin``
    (w_y = ``weight[y]``, or 1). With z_i = margin − x_y + x_i: dℓ/dx_i = w_y p z_i^{p−1}/C
    where z_i > 0 (i ≠ y), and dℓ/dx_y = −Σ of those.

    Shapes: input (N, C) or (C,) float; target (N,) or 0-d int64 in [0, C); weight (C,);
    result (N,) (0-d for a 1-D input) with ``reduction="none"``, else 0-d.
    """
    op = "multi_margin_loss"
    check_reduction(op, reduction, size_average, reduce)
    input, target = check_tensor(op, "input", input), check_tensor(op, "target", target)
    if p not in (1, 2) or isinstance(p, bool):
        raise TinyLMError(f"{op}: only p = 1 and p = 2 are supported, got {p!r}")
    if not np.issubdtype(input.dtype, np.floating):
        raise TinyLMError(f"{op}: input must be floating point, got {input.dtype}")
    if target.dtype != np.int64:
        raise TinyLMError(f"{op}: target must be int64 class indices, got {target.dtype}")
    if input.ndim not in (1, 2) or target.ndim != input.ndim - 1:
        raise TinyLMError(
            f"{op}: expected input (N, C) with target (N,), or input (C,) with a 0-d target; "
            f"got input {tuple(input.shape)} and target {tuple(target.shape)}"
        )
    rows = input if input.ndim == 2 else input.reshape(1, -1)
    labels = target.reshape(-1)
    n, c = rows.shape
    if labels.shape[0] != n:
        raise TinyLMError(f"{op}: {n} rows of input but {labels.shape[0]} targets")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise TinyLMError(f"{op}: target out of range: classes are 0 … {c - 1}")
    z = rows - rows.gather(1, labels.reshape(-1, 1)) + float(margin)
    others = creation.ones(n, c, dtype=input.dtype) - _one_hot(labels, c, input)
    h = z.relu() if p == 1 else z.relu() * z.relu()
    h = h * others
    if weight is not None:
        weight = check_tensor(op, "weight", weight)
        if tuple(weight.shape) != (c,):
            raise TinyLMError(f"{op}: weight must have shape ({c},), got {tuple(weight.shape)}")
        h = h * weight.gather(0, labels).reshape(-1, 1)
    loss = h.sum(1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return reduce_loss(loss, reduction)


def _one_hot(labels: Tensor, c: int, like: Tensor) -> Tensor:
    """Rows of the identity picked by ``labels``, as a constant of ``like``'s dtype."""
    return (labels.reshape(-1, 1) == creation.arange(c).reshape(1, -1)).to(like.dtype)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)) with any distance ``d`` (a function of two
    tensors giving one distance per row; default ``pairwise_distance``, the Euclidean one).
    With ``swap``, d(a, n) is replaced by min(d(a, n), d(p, n)). The gradient is d's,
    through the hinge: 0 where the margin is met.

    Shapes: anchor, positive, negative of the same number of dims, e.g. (N, D) → (N,) with
    ``reduction="none"``, else 0-d. ``margin`` must be > 0, as in PyTorch.
    """
    op = "triplet_margin_with_distance_loss"
    check_reduction(op, reduction)
    a = check_tensor(op, "anchor", anchor)
    pos, neg = check_tensor(op, "positive", positive), check_tensor(op, "negative", negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise TinyLMError(
            f"{op}: anchor {tuple(a.shape)}, positive {tuple(pos.shape)} and negative "
            f"{tuple(neg.shape)} must have the same number of dims"
        )
    if not margin > 0:
        raise TinyLMError(f"{op}: margin must be greater than 0, got {margin}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(a, pos), distance(a, neg)
    if swap:
        d_neg = creation.minimum(d_neg, distance(pos, neg))
    loss = (d_pos - d_neg + float(margin)).clamp(min=0)
    return reduce_loss(loss, reduction)
