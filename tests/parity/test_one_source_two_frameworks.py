"""One source file, two frameworks: ``parity_program.define`` is a PyTorch program; it runs
here once with ``torch`` and once with ``tinylm`` bound to that name, from the same initial
weights and batches, and everything it computes must agree: each step's loss, gradient norm,
learning rate and every parameter's gradient, the parameters after the optimizer steps, and
the tokens it samples. float64 to 1e-10; float32 to its rounding.

The two frameworks draw different random numbers, so each model is initialised by its own
``nn.init`` (the program's code path) and then both get tinylm's initial weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import tinylm

torch = pytest.importorskip("torch")
from parity_program import GPTConfig, define  # noqa: E402 - after the skip

pytestmark = pytest.mark.torch

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
F32_NORMWISE = 1e-5  # float32 gradients: ‖tinylm − torch‖ / ‖torch‖


def numpy_of(t: Any) -> np.ndarray:
    return t.detach().cpu().detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def same_start(ours: Any, theirs: Any, dtype: str) -> None:
    """Both models in ``dtype`` with tinylm's initial weights."""
    state = {k: numpy_of(v) for k, v in ours.state_dict().items()}
    assert sorted(state) == sorted(theirs.state_dict()), "the two programs name their weights alike"
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    for model in (ours, theirs):
        if dtype == "float64":
            model.double()


def compare(ours: list[dict], theirs: list[dict], dtype: str) -> None:
    tol = TOL[dtype]
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for key in ("loss", "norm", "lr"):
            np.testing.assert_allclose(a[key], b[key], **tol, err_msg=f"step {step}: {key}")
        assert list(a["grads"]) == list(b["grads"]), "the same parameters, in the same order"
        for name in a["grads"]:
            ga, gb = numpy_of(a["grads"][name]), numpy_of(b["grads"][name])
            assert ga.dtype == gb.dtype
            if dtype == "float32":
                # An entry of a weight gradient is a sum over the batch; the two BLAS libraries
                # add in orders that depend on the CPU, so an entry that cancels to 1e-4 from
                # terms of 1e-3 keeps their rounding (seen: 7e-9 on one CPU, not on another).
                # float32 is compared as matmul error bounds are stated: normwise.
                err = np.linalg.norm(ga - gb) / (np.linalg.norm(gb) or 1.0)
                assert err < F32_NORMWISE, f"step {step}: {name}: ‖Δ‖/‖g‖ = {err:.2e}"
                continue
            scale = float(np.abs(gb).max()) or 1.0
            np.testing.assert_allclose(
                ga, gb, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=f"step {step}: {name}"
            )


def compare_parameters(ours: Any, theirs: Any, dtype: str) -> None:
    for (n, a), (m, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        a, b = numpy_of(a), numpy_of(b)
        if dtype == "float32" and n.endswith("attn.c_attn.bias"):
            # The key bias (the middle third) gets zero gradient in exact arithmetic: it adds
            # q·b_k to every score of a row, and softmax ignores a row's shift. In float32 its
            # gradient is rounding noise (~1e-7), which Adam divides by √v of the same noise:
            # steps of about ±lr in a direction the noise picks. Those coordinates are compared
            # in float64, where the noise (~1e-17) stays far below Adam's ε.
            c = a.shape[0] // 3
            a, b = np.delete(a, np.s_[c : 2 * c]), np.delete(b, np.s_[c : 2 * c])
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=n)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("flash", [True, False], ids=["sdpa", "written-out"])
def test_small_gpt_trains_alike(dtype: str, flash: bool) -> None:
    cfg = GPTConfig(flash=flash)
    rng = np.random.default_rng(0)
    data = rng.integers(0, cfg.vocab_size, (4, 3, cfg.block_size + 1))
    data[0, 1, 5] = -1  # an ignored target (ignore_index=-1)
    models, histories = {}, {}
    for lib in (tinylm, torch):
        program = define(lib)
        lib.manual_seed(0)
        model = program.GPT(cfg)
        models[lib.__name__] = (program, model)
    same_start(models["tinylm"][1], models["torch"][1], dtype)
    for name, (program, model) in models.items():
        lib = program.torch
        optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=3e-3)
        scheduler = lib.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / 3)
        )
        batches = [(lib.tensor(np.maximum(d[:, :-1], 0)), lib.tensor(d[:, 1:])) for d in data]
        histories[name] = program.train(model, optimizer, scheduler, batches, clip=0.5)
    compare(histories["tinylm"], histories["torch"], dtype)
    compare_parameters(models["tinylm"][1], models["torch"][1], dtype)
    # greedy top-k sampling (k = 1: multinomial has one category to draw) gives the same text
    samples = []
    for program, model in models.values():
        model.eval()
        prompt = program.torch.tensor(data[:2, 0, :3])
        samples.append(numpy_of(model.generate(prompt, 20, temperature=0.8, top_k=1)))
    np.testing.assert_array_equal(samples[0], samples[1])
    assert samples[0].shape == (2, 23)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_classifier_trains_alike(dtype: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 16, 6))
    y = rng.integers(0, 4, (5, 16))
    models, histories = {}, {}
    for lib in (tinylm, torch):
        program = define(lib)
        lib.manual_seed(0)
        models[lib.__name__] = (program, program.Classifier(6, 12, 4))
    same_start(models["tinylm"][1], models["torch"][1], dtype)
    for name, (program, model) in models.items():
        lib = program.torch
        optimizer, scheduler = model.configure_optimizers()
        float_dtype = getattr(lib, dtype)
        batches = [(lib.tensor(a, dtype=float_dtype), lib.tensor(b)) for a, b in zip(x, y)]
        histories[name] = program.train(model, optimizer, scheduler, batches, clip=1.0)
    compare(histories["tinylm"], histories["torch"], dtype)
    compare_parameters(models["tinylm"][1], models["torch"][1], dtype)
    lrs = [h["lr"] for h in histories["tinylm"]]
    assert lrs == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])  # StepLR on the first group
    assert not math.isclose(histories["tinylm"][0]["loss"], histories["tinylm"][-1]["loss"])
