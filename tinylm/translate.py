"""Train an English → French encoder-decoder and translate with it: ``tinylm translate``.

    tinylm translate train                      # a few minutes on 2 cores; out/translate/ckpt.npz
    tinylm translate text "Translate English to French: I love you" "Hello, world!"
    tinylm translate eval --beams 4             # held-out exact match and token accuracy

The data is :mod:`tinylm.data.translation` (numbers 1–999 in words, in sentences, and short
phrases; held-out numbers and phrases never trained on), the model
:class:`tinylm.models.seq2seq.Seq2Seq`. The loop is ``tinylm train``'s: AdamW with a
warm-up-cosine schedule, gradient clipping, periodic evaluation, a progress bar with the loss
and tokens/s, a loss plot, checkpoints that resume (Ctrl-C saves one first), and no training
over an existing checkpoint unless asked to.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

import tinylm
import tinylm.nn.functional as F
import tinylm.optim
from tinylm.autograd import TinyLMError
from tinylm.data.translation import (
    TranslationTask,
    Vocabulary,
    make_translation_task,
    pad_sequences,
    strip_task_prefix,
)
from tinylm.models.seq2seq import Seq2Seq, Seq2SeqConfig
from tinylm.optim.lr_scheduler import WarmupCosineLR

__all__ = [
    "TINY_SETTINGS",
    "TranslateConfig",
    "Translator",
    "add_subcommand",
    "cached_translator",
    "run_subcommand",
    "train_translator",
]

#: the model's fields that the data decides, never flags
_FROM_DATA = ("src_vocab_size", "tgt_vocab_size", "max_src_len", "max_tgt_len")
_SPECIALS = ("pad_id", "bos_id", "eos_id")


@dataclass
class TranslateConfig:
    """Everything that defines a translation run (the flags of ``tinylm translate train``).

    ``model`` is the :class:`Seq2SeqConfig`; its vocabulary sizes and lengths are set from
    the data. The defaults reach ≥ 95 % exact match on the held-out numbers in a few minutes
    on two CPU cores (lesson 11 states the figures).
    """

    model: Seq2SeqConfig = field(
        default_factory=lambda: Seq2SeqConfig(n_encoder_layer=2, n_decoder_layer=2, n_embd=64)
    )
    data_seed: int = 0  # which numbers are held out
    held_out_fraction: float = 0.1
    phrase_repeats: int = 8
    batch_size: int = 64
    max_iters: int = 600
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_interval: int = 100
    ckpt_interval: int = 200
    out_dir: str = "out/translate"
    plot: str | None = "plots/translate_loss.png"  # "none" for no plot
    seed: int = 1337  # the initial weights and the batches
    dtype: str = "float32"
    progress: bool = True

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> TranslateConfig:
        """A config from field names; the model's may sit under ``"model"`` or at the top."""
        model_fields = {f.name for f in fields(Seq2SeqConfig)} - set(_FROM_DATA) - set(_SPECIALS)
        run_fields = {f.name for f in fields(cls)} - {"model"}
        unknown = sorted(set(raw) - model_fields - run_fields - {"model"})
        if unknown:
            raise TinyLMError(f"{source}: unknown keys {unknown}")
        model = asdict(cls().model)
        model.update(raw.get("model") or {})
        model.update({k: v for k, v in raw.items() if k in model_fields})
        try:
            return cls(model=Seq2SeqConfig(**model), **{k: raw[k] for k in raw if k in run_fields})
        except TypeError as e:
            raise TinyLMError(f"{source}: {e}") from None


# ---------------------------------------------------------------------------------------
# A trained model with its vocabularies
# ---------------------------------------------------------------------------------------


