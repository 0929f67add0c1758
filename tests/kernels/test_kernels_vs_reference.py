"""Every fast kernel (Numba; CuPy when a GPU is present) against the reference.

One table row per op: how to draw its inputs. From the table, each backend gets the same
battery: float32 and float64, odd sizes drawn by hypothesis, random upstream gradients, inputs
that must come back unmodified. float32 results are compared with the float64 reference on the
same values, so the tolerance measures the kernel's own rounding only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import implementations, reference

FAST_BACKENDS = [b for b in implementations("softmax_forward", "cpu") if b != "numpy"]
TOL = {np.float32: 3e-5, np.float64: 1e-12}


@dataclass
class Case:
    """How to build the positional/keyword arguments of one op from a Generator."""

    op: str
    make: Callable[[np.random.Generator, type, st.DataObject], tuple[tuple, dict]]


def _rows(data: st.DataObject, max_c: int = 70) -> tuple[int, ...]:
    lead = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=2), label="lead")
    return (*lead, data.draw(st.integers(1, max_c), label="C"))


def _randn(rng: np.random.Generator, shape, dtype, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _extreme_scale(data: st.DataObject) -> float:
    return data.draw(st.sampled_from([1.0, 10.0, 1e4]), label="scale")


def _softmax_fwd(rng, dt, data):
    return (_randn(rng, _rows(data), dt, _extreme_scale(data)),), {}


def _softmax_bwd(rng, dt, data):
    shape = _rows(data)
    y = reference.softmax_forward(_randn(rng, shape, np.float64, 3)).astype(dt)
    return (y, _randn(rng, shape, dt)), {}


def _log_softmax_bwd(rng, dt, data):
    shape = _rows(data)
    y = reference.log_softmax_forward(_randn(rng, shape, np.float64, 3)).astype(dt)
    return (y, _randn(rng, shape, dt)), {}


def _targets(rng, n, v, ignore_index, data):
    target = rng.integers(0, v, n)
    if data.draw(st.booleans(), label="some ignored"):
        target[rng.random(n) < 0.3] = ignore_index
    return target.astype(np.int64)


def _ce_fwd(rng, dt, data):
    n, v = data.draw(st.integers(1, 20), label="N"), data.draw(st.integers(1, 300), label="V")
    ignore = data.draw(st.sampled_from([-100, 0]), label="ignore_index")
    logits = _randn(rng, (n, v), dt, _extreme_scale(data))
    return (logits, _targets(rng, n, v, ignore, data)), {"ignore_index": ignore}


def _ce_bwd(rng, dt, data):
    (logits, target), kw = _ce_fwd(rng, dt, data)
    _, lse = reference.cross_entropy_forward(logits.astype(np.float64), target, kw["ignore_index"])
    grad_rows = _randn(rng, len(target), dt)
    return (logits, target, lse.astype(dt), grad_rows), kw


def _ln_fwd(rng, dt, data):
    shape = _rows(data)
    x = _randn(rng, shape, dt, 3) + dt(data.draw(st.sampled_from([0.0, 100.0]), label="offset"))
    w, b = _randn(rng, shape[-1], dt), _randn(rng, shape[-1], dt)
    return (x, w, b), {"eps": 1e-5}


def _ln_bwd(rng, dt, data):
    (x, w, b), kw = _ln_fwd(rng, dt, data)
    _, mean, rstd = reference.layer_norm_forward(x.astype(np.float64), w, b, 1e-5)
    return (_randn(rng, x.shape, dt), x, w, mean.astype(dt), rstd.astype(dt)), {}


def _gelu_fwd(rng, dt, data):
    return (_randn(rng, _rows(data, 300), dt, _extreme_scale(data)),), {}


def _gelu_bwd(rng, dt, data):
    shape = _rows(data, 300)
    return (_randn(rng, shape, dt, 4), _randn(rng, shape, dt)), {}


def _attention_shapes(data):
    b, h = data.draw(st.integers(1, 2), label="B"), data.draw(st.integers(1, 3), label="H")
    tq = data.draw(st.sampled_from([1, 5, 31, 32, 33, 64, 65, 100]), label="Tq")
    same = data.draw(st.booleans(), label="Tq == Tk")
    tk = tq if same else data.draw(st.sampled_from([1, 7, 33, 70]), label="Tk")
    d = data.draw(st.sampled_from([1, 4, 7, 16, 32]), label="D")
    dv = d if data.draw(st.booleans(), label="Dv == D") else data.draw(st.integers(1, 9))
    causal = data.draw(st.booleans(), label="causal")
    return b, h, tq, tk, d, dv, causal


def _attn_fwd(rng, dt, data):
    b, h, tq, tk, d, dv, causal = _attention_shapes(data)
    q, k = _randn(rng, (b, h, tq, d), dt), _randn(rng, (b, h, tk, d), dt)
    v = _randn(rng, (b, h, tk, dv), dt)
    return (q, k, v), {"scale": d**-0.5, "is_causal": causal}


def _attn_bwd(rng, dt, data):
    (q, k, v), kw = _attn_fwd(rng, dt, data)
    out, lse = reference.attention_forward(*(a.astype(np.float64) for a in (q, k, v)), **kw)
    gout = _randn(rng, out.shape, dt)
    return (q, k, v, out.astype(dt), lse.astype(dt), gout), kw


def _lstm_fwd(rng, dt, data):
    lead = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=2), label="lead")
    h = data.draw(st.integers(1, 40), label="H")
    scale = data.draw(st.sampled_from([1.0, 5.0, 30.0]), label="scale")  # saturated gates too
    return (_randn(rng, (*lead, 4 * h), dt, scale), _randn(rng, (*lead, h), dt, 2)), {}


def _lstm_bwd(rng, dt, data):
    (gates, c_prev), _ = _lstm_fwd(rng, dt, data)
    _, c, act = reference.lstm_cell_forward(gates.astype(np.float64), c_prev.astype(np.float64))
    dh, dc = _randn(rng, c.shape, dt), _randn(rng, c.shape, dt)
    return (act.astype(dt), c_prev, c.astype(dt), dh, dc), {}


def _lstm_seq_fwd(rng, dt, data):
    steps, batch = data.draw(st.integers(1, 6), label="T"), data.draw(st.integers(1, 5), label="B")
    h = data.draw(st.integers(1, 24), label="H")
    xproj = _randn(rng, (steps, batch, 4 * h), dt, data.draw(st.sampled_from([1.0, 5.0])))
    w_hh = _randn(rng, (4 * h, h), dt, 0.5)
    h0, c0 = _randn(rng, (batch, h), dt), _randn(rng, (batch, h), dt)
    mask = None
    if data.draw(st.booleans(), label="padded"):  # lengths in [1, T]: padding, skipped steps
        lengths = rng.integers(1, steps + 1, size=batch)
        mask = np.arange(steps)[:, None] < lengths[None, :]
    return (xproj, w_hh, h0, c0, mask), {}


def _lstm_seq_bwd(rng, dt, data):
    (xproj, w_hh, h0, c0, mask), _ = _lstm_seq_fwd(rng, dt, data)
    f64 = (a.astype(np.float64) for a in (xproj, w_hh, h0, c0))
    out, act, states_h, states_c = reference.lstm_recurrence_forward(*f64, mask)
    g = _randn(rng, out.shape, dt)
    return (g, act.astype(dt), states_h.astype(dt), states_c.astype(dt), w_hh, mask), {}


CASES = [
    Case("softmax_forward", _softmax_fwd),
    Case("softmax_backward", _softmax_bwd),
    Case("log_softmax_forward", _softmax_fwd),
    Case("log_softmax_backward", _log_softmax_bwd),
    Case("cross_entropy_forward", _ce_fwd),
    Case("cross_entropy_backward", _ce_bwd),
    Case("layer_norm_forward", _ln_fwd),
    Case("layer_norm_backward", _ln_bwd),
    Case("gelu_forward", _gelu_fwd),
    Case("gelu_backward", _gelu_bwd),
    Case("gelu_exact_forward", _gelu_fwd),
    Case("gelu_exact_backward", _gelu_bwd),
    Case("attention_forward", _attn_fwd),
    Case("attention_backward", _attn_bwd),
    Case("lstm_cell_forward", _lstm_fwd),
    Case("lstm_cell_backward", _lstm_bwd),
    Case("lstm_recurrence_forward", _lstm_seq_fwd),
    Case("lstm_recurrence_backward", _lstm_seq_bwd),
]


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def assert_matches_reference(fn, args, kwargs, dtype, xp=np):
    """fn(args) in ``dtype`` vs the float64 reference on the same values; inputs untouched."""
    originals = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    dev_args = [xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    got = [xp.asnumpy(o) if xp is not np else o for o in _as_tuple(fn(*dev_args, **kwargs))]
    floats = [a for a in originals if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    ref_args = [a.astype(np.float64) if any(a is f for f in floats) else a for a in originals]
    want = _as_tuple(getattr(reference, fn.__name__)(*ref_args, **kwargs))
    tol = TOL[dtype]
    scale = max(1.0, *(float(np.abs(a).max()) for a in floats if a.size))
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == dtype, f"output {i} has dtype {g.dtype}, expected {np.dtype(dtype)}"
        assert g.shape == w.shape, f"output {i} has shape {g.shape}, expected {w.shape}"
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=f"output {i}")
    for i, (a, o) in enumerate(zip(dev_args, originals)):
        if isinstance(o, np.ndarray):
            a_host = xp.asnumpy(a) if xp is not np else a
            np.testing.assert_array_equal(a_host, o, err_msg=f"input {i} was modified")


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.op for c in CASES])
@settings(max_examples=12, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_kernel_matches_reference(case, dtype, backend, data, seed):
    fn = implementations(case.op, "cpu")[backend]
    args, kwargs = case.make(np.random.default_rng(seed), dtype, data)
    assert_matches_reference(fn, args, kwargs, dtype)


def _strided(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random float64 values in a non-contiguous layout (a transposed view)."""
    return rng.standard_normal(shape[::-1]).T


