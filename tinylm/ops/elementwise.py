"""Element-wise ops: binary ones (their inputs broadcast against each other) and unary ones.

For z = f(a, b) and the upstream gradient g = dL/dz each backward returns
dL/da = g · ∂z/∂a and dL/db = g · ∂z/∂b, of the *broadcast* shape: the engine sums them
back to the inputs' shapes (``tinylm.autograd.unbroadcast``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels import reference

__all__ = [
    "Abs",
    "Add",
    "Clamp",
    "Cos",
    "Div",
    "Erf",
    "Exp",
    "Expm1",
    "FloorDivide",
    "Log",
    "Log1p",
    "Maximum",
    "Minimum",
    "Mul",
    "NanToNum",
    "Neg",
    "Pow",
    "PowScalar",
    "Relu",
    "Remainder",
    "RoundedDivide",
    "Rsqrt",
    "Sigmoid",
    "Sin",
    "Sqrt",
    "Step",
    "Sub",
    "Tanh",
    "UnaryFunction",
    "Where",
    "check_broadcast",
    "check_integer_divisor",
    "sigmoid_array",
]

# ---------------------------------------------------------------------------------------
# Elementwise binary ops (inputs broadcast against each other)
# ---------------------------------------------------------------------------------------


def check_integer_divisor(name: str, b: Any) -> None:
    """An integer divisor holding a 0 is refused, as PyTorch's ZeroDivisionError (NumPy gives 0
    with a warning); float division by 0 is ±inf or nan, in silence."""
    if b.dtype.kind in "iub" and not bool((b != 0).all()):
        raise TinyLMError(f"{name}: integer division by zero (ZeroDivisionError in PyTorch)")


def check_broadcast(name: str, a: Any, b: Any) -> None:
    if a.shape == b.shape:  # the common case, and nothing to check
        return
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise TinyLMError(
            f"{name}: operands could not be broadcast together: shapes {a.shape} {a.dtype} "
            f"and {b.shape} {b.dtype} (trailing dimensions must be equal or 1)"
        ) from None


class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        return g, g


class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        return g, -g


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("mul", a, b)
        # keep only what a needed gradient reads: x * 2 does not hold on to x, so an
        # in-place change to x before backward is no error (as in PyTorch)
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b²."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("div", a, b)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)  # as in Mul
        return a / b

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class FloorDivide(Function):
    """z = ⌊a / b⌋ (``a // b``). A step function: its derivative is 0 almost everywhere and
    undefined at the steps, so, as PyTorch, backward refuses rather than return zeros."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("floor_divide", a, b)
        check_integer_divisor("floor_divide", b)
        return array_module(a).floor_divide(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        raise TinyLMError("floor_divide (//) has no derivative: it is a step function")


class RoundedDivide(Function):
    """z = a / b rounded toward zero (``mode="trunc"``) or down (``"floor"``): PyTorch's
    ``div(a, b, rounding_mode=...)``. A step function; as PyTorch does here (unlike for
    ``//``), backward gives zero gradients."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, mode: str) -> Any:
        check_broadcast("div", a, b)
        check_integer_divisor("div", b)
        xp = array_module(a)
        q = xp.floor_divide(a, b)
        if mode == "trunc":  # floor, moved up by one where the quotient is negative and inexact
            q = q + ((q < 0) & (q * b != a)).astype(q.dtype)
        return q

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        zeros = array_module(g).zeros_like(g)
        return zeros, zeros


class Remainder(Function):
    """z = a − b·⌊a / b⌋ (``a % b``: the sign of b, as Python's and PyTorch's);
    dz/da = 1, dz/db = −⌊a / b⌋."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("remainder", a, b)
        check_integer_divisor("remainder", b)
        xp = array_module(a)
        ctx.save_for_backward(xp.floor_divide(a, b) if ctx.needs_input_grad[1] else None)
        return xp.remainder(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        (quotient,) = ctx.saved_arrays
        return g, (None if quotient is None else -g * quotient)


class Pow(Function):
    """z = a ** b (both tensors);  dz/da = b·a^(b-1), dz/db = a^b · ln a."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("pow", a, b)
        z = a**b
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b, z = ctx.saved_arrays
        xp = array_module(a)
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            # ln a is undefined for a <= 0; there the derivative w.r.t. the exponent is NaN
            # in exact math as well, except at a = 0 where z = 0 and we use 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * xp.where(a == 0, 0, z * xp.log(a))
        return ga, gb


class PowScalar(Function):
    """z = x ** p for a fixed number p;  dz/dx = p·x^(p-1)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, exponent: float) -> Any:
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x**exponent

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        p = ctx.exponent
        if p == 0:
            return g * 0
        return g * p * x ** (p - 1)


class Maximum(Function):
    """z = max(a, b) elementwise; the gradient goes to the larger input (split at ties)."""

    pick = "maximum"

    @classmethod
    def forward(cls, ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast(cls.pick, a, b)
        ctx.save_for_backward(a, b)
        return getattr(array_module(a), cls.pick)(a, b)

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        a_wins = a > b if cls.pick == "maximum" else a < b
        # 1 where a wins, 0 where b wins, ½ at a tie (the average of the two one-sided slopes)
        share_a = (a_wins + 0.5 * (a == b)).astype(g.dtype, copy=False)
        return g * share_a, g * (1 - share_a)


class Minimum(Maximum):
    """z = min(a, b) elementwise; the gradient goes to the smaller input (split at ties)."""

    pick = "minimum"


class Where(Function):
    """z = a where cond else b;  the gradient flows to a where cond holds, else to b.

    ``cond`` is passed as a keyword (it is a boolean array and gets no gradient).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, cond: Any) -> Any:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
        ctx.cond = cond
        return array_module(a).where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        zero = g.dtype.type(0)
        xp = array_module(g)
        return xp.where(ctx.cond, g, zero), xp.where(ctx.cond, zero, g)


# ---------------------------------------------------------------------------------------
# Elementwise unary ops
# ---------------------------------------------------------------------------------------


class UnaryFunction(Function):
    """An element-wise y = f(x) whose backward is g · dy/dx, for ops that need only one array
    for it: a subclass writes its formula as ``value(x)`` and its gradient as ``grad(g, x)``
    (with ``keep_y = True``, ``grad(g, y)``: where dy/dx is cheaper in y, as eˣ's is y).
    forward keeps x (or y) for backward; the arithmetic is all in the subclass.
    """

    keep_y = False  # keep y = f(x) for backward instead of x

    @staticmethod
    def value(x: Any) -> Any:
        """y = f(x), on the array x."""
        raise NotImplementedError

    @staticmethod
    def grad(g: Any, kept: Any) -> Any:
        """g · dy/dx, from the upstream gradient g and the kept x (or y)."""
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, x: Any) -> Any:
        y = cls.value(x)
        ctx.save_for_backward(y if cls.keep_y else x)
        return y

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> Any:
        (kept,) = ctx.saved_arrays
        return cls.grad(g, kept)


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return -x

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return -g


class Exp(UnaryFunction):
    """y = eˣ;  dy/dx = eˣ = y (so we keep y, not x)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).exp(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * y


class Log(UnaryFunction):
    """y = ln x;  dy/dx = 1/x."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).log(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g / x


class Sqrt(UnaryFunction):
    """y = √x;  dy/dx = 1/(2√x) = 1/(2y)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).sqrt(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g / (2 * y)


class Tanh(UnaryFunction):
    """y = tanh x;  dy/dx = 1 - y²."""

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).tanh(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * (1 - y * y)


def sigmoid_array(x: Any) -> Any:
    """σ(x) = 1/(1+e^(-x)), evaluated without overflow for large |x|.

    For x ≥ 0 use 1/(1+e^(-x)); for x < 0 use eˣ/(1+eˣ). Either way the exponent is ≤ 0,
    so ``exp`` never overflows.
    """
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(UnaryFunction):
    """y = σ(x);  dy/dx = σ(x)(1 - σ(x)) = y(1 - y)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return sigmoid_array(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * y * (1 - y)


class Relu(UnaryFunction):
    """y = max(x, 0);  dy/dx = 1 for x > 0, else 0 (we pick 0 at x = 0, like PyTorch).

    The backward selects rather than multiplies, as PyTorch's: where x ≤ 0 the gradient is 0
    even when g is inf or NaN (g · 0 would be NaN), and a NaN x passes g on."""

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).maximum(x, 0).astype(x.dtype, copy=False)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return array_module(g).where(x <= 0, 0, g)


class Abs(UnaryFunction):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0)."""

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).abs(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g * array_module(x).sign(x)


class Clamp(Function):
    """y = min(max(x, lo), hi), with tensor bounds (broadcast against x), as PyTorch's clamp.

    dy/dx = 1 where lo ≤ x ≤ hi (0 everywhere if lo > hi: then y = hi);
    dy/dlo = 1 where x < lo < hi;  dy/dhi = 1 where x > hi, or everywhere if hi < lo.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, lo: Any, hi: Any) -> Any:
        for bound in (lo, hi):
            check_broadcast("clamp", x, bound)
        ctx.save_for_backward(x, lo, hi)
        return array_module(x).minimum(array_module(x).maximum(x, lo), hi)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        x, lo, hi = ctx.saved_arrays
        gx, glo, ghi = (None, None, None)
        if ctx.needs_input_grad[0]:
            gx = g * ((x >= lo) & (x <= hi))
        if ctx.needs_input_grad[1]:
            glo = g * ((x < lo) & (lo < hi))
        if ctx.needs_input_grad[2]:
            ghi = g * ((x > hi) | (hi < lo))
        return gx, glo, ghi


class Sin(UnaryFunction):
    """y = sin x;  dy/dx = cos x."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).sin(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g * array_module(x).cos(x)


class Cos(UnaryFunction):
    """y = cos x;  dy/dx = −sin x."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).cos(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return -g * array_module(x).sin(x)


class Rsqrt(UnaryFunction):
    """y = 1/√x;  dy/dx = −½ x^(−3/2) = −½ y³ (so we keep y, not x)."""

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):  # 1/√0 = inf, as PyTorch
            return (1 / array_module(x).sqrt(x)).astype(x.dtype, copy=False)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * (-0.5 * y * y * y)


class Log1p(UnaryFunction):
    """y = ln(1 + x), exact for tiny x (where 1 + x would round to 1);  dy/dx = 1/(1 + x)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).log1p(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g / (1 + x)


class Expm1(UnaryFunction):
    """y = eˣ − 1, exact for tiny x;  dy/dx = eˣ = y + 1 (so we keep y, not x)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).expm1(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * (y + 1)


class Erf(UnaryFunction):
    """y = erf x = (2/√π) ∫₀ˣ e^(−t²) dt;  dy/dx = (2/√π) e^(−x²).

    NumPy has no erf: the values come from ``kernels/reference.py: erf`` (``math.erf`` per
    element, exact but a Python call each; ``cupyx.scipy.special.erf`` on the GPU).
    """

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return reference.erf(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g * (2 / math.sqrt(math.pi)) * array_module(x).exp(-x * x)


class Step(Function):
    """A piecewise-constant function: ``sign``, ``floor``, ``ceil``, ``round`` (half to even,
    as PyTorch's, optionally at ``decimals`` places). Its derivative is 0 wherever it has
    one, so, as PyTorch, backward gives zeros (not an error: these appear inside models,
    e.g. the straight-through rounding of quantization, which adds its own gradient)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, kind: str, decimals: int = 0) -> Any:
        xp = array_module(x)
        if kind == "round":
            return xp.round(x, decimals)
        return getattr(xp, kind)(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).zeros_like(g)


class NanToNum(Function):
    """y = x with NaN, +inf and −inf replaced by the given numbers (by default 0 and the
    dtype's largest and smallest finite values);  dy/dx = 1 where x is finite, else 0 (the
    replaced elements are constants), as PyTorch."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, nan: float, posinf: Any, neginf: Any) -> Any:
        xp = array_module(x)
        ctx.finite = xp.isfinite(x)
        return xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.finite, g, g.dtype.type(0))
