"""PyTorch's indexing, splitting and shape functions (``tinylm/tensor_selecting.py``,
``tinylm/index_creation.py``) and the Tensor's in-place shape methods, run in both libraries
on the same float64 values: outputs (values, shapes, dtypes) and the gradient of every float
input for a random upstream gradient (never all ones), through transposed and strided inputs
too; negative dims; repeated indices where PyTorch defines the result (``accumulate=True``,
``index_fill``, ``take``); views share memory as PyTorch's do; integer and bool inputs give
PyTorch's dtypes; bad calls are one clear line. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinylm
from tinylm import TinyLMError
from tinylm.testing import strategies as st_tl

torch = pytest.importorskip("torch")
import torch_parity  # noqa: E402 - after the skip
from torch_parity import (  # noqa: E402
    LIBS,
    TORCH_ERRORS,
    dtype_name,
    refused_by_both,
    same_dtype_and_values,
    values,
)

pytestmark = pytest.mark.torch


def check_against_torch(build: Callable[..., Any], arrays: list[np.ndarray]) -> None:
    """torch_parity's check, with one upstream gradient drawn for every output (seed 7)."""
    torch_parity.check_against_torch(build, arrays, seed=7, upstream_for_every_output=True)


RNG = np.random.default_rng(2025)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 6))
C = RNG.standard_normal((2, 3, 4))
Q = RNG.standard_normal((3, 3, 3))
V = RNG.standard_normal(5)
S = np.array(-0.75)
Z = np.array([0.0, 1.5, -2.0, 0.0])  # zeros: vander's gradient at 0


def ints(*values: Any) -> np.ndarray:
    """An int64 index: ints(0, 2) or, nested, ints([[0], [2]])."""
    one = len(values) == 1 and isinstance(values[0], list)
    return np.array(values[0] if one else values, dtype=np.int64)


