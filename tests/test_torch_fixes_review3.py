"""Fixes from review, each against torch on the same values: adaptive average pooling that
keeps an inf or NaN inside its own windows, the norm layers' keyword-only ``bias=`` and
reprs, the optimizers' first moments rounded once as PyTorch's ``lerp_``, and Lp pooling
over windows of zeros. Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

import inspect
import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError
from tinylm.optim.optimizer import lerp_

torch = pytest.importorskip("torch")
from torch_parity import (  # noqa: E402 - after the skip
    check_against_torch,
    copy_weights,
    refused_by_both,
    values,
)

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(31)


def functional(lib: ModuleType) -> Any:
    return tinylm.nn.functional if lib is tinylm else torch.nn.functional


# ---------------------------------------------------------------------------------------
# 1. adaptive pools: an inf or NaN stays in the windows that hold it
# ---------------------------------------------------------------------------------------

SPECIAL = {
    "inf": [1.0, np.inf, 2.0, 3.0, 4.0, 5.0],
    "-inf": [1.0, 2.0, 3.0, -np.inf, 4.0, 5.0],
    "nan": [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0],
    "inf and -inf": [np.inf, 1.0, 2.0, 3.0, 4.0, -np.inf],
    "nan at the end": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan],
}


@pytest.mark.parametrize("output_size", [1, 2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_adaptive_avg_pool1d_keeps_inf_and_nan_in_their_windows(case: str, output_size: int):
    """[1, inf, 2, 3, 4, 5] pooled to 3 is [inf, 2.5, 4.5] (it was [inf, nan, nan]); the
    gradient of the finite windows is spread over them only."""
    x = np.array([SPECIAL[case], np.arange(6.0)])[None]  # (1, 2, 6)
    with np.errstate(invalid="ignore"):
        check_against_torch(
            lambda lib, t: functional(lib).adaptive_avg_pool1d(t[0], output_size),
            [x],
            rtol=0,
            atol=0,
            finite_upstream=True,
        )
    if case == "inf" and output_size == 3:
        out = tinylm.nn.functional.adaptive_avg_pool1d(tinylm.tensor(x), 3)
        np.testing.assert_array_equal(out.numpy()[0, 0], [np.inf, 2.5, 4.5])


def test_adaptive_avg_pool1d_backward_keeps_a_nan_gradient_in_its_window() -> None:
    """A NaN or inf upstream gradient reaches only the positions of its own window."""
    x = RNG.standard_normal((1, 2, 7))
    g = np.array([[[0.5, np.nan, 2.0], [np.inf, -1.0, 0.25]]])
    grads = []
    for lib in (tinylm, torch):
        t = lib.tensor(x, requires_grad=True)
        functional(lib).adaptive_avg_pool1d(t, 3).backward(lib.tensor(g))
        grads.append(values(t.grad))
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.isfinite(grads[0][0, 0, :2]).all() and np.isfinite(grads[0][0, 0, 5:]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("length, output_size", [(7, 3), (5, 5), (3, 7), (10, 4), (1, 3), (4, 13)])
def test_adaptive_avg_pool1d_matches_torch_bit_for_bit(length: int, output_size: int, dtype):
    """Overlapping windows (T > L) and windows of unequal size: values and gradients equal
    to the bit, in float32 too (each window summed in order, the gradients added window
    after window in the input's dtype, as PyTorch's loops)."""
    x = RNG.standard_normal((2, 3, length)).astype(dtype)
    check_against_torch(
        lambda lib, t: functional(lib).adaptive_avg_pool1d(t[0], output_size), [x], rtol=0, atol=0
    )


@pytest.mark.parametrize("output_size", [3, (3,), 12])
def test_adaptive_avg_pool1d_on_strided_and_unbatched_inputs(output_size: Any) -> None:
    """A transposed input (not contiguous), unbatched (C, L) and batched, the module too."""
    x = RNG.standard_normal((9, 4))  # transposed to (4, 9): C = 4, L = 9

    def build(lib: ModuleType, t: list[Any]) -> Any:
        unbatched = functional(lib).adaptive_avg_pool1d(t[0].mT, output_size)
        batched = lib.nn.AdaptiveAvgPool1d(output_size)(t[0].mT[None, :, ::2])
        return unbatched, batched

    check_against_torch(build, [x])


def test_adaptive_avg_pool1d_refuses_integers_in_one_line() -> None:
    refused_by_both(
        lambda lib: functional(lib).adaptive_avg_pool1d(lib.arange(12).reshape(1, 2, 6), 3),
        TinyLMError,
        r"adaptive_avg_pool1d: input must be a float tensor, got int64",
    )


@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_adaptive_max_pool1d_with_inf_and_nan_matches_torch(case: str) -> None:
    """Values, indices (the last NaN, the first maximum) and gradients."""
    x = np.array([SPECIAL[case], np.arange(6.0)[::-1]])[None]
    for size in (2, 3, 4):
        check_against_torch(
            lambda lib, t, size=size: functional(lib).adaptive_max_pool1d(t[0], size, True),
            [x],
            rtol=0,
            atol=0,
            finite_upstream=True,
        )


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
@pytest.mark.parametrize("output_size", [2, 3, (3, 2), (5, 4)])
def test_adaptive_pools_2d_keep_inf_and_nan_in_their_windows(name: str, output_size: Any):
    """The 2-D pools already sum (or pick from) each window on its own: checked here."""
    x = np.arange(24.0).reshape(1, 2, 4, 3)
    x[0, 0, 0, 0], x[0, 0, 3, 2], x[0, 1, 1, 1] = np.inf, np.nan, -np.inf
    with np.errstate(invalid="ignore"):
        check_against_torch(
            lambda lib, t: getattr(functional(lib), name)(t[0], output_size),
            [x],
            rtol=1e-15,
            atol=0,
            finite_upstream=True,
        )


# ---------------------------------------------------------------------------------------
# 2. the norm layers' bias= keyword and reprs
# ---------------------------------------------------------------------------------------

NORMS = {
    "BatchNorm1d": lambda nn, **kw: nn.BatchNorm1d(3, **kw),
    "BatchNorm2d": lambda nn, **kw: nn.BatchNorm2d(3, **kw),
    "InstanceNorm1d": lambda nn, **kw: nn.InstanceNorm1d(3, **kw),
    "InstanceNorm2d": lambda nn, **kw: nn.InstanceNorm2d(3, track_running_stats=True, **kw),
    "InstanceNorm3d": lambda nn, **kw: nn.InstanceNorm3d(3, **kw),
    "GroupNorm": lambda nn, **kw: nn.GroupNorm(1, 3, **kw),
    "LayerNorm": lambda nn, **kw: nn.LayerNorm(3, **{"elementwise_affine": True, **kw}),
}
AFFINE = {"LayerNorm": "elementwise_affine"}  # the name of the switch where it is not affine


@pytest.mark.parametrize("bias", [True, False, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_layers_take_bias_as_torch(name: str, affine: bool, bias: bool | None) -> None:
    """The same repr, parameters, state_dict keys and ``bias`` attribute as PyTorch's, with
    bias=True, bias=False and bias left out, affine or not."""
    kwargs = {AFFINE.get(name, "affine"): affine}
    if bias is not None:
        kwargs["bias"] = bias
    ours, theirs = NORMS[name](tinylm.nn, **kwargs), NORMS[name](torch.nn, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert (ours.bias is None) == (theirs.bias is None)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_layers_bias_keyword_has_torchs_kind_and_default(name: str) -> None:
    """``bias`` is keyword-only where PyTorch's is (all but LayerNorm), default True."""
    ours = inspect.signature(getattr(tinylm.nn, name).__init__).parameters["bias"]
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters["bias"]
    assert (ours.kind, ours.default) == (theirs.kind, theirs.default)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_without_bias_matches_torch(shape: tuple[int, ...], training: bool) -> None:
    """BatchNorm1d(bias=False): the output and the gradients of the input and the weight,
    in training (batch statistics) and eval (running ones), through a transposed input."""
    x = RNG.standard_normal(shape[::-1])

    def build(lib: ModuleType, t: list[Any]) -> Any:
        layer = lib.nn.BatchNorm1d(3, bias=False)
        layer.double()
        with torch.no_grad() if lib is torch else tinylm.no_grad():
            layer.weight.copy_(lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64))
            layer.running_mean.copy_(lib.tensor([0.1, -0.2, 0.3], dtype=lib.float64))
        layer.train(training)
        y = layer(t[0].permute(*reversed(range(len(shape)))))
        return y, layer.running_mean

    check_against_torch(build, [x], rtol=1e-12)


