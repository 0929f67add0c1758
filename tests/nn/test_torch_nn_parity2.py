"""The second round of ``torch.nn`` pieces PyTorch code ports with — the activations of
``F.more_activations`` (logsigmoid … prelu, gumbel_softmax), ``pairwise_distance``, the
ranking, embedding and likelihood losses, ``group_norm``, their Modules,
``nn.init.orthogonal_`` and ``nn.utils.parameters_to_vector``/``vector_to_parameters`` —
checked against PyTorch itself: the same call in both libraries on the same float64 values,
the same output values, shapes and dtypes, and the same gradient of every float input for
one random upstream gradient, with edge values at the kinks and transposed (strided) inputs;
the reprs and state_dict keys of the Modules; and tinylm's refusals, one line each.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import (  # noqa: E402 - after the skip
    assert_same,
    backward_of_random_sum,
    copy_weights,
    values,
)

TF = torch.nn.functional

pytestmark = pytest.mark.torch

REDUCTIONS = pytest.mark.parametrize("reduction", ["mean", "sum", "none"])


def functional(lib: Any) -> Any:
    return F if lib is tinylm else TF


def run(
    lib: Any, fn: Any, arrays: list[np.ndarray], grads: Any = None, module: Any = None
) -> list[np.ndarray | None]:
    """fn(lib, *tensors): the outputs, then each input's gradient (None where it has none)
    and ``module``'s parameters' gradients, after a backward with one random upstream
    gradient per float output. ``grads[i]`` False keeps input i out of the gradients (float
    inputs need them by default)."""
    grads = [True] * len(arrays) if grads is None else grads
    ts = [
        lib.tensor(a, requires_grad=bool(want and a.dtype.kind == "f"))
        for a, want in zip(arrays, grads)
    ]
    outs = fn(lib, *ts)
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    backward_of_random_sum(lib, outs, np.random.default_rng(0))
    params = [] if module is None else [p for _, p in module.named_parameters()]
    return (
        [values(o) for o in outs]
        + [None if t.grad is None else values(t.grad) for t in ts]
        + [None if p.grad is None else values(p.grad) for p in params]
    )


def both(fn: Any, arrays: list[np.ndarray], grads: Any = None, rtol: float = 1e-10) -> None:
    assert_same(run(tinylm, fn, arrays, grads), run(torch, fn, arrays, grads), rtol)


RNG = np.random.default_rng(0)
# the kinks of the activations below (0, ±0.5, ±1, ±2.5, ±3, 6, the thresholds) and
# numbers large enough to overflow a careless exp, then random values
EDGES = [-800.0, -7, -6, -3, -2.5, -1, -0.5, 0, 0.5, 1, 2.5, 3, 6, 7, 800]
X = RNG.standard_normal((4, 5, 6)) * 4
X.reshape(-1)[: len(EDGES)] = EDGES

ACTIVATIONS = {
    "logsigmoid": lambda f, x: f.logsigmoid(x),
    "relu6": lambda f, x: f.relu6(x),
    "hardtanh": lambda f, x: f.hardtanh(x),
    "hardtanh -1 6": lambda f, x: f.hardtanh(x, -1.0, 6.0),
    "hardtanh 0.5 3 keywords": lambda f, x: f.hardtanh(x, min_val=0.5, max_val=3.0),
    "mish": lambda f, x: f.mish(x),
    "hardswish": lambda f, x: f.hardswish(x),
    "selu": lambda f, x: f.selu(x),
    "celu": lambda f, x: f.celu(x),
    "celu 0.5": lambda f, x: f.celu(x, 0.5),
    "celu -2": lambda f, x: f.celu(x, alpha=-2.0),
    "softsign": lambda f, x: f.softsign(x),
    "tanhshrink": lambda f, x: f.tanhshrink(x),
    "softshrink": lambda f, x: f.softshrink(x),
    "softshrink 1": lambda f, x: f.softshrink(x, 1.0),
    "softshrink 0": lambda f, x: f.softshrink(x, lambd=0.0),
    "hardshrink": lambda f, x: f.hardshrink(x),
    "hardshrink 3": lambda f, x: f.hardshrink(x, 3.0),
    "hardshrink -1": lambda f, x: f.hardshrink(x, -1.0),
    "threshold": lambda f, x: f.threshold(x, 1.0, 20.0),
    "threshold -0.5 -3": lambda f, x: f.threshold(x, -0.5, -3),
    "softmin 0": lambda f, x: f.softmin(x, 0),
    "softmin -1": lambda f, x: f.softmin(x, dim=-1),
    "glu": lambda f, x: f.glu(x),
    "glu 0": lambda f, x: f.glu(x, 0),
}


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_match_torch(name: str, strided: bool) -> None:
    """Values and gradients at the kinks (each library's one-sided choice), at ±800 (no
    overflow) and elsewhere; also on a transposed view of the input."""
    if strided:
        both(lambda lib, x: ACTIVATIONS[name](functional(lib), x.transpose(0, 2)), [X])
    else:
        both(lambda lib, x: ACTIVATIONS[name](functional(lib), x), [X])


def test_hardsigmoid_matches_torch_and_its_slope_is_exactly_a_sixth() -> None:
    """PyTorch's float64 hardsigmoid backward multiplies by 1/6 rounded to float32 (a relative
    error of 3e-8); tinylm's slope is 1/6 in the input's dtype."""
    both(lambda lib, x: functional(lib).hardsigmoid(x), [X], rtol=1e-7)
    x = tinylm.tensor(X, requires_grad=True)
    F.hardsigmoid(x).sum().backward()
    inside = (X > -3) & (X < 3)
    assert inside.any() and (~inside).any()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(inside, 1 / 6, 0.0))
    ours, theirs = (values(functional(lib).hardsigmoid(lib.tensor(X))) for lib in (tinylm, torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)


def test_celu_gradient_is_exact_where_torchs_rounds_one_over_alpha_to_float32() -> None:
    """PyTorch's CELU backward uses 1/α rounded to float32 (its derivatives.yaml:
    ``1.0/alpha.toFloat()``), so for α = 0.7 its float64 gradient is off by ~1e-7 relative;
    tinylm's is e^{x/α} (x ≤ 0) in float64. The values agree to rounding."""
    both(lambda lib, x: functional(lib).celu(x, 0.7), [X], rtol=1e-6)
    x = tinylm.tensor(X, requires_grad=True)
    y = F.celu(x, 0.7)
    y.sum().backward()
    exact = np.where(X > 0, 1.0, np.exp(np.minimum(X, 0) / 0.7))
    np.testing.assert_allclose(x.grad.numpy(), exact, rtol=1e-14)
    theirs = TF.celu(torch.tensor(X), 0.7)
    np.testing.assert_allclose(values(y), values(theirs), rtol=1e-14, atol=1e-300)


