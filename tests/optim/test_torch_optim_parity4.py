"""Adafactor, ``optim.swa_utils`` and three schedule/optimizer leftovers against torch 2.13,
the same code run in both libraries (``lib`` is tinylm or torch) on the same float64 values:

* ``Adafactor``: parameters and state (``row_var``/``col_var`` of 2-D and 3-D parameters,
  ``variance`` of 1-D ones, ``step``) after 60 steps, with weight decay, ``maximize``, groups
  and a transposed gradient; signature, defaults, state dicts and errors;
* ``AveragedModel`` (SWA, EMA by ``avg_fn`` and ``multi_avg_fn``, ``use_buffers``),
  the four ``get_*_avg_fn`` rules, ``SWALR`` step by step, ``update_bn``;
* ``ReduceLROnPlateau.step(metrics, epoch)``, ``OneCycleLR``'s refusals, and ``Adagrad``'s
  starting sum (the constructor's ``initial_accumulator_value``, whatever a group says).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.optim import lr_scheduler, swa_utils
from tinylm.serialization import load, save
from tinylm.utils import data as tdata

torch = pytest.importorskip("torch")
import optim_parity  # noqa: E402 - after the skip
from optim_parity import (  # noqa: E402
    STEPS,
    groups,
    initial_values,
    make_params,
    set_grads,
    torch_float64,
)

pytestmark = pytest.mark.torch

SHAPES = [(4, 3), (2, 3, 5), (5,), (3, 1)]
SPIKE = 3.0  # the gradient's noise every 7th step: Adafactor's row and column statistics,
# and the clipping of the update, change from step to step


def trajectory(lib, make_optimizer, steps=STEPS, lr_change_at=None):
    """optim_parity's run on this file's SHAPES, with its SPIKE."""
    return optim_parity.trajectory(lib, make_optimizer, steps, lr_change_at, SHAPES, SPIKE)


def assert_same_run(ours, opt, theirs, opt_t, rtol=1e-10):
    for a, b, s in zip(ours, theirs, initial_values(SHAPES)):
        assert a.dtype == np.float64 and a.shape == tuple(b.shape)
        assert np.abs(b.detach().numpy() - s).max() > 1e-3  # the run did move the parameter
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=1e-12)
    for p, q in zip(ours, theirs):
        mine, its = opt.state[p], opt_t.state[q]
        assert set(mine) == set(its)
        for key, value in its.items():
            assert np.shape(mine[key]) == tuple(value.shape), key
            np.testing.assert_allclose(
                np.asarray(mine[key], dtype=float), value.numpy(), rtol=rtol, atol=1e-12
            )


# ---------------------------------------------------------------------------------------
# Adafactor
# ---------------------------------------------------------------------------------------

ADAFACTOR = {
    "default": lambda L, ps: L.optim.Adafactor(ps),
    "weight-decay": lambda L, ps: L.optim.Adafactor(ps, lr=3e-2, weight_decay=0.2),
    "maximize": lambda L, ps: L.optim.Adafactor(ps, maximize=True, weight_decay=0.05),
    "small-lr-clipped": lambda L, ps: L.optim.Adafactor(ps, lr=1e-3, d=1.2, eps=(1e-30, 1e-2)),
    "groups": lambda L, ps: L.optim.Adafactor(
        groups(
            ps,
            dict(beta2_decay=-0.5, weight_decay=0.1),
            dict(eps=(1e-12, 0.5), maximize=True),  # ε₂ above RMS(θ): the floor of α
            dict(lr=0.5, d=2.0),  # ρ = 1/√t once t > 4
            dict(beta2_decay=0.0),  # t^0 = 1: the latest g² only
        ),
        lr=2e-2,
    ),
}


@pytest.mark.parametrize("lr_change_at", [None, 25])
@pytest.mark.parametrize("name", list(ADAFACTOR))
def test_adafactor_parameters_and_state_equal_torch(name, lr_change_at):
    ours, opt = trajectory(tinylm, ADAFACTOR[name], lr_change_at=lr_change_at)
    with torch_float64():
        theirs, opt_t = trajectory(torch, ADAFACTOR[name], lr_change_at=lr_change_at)
    assert_same_run(ours, opt, theirs, opt_t)
    assert opt.state[ours[1]]["row_var"].shape == (2, 3, 1)  # factored over the last two dims
    assert opt.state[ours[1]]["col_var"].shape == (2, 1, 5)
    assert set(opt.state[ours[2]]) == {"step", "variance"}  # a vector: not factored


def test_adafactor_float32_stays_float32_and_follows_torch():
    """ε₁ None is the machine epsilon of the parameter's dtype (float32's here)."""
    values = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float32)
    p, q = nn.Parameter(tinylm.tensor(values)), torch.tensor(values, requires_grad=True)
    opt = optim.Adafactor([p], weight_decay=0.1)
    opt_t = torch.optim.Adafactor([q], weight_decay=0.1)
    for t in range(20):
        g = np.random.default_rng(t).standard_normal((6, 5)).astype(np.float32) * 1e-3
        p.grad, q.grad = tinylm.tensor(g), torch.tensor(g)
        opt.step()
        opt_t.step()
    assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adafactor_signature_and_defaults_are_torchs():
    a = inspect.signature(optim.Adafactor).parameters
    b = inspect.signature(torch.optim.Adafactor).parameters
    assert list(a) == list(b)
    for name in a:
        assert a[name].kind == b[name].kind, name
        assert a[name].default == b[name].default, name
    p, q = nn.Parameter(tinylm.zeros(2)), torch.zeros(2, requires_grad=True)
    assert optim.Adafactor([p]).defaults == torch.optim.Adafactor([q]).defaults
    assert set(optim.Adafactor([p]).param_groups[0]) == set(
        torch.optim.Adafactor([q]).param_groups[0]
    )
    assert "Adafactor" in optim.__all__


def test_adafactor_state_dict_resumes_the_same_trajectory(tmp_path):
    make = ADAFACTOR["groups"]
    straight, _ = trajectory(tinylm, make, steps=20)
    params, opt = trajectory(tinylm, make, steps=10)
    save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "c")
    ckpt = load(tmp_path / "c")
    resumed = [nn.Parameter(t) for t in ckpt["params"]]
    opt2 = make(tinylm, resumed)
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.state[resumed[0]]["row_var"].shape == (4, 1)
    assert opt2.param_groups[1]["eps"] == (1e-12, 0.5)
    for t in range(10, 20):
        set_grads(tinylm, resumed, t, SPIKE)
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    bad = opt.state_dict()
    bad["state"][0]["row_var"] = np.zeros((4, 3))
    with pytest.raises(TinyLMError, match=r"state 'row_var' of parameter 0 has shape \(4, 3\), "
                       r"expected \(4, 1\)") as info:  # fmt: skip
        opt2.load_state_dict(bad)
    assert "\n" not in str(info.value)


def test_adafactor_bad_arguments_give_one_line():
    p = nn.Parameter(tinylm.zeros(2))
    q = torch.zeros(2, requires_grad=True)
    cases = [
        (dict(lr=-1.0), "Adafactor: invalid learning rate -1.0"),
        (dict(beta2_decay=0.5), "Adafactor: beta2_decay must be ≤ 0, got 0.5"),
        (dict(eps=(-1.0, 1e-3)), r"Adafactor: eps\[0\] must be None or ≥ 0"),
        (dict(eps=(None, -1e-3)), r"Adafactor: eps\[1\] must be ≥ 0"),
        (dict(d=0.5), "Adafactor: the clipping threshold d must be ≥ 1, got 0.5"),
        (dict(weight_decay=-0.1), "Adafactor: weight_decay must be ≥ 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError):  # torch refuses each too
            torch.optim.Adafactor([q], **kwargs)
        with pytest.raises(TinyLMError, match=f"^{message}") as info:
            optim.Adafactor([p], **kwargs)
        assert "\n" not in str(info.value)
    optim.Adafactor([p], foreach=False)
    with pytest.raises(TinyLMError, match="^Adafactor: foreach=True is not supported"):
        optim.Adafactor([{"params": [p], "foreach": True}])


# ---------------------------------------------------------------------------------------
# swa_utils: AveragedModel and the averaging rules
# ---------------------------------------------------------------------------------------


def make_model(lib):
    """Linear → BatchNorm1d → Linear in float64, the same weights in both libraries."""
    rng = np.random.default_rng(7)
    weights = {
        "0.weight": rng.standard_normal((4, 3)),
        "0.bias": rng.standard_normal(4),
        "1.weight": rng.uniform(0.5, 1.5, 4),
        "1.bias": rng.standard_normal(4),
        "2.weight": rng.standard_normal((2, 4)),
        "2.bias": rng.standard_normal(2),
    }
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
    model = model.double()
    with lib.no_grad():
        for name, p in model.named_parameters():
            p.copy_(lib.tensor(weights[name]))
    return model


def train_step(lib, model, t: int) -> None:
    """A move of every weight (as an optimizer's) and a forward in training mode (moving the
    BatchNorm's running statistics and its batch count)."""
    with lib.no_grad():
        for i, p in enumerate(model.parameters()):
            shift = np.random.default_rng(100 * t + i).standard_normal(tuple(p.shape))
            p.add_(lib.tensor(0.3 * shift))
        x = np.random.default_rng(500 + t).standard_normal((8, 3)) * (1 + t)
        model(lib.tensor(x))


AVERAGES = {
    "swa": lambda L, m: L.optim.swa_utils.AveragedModel(m),
    "ema-multi": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, multi_avg_fn=L.optim.swa_utils.get_ema_multi_avg_fn(0.9)
    ),
    "ema-multi-steep": lambda L, m: L.optim.swa_utils.AveragedModel(  # lerp weight ≥ ½
        m, multi_avg_fn=L.optim.swa_utils.get_ema_multi_avg_fn(0.3)
    ),
    "ema-avg-fn": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, avg_fn=L.optim.swa_utils.get_ema_avg_fn(0.95)
    ),
    "swa-multi": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, multi_avg_fn=L.optim.swa_utils.get_swa_multi_avg_fn()
    ),
    "custom-avg-fn": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, avg_fn=lambda avg, cur, n: avg * 0.5 + cur * 0.25 + avg * cur * 0.1 / (n + 1)
    ),
    "swa-buffers": lambda L, m: L.optim.swa_utils.AveragedModel(m, use_buffers=True),
    "ema-buffers": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, multi_avg_fn=L.optim.swa_utils.get_ema_multi_avg_fn(0.6), use_buffers=True
    ),
    "ema-fn-buffers": lambda L, m: L.optim.swa_utils.AveragedModel(
        m, avg_fn=L.optim.swa_utils.get_ema_avg_fn(0.7), use_buffers=True
    ),
}


