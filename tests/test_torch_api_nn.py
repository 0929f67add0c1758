"""The activations, norms, losses, containers and recurrent layers that PyTorch code ports
with, checked against PyTorch itself: the same call in both libraries, the same values and
gradients (float64, one random upstream gradient per output, every parameter copied from
PyTorch's module), the same ``state_dict`` keys and reprs. Skipped without torch (a
test-only dependency). The finite-difference checks of the same Functions are in
``tests/nn/test_nn_functions_added.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import copy_weights  # noqa: E402 - after the skip

TF = torch.nn.functional

pytestmark = pytest.mark.torch

LIBS = pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])


def values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().detach().numpy())


def in_both(make: Any) -> tuple[Any, Any]:
    """``make(lib)`` run with tinylm, then with torch: (ours, theirs)."""
    return make(tinylm), make(torch)


def functional(lib: Any) -> Any:
    return F if lib is tinylm else TF


def run(lib: Any, fn: Any, arrays: list[np.ndarray], module: Any = None) -> list[np.ndarray]:
    """fn(lib, *tensors): outputs, then the gradients of the inputs and of ``module``'s
    parameters, after a backward with one random upstream gradient per output."""
    ts = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, *ts)
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    rng = np.random.default_rng(0)
    total = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
    total.backward()
    params = [] if module is None else [p for _, p in module.named_parameters()]
    return (
        [values(o) for o in outs] + [values(t.grad) for t in ts] + [values(p.grad) for p in params]
    )


def assert_same(ours: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def both(fn: Any, arrays: list[np.ndarray]) -> None:
    assert_same(run(tinylm, fn, arrays), run(torch, fn, arrays))


RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5)) * 3
X[0, 0, :2] = 0.0  # the kinks at 0: the one-sided slope each library picks
Y = RNG.standard_normal((3, 4, 5)) * 3
P = RNG.random((3, 4, 5))
P[0, 0, 0] = 0.0  # 0 log 0 = 0

ACTIVATIONS = {
    "silu": lambda f, x: f.silu(x),
    "tanh": lambda f, x: f.tanh(x),
    "sigmoid": lambda f, x: f.sigmoid(x),
    "leaky_relu": lambda f, x: f.leaky_relu(x),
    "leaky_relu slope": lambda f, x: f.leaky_relu(x, 0.2),
    "softplus": lambda f, x: f.softplus(x),
    "softplus beta threshold": lambda f, x: f.softplus(x, 2.0, 5.0),
    "softplus negative beta": lambda f, x: f.softplus(x, beta=-0.5),
    "softplus large": lambda f, x: f.softplus(x * 300),
    "elu": lambda f, x: f.elu(x),
    "elu alpha": lambda f, x: f.elu(x, 0.7),
    "elu large": lambda f, x: f.elu(x * -300),
    "normalize": lambda f, x: f.normalize(x),
    "normalize p=1 dim=0": lambda f, x: f.normalize(x, 1.0, 0),
    "normalize p=3 dim=-1 eps": lambda f, x: f.normalize(x, p=3, dim=-1, eps=1e-3),
    "rms_norm": lambda f, x: f.rms_norm(x, (5,)),
    "rms_norm two dims eps": lambda f, x: f.rms_norm(x, [4, 5], eps=1e-3),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_and_norms_match_torch(name: str) -> None:
    both(lambda lib, x: ACTIVATIONS[name](functional(lib), x), [X])


def test_normalize_of_a_zero_vector_matches_torch() -> None:
    both(lambda lib, x: functional(lib).normalize(x, dim=-1), [np.zeros((2, 3))])


def test_rms_norm_weight_and_default_eps_match_torch_in_float32() -> None:
    both(lambda lib, x, w: functional(lib).rms_norm(x, (4, 5), w), [X, Y[0]])
    x32 = (X * 1e-4).astype(np.float32)  # small enough for eps to matter
    ours, theirs = in_both(lambda lib: values(functional(lib).rms_norm(lib.tensor(x32), [5])))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize(
    "shapes, dim", [(((3, 4, 5), (3, 4, 5)), 1), (((3, 4, 5), (1, 4, 5)), -1), (((4, 5), (5,)), 1)]
)
def test_cosine_similarity_matches_torch(shapes: Any, dim: int) -> None:
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    both(lambda lib, a, b: functional(lib).cosine_similarity(a, b, dim), [a, b])
    both(lambda lib, a, b: functional(lib).cosine_similarity(a, b, dim=dim, eps=1e-3), [a, b])


LOSSES = {
    "l1_loss": lambda f, x, y, r: f.l1_loss(x, y, reduction=r),
    "smooth_l1_loss": lambda f, x, y, r: f.smooth_l1_loss(x, y, reduction=r),
    "smooth_l1_loss beta": lambda f, x, y, r: f.smooth_l1_loss(x, y, reduction=r, beta=2.5),
    "smooth_l1_loss beta 0": lambda f, x, y, r: f.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    "huber_loss": lambda f, x, y, r: f.huber_loss(x, y, reduction=r),
    "huber_loss delta": lambda f, x, y, r: f.huber_loss(x, y, r, 2.5),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_regression_losses_match_torch(name: str, reduction: str) -> None:
    y = Y.copy()
    y[1, 1, :3] = X[1, 1, :3]  # x = y: the kink of the L1 part
    both(lambda lib, x, y: LOSSES[name](functional(lib), x, y, reduction), [X, y])


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's: 'mean' is not 'batchmean'
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's log(0) building the target
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_matches_torch(reduction: str, log_target: bool) -> None:
    """Values and both gradients, including a zero target (0 log 0 = 0; its gradient is NaN
    in both libraries) and, with log_target, a target of −inf."""
    target = np.log(P) if log_target else P
    both(
        lambda lib, x, t: functional(lib).kl_div(x, t, reduction=reduction, log_target=log_target),
        [-np.abs(X), target],
    )


MODULES = {
    "Tanh": lambda nn: nn.Tanh(),
    "Sigmoid": lambda nn: nn.Sigmoid(),
    "Softmax": lambda nn: nn.Softmax(dim=1),
    "LogSoftmax": lambda nn: nn.LogSoftmax(-1),
    "SiLU": lambda nn: nn.SiLU(),
    "LeakyReLU": lambda nn: nn.LeakyReLU(0.3),
    "Softplus": lambda nn: nn.Softplus(2.0, 3.0),
    "ELU": lambda nn: nn.ELU(alpha=0.5),
    "Flatten": lambda nn: nn.Flatten(),
    "Flatten 0 1": lambda nn: nn.Flatten(0, 1),
    "Flatten -2": lambda nn: nn.Flatten(start_dim=-2),
    "Unflatten": lambda nn: nn.Unflatten(2, (5, 1)),
    "Unflatten -1": lambda nn: nn.Unflatten(1, [2, -1]),
    "RMSNorm": lambda nn: nn.RMSNorm(5),
    "RMSNorm no affine": lambda nn: nn.RMSNorm([4, 5], eps=1e-3, elementwise_affine=False),
    "Sequential": lambda nn: nn.Sequential(
        nn.Flatten(), nn.Unflatten(1, (4, 5)), nn.RMSNorm((5,), 1e-6), nn.SiLU()
    ),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_match_torch(name: str) -> None:
    """Values, gradients of the input and the parameters, state_dict keys and repr."""
    ours, theirs = in_both(lambda lib: MODULES[name](lib.nn))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    copy_weights(ours, theirs)
    assert_same(
        run(tinylm, lambda lib, x: ours(x), [X], ours),
        run(torch, lambda lib, x: theirs(x), [X], theirs),
    )


LOSS_MODULES = {
    "L1Loss": lambda nn: nn.L1Loss(),
    "L1Loss sum": lambda nn: nn.L1Loss(reduction="sum"),
    "SmoothL1Loss": lambda nn: nn.SmoothL1Loss(beta=0.5),
    "SmoothL1Loss none": lambda nn: nn.SmoothL1Loss(None, None, "none", 2.0),
    "HuberLoss": lambda nn: nn.HuberLoss(),
    "HuberLoss sum": lambda nn: nn.HuberLoss("sum", 0.7),
}


@pytest.mark.parametrize("name", list(LOSS_MODULES))
def test_loss_modules_match_torch(name: str) -> None:
    ours, theirs = in_both(lambda lib: LOSS_MODULES[name](lib.nn))
    assert repr(ours) == repr(theirs)
    assert_same(
        run(tinylm, lambda lib, x, y: ours(x, y), [X, Y]),
        run(torch, lambda lib, x, y: theirs(x, y), [X, Y]),
    )


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_kl_div_loss_matches_torch(reduction: str, log_target: bool) -> None:
    ours, theirs = in_both(lambda lib: lib.nn.KLDivLoss(reduction=reduction, log_target=log_target))
    p = np.clip(P, 0.01, 1)
    target = np.log(p) if log_target else p
    assert_same(
        run(tinylm, lambda lib, x, t: ours(x, t), [-np.abs(X), target]),
        run(torch, lambda lib, x, t: theirs(x, t), [-np.abs(X), target]),
    )


def _containers(lib: Any) -> dict[str, Any]:
    nn = lib.nn
    m = nn.Module()
    m.pl = nn.ParameterList([lib.ones(2), nn.Parameter(lib.zeros(3))])
    m.pl.append(lib.ones(1))
    m.pl += [lib.zeros(1)]
    m.pl[0] = lib.full((2,), 2.0)
    m.pd = nn.ParameterDict({"b": lib.ones(1), "a": lib.zeros(2)})  # a plain dict: sorted
    m.pd["c"] = lib.ones(3)
    m.pd.update(OrderedDict([("z", lib.ones(1)), ("y", lib.ones(1))]))  # kept in order
    m.pd.update([("k", lib.ones(1))])
    del m.pd["a"]
    popped = m.pd.pop("c")
    return {
        "state_dict": list(m.state_dict()),
        "parameters": [n for n, _ in m.named_parameters()],
        "lengths": (len(m.pl), len(m.pd), len(m.pl[1:])),
        "keys": list(m.pd.keys()),
        "types": [type(p).__name__ for p in [*m.pl, *m.pd.values(), popped]],
        "requires_grad": [p.requires_grad for p in m.parameters()],
        "contains": ("c" in m.pd, "k" in m.pd, m.pd.get("c", 5)),
        "values": [values(p).tolist() for p in m.pl],
    }


def test_parameter_list_and_dict_match_torch() -> None:
    """Parameters registered under PyTorch's keys (a plain dict's in sorted order), Tensors
    made Parameters, and the list and dict methods."""
    ours, theirs = in_both(_containers)
    assert ours == theirs


def test_parameter_list_repr_lists_its_parameters_as_torch() -> None:
    """One line per parameter, its dtype and size (PyTorch writes ``torch.float32``)."""

    def lines(lib: Any) -> list[str]:
        pl = lib.nn.ParameterList([lib.ones(2, 3), lib.nn.Parameter(lib.zeros(3))])
        return [line.strip().replace("torch.", "") for line in repr(pl).splitlines()]

    ours, theirs = in_both(lines)
    assert ours == theirs
    assert repr(tinylm.nn.ParameterList()) == repr(torch.nn.ParameterList())


def test_parameter_list_parameters_train() -> None:
    """An optimizer sees the parameters of a ParameterList and ParameterDict and updates them."""
    m = tinylm.nn.Module()
    m.pl = tinylm.nn.ParameterList([tinylm.ones(2)])
    m.pd = tinylm.nn.ParameterDict({"w": tinylm.ones(2)})
    opt = tinylm.optim.SGD(m.parameters(), lr=0.5)
    (m.pl[0] * m.pd["w"]).sum().backward()
    opt.step()
    assert m.pl[0].tolist() == [0.5, 0.5] and m.pd["w"].tolist() == [0.5, 0.5]


RECURRENT = {
    "RNN": (lambda nn: nn.RNN(3, 4), (5, 2, 3), None),
    "RNN relu two layers hx": (lambda nn: nn.RNN(3, 4, 2, "relu"), (5, 2, 3), (2, 2, 4)),
    "RNN batch_first no bias": (
        lambda nn: nn.RNN(3, 4, num_layers=3, batch_first=True, bias=False),
        (2, 5, 3),
        (3, 2, 4),
    ),
    "RNN unbatched": (lambda nn: nn.RNN(3, 4, 2), (5, 3), (2, 4)),
    "RNN dropout in eval": (lambda nn: nn.RNN(3, 4, 2, dropout=0.5).eval(), (5, 2, 3), None),
    "GRU": (lambda nn: nn.GRU(3, 4), (5, 2, 3), None),
    "GRU two layers no bias hx": (lambda nn: nn.GRU(3, 4, 2, bias=False), (5, 2, 3), (2, 2, 4)),
    "GRU batch_first": (lambda nn: nn.GRU(3, 4, 2, batch_first=True), (2, 5, 3), (2, 2, 4)),
    "GRU unbatched batch_first": (lambda nn: nn.GRU(3, 4, batch_first=True), (5, 3), (1, 4)),
    "RNNCell": (lambda nn: nn.RNNCell(3, 4), (2, 3), (2, 4)),
    "RNNCell relu no hx": (lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"), (2, 3), None),
    "RNNCell unbatched no bias": (lambda nn: nn.RNNCell(3, 4, bias=False), (3,), (4,)),
    "GRUCell": (lambda nn: nn.GRUCell(3, 4), (2, 3), (2, 4)),
    "GRUCell unbatched no bias": (lambda nn: nn.GRUCell(3, 4, False), (3,), None),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_layers_match_torch(name: str) -> None:
    """PyTorch's parameter names (weight_ih_l0 …), shapes and reprs; with PyTorch's weights
    copied in, the outputs, h_n and every gradient (input, initial state, parameters)."""
    make, x_shape, h_shape = RECURRENT[name]
    ours, theirs = in_both(lambda lib: make(lib.nn))
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    copy_weights(ours, theirs)
    arrays = [RNG.standard_normal(x_shape)] + (
        [] if h_shape is None else [RNG.standard_normal(h_shape)]
    )
    assert_same(
        run(tinylm, lambda lib, *ts: ours(*ts), arrays, ours),
        run(torch, lambda lib, *ts: theirs(*ts), arrays, theirs),
    )


def test_recurrent_init_is_torchs_uniform() -> None:
    """Every weight and bias ~ U(−1/√H, 1/√H), as PyTorch initialises them."""
    tinylm.manual_seed(0)
    for m in (tinylm.nn.RNN(8, 16, 2), tinylm.nn.GRU(8, 16), tinylm.nn.GRUCell(8, 16)):
        for name, p in m.named_parameters():
            a = values(p)
            assert 0.15 < np.abs(a).max() <= 0.25, name
            assert abs(a.mean()) < 4 * 0.25 / np.sqrt(3 * a.size), name  # four sigmas


@LIBS
def test_rnn_refuses_a_bad_nonlinearity_when_built(lib: Any) -> None:
    with pytest.raises((ValueError, TinyLMError), match="nonlinearity"):
        lib.nn.RNN(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize("freeze, padding_idx", [(True, None), (False, None), (False, 1)])
def test_embedding_from_pretrained_as_torch(freeze: bool, padding_idx: Any) -> None:
    """Transfer learning's first step: a pre-trained table in an Embedding, frozen or not,
    shared with the tensor it came from, padding row without gradient."""
    table = np.random.default_rng(5).standard_normal((4, 3))
    idx = [[0, 1, 3], [1, 1, 2]]
    g = np.random.default_rng(6).standard_normal((2, 3, 3))
    results = []
    for lib in (tinylm, torch):
        weights = lib.tensor(table)
        emb = lib.nn.Embedding.from_pretrained(weights, freeze=freeze, padding_idx=padding_idx)
        out = emb(lib.tensor(idx))
        assert emb.weight.requires_grad == (not freeze)
        if not freeze:
            out.backward(lib.tensor(g))
        grad = None if freeze else emb.weight.grad.detach().numpy().copy()
        with lib.no_grad():
            weights[0, 0] = 42.0  # shared, not copied
        results.append((out.detach().numpy(), grad, float(emb.weight.detach()[0, 0])))
    (o1, g1, w1), (o2, g2, w2) = results
    np.testing.assert_allclose(o1, o2, rtol=1e-14)
    assert w1 == w2 == 42.0
    if g1 is not None:
        np.testing.assert_allclose(g1, g2, rtol=1e-14)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm1d_trains_and_evaluates_as_torch(shape: tuple, momentum: Any) -> None:
    """Three training batches (outputs, input and weight gradients with a random upstream
    gradient, the running statistics), then eval mode on a new input, against torch."""
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(shape) for _ in range(4)]
    gs = [rng.standard_normal(shape) for _ in range(3)]
    results = []
    for lib in (tinylm, torch):
        m = lib.nn.BatchNorm1d(3, momentum=momentum, dtype=lib.float64)
        assert sorted(m.state_dict()) == [
            "bias", "num_batches_tracked", "running_mean", "running_var", "weight",
        ]  # fmt: skip
        with lib.no_grad():
            m.weight.copy_(lib.tensor([1.5, -0.5, 2.0], dtype=lib.float64))
            m.bias.copy_(lib.tensor([0.1, 0.2, 0.3], dtype=lib.float64))
        out = []
        for x_np, g_np in zip(xs, gs):
            x = lib.tensor(x_np, requires_grad=True)
            y = m(x)
            y.backward(lib.tensor(g_np))
            out += [y.detach().numpy(), x.grad.numpy()]
        out += [m.weight.grad.numpy(), m.bias.grad.numpy()]
        m.eval()
        out += [m(lib.tensor(xs[3])).detach().numpy()]
        out += [m.running_mean.numpy(), m.running_var.numpy(), m.num_batches_tracked.numpy()]
        results.append(out)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_batchnorm1d_refuses_one_value_per_channel_in_training() -> None:
    with pytest.raises(TinyLMError) as info:
        tinylm.nn.BatchNorm1d(3)(tinylm.ones(1, 3))
    assert "more than 1 value" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])
def test_forward_hooks_see_and_replace_activations_as_torch(lib: Any) -> None:
    """``register_forward_hook``: the way to look at a layer's activations (and plot them)
    without changing the model; pre-hooks see the inputs first; handles remove them."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    seen: list[Any] = []
    h1 = model[1].register_forward_hook(lambda m, args, out: seen.append(out.detach().numpy()))
    h2 = model[0].register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h3 = model[2].register_forward_hook(lambda m, args, out: out + 1)
    x = lib.ones(5, 3)
    y = model(x)
    assert len(seen) == 1 and seen[0].shape == (5, 4)
    # the pre-hook zeroed the input: ReLU(b0) fed the last layer, whose output got + 1
    w2, b2 = model[2].weight.detach().numpy(), model[2].bias.detach().numpy()
    expected = np.maximum(model[0].bias.detach().numpy(), 0) @ w2.T + b2 + 1
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(expected, (5, 2)), rtol=1e-6)
    for h in (h1, h2, h3):
        h.remove()
    model(x)
    assert len(seen) == 1
