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
    "exact_mul",
    "exact_sub",
    "fast_erf",
    "fast_erf_gauss",
    "fast_exp",
    "fast_exp_nonpositive",
    "rjit",
    "row_max",
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


_EXP_LO = -87.33654  # below it, float32 exp(x) is not a normal number: 0 is returned
_LOG2E, _LN2_HI = np.float32(1.44269504088896341), np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)  # ln2 = _LN2_HI + _LN2_LO, the high part exact in float32
_HALF = np.float32(0.5)


@njit(cache=True, fastmath=EXACT_MATH)
def _ln2_split(x):
    """float32 x as n ln2 + r: n = round(x / ln2) (a float32 integer), |r| ≤ ln2 / 2. The
    step both float32 exps share; EXACT_MATH keeps the two-constant ln2 subtraction in the
    written order (r exact to ~1 ulp)."""
    n = np.floor(x * _LOG2E + _HALF)  # np.floor keeps float32 (math.floor gives an int64)
    return n, x - n * _LN2_HI - n * _LN2_LO


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
    lo, hi, one, zero = f(_EXP_LO), f(88.72283), f(1.0), f(0.0)
    c0, c1, c2 = f(1.9875691500e-4), f(1.3981999507e-3), f(8.3334519073e-3)
    c3, c4, c5 = f(4.1665795894e-2), f(1.6666665459e-1), f(5.0000001201e-1)
    inf = f(np.inf)

    def exp32(x):
        n, r = _ln2_split(min(max(x, lo), hi))  # clamped: n stays in the normal exponent range
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
# a vectorisable erf()
# --------------------------------------------------------------------------------------------
# libm's erff is one call per element too (the exact GELU's whole cost). For float32, two
# polynomials fitted here (float64 Lawson-weighted least squares, i.e. near-minimax, of the
# errors below; coefficients then rounded to float32), both evaluated and one selected, so the
# loop has no branch and LLVM vectorises it:
#     |x| <= ERF_SPLIT:  erf(x) = x + x p(x^2)             p of degree 5, fitted to erf(x)/x - 1
#     |x| >  ERF_SPLIT:  erf(x) = ±(1 - e^{-x^2} R(|x|))   R of degree 8 in |x| - 2, fitted to
#                                                         erfc(x) e^{x^2}, weighted by e^{-x^2}
# The second form keeps erfc's accuracy where erf is close to 1, and its e^{-x^2} is the
# Gaussian the exact GELU's backward needs anyway (φ(x) = e^{-x²/2}/√(2π)): it computes one
# exp for both (fast_erf_gauss), a shorter one than fast_exp (fast_exp_nonpositive). Beyond
# |x| = 4, e^{-x^2} < 2^-23 and erf is ±1 in float32, so R's argument is clamped there.
# Measured against math.erf: at most 1.25 ulp over every 13th float32 in [0, 5] (R of degree 7
# reached 1.5 ulp and no longer rounded erf(3.9) correctly; tests/kernels/
# test_kernels_precision.py bounds it at 2). float64 keeps math.erf.

ERF_SPLIT = 0.921875  # 59/64: where R's fitted interval starts
_ERF_P = (0.12837915, -0.37612495, 0.11281817, -0.026766634, 0.0049932012, -0.00059909414)
_ERF_R = (
    0.25539547,
    -0.10679822,
    0.041805994,
    -0.015428161,
    0.005470878,
    -0.0019052154,
    0.00047741365,
    -0.00017421623,
    0.00012801179,
)
#: exp(r) = 1 + r + r² q(r) on |r| ≤ ln2/2, q of degree 3 fitted here (the polynomial's own
#: error 1.1e-7; the whole exp 1.8e-7 relative over [-87, 0], fast_exp 8e-8): two terms fewer
#: than fast_exp's, enough for erf's tail, where the exp's part e^{-x²}R is erfc ≤ 0.19
_EXP_Q = (0.49999231, 0.16667114, 0.041890107, 0.0083125122)


def fast_exp_nonpositive(x):  # pragma: no cover - replaced by the overload below
    """exp(x) for x ≤ 0 inside Numba kernels (erf's tail, the Gaussian φ, log-softmax): fast_exp's
    steps with a shorter polynomial (relative error 1.8e-7 instead of 8e-8) and without the
    overflow and NaN tests (what a NaN x gives is unspecified: the caller tests for NaN)."""
    return math.exp(x)


