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


# the dtypes the emulation runs in, with the tolerance against the float64 reference: float64
# checks the algorithm to rounding; float32 is what the GPU computes in, and must stay within
# the tolerances test_cuda_runtime.py holds the GPU kernels to (2e-5 forward, 1e-4 backward)
DTYPES = {np.float64: (1e-12, 1e-11), np.float32: (2e-5, 1e-4)}


@settings(max_examples=6, deadline=None)
@given(
    d=st.sampled_from([32, 64]),
    dtype=st.sampled_from(list(DTYPES)),
    tq=st.sampled_from([1, 33, 64, 100, 130]),
    tk=st.sampled_from([1, 32, 65, 97, 130]),
    same=st.booleans(),
    causal=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_flash_emulation_at_the_gpu_head_sizes(d, dtype, tq, tk, same, causal, seed):
    """D = 32 and 64 (the instantiated head sizes), float32 and float64, B and H > 1."""
    tk = tq if same else tk
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((2, 2, t, d)) for t in (tq, tk, tk))
    gout = rng.standard_normal((2, 2, tq, d))
    scale = d**-0.5
    fwd_tol, bwd_tol = DTYPES[dtype]
    want_out, want_lse = R.attention_forward(q, k, v, scale, causal)
    want = R.attention_backward(q, k, v, want_out, want_lse, gout, scale, causal)
    q32, k32, v32, g32 = (a.astype(dtype) for a in (q, k, v, gout))
    out, lse = E.attention_forward(q32, k32, v32, scale, causal)
    assert out.dtype == lse.dtype == dtype
    np.testing.assert_allclose(out, want_out, rtol=fwd_tol, atol=fwd_tol)
    np.testing.assert_allclose(lse, want_lse, rtol=fwd_tol, atol=fwd_tol)
    got = E.attention_backward(q32, k32, v32, out, lse, g32, scale, causal)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        scale_w = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, rtol=bwd_tol, atol=bwd_tol * scale_w)
