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
from ..parallel import note_blas_product, parallel_ranges
from .jit import fast_exp, rjit
from .threads import float32_or_64, kernel_input

__all__ = [
    "lstm_cell_backward",
    "lstm_cell_backward_kernel",
    "lstm_cell_forward",
    "lstm_cell_forward_kernel",
    "lstm_recurrence_backward",
    "lstm_recurrence_forward",
    "lstm_step_backward_kernel",
    "lstm_step_forward_kernel",
]

# σ(x) = 1 / (1 + exp(-x)) and tanh(x) = 2 σ(2x) - 1: one fast_exp each, so the loops
# vectorise (libm's tanh is a call per element). exp overflowing to inf gives the right limits
# (σ -> 0, tanh -> -1), and exp -> 0 gives σ -> 1, tanh -> 1.


@rjit
def _cell_forward_row(z, a, cp, cr, hr):
    """One row of the cell: the activated gates a = [i, f, g, o] (4H) from the pre-activations
    ``z`` (4H), c = f ⊙ c_prev + i ⊙ g into ``cr`` and h = o ⊙ tanh(c) into ``hr``.

    One loop over the H hidden units that computes unit j's four gates, c and h together:
    LLVM vectorises it, and it was faster than one loop over all 4H gates picking σ or tanh
    by index, or one loop per gate block (same bits; figures in kernels/README.md,
    "Measured"). z and a are separate arrays (updating z in place was slower)."""
    hs = cp.shape[0]
    one, two = a.dtype.type(1), a.dtype.type(2)
    for j in range(hs):
        i = one / (one + fast_exp(-z[j]))  # σ
        f = one / (one + fast_exp(-z[hs + j]))
        g = two / (one + fast_exp(-two * z[2 * hs + j])) - one  # tanh(x) = 2σ(2x) − 1
        o = one / (one + fast_exp(-z[3 * hs + j]))
        a[j], a[hs + j], a[2 * hs + j], a[3 * hs + j] = i, f, g, o
        cj = f * cp[j] + i * g  # c = f ⊙ c_prev + i ⊙ g
        cr[j] = cj
        hr[j] = o * (two / (one + fast_exp(-two * cj)) - one)  # h = o ⊙ tanh c


@rjit
def _cell_backward_row(a, cp, cr, dhr, dcr, d, dcp):
    """One row of the cell's backward: d (4H) = [di, df, dg, do] and dc_prev from the
    activated gates ``a``, c_prev, c and the gradients dh, dc arriving at h and c."""
    hs = cp.shape[0]
    one, two = a.dtype.type(1), a.dtype.type(2)
    for j in range(hs):
        i, f, g, o = a[j], a[hs + j], a[2 * hs + j], a[3 * hs + j]
        t = two / (one + fast_exp(-two * cr[j])) - one  # tanh c
        dct = dcr[j] + dhr[j] * o * (one - t * t)  # all of dL/dc_t
        d[j] = dct * g * i * (one - i)
        d[hs + j] = dct * cp[j] * f * (one - f)
        d[2 * hs + j] = dct * i * (one - g * g)
        d[3 * hs + j] = dhr[j] * t * o * (one - o)
        dcp[j] = dct * f


