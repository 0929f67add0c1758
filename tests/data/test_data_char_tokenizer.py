"""CharTokenizer: vocabulary, round trips, errors, JSON persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinylm.data import CharTokenizer, DataError, load_tokenizer


def test_vocab_is_sorted_unique_chars():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.vocab_size == 8
    assert tok.encode("hello") == [3, 2, 4, 4, 5]


@given(st.text(min_size=1))
def test_round_trip_any_text(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_decode_accepts_numpy_arrays():
    tok = CharTokenizer.from_text("abc")
    ids = np.array([2, 1, 0], dtype=np.uint16)
    assert tok.decode(ids) == "cba"
    assert tok.decode(np.array([[0, 1], [2, 0]], dtype=np.int64)) == "abca"
    assert tok.decode(np.array([], dtype=np.int64)) == ""


def test_decode_rejects_out_of_range_and_float_ids():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([-1])  # no silent negative indexing
    with pytest.raises(ValueError, match="integers"):
        tok.decode(np.array([0.0, 1.0]))


def test_unknown_characters_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\).*'x', 'z'"):
        tok.encode("abzcx")


def test_empty_text_rejected():
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")


def test_save_load_round_trip(tmp_path):
    text = "Ünïcödé and emoji 🙂, tabs\tand\nnewlines"
    tok = CharTokenizer.from_text(text)
    path = tok.save(tmp_path / "sub" / "tok.json")  # creates the folder
    assert path == tmp_path / "sub" / "tok.json"
    loaded = CharTokenizer.load(path)
    assert loaded == tok
    assert loaded.decode(loaded.encode(text)) == text
    assert isinstance(load_tokenizer(path), CharTokenizer)
    # Atomic write leaves no temporary files behind.
    assert [p.name for p in path.parent.iterdir()] == ["tok.json"]


def test_save_overwrites(tmp_path):
    path = tmp_path / "tok.json"
    CharTokenizer.from_text("ab").save(path)
    CharTokenizer.from_text("xyz").save(path)
    assert CharTokenizer.load(path).chars == ["x", "y", "z"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"hello": 1}', "not a tinylm.CharTokenizer file"),
        ('{"type": "tinylm.BPETokenizer", "version": 1, "merges": []}', "not a tinylm.Char"),
        ('{"type": "tinylm.CharTokenizer", "version": 99, "chars": ["a"]}', "version 99"),
        ('{"type": "tinylm.CharTokenizer", "version": 1, "chars": "ab"}', "not a list"),
        ('{"type": "tinylm.CharTokenizer", "version": 1, "chars": ["ab"]}', "single char"),
        ('{"type": "tinylm.CharTokenizer", "version": 1, "chars": ["a", "a"]}', "duplicate"),
        ('{"type": "tinylm.CharTokenizer", "version": 1, "chars": []}', "empty"),
    ],
)
def test_load_corrupt_files(tmp_path, content, message):
    path = tmp_path / "tok.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        CharTokenizer.load(path)


def test_load_missing_and_binary(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        CharTokenizer.load(tmp_path / "nope.json")
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="invalid UTF-8"):
        CharTokenizer.load(path)


def test_load_tokenizer_rejects_foreign_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"type": "something-else"}), encoding="utf-8")
    with pytest.raises(DataError, match="not a tinylm tokenizer"):
        load_tokenizer(path)
