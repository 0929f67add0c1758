"""Silent differences from PyTorch in tinylm's existing Tensor ops, now fixed, each checked
against torch itself: ``where``'s condition dtype (uint8 deprecated, others refused) and
``masked_fill``'s mask and value; the in-place samplers on integer and bool tensors
(``normal_``/``uniform_`` refused, ``bernoulli_`` allowed) and their parameter checks;
``lerp_``'s dtype rules; ``repeat`` (and the other copying shape ops) always fresh, writable
memory, an ``expand`` that repeats nothing a writable view; ``transpose``/``t``/``permute``/
``T``/``mT`` checking their dims for 0-d and 1-d tensors too. Values, shapes and dtypes are
compared on the same float64 values, and gradients for a random upstream gradient through
transposed and strided inputs. Skipped without torch (a test-only dependency).
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
from torch_parity import LIBS, dtype_name, refused_by_both, values  # noqa: E402

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-12, 1e-13
RNG = np.random.default_rng(11)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 3))
V = RNG.standard_normal(4)
C = RNG.standard_normal((2, 3, 4))


def check_against_torch(build: Callable[..., Any], arrays: list[np.ndarray]) -> None:
    """torch_parity's check, with one upstream gradient drawn for every output (seed 5)."""
    torch_parity.check_against_torch(build, arrays, seed=5, upstream_for_every_output=True)


# ---- where's condition, masked_fill's mask and value ---------------------------------------

NOT_BOOL = ["float32", "float64", "int64", "int32", "int16", "int8"]


@pytest.mark.parametrize("dtype", NOT_BOOL)
@pytest.mark.parametrize(
    "form",
    [
        "lib.where(c, a, b)",
        "lib.where(c, a, 0.5)",
        "lib.where(c, 1.0, 0.0)",
        "a.where(c, b)",
        "a.masked_fill(c, 0.0)",
        "a.masked_fill(c, lib.tensor(0.0, dtype=lib.float64))",
        "a.clone().masked_fill_(c, 0.0)",
        "lib.masked_fill(a, c, 2.0)",
    ],
)
def test_a_condition_or_mask_that_is_not_bool_is_refused(form: str, dtype: str) -> None:
    """torch: "where expected condition to be a boolean tensor" (it read 1.0 as True here)."""

    def call(lib: ModuleType) -> Any:
        a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
        b = lib.tensor([4.0, 5.0, 6.0], dtype=lib.float64)
        c = lib.tensor([1, 0, 1]).to(getattr(lib, dtype))
        return eval(form, {"lib": lib, "a": a, "b": b, "c": c})

    refused_by_both(call, TinyLMError, "must be a bool tensor", Exception)


@pytest.mark.parametrize("form", ["lib.where(c, t[0], t[1])", "t[0].where(c, t[1])"])
def test_a_uint8_condition_works_as_torchs_with_its_deprecation_warning(form: str) -> None:
    """PyTorch still reads a uint8 condition as ``!= 0`` (2 is True), and warns (once a
    process, so only tinylm's warning is checked here)."""

    def build(lib: ModuleType, t: list[Any]) -> Any:
        c = lib.tensor([[2, 0, 1, 0], [0, 0, 255, 1], [1, 1, 0, 0]], dtype=lib.uint8)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = eval(form, {"lib": lib, "c": c, "t": [t[0], t[1].mT]})
        if lib is tinylm:
            assert [str(w.message)[:40] for w in caught] == [
                "where received a uint8 condition tensor."
            ]
        return out

    check_against_torch(build, [A, B])


@pytest.mark.parametrize("form", ["a.masked_fill(c, 0.0)", "a.masked_fill(c, lib.tensor(1.0))"])
def test_a_uint8_mask_is_refused_as_torch(form: str) -> None:
    def call(lib: ModuleType) -> Any:
        a, c = lib.ones(3), lib.tensor([1, 0, 1], dtype=lib.uint8)
        return eval(form, {"lib": lib, "a": a, "c": c})

    refused_by_both(call, TinyLMError, "bool", Exception)


