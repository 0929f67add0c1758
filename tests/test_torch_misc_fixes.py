"""Small silent differences from PyTorch, now fixed, each checked against torch itself:
``stride()`` of an ``expand``ed view (PyTorch's strides for the size-1 dims); ``Adagrad``'s
state made in its constructor, as PyTorch's (a state_dict before any step holds it);
``ReduceLROnPlateau`` lowering the lr of param groups added after it (one ``min_lr`` covers
them, a per-group list is refused at the reduction, as PyTorch); the losses on a float input
and target of different dtypes (promoted, or kept in the input's or the target's dtype, or
refused, each as PyTorch); ``lerp`` bit-equal to PyTorch's (from the nearer end, with one
fused multiply-add). Skipped
without torch (a test-only dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import TORCH_ERRORS, check_against_torch, refused_by_both, strided  # noqa: E402 - after the skip

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(23)


# ---- 1. stride() of an expanded view --------------------------------------------------------

EXPANDS: dict[str, Callable[[ModuleType], Any]] = {
    "new size-1 dim in front": lambda lib: lib.zeros(3, 1).expand(1, 3, 1),
    "kept size-1 dim before a repeated one": lambda lib: lib.zeros(1, 1).expand(1, 3),
    "new dim repeated": lambda lib: lib.zeros(3).expand(2, 1, 3),
    "transposed source": lambda lib: lib.zeros(3, 4).t().expand(1, 1, 4, 3),
    "strided source": lambda lib: lib.zeros(4, 6)[:, ::2].expand(1, 2, 4, 3),
    "middle size-1 dim": lambda lib: lib.zeros(2, 1, 3).expand(1, 2, 1, 3),
    "0-d to (1,)": lambda lib: lib.tensor(1.0).expand(1),
    "0-d to (3, 1)": lambda lib: lib.tensor(1.0).expand(3, 1),
    "expand_as": lambda lib: lib.zeros(3, 1).expand_as(lib.zeros(1, 3, 1)),
    "broadcast_to": lambda lib: lib.broadcast_to(lib.zeros(3, 1), (1, 3, 1)),
    "-1 sizes": lambda lib: lib.zeros(3, 1).expand(1, -1, 4),
}


@pytest.mark.parametrize("name", list(EXPANDS))
def test_expand_strides_are_torchs(name: str) -> None:
    ours, theirs = EXPANDS[name](tinylm), EXPANDS[name](torch)
    assert ours.shape == tuple(theirs.shape)
    assert ours.stride() == theirs.stride()
    assert [ours.stride(d) for d in range(ours.ndim)] == list(theirs.stride())


def test_expand_keeps_values_and_gradient() -> None:
    """Restriding the size-1 dims moves no element: values and the summed gradient stay."""
    a = RNG.standard_normal((3, 1))
    check_against_torch(lambda lib, t: t[0].expand(1, 3, 4) * 2, [a])
    check_against_torch(lambda lib, t: t[0].mT.expand(2, 1, 3), [a])


# ---- 5. Adagrad's state from the constructor ------------------------------------------------


def adagrad_state(lib: ModuleType, init: float) -> dict[int, dict[str, Any]]:
    """``state_dict()['state']`` of a fresh Adagrad over a (2, 3) float64 and a (4,) float32
    parameter, before any step: {index: {name: value as a NumPy array}}."""
    ps = [
        lib.nn.Parameter(lib.tensor(RNG.standard_normal((2, 3)))),
        lib.nn.Parameter(lib.tensor(RNG.standard_normal(4), dtype=lib.float32)),
    ]
    opt = lib.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=init)
    out = {}
    for i, s in opt.state_dict()["state"].items():
        out[i] = {
            k: np.asarray(v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in s.items()
        }
    return out


@pytest.mark.parametrize("init", [0.0, 0.25])
def test_adagrad_state_dict_before_any_step_is_torchs(init: float) -> None:
    ours, theirs = adagrad_state(tinylm, init), adagrad_state(torch, init)
    assert ours.keys() == theirs.keys() == {0, 1}
    for i in ours:
        assert ours[i].keys() == theirs[i].keys() == {"step", "sum"}
        assert float(ours[i]["step"]) == float(theirs[i]["step"]) == 0
        a, b = ours[i]["sum"], theirs[i]["sum"]
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_adagrad_group_added_later_steps_as_torchs() -> None:
    """A group added after the constructor has no state until its first step (as PyTorch);
    both groups then take the same steps, from the constructor's accumulator value."""
    a, b = RNG.standard_normal(3), RNG.standard_normal((2, 2))
    grads = [(RNG.standard_normal(3), RNG.standard_normal((2, 2))) for _ in range(3)]

    def trajectory(lib: ModuleType) -> list[np.ndarray]:
        p, q = lib.nn.Parameter(lib.tensor(a)), lib.nn.Parameter(lib.tensor(b))
        opt = lib.optim.Adagrad([p], lr=0.5, initial_accumulator_value=0.3, lr_decay=0.1)
        opt.add_param_group({"params": [q], "lr": 0.2})
        assert list(opt.state_dict()["state"]) == [0]
        for ga, gb in grads:
            p.grad, q.grad = lib.tensor(ga), lib.tensor(gb)
            opt.step()
        return [p.detach().numpy().copy(), q.detach().numpy().copy()]

    for x, y in zip(trajectory(tinylm), trajectory(torch)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


# ---- 2. ReduceLROnPlateau and param groups added later --------------------------------------


def plateau_lrs(lib: ModuleType, min_lr: Any, metrics: list[float]) -> list[list[float]]:
    """The lrs of both groups after each ``step(metric)``, the second group added to the
    optimizer after the scheduler was made."""
    p, q = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(3))
    opt = lib.optim.SGD([p], lr=1.0)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, min_lr=min_lr)
    opt.add_param_group({"params": [q], "lr": 0.3})
    out = []
    for m in metrics:
        sched.step(m)
        out.append([g["lr"] for g in opt.param_groups])
    return out


