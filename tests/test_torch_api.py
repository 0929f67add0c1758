"""The PyTorch API that tinylm follows, checked against PyTorch itself: the same call in both,
the same values and gradients (float64, with a random upstream gradient), the same errors
where PyTorch refuses. Skipped without torch (a test-only dependency).

The ops' own batteries (gradcheck over hypothesis shapes, layouts …) are in
``tests/test_ops_indexing.py``; this file pins down that the *meaning* is PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinylm
import tinylm.nn.functional as F
from tinylm import TinyLMError
from tinylm.testing import strategies as st_tl

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.torch


def both(
    fn: Callable[..., Any], arrays: list[np.ndarray], seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """fn(lib, *tensors) in tinylm and in torch: outputs and the inputs' gradients, each as
    pairs (tinylm, torch), after a backward with one random upstream gradient per output."""
    results = []
    for lib in (tinylm, torch):
        ts = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        outs = fn(lib, *ts)
        outs = list(outs) if isinstance(outs, tuple | list) else [outs]
        rng = np.random.default_rng(seed)
        total = None
        for o in outs:
            if o.dtype in (tinylm.float64, torch.float64):
                term = (o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
        grads = [t.grad for t in ts if t.grad is not None]
        results.append(
            [np.asarray(o.detach().numpy()) for o in outs] + [np.asarray(g.numpy()) for g in grads]
        )
    ours, theirs = results
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    return ours, theirs


def distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values without ties (a permutation of a grid), so that orders are unambiguous."""
    n = math.prod(shape)
    return np.random.default_rng(seed).permutation(n).reshape(shape) / 4.0 - n / 8


shapes_2_3 = st_tl.shapes(min_dims=2, max_dims=3, max_side=5)


