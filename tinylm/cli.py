"""The ``tinylm`` command line: train, generate, bench, info, data, lessons.

    tinylm train                       # a small GPT on the built-in corpus, then a sample
    tinylm train --data input.txt --max-iters 2000
    tinylm generate --ckpt out/ckpt.npz --prompt "ROMEO:" --max-new-tokens 200
    tinylm bench kernels | tinylm bench gpt --iters 50
    tinylm info
    tinylm data download shakespeare
    tinylm lessons                     # list; `tinylm lessons run 03` runs one
    tinylm translate train | tinylm translate text "I love you"   (tinylm/translate.py)

Errors in flags or files print one line (``tinylm: error: ...``) and exit with status 2;
Ctrl-C exits with status 130 (``tinylm train`` saves its completed steps first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"tinylm: error: {message} (see `{self.prog} --help`)\n")


def _train_flags() -> list[tuple[str, Any, bool]]:
    """(field, default, is a model field) for every flag of ``tinylm train``: the model's
    fields (GPTConfig's, but vocab_size, which the tokenizer decides), then the run's."""
    from tinylm.models.gpt import GPTConfig
    from tinylm.train import TrainConfig

    model, run = GPTConfig(), TrainConfig()
    flags = [(f.name, getattr(model, f.name), True) for f in dataclasses.fields(GPTConfig)]
    flags += [(f.name, getattr(run, f.name), False) for f in dataclasses.fields(TrainConfig)]
    return [flag for flag in flags if flag[0] not in ("vocab_size", "model", "extra")]


def _add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a GPT (defaults: small model, built-in corpus, a few minutes on 2 cores)",
        description="Train a GPT language model and print a sample. Every field of the "
        "training config is a flag; --config FILE reads them from JSON (flags win).",
    )
    p.add_argument("--config", help="JSON file with training settings")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT_DIR/ckpt.npz, with its settings (flags may change the run's, "
        "not the model's)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_DIR/ckpt.npz")
    for name, value, _ in _train_flags():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = type(value) if value is not None else str
            p.add_argument(flag, dest=name, type=kind, default=None, help=f"default: {value}")


def _train_config(args: argparse.Namespace) -> Any:
    """The run's TrainConfig: the defaults (with --resume: the checkpoint's own config), then
    the --config file's settings, then the flags given."""
    from tinylm.train import TrainConfig, checkpoint_config, checkpoint_path

    flags = {n: getattr(args, n) for n, _, _ in _train_flags() if getattr(args, n) is not None}
    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    if args.resume:
        # the run continues where its checkpoint is now, wherever it was first written
        flags.setdefault("out_dir", cfg.out_dir)
        base = checkpoint_config(checkpoint_path(flags["out_dir"]))
        cfg = TrainConfig.from_json(args.config, base=base) if args.config else base
    return TrainConfig.from_dict(flags, source=_FLAGS, base=cfg)


def _cmd_train(args: argparse.Namespace) -> int:
    from tinylm.train import train

    cfg = _train_config(args)
    summary = train(cfg, resume=args.resume, overwrite=args.overwrite)
    if summary["interrupted"]:
        if summary["iters"] < cfg.max_iters:
            print(
                f"checkpoint saved to {summary['checkpoint']} at iteration {summary['iters']}; "
                "continue with --resume"
            )
        else:
            print(
                f"checkpoint saved to {summary['checkpoint']}: all {summary['iters']} "
                "iterations done; the final evaluation or the sample was skipped"
            )
        return 130
    print(
        f"done: {summary['iters']} iterations, train loss {summary['train_loss']:.4f}, "
        f"val loss {summary['val_loss']:.4f}, {summary['ms_per_iter']:.1f} ms/iter, "
        f"{summary['tokens_per_s']:,.0f} tokens/s"
    )
    print(
        f"checkpoint: {summary['checkpoint']}" + (f"   loss curve: {cfg.plot}" if cfg.plot else "")
    )
    if summary["sample"]:
        print("---- sample ----")
        print(summary["sample"])
    return 0


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="generate text from a checkpoint")
    p.add_argument("--ckpt", default="out/ckpt.npz", help="checkpoint written by tinylm train")
    p.add_argument("--prompt", default="\n")
    p.add_argument("--max-new-tokens", type=int, default=300)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--greedy", action="store_true", help="always take the most probable token")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="recompute the prefix every token")
    p.add_argument(
        "--int8",
        action="store_true",
        help="quantise the weights to int8 first (tinylm.quantize_int8)",
    )


def _cmd_generate(args: argparse.Namespace) -> int:
    import numpy as np

    import tinylm
    from tinylm.checks import check_int
    from tinylm.train import load_checkpoint, tokenizer_from_checkpoint

    seed = check_int(_FLAGS, "seed", args.seed, minimum=0)
    model, state = load_checkpoint(args.ckpt)
    if args.int8:
        tinylm.quantize_int8(model)
    tokenizer = tokenizer_from_checkpoint(state)
    ids = tokenizer.encode(args.prompt)
    if not ids:
        raise ValueError("the prompt is empty after tokenization")
    tinylm.manual_seed(seed)
    out = model.generate(
        np.array([ids]),
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        greedy=args.greedy,
        use_cache=not args.no_cache,
    )
    print(tokenizer.decode(out.numpy()[0].tolist()))
    return 0


