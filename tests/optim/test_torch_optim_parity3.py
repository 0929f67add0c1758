"""Silent differences from torch.optim in tinylm's older optimizers and schedules, each run
in both libraries (``lib`` is tinylm or torch) on the same float64 values:

* schedules created with ``last_epoch >= 0`` (resuming): every group's lr (and cycled
  momentum) at every step, from the creation step on;
* resuming without ``initial_lr`` in the groups: the same ``KeyError``;
* ``OneCycleLR`` choosing between ``momentum`` and ``betas`` from ``optimizer.defaults``;
* ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``: torch 2.13's signatures and
  defaults, ``maximize`` (and Adam's ``amsgrad`` and ``decoupled_weight_decay``) over 60
  steps with strided gradients, and ``foreach``/``capturable``/``differentiable``/``fused``
  refused in one line.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.optim import lr_scheduler

torch = pytest.importorskip("torch")
import optim_parity  # noqa: E402 - after the skip
from optim_parity import (  # noqa: E402
    STEPS,
    assert_signature_and_defaults_match,
    groups,
    initial_values,
    torch_float64,
)

pytestmark = pytest.mark.torch


def trajectory(lib, make_optimizer, steps=STEPS):
    """optim_parity's run, with four times the noise every seventh step (so that AMSGrad's
    running maximum of v and Adam's v part ways)."""
    return optim_parity.trajectory(lib, make_optimizer, steps, spike=2.0)


# ---------------------------------------------------------------------------------------
# schedules resumed with last_epoch >= 0
# ---------------------------------------------------------------------------------------


def two_params(lib):
    if lib is torch:
        return torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    return nn.Parameter(tinylm.zeros(2)), nn.Parameter(tinylm.zeros(3))


def resumed_optimizer(lib, optimizer="SGD", extra=({}, {})):
    """Two groups whose lr (0.07, 0.02) has moved away from their ``initial_lr`` (0.1, 0.03),
    as in an optimizer loaded from a checkpoint part-way through a schedule."""
    p, q = two_params(lib)
    options = [
        {"params": [p], "lr": 0.07, "initial_lr": 0.1, **extra[0]},
        {"params": [q], "lr": 0.02, "initial_lr": 0.03, **extra[1]},
    ]
    if optimizer == "SGD":
        return lib.optim.SGD(options, lr=0.07, momentum=0.9)
    return lib.optim.Adam(options)


def lr_rows(opt, sched, steps):
    """Per step: every group's lr and momentum (SGD's, or Adam's β₁) and get_last_lr()."""
    rows = []
    for _ in range(steps):
        momenta = [g.get("momentum", g.get("betas", (0.0,))[0]) for g in opt.param_groups]
        rows.append([g["lr"] for g in opt.param_groups] + momenta + list(sched.get_last_lr()))
        opt.step()
        sched.step()
    return np.array(rows, dtype=float)


ONE_CYCLE_GROUPS = (
    dict(max_lr=0.5, min_lr=1e-5, max_momentum=0.95, base_momentum=0.85),
    dict(max_lr=0.2, min_lr=2e-6, max_momentum=0.9, base_momentum=0.8),
)

RESUMED = {
    "CosineAnnealingLR": lambda S, o: S.CosineAnnealingLR(o, T_max=10, last_epoch=4),
    "CosineAnnealingLR-past-T_max": lambda S, o: S.CosineAnnealingLR(o, 6, 1e-3, last_epoch=9),
    "CosineAnnealingLR-at-0": lambda S, o: S.CosineAnnealingLR(o, T_max=8, last_epoch=0),
    "StepLR": lambda S, o: S.StepLR(o, step_size=3, gamma=0.5, last_epoch=4),
    "StepLR-creation-on-a-multiple": lambda S, o: S.StepLR(o, 3, 0.5, last_epoch=5),
    "LinearLR": lambda S, o: S.LinearLR(o, 0.2, total_iters=8, last_epoch=2),
    "LinearLR-at-0": lambda S, o: S.LinearLR(o, 0.2, total_iters=8, last_epoch=0),
    "LinearLR-done": lambda S, o: S.LinearLR(o, 0.2, 0.9, total_iters=4, last_epoch=6),
    "ExponentialLR": lambda S, o: S.ExponentialLR(o, gamma=0.9, last_epoch=3),
    "LambdaLR": lambda S, o: S.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e), last_epoch=5),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95, last_epoch=2),
    "MultiStepLR": lambda S, o: S.MultiStepLR(o, [3, 8, 8, 20], 0.5, last_epoch=2),
    "ConstantLR": lambda S, o: S.ConstantLR(o, 0.25, total_iters=6, last_epoch=3),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=30, power=2.0, last_epoch=4),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=2, eta_min=1e-3, last_epoch=3
    ),
    "CyclicLR": lambda S, o: S.CyclicLR(o, 0.01, [0.1, 0.2], 5, 8, last_epoch=6),
    "OneCycleLR": lambda S, o: S.OneCycleLR(o, [0.5, 0.2], total_steps=80, last_epoch=9),
    "OneCycleLR-three-phase": lambda S, o: S.OneCycleLR(
        o, 0.4, total_steps=90, pct_start=0.2, three_phase=True, last_epoch=20
    ),
}


