"""PyTorch's scatter and select families (``tinylm/tensor_scatter.py``: scatter,
scatter_reduce, index_reduce, index_add_, put, select, select_scatter, slice_scatter,
diagonal_scatter, Tensor.unfold) and the small math of ``tinylm/math_more.py`` (rsub,
row_stack, cov, corrcoef, frexp, ldexp), run in both libraries on the same float64 values:
outputs (values, shapes, dtypes) and the gradient of every float input for a random upstream
gradient (never all ones), through transposed and strided inputs too; ties and zeros where
amax/amin and prod pick a convention; repeated indices where PyTorch defines the result;
views share memory as PyTorch's do; integer and bool inputs give PyTorch's dtypes and values;
bad calls are one clear line. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
import torch_parity  # noqa: E402 - after the skip
from torch_parity import (  # noqa: E402
    LIBS,
    TORCH_ERRORS,
    dtype_name,
    refused_by_both,
    same_dtype_and_values,
    strided,
    values,
)

pytestmark = pytest.mark.torch


def check_against_torch(build: Callable[..., Any], arrays: list[np.ndarray], **kw: Any) -> None:
    """torch_parity's check, with one upstream gradient drawn for every output (seed 11)."""
    torch_parity.check_against_torch(build, arrays, seed=11, upstream_for_every_output=True, **kw)


RNG = np.random.default_rng(1234)
X = RNG.uniform(-3, 3, (4, 6))
SRC = RNG.uniform(-3, 3, (5, 6))
# small integers as floats: ties for amax/amin and zeros (one or two at a place) for prod
X_TIES = RNG.integers(-2, 3, (4, 6)).astype(np.float64)
SRC_TIES = RNG.integers(-2, 3, (5, 6)).astype(np.float64)
# along dim 0: 3 rows of places in [0, 4), places repeated; along dim 1: (4, 4) in [0, 6)
IDX0 = np.array([[0, 1, 3, 3, 2, 0], [1, 1, 0, 3, 2, 2], [0, 3, 3, 1, 2, 0]])
IDX1 = np.array([[5, 0, 5, 1], [2, 2, 2, 2], [0, 1, 4, 3], [3, 3, 0, 0]])
REDUCES = ["sum", "prod", "mean", "amax", "amin"]


def idx(lib: ModuleType, a: np.ndarray) -> Any:
    return lib.tensor(a, dtype=lib.int64)


# ---- scatter_reduce ----------------------------------------------------------------------

SCATTER_REDUCE_CALLS = {
    "dim 0": lambda lib, x, s, r, inc: x.scatter_reduce(0, idx(lib, IDX0), s[:3], r,
                                                         include_self=inc),
    "dim 1": lambda lib, x, s, r, inc: x.scatter_reduce(1, idx(lib, IDX1), s[:4, :4], r,
                                                         include_self=inc),
    "dim -1 function": lambda lib, x, s, r, inc: lib.scatter_reduce(
        x, -1, idx(lib, IDX1[:, :3]), s[:4, :3], r, include_self=inc),
    "index shorter than x": lambda lib, x, s, r, inc: x.scatter_reduce(
        0, idx(lib, IDX0[:2, :4]), s[:2, :4], r, include_self=inc),
    "transposed x and src": lambda lib, x, s, r, inc: x.mT.scatter_reduce(
        1, idx(lib, IDX0.T), s[:3].mT, r, include_self=inc),
    "strided x": lambda lib, x, s, r, inc: strided(x).scatter_reduce(
        0, idx(lib, IDX1[:, :2]), s[:4, ::3], r, include_self=inc),
}  # fmt: skip


