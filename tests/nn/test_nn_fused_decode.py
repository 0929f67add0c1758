"""nn.TransformerBlock's fused decoding step (one kernel call per block and token): it is
taken where it applies, gives the module path's numbers, and follows weights that change."""

from __future__ import annotations

import numpy as np
import pytest

import tinylm
import tinylm.nn.transformer as transformer
from tinylm import nn
from tinylm.models.gpt import GPT, GPTConfig


@pytest.fixture
def fused_calls(monkeypatch):
    """The names of the kernels looked up by nn.transformer while the test runs."""
    calls: list[str] = []
    lookup = transformer.kernel

    def recording(name, x):
        calls.append(name)
        return lookup(name, x)

    monkeypatch.setattr(transformer, "kernel", recording)
    return calls


def _steps(block, x, capacity=16):
    """The block on x (B, T, C): the first position as a prompt, then one step per position."""
    cache = nn.KVCache(capacity=capacity)
    with tinylm.no_grad():
        outs = [block(x[:, :1], cache=cache)]
        outs += [block(x[:, t : t + 1], cache=cache) for t in range(1, x.shape[1])]
    return np.concatenate([o.numpy() for o in outs], axis=1)


@pytest.mark.parametrize("approximate", ["tanh", "none"])
@pytest.mark.parametrize("bias", [True, False])
def test_steps_equal_the_full_causal_pass(fused_calls, approximate, bias):
    tinylm.manual_seed(0)
    block = nn.TransformerBlock(16, 4, bias=bias, activation=nn.GELU(approximate)).double()
    block.eval()
    x = tinylm.randn(2, 6, 16, dtype=tinylm.float64)
    with tinylm.no_grad():
        full = block(x).numpy()
    got = _steps(block, x)
    assert fused_calls.count("transformer_block_decode") == 5  # every step after the prompt
    np.testing.assert_allclose(got, full, rtol=1e-12, atol=1e-12)


def test_int8_model_steps_equal_its_full_pass(fused_calls):
    tinylm.manual_seed(1)
    config = GPTConfig(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16)
    model = tinylm.quantize_int8(GPT(config).double().eval())
    tokens = np.random.default_rng(1).integers(0, 13, (2, 7))
    with tinylm.no_grad():
        full, _ = model(tokens)
        cache = nn.KVCache(capacity=16)
        model(tokens[:, :3], cache=cache)
        steps = [model(tokens[:, t : t + 1], cache=cache)[0].numpy() for t in range(3, 7)]
    assert fused_calls.count("transformer_block_decode") == 2 * 4
    np.testing.assert_allclose(
        np.concatenate(steps, axis=1), full.numpy()[:, 3:], rtol=1e-10, atol=1e-10
    )


def test_the_kept_weights_follow_new_arrays_and_new_modules():
    tinylm.manual_seed(2)
    block = nn.TransformerBlock(8, 2).double().eval()
    x = tinylm.randn(1, 4, 8, dtype=tinylm.float64)
    _steps(block, x)  # the block now keeps its weights' arrays
    with tinylm.no_grad():
        block.mlp.c_fc.weight.data = block.mlp.c_fc.weight.data * 3  # a new array
        block.attn.c_proj = nn.Linear(8, 8).double()  # a new module
        full = block(x).numpy()
    np.testing.assert_allclose(_steps(block, x), full, rtol=1e-12, atol=1e-12)
    with tinylm.no_grad():
        block.ln_2.weight.mul_(0.5)  # in place: the kept array itself holds the new values
        full = block(x).numpy()
    np.testing.assert_allclose(_steps(block, x), full, rtol=1e-12, atol=1e-12)


def test_not_taken_where_it_does_not_apply(fused_calls):
    tinylm.manual_seed(3)
    block = nn.TransformerBlock(8, 2).double()
    x = tinylm.randn(1, 3, 8, dtype=tinylm.float64)
    block.train()  # training mode (dropout may be on): the module path
    _steps(block, x)
    block.eval()
    cache = nn.KVCache(capacity=8)
    block(x[:, :1], cache=cache)
    block(x[:, 1:2], cache=cache).sum().backward()  # a graph is recorded: the module path
    assert block.mlp.c_fc.weight.grad is not None
    nn.apply_lora(block, target_modules=["c_attn"], r=2)  # a wrapped projection
    _steps(block, x)
    assert "transformer_block_decode" not in fused_calls


def test_a_layer_of_another_dtype_gets_the_module_paths_error(fused_calls):
    """A float64 Linear in a float32 block: the fused step must not convert it silently."""
    tinylm.manual_seed(4)
    block = nn.TransformerBlock(8, 2, bias=False).eval()
    x = tinylm.randn(1, 2, 8)
    cache = nn.KVCache(capacity=8)
    with tinylm.no_grad():
        block(x[:, :1], cache=cache)  # the prompt makes the cache's room
        block.mlp.c_fc = nn.Linear(8, 32, bias=False).double()
        with pytest.raises(tinylm.TinyLMError, match="linear"):
            block(x[:, 1:2], cache=cache)
    assert "transformer_block_decode" not in fused_calls
