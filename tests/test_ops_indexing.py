"""The ops that PyTorch programs use for picking, sorting and accumulating, through the
``OpTests`` battery: gather, index_select, scatter_add, cumsum, sort / topk / max(dim) values,
and ``F.pad`` in its four modes. Each index is drawn from the drawn shapes; values that are
sorted or compared come from a grid of distinct numbers (there is no derivative at a tie).
Equality with PyTorch itself is in ``tests/test_torch_api.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError
from tinylm.testing import OpSpec, OpTests
from tinylm.testing import strategies as st_tl


def one_shape(min_dims: int = 1, max_dims: int = 3, max_side: int = 4):
    return st_tl.shapes(min_dims, max_dims, 1, max_side).map(lambda s: (s,))


def grid_values(bound: int = 40):
    """Multiples of 1/4: distinct ones are 1/4 apart, far more than gradcheck's step."""
    return st.integers(-4 * bound, 4 * bound).map(lambda k: k / 4)


# ---- gather, index_select ----------------------------------------------------------------


@st.composite
def gather_kwargs(draw: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    shape = shapes[0]
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    index_shape = tuple(
        draw(st.integers(1, 4)) if k == d else draw(st.integers(1, n)) for k, n in enumerate(shape)
    )
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[d] - 1)))
    return {"dim": dim, "index": index}


def np_gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    d = dim % x.ndim
    part = x[tuple(slice(None) if k == d else slice(0, n) for k, n in enumerate(index.shape))]
    return np.take_along_axis(part, index, axis=d)


class TestGather(OpTests):
    """Indices repeat, so the backward must add the copies' gradients."""

    spec = OpSpec(
        name="gather",
        fn=lambda x, dim, index: x.gather(dim, tinylm.tensor(index)),
        reference=np_gather,
        shapes=one_shape(),
        kwargs=gather_kwargs,
    )


