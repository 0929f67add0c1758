"""PyTorch's transformer modules (tinylm/nn/pytorch_transformer.py) against PyTorch's own with
copied weights (float64): nn.MultiheadAttention's outputs, attention weights and every
gradient over PyTorch's layouts (sequence-first, batch-first, unbatched), self- and
cross-attention with other key/value widths, and its two kinds of mask in their bool and
float forms; then TransformerEncoderLayer/Encoder and the whole Transformer, post- and
pre-norm, with padding and a causal target mask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(11)
E, H, L, S, N = 8, 2, 4, 5, 3


def _pair(**kw: Any) -> tuple[Any, Any]:
    """The same module in both libraries, PyTorch's random weights copied into tinylm's."""
    theirs = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **kw)
    ours = tinylm.nn.MultiheadAttention(E, H, dtype=tinylm.float64, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, p in theirs.named_parameters():
        if "bias" in name:  # zero at init: random values test that they are used
            with torch.no_grad():
                p.normal_()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


CASES = {
    "self": dict(kw={}, shapes=((L, N, E),) * 3, call={}),
    "batch_first": dict(kw=dict(batch_first=True), shapes=((N, L, E),) * 3, call={}),
    "unbatched": dict(kw={}, shapes=((L, E),) * 3, call={}),
    "cross_kdim_vdim": dict(
        kw=dict(kdim=6, vdim=7), shapes=((L, N, E), (S, N, 6), (S, N, 7)), call={}
    ),
    "per_head_weights": dict(kw={}, shapes=((L, N, E),) * 3, call=dict(average_attn_weights=False)),
    "no_bias": dict(kw=dict(bias=False), shapes=((L, N, E), (S, N, E), (S, N, E)), call={}),
    "causal_bool": dict(
        kw={}, shapes=((L, N, E),) * 3, call=dict(attn_mask="causal_bool", is_causal=True)
    ),
    "float_mask": dict(
        kw={}, shapes=((L, N, E), (S, N, E), (S, N, E)), call=dict(attn_mask="float")
    ),
    "per_head_mask": dict(
        kw={}, shapes=((L, N, E), (S, N, E), (S, N, E)), call=dict(attn_mask="heads")
    ),
    "key_padding": dict(
        kw={}, shapes=((L, N, E), (S, N, E), (S, N, E)), call=dict(key_padding_mask="pad")
    ),
    "both_masks": dict(
        kw={},
        shapes=((L, N, E), (S, N, E), (S, N, E)),
        call=dict(attn_mask="float", key_padding_mask="pad"),
    ),
}


def _masks(call: dict, s: int) -> dict:
    """The case's masks as NumPy arrays (each library gets its own tensor of them)."""
    heads = np.where(RNG.random((N * H, L, s)) < 0.3, -np.inf, 0.0)
    heads[..., 0] = 0.0  # every query keeps one key: no row with every key masked
    made = {
        "causal_bool": np.triu(np.ones((L, L), dtype=bool), 1),  # True: may not attend
        "float": RNG.standard_normal((L, s)),
        "heads": heads,
        "pad": np.array([[False] * s, [False] * (s - 2) + [True] * 2, [False] * (s - 1) + [True]]),
    }
    return {k: made[v] if k in ("attn_mask", "key_padding_mask") else v for k, v in call.items()}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")  # PyTorch's
def test_multihead_attention_equals_torch(case: dict) -> None:
    ours, theirs = _pair(**case["kw"])
    arrays = [RNG.standard_normal(s) for s in case["shapes"]]
    s_len = case["shapes"][1][1 if case["kw"].get("batch_first") else 0]
    call = _masks(case["call"], s_len)
    results = []
    for lib, module in ((tinylm, ours), (torch, theirs)):
        ins = [lib.tensor(a, requires_grad=True) for a in arrays]
        kw = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()}
        out, weights = module(*ins, **kw)
        g = RNG.standard_normal(tuple(out.shape)) if lib is tinylm else results[0][-1]
        out.backward(lib.tensor(g))
        grads = [t.grad.numpy() for t in ins]
        grads += [p.grad.numpy() for _, p in sorted(module.named_parameters())]
        results.append([out.detach().numpy(), weights.detach().numpy(), *grads, g])
    for a, b in zip(results[0][:-1], results[1][:-1]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_need_weights_false_returns_none_and_dropout_only_in_training() -> None:
    m = tinylm.nn.MultiheadAttention(E, H, dropout=0.5)
    x = tinylm.randn(L, N, E)
    out, w = m(x, x, x, need_weights=False)
    assert w is None and out.shape == (L, N, E)
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[0].detach().numpy(), m(x, x, x)[0].detach().numpy())


@pytest.mark.parametrize(
    "make, call, words",
    [
        (lambda: tinylm.nn.MultiheadAttention(6, 4), None, "divisible"),
        (lambda: tinylm.nn.MultiheadAttention(E, H, add_bias_kv=True), None, "add_bias_kv"),
        (lambda: tinylm.nn.MultiheadAttention(E, H), dict(is_causal=True), "needs attn_mask"),
        (
            lambda: tinylm.nn.MultiheadAttention(E, H),
            dict(attn_mask=tinylm.zeros(3, 3)),
            "attn_mask",
        ),
        (
            lambda: tinylm.nn.MultiheadAttention(E, H),
            dict(key_padding_mask=tinylm.zeros(L, N)),
            "key_padding_mask",
        ),
    ],
)
def test_multihead_attention_misuse_is_one_clear_line(make: Any, call: Any, words: str) -> None:
    with pytest.raises((TinyLMError, RuntimeError), match=words) as info:
        m = make()
        x = tinylm.randn(L, N, E)
        m(x, x, x, **call)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------
