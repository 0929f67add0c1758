"""``tinylm.special`` (torch.special), the special functions as Tensor methods and top-level
functions (``tinylm/tensor_special.py``, ``tinylm/ops/special_functions.py``), the bit
shifts, and torch's top-level forms of F's functions (``tinylm/functional_aliases.py``),
run in both libraries on the same float64 values: outputs (values, shapes, dtypes) and the
gradients of every float input for a random upstream gradient, over wide ranges (series and
asymptotic regions, near poles, far tails), through strided views. Bad calls are one line.
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
    int_and_bool_inputs,
    refused_by_both,
    same_dtype_and_values,
    strided,
    values,
)

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(7)
WIDE = np.concatenate([np.linspace(-40.3, 60.1, 1501), np.geomspace(1e-6, 1e4, 300)])
POSITIVE = np.concatenate([np.geomspace(1e-8, 1e5, 600), np.linspace(0.5, 3, 101)])
EDGES = np.array([0.0, -0.0, -1.0, -2.0, 1.0, 2.0, math.inf, -math.inf, math.nan])


def lib_special(lib: ModuleType) -> Any:
    return lib.special


def on_wide_range(name: str, xs: np.ndarray, rtol: float = 1e-12, atol: float = 1e-13) -> None:
    """special.<name> on the values ``xs``: values and gradients as torch's."""
    check_against_torch(
        lambda lib, t: getattr(lib.special, name)(t[0]),
        [xs],
        rtol=rtol,
        atol=atol,
        finite_upstream=True,
    )


@pytest.mark.parametrize(
    ("name", "xs"),
    [
        ("gammaln", WIDE),
        ("digamma", WIDE),
        ("psi", POSITIVE),
        ("i0", WIDE),
        ("i0e", WIDE),
        ("i1", WIDE),
        ("i1e", WIDE),
        ("log_ndtr", np.linspace(-60, 12, 1201)),
        ("ndtr", np.linspace(-30, 10, 801)),
        (
            "ndtri",
            np.concatenate([np.linspace(1e-3, 1 - 1e-3, 999), np.geomspace(1e-300, 1e-3, 200)]),
        ),
        ("entr", np.concatenate([POSITIVE, [0.0]])),
        ("sinc", np.concatenate([WIDE, [0.0]])),
        ("erf", WIDE),
        ("erfc", np.linspace(-5, 25, 301)),
        ("erfinv", np.linspace(-0.999, 0.999, 301)),
        ("expit", WIDE),
        ("expm1", np.linspace(-20, 20, 201)),
        ("log1p", POSITIVE),
        ("exp2", np.linspace(-20, 20, 201)),
    ],
)
def test_unary_special_functions_match_torch_over_wide_ranges(name, xs):
    """lgamma's gradient is digamma's value, digamma's is trigamma: both checked here."""
    # digamma's gradient is PyTorch's trigamma, good to ~5e-10 only (see test_polygamma…)
    on_wide_range(name, xs, rtol=1e-9 if name in ("digamma", "psi") else 1e-12)


@pytest.mark.parametrize(
    "name", ["gammaln", "digamma", "i0", "i0e", "i1", "i1e", "log_ndtr", "ndtr", "sinc", "entr"]
)
def test_values_at_the_edges_match_torch(name):
    """Poles (0, −1, −2), ±0, ±inf and nan: the same values (inf/nan in the same places)."""
    same_dtype_and_values(
        f"lib.special.{name}(x)",
        lambda lib: {"x": lib.tensor(EDGES)},
        rtol=1e-12,
    )


