"""Numba CPU kernels: the same ops and signatures as :mod:`tinylm.kernels.reference`, fused.

Why these are faster than the reference: every separate NumPy call is one full pass over memory
and one temporary array. Here each op walks its rows once (or twice, while a row is still in
cache), in parallel over rows (``prange``; attention: over (batch, head) jobs on threads, see
:func:`_on_all_threads`), with the inner loops vectorised by LLVM.

Conventions:

* Each public function is a thin wrapper that makes the arrays contiguous, reshapes them to the
  2-D ``(rows, C)`` (or 3-D ``(heads, T, D)``) layout the compiled loop expects, allocates the
  outputs and calls a ``_..._kernel``. Kernels never allocate their outputs themselves.
* ``fastmath`` is a set of flags, not ``True``: ``True`` also assumes "no infinities", which
  would silently break a ``-inf`` mask. ``reassoc`` lets LLVM vectorise sums and maxima.
* The kernels are compiled lazily on first call, once for float32 and once for float64
  (``cache=True`` stores the machine code, so later processes start in milliseconds).
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

# Numba's OpenMP threads spin after each kernel, waiting for the next one; OpenBLAS's threads
# do the same after each matrix product. On a 2-core machine a training step alternates the
# two, so each pool's spinning threads steal the cores the other pool needs (measured here:
# a GPT step 2-3x slower). Passive waiting makes idle threads sleep instead. The variable is
# read when the OpenMP runtime loads, i.e. at the first parallel kernel; a value the user set
# is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from . import reference as _ref

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# the exp() helper must keep its Cody-Waite range reduction in the written order: no reassoc
EXACT_MATH = {"nsz", "contract"}

# error_model="numpy": x / 0 gives inf or nan as in NumPy, instead of Python's
# ZeroDivisionError. Python's model puts a zero test and a branch in front of every
# division, which stops LLVM from vectorising the loop around it (GELU's x / (1 + e^-2u) ran
# 8x slower per element, serially). No kernel divides by a value that can be 0 for valid input.
_pjit = njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
_sjit = njit(cache=True, fastmath=FASTMATH, error_model="numpy")


# Below this much work (elements, or q-k pairs times D for attention) a kernel runs on the
# calling thread alone: waking the other threads costs more than it saves, and on a busy
# machine waiting for a descheduled thread can cost a whole scheduler time slice (~10 ms).
SMALL_WORK = 1 << 15
# Attention: B*H*Tq*Tk*D multiply-adds. At small T and D the kernels are slow per
# multiply-add (short loops), so this much is already ~0.25 ms on one core; and a helper
# thread that is late costs little here (it is cancelled, see _on_all_threads). Measured
# fwd+bwd, one thread vs two: 12x4x32x32 1.8 vs 1.1 ms, 8x4x32x16 0.74 vs 0.54 ms,
# 4x4x32x32 0.39 vs 0.37 ms, 1x4x64x32 0.24 vs 0.26 ms (the last at this threshold).
SMALL_ATTENTION_WORK = 1 << 19


def _float32_or_64(fn):
    """Run ``fn`` for float32/float64 inputs (other dtypes, e.g. float16, take the reference),
    single-threaded when the work is small."""
    fallback = getattr(_ref, fn.__name__)
    is_attention = fn.__name__.startswith("attention")

    @functools.wraps(fn)
    def wrapper(first, *args, **kwargs):
        if first.dtype not in (np.float32, np.float64):
            return fallback(first, *args, **kwargs)
        if is_attention:
            small = first.size * args[0].shape[-2] < SMALL_ATTENTION_WORK
        else:
            small = first.size < SMALL_WORK
        if not small:
            return fn(first, *args, **kwargs)
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return fn(first, *args, **kwargs)
        finally:
            numba.set_num_threads(threads)

    return wrapper


# --------------------------------------------------------------------------------------------
# a vectorisable exp()
# --------------------------------------------------------------------------------------------
# There is no SVML on this machine, so numba turns math.exp into one libm call per element and
# the loop around it cannot use SIMD. For float32 we write exp ourselves with only +, *, floor
# and a bit-cast, which LLVM vectorises 8 floats at a time:
#     exp(x) = 2^n * exp(r),  n = round(x / ln 2),  r = x - n ln 2  (|r| <= ln2 / 2)
# exp(r) is a degree-6 polynomial (Cephes' expf coefficients, ~1 ulp) and 2^n is assembled
# directly in the exponent bits of an IEEE-754 float. float64 keeps math.exp (exact to 0.5 ulp).


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
def _take_job(typingctx, counter):
    """``job = counter[0]; counter[0] += 1`` as one indivisible step (LLVM's ``atomicrmw add``).

    Threads that share one counter array each take the next job number; no number is handed
    out twice, and a thread that arrives late simply finds fewer jobs left.
    """
    if not (isinstance(counter, types.Array) and counter.dtype == types.intp):
        return None

    def codegen(context, builder, signature, args):
        first = context.make_array(signature.args[0])(context, builder, args[0]).data
        one = context.get_constant(types.intp, 1)
        return builder.atomic_rmw("add", first, one, "seq_cst")

    return types.intp(counter), codegen


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
# softmax / log-softmax over the last axis
# --------------------------------------------------------------------------------------------


@njit(cache=True, fastmath=False)
def _exact_sub(a, b):
    """a - b compiled without fast-math: LLVM's flags live on each instruction, so even
    inlined into a fast-math loop this subtraction may not be reassociated (which would
    turn (x - m) - log s back into the imprecise x - (m + log s))."""
    return a - b


def _as_rows(x: np.ndarray) -> np.ndarray:
    """Contiguous (rows, C) view (or copy) of an (..., C) array."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


@_pjit
def _softmax_forward_kernel(x, y):
    # Numba promotes float32 (op) int to float64: typed constants keep float32 math float32
    zero, one = x.dtype.type(0), x.dtype.type(1)
    # three passes per row (max, exp-and-sum, scale): the row stays in cache between passes
    for i in prange(x.shape[0]):
        m = x[i, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[i, j])
        s = zero
        for j in range(x.shape[1]):
            e = fast_exp(x[i, j] - m)
            y[i, j] = e
            s += e
        inv = one / s
        for j in range(x.shape[1]):
            y[i, j] *= inv


@_pjit
def _softmax_backward_kernel(y, gy, gx):
    zero = y.dtype.type(0)
    for i in prange(y.shape[0]):
        dot = zero
        for j in range(y.shape[1]):
            dot += gy[i, j] * y[i, j]
        for j in range(y.shape[1]):
            gx[i, j] = y[i, j] * (gy[i, j] - dot)


@_pjit
def _log_softmax_forward_kernel(x, y):
    zero = x.dtype.type(0)
    for i in prange(x.shape[0]):
        m = x[i, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[i, j])
        s = zero
        for j in range(x.shape[1]):
            s += fast_exp(x[i, j] - m)
        # y = (x - m) - log s, not x - (m + log s): when |m| is large, m + log s rounds away
        # the small log s in float32 (512 + 0.693 keeps only ~4 digits of 0.693).
        log_s = math.log(s)
        for j in range(x.shape[1]):
            y[i, j] = _exact_sub(_exact_sub(x[i, j], m), log_s)


@_pjit
def _log_softmax_backward_kernel(y, gy, gx):
    zero = y.dtype.type(0)
    for i in prange(y.shape[0]):
        s = zero
        for j in range(y.shape[1]):
            s += gy[i, j]
        for j in range(y.shape[1]):
            gx[i, j] = gy[i, j] - fast_exp(y[i, j]) * s


@_float32_or_64
def softmax_forward(x: np.ndarray) -> np.ndarray:
    """Fused softmax over the last axis; see :func:`reference.softmax_forward`."""
    x2 = _as_rows(x)
    y = np.empty_like(x2)
    _softmax_forward_kernel(x2, y)
    return y.reshape(x.shape)


@_float32_or_64
def softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = y * (gy - sum(gy * y)); see :func:`reference.softmax_backward`."""
    y2, gy2 = _as_rows(y), _as_rows(gy)
    gx = np.empty_like(y2)
    _softmax_backward_kernel(y2, gy2, gx)
    return gx.reshape(y.shape)


@_float32_or_64
def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """Fused log-softmax over the last axis; see :func:`reference.log_softmax_forward`."""
    x2 = _as_rows(x)
    y = np.empty_like(x2)
    _log_softmax_forward_kernel(x2, y)
    return y.reshape(x.shape)


@_float32_or_64
def log_softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = gy - exp(y) * sum(gy); see :func:`reference.log_softmax_backward`."""
    y2, gy2 = _as_rows(y), _as_rows(gy)
    gx = np.empty_like(y2)
    _log_softmax_backward_kernel(y2, gy2, gx)
    return gx.reshape(y.shape)


# --------------------------------------------------------------------------------------------
# fused cross-entropy: no (N, V) probability matrix is ever stored by the forward pass
# --------------------------------------------------------------------------------------------


@_pjit
def _cross_entropy_forward_kernel(logits, target, ignore_index, loss, lse):
    zero = logits.dtype.type(0)
    for i in prange(logits.shape[0]):
        m = logits[i, 0]
        for j in range(1, logits.shape[1]):
            m = max(m, logits[i, j])
        s = zero
        for j in range(logits.shape[1]):
            s += fast_exp(logits[i, j] - m)
        log_s = math.log(s)
        lse[i] = m + log_s
        t = target[i]
        if t == ignore_index:
            loss[i] = 0
        else:
            # log s - (logit_t - m) keeps full precision for large logits (see log-softmax)
            loss[i] = _exact_sub(log_s, _exact_sub(logits[i, t], m))


@_pjit
def _cross_entropy_backward_kernel(logits, target, lse, grad_rows, ignore_index, dlogits):
    for i in prange(logits.shape[0]):
        t = target[i]
        if t == ignore_index:
            for j in range(logits.shape[1]):
                dlogits[i, j] = 0
            continue
        g = grad_rows[i]
        # softmax recomputed from the saved lse: p_j = exp(logit_j - lse)
        for j in range(logits.shape[1]):
            dlogits[i, j] = fast_exp(logits[i, j] - lse[i]) * g
        dlogits[i, t] -= g


def _check_targets(target: np.ndarray, n_classes: int, ignore_index: int) -> None:
    bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if bad.any():
        raise IndexError(f"target {target[bad][0]} out of range for {n_classes} classes")


@_float32_or_64
def cross_entropy_forward(
    logits: np.ndarray, target: np.ndarray, ignore_index: int = -100
) -> tuple[np.ndarray, np.ndarray]:
    """loss_i = lse_i - logits[i, t_i]; see :func:`reference.cross_entropy_forward`."""
    logits2 = np.ascontiguousarray(logits)
    target2 = np.ascontiguousarray(target, dtype=np.int64)
    _check_targets(target2, logits2.shape[1], ignore_index)
    loss = np.empty(logits2.shape[0], dtype=logits2.dtype)
    lse = np.empty_like(loss)
    _cross_entropy_forward_kernel(logits2, target2, ignore_index, loss, lse)
    return loss, lse


@_float32_or_64
def cross_entropy_backward(
    logits: np.ndarray,
    target: np.ndarray,
    lse: np.ndarray,
    grad_rows: np.ndarray,
    ignore_index: int = -100,
) -> np.ndarray:
    """dlogits = (softmax - onehot) * grad_rows; see :func:`reference.cross_entropy_backward`."""
    logits2 = np.ascontiguousarray(logits)
    target2 = np.ascontiguousarray(target, dtype=np.int64)
    _check_targets(target2, logits2.shape[1], ignore_index)
    lse2 = np.ascontiguousarray(lse, dtype=logits2.dtype)
    grad2 = np.ascontiguousarray(grad_rows, dtype=logits2.dtype)
    d = np.empty_like(logits2)
    _cross_entropy_backward_kernel(logits2, target2, lse2, grad2, ignore_index, d)
    return d


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


@_pjit
def _layer_norm_forward_kernel(x, weight, bias, eps, y, mean, rstd):
    c = x.shape[1]
    zero, one, inv_c = x.dtype.type(0), x.dtype.type(1), x.dtype.type(1 / c)
    for i in prange(x.shape[0]):
        s = zero
        for j in range(c):
            s += x[i, j]
        mu = s * inv_c
        # two-pass variance sum((x - mu)^2): no cancellation, unlike E[x^2] - mu^2
        ss = zero
        for j in range(c):
            d = x[i, j] - mu
            ss += d * d
        r = one / math.sqrt(ss * inv_c + eps)
        mean[i] = mu
        rstd[i] = r
        for j in range(c):
            y[i, j] = (x[i, j] - mu) * r * weight[j] + bias[j]


@_pjit
def _layer_norm_backward_kernel(gy, x, weight, mean, rstd, rows_per_chunk, gx, gw_part, gb_part):
    n, c = x.shape
    zero, inv_c = x.dtype.type(0), x.dtype.type(1 / c)
    # gweight/gbias are sums over rows: each chunk of rows owns one row of partial sums, so
    # threads never write to the same memory; the partials are added up afterwards.
    for chunk in prange(gw_part.shape[0]):
        for i in range(chunk * rows_per_chunk, min(n, (chunk + 1) * rows_per_chunk)):
            mu, r = mean[i], rstd[i]
            sum_g = zero
            sum_gxhat = zero
            for j in range(c):
                xhat = (x[i, j] - mu) * r
                g = gy[i, j] * weight[j]
                sum_g += g
                sum_gxhat += g * xhat
                gw_part[chunk, j] += gy[i, j] * xhat
                gb_part[chunk, j] += gy[i, j]
            mean_g, mean_gxhat = sum_g * inv_c, sum_gxhat * inv_c
            for j in range(c):
                xhat = (x[i, j] - mu) * r
                gx[i, j] = r * (gy[i, j] * weight[j] - mean_g - xhat * mean_gxhat)


@_float32_or_64
def layer_norm_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused LayerNorm forward; see :func:`reference.layer_norm_forward`."""
    x2 = _as_rows(x)
    dt = x2.dtype
    w = np.ascontiguousarray(weight, dtype=dt)
    b = np.ascontiguousarray(bias, dtype=dt)
    y = np.empty_like(x2)
    mean = np.empty(x2.shape[0], dtype=dt)
    rstd = np.empty_like(mean)
    _layer_norm_forward_kernel(x2, w, b, dt.type(eps), y, mean, rstd)
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


@_float32_or_64
def layer_norm_backward(
    gy: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray, rstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused LayerNorm backward; see :func:`reference.layer_norm_backward`."""
    x2, gy2 = _as_rows(x), _as_rows(gy)
    dt = x2.dtype
    n, c = x2.shape
    n_chunks = max(1, min(n, 32))  # fixed count: the result does not depend on the thread count
    rows_per_chunk = -(-n // n_chunks)
    gx = np.empty_like(x2)
    gw_part = np.zeros((n_chunks, c), dtype=dt)
    gb_part = np.zeros((n_chunks, c), dtype=dt)
    _layer_norm_backward_kernel(
        gy2,
        x2,
        np.ascontiguousarray(weight, dtype=dt),
        np.ascontiguousarray(mean, dtype=dt).reshape(-1),
        np.ascontiguousarray(rstd, dtype=dt).reshape(-1),
        rows_per_chunk,
        gx,
        gw_part,
        gb_part,
    )
    return gx.reshape(x.shape), gw_part.sum(axis=0), gb_part.sum(axis=0)


# --------------------------------------------------------------------------------------------
# GELU (tanh form) as x * sigmoid(2u): one exp instead of a tanh
# --------------------------------------------------------------------------------------------
# 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), so y = x * s with s = sigmoid(2u).
# Derivative: dy/dx = s + x * s' = s + x * 2 s (1 - s) * du/dx, du/dx = c (1 + 3 a x^2).


@_pjit
def _gelu_forward_kernel(x, y):
    n = x.shape[0]
    c, a = x.dtype.type(_ref.GELU_C), x.dtype.type(_ref.GELU_A)
    one, minus_two = x.dtype.type(1), x.dtype.type(-2)
    # one flat loop (prange splits it into one contiguous range per thread): LLVM vectorises it
    for i in prange(n):
        xi = x[i]
        u = c * (xi + a * xi * xi * xi)
        # exp(-2u) -> inf for very negative x gives x / inf = -0: the correct limit
        y[i] = xi / (one + fast_exp(minus_two * u))


@_pjit
def _gelu_backward_kernel(x, gy, gx):
    n = x.shape[0]
    c, a = x.dtype.type(_ref.GELU_C), x.dtype.type(_ref.GELU_A)
    a3 = x.dtype.type(3 * _ref.GELU_A)
    one, two, minus_two = x.dtype.type(1), x.dtype.type(2), x.dtype.type(-2)
    for i in prange(n):
        xi = x[i]
        u = c * (xi + a * xi * xi * xi)
        s = one / (one + fast_exp(minus_two * u))
        du = c * (one + a3 * xi * xi)
        gx[i] = gy[i] * (s + two * xi * s * (one - s) * du)


def _elementwise(kernel, x: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """``kernel(x, *others, out)`` on the flattened arrays (contiguous, in x's dtype); the
    result has x's shape. Each GELU op below is this call with its own kernel."""
    x1 = np.ascontiguousarray(x).reshape(-1)
    rest = [np.ascontiguousarray(a, dtype=x1.dtype).reshape(-1) for a in others]
    out = np.empty_like(x1)
    kernel(x1, *rest, out)
    return out.reshape(x.shape)


@_float32_or_64
def gelu_forward(x: np.ndarray) -> np.ndarray:
    """GELU (tanh form), any shape; see :func:`reference.gelu_forward`."""
    return _elementwise(_gelu_forward_kernel, x)


@_float32_or_64
def gelu_backward(x: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = gy * GELU'(x); see :func:`reference.gelu_backward`."""
    return _elementwise(_gelu_backward_kernel, x, gy)


# --------------------------------------------------------------------------------------------
# GELU, exact: x Φ(x) = 0.5 x (1 + erf(x / sqrt 2)); derivative Φ(x) + x φ(x)
# --------------------------------------------------------------------------------------------
# math.erf is libm's erf (erff for float32), one call per element: these loops do not
# vectorise, but run in parallel and still beat the reference's Python call per element.


@_pjit
def _gelu_exact_forward_kernel(x, y):
    half, one, r = x.dtype.type(0.5), x.dtype.type(1), x.dtype.type(_ref.SQRT1_2)
    for i in prange(x.shape[0]):
        xi = x[i]
        y[i] = half * xi * (one + math.erf(xi * r))


@_pjit
def _gelu_exact_backward_kernel(x, gy, gx):
    half, one, r = x.dtype.type(0.5), x.dtype.type(1), x.dtype.type(_ref.SQRT1_2)
    c = x.dtype.type(_ref.INV_SQRT_2PI)
    for i in prange(x.shape[0]):
        xi = x[i]
        cdf = half * (one + math.erf(xi * r))
        pdf = c * math.exp(-half * xi * xi)
        gx[i] = gy[i] * (cdf + xi * pdf)


@_float32_or_64
def gelu_exact_forward(x: np.ndarray) -> np.ndarray:
    """GELU (exact, erf form), any shape; see :func:`reference.gelu_exact_forward`."""
    return _elementwise(_gelu_exact_forward_kernel, x)


@_float32_or_64
def gelu_exact_backward(x: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = gy * (Φ(x) + x φ(x)); see :func:`reference.gelu_exact_backward`."""
    return _elementwise(_gelu_exact_backward_kernel, x, gy)


# --------------------------------------------------------------------------------------------
# attention: blocked per (head, block of queries), everything for one head stays in cache
# --------------------------------------------------------------------------------------------
# For each head and each block of BLOCK_Q query rows, the scores S = Q_blk K^T against the
# keys that block can see (causal: keys < end of the block) fit in L2 together with K and V,
# so the three-pass softmax and both products run on cached data; nothing (T, T) is stored.
# The products are written as a register-blocked loop (below) that LLVM vectorises.

BLOCK_Q = 32


@_sjit
def _matmul_nn_acc(c, a, ai, aj, a_transposed, b, m, n, kk):
    """C[i, j] += sum_p A'[i, p] * B[p, j] for i < m, j < n, p < kk ("axpy" form).

    A'[i, p] is A[ai+i, aj+p], or A[aj+p, ai+i] when ``a_transposed``. Rows of B and C are
    contiguous and long (n = number of keys), so the innermost loop over j is a vectorised
    multiply-add. Two rows of C and four values of p are done per sweep over j (register
    blocking): each B load feeds two rows and each C load/store carries four multiply-adds,
    while the 8 broadcast A values, 4 B and 2 C vectors still fit AVX2's 16 registers.
    """
    i = 0
    while i + 2 <= m:
        r0 = ai + i
        p = 0
        while p + 4 <= kk:
            q0 = aj + p
            if a_transposed:
                a00, a01, a02, a03 = a[q0, r0], a[q0 + 1, r0], a[q0 + 2, r0], a[q0 + 3, r0]
                a10, a11 = a[q0, r0 + 1], a[q0 + 1, r0 + 1]
                a12, a13 = a[q0 + 2, r0 + 1], a[q0 + 3, r0 + 1]
            else:
                a00, a01, a02, a03 = a[r0, q0], a[r0, q0 + 1], a[r0, q0 + 2], a[r0, q0 + 3]
                a10, a11 = a[r0 + 1, q0], a[r0 + 1, q0 + 1]
                a12, a13 = a[r0 + 1, q0 + 2], a[r0 + 1, q0 + 3]
            b0, b1, b2, b3 = b[p], b[p + 1], b[p + 2], b[p + 3]
            c0, c1 = c[i], c[i + 1]
            for j in range(n):
                c0[j] += a00 * b0[j] + a01 * b1[j] + a02 * b2[j] + a03 * b3[j]
                c1[j] += a10 * b0[j] + a11 * b1[j] + a12 * b2[j] + a13 * b3[j]
            p += 4
        while p < kk:  # leftover p, two rows at a time
            bp = b[p]
            for r in range(2):
                arp = a[aj + p, r0 + r] if a_transposed else a[r0 + r, aj + p]
                cr = c[i + r]
                for j in range(n):
                    cr[j] += arp * bp[j]
            p += 1
        i += 2
    if i < m:  # odd m: the last row alone
        cr = c[i]
        for p in range(kk):
            aip = a[aj + p, ai + i] if a_transposed else a[ai + i, aj + p]
            bp = b[p]
            for j in range(n):
                cr[j] += aip * bp[j]


@_sjit
def _matmul_nt_acc(c, ci, x, y, m, n, kk):
    """C[ci+i, e] += sum_p X[i, p] * Y[e, p] for i < m, e < n, p < kk ("dot" form).

    Used when the long axis is the summed one (C = P V with Y = V^T): rows of X and Y are
    contiguous along p, so the loop over p is a vectorised reduction. A 4x2 block of C is
    summed in registers at once: each iteration loads 6 vectors for 8 multiply-adds.
    """
    zero = c.dtype.type(0)
    i = 0
    while i + 4 <= m:
        x0, x1, x2, x3 = x[i], x[i + 1], x[i + 2], x[i + 3]
        e = 0
        while e < n:
            y0, y1 = y[e], y[min(e + 1, n - 1)]  # odd n: the second column repeats, unused
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for p in range(kk):
                s00 += x0[p] * y0[p]
                s01 += x0[p] * y1[p]
                s10 += x1[p] * y0[p]
                s11 += x1[p] * y1[p]
                s20 += x2[p] * y0[p]
                s21 += x2[p] * y1[p]
                s30 += x3[p] * y0[p]
                s31 += x3[p] * y1[p]
            c[ci + i, e] += s00
            c[ci + i + 1, e] += s10
            c[ci + i + 2, e] += s20
            c[ci + i + 3, e] += s30
            if e + 1 < n:
                c[ci + i, e + 1] += s01
                c[ci + i + 1, e + 1] += s11
                c[ci + i + 2, e + 1] += s21
                c[ci + i + 3, e + 1] += s31
            e += 2
        i += 4
    while i < m:  # leftover rows
        xi = x[i]
        for e in range(n):
            ye = y[e]
            acc = zero
            for p in range(kk):
                acc += xi[p] * ye[p]
            c[ci + i, e] += acc
        i += 1


@_sjit
def _padded_length(n):
    """A row length >= n for scratch arrays whose rows hold n keys, chosen so that rows do not
    start exactly 4 KiB apart (a multiple of 16 elements but not of 32). With n = 1024 float32
    keys, rows 4096 bytes apart all fall into the same few sets of the L1 cache and evict
    each other (measured at T = 1024: both kernels ~5 % slower unpadded)."""
    return (n + 16) // 32 * 32 + 16


@_sjit
def _gather_transposed(k, v, b, h, n_keys, k_t, v_t):
    """k_t[:, :n_keys] = Kᵀ and v_t[:, :n_keys] = Vᵀ of head (b, h)'s first n_keys keys and
    values, copied from k, v (B, H, Tk, ·) in any layout into contiguous (D, ·) scratch."""
    d, dv = k.shape[3], v.shape[3]
    for j in range(n_keys):
        for e in range(d):
            k_t[e, j] = k[b, h, j, e]
        for e in range(dv):
            v_t[e, j] = v[b, h, j, e]


# Numba compiles a helper once per combination of argument *types*, and a constant such as 0
# or False has a type of its own (a literal type): the products below make three compiles of
# _matmul_nn_acc and two of _matmul_nt_acc (~0.8 s each). Passing np.intp(0) instead would
# make it one each, but then LLVM cannot fold the zero offsets, and the kernels ran 6-8 %
# slower (measured at T = 64, one thread).


def _attention_forward_jobs(q, k, v, scale, is_causal, out, lse, probs, next_job):
    """q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) in any layout -> out, lse (written).

    One job per (batch, head). Every thread runs this function and takes jobs from the shared
    counter ``next_job`` until none is left (see :func:`_on_all_threads`). A job copies the
    head's K and V once, then works through its queries in blocks of BLOCK_Q. ``probs`` of
    shape (0, 0, 0, 0) means "do not save P"; else P's rows are written there for the backward.
    """
    n_b, n_h, tq, d = q.shape
    tk, dv = k.shape[2], v.shape[3]
    zero, one = q.dtype.type(0), q.dtype.type(1)
    # scratch for one job, reused by the next: everything a block touches stays in cache
    ld = _padded_length(tk)
    q_blk = np.empty((BLOCK_Q, d), dtype=q.dtype)
    k_t = np.empty((d, ld), dtype=q.dtype)
    v_t = np.empty((dv, ld), dtype=q.dtype)
    s = np.empty((BLOCK_Q, ld), dtype=q.dtype)
    o = np.empty((BLOCK_Q, dv), dtype=q.dtype)
    while True:
        bh = _take_job(next_job)
        if bh >= n_b * n_h:
            break
        b, h = bh // n_h, bh % n_h
        # The operands arrive as strided views (e.g. of the (B, T, 3C) qkv projection); copy
        # them into contiguous scratch, K and V transposed so both products below run along
        # the long key axis. The copies are O(T·D) next to the O(T²·D) products.
        _gather_transposed(k, v, b, h, tk, k_t, v_t)
        for i0 in range(0, tq, BLOCK_Q):  # one block of queries
            i1 = min(tq, i0 + BLOCK_Q)
            bq = i1 - i0
            kend = min(i1, tk) if is_causal else tk  # keys beyond the block's last query are masked
            for r in range(bq):
                for e in range(d):
                    q_blk[r, e] = q[b, h, i0 + r, e]
            s[:bq, :kend] = 0
            _matmul_nn_acc(s, q_blk, 0, 0, False, k_t, bq, kend, d)  # S = Q_blk K^T
            for r in range(bq):
                n_valid = min(i0 + r + 1, kend) if is_causal else kend  # query i sees keys j <= i
                row = s[r]
                m = row[0] * scale
                for j in range(1, n_valid):
                    m = max(m, row[j] * scale)
                total = zero
                for j in range(n_valid):
                    e = fast_exp(row[j] * scale - m)
                    row[j] = e
                    total += e
                for j in range(n_valid, kend):
                    row[j] = 0  # masked: exp(-inf) = 0, never computed
                inv = one / total
                for j in range(n_valid):
                    row[j] *= inv
                lse[b, h, i0 + r] = m + math.log(total)
            if probs.shape[0] > 0:  # keep P for the backward (it then skips recomputing S and exp)
                for r in range(bq):
                    for j in range(kend):
                        probs[b, h, i0 + r, j] = s[r, j]
                    for j in range(kend, tk):
                        probs[b, h, i0 + r, j] = 0
            o[:bq] = 0
            _matmul_nt_acc(o, 0, s, v_t, bq, dv, kend)  # O_blk = P V
            for r in range(bq):
                for e in range(dv):
                    out[b, h, i0 + r, e] = o[r, e]


def _attention_backward_jobs(
    q, k, v, out, lse, gout, scale, is_causal, gq, gk, gv, probs, next_job
):
    """All arrays (B, H, T, ·) in any layout; gq, gk, gv are written (every element).

    gK and gV sum over all query blocks of a head, so one job owns a whole head; threads take
    heads from the shared counter ``next_job`` as in the forward. P is read from ``probs``
    when the forward saved it (shape not (0, 0, 0, 0)), else recomputed from lse.
    """
    n_b, n_h, tq, d = q.shape
    tk, dv = k.shape[2], v.shape[3]
    dt = q.dtype
    zero = dt.type(0)
    saved = probs.shape[0] > 0
    # scratch for one head, reused by the next: contiguous copies of its operands (K, V
    # transposed, as in the forward), and gK, gV accumulated transposed, (D, Tk), so that
    # their products also run along the keys
    ld = _padded_length(tk)
    q_h = np.empty((tq, d), dtype=dt)
    go_h = np.empty((tq, dv), dtype=dt)
    delta = np.empty(tq, dtype=dt)
    k_t = np.empty((d, ld), dtype=dt)
    v_t = np.empty((dv, ld), dtype=dt)
    gq_h = np.empty((tq, d), dtype=dt)
    gk_t = np.empty((d, ld), dtype=dt)
    gv_t = np.empty((dv, ld), dtype=dt)
    p = np.empty((BLOCK_Q, ld), dtype=dt)
    gs = np.empty((BLOCK_Q, ld), dtype=dt)
    while True:
        bh = _take_job(next_job)
        if bh >= n_b * n_h:
            break
        b, h = bh // n_h, bh % n_h
        # delta_i = rowsum(gP_i * P_i) = rowsum(gO_i * O_i): a Dv-long sum, not a Tk-long one
        for i in range(tq):
            for e in range(d):
                q_h[i, e] = q[b, h, i, e]
            acc = zero
            for e in range(dv):
                g = gout[b, h, i, e]
                go_h[i, e] = g
                acc += g * out[b, h, i, e]
            delta[i] = acc
        _gather_transposed(k, v, b, h, tk, k_t, v_t)
        gq_h[:] = 0
        gk_t[:] = 0
        gv_t[:] = 0
        for i0 in range(0, tq, BLOCK_Q):
            i1 = min(tq, i0 + BLOCK_Q)
            bq = i1 - i0
            kend = min(i1, tk) if is_causal else tk
            for r in range(bq):
                for j in range(kend):
                    p[r, j] = probs[b, h, i0 + r, j] if saved else 0
                    gs[r, j] = 0
            if not saved:
                _matmul_nn_acc(p, q_h, i0, 0, False, k_t, bq, kend, d)  # S = Q K^T
            _matmul_nn_acc(gs, go_h, i0, 0, False, v_t, bq, kend, dv)  # gP = gO V^T
            for r in range(bq):
                i = i0 + r
                n_valid = min(i + 1, kend) if is_causal else kend
                for j in range(n_valid):
                    if saved:
                        pj = p[r, j]
                    else:
                        pj = fast_exp(p[r, j] * scale - lse[b, h, i])  # P recomputed from lse
                        p[r, j] = pj
                    gs[r, j] = pj * (gs[r, j] - delta[i]) * scale  # gS, with the scale folded in
                for j in range(n_valid, kend):
                    p[r, j] = 0
                    gs[r, j] = 0
            _matmul_nn_acc(gv_t, go_h, 0, i0, True, p, dv, kend, bq)  # gV^T += gO^T P
            _matmul_nn_acc(gk_t, q_h, 0, i0, True, gs, d, kend, bq)  # gK^T += Q^T gS
            _matmul_nt_acc(gq_h, i0, gs, k_t, bq, d, kend)  # gQ = gS K
        for i in range(tq):
            for e in range(d):
                gq[b, h, i, e] = gq_h[i, e]
        for j in range(tk):
            for e in range(d):
                gk[b, h, j, e] = gk_t[e, j]
            for e in range(dv):
                gv[b, h, j, e] = gv_t[e, j]


@functools.cache
def _any_layout_kernel(py_func, dtype: np.dtype):
    """``py_func`` compiled once for ``dtype`` with its input and output arrays in *any* layout.

    Numba normally compiles one version per combination of layouts (C-contiguous or strided)
    it is called with; the attention kernels take strided views (heads of a packed qkv
    projection) as often as contiguous arrays, so an explicit signature with layout 'A' for
    those (and 'C' for P, always an array of our own) keeps it to one compile per dtype.
    ``nogil`` lets :func:`_on_all_threads` run it on several threads at once.
    Compiled on first use, cached on disk.
    """
    f = numba.from_dtype(dtype)
    a3, a4 = f[:, :, :], f[:, :, :, :]
    c4 = f[:, :, :, ::1]  # P, always an array of our own: contiguous, so its rows vectorise
    counter = types.intp[::1]
    if py_func is _attention_forward_jobs:
        sig = types.void(a4, a4, a4, f, types.boolean, a4, a3, c4, counter)
    else:
        sig = types.void(a4, a4, a4, a4, a3, a4, f, types.boolean, a4, a4, a4, c4, counter)
    return njit(sig, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")(py_func)


_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _on_all_threads(jobs, *args) -> None:
    """Run ``jobs(*args, next_job)`` on ``numba.get_num_threads()`` threads at once.

    The attention kernels are parallel over jobs with plain Python threads rather than
    ``prange``: a ``prange`` loop is compiled into three more layers of wrapper (gufunc, its
    wrapper, the parallel launcher), and LLVM re-optimises the whole job body, inlined, at
    each one; for the two attention kernels that was 13 of the 24 s of their first compile.
    The job functions release the GIL (``nogil``), so the threads do run in parallel.

    Jobs are handed out through one shared counter, not split in advance: the calling thread
    starts at once, and a helper thread that is slow to wake up (on a busy or virtual machine
    that can take longer than the whole kernel) only takes what is left. A helper that has
    not started by the time the caller runs out of jobs is cancelled rather than waited for.
    """
    global _pool, _pool_size
    n_threads = numba.get_num_threads()
    if n_threads > 1 and _pool_size != n_threads - 1:  # first call, or set_num_threads changed
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(n_threads - 1, thread_name_prefix="tinylm-attention")
        _pool_size = n_threads - 1
    next_job = np.zeros(1, dtype=np.intp)
    helpers = [_pool.submit(jobs, *args, next_job) for _ in range(n_threads - 1)]
    jobs(*args, next_job)  # the calling thread works too, until no job is left
    for helper in helpers:
        if not helper.cancel():  # it started: it may still be finishing its last job
            helper.result()


def _no_probs(dtype: np.dtype) -> np.ndarray:
    """The kernels' "P is not saved" marker: an empty 4-D array (a typed stand-in for None)."""
    return np.empty((0, 0, 0, 0), dtype=dtype)


def _destination(
    arr, shape: tuple[int, ...], dtype: np.dtype, name: str, contiguous: bool = False
) -> np.ndarray:
    """A caller's output buffer, checked, or a new one."""
    if arr is None:
        return np.empty(shape, dtype=dtype)
    layout_ok = arr.flags.c_contiguous or not contiguous
    if arr.shape != shape or arr.dtype != dtype or not arr.flags.writeable or not layout_ok:
        kind = "C-contiguous " if contiguous else ""
        raise ValueError(
            f"attention: {name} must be a writeable {kind}{shape} {dtype} array, got "
            f"{arr.shape} {arr.dtype}"
        )
    return arr


@_float32_or_64
def attention_forward(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    scale: float,
    is_causal: bool = False,
    out: np.ndarray | None = None,
    probs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blocked fused attention forward; see :func:`reference.attention_forward`.

    Inputs may be strided views (no copy is made); ``out`` may be one too.
    """
    dt = q.dtype
    q, k, v = (np.asarray(a, dtype=dt) for a in (q, k, v))
    b, h, tq, _ = q.shape
    out = _destination(out, (b, h, tq, v.shape[-1]), dt, "out")
    lse = np.empty((b, h, tq), dtype=dt)
    probs = (
        _no_probs(dt)
        if probs is None
        else _destination(probs, (b, h, tq, k.shape[2]), dt, "probs", contiguous=True)
    )
    jobs = _any_layout_kernel(_attention_forward_jobs, dt)
    _on_all_threads(jobs, q, k, v, dt.type(scale), bool(is_causal), out, lse, probs)
    return out, lse


@_float32_or_64
def attention_backward(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    out: np.ndarray,
    lse: np.ndarray,
    gout: np.ndarray,
    scale: float,
    is_causal: bool = False,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    probs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocked fused attention backward; see :func:`reference.attention_backward`.

    Inputs may be strided views; ``grads`` = (gq, gk, gv) destinations may be too.
    """
    dt = q.dtype
    q, k, v, out, gout = (np.asarray(a, dtype=dt) for a in (q, k, v, out, gout))
    lse = np.asarray(lse, dtype=dt)
    gq, gk, gv = grads if grads is not None else (None, None, None)
    gq = _destination(gq, q.shape, dt, "gq")
    gk = _destination(gk, k.shape, dt, "gk")
    gv = _destination(gv, v.shape, dt, "gv")
    if probs is None:
        probs = _no_probs(dt)
    else:  # read without bounds checks: a wrong shape must stop here
        probs = np.ascontiguousarray(probs, dtype=dt)
        if probs.shape != (*q.shape[:3], k.shape[2]):
            raise ValueError(
                f"attention: probs must be {(*q.shape[:3], k.shape[2])}, got {probs.shape}"
            )
    jobs = _any_layout_kernel(_attention_backward_jobs, dt)
    _on_all_threads(
        jobs, q, k, v, out, lse, gout, dt.type(scale), bool(is_causal), gq, gk, gv, probs
    )
    return gq, gk, gv


# --------------------------------------------------------------------------------------------
# Adam / AdamW, in place
# --------------------------------------------------------------------------------------------


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _adam_element(p, g, m, v, decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt):
    """One coordinate's step; returns the new (θ, m, v). Every argument has the array's
    float type (a Python 1 − β would promote float32 to float64), so β₁, β₂ arrive as pairs
    beta1 = (β₁, 1 − β₁), beta2 = (β₂, 1 − β₂).

    AdamW and Adam differ only in where the weight decay goes, so both are one formula:
        AdamW: decay = 1 − lr·λ, l2 = 0      Adam (+ L2): decay = 1, l2 = λ
    """
    g = g + l2 * p
    m = beta1[0] * m + beta1[1] * g
    v = beta2[0] * v + beta2[1] * g * g
    # θ ← θ·decay − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    return p * decay - step_size * m / (math.sqrt(v) * inv_bc2_sqrt + eps), m, v


@_pjit
def _adam_kernel(param, grad, m, v, decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt):
    """One flat loop with no branch inside, so LLVM vectorises it (8 floats per instruction)."""
    for i in prange(param.shape[0]):
        param[i], m[i], v[i] = _adam_element(
            param[i], grad[i], m[i], v[i], decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt
        )


@_sjit
def _adam_kernel_serial(param, grad, m, v, decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt):
    """The same loop without threads, for the many small tensors of a model (biases,
    LayerNorm gains): cheaper than switching the thread count around a parallel call, which
    is what the other kernels' small-work path does. (A separate function, not a second
    compile of the one above: Numba's cache would hand one's machine code to the other.)"""
    for i in range(param.shape[0]):
        param[i], m[i], v[i] = _adam_element(
            param[i], grad[i], m[i], v[i], decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt
        )


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> None:
    """One fused Adam/AdamW step in place; see :func:`reference.adam_update`."""
    arrays = (param, grad, exp_avg, exp_avg_sq)
    if param.dtype not in (np.float32, np.float64) or not all(
        a.flags.c_contiguous and a.dtype == param.dtype for a in arrays
    ):
        # other dtypes, and strided views (an in-place update needs the caller's own
        # memory), take the plain path
        _ref.adam_update(
            param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, step=step, decoupled=decoupled,
        )  # fmt: skip
        return
    f = param.dtype.type
    step_size = lr / (1.0 - beta1**step)
    inv_bc2_sqrt = 1.0 / math.sqrt(1.0 - beta2**step)
    decay, l2 = (1.0 - lr * weight_decay, 0.0) if decoupled else (1.0, weight_decay)
    kernel = _adam_kernel_serial if param.size < SMALL_WORK else _adam_kernel
    kernel(
        *(a.reshape(-1) for a in arrays),
        f(decay), f(l2), (f(beta1), f(1.0 - beta1)), (f(beta2), f(1.0 - beta2)), f(eps),
        f(step_size), f(inv_bc2_sqrt),
    )  # fmt: skip
