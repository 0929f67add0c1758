"""An LSTM text classifier: the Keras program of document 001 §5.2, written with tinylm.

The document's listing::

    max_sequence_length = 100; vocab_size = 10000
    model = Sequential()
    model.add(Embedding(vocab_size, 50, input_length=max_sequence_length))
    model.add(LSTM(128))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    model.fit(X_train, y_train, epochs=10, batch_size=32)

Here, on the human-rated tweets of ``tinylm.data.load_sentiment`` (lesson 12's data, half
positive, so always answering one class scores 50 %):

* the words are Keras's ``Tokenizer(num_words=10000)``: lower case, punctuation removed, split
  on spaces, the 9 999 most frequent training words numbered 1.. by frequency, other words
  dropped; every text is padded with 0 to ``max_sequence_length`` = 100;
* ``Embedding(10000, 50)`` → ``nn.LSTM(50, 128)`` → the last state → ``Linear(128, 1)``;
  Dense's sigmoid and Keras's binary cross-entropy are ``F.binary_cross_entropy_with_logits``
  (the same loss, computed stably from the logit);
* Adam at Keras's default rate 1e-3, batch 32, 10 epochs, and after each epoch the train and
  validation (the ``dev`` split) loss and accuracy, as ``fit(validation_data=...)`` prints.

One difference: Keras pads in front (``padding="pre"``) so that the LSTM's last state comes
after the text. tinylm pads behind and passes each text's length (``lstm(x, lengths=...)``),
so the padding never enters the state at all (and the steps after the longest text of a batch
are skipped).

    python examples/lstm_classifier.py            # the document's 10 epochs
    python examples/lstm_classifier.py --fast     # 1/4 of the texts, 3 epochs, for the tests
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

import tinylm
import tinylm.nn.functional as F
from tinylm import nn
from tinylm.data import DataError, load_sentiment

#: the characters Keras's Tokenizer removes by default (its ``filters``)
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_REMOVE = str.maketrans({c: " " for c in KERAS_FILTERS})


def words(text: str) -> list[str]:
    """Keras's ``text_to_word_sequence``: lower case, filters removed, split on spaces."""
    return text.lower().translate(_REMOVE).split()


def build_vocabulary(texts: Sequence[str], num_words: int) -> dict[str, int]:
    """The ``num_words - 1`` most frequent words of ``texts``, numbered 1, 2, … by frequency
    (ties in order of first appearance, as Keras does); 0 is the padding."""
    counts = collections.Counter(w for text in texts for w in words(text))
    ranked = sorted(counts, key=lambda w: -counts[w])  # sorted() is stable: ties keep order
    return {w: i + 1 for i, w in enumerate(ranked[: num_words - 1])}


