"""More of PyTorch's math, reductions, searches and in-place samplers, run in both libraries
on the same float64 values: outputs (values, shapes, dtypes) and the gradients of every float
input for a random upstream gradient (never all ones), through transposed and strided views,
at zero vectors and ties. Integer and bool inputs give torch's dtypes; bad calls are one
clear line. The samplers draw other numbers than PyTorch's, so they are checked by their
statistics under a fixed seed. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
    run,
    same_dtype_and_values,
    strided,
    values,
)

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-12, 1e-13
INF = math.inf


RNG = np.random.default_rng(2024)
X = RNG.uniform(-3, 3, (4, 6))
Y = RNG.uniform(-3, 3, (4, 6))
BATCH = RNG.standard_normal((2, 3, 4))
# zero rows and zero entries, where the norms' gradients are defined by convention
ZEROS = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 1.5, -2.0, 0.0], [3.0, -3.0, 1.0, 0.5]])
TIES = np.array([[2.0, -2.0, 1.0, 2.0], [-1.0, 0.5, -1.0, 0.25], [0.0, 0.0, 0.0, 0.0]])


# ---- norms -----------------------------------------------------------------------------

NORM_CALLS = {
    "norm": lambda lib, x: x.norm(),
    "norm fro dim 1": lambda lib, x: x.norm("fro", 1),
    "norm fro two dims": lambda lib, x: lib.norm(x, "fro", (0, 1), keepdim=True),
    "norm p=1 dim 0": lambda lib, x: x.norm(1, 0),
    "norm p=3 keepdim": lambda lib, x: lib.norm(x, 3, 1, True),
    "norm p=inf": lambda lib, x: x.norm(INF, dim=1),
    "norm p=None": lambda lib, x: lib.norm(x, None),
    "norm strided": lambda lib, x: strided(x).norm(2, dim=0),
    "vector_norm": lambda lib, x: lib.linalg.vector_norm(x),
    "vector_norm 1": lambda lib, x: lib.linalg.vector_norm(x, 1, dim=1),
    "vector_norm inf": lambda lib, x: lib.linalg.vector_norm(x, INF, 1, keepdim=True),
    "vector_norm -inf": lambda lib, x: lib.linalg.vector_norm(x, -INF, dim=1),
    "vector_norm 0": lambda lib, x: lib.linalg.vector_norm(x, 0, dim=1) * x.sum(),
    "vector_norm 0.5": lambda lib, x: lib.linalg.vector_norm(x, 0.5, dim=1),
    "vector_norm 1.5": lambda lib, x: lib.linalg.vector_norm(x, 1.5, dim=1),
    "vector_norm 3": lambda lib, x: lib.linalg.vector_norm(x, 3, dim=1),
    "vector_norm -1": lambda lib, x: lib.linalg.vector_norm(x, -1, dim=1),
    "vector_norm -2.5": lambda lib, x: lib.linalg.vector_norm(x, -2.5, dim=1),
    "vector_norm dims ()": lambda lib, x: lib.linalg.vector_norm(x, 2, dim=()),
    "vector_norm strided": lambda lib, x: lib.linalg.vector_norm(strided(x), 3, dim=(0, 1)),
    "matrix_norm": lambda lib, x: lib.linalg.matrix_norm(x),
    "matrix_norm 1": lambda lib, x: lib.linalg.matrix_norm(x, 1),
    "matrix_norm -1": lambda lib, x: lib.linalg.matrix_norm(x, -1, keepdim=True),
    "matrix_norm inf": lambda lib, x: lib.linalg.matrix_norm(strided(x), INF),
    "matrix_norm -inf": lambda lib, x: lib.linalg.matrix_norm(x, -INF, dim=(1, 0)),
    "linalg.norm": lambda lib, x: lib.linalg.norm(x),
    "linalg.norm ord 1 matrix": lambda lib, x: lib.linalg.norm(x, 1),
    "linalg.norm dim": lambda lib, x: lib.linalg.norm(x, 3, dim=1),
    "linalg.norm vector": lambda lib, x: lib.linalg.norm(x[1], INF),
    "linalg.norm two dims": lambda lib, x: lib.linalg.norm(x, "fro", dim=(1, 0), keepdim=True),
}


@pytest.mark.parametrize("inputs", ["random", "zeros", "ties"])
@pytest.mark.parametrize("name", sorted(NORM_CALLS))
def test_norms_and_their_gradients_match_torch(name: str, inputs: str) -> None:
    """Including zero vectors (a zero row, zero entries), where each ord's gradient follows
    PyTorch's convention (0 where the norm or the element is 0), and ties for ±inf."""
    x = {"random": X, "zeros": ZEROS, "ties": TIES}[inputs]
    check_against_torch(lambda lib, t: NORM_CALLS[name](lib, t[0]), [x])


