"""Calls that a PyTorch program makes, run unchanged in both libraries: the differences a
parity hunt found (the same code gave other values in tinylm, or failed deep inside NumPy),
each pinned down against PyTorch itself. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

LIBS = pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])


def values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def dtype_name(t: Any) -> str:
    """ "float32" for both libraries' dtypes (PyTorch prints "torch.float32")."""
    return str(t.dtype).split(".")[-1]


def in_both(make: Any) -> tuple[Any, Any]:
    """``make(lib)`` run with tinylm, then with torch: (ours, theirs)."""
    return make(tinylm), make(torch)


@LIBS
def test_randint_takes_high_and_size_as_nanogpt_calls_it(lib: Any) -> None:
    """``randint(high, size)``: nanoGPT's get_batch draws batch offsets this way."""
    lib.manual_seed(0)
    ix = lib.randint(50 - 8, (12,))
    assert tuple(ix.shape) == (12,) and ix.dtype == lib.int64
    assert 0 <= int(ix.min()) and int(ix.max()) < 42
    two = lib.randint(3, 7, (1000,))
    assert tuple(two.shape) == (1000,) and {int(v) for v in values(two)} == {3, 4, 5, 6}
    assert tuple(lib.randint(5, size=(2, 3)).shape) == (2, 3)
    assert tuple(lib.randint(low=2, high=4, size=(4,)).shape) == (4,)


def test_randint_without_a_size_is_one_clear_line() -> None:
    with pytest.raises(TypeError, match="need a size") as info:
        tinylm.randint(10)
    assert "\n" not in str(info.value)


VAR_CALLS = [
    "x.var(1, False)",  # the second positional argument is unbiased, not keepdim
    "x.std(1, False)",
    "x.std(0, True, True)",
    "x.var(False)",  # var(unbiased) over the whole tensor
    "x.std(unbiased=False)",
    "x.var(dim=1, correction=0)",
    "x.var(axis=1, keepdims=True)",
    "x.sum(dim=())",  # an empty dim reduces every dim in PyTorch
    "x.mean(dim=[])",
    "x.sum(axis=(0, 1))",
]


@pytest.mark.parametrize("call", VAR_CALLS)
def test_reductions_read_positional_arguments_as_torch(call: str) -> None:
    ours, theirs = in_both(
        lambda lib: values(
            eval(call, {"x": lib.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=lib.float64)})
        )
    )
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)


@pytest.mark.parametrize("call", ["x.max(axis=-1)", "x.min(axis=0, keepdims=True)"])
def test_max_with_numpys_axis_gives_values_and_indices(call: str) -> None:
    """``axis`` is PyTorch's alias of ``dim``: the pair, not the values alone."""
    got = in_both(
        lambda lib: [
            values(t) for t in eval(call, {"x": lib.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])})
        ]
    )
    for ours, theirs in zip(*got):  # values, then indices
        np.testing.assert_array_equal(ours, theirs)


def test_max_over_several_dims_points_to_amax() -> None:
    x = tinylm.ones(2, 3)
    with pytest.raises(TinyLMError, match=r"amax\(dim=\(0, 1\)\)"):
        x.max(axis=(0, 1))
    assert float(x.amax(dim=(0, 1))) == 1.0


@LIBS
def test_set_grad_enabled_called_alone_switches_at_once(lib: Any) -> None:
    x = lib.ones(2, requires_grad=True)
    try:
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled() and not (x * 2).requires_grad
        with lib.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not lib.is_grad_enabled()
    finally:
        lib.set_grad_enabled(True)
    assert lib.is_grad_enabled()

    @lib.set_grad_enabled(False)
    def frozen() -> bool:
        return lib.is_grad_enabled()

    assert lib.is_grad_enabled() and not frozen() and lib.is_grad_enabled()
    with lib.no_grad():
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()


def _state_keys(lib: Any) -> dict[str, list[str]]:
    nn = lib.nn
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(lib.zeros(2, 2))  # assigned again: keeps its place
    tied = nn.Module()
    tied.a, tied.b = nn.Linear(2, 2), nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    shared = nn.Module()
    shared.l = nn.Linear(2, 2)
    shared.l2 = shared.l  # one module under two names
    return {
        "reassigned": list(lin.state_dict()),
        "reassigned params": [n for n, _ in lin.named_parameters()],
        "tied": list(tied.state_dict()),
        "tied params": [n for n, _ in tied.named_parameters()],
        "shared": list(shared.state_dict()),
        "shared params": [n for n, _ in shared.named_parameters()],
    }


def test_state_dict_and_parameter_order_match_torch() -> None:
    """Checkpoint keys and the optimizer's parameter order are PyTorch's, also after a
    parameter is assigned again, with tied weights and with a shared module."""
    assert _state_keys(tinylm) == _state_keys(torch)


def test_a_module_shared_under_two_names_loads_its_own_state_dict() -> None:
    m = tinylm.nn.Module()
    m.l = tinylm.nn.Linear(2, 2)
    m.l2 = m.l
    m.load_state_dict(m.state_dict())  # strict: both names are expected and given


@LIBS
def test_numpy_asarray_of_a_tensor_is_its_values(lib: Any) -> None:
    a = np.asarray(lib.tensor([3.5, 1.0]))
    assert a.dtype == np.float32 and a.tolist() == [3.5, 1.0]
    assert np.asarray(lib.tensor([1, 2]), dtype=np.float64).dtype == np.float64


@LIBS
def test_changing_a_constant_factors_input_in_place_is_no_error(lib: Any) -> None:
    """``x * 1`` needs nothing of ``x`` for its backward: changing ``x`` in place after it
    is fine (the Mul that reads ``x`` later sees the changed values)."""
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    x.detach().mul_(2)
    (y * x).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [3.0, 6.0, 9.0])


TO_CALLS = [
    "x.to(dtype=lib.float64)",
    "x.to(device='cpu')",
    "x.to('cpu', lib.float64)",
    "x.to(lib.ones(1, dtype=lib.float64))",
    "x.to('cpu', dtype=lib.float64, copy=True)",
]


@pytest.mark.parametrize("call", TO_CALLS)
def test_to_takes_torchs_forms(call: str) -> None:
    def run(lib: Any) -> tuple:
        y = eval(call, {"x": lib.tensor([1.5, 2.0]), "lib": lib})
        return dtype_name(y), y.device.type, values(y).tolist()

    ours, theirs = in_both(run)
    assert ours == theirs


@LIBS
def test_module_to_takes_keywords(lib: Any) -> None:
    m = lib.nn.Linear(2, 2).to(dtype=lib.float64)
    assert m.weight.dtype == lib.float64
    m.to("cpu", dtype=lib.float32)
    assert m.weight.dtype == lib.float32 and m.weight.device.type == "cpu"


def test_device_is_torchs_device_object() -> None:
    d = tinylm.ones(1).device  # torch.device: equal to devices, not to strings (torch 2.13)
    assert d == tinylm.device("cpu") and d != "cpu" and str(d) == "cpu" and d.index is None
    assert f"{d}" == "cpu" and d.type == "cpu" and {d: 1}[tinylm.device("cpu")] == 1