@pytest.mark.parametrize("cond", ["True", "[True, False, True]"])
def test_a_condition_that_is_not_a_tensor_is_a_type_error(cond: str) -> None:
    refused_by_both(
        lambda lib: lib.where(eval(cond), lib.ones(3), lib.zeros(3)),
        TypeError,
        "condition must",
        TypeError,
    )


@pytest.mark.parametrize(
    "call",
    [
        "a.masked_fill(lib.tensor([True, False, True]), lib.tensor([5.0]))",
        "a.masked_fill(lib.tensor([True, False, True]), lib.tensor([5.0, 6.0, 7.0]))",
        "a.fill_(lib.tensor([2.0]))",
    ],
)
def test_a_value_tensor_with_dims_is_refused(call: str) -> None:
    """torch: "masked_fill_ only supports a 0-dimensional value tensor" (tinylm filled from it)."""
    refused_by_both(
        lambda lib: eval(call, {"lib": lib, "a": lib.ones(3)}), TinyLMError, "0-d tensor", Exception
    )


def test_bool_conditions_and_0d_values_still_match_torch_with_gradients() -> None:
    check_against_torch(lambda lib, t: lib.where(t[0].mT > 0, t[1][:, ::1], t[0].mT), [A, B])
    check_against_torch(lambda lib, t: t[0][:, ::2].where(t[1].mT[:, ::2] > 0, 0.25), [A, B])
    check_against_torch(lambda lib, t: t[0].mT.masked_fill(t[1] < 0, t[2]), [A, B, np.array(3.0)])


# ---- the in-place samplers ---------------------------------------------------------------------

