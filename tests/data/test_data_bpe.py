"""BPETokenizer: training (checked against a naive reference), encoding, persistence."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinylm.data import (
    SPLIT_PATTERN,
    BPETokenizer,
    DataError,
    load_default_corpus,
    load_tokenizer,
)


@functools.lru_cache(maxsize=1)
def corpus() -> str:
    return load_default_corpus()


@functools.lru_cache(maxsize=1)
def trained() -> BPETokenizer:
    """One tokenizer shared by the tests below (training takes well under a second)."""
    return BPETokenizer.train(corpus()[:200_000], vocab_size=512)


def naive_train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Textbook BPE: recount every pair after every merge. Slow, obviously correct."""
    words = [list(c.encode("utf-8")) for c in re.findall(SPLIT_PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts: dict[tuple[int, int], int] = {}
        for w in words:
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + 1
        if not counts:
            break
        # most frequent; ties -> smallest pair
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words.append(out)
        words = new_words
    return merges


def test_chunks_cover_the_text():
    text = "Hello,   world! It's 2024_x\t\n\n  done...   é👍 __init__ 3.14"
    chunks = re.findall(SPLIT_PATTERN, text)
    assert "".join(chunks) == text
    assert " world" in chunks and "'s" in chunks and " 2024" in chunks


def test_training_matches_naive_reference():
    text = corpus()[:20_000]
    assert BPETokenizer.train(text, vocab_size=256 + 60).merges == naive_train(text, 256 + 60)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="ab c", max_size=60), st.integers(256, 280))
def test_training_matches_naive_reference_with_ties(text, vocab_size):
    # A tiny alphabet produces lots of equal counts and overlapping pairs like "aaa".
    assert BPETokenizer.train(text, vocab_size).merges == naive_train(text, vocab_size)


def test_training_is_deterministic():
    text = corpus()[:50_000]
    assert BPETokenizer.train(text, 400).merges == BPETokenizer.train(text, 400).merges


def test_vocab_size_and_early_stop():
    assert trained().vocab_size == 512
    tiny = BPETokenizer.train("abab", vocab_size=1000)
    assert tiny.vocab_size < 1000  # ran out of pairs: "abab" -> "ab ab" -> one token
    assert tiny.encode("abab") == [tiny.vocab_size - 1]
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("abc", vocab_size=100)


def test_compresses_english():
    tok = trained()
    held_out = corpus()[300_000:340_000]  # text not seen during training
    ids = tok.encode(held_out)
    n_bytes = len(held_out.encode("utf-8"))
    assert len(ids) < 0.6 * n_bytes
    assert tok.decode(ids) == held_out


def test_learned_tokens_look_like_english():
    tok = trained()
    learned = {tok.token_bytes(i) for i in range(256, tok.vocab_size)}
    assert {b" the", b"in"} <= learned
    # merges never cross chunk boundaries: no token mixes a letter with a following space
    assert not any(re.search(rb"[a-z] ", t) for t in learned)


@given(st.text())
def test_round_trip_any_unicode(text):
    tok = trained()
    assert tok.decode(tok.encode(text)) == text


def test_decode_numpy_and_invalid_ids():
    tok = trained()
    ids = tok.encode("the statement")
    assert tok.decode(np.array(ids, dtype=np.uint16)) == "the statement"
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([tok.vocab_size])
    # half of a multi-byte character decodes to U+FFFD instead of raising
    assert tok.decode(list("é".encode())[:1]) == "\ufffd"


def test_save_load_round_trip(tmp_path):
    tok = trained()
    path = tok.save(tmp_path / "bpe.json")
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["version"] == 1 and obj["type"] == "tinylm.BPETokenizer"
    assert all(isinstance(m, list) and len(m) == 2 for m in obj["merges"])
    loaded = BPETokenizer.load(path)
    assert loaded == tok
    text = corpus()[-5000:]
    assert loaded.encode(text) == tok.encode(text)
    assert load_tokenizer(path) == tok


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"type": "tinylm.CharTokenizer", "version": 1, "chars": ["a"]}, "not a tinylm.BPE"),
        ({"merges": [[1, 2]]}, "not a tinylm.BPE"),
        ({"type": "tinylm.BPETokenizer", "version": 2, "merges": []}, "version 2"),
        ({"type": "tinylm.BPETokenizer", "version": 1, "merges": {}}, "not a list"),
        ({"type": "tinylm.BPETokenizer", "version": 1, "merges": [[1]]}, "pair of ints"),
        ({"type": "tinylm.BPETokenizer", "version": 1, "merges": [[1, "a"]]}, "pair of ints"),
        ({"type": "tinylm.BPETokenizer", "version": 1, "merges": [[1, 256]]}, "not defined"),
        ({"type": "tinylm.BPETokenizer", "version": 1, "merges": [], "pattern": "("}, "corrupt"),
    ],
)
def test_load_corrupt_files(tmp_path, obj, message):
    path = tmp_path / "bpe.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        BPETokenizer.load(path)


def test_load_truncated_json(tmp_path):
    path = trained().save(tmp_path / "bpe.json")
    path.write_text(path.read_text(encoding="utf-8")[:100], encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        BPETokenizer.load(path)


def test_verbose_training_shows_progress(capsys):
    BPETokenizer.train("hello hello world", 260, verbose=True)
    assert "BPE merges" in capsys.readouterr().err
