"""Hostile and careless inputs through the Python API: each gets one clear error naming what
is wrong (type and message asserted), and no good checkpoint is ever lost.

The same cases through the ``tinylm`` command live in ``tests/cli/test_cli_hostile.py``;
Ctrl-C and SIGKILL in ``tests/cli/test_cli_faults.py``.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import struct
import zipfile
from collections import namedtuple
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.atomic_write import atomic_write, remove_stale_temporaries
from tinylm.checks import ConfigError
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.train import (
    TrainConfig,
    TrainingDiverged,
    checkpoint_config,
    load_checkpoint,
    save_checkpoint,
    train,
)

TINY = dict(
    n_layer=1,
    n_head=2,
    n_embd=16,
    block_size=16,
    batch_size=4,
    eval_interval=100,
    eval_iters=2,
    warmup_iters=0,
    sample_tokens=0,
    progress=False,
    plot=None,
    ckpt_interval=0,
)


def tiny(folder: Path, **kw) -> TrainConfig:
    return TrainConfig.from_dict({**TINY, "out_dir": str(folder), **kw})


DiskUsage = namedtuple("DiskUsage", "total used free")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A folder holding the checkpoint of a healthy 2-iteration run."""
    out = tmp_path_factory.mktemp("good") / "out"
    summary = train(tiny(out, max_iters=2))
    assert summary["iters"] == 2 and not summary["interrupted"]
    return out


@pytest.fixture
def out(good_run, tmp_path) -> Path:
    """A private copy of the good run's folder."""
    return Path(shutil.copytree(good_run, tmp_path / "out"))


# ---- config values: type and range, one error naming the field --------------------------

