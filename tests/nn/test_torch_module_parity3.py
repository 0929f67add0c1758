"""The rest of ``nn.Module``'s API (full backward hooks, state-dict and load hooks, extra
state, get_parameter/get_buffer/set_submodule, type/half/to_empty/compile), ``nn.Buffer``,
``tinylm.utils.checkpoint``, the padding layers, the in-place activation functions,
``rrelu``/``RReLU``, ``Softmax2d``, ``alpha_dropout``, ``dropout1d``, ``multi_margin_loss``
and ``TripletMarginWithDistanceLoss`` — checked against PyTorch itself: the same call in
both libraries on the same float64 values gives the same values, shapes, dtypes, gradients
(for a random upstream gradient, with transposed inputs), the same hook calls, the same
state-dict keys; the random layers are checked for their distributions' structure; and
tinylm's refusals are one line each.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import tinylm
import tinylm.nn as nn
import tinylm.nn.functional as F
from tinylm import TinyLMError
from tinylm.utils.checkpoint import checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")
TF = torch.nn.functional
tcheckpoint = pytest.importorskip("torch.utils.checkpoint")

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(3)


def values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def nnlib(lib: Any) -> Any:
    return nn if lib is tinylm else torch.nn


def flib(lib: Any) -> Any:
    return F if lib is tinylm else TF


def run(lib: Any, fn: Any, arrays: list[np.ndarray], strided: bool = False) -> list[Any]:
    """fn(lib, *tensors) → its output, then every float input's gradient after a backward
    with a random upstream gradient (the same in both libraries)."""
    ts = []
    for a in arrays:
        if strided and a.ndim >= 2:  # a transposed view of the same values
            t = lib.tensor(np.ascontiguousarray(a.swapaxes(-1, -2)), requires_grad=True)
            ts.append(t)
            continue
        ts.append(lib.tensor(a, requires_grad=a.dtype.kind == "f"))
    used = [t.transpose(-1, -2) if strided and t.ndim >= 2 else t for t in ts]
    out = fn(lib, *used)
    g = np.random.default_rng(7).standard_normal(tuple(out.shape))
    if out.requires_grad:
        (out * lib.tensor(g)).sum().backward()
    return [values(out)] + [None if t.grad is None else values(t.grad) for t in ts]


def assert_same(ours: list[Any], theirs: list[Any], rtol: float = 1e-10) -> None:
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a is None) == (b is None), (i, a, b)
        if a is not None:
            assert a.shape == b.shape and a.dtype == b.dtype, (i, a.shape, a.dtype, b.dtype)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=f"result {i}")


def both(fn: Any, arrays: list[np.ndarray], strided: bool = False) -> None:
    assert_same(run(tinylm, fn, arrays, strided), run(torch, fn, arrays, strided))


# ---------------------------------------------------------------------------------------
# Full backward hooks
# ---------------------------------------------------------------------------------------

W1, B1 = RNG.standard_normal((5, 4)), RNG.standard_normal(5)
W2, B2 = RNG.standard_normal((3, 5)), RNG.standard_normal(3)
X = RNG.standard_normal((2, 4))
G = RNG.standard_normal((2, 3))


def mlp(lib: Any) -> Any:
    m = (
        nnlib(lib)
        .Sequential(nnlib(lib).Linear(4, 5), nnlib(lib).Tanh(), nnlib(lib).Linear(5, 3))
        .double()
    )
    with lib.no_grad():
        for layer, w, b in ((m[0], W1, B1), (m[2], W2, B2)):
            layer.weight.copy_(lib.tensor(w))
            layer.bias.copy_(lib.tensor(b))
    return m


def arrays(grads: tuple[Any, ...]) -> list[Any]:
    return [None if g is None else values(g).round(12).tolist() for g in grads]


def hooked_mlp_run(lib: Any, x_grad: bool, change: bool) -> tuple[list[Any], list[Any]]:
    """The hook calls (in order, with their gradients) and the resulting gradients of x and
    of the first weight; with ``change``, a pre-hook doubles the Tanh's grad_output and a
    hook zeroes the last Linear's grad_input."""
    m, log = mlp(lib), []
    for i, sub in enumerate(m):

        def pre(mod: Any, go: Any, i: int = i) -> Any:
            log.append((i, "pre", arrays(go)))
            return (go[0] * 2,) if change and i == 1 else None

        def full(mod: Any, gi: Any, go: Any, i: int = i) -> Any:
            log.append((i, "full", arrays(gi), arrays(go)))
            return (gi[0] * 0,) if change and i == 2 else None

        sub.register_full_backward_pre_hook(pre)
        sub.register_full_backward_hook(full)
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("seq", arrays(gi), arrays(go))))
    x = lib.tensor(X, requires_grad=x_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn when no input requires grad
        (m(x) * lib.tensor(G)).sum().backward()
    grads = [None if x.grad is None else values(x.grad), values(m[0].weight.grad)]
    return log, grads


@pytest.mark.parametrize("change", [False, True], ids=["watching", "changing"])
@pytest.mark.parametrize("x_grad", [False, True], ids=["x-no-grad", "x-requires-grad"])
def test_full_backward_hooks_see_and_change_what_torchs_do(x_grad: bool, change: bool) -> None:
    ours, theirs = hooked_mlp_run(tinylm, x_grad, change), hooked_mlp_run(torch, x_grad, change)
    assert [e[:2] for e in ours[0]] == [e[:2] for e in theirs[0]]
    for a, b in zip(ours[0], theirs[0]):
        assert a == b
    assert_same(ours[1], theirs[1])


class TwoInputs:
    """forward(a, scale, b) = scale · a * tanh(b): a non-tensor argument in the middle."""

    @staticmethod
    def build(lib: Any) -> Any:
        class Mul(nnlib(lib).Module):
            def forward(self, a: Any, scale: float, b: Any) -> Any:
                return scale * a * b.tanh()

        return Mul()


def test_full_backward_hook_grad_input_has_one_entry_per_positional_argument() -> None:
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    results = []
    for lib in (tinylm, torch):
        m, log = TwoInputs.build(lib), []
        handle = m.register_full_backward_hook(
            lambda mod, gi, go, log=log: log.append((arrays(gi), arrays(go)))
        )
        ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        (m(ta, 1.5, tb) * lib.tensor(b)).sum().backward()
        handle.remove()
        (m(ta, 1.5, tb)).sum().backward()  # removed: not called again
        results.append((log, values(ta.grad), values(tb.grad)))
    assert len(results[0][0]) == 1
    assert results[0][0] == results[1][0]
    assert results[0][0][0][0][1] is None  # the float argument
    assert_same(list(results[0][1:]), list(results[1][1:]))


def test_a_hook_returning_the_wrong_number_of_gradients_is_refused() -> None:
    m = nn.Linear(3, 2)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    x = tinylm.randn(2, 3, requires_grad=True)
    with pytest.raises(TinyLMError, match="register_full_backward_hook: a hook must return"):
        m(x).sum().backward()


# ---------------------------------------------------------------------------------------
# Registering, finding and replacing
# ---------------------------------------------------------------------------------------


def tree(lib: Any) -> Any:
    n = nnlib(lib)
    m = n.Module()
    m.register_module("body", n.Sequential(n.Linear(2, 3), n.LayerNorm(3)))
    m.body.register_buffer("table", lib.zeros(4), persistent=False)
    m.head = n.Linear(3, 1)
    return m


def test_register_module_get_parameter_get_buffer_set_submodule_match_torch() -> None:
    ours, theirs = tree(tinylm), tree(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.get_parameter("body.1.weight") is ours.body[1].weight
    assert ours.get_buffer("body.table") is ours.body.table
    for m in (ours, theirs):
        for method, target in (
            ("get_parameter", "body.table"),  # a buffer, not a parameter
            ("get_parameter", "body.nope"),
            ("get_buffer", "body.1.weight"),
            ("get_buffer", "nope.x"),
        ):
            with pytest.raises(AttributeError):
                getattr(m, method)(target)
    for lib, m in ((tinylm, ours), (torch, theirs)):
        new = nnlib(lib).Linear(3, 3)
        m.set_submodule("body.1", new)
        assert m.body[1] is new
        m.set_submodule("body.extra", nnlib(lib).Tanh())  # a new name in an existing parent
        with pytest.raises(AttributeError):
            m.set_submodule("body.other", nnlib(lib).Tanh(), strict=True)
        with pytest.raises(AttributeError):
            m.set_submodule("nope.x", nnlib(lib).Tanh())
        with pytest.raises(AttributeError):
            m.set_submodule("body.table", nnlib(lib).Tanh())  # a buffer is there
        with pytest.raises(ValueError):
            m.set_submodule("body.1", 3)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_buffer_registers_as_torchs_persistent_or_not() -> None:
    keys = []
    for lib in (tinylm, torch):
        m = nnlib(lib).Module()
        m.kept = nnlib(lib).Buffer(lib.ones(2))
        m.skipped = nnlib(lib).Buffer(lib.zeros(3), persistent=False)
        m.empty = nnlib(lib).Buffer()
        assert isinstance(m.kept, nnlib(lib).Buffer)
        keys.append((list(m.state_dict()), [n for n, _ in m.named_buffers()], m.empty.shape))
    assert keys[0][:2] == keys[1][:2] and tuple(keys[0][2]) == tuple(keys[1][2])
    t = tinylm.ones(2)
    assert np.shares_memory(nn.Buffer(t).numpy(), t.numpy())


# ---------------------------------------------------------------------------------------
# Extra state and the state-dict hooks
# ---------------------------------------------------------------------------------------


def counted(lib: Any) -> Any:
    class Counted(nnlib(lib).Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nnlib(lib).Linear(2, 2)
            self.count = 0

        def get_extra_state(self) -> Any:
            return {"count": self.count}

        def set_extra_state(self, state: Any) -> None:
            self.count = state["count"]

    outer = nnlib(lib).Sequential(Counted(), nnlib(lib).ReLU())
    return outer


def test_extra_state_is_saved_and_loaded_as_torchs() -> None:
    ours, theirs = counted(tinylm), counted(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "0._extra_state", "0.fc.weight", "0.fc.bias",
    ]  # fmt: skip
    ours[0].count = 5
    sd = ours.state_dict()
    fresh = counted(tinylm)
    fresh.load_state_dict(sd)
    assert fresh[0].count == 5
    del sd["0._extra_state"]
    with pytest.raises(TinyLMError, match="missing key '0._extra_state'"):
        fresh.load_state_dict(sd)
    result = fresh.load_state_dict(sd, strict=False)
    theirs_result = theirs.load_state_dict(theirs.state_dict() | {}, strict=True)
    assert theirs_result.missing_keys == []
    assert result.missing_keys == ["0._extra_state"]
    plain = nn.Linear(2, 2)
    with pytest.raises(TinyLMError, match="unexpected key '_extra_state'"):
        plain.load_state_dict(plain.state_dict() | {"_extra_state": 1})
    with pytest.raises(RuntimeError, match="get_extra_state"):
        plain.get_extra_state()


def hook_log(lib: Any) -> tuple[list[Any], list[str], list[str]]:
    m, log = tree(lib), []
    for name, sub in m.named_modules():
        sub.register_state_dict_pre_hook(
            lambda mod, prefix, keep_vars, name=name: log.append(("pre", name, prefix, keep_vars))
        )

        def post(mod: Any, sd: Any, prefix: str, meta: Any, name: str = name) -> None:
            log.append(("post", name, prefix, len(sd)))
            if name == "head":
                sd[prefix + "note"] = lib.ones(1)

        sub.register_state_dict_post_hook(post)
    sd = m.state_dict(keep_vars=True)
    return log, list(sd), list(m.state_dict(prefix="model."))


def test_state_dict_hooks_are_called_as_torchs() -> None:
    ours, theirs = hook_log(tinylm), hook_log(torch)
    assert ours == theirs
    m = nn.Linear(2, 2)
    m.register_state_dict_post_hook(lambda *a: {})
    with pytest.raises(RuntimeError, match="post-hook must return None"):
        m.state_dict()


def load_with_hooks(lib: Any, strict: bool) -> tuple[list[Any], Any, np.ndarray]:
    """A checkpoint saved under old names ("old_head.*") and with a stray key: a load
    pre-hook renames the keys, a post-hook forgives the stray key."""
    target, log = tree(lib), []
    rng = np.random.default_rng(5)
    sd = OrderedDict(
        (k.replace("head.", "old_head."), lib.tensor(rng.standard_normal(tuple(v.shape))))
        for k, v in target.state_dict().items()
    )
    sd["stray"] = lib.zeros(1)

    def rename(mod: Any, state: Any, prefix: str, meta: Any, strict_: bool, *lists: Any):
        log.append(("pre", prefix, strict_, sorted(state)))
        for k in [k for k in state if k.startswith("old_head.")]:
            state[k.replace("old_head.", "head.")] = state.pop(k)

    def forgive(mod: Any, keys: Any) -> None:
        log.append(("post", list(keys.missing_keys), list(keys.unexpected_keys)))
        if "stray" in keys.unexpected_keys:
            keys.unexpected_keys.remove("stray")

    target.register_load_state_dict_pre_hook(rename)
    target.register_load_state_dict_post_hook(forgive)
    result = target.load_state_dict(sd, strict=strict)
    return log, (result.missing_keys, result.unexpected_keys), values(target.head.weight)


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_hooks_rename_keys_and_forgive_as_torchs(strict: bool) -> None:
    ours, theirs = load_with_hooks(tinylm, strict), load_with_hooks(torch, strict)
    assert ours[:2] == theirs[:2]
    assert_same([ours[2]], [theirs[2]])


def test_load_errors_from_a_pre_hook_and_an_unforgiven_key_change_nothing() -> None:
    m = nn.Linear(2, 2)
    before = m.weight.detach().numpy().copy()
    m.register_load_state_dict_pre_hook(lambda mod, sd, p, meta, s, mk, uk, errors: None)
    m.register_load_state_dict_post_hook(lambda mod, keys: None)
    sd = {"weight": tinylm.ones(2, 2), "bias": tinylm.ones(2), "stray": tinylm.ones(1)}
    with pytest.raises(TinyLMError, match="unexpected key 'stray'"):
        m.load_state_dict(sd)
    np.testing.assert_array_equal(m.weight.detach().numpy(), before)  # undone
    m2 = nn.Linear(2, 2)
    m2.register_load_state_dict_pre_hook(
        lambda mod, sd, p, meta, s, mk, uk, errors: errors.append("too old a checkpoint")
    )
    with pytest.raises(TinyLMError, match="too old a checkpoint"):
        m2.load_state_dict(nn.Linear(2, 2).state_dict())


# ---------------------------------------------------------------------------------------
# dtypes, devices and the no-ops
# ---------------------------------------------------------------------------------------


def with_counter(lib: Any) -> Any:
    m = nnlib(lib).Linear(2, 3)
    m.register_buffer("steps", lib.tensor([4]))
    return m


@pytest.mark.parametrize("dst", ["float64", "torch.DoubleTensor", "int64"])
def test_type_converts_every_parameter_and_buffer_as_torch(dst: str) -> None:
    results = []
    for lib in (tinylm, torch):
        m = with_counter(lib)
        target = dst if "." in dst else getattr(lib, dst)
        if dst == "int64":  # a parameter that requires grad cannot become an integer one
            with pytest.raises((TinyLMError, RuntimeError)):
                m.type(target)
            m.requires_grad_(False)
        m.weight.grad = None
        assert m.type(target) is m
        results.append([str(t.dtype).replace("torch.", "") for t in m.state_dict().values()])
    assert results[0] == results[1]


def test_half_to_empty_share_memory_compile_as_torch() -> None:
    for lib in (tinylm, torch):
        m = with_counter(lib)
        weight = m.weight
        assert m.half() is m and m.weight is weight
        assert str(m.weight.dtype).endswith("float16") and str(m.steps.dtype).endswith("int64")
        m.float()
        assert m.to_empty(device="cpu") is m and m.weight is weight
        assert tuple(m.weight.shape) == (3, 2) and str(m.steps.dtype).endswith("int64")
        assert m.share_memory() is m
    m = nn.Linear(2, 2)
    assert m.compile() is None and m.compile(mode="max-autotune") is None
    with pytest.raises(TinyLMError, match="bfloat16: tinylm has no bfloat16"):
        m.bfloat16()


# ---------------------------------------------------------------------------------------
# Checkpointing
# ---------------------------------------------------------------------------------------


def ckpt(lib: Any, use_reentrant: bool) -> Any:
    fn = checkpoint if lib is tinylm else tcheckpoint.checkpoint
    layer = nnlib(lib).Linear(4, 3).double()
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(W2[:, :4]))
        layer.bias.copy_(lib.tensor(B2))

    def body(lib_: Any, a: Any, b: Any) -> Any:
        kwargs = {} if use_reentrant else {"shift": 0.5}
        return fn(lambda x, y, shift=0.0: layer(x).tanh() * y + shift, a, b,
                  use_reentrant=use_reentrant, **kwargs)  # fmt: skip

    out = run(lib, body, [RNG.standard_normal((2, 4)), RNG.standard_normal((2, 3))])
    return out + [values(layer.weight.grad)]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_gives_torchs_outputs_and_gradients(use_reentrant: bool) -> None:
    global RNG
    state = RNG.bit_generator.state
    ours = ckpt(tinylm, use_reentrant)
    RNG.bit_generator.state = state
    assert_same(ours, ckpt(torch, use_reentrant))


def test_checkpoint_keeps_torchs_reentrant_rules() -> None:
    layer = nn.Linear(3, 2)
    x = tinylm.randn(2, 3)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
        checkpoint(layer, x)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad"):
        out = checkpoint(layer, x, use_reentrant=True)
    t_out = tcheckpoint.checkpoint(torch.nn.Linear(3, 2), torch.randn(2, 3), use_reentrant=True)
    assert out.requires_grad is t_out.requires_grad is False
    assert checkpoint(layer, x, use_reentrant=False).requires_grad
    with pytest.raises(TinyLMError, match="keyword arguments \\(scale\\) are not supported"):
        checkpoint(lambda a, scale: a * scale, x, scale=2.0, use_reentrant=True)
    with pytest.raises(TinyLMError, match="context_fn and debug are only supported"):
        checkpoint(layer, x, use_reentrant=True, debug=True)
    with pytest.raises(TinyLMError, match="context_fn is not supported"):
        checkpoint(layer, x, use_reentrant=False, context_fn=lambda: (None, None))


@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_gives_torchs_outputs_and_gradients(segments: int) -> None:
    x = RNG.standard_normal((2, 4))
    results = []
    for lib in (tinylm, torch):
        fn = checkpoint_sequential if lib is tinylm else tcheckpoint.checkpoint_sequential
        m = mlp(lib)
        out = run(lib, lambda lib_, t, fn=fn, m=m: fn(m, segments, t, use_reentrant=False), [x])
        results.append(out + [values(m[0].weight.grad), values(m[2].bias.grad)])
    assert_same(*results)
    with pytest.raises(TinyLMError, match="4 segments for 3 functions"):
        checkpoint_sequential(mlp(tinylm), 4, tinylm.tensor(x), use_reentrant=False)
    with pytest.raises(TinyLMError, match="unexpected keyword arguments: foo"):
        checkpoint_sequential(mlp(tinylm), 1, tinylm.tensor(x), use_reentrant=False, foo=1)


# ---------------------------------------------------------------------------------------
# Padding layers
# ---------------------------------------------------------------------------------------

PADS = [
    ("ZeroPad1d", (2,), 3), ("ZeroPad1d", ((1, 3),), 4), ("ZeroPad2d", ((1, 0, 2, 1),), 4),
    ("ZeroPad2d", ((-1, 2, 1, -1),), 4), ("ConstantPad1d", ((2, 1), 3.5), 3),
    ("ConstantPad2d", (1, -2.0), 4), ("ReflectionPad1d", ((2, 3),), 3),
    ("ReflectionPad2d", ((1, 2, 3, 0),), 4), ("ReplicationPad1d", (3,), 2),
    ("ReplicationPad2d", ((0, 4, 2, 1),), 3), ("CircularPad1d", ((1, 4),), 3),
    ("CircularPad2d", ((2, 1, 1, 3),), 4),
]  # fmt: skip


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "transposed"])
@pytest.mark.parametrize(("name", "args", "ndim"), PADS, ids=[f"{p[0]}{p[1]}" for p in PADS])
def test_padding_layers_match_torch(name: str, args: tuple, ndim: int, strided: bool) -> None:
    x = RNG.standard_normal((2, 3, 5, 6)[4 - ndim :])
    both(lambda lib, t: getattr(nnlib(lib), name)(*args)(t), [x], strided)
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(nn.ReflectionPad1d(1), (5,)), (nn.ReplicationPad1d(1), (1, 2, 3, 5)),
     (nn.CircularPad2d(1), (3, 5)), (nn.ReflectionPad2d(1), (1, 1, 1, 3, 5))],
)  # fmt: skip
def test_padding_layers_refuse_torchs_unsupported_ranks(layer: Any, shape: tuple) -> None:
    with pytest.raises(TinyLMError, match=f"{type(layer).__name__}: expected a"):
        layer(tinylm.zeros(*shape))


