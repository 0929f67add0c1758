"""Turning one long array of token ids into training batches for a language model.

A language model is trained to predict token ``t+1`` from tokens ``0..t``. So a training
example is a window ``x`` of ``block_size`` consecutive tokens, and its target ``y`` is the
same window shifted one position to the right::

    data:  [ 5, 9, 2, 7, 3, 8, ... ]
    x:        [ 9, 2, 7 ]            (block_size = 3, window starting at index 1)
    y:           [ 2, 7, 3 ]         (y[t] is the token that follows x[t])

A batch stacks ``batch_size`` such windows taken at random positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tinylm.data.bpe import BPETokenizer
from tinylm.data.tokenizer import CharTokenizer


def train_val_split(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split a 1-D token array into a training part and a validation part.

    The split is *contiguous*: the last ``val_fraction`` of the array is validation. A random
    split would put overlapping windows of the same passage on both sides, and the
    validation loss would then measure memorisation rather than generalisation.

    Args:
        ids: 1-D array of token ids, shape ``(N,)``.
        val_fraction: fraction in ``[0, 1)`` that goes to validation (rounded to the nearest
            token; at least one token when the fraction is positive).

    Returns:
        ``(train, val)`` with shapes ``(N - n_val,)`` and ``(n_val,)``. They are *views* of
        ``ids`` (no copy).
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(ids)
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n - n_val < 1:
        raise ValueError(f"{n} tokens are too few to split with val_fraction={val_fraction}")
    return ids[: n - n_val], ids[n - n_val :]


def get_batch(
    data: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``batch_size`` random windows of ``block_size`` tokens and their targets.

    Args:
        data: 1-D array of token ids, shape ``(N,)`` with ``N >= block_size + 1``.
        batch_size: ``B``, number of windows.
        block_size: ``T``, tokens per window (the model's context length).
        rng: source of randomness; the same seed gives the same batches.

    Returns:
        ``(x, y)``, both int64 of shape ``(B, T)``, with ``y[b, t] == data[s_b + t + 1]`` and
        ``x[b, t] == data[s_b + t]`` for a random start ``s_b`` per row.

    Raises:
        ValueError: ``data`` is not 1-D, the sizes are not positive, or ``data`` is shorter
            than ``block_size + 1`` (the target needs one token past the window).
    """
    data = np.asarray(data)
    if data.ndim != 1:
        raise ValueError(f"data must be 1-D, got shape {data.shape}")
    if batch_size < 1 or block_size < 1:
        raise ValueError(
            f"batch_size and block_size must be positive, got {batch_size} and {block_size}"
        )
    if len(data) < block_size + 1:
        raise ValueError(
            f"data has {len(data)} tokens, but block_size={block_size} needs at least "
            f"{block_size + 1} (use a smaller block_size or more text)"
        )
    return windows(data, random_starts(len(data), batch_size, block_size, rng), block_size)


def random_starts(
    n_tokens: int, batch_size: int, block_size: int, rng: np.random.Generator
) -> np.ndarray:
    """``batch_size`` random window starts for :func:`windows`, int64 ``(B,)``.

    Valid starts are ``0 .. N - T - 1`` so that the target's last token, ``data[start + T]``,
    exists. These are the draws :func:`get_batch` makes, so the same ``rng`` state gives the
    same batches.
    """
    return rng.integers(0, n_tokens - block_size, size=batch_size)


def windows(data: np.ndarray, starts: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows of ``block_size`` tokens at ``starts`` ``(B,)`` and their targets.

    Returns ``(x, y)``, int64 ``(B, T)`` each: ``x[b, t] = data[starts[b] + t]`` and
    ``y[b, t] = data[starts[b] + t + 1]``.
    """
    # (B, 1) + (T,) broadcasts to a (B, T) index array: one fancy-indexing gather for the whole
    # batch instead of a Python loop over rows.
    idx = np.asarray(starts)[:, None] + np.arange(block_size)
    return data[idx].astype(np.int64), data[idx + 1].astype(np.int64)


def _ids_dtype(vocab_size: int) -> type[np.integer]:
    """Smallest sensible integer dtype for token ids: uint16 covers vocabularies <= 65536."""
    return np.uint16 if vocab_size <= 1 << 16 else np.int32


@dataclass
class TextDataset:
    """A tokenizer plus the tokenized text, already split for training and validation.

    Attributes:
        tokenizer: the :class:`CharTokenizer` or :class:`BPETokenizer` used.
        train: training token ids, shape ``(N_train,)``, dtype uint16 (int32 for
            vocabularies above 65536) to keep large corpora small in memory.
        val: validation token ids, shape ``(N_val,)``, same dtype.
    """

    tokenizer: CharTokenizer | BPETokenizer
    train: np.ndarray
    val: np.ndarray

    @classmethod
    def from_text(
        cls,
        text: str,
        tokenizer: Literal["char", "bpe"] | CharTokenizer | BPETokenizer = "char",
        vocab_size: int = 512,
        val_fraction: float = 0.1,
        verbose: bool = False,
    ) -> TextDataset:
        """Build (or reuse) a tokenizer, encode ``text`` and split it.

        Args:
            text: the whole corpus.
            tokenizer: ``"char"`` (vocabulary from ``text``), ``"bpe"`` (trained on ``text``
                with ``vocab_size`` tokens), or an existing tokenizer to reuse.
            vocab_size: BPE vocabulary size; ignored for ``"char"`` and ready tokenizers.
            val_fraction: fraction of tokens (at the end) kept for validation.
            verbose: progress bar while training BPE.

        Note: the tokenizer is trained on the whole text, validation part included. That only
        decides how text is cut into tokens, not what the model learns, and it guarantees that
        every validation character can be encoded.
        """
        tok: CharTokenizer | BPETokenizer
        if tokenizer == "char":
            tok = CharTokenizer.from_text(text)
        elif tokenizer == "bpe":
            tok = BPETokenizer.train(text, vocab_size, verbose=verbose)
        elif isinstance(tokenizer, (CharTokenizer, BPETokenizer)):
            tok = tokenizer
        else:
            raise ValueError(f"tokenizer must be 'char', 'bpe' or a tokenizer, got {tokenizer!r}")
        ids = np.asarray(tok.encode(text), dtype=_ids_dtype(tok.vocab_size))
        train, val = train_val_split(ids, val_fraction)
        return cls(tokenizer=tok, train=train, val=val)

    @property
    def vocab_size(self) -> int:
        """The tokenizer's vocabulary size (what the model's embedding needs)."""
        return self.tokenizer.vocab_size

    def batch(
        self,
        split: Literal["train", "val"],
        batch_size: int,
        block_size: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`get_batch` on the ``"train"`` or ``"val"`` ids; int64 ``(B, T)`` each."""
        if split == "train":
            data = self.train
        elif split == "val":
            data = self.val
        else:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return get_batch(data, batch_size, block_size, rng)
