"""LSTM: the fused cell and the sequence op against finite differences (float64 gradcheck,
random upstream gradients), nn.LSTM / nn.LSTMCell against PyTorch's with copied weights
(outputs, final states and every gradient, float64, on every CPU backend), padding through
``lengths=``, and the errors for what is not supported."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import registry

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError, nn
from tinylm.testing import gradcheck, module_function

BACKENDS = list(registry.implementations("lstm_cell_forward", "cpu"))


@contextlib.contextmanager
def using(name: str):
    previous = registry.get_backend()
    registry.set_backend(name)
    try:
        yield
    finally:
        registry.set_backend(previous)


@pytest.fixture
def backend(request):
    with using(request.param):
        yield request.param


def _t(a, requires_grad=True):
    return tinylm.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=5, deadline=None)
@given(
    b=st.integers(1, 3),
    i=st.integers(1, 4),
    h=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_cell_gradcheck(name, b, i, h, seed):
    rng = np.random.default_rng(seed)
    x, h0, c0 = (
        _t(rng.standard_normal((b, i))),
        _t(rng.standard_normal((b, h))),
        _t(rng.standard_normal((b, h)) * 2),
    )
    w_ih, w_hh = _t(rng.standard_normal((4 * h, i))), _t(rng.standard_normal((4 * h, h)))
    b_ih, b_hh = _t(rng.standard_normal(4 * h)), _t(rng.standard_normal(4 * h))

    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        return F.lstm_cell(x, (h0, c0), w_ih, w_hh, b_ih, b_hh)  # both h and c get upstream

    with using(name):
        assert gradcheck(fn, [x, h0, c0, w_ih, w_hh, b_ih, b_hh], seed=seed % 1000)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("padded", [False, True])
def test_sequence_gradcheck(backend, padded):
    """Four steps of a two-layer LSTM, every input and parameter, outputs and final states
    all with random upstream gradients; with ``lengths`` the padded steps too."""
    rng = np.random.default_rng(1)
    tinylm.manual_seed(0)
    lstm = nn.LSTM(3, 2, num_layers=2, dtype=tinylm.float64)
    fn0, params = module_function(lstm)
    x = _t(rng.standard_normal((4, 3, 3)))
    h0, c0 = _t(rng.standard_normal((2, 3, 2))), _t(rng.standard_normal((2, 3, 2)))
    lengths = np.array([3, 1, 2]) if padded else None  # step 4 is padding for all: skipped

    def fn(x, h0, c0, *ps):
        out, (hn, cn) = fn0(x, *ps, hx=(h0, c0), lengths=lengths)
        return out, hn, cn

    assert gradcheck(fn, [x, h0, c0, *params])


@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_sequence_gradcheck(batch_first):
    """Unbatched (T, I) input with (num_layers, H) states: every input and parameter."""
    rng = np.random.default_rng(2)
    tinylm.manual_seed(0)
    lstm = nn.LSTM(3, 2, num_layers=2, batch_first=batch_first, dtype=tinylm.float64)
    fn0, params = module_function(lstm)
    x = _t(rng.standard_normal((4, 3)))
    h0, c0 = _t(rng.standard_normal((2, 2))), _t(rng.standard_normal((2, 2)))

    def fn(x, h0, c0, *ps):
        out, (hn, cn) = fn0(x, *ps, hx=(h0, c0))
        return out, hn, cn

    assert gradcheck(fn, [x, h0, c0, *params])


def test_cell_op_gradient_in_any_layout():
    """The upstream gradient of h and c may arrive broadcast (a sum's), or only for h."""
    rng = np.random.default_rng(2)
    x, w_ih, w_hh = _t(rng.standard_normal((3, 2))), _t(rng.standard_normal((8, 2))), None
    w_hh = _t(rng.standard_normal((8, 2)))
    h, c = F.lstm_cell(x, None, w_ih, w_hh)
    (h.sum() + 2 * c.sum()).backward()
    g_sum = w_ih.grad.numpy().copy()
    w_ih.grad = None
    h, c = F.lstm_cell(x, None, w_ih, w_hh)
    h.backward(np.ones((3, 2)), retain_graph=True)  # h and c are views of one op's output
    c.backward(2 * np.ones((3, 2)))
    np.testing.assert_allclose(w_ih.grad.numpy(), g_sum, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- against PyTorch


def _copy_to_torch(torch, ours, theirs):
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(p.detach().numpy()))


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_equals_torch(backend, num_layers, batch_first, with_state):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(num_layers + 2 * batch_first)
    t_len, b, i, h = 7, 3, 5, 4
    tinylm.manual_seed(1)
    ours = nn.LSTM(i, h, num_layers=num_layers, batch_first=batch_first, dtype=tinylm.float64)
    theirs = torch.nn.LSTM(
        i, h, num_layers=num_layers, batch_first=batch_first, dtype=torch.float64
    )
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape)
    _copy_to_torch(torch, ours, theirs)
    shape = (b, t_len, i) if batch_first else (t_len, b, i)
    x = rng.standard_normal(shape)
    state = [rng.standard_normal((num_layers, b, h)) for _ in range(2)]
    g_out = rng.standard_normal((*shape[:2], h))
    g_h, g_c = (rng.standard_normal((num_layers, b, h)) for _ in range(2))

    xa = _t(x)
    hx = tuple(_t(s) for s in state) if with_state else None
    out, (hn, cn) = ours(xa, hx)
    (
        (out * _t(g_out, False)).sum() + (hn * _t(g_h, False)).sum() + (cn * _t(g_c, False)).sum()
    ).backward()

    xt = torch.tensor(x, requires_grad=True)
    hxt = tuple(torch.tensor(s, requires_grad=True) for s in state) if with_state else None
    out_t, (hn_t, cn_t) = theirs(xt, hxt)
    loss_t = (
        (out_t * torch.tensor(g_out)).sum()
        + (hn_t * torch.tensor(g_h)).sum()
        + (cn_t * torch.tensor(g_c)).sum()
    )
    loss_t.backward()

    close = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), **close)
    np.testing.assert_allclose(hn.detach().numpy(), hn_t.detach().numpy(), **close)
    np.testing.assert_allclose(cn.detach().numpy(), cn_t.detach().numpy(), **close)
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), **close)
    if with_state:
        for a, t in zip(hx, hxt):
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **close)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **close)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_lstm_cell_equals_torch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    tinylm.manual_seed(2)
    ours = nn.LSTMCell(3, 6, dtype=tinylm.float64)
    theirs = torch.nn.LSTMCell(3, 6, dtype=torch.float64)
    _copy_to_torch(torch, ours, theirs)
    x, h0, c0 = (
        rng.standard_normal((4, 3)),
        rng.standard_normal((4, 6)),
        rng.standard_normal((4, 6)),
    )
    gh, gc = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    h, c = ours(_t(x), (_t(h0), _t(c0)))
    ((h * _t(gh, False)).sum() + (c * _t(gc, False)).sum()).backward()
    ht, ct = theirs(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    ((ht * torch.tensor(gh)).sum() + (ct * torch.tensor(gc)).sum()).backward()
    np.testing.assert_allclose(h.detach().numpy(), ht.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.detach().numpy(), ct.detach().numpy(), rtol=1e-12, atol=1e-14)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-11, err_msg=name)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_lstm_and_cell_equal_torch(batch_first, with_state):
    """2-D input (T, I) to LSTM and 1-D input (I,) to LSTMCell, as PyTorch takes them:
    outputs, states and every gradient (states' included), float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    tinylm.manual_seed(4)
    ours = nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, dtype=tinylm.float64)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, dtype=torch.float64)
    _copy_to_torch(torch, ours, theirs)
    x, g_out = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    state, g_state = rng.standard_normal((2, 2, 4)), rng.standard_normal((2, 2, 4))

    def run(lib, module, make):
        xa = make(x, True)
        hx = tuple(make(s, True) for s in state) if with_state else None
        out, (hn, cn) = module(xa, hx)
        assert tuple(out.shape) == (5, 4) and tuple(hn.shape) == tuple(cn.shape) == (2, 4)
        loss = (out * make(g_out, False)).sum()
        loss = loss + (hn * make(g_state[0], False)).sum() + (cn * make(g_state[1], False)).sum()
        loss.backward()
        grads = [xa.grad] + ([t.grad for t in hx] if with_state else [])
        grads += [p.grad for _, p in module.named_parameters()]
        return [np.asarray(t.detach().numpy()) for t in (out, hn, cn, *grads)]

    mine = run(tinylm, ours, lambda a, rg: _t(a, rg))
    torchs = run(torch, theirs, lambda a, rg: torch.tensor(a, requires_grad=rg))
    for a, b in zip(mine, torchs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    cell, cell_t = (
        nn.LSTMCell(3, 4, dtype=tinylm.float64),
        torch.nn.LSTMCell(3, 4, dtype=torch.float64),
    )
    _copy_to_torch(torch, cell, cell_t)
    hx = (_t(state[0, 0]), _t(state[1, 0])) if with_state else None
    hx_t = tuple(torch.tensor(s[0]) for s in state) if with_state else None
    h, c = cell(_t(x[0]), hx)
    h_t, c_t = cell_t(torch.tensor(x[0]), hx_t)
    assert tuple(h.shape) == tuple(c.shape) == (4,)
    np.testing.assert_allclose(h.detach().numpy(), h_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.detach().numpy(), c_t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_state_dict_of_torch_loads():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LSTM(4, 3, num_layers=2)
    ours = nn.LSTM(4, 3, num_layers=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    out, _ = ours(tinylm.tensor(x))
    np.testing.assert_allclose(
        out.detach().numpy(), theirs(torch.tensor(x))[0].detach().numpy(), atol=1e-5
    )


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[6, 2, 4], [5, 2, 4]], ids=["longest=T", "all padded"])
def test_padding_never_changes_a_sequence(backend, batch_first, lengths):
    """Each sequence of a padded batch gives, in h_n, c_n, its outputs and the gradients of
    its own inputs, exactly what it gives alone and unpadded; padded outputs are 0 and the
    padded inputs get no gradient."""
    rng = np.random.default_rng(3)
    tinylm.manual_seed(3)
    lstm = nn.LSTM(3, 5, num_layers=2, batch_first=batch_first, dtype=tinylm.float64)
    x = rng.standard_normal((3, 6, 3))
    x[1, 2:] = 1e3  # garbage in the padding: must not leak anywhere
    g = rng.standard_normal((3, 6, 5))

    def run(xb, gb, lengths=None):
        """xb (B, T, I), gb (B, T, H) the upstream gradient of the output."""
        xa = _t(xb if batch_first else xb.transpose(1, 0, 2))
        out, (hn, cn) = lstm(xa, lengths=lengths)
        out_bt = out if batch_first else out.transpose(0, 1)
        ((out_bt * _t(gb, False)).sum() + hn.sum() + (cn * cn).sum()).backward()
        grad = xa.grad.numpy()
        grad = grad if batch_first else grad.transpose(1, 0, 2)
        return out_bt.detach().numpy(), hn.detach().numpy(), cn.detach().numpy(), grad

    out, hn, cn, grad = run(x, g, lengths=lengths)
    for b, n in enumerate(lengths):
        out1, hn1, cn1, grad1 = run(x[b : b + 1, :n], g[b : b + 1, :n])
        np.testing.assert_allclose(out[b, :n], out1[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(out[b, n:], 0.0)
        np.testing.assert_allclose(hn[:, b], hn1[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cn[:, b], cn1[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad[b, :n], grad1[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(grad[b, n:], 0.0)


@pytest.mark.parametrize(
    "lengths, match",
    [([3, 0], r"lengths must lie in \[1, 3\]"), ([4, 1], r"in \[1, 3\]"), ([1], r"2 integers")],
)
def test_bad_lengths(lengths, match):
    lstm = nn.LSTM(2, 2)
    with pytest.raises(TinyLMError, match=match):
        lstm(tinylm.zeros(3, 2, 2), lengths=lengths)


# ---------------------------------------------------------------- errors and modes


def test_unsupported_pytorch_arguments_are_errors():
    with pytest.raises(TinyLMError, match="bidirectional=True is not supported"):
        nn.LSTM(2, 3, bidirectional=True)
    with pytest.raises(TinyLMError, match="proj_size=2 is not supported"):
        nn.LSTM(2, 3, proj_size=2)


def test_wrong_state_shapes_are_errors():
    lstm = nn.LSTM(2, 3, num_layers=2)
    x = tinylm.zeros(4, 5, 2)
    with pytest.raises(TinyLMError, match=r"h_0 must be \(2, 5, 3\), got \(1, 5, 3\)"):
        lstm(x, (tinylm.zeros(1, 5, 3), tinylm.zeros(2, 5, 3)))
    with pytest.raises(TinyLMError, match=r"c must have shape \(5, 3\)"):
        nn.LSTMCell(2, 3)(tinylm.zeros(5, 2), (tinylm.zeros(5, 3), tinylm.zeros(5, 4)))
    with pytest.raises(TinyLMError, match="same dtype"):
        nn.LSTM(2, 3)(tinylm.zeros(4, 5, 2, dtype=tinylm.float64))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        ("lstm(tinylm.zeros(5), None)", r"3-D .* or unbatched 2-D .*got \(5,\)"),
        ("lstm(tinylm.zeros(5, 2), (tinylm.zeros(2, 1, 3), tinylm.zeros(2, 1, 3)))",
         r"unbatched input, h_0 must be 2-D, got shape \(2, 1, 3\)"),
        ("lstm(tinylm.zeros(5, 4, 2), (tinylm.zeros(2, 3), tinylm.zeros(2, 3)))",
         r"batched input, h_0 must be 3-D, got shape \(2, 3\)"),
        ("lstm(tinylm.zeros(5, 2), (tinylm.zeros(1, 3), tinylm.zeros(1, 3)))",
         r"h_0 must be \(2, 1, 3\)"),
        ("lstm(tinylm.zeros(5, 2), lengths=[5])", "unbatched .* no padding"),
        ("cell(tinylm.zeros(2), (tinylm.zeros(1, 3), tinylm.zeros(1, 3)))",
         r"unbatched input, h must be 1-D"),
    ],
)  # fmt: skip
def test_wrong_input_and_state_dims_are_one_clear_line(call, match):
    env = {"lstm": nn.LSTM(2, 3, num_layers=2), "cell": nn.LSTMCell(2, 3), "tinylm": tinylm}
    with pytest.raises(TinyLMError, match=match) as info:
        eval(call, env)
    assert "\n" not in str(info.value)


def test_dropout_between_layers_only_while_training():
    tinylm.manual_seed(4)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tinylm.randn(5, 2, 3)
    a, _ = lstm(x)
    b, _ = lstm(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert "dropout=0.5" in repr(lstm)


def test_float32_training_step_runs_and_learns_something():
    """A float32 LSTM on the default backend fits a tiny target: the loss falls."""
    tinylm.manual_seed(5)
    lstm, head = nn.LSTM(2, 8, batch_first=True), nn.Linear(8, 1)
    params = [*lstm.parameters(), *head.parameters()]
    opt = tinylm.optim.Adam(params, lr=0.05)
    rng = np.random.default_rng(0)
    x = tinylm.tensor(rng.standard_normal((16, 5, 2)).astype(np.float32))
    y = tinylm.tensor(x.numpy().sum(axis=(1, 2))[:, None] / 4)
    losses = []
    for _ in range(30):
        out, (hn, _) = lstm(x)
        loss = F.mse_loss(head(hn[0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert out.dtype == tinylm.float32
    assert losses[-1] < 0.5 * losses[0]
