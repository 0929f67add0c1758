"""CUDA kernels vs the reference on a real GPU (skipped without CuPy or a device).

Output buffers are poisoned with NaN before each launch (a kernel that forgets to write an
entry leaves a NaN), and upstream gradients are random (all-ones hides transposition bugs).
"""

from __future__ import annotations

import numpy as np
import pytest
from tinylm.kernels import reference

try:
    import cupy

    HAVE_GPU = bool(cupy.cuda.is_available())
except Exception:
    cupy, HAVE_GPU = None, False

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device"),
]


@pytest.fixture
def poisoned_empty(monkeypatch):
    """Make cupy.empty/empty_like return NaN-filled buffers inside the wrappers."""
    from tinylm.kernels import cuda

    real_empty, real_like = cupy.empty, cupy.empty_like

    def empty(*a, **k):
        out = real_empty(*a, **k)
        out.fill(np.nan)
        return out

    def empty_like(*a, **k):
        out = real_like(*a, **k)
        out.fill(np.nan)
        return out

    monkeypatch.setattr(cuda.cupy, "empty", empty)
    monkeypatch.setattr(cuda.cupy, "empty_like", empty_like)


def _check(op, args, kwargs, tol=2e-5):
    from tinylm.kernels import cuda

    got = getattr(cuda, op)(
        *[cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs
    )
    got = got if isinstance(got, tuple) else (got,)
    want = getattr(reference, op)(
        *[
            a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in args
        ],
        **kwargs,
    )
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        g = cupy.asnumpy(g)
        assert not np.isnan(g).any(), f"{op}: an output entry was never written"
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=op)


@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (4, 3, 129), (64, 2000)])
def test_rowwise_kernels(shape, poisoned_empty):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    _check("softmax_forward", (x,), {})
    _check("softmax_backward", (reference.softmax_forward(x), g), {})
    _check("log_softmax_forward", (x,), {})
    _check("log_softmax_backward", (reference.log_softmax_forward(x), g), {})
    _check("gelu_forward", (x,), {})
    _check("gelu_backward", (x, g), {})
    _check("gelu_exact_forward", (x,), {})
    _check("gelu_exact_backward", (x, g), {})
    w, b = (
        rng.standard_normal(shape[-1]).astype(np.float32),
        rng.standard_normal(shape[-1]).astype(np.float32),
    )
    _check("layer_norm_forward", (x, w, b), {"eps": 1e-5})
    _, mean, rstd = reference.layer_norm_forward(x, w, b, 1e-5)
    _check("layer_norm_backward", (g, x, w, mean, rstd), {}, tol=1e-4)


@pytest.mark.parametrize("rows,hidden", [(1, 1), (32, 128), (3, 1000)])
def test_lstm_cell(rows, hidden, poisoned_empty):
    rng = np.random.default_rng(2)
    gates = (rng.standard_normal((rows, 4 * hidden)) * 4).astype(np.float32)
    c_prev = (rng.standard_normal((rows, hidden)) * 2).astype(np.float32)
    _check("lstm_cell_forward", (gates, c_prev), {})
    _, c, act = reference.lstm_cell_forward(gates, c_prev)
    dh, dc = (rng.standard_normal((rows, hidden)).astype(np.float32) for _ in range(2))
    _check("lstm_cell_backward", (act, c_prev, c, dh, dc), {})


@pytest.mark.parametrize("v", [5, 1000, 50257])
def test_cross_entropy(v, poisoned_empty):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((33, v)) * 4).astype(np.float32)
    target = rng.integers(0, v, 33)
    target[::5] = -100
    _check("cross_entropy_forward", (logits, target), {"ignore_index": -100})
    _, lse = reference.cross_entropy_forward(logits, target, -100)
    grad_rows = rng.standard_normal(33).astype(np.float32)
    _check("cross_entropy_backward", (logits, target, lse, grad_rows), {"ignore_index": -100})


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("tq,tk", [(1, 1), (100, 100), (33, 130), (130, 33), (257, 257)])
@pytest.mark.parametrize("d", [32, 64])
def test_flash_attention(causal, tq, tk, d, poisoned_empty):
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, t, d)).astype(np.float32) for t in (tq, tk, tk))
    kw = {"scale": d**-0.5, "is_causal": causal}
    _check("attention_forward", (q, k, v), kw)
    out, lse = reference.attention_forward(q, k, v, **kw)
    gout = rng.standard_normal(out.shape).astype(np.float32)
    _check("attention_backward", (q, k, v, out, lse, gout), kw, tol=1e-4)


