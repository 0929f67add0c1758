"""Optimizers, clipping and schedules: 100-step trajectories against a plain numpy
transcription of the update equations and against torch.optim (float64, 1e-10), Adam vs
gradient descent on Rosenbrock, state dicts, parameter groups."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.optim import lr_scheduler
from tinylm.serialization import load, save  # exported as tinylm.save / tinylm.load

SHAPES = [(4, 3), (3,)]
STEPS = 100


def initial_values():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s) for s in SHAPES]


def gradient(theta: np.ndarray, step: int, i: int) -> np.ndarray:
    """A gradient that depends on where the optimizer has taken θ: ∇ of ½‖θ‖² plus a
    deterministic per-step perturbation (so every update rule leaves its own trail)."""
    noise = np.random.default_rng(1000 * step + i).standard_normal(theta.shape)
    return theta + 0.5 * noise


def run_tinylm(make_optimizer, steps=STEPS):
    params = [nn.Parameter(tinylm.tensor(a)) for a in initial_values()]
    opt = make_optimizer(params)
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = tinylm.tensor(gradient(p.detach().numpy(), t, i))
        opt.step()
    return [p.detach().numpy() for p in params]


# ---------------------------------------------------------------------------------------
# numpy transcriptions of the update equations (as written in the papers / docs)
# ---------------------------------------------------------------------------------------


def numpy_sgd(groups, steps=STEPS):
    thetas = [a.copy() for a in initial_values()]
    bufs = [None] * len(thetas)
    for t in range(steps):
        for i, theta in enumerate(thetas):
            h = groups[i]
            g = gradient(theta, t, i) + h["weight_decay"] * theta
            if h["momentum"]:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = h["momentum"] * bufs[i] + (1 - h["dampening"]) * g
                g = g + h["momentum"] * bufs[i] if h["nesterov"] else bufs[i]
            thetas[i] = theta - h["lr"] * g
    return thetas


def numpy_adam(groups, decoupled, steps=STEPS):
    thetas = [a.copy() for a in initial_values()]
    m = [np.zeros_like(a) for a in thetas]
    v = [np.zeros_like(a) for a in thetas]
    for t in range(1, steps + 1):
        for i, theta in enumerate(thetas):
            h = groups[i]
            (b1, b2), lr, wd = h["betas"], h["lr"], h["weight_decay"]
            g = gradient(theta, t - 1, i)
            if decoupled:
                theta = theta * (1 - lr * wd)
            else:
                g = g + wd * theta
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            thetas[i] = theta - lr * m_hat / (np.sqrt(v_hat) + h["eps"])
    return thetas


SGD_CASES = [
    dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01, nesterov=False),
    dict(lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.05, nesterov=True),
]


def two_groups(params, first, second):
    return [{"params": [params[0]], **first}, {"params": [params[1]], **second}]


@pytest.mark.parametrize("case", range(len(SGD_CASES)))
def test_sgd_trajectory_equals_numpy_transcription(case):
    first, second = SGD_CASES[case], SGD_CASES[(case + 1) % len(SGD_CASES)]
    got = run_tinylm(lambda ps: optim.SGD(two_groups(ps, first, second), lr=1.0))
    for a, b in zip(got, numpy_sgd([first, second])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


ADAM_GROUPS = [
    dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.0),
]


@pytest.mark.parametrize("backend", ["numpy", "auto"])
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_trajectory_equals_numpy_transcription(cls, backend):
    registry.set_backend(backend)
    try:
        got = run_tinylm(lambda ps: cls(two_groups(ps, *ADAM_GROUPS)))
    finally:
        registry.set_backend("auto")
    expected = numpy_adam(ADAM_GROUPS, decoupled=cls is optim.AdamW)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def run_torch(torch, make_optimizer, steps=STEPS):
    params = [torch.tensor(a, requires_grad=True) for a in initial_values()]
    opt = make_optimizer(params)
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.tensor(gradient(p.detach().numpy(), t, i))
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize(
    "name,kwargs",
    [("SGD", c) for c in SGD_CASES]
    + [
        ("Adam", dict(lr=1e-2, weight_decay=0.1)),
        ("Adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6)),
        ("AdamW", dict(lr=1e-2)),
        ("AdamW", dict(lr=1e-2, weight_decay=0.3, betas=(0.85, 0.95))),
    ],
)
def test_trajectories_equal_torch_optim_in_float64(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_tinylm(lambda ps: getattr(optim, name)(ps, **kwargs))
    theirs = run_torch(torch, lambda ps: getattr(torch.optim, name)(ps, **kwargs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_float32_parameters_stay_float32():
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        p = nn.Parameter(tinylm.randn(5))
        opt = cls([p], lr=0.1) if cls is optim.SGD else cls([p])
        p.grad = tinylm.randn(5)
        opt.step()
        assert p.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))


# ---------------------------------------------------------------------------------------
# Adam beats gradient descent on the Rosenbrock valley
# ---------------------------------------------------------------------------------------


def rosenbrock(p):
    """f(x, y) = (1 − x)² + 100 (y − x²)², a curved valley with its minimum 0 at (1, 1)."""
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_gradient(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def minimise(make_optimizer, steps=1000):
    p = nn.Parameter(tinylm.tensor([-1.2, 1.0], dtype=tinylm.float64))  # the classic start
    opt = make_optimizer([p])
    with np.errstate(all="ignore"):
        for _ in range(steps):
            p.grad = tinylm.tensor(rosenbrock_gradient(p.detach().numpy()))
            opt.step()
        value = rosenbrock(p.detach().numpy())
    return value if math.isfinite(value) else math.inf


def test_rosenbrock_gradient_is_autograds():
    p = tinylm.tensor([-1.2, 1.0], dtype=tinylm.float64, requires_grad=True)
    rosenbrock(p).backward()
    np.testing.assert_allclose(p.grad.numpy(), rosenbrock_gradient(p.detach().numpy()), rtol=1e-14)


def test_adam_beats_gradient_descent_on_rosenbrock():
    # gradient descent gets its best learning rate from a grid (larger ones diverge);
    # Adam gets one fixed learning rate
    best_gd = min(minimise(lambda ps, lr=lr: optim.SGD(ps, lr=lr)) for lr in (1e-3, 2e-3, 3e-3))
    adam = minimise(lambda ps: optim.Adam(ps, lr=0.1))
    assert adam < best_gd / 100, (adam, best_gd)
    assert adam < 1e-3


# ---------------------------------------------------------------------------------------
# state dicts, groups, errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: optim.Adam(ps, lr=0.01),
        lambda ps: optim.AdamW(two_groups(ps, *ADAM_GROUPS)),
    ],
)
def test_optimizer_state_dict_resumes_the_same_trajectory(make, tmp_path):
    straight = run_tinylm(make, steps=20)

    params = [nn.Parameter(tinylm.tensor(a)) for a in initial_values()]
    opt = make(params)

    def train(opt, params, steps):
        for t in steps:
            for i, p in enumerate(params):
                p.grad = tinylm.tensor(gradient(p.detach().numpy(), t, i))
            opt.step()

    train(opt, params, range(10))
    save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "c")
    ckpt = load(tmp_path / "c")
    resumed_params = [nn.Parameter(t) for t in ckpt["params"]]
    resumed = make(resumed_params)
    resumed.load_state_dict(ckpt["optim"])
    train(resumed, resumed_params, range(10, 20))
    for a, b in zip(straight, resumed_params):
        np.testing.assert_array_equal(a, b.detach().numpy())


def test_load_state_dict_checks_groups_and_shapes():
    p, q = nn.Parameter(tinylm.randn(3)), nn.Parameter(tinylm.randn(2))
    opt = optim.Adam([p, q])
    p.grad, q.grad = tinylm.randn(3), tinylm.randn(2)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(TinyLMError, match="group 0 has 2 parameters in the state dict but 1"):
        optim.Adam([p]).load_state_dict(sd)
    with pytest.raises(TinyLMError, match="has shape"):
        optim.Adam([nn.Parameter(tinylm.randn(4)), q]).load_state_dict(sd)
    other = optim.Adam([p, q], lr=0.5)
    other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 1e-3 and other.param_groups[0]["betas"] == (0.9, 0.999)
    assert other.state[p]["step"] == 1


def test_weight_decay_groups_skip_biases_and_layer_norm():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    groups = optim.weight_decay_groups(model, 0.1)
    assert [p.shape for p in groups[0]["params"]] == [(4, 3), (2, 4)]
    assert [p.shape for p in groups[1]["params"]] == [(4,), (4,), (4,), (2,)]
    opt = optim.AdamW(groups, lr=0.1)
    before = {id(p): p.detach().numpy().copy() for p in model.parameters()}
    for p in model.parameters():
        p.grad = tinylm.zeros(*p.shape)  # no gradient: only decay can move a weight
    opt.step()
    for p in groups[0]["params"]:
        np.testing.assert_allclose(p.detach().numpy(), before[id(p)] * (1 - 0.1 * 0.1), rtol=1e-6)
    for p in groups[1]["params"]:
        np.testing.assert_array_equal(p.detach().numpy(), before[id(p)])


def test_optimizer_argument_errors():
    p = nn.Parameter(tinylm.randn(2))
    with pytest.raises(TinyLMError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="not a single tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TinyLMError, match="more than one place"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TinyLMError, match="not a leaf tensor"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TinyLMError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TinyLMError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)


def test_step_with_closure_and_zero_grad():
    p = nn.Parameter(tinylm.tensor([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert p.item() == 3.0 - 0.25 * 6.0
    opt.zero_grad()
    assert p.grad is None


# ---------------------------------------------------------------------------------------
# clip_grad_norm_
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2)]]
    params = [nn.Parameter(tinylm.zeros(*g.shape, dtype=tinylm.float64)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = tinylm.tensor(g)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.abs(flat).max() if norm_type == math.inf else np.linalg.norm(flat, norm_type)
    total = optim.clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, expected, rtol=1e-12)
    coef = 0.5 / (expected + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)
    # already short enough: untouched
    assert optim.clip_grad_norm_(params, max_norm=100.0) < 100
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)


def test_clip_grad_norm_matches_torch_and_flags_nonfinite():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s) * 3 for s in [(3, 4), (6,)]]
    ours = [nn.Parameter(tinylm.zeros(*g.shape, dtype=tinylm.float64)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for a, b, g in zip(ours, theirs, grads):
        a.grad, b.grad = tinylm.tensor(g), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_allclose(total, total_t.item(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    ours[0].grad.data[0, 0] = np.nan
    with pytest.raises(TinyLMError, match="NaN or inf"):
        optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)


# ---------------------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------------------


def lrs(scheduler, opt, steps):
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return out


def test_warmup_cosine_is_nanogpts_schedule():
    p = nn.Parameter(tinylm.zeros(1))
    opt = optim.AdamW([p], lr=6e-4)
    sched = lr_scheduler.WarmupCosineLR(opt, warmup_steps=10, max_steps=50, min_lr=6e-5)

    def nanogpt_get_lr(it, learning_rate=6e-4, warmup_iters=10, lr_decay_iters=50, min_lr=6e-5):
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_lr + coeff * (learning_rate - min_lr)

    got = [g[0] for g in lrs(sched, opt, 70)]
    np.testing.assert_allclose(got, [nanogpt_get_lr(i) for i in range(70)], rtol=1e-15)
    assert sched.get_last_lr() == [6e-5]


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("StepLR", dict(step_size=7, gamma=0.5)),
        ("CosineAnnealingLR", dict(T_max=20, eta_min=1e-4)),
        ("LambdaLR", dict(lr_lambda=lambda s: 1 / (1 + s))),
    ],
)
def test_schedules_equal_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    p = nn.Parameter(tinylm.zeros(1))
    q = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [p], "lr": 0.1}], lr=0.1)
    opt_t = torch.optim.SGD([q], lr=0.1)
    ours = lrs(getattr(lr_scheduler, name)(opt, **kwargs), opt, 30)
    sched_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)
    theirs = lrs(sched_t, opt_t, 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_scheduler_state_dict_round_trip(tmp_path):
    p = nn.Parameter(tinylm.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.WarmupCosineLR(opt, 5, 30, min_lr=0.1)
    lrs(sched, opt, 12)
    save(sched.state_dict(), tmp_path / "s")
    opt2 = optim.SGD([p], lr=1.0)
    sched2 = lr_scheduler.WarmupCosineLR(opt2, 5, 30, min_lr=0.1)
    sched2.load_state_dict(load(tmp_path / "s"))
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr() and sched2.last_epoch == 13
    with pytest.raises(TinyLMError, match="warmup_steps ≥ 0"):
        lr_scheduler.WarmupCosineLR(opt, -1, 10)
    # no room for a decay (max_steps ≤ warmup_steps): nanoGPT's formula warms up, then floors
    short = lr_scheduler.WarmupCosineLR(optim.SGD([p], lr=1.0), 4, 2, min_lr=0.1)
    np.testing.assert_allclose(
        [g[0] for g in lrs(short, short.optimizer, 6)], [0.2, 0.4, 0.6, 0.8, 0.1, 0.1], rtol=1e-15
    )


def transformers_linear_lambda(step, num_warmup_steps, num_training_steps):
    """Hugging Face transformers' _get_linear_schedule_with_warmup_lr_lambda, transcribed."""
    if step < num_warmup_steps:
        return float(step) / float(max(1, num_warmup_steps))
    return max(
        0.0,
        float(num_training_steps - step) / float(max(1, num_training_steps - num_warmup_steps)),
    )


