"""What a PyTorch training script sets up before it trains, run in both libraries: how tensors
print (``set_printoptions``), ``compile``, ``autocast`` and ``GradScaler`` (``tinylm.amp``),
``torch.backends`` switches and the float32 product precision. Skipped without torch (a
test-only dependency).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def default_print_options() -> Iterator[None]:
    tinylm.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")
    yield
    tinylm.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


# ---- printing -----------------------------------------------------------------------------

RNG = np.random.default_rng(0)
PRINTED = {
    "thirds": np.array([1 / 3, 2.0]),
    "whole": np.array([1.0, 2.0]),
    "wraps": np.arange(20.0) / 3,
    "tiny and large": np.array([[1e-5, 1.0], [2.0, 3.5]]),
    "summarised": np.arange(2000.0),
    "inf and nan": np.array([np.inf, 1.5, np.nan]),
    "only inf and nan": np.array([np.inf, np.nan]),
    "0-d": np.array(1 / 3),
    "0-d whole": np.array(2.0),
    "empty 2-d": np.zeros((0, 4)),
    "empty": np.zeros(0),
    "above 1e8": np.array([-1.5, 2.25, 1e9]),
    "3-d": RNG.standard_normal((3, 4, 5)),
    "3-d summarised": RNG.standard_normal((12, 12, 12)),
    "small": RNG.standard_normal((2, 3)) * 1e-6,
    "zeros": np.array([0.0, -0.0]),
    "bool": np.array([True, False]),
    "ints": np.array([-1, 200]),
    "ints summarised": np.arange(3000).reshape(30, 100),
}
DTYPES = {"f": ["float32", "float64"], "b": ["bool"], "i": ["int64", "int32", "int8"]}
OPTIONS = {
    "default": {},
    "precision 2": {"precision": 2},
    "precision 6": {"precision": 6},
    "short": {"profile": "short"},
    "scientific": {"precision": 3, "sci_mode": True},
    "never scientific": {"precision": 3, "sci_mode": False},
    "threshold 5": {"threshold": 5, "edgeitems": 2},
    "no edge items": {"threshold": 5, "edgeitems": 0},
    "narrow": {"linewidth": 40},
    "full": {"profile": "full", "linewidth": 120},
}


def _same_layout(text: str) -> str:
    """The repr with torch's dtype spelled as tinylm's, and a suffix that moved to its own
    line only because ``torch.`` made it longer put back on the line before."""
    return re.sub(r",\n *dtype=", ", dtype=", text.replace("torch.", ""))


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_tensors_print_as_torch_prints_them(options: dict[str, Any]) -> None:
    tinylm.set_printoptions(**options)
    torch.set_printoptions(**options)
    for name, values in PRINTED.items():
        for dtype in DTYPES[values.dtype.kind]:
            a = values.astype(dtype)
            if np.issubdtype(a.dtype, np.integer) and not np.array_equal(a, values):
                continue  # out of the dtype's range
            ours, theirs = repr(tinylm.tensor(a)), repr(torch.tensor(a))
            assert _same_layout(ours) == _same_layout(theirs), f"{name} {dtype}"


def test_gradient_suffixes_print_as_torchs() -> None:
    for lib in (tinylm, torch):
        x = lib.tensor([1.5, 2.0], requires_grad=True)
        assert repr(x) == "tensor([1.5000, 2.0000], requires_grad=True)"
        assert repr(x * 2) == "tensor([3., 4.], grad_fn=<MulBackward0>)"
    assert repr(tinylm.tensor([1, 2], dtype=tinylm.int32)) == "tensor([1, 2], dtype=int32)"


def test_print_options_are_checked_and_read_back() -> None:
    tinylm.set_printoptions(precision=3, linewidth=100)
    got = tinylm.get_printoptions()
    assert got["precision"] == 3 and got["linewidth"] == 100 and got["threshold"] == 1000
    with pytest.raises(TinyLMError, match="profile must be one of"):
        tinylm.set_printoptions(profile="long")
    with pytest.raises(TinyLMError, match="precision must be a number ≥ 0, got -1"):
        tinylm.set_printoptions(precision=-1)


# ---- compile, backends, precision, Size, dtype ---------------------------------------------


def test_compile_returns_the_model_itself() -> None:
    model = tinylm.nn.Linear(3, 2)
    assert tinylm.compile(model) is model
    assert tinylm.compile(model, mode="max-autotune", fullgraph=True) is model

    @tinylm.compile
    def f(x):
        return x * 2

    @tinylm.compile(dynamic=True)
    def g(x):
        return x + 1

    assert f(tinylm.tensor(2.0)).item() == 4.0 and g(tinylm.tensor(2.0)).item() == 3.0
    with pytest.raises(TinyLMError, match="expected a Module or a function, got int"):
        tinylm.compile(3)


def test_matmul_precision_and_backend_switches_are_kept() -> None:
    assert tinylm.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    try:
        tinylm.set_float32_matmul_precision("high")
        assert tinylm.get_float32_matmul_precision() == "high"
    finally:
        tinylm.set_float32_matmul_precision("highest")
    with pytest.raises(TinyLMError, match="precision must be one of"):
        tinylm.set_float32_matmul_precision("low")
    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert hasattr(tinylm.backends.cudnn, name) and hasattr(torch.backends.cudnn, name)
    tinylm.backends.cuda.matmul.allow_tf32 = True  # accepted; products stay float32
    a = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    product = (tinylm.tensor(a) @ tinylm.tensor(a)).numpy()
    np.testing.assert_allclose(product, a @ a, rtol=1e-6)
    tinylm.backends.cuda.matmul.allow_tf32 = False
    assert tinylm.backends.mps.is_available() is False
    assert tinylm.tensor([[1, 2, 3]]).shape == tinylm.Size([1, 3])
    assert isinstance(tinylm.tensor([1.0]).dtype, tinylm.dtype)


# ---- autocast -------------------------------------------------------------------------------


def test_autocast_is_refused_where_it_would_change_dtypes() -> None:
    with pytest.raises(TinyLMError, match="autocast: mixed precision is not supported"):
        tinylm.autocast("cpu", dtype=tinylm.float16)
    with pytest.raises(TinyLMError, match="device_type must be a string"):
        tinylm.autocast(3, enabled=False)


def test_autocast_that_pytorch_turns_off_does_nothing() -> None:
    x = tinylm.tensor([1.0, 2.0])
    with tinylm.autocast("cpu", enabled=False):
        assert (x * 2).dtype == tinylm.float32

    @tinylm.autocast("cpu", enabled=False)
    def double(t):
        return t * 2

    assert double(x).tolist() == [2.0, 4.0]
    if torch.cuda.is_available() or tinylm.cuda.is_available():
        return
    for lib in (tinylm, torch):  # no GPU: both warn and switch it off
        with pytest.warns(UserWarning, match="CUDA is not available"):
            context = lib.autocast("cuda")
        with context:
            pass


# ---- GradScaler -----------------------------------------------------------------------------


def _train_with_scaler(lib: Any, steps: int, inf_steps: set[int], clip: bool) -> list[tuple]:
    """A small linear model trained with SGD through a GradScaler; at the steps in
    ``inf_steps`` the loss is multiplied by inf, so that step must be skipped. Returns per
    step: the scale before, the loss, the weights after, the scale after."""
    rng = np.random.default_rng(3)
    w0, b0 = rng.standard_normal((2, 3)), rng.standard_normal(2)
    xs, ys = rng.standard_normal((steps, 5, 3)), rng.standard_normal((steps, 5, 2))
    model = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        model.weight.copy_(lib.tensor(w0))
        model.bias.copy_(lib.tensor(b0))
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = (
        torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
        if lib is torch
        else tinylm.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    )
    out = []
    for step in range(steps):
        opt.zero_grad()
        loss = ((model(lib.tensor(xs[step])) - lib.tensor(ys[step])) ** 2).mean()
        if step in inf_steps:
            loss = loss * float("inf")
        before = scaler.get_scale()
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        scaler.step(opt)
        scaler.update()
        weights = model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()
        out.append((before, float(loss.item()), weights, scaler.get_scale()))
    out.append(scaler.state_dict())
    return out


@pytest.mark.parametrize("clip", [False, True], ids=["step", "unscale then clip"])
def test_grad_scaler_scales_skips_and_grows_as_torchs(clip: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's clip of an inf gradient norm
        ours = _train_with_scaler(tinylm, 12, {2, 3, 8}, clip)
        theirs = _train_with_scaler(torch, 12, {2, 3, 8}, clip)
    assert ours[-1] == theirs[-1]  # state_dict: scale, factors, interval, growth tracker
    scales = [step[3] for step in ours[:-1]]
    assert len(set(scales)) > 2  # the scale did go down and up again
    for k, (a, b) in enumerate(zip(ours[:-1], theirs[:-1])):
        assert a[0] == b[0] and a[3] == b[3], f"step {k}: scale"
        if np.isfinite(b[1]):
            np.testing.assert_allclose(a[1], b[1], rtol=1e-12, err_msg=f"step {k}: loss")
        for ours_w, torch_w in zip(a[2], b[2]):
            np.testing.assert_allclose(ours_w, torch_w, rtol=1e-12, atol=1e-14)
    skipped = ours[2][2][0], ours[1][2][0]  # the weights after a skipped step are unchanged
    np.testing.assert_array_equal(*skipped)


def test_grad_scaler_misuse_is_refused_as_in_torch() -> None:
    for lib, scaler_type in ((tinylm, tinylm.amp.GradScaler), (torch, torch.amp.GradScaler)):
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = scaler_type("cpu")
        scaler.scale((p * p).sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called on this optimizer"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
        scaler.update()
        with pytest.raises(AssertionError, match="No inf checks were recorded"):
            scaler.update()


def test_a_disabled_grad_scaler_passes_through() -> None:
    p = tinylm.nn.Parameter(tinylm.tensor([1.0, 2.0]))
    opt = tinylm.optim.SGD([p], lr=0.5)
    scaler = tinylm.amp.GradScaler(enabled=False)
    loss = (p * p).sum()
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and not scaler.is_enabled()
    loss.backward()
    scaler.step(opt)
    scaler.update()
    assert p.detach().tolist() == [0.0, 0.0] and scaler.state_dict() == {}
    if not tinylm.cuda.is_available():  # as torch: a CUDA scaler without a GPU switches off
        with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
            assert not tinylm.cuda.amp.GradScaler().is_enabled()


def test_grad_scaler_state_round_trips() -> None:
    a = tinylm.amp.GradScaler("cpu", init_scale=8.0, growth_interval=5)
    b = tinylm.amp.GradScaler("cpu")
    b.load_state_dict(a.state_dict())
    assert (
        b.state_dict()
        == a.state_dict()
        == {
            "scale": 8.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 5,
            "_growth_tracker": 0,
        }
    )
    with pytest.raises(TinyLMError, match="backoff_factor must be in"):
        tinylm.amp.GradScaler("cpu", backoff_factor=2.0)