BAD_FIELDS = [
    ("max_iters", 0, "max_iters must be an integer ≥ 1, got 0"),
    ("max_iters", -5, "max_iters must be an integer ≥ 1, got -5"),
    ("max_iters", "ten", "max_iters must be an integer, got 'ten'"),
    ("max_iters", 20.7, "max_iters must be an integer, got 20.7"),
    ("max_iters", True, "max_iters must be an integer, got True"),
    ("eval_interval", 0, "eval_interval must be an integer ≥ 1, got 0"),
    ("eval_iters", 0, "eval_iters must be an integer ≥ 1, got 0"),
    ("batch_size", 0, "batch_size must be an integer ≥ 1, got 0"),
    ("warmup_iters", -1, "warmup_iters must be an integer ≥ 0, got -1"),
    ("ckpt_interval", -1, "ckpt_interval must be an integer ≥ 0, got -1"),
    ("seed", -1, "seed must be an integer ≥ 0, got -1"),
    ("sample_tokens", -1, "sample_tokens must be an integer ≥ 0, got -1"),
    ("lr", 0.0, "lr must be > 0, got 0.0"),
    ("lr", float("nan"), "lr must be a finite number, got nan"),
    ("lr", float("inf"), "lr must be a finite number, got inf"),
    ("lr", "fast", "lr must be a number, got 'fast'"),
    ("min_lr", 1.0, "min_lr must be ≤ lr=0.001, got 1.0"),
    ("weight_decay", -0.1, "weight_decay must be ≥ 0.0, got -0.1"),
    ("beta1", 1.0, "beta1 must be < 1.0, got 1.0"),
    ("beta2", -0.5, "beta2 must be ≥ 0.0, got -0.5"),
    ("grad_clip", -1.0, "grad_clip must be ≥ 0.0, got -1.0"),
    ("progress", "no", "progress must be true or false, got 'no'"),
    ("dtype", "bogus", "dtype must be one of 'float32', 'float64'; got 'bogus'"),
    ("device", "tpu", "device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    ("tokenizer", "words", "tokenizer must be one of 'char', 'bpe'; got 'words'"),
    ("bpe_vocab_size", 100, "bpe_vocab_size must be an integer ≥ 256, got 100"),
    ("data", "", "data must not be empty"),
    ("out_dir", "", "out_dir must not be empty"),
    ("extra", {"a": {1, 2}}, "extra must hold JSON values only"),
    ("n_head", 0, "n_head must be an integer ≥ 1, got 0"),
    ("n_head", 3, "n_embd must be divisible by n_head=3, got 16"),
    ("n_layer", "2", "n_layer must be an integer, got '2'"),
    ("dropout", 1.0, "dropout must be < 1.0, got 1.0"),
    ("bias", "yes", "bias must be true or false, got 'yes'"),
]


@pytest.mark.parametrize("name, value, message", BAD_FIELDS, ids=lambda v: repr(v)[:20])
def test_every_bad_config_value_is_named(tmp_path, name, value, message):
    with pytest.raises(ConfigError) as info:
        tiny(tmp_path, **{name: value})
    assert str(info.value).startswith(f"config: {message}")
    assert info.value.field == name or name == "n_head"  # n_head=3: "n_embd must be divisible"
    assert f"{info.value.field} {info.value.problem}".startswith(message)
    assert not list(tmp_path.iterdir())  # nothing was started


def test_config_files_name_themselves_and_the_bad_key(tmp_path):
    path = tmp_path / "run.json"
    for raw, message in [
        ({"max_iters": "ten"}, "max_iters must be an integer, got 'ten'"),
        ({"model": {"n_head": 0}}, "n_head must be an integer ≥ 1, got 0"),
        ({"model": 3}, "model must be an object of settings, got 3"),
        ({"model": {"n_heads": 2}}, "unknown keys ['n_heads'] in 'model'"),
        ([1, 2], "expected a JSON object of settings"),
    ]:
        path.write_text(json.dumps(raw))
        with pytest.raises(TinyLMError, match="^config file .*run.json") as info:
            TrainConfig.from_json(path)
        assert message in str(info.value)
    path.write_text("[" * 100_000)
    with pytest.raises(TinyLMError, match="run.json nests too deeply|not valid JSON"):
        TrainConfig.from_json(path)


def test_fields_changed_after_construction_are_checked_by_train(tmp_path):
    cfg = tiny(tmp_path / "run", max_iters=2)
    cfg.max_iters = -5
    with pytest.raises(ConfigError, match="max_iters must be an integer ≥ 1, got -5"):
        train(cfg)
    cfg = tiny(tmp_path / "run", max_iters=2)
    cfg.model.n_head = 0
    with pytest.raises(ConfigError, match="n_head must be an integer ≥ 1, got 0"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_numbers_become_plain_python_values():
    cfg = TrainConfig.from_dict({"lr": np.float32(0.5), "max_iters": np.int64(3)})
    assert type(cfg.lr) is float and type(cfg.max_iters) is int
    json.dumps(cfg.extra)


# ---- divergence: stop, say so, save nothing ------------------------------------------------


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(out):
    before = sha256(out / "ckpt.npz")
    explosive = dict(lr=1e30, min_lr=1e30, grad_clip=0.0, max_iters=40)
    with pytest.raises(TrainingDiverged, match="nothing was saved") as info:
        train(tiny(out, **explosive), overwrite=True)
    assert "training diverged at iteration" in str(info.value)
    assert sha256(out / "ckpt.npz") == before
    # resumed from the good checkpoint, with periodic saves: the last finite one is kept
    with pytest.raises(TrainingDiverged, match=r"of iteration \d+ is kept"):
        train(tiny(out, **explosive, ckpt_interval=1), resume=True)
    model, state = load_checkpoint(out / "ckpt.npz")
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())
    assert state["iter"] >= 2


def test_a_nan_checkpoint_is_never_written_nor_loaded(out, tmp_path):
    model, state = load_checkpoint(out / "ckpt.npz")
    weights = dict(state["model"])
    weights["wte.weight"] = tinylm.full(weights["wte.weight"].shape, float("nan"))
    broken = tmp_path / "nan" / "ckpt.npz"
    broken.parent.mkdir()
    tinylm.save({**state, "model": weights}, broken)
    with pytest.raises(TinyLMError, match="1 of .* weights hold NaN or inf"):
        load_checkpoint(broken)
    with pytest.raises(TinyLMError, match="hold NaN or inf"):
        train(tiny(broken.parent, max_iters=4), resume=True)

    cfg = tiny(out, max_iters=2)
    optimizer = model.configure_optimizers(1e-3)
    with tinylm.no_grad():
        model.wpe.weight.fill_(float("inf"))
    from tinylm.data import TextDataset, load_default_corpus

    dataset = TextDataset.from_text(load_default_corpus()[:5000])
    rngs = (np.random.default_rng(0), np.random.default_rng(1))
    before = sha256(out / "ckpt.npz")
    with pytest.raises(TrainingDiverged, match="refusing to save .* hold NaN or inf"):
        save_checkpoint(out / "ckpt.npz", model, optimizer, 2, cfg, dataset, rngs, {})
    assert sha256(out / "ckpt.npz") == before


# ---- never replace a checkpoint unless asked; --resume must agree with it -----------------


def test_a_new_run_never_replaces_a_checkpoint_unless_asked(out):
    before = sha256(out / "ckpt.npz")
    with pytest.raises(TinyLMError, match="ckpt.npz already exists; continue it with --resume"):
        train(tiny(out, max_iters=3))
    assert sha256(out / "ckpt.npz") == before
    with pytest.raises(TinyLMError, match="resume and overwrite contradict"):
        train(tiny(out, max_iters=3), resume=True, overwrite=True)
    summary = train(tiny(out, max_iters=3), overwrite=True)  # asked: replaced
    assert summary["iters"] == 3 and sha256(out / "ckpt.npz") != before


def test_resume_refuses_settings_that_contradict_the_checkpoint(out):
    before = sha256(out / "ckpt.npz")
    cfg = tiny(out, max_iters=4, n_layer=3, n_head=4, n_embd=64, seed=7)
    with pytest.raises(TinyLMError) as info:
        train(cfg, resume=True)
    message = str(info.value)
    assert "n_layer=3, n_head=4, n_embd=64, seed=7 contradict the checkpoint" in message
    assert "(n_layer=1, n_head=2, n_embd=16, seed=1337)" in message
    with pytest.raises(TinyLMError, match="at iteration 2 and max_iters is 2: nothing to train"):
        train(tiny(out, max_iters=2), resume=True)
    assert sha256(out / "ckpt.npz") == before
    # what a resumed run records is the model it trains
    train(tiny(out, max_iters=3, lr=2e-3), resume=True)
    saved = checkpoint_config(out / "ckpt.npz")
    assert (saved.model.n_layer, saved.model.n_embd, saved.lr) == (1, 16, 2e-3)


def test_resume_without_a_checkpoint(tmp_path):
    with pytest.raises(TinyLMError, match="--resume: no checkpoint at"):
        train(tiny(tmp_path, max_iters=2), resume=True)
    with pytest.raises(TinyLMError, match="--resume: no checkpoint at"):
        checkpoint_config(tmp_path / "ckpt.npz")


# ---- the output location is checked before any work -----------------------------------


def test_the_output_location_is_checked_before_training(tmp_path, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(TinyLMError, match="out_dir: .*notes.txt is a file, not a folder"):
        train(tiny(a_file, max_iters=2))
    with pytest.raises(TinyLMError, match="out_dir: cannot write in .*notes.txt/sub"):
        train(tiny(a_file / "sub", max_iters=2))
    with pytest.raises(TinyLMError, match="plot: .*notes.txt is a file, not a folder"):
        train(tiny(tmp_path / "run", max_iters=2, plot=str(a_file / "loss.png")))
    with pytest.raises(TinyLMError, match="block_size=50000 needs more than 50000 tokens"):
        train(tiny(tmp_path / "run", max_iters=2, block_size=50_000))

    def full_disk(path):
        return DiskUsage(total=10**9, used=10**9 - 1000, free=1000)

    monkeypatch.setattr(shutil, "disk_usage", full_disk)
    with pytest.raises(TinyLMError, match="has 0.0 MiB free; the checkpoint needs about"):
        train(tiny(tmp_path / "run", max_iters=2))
    assert not (tmp_path / "run" / "ckpt.npz").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_out_dir_is_found_before_training(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(TinyLMError, match="out_dir: cannot write in .*locked: Permission denied"):
        train(tiny(locked, max_iters=2))


def test_a_failed_save_names_the_file_and_keeps_the_old_one(out, monkeypatch):
    before = sha256(out / "ckpt.npz")

    def disk_full(file, **arrays):
        file.write(b"PK\x03\x04 the start of a zip")
        raise OSError(errno.EFBIG, "File too large")  # no file name, as write() gives it

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(TinyLMError, match=r"could not save the checkpoint to .*ckpt\.npz: File"):
        train(tiny(out, max_iters=3), resume=True)
    assert sha256(out / "ckpt.npz") == before
    assert sorted(p.name for p in out.iterdir()) == ["ckpt.npz", "ckpt.tokenizer.json"]


# ---- in-place parameter updates bump version counters ---------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.Adam(ps, lr=0.1),
        lambda ps: optim.AdamW(ps, lr=0.1),
    ],
    ids=["SGD", "SGD-momentum", "Adam", "AdamW"],
)
def test_a_step_between_forward_and_backward_is_an_error(make):
    layer = nn.Linear(3, 2)
    opt = make(layer.parameters())
    loss = layer(tinylm.randn(4, 3)).sum()
    loss.backward(retain_graph=True)
    before = layer.weight._version
    opt.step()
    assert layer.weight._version == before + 1
    with pytest.raises(RuntimeError, match="saved for backward was modified in place"):
        loss.backward()


def test_writes_through_tensor_paths_are_tracked():
    w = nn.Parameter(tinylm.randn(3, 2))
    x = tinylm.randn(4, 3)

    def assign_data():
        w.data = np.zeros((3, 2), np.float32)

    def augmented():
        nonlocal w
        w -= 0.1  # in place under no_grad, as in a hand-written SGD step

    for change in (assign_data, augmented, lambda: w.copy_(tinylm.zeros(3, 2))):
        loss = (x @ w).sum()
        with tinylm.no_grad():
            change()
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()


# ---- sampling arguments -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt() -> GPT:
    tinylm.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))