# TransformerEncoderLayer … Transformer: PyTorch's modules, state dicts loaded both ways
# ---------------------------------------------------------------------------------------


def _copy_into(ours: Any, theirs: Any) -> None:
    """PyTorch's (random) weights into tinylm's module: the keys must be the same."""
    for p in theirs.parameters():  # biases and norms start at 0 and 1: make them matter
        with torch.no_grad():
            p.add_(torch.randn_like(p) * 0.1)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(ours.state_dict()) == sorted(state)
    ours.load_state_dict(state)


def _compare(ours: Any, theirs: Any, arrays: list[np.ndarray], **call: Any) -> None:
    results = []
    g = None
    for lib, module in ((tinylm, ours), (torch, theirs)):
        module.eval()  # dropout off in both: the same numbers
        ins = [lib.tensor(a, requires_grad=True) for a in arrays]
        kw = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()}
        out = module(*ins, **kw)
        g = RNG.standard_normal(tuple(out.shape)) if g is None else g
        out.backward(lib.tensor(g))
        grads = [t.grad.numpy() for t in ins]
        grads += [p.grad.numpy() for _, p in sorted(module.named_parameters())]
        results.append([out.detach().numpy(), *grads])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


LAYER_KW = {
    "post_norm_relu": dict(),
    "pre_norm_gelu": dict(norm_first=True, activation="gelu"),
    "batch_first": dict(batch_first=True),
}


@pytest.mark.parametrize("kw", LAYER_KW.values(), ids=LAYER_KW.keys())
def test_encoder_layer_and_stack_equal_torch(kw: dict) -> None:
    args = dict(d_model=E, nhead=H, dim_feedforward=16, dtype=torch.float64, **kw)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(**args), 2, torch.nn.LayerNorm(E, dtype=torch.float64),
        enable_nested_tensor=False,
    )  # fmt: skip
    args["dtype"] = tinylm.float64
    ours = tinylm.nn.TransformerEncoder(
        tinylm.nn.TransformerEncoderLayer(**args), 2, tinylm.nn.LayerNorm(E, dtype=tinylm.float64)
    )
    _copy_into(ours, theirs)
    shape = (N, L, E) if kw.get("batch_first") else (L, N, E)
    pad = np.zeros((N, L), dtype=bool)
    pad[1, -2:] = True
    _compare(ours, theirs, [RNG.standard_normal(shape)], src_key_padding_mask=pad)


@pytest.mark.parametrize("kw", LAYER_KW.values(), ids=LAYER_KW.keys())
@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # PyTorch's
def test_transformer_equals_torch_with_a_causal_target_mask(kw: dict) -> None:
    args = dict(
        d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, **kw
    )
    theirs = torch.nn.Transformer(**args, dtype=torch.float64)
    ours = tinylm.nn.Transformer(**args, dtype=tinylm.float64)
    _copy_into(ours, theirs)
    causal = tinylm.nn.Transformer.generate_square_subsequent_mask(L).numpy()
    np.testing.assert_array_equal(
        causal, torch.nn.Transformer.generate_square_subsequent_mask(L).numpy()
    )
    first = kw.get("batch_first")
    src = RNG.standard_normal((N, S, E) if first else (S, N, E))
    tgt = RNG.standard_normal((N, L, E) if first else (L, N, E))
    pad = np.zeros((N, S), dtype=bool)
    pad[2, -1] = True
    _compare(
        ours, theirs, [src, tgt], tgt_mask=causal.astype(np.float64), tgt_is_causal=True,
        src_key_padding_mask=pad, memory_key_padding_mask=pad,
    )  # fmt: skip


def test_transformer_init_is_xavier_as_torchs() -> None:
    """Every matrix Xavier-uniform (PyTorch's _reset_parameters): bounded by √(6/(in+out))."""
    tinylm.manual_seed(0)
    m = tinylm.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                              dim_feedforward=64)  # fmt: skip
    for name, p in m.named_parameters():
        if p.ndim > 1:
            bound = np.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert np.abs(p.detach().numpy()).max() <= bound, name
            assert np.abs(p.detach().numpy()).max() > 0.8 * bound, name  # and it fills the range


def test_encoder_layers_are_copies_with_their_own_weights() -> None:
    layer = tinylm.nn.TransformerEncoderLayer(E, H, dim_feedforward=16)
    stack = tinylm.nn.TransformerEncoder(layer, 3)
    w = [lay.linear1.weight for lay in stack.layers]
    assert len({id(x) for x in w}) == 3 and all(x is not layer.linear1.weight for x in w)
    np.testing.assert_array_equal(
        w[0].detach().numpy(), w[2].detach().numpy()
    )  # copies: the same values
