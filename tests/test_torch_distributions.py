"""``tinylm.distributions`` against ``torch.distributions``: the same calls on the same
float64 parameters give the same log_prob, entropy, mean, mode, variance, cdf/icdf and KL
values (shapes and dtypes included) and the same gradients in every float input for a random
upstream gradient, through batch shapes, broadcasting, transposed and strided parameters and
edge values (zero probabilities, −inf logits, values outside the support). Draws differ
from PyTorch's numbers, so samplers are checked by their shapes and dtypes (as torch's) and
their statistics under fixed seeds; ``rsample``'s gradients by their formulas. Bad
parameters and values are refused in one line where torch's ``validate_args`` refuses them.
Skipped without torch (a test-only dependency).
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
from tinylm.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    Normal,
    OneHotCategorical,
    Uniform,
    constraints,
    kl_divergence,
    register_kl,
)

torch = pytest.importorskip("torch")
import torch_parity  # noqa: E402 - after the skip
from torch_parity import dtype_name, refused_by_both, strided, values  # noqa: E402

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-10, 1e-12


def check_against_torch(build: Callable, arrays: list[np.ndarray], seed: int = 0) -> None:
    """torch_parity's check, to this file's tolerances; an output's ±inf gets no upstream."""
    torch_parity.check_against_torch(build, arrays, seed, RTOL, ATOL, finite_upstream=True)


def D(lib: ModuleType) -> Any:
    return lib.distributions


RNG = np.random.default_rng(7)
LOC = RNG.standard_normal((3, 4))
SCALE = RNG.uniform(0.3, 2.0, (3, 4))
X = RNG.standard_normal((3, 4)) * 2
LOC2 = RNG.standard_normal((3, 4))
SCALE2 = RNG.uniform(0.3, 2.0, (3, 4))
WIDE = RNG.uniform(0.3, 2.0, (4, 6))  # positive, for the strided views
WIDE_X = RNG.standard_normal((4, 6))
Q = RNG.uniform(0.05, 0.95, (3, 4))  # probabilities in (0, 1)
WEIGHTS = RNG.uniform(0.1, 3.0, (2, 3, 5))  # unnormalised categorical weights
LOGITS = RNG.standard_normal((2, 3, 5)) * 2
LOGITS2 = RNG.standard_normal((2, 3, 5)) * 2
CLASSES = RNG.integers(0, 5, (4, 1, 3))  # broadcasts with batch (2, 3)
# a zero probability in each row of p and in q's first row (KL +inf there), ties for the mode
ZERO_PROBS = np.array([[0.0, 0.3, 0.7], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
ZERO_PROBS_Q = np.array([[0.2, 0.0, 0.8], [0.4, 0.4, 0.2], [0.1, 0.6, 0.3]])
NEG_INF_LOGITS = np.array([[-math.inf, 0.5, 1.0], [0.0, -1.0, 2.0]])
BITS = RNG.integers(0, 2, (3, 4)).astype(np.float64)
EDGE_Q = np.array([0.0, 1.0, 0.5, 0.25, 0.5, 1.0])  # Bernoulli at 0, 1 and ½ (mode NaN)
EDGE_BITS = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.0])
EDGE_Q2 = np.array([0.3, 0.7, 0.0, 1.0, 0.5, 1.0])
LOW = RNG.uniform(-2, 0, (3, 4))
HIGH = LOW + RNG.uniform(0.5, 3, (3, 4))
INSIDE = LOW + (HIGH - LOW) * RNG.uniform(0, 1, (3, 4))
CDF_Q = RNG.uniform(0.02, 0.98, (3, 4))


