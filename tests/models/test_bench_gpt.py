"""The GPT benchmark: nanoGPT's random draws, and both frameworks training alike."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

TINY_FLAGS = ["--n-layer", "2", "--n-head", "2", "--n-embd", "16", "--block-size", "16"]
TINY_FLAGS += ["--batch-size", "3", "--eval-iters", "3", "--round", "3", "--warmup", "2"]


def _nanogpt_style_model(torch, V: int, T: int, C: int, L: int, bias: bool):
    """Modules built and initialised the way nanoGPT's model.py does it (RNG order only)."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C, bias=bias)
            self.attn = nn.ModuleDict(
                dict(c_attn=nn.Linear(C, 3 * C, bias=bias), c_proj=nn.Linear(C, C, bias=bias))
            )
            self.ln_2 = nn.LayerNorm(C, bias=bias)
            self.mlp = nn.ModuleDict(
                dict(
                    c_fc=nn.Linear(C, 4 * C, bias=bias),
                    gelu=nn.GELU(),
                    c_proj=nn.Linear(4 * C, C, bias=bias),
                )
            )

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(
                dict(
                    wte=nn.Embedding(V, C),
                    wpe=nn.Embedding(T, C),
                    drop=nn.Dropout(0.0),
                    h=nn.ModuleList([Block() for _ in range(L)]),
                    ln_f=nn.LayerNorm(C, bias=bias),
                )
            )
            self.lm_head = nn.Linear(C, V, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L))

        def _init_weights(self, m):
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    return GPT()


@pytest.mark.parametrize("bias", [False, True])
def test_nanogpt_plan_draws_what_nanogpt_draws(bias):
    torch = pytest.importorskip("torch")
    from torch_gpt import nanogpt_plan

    V, T, C, L, B = 7, 8, 16, 2, 3
    n_train, n_val, iters, every, n_eval = 500, 60, 5, 2, 2
    config = dict(vocab_size=V, block_size=T, n_layer=L, n_head=2, n_embd=C, dropout=0.0, bias=bias)
    plan = nanogpt_plan(
        config, n_train, n_val, iters, B, seed=11, eval_interval=every, eval_iters=n_eval
    )

    # nanoGPT itself: seed, build the model, then train.py's loop of batch draws.
    torch.manual_seed(11)
    ref = _nanogpt_style_model(torch, V, T, C, L, bias)
    ref_state = {k.removeprefix("transformer."): v.numpy() for k, v in ref.state_dict().items()}
    draws = []  # (tag, starts) in the order train.py draws them

    def get_batch(tag):
        n = n_val if tag == "evval" else n_train
        draws.append((tag, torch.randint(n - T, (B,)).numpy()))

    get_batch("train")  # fetched before the loop
    for it in range(iters + 1):
        if it % every == 0:  # estimate_loss: eval_iters train batches, then eval_iters val
            for tag in ("evtrain", "evval"):
                for _ in range(n_eval):
                    get_batch(tag)
        if it == iters:
            break
        get_batch("train")  # the next step's batch

    for name, value in plan.items():
        if name.endswith("starts"):
            continue
        np.testing.assert_array_equal(value, ref_state[name], err_msg=name)
    assert set(ref_state) == {k for k in plan if not k.endswith("starts")}
    np.testing.assert_array_equal(plan["wte.weight"], plan["lm_head.weight"])
    train = [s for tag, s in draws if tag == "train"]
    np.testing.assert_array_equal(plan["train_starts"], np.stack(train[:iters]))
    np.testing.assert_array_equal(
        plan["eval_val_starts"], np.stack([s for tag, s in draws if tag == "evval"][-n_eval:])
    )
    np.testing.assert_array_equal(
        plan["eval_train_starts"],
        np.stack([s for tag, s in draws if tag == "evtrain"][-n_eval:]),
    )


