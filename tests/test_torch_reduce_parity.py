"""PyTorch's order statistics (quantile, kthvalue, mode, nanmedian, aminmax), scans (cummax,
cummin, logcumsumexp), counts (unique_consecutive, bincount, histc, histogram), distances
and small products (cdist, pdist, dist, vdot, mv, addmv, addr, multi_dot, renorm,
trapezoid, cross, vecdot) and random creation (normal, poisson, randint_like, logspace,
bernoulli_), run in both libraries on the same float64 values: outputs (values, shapes,
dtypes) and the gradients of every float input for a random upstream gradient (never all
ones), through transposed and strided views, at ties and NaNs where PyTorch defines the
result. Integer and bool inputs give torch's dtypes; bad calls are one clear line. Random
draws are other numbers than PyTorch's, so they are checked by their statistics under a
fixed seed. Skipped without torch (a test-only dependency).
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
import torch_parity  # noqa: E402 - after the skip
from torch_parity import (  # noqa: E402
    dtype_name,
    refused_by_both,
    same_dtype_and_values,
    strided,
    values,
)

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-12, 1e-13
INF, NAN = math.inf, math.nan


def check_against_torch(
    build: Callable[[ModuleType, list[Any]], Any],
    arrays: list[np.ndarray],
    seed: int = 0,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> None:
    """torch_parity's check, quiet: deprecation notes (chain_matmul, cross without dim)."""
    torch_parity.check_against_torch(build, arrays, seed, rtol, atol, ignore_warnings=True)


RNG = np.random.default_rng(1234)
X = RNG.uniform(-3, 3, (4, 6))
# small integers as floats: ties everywhere (mode, cummax, quantile's sort, aminmax)
TIES = RNG.integers(-2, 3, (4, 6)).astype(np.float64)
WITH_NAN = X.copy()
WITH_NAN[0, 1] = WITH_NAN[2, 3] = WITH_NAN[2, 5] = NAN
CUBE = RNG.standard_normal((3, 4, 5))


# ---- quantiles ---------------------------------------------------------------------------

QUANTILE_CALLS = {
    "scalar q, all": lambda lib, x, how: lib.quantile(x, 0.3, interpolation=how),
    "scalar q, dim 1": lambda lib, x, how: x.quantile(0.7, dim=1, interpolation=how),
    "scalar q, dim 0 keepdim": lambda lib, x, how: x.quantile(0.45, 0, True, interpolation=how),
    "q tensor, dim -1": lambda lib, x, how: lib.quantile(
        x, lib.tensor([0.0, 0.125, 0.5, 0.9, 1.0], dtype=lib.float64), -1, interpolation=how
    ),
    "q tensor, all, keepdim": lambda lib, x, how: x.quantile(
        lib.tensor([0.25, 0.625], dtype=lib.float64), None, True, interpolation=how
    ),
    "0-d q tensor, strided": lambda lib, x, how: strided(x).quantile(
        lib.tensor(0.375, dtype=lib.float64), 1, interpolation=how
    ),
    "3-d, dim 1": lambda lib, x, how: lib.quantile(
        x.reshape(2, 3, 4), lib.tensor([0.2, 0.8], dtype=lib.float64), 1, interpolation=how
    ),
}
HOWS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("inputs", ["random", "ties"])
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name", sorted(QUANTILE_CALLS))
def test_quantile_values_and_gradients_match_torch(name: str, how: str, inputs: str) -> None:
    """Every interpolation, q a number, a 0-d or a 1-D tensor (its dim first); the gradient
    goes back through the sort to the one or two neighbours, at ties to the same element
    as PyTorch's: tinylm sorts stably, as PyTorch's CPU sort does up to 16 elements; over
    more, which of equal elements PyTorch's unstable sort puts first is its own (the
    values agree, the gradient may go to another of the tied elements)."""
    x = {"random": X, "ties": TIES}[inputs]
    if inputs == "ties" and "all" in name:
        for lib in (tinylm, torch):
            assert dtype_name(QUANTILE_CALLS[name](lib, lib.tensor(x), how)) == "float64"
        ours = values(QUANTILE_CALLS[name](tinylm, tinylm.tensor(x), how))
        np.testing.assert_allclose(ours, values(QUANTILE_CALLS[name](torch, torch.tensor(x), how)))
        return
    check_against_torch(lambda lib, t: QUANTILE_CALLS[name](lib, t[0], how), [x])


NAN_QUANTILE_CALLS = {
    "quantile (NaN lanes are NaN)": lambda lib, x, how: x.quantile(0.4, 1, interpolation=how),
    "nanquantile dim 1": lambda lib, x, how: lib.nanquantile(x, 0.4, 1, interpolation=how),
    "nanquantile all": lambda lib, x, how: x.nanquantile(
        lib.tensor([0.1, 0.5, 1.0], dtype=lib.float64), interpolation=how
    ),
    "nanquantile all-NaN lane": lambda lib, x, how: lib.nanquantile(
        x[:, [1, 3, 5]][:3], 0.6, 0, True, interpolation=how
    ),
}


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name", sorted(NAN_QUANTILE_CALLS))
def test_quantile_and_nanquantile_with_nans_match_torch(name: str, how: str) -> None:
    x = WITH_NAN.copy()
    x[:, 3] = NAN  # a column of nothing but NaNs
    check_against_torch(lambda lib, t: NAN_QUANTILE_CALLS[name](lib, t[0], how), [x])


def test_quantile_of_a_0d_tensor_and_float32_match_torch() -> None:
    check_against_torch(lambda lib, t: t[0].quantile(0.3, dim=0, keepdim=True), [np.array(2.5)])
    check_against_torch(lambda lib, t: t[0].quantile(0.3), [np.array(2.5)])
    for lib in (tinylm, torch):
        out = lib.tensor(X, dtype=lib.float32).quantile(0.3, 1)
        assert dtype_name(out) == "float32"
    ours = values(tinylm.tensor(X, dtype=tinylm.float32).quantile(0.3, 1))
    theirs = values(torch.tensor(X, dtype=torch.float32).quantile(0.3, 1))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


# ---- picks along a dim: kthvalue, mode, nanmedian, cummax/cummin ---------------------------

