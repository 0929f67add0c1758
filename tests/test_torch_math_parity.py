"""The math functions and Tensor methods added for PyTorch parity, run in both libraries
on the same float64 values: outputs, dtypes and the gradients of every input for a random
upstream gradient (never all ones), through strided and transposed views as well. Bad
calls are one clear line. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import (  # noqa: E402 - after the skip
    LIBS,
    check_against_torch,
    dtype_name,
    same_dtype_and_values,
    values,
)

pytestmark = pytest.mark.torch


def in_both(make: Any) -> tuple[Any, Any]:
    return make(tinylm), make(torch)


RNG = np.random.default_rng(1234)
X = RNG.uniform(-3, 3, (3, 4))
POSITIVE = RNG.uniform(0.1, 4, (3, 4))
HALVES = np.array([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.49, -0.51], [0.0, -0.0, 3.7, -3.2]])

UNARY = {
    "sin": X,
    "cos": X,
    "rsqrt": POSITIVE,
    "square": X,
    "log1p": POSITIVE - 0.05,
    "expm1": X,
    "erf": X,
    "sign": np.concatenate([X[:2], [[0.0, -1.0, 2.0, 0.0]]]),
    "floor": HALVES,
    "ceil": HALVES,
    "round": HALVES,
}


@pytest.mark.parametrize("form", ["method", "function"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_elementwise_math_and_its_gradient_match_torch(name: str, form: str) -> None:
    """Through a transposed view and a strided slice, so the input is not contiguous;
    sign, floor, ceil and round give zero gradients, as PyTorch's (round: halves to even)."""

    def build(lib: ModuleType, t: list[Any]) -> Any:
        x = t[0].mT[:, ::2] if lib is tinylm else t[0].mT[:, ::2]
        y = getattr(x, name)() if form == "method" else getattr(lib, name)(x)
        return y * 1.5

    check_against_torch(build, [UNARY[name]])


@pytest.mark.parametrize("decimals", [-1, 1, 2])
def test_round_to_decimals_matches_torch(decimals: int) -> None:
    check_against_torch(
        lambda lib, t: lib.round(t[0] * 10, decimals=decimals), [RNG.uniform(-5, 5, (5, 6))]
    )


NAN_TO_NUM_CALLS = [
    lambda lib, x: x.nan_to_num(),
    lambda lib, x: lib.nan_to_num(x, nan=-1.0),
    lambda lib, x: x.nan_to_num(0.5, 1e3, -2e3),
    lambda lib, x: lib.nan_to_num(x, posinf=7.0),
]


@pytest.mark.parametrize("call", range(len(NAN_TO_NUM_CALLS)))
def test_nan_to_num_and_its_gradient_match_torch(call: int) -> None:
    """The gradient flows where x is finite and is 0 at the replaced elements."""
    x = np.array([[1.5, np.nan, -np.inf], [np.inf, -2.0, 0.25]])
    check_against_torch(lambda lib, t: NAN_TO_NUM_CALLS[call](lib, t[0] * 2.0), [x])


def test_nan_to_num_in_float32_uses_float32_extremes() -> None:
    x = np.array([np.inf, -np.inf, np.nan], dtype=np.float32)
    ours, theirs = in_both(lambda lib: values(lib.nan_to_num(lib.tensor(x))))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_isnan_isinf_isfinite_match_torch(name: str, dtype: str) -> None:
    data = [1.0, np.nan, np.inf, -np.inf, 0.0] if dtype != "int64" else [1, 0, -3]

    def make(lib: ModuleType) -> tuple[np.ndarray, str, bool]:
        x = lib.tensor(data, dtype=getattr(lib, dtype))
        out = getattr(lib, name)(x)
        assert values(getattr(x, name)()).tolist() == values(out).tolist()
        return values(out), dtype_name(out), out.requires_grad

    ours, theirs = in_both(make)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1:] == theirs[1:] == ("bool", False)