class Translator:
    """A :class:`Seq2Seq` with its source and target vocabularies: text in, text out.

    ``config``: the :class:`TranslateConfig` it was trained with (None when unknown).
    """

    def __init__(
        self,
        model: Seq2Seq,
        source_vocab: Vocabulary,
        target_vocab: Vocabulary,
        config: TranslateConfig | None = None,
    ) -> None:
        self.model, self.source_vocab, self.target_vocab = model, source_vocab, target_vocab
        self.config = config

    def encode_sources(self, sentences: list[str]) -> np.ndarray:
        """Sentences (T5's "Translate English to French: " prefix allowed) → (B, S) ids."""
        ids = [self.source_vocab.encode(strip_task_prefix(s), eos=True) for s in sentences]
        longest = max(len(i) for i in ids)
        if longest > self.model.config.max_src_len:
            raise TinyLMError(
                f"a sentence of {longest - 1} words is longer than this model's "
                f"{self.model.config.max_src_len - 1}-word limit"
            )
        return pad_sequences(ids, Vocabulary.pad_id)

    def generate(
        self, sentences: list[str], num_beams: int = 1, length_penalty: float = 1.0, **kw: Any
    ) -> np.ndarray:
        """The generated id rows, (B, L): <bos> y … <eos> <pad> …"""
        src = self.encode_sources(sentences)
        out = self.model.generate(src, num_beams=num_beams, length_penalty=length_penalty, **kw)
        return out.numpy()

    def translate(
        self, sentences: str | list[str], num_beams: int = 1, length_penalty: float = 1.0
    ) -> str | list[str]:
        """English → French, greedy (``num_beams=1``) or by beam search; one string in, one
        out."""
        one = isinstance(sentences, str)
        rows = self.generate([sentences] if one else list(sentences), num_beams, length_penalty)
        out = [self.target_vocab.decode(r) for r in rows]
        return out[0] if one else out

    @tinylm.no_grad()
    def evaluate(
        self,
        pairs: list[tuple[str, str]],
        num_beams: int = 1,
        length_penalty: float = 1.0,
        batch_size: int = 256,
    ) -> dict[str, Any]:
        """How well the model translates ``pairs`` (English, French):

        * ``exact_match``: the fraction translated exactly, decoding freely (each step reads
          the model's own previous tokens);
        * ``token_accuracy``: with teacher forcing (each step reads the true prefix), the
          fraction of target tokens, <eos> included, that are the argmax;
        * ``loss``: the teacher-forced cross-entropy per target token (nats);
        * ``translations``: (English, model output, reference) for every pair.
        """
        task = TranslationTask([], {}, [], self.source_vocab, self.target_vocab)
        was_training = self.model.training
        self.model.eval()
        exact, correct, tokens, nll, translations = 0, 0, 0, 0.0, []
        try:
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start : start + batch_size]
                src, tgt_in, tgt_out = task.encode(chunk)
                logits, _ = self.model(src, tgt_in)
                real = tgt_out != Vocabulary.pad_id
                logp = F.log_softmax(logits, dim=-1).detach().numpy().astype(np.float64)
                picked = np.take_along_axis(logp, tgt_out[..., None], axis=-1)[..., 0]
                nll -= float(picked[real].sum())
                correct += int((logp.argmax(-1) == tgt_out)[real].sum())
                tokens += int(real.sum())
                hyps = self.translate([en for en, _ in chunk], num_beams, length_penalty)
                for (en, fr), hyp in zip(chunk, hyps):
                    exact += hyp == fr
                    translations.append((en, hyp, fr))
        finally:
            self.model.train(was_training)
        n = max(len(pairs), 1)
        return {
            "exact_match": exact / n,
            "token_accuracy": correct / max(tokens, 1),
            "loss": nll / max(tokens, 1),
            "translations": translations,
        }

    @classmethod
    def load(cls, path: str | Path) -> Translator:
        """A translator from a checkpoint written by ``tinylm translate train``."""
        model, state = load_checkpoint(path)
        return cls(
            model,
            Vocabulary.from_json(state["source_vocab"]),
            Vocabulary.from_json(state["target_vocab"]),
            TranslateConfig.from_dict(json.loads(state["translate_config"]), str(path)),
        )


def load_checkpoint(path: str | Path) -> tuple[Seq2Seq, dict[str, Any]]:
    """(model, the raw state) from a checkpoint of ``tinylm translate train``."""
    path = Path(path)
    if not path.exists():
        raise TinyLMError(
            f"checkpoint {path} does not exist (train one with `tinylm translate train`)"
        )
    state = tinylm.load(path)
    try:
        config = Seq2SeqConfig(**json.loads(state["model_config"]))
        model = Seq2Seq(config)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError) as e:
        raise TinyLMError(f"{path} is not a tinylm translation checkpoint ({e})") from None
    return model, state


#: A model small enough to train in seconds (the fast mode of lesson 11 and the examples):
#: it gets most held-out numbers right, and not yet the phrases.
TINY_SETTINGS: dict[str, Any] = dict(
    n_embd=32, n_head=2, n_encoder_layer=1, n_decoder_layer=1, batch_size=32, lr=5e-3,
    min_lr=5e-4, warmup_iters=10, max_iters=250, eval_interval=50, plot=None,
)  # fmt: skip