def averaged_run(lib, name, updates=6):
    model = make_model(lib)
    averaged = AVERAGES[name](lib, model)
    seen = []
    for t in range(updates):
        train_step(lib, model, t)
        averaged.update_parameters(model)
        seen.append({k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()})
    averaged.eval()
    x = np.random.default_rng(9).standard_normal((5, 3))
    with lib.no_grad():
        out = averaged(lib.tensor(x))
    return model, averaged, seen, out


@pytest.mark.parametrize("name", list(AVERAGES))
def test_averaged_model_equals_torch_update_by_update(name):
    model, ours, ours_seen, ours_out = averaged_run(tinylm, name)
    model_t, theirs, theirs_seen, theirs_out = averaged_run(torch, name)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:2] == ["n_averaged", "module.0.weight"]
    for mine, its in zip(ours_seen, theirs_seen):
        for key, value in its.items():
            assert mine[key].dtype == value.dtype and mine[key].shape == value.shape, key
            np.testing.assert_allclose(mine[key], value, rtol=1e-12, atol=1e-14, err_msg=key)
    assert int(ours.n_averaged.item()) == 6
    averaged_w, model_w = ours.module[0].weight.detach().numpy(), model[0].weight.detach().numpy()
    assert np.abs(averaged_w - model_w).max() > 1e-3  # an average, not the latest weights
    np.testing.assert_allclose(ours_out.numpy(), theirs_out.numpy(), rtol=1e-12, atol=1e-14)
    assert ours.training is False and ours.module.training is False


