"""The reference itself against independent formulas: naive loops, and PyTorch in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import reference as R


def naive_attention(q, k, v, scale, is_causal):
    """Per-element loops over one (Tq, D) head: the definition, with no tricks."""
    tq, tk = q.shape[0], k.shape[0]
    out = np.zeros((tq, v.shape[1]))
    lse = np.zeros(tq)
    for i in range(tq):
        keys = [j for j in range(tk) if not is_causal or j <= i]
        s = [scale * sum(q[i, c] * k[j, c] for c in range(q.shape[1])) for j in keys]
        total = sum(math.exp(x) for x in s)
        lse[i] = math.log(total)
        for n, j in enumerate(keys):
            out[i] += math.exp(s[n]) / total * v[j]
    return out, lse


@settings(max_examples=15, deadline=None)
@given(
    tq=st.integers(1, 9),
    tk=st.integers(1, 9),
    d=st.integers(1, 5),
    causal=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_reference_attention_matches_naive_loops(tq, tk, d, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (
        rng.standard_normal((tq, d)),
        rng.standard_normal((tk, d)),
        rng.standard_normal((tk, 3)),
    )
    out, lse = R.attention_forward(q[None, None], k[None, None], v[None, None], 0.7, causal)
    want_out, want_lse = naive_attention(q, k, v, 0.7, causal)
    np.testing.assert_allclose(out[0, 0], want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lse[0, 0], want_lse, rtol=1e-12, atol=1e-12)


def test_reference_softmax_and_gelu_match_formulas():
    x = np.linspace(-5, 5, 11)
    e = np.array([math.exp(a) for a in x])
    np.testing.assert_allclose(R.softmax_forward(x), e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(R.log_softmax_forward(x), np.log(e / e.sum()), rtol=1e-13)
    gelu = [0.5 * a * (1 + math.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3))) for a in x]
    np.testing.assert_allclose(R.gelu_forward(x), gelu, rtol=1e-14, atol=1e-15)
    # the derivative by central differences
    h = 1e-6
    fd = (R.gelu_forward(x + h) - R.gelu_forward(x - h)) / (2 * h)
    np.testing.assert_allclose(R.gelu_backward(x, np.ones_like(x)), fd, rtol=1e-7, atol=1e-8)


def test_reference_extreme_logits_stay_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    for y in (R.softmax_forward(x), R.log_softmax_forward(x)):
        assert np.isfinite(y).all() and y.dtype == np.float32
    loss, lse = R.cross_entropy_forward(x, np.array([0, 1]), -100)
    np.testing.assert_allclose(loss, [0.0, math.log(3)], atol=1e-3)


# ------------------------------------------------------------------------- PyTorch, float64

try:
    import torch

    F = torch.nn.functional
except ImportError:  # torch is an optional oracle: its tests skip, the others still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the float64 oracle) missing")


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.torch
@needs_torch
@settings(max_examples=10, deadline=None)
@given(
    b=st.integers(1, 2),
    tq=st.integers(1, 40),
    tk=st.integers(1, 40),
    d=st.integers(1, 8),
    causal=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_reference_attention_matches_torch(b, tq, tk, d, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((b, 2, t, d)) for t in (tq, tk, tk))
    gout = rng.standard_normal((b, 2, tq, d))
    tq_, tk_, tv_ = _t(q, True), _t(k, True), _t(v, True)
    out_t = F.scaled_dot_product_attention(tq_, tk_, tv_, is_causal=causal, scale=0.3)
    out_t.backward(_t(gout))
    out, lse = R.attention_forward(q, k, v, 0.3, causal)
    grads = R.attention_backward(q, k, v, out, lse, gout, 0.3, causal)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, (tq_, tk_, tv_)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.torch
@needs_torch
def test_reference_rowwise_ops_match_torch():
    rng = np.random.default_rng(0)
    x, gy = rng.standard_normal((5, 3, 17)) * 4, rng.standard_normal((5, 3, 17))
    xt = _t(x, True)
    for ours_f, ours_b, theirs in (
        (R.softmax_forward, R.softmax_backward, lambda a: F.softmax(a, -1)),
        (R.log_softmax_forward, R.log_softmax_backward, lambda a: F.log_softmax(a, -1)),
    ):
        xt.grad = None
        yt = theirs(xt)
        yt.backward(_t(gy))
        y = ours_f(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ours_b(y, gy), xt.grad.numpy(), rtol=1e-11, atol=1e-12)
    w, b = rng.standard_normal(17), rng.standard_normal(17)
    xt.grad = None
    wt, bt = _t(w, True), _t(b, True)
    yt = F.layer_norm(xt, (17,), wt, bt, 1e-5)
    yt.backward(_t(gy))
    y, mean, rstd = R.layer_norm_forward(x, w, b, 1e-5)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    gx, gw, gb = R.layer_norm_backward(gy, x, w, mean, rstd)
    for ours, t in ((gx, xt), (gw, wt), (gb, bt)):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-10, atol=1e-11)
    xt.grad = None
    yt = F.gelu(xt, approximate="tanh")
    yt.backward(_t(gy))
    np.testing.assert_allclose(R.gelu_forward(x), yt.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(R.gelu_backward(x, gy), xt.grad.numpy(), rtol=1e-12, atol=1e-13)
    xt.grad = None
    yt = F.gelu(xt)  # PyTorch's default: the exact x Φ(x)
    yt.backward(_t(gy))
    np.testing.assert_allclose(R.gelu_exact_forward(x), yt.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(
        R.gelu_exact_backward(x, gy), xt.grad.numpy(), rtol=1e-12, atol=1e-13
    )


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_reference_cross_entropy_matches_torch(ignore_index):
    rng = np.random.default_rng(1)
    logits, target = rng.standard_normal((12, 7)) * 3, rng.integers(0, 7, 12)
    target[[1, 5]] = ignore_index
    grad_rows = rng.standard_normal(12)
    lt = _t(logits, True)
    loss_t = F.cross_entropy(lt, torch.tensor(target), reduction="none", ignore_index=ignore_index)
    loss_t.backward(_t(grad_rows))
    loss, lse = R.cross_entropy_forward(logits, target, ignore_index)
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-13, atol=1e-14)
    d = R.cross_entropy_backward(logits, target, lse, grad_rows, ignore_index)
    np.testing.assert_allclose(d, lt.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert (d[target == ignore_index] == 0).all()