def resumed_run(lib, name, optimizer="SGD", steps=STEPS):
    extra = ({}, {})
    if name.startswith("OneCycleLR") or name.startswith("CyclicLR"):
        extra = ONE_CYCLE_GROUPS
    opt = resumed_optimizer(lib, optimizer, extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "lr_scheduler.step() before optimizer"
        sched = RESUMED[name](lib.optim.lr_scheduler, opt)
        return lr_rows(opt, sched, steps)


@pytest.mark.parametrize("name", list(RESUMED))
def test_resumed_schedules_equal_torch_from_the_creation_step(name):
    ours = resumed_run(tinylm, name)
    theirs = resumed_run(torch, name)
    assert ours.shape == theirs.shape == (STEPS, 6)
    if name != "LinearLR-done":  # resumed past its end, it stays at the current lr
        assert len(np.unique(theirs[:, 0])) > 1  # the schedule does change the lr
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "name", ["CosineAnnealingLR", "StepLR", "LinearLR", "ExponentialLR", "PolynomialLR"]
)
def test_chained_schedules_keep_the_current_lr_when_resumed(name):
    """Those whose creation step builds on the groups' lr leave it as they find it."""
    rows = resumed_run(torch, name, steps=2)
    assert rows[0, :2].tolist() == [0.07, 0.02]
    assert resumed_run(tinylm, name, steps=2)[0, :2].tolist() == [0.07, 0.02]


@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR", "ExponentialLR"])
def test_resumed_schedules_with_adam_equal_torch(name):
    ours = resumed_run(tinylm, name, optimizer="Adam")
    theirs = resumed_run(torch, name, optimizer="Adam")
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_resumed_cosine_keeps_the_current_lr_at_creation():
    """The colleague's example: lr 0.07, initial_lr 0.1, T_max 10, last_epoch 4."""
    rows = resumed_run(tinylm, "CosineAnnealingLR", steps=3)
    assert rows[0, 0] == 0.07
    ratio = (1 + np.cos(np.pi * 6 / 10)) / (1 + np.cos(np.pi * 5 / 10))
    assert rows[1, 0] == pytest.approx(0.07 * ratio, rel=1e-14)  # 0.04836…
    assert rows[1, 0] == pytest.approx(0.048368810393753, rel=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda S, o: S.CosineAnnealingLR(o, 10, last_epoch=4),
        lambda S, o: S.StepLR(o, 3, last_epoch=0),
        lambda S, o: S.LinearLR(o, last_epoch=2),
        lambda S, o: S.ExponentialLR(o, 0.9, last_epoch=1),
        lambda S, o: S.LambdaLR(o, lambda e: 1.0, last_epoch=3),
        lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9, last_epoch=3),
        lambda S, o: S.MultiStepLR(o, [2], last_epoch=3),
        lambda S, o: S.ConstantLR(o, last_epoch=3),
        lambda S, o: S.PolynomialLR(o, last_epoch=3),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, 5, last_epoch=3),
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, last_epoch=3),
        lambda S, o: S.OneCycleLR(o, 0.1, total_steps=10, last_epoch=3),
    ],
    ids=["cosine", "step", "linear", "exponential", "lambda", "multiplicative", "multistep",
         "constant", "polynomial", "warm-restarts", "cyclic", "one-cycle"],
)  # fmt: skip
def test_resuming_without_initial_lr_is_a_key_error_as_torch(make):
    """Group 0 has an ``initial_lr``, group 1 has none: both libraries name group 1."""
    message = r"param 'initial_lr' is not specified in param_groups\[1\] when resuming"
    for lib in (torch, tinylm):
        p, q = two_params(lib)
        opt = lib.optim.SGD(
            [{"params": [p], "initial_lr": 0.1}, {"params": [q]}], lr=0.05, momentum=0.9
        )
        with pytest.raises(KeyError, match=message):
            make(lib.optim.lr_scheduler, opt)
        assert "initial_lr" not in opt.param_groups[1]  # nothing was written on the way