@settings(max_examples=10, deadline=None)
@given(shape=shapes_2_3, seed=st.integers(0, 1000), data=st.data())
def test_sorting_and_extremes_match_torch(shape: Any, seed: int, data: Any) -> None:
    x = distinct(shape, seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    k = data.draw(st.integers(1, shape[dim]), label="k")
    both(lambda lib, t: t.sort(dim, descending=True), [x])
    both(lambda lib, t: lib.sort(t, dim), [x])
    both(lambda lib, t: lib.argsort(t, dim, descending=True), [x])
    both(lambda lib, t: lib.topk(t, k, dim), [x])
    both(lambda lib, t: t.topk(k, dim, largest=False), [x])
    both(lambda lib, t: t.max(dim), [x])
    both(lambda lib, t: lib.min(t, dim, keepdim=True), [x])
    both(lambda lib, t: (t.max(), t.amax(dim), lib.amin(t, (0, 1))), [x])
    both(lambda lib, t: (lib.argmax(t), lib.argmin(t, dim, keepdim=True)), [x])
    both(lambda lib, t: lib.max(t, t.flip(0)), [x])


def test_max_along_a_dim_gives_the_first_index_and_its_gradient_at_a_tie() -> None:
    """At a tie both pick the first maximal element, and only it gets the gradient; the
    reduction max() (and amax) shares the gradient between the tied elements instead."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    both(lambda lib, t: t.max(1), [x])
    both(lambda lib, t: t.max(), [x])
    both(lambda lib, t: t.amax(1), [x])


@settings(max_examples=10, deadline=None)
@given(shape=shapes_2_3, seed=st.integers(0, 1000), data=st.data())
def test_gather_index_select_scatter_add_cumsum_match_torch(shape, seed, data) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    n = shape[dim]
    index_shape = list(shape)
    index_shape[dim] = data.draw(st.integers(1, 6), label="picks")
    index = rng.integers(0, n, index_shape)
    src = rng.standard_normal(index_shape)
    picks = rng.integers(0, n, 7)
    both(lambda lib, t, i: lib.gather(t, dim, i), [x, index])
    both(lambda lib, t, i: t.index_select(dim, i), [x, picks])
    both(lambda lib, t, i, s: t.scatter_add(dim, i, s), [x, index, src])
    both(lambda lib, t: (lib.cumsum(t, dim), t.cumsum(0)), [x])


def test_pad_matches_torch_in_every_mode() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    both(lambda lib, t: (F if lib is tinylm else TF).pad(t, (1, 2, -1, 3), value=1.5), [x])
    for mode, pads in [
        ("reflect", (2, 3, 1, 2)),
        ("replicate", (3, 1, 0, 4)),
        ("circular", (4, 2, 1, 3)),
    ]:
        both(lambda lib, t, m=mode, p=pads: (F if lib is tinylm else TF).pad(t, p, mode=m), [x])


def test_one_hot_size_numel_and_dtype_names_match_torch() -> None:
    idx = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(
        F.one_hot(tinylm.tensor(idx), 5).numpy(), TF.one_hot(torch.tensor(idx), 5).numpy()
    )
    ours, theirs = tinylm.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert tuple(theirs.size()) == ours.size() and ours.size(-2) == theirs.size(-2) == 3
    assert ours.numel() == theirs.numel() and ours.dim() == theirs.dim()
    for name in ("long", "int", "short", "float", "double", "half", "bool", "float32", "int64"):
        assert str(getattr(torch, name)) == f"torch.{getattr(tinylm, name)}", name
    assert tinylm.tensor([1, 2], dtype=tinylm.long).long().dtype == tinylm.int64
    assert tinylm.tensor([1.5]).double().dtype == tinylm.double
    assert tinylm.tensor([1.5]).half().dtype == tinylm.half


def test_in_place_forms_match_torch() -> None:
    rng = np.random.default_rng(0)
    x, y, z = (rng.standard_normal((3, 4)) for _ in range(3))
    z = np.abs(z) + 0.5
    mask = x > 0
    for lib in (tinylm, torch):
        t = lib.tensor(x)
        a, b, c = lib.tensor(x), lib.tensor(y), lib.tensor(z)
        t.masked_fill_(lib.tensor(mask), -1.0).clamp_(-0.5, 0.8).lerp_(b, 0.25)
        t.addcmul_(b, c, value=0.5).addcdiv_(b, c, value=-2.0)
        t.scatter_add_(1, lib.tensor([[0, 0], [3, 1], [2, 2]]), a[:, :2])
        t.index_fill_(0, lib.tensor([2]), 7.0)
        result = t.add(a, alpha=3.0).sub(b, alpha=0.5)
        if lib is tinylm:
            ours = result.numpy()
        else:
            np.testing.assert_allclose(ours, result.numpy(), rtol=1e-12, atol=1e-12)


def test_in_place_forms_refuse_a_leaf_that_requires_grad_while_recording() -> None:
    w = tinylm.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: in-place changes"):
        w.masked_fill_(w > 0, 0.0)
    with tinylm.no_grad():
        w.clamp_(max=0.0)  # allowed under no_grad, as PyTorch
    assert float(w.max()) <= 0.0


def test_multinomial_draws_like_torch() -> None:
    """Other random numbers than PyTorch's, the same distribution and the same rules."""
    p = np.array([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0]])  # weights, not normalised
    tinylm.manual_seed(0)
    draws = tinylm.multinomial(tinylm.tensor(p), 20000, replacement=True)
    assert draws.dtype == tinylm.long and draws.shape == (2, 20000)
    for row, weights in zip(draws.numpy(), p):
        freq = np.bincount(row, minlength=4) / row.size
        np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.015)
    without = tinylm.multinomial(tinylm.tensor(p), 3).numpy()
    # without replacement: every non-zero category once, in some order
    assert [set(r) for r in without] == [{0, 2, 3}, {0, 1, 3}]
    for bad, n, message in [
        ([[0.5, -0.1]], 1, "non-negative"),
        ([[0.0, 0.0]], 1, "sums to 0"),
        ([[0.5, 0.0, 0.5]], 4, "without replacement from 2 non-zero"),
    ]:
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(bad), n)
        with pytest.raises(TinyLMError, match=message):
            tinylm.multinomial(tinylm.tensor(bad), n)
    # PyTorch documents that num_samples without replacement may not exceed the non-zero
    # weights, but returns a zero-weight category instead of saying so; tinylm says so.
    with pytest.raises(TinyLMError, match="cannot draw 3 sample"):
        tinylm.multinomial(tinylm.tensor([0.5, 0.0, 0.5]), 3)


