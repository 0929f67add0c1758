"""NumPy replay of the tiled flash-attention algorithm in ``attention.cu``.

No GPU is needed to check the *algorithm* of a tiled kernel: this module runs the same loops
with the same tile sizes and the same online-softmax recurrences, one NumPy array entry per
row of CUDA threads (a block's rows become a vector), and the tests compare it to the
reference. attention.cu splits a row of D = 64 over two threads; that changes only the order
in which a dot product's terms are added, which the emulation does not replay. What it cannot
check (races, indexing typos in the .cu) is left to the GPU tests.

Replays (same results up to rounding) ``kernels/reference.py``: attention_forward/
attention_backward. Shapes as there: q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, D).
``forward_head`` / ``backward_head`` are one (batch, head)'s loops, which lesson 10 prints.
"""

from __future__ import annotations

import numpy as np

from . import build

# the tile sizes attention.cu is compiled with, read from its #defines
_TILES = build.defines("attention.cu")
FWD_BR = _TILES["FWD_BR"]  # query rows per block, forward and dq
FWD_BC = _TILES["FWD_BC"]  # keys per shared-memory tile, forward and dq
BWD_BK = _TILES["BWD_BK"]  # key rows per block, dk/dv
BWD_BQ = _TILES["BWD_BQ"]  # queries per shared-memory tile, dk/dv


def _visible(i: np.ndarray, j: np.ndarray, tq: int, tk: int, is_causal: bool) -> np.ndarray:
    """visible(i, j) of attention.cu, broadcast over arrays of query and key indices."""
    ok = (i < tq) & (j < tk)
    return ok & (j <= i) if is_causal else ok


def _tile(x: np.ndarray, start: int, size: int) -> np.ndarray:
    """Rows start..start+size of x (T, D), zero-padded past the end, like the shared loads."""
    t = np.zeros((size, x.shape[1]), dtype=x.dtype)
    rows = x[start : start + size]
    t[: len(rows)] = rows
    return t


def forward_head(q, k, v, scale, is_causal):
    """One head's ``attention_forward`` grid: q (Tq, D), k, v (Tk, D) -> out (Tq, D), lse (Tq)."""
    tq, tk = q.shape[0], k.shape[0]
    out = np.empty((tq, v.shape[1]), dtype=q.dtype)
    lse = np.empty(tq, dtype=q.dtype)
    for i0 in range(0, tq, FWD_BR):  # one CUDA block
        i = i0 + np.arange(FWD_BR)  # one entry per row of threads
        qi = _tile(q, i0, FWD_BR)
        m = np.full(FWD_BR, -np.inf, dtype=q.dtype)
        l = np.zeros(FWD_BR, dtype=q.dtype)
        acc = np.zeros((FWD_BR, v.shape[1]), dtype=q.dtype)
        kend = min(tk, i0 + FWD_BR) if is_causal else tk
        for j0 in range(0, kend, FWD_BC):
            ks, vs = _tile(k, j0, FWD_BC), _tile(v, j0, FWD_BC)  # shared memory
            j = j0 + np.arange(FWD_BC)
            vis = _visible(i[:, None], j[None, :], tq, tk, is_causal)
            s = np.where(vis, scale * (qi @ ks.T), -np.inf)
            m_new = np.maximum(m, s.max(axis=1))
            upd = m_new != -np.inf  # `if (m_new != -INFINITY)` per row
            with np.errstate(invalid="ignore"):
                corr = np.where(upd, np.exp(m - m_new), 1)
                p = np.where(upd[:, None], np.exp(s - m_new[:, None]), 0)
            l = l * corr + p.sum(axis=1)
            acc = acc * corr[:, None] + p @ vs
            m = np.where(upd, m_new, m)
        rows = slice(i0, min(tq, i0 + FWD_BR))
        n = rows.stop - rows.start
        out[rows] = acc[:n] / l[:n, None]  # padded rows (>= Tq) write nothing
        lse[rows] = m[:n] + np.log(l[:n])
    return out, lse