OPERATOR_CALLS = [
    "x // 2",
    "x % 2",
    "x % -1.5",
    "7.0 // x",
    "5.0 % x",
    "i // 2",
    "i % 2",
    "i % -2",
    "i // 2.0",
    "b.all(1)",
    "b.any(dim=0, keepdim=True)",
    "b.all()",
    "i.sum(dtype=lib.float64)",
    "lib.zeros(size=(2, 3))",
    "lib.ones(2, 3)",
]


@pytest.mark.parametrize("call", OPERATOR_CALLS)
def test_operators_and_reductions_match_torch(call: str) -> None:
    def run(lib: Any) -> tuple:
        scope = {
            "lib": lib,
            "x": lib.tensor([-3.5, 2.0, 7.0], dtype=lib.float64),
            "i": lib.tensor([-3, 7, 4]),
            "b": lib.tensor([[True, False], [True, True]]),
        }
        y = eval(call, scope)
        return dtype_name(y), values(y)

    ours, theirs = in_both(run)
    assert ours[0] == theirs[0]
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_remainder_gradients_match_torch_and_floor_divide_has_none() -> None:
    grads = []
    for lib in (tinylm, torch):
        a = lib.tensor([-3.5, 2.25, 7.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([2.0, -1.5, 3.0], dtype=lib.float64, requires_grad=True)
        (a % b * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        grads.append((values(a.grad), values(b.grad)))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)
    x = tinylm.tensor([1.5], requires_grad=True)
    with pytest.raises(TinyLMError, match="no derivative"):
        (x // 1).sum().backward()


@LIBS
def test_python_protocols_of_a_tensor(lib: Any) -> None:
    assert f"{lib.tensor(3.14159):.2f}" == "3.14"
    assert [10, 20, 30][lib.tensor(2)] == 30 and hex(lib.tensor(255)) == "0xff"
    with pytest.raises(TypeError):
        f"{lib.tensor([1.0, 2.0]):.2f}"
    with pytest.raises(TypeError):
        [1, 2][lib.tensor(1.0)]


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        ("tinylm.zeros(-1)", TinyLMError, "non-negative"),
        ("tinylm.full(2, 1.0)", TypeError, "tuple of ints"),
        ("tinylm.ones(2, size=(3,))", TypeError, "size once"),
        ("tinylm.ones(2).to('gpu')", TypeError, "neither a device"),
    ],
)
def test_bad_creation_arguments_are_one_clear_line(call: str, error: type, names: str) -> None:
    with pytest.raises(error, match=names) as info:
        eval(call)
    assert "\n" not in str(info.value)


@LIBS
def test_what_an_op_makes_of_a_parameter_is_a_plain_tensor(lib: Any) -> None:
    m = lib.nn.Linear(2, 2)
    assert type(m.weight * 2) is lib.Tensor and type(m.weight.T) is lib.Tensor
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = m.weight * 2  # not silently a new weight


@LIBS
def test_comparing_with_none_is_a_plain_bool(lib: Any) -> None:
    x = lib.ones(2)
    assert (x == None) is False and (x != None) is True  # noqa: E711


@LIBS
def test_load_takes_map_location_and_weights_only(lib: Any, tmp_path: Any) -> None:
    path = tmp_path / "ckpt.pt"
    lib.save({"w": lib.ones(2)}, path)
    back = lib.load(path, map_location="cpu", weights_only=True)
    assert values(back["w"]).tolist() == [1.0, 1.0] and back["w"].device.type == "cpu"


@pytest.mark.parametrize(
    "call",
    [
        "lib.where(m > 0)",
        "lib.nonzero(m, as_tuple=True)",
        "(m.nonzero(),)",
        "(lib.tensor(3).nonzero(),)",
        "(lib.tensor(0).nonzero(),)",
    ],
)
def test_nonzero_and_one_argument_where_match_torch(call: str) -> None:
    def run(lib: Any) -> list:
        out = eval(call, {"lib": lib, "m": lib.tensor([[1, 0, 2], [0, 3, 0]])})
        return [(tuple(t.shape), dtype_name(t), values(t).tolist()) for t in out]

    ours, theirs = in_both(run)
    assert ours == theirs


@pytest.mark.parametrize(
    ("call", "names"),
    [
        ("x.__setitem__(0, tinylm.ones(2, 4))", r"__setitem__: could not broadcast .* \(2, 3\)"),
        ("x.copy_(tinylm.tensor([4.0, 5.0]))", "copy_: could not broadcast"),
        ("tinylm.arange(0, 5, 0)", "step must be nonzero"),
    ],
)
def test_bad_writes_and_ranges_are_one_clear_line(call: str, names: str) -> None:
    x = tinylm.zeros(2, 3)
    with pytest.raises(TinyLMError, match=names) as info:
        eval(call, {"x": x, "tinylm": tinylm})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        "lib.div(lib.tensor([-7.0, 7.0, 6.0]), 2, rounding_mode='floor')",
        "lib.div(lib.tensor([-7, 7, -6]), 2, rounding_mode='trunc')",
        "lib.tensor([-7.5, 7.0]).div(lib.tensor([2.0, -2.0]), rounding_mode='trunc')",
        "lib.tensor([-7, 7]).div(2)",
        "lib.arange(end=5)",
        "lib.tensor([1.0, 2.0]).softmax(0, dtype=lib.float64)",
        "lib.softmax(lib.tensor([1.0, 2.0]), 0, lib.float64)",
        "lib.tensor([1.0, 2.0]).log_softmax(0, dtype=lib.float64)",
    ],
)
def test_division_modes_arange_and_softmax_dtype_match_torch(call: str) -> None:
    got = []
    for lib in (tinylm, torch):
        y = eval(call, {"lib": lib})
        got.append((dtype_name(y), values(y).tolist()))
    assert got[0] == got[1]


def test_rounded_division_has_zero_gradients_as_in_torch() -> None:
    grads = []
    for lib in (tinylm, torch):
        x = lib.tensor([-7.5, 7.0], requires_grad=True)
        lib.div(x, 2, rounding_mode="trunc").sum().backward()
        grads.append(values(x.grad).tolist())
    assert grads[0] == grads[1] == [0.0, 0.0]


MIXED_INDICES = [
    (0, slice(None), [1, 2]),  # NumPy would put the gathered dim first: (2, 3)
    (1, slice(None), "t"),
    (slice(None), 1, [0, 2]),
    ([0, 1], 0, [1, 2]),
    (0, [0, 2], slice(1, 3)),
    (Ellipsis, 0, [1]),
    (0, None, slice(None), [1, 2]),
    (0, "mask"),
]