def _strided_args(op: str, rng: np.random.Generator) -> tuple[tuple, dict]:
    x, g = _strided(rng, 6, 9), _strided(rng, 6, 9)
    w, b = rng.standard_normal(18)[::2], rng.standard_normal(9)
    q, k, v = (rng.standard_normal((2, 5, 3, 4)).transpose(0, 2, 1, 3) for _ in range(3))
    table = {
        "softmax_forward": ((x,), {}),
        "softmax_backward": ((reference.softmax_forward(x), g), {}),
        "log_softmax_forward": ((x,), {}),
        "log_softmax_backward": ((reference.log_softmax_forward(x), g), {}),
        "layer_norm_forward": ((x, w, b), {"eps": 1e-5}),
        "gelu_forward": ((x,), {}),
        "gelu_backward": ((x, g), {}),
        "gelu_exact_forward": ((x,), {}),
        "gelu_exact_backward": ((x, g), {}),
        "attention_forward": ((q, k, v), {"scale": 0.5, "is_causal": True}),
        "lstm_cell_forward": ((_strided(rng, 6, 36), x), {}),
    }
    if op == "lstm_cell_backward":
        _, c, act = reference.lstm_cell_forward(_strided(rng, 6, 36), x)
        act = np.ascontiguousarray(act.T).T  # a transposed view of the saved gates
        return (act, x, np.ascontiguousarray(c.T).T, g, _strided(rng, 6, 9)), {}
    if op.startswith("lstm_recurrence"):  # (T, B, 4H) inputs as transposed views
        xproj = rng.standard_normal((12, 3, 4)).transpose(2, 1, 0)
        w_hh, h0 = _strided(rng, 12, 3), _strided(rng, 3, 3)
        mask = np.array([[True, True, True], [True, False, True], [True, False, False]] * 1)
        mask = np.vstack([mask, [[False, False, False]]])  # a last step that is all padding
        if op == "lstm_recurrence_forward":
            return (xproj, w_hh, h0, h0 * 0.5, mask), {}
        out, act, states_h, states_c = reference.lstm_recurrence_forward(
            xproj, w_hh, h0, h0 * 0.5, mask
        )
        g = rng.standard_normal(out.shape[::-1]).T
        t = lambda a: np.ascontiguousarray(a.T).T  # noqa: E731 - saved arrays as views
        return (g, t(act), t(states_h), t(states_c), w_hh, mask), {}
    if op == "attention_backward":
        out, lse = reference.attention_forward(q, k, v, 0.5, True)
        gout = rng.standard_normal((2, 5, 3, 4)).transpose(0, 2, 1, 3)
        # out and lse strided too: the views of a (B, T, H, D) array that the GPT passes
        out = np.ascontiguousarray(out.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
        lse = np.ascontiguousarray(lse.T).T
        return (q, k, v, out, lse, gout), {"scale": 0.5, "is_causal": True}
    return table[op]


STRIDED_OPS = [
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "layer_norm_forward",
    "gelu_forward",
    "gelu_backward",
    "gelu_exact_forward",
    "gelu_exact_backward",
    "attention_forward",
    "attention_backward",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_recurrence_forward",
    "lstm_recurrence_backward",
]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("op", STRIDED_OPS)
def test_non_contiguous_inputs(op, backend):
    """Strided (transposed) inputs give the reference's result."""
    args, kwargs = _strided_args(op, np.random.default_rng(0))
    assert not args[0].flags.c_contiguous
    assert_matches_reference(implementations(op, "cpu")[backend], args, kwargs, np.float64)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_float16_falls_back_to_reference(backend):
    x = np.linspace(-3, 3, 12, dtype=np.float16).reshape(3, 4)
    y = implementations("softmax_forward", "cpu")[backend](x)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, reference.softmax_forward(x), rtol=1e-3)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_large_attention_blocks_and_vocab(backend):
    """Sizes past every block: T = 200 (not a multiple of 32), V = 5000, causal and not."""
    rng = np.random.default_rng(1)
    impl = implementations("attention_forward", "cpu")[backend]
    for causal in (True, False):
        q, k, v = (_randn(rng, (1, 2, 200, 16), np.float32) for _ in range(3))
        assert_matches_reference(impl, (q, k, v), {"scale": 0.25, "is_causal": causal}, np.float32)
    logits = _randn(rng, (9, 5000), np.float32, 5)
    target = rng.integers(0, 5000, 9)
    impl = implementations("cross_entropy_forward", "cpu")[backend]
    assert_matches_reference(impl, (logits, target), {"ignore_index": -100}, np.float32)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_cross_entropy_rejects_out_of_range_target(backend):
    logits = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(IndexError):
        implementations("cross_entropy_forward", "cpu")[backend](logits, np.array([0, 3]), -100)


