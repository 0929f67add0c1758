"""Train the same GPT with tinylm and with PyTorch eager (CPU) and compare.

Both runs use the same initial weights, the same batches, the same AdamW groups,
learning-rate schedule and gradient clipping. Each framework trains in its own subprocess
so peak memory (RSS) is measured separately. Defaults are nanoGPT's "baby" CPU config:

    n_layer 4, n_head 4, n_embd 128, block 64, batch 12, dropout 0, no biases,
    AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices, gradient clipping 1.0,
    warmup 100 and cosine decay to 1e-4 over 2000 iterations.

Where the initial weights and batches come from (``--protocol``):

* ``nanogpt`` (the default when PyTorch is installed): nanoGPT's own run. Its ``train.py``
  seeds PyTorch's generator with 1337 and draws the initial weights, then every batch
  (evaluation batches included) from it; ``torch_gpt.nanogpt_plan`` makes the same draws
  in the same order, and the text is split at ``int(0.9 * N)`` as nanoGPT's ``prepare.py``
  does. The final evaluation is also nanoGPT's: the 20 batches it draws at step 2000. This
  is how the figure "nanoGPT reaches val loss 1.886" was measured, so the two compare.
* ``seeded``: tinylm's own initialisation (``tinylm.manual_seed``) and NumPy's sampler,
  with tinylm's 90/10 split. Needs no PyTorch.

Either way the val loss over 200 further batches (seed + 1) is reported too: with 20
batches, the figure moves by about 0.01 from one draw of batches to the next.

    python benchmarks/bench_gpt.py --data "$(tinylm data download shakespeare)"
    python benchmarks/bench_gpt.py --iters 300 --round 30   # 10 rounds (tinylm bench gpt …)
    python benchmarks/bench_gpt.py --iters 300 --round 30 --same-process

Timing: each framework trains in its own process, as a user runs it (the user's environment,
nothing added), and the two take turns in rounds of ``--round`` steps. Each round's time is
the median step of the round; the ratio tinylm/torch is taken per pair of neighbouring rounds
(the first pair, with compilation and warm-up, is left out) and reported as its median with
its spread (see ``benchmarks/timing.py``); a spread over 20 % marks the run unstable, and a
round during which other processes used the cores is reported and left out.
``--same-process`` runs both in one process that imports PyTorch and trains with it first, as
a notebook comparing the two would (no RSS figures then).

Reported: ms/iter of each (training steps only, evaluation excluded), the ratio, peak RSS
of each, and the validation losses at the end.
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
    p.add_argument(
        "--eval-iters", type=int, default=200, help="batches for the steadier final val loss"
    )
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument(
        "--bias",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="biases in Linear/LayerNorm (off by default, as in nanoGPT's train.py)",
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument(
        "--protocol",
        choices=["nanogpt", "seeded"],
        default=None,
        help="initial weights and batches: nanoGPT's run (needs PyTorch; the default when it "
        "is installed) or tinylm's seeded ones",
    )
    p.add_argument("--only", choices=["tinylm", "torch"], default=None)
    p.add_argument(
        "--same-process",
        action="store_true",
        help="both frameworks in one process that imports and uses PyTorch first",
    )
    p.add_argument(
        "--round", type=int, default=50, help="iterations per turn (the frameworks alternate)"
    )
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    p.add_argument("--worker", choices=["tinylm", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def lr_at(it: int, args: argparse.Namespace) -> float:
    """tinylm's schedule (nanoGPT's), for both frameworks' workers."""
    from tinylm.optim.lr_scheduler import warmup_cosine_lr

    return warmup_cosine_lr(it, args.lr, args.warmup, args.iters, args.min_lr)


def load_splits(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, int]:
    """Character ids of the text, split as the protocol says: ``(train, val, vocab_size)``."""
    from tinylm.data import TextDataset, load_default_corpus, load_text

    text = load_text(args.data) if args.data else load_default_corpus()
    data = TextDataset.from_text(text, tokenizer="char")
    if args.protocol == "nanogpt":  # nanoGPT's prepare.py: train = ids[: int(0.9 * N)]
        ids = np.concatenate([data.train, data.val])
        cut = int(len(ids) * 0.9)
        return ids[:cut], ids[cut:], data.vocab_size
    return data.train, data.val, data.vocab_size


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


