"""Float32 precision of the fused kernels when logits sit far from zero.

log-softmax and cross-entropy must compute (x - m) - log s, not x - (m + log s): with
m = 512, m + log s keeps only ~4 correct digits of log s in float32. Fast-math
reassociation can silently turn the first form into the second, so this is checked on the
compiled kernels themselves.

The float32 ``fast_erf`` of the exact GELU is a polynomial approximation: its error is
measured here against ``math.erf`` (exact to the last bit in float64) in units in the last
place of the float32 result.
"""

import math

import numpy as np
import pytest
import tinylm.kernels.numba as numba_kernels
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from tinylm.kernels import reference
from tinylm.kernels.numba.jit import ERF_SPLIT, FASTMATH, fast_erf, row_max

ERF_ULP = 2.0  # the stated bound (measured maximum 1.25 ulp over 83 million float32 values)


@njit(fastmath=FASTMATH, error_model="numpy")
def _erf_loop(x, y):
    # a loop as the GELU kernels have it: fast_erf inlined, fast-math around it
    for i in range(x.shape[0]):
        y[i] = fast_erf(x[i])


def _erf32(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    _erf_loop(x, y)
    return y


def _ulp_error(x32: np.ndarray, got: np.ndarray) -> np.ndarray:
    """|got - erf(x)| in units of the float32 spacing at erf(x), erf(x) exact in float64."""
    exact = np.array([math.erf(float(v)) for v in x32], dtype=np.float64)
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / ulp


def test_fast_erf_float32_within_ulp_bound_on_a_dense_grid():
    # every 4099th float32 from 2^-30 to 5 (past 4, erf is ±1 in float32), both signs, and
    # both sides of the split between the two polynomials
    lo, hi = (np.array(v, np.float32).view(np.int32) for v in (2.0**-30, 5.0))
    x = np.arange(lo, hi, 4099, dtype=np.int32).view(np.float32)
    split = np.array(ERF_SPLIT, np.float32).view(np.int32)
    near = (split + np.arange(-3, 4, dtype=np.int32)).view(np.float32)  # ±3 ulp around it
    x = np.concatenate([x, -x, near, -near])
    err = _ulp_error(x, _erf32(x))
    assert err.max() <= ERF_ULP, (x[err.argmax()], err.max())


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=50))
def test_fast_erf_float32_within_ulp_bound_anywhere(values):
    x = np.array(values, dtype=np.float32)
    err = _ulp_error(x, _erf32(x))
    assert err.max() <= ERF_ULP, (x[err.argmax()], err.max())


def test_fast_erf_float32_edges():
    tiny = np.finfo(np.float32).smallest_subnormal
    x = np.array([0.0, -0.0, tiny, -tiny, 1e-30, -1e-30, 3.9, 4.0, 1e30, -1e30, np.inf, -np.inf])
    got = _erf32(x)
    exact = np.array([math.erf(v) for v in x.astype(np.float32).astype(float)], np.float32)
    np.testing.assert_array_equal(got, exact)  # exact here, signs of the large ones too
    assert np.signbit(got[1]) and not np.signbit(got[0])  # erf(-0) = -0
    assert np.isnan(_erf32(np.array([np.nan, -np.nan]))).all()


def test_fast_erf_float64_is_math_erf():
    x = np.random.default_rng(0).standard_normal(1000) * 3
    y = np.empty_like(x)
    _erf_loop(x, y)
    np.testing.assert_array_equal(y, [math.erf(v) for v in x])


@pytest.mark.parametrize("offset", [0.0, 512.0, -3000.0, 1e4])
def test_log_softmax_keeps_float32_precision_far_from_zero(offset):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 33)) + offset).astype(np.float32)
    exact = reference.log_softmax_forward(x.astype(np.float64))
    got = numba_kernels.log_softmax_forward(x)
    # Relative to the size of the result (≈ log 33), not to the size of the logits.
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=2e-6)


def test_log_softmax_backward_takes_any_y_not_only_log_probabilities():
    # The float32 backward uses the shorter exp, made for arguments ≤ 0 (log-probabilities,
    # all the forward gives); a row with an entry above 0 must still get the reference's
    # gx = g - exp(y) Σg, overflow to ±inf included, and NaN must stay NaN.
    rng = np.random.default_rng(2)
    y = -np.abs(rng.standard_normal((6, 40))).astype(np.float32) * 5
    y[0, 3], y[1, 0], y[2, 39], y[3, 7] = 0.5, 30.0, 100.0, np.inf
    y[4, 5] = np.nan  # row 5 stays valid log-probabilities: the fast path alone
    g = rng.standard_normal((6, 40)).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        want = reference.log_softmax_backward(y.astype(np.float64), g.astype(np.float64))
        want = want.astype(np.float32)  # past float32's range: ±inf, as float32 arithmetic gives
    got = numba_kernels.log_softmax_backward(y, g)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