def test_logsigmoid_is_stable_where_the_naive_formula_is_not() -> None:
    x = tinylm.tensor([-1000.0, -40.0, 40.0, 1000.0], dtype=tinylm.float64, requires_grad=True)
    y = F.logsigmoid(x)
    y.sum().backward()
    np.testing.assert_allclose(values(y), [-1000.0, -40.0, -math.exp(-40), 0.0], rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, math.exp(-40), 0.0], rtol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda f, x: f.relu6(x),
        lambda f, x: f.hardtanh(x, -2, 3),
        lambda f, x: f.threshold(x, 1, 7),
        lambda f, x: f.softsign(x),
        lambda f, x: f.tanhshrink(x),
    ],
    ids=["relu6", "hardtanh", "threshold", "softsign", "tanhshrink"],
)
def test_integer_inputs_give_torchs_dtype(call: Any) -> None:
    a = np.array([[-5, -1, 0], [1, 2, 9]], dtype=np.int64)
    ours, theirs = (call(functional(lib), lib.tensor(a)) for lib in (tinylm, torch))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(values(ours), values(theirs), rtol=1e-6)


@pytest.mark.parametrize(
    "name", ["logsigmoid", "mish", "hardswish", "hardsigmoid", "selu", "celu", "softshrink"]
)
def test_float_only_activations_refuse_integers_as_torch_does(name: str) -> None:
    a = np.array([1, 2], dtype=np.int64)
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor(a))
    with pytest.raises(TinyLMError, match=f"^{name}: input must be floating point, got int64$"):
        getattr(F, name)(tinylm.tensor(a))


PRELU = {
    "one slope (N, C, L)": ((2, 3, 4), (1,)),
    "per channel (N, C, L)": ((2, 3, 4), (3,)),
    "per channel (N, C)": ((5, 3), (3,)),
    "per channel (N, C, H, W)": ((2, 3, 2, 2), (3,)),
    "1-D input": ((7,), (1,)),
    "0-d input, 0-d slope": ((), ()),
}


@pytest.mark.parametrize("name", list(PRELU))
def test_prelu_matches_torch(name: str) -> None:
    """The input's and the slopes' gradients (summed over each channel's x ≤ 0)."""
    x_shape, w_shape = PRELU[name]
    x = RNG.standard_normal(x_shape)
    if x.ndim:
        x.reshape(-1)[0] = 0.0  # the kink: no slope gradient from x = 0
    w = RNG.standard_normal(w_shape)
    both(lambda lib, x, w: functional(lib).prelu(x, w), [x, w])


def test_prelu_on_a_transposed_input_matches_torch() -> None:
    x, w = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(4)
    both(lambda lib, x, w: functional(lib).prelu(x.transpose(0, 1), w), [x, w])