def _packed_heads(a: np.ndarray, n_parts: int, h: int) -> tuple[np.ndarray, ...]:
    """(B, H, T, D) views of the heads inside a packed (B, T, n_parts*H*D) array."""
    b, t, width = a.shape
    parts = a.reshape(b, t, n_parts, h, width // (n_parts * h)).transpose(2, 0, 3, 1, 4)
    return tuple(parts[i] for i in range(n_parts))


def _forward_into(fwd, q, k, v, y, y_heads, scale, causal, dtype):
    """Attention forward with out= a strided view ``y_heads`` of ``y`` (filled with NaN):
    every element written, equal to the float64 reference. Returns lse and the reference's
    out and lse."""
    out, lse = fwd(q, k, v, scale, causal, out=y_heads)
    assert out is y_heads and not np.isnan(y).any()
    want_out, want_lse = reference.attention_forward(
        *(a.astype(np.float64) for a in (q, k, v)), scale, causal
    )
    np.testing.assert_allclose(y_heads, want_out, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(lse, want_lse, rtol=TOL[dtype], atol=TOL[dtype])
    return lse, want_out, want_lse


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("causal", [True, False])
def test_attention_writes_into_strided_destinations(backend, dtype, causal):
    """out= and grads= may be strided views (heads of a packed array): every element is
    written (the buffers start as NaN), nothing outside them is touched, and the values equal
    the float64 reference's."""
    rng = np.random.default_rng(7)
    b, t, h, d = 2, 37, 3, 5
    qkv = rng.standard_normal((b, t, 3 * h * d)).astype(dtype)
    q, k, v = _packed_heads(qkv, 3, h)
    y = np.full((b, t, h * d), np.nan, dtype)
    (y_heads,) = _packed_heads(y, 1, h)
    fwd = implementations("attention_forward", "cpu")[backend]
    bwd = implementations("attention_backward", "cpu")[backend]
    lse, want_out, want_lse = _forward_into(fwd, q, k, v, y, y_heads, d**-0.5, causal, dtype)

    g = rng.standard_normal((b, t, h * d)).astype(dtype)
    (g_heads,) = _packed_heads(g, 1, h)
    gqkv = np.full((b, t, 3 * h * d), np.nan, dtype)
    grads = _packed_heads(gqkv, 3, h)
    got = bwd(q, k, v, y_heads, lse, g_heads, d**-0.5, causal, grads=grads)
    assert all(a is w for a, w in zip(got, grads)) and not np.isnan(gqkv).any()
    want = reference.attention_backward(
        *(a.astype(np.float64) for a in (q, k, v, want_out, want_lse, g_heads)), d**-0.5, causal
    )
    for i, (a, w) in enumerate(zip(grads, want)):
        np.testing.assert_allclose(a, w, rtol=TOL[dtype], atol=TOL[dtype] * 10, err_msg=f"grad {i}")


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("tq, tk", [(1, 1), (1, 70), (2, 9), (4, 33), (5, 33)])
def test_attention_on_time_major_keys_of_a_kv_cache(backend, dtype, tq, tk):
    """Keys and values as a KV cache keeps them: (B, H, Tk, D) views of time-major
    (Tk, B, H, D) storage (the Numba kernel's decoding path for Tq ≤ DECODE_MAX_Q, the
    blocked path above it), queries inside a packed projection, out= a strided view: the
    float64 reference's values."""
    rng = np.random.default_rng(tq * 100 + tk)
    b, h, d = 2, 3, 8
    (q,) = _packed_heads(rng.standard_normal((b, tq, h * d)).astype(dtype), 1, h)
    k, v = (rng.standard_normal((tk, b, h, d)).astype(dtype).transpose(1, 2, 0, 3) for _ in "kv")
    y = np.full((b, tq, h * d), np.nan, dtype)
    (y_heads,) = _packed_heads(y, 1, h)
    fwd = implementations("attention_forward", "cpu")[backend]
    _forward_into(fwd, q, k, v, y, y_heads, d**-0.5, False, dtype)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_attention_rejects_a_wrong_destination(backend):
    q = np.zeros((1, 1, 4, 2), np.float32)
    fwd = implementations("attention_forward", "cpu")[backend]
    with pytest.raises(ValueError, match=r"out must be a writeable \(1, 1, 4, 2\) float32"):
        fwd(q, q, q, 1.0, True, out=np.zeros((1, 1, 4, 3), np.float32))


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_attention_backward_rejects_saved_probabilities_of_the_wrong_shape(backend):
    """The kernel reads P without bounds checks: a P too small must be an error, not a read
    past its end."""
    q = np.ones((1, 2, 4, 2), np.float32)
    out, lse = implementations("attention_forward", "cpu")[backend](q, q, q, 1.0, True)
    bwd = implementations("attention_backward", "cpu")[backend]
    with pytest.raises(ValueError, match=r"probs must be \(1, 2, 4, 4\), got \(1, 1, 4, 4\)"):
        bwd(q, q, q, out, lse, q, 1.0, True, probs=np.ones((1, 1, 4, 4), np.float32))


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("tq,tk", [(37, 37), (5, 70), (70, 5), (130, 130)])
@pytest.mark.parametrize("layout", ["rows", "policy", "strided"])
def test_attention_saved_probabilities(backend, dtype, causal, tq, tk, layout):
    """probs= makes the forward keep P (every element written, masked ones 0) and the backward
    use it instead of recomputing: the gradients must not change. (130, 130) is past
    policy.ATTENTION_BLAS_MAX_SCORES: the blocked kernels keep P there, BLAS products below.
    P's buffer may come in any layout: "policy" is the one ``policy.attention_probs_array``
    makes for the kernels (Pᵀ's memory for the BLAS path, which the Numba kernels fill in
    place), "rows" C-contiguous, "strided" a step-sliced view of a larger array."""
    from tinylm.kernels.policy import ATTENTION_BLAS_MAX_SCORES, attention_probs_array

    assert (tq * tk > ATTENTION_BLAS_MAX_SCORES) == (tq == 130)
    rng = np.random.default_rng(8)
    q, k, v = (_randn(rng, (2, 3, t, 6), dtype) for t in (tq, tk, tk))
    fwd = implementations("attention_forward", "cpu")[backend]
    bwd = implementations("attention_backward", "cpu")[backend]
    if layout == "policy":
        probs = attention_probs_array(2, 3, tq, tk, dtype)
        assert probs.flags.c_contiguous == (tq * tk > ATTENTION_BLAS_MAX_SCORES)
    elif layout == "strided":
        probs = np.empty((2, 3, 2 * tq, tk), dtype)[:, :, ::2]
    else:
        probs = np.empty((2, 3, tq, tk), dtype)
    probs[...] = np.nan
    out, lse = fwd(q, k, v, 0.4, causal, probs=probs)
    want_out, want_lse = reference.attention_forward(
        *(a.astype(np.float64) for a in (q, k, v)), 0.4, causal
    )
    s = 0.4 * (q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64))
    want_p = np.exp(s - want_lse[..., None])
    if causal:
        want_p = np.where(np.tril(np.ones((tq, tk), bool)), want_p, 0.0)
    np.testing.assert_allclose(probs, want_p, rtol=TOL[dtype], atol=TOL[dtype])
    g = _randn(rng, out.shape, dtype)
    with_p = bwd(q, k, v, out, lse, g, 0.4, causal, probs=probs)
    without = bwd(q, k, v, out, lse, g, 0.4, causal)
    for a, w in zip(with_p, without):
        np.testing.assert_allclose(a, w, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("t", [9, 130])
@pytest.mark.parametrize("scale", [0.4, 0.0, -0.4])
def test_attention_forward_any_sign_of_scale(backend, causal, t, scale):
    """The blocked forward (t = 130, past policy.ATTENTION_BLAS_MAX_SCORES) takes a row's
    maximum of scale·s as scale·max(s) when scale > 0, and the direct way otherwise: out and
    lse are the float64 reference's for a positive, zero and negative scale, as on the BLAS
    path (t = 9). The scores span a few hundred, so a shift by anything but the row's
    largest scale·s would overflow exp in float32."""
    rng = np.random.default_rng(5)
    q, k, v = (_randn(rng, (2, 3, t, 6), np.float32, s) for s in (60.0, 1.0, 1.0))
    out, lse = implementations("attention_forward", "cpu")[backend](q, k, v, scale, causal)
    want_out, want_lse = reference.attention_forward(
        *(a.astype(np.float64) for a in (q, k, v)), scale, causal
    )
    np.testing.assert_allclose(out, want_out, rtol=TOL[np.float32], atol=TOL[np.float32])
    np.testing.assert_allclose(lse, want_lse, rtol=TOL[np.float32], atol=TOL[np.float32])


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("gout_layout", ["contiguous", "broadcast", "heads of (B, T, C)"])
@pytest.mark.parametrize("t", [9, 41])
def test_attention_with_saved_probabilities_in_the_packed_layout(backend, causal, gout_layout, t):
    """As the GPT calls it: q, k, v heads of one (B, T, 3C) array, out= heads of a (B, T, C)
    array, grads= heads of a (B, T, 3C) array, P kept; the upstream gradient in any layout
    (the CPU forward's BLAS products read and write these views in place). At T = 41 a
    causal P is cut in two and the products skip its zero block (``_causal_split``)."""
    rng = np.random.default_rng(3)
    b, h, d = 2, 3, 4
    qkv = _randn(rng, (b, t, 3 * h * d), np.float64)
    q, k, v = qkv.reshape(b, t, 3, h, d).transpose(2, 0, 3, 1, 4)
    out = np.full((b, t, h * d), np.nan).reshape(b, t, h, d).transpose(0, 2, 1, 3)
    probs = np.full((b, h, t, t), np.nan)
    fwd = implementations("attention_forward", "cpu")[backend]
    bwd = implementations("attention_backward", "cpu")[backend]
    got_out, lse = fwd(q, k, v, 0.3, causal, out=out, probs=probs)
    assert got_out is out
    want_out, want_lse = reference.attention_forward(q, k, v, 0.3, causal)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-12, atol=1e-12)
    g = _randn(rng, out.shape, np.float64)
    if gout_layout == "broadcast":
        g = np.broadcast_to(g[:1, :1], g.shape)
    elif gout_layout == "heads of (B, T, C)":
        g = np.ascontiguousarray(g.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    gqkv = np.full(qkv.shape, np.nan)
    grads = tuple(gqkv.reshape(b, t, 3, h, d).transpose(2, 0, 3, 1, 4))
    got = bwd(q, k, v, out, lse, g, 0.3, causal, grads=grads, probs=probs)
    want = reference.attention_backward(q, k, v, want_out, want_lse, g, 0.3, causal)
    for a, dest, w in zip(got, grads, want):
        assert a is dest
        np.testing.assert_allclose(a, w, rtol=1e-11, atol=1e-12)


# The position of the upstream gradient among each backward op's arguments.
GRADIENT_ARG = {
    "softmax_backward": 1,
    "log_softmax_backward": 1,
    "cross_entropy_backward": 3,
    "layer_norm_backward": 0,
    "gelu_backward": 1,
    "gelu_exact_backward": 1,
    "attention_backward": 5,
    "lstm_cell_backward": 3,  # dh; dc (argument 4) in the test below
    "lstm_recurrence_backward": 0,
}


def _layout(g: np.ndarray, layout: str, rng: np.random.Generator) -> np.ndarray:
    """``g`` in ``layout`` (its values, except "broadcast": new ones, constant along axis 0)."""
    if layout == "read-only":
        g = g.copy()
        g.flags.writeable = False
        return g
    if layout == "broadcast":  # as the gradient of a sum arrives: read-only, strides 0
        return np.broadcast_to(_randn(rng, (1, *g.shape[1:]), g.dtype), g.shape)
    if layout == "transposed":
        return np.asfortranarray(g)
    if layout == "strided":
        return np.repeat(g, 2, axis=-1)[..., ::2]
    if layout == "float64":
        return g.astype(np.float64) + rng.standard_normal(g.shape) * 1e-3  # not float32 values
    raise ValueError(layout)


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("layout", ["read-only", "broadcast", "transposed", "strided", "float64"])
@pytest.mark.parametrize("op", list(GRADIENT_ARG))
def test_upstream_gradient_in_any_layout(op, layout, backend):
    """Every backward accepts its upstream gradient in any layout: read-only, broadcast
    (zero strides), transposed, strided, or float64 into a float32 op (converted first, as
    PyTorch converts). The result equals the op's on a contiguous float32 copy."""
    case = next(c for c in CASES if c.op == op)
    rng = np.random.default_rng(3)
    fn = implementations(op, "cpu")[backend]

    @settings(max_examples=3, deadline=None, database=None)
    @given(data=st.data())
    def check(data):
        args, kwargs = case.make(rng, np.float32, data)
        i = GRADIENT_ARG[op]
        g = _layout(args[i], layout, rng)
        plain = np.ascontiguousarray(g, dtype=np.float32)
        got = _as_tuple(fn(*args[:i], g, *args[i + 1 :], **kwargs))
        want = _as_tuple(fn(*args[:i], plain, *args[i + 1 :], **kwargs))
        for k, (a, w) in enumerate(zip(got, want)):
            assert a.dtype == np.float32, f"output {k} has dtype {a.dtype}"
            if backend == "numpy":  # numpy sums a strided axis in another order: a few ulps
                np.testing.assert_allclose(a, w, rtol=1e-6, atol=1e-6, err_msg=f"output {k}")
            else:  # the kernels copy it into the layout they were compiled for: bit for bit
                np.testing.assert_array_equal(a, w, err_msg=f"output {k}")

    check()


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("layout", ["read-only", "broadcast", "transposed", "strided", "float64"])
def test_lstm_cell_gradient_of_c_in_any_layout(layout, backend):
    """The LSTM backward's second upstream gradient (dc, argument 4) in any layout too."""
    rng = np.random.default_rng(4)
    fn = implementations("lstm_cell_backward", "cpu")[backend]
    gates, c_prev = _randn(rng, (5, 28), np.float32, 3), _randn(rng, (5, 7), np.float32)
    _, c, act = reference.lstm_cell_forward(gates, c_prev)
    dh, dc = _randn(rng, (5, 7), np.float32), _randn(rng, (5, 7), np.float32)
    g = _layout(dc, layout, rng)
    got = fn(act, c_prev, c, dh, g)
    want = fn(act, c_prev, c, dh, np.ascontiguousarray(g, dtype=np.float32))
    for a, w in zip(got, want):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
def test_lstm_cell_rejects_gates_that_are_not_four_times_the_state(backend):
    """A fused kernel indexes 4H columns without bounds checks: a wrong width is an error."""
    fwd = implementations("lstm_cell_forward", "cpu")[backend]
    bwd = implementations("lstm_cell_backward", "cpu")[backend]
    g, c = np.zeros((2, 10), np.float32), np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"gates must be \(\.\.\., 4H\) for c_prev \(\.\.\., H\)"):
        fwd(g, c)
    with pytest.raises(ValueError, match=r"gates must be"):
        bwd(g, c, c, c, c)
    with pytest.raises(ValueError, match=r"gates must be"):
        fwd(np.zeros((3, 12), np.float32), c)


def _hard_cross_entropy_rows(rng: np.random.Generator, dt) -> tuple[np.ndarray, np.ndarray]:
    """12 rows of 70 logits and their targets, with the rows the forward must get right: a
    logit 100 or 1000 above the target's (the first sum overflows: a retry from the row
    maximum), an inf and a NaN logit, two ignored rows (5 and 8)."""
    n, v = 12, 70
    logits = (rng.standard_normal((n, v)) * 3).astype(dt)
    target = rng.integers(0, v, n)
    logits[1, (target[1] + 5) % v] = logits[1, target[1]] + 100
    logits[2, (target[2] + 7) % v] = logits[2, target[2]] + 1000
    logits[3, 4] = np.inf
    logits[4, 9] = np.nan
    target[5] = target[8] = -100
    return logits, target


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_cross_entropy_kept_softmax_matches_the_recomputed_one(backend, dt):
    """With ``probs`` the forward fills it with softmax(logits) and the backward reads it
    instead of recomputing exp(logits - lse): both paths give the reference's numbers. The
    rows cover the forward's retry from the row maximum: a logit 100 or 1000 above the
    target's (the first sum overflows), an inf and a NaN logit, and ignored rows."""
    rng = np.random.default_rng(3)
    logits, target = _hard_cross_entropy_rows(rng, dt)
    n, v = logits.shape
    forward = implementations("cross_entropy_forward", "cpu")[backend]
    backward = implementations("cross_entropy_backward", "cpu")[backend]
    probs = np.full((n, v), -1.0, dtype=dt)
    loss, lse = forward(logits, target, -100, probs=probs)
    with np.errstate(invalid="ignore"):  # the reference's inf - inf in the inf row
        loss_r, lse_r = reference.cross_entropy_forward(logits.astype(np.float64), target, -100)
    tol = {"rtol": 2e-6, "atol": 1e-6} if dt == np.float32 else {"rtol": 1e-13, "atol": 1e-14}
    np.testing.assert_allclose(loss, loss_r, **tol)
    np.testing.assert_allclose(lse, lse_r, **tol)
    with np.errstate(invalid="ignore"):
        p_r = np.exp(logits.astype(np.float64) - lse_r[:, None])
    np.testing.assert_allclose(probs, p_r, **tol)
    loss2, lse2 = forward(logits, target, -100)  # without probs: the same numbers
    np.testing.assert_array_equal(loss2, loss)
    np.testing.assert_array_equal(lse2, lse)
    g = rng.standard_normal(n).astype(dt)
    kept = backward(logits, target, lse, g, -100, probs=probs)
    recomputed = backward(logits, target, lse, g, -100)
    with np.errstate(invalid="ignore"):
        expected = reference.cross_entropy_backward(logits.astype(np.float64), target, lse_r, g)
    np.testing.assert_allclose(kept, expected, **tol)
    np.testing.assert_allclose(recomputed, expected, **tol)


@pytest.mark.parametrize("backend", ["numpy", *FAST_BACKENDS])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n_valid_scale", [True, False])
def test_cross_entropy_forward_writes_the_backward_of_a_mean_or_sum(backend, dt, n_valid_scale):
    """With ``dlogits`` the forward writes the gradient of grad_scale · Σ loss_i: for the
    fast kernel bit for bit what its backward gives from the kept softmax with every
    grad_rows[i] = grad_scale (a training step's numbers do not move), for every backend the
    float64 reference's (softmax − onehot)·grad_scale, zeros on ignored rows. Rows as above:
    retries from the row maximum, an inf and a NaN logit, ignored rows."""
    logits, target = _hard_cross_entropy_rows(np.random.default_rng(4), dt)
    n, v = logits.shape
    scale = dt(1) / dt(10) if n_valid_scale else dt(1)
    forward = implementations("cross_entropy_forward", "cpu")[backend]
    backward = implementations("cross_entropy_backward", "cpu")[backend]
    d = np.full((n, v), -1.0, dtype=dt)
    with np.errstate(invalid="ignore"):  # the reference's inf - inf in the inf row
        loss, lse = forward(logits, target, -100, dlogits=d, grad_scale=scale)
        probs = np.empty_like(logits)
        loss_p, lse_p = forward(logits, target, -100, probs=probs)
        kept = backward(logits, target, lse_p, np.full(n, scale, dt), -100, probs=probs)
        expected = reference.cross_entropy_backward(
            logits.astype(np.float64), target, lse_p.astype(np.float64), np.full(n, scale)
        )
    np.testing.assert_array_equal(loss, loss_p)
    np.testing.assert_array_equal(lse, lse_p)
    assert not d[[5, 8]].any()
    tol = {"rtol": 2e-6, "atol": 1e-7} if dt == np.float32 else {"rtol": 1e-13, "atol": 1e-15}
    np.testing.assert_allclose(d, expected, **tol)
    if backend == "numpy":
        return
    np.testing.assert_array_equal(d, kept)
    with pytest.raises(ValueError, match="probs or dlogits, not both"):
        forward(logits, target, -100, probs=probs, dlogits=d)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("form", ["gelu", "gelu_exact"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_forward_with_derivative_and_the_multiply_backward(backend, form, dt):
    """A forward given ``derivative`` returns the same y and fills dy/dx (the reference's
    ``<form>_derivative``); the backward given it returns gy * dy/dx, which matches the
    backward that recomputes: over a strided x with extreme values and a read-only,
    broadcast upstream gradient."""
    rng = np.random.default_rng(4)
    x = np.concatenate(
        [rng.standard_normal(500) * 3, [0.0, -0.0, 1e-30, 8.0, -8.0, 40.0, -40.0, 1e4, -1e4]]
    ).astype(dt)
    x = np.stack([x, -x], axis=1).T[:, ::2]  # (2, n/2), not contiguous
    forward = implementations(f"{form}_forward", "cpu")[backend]
    backward = implementations(f"{form}_backward", "cpu")[backend]
    d = np.full(x.shape, np.nan, dtype=dt)
    y = forward(x, derivative=d)
    tol = {"rtol": 3e-6, "atol": 1e-6} if dt == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(y, forward(x), **tol)
    np.testing.assert_allclose(
        y, getattr(reference, f"{form}_forward")(x.astype(np.float64)), **tol
    )
    exact = getattr(reference, f"{form}_derivative")(x.astype(np.float64))
    np.testing.assert_allclose(d, exact, **tol)
    gy = np.broadcast_to(rng.standard_normal(x.shape[1]).astype(dt), x.shape)
    gx = backward(x, gy, derivative=d)
    np.testing.assert_array_equal(gx, gy * d)
    np.testing.assert_allclose(gx, backward(x, gy), **tol)
    with pytest.raises(ValueError, match="derivative must be"):
        forward(x, derivative=np.empty((3, 3), dtype=dt))