def test_ndtri_edges_and_symmetry():
    same_dtype_and_values(
        "lib.special.ndtri(p)",
        lambda lib: {"p": lib.tensor([0.0, 0.5, 1.0, -0.1, 1.1, math.nan, 1 - 1e-16, 5e-324])},
        rtol=1e-12,
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_polygamma_matches_torch(n):
    """n = 1 is checked against the exact ψ′(½) = π²/2 and ψ′(1) = π²/6 too: PyTorch's own
    trigamma is good to ~1e−10 only, so the comparison with it is looser there."""
    xs = np.concatenate([np.linspace(0.05, 50, 500), np.linspace(-9.937, -0.063, 96)])
    rtol = 5e-10 if n == 1 else 1e-11
    check_against_torch(lambda lib, t: lib.special.polygamma(n, t[0]), [xs], rtol=rtol, atol=1e-12)
    check_against_torch(lambda lib, t: t[0].polygamma(n), [xs], rtol=rtol, atol=1e-12)
    if n == 1:
        exact = tinylm.polygamma(1, tinylm.tensor([0.5, 1.0, -0.5], dtype=tinylm.float64))
        np.testing.assert_allclose(
            exact.numpy(), [math.pi**2 / 2, math.pi**2 / 6, math.pi**2 / 2 + 4], rtol=1e-14
        )


def test_polygamma_zero_is_digamma_and_edges():
    check_against_torch(lambda lib, t: lib.polygamma(0, t[0]), [POSITIVE], rtol=1e-9, atol=1e-12)
    # trigamma's poles: +inf, the limit (PyTorch's gives 1/sin²(π·x) of a rounded π·x, ~1e32)
    assert tinylm.polygamma(1, tinylm.tensor([0.0, -1.0, -3.0])).isinf().all()
    for n in (2, 3):
        same_dtype_and_values(
            f"lib.polygamma({n}, x)", lambda lib: {"x": lib.tensor(EDGES[2:])}, rtol=1e-12
        )


def test_lgamma_digamma_near_their_roots():
    """lgamma is 0 at 1 and 2, digamma at 1.4616…: relative accuracy there too."""
    xs = np.concatenate([1 + np.geomspace(1e-12, 1e-2, 40), 2 - np.geomspace(1e-12, 1e-2, 40)])
    # lgamma's digits near its roots: to 1e-15 absolute, as PyTorch's (glibc's) own
    check_against_torch(lambda lib, t: t[0].lgamma(), [xs], rtol=1e-12, atol=1e-15)
    root = 1.4616321449683622
    x = [root + 1e-6, root - 1e-9]
    ours = tinylm.special.digamma(tinylm.tensor(x, dtype=tinylm.float64)).numpy()
    theirs = torch.special.digamma(torch.tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_bessel_overflow_and_series_seam():
    """I₀ and I₁ overflow to inf beyond |x| ≈ 710 as torch's, and agree across |x| = 30,
    where the power series hands over to the asymptotic expansion."""
    xs = np.array([29.999, 30.0, 30.001, -30.0, 700.0, 709.0, 713.0, -713.0])
    for name in ("i0", "i0e", "i1", "i1e"):
        same_dtype_and_values(f"lib.special.{name}(x)", lambda lib: {"x": lib.tensor(xs)}, 1e-12)


@pytest.mark.parametrize("eps", [None, 1e-6, 0.2])
def test_logit_with_and_without_eps(eps):
    xs = np.concatenate([np.linspace(0.001, 0.999, 99), [0.05, 0.9, 0.0, 1.0]])
    if eps is None:
        xs = xs[:-2]
    check_against_torch(lambda lib, t: lib.special.logit(t[0], eps=eps), [xs])
    check_against_torch(lambda lib, t: t[0].logit(eps), [xs])
    check_against_torch(lambda lib, t: lib.logit(t[0], eps), [xs])


def test_xlogy_and_xlog1py_with_zeros_and_broadcasting():
    a = RNG.uniform(-2, 2, (4, 6))
    a[0, :3] = 0
    b = RNG.uniform(-0.9, 3, (1, 6))
    b[0, 1] = math.nan
    for name in ("xlogy", "xlog1py"):
        check_against_torch(lambda lib, t, f=name: getattr(lib.special, f)(t[0], t[1]), [a, b + 1])
        check_against_torch(lambda lib, t, f=name: getattr(lib.special, f)(2.5, t[1]), [a, b + 1])


def test_multigammaln_and_mvlgamma():
    xs = RNG.uniform(2.0, 30.0, (3, 4))
    for p in (1, 2, 4):
        check_against_torch(lambda lib, t, p=p: lib.special.multigammaln(t[0], p), [xs])
        check_against_torch(lambda lib, t, p=p: t[0].mvlgamma(p=p), [xs])
        check_against_torch(lambda lib, t, p=p: lib.mvlgamma(t[0], p=p), [xs])
    refused_by_both(  # PyTorch 2.13 computes nan there without a word
        lambda lib: lib.special.multigammaln(lib.tensor([1.0, 0.2]), 2),
        TinyLMError,
        r"mvlgamma: all elements of input must be greater than \(p-1\)/2",
        torch_errors=None,
    )


def test_softmax_family_round_and_logsumexp():
    x = RNG.normal(size=(4, 6)) * 5
    check_against_torch(lambda lib, t: lib.special.softmax(t[0], 1), [x])
    check_against_torch(lambda lib, t: lib.special.log_softmax(strided(t[0]), 0), [x])
    check_against_torch(lambda lib, t: lib.special.logsumexp(t[0], (0, 1), keepdim=True), [x])
    check_against_torch(lambda lib, t: lib.special.logsumexp(t[0], 1), [x])
    same_dtype_and_values(
        "lib.special.softmax(x, 0, dtype=lib.float64)",
        lambda lib: {"x": lib.tensor([[1.0, 2.0], [0.5, -1.0]])},
    )
    same_dtype_and_values(
        "lib.special.round(x, decimals=2)",
        lambda lib: {"x": lib.tensor([1.2345, -2.5551, 0.125, 2.5])},
        rtol=None,
    )


@pytest.mark.parametrize(
    "name", ["lgamma", "digamma", "i0", "sinc", "logit", "erf", "ndtri", "log_ndtr", "entr"]
)
def test_strided_inputs_and_methods(name):
    x = RNG.uniform(0.05, 0.95, (4, 6))
    rtol = 1e-9 if name == "digamma" else 1e-12  # PyTorch's trigamma: ~5e-10
    special_name = "gammaln" if name == "lgamma" else name
    check_against_torch(
        lambda lib, t: getattr(lib.special, special_name)(strided(t[0])), [x], rtol=rtol
    )
    if name in ("lgamma", "digamma", "i0", "sinc", "logit"):
        check_against_torch(lambda lib, t: getattr(strided(t[0]), name)(), [x], rtol=rtol)
        check_against_torch(lambda lib, t: getattr(lib, name)(strided(t[0])), [x], rtol=rtol)


@pytest.mark.parametrize("call", ["lgamma(i)", "digamma(u)", "i0(b)", "sinc(i8)", "logit(f)"])
def test_integer_and_bool_inputs_give_torchs_dtypes(call):
    same_dtype_and_values(f"lib.{call}", int_and_bool_inputs, rtol=1e-6)
    same_dtype_and_values(f"lib.special.{call.replace('lgamma', 'gammaln')}", int_and_bool_inputs)


@pytest.mark.parametrize("name", ["lgamma_", "digamma_", "i0_", "sinc_", "logit_"])
def test_in_place_forms(name):
    same_dtype_and_values(f"x.{name}()", lambda lib: {"x": lib.tensor([0.3, 0.7, 0.55])}, rtol=1e-6)


def test_polygamma_in_place_and_refusals():
    same_dtype_and_values("x.polygamma_(2)", lambda lib: {"x": lib.tensor([0.3, 4.0])}, 1e-12)
    refused_by_both(
        "lib.polygamma(-1, lib.tensor([1.0]))", TinyLMError, r"polygamma: n must be ≥ 0"
    )
    with pytest.raises(TinyLMError, match=r"polygamma: x < -10000 is not supported"):
        tinylm.polygamma(2, tinylm.tensor([-2e4]))


# ---- nextafter, shifts, dtypes, adjoint, sum_to_size ------------------------------------


def test_nextafter():
    same_dtype_and_values(
        "lib.nextafter(a, b)",
        lambda lib: {
            "a": lib.tensor([1.0, 0.0, -2.0, 3.0], dtype=lib.float64),
            "b": lib.tensor([2.0, -1.0, -2.0, 0.0], dtype=lib.float64),
        },
        rtol=None,
    )
    same_dtype_and_values(
        "a.nextafter(b)",
        lambda lib: {"a": lib.tensor([1.0, 0.0]), "b": lib.tensor([2.0, -1.0])},
        rtol=None,
    )
    refused_by_both(
        "lib.nextafter(lib.tensor([1, 2]), lib.tensor([3, 4]))",
        TinyLMError,
        "nextafter: needs float",
    )


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "int16"])
def test_bit_shifts(dtype):
    def names(lib: ModuleType) -> dict[str, Any]:
        d = getattr(lib, dtype)
        return {
            "a": lib.tensor([1, 5, 100, 3, 7, 2, 9], dtype=d),
            "n": lib.tensor([0, 1, 3, 2, 1, 0, 2], dtype=d),
        }

    for call in ("a << n", "a >> n", "lib.bitwise_left_shift(a, n)", "a.bitwise_right_shift(n)",
                 "a << 2", "a >> 1", "3 << n", "100 >> n"):  # fmt: skip
        same_dtype_and_values(call, names, rtol=None)


