"""int8 weight-only quantisation: the per-row scales, the layers, a quantised GPT, checkpoints."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import reference

import tinylm
from tinylm import nn
from tinylm.cli import main
from tinylm.data import load_default_corpus, train_val_split, windows
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.models.pretrained import pretrained_backbone
from tinylm.nn.quantized import dequantize, quantize_rows

#: the tolerance lesson 14 states: int8 per-channel weights change a GPT's loss by < 0.01 nats
LOSS_TOLERANCE = 0.01


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 20),
    k=st.integers(1, 50),
    scale=st.sampled_from([1e-3, 0.02, 1.0, 300.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_rows_round_to_within_half_a_step(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((n, k)) * scale * rng.random((n, 1))).astype(np.float32)
    q, s = quantize_rows(w)
    assert q.dtype == np.int8 and s.dtype == np.float32 and s.shape == (n,)
    assert np.abs(q.astype(int)).max() <= 127
    # each row's largest entry is ±127 exactly: the whole int8 range is used
    assert (np.abs(q.astype(int)).max(axis=1) == 127).all()
    err = np.abs(w.astype(np.float64) - q * s.astype(np.float64)[:, None])
    assert (err <= s[:, None] * (0.5 + 1e-6)).all()


def test_a_zero_row_and_bad_weights():
    q, s = quantize_rows(np.zeros((2, 3), np.float32))
    assert (q == 0).all() and (s == 1).all()
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_rows(np.array([[1.0, np.nan]], np.float32))
    with pytest.raises(ValueError, match="2-D float"):
        quantize_rows(np.ones((2, 3), np.int64))


def test_per_channel_scales_survive_an_outlier_channel_per_tensor_does_not():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 64)) * 0.02
    w[3] *= 100  # one output channel 100x larger (an "outlier channel")
    q, s = quantize_rows(w)
    per_channel = np.abs(w - dequantize(q, s)).max(axis=1)
    step = np.abs(w).max() / 127  # one scale for the whole matrix
    per_tensor = np.abs(w - np.rint(w / step) * step).max(axis=1)
    quiet = np.arange(8) != 3
    # the quiet rows lose almost all resolution under the outlier's scale
    assert (per_tensor[quiet] > 20 * per_channel[quiet]).all()
    assert np.abs(np.rint(w[quiet] / step)).max() <= 2  # ≤ 5 levels left for them


def test_quantized_linear_is_the_int8_matmul_and_close_to_the_float_layer():
    tinylm.manual_seed(0)
    lin = nn.Linear(40, 24)
    x = tinylm.randn(3, 5, 40)
    qlin = nn.QuantizedLinear.from_float(lin)
    y, yf = qlin(x).numpy(), lin(x).detach().numpy()
    q, s = qlin.qweight.numpy(), qlin.scale.numpy()
    want = reference.int8_linear(
        x.detach().numpy().astype(np.float64), q, s.astype(np.float64), lin.bias.detach().numpy()
    )
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    # |x Wᵀ − x Ŵᵀ| ≤ Σ_k |x_k| s/2: the rounding bound, per output
    bound = np.abs(x.numpy()).sum(-1, keepdims=True) * s / 2
    assert (np.abs(y - yf) <= bound + 1e-5).all()
    assert qlin.qweight.dtype == np.int8 and not list(qlin.parameters())


def _tiny_gpt() -> GPT:
    tinylm.manual_seed(0)
    return GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=64))


def test_tied_head_shares_one_int8_matrix_and_backward_is_refused():
    model = tinylm.quantize_int8(_tiny_gpt())
    assert model.lm_head.qweight is model.wte.qweight and model.lm_head.scale is model.wte.scale
    assert isinstance(model.h[0].attn.c_attn, nn.QuantizedLinear)
    x = np.zeros((1, 4), np.int64)
    _, loss = model(x, labels=x)
    with pytest.raises(ValueError, match="inference-only"):
        loss.backward()


def test_quantized_checkpoint_is_a_quarter_and_pickle_free(tmp_path):
    model = _tiny_gpt()
    x = np.random.default_rng(0).integers(0, 65, (2, 16))
    tinylm.save(model.state_dict(), tmp_path / "f32.npz")
    tinylm.quantize_int8(model)
    tinylm.save(model.state_dict(), tmp_path / "int8.npz")
    ratio = (tmp_path / "int8.npz").stat().st_size / (tmp_path / "f32.npz").stat().st_size
    assert 0.25 < ratio <= 0.30, ratio  # int8 weights + float scales, LayerNorms, biases
    with zipfile.ZipFile(tmp_path / "int8.npz") as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    loaded = tinylm.quantize_int8(GPT(model.config))
    assert not loaded.load_state_dict(tinylm.load(tmp_path / "int8.npz")).missing_keys
    with tinylm.no_grad():
        np.testing.assert_array_equal(loaded(x)[0].numpy(), model(x)[0].numpy())


@pytest.fixture(scope="module")
def backbone():
    model, tokenizer, info = pretrained_backbone("fast")
    return model, tokenizer, Path(info["path"]) / "ckpt.npz"


def test_quantized_backbone_loss_and_greedy_tokens(backbone):
    model, tok, _ = backbone
    _, val = train_val_split(np.array(tok.encode(load_default_corpus())))
    t = model.config.block_size
    x, y = windows(val, np.linspace(0, len(val) - t - 2, 16).astype(int), t)
    prompt = np.array([tok.encode("The ")])
    model.eval()
    with tinylm.no_grad():
        loss_f = model(x, y)[1].item()
        text_f = model.generate(prompt, 50, greedy=True).numpy()
        tinylm.quantize_int8(model)
        loss_q = model(x, y)[1].item()
        text_q = model.generate(prompt, 50, greedy=True).numpy()
    assert abs(loss_q - loss_f) < LOSS_TOLERANCE, (loss_f, loss_q)
    assert (text_q == text_f).mean() >= 0.9


def test_cli_generate_int8(backbone, capsys):
    _, _, ckpt = backbone
    args = ["generate", "--ckpt", str(ckpt), "--prompt", "The", "--max-new-tokens", "12"]
    assert main([*args, "--greedy", "--int8"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("The") and len(text.rstrip("\n")) == 3 + 12
