"""Scaled dot-product attention, softmax(Q Kᵀ / √d_k + M) V, and multi-head self-attention
straight from a packed q | k | v projection."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.policy import attention_keeps_probs, attention_probs_array
from tinylm.nn.functional.common import as_array, check_probability, check_same_dtype, kernel
from tinylm.nn.functional.dropout import dropout_mask
from tinylm.tensor import Tensor

__all__ = [
    "attention_weights",
    "cached_self_attention",
    "causal_mask",
    "packed_self_attention",
    "scaled_dot_product_attention",
]


def causal_mask(tq: int, tk: int, xp: Any = np, offset: int = 0) -> Any:
    """The causal mask, (Tq, Tk) bool: True where query i may attend to key j, i.e. j ≤ i.

    Top-left aligned when Tq ≠ Tk (PyTorch's rule for ``is_causal``); with ``offset`` the
    queries are positions offset … offset + Tq − 1 of the keys' sequence (a decoding step
    after ``offset`` cached positions), so query i sees keys j ≤ offset + i. ``xp`` is the
    array module (numpy, or cupy for a mask on the GPU). The kernels apply the same rule
    without building the mask.
    """
    return xp.arange(tk)[None, :] <= xp.arange(offset, offset + tq)[:, None]


def _masked_softmax(s: Any, keep: Any) -> Any:
    """Softmax over the last axis where only ``keep`` entries take part (keep=None: all).

    A row with no allowed key would be 0/0 = NaN; we define its probabilities as all 0, so
    its output is 0 and no gradient flows through it.
    """
    xp = array_module(s)
    if keep is not None:
        s = xp.where(keep, s, s.dtype.type(-np.inf))
    m = s.max(axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, s.dtype.type(0))  # fully masked row: shift by 0
    e = xp.exp(s - m)  # exp(−inf) = 0 for masked keys
    z = e.sum(axis=-1, keepdims=True)
    return e / xp.where(z == 0, s.dtype.type(1), z)


class _Attention(Function):
    """out = softmax(Q Kᵀ / √d_k + M) V, as four steps with their own backward.

    Forward (shapes: Q (..., Tq, D), K (..., Tk, D), V (..., Tk, Dv)):
        1. S = Q Kᵀ                           (..., Tq, Tk)
        2. S = S · scale  (+ M, an additive float mask; masked-out keys set to −∞)
        3. P = softmax(S) over keys, then P̃ = P ⊙ dropout-mask
        4. out = P̃ V                          (..., Tq, Dv)
    Backward, step by step in reverse (G = dL/d out):
        4. dV = P̃ᵀ G,   dP̃ = G Vᵀ,   dP = dP̃ ⊙ dropout-mask
        3. dS = P ⊙ (dP − rowsum(dP ⊙ P))      (softmax's Jacobian-vector product)
        2. dM = dS,   dS ← dS · scale
        1. dQ = dS K,   dK = dSᵀ Q
    """

    @staticmethod
    def forward(
        ctx: Context, q: Any, k: Any, v: Any, *float_mask: Any, keep: Any, scale: float, drop: Any
    ) -> Any:
        xp = array_module(q)
        s = (q @ xp.swapaxes(k, -1, -2)) * q.dtype.type(scale)  # steps 1 and 2
        if float_mask:
            s = s + float_mask[0]
        p = _masked_softmax(s, keep)  # step 3
        p_dropped = p if drop is None else p * drop
        ctx.save_for_backward(q, k, v, p)
        ctx.meta = (scale, drop, bool(float_mask))
        return p_dropped @ v  # step 4

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        q, k, v, p = ctx.saved_arrays
        scale, drop, has_float_mask = ctx.meta
        xp = array_module(g)
        p_dropped = p if drop is None else p * drop
        gv = xp.swapaxes(p_dropped, -1, -2) @ g  # step 4
        gp = g @ xp.swapaxes(v, -1, -2)
        if drop is not None:
            gp = gp * drop
        gs = p * (gp - (gp * p).sum(axis=-1, keepdims=True))  # step 3
        g_mask = gs if has_float_mask else None  # step 2
        gs = gs * g.dtype.type(scale)
        gq = gs @ k  # step 1
        gk = xp.swapaxes(gs, -1, -2) @ q
        return (gq, gk, gv, g_mask) if has_float_mask else (gq, gk, gv)


def _probs_buffer(ctx: Context, like: Any, b: int, h: int, tq: int, tk: int) -> Any:
    """An array for the forward to save P in, or None: no backward will run (no input needs
    a gradient), or P is too large (or on the GPU) and will be recomputed."""
    if not any(ctx.needs_input_grad) or not attention_keeps_probs(like, b, h, tq, tk):
        return None
    return attention_probs_array(b, h, tq, tk, like.dtype)  # laid out as the kernels write P


class _FusedAttention(Function):
    """The same attention without a mask (optionally causal) and without dropout, by the
    registry's fused kernel: it saves the log-sum-exp of each score row and recomputes the
    (Tq, Tk) matrix P from it in backward, except on the CPU when P is small enough to keep
    (see ``tinylm.kernels.policy``). Shapes (B, H, T, D). The equations are those of
    :class:`_Attention` above.

    Readable: ``kernels/reference.py: attention_forward/backward``; fast:
    ``kernels/numba/attention.py`` (CPU, blocked), ``kernels/cuda/attention.cu`` (GPU, flash
    attention; replayed in numpy by ``kernels/cuda/flash_emulation.py``).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(ctx: Context, q: Any, k: Any, v: Any, *, scale: float, is_causal: bool) -> Any:
        probs = _probs_buffer(ctx, q, *q.shape[:3], k.shape[2])
        out, lse = kernel("attention_forward", q)(q, k, v, scale, is_causal, probs=probs)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.meta = (scale, is_causal, probs)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        q, k, v, out, lse = ctx.saved_arrays
        scale, is_causal, probs = ctx.meta
        return kernel("attention_backward", q)(q, k, v, out, lse, g, scale, is_causal, probs=probs)


def _heads_of(packed: Any, n_parts: int, num_heads: int) -> tuple[Any, ...]:
    """Views (B, H, T, D) of the heads inside a packed (B, T, n_parts·H·D) array, no copy.

    Column c of the packed array is part c // (H·D), head (c // D) % H, feature c % D, which
    is how one Linear(C, 3C) lays out q | k | v with the heads side by side in each.
    """
    b, t, width = packed.shape
    d = width // (n_parts * num_heads)
    parts = packed.reshape(b, t, n_parts, num_heads, d).transpose(2, 0, 3, 1, 4)
    return tuple(parts[i] for i in range(n_parts))


class _PackedSelfAttention(Function):
    """Multi-head self-attention from the packed projection qkv (B, T, 3C) to y (B, T, C).

    The same numbers as splitting qkv into q, k, v, moving the heads forward
    ((B, T, C) → (B, H, T, D)), running :class:`_FusedAttention` and moving them back. Here
    the kernels read q, k, v *in place* as strided views of qkv, write y straight in the
    (B, T, C) layout, and write dq, dk, dv straight into one (B, T, 3C) gradient. That
    saves the four layout copies forward, the three backward, and the (B, T, 3C) zero-filled
    gradient that each of the three split slices would otherwise scatter into.

    The kernels are :class:`_FusedAttention`'s (readable: ``kernels/reference.py:
    attention_forward/backward``).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(ctx: Context, qkv: Any, *, num_heads: int, scale: float, is_causal: bool) -> Any:
        xp = array_module(qkv)
        b, t, width = qkv.shape
        q, k, v = _heads_of(qkv, 3, num_heads)
        y = xp.empty((b, t, width // 3), dtype=qkv.dtype)
        (y_heads,) = _heads_of(y, 1, num_heads)
        probs = _probs_buffer(ctx, qkv, b, num_heads, t, t)
        attention = kernel("attention_forward", qkv)
        _, lse = attention(q, k, v, scale, is_causal, out=y_heads, probs=probs)
        ctx.save_for_backward(qkv, y, lse)
        ctx.meta = (num_heads, scale, is_causal, probs)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        qkv, y, lse = ctx.saved_arrays
        num_heads, scale, is_causal, probs = ctx.meta
        gqkv = array_module(qkv).empty_like(qkv)  # every element is written by the kernel
        (y_heads,) = _heads_of(y, 1, num_heads)
        (g_heads,) = _heads_of(g, 1, num_heads)
        kernel("attention_backward", qkv)(
            *_heads_of(qkv, 3, num_heads), y_heads, lse, g_heads, scale, is_causal,
            grads=_heads_of(gqkv, 3, num_heads), probs=probs,
        )  # fmt: skip
        return gqkv


def _check_packed(op: str, qkv: Tensor, num_heads: int) -> int:
    """D, the head width, after checking ``num_heads`` (a positive int) and ``qkv``: floating
    point, (B, T, 3C) with C divisible by ``num_heads``."""
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads <= 0:
        raise TinyLMError(f"{op}: num_heads must be a positive int, got {num_heads!r}")
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * num_heads):
        raise TinyLMError(
            f"{op}: qkv must be (B, T, 3C) with C divisible by num_heads={num_heads}, got "
            f"{qkv.shape} {qkv.dtype}"
        )
    if qkv.dtype.kind != "f":
        raise TinyLMError(f"{op}: qkv must be floating point, got {qkv.shape} {qkv.dtype}")
    return qkv.shape[-1] // (3 * num_heads)


def packed_self_attention(
    qkv: Tensor, num_heads: int, is_causal: bool = False, scale: float | None = None
) -> Tensor:
    """Multi-head self-attention softmax(Q Kᵀ/√d_k) V from a packed q | k | v projection.

    Args:
        qkv: (B, T, 3C), the output of one ``Linear(C, 3C)``: columns [0, C) are the
            queries, [C, 2C) the keys, [2C, 3C) the values, each with ``num_heads`` heads
            of width D = C / num_heads side by side.
        num_heads: H.
        is_causal: position t attends to positions ≤ t only.
        scale: defaults to 1/√D.
    Returns:
        (B, T, C): the heads' outputs side by side, ready for the output projection.

    Equal to this composition, which is easier to read and is what it computes::

        q, k, v = qkv.split(C, dim=2)
        q, k, v = (x.reshape(B, T, H, D).transpose(1, 2) for x in (q, k, v))
        y = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        y = y.transpose(1, 2).reshape(B, T, C)

    but without the copies between layouts (see :class:`_PackedSelfAttention`).
    """
    d = _check_packed("packed_self_attention", qkv, num_heads)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    return _PackedSelfAttention.apply(
        qkv, num_heads=num_heads, scale=scale, is_causal=bool(is_causal)
    )


class _CachedSelfAttention(Function):
    """The queries of T new positions, inside their packed projection qkv (B, T, 3C), against
    every key and value so far (B, H, Tk, D) (a KV cache's, the new positions' included) →
    y (B, T, C). No mask: each query sees every key (one new token, or non-causal attention).

    As in :class:`_PackedSelfAttention` the kernel reads the queries in place and writes y
    straight in the (B, T, C) layout the output projection takes: the same numbers as
    ``scaled_dot_product_attention(q, K, V)`` between a split of q into heads and a merge
    of y, without those layout ops. The kernels are :class:`_FusedAttention`'s (readable:
    ``kernels/reference.py: attention_forward/backward``); the gradient of qkv is zero
    outside its query columns.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(
        ctx: Context, qkv: Any, keys: Any, values: Any, *, num_heads: int, scale: float
    ) -> Any:
        b, t, width = qkv.shape
        q = _heads_of(qkv, 3, num_heads)[0]  # (B, H, T, D), a view
        y = array_module(qkv).empty((b, t, width // 3), dtype=qkv.dtype)
        (y_heads,) = _heads_of(y, 1, num_heads)
        probs = _probs_buffer(ctx, qkv, b, num_heads, t, keys.shape[2])
        attention = kernel("attention_forward", qkv)
        _, lse = attention(q, keys, values, scale, False, out=y_heads, probs=probs)
        ctx.save_for_backward(qkv, keys, values, y, lse)
        ctx.meta = (num_heads, scale, probs)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        qkv, keys, values, y, lse = ctx.saved_arrays
        num_heads, scale, probs = ctx.meta
        gqkv = array_module(qkv).zeros_like(qkv)  # the key and value columns get none
        (y_heads,) = _heads_of(y, 1, num_heads)
        (g_heads,) = _heads_of(g, 1, num_heads)
        _, gk, gv = kernel("attention_backward", qkv)(
            _heads_of(qkv, 3, num_heads)[0], keys, values, y_heads, lse, g_heads, scale, False,
            grads=(_heads_of(gqkv, 3, num_heads)[0], None, None), probs=probs,
        )  # fmt: skip
        return gqkv, gk, gv


def cached_self_attention(
    qkv: Tensor, keys: Tensor, values: Tensor, num_heads: int, scale: float | None = None
) -> Tensor:
    """Self-attention of new positions against every position so far (a decoding step).

    Args:
        qkv: (B, T, 3C), the packed projection of the T new positions (the layout of
            :func:`packed_self_attention`); only its queries, columns [0, C), are read.
        keys, values: (B, H, Tk, D), the keys and values of all Tk positions so far, the
            new ones included (what ``nn.KVCache.append`` returns).
        num_heads: H. scale: defaults to 1/√D.
    Returns:
        (B, T, C): the heads' outputs side by side, ready for the output projection.

    Every query sees every key: exact for one new token of a causal decoder (it comes after
    all the cached ones), or for non-causal attention. Equal to::

        q = qkv[..., :C].reshape(B, T, H, D).transpose(1, 2)
        y = scaled_dot_product_attention(q, keys, values)
        y = y.transpose(1, 2).reshape(B, T, C)

    without the layout copies (see :class:`_CachedSelfAttention`).
    """
    op = "cached_self_attention"
    d = _check_packed(op, qkv, num_heads)
    b = qkv.shape[0]
    k_shape = keys.shape
    if k_shape[:2] != (b, num_heads) or k_shape[3:] != (d,) or values.shape != k_shape:
        raise TinyLMError(
            f"{op}: keys and values must both be (B, H, Tk, D) = ({b}, {num_heads}, Tk, {d}) "
            f"for qkv {qkv.shape}, got {k_shape} and {values.shape}"
        )
    if keys.dtype != qkv.dtype or values.dtype != qkv.dtype:
        check_same_dtype(op, qkv=qkv.data, keys=keys.data, values=values.data)  # raises
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    return _CachedSelfAttention.apply(qkv, keys, values, num_heads=num_heads, scale=scale)


def _attention_keep(attn_mask: Any, is_causal: bool, q: Tensor, k: Tensor) -> tuple[Any, Any]:
    """Split a mask argument into (bool keep-array or None, additive float Tensor or None)."""
    xp = q._xp
    tq, tk = q.shape[-2], k.shape[-2]
    keep = causal_mask(tq, tk, xp) if is_causal else None
    float_mask = None
    if attn_mask is not None:
        raw = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
        raw = as_array("scaled_dot_product_attention", raw, q.data, "attn_mask")
        try:
            np.broadcast_shapes(raw.shape, q.shape[:-2] + (tq, tk))
        except ValueError:
            raise TinyLMError(
                f"scaled_dot_product_attention: attn_mask of shape {raw.shape} does not "
                f"broadcast to the scores' shape {q.shape[:-2] + (tq, tk)}"
            ) from None
        if raw.dtype == bool:
            keep = raw if keep is None else keep & raw
        elif isinstance(attn_mask, Tensor) and np.issubdtype(attn_mask.dtype, np.floating):
            float_mask = attn_mask.to(q.dtype)
        else:
            float_mask = Tensor(raw.astype(q.dtype))
    return keep, float_mask


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  ("Attention is all you need", eq. 1).

    Args:
        query: (..., Tq, D); key: (..., Tk, D); value: (..., Tk, Dv). Usually (B, H, T, D).
        attn_mask: broadcastable to (..., Tq, Tk). A **bool** mask says which keys each
            query may attend to (True = attend, as in ``torch.nn.functional``); a **float**
            mask is added to the scores (use −inf to block; it receives a gradient).
        dropout_p: dropout on the attention probabilities (always applied when > 0, as in
            PyTorch's functional form; modules pass 0 in eval mode).
        is_causal: query i sees only keys j ≤ i (top-left aligned when Tq ≠ Tk). It may
            be combined with ``attn_mask`` (both must allow a key).
        scale: defaults to 1/√D.
    Returns:
        (..., Tq, Dv). A query row whose keys are all masked out gets zeros (not NaN).

    Without a mask and dropout this runs the fused kernel (:class:`_FusedAttention`);
    otherwise the four-step :class:`_Attention`, which stores the (Tq, Tk) probabilities.
    """
    op = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise TinyLMError(f"{op}: query, key and value need ≥ 2 dims (..., T, D)")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise TinyLMError(
            f"{op}: shapes do not fit: query {query.shape}, key {key.shape}, value "
            f"{value.shape}; need query (..., Tq, D), key (..., Tk, D), value (..., Tk, Dv)"
        )
    check_same_dtype(op, query=query.data, key=key.data, value=value.data)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, int | float):
        raise TinyLMError(
            f"{op}: dropout_p must be a number in [0, 1), got {dropout_p!r} "
            "(the argument order is query, key, value, attn_mask, dropout_p, is_causal; "
            "pass is_causal=True by keyword)"
        )
    p = check_probability(op, dropout_p, "dropout_p")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    same_batch = query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
    if attn_mask is None and p == 0.0 and same_batch and query.ndim <= 4:
        lead = (1,) * (4 - query.ndim)  # the kernels take (B, H, T, D)
        if lead:  # (a reshape to the same shape would still cost an op each)
            query, key, value = (t.reshape(lead + t.shape) for t in (query, key, value))
        out = _FusedAttention.apply(query, key, value, scale=scale, is_causal=bool(is_causal))
        return out.reshape(out.shape[len(lead) :]) if lead else out
    keep, float_mask = _attention_keep(attn_mask, bool(is_causal), query, key)
    drop = None
    if p > 0.0:
        scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (
            query.shape[-2],
            key.shape[-2],
        )
        drop = dropout_mask(scores_shape, p, query.data)
    masks = (float_mask,) if float_mask is not None else ()
    return _Attention.apply(query, key, value, *masks, keep=keep, scale=scale, drop=drop)


def attention_weights(
    query: Tensor,
    key: Tensor,
    attn_mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """The attention probabilities P = softmax(Q Kᵀ · scale + mask), (..., Tq, Tk).

    For inspection and plots (no dropout, no gradient); rows with every key masked are 0.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    keep, float_mask = _attention_keep(attn_mask, bool(is_causal), query, key)
    xp = query._xp
    with np.errstate(all="ignore"):  # inf scores: inf and nan in silence, as PyTorch's
        s = (query.data @ xp.swapaxes(key.data, -1, -2)) * query.dtype.type(scale)
        if float_mask is not None:
            s = s + float_mask.data
        return Tensor._wrap(_masked_softmax(s, keep))