PICK_CALLS = {
    "kthvalue": lambda lib, x: x.kthvalue(3),
    "kthvalue dim 0 keepdim": lambda lib, x: lib.kthvalue(x, 1, 0, True),
    "kthvalue strided": lambda lib, x: lib.kthvalue(strided(x), 2, dim=1),
    "kthvalue last": lambda lib, x: x.kthvalue(6, dim=-1),
    "nanmedian all": lambda lib, x: x.nanmedian(),
    "nanmedian dim": lambda lib, x: lib.nanmedian(x, 1),
    "nanmedian dim 0 keepdim": lambda lib, x: x.nanmedian(0, keepdim=True),
    "nanmedian strided": lambda lib, x: lib.nanmedian(strided(x), -1),
    "cummax": lambda lib, x: x.cummax(1),
    "cummax dim 0": lambda lib, x: lib.cummax(x, 0),
    "cummin strided": lambda lib, x: lib.cummin(strided(x), 1),
    "cummin dim -2": lambda lib, x: x.cummin(-2),
    "logcumsumexp": lambda lib, x: x.logcumsumexp(1),
    "logcumsumexp strided dim 0": lambda lib, x: lib.logcumsumexp(strided(x), 0),
    "aminmax": lambda lib, x: lib.aminmax(x),
    "aminmax dim": lambda lib, x: x.aminmax(dim=1),
    "aminmax dim keepdim": lambda lib, x: lib.aminmax(strided(x), dim=0, keepdim=True),
    "aminmax keepdim": lambda lib, x: x.aminmax(keepdim=True),
    "msort": lambda lib, x: lib.msort(x),
    "msort strided": lambda lib, x: strided(x).msort(),
}


@pytest.mark.parametrize("name", sorted(PICK_CALLS))
def test_picks_along_a_dim_and_their_gradients_match_torch(name: str) -> None:
    """Values, indices, and the gradient: at the picked element (or, for a nanmedian of all
    elements and aminmax, shared evenly by the elements equal to the result)."""
    check_against_torch(lambda lib, t: PICK_CALLS[name](lib, t[0]), [X])


TIED_CALLS = {
    "mode": lambda lib, x: x.mode(),
    "mode dim 0": lambda lib, x: lib.mode(x, 0),
    "mode keepdim strided": lambda lib, x: lib.mode(strided(x), 1, keepdim=True),
    "cummax": lambda lib, x: x.cummax(1),
    "cummin dim 0": lambda lib, x: lib.cummin(x, 0),
    "cummax strided": lambda lib, x: strided(x).cummax(0),
    "aminmax": lambda lib, x: x.aminmax(),
    "aminmax dim": lambda lib, x: lib.aminmax(x, dim=0),
    "nanmedian (shared)": lambda lib, x: lib.nanmedian(x),
    "msort": lambda lib, x: x.msort(),
    "logcumsumexp": lambda lib, x: lib.logcumsumexp(x, 1),
}


@pytest.mark.parametrize("name", sorted(TIED_CALLS))
def test_ties_give_torchs_indices_and_gradients(name: str) -> None:
    """Where PyTorch defines the index at ties: mode's smallest most-frequent value at its
    last place, cummax/cummin's latest equal element, aminmax's even share."""
    check_against_torch(lambda lib, t: TIED_CALLS[name](lib, t[0]), [TIES])


def test_kthvalue_at_ties_points_at_an_element_of_that_value() -> None:
    """PyTorch's docs leave the index at ties open; tinylm's points at an equal value."""
    ours, theirs = tinylm.tensor(TIES).kthvalue(3, 1), torch.tensor(TIES).kthvalue(3, 1)
    np.testing.assert_array_equal(values(ours.values), values(theirs.values))
    picked = np.take_along_axis(TIES, values(ours.indices)[:, None], 1)[:, 0]
    np.testing.assert_array_equal(picked, values(theirs.values))


NAN_PICK_CALLS = {
    "cummax": lambda lib, x: x.cummax(1),
    "cummin dim 0": lambda lib, x: lib.cummin(x, 0),
    "nanmedian all": lambda lib, x: x.nanmedian(),
    "nanmedian dim": lambda lib, x: x[:3].nanmedian(1),
    "nanmedian dim 0": lambda lib, x: lib.nanmedian(x, 0, True),
    "kthvalue (NaN the largest)": lambda lib, x: x.kthvalue(6, 1),
    "logcumsumexp": lambda lib, x: x.logcumsumexp(1),
    "msort": lambda lib, x: lib.msort(x),
}


@pytest.mark.parametrize("name", sorted(NAN_PICK_CALLS))
def test_nans_are_handled_as_torch(name: str) -> None:
    """A NaN is the running max/min from where it appears (the latest NaN its index), the
    largest value for kthvalue, left out by nanmedian."""
    check_against_torch(lambda lib, t: NAN_PICK_CALLS[name](lib, t[0]), [WITH_NAN])


def test_nanmedian_of_nothing_but_nans_is_nan_as_torch() -> None:
    x = np.array([[NAN, NAN, NAN], [1.0, NAN, 2.0]])
    check_against_torch(lambda lib, t: t[0].nanmedian(), [x[:1]])  # gradient shared by NaNs
    ours, theirs = tinylm.tensor(x).nanmedian(1), torch.tensor(x).nanmedian(1)
    np.testing.assert_array_equal(values(ours.values), values(theirs.values))  # [nan, 1]
    assert values(ours.indices)[1] == values(theirs.indices)[1] == 0
    assert math.isnan(float(tinylm.tensor([]).nanmedian()))


def test_logcumsumexp_is_stable_for_large_and_infinite_values() -> None:
    big = np.array([[1.0, 1000.0, 2.0, -1000.0, 999.0], [-800.0, -801.0, -INF, 0.5, 700.0]])
    check_against_torch(lambda lib, t: t[0].logcumsumexp(1), [big])
    check_against_torch(lambda lib, t: t[0].logcumsumexp(0), [CUBE[0]])
    check_against_torch(lambda lib, t: lib.logcumsumexp(t[0], 0), [np.array(1.5)])
    check_against_torch(lambda lib, t: lib.logcumsumexp(t[0], 1), [np.zeros((2, 0))])


