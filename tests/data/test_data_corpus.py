"""Default corpus, fallback corpus, normalisation and the checked file reader."""

from __future__ import annotations

import sys
import types
import warnings

import pytest

from tinylm.data import (
    DataError,
    load_default_corpus,
    load_fallback_corpus,
    load_text,
    normalize_text,
)


def test_default_corpus_is_large_plain_text():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real corpus must not fall back on CPython
        text = load_default_corpus()
    assert len(text.encode("utf-8")) >= 100_000
    assert 'The "assert" statement' in text
    assert text == normalize_text(text)  # already normalised
    assert not set(text) & set("\r\t\u2018\u2019\u201c\u201d\u2014")
    assert load_default_corpus() == text  # deterministic


def test_fallback_when_pydoc_data_missing(monkeypatch):
    # A None entry in sys.modules makes `import pydoc_data.topics` raise ImportError.
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)
    with pytest.warns(RuntimeWarning, match="fallback corpus"):
        text = load_default_corpus()
    assert text == load_fallback_corpus()
    assert 2_000 <= len(text) < 100_000


def test_fallback_when_topics_has_unexpected_shape(monkeypatch):
    fake = types.ModuleType("pydoc_data.topics")
    fake.topics = ["not", "a", "dict"]
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", fake)
    with pytest.warns(RuntimeWarning, match="fallback corpus"):
        assert load_default_corpus() == load_fallback_corpus()


def test_topics_are_joined_in_sorted_order(monkeypatch):
    fake = types.ModuleType("pydoc_data.topics")
    fake.topics = {"b": "\nSecond\u2019s  \r\n", "a": "First \u201cquoted\u201d\n\n\n\nend"}
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", fake)
    assert load_default_corpus() == 'First "quoted"\n\nend\n\nSecond\'s\n'


def test_normalize_text():
    assert normalize_text("a\r\nb\rc  \n\n\n\nd\t\u2026") == "a\nb\nc\n\nd    ...\n"
    assert normalize_text("e\u0301") == "\u00e9\n"  # NFC
    assert normalize_text(" \n\n ") == ""


def write(tmp_path, data: bytes, name="f.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_load_text_ok(tmp_path):
    body = "Line one.\r\nLine two é.\r\n" * 100
    path = write(tmp_path, b"\xef\xbb\xbf" + body.encode("utf-8"))  # with a BOM
    text = load_text(path)
    assert text == body.replace("\r\n", "\n")
    assert load_text(str(path), min_chars=len(text)) == text


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b" \n\t\n", "empty"),
        (b"abc\x00def" * 500, "binary"),
        ("x".encode("utf-16"), "binary"),
        ("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e. ".encode("latin-1") * 100, "not UTF-8"),
        (b"short text", "only 10 characters"),
    ],
)
def test_load_text_errors(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(DataError, match=message) as info:
        load_text(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_load_text_missing_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="folder"):
        load_text(tmp_path)


def test_load_text_tolerates_a_few_bad_bytes(tmp_path):
    path = write(tmp_path, b"good text " * 500 + b"\xff" + b"more text " * 500)
    with pytest.warns(RuntimeWarning, match="replaced 1 invalid"):
        text = load_text(path)
    assert text.count("\ufffd") == 1


def test_load_text_min_chars(tmp_path):
    path = write(tmp_path, b"tiny")
    assert load_text(path, min_chars=4) == "tiny"
    with pytest.raises(DataError, match="at least 5"):
        load_text(path, min_chars=5)


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)
