"""Every differentiable op of the Tensor, checked by the ``OpTests`` battery.

One ``class TestX(OpTests)`` per op. Each gets, over hypothesis-drawn float64 inputs in
C, Fortran and strided layouts (and broadcast shapes for binary ops): forward vs a numpy
reference, float32 in -> float32 out, gradcheck with a random upstream gradient, inputs not
mutated, ``.grad`` not aliasing anything, and the graph freed after backward.

Input bounds keep each op away from the points where it has no derivative (a kink of
``relu``/``abs``/``clamp``, a tie of ``max``/``maximum``) or no value (``log`` of 0), since
finite differences across such a point measure nothing useful. Axis, shape and index
parameters are drawn from the drawn shapes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinylm
from tinylm.testing import OpSpec, OpTests, gradcheck
from tinylm.testing import strategies as st_tl

# ---------------------------------------------------------------------------------------
# Value strategies
# ---------------------------------------------------------------------------------------


def away_from(*points: float, lo: float = -10.0, hi: float = 10.0, margin: float = 1e-2):
    """Floats in [lo, hi] at least ``margin`` away from each kink in ``points``.

    ``width=32`` so the same values work for the float32 battery as well.
    """
    return st.floats(lo, hi, width=32).filter(lambda v: all(abs(v - p) >= margin for p in points))


def grid(offset: float, bound: int = 10):
    """Multiples of 1/4 in [-bound, bound], shifted by ``offset``.

    Two grids with offsets 0 and 1/8 share no value, so ``maximum(a, b)`` never meets a
    tie (where it has no derivative), however hypothesis pairs up the elements; distinct
    values of one grid are at least 1/4 apart, far more than gradcheck's step.
    """
    return st.integers(-4 * bound, 4 * bound).map(lambda k: k / 4 + offset)


def one_shape(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Shapes for single-input ops, as a 1-tuple (the battery wants one shape per input)."""
    return st_tl.shapes(min_dims, max_dims, min_side, max_side).map(lambda s: (s,))


# ---------------------------------------------------------------------------------------
# Elementwise binary ops (broadcast shapes by default)
# ---------------------------------------------------------------------------------------


class TestAdd(OpTests):
    spec = OpSpec(name="add", fn=lambda a, b: a + b, reference=np.add, inputs=[{}, {}])


class TestSub(OpTests):
    spec = OpSpec(name="sub", fn=lambda a, b: a - b, reference=np.subtract, inputs=[{}, {}])


class TestMul(OpTests):
    spec = OpSpec(name="mul", fn=lambda a, b: a * b, reference=np.multiply, inputs=[{}, {}])


class TestDiv(OpTests):
    spec = OpSpec(
        name="div",
        fn=lambda a, b: a / b,
        reference=np.divide,
        inputs=[{}, dict(elements=away_from(0.0, lo=-5, hi=5, margin=0.5))],
    )


class TestPow(OpTests):
    spec = OpSpec(
        name="pow (tensor ** tensor)",
        fn=lambda a, b: a**b,
        reference=np.power,
        inputs=[dict(min_value=0.5, max_value=3.0), dict(min_value=-2.0, max_value=2.0)],
    )


class TestPowScalar(OpTests):
    spec = OpSpec(
        name="pow (tensor ** number)",
        fn=lambda x, p: x**p,
        reference=lambda x, p: np.power(x, p),
        inputs=[dict(min_value=0.2, max_value=5.0)],
        kwargs=st.fixed_dictionaries({"p": st.sampled_from([-2, -1, -0.5, 0, 0.5, 1, 2, 3])}),
    )


class TestPythonScalarsEitherSide(OpTests):
    """radd, rsub, rmul, rtruediv, rpow and the scalar-right forms, in one expression."""

    spec = OpSpec(
        name="python scalars on either side",
        fn=lambda x: (2.0 + x) * (3.0 - x) / 4.0 + 1.5 / x - x * 0.5 + 2.0**x - (x - 1.0),
        reference=lambda x: (2.0 + x) * (3.0 - x) / 4.0 + 1.5 / x - x * 0.5 + 2.0**x - (x - 1.0),
        inputs=[dict(elements=away_from(0.0, lo=-3, hi=3, margin=0.25))],
    )


class TestMaximum(OpTests):
    spec = OpSpec(
        name="maximum",
        fn=lambda a, b: tinylm.maximum(a, b),
        reference=np.maximum,
        inputs=[dict(elements=grid(0.0)), dict(elements=grid(1 / 8))],
    )


