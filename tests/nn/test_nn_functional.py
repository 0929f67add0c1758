"""tinylm.nn.functional: every function against a plain numpy reference, with gradcheck
(float64, hypothesis shapes, random upstream gradients) through the OpTests battery, plus
the stability properties of the losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tinylm.kernels import registry

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError
from tinylm.testing import OpSpec, OpTests, gradcheck
from tinylm.testing import strategies as st_tl


@pytest.fixture(autouse=True, scope="module")
def reference_kernels():
    """Run this file's many small hypothesis cases on the reference kernels.

    They check the derivations in tinylm.nn.functional, which are the same whichever
    backend computes the arrays; the Numba kernels cost ~1.5 ms per call on tiny inputs
    (thread start-up). ``test_kernel_backed_functions_agree_across_backends`` runs the
    same functions on every available backend.
    """
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


# ---------------------------------------------------------------------------------------
# numpy references, written from the equations (independently of the implementation)
# ---------------------------------------------------------------------------------------


def np_log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_softmax(x, axis=-1):
    return np.exp(np_log_softmax(x, axis))


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_gelu_exact(x):
    """x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2, with math.erf element by element."""
    erf = np.vectorize(lambda v: math.erf(v / math.sqrt(2)), otypes=[np.float64])
    return (0.5 * x * (1 + erf(x))).astype(x.dtype)


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def classes_last(x):
    """PyTorch's (N, C, d1, …) class scores with the class axis moved last."""
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


def np_cross_entropy(x, target, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    x = classes_last(x)
    c = x.shape[-1]
    logp = np_log_softmax(x.reshape(-1, c))
    t = target.reshape(-1)
    valid = t != ignore_index
    nll = -logp[np.arange(len(t)), np.where(valid, t, 0)]
    smooth = -logp.mean(axis=-1)
    loss = np.where(valid, (1 - label_smoothing) * nll + label_smoothing * smooth, 0.0)
    if reduction == "none":
        return loss.reshape(target.shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / valid.sum()


def np_nll(logp, target, ignore_index=-100, reduction="mean"):
    logp = classes_last(logp)
    c = logp.shape[-1]
    t = target.reshape(-1)
    valid = t != ignore_index
    loss = np.where(valid, -logp.reshape(-1, c)[np.arange(len(t)), np.where(valid, t, 0)], 0.0)
    if reduction == "none":
        return loss.reshape(target.shape)
    return loss.sum() if reduction == "sum" else loss.sum() / valid.sum()


def np_bce_logits(x, y, reduction="mean"):
    # the textbook form −[y log σ(x) + (1 − y) log(1 − σ(x))], fine for moderate x
    s = 1 / (1 + np.exp(-x))
    return np_reduce(-(y * np.log(s) + (1 - y) * np.log(1 - s)), reduction)


def np_bce(p, y, reduction="mean"):
    return np_reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p)), reduction)


def np_attention(q, k, v, mask=None, is_causal=False):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    keep = np.ones(s.shape[-2:], bool)
    if is_causal:
        keep = np.tril(keep)  # top-left aligned: query i sees keys j <= i
    if mask is not None and mask.dtype == bool:
        keep = keep & mask
    elif mask is not None:
        s = s + mask
    s = np.where(keep, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    z = e.sum(axis=-1, keepdims=True)
    return (e / np.where(z == 0, 1, z)) @ v


# ---------------------------------------------------------------------------------------
# shape and keyword strategies
# ---------------------------------------------------------------------------------------

reductions = st.sampled_from(["mean", "sum", "none"])


@st.composite
def linear_shapes(draw, bias=True):
    lead = draw(st_tl.shapes(min_dims=0, max_dims=2, max_side=3))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shapes = (lead + (n_in,), (n_out, n_in))
    return shapes + ((n_out,),) if bias else shapes


@st.composite
def layer_norm_shapes(draw):
    lead = draw(st_tl.shapes(min_dims=0, max_dims=2, max_side=3))
    c = draw(st.integers(2, 6))
    return (lead + (c,), (c,), (c,))


@st.composite
def logits_shapes(draw):
    """PyTorch's layouts: (C,), (N, C), (N, C, d1) and (N, C, d1, d2)."""
    c = draw(st.integers(1, 5))
    n, *rest = draw(st_tl.shapes(min_dims=1, max_dims=3, max_side=4))
    return ((n, c, *rest) if draw(st.integers(0, 4)) else (c,),)


@st.composite
def class_targets(draw, logits_shape, ignore_index=-100):
    """Targets for class scores in PyTorch's layout: the shape without the class axis (dim 1,
    or dim 0 of a 1-D input)."""
    c = logits_shape[1] if len(logits_shape) > 1 else logits_shape[0]
    shape = logits_shape[:1] + logits_shape[2:] if len(logits_shape) > 1 else ()
    t = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, c - 1)))
    ignored = draw(hnp.arrays(bool, t.shape))
    ignored.flat[0] = False  # keep one real target: a mean over none is NaN by definition
    return np.where(ignored, ignore_index, t)