METRICS = [1.0, 2.0, 3.0, 4.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.mark.parametrize("min_lr", [0.0, 0.2])
def test_plateau_lowers_the_lr_of_a_group_added_later(min_lr: float) -> None:
    ours, theirs = plateau_lrs(tinylm, min_lr, METRICS), plateau_lrs(torch, min_lr, METRICS)
    assert ours == theirs
    assert ours[-1][1] < 0.3  # the added group was reduced


def test_plateau_with_per_group_min_lr_refuses_a_group_added_later() -> None:
    with pytest.raises(TORCH_ERRORS):
        plateau_lrs(torch, [0.0], METRICS)
    with pytest.raises(TinyLMError, match="ReduceLROnPlateau: the optimizer has 2 param groups"):
        plateau_lrs(tinylm, [0.0], METRICS)
    # before any reduction nothing is checked, in either
    assert plateau_lrs(tinylm, [0.0], METRICS[:2]) == plateau_lrs(torch, [0.0], METRICS[:2])


# ---- 3. losses on float input and target of different dtypes --------------------------------

MIXED_LOSSES: dict[str, Callable[..., Any]] = {
    "mse_loss": lambda F, x, y, r: F.mse_loss(x, y, reduction=r),
    "l1_loss": lambda F, x, y, r: F.l1_loss(x, y, reduction=r),
    "smooth_l1_loss": lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.3),
    "kl_div": lambda F, x, y, r: F.kl_div(x, y, reduction=r),
    "kl_div log_target": lambda F, x, y, r: F.kl_div(x, y.log(), reduction=r, log_target=True),
    "bce_with_logits": lambda F, x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
    "bce_with_logits weights": lambda F, x, y, r: F.binary_cross_entropy_with_logits(
        x, y, weight=F.sigmoid(x.detach()), pos_weight=x.detach()[0].abs() + 0.5, reduction=r
    ),
}
DTYPE_PAIRS = [(np.float32, np.float64), (np.float64, np.float32)]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=["f32-f64", "f64-f32"])
@pytest.mark.parametrize("name", list(MIXED_LOSSES))
def test_loss_of_mixed_float_dtypes_is_torchs(name: str, dtypes: Any, reduction: str) -> None:
    """Result dtype and values, and both gradients, as PyTorch's, with a transposed strided
    input; float32 rounding makes the tolerance float32's."""
    x = (RNG.standard_normal((4, 6)) * 2).astype(dtypes[0])
    y = RNG.uniform(0.05, 0.95, (6, 2)).astype(dtypes[1])
    loss = MIXED_LOSSES[name]

    def build(lib: ModuleType, t: list[Any]) -> Any:
        return loss(lib.nn.functional, strided(t[0]), t[1], reduction)

    check_against_torch(build, [x, y], rtol=2e-6, atol=1e-6, ignore_warnings=True)


