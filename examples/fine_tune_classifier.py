"""Fine-tune a pre-trained GPT to tell positive tweets from negative ones.

The program of 002_6ae599b70abe176c.txt §5.2 — a pre-trained model with a sequence
classification head, AdamW at 2e-5, a training function, an evaluation function, and the dev
and test accuracy printed after every epoch — written with tinylm:

* the pre-trained model is ``tinylm.models.pretrained_backbone()``: a character-level GPT
  trained on the built-in corpus (trained on the first run, then loaded from the cache);
* ``GPTForSequenceClassification`` adds the head (mean of the hidden states → dropout →
  Linear(2)) and returns ``.logits`` and, given labels, ``.loss``;
* the data are the human-rated tweets of ``tinylm.data.load_sentiment`` (see
  ``tinylm/data/sentiment.py`` for their source and construction);
* as in BERT's fine-tuning recipe, the learning rate warms up linearly over the first 10 %
  of the steps and then decays linearly to 0 (``get_linear_schedule_with_warmup``).

Two things differ from the document's listing: its ``evaluate`` takes ``argmax(dim=2)`` of
logits that have two dimensions (batch, classes) — the class is ``argmax(dim=-1)`` — and
``--regime`` also runs the other two ways to fine-tune that lesson 12 compares: the head
alone on a frozen backbone, and LoRA adapters.

    python examples/fine_tune_classifier.py                  # full fine-tuning, lr 2e-5
    python examples/fine_tune_classifier.py --lr 1e-3        # the rate this small model needs
    python examples/fine_tune_classifier.py --regime lora --lr 3e-3 --save out/lora.npz
    python examples/fine_tune_classifier.py --fast           # seconds: tiny backbone, 1/8 of data
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

import tinylm
from tinylm import nn
from tinylm.autograd import TinyLMError
from tinylm.data import DataError, classification_batches, load_sentiment
from tinylm.models import GPTForSequenceClassification, pretrained_backbone
from tinylm.optim.lr_scheduler import get_linear_schedule_with_warmup


class Dataset(NamedTuple):
    texts: list[str]
    labels: np.ndarray


def load_dataset(split: str, limit: int | None) -> Dataset:
    texts, labels = load_sentiment(split)
    return Dataset(texts[:limit], labels[:limit])


def train_epoch(model, dataset, tokenizer, batch_size, optimizer, scheduler, rng) -> float:
    """One pass over the training set in shuffled batches; returns the mean loss."""
    model.train()
    losses = []
    block = model.backbone.config.block_size
    for input_ids, attention_mask, labels in classification_batches(
        dataset.texts, dataset.labels, tokenizer, batch_size, block, rng
    ):
        model.zero_grad()
        outputs = model(input_ids, attention_mask=attention_mask, labels=labels)
        outputs.loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(outputs.loss.item())
    return float(np.mean(losses))


@tinylm.no_grad()
def evaluate(model, dataset, tokenizer, batch_size) -> tuple[list[int], list[int]]:
    """The predicted and the true class of every example (model in eval mode: no dropout)."""
    model.eval()
    preds, labels = [], []
    block = model.backbone.config.block_size
    for input_ids, attention_mask, batch_labels in classification_batches(
        dataset.texts, dataset.labels, tokenizer, batch_size, block
    ):
        outputs = model(input_ids, attention_mask=attention_mask)
        preds += outputs.logits.numpy().argmax(axis=-1).tolist()
        labels += batch_labels.tolist()
    return preds, labels


def accuracy(preds, labels) -> float:
    return sum(int(pred == label) for pred, label in zip(preds, labels)) / len(labels)


def fine_tune(model, tokenizer, train, dev, test, optimizer, scheduler, epochs, batch_size, seed):
    """The document's loop: train an epoch, then report dev and test accuracy."""
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        loss = train_epoch(model, train, tokenizer, batch_size, optimizer, scheduler, rng)
        dev_acc = accuracy(*evaluate(model, dev, tokenizer, batch_size))
        test_acc = accuracy(*evaluate(model, test, tokenizer, batch_size))
        print(
            f"Epoch {epoch + 1}, train loss: {loss:.4f}, dev accuracy: {dev_acc:.4f}, "
            f"test accuracy: {test_acc:.4f}",
            flush=True,
        )
        history.append((loss, dev_acc, test_acc))
    return history


