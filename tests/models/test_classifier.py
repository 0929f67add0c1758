"""GPTForSequenceClassification: gradcheck of the head (float64), pooling against numpy,
right padding changes nothing, freezing, the mask errors; GPT.hidden_states; the cached
pre-trained backbone."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError, nn
from tinylm.models import GPT, GPTConfig, GPTForSequenceClassification, pretrained
from tinylm.testing import gradcheck, module_function

CONFIG = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)


@pytest.fixture(autouse=True, scope="module")
def reference_kernels():
    """Gradchecks run the model hundreds of times on tiny inputs: use the reference kernels."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def classifier(pooling="mean", seed=0, num_labels=3, dropout=0.0):
    tinylm.manual_seed(seed)
    model = GPTForSequenceClassification(GPT(CONFIG), num_labels, dropout, pooling).double()
    with tinylm.no_grad():  # a head whose weights are not tiny, so the check is sensitive
        model.head.weight.normal_(0.0, 1.0)
    return model


def right_padded(seed=1):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 11, (3, 6))
    lengths = np.array([6, 2, 4])
    mask = (np.arange(6) < lengths[:, None]).astype(np.int64)
    return idx, mask, lengths


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_classifier_gradcheck_head_and_backbone(pooling):
    model = classifier(pooling)
    idx, mask, _ = right_padded()
    labels = tinylm.tensor([0, 2, 1])
    fn, params = module_function(model)
    names = [n for n, _ in model.named_parameters(remove_duplicate=False)]  # fn's order
    checked = {"head.weight", "head.bias", "backbone.wte.weight", "backbone.h.1.mlp.c_fc.weight"}
    assert len(names) == len(params) and checked <= set(names)
    for name, p in zip(names, params):
        p.requires_grad = name in checked  # gradcheck differentiates these

    def logits_and_loss(ids, *ps):
        out = fn(ids, *ps, attention_mask=mask, labels=labels)
        return out.logits, out.loss

    gradcheck(logits_and_loss, [tinylm.tensor(idx), *params])


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_pooling_matches_numpy_and_padding_changes_nothing(pooling):
    model = classifier(pooling)
    model.eval()
    idx, mask, lengths = right_padded()
    with tinylm.no_grad():
        hidden = model.backbone.hidden_states(idx).numpy()
        logits = model(idx, mask).logits.numpy()
        for i, n in enumerate(lengths):  # each text alone, without padding
            alone = model(idx[i : i + 1, :n]).logits.numpy()[0]
            np.testing.assert_allclose(logits[i], alone, rtol=0, atol=1e-12)
    w, b = model.head.weight.detach().numpy(), model.head.bias.detach().numpy()
    if pooling == "mean":
        pooled = np.stack([hidden[i, :n].mean(axis=0) for i, n in enumerate(lengths)])
    else:
        pooled = hidden[np.arange(3), lengths - 1]
    np.testing.assert_allclose(logits, pooled @ w.T + b, rtol=0, atol=1e-12)


def test_hidden_states_are_what_the_lm_head_reads():
    tinylm.manual_seed(0)
    gpt = GPT(CONFIG).double()
    idx = np.random.default_rng(0).integers(0, 11, (2, 8))
    with tinylm.no_grad():
        logits, _ = gpt(idx)
        hidden = gpt.hidden_states(idx)
    assert hidden.shape == (2, 8, 8)
    np.testing.assert_array_equal(
        logits.detach().numpy(), hidden.detach().numpy() @ gpt.wte.weight.detach().numpy().T
    )


def test_first_loss_is_about_ln_classes_and_labels_give_the_loss():
    tinylm.manual_seed(0)
    model = GPTForSequenceClassification(GPT(CONFIG), 4)
    idx, mask, _ = right_padded()
    out = model(idx, mask, labels=[0, 1, 3])
    assert out.logits.shape == (3, 4) and abs(out.loss.item() - math.log(4)) < 0.05
    logits, loss = model(idx, mask)  # unpacks like the GPT's output
    assert loss is None and logits.shape == (3, 4)