def ce_kwargs(shapes):
    return st.fixed_dictionaries(
        dict(
            target=class_targets(shapes[0]),
            reduction=reductions,
            label_smoothing=st.sampled_from([0.0, 0.0, 0.1, 0.5]),
        )
    )


def nll_kwargs(shapes):
    return st.fixed_dictionaries(dict(target=class_targets(shapes[0]), reduction=reductions))


same_shapes = st_tl.shapes(min_dims=0, max_dims=3, max_side=4).map(lambda s: (s, s))


@st.composite
def attention_shapes(draw):
    batch = draw(st_tl.shapes(min_dims=0, max_dims=2, max_side=2))
    tq, tk = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d, dv = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (batch + (tq, d), batch + (tk, d), batch + (tk, dv))


@st.composite
def attention_kwargs(draw, shapes):
    q_shape, k_shape, _ = shapes
    tq, tk = q_shape[-2], k_shape[-2]
    kind = draw(st.sampled_from(["none", "causal", "bool", "float", "bool+causal"]))
    kwargs = {}
    if "causal" in kind:
        kwargs["is_causal"] = True
    if "bool" in kind:
        # rows may end up fully masked: they must come out as zeros, not NaN
        kwargs["attn_mask"] = draw(hnp.arrays(bool, (tq, tk)))
    if kind == "float":
        kwargs["attn_mask"] = draw(
            hnp.arrays(np.float64, (tq, tk), elements=st.floats(-3, 3, width=64))
        )
    return kwargs


def sdpa_reference(q, k, v, attn_mask=None, is_causal=False):
    return np_attention(q, k, v, attn_mask, is_causal)


# ---------------------------------------------------------------------------------------
# the OpTests batteries (forward vs reference, float32, gradcheck, no mutation/alias, …)
# ---------------------------------------------------------------------------------------


class TestGelu(OpTests):
    spec = OpSpec(
        name="gelu",
        fn=lambda x: F.gelu(x, approximate="tanh"),
        reference=np_gelu,
        inputs=[dict(min_value=-6, max_value=6)],
    )


class TestGeluExact(OpTests):
    spec = OpSpec(
        name="gelu_exact",
        fn=F.gelu,
        reference=np_gelu_exact,
        inputs=[dict(min_value=-6, max_value=6)],
    )