def test_shifts_of_negatives_and_in_place():
    def names(lib: ModuleType) -> dict[str, Any]:
        return {"a": lib.tensor([-8, -1, 7, -100]), "n": lib.tensor([1, 3, 2, 65])}

    for call in ("a >> n", "a << n", "a.clone().bitwise_left_shift_(n)"):
        same_dtype_and_values(call, names, rtol=None)

    def shifted(lib: ModuleType) -> Any:
        a = lib.tensor([1, 2, 3])
        a <<= 2
        a >>= lib.tensor([1, 0, 2])
        return a

    np.testing.assert_array_equal(values(shifted(tinylm)), values(shifted(torch)))
    refused_by_both("lib.tensor([1.0]) << 1", TinyLMError, "bitwise_left_shift: needs integer")


def test_dtype_conversions_and_is_signed():
    for method in ("byte", "char", "short"):
        same_dtype_and_values(
            f"x.{method}()", lambda lib: {"x": lib.tensor([1.7, -2.2, 100.0])}, rtol=None
        )
    for dtype in ("uint8", "int8", "int16", "float32", "bool"):
        x = tinylm.zeros(2, dtype=getattr(tinylm, dtype))
        assert x.is_signed() == torch.zeros(2, dtype=getattr(torch, dtype)).is_signed()


