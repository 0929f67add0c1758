"""``optim.LBFGS`` and ``optim.Muon`` against torch 2.13, the same code run in both libraries
(``lib`` is tinylm or torch) on the same float64 values:

* ``LBFGS``: parameters, the loss returned and the state (``n_iter``, ``func_evals``, ``d``,
  ``t``, the stored pairs, ``H_diag`` …) after several ``step(closure)`` calls on a quadratic,
  Rosenbrock's function and a tiny MLP, with and without the strong-Wolfe line search, a
  history shorter than the run, each exit (tolerance_grad, tolerance_change, max_eval,
  max_iter); a transposed gradient; state dicts resumed mid-run; refusals;
* ``Muon``: the Newton–Schulz orthogonalisation (emulated bfloat16) entry by entry, and
  trajectories of 2-D parameters (tall, wide), with and without Nesterov, both lr rules,
  weight decay; float32; state dicts; refusals.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.optim.muon import newton_schulz_orthogonalize, round_to_bfloat16
from tinylm.serialization import load, save

torch = pytest.importorskip("torch")
from optim_parity import assert_signature_and_defaults_match, torch_float64  # noqa: E402

pytestmark = pytest.mark.torch


def parameter(lib, values):
    if lib is torch:
        return torch.tensor(values, requires_grad=True)
    return nn.Parameter(tinylm.tensor(values))


# ---------------------------------------------------------------------------------------
# LBFGS: three problems, each a list of parameters and a loss of them
# ---------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
_M = RNG.standard_normal((6, 6))
QUAD_A = _M @ _M.T + 0.5 * np.eye(6)  # symmetric positive definite, condition ≈ 10²
QUAD_B = RNG.standard_normal((2, 3))


def quadratic(lib):
    """½ vec(W)ᵀ A vec(W) − ⟨B, W⟩ + ½‖v‖² − v·1 over W (2, 3) and v (4,), whose W enters
    transposed (the loss reads Wᵀ)."""
    w = parameter(lib, np.arange(6.0).reshape(2, 3))
    v = parameter(lib, np.array([1.0, -2.0, 0.5, 3.0]))
    a, b = lib.tensor(QUAD_A), lib.tensor(QUAD_B)

    def loss():
        flat = w.T.reshape(6)
        return 0.5 * flat @ (a @ flat) - (b.T * w.T).sum() + 0.5 * (v * v).sum() - v.sum()

    return [w, v], loss


def rosenbrock(lib):
    """Σ (1 − xᵢ)² + 100 (xᵢ₊₁ − xᵢ²)² from (−1.5, 2, 0.5, −0.7, 1.2)."""
    x = parameter(lib, np.array([-1.5, 2.0, 0.5, -0.7, 1.2]))

    def loss():
        return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()

    return [x], loss


def mlp(lib):
    """A 3 → 5 → 1 tanh MLP's mean squared error on 12 fixed points."""
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(s) * 0.7 for s in [(5, 3), (5,), (1, 5), (1,)]]
    data, target = rng.standard_normal((12, 3)), rng.standard_normal((12, 1))
    params = [parameter(lib, v) for v in values]
    x, y = lib.tensor(data), lib.tensor(target)

    def loss():
        w1, b1, w2, b2 = params
        hidden = lib.tanh(x @ w1.T + b1)
        return ((hidden @ w2.T + b2 - y) ** 2).mean()

    return params, loss


def kinked(lib):
    """Σ |xᵢ − cᵢ| + 0.05 ‖x‖²: near a kink no step meets the curvature condition, so the
    line search's zoom narrows its bracket until the bracket tolerance stops it."""
    x = parameter(lib, np.array([2.0, -1.0, 0.5]))
    c = lib.tensor(np.array([0.3, 0.2, -0.4]))
    return [x], lambda: (x - c).abs().sum() + 0.05 * (x * x).sum()


PROBLEMS = {"quadratic": quadratic, "rosenbrock": rosenbrock, "mlp": mlp, "kinked": kinked}


def lbfgs_run(lib, problem, steps, **options):
    """``steps`` LBFGS steps: the parameters, the optimizer and the losses returned."""
    params, loss_fn = PROBLEMS[problem](lib)
    opt = lib.optim.LBFGS(params, **options)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return params, opt, losses