def test_gelu_forms_differ_by_at_most_5e_4_and_bad_forms_are_rejected():
    x = tinylm.tensor(np.linspace(-6, 6, 2001))
    gap = np.abs(F.gelu(x).numpy() - F.gelu(x, approximate="tanh").numpy())
    assert 1e-4 < gap.max() < 5e-4
    with pytest.raises(TinyLMError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(TinyLMError, match="approximate must be 'none' or 'tanh'"):
        tinylm.nn.GELU("fast")
    assert tinylm.nn.GELU().approximate == "none"


class TestSoftmax(OpTests):
    spec = OpSpec(
        name="softmax",
        fn=lambda x, dim: F.softmax(x, dim),
        reference=lambda x, dim: np_softmax(x, dim),
        shapes=st_tl.shapes(min_dims=1, max_dims=3, max_side=4).map(lambda s: (s,)),
        kwargs=lambda shapes: st.integers(-len(shapes[0]), len(shapes[0]) - 1).map(
            lambda d: {"dim": d}
        ),
    )


class TestLogSoftmax(OpTests):
    spec = OpSpec(
        name="log_softmax",
        fn=lambda x, dim: F.log_softmax(x, dim),
        reference=lambda x, dim: np_log_softmax(x, dim),
        shapes=st_tl.shapes(min_dims=1, max_dims=3, max_side=4).map(lambda s: (s,)),
        kwargs=lambda shapes: st.integers(-len(shapes[0]), len(shapes[0]) - 1).map(
            lambda d: {"dim": d}
        ),
    )


class TestLinear(OpTests):
    spec = OpSpec(
        name="linear",
        fn=F.linear,
        reference=lambda x, w, b: x @ w.T + b,
        inputs=[dict(), dict(), dict()],
        shapes=linear_shapes(),
    )


class TestLinearNoBias(OpTests):
    spec = OpSpec(
        name="linear (no bias)",
        fn=F.linear,
        reference=lambda x, w: x @ w.T,
        inputs=[dict(), dict()],
        shapes=linear_shapes(bias=False),
    )


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class TestLayerNorm(OpTests):
    spec = OpSpec(
        name="layer_norm",
        fn=lambda x, w, b: F.layer_norm(x, w.shape[0], w, b),
        reference=np_layer_norm,
        # distinct values: a row of equal numbers has variance 0, where 1/√(var+ε) makes
        # the finite differences themselves unreliable
        inputs=[dict(unique=True, min_value=-3, max_value=3), dict(), dict()],
        shapes=layer_norm_shapes(),
        rtol=1e-9,
    )


class TestCrossEntropy(OpTests):
    spec = OpSpec(
        name="cross_entropy",
        fn=F.cross_entropy,
        reference=np_cross_entropy,
        shapes=logits_shapes(),
        kwargs=ce_kwargs,
    )


class TestNLLLoss(OpTests):
    spec = OpSpec(
        name="nll_loss", fn=F.nll_loss, reference=np_nll, shapes=logits_shapes(), kwargs=nll_kwargs
    )


class TestBCEWithLogits(OpTests):
    spec = OpSpec(
        name="binary_cross_entropy_with_logits",
        fn=F.binary_cross_entropy_with_logits,
        reference=np_bce_logits,
        inputs=[dict(min_value=-8, max_value=8), dict(min_value=0, max_value=1)],
        shapes=same_shapes,
        kwargs=st.fixed_dictionaries({"reduction": reductions}),
        rtol=1e-9,
    )


class TestBCE(OpTests):
    spec = OpSpec(
        name="binary_cross_entropy",
        fn=F.binary_cross_entropy,
        reference=np_bce,
        inputs=[dict(min_value=0.05, max_value=0.95), dict(min_value=0, max_value=1)],
        shapes=same_shapes,
        kwargs=st.fixed_dictionaries({"reduction": reductions}),
    )


class TestMSELoss(OpTests):
    spec = OpSpec(
        name="mse_loss",
        fn=F.mse_loss,
        reference=lambda x, y, reduction: np_reduce((x - y) ** 2, reduction),
        inputs=[dict(), dict()],
        shapes=same_shapes,
        kwargs=st.fixed_dictionaries({"reduction": reductions}),
    )


@st.composite
def embedding_kwargs(draw, shapes):
    num = shapes[0][0]
    idx_shape = draw(st_tl.shapes(min_dims=0, max_dims=2, max_side=5))
    return {"input": draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(0, num - 1)))}


class TestEmbedding(OpTests):
    spec = OpSpec(
        name="embedding",
        fn=lambda w, input: F.embedding(input, w),
        reference=lambda w, input: w[input],
        shapes=st.tuples(st.integers(1, 6), st.integers(1, 4)).map(lambda s: (s,)),
        kwargs=embedding_kwargs,
    )


class TestAttention(OpTests):
    spec = OpSpec(
        name="scaled_dot_product_attention",
        fn=F.scaled_dot_product_attention,
        reference=sdpa_reference,
        inputs=[dict(min_value=-3, max_value=3)] * 3,
        shapes=attention_shapes(),
        kwargs=attention_kwargs,
        rtol=1e-9,
    )


@st.composite
def fused_attention_shapes(draw):
    """(B, H, T, D) q, k, v: the shapes that take the fused kernel (no mask, no dropout)."""
    b, h = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    tq, tk = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d, dv = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return ((b, h, tq, d), (b, h, tk, d), (b, h, tk, dv))


class TestFusedAttention(OpTests):
    """Every example through the fused attention op (TestAttention's masks mostly take the
    composed path)."""

    spec = OpSpec(
        name="scaled_dot_product_attention (fused kernel)",
        fn=F.scaled_dot_product_attention,
        reference=sdpa_reference,
        inputs=[dict(min_value=-3, max_value=3)] * 3,
        shapes=fused_attention_shapes(),
        kwargs=st.fixed_dictionaries({"is_causal": st.booleans()}),
        rtol=1e-9,
    )