INT_CALLS = [
    "x.floor()",
    "x.ceil()",
    "x.round()",
    "x.sign()",
    "x.square()",
    "x.sin()",
    "x.rsqrt()",
    "x.erf()",
    "x.nan_to_num()",
    "x.prod()",
    "x.prod(0)",
    "b.prod()",
    "b.sign()",
    "x.count_nonzero()",
    "x.count_nonzero(1)",
    "x.count_nonzero((0, 1))",
]


@pytest.mark.parametrize("call", INT_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes(call: str) -> None:
    def inputs(lib: ModuleType) -> dict[str, Any]:
        return {
            "x": lib.tensor([[3, -1, 0], [2, 5, 1]], dtype=lib.int32),
            "b": lib.tensor([True, False, True]),
        }

    same_dtype_and_values(call, inputs)


PROD_INPUTS = {
    "no zero": RNG.uniform(0.5, 1.5, (3, 4)),
    "one zero per row": np.array(
        [[0.0, 2.0, -3.0, 1.5], [1.0, 0.0, 2.0, 0.5], [2.0, 3.0, 1.0, 0.0]]
    ),
    "two zeros in a row": np.array(
        [[0.0, 2.0, 0.0, 1.5], [1.0, -1.0, 2.0, 0.5], [0.0, 3.0, 1.0, 0.0]]
    ),
    "one zero in all": np.array(
        [[1.5, 2.0, -3.0, 1.5], [1.0, 0.0, 2.0, 0.5], [2.0, 3.0, 1.0, 0.7]]
    ),
}
PROD_CALLS = {
    "all": lambda lib, x: x.prod(),
    "dim 1": lambda lib, x: x.prod(1),
    "dim 0 keepdim": lambda lib, x: lib.prod(x, 0, keepdim=True),
    "dim -1 strided": lambda lib, x: x.mT[::2].prod(-1),
    "function": lambda lib, x: lib.prod(x),
}


@pytest.mark.parametrize("call", sorted(PROD_CALLS))
@pytest.mark.parametrize("inputs", sorted(PROD_INPUTS))
def test_prod_gradient_matches_torch_where_zeros_occur(inputs: str, call: str) -> None:
    """The gradient of x_i is the product of the others: finite (not 0/0) at a zero."""
    check_against_torch(lambda lib, t: PROD_CALLS[call](lib, t[0]), [PROD_INPUTS[inputs]])


SHAPE_CALLS = {
    "repeat": lambda lib, t: t[0].repeat(2, 1, 3),
    "repeat tuple": lambda lib, t: t[0].mT.repeat((1, 2)),
    "repeat_interleave int": lambda lib, t: t[0].repeat_interleave(2),
    "repeat_interleave dim": lambda lib, t: t[0].repeat_interleave(3, dim=1),
    "repeat_interleave tensor": lambda lib, t: lib.repeat_interleave(
        t[0], lib.tensor([1, 0, 2]), dim=0
    ),
    "chunk": lambda lib, t: lib.chunk(t[0], 3, 1)[1] * 2.0 + t[0].chunk(2, 0)[1].sum(),
    "view_as": lambda lib, t: t[0].view_as(t[1][:2]),
    "type_as": lambda lib, t: t[0].type_as(t[1]) * t[1].sum(),
    "mT": lambda lib, t: t[0].reshape(2, 3, 2).mT * 2.0,
    "masked_select": lambda lib, t: t[0].masked_select(t[0] > 0),
    "masked_select broadcast": lambda lib, t: lib.masked_select(
        t[0], lib.tensor([True, False, False, True])
    ),
    "index_add": lambda lib, t: t[0].index_add(0, lib.tensor([2, 0, 2]), t[1][:, :4]),
    "index_add alpha dim 1": lambda lib, t: lib.index_add(
        t[0], 1, lib.tensor([3, 3]), t[1][:, :2], alpha=-0.5
    ),
    "outer": lambda lib, t: lib.outer(t[0][0], t[1][1]),
    "dot": lambda lib, t: lib.dot(t[0][0], t[1][2, :4]),
    "bmm": lambda lib, t: lib.bmm(t[0].reshape(2, 3, 2), t[1][:2].reshape(2, 2, 3)),
    "square": lambda lib, t: lib.square(t[0]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CALLS))
def test_tensor_methods_and_their_gradients_match_torch(name: str) -> None:
    check_against_torch(SHAPE_CALLS[name], [X, RNG.standard_normal((3, 6))])


FUNCTION_FORMS = {
    "logsumexp": lambda lib, x: lib.logsumexp(x, 1),
    "logsumexp keepdim": lambda lib, x: lib.logsumexp(x, dim=0, keepdim=True),
    "clone": lambda lib, x: lib.clone(x) * 2.0,
    "var": lambda lib, x: lib.var(x, 1),
    "std": lambda lib, x: lib.std(x, 0, keepdim=True),
    "std correction": lambda lib, x: lib.std(x, dim=1, correction=0),
    "t": lambda lib, x: lib.t(x) * 1.0,
    "broadcast_to": lambda lib, x: lib.broadcast_to(x, (2, 3, 4)),
    "add alpha": lambda lib, x: lib.add(x, x * x, alpha=0.5),
    "sub": lambda lib, x: lib.sub(x, 2.0),
    "mul": lambda lib, x: lib.mul(x, x),
    "pow": lambda lib, x: lib.pow(x, 2),
    "pow of a number": lambda lib, x: lib.pow(2.0, x),
    "neg": lambda lib, x: lib.neg(x),
    "remainder": lambda lib, x: lib.remainder(x, 1.5),
    "clip": lambda lib, x: lib.clip(x, -1.0, 1.0),
    "all": lambda lib, x: lib.all(x > -2.5, 1),
    "any": lambda lib, x: lib.any(x > 2.0),
    "eq": lambda lib, x: lib.eq(x, x[0]),
    "lt": lambda lib, x: lib.lt(x, 0.5),
    "floor_divide": lambda lib, x: lib.floor_divide(x.detach(), 0.7),
    "detach": lambda lib, x: lib.detach(x),
}


@pytest.mark.parametrize("name", sorted(FUNCTION_FORMS))
def test_function_forms_of_tensor_methods_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: FUNCTION_FORMS[name](lib, t[0]), [X])