def test_nn_init_follows_torch_formulas() -> None:
    """Gains equal torch's; each initialiser fills in place, keeps requires_grad, records no
    graph, and draws from the distribution torch's formula gives (moments of 200k draws)."""
    for name, param in [
        ("linear", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("sigmoid", None),
    ]:
        assert tinylm.nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )
    w = tinylm.nn.Parameter(tinylm.zeros(400, 500))
    fan_in, fan_out = 500, 400
    cases = [
        ("uniform_", dict(a=-2.0, b=3.0), 0.5, math.sqrt(25 / 12)),
        ("normal_", dict(mean=1.0, std=0.02), 1.0, 0.02),
        ("xavier_uniform_", dict(gain=2.0), 0.0, 2.0 * math.sqrt(2.0 / (fan_in + fan_out))),
        ("xavier_normal_", {}, 0.0, math.sqrt(2.0 / (fan_in + fan_out))),
        ("kaiming_uniform_", dict(a=math.sqrt(5)), 0.0, math.sqrt(1 / 3) / math.sqrt(fan_in)),
        (
            "kaiming_normal_",
            dict(mode="fan_out", nonlinearity="relu"),
            0.0,
            math.sqrt(2.0 / fan_out),
        ),
    ]
    for name, kwargs, mean, std in cases:
        out = getattr(tinylm.nn.init, name)(w, **kwargs)
        assert out is w and w.requires_grad and w.grad_fn is None, name
        values = w.detach().numpy()
        assert abs(values.mean() - mean) < 5 * std / math.sqrt(values.size) + 1e-12, name
        assert values.std() == pytest.approx(std, rel=0.01), name
    tinylm.nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=1.0)
    assert w.detach().numpy().min() >= -0.5 and w.detach().numpy().max() <= 1.0
    theirs = torch.nn.init.trunc_normal_(torch.zeros(400, 500), std=1.0, a=-0.5, b=1.0)
    assert w.detach().numpy().mean() == pytest.approx(theirs.mean().item(), abs=0.01)
    assert w.detach().numpy().std() == pytest.approx(theirs.std().item(), abs=0.01)
    for fill, value in [("zeros_", 0.0), ("ones_", 1.0)]:
        getattr(tinylm.nn.init, fill)(w)
        assert (w.detach().numpy() == value).all()
    tinylm.nn.init.constant_(w, 0.5)
    assert (w.detach().numpy() == np.float32(0.5)).all() and w.dtype == tinylm.float32
    with pytest.raises(TinyLMError, match="fan in and fan out need a tensor with at least 2 dims"):
        tinylm.nn.init.xavier_uniform_(tinylm.zeros(3))


def test_nn_init_is_reproducible_from_the_seed() -> None:
    a, b = tinylm.zeros(3, 4), tinylm.zeros(3, 4)
    tinylm.manual_seed(5)
    tinylm.nn.init.kaiming_uniform_(a)
    tinylm.manual_seed(5)
    tinylm.nn.init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    gen = tinylm.Generator().manual_seed(5)
    tinylm.nn.init.normal_(b, generator=gen)
    assert not np.array_equal(a.numpy(), b.numpy())


def test_nn_utils_clipping_matches_torch() -> None:
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2)]
    grads = [rng.standard_normal(s) * 3 for s in shapes]
    for norm_type in (2.0, 1.0, math.inf):
        ours = [tinylm.nn.Parameter(tinylm.zeros(*s, dtype=tinylm.float64)) for s in shapes]
        theirs = [torch.nn.Parameter(torch.zeros(*s, dtype=torch.float64)) for s in shapes]
        for o, t, g in zip(ours, theirs, grads):
            o.grad, t.grad = tinylm.tensor(g), torch.tensor(g)
        total = tinylm.nn.utils.clip_grad_norm_(ours, 1.5, norm_type=norm_type)
        total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type=norm_type)
        assert (
            isinstance(total, tinylm.Tensor) and total.shape == () and total.dtype == tinylm.float64
        )
        assert total.item() == pytest.approx(total_t.item(), rel=1e-12)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    tinylm.nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


def test_register_buffer_persistent_false_stays_out_of_the_state_dict() -> None:
    for lib in (tinylm, torch):
        m = lib.nn.Linear(2, 2)
        m.register_buffer("mask", lib.ones(2, 2), persistent=False)
        m.register_buffer("count", lib.zeros(1))
        assert sorted(m.state_dict()) == ["bias", "count", "weight"]
        assert sorted(name for name, _ in m.named_buffers()) == ["count", "mask"]