def cached_translator(progress: bool = True) -> tuple[Translator, bool]:
    """The translator that ``TranslateConfig()`` trains, kept in
    ``tinylm.environment.cache_dir() / "translate" / "ckpt.npz"`` (never in the repository):
    trained there the first time (a few minutes), loaded afterwards.

    Returns (translator, whether it was loaded from the cache).
    """
    from tinylm.environment import cache_dir

    folder = cache_dir() / "translate"
    path = folder / "ckpt.npz"
    if path.exists():
        return Translator.load(path), True
    cfg = replace(TranslateConfig(), out_dir=str(folder), plot=None, progress=progress)
    return train_translator(cfg)["translator"], False


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------


def _task(cfg: TranslateConfig) -> TranslationTask:
    return make_translation_task(
        cfg.data_seed, cfg.held_out_fraction, cfg.phrase_repeats, cfg.model.share_embeddings
    )


def _save(path: Path, translator: Translator, optimizer: Any, it: int, cfg: TranslateConfig,
          rng: np.random.Generator, history: dict[str, list]) -> None:  # fmt: skip
    """Everything needed to resume or to translate, written atomically (no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": translator.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "iter": it,
        "model_config": json.dumps(translator.model.config.to_dict()),
        "translate_config": json.dumps(asdict(cfg)),
        "source_vocab": translator.source_vocab.to_json(),
        "target_vocab": translator.target_vocab.to_json(),
        "batch_rng": json.dumps(rng.bit_generator.state),
        "tinylm_rng": json.dumps(tinylm.default_generator.get_state()),
        "history": json.dumps(history),
    }
    tinylm.save(state, path)


def plot_history(history: dict[str, list], path: str | Path) -> None:
    """The learning curve: each batch's loss and the evaluations (train, held-out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if history["train_step"]:
        it, loss = zip(*history["train_step"])
        ax.plot(it, loss, lw=0.6, alpha=0.5, label="training batch loss")
    if history["eval"]:
        ev = np.array(history["eval"])
        ax.plot(ev[:, 0], ev[:, 1], "o-", label="train pairs (eval)")
        ax.plot(ev[:, 0], ev[:, 2], "s-", label="held-out pairs")
    ax.set(xlabel="iteration", ylabel="cross-entropy (nats/target token)", yscale="log",
           title="tinylm encoder-decoder, English → French")  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_translator(
    cfg: TranslateConfig,
    resume: bool = False,
    overwrite: bool = False,
    stop_at: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) an encoder-decoder on :mod:`tinylm.data.translation` as ``cfg``
    says, and evaluate it on the held-out pairs.

    An existing ``out_dir/ckpt.npz`` is continued with ``resume``, replaced with
    ``overwrite``, and otherwise an error (a finished run is never lost by accident).
    ``stop_at`` stops after that iteration as Ctrl-C would (checkpoint, no evaluation).

    Returns a summary: iterations, losses, held-out exact match and token accuracy per split
    (greedy), seconds, tokens/s, the checkpoint and plot paths, the history and the
    :class:`Translator`. ``summary["interrupted"]`` is True after Ctrl-C.
    """
    previous_dtype = tinylm.get_default_dtype()
    tinylm.set_default_dtype(cfg.dtype)
    try:
        return _train(cfg, resume, overwrite, stop_at)
    finally:
        tinylm.set_default_dtype(previous_dtype)


def _train(
    cfg: TranslateConfig, resume: bool, overwrite: bool, stop_at: int | None
) -> dict[str, Any]:
    if cfg.plot is not None and cfg.plot.lower() in ("", "none"):
        cfg = replace(cfg, plot=None)
    ckpt = Path(cfg.out_dir) / "ckpt.npz"
    if ckpt.exists() and not (resume or overwrite):
        raise TinyLMError(
            f"{ckpt} exists: continue it with --resume, replace it with --overwrite, or "
            "choose another --out-dir"
        )
    task = _task(cfg)
    history: dict[str, list] = {"train_step": [], "eval": []}
    start_iter = 0
    if resume:
        if not ckpt.exists():
            raise TinyLMError(f"--resume: no checkpoint at {ckpt}")
        model, state = load_checkpoint(ckpt)
        start_iter, history = int(state["iter"]), json.loads(state["history"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(state["batch_rng"])
        tinylm.default_generator.set_state(json.loads(state["tinylm_rng"]))
    else:
        tinylm.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        src_len, tgt_len = task.max_lengths()
        sizes = dict(src_vocab_size=len(task.source_vocab), tgt_vocab_size=len(task.target_vocab))
        model = Seq2Seq(replace(cfg.model, **sizes, max_src_len=src_len, max_tgt_len=tgt_len))
    translator = Translator(model, task.source_vocab, task.target_vocab, cfg)
    optimizer = model.configure_optimizers(cfg.lr, cfg.weight_decay)
    if resume:
        optimizer.load_state_dict(state["optimizer"])
    for group in optimizer.param_groups:
        group["initial_lr"] = cfg.lr
    schedule = WarmupCosineLR(
        optimizer, cfg.warmup_iters, cfg.max_iters, cfg.min_lr, last_epoch=start_iter - 1
    )
    # fixed evaluation sets: 512 training pairs and every held-out pair
    train_sample = [task.train[i] for i in np.random.default_rng(cfg.seed + 1).permutation(
        len(task.train))[:512]]  # fmt: skip
    held_out = [p for split in task.held_out.values() for p in split]

    def eval_losses() -> tuple[float, float]:
        return tuple(_teacher_forced_loss(translator, pairs) for pairs in (train_sample, held_out))

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.max_iters, initial=start_iter, disable=not cfg.progress,
               desc="translate", unit="it", dynamic_ncols=True, file=sys.stderr)  # fmt: skip
    stop = {"requested": False}

    def request_stop(signum: int, frame: Any) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True

    previous_handler = signal.signal(signal.SIGINT, request_stop)
    it, seen_tokens, t0 = start_iter, 0, time.perf_counter()
    try:
        while it < cfg.max_iters and not stop["requested"]:
            if it % cfg.eval_interval == 0:
                history["eval"].append([it, *eval_losses()])
                bar.write(f"iter {it:5d}: train loss {history['eval'][-1][1]:.4f}, "
                          f"held-out {history['eval'][-1][2]:.4f}")  # fmt: skip
            src, tgt_in, tgt_out = task.batch(cfg.batch_size, rng)
            _, loss = model(src, tgt_in, tgt_out)
            loss_value = loss.item()
            if not np.isfinite(loss_value):
                raise TinyLMError(
                    f"training diverged: the loss is {loss_value} at iteration {it + 1}; "
                    f"{ckpt} keeps the last saved state; try a smaller --lr"
                )
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_clip > 0:
                tinylm.optim.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            schedule.step()
            it += 1
            seen_tokens += int((src != 0).sum() + (tgt_out != 0).sum())
            history["train_step"].append([it, loss_value])
            rate = seen_tokens / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{rate:,.0f}")
            bar.update(1)
            if stop_at is not None and it >= stop_at:
                stop["requested"] = True
            if cfg.ckpt_interval and it % cfg.ckpt_interval == 0 and it < cfg.max_iters:
                _save(ckpt, translator, optimizer, it, cfg, rng, history)
    finally:
        bar.close()
        signal.signal(signal.SIGINT, previous_handler)
    seconds = time.perf_counter() - t0
    interrupted = stop["requested"]
    if interrupted:
        print(f"interrupted at iteration {it}: saving a checkpoint to {ckpt}", file=sys.stderr)
    else:
        history["eval"].append([it, *eval_losses()])
    _save(ckpt, translator, optimizer, it, cfg, rng, history)
    if cfg.plot:
        plot_history(history, cfg.plot)
    scores = {} if interrupted else {
        name: translator.evaluate(pairs) for name, pairs in task.held_out.items()
    }  # fmt: skip
    return {
        "iters": it,
        "train_loss": history["eval"][-1][1] if history["eval"] else None,
        "held_out_loss": history["eval"][-1][2] if history["eval"] else None,
        "held_out": scores,
        "seconds": seconds,
        "tokens_per_s": seen_tokens / max(seconds, 1e-9),
        "checkpoint": str(ckpt),
        "plot": cfg.plot,
        "interrupted": interrupted,
        "history": history,
        "translator": translator,
    }


@tinylm.no_grad()
def _teacher_forced_loss(translator: Translator, pairs: list[tuple[str, str]]) -> float:
    model = translator.model
    was_training = model.training
    model.eval()
    task = TranslationTask([], {}, [], translator.source_vocab, translator.target_vocab)
    _, loss = model(*task.encode(pairs))
    model.train(was_training)
    return loss.item()


# ---------------------------------------------------------------------------------------
# `tinylm translate ...`
# ---------------------------------------------------------------------------------------


def _flags() -> list[tuple[str, Any, bool]]:
    """(field, default, is a model field) for each flag of ``tinylm translate train``."""
    default = TranslateConfig()
    skip = set(_FROM_DATA) | set(_SPECIALS)
    flags = [(f.name, getattr(default.model, f.name), True)
             for f in fields(Seq2SeqConfig) if f.name not in skip]  # fmt: skip
    flags += [(f.name, getattr(default, f.name), False) for f in fields(TranslateConfig)]
    return [flag for flag in flags if flag[0] != "model"]


def add_subcommand(sub: Any) -> None:
    """Register ``tinylm translate`` (train / text / eval) on the CLI's subparsers."""
    p = sub.add_parser(
        "translate",
        help="an English → French encoder-decoder: train it, translate, evaluate",
        description="An encoder-decoder transformer trained on English → French numbers "
        "(1–999) and phrases made by tinylm.data.translation.",
    )
    actions = p.add_subparsers(dest="action", required=True, parser_class=type(p))
    train = actions.add_parser("train", help="train a model (defaults: a few minutes on 2 cores)")
    train.add_argument("--config", help="JSON file with settings (flags win)")
    train.add_argument("--resume", action="store_true", help="continue OUT_DIR/ckpt.npz")
    train.add_argument("--overwrite", action="store_true", help="replace OUT_DIR/ckpt.npz")
    for name, value, _ in _flags():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            train.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction)
        else:
            kind = type(value) if value is not None else str
            train.add_argument(flag, dest=name, type=kind, help=f"default: {value}")
    for action, help_text in (("text", "translate sentences"), ("eval", "held-out accuracy")):
        q = actions.add_parser(action, help=help_text)
        if action == "text":
            q.add_argument("sentences", nargs="+", help='e.g. "I love you" (quotes!)')
        q.add_argument("--ckpt", default="out/translate/ckpt.npz")
        q.add_argument("--beams", type=int, default=1, help="1 = greedy; K > 1: beam search")
        q.add_argument("--length-penalty", type=float, default=1.0)