@rjit
def _copy(src, dst):
    """dst[:] = src for two rows of one length. Written as a loop: Numba's ``dst[:] = src``
    checks the shapes with an error message whose string code cost ~0.7 s of first compile."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@rjit
def lstm_cell_forward_kernel(start, end, gates, c_prev, h, c, act):
    for r in range(start, end):
        _cell_forward_row(gates[r], act[r], c_prev[r], c[r], h[r])


@rjit
def lstm_cell_backward_kernel(start, end, act, c_prev, c, dh, dc, dgates, dc_prev):
    for r in range(start, end):
        _cell_backward_row(act[r], c_prev[r], c[r], dh[r], dc[r], dgates[r], dc_prev[r])


@rjit
def lstm_step_forward_kernel(start, end, hw, x, keep, h_prev, c_prev, act, h, c, out):
    """Rows [start, end) of one recurrence step: gates = hw + x (hw = h_prev W_hhᵀ from BLAS,
    overwritten with the gates;
    x = the step's input projection), then the cell; where keep[r] is False (padding) the
    state is carried unchanged and the output is 0."""
    zero = act.dtype.type(0)
    for r in range(start, end):
        a, hr, outr = act[r], h[r], out[r]
        if not keep[r]:
            a[:] = zero
            _copy(h_prev[r], hr)
            _copy(c_prev[r], c[r])
            outr[:] = zero
            continue
        z, xr = hw[r], x[r]
        for j in range(z.shape[0]):
            z[j] += xr[j]  # hw is the caller's work buffer: the gates' sum is made in place
        _cell_forward_row(z, a, c_prev[r], c[r], hr)
        _copy(hr, outr)


@rjit
def lstm_step_backward_kernel(start, end, act, c_prev, c, dh, g, dc, keep, dgates, dc_prev):
    """Rows [start, end) of one step of backpropagation through time: the cell's backward at
    dh + g (the output's gradient) and dc; padding rows pass dc back unchanged, with zero
    gate gradients (their dh is passed back by the caller, after the matrix product)."""
    zero = act.dtype.type(0)
    for r in range(start, end):
        if not keep[r]:
            dgates[r][:] = zero
            _copy(dc[r], dc_prev[r])
            continue
        dhr = dh[r]
        gr = g[r]
        for j in range(dhr.shape[0]):
            dhr[j] += gr[j]  # dh is the caller's work buffer: the sum is kept in place
        _cell_backward_row(act[r], c_prev[r], c[r], dhr, dc[r], dgates[r], dc_prev[r])


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


@float32_or_64(reference.lstm_recurrence_forward)
def lstm_recurrence_forward(
    xproj: np.ndarray, w_hh: np.ndarray, h0: np.ndarray, c0: np.ndarray, mask=None
) -> tuple[np.ndarray, ...]:
    """out (T + 2, B, H), act (T, B, 4H), states_h, states_c (T + 1, B, H); see
    :func:`reference.lstm_recurrence_forward`. Per step one BLAS product (h W_hhᵀ into a
    reused buffer) and one fused kernel (:func:`lstm_step_forward_kernel`): two calls from
    Python per step instead of a dozen NumPy passes."""
    dt = xproj.dtype
    steps, batch, four_h = xproj.shape
    hs = four_h // 4
    xproj = kernel_input(xproj, dt)
    w_t = np.array(w_hh.T, dtype=dt, order="C")  # BLAS reads a contiguous Wᵀ ~1.5x faster
    keep = _keep(mask, steps, batch)
    out = np.empty((steps + 2, batch, hs), dtype=dt)
    act = np.empty((steps, batch, four_h), dtype=dt)
    states_h = np.empty((steps + 1, batch, hs), dtype=dt)
    states_c = np.empty((steps + 1, batch, hs), dtype=dt)
    states_h[0], states_c[0] = h0, c0
    hw = np.empty((batch, four_h), dtype=dt)
    active = reference.lstm_active_steps(mask, steps)
    for t in range(active):
        np.matmul(states_h[t], w_t, out=hw)
        note_blas_product()  # BLAS's threads spin now: a large step kernel stays on this thread
        parallel_ranges(
            lstm_step_forward_kernel, batch, hw, xproj[t], keep[t], states_h[t], states_c[t],
            act[t], states_h[t + 1], states_c[t + 1], out[t], work=hw.size,
        )  # fmt: skip
    out[active:steps], act[active:] = 0, 0
    states_h[active + 1 :], states_c[active + 1 :] = states_h[active], states_c[active]
    out[steps], out[steps + 1] = states_h[steps], states_c[steps]
    return out, act, states_h, states_c


@float32_or_64(reference.lstm_recurrence_backward, dtype_arg=1)
def lstm_recurrence_backward(
    g: np.ndarray,
    act: np.ndarray,
    states_h: np.ndarray,
    states_c: np.ndarray,
    w_hh: np.ndarray,
    mask=None,
) -> tuple[np.ndarray, ...]:
    """dxproj (T, B, 4H), dw_hh (4H, H), dh0, dc0 (B, H); see
    :func:`reference.lstm_recurrence_backward`. Per step one fused kernel
    (:func:`lstm_step_backward_kernel`) and one BLAS product (d gates W_hh); dW_hh is one
    product over all steps at the end."""
    dt = act.dtype
    steps, batch, four_h = act.shape
    g = kernel_input(g, dt)
    act, states_h, states_c = (kernel_input(a, dt) for a in (act, states_h, states_c))
    w = kernel_input(w_hh, dt)
    keep = _keep(mask, steps, batch)
    active = reference.lstm_active_steps(mask, steps)
    dxproj = np.empty_like(act)
    dxproj[active:] = 0  # skipped padding: no gradient reaches those steps' gates
    dh, dc = g[steps].copy(), g[steps + 1].copy()  # reaching the state after the last step
    dh_prev, dc_prev = np.empty_like(dh), np.empty_like(dc)
    for t in range(active - 1, -1, -1):
        carry = None if mask is None else ~keep[t]
        if carry is not None:
            dh_carry = dh[carry]  # padding rows pass dh back unchanged (before the kernel adds g)
        parallel_ranges(
            lstm_step_backward_kernel, batch, act[t], states_c[t], states_c[t + 1], dh, g[t],
            dc, keep[t], dxproj[t], dc_prev, work=act[t].size,
        )  # fmt: skip
        np.matmul(dxproj[t], w, out=dh_prev)
        note_blas_product()
        if carry is not None:
            dh_prev[carry] = dh_carry
        dh, dh_prev = dh_prev, dh  # the buffers swap roles: no allocation per step
        dc, dc_prev = dc_prev, dc
    dw_hh = dxproj.reshape(-1, four_h).T @ states_h[:steps].reshape(steps * batch, -1)
    return dxproj, dw_hh, dh, dc


def _keep(mask, steps: int, batch: int) -> np.ndarray:
    """The (T, B) bool array of real steps the kernels read: all True without a mask."""
    if mask is None:
        return np.ones((steps, batch), dtype=np.bool_)
    return np.ascontiguousarray(mask, dtype=np.bool_)