def test_averaged_model_is_a_copy_and_its_state_dict_loads():
    model = make_model(tinylm)
    averaged = swa_utils.AveragedModel(model)
    assert averaged.module is not model
    assert averaged.module[0].weight is not model[0].weight
    before = averaged.module[0].weight.detach().numpy().copy()
    train_step(tinylm, model, 0)  # the copy does not move with the model
    np.testing.assert_array_equal(averaged.module[0].weight.detach().numpy(), before)
    averaged.update_parameters(model)
    averaged.update_parameters(model)
    other = swa_utils.AveragedModel(make_model(tinylm))
    other.load_state_dict(averaged.state_dict())
    assert int(other.n_averaged.item()) == 2 and other.n_averaged.dtype == np.int64
    np.testing.assert_array_equal(
        other.module[0].weight.detach().numpy(), averaged.module[0].weight.detach().numpy()
    )
    x = tinylm.randn(4, 3).double()
    other.eval(), averaged.eval()
    np.testing.assert_array_equal(other(x).detach().numpy(), averaged(x).detach().numpy())


def test_averaged_model_gradients_reach_the_copy_only():
    """The copy is a model of its own: a backward through it fills its own gradients."""
    model = make_model(tinylm)
    averaged = swa_utils.AveragedModel(model)
    averaged(tinylm.randn(6, 3).double()).sum().backward()
    assert averaged.module[0].weight.grad is not None and model[0].weight.grad is None


