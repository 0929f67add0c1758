"""Row-wise Numba kernels: softmax, log-softmax, cross-entropy and LayerNorm over the last axis.

Implements (same names, signatures and results up to rounding) ``kernels/reference.py``:
softmax_forward/softmax_backward, log_softmax_forward/log_softmax_backward,
cross_entropy_forward/cross_entropy_backward, layer_norm_forward/layer_norm_backward.

Each op is a thin wrapper that makes its arrays contiguous ``(rows, C)`` in the op's dtype
(``threads.kernel_input``: gradients arrive in any layout), allocates the outputs and calls
the compiled loop ``<op>_kernel(start, end, ...)``, which walks each of rows ``start:end`` once
(or twice, while it is still in cache); ``parallel.parallel_ranges`` runs it on tinylm's
threads, a range of rows each. The loops are public so that lesson 10 can print their source;
call the ops, not the loops.
"""

from __future__ import annotations

import math

import numpy as np

from .. import reference
from ..parallel import parallel_ranges
from .jit import exact_mul, exact_sub, fast_exp, fast_exp_nonpositive, rjit, row_max, sjit
from .threads import float32_or_64, kernel_input

__all__ = [
    "cross_entropy_backward",
    "cross_entropy_backward_kernel",
    "cross_entropy_forward",
    "cross_entropy_forward_kernel",
    "layer_norm_backward",
    "layer_norm_backward_kernel",
    "layer_norm_forward",
    "layer_norm_forward_kernel",
    "log_softmax_backward",
    "log_softmax_backward_kernel",
    "log_softmax_forward",
    "log_softmax_forward_kernel",
    "softmax_backward",
    "softmax_backward_kernel",
    "softmax_forward",
    "softmax_forward_kernel",
]


