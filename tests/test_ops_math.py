"""The math ops added for PyTorch parity (sin, cos, rsqrt, log1p, expm1, erf, the step
functions, nan_to_num, prod) and the Tensor methods built from existing ops (square, repeat,
repeat_interleave, index_add, masked_select, outer, dot, bmm, mT), each through the
``OpTests`` battery of ``tests/test_ops.py``: hypothesis shapes in C, Fortran and strided
layouts, a numpy reference, float32, gradcheck with a random upstream gradient.

The step functions (sign, floor, ceil, round) have derivative 0 away from their steps, so
their inputs keep 1/8 away from every step and gradcheck measures that 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinylm
from tinylm.testing import OpSpec, OpTests
from tinylm.testing import strategies as st_tl


def one_shape(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    return st_tl.shapes(min_dims, max_dims, min_side, max_side).map(lambda s: (s,))


def off_grid(bound: int = 10):
    """Multiples of 1/4 shifted by 1/8: never within 1/8 of an integer or a half-integer
    (where floor, ceil, round and sign jump)."""
    return st.integers(-4 * bound, 4 * bound).map(lambda k: k / 4 + 1 / 8)


class TestSin(OpTests):
    spec = OpSpec(name="sin", fn=lambda x: x.sin(), reference=np.sin)


class TestCos(OpTests):
    spec = OpSpec(name="cos", fn=lambda x: tinylm.cos(x), reference=np.cos)


class TestRsqrt(OpTests):
    spec = OpSpec(
        name="rsqrt",
        fn=lambda x: x.rsqrt(),
        reference=lambda x: 1 / np.sqrt(x),
        inputs=[dict(min_value=0.2, max_value=10)],
    )


class TestSquare(OpTests):
    spec = OpSpec(name="square", fn=lambda x: tinylm.square(x), reference=np.square)


class TestLog1p(OpTests):
    spec = OpSpec(
        name="log1p", fn=lambda x: x.log1p(), reference=np.log1p, inputs=[dict(min_value=-0.9)]
    )


class TestExpm1(OpTests):
    spec = OpSpec(
        name="expm1",
        fn=lambda x: tinylm.expm1(x),
        reference=np.expm1,
        inputs=[dict(min_value=-5, max_value=5)],
    )


class TestErf(OpTests):
    spec = OpSpec(
        name="erf",
        fn=lambda x: x.erf(),
        reference=np.vectorize(math.erf, otypes=[float]),
        inputs=[dict(min_value=-4, max_value=4)],
    )


STEPS = {"sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": np.round}


class TestStepFunctions(OpTests):
    spec = OpSpec(
        name="sign, floor, ceil, round",
        fn=lambda x, kind, top: getattr(tinylm if top else x, kind)(*([x] if top else [])),
        reference=lambda x, kind, top: STEPS[kind](x),
        inputs=[dict(elements=off_grid())],
        kwargs=st.fixed_dictionaries(
            {"kind": st.sampled_from(sorted(STEPS)), "top": st.booleans()}
        ),
    )


class TestNanToNum(OpTests):
    """Finite inputs pass through (NaN and inf are compared with PyTorch's in
    ``tests/test_torch_math_parity.py``)."""

    spec = OpSpec(name="nan_to_num", fn=lambda x: x.nan_to_num(), reference=np.nan_to_num)


def prod_kwargs(shapes: tuple[tuple[int, ...], ...]):
    nd = len(shapes[0])
    one = st.integers(-max(nd, 1), max(nd, 1) - 1)  # a 0-d tensor takes dim 0 or -1
    by_dim = st.fixed_dictionaries({"dim": one, "keepdim": st.booleans()})
    return st.one_of(st.fixed_dictionaries({"dim": st.none(), "keepdim": st.just(False)}), by_dim)


class TestProd(OpTests):
    """With zeros among the elements: the gradient is the product of the others, not y/x."""

    spec = OpSpec(
        name="prod",
        fn=lambda x, dim, keepdim: x.prod(dim, keepdim),
        # numpy has no axis 0 of a 0-d array; PyTorch's prod(0) of one is the element
        reference=lambda x, dim, keepdim: np.prod(
            x, axis=None if x.ndim == 0 else dim, keepdims=keepdim
        ),
        inputs=[dict(elements=st.one_of(st.just(0.0), st.floats(-1.5, 1.5, width=32)))],
        shapes=one_shape(max_side=3),
        kwargs=prod_kwargs,
    )


@st.composite
def repeat_counts(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    extra = draw(st.integers(0 if shape else 1, 2))  # repeat() with no counts is refused
    return tuple(draw(st.integers(0, 3)) for _ in range(len(shape) + extra))


class TestRepeat(OpTests):
    spec = OpSpec(
        name="repeat",
        fn=lambda x, reps: x.repeat(*reps),
        reference=lambda x, reps: np.tile(x, reps),
        shapes=one_shape(max_side=3),
        kwargs=lambda shapes: st.fixed_dictionaries({"reps": repeat_counts(shapes[0])}),
    )


@st.composite
def interleave_args(draw: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    dim = (
        None if not shape or draw(st.booleans()) else draw(st.integers(-len(shape), len(shape) - 1))
    )
    n = math.prod(shape) if dim is None else shape[dim]
    if draw(st.booleans()):
        repeats: Any = draw(st.integers(0, 3))
    else:
        repeats = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return {"repeats": repeats, "dim": dim}


class TestRepeatInterleave(OpTests):
    spec = OpSpec(
        name="repeat_interleave",
        fn=lambda x, repeats, dim: x.repeat_interleave(
            repeats if isinstance(repeats, int) else tinylm.tensor(repeats, dtype=tinylm.int64), dim
        ),
        reference=lambda x, repeats, dim: np.repeat(x, repeats, axis=dim),
        shapes=one_shape(),
        kwargs=lambda shapes: interleave_args(shapes[0]),
    )


@st.composite
def index_add_case(draw: Any) -> tuple[tuple[int, ...], ...]:
    shape = draw(st_tl.shapes(1, 3, 1, 4))
    dim = draw(st.integers(0, len(shape) - 1))
    k = draw(st.integers(0, 5))
    source = shape[:dim] + (k,) + shape[dim + 1 :]
    return (shape, source)


def numpy_index_add(x: np.ndarray, source: np.ndarray, dim: int, index: list[int], alpha: float):
    y = x.copy()
    for i, j in enumerate(index):
        where = (slice(None),) * dim + (j,)
        y[where] += alpha * source[(slice(None),) * dim + (i,)]
    return y


def index_add_kwargs(shapes: tuple[tuple[int, ...], ...]):
    shape, source = shapes
    # the dim the index runs along: where the shapes differ (any dim of one length works)
    dim = next((d for d in range(len(shape)) if shape[d] != source[d]), len(shape) - 1)
    n, k = shape[dim], source[dim]
    return st.fixed_dictionaries(
        {
            "dim": st.just(dim),
            "index": st.lists(st.integers(0, n - 1), min_size=k, max_size=k),  # repeats too
            "alpha": st.sampled_from([1, -0.5, 2.0]),
        }
    )


class TestIndexAdd(OpTests):
    spec = OpSpec(
        name="index_add",
        fn=lambda x, source, dim, index, alpha: x.index_add(
            dim, tinylm.tensor(index, dtype=tinylm.int64), source, alpha=alpha
        ),
        reference=numpy_index_add,
        inputs=[{}, {}],
        shapes=index_add_case(),
        kwargs=index_add_kwargs,
    )


@st.composite
def broadcast_mask(draw: Any, shape: tuple[int, ...]) -> np.ndarray:
    drop = draw(st.integers(0, len(shape)))
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in shape[drop:])
    return draw(hnp.arrays(np.bool_, mask_shape))


class TestMaskedSelect(OpTests):
    spec = OpSpec(
        name="masked_select",
        fn=lambda x, mask: x.masked_select(tinylm.tensor(mask)),
        reference=lambda x, mask: np.broadcast_to(x, np.broadcast_shapes(x.shape, mask.shape))[
            np.broadcast_to(mask, np.broadcast_shapes(x.shape, mask.shape))
        ],
        shapes=one_shape(),
        kwargs=lambda shapes: st.fixed_dictionaries({"mask": broadcast_mask(shapes[0])}),
    )


def vector_pair():
    return st.tuples(st.integers(1, 5), st.integers(1, 5)).map(lambda nm: ((nm[0],), (nm[1],)))


class TestOuter(OpTests):
    spec = OpSpec(
        name="outer",
        fn=lambda a, b: tinylm.outer(a, b),
        reference=np.outer,
        inputs=[{}, {}],
        shapes=vector_pair(),
    )


class TestDot(OpTests):
    spec = OpSpec(
        name="dot",
        fn=lambda a, b: a.dot(b),
        reference=np.dot,
        inputs=[{}, {}],
        shapes=st.integers(1, 6).map(lambda n: ((n,), (n,))),
    )


class TestBmm(OpTests):
    spec = OpSpec(
        name="bmm",
        fn=lambda a, b: tinylm.bmm(a, b),
        reference=np.matmul,
        inputs=[{}, {}],
        shapes=st.tuples(*[st.integers(1, 3)] * 4).map(
            lambda s: ((s[0], s[1], s[2]), (s[0], s[2], s[3]))
        ),
    )


class TestMT(OpTests):
    spec = OpSpec(
        name="mT",
        fn=lambda x: x.mT,
        reference=lambda x: np.swapaxes(x, -1, -2),
        shapes=one_shape(min_dims=2, max_dims=4),
    )
