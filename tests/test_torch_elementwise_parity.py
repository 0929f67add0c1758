"""PyTorch's other element-wise functions and aliases (``tinylm/tensor_elementwise.py``,
``tinylm/ops/special.py``) run in both libraries on the same float64 values: outputs
(values, shapes, dtypes) and the gradients of every float input for a random upstream
gradient (never all ones), through transposed and strided views, at the domains' edges
(asin(±1), acosh(1), atanh(±1), log2(0), erfinv(±1) with their infinite slopes). Integer
and bool inputs give torch's dtypes; bad calls are one clear line. Skipped without torch
(a test-only dependency).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import (  # noqa: E402 - after the skip
    check_against_torch,
    dtype_name,
    refused_by_both,
    run,
    same_dtype_and_values,
    strided,
    values,
)

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-12, 1e-13
INF, NAN = math.inf, math.nan


RNG = np.random.default_rng(31)
X = RNG.uniform(-3, 3, (4, 6))
Y = RNG.uniform(-3, 3, (4, 6))
UNIT = RNG.uniform(-0.99, 0.99, (4, 6))  # inside asin's, atanh's and erfinv's domain
ABOVE_ONE = 1 + RNG.uniform(0.01, 4, (4, 6))  # acosh's
POSITIVE = RNG.uniform(0.05, 5, (4, 6))  # log2's

# ---- unary functions: values and gradients ------------------------------------------------

UNARY = {  # name: its inputs
    "tan": X / 2,
    "asin": UNIT,
    "acos": UNIT,
    "atan": X * 3,
    "sinh": X,
    "cosh": X,
    "asinh": X * 10,
    "acosh": ABOVE_ONE,
    "atanh": UNIT,
    "arcsin": UNIT,
    "arccos": UNIT,
    "arctan": X,
    "arcsinh": X,
    "arccosh": ABOVE_ONE,
    "arctanh": UNIT,
    "deg2rad": X * 100,
    "rad2deg": X,
    "log2": POSITIVE,
    "log10": POSITIVE,
    "exp2": X * 4,
    "erfc": X * 2,
    "erfinv": UNIT,
    "sgn": X,
    "fix": X * 2,
    "negative": X,
    "positive": X,
    "absolute": X,
}
FORMS = {
    "method": lambda lib, name, x: getattr(x, name)(),
    "function": lambda lib, name, x: getattr(lib, name)(x),
    "function strided": lambda lib, name, x: getattr(lib, name)(strided(x)) * 1.0,
    "method of a 0-d tensor": lambda lib, name, x: getattr(x[1, 2], name)(),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_functions_and_their_gradients_match_torch(name: str, form: str) -> None:
    check_against_torch(lambda lib, t: FORMS[form](lib, name, t[0]), [UNARY[name]])


EDGES = {  # the domains' ends and beyond: ±inf values and slopes, and nan, as torch's
    "asin": [-1.0, 1.0, -1.5, 2.0, 0.0, -0.0],
    "acos": [-1.0, 1.0, 1.5, 0.0],
    "atanh": [-1.0, 1.0, 1.5, -0.0, 1e-300],
    "acosh": [1.0, 0.5, -1.0, 1e200, -3.0],
    "log2": [0.0, -0.0, -1.0, INF, 1e-310, 1.0],
    "log10": [0.0, -2.0, INF, 1e300, 1.0],
    "erfinv": [-1.0, 1.0, 1.5, -2.0, 0.0, 1e-300, 1 - 2**-53, -1 + 2**-53, 0.5, -0.5],
    "erfc": [-30.0, 0.0, 5.0, 10.0, 26.0, 30.0, INF, -INF],
    "exp2": [-1100.0, 1030.0, 0.0, -INF, INF],
    "atan": [INF, -INF, 1e200, 0.0],
    "tan": [0.0, -0.0, 1.5707963267948966, 1e-300],
    "sinh": [710.0, -710.0, 0.0, 1e-300],
    "cosh": [710.0, -710.0, 0.0],
    "asinh": [1e200, -1e200, 0.0, 1e-300],
}


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # torch's inf · 0 in its own backward
def test_unary_functions_at_their_domains_edges_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: getattr(lib, name)(t[0]), [np.array(EDGES[name])])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfinv_is_accurate_across_its_domain_as_torch(dtype: str) -> None:
    """Dense in (−1, 1), with the tails near ±1 (where 1 − erf loses digits) and tiny values;
    float64 to 1e−14 of torch's and erf(erfinv y) = y; float32 to a few units in the last
    place (torch computes float32 in float32)."""
    grid = np.concatenate(
        [
            np.linspace(-0.999999, 0.999999, 2001),
            1 - np.logspace(-15, -1, 60),
            -(1 - np.logspace(-15, -1, 60)),
            np.logspace(-300, -1, 40),
        ]
    ).astype(dtype)
    ours = values(tinylm.erfinv(tinylm.tensor(grid)))
    theirs = values(torch.erfinv(torch.tensor(grid)))
    assert ours.dtype == theirs.dtype == np.dtype(dtype)
    if dtype == "float64":
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)
        back = np.array([math.erf(v) for v in ours])
        np.testing.assert_allclose(back, grid, rtol=4.5e-16, atol=0)  # two ulps
    else:
        np.testing.assert_allclose(ours, theirs, rtol=5e-7, atol=0)


# ---- two inputs ---------------------------------------------------------------------------

BINARY = {
    "xlogy": lambda lib, a, b: a.xlogy(b.abs()),
    "xlogy function strided": lambda lib, a, b: lib.xlogy(strided(a), strided(b).abs()),
    "xlogy number other": lambda lib, a, b: lib.xlogy(a, 3.0),
    "xlogy number input": lambda lib, a, b: lib.xlogy(2.0, b.abs()),
    "xlogy broadcast": lambda lib, a, b: lib.xlogy(a[0], b.abs()),
    "copysign": lambda lib, a, b: a.copysign(b),
    "copysign number": lambda lib, a, b: lib.copysign(a, -1.0),
    "copysign broadcast strided": lambda lib, a, b: lib.copysign(strided(a), strided(b)[0]),
    "fmax": lambda lib, a, b: a.fmax(b),
    "fmin": lambda lib, a, b: lib.fmin(a, b),
    "fmax broadcast strided": lambda lib, a, b: lib.fmax(strided(a), strided(b)[1:2]),
    "float_power": lambda lib, a, b: a.abs().float_power(b),
    "float_power number": lambda lib, a, b: lib.float_power(a, 3),
    "float_power number base": lambda lib, a, b: lib.float_power(2.5, strided(b)),
    "float_power float exponent": lambda lib, a, b: lib.float_power(a.abs(), 0.5),
    "addcmul": lambda lib, a, b: a.addcmul(b, a * 2.0),
    "addcmul value": lambda lib, a, b: lib.addcmul(a, b, b.sin(), value=-0.25),
    "addcmul broadcast strided": lambda lib, a, b: lib.addcmul(
        strided(a), strided(b)[0], strided(a)[:, :1], value=3
    ),
    "addcdiv": lambda lib, a, b: a.addcdiv(b, a.exp()),
    "addcdiv value": lambda lib, a, b: lib.addcdiv(a, b, a.abs() + 1e-3, value=-1e-3),
    "addcdiv broadcast strided": lambda lib, a, b: lib.addcdiv(
        strided(a)[0], strided(b), strided(a).cosh(), value=2.0
    ),
    "subtract": lambda lib, a, b: lib.subtract(a, b),
    "subtract alpha": lambda lib, a, b: a.subtract(b, alpha=2.5),
    "subtract number alpha": lambda lib, a, b: lib.subtract(strided(a), 1.5, alpha=-2),
    "sub alpha": lambda lib, a, b: lib.sub(a, b, alpha=0.5),
    "multiply": lambda lib, a, b: lib.multiply(strided(a), strided(b)),
    "multiply number": lambda lib, a, b: a.multiply(-3.0),
    "divide": lambda lib, a, b: lib.divide(a, b),
    "divide trunc": lambda lib, a, b: a.divide(b, rounding_mode="trunc") + a,
    "divide floor": lambda lib, a, b: lib.divide(a * 3.0, b, rounding_mode="floor") + b,
    "div trunc": lambda lib, a, b: lib.div(a, 0.7, rounding_mode="trunc") + a,
    "true_divide": lambda lib, a, b: lib.true_divide(strided(a), strided(b)),
    "true_divide method": lambda lib, a, b: a.true_divide(b),
    "clamp_min": lambda lib, a, b: lib.clamp_min(a, -0.5),
    "clamp_max": lambda lib, a, b: lib.clamp_max(a, b),
    "clamp_min method strided": lambda lib, a, b: strided(a).clamp_min(strided(b)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_functions_and_their_gradients_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: BINARY[name](lib, t[0], t[1]), [X, Y])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # Σ out · u over inf − inf
def test_xlogy_at_zero_and_nan_matches_torch() -> None:
    """0 · ln 0 = 0 (and 0 · ln(−1) = 0, 0 · ln inf = 0), but 0 · ln nan = nan; d/dx is
    ln y, 0 where x = 0 and y ≤ 0; d/dy = x / y (nan at 0/0), as PyTorch's."""
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, -1.5, 3.0])
    y = np.array([0.0, -1.0, 2.0, NAN, 0.0, 3.0, INF, 0.5, -2.0])
    check_against_torch(lambda lib, t: lib.xlogy(t[0], t[1]), [x, y])
    check_against_torch(lambda lib, t: lib.xlogy(t[0], 0.0), [x])