@pytest.mark.parametrize("dtype", ["float64", "int64"])
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_averaging_rules_equal_torch(dtype, n):
    rng = np.random.default_rng(n)
    if dtype == "float64":
        a_np, b_np = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    else:
        a_np, b_np = rng.integers(-50, 50, (3, 4)), rng.integers(-50, 50, (3, 4))
    results = {}
    for lib in (tinylm, torch):
        W = lib.optim.swa_utils
        count = lib.tensor(n)
        one = {
            "swa": W.get_swa_avg_fn()(lib.tensor(a_np), lib.tensor(b_np), count),
            "ema": W.get_ema_avg_fn(0.8)(lib.tensor(a_np), lib.tensor(b_np), count),
            "swa-int-count": W.get_swa_avg_fn()(lib.tensor(a_np), lib.tensor(b_np), n),
        }
        for decay in (0.9, 0.2):
            a, b = lib.tensor(a_np), lib.tensor(b_np)
            W.get_ema_multi_avg_fn(decay)([a, a * 2], [b, b], count)
            one[f"ema-multi-{decay}"] = a
        if dtype == "float64":
            for count_arg in (count, n):
                a = lib.tensor(a_np)
                W.get_swa_multi_avg_fn()([a], [lib.tensor(b_np)], count_arg)
                one[f"swa-multi-{type(count_arg).__name__}"] = a
        results[lib.__name__] = one
    for key, value in results["torch"].items():
        mine = results["tinylm"][key]
        assert str(mine.dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
        np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-13, err_msg=key)


def test_swa_multi_rule_refuses_integers_as_torch():
    a, b = torch.tensor([3, 8]), torch.tensor([10, 1])
    with pytest.raises(RuntimeError):
        torch.optim.swa_utils.get_swa_multi_avg_fn()([a], [b], torch.tensor(2))
    fn = swa_utils.get_swa_multi_avg_fn()
    with pytest.raises(TinyLMError, match="^get_swa_multi_avg_fn: cannot average int64") as info:
        fn([tinylm.tensor([3, 8])], [tinylm.tensor([10, 1])], tinylm.tensor(2))
    assert "\n" not in str(info.value)


def test_swa_utils_errors_give_one_line():
    model = make_model(tinylm)
    ema, multi = swa_utils.get_ema_avg_fn(), swa_utils.get_ema_multi_avg_fn()
    with pytest.raises(AssertionError):
        torch.optim.swa_utils.AveragedModel(
            make_model(torch), avg_fn=torch.optim.swa_utils.get_ema_avg_fn(),
            multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(),
        )  # fmt: skip
    cases = [
        (lambda: swa_utils.AveragedModel(model, avg_fn=ema, multi_avg_fn=multi),
         "AveragedModel: give avg_fn or multi_avg_fn, not both"),
        (lambda: swa_utils.get_ema_avg_fn(1.5), r"get_ema_avg_fn: decay must be in \[0, 1\]"),
        (lambda: swa_utils.get_ema_multi_avg_fn(-0.1), "get_ema_multi_avg_fn: decay must be"),
        (lambda: swa_utils.AveragedModel(model).update_parameters(nn.Linear(3, 4)),
         "AveragedModel.update_parameters: the model has 2 parameters, the averaged copy 6"),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(TinyLMError, match=f"^{message}") as info:
            make()
        assert "\n" not in str(info.value)
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError):
            torch.optim.swa_utils.get_ema_avg_fn(bad)
    names = "AveragedModel SWALR update_bn get_ema_multi_avg_fn get_swa_multi_avg_fn"
    for name in (names + " get_ema_avg_fn get_swa_avg_fn").split():
        assert name in swa_utils.__all__ and name in torch.optim.swa_utils.__all__


