"""Hostile and careless inputs to the ``tinylm`` command, as a user would type them.

Each case runs the command in a scratch folder holding a good checkpoint (``out/``), a
diverged one (``nan/``) and a few broken files, and asserts: the exit status; exactly one
line on stderr, ``tinylm: error: ...`` naming the problem, no traceback; and that every
file that was there before is byte for byte the same (sha256), with no temporary file
left behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinylm
from tinylm.train import TrainConfig, train

TINY = [
    *("--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16"),
    *("--batch-size", "4", "--eval-iters", "2", "--eval-interval", "100"),
    *("--warmup-iters", "0", "--sample-tokens", "0", "--plot", "none", "--no-progress"),
]
EXPLODE = ["--lr", "1e30", "--min-lr", "1e30", "--grad-clip", "0", "--max-iters", "40"]
HAS_GPU = tinylm.cuda_is_available()


@pytest.fixture(scope="module")
def scratch_template(tmp_path_factory) -> Path:
    """The files every case starts from."""
    root = tmp_path_factory.mktemp("scratch")
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
            "out_dir": str(root / "out"),
        }
    )
    train(cfg)
    state = tinylm.load(root / "out" / "ckpt.npz")
    nan = dict(state["model"], **{"wte.weight": state["model"]["wte.weight"] * float("nan")})
    # finite weights whose logits overflow: (3e38 · x̂ + 3e38) @ Wᵀ is inf − inf = nan
    huge = {k: v * 0 + 3e38 if k.startswith("ln_f") else v for k, v in state["model"].items()}
    for folder, weights in (("nan", nan), ("huge", huge)):
        (root / folder).mkdir()
        tinylm.save({**state, "model": weights}, root / folder / "ckpt.npz")
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("a file, not a folder")
    for name, raw in {
        "ten.json": {"max_iters": "ten"},
        "float.json": {"max_iters": 20.7},
        "progress.json": {"progress": "no"},
    }.items():
        (root / name).write_text(json.dumps(raw))
    (root / "deep.npz").write_bytes(_npz({"__manifest__.npy": _manifest("[" * 100_000)}))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)}
    )
    (root / "huge.npz").write_bytes(
        _npz(
            {
                "a0.npy": header.getvalue() + bytes(16),
                "__manifest__.npy": _manifest('{"t": "array", "a": "a0"}'),
            }
        )
    )
    return root


def _npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _manifest(root_json: str) -> bytes:
    text = '{"format": "tinylm-checkpoint", "version": 1, "root": ' + root_json + "}"
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(text.encode(), np.uint8))
    return buffer.getvalue()


def _limit_file_size() -> None:
    import resource

    # a disk that fills up: no file may grow past 50 kB (the checkpoint needs 87 kB)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def _fingerprints(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_tinylm(args, cwd, env=None, preexec_fn=None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TINYLM_BACKEND"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tinylm.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        preexec_fn=preexec_fn,
        timeout=300,
    )


# (case, arguments, what the one line says[, environment][, pre-exec]); all exit with 2
CASES = [
    # data lost (issue items 1-4)
    ("diverge-over-good-ckpt", ["train", *TINY, *EXPLODE], "out/ckpt.npz already exists"),
    (
        "diverge-overwrite",
        ["train", *TINY, *EXPLODE, "--overwrite"],
        "training diverged at iteration 2: the loss is nan; nothing was saved",
    ),
    (
        "diverge-resume",
        ["train", "--resume", *EXPLODE, "--ckpt-interval", "1"],
        "the checkpoint out/ckpt.npz of iteration 2 is kept",
    ),
    (
        "resume-a-nan-checkpoint",
        ["train", "--resume", "--out-dir", "nan", "--max-iters", "9"],
        "nan/ckpt.npz: 1 of 17 weights hold NaN or inf",
    ),
    ("new-run-over-ckpt", ["train", *TINY, "--max-iters", "3"], "out/ckpt.npz already exists"),
    ("lr-10-over-ckpt", ["train", *TINY, "--lr", "10"], "out/ckpt.npz already exists"),
    ("max-iters-0", ["train", "--max-iters", "0"], "--max-iters must be an integer ≥ 1, got 0"),
    ("max-iters--5", ["train", "--max-iters", "-5"], "--max-iters must be an integer ≥ 1, got -5"),
    (
        "out-dir-is-a-file",
        ["train", *TINY, "--out-dir", "notes.txt"],
        "out_dir: notes.txt is a file, not a folder",
    ),
    (
        "out-dir-under-a-file",
        ["train", *TINY, "--out-dir", "notes.txt/run"],
        "out_dir: cannot write in notes.txt/run: Not a directory",
    ),
    (
        "plot-under-a-file",
        ["train", *TINY, "--out-dir", "new", "--plot", "notes.txt/loss.png"],
        "plot: notes.txt is a file, not a folder",
    ),
    (
        "disk-full-at-the-final-save",
        ["train", "--resume", "--max-iters", "3"],
        "could not save the checkpoint to out/ckpt.npz: File too large",
        {},
        _limit_file_size,
    ),
    # silently wrong (items 6-8)
    (
        "resume-with-another-model",
        ["train", "--resume", "--n-layer", "3", "--n-head", "4", "--n-embd", "64"],
        "--resume: n_layer=3, n_head=4, n_embd=64 contradict the checkpoint out/ckpt.npz "
        "(n_layer=1, n_head=2, n_embd=16)",
    ),
    ("resume-with-another-seed", ["train", "--resume", "--seed", "1"], "seed=1 contradict"),
    ("resume-nothing-there", ["train", "--resume", "--out-dir", "empty"], "no checkpoint at"),
    ("resume-and-overwrite", ["train", "--resume", "--overwrite"], "contradict each other"),
    ("resume-a-finished-run", ["train", "--resume"], "at iteration 2 and max_iters is 2"),
    ("top-k-0", ["generate", "--top-k", "0"], "--top-k must be an integer ≥ 1, got 0"),
    ("top-k--2", ["generate", "--top-k", "-2"], "--top-k must be an integer ≥ 1, got -2"),
    ("temperature-inf", ["generate", "--temperature", "inf"], "--temperature must be a finite"),
    ("temperature-0", ["generate", "--temperature", "0"], "--temperature must be > 0, got 0.0"),
    ("max-new-tokens--1", ["generate", "--max-new-tokens", "-1"], "must be an integer ≥ 0"),
    ("seed--1", ["generate", "--seed", "-1"], "--seed must be an integer ≥ 0, got -1"),
    ("eval-iters-0", ["train", "--eval-iters", "0"], "--eval-iters must be an integer ≥ 1, got 0"),
    (
        "greedy-from-a-nan-model",
        ["generate", "--ckpt", "nan/ckpt.npz", "--greedy"],
        "1 of 17 weights hold NaN or inf",
    ),
    (
        "greedy-from-a-blown-up-model",
        ["generate", "--ckpt", "huge/ckpt.npz", "--greedy", "--max-new-tokens", "3"],
        "generate: the model's logits hold NaN or inf",
    ),
    ("empty-prompt", ["generate", "--prompt", ""], "the prompt is empty after tokenization"),
    ("prompt-out-of-vocabulary", ["generate", "--prompt", "€"], "not in the tokenizer's"),
    (
        "backend-cupy-without-gpu",
        ["train", *TINY, "--out-dir", "new"],
        "TINYLM_BACKEND=cupy: backend 'cupy' needs CuPy and a CUDA GPU",
        {"TINYLM_BACKEND": "cupy"},
    ),
    # tracebacks before
    ("n-head-0", ["train", "--n-head", "0"], "--n-head must be an integer ≥ 1, got 0"),
    ("n-head-3", ["train", "--n-head", "3"], "n_embd must be divisible by n_head=3, got 128"),
    ("eval-interval-0", ["train", "--eval-interval", "0"], "--eval-interval must be an integer"),
    (
        "device-cuda-without-gpu",
        ["train", *TINY, "--out-dir", "new", "--device", "cuda"],
        "device 'cuda' is not available",
    ),
    ("device-tpu", ["train", "--device", "tpu"], "--device must be 'cpu', 'cuda' or 'cuda:N'"),
    ("dtype-bogus", ["train", "--dtype", "bogus"], "--dtype must be one of 'float32', 'float64'"),
    (
        "backend-bogus",
        ["train", *TINY, "--out-dir", "new"],
        "TINYLM_BACKEND=bogus: unknown backend 'bogus'; valid backends: auto, numpy, numba",
        {"TINYLM_BACKEND": "bogus"},
    ),
    ("config-ten", ["train", "--config", "ten.json"], "max_iters must be an integer, got 'ten'"),
    ("config-20.7", ["train", "--config", "float.json"], "max_iters must be an integer, got 20.7"),
    ("config-no", ["train", "--config", "progress.json"], "progress must be true or false"),
    ("manifest-100000-deep", ["generate", "--ckpt", "deep.npz"], "nests deeper than 100 levels"),
    (
        "header-2^40-elements",
        ["generate", "--ckpt", "huge.npz"],
        "member 'a0.npy' declares shape (1099511627776,) float32",
    ),
    # further hostile inputs
    ("lr-nan", ["train", "--lr", "nan"], "--lr must be a finite number, got nan"),
    ("lr-negative", ["train", "--lr", "-1"], "--lr must be > 0, got -1.0"),
    ("min-lr-above-lr", ["train", "--min-lr", "1"], "--min-lr must be ≤ lr=0.001, got 1.0"),
    ("dropout-1", ["train", "--dropout", "1"], "--dropout must be < 1.0, got 1.0"),
    ("empty-data-path", ["train", "--data", ""], "--data must not be empty"),
    ("data-is-a-folder", ["train", *TINY, "--out-dir", "new", "--data", "empty"], "is a folder"),
    (
        "block-size-beyond-the-data",
        ["train", *TINY, "--out-dir", "new", "--block-size", "100000"],
        "block_size=100000 needs more than 100000 tokens in each split, but the val split",
    ),
    (
        "data-is-a-device",
        ["train", *TINY, "--out-dir", "new", "--data", "/dev/zero"],
        "/dev/zero: not a regular file",
    ),
    ("plot-is-a-folder", ["train", *TINY, "--out-dir", "new", "--plot", "out"], "is a folder"),
    ("config-is-a-folder", ["train", "--config", "out"], "config file out cannot be read"),
    ("checkpoint-is-a-folder", ["generate", "--ckpt", "out"], "it is a folder"),
    ("checkpoint-is-text", ["generate", "--ckpt", "notes.txt"], "wrong file signature"),
    ("config-file-missing", ["train", "--config", "missing.json"], "does not exist"),
]
SKIP = {
    "disk-full-at-the-final-save": os.name != "posix",
    "data-is-a-device": not os.path.exists("/dev/zero"),
    "backend-cupy-without-gpu": HAS_GPU,
    "device-cuda-without-gpu": HAS_GPU,
}
GENERATE_DEFAULT = ["--ckpt", "out/ckpt.npz", "--max-new-tokens", "5"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_one_line_and_loses_nothing(case, scratch_template, tmp_path):
    name, args, message = case[:3]
    env = case[3] if len(case) > 3 else {}
    preexec_fn = case[4] if len(case) > 4 else None
    if SKIP.get(name):
        pytest.skip("not possible on this machine")
    scratch = Path(shutil.copytree(scratch_template, tmp_path / "scratch"))
    before = _fingerprints(scratch)
    if args[0] == "generate":
        args = ["generate", *GENERATE_DEFAULT, *args[1:]]  # the case's flags come last and win
    done = run_tinylm(args, scratch, env, preexec_fn)
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, done.stdout, err)
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("tinylm: error: "), err
    assert message in err, err
    after = _fingerprints(scratch)
    assert {k: after.get(k) for k in before} == before  # nothing that was there changed
    assert not [p for p in after if p.endswith(".tmp")]


def test_info_reports_a_bad_backend_instead_of_dying(tmp_path):
    done = run_tinylm(["info"], tmp_path, {"TINYLM_BACKEND": "bogus"})
    assert done.returncode == 0, done.stderr
    assert "unusable: TINYLM_BACKEND=bogus: unknown backend 'bogus'" in done.stdout
    assert "kernel softmax_forward" in done.stdout


def test_a_resumed_run_takes_the_checkpoints_settings(scratch_template, tmp_path):
    """`--resume` starts from the checkpoint's own config, so a flag that is not given does
    not silently fall back to a default (the model's 4 layers, another batch size...)."""
    scratch = Path(shutil.copytree(scratch_template, tmp_path / "scratch"))
    done = run_tinylm(["train", "--resume", "--max-iters", "4", "--no-progress"], scratch)
    assert done.returncode == 0, done.stderr
    assert "done: 4 iterations" in done.stdout
    state = tinylm.load(scratch / "out" / "ckpt.npz")
    saved = json.loads(state["train_config"])
    assert (saved["model"]["n_layer"], saved["batch_size"], saved["max_iters"]) == (1, 4, 4)
    assert saved["plot"] is None and saved["sample_tokens"] == 0


def test_overwrite_replaces_only_when_asked(scratch_template, tmp_path):
    scratch = Path(shutil.copytree(scratch_template, tmp_path / "scratch"))
    before = _fingerprints(scratch)["out/ckpt.npz"]
    done = run_tinylm(["train", *TINY, "--max-iters", "3", "--overwrite"], scratch)
    assert done.returncode == 0, done.stderr
    assert _fingerprints(scratch)["out/ckpt.npz"] != before
    assert tinylm.load(scratch / "out" / "ckpt.npz")["iter"] == 3
