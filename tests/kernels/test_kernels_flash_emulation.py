"""The tiled flash-attention algorithm of attention.cu, replayed in NumPy, vs the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import reference as R
from tinylm.kernels.cuda import flash_emulation as E


@settings(max_examples=10, deadline=None)
@given(
    tq=st.sampled_from([1, 31, 32, 33, 63, 64, 65, 100, 130]),
    tk=st.sampled_from([1, 31, 32, 33, 64, 65, 97]),
    same=st.booleans(),
    causal=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_flash_emulation_matches_reference(tq, tk, same, causal, seed):
    """T not a multiple of the tiles (32, 64), Tq != Tk, causal and not, float64."""
    tk = tq if same else tk
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((1, 2, t, 8)) for t in (tq, tk, tk))
    out, lse = E.attention_forward(q, k, v, 0.35, causal)
    want_out, want_lse = R.attention_forward(q, k, v, 0.35, causal)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-12, atol=1e-12)
    gout = rng.standard_normal(out.shape)
    got = E.attention_backward(q, k, v, want_out, want_lse, gout, 0.35, causal)
    want = R.attention_backward(q, k, v, want_out, want_lse, gout, 0.35, causal)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("big", [30.0, 300.0])
def test_online_softmax_rescaling_with_growing_scores(big):
    """Scores that grow along the keys force the running max to change in every tile."""
    t = 100
    q = np.ones((1, 1, t, 1))
    k = np.linspace(0, big, t).reshape(1, 1, t, 1)
    v = np.random.default_rng(0).standard_normal((1, 1, t, 3))
    out, lse = E.attention_forward(q, k, v, 1.0, True)
    want_out, want_lse = R.attention_forward(q, k, v, 1.0, True)
    np.testing.assert_allclose(out, want_out, rtol=1e-12)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-12)
