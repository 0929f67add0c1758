"""The Functions behind the activations, norms and losses that joined ``tinylm.nn.functional``
(SiLU, leaky ReLU, softplus, ELU, the p-norm of ``normalize``, L1, smooth L1 / Huber, KL
divergence) and the compositions of the Elman RNN and the GRU, against central finite
differences in float64 with random upstream gradients; and their errors, one line each.
Needs no torch (the comparison with PyTorch is in ``tests/test_torch_api_nn.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError, nn
from tinylm.testing import gradcheck, module_function


def _t(a: Any, requires_grad: bool = True) -> tinylm.Tensor:
    return tinylm.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _away_from(a: np.ndarray, kinks: list[float], margin: float = 1e-3) -> np.ndarray:
    """``a`` with every value within ``margin`` of a kink moved off it (finite differences
    across a kink measure neither side's slope)."""
    out = a.copy()
    for k in kinks:
        near = np.abs(out - k) < margin
        out[near] = k + 2 * margin
    return out


UNARY = {
    "silu": lambda x: F.silu(x),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "softplus": lambda x: F.softplus(x),
    "softplus beta, threshold": lambda x: F.softplus(x, beta=2.0, threshold=1.5),
    "softplus negative beta": lambda x: F.softplus(x, beta=-0.5),
    "elu": lambda x: F.elu(x, alpha=0.7),
    "normalize p=2": lambda x: F.normalize(x),
    "normalize p=1 dim=-1": lambda x: F.normalize(x, p=1.0, dim=-1),
    "normalize p=3 dim=0": lambda x: F.normalize(x, p=3, dim=0),
    "rms_norm": lambda x: F.rms_norm(x, (x.shape[-1],)),
}


@pytest.mark.parametrize("name", list(UNARY))
@settings(max_examples=5, deadline=None)
@given(
    shape=st.sampled_from([(3,), (2, 3), (2, 3, 4)]),
    seed=st.integers(0, 2**31 - 1),
)
def test_activations_and_norms_gradcheck(name: str, shape: tuple, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # kinks: 0 (leaky_relu, elu), βx = threshold (softplus: 0.75 for β = 2, threshold 1.5)
    x = _away_from(rng.standard_normal(shape) * 2, [0.0, 0.75, 10.0, -40.0])
    if name.startswith("normalize") and len(shape) == 1 and "dim=0" not in name:
        x = x[None]  # dim 1 needs two dims
    assert gradcheck(UNARY[name], [_t(x)], seed=seed % 1000)


def test_the_zero_vector_normalizes_to_zero_with_a_finite_gradient() -> None:
    """‖0‖ = 0 < eps: the result is 0 and the gradient g/eps (the norm's subgradient at 0 is
    0, as in PyTorch), never NaN."""
    x = _t(np.zeros((2, 3)))
    y = F.normalize(x, dim=1, eps=0.5)
    y.backward(tinylm.ones(2, 3, dtype=tinylm.float64))
    assert np.all(y.detach().numpy() == 0)
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_cosine_similarity_gradcheck_with_broadcasting() -> None:
    rng = np.random.default_rng(3)
    a, b = _t(rng.standard_normal((4, 5))), _t(rng.standard_normal((1, 5)))
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=1), [a, b])
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=0), [a, b.expand(4, 5)])


def test_rms_norm_with_weight_gradcheck() -> None:
    rng = np.random.default_rng(4)
    x, w = _t(rng.standard_normal((2, 3, 4))), _t(rng.standard_normal((3, 4)))
    assert gradcheck(lambda x, w: F.rms_norm(x, (3, 4), w, eps=1e-4), [x, w])


LOSSES = {
    "l1": lambda x, y, r: F.l1_loss(x, y, reduction=r),
    "smooth_l1": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.8),
    "smooth_l1 beta 0": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    "huber": lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=1.3),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_regression_losses_gradcheck(name: str, reduction: str) -> None:
    rng = np.random.default_rng(5)
    y = rng.standard_normal((3, 4)) * 2
    d = _away_from(rng.standard_normal((3, 4)) * 2, [-1.3, -0.8, 0.0, 0.8, 1.3])
    x = y + d  # x − y stays off the kinks at 0 and ±beta / ±delta
    assert gradcheck(lambda x, y: LOSSES[name](x, y, reduction), [_t(x), _t(y)])


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_gradcheck(reduction: str, log_target: bool) -> None:
    rng = np.random.default_rng(6)
    logq = _t(F.log_softmax(_t(rng.standard_normal((3, 5)), False), dim=1).detach().numpy())
    p = rng.random((3, 5)) + 0.1
    target = _t(np.log(p) if log_target else p)
    fn = lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target)  # noqa: E731
    assert gradcheck(fn, [logq, target])