@LIBS
def test_allclose_equal_and_is_tensor_are_python_bools(lib: Any) -> None:
    a = lib.tensor([1.0, 2.0, np.nan])
    b = lib.tensor([1.0, 2.0 + 1e-6, np.nan])
    assert lib.allclose(a, b, equal_nan=True) is True
    assert lib.allclose(a, b) is False  # NaN is close to nothing unless equal_nan
    assert a[:2].allclose(b[:2], rtol=0, atol=1e-7) is False
    assert lib.allclose(a[:2], lib.tensor([[1.0, 2.0]])) is True  # shapes broadcast
    assert lib.equal(a[:2], a[:2].clone()) is True
    assert lib.equal(a, a) is False  # NaN == NaN is False
    assert lib.equal(a[:2], a[:2].reshape(1, 2)) is False  # shapes must agree
    assert a[:2].equal(lib.tensor([1.0, 2.0])) is True
    assert lib.is_tensor(a) is True and lib.is_tensor(np.ones(2)) is False
    assert lib.is_tensor(lib.nn.Parameter(a)) is True


@LIBS
def test_from_numpy_shares_memory_and_as_tensor_shares_when_it_can(lib: Any) -> None:
    array = np.arange(6.0).reshape(2, 3)
    t = lib.from_numpy(array)
    assert dtype_name(t) == "float64" and tuple(t.shape) == (2, 3)
    array[0, 0] = 42.0
    t[1, 2] = -1.0
    assert float(t[0, 0]) == 42.0 and array[1, 2] == -1.0
    shared = lib.as_tensor(array)
    array[0, 1] = 7.0
    assert float(shared[0, 1]) == 7.0
    copied = lib.as_tensor(array, dtype=lib.float32)
    array[0, 2] = 9.0
    assert float(copied[0, 2]) == 2.0 and dtype_name(copied) == "float32"
    x = lib.ones(2)
    assert lib.as_tensor(x) is x
    assert dtype_name(lib.as_tensor([1, 2])) == "int64"
    assert dtype_name(lib.from_numpy(np.zeros(2, dtype=np.int32))) == "int32"