# ---------------------------------------------------------------------------------------
# SWALR
# ---------------------------------------------------------------------------------------

SWALRS = {
    "cos": lambda S, W, o: W.SWALR(o, swa_lr=0.05),
    "linear-per-group": lambda S, W, o: W.SWALR(
        o, [0.02, 0.5], anneal_epochs=4, anneal_strategy="linear"
    ),
    "no-annealing": lambda S, W, o: W.SWALR(o, 0.01, anneal_epochs=0),
    "one-epoch": lambda S, W, o: W.SWALR(o, 0.03, anneal_epochs=1, anneal_strategy="linear"),
    "after-cosine": lambda S, W, o: (S.CosineAnnealingLR(o, T_max=20), W.SWALR(o, 0.02, 5))[1],
    "sequential": lambda S, W, o: S.SequentialLR(
        o, [S.ExponentialLR(o, 0.8), W.SWALR(o, 0.01, anneal_epochs=4)], milestones=[6]
    ),
}


def swalr_rows(lib, name, steps=25):
    p, q = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
    opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = SWALRS[name](lib.optim.lr_scheduler, lib.optim.swa_utils, opt)
        rows = []
        for t in range(steps):
            rows.append([g["lr"] for g in opt.param_groups] + list(sched.get_last_lr()))
            opt.step()
            sched.step()
            if name == "linear-per-group" and t == 2:  # a hand-set lr is annealed from
                opt.param_groups[0]["lr"] = 0.3
    return np.array(rows, dtype=float), opt


@pytest.mark.parametrize("name", list(SWALRS))
def test_swalr_equals_torch_step_by_step(name):
    ours, opt = swalr_rows(tinylm, name)
    theirs, opt_t = swalr_rows(torch, name)
    assert len(np.unique(np.r_[0.1, theirs[:, 0]])) > 1  # the schedule does change the lr
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in opt_t.param_groups]
    assert all(isinstance(v, float) for v in ours[-1])


def test_swalr_state_dict_resumes():
    def make(opt):
        return swa_utils.SWALR(opt, 0.01, anneal_epochs=8, anneal_strategy="linear")

    p = nn.Parameter(tinylm.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    sched = make(opt)
    for _ in range(3):
        sched.step()
    state, lr = sched.state_dict(), opt.param_groups[0]["lr"]
    opt2 = optim.SGD([nn.Parameter(tinylm.zeros(2))], lr=lr)
    opt2.param_groups[0]["initial_lr"] = 0.1
    sched2 = make(opt2)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = lr
    for _ in range(6):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()


def test_swalr_errors_give_one_line():
    p, q = nn.Parameter(tinylm.zeros(2)), torch.zeros(2, requires_grad=True)
    cases = [
        (dict(swa_lr=0.1, anneal_strategy="exp"), "SWALR: anneal_strategy must be 'cos' or"),
        (dict(swa_lr=0.1, anneal_epochs=-1), "SWALR: anneal_epochs must be an int ≥ 0, got -1"),
        (dict(swa_lr=0.1, anneal_epochs=2.5), "SWALR: anneal_epochs must be an int"),
        (dict(swa_lr=[0.1, 0.2]), "SWALR: got 2 swa_lr values for 1 groups"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError):
            torch.optim.swa_utils.SWALR(torch.optim.SGD([q], lr=0.1), **kwargs)
        with pytest.raises(TinyLMError, match=f"^{message}") as info:
            swa_utils.SWALR(optim.SGD([p], lr=0.1), **kwargs)
        assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------
# update_bn
# ---------------------------------------------------------------------------------------


def bn_model(lib):
    """A BatchNorm1d at the top and one nested two levels down, with moved statistics."""
    model = lib.nn.Sequential(
        lib.nn.BatchNorm1d(3, momentum=0.3),
        lib.nn.Linear(3, 4),
        lib.nn.Sequential(lib.nn.ReLU(), lib.nn.BatchNorm1d(4)),
    ).double()
    with lib.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(lib.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape))))
        model(lib.tensor(np.random.default_rng(99).standard_normal((5, 3))))
    return model