@pytest.mark.parametrize("decoupled", [True, False])
def test_adam(decoupled):
    from tinylm.kernels import cuda

    rng = np.random.default_rng(3)
    p = rng.standard_normal(1000).astype(np.float32)
    p_gpu, m_gpu, v_gpu = (
        cupy.asarray(p),
        cupy.zeros(1000, np.float32),
        cupy.zeros(1000, np.float32),
    )
    m, v = np.zeros_like(p), np.zeros_like(p)
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=decoupled)
    for step in range(1, 51):
        g = rng.standard_normal(1000).astype(np.float32)
        cuda.adam_update(p_gpu, cupy.asarray(g), m_gpu, v_gpu, step=step, **hyper)
        reference.adam_update(p, g, m, v, step=step, **hyper)
    np.testing.assert_allclose(cupy.asnumpy(p_gpu), p, rtol=1e-5, atol=1e-5)


def test_float64_falls_back_to_reference():
    from tinylm.kernels import cuda

    x = cupy.asarray(np.random.default_rng(4).standard_normal((5, 7)))
    np.testing.assert_allclose(
        cupy.asnumpy(cuda.softmax_forward(x)),
        reference.softmax_forward(cupy.asnumpy(x)),
        rtol=1e-14,
    )


@pytest.mark.parametrize("causal", [True, False])
def test_attention_into_packed_destinations(causal):
    """out= and grads= as strided views of packed (B, T, ·) buffers, as the GPT passes them."""
    from tinylm.kernels import cuda

    rng = np.random.default_rng(5)
    b, t, h, d = 2, 45, 2, 32

    def heads(a, n_parts):
        parts = a.reshape(b, t, n_parts, h, d).transpose(2, 0, 3, 1, 4)
        return tuple(parts[i] for i in range(n_parts))

    qkv = cupy.asarray(rng.standard_normal((b, t, 3 * h * d)).astype(np.float32))
    y = cupy.full((b, t, h * d), np.nan, np.float32)
    (y_heads,) = heads(y, 1)
    _, lse = cuda.attention_forward(*heads(qkv, 3), d**-0.5, causal, out=y_heads)
    host = [cupy.asnumpy(a).astype(np.float64) for a in heads(qkv, 3)]
    want_out, want_lse = reference.attention_forward(*host, d**-0.5, causal)
    np.testing.assert_allclose(cupy.asnumpy(y_heads), want_out, rtol=2e-5, atol=2e-5)
    g = cupy.asarray(rng.standard_normal((b, t, h * d)).astype(np.float32))
    (g_heads,) = heads(g, 1)
    gqkv = cupy.full(qkv.shape, np.nan, np.float32)
    cuda.attention_backward(
        *heads(qkv, 3), y_heads, lse, g_heads, d**-0.5, causal, grads=heads(gqkv, 3)
    )
    want = reference.attention_backward(
        *host, want_out, want_lse, cupy.asnumpy(g_heads).astype(np.float64), d**-0.5, causal
    )
    for got, w in zip(heads(gqkv, 3), want):
        np.testing.assert_allclose(cupy.asnumpy(got), w, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- launch risks (issue 23)


def _gradient_layouts(g: np.ndarray) -> dict[str, object]:
    """An upstream gradient as it may reach the kernels: every layout the wrappers accept."""
    dev = cupy.asarray(g)
    return {
        "float64": dev.astype(cupy.float64),
        "float16": dev.astype(cupy.float16),
        "transposed": cupy.asfortranarray(dev),
        "strided": cupy.repeat(dev, 2, axis=-1)[..., ::2],
        "broadcast": cupy.broadcast_to(dev[:1], dev.shape),
    }


@pytest.mark.parametrize("layout", ["float64", "float16", "transposed", "strided", "broadcast"])
def test_gradients_in_any_layout(layout, poisoned_empty):
    from tinylm.kernels import cuda

    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 70)).astype(np.float32)
    g = rng.standard_normal((6, 70)).astype(np.float32)
    w = rng.standard_normal(70).astype(np.float32)
    gd = _gradient_layouts(g)[layout]
    g_host = cupy.asnumpy(gd).astype(np.float64)  # what the kernel must see, in float64
    for op, first in [
        ("softmax_backward", reference.softmax_forward(x)),
        ("log_softmax_backward", reference.log_softmax_forward(x)),
        ("gelu_backward", x),
        ("gelu_exact_backward", x),
    ]:
        got = getattr(cuda, op)(cupy.asarray(first), gd)
        assert got.dtype == cupy.float32, op
        want = getattr(reference, op)(first.astype(np.float64), g_host)
        np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-4, atol=1e-4, err_msg=op)
    _, mean, rstd = reference.layer_norm_forward(x, w, np.zeros_like(w), 1e-5)
    got = cuda.layer_norm_backward(
        gd.astype(cupy.float32),  # gy is the first argument: its dtype picks the kernel
        _gradient_layouts(x)[layout],
        cupy.asarray(w),
        cupy.asarray(mean),
        cupy.asarray(rstd),
    )
    want = reference.layer_norm_backward(
        g_host, cupy.asnumpy(_gradient_layouts(x)[layout]).astype(np.float64), w, mean, rstd
    )
    for a, b in zip(got, want):
        np.testing.assert_allclose(cupy.asnumpy(a), b, rtol=1e-3, atol=1e-3)


