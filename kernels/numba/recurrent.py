"""The LSTM cell's element-wise part as Numba kernels, forward and backward.

Implements (same names, signatures and results up to rounding) ``kernels/reference.py``:
lstm_cell_forward/lstm_cell_backward. The matrix products of a step (x W_ihᵀ, h W_hhᵀ) are
not here: they are BLAS calls of the autograd op; what is fused is everything between them,
which NumPy would run as about fifteen passes over (B, 4H) arrays.

Each op is a kernel of a range of rows, ``<op>_kernel(start, end, ...)`` (public so that
lessons can print it), taking one row at a time through 1-D views, with short loops over its
columns that LLVM vectorises;
``parallel.parallel_ranges`` runs it on tinylm's threads, a range of rows each (an LSTM of
batch 32 and hidden size 128 is 4096 elements a step: one thread, see ``policy.SMALL_WORK``).
"""

from __future__ import annotations

import numpy as np

from .. import reference
from ..parallel import parallel_ranges
from .jit import fast_exp, rjit
from .threads import float32_or_64, kernel_input

__all__ = [
    "lstm_cell_backward",
    "lstm_cell_backward_kernel",
    "lstm_cell_forward",
    "lstm_cell_forward_kernel",
]

# σ(x) = 1 / (1 + exp(-x)) and tanh(x) = 2 σ(2x) - 1: one fast_exp each, so the loops
# vectorise (libm's tanh is a call per element). exp overflowing to inf gives the right limits
# (σ -> 0, tanh -> -1), and exp -> 0 gives σ -> 1, tanh -> 1.


@rjit
def lstm_cell_forward_kernel(start, end, gates, c_prev, h, c, act):
    hs = c_prev.shape[1]
    one, two = gates.dtype.type(1), gates.dtype.type(2)
    for r in range(start, end):
        # one row at a time through 1-D views, a short loop per gate block: loops LLVM
        # vectorises (one loop indexing five 2-D arrays ran 4x slower)
        z, a = gates[r], act[r]
        for j in range(2 * hs):  # i, f: σ(z) = 1 / (1 + e^(-z))
            a[j] = one / (one + fast_exp(-z[j]))
        for j in range(2 * hs, 3 * hs):  # g: tanh(z) = 2σ(2z) - 1
            a[j] = two / (one + fast_exp(-two * z[j])) - one
        for j in range(3 * hs, 4 * hs):  # o
            a[j] = one / (one + fast_exp(-z[j]))
        cp, cr, hr = c_prev[r], c[r], h[r]
        for j in range(hs):
            cj = a[hs + j] * cp[j] + a[j] * a[2 * hs + j]  # c = f ⊙ c_prev + i ⊙ g
            cr[j] = cj
            hr[j] = a[3 * hs + j] * (two / (one + fast_exp(-two * cj)) - one)  # h = o ⊙ tanh c


@rjit
def lstm_cell_backward_kernel(start, end, act, c_prev, c, dh, dc, dgates, dc_prev):
    hs = c_prev.shape[1]
    one, two = act.dtype.type(1), act.dtype.type(2)
    for r in range(start, end):
        a, d, cp, cr = act[r], dgates[r], c_prev[r], c[r]
        dhr, dcr, dcp = dh[r], dc[r], dc_prev[r]
        for j in range(hs):
            i, f, g, o = a[j], a[hs + j], a[2 * hs + j], a[3 * hs + j]
            t = two / (one + fast_exp(-two * cr[j])) - one  # tanh c
            dct = dcr[j] + dhr[j] * o * (one - t * t)  # all of dL/dc_t
            d[j] = dct * g * i * (one - i)
            d[hs + j] = dct * cp[j] * f * (one - f)
            d[2 * hs + j] = dct * i * (one - g * g)
            d[3 * hs + j] = dhr[j] * t * o * (one - o)
            dcp[j] = dct * f


def _as_rows(a: np.ndarray, dtype, width: int) -> np.ndarray:
    """``a`` (..., width) as the contiguous (rows, width) array in ``dtype`` a kernel reads."""
    return kernel_input(a, dtype).reshape(-1, width)


@float32_or_64(reference.lstm_cell_forward)
def lstm_cell_forward(gates: np.ndarray, c_prev: np.ndarray) -> tuple[np.ndarray, ...]:
    """h, c (..., H) and act (..., 4H) from gates (..., 4H), c_prev (..., H); see
    :func:`reference.lstm_cell_forward`."""
    hs = reference.lstm_hidden_size(gates, c_prev)
    g2, c2 = _as_rows(gates, gates.dtype, 4 * hs), _as_rows(c_prev, gates.dtype, hs)
    h, c, act = np.empty_like(c2), np.empty_like(c2), np.empty_like(g2)
    parallel_ranges(lstm_cell_forward_kernel, g2.shape[0], g2, c2, h, c, act, work=g2.size)
    shape = c_prev.shape
    return h.reshape(shape), c.reshape(shape), act.reshape(gates.shape)


@float32_or_64(reference.lstm_cell_backward)
def lstm_cell_backward(
    act: np.ndarray, c_prev: np.ndarray, c: np.ndarray, dh: np.ndarray, dc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """dgates (..., 4H), dc_prev (..., H); see :func:`reference.lstm_cell_backward`."""
    hs = reference.lstm_hidden_size(act, c_prev)
    for name, a in (("c", c), ("dh", dh), ("dc", dc)):
        if a.shape != c_prev.shape:
            raise ValueError(
                f"lstm_cell_backward: {name} must have c_prev's shape {c_prev.shape}, got {a.shape}"
            )
    a2 = _as_rows(act, act.dtype, 4 * hs)
    rest = [_as_rows(a, act.dtype, hs) for a in (c_prev, c, dh, dc)]
    dgates, dc_prev = np.empty_like(a2), np.empty_like(rest[0])
    parallel_ranges(
        lstm_cell_backward_kernel, a2.shape[0], a2, *rest, dgates, dc_prev, work=a2.size
    )
    return dgates.reshape(act.shape), dc_prev.reshape(c_prev.shape)
