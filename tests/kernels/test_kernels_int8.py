"""int8_linear (weight-only int8 matmul) of every CPU backend against its float64 reference.

The tolerance is float32's rounding bound for a dot product of K terms, not a guess:
|fl(Σ x_k w_k) − Σ x_k w_k| ≤ γ_K Σ |x_k w_k| with γ_K ≈ K·u (u = eps/2), so the test allows
(K + 2)·eps·(|x| |Ŵ|ᵀ + |b|) per entry (two more roundings: the scale and the bias).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import implementations, reference

BACKENDS = list(implementations("int8_linear", "cpu"))


def _inputs(rng, lead, k, n, dtype, with_bias):
    x = rng.standard_normal((*lead, k)).astype(dtype)
    q = rng.integers(-127, 128, (n, k)).astype(np.int8)
    scale = (rng.random(n) * 0.05 + 1e-4).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype) if with_bias else None
    return x, q, scale, bias


def _bound(x, q, scale, bias, dtype):
    w = np.abs(q.astype(np.float64) * scale.astype(np.float64)[:, None])
    mag = np.abs(x.astype(np.float64)) @ w.T + (0 if bias is None else np.abs(bias))
    return (q.shape[1] + 2) * np.finfo(dtype).eps * mag + np.finfo(dtype).tiny


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@settings(max_examples=25, deadline=None)
@given(
    lead=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    k=st.integers(1, 300),
    n=st.integers(1, 70),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_int8_linear_matches_reference(backend, dtype, lead, k, n, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, q, scale, bias = _inputs(rng, lead, k, n, dtype, with_bias)
    before = [a.copy() for a in (x, q, scale) + ((bias,) if with_bias else ())]
    got = implementations("int8_linear", "cpu")[backend](x, q, scale, bias)
    f64 = [a.astype(np.float64) if a is not None else None for a in (x, scale, bias)]
    want = reference.int8_linear(f64[0], q, f64[1], f64[2])
    assert got.dtype == dtype and got.shape == (*lead, n)
    assert (np.abs(got - want) <= _bound(x, q, scale, bias, dtype)).all()
    for a, b in zip((x, q, scale) + ((bias,) if with_bias else ()), before):
        np.testing.assert_array_equal(a, b)  # inputs untouched


@pytest.mark.parametrize("backend", BACKENDS)
def test_int8_linear_takes_strided_and_readonly_inputs(backend):
    rng = np.random.default_rng(1)
    x, q, scale, bias = _inputs(rng, (4, 6), 40, 9, np.float32, True)
    xs = np.repeat(x, 2, axis=-1)[..., ::2]  # strided view
    qr = q.copy()
    qr.flags.writeable = False
    got = implementations("int8_linear", "cpu")[backend](xs, qr, scale[::1], bias)
    want = reference.int8_linear(x.astype(np.float64), q, scale.astype(np.float64), bias)
    assert (np.abs(got - want) <= _bound(x, q, scale, bias, np.float32)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("rows", [1, 15, 16, 100])
@pytest.mark.parametrize("with_bias", [True, False])
def test_numba_rows_on_both_sides_of_the_blas_tiles(dtype, rows, with_bias):
    """From BLAS_MIN_ROWS rows on, the Numba backend multiplies dequantised tiles of
    tile_rows(K) output channels through BLAS; N = 2·tile_rows(K) + 5 leaves a partial last
    tile."""
    from tinylm.kernels.numba import quantized

    assert quantized.BLAS_MIN_ROWS == 16  # rows 15 and 16 sit on both sides
    rng = np.random.default_rng(rows)
    n = 2 * quantized.tile_rows(700) + 5
    assert n < 300  # several tiles, not one
    x, q, scale, bias = _inputs(rng, (rows,), 700, n, dtype, with_bias)
    got = quantized.int8_linear(x, q, scale, bias)
    f64 = [a.astype(np.float64) if a is not None else None for a in (x, scale, bias)]
    want = reference.int8_linear(f64[0], q, f64[1], f64[2])
    assert got.dtype == dtype and got.shape == want.shape
    assert (np.abs(got - want) <= _bound(x, q, scale, bias, dtype)).all()


def test_reference_is_the_dequantised_matmul_written_out():
    rng = np.random.default_rng(2)
    x, q, scale, bias = _inputs(rng, (3,), 5, 4, np.float64, True)
    want = np.array(
        [
            [sum(x[i, k] * scale[n] * int(q[n, k]) for k in range(5)) + bias[n] for n in range(4)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(reference.int8_linear(x, q, scale, bias), want, rtol=1e-13)


def test_float16_input_takes_the_reference():
    rng = np.random.default_rng(3)
    x, q, scale, _ = _inputs(rng, (2,), 8, 3, np.float16, False)
    for fn in implementations("int8_linear", "cpu").values():
        assert fn(x, q, scale).dtype == np.float16
