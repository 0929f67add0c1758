"""Module, Parameter, containers, state dicts, and the layers (gradcheck w.r.t. inputs and
parameters over hypothesis shapes)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError, nn
from tinylm.testing import gradcheck


@pytest.fixture(autouse=True, scope="module")
def reference_kernels():
    """Gradchecks of tiny layers: reference kernels (see test_nn_functional.py for why)."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def with_parameters(module: nn.Module):
    """(fn, params): fn(x, *p) runs ``module`` with tensors p in place of its parameters."""
    slots = [
        (mod, name)
        for _, mod in module.named_modules()
        for name, p in mod._parameters.items()
        if p is not None
    ]

    def fn(x, *ps):
        saved = [mod._parameters[name] for mod, name in slots]
        for (mod, name), p in zip(slots, ps):
            mod._parameters[name] = p
        try:
            return module(x)
        finally:
            for (mod, name), p in zip(slots, saved):
                mod._parameters[name] = p

    return fn, [mod._parameters[name] for mod, name in slots]


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("scale", tinylm.ones(2))
        self.register_buffer("cache", tinylm.zeros(5), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


# ---------------------------------------------------------------------------------------
# Module bookkeeping
# ---------------------------------------------------------------------------------------


def test_registration_names_and_counts():
    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in m.named_buffers()] == ["scale", "cache"]
    # as in PyTorch: a module's own tensors first, then its children's
    assert list(m.state_dict()) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert m.fc2.bias is None
    assert m.num_parameters() == 3 * 4 + 4 + 4 * 2
    assert isinstance(m.fc1.weight, nn.Parameter) and m.fc1.weight.requires_grad


def test_shared_parameters_are_listed_once():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    m[1].weight = m[0].weight  # tied weights
    assert len(list(m.parameters())) == 3
    assert m.num_parameters() == 9 + 3 + 3
    assert "1.weight" in m.state_dict()  # the state dict still has both names


def test_forgetting_super_init_and_wrong_assignments_are_clear():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="wrap it in nn.Parameter"):
        m.weight = tinylm.zeros(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope  # noqa: B018


def test_train_eval_propagate_and_zero_grad():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    assert all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m(tinylm.randn(3, 2)).sum().backward()
    assert m[0].weight.grad is not None
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(m[0].weight.grad.numpy(), 0)
    m.zero_grad()
    assert m[0].weight.grad is None


def test_to_dtype_keeps_parameter_identity():
    m = TwoLayer()
    w = m.fc1.weight
    m.double()
    assert m.fc1.weight is w and w.dtype == np.float64 and m.scale.dtype == np.float64
    assert m(tinylm.randn(2, 3, dtype=tinylm.float64)).dtype == np.float64
    m.float()
    assert w.dtype == np.float32
    with pytest.raises(TinyLMError, match="float dtype"):
        m.to(tinylm.int64)


def test_repr_is_a_tree_like_pytorch():
    m = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Dropout(0.1))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): GELU(approximate='none')\n"
        "  (2): Dropout(p=0.1)\n"
        ")"
    )


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and layers[-1].out_features == 1
    assert len(list(layers.parameters())) == 8
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(d.keys()) == ["enc", "dec"] and "enc" in d
    assert [n for n, _ in d.named_parameters()][0] == "enc.weight"
    seq = nn.Sequential(OrderedDict(a=nn.Linear(2, 3), b=nn.ReLU()))
    assert seq.a.in_features == 2 and seq(tinylm.randn(4, 2)).shape == (4, 3)
    assert len(seq[:1]) == 1
    with pytest.raises(IndexError, match="out of range"):
        layers[9]


def test_apply_and_manual_seed_make_models_reproducible():
    tinylm.manual_seed(7)
    a = TwoLayer()
    tinylm.manual_seed(7)
    b = TwoLayer()
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    seen = []
    a.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "TwoLayer"]


# ---------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------