BATCH_NORM_CALLS = {
    "matrix_norm batch": lambda lib, x: lib.linalg.matrix_norm(x),
    "matrix_norm dims (0, 2)": lambda lib, x: lib.linalg.matrix_norm(x, 1, dim=(0, 2)),
    "matrix_norm batch inf keepdim": lambda lib, x: lib.linalg.matrix_norm(x, INF, keepdim=True),
    "linalg.norm all of 3-D": lambda lib, x: lib.linalg.norm(x),
    "vector_norm 3-D": lambda lib, x: lib.linalg.vector_norm(x, 4, dim=(0, 2)),
    "norm 3-D dim -1": lambda lib, x: x.norm(dim=-1),
    "vector_norm 0-d": lambda lib, x: lib.linalg.vector_norm(x[0, 0, 0] * 2.0, 3, dim=0),
}


@pytest.mark.parametrize("name", sorted(BATCH_NORM_CALLS))
def test_norms_of_batches_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: BATCH_NORM_CALLS[name](lib, t[0]), [BATCH])


def test_norm_dtype_converts_first_as_torch() -> None:
    """dtype= computes in that dtype: a float32 tensor's norm in float64, gradient float32."""
    x32 = X.astype(np.float32)
    for call in (
        lambda lib, t: lib.linalg.vector_norm(t, dtype=lib.float64),
        lambda lib, t: t.norm(1, 0, dtype=lib.float64),
        lambda lib, t: lib.linalg.matrix_norm(t, dtype=lib.float64),
    ):
        (ours, g_ours), (theirs, g_theirs) = (
            run(lambda lib, t, c=call: c(lib, t[0]), lib, [x32], 3) for lib in (tinylm, torch)
        )
        assert ours[0][1] == theirs[0][1] == "float64"
        np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-12)
        assert g_ours[0].dtype == g_theirs[0].dtype == np.float32
        np.testing.assert_allclose(g_ours[0], g_theirs[0], rtol=1e-6)


# ---- element-wise math -----------------------------------------------------------------

BINARY_CALLS = {
    "lerp number": lambda lib, a, b: a.lerp(b, 0.3),
    "lerp weight > 1": lambda lib, a, b: lib.lerp(a, b, 1.7),
    "lerp tensor weight": lambda lib, a, b: lib.lerp(a, b, b.sigmoid()),
    "lerp broadcast weight": lambda lib, a, b: a.lerp(b, a[0].tanh()),
    "lerp broadcast end": lambda lib, a, b: a.lerp(b[1], b[2:3].sigmoid()),
    "lerp 0-d weight": lambda lib, a, b: a.lerp(b, b[0, 0] * 0.1),
    "lerp strided": lambda lib, a, b: strided(a).lerp(strided(b), 0.75),
    "fmod": lambda lib, a, b: a.fmod(b),
    "fmod number": lambda lib, a, b: lib.fmod(a, 1.25),
    "fmod negative number": lambda lib, a, b: lib.fmod(strided(a), -0.7),
    "fmod broadcast": lambda lib, a, b: lib.fmod(a, b[0]),
    "logaddexp": lambda lib, a, b: a.logaddexp(b),
    "logaddexp large": lambda lib, a, b: lib.logaddexp(a * 400.0, b * 400.0),
    "logaddexp broadcast strided": lambda lib, a, b: lib.logaddexp(strided(a), strided(b)[0]),
    "atan2": lambda lib, a, b: a.atan2(b),
    "atan2 function": lambda lib, a, b: lib.atan2(strided(a), strided(b)),
    "arctan2": lambda lib, a, b: lib.arctan2(a, b[:1]),
    "hypot": lambda lib, a, b: a.hypot(b),
    "hypot function strided": lambda lib, a, b: lib.hypot(strided(a), strided(b)),
    "where method": lambda lib, a, b: a.where(a > b, b),
    "where method number": lambda lib, a, b: strided(a).where(strided(b) > 0, 2.5),
    "where method broadcast": lambda lib, a, b: a.where(b[0] > 0, b[1:2]),
}


@pytest.mark.parametrize("name", sorted(BINARY_CALLS))
def test_binary_math_and_its_gradients_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: BINARY_CALLS[name](lib, t[0], t[1]), [X, Y])


