"""The transformer stack every model reuses: multi-head attention (self, causal and cross
attention, with a KV cache), the position-wise MLP, and the pre-norm block.

Read top to bottom: :class:`KVCache`, :class:`MultiHeadAttention` (project, split into
heads, attend, merge, project), :class:`MLP`, and :class:`TransformerBlock`, which wires them
with residual connections:

    x = x + attn(ln_1(x))                      self-attention (causal in a decoder)
    x = x + cross_attn(ln_cross(x), memory)    only in a block with cross_attention=True
    x = x + mlp(ln_2(x))

Tensors are batch-first: (B, T, C) with C = embed_dim = num_heads · head_dim. The parameter
names are GPT-2's (``c_attn``, ``c_proj``, ``c_fc``), so a GPT built from these blocks loads
GPT-2-style state dicts; ``c_attn`` packs the query, key and value projections as
``torch.nn.MultiheadAttention``'s ``in_proj_weight`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, is_grad_enabled
from tinylm.creation import concat
from tinylm.devices import array_module
from tinylm.nn import functional as F
from tinylm.nn.functional.common import check_probability, kernel
from tinylm.nn.layers import GELU, Dropout, LayerNorm, Linear
from tinylm.nn.module import Module, structure_generation
from tinylm.nn.quantized import QuantizedLinear
from tinylm.tensor import Tensor

__all__ = ["KVCache", "MLP", "MultiHeadAttention", "TransformerBlock"]


class KVCache:
    """Keys and values that attention layers already computed, kept between decoding steps.

    * self-attention: the keys and values of every position seen so far; each step appends
      those of its new positions, so a new token costs one attention row, O(T), instead of
      re-running the whole prefix, O(T²);
    * cross-attention: those of the encoder output (the *memory*), computed at the first
      step and reused by every later one.

    Each attention module keeps its own entry (keyed by the module), (B, H, T, D) tensors.
    Start a new ``KVCache()`` for every new sequence.

    Storage. Appending by concatenation, ``K ← concat(K, k_new)``, copies all T cached rows
    at every step: O(T) memory traffic per token just to grow the cache. When no autograd
    graph runs through the cache (generation, under ``tinylm.no_grad()``), the keys and
    values live instead in arrays with room to spare: a step writes its new rows in place,
    and attention reads the filled part as a view. The arrays are time-major, (capacity, B,
    H, D), so that the filled part [:T] is one contiguous block in which every key is a
    contiguous row: the view handed out is its (B, H, T, D) transpose, and the decoding
    kernel reads the rows in place (``kernels/numba/attention.py``). When the room runs
    out the capacity doubles (a copy every doubling: O(1) copies per token on
    average), starting at ``capacity`` positions (give the model's longest context, e.g.
    GPT's ``block_size``, and it never grows). A step whose keys or values carry a
    graph (training through the cache) concatenates tensors as before, so gradients reach
    every cached position.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._self: dict[int, tuple[Tensor, Tensor]] = {}
        self._cross: dict[int, tuple[Tensor, Tensor]] = {}
        # per layer, the arrays (capacity, B, H, D) whose first T positions _self shows
        self._room: dict[int, tuple[Any, Any]] = {}

    @property
    def length(self) -> int:
        """The number of positions the self-attention layers have seen (0 when empty)."""
        return max((k.shape[2] for k, _ in self._self.values()), default=0)

    def length_of(self, layer: Module) -> int:
        """The number of positions ``layer`` has cached (0 before its first step)."""
        entry = self._self.get(id(layer))
        return 0 if entry is None else entry[0].shape[2]

    def append(self, layer: Module, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' keys and values of ``layer``, k (B, H, T_new, D) and v
        (B, H, T_new, Dv); return all of them so far, (B, H, T, D) and (B, H, T, Dv)."""
        key = id(layer)
        old = self._self.get(key)
        graph = k.requires_grad or v.requires_grad
        if old is not None:
            graph = graph or old[0].requires_grad or old[1].requires_grad
        if graph:  # keep the graph: new tensors that depend on the old ones and the new
            self._room.pop(key, None)
            if old is not None:
                k, v = concat([old[0], k], dim=2), concat([old[1], v], dim=2)
            self._self[key] = (k, v)
            return k, v
        k_new, v_new = k.data, v.data
        start = 0
        if old is not None:
            old_k, old_v = old[0].data, old[1].data
            if old_k.shape[:2] != k_new.shape[:2] or old_v.shape[:2] != v_new.shape[:2]:
                raise TinyLMError(
                    f"KVCache: new keys {k_new.shape} and values {v_new.shape} do not continue "
                    f"the cached {old_k.shape} and {old_v.shape} (same batch and heads needed)"
                )
            start = old_k.shape[2]
        end = start + k_new.shape[2]
        room = self._room.get(key)
        if room is None or len(room[0]) < end:  # (capacity, B, H, D)
            room = self._room[key] = self._grow(old, k, v, end)
        room_k, room_v = room
        room_k[start:end] = k_new.transpose(2, 0, 1, 3)  # (T_new, B, H, D)
        room_v[start:end] = v_new.transpose(2, 0, 1, 3)
        keys = Tensor._wrap(room_k[:end].transpose(1, 2, 0, 3))  # (B, H, T, D) views
        values = Tensor._wrap(room_v[:end].transpose(1, 2, 0, 3))
        self._self[key] = (keys, values)
        return keys, values

    def _grow(
        self, old: tuple[Tensor, Tensor] | None, k: Tensor, v: Tensor, needed: int
    ) -> tuple[Any, Any]:
        """New time-major arrays (capacity, B, H, D) with room for ≥ ``needed`` positions
        (the initial capacity, doubled until it fits), the ``old`` keys and values in front."""
        capacity = max(self.capacity, 1)
        while capacity < needed:
            capacity *= 2
        xp = array_module(k.data)
        b, h, _, d = k.shape
        room = (
            xp.empty((capacity, b, h, d), dtype=k.dtype),
            xp.empty((capacity, b, h, v.shape[3]), dtype=v.dtype),
        )
        if old is not None:
            n = old[0].shape[2]
            room[0][:n] = old[0].data.transpose(2, 0, 1, 3)
            room[1][:n] = old[1].data.transpose(2, 0, 1, 3)
        return room

    def free_row(self, layer: Module) -> tuple[Any, Any, int] | None:
        """Where a one-position step of ``layer`` may write its key and value in place:
        (keys, values, t), the time-major storage (capacity, B, H, D) and the row t to
        fill; None when there is no free row (no storage yet, a graph through the cache, or
        the capacity reached: then :meth:`append` makes room)."""
        room, entry = self._room.get(id(layer)), self._self.get(id(layer))
        if room is None or entry is None or entry[0].shape[2] >= len(room[0]):
            return None
        return room[0], room[1], entry[0].shape[2]

    def filled_row(self, layer: Module, t: int) -> None:
        """After a step wrote row ``t`` of :meth:`free_row`'s storage: ``layer`` has seen
        t + 1 positions."""
        room_k, room_v = self._room[id(layer)]
        keys = Tensor._wrap(room_k[: t + 1].transpose(1, 2, 0, 3))  # (B, H, T, D) views
        self._self[id(layer)] = (keys, Tensor._wrap(room_v[: t + 1].transpose(1, 2, 0, 3)))

    def memory(self, layer: Module) -> tuple[Tensor, Tensor] | None:
        """The cross-attention keys and values ``layer`` stored, or None at the first step."""
        return self._cross.get(id(layer))

    def store_memory(self, layer: Module, k: Tensor, v: Tensor) -> None:
        self._cross[id(layer)] = (k, v)

    def reorder(self, rows: Any) -> None:
        """Keep batch rows ``rows`` (ints, repeats allowed) of every stored key and value, in
        that order: beam search calls it when the surviving beams descend from other rows."""
        for store in (self._self, self._cross):
            for layer, (k, v) in store.items():
                store[layer] = (k[rows], v[rows])
        self._room.clear()  # the next append moves the reordered keys into new room


class MultiHeadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head_1 … head_h) W_O,  head_i = Attention(Q W_Qi, K W_Ki,
    V W_Vi)  ("Attention is all you need", §3.2.2).

    Args:
        embed_dim: C, the width of queries and of the output.
        num_heads: h; each head works in C/h dimensions.
        dropout: dropout on the attention probabilities and on the output (training only).
        bias: whether the projections have biases.
        causal: position i attends only to positions ≤ i (a decoder's self-attention).
        kdim, vdim: widths of key and value inputs for cross-attention (default C).

    Parameters: ``c_attn`` (C → 3C: the query, key and value projections side by side) and
    ``c_proj`` (C → C, W_O). With kdim or vdim ≠ C the key and value projections cannot be
    packed with the query's: then ``q_proj``, ``k_proj``, ``v_proj`` replace ``c_attn``.

    ``forward(query, key=None, value=None, attn_mask=None, need_weights=False,
    average_attn_weights=True, cache=None)``: query (B, Tq, C). Without ``key`` this is
    self-attention; with ``key`` (B, Tk, kdim) and ``value`` (B, Tk, vdim, default ``key``)
    it is cross-attention (the queries come from ``query``, keys and values from ``key``).
    Returns (B, Tq, C), or ``(output, weights)`` when ``need_weights`` (weights (B, Tq, Tk)
    averaged over heads, or (B, h, Tq, Tk) with ``average_attn_weights=False``; for
    inspection, without dropout or gradient). ``cache`` (a :class:`KVCache`): self-attention
    appends its new keys and values to it; cross-attention computes its keys and values once
    and reuses them.

    Differences from ``torch.nn.MultiheadAttention`` (which ``nn.MultiheadAttention``,
    in ``tinylm/nn/pytorch_transformer.py``, reproduces for ported code): batch-first only;
    the output is not a tuple unless weights are requested; a **bool** ``attn_mask`` means
    True = *may attend*, as in ``F.scaled_dot_product_attention`` (torch's module uses the
    opposite); a float mask is added to the scores. Masks broadcast to (B, h, Tq, Tk), e.g.
    (Tq, Tk), or (B, 1, 1, Tk) for key padding.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        if num_heads <= 0 or embed_dim % num_heads:
            raise TinyLMError(
                f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by "
                f"num_heads {num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.dropout = check_probability("MultiHeadAttention", dropout, "dropout")
        self.causal = bool(causal)
        kw = dict(bias=bias, dtype=dtype, device=device)
        self.packed = self.kdim == embed_dim and self.vdim == embed_dim
        if self.packed:
            self.c_attn = Linear(embed_dim, 3 * embed_dim, **kw)
        else:
            self.q_proj = Linear(embed_dim, embed_dim, **kw)
            self.k_proj = Linear(self.kdim, embed_dim, **kw)
            self.v_proj = Linear(self.vdim, embed_dim, **kw)
        self.c_proj = Linear(embed_dim, embed_dim, **kw)
        self.resid_dropout = Dropout(dropout)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, T, C) → (B, h, T, C/h): each head sees its own slice of the features."""
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def _project(self, x: Tensor, part: int) -> Tensor:
        """The query (part 0), key (1) or value (2) projection of x, split into heads."""
        if not self.packed:
            return self._split_heads((self.q_proj, self.k_proj, self.v_proj)[part](x))
        c = self.embed_dim
        rows = slice(part * c, (part + 1) * c)  # this part's rows of the packed W and b
        if not isinstance(self.c_attn, Linear):  # wrapped (e.g. LoRA): only its forward knows W
            return self._split_heads(self.c_attn(x)[..., rows])
        bias = self.c_attn.bias[rows] if self.c_attn.bias is not None else None
        return self._split_heads(F.linear(x, self.c_attn.weight[rows], bias))

    def _self_attention_qkv(
        self, x: Tensor, qkv: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v (B, h, T, C/h) of x; ``qkv`` is c_attn(x) when the caller has it already."""
        if not self.packed:
            return self._project(x, 0), self._project(x, 1), self._project(x, 2)
        q, k, v = (qkv if qkv is not None else self.c_attn(x)).split(self.embed_dim, dim=2)
        return self._split_heads(q), self._split_heads(k), self._split_heads(v)

    def _decode(self, qkv: Tensor, cache: KVCache) -> Tensor | None:
        """Cached self-attention of T new positions from their packed projection qkv
        (B, T, 3C) → (B, T, C) before c_proj, in one op; or None where it does not apply.

        What the general path in :meth:`forward` computes, for the case that generation runs
        once per token: no autograd graph (qkv carries none, so views of its array are
        exact), no mask, eval mode (no dropout). Instead of split + reshape + transpose of
        q, k and v (9 ops), two concatenations onto the cache, attention, and transpose +
        reshape back (14 ops), k and v are written straight from qkv into the cache's
        storage and one op reads the queries inside qkv.
        It does not apply to a causal chunk of T > 1 positions after cached ones (query i
        then sees keys ≤ offset + i, a mask the fused kernels do not build).
        """
        offset = cache.length_of(self)
        if self.causal and qkv.shape[1] > 1 and offset:
            return None
        b, t, _ = qkv.shape
        heads = qkv.data.reshape(b, t, 3, self.num_heads, self.head_dim)  # a view, no copy
        k, v = (heads[:, :, i].transpose(0, 2, 1, 3) for i in (1, 2))  # (B, h, T, C/h)
        keys, values = cache.append(self, Tensor._wrap(k), Tensor._wrap(v))  # all, views
        if offset == 0:  # the prompt: plain self-attention, reading every head inside qkv
            return F.packed_self_attention(qkv, self.num_heads, is_causal=self.causal)
        # one new query (or non-causal queries) sees every cached key: no mask needed
        return F.cached_self_attention(qkv, keys, values, self.num_heads)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Any = None,
        need_weights: bool = False,
        average_attn_weights: bool = True,
        cache: KVCache | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        cross, qkv = key is not None, None
        if not cross and cache is not None and self.packed and attn_mask is None:
            if query.ndim == 3 and not need_weights:  # decoding: the short path, if it applies
                qkv = self.c_attn(query)  # (reused by the general path below if it does not)
                y = None if qkv.requires_grad or self.training else self._decode(qkv, cache)
                if y is not None:  # (eval mode: resid_dropout is the identity)
                    return self.c_proj(y)
        value = value if value is not None else key
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t is not None and t.ndim != 3:
                raise TinyLMError(
                    f"MultiHeadAttention: expected batch-first (B, T, C) inputs, got {name} "
                    f"of shape {t.shape}"
                )
        b, tq, _ = query.shape
        p = self.dropout if self.training else 0.0
        plain = attn_mask is None and p == 0.0 and not need_weights and cache is None
        if not cross and self.packed and plain:
            # training and scoring: one op reads the heads inside the packed projection in
            # place; the same numbers as the general path below, without its layout copies
            y = F.packed_self_attention(self.c_attn(query), self.num_heads, is_causal=self.causal)
            return self.resid_dropout(self.c_proj(y))

        offset = 0  # how many positions the cache held before this step's queries
        if cross:
            q = self._project(query, 0)
            kv = cache.memory(self) if cache is not None else None
            if kv is None:
                kv = (self._project(key, 1), self._project(value, 2))
                if cache is not None:
                    cache.store_memory(self, *kv)
            k, v = kv
        else:
            q, k, v = self._self_attention_qkv(query, qkv)
            if cache is not None:
                offset = k.shape[2]
                k, v = cache.append(self, k, v)
                offset = k.shape[2] - offset
        mask, is_causal = attn_mask, self.causal and not cross
        if is_causal and offset:  # after `offset` cached positions, query i is position offset+i
            if tq > 1:  # it sees keys j ≤ offset + i (a lone newest query sees them all)
                keep = F.causal_mask(tq, k.shape[2], array_module(q.data), offset)
                mask = _and_mask(mask, keep, q)
            is_causal = False
        out = F.scaled_dot_product_attention(q, k, v, mask, dropout_p=p, is_causal=is_causal)
        out = self.resid_dropout(self.c_proj(out.transpose(1, 2).reshape(b, tq, self.embed_dim)))
        if not need_weights:
            return out
        weights = F.attention_weights(q, k, mask, is_causal)
        return out, (weights.mean(axis=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}"


def _and_mask(attn_mask: Any, keep: Any, like: Tensor) -> Any:
    """A user's mask combined with a bool keep-array (bool: both must allow; float: −inf
    added where ``keep`` is False)."""
    if attn_mask is None:
        return keep
    raw = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
    xp = array_module(like.data)
    raw = xp.asarray(raw)
    if raw.dtype == bool:
        return keep & raw
    blocked = xp.where(keep, 0.0, -xp.inf).astype(like.dtype)
    if isinstance(attn_mask, Tensor):
        return attn_mask.to(like.dtype) + Tensor(blocked)
    return raw.astype(like.dtype) + blocked


class MLP(Module):
    """The position-wise feed-forward network: c_proj(act(c_fc(x))), then dropout.

    Widths: C → hidden → C (GPT-2: hidden = 4C), applied to every position independently.
    ``activation`` defaults to GPT-2's tanh form of GELU (``nn.GELU(approximate="tanh")``).
    """

    def __init__(
        self,
        n_embd: int,
        hidden: int,
        dropout: float = 0.0,
        bias: bool = True,
        activation: Module | None = None,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.c_fc = Linear(n_embd, hidden, bias=bias, dtype=dtype, device=device)
        self.act = activation if activation is not None else GELU(approximate="tanh")
        self.c_proj = Linear(hidden, n_embd, bias=bias, dtype=dtype, device=device)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class TransformerBlock(Module):
    """A pre-norm transformer block (GPT-2's):

        x = x + attn(ln_1(x))
        x = x + cross_attn(ln_cross(x), memory)    (with cross_attention=True)
        x = x + mlp(ln_2(x))

    Normalising *before* each sub-layer leaves the residual path x a plain sum, which lets
    deep stacks train without the learning-rate warm-up tricks post-norm needs.

    Args:
        n_embd: C. n_head: number of heads. dropout: on attention probabilities and on
        every residual branch. bias: in Linear and LayerNorm layers. causal: decoder
        masking of the self-attention. mlp_ratio: the MLP's hidden width as a multiple of C.
        cross_attention: add a cross-attention sub-layer (the decoder of an
        encoder-decoder). activation: the MLP's (default GELU, tanh form).

    ``forward(x, attn_mask=None, memory=None, memory_mask=None, cache=None)``: x (B, T, C);
    ``attn_mask`` for the self-attention; ``memory`` (B, S, C), the encoder output, and its
    ``memory_mask`` (e.g. (B, 1, 1, S) for padding) for the cross-attention; ``cache`` a
    :class:`KVCache` for step-by-step decoding.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = True,
        mlp_ratio: int = 4,
        cross_attention: bool = False,
        activation: Module | None = None,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.ln_1 = LayerNorm(n_embd, bias=bias, **kw)
        self.attn = MultiHeadAttention(n_embd, n_head, dropout, bias=bias, causal=causal, **kw)
        self.cross_attention = bool(cross_attention)
        if self.cross_attention:
            self.ln_cross = LayerNorm(n_embd, bias=bias, **kw)
            self.cross_attn = MultiHeadAttention(n_embd, n_head, dropout, bias=bias, **kw)
        self.ln_2 = LayerNorm(n_embd, bias=bias, **kw)
        self.mlp = MLP(n_embd, mlp_ratio * n_embd, dropout, bias, activation, **kw)

    def forward(
        self,
        x: Tensor,
        attn_mask: Any = None,
        memory: Tensor | None = None,
        memory_mask: Any = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        if self.cross_attention and memory is None:
            raise TinyLMError("TransformerBlock: a cross-attention block needs memory=")
        if memory is not None and not self.cross_attention:
            raise TinyLMError(
                "TransformerBlock: memory= was given to a block built without cross_attention"
            )
        if cache is not None and attn_mask is None and not self.cross_attention:
            y = self._fused_decode(x, cache)
            if y is not None:
                return y
        x = x + self.attn(self.ln_1(x), attn_mask=attn_mask, cache=cache)
        if self.cross_attention:
            x = x + self.cross_attn(self.ln_cross(x), memory, attn_mask=memory_mask, cache=cache)
        return x + self.mlp(self.ln_2(x))

    def _fused_decode(self, x: Tensor, cache: KVCache) -> Tensor | None:
        """The block on one new position per sequence as one kernel call
        (``kernels: transformer_block_decode``), or None where that does not apply.

        Generation runs each block once per token on a (B, 1, C) input; the ~20 ops of the
        module path then cost far more in their Python than in arithmetic. The fused call
        computes the same (eval mode, nothing recorded) from the same weights, float or int8
        (``quantize_int8``). It applies on the CPU to GPT-2's block as built here: packed
        ``c_attn``, causal self-attention, plain or quantised Linear layers (not LoRA's
        wrappers), a GELU MLP, affine LayerNorms, and a cache with a free row for this layer
        (after the prompt, which runs the module path and makes that room).
        """
        if (
            self.training
            or x.ndim != 3
            or x.shape[1] != 1
            or type(x.data) is not np.ndarray
            or (is_grad_enabled() and (x.requires_grad or _any_grad(self)))
        ):
            return None
        weights = self._decode_weights(x.dtype)
        if weights is None:
            return None
        attn, ln_1, ln_2, act, norms, layers = weights
        row = cache.free_row(attn)
        if row is None or row[0].dtype != x.dtype:
            return None
        keys, values, t = row
        b, _, c = x.shape
        y = kernel("transformer_block_decode", x.data)(
            x.data.reshape(b, c), keys, values, t, norms[0], *layers[:2], norms[1], *layers[2:],
            attn.num_heads, ln_1.eps, ln_2.eps, act.approximate == "none",
        )  # fmt: skip
        cache.filled_row(attn, t)
        return Tensor._wrap(y.reshape(b, 1, c))

    def _decode_weights(self, dtype: Any) -> tuple[Any, ...] | None:
        """(attn, ln_1, ln_2, the GELU, [LN (w, b)] x 2, [linear (W, scale, bias)] x 4) for
        the fused step, or None where the block is not one it computes (see
        :meth:`_fused_decode`).

        Gathering them walks ~35 module attributes (~20 µs, as long as the step itself), so
        they are kept, with the tensors they came from: valid while no module changed what
        it is made of (``nn.module.structure_generation``) and every tensor still holds the
        same array (an optimizer changes values in place; ``.data =`` swaps the array)."""
        kept = self.__dict__.get("_decode_kept")
        if kept is not None:
            generation, kept_dtype, sources, weights = kept
            if (
                generation == structure_generation()
                and kept_dtype == dtype
                and all(t.data is a for t, a in sources)
            ):
                return weights
        weights, sources = _gather_decode_weights(self, dtype)
        self._decode_kept = (structure_generation(), dtype, sources, weights)
        return weights


def _gather_decode_weights(block: TransformerBlock, dtype: Any) -> tuple[Any, list]:
    """(weights or None, [(tensor, its array)]) of :meth:`TransformerBlock._decode_weights`."""
    attn, mlp = block.attn, block.mlp
    if dtype not in (np.float32, np.float64) or not (
        attn.packed and attn.causal and type(mlp.act) is GELU
    ):
        return None, []
    modules = (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, block.ln_1, block.ln_2)
    sources = [
        (t, t.data) for m in modules for t in (*m.parameters(), *m.buffers()) if t is not None
    ]
    layers = [_linear_arrays(m, dtype) for m in modules[:4]]
    norms = [_norm_arrays(m, dtype) for m in modules[4:]]
    if None in layers or None in norms:
        return None, sources
    return (attn, block.ln_1, block.ln_2, mlp.act, norms, layers), sources


def _any_grad(module: Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def _linear_arrays(layer: Module, dtype: Any) -> tuple[Any, Any, Any] | None:
    """(W, scale, bias) of a plain or quantised Linear as the fused decode reads them (scale 1
    for float weights, bias 0 without one); None for any other module (a LoRA wrapper) or a
    dtype other than the input's (the module path then raises its dtype error)."""
    if type(layer) is Linear:
        w = layer.weight.data
        scale = _constant(1, w.shape[0], dtype)
        if w.dtype != dtype:
            return None
    elif type(layer) is QuantizedLinear:
        w, scale = layer.qweight.data, layer.scale.data
    else:
        return None
    bias = layer.bias.data if layer.bias is not None else _constant(0, w.shape[0], dtype)
    if type(w) is not np.ndarray or scale.dtype != dtype or bias.dtype != dtype:
        return None
    return w, scale, bias


def _norm_arrays(norm: Module, dtype: Any) -> tuple[Any, Any] | None:
    """(weight, bias) of a LayerNorm over the last axis, bias 0 without one; else None."""
    if type(norm) is not LayerNorm or norm.weight is None or len(norm.normalized_shape) != 1:
        return None
    w = norm.weight.data
    bias = norm.bias.data if norm.bias is not None else _constant(0, w.shape[0], dtype)
    return (w, bias) if w.dtype == dtype and bias.dtype == dtype else None


_constants: dict[tuple[int, int, Any], Any] = {}


def _constant(value: int, n: int, dtype: Any) -> Any:
    """An (n,) array of ``value`` in ``dtype``, made once: the scale 1 of a float layer, the
    bias 0 of a layer without one (read by the kernel, never written)."""
    key = (value, n, np.dtype(dtype))
    if key not in _constants:
        _constants[key] = np.full(n, value, dtype=dtype)
    return _constants[key]