NOT_FLOAT = ["int64", "int32", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dtype", NOT_FLOAT)
@pytest.mark.parametrize("call", ["x.normal_()", "x.normal_(2.0, 3.0)", "x.uniform_()",
                                  "x.uniform_(0, 5)"])  # fmt: skip
def test_normal_and_uniform_refuse_integer_and_bool_tensors(call: str, dtype: str) -> None:
    """tinylm cut the draws: ``zeros(3, dtype=int64).normal_()`` was [0, 0, 0]."""
    x = tinylm.zeros(6, dtype=getattr(tinylm, dtype))
    refused_by_both(
        lambda lib: eval(call, {"x": x if lib is tinylm else torch.zeros(6, dtype=x_dtype(dtype))}),
        TinyLMError,
        "floating-point",
        Exception,
    )
    assert not values(x).any()  # untouched


def x_dtype(name: str) -> Any:
    return getattr(torch, name)


@pytest.mark.parametrize("dtype", [*NOT_FLOAT, "float16", "float32", "float64"])
def test_bernoulli_fills_any_dtype_as_torch(dtype: str) -> None:
    """PyTorch allows bernoulli_ on integers and bools: 0/1 in the tensor's own dtype."""
    for lib in (tinylm, torch):
        x = lib.full((4000,), 7).to(getattr(lib, dtype))
        out = x.bernoulli_(0.3)
        assert out is x and dtype_name(x) == dtype
        v = values(x).astype(np.float64)
        assert set(np.unique(v)) <= {0.0, 1.0}
        assert abs(v.mean() - 0.3) < 0.03
        p = lib.tensor([0.0, 1.0, 0.5], dtype=lib.float64)
        y = lib.full((2000, 3), 7).to(getattr(lib, dtype)).bernoulli_(p)  # p broadcast
        cols = values(y).astype(np.float64).mean(axis=0)
        assert cols[0] == 0.0 and cols[1] == 1.0 and abs(cols[2] - 0.5) < 0.05
        assert dtype_name(y) == dtype


def test_bernoulli_in_place_with_a_generator_is_reproducible() -> None:
    draws = [
        tinylm.zeros(50).bernoulli_(0.5, generator=tinylm.Generator().manual_seed(3)).tolist()
        for _ in range(2)
    ]
    assert draws[0] == draws[1] and 0 < sum(draws[0]) < 50


BAD_SAMPLER_CALLS = [
    ("lib.zeros(3).bernoulli_(2)", "p to be in"),
    ("lib.zeros(3).bernoulli_(-0.1)", "p to be in"),
    ("lib.zeros(3).bernoulli_(float('nan'))", "p to be in"),
    ("lib.zeros(3).bernoulli_(lib.tensor([1, 0, 1]))", "floating-point"),
    ("lib.zeros(3).bernoulli_(lib.tensor([2.0, 0.0, 0.0]))", r"\[0, 1\]"),
    ("lib.zeros(3).bernoulli_(lib.full((2, 3), 0.5))", "broadcast"),
    ("lib.zeros(3, dtype=lib.bool).geometric_(0.5)", "bool"),
    ("lib.zeros(3).normal_(0, -1)", "std >= 0"),
    ("lib.zeros(3).normal_(0, float('nan'))", "std >= 0"),
    ("lib.zeros(3).uniform_(5, 0)", "from=5 > to=0"),
    ("lib.zeros(3).uniform_(0, float('inf'))", "out of bounds"),
    ("lib.zeros(3).uniform_(float('nan'), 1)", "out of bounds"),
    ("lib.zeros(3).uniform_(-1e39, 0)", "out of bounds"),
    ("lib.zeros(3).uniform_(-3e38, 3e38)", "exceeds"),
    ("lib.zeros(3, dtype=lib.float16).uniform_(0, 1e6)", "out of bounds"),
    ("lib.zeros(3, dtype=lib.float16).uniform_(-6e4, 6e4)", "exceeds"),
]


@pytest.mark.parametrize("call, names", BAD_SAMPLER_CALLS, ids=[c for c, _ in BAD_SAMPLER_CALLS])
def test_sampler_parameters_are_checked_as_torch(call: str, names: str) -> None:
    """(tinylm raised NumPy's "scale < 0", drew NaNs for std=nan and inf in float16.)"""
    refused_by_both(call, TinyLMError, names, Exception)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_normal_and_uniform_still_fill_floats(dtype: str) -> None:
    tinylm.manual_seed(0)
    for lib in (tinylm, torch):
        n = lib.zeros(20000, dtype=getattr(lib, dtype)).normal_(2.0, 0.5)
        u = lib.zeros(20000, dtype=getattr(lib, dtype)).uniform_(-1.0, 3.0)
        same = lib.zeros(3, dtype=getattr(lib, dtype)).uniform_(5.0, 5.0)
        assert dtype_name(n) == dtype_name(u) == dtype
        vn, vu = values(n).astype(np.float64), values(u).astype(np.float64)
        assert abs(vn.mean() - 2.0) < 0.02 and abs(vn.std() - 0.5) < 0.02
        assert vu.min() >= -1.0 and vu.max() <= 3.0 and abs(vu.mean() - 1.0) < 0.05
        assert values(same).tolist() == [5.0, 5.0, 5.0]


# ---- lerp_ ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, names",
    [
        ("x.lerp_(x.double(), 0.5)", "end has dtype float64"),
        ("x.lerp_(lib.tensor([4, 5, 6]), 0.5)", "end has dtype int64"),
        ("x.lerp_(x.half(), 0.5)", "end has dtype float16"),
        ("x.lerp_(lib.tensor(4.0, dtype=lib.float64), 0.5)", "end has dtype float64"),
        ("x.lerp_(lib.tensor(4), 0.5)", "end has dtype int64"),
        ("x.lerp_(x, x.double())", "weight has dtype float64"),
        ("x.lerp_(x, lib.tensor([1, 0, 1]))", "weight has dtype int64"),
        ("x.double().lerp_(x, 0.5)", "end has dtype float32"),
        ("lib.tensor([1, 2, 3]).lerp_(lib.tensor([1, 2, 3]), 0.5)", "floating-point"),
    ],
)
def test_lerp_in_place_refuses_other_dtypes_as_torch(call: str, names: str) -> None:
    """tinylm converted: ``x.lerp_(int_tensor, 0.5)`` computed where torch refuses."""
    refused_by_both(
        lambda lib: eval(call, {"lib": lib, "x": lib.tensor([1.0, 2.0, 3.0])}),
        TinyLMError,
        names,
        Exception,
    )