def close(actual, desired, rtol):
    """Equal up to ``rtol`` of the vector's own size: near a minimum L-BFGS's d, s and y are
    differences of nearly equal numbers, where a last-bit difference of a sum (NumPy's and
    PyTorch's BLAS add in their own orders) grows relative to the entry, not to the vector."""
    desired = np.asarray(desired, dtype=np.float64)
    scale = float(np.abs(desired).max()) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale + 1e-300)


def assert_same_lbfgs(ours, opt, theirs, opt_t, rtol=1e-3):
    """The same parameters (to 1e-7), iteration and evaluation counts (exactly) and state
    (to ``rtol``: near a minimum the gradients, and so y, s and d, are the rounding noise of
    the loss's terms, which the two libraries sum in different orders)."""
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float64 and a.shape == tuple(b.shape)
        close(a.detach().numpy(), b.detach().numpy(), 1e-7)
    mine, its = opt.state[ours[0]], opt_t.state[theirs[0]]
    assert set(mine) == set(its)
    assert (mine["n_iter"], mine["func_evals"]) == (its["n_iter"], its["func_evals"])
    for key in ("d", "prev_flat_grad"):
        close(mine[key], its[key].numpy(), rtol)
    for key in ("t", "H_diag", "prev_loss"):
        close(float(mine[key]), float(its[key]), rtol)
    assert len(mine["old_dirs"]) == len(its["old_dirs"]) == len(mine["ro"])
    for key in ("old_dirs", "old_stps"):
        for a, b in zip(mine[key], its[key]):
            close(a, b.numpy(), rtol)
    close(mine["ro"], [float(r) for r in its["ro"]], rtol)


