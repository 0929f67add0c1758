"""More of ``tinylm.distributions`` against ``torch.distributions``: Exponential, Laplace,
Gamma, Beta, Dirichlet, Poisson and LogNormal give the same log_prob, entropy, mean, mode,
variance, cdf/icdf values (shapes and dtypes included) and the same gradients in every float
parameter and value for a random upstream gradient, through broadcasting, transposed and
strided parameters and edge values. Draws differ from PyTorch's numbers, so samplers are
checked by shapes and dtypes (as torch's) and by their statistics under fixed seeds.
Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
import torch_parity  # noqa: E402 - after the skip
from torch_parity import dtype_name, refused_by_both, strided, values  # noqa: E402

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-10, 1e-12


# torch's trigamma (the derivative of digamma, in the gradients of Gamma, Beta and Dirichlet
# entropies and log-normalisers) is off by up to ~2e-9 relative, measured against mpmath;
# tinylm's is exact to 1e-15. Those cases compare to this looser tolerance.
TRIGAMMA_RTOL, TRIGAMMA_ATOL = 1e-8, 1e-10


def check_against_torch(
    build: Callable,
    arrays: list[np.ndarray],
    seed: int = 0,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> None:
    """torch_parity's check, to this file's tolerances; an output's ±inf gets no upstream."""
    torch_parity.check_against_torch(build, arrays, seed, rtol, atol, finite_upstream=True)


def D(lib: ModuleType) -> Any:
    return lib.distributions


RNG = np.random.default_rng(21)
POS = RNG.uniform(0.3, 3.0, (3, 4))
POS2 = RNG.uniform(0.3, 3.0, (3, 4))
POS3 = RNG.uniform(0.3, 3.0, (3, 4))
POS4 = RNG.uniform(0.3, 3.0, (3, 4))
SMALL = RNG.uniform(0.2, 0.9, (3, 4))  # concentrations below 1 (mode at the edge)
LOC = RNG.standard_normal((3, 4))
LOC2 = RNG.standard_normal((3, 4))
X_POS = RNG.uniform(0.05, 4.0, (3, 4))
X_REAL = RNG.standard_normal((3, 4)) * 2
X_UNIT = RNG.uniform(0.02, 0.98, (3, 4))
Q = RNG.uniform(0.02, 0.98, (3, 4))
WIDE = RNG.uniform(0.3, 2.0, (4, 6))
WIDE2 = RNG.uniform(0.3, 2.0, (4, 6))
WIDE_X = RNG.uniform(0.1, 0.9, (4, 6))
CONC = RNG.uniform(0.4, 3.0, (2, 3, 5))
CONC2 = RNG.uniform(0.4, 3.0, (2, 3, 5))
SIMPLEX = RNG.dirichlet(np.ones(5), (2, 3))
COUNTS = RNG.integers(0, 7, (3, 4)).astype(np.float64)
DF = np.array([[0.7, 1.5, 2.5, 8.0], [1.0, 3.0, 0.4, 30.0], [5.0, 1.2, 2.2, 4.0]])
PROB = RNG.uniform(0.05, 0.95, (3, 4))
LOGIT = RNG.standard_normal((3, 4)) * 3
EDGE_P = np.array([1.0, 1.0, 0.5, 0.3])  # Geometric at p = 1 (k = 0: log 1; k = 2: −inf)
EDGE_K = np.array([0.0, 2.0, 0.0, 4.0])
TRIALS = RNG.integers(0, 9, (3, 4)).astype(np.float64)
_A = RNG.standard_normal((2, 3, 3))
COV = _A @ _A.transpose(0, 2, 1) + 0.5 * np.eye(3)  # (2, 3, 3) positive-definite
TRIL = np.tril(RNG.standard_normal((2, 3, 3)), -1) + np.diag(RNG.uniform(0.5, 2, 3))
MVN_LOC = RNG.standard_normal((4, 1, 3))  # broadcasts with the matrices' batch (2,)
MVN_X = RNG.standard_normal((5, 4, 2, 3))
EDGE_X = np.array([0.0, 0.0, 1.0, 2.5])  # Exponential/Gamma at 0; Gamma α = 1 there
EDGE_CONC = np.array([2.0, 0.5, 1.0, 0.7])