@pytest.mark.parametrize("end", ["[4.0, 5.0, 6.0]", "4.0"])
def test_lerp_in_place_needs_a_tensor_end(end: str) -> None:
    refused_by_both(
        lambda lib: lib.ones(3).lerp_(eval(end), 0.5), TypeError, "end must be a Tensor", TypeError
    )


@pytest.mark.parametrize("weight", ["0.25", "2", "True", "lib.tensor(0.5, dtype=lib.float16)",
                                    "lib.tensor(3)", "w.mT"])  # fmt: skip
def test_lerp_in_place_values_match_torch(weight: str) -> None:
    """A number or a 0-d tensor of any dtype as the weight, or a tensor of x's dtype
    (transposed); ``end`` a transposed view."""

    def result(lib: ModuleType) -> np.ndarray:
        x = lib.tensor(A)
        end, w = lib.tensor(B).mT, lib.tensor(RNG_W)
        out = x.lerp_(end, eval(weight, {"lib": lib, "w": w}))
        assert out is x
        return values(x)

    ours, theirs = result(tinylm), result(torch)
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


RNG_W = RNG.uniform(-1, 2, (4, 3))


# ---- fresh memory: repeat and the other copying shape ops ----------------------------------

REPEATS = {
    "matrix repeat(2, 1)": ([[1.0, 2.0]], "x.repeat(2, 1)"),
    "matrix repeat(1, 1)": ([[1.0, 2.0]], "x.repeat(1, 1)"),
    "1-d repeat(1)": ([1.0], "x.repeat(1)"),
    "1-d repeat(3)": ([1.0], "x.repeat(3)"),
    "1-d repeat(2, 3)": ([1.0], "x.repeat(2, 3)"),
    "0-d repeat(())": (1.5, "x.repeat(())"),
    "0-d repeat(2)": (1.5, "x.repeat(2)"),
    "repeat(0, 1)": ([[1.0, 2.0]], "x.repeat(0, 1)"),
    "expand clone": ([1.0], "x.expand(3).clone()"),
    "expand clone of a column": ([[1.0], [2.0]], "x.expand(2, 3).clone()"),
    "tile(1)": ([[1.0, 2.0]], "x.tile(1)"),
    "tile((2, 1))": ([[1.0, 2.0]], "lib.tile(x, (2, 1))"),
    "repeat_interleave(1)": ([1.0], "x.repeat_interleave(1)"),
    "repeat_interleave(1, dim 0)": ([[1.0, 2.0]], "x.repeat_interleave(1, dim=0)"),
    "flip(0)": ([[1.0, 2.0]], "x.flip(0)"),
    "flip(())": ([[1.0, 2.0]], "x.flip(())"),
    "roll(0)": ([[1.0, 2.0]], "x.roll(0)"),
    "roll(0, 1)": ([[1.0, 2.0]], "x.roll(0, 1)"),
}


@LIBS
@pytest.mark.parametrize("name", sorted(REPEATS))
def test_copying_shape_ops_give_fresh_writable_tensors(name: str, lib: Any) -> None:
    """tinylm's repeat could hand back a read-only view of its input ("assignment
    destination is read-only"); torch's result is always its own memory."""
    data, call = REPEATS[name]
    x = lib.tensor(data, dtype=lib.float64)
    out = eval(call, {"lib": lib, "x": x})
    before = values(x).copy()
    out.add_(10.0)  # writable
    if out.numel():
        out.view(-1)[0] = -1.0
    np.testing.assert_array_equal(values(x), before)  # no memory shared with x