def test_adjoint_h_and_mh():
    x = RNG.normal(size=(4, 6))
    check_against_torch(lambda lib, t: t[0].H * 2, [x])
    check_against_torch(lambda lib, t: t[0].reshape(2, 2, 6).mH, [x])
    check_against_torch(lambda lib, t: lib.adjoint(strided(t[0])), [x])
    check_against_torch(lambda lib, t: t[0].reshape(2, 3, 4).adjoint(), [x])
    refused_by_both("lib.zeros(2, 3, 4).H", TinyLMError, "H: needs a matrix")


@pytest.mark.parametrize("size", [(1, 6), (4, 1), (6,), (1,), (1, 1), (4, 6)])
def test_sum_to_size(size):
    x = RNG.normal(size=(4, 6))
    check_against_torch(lambda lib, t: t[0].sum_to_size(size), [x])
    check_against_torch(lambda lib, t: t[0].sum_to_size(*size), [x])


def test_sum_to_size_refuses_a_size_it_does_not_expand_from():
    refused_by_both("lib.zeros(4, 6).sum_to_size(3, 6)", TinyLMError, "sum_to_size: size")
    refused_by_both("lib.zeros(6).sum_to_size(1, 1, 6)", TinyLMError, "sum_to_size: size")


# ---- torch's top-level forms of F's functions ----------------------------------------------


def test_top_level_functional_names_are_those_torch_has():
    import torch.nn.functional as TF

    ours = set(tinylm.functional_aliases.__all__)
    assert all(hasattr(torch, n) and hasattr(TF, n) for n in ours)