PAIRWISE = {
    "p=2": dict(),
    "p=1": dict(p=1.0),
    "p=3 keepdim": dict(p=3, keepdim=True),
    "p=0.5": dict(p=0.5),
    "p=-2": dict(p=-2.0),
    "p=inf": dict(p=math.inf),
    "p=-inf": dict(p=-math.inf),
    "eps=0.1": dict(eps=0.1),
}


@pytest.mark.parametrize("shapes", [((5, 4), (5, 4)), ((3, 5, 4), (5, 4)), ((4,), (4,))])
@pytest.mark.parametrize("name", list(PAIRWISE))
def test_pairwise_distance_matches_torch(name: str, shapes: Any) -> None:
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    kwargs = PAIRWISE[name]
    both(lambda lib, a, b: functional(lib).pairwise_distance(a, b, **kwargs), [a, b])
    both(lambda lib, a, b: lib.nn.PairwiseDistance(**kwargs)(b, a), [a, b])


def test_pairwise_distance_edges_match_torch() -> None:
    """x1 = x2 with eps = 0 (a zero vector: gradient 0), ties for p = inf (shared), p = 0
    (a count with no gradient), 0-d inputs, integers (the default float dtype), and a
    transposed input."""
    a = np.array([[1.0, 2.0, 3.0], [1.0, -4.0, 4.0]])
    b = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    for p in (2.0, 1.0, 3.0, 0.5, math.inf):
        both(lambda lib, a, b, p=p: functional(lib).pairwise_distance(a, b, p, 0.0), [a, b])
    both(lambda lib, a, b: functional(lib).pairwise_distance(a, b, 0), [a, b])
    both(lambda lib, a, b: functional(lib).pairwise_distance(a, b), [np.array(2.0), np.array(0.5)])
    both(
        lambda lib, a, b: functional(lib).pairwise_distance(a.t(), b.t()), [a.T.copy(), b.T.copy()]
    )
    ints = [np.array([[1, 2], [3, 5]]), np.array([[0, 2], [1, 1]])]
    both(lambda lib, a, b: functional(lib).pairwise_distance(a, b), ints)


def test_cosine_similarity_module_matches_torch() -> None:
    a, b = RNG.standard_normal((3, 4, 5)), RNG.standard_normal((3, 1, 5))
    both(lambda lib, a, b: lib.nn.CosineSimilarity()(a, b), [a, b])
    both(lambda lib, a, b: lib.nn.CosineSimilarity(dim=-1, eps=1e-3)(a, b), [a, b])
    assert repr(tinylm.nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())


# ---------------------------------------------------------------------------------------
# Losses: values, every float input's gradient (targets' too where PyTorch gives one)
# ---------------------------------------------------------------------------------------

SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
X1, X2 = RNG.standard_normal(8), RNG.standard_normal(8)
X2[0] = X1[0]  # −y (x1 − x2) + 0 = 0: the hinge's kink (clamp passes the gradient there)
E1, E2 = RNG.standard_normal((6, 5)), RNG.standard_normal((6, 5))
E1[5] = 0.0  # a zero embedding: cos = 0 through the ε of the denominator
NEG = RNG.standard_normal((6, 5))
LABELS = np.array([1, -1, 1, -1, 0, -1])  # 0: neither label (no loss here)
SCORES = RNG.standard_normal((3, 4)) * 3
MULTI = (RNG.random((3, 4)) > 0.5).astype(np.float64)
COUNTS = np.array([[0.0, 1.0, 2.0, 5.0], [3.0, 0.0, 1.0, 8.0], [1.5, 2.0, 0.0, 4.0]])
VAR = RNG.random((3, 4)) + 0.1
VAR[0, 0], VAR[0, 1] = 1e-9, 0.0  # below eps: clamped, the gradient still flows

