"""``tinylm.utils.data``, ``tinylm.cuda`` and ``inference_mode`` against PyTorch's: the first
lines of most PyTorch training scripts (pick a device, wrap tensors in a dataset, loop over a
DataLoader) run unchanged. Orders that PyTorch draws from its own generator are compared by
what they must be (a permutation, reproducible under a seed), not number for number."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

LIBS = pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])


def _batches(lib: Any, **kw: Any) -> list[list[list[float]]]:
    x = lib.arange(14.0).reshape(7, 2)
    y = lib.arange(7)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), **kw)
    out = [[xb.tolist(), yb.tolist()] for xb, yb in loader]
    assert len(loader) == len(out)
    return out


@pytest.mark.parametrize(
    "kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=7), dict()]
)
def test_dataloader_batches_in_order_as_torch(kw: dict) -> None:
    assert _batches(tinylm, **kw) == _batches(torch, **kw)


@LIBS
def test_dataloader_shuffles_every_epoch_and_covers_every_item(lib: Any) -> None:
    lib.manual_seed(0)
    epochs = [_batches(lib, batch_size=3, shuffle=True) for _ in range(3)]
    orders = [[i for batch in epoch for i in batch[1]] for epoch in epochs]
    assert all(sorted(o) == list(range(7)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1  # a new order each epoch
    lib.manual_seed(0)
    assert [_batches(lib, batch_size=3, shuffle=True) for _ in range(3)] == epochs  # seeded


def test_default_collate_batches_tuples_dicts_arrays_and_numbers_as_torch() -> None:
    items = [
        {"x": np.array([1.0, 2.0]), "y": 3, "pair": (np.float64(0.5), 4)},
        {"x": np.array([5.0, 6.0]), "y": 7, "pair": (np.float64(1.5), 8)},
    ]

    def run(lib: Any) -> Any:
        def plain(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            return (v.tolist(), str(v.dtype).split(".")[-1])

        loader = lib.utils.data.DataLoader(items, batch_size=2)
        return plain(next(iter(loader)))

    assert run(tinylm) == run(torch)


@pytest.mark.parametrize("lengths", [[3, 4], [0.5, 0.5], [0.2, 0.3, 0.5]])
@LIBS
def test_random_split_gives_disjoint_subsets_of_torchs_sizes(lib: Any, lengths: list) -> None:
    lib.manual_seed(1)
    parts = lib.utils.data.random_split(list(range(7)), lengths)
    sizes = [len(p) for p in parts]
    items = [p[i] for p in parts for i in range(len(p))]
    assert sorted(items) == list(range(7))
    torch.manual_seed(1)
    assert sizes == [len(p) for p in torch.utils.data.random_split(list(range(7)), lengths)]


@LIBS
def test_cuda_queries_and_inference_mode(lib: Any) -> None:
    device = "cuda" if lib.cuda.is_available() else "cpu"
    assert lib.zeros(2, device=device).device.type == device
    assert isinstance(lib.cuda.device_count(), int)
    lib.cuda.manual_seed_all(0)  # seeding scripts call it on any machine
    x = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        assert not (x * 2).requires_grad
    with lib.inference_mode(False):
        assert (x * 2).requires_grad

    @lib.inference_mode()
    def f(t: Any) -> Any:
        return t * 3

    assert not f(x).requires_grad and (x * 3).requires_grad


@pytest.mark.parametrize(
    "make",
    [
        lambda: tinylm.utils.data.TensorDataset(tinylm.zeros(3), tinylm.zeros(4)),
        lambda: tinylm.utils.data.DataLoader([1, 2], batch_size=0),
        lambda: tinylm.utils.data.DataLoader([1, 2], sampler=[0, 1]),
        lambda: tinylm.utils.data.random_split(list(range(5)), [2, 2]),
        lambda: list(tinylm.utils.data.DataLoader([object(), object()], batch_size=2)),
    ],
)
def test_data_misuse_is_one_clear_line(make: Any) -> None:
    with pytest.raises(TinyLMError) as info:
        make()
    assert "\n" not in str(info.value)
