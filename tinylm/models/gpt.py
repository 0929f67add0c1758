"""A GPT language model, read top to bottom like the paper it implements.

    tokens (B, T) ──► token embedding + position embedding ──► n_layer × Block ──►
    LayerNorm ──► linear head (tied to the token embedding) ──► logits (B, T, vocab)

Each block is ``tinylm.nn.TransformerBlock`` (pre-norm: ``x = x + attn(ln_1(x))`` then
``x = x + mlp(ln_2(x))``), the stack every tinylm model shares; this file holds only what is
GPT's own: the embeddings, the tied head, GPT-2's initialisation and generation. The attention
is causal, so position t only sees positions ≤ t and the model learns the autoregressive
factorisation P(y) = Π_t P(y_t | y_<t).

Generation keeps a KV cache (``tinylm.nn.KVCache``): the keys and values of the tokens seen so
far, so each new token costs one attention row, O(T), instead of re-running the prefix, O(T²).
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
from tinylm.checks import ConfigError, check_bool, check_float, check_int
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
        self.validate()

    def validate(self) -> GPTConfig:
        """Check every field's type and range (ints become plain ``int``), and that the heads
        divide the width.

        Raises:
            ConfigError: the first field that is wrong, named, with its value.
        """
        # types and ranges first, so that n_head=0 is reported as such, not as a division by 0
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, check_int("GPTConfig", name, getattr(self, name), minimum=1))
        self.dropout = check_float("GPTConfig", "dropout", self.dropout, minimum=0.0, below=1.0)
        self.bias = check_bool("GPTConfig", "bias", self.bias)
        if self.n_embd % self.n_head:
            raise ConfigError(
                "GPTConfig",
                "n_embd",
                f"must be divisible by n_head={self.n_head}, got {self.n_embd}",
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GPT(nn.Module):
    """A decoder-only transformer language model.

    Args:
        config: a :class:`GPTConfig`.

    ``forward(idx (B, T) int, targets (B, T) int | None) -> (logits (B, T, vocab), loss)``
    where loss is the mean cross-entropy −(1/N) Σ log p(target | context), or None.
    ``forward(idx, labels=idx)`` is the Hugging Face form (document 000 §5.2): the model
    shifts, so position t predicts labels[t + 1]; labels equal to −100 are ignored.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned positions
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(
            [
                nn.TransformerBlock(config.n_embd, config.n_head, config.dropout, config.bias)
                for _ in range(config.n_layer)
            ]
        )
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

    def hidden_states(self, idx: Any, cache: nn.KVCache | None = None) -> Tensor:
        """idx: (B, T) token ids -> the final hidden states LN(h^(L)), (B, T, n_embd).

        What the language-model head turns into logits, and what a task head (e.g.
        :class:`tinylm.models.GPTForSequenceClassification`) pools: position t has seen the
        tokens ≤ t. With a ``cache``, idx holds only the positions after those it has seen.
        """
        idx = idx if isinstance(idx, Tensor) else tinylm.tensor(np.asarray(idx))
        if idx.ndim != 2:
            raise TinyLMError(f"GPT: idx must have shape (B, T), got {idx.shape}")
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise TinyLMError(
                f"GPT: sequence of length {start + T} is longer than block_size "
                f"{self.config.block_size}"
            )
        # ln_f's device: after tinylm.quantize_int8 the embeddings hold int8 buffers, no weight
        pos = tinylm.arange(start, start + T, device=self.ln_f.weight.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C) broadcasts
        for block in self.h:
            x = block(x, cache=cache)
        return self.ln_f(x)

    def forward(
        self,
        idx: Any,
        targets: Any = None,
        cache: nn.KVCache | None = None,
        labels: Any = None,
    ) -> tuple[Tensor, Tensor | None]:
        """idx: (B, T) token ids -> logits (B, T, vocab_size), and the loss if targets given.

        ``targets`` (B, T) are already the next tokens: loss = CE(logits[:, t], targets[:, t]).
        ``labels`` (B, T) are the tokens themselves, as in Hugging Face's causal LMs and
        document 000 §5.2 (``labels = input_ids``): the model shifts them, loss =
        mean over t < T−1 of CE(logits[:, t], labels[:, t + 1]), skipping labels of −100.
        With a ``cache`` (:class:`tinylm.nn.KVCache`), idx holds only the positions after
        those the cache has seen.

        Raises:
            TinyLMError: both ``targets`` and ``labels``; labels not shaped like idx; T < 2
                with labels (nothing to predict).
        """
        if targets is not None and labels is not None:
            raise TinyLMError("GPT: give targets (already shifted) or labels, not both")
        logits = self.lm_head(self.hidden_states(idx, cache))
        B, T = logits.shape[:2]
        loss = None
        if targets is not None:
            targets = targets if isinstance(targets, Tensor) else tinylm.tensor(targets)
            # token ids of any integer dtype, as idx (windows of a uint16 token file);
            # F.cross_entropy itself takes int64 or uint8 only, as PyTorch's
            if targets.dtype.kind in "iu" and targets.dtype != tinylm.int64:
                targets = targets.long()
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        elif labels is not None:
            loss = _shifted_loss(logits, labels)
        return logits, loss

    def configure_optimizers(
        self, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.99)
    ) -> tinylm.optim.AdamW:
        """AdamW with decay on matrices only: biases and LayerNorm gains are not decayed.
        Frozen parameters (``requires_grad=False``) are left out."""
        trainable = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in trainable if p.ndim >= 2]
        no_decay = [p for p in trainable if p.ndim < 2]
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

        Raises:
            TinyLMError: ``idx`` is empty, not integer or out of the vocabulary;
                ``max_new_tokens`` < 0; ``top_k`` neither None nor ≥ 1; ``temperature`` not
                in (0, inf) (unless ``greedy``); the logits hold NaN or inf.
        """
        max_new_tokens = check_int("generate", "max_new_tokens", max_new_tokens, minimum=0)
        greedy = check_bool("generate", "greedy", greedy)
        if not greedy:
            temperature = check_float("generate", "temperature", temperature, positive=True)
        if top_k is not None:
            top_k = check_int("generate", "top_k", top_k, minimum=1)
        prompt = _prompt_tokens(idx, self.config.vocab_size)
        B, n = prompt.shape  # n: tokens so far
        tokens = np.empty((B, n + max_new_tokens), dtype=np.int64)  # filled as we go
        tokens[:, :n] = prompt
        was_training = self.training
        self.eval()
        gen = generator or tinylm.default_generator
        block = self.config.block_size
        cache: nn.KVCache | None = None
        try:
            for _ in range(max_new_tokens):
                if use_cache and cache is not None and cache.length < block:
                    h = self.hidden_states(tokens[:, n - 1 : n], cache)  # only the newest token
                else:
                    context = tokens[:, max(0, n - block) : n]
                    # room for the whole window at once: the cache never grows
                    cache = nn.KVCache(capacity=block) if use_cache else None
                    h = self.hidden_states(context, cache)[:, -1:]  # the last position's
                last = self.lm_head(h).detach().numpy()[:, -1, :].astype(np.float64)  # (B, vocab)
                if not np.isfinite(last).all():
                    raise TinyLMError(
                        f"generate: the model's logits hold NaN or inf after {n} tokens; its "
                        "weights are broken (a diverged training run?)"
                    )
                tokens[:, n] = _pick_next(last, temperature, top_k, greedy, gen.numpy)
                n += 1
        finally:
            self.train(was_training)
        return tinylm.tensor(tokens)


def _shifted_loss(logits: Tensor, labels: Any) -> Tensor:
    """Mean CE of predicting labels[:, t + 1] from logits[:, t] (B, T, V); −100 is ignored."""
    lab = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if lab.dtype.kind in "iu":  # any integer ids, as idx; F.cross_entropy wants int64
        lab = lab.astype(np.int64, copy=False)
    B, T, V = logits.shape
    if lab.shape != (B, T):
        raise TinyLMError(f"GPT: labels must have the shape of idx {(B, T)}, got {lab.shape}")
    if T < 2:
        raise TinyLMError("GPT: labels need T ≥ 2 tokens (position t predicts token t + 1)")
    shifted = tinylm.tensor(np.ascontiguousarray(lab[:, 1:]).reshape(B * (T - 1)))
    return F.cross_entropy(logits[:, :-1, :].reshape(B * (T - 1), V), shifted)


def _prompt_tokens(idx: Any, vocab_size: int) -> np.ndarray:
    """The prompt as an int64 (B, T) array of token ids, checked: integers, T ≥ 1, in range."""
    ids = idx.numpy() if isinstance(idx, Tensor) else np.asarray(idx)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2:
        raise TinyLMError(f"generate: idx must have shape (T,) or (B, T), got {ids.shape}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise TinyLMError(f"generate: the prompt is empty (shape {ids.shape}); give ≥ 1 token")
    if ids.dtype.kind not in "iu":  # a float id 1.7 must not quietly become token 1
        raise TinyLMError(f"generate: idx must hold integer token ids, got dtype {ids.dtype}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise TinyLMError(
            f"generate: token id {bad} is out of range for a vocabulary of {vocab_size}"
        )
    return ids.astype(np.int64)


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
