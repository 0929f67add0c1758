"""Train a GPT on a text file: the loop behind ``tinylm train``.

The loop is the one the course derives (lesson 09): prepare the data → embed tokens and
positions → attention blocks → forward → loss → backpropagation →
parameter update, repeated; plus what a real run needs: evaluation on held-out text, a
learning-rate schedule, gradient clipping, checkpoints that can be resumed, a progress bar,
and a loss curve.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

import tinylm
import tinylm.optim
from tinylm.autograd import TinyLMError
from tinylm.checks import (
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_str,
)
from tinylm.data import TextDataset, load_default_corpus, load_text, load_tokenizer
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.optim.lr_scheduler import WarmupCosineLR

__all__ = [
    "TrainConfig",
    "TrainingDiverged",
    "checkpoint_config",
    "checkpoint_path",
    "estimate_loss",
    "load_checkpoint",
    "train",
]

#: the settings that a resumed run takes from its checkpoint, so a flag may not change them
RESUME_FIXED = ("tokenizer", "bpe_vocab_size", "seed")


@dataclass
class TrainConfig:
    """Everything that defines a training run (the flags of ``tinylm train``).

    ``model`` is the GPT's own :class:`~tinylm.models.gpt.GPTConfig` (its ``vocab_size`` is
    set from the tokenizer when the data is loaded); the other fields are the run's. The
    defaults train a small character-level GPT on the built-in corpus in a few minutes on
    two CPU cores.

    Every field is checked by type and range when the config is made (and again by
    :func:`train`): a wrong value raises :class:`~tinylm.checks.ConfigError` naming it.
    """

    model: GPTConfig = field(default_factory=GPTConfig)
    data: str | None = None  # a text file; None = the built-in corpus
    tokenizer: str = "char"  # "char" or "bpe"
    bpe_vocab_size: int = 512
    batch_size: int = 12
    max_iters: int = 1500
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 = no clipping
    eval_interval: int = 250
    eval_iters: int = 20
    ckpt_interval: int = 500  # 0 = only the final checkpoint
    out_dir: str = "out"
    plot: str | None = "plots/train_loss.png"  # "none" for no plot
    seed: int = 1337
    dtype: str = "float32"
    device: str = "cpu"
    sample_tokens: int = 300
    prompt: str = "\n"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> TrainConfig:
        """Check every field's type and range; numbers become plain ``int``/``float``.

        Raises:
            ConfigError: the first field that is wrong, named, with its value.
        """
        o = "TrainConfig"
        if not isinstance(self.model, GPTConfig):
            raise ConfigError(o, "model", f"must be a GPTConfig, got {type(self.model).__name__}")
        self.model.validate()
        self.data = check_str(o, "data", self.data, optional=True)
        self.tokenizer = check_choice(o, "tokenizer", self.tokenizer, ("char", "bpe"))
        self.bpe_vocab_size = check_int(o, "bpe_vocab_size", self.bpe_vocab_size, minimum=256)
        for name in ("batch_size", "max_iters", "eval_interval", "eval_iters"):
            setattr(self, name, check_int(o, name, getattr(self, name), minimum=1))
        for name in ("warmup_iters", "ckpt_interval", "seed", "sample_tokens"):
            setattr(self, name, check_int(o, name, getattr(self, name), minimum=0))
        self.lr = check_float(o, "lr", self.lr, positive=True)
        self.min_lr = check_float(o, "min_lr", self.min_lr, minimum=0.0)
        if self.min_lr > self.lr:  # the schedule would raise the rate as it "decays"
            raise ConfigError(o, "min_lr", f"must be ≤ lr={self.lr}, got {self.min_lr}")
        self.weight_decay = check_float(o, "weight_decay", self.weight_decay, minimum=0.0)
        self.beta1 = check_float(o, "beta1", self.beta1, minimum=0.0, below=1.0)
        self.beta2 = check_float(o, "beta2", self.beta2, minimum=0.0, below=1.0)
        self.grad_clip = check_float(o, "grad_clip", self.grad_clip, minimum=0.0)
        self.out_dir = check_str(o, "out_dir", self.out_dir)
        self.plot = check_str(o, "plot", self.plot, optional=True, nonempty=False)
        self.dtype = check_choice(o, "dtype", self.dtype, ("float32", "float64"))
        self.device = check_str(o, "device", self.device)
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            problem = f"must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"
            raise ConfigError(o, "device", problem)
        self.prompt = check_str(o, "prompt", self.prompt, nonempty=False)
        self.progress = check_bool(o, "progress", self.progress)
        if not isinstance(self.extra, dict):
            raise ConfigError(o, "extra", f"must be a dict, got {type(self.extra).__name__}")
        try:
            json.dumps(self.extra)  # it is saved in the checkpoint as JSON
        except (TypeError, ValueError) as e:
            raise ConfigError(o, "extra", f"must hold JSON values only ({e})") from None
        return self

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], source: str = "config", base: TrainConfig | None = None
    ) -> TrainConfig:
        """A config from a dict of field names; the model's fields may sit under ``"model"``
        or at the top level, as the command-line flags do (``{"n_layer": 2, "lr": 3e-3}``).
        Fields that ``raw`` does not set come from ``base`` (default: the defaults).

        Raises:
            ConfigError: an unknown key or a wrong value; the message starts with ``source``.
        """
        if not isinstance(raw, dict):
            raise TinyLMError(f"{source}: expected an object of settings, got {type(raw).__name__}")
        model_fields = {f.name for f in fields(GPTConfig)}
        run_fields = {f.name for f in fields(cls)} - {"model"}
        unknown = sorted(set(raw) - model_fields - run_fields - {"model"})
        if unknown:
            raise TinyLMError(f"{source}: unknown keys {unknown}")
        nested = raw.get("model", {})
        if not isinstance(nested, dict):
            raise ConfigError(source, "model", f"must be an object of settings, got {nested!r}")
        unknown = sorted(set(nested) - model_fields)
        if unknown:
            raise TinyLMError(f"{source}: unknown keys {unknown} in 'model'")
        base = base if base is not None else cls()
        model = {**asdict(base.model), **nested}
        model.update({k: v for k, v in raw.items() if k in model_fields})
        run = {f.name: getattr(base, f.name) for f in fields(cls) if f.name != "model"}
        run.update({k: v for k, v in raw.items() if k in run_fields})
        try:
            return cls(model=GPTConfig(**model), **run)
        except ConfigError as e:
            raise ConfigError(source, e.field, e.problem) from None

    @classmethod
    def from_json(cls, path: str | Path, base: TrainConfig | None = None) -> TrainConfig:
        """Read a config file (a JSON object; see :meth:`from_dict`)."""
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise TinyLMError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise TinyLMError(f"config file {path} cannot be read: {e}") from None
        except json.JSONDecodeError as e:
            raise TinyLMError(f"config file {path} is not valid JSON: {e}") from None
        except RecursionError:
            raise TinyLMError(f"config file {path} nests too deeply") from None
        if not isinstance(raw, dict):
            raise TinyLMError(f"config file {path}: expected a JSON object of settings")
        return cls.from_dict(raw, f"config file {path}", base)


class TrainingDiverged(TinyLMError):
    """The loss or the gradient norm became NaN or inf: the run stops, nothing is saved."""


@tinylm.no_grad()
def estimate_loss(
    model: GPT, dataset: TextDataset, cfg: TrainConfig, rng: np.random.Generator
) -> dict[str, float]:
    """Mean loss over ``eval_iters`` random batches of each split (model in eval mode)."""
    model.eval()
    out = {}
    try:
        for split in ("train", "val"):
            losses = []
            for _ in range(cfg.eval_iters):
                x, y = dataset.batch(split, cfg.batch_size, cfg.model.block_size, rng)
                _, loss = model(_to(x, cfg), _to(y, cfg))
                losses.append(loss.item())
            out[split] = float(np.mean(losses))
    finally:
        model.train()
    return out


def _to(batch: np.ndarray, cfg: TrainConfig) -> tinylm.Tensor:
    return tinylm.tensor(batch, device=cfg.device)


def _load_data(cfg: TrainConfig, tokenizer: Any = None) -> TextDataset:
    text = load_text(cfg.data) if cfg.data else load_default_corpus()
    if tokenizer is not None:
        return TextDataset.from_text(text, tokenizer=tokenizer)
    return TextDataset.from_text(text, tokenizer=cfg.tokenizer, vocab_size=cfg.bpe_vocab_size)


def checkpoint_path(out_dir: str | Path) -> Path:
    """Where ``tinylm train --out-dir OUT_DIR`` keeps its checkpoint: ``OUT_DIR/ckpt.npz``."""
    return Path(out_dir) / "ckpt.npz"


def _non_finite(model: GPT, optimizer_state: dict[str, Any]) -> list[str]:
    """Names of the parameters (and optimizer states) that hold NaN or inf."""
    bad = [
        name for name, p in model.named_parameters() if not np.isfinite(p.detach().numpy()).all()
    ]
    for i, state in optimizer_state["state"].items():
        for key, value in state.items():
            array = value.numpy() if isinstance(value, tinylm.Tensor) else value
            if hasattr(array, "shape") and not np.isfinite(array).all():
                bad.append(f"optimizer state {key!r} of parameter {i}")
    return bad


def save_checkpoint(
    path: Path,
    model: GPT,
    optimizer: Any,
    it: int,
    cfg: TrainConfig,
    dataset: TextDataset,
    rngs: tuple[np.random.Generator, np.random.Generator],
    history: dict[str, list],
) -> None:
    """Write everything needed to resume or to generate (atomically, no pickle).

    Raises:
        TrainingDiverged: a parameter or optimizer state holds NaN or inf (never saved).
        TinyLMError: the file system refused; the message names the file.
    """
    optimizer_state = optimizer.state_dict()
    bad = _non_finite(model, optimizer_state)
    if bad:
        raise TrainingDiverged(
            f"refusing to save {path}: {len(bad)} tensors hold NaN or inf (first: {bad[0]})"
        )
    tokenizer_file = path.with_suffix(".tokenizer.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        dataset.tokenizer.save(tokenizer_file)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer_state,
            "iter": it,
            "model_config": json.dumps(model.config.to_dict()),
            "train_config": json.dumps(asdict(cfg)),
            "tokenizer": tokenizer_file.read_text(),
            "batch_rng": json.dumps(rngs[0].bit_generator.state),
            "eval_rng": json.dumps(rngs[1].bit_generator.state),
            "tinylm_rng": json.dumps(tinylm.default_generator.get_state()),
            "history": json.dumps(history),
        }
        tinylm.save(state, path)
    except OSError as e:
        where = e.filename or path
        raise TinyLMError(
            f"could not save the checkpoint to {where}: {e.strerror or e} (a checkpoint "
            "already there is unchanged)"
        ) from e


def load_checkpoint(path: str | Path) -> tuple[GPT, dict[str, Any]]:
    """Load a checkpoint written by ``tinylm train``: returns (model, the raw state).

    Raises:
        TinyLMError: the file is missing, not a tinylm GPT checkpoint, or its weights hold
            NaN or inf (a diverged run's; such a model can neither be trained nor sampled).
    """
    path = Path(path)
    if not path.exists():
        raise TinyLMError(f"checkpoint {path} does not exist")
    state = tinylm.load(path)
    try:
        config = GPTConfig(**json.loads(state["model_config"]))
        weights = state["model"]
        bad = [k for k, v in weights.items() if not np.isfinite(v.detach().numpy()).all()]
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as e:
        raise TinyLMError(f"{path} is not a tinylm GPT checkpoint ({e})") from None
    if bad:
        raise TinyLMError(
            f"{path}: {len(bad)} of {len(weights)} weights hold NaN or inf (first: {bad[0]}); "
            "the run that wrote it had diverged"
        )
    model = GPT(config)
    model.load_state_dict(weights)
    return model, state


def checkpoint_config(path: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` of the run that wrote the checkpoint at ``path`` (what
    ``tinylm train --resume`` starts from before applying its flags)."""
    path = Path(path)
    if not path.exists():
        raise TinyLMError(f"--resume: no checkpoint at {path}")
    state = tinylm.load(path)
    try:
        raw = json.loads(state["train_config"])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise TinyLMError(f"{path} is not a tinylm training checkpoint ({e})") from None
    return TrainConfig.from_dict(raw, f"the training config in {path}")


def tokenizer_from_checkpoint(state: dict[str, Any], tmp_dir: Path | None = None) -> Any:
    """The tokenizer saved in a checkpoint's state (read through a file in ``tmp_dir``, by
    default a temporary folder that is removed afterwards)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(tmp_dir) if tmp_dir is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        f = folder / "tokenizer.json"
        f.write_text(state["tokenizer"])
        return load_tokenizer(f)


def _plot_losses(history: dict[str, list], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    it, loss = zip(*history["train_step"]) if history["train_step"] else ((), ())
    ax.plot(it, loss, lw=0.6, alpha=0.5, label="training batch loss")
    if history["eval"]:
        ev_it = [e[0] for e in history["eval"]]
        ax.plot(ev_it, [e[1] for e in history["eval"]], "o-", label="train (eval)")
        ax.plot(ev_it, [e[2] for e in history["eval"]], "s-", label="validation")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy loss (nats/token)")
    ax.set_title("tinylm GPT training")
    ax.legend()
    ax.grid(alpha=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class _CtrlC:
    """What Ctrl-C (SIGINT) does during a run, so that the work of every completed step is
    saved whenever it comes.

    The first Ctrl-C asks the loop to stop after the current step; a second one abandons the
    step under way (its update not yet applied) at once. During the final evaluation and
    the sample (``with ctrl_c.immediate():``) the first one stops them at once. While an
    update or a checkpoint is being written (``with ctrl_c.held():``) it is only recorded,
    so the model is never saved half-updated and a save is never cut short.
    """

    def __init__(self) -> None:
        self.requested = False
        self._held = 0
        self._immediate = False
        self._previous: Any = None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():  # only it gets signals
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        again = self.requested
        self.requested = True
        if not self._held and (again or self._immediate):
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    @contextlib.contextmanager
    def immediate(self) -> Iterator[None]:
        self._immediate = True
        try:
            yield
        finally:
            self._immediate = False


def train(
    cfg: TrainConfig,
    resume: bool = False,
    stop_at: int | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train (or resume training) a GPT as described by ``cfg``.

    A new run refuses to replace an existing ``OUT_DIR/ckpt.npz`` unless ``overwrite``;
    ``resume`` continues it, and refuses a ``cfg`` whose model, tokenizer or seed differ
    from the checkpoint's. Everything is checked (config, device, output folder) before
    any data is read.

    The loss and the gradient norm are watched: if either becomes NaN or inf the run stops
    with :class:`TrainingDiverged` and saves nothing, so the last good checkpoint stays.

    ``stop_at`` stops after that iteration exactly as Ctrl-C would (checkpoint, no final
    evaluation); the schedule still follows ``cfg.max_iters``, so a resumed run continues
    the same curve.

    Returns a summary: final losses, iterations, tokens/s, the checkpoint path and a sample.
    Ctrl-C saves a checkpoint of the completed steps before returning
    (``summary["interrupted"]`` is True).
    """
    cfg.validate()  # again: fields may have been changed since the config was made
    if resume and overwrite:
        raise TinyLMError("resume and overwrite contradict each other; choose one")
    if cfg.device != "cpu" and not tinylm.cuda_is_available():
        raise TinyLMError(
            f"device {cfg.device!r} is not available: CuPy is not installed or sees no CUDA "
            "GPU (install the `gpu` extra on a machine with a GPU, or use --device cpu)"
        )
    tinylm.get_backend()  # a bad TINYLM_BACKEND is reported now, not at the first op
    previous_dtype = tinylm.get_default_dtype()
    tinylm.set_default_dtype(cfg.dtype)
    try:
        return _train(cfg, resume, stop_at, overwrite)
    finally:
        tinylm.set_default_dtype(previous_dtype)  # leave the caller's setting as it was


def _prepare_output(cfg: TrainConfig, ckpt: Path, resume: bool, overwrite: bool) -> None:
    """Fail now, not after the training, if the results cannot be written."""
    if ckpt.is_dir():
        raise TinyLMError(f"the checkpoint path {ckpt} is a folder")
    if resume and not ckpt.exists():
        raise TinyLMError(f"--resume: no checkpoint at {ckpt}")
    if not resume and not overwrite and ckpt.exists():
        raise TinyLMError(
            f"{ckpt} already exists; continue it with --resume, replace it with --overwrite, "
            "or choose another --out-dir"
        )
    if cfg.plot and Path(cfg.plot).is_dir():
        raise TinyLMError(f"plot: {cfg.plot} is a folder; give the figure's file name")
    folders = [("out_dir", Path(cfg.out_dir))]
    if cfg.plot:
        folders.append(("plot", Path(cfg.plot).parent))
    for name, folder in folders:
        if folder.exists() and not folder.is_dir():
            raise TinyLMError(f"{name}: {folder} is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise TinyLMError(f"{name}: cannot write in {folder}: {e.strerror or e}") from None


def _check_free_space(model: GPT, ckpt: Path) -> None:
    """A checkpoint holds the weights and Adam's two moments; refuse to start a run whose
    checkpoint cannot fit on the disk."""
    needed = 3 * sum(p.numel() * p.dtype.itemsize for p in model.parameters()) + 2**20
    free = shutil.disk_usage(ckpt.parent).free
    if free < needed:
        raise TinyLMError(
            f"out_dir {ckpt.parent} has {free / 2**20:.1f} MiB free; the checkpoint needs "
            f"about {needed / 2**20:.1f} MiB"
        )


def _check_resume(cfg: TrainConfig, ckpt: Path, state: dict[str, Any], start_iter: int) -> None:
    """A resumed run continues the checkpoint's model, tokenizer and random streams: a cfg
    that says otherwise contradicts it (and would be recorded wrongly in the next save)."""
    try:
        saved = TrainConfig.from_dict(json.loads(state["train_config"]), f"{ckpt}")
    except (KeyError, json.JSONDecodeError) as e:
        raise TinyLMError(f"{ckpt} is not a tinylm training checkpoint ({e})") from None
    mine, theirs = asdict(cfg.model), asdict(saved.model)
    names = [k for k in mine if k != "vocab_size" and mine[k] != theirs[k]]
    wrong = [f"{k}={mine[k]!r}" for k in names]
    kept = [f"{k}={theirs[k]!r}" for k in names]
    for k in RESUME_FIXED:
        if getattr(cfg, k) != getattr(saved, k):
            wrong.append(f"{k}={getattr(cfg, k)!r}")
            kept.append(f"{k}={getattr(saved, k)!r}")
    if wrong:
        raise TinyLMError(
            f"--resume: {', '.join(wrong)} contradict the checkpoint {ckpt} "
            f"({', '.join(kept)}); a resumed run keeps its checkpoint's model, tokenizer and "
            "seed (drop those settings, or start a new run)"
        )
    if start_iter >= cfg.max_iters:
        raise TinyLMError(
            f"--resume: the checkpoint {ckpt} is at iteration {start_iter} and max_iters is "
            f"{cfg.max_iters}: nothing to train (pass a larger --max-iters)"
        )


def _diverged(what: str, it: int, ckpt: Path, kept: int | None) -> TrainingDiverged:
    if kept is None:
        keeps = "nothing was saved"
    else:
        keeps = f"the checkpoint {ckpt} of iteration {kept} is kept"
    return TrainingDiverged(
        f"training diverged at iteration {it}: {what}; {keeps}. Lower --lr, or clip the "
        "gradients with --grad-clip"
    )


def _train(cfg: TrainConfig, resume: bool, stop_at: int | None, overwrite: bool) -> dict[str, Any]:
    if cfg.plot is not None and cfg.plot.lower() in ("", "none"):
        cfg = replace(cfg, plot=None)
    ckpt = checkpoint_path(cfg.out_dir)
    _prepare_output(cfg, ckpt, resume, overwrite)
    start_iter = 0
    history: dict[str, list] = {"train_step": [], "eval": []}
    if resume:
        model, state = load_checkpoint(ckpt)
        start_iter = int(state["iter"])
        _check_resume(cfg, ckpt, state, start_iter)
        dataset = _load_data(cfg, tokenizer=tokenizer_from_checkpoint(state))
        history = json.loads(state["history"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(state["batch_rng"])
        tinylm.default_generator.set_state(json.loads(state["tinylm_rng"]))
    else:
        dataset = _load_data(cfg)
        tinylm.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        model = GPT(replace(cfg.model, vocab_size=dataset.vocab_size))
    cfg = replace(cfg, model=model.config)  # what is saved is the model that is trained
    shortest = min(len(dataset.train), len(dataset.val))
    if shortest <= cfg.model.block_size:  # found now, not at the first evaluation
        raise TinyLMError(
            f"block_size={cfg.model.block_size} needs more than {cfg.model.block_size} tokens "
            f"in each split, but the {'train' if len(dataset.train) == shortest else 'val'} "
            f"split has {shortest} (use a smaller --block-size or more text)"
        )
    _check_free_space(model, ckpt)
    model = model.to(cfg.device)
    optimizer = model.configure_optimizers(cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    if resume:
        optimizer.load_state_dict(state["optimizer"])
    for group in optimizer.param_groups:
        group["initial_lr"] = cfg.lr  # the schedule's base, also when resuming
    # sets each step's lr, starting at the step the run starts from (last_epoch + 1)
    schedule = WarmupCosineLR(
        optimizer, cfg.warmup_iters, cfg.max_iters, cfg.min_lr, last_epoch=start_iter - 1
    )
    eval_rng = np.random.default_rng(cfg.seed + 1)
    if resume:
        eval_rng.bit_generator.state = json.loads(state["eval_rng"])
    # the iteration of the newest good checkpoint on disk, for the message if we diverge
    kept: int | None = start_iter if resume else None

    last_batch: tuple[np.ndarray, np.ndarray] | None = None  # the latest step's, for save()

    def save(it: int) -> None:
        """Save iteration ``it``, if the model's loss on the latest batch is finite: weights
        blown up to 1e30 are finite, yet no checkpoint to keep."""
        nonlocal kept
        if last_batch is not None:
            with tinylm.no_grad():
                model.eval()  # no dropout: the random streams stay those of the run
                _, loss = model(_to(last_batch[0], cfg), _to(last_batch[1], cfg))
                model.train()
            check_finite(f"the loss after iteration {it}", loss.item(), it)
        save_checkpoint(ckpt, model, optimizer, it, cfg, dataset, (rng, eval_rng), history)
        kept = it

    def check_finite(what: str, value: float, it: int) -> None:
        if not math.isfinite(value):
            raise _diverged(f"{what} is {value}", it, ckpt, kept)

    tokens_per_iter = cfg.batch_size * cfg.model.block_size
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf  # inf: measure, never clip
    it = start_iter
    from tqdm.auto import tqdm

    bar = tqdm(
        total=cfg.max_iters,
        initial=start_iter,
        disable=not cfg.progress,
        desc="train",
        unit="it",
        dynamic_ncols=True,
        file=sys.stderr,
    )
    with _CtrlC() as ctrl_c:
        # Everything alive now (libraries, model, data) lives for the whole run: freeze()
        # keeps the cycle collector from walking it all again every few dozen steps.
        gc.freeze()
        t0 = time.perf_counter()
        timed_iters = 0
        try:
            while it < cfg.max_iters and not ctrl_c.requested:
                # interruptible: until optimizer.step() the model is that of iteration `it`
                if it % cfg.eval_interval == 0:
                    losses = estimate_loss(model, dataset, cfg, eval_rng)
                    for split, value in losses.items():
                        check_finite(f"the {split} evaluation loss", value, it)
                    history["eval"].append([it, losses["train"], losses["val"]])
                    bar.write(
                        f"iter {it:5d}: train loss {losses['train']:.4f}, val {losses['val']:.4f}"
                    )
                x, y = dataset.batch("train", cfg.batch_size, cfg.model.block_size, rng)
                _, loss = model(_to(x, cfg), _to(y, cfg))
                loss_value = loss.item()
                check_finite("the loss", loss_value, it + 1)
                optimizer.zero_grad()
                loss.backward()
                grad_norm = tinylm.optim.clip_grad_norm_(model.parameters(), max_norm)
                check_finite("the gradient norm", grad_norm, it + 1)
                with ctrl_c.held():
                    optimizer.step()
                    schedule.step()
                    it += 1
                    timed_iters += 1
                    last_batch = (x, y)
                    history["train_step"].append([it, loss_value])
                    rate = timed_iters * tokens_per_iter / (time.perf_counter() - t0)
                    bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{rate:,.0f}")
                    bar.update(1)
                    if stop_at is not None and it >= stop_at:
                        ctrl_c.requested = True
                    if cfg.ckpt_interval and it % cfg.ckpt_interval == 0 and it < cfg.max_iters:
                        save(it)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: the step under way is dropped, the completed ones are saved
        finally:
            bar.close()
            gc.unfreeze()
        elapsed = time.perf_counter() - t0
        final: dict[str, float] = {}
        if not ctrl_c.requested:
            print(f"iter {it:5d}: final evaluation", flush=True)
            try:
                with ctrl_c.immediate():
                    final = estimate_loss(model, dataset, cfg, eval_rng)
            except KeyboardInterrupt:
                final = {}  # skipped; the trained model is saved all the same
        interrupted = ctrl_c.requested
        if interrupted:
            print(f"interrupted at iteration {it}: saving a checkpoint to {ckpt}", file=sys.stderr)
        if final:
            for split, value in final.items():
                check_finite(f"the final {split} evaluation loss", value, it)
            history["eval"].append([it, final["train"], final["val"]])
        with ctrl_c.held():
            save(it)
        if cfg.plot:
            _plot_losses(history, cfg.plot)
        sample = ""
        if cfg.sample_tokens and not interrupted:
            prompt_ids = dataset.tokenizer.encode(cfg.prompt) or [0]
            try:
                with ctrl_c.immediate():
                    out = model.generate(
                        np.array([prompt_ids]), cfg.sample_tokens, temperature=0.8, top_k=20
                    )
                sample = dataset.tokenizer.decode(out.numpy()[0].tolist())
            except KeyboardInterrupt:
                interrupted = True  # the checkpoint is saved; only the sample is skipped
    return {
        "iters": it,
        "train_loss": final.get("train"),
        "val_loss": final.get("val"),
        "ms_per_iter": 1000 * elapsed / max(1, timed_iters),
        "tokens_per_s": timed_iters * tokens_per_iter / max(elapsed, 1e-9),
        "checkpoint": str(ckpt),
        "plot": cfg.plot,
        "sample": sample,
        "interrupted": interrupted,
        "history": history,
    }