@pytest.fixture(scope="class")
def default_backend():
    """The registry's default backend (Numba on the CPU) for one class, inside this file's
    reference-kernel fixture."""
    previous = registry.get_backend()
    registry.set_backend("auto")
    yield
    registry.set_backend(previous)


# The kernel-backed functions' batteries once more on the default backend, so that every
# property (the upstream gradients in any layout above all) reaches the kernels' entry points.


@pytest.mark.usefixtures("default_backend")
class TestGeluKernel(TestGelu):
    pass


@pytest.mark.usefixtures("default_backend")
class TestGeluExactKernel(TestGeluExact):
    pass


@pytest.mark.usefixtures("default_backend")
class TestSoftmaxKernel(TestSoftmax):
    pass


@pytest.mark.usefixtures("default_backend")
class TestLogSoftmaxKernel(TestLogSoftmax):
    pass


@pytest.mark.usefixtures("default_backend")
class TestLayerNormKernel(TestLayerNorm):
    pass


@pytest.mark.usefixtures("default_backend")
class TestCrossEntropyKernel(TestCrossEntropy):
    pass


@pytest.mark.usefixtures("default_backend")
class TestFusedAttentionKernel(TestFusedAttention):
    pass


def test_attention_backward_through_sum_on_every_backend():
    """The reported case: the gradient of ``.sum()`` is a read-only broadcast view, which the
    Numba attention backward's signature once refused (``No matching definition``)."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((12, 4, 64, 32)).astype(np.float32) for _ in range(3))
    grads = {}
    for backend in registry.implementations("attention_backward", "cpu"):
        registry.set_backend(backend)
        try:
            ts = [tinylm.tensor(a, requires_grad=True) for a in (q, k, v)]
            F.scaled_dot_product_attention(*ts, is_causal=True).sum().backward()
            grads[backend] = [t.grad.numpy() for t in ts]
        finally:
            registry.set_backend("numpy")
    for backend, got in grads.items():
        for a, w in zip(got, grads["numpy"]):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-5, err_msg=backend)


# ---------------------------------------------------------------------------------------
# functions with a parameter that needs its own gradient check
# ---------------------------------------------------------------------------------------


@given(
    data=st.data(),
    shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=4),
)
def test_bce_with_logits_pos_weight_gradcheck(data, shape):
    x = data.draw(st_tl.arrays(shape=shape, min_value=-6, max_value=6))
    y = data.draw(st_tl.arrays(shape=shape, min_value=0, max_value=1))
    q = data.draw(st_tl.arrays(shape=shape[-1:], min_value=0.2, max_value=3))
    reduction = data.draw(reductions)
    ins = [tinylm.Tensor(a, requires_grad=True) for a in (x, y, q)]

    def fn(x, y, q):
        return F.binary_cross_entropy_with_logits(x, y, reduction=reduction, pos_weight=q)

    gradcheck(fn, ins, seed=data.draw(st.integers(0, 2**16)))
    # against the textbook form −[q y log σ(x) + (1 − y) log(1 − σ(x))]
    s = 1 / (1 + np.exp(-x))
    expected = np_reduce(-(q * y * np.log(s) + (1 - y) * np.log(1 - s)), reduction)
    np.testing.assert_allclose(fn(*ins).detach().numpy(), expected, rtol=1e-9, atol=1e-12)


@given(data=st.data(), shape=logits_shapes())
def test_cross_entropy_is_nll_of_log_softmax(data, shape):
    x = data.draw(st_tl.arrays(shape=shape[0]))
    t = data.draw(class_targets(shape[0]))
    a = F.cross_entropy(tinylm.tensor(x), t)
    b = F.nll_loss(F.log_softmax(tinylm.tensor(x), 1 if x.ndim > 1 else 0), t)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    t = np.array([0, 4, 2, -100, 1, 3])
    logits = tinylm.tensor(x, requires_grad=True)
    F.cross_entropy(logits, t).backward()
    onehot = np.zeros_like(x)
    onehot[np.arange(6), np.where(t >= 0, t, 0)] = 1
    expected = (np_softmax(x) - onehot) / 5  # 5 non-ignored targets
    expected[3] = 0  # the ignored row gets no gradient
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.fixture(params=list(registry.implementations("softmax_forward", "cpu")))
def each_backend(request):
    """Every CPU backend in turn (this file runs on the reference otherwise)."""
    previous = registry.get_backend()
    registry.set_backend(request.param)
    yield request.param
    registry.set_backend(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_kept_and_recomputed_softmax_give_the_same_gradients(
    dtype, label_smoothing, reduction, monkeypatch, each_backend
):
    """Small logits: the forward keeps softmax(x) for the backward; above
    policy.CROSS_ENTROPY_PROBS_MAX the backward recomputes it from lse. Same numbers, for a
    random upstream gradient and ignored rows; both are softmax − onehot."""
    from tinylm.kernels import policy

    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 7, 9)) * 4).astype(dtype)
    t = rng.integers(0, 7, (2, 9))
    t[0, 3] = t[1, 0] = -100
    up = rng.standard_normal(() if reduction != "none" else (2, 9))
    grads = []
    for limit in (policy.CROSS_ENTROPY_PROBS_MAX, 0):
        monkeypatch.setattr(policy, "CROSS_ENTROPY_PROBS_MAX", limit)
        logits = tinylm.tensor(x, requires_grad=True)
        loss = F.cross_entropy(logits, t, reduction=reduction, label_smoothing=label_smoothing)
        loss.backward(tinylm.tensor(up.astype(dtype)))
        grads.append((loss.detach().numpy(), logits.grad.numpy()))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=tol, atol=tol)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=tol, atol=tol)
    p = np_softmax(np.moveaxis(x.astype(np.float64), 1, -1))
    onehot = np.zeros_like(p)
    onehot[np.arange(2)[:, None], np.arange(9), np.where(t >= 0, t, 0)] = 1
    target_dist = (1 - label_smoothing) * onehot + label_smoothing / 7
    per_row = up if reduction == "none" else up / (t >= 0).sum() if reduction == "mean" else up
    expected = (p - target_dist) * np.where(t >= 0, per_row, 0)[..., None]
    np.testing.assert_allclose(grads[0][1], np.moveaxis(expected, -1, 1), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradient_written_by_the_forward(dtype, reduction, monkeypatch, each_backend):
    """A mean or a sum: the forward writes (softmax − onehot)·s for the backward (s = 1/N or
    1). loss.backward() gets it as it is; a second backward through a retained graph (the
    forward kernel writes it again) and an upstream g (g times it) get the same numbers;
    the float64 formula agrees; ignored rows get zeros. Without a gradient to compute (no
    requires_grad, or under no_grad) nothing of the logits' size is kept."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((10, 7)) * 3).astype(dtype)
    t = rng.integers(0, 7, 10)
    t[[2, 6]] = -100
    logits = tinylm.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, t, reduction=reduction)
    loss.backward(retain_graph=True)
    first = logits.grad.numpy().copy()
    loss.backward(retain_graph=True)  # the kept gradient was taken: written again
    np.testing.assert_array_equal(logits.grad.numpy(), 2 * first)
    logits.grad = None
    loss.backward(tinylm.tensor(np.asarray(-2.5, dtype)))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(logits.grad.numpy(), -2.5 * first, rtol=tol, atol=tol)
    onehot = np.zeros((10, 7))
    onehot[np.arange(10), np.where(t >= 0, t, 0)] = 1
    expected = (np_softmax(x.astype(np.float64)) - onehot) / (8 if reduction == "mean" else 1)
    expected[[2, 6]] = 0
    np.testing.assert_allclose(first, expected, rtol=tol, atol=tol)
    from tinylm.nn.functional import losses

    buffers = []
    real_kernel = losses.kernel

    def spy(name, like):
        fn = real_kernel(name, like)

        def call(*args, **kwargs):
            buffers.append((kwargs.get("probs"), kwargs.get("dlogits")))
            return fn(*args, **kwargs)

        return call

    monkeypatch.setattr(losses, "kernel", spy)
    F.cross_entropy(tinylm.tensor(x), t)
    with tinylm.no_grad():
        F.cross_entropy(tinylm.tensor(x, requires_grad=True), t)
    assert buffers == [(None, None), (None, None)]
    F.cross_entropy(tinylm.tensor(x, requires_grad=True), t)
    assert buffers[-1][0] is None and buffers[-1][1].shape == x.shape
    plain = F.cross_entropy(tinylm.tensor(x), t, reduction=reduction)
    np.testing.assert_array_equal(plain.numpy(), loss.detach().numpy())


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_kept_derivative_gives_the_recomputed_gradient(approximate, monkeypatch, each_backend):
    """A training forward on the CPU keeps dy/dx and the backward multiplies by it; with the
    policy off the backward recomputes dy/dx from x. Same gradients, both equal to the
    reference's, for a random upstream gradient; no derivative is kept without grad."""
    from tinylm.kernels import reference

    from tinylm.nn.functional import activations

    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 9)) * 3
    up = rng.standard_normal((6, 9))
    grads = []
    for keep in (True, False):
        monkeypatch.setattr(activations, "gelu_keeps_derivative", lambda a, keep=keep: keep)
        t = tinylm.tensor(x, requires_grad=True)
        F.gelu(t, approximate=approximate).backward(tinylm.tensor(up))
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-13, atol=1e-14)
    form = "gelu" if approximate == "tanh" else "gelu_exact"
    expected = up * getattr(reference, f"{form}_derivative")(x)
    np.testing.assert_allclose(grads[0], expected, rtol=1e-12, atol=1e-14)

    asked = []
    monkeypatch.setattr(activations, "gelu_keeps_derivative", lambda a: asked.append(a) or True)
    with tinylm.no_grad():
        F.gelu(tinylm.tensor(x, requires_grad=True), approximate=approximate)
    F.gelu(tinylm.tensor(x), approximate=approximate)
    assert asked == []  # nothing to differentiate: the policy is not even asked