@st.composite
def index_select_kwargs(draw: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    shape = shapes[0]
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    index = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    return {"dim": dim, "index": np.array(index, dtype=np.int64)}


class TestIndexSelect(OpTests):
    spec = OpSpec(
        name="index_select",
        fn=lambda x, dim, index: tinylm.index_select(x, dim, tinylm.tensor(index)),
        reference=lambda x, dim, index: np.take(x, index, axis=dim),
        shapes=one_shape(),
        kwargs=index_select_kwargs,
    )


# ---- scatter_add -------------------------------------------------------------------------


@st.composite
def scatter_shapes(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The tensor's shape and src's: the same number of dims, any sizes."""
    x_shape = draw(st_tl.shapes(min_dims=1, max_dims=3, max_side=4))
    src_shape = tuple(draw(st.integers(1, 4)) for _ in x_shape)
    return x_shape, src_shape


@st.composite
def scatter_kwargs(draw: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    x_shape, src_shape = shapes
    dim = draw(st.integers(-len(x_shape), len(x_shape) - 1))
    d = dim % len(x_shape)
    index_shape = tuple(
        draw(st.integers(1, s if k == d else min(s, n)))
        for k, (n, s) in enumerate(zip(x_shape, src_shape))
    )
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, x_shape[d] - 1)))
    return {"dim": dim, "index": index}


def np_scatter_add(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """out[..., index[p], ...] += src[p] for every position p of index, written as a loop."""
    d = dim % x.ndim
    out = x.copy()
    for p in np.ndindex(*index.shape):
        target = p[:d] + (index[p],) + p[d + 1 :]
        out[target] += src[p]
    return out


class TestScatterAdd(OpTests):
    """Several src elements land on one place (indices repeat): all of them add up."""

    spec = OpSpec(
        name="scatter_add",
        fn=lambda x, src, dim, index: x.scatter_add(dim, tinylm.tensor(index), src),
        reference=np_scatter_add,
        inputs=[{}, {}],
        shapes=scatter_shapes(),
        kwargs=scatter_kwargs,
    )


# ---- cumsum ------------------------------------------------------------------------------


class TestCumsum(OpTests):
    spec = OpSpec(
        name="cumsum",
        fn=lambda x, dim: tinylm.cumsum(x, dim),
        reference=lambda x, dim: np.cumsum(x, axis=dim) if x.ndim else x.copy(),
        shapes=one_shape(min_dims=0),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"dim": st.integers(-max(len(shapes[0]), 1), max(len(shapes[0]), 1) - 1)}
        ),
    )


# ---- sort, topk, max / min along a dim: their values are differentiable ------------------


def dim_and_order(shapes: tuple[tuple[int, ...], ...]):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"dim": st.integers(-nd, nd - 1), "descending": st.booleans()})


def np_sort(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    return -np.sort(-x, axis=dim) if descending else np.sort(x, axis=dim)


class TestSortValues(OpTests):
    spec = OpSpec(
        name="sort values",
        fn=lambda x, dim, descending: x.sort(dim, descending).values,
        reference=np_sort,
        inputs=[dict(elements=grid_values(), unique=True)],
        shapes=one_shape(),
        kwargs=dim_and_order,
    )


@st.composite
def topk_kwargs(draw: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    nd = len(shapes[0])
    dim = draw(st.integers(-nd, nd - 1))
    k = draw(st.integers(1, shapes[0][dim]))
    return {"k": k, "dim": dim, "largest": draw(st.booleans())}


def np_topk(x: np.ndarray, k: int, dim: int, largest: bool) -> np.ndarray:
    ordered = np_sort(x, dim, descending=largest)
    return np.take(ordered, np.arange(k), axis=dim)


class TestTopkValues(OpTests):
    spec = OpSpec(
        name="topk values",
        fn=lambda x, k, dim, largest: tinylm.topk(x, k, dim, largest).values,
        reference=np_topk,
        inputs=[dict(elements=grid_values(), unique=True)],
        shapes=one_shape(),
        kwargs=topk_kwargs,
    )


def extreme_kwargs(shapes: tuple[tuple[int, ...], ...]):
    nd = len(shapes[0])
    return st.fixed_dictionaries(
        {
            "dim": st.integers(-nd, nd - 1),
            "keepdim": st.booleans(),
            "which": st.sampled_from(["max", "min"]),
        }
    )


class TestMaxMinAlongDim(OpTests):
    """``x.max(dim).values``: the gradient goes to the element at the index (unique values)."""

    spec = OpSpec(
        name="max/min(dim).values",
        fn=lambda x, dim, keepdim, which: getattr(x, which)(dim, keepdim).values,
        reference=lambda x, dim, keepdim, which: getattr(np, which)(x, axis=dim, keepdims=keepdim),
        inputs=[dict(elements=grid_values(), unique=True)],
        shapes=one_shape(),
        kwargs=extreme_kwargs,
    )


# ---- F.pad -------------------------------------------------------------------------------


@st.composite
def pad_kwargs(draw: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    shape = shapes[0]
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    if len(shape) == 1:  # the other modes pad 1 to 3 dims of an input with 1 or 2 more
        mode = "constant"
    low, high = (1, len(shape)) if mode == "constant" else (max(1, len(shape) - 2), len(shape) - 1)
    n_dims = draw(st.integers(low, high))
    pads: list[int] = []
    for k in range(n_dims):
        n = shape[-1 - k]
        if mode == "constant":  # negative pads crop
            before = draw(st.integers(-n, 3))
            after = draw(st.integers(max(-n - before, -n), 3))
        else:
            most = {"reflect": n - 1, "replicate": 3, "circular": n}[mode]
            before, after = draw(st.integers(0, most)), draw(st.integers(0, most))
        pads += [before, after]
    value = draw(st.sampled_from([0.0, 2.5])) if mode == "constant" else None
    return {"pad": tuple(pads), "mode": mode, "value": value}


def np_pad(x: np.ndarray, pad: tuple[int, ...], mode: str, value: Any) -> np.ndarray:
    """numpy's np.pad, after cropping for the negative pads (PyTorch's constant mode)."""
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for k in range(len(pad) // 2):
        axis, (before, after) = x.ndim - 1 - k, pad[2 * k : 2 * k + 2]
        crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths[axis] = (max(before, 0), max(after, 0))
    x = x[tuple(crop)]
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(mode, "wrap")
    extra = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, widths, mode=np_mode, **extra)


class TestPad(OpTests):
    """reflect / replicate / circular copy edge elements several times: their gradients add."""

    spec = OpSpec(
        name="pad",
        fn=lambda x, pad, mode, value: F.pad(x, pad, mode=mode, value=value),
        reference=np_pad,
        shapes=one_shape(max_dims=3),
        kwargs=pad_kwargs,
    )


# ---- what carries no gradient: indices, one_hot ------------------------------------------


@given(x=st_tl.arrays(shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=5)), data=st.data())
def test_sort_and_argsort_are_stable_and_agree(x: np.ndarray, data: Any) -> None:
    """Equal values keep their order, ascending and descending; NaN sorts as the largest."""
    x = np.round(x)  # many ties
    if data.draw(st.booleans(), label="with NaN"):
        x.flat[0] = np.nan
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    for descending in (False, True):
        values, indices = tinylm.tensor(x).sort(dim, descending)
        idx = indices.numpy()
        assert indices.dtype == tinylm.long
        np.testing.assert_array_equal(np.take_along_axis(x, idx, axis=dim), values.numpy())
        key = -x if descending else x  # NaN stays NaN: last ascending, first descending
        order = np.argsort(
            np.where(np.isnan(key), -np.inf if descending else np.inf, key), axis=dim, kind="stable"
        )
        np.testing.assert_array_equal(idx, order)
        np.testing.assert_array_equal(tinylm.tensor(x).argsort(dim, descending).numpy(), idx)


def test_one_hot() -> None:
    out = F.one_hot(tinylm.tensor([[0, 2], [1, 1]]), 4)
    assert out.dtype == tinylm.long and out.shape == (2, 2, 4) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[[[0, 2], [1, 1]]])
    assert F.one_hot(tinylm.tensor([3, 0])).shape == (2, 4)  # num_classes = max + 1
    with pytest.raises(TinyLMError, match="class index 4 is out of range for 4 classes"):
        F.one_hot(tinylm.tensor([4]), 4)
    with pytest.raises(TinyLMError, match="class index -1 is out of range"):
        F.one_hot(tinylm.tensor([-1]), 4)
    with pytest.raises(TinyLMError, match="must be integers"):
        F.one_hot(tinylm.tensor([1.0]), 4)


def test_index_errors_are_one_clear_line() -> None:
    """numpy would wrap a negative index silently; PyTorch refuses it, and so does tinylm."""
    x = tinylm.randn(3, 4)
    with pytest.raises(TinyLMError, match=r"gather: index -1 is out of range for dim 1 of size 4"):
        x.gather(1, tinylm.tensor([[-1], [0], [0]]))
    with pytest.raises(TinyLMError, match=r"gather: index of shape \(3,\) must have the 2 dims"):
        x.gather(1, tinylm.tensor([0, 1, 2]))
    with pytest.raises(TinyLMError, match="gather: index must hold integers"):
        x.gather(1, tinylm.tensor([[0.0]]))
    with pytest.raises(TinyLMError, match="index_select: index 3 is out of range for dim 0"):
        x.index_select(0, tinylm.tensor([3]))
    with pytest.raises(TinyLMError, match="scatter_add: src has dtype float64"):
        x.scatter_add(0, tinylm.tensor([[0]]), tinylm.ones(1, 1, dtype=tinylm.float64))
    with pytest.raises(TinyLMError, match="topk: k=5 is out of range for dim -1 of size 4"):
        x.topk(5)
    with pytest.raises(
        TinyLMError,
        match=r"pad: reflect pads must be less than the size of their dim, got \(4, 0\) for dim 1",
    ):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(TinyLMError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(TinyLMError, match="pad: needs an even number of pads"):
        F.pad(x, (1, 1, 1))


PERMUTED_VIEWS = {
    "permuted": lambda t: t.permute(2, 0, 1),
    "transposed with gaps": lambda t: t.transpose(0, 2)[:, ::2],
    "matrix transposed": lambda t: t[0].t(),
}
LAYOUT_KEEPING_OPS = {
    "sort values": lambda v: v.sort(-1).values,
    "sort dim 0, descending": lambda v: v.sort(0, descending=True).values,
    "index_fill": lambda v: v.index_fill(0, tinylm.tensor([0]), 0.5),
    "index_put": lambda v: v.index_put(
        (tinylm.tensor([0, 1]),), tinylm.tensor(2.0, dtype=tinylm.float64)
    ),
    "index_put accumulate": lambda v: v.index_put(
        (tinylm.tensor([1, 1]),), tinylm.tensor(2.0, dtype=tinylm.float64), accumulate=True
    ),
}


@pytest.mark.parametrize("op", list(LAYOUT_KEEPING_OPS))
@pytest.mark.parametrize("view", list(PERMUTED_VIEWS))
def test_ops_that_keep_a_permuted_layout_give_the_values_and_gradients_of_a_contiguous_copy(
    op, view
):
    """sort, index_fill and index_put lay their results out as a permuted input (as PyTorch's:
    tests/test_torch_shape_parity.py); what they compute is that of the same view made
    contiguous, and their gradients pass finite differences (float64, random upstream)."""
    from tinylm.testing import gradcheck

    make, fn = PERMUTED_VIEWS[view], LAYOUT_KEEPING_OPS[op]
    x = np.random.default_rng(5).standard_normal((2, 3, 4))
    got = fn(make(tinylm.tensor(x)))
    want = fn(make(tinylm.tensor(x)).contiguous())
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    gradcheck(lambda t: fn(make(t)), [tinylm.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("view", list(PERMUTED_VIEWS))
def test_argsort_of_a_permuted_view_is_that_of_a_contiguous_copy(view):
    make = PERMUTED_VIEWS[view]
    x = tinylm.tensor(np.random.default_rng(6).integers(0, 3, (2, 3, 4)).astype(np.float64))
    for dim in range(make(x).ndim):
        for descending in (False, True):  # with ties: the order among equals is kept too
            got = make(x).argsort(dim, descending=descending)
            want = make(x).contiguous().argsort(dim, descending=descending)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