X = RNG.normal(size=(2, 3, 8))


@pytest.mark.parametrize(
    "build",
    [
        lambda lib, t: lib.layer_norm(t[0], (8,), t[1], t[2], 1e-5),
        lambda lib, t: lib.layer_norm(t[0], [8]),
        lambda lib, t: lib.rms_norm(t[0], [8], t[1]),
        lambda lib, t: lib.group_norm(t[0].reshape(2, 6, 4), 3, t[3], t[3] * 0.5),
        lambda lib, t: lib.batch_norm(t[0], t[4], t[4] + 1, None, None, True, 0.1, 1e-5, False),
        lambda lib, t: lib.conv1d(t[0], t[5], None, 1, 1),
        lambda lib, t: lib.conv_transpose1d(t[0], t[5].transpose(0, 1), None, 2),
        lambda lib, t: lib.max_pool1d(t[0], 2),
        lambda lib, t: lib.max_pool1d_with_indices(t[0], 3, 2)[0],
        lambda lib, t: lib.avg_pool1d(t[0], 3, 2, 1),
        lambda lib, t: lib.adaptive_avg_pool1d(t[0], 3),
        lambda lib, t: lib.adaptive_max_pool1d(t[0], 3)[0],
        lambda lib, t: lib.cosine_similarity(t[0], t[0].flip(0)),
        lambda lib, t: lib.pairwise_distance(t[0], t[0].flip(1), 1.5),
        lambda lib, t: lib.prelu(t[0], t[4][:1]),
        lambda lib, t: lib.selu(t[0]) + lib.celu(t[0], 0.5) + lib.hardshrink(t[0], 0.3),
        lambda lib, t: lib.threshold(t[0], 0.1, -2.0),
        lambda lib, t: lib.rrelu(t[0]),
        lambda lib, t: lib.dropout(t[0], 0.3, False) + lib.alpha_dropout(t[0], 0.5, False),
        lambda lib, t: lib.bilinear(t[0], t[0], t[6]),
        lambda lib, t: lib.kl_div(t[0].log_softmax(-1), t[0].softmax(-1), 2),
        lambda lib, t: lib.kl_div(
            t[0].log_softmax(-1), t[0].log_softmax(-1).flip(0), 0, log_target=True
        ),
        lambda lib, t: lib.binary_cross_entropy_with_logits(
            t[0], t[0].sigmoid().detach(), None, t[1].abs().detach()
        ),
        lambda lib, t: lib.margin_ranking_loss(t[0], t[0].flip(0), t[0].sign().detach(), 0.1, 0),
        lambda lib, t: lib.cosine_embedding_loss(
            t[0][0], t[0][1], lib.tensor([1.0, -1.0, 1.0], dtype=t[0].dtype), 0.1, 2
        ),
        lambda lib, t: lib.poisson_nll_loss(t[0], t[0].exp().detach(), True, True, 1e-8, 1),
    ],
)
def test_top_level_functional_forms_match_torch(build):
    arrays = [
        X,
        RNG.normal(size=(8,)),
        RNG.normal(size=(8,)),
        RNG.normal(size=(6,)),
        RNG.normal(size=(3,)),
        RNG.normal(size=(4, 3, 3)),
        RNG.normal(size=(5, 8, 8)),
    ]
    check_against_torch(build, arrays, rtol=1e-10, atol=1e-12)


def test_embedding_takes_the_table_first():
    w = RNG.normal(size=(5, 3))
    check_against_torch(lambda lib, t: lib.embedding(t[0], lib.tensor([[0, 4, 2], [1, 1, 3]])), [w])
    check_against_torch(lambda lib, t: lib.embedding(t[0], lib.tensor([0, 4, 2, 2]), 2), [w])


def test_top_level_losses_take_reduction_as_an_int():
    refused_by_both(
        "lib.kl_div(lib.zeros(3), lib.zeros(3), 'mean')",
        TinyLMError,
        r"kl_div: reduction must be an int at the top level",
    )