def moments(d: Any) -> tuple:
    return d.mean, d.mode, d.variance, d.stddev


CASES = {
    # ---- Exponential ----
    "Exponential": (
        lambda lib, r, x, q: (
            D(lib).Exponential(r).log_prob(x),
            D(lib).Exponential(r).entropy(),
            D(lib).Exponential(r).cdf(x),
            D(lib).Exponential(r).icdf(q),
            *moments(D(lib).Exponential(r)),
        ),
        [POS, X_POS, Q],
    ),
    "Exponential at 0, broadcast": (
        lambda lib, r, x: D(lib).Exponential(r[:, :1]).log_prob(x),
        [POS, X_POS],
    ),
    "Exponential strided": (
        lambda lib, r, x: D(lib).Exponential(strided(r)).log_prob(strided(x)),
        [WIDE, WIDE_X],
    ),
    # ---- Laplace ----
    "Laplace": (
        lambda lib, m, b, x, q: (
            D(lib).Laplace(m, b).log_prob(x),
            D(lib).Laplace(m, b).entropy(),
            D(lib).Laplace(m, b).cdf(x),
            D(lib).Laplace(m, b).icdf(q),
            *moments(D(lib).Laplace(m, b)),
        ),
        [LOC, POS, X_REAL, Q],
    ),
    "Laplace strided number loc": (
        lambda lib, b, x: D(lib).Laplace(0.5, strided(b)).log_prob(strided(x)),
        [WIDE, WIDE_X],
    ),
    # ---- Gamma ----
    "Gamma": (
        lambda lib, a, b, x: (
            D(lib).Gamma(a, b).log_prob(x),
            D(lib).Gamma(a, b).entropy(),
            *moments(D(lib).Gamma(a, b)),
        ),
        [POS, POS2, X_POS],
    ),
    "Gamma below 1": (
        lambda lib, a, b, x: (
            D(lib).Gamma(a, b).log_prob(x),
            D(lib).Gamma(a, b).entropy(),
            D(lib).Gamma(a, b).mode,
        ),
        [SMALL, POS2, X_POS],
    ),
    # the concentration is not a leaf here: tinylm's xlogy gives a NaN gradient in x where
    # y = 0, torch's 0 (reported; not a distributions matter)
    "Gamma at 0": (
        lambda lib, b, x: D(lib).Gamma(lib.tensor(EDGE_CONC), b).log_prob(x),
        [EDGE_CONC + 0.5, EDGE_X],
    ),
    "Gamma strided expand": (
        lambda lib, a, b, x: (
            D(lib).Gamma(strided(a)[0], strided(b)[0]).expand((6, 2)).log_prob(strided(x))
        ),
        [WIDE, WIDE2, WIDE_X],
    ),
    # ---- Beta ----
    "Beta": (
        lambda lib, a, b, x: (
            D(lib).Beta(a, b).log_prob(x),
            D(lib).Beta(a, b).entropy(),
            D(lib).Beta(a, b).mean,
            D(lib).Beta(a, b).variance,
        ),
        [POS, POS2, X_UNIT],
    ),
    "Beta mode": (
        lambda lib, a, b: D(lib).Beta(a + 1, b + 1).mode,
        [POS, POS2],
    ),
    "Beta below 1 strided": (
        lambda lib, a, b, x: (
            D(lib).Beta(strided(a), strided(b)).log_prob(strided(x)),
            D(lib).Beta(strided(a), strided(b)).entropy(),
        ),
        [WIDE * 0.4, WIDE2, WIDE_X],
    ),
    # ---- Dirichlet ----
    "Dirichlet": (
        lambda lib, a, x: (
            D(lib).Dirichlet(a).log_prob(x),
            D(lib).Dirichlet(a).entropy(),
            D(lib).Dirichlet(a).mean,
            D(lib).Dirichlet(a).variance,
        ),
        [CONC, SIMPLEX],
    ),
    "Dirichlet broadcast value": (
        lambda lib, a, x: D(lib).Dirichlet(a).log_prob(x[0, :1]),
        [CONC, SIMPLEX],
    ),
    "Dirichlet mode": (
        lambda lib, a: (D(lib).Dirichlet(a + 1).mode, D(lib).Dirichlet(a).mode),
        [CONC],
    ),
    "Dirichlet strided": (
        lambda lib, a, x: D(lib).Dirichlet(a.mT).log_prob(x.mT / x.mT.sum(-1, keepdim=True)),
        [WIDE, WIDE_X],
    ),
    # ---- Poisson ----
    "Poisson": (
        lambda lib, r, k: (D(lib).Poisson(r).log_prob(k), *moments(D(lib).Poisson(r))),
        [POS, COUNTS],
    ),
    "Poisson strided": (
        lambda lib, r: D(lib).Poisson(strided(r)).log_prob(lib.tensor([[0.0, 3.0]])),
        [WIDE],
    ),
    # ---- LogNormal ----
    "LogNormal": (
        lambda lib, m, s, x, q: (
            D(lib).LogNormal(m, s).log_prob(x),
            D(lib).LogNormal(m, s).entropy(),
            D(lib).LogNormal(m, s).cdf(x),
            D(lib).LogNormal(m, s).icdf(q),
            *moments(D(lib).LogNormal(m, s)),
        ),
        [LOC, POS * 0.5, X_POS, Q],
    ),
    "LogNormal strided expand": (
        lambda lib, m, s, x: (
            D(lib).LogNormal(strided(m)[:1], strided(s)[:1]).expand((6, 2)).log_prob(strided(x))
        ),
        [WIDE, WIDE2, WIDE_X],
    ),
    # ---- Geometric ----
    "Geometric probs": (
        lambda lib, p, k: (
            D(lib).Geometric(p).log_prob(k),
            D(lib).Geometric(p).entropy(),
            D(lib).Geometric(p).logits,
            *moments(D(lib).Geometric(p)),
        ),
        [PROB, COUNTS],
    ),
    "Geometric logits strided": (
        lambda lib, lg, k: (
            D(lib).Geometric(logits=strided(lg)).log_prob(strided(k)),
            D(lib).Geometric(logits=strided(lg)).entropy(),
            D(lib).Geometric(logits=strided(lg)).mean,
        ),
        [WIDE_X * 4 - 2, np.floor(WIDE * 3)],
    ),
    "Geometric at p = 1": (
        lambda lib, p, k: D(lib).Geometric(p).log_prob(k),
        [EDGE_P, EDGE_K],
    ),
    # ---- Binomial ----
    "Binomial probs": (
        lambda lib, p, k: (
            D(lib).Binomial(8, p).log_prob(k),
            D(lib).Binomial(8, p).entropy(),
            *moments(D(lib).Binomial(8, p)),
        ),
        [PROB, TRIALS],
    ),
    "Binomial logits, tensor counts": (
        lambda lib, lg, k: D(lib).Binomial(lib.tensor(TRIALS) + 3, logits=lg).log_prob(k),
        [LOGIT, TRIALS],
    ),
    "Binomial strided": (
        lambda lib, p: (
            D(lib).Binomial(5, strided(p) / 2).log_prob(lib.tensor([[0.0, 5.0]])),
            D(lib).Binomial(5, strided(p) / 2).entropy(),
        ),
        [WIDE],
    ),
    # ---- StudentT ----
    "StudentT": (
        lambda lib, df, m, s, x: (
            D(lib).StudentT(df, m, s).log_prob(x),
            D(lib).StudentT(df, m, s).entropy(),
            D(lib).StudentT(df, m, s).mean,
            D(lib).StudentT(df, m, s).mode,
            D(lib).StudentT(df, m, s).variance,
        ),
        [DF, LOC, POS, X_REAL],
    ),
    "StudentT defaults strided": (
        lambda lib, df, x: D(lib).StudentT(strided(df)).log_prob(strided(x)),
        [WIDE * 3, WIDE_X],
    ),
    # ---- MultivariateNormal (the matrices symmetrised so that torch and tinylm read the
    # same values from either triangle, and their gradients are symmetric alike) ----
    "MultivariateNormal covariance": (
        lambda lib, m, c, x: (
            D(lib).MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2).log_prob(x),
            D(lib).MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2).entropy(),
            D(lib).MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2).variance,
            D(lib).MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2).scale_tril,
        ),
        [MVN_LOC, COV, MVN_X],
    ),
    "MultivariateNormal precision": (
        lambda lib, m, p, x: (
            D(lib).MultivariateNormal(m, precision_matrix=(p + p.mT) / 2).log_prob(x),
            D(lib).MultivariateNormal(m, precision_matrix=(p + p.mT) / 2).entropy(),
            D(lib).MultivariateNormal(m, precision_matrix=(p + p.mT) / 2).covariance_matrix,
        ),
        [MVN_LOC, COV, MVN_X],
    ),
    "MultivariateNormal scale_tril strided": (
        lambda lib, m, t, x: (
            D(lib).MultivariateNormal(m[:2, 0], scale_tril=t.mT.mT).log_prob(x.mT.mT),
            D(lib).MultivariateNormal(m[:2, 0], scale_tril=t).mean,
            D(lib).MultivariateNormal(m[:2, 0], scale_tril=t).precision_matrix,
        ),
        [MVN_LOC, TRIL, MVN_X[:, 0]],
    ),
    # ---- kl_divergence (q's parameters broadcast against p's) ----
    "KL Exponential": (
        lambda lib, a, b: D(lib).kl_divergence(D(lib).Exponential(a), D(lib).Exponential(b[:1])),
        [POS, POS2],
    ),
    "KL Laplace": (
        lambda lib, m, b, m2, b2: D(lib).kl_divergence(
            D(lib).Laplace(m, b), D(lib).Laplace(m2, b2[:, :1])
        ),
        [LOC, POS, LOC2, POS2],
    ),
    "Gamma KL": (
        lambda lib, a, b, a2, b2: D(lib).kl_divergence(D(lib).Gamma(a, b), D(lib).Gamma(a2, b2)),
        [POS, POS2, POS3, POS4],
    ),
    "Beta KL strided": (
        lambda lib, a, b, a2, b2: D(lib).kl_divergence(
            D(lib).Beta(strided(a), strided(b)), D(lib).Beta(strided(a2), strided(b2))
        ),
        [WIDE, WIDE2, WIDE2 * 2, WIDE * 0.5],
    ),
    "Dirichlet KL": (
        lambda lib, a, b: D(lib).kl_divergence(D(lib).Dirichlet(a), D(lib).Dirichlet(b[1])),
        [CONC, CONC2],
    ),
    "KL Poisson": (
        lambda lib, a, b: D(lib).kl_divergence(D(lib).Poisson(a), D(lib).Poisson(b)),
        [POS, POS2],
    ),
    "KL Geometric": (
        lambda lib, a, b: D(lib).kl_divergence(D(lib).Geometric(a), D(lib).Geometric(logits=b)),
        [PROB, LOGIT],
    ),
    "KL Binomial, +inf where p has more trials": (
        lambda lib, a, b: D(lib).kl_divergence(
            D(lib).Binomial(lib.tensor([[4.0], [5.0], [4.0]]), a),
            D(lib).Binomial(4, logits=b),
        ),
        [PROB, LOGIT],
    ),
    "KL MultivariateNormal": (
        lambda lib, m, c, t, m2: D(lib).kl_divergence(
            D(lib).MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2),
            D(lib).MultivariateNormal(m2[:, :1], scale_tril=t),
        ),
        [MVN_LOC, COV, TRIL, MVN_X[0, :, :1]],
    ),
    "KL LogNormal": (
        lambda lib, m, s, m2, s2: D(lib).kl_divergence(
            D(lib).LogNormal(m, s), D(lib).LogNormal(m2, s2)
        ),
        [LOC, POS, LOC2, POS2],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name: str) -> None:
    build, arrays = CASES[name]
    loose = name.split()[0] in ("Gamma", "Beta", "Dirichlet", "StudentT")
    tolerances = (TRIGAMMA_RTOL, TRIGAMMA_ATOL) if loose else (RTOL, ATOL)
    check_against_torch(lambda lib, leaves: build(lib, *leaves), arrays, 0, *tolerances)