@pytest.mark.parametrize("name", sorted(REPEATS))
def test_copying_shape_ops_values_and_gradients_match_torch(name: str) -> None:
    data, call = REPEATS[name]
    x = np.asarray(data, dtype=np.float64)
    check_against_torch(lambda lib, t: eval(call, {"lib": lib, "x": t[0]}), [x])


def test_repeat_of_strided_inputs_matches_torch() -> None:
    check_against_torch(lambda lib, t: t[0].mT.repeat(2, 1, 3), [A])
    check_against_torch(lambda lib, t: t[0][:, ::2].repeat(1, 1), [A])
    check_against_torch(lambda lib, t: t[0][1, :, ::3].repeat(1, 2), [C])


@LIBS
@pytest.mark.parametrize(
    "call", ["x.expand(1, 2)", "x.broadcast_to((1, 2))", "x.expand(1, 1, 2)", "x.expand_as(x)"]
)
def test_an_expand_that_repeats_nothing_is_a_writable_view(call: str, lib: Any) -> None:
    """As PyTorch: writes through it reach x (tinylm's NumPy view refused them)."""
    x = lib.tensor([[1.0, 2.0]], dtype=lib.float64)
    view = eval(call, {"x": x})
    view.add_(1.0)
    assert values(x).tolist() == [[2.0, 3.0]]


@LIBS
def test_an_expand_that_repeats_refuses_writes(lib: Any) -> None:
    x = lib.tensor([[1.0], [2.0]])
    with pytest.raises(TinyLMError if lib is tinylm else RuntimeError, match="memory location"):
        x.expand(2, 3).add_(1.0)


def test_the_gradient_through_a_written_expand_view_matches_torch() -> None:
    def build(lib: ModuleType, t: list[Any]) -> Any:
        y = t[0] * 1.0
        return y.expand(1, 3, 4) * 2.0

    check_against_torch(build, [A])


# ---- transpose, t, permute, T, mT --------------------------------------------------------------

BAD_DIMS = [
    ("lib.ones(3).transpose(0, 5)", "out of range"),
    ("lib.ones(3).transpose(0, 1)", "out of range"),
    ("lib.ones(3).transpose(-2, -1)", "out of range"),
    ("lib.ones(()).transpose(0, 1)", "out of range"),
    ("lib.ones(()).transpose(-2, 0)", "out of range"),
    ("lib.ones(2, 3).transpose(0, 2)", "out of range"),
    ("lib.ones(2, 3).transpose(-3, 0)", "out of range"),
    ("lib.transpose(lib.ones(3), 1, 0)", "out of range"),
    ("lib.ones(2, 2, 2).t()", "at most 2"),
    ("lib.ones(3).mT", "matri"),
    ("lib.ones(2, 2).permute(0, 0)", "permutation"),
    ("lib.ones(2, 2).permute(0, 2)", "permutation"),
    ("lib.ones(2, 2, 2).permute(0, 1)", "permutation"),
]


@pytest.mark.parametrize("call, names", BAD_DIMS, ids=[c for c, _ in BAD_DIMS])
def test_bad_dims_are_refused_for_any_number_of_dims(call: str, names: str) -> None:
    """tinylm returned a tensor of fewer than 2 dims unchanged, whatever the dims."""
    refused_by_both(call, TinyLMError, names, Exception)


