"""Reference kernels: the plain, readable version of every op tinylm accelerates.

Every function here is the *oracle*: the Numba and CUDA kernels are tested against it, and it is
the fallback on every device. It is written with whole-array operations on an array module ``xp``
that is ``numpy`` for NumPy arrays and ``cupy`` for CuPy arrays, so the same code runs on both.

Conventions used in all docstrings:

* ``(..., C)`` means any number of leading axes followed by the reduced axis of size ``C``.
* Output dtype = input dtype (float32 or float64); inputs are never modified, except by
  :func:`adam_update`, whose whole purpose is to update its state in place. float16 inputs
  of the ops marked ``@half_in_float32`` are computed in float32 and rounded once, as
  PyTorch does; the row statistics they return for a backward (mean, rstd, lse) stay
  float32.
* An upstream gradient (``gy``, ``gout``, ``grad_rows``) may come in any layout: a read-only
  broadcast view, a transposed one, or float64 for a float32 op (it is converted first).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from tinylm.ops.fused_multiply_add import fma_lerp

Array = Any  # numpy.ndarray or cupy.ndarray

# The contract: every backend provides these ops (the registry's OPS are this list without
# get_array_module). Public helpers outside it (write_into, the GELU constants and
# derivatives) are not ops.
__all__ = [
    "get_array_module",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "layer_norm_forward",
    "layer_norm_backward",
    "gelu_forward",
    "gelu_backward",
    "gelu_exact_forward",
    "gelu_exact_backward",
    "attention_forward",
    "attention_backward",
    "adam_update",
    "int8_linear",
    "transformer_block_decode",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_recurrence_forward",
    "lstm_recurrence_backward",
    "c_order_copy",
]


def get_array_module(x: Array) -> ModuleType:
    """Return ``cupy`` if ``x`` is a CuPy array, else ``numpy``.

    The test looks at the type's module name so that CuPy is only imported when a CuPy array
    is actually seen (importing CuPy is slow and may not be installed at all).
    """
    if type(x).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


def c_order_copy(a: Array) -> Array:
    """A copy of ``a`` (any shape and dtype) in C order, in memory of its own: what
    ``contiguous()`` makes of a tensor that is not C-ordered."""
    return get_array_module(a).array(a, copy=True, order="C")


def _in_dtype_of(g: Array, x: Array) -> Array:
    """The upstream gradient ``g`` in the dtype of the op's input ``x`` (no copy when it has
    it): float64 numbers times a float32 array would make the result float64."""
    return g.astype(x.dtype, copy=False)


def _is_half(a: Any) -> bool:
    return getattr(a, "dtype", None) == np.float16


def _widened(a: Any) -> Any:
    """A float16 array as float32; anything else (other dtypes, numbers, None) unchanged."""
    return a.astype(np.float32) if _is_half(a) else a


def half_in_float32(
    op: Callable[..., Any] | None = None,
    *,
    float32_results: tuple[int, ...] = (),
    dtype_from: int = 0,
) -> Any:
    """Decorator: when the op's input ``args[dtype_from]`` is float16 (the array whose dtype
    the results take), ``op`` runs on float32 copies of every float16 argument and each float
    result is rounded to float16 once, as PyTorch computes its half-precision ops
    (float32 arithmetic and sums, one rounding at the end). A chain of float16 roundings
    loses digits: GELU's 1 + erf(x/√2) cancels for x < 0 (gelu(−3) came out 8.5 % off), and
    LayerNorm's mean and variance summed in float16 put y ~400 ulp off.

    Keyword arrays (``out``, ``probs``, ``derivative``, …: buffers the op fills) are passed
    as float32 copies and written back, rounded, afterwards; a result that is such a buffer
    comes back as the caller's own array. ``float32_results`` lists result positions kept in
    float32: the row statistics saved for a backward (LayerNorm's mean and rstd, the lse of
    cross-entropy and attention), which PyTorch also keeps in float32 for half inputs. Other
    dtypes pass through unchanged. Use as ``@half_in_float32`` or
    ``@half_in_float32(float32_results=(1, 2))``.
    """
    if op is None:  # called with options: return the decorator itself
        return functools.partial(
            half_in_float32, float32_results=float32_results, dtype_from=dtype_from
        )

    @functools.wraps(op)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _is_half(args[dtype_from]):
            return op(*args, **kwargs)
        filled = []  # (float32 copy handed to op, the caller's float16 array)

        def widen_buffer(a: Any) -> Any:
            wide = _widened(a)
            if wide is not a and not isinstance(a, np.generic):  # an array, not a number
                filled.append((wide, a))
            return wide

        wide_kwargs = {
            name: tuple(map(widen_buffer, v)) if isinstance(v, tuple) else widen_buffer(v)
            for name, v in kwargs.items()
        }
        result = op(*map(_widened, args), **wide_kwargs)
        for wide, half in filled:
            half[...] = wide  # a buffer the op only read (saved P) round-trips exactly

        def narrowed(position: int, r: Any) -> Any:
            for wide, half in filled:
                if r is wide:
                    return half
            if position in float32_results or getattr(r, "dtype", None) != np.float32:
                return r
            return r.astype(np.float16)

        if isinstance(result, tuple):
            return tuple(narrowed(i, r) for i, r in enumerate(result))
        return narrowed(0, result)

    return wrapper


# --------------------------------------------------------------------------------------------
# softmax and log-softmax over the last axis
# --------------------------------------------------------------------------------------------


@half_in_float32
def softmax_forward(x: Array) -> Array:
    """y_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j, over the last axis.

    Shapes: x (..., C) -> y (..., C). Subtracting the row max m does not change the result
    (it cancels between numerator and denominator) but keeps every exp() <= 1: no overflow.
    """
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@half_in_float32
def softmax_backward(y: Array, gy: Array) -> Array:
    """gx = y * (gy - sum(gy * y)), the Jacobian-vector product of softmax.

    Shapes: y, gy (..., C) -> gx (..., C). From dy_i/dx_j = y_i (delta_ij - y_j):
    gx_j = sum_i gy_i y_i (delta_ij - y_j) = y_j (gy_j - sum_i gy_i y_i).
    """
    gy = _in_dtype_of(gy, y)
    return y * (gy - (gy * y).sum(axis=-1, keepdims=True))


@half_in_float32
def log_softmax_forward(x: Array) -> Array:
    """y = x - m - log(sum_j exp(x_j - m)), m = max_j x_j, over the last axis.

    Shapes: x (..., C) -> y (..., C). Computing log(softmax) directly avoids log(0) = -inf
    when a probability underflows.
    """
    xp = get_array_module(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


@half_in_float32
def log_softmax_backward(y: Array, gy: Array) -> Array:
    """gx = gy - exp(y) * sum(gy), with y = log_softmax(x).

    Shapes: y, gy (..., C) -> gx (..., C). From dy_i/dx_j = delta_ij - softmax_j and
    softmax = exp(y).
    """
    xp = get_array_module(y)
    gy = _in_dtype_of(gy, y)
    return gy - xp.exp(y) * gy.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------
# cross-entropy on logits (fused log-softmax + negative log-likelihood)
# --------------------------------------------------------------------------------------------


@half_in_float32(float32_results=(1,))
def cross_entropy_forward(
    logits: Array,
    target: Array,
    ignore_index: int = -100,
    probs: Array | None = None,
    dlogits: Array | None = None,
    grad_scale: float = 1.0,
) -> tuple[Array, Array]:
    """loss_i = lse_i - logits[i, target_i], lse_i = log sum_j exp(logits[i, j]).

    Shapes: logits (N, V), target (N,) int64 -> loss (N,), lse (N,).
    Rows whose target equals ``ignore_index`` get loss 0; their lse is still computed (the
    backward pass reuses lse instead of recomputing the softmax normaliser).
    ``probs``: an (N, V) array to fill with softmax(logits), for a backward that then skips
    its exp (see ``policy.cross_entropy_keeps_probs``); None keeps no (N, V) array.
    ``dlogits``: instead, an (N, V) array to fill with the gradient of grad_scale · Σ_i loss_i,
    (softmax − onehot) · grad_scale (``cross_entropy_backward`` with every grad_rows[i] =
    grad_scale): a training step's backward of a mean (grad_scale = 1/N) or a sum (1) is then
    ready before it starts.
    """
    xp = get_array_module(logits)
    m = logits.max(axis=-1)
    lse = m + xp.log(xp.exp(logits - m[:, None]).sum(axis=-1))
    ignored = target == ignore_index
    safe_target = xp.where(ignored, 0, target)  # ignore_index may be out of range (e.g. -100)
    picked = xp.take_along_axis(logits, safe_target[:, None], axis=-1)[:, 0]
    loss = xp.where(ignored, xp.zeros((), dtype=logits.dtype), lse - picked)
    if probs is not None:
        probs[...] = xp.exp(logits - lse[:, None])
    if dlogits is not None:
        grad_rows = xp.full(logits.shape[0], grad_scale, dtype=logits.dtype)
        dlogits[...] = cross_entropy_backward(logits, target, lse, grad_rows, ignore_index)
    return loss, lse


@half_in_float32
def cross_entropy_backward(
    logits: Array,
    target: Array,
    lse: Array,
    grad_rows: Array,
    ignore_index: int = -100,
    probs: Array | None = None,
) -> Array:
    """dlogits = (softmax(logits) - onehot(target)) * grad_rows[:, None].

    Shapes: logits (N, V), target (N,), lse (N,), grad_rows (N,) -> dlogits (N, V).
    softmax(logits) = exp(logits - lse) reuses the forward's lse, or is ``probs`` when the
    forward kept it. Ignored rows are all zeros.
    """
    xp = get_array_module(logits)
    lse, grad_rows = _in_dtype_of(lse, logits), _in_dtype_of(grad_rows, logits)
    n = logits.shape[0]
    ignored = target == ignore_index
    d = xp.exp(logits - lse[:, None]) if probs is None else probs.astype(logits.dtype)
    rows = xp.arange(n)
    d[rows, xp.where(ignored, 0, target)] -= xp.where(ignored, 0, 1).astype(logits.dtype)
    d *= xp.where(ignored, xp.zeros((), dtype=logits.dtype), grad_rows)[:, None]
    return d


# --------------------------------------------------------------------------------------------
# LayerNorm over the last axis
# --------------------------------------------------------------------------------------------


@half_in_float32(float32_results=(1, 2))
def layer_norm_forward(
    x: Array, weight: Array, bias: Array, eps: float = 1e-5
) -> tuple[Array, Array, Array]:
    """y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps), over the last axis.

    Shapes: x (..., C), weight (C,), bias (C,) -> y (..., C), mean (...), rstd (...).
    var is the biased variance mean((x - mean)^2), as in PyTorch. mean and rstd are saved
    for the backward pass.
    """
    xp = get_array_module(x)
    mean = x.mean(axis=-1)
    xc = x - mean[..., None]
    var = (xc * xc).mean(axis=-1)
    rstd = 1.0 / xp.sqrt(var + eps)
    y = xc * rstd[..., None] * weight + bias
    return y, mean, rstd


@half_in_float32(dtype_from=1)  # gy may be float64: x decides
def layer_norm_backward(
    gy: Array, x: Array, weight: Array, mean: Array, rstd: Array
) -> tuple[Array, Array, Array]:
    """Gradients of LayerNorm.

    Shapes: gy, x (..., C), weight (C,), mean, rstd (...) -> gx (..., C), gweight (C,), gbias (C,).
    With xhat = (x - mean) * rstd and g = gy * weight (per row, means over the C axis):
        gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
        gweight = sum over rows of gy * xhat,  gbias = sum over rows of gy.
    The two mean terms are the gradient flowing through mean and through rstd.
    """
    c = x.shape[-1]
    gy = _in_dtype_of(gy, x)
    xhat = (x - mean[..., None]) * rstd[..., None]
    g = gy * weight
    gx = rstd[..., None] * (
        g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True)
    )
    gweight = (gy * xhat).reshape(-1, c).sum(axis=0)
    gbias = gy.reshape(-1, c).sum(axis=0)
    return gx, gweight, gbias


# --------------------------------------------------------------------------------------------
# GELU, tanh approximation
# --------------------------------------------------------------------------------------------

GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715


@half_in_float32
def gelu_forward(x: Array, derivative: Array | None = None) -> Array:
    """y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). Any shape.

    ``derivative``: an array of x's shape to fill with dy/dx as well (see ``gelu_backward``),
    for a backward that is then one multiply (``policy.gelu_keeps_derivative``).
    """
    xp = get_array_module(x)
    u = GELU_C * (x + GELU_A * x * x * x)
    if derivative is not None:
        derivative[...] = gelu_derivative(x)
    return 0.5 * x * (1.0 + xp.tanh(u))


def gelu_derivative(x: Array) -> Array:
    """dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u)
    as in the forward; (1 - t^2) = dtanh/du. Any shape."""
    xp = get_array_module(x)
    u = GELU_C * (x + GELU_A * x * x * x)
    t = xp.tanh(u)
    du = GELU_C * (1.0 + 3.0 * GELU_A * x * x)
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du


@half_in_float32
def gelu_backward(x: Array, gy: Array, derivative: Array | None = None) -> Array:
    """gx = gy * dy/dx (``gelu_derivative``), or gy * ``derivative`` when the forward kept it.

    Shapes: x, gy (any, equal) -> gx.
    """
    gy = _in_dtype_of(gy, x)
    return gy * (gelu_derivative(x) if derivative is None else derivative)


# --------------------------------------------------------------------------------------------
# GELU, exact: x Φ(x), Φ the standard normal CDF (PyTorch's default, approximate="none")
# --------------------------------------------------------------------------------------------

SQRT1_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def erf(x: Array) -> Array:
    """The error function, elementwise, in the dtype of ``x``.

    NumPy has no erf, so each element goes through ``math.erf`` (exact to the last bit, but a
    Python call per element: this is the readable reference, the Numba kernel is the fast one).
    On CuPy arrays: ``cupyx.scipy.special.erf``.
    """
    if get_array_module(x) is not np:
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


@half_in_float32
def gelu_exact_forward(x: Array, derivative: Array | None = None) -> Array:
    """y = x Φ(x) = 0.5 x (1 + erf(x / sqrt 2)). Any shape.

    ``derivative``: an array of x's shape to fill with dy/dx as well (see
    ``gelu_exact_backward``), for a backward that is then one multiply.
    """
    if derivative is not None:
        derivative[...] = gelu_exact_derivative(x)
    return 0.5 * x * (1.0 + erf(x * SQRT1_2))


def gelu_exact_derivative(x: Array) -> Array:
    """dy/dx = Φ(x) + x φ(x), φ(x) = exp(-x^2 / 2) / sqrt(2 pi) = Φ'(x). Any shape."""
    xp = get_array_module(x)
    cdf = 0.5 * (1.0 + erf(x * SQRT1_2))
    pdf = INV_SQRT_2PI * xp.exp(-0.5 * x * x)
    return cdf + x * pdf