@pytest.mark.parametrize("index", MIXED_INDICES, ids=str)
def test_integers_mixed_with_array_indices_index_as_torch(index: tuple) -> None:
    """PyTorch applies integer indices first: x[0, :, [1, 2]] is (3, 2), for reading,
    writing and the gradient."""
    got = []
    for lib in (tinylm, torch):
        w = lib.arange(24.0, dtype=lib.float64).requires_grad_()
        a = w.reshape(2, 3, 4)
        idx = tuple(
            lib.tensor([0, 3]) if i == "t" else (a[0] > 5 if i == "mask" else i) for i in index
        )
        y = a[idx]
        (y * lib.arange(float(y.numel()), dtype=lib.float64).reshape(y.shape)).sum().backward()
        target = lib.zeros(2, 3, 4, dtype=lib.float64)
        target[idx] = lib.ones(tuple(y.shape), dtype=lib.float64)
        got.append(
            (tuple(y.shape), values(y).tolist(), values(w.grad).tolist(), values(target).tolist())
        )
    assert got[0] == got[1]


@LIBS
def test_no_grad_on_a_generator_covers_its_body(lib: Any) -> None:
    x = lib.ones(2, requires_grad=True)

    @lib.no_grad()
    def steps(x: Any) -> Any:
        yield x * 2
        yield x * 3

    assert [y.requires_grad for y in steps(x)] == [False, False]
    assert lib.is_grad_enabled() and (x * 2).requires_grad


@LIBS
def test_zero_grad_without_set_to_none_zeroes_the_same_tensor(lib: Any) -> None:
    w = lib.nn.Parameter(lib.ones(2))
    opt = lib.optim.SGD([w], lr=lib.tensor(0.1))  # a tensor lr, as PyTorch allows
    (w * 2).sum().backward()
    opt.step()
    held = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is held and values(held).tolist() == [0.0, 0.0]
    assert values(w).tolist() == pytest.approx([0.8, 0.8])


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        ("tinylm.zeros(0).argmax()", TinyLMError, "no elements"),
        ("tinylm.zeros(0, 3).max(dim=0)", TinyLMError, "no elements along dim 0"),
        ("tinylm.tensor('abc')", TinyLMError, "non-numeric"),
        ("tinylm.nn.ReLU(inplace=True)", TinyLMError, "inplace=True is not supported"),
        ("tinylm.nn.functional.dropout(tinylm.ones(2), 0.5, True, True)", TinyLMError, "inplace"),
    ],
)
def test_more_bad_calls_are_one_clear_line(call: str, error: type, names: str) -> None:
    with pytest.raises(error, match=names) as info:
        eval(call, {"tinylm": tinylm})
    assert "\n" not in str(info.value)
    tinylm.nn.ReLU(inplace=False), tinylm.nn.Dropout(0.1, inplace=False)  # accepted


@LIBS
def test_view_refuses_a_layout_it_cannot_share(lib: Any) -> None:
    a = lib.arange(12.0).reshape(3, 4)
    with pytest.raises((RuntimeError, TinyLMError), match="view"):
        a.t().view(-1)  # a view must share memory: writes through it reach a
    assert not a.t().is_contiguous() and a.t().contiguous().is_contiguous()
    v = a.view(4, 3)
    v[0, 0] = 99.0
    assert float(a[0, 0]) == 99.0
    f = lib.tensor(np.asfortranarray(np.ones((2, 3))))  # tensor() keeps NumPy's layout
    assert not f.is_contiguous() and tuple(f.reshape(-1).shape) == (6,)
    with pytest.raises((RuntimeError, TinyLMError), match="view"):
        f.view(-1)