LOSSES: dict[str, tuple[Any, list[np.ndarray], list[bool]]] = {
    "margin_ranking_loss": (
        lambda f, a, b, y, r: f.margin_ranking_loss(a, b, y, reduction=r),
        [X1, X2, SIGNS],
        [True, True, True],
    ),
    "margin_ranking_loss margin int target": (
        lambda f, a, b, y, r: f.margin_ranking_loss(a, b, y, 0.5, reduction=r),
        [X1, X2, SIGNS.astype(np.int64)],
        [True, True, False],
    ),
    "margin_ranking_loss (2, 4) broadcast": (
        lambda f, a, b, y, r: f.margin_ranking_loss(
            a.reshape(2, 4), b[:4].reshape(1, 4), y, 0.1, reduction=r
        ),
        [X1, X2, SIGNS.reshape(2, 4)],
        [True, True, True],
    ),
    "hinge_embedding_loss": (
        lambda f, x, y, r: f.hinge_embedding_loss(x, y, reduction=r),
        [np.array([-0.5, 0.2, 1.0, 1.5, 0.3, 2.0]), LABELS],
        [True, False],
    ),
    "hinge_embedding_loss margin broadcast": (
        lambda f, x, y, r: f.hinge_embedding_loss(x, y, margin=2.0, reduction=r),
        [E1, LABELS[:5].astype(np.float64)],
        [True, False],
    ),
    "cosine_embedding_loss": (
        lambda f, a, b, y, r: f.cosine_embedding_loss(a, b, y, reduction=r),
        [E1, E2, LABELS],
        [True, True, False],
    ),
    "cosine_embedding_loss margin float target": (
        lambda f, a, b, y, r: f.cosine_embedding_loss(a, b, y, 0.3, reduction=r),
        [E1, E2, LABELS.astype(np.float64)],
        [True, True, False],
    ),
    "cosine_embedding_loss 1-D": (
        lambda f, a, b, y, r: f.cosine_embedding_loss(a[1], b[1], y, -0.5, reduction=r),
        [E1, E2, np.array(-1)],
        [True, True, False],
    ),
    "cosine_embedding_loss transposed": (
        lambda f, a, b, y, r: f.cosine_embedding_loss(a.t(), b, y, reduction=r),
        [E1[:5].T.copy(), E2[:5], LABELS[:5]],
        [True, True, False],
    ),
    "triplet_margin_loss": (
        lambda f, a, p, n, r: f.triplet_margin_loss(a, p, n, reduction=r),
        [E1, E2, NEG],
        [True, True, True],
    ),
    "triplet_margin_loss p=1 margin swap": (
        lambda f, a, p, n, r: f.triplet_margin_loss(a, p, n, 0.5, 1, swap=True, reduction=r),
        [E1, E2, NEG],
        [True, True, True],
    ),
    "triplet_margin_loss p=3 eps 1-D": (
        lambda f, a, p, n, r: f.triplet_margin_loss(a[0], p[0], n[0], 3.0, 3, 1e-3, reduction=r),
        [E1, E2, NEG],
        [True, True, True],
    ),
    "soft_margin_loss": (
        lambda f, x, y, r: f.soft_margin_loss(x, y, reduction=r),
        [SCORES, np.sign(MULTI - 0.5)],
        [True, False],
    ),
    "soft_margin_loss broadcast int target transposed": (
        lambda f, x, y, r: f.soft_margin_loss(x.t(), y, reduction=r),
        [SCORES.T.copy(), np.array([1, -1, 1, -1])],
        [True, False],
    ),
    "multilabel_soft_margin_loss": (
        lambda f, x, y, r: f.multilabel_soft_margin_loss(x, y, reduction=r),
        [SCORES, MULTI],
        [True, True],
    ),
    "multilabel_soft_margin_loss weight": (
        lambda f, x, y, w, r: f.multilabel_soft_margin_loss(x, y, w, reduction=r),
        [SCORES * 100, MULTI, np.array([0.5, 1.0, 2.0, 0.0])],
        [True, True, True],
    ),
    "multilabel_soft_margin_loss 1-D int target": (
        lambda f, x, y, r: f.multilabel_soft_margin_loss(x[0], y, reduction=r),
        [SCORES, MULTI[0].astype(np.int64)],
        [True, False],
    ),
    "gaussian_nll_loss": (
        lambda f, x, y, v, r: f.gaussian_nll_loss(x, y, v, reduction=r),
        [SCORES, MULTI, VAR],
        [True, True, True],
    ),
    "gaussian_nll_loss full eps, one var per row": (
        lambda f, x, y, v, r: f.gaussian_nll_loss(x, y, v[:, 0], True, 1e-2, r),
        [SCORES, MULTI, VAR],
        [True, True, True],
    ),
    "gaussian_nll_loss var (3, 1)": (
        lambda f, x, y, v, r: f.gaussian_nll_loss(x, y, v[:, :1], reduction=r),
        [SCORES, MULTI, VAR],
        [True, True, True],
    ),
    "gaussian_nll_loss var (1, 4)": (
        lambda f, x, y, v, r: f.gaussian_nll_loss(x, y, v[:1], reduction=r),
        [SCORES, MULTI, VAR],
        [True, True, True],
    ),
    "gaussian_nll_loss var float": (
        lambda f, x, y, r: f.gaussian_nll_loss(x, y, 0.7, full=True, reduction=r),
        [SCORES, MULTI],
        [True, True],
    ),
    "poisson_nll_loss": (
        lambda f, x, y, r: f.poisson_nll_loss(x, y, reduction=r),
        [SCORES, COUNTS],
        [True, True],
    ),
    "poisson_nll_loss full": (
        lambda f, x, y, r: f.poisson_nll_loss(x, y, full=True, reduction=r),
        [SCORES, COUNTS],
        [True, True],
    ),
    "poisson_nll_loss rates eps full": (
        lambda f, x, y, r: f.poisson_nll_loss(x.abs(), y, False, True, eps=1e-3, reduction=r),
        [SCORES, COUNTS],
        [True, True],
    ),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's log(0) of a masked term
@REDUCTIONS
@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_match_torch(name: str, reduction: str) -> None:
    """Values (and "none"'s shape), and the gradients of every float input: targets' too
    where PyTorch gives them one (NaN where both libraries do: poisson's masked Stirling
    term at a zero count)."""
    fn, arrays, grads = LOSSES[name]
    both(lambda lib, *ts: fn(functional(lib), *ts, reduction), arrays, grads)


def test_soft_margin_loss_stays_finite_where_torchs_overflows() -> None:
    """A documented difference: log(1 + e^{−yx}) of yx = −1000 is 1000 here, inf in PyTorch."""
    x = tinylm.tensor([-1000.0, 1000.0], requires_grad=True)
    loss = F.soft_margin_loss(x, tinylm.tensor([1.0, 1.0]), reduction="sum")
    loss.backward()
    assert loss.item() == 1000.0  # and PyTorch's is inf
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0])


