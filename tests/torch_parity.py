"""What the PyTorch parity tests share: run one piece of code in tinylm and in torch, then
compare the values, dtypes and gradients, or the refusals.

A test file next to this one imports it as ``from torch_parity import ...``: pytest puts the
folder of ``tests/conftest.py`` (``tests/``) on ``sys.path``, and a test's own folder too, so
``tests/nn`` and ``tests/optim`` reach it the same way. Importing it skips the importing test
file where torch is not installed.

``build(lib, leaves)`` is the code under test, written once for both libraries: ``lib`` is the
module ``tinylm`` or ``torch`` and ``leaves`` the inputs as tensors of that library (the float
ones require grad).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm

torch = pytest.importorskip("torch")

__all__ = [
    "LIBS",
    "TORCH_ERRORS",
    "assert_same",
    "backward_of_random_sum",
    "check_against_torch",
    "copy_weights",
    "dtype_name",
    "int_and_bool_inputs",
    "leaf",
    "refused_by_both",
    "run",
    "same_dtype_and_values",
    "strided",
    "values",
]

LIBS = pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])

# what torch raises for a bad call (its class varies by kernel)
TORCH_ERRORS: tuple[type[Exception], ...] = (RuntimeError, IndexError, TypeError, ValueError)


def values(t: Any) -> np.ndarray:
    """A tensor of either library as a NumPy array (torch's ``force``: a ZeroTensor, such
    as sgn's gradient, reads as its zeros)."""
    if isinstance(t, torch.Tensor):
        return np.asarray(t.detach().numpy(force=True))
    return np.asarray(t.detach().numpy())


def dtype_name(t: Any) -> str:
    """``float32``, ``int64``, ...: the dtype's name, the same in both libraries."""
    return str(t.dtype).split(".")[-1]


def leaf(lib: ModuleType, a: np.ndarray, grad: bool = True) -> Any:
    """``a`` as a leaf tensor of ``lib``; a float one requires grad (unless not ``grad``)."""
    return lib.tensor(a, requires_grad=grad and a.dtype.kind == "f")


def strided(t: Any) -> Any:
    """A transposed, strided view ((4, 6) -> (6, 2)): not contiguous in either library."""
    return t.mT[:, ::2]


def run(
    build: Callable[[ModuleType, list[Any]], Any],
    lib: ModuleType,
    arrays: list[np.ndarray],
    seed: int = 0,
    upstream_for_every_output: bool = False,
    finite_upstream: bool = False,
) -> tuple[list[tuple[np.ndarray, str]], list[np.ndarray | None]]:
    """``build(lib, leaves)``: its outputs (one tensor or several) as (values, dtype name)
    pairs and, after a backward of Σ_k Σ out_k · u_k, each leaf's gradient (None if it has none).

    Each u_k is drawn from ``default_rng(seed)`` for the outputs that require grad, in order,
    the same in both libraries; ``upstream_for_every_output`` draws one for every output
    (those that do not require grad too, so a later output gets the next draw).
    ``finite_upstream`` makes u_k zero where out_k is ±inf (the product would be NaN in both).
    """
    leaves = [leaf(lib, a) for a in arrays]
    outs = build(lib, leaves)
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    rng = np.random.default_rng(seed)
    total = None
    for o in outs:
        if upstream_for_every_output or o.requires_grad:
            u = rng.standard_normal(tuple(o.shape))
        if o.requires_grad:
            upstream = torch.from_numpy(u) if lib is torch else tinylm.tensor(u)
            term = o * upstream.to(o.dtype)
            if finite_upstream:
                term = term.where(o.isfinite(), o.new_zeros(()))
            term = term.sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    grads = [None if t.grad is None else values(t.grad) for t in leaves]
    return [(values(o), dtype_name(o)) for o in outs], grads


def check_against_torch(
    build: Callable[[ModuleType, list[Any]], Any],
    arrays: list[np.ndarray],
    seed: int = 0,
    rtol: float = 1e-12,
    atol: float = 1e-13,
    *,
    upstream_for_every_output: bool = False,
    finite_upstream: bool = False,
    ignore_warnings: bool = False,
) -> None:
    """``build(lib, leaves)`` in both libraries: the same outputs (values, shapes, dtypes;
    NaN and ±inf in the same places) and the same gradient of every float input, to
    ``rtol`` and ``atol``. The keywords are :func:`run`'s; ``ignore_warnings`` silences the
    warnings either library gives while running (deprecation notes)."""
    with warnings.catch_warnings():
        if ignore_warnings:
            warnings.simplefilter("ignore")
        (ours, our_grads), (theirs, their_grads) = (
            run(build, lib, arrays, seed, upstream_for_every_output, finite_upstream)
            for lib in (tinylm, torch)
        )
    assert len(ours) == len(theirs)
    for k, ((a, a_dtype), (b, b_dtype)) in enumerate(zip(ours, theirs)):
        assert (a_dtype, a.shape) == (b_dtype, b.shape), f"output {k}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"output {k}")
    for i, (g, h) in enumerate(zip(our_grads, their_grads)):
        assert (g is None) == (h is None), f"input {i}: gradient {g} vs torch {h}"
        if g is not None:
            np.testing.assert_allclose(g, h, rtol=rtol, atol=atol, err_msg=f"d/d input {i}")


def same_dtype_and_values(
    call: str,
    names: Callable[[ModuleType], dict[str, Any]],
    rtol: float | None = 1e-6,
    grad_free: bool = False,
) -> None:
    """``eval(call)`` with ``lib`` and ``names(lib)`` in tinylm, then in torch: the same dtype,
    shape and values (equal where ``rtol`` is None); ``grad_free``: neither result requires
    grad."""

    def make(lib: ModuleType) -> tuple[np.ndarray, str]:
        out = eval(call, {"lib": lib, **names(lib)})
        assert not (grad_free and out.requires_grad)
        return values(out), dtype_name(out)

    (ours, our_dtype), (theirs, their_dtype) = make(tinylm), make(torch)
    assert our_dtype == their_dtype
    assert ours.shape == theirs.shape
    if rtol is None:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol)