def test_benchmark_trains_both_frameworks_alike_on_nanogpts_draws(tmp_path, capsys):
    pytest.importorskip("torch")
    import bench_gpt

    out = tmp_path / "result.json"
    assert bench_gpt.main(["--iters", "6", *TINY_FLAGS, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nanogpt weights and batches" in printed and "nanoGPT eval" in printed
    result = json.loads(out.read_text())
    ours, ref = result["tinylm"], result["torch"]
    for key in ("val_loss", "nanogpt_train_loss", "nanogpt_val_loss", "last_train_loss"):
        assert np.isfinite(ours[key])
        # Same weights, same batches, float32 on both sides: the same numbers to rounding.
        np.testing.assert_allclose(ours[key], ref[key], rtol=1e-4, err_msg=key)
    assert ours["ms_per_iter"] > 0 and len(ours["round_ms"]) == 2
    # two rounds, the first of them warm-up: never enough for a figure
    assert result["unstable"] is True


def test_ratio_summary_marks_a_wide_spread_unstable():
    import timing

    steady = timing.ratio_summary([0.9, 0.92, 0.91, 0.93, 0.9])
    assert steady.median == 0.91 and not steady.unstable and "stable" in steady.describe()
    wild = timing.ratio_summary([0.44, 1.2, 0.9, 1.79, 1.0])
    assert wild.unstable and "UNSTABLE" in wild.describe()


def test_others_cpu_sees_a_busy_process():
    import subprocess

    import timing

    if timing.busy_ticks() is None:
        pytest.skip("no /proc/stat here")
    spin = "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    monitor = timing.OthersCPU([os.getpid()])
    monitor.start()
    time.sleep(1.0)
    others = monitor.stop()
    busy.wait()
    assert others > 0.5  # the spinning child: almost a whole core (more if others are busy)


def test_others_cpu_leaves_out_the_measured_processes():
    import timing

    # all CPUs busy for 300 ticks, 250 of them by the measured processes 1 and 2: 50 others'
    ticks = {"busy": [1000, 1300], 1: [10, 210], 2: [5, 55]}
    seconds = [10.0, 12.0]  # a 2 s round
    monitor = timing.OthersCPU(
        [1, 2],
        read_busy=lambda: ticks["busy"].pop(0),
        read_process=lambda p: ticks[p].pop(0),
        clock=lambda: seconds.pop(0),
    )
    monitor.tick = 100
    monitor.start()
    assert monitor.stop() == pytest.approx(0.25)  # 0.5 s of others' CPU over 2 s


def test_step_profile_accounts_for_the_whole_step(tmp_path):
    """benchmarks/profile_gpt_step.py: the ops a GPT step must run are all timed (the timers
    reached them), and in every step the timed parts fit inside the step, leaving a
    non-negative rest for "engine and Python" (a timer nested in another would count its
    time twice and push the rest below zero). Per step, not by medians: a machine under
    load moves medians of parts and of wholes apart. In its own process: the timers it
    installs stay until the process ends."""
    import json
    import subprocess

    out = tmp_path / "steps.json"
    flags = ["--steps", "3", "--warmup", "1", "--n-layer", "1", "--n-head", "2"]
    flags += ["--n-embd", "16", "--block-size", "8", "--batch-size", "2", "--threads", "1"]
    run = subprocess.run(
        [sys.executable, str(BENCH / "profile_gpt_step.py"), *flags, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "median step" in run.stdout.splitlines()[0]
    per_step = json.loads(out.read_text())
    for op in ("_Linear.forward", "_Linear.backward", "_PackedSelfAttention.backward"):
        assert op in per_step, sorted(per_step)
    assert "optimizer.step" in per_step and "engine and Python" in per_step
    steps = per_step.pop("step")
    rest = per_step.pop("engine and Python")
    assert len(steps) == 3
    for i, step in enumerate(steps):
        timed = sum(v[i] for v in per_step.values())
        assert all(v[i] >= 0 for v in per_step.values())
        assert 0 < timed <= step and rest[i] == pytest.approx(step - timed)