class TestMinimum(OpTests):
    spec = OpSpec(
        name="minimum",
        fn=lambda a, b: a.minimum(b),
        reference=np.minimum,
        inputs=[dict(elements=grid(0.0)), dict(elements=grid(1 / 8))],
    )


class TestWhere(OpTests):
    """``where(cond, a, b)`` with cond, a and b all broadcasting against each other."""

    spec = OpSpec(
        name="where",
        fn=lambda a, b, cond: tinylm.where(cond, a, b),
        reference=lambda a, b, cond: np.where(cond, a, b),
        inputs=[{}, {}],
        shapes=st_tl.broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4),
        kwargs=lambda shapes: st.fixed_dictionaries({"cond": hnp.arrays(np.bool_, shapes[2])}),
    )


# ---------------------------------------------------------------------------------------
# Elementwise unary ops
# ---------------------------------------------------------------------------------------


class TestNeg(OpTests):
    spec = OpSpec(name="neg", fn=lambda x: -x, reference=np.negative)


class TestNegMethod(OpTests):
    spec = OpSpec(name="neg()", fn=lambda x: x.neg(), reference=np.negative)


class TestExp(OpTests):
    spec = OpSpec(
        name="exp", fn=lambda x: x.exp(), reference=np.exp, inputs=[dict(min_value=-5, max_value=5)]
    )


class TestLog(OpTests):
    spec = OpSpec(name="log", fn=lambda x: x.log(), reference=np.log, inputs=[dict(min_value=0.1)])


class TestSqrt(OpTests):
    spec = OpSpec(
        name="sqrt", fn=lambda x: x.sqrt(), reference=np.sqrt, inputs=[dict(min_value=0.1)]
    )


class TestTanh(OpTests):
    spec = OpSpec(name="tanh", fn=lambda x: x.tanh(), reference=np.tanh)


class TestSigmoid(OpTests):
    spec = OpSpec(
        name="sigmoid",
        fn=lambda x: x.sigmoid(),
        reference=lambda x: 1 / (1 + np.exp(-x)),
        # ±30 reaches the far tails, where the stable formula matters
        inputs=[dict(min_value=-30, max_value=30)],
    )


class TestRelu(OpTests):
    spec = OpSpec(
        name="relu",
        fn=lambda x: x.relu(),
        reference=lambda x: np.maximum(x, 0),
        inputs=[dict(elements=away_from(0.0))],
    )


class TestAbs(OpTests):
    spec = OpSpec(
        name="abs", fn=lambda x: abs(x), reference=np.abs, inputs=[dict(elements=away_from(0.0))]
    )


class TestClamp(OpTests):
    spec = OpSpec(
        name="clamp(min, max)",
        fn=lambda x: x.clamp(-2.0, 3.0),
        reference=lambda x: np.clip(x, -2.0, 3.0),
        inputs=[dict(elements=away_from(-2.0, 3.0))],
    )


class TestClampMinOnly(OpTests):
    spec = OpSpec(
        name="clamp(min=)",
        fn=lambda x: tinylm.clamp(x, min=0.5),
        reference=lambda x: np.maximum(x, 0.5),
        inputs=[dict(elements=away_from(0.5))],
    )


class TestClampMaxOnly(OpTests):
    spec = OpSpec(
        name="clamp(max=)",
        fn=lambda x: x.clamp(max=-1.0),
        reference=lambda x: np.minimum(x, -1.0),
        inputs=[dict(elements=away_from(-1.0))],
    )


# ---------------------------------------------------------------------------------------
# Reductions: axis None / int / tuple (negative too), keepdims; numpy keywords, PyTorch
# keywords (dim, keepdim) and positional arguments all map to the same op.
# ---------------------------------------------------------------------------------------


def axes_for(shape: tuple[int, ...], allow_none: bool = True):
    """None, one axis or a tuple of distinct axes of ``shape``, negative ones included."""
    nd = len(shape)
    if nd == 0:
        return st.just(None)
    one = st.integers(-nd, nd - 1)
    several = st.lists(one, min_size=1, max_size=nd, unique_by=lambda a: a % nd).map(tuple)
    return st.one_of(st.none(), one, several) if allow_none else st.one_of(one, several)


def reduction_kwargs(shapes: tuple[tuple[int, ...], ...], allow_none: bool = True):
    return st.fixed_dictionaries(
        {
            "axis": axes_for(shapes[0], allow_none),
            "keepdims": st.booleans(),
            "style": st.sampled_from(["numpy", "torch", "positional"]),
        }
    )


