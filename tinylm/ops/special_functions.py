"""The special functions of ``torch.special``: the log-gamma function and its derivatives
(digamma, polygamma), the modified Bessel functions I₀ and I₁ (and their e^(−|x|)-scaled
forms), the normal distribution's log-CDF and inverse CDF, and entr, sinc, logit, xlog1py.

Each ``*_array`` function computes on a raw array in float64 and rounds once to the input's
dtype; each Function's docstring gives its derivative. NumPy has none of these, and SciPy is
no dependency: they are written out here as series, asymptotic expansions and recurrences
(on a GPU, CuPy's ``cupyx.scipy.special`` computes them instead). Shapes: every array is the
input's shape, ``(*)`` (the broadcast shape for the two inputs of xlog1py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.ops.elementwise import UnaryFunction, check_broadcast
from tinylm.ops.special import NoGradient, Xlogy, erfc_array

__all__ = [
    "Digamma",
    "Entr",
    "I0",
    "I0e",
    "I1",
    "I1e",
    "Lgamma",
    "LogNdtr",
    "Logit",
    "Ndtri",
    "Polygamma",
    "Sinc",
    "Xlog1py",
    "BitShift",
    "NextAfter",
    "bessel_i_array",
    "digamma_array",
    "lgamma_array",
    "log_ndtr_array",
    "ndtri_array",
    "polygamma_array",
]

SQRT_2PI = math.sqrt(2 * math.pi)
LOG_SQRT_2PI = math.log(SQRT_2PI)
# the Bernoulli numbers B₂, B₄ … B₁₆ of the Euler–Maclaurin (asymptotic) expansions below
BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
POLYGAMMA_MOST_NEGATIVE = -1e4  # polygamma(n ≥ 2, x) sums one term per unit below this


def _cupy(name: str, *args: Any) -> Any:
    import cupyx.scipy.special as cupy_special

    return getattr(cupy_special, name)(*args)


def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):  # a pole (0, −1, −2 …), or beyond ~2.5e305: inf
        return math.inf


def lgamma_array(x: Any) -> Any:
    """ln |Γ(x)| (+inf at the poles 0, −1, −2 …). On the CPU the C library's ``lgamma``
    (Python's ``math.lgamma``, one call per element: the same as PyTorch's, exact near its
    roots x = 1 and 2 where a series would cancel)."""
    if array_module(x) is not np:
        return _cupy("gammaln", x)
    out = np.frompyfunc(_lgamma_scalar, 1, 1)(x.astype(np.float64))
    return np.asarray(out, dtype=np.float64).astype(x.dtype)


def digamma_array(x: Any) -> Any:
    """ψ(x) = d/dx ln Γ(x) (−inf at +0, nan at the negative integers and −inf, as PyTorch).

    x < 0 is reflected: ψ(x) = ψ(1 − x) − π / tan(π r) with r = x − round(x) (exact, and
    tan has period π). Then the recurrence ψ(z) = ψ(z + 1) − 1/z lifts z to ≥ 10, where the
    asymptotic series ψ(z) ≈ ln z − 1/(2z) − Σₖ B₂ₖ / (2k z²ᵏ) (k ≤ 7) is exact to ~1e−17.
    """
    if array_module(x) is not np:
        return _cupy("digamma", x)
    v = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        negative = v < 0
        r = v - np.round(v)
        shift = np.where(negative, -math.pi / np.tan(math.pi * r), 0.0)
        z = np.where(negative, 1 - v, v)
        acc = np.zeros_like(z)
        small = z < 10
        while small.any():
            acc = acc - np.where(small, 1 / np.where(small, z, 1.0), 0.0)
            z = np.where(small, z + 1, z)
            small = z < 10
        inv2 = 1 / (z * z)
        series, power = 0.0, inv2
        for k, b in enumerate(BERNOULLI[:7], start=1):
            series = series + b / (2 * k) * power
            power = power * inv2
        y = np.log(z) - 0.5 / z - series + acc + shift
        y = np.where(negative & (r == 0), np.nan, y)  # the poles at −1, −2 …
        y = np.where(v == 0, np.copysign(np.inf, -v), y)  # ψ(±0) = ∓inf
        y = np.where(v == -np.inf, np.nan, y)
    return y.astype(x.dtype)


def polygamma_array(n: int, x: Any) -> Any:
    """ψ⁽ⁿ⁾(x), the n-th derivative of ψ, for an integer n ≥ 0.

    For n ≥ 1, ψ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹ n! ζ(n + 1, x) with the Hurwitz zeta ζ(s, x) = Σₖ (x + k)⁻ˢ.
    Its terms are summed one by one while x + k < 20 + n; the rest of the sum is the
    Euler–Maclaurin tail  z¹⁻ˢ/(s − 1) + z⁻ˢ/2 + Σⱼ B₂ⱼ/(2j)! · s(s+1)…(s+2j−2) · z⁻ˢ⁻²ʲ⁺¹.
    For n = 1 and x < 0 the reflection ψ′(x) = −ψ′(1 − x) + π² / sin²(πx) comes first; for
    n ≥ 2, x below −10⁴ is refused (one term per unit would be summed). +inf (n odd) or
    −inf (n even) at the poles 0, −1, −2 …. (PyTorch's own trigamma is good to ~1e−10 only:
    it sums fewer terms.)
    """
    if n == 0:
        return digamma_array(x)
    if array_module(x) is not np:
        return _cupy("polygamma", n, x)
    v = x.astype(np.float64)
    finite = v[np.isfinite(v)]
    if n >= 2 and finite.size and finite.min() < POLYGAMMA_MOST_NEGATIVE:
        raise TinyLMError(
            f"polygamma: x < {POLYGAMMA_MOST_NEGATIVE:g} is not supported for n ≥ 2 (got "
            f"{finite.min():g})"
        )
    s = n + 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reflect = (v < 0) & (n == 1)
        r = v - np.round(v)
        z = np.where(reflect, 1 - v, v)
        total = np.zeros_like(z)
        small = (z < 20 + n) & np.isfinite(z)
        while small.any():
            total = total + np.where(small, np.power(np.where(small, z, 1.0), -s), 0.0)
            z = np.where(small, z + 1, z)
            small = (z < 20 + n) & np.isfinite(z)
        tail = np.power(z, 1 - s) / (s - 1) + 0.5 * np.power(z, -s)
        rising = float(s)  # s(s+1)…(s+2j−2)
        power = np.power(z, -s - 1)
        for j, b in enumerate(BERNOULLI, start=1):
            tail = tail + b / math.factorial(2 * j) * rising * power
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            power = power / (z * z)
        zeta = total + tail
        y = (-1) ** (n + 1) * math.factorial(n) * zeta
        # sin(πx) of x itself (not of r), as PyTorch's trigamma: the same digits near a pole
        y = np.where(reflect, -y + (math.pi / np.sin(math.pi * v)) ** 2, y)
        pole = (v <= 0) & (r == 0)
        y = np.where(pole, (-1) ** (n + 1) * np.inf, y)
        if n == 1:
            y = np.where(v == np.inf, 0.0, y)
        else:  # PyTorch's values at ±inf
            y = np.where(v == np.inf, np.nan, np.where(v == -np.inf, (-1) ** (n + 1) * np.inf, y))
    return y.astype(x.dtype)


def bessel_i_array(order: int, x: Any, scaled: bool) -> Any:
    """I₀(x) or I₁(x) (``order``), the modified Bessel functions of the first kind, or with
    ``scaled`` e^(−|x|) Iᵥ(x) (no overflow).

    |x| < 30: the power series Iᵥ(x) = (x/2)ᵛ Σₖ (x²/4)ᵏ / (k! (k + ν)!), all terms positive
    (no cancellation), each from the last: tₖ = tₖ₋₁ · (x²/4) / (k (k + ν)).
    |x| ≥ 30: the asymptotic expansion Iᵥ(x) ≈ e^|x| / √(2π|x|) · Σₖ aₖ with a₀ = 1,
    aₖ = aₖ₋₁ · ((2k − 1)² − 4ν²) / (8k|x|), whose terms shrink below 1e−23 by k = 40.
    I₀ is even and I₁ odd.
    """
    if array_module(x) is not np:
        name = ("i0e" if scaled else "i0") if order == 0 else ("i1e" if scaled else "i1")
        return _cupy(name, x)
    v = x.astype(np.float64)
    a = np.abs(v)
    with np.errstate(over="ignore", invalid="ignore"):
        near = np.where(a < 30, a, 0.0)
        quarter = near * near / 4
        term = (near / 2) ** order
        series = term
        for k in range(1, 120):
            term = term * quarter / (k * (k + order))
            series = series + term
        if scaled:
            series = series * np.exp(-near)
        far = np.where(a >= 30, a, 30.0)
        term, expansion = np.ones_like(far), np.ones_like(far)
        for k in range(1, 41):
            term = term * ((2 * k - 1) ** 2 - 4 * order * order) / (8 * k * far)
            expansion = expansion + term
        expansion = expansion / np.sqrt(2 * math.pi * far)
        if not scaled:  # inf once e^|x| overflows (|x| > 709.78), as PyTorch's
            expansion = np.exp(far) * expansion
        y = np.where(a < 30, series, expansion)
        if order == 1:
            y = np.copysign(y, v)
        y = np.where(np.isnan(v), np.nan, y)
    return y.astype(x.dtype)


def log_ndtr_array(x: Any) -> Any:
    """ln Φ(x), the log of the standard normal CDF, without underflow.

    x ≥ −1: ln(1 − ½ erfc(x/√2)) by log1p (Φ near 1). −37 < x < −1: ln(½ erfc(−x/√2))
    (erfc is exact in relative terms there). x ≤ −37, where erfc underflows: the asymptotic
    form −x²/2 − ln(−x) − ln √(2π) + ln(1 + Σₖ (−1)ᵏ (2k − 1)!! / x²ᵏ).
    """
    if array_module(x) is not np:
        return _cupy("log_ndtr", x)
    v = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upper = np.log1p(-0.5 * erfc_array(np.where(v >= -1, v, 0.0) / math.sqrt(2)))
        mid = np.log(0.5 * erfc_array(-np.where((v < -1) & (v > -37), v, -2.0) / math.sqrt(2)))
        far = np.where(v <= -37, v, -37.0)
        inv2 = 1 / (far * far)
        term, total = np.ones_like(far), np.ones_like(far)
        for k in range(1, 12):
            term = -term * (2 * k - 1) * inv2
            total = total + term
        tail = -far * far / 2 - np.log(-far) - LOG_SQRT_2PI + np.log(total)
        y = np.where(v >= -1, upper, np.where(v > -37, mid, tail))
        y = np.where(np.isnan(v), np.nan, y)
    return y.astype(x.dtype)


def ndtri_array(p: Any) -> Any:
    """x = Φ⁻¹(p), the standard normal quantile, for p in [0, 1] (−inf at 0, +inf at 1,
    nan outside).

    By symmetry Φ⁻¹(p) = −Φ⁻¹(1 − p), so we solve for q = min(p, 1 − p) ≤ ½ (1 − p is exact
    there) with x ≤ 0. A closed-form start (Abramowitz & Stegun 26.2.23, error < 5e−4) is
    refined by four Halley steps on f(x) = Φ(x) − q, where Φ(x) = ½ erfc(−x/√2) is exact in
    relative terms, f′ = φ(x) and f″ = −x φ(x): with δ = f/φ, x ← x − δ / (1 + x δ / 2).
    """
    if array_module(p) is not np:
        return _cupy("ndtri", p)
    v = p.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = (v > 0) & (v < 1)
        q = np.where(inside, np.minimum(v, 1 - v), 0.5)
        t = np.sqrt(-2 * np.log(q))
        x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
              / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3))  # fmt: skip
        for _ in range(4):
            density = np.exp(-x * x / 2) / SQRT_2PI
            delta = (0.5 * erfc_array(-x / math.sqrt(2)) - q) / density
            x = x - delta / (1 + x * delta / 2)
        x = np.where(v > 0.5, -x, np.where(v == 0.5, 0.0, x))
        x = np.where(inside, x, np.where(v == 0, -np.inf, np.where(v == 1, np.inf, np.nan)))
    return x.astype(p.dtype)


class Lgamma(UnaryFunction):
    """y = ln |Γ(x)|;  dy/dx = ψ(x), the digamma function."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return lgamma_array(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g * digamma_array(x)