def test_tinylm_only_schedules_refuse_resuming_without_initial_lr_too():
    p = nn.Parameter(tinylm.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(KeyError, match=r"param_groups\[0\] when resuming"):
        lr_scheduler.WarmupCosineLR(opt, 5, 50, last_epoch=7)
    with pytest.raises(KeyError, match=r"param_groups\[0\] when resuming"):
        lr_scheduler.get_linear_schedule_with_warmup(opt, 5, 50, last_epoch=7)


def test_fresh_schedules_still_record_initial_lr():
    for lib in (torch, tinylm):
        p, _ = two_params(lib)
        opt = lib.optim.SGD([p], lr=0.1)
        lib.optim.lr_scheduler.StepLR(opt, 3)
        assert opt.param_groups[0]["initial_lr"] == 0.1


# ---------------------------------------------------------------------------------------
# OneCycleLR: momentum or betas, as optimizer.defaults says
# ---------------------------------------------------------------------------------------


def one_cycle_rows(lib, optimizer, group_extra):
    p, q = two_params(lib)
    options = [{"params": [p], **group_extra}, {"params": [q]}]
    opt = optimizer(lib, options)
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.3, total_steps=40)
    rows = []
    for _ in range(40):
        g = opt.param_groups[0]
        rows.append([g["lr"], g.get("momentum", -1.0), *g.get("betas", (-1.0, -1.0))])
        opt.step()
        sched.step()
    return np.array(rows, dtype=float)


def test_one_cycle_cycles_sgd_momentum_even_when_a_group_carries_betas():
    """PyTorch accepts any extra key in a group; a stray ``betas`` in an SGD group is left
    alone, and SGD's momentum is cycled, because SGD's defaults have no betas."""
    make = lambda L, g: L.optim.SGD(g, lr=0.1, momentum=0.9)  # noqa: E731
    ours = one_cycle_rows(tinylm, make, {"betas": (0.5, 0.6)})
    theirs = one_cycle_rows(torch, make, {"betas": (0.5, 0.6)})
    assert len(np.unique(theirs[:, 1])) > 2 and (theirs[:, 2] == 0.5).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_one_cycle_refuses_an_optimizer_whose_defaults_have_no_momentum():
    """An Adagrad group with a stray ``momentum`` key: torch looks at the defaults and
    refuses (ValueError); tinylm does too (TinyLMError is a ValueError), in one line."""
    p, q = two_params(torch)
    opt = torch.optim.Adagrad([{"params": [p], "momentum": 0.9}, {"params": [q]}])
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.lr_scheduler.OneCycleLR(opt, 0.3, total_steps=40)
    p, q = two_params(tinylm)
    opt = optim.Adagrad([{"params": [p], "momentum": 0.9}, {"params": [q]}])
    with pytest.raises(TinyLMError, match="^OneCycleLR: cycle_momentum needs") as info:
        lr_scheduler.OneCycleLR(opt, 0.3, total_steps=40)
    assert "\n" not in str(info.value)
    lr_scheduler.OneCycleLR(opt, 0.3, total_steps=40, cycle_momentum=False)  # fine so