def call_reduction(name: str):
    """x.<name>(...) spelled in one of the three accepted styles. ``max``/``min`` along one
    int dim (``dim=`` or its alias ``axis=``) give PyTorch's (values, indices): the values
    are compared here, the indices in ``test_max_min_along_a_dim_give_values_and_indices``."""

    def fn(x: tinylm.Tensor, axis: Any, keepdims: bool, style: str, **extra: Any):
        # max/min take one dim (PyTorch); over several the values come from amax/amin
        several = name in ("max", "min") and isinstance(axis, tuple)
        method = getattr(x, "a" + name if several else name)
        if style == "numpy" and not several:
            out = method(axis=axis, keepdims=keepdims, **extra)
        elif style == "torch" or several:
            out = method(dim=axis, keepdim=keepdims, **extra)
        elif name in ("var", "std"):  # PyTorch's positional order: dim, unbiased, keepdim
            out = method(axis, extra.pop("correction") == 1, keepdims, **extra)
        else:
            out = method(axis, keepdims, **extra)
        if name in ("max", "min") and isinstance(axis, int):
            assert isinstance(out, tinylm.ValuesIndices), f"{name}({axis}) gave {type(out)}"
            return out.values
        return out

    return fn


def numpy_reduction(np_fn: Any):
    def reference(x: np.ndarray, axis: Any, keepdims: bool, style: str, **extra: Any):
        return np_fn(x, axis=axis, keepdims=keepdims, **extra)

    return reference


class TestSum(OpTests):
    spec = OpSpec(
        name="sum",
        fn=call_reduction("sum"),
        reference=numpy_reduction(np.sum),
        shapes=one_shape(),
        kwargs=reduction_kwargs,
    )


class TestMean(OpTests):
    spec = OpSpec(
        name="mean",
        fn=call_reduction("mean"),
        reference=numpy_reduction(np.mean),
        shapes=one_shape(),
        kwargs=reduction_kwargs,
    )


class TestMax(OpTests):
    spec = OpSpec(
        name="max",
        fn=call_reduction("max"),
        reference=numpy_reduction(np.max),
        # the maximum has no derivative at a tie, nor closer to one than gradcheck's step
        inputs=[dict(elements=grid(0.0, bound=40), unique=True)],
        shapes=one_shape(),
        kwargs=reduction_kwargs,
    )


class TestMin(OpTests):
    spec = OpSpec(
        name="min",
        fn=call_reduction("min"),
        reference=numpy_reduction(np.min),
        inputs=[dict(elements=grid(0.0, bound=40), unique=True)],
        shapes=one_shape(),
        kwargs=reduction_kwargs,
    )


def var_kwargs(shapes: tuple[tuple[int, ...], ...]):
    return reduction_kwargs(shapes).flatmap(
        lambda kw: st.fixed_dictionaries({"correction": st.sampled_from([0, 1])}).map(
            lambda c: {**kw, **c}
        )
    )


def numpy_var(np_fn: Any):
    def reference(x: np.ndarray, axis: Any, keepdims: bool, style: str, correction: int):
        return np_fn(x, axis=axis, keepdims=keepdims, ddof=correction)

    return reference


class TestVar(OpTests):
    spec = OpSpec(
        name="var",
        fn=call_reduction("var"),
        reference=numpy_var(np.var),
        # sides >= 2 leave a degree of freedom for correction=1 along every axis
        shapes=one_shape(min_dims=1, min_side=2),
        kwargs=var_kwargs,
    )


class TestStd(OpTests):
    spec = OpSpec(
        name="std",
        fn=call_reduction("std"),
        reference=numpy_var(np.std),
        # distinct values on a grid keep the variance away from 0, where √ has no slope
        inputs=[dict(elements=grid(0.0), unique=True)],
        shapes=one_shape(min_dims=1, min_side=2, max_side=3),
        kwargs=var_kwargs,
    )


def numpy_logsumexp(x: np.ndarray, axis: Any, keepdims: bool, style: str) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


class TestLogsumexp(OpTests):
    spec = OpSpec(
        name="logsumexp",
        fn=call_reduction("logsumexp"),
        reference=numpy_logsumexp,
        shapes=one_shape(min_dims=1),
        # no axis=None: logsumexp's default is the last axis, so dim=None means that one
        kwargs=lambda shapes: reduction_kwargs(shapes, allow_none=False),
    )


# ---------------------------------------------------------------------------------------
# Softmax and log-softmax (through tinylm.kernels.registry)
# ---------------------------------------------------------------------------------------


def numpy_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def dim_kwargs(shapes: tuple[tuple[int, ...], ...]):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"dim": st.integers(-nd, nd - 1)})