@pytest.mark.parametrize(
    "prompt, kwargs, message",
    [
        ([[1, 2]], dict(top_k=0), "top_k must be an integer ≥ 1, got 0"),
        ([[1, 2]], dict(top_k=-2), "top_k must be an integer ≥ 1, got -2"),
        ([[1, 2]], dict(top_k=2.5), "top_k must be an integer, got 2.5"),
        ([[1, 2]], dict(temperature=float("inf")), "temperature must be a finite number"),
        ([[1, 2]], dict(temperature=0.0), "temperature must be > 0, got 0.0"),
        ([[1, 2]], dict(temperature=float("nan")), "temperature must be a finite number"),
        ([[1, 2]], dict(max_new_tokens=-1), "max_new_tokens must be an integer ≥ 0, got -1"),
        ([[1.7, 2.0]], {}, "idx must hold integer token ids, got dtype float64"),
        (np.zeros((1, 0), np.int64), {}, "the prompt is empty (shape (1, 0))"),
        ([[]], {}, "the prompt is empty (shape (1, 0))"),
        ([[1, 11]], {}, "token id 11 is out of range for a vocabulary of 11"),
        ([[-1, 2]], {}, "token id -1 is out of range for a vocabulary of 11"),
        (np.zeros((1, 2, 3), np.int64), {}, "idx must have shape (T,) or (B, T)"),
    ],
)
def test_sampling_arguments_are_checked(gpt, prompt, kwargs, message):
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(TinyLMError) as info:
        gpt.generate(prompt, **args)
    assert message in str(info.value)
    assert gpt.training  # the model's mode is restored