def test_atan2_and_hypot_at_the_origin_match_torch() -> None:
    """At (0, 0): atan2's gradient is 0, hypot's 0/0 = nan, as PyTorch's."""
    zeros = np.array([0.0, 1.0, -0.0, 3.0])
    other = np.array([0.0, 0.0, 2.0, -4.0])
    for name in ("atan2", "hypot", "logaddexp"):
        check_against_torch(lambda lib, t, n=name: getattr(t[0], n)(t[1]), [zeros, other])


UNARY_CALLS = {
    "reciprocal": lambda lib, x: x.reciprocal(),
    "reciprocal function strided": lambda lib, x: lib.reciprocal(strided(x)),
    "trunc": lambda lib, x: x.trunc() * 2.0 + x,
    "trunc function": lambda lib, x: lib.trunc(strided(x * 1.5)),
    "frac": lambda lib, x: x.frac(),
    "frac function strided": lambda lib, x: lib.frac(strided(x) * 3.0),
}


@pytest.mark.parametrize("name", sorted(UNARY_CALLS))
def test_unary_math_and_its_gradients_match_torch(name: str) -> None:
    check_against_torch(lambda lib, t: UNARY_CALLS[name](lib, t[0]), [X])


def test_trunc_frac_fmod_edge_values_match_torch() -> None:
    edges = np.array([-2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5, 1e300, -7.25])
    check_against_torch(lambda lib, t: (t[0].trunc(), t[0].frac(), t[0].fmod(2.0)), [edges])
    check_against_torch(lambda lib, t: t[0].reciprocal(), [np.array([0.0, -0.0, 1e-300, 4.0])])


# ---- integer and bool inputs -------------------------------------------------------------

DTYPE_CALLS = [
    "i.reciprocal()",
    "b.reciprocal()",
    "i.trunc()",
    "i.fmod(2)",
    "i.fmod(-3)",
    "lib.fmod(i, 1.5)",
    "f.fmod(i)",
    "i.atan2(i)",
    "b.atan2(b)",
    "f.atan2(d)",
    "f.logaddexp(d)",
    "lib.hypot(f, d)",
    "lib.logical_and(i, f)",
    "lib.logical_or(b, i)",
    "i.logical_xor(n)",
    "lib.logical_not(n)",
    "f.logical_not()",
    "lib.bitwise_not(b)",
    "lib.bitwise_not(i)",
    "u.bitwise_not()",
    "i.where(b, 2.5)",
    "f.where(b, i)",
    "f.where(b, d)",
    "i.where(b, i * 2)",
    "lib.nansum(i)",
    "b.nansum()",
    "lib.nansum(n, dtype=lib.float64)",
    "lib.median(i)",
    "i.median(0).values",
    "i.median(0).indices",
    "lib.isclose(i, i + 1, rtol=0, atol=1)",
    "lib.isclose(i, i + 1, rtol=0, atol=0.5)",
    "lib.isclose(b, b)",
    "lib.isclose(n, n * 1.000001)",
    "lib.norm(f)",
]


