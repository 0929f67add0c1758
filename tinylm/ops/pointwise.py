"""More element-wise ops of PyTorch's: lerp, reciprocal, fmod, logaddexp, atan2, hypot, and
the NaN-to-zero step of nansum and nanmean.

As in :mod:`tinylm.ops.elementwise`, for z = f(a, b) and the upstream gradient g = dL/dz
each backward returns dL/da = g · ∂z/∂a and dL/db = g · ∂z/∂b of the *broadcast* shape;
the engine sums them back to the inputs' shapes. Inputs arrive already in their common
dtype (the Tensor methods in ``tinylm/tensor_math.py`` convert them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function
from tinylm.devices import array_module
from tinylm.ops.elementwise import check_broadcast, sigmoid_array
from tinylm.ops.fused_multiply_add import fma_lerp

__all__ = ["Atan2", "Fmod", "Hypot", "Lerp", "LogAddExp", "NanToZero", "Reciprocal"]


class Lerp(Function):
    """z = a + w·(b − a), the linear interpolation from a (w = 0) to b (w = 1); a, b and w
    broadcast against each other. Computed as PyTorch's, to the last bit: from the nearer
    end, each as one fused multiply-add (:func:`tinylm.ops.fused_multiply_add.fma_lerp`),
        z = fma(w, b − a, a)          where |w| < ½
        z = fma(w − 1, b − a, b)      (= b − (b − a)(1 − w)) elsewhere,
    so w = 1 gives b exactly; float16 is computed in float32, as PyTorch's CPU kernel.

    dz/da = 1 − w,  dz/db = w,  dz/dw = b − a.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, w: Any) -> Any:
        check_broadcast("lerp", a, b)
        check_broadcast("lerp", a, w)
        check_broadcast("lerp", b, w)
        ctx.save_for_backward(a, b, w)
        xp, dtype = array_module(a), a.dtype
        if xp is not np or dtype not in (np.float16, np.float32, np.float64):
            small = xp.abs(w) < 0.5
            return xp.where(small, a + w * (b - a), b - (b - a) * (1 - w)).astype(dtype)
        work = np.float32 if dtype == np.float16 else dtype
        a, b, w = (np.asarray(v, dtype=work) for v in (a, b, w))
        # b − (b − a)(1 − w) as fma(w − 1, b − a, b), as PyTorch's vectorised loop (its
        # scalar tail computes the same value; only the sign of a 0 can differ there)
        return fma_lerp(a, b, w).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        a, b, w = ctx.saved_arrays
        need_a, need_b, need_w = ctx.needs_input_grad
        dtype = g.dtype  # a number weight of float16 comes in float32 (see Tensor.lerp)
        return (
            (g * (1 - w)).astype(dtype, copy=False) if need_a else None,
            (g * w).astype(dtype, copy=False) if need_b else None,
            g * (b - a) if need_w else None,
        )


class Reciprocal(Function):
    """y = 1/x;  dy/dx = −1/x² = −y² (so we keep y, not x). 1/0 is inf, as PyTorch."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        with np.errstate(divide="ignore"):
            y = (1 / x).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        with np.errstate(over="ignore", invalid="ignore"):  # at 0: −g·inf, as PyTorch's
            return -g * y * y


class Fmod(Function):
    """z = a − b·trunc(a / b): C's ``fmod``, the remainder with the sign of the dividend a
    (``remainder``, Python's ``%``, takes the sign of b: fmod(−3, 2) = −1, −3 % 2 = 1).

    dz/da = 1,  dz/db = −trunc(a / b).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("fmod", a, b)
        xp = array_module(a)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                ctx.save_for_backward(xp.trunc(a / b))
        with np.errstate(invalid="ignore", divide="ignore"):  # x fmod 0.0 is nan, as PyTorch
            return xp.fmod(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        quotient = ctx.saved_arrays[0] if ctx.needs_input_grad[1] else None
        return g, (None if quotient is None else -g * quotient)


class LogAddExp(Function):
    """z = ln(eᵃ + eᵇ), computed as max(a, b) + ln(1 + e^(−|a − b|)) (no overflow).

    dz/da = eᵃ / (eᵃ + eᵇ) = σ(a − b),  dz/db = σ(b − a) = 1 − σ(a − b).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("logaddexp", a, b)
        ctx.save_for_backward(a, b)
        return array_module(a).logaddexp(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        with np.errstate(invalid="ignore"):  # inf − inf: nan, as PyTorch's
            share_a = sigmoid_array(a - b)
        need_a, need_b = ctx.needs_input_grad
        return (g * share_a if need_a else None, g * (1 - share_a) if need_b else None)


class Atan2(Function):
    """z = atan2(a, b), the angle of the point (b, a) in (−π, π] (a is the y coordinate).

    dz/da = b / (a² + b²),  dz/db = −a / (a² + b²)  (0 at a = b = 0, as PyTorch's).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("atan2", a, b)
        ctx.save_for_backward(a, b)
        return array_module(a).arctan2(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        r2 = a * a + b * b
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = array_module(g).where(r2 == 0, 0, g / r2)
        need_a, need_b = ctx.needs_input_grad
        return (scale * b if need_a else None, -scale * a if need_b else None)


class Hypot(Function):
    """z = √(a² + b²), without overflow for large a or b.

    dz/da = a / z,  dz/db = b / z  (nan at a = b = 0, as PyTorch's).
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("hypot", a, b)
        z = array_module(a).hypot(a, b)
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b, z = ctx.saved_arrays
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = g / z
            need_a, need_b = ctx.needs_input_grad
            return (scale * a if need_a else None, scale * b if need_b else None)


class NanToZero(Function):
    """y = x with every NaN replaced by 0 (the step before ``nansum`` and ``nanmean``).

    dy/dx = 1 where x is not NaN, else 0, *multiplied* into g as PyTorch's nansum does: an
    infinite g (the 1/0 of the mean of an all-NaN lane) gives NaN there, not 0.
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        nan = xp.isnan(x)
        ctx.kept = ~nan
        return xp.where(nan, x.dtype.type(0), x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return g * ctx.kept