@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=["f32-f64", "f64-f32"])
def test_binary_cross_entropy_of_mixed_dtypes_is_refused_as_by_torch(dtypes: Any) -> None:
    x, y = RNG.uniform(0.1, 0.9, (3, 2)), RNG.uniform(0, 1, (3, 2))

    def call(lib: ModuleType) -> Any:
        a, b = lib.tensor(x.astype(dtypes[0])), lib.tensor(y.astype(dtypes[1]))
        return lib.nn.functional.binary_cross_entropy(a, b)

    refused_by_both(call, TinyLMError, "binary_cross_entropy: all inputs must have the same dtype")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=["f32-f64", "f64-f32"])
def test_huber_loss_of_mixed_dtypes_is_torchs(dtypes: Any, reduction: str) -> None:
    """PyTorch's huber_loss keeps the input's dtype (computed in the common one); its own
    backward then fails on the two dtypes, so the gradients are checked against the same
    steps written out in torch (the promoted pair's elementwise loss, cast, reduced)."""
    x = (RNG.standard_normal((4, 6)) * 2).astype(dtypes[0])
    y = RNG.uniform(0.05, 0.95, (6, 2)).astype(dtypes[1])

    def forward(lib: ModuleType, t: list[Any]) -> Any:
        with lib.no_grad():
            return lib.nn.functional.huber_loss(strided(t[0]), t[1], reduction, 0.4)

    check_against_torch(forward, [x, y], rtol=2e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match="dtype"):
        a, b = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
        torch.nn.functional.huber_loss(strided(a), b, reduction, 0.4).sum().backward()

    def steps(lib: ModuleType, t: list[Any]) -> Any:
        a, b = strided(t[0]), t[1]
        if lib is tinylm:
            return lib.nn.functional.huber_loss(a, b, reduction, 0.4)
        loss = lib.nn.functional.huber_loss(a.double(), b.double(), "none", 0.4).to(a.dtype)
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    check_against_torch(steps, [x, y], rtol=2e-6, atol=1e-6)


# ---- 4. lerp to the last bit ----------------------------------------------------------------

WEIGHTS = [0.3, 0.5, -0.5, 0.49999999, 0.75, 1.0, 1.7, -0.6, 0.0]


