"""Attention: masks, causal, fully masked rows, dropout; MultiHeadAttention and the pre-norm
TransformerBlock (gradcheck w.r.t. inputs AND parameters), and the acceptance test against
PyTorch's own modules in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tinylm.kernels import registry

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError, nn
from tinylm.testing import gradcheck


@pytest.fixture(autouse=True, scope="module")
def reference_kernels():
    """Gradchecks evaluate the model hundreds of times on tiny inputs, where the Numba
    kernels' ~1.5 ms thread start-up per call dominates; they check derivations, so they
    use the reference kernels. The torch acceptance test runs on every backend."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def module_function(module: nn.Module):
    """(fn, params): fn(x, *p) runs ``module`` with the tensors p in place of its
    parameters, so gradcheck can perturb and differentiate the parameters too."""
    slots = [
        (mod, name)
        for _, mod in module.named_modules()
        for name, p in mod._parameters.items()
        if p is not None
    ]
    params = [mod._parameters[name] for mod, name in slots]

    def fn(x, *ps, **kwargs):
        saved = [mod._parameters[name] for mod, name in slots]
        for (mod, name), p in zip(slots, ps):
            mod._parameters[name] = p
        try:
            return module(x, **kwargs)
        finally:
            for (mod, name), p in zip(slots, saved):
                mod._parameters[name] = p

    return fn, params


def np_attention(q, k, v, keep=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - s.max(-1, keepdims=True))
        p = p / p.sum(-1, keepdims=True)
    return np.nan_to_num(p) @ v


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ---------------------------------------------------------------------------------------


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    q, k, v = rand(2, 3, 4, seed=1), rand(2, 5, 4, seed=2), rand(2, 5, 3, seed=3)
    keep = np.ones((3, 5), bool)
    keep[1] = False  # query 1 may attend to nothing
    qt, kt, vt = (tinylm.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=keep)
    assert np.isfinite(out.detach().numpy()).all()
    np.testing.assert_array_equal(out.detach().numpy()[:, 1], 0.0)
    np.testing.assert_allclose(out.detach().numpy(), np_attention(q, k, v, keep), rtol=1e-12)
    out.backward(rand(*out.shape, seed=4))
    for t in (qt, kt, vt):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(qt.grad.numpy()[:, 1], 0.0)
    gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
        [tinylm.tensor(a, requires_grad=True) for a in (q, k, v)],
    )


def test_float_mask_of_minus_inf_rows_and_its_gradient():
    q, k, v = rand(1, 2, 3, 4, seed=5), rand(1, 2, 4, 4, seed=6), rand(1, 2, 4, 2, seed=7)
    bias = rand(3, 4, seed=8)
    blocked = np.where(np.arange(3)[:, None] == 2, -np.inf, 0.0)  # row 2 fully blocked
    out = F.scaled_dot_product_attention(
        *(tinylm.tensor(a) for a in (q, k, v)), attn_mask=tinylm.tensor(bias + blocked)
    )
    np.testing.assert_array_equal(out.numpy()[..., 2, :], 0.0)
    # the additive mask is differentiable (e.g. a learned relative-position bias)
    gradcheck(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        [tinylm.tensor(a, requires_grad=True) for a in (q, k, v, bias)],
    )


@pytest.mark.parametrize("tq,tk", [(3, 5), (5, 3), (4, 4)])
def test_causal_is_top_left_aligned_for_different_lengths(tq, tk):
    q, k, v = rand(2, tq, 4, seed=1), rand(2, tk, 4, seed=2), rand(2, tk, 4, seed=3)
    keep = np.arange(tk)[None, :] <= np.arange(tq)[:, None]
    for t in (q, k, v):
        t.setflags(write=False)
    out = F.scaled_dot_product_attention(*(tinylm.tensor(a) for a in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, keep), rtol=1e-12, atol=1e-14)


