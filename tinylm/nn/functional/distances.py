"""Distances between vectors: ``pairwise_distance`` (the p-norm of x1 − x2 + eps along the
last dim), which ``triplet_margin_loss`` and ``nn.PairwiseDistance`` use. (``cosine_similarity``
is in :mod:`~tinylm.nn.functional.normalization`.)"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.tensor import Tensor

__all__ = ["pairwise_distance"]


class _LastDimNorm(Function):
    """The p-norm of vectors along the last axis: n = (Σ_i |d_i|^p)^(1/p).

    Shapes: d (..., D) → n (...), or (..., 1) with ``keepdim``. p = ∞ is max_i |d_i|,
    p = −∞ min_i |d_i|, p = 0 the count of non-zero d_i (no gradient). The gradient:
        dn/dd_i = sign(d_i) |d_i|^(p−1) / n^(p−1)     (p = 2: d_i / n;  p = 1: sign(d_i)),
    0 where n = 0 (PyTorch's subgradient at a zero vector) and where d_i = 0 for p < 1;
    for p = ±∞ the gradient goes to the element(s) |d_i| = n, shared equally at a tie.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, d: Any, *, p: float, keepdim: bool) -> Any:
        xp = array_module(d)
        a = xp.abs(d)
        if p == math.inf:
            n = a.max(axis=-1, keepdims=True)
        elif p == -math.inf:
            n = a.min(axis=-1, keepdims=True)
        elif p == 0:
            n = (a != 0).sum(axis=-1, keepdims=True).astype(d.dtype)
        elif p == 1:
            n = a.sum(axis=-1, keepdims=True)
        elif p == 2:
            n = xp.sqrt((d * d).sum(axis=-1, keepdims=True))
        else:
            with np.errstate(divide="ignore"):
                n = (a ** d.dtype.type(p)).sum(axis=-1, keepdims=True) ** d.dtype.type(1 / p)
        ctx.save_for_backward(d, n)
        ctx.p, ctx.keepdim = p, keepdim
        return n if keepdim else n[..., 0]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any | None:
        d, n = ctx.saved_arrays
        xp, p, t = array_module(d), ctx.p, d.dtype.type
        g = g if ctx.keepdim else g[..., None]
        zero = t(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:  # a count: no gradient (None, as PyTorch leaves .grad unset)
                return None
            if math.isinf(p):
                at_norm = xp.abs(d) == n
                dn = xp.sign(d) * at_norm / at_norm.sum(axis=-1, keepdims=True)
            elif p == 1:
                dn = xp.sign(d)
            elif p == 2:
                dn = xp.where(n > 0, d / n, zero)
            else:
                a = xp.abs(d)
                scaled = xp.where(a == 0, zero, xp.sign(d) * a ** t(p - 1))
                dn = xp.where(n > 0, scaled / n ** t(p - 1), zero)
        return g * dn.astype(d.dtype, copy=False)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x1 − x2 + eps‖_p along the last dim, as PyTorch's (``eps`` is added to every
    difference, keeping the norm's gradient finite when x1 = x2).

    Shapes: x1 and x2 broadcast against each other (…, D) → (…), or (…, 1) with ``keepdim``;
    two 1-D vectors (or two 0-d numbers) give a 0-d distance. Integer inputs give a distance
    in the default float dtype (x1 − x2 + eps promotes them). The difference is Tensor ops;
    the norm is :class:`_LastDimNorm`.
    """
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise TinyLMError(f"pairwise_distance: {name} must be a Tensor, got {type(t).__name__}")
    if isinstance(p, bool) or not isinstance(p, int | float) or math.isnan(p):
        raise TinyLMError(f"pairwise_distance: p must be a number, got {p!r:.60}")
    try:
        np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise TinyLMError(
            f"pairwise_distance: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} do not broadcast "
            "against each other"
        ) from None
    d = x1 - x2 + eps
    if d.ndim == 0:  # two 0-d inputs: the norm of one number, |d|, 0-d as in PyTorch
        d = d.reshape(1)
        keepdim = False
    return _LastDimNorm.apply(d, p=float(p), keepdim=bool(keepdim))
