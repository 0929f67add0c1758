"""train_val_split, get_batch and TextDataset."""

from __future__ import annotations

import numpy as np
import pytest

from tinylm.data import (
    BPETokenizer,
    CharTokenizer,
    TextDataset,
    get_batch,
    random_starts,
    train_val_split,
    windows,
)

TEXT = "It was the best of times, it was the worst of times. " * 40


def test_split_is_contiguous_views():
    ids = np.arange(100)
    train, val = train_val_split(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    assert np.shares_memory(train, ids)
    train, val = train_val_split(ids, 0.0)
    assert len(train) == 100 and len(val) == 0
    train, val = train_val_split(np.arange(5), 0.01)
    assert len(val) == 1  # a positive fraction always yields some validation data


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(np.arange(10), fraction)


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        train_val_split(np.zeros((2, 3)), 0.1)
    with pytest.raises(ValueError, match="too few"):
        train_val_split(np.arange(1), 0.5)


def test_get_batch_shapes_and_shift():
    data = np.arange(1000, dtype=np.uint16) * 3
    x, y = get_batch(data, batch_size=8, block_size=16, rng=np.random.default_rng(0))
    assert x.shape == y.shape == (8, 16)
    assert x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    # every row is a contiguous window of data, and y continues it by one token
    starts = x[:, 0] // 3
    for b in range(8):
        np.testing.assert_array_equal(x[b], data[starts[b] : starts[b] + 16])
        np.testing.assert_array_equal(y[b], data[starts[b] + 1 : starts[b] + 17])


def test_get_batch_is_reproducible():
    data = np.arange(500)
    a = get_batch(data, 4, 8, np.random.default_rng(42))
    b = get_batch(data, 4, 8, np.random.default_rng(42))
    c = get_batch(data, 4, 8, np.random.default_rng(43))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_get_batch_is_windows_at_random_starts():
    # The two halves the benchmark calls separately draw and gather exactly as get_batch.
    data = np.arange(700, dtype=np.uint16)[::-1] * 2
    x, y = get_batch(data, 5, 12, np.random.default_rng(7))
    starts = random_starts(len(data), 5, 12, np.random.default_rng(7))
    wx, wy = windows(data, starts, 12)
    np.testing.assert_array_equal(x, wx)
    np.testing.assert_array_equal(y, wy)
    assert wx.dtype == wy.dtype == np.int64
    np.testing.assert_array_equal(wx[:, 0], data[starts])


def test_get_batch_reaches_both_ends():
    # With block_size = N - 2 there are exactly two valid starts: 0 and 1.
    data = np.arange(10)
    x, y = get_batch(data, 200, 8, np.random.default_rng(0))
    assert set(x[:, 0].tolist()) == {0, 1}
    assert y.max() == 9  # the last token is reachable as a target


def test_get_batch_minimal_data():
    x, y = get_batch(np.arange(5), 3, 4, np.random.default_rng(0))
    assert (x == np.arange(4)).all() and (y == np.arange(1, 5)).all()


def test_get_batch_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="needs at least 9"):
        get_batch(np.arange(8), 2, 8, rng)
    with pytest.raises(ValueError, match="positive"):
        get_batch(np.arange(100), 0, 8, rng)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(np.zeros((10, 10)), 2, 4, rng)


def test_text_dataset_char():
    ds = TextDataset.from_text(TEXT, tokenizer="char", val_fraction=0.2)
    assert isinstance(ds.tokenizer, CharTokenizer)
    assert ds.train.dtype == ds.val.dtype == np.uint16
    assert len(ds.train) + len(ds.val) == len(TEXT)
    assert ds.tokenizer.decode(np.concatenate([ds.train, ds.val])) == TEXT
    assert ds.vocab_size == len(set(TEXT))
    x, y = ds.batch("val", 4, 32, np.random.default_rng(1))
    assert x.shape == (4, 32) and x.max() < ds.vocab_size
    with pytest.raises(ValueError, match="split"):
        ds.batch("test", 4, 32, np.random.default_rng(1))


def test_text_dataset_bpe_and_reuse():
    ds = TextDataset.from_text(TEXT, tokenizer="bpe", vocab_size=300)
    assert isinstance(ds.tokenizer, BPETokenizer) and ds.vocab_size <= 300
    assert len(ds.train) + len(ds.val) < len(TEXT)  # BPE compresses
    assert ds.tokenizer.decode(np.concatenate([ds.train, ds.val])) == TEXT
    again = TextDataset.from_text(TEXT[:500], tokenizer=ds.tokenizer)
    assert again.tokenizer is ds.tokenizer
    with pytest.raises(ValueError, match="tokenizer must be"):
        TextDataset.from_text(TEXT, tokenizer="word")