def test_state_dict_round_trip_reproduces_outputs():
    tinylm.manual_seed(0)
    a, b = TwoLayer(), TwoLayer()
    a.scale.data = np.array([2.0, 3.0], dtype=np.float32)
    result = b.load_state_dict(a.state_dict())
    assert result == nn.IncompatibleKeys([], [])
    x = tinylm.randn(5, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    # a copy, not a shared array: training b leaves a alone
    b.fc1.weight.data[...] = 0
    assert np.abs(a.fc1.weight.detach().numpy()).sum() > 0


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    m = TwoLayer()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: v.numpy().copy() + 1 for k, v in m.state_dict().items()}
    del sd["fc1.bias"]
    sd["extra"] = np.zeros(1)
    sd["fc2.weight"] = np.zeros((3, 3), dtype=np.float32)
    sd["scale"] = np.zeros(2, dtype=np.int64)
    with pytest.raises(TinyLMError) as err:
        m.load_state_dict(sd)
    text = str(err.value)
    assert "4 problem(s)" in text
    for fragment in (
        "missing key 'fc1.bias'",
        "unexpected key 'extra'",
        "'fc2.weight': shape (3, 3) in the state dict, (2, 4) in the model",
        "'scale': dtype int64",
    ):
        assert fragment in text
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])  # all or nothing


def test_load_state_dict_non_strict_and_float_conversion():
    m = TwoLayer()
    sd = {k: v.numpy().astype(np.float64) * 0 for k, v in m.state_dict().items()}
    del sd["scale"]
    sd["unused"] = np.ones(1)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["scale"] and unexpected == ["unused"]
    assert m.fc1.weight.dtype == np.float32  # float64 values converted into the float32 model
    np.testing.assert_array_equal(m.fc1.weight.detach().numpy(), 0)


# ---------------------------------------------------------------------------------------
# Layers: init, behaviour, gradcheck with respect to inputs and parameters
# ---------------------------------------------------------------------------------------


