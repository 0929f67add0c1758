"""PyTorch's other element-wise functions: the inverse and hyperbolic trigonometric
functions, tan, log2, log10, exp2, erfc and erfinv; xlogy, copysign, fmax/fmin and
heaviside of two inputs; and the integer and bool ones without gradients (bitwise and/or/
xor, gcd/lcm, signbit, isin, ±inf tests).

For y = f(x) and the upstream gradient g = dL/dy each backward returns g · dy/dx; for two
inputs, g · ∂z/∂a and g · ∂z/∂b of the *broadcast* shape (the engine sums them back). Where
PyTorch's derivative is ±inf or nan (asin at ±1, log2 at 0 …) these give the same. Inputs
arrive already in their common dtype: ``tinylm/tensor_elementwise.py`` converts them. Shapes:
every array is the broadcast shape of the inputs, ``(*)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.ops.elementwise import UnaryFunction, check_broadcast

__all__ = [
    "Acos",
    "Acosh",
    "Asin",
    "Asinh",
    "Atan",
    "Atanh",
    "Bitwise",
    "Copysign",
    "Cosh",
    "Erfc",
    "Erfinv",
    "Exp2",
    "Fmax",
    "Fmin",
    "GcdLcm",
    "Heaviside",
    "IsIn",
    "IsInfinite",
    "Log10",
    "Log2",
    "NoGradient",
    "Signbit",
    "Sinh",
    "Tan",
    "Xlogy",
    "erfc_array",
    "erfinv_array",
]

LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---- trigonometric and hyperbolic --------------------------------------------------------


class Tan(UnaryFunction):
    """y = tan x;  dy/dx = 1 + tan² x = 1 + y² (so we keep y)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).tan(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * (1 + y * y)


class Asin(UnaryFunction):
    """y = arcsin x, in [−π/2, π/2] (nan outside [−1, 1]);  dy/dx = 1/√(1 − x²) (±inf at
    x = ±1, as PyTorch's)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return array_module(x).arcsin(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / array_module(x).sqrt(1 - x * x)


class Acos(UnaryFunction):
    """y = arccos x, in [0, π];  dy/dx = −1/√(1 − x²)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return array_module(x).arccos(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return -g / array_module(x).sqrt(1 - x * x)


class Atan(UnaryFunction):
    """y = arctan x, in (−π/2, π/2);  dy/dx = 1/(1 + x²)."""

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).arctan(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(over="ignore"):  # x² = inf: the slope is 0
            return g / (1 + x * x)


class Sinh(UnaryFunction):
    """y = sinh x = (eˣ − e⁻ˣ)/2;  dy/dx = cosh x."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(over="ignore"):  # ±inf beyond |x| ≈ 710 (89 in float32), as PyTorch
            return array_module(x).sinh(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return g * array_module(x).cosh(x)


class Cosh(UnaryFunction):
    """y = cosh x = (eˣ + e⁻ˣ)/2;  dy/dx = sinh x."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(over="ignore"):  # ±inf beyond |x| ≈ 710 (89 in float32), as PyTorch
            return array_module(x).cosh(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return g * array_module(x).sinh(x)


class Asinh(UnaryFunction):
    """y = arsinh x = ln(x + √(x² + 1));  dy/dx = 1/√(x² + 1)."""

    @staticmethod
    def value(x: Any) -> Any:
        return array_module(x).arcsinh(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(over="ignore"):
            return g / array_module(x).sqrt(x * x + 1)


class Acosh(UnaryFunction):
    """y = arcosh x = ln(x + √(x² − 1)) for x ≥ 1 (nan below);  dy/dx = 1/√(x² − 1)
    (inf at x = 1, as PyTorch's)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return array_module(x).arccosh(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return g / array_module(x).sqrt(x * x - 1)


class Atanh(UnaryFunction):
    """y = artanh x = ½ ln((1 + x)/(1 − x)) for |x| < 1 (±inf at ±1);  dy/dx = 1/(1 − x²)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return array_module(x).arctanh(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (1 - x * x)


# ---- logarithms and exponentials ---------------------------------------------------------


class Log2(UnaryFunction):
    """y = log₂ x = ln x / ln 2;  dy/dx = 1/(x ln 2) (−inf at 0 comes with an inf slope)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return array_module(x).log2(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (x * LN2)


class Log10(UnaryFunction):
    """y = log₁₀ x;  dy/dx = 1/(x ln 10)."""

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return array_module(x).log10(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (x * LN10)


class Exp2(UnaryFunction):
    """y = 2ˣ;  dy/dx = 2ˣ ln 2 = y ln 2 (so we keep y)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        with np.errstate(over="ignore"):
            return array_module(x).exp2(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        return g * y * LN2


def erfc_array(x: Any) -> Any:
    """erfc x = 1 − erf x, without the cancellation of 1 − erf x for large x (erfc 6 ≈ 2e−17
    where 1 − erf 6 is 0). NumPy has none: ``math.erfc`` per element (exact, a Python call
    each), ``cupyx.scipy.special.erfc`` on the GPU."""
    if array_module(x) is not np:
        from cupyx.scipy.special import erfc

        return erfc(x)
    return np.asarray(np.frompyfunc(math.erfc, 1, 1)(x), dtype=x.dtype)


class Erfc(UnaryFunction):
    """y = erfc x = 1 − erf x = (2/√π) ∫ₓ^∞ e^(−t²) dt;  dy/dx = −(2/√π) e^(−x²)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return erfc_array(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return -TWO_OVER_SQRT_PI * array_module(x).exp(-x * x) * g


def erfinv_array(y: Any) -> Any:
    """x = erfinv y, the x with erf x = y, for y in [−1, 1] (±inf at ±1, nan outside), in
    y's dtype; computed in float64 and rounded once.

    erfinv is odd, so we solve for a = |y|. A closed-form guess (Winitzki's, relative
    error < 2e−3) starts three Halley steps on f(x) = erf x − a, whose slope is
    f′ = (2/√π) e^(−x²) and f″ = −2x f′: with δ = f/f′ a step is x ← x − δ/(1 + x δ),
    which triples the correct digits (2e−3 → 1e−8 → 1e−24). For a ≥ ½ the residual is
    computed as (1 − a) − erfc x (1 − a is exact there), since erf x − a would lose the
    digits that matter near a = 1.
    """
    xp = array_module(y)
    if xp is not np:
        from cupyx.scipy.special import erfinv

        return erfinv(y)
    a = np.abs(y.astype(np.float64))
    inside = a < 1
    a_in = np.where(inside, a, 0.0)
    # Winitzki's approximation with c = 0.147: x² ≈ √(b² − L/c) − b, b = 2/(πc) + L/2
    c = 0.147
    log_term = np.log1p(-a_in * a_in)  # ln(1 − a²) ≤ 0
    b = 2 / (math.pi * c) + log_term / 2
    x = np.sqrt(np.maximum(np.sqrt(b * b - log_term / c) - b, 0.0))
    erf, erfc = np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)
    tail = a_in >= 0.5
    for _ in range(3):
        residual = np.where(
            tail,
            (1 - a_in) - np.asarray(erfc(x), dtype=np.float64),
            np.asarray(erf(x), dtype=np.float64) - a_in,
        )
        slope = TWO_OVER_SQRT_PI * np.exp(-x * x)
        delta = residual / slope
        x = x - delta / (1 + x * delta)
    x = np.where(inside, x, np.where(a == 1, np.inf, np.nan))
    return np.asarray(np.copysign(x, y.astype(np.float64))).astype(y.dtype)


class Erfinv(UnaryFunction):
    """y = erfinv x, the inverse of erf on (−1, 1);  dy/dx = 1/erf′(y) = (√π/2) e^(y²)
    (inf at x = ±1, as PyTorch's). We keep y."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return erfinv_array(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return (math.sqrt(math.pi) / 2) * array_module(y).exp(y * y) * g


# ---- two inputs --------------------------------------------------------------------------


class Xlogy(Function):
    """z = a · ln b, with z = 0 where a = 0 (unless b is nan): 0 · ln 0 is 0, as in entropy.

    dz/da = ln b (0 where a = 0 and b ≤ 0, as PyTorch's; the gradient passed on is
    xlogy(g, b), so 0 where g = 0 even at b = 0), dz/db = a / b.
    Written for any log with a pole (``Xlog1py`` below: ln(1 + b), pole at b = −1), so the
    derivative in b is a / (b − pole).
    """

    silences_fp_warnings = True

    pole = 0  #: where the log is −inf: b ≤ pole is outside its domain

    @staticmethod
    def log(xp: Any, b: Any) -> Any:
        return xp.log(b)

    @classmethod
    def forward(cls, ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast(cls.op_name(), a, b)
        xp = array_module(a)
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = a * cls.log(xp, b)
        return xp.where((a == 0) & ~xp.isnan(b), a.dtype.type(0), z)

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        xp = array_module(g)
        need_a, need_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            # xlogy(g, b): 0 where g = 0 (unless b is nan), so a zero upstream gradient at
            # b = pole gives 0, not 0 · (−inf) = nan, as PyTorch's
            ga = None
            if need_a:
                ga = xp.where((g == 0) & ~xp.isnan(b), 0, g * cls.log(xp, b))
                ga = xp.where((a == 0) & (b <= cls.pole), 0, ga)
            gb = g * a / (b - cls.pole) if need_b else None
        return ga, gb


class Copysign(Function):
    """z = |a| with the sign of b (−0.0 counts as negative);  dz/da = z / a = ±1 (0 at
    a = 0, as PyTorch's), dz/db = 0 (a zero gradient, not none, as PyTorch's)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("copysign", a, b)
        z = array_module(a).copysign(a, b)
        ctx.save_for_backward(a, z)
        return z

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, z = ctx.saved_arrays
        xp = array_module(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * xp.where(a == 0, 0, z / a)
        return ga, xp.zeros_like(ga)


class Fmax(Function):
    """z = max(a, b), ignoring a NaN: where one of them is NaN, the other (NaN only where both
    are). The gradient goes to a where a ≥ b or b is NaN, else to b (all of it to a at a
    tie, as PyTorch's fmax: ``maximum`` splits a tie)."""

    pick = "fmax"

    @classmethod
    def forward(cls, ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast(cls.pick, a, b)
        ctx.save_for_backward(a, b)
        return getattr(array_module(a), cls.pick)(a, b)

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        xp = array_module(g)
        with np.errstate(invalid="ignore"):
            a_wins = ((a >= b) if cls.pick == "fmax" else (a <= b)) | xp.isnan(b)
        zero = g.dtype.type(0)
        return xp.where(a_wins, g, zero), xp.where(a_wins, zero, g)


class Fmin(Fmax):
    """z = min(a, b), ignoring a NaN; the gradient to a where a ≤ b or b is NaN, else to b."""

    pick = "fmin"


class Heaviside(Function):
    """z = 0 where a < 0, ``values`` where a = 0, 1 where a > 0 (0 at NaN, as PyTorch's).
    A step function: as PyTorch, backward refuses (PyTorch has no derivative for it)."""

    @staticmethod
    def forward(ctx: Context, a: Any, values: Any) -> Any:
        check_broadcast("heaviside", a, values)
        xp = array_module(a)
        with np.errstate(invalid="ignore"):
            return xp.where(a == 0, values, (a > 0).astype(a.dtype))

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        raise TinyLMError("heaviside has no derivative (as in PyTorch): it is a step function")


# ---- integer and bool results (no gradient: their inputs come detached) ----------------


class NoGradient(Function):
    """A function whose result carries no gradient (bools, integers): backward is never
    reached, since the callers pass detached inputs."""

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:  # pragma: no cover - inputs are detached
        raise TinyLMError(f"{ctx!r}: not differentiable")


class Bitwise(NoGradient):
    """z = a & b, a | b or a ^ b (``kind`` "and", "or", "xor") of bool or integer arrays:
    logical for bools, bit by bit for integers (two's complement for negatives)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, kind: str) -> Any:
        check_broadcast(f"bitwise_{kind}", a, b)
        xp = array_module(a)
        return getattr(xp, f"bitwise_{kind}")(a, b)


class GcdLcm(NoGradient):
    """z = gcd(a, b) ≥ 0 (gcd(0, 0) = 0) or lcm(a, b) = |a b| / gcd(a, b) (0 if either is 0)
    of integer arrays, ``kind`` "gcd" or "lcm"."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, kind: str) -> Any:
        check_broadcast(kind, a, b)
        return getattr(array_module(a), kind)(a, b)


class Signbit(NoGradient):
    """True where the sign bit is set: x < 0, and −0.0 (and a NaN with its sign bit) too."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return array_module(x).signbit(x)


class IsInfinite(NoGradient):
    """True where x is +inf (``sign`` 1) or −inf (``sign`` −1)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, sign: int) -> Any:
        return x == (np.inf if sign > 0 else -np.inf)


class IsIn(NoGradient):
    """True where an element of ``elements`` equals some element of ``test_elements`` (NaN
    equals nothing); ``invert`` negates. The result has ``elements``' shape."""

    @staticmethod
    def forward(ctx: Context, elements: Any, test_elements: Any, *, invert: bool) -> Any:
        return array_module(elements).isin(elements, test_elements, invert=invert)