class TestSoftmax(OpTests):
    spec = OpSpec(
        name="softmax",
        fn=lambda x, dim: x.softmax(dim),
        reference=numpy_softmax,
        shapes=one_shape(min_dims=1),
        kwargs=dim_kwargs,
    )


class TestLogSoftmax(OpTests):
    spec = OpSpec(
        name="log_softmax",
        fn=lambda x, dim: tinylm.log_softmax(x, dim=dim),
        reference=lambda x, dim: np.log(numpy_softmax(x, dim)),
        shapes=one_shape(min_dims=1),
        kwargs=dim_kwargs,
        atol=1e-10,  # log(e^(x-m)/Σ) vs x-m-log Σ: the same number by two roundings
    )


# ---------------------------------------------------------------------------------------
# Shape ops
# ---------------------------------------------------------------------------------------


def prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def same_size_shape(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Another shape with as many elements as ``shape``, perhaps with one -1."""
    size = math.prod(shape)
    ndim = draw(st.integers(0 if size == 1 else 1, 4))
    if ndim == 0:
        return ()
    dims = [1] * ndim
    for f in prime_factors(size):
        dims[draw(st.integers(0, ndim - 1))] *= f
    if draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    return tuple(dims)


def reshape_kwargs(shapes: tuple[tuple[int, ...], ...]):
    return st.fixed_dictionaries({"shape": same_size_shape(shapes[0])})


class TestReshape(OpTests):
    spec = OpSpec(
        name="reshape",
        fn=lambda x, shape: x.reshape(shape),
        reference=lambda x, shape: np.reshape(x, shape),
        shapes=one_shape(),
        kwargs=reshape_kwargs,
    )


class TestView(OpTests):
    spec = OpSpec(
        name="view",
        fn=lambda x, shape: x.view(*shape),
        reference=lambda x, shape: np.reshape(x, shape),
        # a view shares memory: C-contiguous inputs (a transposed or strided one is refused,
        # as in PyTorch: tests/test_torch_api_porting.py)
        inputs=[dict(layout="C")],
        shapes=one_shape(),
        kwargs=reshape_kwargs,
    )


class TestFlatten(OpTests):
    spec = OpSpec(
        name="flatten",
        fn=lambda x: x.flatten(),
        reference=lambda x: np.reshape(x, -1),
        shapes=one_shape(),
    )


def two_dims(shapes: tuple[tuple[int, ...], ...]):
    nd = len(shapes[0])
    dim = st.integers(-nd, nd - 1)
    return st.fixed_dictionaries({"dim0": dim, "dim1": dim})


class TestTranspose(OpTests):
    spec = OpSpec(
        name="transpose",
        fn=lambda x, dim0, dim1: x.transpose(dim0, dim1),
        reference=lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
        shapes=one_shape(min_dims=2, max_dims=4),
        kwargs=two_dims,
    )


class TestPermute(OpTests):
    spec = OpSpec(
        name="permute",
        fn=lambda x, dims: x.permute(*dims) if dims else x.permute(()),  # permute() is a TypeError
        reference=lambda x, dims: np.transpose(x, dims),
        shapes=one_shape(max_dims=4),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"dims": st.permutations(range(len(shapes[0]))).map(tuple)}
        ),
    )


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")  # PyTorch's, off 2-D
class TestT(OpTests):
    spec = OpSpec(name=".T", fn=lambda x: x.T, reference=np.transpose, shapes=one_shape(min_dims=1))


@st.composite
def expanded_shape(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape ``shape`` expands to: new leading axes, size-1 axes stretched, -1 = keep."""
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    body = [draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1])) for n in shape]
    return tuple(lead + body)


class TestExpand(OpTests):
    spec = OpSpec(
        name="expand",
        fn=lambda x, sizes: x.expand(*sizes),
        reference=lambda x, sizes: np.broadcast_to(
            x, [n if s == -1 else s for s, n in zip(sizes, (1,) * (len(sizes) - x.ndim) + x.shape)]
        ),
        shapes=st.lists(st.sampled_from([1, 1, 2, 3]), max_size=3).map(lambda s: (tuple(s),)),
        kwargs=lambda shapes: st.fixed_dictionaries({"sizes": expanded_shape(shapes[0])}),
    )


def flip_kwargs(shapes: tuple[tuple[int, ...], ...]):
    """Distinct dims (negative ones too), spelled as PyTorch allows: x.flip(0, 1) or
    x.flip((0, 1)) or tinylm.flip(x, [0, 1])."""
    nd = max(len(shapes[0]), 1)  # a 0-d tensor takes dim 0 or -1, as PyTorch's
    dims = st.lists(st.integers(-nd, nd - 1), max_size=nd, unique_by=lambda d: d % nd)
    return st.fixed_dictionaries({"dims": dims, "style": st.sampled_from(["args", "tuple", "fn"])})


