"""examples/causal_lm.py (000 §5.2, §5.4) runs in its fast mode and prints each stage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fast_run_prints_the_loss_and_generations():
    env = {**os.environ, "TINYLM_FAST": "1"}
    cmd = [sys.executable, str(ROOT / "examples" / "causal_lm.py"), "--fast"]
    p = subprocess.run(
        [*cmd, "--max-new-tokens", "20"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    assert 'prompt: "Hello, I\'m a language model."' in out
    assert re.search(r"1\. BPE input_ids \(\d+ tokens, vocabulary 512\): \[72, ", out)
    loss = float(
        re.search(r"outputs\.loss \(labels = input_ids, the model shifts\): ([\d.]+)", out)[1]
    )
    assert 0 < loss < 10
    assert out.count('tokens/s): "Hello, I\'m a language model." → ') == 5
    agree = int(re.search(r"agree on (\d+) of 20 characters", out)[1])
    assert 0 <= agree <= 20
    before, after = map(float, re.search(r"on that loss: ([\d.]+) → ([\d.]+)", out).groups())
    assert before == loss and after < before  # a gradient step on one text lowers its loss


def test_listed_in_the_readme():
    assert "examples/causal_lm.py" in (ROOT / "examples" / "README.md").read_text()