def run_subcommand(args: argparse.Namespace) -> int:
    """Run ``tinylm translate ACTION``; returns the exit status."""
    if args.action == "train":
        return _cmd_train(args)
    translator = Translator.load(args.ckpt)
    if args.action == "text":
        for sentence in args.sentences:
            print(translator.translate(sentence, args.beams, args.length_penalty))
        return 0
    for name, pairs in _task(translator.config).held_out.items():
        r = translator.evaluate(pairs, args.beams, args.length_penalty)
        print(f"held-out {name}: exact match {r['exact_match']:.1%}, token accuracy "
              f"{r['token_accuracy']:.1%} ({len(pairs)} pairs)")  # fmt: skip
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    raw: dict[str, Any] = {}
    if args.config:
        try:
            raw = json.loads(Path(args.config).read_text())
        except FileNotFoundError:
            raise TinyLMError(f"config file {args.config} does not exist") from None
        if not isinstance(raw, dict):
            raise TinyLMError(f"config file {args.config}: expected a JSON object of settings")
    raw.update({n: getattr(args, n) for n, _, _ in _flags() if getattr(args, n) is not None})
    cfg = TranslateConfig.from_dict(raw, f"config file {args.config}" if args.config else "flags")
    summary = train_translator(cfg, resume=args.resume, overwrite=args.overwrite)
    if summary["interrupted"]:
        print(f"checkpoint saved to {summary['checkpoint']}; continue with --resume")
        return 130
    print(f"done: {summary['iters']} iterations in {summary['seconds']:.0f} s "
          f"({summary['tokens_per_s']:,.0f} tokens/s), train loss {summary['train_loss']:.4f}, "
          f"held-out loss {summary['held_out_loss']:.4f}")  # fmt: skip
    for name, r in summary["held_out"].items():
        print(f"held-out {name}: exact match {r['exact_match']:.1%}, token accuracy "
              f"{r['token_accuracy']:.1%}")  # fmt: skip
    print(f"checkpoint: {summary['checkpoint']}"
          + (f"   loss curve: {summary['plot']}" if summary["plot"] else ""))  # fmt: skip
    translator = summary["translator"]
    for sentence in ("Translate English to French: I love you", "Hello, world!"):
        print(f"{sentence} → {translator.translate(sentence)}")
    return 0