@LIBS
@pytest.mark.filterwarnings("ignore:To copy construct from a tensor:UserWarning")  # PyTorch's
def test_new_tensors_take_this_tensors_dtype_unless_given(lib: Any) -> None:
    x = lib.ones(2, 3, dtype=lib.float64)
    cases = [
        (x.new_zeros(2, 3), (2, 3), "float64", 0.0),
        (x.new_zeros((4,)), (4,), "float64", 0.0),
        (x.new_ones(2, dtype=lib.int64), (2,), "int64", 1.0),
        (x.new_full((1, 2), 3.5), (1, 2), "float64", 3.5),
        (x.new_full((2,), 3, dtype=lib.int32), (2,), "int32", 3.0),
        (x.new_tensor([1, 2]), (2,), "float64", None),
        (x.new_tensor(2.5, dtype=lib.float32), (), "float32", 2.5),
    ]
    for t, shape, dtype, value in cases:
        assert (tuple(t.shape), dtype_name(t)) == (shape, dtype)
        assert not t.requires_grad and str(t.device) == "cpu"
        if value is not None:
            assert np.all(values(t) == value)
    grad = x.new_zeros(3, requires_grad=True)
    assert grad.requires_grad and grad.is_leaf
    source = lib.ones(2, requires_grad=True)
    copy = x.new_tensor(source.detach())
    assert not copy.requires_grad
    copy[0] = 5.0
    assert float(source[0].detach()) == 1.0


@LIBS
def test_randperm_is_a_seeded_permutation(lib: Any) -> None:
    lib.manual_seed(3)
    first = values(lib.randperm(10))
    lib.manual_seed(3)
    assert values(lib.randperm(10)).tolist() == first.tolist()
    assert sorted(first.tolist()) == list(range(10))
    assert dtype_name(lib.randperm(4)) == "int64"
    assert dtype_name(lib.randperm(4, dtype=lib.float32)) == "float32"
    assert tuple(lib.randperm(0).shape) == (0,)
    gen = lib.Generator().manual_seed(5)
    again = lib.Generator().manual_seed(5)
    assert (
        values(lib.randperm(8, generator=gen)).tolist()
        == values(lib.randperm(8, generator=again)).tolist()
    )


@LIBS
def test_bernoulli_draws_zeros_and_ones_with_probability_p(lib: Any) -> None:
    lib.manual_seed(0)
    p = lib.full((20000,), 0.3, dtype=lib.float64)
    draws = lib.bernoulli(p)
    assert dtype_name(draws) == "float64" and not draws.requires_grad
    assert set(values(draws).tolist()) == {0.0, 1.0}
    assert abs(values(draws).mean() - 0.3) < 0.02
    edges = p.new_tensor([0.0, 1.0, 1.0, 0.0]).bernoulli()
    assert values(edges).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert abs(values(lib.zeros(20000).bernoulli(0.8)).mean() - 0.8) < 0.02
    gen, again = lib.Generator().manual_seed(1), lib.Generator().manual_seed(1)
    assert (
        values(lib.bernoulli(p[:50], generator=gen)).tolist()
        == values(p[:50].bernoulli(generator=again)).tolist()
    )