def test_one_cycle_uses_betas_of_adam_and_keeps_a_stray_momentum():
    make = lambda L, g: L.optim.Adam(g)  # noqa: E731
    ours = one_cycle_rows(tinylm, make, {"momentum": 0.5})
    theirs = one_cycle_rows(torch, make, {"momentum": 0.5})
    assert (theirs[:, 1] == 0.5).all() and len(np.unique(theirs[:, 2])) > 2
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------------------
# SGD, Adam, AdamW, RMSprop, Adagrad: signatures, maximize, amsgrad, refused switches
# ---------------------------------------------------------------------------------------

CLASSES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


@pytest.mark.parametrize("cls", CLASSES)
def test_signatures_and_defaults_are_torchs(cls):
    assert_signature_and_defaults_match(cls)
    ours, theirs = getattr(optim, cls), getattr(torch.optim, cls)
    p, q = nn.Parameter(tinylm.zeros(2)), torch.zeros(2, requires_grad=True)
    assert set(ours([p]).param_groups[0]) == set(theirs([q]).param_groups[0])


OPTIMIZERS = {
    "SGD-maximize": lambda L, ps: L.optim.SGD(ps, lr=1e-2, maximize=True),
    "SGD-maximize-momentum": lambda L, ps: L.optim.SGD(
        ps, lr=1e-2, momentum=0.9, dampening=0.2, weight_decay=0.1, maximize=True
    ),
    "SGD-groups": lambda L, ps: L.optim.SGD(
        groups(
            ps,
            dict(nesterov=True, weight_decay=0.1, maximize=True),
            dict(maximize=False, weight_decay=0.2),
            dict(momentum=0.5, maximize=True),
        ),
        lr=1e-2,
        momentum=0.9,
    ),
    "Adam-maximize": lambda L, ps: L.optim.Adam(ps, lr=1e-2, weight_decay=0.1, maximize=True),
    "Adam-amsgrad": lambda L, ps: L.optim.Adam(ps, lr=1e-2, amsgrad=True),
    "Adam-groups": lambda L, ps: L.optim.Adam(
        groups(
            ps,
            dict(amsgrad=True, weight_decay=0.1, maximize=True),
            dict(decoupled_weight_decay=True, weight_decay=0.3, betas=(0.8, 0.9)),
            dict(maximize=True, eps=1e-6),
        ),
        lr=1e-2,
    ),
    "AdamW-maximize": lambda L, ps: L.optim.AdamW(ps, lr=1e-2, maximize=True),
    "AdamW-groups": lambda L, ps: L.optim.AdamW(
        groups(
            ps,
            dict(amsgrad=True, maximize=True),
            dict(amsgrad=True, weight_decay=0.0, betas=(0.5, 0.9)),
            dict(weight_decay=0.2),
        ),
        lr=1e-2,
    ),
    "RMSprop-maximize": lambda L, ps: L.optim.RMSprop(ps, lr=1e-3, maximize=True),
    "RMSprop-groups": lambda L, ps: L.optim.RMSprop(
        groups(
            ps,
            dict(centered=True, momentum=0.9, weight_decay=0.1, maximize=True),
            dict(momentum=0.5, maximize=True),
            dict(centered=True),
        ),
        lr=1e-3,
    ),
    "Adagrad-maximize": lambda L, ps: L.optim.Adagrad(ps, maximize=True),
    "Adagrad-groups": lambda L, ps: L.optim.Adagrad(
        groups(
            ps,
            dict(lr_decay=0.05, weight_decay=0.1, maximize=True),
            dict(lr=0.1, maximize=True),
            dict(eps=1e-3),
        ),
        lr=5e-2,
        initial_accumulator_value=0.5,  # (PyTorch reads it from here, never from a group)
    ),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_trajectories_and_state_equal_torch(name):
    make = OPTIMIZERS[name]
    ours, opt = trajectory(tinylm, make)
    with torch_float64():
        theirs, opt_t = trajectory(torch, make)
    start = initial_values()
    for a, b, s in zip(ours, theirs, start):
        assert a.dtype == np.float64 and a.shape == tuple(b.shape)
        assert np.abs(b.detach().numpy() - s).max() > 1e-3  # the run did move the parameter
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    for p, q in zip(ours, theirs):  # the optimizer's state too (AMSGrad's max_exp_avg_sq)
        mine, its = opt.state[p], opt_t.state[q]
        assert set(mine) == set(its)
        for key, value in its.items():
            np.testing.assert_allclose(
                np.asarray(mine[key], dtype=float), value.numpy(), rtol=1e-10, atol=1e-12
            )


def test_maximize_climbs_where_minimize_descends():
    """On L = ½‖θ‖², maximize moves away from 0 by as much as minimize moves towards it."""
    for cls in CLASSES:
        up, down = (
            nn.Parameter(tinylm.tensor([1.0, -2.0])),
            nn.Parameter(tinylm.tensor([1.0, -2.0])),
        )
        opt_up = getattr(optim, cls)([up], lr=0.1, maximize=True)
        opt_down = getattr(optim, cls)([down], lr=0.1)
        for opt, p in ((opt_up, up), (opt_down, down)):
            p.grad = p.detach().clone()
            opt.step()
        assert (np.abs(up.detach().numpy()) > [1.0, 2.0]).all(), cls
        assert (np.abs(down.detach().numpy()) < [1.0, 2.0]).all(), cls


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("maximize", [False, True])
def test_adam_float32_keeps_the_fused_kernel_path(cls, maximize, monkeypatch):
    """float32 runs the registry's ``adam_update`` (Numba where present) with or without
    ``maximize``, and without ``maximize`` it gets the parameter's own gradient array (no
    copy on the default path); the result equals the negated-gradient run."""
    calls = []
    lookup = registry.lookup

    def spy(name, device):
        kernel = lookup(name, device)
        if name != "adam_update":
            return kernel

        def wrapped(param, grad, *args, **kwargs):
            calls.append(grad)
            return kernel(param, grad, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(registry, "lookup", spy)
    values = np.random.default_rng(3).standard_normal((8, 5)).astype(np.float32)
    p, ref = nn.Parameter(tinylm.tensor(values)), nn.Parameter(tinylm.tensor(values))
    opt = getattr(optim, cls)([p], lr=1e-2, weight_decay=0.1, maximize=maximize)
    opt_ref = getattr(optim, cls)([ref], lr=1e-2, weight_decay=0.1)
    for t in range(5):
        g = np.random.default_rng(t).standard_normal((8, 5)).astype(np.float32)
        p.grad = tinylm.tensor(g)
        ref.grad = tinylm.tensor(-g if maximize else g)
        opt.step()
        opt_ref.step()
        if not maximize:
            assert calls[-2] is p.grad.data
    assert len(calls) == 10 and p.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))
    np.testing.assert_array_equal(p.detach().numpy(), ref.detach().numpy())