def build_model(regime: str, backbone, lora_rank: int) -> GPTForSequenceClassification:
    """The classifier, with what ``regime`` trains left trainable."""
    model = GPTForSequenceClassification(backbone, num_labels=2)
    if regime in ("head", "lora"):
        model.backbone.requires_grad_(False)
    if regime == "lora":
        nn.apply_lora(model.backbone, ("c_attn",), r=lora_rank, lora_alpha=2 * lora_rank)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fine_tune_classifier.py",
        description="Fine-tune a pre-trained tinylm GPT on labelled tweets (002 §5.2).",
    )
    parser.add_argument("--regime", choices=("full", "head", "lora"), default="full")
    parser.add_argument("--epochs", type=int, help="the document's 5 (2 with --fast)")
    parser.add_argument("--batch-size", type=int, default=16, help="the document's 16")
    parser.add_argument("--lr", type=float, default=2e-5, help="AdamW's peak rate (2e-5)")
    parser.add_argument("--warmup", type=float, default=0.1, help="warm-up share of the steps")
    parser.add_argument("--lora-rank", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="save what was trained (.npz)")
    parser.add_argument(
        "--fast", action="store_true", help="a tiny backbone and 1/8 of the data, for tests"
    )
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.fast else 5
    if args.epochs < 1 or args.batch_size < 1 or args.lora_rank < 1:
        parser.error("--epochs, --batch-size and --lora-rank must be at least 1")
    if not args.lr > 0 or not 0 <= args.warmup < 1:
        parser.error("--lr must be > 0 and --warmup in [0, 1)")
    try:
        limit = 8 if args.fast else 1
        train = load_dataset("train", len(load_sentiment("train")[0]) // limit)
        dev = load_dataset("dev", len(load_sentiment("dev")[0]) // limit)
        test = load_dataset("test", len(load_sentiment("test")[0]) // limit)
        start = time.perf_counter()
        backbone, tokenizer, info = pretrained_backbone("fast" if args.fast else "default")
    except (DataError, TinyLMError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    how = "trained now" if info["trained_now"] else "from the cache"
    print(
        f"backbone {info['name']!r} ({how}, {time.perf_counter() - start:.1f} s): "
        f"{backbone.num_parameters():,} parameters, validation loss {info['val_loss']:.3f}"
    )
    print(f"data: {len(train.texts)} train, {len(dev.texts)} dev, {len(test.texts)} test tweets")

    tinylm.manual_seed(args.seed)
    model = build_model(args.regime, backbone, args.lora_rank)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = tinylm.optim.AdamW(trainable, lr=args.lr)
    steps = args.epochs * -(-len(train.texts) // args.batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup * steps), steps)
    print(
        f"regime {args.regime}: {model.num_parameters(trainable_only=True):,} of "
        f"{model.num_parameters():,} parameters trained, {steps} steps at peak lr {args.lr:g}"
    )
    before = accuracy(*evaluate(model, dev, tokenizer, args.batch_size))
    print(f"Before fine-tuning, dev accuracy: {before:.4f}")
    start = time.perf_counter()
    fine_tune(
        model,
        tokenizer,
        train,
        dev,
        test,
        optimizer,
        scheduler,
        args.epochs,
        args.batch_size,
        args.seed,
    )
    print(f"fine-tuning took {time.perf_counter() - start:.1f} s")
    if args.save:
        # what was trained, alone: the head, plus the adapters for LoRA (the backbone is
        # the cached one; the full regime changed it all, so it is saved whole)
        if args.regime == "full":
            state = model.state_dict()
        else:
            state = {**model.head.state_dict(prefix="head."), **nn.lora_state_dict(model)}
        args.save.parent.mkdir(parents=True, exist_ok=True)
        tinylm.save(dict(state), args.save)
        print(f"saved {len(state)} tensors to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