def one_hot_rows(indices: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[indices]


CASES = {
    # ---- Normal ----
    "Normal log_prob": (
        lambda lib, loc, scale, x: D(lib).Normal(loc, scale).log_prob(x),
        [LOC, SCALE, X],
    ),
    "Normal log_prob broadcast": (
        lambda lib, loc, scale, x: D(lib).Normal(loc[0], scale[:, :1]).log_prob(x.reshape(3, 1, 4)),
        [LOC, SCALE, X],
    ),
    "Normal strided": (
        lambda lib, loc, scale, x: (
            D(lib).Normal(strided(loc), strided(scale)).log_prob(strided(x)),
            D(lib).Normal(strided(loc), strided(scale)).entropy(),
        ),
        [WIDE_X, WIDE, WIDE_X * 2],
    ),
    "Normal number loc": (
        lambda lib, scale, x: D(lib).Normal(0.5, scale).log_prob(x),
        [SCALE, X],
    ),
    "Normal moments": (
        lambda lib, loc, scale: (
            D(lib).Normal(loc, scale).entropy(),
            D(lib).Normal(loc, scale).mean,
            D(lib).Normal(loc, scale).mode,
            D(lib).Normal(loc, scale).variance,
            D(lib).Normal(loc, scale).stddev,
            D(lib).Normal(loc, scale).perplexity(),
        ),
        [LOC, SCALE],
    ),
    "Normal cdf icdf": (
        lambda lib, loc, scale, x, q: (
            D(lib).Normal(loc, scale).cdf(x),
            D(lib).Normal(loc, scale).icdf(q),
        ),
        [LOC, SCALE, X, CDF_Q],
    ),
    "Normal expand": (
        lambda lib, loc, scale, x: D(lib).Normal(loc[0], scale[0]).expand((3, 4)).log_prob(x),
        [LOC, SCALE, X],
    ),
    "KL Normal Normal": (
        lambda lib, a, b, c, d: D(lib).kl_divergence(D(lib).Normal(a, b), D(lib).Normal(c[:1], d)),
        [LOC, SCALE, LOC2, SCALE2],
    ),
    # ---- Categorical ----
    "Categorical probs": (
        lambda lib, w, k: (
            D(lib).Categorical(probs=w).log_prob(k),
            D(lib).Categorical(probs=w).entropy(),
            D(lib).Categorical(probs=w).probs,
            D(lib).Categorical(probs=w).logits,
            D(lib).Categorical(probs=w).mode,
            D(lib).Categorical(probs=w).mean,
            D(lib).Categorical(probs=w).variance,
        ),
        [WEIGHTS, CLASSES],
    ),
    "Categorical logits": (
        lambda lib, lg, k: (
            D(lib).Categorical(logits=lg).log_prob(k),
            D(lib).Categorical(logits=lg).entropy(),
            D(lib).Categorical(logits=lg).probs,
            D(lib).Categorical(logits=lg).logits,
            D(lib).Categorical(logits=lg).perplexity(),
        ),
        [LOGITS, CLASSES],
    ),
    "Categorical strided": (
        lambda lib, w: (
            D(lib).Categorical(probs=strided(w)).log_prob(lib.tensor([1, 0, 1, 1, 0, 1])),
            D(lib).Categorical(logits=strided(w)).entropy(),
        ),
        [WIDE],
    ),
    "Categorical zero probs": (
        lambda lib, p: (
            D(lib).Categorical(probs=p).entropy(),
            D(lib).Categorical(probs=p).logits,
            D(lib).Categorical(probs=p).log_prob(lib.tensor([1, 2, 0])),
        ),
        [ZERO_PROBS],
    ),
    "Categorical -inf logits": (
        lambda lib, lg: (
            D(lib).Categorical(logits=lg).entropy(),
            D(lib).Categorical(logits=lg).probs,
            D(lib).Categorical(logits=lg).log_prob(lib.tensor([2, 1])),
        ),
        [NEG_INF_LOGITS],
    ),
    "Categorical expand": (
        lambda lib, lg: (
            D(lib)
            .Categorical(logits=lg[0, 0])
            .expand((4, 2))
            .log_prob(lib.tensor([[0, 1], [2, 3], [4, 0], [1, 1]]))
        ),
        [LOGITS],
    ),
    "KL Categorical Categorical": (
        lambda lib, a, b: D(lib).kl_divergence(
            D(lib).Categorical(logits=a), D(lib).Categorical(logits=b[:1])
        ),
        [LOGITS, LOGITS2],
    ),
    "KL Categorical zeros": (
        lambda lib, p, q: D(lib).kl_divergence(
            D(lib).Categorical(probs=p), D(lib).Categorical(probs=q)
        ),
        [ZERO_PROBS, ZERO_PROBS_Q],
    ),
    # ---- OneHotCategorical ----
    "OneHotCategorical": (
        lambda lib, lg, v: (
            D(lib).OneHotCategorical(logits=lg).log_prob(v),
            D(lib).OneHotCategorical(logits=lg).entropy(),
            D(lib).OneHotCategorical(logits=lg).mean,
            D(lib).OneHotCategorical(logits=lg).mode,
            D(lib).OneHotCategorical(logits=lg).variance,
        ),
        [LOGITS, one_hot_rows(CLASSES, 5)],
    ),
    "KL OneHotCategorical": (
        lambda lib, a, b: D(lib).kl_divergence(
            D(lib).OneHotCategorical(probs=a), D(lib).OneHotCategorical(logits=b)
        ),
        [WEIGHTS, LOGITS2],
    ),
    # ---- Bernoulli ----
    "Bernoulli probs": (
        lambda lib, p, x: (
            D(lib).Bernoulli(probs=p).log_prob(x),
            D(lib).Bernoulli(probs=p).entropy(),
            D(lib).Bernoulli(probs=p).logits,
            D(lib).Bernoulli(probs=p).mean,
            D(lib).Bernoulli(probs=p).mode,
            D(lib).Bernoulli(probs=p).variance,
        ),
        [Q, BITS],
    ),
    "Bernoulli logits broadcast": (
        lambda lib, lg, x: (
            D(lib).Bernoulli(logits=lg).log_prob(x.reshape(3, 1, 4)),
            D(lib).Bernoulli(logits=lg).entropy(),
            D(lib).Bernoulli(logits=lg).probs,
        ),
        [LOGITS[0, :, :4] * 3, BITS],
    ),
    "Bernoulli strided": (
        lambda lib, p: D(lib).Bernoulli(probs=strided(p) / 3).entropy(),
        [WIDE],
    ),
    "Bernoulli edges": (
        lambda lib, p: (
            D(lib).Bernoulli(probs=p).entropy(),
            D(lib).Bernoulli(probs=p).mode,
            D(lib)
            .Bernoulli(probs=p)
            .log_prob(lib.tensor([0.0, 1.0, 1, 0, 0, 0], dtype=lib.float64)),
        ),
        [EDGE_Q],
    ),
    "Bernoulli expand": (
        lambda lib, p, x: D(lib).Bernoulli(probs=p[0]).expand((3, 4)).log_prob(x),
        [Q, BITS],
    ),
    "KL Bernoulli Bernoulli": (
        lambda lib, p, q: (
            D(lib).kl_divergence(D(lib).Bernoulli(probs=p), D(lib).Bernoulli(probs=q)),
            D(lib).kl_divergence(D(lib).Bernoulli(logits=p * 4 - 2), D(lib).Bernoulli(probs=q)),
        ),
        [EDGE_Q, EDGE_Q2],
    ),
    # ---- Uniform ----
    "Uniform": (
        lambda lib, lo, hi, x, q: (
            D(lib).Uniform(lo, hi).log_prob(x),
            D(lib).Uniform(lo, hi).entropy(),
            D(lib).Uniform(lo, hi).mean,
            D(lib).Uniform(lo, hi).variance,
            D(lib).Uniform(lo, hi).stddev,
            D(lib).Uniform(lo, hi).mode,
            D(lib).Uniform(lo, hi).cdf(x),
            D(lib).Uniform(lo, hi).icdf(q),
        ),
        [LOW, HIGH, INSIDE, CDF_Q],
    ),
    "Uniform outside": (  # −inf outside [low, high); cdf clamped to 0 and 1
        lambda lib, lo, hi: (
            D(lib).Uniform(lo, hi, validate_args=False).log_prob(lib.stack([lo - 1, hi, lo])),
            D(lib).Uniform(lo, hi, validate_args=False).cdf(lib.stack([lo - 1, hi + 1])),
        ),
        [LOW, HIGH],
    ),
    "KL Uniform Uniform": (
        lambda lib, lo, hi: D(lib).kl_divergence(
            D(lib).Uniform(lo, hi), D(lib).Uniform(lo - 0.5 + (lo > -1.0) * 1.0, hi + 1)
        ),
        [LOW, HIGH],
    ),
    # ---- Independent ----
    "Independent Normal": (
        lambda lib, loc, scale, x: (
            D(lib).Independent(D(lib).Normal(loc, scale), 1).log_prob(x),
            D(lib).Independent(D(lib).Normal(loc, scale), 2).log_prob(x),
            D(lib).Independent(D(lib).Normal(loc, scale), 1).entropy(),
            D(lib).Independent(D(lib).Normal(loc, scale), 1).mean,
            D(lib).Independent(D(lib).Normal(loc, scale), 1).variance,
        ),
        [LOC, SCALE, X],
    ),
    "Independent Bernoulli expand": (
        lambda lib, p, x: (
            D(lib).Independent(D(lib).Bernoulli(probs=p[0]), 1).expand((3,)).log_prob(x)
        ),
        [Q, BITS],
    ),
    "KL Independent": (
        lambda lib, a, b, c, d: D(lib).kl_divergence(
            D(lib).Independent(D(lib).Normal(a, b), 1), D(lib).Independent(D(lib).Normal(c, d), 1)
        ),
        [LOC, SCALE, LOC2, SCALE2],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name: str) -> None:
    build, arrays = CASES[name]
    check_against_torch(lambda lib, leaves: build(lib, *leaves), arrays, seed=len(name))


def test_the_comparison_can_fail() -> None:
    """A guard: a wrong scale (σ² for σ) is caught by the helper."""
    with pytest.raises(AssertionError):
        check_against_torch(
            lambda lib, leaves: (
                D(lib)
                .Normal(leaves[0], leaves[1] ** 2 if lib is tinylm else leaves[1])
                .log_prob(leaves[2])
            ),
            [LOC, SCALE, X],
        )


# ---- shapes, dtypes, supports ------------------------------------------------------------


def make(lib: ModuleType, kind: str) -> Any:
    f64 = lambda a: lib.tensor(a)  # noqa: E731
    return {
        "Normal numbers": lambda: D(lib).Normal(0.0, 1.0),
        "Normal": lambda: D(lib).Normal(f64(LOC), f64(SCALE[0])),
        "Categorical": lambda: D(lib).Categorical(logits=f64(LOGITS)),
        "Categorical 1-d": lambda: D(lib).Categorical(probs=f64(WEIGHTS[0, 0])),
        "OneHotCategorical": lambda: D(lib).OneHotCategorical(probs=f64(WEIGHTS)),
        "Bernoulli number": lambda: D(lib).Bernoulli(0.3),
        "Bernoulli": lambda: D(lib).Bernoulli(logits=f64(LOGITS[0])),
        "Uniform": lambda: D(lib).Uniform(f64(LOW), f64(HIGH)),
        "Uniform numbers": lambda: D(lib).Uniform(-1.0, 2.0),
        "Independent": lambda: D(lib).Independent(D(lib).Normal(f64(LOC), f64(SCALE)), 1),
        "Independent of OneHot": lambda: D(lib).Independent(
            D(lib).OneHotCategorical(probs=f64(WEIGHTS)), 1
        ),
    }[kind]()


KINDS = [
    "Normal numbers",
    "Normal",
    "Categorical",
    "Categorical 1-d",
    "OneHotCategorical",
    "Bernoulli number",
    "Bernoulli",
    "Uniform",
    "Uniform numbers",
    "Independent",
    "Independent of OneHot",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
def test_shapes_and_dtypes_of_samples_match_torch(kind: str, sample_shape: tuple) -> None:
    ours, theirs = make(tinylm, kind), make(torch, kind)
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    assert (ours.has_rsample, ours.has_enumerate_support) == (
        theirs.has_rsample,
        theirs.has_enumerate_support,
    )
    a, b = ours.sample(sample_shape), theirs.sample(torch.Size(sample_shape))
    assert (tuple(a.shape), dtype_name(a)) == (tuple(b.shape), dtype_name(b))
    assert not a.requires_grad
    assert bool(ours.support.check(a).all()), "a sample lies outside the support"
    # and torch's support check agrees on our draws
    assert bool(theirs.support.check(torch.from_numpy(values(a))).all())
    if ours.has_rsample:
        r, s = ours.rsample(sample_shape), theirs.rsample(torch.Size(sample_shape))
        assert (tuple(r.shape), dtype_name(r)) == (tuple(s.shape), dtype_name(s))
    else:
        with pytest.raises(NotImplementedError):
            theirs.rsample()
        with pytest.raises(NotImplementedError):
            ours.rsample()


@pytest.mark.parametrize("kind", ["Categorical", "Categorical 1-d", "OneHotCategorical",
                                  "Bernoulli", "Bernoulli number"])  # fmt: skip
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_matches_torch(kind: str, expand: bool) -> None:
    a = make(tinylm, kind).enumerate_support(expand)
    b = make(torch, kind).enumerate_support(expand)
    assert (tuple(a.shape), dtype_name(a)) == (tuple(b.shape), dtype_name(b))
    np.testing.assert_array_equal(values(a), values(b))
    # every enumerated value scores like torch's
    ours, theirs = make(tinylm, kind).log_prob(a), make(torch, kind).log_prob(b)
    assert dtype_name(ours) == dtype_name(theirs)
    rtol = RTOL if ours.dtype == tinylm.float64 else 1e-6
    np.testing.assert_allclose(values(ours), values(theirs), rtol=rtol)


@pytest.mark.parametrize("dist_dtype", ["float32", "float64"])
@pytest.mark.parametrize("value_dtype", ["float32", "float64"])
def test_log_prob_dtypes_of_mixed_parameters_and_values_are_torchs(
    dist_dtype: str, value_dtype: str
) -> None:
    """Bernoulli's log_prob takes the value's dtype in PyTorch, Normal's the promoted one."""
    for build in (
        lambda lib, p, x: D(lib).Bernoulli(probs=p).log_prob(x),
        lambda lib, p, x: D(lib).Normal(p, p).log_prob(x),
        lambda lib, p, x: D(lib).Uniform(p - 2, p + 1).log_prob(x - 0.5),
    ):
        a, b = (
            build(lib, lib.tensor(Q, dtype=getattr(lib, dist_dtype)),
                  lib.tensor(BITS, dtype=getattr(lib, value_dtype)))
            for lib in (tinylm, torch)
        )  # fmt: skip
        assert dtype_name(a) == dtype_name(b)
        np.testing.assert_allclose(values(a), values(b), rtol=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError):
        torch.distributions.Bernoulli(0.5).log_prob(torch.tensor([1]))
    with pytest.raises(TinyLMError, match="value must be a floating-point tensor"):
        Bernoulli(0.5).log_prob(tinylm.tensor([1]))


def test_independent_refuses_to_enumerate_a_product_as_torch() -> None:
    with pytest.raises(NotImplementedError, match="cartesian"):
        make(torch, "Independent").enumerate_support()
    with pytest.raises(NotImplementedError, match="cartesian"):
        make(tinylm, "Independent").enumerate_support()


# ---- draws, by their statistics ----------------------------------------------------------

N = 20_000


def test_categorical_draws_each_row_with_its_own_frequencies() -> None:
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.0, 0.0, 1.0, 0.0]])
    tinylm.manual_seed(0)
    draws = values(Categorical(probs=tinylm.tensor(probs * 5)).sample((N,)))  # unnormalised
    assert draws.shape == (N, 3) and draws.dtype == np.int64
    for row in range(3):
        freq = np.bincount(draws[:, row], minlength=4) / N
        np.testing.assert_allclose(freq, probs[row], atol=0.015, err_msg=f"row {row}")