class _Emit(tinylm.Function):
    """Identity forward; its backward hands the engine a new copy of ``log["upstream"]``
    (``fresh_grads``) and records it as ``log["given"]``: the engine then owns that array, as
    it owns a matrix product's output."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, *, log):
        ctx.log = log
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        out = np.array(ctx.log["upstream"], dtype=g.dtype)
        ctx.log["given"] = out
        return out


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("permuted", [False, True])
def test_gelu_backward_multiplies_into_a_gradient_only_the_engine_holds(approximate, permuted):
    """With dy/dx kept, GELU's backward writes g·dy/dx into g itself when the engine owns g
    (Context.grad_is_scratch: here the new array of the op after it, as a Linear's product
    would be), so x.grad is that very array; the gradient is the reference's either way."""
    from tinylm.kernels import reference

    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 5)) * 2
    log = {"upstream": rng.standard_normal((5, 4, 3) if permuted else (4, 3, 5))}
    t = tinylm.tensor(x, requires_grad=True)
    view = t.permute(2, 0, 1) if permuted else t
    _Emit.apply(F.gelu(view, approximate=approximate), log=log).sum().backward()
    form = "gelu" if approximate == "tanh" else "gelu_exact"
    up = log["upstream"].transpose(1, 2, 0) if permuted else log["upstream"]
    expected = up * getattr(reference, f"{form}_derivative")(x)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12, atol=1e-14)
    if not permuted:  # the leaf keeps the engine's array (a permuted view comes back as a copy)
        assert np.shares_memory(t.grad.data, log["given"])