def test_layer_norm_parameter_grads_over_many_parts(poisoned_empty):
    """N = 20 000 rows: hundreds of partial sums, added on the host."""
    from tinylm.kernels import cuda

    rng = np.random.default_rng(7)
    x = rng.standard_normal((20_000, 96)).astype(np.float32)
    g = rng.standard_normal((20_000, 96)).astype(np.float32)
    w = rng.standard_normal(96).astype(np.float32)
    _, mean, rstd = reference.layer_norm_forward(x, w, np.zeros_like(w), 1e-5)
    got = cuda.layer_norm_backward(*(cupy.asarray(a) for a in (g, x, w, mean, rstd)))
    want = reference.layer_norm_backward(g.astype(np.float64), x.astype(np.float64), w, mean, rstd)
    for a, b in zip(got, want):
        np.testing.assert_allclose(cupy.asnumpy(a), b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


@pytest.mark.parametrize("d", [32, 64])
def test_attention_with_more_than_65535_heads(d, poisoned_empty):
    """B*H = 70 000 > 65 535: B*H rides in grid.x, which has room for it."""
    rng = np.random.default_rng(8)
    q, k, v = (rng.standard_normal((1, 70_000, 3, d)).astype(np.float32) for _ in range(3))
    kw = {"scale": d**-0.5, "is_causal": True}
    _check("attention_forward", (q, k, v), kw)
    out, lse = reference.attention_forward(q, k, v, **kw)
    gout = rng.standard_normal(out.shape).astype(np.float32)
    _check("attention_backward", (q, k, v, out, lse, gout), kw, tol=1e-4)


def test_empty_inputs():
    from tinylm.kernels import cuda

    x = cupy.zeros((0, 7), cupy.float32)
    assert cuda.softmax_forward(x).shape == (0, 7)
    assert cuda.gelu_forward(cupy.zeros((3, 0), cupy.float32)).shape == (3, 0)
    q = cupy.zeros((2, 3, 0, 32), cupy.float32)
    out, lse = cuda.attention_forward(q, q, q, 0.2, True)
    assert out.shape == (2, 3, 0, 32) and lse.shape == (2, 3, 0)
    cupy.cuda.Device().synchronize()  # a bad launch would surface here


@pytest.mark.parametrize("bad", [5, -1])
def test_cross_entropy_target_out_of_range(bad):
    from tinylm.kernels import cuda

    logits = cupy.asarray(np.random.default_rng(9).standard_normal((3, 5)), dtype=cupy.float32)
    with pytest.raises(IndexError, match=f"target {bad} out of range for 5 classes"):
        cuda.cross_entropy_forward(logits, cupy.asarray([0, bad, 4]), -100)


def test_adam_with_a_float64_strided_gradient():
    from tinylm.kernels import cuda

    rng = np.random.default_rng(10)
    p = rng.standard_normal((40, 30)).astype(np.float32)
    p_gpu, m_gpu, v_gpu = (
        cupy.asarray(p),
        cupy.zeros_like(cupy.asarray(p)),
        cupy.zeros((40, 30), cupy.float32),
    )
    m, v = np.zeros_like(p), np.zeros_like(p)
    hyper = dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, decoupled=True)
    for step in range(1, 21):
        g = rng.standard_normal((30, 40))
        cuda.adam_update(p_gpu, cupy.asarray(g).T, m_gpu, v_gpu, step=step, **hyper)
        reference.adam_update(p, g.T.astype(np.float32), m, v, step=step, **hyper)
    np.testing.assert_allclose(cupy.asnumpy(p_gpu), p, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m,k,n", [(1, 128, 65), (7, 384, 1000), (64 * 64, 128, 512)])
def test_int8_linear(m, k, n, poisoned_empty):
    from tinylm.kernels import cuda

    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k)).astype(np.float32)
    q = rng.integers(-127, 128, (n, k)).astype(np.int8)
    scale = (rng.random(n) * 0.01).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    got = cupy.asnumpy(cuda.int8_linear(*(cupy.asarray(a) for a in (x, q, scale, bias))))
    want = reference.int8_linear(x.astype(np.float64), q, scale.astype(np.float64), bias)
    mag = np.abs(x) @ np.abs(q * scale[:, None].astype(np.float64)).T + np.abs(bias)
    assert not np.isnan(got).any()
    assert (np.abs(got - want) <= (k + 2) * np.finfo(np.float32).eps * mag).all()