@LIBS
def test_a_grad_requiring_value_filled_in_keeps_its_gradient(lib: Any) -> None:
    v = lib.tensor(2.0, requires_grad=True)
    x = lib.ones(3, requires_grad=True)
    y = x.masked_fill(lib.tensor([True, False, True]), v)
    (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert float(v.grad) == 4.0 and values(x.grad).tolist() == [0.0, 2.0, 0.0]


def test_writing_a_grad_requiring_value_into_a_plain_tensor_is_refused() -> None:
    """PyTorch records such a write in the graph; tinylm would drop the gradient, so it says
    so in one line (under no_grad the write is fine)."""
    w = tinylm.tensor([2.0, 3.0], requires_grad=True)
    buf = tinylm.zeros(3)
    for write in (lambda: buf.__setitem__(slice(1, None), w * w), lambda: buf[1:].copy_(w)):
        with pytest.raises(TinyLMError, match="gradient would be lost") as info:
            write()
        assert "\n" not in str(info.value)
    with tinylm.no_grad():
        buf[1:] = w * w
    assert values(buf).tolist() == [0.0, 4.0, 9.0]


def _lr_sequence(lib: Any, scenario: str) -> list[float]:
    sched = lib.optim.lr_scheduler
    w = lib.nn.Parameter(lib.ones(1))
    opt = lib.optim.SGD([w], lr=0.1)
    lrs = []
    if scenario == "changed by hand":
        step = sched.StepLR(opt, 2, 0.5)
        step.step()
        opt.param_groups[0]["lr"] = 1.0
        for _ in range(5):
            step.step()
            lrs.append(opt.param_groups[0]["lr"])
    elif scenario == "two schedulers":
        a, b = sched.StepLR(opt, 2, 0.5), sched.CosineAnnealingLR(opt, 4)
        for _ in range(12):
            a.step()
            b.step()
            lrs.append(opt.param_groups[0]["lr"])
    else:
        cos = sched.CosineAnnealingLR(opt, 5, eta_min=0.01)
        cos.step()
        opt.param_groups[0]["lr"] = 0.05
        for _ in range(12):
            cos.step()
            lrs.append(opt.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize("scenario", ["changed by hand", "two schedulers", "cosine by hand"])
@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's: scheduler before optimizer
def test_schedulers_build_on_the_current_learning_rate_as_torch(scenario: str) -> None:
    """StepLR and CosineAnnealingLR step from the group's current lr (PyTorch's chained
    form): an lr set by hand, or a second scheduler's, is not overwritten from base_lr."""
    ours, theirs = _lr_sequence(tinylm, scenario), _lr_sequence(torch, scenario)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@LIBS
@pytest.mark.parametrize("wrong", ["shape", "dtype"])
def test_a_grad_that_does_not_fit_is_refused_when_assigned(lib: Any, wrong: str) -> None:
    """Not broadcast (or converted) at the next backward."""
    p = lib.nn.Parameter(lib.ones(2))
    g = lib.ones(1) if wrong == "shape" else lib.ones(2, dtype=lib.float64)
    with pytest.raises((RuntimeError, TinyLMError)):
        p.grad = g
    p.grad = lib.ones(2)
    (p * 2).sum().backward()
    assert values(p.grad).tolist() == [3.0, 3.0]


@pytest.mark.parametrize(
    ("index", "value_shape"), [(0, (1,)), ((0, 1), (1, 1)), (1, (1,)), (slice(None), (1, 1))]
)
def test_writing_a_one_element_tensor_as_torch(index: Any, value_shape: tuple) -> None:
    """t[0] = tensor([5.]) writes the one value (NumPy refuses a 1-element array for a
    single element); into several elements it broadcasts."""

    def run(lib: Any) -> list:
        t = lib.zeros(2, 3)
        t[index] = lib.full(value_shape, 5.0)
        return values(t).tolist()

    ours, theirs = in_both(run)
    assert ours == theirs


@LIBS
def test_save_and_load_take_file_objects(lib: Any, tmp_path: Any) -> None:
    """torch.save(obj, buffer) / torch.load(buffer): an io.BytesIO or an open binary file,
    written at its position and left open."""
    import io

    buf = io.BytesIO()
    lib.save({"w": lib.arange(3.0), "step": 7}, buf)
    assert not buf.closed and buf.tell() > 0
    buf.seek(0)
    back = lib.load(buf)
    assert values(back["w"]).tolist() == [0.0, 1.0, 2.0] and back["step"] == 7
    with open(tmp_path / "ckpt.pt", "wb") as f:
        lib.save([lib.ones(2)], f)
    with open(tmp_path / "ckpt.pt", "rb") as f:
        assert values(lib.load(f)[0]).tolist() == [1.0, 1.0]
    assert values(lib.load(tmp_path / "ckpt.pt")[0]).tolist() == [1.0, 1.0]


@LIBS
def test_load_keeps_tensors_shared_and_parameters_parameters(lib: Any) -> None:
    """A tensor saved twice reloads as one; tied weights of a state dict reload sharing
    memory; an nn.Parameter reloads as a Parameter (requires_grad kept)."""
    import io

    nn = lib.nn
    t = lib.ones(3)
    tied = nn.Module()
    tied.a, tied.b = nn.Linear(2, 2), nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    frozen = nn.Parameter(lib.zeros(2), requires_grad=False)
    buf = io.BytesIO()
    lib.save({"x": t, "y": t, "list": [t], "sd": tied.state_dict(), "p": nn.Parameter(t),
              "frozen": frozen}, buf)  # fmt: skip
    buf.seek(0)
    back = lib.load(buf)
    assert back["x"] is back["y"] and back["list"][0] is back["x"]
    sd = back["sd"]
    with lib.no_grad():
        sd["a.weight"].add_(1.0)
    np.testing.assert_array_equal(values(sd["b.weight"]), values(sd["a.weight"]))
    assert type(back["p"]) is nn.Parameter and back["p"].requires_grad
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad
    assert type(back["x"]) is not nn.Parameter


@pytest.mark.parametrize(
    "call",
    [
        "lib.autograd.backward([a, b, h], [None, g, lib.ones(3, dtype=lib.float64)])",
        "lib.autograd.backward((a, a))",  # a tensor given twice counts twice
        "lib.autograd.backward([b], [g], retain_graph=True); lib.autograd.backward(b, g)",
        "lib.autograd.backward(b, grad_tensors=g)",
        "lib.autograd.backward([a], grad_variables=[None])",  # the old name
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_autograd_backward_of_several_tensors_matches_torch(call: str) -> None:
    def run(lib: Any) -> list[np.ndarray]:
        x = lib.tensor([1.0, 2.0, -0.5], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * w
        a, b = (h * h).sum(), h.exp()
        g = lib.tensor([1.0, 0.0, 2.0], dtype=lib.float64)
        exec(call, {"lib": lib, "a": a, "b": b, "h": h, "g": g})
        return [values(x.grad), values(w.grad)]

    for ours, theirs in zip(*in_both(run)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)


@LIBS
def test_autograd_backward_runs_under_no_grad_and_frees_the_graphs(lib: Any) -> None:
    x = lib.ones(2, requires_grad=True)
    a, b = (x * 3).sum(), (x * x).sum()
    with lib.no_grad():
        lib.autograd.backward([a, b])
    assert values(x.grad).tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError):
        lib.autograd.backward([a])


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_takes_unbatched_input_as_torch(batch_first: bool) -> None:
    """nn.LSTM on one sequence (T, input_size) with a (num_layers, hidden) state returns an
    unbatched output and state; values and gradients as PyTorch's."""
    rng = np.random.default_rng(0)
    x, h0, c0 = (
        rng.standard_normal((6, 3)),
        rng.standard_normal((2, 4)),
        rng.standard_normal((2, 4)),
    )

    def run(lib: Any) -> list[Any]:
        lstm = lib.nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, dtype=lib.float64)
        with lib.no_grad():
            for k, (_, p) in enumerate(lstm.named_parameters()):
                p.copy_(lib.tensor(np.sin(np.arange(p.numel()) + k).reshape(tuple(p.shape))))
        xs = lib.tensor(x, requires_grad=True)
        out, (h, c) = lstm(xs, (lib.tensor(h0), lib.tensor(c0)))
        (out.sum() + (h * h).sum() + (c * 3).sum()).backward()
        shapes = [tuple(t.shape) for t in (out, h, c)]
        return [shapes, values(out), values(h), values(c), values(xs.grad),
                *(values(p.grad) for p in lstm.parameters())]  # fmt: skip

    ours, theirs = in_both(run)
    assert ours[0] == theirs[0] == [(6, 4), (2, 4), (2, 4)]
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


GRAD_CALLS = [
    "lib.autograd.grad(y, [x, w])",
    "lib.autograd.grad(y, x)",  # one input: still a tuple
    "lib.autograd.grad(y, [h])",  # a tensor inside the graph, not a leaf
    "lib.autograd.grad(y, [h, x, h])",  # an input named twice gets its gradient twice
    "lib.autograd.grad([y, e], [w], [None, g])",  # several outputs, weighted
    "lib.autograd.grad(e, x, grad_outputs=g)",
    "lib.autograd.grad(y, [x, u], allow_unused=True)",  # u is not used: None
    "lib.autograd.grad(y, [u, w], materialize_grads=True)",  # ... or zeros
    "lib.autograd.grad(y, [y])",  # the output itself: its weight, 1
]


@pytest.mark.parametrize("call", GRAD_CALLS)
def test_autograd_grad_returns_torchs_gradients_and_leaves_dot_grad_alone(call: str) -> None:
    """``torch.autograd.grad``: gradients returned, not accumulated (gradient penalties,
    property tests of an op's gradient, meta-learning loops all call it)."""

    def run(lib: Any) -> list[Any]:
        x = lib.tensor([1.0, 2.0, -0.5], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        u = lib.tensor([3.0], dtype=lib.float64, requires_grad=True)
        h = x * w
        y, e = (h * h).sum() + (x.exp() * w).mean(), h.tanh()
        g = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)
        names = {"lib": lib, "x": x, "w": w, "u": u, "h": h, "y": y, "e": e, "g": g}
        grads = eval(call, names)
        assert isinstance(grads, tuple)
        assert x.grad is None and w.grad is None and u.grad is None
        return [None if t is None else values(t) for t in grads]

    ours, theirs = in_both(run)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize(
    "call, error",
    [
        ("lib.autograd.grad(y, [u])", RuntimeError),  # not used, allow_unused not given
        ("lib.autograd.grad(y, [c])", RuntimeError),  # does not require grad
        ("lib.autograd.grad(y, x); lib.autograd.grad(y, x)", RuntimeError),  # graph freed
        ("lib.autograd.grad(h, x)", RuntimeError),  # a non-scalar output needs its weights
    ],
)
@LIBS
def test_autograd_grad_refuses_as_torch_does(lib: Any, call: str, error: type) -> None:
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    u = lib.tensor([3.0], requires_grad=True)
    c = lib.tensor([1.0, 1.0])
    h = x * x
    y = h.sum()
    with pytest.raises(error) as info:
        exec(call, {"lib": lib, "x": x, "u": u, "c": c, "h": h, "y": y})
    if lib is tinylm:
        assert "\n" not in str(info.value)


@LIBS
def test_autograd_grad_with_retain_graph_runs_twice_then_backward_still_works(
    lib: Any,
) -> None:
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = (x**3).sum()
    first = lib.autograd.grad(y, x, retain_graph=True)[0]
    second = lib.autograd.grad(y, x, retain_graph=True)[0]
    np.testing.assert_array_equal(values(first), values(second))
    y.backward()
    np.testing.assert_allclose(values(x.grad), [3.0, 12.0])


HOOK_CASES = {
    # a hook that only looks: the gradients it saw, and .grad unchanged
    "look": "seen.append(values(g).copy())",
    # a hook that replaces the gradient: a leaf's .grad and everything upstream of h change
    "double": "return g * 2",
    "clip": "return g.clamp(-1.0, 1.0)",
}


@pytest.mark.parametrize("body", HOOK_CASES.values(), ids=HOOK_CASES.keys())
def test_register_hook_sees_and_replaces_gradients_as_torch(body: str) -> None:
    """``register_hook`` on a leaf and on an intermediate tensor: called with the tensor's
    whole gradient, its result (if any) used instead, removable through its handle."""

    def run(lib: Any) -> list[Any]:
        seen: list[np.ndarray] = []
        names = {"seen": seen, "values": values}
        exec("def hook(g):\n    " + body, names)
        x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, 3.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * w
        handles = [h.register_hook(names["hook"]), x.register_hook(names["hook"])]
        (h * h).sum().backward(retain_graph=True)
        first = [values(x.grad).copy(), values(w.grad).copy(), *seen]
        for handle in handles:
            handle.remove()
        x.grad, w.grad = None, None
        (h * h).sum().backward()  # the hooks are gone
        return [*first, values(x.grad), values(w.grad), len(seen)]

    ours, theirs = in_both(run)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize(
    "hook, error",
    [("lambda g: g[:1]", RuntimeError), ("lambda g: 3", TypeError)],
    ids=["shape", "type"],
)
def test_a_hook_returning_a_misfit_is_one_clear_line(hook: str, error: type) -> None:
    x = tinylm.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(eval(hook))
    with pytest.raises(error) as info:
        (x * x).sum().backward()
    assert "hook" in str(info.value) and "\n" not in str(info.value)


@LIBS
def test_register_hook_refuses_a_tensor_without_grad(lib: Any) -> None:
    with pytest.raises(RuntimeError):
        lib.tensor([1.0]).register_hook(lambda g: g)


FLIP_ROLL_CALLS = [
    "lib.flip(x, [0, 2])",
    "lib.flip(x, (-1,))",
    "lib.flip(x, [])",
    "x.flip(0, 1)",
    "x.flip((2, 0))",
    "x.flip(-1)",
    "x.transpose(0, 2).flip(1)",  # a non-contiguous input
    "lib.roll(x, 5)",  # no dims: the flattened tensor, shape kept
    "lib.roll(x, -30)",
    "lib.roll(x, (1,))",
    "lib.roll(x, 1, 2)",
    "lib.roll(x, (1, -2), (0, 2))",
    "x.roll((1, 1), (1, 1))",  # a dim given twice: its shifts add up
    "x.roll(shifts=7, dims=-1)",
    "x[:, ::2].roll(1, 1)",
    "lib.roll(lib.flip(x, [1]), [2, 1], [1, 0])",
]


@pytest.mark.parametrize("call", FLIP_ROLL_CALLS)
def test_flip_and_roll_values_and_gradients_match_torch(call: str) -> None:
    def run(lib: Any) -> list[np.ndarray]:
        x = lib.tensor(np.arange(24.0).reshape(2, 3, 4) ** 1.5, requires_grad=True)
        x = x.double() if lib is torch else x.to(lib.float64)  # float64, not a leaf
        leaf = x
        x.retain_grad()
        y = eval(call, {"lib": lib, "x": x})
        weights = lib.tensor(np.sin(np.arange(y.numel())).reshape(tuple(y.shape)))
        (y * weights.to(y.dtype)).sum().backward()
        return [values(y), values(leaf.grad), np.array(dtype_name(y))]

    ours, theirs = in_both(run)
    assert ours[0].shape == theirs[0].shape and ours[2] == theirs[2]
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@LIBS
def test_flip_and_roll_return_copies_of_any_dtype(lib: Any) -> None:
    """Writing into the result leaves the input alone (NumPy's flip is a view)."""
    x = lib.tensor([[1, 2, 3], [4, 5, 6]])
    f, r = x.flip(1), x.roll(1, 0)
    f[0, 0], r[0, 0] = 100, 200
    assert values(x).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert values(f).tolist() == [[100, 2, 1], [6, 5, 4]] and f.dtype == lib.int64
    assert values(lib.roll(lib.tensor([True, False, False]), 1)).tolist() == [False, True, False]
    assert (
        float(lib.flip(lib.tensor(3.0), [0])) == 3.0 and float(lib.roll(lib.tensor(3.0), 1)) == 3.0
    )


@pytest.mark.parametrize(
    "call",
    [
        "lib.roll(x, (1, 2))",  # two shifts, no dims
        "lib.roll(x, [1], [0, 1])",  # shifts and dims do not align
        "lib.roll(x, 1, 3)",  # no dim 3
        "lib.roll(lib.tensor(3.0), 1, 0)",  # a 0-d tensor has no dim to roll along
        "lib.roll(x, 1.5)",
        "x.flip()",
        "lib.flip(x, [0, 0])",
        "lib.flip(x, [3])",
        "x.flip(0.5)",
    ],
)
def test_bad_flip_and_roll_calls_are_one_clear_line(call: str) -> None:
    x = tinylm.zeros(2, 3, 4)
    with pytest.raises((TypeError, TinyLMError)) as info:
        eval(call, {"lib": tinylm, "x": x})
    assert "\n" not in str(info.value) and ("roll" in str(info.value) or "flip" in str(info.value))
    with pytest.raises((TypeError, RuntimeError, IndexError)):  # PyTorch refuses them too
        eval(call, {"lib": torch, "x": torch.zeros(2, 3, 4)})


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's: scheduler before optimizer
def test_exponential_lr_matches_torch_also_chained_with_another_scheduler() -> None:
    """ExponentialLR multiplies the group's current lr by γ each step (PyTorch's chained
    form): an lr set by hand and a second scheduler are built on."""

    def run(lib: Any) -> list[float]:
        sched = lib.optim.lr_scheduler
        w = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([{"params": [w]}, {"params": [], "lr": 0.5}], lr=0.1)
        exp, step = sched.ExponentialLR(opt, gamma=0.9), sched.StepLR(opt, 3, 0.5)
        lrs = [g["lr"] for g in opt.param_groups]
        for i in range(10):
            opt.step()
            exp.step()
            step.step()
            if i == 4:
                opt.param_groups[0]["lr"] = 0.05
            lrs += [g["lr"] for g in opt.param_groups] + exp.get_last_lr()
        single = sched.ExponentialLR(lib.optim.SGD([w], lr=1.0), 0.5)
        for _ in range(3):
            single.step()
        return lrs + single.get_last_lr() + [single.last_epoch]

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------------------
# Inputs PyTorch refuses, which tinylm once accepted (a silent difference): refused alike
# ---------------------------------------------------------------------------------------

#: What each library raises for a refused call: PyTorch's type, or TinyLMError where tinylm
#: refuses a bad op argument that way (a ValueError) and PyTorch says RuntimeError.
REFUSED = [
    ("lib.tensor([1, 2, 3]).mean()", RuntimeError, TinyLMError),
    ("lib.tensor([[1, 2], [3, 4]]).mean(0)", RuntimeError, TinyLMError),
    ("lib.tensor([1, 2]).var()", RuntimeError, TinyLMError),
    ("lib.tensor([1, 2]).std(0)", RuntimeError, TinyLMError),
    ("lib.zeros(2.5)", TypeError, TypeError),
    ("lib.ones(2.5)", TypeError, TypeError),
    ("lib.empty(2.5)", TypeError, TypeError),
    ("lib.zeros(2, 3.0)", TypeError, TypeError),
    ("lib.randn(size=(2.5,))", TypeError, TypeError),
    ("lib.ones(4).reshape(2.0, 2)", TypeError, TypeError),
    ("lib.ones(2, 3) @ lib.ones(3, 2, dtype=lib.float64)", RuntimeError, TinyLMError),
    ("lib.matmul(lib.ones(3), lib.ones(3, dtype=lib.float64))", RuntimeError, TinyLMError),
    ("lib.ones(2, 2, dtype=lib.int64) @ lib.ones(2, 2)", RuntimeError, TinyLMError),
    ("lib.arange(5)[::-1]", ValueError, TinyLMError),
    ("lib.ones(2, 3)[:, ::-2]", ValueError, TinyLMError),
    ("lib.zeros(5).__setitem__(slice(None, None, -1), 1.0)", ValueError, TinyLMError),
    ("lib.ones(2).flip()", TypeError, TypeError),  # the dims are required
    ("lib.arange(5, 0)", RuntimeError, TinyLMError),
    ("lib.arange(0, 5, -1)", RuntimeError, TinyLMError),
    ("lib.arange(-3)", RuntimeError, TinyLMError),
    ("lib.arange(5.0, 0.0, 0.5)", RuntimeError, TinyLMError),
    ("lib.tensor([1, 100, -5], dtype=lib.int8).clamp(0, 300)", RuntimeError, TinyLMError),
    ("lib.tensor([1, 100, -5], dtype=lib.int8).clamp(min=-129)", RuntimeError, TinyLMError),
    ("lib.tensor([1, 2], dtype=lib.uint8).clamp(0, 256)", RuntimeError, TinyLMError),
    ("lib.where(m, lib.tensor([1, 2], dtype=lib.int8), 300)", RuntimeError, TinyLMError),
    ("lib.where(m, -256, lib.tensor([1, 2], dtype=lib.uint8))", RuntimeError, TinyLMError),
    ("lib.nn.functional.gelu(lib.tensor([1, 2]))", NotImplementedError, TinyLMError),
    ("lib.nn.GELU('tanh')(lib.tensor([1, 2]))", NotImplementedError, TinyLMError),
    (
        "lib.nn.functional.mse_loss(lib.tensor([1, 2]), lib.tensor([1, 3]))",
        NotImplementedError,
        TinyLMError,
    ),
    (
        "lib.nn.MSELoss(reduction='sum')(lib.tensor([1, 2]), lib.tensor([1, 3]))",
        NotImplementedError,
        TinyLMError,
    ),
    ("lib.ones(2, requires_grad=True).numpy()", RuntimeError, RuntimeError),
    ("(lib.ones(2, requires_grad=True) * 2).numpy()", RuntimeError, RuntimeError),
    ("np.asarray(lib.ones(2, requires_grad=True))", RuntimeError, RuntimeError),
    ("F.cross_entropy(z, lib.tensor([0, 2], dtype=lib.int32))", RuntimeError, TinyLMError),
    ("F.cross_entropy(z, lib.tensor([0, 2], dtype=lib.int16))", RuntimeError, TinyLMError),
    ("F.nll_loss(z, lib.tensor([0, 2], dtype=lib.int8))", RuntimeError, TinyLMError),
]


@pytest.mark.parametrize(("call", "theirs", "ours"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_what_torch_refuses_tinylm_refuses_in_one_line(call: str, theirs: type, ours: type) -> None:
    """A silent difference is a bug: each of these once gave tinylm a value (wrapped around,
    truncated, promoted or reversed) where PyTorch raises."""

    def run(lib: Any) -> Any:
        scope = {"lib": lib, "np": np, "F": lib.nn.functional}
        scope["m"] = lib.tensor([True, False])
        scope["z"] = lib.zeros(2, 3)
        return eval(call, scope)

    with pytest.raises(theirs):
        run(torch)
    with pytest.raises(ours) as info:
        run(tinylm)
    assert "\n" not in str(info.value)


#: What PyTorch accepts next to the refusals above: the same values in both.
ACCEPTED_NEARBY = [
    "lib.tensor([1, 2]).mean(dtype=lib.float64)",
    "lib.mean(lib.tensor([1, 2]), dtype=lib.float32)",
    "lib.zeros((np.int64(2), lib.tensor(3)))",
    "lib.arange(5, 0, -1)",
    "lib.arange(0, 0)",
    "lib.arange(3.0, 0.0, -0.5)",
    "lib.arange(5).flip(0)",
    "lib.arange(6).reshape(2, 3).flip(0, 1)",
    "lib.flip(lib.arange(6).reshape(2, 3), (1,))",
    "lib.tensor([1, 100, -5], dtype=lib.int8).clamp(-128, 127)",
    "lib.tensor([1, 2], dtype=lib.uint8).clamp(-1, 1)",  # -1 wraps to 255 (min > max: max)
    "lib.where(m, lib.tensor([1, 2], dtype=lib.uint8), -1)",
    "lib.where(m, lib.tensor([1, 2], dtype=lib.int8), 2.5)",
    "lib.nn.functional.mse_loss(lib.tensor([1.0, 2.0]), lib.tensor([1, 3]))",
    "lib.ones(2, requires_grad=True).detach().numpy()",
    "lib.ones(2, requires_grad=True).numpy(force=True)",
    "F.cross_entropy(z, lib.tensor([0, 2], dtype=lib.uint8))",
    "lib.ones(2, 2, dtype=lib.int64) @ lib.ones(2, 2, dtype=lib.int64)",
]


@pytest.mark.parametrize("call", ACCEPTED_NEARBY)
def test_what_torch_accepts_next_to_a_refusal_gives_its_values(call: str) -> None:
    def run(lib: Any) -> tuple:
        scope = {"lib": lib, "np": np, "F": lib.nn.functional}
        scope["m"] = lib.tensor([True, False])
        scope["z"] = lib.tensor([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
        y = eval(call, scope)
        y = y if hasattr(y, "dtype") and hasattr(y, "shape") else lib.tensor(y)
        return dtype_name(y), tuple(y.shape), np.asarray(y)

    ours, theirs = in_both(run)
    assert ours[:2] == theirs[:2]  # dtype and shape
    if ours[2].dtype.kind == "f":
        # a float op's last bit depends on its summation order and exp (cross-entropy's
        # kernel shifts by the target's logit, torch's by the row maximum): within 1 ulp
        np.testing.assert_array_max_ulp(ours[2], theirs[2], maxulp=1)
    else:
        np.testing.assert_array_equal(ours[2], theirs[2])


def _step_lr_sequence(lib: Any, step_size: float) -> list[float]:
    opt = lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=1.0)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=0.5)
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize("step_size", [1.5, 2.5, 0.5])
def test_step_lr_with_a_float_step_size_decays_where_torch_does(step_size: float) -> None:
    """PyTorch keeps step_size=1.5 as it is (γ where step % 1.5 == 0: steps 3, 6, 9); tinylm
    made it int(1.5) = 1 and decayed at every step."""
    assert _step_lr_sequence(tinylm, step_size) == _step_lr_sequence(torch, step_size)


VAR_NO_DOF = [
    "lib.tensor([1.0]).var()",
    "lib.tensor([1.0]).std()",
    "lib.tensor([[1.0, 2.0]]).var(0)",
    "lib.tensor([1.0, 2.0], dtype=lib.float64).var(correction=2)",
    "lib.tensor([1.0, 2.0]).std(correction=3)",
]


@pytest.mark.parametrize("call", VAR_NO_DOF)
def test_variance_without_degrees_of_freedom_is_nan_or_inf_with_a_warning(call: str) -> None:
    """PyTorch divides by max(0, n - correction) and warns; tinylm raised."""

    def run(lib: Any) -> tuple:
        with pytest.warns(UserWarning, match="degrees of freedom"):
            y = eval(call, {"lib": lib})
        return dtype_name(y), values(y).tolist()

    ours, theirs = in_both(run)
    np.testing.assert_array_equal(ours[1], theirs[1])  # nan == nan here
    assert ours[0] == theirs[0]


@pytest.mark.parametrize("dims", [(5,), (0, 5), (-4,), (2, 0)])
@LIBS
def test_flatten_refuses_dims_out_of_range_or_reversed(lib: Any, dims: tuple[int, ...]) -> None:
    """``x.flatten(5)`` of a 3-d tensor wrapped around to dim 2 (5 % 3) instead of failing."""
    x = lib.zeros(2, 3, 4)
    with pytest.raises((IndexError, RuntimeError, TinyLMError)) as info:
        x.flatten(*dims)
    assert "\n" not in str(info.value)
    assert tuple(x.flatten(-2, -1).shape) == (2, 12)


SCHEDULES = {
    "linear_warmup": "lib.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4)",
    "linear_decay": "lib.optim.lr_scheduler.LinearLR(opt, 1.0, 0.1, total_iters=6)",
    "linear_default": "lib.optim.lr_scheduler.LinearLR(opt)",
}


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_linear_lr_follows_torchs_learning_rates(make: str) -> None:
    """Per group, every step, an lr set by hand in the middle built on (the chained form)."""

    def run(lib: Any) -> list[list[float]]:
        w = [lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)]
        opt = lib.optim.SGD([{"params": [w[0]]}, {"params": [w[1]], "lr": 0.5}], lr=0.1)
        sched = eval(make, {"lib": lib, "opt": opt})
        lrs = []
        for step in range(9):
            opt.step()
            sched.step()
            if step == 5:
                opt.param_groups[1]["lr"] = 0.05
            lrs.append([round(lr, 12) for lr in sched.get_last_lr()])
        return lrs

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(patience=1, factor=0.5),
        dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs", cooldown=2),
        dict(patience=0, min_lr=[0.02, 0.3], factor=0.2),
    ],
)
def test_reduce_lr_on_plateau_follows_torch(kw: dict) -> None:
    metrics = [1.0, 0.9, 0.95, 0.95, 0.9, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.7] * 2

    def run(lib: Any) -> list[list[float]]:
        w = [lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)]
        opt = lib.optim.SGD([{"params": [w[0]]}, {"params": [w[1]], "lr": 0.5}], lr=0.1)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append([g["lr"] for g in opt.param_groups])
        return lrs

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


OPTIMIZERS = {
    "rmsprop": "lib.optim.RMSprop(groups, lr=0.01)",
    "rmsprop_full": "lib.optim.RMSprop(groups, lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1, "
    "momentum=0.8, centered=True)",
    "adagrad": "lib.optim.Adagrad(groups, lr=0.1)",
    "adagrad_full": "lib.optim.Adagrad(groups, lr=0.1, lr_decay=0.05, weight_decay=0.01, "
    "initial_accumulator_value=0.3, eps=1e-8)",
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_rmsprop_and_adagrad_step_as_torch(make: str) -> None:
    """Ten steps on a small least-squares problem, two parameter groups (the second with
    its own lr): the parameters equal PyTorch's after every step."""
    rng = np.random.default_rng(9)
    a, b, w0, v0 = (rng.standard_normal(s) for s in [(6, 3), (6,), (3,), (1,)])

    def run(lib: Any) -> list[np.ndarray]:
        w = lib.tensor(w0, requires_grad=True)
        v = lib.tensor(v0, requires_grad=True)
        groups = [{"params": [w]}, {"params": [v], "lr": 0.03}]
        opt = eval(make, {"lib": lib, "groups": groups})
        history = []
        for _ in range(10):
            opt.zero_grad()
            loss = ((lib.tensor(a) @ w + v - lib.tensor(b)) ** 2).mean()
            loss.backward()
            opt.step()
            history.append(np.concatenate([values(w), values(v)]))
        return history

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


ONE_CYCLE = {
    "sgd_cos": ("SGD", dict(max_lr=0.5, total_steps=12)),
    "adamw_linear": (
        "AdamW",
        dict(
            max_lr=[0.01, 0.02],
            epochs=3,
            steps_per_epoch=4,
            anneal_strategy="linear",
            pct_start=0.25,
        ),
    ),  # fmt: skip
    "sgd_three_phase": ("SGD", dict(max_lr=0.3, total_steps=12, three_phase=True)),
    "adam_no_momentum_cycle": ("Adam", dict(max_lr=0.1, total_steps=12, cycle_momentum=False)),
}


@pytest.mark.parametrize("case", ONE_CYCLE.values(), ids=ONE_CYCLE.keys())
def test_one_cycle_lr_follows_torchs_lr_and_momentum(case: tuple) -> None:
    name, kw = case

    def run(lib: Any) -> list[list[float]]:
        w = [lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)]
        extra = {"momentum": 0.9} if name == "SGD" else {}
        opt = getattr(lib.optim, name)([{"params": [w[0]]}, {"params": [w[1]]}], lr=0.1, **extra)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, **kw)
        seen = []
        for _ in range(12):
            g = opt.param_groups[1]
            m = g["betas"][0] if "betas" in g else g["momentum"]
            seen.append([*sched.get_last_lr(), m])
            opt.step()
            sched.step()
        return seen

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@LIBS
def test_one_cycle_lr_refuses_a_step_past_its_end(lib: Any) -> None:
    opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises((ValueError, TinyLMError)) as info:
        opt.step()
        sched.step()
    assert "\n" not in str(info.value)