@pytest.mark.parametrize("call", DTYPE_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes(call: str) -> None:
    def inputs(lib: ModuleType) -> dict[str, Any]:
        return {
            "i": lib.tensor([3, -1, 0, 7]),
            "u": lib.tensor([3, 250, 0, 1], dtype=lib.uint8),
            "b": lib.tensor([True, False, True, False]),
            "f": lib.tensor([1.5, -2.5, 0.0, 3.0]),
            "d": lib.tensor([0.5, 2.0, -1.0, 0.0], dtype=lib.float64),
            "n": lib.tensor([np.nan, 1.0, 0.0, -2.0]),
        }

    same_dtype_and_values(call, inputs)


# ---- reductions --------------------------------------------------------------------------

WITH_NAN = X.copy()
WITH_NAN[0, 1] = WITH_NAN[2, 3] = WITH_NAN[2, 5] = np.nan
WITH_NAN[3, :] = np.nan

NAN_CALLS = {
    "nansum": lambda lib, x: x.nansum(),
    "nansum dim": lambda lib, x: lib.nansum(x, 1),
    "nansum dims keepdim": lambda lib, x: lib.nansum(x, (0, 1), keepdim=True),
    "nansum strided": lambda lib, x: strided(x).nansum(0),
    "nanmean": lambda lib, x: x[:3].nanmean(),
    "nanmean dim (an all-NaN row)": lambda lib, x: lib.nanmean(x, 1),
    "nanmean dim 0 keepdim": lambda lib, x: x.nanmean(0, keepdim=True),
    "nanmean strided": lambda lib, x: lib.nanmean(strided(x), dim=1),
}


@pytest.mark.parametrize("name", sorted(NAN_CALLS))
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # the all-NaN row: g / 0
def test_nansum_and_nanmean_skip_nans_as_torch(name: str) -> None:
    """Values, and the gradient: 0 at a NaN, g (or g over the count) elsewhere."""
    check_against_torch(lambda lib, t: NAN_CALLS[name](lib, t[0]), [WITH_NAN])


def test_nanmean_of_nothing_is_nan_and_nansum_zero_as_torch() -> None:
    for lib in (tinylm, torch):
        assert math.isnan(float(lib.nanmean(lib.tensor([np.nan, np.nan]))))
        assert math.isnan(float(lib.tensor([]).nanmean()))
        assert float(lib.nansum(lib.tensor([]))) == 0.0


MEDIAN_INPUTS = {
    "odd": RNG.permutation(15).reshape(3, 5) / 2.0,
    "even": RNG.permutation(24).reshape(4, 6) / 4.0 - 2,
    "ties": np.array([[2.0, 1.0, 2.0, 1.0], [3.0, 3.0, 3.0, -1.0], [0.5, 0.5, 0.5, 0.5]]),
}


@pytest.mark.parametrize("inputs", sorted(MEDIAN_INPUTS))
def test_median_of_all_elements_matches_torch(inputs: str) -> None:
    """The lower median (not the mean of the middle two); its gradient is shared evenly
    by the elements equal to it, as PyTorch's."""
    x = MEDIAN_INPUTS[inputs]
    check_against_torch(lambda lib, t: t[0].median(), [x])
    check_against_torch(lambda lib, t: lib.median(strided(t[0])), [x])


MEDIAN_DIM_CALLS = {
    "dim 1": lambda lib, x: x.median(1),
    "dim 0 keepdim": lambda lib, x: lib.median(x, 0, keepdim=True),
    "dim -1 strided": lambda lib, x: strided(x).median(-1),
    "values by name": lambda lib, x: lib.median(x, dim=0).values * 2.0,
}


@pytest.mark.parametrize("inputs", ["odd", "even"])
@pytest.mark.parametrize("name", sorted(MEDIAN_DIM_CALLS))
def test_median_along_a_dim_gives_values_indices_and_gradients_as_torch(name, inputs) -> None:
    """Distinct values: the same values, indices (int64) and gradient (to the index)."""
    check_against_torch(lambda lib, t: MEDIAN_DIM_CALLS[name](lib, t[0]), [MEDIAN_INPUTS[inputs]])


def test_median_along_a_dim_with_ties_and_nans() -> None:
    """At ties PyTorch may return any index of the median value (its docs say so); tinylm's
    points at an element of that value too. A lane with a NaN has median NaN, at its first
    NaN, in both."""
    x = MEDIAN_INPUTS["ties"]
    ours, theirs = tinylm.tensor(x).median(1), torch.tensor(x).median(1)
    np.testing.assert_array_equal(values(ours.values), values(theirs.values))
    picked = np.take_along_axis(x, values(ours.indices)[:, None], 1)[:, 0]
    np.testing.assert_array_equal(picked, values(theirs.values))
    nans = np.array([[1.0, np.nan, 0.5, np.nan], [np.nan, 1.0, 2.0, 3.0], [4.0, 1.0, 2.0, 3.0]])
    check_against_torch(lambda lib, t: t[0].median(1), [nans])
    check_against_torch(lambda lib, t: t[0].median(), [nans])
    check_against_torch(lambda lib, t: t[0][2].median(0), [nans])
    check_against_torch(lambda lib, t: t[0][2, 0].median(0), [nans])  # 0-d, dim 0
    assert math.isnan(float(tinylm.tensor([]).median())) and math.isnan(
        float(torch.tensor([]).median())
    )


MOMENT_CALLS = {
    "var_mean": lambda lib, x: lib.var_mean(x),
    "var_mean dim": lambda lib, x: lib.var_mean(x, 1),
    "var_mean unbiased positional": lambda lib, x: lib.var_mean(x, 0, False),
    "var_mean correction keepdim": lambda lib, x: lib.var_mean(
        x, (0, 1), correction=2, keepdim=True
    ),
    "var_mean all keepdim": lambda lib, x: lib.var_mean(x, keepdim=True),
    "var_mean strided": lambda lib, x: lib.var_mean(strided(x), dim=0, correction=0),
    "std_mean": lambda lib, x: lib.std_mean(x),
    "std_mean unbiased": lambda lib, x: lib.std_mean(x, unbiased=False),
    "std_mean dim keepdim": lambda lib, x: lib.std_mean(x, 1, keepdim=True),
    "std_mean strided": lambda lib, x: lib.std_mean(strided(x), -1, correction=0),
}


@pytest.mark.parametrize("name", sorted(MOMENT_CALLS))
def test_var_mean_and_std_mean_match_torch(name: str) -> None:
    """Both outputs, and the gradient through both (each with its own random upstream)."""
    check_against_torch(lambda lib, t: MOMENT_CALLS[name](lib, t[0]), [X])


def test_isclose_matches_torch() -> None:
    a = np.array([1.0, 1.0 + 1e-9, 1.0 + 1e-3, np.inf, -np.inf, np.inf, np.nan, 0.0, 1e-9])
    b = np.array([1.0, 1.0, 1.0, np.inf, np.inf, 1e308, np.nan, 1e-9, 0.0])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 1e-2}, {"rtol": 0.0, "atol": 1e-8}):
        ours = tinylm.isclose(tinylm.tensor(a), tinylm.tensor(b), **kwargs)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs)
        assert dtype_name(ours) == dtype_name(theirs) == "bool"
        np.testing.assert_array_equal(values(ours), values(theirs))
        np.testing.assert_array_equal(
            values(tinylm.tensor(a).isclose(tinylm.tensor(b[:1]), **kwargs)),
            values(torch.tensor(a).isclose(torch.tensor(b[:1]), **kwargs)),
        )