@pytest.mark.parametrize("batches", ["tensors", "tuples", "loader"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_update_bn_equals_torch(batches, mode):
    x = np.random.default_rng(3).standard_normal((20, 3)) * 2 + 1
    y = np.arange(20)
    states = {}
    for lib in (tinylm, torch):
        model = bn_model(lib)
        model.train(mode == "train")
        if batches == "tensors":
            loader = [lib.tensor(x[i : i + 6]) for i in range(0, 20, 6)]
        elif batches == "tuples":
            loader = [(lib.tensor(x[i : i + 6]), lib.tensor(y[i : i + 6])) for i in range(0, 20, 6)]
        else:
            data = lib.utils.data if lib is torch else tdata
            loader = data.DataLoader(data.TensorDataset(lib.tensor(x), lib.tensor(y)), batch_size=7)
        lib.optim.swa_utils.update_bn(loader, model)
        assert model.training is (mode == "train")
        assert model[0].momentum == 0.3 and model[2][1].momentum == 0.1
        states[lib.__name__] = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert list(states["tinylm"]) == list(states["torch"])
    for key, value in states["torch"].items():
        assert states["tinylm"][key].dtype == value.dtype, key
        np.testing.assert_allclose(states["tinylm"][key], value, rtol=1e-12, err_msg=key)
    # the plain mean of the batch means (momentum None for the pass)
    size = 7 if batches == "loader" else 6
    means = [x[i : i + size].mean(0) for i in range(0, 20, size)]
    assert states["tinylm"]["0.num_batches_tracked"] == len(means)
    np.testing.assert_allclose(states["tinylm"]["0.running_mean"], np.mean(means, 0), rtol=1e-12)


def test_update_bn_leaves_a_model_without_batch_norm_alone():
    model = nn.Linear(3, 2)
    calls = []
    model.register_forward_hook(lambda m, a, out: calls.append(1))
    swa_utils.update_bn([tinylm.randn(4, 3)], model)
    assert calls == []


def test_batch_norm_reset_running_stats_as_torch():
    for lib in (tinylm, torch):
        bn = bn_model(lib)[0]
        assert bn.num_batches_tracked.item() == 1
        bn.reset_running_stats()
        assert bn.running_mean.numpy().tolist() == [0.0] * 3
        assert bn.running_var.numpy().tolist() == [1.0] * 3
        assert bn.num_batches_tracked.item() == 0


# ---------------------------------------------------------------------------------------
# leftovers: ReduceLROnPlateau.step(metrics, epoch), OneCycleLR's checks, Adagrad's s₀
# ---------------------------------------------------------------------------------------


def plateau_rows(lib):
    p = lib.zeros(2, requires_grad=True)
    opt = lib.optim.SGD([{"params": [p]}, {"params": [lib.zeros(1, requires_grad=True)]}], 0.1)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1, min_lr=1e-3)
    metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
    epochs = [None, 5, None, 10, 3, None, None, 20, None, 21, 21, None]
    rows = []
    for metric, epoch in zip(metrics, epochs):
        if epoch is None:
            sched.step(metric)
        else:
            with pytest.warns(UserWarning, match="deprecated"):
                sched.step(metric, epoch)
        rows.append([sched.last_epoch, *[g["lr"] for g in opt.param_groups], *sched.get_last_lr()])
    return np.array(rows, dtype=float)


def test_reduce_on_plateau_step_takes_torchs_deprecated_epoch():
    ours, theirs = plateau_rows(tinylm), plateau_rows(torch)
    assert ours[:, 0].tolist() == [1, 5, 6, 10, 3, 4, 5, 20, 21, 21, 21, 22]
    assert len(np.unique(theirs[:, 1])) > 2  # the lr was reduced more than once
    np.testing.assert_array_equal(ours, theirs)
    ours_sig = inspect.signature(lr_scheduler.ReduceLROnPlateau.step).parameters
    theirs_sig = inspect.signature(torch.optim.lr_scheduler.ReduceLROnPlateau.step).parameters
    assert list(ours_sig) == list(theirs_sig)
    assert ours_sig["epoch"].default is theirs_sig["epoch"].default is None


ONE_CYCLE_REFUSED = [
    (dict(total_steps=10.0), "total_steps must be a positive int, got 10.0"),
    (dict(total_steps=0), "total_steps must be a positive int, got 0"),
    (dict(total_steps=np.int64(10)), "total_steps must be a positive int"),
    (dict(epochs=2.0, steps_per_epoch=5), "epochs must be a positive int, got 2.0"),
    (dict(epochs=2, steps_per_epoch=0), "steps_per_epoch must be a positive int, got 0"),
    (dict(epochs=2), "give total_steps, or epochs and steps_per_epoch"),
    (dict(total_steps=10, pct_start=1), r"pct_start must be a float in \[0, 1\], got 1$"),
    (dict(total_steps=10, pct_start=0), r"pct_start must be a float in \[0, 1\], got 0$"),
    (dict(total_steps=10, pct_start=1.5), r"pct_start must be a float in \[0, 1\], got 1.5"),
    (dict(total_steps=10, pct_start=-0.1), r"pct_start must be a float in \[0, 1\], got -0.1"),
    (dict(total_steps=10, anneal_strategy="exp"), "anneal_strategy must be 'cos' or 'linear'"),
]


@pytest.mark.parametrize("kwargs,message", ONE_CYCLE_REFUSED)
def test_one_cycle_refuses_what_torch_refuses(kwargs, message):
    q = torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.SGD([q], 0.1, 0.9), 0.5, **kwargs)
    p = nn.Parameter(tinylm.zeros(1))
    with pytest.raises(TinyLMError, match=f"^OneCycleLR: {message}") as info:
        lr_scheduler.OneCycleLR(optim.SGD([p], 0.1, 0.9), 0.5, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [dict(total_steps=10, pct_start=1.0), dict(total_steps=10, pct_start=0.0),
     dict(epochs=2, steps_per_epoch=5, pct_start=np.float64(0.4)),
     dict(total_steps=12, epochs=2.5, steps_per_epoch=5)],  # total_steps wins, as in torch
)  # fmt: skip
def test_one_cycle_accepts_what_torch_accepts(kwargs):
    rows = []
    for lib in (tinylm, torch):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], 0.1, 0.9)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.5, **kwargs)
        seen = []
        for _ in range(sched.total_steps - 1):
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr()[0])
        rows.append(seen)
    np.testing.assert_allclose(rows[0], rows[1], rtol=1e-13)


