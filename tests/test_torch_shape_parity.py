"""PyTorch's shape, joining, product and scan functions (``tinylm/tensor_shaping.py``) and the
Tensor's ``stride``, ``type`` and ``detach_``, run in both libraries on the same float64 values:
outputs (values, shapes, dtypes) and the gradient of every float input for a random upstream
gradient (never all ones), through transposed and strided inputs too; views share memory as
PyTorch's do; integer and bool inputs give PyTorch's dtypes; bad calls are one clear line.
Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
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
    dtype_name,
    refused_by_both,
    same_dtype_and_values,
    values,
)

pytestmark = pytest.mark.torch


def check_against_torch(build: Callable[..., Any], arrays: list[np.ndarray]) -> None:
    """torch_parity's check, with one upstream gradient drawn for every output (seed 7)."""
    torch_parity.check_against_torch(build, arrays, seed=7, upstream_for_every_output=True)


RNG = np.random.default_rng(2024)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 5))
C = RNG.standard_normal((2, 3, 4))
V = RNG.standard_normal(5)
S = np.array(1.75)

# name -> (build, inputs); t[k] is input k as a leaf, `.mT` and `[::2]` make strided views
CALLS: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    "unbind": (lambda lib, t: t[0].unbind(), [A]),
    "unbind dim -1 of a transpose": (lambda lib, t: lib.unbind(t[0].mT, -1), [A]),
    "unbind dim 1 of 3-D": (lambda lib, t: lib.unbind(t[0], dim=1), [C]),
    "narrow": (lambda lib, t: t[0].narrow(1, 1, 2) * 2.0, [A]),
    "narrow negative start": (lambda lib, t: lib.narrow(t[0].mT, 0, -3, 2), [A]),
    "narrow tensor start": (lambda lib, t: lib.narrow(t[0], -1, lib.tensor(2), 2), [C]),
    "narrow empty": (lambda lib, t: t[0].narrow(0, 3, 0), [A]),
    "movedim int": (lambda lib, t: lib.movedim(t[0], 0, -1), [C]),
    "movedim tuples": (lambda lib, t: t[0].movedim((0, 1), (2, 0)), [C]),
    "movedim lists of a view": (lambda lib, t: lib.movedim(t[0][:, ::2], [-1], [0]), [C]),
    "moveaxis": (lambda lib, t: lib.moveaxis(t[0], (2, 0), (0, 1)), [C]),
    "moveaxis method": (lambda lib, t: t[0].moveaxis(1, 0), [C]),
    "movedim 0-d": (lambda lib, t: lib.movedim(t[0], 0, -1), [S]),
    "swapaxes": (lambda lib, t: lib.swapaxes(t[0], 0, 2), [C]),
    "swapaxes method": (lambda lib, t: t[0].swapaxes(-1, 1), [C]),
    "swapdims": (lambda lib, t: lib.swapdims(t[0].mT, 0, 1), [A]),
    "swapdims method 1-D": (lambda lib, t: t[0].swapdims(0, -1), [V]),
    "tile fewer counts": (lambda lib, t: lib.tile(t[0], (2,)), [A]),
    "tile more counts": (lambda lib, t: t[0].tile(2, 1, 3), [A]),
    "tile tuple of a view": (lambda lib, t: t[0].mT.tile((1, 2)), [A]),
    "tile ones": (lambda lib, t: lib.tile(t[0], (1, 1)), [A]),
    "tile 0-d": (lambda lib, t: lib.tile(t[0], (2, 3)), [S]),
    "vstack": (lambda lib, t: lib.vstack([t[1], t[0][0, :4], t[0].mT[:2]]), [B, A]),
    "vstack 0-d": (lambda lib, t: lib.vstack((t[0], t[1][:1])), [S, V]),
    "hstack 1-D": (lambda lib, t: lib.hstack([t[0], t[1], t[0][::2]]), [V, S]),
    "hstack 2-D": (lambda lib, t: lib.hstack([t[0], t[1].mT[:3]]), [A, B]),
    "dstack": (lambda lib, t: lib.dstack([t[0], t[1][:3, :4]]), [A, B]),
    "dstack 1-D and 3-D": (lambda lib, t: lib.dstack([t[0][:4], t[1][:1, 0:1].mT]), [V, C]),
    "column_stack": (lambda lib, t: lib.column_stack([t[0][:4], t[1].mT, t[1][0] * 2]), [V, A]),
    "column_stack 0-d": (lambda lib, t: lib.column_stack((t[0], t[1][:1])), [S, V]),
    "meshgrid ij": (lambda lib, t: lib.meshgrid(t[0], t[1][1], indexing="ij"), [V, A]),
    "meshgrid xy": (lambda lib, t: lib.meshgrid(t[0], t[1][::2], t[2], indexing="xy"), [V, V, S]),
    "meshgrid list": (lambda lib, t: lib.meshgrid([t[0][:2], t[1]], indexing="xy"), [V, S]),
    "meshgrid one": (lambda lib, t: lib.meshgrid(t[0], indexing="xy"), [V]),
    "broadcast_tensors": (
        lambda lib, t: lib.broadcast_tensors(t[0][:, :1], t[1][0], t[2]),
        [A, B, S],
    ),
    "tensordot int": (lambda lib, t: lib.tensordot(t[0], t[1], 1), [C, B]),
    "tensordot pair": (
        lambda lib, t: lib.tensordot(t[0], t[1], dims=([1, 2], [1, 0])),
        [C, C.transpose(2, 1, 0).copy()],
    ),
    "tensordot lists of views": (lambda lib, t: lib.tensordot(t[0].mT, t[1], [[1], [0]]), [A, A]),
    "tensordot 0": (lambda lib, t: lib.tensordot(t[0], t[1], dims=0), [V, A]),
    "tensordot default 2": (lambda lib, t: lib.tensordot(t[0], t[1].reshape(3, 4, 1)), [C, A]),
    "tensordot size 1": (lambda lib, t: lib.tensordot(t[0][:, :1], t[1], ([1], [0])), [A, C[0]]),
    "tensordot size 1 in b": (lambda lib, t: lib.tensordot(t[0], t[1][:1], ([1], [0])), [A, B]),
    "tensordot tensor dims": (
        lambda lib, t: lib.tensordot(t[0], t[1], dims=lib.tensor([[1], [0]])),
        [A, B],
    ),
    "mm": (lambda lib, t: lib.mm(t[0], t[1]), [A, B]),
    "mm method of views": (lambda lib, t: t[0].mT.mm(t[1][:, ::2]), [B, B]),
    "addmm": (lambda lib, t: lib.addmm(t[2], t[0], t[1]), [A, B, RNG.standard_normal((3, 5))]),
    "addmm beta alpha broadcast": (
        lambda lib, t: lib.addmm(t[2], t[0], t[1], beta=0.5, alpha=-2.0),
        [A, B, V],
    ),
    "addmm method 0-d input": (lambda lib, t: t[2].addmm(t[0].mT.mT, t[1], alpha=3), [A, B, S]),
    "baddbmm": (
        lambda lib, t: lib.baddbmm(t[2], t[0], t[1], beta=2.0, alpha=0.25),
        [C, RNG.standard_normal((2, 4, 5)), RNG.standard_normal((3, 1))],
    ),
    "baddbmm method": (
        lambda lib, t: t[2].baddbmm(t[0], t[1].mT),
        [C, RNG.standard_normal((2, 5, 4)), V],
    ),
    "addbmm": (
        lambda lib, t: lib.addbmm(t[2], t[0], t[1], beta=-1.0, alpha=1.5),
        [C, RNG.standard_normal((2, 4, 5)), V],
    ),
    "addbmm method": (
        lambda lib, t: t[2][:3].addbmm(t[0], t[1]),
        [C, RNG.standard_normal((2, 4, 5)), RNG.standard_normal((4, 5))],
    ),
    "inner": (lambda lib, t: lib.inner(t[0], t[1]), [C, A]),
    "inner 1-D": (lambda lib, t: t[0][:4].inner(t[1][1]), [V, A]),
    "inner 0-d": (lambda lib, t: lib.inner(t[0], t[1].mT), [S, A]),
    "kron": (lambda lib, t: lib.kron(t[0], t[1]), [A, V]),
    "kron 3-D and 2-D view": (lambda lib, t: t[0][:, ::2].kron(t[1]), [C, A]),
    "kron 0-d": (lambda lib, t: lib.kron(t[0], t[1]), [S, A]),
    "cumprod": (lambda lib, t: lib.cumprod(t[0], 1), [A]),
    "cumprod method dim -2 of a view": (lambda lib, t: t[0].mT.cumprod(-2), [C]),
    "cumprod 0-d": (lambda lib, t: lib.cumprod(t[0], 0), [S]),
    "diff": (lambda lib, t: lib.diff(t[0]), [A]),
    "diff n 2 dim 0": (lambda lib, t: t[0].diff(2, 0), [C]),
    "diff n past the size": (lambda lib, t: lib.diff(t[0], n=7), [A]),
    "diff n 0": (lambda lib, t: lib.diff(t[0], n=0), [A]),
    "diff prepend append": (
        lambda lib, t: lib.diff(t[0], dim=0, prepend=t[1][:1], append=t[1]),
        [A, A],
    ),
    "diff of a view, append": (
        lambda lib, t: t[0].mT.diff(n=2, append=t[1][:, :2]),
        [A, RNG.standard_normal((4, 5))],
    ),
    "diff n 0 prepend": (lambda lib, t: lib.diff(t[0], n=0, prepend=t[1]), [V, V]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_dtypes_and_gradients_match_torch(name: str) -> None:
    build, arrays = CALLS[name]
    check_against_torch(build, arrays)


@settings(max_examples=15, deadline=None)
@given(shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 10**6),
       data=st.data())  # fmt: skip