def test_batchnorm2d_without_bias_loads_torchs_state_dict() -> None:
    ours, theirs = tinylm.nn.BatchNorm2d(3, bias=False), torch.nn.BatchNorm2d(3, bias=False)
    copy_weights(ours, theirs)
    x = RNG.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(
        ours(tinylm.tensor(x)).detach().numpy(), values(theirs(torch.tensor(x))), rtol=1e-12
    )


# ---------------------------------------------------------------------------------------
# 3. the optimizers' first moments: PyTorch's lerp_, rounded once
# ---------------------------------------------------------------------------------------

# no L2 weight decay: PyTorch's g + λθ is grad.add(param, alpha=λ), rounded once too, which
# tinylm's g + λθ is not (decoupled decay, θ(1 − ηλ), is the same in both)
FIRST_MOMENT_OPTIMIZERS = {
    "NAdam": {},
    "NAdam decoupled": {"weight_decay": 0.1, "decoupled_weight_decay": True},
    "RAdam decoupled": {"weight_decay": 0.05, "decoupled_weight_decay": True},
    "Adamax": {},
    "Adam amsgrad": {"amsgrad": True},
    "Adam reference": {},
    "AdamW reference": {"weight_decay": 0.1},
    "AdamW amsgrad": {"weight_decay": 0.1, "amsgrad": True},
}


