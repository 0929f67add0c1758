"""PyTorch's transformer modules under their own names and with their own conventions, for
code ported from PyTorch: ``MultiheadAttention``, ``TransformerEncoderLayer``,
``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder`` and
``Transformer``, with PyTorch's parameter names (their state dicts load into each other),
initialisation, sequence-first default layout and mask conventions.

tinylm's own models use the one stack of :mod:`tinylm.nn.transformer` (batch-first,
GPT-2's parameter names, a KV cache, fused kernels); these modules compute the same
equations from the same functions (``F.linear``, ``softmax``, ``F.layer_norm``), written
the way PyTorch's documentation describes them:

    encoder layer, post-norm (PyTorch's default):   x = norm1(x + SA(x));  x = norm2(x + FF(x))
    encoder layer, norm_first=True (pre-norm):      x = x + SA(norm1(x));  x = x + FF(norm2(x))
    FF(x) = linear2(dropout(activation(linear1(x))))

the decoder layer adds cross-attention to the encoder's output (the *memory*) between the
two, with ``norm3``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import empty, zeros
from tinylm.devices import array_module
from tinylm.nn import functional as F
from tinylm.nn import init
from tinylm.nn.functional.common import check_probability
from tinylm.nn.layers import Dropout, LayerNorm, Linear
from tinylm.nn.module import Module, ModuleList, Parameter
from tinylm.tensor import Tensor

__all__ = [
    "MultiheadAttention",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


class MultiheadAttention(Module):
    """``torch.nn.MultiheadAttention``, with PyTorch's interface and conventions, for code
    ported from PyTorch; tinylm's own models use ``nn.MultiHeadAttention`` (the same
    equations, batch-first, GPT-2's parameter names: ``tinylm/nn/transformer.py``).

    MultiHead(Q, K, V) = Concat(head_1 … head_h) W_O,  head_i = softmax(Q_i K_iᵀ / √d) V_i,
    with Q_i, K_i, V_i the i-th slices of Q W_Qᵀ + b_Q, K W_Kᵀ + b_K, V W_Vᵀ + b_V.

    Args:
        embed_dim: E, the width of queries and of the output; num_heads: h (d = E/h).
        dropout: on the attention probabilities, in training.
        bias: biases of the input and output projections.
        kdim, vdim: widths of keys and values (default E).
        batch_first: inputs (N, L, E) instead of PyTorch's default (L, N, E).
        add_bias_kv, add_zero_attn: refused (rarely used).

    Parameters (PyTorch's names): ``in_proj_weight`` (3E, E) — W_Q, W_K, W_V stacked —, or
    ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when kdim or vdim ≠ E;
    ``in_proj_bias`` (3E,); ``out_proj`` (a Linear E → E). Init as PyTorch: Xavier-uniform
    input projections, zero biases.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` → ``(output, weights)``: output (L, N, E)
    (or (N, L, E) batch-first; (L, E) for unbatched input), weights (N, L, S) averaged over
    heads, (N, h, L, S) with ``average_attn_weights=False``, None with ``need_weights=False``
    (weights after dropout, as PyTorch's). PyTorch's mask conventions: a **bool**
    ``attn_mask`` (L, S) or (N·h, L, S) and ``key_padding_mask`` (N, S) mark with True the
    keys a query may **not** attend to (the opposite of ``F.scaled_dot_product_attention``);
    float masks are added to the scores. ``is_causal`` is only a hint that ``attn_mask`` is
    causal, and needs it, as in PyTorch.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if num_heads <= 0 or embed_dim % num_heads:
            raise TinyLMError(
                f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads "
                f"{num_heads}"
            )
        if add_bias_kv or add_zero_attn:
            raise TinyLMError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self.dropout = check_probability("MultiheadAttention", dropout, "dropout")
        self.batch_first = bool(batch_first)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        e, kw = self.embed_dim, dict(dtype=dtype, device=device)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = init.xavier_uniform_(Parameter(empty(3 * e, e, **kw)))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            for name, width in (("q_proj", e), ("k_proj", self.kdim), ("v_proj", self.vdim)):
                w = init.xavier_uniform_(Parameter(empty(e, width, **kw)))
                setattr(self, f"{name}_weight", w)
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * e, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, **kw)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _projections(self) -> list[tuple[Tensor, Tensor | None]]:
        """(W, b) of the query, key and value projections: rows of the packed ones, or the
        three separate weights."""
        e, b = self.embed_dim, self.in_proj_bias
        biases = [None if b is None else b[i * e : (i + 1) * e] for i in range(3)]
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            return [(w[i * e : (i + 1) * e], biases[i]) for i in range(3)]
        ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return list(zip(ws, biases))

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        op = "MultiheadAttention"
        if is_causal and attn_mask is None:
            raise RuntimeError(
                f"{op}: is_causal is a hint that attn_mask is causal and needs attn_mask (as in "
                "PyTorch); pass the (L, L) mask, e.g. torch-style triu(ones(L, L), 1).bool()"
            )
        batched = query.ndim == 3
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.ndim != (3 if batched else 2):
                raise TinyLMError(
                    f"{op}: query, key and value must all be batched (3-D) or all unbatched "
                    f"(2-D); got query {query.shape}, {name} {t.shape}"
                )
        if not batched:  # (L, E): a batch of one on the batch axis
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _as_tensor(key_padding_mask).unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        # from here (L, N, E), as PyTorch's functional form; the heads as (N, h, L, d)
        tgt_len, n, _ = query.shape
        src_len = key.shape[0]
        h, d = self.num_heads, self.head_dim
        (wq, bq), (wk, bk), (wv, bv) = self._projections()
        q, k, v = (
            F.linear(x, w, b).reshape(x.shape[0], n, h, d).permute(1, 2, 0, 3)
            for x, (w, b) in ((query, (wq, bq)), (key, (wk, bk)), (value, (wv, bv)))
        )
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))  # (N, h, L, S)
        blocked = _torch_style_mask(attn_mask, key_padding_mask, n, h, tgt_len, src_len, q)
        if blocked is not None:
            scores = scores + blocked
        weights = scores.softmax(-1)
        if self.training and self.dropout > 0.0:
            weights = F.dropout(weights, self.dropout)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(tgt_len, n, self.embed_dim)
        out = self.out_proj(out)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        return out, weights if batched else weights.squeeze(0)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"batch_first={self.batch_first}"
        )


def _as_tensor(mask: Any) -> Tensor:
    return mask if isinstance(mask, Tensor) else Tensor(mask)


def _torch_style_mask(
    attn_mask: Any, key_padding_mask: Any, n: int, h: int, tgt_len: int, src_len: int, like: Tensor
) -> Tensor | None:
    """PyTorch's attn_mask ((L, S) or (N·h, L, S)) and key_padding_mask ((N, S)) as one float
    mask added to the (N, h, L, S) scores: a bool True (may not attend) becomes −inf."""
    total = None
    for name, mask, shape, view in (
        ("attn_mask", attn_mask, None, None),
        ("key_padding_mask", key_padding_mask, (n, src_len), (n, 1, 1, src_len)),
    ):
        if mask is None:
            continue
        m = _as_tensor(mask)
        if name == "attn_mask":
            if m.shape == (tgt_len, src_len):
                view = (1, 1, tgt_len, src_len)
            elif m.shape == (n * h, tgt_len, src_len):
                view = (n, h, tgt_len, src_len)
            else:
                raise TinyLMError(
                    f"MultiheadAttention: attn_mask must have shape {(tgt_len, src_len)} or "
                    f"{(n * h, tgt_len, src_len)}, got {m.shape}"
                )
        elif m.shape != shape:
            raise TinyLMError(
                f"MultiheadAttention: key_padding_mask must have shape {shape} (N, S), got "
                f"{m.shape}"
            )
        if m.dtype == np.bool_:
            xp = array_module(m.data)
            m = Tensor(xp.where(m.data, -xp.inf, 0.0).astype(like.dtype))
        else:
            m = m.to(like.dtype)
        m = m.reshape(*view)
        total = m if total is None else total + m
    return total


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """PyTorch's ``activation`` argument: "relu", "gelu", or a callable."""
    if callable(activation):
        return activation
    if activation in ("relu", "gelu"):
        return getattr(F, activation)
    raise TinyLMError(f"activation should be 'relu', 'gelu' or a callable, got {activation!r}")


def _add_feed_forward(
    layer: Module, d_model: int, dim_feedforward: int, dropout: float, bias: bool, kw: dict
) -> None:
    """linear1, dropout, linear2: FF(x) = linear2(dropout(activation(linear1(x)))), the
    parameters in PyTorch's order (after the attention, before the norms)."""
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)


def _copies(layer: Module, n: int) -> ModuleList:
    """``n`` deep copies of ``layer``, each with weights of its own (PyTorch's stacks)."""
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def _feed_forward(layer: Module, out_dropout: Dropout, x: Tensor) -> Tensor:
    return out_dropout(layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))))


def _attend(
    attn: MultiheadAttention, out_dropout: Dropout, x: Tensor, memory: Tensor, mask: Any,
    padding: Any, is_causal: bool,
) -> Tensor:  # fmt: skip
    """Queries from x, keys and values from ``memory`` (x itself for self-attention), with
    PyTorch's masks; the weights are not needed."""
    y = attn(
        x, memory, memory, attn_mask=mask, key_padding_mask=padding, need_weights=False,
        is_causal=is_causal,
    )[0]  # fmt: skip
    return out_dropout(y)


class TransformerEncoderLayer(Module):
    """``torch.nn.TransformerEncoderLayer``: self-attention, then a position-wise
    feed-forward network, each with a residual connection and a LayerNorm (after them by
    default, before them with ``norm_first=True``). See the module docstring for the
    equations.

    src (L, N, E), or (N, L, E) with ``batch_first``, or (L, E) → the same shape.
    ``src_mask`` and ``src_key_padding_mask`` as in :class:`MultiheadAttention`.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
        )
        _add_feed_forward(self, d_model, dim_feedforward, dropout, bias, kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        x, masks = src, (src_mask, src_key_padding_mask, is_causal)
        if self.norm_first:
            h = self.norm1(x)
            x = x + _attend(self.self_attn, self.dropout1, h, h, *masks)
            return x + _feed_forward(self, self.dropout2, self.norm2(x))
        x = self.norm1(x + _attend(self.self_attn, self.dropout1, x, x, *masks))
        return self.norm2(x + _feed_forward(self, self.dropout2, x))


class TransformerDecoderLayer(Module):
    """``torch.nn.TransformerDecoderLayer``: self-attention over the target, cross-attention
    to the encoder's output (``memory``), then the feed-forward network; each with a
    residual connection and a LayerNorm (norm1, norm2, norm3; after by default, before with
    ``norm_first=True``).

    tgt (T, N, E) and memory (S, N, E) (batch-first: (N, T, E), (N, S, E)) → tgt's shape.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        attn = dict(dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.self_attn = MultiheadAttention(d_model, nhead, **attn)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attn)
        _add_feed_forward(self, d_model, dim_feedforward, dropout, bias, kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1, self.dropout2, self.dropout3 = (Dropout(dropout) for _ in range(3))
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        ca = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            h = self.norm1(x)
            x = x + _attend(self.self_attn, self.dropout1, h, h, *sa)
            x = x + _attend(self.multihead_attn, self.dropout2, self.norm2(x), memory, *ca)
            return x + _feed_forward(self, self.dropout3, self.norm3(x))
        x = self.norm1(x + _attend(self.self_attn, self.dropout1, x, x, *sa))
        x = self.norm2(x + _attend(self.multihead_attn, self.dropout2, x, memory, *ca))
        return self.norm3(x + _feed_forward(self, self.dropout3, x))


class TransformerEncoder(Module):
    """``torch.nn.TransformerEncoder``: ``num_layers`` copies of ``encoder_layer`` (each with
    its own weights, copied from the given layer as PyTorch does), then ``norm`` if given.
    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``."""

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _copies(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Tensor,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``torch.nn.TransformerDecoder``: ``num_layers`` copies of ``decoder_layer``, then
    ``norm`` if given; every layer attends to the same ``memory``."""

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        self.layers = _copies(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                memory_key_padding_mask, bool(tgt_is_causal), memory_is_causal,
            )  # fmt: skip
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """``torch.nn.Transformer`` ("Attention is all you need"): an encoder of
    ``num_encoder_layers`` layers and a decoder of ``num_decoder_layers``, each ending in a
    LayerNorm; every weight matrix Xavier-uniform initialised, as PyTorch does.

    ``forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
    memory_is_causal)``: src (S, N, E), tgt (T, N, E) (batch-first: (N, S, E), (N, T, E))
    → (T, N, E). A causal target mask: :meth:`generate_square_subsequent_mask`.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        layer = dict(
            d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
            activation=activation, layer_norm_eps=layer_norm_eps, batch_first=batch_first,
            norm_first=norm_first, bias=bias, **kw,
        )  # fmt: skip
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(**layer), num_encoder_layers, norm
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(**layer), num_decoder_layers, norm
            )
        for p in self.parameters():  # PyTorch's _reset_parameters
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise TinyLMError(
                f"Transformer: src {src.shape} and tgt {tgt.shape} have different batch sizes"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise TinyLMError(
                f"Transformer: src {src.shape} and tgt {tgt.shape} must end in d_model "
                f"{self.d_model}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
            tgt_is_causal, memory_is_causal,
        )  # fmt: skip

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) causal mask: 0 on and below the diagonal, −inf above (a float mask,
        added to the scores: position i attends to positions ≤ i)."""
        mask = np.triu(np.full((sz, sz), -np.inf), 1)
        return Tensor(mask, dtype=dtype if dtype is not None else np.float32, device=device)