@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2), (2, 5, 3, 2)], ids=str)
def test_cross_entropy_and_nll_take_pytorch_layouts(shape: tuple[int, ...]) -> None:
    """Class scores (C,), (N, C) or (N, C, d1, …), class axis second, as in PyTorch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, 5, target_shape)
    if target.ndim:
        target.flat[0] = -1
    class_dim = 1 if len(shape) > 1 else 0
    for reduction in ("mean", "sum", "none"):
        for smoothing in (0.0, 0.2):
            both(
                lambda lib, t, y, r=reduction, s=smoothing: (
                    F if lib is tinylm else TF
                ).cross_entropy(t, y, ignore_index=-1, reduction=r, label_smoothing=s),
                [x, target],
            )
        both(
            lambda lib, t, y, r=reduction: (F if lib is tinylm else TF).nll_loss(
                t.log_softmax(class_dim), y, ignore_index=-1, reduction=r
            ),
            [x, target],
        )


def test_t_transposes_matrices_only_as_torch() -> None:
    x = np.arange(6.0).reshape(2, 3)
    both(lambda lib, t: (t.t(), t[0].t()), [x])
    with pytest.raises(RuntimeError):
        torch.zeros(2, 2, 2).t()
    with pytest.raises(TinyLMError, match="t: expects a tensor of at most 2 dims"):
        tinylm.zeros(2, 2, 2).t()


CREATION_CALLS = [  # (name, positional arguments, keyword arguments): accepted by both
    ("tensor", ([[1.0, 2.0]],), {"dtype": "float64", "requires_grad": True}),
    ("full", ((2, 3), 1.5), {"dtype": "float64"}),
    ("full", (), {"size": (2,), "fill_value": 7}),
    ("arange", (1, 7, 2), {"dtype": "float64"}),
    ("linspace", (0.0, 1.0, 5), {"dtype": "float64"}),
    ("eye", (3, 4), {"dtype": "float64"}),
    ("zeros_like", (), {"input": "x", "dtype": "float64"}),
    ("ones_like", ("x",), {"dtype": "float64", "requires_grad": True}),
    ("full_like", ("x", 2.5), {"dtype": "float64"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CREATION_CALLS)
def test_creation_functions_take_torchs_arguments(name: str, args: tuple, kwargs: dict) -> None:
    """The same call, with PyTorch's argument names, gives the same values in both."""
    results = []
    for lib in (tinylm, torch):
        x = lib.tensor([[1.0, 2.0, 3.0]], dtype=lib.float32)

        def fill(v: Any, lib: Any = lib, x: Any = x) -> Any:
            return x if v == "x" else (getattr(lib, v) if isinstance(v, str) else v)

        t = getattr(lib, name)(*map(fill, args), **{k: fill(v) for k, v in kwargs.items()})
        results.append((np.asarray(t.detach().numpy()), t.requires_grad))
    (ours, our_rg), (theirs, their_rg) = results
    assert ours.dtype == theirs.dtype and our_rg == their_rg
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("tensor", ([1.0], True)),  # requires_grad meant, given as the dtype
        ("tensor", ([1.0], "float64")),
        ("full", ((2,), 1.0, "float64")),
        ("arange", (0, 4, 1, "float64")),
        ("linspace", (0.0, 1.0, 3, "float64")),
        ("eye", (2, 2, "float64")),
        ("zeros_like", ("x", "float64")),
        ("full_like", ("x", 1.0, "float64")),
    ],
)
def test_creation_functions_refuse_a_positional_dtype_as_torch_does(name: str, args: tuple) -> None:
    """dtype, device and requires_grad are keyword-only in PyTorch: a positional one is a
    TypeError in both, in one line, not a NumPy error from deep inside."""
    for lib in (tinylm, torch):
        x = lib.tensor([1.0])
        args_ = [x if a == "x" else (getattr(lib, a) if a == "float64" else a) for a in args]
        with pytest.raises(TypeError) as info:
            getattr(lib, name)(*args_)
        if lib is tinylm:  # PyTorch's own message lists its overloads over several lines
            assert "positional argument" in str(info.value) and "\n" not in str(info.value)