LOGICAL_INPUTS = [
    np.array([[0.0, 1.5, -2.0, np.nan], [0.0, 0.0, 3.0, -0.0]]),
    np.array([1.0, 0.0, 0.0, 2.0]),
]


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_match_torch(name: str) -> None:
    a, b = LOGICAL_INPUTS
    for lib_call in (
        lambda lib, x, y: getattr(lib, name)(x, y),
        lambda lib, x, y: getattr(x, name)(y),
        lambda lib, x, y: getattr(lib, name)(x.mT[::2], y[:2].long()),
    ):
        ours = lib_call(tinylm, tinylm.tensor(a), tinylm.tensor(b))
        theirs = lib_call(torch, torch.tensor(a), torch.tensor(b))
        assert dtype_name(ours) == dtype_name(theirs) == "bool"
        np.testing.assert_array_equal(values(ours), values(theirs))
    not_ours, not_theirs = tinylm.tensor(a).logical_not(), torch.tensor(a).logical_not()
    np.testing.assert_array_equal(values(not_ours), values(not_theirs))


# ---- searchsorted and bucketize ----------------------------------------------------------

SEQUENCE = np.array([-2.0, -1.0, -1.0, 0.0, 0.5, 0.5, 0.5, 3.0])
PROBES = np.array([[-3.0, -1.0, 0.5, 0.25], [3.0, 4.0, -2.0, 0.0]])
ROWS = np.sort(RNG.integers(-5, 5, (2, 3, 7)), axis=-1).astype(np.float64)
ROW_PROBES = RNG.integers(-6, 6, (2, 3, 4)).astype(np.float64)
SEARCH_CALLS = {
    "left": lambda lib, s, v: lib.searchsorted(s, v),
    "right": lambda lib, s, v: lib.searchsorted(s, v, right=True),
    "side right": lambda lib, s, v: lib.searchsorted(s, v, side="right"),
    "side right, right False": lambda lib, s, v: lib.searchsorted(s, v, right=False, side="right"),
    "side left": lambda lib, s, v: lib.searchsorted(s, v, side="left"),
    "int32": lambda lib, s, v: lib.searchsorted(s, v, out_int32=True),
    "number": lambda lib, s, v: lib.searchsorted(s, 0.5, side="right"),
    "strided values": lambda lib, s, v: lib.searchsorted(s, v.mT[::2]),
    "int sequence": lambda lib, s, v: lib.searchsorted(s.long(), v),
    "sorter": lambda lib, s, v: lib.searchsorted(s.flip(0), v, sorter=lib.arange(7, -1, -1)),
    "bucketize": lambda lib, s, v: lib.bucketize(v, s),
    "bucketize right": lambda lib, s, v: lib.bucketize(v, s, right=True),
    "bucketize number": lambda lib, s, v: lib.bucketize(-1.0, s),
    "bucketize int32": lambda lib, s, v: lib.bucketize(v.long(), s, out_int32=True),
}


