"""What the torch.optim parity tests share: the same parameters, the same gradients and the
same number of steps in tinylm and in torch, so that two optimizers' trails can be compared.

A test file in this folder imports it as ``from optim_parity import ...`` (pytest puts a
test's own folder on ``sys.path``). Importing it skips the importing test file where torch is
not installed.

``lib`` is the module ``tinylm`` or ``torch``; ``make_optimizer(lib, params)`` builds the
optimizer under test in that library.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import nn

torch = pytest.importorskip("torch")

__all__ = [
    "SHAPES",
    "STEPS",
    "assert_signature_and_defaults_match",
    "gradient",
    "groups",
    "initial_values",
    "make_params",
    "set_grad",
    "set_grads",
    "torch_float64",
    "trajectory",
]

SHAPES: list[tuple[int, ...]] = [(4, 3), (5,), (2, 3)]  # the first is 2-D: see set_grad
STEPS = 60


@contextlib.contextmanager
def torch_float64() -> Iterator[None]:
    """PyTorch keeps an optimizer's scalar state (``step``, NAdam's ``mu_product``, ASGD's
    ``eta`` and ``mu``) in its default dtype; tinylm keeps Python numbers (float64)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def initial_values(shapes: list[tuple[int, ...]] = SHAPES) -> list[np.ndarray]:
    """The parameters' starting values: standard normal, from seed 0."""
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s) for s in shapes]


def gradient(theta: np.ndarray, step: int, i: int, spike: float = 0.5) -> np.ndarray:
    """∇ of ½‖θ‖² plus a per-step perturbation: the gradient depends on where θ went, so
    every update rule leaves its own trail. The noise is scaled by 0.5, and by ``spike`` on
    every seventh step (step % 7 == 3), where a test wants the gradient's size to change
    (AMSGrad's running maximum, Adafactor's row and column statistics and clipping)."""
    noise = np.random.default_rng(1000 * step + i).standard_normal(theta.shape)
    return theta + (spike if step % 7 == 3 else 0.5) * noise


def make_params(lib: ModuleType, shapes: list[tuple[int, ...]] = SHAPES) -> list[Any]:
    """The parameters of ``initial_values(shapes)``, in ``lib``."""
    if lib is torch:
        return [torch.tensor(a, requires_grad=True) for a in initial_values(shapes)]
    return [nn.Parameter(tinylm.tensor(a)) for a in initial_values(shapes)]


def set_grad(lib: ModuleType, p: Any, g: np.ndarray, i: int) -> None:
    """``p.grad = g``; the first (2-D) parameter gets a transposed (non-contiguous) gradient
    in both libraries."""
    if i == 0:
        strided = np.ascontiguousarray(g.T).T  # g's values, Fortran order
        assert not strided.flags["C_CONTIGUOUS"]
        p.grad = torch.from_numpy(strided) if lib is torch else tinylm.from_numpy(strided)
        assert not p.grad.is_contiguous()
    else:
        p.grad = lib.tensor(g)


def set_grads(lib: ModuleType, params: list[Any], step: int, spike: float = 0.5) -> None:
    """Every parameter's gradient for ``step`` (see :func:`gradient`)."""
    for i, p in enumerate(params):
        set_grad(lib, p, gradient(p.detach().numpy(), step, i, spike), i)


def trajectory(
    lib: ModuleType,
    make_optimizer: Callable[[ModuleType, list[Any]], Any],
    steps: int = STEPS,
    lr_change_at: int | None = None,
    shapes: list[tuple[int, ...]] = SHAPES,
    spike: float = 0.5,
) -> tuple[list[Any], Any]:
    """``steps`` optimizer steps from ``make_params(lib, shapes)``: the parameters and the
    optimizer after them. At step ``lr_change_at`` every group's lr is halved, as a scheduler
    would (state made at the old lr must follow)."""
    params = make_params(lib, shapes)
    opt = make_optimizer(lib, params)
    for t in range(steps):
        if t == lr_change_at:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        set_grads(lib, params, t, spike)
        opt.step()
    return params, opt


def groups(params: list[Any], *options: dict[str, Any]) -> list[dict[str, Any]]:
    """One param group a parameter: ``{"params": [p], **options[k]}``."""
    return [{"params": [p], **o} for p, o in zip(params, options)]


def assert_signature_and_defaults_match(name: str) -> None:
    """``tinylm.optim.<name>`` takes torch's arguments (names, kinds, defaults, in order) and
    an instance's ``defaults`` are torch's."""
    ours, theirs = getattr(tinylm.optim, name), getattr(torch.optim, name)
    a = inspect.signature(ours).parameters
    b = inspect.signature(theirs).parameters
    assert list(a) == list(b)
    for arg in a:
        assert a[arg].kind == b[arg].kind, arg
        assert a[arg].default == b[arg].default, arg
    p = nn.Parameter(tinylm.zeros(2))
    q = torch.zeros(2, requires_grad=True)
    assert ours([p]).defaults == theirs([q]).defaults