def test_categorical_from_logits_and_one_hot_draw_softmax_frequencies() -> None:
    logits = np.array([2.0, 0.0, -1.0, 1.0])
    p = np.exp(logits) / np.exp(logits).sum()
    tinylm.manual_seed(1)
    idx = values(Categorical(logits=tinylm.tensor(logits)).sample((N,)))
    np.testing.assert_allclose(np.bincount(idx, minlength=4) / N, p, atol=0.015)
    rows = values(OneHotCategorical(logits=tinylm.tensor(logits)).sample((N,)))
    assert rows.shape == (N, 4) and np.all(rows.sum(-1) == 1)
    np.testing.assert_allclose(rows.mean(0), p, atol=0.015)


def test_bernoulli_draws_ones_with_probability_p() -> None:
    p = np.array([0.1, 0.5, 0.9, 0.0, 1.0])
    tinylm.manual_seed(2)
    draws = values(Bernoulli(probs=tinylm.tensor(p)).sample((N,)))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(0), p, atol=0.015)
    tinylm.manual_seed(3)
    from_logits = values(Bernoulli(logits=tinylm.tensor([-2.0, 3.0])).sample((N,)))
    np.testing.assert_allclose(from_logits.mean(0), 1 / (1 + np.exp([2.0, -3.0])), atol=0.015)


