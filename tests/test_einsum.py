"""tinylm.einsum: values and gradients against PyTorch's einsum (float64, random upstream
gradients, strided operands), finite differences over hypothesis shapes, and one clear line
for every equation it cannot take."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinylm
from tinylm import TinyLMError
from tinylm.testing import gradcheck

RNG = np.random.default_rng(7)

EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),  # matmul
    ("bqd,bkd->bqk", [(2, 3, 4), (2, 5, 4)]),  # attention scores Q Kᵀ
    ("bhqk,bhkd->bhqd", [(2, 2, 3, 5), (2, 2, 5, 4)]),  # probabilities times values
    ("i,i->", [(6,), (6,)]),  # dot product
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("ij->ji", [(3, 4)]),  # transpose
    ("ij->", [(3, 4)]),  # sum of everything
    ("ij->j", [(3, 4)]),  # a letter summed away: every entry gets the gradient
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output: "ik"
    ("ba,ca", [(3, 4), (5, 4)]),  # implicit output sorted: "bc"
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # broadcast batch dims
    ("...i->i", [(2, 3, 4)]),  # "..." summed away
    ("...ij,...jk", [(3, 4), (2, 4, 5)]),
    ("ij,jk->ik", [(3, 1), (4, 5)]),  # a size-1 axis broadcast against 4
    ("ij,jk->ik", [(3, 4), (1, 5)]),  # ... and the other way round
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),  # three operands
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),  # a bilinear layer
]


def _run(lib: Any, eq: str, arrays: list[np.ndarray], g: np.ndarray) -> list[np.ndarray]:
    # transposed twice: the same values through a strided (non-contiguous) view
    ts = [lib.tensor(a.T.copy().T if a.ndim > 1 else a, requires_grad=True) for a in arrays]
    ins = [t.transpose(0, 1).transpose(0, 1) if t.ndim > 1 else t for t in ts]
    y = lib.einsum(eq, *ins)
    y.backward(lib.tensor(g))
    return [y.detach().numpy(), *(t.grad.numpy() for t in ts)]


@pytest.mark.torch
@pytest.mark.parametrize("eq, shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_matches_torch_values_and_gradients(eq: str, shapes: list[tuple[int, ...]]) -> None:
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(s) for s in shapes]
    out_shape = tuple(torch.einsum(eq, *(torch.tensor(a) for a in arrays)).shape)
    g = RNG.standard_normal(out_shape)  # random upstream: a wrong layout cannot hide
    ours, theirs = _run(tinylm, eq, arrays, g), _run(torch, eq, arrays, g)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_einsum_takes_its_operands_as_one_list_too() -> None:
    a, b = tinylm.randn(2, 3), tinylm.randn(3, 4)
    np.testing.assert_allclose(
        tinylm.einsum("ij,jk->ik", [a, b]).numpy(), (a @ b).numpy(), rtol=1e-6
    )


@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    m=st.integers(1, 4),
    k=st.integers(1, 4),
    n=st.integers(1, 4),
    one=st.sampled_from(["", "a", "b"]),
)
def test_einsum_gradients_equal_finite_differences(
    batch: list[int], m: int, k: int, n: int, one: str
) -> None:
    """Batched products over hypothesis shapes, with size-1 batch axes broadcast in either
    operand, checked against central differences in float64."""
    shape_a, shape_b = [*batch, m, k], [*batch, k, n]
    if batch and one:  # a size-1 batch axis broadcast against the other's
        (shape_a if one == "a" else shape_b)[0] = 1
    a = tinylm.tensor(RNG.standard_normal(shape_a), requires_grad=True)
    b = tinylm.tensor(RNG.standard_normal(shape_b), requires_grad=True)
    assert gradcheck(lambda x, y: tinylm.einsum("...ij,...jk->...ik", x, y), [a, b])
    assert gradcheck(lambda x: tinylm.einsum("...ij->j", x), [a])


@pytest.mark.parametrize(
    "eq, shapes, words",
    [
        ("ii->i", [(2, 2)], "diagonal"),
        ("ij,jk->ik", [(2, 3)], "2 operand"),
        ("ij->ik", [(2, 3)], "output"),
        ("ijk->i", [(2, 3)], "subscripts"),
        ("i1->i", [(2, 3)], "letters"),
        ("ij->i->j", [(2, 3)], "'->'"),
    ],
)
def test_einsum_bad_equations_are_one_clear_line(
    eq: str, shapes: list[tuple[int, ...]], words: str
) -> None:
    with pytest.raises(TinyLMError, match=words) as info:
        tinylm.einsum(eq, *(tinylm.ones(*s) for s in shapes))
    assert "\n" not in str(info.value) and "einsum" in str(info.value)


def test_einsum_of_two_dtypes_is_refused_as_in_torch() -> None:
    with pytest.raises(TinyLMError, match="one dtype"):
        tinylm.einsum("ij,jk", tinylm.ones(2, 3), tinylm.ones(3, 4, dtype=tinylm.float64))
