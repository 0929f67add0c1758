"""The encoder and decoder layers of an encoder-decoder, built from TransformerBlock: float64
gradchecks of cross-attention under padding masks (hypothesis shapes, inputs, memory and
parameters), the acceptance test against torch.nn.TransformerEncoderLayer /
TransformerDecoderLayer (norm_first=True) with copied weights, and KVCache.reorder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import registry

import tinylm
from tinylm import nn
from tinylm.testing import gradcheck


@pytest.fixture(autouse=True)
def reference_kernels():
    """Gradchecks run the layers hundreds of times on tiny inputs, where the Numba kernels'
    start-up cost dominates; the torch comparison runs on both backends explicitly."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def with_parameters(module: nn.Module):
    """(fn, params): fn(*inputs, *p, **kw) runs ``module`` with the tensors p in place of
    its parameters, so gradcheck perturbs and differentiates the parameters too."""
    slots = [
        (mod, name)
        for _, mod in module.named_modules()
        for name, p in mod._parameters.items()
        if p is not None
    ]
    params = [mod._parameters[name] for mod, name in slots]

    def fn(n_inputs, *args, **kwargs):
        inputs, ps = args[:n_inputs], args[n_inputs:]
        saved = [mod._parameters[name] for mod, name in slots]
        for (mod, name), p in zip(slots, ps):
            mod._parameters[name] = p
        try:
            return module(*inputs, **kwargs)
        finally:
            for (mod, name), p in zip(slots, saved):
                mod._parameters[name] = p

    return fn, params


def padding_mask(lengths: list[int], s: int) -> np.ndarray:
    """(B, 1, 1, S) bool, True at the first ``lengths[b]`` keys of row b."""
    return (np.arange(s)[None, :] < np.array(lengths)[:, None])[:, None, None, :]


@settings(max_examples=8, deadline=None)
@given(
    b=st.integers(1, 3),
    t=st.integers(1, 4),
    s=st.integers(1, 5),
    heads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_decoder_block_cross_attention_with_padding_gradcheck(b, t, s, heads, seed):
    """A decoder block (causal self-attention, cross-attention to a padded memory, MLP):
    gradients w.r.t. the target, the memory and every parameter, under a random upstream
    gradient; padded memory rows must receive exactly zero gradient."""
    rng = np.random.default_rng(seed)
    tinylm.manual_seed(seed)
    block = nn.TransformerBlock(4, heads, mlp_ratio=2, cross_attention=True).double()
    lengths = rng.integers(1, s + 1, size=b).tolist()
    mask = padding_mask(lengths, s)
    x = tinylm.tensor(rng.standard_normal((b, t, 4)), requires_grad=True)
    memory = tinylm.tensor(rng.standard_normal((b, s, 4)), requires_grad=True)
    fn, params = with_parameters(block)
    gradcheck(lambda *a: fn(1, *a[:1], *a[2:], memory=a[1], memory_mask=mask),
              [x, memory, *params])  # fmt: skip
    out = block(x, memory=memory, memory_mask=mask)
    out.backward(rng.standard_normal(out.shape))
    for row, n in enumerate(lengths):
        np.testing.assert_array_equal(memory.grad.numpy()[row, n:], 0.0)


@settings(max_examples=8, deadline=None)
@given(b=st.integers(1, 3), s=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_encoder_block_with_key_padding_gradcheck(b, s, seed):
    rng = np.random.default_rng(seed)
    tinylm.manual_seed(seed)
    block = nn.TransformerBlock(4, 2, mlp_ratio=2, causal=False).double()
    mask = padding_mask(rng.integers(1, s + 1, size=b).tolist(), s)
    x = tinylm.tensor(rng.standard_normal((b, s, 4)), requires_grad=True)
    fn, params = with_parameters(block)
    gradcheck(lambda *a: fn(1, *a, attn_mask=mask), [x, *params])


def test_padding_keys_do_not_change_the_real_positions():
    """Appending padded keys (masked) leaves every real position's output as it was."""
    tinylm.manual_seed(3)
    block = nn.TransformerBlock(8, 2, causal=False).double()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 8))
    alone = block(tinylm.tensor(x)).detach().numpy()
    padded = np.concatenate([x, rng.standard_normal((1, 3, 8))], axis=1)
    out = block(tinylm.tensor(padded), attn_mask=padding_mask([4], 7)).detach().numpy()
    np.testing.assert_allclose(out[:, :4], alone, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------------------------------
# Acceptance: equal to torch's layers with copied weights (outputs and gradients, float64)
# ---------------------------------------------------------------------------------------


def _copy(dst, src) -> None:
    dst.data = src.detach().numpy().copy()


def _copy_attention(ours: nn.MultiHeadAttention, theirs) -> list:
    _copy(ours.c_attn.weight, theirs.in_proj_weight)  # both pack W_Q, W_K, W_V
    _copy(ours.c_attn.bias, theirs.in_proj_bias)
    _copy(ours.c_proj.weight, theirs.out_proj.weight)
    _copy(ours.c_proj.bias, theirs.out_proj.bias)
    return [
        (ours.c_attn.weight, theirs.in_proj_weight),
        (ours.c_attn.bias, theirs.in_proj_bias),
        (ours.c_proj.weight, theirs.out_proj.weight),
        (ours.c_proj.bias, theirs.out_proj.bias),
    ]


def _copy_pairs(pairs: list) -> list:
    out = []
    for a, b in pairs:
        for pa, pb in ((a.weight, b.weight), (a.bias, b.bias)):
            _copy(pa, pb)
            out.append((pa, pb))
    return out


def _assert_same_grads(pairs: list) -> None:
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-12)