def test_copysign_fmax_fmin_at_zeros_ties_and_nans_match_torch() -> None:
    """copysign with ±0.0 either side (d/dinput 0 at 0; d/dother 0, not None); fmax and fmin
    with ties (the whole gradient to input) and NaNs (to the number, or to input if both
    are NaN)."""
    a = np.array([1.0, -0.0, 0.0, -2.0, NAN, NAN, 3.0, 2.0, -INF])
    b = np.array([-1.0, 1.0, -1.0, -0.0, 2.0, NAN, NAN, 2.0, 1.0])
    check_against_torch(lambda lib, t: lib.copysign(t[0], t[1]), [a, b])
    check_against_torch(lambda lib, t: (lib.fmax(t[0], t[1]), lib.fmin(t[0], t[1])), [a, b])
    check_against_torch(lambda lib, t: (t[1].fmax(t[0]), t[1].fmin(t[0])), [a, b])


def test_float_power_computes_in_float64_with_gradients_in_the_inputs_dtypes() -> None:
    base, exponent = np.abs(X).astype(np.float32), Y.astype(np.float32)
    (ours, g_ours), (theirs, g_theirs) = (
        run(lambda lib, t: lib.float_power(t[0], t[1]), lib, [base, exponent], 5)
        for lib in (tinylm, torch)
    )
    assert ours[0][1] == theirs[0][1] == "float64"
    np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-12)
    for g, h in zip(g_ours, g_theirs):
        assert g.dtype == h.dtype == np.float32
        np.testing.assert_allclose(g, h, rtol=1e-5)


