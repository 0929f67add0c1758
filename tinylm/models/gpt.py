"""A GPT language model, read top to bottom like the paper it implements.

    tokens (B, T) ──► token embedding + position embedding ──► n_layer × Block ──►
    LayerNorm ──► linear head (tied to the token embedding) ──► logits (B, T, vocab)

Each ``Block`` is pre-norm: ``x = x + attn(ln_1(x))`` then ``x = x + mlp(ln_2(x))``.
The attention is causal, so position t only sees positions ≤ t and the model learns the
autoregressive factorisation P(y) = Π_t P(y_t | y_<t) (004_ee8cc4a825598546.txt §4.1).

Generation keeps a *KV cache*: the keys and values of the tokens seen so far, so each new
token costs one attention row, O(T), instead of re-running the whole prefix, O(T²).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import tinylm
import tinylm.nn.functional as F
from tinylm import nn
from tinylm.autograd import TinyLMError
from tinylm.tensor import Tensor

__all__ = ["GPT", "GPTConfig"]


@dataclass
class GPTConfig:
    """The hyper-parameters of a GPT (the model is a function of these alone).

    Attributes:
        vocab_size: number of distinct tokens.
        block_size: the longest context the model can attend over (T ≤ block_size).
        n_layer, n_head, n_embd: depth, heads per attention layer, width (n_embd % n_head == 0).
        dropout: dropout probability (0 for small data and for exact comparisons).
        bias: biases in Linear and LayerNorm layers.
    """

    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise TinyLMError(
                f"GPTConfig: n_embd={self.n_embd} must be divisible by n_head={self.n_head}"
            )
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) <= 0:
                raise TinyLMError(f"GPTConfig: {name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise TinyLMError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KVCache:
    """Keys and values of the tokens seen so far, per layer: (B, n_head, T_seen, head_dim)."""

    def __init__(self, n_layer: int) -> None:
        self.keys: list[Tensor | None] = [None] * n_layer
        self.values: list[Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        k = self.keys[0]
        return 0 if k is None else k.shape[2]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' k, v for ``layer``; return all keys and values so far."""
        if self.keys[layer] is not None:
            k = tinylm.concat([self.keys[layer], k], dim=2)
            v = tinylm.concat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: softmax(QKᵀ/√d_k + mask) V for each head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        # One matrix computes q, k and v for all heads at once: (C) -> (3C).
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        """x: (B, T, C) -> (B, T, C). With a cache, x holds only the new positions."""
        B, T, C = x.shape
        hd = C // self.n_head
        qkv = self.c_attn(x)  # (B, T, 3C): q | k | v side by side
        dropout = self.attn_dropout if self.training else 0.0
        if cache is None and dropout == 0.0:
            # Training and scoring: the same computation as the lines below, done by one op
            # that reads the heads inside qkv in place (no split/transpose copies).
            y = F.packed_self_attention(qkv, self.n_head, is_causal=True)
            return self.resid_dropout(self.c_proj(y))
        q, k, v = qkv.split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): each head attends independently.
        q = q.reshape(B, T, self.n_head, hd).transpose(1, 2)
        k = k.reshape(B, T, self.n_head, hd).transpose(1, 2)
        v = v.reshape(B, T, self.n_head, hd).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        # A single new query (T == 1) may look at every cached key: no mask needed.
        causal = T > 1
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout)
        y = y.transpose(1, 2).reshape(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The position-wise feed-forward network: Linear(C, 4C) → GELU → Linear(4C, C)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        # GPT-2's tanh form of GELU, the faster kernel. nanoGPT's nn.GELU() is the exact x Φ(x);
        # the two differ by < 5e-4 and train alike (the benchmark's PyTorch model reached val
        # loss 1.9002 with either form: baby config, 2000 iterations, seed 1337, no bias).
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """A pre-norm transformer block: attention then MLP, each inside a residual connection."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only transformer language model.

    Args:
        config: a :class:`GPTConfig`.

    ``forward(idx (B, T) int, targets (B, T) int | None) -> (logits (B, T, vocab), loss)``
    where loss is the mean cross-entropy −(1/N) Σ log p(target | context), or None.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned positions
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the output layer reuses the input embedding matrix (vocab, C). The
        # same Parameter is used twice, so its gradient is the sum of both uses.
        self.lm_head.weight = self.wte.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, and the residual
        projections scaled by 1/√(2·n_layer) so the residual stream's variance does not grow
        with depth."""
        std = 0.02
        residual_std = std / math.sqrt(2 * self.config.n_layer)
        with tinylm.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    p.normal_(0.0, residual_std)
                elif name.endswith(".weight") and p.ndim == 2:
                    p.normal_(0.0, std)
                elif name.endswith(".bias"):
                    p.zero_()
                # LayerNorm weights stay at 1.

    def forward(
        self, idx: Any, targets: Any = None, cache: KVCache | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """idx: (B, T) token ids -> logits (B, T, vocab_size), and the loss if targets given."""
        idx = idx if isinstance(idx, Tensor) else tinylm.tensor(np.asarray(idx))
        if idx.ndim != 2:
            raise TinyLMError(f"GPT: idx must have shape (B, T), got {idx.shape}")
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start and T > 1:
            raise TinyLMError("GPT: with a filled KV cache, feed one token at a time")
        if start + T > self.config.block_size:
            raise TinyLMError(
                f"GPT: sequence of length {start + T} is longer than block_size "
                f"{self.config.block_size}"
            )
        pos = tinylm.arange(start, start + T, device=self.wte.weight.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C) broadcasts
        for layer, block in enumerate(self.h):
            x = block(x, cache, layer)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            targets = targets if isinstance(targets, Tensor) else tinylm.tensor(targets)
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def num_parameters(self) -> int:
        """Parameters counted once (the tied embedding/head matrix counts once)."""
        return int(sum(p.numel() for p in self.parameters()))

    def configure_optimizers(
        self, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.99)
    ) -> tinylm.optim.AdamW:
        """AdamW with decay on matrices only: biases and LayerNorm gains are not decayed."""
        decay = [p for p in self.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.parameters() if p.ndim < 2]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return tinylm.optim.AdamW(groups, lr=lr, betas=betas)

    @tinylm.no_grad()
    def generate(
        self,
        idx: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        use_cache: bool = True,
        generator: tinylm.Generator | None = None,
    ) -> Tensor:
        """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled tokens.

        Each step computes P(y_t | y_<t) from the logits of the last position and then

        * ``greedy=True``: takes the most probable token (argmax);
        * otherwise divides the logits by ``temperature`` (< 1 sharper, > 1 flatter), keeps
          the ``top_k`` largest, and samples from the softmax.

        With ``use_cache`` the keys/values of earlier tokens are reused (O(T) per token).
        When the context grows past ``block_size`` the model can only see the last
        ``block_size`` tokens; then the cache is rebuilt from that window each step, which
        gives exactly the tokens of the uncached path.
        """
        if temperature <= 0 and not greedy:
            raise TinyLMError(f"generate: temperature must be > 0, got {temperature}")
        was_training = self.training
        self.eval()
        idx = idx if isinstance(idx, Tensor) else tinylm.tensor(np.asarray(idx))
        if idx.ndim == 1:
            idx = idx.unsqueeze(0)
        gen = generator or tinylm.default_generator
        tokens = idx.numpy().astype(np.int64)
        block = self.config.block_size
        cache: KVCache | None = None
        for _ in range(max_new_tokens):
            if use_cache and cache is not None and cache.length < block:
                logits, _ = self(tokens[:, -1:], cache=cache)  # only the newest token
            else:
                context = tokens[:, -block:]
                cache = KVCache(self.config.n_layer) if use_cache else None
                logits, _ = self(context, cache=cache)
            last = logits.numpy()[:, -1, :].astype(np.float64)  # (B, vocab)
            next_token = _pick_next(last, temperature, top_k, greedy, gen.numpy)
            tokens = np.concatenate([tokens, next_token[:, None]], axis=1)
        self.train(was_training)
        return tinylm.tensor(tokens)


def _pick_next(
    logits: np.ndarray,
    temperature: float,
    top_k: int | None,
    greedy: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Choose the next token for each row of ``logits`` (B, vocab)."""
    if greedy:
        return logits.argmax(axis=-1)
    logits = logits / temperature
    if top_k is not None:
        k = min(top_k, logits.shape[-1])
        kth = np.sort(logits, axis=-1)[:, -k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(p.shape[-1], p=row) for row in p])