def call_flip(x: tinylm.Tensor, dims: list[int], style: str) -> tinylm.Tensor:
    if style == "fn" or not dims:
        return tinylm.flip(x, dims)
    return x.flip(*dims) if style == "args" else x.flip(tuple(dims))


class TestFlip(OpTests):
    spec = OpSpec(
        name="flip",
        fn=call_flip,
        reference=lambda x, dims, style: np.flip(
            x, axis=tuple(d % max(x.ndim, 1) for d in dims) if x.ndim else ()
        ),
        shapes=one_shape(max_dims=4),
        kwargs=flip_kwargs,
    )


def roll_kwargs(shapes: tuple[tuple[int, ...], ...]):
    """One shift of the flattened tensor (dims=None), or one shift per dim (repeats add)."""
    nd = len(shapes[0])
    shift = st.integers(-7, 7)
    flat = st.fixed_dictionaries({"shifts": shift, "dims": st.none()})
    if nd == 0:
        return flat
    pairs = st.lists(st.tuples(shift, st.integers(-nd, nd - 1)), min_size=1, max_size=3)
    per_dim = pairs.map(
        lambda ps: {"shifts": tuple(p[0] for p in ps), "dims": tuple(p[1] for p in ps)}
    )
    one = st.tuples(shift, st.integers(-nd, nd - 1)).map(lambda p: {"shifts": p[0], "dims": p[1]})
    return st.one_of(flat, per_dim, one)


class TestRoll(OpTests):
    spec = OpSpec(
        name="roll",
        fn=lambda x, shifts, dims: x.roll(shifts, dims),
        reference=lambda x, shifts, dims: np.roll(x, shifts, axis=dims),
        shapes=one_shape(max_dims=4),
        kwargs=roll_kwargs,
    )


class TestRollFunction(OpTests):
    spec = OpSpec(
        name="tinylm.roll",
        fn=lambda x, shifts, dims: tinylm.roll(x, shifts, dims=dims),
        reference=lambda x, shifts, dims: np.roll(x, shifts, axis=dims),
        shapes=one_shape(max_dims=3),
        kwargs=roll_kwargs,
    )


def numpy_squeeze(x: np.ndarray, dim: Any) -> np.ndarray:
    if dim is None:
        return np.squeeze(x)
    # PyTorch semantics: squeezing an axis that is not of size 1 leaves it alone
    return np.squeeze(x, axis=dim) if x.shape[dim] == 1 else x


class TestSqueeze(OpTests):
    spec = OpSpec(
        name="squeeze",
        fn=lambda x, dim: x.squeeze(dim),
        reference=numpy_squeeze,
        shapes=st.lists(st.sampled_from([1, 1, 2, 3]), max_size=4).map(lambda s: (tuple(s),)),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {
                "dim": st.none()
                if not shapes[0]
                else st.one_of(st.none(), st.integers(-len(shapes[0]), len(shapes[0]) - 1))
            }
        ),
    )


class TestUnsqueeze(OpTests):
    spec = OpSpec(
        name="unsqueeze",
        fn=lambda x, dim: x.unsqueeze(dim),
        reference=lambda x, dim: np.expand_dims(x, dim),
        shapes=one_shape(),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"dim": st.integers(-len(shapes[0]) - 1, len(shapes[0]))}
        ),
    )


# ---- concat, stack, split ---------------------------------------------------------------


@st.composite
def concat_shapes(draw: Any) -> tuple[tuple[int, ...], ...]:
    """Three shapes equal except along one axis."""
    base = list(draw(st_tl.shapes(min_dims=1, max_dims=3, max_side=3)))
    axis = draw(st.integers(0, len(base) - 1))
    out = []
    for _ in range(3):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        out.append(tuple(s))
    return tuple(out)


def concat_kwargs(shapes: tuple[tuple[int, ...], ...]):
    # every axis outside of which the shapes agree (at least the one concat_shapes chose)
    nd = len(shapes[0])
    ok = [
        d
        for d in range(nd)
        if all(s[:d] + s[d + 1 :] == shapes[0][:d] + shapes[0][d + 1 :] for s in shapes)
    ]
    return st.fixed_dictionaries({"dim": st.sampled_from(ok + [d - nd for d in ok])})


