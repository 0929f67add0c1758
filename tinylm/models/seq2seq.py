"""An encoder-decoder transformer: P(y | x) = Π_t P(y_t | y_<t, x), read top to bottom.

    source x (B, S) ──► embedding + positions ──► n × encoder block ──► LayerNorm ──► memory
    target <bos> y (B, T) ──► embedding + positions ──► n × decoder block(memory) ──►
    LayerNorm ──► linear head (tied to the target embedding) ──► logits (B, T, vocab)

Both stacks are ``tinylm.nn.TransformerBlock`` (pre-norm), the blocks the GPT uses:

* an **encoder** block, ``causal=False``: every source token attends to every other one
  except padding, hidden by a key-padding mask (B, 1, 1, S), True where a real token is;
* a **decoder** block, ``causal=True, cross_attention=True``: causal self-attention over the
  target prefix (so position t predicts y_{t+1} from y_≤t only), then cross-attention whose
  queries come from the target and whose keys and values come from the memory, then the MLP.

A GPT computes P(y) = Π_t P(y_t | y_<t); the cross-attention is the only place where x enters.
This file holds what is the model's own: embeddings (shared between source and target with
``share_embeddings``), initialisation, and generation, greedy or by beam search, with a
:class:`tinylm.nn.KVCache` (the decoder's self-attention keys and values grow by one row per
step; the cross-attention keys and values of the memory are computed once).
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

__all__ = ["Seq2Seq", "Seq2SeqConfig"]


@dataclass
class Seq2SeqConfig:
    """The hyper-parameters of an encoder-decoder (the model is a function of these alone).

    Attributes:
        src_vocab_size, tgt_vocab_size: source and target vocabularies (equal when
            ``share_embeddings``).
        max_src_len, max_tgt_len: the longest source and decoder input (positions learned).
        n_encoder_layer, n_decoder_layer, n_head, n_embd: depths, heads, width.
        dropout: on embeddings, attention probabilities and residual branches.
        bias: biases in Linear and LayerNorm layers.
        share_embeddings: one embedding matrix for source and target tokens (a shared
            vocabulary, as T5's); the output head is always tied to the target embedding.
        pad_id, bos_id, eos_id: the special tokens (the same ids in both vocabularies).
    """

    src_vocab_size: int = 160
    tgt_vocab_size: int = 160
    max_src_len: int = 32
    max_tgt_len: int = 32
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    share_embeddings: bool = False
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "max_src_len", "max_tgt_len"):
            if getattr(self, name) <= 0:
                raise TinyLMError(
                    f"Seq2SeqConfig: {name} must be positive, got {getattr(self, name)}"
                )
        for name in ("n_encoder_layer", "n_decoder_layer", "n_head", "n_embd"):
            if getattr(self, name) <= 0:
                raise TinyLMError(
                    f"Seq2SeqConfig: {name} must be positive, got {getattr(self, name)}"
                )
        if self.n_embd % self.n_head:
            raise TinyLMError(
                f"Seq2SeqConfig: n_embd={self.n_embd} must be divisible by n_head={self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise TinyLMError(f"Seq2SeqConfig: dropout must be in [0, 1), got {self.dropout}")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise TinyLMError(
                "Seq2SeqConfig: share_embeddings needs one vocabulary, got src_vocab_size="
                f"{self.src_vocab_size} and tgt_vocab_size={self.tgt_vocab_size}"
            )
        specials = (self.pad_id, self.bos_id, self.eos_id)
        smallest = min(self.src_vocab_size, self.tgt_vocab_size)
        if len(set(specials)) != 3 or not all(0 <= i < smallest for i in specials):
            raise TinyLMError(f"Seq2SeqConfig: pad, bos, eos ids {specials} must be distinct ids")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Seq2Seq(nn.Module):
    """An encoder-decoder transformer.

    ``forward(src (B, S) int, tgt_in (B, T) int, targets (B, T) int | None) -> (logits
    (B, T, tgt_vocab), loss)``: ``tgt_in`` is <bos> y_1 … y_{T−1} and ``targets`` is
    y_1 … y_T (teacher forcing); padding (``pad_id``) in ``src`` is masked out and in
    ``targets`` ignored by the loss, the mean cross-entropy −(1/N) Σ log P(y_t | y_<t, x).
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.src_wte = nn.Embedding(c.src_vocab_size, c.n_embd)
        self.src_wpe = nn.Embedding(c.max_src_len, c.n_embd)
        self.tgt_wte = nn.Embedding(c.tgt_vocab_size, c.n_embd)
        self.tgt_wpe = nn.Embedding(c.max_tgt_len, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(
            [nn.TransformerBlock(c.n_embd, c.n_head, c.dropout, c.bias, causal=False)
             for _ in range(c.n_encoder_layer)]
        )  # fmt: skip
        self.ln_enc = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.decoder = nn.ModuleList(
            [nn.TransformerBlock(c.n_embd, c.n_head, c.dropout, c.bias, causal=True,
                                 cross_attention=True) for _ in range(c.n_decoder_layer)]
        )  # fmt: skip
        self.ln_dec = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.tgt_vocab_size, bias=False)
        self._init_weights()
        # Tied after initialisation: one Parameter used in several places gets the sum of
        # the gradients of its uses.
        if c.share_embeddings:
            self.tgt_wte.weight = self.src_wte.weight
        self.lm_head.weight = self.tgt_wte.weight

    def _init_weights(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections
        scaled by 1/√(2·layers) so the residual stream's variance does not grow with depth."""
        std = 0.02
        residual_std = std / math.sqrt(2 * max(self.config.n_encoder_layer,
                                               self.config.n_decoder_layer))  # fmt: skip
        with tinylm.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    p.normal_(0.0, residual_std)
                elif name.endswith(".weight") and p.ndim == 2:
                    p.normal_(0.0, std)
                elif name.endswith(".bias"):
                    p.zero_()

    # -- the two halves ---------------------------------------------------------------------

    def _tokens(self, ids: Any, what: str, limit: int, start: int = 0) -> Tensor:
        ids = ids if isinstance(ids, Tensor) else tinylm.tensor(np.asarray(ids, dtype=np.int64))
        if ids.ndim != 2:
            raise TinyLMError(f"Seq2Seq: {what} must have shape (B, T), got {ids.shape}")
        if start + ids.shape[1] > limit:
            raise TinyLMError(
                f"Seq2Seq: {what} of length {start + ids.shape[1]} is longer than the "
                f"model's {'max_src_len' if what == 'src' else 'max_tgt_len'} {limit}"
            )
        return ids

    def encode(self, src: Any) -> tuple[Tensor, np.ndarray]:
        """src (B, S) token ids → (memory (B, S, C), key-padding mask (B, 1, 1, S) bool,
        True at real tokens: the mask every attention over the memory uses)."""
        src = self._tokens(src, "src", self.config.max_src_len)
        keep = (src.numpy() != self.config.pad_id)[:, None, None, :]
        pos = tinylm.arange(src.shape[1], device=self.src_wte.weight.device)
        x = self.drop(self.src_wte(src) + self.src_wpe(pos))
        for block in self.encoder:
            x = block(x, attn_mask=keep)
        return self.ln_enc(x), keep

    def _embed_target(self, tgt_in: Any, start: int) -> Tensor:
        tgt_in = self._tokens(tgt_in, "tgt_in", self.config.max_tgt_len, start)
        pos = tinylm.arange(start, start + tgt_in.shape[1], device=self.tgt_wte.weight.device)
        return self.drop(self.tgt_wte(tgt_in) + self.tgt_wpe(pos))

    def decode(
        self, tgt_in: Any, memory: Tensor, memory_mask: Any, cache: nn.KVCache | None = None
    ) -> Tensor:
        """tgt_in (B, T) → logits (B, T, tgt_vocab) of the next token at each position.

        With a ``cache``, ``tgt_in`` holds only the positions after those it has seen.
        """
        x = self._embed_target(tgt_in, cache.length if cache is not None else 0)
        for block in self.decoder:
            x = block(x, memory=memory, memory_mask=memory_mask, cache=cache)
        return self.lm_head(self.ln_dec(x))

    def forward(self, src: Any, tgt_in: Any, targets: Any = None) -> tuple[Tensor, Tensor | None]:
        memory, keep = self.encode(src)
        logits = self.decode(tgt_in, memory, keep)
        loss = None
        if targets is not None:
            targets = targets if isinstance(targets, Tensor) else tinylm.tensor(targets)
            B, T, V = logits.shape
            loss = F.cross_entropy(
                logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=self.config.pad_id
            )
        return logits, loss

    @tinylm.no_grad()
    def cross_attention_weights(self, src: Any, tgt_in: Any) -> tuple[Tensor, list[np.ndarray]]:
        """The logits of :meth:`forward` and each decoder layer's cross-attention
        probabilities, (B, h, T, S): row t says how much the query of target position t
        took from each source token. The same sub-layers in the same order as the block's
        forward, which a test checks through the logits."""
        memory, keep = self.encode(src)
        x = self._embed_target(tgt_in, 0)
        weights = []
        for block in self.decoder:
            x = x + block.attn(block.ln_1(x))
            out, w = block.cross_attn(block.ln_cross(x), memory, attn_mask=keep,
                                      need_weights=True, average_attn_weights=False)  # fmt: skip
            x = x + out
            x = x + block.mlp(block.ln_2(x))
            weights.append(w.detach().numpy())
        return self.lm_head(self.ln_dec(x)), weights

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

    # -- generation ---------------------------------------------------------------------

    @tinylm.no_grad()
    def generate(
        self,
        src: Any,
        max_new_tokens: int | None = None,
        num_beams: int = 1,
        length_penalty: float = 1.0,
        use_cache: bool = True,
    ) -> Tensor:
        """Translate each row of ``src`` (B, S): returns (B, L) int64 rows
        ``<bos> y_1 … y_n <eos>`` padded with ``pad_id`` (Hugging Face's layout).

        * ``num_beams=1``: greedy, y_t = argmax P(y_t | y_<t, x) (004 §3.2's output step);
        * ``num_beams=K``: beam search keeps the K most probable prefixes at each step; a
          finished hypothesis y scores log P(y | x) / |y|^length_penalty (|y| counts the
          generated tokens with <eos>; > 0 favours longer outputs, 0 is the plain
          probability), and the best of K finished ones is returned.

        ``max_new_tokens`` defaults to what the position table allows (max_tgt_len − 1).
        ``use_cache=False`` re-runs the decoder over the whole prefix at every step (the
        same tokens, O(T²) instead of O(T) per step).
        """
        limit = self.config.max_tgt_len - 1
        max_new_tokens = limit if max_new_tokens is None else int(max_new_tokens)
        if not 1 <= max_new_tokens <= limit:
            raise TinyLMError(
                f"generate: max_new_tokens must be in 1 … {limit}, got {max_new_tokens}"
            )
        if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
            raise TinyLMError(f"generate: num_beams must be a positive int, got {num_beams!r}")
        was_training = self.training
        self.eval()
        try:
            memory, keep = self.encode(src)
            if num_beams == 1:
                rows = self._greedy(memory, keep, max_new_tokens, use_cache)
            else:
                rows = self._beam_search(
                    memory, keep, num_beams, max_new_tokens, float(length_penalty), use_cache
                )
        finally:
            self.train(was_training)
        out = np.full((len(rows), max(len(r) for r in rows)), self.config.pad_id, np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return tinylm.tensor(out)

    def _next_logits(
        self, tokens: np.ndarray, memory: Tensor, keep: Any, cache: nn.KVCache | None
    ) -> np.ndarray:
        """log P(next token | prefix, x) for each row of ``tokens`` (N, t), as float64 (N, V):
        with a cache only the newest token is fed."""
        step_in = tokens[:, -1:] if cache is not None else tokens
        logits = (
            self.decode(step_in, memory, keep, cache).detach().numpy()[:, -1].astype(np.float64)
        )
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    def _greedy(self, memory: Tensor, keep: Any, max_new: int, use_cache: bool) -> list[list[int]]:
        c = self.config
        tokens = np.full((memory.shape[0], 1), c.bos_id, np.int64)
        done = np.zeros(len(tokens), bool)
        cache = nn.KVCache() if use_cache else None
        for _ in range(max_new):
            nxt = self._next_logits(tokens, memory, keep, cache).argmax(axis=-1)
            nxt = np.where(done, c.pad_id, nxt)  # a finished row only pads
            tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
            done |= nxt == c.eos_id
            if done.all():
                break
        return [row[: _end(row, c.eos_id)].tolist() for row in tokens]

    def _beam_search(
        self,
        memory: Tensor,
        keep: Any,
        K: int,
        max_new: int,
        length_penalty: float,
        use_cache: bool,
    ) -> list[list[int]]:
        """Beam search over B sources at once: row b·K + k holds beam k of source b."""
        c = self.config
        B = memory.shape[0]
        rows = np.repeat(np.arange(B), K)
        memory, keep = memory[rows], keep[rows]
        tokens = np.full((B * K, 1), c.bos_id, np.int64)
        scores = np.full((B, K), -np.inf)
        scores[:, 0] = 0.0  # the K beams start identical: expand only one of them
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
        done = np.zeros(B, bool)
        cache = nn.KVCache() if use_cache else None
        for step in range(max_new):
            length = step + 1  # generated tokens after this step, the new one included
            logp = self._next_logits(tokens, memory, keep, cache)
            V = logp.shape[1]
            candidates = (scores.reshape(B * K, 1) + logp).reshape(B, K * V)
            order = np.argsort(-candidates, axis=1, kind="stable")[:, : 2 * K]
            parent = np.arange(B * K).reshape(B, K)  # a finished source keeps its rows
            chosen = np.full((B, K), c.pad_id, np.int64)
            new_scores = np.full((B, K), -np.inf)
            for b in np.flatnonzero(~done):
                n = 0
                for rank, flat in enumerate(order[b]):
                    score = candidates[b, flat]
                    if not np.isfinite(score):
                        break
                    beam, token = divmod(int(flat), V)
                    if token == c.eos_id:
                        if rank < K:  # an <eos> outside the top K would not have been kept
                            hyp = [*tokens[b * K + beam, 1:].tolist(), c.eos_id]
                            finished[b].append((score / length**length_penalty, hyp))
                        continue
                    parent[b, n], chosen[b, n], new_scores[b, n] = b * K + beam, token, score
                    n += 1
                    if n == K:
                        break
                finished[b] = sorted(finished[b], key=lambda h: -h[0])[:K]
                # done once K hypotheses are finished and the best live beam, scored as if it
                # ended now, is no better than the worst of them (Hugging Face's rule)
                if len(finished[b]) == K:
                    done[b] = new_scores[b].max() / length**length_penalty <= finished[b][-1][0]
            tokens = np.concatenate([tokens[parent.ravel()], chosen.reshape(-1, 1)], axis=1)
            scores = new_scores
            if cache is not None:
                cache.reorder(parent.ravel())
            if done.all():
                break
        best = []
        for b in range(B):
            hyps = list(finished[b])
            if not done[b]:  # out of steps: the live beams compete as they are
                hyps += [(scores[b, k] / (tokens.shape[1] - 1) ** length_penalty,
                          tokens[b * K + k, 1:].tolist()) for k in range(K)
                         if np.isfinite(scores[b, k])]  # fmt: skip
            best.append([c.bos_id, *max(hyps, key=lambda h: h[0])[1]])
        return best


def _end(row: np.ndarray, eos: int) -> int:
    """The length of ``row`` up to and including its first ``eos`` (all of it when none)."""
    hits = np.flatnonzero(row == eos)
    return int(hits[0]) + 1 if len(hits) else len(row)