def test_picks_of_0d_and_3d_tensors_match_torch() -> None:
    scalar = np.array(1.25)
    for call in (
        lambda lib, x: x.kthvalue(1),
        lambda lib, x: x.mode(0, True),
        lambda lib, x: x.cummax(0),
        lambda lib, x: lib.cummin(x, -1),
        lambda lib, x: x.nanmedian(0),
        lambda lib, x: x.aminmax(dim=0, keepdim=True),
        lambda lib, x: x.msort(),
    ):
        check_against_torch(lambda lib, t, call=call: call(lib, t[0]), [scalar])
    for call in (
        lambda lib, x: x.kthvalue(2, 1),
        lambda lib, x: x.cummin(2),
        lambda lib, x: lib.mode(x.round(), 1),
        lambda lib, x: x.aminmax(dim=-1),
    ):
        check_against_torch(lambda lib, t, call=call: call(lib, t[0]), [CUBE])


# ---- counting: no gradient -----------------------------------------------------------------

COUNT_CALLS = {
    "unique_consecutive": lambda lib: lib.unique_consecutive(lib.tensor([1, 1, 2, 2, 3, 1, 1, 2])),
    "unique_consecutive inverse counts": lambda lib: lib.unique_consecutive(
        lib.tensor([[1, 1, 2], [2, 3, 3]]), return_inverse=True, return_counts=True
    ),
    "unique_consecutive dim 0": lambda lib: lib.tensor(
        [[1, 1], [1, 1], [2, 3], [1, 1]]
    ).unique_consecutive(True, True, dim=0),
    "unique_consecutive dim 1": lambda lib: lib.unique_consecutive(
        lib.tensor([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]), return_inverse=True, dim=1
    ),
    "unique_consecutive NaNs": lambda lib: lib.tensor([1.0, NAN, NAN, 2.0]).unique_consecutive(
        return_counts=True
    ),
    "unique_consecutive bool": lambda lib: lib.tensor([True, True, False]).unique_consecutive(),
    "unique_consecutive 0-d": lambda lib: lib.unique_consecutive(lib.tensor(3), True, True),
    "unique_consecutive empty": lambda lib: lib.unique_consecutive(lib.tensor([]), True, True),
    "bincount": lambda lib: lib.bincount(lib.tensor([0, 2, 2, 5])),
    "bincount minlength": lambda lib: lib.tensor([0, 2, 2, 5]).bincount(minlength=8),
    "bincount uint8": lambda lib: lib.bincount(lib.tensor([3, 1], dtype=lib.uint8)),
    "bincount empty": lambda lib: lib.bincount(lib.tensor([], dtype=lib.int64), minlength=2),
    "bincount float32 weights": lambda lib: lib.bincount(
        lib.tensor([0, 2, 2]), lib.tensor([0.5, 1.0, 2.25])
    ),
    "bincount float64 weights": lambda lib: lib.tensor([1, 1, 3]).bincount(
        lib.tensor([0.5, 1.0, 2.25], dtype=lib.float64)
    ),
    "bincount int weights": lambda lib: lib.bincount(lib.tensor([1, 1, 3]), lib.tensor([2, 3, 4])),
    "histc": lambda lib: lib.histc(lib.tensor(X.ravel()), bins=7),
    "histc range": lambda lib: lib.tensor(X.ravel(), dtype=lib.float32).histc(5, -1.0, 2.0),
    "histc edges and NaN": lambda lib: lib.histc(lib.tensor([0.0, 1.0, 3.0, 3.5, NAN]), 3, 0, 3),
    "histc one point": lambda lib: lib.histc(lib.tensor([2.0, 2.0]), bins=4),
    "histc empty": lambda lib: lib.histc(lib.tensor([]), bins=3),
    "histogram": lambda lib: lib.histogram(lib.tensor(X.ravel()), bins=6),
    "histogram range density": lambda lib: lib.tensor(X.ravel()).histogram(
        4, range=(-2.0, 2.5), density=True
    ),
    "histogram edges weights": lambda lib: lib.histogram(
        lib.tensor(X.ravel()),
        lib.tensor([-3.0, -1.0, 0.0, 0.5, 3.0], dtype=lib.float64),
        weight=lib.tensor(np.abs(X.ravel())),
    ),
    "histogram float64 one point": lambda lib: lib.histogram(
        lib.tensor([2.0, 2.0], dtype=lib.float64), bins=4
    ),
    "histogram empty": lambda lib: lib.histogram(lib.tensor([]), bins=2),
}


@pytest.mark.parametrize("name", sorted(COUNT_CALLS))
def test_counting_matches_torch(name: str) -> None:
    ours, theirs = COUNT_CALLS[name](tinylm), COUNT_CALLS[name](torch)
    ours = list(ours) if isinstance(ours, tuple) else [ours]
    theirs = list(theirs) if isinstance(theirs, tuple) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (dtype_name(a), tuple(a.shape)) == (dtype_name(b), tuple(b.shape))
        np.testing.assert_allclose(values(a), values(b), rtol=1e-6)
        assert not a.requires_grad


def test_histogram_returns_named_fields_and_aminmax_min_max() -> None:
    for lib in (tinylm, torch):
        h = lib.histogram(lib.tensor([1.0, 2.0, 1.0, 4.0]), bins=3)
        assert values(h.hist).tolist() == [2.0, 1.0, 1.0] and h.bin_edges.shape == (4,)
        m = lib.aminmax(lib.tensor([3, -1, 2]))
        assert (int(m.min), int(m.max)) == (-1, 3)
        assert (dtype_name(m.min), dtype_name(m.max)) == ("int64", "int64")


# ---- distances -----------------------------------------------------------------------------

A = RNG.standard_normal((2, 3, 4))
B = RNG.standard_normal((2, 5, 4))
# rows equal to each other (zero distances) and equal |differences| (ties for p = inf)
NEAR = np.array([[0.0, 1.0, -1.0], [0.0, 1.0, -1.0], [1.0, 2.0, 0.0], [2.0, -1.0, 0.0]])
PS = [0, 0.5, 1, 1.5, 2, 3, INF]