def make_plan(args: argparse.Namespace, n_train: int, n_val: int, vocab_size: int) -> dict:
    """Initial weights (tinylm names) and the start of every batch, for both workers.

    Keys: the ``state_dict`` names; ``train_starts`` ``(iters, B)``; ``val_starts``
    ``(eval_iters, B)`` for the steadier val loss; with the nanoGPT protocol also
    ``nanogpt_train_starts`` / ``nanogpt_val_starts``, nanoGPT's evaluation at the end.
    """
    from tinylm.data import random_starts

    config = model_config(args, vocab_size)
    B, T = args.batch_size, args.block_size
    if args.protocol == "nanogpt":
        sys.path.insert(0, str(HERE))
        from torch_gpt import nanogpt_plan

        plan = nanogpt_plan(config, n_train, n_val, args.iters, B, seed=args.seed)
        plan["nanogpt_train_starts"] = plan.pop("eval_train_starts")
        plan["nanogpt_val_starts"] = plan.pop("eval_val_starts")
    else:
        import tinylm
        from tinylm.models.gpt import GPT, GPTConfig

        tinylm.manual_seed(args.seed)
        plan = {k: v.numpy() for k, v in GPT(GPTConfig(**config)).state_dict().items()}
        rng = np.random.default_rng(args.seed)
        plan["train_starts"] = np.stack(
            [random_starts(n_train, B, T, rng) for _ in range(args.iters)]
        )
    eval_rng = np.random.default_rng(args.seed + 1)
    plan["val_starts"] = np.stack(
        [random_starts(n_val, B, T, eval_rng) for _ in range(args.eval_iters)]
    )
    return plan


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def setup_tinylm(args: argparse.Namespace, vocab_size: int, state: dict):
    """Model and optimizer; returns (step(it, x, y) -> loss, loss_of(x, y) -> float)."""
    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    model = GPT(GPTConfig(**model_config(args, vocab_size)))
    model.load_state_dict({k: tinylm.tensor(v) for k, v in state.items()})
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

    def loss_of(x: np.ndarray, y: np.ndarray) -> float:
        model.eval()
        with tinylm.no_grad():
            return model(tinylm.tensor(x), tinylm.tensor(y))[1].item()

    return step, loss_of


def setup_torch(args: argparse.Namespace, vocab_size: int, state: dict):
    """The same for the PyTorch reference model (benchmarks/torch_gpt.py)."""
    import torch

    sys.path.insert(0, str(HERE))
    from torch_gpt import TorchGPT, load_tinylm_state

    model = TorchGPT(model_config(args, vocab_size))
    load_tinylm_state(model, state)
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

    def loss_of(x: np.ndarray, y: np.ndarray) -> float:
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(x), torch.from_numpy(y))[1].item()

    return step, loss_of


def run_worker(args: argparse.Namespace) -> dict:
    """Train in rounds of ``--round`` iterations, each started by a line on stdin.

    The parent alternates the two frameworks' rounds, so both are timed in the same minutes:
    on a shared machine the speed drifts over minutes, and back-to-back runs would compare
    a fast minute with a slow one.
    """
    from tinylm.data import windows

    train, val, vocab_size = load_splits(args)
    with np.load(args.plan, allow_pickle=False) as f:
        plan = {k: f[k] for k in f.files}
    state = {k: v for k, v in plan.items() if not k.endswith("starts")}
    setup = setup_tinylm if args.worker == "tinylm" else setup_torch
    step, loss_of = setup(args, vocab_size, state)
    # What exists now lives for the whole run; both frameworks get the same treatment as in
    # `tinylm train`: Python's cycle collector stops walking it (see tinylm/train.py).
    gc.freeze()
    T = args.block_size
    times, loss = [], None
    for it in range(args.iters):
        if it % args.round == 0:
            sys.stdin.readline()  # wait for our turn
        x, y = windows(train, plan["train_starts"][it], T)
        t0 = time.perf_counter()
        loss = step(it, x, y)
        times.append(time.perf_counter() - t0)
        if (it + 1) % args.round == 0 or it + 1 == args.iters:
            print("ROUND", flush=True)  # hand the machine back
    # the losses below are computed only once the parent collects this worker (it closes our
    # stdin): not while the other framework times its last round on the same cores
    sys.stdin.readline()

    def mean_loss(data: np.ndarray, key: str) -> float | None:
        if key not in plan:
            return None
        return float(np.mean([loss_of(*windows(data, s, T)) for s in plan[key]]))

    result = summarize(args.worker, times, float(loss.item()), args.round)
    result["val_loss"] = mean_loss(val, "val_starts")
    result["nanogpt_train_loss"] = mean_loss(train, "nanogpt_train_starts")
    result["nanogpt_val_loss"] = mean_loss(val, "nanogpt_val_starts")
    return result