def test_float32_log_softmax_rows_holding_nan_are_nan_as_torchs():
    # The float32 forward's shorter exp leaves exp(NaN) unspecified: the kernel itself must
    # carry a NaN into its row's sum, wherever the NaN sits (first, in the vectorised body,
    # in the loop's tail), so that the whole row is NaN as in PyTorch; other rows stay finite.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 37)).astype(np.float32)
    for row, col in ((0, 0), (1, 17), (2, 36), (3, 35)):
        x[row, col] = np.nan
    y = numba_kernels.log_softmax_forward(x)
    assert np.isnan(y[:4]).all()
    np.testing.assert_allclose(
        y[4], reference.log_softmax_forward(x[4:].astype(np.float64))[0], rtol=2e-6, atol=2e-6
    )


@pytest.mark.parametrize("offset", [0.0, 512.0, -3000.0, 1e4])
def test_cross_entropy_keeps_float32_precision_far_from_zero(offset):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((9, 65)) + offset).astype(np.float32)
    target = rng.integers(0, 65, 9)
    exact, _ = reference.cross_entropy_forward(logits.astype(np.float64), target, -100)
    got, _ = numba_kernels.cross_entropy_forward(logits, target, -100)
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_max_is_the_maximum_at_every_length(dtype):
    # eight interleaved running maxima, then a tail: every length from 1 to 3 blocks and the
    # maximum at every position, -inf entries (masks) and a row of -inf included
    rng = np.random.default_rng(0)
    for n in range(1, 26):
        for where in range(n):
            row = rng.standard_normal(n).astype(dtype)
            row[rng.random(n) < 0.3] = -np.inf
            row[where] = 100.0
            assert row_max(row) == 100.0
        assert row_max(np.full(n, -np.inf, dtype=dtype)) == -np.inf
        strided = rng.standard_normal(2 * n).astype(dtype)[::2]
        assert row_max(strided) == strided.max()