LBFGS_CASES = [
    ("quadratic", 3, dict()),
    ("quadratic", 3, dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", 6, dict()),
    ("rosenbrock", 6, dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", 8, dict(history_size=3, max_iter=7, line_search_fn="strong_wolfe")),
    ("rosenbrock", 10, dict(history_size=2, lr=0.5, max_iter=5)),
    ("mlp", 2, dict(line_search_fn="strong_wolfe", history_size=4)),  # 40 iterations; later
    # ones amplify the last-bit differences of the sums (a non-convex loss): 1e-7 → 1e-5
    ("mlp", 5, dict(lr=0.8, max_iter=6, history_size=3)),
]


@pytest.mark.parametrize(("problem", "steps", "options"), LBFGS_CASES)
def test_lbfgs_trajectory_and_state_equal_torch(problem, steps, options):
    ours, opt, losses = lbfgs_run(tinylm, problem, steps, **options)
    with torch_float64():
        theirs, opt_t, losses_t = lbfgs_run(torch, problem, steps, **options)
    np.testing.assert_allclose(losses, losses_t, rtol=1e-7)
    assert losses[-1] < 0.5 * losses[0] or losses[-1] < -1  # the run did minimise
    assert_same_lbfgs(ours, opt, theirs, opt_t)
    if options.get("history_size", 100) < 5:
        assert len(opt.state[ours[0]]["old_dirs"]) == options["history_size"]  # full: rolled


@pytest.mark.parametrize(
    ("options", "exit_"),
    [
        (dict(max_iter=100, tolerance_grad=1e-3), "tolerance_grad"),
        (dict(max_iter=100, tolerance_change=1e-4), "tolerance_change"),
        (dict(max_iter=100, lr=0.1, tolerance_change=1e-2), "small move"),
        (dict(max_iter=100, max_eval=13, line_search_fn="strong_wolfe"), "max_eval"),
        (dict(max_iter=100, tolerance_change=1e-4, line_search_fn="strong_wolfe"), "change"),
        (dict(max_iter=100, tolerance_grad=1e-5, line_search_fn="strong_wolfe"), "grad"),
    ],
)
def test_lbfgs_exits_after_torchs_number_of_iterations_and_evaluations(options, exit_):
    ours, opt, _ = lbfgs_run(tinylm, "rosenbrock", 2, **options)
    with torch_float64():
        theirs, opt_t, _ = lbfgs_run(torch, "rosenbrock", 2, **options)
    state, state_t = opt.state[ours[0]], opt_t.state[theirs[0]]
    assert (state["n_iter"], state["func_evals"]) == (state_t["n_iter"], state_t["func_evals"])
    assert 2 < state["n_iter"] < 200  # stopped early, not by max_iter (100 per step)
    assert_same_lbfgs(ours, opt, theirs, opt_t)


@pytest.mark.parametrize("tolerance_change", [1e-6, 1e-3])
def test_lbfgs_line_search_bracket_tolerance_is_always_1e_9(tolerance_change):
    """PyTorch passes its group's tolerance_change to the exits of the iteration but not to
    the line search, whose zoom stops at a bracket narrower than 1e-9 (its default)."""
    options = dict(line_search_fn="strong_wolfe", tolerance_change=tolerance_change)
    ours, opt, losses = lbfgs_run(tinylm, "kinked", 2, **options)
    with torch_float64():
        theirs, opt_t, losses_t = lbfgs_run(torch, "kinked", 2, **options)
    np.testing.assert_allclose(losses, losses_t, rtol=1e-12)
    assert_same_lbfgs(ours, opt, theirs, opt_t)
    assert opt.state[ours[0]]["func_evals"] > 2 * opt.state[ours[0]]["n_iter"]  # long zooms


def test_lbfgs_returns_at_once_when_the_gradient_is_already_small():
    ours, opt, losses = lbfgs_run(tinylm, "quadratic", 2, tolerance_grad=1e3)
    with torch_float64():
        theirs, opt_t, losses_t = lbfgs_run(torch, "quadratic", 2, tolerance_grad=1e3)
    np.testing.assert_allclose(losses, losses_t, rtol=1e-14)
    assert opt.state[ours[0]] == {"func_evals": 2, "n_iter": 0}
    assert {k: int(v) for k, v in opt_t.state[theirs[0]].items()} == opt.state[ours[0]]
    np.testing.assert_array_equal(ours[0].detach().numpy(), np.arange(6.0).reshape(2, 3))


def test_lbfgs_flattens_a_transposed_gradient_in_the_parameters_order():
    """A gradient stored transposed (Fortran order) is read in the parameter's own element
    order, as torch reads a contiguous one."""
    target = np.random.default_rng(5).standard_normal((3, 4))
    scale = np.linspace(1.0, 4.0, 12).reshape(3, 4)

    def run(lib):
        w = parameter(lib, np.zeros((3, 4)))
        opt = lib.optim.LBFGS([w], line_search_fn="strong_wolfe", max_iter=4)

        def closure():
            opt.zero_grad()
            diff = w.detach().numpy() - target
            g = scale * diff
            if lib is torch:
                w.grad = torch.tensor(g)
            else:
                w.grad = tinylm.from_numpy(np.asfortranarray(g))
                assert not w.grad.is_contiguous()
            return lib.tensor(0.5 * float((scale * diff * diff).sum()), dtype=lib.float64)

        for _ in range(2):
            opt.step(closure)
        return w.detach().numpy(), opt.state[w]

    ours, state = run(tinylm)
    with torch_float64():
        theirs, state_t = run(torch)
    close(ours, theirs, 1e-7)
    close(state["d"], state_t["d"].numpy(), 1e-5)
    assert np.abs(ours).max() > 0.1


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_resumes_the_same_run(tmp_path, line_search_fn):
    options = dict(history_size=3, max_iter=4, line_search_fn=line_search_fn)
    straight, _, losses = lbfgs_run(tinylm, "mlp", 6, **options)
    params, opt, _ = lbfgs_run(tinylm, "mlp", 3, **options)
    snapshot = opt.state_dict()
    save({"params": [p.detach() for p in params], "optim": snapshot}, tmp_path / "c")
    n_iter = opt.state[params[0]]["n_iter"]
    before = [a.copy() for a in snapshot["state"][0]["old_dirs"]]
    opt.step(lambda: tinylm.tensor(0.0))  # moves nothing, but must not touch the snapshot
    for a, b in zip(before, snapshot["state"][0]["old_dirs"]):
        np.testing.assert_array_equal(a, b)

    ckpt = load(tmp_path / "c")
    resumed, loss_fn = mlp(tinylm)
    with tinylm.no_grad():
        for p, saved in zip(resumed, ckpt["params"]):
            p.copy_(saved)
    opt2 = optim.LBFGS(resumed, **options)
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.state[resumed[0]]["n_iter"] == n_iter

    def closure():
        opt2.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    tail = [float(opt2.step(closure)) for _ in range(3)]
    assert tail == losses[3:]
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())

    bad = opt.state_dict()
    bad["state"][0]["old_dirs"][0] = np.zeros(7)
    with pytest.raises(TinyLMError, match=r"^LBFGS.load_state_dict: an entry of 'old_dirs' "
                       r"has shape \(7,\), expected \(26,\)") as info:  # fmt: skip
        opt2.load_state_dict(bad)
    assert "\n" not in str(info.value)


def test_lbfgs_state_dict_has_torchs_keys():
    _, opt, _ = lbfgs_run(tinylm, "rosenbrock", 2, max_iter=3)
    with torch_float64():
        _, opt_t, _ = lbfgs_run(torch, "rosenbrock", 2, max_iter=3)
    ours, theirs = opt.state_dict(), opt_t.state_dict()
    assert set(ours["state"]) == set(theirs["state"]) == {0}
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert ours["param_groups"] == theirs["param_groups"]


def test_lbfgs_signature_and_defaults_are_torchs():
    assert_signature_and_defaults_match("LBFGS")
    assert optim.LBFGS([nn.Parameter(tinylm.zeros(2))], max_iter=9).defaults["max_eval"] == 11
    assert "LBFGS" in optim.__all__


def test_lbfgs_refusals_are_one_line():
    p, q = nn.Parameter(tinylm.zeros(2)), nn.Parameter(tinylm.zeros(3))
    pt, qt = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError):
        torch.optim.LBFGS([{"params": [pt]}, {"params": [qt]}])
    cases = [
        (lambda: optim.LBFGS([{"params": [p]}, {"params": [q]}]), "^LBFGS: parameter groups"),
        (lambda: optim.LBFGS([p], lr=-1.0), "^LBFGS: invalid learning rate -1.0"),
        (lambda: optim.LBFGS([p], line_search_fn="armijo"), "^LBFGS: line_search_fn must be"),
        (lambda: optim.LBFGS([p], history_size=0), "^LBFGS: history_size must be ≥ 1, got 0"),
        (lambda: optim.LBFGS([p]).add_param_group({"params": [q]}), "^LBFGS: parameter groups"),
        (lambda: optim.LBFGS([p]).step(), "^LBFGS.step: a closure is required"),
    ]
    for make, message in cases:
        with pytest.raises(TinyLMError, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    with pytest.raises(TypeError):  # torch refuses a step without a closure too
        torch.optim.LBFGS([pt]).step()


# ---------------------------------------------------------------------------------------
# Muon
# ---------------------------------------------------------------------------------------

BF16_ULP = 2.0**-7  # bfloat16's spacing relative to a value in [1, 2)


def test_round_to_bfloat16_is_torchs_conversion():
    rng = np.random.default_rng(8)
    values = np.concatenate(
        [
            rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000),
            [0.0, -0.0, np.inf, -np.inf, 3.4e38, 1e-40, 1.0 + 2**-8, 1.0 + 3 * 2**-8],
        ]
    )
    ours = round_to_bfloat16(values)
    theirs = torch.tensor(values).bfloat16().float().numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(round_to_bfloat16(np.array([np.nan]))).all()


