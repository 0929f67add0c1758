"""`tinylm translate`: train, translate, evaluate, resume, overwrite protection, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinylm.cli import main
from tinylm.translate import TranslateConfig, Translator, train_translator

TINY = [
    "--n-embd", "16", "--n-head", "2", "--n-encoder-layer", "1", "--n-decoder-layer", "1",
    "--batch-size", "8", "--eval-interval", "4", "--warmup-iters", "2", "--no-progress",
]  # fmt: skip


def _cfg(tmp_path, **kw) -> TranslateConfig:
    base = dict(n_embd=16, n_head=2, n_encoder_layer=1, n_decoder_layer=1, batch_size=8,
                eval_interval=4, warmup_iters=2, progress=False, plot=None, dropout=0.1,
                out_dir=str(tmp_path), ckpt_interval=6)  # fmt: skip
    base.update(kw)
    return TranslateConfig.from_dict(base)


def test_train_then_translate_then_eval(tmp_path, capsys):
    out, plot = tmp_path / "out", tmp_path / "loss.png"
    argv = ["translate", "train", *TINY, "--max-iters", "8", "--out-dir", str(out)]
    assert main([*argv, "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "done: 8 iterations" in printed and "held-out numbers: exact match" in printed
    assert "Translate English to French: I love you → " in printed
    assert (out / "ckpt.npz").exists() and plot.exists()
    ckpt = str(out / "ckpt.npz")
    assert main(["translate", "text", "--ckpt", ckpt, "I love you", "Hello, world!"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    translator = Translator.load(ckpt)
    assert lines[0] == translator.translate("Translate English to French: I love you")
    assert main(["translate", "eval", "--ckpt", ckpt, "--beams", "2"]) == 0
    printed = capsys.readouterr().out
    assert "held-out phrases: exact match" in printed and "(15 pairs)" in printed


def test_an_existing_checkpoint_is_never_overwritten_by_accident(tmp_path):
    first = train_translator(_cfg(tmp_path, max_iters=3))
    before = (tmp_path / "ckpt.npz").read_bytes()
    with pytest.raises(ValueError, match="--resume.*--overwrite"):
        train_translator(_cfg(tmp_path, max_iters=3))
    assert (tmp_path / "ckpt.npz").read_bytes() == before
    again = train_translator(_cfg(tmp_path, max_iters=3), overwrite=True)
    assert again["history"]["train_step"] == first["history"]["train_step"]  # same seed


def test_resume_reproduces_the_uninterrupted_loss_curve(tmp_path):
    full = train_translator(_cfg(tmp_path / "a", max_iters=10))
    first = train_translator(_cfg(tmp_path / "b", max_iters=10), stop_at=5)
    assert first["iters"] == 5 and first["interrupted"]
    resumed = train_translator(_cfg(tmp_path / "b", max_iters=10), resume=True)
    assert resumed["iters"] == 10
    a = [loss for _, loss in full["history"]["train_step"]]
    b = [loss for _, loss in resumed["history"]["train_step"]]
    np.testing.assert_allclose(b, a, rtol=1e-6)


def test_bad_inputs_give_one_line_errors(tmp_path):
    def run(*args):
        p = subprocess.run([sys.executable, "-m", "tinylm.cli", "translate", *args],
                           capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
        return p.returncode, p.stderr.strip()

    code, err = run("text", "--ckpt", "missing.npz", "I love you")
    assert code == 2 and len(err.splitlines()) == 1 and "does not exist" in err
    code, err = run("train", "--n-embd", "abc")
    assert code == 2 and len(err.splitlines()) == 1 and "n-embd" in err
    code, err = run("train", "--n-embd", "10", "--n-head", "3", "--max-iters", "1")
    assert code == 2 and len(err.splitlines()) == 1 and "divisible" in err
    code, err = run("nonsense")
    assert code == 2 and len(err.splitlines()) == 1
    train_translator(_cfg(tmp_path, max_iters=1))
    code, err = run("text", "--ckpt", str(tmp_path / "ckpt.npz"), "I love pizza")
    assert code == 2 and err == "tinylm: error: 1 word(s) not in the English vocabulary: 'pizza'"