def attention_forward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, is_causal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Tiled online-softmax forward, as attention.cu's ``attention_forward`` kernel."""
    b, h, tq, _ = q.shape
    out = np.empty((b, h, tq, v.shape[-1]), dtype=q.dtype)
    lse = np.empty((b, h, tq), dtype=q.dtype)
    for bi in range(b):
        for hi in range(h):
            out[bi, hi], lse[bi, hi] = forward_head(
                q[bi, hi], k[bi, hi], v[bi, hi], scale, is_causal
            )
    return out, lse


def backward_head(q, k, v, out, lse, gout, scale, is_causal):
    """One head's delta, dkdv and dq grids: (Tq, D) / (Tk, D) arrays -> gq, gk, gv."""
    tq, tk = q.shape[0], k.shape[0]
    delta = (gout * out).sum(axis=1)  # attention_backward_delta
    gq, gk, gv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    # attention_backward_dkdv: one row of threads per key, tiles of queries in shared memory
    for j0 in range(0, tk, BWD_BK):
        j = j0 + np.arange(BWD_BK)
        kj, vj = _tile(k, j0, BWD_BK), _tile(v, j0, BWD_BK)
        gkj, gvj = np.zeros_like(kj), np.zeros_like(vj)
        istart = (min(j0, tq) // BWD_BQ) * BWD_BQ if is_causal else 0
        for i0 in range(istart, tq, BWD_BQ):
            qs, gs_out = _tile(q, i0, BWD_BQ), _tile(gout, i0, BWD_BQ)
            lse_s = _tile(lse[:, None], i0, BWD_BQ)[:, 0]
            delta_s = _tile(delta[:, None], i0, BWD_BQ)[:, 0]
            i = i0 + np.arange(BWD_BQ)
            vis = _visible(i[None, :], j[:, None], tq, tk, is_causal)  # (keys, queries)
            p = np.where(vis, np.exp(scale * (kj @ qs.T) - lse_s[None, :]), 0)
            gs = p * (vj @ gs_out.T - delta_s[None, :])
            gvj += p @ gs_out
            gkj += scale * (gs @ qs)
        n = min(tk, j0 + BWD_BK) - j0
        gk[j0 : j0 + n], gv[j0 : j0 + n] = gkj[:n], gvj[:n]
    # attention_backward_dq: one row of threads per query, tiles of keys in shared memory
    for i0 in range(0, tq, FWD_BR):
        i = i0 + np.arange(FWD_BR)
        qi, gi = _tile(q, i0, FWD_BR), _tile(gout, i0, FWD_BR)
        lse_i = _tile(lse[:, None], i0, FWD_BR)[:, 0]
        delta_i = _tile(delta[:, None], i0, FWD_BR)[:, 0]
        gqi = np.zeros_like(qi)
        kend = min(tk, i0 + FWD_BR) if is_causal else tk
        for j0 in range(0, kend, FWD_BC):
            ks, vs = _tile(k, j0, FWD_BC), _tile(v, j0, FWD_BC)
            j = j0 + np.arange(FWD_BC)
            vis = _visible(i[:, None], j[None, :], tq, tk, is_causal)
            p = np.where(vis, np.exp(scale * (qi @ ks.T) - lse_i[:, None]), 0)
            gs = p * (gi @ vs.T - delta_i[:, None])
            gqi += scale * (gs @ ks)
        n = min(tq, i0 + FWD_BR) - i0
        gq[i0 : i0 + n] = gqi[:n]
    return gq, gk, gv


def attention_backward(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    out: np.ndarray,
    lse: np.ndarray,
    gout: np.ndarray,
    scale: float,
    is_causal: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiled backward, as attention.cu's delta, dkdv and dq kernels."""
    gq, gk, gv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    for bi in range(q.shape[0]):
        for hi in range(q.shape[1]):
            args = (q, k, v, out, lse, gout)
            gq[bi, hi], gk[bi, hi], gv[bi, hi] = backward_head(
                *(a[bi, hi] for a in args), scale, is_causal
            )
    return gq, gk, gv