# ---------------------------------------------------------------------------------------
# group_norm
# ---------------------------------------------------------------------------------------

GROUP_NORM = {
    "(N, C) 2 groups": ((4, 6), 2, True),
    "(N, C, L) 3 groups": ((2, 6, 5), 3, True),
    "(N, C, H, W) 1 group": ((2, 6, 3, 2), 1, True),
    "(N, C, L) a group per channel": ((2, 6, 5), 6, True),
    "(N, C, L) no affine": ((2, 6, 5), 2, False),
}


@pytest.mark.parametrize("name", list(GROUP_NORM))
def test_group_norm_matches_torch(name: str) -> None:
    shape, groups, affine = GROUP_NORM[name]
    x = RNG.standard_normal(shape) * 3 + 1
    w, b = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    if affine:
        both(lambda lib, x, w, b: functional(lib).group_norm(x, groups, w, b), [x, w, b])
        both(lambda lib, x, w: functional(lib).group_norm(x, groups, w, eps=1e-2), [x, w])
    else:
        both(lambda lib, x: functional(lib).group_norm(x, groups), [x])


def test_group_norm_on_a_transposed_input_matches_torch() -> None:
    x, w, b = RNG.standard_normal((5, 6, 2)), RNG.standard_normal(6), RNG.standard_normal(6)
    both(
        lambda lib, x, w, b: functional(lib).group_norm(x.permute(2, 1, 0), 3, w, b, 1e-3),
        [x, w, b],
    )


# ---------------------------------------------------------------------------------------
# Modules: repr, state_dict keys, values and gradients with PyTorch's parameters copied
# ---------------------------------------------------------------------------------------

