"""Attention on the CPU with Numba: blocked per (head, block of queries), threads over heads.

Implements (same names, signatures and results up to rounding) ``kernels/reference.py``:
attention_forward/attention_backward, for q, k, v (B, H, T, D) in any layout (strided views
of a packed projection are read in place) and ``out=`` / ``grads=`` destinations that may be
views too. The forward optionally keeps P in ``probs=`` for the backward (the policy of when
to ask for it is ``kernels/policy.py``).

One job is one (batch, head); every Numba thread runs the same compiled job function and takes
jobs from a shared counter (``parallel.on_all_threads``). Design notes and measured figures:
``kernels/README.md``.

When the forward keeps P and the sequence is short (``policy.attention_keeps_probs``,
``policy.ATTENTION_BLAS_MAX_SCORES``), P is a whole
(B, H, Tq, Tk) array anyway, so both passes are NumPy's batched matrix products (BLAS, reading
the strided heads in place) around two fused row kernels: the scaled, masked softmax with its
log-sum-exp, and its backward ``gS = scale · P ⊙ (gP − rowsum(gO ⊙ O))``. Both work on the
transposes (Sᵀ = K Qᵀ, Pᵀ, gPᵀ), whose rows run along the queries: each query's softmax is
then a column, and the kernels' loops run over full rows whatever the causal mask
(``attention_probs_kernel`` has the figures); ``policy.attention_probs_array`` lays P's buffer
out so that Pᵀ is contiguous. At a GPT's T = 64 the BLAS path is 1.3x (forward) and 1.8x
(backward) faster than the blocked kernels' own products.
There, a causal P is cut in two at T/2 so that the products skip its zero block (a quarter
of their work), and the right operands Qᵀ and gOᵀ are multiplied as contiguous copies, not
transposed views. Heads that small are one BLAS thread's product each, so when no earlier
product has left BLAS's threads spinning the heads are shared out between tinylm's threads
(same bits): 0.96 → 0.65 ms on a Zen 5 VM, where PyTorch's flash kernel takes 0.70 ms.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import njit, types

from .. import reference
from ..parallel import blas_threads_awake, note_blas_product, on_all_threads, parallel_ranges
from ..policy import (
    ATTENTION_BLAS_MAX_SCORES,
    BLAS_SERIAL_PRODUCT,
    LARGE_ATTENTION_WORK,
    LARGE_WORK,
    SMALL_ATTENTION_WORK,
)
from .jit import FASTMATH, fast_exp, rjit, row_max, sjit, take_job
from .threads import float32_or_64, kernel_input

__all__ = [
    "BLOCK_Q",
    "DECODE_MAX_Q",
    "attention_backward",
    "attention_forward",
    "attention_probs_backward_kernel",
    "attention_probs_kernel",
]


# --------------------------------------------------------------------------------------------
# attention: blocked per (head, block of queries), everything for one head stays in cache
# --------------------------------------------------------------------------------------------
# For each head and each block of BLOCK_Q query rows, the scores S = Q_blk K^T against the
# keys that block can see (causal: keys < end of the block) fit in L2 together with K and V,
# so the three-pass softmax and both products run on cached data; nothing (T, T) is stored.
# The products are written as a register-blocked loop (below) that LLVM vectorises.

BLOCK_Q = 32


@sjit
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


@sjit
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


@sjit
def _padded_length(n):
    """A row length >= n for scratch arrays whose rows hold n keys, chosen so that rows do not
    start exactly 4 KiB apart (a multiple of 16 elements but not of 32). With n = 1024 float32
    keys, rows 4096 bytes apart all fall into the same few sets of the L1 cache and evict
    each other."""
    return (n + 16) // 32 * 32 + 16


@sjit
def _gather_transposed(k, v, b, h, n_keys, k_t, v_t):
    """k_t[:, :n_keys] = Kᵀ and v_t[:, :n_keys] = Vᵀ of head (b, h)'s first n_keys keys and
    values, copied from k, v (B, H, Tk, ·) in any layout into contiguous (D, ·) scratch."""
    d, dv = k.shape[3], v.shape[3]
    for j in range(n_keys):
        for e in range(d):
            k_t[e, j] = k[b, h, j, e]
        for e in range(dv):
            v_t[e, j] = v[b, h, j, e]


# A decoding step: one query row (or a few) against keys and values that a KV cache keeps
# time-major, (Tk, B, H, D) contiguous, so each key and value row is a contiguous D-vector.
# The blocked kernel above would first copy K and V of every head transposed into scratch,
# which for one query row costs several times the row itself and runs on strided reads (its
# arrays have layout 'A'); here the rows are read in place as contiguous vectors instead.
DECODE_MAX_Q = 4


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def decode_rows(q, k_tm, v_tm, scale, out, lse):
    """out[b, h, i] = softmax(q[b, h, i] · K[b, h]ᵀ · scale) V[b, h], every key visible.

    q (B, H, Tq, D) in any layout; k_tm (Tk, B, H, D) and v_tm (Tk, B, H, Dv) C-contiguous
    (K[b, h, j] is k_tm[j, b, h]); writes out (B, H, Tq, Dv) and lse (B, H, Tq).
    """
    n_b, n_h, tq, d = q.shape
    tk, dv = k_tm.shape[0], v_tm.shape[3]
    zero, one = q.dtype.type(0), q.dtype.type(1)
    q_row = np.empty(d, dtype=q.dtype)
    s = np.empty(tk, dtype=q.dtype)
    o = np.empty(dv, dtype=q.dtype)
    for b in range(n_b):
        for h in range(n_h):
            for i in range(tq):
                for e in range(d):
                    q_row[e] = q[b, h, i, e]
                m = -np.inf
                for j in range(tk):
                    k_row = k_tm[j, b, h]  # contiguous: the dot product vectorises
                    acc = zero
                    for e in range(d):
                        acc += q_row[e] * k_row[e]
                    s[j] = acc * scale
                    m = max(m, s[j])
                total = zero
                for j in range(tk):
                    s[j] = fast_exp(s[j] - m)
                    total += s[j]
                inv = one / total
                o[:] = zero
                for j in range(tk):
                    p = s[j] * inv
                    v_row = v_tm[j, b, h]
                    for e in range(dv):
                        o[e] += p * v_row[e]
                for e in range(dv):
                    out[b, h, i, e] = o[e]
                lse[b, h, i] = m + math.log(total)


# Numba compiles a helper once per pattern of argument types, and a constant 0 or False has a
# literal type of its own: written as constants, the calls below compiled _matmul_nn_acc three
# times and _matmul_nt_acc twice, 2.6 s of first compile per dtype. The offsets and the flag
# are run-time values instead (np.intp(0), np.bool_): one compile each, and the same speed
# (fwd + bwd at T = 64, 256, 1024, alternating runs: within 1 %, the machine's noise).


def _attention_forward_jobs(q, k, v, scale, is_causal, out, lse, probs, next_job):
    """q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) in any layout -> out, lse (written).

    One job per (batch, head). Every thread runs this function and takes jobs from the shared
    counter ``next_job`` until none is left (see ``parallel.on_all_threads``). A job copies the
    head's K and V once, then works through its queries in blocks of BLOCK_Q. ``probs`` of
    shape (0, 0, 0, 0) means "do not save P"; else P's rows are written there for the backward.
    """
    n_b, n_h, tq, d = q.shape
    tk, dv = k.shape[2], v.shape[3]
    zero, one = q.dtype.type(0), q.dtype.type(1)
    first, no = np.intp(0), np.bool_(False)
    # scratch for one job, reused by the next: everything a block touches stays in cache
    ld = _padded_length(tk)
    q_blk = np.empty((BLOCK_Q, d), dtype=q.dtype)
    k_t = np.empty((d, ld), dtype=q.dtype)
    v_t = np.empty((dv, ld), dtype=q.dtype)
    s = np.empty((BLOCK_Q, ld), dtype=q.dtype)
    o = np.empty((BLOCK_Q, dv), dtype=q.dtype)
    while True:
        bh = take_job(next_job)
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
            _matmul_nn_acc(s, q_blk, first, first, no, k_t, bq, kend, d)  # S = Q_blk K^T
            for r in range(bq):
                n_valid = min(i0 + r + 1, kend) if is_causal else kend  # query i sees keys j <= i
                row = s[r]
                if scale > zero:  # max_j(scale·s_j) = scale·max_j s_j: rounding is monotone
                    m = row_max(row[:n_valid]) * scale  # eight chains: vectorised
                else:  # a zero or negative scale: one chain, as written
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
            _matmul_nt_acc(o, first, s, v_t, bq, dv, kend)  # O_blk = P V
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
    first, no, yes = np.intp(0), np.bool_(False), np.bool_(True)
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
        bh = take_job(next_job)
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
                _matmul_nn_acc(p, q_h, i0, first, no, k_t, bq, kend, d)  # S = Q K^T
            _matmul_nn_acc(gs, go_h, i0, first, no, v_t, bq, kend, dv)  # gP = gO V^T
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
            _matmul_nn_acc(gv_t, go_h, first, i0, yes, p, dv, kend, bq)  # gV^T += gO^T P
            _matmul_nn_acc(gk_t, q_h, first, i0, yes, gs, d, kend, bq)  # gK^T += Q^T gS
            _matmul_nt_acc(gq_h, i0, gs, k_t, bq, d, kend)  # gQ = gS K
        for i in range(tq):
            for e in range(d):
                gq[b, h, i, e] = gq_h[i, e]
        for j in range(tk):
            for e in range(d):
                gk[b, h, j, e] = gk_t[e, j]
            for e in range(dv):
                gv[b, h, j, e] = gv_t[e, j]


# --------------------------------------------------------------------------------------------
# attention with P kept: Sᵀ = K Qᵀ and the other products by BLAS, the softmax by these kernels
# --------------------------------------------------------------------------------------------


@rjit
def attention_probs_kernel(start, end, st, scale, is_causal, lse):
    """Heads ``start:end`` of st (B·H, Tk, Tq), the scores *transposed* (Sᵀ = K Qᵀ, key j's
    scores against every query along row j), in place → Pᵀ, and lse (B·H, Tq).

    P = softmax(scale · S) over the keys each query sees (causal: key j ≤ query i, as in
    PyTorch; masked entries 0), lse = log Σ_j exp(scale · S_ij), as the blocked forward.
    Why transposed: a query's softmax runs down a column, so every loop below runs along a
    row of Tq queries at once (full vectors, whatever the mask), and the row statistics live
    in ``m`` and ``total``, a Tq-vector each. Row by row over S instead, a causal row i has
    i + 1 live entries: at T = 64 most rows are shorter than two vectors, and the per-row
    loop set-up, maximum, logarithm and leftover elements cost 2.7x this
    (12×4 heads: 363 → 134 µs).
    """
    st, lse = st[start:end], lse[start:end]
    tk, tq = st.shape[1], st.shape[2]
    zero, one, ninf = st.dtype.type(0), st.dtype.type(1), st.dtype.type(-np.inf)
    m, total = np.empty(tq, dtype=st.dtype), np.empty(tq, dtype=st.dtype)
    for r in range(st.shape[0]):
        s = st[r]
        m[:] = ninf
        for j in range(tk):  # m_i = max over the keys query i sees
            row = s[j]
            for i in range(tq):
                m[i] = max(m[i], row[i] if not is_causal or i >= j else ninf)
        for i in range(tq):
            m[i] *= scale  # scale > 0: the maximum of scale · S is scale · max S
        total[:] = zero
        for j in range(tk):
            row = s[j]
            for i in range(tq):
                e = fast_exp(row[i] * scale - m[i])
                if is_causal and i < j:
                    e = zero  # masked: exp(-inf) = 0 (a select, so the loop stays vectorised)
                row[i] = e
                total[i] += e
        for i in range(tq):
            lse[r, i] = m[i] + math.log(total[i])
            total[i] = one / total[i]
        for j in range(tk):
            row = s[j]
            for i in range(tq):
                row[i] *= total[i]


@rjit
def attention_probs_backward_kernel(start, end, pt, gpt, out, gout, scale, is_causal):
    """Heads ``start:end``: gPᵀ (end − start, Tk, Tq) = V gOᵀ of those heads, in place →
    gSᵀ = scale · Pᵀ ⊙ (gPᵀ − δ),
    δ_i = Σ_e gO_ie O_ie (= Σ_j P_ij gP_ij, the softmax backward's row sum, from D terms
    instead of Tk), one for each query. pt: Pᵀ as the forward left it; out, gout: (B, H, Tq, D)
    in any layout (heads of the (B, T, C) output and its gradient are read in place).
    Causal: the entries i < j are 0 (P is 0 there; some of gPᵀ there was never computed)."""
    pt = pt[start:end]
    n_h = out.shape[1]
    tk, tq = pt.shape[1], pt.shape[2]
    zero = pt.dtype.type(0)
    delta = np.empty(tq, dtype=pt.dtype)
    for r in range(pt.shape[0]):
        b, h = (start + r) // n_h, (start + r) % n_h
        for i in range(tq):
            acc = zero
            for e in range(out.shape[3]):
                acc += gout[b, h, i, e] * out[b, h, i, e]
            delta[i] = acc
        for j in range(tk):
            p, g = pt[r, j], gpt[r, j]
            for i in range(tq):
                x = scale * p[i] * (g[i] - delta[i])
                if is_causal and i < j:
                    x = zero
                g[i] = x


def _by_blas(q: np.ndarray, k: np.ndarray, probs: np.ndarray) -> bool:
    """Attention by BLAS products: P kept, nothing empty, and a short sequence
    (``policy.ATTENTION_BLAS_MAX_SCORES``: longer causal ones are faster blocked, skipping the
    masked keys)."""
    tq, tk = q.shape[2], k.shape[2]
    return probs.size > 0 and q.size > 0 and k.size > 0 and tq * tk <= ATTENTION_BLAS_MAX_SCORES


def _transposed(a: np.ndarray) -> np.ndarray:
    """(B, H, T, D) → its transpose (B, H, D, T) as a contiguous copy, the right operand of
    X Yᵀ. OpenBLAS multiplies a (T, D) by a contiguous (D, T) faster than by the transposed
    view of a (T, D) head of the packed projection: at 12×4 heads of T = 64, D = 32, Sᵀ = K Qᵀ
    takes 113 µs instead of 197 µs, the copy (~30 µs) included (Emerald Rapids, 2026-12-06)."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def _causal_split(q: np.ndarray, k: np.ndarray, is_causal: bool) -> int:
    """The query row h at which a causal P is cut in two, or 0 for "not cut".

    With as many keys as queries, queries 0 … h−1 see keys 0 … h−1 only: the block
    P[:h, h:] is zero, and the products below skip it, a quarter of their work when
    h = T/2 (:func:`_product_skipping_zeros`). Not worth the extra calls under T = 32."""
    tq, tk = q.shape[-2], k.shape[-2]
    return tq // 2 if is_causal and tq == tk and tq >= 32 else 0


