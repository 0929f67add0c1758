"""``torch.utils.data`` for ported training scripts: datasets, a loader that cuts them into
shuffled batches, and ``random_split``.

A *dataset* is anything with ``len(ds)`` and ``ds[i]``. The :class:`DataLoader` draws an order
of the indices (a permutation from tinylm's generator when ``shuffle``), cuts it into batches
of ``batch_size``, and *collates* each batch: the i-th fields of the items stacked into one
tensor with a new leading batch axis (:func:`default_collate`). Batches are made in this
process, one after another: ``num_workers`` and ``pin_memory`` are accepted and change nothing
but speed in PyTorch, so they change nothing here.

(tinylm's own corpora and batching for its lessons live in :mod:`tinylm.data`.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import stack, tensor
from tinylm.random import Generator, default_generator
from tinylm.tensor import Tensor

__all__ = [
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
]


class Dataset:
    """The base of map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Item i is ``(t[i] for t in tensors)``; every tensor has the same first extent N.

    ``TensorDataset(x, y)`` with x (N, ...) and y (N, ...) gives pairs (x[i], y[i])."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise TinyLMError("TensorDataset: give at least one tensor")
        sizes = {t.shape[0] if t.ndim else None for t in tensors}
        if len(sizes) != 1 or None in sizes:
            raise TinyLMError(
                "TensorDataset: every tensor needs the same first extent, got shapes "
                + ", ".join(str(t.shape) for t in tensors)
            )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _permutation(n: int, generator: Generator | None) -> list[int]:
    return (generator or default_generator).numpy.permutation(n).tolist()


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: Generator | None = None
) -> list[Subset]:
    """Disjoint random subsets of ``lengths`` items (or fractions of the dataset that add up
    to 1; the items left over by rounding down go one each to the first subsets, as PyTorch)."""
    n = len(dataset)
    if lengths and all(isinstance(x, float) for x in lengths):
        if not math.isclose(sum(lengths), 1.0) or any(x < 0 for x in lengths):
            raise TinyLMError(f"random_split: fractions must be ≥ 0 and sum to 1, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(x) for x in lengths]
        if any(c < 0 for c in counts) or sum(counts) != n:
            raise TinyLMError(
                f"random_split: lengths {list(lengths)} must be ≥ 0 and sum to the dataset's "
                f"length {n}"
            )
    order = _permutation(n, generator)
    starts = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(starts[:-1], starts[1:])]


def default_collate(batch: list[Any]) -> Any:
    """The items of a batch as one structure of batched tensors: tensors are stacked along a
    new first axis, NumPy arrays and numbers become tensors the same way, and tuples, lists
    and dicts are collated field by field (a list of (x, y) pairs → (X, Y))."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch, 0)
    if isinstance(first, np.ndarray | np.generic | int | float | bool):
        return tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, tuple | list):
        if any(len(b) != len(first) for b in batch):
            raise TinyLMError("default_collate: the items of a batch have different lengths")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    if isinstance(first, str):
        return list(batch)
    raise TinyLMError(
        f"default_collate: cannot batch items of type {type(first).__name__}; pass collate_fn="
    )


class DataLoader:
    """Batches of a dataset, as ``torch.utils.data.DataLoader``: ``for x, y in loader``.

    Args:
        dataset: anything with ``len`` and ``[i]``.
        batch_size: items per batch; None yields the items one by one, uncollated-batched.
        shuffle: a new random order every epoch (tinylm's generator, or ``generator``).
        collate_fn: items → batch (default :func:`default_collate`).
        drop_last: leave out a last batch smaller than ``batch_size``.
        num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor,
        persistent_workers: accepted; batches are made in this process.
        sampler, batch_sampler: not supported (one clear error).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if sampler is not None or batch_sampler is not None:
            raise TinyLMError(
                "DataLoader: sampler and batch_sampler are not supported; use shuffle= or a Subset"
            )
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
            raise TinyLMError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn = collate_fn or default_collate
        self.generator, self.num_workers = generator, num_workers

    def _order(self) -> list[int]:
        n = len(self.dataset)
        return _permutation(n, self.generator) if self.shuffle else list(range(n))

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[i]
            return
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            if self.drop_last and len(chunk) < self.batch_size:
                return
            yield self.collate_fn([self.dataset[i] for i in chunk])

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