@overload(fast_exp_nonpositive, jit_options={"fastmath": EXACT_MATH})
def _fast_exp_nonpositive_overload(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def exp64(x):
            return math.exp(x)

        return exp64

    f = np.float32
    lo, one, zero = f(_EXP_LO), f(1.0), f(0.0)
    q0, q1, q2, q3 = (f(c) for c in _EXP_Q)

    def exp32(x):  # x ≤ 0 assumed
        n, r = _ln2_split(max(x, lo))
        q = ((q3 * r + q2) * r + q1) * r + q0
        y = (q * r * r + r + one) * _pow2(np.int32(n), x)
        if x < lo:  # underflow, -inf included
            y = zero
        return y

    return exp32


def fast_erf_gauss(x, gauss):  # pragma: no cover - replaced by the overload below
    """erf(x) inside Numba kernels when ``gauss`` = exp(-x*x) is already at hand (float32:
    the polynomials above; float64: math.erf, ``gauss`` unused)."""
    return math.erf(x)


@overload(fast_erf_gauss, jit_options={"fastmath": EXACT_MATH})
def _fast_erf_gauss_overload(x, gauss):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def erf64(x, gauss):
            return math.erf(x)

        return erf64

    f = np.float32
    p0, p1, p2, p3, p4, p5 = (f(c) for c in _ERF_P)
    r0, r1, r2, r3, r4, r5, r6, r7, r8 = (f(c) for c in _ERF_R)
    split, two, four, one, zero = f(ERF_SPLIT), f(2.0), f(4.0), f(1.0), f(0.0)

    def erf32(x, gauss):
        s = x * x
        p = ((((p5 * s + p4) * s + p3) * s + p2) * s + p1) * s + p0
        y = x + x * p
        a = min(abs(x), four)  # also inf -> 4, where gauss is 0 and the tail is exactly 1
        u = a - two
        r = (((r8 * u + r7) * u + r6) * u + r5) * u + r4
        r = (((r * u + r3) * u + r2) * u + r1) * u + r0
        tail = one - gauss * r
        if x < zero:
            tail = -tail
        if a > split:
            y = tail
        if x != x:  # propagate NaN
            y = x
        return y

    return erf32


def fast_erf(x):  # pragma: no cover - replaced by the overload below inside compiled code
    """erf(x) inside Numba kernels (vectorisable for float32, math.erf for float64)."""
    return math.erf(x)


@overload(fast_erf, jit_options={"fastmath": EXACT_MATH})
def _fast_erf_overload(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 64:

        def erf64(x):
            return math.erf(x)

        return erf64

    def erf32(x):
        return fast_erf_gauss(x, fast_exp_nonpositive(-(x * x)))

    return erf32


@njit(cache=True, fastmath=False)
def exact_mul(a, b):
    """a * b compiled without fast-math, like :func:`exact_sub`: (p · inv) · scale stays two
    roundings in that order, where fast-math could hoist inv · scale out of the loop."""
    return a * b


@njit(cache=True, fastmath=False)
def exact_sub(a, b):
    """a - b compiled without fast-math: LLVM's flags live on each instruction, so even
    inlined into a fast-math loop this subtraction may not be reassociated (which would
    turn (x - m) - log s back into the imprecise x - (m + log s))."""
    return a - b


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def row_max(r):
    """The largest entry of the 1-D array ``r`` (at least one entry), as the softmax-like
    kernels need it before their exp pass. ``max(m, r[j])`` in one loop is a chain of
    dependent comparisons that LLVM does not vectorise (each step waits for the last); eight
    running maxima of interleaved entries are eight independent chains, which it turns into
    SIMD maxima: 3.7x faster over rows of 1024 floats. A NaN entry may or may not reach the
    result (as before): the exp pass after it turns the row into NaN either way."""
    n = r.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = r[0]
    j = 0
    while j + 8 <= n:
        a0, a1, a2, a3 = max(a0, r[j]), max(a1, r[j + 1]), max(a2, r[j + 2]), max(a3, r[j + 3])
        a4, a5, a6, a7 = max(a4, r[j + 4]), max(a5, r[j + 5]), max(a6, r[j + 6]), max(a7, r[j + 7])
        j += 8
    while j < n:
        a0 = max(a0, r[j])
        j += 1
    return max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))