def adagrad_run(lib, steps=30):
    params = make_params(lib, SHAPES)
    opt = lib.optim.Adagrad(
        groups(
            params[:3],
            dict(initial_accumulator_value=5.0),  # a group's own value: not used (torch)
            dict(initial_accumulator_value=0.0, lr=0.1),
            dict(),
        ),
        lr=5e-2,
        initial_accumulator_value=0.25,
    )
    opt.add_param_group({"params": [params[3]], "initial_accumulator_value": 2.0})
    for t in range(steps):
        set_grads(lib, params, t, SPIKE)
        opt.step()
    return params, opt


def test_adagrad_starts_every_sum_at_the_constructors_value_as_torch():
    ours, opt = adagrad_run(tinylm)
    with torch_float64():
        theirs, opt_t = adagrad_run(torch)
    assert_same_run(ours, opt, theirs, opt_t)
    assert [g["initial_accumulator_value"] for g in opt.param_groups] == [5.0, 0.0, 0.25, 2.0]
    fresh = [nn.Parameter(tinylm.zeros(2))]
    one = optim.Adagrad([{"params": fresh, "initial_accumulator_value": 3.0}], lr=0.1)
    fresh[0].grad = tinylm.ones(2)
    one.step()
    assert one.state[fresh[0]]["sum"].tolist() == [1.0, 1.0]  # 0 (the default) + g²