def test_inits_follow_pytorch():
    tinylm.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.shape == (300, 400) and lin.weight.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # std of U(−b, b) is b/√3
    emb = nn.Embedding(1000, 64).weight.detach().numpy()
    assert abs(emb.mean()) < 0.01 and abs(emb.std() - 1) < 0.01
    ln = nn.LayerNorm(5)
    np.testing.assert_array_equal(ln.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(ln.bias.detach().numpy(), 0)
    assert nn.LayerNorm(5, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=tinylm.float64).weight.dtype == np.float64


@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_gradcheck_inputs_and_parameters(lead, n_in, n_out, bias, seed):
    tinylm.manual_seed(seed)
    lin = nn.Linear(n_in, n_out, bias=bias, dtype=tinylm.float64)
    fn, params = with_parameters(lin)
    x = tinylm.randn(*lead, n_in, dtype=tinylm.float64, requires_grad=True)
    gradcheck(fn, [x, *params], seed=seed)


@given(
    c=st.integers(2, 5),
    rows=st.integers(1, 4),
    affine=st.sampled_from(["full", "no-bias", "none"]),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_gradcheck_inputs_and_parameters(c, rows, affine, seed):
    tinylm.manual_seed(seed)
    ln = nn.LayerNorm(
        c, elementwise_affine=affine != "none", bias=affine == "full", dtype=tinylm.float64
    )
    with tinylm.no_grad():  # move weight and bias away from 1 and 0
        for p in ln.parameters():
            p.normal_(0.5, 1.0)
    fn, params = with_parameters(ln)
    x = tinylm.randn(rows, c, dtype=tinylm.float64, requires_grad=True)
    gradcheck(fn, [x, *params], seed=seed)


def test_layer_norm_over_two_axes_matches_the_formula():
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    ln = nn.LayerNorm((2, 4), dtype=tinylm.float64)
    mu = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(
        ln(tinylm.tensor(x)).detach().numpy(), (x - mu) / np.sqrt(var + 1e-5)
    )
    fn, params = with_parameters(ln)
    gradcheck(fn, [tinylm.tensor(x, requires_grad=True), *params])


@given(
    num=st.integers(1, 300), dim=st.integers(1, 3), n=st.integers(0, 12), seed=st.integers(0, 99)
)
def test_embedding_gradient_sums_repeated_tokens(num, dim, n, seed):
    """Both CPU strategies (one-hot product for ≤ 256 rows, sort + reduceat above) equal
    the obvious loop, including tokens that repeat."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num, (n,))
    emb = nn.Embedding(num, dim, dtype=tinylm.float64)
    g = rng.standard_normal((n, dim))
    emb(idx).backward(g)
    expected = np.zeros((num, dim))
    for i, row in zip(idx, g):
        expected[i] += row
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_embedding_gradcheck_and_padding_idx():
    emb = nn.Embedding(5, 3, padding_idx=1, dtype=tinylm.float64)
    np.testing.assert_array_equal(emb.weight.detach().numpy()[1], 0)
    idx = np.array([[0, 1, 1], [4, 0, 2]])
    out = emb(idx)
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(emb.weight.grad.numpy()[1], 0)  # padding never learns
    fn = lambda w: tinylm.nn.functional.embedding(idx, w)  # noqa: E731
    gradcheck(fn, [tinylm.randn(5, 3, dtype=tinylm.float64, requires_grad=True)])


def test_dropout_module_reproducible_and_unbiased():
    drop = nn.Dropout(0.25)
    x = tinylm.ones(200, 100)
    tinylm.manual_seed(1)
    a = drop(x).numpy()
    tinylm.manual_seed(1)
    b = drop(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.01 and abs(a.mean() - 1) < 0.02
    drop.eval()
    assert drop(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), 0)


def test_sinusoidal_encoding_formula_and_buffer():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10, dtype=tinylm.float64)
    table = pe.pe.numpy()
    pos, i = 7, 2  # feature pair (4, 5)
    angle = pos / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(table[pos, 4], math.sin(angle), rtol=1e-12)
    np.testing.assert_allclose(table[pos, 5], math.cos(angle), rtol=1e-12)
    assert list(pe.parameters()) == [] and "pe" not in pe.state_dict()
    x = tinylm.randn(2, 4, 6, dtype=tinylm.float64, requires_grad=True)
    np.testing.assert_allclose(pe(x).detach().numpy(), x.detach().numpy() + table[:4])
    gradcheck(pe, [x])
    assert nn.SinusoidalPositionalEncoding(5, 3).pe.shape == (3, 5)  # odd width works
    with pytest.raises(TinyLMError, match="exceeds max_len=10"):
        pe(tinylm.randn(1, 11, 6, dtype=tinylm.float64))


def test_learned_positional_embedding_gradcheck():
    tinylm.manual_seed(3)
    pos = nn.LearnedPositionalEmbedding(6, 3, dtype=tinylm.float64)
    fn, params = with_parameters(pos)
    x = tinylm.randn(2, 4, 3, dtype=tinylm.float64, requires_grad=True)
    gradcheck(fn, [x, *params])
    out = pos(x.detach())
    out.backward(np.ones(out.shape))
    grad = pos.weight.grad.numpy()
    np.testing.assert_array_equal(grad[:4], 2.0)  # summed over the batch of 2
    np.testing.assert_array_equal(grad[4:], 0.0)  # positions never used


def test_gelu_and_relu_modules():
    x = tinylm.tensor([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(
        nn.GELU()(x).numpy(), tinylm.nn.functional.gelu(x).numpy(), rtol=1e-6
    )
    tanh_form = tinylm.nn.functional.gelu(x, approximate="tanh").numpy()
    np.testing.assert_allclose(nn.GELU("tanh")(x).numpy(), tanh_form, rtol=1e-6)
    np.testing.assert_array_equal(nn.ReLU()(x).numpy(), [0.0, 0.5, 2.0])
    with pytest.raises(TinyLMError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")


def test_requires_grad_and_trainable_parameter_count():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert m.num_parameters() == m.num_parameters(trainable_only=True) == 16 + 10
    m[0].requires_grad_(False)
    assert m.num_parameters() == 26 and m.num_parameters(trainable_only=True) == 10
    assert not m[0].weight.requires_grad and m[1].weight.requires_grad
    m.requires_grad_()
    assert m.num_parameters(trainable_only=True) == 26
