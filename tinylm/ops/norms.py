"""The vector p-norm ‖x‖_p over some axes, as ``torch.linalg.vector_norm``.

‖x‖_p = (Σ |x_i|^p)^(1/p) for a number p; ‖x‖_∞ = max |x_i|, ‖x‖_−∞ = min |x_i|, and
‖x‖_0 = the count of non-zero x_i. ``tinylm/linalg.py`` builds ``vector_norm``,
``matrix_norm`` (Frobenius: the 2-norm of all entries) and ``norm`` on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.ops.reductions import c_order, normalize_axis

__all__ = ["VectorNorm"]


class VectorNorm(Function):
    """y = ‖x‖_p over ``axis`` (None: every element), x a float array.

    Backward, with n = ‖x‖_p broadcast back over the reduced axes and s = sign(x), for each
    element (the choices at 0 are PyTorch's: where x = 0 or n = 0 the gradient is 0):

    * p = 2:    dy/dx = x / n                          (0 where n = 0)
    * p = 1:    dy/dx = s
    * p = ±∞:   dy/dx = s / k where |x| = n (k such elements: ties share), else 0
    * p = 0:    dy/dx = 0 (a count)
    * p < 1:    dy/dx = s |x|^(p−1) n^(1−p)            (0 where x = 0)
    * other p:  dy/dx = s |x|^(p−1) / n^(p−1)          (0 where n = 0)
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, p: float, axis: Any, keepdims: bool) -> Any:
        xp = array_module(x)
        axes = normalize_axis(axis, x.ndim, "vector_norm")
        a = xp.abs(x)
        if math.isinf(p):
            if any(x.shape[i] == 0 for i in axes) or (not axes and x.size == 0):
                raise TinyLMError(
                    f"vector_norm: cannot compute the {'' if p > 0 else '-'}inf norm over an "
                    f"empty dim of shape {x.shape} (max and min of nothing have no value)"
                )
            y = a.max(axis=axes, keepdims=True) if p > 0 else a.min(axis=axes, keepdims=True)
        elif p == 0:
            y = (a != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        elif p == 1:
            y = a.sum(axis=axes, keepdims=True)
        elif p == 2:
            y = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        else:
            with np.errstate(divide="ignore"):  # 0 ** (negative p) is inf, as PyTorch
                y = (a**p).sum(axis=axes, keepdims=True) ** (1 / p)
        ctx.save_for_backward(x, y)
        ctx.meta = (p, axes)
        y = y.astype(x.dtype, copy=False)
        return c_order(
            y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, n = ctx.saved_arrays  # n keeps the reduced axes (size 1): it broadcasts against x
        p, axes = ctx.meta
        xp = array_module(x)
        g = g.reshape(n.shape)
        s = xp.sign(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return xp.zeros_like(x)
            if p == 1:
                return g * s
            if p == 2:
                return xp.where(n == 0, 0, g / n) * x
            if math.isinf(p):
                winners = xp.abs(x) == n
                return s * winners * (g / winners.sum(axis=axes, keepdims=True))
            a = xp.abs(x)
            if p < 1:
                scaled = xp.where(x == 0, 0, s * a ** (p - 1))
                return scaled * g * n ** (1 - p)
            return s * a ** (p - 1) * xp.where(n == 0, 0, g / n ** (p - 1))