class TestConcat(OpTests):
    spec = OpSpec(
        name="concat",
        fn=lambda a, b, c, dim: tinylm.concat([a, b, c], dim=dim),
        reference=lambda a, b, c, dim: np.concatenate([a, b, c], axis=dim),
        inputs=[{}, {}, {}],
        shapes=concat_shapes(),
        kwargs=concat_kwargs,
    )


class TestStack(OpTests):
    spec = OpSpec(
        name="stack",
        fn=lambda a, b, c, dim: tinylm.stack([a, b, c], dim=dim),
        reference=lambda a, b, c, dim: np.stack([a, b, c], axis=dim),
        inputs=[{}, {}, {}],
        shapes=st_tl.shapes(max_dims=3, max_side=3).map(lambda s: (s, s, s)),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"dim": st.integers(-len(shapes[0]) - 1, len(shapes[0]))}
        ),
    )


@st.composite
def split_args(draw: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """A dim and either a piece size or a list of sizes summing to that dim's length."""
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    if draw(st.booleans()):
        return {"split": draw(st.integers(1, n + 1)), "dim": dim}
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    return {"split": sizes, "dim": dim}


def numpy_split_reversed(x: np.ndarray, split: Any, dim: int) -> np.ndarray:
    n = x.shape[dim]
    sizes = [min(split, n - s) for s in range(0, n, split)] if isinstance(split, int) else split
    pieces = np.split(x, np.cumsum(sizes)[:-1], axis=dim)
    return np.concatenate(pieces[::-1], axis=dim)


class TestSplit(OpTests):
    """Split, then join the pieces in reverse order, so every piece's gradient must land
    in its own slice (a mix-up between pieces cannot cancel out)."""

    spec = OpSpec(
        name="split",
        fn=lambda x, split, dim: tinylm.concat(x.split(split, dim)[::-1], dim=dim),
        reference=numpy_split_reversed,
        shapes=one_shape(min_dims=1, max_side=5),
        kwargs=lambda shapes: split_args(shapes[0]),
    )


class TestChunk(OpTests):
    spec = OpSpec(
        name="chunk",
        fn=lambda x, chunks, dim: tinylm.concat(x.chunk(chunks, dim)[::-1], dim=dim),
        reference=lambda x, chunks, dim: numpy_split_reversed(x, -(-x.shape[dim] // chunks), dim),
        shapes=one_shape(min_dims=1, max_side=5),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"chunks": st.integers(1, 4), "dim": st.integers(-len(shapes[0]), len(shapes[0]) - 1)}
        ),
    )


@given(
    x=st_tl.arrays(shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=5)),
    data=st.data(),
)
def test_split_pieces_gradcheck(x: np.ndarray, data: Any) -> None:
    """split returns a tuple: gradcheck every piece at once (each with its own upstream)."""
    args = data.draw(split_args(x.shape))
    gradcheck(lambda t: t.split(args["split"], args["dim"]), [tinylm.Tensor(x, requires_grad=True)])


# ---- indexing -----------------------------------------------------------------------------


def getitem_reference(x: np.ndarray, index: Any) -> np.ndarray:
    return np.asarray(x[index])


def _forward_steps(index: Any) -> Any:
    """The index with each slice's step made positive: PyTorch (and tinylm) refuse x[::-1]."""

    def fix(i: Any) -> Any:
        if isinstance(i, slice) and i.step is not None and i.step < 0:
            return slice(i.start, i.stop, -i.step)
        return i

    return tuple(fix(i) for i in index) if isinstance(index, tuple) else fix(index)


class TestBasicIndexing(OpTests):
    spec = OpSpec(
        name="basic indexing (ints, slices, None, ...)",
        fn=lambda x, index: x[index],
        reference=getitem_reference,
        shapes=one_shape(max_dims=3),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"index": hnp.basic_indices(shapes[0], allow_newaxis=True).map(_forward_steps)}
        ),
    )


class TestIntegerArrayIndexing(OpTests):
    """One integer array per axis; indices repeat, so backward must add, not overwrite."""

    spec = OpSpec(
        name="integer-array indexing",
        fn=lambda x, index: x[index],
        reference=getitem_reference,
        shapes=one_shape(min_dims=1, max_dims=3),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {
                "index": hnp.integer_array_indices(
                    shapes[0], result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=6)
                )
            }
        ),
    )


@st.composite
def one_axis_index(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """``x[:, :, idx]``-style: an index list along one axis (negatives and repeats), a
    tinylm int64 Tensor or a Python list."""
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    idx = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8))
    kind = draw(st.sampled_from(["list", "tensor"]))
    picked = idx if kind == "list" else tinylm.tensor(idx)
    return (slice(None),) * axis + (picked,)