B, T, S, C, H = 2, 4, 5, 8, 2
LENGTHS = [5, 3]  # row 1's memory has two padding positions


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_encoder_layer_equals_torch(backend):
    torch = pytest.importorskip("torch")
    registry.set_backend(backend)
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(
        C, H, dim_feedforward=4 * C, dropout=0.0, batch_first=True, norm_first=True,
        dtype=torch.float64,
    )  # fmt: skip
    ours = nn.TransformerBlock(C, H, causal=False, activation=nn.ReLU()).double()
    pairs = _copy_attention(ours.attn, theirs.self_attn)
    pairs += _copy_pairs([(ours.mlp.c_fc, theirs.linear1), (ours.mlp.c_proj, theirs.linear2),
                          (ours.ln_1, theirs.norm1), (ours.ln_2, theirs.norm2)])  # fmt: skip
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((B, S, C)), rng.standard_normal((B, S, C))
    real = padding_mask(LENGTHS, S)[:, 0, 0, :, None]  # compare real positions only
    g = g * real

    xt = torch.tensor(x, requires_grad=True)
    pad = torch.tensor(~padding_mask(LENGTHS, S)[:, 0, 0])  # torch: True = padding
    out_t = theirs(xt, src_key_padding_mask=pad)
    out_t.backward(torch.tensor(g))
    xo = tinylm.tensor(x, requires_grad=True)
    out_o = ours(xo, attn_mask=padding_mask(LENGTHS, S))
    out_o.backward(g)

    np.testing.assert_allclose((out_o.detach().numpy() * real), (out_t.detach().numpy() * real),
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    _assert_same_grads(pairs)


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_decoder_layer_equals_torch(backend):
    """torch's decoder layer runs self-attention (norm1), cross-attention (multihead_attn,
    norm2), feed-forward (norm3), each pre-norm: our ln_1, ln_cross, ln_2."""
    torch = pytest.importorskip("torch")
    registry.set_backend(backend)
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(
        C, H, dim_feedforward=4 * C, dropout=0.0, activation=torch.nn.GELU(approximate="tanh"),
        batch_first=True, norm_first=True, dtype=torch.float64,
    )  # fmt: skip
    ours = nn.TransformerBlock(C, H, causal=True, cross_attention=True).double()
    pairs = _copy_attention(ours.attn, theirs.self_attn)
    pairs += _copy_attention(ours.cross_attn, theirs.multihead_attn)
    pairs += _copy_pairs([(ours.mlp.c_fc, theirs.linear1), (ours.mlp.c_proj, theirs.linear2),
                          (ours.ln_1, theirs.norm1), (ours.ln_cross, theirs.norm2),
                          (ours.ln_2, theirs.norm3)])  # fmt: skip
    rng = np.random.default_rng(1)
    x, memory = rng.standard_normal((B, T, C)), rng.standard_normal((B, S, C))
    g = rng.standard_normal((B, T, C))

    xt, mt = (torch.tensor(a, requires_grad=True) for a in (x, memory))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    pad = torch.tensor(~padding_mask(LENGTHS, S)[:, 0, 0])
    out_t = theirs(xt, mt, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=pad)
    out_t.backward(torch.tensor(g))
    xo, mo = (tinylm.tensor(a, requires_grad=True) for a in (x, memory))
    out_o = ours(xo, memory=mo, memory_mask=padding_mask(LENGTHS, S))
    out_o.backward(g)

    np.testing.assert_allclose(
        out_o.detach().numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(mo.grad.numpy(), mt.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(mo.grad.numpy()[1, 3:], 0.0)  # padding gets no gradient
    _assert_same_grads(pairs)


# ---------------------------------------------------------------------------------------
# KVCache.reorder, for beam search
# ---------------------------------------------------------------------------------------


def test_reorder_keeps_the_chosen_rows_of_self_and_cross_entries():
    """After reorder(rows), decoding the next position equals decoding it for a batch whose
    rows were picked (and repeated) that way from the start."""
    tinylm.manual_seed(4)
    block = nn.TransformerBlock(8, 2, cross_attention=True).double().eval()
    rng = np.random.default_rng(4)
    x, memory = rng.standard_normal((3, 3, 8)), rng.standard_normal((3, 5, 8))
    mask = padding_mask([5, 2, 4], 5)
    rows = np.array([2, 0, 0, 1])

    cache = nn.KVCache()
    block(tinylm.tensor(x[:, :2]), memory=tinylm.tensor(memory), memory_mask=mask, cache=cache)
    cache.reorder(rows)
    step = block(tinylm.tensor(x[rows, 2:]), memory=tinylm.tensor(memory[rows]),
                 memory_mask=mask[rows], cache=cache)  # fmt: skip
    full = block(tinylm.tensor(x[rows]), memory=tinylm.tensor(memory[rows]), memory_mask=mask[rows])
    np.testing.assert_allclose(
        step.detach().numpy(), full.detach().numpy()[:, 2:], rtol=1e-12, atol=1e-13
    )
    assert cache.length == 3
    k, _ = cache.memory(block.cross_attn)
    assert k.shape[0] == len(rows)