# name -> (build, inputs); t[k] is input k (floats require grad), `.mT` and `[::2]` are
# strided views
CALLS: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    # views: reshapes and slices
    "ravel": (lambda lib, t: lib.ravel(t[0]), [C]),
    "ravel of a transpose": (lambda lib, t: t[0].mT.ravel(), [A]),
    "ravel 0-d": (lambda lib, t: t[0].ravel(), [S]),
    "unflatten": (lambda lib, t: t[0].unflatten(1, (2, 3)), [B]),
    "unflatten -1 negative dim": (lambda lib, t: lib.unflatten(t[0], -1, (-1, 2)), [C]),
    "unflatten list of a view": (lambda lib, t: t[0].mT.unflatten(0, [2, 1, 2]), [A]),
    "reshape_as": (lambda lib, t: t[0].reshape_as(t[1]), [B, RNG.standard_normal((6, 4))]),
    "reshape_as of a view": (lambda lib, t: t[0].mT.reshape_as(t[1][0]), [A, C]),
    "tensor_split sections": (lambda lib, t: lib.tensor_split(t[0], 3, dim=1), [B[:, :5]]),
    "tensor_split more sections than elements": (lambda lib, t: t[0].tensor_split(7), [V]),
    "tensor_split indices": (lambda lib, t: lib.tensor_split(t[0], [1, 3], -1), [C]),
    "tensor_split unsorted, past the end": (lambda lib, t: t[0].tensor_split([3, 1, 7]), [V]),
    "tensor_split negative index": (lambda lib, t: lib.tensor_split(t[0].mT, (-1,), 1), [A]),
    "tensor_split 0-d tensor": (lambda lib, t: lib.tensor_split(t[0], lib.tensor(2)), [V]),
    "tensor_split 1-D tensor": (lambda lib, t: t[0].tensor_split(lib.tensor([1, 2]), 1), [C]),
    "hsplit 2-D": (lambda lib, t: lib.hsplit(t[0], 3), [B]),
    "hsplit 1-D": (lambda lib, t: t[0][:4].hsplit(2), [V]),
    "hsplit indices": (lambda lib, t: lib.hsplit(t[0], [1, 2]), [C]),
    "vsplit": (lambda lib, t: lib.vsplit(t[0].mT, 2), [A]),
    "vsplit indices": (lambda lib, t: t[0].vsplit([1]), [C]),
    "dsplit": (lambda lib, t: lib.dsplit(t[0], 2), [C]),
    "dsplit indices": (lambda lib, t: t[0].dsplit([3]), [C]),
    "split_with_sizes": (lambda lib, t: t[0].split_with_sizes([1, 0, 2]), [A]),
    "split_with_sizes dim -1": (lambda lib, t: lib.split_with_sizes(t[0], (4, 2), -1), [B]),
    "atleast_1d 0-d": (lambda lib, t: lib.atleast_1d(t[0]), [S]),
    "atleast_1d several": (lambda lib, t: lib.atleast_1d(t[0], t[1]), [S, A]),
    "atleast_2d list": (lambda lib, t: lib.atleast_2d([t[0], t[1], t[2]]), [S, V, C]),
    "atleast_3d": (lambda lib, t: lib.atleast_3d(t[0], t[1].mT, t[2], t[3]), [S, A, V, C]),
    # picking
    "take": (lambda lib, t: lib.take(t[0], t[1]), [A, ints([[0, 11], [5, 5]])]),
    "take negative and repeated of a view": (
        lambda lib, t: t[0].mT.take(t[1]),
        [A, ints(-1, 0, -12, -1, 3)],
    ),
    "take 0-d": (lambda lib, t: lib.take(t[0], t[1]), [S, ints(0, 0)]),
    "take empty index": (lambda lib, t: lib.take(t[0], t[1]), [A, np.zeros((2, 0), np.int64)]),
    "take_along_dim": (
        lambda lib, t: lib.take_along_dim(t[0], t[1], 1),
        [A, ints([[3], [0], [1]])],
    ),
    "take_along_dim broadcast": (
        lambda lib, t: lib.take_along_dim(t[0], t[1], dim=-1),
        [C, ints([[[0, 3, 3]]])],
    ),
    "take_along_dim input broadcast": (
        lambda lib, t: t[0][:, :1].take_along_dim(t[1], 0),
        [C, ints([[[1], [0], [1]], [[0], [0], [1]]]).repeat(2, 0)],
    ),
    "take_along_dim flat": (lambda lib, t: lib.take_along_dim(t[0], t[1]), [A, ints(11, 0, 0)]),
    "take_along_dim argsort": (
        lambda lib, t: lib.take_along_dim(t[0], t[0].argsort(dim=0), dim=0),
        [A],
    ),
    "combinations": (lambda lib, t: lib.combinations(t[0]), [V]),
    "combinations r 3 with replacement": (
        lambda lib, t: lib.combinations(t[0][::2], 3, with_replacement=True),
        [V],
    ),
    "combinations r 1": (lambda lib, t: lib.combinations(t[0], r=1), [V]),
    "combinations r past n": (lambda lib, t: lib.combinations(t[0][:2], 3), [V]),
    "cartesian_prod": (lambda lib, t: lib.cartesian_prod(t[0][:3], t[1], t[0][::2]), [V, V[:2]]),
    "cartesian_prod one": (lambda lib, t: lib.cartesian_prod(t[0]), [V]),
    # placing
    "index_put": (
        lambda lib, t: lib.index_put(t[0], (t[1], t[2]), t[3]),
        [A, ints(0, 2, -1), ints(1, 3, 0), RNG.standard_normal(3)],
    ),
    "index_put accumulate repeated": (
        lambda lib, t: t[0].index_put((t[1], t[2]), t[3], accumulate=True),
        [A, ints(0, 2, 0, 0), ints(1, 3, 1, 1), RNG.standard_normal(4)],
    ),
    "index_put broadcast value": (
        lambda lib, t: lib.index_put(t[0], [t[1]], t[2]),
        [C, ints(1, 0), RNG.standard_normal(4)],
    ),
    "index_put broadcast indices of a view": (
        lambda lib, t: t[0].mT.index_put((t[1], t[2]), t[3]),
        [A, ints([[0], [3]]), ints(0, 2), RNG.standard_normal((2, 2))],
    ),
    "index_put accumulate broadcast 0-d value": (
        lambda lib, t: t[0].index_put((t[1],), t[2], True),
        [B, ints(3, 3, -1, 0), S],
    ),
    "index_put bool mask": (
        lambda lib, t: lib.index_put(t[0], (t[1],), t[2]),
        [A, np.array([True, False, True]), RNG.standard_normal(4)],
    ),
    "index_put 2-D mask": (
        lambda lib, t: t[0].index_put((t[0].detach() > 0,), t[1]),
        [A, S],
    ),
    "index_copy": (
        lambda lib, t: lib.index_copy(t[0], 1, t[1], t[2]),
        [A, ints(3, 0), RNG.standard_normal((3, 2))],
    ),
    "index_copy dim 0 of a view": (
        lambda lib, t: t[0].mT.index_copy(0, t[1], t[2].mT),
        [A, ints(2, 1, 0), RNG.standard_normal((3, 3))],
    ),
    "index_copy negative dim": (
        lambda lib, t: t[0].index_copy(-2, t[1], t[2]),
        [C, ints(2), RNG.standard_normal((2, 1, 4))],
    ),
    "index_copy 0-d index, 2-D source": (
        lambda lib, t: lib.index_copy(t[0], 0, t[1], t[2]),
        [A, np.array(1), RNG.standard_normal((1, 4))],
    ),
    "index_copy 0-d index": (
        lambda lib, t: lib.index_copy(t[0], 0, t[1], t[2]),
        [V, np.array(3), S],
    ),
    "index_fill number": (lambda lib, t: lib.index_fill(t[0], 1, t[1], -2.5), [A, ints(1, 1, -1)]),
    "index_fill 0-d tensor value": (
        lambda lib, t: t[0].mT.index_fill(0, t[1], t[2]),
        [A, ints(0, 3, 0), S],
    ),
    "index_fill dim -1": (lambda lib, t: t[0].index_fill(-1, t[1], 7.0), [C, ints(2)]),
    "masked_scatter": (
        lambda lib, t: t[0].masked_scatter(t[0].detach() > 0, t[1]),
        [A, RNG.standard_normal(14)],
    ),
    "masked_scatter broadcast mask, 2-D source": (
        lambda lib, t: lib.masked_scatter(t[0], lib.tensor([True, False, True, True]), t[1]),
        [A, RNG.standard_normal((3, 5))],
    ),
    "masked_scatter broadcast input of a view": (
        lambda lib, t: t[0][1, ::2].masked_scatter(lib.tensor([[True], [False]]), t[1].mT),
        [B, A],
    ),
    # rearranging
    "rot90": (lambda lib, t: lib.rot90(t[0]), [A]),
    "rot90 k 2": (lambda lib, t: t[0].rot90(2, [1, 2]), [C]),
    "rot90 k 3 negative dims": (lambda lib, t: lib.rot90(t[0], 3, (-1, 0)), [C]),
    "rot90 k -1 of a view": (lambda lib, t: t[0].mT.rot90(-1, (0, 1)), [A]),
    "rot90 k 0": (lambda lib, t: lib.rot90(t[0], 4), [A]),
    "rot90 k 5 reversed dims": (lambda lib, t: lib.rot90(t[0], 5, [1, 0]), [A]),
    "fliplr": (lambda lib, t: lib.fliplr(t[0]), [C]),
    "flipud": (lambda lib, t: t[0].mT.flipud(), [A]),
    "flipud 1-D": (lambda lib, t: lib.flipud(t[0]), [V]),
    "fliplr method": (lambda lib, t: t[0].fliplr(), [A]),
    "diag_embed": (lambda lib, t: lib.diag_embed(t[0]), [A]),
    "diag_embed offset dims": (lambda lib, t: t[0].diag_embed(1, 0, 2), [A]),
    "diag_embed negative offset reversed dims": (
        lambda lib, t: lib.diag_embed(t[0], -2, dim1=-1, dim2=1),
        [C],
    ),
    "diag_embed 1-D of a view": (lambda lib, t: t[0][::2].diag_embed(), [V]),
    "diagflat": (lambda lib, t: lib.diagflat(t[0]), [A]),
    "diagflat offset": (lambda lib, t: t[0].mT.diagflat(-1), [A]),
    "diagflat 0-d": (lambda lib, t: lib.diagflat(t[0], 2), [S]),
    "block_diag": (lambda lib, t: lib.block_diag(t[0], t[1], t[2]), [A, V, S]),
    "block_diag of views": (lambda lib, t: lib.block_diag(t[0].mT, t[1][::2], t[0]), [A, V]),
    "block_diag with an empty matrix": (
        lambda lib, t: lib.block_diag(t[0], t[1][:0].reshape(0, 2), t[1][1:]),
        [A, V],
    ),
    "block_diag one": (lambda lib, t: lib.block_diag(t[0]), [A]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_dtypes_and_gradients_match_torch(name: str) -> None:
    build, arrays = CALLS[name]
    check_against_torch(build, arrays)


@settings(max_examples=15, deadline=None)
@given(shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 10**6),
       data=st.data())  # fmt: skip