@half_in_float32
def gelu_exact_backward(x: Array, gy: Array, derivative: Array | None = None) -> Array:
    """gx = gy * dy/dx (``gelu_exact_derivative``), or gy * ``derivative`` when the forward
    kept it.

    Shapes: x, gy (any, equal) -> gx.
    """
    gy = _in_dtype_of(gy, x)
    return gy * (gelu_exact_derivative(x) if derivative is None else derivative)


# --------------------------------------------------------------------------------------------
# scaled dot-product attention
# --------------------------------------------------------------------------------------------


def _causal_mask(xp: ModuleType, tq: int, tk: int) -> Array:
    """Boolean (Tq, Tk) mask, True where query i may see key j: j <= i (top-left aligned)."""
    return xp.arange(tk)[None, :] <= xp.arange(tq)[:, None]


def write_into(dest: Array | None, result: Array) -> Array:
    """``result`` written into the caller's destination ``dest`` (which may be a strided
    view) and ``dest`` returned; or ``result`` itself when there is no destination.

    How every backend honours the ``out=`` / ``grads=`` arguments of the attention ops when
    its kernel cannot write into a strided view itself. A helper, not an op of the contract
    (so not in ``__all__``)."""
    if dest is None:
        return result
    dest[...] = result
    return dest


@half_in_float32(float32_results=(1,))
def attention_forward(
    q: Array,
    k: Array,
    v: Array,
    scale: float,
    is_causal: bool = False,
    out: Array | None = None,
    probs: Array | None = None,
) -> tuple[Array, Array]:
    """out = softmax(scale * q k^T) v, also returning lse = logsumexp of each score row.

    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv)
            -> out (B, H, Tq, Dv), lse (B, H, Tq).
    is_causal follows PyTorch: query i sees keys j <= i (a top-left aligned lower triangle,
    also when Tq != Tk), so no row is ever fully masked.
    ``out``, if given, receives the result (it may be a strided view, e.g. the heads of a
    (B, Tq, H*Dv) array) and is returned. ``probs``, if given, a (B, H, Tq, Tk) array,
    receives P = softmax(scale q k^T) (0 where masked), for a backward that need not
    recompute it.
    """
    xp = get_array_module(q)
    s = scale * (q @ xp.swapaxes(k, -1, -2))  # (B, H, Tq, Tk)
    if is_causal:
        s = xp.where(_causal_mask(xp, q.shape[-2], k.shape[-2]), s, s.dtype.type(-np.inf))
    m = s.max(axis=-1, keepdims=True)
    e = xp.exp(s - m)  # masked entries: exp(-inf) = 0
    row_sum = e.sum(axis=-1, keepdims=True)
    p = e / row_sum
    if probs is not None:
        probs[...] = p
    result = p @ v
    lse = (m + xp.log(row_sum))[..., 0]
    return write_into(out, result), lse