def int_and_bool_inputs(lib: ModuleType) -> dict[str, Any]:
    """Small int32, int8, uint8, bool and float32 tensors, named for a call to eval."""
    return {
        "i": lib.tensor([[3, -1], [2, 5]], dtype=lib.int32),
        "i8": lib.tensor([[3, -1], [2, 5]], dtype=lib.int8),
        "u": lib.tensor([1, 3, 2], dtype=lib.uint8),
        "b": lib.tensor([True, False]),
        "f": lib.tensor([0.5, -1.5]),
    }


def refused_by_both(
    call: str | Callable[[ModuleType], Any],
    error: type[Exception],
    message: str,
    torch_errors: type[Exception] | tuple[type[Exception], ...] | None = TORCH_ERRORS,
) -> None:
    """torch raises one of ``torch_errors`` (None: torch is not tried, for tinylm's own
    refusals); tinylm raises ``error`` in one line that matches ``message``. ``call`` is code
    with ``lib`` (a string to eval) or a function of ``lib``."""

    def attempt(lib: ModuleType) -> Any:
        return eval(call, {"lib": lib}) if isinstance(call, str) else call(lib)

    if torch_errors is not None:
        with pytest.raises(torch_errors):
            attempt(torch)
    with pytest.raises(error, match=message) as ours:
        attempt(tinylm)
    assert "\n" not in str(ours.value)


def backward_of_random_sum(lib: ModuleType, outs: list[Any], rng: np.random.Generator) -> None:
    """A backward of Σ_k Σ out_k · u_k: one float64 u_k from ``rng``, in order, for each
    output that requires grad (None outputs are passed over); nothing if none does."""
    total = None
    for o in outs:
        if o is not None and o.requires_grad:
            term = (o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()


def assert_same(
    ours: list[np.ndarray | None],
    theirs: list[np.ndarray | None],
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> None:
    """Two lists of results (arrays, or None where there is no gradient): None in the same
    places, and the same shapes, dtypes and values."""
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a is None) == (b is None), (i, a, b)
        if a is None:
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, (i, a.shape, a.dtype, b.shape, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"result {i}")


def copy_weights(ours: Any, theirs: Any) -> None:
    """PyTorch's module ``theirs``, its parameters moved by a seeded random step, into ours:
    both in float64."""
    ours.double()
    theirs.double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(0)))
    ours.load_state_dict({k: tinylm.tensor(values(v)) for k, v in theirs.state_dict().items()})