def test_the_comparison_can_fail() -> None:
    """A Gamma with its rate off by 1e-6 is caught (so the checks above can fail)."""
    with pytest.raises(AssertionError):
        check_against_torch(
            lambda lib, t: (
                D(lib).Gamma(t[0][0], t[0][1] + (1e-6 if lib is tinylm else 0)).log_prob(t[0][2])
            ),
            [np.stack([POS, POS2, X_POS])],
        )


KINDS: dict[str, Callable[[ModuleType], Any]] = {
    "Exponential": lambda lib: D(lib).Exponential(lib.tensor(POS)),
    "Laplace": lambda lib: D(lib).Laplace(lib.tensor(LOC), lib.tensor(POS)),
    "Gamma": lambda lib: D(lib).Gamma(lib.tensor(POS), lib.tensor(POS2)),
    "Beta": lambda lib: D(lib).Beta(lib.tensor(POS), lib.tensor(POS2)),
    "Dirichlet": lambda lib: D(lib).Dirichlet(lib.tensor(CONC)),
    "Poisson": lambda lib: D(lib).Poisson(lib.tensor(POS)),
    "LogNormal": lambda lib: D(lib).LogNormal(lib.tensor(LOC), lib.tensor(POS * 0.2)),
    "Geometric": lambda lib: D(lib).Geometric(lib.tensor(PROB)),
    "Binomial": lambda lib: D(lib).Binomial(lib.tensor(TRIALS), logits=lib.tensor(LOGIT)),
    "StudentT": lambda lib: D(lib).StudentT(lib.tensor(DF) + 4.5, lib.tensor(LOC)),
    "MultivariateNormal": lambda lib: D(lib).MultivariateNormal(
        lib.tensor(MVN_LOC), covariance_matrix=lib.tensor(COV)
    ),
    "Gamma float32 numbers": lambda lib: D(lib).Gamma(2.0, 0.5),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
def test_shapes_and_dtypes_of_samples_match_torch(kind: str, sample_shape: tuple) -> None:
    ours, theirs = KINDS[kind](tinylm), KINDS[kind](torch)
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    a, b = ours.sample(sample_shape), theirs.sample(sample_shape)
    assert tuple(a.shape) == tuple(b.shape) and dtype_name(a) == dtype_name(b)
    assert not a.requires_grad
    assert bool(ours.support.check(a).all().item())
    assert ours.has_rsample == (
        kind in ("Exponential", "Laplace", "LogNormal", "MultivariateNormal")
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_manual_seed_repeats_the_draws(kind: str) -> None:
    dist = KINDS[kind](tinylm)
    tinylm.manual_seed(11)
    a = values(dist.sample((4,)))
    tinylm.manual_seed(11)
    np.testing.assert_array_equal(a, values(dist.sample((4,))))
    tinylm.manual_seed(12)
    assert not np.array_equal(a, values(dist.sample((4,))))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "Gamma float32 numbers"])