@pytest.mark.parametrize("p", PS)
def test_cdist_values_and_gradients_match_torch(p: float) -> None:
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1], p), [A, B])
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1][0], p=p), [A, B])  # broadcast
    check_against_torch(lambda lib, t: lib.cdist(strided(t[0]), t[1], p), [X, X[:3, :2]])
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[0], p), [NEAR])  # zeros, ties
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1][None], p), [NEAR, NEAR[::-1].copy()])


@pytest.mark.parametrize("p", PS)
def test_pdist_and_dist_match_torch(p: float) -> None:
    """(PyTorch's backward of pdist and dist with p = 0 fails; tinylm's gives 0, as
    cdist's: the values alone are compared there.)"""
    grad = (lambda t: t) if p else (lambda t: t.detach())
    check_against_torch(lambda lib, t: lib.pdist(grad(t[0]), p), [NEAR])
    check_against_torch(lambda lib, t: lib.pdist(strided(grad(t[0])), p=p), [X])
    check_against_torch(lambda lib, t: lib.dist(grad(t[0]), grad(t[1]), p), [X, X[::-1].copy()])
    check_against_torch(lambda lib, t: grad(t[0]).dist(grad(t[1]), p), [NEAR, NEAR[1]])  # ties


def test_cdist_of_empty_and_one_row_inputs_match_torch() -> None:
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1]), [np.zeros((0, 4)), B[0]])
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1]), [np.zeros((2, 0)), np.zeros((3, 0))])
    check_against_torch(lambda lib, t: lib.pdist(t[0]), [X[:1]])
    check_against_torch(
        lambda lib, t: lib.cdist(t[0], t[1], compute_mode="donot_use_mm_for_euclid_dist"), [A, B]
    )


def test_cdist_agrees_with_torchs_matrix_product_shortcut() -> None:
    """Over 25 rows PyTorch computes p = 2 distances from x² + y² − 2xy (less exact);
    tinylm subtracts: the same to rounding."""
    big1, big2 = RNG.standard_normal((30, 5)), RNG.standard_normal((40, 5))
    check_against_torch(lambda lib, t: lib.cdist(t[0], t[1]), [big1, big2], rtol=1e-9, atol=1e-9)


# ---- products ------------------------------------------------------------------------------

M = RNG.standard_normal((3, 4))
V3, V4 = RNG.standard_normal(3), RNG.standard_normal(4)
XS = np.sort(RNG.uniform(0, 5, 6))  # coordinates of X's six columns
PRODUCT_CALLS: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    "vdot": (lambda lib, a, b: lib.vdot(a, b), [V4, V4[::-1].copy()]),
    "vdot strided": (lambda lib, a, b: a[::2].vdot(b[1::2]), [V4, V4]),
    "mv": (lambda lib, m, v: lib.mv(m, v), [M, V4]),
    "mv transposed": (lambda lib, m, v: m.mT.mv(v), [M, V3]),
    "addmv": (lambda lib, i, m, v: lib.addmv(i, m, v), [V3, M, V4]),
    "addmv beta alpha": (lambda lib, i, m, v: i.addmv(m, v, beta=0.5, alpha=-2), [V3, M, V4]),
    "addmv broadcast": (lambda lib, i, m, v: lib.addmv(i, m, v, alpha=3), [V3[:1], M, V4]),
    "addmv 0-d beta 0": (lambda lib, i, m, v: lib.addmv(i, m, v, beta=0), [np.array(NAN), M, V4]),
    "addr": (lambda lib, i, a, b: lib.addr(i, a, b), [M, V3, V4]),
    "addr beta alpha": (lambda lib, i, a, b: i.addr(a, b, beta=2, alpha=0.5), [M, V3, V4]),
    "addr broadcast": (lambda lib, i, a, b: lib.addr(i, a, b), [V4, V3, V4]),
    "addr strided": (lambda lib, i, a, b: lib.addr(strided(i), a, b[::2]), [X, XS, V4]),
    "chain_matmul": (lambda lib, a, b, c: lib.chain_matmul(a, b, c), [M, M.T.copy(), M]),
    "chain_matmul one": (lambda lib, a: lib.chain_matmul(a), [M]),
    "multi_dot": (lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]), [M, M.T.copy(), M]),
    "multi_dot vectors": (lambda lib, a, b, c: lib.linalg.multi_dot((a, b, c)), [V3, M, V4]),
    "multi_dot two vectors": (lambda lib, a, b: lib.linalg.multi_dot([a, b]), [V3, V3]),
    "multi_dot strided": (lambda lib, a, b: lib.linalg.multi_dot([strided(a), b]), [X, M[:2]]),
    "cross dim": (lambda lib, a, b: lib.cross(a, b, dim=0), [M, M[::-1].copy()]),
    "cross default dim": (lambda lib, a, b: a.cross(b), [M.T.copy(), M.T[::-1].copy()]),
    "linalg.cross": (lambda lib, a, b: lib.linalg.cross(a, b), [M.T.copy(), np.ones((1, 3))]),
    "linalg.cross dim 0 strided": (
        lambda lib, a, b: lib.linalg.cross(a.mT, b, dim=0),
        [M.T.copy(), M],
    ),
    "vecdot": (lambda lib, a, b: lib.linalg.vecdot(a, b), [M, V4]),
    "vecdot dim 0": (lambda lib, a, b: lib.linalg.vecdot(a, b, dim=0), [M, V3[:, None].copy()]),
    "vecdot strided": (
        lambda lib, a, b: lib.linalg.vecdot(strided(a), b, dim=-2),
        [X, XS[:, None].copy()],
    ),
}


@pytest.mark.parametrize("name", sorted(PRODUCT_CALLS))
def test_products_and_their_gradients_match_torch(name: str) -> None:
    call, arrays = PRODUCT_CALLS[name]
    check_against_torch(lambda lib, t: call(lib, *t), arrays)


RENORM_CALLS = {
    "p 2 dim 0": lambda lib, x: x.renorm(2, 0, 3.0),
    "p 1 dim 1": lambda lib, x: lib.renorm(x, 1, 1, 4.0),
    "p inf": lambda lib, x: lib.renorm(x, INF, 0, 2.0),
    "p 3 strided": lambda lib, x: lib.renorm(strided(x), 3, 1, 2.5),
    "p 0.5 3-d": lambda lib, x: x.reshape(2, 3, 4).renorm(0.5, 2, 20.0),
    "maxnorm 0": lambda lib, x: x.renorm(2, -1, 0.0),
    "none too long": lambda lib, x: x.renorm(2, 0, 100.0),
}