def test_heaviside_matches_torch_and_has_no_derivative() -> None:
    x = np.array([-2.0, 0.0, -0.0, 3.0, NAN, INF])
    for lib in (tinylm, torch):
        out = lib.heaviside(lib.tensor(x), lib.tensor([0.5], dtype=lib.float64))
        method = lib.tensor(x[:3]).double().heaviside(lib.tensor(x[3:]))
        assert out.dtype == lib.float64 and dtype_name(method) == "float64"
        np.testing.assert_array_equal(values(out), [0.0, 0.5, 0.5, 1.0, 0.0, 1.0])
        np.testing.assert_array_equal(values(method), [0.0, NAN, INF])  # values at ±0
    ours = tinylm.heaviside(tinylm.tensor(x, requires_grad=True), tinylm.tensor(x))
    assert ours.requires_grad  # as torch's: the graph is recorded, its backward refuses
    with pytest.raises(TinyLMError, match="heaviside has no derivative"):
        ours.sum().backward()
    with pytest.raises(TinyLMError, match="heaviside: input and values must have the same"):
        tinylm.heaviside(tinylm.tensor([1.0]), tinylm.tensor([1.0], dtype=tinylm.float64))


def test_addcmul_and_addcdiv_match_torchs_dtype_rules() -> None:
    """The three tensors promote together; integers multiply (with an int value), and
    addcdiv refuses them, as PyTorch."""
    for lib in (tinylm, torch):
        f, i = lib.tensor([1.5, -2.0]), lib.tensor([3, 4])
        d = lib.tensor([0.5, 2.0], dtype=lib.float64)
        assert dtype_name(lib.addcmul(f, i, d)) == "float64"
        mixed = lib.addcmul(i, i, f, value=0.5)
        assert dtype_name(mixed) == "float32"
        np.testing.assert_allclose(values(mixed), [3 + 0.5 * 3 * 1.5, 4 + 0.5 * 4 * -2.0])
        ints = lib.addcmul(i, i, i, value=2)
        assert dtype_name(ints) == "int64" and values(ints).tolist() == [21, 36]
        assert values(lib.addcdiv(f, i, d, value=2)).tolist() == [13.5, 2.0]


# ---- integer and bool inputs --------------------------------------------------------------