MODULES: dict[str, tuple[Any, tuple[int, ...]]] = {
    "LogSigmoid": (lambda nn: nn.LogSigmoid(), (3, 4, 6)),
    "ReLU6": (lambda nn: nn.ReLU6(), (3, 4, 6)),
    "Hardtanh": (lambda nn: nn.Hardtanh(-2.0, 2.5), (3, 4, 6)),
    "GLU": (lambda nn: nn.GLU(1), (3, 4, 6)),
    "Mish": (lambda nn: nn.Mish(), (3, 4, 6)),
    "Hardswish": (lambda nn: nn.Hardswish(), (3, 4, 6)),
    "Softsign": (lambda nn: nn.Softsign(), (3, 4, 6)),
    "SELU": (lambda nn: nn.SELU(), (3, 4, 6)),
    "CELU": (lambda nn: nn.CELU(0.5), (3, 4, 6)),
    "Threshold": (lambda nn: nn.Threshold(0.1, 20), (3, 4, 6)),
    "Softmin": (lambda nn: nn.Softmin(dim=1), (3, 4, 6)),
    "Tanhshrink": (lambda nn: nn.Tanhshrink(), (3, 4, 6)),
    "Softshrink": (lambda nn: nn.Softshrink(0.3), (3, 4, 6)),
    "Hardshrink": (lambda nn: nn.Hardshrink(), (3, 4, 6)),
    "PReLU": (lambda nn: nn.PReLU(), (3, 4, 6)),
    "PReLU per channel": (lambda nn: nn.PReLU(4, init=0.1), (3, 4, 6)),
    "GroupNorm": (lambda nn: nn.GroupNorm(2, 4), (3, 4, 6)),
    "GroupNorm no bias": (lambda nn: nn.GroupNorm(4, 4, 1e-3, bias=False), (3, 4, 6)),
    "GroupNorm no affine": (lambda nn: nn.GroupNorm(1, 4, affine=False), (3, 4)),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_match_torch(name: str) -> None:
    make, shape = MODULES[name]
    ours, theirs = make(tinylm.nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for p, q in zip(ours.parameters(), theirs.parameters()):  # the initial values
        np.testing.assert_array_equal(values(p), values(q))
        assert str(p.dtype).split(".")[-1] == str(q.dtype).split(".")[-1]
    copy_weights(ours, theirs)
    x = RNG.standard_normal(shape) * 3
    assert_same(
        run(tinylm, lambda lib, x: ours(x), [x], module=ours),
        run(torch, lambda lib, x: theirs(x), [x], module=theirs),
    )


def test_hardsigmoid_module_repr_and_values_match_torch() -> None:
    assert repr(tinylm.nn.Hardsigmoid()) == repr(torch.nn.Hardsigmoid())
    both(lambda lib, x: lib.nn.Hardsigmoid()(x), [X], rtol=1e-7)


LOSS_MODULES: dict[str, tuple[Any, list[np.ndarray]]] = {
    "MarginRankingLoss": (lambda nn: nn.MarginRankingLoss(0.2), [X1, X2, SIGNS]),
    "CosineEmbeddingLoss": (
        lambda nn: nn.CosineEmbeddingLoss(0.1, reduction="sum"),
        [E1, E2, LABELS],
    ),
    "TripletMarginLoss": (lambda nn: nn.TripletMarginLoss(0.5, 1.0, swap=True), [E1, E2, NEG]),
    "HingeEmbeddingLoss": (lambda nn: nn.HingeEmbeddingLoss(0.5, reduction="none"), [E1, E2]),
    "SoftMarginLoss": (lambda nn: nn.SoftMarginLoss(), [SCORES, np.sign(MULTI - 0.5)]),
    "MultiLabelSoftMarginLoss": (
        lambda nn: nn.MultiLabelSoftMarginLoss(reduction="sum"),
        [SCORES, MULTI],
    ),
    "GaussianNLLLoss": (lambda nn: nn.GaussianNLLLoss(full=True), [SCORES, MULTI, VAR]),
    "PoissonNLLLoss": (
        lambda nn: nn.PoissonNLLLoss(False, True, eps=1e-3, reduction="none"),
        [np.abs(SCORES), COUNTS + 1],
    ),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(LOSS_MODULES))
def test_loss_modules_match_torch(name: str) -> None:
    make, arrays = LOSS_MODULES[name]
    ours, theirs = make(tinylm.nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    grads = [True] * len(arrays)
    if name in ("SoftMarginLoss", "CosineEmbeddingLoss"):
        grads[-1] = False  # PyTorch refuses a target that requires grad / gives it none
    assert_same(
        run(tinylm, lambda lib, *ts: ours(*ts), arrays, grads),
        run(torch, lambda lib, *ts: theirs(*ts), arrays, grads),
    )


def test_multilabel_soft_margin_loss_weight_is_a_buffer_as_torchs() -> None:
    w = np.array([0.5, 1.0, 2.0, 0.0])
    ours = tinylm.nn.MultiLabelSoftMarginLoss(tinylm.tensor(w))
    theirs = torch.nn.MultiLabelSoftMarginLoss(torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert_same(
        run(tinylm, lambda lib, x, y: ours(x, y), [SCORES, MULTI]),
        run(torch, lambda lib, x, y: theirs(x, y), [SCORES, MULTI]),
    )


# ---------------------------------------------------------------------------------------
# gumbel_softmax (random: tinylm's draws are not PyTorch's; its properties are checked)
# ---------------------------------------------------------------------------------------


def _gumbel(seed: int, logits: np.ndarray, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    tinylm.manual_seed(seed)
    x = tinylm.tensor(logits, requires_grad=True)
    y = F.gumbel_softmax(x, **kwargs)
    up = np.random.default_rng(1).standard_normal(logits.shape)
    (y * tinylm.tensor(up)).sum().backward()
    return values(y), x.grad.numpy()


@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient(dim: int) -> None:
    logits = RNG.standard_normal((5, 4))
    soft, soft_grad = _gumbel(3, logits, tau=0.5, dim=dim)
    hard, hard_grad = _gumbel(3, logits, tau=0.5, hard=True, dim=dim)
    np.testing.assert_allclose(soft.sum(axis=dim), 1.0, rtol=1e-12)
    assert set(np.unique(hard)) == {0.0, 1.0}
    np.testing.assert_array_equal(hard.sum(axis=dim), 1.0)
    np.testing.assert_array_equal(hard.argmax(axis=dim), soft.argmax(axis=dim))
    np.testing.assert_array_equal(hard_grad, soft_grad)
    assert np.abs(soft_grad).max() > 0


def test_gumbel_softmax_soft_is_torchs_softmax_of_the_noisy_logits() -> None:
    """The soft sample is softmax((logits + G) / tau) for the noise G it drew: recovered
    from the sample (log y · tau − logits is G up to a constant per row), then fed to
    PyTorch's softmax, with gradients compared too."""
    logits = RNG.standard_normal((3, 6))
    tau = 0.7
    y, grad = _gumbel(5, logits, tau=tau)
    g = np.log(y) * tau - logits
    theirs_x = torch.tensor(logits, requires_grad=True)
    theirs = ((theirs_x + torch.tensor(g)) / tau).softmax(-1)
    up = np.random.default_rng(1).standard_normal(logits.shape)
    (theirs * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(y, values(theirs), rtol=1e-10)
    np.testing.assert_allclose(grad, values(theirs_x.grad), rtol=1e-9, atol=1e-12)


def test_gumbel_softmax_samples_follow_the_softmax_of_the_logits() -> None:
    """The Gumbel-max trick: argmax of the sample is drawn from softmax(logits)."""
    tinylm.manual_seed(0)
    logits = np.array([1.0, 0.0, -1.0, 2.0])
    rows = tinylm.tensor(np.tile(logits, (20000, 1)))
    first = F.gumbel_softmax(rows, hard=True).numpy()
    counts = np.bincount(first.argmax(-1), minlength=4)
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(counts / 20000, p, atol=0.015)
    tinylm.manual_seed(0)
    np.testing.assert_array_equal(F.gumbel_softmax(rows, hard=True).numpy(), first)  # the seed


# ---------------------------------------------------------------------------------------
# nn.init.orthogonal_, nn.utils.parameters_to_vector / vector_to_parameters
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4), (3, 2, 4), (8, 2, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_init_is_orthogonal_as_torchs(shape: tuple[int, ...], gain: float) -> None:
    """Rows orthonormal·gain when rows ≤ cols, else columns (the tensor viewed as
    (shape[0], the rest)); the same property holds for PyTorch's, and the entries have the
    same scale (a random orthogonal matrix: mean square gain²·min/(rows·cols))."""
    rows, cols = shape[0], math.prod(shape[1:])
    ours = tinylm.nn.init.orthogonal_(tinylm.zeros(*shape, dtype=tinylm.float64), gain)
    theirs = torch.nn.init.orthogonal_(torch.zeros(*shape, dtype=torch.float64), gain)
    assert tuple(ours.shape) == shape
    for w in (values(ours).reshape(rows, cols), values(theirs).reshape(rows, cols)):
        gram = w @ w.T if rows <= cols else w.T @ w
        np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_init_is_reproducible_and_refuses_vectors() -> None:
    a = tinylm.nn.init.orthogonal_(tinylm.empty(5, 3), generator=tinylm.manual_seed(7))
    b = tinylm.nn.init.orthogonal_(tinylm.empty(5, 3), generator=tinylm.manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == tinylm.float32
    with pytest.raises(TinyLMError, match=r"^orthogonal_: needs a tensor with at least 2 dims"):
        tinylm.nn.init.orthogonal_(tinylm.zeros(4))


def test_parameters_to_vector_and_back_match_torch() -> None:
    shapes = [(2, 3), (4,), (1, 2, 2)]
    params = [RNG.standard_normal(s) for s in shapes]
    vec = RNG.standard_normal(14)
    results = []
    for lib in (tinylm, torch):
        ps = [lib.nn.Parameter(lib.tensor(p)) for p in params]
        v = lib.nn.utils.parameters_to_vector(ps)
        (v * lib.tensor(vec)).sum().backward()  # the gradient reaches each parameter
        grads = [values(p.grad) for p in ps]
        new = lib.tensor(vec * 2)
        lib.nn.utils.vector_to_parameters(new, ps)
        results.append((values(v), grads, [values(p) for p in ps]))
        assert all(type(p).__name__ == "Parameter" and p.requires_grad for p in ps)
        with lib.no_grad():
            new[0] = 100.0  # the parameters view vec's memory, in both
        assert ps[0][0, 0].item() == 100.0
    (v1, g1, p1), (v2, g2, p2) = results
    np.testing.assert_array_equal(v1, v2)
    for a, b in zip(g1 + p1, g2 + p2):
        np.testing.assert_array_equal(a, b)


def test_vector_to_parameters_refuses_a_short_vector_and_a_non_tensor() -> None:
    ps = [tinylm.nn.Parameter(tinylm.zeros(3, 2))]
    with pytest.raises(TinyLMError, match=r"^vector_to_parameters: vec has 5 elements, the"):
        tinylm.nn.utils.vector_to_parameters(tinylm.zeros(5), ps)
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        tinylm.nn.utils.vector_to_parameters([0.0] * 6, ps)


# ---------------------------------------------------------------------------------------
# Refusals: one clear line each
# ---------------------------------------------------------------------------------------

X_T = tinylm.tensor(RNG.standard_normal((2, 3)))

BAD_CALLS = {
    "glu odd": (lambda: F.glu(X_T, 1), r"^glu: the halving dim must be even, but dim 1"),
    "glu 0-d": (lambda: F.glu(tinylm.tensor(1.0)), r"^glu: does not take a 0-d tensor"),
    "softmin no dim": (lambda: F.softmin(X_T), r"^softmin: pass dim"),
    "softshrink negative": (lambda: F.softshrink(X_T, -1.0), r"^softshrink: lambd must be ≥ 0"),
    "celu alpha 0": (lambda: F.celu(X_T, 0.0), r"^celu: alpha cannot be 0"),
    "hardtanh bounds": (
        lambda: F.hardtanh(X_T, 1.0, -1.0),
        r"^hardtanh: min_val \(1.0\) cannot be greater than max_val \(-1.0\)$",
    ),
    "relu6 inplace": (lambda: F.relu6(X_T, inplace=True), r"^relu6: inplace=True is not supp"),
    "prelu channels": (
        lambda: F.prelu(X_T, tinylm.ones(2, dtype=tinylm.float64)),
        r"^prelu: weight has 2 slopes but the input \(2, 3\) has 3 channels",
    ),
    "prelu 2-D weight": (
        lambda: F.prelu(X_T, tinylm.ones(1, 3, dtype=tinylm.float64)),
        r"^prelu: weight must be a scalar or 1-D tensor, got shape \(1, 3\)$",
    ),
    "gumbel eps": (
        lambda: F.gumbel_softmax(X_T, eps=1e-5),
        r"^gumbel_softmax: eps is deprecated in PyTorch",
    ),
    "pairwise broadcast": (
        lambda: F.pairwise_distance(X_T, tinylm.zeros(4)),
        r"^pairwise_distance: x1 \(2, 3\) and x2 \(4,\) do not broadcast",
    ),
    "group_norm groups": (
        lambda: F.group_norm(X_T, 2),
        r"^group_norm: the 3 channels of input \(2, 3\) are not divisible by num_groups=2$",
    ),
    "group_norm 1-D": (
        lambda: F.group_norm(tinylm.zeros(3), 1),
        r"^group_norm: input must be \(N, C, \*\) with at least 2 dims",
    ),
    "group_norm weight": (
        lambda: F.group_norm(X_T, 3, tinylm.ones(2, dtype=tinylm.float64)),
        r"^group_norm: weight has shape \(2,\), expected \(3,\)",
    ),
    "GroupNorm divisible": (
        lambda: tinylm.nn.GroupNorm(2, 5),
        r"^GroupNorm: num_channels \(5\) must be divisible by num_groups \(2\)$",
    ),
    "Hardtanh min_value": (
        lambda: tinylm.nn.Hardtanh(min_value=-2.0),
        r"^Hardtanh: min_value and max_value are PyTorch's deprecated names",
    ),
    "Mish inplace": (lambda: tinylm.nn.Mish(inplace=True), r"^Mish: inplace=True is not supp"),
    "loss size_average": (
        lambda: tinylm.nn.TripletMarginLoss(size_average=True),
        r"^TripletMarginLoss: size_average and reduce are PyTorch's deprecated",
    ),
    "loss reduction": (
        lambda: F.margin_ranking_loss(X_T, X_T, X_T, reduction="avg"),
        r"^margin_ranking_loss: reduction must be one of",
    ),
    "margin ranking dims": (
        lambda: F.margin_ranking_loss(X_T, X_T, tinylm.ones(3)),
        r"^margin_ranking_loss: input1 \(2, 3\), input2 \(2, 3\) and target \(3,\) must have",
    ),
    "cosine embedding target": (
        lambda: F.cosine_embedding_loss(X_T, X_T, tinylm.ones(2, 3)),
        r"^cosine_embedding_loss: expected inputs \(N, D\) with target \(N,\)",
    ),
    "triplet dims": (
        lambda: F.triplet_margin_loss(X_T, X_T, X_T[0]),
        r"^triplet_margin_loss: anchor \(2, 3\), positive \(2, 3\) and negative \(3,\)",
    ),
    "soft margin target grad": (
        lambda: F.soft_margin_loss(X_T, tinylm.ones(2, 3, requires_grad=True)),
        r"^soft_margin_loss: is not differentiable in target",
    ),
    "multilabel 0-d": (
        lambda: F.multilabel_soft_margin_loss(tinylm.tensor(1.0), tinylm.tensor(1.0)),
        r"^multilabel_soft_margin_loss: input must have a class dim",
    ),
    "gaussian var negative": (
        lambda: F.gaussian_nll_loss(X_T, X_T, -tinylm.ones(2, 3)),
        r"^gaussian_nll_loss: var has negative entries",
    ),
    "gaussian var shape": (
        lambda: F.gaussian_nll_loss(X_T, X_T, tinylm.ones(2, 2)),
        r"^gaussian_nll_loss: var has shape \(2, 2\); for input \(2, 3\) give",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_calls_are_one_clear_line(name: str) -> None:
    call, message = BAD_CALLS[name]
    with pytest.raises(TinyLMError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