def test_padding_layers_refuse_a_padding_of_the_wrong_length() -> None:
    with pytest.raises(TinyLMError, match="ReflectionPad1d: padding must be an int or a tuple"):
        nn.ReflectionPad1d((1, 2, 3))
    with pytest.raises(TinyLMError, match="ZeroPad2d: padding must be ints"):
        nn.ZeroPad2d((1, 2, 3, 0.5))


# ---------------------------------------------------------------------------------------
# In-place activations
# ---------------------------------------------------------------------------------------

EDGES = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 7.0])
INPLACE = {
    "relu_": lambda f, x: f.relu_(x),
    "elu_": lambda f, x: f.elu_(x, 0.7),
    "leaky_relu_": lambda f, x: f.leaky_relu_(x, 0.2),
    "hardtanh_": lambda f, x: f.hardtanh_(x, -0.5, 1.0),
    "selu_": lambda f, x: f.selu_(x),
    "celu_": lambda f, x: f.celu_(x, 2.0),
    "threshold_": lambda f, x: f.threshold_(x, 0.5, -4.0),
    "rrelu_ eval": lambda f, x: f.rrelu_(x, 0.1, 0.3),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_activations_write_torchs_values_into_the_input(name: str) -> None:
    got = []
    for lib in (tinylm, torch):
        x = lib.tensor(EDGES.copy())
        view = x[2:]  # shares memory: sees the change
        out = INPLACE[name](flib(lib), x)
        assert out is x
        got.append([values(x), values(view)])
    assert_same(*got)


@pytest.mark.parametrize("name", ["relu_", "hardtanh_", "threshold_"])
def test_inplace_activations_keep_integer_tensors_as_torch(name: str) -> None:
    got = [values(INPLACE[name](flib(lib), lib.tensor([-2, 0, 3, 9]))) for lib in (tinylm, torch)]
    assert_same(*got)


def test_inplace_activations_refuse_a_tensor_that_requires_grad() -> None:
    leaf = tinylm.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        F.relu_(leaf)
    with pytest.raises(TinyLMError, match="elu_: tinylm's autograd does not record in-place"):
        F.elu_(leaf * 2)
    with tinylm.no_grad():
        assert F.relu_(leaf) is leaf
    with pytest.raises(TinyLMError, match="leaky_relu: input must be floating point"):
        F.leaky_relu_(tinylm.tensor([1, -2]))


# ---------------------------------------------------------------------------------------
# rrelu, Softmax2d, alpha dropout, dropout1d
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "transposed"])
def test_rrelu_and_rrelu_module_in_eval_match_torch(strided: bool) -> None:
    x = RNG.standard_normal((3, 4)) * 3
    x[0, :3] = [0.0, -0.0, 1e-300]
    both(lambda lib, t: flib(lib).rrelu(t, 0.2, 0.6), [x], strided)
    both(lambda lib, t: nnlib(lib).RReLU(0.05, 0.25).eval()(t), [x], strided)
    assert repr(nn.RReLU()) == repr(torch.nn.RReLU())


