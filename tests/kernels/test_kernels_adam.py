"""adam_update: every backend vs the reference over 100 steps, and vs torch.optim in float64."""

from __future__ import annotations

import numpy as np
import pytest
from tinylm.kernels import implementations, reference

HYPER = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)


def _run(update, param, grads, decoupled):
    p = param.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads, start=1):
        g_before = g.copy()
        update(p, g, m, v, **HYPER, step=step, decoupled=decoupled)
        np.testing.assert_array_equal(g, g_before)  # the gradient is an input: never modified
    return p, m, v


def _problem(dtype, shape=(37, 5)):
    rng = np.random.default_rng(0)
    param = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(100)]
    return param, grads


@pytest.mark.parametrize("backend", list(implementations("adam_update", "cpu")))
@pytest.mark.parametrize("decoupled", [True, False], ids=["adamw", "adam_l2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_adam_matches_reference_over_100_steps(backend, decoupled, dtype):
    param, grads = _problem(dtype)
    got = _run(implementations("adam_update", "cpu")[backend], param, grads, decoupled)
    want = _run(reference.adam_update, param, grads, decoupled)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", list(implementations("adam_update", "cpu")))
def test_adam_on_a_strided_view_updates_in_place(backend):
    param, grads = _problem(np.float64, (8, 6))
    base = param.copy()
    view = base[:, ::2]  # not contiguous: the update must still land in `base`
    m, v = np.zeros_like(view), np.zeros_like(view)
    implementations("adam_update", "cpu")[backend](
        view, grads[0][:, ::2], m, v, **HYPER, step=1, decoupled=True
    )
    want = param[:, ::2].copy()
    reference.adam_update(
        want, grads[0][:, ::2], np.zeros_like(want), np.zeros_like(want), **HYPER, step=1,
        decoupled=True,
    )  # fmt: skip
    np.testing.assert_allclose(base[:, ::2], want, rtol=1e-14)
    np.testing.assert_array_equal(base[:, 1::2], param[:, 1::2])


@pytest.mark.torch
@pytest.mark.parametrize("backend", list(implementations("adam_update", "cpu")))
@pytest.mark.parametrize("decoupled", [True, False], ids=["adamw", "adam_l2"])
def test_adam_matches_torch_trajectory_float64(backend, decoupled):
    torch = pytest.importorskip("torch")
    param, grads = _problem(np.float64)
    p_t = torch.tensor(param, requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls(
        [p_t], lr=HYPER["lr"], betas=(HYPER["beta1"], HYPER["beta2"]), eps=HYPER["eps"],
        weight_decay=HYPER["weight_decay"], foreach=False,
    )  # fmt: skip
    for g in grads:
        p_t.grad = torch.tensor(g)
        opt.step()
    ours, _, _ = _run(implementations("adam_update", "cpu")[backend], param, grads, decoupled)
    np.testing.assert_allclose(ours, p_t.detach().numpy(), rtol=1e-10, atol=1e-10)