def test_top_k_1_is_greedy_and_greedy_ignores_temperature(gpt):
    prompt = np.array([[1, 2, 3]])
    greedy = gpt.generate(prompt, 6, greedy=True, temperature=float("inf")).numpy()
    top1 = gpt.generate(prompt, 6, top_k=1, generator=tinylm.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(greedy, top1)


def test_a_nan_model_does_not_generate(gpt):
    broken = GPT(gpt.config)
    with tinylm.no_grad():
        broken.ln_f.weight.fill_(float("nan"))
    with pytest.raises(TinyLMError, match="logits hold NaN or inf after 2 tokens"):
        broken.generate([[1, 2]], 3, greedy=True)


# ---- checkpoint files: structure and sizes are checked before allocating -----------------


def _npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _manifest(root_json: str) -> bytes:
    text = '{"format": "tinylm-checkpoint", "version": 1, "root": ' + root_json + "}"
    return _npy(np.frombuffer(text.encode(), np.uint8))


def test_a_manifest_nested_100_000_levels_is_refused(tmp_path):
    path = tmp_path / "deep.npz"
    path.write_bytes(_npz({"__manifest__.npy": _manifest("[" * 100_000 + "]" * 100_000)}))
    with pytest.raises(TinyLMError, match="deep.npz.*nests deeper than 100 levels"):
        tinylm.load(path)
    node = '{"t": "value", "v": 1}'
    for _ in range(150):  # deep enough to refuse, shallow enough for json to parse
        node = '{"t": "list", "items": [' + node + "]}"
    path.write_bytes(_npz({"__manifest__.npy": _manifest(node)}))
    with pytest.raises(TinyLMError, match="nests deeper than 100 levels"):
        tinylm.load(path)
    deep: list = []
    for _ in range(150):
        deep = [deep]
    with pytest.raises(TypeError, match="nests deeper than 100 levels"):
        tinylm.save(deep, tmp_path / "never.npz")
    assert not (tmp_path / "never.npz").exists()


def test_an_array_header_larger_than_the_file_is_refused(tmp_path):
    header = io.BytesIO()
    fields = {"descr": "<f4", "fortran_order": False, "shape": (2**40,)}
    np.lib.format.write_array_header_1_0(header, fields)
    path = tmp_path / "huge.npz"
    path.write_bytes(
        _npz(
            {
                "a0.npy": header.getvalue() + bytes(16),
                "__manifest__.npy": _manifest('{"t": "array", "a": "a0"}'),
            }
        )
    )
    assert path.stat().st_size < 1000
    with pytest.raises(TinyLMError, match=r"declares shape \(1099511627776,\) float32"):
        tinylm.load(path)


def test_a_member_size_larger_than_the_file_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    tinylm.save({"w": np.arange(10.0)}, path)
    data = bytearray(path.read_bytes())
    # the central directory's "uncompressed size" of every member (offset 24 of its entry)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        data[at + 24 : at + 28] = struct.pack("<I", 2**32 - 2)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(TinyLMError, match="declares 4294967294 bytes, more than its"):
        tinylm.load(path)


def test_foreign_members_and_pickles_are_refused(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(_npz({"a0.npy": _npy(np.ones(2)), "notes.txt": b"hi"}))
    with pytest.raises(TinyLMError, match="member 'notes.txt' is not a .npy array"):
        tinylm.load(path)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path.write_bytes(_npz({"a0.npy": buffer.getvalue(), "__manifest__.npy": _manifest("{}")}))
    with pytest.raises(TinyLMError, match="holds Python objects"):
        tinylm.load(path)


# ---- atomic writes: umask, leftovers of killed writers, errors naming the path ------------


def test_files_are_created_with_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        tinylm.save({"w": np.ones(2)}, tmp_path / "ckpt.npz")
    finally:
        os.umask(previous)
    assert (tmp_path / "ckpt.npz").stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_the_next_save_removes_abandoned_temporary_files_but_not_live_ones(tmp_path):
    import fcntl

    path = tmp_path / "ckpt.npz"
    abandoned = [tmp_path / f".ckpt.npz.dead{i}.tmp" for i in range(3)]
    for f in abandoned:
        f.write_bytes(b"half a checkpoint")
    live = tmp_path / ".ckpt.npz.alive.tmp"
    other = tmp_path / ".other.npz.x.tmp"  # another file's: not ours to remove
    other.write_bytes(b"")
    with open(live, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # a writer that is still at work
        tinylm.save({"w": np.ones(2)}, path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["ckpt.npz", live.name, other.name]
        )
    assert remove_stale_temporaries(path) == [str(live)]  # its writer has finished


def test_write_errors_name_the_path(tmp_path):
    target = tmp_path / "missing-folder" / "ckpt.npz"
    with pytest.raises(FileNotFoundError) as info:
        atomic_write(target, lambda f: f.write(b"x"))
    assert info.value.filename == str(target)

    def fail(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left on device: .*ckpt.npz") as info:
        atomic_write(tmp_path / "ckpt.npz", fail)
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_generate_is_unchanged_for_good_arguments(gpt):
    # a regression guard for the checks: the plain sampling path still runs and is seeded
    a = gpt.generate([[1, 2]], 5, top_k=3, generator=tinylm.Generator().manual_seed(1)).numpy()
    b = gpt.generate(
        np.array([1, 2]), 5, top_k=3, generator=tinylm.Generator().manual_seed(1)
    ).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1, 7) and (a >= 0).all() and (a < 11).all()


def test_replace_revalidates(tmp_path):
    cfg = tiny(tmp_path)
    with pytest.raises(ConfigError, match="eval_iters must be an integer ≥ 1, got 0"):
        replace(cfg, eval_iters=0)
