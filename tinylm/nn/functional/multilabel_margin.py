"""PyTorch's ``multilabel_margin_loss``: a hinge between every target class and every
other class of a sample, for samples with several correct classes."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.nn.functional.common import as_array, check_reduction, check_tensor
from tinylm.tensor import Tensor

__all__ = ["multilabel_margin_loss"]


class _MultilabelMargin(Function):
    """For a sample x (C,) whose target lists its classes y_1, y_2, … up to the first −1:

        loss = (1/C) Σ_j Σ_{k ∉ Y} max(0, 1 − (x[y_j] − x[k])),   Y = {y_1, y_2, …},
    each listed class j against each class k that is not a target (a class listed twice
    counts twice, as in PyTorch). With a_jk = n_j·[k ∉ Y]·[1 − x_j + x_k > 0] (n_j: how often
    class j is listed; PyTorch's kink at 0 gives no gradient):

        dloss/dx_j = (1/C) (Σ_i a_ij − Σ_k a_jk),
    times the upstream gradient of the sample. Shapes: x (N, C), counts n (N, C) → (N,).
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, counts: Any, reduction: str, out_shape: Any) -> Any:
        xp = array_module(x)
        one = x.dtype.type
        c = x.shape[1]
        margin = one(1) - x[:, :, None] + x[:, None, :]  # (N, C, C): 1 − (x_j − x_k)
        pairs = counts[:, :, None] * (counts == 0)[:, None, :]  # (N, C, C): n_j [k ∉ Y]
        active = xp.where(margin > 0, pairs, 0).astype(x.dtype)
        loss = (margin * active).sum(axis=(1, 2)) / one(c)
        ctx.save_for_backward(active)
        ctx.meta = (reduction, c)
        if reduction == "none":
            return loss.reshape(out_shape)
        total = loss.mean() if reduction == "mean" else loss.sum()
        return xp.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (active,) = ctx.saved_arrays
        reduction, c = ctx.meta
        xp = array_module(g)
        n = active.shape[0]
        if reduction == "none":
            r = g.reshape(-1)
        else:
            r = xp.broadcast_to(g / max(n, 1) if reduction == "mean" else g, (n,))
        d = active.sum(axis=1) - active.sum(axis=2)
        return d * (r / g.dtype.type(c))[:, None]


def _counts(op: str, target: Any, x: Tensor) -> Any:
    """How often each class is listed before each row's first −1: (N, C), after PyTorch's
    checks (int64, the input's shape, every value in [−1, C))."""
    t = as_array(op, target, x.data, "target")
    xp = array_module(t)
    if t.dtype != np.int64:
        raise TinyLMError(f"{op}: target must be int64 (Long), as in PyTorch, got {t.dtype}")
    if tuple(t.shape) != tuple(x.shape):
        raise TinyLMError(
            f"{op}: inconsistent target size {tuple(t.shape)} for input of size "
            f"{tuple(x.shape)}: the target lists class indices in a tensor of the input's shape"
        )
    c = x.shape[-1] if x.ndim else 1
    t = t.reshape(-1, c)
    if t.size and (int(t.min()) < -1 or int(t.max()) >= c):
        raise TinyLMError(
            f"{op}: target is out of range: values must be class indices in [0, {c}) or −1 "
            f"(the end of the list), got {int(t.min())} … {int(t.max())}"
        )
    listed = xp.cumprod(t != -1, axis=1).astype(bool)  # positions before the first −1
    classes = xp.arange(c)
    return ((t[:, :, None] == classes) & listed[:, :, None]).sum(axis=1)


def multilabel_margin_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """The multi-label hinge loss: (1/C) Σ_j Σ_{k ∉ Y} max(0, 1 − (x[y_j] − x[k])) per
    sample, where the target lists the sample's classes y_j and ends at its first −1 (see
    :class:`_MultilabelMargin`).

    Shapes: input (C,) or (N, C) (0-d as one class), target int64 of the same shape;
    "none" gives () or (N,); "mean" averages over the N samples.
    """
    op = "multilabel_margin_loss"
    check_reduction(op, reduction, size_average, reduce)
    x = check_tensor(op, "input", input)
    if x.ndim > 2:
        raise TinyLMError(
            f"{op}: expected input (C,) or (N, C), got shape {tuple(x.shape)} (as PyTorch)"
        )
    if np.dtype(x.dtype).kind != "f":
        raise TinyLMError(f"{op}: input must be floating point, got {x.dtype}")
    counts = _counts(op, target, x)
    rows = x.reshape(-1, counts.shape[1])
    out_shape = (x.shape[0],) if x.ndim == 2 else ()
    return _MultilabelMargin.apply(rows, counts=counts, reduction=reduction, out_shape=out_shape)