def torch_newton_schulz(g: np.ndarray) -> np.ndarray:
    """PyTorch's orthogonalised update of ``g``, through its public Muon: one step from θ = 0
    with lr 1, no momentum (the update is g itself) and no decay gives θ = −s · NS(g), s the
    lr rule's √max(1, A/B); dividing by s is off by at most a float64 rounding, which the
    rounding back to bfloat16 removes."""
    p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Muon([p], lr=1.0, momentum=0.0, weight_decay=0.0)
    p.grad = torch.tensor(g)
    opt.step()
    scale = max(1.0, g.shape[0] / g.shape[1]) ** 0.5
    return round_to_bfloat16(-p.detach().numpy() / scale)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (6, 2), (6, 6), (12, 7)])
def test_newton_schulz_equals_torchs_up_to_rare_bfloat16_ties(shape):
    """PyTorch's Newton–Schulz on 40 matrices: nearly every entry bit-equal. A product that
    PyTorch's float32 sums round the other way at a bfloat16 tie changes one entry by a
    bfloat16 step, and the later iterations spread that over a row or column (a few steps
    there)."""
    exact = total = 0
    for seed in range(40):
        g = np.random.default_rng(seed).standard_normal(shape) * 10.0 ** (seed % 5 - 2)
        g = np.asfortranarray(g) if seed % 2 else g  # a transposed layout too
        ours = newton_schulz_orthogonalize(g, (3.4445, -4.775, 2.0315), 5, 1e-7)
        theirs = torch_newton_schulz(g)
        assert ours.shape == shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=8 * BF16_ULP)
        exact += (ours == theirs).sum()
        total += ours.size
        singular = np.linalg.svd(ours.astype(np.float64), compute_uv=False)
        assert singular.min() > 0.3 and singular.max() < 1.3  # nearly orthogonal
    assert exact >= (0.99 if max(shape) < 7 else 0.9) * total