def test_rrelu_in_training_draws_one_slope_per_negative_element() -> None:
    tinylm.manual_seed(0)
    x = tinylm.tensor(RNG.standard_normal((200, 50)), requires_grad=True)
    out = nn.RReLU(0.1, 0.3)(x)
    g = tinylm.tensor(RNG.standard_normal((200, 50)))
    (out * g).sum().backward()
    xs, ys = x.detach().numpy(), out.detach().numpy()
    positive = xs > 0
    np.testing.assert_array_equal(ys[positive], xs[positive])
    slopes = ys[~positive] / xs[~positive]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.05
    assert abs(slopes.mean() - 0.2) < 0.005
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * np.where(positive, 1, ys / xs))
    with pytest.raises(TinyLMError, match="rrelu: lower \\(0.5\\) must be ≤ upper"):
        F.rrelu(x, 0.5, 0.1, training=True)
    with pytest.raises(TinyLMError, match="rrelu: input must be floating point"):
        F.rrelu(tinylm.tensor([1, -2]))


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_softmax2d_matches_torch(shape: tuple) -> None:
    both(lambda lib, t: nnlib(lib).Softmax2d()(t), [RNG.standard_normal(shape)], strided=True)
    with pytest.raises(TinyLMError, match="Softmax2d: expected a 3-D or 4-D input"):
        nn.Softmax2d()(tinylm.zeros(3, 4))


