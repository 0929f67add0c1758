"""int8 weight-only linear layer for inference: y = x Ŵᵀ + b with Ŵ = scale[:, None] · q.

Implements (same name, signature and result up to rounding) ``kernels/reference.py``:
int8_linear.

The weight stays int8 in memory (a quarter of float32's bytes, which is what generation
streams through for every token); the kernel converts each int8 entry to float in a register
as it multiplies, and since the scale is per output channel it multiplies the finished dot
product once: y[i, n] = scale[n] · Σ_k x[i, k] q[n, k] + b[n]. No float copy of the weight is
ever made. ``parallel.parallel_ranges`` shares the output channels n among tinylm's threads
(generation has one row of x, so the rows cannot be shared).

Many rows at once (a prompt's prefill, scoring) are a matrix product, where the blocked BLAS
routine is about twice as fast as this dot-product loop (it reuses each loaded weight for
many rows from registers). There the weight is dequantised one tile of output channels at a
time into a float scratch of at most ``TILE_FLOATS`` entries (256 KiB in float32, about what
a core's L2 cache holds; never the whole weight of a large layer) and each tile is one BLAS
product. Few large tiles matter: each BLAS call has a fixed cost, and 64-channel tiles made
a 128-row product 1.3x slower than float32's single call, 512-channel ones 1.05x.
"""

from __future__ import annotations

import numpy as np

from .. import reference
from ..parallel import note_blas_product, parallel_ranges
from ..policy import SMALL_WORK
from .jit import rjit
from .threads import float32_or_64, kernel_input

__all__ = [
    "BLAS_MIN_ROWS",
    "TILE_FLOATS",
    "dequantize_kernel",
    "int8_linear",
    "int8_linear_kernel",
    "int8_linear_rows",
    "tile_rows",
]


@rjit
def int8_linear_kernel(start, end, x, q, scale, bias, y):
    # x (M, K) float, q (N, K) int8, scale (N,), bias (N,), y (M, N): output channels start:end
    q, scale, bias = q[start:end], scale[start:end], bias[start:end]
    f = x.dtype.type
    zero = f(0)
    m, k_size = x.shape
    n_q = q.shape[0]
    n = 0
    while n + 4 <= n_q:  # four output channels at once: each x[i, k] loaded feeds four sums
        for i in range(m):  # rows n … n+3 of q stay in L1 while every row of x passes by
            a0 = a1 = a2 = a3 = zero
            for k in range(k_size):  # int8 → float in a register; LLVM vectorises the loop
                xk = x[i, k]
                a0 += xk * f(q[n, k])
                a1 += xk * f(q[n + 1, k])
                a2 += xk * f(q[n + 2, k])
                a3 += xk * f(q[n + 3, k])
            y[i, start + n] = scale[n] * a0 + bias[n]
            y[i, start + n + 1] = scale[n + 1] * a1 + bias[n + 1]
            y[i, start + n + 2] = scale[n + 2] * a2 + bias[n + 2]
            y[i, start + n + 3] = scale[n + 3] * a3 + bias[n + 3]
        n += 4
    for r in range(n, n_q):  # the last channels, one at a time
        for i in range(m):
            acc = zero
            for k in range(k_size):
                acc += x[i, k] * f(q[r, k])
            y[i, start + r] = scale[r] * acc + bias[r]


@rjit
def int8_linear_rows(x, q, scale, bias):
    # the whole product on the calling thread, y allocated here: one compiled call with four
    # arguments costs ~3 µs less than the Python around the kernel (a decode step runs 17)
    y = np.empty((x.shape[0], q.shape[0]), x.dtype)
    # np.intp(0), not 0: a literal 0 would compile the kernel once more (as in decode.py)
    int8_linear_kernel(np.intp(0), q.shape[0], x, q, scale, bias, y)
    return y


@rjit
def dequantize_kernel(q, scale, w):
    # w (n, K) = scale[:, None] · q (n, K) in one vectorised pass (NumPy's astype then
    # multiply took 10x as long: two passes, and a temporary)
    for n in range(q.shape[0]):
        s = scale[n]
        for k in range(q.shape[1]):
            w[n, k] = s * q[n, k]


#: rows of x from which the product runs on dequantised tiles through BLAS (see the top)
BLAS_MIN_ROWS = 16
#: entries of the float scratch a tile of the weight is dequantised into on that path
TILE_FLOATS = 65536


def tile_rows(k: int) -> int:
    """Output channels per dequantised tile for an input width ``k`` (≥ 16)."""
    return max(16, TILE_FLOATS // k)


def _tiles_through_blas(x2, q, scale, bias):
    """y (M, N) = x2 (M, K) @ (scale[:, None] · q)ᵀ + bias, one tile of channels at a time."""
    n_out, k = q.shape
    y = np.empty((x2.shape[0], n_out), dtype=x2.dtype)
    w = np.empty((min(tile_rows(k), n_out), k), dtype=x2.dtype)  # the only float copy
    for n0 in range(0, n_out, w.shape[0]):
        n1 = min(n0 + w.shape[0], n_out)
        dequantize_kernel(q[n0:n1], scale[n0:n1], w[: n1 - n0])
        np.matmul(x2, w[: n1 - n0].T, out=y[:, n0:n1])
    note_blas_product()  # BLAS's threads spin for a while now, as after a float Linear
    y += bias
    return y


@float32_or_64(reference.int8_linear)
def int8_linear(
    x: np.ndarray, qweight: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """x (..., K) @ dequant(qweight (N, K) int8, scale (N,))ᵀ + bias (N,) → (..., N);
    see :func:`reference.int8_linear`."""
    n_out, k = qweight.shape
    x2 = kernel_input(x, x.dtype).reshape(-1, k)
    q = kernel_input(qweight, np.int8)
    s = kernel_input(scale, x.dtype)
    b = np.zeros(n_out, x.dtype) if bias is None else kernel_input(bias, x.dtype)
    out_shape = (*x.shape[:-1], n_out)
    if x2.shape[0] >= BLAS_MIN_ROWS:
        return _tiles_through_blas(x2, q, s, b).reshape(out_shape)
    # a vectorised multiply-add costs far less than an element of a row-wise kernel (an exp):
    # 16 of them count as one unit of work. Generation (one row) of a 128 × 512 layer then stays
    # on one thread: 12 µs there, 35 µs with a second one woken (measured under load)
    work = x2.shape[0] * n_out * k // 16
    if work < SMALL_WORK:  # what parallel_ranges would decide, without its ~0.6 µs per call
        return int8_linear_rows(x2, q, s, b).reshape(out_shape)
    y = np.empty((x2.shape[0], n_out), dtype=x.dtype)
    parallel_ranges(int8_linear_kernel, n_out, x2, q, s, b, y, work=work)
    return y.reshape(out_shape)