MUON = {
    "default": lambda L, ps: L.optim.Muon(ps, lr=0.02),
    "no-nesterov-adamw-lr": lambda L, ps: L.optim.Muon(
        ps, lr=0.01, nesterov=False, weight_decay=0.05, adjust_lr_fn="match_rms_adamw"
    ),
    "original-no-momentum": lambda L, ps: L.optim.Muon(
        ps, lr=0.03, momentum=0.0, adjust_lr_fn="original", weight_decay=0.0
    ),
    "coefficients": lambda L, ps: L.optim.Muon(
        ps, lr=0.02, momentum=0.8, ns_coefficients=(2.0, -1.5, 0.5), ns_steps=3, eps=1e-3
    ),
}
MUON_SHAPES = [(4, 3), (3, 5), (6, 2)]


def muon_run(lib, make, steps=12, dtype=np.float64):
    values = [np.random.default_rng(9).standard_normal(s).astype(dtype) for s in MUON_SHAPES]
    params = [parameter(lib, v) for v in values]
    opt = make(lib, params)
    for t in range(steps):
        for i, p in enumerate(params):
            noise = np.random.default_rng(100 * t + i).standard_normal(p.shape).astype(dtype)
            g = p.detach().numpy() + 0.5 * noise
            if i == 0:  # a transposed (non-contiguous) gradient in both libraries
                g = np.ascontiguousarray(g.T).T
                p.grad = torch.from_numpy(g) if lib is torch else tinylm.from_numpy(g)
            else:
                p.grad = lib.tensor(g)
        opt.step()
    return params, opt, values


@pytest.mark.parametrize("name", list(MUON))
def test_muon_trajectory_equals_torch(name):
    """Parameters and momentum after 12 steps; the tolerance is a small fraction of one
    step (lr · √max(1, A/B) per entry), room for a rare bfloat16 tie rounded the other way,
    far below what a wrong rule (momentum, Nesterov, lr rule, decay) would change."""
    ours, opt, start = muon_run(tinylm, MUON[name])
    with torch_float64():
        theirs, opt_t, _ = muon_run(torch, MUON[name])
    lr = opt.param_groups[0]["lr"]
    for a, b, s in zip(ours, theirs, start):
        assert a.dtype == np.float64 and a.shape == tuple(b.shape)
        assert np.abs(b.detach().numpy() - s).max() > 2 * lr  # the run moved
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=0.02 * lr)
        mine, its = opt.state[a], opt_t.state[b]
        assert set(mine) == set(its) == {"momentum_buffer"}
        np.testing.assert_allclose(
            mine["momentum_buffer"], its["momentum_buffer"].numpy(), atol=0.05 * lr
        )


def test_muon_first_step_is_bit_equal_to_torch():
    ours, _, _ = muon_run(tinylm, MUON["default"], steps=1)
    with torch_float64():
        theirs, _, _ = muon_run(torch, MUON["default"], steps=1)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_muon_float32_stays_float32_and_follows_torch():
    ours, opt, _ = muon_run(tinylm, MUON["default"], steps=6, dtype=np.float32)
    theirs, _, _ = muon_run(torch, MUON["default"], steps=6, dtype=np.float32)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32 and opt.state[a]["momentum_buffer"].dtype == np.float32
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=0.02 * 0.02)


