"""packed_self_attention: the GPT's attention read straight out of the (B, T, 3C) projection.

It must equal the readable composition (split → heads forward → scaled_dot_product_attention →
heads back) in value and in gradient, on every CPU backend, and pass gradcheck on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinylm.kernels import implementations, policy, registry

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError
from tinylm.testing import gradcheck

BACKENDS = list(implementations("attention_forward", "cpu"))


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = registry.get_backend()
    registry.set_backend(request.param)
    yield request.param
    registry.set_backend(previous)


def composed(qkv: tinylm.Tensor, num_heads: int, is_causal: bool) -> tinylm.Tensor:
    """The same attention written out step by step (what the GPT did before)."""
    b, t, width = qkv.shape
    c = width // 3
    d = c // num_heads
    q, k, v = qkv.split(c, dim=2)
    q, k, v = (x.reshape(b, t, num_heads, d).transpose(1, 2) for x in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    return y.transpose(1, 2).reshape(b, t, c)


# the fixture only selects the backend: it holds no state that examples could share
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    b=st.integers(1, 3),
    t=st.sampled_from([1, 2, 7, 33, 40]),
    h=st.integers(1, 3),
    d=st.integers(1, 9),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_equals_the_composition_value_and_gradient(backend, b, t, h, d, causal, seed):
    rng = np.random.default_rng(seed)
    qkv = rng.standard_normal((b, t, 3 * h * d))
    upstream = rng.standard_normal((b, t, h * d))  # random, never all ones
    results = []
    for fn in (F.packed_self_attention, composed):
        x = tinylm.tensor(qkv, requires_grad=True)
        y = fn(x, h, is_causal=causal)
        y.backward(upstream)
        results.append((y.detach().numpy(), x.grad.numpy()))
    (y1, g1), (y2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("causal", [True, False])
def test_gradcheck(backend, causal):
    qkv = tinylm.tensor(np.random.default_rng(3).standard_normal((2, 5, 18)), requires_grad=True)
    assert gradcheck(lambda x: F.packed_self_attention(x, 3, is_causal=causal), [qkv])


def test_float32_matches_float64(backend):
    qkv = np.random.default_rng(4).standard_normal((2, 70, 3 * 4 * 32))
    y64 = F.packed_self_attention(tinylm.tensor(qkv), 4, is_causal=True).numpy()
    y32 = F.packed_self_attention(tinylm.tensor(qkv, dtype=tinylm.float32), 4, is_causal=True)
    assert y32.dtype == tinylm.float32
    np.testing.assert_allclose(y32.numpy(), y64, rtol=1e-4, atol=1e-5)


def test_non_contiguous_qkv_and_upstream_gradient(backend):
    """A transposed qkv (not C-contiguous) and a transposed upstream gradient."""
    rng = np.random.default_rng(5)
    raw = rng.standard_normal((12, 6, 2))  # (3C, T, B) then transposed to (B, T, 3C)
    up = rng.standard_normal((4, 6, 2)).T
    results = []
    for fn in (F.packed_self_attention, composed):
        x = tinylm.tensor(raw, requires_grad=True)
        y = fn(x.permute(2, 1, 0), 2, is_causal=True)
        y.backward(up)
        results.append((y.detach().numpy(), x.grad.numpy()))
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_argument_errors():
    x = tinylm.randn(2, 3, 12)
    with pytest.raises(TinyLMError, match=r"packed_self_attention: qkv must be \(B, T, 3C\)"):
        F.packed_self_attention(x, 5)
    with pytest.raises(TinyLMError, match="qkv must be"):
        F.packed_self_attention(tinylm.randn(3, 12), 2)
    with pytest.raises(TinyLMError, match="num_heads must be a positive int"):
        F.packed_self_attention(x, 0)
    with pytest.raises(TinyLMError, match="num_heads must be a positive int"):
        F.packed_self_attention(x, 2.0)


def test_saved_and_recomputed_probabilities_give_the_same_gradients(backend, monkeypatch):
    """Small P is kept by the forward; above policy.SAVE_PROBS_MAX it is recomputed. Same
    numbers."""
    rng = np.random.default_rng(6)
    qkv, up = rng.standard_normal((2, 40, 3 * 2 * 8)), rng.standard_normal((2, 40, 16))
    grads = []
    for limit in (policy.SAVE_PROBS_MAX, 0):
        monkeypatch.setattr(policy, "SAVE_PROBS_MAX", limit)
        x = tinylm.tensor(qkv, requires_grad=True)
        F.packed_self_attention(x, 2, is_causal=True).backward(up)
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------------------------------
# cached_self_attention: the queries inside qkv against a KV cache's keys and values
# ---------------------------------------------------------------------------------------


def composed_cached(qkv, keys, values, num_heads):
    """The readable composition cached_self_attention equals (its docstring's)."""
    b, t, width = qkv.shape
    c = width // 3
    q = qkv[..., :c].reshape(b, t, num_heads, c // num_heads).transpose(1, 2)
    y = F.scaled_dot_product_attention(q, keys, values)
    return y.transpose(1, 2).reshape(b, t, c)


@pytest.mark.parametrize("t, tk", [(1, 1), (1, 9), (2, 5), (3, 40)])
def test_cached_equals_the_composition_value_and_gradient(backend, t, tk):
    b, h, d = 2, 3, 4
    rng = np.random.default_rng(t * 100 + tk)
    arrays = (rng.standard_normal((b, t, 3 * h * d)), *rng.standard_normal((2, b, h, tk, d)))
    upstream = rng.standard_normal((b, t, h * d))
    results = []
    for fn in (F.cached_self_attention, composed_cached):
        inputs = [tinylm.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*inputs, h)
        y.backward(upstream)
        results.append([y.detach().numpy()] + [x.grad.numpy() for x in inputs])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert not results[0][1][..., h * d :].any()  # keys and values were not read from qkv


def test_cached_gradcheck(backend):
    rng = np.random.default_rng(5)
    qkv, keys, values = (
        tinylm.tensor(rng.standard_normal(s), requires_grad=True)
        for s in ((2, 1, 12), (2, 2, 4, 2), (2, 2, 4, 2))
    )
    assert gradcheck(lambda *xs: F.cached_self_attention(*xs, 2), [qkv, keys, values])


def test_cached_rejects_keys_that_do_not_fit():
    qkv = tinylm.zeros(1, 1, 12)
    with pytest.raises(TinyLMError, match="keys and values must both be"):
        F.cached_self_attention(qkv, tinylm.zeros(1, 2, 3, 4), tinylm.zeros(1, 2, 3, 4), 2)
    with pytest.raises(TinyLMError, match="num_heads"):
        F.cached_self_attention(qkv, tinylm.zeros(1, 2, 3, 2), tinylm.zeros(1, 2, 3, 2), 0)
