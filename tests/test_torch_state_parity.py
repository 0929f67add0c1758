"""The names set-up and utility code reads, run in tinylm and in PyTorch: ``finfo``/``iinfo``
and the constants, the global random state, deterministic mode, the default device and
inference mode, ``typename``, ``is_same_size``, ``scalar_tensor``, ``unravel_index``, and
what a tensor says of itself (``is_cpu``, ``data_ptr``, ``storage_offset``, ``retains_grad``,
``new``, ``multinomial``, ``register_post_accumulate_grad_hook``). Where both libraries run
the same script the results must agree; bad calls are one clear line.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError
from tinylm.determinism import alert_if_nondeterministic

torch = pytest.importorskip("torch")
from torch_parity import LIBS, refused_by_both, values  # noqa: E402 - after the skip

pytestmark = pytest.mark.torch


def both(make: Any) -> tuple[Any, Any]:
    return make(tinylm), make(torch)


# ---- finfo, iinfo and the constants -------------------------------------------------------

FLOATS = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_fields_and_repr_are_torchs(name: str) -> None:
    ours, theirs = both(lambda lib: lib.finfo(getattr(lib, name)))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        a, b = getattr(ours, field), getattr(theirs, field)
        assert (a, type(a)) == (b, type(b)), field
    assert repr(ours) == repr(theirs)


def test_finfo_of_a_tensors_dtype_and_of_the_default_dtype() -> None:
    assert tinylm.finfo(tinylm.ones(2, dtype=tinylm.float16).dtype).max == 65504.0
    assert tinylm.finfo().dtype == torch.finfo().dtype == "float32"
    tinylm.set_default_dtype(tinylm.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert tinylm.finfo().eps == torch.finfo().eps == 2.0**-52
    finally:
        tinylm.set_default_dtype(tinylm.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_fields_and_repr_are_torchs(name: str) -> None:
    ours, theirs = both(lambda lib: lib.iinfo(getattr(lib, name)))
    for field in ("bits", "max", "min", "dtype"):
        a, b = getattr(ours, field), getattr(theirs, field)
        assert (a, type(a)) == (b, type(b)), field
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "call, message",
    [
        ("lib.finfo(lib.int32)", "finfo: int32 is not a floating-point dtype"),
        ("lib.finfo(lib.bool)", "finfo: bool is not a floating-point dtype"),
        ("lib.iinfo(lib.float32)", "iinfo: float32 is not an integer dtype"),
        ("lib.iinfo(lib.bool)", "iinfo: bool is not an integer dtype"),
        ("lib.finfo('float32')", "finfo: expected a dtype"),
        ("lib.iinfo(3)", "iinfo: expected a dtype"),
    ],
)
def test_info_of_the_wrong_kind_of_dtype_is_refused(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


def test_masking_with_finfo_min_gives_softmax_zeros_as_torch() -> None:
    scores = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    mask = np.triu(np.ones((3, 4), dtype=bool), 1)

    def probs(lib: ModuleType) -> np.ndarray:
        x = lib.tensor(scores)
        filled = x.masked_fill(lib.tensor(mask), lib.finfo(x.dtype).min)
        return values(filled.softmax(-1))

    ours, theirs = both(probs)
    assert np.all(ours[mask] == 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_constants_are_torchs() -> None:
    for name in ("inf", "pi", "e"):
        a, b = getattr(tinylm, name), getattr(torch, name)
        assert (a, type(a)) == (b, type(b)), name
    assert math.isnan(tinylm.nan) and type(tinylm.nan) is float
    assert tinylm.newaxis is None is torch.newaxis
    assert tinylm.ones(2, 3)[:, tinylm.newaxis].shape == (2, 1, 3)


# ---- the global random state -------------------------------------------------------------


@pytest.fixture
def keep_global_rng() -> Iterator[None]:
    saved = tinylm.get_rng_state(), torch.get_rng_state()
    yield
    tinylm.set_rng_state(saved[0])
    torch.set_rng_state(saved[1])


@LIBS
def test_rng_state_round_trips_so_that_draws_repeat(lib: ModuleType, keep_global_rng) -> None:
    lib.manual_seed(11)
    lib.rand(3)
    state = lib.get_rng_state()
    assert state.dtype == lib.uint8 and state.ndim == 1
    first = [values(lib.rand(4)), values(lib.randn(2, 3)), values(lib.randint(0, 9, (5,)))]
    lib.manual_seed(99)  # another seed in between: its initial seed is replaced too
    assert lib.initial_seed() == 99
    lib.set_rng_state(state)
    again = [values(lib.rand(4)), values(lib.randn(2, 3)), values(lib.randint(0, 9, (5,)))]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert lib.initial_seed() == 11  # the state holds the seed, as PyTorch's
    assert not np.array_equal(values(lib.rand(4)), first[0])  # the state moved on


@LIBS
def test_seed_draws_a_64_bit_seed_that_initial_seed_reports(lib: ModuleType, keep_global_rng):
    s1, s2 = lib.seed(), lib.seed()
    assert type(s1) is int and 0 <= s1 < 2**64 and s1 != s2
    assert lib.initial_seed() == s2
    x = values(lib.rand(3))
    lib.manual_seed(s2)
    np.testing.assert_array_equal(values(lib.rand(3)), x)


@LIBS
def test_generator_seed_initial_seed_and_state(lib: ModuleType) -> None:
    g = lib.Generator()
    assert type(g.initial_seed()) is int  # a generator made without a seed has one too
    s = g.seed()
    assert type(s) is int and g.initial_seed() == s
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    state = g.get_state()
    x = values(lib.rand(4, generator=g))
    g.set_state(state)
    np.testing.assert_array_equal(values(lib.rand(4, generator=g)), x)


def test_a_generator_takes_get_rng_states_bytes(keep_global_rng) -> None:
    tinylm.manual_seed(4)
    g = tinylm.Generator().manual_seed(1)
    g.set_state(tinylm.get_rng_state())
    np.testing.assert_array_equal(tinylm.rand(3, generator=g).numpy(), tinylm.rand(3).numpy())
    assert g.initial_seed() == 4


@pytest.mark.parametrize(
    "call, message",
    [
        ("lib.set_rng_state(lib.zeros(3, dtype=lib.uint8))", "set_rng_state: expected a uint8"),
        ("lib.set_rng_state(lib.get_rng_state().float())", "set_rng_state: expected a uint8"),
        ("lib.set_rng_state([1, 2])", "set_rng_state: expected the uint8 tensor"),
    ],
)
def test_set_rng_state_refuses_what_get_rng_state_did_not_make(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


# ---- deterministic mode ------------------------------------------------------------------


@pytest.fixture
def deterministic_off() -> Iterator[None]:
    yield
    tinylm.use_deterministic_algorithms(False)
    torch.use_deterministic_algorithms(False)


@LIBS
def test_deterministic_flags_as_torch(lib: ModuleType, deterministic_off) -> None:
    def flags() -> tuple[bool, bool]:
        warn_only = lib.is_deterministic_algorithms_warn_only_enabled()
        return lib.are_deterministic_algorithms_enabled(), warn_only

    seen = [flags()]
    lib.use_deterministic_algorithms(True)
    seen.append(flags())
    lib.use_deterministic_algorithms(True, warn_only=True)
    seen.append(flags())
    lib.use_deterministic_algorithms(False)
    seen.append(flags())
    assert seen == [(False, False), (True, False), (True, True), (False, False)]


def test_deterministic_mode_takes_bools_only(deterministic_off) -> None:
    refused_by_both("lib.use_deterministic_algorithms(1)", TinyLMError, "mode must be a bool")
    refused_by_both(
        "lib.use_deterministic_algorithms(True, warn_only=None)",
        TinyLMError,
        "warn_only must be a bool",
    )


def _scatter_adding_ops(lib: ModuleType) -> list[np.ndarray]:
    """The ops that add into one place from several (atomic on a GPU), forward and
    backward, on the CPU: their results and gradients."""
    rng = np.random.default_rng(3)
    weight = lib.tensor(rng.standard_normal((300, 4)), requires_grad=True)
    idx = lib.tensor([[1, 7, 1], [299, 7, 7]])
    x = lib.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    src = lib.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    bag = lib.nn.EmbeddingBag(6, 2, mode="sum")
    with lib.no_grad():
        bag.weight.copy_(lib.tensor(rng.standard_normal((6, 2)), dtype=bag.weight.dtype))
    rows = lib.tensor([0, 0, 4, 2, 4])
    outs = [
        lib.nn.functional.embedding(idx, weight),
        x[lib.tensor([0, 0, 3, 0])],
        x.scatter_add(0, lib.tensor([[0, 1, 0], [0, 0, 0], [4, 4, 4], [0, 1, 1]]), src),
        x.index_put((lib.tensor([1, 1, 2]),), lib.tensor([1.0, 2.0, 3.0]).double(), True),
        bag(rows, lib.tensor([0, 2])),
    ]
    upstream = [lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in outs]
    sum((o * u).sum() for o, u in zip(outs, upstream)).backward()
    return [values(o) for o in outs] + [values(t.grad) for t in (weight, x, src, bag.weight)]


def test_the_scatter_adding_ops_run_on_the_cpu_in_deterministic_mode(deterministic_off) -> None:
    tinylm.use_deterministic_algorithms(True)
    torch.use_deterministic_algorithms(True)
    first = _scatter_adding_ops(tinylm)
    again = _scatter_adding_ops(tinylm)
    theirs = _scatter_adding_ops(torch)
    for a, b, c in zip(first, again, theirs):
        np.testing.assert_array_equal(a, b)  # bit for bit from run to run
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


class _GpuArray:
    """Stands for an array on a GPU (anything but a NumPy array) without needing one."""


def test_an_atomic_scatter_add_on_a_gpu_is_refused_or_warned(deterministic_off) -> None:
    alert_if_nondeterministic("embedding backward", _GpuArray())  # off: nothing said
    alert_if_nondeterministic("embedding backward", np.zeros(2))
    tinylm.use_deterministic_algorithms(True)
    alert_if_nondeterministic("embedding backward", np.zeros(2))  # the CPU: fine
    with pytest.raises(RuntimeError, match="embedding backward on CUDA adds with atomic") as e:
        alert_if_nondeterministic("embedding backward", _GpuArray())
    assert "\n" not in str(e.value)
    tinylm.use_deterministic_algorithms(True, warn_only=True)
    with pytest.warns(UserWarning, match="scatter_add on CUDA adds with atomic"):
        alert_if_nondeterministic("scatter_add", _GpuArray())


@pytest.mark.gpu
@pytest.mark.skipif(not tinylm.cuda_is_available(), reason="needs CuPy and a CUDA device")
def test_embedding_and_index_backward_on_a_gpu_are_refused_in_deterministic_mode(
    deterministic_off,
) -> None:
    weight = tinylm.randn(10, 3, device="cuda", requires_grad=True)
    idx = tinylm.tensor([1, 1, 4], device="cuda")
    tinylm.nn.functional.embedding(idx, weight).sum().backward()  # off: allowed
    tinylm.use_deterministic_algorithms(True)
    with pytest.raises(RuntimeError, match="embedding backward on CUDA"):
        tinylm.nn.functional.embedding(idx, weight).sum().backward()
    with pytest.raises(RuntimeError, match="indexing backward on CUDA"):
        weight[idx].sum().backward()
    with pytest.raises(RuntimeError, match="scatter_add on CUDA"):
        weight.detach().scatter_add(0, idx[:, None].expand(3, 3), weight.detach()[:3])
    tinylm.use_deterministic_algorithms(True, warn_only=True)
    with pytest.warns(UserWarning, match="embedding backward on CUDA"):
        tinylm.nn.functional.embedding(idx, weight).sum().backward()


# ---- the default device, inference mode ----------------------------------------------------


@LIBS
def test_the_default_device_is_the_cpu(lib: ModuleType) -> None:
    lib.set_default_device("cpu")
    assert lib.get_default_device().type == "cpu" and str(lib.get_default_device()) == "cpu"
    assert lib.zeros(2).device.type == "cpu"
    lib.set_default_device(None)
    assert str(lib.get_default_device()) == "cpu"


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "meta", "mps"])
def test_another_default_device_is_refused(device: str) -> None:
    with pytest.raises(TinyLMError, match=f"set_default_device: .* got '{device}'") as e:
        tinylm.set_default_device(device)
    assert "\n" not in str(e.value)
    assert tinylm.get_default_device() == tinylm.device("cpu")


def _inference_script(lib: ModuleType) -> list[bool]:
    x = lib.ones(2, 3)
    seen = [lib.is_inference_mode_enabled(), x.is_inference()]
    with lib.inference_mode():
        y, z = x + 1, lib.zeros(2)
        seen += [lib.is_inference_mode_enabled(), y.is_inference(), z.is_inference()]
        seen += [x[0].is_inference(), x.t().is_inference(), x.detach().is_inference()]
        seen += [y[0].is_inference(), (x > 0).is_inference(), lib.tensor([1.0]).is_inference()]
        with lib.inference_mode(False):
            seen += [lib.is_inference_mode_enabled(), (x * 2).is_inference()]
        seen.append(lib.is_inference_mode_enabled())
    with lib.no_grad():
        seen += [lib.is_inference_mode_enabled(), (x + 1).is_inference()]

    @lib.inference_mode()
    def called(t: Any) -> list[bool]:
        return [lib.is_inference_mode_enabled(), (t + 1).is_inference()]

    @lib.inference_mode
    def bare(t: Any) -> list[bool]:
        return [lib.is_inference_mode_enabled(), (t + 1).is_inference()]

    seen += called(x) + bare(x)
    seen += [lib.is_inference_mode_enabled(), y.is_inference(), (y + x).is_inference()]
    return seen


def test_inference_mode_and_inference_tensors_as_torch() -> None:
    ours, theirs = both(_inference_script)
    assert ours == theirs


# ---- small helpers ---------------------------------------------------------------------------


def test_typename_as_torch() -> None:
    for name in [*FLOATS, *INTS, "bool"]:
        assert tinylm.typename(tinylm.zeros(2, dtype=getattr(tinylm, name))) == torch.typename(
            torch.zeros(2, dtype=getattr(torch, name))
        )
    for obj in [3, 2.5, "s", None, np.ones(2), np.ndarray, int, len, math.sqrt, both, values]:
        assert tinylm.typename(obj) == torch.typename(obj), obj
    assert tinylm.typename(tinylm.nn.Linear(2, 2)) == "tinylm.nn.layers.Linear"


@LIBS
def test_is_same_size(lib: ModuleType) -> None:
    a = lib.zeros(2, 3)
    assert lib.is_same_size(a, lib.ones(2, 3, dtype=lib.int64)) is True
    assert lib.is_same_size(a, a.t()) is False
    assert lib.is_same_size(lib.zeros(()), lib.tensor(3.0)) is True


def test_is_same_size_refuses_a_list() -> None:
    refused_by_both("lib.is_same_size(lib.ones(2), [1, 2])", TinyLMError, "other must be a Tensor")


@pytest.mark.parametrize(
    "s, kwargs",
    [
        (3, {}),
        (2.5, {}),
        (True, {}),
        (-3.7, {"dtype": "int64"}),
        (3.7, {"dtype": "int32"}),
        (1e300, {"dtype": "float64"}),
        (7, {"dtype": "bool"}),
        (0.5, {"dtype": "float64", "requires_grad": True}),
    ],
)
def test_scalar_tensor_as_torch(s: Any, kwargs: dict[str, Any]) -> None:
    def make(lib: ModuleType) -> Any:
        args = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
        return lib.scalar_tensor(s, **args)

    ours, theirs = both(make)
    assert ours.shape == tuple(theirs.shape) == ()
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_array_equal(values(ours), values(theirs))


def test_scalar_tensor_of_a_0d_tensor_and_refusals() -> None:
    ours, theirs = both(lambda lib: lib.scalar_tensor(lib.tensor(2.5)))
    assert values(ours) == values(theirs) and str(ours.dtype) == "float32"
    refused_by_both("lib.scalar_tensor([2.5])", TinyLMError, "scalar_tensor: s must be a number")


@pytest.mark.parametrize(
    "indices, shape",
    [
        ([4, 7, 0], (2, 4)),
        ([[0, 5], [3, 2]], (2, 3)),
        ([-1, -6, 5], (2, 3)),
        (11, (3, 4)),
        ([1, 2], 6),
        ([5, 23], (2, 3, 4)),
        ([0], ()),
        ([], (0, 3)),
    ],
)
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_unravel_index_as_torch(indices: Any, shape: Any, dtype: str) -> None:
    def make(lib: ModuleType) -> Any:
        return lib.unravel_index(lib.tensor(indices, dtype=getattr(lib, dtype)), shape)

    if shape == ():
        indices = [0]
    ours, theirs = both(make)
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a.shape, str(a.dtype)) == (tuple(b.shape), "int64")
        np.testing.assert_array_equal(values(a), values(b))


@pytest.mark.parametrize(
    "call, message, torch_errors",
    [
        (
            "lib.unravel_index(lib.tensor([1.0]), (2, 3))",
            "expected 'indices' to be integer",
            TypeError,
        ),
        (
            "lib.unravel_index(lib.tensor([True]), (2, 3))",
            "expected 'indices' to be integer",
            TypeError,
        ),
        ("lib.unravel_index(lib.tensor([1]), (2, -3))", "shape cannot have negative", ValueError),
        ("lib.unravel_index(lib.tensor([6]), (2, 3))", r"must lie in \[-6, 6\)", None),
        ("lib.unravel_index(lib.tensor([-7]), (2, 3))", r"must lie in \[-6, 6\)", None),
    ],
)
def test_unravel_index_refusals(call: str, message: str, torch_errors: Any) -> None:
    refused_by_both(call, TinyLMError, message, torch_errors)


# ---- what a tensor says of itself ----------------------------------------------------------


@LIBS
def test_device_attributes(lib: ModuleType) -> None:
    x = lib.ones(2, 3)
    assert (x.is_cpu, x.is_cuda, x.get_device()) == (True, False, -1)
    assert x.t()[0].get_device() == -1


VIEWS = {
    "t": lambda x: x.t(),
    "row": lambda x: x[1],
    "cols": lambda x: x[:, 1:],
    "t_row": lambda x: x.t()[2],
    "reshape_slice": lambda x: x.reshape(3, 2)[1:],
    "diagonal": lambda x: x.diagonal(1),
    "unbind": lambda x: x.unbind(0)[1],
    "chunk": lambda x: x.chunk(3, 1)[2],
    "narrow": lambda x: x.narrow(1, 1, 2),
    "expand": lambda x: x.expand(4, 2, 3)[1],
    "flatten_slice": lambda x: x.flatten()[3:],
    "unsqueeze": lambda x: x[1].unsqueeze(0),
    "contiguous_copy": lambda x: x.t().contiguous(),
    "column": lambda x: x[:, 2],
    "split": lambda x: x.split(1)[1],
    "none_index": lambda x: x[..., None][1],
    "movedim": lambda x: x.movedim(0, 1)[1],
    "clone": lambda x: x[1].clone(),
    "detach": lambda x: x[1:].detach(),
    "strided": lambda x: x[:, ::2][1],
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_storage_offset_and_data_ptr_of_views_as_torch(view: str) -> None:
    def offsets(lib: ModuleType) -> tuple[int, int, bool]:
        base = lib.arange(6.0, dtype=lib.float64).reshape(2, 3)
        v = VIEWS[view](base)
        shares = v.data_ptr() - base.data_ptr() == v.storage_offset() * 8
        return v.storage_offset(), v.data_ptr() - base.data_ptr(), shares

    ours, theirs = both(offsets)
    if view in ("clone", "contiguous_copy"):  # new memory: offset 0, elsewhere
        assert ours[0] == theirs[0] == 0 and ours[1] != 0 and theirs[1] != 0
    else:
        assert ours == theirs


@LIBS
def test_data_ptr_of_empty_and_fresh_tensors(lib: ModuleType) -> None:
    assert lib.empty(0).data_ptr() == 0
    # a view without elements: NumPy keeps no offset for it, so tinylm says 0 (PyTorch 3)
    assert lib.zeros(3)[3:].storage_offset() == (0 if lib is tinylm else 3)
    x = lib.zeros(4)
    assert x.data_ptr() != 0 and x.data_ptr() == x.view(2, 2).data_ptr()
    assert x.data_ptr() != x.clone().data_ptr() and x.storage_offset() == 0


@LIBS
def test_retains_grad_as_torch(lib: ModuleType) -> None:
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    seen = [a.retains_grad, b.retains_grad, lib.zeros(2).retains_grad]
    a.retain_grad()  # a leaf keeps its grad anyway: still False
    b.retain_grad()
    seen += [a.retains_grad, b.retains_grad]
    (b * b).sum().backward()
    assert seen == [False, False, False, False, True]
    np.testing.assert_array_equal(values(b.grad), [4.0, 8.0])


def test_retain_grad_refuses_a_tensor_without_grad() -> None:
    refused_by_both("lib.zeros(2).retain_grad()", RuntimeError, "does not require grad")


@pytest.mark.parametrize("size", [(), (3,), (2, 3), (0, 2)])
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_new_with_sizes_as_torch(size: tuple[int, ...], dtype: str) -> None:
    ours, theirs = both(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).t().new(*size))
    assert (ours.shape, str(ours.dtype)) == (tuple(theirs.shape), dtype)
    assert not ours.requires_grad and ours.device.type == "cpu"
    assert tinylm.ones(2).new(2, device="cpu").shape == torch.ones(2).new(2, device="cpu").shape


@pytest.mark.parametrize(
    "call, message",
    [
        ("lib.ones(2).new([1, 2])", "new: takes sizes as ints"),
        ("lib.ones(2).new((2, 3))", "new: takes sizes as ints"),
        ("lib.ones(2).new(lib.ones(3))", "new: takes sizes as ints"),
        ("lib.ones(2).new(2.0)", "new: takes sizes as ints"),
        ("lib.ones(2).new(2, -1)", "new: sizes must be non-negative"),
    ],
)
def test_new_refuses_data_and_shape_tuples(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message, torch_errors=None)


def test_multinomial_method_as_the_function() -> None:
    w = np.array([[0.0, 1.0, 3.0, 0.5], [2.0, 0.0, 1.0, 1.0]])
    for replacement, n in ((False, 2), (True, 5)):

        def draw(lib: ModuleType, n: int = n, replacement: bool = replacement) -> Any:
            return lib.tensor(w).t()[:3].t().multinomial(n, replacement)

        ours, theirs = both(draw)
        assert (ours.shape, str(ours.dtype)) == (tuple(theirs.shape), "int64")
        assert np.all(w[np.arange(2)[:, None], values(ours)] > 0)  # never a zero weight
        tinylm.manual_seed(3)
        a = tinylm.tensor(w).multinomial(
            n, replacement, generator=tinylm.Generator().manual_seed(8)
        )
        b = tinylm.multinomial(
            tinylm.tensor(w), n, replacement, generator=tinylm.Generator().manual_seed(8)
        )
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    refused_by_both("lib.tensor([1, 2, 3]).multinomial(2)", TinyLMError, "floating-point weights")
    # README: tinylm refuses more draws without replacement than non-zero weights
    refused_by_both(
        "lib.tensor([1.0, 0.0, 0.0]).multinomial(2)", TinyLMError, "without replacement", None
    )


def _post_accumulate_script(lib: ModuleType) -> list[Any]:
    """A leaf used twice, a hook that records the grad it sees and one that steps the
    parameter and clears its grad (an optimizer in the backward pass), over two backwards."""
    rng = np.random.default_rng(5)
    w = lib.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    p = lib.tensor(rng.standard_normal(3), requires_grad=True)
    x = lib.tensor(rng.standard_normal((4, 3)))
    u = lib.tensor(rng.standard_normal((4, 2)))
    seen: list[Any] = []

    def record(t: Any) -> None:
        seen.append(values(t.grad).copy())

    def step(t: Any) -> None:
        with lib.no_grad():
            t -= 0.1 * t.grad
        t.grad = None

    handle = w.register_post_accumulate_grad_hook(record)
    p.register_post_accumulate_grad_hook(step)
    for _ in range(2):
        ((x @ w) * u + (x * p) @ w).sum().backward()
    handle.remove()
    ((x @ w) * u).sum().backward()  # removed: not called
    (g,) = lib.autograd.grad(((x * p) @ w).sum(), [w])  # no .grad filled: no hook called
    seen += [values(w.grad), values(p), values(g), p.grad is None]
    return seen


def test_post_accumulate_grad_hooks_as_torch() -> None:
    ours, theirs = both(_post_accumulate_script)
    assert len(ours) == len(theirs) == 6
    for a, b in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert ours[-1] is theirs[-1] is True


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            "(lib.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)",
            RuntimeError,
            "cannot be registered on non-leaf tensors",
        ),
        (
            "lib.ones(2).register_post_accumulate_grad_hook(print)",
            RuntimeError,
            "does not require grad",
        ),
    ],
)
def test_post_accumulate_grad_hook_refusals(call: str, error: Any, message: str) -> None:
    refused_by_both(call, error, message)


@LIBS
def test_a_post_accumulate_hook_must_return_none(lib: ModuleType) -> None:
    w = lib.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: 5)
    with pytest.raises(TypeError):
        (w * 3).sum().backward()


def test_no_hook_leaves_the_backward_pass_as_it_was() -> None:
    """A leaf without post-accumulate hooks gets its gradient as before."""
    w = tinylm.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])
