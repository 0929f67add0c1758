"""transformer_block_decode (a block's decoding step as one call) of every CPU backend against
its float64 reference: output and the key/value row it writes into the cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import reference
from tinylm.kernels.registry import implementations

BACKENDS = list(implementations("transformer_block_decode", "cpu"))


def _block(rng, dtype, b, h, d, pos, capacity, int8):
    c = h * d

    def f(*shape):
        return rng.standard_normal(shape).astype(dtype)

    def linear(n, k):
        if int8:
            return rng.integers(-127, 128, (n, k)).astype(np.int8), f(n) * 0.01, f(n)
        return f(n, k) * 0.2, np.ones(n, dtype), f(n)

    ln = (1 + 0.1 * f(c), f(c))
    ln_2 = (1 + 0.1 * f(c), f(c))
    x, cache_k, cache_v = f(b, c), f(capacity, b, h, d), f(capacity, b, h, d)
    layers = (linear(3 * c, c), linear(c, c), ln_2, linear(4 * c, c), linear(c, 4 * c))
    return x, cache_k, cache_v, pos, ln, *layers, h, 1e-5, 1e-6


def _f64(a):
    if isinstance(a, tuple):
        return tuple(_f64(e) for e in a)
    if isinstance(a, np.ndarray) and a.dtype != np.int8:
        return a.astype(np.float64)
    return a


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=15, deadline=None)
@given(
    b=st.integers(1, 3),
    h=st.integers(1, 4),
    d=st.integers(1, 9),
    pos=st.integers(0, 6),
    spare=st.integers(1, 3),
    int8=st.booleans(),
    exact=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_decode_matches_reference(backend, dtype, b, h, d, pos, spare, int8, exact, seed):
    args = _block(np.random.default_rng(seed), dtype, b, h, d, pos, pos + spare, int8)
    want_args = list(_f64(args))
    want_args[1], want_args[2] = want_args[1].copy(), want_args[2].copy()
    want = reference.transformer_block_decode(*want_args, exact)
    got_args = list(args)
    got_args[1], got_args[2] = args[1].copy(), args[2].copy()
    got = implementations("transformer_block_decode", "cpu")[backend](*got_args, exact)
    assert got.shape == (b, h * d) and got.dtype == dtype
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(got, want, **tol)
    for i in (1, 2):  # the new key and value went into row pos; nothing else changed
        np.testing.assert_allclose(got_args[i][pos], want_args[i][pos], **tol)
        np.testing.assert_array_equal(np.delete(got_args[i], pos, 0), np.delete(args[i], pos, 0))


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_block_decode_refuses_a_cache_it_cannot_write_in_place(backend):
    args = list(_block(np.random.default_rng(0), np.float32, 1, 2, 4, 1, 4, False))
    fn = implementations("transformer_block_decode", "cpu")[backend]
    read_only = args[1].copy()
    read_only.flags.writeable = False
    for bad in (args[1].astype(np.float64), args[1][:, :, :, ::-1], read_only):
        with pytest.raises(ValueError, match="cache_k must be a writeable C-contiguous"):
            fn(args[0], bad, *args[2:], False)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_block_decode_refuses_shapes_that_do_not_fit(backend):
    """The compiled kernel reads without bounds checks: a mismatch must stop before it."""
    args = list(_block(np.random.default_rng(0), np.float32, 1, 2, 4, 1, 4, False))
    fn = implementations("transformer_block_decode", "cpu")[backend]
    fc_w, fc_s, fc_b = args[8]
    for i, bad in ((8, (fc_w[:-1], fc_s, fc_b)), (5, (args[5][0][:, :-1], *args[5][1:]))):
        with pytest.raises(ValueError, match="shapes do not fit"):
            fn(*args[:i], bad, *args[i + 1 :], False)
    with pytest.raises(ValueError, match="shapes do not fit"):
        fn(args[0], args[1], args[2], 4, *args[4:], False)  # row 4 of a 4-row cache
