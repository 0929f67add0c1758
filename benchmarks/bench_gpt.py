"""Train the same GPT with tinylm and with PyTorch eager (CPU) and compare.

Both runs use the same initial weights (tinylm's init, copied into the PyTorch model), the
same batches (same seeded sampler), the same AdamW groups, learning-rate schedule and
gradient clipping. Each framework trains in its own subprocess so peak memory (RSS) is
measured separately. Defaults are nanoGPT's "baby" CPU config:

    n_layer 4, n_head 4, n_embd 128, block 64, batch 12, dropout 0,
    AdamW lr 1e-3 with warmup 100 and cosine decay to 1e-4 over 2000 iterations.

    python benchmarks/bench_gpt.py --data ../shared/data/tinyshakespeare.txt
    python benchmarks/bench_gpt.py --iters 50          # quick look (also: tinylm bench gpt)

Reported: ms/iter of each (training steps only, evaluation excluded), the ratio, peak RSS
of each, and the validation loss at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default=None, help="text file (default: the built-in corpus)")
    p.add_argument("--iters", type=int, default=2000, help="training iterations")
    p.add_argument("--eval-iters", type=int, default=200, help="batches for the final val loss")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument(
        "--bias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="biases in Linear/LayerNorm (nanoGPT's train.py default is --no-bias)",
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--only", choices=["tinylm", "torch"], default=None)
    p.add_argument(
        "--round", type=int, default=50, help="iterations per turn (the frameworks alternate)"
    )
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    p.add_argument("--worker", choices=["tinylm", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--init", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def lr_at(it: int, args: argparse.Namespace) -> float:
    if it < args.warmup:
        return args.lr * (it + 1) / (args.warmup + 1)
    progress = min(1.0, (it - args.warmup) / max(1, args.iters - args.warmup))
    return args.min_lr + 0.5 * (1 + np.cos(np.pi * progress)) * (args.lr - args.min_lr)


def load_dataset(args: argparse.Namespace):
    from tinylm.data import TextDataset, load_default_corpus, load_text

    text = load_text(args.data) if args.data else load_default_corpus()
    return TextDataset.from_text(text, tokenizer="char")


def model_config(args: argparse.Namespace, vocab_size: int) -> dict:
    return dict(
        vocab_size=vocab_size,
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=0.0,
        bias=args.bias,
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def setup_tinylm(args: argparse.Namespace):
    """Model, data and optimizer; returns (step(it, x, y) -> loss, val_loss(x, y) -> float)."""
    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    data = load_dataset(args)
    model = GPT(GPTConfig(**model_config(args, data.vocab_size)))
    model.load_state_dict(tinylm.load(args.init))
    opt = model.configure_optimizers(args.lr, 0.1, (0.9, 0.99))

    def step(it: int, x: np.ndarray, y: np.ndarray) -> float:
        for g in opt.param_groups:
            g["lr"] = lr_at(it, args)
        _, loss = model(tinylm.tensor(x), tinylm.tensor(y))
        opt.zero_grad()
        loss.backward()
        tinylm.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    def val_loss(x: np.ndarray, y: np.ndarray) -> float:
        model.eval()
        with tinylm.no_grad():
            return model(tinylm.tensor(x), tinylm.tensor(y))[1].item()

    return data, step, val_loss


def setup_torch(args: argparse.Namespace):
    """The same for the PyTorch reference model (benchmarks/torch_gpt.py)."""
    import torch

    sys.path.insert(0, str(HERE))
    from torch_gpt import TorchGPT, load_tinylm_state

    import tinylm

    data = load_dataset(args)
    model = TorchGPT(model_config(args, data.vocab_size))
    load_tinylm_state(model, tinylm.load(args.init))
    opt = model.configure_optimizers(args.lr, 0.1, (0.9, 0.99))

    def step(it: int, x: np.ndarray, y: np.ndarray):
        for g in opt.param_groups:
            g["lr"] = lr_at(it, args)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    def val_loss(x: np.ndarray, y: np.ndarray) -> float:
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(x), torch.from_numpy(y))[1].item()

    return data, step, val_loss


def run_worker(args: argparse.Namespace) -> dict:
    """Train in rounds of ``--round`` iterations, each started by a line on stdin.

    The parent alternates the two frameworks' rounds, so both are timed in the same minutes:
    on a shared machine the speed drifts over minutes, and back-to-back runs would compare
    a fast minute with a slow one.
    """
    data, step, val_loss = (setup_tinylm if args.worker == "tinylm" else setup_torch)(args)
    # What exists now lives for the whole run; both frameworks get the same treatment as in
    # `tinylm train`: Python's cycle collector stops walking it (see tinylm/train.py).
    gc.freeze()
    rng = np.random.default_rng(args.seed)
    times, loss = [], None
    for it in range(args.iters):
        if it % args.round == 0:
            sys.stdin.readline()  # wait for our turn
        x, y = data.batch("train", args.batch_size, args.block_size, rng)
        t0 = time.perf_counter()
        loss = step(it, x, y)
        times.append(time.perf_counter() - t0)
        if (it + 1) % args.round == 0 or it + 1 == args.iters:
            print("ROUND", flush=True)  # hand the machine back
    eval_rng = np.random.default_rng(args.seed + 1)
    losses = []
    for _ in range(args.eval_iters):
        x, y = data.batch("val", args.batch_size, args.block_size, eval_rng)
        losses.append(val_loss(x, y))
    return summarize(args.worker, times, losses, float(loss.item()), args.round)


def summarize(
    name: str, times: list[float], val_losses: list[float], last: float, round_len: int
) -> dict:
    steady = times[min(10, len(times) // 2) :]  # skip warm-up steps (JIT compile, caches)
    rounds = [times[i : i + round_len] for i in range(0, len(times), round_len)]
    return {
        "name": name,
        "round_ms": [1000 * float(np.median(r)) for r in rounds],
        "ms_per_iter": 1000 * float(np.median(steady)),
        "ms_per_iter_mean": 1000 * float(np.mean(steady)),
        "first_iter_ms": 1000 * times[0],
        "peak_rss_mb": peak_rss_mb(),
        "val_loss": float(np.mean(val_losses)),
        "last_train_loss": last,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(args)))
        return 0

    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    data = load_dataset(args)
    tinylm.manual_seed(args.seed)
    model = GPT(GPTConfig(**model_config(args, data.vocab_size)))
    frameworks = [args.only] if args.only else ["tinylm", "torch"]
    if "torch" in frameworks:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: measuring tinylm only (pip install '.[oracle]')")
            frameworks.remove("torch")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "init.npz"
        tinylm.save(model.state_dict(), init)
        # The same OpenBLAS setting that `import tinylm` makes when it loads before numpy
        # (this script imports numpy first); PyTorch does not use OpenBLAS.
        env = {"OPENBLAS_THREAD_TIMEOUT": "12", **os.environ}
        workers = {}
        for name in frameworks:
            cmd = [sys.executable, __file__, "--worker", name, "--init", str(init)]
            cmd += [a for a in (argv if argv is not None else sys.argv[1:])]
            workers[name] = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        n_rounds = -(-args.iters // args.round)
        print(
            f"training {' and '.join(frameworks)} for {args.iters} iterations, alternating "
            f"rounds of {args.round} ...",
            flush=True,
        )
        for r in range(n_rounds):
            for name, w in workers.items():  # one round each, in turn
                w.stdin.write("go\n")
                w.stdin.flush()
                line = w.stdout.readline()
                while line and line.strip() != "ROUND":  # pass on anything else it prints
                    print(line, end="", file=sys.stderr)
                    line = w.stdout.readline()
                if not line:
                    w.kill()
                    print(f"{name} worker failed (see its messages above)", file=sys.stderr)
                    return 1
            print(f"  round {r + 1}/{n_rounds}", end="\r", flush=True)
        for name, w in workers.items():
            out, _ = w.communicate()
            if w.returncode != 0:
                print(f"{name} worker failed:\n{out}", file=sys.stderr)
                return 1
            line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1]
            results[name] = json.loads(line[len("RESULT ") :])

    print()
    print(
        f"GPT {args.n_layer}L/{args.n_head}H/{args.n_embd}C, block {args.block_size}, "
        f"batch {args.batch_size}, {args.iters} iters, data: {args.data or 'built-in corpus'}"
    )
    header = f"{'':8s} {'ms/iter':>9s} {'peak RSS MB':>12s} {'val loss':>9s} {'train loss':>11s}"
    print(header)
    for r in results.values():
        print(
            f"{r['name']:8s} {r['ms_per_iter']:9.1f} {r['peak_rss_mb']:12.0f} "
            f"{r['val_loss']:9.4f} {r['last_train_loss']:11.4f}"
        )
    if len(results) == 2:
        ratio = results["tinylm"]["ms_per_iter"] / results["torch"]["ms_per_iter"]
        mem = results["tinylm"]["peak_rss_mb"] / results["torch"]["peak_rss_mb"]
        print(f"tinylm / torch: time {ratio:.2f}x, peak memory {mem:.2f}x (lower is better)")
        per_round = np.array(results["tinylm"]["round_ms"]) / np.array(results["torch"]["round_ms"])
        print(
            f"time ratio per round (same minutes for both): min {per_round.min():.2f}x, "
            f"median {np.median(per_round):.2f}x, max {per_round.max():.2f}x"
        )
        results["ratio_time"] = ratio
        results["ratio_rss"] = mem
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
