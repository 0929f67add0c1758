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
    got = []
    for lib in (tinylm, torch):
        x = lib.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=lib.float64)
        got.append(values(eval(call, {"x": x})))
    assert got[0].shape == got[1].shape
    np.testing.assert_allclose(got[0], got[1], rtol=1e-14)


@pytest.mark.parametrize("call", ["x.max(axis=-1)", "x.min(axis=0, keepdims=True)"])
def test_max_with_numpys_axis_gives_values_and_indices(call: str) -> None:
    """``axis`` is PyTorch's alias of ``dim``: the pair, not the values alone."""
    got = []
    for lib in (tinylm, torch):
        x = lib.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
        v, i = eval(call, {"x": x})
        got.append((values(v), values(i)))
    for ours, theirs in zip(*got):
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