def test_random_shapes_dims_and_counts_match_torch(shape: Any, seed: int, data: Any) -> None:
    """Any shape, any dim (negative too), zeros among the values."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(shape) < 0.2, 0.0, rng.uniform(-2, 2, shape))
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    size = shape[dim]
    start = data.draw(st.integers(-size, size), label="start")
    room = size - start if start >= 0 else -start  # elements from start to the end
    length = data.draw(st.integers(0, room), label="length")
    n = data.draw(st.integers(0, 4), label="n")
    reps = data.draw(st.lists(st.integers(0, 3), max_size=4), label="reps")
    order = data.draw(st.permutations(range(ndim)), label="destination")
    check_against_torch(lambda lib, t: lib.cumprod(t[0], dim), [x])
    check_against_torch(lambda lib, t: t[0].diff(n, dim), [x])
    check_against_torch(lambda lib, t: t[0].narrow(dim, start, length), [x])
    check_against_torch(lambda lib, t: lib.tile(t[0], tuple(reps)), [x])
    check_against_torch(lambda lib, t: lib.movedim(t[0], tuple(range(ndim)), tuple(order)), [x])
    check_against_torch(lambda lib, t: lib.unbind(t[0], dim), [x])
    check_against_torch(
        lambda lib, t: lib.tensordot(t[0], t[1], 1), [x, rng.standard_normal(shape[-1:] + (2,))]
    )


ZEROS = {
    "no zero": RNG.uniform(0.5, 1.5, (3, 5)),
    "one zero a row": np.array(
        [[0.0, 2.0, -3.0, 1.5, 0.5], [1.0, 0.7, 2.0, 0.0, 0.5], [2.0, 3.0, 1.0, 0.5, 0.0]]
    ),
    "two zeros a row": np.array(
        [[0.0, 2.0, 0.0, 1.5, 2.0], [1.0, 0.0, 2.0, 0.0, 0.5], [0.0, 0.0, 1.0, 3.0, -1.0]]
    ),
    "random zeros": np.where(RNG.random((3, 5)) < 0.3, 0.0, RNG.uniform(-2, 2, (3, 5))),
}


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("inputs", sorted(ZEROS))
def test_cumprod_gradient_is_exact_where_zeros_occur(inputs: str, dim: int) -> None:
    """dL/dx_k = (x_0 ⋯ x_{k−1}) Σ_{i≥k} g_i x_{k+1} ⋯ x_i: finite and torch's at a zero,
    through a transposed view too (PyTorch's own formula divides only without zeros)."""
    check_against_torch(lambda lib, t: lib.cumprod(t[0], dim), [ZEROS[inputs]])
    check_against_torch(lambda lib, t: t[0].mT.cumprod(dim) * 1.5, [ZEROS[inputs]])


def test_cumprod_gradient_along_the_middle_of_three_dims_with_zeros() -> None:
    x = np.where(RNG.random((2, 6, 3)) < 0.25, 0.0, RNG.uniform(-2, 2, (2, 6, 3)))
    check_against_torch(lambda lib, t: lib.cumprod(t[0], 1), [x])


INT_CALLS = [
    "lib.cumprod(i, 0)",
    "b.cumprod(0)",
    "u.cumprod(0)",
    "lib.cumprod(i, 1, dtype=lib.float64)",
    "lib.diff(i)",
    "lib.diff(b)",
    "lib.diff(b, n=2)",
    "u.diff()",
    "lib.diff(i8, prepend=lib.tensor([[2.5], [0.5]]))",
    "lib.diff(b, append=lib.tensor([1, 0]))",
    "lib.kron(b, b)",
    "lib.kron(i, f)",
    "lib.tensordot(i, i.mT, 1)",
    "lib.mm(i, i.mT)",
    "lib.addmm(i[:, :1], i, i.mT, beta=2, alpha=-3)",
    "lib.addmm(i[:, :1], i, i.mT, alpha=True)",
    "lib.inner(lib.tensor(2), f)",
    "lib.inner(i, i)",
    "lib.vstack([i, f])",
    "lib.hstack([b, i8[0]])",
    "lib.column_stack([b, i8[0]])",
    "lib.dstack([u, u])",
    "lib.tile(b, (2,))",
    "lib.meshgrid(i[0], i[1], indexing='ij')[1]",
    "lib.broadcast_tensors(b, i)[0]",
    "i.narrow(1, 1, 1)",
    "i8.movedim(0, 1)",
    "lib.empty_like(i).fill_(3)",
]


@pytest.mark.parametrize("call", INT_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes_and_values(call: str) -> None:
    same_dtype_and_values(call, torch_parity.int_and_bool_inputs, rtol=None)


@LIBS
def test_narrow_unbind_movedim_swapaxes_are_views(lib: Any) -> None:
    """Writes through the result reach the input and the other way round, as in PyTorch."""
    x = lib.zeros(3, 4, dtype=lib.float64)
    part = x.narrow(1, 1, 2)
    part.fill_(1.0)
    x[2, 2] = 5.0
    assert values(x)[:, 1:3].tolist() == [[1.0, 1.0], [1.0, 1.0], [1.0, 5.0]]
    assert float(part[2, 1]) == 5.0
    row = x.unbind(0)[1]
    row[0] = -2.0
    assert float(x[1, 0]) == -2.0
    moved = lib.movedim(x, 0, 1)
    moved[3, 0] = 7.0
    assert float(x[0, 3]) == 7.0
    swapped = x.swapaxes(0, 1)
    x[1, 3] = 9.0
    assert float(swapped[3, 1]) == 9.0
    assert tuple(lib.narrow(x, 0, -1, 1).shape) == (1, 4)


def test_a_view_changed_in_place_after_use_stops_backward() -> None:
    """The view shares the version counter: backward through a saved input refuses stale
    values (tinylm's guard for every view)."""
    x = tinylm.randn(3, 4, dtype=tinylm.float64, requires_grad=True)
    y = x * 1.0
    part = y.narrow(0, 0, 2)
    loss = (part * part).sum()
    with tinylm.no_grad():
        y.narrow(0, 0, 1).fill_(0.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@LIBS
def test_tile_always_copies(lib: Any) -> None:
    x = lib.tensor([[1.0, 2.0]])
    for tiled in (x.tile(1, 1), lib.tile(x, (2, 1)), lib.tile(x[0], ())):
        tiled[0, ...] = 0.0
        assert values(x).tolist() == [[1.0, 2.0]]


@LIBS
def test_meshgrid_warns_without_indexing_as_torch(lib: Any) -> None:
    a, b = lib.arange(2), lib.arange(3)
    with pytest.warns(UserWarning, match="indexing"):
        grid = lib.meshgrid(a, b)
    assert [tuple(g.shape) for g in grid] == [(2, 3), (2, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lib.meshgrid(a, b, indexing="ij")


SHAPES = [((2, 1), (3,)), ((4, 1, 3), [5, 1], 1), (3, 1), ((0,), (1,)), (), ((2, 3),)]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_broadcast_shapes_matches_torch(shapes: tuple[Any, ...]) -> None:
    ours = tinylm.broadcast_shapes(*shapes)
    assert ours == tuple(torch.broadcast_shapes(*shapes)) and isinstance(ours, tuple)


@LIBS
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf · 0
def test_addmm_ignores_input_at_beta_0_and_the_product_at_alpha_0(lib: Any) -> None:
    """NaN in the ignored term does not reach the result, and its gradient is 0."""
    x = lib.full((2, 2), float("nan"), dtype=lib.float64, requires_grad=True)
    m = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64, requires_grad=True)
    y = lib.addmm(x, m, m, beta=0)
    (y * lib.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=lib.float64)).sum().backward()
    assert values(y).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert values(x.grad).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    bad = lib.full((2, 2), float("inf"), dtype=lib.float64, requires_grad=True)
    z = lib.addmm(m, bad, m, alpha=0, beta=2)
    z.sum().backward()
    assert values(z).tolist() == [[2.0, 4.0], [6.0, 8.0]]
    assert values(bad.grad).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert np.isnan(values(m.grad)).all()  # bad @ m still multiplies inf by m's gradient


STRIDED = {
    "fresh": lambda lib: lib.zeros(2, 3, 4),
    "transposed": lambda lib: lib.zeros(2, 3).mT,
    "sliced": lambda lib: lib.zeros(4, 6)[::2, 1::3],
    "column": lambda lib: lib.zeros(2, 3)[:, 0:1],
    "expanded": lambda lib: lib.zeros(3, 1).expand(2, 3, 4),
    "narrowed": lambda lib: lib.zeros(3, 4).narrow(1, 1, 2),
    "unbound": lambda lib: lib.zeros(2, 3, 4).unbind(1)[0],
    "moved": lambda lib: lib.movedim(lib.zeros(2, 3, 4), 0, -1),
    "empty": lambda lib: lib.zeros(2, 0, 3),
    "0-d": lambda lib: lib.zeros(()),
    "unsqueezed transpose": lambda lib: lib.zeros(2, 3).mT.unsqueeze(0),
    "meshgrid": lambda lib: lib.meshgrid(lib.zeros(2), lib.zeros(3), indexing="xy")[0],
}


@pytest.mark.parametrize("name", sorted(STRIDED))
def test_stride_and_is_contiguous_match_torch(name: str) -> None:
    ours, theirs = STRIDED[name](tinylm), STRIDED[name](torch)
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()
    for d in range(-ours.ndim, ours.ndim):
        assert ours.stride(d) == theirs.stride(d) and ours.stride(dim=d) == theirs.stride(dim=d)


@LIBS
def test_type_converts_to_a_dtype_or_a_type_name(lib: Any) -> None:
    x = lib.tensor([1.5, -2.5], requires_grad=True)
    assert x.type(lib.float32) is x  # already that type: itself, no copy
    y = x.type(lib.float64)
    assert dtype_name(y) == "float64" and y.requires_grad
    (y * lib.tensor([2.0, 3.0], dtype=lib.float64)).sum().backward()
    assert values(x.grad).tolist() == [2.0, 3.0] and dtype_name(x.grad) == "float32"
    names = {"torch.DoubleTensor": "float64", "torch.IntTensor": "int32",
             "torch.LongTensor": "int64", "torch.BoolTensor": "bool",
             "torch.ByteTensor": "uint8", "torch.HalfTensor": "float16"}  # fmt: skip
    for name, dtype in names.items():
        assert dtype_name(x.detach().type(name)) == dtype, name
    assert values(x.detach().type(dtype=lib.int64)).tolist() == [1, -2]


def test_type_without_a_dtype_names_it_and_unknown_names_are_refused() -> None:
    x = tinylm.ones(2)
    assert x.type() == torch.ones(2).type() == "torch.FloatTensor"
    with pytest.raises(ValueError):
        torch.ones(2).type("float")
    with pytest.raises(TinyLMError, match="'float' is not a type name"):
        x.type("float")  # NumPy would read 'float' as float64


@LIBS
def test_detach_in_place_makes_a_leaf_that_needs_no_grad(lib: Any) -> None:
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = a * 3.0
    assert b.detach_() is b
    assert not b.requires_grad and b.is_leaf and b.grad_fn is None
    assert values(b).tolist() == [3.0, 6.0]
    c = lib.tensor([4.0], requires_grad=True)
    assert lib.detach_(c) is c and not c.requires_grad and c.is_leaf
    view = (a * 1.0)[:1]
    with pytest.raises(RuntimeError, match="(?i)detach views in-place|detach a view"):
        view.detach_()
    (b * a).sum().backward()  # b is a constant now: the gradient of a is b's values
    assert values(a.grad).tolist() == [3.0, 6.0]


@LIBS
def test_empty_like_takes_the_shape_dtype_and_device(lib: Any) -> None:
    x = lib.ones(2, 3, dtype=lib.int32)
    e = lib.empty_like(x)
    assert (tuple(e.shape), dtype_name(e), str(e.device)) == ((2, 3), "int32", "cpu")
    f = lib.empty_like(x, dtype=lib.float64, requires_grad=True)
    assert dtype_name(f) == "float64" and f.requires_grad and f.is_leaf
    assert not e.requires_grad


# (call with `lib`, the error tinylm raises, its message); torch refuses each call as well
BAD_CALLS = [
    ("lib.ones(2, 3).narrow(0, -3, 1)", TinyLMError, r"start -3 is out of range \[-2, 2\]"),
    ("lib.ones(2, 3).narrow(0, 1, 2)", TinyLMError, r"start \(1\) \+ length \(2\) exceeds"),
    ("lib.ones(2, 3).narrow(0, 1, -1)", TinyLMError, "length must be non-negative"),
    ("lib.ones(2, 3).narrow(2, 0, 1)", TinyLMError, r"dim 2 is out of range \[-2, 1\]"),
    ("lib.ones(2, 3).narrow(0, 0.5, 1)", TypeError, "start must be an int"),
    ("lib.tensor(1.0).narrow(0, 0, 1)", TinyLMError, "0-dim"),
    ("lib.tensor(1.0).unbind()", TinyLMError, "at least 1 dim"),
    ("lib.ones(2, 3).unbind(2)", TinyLMError, "dim 2 is out of range"),
    ("lib.movedim(lib.ones(2, 3, 4), (0, 0), (1, 2))", TinyLMError, r"repeated dim in source"),
    ("lib.movedim(lib.ones(2, 3, 4), (0, 1), (1, 1))", TinyLMError, "repeated dim in destination"),
    ("lib.movedim(lib.ones(2, 3, 4), (0, 1), (2,))", TinyLMError, "must name as many dims"),
    ("lib.movedim(lib.ones(2, 3, 4), 0, 3)", TinyLMError, r"dim 3 is out of range \[-3, 2\]"),
    ("lib.ones(3).swapaxes(0, 1)", TinyLMError, r"dim 1 is out of range \[-1, 0\]"),
    ("lib.swapdims(lib.ones(2, 3), 0, 2)", TinyLMError, "dim 2 is out of range"),
    ("lib.ones(2, 3).tile(-1)", TinyLMError, "non-negative"),
    ("lib.ones(2, 3).tile(1.5)", TypeError, "dims must be an int"),
    ("lib.vstack([])", TinyLMError, "non-empty"),
    ("lib.vstack(lib.ones(2, 3))", TypeError, "list or tuple of tensors"),
    ("lib.hstack((lib.ones(2), 3))", TypeError, "element 1 must be a Tensor"),
    ("lib.hstack([lib.ones(2, 3), lib.ones(2)])", TinyLMError, r"hstack: .*\(2,\)"),
    ("lib.column_stack([lib.ones(2, 2, 2), lib.ones(2)])", TinyLMError, "column_stack"),
    ("lib.meshgrid(lib.ones(2), lib.ones(2, 2), indexing='ij')", TinyLMError, "0-d or 1-D"),
    ("lib.meshgrid(lib.ones(2), lib.ones(2).double(), indexing='ij')", TinyLMError, "same dtype"),
    ("lib.meshgrid(lib.ones(2), indexing='ab')", TinyLMError, "'ij' or 'xy', got 'ab'"),
    ("lib.meshgrid(indexing='xy')", TinyLMError, "non-empty"),
    ("lib.broadcast_tensors(lib.ones(2, 2), lib.ones(3))", TinyLMError, "do not broadcast"),
    ("lib.broadcast_shapes((2,), (3,))", TinyLMError, r"shapes \(2,\), \(3,\) do not broadcast"),
    ("lib.broadcast_shapes((-1,), (3,))", TinyLMError, "non-negative"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(4, 3), 1)", TinyLMError, "size 3 in dim 1 and b"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2), -1)", TinyLMError, "dims >= 0"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2), 3)", TinyLMError, "dims=3 is more"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2), (1, 0))", TinyLMError, "pair of lists"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2), 1.5)", TinyLMError, "an int or a pair"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2), ([1], [0, 1]))", TinyLMError, "same length"),
    ("lib.tensordot(lib.ones(3, 3), lib.ones(3, 3), ([1, 1], [0, 1]))", TinyLMError, "repeated"),
    ("lib.tensordot(lib.ones(2, 3), lib.ones(3, 2).double(), 1)", TinyLMError, "same dtype"),
    ("lib.mm(lib.ones(2, 3), lib.ones(3))", TinyLMError, r"mat2 must be a matrix \(2-D\)"),
    ("lib.mm(lib.ones(2, 3), lib.ones(2, 4))", TinyLMError, r"\(2x3 and 2x4\)"),
    ("lib.mm(lib.ones(2, 3), lib.ones(3, 4).double())", TinyLMError, "same dtype"),
    (
        "lib.addmm(lib.ones(3, 4), lib.ones(2, 3), lib.ones(3, 4))",
        TinyLMError,
        r"\(3, 4\) does not broadcast to the product's shape \(2, 4\)",
    ),
    (
        "lib.addmm(lib.ones(2, 4).double(), lib.ones(2, 3), lib.ones(3, 4))",
        TinyLMError,
        "same dtype",
    ),
    (
        "lib.baddbmm(lib.ones(2, 4), lib.ones(5, 2, 3), lib.ones(4, 3, 4))",
        TinyLMError,
        r"\(B, n, m\) and \(B, m, p\)",
    ),
    ("lib.baddbmm(lib.ones(2, 4), lib.ones(2, 3), lib.ones(3, 4))", TinyLMError, "3-D"),
    (
        "lib.addbmm(lib.ones(5, 2, 4), lib.ones(5, 2, 3), lib.ones(5, 3, 4))",
        TinyLMError,
        "does not broadcast",
    ),
    (
        "lib.inner(lib.ones(3), lib.ones(4))",
        TinyLMError,
        r"last dims must match.*\(3,\) and \(4,\)",
    ),
    ("lib.inner(lib.ones(3), lib.ones(3).double())", TinyLMError, "same dtype"),
    ("lib.ones(2, 3).cumprod(2)", TinyLMError, r"dim 2 is out of range \[-2, 1\]"),
    ("lib.cumprod(lib.ones(2, 3))", TypeError, "dim"),
    ("lib.diff(lib.ones(3), n=-1)", TinyLMError, "non-negative"),
    ("lib.diff(lib.ones(3), n=1.5)", TypeError, "n must be an int"),
    ("lib.diff(lib.tensor(1.0))", TinyLMError, "at least 1 dim"),
    ("lib.diff(lib.ones(2, 3), prepend=lib.ones(2))", TinyLMError, r"prepend of shape \(2,\)"),
    ("lib.diff(lib.ones(2, 3), prepend=lib.ones(3, 1))", TinyLMError, "in every dim but dim -1"),
    ("lib.diff(lib.ones(2, 3), append=2.0)", TypeError, "append must be a Tensor"),
    ("lib.ones(2, 3).stride(2)", TinyLMError, "dim 2 is out of range"),
    ("lib.tensor(1.0).stride(0)", TinyLMError, "out of range"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls_are_refused_in_one_line_as_in_torch(call: str, error: Any, message: str) -> None:
    refused_by_both(call, error, message)


# tinylm's deliberate differences: PyTorch accepts these and does something silently
REFUSED = [
    ("lib.addmm(i, i, i, beta=0.5)", "beta=0.5 is not an integer, but the tensors are int64"),
    ("lib.baddbmm(j, j, j, alpha=2.7)", "alpha=2.7 is not an integer"),
]


@pytest.mark.parametrize("call, message", REFUSED, ids=[c[0] for c in REFUSED])
def test_float_scalars_with_integer_products_are_refused(call: str, message: str) -> None:
    """PyTorch cuts beta=0.5 to 0 and alpha=2.7 to 2 for integer tensors, silently."""
    env = {"i": torch.ones(2, 2, dtype=torch.int64), "j": torch.ones(1, 2, 2, dtype=torch.int64)}
    eval(call, {"lib": torch, **env})
    env = {
        "i": tinylm.ones(2, 2, dtype=tinylm.int64),
        "j": tinylm.ones(1, 2, 2, dtype=tinylm.int64),
    }
    with pytest.raises(TinyLMError, match=message):
        eval(call, {"lib": tinylm, **env})


@pytest.mark.parametrize(
    "view",
    [
        "x", "x.permute(2, 0, 1)", "x.transpose(0, 2)", "x[:, ::2]",
        "x[:, :, ::2].permute(2, 0, 1)", "x[:, :1].expand(2, 3, 4)",
        "x[:, :1].expand(2, 3, 4).permute(2, 1, 0)",
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "make",
    [
        "v.clone()", "lib.clone(v)", "lib.zeros_like(v)", "lib.ones_like(v)",
        "lib.full_like(v, 2.5)", "lib.empty_like(v)", "lib.zeros_like(v, dtype=lib.float64)",
        "v.clone(memory_format=lib.contiguous_format)", "v.contiguous()",
        "v.clone(memory_format=lib.preserve_format)",
        "lib.clone(v, memory_format=lib.contiguous_format)",
        "lib.ones_like(v, memory_format=lib.contiguous_format)",
        "lib.rand_like(v)", "lib.randn_like(v)", "lib.randint_like(v, 5)",
        "lib.randn_like(v, memory_format=lib.contiguous_format)",
        "v.to(lib.float64)", "v.double()", "v.to(copy=True)", "v.cpu()",
        "v.to(lib.float64, memory_format=lib.contiguous_format)",
        "v.to(copy=True, memory_format=lib.contiguous_format)",
        "v.to('cpu', memory_format=lib.contiguous_format)",
        "v.cpu(memory_format=lib.contiguous_format)",
    ],
)  # fmt: skip
def test_copies_and_like_tensors_keep_the_layout_as_torch(view: str, make: str) -> None:
    """PyTorch's default memory_format=preserve_format: a copy of a transposed tensor is
    transposed too (same strides, not contiguous, so .view(-1) of it is refused as there); a
    view with gaps gives the dense layout of its axis order."""
    results = []
    for lib in (torch, tinylm):
        x = lib.arange(24.0).reshape(2, 3, 4)
        made = eval(make, {"v": eval(view, {"x": x}), "lib": lib})
        unset = "empty_like" in make or "rand" in make  # unset or random values
        values = None if unset else made.numpy().tolist()
        results.append((made.stride(), made.is_contiguous(), tuple(made.shape), values))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "view",
    [
        "x[:, :1].expand(2, 3, 4)", "x[:, ::2]", "x.permute(1, 0, 2)",
        "x[..., ::2].transpose(0, 2)", "x.transpose(1, 2)", "x[0].t()",
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "op",
    [
        "v + 1", "v * v", "v.exp()", "v > 0", "v.clamp(0, 5)", "lib.where(v > 3, v, 0.0)",
        "v.max(0).values", "v.masked_fill(v > 3, 0.0)", "v.roll(1, 0)", "v.roll(1)",
        "v.tril()", "v.triu(1)", "v.sum(-1)", "v.sum(0)", "v.sum((0, -1))", "v.mean(1)",
        "v.amax(-1)", "v.prod(-1)", "v.std(-1)", "v.var(0, keepdim=True)", "v.logsumexp(-1)",
        "v.nansum(-1)", "v.norm(dim=-1)", "lib.linalg.vector_norm(v, dim=0)", "v.any(-1)",
        "v.all(0)", "v.count_nonzero(-1)", "v.cumsum(0)", "v.cumprod(1)", "v.logcumsumexp(1)",
        "v.softmax(-1)", "v.softmax(0)", "v.log_softmax(1)", "v.renorm(2, 0, 1.0)",
        "lib.cat([v, v], 0)", "lib.cat([v, v + 1], -1)", "lib.stack([v, v], 1)",
        "lib.stack([v, v], -1)", "lib.cat([v, v.contiguous()], 0)", "v.flip(-1)", "v.flip(0)",
        "lib.nn.functional.gelu(v)", "lib.nn.functional.gelu(v, approximate='tanh')",
        "v.sort(-1).values", "v.sort(0).indices", "v.sort(1, descending=True).values",
        "v.argsort(-1)", "lib.msort(v)", "v.index_fill(0, lib.tensor([0]), 0.0)",
        "v.index_put((lib.tensor([0]),), lib.tensor(0.0))",
        "v.index_put((lib.tensor([0, 0]),), lib.tensor(1.0), accumulate=True)",
        "v.index_copy(0, lib.tensor([0]), v[:1])", "v.index_add(0, lib.tensor([0]), v[:1])",
    ],
)  # fmt: skip
def test_results_of_ops_on_views_are_laid_out_as_torch(view: str, op: str) -> None:
    """Element-wise ops (GELU's kernels included), flip, sort, index_fill and index_put keep a
    permuted input's layout, as PyTorch's TensorIterator and preserve_format clones do;
    reductions, scans, softmax over any dim, masked_fill, roll, tril, triu, renorm, cat,
    stack, index_copy and index_add return C order whatever the input's, as PyTorch's:
    code that calls ``.view`` on their results works in both or neither (NumPy keeps the
    input's axis order, so ``x.t().sum(0)`` was not contiguous here)."""
    results = []
    for lib in (torch, tinylm):
        x = lib.arange(24.0).reshape(2, 3, 4)
        r = eval(op, {"v": eval(view, {"x": x}), "lib": lib})
        results.append((r.stride(), r.is_contiguous()))
        values = r.detach().double().numpy()
        if lib is torch:
            want = values
    np.testing.assert_allclose(values, want, rtol=1e-6)
    assert results[0] == results[1]


@LIBS
def test_memory_formats_that_are_refused(lib: Any) -> None:
    """contiguous() takes only contiguous_format, as PyTorch's; channels_last (an image
    layout tinylm does not have) and anything that is not a memory format are refused."""
    x = lib.arange(6.0).reshape(2, 3).t()
    assert repr(lib.preserve_format) == f"{lib.__name__}.preserve_format"
    with pytest.raises((RuntimeError, TinyLMError), match="preserve"):
        x.contiguous(memory_format=lib.preserve_format)
    with pytest.raises(TypeError, match="memory_format"):
        x.clone(memory_format="C")
    if lib is tinylm:  # PyTorch accepts it on 4-D tensors
        with pytest.raises(TinyLMError, match="channels_last is not supported"):
            lib.zeros_like(x, memory_format=lib.channels_last)