@pytest.fixture
def reference_kernels() -> Any:
    """The registry's NumPy kernels (``kernels/reference.py``) for the test's duration."""
    before = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(FIRST_MOMENT_OPTIMIZERS))
def test_first_moments_equal_torchs_bit_for_bit(case: str, dtype, reference_kernels) -> None:
    """Eight steps on a (6, 7) parameter with gradients of scale 3: ``exp_avg`` equals
    torch's to the bit at every step (two roundings, β₁m + (1 − β₁)g, differ within a
    few steps). Adam and AdamW run the reference kernel (the Numba one is left as it is)."""
    cls = case.split()[0]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 7)).astype(dtype)
    ours = tinylm.nn.Parameter(tinylm.tensor(x))
    theirs = torch.nn.Parameter(torch.tensor(x))
    kwargs = FIRST_MOMENT_OPTIMIZERS[case]
    opt = getattr(tinylm.optim, cls)([ours], lr=1e-2, **kwargs)
    opt_torch = getattr(torch.optim, cls)([theirs], lr=1e-2, foreach=False, **kwargs)
    for _ in range(8):
        g = (rng.standard_normal((6, 7)) * 3).astype(dtype)
        ours.grad, theirs.grad = tinylm.tensor(g), torch.tensor(g)
        opt.step()
        opt_torch.step()
        m = np.asarray(opt.state[ours]["exp_avg"])
        assert m.dtype == dtype
        np.testing.assert_array_equal(m, values(opt_torch.state[theirs]["exp_avg"]))
    # the parameters only closely: torch keeps NAdam's μ product in float32, its second
    # moment's addcmul_ is rounded once, and the Adam family's step differs in the last bits
    np.testing.assert_allclose(ours.detach().numpy(), values(theirs), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("weight", [0.1, 0.05, 1 - 0.9, 0.5, 0.7, 1.0, 1.0 / 3])
def test_optimizer_lerp_is_torchs_lerp_(weight: float, dtype) -> None:
    """``tinylm.optim.optimizer.lerp_`` on arrays with inf and NaN in them, in place: torch's
    ``lerp_`` to the bit (the weight rounded to the dtype, one rounding, float16 worked in
    float32), and w = 1 lands on ``end``."""
    start = RNG.standard_normal(1001).astype(dtype)
    end = RNG.standard_normal(1001).astype(dtype)
    start[:3], end[3:6] = [np.inf, np.nan, 1.0], [np.nan, -np.inf, np.inf]
    want = torch.tensor(start).lerp_(torch.tensor(end), weight).numpy()
    ours = start.copy()
    with np.errstate(invalid="ignore"):
        lerp_(ours, end, weight)
    np.testing.assert_array_equal(ours, want)
    if weight == 1.0:
        np.testing.assert_array_equal(ours[6:], end[6:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_momentum_equals_torchs_bit_for_bit(nesterov: bool, dtype) -> None:
    """Muon's momentum buffer is a lerp_ too: its weight is rounded to float32 first."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4)).astype(dtype)
    ours, theirs = tinylm.nn.Parameter(tinylm.tensor(x)), torch.nn.Parameter(torch.tensor(x))
    opt = tinylm.optim.Muon([ours], lr=2e-2, weight_decay=0.1, nesterov=nesterov)
    opt_torch = torch.optim.Muon([theirs], lr=2e-2, weight_decay=0.1, nesterov=nesterov)
    for _ in range(5):
        g = rng.standard_normal((6, 4)).astype(dtype)
        ours.grad, theirs.grad = tinylm.tensor(g), torch.tensor(g)
        opt.step()
        opt_torch.step()
        np.testing.assert_array_equal(
            np.asarray(opt.state[ours]["momentum_buffer"]),
            values(opt_torch.state[theirs]["momentum_buffer"]),
        )


# ---------------------------------------------------------------------------------------
# 4. Lp pooling over windows of zeros
# ---------------------------------------------------------------------------------------

ZERO_WINDOWS = {
    "a window of zeros": [0.0, 0.0, 0.0, 1.0, 2.0, 3.0],
    "all zeros": [0.0] * 6,
    "signed zeros": [-0.0, 0.0, -0.0, 1.0, -2.0, 3.0],
    "one zero": [0.0, 1.0, 2.0, 1.0, 2.0, 3.0],
    "summing to zero": [1.0, -1.0, 0.0, 1.0, 2.0, 3.0],
}
NORM_TYPES = [1, 2, 3, 4, 1.5, 0.5, -1, -2, math.inf, -math.inf]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("case", sorted(ZERO_WINDOWS))
def test_lp_pool1d_over_zero_windows_matches_torch(case: str, norm_type: float) -> None:
    """Values and gradients as torch's: 0 with a zero gradient for a window of zeros under
    p ≥ 1 (its relu stops the infinite derivative of (·)^(1/p)), NaN where torch's 0·inf
    is NaN (p < 1), inf for a negative p."""
    x = np.array([ZERO_WINDOWS[case], ZERO_WINDOWS[case][::-1]])[None]  # (1, 2, 6)
    with np.errstate(divide="ignore", invalid="ignore"):
        check_against_torch(
            lambda lib, t: functional(lib).lp_pool1d(t[0], norm_type, 3),
            [x],
            rtol=1e-12,
            atol=0,
            ignore_warnings=True,
        )
    if norm_type >= 1 and case in ("a window of zeros", "all zeros"):
        t = tinylm.tensor(x, requires_grad=True)
        y = tinylm.nn.functional.lp_pool1d(t, norm_type, 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            y.backward(tinylm.tensor(RNG.standard_normal(tuple(y.shape))))
        assert y.detach().numpy()[0, 0, 0] == 0 and (t.grad.numpy()[0, 0, :3] == 0).all()


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("case", sorted(ZERO_WINDOWS))
def test_lp_pool2d_over_zero_windows_matches_torch(case: str, norm_type: float) -> None:
    """The same in 2-D, with (2, 3) windows over a (4, 3) image, one of them all zeros."""
    row = np.array(ZERO_WINDOWS[case]).reshape(2, 3)
    x = np.concatenate([row, row[::-1, ::-1]])[None, None]  # (1, 1, 4, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        check_against_torch(
            lambda lib, t: functional(lib).lp_pool2d(t[0], norm_type, (2, 3)),
            [x],
            rtol=1e-12,
            atol=0,
            ignore_warnings=True,
        )