def _loss_inputs(lib: Any) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    probs = rng.uniform(0.05, 0.95, (4, 3))
    return {
        "logits": lib.tensor(rng.standard_normal((4, 3)), requires_grad=True),
        "classes": lib.tensor(np.array([0, 2, 1, 2])),
        "probs": lib.tensor(probs, requires_grad=True),
        "bits": lib.tensor((rng.random((4, 3)) < 0.5).astype(np.float64)),
        "w": lib.tensor(rng.uniform(0.5, 2.0, (4, 3))),
        "cw": lib.tensor([1.0, 2.0, 0.5], dtype=lib.float64),
    }


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("cross_entropy", ("logits", "classes"), {"ignore_index": 2, "reduction": "sum"}),
        ("cross_entropy", ("logits", "classes", None, None, 1), {}),  # ignore_index is 5th
        ("nll_loss", ("logits", "classes", None, None, 0, None, "none"), {}),
        ("cross_entropy", ("logits", "classes", "cw", None, 2), {}),  # per-class weight 3rd
        ("nll_loss", ("logits", "classes", "cw", None, 0, None, "sum"), {}),
        ("mse_loss", ("probs", "bits", None, None, "sum"), {}),  # reduction is 5th
        ("binary_cross_entropy", ("probs", "bits", "w", None, None, "none"), {}),
        ("binary_cross_entropy_with_logits", ("logits", "bits", "w", None, None, "sum"), {}),
        ("softmax", ("logits", 0), {"dtype": "float32"}),
        ("log_softmax", ("logits",), {"dim": 1}),
    ],
)
def test_losses_and_softmax_take_torchs_positional_arguments(
    name: str, args: tuple, kwargs: dict
) -> None:
    """The same positional call means the same in both: reduction and ignore_index sit
    behind PyTorch's weight, size_average and reduce, whose places tinylm keeps."""
    results = []
    for lib, F_ in ((tinylm, F), (torch, TF)):
        inputs = _loss_inputs(lib)

        def fill(v: Any, lib: Any = lib, inputs: dict = inputs) -> Any:
            if v == "float32":
                return lib.float32
            return inputs.get(v, v) if isinstance(v, str) else v

        out = getattr(F_, name)(*map(fill, args), **{k: fill(v) for k, v in kwargs.items()})
        results.append(np.asarray(out.detach().numpy()))
    ours, theirs = results
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "names"),
    [
        ("cross_entropy", ("logits", "classes"), {"size_average": False}, "reduction="),
        ("mse_loss", ("probs", "bits"), {"reduce": False}, "reduction="),
        ("mse_loss", ("probs", "bits"), {"weight": "w"}, "weight is not supported"),
        ("binary_cross_entropy", ("probs", "bits", None, True), {}, "size_average"),
        ("softmax", ("logits",), {}, "pass dim"),
        ("log_softmax", ("logits",), {}, "pass dim"),
    ],
)
def test_what_tinylm_leaves_out_of_torchs_signatures_is_refused(
    name: str, args: tuple, kwargs: dict, names: str
) -> None:
    """The deprecated size_average/reduce and softmax's implicit dim exist
    in PyTorch's signatures but not in tinylm: one clear line, never a silent other meaning
    (PyTorch's implicit softmax dim is 0 for a 1-D or 3-D input, not the last axis)."""
    inputs = _loss_inputs(tinylm)
    fill = lambda v: inputs.get(v, v) if isinstance(v, str) else v  # noqa: E731
    with pytest.raises(TinyLMError, match=names) as info:
        getattr(F, name)(*map(fill, args), **{k: fill(v) for k, v in kwargs.items()})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("Linear", (3, 2, True, "cpu", "float64")),  # device is 4th, dtype 5th, as in PyTorch
        ("LayerNorm", (4, 1e-3, True, True, "cpu", "float64")),
    ],
)
def test_layers_take_device_then_dtype_as_torch(name: str, args: tuple) -> None:
    for lib in (tinylm, torch):
        filled = [getattr(lib, a) if a == "float64" else a for a in args]
        layer = getattr(lib.nn, name)(*filled)
        assert layer.weight.dtype == lib.float64 and str(layer.weight.device) == "cpu"


def test_embedding_refuses_torchs_max_norm_in_one_line() -> None:
    """PyTorch's 4th argument is max_norm, which tinylm does not have: a TypeError, not a
    max_norm taken as a dtype."""
    torch.nn.Embedding(10, 4, None, 2.0)
    with pytest.raises(TypeError, match="positional argument"):
        tinylm.nn.Embedding(10, 4, None, 2.0)