def test_normal_draws_have_its_mean_and_spread() -> None:
    loc, scale = np.array([-1.0, 3.0]), np.array([0.5, 2.0])
    tinylm.manual_seed(4)
    for method in ("sample", "rsample"):
        x = values(getattr(Normal(tinylm.tensor(loc), tinylm.tensor(scale)), method)((N,)))
        for j in range(2):  # within 4 standard errors of the mean
            assert abs(x[:, j].mean() - loc[j]) < 4 * scale[j] / math.sqrt(N)
        np.testing.assert_allclose(x.std(0), scale, rtol=0.03)
        # the tails of a normal: 4.55 % beyond 2σ
        beyond = (np.abs(x - loc) > 2 * scale).mean(0)
        np.testing.assert_allclose(beyond, 0.0455, atol=0.006)


def test_uniform_draws_fill_its_interval_evenly() -> None:
    low, high = np.array([0.0, -2.0]), np.array([1.0, 4.0])
    tinylm.manual_seed(5)
    x = values(Uniform(tinylm.tensor(low), tinylm.tensor(high)).sample((N,)))
    assert np.all(x >= low) and np.all(x < high)
    np.testing.assert_allclose((x.mean(0) - low) / (high - low), 0.5, atol=0.01)
    np.testing.assert_allclose(x.var(0), (high - low) ** 2 / 12, rtol=0.04)
    quarters = ((x - low) / (high - low) * 4).astype(int)
    for j in range(2):
        np.testing.assert_allclose(np.bincount(quarters[:, j], minlength=4) / N, 0.25, atol=0.015)