@pytest.mark.parametrize("name", sorted(RENORM_CALLS))
def test_renorm_matches_torch(name: str) -> None:
    """Rows over the limit scaled by maxnorm / (norm + 1e−7), the others kept, and the
    gradient of that product (PyTorch's renorm_backward)."""
    check_against_torch(lambda lib, t: RENORM_CALLS[name](lib, t[0]), [X])


TRAPEZOID_CALLS: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    "trapezoid": (lambda lib, y: lib.trapezoid(y), [X]),
    "trapezoid dx dim 0": (lambda lib, y: lib.trapezoid(y, dx=0.5, dim=0), [X]),
    "trapezoid strided": (lambda lib, y: lib.trapezoid(strided(y), dx=2), [X]),
    "trapezoid x 1-D": (lambda lib, y, x: lib.trapezoid(y, x), [X, XS]),
    "trapezoid x same shape": (lambda lib, y, x: lib.trapezoid(y, x, dim=0), [X, X[::-1].copy()]),
    "trapezoid one sample": (lambda lib, y: lib.trapezoid(y), [X[:, :1]]),
    "trapz": (lambda lib, y, x: lib.trapz(y, x), [X[:, :4], V4]),
    "cumulative_trapezoid": (lambda lib, y: lib.cumulative_trapezoid(y), [X]),
    "cumulative_trapezoid dx dim 0": (
        lambda lib, y: lib.cumulative_trapezoid(y, dx=0.25, dim=0),
        [X],
    ),
    "cumulative_trapezoid x": (lambda lib, y, x: lib.cumulative_trapezoid(y, x), [X[:, :4], V4]),
    "cumulative_trapezoid strided x": (
        lambda lib, y, x: lib.cumulative_trapezoid(strided(y), x, dim=0),
        [X, XS],
    ),
}


@pytest.mark.parametrize("name", sorted(TRAPEZOID_CALLS))
def test_trapezoid_and_cumulative_trapezoid_match_torch(name: str) -> None:
    call, arrays = TRAPEZOID_CALLS[name]
    check_against_torch(lambda lib, t: call(lib, *t), arrays)


# ---- dtypes of integer and bool inputs ---------------------------------------------------

DTYPE_CALLS = [
    "lib.kthvalue(i, 2).values",
    "lib.kthvalue(i, 2).indices",
    "lib.mode(i).values",
    "lib.mode(b).values",
    "lib.mode(u).indices",
    "lib.nanmedian(i)",
    "i.nanmedian(0).values",
    "lib.aminmax(b).max",
    "lib.aminmax(u, dim=0).min",
    "lib.cummax(i, 0).values",
    "lib.cummin(b, 0).values",
    "lib.cummax(u, 0).indices",
    "lib.msort(b)",
    "lib.msort(i)",
    "lib.vdot(i, i)",
    "lib.mv(i.reshape(2, 2), i[:2])",
    "lib.addmv(i[:2], i.reshape(2, 2), i[:2], beta=2)",
    "lib.addr(f.reshape(4, 1), i, i[:3])",
    "lib.addr(i.reshape(4, 1), i, i[:3], alpha=2)",
    "lib.linalg.cross(i[:3], i[1:])",
    "lib.trapezoid(i)",
    "lib.trapezoid(i, i)",
    "lib.cumulative_trapezoid(i)",
    "lib.cumulative_trapezoid(i, dx=2)",
    "lib.trapezoid(i, dx=2)",
    "lib.chain_matmul(i.reshape(2, 2), i.reshape(2, 2))",
    "lib.dist(f, d)",
    "lib.logspace(0, 2, 5)",
    "lib.logspace(0, 2, 5, dtype=lib.int64)",
    "lib.logspace(-1, 3, 7, base=2, dtype=lib.float64)",
    "lib.logspace(lib.tensor(0.5), 1.5, 4, 3.0, dtype=lib.float64)",
    "lib.logspace(2, 0, 1)",
    "lib.logspace(0, 1, 0)",
]


@pytest.mark.parametrize("call", DTYPE_CALLS)
def test_integer_and_bool_inputs_give_torchs_dtypes(call: str) -> None:
    def inputs(lib: ModuleType) -> dict[str, Any]:
        return {
            "i": lib.tensor([3, -1, 3, 7]),
            "u": lib.tensor([3, 250, 3, 1], dtype=lib.uint8),
            "b": lib.tensor([True, False, True, False]),
            "f": lib.tensor([1.5, -2.5, 0.0, 3.0]),
            "d": lib.tensor([0.5, 2.0, -1.0, 0.0], dtype=lib.float64),
        }

    same_dtype_and_values(call, inputs)