@pytest.mark.parametrize(
    ("name", "kwargs", "x", "y"),
    [
        ("CrossEntropyLoss", {}, "logits", "classes"),
        ("CrossEntropyLoss", {"ignore_index": 1, "label_smoothing": 0.2}, "logits", "classes"),
        ("NLLLoss", {"reduction": "sum"}, "logits", "classes"),
        ("CrossEntropyLoss", {"weight": "cw", "label_smoothing": 0.1}, "logits", "classes"),
        ("NLLLoss", {"weight": "cw", "ignore_index": 0}, "logits", "classes"),
        ("MSELoss", {"reduction": "none"}, "probs", "bits"),
        ("BCELoss", {"weight": "w"}, "probs", "bits"),
        ("BCEWithLogitsLoss", {"pos_weight": "pw", "reduction": "sum"}, "logits", "bits"),
    ],
)
def test_loss_modules_match_torch(name: str, kwargs: dict, x: str, y: str) -> None:
    """nn.<Loss>(**options)(input, target): value, the input's gradient, the state_dict's
    keys (the element weights are buffers) equal PyTorch's."""
    results = []
    for lib in (tinylm, torch):
        inputs = _loss_inputs(lib)
        inputs["pw"] = lib.tensor([0.5, 2.0, 1.0])
        loss_fn = getattr(lib.nn, name)(**{k: inputs.get(v, v) for k, v in kwargs.items()})
        out = loss_fn(inputs[x], inputs[y])
        out.sum().backward()
        results.append((out.detach().numpy(), inputs[x].grad.numpy(), sorted(loss_fn.state_dict())))
    (ours, our_grad, our_keys), (theirs, their_grad, their_keys) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12, atol=1e-15)
    assert our_keys == their_keys


@pytest.mark.parametrize(
    ("name", "args", "names"),
    [
        ("MSELoss", (True,), "size_average"),
        ("BCELoss", (None, None, False), "reduce"),
        ("BCEWithLogitsLoss", (None, None, None, "average"), "reduction must be one of"),
    ],
)
@pytest.mark.filterwarnings("ignore:size_average and reduce:UserWarning")  # PyTorch's own
def test_loss_modules_refuse_what_tinylm_lacks_when_made(
    name: str, args: tuple, names: str
) -> None:
    """PyTorch accepts these; tinylm says in one line, at construction, what it lacks."""
    getattr(torch.nn, name)(*[torch.ones(3) if a == "cw" else a for a in args[:3]])
    with pytest.raises(TinyLMError, match=names) as info:
        getattr(tinylm.nn, name)(*[tinylm.ones(3) if a == "cw" else a for a in args])
    assert "\n" not in str(info.value)


# ---- type promotion: the dtype (and values) of ops on mixed dtypes, as PyTorch's ----------

_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]


def _operand(lib: Any, kind: str) -> Any:
    """A test operand: ``"t:int8"`` a 1-D tensor, ``"0:int8"`` a 0-d tensor, ``"py:1.5"`` a
    Python number. The values keep every op defined (no 0 to divide by, small powers)."""
    form, name = kind.split(":")
    if form == "py":
        return {"True": True, "3": 3, "200": 200, "-1": -1, "1.5": 1.5}[name]
    dtype = getattr(lib, name)
    values = [True, True] if name == "bool" else [3, 2]
    return lib.tensor(values if form == "t" else values[0], dtype=dtype)