def test_alpha_dropout_keeps_selus_mean_and_variance_and_its_gradient_is_the_scale() -> None:
    tinylm.manual_seed(1)
    p = 0.3
    x = tinylm.tensor(RNG.standard_normal((400, 500)), requires_grad=True)
    out = F.alpha_dropout(x, p, training=True)
    alpha = -1.7580993408473766
    a = ((1 - p) * (1 + p * alpha**2)) ** -0.5
    ys, xs = out.detach().numpy(), x.detach().numpy()
    dropped = np.isclose(ys, a * alpha - a * alpha * p, rtol=0, atol=1e-12)
    kept = ~dropped
    np.testing.assert_allclose(ys[kept], a * xs[kept] - a * alpha * p, rtol=1e-12)
    assert abs(dropped.mean() - p) < 0.01
    assert abs(ys.mean()) < 0.01 and abs(ys.std() - 1) < 0.01
    g = RNG.standard_normal(ys.shape)
    (out * tinylm.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), g * np.where(kept, a, 0.0), rtol=1e-12)
    # the identity in eval (F's default training=False, as PyTorch), zeros for p = 1
    assert F.alpha_dropout(x, p) is x and nn.AlphaDropout(p).eval()(x) is x
    for lib in (tinylm, torch):
        assert (values(flib(lib).alpha_dropout(lib.ones(3), 1.0, True)) == 0).all()
    assert repr(nn.AlphaDropout(0.2)) == repr(torch.nn.AlphaDropout(0.2))
    with pytest.raises(TinyLMError, match="alpha_dropout: p must be a probability"):
        F.alpha_dropout(x, 2.0, True)


