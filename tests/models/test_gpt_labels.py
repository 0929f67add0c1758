"""GPT(idx, labels=...): the Hugging Face causal-LM loss (document 000 §5.2), the model shifts."""

from __future__ import annotations

import numpy as np
import pytest

import tinylm
from tinylm.models.gpt import GPT, GPTConfig

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)


def _model(seed: int = 0) -> GPT:
    tinylm.manual_seed(seed)
    return GPT(GPTConfig(**TINY)).double()


def _grads(model: GPT) -> dict[str, np.ndarray]:
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_equal_the_targets_path_on_shifted_tokens(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 11, (3, 8))
    model = _model(seed)
    _, loss_labels = model(x, labels=x)
    loss_labels.backward()
    g_labels = _grads(model)
    model.zero_grad()
    # causal attention: the first T−1 logits do not see the last token, so the targets path
    # on x[:, :-1] → x[:, 1:] is the same loss and the same gradients
    _, loss_targets = model(x[:, :-1], x[:, 1:])
    loss_targets.backward()
    assert loss_labels.item() == pytest.approx(loss_targets.item(), rel=1e-12, abs=1e-12)
    for name, g in _grads(model).items():
        np.testing.assert_allclose(g_labels[name], g, rtol=1e-9, atol=1e-12, err_msg=name)


def test_labels_of_minus_100_are_ignored_like_numpy_says():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 11, (2, 8))
    labels = x.copy()
    labels[0, 3] = -100
    labels[1, 6:] = -100
    model = _model(3)
    logits, loss = model(x, labels=labels)
    z = logits.detach().numpy()[:, :-1].reshape(-1, 11)
    t = labels[:, 1:].reshape(-1)
    keep = t != -100
    logp = (
        z
        - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - z.max(-1, keepdims=True)
    )
    expected = -logp[keep, t[keep]].mean()
    assert keep.sum() == 14 - 3
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_labels_errors_are_one_clear_line():
    model = _model()
    x = np.zeros((2, 5), dtype=np.int64)
    with pytest.raises(ValueError, match="not both"):
        model(x, targets=x, labels=x)
    with pytest.raises(ValueError, match="shape of idx"):
        model(x, labels=x[:, :4])
    with pytest.raises(ValueError, match="T ≥ 2"):
        model(x[:, :1], labels=x[:, :1])
