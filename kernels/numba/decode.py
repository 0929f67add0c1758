"""A decoding step of a whole transformer block as one compiled call.

Implements (same name, signature and results up to rounding) ``kernels/reference.py:
transformer_block_decode``. Generating a token runs every block on one new position: the
work is a handful of matrix-vector products of at most C x 4C (a 128-wide GPT: ~200 k
multiply-adds per block, ~20 µs), while the module path runs some 20 ops per block, each
with its Python (Module.__call__, Function.apply, a Tensor, a kernel lookup), ~150 µs. Here
the whole block is one call, built from the kernels the separate ops use:

* ``rowwise.layer_norm_forward_kernel`` for LN_1 and LN_2;
* ``quantized.int8_linear_kernel`` for the four linear layers. It turns each weight into x's
  dtype in a register, so it serves float weights too (scale 1): with int8 weights the
  block reads a quarter of the bytes;
* ``attention.decode_rows`` for attention against the cache (time-major, as ``nn.KVCache``
  keeps it);
* ``elementwise.gelu_forward_kernel`` / ``gelu_exact_forward_kernel`` for the MLP.

One thread: at one row per sequence there is too little work to share (``policy.SMALL_WORK``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import reference
from .attention import decode_rows
from .elementwise import gelu_exact_forward_kernel, gelu_forward_kernel
from .jit import rjit
from .quantized import int8_linear_kernel
from .rowwise import layer_norm_forward_kernel
from .threads import float32_or_64, kernel_input

__all__ = ["transformer_block_decode", "transformer_block_decode_kernel"]


@rjit
def _linear(h, layer, y):
    """y (B, N) = h (B, K) (scale[:, None] · W)ᵀ + bias, layer = (W, scale, bias)."""
    int8_linear_kernel(np.intp(0), layer[0].shape[0], h, layer[0], layer[1], layer[2], y)


@rjit
def transformer_block_decode_kernel(
    x, cache_k, cache_v, pos, ln_1, qkv, proj, ln_2, fc, fc_proj, num_heads, eps_1, eps_2,
    exact_gelu, y,
):  # fmt: skip
    """y (B, C) = the block on x (B, C); writes the new keys and values into row ``pos`` of
    cache_k, cache_v (capacity, B, H, D). See :func:`reference.transformer_block_decode`."""
    b, c = x.shape
    d = c // num_heads
    dt = x.dtype
    # the row kernels' start, a run-time 0 so that they reuse the versions compiled for
    # parallel_ranges' calls (a literal 0 would compile each of them once more)
    first = np.intp(0)
    mean, rstd = np.empty(b, dtype=dt), np.empty(b, dtype=dt)
    a = np.empty((b, c), dtype=dt)
    layer_norm_forward_kernel(first, b, x, ln_1[0], ln_1[1], dt.type(eps_1), a, mean, rstd)
    packed = np.empty((b, 3 * c), dtype=dt)  # queries, keys, values side by side
    _linear(a, qkv, packed)
    q = np.empty((b, num_heads, 1, d), dtype=dt)
    for i in range(b):
        for h in range(num_heads):
            for e in range(d):
                q[i, h, 0, e] = packed[i, h * d + e]
                cache_k[pos, i, h, e] = packed[i, c + h * d + e]
                cache_v[pos, i, h, e] = packed[i, 2 * c + h * d + e]
    heads = np.empty((b, num_heads, 1, d), dtype=dt)
    lse = np.empty((b, num_heads, 1), dtype=dt)
    decode_rows(q, cache_k[: pos + 1], cache_v[: pos + 1], dt.type(1 / math.sqrt(d)), heads, lse)
    _linear(heads.reshape(b, c), proj, a)  # a: the attention branch now
    for i in range(b):
        for j in range(c):
            y[i, j] = x[i, j] + a[i, j]  # y holds the residual stream from here on
    layer_norm_forward_kernel(first, b, y, ln_2[0], ln_2[1], dt.type(eps_2), a, mean, rstd)
    f = np.empty((b, fc[0].shape[0]), dtype=dt)
    _linear(a, fc, f)
    f_flat = f.reshape(-1)
    if exact_gelu:
        gelu_exact_forward_kernel(first, f_flat.shape[0], f_flat, f_flat)  # in place: one read each
    else:
        gelu_forward_kernel(first, f_flat.shape[0], f_flat, f_flat)
    _linear(f, fc_proj, a)
    for i in range(b):
        for j in range(c):
            y[i, j] += a[i, j]


def _check_shapes(x, cache_k, cache_v, pos, ln_1, qkv, proj, ln_2, fc, fc_proj, num_heads):
    """ValueError unless the shapes fit together: the kernel reads without bounds checks."""
    b, c = x.shape
    hidden = fc[0].shape[0]
    want = {
        "cache_k": (cache_k.shape[1:], (b, num_heads, c // num_heads)),
        "cache_v": (cache_v.shape, cache_k.shape),
        "qkv": (qkv[0].shape, (3 * c, c)),
        "proj": (proj[0].shape, (c, c)),
        "fc": (fc[0].shape, (hidden, c)),
        "fc_proj": (fc_proj[0].shape, (c, hidden)),
    }
    for name, norm in (("ln_1", ln_1), ("ln_2", ln_2)):
        want[name] = (tuple(a.shape for a in norm), ((c,), (c,)))
    for name, layer in (("qkv", qkv), ("proj", proj), ("fc", fc), ("fc_proj", fc_proj)):
        want[name + " scale, bias"] = (
            tuple(a.shape for a in layer[1:]),
            ((layer[0].shape[0],),) * 2,
        )
    bad = [f"{k} {got} (need {need})" for k, (got, need) in want.items() if tuple(got) != need]
    if c % num_heads or not 0 <= pos < cache_k.shape[0] or bad:
        raise ValueError(
            f"transformer_block_decode: shapes do not fit x {x.shape}, {num_heads} heads, row "
            f"{pos} of {cache_k.shape[0]}: " + ("; ".join(bad) or "bad heads or row")
        )


def _layer(layer: tuple, dt) -> tuple:
    """(W, scale, bias) as the kernel reads them: W int8 or in ``dt``, the rest in ``dt``."""
    w, scale, bias = layer
    w = kernel_input(w, np.int8 if w.dtype == np.int8 else dt)
    return w, kernel_input(scale, dt), kernel_input(bias, dt)


@float32_or_64(reference.transformer_block_decode)
def transformer_block_decode(
    x: np.ndarray,
    cache_k: np.ndarray,
    cache_v: np.ndarray,
    pos: int,
    ln_1: tuple,
    qkv: tuple,
    proj: tuple,
    ln_2: tuple,
    fc: tuple,
    fc_proj: tuple,
    num_heads: int,
    eps_1: float,
    eps_2: float,
    exact_gelu: bool,
) -> np.ndarray:
    """y (B, C); see :func:`reference.transformer_block_decode`. The caches are written in
    place, so they must be C-contiguous arrays of x's dtype (as ``nn.KVCache`` makes them)."""
    dt = x.dtype
    for name, cache in (("cache_k", cache_k), ("cache_v", cache_v)):
        if cache.dtype != dt or not cache.flags.c_contiguous or not cache.flags.writeable:
            raise ValueError(
                f"transformer_block_decode: {name} must be a writeable C-contiguous {dt} "
                f"array, got {cache.dtype} {cache.shape}"
            )
    _check_shapes(x, cache_k, cache_v, pos, ln_1, qkv, proj, ln_2, fc, fc_proj, num_heads)
    x2 = kernel_input(x, dt)
    lns = tuple((kernel_input(w, dt), kernel_input(b, dt)) for w, b in (ln_1, ln_2))
    y = np.empty_like(x2)
    transformer_block_decode_kernel(
        x2, cache_k, cache_v, int(pos), lns[0], _layer(qkv, dt), _layer(proj, dt), lns[1],
        _layer(fc, dt), _layer(fc_proj, dt), int(num_heads), float(eps_1), float(eps_2),
        bool(exact_gelu), y,
    )  # fmt: skip
    return y
