"""The GPT: agreement with the PyTorch reference, KV cache, overfitting, reproducibility."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import tinylm
from tinylm.models.gpt import GPT, GPTConfig

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)


def _model(dtype=None, seed=0, **overrides) -> GPT:
    tinylm.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **overrides}))
    return model.double() if dtype == "float64" else model


def _batch(seed=0, B=3, T=8, vocab=11):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (B, T)), rng.integers(0, vocab, (B, T))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="n_layer must be an integer ≥ 1, got 0"):
        GPTConfig(n_layer=0)
    # the range is checked before the divisibility (no ZeroDivisionError), types before both
    with pytest.raises(ValueError, match="n_head must be an integer ≥ 1, got 0"):
        GPTConfig(n_head=0)
    with pytest.raises(ValueError, match="n_embd must be an integer, got 64.5"):
        GPTConfig(n_embd=64.5)


def test_forward_shapes_and_initial_loss_near_uniform():
    model = _model()
    x, y = _batch()
    logits, loss = model(x, y)
    assert logits.shape == (3, 8, 11)
    assert logits.dtype == np.float32
    # With small random weights every token is about equally likely: loss ≈ ln(vocab).
    assert abs(loss.item() - np.log(11)) < 0.1


def test_too_long_sequence_is_a_clear_error():
    model = _model()
    with pytest.raises(ValueError, match="block_size"):
        model(np.zeros((1, 9), dtype=np.int64))


def test_weight_tying_shares_one_parameter():
    model = _model()
    assert model.lm_head.weight is model.wte.weight
    ids = {id(p) for p in model.parameters()}
    assert len(ids) == len(list(model.parameters()))


def test_matches_pytorch_reference_in_float64():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from torch_gpt import TorchGPT, load_tinylm_state

    model = _model("float64", seed=3)
    ref = TorchGPT(TINY).double()
    load_tinylm_state(ref, model.state_dict())
    x, y = _batch(seed=4)
    _, loss = model(x, y)
    loss.backward()
    _, ref_loss = ref(torch.from_numpy(x), torch.from_numpy(y))
    ref_loss.backward()
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-10)
    ref_grads = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), ref_grads[name], rtol=1e-8, atol=1e-12, err_msg=name
        )


def test_kv_cache_generation_equals_uncached_token_for_token():
    model = _model(seed=5)
    prompt = np.array([[1, 2, 3]])
    # 20 new tokens run past block_size (8), which exercises the window rebuild too.
    for kwargs in (dict(greedy=True), dict(temperature=0.9, top_k=5)):
        a = model.generate(
            prompt, 20, use_cache=True, generator=tinylm.Generator().manual_seed(7), **kwargs
        )
        b = model.generate(
            prompt, 20, use_cache=False, generator=tinylm.Generator().manual_seed(7), **kwargs
        )
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.shape == (1, 23)


def test_cached_logits_match_full_forward():
    model = _model(seed=6)
    tokens = np.array([[1, 5, 2, 7, 3]])
    with tinylm.no_grad():
        full, _ = model(tokens)

        cache = tinylm.nn.KVCache()
        model(tokens[:, :3], cache=cache)
        step4, _ = model(tokens[:, 3:4], cache=cache)
        step5, _ = model(tokens[:, 4:5], cache=cache)
    np.testing.assert_allclose(step4.numpy()[0, 0], full.numpy()[0, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(step5.numpy()[0, 0], full.numpy()[0, 4], rtol=1e-5, atol=1e-6)


def test_overfits_a_single_batch():
    model = _model(seed=1)
    x, y = _batch(seed=2, B=4, T=8)
    opt = tinylm.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(150):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_training_is_reproducible_from_a_seed():
    def run() -> list[float]:
        model = _model(seed=11, dropout=0.1)
        opt = tinylm.optim.AdamW(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(5):
            x = rng.integers(0, 11, (2, 8))
            _, loss = model(x, np.roll(x, -1, axis=1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    assert run() == run()


def test_cache_that_grows_token_by_token_gives_the_full_forward_logits():
    """Under no_grad the cache writes into storage with room for 1 position at first, which
    doubles (1 → 2 → 4 → 8) while 8 tokens go in one at a time: each step's logits are the
    full causal pass's at that position."""
    model = _model(seed=9)
    tokens = np.random.default_rng(9).integers(0, 11, (2, 8))
    with tinylm.no_grad():
        full, _ = model(tokens)
        cache = tinylm.nn.KVCache(capacity=1)
        steps = [model(tokens[:, t : t + 1], cache=cache)[0].numpy() for t in range(8)]
    assert cache.length == 8
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full.numpy(), rtol=1e-5, atol=1e-6)