INPLACE_UNARY = [
    "abs_()", "neg_()", "exp_()", "log_()", "sqrt_()", "sigmoid_()", "tanh_()", "relu_()",
    "pow_(2)", "tril_()", "triu_(1)",
]  # fmt: skip


@pytest.mark.parametrize("call", INPLACE_UNARY)
def test_inplace_unary_ops_write_into_the_tensor_as_torch(call: str) -> None:
    """``x.exp_()`` and friends: the value written into x's own memory (a view of x sees
    it), x returned, and refused on a leaf that requires grad while recording."""

    def run(lib: Any) -> Any:
        x = lib.tensor([[0.5, 2.0, 1.5], [3.0, 0.25, 4.0]], dtype=lib.float64)
        view = x[0]
        out = eval(f"x.{call}", {"x": x})
        assert out is x
        with pytest.raises(RuntimeError):
            eval(f"w.{call}", {"w": lib.ones(2, 3, requires_grad=True)})
        return values(x).tolist(), values(view).tolist()

    ours, theirs = in_both(run)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-14)


@LIBS
def test_tensor_facts_as_torch(lib: Any) -> None:
    x = lib.zeros(2, 3, dtype=lib.float64)
    i = lib.zeros(4, dtype=lib.int32)
    facts = [x.is_floating_point(), i.is_floating_point(), x.is_complex(), x.element_size(),
             x.itemsize, x.nbytes, i.nbytes]  # fmt: skip
    assert facts == [True, False, False, 8, 8, 48, 16]
    y = lib.tensor([-1.0, 0.5, 3.0])
    assert y.clamp_min(0.0).tolist() == [0.0, 0.5, 3.0]
    assert y.clamp_max(1.0).tolist() == [-1.0, 0.5, 1.0]