def test_logspace_matches_torch_in_float64_to_rounding() -> None:
    for args, kwargs in [
        ((-3, 3, 50), {}),
        ((0.5, -2.25, 13), {"base": 2.5}),
        ((1, 1, 4), {"base": 7}),
    ]:
        ours = values(tinylm.logspace(*args, dtype=tinylm.float64, **kwargs))
        theirs = values(torch.logspace(*args, dtype=torch.float64, **kwargs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    t = tinylm.logspace(0, 1, 3, requires_grad=True)
    assert t.requires_grad and t.grad is None


# ---- random creation ----------------------------------------------------------------------

N_DRAWS = 200_000


def test_normal_forms_give_torchs_shapes_and_dtypes() -> None:
    for lib in (tinylm, torch):
        mean32, std64 = lib.zeros(2, 1), lib.ones(3, dtype=lib.float64)
        assert tuple(lib.normal(mean32, std64).shape) == (2, 3)
        assert dtype_name(lib.normal(mean32, std64)) == "float32"  # mean's dtype
        assert dtype_name(lib.normal(0.0, std64)) == "float64"  # std's dtype
        assert dtype_name(lib.normal(mean32, 2.0)) == "float32"
        assert dtype_name(lib.normal(mean32, lib.ones(3, dtype=lib.int64))) == "float32"
        out = lib.normal(1.0, 2.0, (4, 5))
        assert tuple(out.shape) == (4, 5) and dtype_name(out) == "float32"
        out = lib.normal(1.0, 2.0, size=(3,), dtype=lib.float64, requires_grad=True)
        assert dtype_name(out) == "float64" and out.requires_grad


def test_normal_and_poisson_give_tensor_parameters_a_zero_gradient_as_torch() -> None:
    for lib in (tinylm, torch):
        mean = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        std = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
        rate = lib.tensor([[1.0, 4.0]], requires_grad=True)
        out = lib.normal(mean, std).sum() + lib.normal(mean, 1.0).sum() + lib.normal(0.0, std).sum()
        (out + lib.poisson(rate).sum()).backward()
        for t in (mean, std, rate):
            assert values(t.grad).tolist() == np.zeros(t.shape).tolist()
        with lib.no_grad():
            assert not lib.normal(mean, std).requires_grad


def _statistics(draws: np.ndarray) -> tuple[float, float]:
    return float(draws.mean()), float(draws.std())


def test_normal_draws_have_their_means_and_deviations() -> None:
    tinylm.manual_seed(11)
    v = values(tinylm.normal(2.0, 3.0, (N_DRAWS,), dtype=tinylm.float64))
    mean, sd = _statistics(v)
    assert abs(mean - 2.0) < 0.03 and abs(sd - 3.0) < 0.03  # sd of the mean ≈ 0.007
    assert abs(np.mean(np.abs(v - 2.0) < 3.0) - 0.6827) < 0.005  # one sigma
    means = tinylm.tensor([[-5.0], [5.0]], dtype=tinylm.float64)
    stds = tinylm.tensor([0.5, 4.0], dtype=tinylm.float64)
    v = values(tinylm.normal(means.expand(2, 2).repeat(1, N_DRAWS // 4), stds.repeat(N_DRAWS // 4)))
    for row, m in ((0, -5.0), (1, 5.0)):
        for col, s in ((0, 0.5), (1, 4.0)):
            got_mean, got_sd = _statistics(v[row, col::2])
            assert abs(got_mean - m) < 0.06 and abs(got_sd - s) < 0.06
    v = values(tinylm.normal(tinylm.zeros(N_DRAWS, dtype=tinylm.float64)))
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1.0) < 0.01


def test_poisson_draws_have_mean_and_variance_equal_to_the_rate() -> None:
    tinylm.manual_seed(5)
    rates = tinylm.tensor([0.0, 0.5, 3.0, 40.0], dtype=tinylm.float64).repeat(N_DRAWS // 4)
    v = values(tinylm.poisson(rates)).reshape(-1, 4)
    assert v.dtype == np.float64 and np.all(v == np.round(v)) and v.min() >= 0
    assert np.all(v[:, 0] == 0)
    np.testing.assert_allclose(v.mean(0)[1:], [0.5, 3.0, 40.0], rtol=0.02)
    np.testing.assert_allclose(v.var(0)[1:], [0.5, 3.0, 40.0], rtol=0.05)
    assert abs(np.mean(v[:, 1] == 0) - math.exp(-0.5)) < 0.01


@pytest.mark.parametrize(
    "dtype, call, low, high",
    [
        ("float32", lambda lib, x: lib.randint_like(x, 10), 0, 9),
        ("float64", lambda lib, x: lib.randint_like(x, -3, 5), -3, 4),
        ("int64", lambda lib, x: lib.randint_like(x, high=4), 0, 3),
        ("int8", lambda lib, x: lib.randint_like(x, -128, 128), -128, 127),
        ("uint8", lambda lib, x: lib.randint_like(x, 250, 256), 250, 255),
        ("bool_", lambda lib, x: lib.randint_like(x, 2), 0, 1),
    ],
)
def test_randint_like_draws_every_integer_of_its_range_evenly(dtype, call, low, high) -> None:
    tinylm.manual_seed(21)
    x = tinylm.zeros(N_DRAWS, dtype=getattr(tinylm, dtype))
    out = call(tinylm, x)
    assert out.dtype == x.dtype and out.shape == x.shape
    v = values(out).astype(np.float64)
    assert v.min() == low and v.max() == high
    counts = np.bincount((v - low).astype(np.int64), minlength=high - low + 1)
    expected = v.size / (high - low + 1)
    assert np.abs(counts - expected).max() < 6 * math.sqrt(expected)
    theirs = call(torch, torch.zeros(1000, dtype=getattr(torch, dtype.rstrip("_"))))
    assert dtype_name(theirs) == dtype_name(out)


def test_randint_like_takes_dtype_and_requires_grad_as_torch() -> None:
    for lib in (tinylm, torch):
        out = lib.randint_like(lib.tensor([1, 2]), 3, 5, dtype=lib.float64, requires_grad=True)
        assert dtype_name(out) == "float64" and out.requires_grad
        assert set(values(out).tolist()) <= {3.0, 4.0}


BERNOULLI_CALLS = {
    "p 0.3": lambda t: t.bernoulli_(0.3),
    "default p": lambda t: t.bernoulli_(),
    "p tensor": lambda t: t.bernoulli_(tinylm.tensor([0.0, 0.25, 1.0, 0.75]).repeat(N_DRAWS // 4)),
}


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool_"])
@pytest.mark.parametrize("name", sorted(BERNOULLI_CALLS))
def test_bernoulli_in_place_draws_have_their_probabilities(name: str, dtype: str) -> None:
    tinylm.manual_seed(3)
    t = tinylm.zeros(N_DRAWS, dtype=getattr(tinylm, dtype))
    assert BERNOULLI_CALLS[name](t) is t and t.dtype == np.dtype(dtype) and t._version == 1
    v = values(t).astype(np.float64)
    assert set(np.unique(v).tolist()) <= {0.0, 1.0}
    if name == "p tensor":
        np.testing.assert_allclose(v.reshape(-1, 4).mean(0), [0.0, 0.25, 1.0, 0.75], atol=0.01)
    else:
        assert abs(v.mean() - (0.3 if name == "p 0.3" else 0.5)) < 0.005


def test_bernoulli_with_a_row_of_probabilities_broadcasts_as_torch() -> None:
    for lib in (tinylm, torch):
        t = lib.zeros(500, 3).bernoulli_(lib.tensor([0.0, 1.0, 1.0]))
        assert values(t).sum(0).tolist() == [0.0, 500.0, 500.0]


RANDOM_CALLS = {
    "normal numbers": lambda g: tinylm.normal(0.0, 1.0, (50,), generator=g),
    "normal tensors": lambda g: tinylm.normal(tinylm.zeros(50), tinylm.ones(50), generator=g),
    "normal mean": lambda g: tinylm.normal(tinylm.zeros(50), generator=g),
    "normal std": lambda g: tinylm.normal(1.0, tinylm.ones(50), generator=g),
    "poisson": lambda g: tinylm.poisson(tinylm.full((50,), 3.0), generator=g),
    "randint_like": lambda g: tinylm.randint_like(tinylm.zeros(50), 0, 100, generator=g),
    "bernoulli_": lambda g: tinylm.zeros(50).bernoulli_(0.5, generator=g),
}


@pytest.mark.parametrize("name", sorted(RANDOM_CALLS))
def test_random_creation_is_repeatable_under_a_seed(name: str) -> None:
    draw = RANDOM_CALLS[name]
    tinylm.manual_seed(7)
    first = values(draw(None)).copy()
    tinylm.manual_seed(7)
    np.testing.assert_array_equal(values(draw(None)), first)
    assert not np.array_equal(values(draw(None)), first)
    a = values(draw(tinylm.Generator().manual_seed(3)))
    np.testing.assert_array_equal(values(draw(tinylm.Generator().manual_seed(3))), a)


# ---- bad calls -----------------------------------------------------------------------------

# (call, what torch raises or None where tinylm deliberately refuses what torch computes,
#  what tinylm's one line names)
BAD_CALLS = [
    ("lib.quantile(f, 1.3)", RuntimeError, r"range \[0, 1\]"),
    ("lib.quantile(f, lib.tensor([0.3], dtype=lib.float64))", RuntimeError, "dtype"),
    ("lib.quantile(f, lib.tensor([[0.3]]))", RuntimeError, "scalar or a 1-D"),
    ("lib.quantile(lib.tensor([1, 2]), 0.3)", RuntimeError, "floating-point"),
    ("lib.quantile(f, 0.3, interpolation='foo')", RuntimeError, "linear, lower, higher"),
    ("lib.quantile(lib.zeros(2, 0), 0.3, dim=0)", RuntimeError, "non-empty"),
    ("lib.nanquantile(lib.tensor([]), 0.5)", RuntimeError, "non-empty"),
    ("lib.quantile(f, 0.3, dim=2)", IndexError, "out of range"),
    ("lib.kthvalue(f, 4)", RuntimeError, "out of range"),
    ("lib.kthvalue(f, 0)", RuntimeError, "out of range"),
    ("lib.kthvalue(f, 1.5)", TypeError, "k must be an int"),
    ("lib.mode(lib.zeros(2, 0), 1)", IndexError, "empty"),
    ("lib.nanmedian(lib.zeros(2, 0), 1)", IndexError, "empty"),
    ("lib.nanmedian(lib.tensor([True]))", Exception, "bool"),
    ("lib.aminmax(lib.zeros(0))", RuntimeError, "empty"),
    ("lib.aminmax(lib.zeros(2, 0), dim=1)", IndexError, "empty"),
    ("lib.aminmax(m, dim=(0, 1))", TypeError, "dim must be an int"),
    ("lib.cummax(f, 1)", IndexError, "out of range"),
    ("lib.logcumsumexp(lib.tensor([1, 2]), 0)", Exception, "floating-point"),
    ("lib.unique_consecutive(m, dim=3)", IndexError, "out of range"),
    ("lib.bincount(lib.tensor([-1, 2]))", RuntimeError, "non-negative integral"),
    ("lib.bincount(lib.tensor([[1]]))", RuntimeError, "1-d non-negative"),
    ("lib.bincount(f)", Exception, "1-d non-negative integral"),
    ("lib.bincount(lib.tensor([True]))", Exception, "1-d non-negative integral"),
    ("lib.bincount(lib.tensor([1, 2]), minlength=-1)", RuntimeError, ">= 0"),
    ("lib.bincount(lib.tensor([1, 2]), lib.tensor([1.0]))", RuntimeError, "same length"),
    ("lib.bincount(lib.tensor([1, 2]), lib.ones(2, requires_grad=True))", None, "no gradient"),
    ("lib.histc(lib.tensor([1, 2]), 3)", Exception, "floating-point"),
    ("lib.histc(f, 0)", RuntimeError, "bins must be > 0"),
    ("lib.histc(f, 3, min=2, max=1)", RuntimeError, "max must be larger than min"),
    ("lib.histc(lib.tensor([1.0, NAN]), 3)", RuntimeError, "not finite"),
    ("lib.histc(lib.tensor([1.0, INF]), 3)", RuntimeError, "not finite"),
    ("lib.histogram(f, lib.tensor([0.0, 1.0]), range=(0.0, 1.0))", TypeError, "range"),
    ("lib.histogram(f.double(), lib.tensor([0.0, 1.0]))", RuntimeError, "input's dtype"),
    ("lib.cdist(a, a, p=-1)", RuntimeError, "non-negative p"),
    (
        "lib.cdist(lib.ones(2, 3, dtype=lib.int64), lib.ones(2, 3, dtype=lib.int64))",
        RuntimeError,
        "floating-point",
    ),  # fmt: skip
    ("lib.cdist(a, a.double())", RuntimeError, "one dtype"),
    ("lib.cdist(a, a[:, :2])", RuntimeError, "same number of columns"),
    ("lib.cdist(f, a)", RuntimeError, "at least 2 dims"),
    ("lib.cdist(a, a, compute_mode='foo')", ValueError, "compute_mode"),
    ("lib.cdist(lib.ones(2, 2, 3), lib.ones(3, 2, 3))", RuntimeError, "broadcast"),
    ("lib.pdist(lib.ones(2, 4, 3))", RuntimeError, "2-D"),
    ("lib.pdist(a, p=-1)", RuntimeError, "non-negative p"),
    ("lib.dist(lib.tensor([1, 2]), lib.tensor([3, 5]))", RuntimeError, "floating-point"),
    ("lib.dist(f, lib.ones(2))", RuntimeError, "broadcast"),
    ("lib.vdot(f, f.double())", RuntimeError, "dtype"),
    ("lib.vdot(m, m)", RuntimeError, "1-D"),
    ("lib.vdot(f, f[:2])", RuntimeError, "size"),
    ("lib.mv(m, lib.ones(2))", RuntimeError, r"\(m,\)"),
    ("lib.mv(m, lib.ones(3, 1))", RuntimeError, "vector"),
    ("lib.addmv(lib.ones(3), m, lib.ones(3))", RuntimeError, "size mismatch"),
    ("lib.addmv(lib.ones(2), m, lib.ones(3), beta=f)", TypeError, "beta must be a number"),
    ("lib.addr(m, lib.ones(1, 2), lib.ones(3))", RuntimeError, "1-D argument vec1"),
    ("lib.addr(m, lib.ones(2), lib.ones(4))", RuntimeError, "broadcast"),
    ("lib.addr(b, b, b)", None, "bool"),
    ("lib.chain_matmul()", RuntimeError, "one or more matrices"),
    ("lib.chain_matmul(f)", RuntimeError, "2-D"),
    ("lib.chain_matmul(m, m)", RuntimeError, "cannot be multiplied"),
    ("lib.linalg.multi_dot([m])", RuntimeError, "at least 2"),
    ("lib.linalg.multi_dot([m, lib.ones(3, 4, 1)])", RuntimeError, "last tensor must be 1-D"),
    ("lib.linalg.multi_dot([m, lib.ones(2, 4)])", RuntimeError, "cannot be multiplied"),
    ("lib.linalg.multi_dot([m, lib.ones(3, 4, dtype=lib.float64)])", RuntimeError, "dtype"),
    ("lib.renorm(m, 2, 0, -1)", RuntimeError, "maxnorm to be >= 0"),
    ("lib.renorm(m, 0, 0, 1)", RuntimeError, "non-positive"),
    ("lib.renorm(f, 2, 0, 1)", RuntimeError, "at least 2 dims"),
    ("lib.renorm(lib.ones(2, 2, dtype=lib.int64), 2, 0, 1)", RuntimeError, "floating-point"),
    ("lib.renorm(m, 2, 2, 1)", IndexError, "out of range"),
    ("lib.trapezoid(f, lib.tensor([0.0, 1.0]))", RuntimeError, "one x value for each sample"),
    ("lib.trapezoid(lib.tensor(1.0))", IndexError, "at least 1 dim"),
    ("lib.trapezoid(f, f, dx=2)", TypeError, "not both"),
    ("lib.cumulative_trapezoid(f, dim=1)", IndexError, "out of range"),
    ("lib.linalg.cross(m.mT, m.mT)", RuntimeError, "length 3"),
    ("lib.linalg.cross(c, c[0])", RuntimeError, "same number of dims"),
    ("lib.linalg.cross(c, c.double())", RuntimeError, "dtype"),
    ("lib.cross(lib.ones(2, 2), lib.ones(2, 2))", RuntimeError, "size 3"),
    ("lib.linalg.vecdot(lib.tensor([1, 2]), lib.tensor([1, 2]))", RuntimeError, "floating-point"),
    ("lib.linalg.vecdot(f, f.double())", RuntimeError, "one dtype"),
    ("lib.linalg.vecdot(m, lib.ones(4))", RuntimeError, "broadcast"),
    ("lib.normal(0.0, -1.0, size=(2, 3))", RuntimeError, "std >= 0.0"),
    ("lib.normal(f, -1.0)", RuntimeError, "std >= 0.0"),
    ("lib.normal(f, lib.tensor([1.0, -1.0, 1.0]))", RuntimeError, "all elements of std"),
    ("lib.normal(f, lib.ones(2))", RuntimeError, "broadcast"),
    ("lib.normal(lib.tensor([1, 2]), 1.0)", Exception, "floating-point"),
    ("lib.normal(1.0, 2.0)", TypeError, "give a size"),
    ("lib.normal(f, 1.0, (3,))", TypeError, "number mean and std only"),
    ("lib.normal(0.0, 1.0, (2,), out=f)", None, "out= is not supported"),
    ("lib.poisson(lib.tensor([1, 2]))", Exception, "floating-point"),
    ("lib.poisson(lib.tensor([-1.0, 2.0]))", RuntimeError, "non-negative"),
    ("lib.randint_like(f, 5, 3)", RuntimeError, "from < to"),
    ("lib.randint_like(lib.tensor([1], dtype=lib.uint8), 300)", RuntimeError, "out of the range"),
    ("lib.logspace(0, 2, -1)", RuntimeError, "non-negative"),
    ("lib.zeros(3).bernoulli_(1.5)", RuntimeError, r"p to be in \[0, 1\]"),
    ("lib.zeros(3).bernoulli_(lib.tensor([0, 1, 1]))", Exception, "floating-point"),
    ("lib.zeros(3).bernoulli_(lib.tensor([0.0, 1.0]))", RuntimeError, "broadcast"),
    ("lib.zeros(3, requires_grad=True).bernoulli_()", RuntimeError, "bernoulli_: in-place"),
]


@pytest.mark.parametrize("call, theirs, names", BAD_CALLS, ids=[c for c, _, _ in BAD_CALLS])
def test_bad_calls_are_one_clear_line(call: str, theirs: Any, names: str) -> None:
    """What torch refuses tinylm refuses too; bincount with weights that need a gradient
    (PyTorch fails later, in backward), addr of bools and out= are tinylm's own refusals."""

    def env(lib: ModuleType) -> dict[str, Any]:
        return {
            "lib": lib,
            "INF": INF,
            "NAN": NAN,
            "f": lib.tensor([1.5, -2.5, 0.5]),
            "m": lib.ones(2, 3),
            "a": lib.ones(2, 3),
            "b": lib.tensor([True, False]),
            "c": lib.ones(2, 3),
        }

    expected = (
        TypeError if theirs is TypeError else (RuntimeError if "in-place" in names else TinyLMError)
    )
    refused_by_both(lambda lib: eval(call, env(lib)), expected, names, theirs)