def test_draws_have_the_mean_and_variance(kind: str) -> None:
    """20 000 draws per batch element: their mean and variance lie within 5 standard errors
    (of a fourth-moment-free bound: the variance's error is judged loosely, at 15%)."""
    dist = KINDS[kind](tinylm)
    tinylm.manual_seed(3)
    n = 20_000
    draws = values(dist.sample((n,)))
    mean, var = values(dist.mean), values(dist.variance)
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * np.sqrt(var / n))
    np.testing.assert_allclose(draws.var(0), var, rtol=0.15)


def test_draws_follow_the_cdf() -> None:
    """Exponential, Laplace and LogNormal draws: the fraction below each element's median
    (icdf(½)) is ½ within 5 standard errors."""
    for dist in (
        KINDS["Exponential"](tinylm),
        KINDS["Laplace"](tinylm),
        KINDS["LogNormal"](tinylm),
    ):
        tinylm.manual_seed(4)
        draws = values(dist.sample((20_000,)))
        median = values(dist.icdf(tinylm.full(dist.batch_shape, 0.5, dtype=tinylm.float64)))
        assert np.all(np.abs((draws < median).mean(0) - 0.5) < 5 * 0.5 / np.sqrt(20_000))


@pytest.mark.parametrize("kind", ["Exponential", "Laplace", "LogNormal"])
def test_rsample_gradients_follow_their_formulas(kind: str) -> None:
    """∂x/∂θ of rsample by finite differences of the same draws (the seed repeated)."""
    base = {"Exponential": [POS], "Laplace": [LOC, POS], "LogNormal": [LOC, POS * 0.5]}[kind]
    make = {
        "Exponential": lambda p: D(tinylm).Exponential(*p),
        "Laplace": lambda p: D(tinylm).Laplace(*p),
        "LogNormal": lambda p: D(tinylm).LogNormal(*p),
    }[kind]
    params = [tinylm.tensor(a, requires_grad=True) for a in base]
    tinylm.manual_seed(6)
    x = make(params).rsample()
    u = RNG.standard_normal(x.shape)
    (x * tinylm.tensor(u)).sum().backward()
    h = 1e-6
    for i in range(len(base)):
        moved = [tinylm.tensor(b + (h if j == i else 0)) for j, b in enumerate(base)]
        tinylm.manual_seed(6)
        xh = values(make(moved).rsample())
        np.testing.assert_allclose(
            values(params[i].grad), (xh - values(x)) / h * u, rtol=1e-4, atol=1e-6
        )