@pytest.mark.parametrize("name", sorted(SEARCH_CALLS))
@pytest.mark.filterwarnings("ignore:torch.searchsorted.*non-contiguous:UserWarning")  # torch's
def test_searchsorted_and_bucketize_match_torch(name: str) -> None:
    """Values equal to entries (repeated ones too), below the first and above the last."""
    ours, theirs = (
        SEARCH_CALLS[name](lib, lib.tensor(SEQUENCE), lib.tensor(PROBES)) for lib in (tinylm, torch)
    )
    assert dtype_name(ours) == dtype_name(theirs)
    assert not ours.requires_grad
    np.testing.assert_array_equal(values(ours), values(theirs))


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_of_many_rows_matches_torch(side: str) -> None:
    ours = tinylm.searchsorted(tinylm.tensor(ROWS), tinylm.tensor(ROW_PROBES), side=side)
    theirs = torch.searchsorted(torch.tensor(ROWS), torch.tensor(ROW_PROBES), side=side)
    assert dtype_name(ours) == dtype_name(theirs) == "int64"
    np.testing.assert_array_equal(values(ours), values(theirs))


# ---- in-place forms and samplers ---------------------------------------------------------


def test_square_and_reciprocal_in_place_match_torch() -> None:
    for lib in (tinylm, torch):
        f, i = lib.tensor(X.copy()), lib.tensor([3, -2, 0], dtype=lib.int32)
        assert f.square_() is f and i.square_() is i
        assert values(f.reciprocal_()).tolist() == values(1.0 / lib.tensor(X * X)).tolist()
        assert values(i).tolist() == [9, 4, 0] and dtype_name(i) == "int32"
        with pytest.raises(RuntimeError, match="can't be cast"):
            lib.tensor([1, 2]).reciprocal_()
        with pytest.raises(RuntimeError, match="can't be cast"):
            lib.tensor([True]).square_()


SAMPLERS = {
    "exponential_": lambda t: t.exponential_(2.0),
    "log_normal_": lambda t: t.log_normal_(0.5, 0.25),
    "cauchy_": lambda t: t.cauchy_(1.0, 2.0),
    "geometric_": lambda t: t.geometric_(0.25),
    "random_ from to": lambda t: t.random_(-3, 5),
    "random_ to": lambda t: t.random_(10),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_are_in_place_seeded_and_repeatable(name: str) -> None:
    draw = SAMPLERS[name]
    tinylm.manual_seed(7)
    t = tinylm.zeros(4000, dtype=tinylm.float64)
    assert draw(t) is t and t.dtype == tinylm.float64 and t._version == 1
    first = values(t).copy()
    tinylm.manual_seed(7)
    np.testing.assert_array_equal(values(draw(tinylm.zeros(4000, dtype=tinylm.float64))), first)
    assert not np.array_equal(values(draw(tinylm.zeros(4000, dtype=tinylm.float64))), first)
    gen, again = tinylm.Generator().manual_seed(3), tinylm.Generator().manual_seed(3)
    a, b = tinylm.zeros(50), tinylm.zeros(50)
    getattr(a, name.split()[0])(*_sampler_args(name), generator=gen)
    getattr(b, name.split()[0])(*_sampler_args(name), generator=again)
    np.testing.assert_array_equal(values(a), values(b))


def _sampler_args(name: str) -> tuple[Any, ...]:
    return {"geometric_": (0.25,), "random_ from to": (-3, 5), "random_ to": (10,)}.get(name, ())


N_DRAWS = 200_000


def _draws(call: Callable[[Any], Any], dtype: Any = tinylm.float64) -> np.ndarray:
    tinylm.manual_seed(123)
    return values(call(tinylm.empty(N_DRAWS, dtype=dtype)))


def test_exponential_draws_have_mean_one_over_lambda_and_its_quantiles() -> None:
    v = _draws(lambda t: t.exponential_(2.0))
    assert v.min() >= 0
    assert abs(v.mean() - 0.5) < 0.01  # sd of the mean: 0.5 / √200000 ≈ 0.0011
    assert abs(np.median(v) - math.log(2) / 2) < 0.01
    assert abs(np.quantile(v, 0.9) - math.log(10) / 2) < 0.02
    assert abs(_draws(lambda t: t.exponential_()).mean() - 1.0) < 0.02  # λ = 1 by default


def test_log_normal_draws_are_e_to_a_normal() -> None:
    v = _draws(lambda t: t.log_normal_(0.5, 0.25))
    assert v.min() > 0
    assert abs(np.log(v).mean() - 0.5) < 0.005 and abs(np.log(v).std() - 0.25) < 0.005
    assert abs(v.mean() - math.exp(0.5 + 0.25**2 / 2)) < 0.01
    default = np.log(_draws(lambda t: t.log_normal_()))  # mean 1, std 2 by default
    assert abs(default.mean() - 1.0) < 0.03 and abs(default.std() - 2.0) < 0.03


def test_cauchy_draws_have_their_median_and_quartiles() -> None:
    v = _draws(lambda t: t.cauchy_(1.0, 2.0))
    assert abs(np.median(v) - 1.0) < 0.03
    q1, q3 = np.quantile(v, [0.25, 0.75])  # median ∓ sigma
    assert abs(q1 - (-1.0)) < 0.05 and abs(q3 - 3.0) < 0.05
    assert abs(np.quantile(_draws(lambda t: t.cauchy_()), 0.75) - 1.0) < 0.03


@pytest.mark.parametrize("dtype", ["float32", "int64", "int16"])
def test_geometric_draws_count_trials_to_the_first_success(dtype: str) -> None:
    v = _draws(lambda t: t.geometric_(0.25), getattr(tinylm, dtype))
    assert v.dtype == np.dtype(dtype) and v.min() == 1
    assert abs(v.mean() - 4.0) < 0.05  # 1/p; sd of the mean ≈ 0.008
    freq = np.bincount(v.astype(np.int64))[1:4] / v.size
    np.testing.assert_allclose(freq, [0.25, 0.1875, 0.140625], atol=0.005)


@pytest.mark.parametrize(
    "dtype, call, low, high",
    [
        ("float64", lambda t: t.random_(-3, 5), -3, 4),
        ("float32", lambda t: t.random_(10), 0, 9),
        ("int64", lambda t: t.random_(2, 4), 2, 3),
        ("int8", lambda t: t.random_(-128, 128), -128, 127),
        ("uint8", lambda t: t.random_(), 0, 255),
        ("bool_", lambda t: t.random_(), 0, 1),
        ("int16", lambda t: t.random_(30000, None), 30000, 32767),
        ("float32", lambda t: t.random_(), 0, 2**24),
    ],
)
def test_random_draws_every_integer_of_its_range_evenly(dtype, call, low, high) -> None:
    v = _draws(call, getattr(tinylm, dtype)).astype(np.float64)
    assert v.min() >= low and v.max() <= high and np.all(v == np.round(v))
    if high - low < 3000:
        counts = np.bincount((v - low).astype(np.int64), minlength=high - low + 1)
        expected = v.size / (high - low + 1)
        assert counts.size == high - low + 1 and counts.min() > 0
        assert np.abs(counts - expected).max() < 6 * math.sqrt(expected)
    else:
        assert abs(v.mean() - (low + high) / 2) < 0.01 * (high - low)


def test_samplers_match_torchs_value_rules() -> None:
    """Same kinds of values as torch's on the same calls: integers in range, in the dtype."""
    for lib in (tinylm, torch):
        t = lib.zeros(1000, dtype=lib.int8).random_(-5, 0)
        assert dtype_name(t) == "int8" and values(t).min() >= -5 and values(t).max() <= -1
        g = lib.zeros(1000, dtype=lib.int64).geometric_(0.5)
        assert dtype_name(g) == "int64" and values(g).min() >= 1


def test_samplers_refuse_a_leaf_that_requires_grad_while_recording() -> None:
    w = tinylm.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="exponential_: in-place"):
        w.exponential_()
    with tinylm.no_grad():
        w.exponential_()
    assert float(w.min()) > 0


