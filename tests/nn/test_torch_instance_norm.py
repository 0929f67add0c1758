"""``F.instance_norm`` / ``nn.InstanceNorm1d``–``3d`` and ``F.local_response_norm`` /
``nn.LocalResponseNorm`` (``nn/functional/instance_norm.py``, ``nn/instance_norm.py``)
against PyTorch itself: the same call on the same float64 values, the same values, shapes and
dtypes and the same gradient of every float input (the affine parameters included) for a
random upstream gradient, transposed (strided) inputs too; the running statistics after
training steps; the Modules' parameters, buffers and reprs; the same refusals.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import check_against_torch, refused_by_both, values  # noqa: E402

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(11)


def functional(lib: Any) -> Any:
    return tinylm.nn.functional if lib is tinylm else torch.nn.functional


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 4, 2, 3), (2, 2, 2, 3, 2)])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_with_input_statistics(shape: tuple, affine: bool) -> None:
    """Each sample's each channel normalised over its positions, then weight and bias."""
    c = shape[1]
    arrays = [RNG.standard_normal(shape) * 3 + 1]
    if affine:
        arrays += [RNG.standard_normal(c), RNG.standard_normal(c)]

    def build(lib: Any, leaves: list) -> Any:
        w, b = (leaves[1], leaves[2]) if affine else (None, None)
        return functional(lib).instance_norm(leaves[0], weight=w, bias=b, eps=1e-3)

    check_against_torch(build, arrays)


def test_instance_norm_of_a_strided_input_updates_running_statistics() -> None:
    """A transposed input; the running mean and (unbiased) variance move by ``momentum``
    toward the batch's average, outside the graph; the output is the same either way."""
    xt, w, b = RNG.standard_normal((6, 3, 2)), RNG.standard_normal(3), RNG.standard_normal(3)
    stats = (RNG.standard_normal(3), RNG.random(3) + 0.5)

    def build(lib: Any, leaves: list) -> Any:
        x = leaves[0].permute(2, 1, 0)  # (2, 3, 6), not contiguous
        rm, rv = (lib.tensor(a.copy()) for a in stats)
        y = functional(lib).instance_norm(x, rm, rv, leaves[1], leaves[2], True, 0.3, 1e-5)
        return y, rm, rv

    check_against_torch(build, [xt, w, b])


def test_instance_norm_with_running_statistics() -> None:
    """``use_input_stats=False`` normalises with the running statistics (the gradient flows
    to the input, weight and bias; the statistics are buffers, unchanged)."""
    x, w, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal(3), RNG.standard_normal(3)
    stats = (RNG.standard_normal(3), RNG.random(3) + 0.5)

    def build(lib: Any, leaves: list) -> Any:
        rm, rv = (lib.tensor(a.copy()) for a in stats)
        y = functional(lib).instance_norm(leaves[0], rm, rv, leaves[1], leaves[2], False)
        return y, rm, rv

    check_against_torch(build, [x, w, b])


def test_top_level_instance_norm_takes_torchs_order() -> None:
    x, w, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal(3), RNG.standard_normal(3)

    def build(lib: Any, leaves: list) -> Any:
        rm, rv = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        y = lib.instance_norm(leaves[0], leaves[1], leaves[2], rm, rv, True, 0.5, 1e-4, False)
        return y, rm, rv

    check_against_torch(build, [x, w, b])