@pytest.mark.parametrize("inputs", ["random", "ties"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("name", sorted(SCATTER_REDUCE_CALLS))
def test_scatter_reduce_and_its_gradients_match_torch(
    name: str, reduce: str, include_self: bool, inputs: str
) -> None:
    """Every reduction, with and without x's own values, at repeated places; the ties and
    zeros of the integer-valued inputs exercise amax/amin's shared gradient and prod's
    exclusive products (one zero, two zeros at a place)."""
    x, s = (X, SRC) if inputs == "random" else (X_TIES, SRC_TIES)
    call = SCATTER_REDUCE_CALLS[name]
    check_against_torch(lambda lib, t: call(lib, t[0], t[1], reduce, include_self), [x, s])


@pytest.mark.parametrize("seed", range(24))
def test_scatter_reduce_at_random_shapes_dims_and_indices_matches_torch(seed: int) -> None:
    """1 to 3 dims, any dim, an index shorter than x in the other dims and than src in all,
    its entries drawn with repeats; small integer values (ties, zeros) or continuous ones."""
    rng = np.random.default_rng(seed)
    ndim = int(rng.integers(1, 4))
    shape = tuple(int(n) for n in rng.integers(1, 5, ndim))
    d = int(rng.integers(-ndim, ndim))
    ishape = [int(rng.integers(1, n + 1)) for n in shape]
    ishape[d] = int(rng.integers(1, 6))
    index = rng.integers(0, shape[d], ishape)
    if seed % 2:
        x, src = rng.integers(-2, 3, shape) * 1.0, rng.integers(-2, 3, ishape) * 1.0
    else:
        x, src = rng.standard_normal(shape), rng.standard_normal(ishape)
    reduce, include_self = REDUCES[seed % 5], bool(seed % 3)
    check_against_torch(
        lambda lib, t: t[0].scatter_reduce(
            d, idx(lib, index), t[1], reduce, include_self=include_self
        ),  # fmt: skip
        [x, src],
    )


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_uses_only_the_part_of_src_the_index_covers(reduce: str) -> None:
    """PyTorch's backward refuses a src larger than the index; tinylm gives its unused part
    a zero gradient. Checked against torch run on the used part."""
    outs, grads = [], []
    for lib in (tinylm, torch):
        x = lib.tensor(X_TIES, requires_grad=True)
        big = lib.tensor(SRC_TIES, requires_grad=True)
        src = big if lib is tinylm else big[:3, :5]
        y = x.scatter_reduce(0, idx(lib, IDX0[:, :5]), src, reduce)
        y.backward(lib.tensor(np.random.default_rng(3).standard_normal(y.shape)))
        outs.append(values(y))
        grads.append((values(x.grad), values(big.grad)))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-13)
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-13)
    theirs = np.zeros_like(SRC_TIES)
    theirs[:3, :5] = grads[1][1][:3, :5]
    np.testing.assert_allclose(grads[0][1], theirs, rtol=1e-13)


INT_SCATTER_CALLS = [
    f"x.scatter_reduce(0, i, s, '{r}', include_self={inc})"
    for r in REDUCES
    for inc in (True, False)
] + [
    "b.scatter_reduce(0, bi, bs, 'sum')",
    "b.scatter_reduce(0, bi, bs, 'prod', include_self=False)",
    "b.scatter_reduce(0, bi, bs, 'amax')",
    "b.scatter_reduce(0, bi, bs, 'amin')",
    "x.int().scatter_reduce(0, i, s.int(), 'mean')",
    "x.scatter_reduce(0, i, s, 'sum').scatter_reduce(0, i, -s, 'mean')",  # a negative mean
    "lib.tensor(2.5, dtype=lib.float64).scatter_reduce(0, lib.tensor(0), lib.tensor(4.0, "
    "dtype=lib.float64), 'prod')",  # 0-d
    "x.float().scatter_reduce(1, i[:, :0], s.float()[:, :0], 'amax')",  # an empty index
    "lib.tensor(1.0).scatter_reduce(0, lib.tensor([0, 0]), lib.tensor([1.0, 2.0]), 'sum')",
    "lib.tensor(1.0).scatter(0, lib.tensor([0]), lib.tensor([3.0]))",
]


def scatter_names(lib: ModuleType) -> dict[str, Any]:
    return {
        "x": lib.tensor([[3, -1, 4], [0, 5, -9]]),
        "s": lib.tensor([[2, 7, -3], [-8, 1, 6], [4, 4, 4]]),
        "i": lib.tensor([[1, 0, 1], [1, 1, 0], [0, 0, 1]]),
        "b": lib.tensor([True, False, True, False]),
        "bs": lib.tensor([False, True, True]),
        "bi": lib.tensor([0, 1, 1]),
    }


@pytest.mark.parametrize("call", INT_SCATTER_CALLS)
def test_scatter_reduce_of_integers_and_bools_is_torchs(call: str) -> None:
    """Integer means round down (floor), as PyTorch's scatter_reduce; bools reduce as or/and."""
    same_dtype_and_values(call, scatter_names, rtol=None)


# ---- scatter (no reduction) --------------------------------------------------------------

SCATTER_CALLS = {
    "src dim 0": lambda lib, t: lib.scatter(t[0], 0, idx(lib, [[2, 0, 1, 3, 1, 0]]), t[1][:1]),
    "src dim 1": lambda lib, t: lib.scatter(t[0], 1, idx(lib, [[5, 0], [1, 2], [3, 4], [0, 5]]),
                                            t[1][:4, :2]),
    "value": lambda lib, t: lib.scatter(t[0], 1, idx(lib, IDX1), value=-2.5),
    "value positionally, repeated places": lambda lib, t: lib.scatter(t[0], 0, idx(lib, IDX0),
                                                                      1.5),
    "method, transposed": lambda lib, t: t[0].mT.scatter(0, idx(lib, [[5, 1, 2, 0]]),
                                                          t[1][:4, :1].mT),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCATTER_CALLS))
def test_scatter_values_and_gradients_match_torch(name: str) -> None:
    check_against_torch(SCATTER_CALLS[name], [X, SRC])


# ---- index_reduce, index_add_ ------------------------------------------------------------