def _as_rows(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Contiguous (rows, C) view (or copy) of an (..., C) array, in ``dtype``."""
    return kernel_input(x, dtype).reshape(-1, x.shape[-1])


# --------------------------------------------------------------------------------------------
# softmax / log-softmax over the last axis
# --------------------------------------------------------------------------------------------


@rjit
def softmax_forward_kernel(start, end, x, y):
    x, y = x[start:end], y[start:end]
    # Numba promotes float32 (op) int to float64: typed constants keep float32 math float32
    zero, one = x.dtype.type(0), x.dtype.type(1)
    largest = x.dtype.type(np.finfo(x.dtype).max)
    by_first = x.itemsize == 4  # float32; float64 keeps the maximum (and PyTorch's bits)
    for i in range(x.shape[0]):
        # softmax(x) = e^{x - c} / Σ e^{x - c} for any shift c. The row's first entry is a
        # shift that needs no pass of its own: its term is 1, so s ≥ 1. Only when some
        # entry exceeds it by more than ~88 does the sum overflow (or an entry is inf/NaN):
        # then shift by the row maximum, as the textbook does. Two passes per row instead of
        # three (the maximum's pass, the one that read the row from memory, was ~40 %).
        c = x[i, 0] if by_first else row_max(x[i])
        for attempt in range(2):
            if attempt == 1:
                c = row_max(x[i])
            s = zero
            for j in range(x.shape[1]):
                e = fast_exp(x[i, j] - c)
                y[i, j] = e
                s += e
            if s <= largest:  # else inf or NaN: try again from the maximum
                break
        inv = one / s
        for j in range(x.shape[1]):
            y[i, j] *= inv


@rjit
def softmax_backward_kernel(start, end, y, gy, gx):
    y, gy, gx = y[start:end], gy[start:end], gx[start:end]
    zero = y.dtype.type(0)
    for i in range(y.shape[0]):
        dot = zero
        for j in range(y.shape[1]):
            dot += gy[i, j] * y[i, j]
        for j in range(y.shape[1]):
            gx[i, j] = y[i, j] * (gy[i, j] - dot)


@rjit
def log_softmax_forward_kernel(start, end, x, y):
    x, y = x[start:end], y[start:end]
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        m = row_max(x[i])
        s = zero
        for j in range(x.shape[1]):
            d = x[i, j] - m  # ≤ 0, so the shorter exp suffices
            e = fast_exp_nonpositive(d)
            if d != d:  # a NaN in the row must still reach s (that exp leaves NaN unspecified)
                e = d
            s += e
        # y = (x - m) - log s, not x - (m + log s): when |m| is large, m + log s rounds away
        # the small log s in float32 (512 + 0.693 keeps only ~4 digits of 0.693).
        log_s = math.log(s)
        for j in range(x.shape[1]):
            y[i, j] = exact_sub(exact_sub(x[i, j], m), log_s)


@rjit
def log_softmax_backward_kernel(start, end, y, gy, gx):
    y, gy, gx = y[start:end], gy[start:end], gx[start:end]
    zero, one = y.dtype.type(0), y.dtype.type(1)
    for i in range(y.shape[0]):
        s = zero
        for j in range(y.shape[1]):
            s += gy[i, j]
        # y holds log-probabilities, ≤ 0, for which the shorter exp suffices; entries above 0
        # (which the forward never gives) are counted in the same vectorised loop, and their
        # row is redone with the full exp
        above = zero
        for j in range(y.shape[1]):
            v = y[i, j]
            p = fast_exp_nonpositive(v)
            if v != v:  # NaN stays NaN (that exp leaves it unspecified)
                p = v
            gx[i, j] = gy[i, j] - p * s
            above += one if v > zero else zero
        if above > zero:
            for j in range(y.shape[1]):
                gx[i, j] = gy[i, j] - fast_exp(y[i, j]) * s


@float32_or_64(reference.softmax_forward)
def softmax_forward(x: np.ndarray) -> np.ndarray:
    """Fused softmax over the last axis; see :func:`reference.softmax_forward`."""
    x2 = _as_rows(x, x.dtype)
    y = np.empty_like(x2)
    parallel_ranges(softmax_forward_kernel, x2.shape[0], x2, y, work=x2.size)
    return y.reshape(x.shape)


@float32_or_64(reference.softmax_backward)
def softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = y * (gy - sum(gy * y)); see :func:`reference.softmax_backward`."""
    y2, gy2 = _as_rows(y, y.dtype), _as_rows(gy, y.dtype)
    gx = np.empty_like(y2)
    parallel_ranges(softmax_backward_kernel, y2.shape[0], y2, gy2, gx, work=y2.size)
    return gx.reshape(y.shape)


@float32_or_64(reference.log_softmax_forward)
def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """Fused log-softmax over the last axis; see :func:`reference.log_softmax_forward`."""
    x2 = _as_rows(x, x.dtype)
    y = np.empty_like(x2)
    parallel_ranges(log_softmax_forward_kernel, x2.shape[0], x2, y, work=x2.size)
    return y.reshape(x.shape)


@float32_or_64(reference.log_softmax_backward)
def log_softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """gx = gy - exp(y) * sum(gy); see :func:`reference.log_softmax_backward`."""
    y2, gy2 = _as_rows(y, y.dtype), _as_rows(gy, y.dtype)
    gx = np.empty_like(y2)
    parallel_ranges(log_softmax_backward_kernel, y2.shape[0], y2, gy2, gx, work=y2.size)
    return gx.reshape(y.shape)


# --------------------------------------------------------------------------------------------
# fused cross-entropy: no (N, V) probability matrix is ever stored by the forward pass
# --------------------------------------------------------------------------------------------


@rjit
def cross_entropy_forward_kernel(start, end, logits, target, ignore_index, loss, lse, out, scale):
    logits, target = logits[start:end], target[start:end]
    loss, lse = loss[start:end], lse[start:end]
    # out (N, V): empty: keep nothing; else filled with softmax(x) when scale == 0, or with
    # the gradient of scale·loss_i, (softmax(x) − onehot)·scale, when scale > 0
    keep = out.shape[0] > 0
    if keep:
        out = out[start:end]
    zero, one = logits.dtype.type(0), logits.dtype.type(1)
    largest = logits.dtype.type(np.finfo(logits.dtype).max)
    for i in range(logits.shape[0]):
        t = target[i]
        # log Σ_j e^{x_j} = c + log Σ_j e^{x_j - c} for any shift c. The target's own logit
        # is a shift we read anyway: then the sum's term j = t is 1 (so s ≥ 1, no underflow)
        # and loss = log s exactly. Only when some logit exceeds it by more than ~88 does the
        # sum overflow (or a logit is inf/NaN): then shift by the row maximum, as softmax
        # does. One pass over the row instead of two (the maximum was 13 of 30 µs at 768×65).
        c = logits[i, t] if t != ignore_index else logits[i, 0]
        for attempt in range(2):
            if attempt == 1:
                c = row_max(logits[i])
            s = zero
            if keep:
                for j in range(logits.shape[1]):
                    e = fast_exp(logits[i, j] - c)
                    out[i, j] = e
                    s += e
            else:
                for j in range(logits.shape[1]):
                    s += fast_exp(logits[i, j] - c)
            if s <= largest:  # else inf or NaN: try again from the maximum
                break
        log_s = math.log(s)
        lse[i] = c + log_s
        if keep:  # while the row is still in cache: p = e / s, then p or (p − onehot)·scale
            inv = one / s
            if scale == zero:
                for j in range(logits.shape[1]):
                    out[i, j] *= inv
            elif t == ignore_index:
                for j in range(logits.shape[1]):
                    out[i, j] = zero
            else:  # the backward kernel's roundings, in its order: (p·scale) − scale
                for j in range(logits.shape[1]):
                    out[i, j] = exact_mul(out[i, j] * inv, scale)
                out[i, t] = exact_sub(out[i, t], scale)
        if t == ignore_index:
            loss[i] = 0
        else:
            # log s - (logit_t - c) keeps full precision for large logits (see log-softmax)
            loss[i] = exact_sub(log_s, exact_sub(logits[i, t], c))


@rjit
def cross_entropy_backward_kernel(
    start, end, logits, target, lse, grad_rows, ignore_index, probs, dlogits
):
    logits, target, lse = logits[start:end], target[start:end], lse[start:end]
    grad_rows, dlogits = grad_rows[start:end], dlogits[start:end]
    kept = probs.shape[0] > 0
    if kept:
        probs = probs[start:end]
    for i in range(logits.shape[0]):
        t = target[i]
        if t == ignore_index:
            for j in range(logits.shape[1]):
                dlogits[i, j] = 0
            continue
        g = grad_rows[i]
        if kept:  # the forward's softmax
            for j in range(logits.shape[1]):
                dlogits[i, j] = probs[i, j] * g
        else:  # softmax recomputed from the saved lse: p_j = exp(logit_j - lse)
            for j in range(logits.shape[1]):
                dlogits[i, j] = fast_exp(logits[i, j] - lse[i]) * g
        dlogits[i, t] -= g


@sjit
def _first_bad_target(target, n_classes, ignore_index):
    # one pass, no temporaries (NumPy's mask took five passes and ~10 µs at N = 768)
    for i in range(target.shape[0]):
        t = target[i]
        if (t < 0 or t >= n_classes) and t != ignore_index:
            return i
    return -1


def _check_targets(target: np.ndarray, n_classes: int, ignore_index: int) -> None:
    """The kernels index logits[i, t_i] without bounds checks: a bad target stops here."""
    i = _first_bad_target(target, n_classes, ignore_index)
    if i >= 0:
        raise IndexError(f"target {target[i]} out of range for {n_classes} classes")


def _probs_arg(probs: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """The kernels' ``probs`` (or ``dlogits``) argument: the (N, V) buffer, or an empty one
    for "none"."""
    if probs is None:
        return np.empty((0, 0), dtype=like.dtype)
    if probs.shape != like.shape or probs.dtype != like.dtype or not probs.flags.c_contiguous:
        raise ValueError(f"probs and dlogits must be C-contiguous {like.shape} {like.dtype}")
    return probs


@float32_or_64(reference.cross_entropy_forward)
def cross_entropy_forward(
    logits: np.ndarray,
    target: np.ndarray,
    ignore_index: int = -100,
    probs: np.ndarray | None = None,
    dlogits: np.ndarray | None = None,
    grad_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """loss_i = lse_i - logits[i, t_i]; see :func:`reference.cross_entropy_forward`."""
    logits2 = kernel_input(logits, logits.dtype)
    target2 = kernel_input(target, np.int64)
    _check_targets(target2, logits2.shape[1], ignore_index)
    if probs is not None and dlogits is not None:
        raise ValueError("cross_entropy_forward: pass probs or dlogits, not both")
    scale = logits2.dtype.type(0)  # the kernel's flag: 0 keeps softmax(x) in ``out``
    if dlogits is not None:
        scale = logits2.dtype.type(grad_scale)
        if not scale > 0:
            raise ValueError(f"cross_entropy_forward: grad_scale must be > 0, got {grad_scale}")
    loss = np.empty(logits2.shape[0], dtype=logits2.dtype)
    lse = np.empty_like(loss)
    n, out = logits2.shape[0], _probs_arg(probs if dlogits is None else dlogits, logits2)
    kernel = cross_entropy_forward_kernel
    parallel_ranges(
        kernel, n, logits2, target2, ignore_index, loss, lse, out, scale, work=logits2.size
    )
    return loss, lse


@float32_or_64(reference.cross_entropy_backward)
def cross_entropy_backward(
    logits: np.ndarray,
    target: np.ndarray,
    lse: np.ndarray,
    grad_rows: np.ndarray,
    ignore_index: int = -100,
    probs: np.ndarray | None = None,
) -> np.ndarray:
    """dlogits = (softmax - onehot) * grad_rows; see :func:`reference.cross_entropy_backward`."""
    logits2 = kernel_input(logits, logits.dtype)
    target2 = kernel_input(target, np.int64)
    _check_targets(target2, logits2.shape[1], ignore_index)
    lse2, grad2 = (kernel_input(a, logits2.dtype) for a in (lse, grad_rows))
    p = _probs_arg(None if probs is None else kernel_input(probs, logits2.dtype), logits2)
    d = np.empty_like(logits2)
    kernel, n = cross_entropy_backward_kernel, logits2.shape[0]
    parallel_ranges(kernel, n, logits2, target2, lse2, grad2, ignore_index, p, d, work=d.size)
    return d


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


@rjit
def layer_norm_forward_kernel(start, end, x, weight, bias, eps, y, mean, rstd):
    x, y, mean, rstd = x[start:end], y[start:end], mean[start:end], rstd[start:end]
    c = x.shape[1]
    zero, one, inv_c = x.dtype.type(0), x.dtype.type(1), x.dtype.type(1 / c)
    for i in range(x.shape[0]):
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


@rjit
def layer_norm_backward_kernel(
    start, end, gy, x, weight, mean, rstd, rows_per_chunk, gx, gw_part, gb_part
):
    n, c = x.shape
    zero, inv_c = x.dtype.type(0), x.dtype.type(1 / c)
    # gweight/gbias are sums over rows: each chunk of rows owns one row of partial sums, so
    # threads never write to the same memory; the partials are added up afterwards. A call
    # does chunks start:end.
    for chunk in range(start, end):
        lo, hi = chunk * rows_per_chunk, min(n, (chunk + 1) * rows_per_chunk)
        xc, gyc, gxc, mc, rc = x[lo:hi], gy[lo:hi], gx[lo:hi], mean[lo:hi], rstd[lo:hi]
        gw, gb = gw_part[chunk], gb_part[chunk]
        for j in range(c):
            gw[j] = zero
            gb[j] = zero
        for i in range(xc.shape[0]):
            mu, r = mc[i], rc[i]
            sum_g = zero
            sum_gxhat = zero
            for j in range(c):  # only sums: a loop LLVM vectorises well
                xhat = (xc[i, j] - mu) * r
                g = gyc[i, j] * weight[j]
                sum_g += g
                sum_gxhat += g * xhat
            mean_g, mean_gxhat = sum_g * inv_c, sum_gxhat * inv_c
            # every store in the second pass (gw, gb beside gx: ~12 % faster than in the first)
            for j in range(c):
                xhat = (xc[i, j] - mu) * r
                gyij = gyc[i, j]
                gxc[i, j] = r * (gyij * weight[j] - mean_g - xhat * mean_gxhat)
                gw[j] += gyij * xhat
                gb[j] += gyij


@sjit
def _sum_parts(parts):
    """(2, chunks, C) partial sums → (2, C): the chunks added in order, as NumPy's
    ``parts.sum(axis=1)`` adds them, in one compiled call instead of its ~2 µs."""
    out = np.zeros((parts.shape[0], parts.shape[2]), dtype=parts.dtype)
    for k in range(parts.shape[0]):
        for chunk in range(parts.shape[1]):
            for j in range(parts.shape[2]):
                out[k, j] += parts[k, chunk, j]
    return out


@float32_or_64(reference.layer_norm_forward)
def layer_norm_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused LayerNorm forward; see :func:`reference.layer_norm_forward`."""
    dt = x.dtype
    x2 = _as_rows(x, dt)
    w, b = kernel_input(weight, dt), kernel_input(bias, dt)
    n = x2.shape[0]
    y, mean, rstd = np.empty_like(x2), np.empty(n, dtype=dt), np.empty(n, dtype=dt)
    kernel = layer_norm_forward_kernel
    parallel_ranges(kernel, n, x2, w, b, dt.type(eps), y, mean, rstd, work=x2.size)
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


@float32_or_64(reference.layer_norm_backward, dtype_arg=1)  # the dtype of x, not of gy
def layer_norm_backward(
    gy: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray, rstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused LayerNorm backward; see :func:`reference.layer_norm_backward`."""
    dt = x.dtype  # the op's dtype (gy may arrive in another)
    x2, gy2 = _as_rows(x, dt), _as_rows(gy, dt)
    n, c = x2.shape
    n_chunks = max(1, min(n, 32))  # fixed count: the result does not depend on the thread count
    rows_per_chunk = -(-n // n_chunks)
    gx = np.empty_like(x2)
    parts = np.empty((2, n_chunks, c), dtype=dt)  # gweight's and gbias's partial sums
    gw_part, gb_part = parts
    parallel_ranges(
        layer_norm_backward_kernel,
        n_chunks,
        gy2,
        x2,
        kernel_input(weight, dt),
        kernel_input(mean, dt).reshape(-1),
        kernel_input(rstd, dt).reshape(-1),
        rows_per_chunk,
        gx,
        gw_part,
        gb_part,
        work=x2.size,
    )
    gw, gb = _sum_parts(parts)
    return gx.reshape(x.shape), gw, gb