def numpy_one_axis(x: np.ndarray, index: tuple[Any, ...]) -> np.ndarray:
    return x[tuple(i.numpy() if isinstance(i, tinylm.Tensor) else i for i in index)]


class TestOneAxisArrayIndexing(OpTests):
    spec = OpSpec(
        name="index list / Tensor along one axis",
        fn=lambda x, index: x[index],
        reference=numpy_one_axis,
        shapes=one_shape(min_dims=1, max_dims=3),
        kwargs=lambda shapes: st.fixed_dictionaries({"index": one_axis_index(shapes[0])}),
    )


class TestBoolMaskIndexing(OpTests):
    spec = OpSpec(
        name="boolean-mask indexing",
        fn=lambda x, mask: x[mask],
        reference=lambda x, mask: x[mask],
        shapes=one_shape(min_dims=1, max_dims=3),
        kwargs=lambda shapes: st.fixed_dictionaries({"mask": hnp.arrays(np.bool_, shapes[0])}),
    )


@st.composite
def mask_for(draw: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A bool mask that broadcasts to ``shape`` (fewer leading axes, size-1 axes)."""
    drop = draw(st.integers(0, len(shape)))
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in shape[drop:])
    return draw(hnp.arrays(np.bool_, mask_shape))


class TestMaskedFill(OpTests):
    spec = OpSpec(
        name="masked_fill",
        fn=lambda x, mask, value: x.masked_fill(tinylm.tensor(mask), value),
        reference=lambda x, mask, value: np.where(mask, value, x),
        shapes=one_shape(),
        kwargs=lambda shapes: st.fixed_dictionaries(
            {"mask": mask_for(shapes[0]), "value": st.sampled_from([0.0, -1e9, 3.5])}
        ),
    )


class TestTril(OpTests):
    spec = OpSpec(
        name="tril",
        fn=lambda x, diagonal: x.tril(diagonal),
        reference=lambda x, diagonal: np.tril(x, diagonal),
        shapes=one_shape(min_dims=2, max_side=5),
        kwargs=st.fixed_dictionaries({"diagonal": st.integers(-3, 3)}),
    )


class TestTriu(OpTests):
    spec = OpSpec(
        name="triu",
        fn=lambda x, diagonal: tinylm.triu(x, diagonal),
        reference=lambda x, diagonal: np.triu(x, diagonal),
        shapes=one_shape(min_dims=2, max_side=5),
        kwargs=st.fixed_dictionaries({"diagonal": st.integers(-3, 3)}),
    )


# ---------------------------------------------------------------------------------------
# Matrix multiplication, copies
# ---------------------------------------------------------------------------------------


class TestMatmul(OpTests):
    """Batched, with broadcast batch dims and 1-D operands on either side."""

    spec = OpSpec(
        name="matmul",
        fn=lambda a, b: a @ b,
        reference=np.matmul,
        inputs=[dict(min_value=-3, max_value=3), dict(min_value=-3, max_value=3)],
        shapes=st_tl.matmul_shapes(),
    )


class TestClone(OpTests):
    spec = OpSpec(name="clone", fn=lambda x: x.clone(), reference=np.copy)


class TestContiguous(OpTests):
    spec = OpSpec(name="contiguous", fn=lambda x: x.contiguous() * 1.0, reference=np.array)


@given(x=st_tl.arrays(elements=grid(0.0), shape=st_tl.shapes(max_dims=3)))
def test_to_dtype_gradcheck(x: np.ndarray) -> None:
    """float64 -> float32 -> float64 passes the gradient back, converted to each dtype.

    The values sit on a grid of quarters and the step is 2⁻¹⁰, so x ± step is exact in
    float32 and the finite difference sees no rounding from the trip through float32.
    """
    gradcheck(
        lambda t: t.to(tinylm.float32).to(tinylm.float64),
        [tinylm.Tensor(x, requires_grad=True)],
        eps=2.0**-10,
    )


def test_to_dtype_gradient_dtype() -> None:
    x = tinylm.randn(3, 4, dtype=tinylm.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == tinylm.float32 and y.requires_grad
    g = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y.backward(g)
    assert x.grad.dtype == tinylm.float64
    np.testing.assert_array_equal(x.grad.numpy(), g.astype(np.float64))
    assert x.to(tinylm.float64) is x  # same dtype: no copy, no graph node
    assert x.double() is x


# ---------------------------------------------------------------------------------------
# Comparisons: bool results, never part of the graph
# ---------------------------------------------------------------------------------------


@given(shapes=st_tl.broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), data=st.data())
def test_comparisons_are_bool_and_carry_no_grad(shapes: Any, data: Any) -> None:
    a_np = data.draw(st_tl.arrays(shape=shapes[0], elements=grid(0.0)))
    b_np = data.draw(st_tl.arrays(shape=shapes[1], elements=grid(0.0)))
    a = tinylm.Tensor(a_np, requires_grad=True)
    b = tinylm.Tensor(b_np, requires_grad=True)
    for result, expected in [
        (a < b, a_np < b_np),
        (a <= b, a_np <= b_np),
        (a > b, a_np > b_np),
        (a >= b, a_np >= b_np),
        (a == b, a_np == b_np),
        (a != b, a_np != b_np),
        (a.gt(0.0), a_np > 0),
        (a.eq(b_np), a_np == b_np),
    ]:
        assert result.dtype == tinylm.bool_
        assert not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.numpy(), expected)
    # A mask from a comparison steers gradients without receiving one.
    x = tinylm.Tensor(a_np, requires_grad=True)
    y = tinylm.Tensor(data.draw(st_tl.arrays(shape=shapes[0], elements=grid(1 / 8))))
    tinylm.where(x > y, x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (a_np > y.numpy()).astype(np.float64))


# ---------------------------------------------------------------------------------------
# Softmax, log-softmax and logsumexp: properties and stability
# ---------------------------------------------------------------------------------------


@given(
    x=st_tl.arrays(shape=st_tl.shapes(min_dims=1, max_dims=3), min_value=-1e4, max_value=1e4),
    c=st.floats(-100, 100),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_softmax_properties(x: np.ndarray, c: float, dtype: Any, data: Any) -> None:
    """Rows sum to 1, adding a constant changes nothing, logits of ±1e4 stay finite."""
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    x = x.astype(dtype)
    eps = np.finfo(dtype).eps
    t = tinylm.Tensor(x, requires_grad=True)
    p = t.softmax(dim)
    assert p.dtype == dtype
    pn = p.detach().numpy()
    assert np.all(np.isfinite(pn)) and np.all((pn >= 0) & (pn <= 1))
    np.testing.assert_allclose(pn.sum(axis=dim), 1.0, rtol=0, atol=x.shape[dim] * 4 * eps)
    shifted = tinylm.Tensor((x.astype(np.float64) + c).astype(dtype)).softmax(dim).numpy()
    # adding c moves the logits by up to |x|·eps through rounding; p moves by as much
    np.testing.assert_allclose(shifted, pn, rtol=0, atol=1e4 * 8 * eps)
    log_p = t.log_softmax(dim)
    assert np.all(np.isfinite(log_p.detach().numpy())) and np.all(log_p.detach().numpy() <= 0)
    np.testing.assert_allclose(np.exp(log_p.detach().numpy()), pn, rtol=0, atol=8 * eps)
    np.testing.assert_allclose(
        log_p.logsumexp(dim=dim).detach().numpy(), 0.0, rtol=0, atol=x.shape[dim] * 8 * eps
    )
    # backward stays finite too
    (p * tinylm.Tensor(np.ones_like(x) * 0.5) + log_p).sum().backward()
    assert np.all(np.isfinite(t.grad.numpy()))


def test_softmax_and_logsumexp_of_huge_logits() -> None:
    """The naive formulas overflow: e^10000 = inf, inf/inf = nan."""
    x = tinylm.tensor([1e4, -1e4, 0.0])
    np.testing.assert_array_equal(x.softmax().numpy(), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(x.log_softmax().numpy(), [0.0, -2e4, -1e4])
    two = tinylm.tensor([1e4, 1e4], dtype=tinylm.float64)
    np.testing.assert_allclose(two.logsumexp().item(), 1e4 + np.log(2), rtol=1e-15)
    np.testing.assert_allclose((-two).logsumexp().item(), -1e4 + np.log(2), rtol=1e-15)


def test_repeated_indices_scatter_add_their_gradients() -> None:
    """x[[0, 0, 2]]: element 0 is used twice, so its gradient is the sum of both copies."""
    x = tinylm.Tensor(np.arange(4.0), requires_grad=True)
    g = np.array([1.5, -2.0, 4.0])
    x[[0, 0, 2]].backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [-0.5, 0.0, 4.0, 0.0])
    m = tinylm.Tensor(np.zeros((2, 3)), requires_grad=True)
    rows, cols = tinylm.tensor([1, 1, 1]), tinylm.tensor([2, 2, 0])
    m[rows, cols].backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(m.grad.numpy(), [[0, 0, 0], [3.0, 0, 3.0]])