_OPERANDS = (
    [f"t:{d}" for d in _DTYPES] + [f"0:{d}" for d in _DTYPES] + ["py:True", "py:3", "py:1.5"]
)
_PAIRS = [
    (a, b)
    for a in _OPERANDS
    for b in _OPERANDS
    if not (a[0] != "t" and b[0] != "t")  # at least one dimensioned tensor
]
_BINARY: dict[str, Callable[[Any, Any, Any], Any]] = {
    "+": lambda lib, a, b: a + b,
    "*": lambda lib, a, b: a * b,
    "/": lambda lib, a, b: a / b,
    "**": lambda lib, a, b: a**b,
    "where": lambda lib, a, b: lib.where(lib.tensor([True, False]), a, b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
}


def _same_result(fn: Callable[[Any], Any]) -> None:
    """fn(lib) in both libraries: the same dtype and values, or an error in both."""
    results = []
    for lib in (tinylm, torch):
        try:
            out = fn(lib)
        except (RuntimeError, TypeError, ValueError) as e:  # TinyLMError is a ValueError
            results.append(("error", type(e).__name__))
            continue
        results.append((str(out.dtype).replace("torch.", ""), out.detach().numpy()))
    (ours, our_values), (theirs, their_values) = results
    assert ours.replace("bool_", "bool") == theirs, (ours, theirs)
    if ours != "error":
        np.testing.assert_allclose(our_values, their_values, rtol=1e-6)


@pytest.mark.parametrize("op", list(_BINARY))
def test_binary_ops_promote_dtypes_as_torch(op: str) -> None:
    """Every pair of operands (1-D and 0-d tensors of each dtype, Python numbers): the
    result's dtype and values equal PyTorch's. A 0-d tensor or a number only raises the
    category (bool < int < float), never the width: int8 + 200 wraps in int8."""
    for a, b in _PAIRS:
        if op == "maximum" and "py" in (a[:2], b[:2]):
            continue  # torch.maximum takes tensors only
        if op == "**" and (a, b) == ("t:bool", "py:True"):
            continue  # bool ** True is bool in PyTorch; tinylm refuses all bool ** bool
        _same_result(lambda lib, a=a, b=b: _BINARY[op](lib, _operand(lib, a), _operand(lib, b)))


@pytest.mark.parametrize(
    "expr",
    [
        "lib.tensor([True, False, True]) + 1",
        "lib.tensor([True, False, True]) * 2",
        "(lib.tensor([True, False, True]) + 1).sum()",
        "lib.tensor([1, 2], dtype=lib.int8) + 200",
        "lib.tensor([1, 2], dtype=lib.int8) + lib.tensor(200)",
        "lib.tensor([1, 2], dtype=lib.uint8) * lib.tensor(-1)",
        "lib.tensor([1., 2]) + lib.tensor(1., dtype=lib.float64)",
        "lib.tensor([1, 2], dtype=lib.int32) + lib.tensor(1)",
        "lib.tensor([1., 2]) ** lib.tensor(2., dtype=lib.float64)",
        "lib.tensor([1, 2]) ** 0.5",
        "lib.tensor([1, 2]) ** 2.0",
        "lib.tensor([1, 2]).pow(2.0)",
        "lib.tensor([1, 2]) ** 2",
        "lib.tensor([True, False]) ** 2",
        "2.5 ** lib.tensor([1, 2])",
        "lib.tensor([1, 2]) + np.float64(1.5)",
        "lib.where(lib.tensor([1, -1]) > 0, lib.tensor([1, -1]), 0.5)",
        "lib.where(lib.tensor([True, False]), lib.tensor([1., 2]), lib.tensor(0., dtype=lib.float64))",  # noqa: E501
        "lib.where(lib.tensor([True, False]), 1, 0.5)",
        "lib.where(lib.tensor([True, False]), 1, 0)",
        "lib.cat([lib.tensor([1, 2]), lib.tensor([1.5])])",
        "lib.cat([lib.tensor([True]), lib.tensor([7], dtype=lib.uint8)])",
        "lib.stack([lib.tensor([1, 2]), lib.tensor([1.5, 2])])",
        "lib.stack([lib.tensor(1., dtype=lib.float64), lib.tensor(1.)])",
        "lib.tensor([-2, 0, 3]).clamp(0.5, 2.5)",
        "lib.tensor([-2, 0, 3]).clamp(min=1.5)",
        "lib.tensor([-2, 0, 3]).clamp(max=1)",
        "lib.tensor([-2, 0, 3], dtype=lib.int8).clamp(lib.tensor(0), lib.tensor(1))",
        "lib.tensor([1., 2]).clamp(lib.tensor(1.5, dtype=lib.float64))",
        "lib.tensor([1., 2]).clamp(lib.tensor([1.5], dtype=lib.float64))",
        "lib.clamp(lib.tensor([-2, 0, 3]), 0.5, 2.5)",
        "lib.maximum(lib.tensor([1, 2]), lib.tensor(1.5))",
        "lib.minimum(lib.tensor([1, 2], dtype=lib.int8), lib.tensor(300))",
        "lib.tensor([1, 2], dtype=lib.uint8).sum()",
        "lib.tensor([True, False, True]).sum()",
        "lib.tensor([1, 2], dtype=lib.int8).cumsum(0)",
        "lib.arange(lib.tensor(3))",
        "lib.arange(lib.tensor(1), lib.tensor(4))",
        "lib.arange(lib.tensor(3.))",
        "lib.tensor([1, 2]).softmax(0)",
        "lib.tensor([1, 2]).log_softmax(0)",
    ],
)
def test_mixed_dtypes_give_torchs_dtype_and_values(expr: str) -> None:
    _same_result(lambda lib: eval(expr, {"lib": lib, "np": np}))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64"])
def test_float_functions_of_integers_compute_in_the_default_dtype(name: str, dtype: str) -> None:
    """exp(int tensor) is float32 in PyTorch (tinylm gave float64, sigmoid even int64)."""
    _same_result(lambda lib: getattr(lib.tensor([1, 2], dtype=getattr(lib, dtype)), name)())
    _same_result(lambda lib: getattr(lib, name)(lib.tensor([1, 2], dtype=getattr(lib, dtype))))


def test_result_type_and_promote_types_are_torchs() -> None:
    for lib in (tinylm, torch):
        i, f = lib.tensor([1, 2]), lib.tensor([1.0])
        assert lib.result_type(i, 1.0) == lib.float32
        assert lib.result_type(lib.tensor(1.0, dtype=lib.float64), lib.tensor(1)) == lib.float64
        assert lib.result_type(f, lib.tensor(1.0, dtype=lib.float64)) == lib.float32
        assert lib.promote_types(lib.int64, lib.float16) == lib.float16
        assert lib.promote_types(lib.uint8, lib.int8) == lib.int16
        assert lib.can_cast(lib.int64, lib.uint8) and not lib.can_cast(lib.float32, lib.int64)
        assert not lib.can_cast(lib.int8, lib.bool)


@pytest.mark.parametrize(
    "update",
    [
        lambda lib, a: a.__iadd__(1.5),
        lambda lib, a: a.__imul__(2.5),
        lambda lib, a: a.__itruediv__(2),
        lambda lib, a: a.add_(0.5),
        lambda lib, a: a.sub_(lib.tensor([0.5])),
        lambda lib, a: a.mul_(lib.tensor(0.5, dtype=lib.float64)),
        lambda lib, a: a.div_(lib.tensor([2])),
        lambda lib, a: a.clamp_(0.5),
        lambda lib, a: a.bool().add_(1),
    ],
)
def test_in_place_ops_refuse_a_result_the_tensor_cannot_hold(update: Any) -> None:
    """``a += 1.5`` on an int64 tensor: PyTorch refuses (float can't be cast to long);
    tinylm truncated silently. The tensor keeps its values."""
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        update(torch, torch.tensor([1, 2]))
    a = tinylm.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"result type \w+ can't be cast .* type (int64|bool)"):
        update(tinylm, a)
    assert a.tolist() == [1, 2]