def test_frozen_backbone_trains_the_head_only():
    model = classifier(seed=2)
    model.backbone.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 8 * 3 + 3
    opt = tinylm.optim.AdamW(model.parameters(), lr=1e-2)  # frozen ones included, as in torch
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    idx, mask, _ = right_padded()
    out = model(idx, mask, labels=[0, 1, 2])
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    for n, p in model.named_parameters():
        assert (p.grad is not None) == n.startswith("head."), n
        assert (not np.array_equal(p.detach().numpy(), before[n])) == n.startswith("head."), n


def test_bad_masks_and_arguments_are_one_clear_error():
    model = classifier()
    idx, mask, _ = right_padded()
    left = mask[:, ::-1].copy()
    with pytest.raises(TinyLMError, match="right padding"):
        model(idx, left)
    empty = mask.copy()
    empty[1] = 0
    with pytest.raises(TinyLMError, match="at least one 1"):
        model(idx, empty)
    with pytest.raises(TinyLMError, match="shape"):
        model(idx, mask[:, :4])
    with pytest.raises(TinyLMError, match="0s and 1s"):
        model(idx, mask * 2)
    with pytest.raises(TinyLMError, match="pooling"):
        GPTForSequenceClassification(GPT(CONFIG), 2, pooling="max")
    with pytest.raises(TinyLMError, match="num_labels"):
        GPTForSequenceClassification(GPT(CONFIG), 1)


@pytest.mark.parametrize(
    "first", ["tinylm.train", "tinylm.models", "tinylm.models.pretrained", "tinylm.cli"]
)
def test_modules_import_first_in_a_fresh_interpreter(first):
    """models.pretrained uses tinylm.train, which uses models.gpt: whichever is imported first,
    no module may meet a half-imported one."""
    code = f"import {first}; from tinylm.models import pretrained_backbone; import tinylm.train"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1500:]


def test_pretrained_backbone_is_trained_once_then_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYLM_CACHE", str(tmp_path))
    tiny = replace(
        pretrained.BACKBONES["fast"],
        model=GPTConfig(n_layer=1, n_head=2, n_embd=8, block_size=16),
        max_iters=2,
        eval_interval=2,
        eval_iters=1,
    )
    monkeypatch.setitem(pretrained.BACKBONES, "tiny", tiny)
    model, tok, info = pretrained.pretrained_backbone("tiny")
    assert info["trained_now"] and info["path"].startswith(str(tmp_path))
    assert model.config.n_embd == 8 and model.config.vocab_size == tok.vocab_size
    again, _, info2 = pretrained.pretrained_backbone("tiny")
    assert not info2["trained_now"] and info2["path"] == info["path"]
    for (n, p), (_, q) in zip(model.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=n)
    # another configuration is another cache entry, never the stale one
    monkeypatch.setitem(pretrained.BACKBONES, "tiny", replace(tiny, seed=7))
    assert pretrained.backbone_dir("tiny") != pretrained.backbone_dir("fast")
    assert str(pretrained.backbone_dir("tiny")) != info["path"]
    (tmp_path / "backbones").joinpath(info["path"].rsplit("/", 1)[-1], "info.json").write_text("{")
    monkeypatch.setitem(pretrained.BACKBONES, "tiny", tiny)
    with pytest.raises(TinyLMError, match="delete that folder"):
        pretrained.pretrained_backbone("tiny")
    with pytest.raises(TinyLMError, match="unknown backbone"):
        pretrained.pretrained_backbone("huge")
    assert json.loads(json.dumps(info))["name"] == "tiny"


def test_lora_on_the_classifier_counts_and_merges():
    model = classifier(seed=3, num_labels=2)
    model.backbone.requires_grad_(False)
    nn.apply_lora(model.backbone, ("c_attn", "c_proj"), r=2)
    # r (in + out) per adapted layer: attn.c_attn 8 → 24, attn.c_proj 8 → 8, mlp.c_proj 32 → 8
    per_block = 2 * (8 + 24) + 2 * (8 + 8) + 2 * (32 + 8)
    expected = 2 * per_block + 8 * 2 + 2  # two blocks, and the head's W and b
    assert model.num_parameters(trainable_only=True) == expected
    with tinylm.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.normal_()
        model.eval()
        idx, mask, _ = right_padded()
        before = model(idx, mask).logits.numpy()
        nn.merge_lora(model)
        np.testing.assert_allclose(model(idx, mask).logits.numpy(), before, rtol=0, atol=1e-12)