@pytest.mark.parametrize(
    "call",
    [
        "lib.ones(2, 3).transpose(True, 0)",
        "lib.ones(3).transpose(0.0, 0)",
        "lib.ones(2, 3).transpose()",
        "lib.ones(()).transpose()",
        "lib.ones(()).permute()",
        "lib.ones(2, 3).permute()",
    ],
)
def test_dims_that_are_not_ints_or_missing_are_type_errors(call: str) -> None:
    with pytest.raises(TypeError):
        eval(call, {"lib": torch})
    with pytest.raises(TypeError):
        eval(call, {"lib": tinylm})


TRANSPOSES = {
    "1-d transpose(0, -1)": ("t[0].transpose(0, -1)", [V]),
    "1-d transpose(-1, -1)": ("lib.transpose(t[0][::2], -1, -1)", [V]),
    "0-d transpose(0, -1)": ("t[0].transpose(0, -1)", [np.array(1.5)]),
    "1-d t()": ("t[0].t()", [V]),
    "0-d t()": ("lib.t(t[0])", [np.array(1.5)]),
    "2-d t() of a view": ("t[0][:, ::2].t()", [A]),
    "3-d transpose negative": ("t[0].transpose(-1, -3)", [C]),
    "3-d transpose of a view": ("t[0][:, ::2].transpose(2, 1)", [C]),
    "0-d permute(())": ("t[0].permute(())", [np.array(1.5)]),
    "3-d permute negative": ("t[0].permute(-1, 0, -2)", [C]),
    "mT of 3-d": ("t[0].mT", [C]),
}


@pytest.mark.parametrize("name", sorted(TRANSPOSES))
def test_transposes_values_and_gradients_match_torch(name: str) -> None:
    call, arrays = TRANSPOSES[name]
    check_against_torch(lambda lib, t: eval(call, {"lib": lib, "t": t}), arrays)


@LIBS
def test_t_of_a_vector_is_a_view_that_records_the_graph(lib: Any) -> None:
    """torch's ``v.t()`` is a new tensor (a view with a grad_fn); tinylm returned v itself."""
    v = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out in (v.t(), v.transpose(0, 0), lib.ones(()).t()):
        assert out is not v
    tv = v.t()
    assert tv.grad_fn is not None and not tv.is_leaf
    with lib.no_grad():
        w = lib.zeros(3)
        w.t().add_(1.0)  # writes reach w
        w.transpose(-1, 0).mul_(3.0)
    assert values(w).tolist() == [3.0, 3.0, 3.0]


@LIBS
@pytest.mark.parametrize("call", ["x0.T", "x0.mT", "x1.T", "x3.T"])
def test_T_and_mT_warn_where_torch_deprecates_them(call: str, lib: Any) -> None:  # noqa: N802
    env = {"x0": lib.ones(()), "x1": lib.ones(3), "x3": lib.ones(2, 3, 4)}
    expected = {"x0.T": (), "x0.mT": (), "x1.T": (3,), "x3.T": (4, 3, 2)}[call]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = eval(call, env)
    assert tuple(out.shape) == expected
    if lib is tinylm or call != "x3.T":  # torch warns about T once a process
        assert any("deprecated" in str(w.message) for w in caught), call


@LIBS
def test_T_and_mT_of_matrices_do_not_warn(lib: Any) -> None:  # noqa: N802
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(lib.ones(2, 3).T.shape) == (3, 2)
        assert tuple(lib.ones(4, 2, 3).mT.shape) == (4, 3, 2)


# ---- diagonal: a view, as PyTorch's ------------------------------------------------------------


@LIBS
def test_diagonal_is_a_view_that_writes_reach(lib: Any) -> None:
    """``A.diagonal().add_(eps)`` changes A in PyTorch; tinylm's diagonal was a copy."""
    x = lib.zeros(3, 4, dtype=lib.float64)
    x.diagonal().add_(1.0)
    x.diagonal(1).fill_(2.0)
    x.diagonal(-1, 1, 0)[0] = 5.0  # dims swapped: offset -1 of (1, 0) is offset 1 of (0, 1)
    assert values(x).tolist() == [[1, 5, 0, 0], [0, 1, 2, 0], [0, 0, 1, 2]]
    y = lib.zeros(2, 3, 3)
    y.diagonal(0, -2, -1).fill_(7.0)
    assert values(y).sum() == 42.0 and values(y)[1, 2, 2] == 7.0


