"""NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD and the schedules MultiStepLR, ConstantLR,
MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler
and CyclicLR against torch.optim: the same code run in both libraries (``lib`` is tinylm or
torch), float64, parameters after 60 steps in several groups, learning rates (and cycled
momenta) of every group at every step, signatures, state dicts and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.optim import lr_scheduler
from tinylm.serialization import load, save

torch = pytest.importorskip("torch")
from optim_parity import (  # noqa: E402 - after the skip
    STEPS,
    assert_signature_and_defaults_match,
    groups,
    initial_values,
    set_grads,
    torch_float64,
    trajectory,
)

pytestmark = pytest.mark.torch


OPTIMIZERS = {
    "NAdam": lambda L, ps: L.optim.NAdam(ps, lr=1e-2, weight_decay=0.1),
    "NAdam-groups": lambda L, ps: L.optim.NAdam(
        groups(
            ps,
            dict(weight_decay=0.1, momentum_decay=1e-2),
            dict(decoupled_weight_decay=True, weight_decay=0.2, betas=(0.8, 0.99)),
            dict(maximize=True, eps=1e-6),
        ),
        lr=1e-2,
    ),
    "RAdam": lambda L, ps: L.optim.RAdam(ps, lr=1e-2),
    "RAdam-groups": lambda L, ps: L.optim.RAdam(
        groups(
            ps,
            dict(weight_decay=0.1),
            dict(decoupled_weight_decay=True, weight_decay=0.3, lr=3e-2),
            dict(betas=(0.9, 0.9), maximize=True),  # ρ_t passes 5 early: both branches run
        ),
        lr=1e-2,
    ),
    "Adamax": lambda L, ps: L.optim.Adamax(ps),
    "Adamax-groups": lambda L, ps: L.optim.Adamax(
        groups(ps, dict(weight_decay=0.1), dict(betas=(0.7, 0.9), lr=5e-2), dict(maximize=True)),
        lr=1e-2,
    ),
    "Adadelta": lambda L, ps: L.optim.Adadelta(ps),
    "Adadelta-groups": lambda L, ps: L.optim.Adadelta(
        groups(ps, dict(weight_decay=0.1), dict(rho=0.5, eps=1e-4), dict(lr=0.3, maximize=True))
    ),
    "Rprop": lambda L, ps: L.optim.Rprop(ps),
    "Rprop-groups": lambda L, ps: L.optim.Rprop(
        groups(
            ps,
            dict(etas=(0.3, 1.5)),
            dict(step_sizes=(1e-3, 0.05), lr=0.1),
            dict(maximize=True),
        ),
        lr=1e-2,
    ),
    "ASGD": lambda L, ps: L.optim.ASGD(ps),
    "ASGD-groups": lambda L, ps: L.optim.ASGD(
        groups(
            ps,
            dict(weight_decay=0.1, t0=10),  # averaging starts after step 10
            dict(lambd=1e-2, alpha=0.5, lr=0.05, t0=0),
            dict(maximize=True),
        ),
        lr=1e-2,
    ),
}


@pytest.mark.parametrize("lr_change_at", [None, 25])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_trajectories_and_state_equal_torch(name, lr_change_at):
    make = OPTIMIZERS[name]
    ours, opt = trajectory(tinylm, make, lr_change_at=lr_change_at)
    with torch_float64():
        theirs, opt_t = trajectory(torch, make, lr_change_at=lr_change_at)
    start = initial_values()
    for a, b, s in zip(ours, theirs, start):
        assert a.dtype == np.float64 and a.shape == tuple(b.shape)
        assert np.abs(b.detach().numpy() - s).max() > 1e-3  # the run did move the parameter
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    for p, q in zip(ours, theirs):  # the optimizer's state too (ASGD's average, Rprop's sizes)
        mine, its = opt.state[p], opt_t.state[q]
        assert set(mine) == set(its)
        for key, value in its.items():
            np.testing.assert_allclose(
                np.asarray(mine[key], dtype=float), value.numpy(), rtol=1e-10, atol=1e-12
            )


@pytest.mark.parametrize("cls", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
def test_signatures_and_defaults_are_torchs(cls):
    assert_signature_and_defaults_match(cls)


@pytest.mark.parametrize("cls", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
def test_float32_parameters_and_state_stay_float32(cls):
    p = nn.Parameter(tinylm.randn(3, 4))
    opt = getattr(optim, cls)([p], weight_decay=0.1) if cls != "Rprop" else optim.Rprop([p])
    for _ in range(3):
        p.grad = tinylm.randn(3, 4)
        opt.step()
    assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))


@pytest.mark.parametrize("name", ["NAdam-groups", "RAdam-groups", "Rprop-groups", "ASGD-groups",
                                  "Adamax-groups", "Adadelta-groups"])  # fmt: skip
def test_state_dict_resumes_the_same_trajectory(name, tmp_path):
    make = OPTIMIZERS[name]
    straight, _ = trajectory(tinylm, make, steps=20)
    params, opt = trajectory(tinylm, make, steps=10)
    save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "c")
    ckpt = load(tmp_path / "c")
    resumed = [nn.Parameter(t) for t in ckpt["params"]]
    opt2 = make(tinylm, resumed)
    opt2.load_state_dict(ckpt["optim"])
    for t in range(10, 20):
        set_grads(tinylm, resumed, t)
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("cls", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
def test_implementation_switches_are_refused(cls):
    p = nn.Parameter(tinylm.zeros(2))
    make = getattr(optim, cls)
    make([p], foreach=False)  # the one implementation there is
    with pytest.raises(TinyLMError, match=f"^{cls}: foreach=True is not supported"):
        make([p], foreach=True)
    with pytest.raises(TinyLMError, match=f"^{cls}: capturable=True"):
        make([p], capturable=True)
    with pytest.raises(TinyLMError, match=f"^{cls}: differentiable=True"):
        make([{"params": [p], "differentiable": True}])


def test_bad_hyper_parameters_give_one_line():
    p = nn.Parameter(tinylm.zeros(2))
    cases = [
        (lambda: optim.NAdam([p], lr=-1.0), "NAdam: invalid learning rate -1.0"),
        (lambda: optim.NAdam([p], betas=(0.9, 1.0)), "NAdam: betas must be in"),
        (lambda: optim.NAdam([p], momentum_decay=-1e-3), "NAdam: momentum_decay must be ≥ 0"),
        (lambda: optim.RAdam([p], eps=-1.0), r"RAdam: eps \(-1.0\) and weight_decay"),
        (lambda: optim.Adamax([p], weight_decay=-0.1), "Adamax: eps .* must be ≥ 0"),
        (lambda: optim.Adadelta([p], rho=1.5), r"Adadelta: rho must be in \[0, 1\]"),
        (lambda: optim.Rprop([p], etas=(1.5, 1.2)), "Rprop: etas must satisfy"),
        (lambda: optim.ASGD([p], weight_decay=-1.0), "ASGD: weight_decay must be ≥ 0"),
    ]
    for make, message in cases:
        with pytest.raises(TinyLMError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    with pytest.raises(TypeError):  # no fused implementation in either library
        optim.NAdam([p], fused=True)


# ---------------------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------------------


def schedule_run(lib, make, steps=STEPS, optimizer="SGD", epochs=None):
    """Per step: every group's lr and momentum (SGD's, or Adam's β₁) and get_last_lr().
    ``epochs``, if given, are passed to ``step(epoch)``."""
    if lib is torch:
        p, q = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    else:
        p, q = nn.Parameter(tinylm.zeros(2)), nn.Parameter(tinylm.zeros(3))
    options = [{"params": [p], "lr": 0.1}, {"params": [q], "lr": 0.03}]
    if optimizer == "SGD":
        opt = lib.optim.SGD(options, lr=0.1, momentum=0.9)
    elif optimizer == "Adam":
        opt = lib.optim.Adam(options)
    else:
        opt = getattr(lib.optim, optimizer)(options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's step(epoch) deprecation warning
        sched = make(lib.optim.lr_scheduler, opt)
        rows = []
        for t in range(steps):
            momenta = [g.get("momentum", g.get("betas", (0.0,))[0]) for g in opt.param_groups]
            rows.append([g["lr"] for g in opt.param_groups] + momenta + sched.get_last_lr())
            opt.step()
            sched.step() if epochs is None else sched.step(epochs[t])
    return np.array(rows, dtype=float), sched


SCHEDULES = {
    "MultiStepLR": lambda S, o: S.MultiStepLR(o, milestones=[30, 5, 12, 12], gamma=0.5),
    "MultiStepLR-default": lambda S, o: S.MultiStepLR(o, [0, 40]),
    "ConstantLR": lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=7),
    "ConstantLR-default": lambda S, o: S.ConstantLR(o),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95),
    "MultiplicativeLR-per-group": lambda S, o: S.MultiplicativeLR(
        o, [lambda e: 0.95, lambda e: 1 / (1 + 0.01 * e)]
    ),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=40, power=2.0),
    "PolynomialLR-default": lambda S, o: S.PolynomialLR(o),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5),
    "CosineAnnealingWarmRestarts-Tmult": lambda S, o: S.CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=2, eta_min=1e-3
    ),
    "SequentialLR-warmup-cosine": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=10), S.CosineAnnealingLR(o, 40)], [10]
    ),
    "SequentialLR-three": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.5, 3), S.ExponentialLR(o, 0.9), S.StepLR(o, 4, 0.5)], [5, 20]
    ),
    "SequentialLR-restarts": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=5), S.CosineAnnealingWarmRestarts(o, 6)], [5]
    ),
    "SequentialLR-no-closed-form": lambda S, o: S.SequentialLR(
        o,
        [S.MultiplicativeLR(o, lambda e: 1.1), S.PolynomialLR(o, 30), S.MultiStepLR(o, [3, 9])],
        [8, 20],
    ),
    "SequentialLR-nested": lambda S, o: S.SequentialLR(
        o,
        [
            S.ChainedScheduler([S.ConstantLR(o, 0.5, 4), S.ExponentialLR(o, 0.95)]),
            S.CosineAnnealingLR(o, 30),
        ],
        [12],
    ),  # fmt: skip
    "ChainedScheduler": lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)]
    ),
    "ChainedScheduler-three": lambda S, o: S.ChainedScheduler(
        [S.LinearLR(o, 0.2, total_iters=8), S.MultiStepLR(o, [10, 25]), S.CosineAnnealingLR(o, 15)],
        o,
    ),
    "CyclicLR-triangular": lambda S, o: S.CyclicLR(o, 0.01, [0.1, 0.2], 5, 8),
    "CyclicLR-triangular2": lambda S, o: S.CyclicLR(
        o, [0.01, 0.02], 0.1, 4, mode="triangular2", base_momentum=0.7, max_momentum=[0.95, 0.9]
    ),
    "CyclicLR-exp_range": lambda S, o: S.CyclicLR(o, 0.01, 0.1, 6, 3, "exp_range", gamma=0.97),
    "CyclicLR-no-momentum": lambda S, o: S.CyclicLR(o, 0.01, 0.1, 6, cycle_momentum=False),
    "CyclicLR-scale_fn": lambda S, o: S.CyclicLR(
        o, 0.01, 0.1, 5, scale_fn=lambda x: 0.99**x, scale_mode="iterations"
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedules_equal_torch_step_by_step(name):
    ours, _ = schedule_run(tinylm, SCHEDULES[name])
    theirs, _ = schedule_run(torch, SCHEDULES[name])
    assert ours.shape == theirs.shape == (STEPS, 6)
    assert len(np.unique(theirs[:, 0])) > 1  # the schedule does change the lr
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["CyclicLR-triangular", "CyclicLR-exp_range", "ConstantLR"])
def test_schedules_with_adam_cycle_beta1_as_torch(name):
    ours, _ = schedule_run(tinylm, SCHEDULES[name], optimizer="Adam")
    theirs, _ = schedule_run(torch, SCHEDULES[name], optimizer="Adam")
    if name.startswith("CyclicLR"):
        assert len(np.unique(theirs[:, 2])) > 2  # β₁ moves
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_sequential_warmup_then_cosine_at_the_milestone():
    """The idiom, spelled out: warm-up steps 0..9 (0.1 → 0.91 of base), then the cosine
    starts over at base_lr on step 10 itself, as PyTorch's."""
    ours, _ = schedule_run(tinylm, SCHEDULES["SequentialLR-warmup-cosine"], steps=15)
    lrs = ours[:, 0]
    np.testing.assert_allclose(lrs[:10], 0.1 * (0.1 + 0.9 * np.arange(10) / 10), rtol=1e-13)
    assert lrs[10] == 0.1
    np.testing.assert_allclose(lrs[11], 0.1 * (1 + np.cos(np.pi / 40)) / 2, rtol=1e-13)


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_equal_torch(T_mult):
    """PyTorch's documented use: ``step(epoch + i / iters)`` after each batch, and
    ``step()`` and ``step(epoch)`` interleaved."""
    iters = 7
    epochs = [e + i / iters for e in range(30) for i in range(iters)][1:]
    epochs = epochs[:120] + [None] * 10 + epochs[130:200] + [3.5, None, 0, None]

    def make(S, o):
        return S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=T_mult, eta_min=0.005)

    ours, sched = schedule_run(tinylm, make, steps=len(epochs), epochs=epochs)
    theirs, sched_t = schedule_run(torch, make, steps=len(epochs), epochs=epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert (sched.last_epoch, sched.T_i) == (sched_t.last_epoch, sched_t.T_i)
    assert sched.T_cur == pytest.approx(sched_t.T_cur, rel=1e-12)


@pytest.mark.parametrize("name", ["MultiStepLR", "PolynomialLR", "ConstantLR"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(name):
    epochs = [3, 4, 12, 2, 50, 7, 30, 6]
    ours, _ = schedule_run(tinylm, SCHEDULES[name], steps=len(epochs), epochs=epochs)
    theirs, _ = schedule_run(torch, SCHEDULES[name], steps=len(epochs), epochs=epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "name",
    ["SequentialLR-warmup-cosine", "SequentialLR-nested", "ChainedScheduler-three",
     "CyclicLR-triangular2", "MultiStepLR", "CosineAnnealingWarmRestarts-Tmult"],
)  # fmt: skip
def test_schedule_state_dict_resumes(name, tmp_path):
    """Save the optimizer and the scheduler after 23 steps (tinylm.save), build both afresh,
    load, and go on: the learning rates equal an uninterrupted run's (and torch's)."""
    make = SCHEDULES[name]
    straight, _ = schedule_run(tinylm, make, steps=50)
    theirs, _ = schedule_run(torch, make, steps=50)
    np.testing.assert_allclose(straight, theirs, rtol=1e-13, atol=0)

    p, q = nn.Parameter(tinylm.zeros(2)), nn.Parameter(tinylm.zeros(3))

    def build():
        o = optim.SGD([{"params": [p], "lr": 0.1}, {"params": [q], "lr": 0.03}], momentum=0.9)
        return o, make(lr_scheduler, o)

    opt, sched = build()
    for _ in range(23):
        opt.step()
        sched.step()
    save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s")
    ckpt = load(tmp_path / "s")
    opt2, sched2 = build()
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    for t in range(23, 50):
        assert sched2.get_last_lr() == pytest.approx(list(straight[t, 4:]), rel=1e-13)
        np.testing.assert_allclose([g["lr"] for g in opt2.param_groups], straight[t, :2])
        opt2.step()
        sched2.step()


def test_schedule_errors_give_one_line():
    p = nn.Parameter(tinylm.zeros(2))
    opt, other = optim.SGD([p], lr=0.1), optim.SGD([nn.Parameter(tinylm.zeros(1))], lr=0.1)
    S = lr_scheduler
    cases = [
        (lambda: S.ConstantLR(opt, factor=1.5), r"ConstantLR: factor must be in \[0, 1\]"),
        (lambda: S.PolynomialLR(opt, total_iters=0), "PolynomialLR: total_iters must be"),
        (lambda: S.MultiplicativeLR(opt, [abs, abs]), "MultiplicativeLR: got 2 functions"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 0), "T_0 must be a positive int"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 2.5), "T_0 must be a positive int"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 5, T_mult=0), "T_mult must be an int ≥ 1"),
        (lambda: S.CosineAnnealingWarmRestarts(opt, 5).step(-1), "epoch must be ≥ 0"),
        (lambda: S.SequentialLR(opt, [S.StepLR(opt, 2)], [3]), "one milestone fewer"),
        (lambda: S.SequentialLR(opt, [], []), "at least one scheduler"),
        (lambda: S.SequentialLR(opt, [S.StepLR(other, 2)], []), "different optimizer"),
        (
            lambda: S.ChainedScheduler([S.StepLR(opt, 2), S.ReduceLROnPlateau(opt)]),
            "ReduceLROnPlateau .* cannot be combined",
        ),
        (lambda: S.ChainedScheduler([S.StepLR(opt, 2), S.StepLR(other, 2)]), "index 1"),
        (lambda: S.CyclicLR(opt, 0.1, 1.0, mode="sine"), "CyclicLR: mode must be"),
        (lambda: S.CyclicLR(opt, [0.1, 0.2], 1.0), "CyclicLR: base_lr has 2 values for 1"),
        (lambda: S.CyclicLR(opt, 0.1, 1.0, step_size_up=0), "step_size_up must be > 0"),
        (
            lambda: S.CyclicLR(optim.Adagrad([p]), 0.1, 1.0),
            "cycle_momentum needs an optimizer with momentum or betas",
        ),
    ]
    for make, message in cases:
        with pytest.raises(TinyLMError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    S.CyclicLR(optim.Adagrad([p]), 0.1, 1.0, cycle_momentum=False)  # fine without momentum


def test_new_names_are_exported_as_in_torch():
    for name in ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"]:
        assert name in optim.__all__ and hasattr(torch.optim, name)
    schedules = "MultiStepLR ConstantLR MultiplicativeLR PolynomialLR CosineAnnealingWarmRestarts"
    schedules += " SequentialLR ChainedScheduler CyclicLR"
    for name in schedules.split():
        assert name in lr_scheduler.__all__ and hasattr(torch.optim.lr_scheduler, name)
        assert issubclass(getattr(lr_scheduler, name), lr_scheduler.LRScheduler)
