"""The LSTM cell's element-wise part as Numba kernels, forward and backward.

Implements (same names, signatures and results up to rounding) ``kernels/reference.py``:
lstm_cell_forward/lstm_cell_backward. The matrix products of a step (x W_ihᵀ, h W_hhᵀ) are
not here: they are BLAS calls of the autograd op; what is fused is everything between them,
which NumPy would run as about fifteen passes over (B, 4H) arrays.

Each op is a kernel of a range of rows, ``<op>_kernel(start, end, ...)`` (public so that
lessons can print it), with one flat loop over the H columns of a row that LLVM vectorises;
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
    gates, c_prev, h, c, act = (
        gates[start:end], c_prev[start:end], h[start:end], c[start:end], act[start:end]
    )  # fmt: skip
    hs = c_prev.shape[1]
    one, two = gates.dtype.type(1), gates.dtype.type(2)
    minus_one, minus_two = gates.dtype.type(-1), gates.dtype.type(-2)
    for r in range(gates.shape[0]):
        for j in range(hs):
            i = one / (one + fast_exp(minus_one * gates[r, j]))
            f = one / (one + fast_exp(minus_one * gates[r, hs + j]))
            g = two / (one + fast_exp(minus_two * gates[r, 2 * hs + j])) - one
            o = one / (one + fast_exp(minus_one * gates[r, 3 * hs + j]))
            cj = f * c_prev[r, j] + i * g
            c[r, j] = cj
            h[r, j] = o * (two / (one + fast_exp(minus_two * cj)) - one)
            act[r, j] = i
            act[r, hs + j] = f
            act[r, 2 * hs + j] = g
            act[r, 3 * hs + j] = o


@rjit
def lstm_cell_backward_kernel(start, end, act, c_prev, c, dh, dc, dgates, dc_prev):
    act, c_prev, c = act[start:end], c_prev[start:end], c[start:end]
    dh, dc, dgates, dc_prev = dh[start:end], dc[start:end], dgates[start:end], dc_prev[start:end]
    hs = c_prev.shape[1]
    one, two, minus_two = act.dtype.type(1), act.dtype.type(2), act.dtype.type(-2)
    for r in range(act.shape[0]):
        for j in range(hs):
            i, f = act[r, j], act[r, hs + j]
            g, o = act[r, 2 * hs + j], act[r, 3 * hs + j]
            t = two / (one + fast_exp(minus_two * c[r, j])) - one
            dhj = dh[r, j]
            dct = dc[r, j] + dhj * o * (one - t * t)
            dgates[r, j] = dct * g * i * (one - i)
            dgates[r, hs + j] = dct * c_prev[r, j] * f * (one - f)
            dgates[r, 2 * hs + j] = dct * i * (one - g * g)
            dgates[r, 3 * hs + j] = dhj * t * o * (one - o)
            dc_prev[r, j] = dct * f


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
