"""A sequence classifier on a pre-trained GPT: pool the hidden states, then a linear head.

    tokens (B, T) ──► GPT.hidden_states ──► h (B, T, C) ──► pool ──► (B, C) ──► dropout ──►
    Linear(C, n_classes) ──► logits z (B, n_classes) ──► p(y | x) = softmax(z)

trained with the multi-class cross-entropy L = −(1/N) Σ_i log p(y_i | x_i). Pooling turns
the T hidden vectors of a text into one:

* ``"mean"``: the average over the text's own positions, Σ_t m_t h_t / Σ_t m_t with the
  attention mask m (1 for tokens, 0 for padding);
* ``"last"``: h at the text's last token, the only position that has seen the whole text
  in a causal model (Hugging Face's ``GPT2ForSequenceClassification`` does this).

Padding goes on the right. Then no attention mask is needed inside the GPT: the causal mask
already keeps every real position from seeing the padding after it, so the hidden states of
a padded text equal those of the text alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import tinylm
import tinylm.nn.functional as F
from tinylm import nn
from tinylm.autograd import TinyLMError
from tinylm.models.gpt import GPT
from tinylm.tensor import Tensor

__all__ = ["ClassifierOutput", "GPTForSequenceClassification"]


class ClassifierOutput(NamedTuple):
    """What :class:`GPTForSequenceClassification` returns: ``logits`` (B, n_classes) and the
    mean cross-entropy ``loss`` (None without labels). Unpacks like the GPT's output
    (``logits, loss = model(...)``) and reads like Hugging Face's (``out.logits``)."""

    logits: Tensor
    loss: Tensor | None


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else tinylm.tensor(np.asarray(x))


class GPTForSequenceClassification(nn.Module):
    """A pre-trained :class:`~tinylm.models.gpt.GPT` with a classification head.

    Args:
        backbone: the GPT (its weights are used as they are; freeze them with
            ``model.backbone.requires_grad_(False)`` to train the head alone).
        num_labels: the number of classes.
        dropout: on the pooled vector, in training mode.
        pooling: ``"mean"`` (over the non-padding positions) or ``"last"`` (the last token).

    Modules: ``backbone``, ``dropout``, ``head`` (Linear(n_embd, num_labels), weights
    N(0, 0.02) and bias 0 as GPT-2 initialises its layers: the first logits are small, so
    the first loss is about ln(num_labels)).

    ``forward(idx, attention_mask=None, labels=None)``: idx (B, T) token ids,
    ``attention_mask`` (B, T) with 1 for tokens and 0 for padding (right padding only; None:
    no padding), ``labels`` (B,) class ids → :class:`ClassifierOutput`.
    """

    def __init__(
        self, backbone: GPT, num_labels: int, dropout: float = 0.1, pooling: str = "mean"
    ) -> None:
        super().__init__()
        if num_labels < 2:
            raise TinyLMError(
                f"GPTForSequenceClassification: num_labels must be ≥ 2, got {num_labels}"
            )
        if pooling not in ("mean", "last"):
            raise TinyLMError(
                f"GPTForSequenceClassification: pooling must be 'mean' or 'last', got {pooling!r}"
            )
        self.num_labels, self.pooling = int(num_labels), pooling
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        weight = backbone.wte.weight
        self.head = nn.Linear(backbone.config.n_embd, num_labels, dtype=weight.dtype)
        with tinylm.no_grad():
            self.head.weight.normal_(0.0, 0.02)
            self.head.bias.zero_()

    def _mask(self, attention_mask: Any, shape: tuple[int, int]) -> np.ndarray:
        """The mask as a (B, T) float array of 0/1, checked to be right padding."""
        if attention_mask is None:
            return np.ones(shape)
        mask = attention_mask.numpy() if isinstance(attention_mask, Tensor) else attention_mask
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise TinyLMError(
                f"GPTForSequenceClassification: attention_mask has shape {mask.shape}, the "
                f"tokens {shape}"
            )
        if not np.isin(mask, (0, 1)).all():
            raise TinyLMError("GPTForSequenceClassification: attention_mask must hold 0s and 1s")
        lengths = mask.sum(axis=1)
        if (lengths == 0).any() or (mask != (np.arange(shape[1]) < lengths[:, None])).any():
            raise TinyLMError(
                "GPTForSequenceClassification: each row of attention_mask must be 1s then 0s "
                "with at least one 1 (right padding: a causal model must not attend to padding)"
            )
        return mask.astype(np.float64)

    def pool(self, hidden: Tensor, attention_mask: Any = None) -> Tensor:
        """hidden (B, T, C) → (B, C): the mean over each text's positions, or its last one."""
        B, T, _ = hidden.shape
        mask = self._mask(attention_mask, (B, T))
        if self.pooling == "last":
            last = mask.sum(axis=1).astype(np.int64) - 1
            return hidden[np.arange(B), last]
        weights = mask / mask.sum(axis=1, keepdims=True)  # m_t / Σ_t m_t
        w = tinylm.tensor(weights[:, :, None].astype(hidden.dtype), device=hidden.device)
        return (hidden * w).sum(dim=1)

    def forward(self, idx: Any, attention_mask: Any = None, labels: Any = None) -> ClassifierOutput:
        idx = _as_tensor(idx)
        hidden = self.backbone.hidden_states(idx)
        logits = self.head(self.dropout(self.pool(hidden, attention_mask)))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits, _as_tensor(labels))
        return ClassifierOutput(logits, loss)