SCATTER_CALLS = [
    "x.scatter(1, idx, src)",
    "x.scatter(0, idx0, src)",
    "x.scatter(1, idx, 2.5)",  # a number, positionally
    "x.scatter(1, idx, value=-1.0)",
    "lib.zeros(3, 4, dtype=lib.float64).scatter(1, t.unsqueeze(1), 1.0)",  # one-hot
]


@pytest.mark.parametrize("call", SCATTER_CALLS)
def test_scatter_values_and_gradients_as_torch(call: str) -> None:
    """Distinct places per index (PyTorch leaves repeated ones unspecified); gradients of x
    and src with a random upstream gradient."""
    g = np.random.default_rng(4).standard_normal((3, 4))

    def run(lib: Any) -> list[Any]:
        x = lib.tensor(np.arange(12.0).reshape(3, 4), dtype=lib.float64, requires_grad=True)
        # src of the index's shape (PyTorch's own backward refuses a larger src)
        src_shape = (1, 4) if "idx0" in call else (3, 2)
        src = lib.tensor(-np.arange(1.0, 1.0 + np.prod(src_shape)).reshape(src_shape),
                         dtype=lib.float64, requires_grad=True)  # fmt: skip
        names = {
            "lib": lib, "x": x, "src": src, "t": lib.tensor([2, 0, 3]),
            "idx": lib.tensor([[3, 1], [0, 2], [1, 3]]), "idx0": lib.tensor([[2, 0, 1, 2]]),
        }  # fmt: skip
        y = eval(call, names)
        if y.requires_grad:
            y.backward(lib.tensor(g))
        grads = [None if t.grad is None else values(t.grad) for t in (x, src)]
        return [values(y), *grads]

    ours, theirs = in_both(run)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-14)