@pytest.mark.parametrize("shape", [(40, 300), (8, 40, 300)])
def test_dropout1d_drops_whole_channels(shape: tuple) -> None:
    tinylm.manual_seed(2)
    p = 0.25
    x = tinylm.tensor(RNG.standard_normal(shape) + 5, requires_grad=True)
    out = nn.Dropout1d(p)(x)
    ys, xs = out.detach().numpy(), x.detach().numpy()
    zero = (ys == 0).all(axis=-1)
    np.testing.assert_allclose(ys[~zero], xs[~zero] / (1 - p), rtol=1e-12)
    assert 0.1 < zero.mean() < 0.4
    g = RNG.standard_normal(shape)
    (out * tinylm.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), g * np.where(zero[..., None], 0, 1 / (1 - p)))
    assert F.dropout1d(x, p, training=False) is x
    assert repr(nn.Dropout1d(0.3)) == repr(torch.nn.Dropout1d(0.3))
    for bad in [(5,), (2, 3, 4, 5)]:
        with pytest.raises(TinyLMError, match="dropout1d: expected a 2-D"):
            F.dropout1d(tinylm.zeros(*bad), 0.5)


# ---------------------------------------------------------------------------------------
# multi_margin_loss and TripletMarginWithDistanceLoss
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(reduction: str, p: int, weighted: bool) -> None:
    x = RNG.standard_normal((6, 4))
    x[0] = [0.0, 1.0, -0.5, 0.5]  # margins met exactly at the kink
    target = np.array([1, 0, 3, 2, 2, 1])
    weight = RNG.random(4) + 0.5

    def call(lib: Any, t: Any, *rest: Any) -> Any:
        w = lib.tensor(weight) if weighted else None
        return flib(lib).multi_margin_loss(t, lib.tensor(target), p, 0.8, w, reduction=reduction)

    both(call, [x])
    both(lambda lib, t: flib(lib).multi_margin_loss(t[1], lib.tensor(target[1])), [x])
    both(lambda lib, t: nnlib(lib).MultiMarginLoss(p=p)(t, lib.tensor(target[:4])), [x[:4].T])