def lerp_pair(dtype: Any, weight: Any, n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """lerp of the same random (n,) arrays in tinylm and torch (``weight``: a number, or
    "tensor" for random weights in [−2, 2) with exact ±½ and 1 among them)."""
    a, b = (RNG.standard_normal(n) * 10).astype(dtype), RNG.standard_normal(n).astype(dtype)
    w: Any = weight
    if weight == "tensor":
        w = RNG.uniform(-2, 2, n).astype(dtype)
        w[:4] = [0.5, -0.5, 1.0, 0.0]
    ours = tinylm.lerp(
        tinylm.tensor(a), tinylm.tensor(b), w if np.isscalar(w) else tinylm.tensor(w)
    )
    theirs = torch.lerp(
        torch.from_numpy(a), torch.from_numpy(b), w if np.isscalar(w) else torch.from_numpy(w)
    )
    return ours.numpy(), theirs.numpy()


@pytest.mark.parametrize("weight", [*WEIGHTS, "tensor"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_lerp_is_bit_equal_to_torchs(dtype: Any, weight: Any) -> None:
    ours, theirs = lerp_pair(dtype, weight)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours.view(np.uint8), theirs.view(np.uint8))


def test_lerp_strided_broadcast_and_gradients_are_torchs() -> None:
    a, b = RNG.standard_normal((4, 6)), RNG.standard_normal((4, 6))
    w = RNG.uniform(-1, 2, (6, 2))
    ours, theirs = (
        lib.lerp(strided(lib.tensor(a)), strided(lib.tensor(b)), lib.tensor(w)).numpy()
        for lib in (tinylm, torch)
    )
    np.testing.assert_array_equal(ours, theirs)
    check_against_torch(lambda lib, t: strided(t[0]).lerp(strided(t[1]), t[2]), [a, b, w])
    check_against_torch(lambda lib, t: t[0].lerp(t[1][0], 0.8), [a, b])


def test_lerp_edge_values_are_torchs() -> None:
    """Signed zeros, infinities, NaN and overflow (subnormal results may differ in the last
    bit: see tinylm.ops.fused_multiply_add)."""
    a = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 1e-300, 1.0, 3.0, -0.0])
    b = np.array([-0.0, 0.0, 1.0, np.inf, 2.0, -1e308, 1e308, -3e-300, np.inf, 3.0, -0.0])
    for w in (0.25, 0.75, 1.0, 0.0, 2.0, -0.5, 0.5):
        ours, theirs = (
            lib.lerp(lib.tensor(a), lib.tensor(b), w).numpy() for lib in (tinylm, torch)
        )
        np.testing.assert_array_equal(ours, theirs)
        # a NaN's sign bit is no part of either's contract, nor a 0's sign for |w| ≥ ½ (torch's
        # vectorised loop and its scalar tail give 0 different signs there)
        signed = ~np.isnan(theirs) & ((theirs != 0) | (abs(w) < 0.5))
        np.testing.assert_array_equal(np.signbit(ours[signed]), np.signbit(theirs[signed]))


def test_tensor_py_inplace_ops_refuse_what_torch_would_record_or_refuse():
    """``add_`` and the other in-place ops of tensor.py go through tensor_inplace.write_into:
    an operand that requires grad is refused while recording (its gradient would be lost),
    and a result that does not keep x's shape is refused, as torch refuses it."""
    w = tinylm.randn(3, requires_grad=True)
    with pytest.raises(TinyLMError, match="add_: an operand requires grad"):
        tinylm.zeros(3).add_(w)
    with pytest.raises(TinyLMError, match="masked_fill_: an operand requires grad"):
        tinylm.zeros(3).masked_fill_(tinylm.tensor([True, False, True]), w.sum())
    with pytest.raises(TinyLMError, match=r"output with shape \[3\] doesn't match"):
        tinylm.zeros(3).add_(tinylm.ones(1, 3))
    with pytest.raises(RuntimeError, match=r"output with shape \[\] doesn't match"):
        tinylm.tensor(1.0).mul_(tinylm.ones(1))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.zeros(3).add_(torch.ones(1, 3))
    with tinylm.no_grad():  # optimizers' updates: allowed
        x = tinylm.zeros(3).add_(w, alpha=2.0)
    np.testing.assert_array_equal(x.numpy(), 2 * w.detach().numpy())
    x = tinylm.zeros(2, 3)
    version = x._version
    assert x.add_(tinylm.ones(3)) is x and x._version == version + 1


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_of_an_integer_tensor_as_torch(p):
    """torch: p = 0 returns the input, p = 1 integer zeros, 0 < p < 1 refused."""
    a = np.array([1, 2, 3])
    if 0 < p < 1:
        with pytest.raises(RuntimeError, match="can't be cast"):
            torch.nn.functional.dropout(torch.tensor(a), p)
        with pytest.raises(TinyLMError, match="dropout: result type float can't be cast"):
            tinylm.nn.functional.dropout(tinylm.tensor(a), p)
        return
    want = torch.nn.functional.dropout(torch.tensor(a), p)
    got = tinylm.nn.functional.dropout(tinylm.tensor(a), p)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