@LIBS
def test_scatter_in_place_makes_a_one_hot_matrix(lib: Any) -> None:
    m = lib.zeros(2, 3).scatter_(1, lib.tensor([[2], [0]]), 1.0)
    assert m.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


DIAGONAL_CALLS = [
    "m.diagonal()", "m.diagonal(1)", "m.diagonal(-2)", "m.diagonal(5)",
    "c.diagonal(0, 1, 2)", "c.diagonal(1, 0, 2)", "c.diagonal(-1, 2, 0)",
    "lib.diag(m)", "lib.diag(m, 2)", "lib.diag(v)", "lib.diag(v, 1)", "lib.diag(v, -2)",
    "m[:, :3].trace()", "lib.trace(m)",
]  # fmt: skip


@pytest.mark.parametrize("call", DIAGONAL_CALLS)
def test_diagonal_diag_trace_values_and_gradients_as_torch(call: str) -> None:
    rng = np.random.default_rng(8)
    m0, c0, v0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 4)), rng.standard_normal(3)

    def run(lib: Any) -> list[np.ndarray]:
        m, c, v = (lib.tensor(a, requires_grad=True) for a in (m0, c0, v0))
        y = eval(call, {"lib": lib, "m": m, "c": c, "v": v})
        g = np.random.default_rng(1).standard_normal(tuple(y.shape))
        y.backward(lib.tensor(g))
        return [values(y)] + [np.zeros(t.shape) if t.grad is None else values(t.grad)
                              for t in (m, c, v)]  # fmt: skip

    ours, theirs = in_both(run)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        "lib.unique(x)",
        "x.unique(return_inverse=True, return_counts=True)",
        "lib.unique(x, return_counts=True)",
        "lib.unique(r, dim=0, return_inverse=True)",
        "lib.unique(f)",
    ],
)
def test_unique_as_torch(call: str) -> None:
    def run(lib: Any) -> list[Any]:
        names = {
            "lib": lib, "x": lib.tensor([[3, 1, 2], [3, 1, 7]]),
            "r": lib.tensor([[1, 2], [1, 2], [0, 4]]), "f": lib.tensor([0.5, -1.0, 0.5]),
        }  # fmt: skip
        out = eval(call, names)
        out = out if isinstance(out, tuple) else (out,)
        return [(values(t).tolist(), dtype_name(t)) for t in out]

    ours, theirs = in_both(run)
    assert ours == theirs
