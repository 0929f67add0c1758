"""The building blocks every Numba kernel here is compiled with: JIT presets, a vectorisable
``exp``, an atomic job counter, and a subtraction that fast-math may not reorder.

Not an op itself: the ops are in the sibling modules, each implementing part of
``kernels/reference.py``. Numba's disk cache (``cache=True``) checks only the file of the
function it caches, not the files of what it inlined: after editing this file, empty the
cache (``NUMBA_CACHE_DIR``, or the ``__pycache__`` beside the kernels) so that the kernels
using it recompile.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = [
    "EXACT_MATH",
    "FASTMATH",
    "exact_sub",
    "exp_f32",
    "fast_erf",
    "fast_exp",
    "rjit",
    "sjit",
    "take_job",
]

#: fast-math as a set of flags, never ``True``: ``True`` also assumes "no infinities", which
#: would silently break a ``-inf`` mask. ``reassoc`` lets LLVM vectorise sums and maxima.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
#: for the exp() helper, which must keep its Cody-Waite range reduction in the written order
EXACT_MATH = {"nsz", "contract"}

# error_model="numpy": x / 0 gives inf or nan as in NumPy. Python's model puts a zero test
# and a branch before every division, which stops LLVM from vectorising the loop around it.
# No kernel divides by a value that can be 0 for valid input.

#: kernels of a range of rows, ``kernel(start, end, ...)``: ``nogil``, so that tinylm's threads
#: (``kernels/parallel.py``) run them at once. Each slices its arrays to ``start:end`` first and
#: loops from 0: Numba checks every index for wrap-around unless it is known to be ≥ 0, and that
#: check keeps LLVM from vectorising a loop over ``range(start, end)`` (3.7x slower, measured).
rjit = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
#: serial helpers
sjit = njit(cache=True, fastmath=FASTMATH, error_model="numpy")


@intrinsic
def _pow2(typingctx, n, like):
    """2.0**n as a float of the same type as ``like``, built from the exponent bits (n integer)."""
    if not isinstance(n, types.Integer) or not isinstance(like, types.Float):
        return None
    bits, bias, mantissa = (32, 127, 23) if like.bitwidth == 32 else (64, 1023, 52)

    def codegen(context, builder, signature, args):
        ity = ir.IntType(bits)
        nv = args[0]
        if nv.type.width < bits:
            nv = builder.sext(nv, ity)
        elif nv.type.width > bits:
            nv = builder.trunc(nv, ity)
        exponent = builder.shl(builder.add(nv, ity(bias)), ity(mantissa))
        return builder.bitcast(exponent, context.get_value_type(like))

    return like(n, like), codegen


@intrinsic
def take_job(typingctx, counter):
    """``job = counter[0]; counter[0] += 1`` as one indivisible step (LLVM's ``atomicrmw add``).

    ``counter`` is a 1-element ``intp`` array. Threads that share one counter each take the
    next job number; no number is handed out twice, and a thread that arrives late simply
    finds fewer jobs left. Usable inside compiled code only (see ``threads.on_all_threads``).
    """
    if not (isinstance(counter, types.Array) and counter.dtype == types.intp):
        return None

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0]).data
        one = context.get_constant(types.intp, 1)
        return builder.atomic_rmw("add", first, one, "seq_cst")

    return types.intp(counter), codegen


# --------------------------------------------------------------------------------------------
# a vectorisable exp()
# --------------------------------------------------------------------------------------------
# There is no SVML on a stock Numba install, so math.exp is one libm call per element and the
# loop around it cannot use SIMD. For float32 we write exp ourselves with only +, *, floor and
# a bit-cast, which LLVM vectorises 8 floats at a time:
#     exp(x) = 2^n * exp(r),  n = round(x / ln 2),  r = x - n ln 2  (|r| <= ln2 / 2)
# exp(r) is a degree-6 polynomial (Cephes' expf coefficients, ~1 ulp) and 2^n is assembled
# directly in the exponent bits of an IEEE-754 float. float64 keeps math.exp (exact to 0.5 ulp).


def fast_exp(x):  # pragma: no cover - replaced by the overload below inside compiled code
    """exp(x) inside Numba kernels (vectorisable for float32, math.exp for float64)."""
    return math.exp(x)


@overload(fast_exp, jit_options={"fastmath": EXACT_MATH})
def _fast_exp_overload(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def exp64(x):
            return math.exp(x)

        return exp64

    f = np.float32
    log2e, ln2_hi, ln2_lo = f(1.44269504088896341), f(0.693359375), f(-2.12194440e-4)
    lo, hi, half, one, zero = f(-87.33654), f(88.72283), f(0.5), f(1.0), f(0.0)
    c0, c1, c2 = f(1.9875691500e-4), f(1.3981999507e-3), f(8.3334519073e-3)
    c3, c4, c5 = f(4.1665795894e-2), f(1.6666665459e-1), f(5.0000001201e-1)
    inf = f(np.inf)

    def exp32(x):
        xc = min(max(x, lo), hi)  # keep n in the normal exponent range
        n = np.floor(xc * log2e + half)  # np.floor keeps float32 (math.floor gives an int64)
        r = xc - n * ln2_hi - n * ln2_lo  # two-constant ln2: r is exact to ~1 ulp
        p = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5
        p = p * r * r + r + one
        y = p * _pow2(np.int32(n), x)
        if x < lo:  # underflow, including exp(-inf) = 0 for masks
            y = zero
        if x > hi:
            y = inf
        if x != x:  # propagate NaN
            y = x
        return y

    return exp32


# --------------------------------------------------------------------------------------------
# a vectorisable erf(), and an exp() rounded as libm's, for float32
# --------------------------------------------------------------------------------------------
# libm's erff is one call per element (it was the exact GELU's whole cost). For float32 the
# value is computed in float64 from two polynomials fitted here (float64 Lawson-weighted least
# squares, i.e. near-minimax), both evaluated and one selected, so the loop has no branch and
# LLVM vectorises it (4 doubles wide):
#     |x| <= ERF_SPLIT:  erf(x) = x + x p(x^2)       p of degree 7, fitted to erf(x)/x - 1
#     |x| >  ERF_SPLIT:  erf(x) = ±(1 - exp(q(|x|)))  q of degree 10, fitted to log erfc(x)
# The second form keeps erfc's relative accuracy where erf is close to 1; beyond |x| = 4
# erfc(x) < 2^-25, so float32 erf is exactly ±1 and |x| is clamped there. Fitted errors are
# ~1e-11, so the float32 result is the correctly rounded erf(x) except within ~1e-4 ulp of a
# rounding tie, as glibc's erff and PyTorch's erf nearly always are too: a GELU written as
# PyTorch writes it then gives PyTorch's float32 numbers (tests/parity). float64 keeps math.erf.
# ``exp_f32`` is exp rounded the same way, for the GELU backward's density e^(-x^2/2).

ERF_SPLIT = 0.921875  # 59/64: where q's fitted interval starts
_ERF_P = (
    0.1283791670848605, -0.37612638745794563, 0.11283787829852954, -0.0268658111774049,
    0.005222314100211137, -0.0008506136257589031, 0.00011453214211830376, -1.0289376485367319e-05,
)  # fmt: skip
_ERF_Q = (
    4.030794762531969e-05, -1.128672113754451, -0.6356694387455193, -0.10458217887605925,
    0.021357519115229984, -0.0016198913021903683, -0.0007316942019056083,
    0.00033308921966657135, -6.827828386740675e-05, 7.528718049765182e-06,
    -3.597633664309541e-07,
)  # fmt: skip


def _exp_f64_impl():
    """exp(x) in float64 for x in [-120, 100] (clamped), vectorisable: 2^n e^r, |r| <= ln2/2,
    e^r by its Taylor series to r^11 (relative error < 1e-13, far below float32's ulp)."""
    log2e, half = 1.4426950408889634, 0.5
    ln2_hi, ln2_lo = 6.93145751953125e-1, 1.42860682030941723212e-6  # Cody-Waite split
    inv = [1.0 / math.factorial(k) for k in range(12)]
    c11, c10, c9, c8, c7, c6, c5, c4, c3, c2 = (inv[k] for k in range(11, 1, -1))

    def exp64(x):
        xc = min(max(x, -120.0), 100.0)  # n stays in float64's normal exponent range
        n = np.floor(xc * log2e + half)
        r = xc - n * ln2_hi - n * ln2_lo
        p = (
            (((((((c11 * r + c10) * r + c9) * r + c8) * r + c7) * r + c6) * r + c5) * r + c4) * r
            + c3
        ) * r + c2  # noqa: E501
        return (p * r * r + r + 1.0) * _pow2(np.int64(n), xc)

    return exp64


_exp64 = njit(_exp_f64_impl(), fastmath=EXACT_MATH, inline="always")


def fast_erf(x):  # pragma: no cover - replaced by the overload below inside compiled code
    """erf(x) inside Numba kernels (vectorisable for float32, math.erf for float64)."""
    return math.erf(x)


def exp_f32(x):  # pragma: no cover - replaced by the overload below inside compiled code
    """exp(x) inside Numba kernels, float32 rounded as libm's expf (vectorisable)."""
    return math.exp(x)


@overload(fast_erf, jit_options={"fastmath": EXACT_MATH}, inline="always")
def _fast_erf_overload(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def erf64(x):
            return math.erf(x)

        return erf64

    p0, p1, p2, p3, p4, p5, p6, p7 = _ERF_P
    q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10 = _ERF_Q

    def erf32(x):
        a = np.float64(x)
        t = min(abs(a), 4.0)  # also inf -> 4, where 1 - exp(q) rounds to 1 in float32
        s = a * a
        p = ((((((p7 * s + p6) * s + p5) * s + p4) * s + p3) * s + p2) * s + p1) * s + p0
        y = a + a * p
        q = q10 * t + q9
        q = ((((((q * t + q8) * t + q7) * t + q6) * t + q5) * t + q4) * t + q3) * t + q2
        q = (q * t + q1) * t + q0
        tail = 1.0 - _exp64(q)
        if a < 0.0:
            tail = -tail
        if t > ERF_SPLIT:
            y = tail
        if a != a:  # propagate NaN
            y = a
        return np.float32(y)

    return erf32


@overload(exp_f32, jit_options={"fastmath": EXACT_MATH}, inline="always")
def _exp_f32_overload(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def exp64(x):
            return math.exp(x)

        return exp64

    def exp32(x):
        a = np.float64(x)
        y = _exp64(a)  # below -120 or above 100 the float32 result is 0 or inf anyway
        if a < -120.0:
            y = 0.0
        if a > 100.0:
            y = np.inf
        if a != a:
            y = a
        return np.float32(y)

    return exp32


@njit(cache=True, fastmath=False)
def exact_sub(a, b):
    """a - b compiled without fast-math: LLVM's flags live on each instruction, so even
    inlined into a fast-math loop this subtraction may not be reassociated (which would
    turn (x - m) - log s back into the imprecise x - (m + log s))."""
    return a - b