INDEX_REDUCE_CALLS = {
    "dim 0": lambda lib, x, s, r, inc: x.index_reduce(0, idx(lib, [3, 0, 3, 1, 3]), s, r,
                                                       include_self=inc),
    "dim 1 function": lambda lib, x, s, r, inc: lib.index_reduce(
        x, 1, idx(lib, [5, 5, 0, 2, 5]), s[:4, :5].mT.mT, r, include_self=inc),
    "0-d index": lambda lib, x, s, r, inc: x.index_reduce(1, lib.tensor(4), s[:4, 2:3], r,
                                                           include_self=inc),
    "strided x": lambda lib, x, s, r, inc: strided(x).index_reduce(
        0, idx(lib, [1, 1, 0, 5]), s[:4, :2], r, include_self=inc),
}  # fmt: skip


@pytest.mark.parametrize("inputs", ["random", "ties"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("name", sorted(INDEX_REDUCE_CALLS))
def test_index_reduce_and_its_gradients_match_torch(
    name: str, reduce: str, include_self: bool, inputs: str
) -> None:
    x, s = (X, SRC) if inputs == "random" else (X_TIES, SRC_TIES)
    call = INDEX_REDUCE_CALLS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "index_reduce() is in beta"
        check_against_torch(lambda lib, t: call(lib, t[0], t[1], reduce, include_self), [x, s])


INT_INDEX_CALLS = [
    f"x.index_reduce(0, j, s, '{r}', include_self={inc})"
    for r in ("prod", "mean", "amax", "amin")
    for inc in (True, False)
] + [
    "(-x).index_reduce(0, j, s, 'mean')",  # negative means round toward zero here
    "x.index_add(1, lib.tensor([2, 0]), s[:2, :2].mT, alpha=-3)",
    "x.clone().index_add_(0, j, s, alpha=2)",
    "x.int().index_reduce(1, lib.tensor([1, 1, 1]), s.int()[:2], 'mean')",
]


def index_names(lib: ModuleType) -> dict[str, Any]:
    return {
        "x": lib.tensor([[3, -1, 4], [0, 5, -9]]),
        "s": lib.tensor([[2, 7, -3], [-8, 1, 6], [4, -4, 5]]),
        "j": lib.tensor([1, 1, 0]),
    }


@pytest.mark.parametrize("call", INT_INDEX_CALLS)
def test_index_reduce_and_index_add_of_integers_are_torchs(call: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_dtype_and_values(call, index_names, rtol=None)


@LIBS
def test_in_place_forms_write_into_the_tensor_and_its_views(lib: ModuleType) -> None:
    """index_add_, index_reduce_, scatter_reduce_, put_ and ldexp_ return the tensor itself
    and change its memory (seen through a view taken before)."""
    base = lib.tensor(np.arange(12.0).reshape(3, 4))
    view = base[1:]
    s = lib.tensor(np.full((2, 4), 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert view.index_add_(0, lib.tensor([1, 1]), s, alpha=0.5) is view
        assert view.index_reduce_(0, lib.tensor([0, 0]), s, "prod") is view
    assert (
        view.scatter_reduce_(1, lib.tensor([[3, 3]]), s[:1, :2], "amin", include_self=False) is view
    )
    assert (
        base.put_(lib.tensor([-1, 0]), lib.tensor([7.0, 9.0], dtype=base.dtype), accumulate=True)
        is base
    )
    assert base.ldexp_(lib.tensor([1, 0, 2, 0])) is base
    assert values(base).tolist() == [
        [18.0, 1.0, 8.0, 3.0],
        [32.0, 20.0, 96.0, 2.0],
        [20.0, 11.0, 48.0, 20.0],
    ]


@LIBS
def test_in_place_forms_refuse_a_leaf_that_requires_grad(lib: ModuleType) -> None:
    x = lib.tensor(X, requires_grad=True)
    calls = [
        lambda: x.index_add_(0, lib.tensor([0]), lib.ones(1, 6, dtype=lib.float64)),
        lambda: x.scatter_reduce_(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64), "sum"),
        lambda: x.put_(lib.tensor([0]), lib.ones(1, dtype=lib.float64)),
        lambda: x.ldexp_(lib.tensor([1])),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="in-place|leaf"):
            call()


def test_index_add_matches_torch_with_alpha_and_gradients() -> None:
    check_against_torch(
        lambda lib, t: t[0].index_add(1, idx(lib, [4, 0, 4]), t[1][:4, :3], alpha=-2.5), [X, SRC]
    )


# ---- put -----------------------------------------------------------------------------------

PUT_CALLS = {
    "put": lambda lib, t: t[0].put(idx(lib, [5, -1, 0, 13]), t[1][0, :4]),
    "function, 2-D index, other source shape": lambda lib, t: lib.put(
        t[0], idx(lib, [[2, 7], [11, 20]]), t[1][1, :4].reshape(4, 1)),
    "accumulate, repeated places": lambda lib, t: t[0].put(idx(lib, [3, 3, -21, 3]),
                                                          t[1][2, :4], accumulate=True),
    "strided": lambda lib, t: strided(t[0]).put(idx(lib, [0, 11, 4]), t[1][3, ::2]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PUT_CALLS))
def test_put_values_and_gradients_match_torch(name: str) -> None:
    check_against_torch(PUT_CALLS[name], [X, SRC])


@LIBS
def test_put_of_integers_and_a_0d_tensor(lib: ModuleType) -> None:
    x = lib.tensor([[1, 2], [3, 4]], dtype=lib.int32)
    y = x.put(lib.tensor([1, 1]), lib.tensor([5, 6], dtype=lib.int32), accumulate=True)
    assert dtype_name(y) == "int32" and values(y).tolist() == [[1, 13], [3, 4]]
    z = lib.tensor(2.0).put(lib.tensor([-1]), lib.tensor([8.0]))
    assert z.shape == () and z.item() == 8.0


# ---- select and the *_scatter ops --------------------------------------------------------

SELECT_CALLS = {
    "select": lambda lib, t: t[0].select(1, 2),
    "select negative": lambda lib, t: lib.select(t[0], -2, -1),
    "select strided": lambda lib, t: strided(t[0]).select(0, 3),
    "select_scatter": lambda lib, t: lib.select_scatter(t[0], t[1][0], 0, 2),
    "select_scatter dim 1, negative": lambda lib, t: t[0].select_scatter(t[1][1, :4], -1, -2),
    "select_scatter strided src": lambda lib, t: lib.select_scatter(t[0], t[1][:4, 1], 1, 0),
    "select_scatter float32 src": lambda lib, t: lib.select_scatter(t[0], t[2][0], 0, 1),
    "slice_scatter": lambda lib, t: lib.slice_scatter(t[0], t[1][:4, :2], 1, 1, 5, 2),
    "slice_scatter defaults": lambda lib, t: lib.slice_scatter(t[0], t[1][:4]),
    "slice_scatter negative start, big end": lambda lib, t: t[0].slice_scatter(
        t[1][:4, :2], dim=1, start=-2, end=100),
    "slice_scatter empty": lambda lib, t: t[0].slice_scatter(t[1][:0], 0, 7),
    "slice_scatter strided": lambda lib, t: strided(t[0]).slice_scatter(t[1][:2, ::3].mT, 0,
                                                                        step=3),
    "slice_scatter float32 src": lambda lib, t: lib.slice_scatter(t[0], t[2][:2], 0, 1, 3),
    "diagonal_scatter": lambda lib, t: lib.diagonal_scatter(t[0], t[1][0, :4]),
    "diagonal_scatter offset": lambda lib, t: t[0].diagonal_scatter(t[1][0, :4], 2),
    "diagonal_scatter negative offset, dims swapped": lambda lib, t: lib.diagonal_scatter(
        t[0], t[1][1, :4], -1, 1, 0),
    "diagonal_scatter 3-D": lambda lib, t: lib.diagonal_scatter(
        t[0].reshape(2, 3, 4), t[1][:3, :2], 1, 0, 2),
    "diagonal_scatter strided": lambda lib, t: strided(t[0]).diagonal_scatter(t[1][0, :2]),
    "diagonal_scatter float32 src": lambda lib, t: lib.diagonal_scatter(t[0], t[2][0, :4]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SELECT_CALLS))
def test_select_and_the_scatters_match_torch(name: str) -> None:
    """Input and src gradients; a src of another dtype is converted as PyTorch converts it,
    and its gradient comes back in its own dtype."""
    check_against_torch(SELECT_CALLS[name], [X, SRC, SRC.astype(np.float32)], rtol=1e-6)


@LIBS
def test_select_is_a_view_and_the_scatters_copy(lib: ModuleType) -> None:
    x = lib.tensor(np.arange(6.0).reshape(2, 3))
    x.select(1, -1)[0] = 50.0
    assert values(x)[0, 2] == 50.0
    y = lib.select_scatter(x, lib.zeros(3, dtype=x.dtype), 0, 0)
    y[1, 1] = -1.0
    assert values(x)[1, 1] == 4.0
    z = lib.zeros(2, 3, dtype=lib.int64).select_scatter(lib.tensor([1.5, -2.7, 3.0]), 0, 1)
    assert dtype_name(z) == "int64" and values(z).tolist() == [[0, 0, 0], [1, -2, 3]]


# ---- unfold --------------------------------------------------------------------------------

UNFOLD_CALLS = {
    "dim 1": lambda lib, t: t[0].unfold(1, 3, 2),
    "overlapping, dim 0": lambda lib, t: t[0].unfold(0, 2, 1),
    "gaps": lambda lib, t: t[0].unfold(-1, 2, 3),
    "whole dim": lambda lib, t: t[0].unfold(1, 6, 1),
    "size 0": lambda lib, t: t[0].unfold(1, 0, 1) * 1.0,
    "transposed": lambda lib, t: t[0].mT.unfold(1, 3, 1),
    "strided": lambda lib, t: strided(t[0]).unfold(0, 4, 2),
    "twice": lambda lib, t: t[0].unfold(0, 2, 2).unfold(1, 2, 1),
    "0-d": lambda lib, t: t[0][1, 1].unfold(0, 1, 5),
    "3-D": lambda lib, t: t[0].reshape(2, 3, 4).unfold(1, 2, 1),
}


@pytest.mark.parametrize("name", sorted(UNFOLD_CALLS))
def test_unfold_values_strides_and_gradients_match_torch(name: str) -> None:
    check_against_torch(UNFOLD_CALLS[name], [X])
    ours, theirs = (UNFOLD_CALLS[name](lib, [lib.tensor(X)]) for lib in (tinylm, torch))
    assert ours.stride() == theirs.stride()


@LIBS
def test_unfold_is_a_view_that_writes_through(lib: ModuleType) -> None:
    a = lib.arange(10.0)
    windows = a.unfold(0, 3, 1)  # overlapping windows
    windows[0, 1] = 100.0
    assert values(a)[1] == 100.0 and values(windows)[1, 0] == 100.0
    a.unfold(0, 2, 2).fill_(7.0)
    assert values(a).tolist() == [7.0] * 10
    windows.fill_(1.0)  # overlapping: every element set once
    assert values(a).tolist() == [1.0] * 10
    m = lib.tensor([[1, 2, 3], [4, 5, 6]], dtype=lib.int32).unfold(1, 2, 1)
    assert dtype_name(m) == "int32" and values(m).tolist() == [[[1, 2], [2, 3]], [[4, 5], [5, 6]]]


# ---- rsub, row_stack -----------------------------------------------------------------------

MATH_CALLS = {
    "rsub number": lambda lib, t: lib.rsub(t[0], 3.0),
    "rsub tensor alpha": lambda lib, t: lib.rsub(t[0], t[1][:4], alpha=2.5),
    "rsub broadcast": lambda lib, t: lib.rsub(t[0][:, :1], t[1][1], alpha=-1),
    "rsub strided": lambda lib, t: lib.rsub(strided(t[0]), t[1][:2, :2].mT.mT[0]),
    "row_stack": lambda lib, t: lib.row_stack([t[0][0], t[1][:2], t[1][3]]),
    "row_stack tuple": lambda lib, t: lib.row_stack((strided(t[0]), t[1][:2, :2])),
}


@pytest.mark.parametrize("name", sorted(MATH_CALLS))
def test_rsub_and_row_stack_match_torch(name: str) -> None:
    check_against_torch(MATH_CALLS[name], [X, SRC])


INT_MATH_CALLS = [
    "lib.rsub(i, 3)",
    "lib.rsub(i, 3.5, alpha=2)",
    "lib.rsub(i, f, alpha=2)",
    "lib.rsub(i8, i)",
    "lib.rsub(u, 1)",
    "lib.rsub(f, 1, alpha=0.5)",
    "lib.row_stack([u, u.int()])",
    "lib.row_stack([b, f])",
    "lib.ldexp(i, i)",
    "lib.ldexp(f, i8)",
    "lib.ldexp(b, b)",
    "lib.ldexp(i, f.double())",
    "lib.ldexp(f.half(), i)",
    "lib.ldexp(f, lib.tensor(2.0, dtype=lib.float64))",
    "lib.ldexp(f.double(), lib.tensor([1025]))",  # overflows to inf, as PyTorch's
    "i.float().frexp().mantissa",
    "i.float().frexp().exponent",
    "f.half().frexp()[0]",
    "lib.cov(i)",
    "lib.cov(i, fweights=lib.tensor([1, 3]))",
    "lib.corrcoef(i)",
    "lib.cov(f, aweights=lib.tensor([0.5, 2.0], dtype=lib.float64))",
]


def int_names(lib: ModuleType) -> dict[str, Any]:
    return {
        "i": lib.tensor([[3, -1], [2, 5]], dtype=lib.int32),
        "i8": lib.tensor([[3, -1], [2, 5]], dtype=lib.int8),
        "u": lib.tensor([1, 3], dtype=lib.uint8),
        "b": lib.tensor([True, False]),
        "f": lib.tensor([0.5, -1.5]),
    }


@pytest.mark.parametrize("call", INT_MATH_CALLS)
def test_integer_bool_and_mixed_dtypes_are_torchs(call: str) -> None:
    same_dtype_and_values(call, int_names, rtol=1e-6)


# ---- cov, corrcoef ---------------------------------------------------------------------

FW = np.array([1, 0, 3, 2, 1, 4])
AW = np.array([0.5, 1.5, 0.25, 2.0, 0.0, 1.0])
COV_CALLS = {
    "cov": lambda lib, t: lib.cov(t[0]),
    "cov method": lambda lib, t: t[0].cov(),
    "cov 1-D": lambda lib, t: lib.cov(t[0][2]),
    "cov correction 0": lambda lib, t: lib.cov(t[0], correction=0),
    "cov correction 3": lambda lib, t: t[0].cov(correction=3),
    "cov fweights": lambda lib, t: lib.cov(t[0], fweights=idx(lib, FW)),
    "cov fweights correction 2": lambda lib, t: lib.cov(t[0], correction=2,
                                                        fweights=idx(lib, FW)),
    "cov aweights": lambda lib, t: lib.cov(t[0], aweights=t[1]),
    "cov aweights correction 0": lambda lib, t: lib.cov(t[0], correction=0, aweights=t[1]),
    "cov both": lambda lib, t: t[0].cov(fweights=idx(lib, FW), aweights=t[1]),
    "cov strided": lambda lib, t: lib.cov(strided(t[0])),
    "cov transposed": lambda lib, t: lib.cov(t[0].mT, aweights=t[1][:4]),
    "corrcoef": lambda lib, t: lib.corrcoef(t[0]),
    "corrcoef method": lambda lib, t: t[0][:2].corrcoef(),
    "corrcoef 1-D": lambda lib, t: lib.corrcoef(t[0][1]),
    "corrcoef transposed": lambda lib, t: lib.corrcoef(t[0].mT),
    "corrcoef strided": lambda lib, t: lib.corrcoef(strided(t[0])),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COV_CALLS))
def test_cov_and_corrcoef_and_their_gradients_match_torch(name: str) -> None:
    """Gradients of input and of aweights (a float input of the product)."""
    check_against_torch(COV_CALLS[name], [X, AW], rtol=1e-10, atol=1e-12)


def test_cov_with_too_few_degrees_of_freedom_warns_and_divides_by_zero_as_torch() -> None:
    for lib in (tinylm, torch):
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            c = lib.cov(lib.tensor([[1.0, 2.0, 4.0], [3.0, 1.0, 0.0]]), correction=3)
        assert np.isinf(values(c)).all()
    with pytest.warns(UserWarning, match="degrees of freedom"):
        same_dtype_and_values("lib.corrcoef(lib.ones(2, 1))", lambda lib: {}, rtol=None)


# ---- frexp, ldexp --------------------------------------------------------------------------

EDGES = np.array([0.0, -0.0, 1.0, -3.5, np.inf, -np.inf, np.nan, 1e-310, 2.0**-1022, 1e300])

FREXP_CALLS = {
    "frexp": lambda lib, t: lib.frexp(t[0]),
    "frexp method, strided": lambda lib, t: strided(t[0]).frexp(),
    "frexp float32": lambda lib, t: t[0].float().frexp(),
    "ldexp int exponent": lambda lib, t: lib.ldexp(t[0], idx(lib, [[3], [2], [0], [60]])),
    "ldexp float exponent": lambda lib, t: t[0].ldexp(t[1][:4].mT.mT),
    "ldexp broadcast, strided": lambda lib, t: lib.ldexp(strided(t[0]), t[1][0, :2]),
}


@pytest.mark.parametrize("name", sorted(FREXP_CALLS))
def test_frexp_and_ldexp_and_their_gradients_match_torch(name: str) -> None:
    check_against_torch(FREXP_CALLS[name], [X, SRC])


def test_ldexp_gradient_is_2_to_the_exponent_for_negative_integer_exponents() -> None:
    """PyTorch computes 2^other in other's integer dtype for input's gradient, so a negative
    integer exponent gives it 0; tinylm's is 2^other (what a float exponent gives in both)."""
    exps = [[-2], [3], [-1], [0]]
    ours = tinylm.tensor(X, requires_grad=True)
    tinylm.ldexp(ours, tinylm.tensor(exps)).backward(tinylm.tensor(SRC[:4]))
    theirs = torch.tensor(X, requires_grad=True)
    torch.ldexp(theirs, torch.tensor(exps, dtype=torch.float64)).backward(torch.tensor(SRC[:4]))
    np.testing.assert_array_equal(values(ours.grad), values(theirs.grad))
    np.testing.assert_array_equal(values(ours.grad), SRC[:4] * np.exp2(exps))


def test_frexp_at_zeros_infinities_nan_and_subnormals_is_torchs() -> None:
    ours, theirs = (lib.frexp(lib.tensor(EDGES)) for lib in (tinylm, torch))
    for a, b in zip(ours, theirs):
        assert dtype_name(a) == dtype_name(b)
        np.testing.assert_array_equal(values(a), values(b))
    assert ours.mantissa is ours[0] and ours.exponent is ours[1]
    assert np.signbit(values(ours.mantissa)[1])  # -0.0 keeps its sign


def test_frexp_gradient_is_exact_beyond_float32_exponents() -> None:
    """PyTorch divides by 2^e in float32 (0 or inf for float64's far exponents); tinylm's
    gradient is 2^-e exactly: the mantissa's slope."""
    x = tinylm.tensor([1e300, 1e-300, 3.0], dtype=tinylm.float64, requires_grad=True)
    x.frexp().mantissa.backward(tinylm.tensor([1.0, 1.0, 2.0], dtype=tinylm.float64))
    _, e = np.frexp(values(x))
    np.testing.assert_array_equal(values(x.grad), np.ldexp([1.0, 1.0, 2.0], -e))


# ---- refusals ------------------------------------------------------------------------------

X2 = "lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])"
BAD_CALLS = [
    (f"{X2}.scatter_reduce(0, lib.tensor([[0]]), lib.ones(1, 1), 'max')", TinyLMError,
     "scatter_reduce: reduce must be one of 'sum'.* got 'max' \\(use 'amax'"),
    (f"{X2}.scatter_reduce(0, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64), 'sum')",
     TinyLMError, "scatter_reduce: self and src must have the same dtype"),
    (f"{X2}.scatter_reduce(0, lib.tensor([[-1]]), lib.ones(1, 1), 'sum')", TinyLMError,
     "scatter_reduce: index -1 is out of bounds for dimension 0 with size 2"),
    (f"{X2}.scatter_reduce(1, lib.tensor([[3]]), lib.ones(1, 1), 'sum')", TinyLMError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    (f"{X2}.scatter_reduce(0, lib.tensor([0]), lib.ones(1), 'sum')", TinyLMError,
     "must have the same number of dims"),
    (f"{X2}.scatter_reduce(0, lib.tensor([[0, 1]]), lib.ones(1, 1), 'sum')", TinyLMError,
     "no longer than src"),
    (f"{X2}.scatter_reduce(0, lib.tensor([[0.0]]), lib.ones(1, 1), 'sum')", TinyLMError,
     "index must be an integer tensor"),
    ("lib.tensor([True]).scatter_reduce(0, lib.tensor([0]), lib.tensor([True]), 'mean')",
     TinyLMError, "'mean' is not supported for bool"),
    (f"lib.scatter({X2}, 0, lib.tensor([[0]]), lib.ones(1, 1), reduce='add')", TinyLMError,
     "reduce='add' .* is not supported; use scatter_reduce"),
    (f"lib.scatter({X2}, 0, lib.tensor([[0, 0, 0], [0, 1, 1]]), lib.ones(2, 3))", TinyLMError,
     "scatter: the index names a place more than once"),
    (f"{X2}.index_reduce(0, lib.tensor([0]), lib.ones(1, 3), 'sum')", TinyLMError,
     "index_reduce: reduce must be one of 'prod'"),
    (f"{X2}.index_reduce(0, lib.tensor([-1]), lib.ones(1, 3), 'prod')", TinyLMError,
     "index_reduce: index -1 is out of range"),
    (f"{X2}.index_reduce(1, lib.tensor([0]), lib.ones(2, 2), 'prod')", TinyLMError,
     r"source of shape \(2, 2\) must have shape \(2, 1\)"),
    (f"{X2}.index_reduce(0, lib.tensor([0]), lib.ones(1, 3, dtype=lib.float64), 'amax')",
     TinyLMError, "index_reduce: self and source must have the same dtype"),
    (f"{X2}.put(lib.tensor([0, 1]), lib.ones(3))", TinyLMError,
     "put: source and index must have the same number of elements, got 3 and 2"),
    (f"{X2}.put(lib.tensor([6]), lib.ones(1))", TinyLMError,
     "put: index 6 is out of range for a tensor of 6 elements"),
    (f"{X2}.put(lib.tensor([0]), lib.ones(1, dtype=lib.float64))", TinyLMError,
     "put: self and source must have the same dtype"),
    (f"{X2}.select(1, 3)", TinyLMError,
     r"select: index 3 out of range for tensor of size \[2, 3\]"),
    ("lib.tensor(2.0).select(0, 0)", TinyLMError, "select: cannot be applied to a 0-dim tensor"),
    (f"lib.select_scatter({X2}, lib.ones(1, 3), 0, 0)", TinyLMError,
     r"select_scatter: expected src to have a size equal to the slice of self\. src size = "
     r"\[1, 3\]"),
    (f"lib.slice_scatter({X2}, lib.ones(2, 1), 1, 1, 2, 0)", TinyLMError,
     "slice_scatter: slice step must be positive"),
    (f"lib.slice_scatter({X2}, lib.ones(2, 2), 1, 1, 2)", TinyLMError,
     r"slice_scatter: expected src to have a size equal to the slice of self"),
    (f"lib.diagonal_scatter({X2}, lib.ones(1), 1)", TinyLMError,
     r"diagonal_scatter: expected src .* src size = \[1\], slice size = \[2\]"),
    (f"lib.diagonal_scatter({X2}, lib.ones(2), 0, 1, -1)", TinyLMError,
     "diagonal_scatter: diagonal dimensions cannot be identical"),
    ("lib.arange(10.0).unfold(0, 3, 0)", TinyLMError, "unfold: step is 0 but must be > 0"),
    ("lib.arange(10.0).unfold(0, 11, 1)", TinyLMError,
     "unfold: maximum size for tensor at dimension 0 is 10 but size is 11"),
    ("lib.tensor(5.0).unfold(0, 2, 1)", TinyLMError,
     "unfold: maximum size for tensor at dimension 0 is 1 but size is 2"),
    ("lib.arange(10.0).unfold(1, 2, 1)", TinyLMError, r"unfold: dim 1 is out of range"),
    ("lib.rsub(lib.tensor([1, 2]), lib.tensor([1]), alpha=0.5)", TinyLMError,
     "rsub: for integral input tensors, argument alpha must not be a floating point"),
    ("lib.rsub(lib.tensor([True]), lib.tensor([True]))", TinyLMError,
     "rsub: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `\\^`"),
    ("lib.rsub(lib.tensor([1, 2]), True)", TinyLMError,
     "rsub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are"),
    ("lib.rsub(lib.tensor([True]), 1)", TinyLMError,
     "rsub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are"),
    ("lib.rsub(lib.tensor([1.0]), lib.tensor([True]))", TinyLMError,
     "rsub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are"),
    ("lib.tensor(1.0).index_reduce(0, lib.tensor([0, 0]), lib.tensor([3.0, 4.0]), 'prod')",
     TinyLMError, "index_reduce: source of shape \\(2,\\) and index of 2 elements for a 0-d"),
    ("lib.rsub(3, lib.tensor([1, 2]))", TypeError, "rsub: input must be a Tensor"),
    ("lib.cov(lib.ones(2, 2, 2))", TinyLMError,
     "cov: expected input to have two or fewer dimensions"),
    ("lib.cov(lib.tensor([True, False]))", TinyLMError, "cov: bool dtype is not supported"),
    ("lib.cov(lib.ones(3), correction=0.5)", TypeError, "cov: argument 'correction' must be int"),
    ("lib.cov(lib.ones(3), fweights=lib.tensor([1.0, 2.0, 0.0]))", TinyLMError,
     "cov: expected fweights to have integral dtype"),
    ("lib.cov(lib.ones(3), fweights=lib.tensor([1, -2, 0]))", TinyLMError,
     "cov: fweights cannot be negative"),
    ("lib.cov(lib.ones(3), aweights=lib.tensor([1, 2, 0]))", TinyLMError,
     "cov: expected aweights to have floating point dtype"),
    ("lib.cov(lib.ones(3), aweights=lib.tensor([1.0, -2.0, 0.0]))", TinyLMError,
     "cov: aweights cannot be negative"),
    ("lib.cov(lib.ones(3), aweights=lib.zeros(3))", TinyLMError,
     "cov: weights sum to zero, can't be normalized"),
    ("lib.cov(lib.ones(3), aweights=lib.ones(4))", TinyLMError,
     "cov: expected aweights to have the same numel as there are observations in the input "
     "but got 4 != 3"),
    ("lib.cov(lib.ones(3), aweights=lib.ones(1, 3))", TinyLMError,
     "cov: expected aweights to have one or fewer dimensions"),
    ("lib.corrcoef(lib.ones(2, 2, 2))", TinyLMError,
     "corrcoef: expected input to have two or fewer dimensions"),
    ("lib.frexp(lib.tensor([1, 2]))", TinyLMError, "frexp: only supports floating-point dtypes"),
    ("lib.ldexp(lib.tensor([1.0]), 3)", TypeError, "ldexp: argument 'other' must be a Tensor"),
    ("lib.tensor([1]).ldexp_(lib.tensor([3]))", RuntimeError,
     "ldexp_: result type float32 can't be cast"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), BAD_CALLS)
def test_bad_calls_are_refused_in_one_line_as_in_torch(call: str, error: Any, message: str) -> None:
    """Each call torch refuses too (torch's own error class varies by kernel), but three
    that tinylm refuses alone: scatter's deprecated reduce= (scatter_reduce does it), a src
    writing one place twice (torch's result is undefined) and scatter_reduce's 'max', which
    torch's forward takes as 'amax' but its backward refuses."""
    ours_only = ("reduce='add'", "[0, 1, 1]]", "'max'")  # torch takes these (see below)
    torch_errors = None if any(s in call for s in ours_only) else TORCH_ERRORS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refused_by_both(call, error, message, torch_errors)


def test_put_and_scatter_refuse_a_repeated_place_where_torchs_result_is_undefined() -> None:
    x = tinylm.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TinyLMError, match="put: the index names a place more than once.*"
                                          "accumulate=True"):  # fmt: skip
        x.put(tinylm.tensor([1, -3]), tinylm.tensor([5.0, 6.0]))
    with pytest.raises(TinyLMError, match="scatter: the index names a place more than once"):
        x.scatter(0, tinylm.tensor([[0, 1], [0, 0]]), tinylm.ones(2, 2))
    # one number written twice at a place is written once, as PyTorch's
    y = x.scatter(0, tinylm.tensor([[0, 1], [0, 0]]), 9.0)
    assert y.tolist() == [[9.0, 9.0], [3.0, 9.0]]


def test_the_new_names_are_exported_as_torchs() -> None:
    for name in ["scatter", "scatter_reduce", "index_reduce", "put", "select", "select_scatter",
                 "slice_scatter", "diagonal_scatter", "rsub", "row_stack", "cov", "corrcoef",
                 "frexp", "ldexp"]:  # fmt: skip
        assert hasattr(torch, name) and name in tinylm.__all__, name
        assert callable(getattr(tinylm, name))
    for name in ["scatter_reduce", "scatter_reduce_", "index_add_", "index_reduce",
                 "index_reduce_", "put", "put_", "select", "select_scatter", "slice_scatter",
                 "diagonal_scatter", "unfold", "frexp", "ldexp", "ldexp_", "cov",
                 "corrcoef"]:  # fmt: skip
        assert hasattr(torch.Tensor, name) and hasattr(tinylm.Tensor, name), name