@given(
    b=st.integers(1, 2),
    h=st.integers(1, 2),
    tq=st.integers(1, 5),
    tk=st.integers(1, 5),
    d=st.integers(1, 4),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_path_equals_four_step_path(b, h, tq, tk, d, causal, seed):
    """No mask → fused kernel; an all-True mask forces the four-step Function: same result."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((b, h, t, d)) for t in (tq, tk, tk)]
    results = []
    for mask in (None, np.ones((tq, tk), bool)):
        ts = [tinylm.tensor(a, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ts, attn_mask=mask, is_causal=causal)
        out.backward(np.random.default_rng(1).standard_normal(out.shape))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_attention_dropout_gradcheck_and_statistics():
    q, k, v = (tinylm.tensor(rand(2, 3, 4, seed=s), requires_grad=True) for s in (1, 2, 3))

    def fn(q, k, v):
        tinylm.manual_seed(11)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, is_causal=True)

    gradcheck(fn, [q, k, v])
    # E[dropout(P)] = P: averaged over many draws the output approaches the exact one
    ones = tinylm.ones(1, 4, 64, 64, dtype=tinylm.float64)
    vals = tinylm.tensor(rand(1, 4, 64, 8, seed=9))
    exact = F.scaled_dot_product_attention(ones, ones, vals).numpy()
    tinylm.manual_seed(0)
    mean = np.mean(
        [
            F.scaled_dot_product_attention(ones, ones, vals, dropout_p=0.5).numpy()
            for _ in range(50)
        ],
        axis=0,
    )
    assert np.abs(mean - exact).mean() < 0.05


def test_attention_argument_errors():
    x = tinylm.randn(2, 3, 4)
    with pytest.raises(TinyLMError, match="dropout_p must be a number"):
        F.scaled_dot_product_attention(x, x, x, None, True)  # is_causal passed positionally
    with pytest.raises(TinyLMError, match="shapes do not fit"):
        F.scaled_dot_product_attention(x, tinylm.randn(2, 3, 5), x)
    with pytest.raises(TinyLMError, match="does not broadcast"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), bool))


# ---------------------------------------------------------------------------------------
# MultiHeadAttention and TransformerBlock
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_mha_self_attention_gradcheck_inputs_and_parameters(causal):
    tinylm.manual_seed(0)
    mha = nn.MultiHeadAttention(6, 2, causal=causal).double()
    fn, params = module_function(mha)
    x = tinylm.randn(2, 3, 6, dtype=tinylm.float64, requires_grad=True)
    gradcheck(fn, [x, *params])


def test_mha_cross_attention_with_mask_gradcheck():
    tinylm.manual_seed(1)
    mha = nn.MultiHeadAttention(4, 2, kdim=3, vdim=5).double()
    q = tinylm.randn(2, 3, 4, dtype=tinylm.float64, requires_grad=True)
    k = tinylm.randn(2, 5, 3, dtype=tinylm.float64, requires_grad=True)
    v = tinylm.randn(2, 5, 5, dtype=tinylm.float64, requires_grad=True)
    pad = np.ones((2, 1, 1, 5), bool)
    pad[1, ..., 3:] = False  # key padding: batch 1 has only 3 real keys
    fn, params = module_function(mha)
    gradcheck(lambda q, k, v, *ps: fn(q, *ps, key=k, value=v, attn_mask=pad), [q, k, v, *params])


def test_mha_matches_the_per_head_equations_and_returns_weights():
    tinylm.manual_seed(2)
    mha = nn.MultiHeadAttention(6, 3, causal=True).double()
    x = rand(2, 4, 6, seed=3)
    out, w = mha(tinylm.tensor(x), need_weights=True, average_attn_weights=False)

    def proj(lin, a):
        return a @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()

    def heads(a):
        return a.reshape(2, 4, 3, 2).transpose(0, 2, 1, 3)

    q, k, v = np.split(proj(mha.c_attn, x), 3, axis=-1)  # c_attn packs W_Q, W_K, W_V
    q, k, v = heads(q), heads(k), heads(v)
    keep = np.tril(np.ones((4, 4), bool))
    o = np_attention(q, k, v, keep).transpose(0, 2, 1, 3).reshape(2, 4, 6)
    np.testing.assert_allclose(out.detach().numpy(), proj(mha.c_proj, o), rtol=1e-12, atol=1e-14)
    assert w.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0)
    assert (w.numpy()[..., ~keep] == 0).all()
    _, w_mean = mha(tinylm.tensor(x), need_weights=True)
    np.testing.assert_allclose(w_mean.numpy(), w.numpy().mean(axis=1))


def test_mha_causal_combines_with_a_user_mask():
    tinylm.manual_seed(3)
    mha = nn.MultiHeadAttention(4, 2, causal=True).double()
    x = tinylm.tensor(rand(1, 4, 4, seed=1))
    user = np.ones((4, 4), bool)
    user[:, 0] = False  # nobody may look at position 0 (so query 0 sees nothing)
    _, w = mha(x, attn_mask=user, need_weights=True)
    expected_keep = np.tril(np.ones((4, 4), bool)) & user
    assert (w.numpy()[0][~expected_keep] == 0).all()
    np.testing.assert_allclose(w.numpy()[0, 1:].sum(-1), 1.0)
    np.testing.assert_array_equal(w.numpy()[0, 0], 0.0)
    # a float mask gets −inf above the diagonal added
    _, wf = mha(x, attn_mask=tinylm.tensor(np.where(user, 0.0, -np.inf)), need_weights=True)
    np.testing.assert_allclose(wf.numpy(), w.numpy())


def test_packed_cross_attention_matches_the_equations_and_gradchecks():
    """Same widths: the queries use c_attn's first C rows, keys and values the next 2C, as in
    torch.nn.MultiheadAttention's in_proj_weight; a padding mask hides batch 1's last keys."""
    tinylm.manual_seed(6)
    mha = nn.MultiHeadAttention(4, 2).double()
    x, memory = rand(2, 3, 4, seed=1), rand(2, 5, 4, seed=2)
    pad = np.ones((2, 1, 1, 5), bool)
    pad[1, ..., 3:] = False
    out = mha(tinylm.tensor(x), tinylm.tensor(memory), attn_mask=pad).detach().numpy()
    w, b = mha.c_attn.weight.detach().numpy(), mha.c_attn.bias.detach().numpy()

    def heads(a):
        return a.reshape(a.shape[0], a.shape[1], 2, 2).transpose(0, 2, 1, 3)

    q = heads(x @ w[:4].T + b[:4])
    k, v = heads(memory @ w[4:8].T + b[4:8]), heads(memory @ w[8:].T + b[8:])
    o = np_attention(q, k, v, pad).transpose(0, 2, 1, 3).reshape(2, 3, 4)
    expected = o @ mha.c_proj.weight.detach().numpy().T + mha.c_proj.bias.detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    fn, params = module_function(mha)
    xq = tinylm.tensor(x, requires_grad=True)
    mem = tinylm.tensor(memory, requires_grad=True)
    gradcheck(lambda a, m, *ps: fn(a, *ps, key=m, attn_mask=pad), [xq, mem, *params])


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "no_grad"])
@pytest.mark.parametrize("chunks", [(5,), (1, 1, 1, 1, 1), (2, 3), (3, 1, 1), (1, 2, 1, 1)])
def test_cached_decoding_in_chunks_equals_one_causal_pass(chunks, graph):
    """A KV cache fed several new positions at once: query i of a chunk after L cached
    positions sees keys j ≤ L + i, as in the full causal pass. With a graph (the parameters
    require grad) the cache concatenates; under no_grad it writes into storage that starts
    with room for 2 positions and doubles (2 → 4 → 8) on the way."""
    tinylm.manual_seed(7)
    block = nn.TransformerBlock(8, 2).double().eval()
    x = tinylm.tensor(rand(2, 5, 8, seed=3))
    full = block(x).detach().numpy()
    cache, start, outs = nn.KVCache(capacity=2), 0, []
    with tinylm.set_grad_enabled(graph):
        for n in chunks:
            out = block(x[:, start : start + n], cache=cache)
            assert out.requires_grad == graph
            outs.append(out.detach().numpy())
            start += n
            assert cache.length == start
    np.testing.assert_allclose(np.concatenate(outs, axis=1), full, rtol=1e-12, atol=1e-13)


def test_cache_storage_keeps_earlier_views_and_refuses_another_batch():
    """Under no_grad the keys handed out at a step stay what they were after later appends
    (and after the storage grows); new keys must continue the cached batch and heads."""
    cache, layer = nn.KVCache(capacity=2), object()
    k, v = (tinylm.tensor(rand(1, 2, 3, 4, seed=s)) for s in (1, 2))
    with tinylm.no_grad():
        first, _ = cache.append(layer, k[:, :, :1], v[:, :, :1])
        kept = first.numpy().copy()
        keys, values = cache.append(layer, k[:, :, 1:], v[:, :, 1:])  # 3 > 2: grows
        np.testing.assert_array_equal(first.numpy(), kept)
        np.testing.assert_array_equal(keys.numpy(), k.numpy())
        np.testing.assert_array_equal(values.numpy(), v.numpy())
        assert cache.length_of(layer) == 3
        roomy = nn.KVCache(capacity=8)
        first, _ = roomy.append(layer, k[:, :, :1], v[:, :, :1])
        keys, _ = roomy.append(layer, k[:, :, 1:], v[:, :, 1:])
        assert np.shares_memory(first.data, keys.data)  # written in place while there is room
        with pytest.raises(TinyLMError, match="do not continue"):
            cache.append(layer, tinylm.tensor(rand(2, 2, 1, 4)), tinylm.tensor(rand(2, 2, 1, 4)))


def test_cross_attention_block_caches_the_memory_and_equals_the_full_pass():
    tinylm.manual_seed(8)
    block = nn.TransformerBlock(8, 2, cross_attention=True).double().eval()
    x, memory = tinylm.tensor(rand(2, 4, 8, seed=4)), tinylm.tensor(rand(2, 6, 8, seed=5))
    pad = np.ones((2, 1, 1, 6), bool)
    pad[0, ..., 4:] = False
    full = block(x, memory=memory, memory_mask=pad).detach().numpy()
    cache = nn.KVCache()
    steps = [block(x[:, t : t + 1], memory=memory, memory_mask=pad, cache=cache) for t in range(4)]
    np.testing.assert_allclose(
        np.concatenate([s.detach().numpy() for s in steps], axis=1), full, rtol=1e-12, atol=1e-13
    )
    k, _ = cache.memory(block.cross_attn)
    assert k.shape == (2, 2, 6, 4)  # computed once, for the whole memory
    with pytest.raises(TinyLMError, match="needs memory="):
        block(x)
    with pytest.raises(TinyLMError, match="without cross_attention"):
        nn.TransformerBlock(8, 2).double()(x, memory=memory)


def test_mha_rejects_bad_shapes():
    with pytest.raises(TinyLMError, match="not divisible"):
        nn.MultiHeadAttention(6, 4)
    with pytest.raises(TinyLMError, match="batch-first"):
        nn.MultiHeadAttention(4, 2)(tinylm.randn(3, 4))


def test_transformer_block_gradcheck_inputs_and_parameters():
    tinylm.manual_seed(4)
    block = nn.TransformerBlock(4, 2, mlp_ratio=2).double()
    fn, params = module_function(block)
    x = tinylm.randn(2, 3, 4, dtype=tinylm.float64, requires_grad=True)
    gradcheck(fn, [x, *params])


def test_transformer_block_is_causal_and_dropout_only_in_training():
    tinylm.manual_seed(5)
    block = nn.TransformerBlock(8, 2, dropout=0.5)
    x = tinylm.randn(1, 5, 8)
    block.eval()
    y1 = block(x).detach().numpy()
    x2 = x.numpy().copy()
    x2[0, 3:] += 10.0  # change the future: outputs at positions 0..2 must not move
    y2 = block(tinylm.tensor(x2)).detach().numpy()
    np.testing.assert_allclose(y1[0, :3], y2[0, :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(block(x).detach().numpy(), y1)  # eval: deterministic
    block.train()
    assert not np.allclose(block(x).detach().numpy(), y1)


# ---------------------------------------------------------------------------------------
# Acceptance: two pre-norm blocks equal torch.nn.TransformerEncoderLayer(norm_first=True)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_two_block_transformer_matches_torch_in_float64(backend):
    torch = pytest.importorskip("torch")
    registry.set_backend(backend)
    try:
        _compare_two_blocks_with_torch(torch)
    finally:
        registry.set_backend("numpy")


def _compare_two_blocks_with_torch(torch):
    B, T, C, H, V = 2, 5, 8, 2, 11
    torch.manual_seed(0)
    gelu_tanh = torch.nn.GELU(approximate="tanh")
    layers = [
        torch.nn.TransformerEncoderLayer(
            C,
            H,
            dim_feedforward=4 * C,
            dropout=0.0,
            activation=gelu_tanh,
            batch_first=True,
            norm_first=True,
            dtype=torch.float64,
        )  # fmt: skip
        for _ in range(2)
    ]
    head = torch.nn.Linear(C, V, dtype=torch.float64)

    blocks = nn.ModuleList([nn.TransformerBlock(C, H, causal=True) for _ in range(2)]).double()
    our_head = nn.Linear(C, V).double()

    def copy(dst, src):
        dst.data = src.detach().numpy().copy()

    for ours, theirs in zip(blocks, layers):
        sa = theirs.self_attn
        copy(ours.attn.c_attn.weight, sa.in_proj_weight)  # both pack W_Q, W_K, W_V
        copy(ours.attn.c_attn.bias, sa.in_proj_bias)
        pairs = [
            (ours.attn.c_proj, sa.out_proj),
            (ours.mlp.c_fc, theirs.linear1),
            (ours.mlp.c_proj, theirs.linear2),
            (ours.ln_1, theirs.norm1),
            (ours.ln_2, theirs.norm2),
        ]
        for a, b in pairs:
            copy(a.weight, b.weight)
            copy(a.bias, b.bias)
    copy(our_head.weight, head.weight)
    copy(our_head.bias, head.bias)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, C))
    targets = rng.integers(0, V, (B, T))

    # torch
    xt = torch.tensor(x, requires_grad=True)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    h = xt
    for layer in layers:
        h = layer(h, src_mask=causal, is_causal=True)
    loss_t = torch.nn.functional.cross_entropy(
        head(h).reshape(-1, V), torch.tensor(targets).reshape(-1)
    )
    loss_t.backward()

    # tinylm
    xo = tinylm.tensor(x, requires_grad=True)
    h = xo
    for block in blocks:
        h = block(h)
    loss_o = F.cross_entropy(our_head(h).reshape(-1, V), targets.reshape(-1))
    loss_o.backward()

    np.testing.assert_allclose(loss_o.item(), loss_t.item(), rtol=1e-8)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    for ours, theirs in zip(blocks, layers):
        sa = theirs.self_attn
        got_w, got_b = ours.attn.c_attn.weight.grad.numpy(), ours.attn.c_attn.bias.grad.numpy()
        np.testing.assert_allclose(got_w, sa.in_proj_weight.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(got_b, sa.in_proj_bias.grad.numpy(), rtol=1e-8, atol=1e-12)
        for a, b in [
            (ours.attn.c_proj, sa.out_proj),
            (ours.mlp.c_fc, theirs.linear1),
            (ours.mlp.c_proj, theirs.linear2),
            (ours.ln_1, theirs.norm1),
            (ours.ln_2, theirs.norm2),
        ]:
            for pa, pb in ((a.weight, b.weight), (a.bias, b.bias)):
                np.testing.assert_allclose(pa.grad.numpy(), pb.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(our_head.weight.grad.numpy(), head.weight.grad.numpy(), rtol=1e-8)