DTYPE_CALLS = [
    "lib.asin(b)",
    "i.acos()",
    "lib.atan(i)",
    "lib.tan(i)",
    "i.sinh()",
    "lib.cosh(u)",
    "i.asinh()",
    "lib.acosh(i)",
    "lib.atanh(b)",
    "lib.arctanh(i)",
    "lib.deg2rad(i)",
    "i.rad2deg()",
    "lib.log2(i)",
    "u.log10()",
    "lib.exp2(i)",
    "lib.exp2(b)",
    "lib.erfc(i)",
    "lib.erfinv(b)",
    "lib.xlogy(i, i)",
    "lib.xlogy(i, 3)",
    "lib.xlogy(2, i)",
    "lib.xlogy(f, d)",
    "i.xlogy(n)",
    "lib.sgn(i)",
    "lib.sgn(b)",
    "f.sgn()",
    "lib.signbit(i)",
    "lib.signbit(b)",
    "n.signbit()",
    "lib.signbit(lib.tensor([-0.0, 0.0, -1.0]))",
    "lib.copysign(i, -1)",
    "i.copysign(i)",
    "lib.copysign(f, d)",
    "lib.float_power(i, 2)",
    "lib.float_power(f, i)",
    "lib.float_power(2, i)",
    "lib.subtract(i, i, alpha=3)",
    "lib.subtract(i, 1.5)",
    "lib.multiply(b, i)",
    "lib.multiply(i, 2.5)",
    "lib.divide(i, 2)",
    "lib.divide(i, 2, rounding_mode='floor')",
    "lib.divide(i, -2, rounding_mode='trunc')",
    "lib.true_divide(i, i + 10)",
    "lib.negative(i)",
    "lib.positive(i)",
    "lib.absolute(i)",
    "lib.fix(i)",
    "lib.fix(n)",
    "lib.greater(i, 0)",
    "lib.greater_equal(f, i)",
    "lib.less(n, 0.5)",
    "lib.less_equal(i, i)",
    "lib.not_equal(b, i)",
    "lib.clamp_min(i, 1)",
    "lib.clamp_max(i, 1.5)",
    "lib.fmax(i, f)",
    "lib.fmin(i, i * 2)",
    "lib.fmax(n, f)",
    "lib.fmin(n, d)",
    "lib.bitwise_and(i, 6)",
    "lib.bitwise_or(i, i * 3)",
    "lib.bitwise_xor(b, b)",
    "lib.bitwise_and(b, i)",
    "lib.bitwise_and(b, 3)",
    "lib.bitwise_xor(u, 255)",
    "i8 & 3",
    "b ^ True",
    "3 | i",
    "False ^ b",
    "b & b",
    "i8 | i",
    "lib.gcd(i, i * 2 + 3)",
    "lib.lcm(i, i + 1)",
    "lib.gcd(i8, i)",
    "lib.lcm(u, u)",
    "lib.isin(i, lib.tensor([7, 0, 5]))",
    "lib.isin(i, lib.tensor([7.0, -1.5]), invert=True)",
    "lib.isin(n, f)",
    "lib.isin(2, lib.tensor([2.0, 3.5]))",
    "lib.isin(f, 0.0)",
    "lib.isin(i, i, assume_unique=True)",
    "lib.isposinf(lib.tensor([INF, -INF, NAN, 1.0]))",
    "lib.isneginf(lib.tensor([INF, -INF, NAN, 1.0]))",
    "i.isposinf()",
    "b.isneginf()",
    "lib.isreal(i)",
    "f.isreal()",
]