def _add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench", help="benchmarks: `kernels`, `gpt` or `generate` (extra flags pass through)"
    )
    p.add_argument("what", choices=["kernels", "gpt", "generate"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="flags for the benchmark")


def _cmd_bench(args: argparse.Namespace) -> int:
    script = _repo_root() / "benchmarks" / f"bench_{args.what}.py"
    if not script.exists():
        raise FileNotFoundError(
            f"the {args.what} benchmark lives in the repository's benchmarks/ folder; run it "
            "from a clone (pip install -e .)"
        )
    import runpy

    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _repo_root() -> Path:
    import tinylm

    return Path(tinylm.__file__).resolve().parents[1]


def _add_info(sub: Any) -> None:
    sub.add_parser("info", help="versions, devices and kernel backends")


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy as np

    import tinylm
    from tinylm import environment
    from tinylm.kernels import registry

    lines = {
        "tinylm": tinylm.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "backend": _backend_or_problem(),
        "cuda available": tinylm.cuda_is_available(),
    }
    for name in ("numba", "cupy", "torch"):
        try:
            module = __import__(name)
            lines[name] = getattr(module, "__version__", "?")
        except Exception:
            lines[name] = "not installed"
    lines["threads"] = tinylm.get_num_threads()
    lines["numpy blas"] = environment.numpy_blas()
    lines["numba vectors"] = _numba_vectors()
    for op in (
        "softmax_forward",
        "cross_entropy_forward",
        "layer_norm_forward",
        "attention_forward",
        "adam_update",
    ):
        lines[f"kernel {op}"] = ", ".join(registry.implementations(op, "cpu"))
    width = max(len(k) for k in lines)
    for k, v in lines.items():
        print(f"{k:<{width}}  {v}")
    return 0


def _numba_vectors() -> str:
    """The vector width tinylm's Numba kernels compile for, and why (kernels/numba/vectors.py;
    loading it makes the choice)."""
    try:
        from tinylm.kernels.numba import vectors
    except ImportError:  # Numba is not installed: the NumPy reference runs
        return "no Numba"
    return vectors.note()


def _backend_or_problem() -> str:
    from tinylm.kernels import registry

    try:
        return registry.get_backend()
    except ValueError as e:  # a bad TINYLM_BACKEND: `info` is where one looks to see why
        return f"unusable: {e}"


def _add_data(sub: Any) -> None:
    p = sub.add_parser("data", help="datasets: `tinylm data download shakespeare`")
    p.add_argument("action", choices=["download"])
    p.add_argument("name", nargs="?", default="shakespeare")
    p.add_argument("--cache-dir", default=None)


def _cmd_data(args: argparse.Namespace) -> int:
    from tinylm.data import download

    print(download(args.name, cache_dir=args.cache_dir))
    return 0


def _add_lessons(sub: Any) -> None:
    p = sub.add_parser(
        "lessons",
        help="list the lessons, or run one: `tinylm lessons run 03 [--fast]`",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="`list` or `run NN [--fast]`")


def _cmd_lessons(args: argparse.Namespace) -> int:
    from tinylm import lessons

    return lessons.cli(args.rest)


def _add_translate(sub: Any) -> None:
    from tinylm.translate import add_subcommand

    add_subcommand(sub)


def _cmd_translate(args: argparse.Namespace) -> int:
    from tinylm.translate import run_subcommand

    return run_subcommand(args)


_COMMANDS = {
    "train": (_add_train, _cmd_train),
    "generate": (_add_generate, _cmd_generate),
    "bench": (_add_bench, _cmd_bench),
    "info": (_add_info, _cmd_info),
    "data": (_add_data, _cmd_data),
    "lessons": (_add_lessons, _cmd_lessons),
    "translate": (_add_translate, _cmd_translate),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinylm", description="tinylm: a from-scratch deep-learning framework")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add, _ in _COMMANDS.values():
        add(sub)
    return parser


_FLAGS = "flags"  # the owner named by errors in command-line values (see _one_line)


def _one_line(error: BaseException, args: argparse.Namespace) -> str:
    """The error as the one line the user sees: a bad flag value is named as its flag."""
    from tinylm.checks import ConfigError

    if isinstance(error, ConfigError) and error.owner in (_FLAGS, "generate"):
        if getattr(args, error.field, None) is not None:  # the value came from this flag
            return f"--{error.field.replace('_', '-')} {error.problem}"
    return " ".join(str(error).split())  # one line, whatever the message held


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinylm`` command. Returns the exit status."""
    args = build_parser().parse_args(argv)
    from tinylm.autograd import TinyLMError

    try:
        if args.command not in ("info", "data"):
            from tinylm.kernels import registry

            registry.get_backend()  # a bad TINYLM_BACKEND: say so before any work
        if args.command in ("train", "generate"):
            import numpy as np

            # they find NaN and inf themselves and report them in one line, so numpy's
            # floating-point warnings would only add lines in front of it
            with np.errstate(all="ignore"):
                return _COMMANDS[args.command][1](args)
        return _COMMANDS[args.command][1](args)
    except (TinyLMError, ValueError, FileNotFoundError, json.JSONDecodeError, OSError) as e:
        print(f"tinylm: error: {_one_line(e, args)}", file=sys.stderr)
        return 2
    except MemoryError as e:
        print(f"tinylm: error: out of memory: {_one_line(e, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinylm: interrupted", file=sys.stderr)
        return 130
    finally:
        if argv is None:  # the process is ours: a late Ctrl-C must not end it in a traceback
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