@pytest.mark.parametrize("case", ["user's gradient", "retain_grad", "hook", "autograd.grad"])
def test_gelu_backward_never_writes_into_a_gradient_someone_else_holds(case):
    """The user's upstream array, a retained .grad, the array a hook saw and one that
    autograd.grad returns keep their values: GELU's backward writes into g only when the
    engine alone holds it."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    t = tinylm.tensor(x, requires_grad=True)
    y = F.gelu(t)
    seen = []
    if case == "user's gradient":
        user = tinylm.tensor(g.copy())
        y.backward(user)
        np.testing.assert_array_equal(user.numpy(), g)
        return
    z = _Emit.apply(y, log={"upstream": g})
    if case == "retain_grad":
        y.retain_grad()
    if case == "hook":
        y.register_hook(lambda grad: seen.append(grad.data) or None)
    if case == "autograd.grad":
        got_y, _ = tinylm.autograd.grad(z.sum(), (y, t))
        np.testing.assert_array_equal(got_y.numpy(), g)
        return
    z.sum().backward()
    kept = y.grad.numpy() if case == "retain_grad" else seen[0]
    np.testing.assert_array_equal(kept, g)


GELU_VIEWS = {
    "permuted": lambda t: t.permute(2, 0, 1),
    "transposed with gaps": lambda t: t.transpose(0, 2)[:, ::2],
    "expanded, permuted": lambda t: t[:, :1].expand(2, 3, 4).permute(2, 1, 0),
    "matrix transposed": lambda t: t[0].t(),
}


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("view", list(GELU_VIEWS))
def test_gelu_of_permuted_views_matches_the_reference_and_finite_differences(
    approximate, keep, view, monkeypatch
):
    """GELU runs its kernels on a permuted input in the input's memory order and turns the
    result back (its layout is then PyTorch's: tests/test_torch_shape_parity.py); values and
    gradients are those of the same view made contiguous, for an upstream gradient of any
    layout, with dy/dx kept by the forward or recomputed by the backward."""
    from tinylm.kernels import reference

    from tinylm.nn.functional import activations

    monkeypatch.setattr(activations, "gelu_keeps_derivative", lambda a: keep)
    make = GELU_VIEWS[view]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4)) * 3
    form = "gelu" if approximate == "tanh" else "gelu_exact"
    v = make(tinylm.tensor(x)).numpy()
    y = F.gelu(make(tinylm.tensor(x)), approximate=approximate)
    np.testing.assert_allclose(y.numpy(), getattr(reference, f"{form}_forward")(v), rtol=1e-12)
    gradcheck(
        lambda t: F.gelu(make(t), approximate=approximate), [tinylm.tensor(x, requires_grad=True)]
    )
    up = rng.standard_normal(v.shape)
    grads = []
    for u in (tinylm.tensor(up), tinylm.tensor(up.T.copy()).permute(*range(up.ndim - 1, -1, -1))):
        t = tinylm.tensor(x, requires_grad=True)
        F.gelu(make(t), approximate=approximate).backward(u)
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])  # the upstream layout changes nothing


def test_dropout_gradcheck_with_fixed_mask():
    x = tinylm.randn(4, 5, dtype=tinylm.float64, requires_grad=True)

    def fn(x):
        tinylm.manual_seed(3)  # the same mask on every evaluation
        return F.dropout(x, 0.4)

    gradcheck(fn, [x])


def test_relu_and_identity_cases():
    x = tinylm.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    F.relu(x).backward(tinylm.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 4])
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.7, training=False) is x


# ---------------------------------------------------------------------------------------
# stability properties
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_finite_and_correct_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    t = np.array([0, 1, 0])
    logits = tinylm.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, t, reduction="none")
    # exact: log(e^{1e4} + e^{-1e4} + 1) − picked = 1e4 − picked (to double precision)
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 2e4, 2e4], rtol=1e-6)
    loss.sum().backward()
    g = logits.grad.numpy()
    assert np.isfinite(g).all()
    expected = np.array([[0, 0, 0], [1, -1, 0], [-1, 0, 1]], dtype=dtype)  # softmax − onehot
    np.testing.assert_allclose(g, expected, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_finite_and_correct_for_huge_logits(dtype):
    x = tinylm.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    y = tinylm.tensor(np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, 1e4, 1e4], rtol=1e-7, atol=1e-30)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, -1.0], atol=1e-30)
    q = tinylm.tensor(np.full(4, 2.0, dtype=dtype))
    loss_q = F.binary_cross_entropy_with_logits(x.detach(), y, reduction="none", pos_weight=q)
    np.testing.assert_allclose(loss_q.numpy(), [0.0, 0.0, 1e4, 2e4], rtol=1e-7, atol=1e-30)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = tinylm.tensor([0.0, 1.0, 0.0], dtype=tinylm.float64, requires_grad=True)
    y = tinylm.tensor([1.0, 0.0, 0.0], dtype=tinylm.float64)
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()


@given(
    x=st_tl.arrays(
        shape=st_tl.shapes(min_dims=1, max_dims=3, max_side=6), min_value=-800, max_value=800
    )
)
def test_log_softmax_matches_log_of_softmax_where_finite(x):
    ours = F.log_softmax(tinylm.tensor(x), -1).numpy()
    assert np.isfinite(ours).all()
    with np.errstate(divide="ignore"):
        naive = np.log(F.softmax(tinylm.tensor(x), -1).numpy())
    finite = np.isfinite(naive) & (naive > -700)  # away from subnormal probabilities
    np.testing.assert_allclose(ours[finite], naive[finite], rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------
# float32 stays float32, and clear errors
# ---------------------------------------------------------------------------------------


def test_float32_stays_float32_through_every_function():
    x = tinylm.randn(2, 3, 4, requires_grad=True)
    w = tinylm.randn(5, 4, requires_grad=True)
    b = tinylm.randn(5, requires_grad=True)
    outs = [
        F.linear(x, w, b),
        F.gelu(x),
        F.layer_norm(x, 4, tinylm.ones(4), tinylm.zeros(4)),
        F.dropout(x, 0.3),
        F.cross_entropy(x, np.zeros((2, 4), dtype=np.int64), label_smoothing=0.1),
        F.mse_loss(x, tinylm.zeros(2, 3, 4)),
        F.binary_cross_entropy_with_logits(x, tinylm.ones(2, 3, 4)),
        F.scaled_dot_product_attention(x, x, x, is_causal=True),
        F.scaled_dot_product_attention(x, x, x, dropout_p=0.2),
    ]
    for out in outs:
        assert out.dtype == np.float32
        out.sum().backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32


def test_errors_name_the_op_shapes_and_dtypes():
    x = tinylm.randn(2, 3)
    with pytest.raises(TinyLMError, match=r"linear.*\(2, 3\) float32.*\(4, 5\)"):
        F.linear(x, tinylm.randn(4, 5))
    with pytest.raises(TinyLMError, match="linear: all inputs must have the same dtype"):
        F.linear(x, tinylm.randn(4, 3, dtype=tinylm.float64))
    with pytest.raises(TinyLMError, match="target value 7 is out of range for 3 classes"):
        F.cross_entropy(x, [0, 7])
    with pytest.raises(
        TinyLMError,
        match=r"class axis is dim 1 \(as in PyTorch\), so target must have shape \(2, 4\)",
    ):
        F.cross_entropy(tinylm.randn(2, 3, 4), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TinyLMError, match="integer class indices"):
        F.cross_entropy(x, np.zeros(2))
    with pytest.raises(TinyLMError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(TinyLMError, match="index 9 is out of range for a table of 4 rows"):
        F.embedding([1, 9], tinylm.randn(4, 2))
    with pytest.raises(TinyLMError, match="probabilities in"):
        F.binary_cross_entropy(tinylm.tensor([1.5]), tinylm.tensor([1.0]))
    with pytest.raises(TinyLMError, match="layer_norm.*does not end with"):
        F.layer_norm(x, 4)
    with pytest.raises(TinyLMError, match="dropout: p must be a probability"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_backed_functions_agree_across_backends(dtype):
    """Forward and backward of every kernel-backed function give the same numbers with the
    reference kernels and with each fast backend (Numba on this CPU)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.standard_normal((2, 3, 8)),
        "w": rng.standard_normal((5, 8)),
        "b": rng.standard_normal(5),
        "g": rng.standard_normal(8),
        "q": rng.standard_normal((2, 2, 6, 4)),
        "k": rng.standard_normal((2, 2, 7, 4)),
        "v": rng.standard_normal((2, 2, 7, 3)),
    }
    target = rng.integers(0, 8, (2, 3))
    target[0, 0] = -100

    def run():
        t = {k: tinylm.tensor(a.astype(dtype), requires_grad=True) for k, a in arrays.items()}
        outs = [
            F.linear(t["x"], t["w"], t["b"]),
            F.gelu(t["x"]),
            F.gelu(t["x"], approximate="tanh"),
            F.softmax(t["x"], 1),
            F.log_softmax(t["x"], -1),
            F.layer_norm(t["x"], 8, t["g"], t["g"] * 0.5),
            F.cross_entropy(t["x"].reshape(-1, 8), target.reshape(-1)),
            F.scaled_dot_product_attention(t["q"], t["k"], t["v"]),
            F.scaled_dot_product_attention(t["q"], t["k"], t["v"], is_causal=True),
        ]
        up = np.random.default_rng(1)
        for o in outs:
            o.backward(up.standard_normal(o.shape).astype(dtype))
        return [o.detach().numpy() for o in outs] + [t[k].grad.numpy() for k in arrays]

    expected = run()  # the reference backend (see the fixture)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for backend in registry.implementations("softmax_forward", "cpu"):
        registry.set_backend(backend)
        try:
            for got, want in zip(run(), expected):
                assert got.dtype == dtype
                np.testing.assert_allclose(got, want, **tol, err_msg=backend)
        finally:
            registry.set_backend("numpy")