def test_in_place_ops_cast_a_result_of_the_same_category_as_torch() -> None:
    """int8 += 300 wraps around, float32 += float64 stays float32: as PyTorch."""

    def updated(lib: Any) -> Any:
        a, b = lib.tensor([1, 2], dtype=lib.int8), lib.tensor([1.0, 2.0])
        a += 300
        a.mul_(lib.tensor(2))
        b += lib.tensor([0.5], dtype=lib.float64)
        return lib.cat([a, b])  # float32: the values and both dtypes of the updates

    _same_result(updated)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x, lo, hi: x.clamp(lo, hi),
        lambda lib, x, lo, hi: x.clamp(min=lo),
        lambda lib, x, lo, hi: x.clamp(max=hi),
        lambda lib, x, lo, hi: lib.clamp(x, lo[:1], hi),  # a broadcast bound
        lambda lib, x, lo, hi: x.clamp(lo.detach(), hi.detach()),
        lambda lib, x, lo, hi: x.clamp(-0.5, 0.5),
        lambda lib, x, lo, hi: x.clip(lo, hi),
    ],
)
def test_clamp_takes_tensor_bounds_with_gradients_as_torch(call: Any) -> None:
    """Bounds that are tensors, with ties (x == lo, x == hi, lo == hi) and lo > hi: the
    values and the gradients of x, lo and hi equal PyTorch's (float64)."""
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 0.2, 0.7])
    lo = np.array([0.0, 0.0, 0.0, 0.0, 2.5, 2.5, 0.4, 0.6])
    hi = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.6])
    both(call, [x, lo, hi])