@pytest.mark.parametrize("gap", [10.0, 87.0, 89.0, 200.0, 3000.0])
def test_cross_entropy_precise_when_the_target_logit_is_far_below_the_maximum(gap):
    """The forward shifts each row by its target's logit and retries from the row maximum
    when the sum overflows (a logit more than ~88 above the target's): on both sides of that
    edge the loss and lse are the float64 reference's, to float32's precision."""
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((9, 65)).astype(np.float32)
    target = rng.integers(0, 65, 9)
    for i in range(9):
        logits[i, (target[i] + 1 + i) % 65] = logits[i, target[i]] + np.float32(gap)
    exact, lse_exact = reference.cross_entropy_forward(logits.astype(np.float64), target, -100)
    got, lse = numba_kernels.cross_entropy_forward(logits, target, -100)
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(lse, lse_exact, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gap", [10.0, 87.0, 87.5, 88.0, 89.0, 200.0, 800.0, 3000.0])
def test_softmax_precise_when_the_first_entry_is_far_below_the_maximum(dtype, gap):
    """The float32 forward shifts each row by its first entry and retries from the row
    maximum when the sum overflows (an entry more than ~88.7 above the first): on both sides
    of that edge (from ~87.3 on, 1/s is subnormal and keeps ~22 bits, still within 1e-6), and
    in rows with a -inf, +inf or NaN first entry, the probabilities are the float64
    reference's to the dtype's precision (NaN where the reference has NaN). float64 shifts by
    the maximum."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 70)).astype(dtype)
    for i in range(9):
        x[i, 1 + 7 * i] = x[i, 0] + dtype(gap)
    x[9, 0] = -np.inf  # a masked first key
    x[10, 0] = np.inf
    x[11, 0] = np.nan
    with np.errstate(invalid="ignore"):
        exact = reference.softmax_forward(x.astype(np.float64))
    got = numba_kernels.softmax_forward(x)
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-16}
    np.testing.assert_allclose(got, exact, **tol)


# ---- float16 GELU: computed in float32, rounded once (reference.half_in_float32) ----------


def _gelu_y_d(x: np.ndarray, approximate: str) -> tuple[np.ndarray, np.ndarray]:
    """y and dy/dx of GELU by the reference's formulas, in x's dtype (float32 or float64)."""
    if approximate == "tanh":
        return reference.gelu_forward(x), reference.gelu_derivative(x)
    return reference.gelu_exact_forward(x), reference.gelu_exact_derivative(x)


def _f16_ulps(got: np.ndarray, exact: np.ndarray, tiny: float | None = None) -> float:
    """max |got − exact| in float16 spacings at exact (at least ``tiny``, by default the
    smallest subnormal)."""
    tiny = np.finfo(np.float16).smallest_subnormal if tiny is None else tiny
    ulp = np.maximum(np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64), tiny)
    return float(np.max(np.abs(got.astype(np.float64) - exact) / ulp))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_float16_gelu_is_float32_math_rounded_once(backend: str, approximate: str) -> None:
    """As PyTorch computes half ops: value and gradient are the float32 formulas rounded to
    float16 (the gradient rounds d = dy/dx, kept by the forward, then g·d: within 1 ulp).
    A chain of float16 roundings lost digits: 1 + erf cancels for x < 0, gelu(−3) was 8.5 %
    off (2,000 float16 ulp). The exact form is also within 2 ulp of the float64 truth; the tanh
    form's float32 formula, ½x(1 + tanh u), cancels below x ≈ −4 as PyTorch's does."""
    import tinylm
    import tinylm.nn.functional as F

    x16 = np.linspace(-6, 6, 2401).astype(np.float16)
    g16 = np.random.default_rng(0).uniform(0.5, 2, x16.shape).astype(np.float16)
    before = tinylm.get_backend()
    tinylm.set_backend(backend)
    try:
        x = tinylm.tensor(x16, requires_grad=True)
        y = F.gelu(x, approximate=approximate)
        y.backward(tinylm.tensor(g16))
    finally:
        tinylm.set_backend(before)
    assert y.dtype == tinylm.float16 and x.grad.dtype == tinylm.float16
    y32, d32 = _gelu_y_d(x16.astype(np.float32), approximate)
    g_d16 = g16.astype(np.float32) * d32.astype(np.float16)
    assert _f16_ulps(y.detach().numpy(), y32.astype(np.float16).astype(np.float64)) == 0.0
    assert _f16_ulps(x.grad.numpy(), g_d16.astype(np.float16).astype(np.float64)) <= 1.0
    if approximate == "none":
        y64, d64 = _gelu_y_d(x16.astype(np.float64), approximate)
        assert _f16_ulps(y.detach().numpy(), y64) <= 2.0
        assert _f16_ulps(x.grad.numpy(), g16 * d64) <= 2.0


# ---- float16 row-wise ops: float32 sums, one rounding (reference.half_in_float32) ---------


def _f64(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.astype(np.float64) for a in arrays]


def _f32(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.astype(np.float32) for a in arrays]


def _run_half(backend: str, op, *inputs: np.ndarray, upstream: np.ndarray):
    """op(*tensors) under ``backend`` with float16 tensors that require grad; the output
    and each input's gradient for the upstream gradient ``upstream``, as float16 arrays."""
    import tinylm

    before = tinylm.get_backend()
    tinylm.set_backend(backend)
    try:
        tensors = [tinylm.tensor(a, requires_grad=True) for a in inputs]
        y = op(*tensors)
        y.backward(tinylm.tensor(upstream))
    finally:
        tinylm.set_backend(before)
    assert y.dtype == tinylm.float16
    assert all(t.grad.dtype == tinylm.float16 for t in tensors)
    return y.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float16_softmax_and_log_softmax_round_once(backend: str) -> None:
    """Each result is the float32 computation rounded once, within 1 ulp of float64 on the
    same float16 inputs; before, the sums and exps rounded to float16 at each step: 9 ulp
    (softmax) and 99 ulp (log-softmax) from float64. The gradients use the saved float16 y,
    as PyTorch's do: they are compared with the formula on that y."""
    import tinylm.nn.functional as F

    rng = np.random.default_rng(1)
    x = (4 * rng.standard_normal((16, 300))).astype(np.float16)
    g = rng.standard_normal(x.shape).astype(np.float16)
    for op, forward, backward in [
        (F.softmax, reference.softmax_forward, reference.softmax_backward),
        (F.log_softmax, reference.log_softmax_forward, reference.log_softmax_backward),
    ]:
        y, (gx,) = _run_half(backend, lambda t, op=op: op(t, -1), x, upstream=g)
        np.testing.assert_array_equal(y, forward(x.astype(np.float32)).astype(np.float16))
        np.testing.assert_array_equal(
            gx, backward(*_f32(y, g)).astype(np.float16), err_msg=op.__name__
        )
        assert _f16_ulps(y, forward(*_f64(x))) <= 1.0
        assert _f16_ulps(gx, backward(*_f64(y, g))) <= 1.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float16_layer_norm_rounds_once_and_keeps_its_statistics_in_float32(
    backend: str,
) -> None:
    """y and all three gradients are the float32 computation rounded once, within 1 ulp of
    float64 on the same float16 inputs (an absolute 2⁻²⁰ where y ≈ 0: float32 rounds the
    O(1) terms x̂·w and b by 2⁻²⁴ each before they cancel); before, mean and variance summed
    in float16: y 425 ulp off. The mean and rstd handed to the backward stay float32, as
    PyTorch keeps them for half inputs."""
    import tinylm.nn.functional as F

    rng = np.random.default_rng(2)
    x = (3 + 2 * rng.standard_normal((32, 256))).astype(np.float16)  # a mean far from 0
    w = rng.uniform(0.5, 1.5, 256).astype(np.float16)
    b = rng.standard_normal(256).astype(np.float16)
    g = rng.standard_normal(x.shape).astype(np.float16)
    y, grads = _run_half(
        backend, lambda *t: F.layer_norm(t[0], (256,), t[1], t[2]), x, w, b, upstream=g
    )
    y32, mean32, rstd32 = reference.layer_norm_forward(*_f32(x, w, b))
    np.testing.assert_array_equal(y, y32.astype(np.float16))
    for got, at32 in zip(grads, reference.layer_norm_backward(*_f32(g, x, w), mean32, rstd32)):
        np.testing.assert_array_equal(got, at32.astype(np.float16))
    y64, mean, rstd = reference.layer_norm_forward(*_f64(x, w, b))
    assert _f16_ulps(y, y64, tiny=2**-20) <= 1.0
    for got, exact in zip(grads, reference.layer_norm_backward(*_f64(g, x, w, mean, rstd))):
        assert _f16_ulps(got, exact, tiny=2**-20) <= 1.0
    _, mean16, rstd16 = reference.layer_norm_forward(x, w, b)
    assert mean16.dtype == rstd16.dtype == np.float32


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float16_attention_and_cross_entropy_round_once(backend: str) -> None:
    """Causal attention's output is the float32 computation rounded once, within 1 ulp of
    float64 (1,180 ulp before: scores, exps and sums each rounded to float16), its lse kept
    in float32; cross-entropy's gradient likewise (PyTorch's: the float32 softmax, rounded
    once)."""
    import tinylm
    import tinylm.nn.functional as F

    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 16, 8)).astype(np.float16) for _ in range(3))
    gout = rng.standard_normal(q.shape).astype(np.float16)
    out, _ = _run_half(
        backend, lambda *t: F.scaled_dot_product_attention(*t, is_causal=True), q, k, v,
        upstream=gout,
    )  # fmt: skip
    out32, _ = reference.attention_forward(*_f32(q, k, v), 8**-0.5, True)
    np.testing.assert_array_equal(out, out32.astype(np.float16))
    out64, _ = reference.attention_forward(*_f64(q, k, v), 8**-0.5, True)
    assert _f16_ulps(out, out64) <= 1.0
    _, lse16 = reference.attention_forward(q, k, v, 8**-0.5, True)
    assert lse16.dtype == np.float32

    logits = (4 * rng.standard_normal((64, 100))).astype(np.float16)
    target = rng.integers(0, 100, 64)
    before = tinylm.get_backend()
    tinylm.set_backend(backend)
    try:
        x = tinylm.tensor(logits, requires_grad=True)
        F.cross_entropy(x, tinylm.tensor(target), reduction="sum").backward()
    finally:
        tinylm.set_backend(before)
    assert x.grad.dtype == tinylm.float16
    exact = reference.softmax_forward(logits.astype(np.float64))
    exact[np.arange(64), target] -= 1
    assert _f16_ulps(x.grad.numpy(), exact) <= 1.0