def encode(
    texts: Sequence[str], vocab: dict[str, int], max_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """ids (N, max_length) int64 padded with 0 behind, and lengths (N,) ≥ 1.

    Unknown words are dropped (Keras without ``oov_token``); a text left with no word keeps
    one padding step, so that the LSTM reads something; a longer text keeps its last
    ``max_length`` words (Keras's ``truncating="pre"``)."""
    ids = np.zeros((len(texts), max_length), dtype=np.int64)
    lengths = np.ones(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        known = [vocab[w] for w in words(text) if w in vocab][-max_length:]
        ids[i, : len(known)] = known
        lengths[i] = max(1, len(known))
    return ids, lengths


class LSTMClassifier(nn.Module):
    """Embedding(vocab, 50) → LSTM(128) → Linear(1): the logit of "positive" per text."""

    def __init__(self, vocab_size: int, embedding_dim: int = 50, hidden_size: int = 128):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> tinylm.Tensor:
        """ids (B, T), lengths (B,) → logits (B,)."""
        _, (h_n, _) = self.lstm(self.embedding(ids), lengths=lengths)
        return self.head(h_n[-1])[:, 0]


def run_epoch(model, ids, lengths, labels, batch_size, optimizer=None, rng=None, desc=""):
    """One pass in batches (training when ``optimizer`` is given); mean loss and accuracy."""
    model.train(optimizer is not None)
    order = rng.permutation(len(ids)) if rng is not None else np.arange(len(ids))
    total_loss, correct = 0.0, 0
    starts = range(0, len(order), batch_size)
    bar = tqdm(starts, desc=desc, leave=False, disable=not sys.stderr.isatty())
    with tinylm.set_grad_enabled(optimizer is not None):
        for start in bar:
            chosen = order[start : start + batch_size]
            target = tinylm.tensor(labels[chosen].astype(np.float32))
            logits = model(ids[chosen], lengths[chosen])
            loss = F.binary_cross_entropy_with_logits(logits, target)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(chosen)
            correct += int(((logits.detach().numpy() > 0) == (labels[chosen] == 1)).sum())
            bar.set_postfix(loss=f"{total_loss / (start + len(chosen)):.4f}")
    return total_loss / len(ids), correct / len(ids)


def fit(model, train, val, epochs, batch_size, lr, seed, report=print):
    """Adam + binary cross-entropy for ``epochs`` epochs; the per-epoch (train loss, train
    accuracy, val loss, val accuracy), each epoch also passed to ``report`` as one line."""
    optimizer = tinylm.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        loss, acc = run_epoch(model, *train, batch_size, optimizer, rng, f"epoch {epoch + 1}")
        val_loss, val_acc = run_epoch(model, *val, batch_size, desc="validation")
        history.append((loss, acc, val_loss, val_acc))
        report(
            f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - start:.1f}s - loss: {loss:.4f}"
            f" - accuracy: {acc:.4f} - val_loss: {val_loss:.4f} - val_accuracy: {val_acc:.4f}"
        )
    return history


def load_data(num_words: int, max_length: int):
    """(train, dev, test) as (ids, lengths, labels) each, and the vocabulary."""
    texts = {split: load_sentiment(split) for split in ("train", "dev", "test")}
    vocab = build_vocabulary(texts["train"][0], num_words)
    data = {s: (*encode(t, vocab, max_length), y) for s, (t, y) in texts.items()}
    return data["train"], data["dev"], data["test"], vocab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lstm_classifier.py",
        description="Document 001 §5.2's Keras LSTM classifier on labelled tweets, in tinylm.",
    )
    parser.add_argument("--epochs", type=int, help="the document's 10 (3 with --fast)")
    parser.add_argument("--batch-size", type=int, default=32, help="the document's 32")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's rate (Keras's 1e-3)")
    parser.add_argument("--max-length", type=int, default=100, help="padded length (100)")
    parser.add_argument("--vocab-size", type=int, default=10000, help="num_words (10 000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fast", action="store_true", help="a quarter of the training texts, 3 epochs (tests)"
    )
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 3 if args.fast else 10
    if min(args.epochs, args.batch_size, args.max_length) < 1 or args.vocab_size < 2:
        parser.error("--epochs, --batch-size, --max-length must be ≥ 1 and --vocab-size ≥ 2")
    if not args.lr > 0:
        parser.error("--lr must be > 0")
    try:
        train, dev, test, vocab = load_data(args.vocab_size, args.max_length)
        if args.fast:
            train = tuple(a[: len(a) // 4] for a in train)  # the split is already shuffled
    except DataError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(
        f"data: {len(train[0])} train, {len(dev[0])} validation, {len(test[0])} test tweets; "
        f"{len(vocab)} words kept (num_words={args.vocab_size}), padded to {args.max_length}"
    )
    tinylm.manual_seed(args.seed)
    model = LSTMClassifier(args.vocab_size)
    print(f"model: {model.num_parameters():,} parameters")
    majority = max(np.mean(dev[2]), 1 - np.mean(dev[2]))
    print(f"majority-class validation accuracy: {majority:.4f}")
    fit(model, train, dev, args.epochs, args.batch_size, args.lr, args.seed)
    test_loss, test_acc = run_epoch(model, *test, args.batch_size, desc="test")
    print(f"test loss: {test_loss:.4f} - test accuracy: {test_acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