@pytest.mark.parametrize("warmup,total", [(10, 50), (0, 7), (5, 5), (3, 1)])
def test_linear_schedule_with_warmup_is_bert_fine_tuning_schedule(warmup, total):
    p = nn.Parameter(tinylm.zeros(1))
    opt = optim.AdamW([p], lr=2e-5)
    sched = lr_scheduler.get_linear_schedule_with_warmup(opt, warmup, total)
    got = [g[0] for g in lrs(sched, opt, total + 5)]
    expected = [2e-5 * transformers_linear_lambda(s, warmup, total) for s in range(total + 5)]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    assert got[-1] == 0.0 and (warmup == 0 or got[0] == 0.0)
    with pytest.raises(TinyLMError, match="num_training_steps > 0"):
        lr_scheduler.get_linear_schedule_with_warmup(opt, 1, 0)


def test_linear_schedule_with_warmup_equals_torch_lambda_lr():
    torch = pytest.importorskip("torch")
    p = nn.Parameter(tinylm.zeros(1))
    q = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    opt_t = torch.optim.SGD([q], lr=0.1)
    ours = lrs(lr_scheduler.get_linear_schedule_with_warmup(opt, 4, 20), opt, 25)
    theirs = lrs(
        torch.optim.lr_scheduler.LambdaLR(opt_t, lambda s: transformers_linear_lambda(s, 4, 20)),
        opt_t,
        25,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.AdamW(ps)])
def test_frozen_parameters_are_accepted_and_skipped_as_in_pytorch(make):
    """A frozen parameter (requires_grad=False) may sit in an optimizer, as in PyTorch: it has
    no .grad, so step() leaves it alone, and unfreezing it later makes it train."""
    frozen, trained = nn.Parameter(tinylm.ones(3)), nn.Parameter(tinylm.ones(3))
    frozen.requires_grad = False
    opt = make([frozen, trained])
    (frozen * trained).sum().backward()
    assert frozen.grad is None and trained.grad is not None
    opt.step()
    assert (frozen.detach().numpy() == 1).all() and (trained.detach().numpy() != 1).all()
    assert all(p is not frozen for p in opt.state)  # no moments kept for it either
    frozen.requires_grad = True  # gradual unfreezing
    opt.zero_grad()
    (frozen * trained).sum().backward()
    opt.step()
    assert (frozen.detach().numpy() != 1).all()
