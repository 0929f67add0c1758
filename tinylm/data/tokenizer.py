"""Character-level tokenizer and the interface every tinylm tokenizer follows.

A tokenizer turns text into a list of integer *token ids* (what the model sees) and back.
The simplest useful tokenizer gives every distinct character its own id: the vocabulary is
tiny (about 65 symbols for Shakespeare), so the model's embedding and output layers are
small, at the price of long sequences (one token per character).

Example:
    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.vocab_size
    4
    >>> tok.encode("hell")
    [1, 0, 2, 2]
    >>> tok.decode([1, 0, 2, 2, 3])
    'hello'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from tinylm.data.bpe import BPE_TYPE, BPETokenizer
from tinylm.data.errors import DataError
from tinylm.data.files import as_id_list, atomic_write_text, read_json_object

_CHAR_TYPE = "tinylm.CharTokenizer"
_CHAR_VERSION = 1


@runtime_checkable
class Tokenizer(Protocol):
    """What the rest of tinylm expects from a tokenizer (structural type, no base class)."""

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids; valid ids are ``0 .. vocab_size - 1``."""
        ...

    def encode(self, text: str) -> list[int]:
        """Text -> token ids."""
        ...

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Token ids -> text."""
        ...

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the tokenizer to a JSON file."""
        ...


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of characters of a text.

    Attributes:
        chars: the vocabulary, ``chars[i]`` is the character with id ``i`` (sorted by code
            point, so the same text always gives the same ids).
    """

    def __init__(self, chars: Iterable[str]) -> None:
        """Build from an explicit vocabulary (each element must be a single character).

        Use :meth:`from_text` to build it from a corpus.
        """
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary contains duplicate characters")
        if not chars:
            raise ValueError("vocabulary is empty")
        self.chars: list[str] = chars
        self._stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Vocabulary = sorted unique characters of ``text`` (must be non-empty)."""
        if not text:
            raise ValueError("cannot build a CharTokenizer from an empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        """Number of characters in the vocabulary."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text -> list of ids, one per character (``len(result) == len(text)``).

        Raises:
            ValueError: ``text`` contains characters that are not in the vocabulary; the
                message lists them (a model cannot represent a character it never saw).
        """
        stoi = self._stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            # Only on the error path do we pay for finding *all* unknown characters.
            unknown = sorted(set(text) - stoi.keys())
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise ValueError(
                f"{len(unknown)} character(s) not in the tokenizer's vocabulary: {shown}{more}"
            ) from None

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """List or numpy array of ids -> text.

        Raises:
            ValueError: an id is outside ``[0, vocab_size)``.
        """
        chars = self.chars
        return "".join(chars[i] for i in as_id_list(ids, len(chars)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON (atomically) and return the path."""
        obj = {"type": _CHAR_TYPE, "version": _CHAR_VERSION, "chars": self.chars}
        # ensure_ascii=False keeps the file human-readable; it is always written as UTF-8.
        return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharTokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            DataError: missing file, not JSON, not a CharTokenizer file, or corrupt content.
        """
        obj = read_json_object(path, _CHAR_TYPE)
        if obj.get("version") != _CHAR_VERSION:
            raise DataError(
                f"{path}: unsupported CharTokenizer file version {obj.get('version')!r} "
                f"(this tinylm reads version {_CHAR_VERSION})"
            )
        chars = obj.get("chars")
        if not isinstance(chars, list):
            raise DataError(f"{path}: corrupt CharTokenizer file ('chars' is not a list)")
        try:
            return cls(chars)
        except ValueError as e:
            raise DataError(f"{path}: corrupt CharTokenizer file ({e})") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def load_tokenizer(path: str | os.PathLike[str]) -> CharTokenizer | BPETokenizer:
    """Load a tokenizer saved by either :class:`CharTokenizer` or :class:`BPETokenizer`.

    The JSON ``"type"`` field says which class wrote the file, so callers (for example code
    that restores a checkpoint) need not remember it.

    Raises:
        DataError: missing file, not JSON, or not a tinylm tokenizer file.
    """
    obj = read_json_object(path, expected_type=None)
    kind = obj.get("type")
    if kind == _CHAR_TYPE:
        return CharTokenizer.load(path)
    if kind == BPE_TYPE:
        return BPETokenizer.load(path)
    raise DataError(
        f"{path}: not a tinylm tokenizer file (its 'type' field is {kind!r}, "
        f"expected {_CHAR_TYPE!r} or {BPE_TYPE!r})"
    )
