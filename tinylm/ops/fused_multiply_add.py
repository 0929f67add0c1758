"""A fused multiply-add, fma(a, b, c) = a·b + c rounded *once*, in NumPy (which has none).

PyTorch's CPU kernels use the processor's fma instruction where they can (``lerp``, for
one), so their last bit differs from a·b + c computed in two roundings. This module gets
the same bits from exact pieces (error-free transformations, for float64 and float32):

1. two_product(a, b) = (p, e) with p + e = a·b exactly: p = RN(a·b), and e from Dekker's
   split of a and b into halves of 26 bits whose products are exact.
2. two_sum(x, y) = (s, t) with s + t = x + y exactly (Knuth).
3. round-to-odd of x + y: RN(x + y) if exact, else of the two neighbours of x + y the one
   whose last mantissa bit is 1. Rounding a sum first to odd, then to nearest, rounds it
   as once to nearest (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
   proved algorithms using rounding to odd", IEEE Trans. Computers 2008):
       fma(a, b, c) = RN(s + RO(t + e)),   (p, e) = two_product(a, b), (s, t) = two_sum(c, p).
   For float32 the product of two float32 is exact in float64, so fma32 = RN32(RO64(a·b + c))
   (float64 keeps more than 2·24 + 2 bits, so the double rounding is safe).

Where a·b + c is not finite (inf, NaN, overflow) or is 0 the plain a·b + c is returned
(the same value, and the sign of an exact 0 is IEEE's); results
in float64's subnormal range may be off in the last bit (Dekker's split loses exactness).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fma", "fma_lerp"]

_SPLIT = 2.0**27 + 1  # Dekker's splitter for float64's 53-bit mantissa


def two_sum(x: Any, y: Any) -> tuple[Any, Any]:
    """s = RN(x + y) and its rounding error t (x + y = s + t exactly); any shapes."""
    s = x + y
    z = s - x
    t = (x - (s - z)) + (y - z)
    return s, t


def two_product(a: Any, b: Any) -> tuple[Any, Any]:
    """p = RN(a·b) and its rounding error e (a·b = p + e exactly) in float64."""
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def round_to_odd_sum(x: Any, y: Any) -> Any:
    """x + y (float64) rounded to odd: exact if representable, else the neighbour with an odd
    last bit."""
    s, t = two_sum(x, y)
    bits = np.asarray(s, dtype=np.float64).view(np.int64)
    even = (bits & 1) == 0
    step_to = np.where(t > 0, np.inf, -np.inf)
    return np.where((t != 0) & even, np.nextafter(s, step_to), s)


def fma(a: Any, b: Any, c: Any) -> Any:
    """a·b + c with one rounding, in the common dtype of the (broadcast) float32 or float64
    NumPy arrays a, b, c, as the fma instruction."""
    dtype = np.result_type(a, b, c)
    with np.errstate(over="ignore", invalid="ignore"):
        plain = np.asarray(a * b + c, dtype=dtype)
        a64, b64, c64 = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
        if dtype == np.float32:
            fused = round_to_odd_sum(a64 * b64, c64).astype(np.float32)
        else:
            p, e = two_product(a64, b64)
            s, t = two_sum(c64, p)
            fused = s + round_to_odd_sum(t, e)
    # an exact 0 (a·b = −c) is the plain sum's too, with IEEE's sign (−0 only from −0 + −0)
    use_plain = ~(np.isfinite(plain) & np.isfinite(fused)) | (fused == 0)
    return np.where(use_plain, plain, fused).astype(dtype)


def fma_lerp(start: Any, end: Any, weight: Any) -> Any:
    """start + weight·(end − start), rounded as PyTorch's CPU ``lerp``: from the nearer end,
    as one fused multiply-add each,
        fma(w, end − start, start)          where |w| < ½
        fma(w − 1, end − start, end)        (= end − (end − start)(1 − w)) elsewhere,
    so w = 1 gives ``end`` exactly. ``start``, ``end``: float32 or float64 NumPy arrays of
    one dtype (broadcasting); ``weight``: a number or an array, taken in that dtype (as
    PyTorch's kernel takes a number weight). Returns a new array of the broadcast shape.
    ``tinylm.lerp`` (``ops/pointwise.py: Lerp``) and the optimizers' moving averages
    (``optim/optimizer.py: lerp_``) compute this."""
    dtype = np.result_type(start, end)
    w = np.asarray(weight, dtype=dtype)
    small = np.abs(w) < 0.5
    with np.errstate(over="ignore", invalid="ignore"):  # inf − inf is NaN, as PyTorch
        diff = end - start
    coeff = np.where(small, w, w - dtype.type(1))
    return fma(coeff, diff, np.where(small, start, end)).astype(dtype, copy=False)
