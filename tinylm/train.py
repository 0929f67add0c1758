"""Train a GPT on a text file: the loop behind ``tinylm train``.

The loop is the one the course derives (lesson 09): prepare the data → embed tokens and
positions → attention blocks → forward → loss → backpropagation →
parameter update, repeated; plus what a real run needs: evaluation on held-out text, a
learning-rate schedule, gradient clipping, checkpoints that can be resumed, a progress bar,
and a loss curve.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

import tinylm
import tinylm.optim
from tinylm.autograd import TinyLMError
from tinylm.data import TextDataset, load_default_corpus, load_text, load_tokenizer
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.optim.lr_scheduler import WarmupCosineLR

__all__ = ["TrainConfig", "estimate_loss", "load_checkpoint", "train"]


@dataclass
class TrainConfig:
    """Everything that defines a training run (the flags of ``tinylm train``).

    ``model`` is the GPT's own :class:`~tinylm.models.gpt.GPTConfig` (its ``vocab_size`` is
    set from the tokenizer when the data is loaded); the other fields are the run's. The
    defaults train a small character-level GPT on the built-in corpus in a few minutes on
    two CPU cores.
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
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    ckpt_interval: int = 500
    out_dir: str = "out"
    plot: str | None = "plots/train_loss.png"  # "none" for no plot
    seed: int = 1337
    dtype: str = "float32"
    device: str = "cpu"
    sample_tokens: int = 300
    prompt: str = "\n"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> TrainConfig:
        """A config from a dict of field names; the model's fields may sit under ``"model"``
        or at the top level, as the command-line flags do (``{"n_layer": 2, "lr": 3e-3}``)."""
        model_fields = {f.name for f in fields(GPTConfig)}
        run_fields = {f.name for f in fields(cls)} - {"model"}
        unknown = sorted(set(raw) - model_fields - run_fields - {"model"})
        if unknown:
            raise TinyLMError(f"{source}: unknown keys {unknown}")
        model = dict(raw.get("model") or {})
        model.update({k: v for k, v in raw.items() if k in model_fields})
        run = {k: v for k, v in raw.items() if k in run_fields}
        return cls(model=GPTConfig(**model), **run)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read a config file (a JSON object; see :meth:`from_dict`)."""
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise TinyLMError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise TinyLMError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise TinyLMError(f"config file {path}: expected a JSON object of settings")
        return cls.from_dict(raw, f"config file {path}")


@tinylm.no_grad()
def estimate_loss(
    model: GPT, dataset: TextDataset, cfg: TrainConfig, rng: np.random.Generator
) -> dict[str, float]:
    """Mean loss over ``eval_iters`` random batches of each split (model in eval mode)."""
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = []
        for _ in range(cfg.eval_iters):
            x, y = dataset.batch(split, cfg.batch_size, cfg.model.block_size, rng)
            _, loss = model(_to(x, cfg), _to(y, cfg))
            losses.append(loss.item())
        out[split] = float(np.mean(losses))
    model.train()
    return out


def _to(batch: np.ndarray, cfg: TrainConfig) -> tinylm.Tensor:
    return tinylm.tensor(batch, device=cfg.device)


def _load_data(cfg: TrainConfig, tokenizer: Any = None) -> TextDataset:
    text = load_text(cfg.data) if cfg.data else load_default_corpus()
    if tokenizer is not None:
        return TextDataset.from_text(text, tokenizer=tokenizer)
    return TextDataset.from_text(text, tokenizer=cfg.tokenizer, vocab_size=cfg.bpe_vocab_size)


def _checkpoint_path(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir) / "ckpt.npz"


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
    """Write everything needed to resume or to generate (atomically, no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer_file = path.with_suffix(".tokenizer.json")
    dataset.tokenizer.save(tokenizer_file)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
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


def load_checkpoint(path: str | Path) -> tuple[GPT, dict[str, Any]]:
    """Load a checkpoint written by ``tinylm train``: returns (model, the raw state)."""
    path = Path(path)
    if not path.exists():
        raise TinyLMError(f"checkpoint {path} does not exist")
    state = tinylm.load(path)
    try:
        config = GPTConfig(**json.loads(state["model_config"]))
    except (KeyError, TypeError) as e:
        raise TinyLMError(f"{path} is not a tinylm GPT checkpoint ({e})") from None
    model = GPT(config)
    model.load_state_dict(state["model"])
    return model, state


def tokenizer_from_checkpoint(state: dict[str, Any], tmp_dir: Path) -> Any:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    f = tmp_dir / "tokenizer.json"
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


def train(cfg: TrainConfig, resume: bool = False, stop_at: int | None = None) -> dict[str, Any]:
    """Train (or resume training) a GPT as described by ``cfg``.

    ``stop_at`` stops after that iteration exactly as Ctrl-C would (checkpoint, no final
    evaluation); the schedule still follows ``cfg.max_iters``, so a resumed run continues
    the same curve.

    Returns a summary: final losses, iterations, tokens/s, the checkpoint path and a sample.
    Ctrl-C saves a checkpoint before returning (``summary["interrupted"]`` is True).
    """
    previous_dtype = tinylm.get_default_dtype()
    tinylm.set_default_dtype(cfg.dtype)
    try:
        return _train(cfg, resume, stop_at)
    finally:
        tinylm.set_default_dtype(previous_dtype)  # leave the caller's setting as it was


def _train(cfg: TrainConfig, resume: bool, stop_at: int | None) -> dict[str, Any]:
    if cfg.plot is not None and cfg.plot.lower() in ("", "none"):
        cfg = replace(cfg, plot=None)
    ckpt = _checkpoint_path(cfg)
    start_iter = 0
    history: dict[str, list] = {"train_step": [], "eval": []}
    if resume:
        if not ckpt.exists():
            raise TinyLMError(f"--resume: no checkpoint at {ckpt}")
        model, state = load_checkpoint(ckpt)
        tokenizer = tokenizer_from_checkpoint(state, Path(cfg.out_dir))
        dataset = _load_data(cfg, tokenizer=tokenizer)
        start_iter = int(state["iter"])
        history = json.loads(state["history"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(state["batch_rng"])
        tinylm.default_generator.set_state(json.loads(state["tinylm_rng"]))
    else:
        dataset = _load_data(cfg)
        tinylm.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        model = GPT(replace(cfg.model, vocab_size=dataset.vocab_size))
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

    tokens_per_iter = cfg.batch_size * cfg.model.block_size
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
    # Ctrl-C sets a flag that the loop checks after each complete step, so the checkpoint
    # never holds a half-updated model. A second Ctrl-C interrupts at once.
    stop = {"requested": False}

    def request_stop(signum: int, frame: Any) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True

    previous_handler = signal.signal(signal.SIGINT, request_stop)
    # Everything alive now (libraries, model, data) lives for the whole run: freeze() keeps
    # the cycle collector from walking it all again every few dozen steps.
    gc.freeze()
    t0 = time.perf_counter()
    timed_iters = 0
    try:
        while it < cfg.max_iters and not stop["requested"]:
            if it % cfg.eval_interval == 0:
                losses = estimate_loss(model, dataset, cfg, eval_rng)
                history["eval"].append([it, losses["train"], losses["val"]])
                bar.write(
                    f"iter {it:5d}: train loss {losses['train']:.4f}, val {losses['val']:.4f}"
                )
            x, y = dataset.batch("train", cfg.batch_size, cfg.model.block_size, rng)
            _, loss = model(_to(x, cfg), _to(y, cfg))
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_clip > 0:
                tinylm.optim.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            schedule.step()
            it += 1
            timed_iters += 1
            loss_value = loss.item()
            history["train_step"].append([it, loss_value])
            rate = timed_iters * tokens_per_iter / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{rate:,.0f}")
            bar.update(1)
            if stop_at is not None and it >= stop_at:
                stop["requested"] = True
            if cfg.ckpt_interval and it % cfg.ckpt_interval == 0 and it < cfg.max_iters:
                save_checkpoint(ckpt, model, optimizer, it, cfg, dataset, (rng, eval_rng), history)
    finally:
        bar.close()
        signal.signal(signal.SIGINT, previous_handler)
        gc.unfreeze()
    interrupted = stop["requested"]
    if interrupted:
        print(f"interrupted at iteration {it}: saving a checkpoint to {ckpt}", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    final = estimate_loss(model, dataset, cfg, eval_rng) if not interrupted else {}
    if final:
        history["eval"].append([it, final["train"], final["val"]])
    save_checkpoint(ckpt, model, optimizer, it, cfg, dataset, (rng, eval_rng), history)
    if cfg.plot:
        _plot_losses(history, cfg.plot)
    sample = ""
    if cfg.sample_tokens and not interrupted:
        prompt_ids = dataset.tokenizer.encode(cfg.prompt) or [0]
        out = model.generate(np.array([prompt_ids]), cfg.sample_tokens, temperature=0.8, top_k=20)
        sample = dataset.tokenizer.decode(out.numpy()[0].tolist())
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