def test_random_shapes_dims_and_indices_match_torch(shape: Any, seed: int, data: Any) -> None:
    """Any shape, any dim (negative too), any indices in range, repeats included."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    n, numel = shape[dim], int(np.prod(shape))
    sections = data.draw(st.integers(1, 5), label="sections")
    cuts = data.draw(st.lists(st.integers(-n - 1, n + 1), max_size=3), label="cuts")
    flat = ints(*rng.integers(-numel, numel, size=5)) if numel else np.zeros(0, np.int64)
    along = list(shape)
    along[dim] = 3
    picks = rng.integers(0, n, size=along) if n else np.zeros(along, np.int64)
    check_against_torch(lambda lib, t: lib.tensor_split(t[0], sections, dim), [x])
    check_against_torch(lambda lib, t: lib.tensor_split(t[0], cuts, dim), [x])
    check_against_torch(lambda lib, t: lib.take(t[0], t[1]), [x, flat])
    if n:
        check_against_torch(lambda lib, t: lib.take_along_dim(t[0], t[1], dim), [x, picks])
        rows = ints(*rng.integers(-n, n, size=4))
        check_against_torch(lambda lib, t: lib.index_fill(t[0], dim, t[1], 0.5), [x, rows])
        rest = [s for i, s in enumerate(shape) if i != dim % ndim]
        check_against_torch(
            lambda lib, t: t[0].movedim(dim, 0).index_put((t[1],), t[2], accumulate=True),
            [x, rows, rng.standard_normal([4, *rest])],
        )
        check_against_torch(
            lambda lib, t: lib.index_copy(t[0], dim, t[1], t[2]),
            [x, rng.permutation(n), rng.standard_normal(shape)],
        )
    if ndim >= 2:
        other = (dim + 1) % ndim
        k = data.draw(st.integers(-5, 5), label="k")
        check_against_torch(lambda lib, t: lib.rot90(t[0], k, (dim, other)), [x])
    check_against_torch(lambda lib, t: lib.diag_embed(t[0], dim + 1, 0, -1), [x])
    check_against_torch(lambda lib, t: t[0].masked_scatter(t[0].detach() < 0, t[1]), [x, x * 2])


INT_CALLS = [
    "lib.take(i, lib.tensor([3, 0]))",
    "lib.take_along_dim(i8, lib.tensor([[1], [0]]), 1)",
    "lib.take_along_dim(b, lib.tensor([1, 1, 0]))",
    "lib.index_put(i, (lib.tensor([0, 0]),), lib.tensor([5, 6], dtype=lib.int32), True)",
    "i.index_put((lib.tensor([True, False]),), lib.tensor(7, dtype=lib.int32))",
    "lib.index_copy(u, 0, lib.tensor([2]), lib.tensor([9], dtype=lib.uint8))",
    "i.index_fill(1, lib.tensor([0]), 2.5)",
    "b.index_fill(0, lib.tensor([1]), True)",
    "lib.masked_scatter(u, u > 1, lib.tensor([7, 8], dtype=lib.uint8))",
    "lib.argwhere(i)",
    "lib.argwhere(b)",
    "lib.argwhere(lib.tensor(5.0))",
    "lib.argwhere(lib.tensor(0))",
    "lib.rot90(i, 1)",
    "lib.rot90(b.reshape(1, 2), -1)",
    "lib.fliplr(i)",
    "lib.flipud(u)",
    "lib.diag_embed(i, 1)",
    "lib.diagflat(b)",
    "lib.block_diag(i, b, f)",
    "lib.block_diag(i8, u)",
    "lib.block_diag(lib.ones(2, 0), lib.ones(0, 3))",
    "lib.cartesian_prod(u, u)",
    "lib.combinations(u)",
    "lib.combinations(b, 0)",
    "lib.combinations(u, 4)",
    "lib.vander(i[0])",
    "lib.vander(b, 3)",
    "lib.vander(u, 4, True)",
    "lib.tril_indices(3, 4, 1)",
    "lib.tril_indices(3, 4, -5)",
    "lib.triu_indices(4, 3, -1)",
    "lib.triu_indices(3, 3, 1, dtype=lib.int32)",
    "lib.tril_indices(0, 3)",
    "lib.ravel(b)",
    "i.unflatten(1, (1, 2))",
    "lib.tensor_split(u, 2)[0]",
    "lib.atleast_3d(b)",
    "i.new_empty((2, 3)).fill_(4)",
    "i.new_empty(2, dtype=lib.float64).fill_(1)",
]


@pytest.mark.parametrize("call", INT_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes_and_values(call: str) -> None:
    same_dtype_and_values(call, torch_parity.int_and_bool_inputs, rtol=None)


@LIBS
def test_splits_unflatten_ravel_and_atleast_are_views(lib: Any) -> None:
    """Writes through the result reach the input and the other way round, as in PyTorch."""
    x = lib.zeros(4, 6, dtype=lib.float64)
    left, right = lib.hsplit(x, [2])
    left.fill_(1.0)
    x[0, 5] = 5.0
    assert float(x[3, 1]) == 1.0 and float(right[0, 3]) == 5.0
    piece = x.tensor_split(3, dim=1)[2]
    piece[1, 0] = -2.0
    assert float(x[1, 4]) == -2.0
    top = lib.vsplit(x, 2)[1]
    top[0, 0] = 3.0
    assert float(x[2, 0]) == 3.0
    rest = x.split_with_sizes([1, 3])[1]
    rest[2, 2] = 4.0
    assert float(x[3, 2]) == 4.0
    grid = x.unflatten(1, (2, 3))
    grid[0, 1, 2] = 6.0
    assert float(x[0, 5]) == 6.0
    flat = x.ravel()
    flat[7] = 8.0
    assert float(x[1, 1]) == 8.0
    three = lib.atleast_3d(x[0])
    three[0, 4, 0] = 9.0
    assert float(x[0, 4]) == 9.0
    cube = lib.zeros(2, 2, 2)
    lib.dsplit(cube, 2)[1][1, 1, 0] = 1.0
    assert float(cube[1, 1, 1]) == 1.0


@LIBS
def test_atleast_returns_the_tensor_itself_when_it_has_the_dims(lib: Any) -> None:
    x = lib.ones(2, 3)
    assert lib.atleast_1d(x) is x and lib.atleast_2d(x) is x
    assert lib.atleast_1d() == ()
    assert isinstance(lib.atleast_2d([x]), tuple)


@LIBS
def test_the_picking_and_rearranging_functions_copy(lib: Any) -> None:
    x = lib.arange(6.0).reshape(2, 3)
    outs = [lib.take(x, lib.tensor([0])), lib.rot90(x, 0), lib.rot90(x), lib.fliplr(x),
            lib.flipud(x), lib.take_along_dim(x, lib.tensor([[0]]), 1), lib.diagflat(x),
            lib.block_diag(x), lib.index_fill(x, 0, lib.tensor([0]), 1.0)]  # fmt: skip
    for out in outs:
        out.fill_(-1.0)
    assert values(x).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def place_in_place(lib: ModuleType) -> list[list[Any]]:
    """The in-place placing methods on a strided view and on fresh tensors, each returning
    the tensor itself: the values of what they wrote into."""
    base = lib.zeros(3, 4, dtype=lib.float64)
    x = base[:, 1:]
    assert x.index_put_((lib.tensor([0, 0]), lib.tensor([1, 1])), lib.tensor([1.0, 2.0],
                        dtype=lib.float64), accumulate=True) is x  # fmt: skip
    assert x.index_copy_(0, lib.tensor([2]), lib.full((1, 3), 4.0, dtype=lib.float64)) is x
    assert x.index_fill_(1, lib.tensor([-1, -1]), 7.0) is x
    src = lib.arange(10.0, dtype=lib.float64) + 10
    assert x.masked_scatter_(lib.tensor([True, False, False]), src) is x
    y = lib.zeros(2, dtype=lib.float64)
    assert lib.index_put_(y, (lib.tensor([1]),), lib.tensor(3.0, dtype=lib.float64)) is y
    square = lib.zeros(5, 3, dtype=lib.float64)
    assert square.fill_diagonal_(2.0, wrap=True) is square
    cube = lib.zeros(3, 3, 3).fill_diagonal_(1.0)
    return [values(t).tolist() for t in (base, y, square, cube)]


def test_in_place_placing_writes_into_the_tensor_and_its_views_as_torch() -> None:
    ours, theirs = place_in_place(tinylm), place_in_place(torch)
    assert ours == theirs
    assert ours[0] == [[0.0, 10.0, 3.0, 7.0], [0.0, 11.0, 0.0, 7.0], [0.0, 12.0, 4.0, 7.0]]


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (7, 2), (4, 4), (1, 3), (3, 1)])
@pytest.mark.parametrize("wrap", [False, True])
def test_fill_diagonal_matches_torch_for_tall_wide_and_strided_matrices(shape, wrap) -> None:
    """Against torch on a fresh tensor (torch 2.13 fails on a strided tall one with wrap)."""
    theirs = torch.zeros(*shape).fill_diagonal_(1.5, wrap)
    for make in (lambda lib: lib.zeros(*shape), lambda lib: lib.zeros(*shape[::-1]).mT,
                 lambda lib: lib.zeros(shape[0] * 2, shape[1])[::2]):  # fmt: skip
        base = make(tinylm)
        base.fill_diagonal_(1.5, wrap)
        np.testing.assert_array_equal(values(base), values(theirs))
    ints_ours, ints_theirs = tinylm.zeros(*shape, dtype=tinylm.int64), torch.zeros(*shape).long()
    ints_ours.fill_diagonal_(2.7, wrap=wrap)
    ints_theirs.fill_diagonal_(2.7, wrap=wrap)
    np.testing.assert_array_equal(values(ints_ours), values(ints_theirs))


@LIBS
def test_in_place_shape_changes_keep_the_memory(lib: Any) -> None:
    x = lib.arange(6.0).reshape(2, 1, 3)
    row = x[0]
    assert x.squeeze_() is x and tuple(x.shape) == (2, 3)
    assert tuple(row.shape) == (1, 3)  # another view keeps its own shape
    assert x.unsqueeze_(-1) is x and tuple(x.shape) == (2, 3, 1)
    assert tuple(x.squeeze_(2).shape) == (2, 3)
    assert x.t_() is x and tuple(x.shape) == (3, 2) and x.stride() == (1, 3)
    x[2, 0] = 10.0
    assert float(row[0, 2]) == 10.0
    y = lib.zeros(2, 3, 4)
    assert y.transpose_(0, -1) is y and tuple(y.shape) == (4, 3, 2) and y.stride() == (1, 4, 12)
    z = lib.ones(2, 1, 1)
    assert tuple(z.squeeze_((1, 2)).shape) == (2,)
    v = lib.ones(3)
    assert v.t_() is v and tuple(v.shape) == (3,)


@LIBS
def test_in_place_changes_to_a_leaf_that_requires_grad_are_refused(lib: Any) -> None:
    calls = [lambda x: x.t_(), lambda x: x.squeeze_(), lambda x: x.unsqueeze_(0),
             lambda x: x.transpose_(0, 1), lambda x: x.fill_diagonal_(1.0),
             lambda x: x.index_fill_(0, lib.tensor([0]), 1.0),
             lambda x: x.index_put_((lib.tensor([0]),), lib.tensor(1.0)),
             lambda x: x.index_copy_(0, lib.tensor([0]), lib.ones(1, 2)),
             lambda x: x.masked_scatter_(lib.tensor([True, False]), lib.ones(2))]  # fmt: skip
    for call in calls:
        with pytest.raises(RuntimeError, match="(?i)in-place"):
            call(lib.ones(2, 2, requires_grad=True))


def test_a_non_leaf_keeps_its_shape_for_its_graph() -> None:
    """PyTorch records ``y.t_()`` in the graph; tinylm's in-place ops are not recorded, so
    changing the shape under the graph is refused (the out-of-place ``t()`` works)."""
    x = tinylm.ones(2, 3, requires_grad=True)
    with tinylm.no_grad():
        y = x * 2.0
    y.t_()  # no graph: allowed
    z = x * 2.0
    with tinylm.no_grad(), pytest.raises(RuntimeError, match=r"t_: cannot change the shape.*t\(\)"):
        z.t_()


@LIBS
def test_new_empty_nelement_and_ndimension(lib: Any) -> None:
    x = lib.ones(2, 3, dtype=lib.int32)
    e = x.new_empty(4, 5)
    assert (tuple(e.shape), dtype_name(e)) == ((4, 5), "int32") and not e.requires_grad
    f = x.new_empty((2,), dtype=lib.float64, requires_grad=True)
    assert (tuple(f.shape), dtype_name(f), f.requires_grad) == ((2,), "float64", True)
    assert x.nelement() == 6 and x.ndimension() == 2 and lib.tensor(1.0).ndimension() == 0
    with pytest.raises(TypeError, match="size"):
        x.new_empty()


# (call with `lib`, the error tinylm raises, its message); torch refuses each call as well
BAD_CALLS = [
    ("lib.ones(2, 6).unflatten(1, ())", TinyLMError, "sizes must be non-empty"),
    ("lib.ones(2, 6).unflatten(1, (4, -1))", TinyLMError, r"\[4, -1\] don't multiply up to"),
    ("lib.ones(2, 6).unflatten(1, (5, 2))", TinyLMError, r"don't multiply up to the size of dim 1"),
    ("lib.ones(2, 6).unflatten(1, (-1, -1))", TinyLMError, "one -1"),
    ("lib.ones(2, 6).unflatten(2, (3, 2))", TinyLMError, r"dim 2 is out of range \[-2, 1\]"),
    ("lib.ones(2, 6).unflatten(1, (3.0, 2))", TypeError, "sizes must be an int"),
    ("lib.tensor(1.0).unflatten(0, (1,))", TinyLMError, "at least 1 dim"),
    ("lib.tensor_split(lib.ones(5), 0)", TinyLMError, "sections must be larger than 0, got 0"),
    ("lib.tensor_split(lib.tensor(1.0), 2)", TinyLMError, "at least a 1-dimensional"),
    ("lib.tensor_split(lib.ones(5), 2, 1)", TinyLMError, "dim 1 is out of range"),
    ("lib.tensor_split(lib.ones(5), lib.ones(2))", TinyLMError, "integer tensor"),
    ("lib.tensor_split(lib.ones(5), lib.ones(2, 2).long())", TinyLMError, "0-d or 1-D"),
    ("lib.hsplit(lib.ones(2, 4), 3)", TinyLMError, "size of the dimension 4 is not divisible by"),
    ("lib.hsplit(lib.tensor(1.0), 1)", TinyLMError, "at least 1 dim"),
    ("lib.vsplit(lib.ones(4), 2)", TinyLMError, r"at least 2 dims.*\(4,\)"),
    ("lib.dsplit(lib.ones(2, 2), 2)", TinyLMError, "at least 3 dims"),
    ("lib.ones(5).split_with_sizes([2, 2])", TinyLMError, r"\[2, 2\] must sum exactly to 5"),
    ("lib.ones(5).split_with_sizes([6, -1])", TinyLMError, "must be non-negative"),
    ("lib.ones(5).split_with_sizes(2)", TypeError, "list or tuple of ints"),
    ("lib.take(lib.ones(5), lib.tensor([5]))", TinyLMError, "index 5 is out of bounds"),
    ("lib.take(lib.ones(5), lib.tensor([-6]))", TinyLMError, "index -6 is out of bounds"),
    ("lib.take(lib.ones(5), lib.tensor([1.0]))", TinyLMError, "integer tensor, got dtype float32"),
    ("lib.take(lib.ones(5), lib.tensor([True]))", TinyLMError, "got dtype bool"),
    ("lib.take_along_dim(lib.ones(5), lib.tensor([-1]))", TinyLMError, "index -1 is out of"),
    ("lib.take_along_dim(lib.ones(2, 3), lib.tensor([0]), 1)", TinyLMError, "same number of dim"),
    (
        "lib.take_along_dim(lib.ones(2, 3), lib.tensor([[0], [0], [0]]), 1)",
        TinyLMError,
        "do not broadcast",
    ),
    ("lib.take_along_dim(lib.ones(2, 3), lib.tensor([[0]]), 2)", TinyLMError, "dim 2 is out"),
    (
        "lib.ones(3, 4).index_put((lib.tensor([0]),), lib.ones(1).double())",
        TinyLMError,
        "same dtype, but got float32 and float64",
    ),
    ("lib.ones(3, 4).index_put((lib.tensor([0, 5]),), lib.tensor(1.0))", TinyLMError, "index 5"),
    (
        "lib.ones(3, 4).index_put((lib.tensor([0, 1]),), lib.ones(3))",
        TinyLMError,
        r"values of shape \(3,\) cannot be broadcast to the indexed shape \(2, 4\)",
    ),
    (
        "lib.ones(3, 4).index_put((lib.tensor([0.0]),), lib.tensor(1.0))",
        TinyLMError,
        "integer tensor or a bool mask",
    ),
    (
        "lib.ones(3, 4).index_put((lib.tensor([0]),) * 3, lib.tensor(1.0))",
        TinyLMError,
        r"3 index tensors for a tensor of shape \(3, 4\)",
    ),
    ("lib.ones(3, 4).index_put(lib.tensor([0]), lib.tensor(1.0))", TypeError, "tuple of Tensors"),
    (
        "lib.ones(3, 4).index_put((lib.tensor([0, 1]), lib.tensor([0, 1, 2])), lib.tensor(1.0))",
        TinyLMError,
        "do not broadcast together",
    ),
    (
        "lib.ones(3, 4).index_copy(1, lib.tensor([4]), lib.ones(3, 1))",
        TinyLMError,
        "index 4 is out of bounds for dimension 1 of size 4",
    ),
    ("lib.ones(3, 4).index_copy(1, lib.tensor([-1]), lib.ones(3, 1))", TinyLMError, "index -1"),
    (
        "lib.ones(3, 4).index_copy(1, lib.tensor([1]), lib.ones(1, 3))",
        TinyLMError,
        r"source of shape \(1, 3\) must have shape \(3, 1\)",
    ),
    (
        "lib.ones(3, 4).index_copy(1, lib.tensor([[1]]), lib.ones(3, 1))",
        TinyLMError,
        "dimension 1 or 0",
    ),
    (
        "lib.ones(3, 4).index_copy(1, lib.tensor([1]), lib.ones(3, 1).long())",
        TinyLMError,
        "same dtype, but got float32 and int64",
    ),
    (
        "lib.zeros(3, 4).index_copy(0, lib.tensor([1]), lib.ones(4))",
        TinyLMError,
        r"source of shape \(4,\) must have shape \(1, 4\)",
    ),
    ("lib.take_along_dim(lib.tensor(3.0), lib.tensor(0), 0)", TinyLMError, "input is a 0-d"),
    ("lib.ones(3, 4).index_fill(1, lib.tensor([4]), 2.5)", TinyLMError, "index 4 is out of"),
    (
        "lib.ones(3, 4).index_fill(1, lib.tensor([1]), lib.tensor([2.5]))",
        TinyLMError,
        "only supports a 0-dimensional value tensor",
    ),
    ("lib.ones(3, 4).index_fill(2, lib.tensor([1]), 0.0)", TinyLMError, "dim 2 is out of range"),
    (
        "lib.ones(3, 4).masked_scatter(lib.ones(3, 4).bool(), lib.ones(5))",
        TinyLMError,
        "source has 5 elements, fewer than the 12 True places",
    ),
    (
        "lib.ones(3, 4).masked_scatter(lib.ones(3, 4).int(), lib.ones(12))",
        TinyLMError,
        "only supports boolean masks",
    ),
    (
        "lib.ones(3, 4).masked_scatter(lib.ones(3, 4).bool(), lib.ones(12).long())",
        TinyLMError,
        "same dtype",
    ),
    (
        "lib.ones(4).masked_scatter_(lib.ones(2, 4).bool(), lib.ones(8))",
        TinyLMError,
        r"masked_scatter_: mask of shape \(2, 4\) does not broadcast to the tensor's shape",
    ),
    (
        "lib.ones(3, 4).masked_scatter(lib.ones(2).bool(), lib.ones(12))",
        TinyLMError,
        "does not broadcast",
    ),
    ("lib.zeros(2, 3, 2).fill_diagonal_(1)", TinyLMError, "all dimensions of input must be of eq"),
    ("lib.zeros(3).fill_diagonal_(1)", TinyLMError, "dimensions must be larger than 1"),
    ("lib.rot90(lib.ones(2, 3), 1, [0])", TinyLMError, "expected total rotation dims == 2"),
    ("lib.rot90(lib.ones(2, 3), 1, [0, 0])", TinyLMError, "rotation dims to be different"),
    ("lib.rot90(lib.ones(3), 1)", TinyLMError, "expected total dims >= 2"),
    ("lib.rot90(lib.ones(2, 3), 1, [0, 2])", TinyLMError, "dim 2 is out of range"),
    ("lib.rot90(lib.ones(2, 3), 1.0)", TypeError, "k must be an int"),
    ("lib.fliplr(lib.ones(3))", TinyLMError, "input must be >= 2-d"),
    ("lib.flipud(lib.tensor(1.0))", TinyLMError, "input must be >= 1-d"),
    ("lib.diag_embed(lib.ones(2, 3), 1, 0, 0)", TinyLMError, "cannot be identical 0, 0"),
    ("lib.diag_embed(lib.ones(2, 3), 0, 0, 3)", TinyLMError, r"dim 3 is out of range \[-3, 2\]"),
    ("lib.diag_embed(lib.tensor(1.0))", TinyLMError, "at least 1 dim"),
    ("lib.block_diag(lib.ones(2, 2, 2))", TinyLMError, "2 or fewer dimensions, but input 0"),
    ("lib.block_diag(lib.ones(2), [1.0])", TypeError, "tensor 1 must be a Tensor"),
    ("lib.cartesian_prod(lib.ones(2, 2))", TinyLMError, "1-D vectors"),
    ("lib.cartesian_prod()", TinyLMError, "non-empty"),
    ("lib.combinations(lib.ones(2, 2))", TinyLMError, "expects a 1-D vector"),
    ("lib.combinations(lib.ones(3), -1)", TinyLMError, "non-negative r, got -1"),
    ("lib.vander(lib.ones(2, 2))", TinyLMError, "x must be a one-dimensional tensor"),
    ("lib.vander(lib.ones(2), N=-1)", TinyLMError, "N must be non-negative"),
    ("lib.tril_indices(-1, 4)", TinyLMError, "must be non-negative"),
    ("lib.triu_indices(3, 3, dtype=lib.float32)", TinyLMError, "only int32 and int64"),
    ("lib.tril_indices(3, 3, dtype=lib.int16)", TinyLMError, "only int32 and int64"),
    ("lib.ones(2, 3, 4).t_()", TinyLMError, r"<= 2 dimensions, got shape \(2, 3, 4\)"),
    ("lib.ones(2, 1).unsqueeze_(3)", TinyLMError, "out of range"),
    ("lib.ones(2, 3).transpose_(0, 2)", TinyLMError, "out of range"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls_are_refused_in_one_line_as_in_torch(call: str, error: Any, message: str) -> None:
    refused_by_both(call, error, message, (*TORCH_ERRORS, NotImplementedError))


# tinylm's deliberate differences: PyTorch accepts these and leaves the result undefined
REFUSED = [
    ("lib.take_along_dim(lib.ones(2, 3), lib.tensor([[3]]), 1)", "index 3 is out of bounds"),
    (
        "lib.zeros(3, 4).index_put((lib.tensor([0, 0]), lib.tensor([1, 1])), lib.ones(2))",
        r"index_put: the index names a place more than once.*accumulate=True",
    ),
    (
        "lib.zeros(3, 4).index_put((lib.tensor([[0], [0]]),), lib.ones(1, 4))",
        "index_put: the index names a place more than once",
    ),
    (
        "lib.zeros(3, 4).index_copy(0, lib.tensor([1, 1]), lib.ones(2, 4))",
        "index_copy: index names a place more than once",
    ),
    ("lib.block_diag()", "block_diag: expects at least one tensor"),
]


@pytest.mark.parametrize("call, message", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_torch_leaves_undefined_is_refused(call: str, message: str) -> None:
    """PyTorch keeps one of the repeated writes (which one is unspecified), reads past the
    end for an index out of range in take_along_dim (no check on the CPU), and gives an odd
    (1, 0) tensor for a block_diag of nothing."""
    eval(call, {"lib": torch})
    with pytest.raises(TinyLMError, match=message) as caught:
        eval(call, {"lib": tinylm})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "x, N, increasing",
    [(Z, None, False), (Z, 6, True), (V, 1, False), (V, 0, True), (V[::2], 4, False)],
    ids=["zeros", "N 6 increasing", "N 1", "N 0", "of a view"],
)
def test_vander_matches_torch_and_its_gradient_the_powers(x, N, increasing) -> None:
    """Values as ``torch.vander``; torch 2.13 cannot differentiate its own vander (an
    in-place cumprod), so the gradient is checked against torch's x ** k, k the column's
    power (d x^k/dx = k x^(k−1), 1 at x = 0 for k = 1 and 0 for k = 0)."""
    cols = len(x) if N is None else N
    powers = np.arange(cols) if increasing else np.arange(cols)[::-1].copy()
    ours = tinylm.vander(tinylm.tensor(x, requires_grad=True), N, increasing)
    theirs = torch.vander(torch.tensor(x, requires_grad=True), N, increasing)
    np.testing.assert_allclose(values(ours), values(theirs))
    assert ours.shape == theirs.shape and ours.requires_grad == theirs.requires_grad
    if cols <= 1:  # ones (or nothing), not a function of x: no gradient, as in torch
        return
    check_against_torch(
        lambda lib, t: (
            lib.vander(t[0], N, increasing)
            if lib is tinylm
            else t[0].unsqueeze(1) ** torch.from_numpy(powers).double()
        ),
        [x],
    )


def test_block_diag_with_an_empty_vector_gives_each_tensor_its_own_block() -> None:
    """An empty (0,) tensor is a (1, 0) block: a row of zeros, as in PyTorch, whose backward
    (torch 2.13) then hands the next tensor the gradient of that empty row instead of its own
    (here [12, 13, 14] for v, which sits in row 3). tinylm's gradient is v's own block."""
    results = []
    for lib in (tinylm, torch):
        a = lib.ones(2, 2, dtype=lib.float64, requires_grad=True)
        empty = lib.zeros(0, dtype=lib.float64, requires_grad=True)
        v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        out = lib.block_diag(a, empty, v)
        u = lib.arange(float(out.numel()), dtype=lib.float64).reshape(out.shape)
        (out * u).sum().backward()
        results.append((values(out), values(a.grad), values(v.grad)))
    (ours, our_a, our_v), (theirs, their_a, their_v) = results
    np.testing.assert_array_equal(ours, theirs)  # (4, 5): v in row 3, columns 2 to 4
    assert ours[3, 2:].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(our_a, their_a)
    assert our_v.tolist() == [17.0, 18.0, 19.0]  # u[3, 2:]
    assert their_v.tolist() == [12.0, 13.0, 14.0]  # u[2, 2:]: the empty block's row


def test_the_in_place_and_function_forms_are_torchs_names() -> None:
    """Every name is where PyTorch has it: a ``torch.`` function, a Tensor method, or both."""
    functions = ["ravel", "unflatten", "tensor_split", "hsplit", "vsplit", "dsplit",
                 "split_with_sizes", "take", "take_along_dim", "index_fill", "index_copy",
                 "index_put", "index_put_", "masked_scatter", "argwhere", "rot90", "fliplr",
                 "flipud", "tril_indices", "triu_indices", "atleast_1d", "atleast_2d",
                 "atleast_3d", "block_diag", "cartesian_prod", "combinations", "diag_embed",
                 "diagflat", "vander"]  # fmt: skip
    methods = ["ravel", "unflatten", "reshape_as", "tensor_split", "hsplit", "vsplit", "dsplit",
               "split_with_sizes", "squeeze_", "unsqueeze_", "t_", "transpose_", "new_empty",
               "nelement", "ndimension", "take", "take_along_dim", "index_fill", "index_fill_",
               "index_copy", "index_copy_", "index_put", "index_put_", "masked_scatter",
               "masked_scatter_", "fill_diagonal_", "argwhere", "rot90", "fliplr", "flipud",
               "diag_embed", "diagflat"]  # fmt: skip
    for name in functions:
        assert hasattr(torch, name) and callable(getattr(tinylm, name)), name
        assert name in tinylm.__all__, name
    for name in methods:
        assert hasattr(torch.Tensor, name) and callable(getattr(tinylm.Tensor, name)), name


@pytest.mark.parametrize(
    "index",
    [
        "x[:, [0, 2]]", "x[[0, 1]]", "x[:, :, [1, 3]]", "x[[0, 1], :, [1, 3]]",
        "x[:, [0, 2], [1, 3]]", "x[[1, 0], [0, 2]]", "x[..., [1]]", "x[x > 5]",
        "x[:, [[0], [2]]]", "x[:, None, [0, 2]]", "x[1:, [True, False, True]]",
        "x.transpose(0, 1)[[0, 2], :, 1:3]",
    ],
)  # fmt: skip
def test_advanced_indexing_gives_a_c_ordered_copy_as_torch(index: str) -> None:
    """An integer or boolean array index copies; PyTorch lays the copy of a C-ordered tensor
    out in C order, where NumPy puts the indexed dims outermost (x[:, [0, 2]] was not
    contiguous, and .view(-1) of it was refused). Strides of size-1 dims are not compared
    (they address nothing)."""
    layouts = []
    for lib in (torch, tinylm):
        y = eval(index, {"x": lib.arange(24.0).reshape(2, 3, 4)})
        strides = tuple(s for s, n in zip(y.stride(), y.shape) if n > 1)
        layouts.append((tuple(y.shape), strides, y.is_contiguous(), y.numpy().tolist()))
    assert layouts[0] == layouts[1]


def _layout(y: Any) -> tuple:
    """Shape, strides of the dims longer than 1 (the others address nothing), values."""
    strides = tuple(s for s, n in zip(y.stride(), y.shape) if n > 1)
    return tuple(y.shape), strides, y.numpy().tolist()


@pytest.mark.parametrize("perm", [(0, 1, 2, 3), (0, 1, 3, 2), (2, 0, 3, 1), (3, 2, 1, 0)])
@pytest.mark.parametrize(
    "index",
    [
        "x[[0, 1]]", "x[:, [1, 0]]", "x[..., [0, 1]]", "x[[0, 1], [1, 0]]",
        "x[:, [0, 1], [1, 0]]", "x[[1, 0], :, [0, 1]]", "x[x > 30]", "x[:, None, [0, 1]]",
        "x[[[0], [1]], :, [1, 0]]", "x[:, [[0, 1], [1, 0]]]", "x[..., [[1], [0]], :]",
        "x[::2, [0, 1]]", "x[:, :, [1, 0, 1], 1:]", "x[[0, 1], None, [1, 0]]",
        "x[None, :, [0, 1]]", "x[:, [0, 1]][:, :, [1, 0]]",
    ],
)  # fmt: skip
def test_advanced_indexing_of_a_permuted_tensor_lays_the_copy_out_as_torch(
    perm: tuple[int, ...], index: str
) -> None:
    """PyTorch allocates the copy in the order of the iterator that gathers it (strides of
    the sliced dims, then of the index arrays), so a permuted tensor's copy keeps the
    permutation where it can: x.permute(0, 1, 3, 2)[[0, 1]] has strides (60, 20, 1, 5)
    there. tinylm gave C order (60, 20, 4, 1): the same values, another layout (what
    is_contiguous, view and stride() report)."""
    a = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    layouts = [_layout(eval(index, {"x": lib.tensor(a).permute(*perm)})) for lib in (torch, tinylm)]
    assert layouts[0] == layouts[1]


def test_advanced_indexing_of_strided_expanded_and_permuted_tensors_matches_torch() -> None:
    """Random shapes (1-4 dims, sizes 1-3), permutations, step-2 slices and expanded views,
    indexed by slices, None, integer lists and boolean masks: every non-empty copy has
    PyTorch's shape, strides and values (an empty one's strides address nothing). PyTorch's
    iterator also reads the strides of size-1 dims, so the views made on the way must have
    PyTorch's strides in full: unsqueeze of a permuted tensor changed a size-1 dim's stride
    (NumPy's reshape recomputes them), which reordered the copy."""
    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(600):
        shape = tuple(int(n) for n in rng.integers(1, 4, rng.integers(1, 5)))
        a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        perm = [int(d) for d in rng.permutation(len(shape))]
        xs = [lib.tensor(a).permute(*perm) for lib in (torch, tinylm)]
        if rng.random() < 0.3 and xs[0].shape[0] > 1:
            xs = [x[::2] for x in xs]
        if rng.random() < 0.2:
            xs = [x.unsqueeze(0).expand(2, *x.shape) for x in xs]
        length = int(rng.integers(1, 4))
        items: list[Any] = []
        for size in xs[0].shape:
            r = rng.random()
            if r < 0.35:
                items.append(slice(None))
            elif r < 0.5:
                items.append(slice(0, size, 2))
            elif r < 0.85:
                items.append([int(i) for i in rng.integers(0, size, length)])
            else:
                items += [None, slice(None)]
        if rng.random() < 0.2 and xs[0].ndim >= 2:
            items = [rng.random(tuple(xs[0].shape[:2])) < 0.5]
        indices = [
            tuple(lib.tensor(i) if isinstance(i, np.ndarray) else i for i in items)
            for lib in (torch, tinylm)
        ]
        try:
            expected = xs[0][indices[0]]
        except (IndexError, RuntimeError):  # lists of unequal lengths, mask shapes
            continue
        assert xs[1].stride() == xs[0].stride(), (shape, perm)
        if expected.numel() == 0:
            continue
        assert _layout(xs[1][indices[1]]) == _layout(expected), (shape, perm, items)
        compared += 1
    assert compared > 300
