"""Small silent differences from PyTorch, now fixed, each checked against torch itself:
``stride()`` of an ``expand``ed view (PyTorch's strides for the size-1 dims). Skipped
without torch (a test-only dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm

torch = pytest.importorskip("torch")
from torch_parity import check_against_torch  # noqa: E402 - after the skip

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(23)


# ---- 1. stride() of an expanded view --------------------------------------------------------

EXPANDS: dict[str, Callable[[ModuleType], Any]] = {
    "new size-1 dim in front": lambda lib: lib.zeros(3, 1).expand(1, 3, 1),
    "kept size-1 dim before a repeated one": lambda lib: lib.zeros(1, 1).expand(1, 3),
    "new dim repeated": lambda lib: lib.zeros(3).expand(2, 1, 3),
    "transposed source": lambda lib: lib.zeros(3, 4).t().expand(1, 1, 4, 3),
    "strided source": lambda lib: lib.zeros(4, 6)[:, ::2].expand(1, 2, 4, 3),
    "middle size-1 dim": lambda lib: lib.zeros(2, 1, 3).expand(1, 2, 1, 3),
    "0-d to (1,)": lambda lib: lib.tensor(1.0).expand(1),
    "0-d to (3, 1)": lambda lib: lib.tensor(1.0).expand(3, 1),
    "expand_as": lambda lib: lib.zeros(3, 1).expand_as(lib.zeros(1, 3, 1)),
    "broadcast_to": lambda lib: lib.broadcast_to(lib.zeros(3, 1), (1, 3, 1)),
    "-1 sizes": lambda lib: lib.zeros(3, 1).expand(1, -1, 4),
}


@pytest.mark.parametrize("name", list(EXPANDS))
def test_expand_strides_are_torchs(name: str) -> None:
    ours, theirs = EXPANDS[name](tinylm), EXPANDS[name](torch)
    assert ours.shape == tuple(theirs.shape)
    assert ours.stride() == theirs.stride()
    assert [ours.stride(d) for d in range(ours.ndim)] == list(theirs.stride())


def test_expand_keeps_values_and_gradient() -> None:
    """Restriding the size-1 dims moves no element: values and the summed gradient stay."""
    a = RNG.standard_normal((3, 1))
    check_against_torch(lambda lib, t: t[0].expand(1, 3, 4) * 2, [a])
    check_against_torch(lambda lib, t: t[0].mT.expand(2, 1, 3), [a])