BAD_CALLS = [
    ("tinylm.bernoulli(tinylm.tensor([0.5, 1.5]))", TinyLMError, "[0, 1]"),
    ("tinylm.randperm(-1)", TinyLMError, "non-negative"),
    ("tinylm.from_numpy([1.0, 2.0])", TypeError, "numpy.ndarray"),
    ("tinylm.from_numpy(np.ones(2, dtype='>f4'))", TinyLMError, "byte order"),
    ("tinylm.from_numpy(np.array(['a']))", TypeError, "dtype <U1"),
    ("tinylm.dot(tinylm.ones(2), tinylm.ones(2, dtype=tinylm.float64))", TinyLMError, "dtype"),
    ("tinylm.dot(tinylm.ones(2), tinylm.ones(3))", TinyLMError, r"\(2,\) and \(3,\)"),
    ("tinylm.dot(tinylm.ones(2, 2), tinylm.ones(2, 2))", TinyLMError, "1-D"),
    ("tinylm.outer(tinylm.ones(2, 2), tinylm.ones(2))", TinyLMError, "1-D"),
    ("tinylm.bmm(tinylm.ones(2, 2, 3), tinylm.ones(3, 3, 2))", TinyLMError, r"\(B, n, m\)"),
    ("tinylm.bmm(tinylm.ones(2, 3), tinylm.ones(3, 2))", TinyLMError, r"\(2, 3\)"),
    ("tinylm.ones(3).mT", TinyLMError, "matrix"),
    ("tinylm.ones(2, 3).repeat(2)", TinyLMError, "at least one per dim"),
    ("tinylm.ones(2).repeat()", TypeError, "copies along each dim"),
    ("tinylm.ones(2).repeat(-1)", TinyLMError, "non-negative"),
    ("tinylm.ones(3).repeat_interleave(tinylm.tensor([1, 2]))", TinyLMError, "2 repeat counts"),
    ("tinylm.ones(3).repeat_interleave(1.5)", TinyLMError, "int or a 1-D integer"),
    ("tinylm.ones(3).repeat_interleave(-1)", TinyLMError, "non-negative"),
    ("tinylm.ones(3).repeat_interleave(2, output_size=5)", TinyLMError, "output_size=5"),
    ("tinylm.ones(2, 3).masked_select(tinylm.ones(2, 3))", TinyLMError, "bool"),
    ("tinylm.ones(2, 3).masked_select(tinylm.ones(3, 3).bool())", TinyLMError, "broadcast"),
    ("tinylm.ones(3, 2).index_add(0, tinylm.tensor([0]), tinylm.ones(2, 2))", TinyLMError, "shape"),
    ("tinylm.ones(3).index_add(0, tinylm.tensor([5]), tinylm.ones(1))", TinyLMError, "index 5"),
    (
        "tinylm.ones(3).index_add(0, tinylm.tensor([0]), tinylm.ones(1).double())",
        TinyLMError,
        "dtype",
    ),
    ("tinylm.ones(2, 3).prod((0, 1))", TinyLMError, "one int"),
    ("tinylm.ones(2, 3).prod(2)", TinyLMError, "out of range"),
    ("tinylm.ones(2, 3).prod(keepdim=True)", TypeError, "keepdim needs a dim"),
    ("tinylm.allclose(tinylm.ones(2), tinylm.ones(2).double())", TinyLMError, "dtypes differ"),
    ("tinylm.allclose(tinylm.ones(2), tinylm.ones(3))", TinyLMError, "broadcast"),
    ("tinylm.tensor([1, 2]).round(decimals=1)", TinyLMError, "float tensor"),
    ("tinylm.ones(2).new_zeros(2.5)", TypeError, "size must be ints"),
    ("tinylm.ones(2).new_ones(-1)", TinyLMError, "non-negative"),
    ("tinylm.ones(2, 3).mT.view_as(tinylm.ones(6))", TinyLMError, "use reshape"),
]


@pytest.mark.parametrize("call, error, names", BAD_CALLS, ids=[c for c, _, _ in BAD_CALLS])
def test_bad_calls_are_one_clear_line(call: str, error: type, names: str) -> None:
    with pytest.raises(error, match=names) as info:
        eval(call, {"tinylm": tinylm, "np": np})
    assert "\n" not in str(info.value)
