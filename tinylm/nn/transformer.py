"""Multi-head attention and the pre-norm transformer block.

Read top to bottom: :class:`MultiHeadAttention` (project, split into heads, attend,
merge, project), :class:`MLP` (the position-wise feed-forward network) and
:class:`TransformerBlock`, which wires them with residual connections:

    x = x + attn(ln_1(x))
    x = x + mlp(ln_2(x))

Tensors are batch-first: (B, T, C) with C = embed_dim = num_heads · head_dim.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.nn import functional as F
from tinylm.nn.layers import GELU, Dropout, LayerNorm, Linear
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = ["MLP", "MultiHeadAttention", "TransformerBlock"]


class MultiHeadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head_1 … head_h) W_O,  head_i = Attention(Q W_Qi, K W_Ki,
    V W_Vi)  ("Attention is all you need", §3.2.2).

    Args:
        embed_dim: C, the width of queries and of the output.
        num_heads: h; each head works in C/h dimensions.
        dropout: dropout on the attention probabilities (training mode only).
        bias: whether the four projections have biases.
        causal: position i attends only to positions ≤ i (a decoder, as in GPT).
        kdim, vdim: widths of key and value inputs for cross-attention (default C).

    ``forward(query, key=None, value=None, attn_mask=None, need_weights=False)``:
    query (B, Tq, C); key (B, Tk, kdim) and value (B, Tk, vdim), both defaulting to
    ``query`` (self-attention). Returns (B, Tq, C), or ``(output, weights)`` when
    ``need_weights`` (weights (B, Tq, Tk) averaged over heads, or (B, h, Tq, Tk) with
    ``average_attn_weights=False``; for inspection, without dropout or gradient).

    Differences from ``torch.nn.MultiheadAttention``: batch-first only; the output is not
    a tuple unless weights are requested; a **bool** ``attn_mask`` means True = *may
    attend*, as in ``F.scaled_dot_product_attention`` (torch's module uses the opposite);
    a float mask is added to the scores. Masks broadcast to (B, h, Tq, Tk), e.g. (Tq, Tk)
    or (B, 1, 1, Tk) for key padding.
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
        self.dropout = F._check_p("MultiHeadAttention", dropout, "dropout")
        self.causal = bool(causal)
        kw = dict(bias=bias, dtype=dtype, device=device)
        self.q_proj = Linear(embed_dim, embed_dim, **kw)
        self.k_proj = Linear(self.kdim, embed_dim, **kw)
        self.v_proj = Linear(self.vdim, embed_dim, **kw)
        self.out_proj = Linear(embed_dim, embed_dim, **kw)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, T, C) → (B, h, T, C/h): each head sees its own slice of the features."""
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Any = None,
        need_weights: bool = False,
        average_attn_weights: bool = True,
    ) -> Tensor | tuple[Tensor, Tensor]:
        key = query if key is None else key
        value = key if value is None else value
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise TinyLMError(
                f"MultiHeadAttention: expected batch-first (B, T, C) inputs, got query "
                f"{query.shape}, key {key.shape}, value {value.shape}"
            )
        b, tq, _ = query.shape
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        mask, is_causal = attn_mask, self.causal
        if self.causal and attn_mask is not None:
            mask, is_causal = _and_causal(attn_mask, tq, key.shape[1], q), False
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, mask, dropout_p=p, is_causal=is_causal)
        out = self.out_proj(out.transpose(1, 2).reshape(b, tq, self.embed_dim))
        if not need_weights:
            return out
        weights = F.attention_weights(q, k, mask, is_causal)
        return out, (weights.mean(axis=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}"


def _and_causal(attn_mask: Any, tq: int, tk: int, like: Tensor) -> Any:
    """Combine a user mask with the causal rule (bool: both must allow; float: −inf added)."""
    xp = like._xp
    causal = F._causal_keep(xp, tq, tk)
    raw = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
    if raw.dtype == bool:
        return causal & raw
    blocked = xp.where(causal, 0.0, -xp.inf).astype(like.dtype)
    if isinstance(attn_mask, Tensor):
        return attn_mask.to(like.dtype) + Tensor._wrap(blocked)
    return raw.astype(like.dtype) + blocked


class MLP(Module):
    """The position-wise feed-forward network: c_proj(GELU(c_fc(x))), then dropout.

    Widths: C → mlp_ratio·C → C (GPT-2 uses 4), applied to every position independently.
    """

    def __init__(
        self,
        n_embd: int,
        hidden: int,
        dropout: float = 0.0,
        bias: bool = True,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.c_fc = Linear(n_embd, hidden, bias=bias, dtype=dtype, device=device)
        self.gelu = GELU(approximate="tanh")  # GPT-2's form, and the faster kernel
        self.c_proj = Linear(hidden, n_embd, bias=bias, dtype=dtype, device=device)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TransformerBlock(Module):
    """A pre-norm transformer block (GPT-2's):

        x = x + dropout(attn(ln_1(x)))
        x = x + mlp(ln_2(x))

    Normalising *before* each sub-layer keeps the residual path x an untouched sum, which
    makes deep stacks train stably without learning-rate warm-up tricks.

    Args:
        n_embd: C. n_head: number of heads. dropout: on attention probabilities and on
        both residual branches. bias: in Linear and LayerNorm layers. causal: decoder
        masking. mlp_ratio: hidden width of the MLP as a multiple of C.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = True,
        mlp_ratio: int = 4,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.ln_1 = LayerNorm(n_embd, bias=bias, **kw)
        self.attn = MultiHeadAttention(n_embd, n_head, dropout, bias=bias, causal=causal, **kw)
        self.resid_dropout = Dropout(dropout)
        self.ln_2 = LayerNorm(n_embd, bias=bias, **kw)
        self.mlp = MLP(n_embd, mlp_ratio * n_embd, dropout, bias=bias, **kw)

    def forward(self, x: Tensor, attn_mask: Any = None) -> Tensor:
        x = x + self.resid_dropout(self.attn(self.ln_1(x), attn_mask=attn_mask))
        return x + self.mlp(self.ln_2(x))