def summarize(name: str, times: list[float], last: float, round_len: int) -> dict:
    steady = times[min(10, len(times) // 2) :]  # skip warm-up steps (JIT compile, caches)
    rounds = [times[i : i + round_len] for i in range(0, len(times), round_len)]
    return {
        "name": name,
        "round_ms": [1000 * float(np.median(r)) for r in rounds],
        "ms_per_iter": 1000 * float(np.median(steady)),
        "ms_per_iter_mean": 1000 * float(np.mean(steady)),
        "first_iter_ms": 1000 * times[0],
        "peak_rss_mb": peak_rss_mb(),
        "last_train_loss": last,
    }


def choose_protocol(args: argparse.Namespace, frameworks: list[str]) -> str | None:
    """The protocol to use (``--protocol`` or the default), or None with a message."""
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    if not have_torch and "torch" in frameworks:
        print("PyTorch is not installed: measuring tinylm only (pip install '.[oracle]')")
        frameworks.remove("torch")
    if args.protocol == "nanogpt" and not have_torch:
        print(
            "--protocol nanogpt draws nanoGPT's weights and batches with PyTorch's generator, "
            "and PyTorch is not installed; use --protocol seeded",
            file=sys.stderr,
        )
        return None
    return args.protocol or ("nanogpt" if have_torch else "seeded")


def collect_result(name: str, worker: subprocess.Popen) -> dict | None:
    """The dict a worker prints as ``RESULT {...}`` after its last round; None if it failed.

    The rest of its output is read with ``worker.stdout.read()``, not ``communicate()``: the
    ``readline()`` that found the last ``ROUND`` may already hold the RESULT line in its
    buffer, and ``communicate()`` reads the pipe underneath that buffer, so it would miss it.
    """
    worker.stdin.close()
    out = worker.stdout.read()
    worker.wait()
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if worker.returncode != 0 or not lines:
        print(f"{name} worker failed (exit code {worker.returncode}):\n{out}", file=sys.stderr)
        return None
    return json.loads(lines[-1][len("RESULT ") :])


def run_same_process(args: argparse.Namespace, plan_path: Path) -> dict | None:
    """Both frameworks in this process: PyTorch imported and trained first, then the two
    take turns. Returns the results (as the workers report them) with per-round times."""
    import torch  # noqa: F401 - imported (and used, below) before tinylm, on purpose
    from timing import OthersCPU

    from tinylm.data import windows

    train, val, vocab_size = load_splits(args)
    with np.load(plan_path, allow_pickle=False) as f:
        plan = {k: f[k] for k in f.files}
    state = {k: v for k, v in plan.items() if not k.endswith("starts")}
    setups = {"torch": setup_torch(args, vocab_size, state)}
    setups["tinylm"] = setup_tinylm(args, vocab_size, state)
    T = args.block_size
    times: dict[str, list[float]] = {"torch": [], "tinylm": []}
    others: list[float | None] = []
    last = {}
    gc.freeze()
    monitor = OthersCPU([os.getpid()])
    for start in range(0, args.iters, args.round):
        monitor.start()
        for name in ("torch", "tinylm"):
            step = setups[name][0]
            for it in range(start, min(start + args.round, args.iters)):
                x, y = windows(train, plan["train_starts"][it], T)
                t0 = time.perf_counter()
                last[name] = step(it, x, y)
                times[name].append(time.perf_counter() - t0)
        others.append(monitor.stop())
    results = {}
    for name, (_, loss_of) in setups.items():
        result = summarize(name, times[name], float(last[name].item()), args.round)
        result["val_loss"] = float(
            np.mean([loss_of(*windows(val, s, T)) for s in plan["val_starts"]])
        )
        result["nanogpt_train_loss"] = result["nanogpt_val_loss"] = None
        result["peak_rss_mb"] = None  # one process: the two cannot be told apart
        result["others_cpu"] = others
        results[name] = result
    return results


def run_workers(args: argparse.Namespace, plan: Path, frameworks: list[str]) -> dict | None:
    """Each framework in its own process, taking turns round by round."""
    from timing import OthersCPU

    env = dict(os.environ)  # each worker runs as a user would: nothing added
    workers = {}
    for name in frameworks:
        cmd = [sys.executable, __file__, "--worker", name, "--plan", str(plan)]
        cmd += [a for a in (args.argv if args.argv is not None else sys.argv[1:])]
        cmd += ["--protocol", args.protocol]
        workers[name] = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
    n_rounds = -(-args.iters // args.round)
    monitor = OthersCPU([os.getpid(), *(w.pid for w in workers.values())])
    others: list[float | None] = []
    for r in range(n_rounds):
        monitor.start()
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
                return None
        others.append(monitor.stop())
        print(f"  round {r + 1}/{n_rounds}", end="\r", flush=True)
    results = {}
    for name, w in workers.items():
        result = collect_result(name, w)
        if result is None:
            return None
        result["others_cpu"] = others
        results[name] = result
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = argv
    if args.worker:
        print("RESULT " + json.dumps(run_worker(args)))
        return 0

    sys.path.insert(0, str(HERE))  # timing.py, torch_gpt.py
    from timing import BUSY_CORES, ratio_summary
    from tinylm.kernels.numba.vectors import note as numba_vectors

    from tinylm.environment import numpy_blas

    frameworks = [args.only] if args.only else ["tinylm", "torch"]
    protocol = choose_protocol(args, frameworks)
    if protocol is None:
        return 2
    if args.same_process and frameworks != ["tinylm", "torch"]:
        print("--same-process needs both frameworks (PyTorch, no --only)", file=sys.stderr)
        return 2
    args.protocol = protocol
    train, val, vocab_size = load_splits(args)
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.npz"
        np.savez(plan, **make_plan(args, len(train), len(val), vocab_size))
        mode = "in one process, PyTorch first" if args.same_process else "in separate processes"
        print(
            f"training {' and '.join(frameworks)} for {args.iters} iterations "
            f"({protocol} weights and batches) {mode}, alternating rounds of {args.round} ...",
            flush=True,
        )
        if args.same_process:
            results = run_same_process(args, plan)
        else:
            results = run_workers(args, plan, frameworks)
        if results is None:
            return 1

    print()
    print(
        f"GPT {args.n_layer}L/{args.n_head}H/{args.n_embd}C, block {args.block_size}, "
        f"batch {args.batch_size}, {args.iters} iters, data: {args.data or 'built-in corpus'}"
    )
    print(f"NumPy's BLAS (tinylm's matrix products): {numpy_blas()}")
    print(f"Numba's vectors (tinylm's kernels): {numba_vectors()}")
    n_val = args.eval_iters
    header = f"{'':8s} {'ms/iter':>9s} {'peak RSS MB':>12s} {'val loss':>9s} {'train loss':>11s}"
    if protocol == "nanogpt":
        header += f" {'nanoGPT eval: train':>20s} {'val':>7s}"
    print(header)
    for r in results.values():
        rss = f"{r['peak_rss_mb']:12.0f}" if r["peak_rss_mb"] is not None else f"{'-':>12s}"
        line = (
            f"{r['name']:8s} {r['ms_per_iter']:9.1f} {rss} "
            f"{r['val_loss']:9.4f} {r['last_train_loss']:11.4f}"
        )
        if protocol == "nanogpt":
            line += f" {r['nanogpt_train_loss']:20.4f} {r['nanogpt_val_loss']:7.4f}"
        print(line)
    print(
        f"ms/iter: median step; val loss: mean over {n_val} val batches (seed {args.seed + 1}); "
        "train loss: the last step's batch"
        + (
            f"; nanoGPT eval: the 20 + 20 batches nanoGPT's train.py draws at step {args.iters}"
            if protocol == "nanogpt"
            else ""
        )
    )
    others = next(iter(results.values()))["others_cpu"]
    busy = [i for i, o in enumerate(others) if o is not None and o > BUSY_CORES]
    if busy:
        print(
            f"{len(busy)} of {len(others)} rounds were disturbed: other processes used "
            f"> {BUSY_CORES} core (up to {max(others[i] for i in busy):.2f}); left out below"
        )
    if len(results) == 2:
        keep = [i for i in range(1, len(others)) if i not in busy]  # round 0: warm-up
        t_ours = np.array(results["tinylm"]["round_ms"])
        t_ref = np.array(results["torch"]["round_ms"])
        if len(keep) < 5:
            print(f"only {len(keep)} undisturbed rounds after the first: not a figure (need ≥ 5)")
        results["unstable"] = len(keep) < 5
        if keep:
            summary = ratio_summary(list(t_ours[keep] / t_ref[keep]))
            print(f"tinylm / torch time: {summary.describe()}")
            for name, t in (("tinylm", t_ours), ("torch", t_ref)):
                print(
                    f"  {name}: median {np.median(t[keep]):.1f} ms/iter, rounds "
                    f"{t[keep].min():.1f}-{t[keep].max():.1f}"
                )
            results["ratio_time"] = summary.median
            results["ratio_time_spread"] = summary.spread
            results["unstable"] = summary.unstable or len(keep) < 5
        if results["tinylm"]["peak_rss_mb"] is not None:
            mem = results["tinylm"]["peak_rss_mb"] / results["torch"]["peak_rss_mb"]
            print(f"tinylm / torch peak memory: {mem:.2f}x (lower is better)")
            results["ratio_rss"] = mem
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