@pytest.mark.parametrize("kind", KINDS)
def test_manual_seed_repeats_the_draws(kind: str) -> None:
    dist = make(tinylm, kind)
    tinylm.manual_seed(11)
    a = values(dist.sample((50,)))
    tinylm.manual_seed(11)
    b = values(dist.sample((50,)))
    np.testing.assert_array_equal(a, b)
    tinylm.manual_seed(12)
    assert not np.array_equal(a, values(dist.sample((50,))))


# ---- rsample's gradients ------------------------------------------------------------------


def test_normal_rsample_is_differentiable_in_loc_and_scale() -> None:
    """x = μ + σ ε: ∂x/∂μ = 1 and ∂x/∂σ = ε, checked with a random upstream gradient u."""
    loc = tinylm.tensor(LOC, requires_grad=True)
    scale = tinylm.tensor(SCALE, requires_grad=True)
    tinylm.manual_seed(6)
    x = Normal(loc, scale).rsample((7,))
    assert x.shape == (7, 3, 4) and x.requires_grad
    u = np.random.default_rng(0).standard_normal((7, 3, 4))
    (x * tinylm.tensor(u)).sum().backward()
    eps = (values(x) - LOC) / SCALE
    np.testing.assert_allclose(values(loc.grad), u.sum(0), rtol=1e-12)
    np.testing.assert_allclose(values(scale.grad), (u * eps).sum(0), rtol=1e-10)
    # the same ε again from the same seed: rsample is loc + scale · randn
    tinylm.manual_seed(6)
    np.testing.assert_allclose(eps, values(tinylm.randn(7, 3, 4, dtype=tinylm.float64)))


