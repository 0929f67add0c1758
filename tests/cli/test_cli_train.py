"""The `tinylm` command: train, resume, generate, errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from tinylm.cli import main
from tinylm.train import TrainConfig, train

TINY_FLAGS = [
    "--n-layer",
    "1",
    "--n-head",
    "2",
    "--n-embd",
    "16",
    "--block-size",
    "16",
    "--batch-size",
    "4",
    "--eval-interval",
    "5",
    "--eval-iters",
    "2",
    "--warmup-iters",
    "2",
    "--sample-tokens",
    "20",
    "--no-progress",
]


def test_train_then_generate(tmp_path, capsys):
    out = tmp_path / "out"
    plot = tmp_path / "loss.png"
    code = main(
        ["train", *TINY_FLAGS, "--max-iters", "12", "--out-dir", str(out), "--plot", str(plot)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "done: 12 iterations" in printed and "---- sample ----" in printed
    assert (out / "ckpt.npz").exists() and plot.exists()
    code = main(
        [
            "generate",
            "--ckpt",
            str(out / "ckpt.npz"),
            "--prompt",
            "The",
            "--max-new-tokens",
            "15",
            "--greedy",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert text.startswith("The") and len(text.rstrip("\n")) == 3 + 15  # char tokens


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=16,
        batch_size=4,
        eval_interval=4,
        eval_iters=2,
        warmup_iters=2,
        sample_tokens=0,
        progress=False,
        plot=None,
        dropout=0.1,
        out_dir=str(tmp_path),
        ckpt_interval=6,
    )
    base.update(kw)
    return TrainConfig.from_dict(base)  # the model's fields flat, as the flags give them


def test_resume_reproduces_the_uninterrupted_loss_curve(tmp_path):
    full = train(_cfg(tmp_path / "a", max_iters=12))
    # Stop at iteration 7 as Ctrl-C would, then resume to 12.
    first = train(_cfg(tmp_path / "b", max_iters=12), stop_at=7)
    assert first["iters"] == 7 and first["interrupted"]
    resumed = train(_cfg(tmp_path / "b", max_iters=12), resume=True)
    assert resumed["iters"] == 12
    a = [loss for _, loss in full["history"]["train_step"]]
    b = [loss for _, loss in resumed["history"]["train_step"]]
    np.testing.assert_allclose(b, a, rtol=1e-6)


def test_bad_inputs_give_one_line_errors(tmp_path):
    def run(*args):
        p = subprocess.run(
            [sys.executable, "-m", "tinylm.cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        return p.returncode, p.stderr.strip()

    code, err = run("train", "--max-iters", "abc")
    assert code == 2 and len(err.splitlines()) == 1 and "max-iters" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, err = run("train", "--data", str(empty))
    assert code == 2 and len(err.splitlines()) == 1 and "empty" in err
    code, err = run("generate", "--ckpt", str(tmp_path / "missing.npz"))
    assert code == 2 and len(err.splitlines()) == 1 and "does not exist" in err
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"n_layers": 3}))
    code, err = run("train", "--config", str(bad))
    assert code == 2 and "unknown keys" in err


def test_info_lists_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend" in out and "kernel softmax_forward" in out
    assert "numpy blas" in out


def test_numpy_blas_names_a_forced_openblas_kernel(monkeypatch):
    """A speed figure is comparable only with the BLAS kernels it was taken with: the line the
    benchmarks and `tinylm info` print says when OPENBLAS_CORETYPE overrides OpenBLAS's choice."""
    from tinylm.environment import numpy_blas

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert numpy_blas().endswith("(OPENBLAS_CORETYPE=Haswell set)")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    line = numpy_blas()
    assert "OPENBLAS_CORETYPE" not in line
    if importlib.util.find_spec("threadpoolctl") is not None:  # the oracle extra
        assert "threads" in line and not line.startswith(("unknown", "none"))


@pytest.mark.parametrize("argv", [[], ["nonsense"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    cmd = [
        sys.executable,
        "-m",
        "tinylm.cli",
        "train",
        *TINY_FLAGS,
        "--max-iters",
        "100000",
        "--out-dir",
        str(tmp_path / "out"),
        "--plot",
        "none",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    # Wait for the first evaluation line: training has started.
    first = proc.stdout.readline()
    assert first.startswith("iter"), first
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in out
    assert (tmp_path / "out" / "ckpt.npz").exists()