def test_multivariate_normal_rsample_is_differentiable_in_loc_and_scale_tril() -> None:
    """x = μ + L ε: ∂/∂μ sums the upstream u over the samples, ∂/∂L = Σ u εᵀ (lower part)."""
    loc = tinylm.tensor(MVN_LOC[0, 0], requires_grad=True)
    tril = tinylm.tensor(TRIL[0], requires_grad=True)
    tinylm.manual_seed(8)
    x = D(tinylm).MultivariateNormal(loc, scale_tril=tril).rsample((6,))
    u = RNG.standard_normal((6, 3))
    (x * tinylm.tensor(u)).sum().backward()
    eps = np.linalg.solve(TRIL[0], (values(x) - MVN_LOC[0, 0]).T).T
    np.testing.assert_allclose(values(loc.grad), u.sum(0), rtol=1e-12)
    np.testing.assert_allclose(values(tril.grad), u.T @ eps, rtol=1e-10, atol=1e-12)


def test_multivariate_normal_draws_have_its_covariance() -> None:
    tinylm.manual_seed(9)
    dist = D(tinylm).MultivariateNormal(tinylm.tensor(MVN_LOC[0, 0]), tinylm.tensor(COV[0]))
    draws = values(dist.sample((40_000,)))
    np.testing.assert_allclose(np.cov(draws.T), COV[0], rtol=0.05, atol=0.05)


