"""Byte-level byte-pair-encoding (BPE) tokenizer, trained by tinylm itself.

The idea (Sennrich et al. 2016; the byte-level variant is GPT-2's):

1. Start from the 256 possible bytes: any text, in any script, is a sequence of UTF-8 bytes,
   so the base vocabulary can represent everything and there is no "unknown" token.
2. Count every pair of adjacent tokens in the training text. Take the most frequent pair,
   say ``(b"t", b"h")``, give it a new id (256, then 257, ...) and replace every occurrence
   of the pair by the new id. Repeat until the vocabulary has the requested size.
3. To encode new text, replay the merges in the order they were learned (by *rank*).

Frequent words end up as single tokens, rare words as a few pieces, and sequences get much
shorter than with one token per character (about 2-4 bytes per token on English text).

Before counting, the text is split into *chunks* (words, numbers, punctuation runs and
whitespace runs, see :data:`SPLIT_PATTERN`) and merges never cross a chunk boundary. This
keeps tokens meaningful (no token for ``"e. T"``) and makes training fast: a 1 MB text has
only a few tens of thousands of *distinct* chunks, so we count pairs once per distinct chunk,
weighted by how often the chunk occurs.

Example:
    >>> tok = BPETokenizer.train("the cat and the hat and the bat " * 20, vocab_size=260)
    >>> ids = tok.encode("the hat")
    >>> tok.decode(ids)
    'the hat'
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tinylm.data.errors import DataError
from tinylm.data.files import as_id_list, atomic_write_text, read_json_object

BPE_TYPE = "tinylm.BPETokenizer"  # the "type" field of a saved BPE tokenizer file
_BPE_VERSION = 1

#: How text is split into chunks before BPE. In order of preference, a chunk is:
#: an English contraction suffix (``'s``, ``'ll``...), a run of letters with an optional
#: leading space, a run of digits (optional leading space), a run of punctuation/symbols
#: (optional leading space; ``_`` counts as punctuation here), a run of whitespace that is
#: not followed by a non-space (so the *last* space before a word stays attached to the
#: word: ``" the"`` is one chunk), any remaining whitespace run, and finally any single
#: character, so that the chunks always cover the whole text (needed for lossless decoding).
SPLIT_PATTERN = (
    r"'(?:s|t|re|ve|m|ll|d)(?![^\W\d_])"
    r"| ?[^\W\d_]+"
    r"| ?\d+"
    r"| ?(?:[^\s\w]|_)+"
    r"|\s+(?!\S)"
    r"|\s+"
    r"|[\s\S]"
)

# Encoding caches the token ids of each distinct chunk; this bounds the cache's memory.
_CACHE_LIMIT = 100_000


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right)."""
    out: list[int] = []
    i, n = 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level BPE: 256 byte tokens plus one token per learned merge.

    Attributes:
        merges: ``merges[r] = (a, b)`` means token ``256 + r`` is the concatenation of tokens
            ``a`` and ``b``. The position ``r`` is the merge's *rank*: lower ranks were more
            frequent during training and are applied first when encoding.
        pattern: the regex used to split text into chunks (saved with the tokenizer so that
            encoding always splits exactly like training did).
    """

    def __init__(self, merges: Iterable[tuple[int, int]], pattern: str = SPLIT_PATTERN) -> None:
        """Build from a list of merges (use :meth:`train` or :meth:`load` to get one).

        Raises:
            ValueError: a merge is not a pair of ints, or refers to a token that does not
                exist yet at that point (merge ``r`` may only use ids below ``256 + r``).
        """
        self.merges: list[tuple[int, int]] = []
        for r, m in enumerate(merges):
            if (
                not isinstance(m, (tuple, list))
                or len(m) != 2
                or not all(isinstance(t, int) and not isinstance(t, bool) for t in m)
            ):
                raise ValueError(f"merge {r} must be a pair of ints, got {m!r}")
            a, b = m
            if not (0 <= a < 256 + r and 0 <= b < 256 + r):
                raise ValueError(f"merge {r} = {list(m)} uses a token id that is not defined yet")
            self.merges.append((a, b))
        self.pattern = pattern
        self._regex = re.compile(pattern)
        # rank of each pair, the lookup used by encode().
        self._ranks: dict[tuple[int, int], int] = {p: r for r, p in enumerate(self.merges)}
        # bytes of every token, built incrementally: a merged token is the concatenation of
        # its two parts, which were defined earlier.
        self._vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            self._vocab.append(self._vocab[a] + self._vocab[b])
        self._cache: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls, text: str, vocab_size: int, verbose: bool = False, pattern: str = SPLIT_PATTERN
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``.

        Args:
            text: training text (any unicode).
            vocab_size: final vocabulary size, at least 256 (the byte tokens). Training stops
                early, with a smaller vocabulary, if no pair occurs anymore (tiny texts).
            verbose: show a tqdm progress bar.
            pattern: chunk-splitting regex, see :data:`SPLIT_PATTERN`.

        Ties between equally frequent pairs are broken by the smaller pair ``(a, b)``, so the
        same text always gives the same tokenizer.

        Complexity: instead of recounting all pairs after every merge (O(text) per merge), we
        keep the pair counts and, per merge, only revisit the distinct chunks that contain the
        merged pair. The most frequent pair is found with a heap whose stale entries are
        skipped lazily.
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the byte tokens), got {vocab_size}")
        num_merges = vocab_size - 256

        # Distinct chunks with their frequencies: every pair inside a chunk counts `freq` times.
        chunk_counts = Counter(re.findall(pattern, text))
        words: list[list[int]] = [list(c.encode("utf-8")) for c in chunk_counts]
        freqs: list[int] = list(chunk_counts.values())

        pair_counts: dict[tuple[int, int], int] = {}
        where: dict[tuple[int, int], set[int]] = {}  # pair -> indices of words containing it
        for w, (word, f) in enumerate(zip(words, freqs)):
            for p in zip(word, word[1:]):
                pair_counts[p] = pair_counts.get(p, 0) + f
                where.setdefault(p, set()).add(w)

        # Max-heap via negated counts; the tuple order gives the deterministic tie-break.
        heap = [(-c, p) for p, c in pair_counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        bar = tqdm(total=num_merges, desc="BPE merges", disable=not verbose, unit="merge")
        while len(merges) < num_merges:
            # Pop until the top entry is up to date (counts change; old entries stay behind).
            best = None
            while heap:
                neg, p = heapq.heappop(heap)
                if pair_counts.get(p, 0) == -neg and -neg > 0:
                    best = p
                    break
            if best is None:
                break  # no pair left anywhere: the text is fully merged
            new_id = 256 + len(merges)
            merges.append(best)

            changed: set[tuple[int, int]] = set()
            for w in where.pop(best, ()):
                word, f = words[w], freqs[w]
                new_word = _merge(word, best, new_id)
                if len(new_word) == len(word):
                    continue  # stale index: this word no longer contains the pair
                # Remove the old word's pairs and add the new word's pairs. Words are short,
                # so this is cheaper and simpler than patching only the neighbours.
                for p in zip(word, word[1:]):
                    pair_counts[p] -= f
                    changed.add(p)
                for p in zip(new_word, new_word[1:]):
                    pair_counts[p] = pair_counts.get(p, 0) + f
                    where.setdefault(p, set()).add(w)
                    changed.add(p)
                words[w] = new_word
            pair_counts.pop(best, None)
            for p in changed:
                c = pair_counts.get(p, 0)
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    pair_counts.pop(p, None)
            bar.update(1)
        bar.close()
        return cls(merges, pattern=pattern)

    # ------------------------------------------------------------------ encode / decode
    @property
    def vocab_size(self) -> int:
        """256 byte tokens plus one per merge."""
        return 256 + len(self.merges)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes that token ``token_id`` stands for (handy to inspect what was learned)."""
        return self._vocab[as_id_list([token_id], self.vocab_size)[0]]

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Apply the merges, lowest rank first, to one chunk's bytes."""
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) >= 2:
            # The adjacent pair that was merged earliest during training goes first; this
            # reproduces exactly the tokens that training would have produced.
            best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 62))
            rank = ranks.get(best)
            if rank is None:
                break  # no adjacent pair is a known merge
            ids = _merge(ids, best, 256 + rank)
        return ids

    def encode(self, text: str) -> list[int]:
        """Text -> list of token ids.

        Never fails on real text, because the 256 byte tokens cover every UTF-8 byte. (Only
        strings holding lone surrogates, which have no UTF-8 form, raise UnicodeEncodeError.)
        """
        out: list[int] = []
        cache = self._cache
        for chunk in self._regex.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()  # crude but bounded; real texts repeat the same few chunks
                cache[chunk] = ids
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """List or numpy array of ids -> text.

        The concatenated bytes are decoded as UTF-8 with ``errors="replace"``: an arbitrary
        id sequence (for example sampled from a model) may cut a multi-byte character in
        half, which becomes U+FFFD instead of an exception.

        Raises:
            ValueError: an id is outside ``[0, vocab_size)``.
        """
        vocab = self._vocab
        data = b"".join(vocab[i] for i in as_id_list(ids, len(vocab)))
        return data.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write merges and split pattern as JSON (atomically) and return the path."""
        obj = {
            "type": BPE_TYPE,
            "version": _BPE_VERSION,
            "pattern": self.pattern,
            "merges": [list(m) for m in self.merges],
        }
        return atomic_write_text(path, json.dumps(obj) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            DataError: missing file, not JSON, not a BPETokenizer file, unsupported version,
                or corrupt merges/pattern.
        """
        obj = read_json_object(path, BPE_TYPE)
        if obj.get("version") != _BPE_VERSION:
            raise DataError(
                f"{path}: unsupported BPETokenizer file version {obj.get('version')!r} "
                f"(this tinylm reads version {_BPE_VERSION})"
            )
        merges, pattern = obj.get("merges"), obj.get("pattern", SPLIT_PATTERN)
        if not isinstance(merges, list):
            raise DataError(f"{path}: corrupt BPETokenizer file ('merges' is not a list)")
        if not isinstance(pattern, str):
            raise DataError(f"{path}: corrupt BPETokenizer file ('pattern' is not a string)")
        try:
            return cls(merges, pattern=pattern)
        except (ValueError, re.error) as e:
            raise DataError(f"{path}: corrupt BPETokenizer file ({e})") from None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BPETokenizer)
            and self.merges == other.merges
            and self.pattern == other.pattern
        )

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"