# ---- bad calls -----------------------------------------------------------------------------

# (call, what torch raises or None where tinylm deliberately refuses what torch computes,
#  what tinylm's one line names)
BAD_CALLS = [
    ("lib.lerp(lib.tensor([1, 2]), lib.tensor([1, 2]), 0.5)", Exception, "floating-point"),
    ("lib.lerp(f, f.double(), 0.5)", RuntimeError, "end has dtype float64"),
    ("lib.lerp(f, f, f.double())", RuntimeError, "weight has dtype float64"),
    ("lib.lerp(f, 1.0, 0.5)", TypeError, "end must be a Tensor"),
    ("lib.tensor([True]).trunc()", Exception, "bool"),
    ("lib.frac(lib.tensor([1, 2]))", Exception, "floating-point"),
    ("lib.fmod(lib.tensor([3, 4]), 0)", RuntimeError, "division by zero"),
    ("lib.fmod(lib.tensor([True]), lib.tensor([True]))", Exception, "bool"),
    ("lib.logaddexp(lib.tensor([1]), lib.tensor([2]))", Exception, "floating-point"),
    ("lib.logaddexp(f, 1.0)", TypeError, "must be a Tensor"),
    ("lib.hypot(lib.tensor([1]), lib.tensor([2]))", Exception, "floating-point"),
    ("lib.atan2(f, lib.ones(2))", RuntimeError, "broadcast"),
    ("lib.logical_and(f, 1)", TypeError, "must be a Tensor"),
    ("lib.bitwise_not(f)", Exception, "bool or integer"),
    ("f.where(f, f)", RuntimeError, "condition must be a bool"),
    ("lib.nanmean(lib.tensor([1, 2]))", RuntimeError, "floating-point"),
    ("lib.nanmean(lib.tensor([1, 2]), dtype=lib.float64)", RuntimeError, "floating-point"),
    ("lib.median(lib.tensor([True]))", Exception, "bool"),
    ("lib.zeros(2, 0).median(1)", IndexError, "empty"),
    ("lib.isclose(f, f.double())", RuntimeError, "dtypes differ"),
    ("lib.isclose(f, 1.0)", TypeError, "must be a Tensor"),
    ("lib.isclose(f, f, rtol=-1.0)", RuntimeError, ">= 0"),
    ("lib.searchsorted(s, f, right=True, side='left')", RuntimeError, "contradict"),
    ("lib.searchsorted(s, f, side='middle')", RuntimeError, "'left' or 'right'"),
    ("lib.searchsorted(lib.ones(2, 3), lib.ones(3, 1))", RuntimeError, "leading dims"),
    ("lib.bucketize(f, lib.ones(1, 3))", RuntimeError, "1-D"),
    ("lib.linalg.vector_norm(lib.tensor([1, 2]))", RuntimeError, "floating-point"),
    ("lib.linalg.vector_norm(f, dtype=lib.int64)", RuntimeError, "floating-point"),
    ("lib.linalg.vector_norm(f, 'fro')", TypeError, "ord must be a number"),
    ("lib.linalg.vector_norm(lib.zeros(0), INF)", RuntimeError, "empty"),
    ("lib.linalg.vector_norm(f, dim=3)", IndexError, "out of range"),
    ("lib.linalg.matrix_norm(f)", RuntimeError, "matrix"),
    ("lib.linalg.matrix_norm(m, 3)", RuntimeError, "must be 'fro', 'nuc', 2, -2, 1, -1"),
    ("lib.linalg.matrix_norm(m, dim=(0, 0))", RuntimeError, "must differ"),
    ("lib.linalg.norm(lib.ones(2, 2, 2), 2)", RuntimeError, "1-D .* or 2-D"),
    ("lib.linalg.norm(m, dim=(0, 1, 1))", RuntimeError, "one or two dims"),
    ("lib.norm(lib.ones(2, 2, 2), 'fro', dim=(0, 1, 2))", RuntimeError, "2-tuple"),
    ("lib.norm(m, 'abc')", RuntimeError, "must be 'fro', 'nuc', 2, -2, 1, -1"),
    ("lib.norm(f, out=f)", None, "out= is not supported"),
    ("lib.zeros(3, dtype=lib.int64).exponential_()", RuntimeError, "floating-point"),
    ("lib.zeros(3).exponential_(0)", RuntimeError, "lambd > 0"),
    ("lib.zeros(3).log_normal_(0, 0)", RuntimeError, "std > 0"),
    ("lib.zeros(3, dtype=lib.int32).log_normal_()", Exception, "floating-point"),
    ("lib.zeros(3).cauchy_(0, -1)", RuntimeError, "sigma > 0"),
    ("lib.zeros(3).geometric_(1)", RuntimeError, r"p in \(0, 1\)"),
    ("lib.zeros(3).random_(4, 2)", RuntimeError, "from < to"),
    ("lib.zeros(3).random_(0)", RuntimeError, "from < to"),
    ("lib.zeros(3, dtype=lib.uint8).random_(0, 300)", RuntimeError, "out of the range"),
    ("lib.zeros(3).random_(1.5, 4)", TypeError, "must be an int"),
]


@pytest.mark.parametrize("call, theirs, names", BAD_CALLS, ids=[c for c, _, _ in BAD_CALLS])
def test_bad_calls_are_one_clear_line(call: str, theirs: Any, names: str) -> None:
    """What torch refuses tinylm refuses too; out= is tinylm's own refusal ("nuc" and the
    spectral norms are computed now: tests/test_torch_linalg.py)."""

    def env(lib: ModuleType) -> dict[str, Any]:
        return {
            "lib": lib,
            "INF": INF,
            "f": lib.tensor([1.5, -2.5, 0.5]),
            "m": lib.ones(2, 3),
            "s": lib.tensor([1.0, 2.0, 3.0]),
        }

    if theirs is not None:
        with pytest.raises(theirs):
            eval(call, env(torch))
    expected = TypeError if theirs is TypeError else TinyLMError
    with pytest.raises(expected, match=names) as info:
        eval(call, env(tinylm))
    assert "\n" not in str(info.value)