@pytest.mark.parametrize("call", DTYPE_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes_and_values(call: str) -> None:
    def inputs(lib: ModuleType) -> dict[str, Any]:
        return {
            "INF": INF,
            "NAN": NAN,
            "i": lib.tensor([3, -1, 0, 7]),
            "i8": lib.tensor([3, -128, 0, 127], dtype=lib.int8),
            "u": lib.tensor([3, 250, 0, 1], dtype=lib.uint8),
            "b": lib.tensor([True, False, True, False]),
            "f": lib.tensor([1.5, -2.5, 0.0, 3.0]),
            "d": lib.tensor([0.5, 2.0, -1.0, 0.0], dtype=lib.float64),
            "n": lib.tensor([NAN, 1.0, -0.0, -2.0]),
        }

    same_dtype_and_values(call, inputs, grad_free=True)


def test_gcd_and_lcm_of_negatives_and_zeros_match_torch() -> None:
    a = np.array([[4, -6, 0, 0, -12], [17, 35, -35, 1, 0]])
    b = np.array([6, 4, 0, 5, -18])
    for name in ("gcd", "lcm"):
        ours = getattr(tinylm, name)(tinylm.tensor(a), tinylm.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert dtype_name(ours) == dtype_name(theirs) == "int64"
        np.testing.assert_array_equal(values(ours), values(theirs))
        m = getattr(tinylm.tensor(a).mT, name)(tinylm.tensor(b[:2]))
        np.testing.assert_array_equal(
            values(m), values(getattr(torch.tensor(a).mT, name)(torch.tensor(b[:2])))
        )


def test_the_queries_return_what_torchs_do() -> None:
    for lib in (tinylm, torch):
        assert lib.is_nonzero(lib.tensor([[0.5]])) is True
        assert lib.is_nonzero(lib.tensor(0)) is False
        assert lib.tensor([False]).is_nonzero() is False
        assert lib.is_floating_point(lib.tensor([1.0])) is True
        assert lib.is_floating_point(lib.tensor([1])) is False
        assert lib.is_complex(lib.tensor([1.0])) is False
        isin = lib.isin(lib.tensor([[1, 2], [3, 4]]), lib.tensor([4, 1]))
        assert values(isin).tolist() == [[True, False], [False, True]]


# ---- in-place forms -----------------------------------------------------------------------

IN_PLACE = {
    "tan_": lambda x: x.tan_(),
    "asin_": lambda x: x.mul_(0.3).asin_(),
    "arcsin_": lambda x: x.mul_(0.3).arcsin_(),
    "acos_": lambda x: x.mul_(0.3).acos_(),
    "atan_": lambda x: x.atan_(),
    "arctan_": lambda x: x.arctan_(),
    "sinh_": lambda x: x.sinh_(),
    "cosh_": lambda x: x.cosh_(),
    "asinh_": lambda x: x.asinh_(),
    "acosh_": lambda x: x.abs_().add_(1).acosh_(),
    "arccosh_": lambda x: x.abs_().add_(1).arccosh_(),
    "atanh_": lambda x: x.mul_(0.3).atanh_(),
    "arctanh_": lambda x: x.mul_(0.3).arctanh_(),
    "arcsinh_": lambda x: x.arcsinh_(),
    "arccos_": lambda x: x.mul_(0.3).arccos_(),
    "deg2rad_": lambda x: x.deg2rad_(),
    "rad2deg_": lambda x: x.rad2deg_(),
    "log2_": lambda x: x.abs_().log2_(),
    "log10_": lambda x: x.abs_().log10_(),
    "exp2_": lambda x: x.exp2_(),
    "erfc_": lambda x: x.erfc_(),
    "erfinv_": lambda x: x.mul_(0.3).erfinv_(),
    "sgn_": lambda x: x.sgn_(),
    "negative_": lambda x: x.negative_(),
    "absolute_": lambda x: x.absolute_(),
    "fix_": lambda x: x.fix_(),
    "xlogy_": lambda x: x.xlogy_(x.abs()),
    "copysign_": lambda x: x.copysign_(-1.0),
    "heaviside_": lambda x: x.heaviside_(x.new_tensor([0.5])),
    "multiply_": lambda x: x.multiply_(x),
    "true_divide_": lambda x: x.true_divide_(3.0),
    "divide_": lambda x: x.divide_(0.7, rounding_mode="floor"),
    "subtract_": lambda x: x.subtract_(1.5, alpha=2),
    "clamp_min_": lambda x: x.clamp_min_(0.25),
    "clamp_max_": lambda x: x.clamp_max_(-0.25),
    "float_power_": lambda x: x.float_power_(2),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_forms_change_the_tensor_as_torchs(name: str) -> None:
    results = []
    for lib in (tinylm, torch):
        x = lib.tensor(X.copy())
        view = x[1:3]
        out = IN_PLACE[name](x)
        assert out is x
        results.append((values(x).copy(), values(view).copy(), dtype_name(x)))
    (ours, our_view, our_dtype), (theirs, their_view, their_dtype) = results
    assert our_dtype == their_dtype == "float64"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(our_view, their_view, rtol=RTOL, atol=ATOL)


def test_in_place_bitwise_and_integer_forms_match_torch() -> None:
    for lib in (tinylm, torch):
        i, b = lib.tensor([12, -7, 5]), lib.tensor([True, False, True])
        alias = i
        i &= 6
        assert i is alias and values(alias).tolist() == [4, 0, 4]
        i |= 1
        i ^= lib.tensor([3, 3, 3])
        assert values(alias).tolist() == [6, 2, 6]
        b ^= lib.tensor([True, True, False])
        assert values(b).tolist() == [False, True, True] and dtype_name(b) == "bool"
        assert values(lib.tensor([4, 6]).gcd_(lib.tensor([6, 9]))).tolist() == [2, 3]
        assert values(lib.tensor([4, 6]).lcm_(lib.tensor([6, 9]))).tolist() == [12, 18]
        assert values(lib.tensor([5]).bitwise_and_(3)).tolist() == [1]
        assert values(lib.tensor([5]).bitwise_or_(3)).tolist() == [7]
        assert values(lib.tensor([5]).bitwise_xor_(3)).tolist() == [6]


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.tensor([1, 2]).asin_(),
        lambda lib: lib.tensor([1, 2]).exp2_(),
        lambda lib: lib.tensor([1, 2]).true_divide_(2),
        lambda lib: lib.tensor([1, 2]).xlogy_(2),
        lambda lib: lib.tensor([True]).bitwise_and_(3),
    ],
)
def test_in_place_forms_refuse_a_result_the_tensor_cannot_hold(call: Any) -> None:
    for lib in (tinylm, torch):
        with pytest.raises(RuntimeError, match="can't be cast"):
            call(lib)


# ---- refusals ----------------------------------------------------------------------------

REFUSED = {  # tinylm's call: the start of its one-line error (torch refuses each too)
    "lib.bitwise_and(f, f)": "bitwise_and: needs bool or integer tensors",
    "lib.bitwise_xor(i, 1.5)": "bitwise_xor: needs bool or integer tensors",
    "f | f": "bitwise_or: needs bool or integer tensors",
    "lib.gcd(f, f)": "gcd: needs integer tensors",
    "lib.lcm(b, b)": "lcm: needs integer tensors",
    "lib.addcdiv(i, i, i)": "addcdiv: integer division is not supported",
    "lib.negative(b)": "negative: Negation, the `-` operator, on a bool tensor",
    "lib.positive(b)": "positive: not defined for bool tensors",
    "b.absolute()": "absolute: not defined for bool tensors",
    "lib.heaviside(f, d)": "heaviside: input and values must have the same dtype",
    "lib.is_nonzero(f)": "is_nonzero: Boolean value of Tensor with more than one value",
    "lib.is_nonzero(lib.tensor([]))": "is_nonzero: Boolean value of Tensor with no values",
    "f.float_power_(2)": "float_power_: the base has dtype float32 but the result is float64",
    "lib.isin(b, b)": "isin: not defined for bool tensors",
    "lib.divide(f, f, rounding_mode='round')": "div: rounding_mode must be",
}


@pytest.mark.parametrize("call", sorted(REFUSED))
def test_bad_calls_are_one_clear_line_where_torch_refuses_too(call: str) -> None:
    def env(lib: ModuleType) -> dict[str, Any]:
        return {
            "lib": lib,
            "i": lib.tensor([3, 4]),
            "b": lib.tensor([True, False]),
            "f": lib.tensor([1.5, -2.0]),
            "d": lib.tensor([1.5, -2.0], dtype=lib.float64),
        }

    message = "^" + REFUSED[call].replace("(", r"\(")
    torch_errors = (RuntimeError, TypeError, NotImplementedError)
    refused_by_both(lambda lib: eval(call, env(lib)), TinyLMError, message, torch_errors)


def test_a_float_value_with_integer_tensors_is_refused_where_torch_truncates_it() -> None:
    """torch.addcmul(ints, ints, ints, value=0.5) cuts 0.5 to 0 silently; tinylm says so."""
    i = tinylm.tensor([1, 2])
    with pytest.raises(TinyLMError, match="addcmul: value=0.5 is a float but the tensors"):
        tinylm.addcmul(i, i, i, value=0.5)
    assert values(
        torch.addcmul(torch.tensor([1, 2]), *[torch.tensor([1, 2])] * 2, value=0.5)
    ).tolist() == [1, 2]


def test_functions_take_tensors_where_torch_does() -> None:
    f = tinylm.tensor([1.0])
    for call in (
        lambda: tinylm.fmax(f, 1.0),
        lambda: tinylm.gcd(tinylm.tensor([2]), 4),
        lambda: tinylm.heaviside(f, 0.5),
        lambda: tinylm.xlogy(2.0, 3.0),
    ):
        with pytest.raises(TypeError, match="must be a Tensor|needs at least one Tensor"):
            call()
