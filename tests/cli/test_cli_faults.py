"""Fault injection: SIGKILL in the middle of saves, Ctrl-C (SIGINT) during training, twice,
and during the final evaluation. After each, every checkpoint that survives loads, and the
next save leaves no temporary file behind."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinylm
from tinylm.train import TrainConfig, load_checkpoint, train

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

TINY = [
    *("--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16"),
    *("--batch-size", "4", "--eval-iters", "2", "--warmup-iters", "0"),
    *("--sample-tokens", "0", "--plot", "none", "--no-progress"),
]


def start(args: list[str], cwd: Path, *, python: str | None = None) -> subprocess.Popen:
    command = [sys.executable, "-c", python] if python else [sys.executable, "-m", "tinylm.cli"]
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "TINYLM_BACKEND"},
    )


def wait_for_line(proc: subprocess.Popen, text: str) -> str:
    """Read the child's stdout until a line containing ``text`` (the child is at that point)."""
    for line in proc.stdout:
        if text in line:
            return line
    proc.kill()
    raise AssertionError(f"{text!r} never printed; stderr: {proc.stderr.read()}")


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "out"
    cfg = TrainConfig.from_dict(
        {
            "n_layer": 1,
            "n_head": 2,
            "n_embd": 16,
            "block_size": 16,
            "batch_size": 4,
            "eval_iters": 2,
            "warmup_iters": 0,
            "max_iters": 2,
            "sample_tokens": 0,
            "plot": None,
            "progress": False,
            "out_dir": str(out),
        }
    )
    train(cfg)
    return out


# A child that saves checkpoint k (an 8 MB array filled with k) over and over. With
# STALL=1 its np.savez writes part of a zip, says so and hangs: a kill lands mid-save.
SAVER = """
import sys, time
import numpy as np
import tinylm

path, stall = sys.argv[1], sys.argv[2] == "1"
if stall:
    def stalled(file, **arrays):
        file.write(b"PK\\x03\\x04" + bytes(100_000))
        print("in save", flush=True)
        time.sleep(600)
    np.savez = stalled
k = int(time.time() * 1000) % 1000
while True:
    k += 1
    tinylm.save({"k": k, "w": np.full(2_000_000, k, np.float32)}, path)
    print("saved", flush=True)
"""


def check_checkpoint(path: Path) -> None:
    state = tinylm.load(path)  # a complete checkpoint, never a mix of two
    assert (state["w"] == state["k"]).all()


def test_sigkill_during_saves_never_breaks_the_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    tinylm.save({"k": 0, "w": np.zeros(2_000_000, np.float32)}, path)
    rng = random.Random(0)
    for _ in range(3):  # killed exactly inside a save
        proc = start([str(path), "1"], tmp_path, python=SAVER)
        wait_for_line(proc, "in save")
        proc.kill()
        proc.wait()
        check_checkpoint(path)
        # the kill leaves its temporary file; the save that the next child started had
        # removed the one of the kill before
        assert len(temporaries(tmp_path)) == 1
    for _ in range(3):  # killed wherever a busy saver happens to be
        proc = start([str(path), "0"], tmp_path, python=SAVER)
        wait_for_line(proc, "saved")
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        check_checkpoint(path)
    assert len(temporaries(tmp_path)) <= 1  # ...is removed by the next save
    tinylm.save({"k": 7, "w": np.full(3, 7, np.float32)}, path)
    assert temporaries(tmp_path) == []
    check_checkpoint(path)


def test_sigkill_during_training_then_resume(good_run, tmp_path):
    out = Path(shutil.copytree(good_run, tmp_path / "out"))
    proc = start(
        ["train", "--resume", "--max-iters", "100000", "--ckpt-interval", "1", "--no-progress"],
        tmp_path,
    )
    time.sleep(0.5)
    while proc.poll() is None and tinylm.load(out / "ckpt.npz")["iter"] < 5:
        time.sleep(0.2)
    time.sleep(random.Random(1).uniform(0.0, 0.2))
    proc.kill()
    proc.wait()
    model, state = load_checkpoint(out / "ckpt.npz")
    it = int(state["iter"])
    assert it >= 5
    done = subprocess.run(
        [sys.executable, "-m", "tinylm.cli", "train", "--resume", "--max-iters", str(it + 2)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert tinylm.load(out / "ckpt.npz")["iter"] == it + 2
    assert temporaries(out) == []


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_training_saves_the_completed_steps(tmp_path, presses):
    out = tmp_path / "out"
    proc = start(["train", *TINY, "--max-iters", "100000", "--out-dir", "out"], tmp_path)
    wait_for_line(proc, "iter     0:")  # the first evaluation is done: training runs
    time.sleep(1.0)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "continue with --resume" in stdout
    model, state = load_checkpoint(out / "ckpt.npz")
    it = int(state["iter"])
    assert 0 < it < 100000 and f"at iteration {it}" in stdout
    assert len(json.loads(state["history"])["train_step"]) == it  # every completed step
    done = subprocess.run(
        [sys.executable, "-m", "tinylm.cli", "train", "--resume", "--max-iters", str(it + 1)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"done: {it + 1} iterations" in done.stdout


def test_ctrl_c_during_the_final_evaluation_saves_the_run(good_run, tmp_path):
    out = Path(shutil.copytree(good_run, tmp_path / "out"))
    # one more step, then an evaluation long enough to be interrupted
    proc = start(["train", "--resume", "--max-iters", "3", "--eval-iters", "100000"], tmp_path)
    wait_for_line(proc, "iter     3: final evaluation")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "all 3 iterations done; the final evaluation or the sample was skipped" in stdout
    model, state = load_checkpoint(out / "ckpt.npz")
    assert state["iter"] == 3
    assert temporaries(out) == []
