"""PyTorch as an independent oracle: forward values and gradients of composite expressions.

tinylm's ops follow PyTorch's names and semantics closely enough that one Python function,
given either library, builds the same expression. We run it in both, in float64, with the
same random upstream gradient, and compare outputs and every input's gradient. Unlike
gradcheck this has no finite-difference error, so the comparison is tight.

Skipped cleanly when torch is not installed (it is a test-only dependency, never imported
by tinylm itself).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinylm

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-10, 1e-12


def composite(lib: ModuleType, x: Any, w: Any, b: Any, mask: Any, idx: list[int]) -> list[Any]:
    """A small attention-like block touching most ops; x (B, T, C), w (C, C), b (C,)."""
    n_embd = x.shape[-1]
    h = (x @ w + b).tanh()  # broadcast bias, batched matmul
    att = (h @ h.transpose(-2, -1)) / n_embd**0.5
    att = att.masked_fill(mask, -1e9).softmax(-1)  # causal mask: (T, T) broadcast over B
    y = att @ h
    z = lib.cat([y, h.sigmoid()], -1)
    centred = z - z.mean(dim=-1, keepdim=True)
    normed = centred / (z.var(dim=-1, keepdim=True) + 1e-5).sqrt()
    outs = [
        normed,
        z.log_softmax(-1),
        z.logsumexp(dim=-1),
        (z * z + 1.0).log() + z.relu() - z.abs().clamp(0.1, 2.0),
        lib.maximum(y, h * 0.5) + lib.minimum(y, h.exp() - 1.0),
        lib.where(y > 0, y, h * 2.0),
        lib.stack([y, h], 0).sum(0).permute(2, 0, 1).reshape(n_embd, -1),
        y[:, idx] * 3.0,  # repeated indices: gradients must add up
        y.unsqueeze(0).expand(2, *y.shape).amax(dim=-1),
        z.std(dim=-1) ** 2 + 2.0 ** y.sum(-1),
        (h @ w.T).tril(-1) / (1.0 + y.flatten(1).pow(2).sum(-1).reshape(-1, 1, 1)),
    ]
    return outs


def _flip_last(t: Any) -> Any:
    """t[..., ::-1]: torch has no negative-step slicing, so index with a reversed range."""
    rev = list(range(t.shape[-1] - 1, -1, -1))
    return t[..., rev]


# Shape-preserving steps on (B, T, C), written once for both libraries.
STEPS: dict[str, Callable[[ModuleType, Any], Any]] = {
    "tanh": lambda lib, t: t.tanh(),
    "sigmoid": lambda lib, t: t.sigmoid() * 2.0 - 1.0,
    "softmax": lambda lib, t: t.softmax(-1) * t.shape[-1],
    "log_softmax": lambda lib, t: t.log_softmax(-2) / 4.0,
    "gauss": lambda lib, t: (-(t * t)).exp(),
    "sqrt": lambda lib, t: (t * t + 1.0).sqrt() - 1.0,
    "log": lambda lib, t: (t * t + 1.0).log(),
    "leaky": lambda lib, t: lib.where(t > 0, t, 0.1 * t),
    "relu_mix": lambda lib, t: (t - 0.1).relu() + t * 0.5,
    "clamp": lambda lib, t: t.clamp(-1.0, 1.0) + 0.1 * t,
    "abs": lambda lib, t: t.abs() - 0.5,
    "center": lambda lib, t: t - t.mean(dim=-1, keepdim=True),
    "shift_max": lambda lib, t: t - t.amax(-1, keepdim=True),
    "standardize": lambda lib, t: t / (t.std(dim=-1, keepdim=True) + 1.0),
    "tril": lambda lib, t: t.tril() + 0.5 * t,
    "flip_mix": lambda lib, t: t * _flip_last(t),
    "mix_max": lambda lib, t: lib.maximum(t, t.sum(-2, keepdim=True) * 0.2),
    "matmul": lambda lib, t: (t @ t.transpose(-1, -2) @ t) / (1.0 + t.shape[-1]),
    "pow": lambda lib, t: (t.abs() + 0.5) ** 1.5 - (t * t + 1.0) ** -0.5,
    "div": lambda lib, t: t / (t * t + 2.0),
    "square_sum": lambda lib, t: t * (t * t).sum(dim=(1, 2), keepdim=True) ** 0.5 / 4.0,
}


def _run(
    lib: ModuleType,
    make: Callable[[np.ndarray], Any],
    arrays: dict[str, np.ndarray],
    build: Callable[..., list[Any]],
    upstream: list[np.ndarray],
) -> tuple[list, dict]:
    """Build the expression in ``lib``, backprop Σ⟨out, u⟩, return outputs and gradients."""
    leaves = {k: make(v) for k, v in arrays.items()}
    outs = build(lib, leaves)
    to_np = (lambda t: t.detach().numpy()) if lib is torch else (lambda t: t.detach().numpy())
    total = sum((o * lib_tensor(lib, u)).sum() for o, u in zip(outs, upstream))
    total.backward()
    grads = {k: to_np(t.grad) for k, t in leaves.items()}
    return [to_np(o) for o in outs], grads


def lib_tensor(lib: ModuleType, a: np.ndarray) -> Any:
    return torch.from_numpy(a) if lib is torch else tinylm.tensor(a)


def _compare(build: Callable[..., list[Any]], arrays: dict[str, np.ndarray], seed: int) -> None:
    rng = np.random.default_rng(seed)
    # shapes of the outputs, from a forward pass without grad
    with tinylm.no_grad():
        shapes = [o.shape for o in build(tinylm, {k: tinylm.tensor(v) for k, v in arrays.items()})]
    upstream = [rng.standard_normal(s) for s in shapes]  # random, never all ones
    ours = _run(tinylm, lambda a: tinylm.tensor(a, requires_grad=True), arrays, build, upstream)
    theirs = _run(
        torch,
        lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True),
        arrays,
        build,
        upstream,
    )
    for i, (o, t) in enumerate(zip(ours[0], theirs[0])):
        assert o.shape == t.shape, f"output {i}: shape {o.shape} vs torch {t.shape}"
        np.testing.assert_allclose(o, t, rtol=RTOL, atol=ATOL, err_msg=f"output {i}")
    for name in arrays:
        np.testing.assert_allclose(
            ours[1][name], theirs[1][name], rtol=RTOL, atol=ATOL, err_msg=f"d/d{name}"
        )


@given(
    batch=st.integers(1, 3),
    time=st.integers(1, 4),
    channels=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_composite_expression_matches_torch(
    batch: int, time: int, channels: int, seed: int, data: Any
) -> None:
    rng = np.random.default_rng(seed)
    arrays = {
        "x": rng.standard_normal((batch, time, channels)),
        "w": rng.standard_normal((channels, channels)) / channels**0.5,
        "b": rng.standard_normal(channels),
    }
    causal = np.triu(np.ones((time, time), dtype=bool), 1)
    idx = data.draw(st.lists(st.integers(-time, time - 1), min_size=1, max_size=6), label="idx")

    def build(lib: ModuleType, t: dict[str, Any]) -> list[Any]:
        mask = torch.from_numpy(causal) if lib is torch else tinylm.tensor(causal)
        return composite(lib, t["x"], t["w"], t["b"], mask, idx)

    _compare(build, arrays, seed)


@given(
    steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=6),
    shape=st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(2, 4)),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_chain_of_ops_matches_torch(
    steps: list[str], shape: tuple[int, int, int], seed: int
) -> None:
    """A random sequence of shape-preserving steps, mixed with a second input by
    broadcasting after each step, so both inputs' gradients cross the whole chain."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(shape), "v": rng.standard_normal(shape[-1])}

    def build(lib: ModuleType, t: dict[str, Any]) -> list[Any]:
        h = t["x"]
        outs = []
        for name in steps:
            h = STEPS[name](lib, h) + 0.1 * t["v"]
            outs.append(h)
        return outs

    _compare(build, arrays, seed)