@half_in_float32
def attention_backward(
    q: Array,
    k: Array,
    v: Array,
    out: Array,
    lse: Array,
    gout: Array,
    scale: float,
    is_causal: bool = False,
    grads: tuple[Array, Array, Array] | None = None,
    probs: Array | None = None,
) -> tuple[Array, Array, Array]:
    """Gradients of attention, recomputing P from the saved lse unless the forward saved P.

    Shapes: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv), out, gout (B, H, Tq, Dv),
            lse (B, H, Tq) -> gq (B, H, Tq, D), gk (B, H, Tk, D), gv (B, H, Tk, Dv).
        P  = exp(scale q k^T - lse)          (masked entries are 0)
        gv = P^T gout,   gP = gout v^T
        gS = P * (gP - rowsum(gout * out))   (softmax bwd; rowsum(gP * P) = rowsum(gout * out))
        gq = scale gS k, gk = scale gS^T q
    ``grads`` = (gq, gk, gv), if given, receive the results (strided views allowed).
    ``probs``: the P that the forward saved, if it did (then P is not recomputed).
    """
    xp = get_array_module(q)
    out, lse, gout = (_in_dtype_of(a, q) for a in (out, lse, gout))
    # a strided gout makes matmul sum in another order: the same gradients, to a few ulps
    # apart (~1e-6 where terms cancel); a contiguous copy gives the same bits in any layout
    gout = xp.ascontiguousarray(gout)
    if probs is not None:
        p = probs
    else:
        s = scale * (q @ xp.swapaxes(k, -1, -2))
        if is_causal:
            s = xp.where(_causal_mask(xp, q.shape[-2], k.shape[-2]), s, s.dtype.type(-np.inf))
        p = xp.exp(s - lse[..., None])
    gv = xp.swapaxes(p, -1, -2) @ gout
    gp = gout @ xp.swapaxes(v, -1, -2)
    delta = (gout * out).sum(axis=-1, keepdims=True)
    gs = p * (gp - delta)
    gq = scale * (gs @ k)
    gk = scale * (xp.swapaxes(gs, -1, -2) @ q)
    dests = grads if grads is not None else (None, None, None)
    return tuple(write_into(dest, result) for dest, result in zip(dests, (gq, gk, gv), strict=True))


