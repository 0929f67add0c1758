"""The encoder-decoder: shapes and loss, padding, gradients, cached vs uncached decoding
(greedy and beam), beam search against exhaustive search, cross-attention weights,
save/load, shared embeddings, and learning a small translation task."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError
from tinylm.models.seq2seq import Seq2Seq, Seq2SeqConfig
from tinylm.testing import gradcheck

TINY = dict(
    src_vocab_size=13,
    tgt_vocab_size=11,
    max_src_len=7,
    max_tgt_len=8,
    n_encoder_layer=2,
    n_decoder_layer=2,
    n_head=2,
    n_embd=16,
)
PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True)
def reference_kernels():
    """Tiny float64 models run many times: the numpy reference kernels are fastest here."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def _model(seed: int = 0, sharp: float = 1.0, **overrides) -> Seq2Seq:
    """A float64 model; ``sharp`` scales its matrices so that its random outputs are peaked
    (distinct beams, <eos> at different steps) rather than nearly uniform."""
    tinylm.manual_seed(seed)
    model = Seq2Seq(Seq2SeqConfig(**{**TINY, **overrides})).double().eval()
    if sharp != 1.0:
        with tinylm.no_grad():
            for p in model.parameters():
                if p.ndim == 2:
                    p.data = p.data * sharp
    return model


def _sources(seed: int = 0) -> np.ndarray:
    """Three sources of lengths 6, 3 and 5 (each ending in <eos>), padded with 0."""
    rng = np.random.default_rng(seed)
    rows = [[*rng.integers(3, 13, n - 1), EOS] for n in (6, 3, 5)]
    out = np.zeros((3, 6), np.int64)
    for r, row in zip(out, rows):
        r[: len(row)] = row
    return out


def test_config_rejects_bad_values():
    with pytest.raises(TinyLMError, match="divisible"):
        Seq2SeqConfig(n_embd=10, n_head=3)
    with pytest.raises(TinyLMError, match="share_embeddings"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=6, share_embeddings=True)
    with pytest.raises(TinyLMError, match="distinct"):
        Seq2SeqConfig(pad_id=1)
    with pytest.raises(TinyLMError, match="dropout"):
        Seq2SeqConfig(dropout=1.0)


def test_forward_shapes_initial_loss_and_ignored_padding():
    model = _model()
    src = _sources()
    rng = np.random.default_rng(1)
    targets = rng.integers(3, 11, (3, 5))
    targets[1, 3:] = PAD
    tgt_in = np.concatenate([np.full((3, 1), BOS), targets[:, :-1]], axis=1)
    logits, loss = model(src, tgt_in, targets)
    assert logits.shape == (3, 5, 11)
    assert abs(loss.item() - np.log(11)) < 0.1  # small initial weights: nearly uniform
    # the loss is the mean over real target tokens only
    logp = logits.detach().numpy() - np.log(np.exp(logits.detach().numpy()).sum(-1, keepdims=True))
    real = targets != PAD
    expected = -np.take_along_axis(logp, targets[..., None], -1)[..., 0][real].mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    with pytest.raises(TinyLMError, match="max_src_len"):
        model(np.ones((1, 8), np.int64), tgt_in)
    with pytest.raises(TinyLMError, match=r"\(B, T\)"):
        model(np.ones(4, np.int64), tgt_in)


def test_loss_gradcheck_through_encoder_cross_attention_and_decoder():
    """d loss / d (source embeddings): the only path from x to the loss is the
    cross-attention, so a correct gradient here checks the whole encoder-decoder path."""
    model = _model(n_encoder_layer=1, n_decoder_layer=1)
    src, targets = _sources(), np.array([[3, 4, EOS], [5, EOS, PAD], [6, 7, 8]])
    tgt_in = np.array([[BOS, 3, 4], [BOS, 5, EOS], [BOS, 6, 7]])
    weight = model.src_wte.weight

    def loss_of(w):
        model.src_wte._parameters["weight"] = w
        try:
            return model(src, tgt_in, targets)[1]
        finally:
            model.src_wte._parameters["weight"] = weight

    gradcheck(loss_of, [tinylm.tensor(weight.detach().numpy(), requires_grad=True)])


def test_padding_never_changes_a_sequence_output():
    model = _model(sharp=8.0)
    src = _sources()
    memory, keep = model.encode(src)
    batch_out = model.generate(src, num_beams=3).numpy()
    for row, n in enumerate((6, 3, 5)):
        alone = src[row : row + 1, :n]
        mem_alone, _ = model.encode(alone)
        np.testing.assert_allclose(
            memory.detach().numpy()[row, :n], mem_alone.detach().numpy()[0], rtol=1e-12
        )
        more_padding = np.concatenate([alone, np.zeros((1, 7 - n), np.int64)], axis=1)
        for K in (1, 3):
            expected = model.generate(alone, num_beams=K).numpy()[0]
            padded = model.generate(more_padding, num_beams=K).numpy()[0]
            np.testing.assert_array_equal(padded, expected)
            if K == 3:
                got = batch_out[row][: len(expected)]
                np.testing.assert_array_equal(got, expected)
    assert keep.shape == (3, 1, 1, 6) and keep.sum() == 6 + 3 + 5