def test_muon_state_dict_resumes_the_same_run(tmp_path):
    make = MUON["no-nesterov-adamw-lr"]
    straight, _, _ = muon_run(tinylm, make, steps=8)
    params, opt, _ = muon_run(tinylm, make, steps=4)
    save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "c")
    ckpt = load(tmp_path / "c")
    resumed = [nn.Parameter(t) for t in ckpt["params"]]
    opt2 = make(tinylm, resumed)
    opt2.load_state_dict(ckpt["optim"])
    for t in range(4, 8):
        for i, p in enumerate(resumed):
            noise = np.random.default_rng(100 * t + i).standard_normal(p.shape)
            p.grad = tinylm.tensor(p.detach().numpy() + 0.5 * noise)
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_muon_signature_and_defaults_are_torchs():
    p, q = nn.Parameter(tinylm.zeros(2, 2)), torch.zeros(2, 2, requires_grad=True)
    assert optim.Muon([p]).defaults == torch.optim.Muon([q]).defaults
    import inspect

    a = inspect.signature(optim.Muon).parameters
    b = inspect.signature(torch.optim.Muon).parameters
    assert list(a) == list(b)
    for name in a:
        assert a[name].default == b[name].default, name
    assert "Muon" in optim.__all__


def test_muon_refusals_are_one_line():
    m = nn.Parameter(tinylm.zeros(3, 2))
    cases = [
        (tinylm.zeros(3), {}, "^Muon: only 2-D parameters .*got one of shape \\(3,\\)"),
        (tinylm.zeros(2, 2, 2), {}, "^Muon: only 2-D parameters"),
        (None, dict(lr=-0.1), "^Muon: invalid learning rate -0.1"),
        (None, dict(momentum=-0.5), r"^Muon: momentum \(-0.5\) and weight_decay"),
        (None, dict(weight_decay=-1.0), r"^Muon: momentum .* must be ≥ 0"),
        (None, dict(adjust_lr_fn="sqrt"), "^Muon: adjust_lr_fn must be None, 'original'"),
        (None, dict(ns_steps=100), "^Muon: ns_steps must be less than 100, got 100"),
        (None, dict(ns_coefficients=(1.0, 2.0)), "^Muon: ns_coefficients must be three"),
    ]
    for value, kwargs, message in cases:
        param = m if value is None else nn.Parameter(value)
        with pytest.raises(TinyLMError, match=message) as info:
            optim.Muon([param], **kwargs)
        assert "\n" not in str(info.value)
        if value is not None or "ns_" not in str(kwargs):  # torch checks these at once too
            q = torch.tensor(param.detach().numpy(), requires_grad=True)
            with pytest.raises(ValueError):
                torch.optim.Muon([q], **kwargs)
    with pytest.raises(TinyLMError, match="^Muon: only 2-D parameters"):
        optim.Muon([m]).add_param_group({"params": [nn.Parameter(tinylm.zeros(4))]})


# ---------------------------------------------------------------------------------------
# the line search and the skipped curvature pairs, against torch's own
# ---------------------------------------------------------------------------------------


def wavy(z, amp=2.0, freq=3.0):
    """A non-convex function of z (3,) with many minima along a line, and its gradient:
    Σ ½ zᵢ² + amp sin(freq zᵢ) + zᵢ⁴ / 40."""
    return (
        float(np.sum(0.5 * z * z + amp * np.sin(freq * z) + z**4 / 40)),
        z + amp * freq * np.cos(freq * z) + z**3 / 10,
    )


# (x, amp, freq, lr) found to take the rare turns: a rise after the first extrapolation that
# is still a sufficient decrease with a negative slope (bracketed only from the second
# extrapolation on), and two zoom trials in a row near an end of the bracket (the second
# moved 10 % of the bracket's width inside)
RARE_SEARCHES = [
    ([-0.08941009120993382, 2.123731195746805, 2.0075779441055603], 0.3, 10.0,
     1.2177562523383436),
    ([1.0657680883873901, -0.9405327109372328, -2.0782724229468217], 0.05, 30.0,
     1.1962879073103425),
    ([-1.7436437997386989, 3.0359008838640076, -2.355887371389768], 2.0, 3.0,
     918.3587327720978),
    ([0.5545183031167449, -1.7586780067594319, -0.5060017927908094], 2.0, 3.0,
     6.886454429837813),
]  # fmt: skip