BAD_CALLS = {
    "MultivariateNormal two matrices": (
        "lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2), scale_tril=lib.eye(2))",
        "exactly one of",
    ),
    "MultivariateNormal upper scale_tril": (
        "lib.distributions.MultivariateNormal(lib.zeros(2), "
        "scale_tril=lib.tensor([[1.0, 1.0], [0.0, 1.0]]))",
        "scale_tril",
    ),
    "MultivariateNormal 0-dim loc": (
        "lib.distributions.MultivariateNormal(lib.tensor(0.0), lib.eye(1))",
        "loc must be at least one-dimensional",
    ),
    "Exponential rate 0": ("lib.distributions.Exponential(lib.tensor([1.0, 0.0]))", "rate"),
    "Exponential negative value": (
        "lib.distributions.Exponential(lib.tensor([1.0])).log_prob(lib.tensor([-1.0]))",
        "support|outside",
    ),
    "Laplace scale negative": ("lib.distributions.Laplace(0.0, lib.tensor([-1.0]))", "scale"),
    "Gamma concentration 0": ("lib.distributions.Gamma(lib.tensor([0.0]), 1.0)", "concentration"),
    "Beta value above 1": (
        "lib.distributions.Beta(lib.tensor([2.0]), 2.0).log_prob(lib.tensor([1.5]))",
        "support|outside",
    ),
    "Dirichlet value off the simplex": (
        "lib.distributions.Dirichlet(lib.ones(3)).log_prob(lib.tensor([0.5, 0.2, 0.2]))",
        "support|outside",
    ),
    "Dirichlet 0-dim": ("lib.distributions.Dirichlet(lib.tensor(1.0))", "at least one dim"),
    "Poisson fractional count": (
        "lib.distributions.Poisson(lib.tensor([2.0])).log_prob(lib.tensor([1.5]))",
        "support|outside",
    ),
    "Poisson negative rate": ("lib.distributions.Poisson(lib.tensor([-2.0]))", "rate"),
    "Geometric probs 0": ("lib.distributions.Geometric(lib.tensor([0.0, 0.5]))", "probs"),
    "Binomial count above n": (
        "lib.distributions.Binomial(3, lib.tensor([0.5])).log_prob(lib.tensor([4.0]))",
        "support|outside",
    ),
    "Binomial fractional total_count": (
        "lib.distributions.Binomial(lib.tensor([2.5]), lib.tensor([0.5]))",
        "total_count",
    ),
    "StudentT df 0": ("lib.distributions.StudentT(lib.tensor([0.0]))", "df"),
    "LogNormal value 0": (
        "lib.distributions.LogNormal(0.0, 1.0).log_prob(lib.tensor([0.0]))",
        "support|outside",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_parameters_and_values_are_refused_in_one_line_as_torch(name: str) -> None:
    call, message = BAD_CALLS[name]
    refused_by_both(call, TinyLMError, message)


@pytest.mark.parametrize("kind", ["Gamma", "Beta", "Dirichlet", "StudentT"])
def test_rsample_through_gamma_draws_is_refused(kind: str) -> None:
    with pytest.raises(TinyLMError, match=f"{kind}.rsample: not supported") as err:
        KINDS[kind](tinylm).rsample()
    assert "\n" not in str(err.value)


def test_binomial_entropy_of_mixed_total_counts_is_refused_as_torch() -> None:
    refused_by_both(
        "lib.distributions.Binomial(lib.tensor([2.0, 3.0]), lib.tensor([0.5, 0.5])).entropy()",
        TinyLMError,
        "inhomogeneous total_count",
        NotImplementedError,
    )


def test_binomial_kl_with_fewer_trials_in_p_is_refused_as_torch() -> None:
    refused_by_both(
        "lib.distributions.kl_divergence(lib.distributions.Binomial(2, lib.tensor([0.5])), "
        "lib.distributions.Binomial(3, lib.tensor([0.5])))",
        TinyLMError,
        "p.total_count < q.total_count",
        NotImplementedError,
    )


def test_multivariate_normal_kl_of_different_sizes_is_refused_as_torch() -> None:
    refused_by_both(
        "lib.distributions.kl_divergence(lib.distributions.MultivariateNormal(lib.zeros(2), "
        "lib.eye(2)), lib.distributions.MultivariateNormal(lib.zeros(3), lib.eye(3)))",
        TinyLMError,
        "same event shape",
        ValueError,
    )


def test_kl_of_different_new_families_is_refused_as_torch() -> None:
    refused_by_both(
        "lib.distributions.kl_divergence(lib.distributions.Poisson(1.0), "
        "lib.distributions.Dirichlet(lib.ones(2)))",
        TinyLMError,
        "Poisson",
        NotImplementedError,
    )


def test_nonnegative_integer_checks_as_torchs() -> None:
    v = np.array([0.0, 1.0, 2.5, -1.0, 7.0])
    ours = D(tinylm).constraints.nonnegative_integer.check(tinylm.tensor(v))
    theirs = torch.distributions.constraints.nonnegative_integer.check(torch.tensor(v))
    np.testing.assert_array_equal(values(ours), values(theirs))
    assert repr(D(tinylm).constraints.nonnegative_integer) == repr(
        torch.distributions.constraints.nonnegative_integer
    )