def test_kl_div_batchmean_is_the_sum_over_the_batch_size() -> None:
    rng = np.random.default_rng(7)
    x, p = _t(rng.standard_normal((4, 3)), False), _t(rng.random((4, 3)), False)
    total = F.kl_div(x, p, reduction="sum").item()
    assert F.kl_div(x, p, reduction="batchmean").item() == pytest.approx(total / 4)
    assert F.kl_div(x, p).item() == pytest.approx(total / 12)


@pytest.mark.parametrize("kind", ["rnn tanh", "rnn relu", "gru"])
def test_recurrent_layers_gradcheck(kind: str) -> None:
    """Three steps of a two-layer RNN or GRU: the input, the initial state and every
    parameter, output and h_n both with random upstream gradients."""
    rng = np.random.default_rng(8)
    tinylm.manual_seed(0)
    if kind == "gru":
        layer = nn.GRU(3, 2, num_layers=2, dtype=tinylm.float64)
    else:
        layer = nn.RNN(3, 2, num_layers=2, nonlinearity=kind[4:], dtype=tinylm.float64)
    fn0, params = module_function(layer)
    x, h0 = _t(rng.standard_normal((3, 2, 3))), _t(rng.standard_normal((2, 2, 2)))
    assert gradcheck(lambda x, h0, *ps: fn0(x, *ps, hx=h0), [x, h0, *params])


@pytest.mark.parametrize("make", [nn.RNNCell, nn.GRUCell])
def test_cells_gradcheck(make: Any) -> None:
    rng = np.random.default_rng(9)
    tinylm.manual_seed(0)
    cell = make(3, 2, dtype=tinylm.float64)
    fn0, params = module_function(cell)
    x, h = _t(rng.standard_normal((2, 3))), _t(rng.standard_normal((2, 2)))
    assert gradcheck(lambda x, h, *ps: fn0(x, *ps, hx=h), [x, h, *params])


BAD_CALLS = [
    (lambda x: F.softplus(x, beta=0), "beta must be non-zero"),
    (lambda x: F.leaky_relu(x, "0.1"), "negative_slope must be a number"),
    (lambda x: F.silu(x, inplace=True), "inplace=True is not supported"),
    (lambda x: F.elu(x.long()), "must be floating point"),
    (lambda x: F.normalize(x, p=float("inf")), "p must be a positive finite number"),
    (lambda x: F.normalize(x, dim=5), "out of range"),
    (lambda x: F.cosine_similarity(x, x[:, :2]), "do not broadcast"),
    (lambda x: F.rms_norm(x, (4,)), "does not end with normalized_shape"),
    (lambda x: F.rms_norm(x, (3,), tinylm.ones(4)), "weight has shape"),
    (lambda x: F.l1_loss(x, x[0]), "must have the same shape"),
    (lambda x: F.huber_loss(x, x, delta=0), "delta must be positive"),
    (lambda x: F.smooth_l1_loss(x, x, beta=-1), "beta must be a non-negative number"),
    (lambda x: F.kl_div(x, x, reduction="batch"), "reduction must be one of"),
    (lambda x: nn.KLDivLoss(reduction="avg"), "reduction must be one of"),
    (lambda x: nn.RNN(3, 2, nonlinearity="gelu"), "nonlinearity must be"),
    (lambda x: nn.GRU(3, 2, bidirectional=True), "bidirectional=True is not supported"),
    (lambda x: nn.RNN(3, 2)(x[None], tinylm.zeros(2, 1, 2)), "hx must be (1, 2, 2)"),
    (lambda x: nn.GRUCell(3, 2)(x, tinylm.zeros(2)), "hx must be 2-D"),
    (lambda x: nn.Flatten(0, 5)(x), "out of range"),
    (lambda x: nn.Unflatten(1, (2, 2))(x), "does not multiply to"),
    (lambda x: nn.ParameterList([1.0])[3], "out of range"),
]


@pytest.mark.parametrize("call, message", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_calls_are_one_clear_line(call: Any, message: str) -> None:
    x = tinylm.randn(2, 3)
    with pytest.raises((TinyLMError, IndexError)) as info:
        call(x)
    assert message in str(info.value) and "\n" not in str(info.value)