def line_searches():
    rng = np.random.default_rng(11)
    for case in range(60):
        amp, freq = [(2.0, 3.0), (0.3, 10.0), (0.05, 30.0)][case % 3]
        yield rng.uniform(-4, 4, 3), amp, freq, 10.0 ** rng.uniform(-3, 4.5)
    for x, amp, freq, lr in RARE_SEARCHES:
        yield np.array(x), amp, freq, lr


def one_line_search(lib, x0, amp, freq, lr, max_eval):
    """One LBFGS iteration (d = −g, t = min(1, 1/‖g‖₁)·lr) with the strong-Wolfe search on
    ``wavy``: the point reached and the number of evaluations."""
    x = parameter(lib, x0)
    opt = lib.optim.LBFGS([x], lr=lr, max_iter=1, max_eval=max_eval, line_search_fn="strong_wolfe")

    def closure():
        value, grad = wavy(x.detach().numpy(), amp, freq)
        x.grad = lib.tensor(grad)
        return lib.tensor(value, dtype=lib.float64)  # tinylm, as torch, defaults to float32

    opt.step(closure)
    return x.detach().numpy(), opt.state[x]["func_evals"]


@pytest.mark.parametrize("max_eval", [26, 5, 3])
def test_strong_wolfe_line_search_equals_torchs(max_eval):
    """The strong-Wolfe search of one LBFGS iteration on 64 searches along a wavy line,
    first trial steps from 10⁻⁴ to 10⁴: bracketing by extrapolation, zoom with its moves
    away from the bracket's ends, and the evaluation budget (max_eval − 1 after the first)."""
    outcomes = set()
    for x0, amp, freq, lr in line_searches():
        ours, evals = one_line_search(tinylm, x0, amp, freq, lr, max_eval)
        with torch_float64():
            theirs, evals_t = one_line_search(torch, x0, amp, freq, lr, max_eval)
        assert evals == evals_t
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
        outcomes.add(evals)
    assert len(outcomes) >= min(5, max_eval - 1)  # many different paths through the search


def test_strong_wolfe_function_is_the_optimizers():
    """:func:`tinylm.optim.lbfgs.strong_wolfe` called alone lands where LBFGS's iteration
    does, with the evaluations it counts (plus the optimizer's first)."""
    from tinylm.optim.lbfgs import strong_wolfe

    for x0, amp, freq, lr in list(line_searches())[:20]:
        f, g = wavy(x0, amp, freq)
        t0 = min(1.0, 1.0 / np.abs(g).sum()) * lr
        _, _, t, evals = strong_wolfe(
            lambda t, x0=x0, g=g, amp=amp, freq=freq: wavy(x0 - t * g, amp, freq),
            t0, -g, f, g, float(-g @ g),
        )  # fmt: skip
        x, evals_opt = one_line_search(tinylm, x0, amp, freq, lr, 26)
        assert evals_opt == evals + 1
        np.testing.assert_allclose(x, x0 - t * g, rtol=1e-12, atol=1e-14)


def test_lbfgs_skips_pairs_of_negligible_curvature():
    """A loss scaled by 1e-12: every y·s is below 1e-10, so no (s, y) pair is stored and
    each direction is −g (H = I), as in PyTorch."""

    def run(lib):
        params, loss_fn = quadratic(lib)
        opt = lib.optim.LBFGS(params, lr=1e6, tolerance_grad=0, tolerance_change=0, max_iter=6)

        def closure():
            opt.zero_grad()
            loss = 1e-12 * loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        return params, opt

    ours, opt = run(tinylm)
    with torch_float64():
        theirs, opt_t = run(torch)
    assert opt.state[ours[0]]["old_dirs"] == [] and opt.state[ours[0]]["n_iter"] == 6
    assert_same_lbfgs(ours, opt, theirs, opt_t)