# --------------------------------------------------------------------------------------------
# Adam / AdamW step (in place)
# --------------------------------------------------------------------------------------------


def adam_update(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> None:
    """One Adam (decoupled=False, L2) or AdamW (decoupled=True) step, in place.

    All arrays share one shape. ``step`` counts from 1. With g = grad:
        AdamW: param *= 1 - lr * weight_decay          Adam: g = g + weight_decay * param
        m = beta1 m + (1 - beta1) g     (m.lerp_(g, 1 - beta1), as PyTorch)
        v = beta2 v + (1 - beta2) g^2
        param -= (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
    The bias corrections are applied in exactly PyTorch's order so float64 trajectories match
    torch.optim to ~1e-15; m is PyTorch's lerp to the last bit on NumPy float32/float64
    (``fma_lerp``: one rounding; CuPy and other dtypes: two). ``grad`` is not modified.
    """
    xp = get_array_module(param)
    g = grad
    if weight_decay != 0.0:
        if decoupled:
            param *= 1.0 - lr * weight_decay
        else:
            g = grad + weight_decay * param
    if xp is np and exp_avg.dtype in (np.float32, np.float64):
        exp_avg[...] = fma_lerp(exp_avg, g.astype(exp_avg.dtype, copy=False), 1.0 - beta1)
    else:
        exp_avg *= beta1
        exp_avg += (1.0 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1.0 - beta2) * (g * g)
    step_size = lr / (1.0 - beta1**step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
    denom = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    param -= step_size * (exp_avg / denom)


# --------------------------------------------------------------------------------------------
# int8 weight-only linear layer (inference)
# --------------------------------------------------------------------------------------------


def int8_linear(x: Array, qweight: Array, scale: Array, bias: Array | None = None) -> Array:
    """y = x Ŵᵀ + b with the dequantised weight Ŵ[n, k] = scale[n] · qweight[n, k].

    Shapes: x (..., K) float32/float64, qweight (N, K) int8, scale (N,), bias (N,) or None →
    y (..., N) in x's dtype. The scales are per output channel (row n of the weight), so
    scale[n] factors out of row n's dot product: y[..., n] = scale[n] Σ_k x[..., k] q[n, k] + b[n];
    the fast kernels use that form and never build Ŵ. This reference builds it, plainly.
    """
    w = qweight.astype(x.dtype) * scale.astype(x.dtype)[:, None]  # (N, K) dequantised
    y = x @ w.T
    if bias is not None:
        y = y + bias.astype(x.dtype)
    return y


# --------------------------------------------------------------------------------------------
# One decoding step of a whole transformer block (inference)
# --------------------------------------------------------------------------------------------


def transformer_block_decode(
    x: Array,
    cache_k: Array,
    cache_v: Array,
    pos: int,
    ln_1: tuple[Array, Array],
    qkv: tuple[Array, Array, Array],
    proj: tuple[Array, Array, Array],
    ln_2: tuple[Array, Array],
    fc: tuple[Array, Array, Array],
    fc_proj: tuple[Array, Array, Array],
    num_heads: int,
    eps_1: float,
    eps_2: float,
    exact_gelu: bool,
) -> Array:
    """A pre-norm (GPT-2) block on one new position per sequence, after ``pos`` cached ones:

        a = LN_1(x);  q, k, v = a W_qkvᵀ + b_qkv;  K[pos], V[pos] = k, v      (the cache grows)
        x = x + Concat_h(softmax(q_h K_h[:pos+1]ᵀ / √D) V_h[:pos+1]) W_projᵀ + b_proj
        y = x + GELU(LN_2(x) W_fcᵀ + b_fc) W_fc_projᵀ + b_fc_proj

    Shapes: x (B, C); cache_k, cache_v (capacity, B, H, D) time-major, as ``nn.KVCache`` keeps
    them, rows [0, pos) filled, row ``pos`` written here; ln = (weight, bias) each (C,); a
    linear layer = (W (N, K) in x's dtype or int8, scale (N,), bias (N,)): the weight is
    scale[:, None] · W (scale = 1 for a float W, bias = 0 for a layer without one).
    GELU: tanh form, or exact (erf) with ``exact_gelu``. Returns y (B, C).

    The same arithmetic as the module path (``nn.TransformerBlock`` in eval mode with a
    cache), composed here from the other reference ops. The fast kernel runs it as one
    compiled call instead of some 20 ops, each with its own Python around it.
    """
    b, c = x.shape
    d = c // num_heads

    def linear(h: Array, w: Array, scale: Array, bias: Array) -> Array:
        return h @ (w.astype(h.dtype) * scale.astype(h.dtype)[:, None]).T + bias

    a = layer_norm_forward(x, *ln_1, eps_1)[0]
    packed = linear(a, *qkv)  # (B, 3C): queries, keys, values side by side
    q, k, v = (packed[:, i * c : (i + 1) * c].reshape(b, num_heads, d) for i in range(3))
    cache_k[pos], cache_v[pos] = k, v
    keys = cache_k[: pos + 1].transpose(1, 2, 0, 3)  # (B, H, T, D)
    values = cache_v[: pos + 1].transpose(1, 2, 0, 3)
    scores = (q[:, :, None, :] @ keys.swapaxes(-1, -2))[:, :, 0] / math.sqrt(d)  # (B, H, T)
    p = softmax_forward(scores)
    heads = (p[:, :, None, :] @ values)[:, :, 0]  # (B, H, D)
    x = x + linear(heads.reshape(b, c), *proj)
    f = linear(layer_norm_forward(x, *ln_2, eps_2)[0], *fc)
    f = gelu_exact_forward(f) if exact_gelu else gelu_forward(f)
    return x + linear(f, *fc_proj)


# --------------------------------------------------------------------------------------------
# LSTM cell, the element-wise part (the two matrix products stay outside, as matmuls)
# --------------------------------------------------------------------------------------------


def lstm_hidden_size(gates: Array, c_prev: Array) -> int:
    """H, the hidden size, after checking that gates (..., 4H) and c_prev (..., H) agree.

    A helper of the LSTM ops of every backend (not an op of the contract): a fused kernel
    indexes without bounds checks, so shapes that disagree must be an error first."""
    h = c_prev.shape[-1] if c_prev.ndim else -1
    if gates.shape[:-1] != c_prev.shape[:-1] or gates.shape[-1] != 4 * h:
        raise ValueError(
            f"lstm cell: gates must be (..., 4H) for c_prev (..., H), "
            f"got gates {tuple(gates.shape)} and c_prev {tuple(c_prev.shape)}"
        )
    return h


def _sigmoid(x: Array) -> Array:
    """1 / (1 + exp(-x)), written as 0.5 (1 + tanh(x / 2)): equal, and no exp overflow."""
    xp = get_array_module(x)
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def lstm_cell_forward(gates: Array, c_prev: Array) -> tuple[Array, Array, Array]:
    """One LSTM step after its matrix products, in PyTorch's gate order i, f, g, o.

    Shapes: gates (..., 4H) = x W_ih^T + b_ih + h_prev W_hh^T + b_hh, c_prev (..., H)
            -> h (..., H), c (..., H), act (..., 4H).
        i = σ(gates[0:H])     input gate        f = σ(gates[H:2H])   forget gate
        g = tanh(gates[2H:3H]) candidate        o = σ(gates[3H:4H])  output gate
        c = f * c_prev + i * g,    h = o * tanh(c)
    ``act`` = [i, f, g, o], the activated gates, kept for the backward pass.
    """
    xp = get_array_module(gates)
    hs = lstm_hidden_size(gates, c_prev)
    c_prev = _in_dtype_of(c_prev, gates)
    i = _sigmoid(gates[..., 0:hs])
    f = _sigmoid(gates[..., hs : 2 * hs])
    g = xp.tanh(gates[..., 2 * hs : 3 * hs])
    o = _sigmoid(gates[..., 3 * hs : 4 * hs])
    c = f * c_prev + i * g
    h = o * xp.tanh(c)
    return h, c, xp.concatenate([i, f, g, o], axis=-1)


def lstm_cell_backward(
    act: Array, c_prev: Array, c: Array, dh: Array, dc: Array
) -> tuple[Array, Array]:
    """Gradients of :func:`lstm_cell_forward` with respect to gates and c_prev.

    Shapes: act (..., 4H) = [i, f, g, o], c_prev, c, dh, dc (..., H)
            -> dgates (..., 4H), dc_prev (..., H).
    ``dh``, ``dc`` are the gradients arriving at h and c. With t = tanh(c), σ' = σ(1 - σ),
    tanh' = 1 - tanh²:
        dc_total = dc + dh * o * (1 - t²)          (c reaches the loss directly and through h)
        do = dh * t * o (1 - o)                    di = dc_total * g * i (1 - i)
        df = dc_total * c_prev * f (1 - f)         dg = dc_total * i * (1 - g²)
        dgates = [di, df, dg, do],   dc_prev = dc_total * f
    """
    xp = get_array_module(act)
    hs = lstm_hidden_size(act, c_prev)
    c_prev, c, dh, dc = (_in_dtype_of(a, act) for a in (c_prev, c, dh, dc))
    i, f = act[..., 0:hs], act[..., hs : 2 * hs]
    g, o = act[..., 2 * hs : 3 * hs], act[..., 3 * hs : 4 * hs]
    t = xp.tanh(c)
    dc_total = dc + dh * o * (1.0 - t * t)
    di = dc_total * g * i * (1.0 - i)
    df = dc_total * c_prev * f * (1.0 - f)
    dg = dc_total * i * (1.0 - g * g)
    do = dh * t * o * (1.0 - o)
    return xp.concatenate([di, df, dg, do], axis=-1), dc_total * f


# --------------------------------------------------------------------------------------------
# LSTM recurrence: one layer over T steps (the per-step matrix product and the cell)
# --------------------------------------------------------------------------------------------


def lstm_active_steps(mask: Array | None, steps: int) -> int:
    """How many leading steps hold at least one real (unpadded) position: ``steps`` when
    ``mask`` is None. The steps after the longest sequence's end are padding for every
    sequence, so the recurrence skips them (a helper, not an op)."""
    return steps if mask is None else int(mask.any(axis=1).sum())


def lstm_recurrence_forward(
    xproj: Array,
    w_hh: Array,
    h0: Array,
    c0: Array,
    mask: Array | None = None,
    *,
    cell: Any = None,
) -> tuple[Array, Array, Array, Array]:
    """One LSTM layer over T steps, after the input projection of all steps.

    Shapes: xproj (T, B, 4H) = x W_ih^T + b_ih + b_hh for every step at once, w_hh (4H, H),
    h0, c0 (B, H), mask (T, B) bool or None
            -> out (T + 2, B, H) = [output h_1 .. h_T, h_n, c_n],
               act (T, B, 4H), states_h, states_c (T + 1, B, H).
    Step t:  gates = xproj[t] + h_{t-1} W_hh^T,  then h_t, c_t = the cell (lstm_cell_forward).
    Where mask[t, b] is False (padding after sequence b's end) the state is carried unchanged
    and the output and ``act`` are 0, so h_n, c_n are each sequence's state at its own last
    step.
    ``act`` (the activated gates) and the states (before step 0 and after every step) are what
    the backward pass reads. ``cell`` is the cell step (default :func:`lstm_cell_forward`; the
    CUDA backend passes its fused kernel).
    """
    xp = get_array_module(xproj)
    cell = cell or lstm_cell_forward
    steps, batch, four_h = xproj.shape
    hs = four_h // 4
    out = xp.zeros((steps + 2, batch, hs), dtype=xproj.dtype)
    act = xp.zeros((steps, batch, four_h), dtype=xproj.dtype)
    states_h = xp.empty((steps + 1, batch, hs), dtype=xproj.dtype)
    states_c = xp.empty((steps + 1, batch, hs), dtype=xproj.dtype)
    states_h[0], states_c[0] = h0, c0
    active = lstm_active_steps(mask, steps)
    for t in range(active):
        gates = xproj[t] + states_h[t] @ w_hh.T
        h, c, act[t] = cell(gates, states_c[t])
        if mask is not None:  # padding: the state passes through, the output is 0
            m = mask[t][:, None]
            h, c = xp.where(m, h, states_h[t]), xp.where(m, c, states_c[t])
            out[t], act[t] = xp.where(m, h, 0), xp.where(m, act[t], 0)
        else:
            out[t] = h
        states_h[t + 1], states_c[t + 1] = h, c
    states_h[active + 1 :], states_c[active + 1 :] = states_h[active], states_c[active]
    out[steps], out[steps + 1] = states_h[steps], states_c[steps]
    return out, act, states_h, states_c


def lstm_recurrence_backward(
    g: Array,
    act: Array,
    states_h: Array,
    states_c: Array,
    w_hh: Array,
    mask: Array | None = None,
    *,
    cell: Any = None,
) -> tuple[Array, Array, Array, Array]:
    """Backpropagation through time for :func:`lstm_recurrence_forward`.

    Shapes: g (T + 2, B, H), the gradient of its ``out``; act (T, B, 4H), states_h,
    states_c (T + 1, B, H), w_hh (4H, H), mask (T, B) or None
            -> dxproj (T, B, 4H), dw_hh (4H, H), dh0 (B, H), dc0 (B, H).
    From t = T-1 down to 0, with dh, dc the gradients reaching the state after step t
    (dh, dc start as g's h_n and c_n rows):
        d gates_t, dc_prev = cell backward (lstm_cell_backward) at dh + g[t], dc
        dh_prev = d gates_t W_hh        (gates_t = xproj[t] + h_{t-1} W_hh^T)
        dxproj[t] = d gates_t,   dW_hh = sum over t of d gates_t^T h_{t-1} (one product at the end)
    At padding (mask False) the state passed through unchanged: dh, dc pass back as they are,
    and the output there was a constant 0, so g[t] is dropped. ``cell`` is the cell's backward
    (default :func:`lstm_cell_backward`).
    """
    xp = get_array_module(act)
    cell = cell or lstm_cell_backward
    steps, batch, four_h = act.shape
    g = _in_dtype_of(g, act)
    dxproj = xp.zeros_like(act)
    dh, dc = g[steps].copy(), g[steps + 1].copy()
    for t in range(lstm_active_steps(mask, steps) - 1, -1, -1):
        dh_t, dc_t = dh + g[t], dc
        if mask is not None:
            m = mask[t][:, None]
            dh_t, dc_t = xp.where(m, dh_t, 0), xp.where(m, dc_t, 0)
        dxproj[t], dc_prev = cell(act[t], states_c[t], states_c[t + 1], dh_t, dc_t)
        dh_prev = dxproj[t] @ w_hh
        if mask is not None:
            dh_prev, dc_prev = xp.where(m, dh_prev, dh), xp.where(m, dc_prev, dc)
        dh, dc = dh_prev, dc_prev
    dw_hh = dxproj.reshape(-1, four_h).T @ states_h[:steps].reshape(steps * batch, -1)
    return dxproj, dw_hh, dh, dc
