"""A pre-trained GPT to fine-tune: trained once on the built-in corpus, then cached.

:func:`pretrained_backbone` returns a character-level GPT trained with ``tinylm.train`` on
the built-in corpus (the English text of the Python reference that ships with Python) and
its tokenizer. The first call trains it (about two minutes for ``"default"`` on two CPU
cores, seconds for ``"fast"``) and stores the checkpoint under
``tinylm.environment.cache_dir()/backbones/``, in a folder named by a hash of the training
configuration, the corpus text and tinylm's version; every later call with the same
configuration loads it.
Nothing is written to the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import tinylm
from tinylm import environment
from tinylm.autograd import TinyLMError
from tinylm.data import CharTokenizer, load_default_corpus, load_tokenizer
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.train import TrainConfig, load_checkpoint, train

__all__ = ["BACKBONES", "backbone_dir", "pretrained_backbone"]

#: The configurations :func:`pretrained_backbone` knows, by name. ``"default"``: 4 layers,
#: 64 wide, 128 characters of context, 1,500 steps of 16 windows; ``"fast"``: the seconds-long
#: version for tests and ``TINYLM_FAST=1``.
BACKBONES: dict[str, TrainConfig] = {
    "default": TrainConfig(
        model=GPTConfig(n_layer=4, n_head=4, n_embd=64, block_size=128),
        batch_size=16,
        max_iters=1500,
        lr=3e-3,
        min_lr=3e-4,
        warmup_iters=50,
        eval_interval=500,
        eval_iters=10,
        ckpt_interval=0,
        plot=None,
        sample_tokens=0,
        progress=False,
        seed=1337,
    ),
    "fast": TrainConfig(
        model=GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=128),
        batch_size=8,
        max_iters=40,
        lr=3e-3,
        min_lr=3e-4,
        warmup_iters=5,
        eval_interval=40,
        eval_iters=2,
        ckpt_interval=0,
        plot=None,
        sample_tokens=0,
        progress=False,
        seed=1337,
    ),
}


def backbone_dir(name: str = "default") -> Path:
    """Where the backbone ``name`` is (or will be) cached: ``cache_dir()/backbones/NAME-HASH``
    with HASH from its :class:`TrainConfig`, the corpus and tinylm's version, so a changed
    configuration or another Python's documentation trains a new one instead of loading a
    stale one. (Changing tinylm's training code without its version is not noticed: delete
    the folder then.)"""
    cfg = _config(name)
    run = {k: v for k, v in asdict(cfg).items() if k not in ("out_dir", "progress")}
    corpus = hashlib.sha256(load_default_corpus().encode("utf-8")).hexdigest()
    identity = [run, corpus, tinylm.__version__]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return environment.cache_dir() / "backbones" / f"{name}-{key}"


def _config(name: str) -> TrainConfig:
    if name not in BACKBONES:
        raise TinyLMError(
            f"pretrained_backbone: unknown backbone {name!r}; known: {list(BACKBONES)}"
        )
    return BACKBONES[name]


def pretrained_backbone(
    name: str | None = None, progress: bool = False
) -> tuple[GPT, CharTokenizer, dict]:
    """The GPT ``name`` trained on the built-in corpus, and its tokenizer: from the cache,
    or trained now (and cached) the first time.

    Args:
        name: a key of :data:`BACKBONES`; None picks ``"fast"`` when ``TINYLM_FAST=1``,
            else ``"default"``.
        progress: show the progress bar while training.

    Returns:
        ``(model, tokenizer, info)``: the GPT (in training mode, float32, on the CPU), its
        character tokenizer, and ``info`` with ``"name"``, ``"path"`` (the cache folder),
        ``"trained_now"``, ``"val_loss"`` and ``"seconds"`` (the pre-training time, as
        measured when it was trained).

    Raises:
        TinyLMError: an unknown name, or a cached checkpoint that cannot be read (the
            message names the folder to delete).
    """
    name = name or ("fast" if environment.fast() else "default")
    folder = backbone_dir(name)
    trained_now = False
    if not (folder / "ckpt.npz").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        # train into a private folder and rename it into place: a parallel caller (two
        # test workers) never sees half a checkpoint, and whoever renames first wins
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
        try:
            start = time.perf_counter()
            summary = train(replace(_config(name), out_dir=str(scratch), progress=progress))
            info = {"val_loss": summary["val_loss"], "seconds": time.perf_counter() - start}
            (scratch / "info.json").write_text(json.dumps(info))
            try:
                os.rename(scratch, folder)
                trained_now = True
            except OSError:  # another process cached it meanwhile: use theirs
                pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    try:
        model, _ = load_checkpoint(folder / "ckpt.npz")
        tokenizer = load_tokenizer(folder / "ckpt.tokenizer.json")
        info = json.loads((folder / "info.json").read_text())
    except Exception as e:
        raise TinyLMError(
            f"pretrained_backbone: the cached backbone in {folder} cannot be read ({e}); "
            "delete that folder to train it again"
        ) from None
    return model, tokenizer, {"name": name, "path": str(folder), "trained_now": trained_now, **info}