@pytest.mark.parametrize("num_beams", [1, 2, 4])
def test_cached_decoding_equals_uncached(num_beams):
    for seed in range(3):
        model = _model(seed=seed, sharp=8.0)
        src = _sources(seed)
        cached = model.generate(src, num_beams=num_beams).numpy()
        uncached = model.generate(src, num_beams=num_beams, use_cache=False).numpy()
        np.testing.assert_array_equal(cached, uncached)
        assert (cached[:, 0] == BOS).all()


def test_some_outputs_end_with_eos_and_are_padded_after_it():
    """The decoding tests above are only meaningful if rows really stop at different steps."""
    lengths = set()
    for seed in range(3):
        out = _model(seed=seed, sharp=8.0).generate(_sources(seed)).numpy()
        for row in out:
            ends = np.flatnonzero(row == EOS)
            if len(ends):
                assert (row[ends[0] + 1 :] == PAD).all()
                lengths.add(int(ends[0]))
    assert len(lengths) >= 2, lengths


def _sequence_logp(model: Seq2Seq, src: np.ndarray, y: list[int]) -> float:
    tgt_in = np.array([[BOS, *y[:-1]]])
    logits = model(src, tgt_in)[0].detach().numpy()[0]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return float(sum(logp[t, tok] for t, tok in enumerate(y)))


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_with_a_wide_beam_is_exhaustive_search(length_penalty):
    """With more beams than prefixes, beam search must return the best of all outputs of
    ≤ 3 tokens by log P(y | x) / |y|^length_penalty (ending in <eos>, or cut at 3)."""
    model = _model(seed=5, sharp=6.0, tgt_vocab_size=5)
    src = _sources(5)[:1]
    candidates = []
    for n in (1, 2, 3):
        for body in itertools.product([t for t in range(5) if t != EOS], repeat=n - 1):
            candidates.append([*body, EOS])
    candidates += [list(b) for b in itertools.product([t for t in range(5) if t != EOS], repeat=3)]
    scores = [_sequence_logp(model, src, y) / len(y) ** length_penalty for y in candidates]
    best = candidates[int(np.argmax(scores))]
    out = model.generate(src, max_new_tokens=3, num_beams=128, length_penalty=length_penalty)
    got = out.numpy()[0, 1:].tolist()
    assert got[: len(best)] == best and all(t == PAD for t in got[len(best) :])


def test_greedy_is_the_argmax_chain():
    model = _model(seed=2, sharp=8.0)
    src = _sources(2)[:1]
    out = model.generate(src, max_new_tokens=4).numpy()[0].tolist()
    prefix = [BOS]
    for _ in range(4):
        logits = model(src, np.array([prefix]))[0].detach().numpy()[0, -1]
        prefix.append(int(logits.argmax()))
        if prefix[-1] == EOS:
            break
    assert out[: len(prefix)] == prefix


def test_generate_rejects_bad_arguments():
    model = _model()
    with pytest.raises(TinyLMError, match="max_new_tokens"):
        model.generate(_sources(), max_new_tokens=8)
    with pytest.raises(TinyLMError, match="num_beams"):
        model.generate(_sources(), num_beams=0)


def test_cross_attention_weights_match_forward_and_ignore_padding():
    model = _model(sharp=4.0)
    src, tgt_in = _sources(), np.array([[BOS, 3, 4], [BOS, 5, 6], [BOS, 7, 8]])
    logits, weights = model.cross_attention_weights(src, tgt_in)
    np.testing.assert_allclose(
        logits.detach().numpy(), model(src, tgt_in)[0].detach().numpy(), rtol=1e-12
    )
    assert len(weights) == 2 and weights[0].shape == (3, 2, 3, 6)
    for w in weights:
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
        assert (w[1, ..., 3:] == 0).all() and (w[2, ..., 5:] == 0).all()


def test_save_load_and_shared_embeddings(tmp_path):
    model = _model(sharp=8.0)
    path = tmp_path / "model.npz"
    tinylm.save({"model": model.state_dict(), "config": model.config.to_dict()}, path)
    state = tinylm.load(path)
    again = Seq2Seq(Seq2SeqConfig(**state["config"])).double().eval()
    again.load_state_dict(state["model"])
    np.testing.assert_array_equal(
        again.generate(_sources(), num_beams=2).numpy(),
        model.generate(_sources(), num_beams=2).numpy(),
    )
    shared = _model(src_vocab_size=11, share_embeddings=True)
    assert shared.src_wte.weight is shared.tgt_wte.weight is shared.lm_head.weight
    separate = _model(src_vocab_size=11)
    assert separate.lm_head.weight is separate.tgt_wte.weight
    assert separate.num_parameters() - shared.num_parameters() == 11 * 16


def test_learns_to_reverse_short_sequences():
    """A task that needs the source: output the source tokens reversed. Teacher-forced
    training, then greedy decoding of held-out sequences."""
    registry.set_backend("auto")
    tinylm.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(**{**TINY, "src_vocab_size": 11, "n_embd": 32}))
    opt = model.configure_optimizers(3e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)

    def batch(n):
        body = rng.integers(3, 11, (n, 4))
        src = np.concatenate([body, np.full((n, 1), EOS)], axis=1)
        rev = body[:, ::-1]
        return (
            src,
            np.concatenate([np.full((n, 1), BOS), rev], 1),
            np.concatenate([rev, np.full((n, 1), EOS)], 1),
        )

    for _ in range(300):
        _, loss = model(*batch(32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, _, expected = batch(50)
    out = model.generate(src).numpy()[:, 1:]
    exact = (out[:, :5] == expected).all(axis=1).mean()
    assert exact >= 0.9, exact