class Digamma(UnaryFunction):
    """y = ψ(x) = Γ′(x)/Γ(x);  dy/dx = ψ′(x) = polygamma(1, x), the trigamma function."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return digamma_array(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        return g * polygamma_array(1, x)


class Polygamma(Function):
    """y = ψ⁽ⁿ⁾(x);  dy/dx = ψ⁽ⁿ⁺¹⁾(x)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, n: int) -> Any:
        ctx.save_for_backward(x)
        ctx.n = n
        return polygamma_array(n, x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return g * polygamma_array(ctx.n + 1, x)


class I0(UnaryFunction):
    """y = I₀(x);  dy/dx = I₁(x)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return bessel_i_array(0, x, scaled=False)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(invalid="ignore"):  # 0 · inf beyond the overflow: nan, as PyTorch's
            return g * bessel_i_array(1, x, scaled=False)


class I0e(UnaryFunction):
    """y = e^(−|x|) I₀(x);  dy/dx = e^(−|x|) I₁(x) − sign(x) y."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return bessel_i_array(0, x, scaled=True)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        xp = array_module(x)
        scaled_i1 = bessel_i_array(1, x, scaled=True)
        return g * (scaled_i1 - xp.sign(x) * bessel_i_array(0, x, scaled=True))


class I1(UnaryFunction):
    """y = I₁(x);  dy/dx = I₀(x) − I₁(x)/x (½ at x = 0)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return bessel_i_array(1, x, scaled=False)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        xp = array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = bessel_i_array(0, x, scaled=False) - bessel_i_array(1, x, scaled=False) / x
        return g * xp.where(x == 0, 0.5, slope)


class I1e(UnaryFunction):
    """y = e^(−|x|) I₁(x);  dy/dx = e^(−|x|) I₀(x) − y (sign(x) + 1/x) (½ at x = 0)."""

    silences_fp_warnings = True

    keep_y = False

    @staticmethod
    def value(x: Any) -> Any:
        return bessel_i_array(1, x, scaled=True)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        xp = array_module(x)
        y = bessel_i_array(1, x, scaled=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = bessel_i_array(0, x, scaled=True) - y * (xp.sign(x) + 1 / x)
        return g * xp.where(x == 0, 0.5, slope)


class LogNdtr(UnaryFunction):
    """y = ln Φ(x);  dy/dx = φ(x)/Φ(x) = e^(−x²/2 − y) / √(2π) (we keep x; y is recomputed)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        return log_ndtr_array(x)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        xp = array_module(x)
        with np.errstate(over="ignore", invalid="ignore"):
            return g * xp.exp(-x * x / 2 - log_ndtr_array(x)) / SQRT_2PI


class Ndtri(UnaryFunction):
    """y = Φ⁻¹(p);  dy/dp = 1/φ(y) = √(2π) e^(y²/2) (we keep y)."""

    silences_fp_warnings = True

    keep_y = True

    @staticmethod
    def value(x: Any) -> Any:
        return ndtri_array(x)

    @staticmethod
    def grad(g: Any, y: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return g * SQRT_2PI * array_module(y).exp(y * y / 2)


class Entr(UnaryFunction):
    """y = −x ln x for x > 0, 0 at x = 0, −inf for x < 0;  dy/dx = −(1 + ln x) (+inf at 0,
    nan below, as PyTorch's)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        xp = array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = -x * xp.log(x)
        return xp.where(x == 0, 0, xp.where(x < 0, -np.inf, y)).astype(x.dtype)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * -(1 + array_module(x).log(x))


class Sinc(UnaryFunction):
    """y = sin(πx)/(πx), 1 at x = 0;  dy/dx = (cos(πx) − y)/x (0 at x = 0)."""

    silences_fp_warnings = True

    @staticmethod
    def value(x: Any) -> Any:
        xp = array_module(x)
        t = math.pi * x
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.where(x == 0, 1, xp.sin(t) / t).astype(x.dtype)

    @staticmethod
    def grad(g: Any, x: Any) -> Any:
        xp = array_module(x)
        t = math.pi * x
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (t * xp.cos(t) - xp.sin(t)) / (t * x)
        return g * xp.where(x == 0, 0, slope)


class Logit(Function):
    """y = ln(x / (1 − x)), x first clamped to [eps, 1 − eps] when ``eps`` is given;
    dy/dx = 1 / (x (1 − x)): 0 where the clamp cut x (as PyTorch's), nan outside [0, 1]
    without eps."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, eps: float | None) -> Any:
        xp = array_module(x)
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else xp.clip(x, eps, 1 - eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log(z / (1 - z))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        xp = array_module(x)
        eps = ctx.eps
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = g / (x * (1 - x))
            if eps is None:
                return xp.where((x < 0) | (x > 1), np.nan, slope)
            return xp.where((x < eps) | (x > 1 - eps), 0, slope)


class Xlog1py(Xlogy):
    """z = a · ln(1 + b), 0 where a = 0 (unless b is nan): :class:`Xlogy` with ``log1p``.

    dz/da = ln(1 + b) (0 where a = 0 and b ≤ −1, as PyTorch's), dz/db = a / (1 + b).
    """

    silences_fp_warnings = True

    pole = -1

    @staticmethod
    def log(xp: Any, b: Any) -> Any:
        return xp.log1p(b)  # accurate for small b, where log(1 + b) loses digits


class NextAfter(NoGradient):
    """z = the next float after a in the direction of b (b itself where a = b); no gradient."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_broadcast("nextafter", a, b)
        return array_module(a).nextafter(a, b)


class BitShift(NoGradient):
    """z = a << b (``left``) or a >> b of integer arrays, as PyTorch: a shift by the bit
    width or more, or by a negative amount, gives 0 (a >> b: −1 for negative a), where the
    hardware would shift modulo the width."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, left: bool) -> Any:
        check_broadcast("bitwise_left_shift" if left else "bitwise_right_shift", a, b)
        xp = array_module(a)
        width = a.dtype.itemsize * 8
        out_of_range = (b < 0) | (b >= width)
        safe = xp.where(out_of_range, 0, b).astype(a.dtype)
        if left:
            return xp.where(out_of_range, 0, xp.left_shift(a, safe)).astype(a.dtype)
        fill = xp.where(a < 0, -1, 0) if a.dtype.kind == "i" else 0
        return xp.where(out_of_range, fill, xp.right_shift(a, safe)).astype(a.dtype)