def test_uniform_rsample_is_differentiable_in_low_and_high() -> None:
    """x = low + v (high − low): ∂x/∂low = 1 − v, ∂x/∂high = v."""
    low = tinylm.tensor(LOW, requires_grad=True)
    high = tinylm.tensor(HIGH, requires_grad=True)
    x = Uniform(low, high).rsample((5,))
    u = np.random.default_rng(1).standard_normal((5, 3, 4))
    (x * tinylm.tensor(u)).sum().backward()
    v = (values(x) - LOW) / (HIGH - LOW)
    np.testing.assert_allclose(values(low.grad), (u * (1 - v)).sum(0), rtol=1e-10)
    np.testing.assert_allclose(values(high.grad), (u * v).sum(0), rtol=1e-10)


def test_sample_is_outside_the_graph() -> None:
    loc = tinylm.tensor(LOC, requires_grad=True)
    assert not Normal(loc, 1.0).sample().requires_grad
    assert Normal(loc, 1.0).rsample().requires_grad


# ---- validate_args: one line where torch refuses -------------------------------------------

BAD_CALLS = {
    "negative scale": (lambda lib: D(lib).Normal(0.0, -1.0), "scale"),
    "zero scale": (lambda lib: D(lib).Normal(lib.zeros(2), lib.zeros(2)), "scale"),
    "nan loc": (lambda lib: D(lib).Normal(lib.tensor([math.nan, 0.0]), 1.0), "loc"),
    "negative probs": (
        lambda lib: D(lib).Categorical(probs=lib.tensor([-0.1, 0.6, 0.5])),
        "probs",
    ),
    "nan logits": (lambda lib: D(lib).Categorical(logits=lib.tensor([0.0, math.nan])), "logits"),
    "probs and logits": (
        lambda lib: D(lib).Categorical(probs=lib.ones(2), logits=lib.zeros(2)),
        "either",
    ),
    "neither": (lambda lib: D(lib).Bernoulli(), "either"),
    "0-d probs": (lambda lib: D(lib).Categorical(probs=lib.tensor(1.0)), "one-dimensional"),
    "Bernoulli probs > 1": (lambda lib: D(lib).Bernoulli(probs=1.5), "probs"),
    "Bernoulli negative probs": (lambda lib: D(lib).Bernoulli(lib.tensor([0.5, -0.1])), "probs"),
    "Uniform low >= high": (lambda lib: D(lib).Uniform(lib.ones(2), lib.ones(2)), "low"),
    "Independent too many dims": (
        lambda lib: D(lib).Independent(D(lib).Normal(lib.zeros(3), 1.0), 2),
        "reinterpreted_batch_ndims",
    ),
    "class out of range": (
        lambda lib: D(lib).Categorical(logits=lib.zeros(3)).log_prob(lib.tensor([3])),
        "support",
    ),
    "negative class": (
        lambda lib: D(lib).Categorical(logits=lib.zeros(3)).log_prob(lib.tensor([-1])),
        "support",
    ),
    "Bernoulli value 0.5": (
        lambda lib: D(lib).Bernoulli(0.3).log_prob(lib.tensor(0.5)),
        "support",
    ),
    "Uniform value above": (
        lambda lib: D(lib).Uniform(0.0, 1.0).log_prob(lib.tensor([1.5])),
        "support",
    ),
    "not one-hot": (
        lambda lib: (
            D(lib).OneHotCategorical(logits=lib.zeros(3)).log_prob(lib.tensor([1.0, 1.0, 0.0]))
        ),
        "support",
    ),
    "value a number": (lambda lib: D(lib).Normal(0.0, 1.0).log_prob(0.5), "must be a Tensor"),
    "value not broadcastable": (
        lambda lib: D(lib).Normal(lib.zeros(3), 1.0).log_prob(lib.zeros(4)),
        "broadcastable",
    ),
    "wrong event shape": (
        lambda lib: D(lib).OneHotCategorical(logits=lib.zeros(3)).log_prob(lib.zeros(4)),
        "event_shape",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_parameters_and_values_are_refused_in_one_line_as_torch(name: str) -> None:
    call, match = BAD_CALLS[name]
    refused_by_both(call, TinyLMError, match, ValueError)


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_validate_args_false_skips_the_checks_as_torch() -> None:
    for lib in (tinylm, torch):
        d = D(lib).Normal(lib.tensor([0.0]), lib.tensor([-1.0]), validate_args=False)
        assert np.isnan(values(d.log_prob(lib.tensor([0.5])))).all()
        c = D(lib).Categorical(logits=lib.zeros(3), validate_args=False)
        assert c.batch_shape == ()
    D(tinylm).Distribution.set_default_validate_args(False)
    try:
        assert np.isnan(values(Normal(0.0, -1.0).entropy()))
    finally:
        D(tinylm).Distribution.set_default_validate_args(True)
    with pytest.raises(TinyLMError, match="scale"):
        Normal(0.0, -1.0)


def test_parameters_other_than_numbers_and_tensors_are_refused() -> None:
    with pytest.raises(TinyLMError, match="Normal: parameters must be numbers or Tensors"):
        Normal([0.0, 1.0], 1.0)
    with pytest.raises(TinyLMError, match="Categorical: `probs` must be a Tensor"):
        Categorical(probs=[0.5, 0.5])
    with pytest.raises(TypeError, match="sample"):
        Normal(0.0, 1.0).sample(5)


def test_constraints_check_as_torchs() -> None:
    rows = np.array([
        [-1.0, 0.0, 0.5, 1.0, 2.0, math.nan],  # every kind of element
        [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],  # a simplex row, 0s and 1s nowhere else
        [1 / 6] * 6,  # a simplex row, up to rounding
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],  # one-hot
        [0.7, 0.5, -0.2, 0.0, 0.0, 0.0],  # sums to 1 with a negative entry
    ])  # fmt: skip
    TC = torch.distributions.constraints  # noqa: N806
    pairs = [
        (constraints.real, TC.real),
        (constraints.positive, TC.positive),
        (constraints.unit_interval, TC.unit_interval),
        (constraints.boolean, TC.boolean),
        (constraints.simplex, TC.simplex),
        (constraints.integer_interval(0, 1), TC.integer_interval(0, 1)),
        (constraints.real_vector, TC.real_vector),
        (constraints.half_open_interval(0.0, 1.0),
         TC.half_open_interval(0.0, 1.0)),
        (constraints.one_hot, TC.one_hot),
        (constraints.independent(constraints.positive, 1),
         TC.independent(TC.positive, 1)),
    ]  # fmt: skip
    for ours, theirs in pairs:
        a = ours.check(tinylm.tensor(rows))
        b = theirs.check(torch.tensor(rows))
        np.testing.assert_array_equal(values(a), values(b), err_msg=repr(ours))
        assert repr(ours) == repr(theirs)


# ---- kl_divergence and register_kl ----------------------------------------------------------


def test_kl_divergence_of_an_unregistered_pair_is_refused_as_torch() -> None:
    with pytest.raises(NotImplementedError):
        torch.distributions.kl_divergence(
            torch.distributions.Normal(0.0, 1.0), torch.distributions.Bernoulli(0.5)
        )
    with pytest.raises(NotImplementedError, match="Normal and q type Bernoulli"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(0.5))
    with pytest.raises(TinyLMError, match="Bernoulli"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(0.5))
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        kl_divergence(
            Independent(Normal(tinylm.zeros(2, 3), 1.0), 1),
            Independent(Normal(tinylm.zeros(2, 3), 1.0), 2),
        )


def test_register_kl_adds_a_pair_and_the_closest_registration_wins() -> None:
    class Narrow(Normal):
        pass

    @register_kl(Narrow, Normal)
    def kl_narrow(p: Any, q: Any) -> Any:
        return tinylm.full(p.batch_shape, 42.0)

    assert values(kl_divergence(Narrow(0.0, 1.0), Normal(0.0, 2.0))) == 42.0
    # Normal ‖ Narrow still finds Normal ‖ Normal (a Narrow is a Normal)
    expected = math.log(2.0) + 1 / 8 - 0.5
    np.testing.assert_allclose(values(kl_divergence(Normal(0.0, 1.0), Narrow(0.0, 2.0))), expected)
    with pytest.raises(TinyLMError, match="type_q to be a Distribution subclass"):
        register_kl(Normal, int)


def test_kl_is_the_expected_log_ratio() -> None:
    """KL(p ‖ q) against a Monte-Carlo mean of log p(x) − log q(x) over p's draws."""
    p = Normal(tinylm.tensor([0.0, 1.0]), tinylm.tensor([1.0, 0.5]))
    q = Normal(tinylm.tensor([0.5, 0.0]), tinylm.tensor([2.0, 1.0]))
    tinylm.manual_seed(8)
    x = p.sample((N,))
    mc = values(p.log_prob(x) - q.log_prob(x)).mean(0)
    np.testing.assert_allclose(mc, values(kl_divergence(p, q)), atol=0.03)