def _product_skipping_zeros(a, b, out, h: int, zeros: str) -> None:
    """out = a @ b over the last two axes, where a causal P's block [:h, h:] is zero (h = 0:
    one plain product). ``zeros`` says where that block is:

    * "a": a is P-shaped (P or gS): out[:h] = a[:h, :h] b[:h], out[h:] = a[h:] b;
    * "aT": a is Pᵀ-shaped (its block [h:, :h] is zero): out[:h] = a[:h] b,
      out[h:] = a[h:, h:] b[h:];
    * "outT": out is Pᵀ-shaped (Sᵀ or gPᵀ), its block [h:, :h] is left unwritten:
      out[:h] = a[:h] b, out[h:, h:] = a[h:] b[:, h:].
    """
    if h == 0:
        np.matmul(a, b, out=out)
    elif zeros == "a":
        np.matmul(a[..., :h, :h], b[..., :h, :], out=out[..., :h, :])
        np.matmul(a[..., h:, :], b, out=out[..., h:, :])
    elif zeros == "aT":
        np.matmul(a[..., :h, :], b, out=out[..., :h, :])
        np.matmul(a[..., h:, h:], b[..., h:, :], out=out[..., h:, :])
    else:
        np.matmul(a[..., :h, :], b, out=out[..., :h, :])
        np.matmul(a[..., h:, :], b[..., :, h:], out=out[..., h:, h:])