def test_amsgrad_keeps_the_running_maximum_in_float32():
    p = nn.Parameter(tinylm.randn(3, 4))
    opt = optim.AdamW([p], amsgrad=True)
    for scale in (3.0, 0.1, 0.1):
        p.grad = tinylm.randn(3, 4) * scale
        opt.step()
    state = opt.state[p]
    assert p.dtype == state["max_exp_avg_sq"].dtype == np.float32
    assert (state["max_exp_avg_sq"] >= state["exp_avg_sq"]).all()
    assert (state["max_exp_avg_sq"] > state["exp_avg_sq"]).any()


SWITCHES = {
    "SGD": ["foreach", "differentiable", "fused"],
    "Adam": ["foreach", "capturable", "differentiable", "fused"],
    "AdamW": ["foreach", "capturable", "differentiable", "fused"],
    "RMSprop": ["foreach", "capturable", "differentiable"],
    "Adagrad": ["foreach", "differentiable", "fused"],
}


@pytest.mark.parametrize("cls", CLASSES)
def test_implementation_switches_are_refused(cls):
    p = nn.Parameter(tinylm.zeros(2))
    make = getattr(optim, cls)
    make([p], foreach=False)  # the one implementation there is
    if "fused" in SWITCHES[cls]:
        make([p], fused=False)
    for switch in SWITCHES[cls]:
        for args, kwargs in (([p], {switch: True}), ([{"params": [p], switch: True}], {})):
            with pytest.raises(TinyLMError, match=f"^{cls}: {switch}=True") as info:
                make(args, **kwargs)
            assert "\n" not in str(info.value)
    for switch in {"capturable", "fused"} - set(SWITCHES[cls]):  # not in torch's either
        with pytest.raises(TypeError):
            make([p], **{switch: False})