def _module_pair(name: str, kwargs: dict) -> tuple[Any, Any]:
    ours = getattr(tinylm.nn, name)(3, eps=1e-4, dtype=tinylm.float64, **kwargs)
    theirs = getattr(torch.nn, name)(3, eps=1e-4, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(RNG.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: tinylm.tensor(values(v)) for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("InstanceNorm1d", (2, 3, 5)),
        ("InstanceNorm1d", (3, 5)),
        ("InstanceNorm2d", (2, 3, 4, 2)),
        ("InstanceNorm2d", (3, 4, 2)),
        ("InstanceNorm3d", (2, 3, 2, 2, 3)),
    ],
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"affine": True},
        {"affine": True, "bias": False},
        {"track_running_stats": True, "momentum": 0.2},
        {"track_running_stats": True, "momentum": None, "affine": True},
    ],
)
def test_instance_norm_modules_train_and_eval_as_torchs(
    name: str, shape: tuple, kwargs: dict
) -> None:
    """Two training steps then one in eval mode, from the same parameters: the outputs, the
    input's and the parameters' gradients, the state_dict after (running statistics,
    num_batches_tracked, which PyTorch's instance norm leaves at 0), repr and keys."""
    ours, theirs = _module_pair(name, kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for step in range(3):
        if step == 2:
            ours.eval(), theirs.eval()
        x, u = RNG.standard_normal(shape) * 2 + 1, RNG.standard_normal(shape)
        got = []
        for lib, m in ((tinylm, ours), (torch, theirs)):
            t = lib.tensor(x, requires_grad=True)
            y = m(t)
            (y * lib.tensor(u)).sum().backward()
            got.append(
                [values(y), values(t.grad)]
                + [values(p.grad) for p in m.parameters()]
                + [values(v) for v in m.state_dict().values()]
            )
        for a, b in zip(*got):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_instance_norm_module_warns_of_an_unused_num_features_as_torch() -> None:
    x = np.zeros((2, 4, 5))
    for lib in (tinylm, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.InstanceNorm1d(3)(lib.tensor(x))
        assert any("does not match num_features" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("lib.nn.functional.instance_norm(lib.zeros(2, 3, 1))", "more than 1 spatial element"),
        ("lib.nn.functional.instance_norm(lib.zeros(2, 3))", "more than 1 spatial element"),
        ("lib.nn.InstanceNorm1d(3)(lib.zeros(1, 2, 3, 4))", "2D \\(unbatched\\) or 3D"),
        ("lib.nn.InstanceNorm2d(3)(lib.zeros(2, 3))", "3D \\(unbatched\\) or 4D"),
        ("lib.nn.InstanceNorm1d(3, affine=True)(lib.zeros(2, 4, 5))", "match num_features"),
        (
            "lib.nn.functional.instance_norm(lib.zeros(2, 3, 4), weight=lib.ones(4))",
            "weight must be a Tensor of shape \\(3,\\)",
        ),
        ("lib.nn.functional.local_response_norm(lib.zeros(2, 3), 2)", "3D or higher"),
        (
            "lib.nn.functional.instance_norm(lib.zeros(2, 3, 4), momentum=None)",
            "momentum must be a number",
        ),
        ("lib.nn.functional.local_response_norm(lib.zeros(2, 3, 4), 0)", "positive int"),
    ],
)
def test_norm_refusals_as_torchs(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


# ---- local response norm -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 6, 3, 2), (1, 4, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 9])
def test_local_response_norm(shape: tuple, size: int) -> None:
    """The window of ``size`` channels, zero beyond the edges, divided by size (a window
    wider than the channels too)."""

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).local_response_norm(leaves[0], size, 0.3, 0.6, 1.5)

    check_against_torch(build, [RNG.standard_normal(shape) * 3])


def test_local_response_norm_module_of_a_strided_input() -> None:
    """nn.LocalResponseNorm with PyTorch's defaults and repr, on a transposed input."""
    xt = RNG.standard_normal((4, 5, 2)) * 40

    def build(lib: Any, leaves: list) -> Any:
        m = lib.nn.LocalResponseNorm(3)
        assert repr(m) == "LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)"
        return m(leaves[0].permute(2, 1, 0))

    check_against_torch(build, [xt])


def test_local_response_norm_of_float32_and_empty_inputs() -> None:
    x = RNG.standard_normal((2, 4, 3)).astype(np.float32)

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).local_response_norm(leaves[0], 2, alpha=0.5)

    check_against_torch(build, [x], rtol=1e-6, atol=1e-6)
    for lib in (tinylm, torch):
        assert tuple(functional(lib).local_response_norm(lib.zeros(0, 3, 2), 2).shape) == (0, 3, 2)


def test_local_response_norm_refuses_integers() -> None:
    """PyTorch averages an integer input's squares with integer division (its average pool
    of integers truncates), which no float formula reproduces: tinylm refuses them."""
    refused_by_both(
        "lib.nn.functional.local_response_norm(lib.ones(2, 3, 4, dtype=lib.int64), 2)",
        TinyLMError,
        "input must be floating point, got int64",
        None,
    )