def test_multi_margin_loss_refusals() -> None:
    x, t = tinylm.randn(3, 4), tinylm.tensor([0, 1, 2])
    with pytest.raises(TinyLMError, match="only p = 1 and p = 2 are supported"):
        F.multi_margin_loss(x, t, p=3)
    with pytest.raises(TinyLMError, match="target out of range"):
        F.multi_margin_loss(x, tinylm.tensor([0, 1, 4]))
    with pytest.raises(TinyLMError, match="target must be int64"):
        F.multi_margin_loss(x, tinylm.tensor([0.0, 1, 2]))
    with pytest.raises(TinyLMError, match="weight must have shape \\(4,\\)"):
        F.multi_margin_loss(x, t, weight=tinylm.ones(3))
    assert list(nn.MultiMarginLoss(weight=tinylm.ones(4)).state_dict()) == ["weight"]


def cosine_distance(a: Any, b: Any) -> Any:
    return 1 - (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("distance", [None, cosine_distance])
def test_triplet_margin_with_distance_loss_matches_torch(
    reduction: str, swap: bool, distance: Any
) -> None:
    a, pos, neg = (RNG.standard_normal((5, 3)) for _ in range(3))

    def call(lib: Any, ta: Any, tp: Any, tn: Any) -> Any:
        loss = nnlib(lib).TripletMarginWithDistanceLoss(
            distance_function=distance, margin=0.7, swap=swap, reduction=reduction
        )
        return loss(ta, tp, tn)

    both(call, [a, pos, neg], strided=True)
    both(
        lambda lib, ta, tp, tn: flib(lib).triplet_margin_with_distance_loss(
            ta, tp, tn, distance_function=distance, swap=swap, reduction=reduction
        ),
        [a, pos, neg],
    )
    assert repr(nn.TripletMarginWithDistanceLoss()) == repr(
        torch.nn.TripletMarginWithDistanceLoss()
    )
    with pytest.raises(TinyLMError, match="margin must be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