@pytest.mark.parametrize(
    "call",
    ["t[0].diagonal()", "t[0].mT.diagonal(1)", "t[0].diagonal(-2)", "t[0].diagonal(5)",
     "lib.diagonal(t[1], 1, -1, 0)", "t[1][:, ::2].diagonal(0, 2, 1)", "t[0].diag()",
     "t[0].mT.trace()"],
)  # fmt: skip
def test_diagonal_values_and_gradients_match_torch(call: str) -> None:
    check_against_torch(lambda lib, t: eval(call, {"lib": lib, "t": t}), [A, C])


# ---- abs of bools, and the in-place addcmul_/addcdiv_ through their out-of-place checks ------


def test_abs_of_a_bool_tensor_is_refused_as_in_torch() -> None:
    with pytest.raises(NotImplementedError):
        torch.tensor([True, False]).abs()
    with pytest.raises(TinyLMError, match="abs: not defined for bool tensors"):
        tinylm.tensor([True, False]).abs()
    with pytest.raises(TinyLMError, match="abs: not defined for bool tensors"):
        tinylm.tensor([True]).abs_()


@pytest.mark.parametrize("name", ["addcmul_", "addcdiv_"])
def test_inplace_addcmul_and_addcdiv_match_torch_and_refuse_what_it_refuses(name: str) -> None:
    rng = np.random.default_rng(5)
    x, a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(1, 2, (4,))
    got = getattr(tinylm.tensor(x), name)(tinylm.tensor(a), tinylm.tensor(b), value=0.5)
    want = getattr(torch.tensor(x), name)(torch.tensor(a), torch.tensor(b), value=0.5)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-15)
    ints = [np.array([1, 2]), np.array([3, 4]), np.array([5, 6])]
    if name == "addcdiv_":  # integer division: refused by both
        with pytest.raises(RuntimeError, match="Integer division"):
            torch.tensor(ints[0]).addcdiv_(torch.tensor(ints[1]), torch.tensor(ints[2]))
        with pytest.raises(TinyLMError, match="integer division is not supported"):
            tinylm.tensor(ints[0]).addcdiv_(tinylm.tensor(ints[1]), tinylm.tensor(ints[2]))
    else:  # torch would cut value=0.5 to 0 on integers: refused here
        with pytest.raises(TinyLMError):
            tinylm.tensor(ints[0]).addcmul_(
                tinylm.tensor(ints[1]), tinylm.tensor(ints[2]), value=0.5
            )


@pytest.mark.parametrize("diagonal", [0, 1, -2])
def test_diag_of_a_vector_with_inf_keeps_zeros_off_the_diagonal(diagonal: int) -> None:
    v = np.array([np.inf, 1.0, -np.inf, np.nan])
    ours = tinylm.tensor(v, requires_grad=True)
    theirs = torch.tensor(v, requires_grad=True)
    got, want = tinylm.diag(ours, diagonal), torch.diag(theirs, diagonal)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    u = np.random.default_rng(2).standard_normal(tuple(want.shape))
    (got * tinylm.tensor(u)).sum().backward()
    (want * torch.tensor(u)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_relu_gradient_is_zero_where_x_is_not_positive_even_for_inf_or_nan_upstream() -> None:
    x = np.array([-1.0, 0.0, 2.0, np.nan, -np.inf, np.inf])
    g = np.array([np.nan, np.inf, np.nan, 3.0, -np.inf, 1.0])
    grads = []
    for lib in (tinylm, torch):
        t = lib.tensor(x, requires_grad=True)
        t.relu().backward(lib.tensor(g))
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])  # [0, 0, nan, 3, 0, 1]