def _heads_serial_in_blas(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> bool:
    """Is each head's product (Tq·Tk·D multiply-adds, the same for all four of the backward
    and both of the forward) small enough that BLAS runs it on one thread
    (``policy.BLAS_SERIAL_PRODUCT``)? Then BLAS's own threads stay asleep: the products may be
    shared out between tinylm's threads, unless an earlier product has left BLAS's threads
    spinning on the other cores (``parallel.blas_threads_awake``: inside a training step the
    projections around attention have, and there the heads stay on the calling thread)."""
    return q.shape[-2] * k.shape[-2] * max(q.shape[-1], v.shape[-1]) <= BLAS_SERIAL_PRODUCT


def _by_heads(fn, shared: bool, b: int, h: int, *args) -> None:
    """``fn(start, end, r0, r1, *args)`` over all heads: on the calling thread alone, or, when
    ``shared``, on all threads, each taking a range of the batch axis (of the heads' axis
    when the batch is one). [start, end) is the range on that axis, [r0, r1) its heads as
    rows of the (B·H, …) views the kernels take. A thread runs all of attention's steps for
    its range in one go: one hand-over per forward or backward, not one per product."""
    axis = 0 if b > 1 else 1
    n = b if axis == 0 else h
    per = h if axis == 0 else 1

    def heads(start: int, end: int, *args) -> None:  # NumPy's matmul lets go of the GIL
        part = (slice(None),) * axis + (slice(start, end),)
        fn(part, start * per, end * per, *args)

    if not shared or n < 2:
        heads(0, n, *args)
        return
    parallel_ranges(heads, n, *args, work=LARGE_WORK, pieces_per_thread=1)


def _forward_heads(part, r0, r1, q, k, v, pt, scale, is_causal, lse, out, cut):
    """The forward for the heads ``part`` (rows r0:r1): Sᵀ = K Qᵀ, the softmax, O = P V."""
    b, h, tk, tq = pt.shape
    # Sᵀ = K Qᵀ; the block Sᵀ[cut:, :cut] stays unwritten: the kernel sets Pᵀ there to 0
    _product_skipping_zeros(k[part], _transposed(q[part]), pt[part], cut, "outT")
    attention_probs_kernel(
        r0, r1, pt.reshape(b * h, tk, tq), scale, is_causal, lse.reshape(b * h, tq)
    )
    _product_skipping_zeros(np.swapaxes(pt[part], -1, -2), v[part], out[part], cut, "a")


def _forward_keeping_probs(q, k, v, scale, is_causal, out, probs):
    """The forward when P is kept (``probs``): Sᵀ = K Qᵀ by BLAS into Pᵀ's memory, the
    softmax down its columns and lse by :func:`attention_probs_kernel`, O = P V by BLAS into
    ``out``. Computed transposed: see the kernel's docstring."""
    b, h, tq, _ = q.shape
    cut = _causal_split(q, k, is_causal)
    serial_in_blas = _heads_serial_in_blas(q, k, v)
    shared = (
        serial_in_blas and not blas_threads_awake() and _multiply_adds(q, k) >= SMALL_ATTENTION_WORK
    )
    # Pᵀ (B, H, Tk, Tq) is ``probs`` seen transposed, C-contiguous when it was made by
    # policy.attention_probs_array; any other layout gets a scratch copy written back below
    pt = np.swapaxes(probs, -1, -2)
    in_place = pt.flags.c_contiguous
    if not in_place:
        pt = np.empty(pt.shape, dtype=q.dtype)
    lse = np.empty((b, h, tq), dtype=q.dtype)
    args = (q, k, v, pt, q.dtype.type(scale), bool(is_causal), lse, out, cut)
    _by_heads(_forward_heads, shared, b, h, *args)
    if not in_place:
        np.copyto(probs, np.swapaxes(pt, -1, -2))
    if not serial_in_blas:
        note_blas_product()  # BLAS's threads took part: they spin now
    return out, lse


def _backward_heads(part, r0, r1, q, k, v, out, gout, pt, scale, is_causal, gq, gk, gv, cut):
    """The backward for the heads ``part`` (rows r0:r1): gV = Pᵀ gO, gPᵀ = V gOᵀ, gSᵀ,
    gQ = gS K, gK = gSᵀ Q."""
    b, h, tk, tq = pt.shape
    _product_skipping_zeros(pt[part], gout[part], gv[part], cut, "aT")  # gV = Pᵀ gO
    gst = np.empty((*pt[part].shape[:2], tk, tq), dtype=q.dtype)
    _product_skipping_zeros(v[part], _transposed(gout[part]), gst, cut, "outT")  # gPᵀ = V gOᵀ
    attention_probs_backward_kernel(
        r0, r1, pt.reshape(b * h, tk, tq), gst.reshape(-1, tk, tq), out, gout, scale, is_causal
    )
    _product_skipping_zeros(np.swapaxes(gst, -1, -2), k[part], gq[part], cut, "a")  # gQ = gS K
    _product_skipping_zeros(gst, q[part], gk[part], cut, "aT")  # gK = gSᵀ Q


def _backward_from_probs(q, k, v, out, gout, scale, is_causal, probs, gq, gk, gv):
    """The backward from a kept P, all of it transposed as in the forward: gV = Pᵀ gO,
    gPᵀ = V gOᵀ (BLAS), gSᵀ by :func:`attention_probs_backward_kernel`, gQ = gS K,
    gK = gSᵀ Q (BLAS, into the destinations)."""
    b, h, tq, _ = q.shape
    cut = _causal_split(q, k, is_causal)
    serial_in_blas = _heads_serial_in_blas(q, k, v)
    shared = (
        serial_in_blas and not blas_threads_awake() and _multiply_adds(q, k) >= SMALL_ATTENTION_WORK
    )
    pt = np.ascontiguousarray(np.swapaxes(probs, -1, -2))  # a view when laid out as kept
    args = (q, k, v, out, gout, pt, q.dtype.type(scale), bool(is_causal), gq, gk, gv, cut)
    _by_heads(_backward_heads, shared, b, h, *args)
    if not serial_in_blas:
        note_blas_product()
    return gq, gk, gv


@functools.cache
def _any_layout_kernel(py_func, dtype: np.dtype):
    """``py_func`` compiled once for ``dtype`` with its input and output arrays in *any* layout.

    Numba normally compiles one version per combination of layouts (C-contiguous or strided)
    and read-only flags it is called with; the attention kernels take strided views (heads of
    a packed qkv projection) as often as contiguous arrays, and read-only ones (the broadcast
    gradient of a ``sum``) too, so an explicit signature keeps it to one compile per dtype:
    layout 'A' for every array, read-only for those it only reads (a writeable array is
    accepted there as well), and 'C' for P, always an array of our own.
    ``nogil`` lets ``parallel.on_all_threads`` run it on several threads at once.
    Compiled on first use, cached on disk.
    """
    f = numba.from_dtype(dtype)
    a3, a4 = f[:, :, :], f[:, :, :, :]  # written
    r3, r4 = (types.Array(f, n, "A", readonly=True) for n in (3, 4))  # only read
    c4 = f[:, :, :, ::1]  # P, always an array of our own: contiguous, so its rows vectorise
    rc4 = types.Array(f, 4, "C", readonly=True)
    counter = types.intp[::1]
    if py_func is _attention_forward_jobs:
        sig = types.void(r4, r4, r4, f, types.boolean, a4, a3, c4, counter)
    else:
        sig = types.void(r4, r4, r4, r4, r3, r4, f, types.boolean, a4, a4, a4, rc4, counter)
    return njit(sig, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")(py_func)


def _multiply_adds(q: np.ndarray, k: np.ndarray, *args, **kwargs) -> int:
    """B·H·Tq·Tk·D, the multiply-adds of S = Q Kᵀ: the work measure for the small-work rule."""
    return q.size * k.shape[-2]


def _one_thread(q: np.ndarray, k: np.ndarray) -> bool:
    """Run on the calling thread alone: too little work to share (``SMALL_ATTENTION_WORK``),
    or a moderate amount right after a matrix product, while BLAS's threads still spin on the
    other cores (``parallel.blas_threads_awake``, ``LARGE_ATTENTION_WORK``)."""
    work = _multiply_adds(q, k)
    return work < SMALL_ATTENTION_WORK or (work < LARGE_ATTENTION_WORK and blas_threads_awake())


def _no_probs(dtype: np.dtype) -> np.ndarray:
    """The kernels' "P is not saved" marker: an empty 4-D array (a typed stand-in for None)."""
    return np.empty((0, 0, 0, 0), dtype=dtype)


def _destination(arr, shape: tuple[int, ...], dtype: np.dtype, name: str) -> np.ndarray:
    """A caller's output buffer (any layout), checked, or a new one."""
    if arr is None:
        return np.empty(shape, dtype=dtype)
    if arr.shape != shape or arr.dtype != dtype or not arr.flags.writeable:
        raise ValueError(
            f"attention: {name} must be a writeable {shape} {dtype} array, got "
            f"{arr.shape} {arr.dtype}"
        )
    return arr


@float32_or_64(reference.attention_forward)
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

    Inputs may be strided or read-only views (no copy is made); ``out`` may be strided too.
    """
    dt = q.dtype
    q, k, v = (kernel_input(a, dt, contiguous=False) for a in (q, k, v))
    b, h, tq, _ = q.shape
    out = _destination(out, (b, h, tq, v.shape[-1]), dt, "out")
    lse = np.empty((b, h, tq), dtype=dt)
    kept = None if probs is None else _destination(probs, (b, h, tq, k.shape[2]), dt, "probs")
    probs = _no_probs(dt) if kept is None else kept
    if _by_blas(q, k, probs):
        return _forward_keeping_probs(q, k, v, scale, is_causal, out, probs)
    if kept is not None and not kept.flags.c_contiguous:  # the blocked kernels write rows of P
        probs = np.empty(kept.shape, dtype=dt)
    decode = _multiply_adds(q, k) < SMALL_ATTENTION_WORK and tq <= DECODE_MAX_Q
    if decode and not is_causal and probs.shape[0] == 0:
        k_tm, v_tm = k.transpose(2, 0, 1, 3), v.transpose(2, 0, 1, 3)
        if k_tm.flags.c_contiguous and v_tm.flags.c_contiguous:  # a KV cache's layout
            decode_rows(q, k_tm, v_tm, dt.type(scale), out, lse)
            return out, lse
    jobs = _any_layout_kernel(_attention_forward_jobs, dt)
    small = _one_thread(q, k)
    on_all_threads(jobs, q, k, v, dt.type(scale), bool(is_causal), out, lse, probs, serial=small)
    if kept is not None and probs is not kept:
        np.copyto(kept, probs)
    return out, lse


@float32_or_64(reference.attention_backward)
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

    Inputs may be strided or read-only views, e.g. the broadcast gradient of a ``sum`` (no
    copy is made); ``grads`` = (gq, gk, gv) destinations may be strided too.
    """
    dt = q.dtype
    arrays = (q, k, v, out, lse, gout)
    q, k, v, out, lse, gout = (kernel_input(a, dt, contiguous=False) for a in arrays)
    gq, gk, gv = grads if grads is not None else (None, None, None)
    gq = _destination(gq, q.shape, dt, "gq")
    gk = _destination(gk, k.shape, dt, "gk")
    gv = _destination(gv, v.shape, dt, "gv")
    if probs is None:
        probs = _no_probs(dt)
    else:  # read without bounds checks: a wrong shape must stop here
        probs = np.asarray(probs, dtype=dt)
        if probs.shape != (*q.shape[:3], k.shape[2]):
            raise ValueError(
                f"attention: probs must be {(*q.shape[:3], k.shape[2])}, got {probs.shape}"
            )
    if _by_blas(q, k, probs):
        return _backward_from_probs(q, k, v, out, gout, scale, is_causal, probs, gq, gk, gv)
    probs = np.ascontiguousarray(probs)  # the blocked kernels read rows of P
    jobs = _any_layout_kernel(_attention_backward_jobs, dt)
    small = _one_thread(q, k)
    on_all_threads(
        jobs, q, k, v, out, lse, gout, dt.type(scale), bool(is_causal), gq, gk, gv, probs,
        serial=small,
    )  # fmt: skip
    return gq, gk, gv
