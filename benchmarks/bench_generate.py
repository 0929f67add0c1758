"""Generation speed: tokens/s of greedy generation over context length, with and without the
KV cache, tinylm float32 and int8 (``tinylm.quantize_int8``) against PyTorch eager float32
generating with the same weights and its own KV cache (written here, benchmark code only).

    python benchmarks/bench_generate.py                       # (tinylm bench generate …)
    python benchmarks/bench_generate.py --contexts 64,128,256 --new-tokens 32 --rounds 7 \
        --repeats 5
    python benchmarks/bench_generate.py --only tinylm         # without PyTorch

What one measurement is: for a context length T, a prompt of T − n tokens is extended by
n = ``--new-tokens`` greedy tokens, the call a user makes (``GPT.generate``: the prompt's
prefill and n steps); tokens/s = n / seconds. Without the cache every step re-runs the whole
context (O(T²) attention, O(T) matmuls per token); with it each step runs one position
against the cached keys and values (O(T) per token). One such call with the cache lasts only
50–100 ms, short enough for one hiccup of the machine (another process, a page fault, the
garbage collector) to move it by half: so a round times the call up to ``--repeats`` times
in a row, stopping once ``--min-seconds`` have been spent (a call without the cache, long and
steady by itself, runs once), and keeps the median of those as its figure for the variant.

Timing, as in ``benchmarks/bench_gpt.py``: each framework runs in its own process, as a user
runs it (the user's environment, nothing added), on the same weights (drawn once with
``tinylm.manual_seed``, saved to a plain .npz both load); the processes take turns round by
round, each round measuring every variant once (the median of its repeats); the first round
(compilation, warm-up) is left out. Reported per variant: the median tokens/s over the rounds
and the spread (10th–90th percentile over the median), and the ratio tinylm / PyTorch per
pair of neighbouring rounds (``timing.ratio_summary``; over 20 % spread = unstable, not a figure).
Rounds in which other processes used the cores (``timing.OthersCPU``) are counted and said.
A plot of tokens/s against T goes to ``--plot`` (default ``plots/bench_generate.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "tinylm": ["f32 cache", "f32 no-cache", "int8 cache", "int8 no-cache"],
    "torch": ["f32 cache", "f32 no-cache"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contexts", default="64,128,256", help="context lengths T, comma-separated")
    p.add_argument("--new-tokens", type=int, default=32, help="tokens generated per measurement")
    p.add_argument("--rounds", type=int, default=7, help="rounds (the first is warm-up)")
    p.add_argument(
        "--repeats", type=int, default=5, help="timed calls per variant in a round, at most"
    )
    p.add_argument(
        "--min-seconds", type=float, default=0.3, help="…or fewer once this much time is spent"
    )
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--vocab-size", type=int, default=65)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--only", choices=["tinylm", "torch"], default=None)
    p.add_argument("--plot", default=str(HERE.parent / "plots" / "bench_generate.png"))
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--worker", choices=["tinylm", "torch"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.context_list = [int(t) for t in args.contexts.split(",")]
    if (
        args.new_tokens < 1
        or args.rounds < 2
        or args.repeats < 1
        or min(args.context_list) <= args.new_tokens
    ):
        p.error(
            "need --new-tokens ≥ 1, --rounds ≥ 2, --repeats ≥ 1 and every context > --new-tokens"
        )
    return args


def model_config(args: argparse.Namespace) -> dict:
    return dict(
        vocab_size=args.vocab_size, block_size=max(args.context_list), n_layer=args.n_layer,
        n_head=args.n_head, n_embd=args.n_embd, dropout=0.0, bias=True,
    )  # fmt: skip


def prompts(args: argparse.Namespace) -> dict[int, np.ndarray]:
    """The same prompt (1, T − n) for both frameworks at each context length T."""
    rng = np.random.default_rng(args.seed)
    return {
        t: rng.integers(0, args.vocab_size, (1, t - args.new_tokens)) for t in args.context_list
    }


# ---------------------------------------------------------------- the two frameworks


def setup_tinylm(args: argparse.Namespace) -> dict:
    """variant -> generate(prompt) -> token array; float32 and an int8 copy of the weights."""
    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    def load() -> GPT:
        model = GPT(GPTConfig(**model_config(args)))
        with np.load(args.weights, allow_pickle=False) as f:
            model.load_state_dict({k: f[k] for k in f.files})
        return model.eval()

    f32, int8 = load(), tinylm.quantize_int8(load())

    def gen(model, use_cache):
        return lambda p: model.generate(
            p, args.new_tokens, greedy=True, use_cache=use_cache
        ).numpy()

    return {
        "f32 cache": gen(f32, True), "f32 no-cache": gen(f32, False),
        "int8 cache": gen(int8, True), "int8 no-cache": gen(int8, False),
    }  # fmt: skip


def setup_torch(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F
    from torch_gpt import TorchGPT, load_tinylm_state

    model = TorchGPT(model_config(args))
    with np.load(args.weights, allow_pickle=False) as f:
        load_tinylm_state(model, {k: f[k] for k in f.files})
    model.eval()

    def step(idx, past, start):
        """Logits of positions start … start+T−1 and the grown cache (a (k, v) per layer)."""
        b, t = idx.shape
        x = model.wte(idx) + model.wpe(torch.arange(start, start + t))
        grown = []
        for i, block in enumerate(model.h):
            attn, h = block.attn, block.ln_1(x)
            c, nh = h.shape[-1], attn.n_head
            q, k, v = (
                z.view(b, t, nh, c // nh).transpose(1, 2) for z in attn.c_attn(h).split(c, 2)
            )
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            grown.append((k, v))
            # the prefill is causal; a step of one new token sees every cached key
            y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None)
            x = x + attn.c_proj(y.transpose(1, 2).reshape(b, t, c))
            x = x + block.mlp(block.ln_2(x))
        return model.lm_head(model.ln_f(x)), grown

    @torch.no_grad()
    def generate(prompt, use_cache):
        idx = torch.from_numpy(prompt)
        past = None
        for _ in range(args.new_tokens):
            if use_cache:
                new = idx if past is None else idx[:, -1:]
                logits, past = step(new, past, idx.shape[1] - new.shape[1])
            else:
                logits, _ = model(idx)
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], 1)
        return idx.numpy()

    return {
        "f32 cache": lambda p: generate(p, True),
        "f32 no-cache": lambda p: generate(p, False),
    }


def run_worker(args: argparse.Namespace) -> int:
    """Wait for "go", run one round (every variant at every T, each the median of up to
    ``--repeats`` timed calls, fewer once ``--min-seconds`` are spent), print
    ``ROUND {times}``."""
    if args.worker == "torch":
        sys.path.insert(0, str(HERE))
    variants = setup_tinylm(args) if args.worker == "tinylm" else setup_torch(args)
    ps = prompts(args)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        times, tokens = {}, {}
        for name, generate in variants.items():
            for t, p in ps.items():
                calls: list[float] = []
                while len(calls) < args.repeats and sum(calls) < args.min_seconds:
                    t0 = time.perf_counter()
                    out = generate(p)
                    calls.append(time.perf_counter() - t0)
                times[f"{name}|{t}"] = float(np.median(calls))
                tokens[f"{name}|{t}"] = out[0, -args.new_tokens :].tolist()
        print("ROUND " + json.dumps({"times": times, "tokens": tokens}), flush=True)
    return 0


# ---------------------------------------------------------------- the parent


def write_weights(args: argparse.Namespace, path: Path) -> None:
    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    tinylm.manual_seed(args.seed)
    model = GPT(GPTConfig(**model_config(args)))
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})


def run_rounds(args: argparse.Namespace, frameworks: list[str], weights: Path) -> dict:
    from timing import OthersCPU

    cmd = [sys.executable, __file__, *sys_argv(args), "--weights", str(weights)]
    workers = {
        name: subprocess.Popen(
            [*cmd, "--worker", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for name in frameworks
    }
    rounds: dict[str, list[dict]] = {name: [] for name in frameworks}
    monitor = OthersCPU([os.getpid(), *(w.pid for w in workers.values())])
    others = []
    try:
        for r in range(args.rounds):
            monitor.start()
            for name, w in workers.items():  # one round each, in turn
                w.stdin.write("go\n")
                w.stdin.flush()
                line = w.stdout.readline()
                while line and not line.startswith("ROUND "):
                    print(line, end="", file=sys.stderr)
                    line = w.stdout.readline()
                if not line:
                    raise RuntimeError(f"the {name} worker failed (its messages are above)")
                rounds[name].append(json.loads(line[len("ROUND ") :]))
            others.append(monitor.stop())
            print(f"  round {r + 1}/{args.rounds}", end="\r", file=sys.stderr, flush=True)
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait()
    return {"rounds": rounds, "others_cpu": others}


def sys_argv(args: argparse.Namespace) -> list[str]:
    return [a for a in (args.argv if args.argv is not None else sys.argv[1:])]


def summarize(args: argparse.Namespace, measured: dict) -> dict:
    from timing import BUSY_CORES, ratio_summary

    n = args.new_tokens
    table = {}
    for fw, rounds in measured["rounds"].items():
        kept = rounds[1:]  # the first round compiles and warms up
        for key in kept[0]["times"]:
            rates = np.array([n / r["times"][key] for r in kept])
            p10, p90 = np.percentile(rates, [10, 90])
            table[f"{fw} {key}"] = {
                "tokens_per_s": float(np.median(rates)),
                "spread": float((p90 - p10) / np.median(rates)),
            }
    ratios = {}
    if "tinylm" in measured["rounds"]:  # the int8 target: int8 speed / float32 speed, per round
        tl = measured["rounds"]["tinylm"][1:]
        for key in tl[0]["times"]:
            if key.startswith("int8"):
                f32 = key.replace("int8", "f32")
                per_round = [r["times"][f32] / r["times"][key] for r in tl]
                ratios[f"tinylm {key} / tinylm {f32}"] = ratio_summary(per_round)
    if "torch" in measured["rounds"] and "tinylm" in measured["rounds"]:
        tl, tt = measured["rounds"]["tinylm"][1:], measured["rounds"]["torch"][1:]
        for key in tt[0]["times"]:
            for variant in (key, key.replace("f32", "int8")):
                per_round = [b["times"][key] / a["times"][variant] for a, b in zip(tl, tt)]
                ratios[f"tinylm {variant} / torch {key}"] = ratio_summary(per_round)
        same = [tl[-1]["tokens"][k] == tt[-1]["tokens"][k] for k in tt[-1]["tokens"] if "f32" in k]
        print(f"greedy tokens equal to PyTorch's (float32): {sum(same)} of {len(same)} runs")
    busy = [o for o in measured["others_cpu"][1:] if o is not None and o > BUSY_CORES]
    if busy:
        print(
            f"WARNING: in {len(busy)} of {len(measured['others_cpu']) - 1} rounds other processes "
            f"used > {BUSY_CORES} of a core (up to {max(busy):.2f}): figures measured under load"
        )
    return {"table": table, "ratios": ratios}


def plot(args: argparse.Namespace, table: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = sorted({k.rsplit("|", 1)[0] for k in table})
    for name in names:
        ts = args.context_list
        ys = [table[f"{name}|{t}"]["tokens_per_s"] for t in ts]
        ax.plot(ts, ys, "o-" if "cache" in name and "no-cache" not in name else "s--", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("context length T (tokens)")
    ax.set_ylabel("tokens / s (median over rounds)")
    ax.set_title(f"greedy generation, {args.n_layer} layers × {args.n_embd} wide, CPU")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = argv
    if args.worker:
        return run_worker(args)
    sys.path.insert(0, str(HERE))  # timing.py, torch_gpt.py
    frameworks = [args.only] if args.only else ["tinylm", "torch"]
    if "torch" in frameworks:
        try:
            import torch  # noqa: F401 - only whether it is there; the worker uses it
        except ImportError:
            print("PyTorch is not installed: tinylm alone (--only tinylm)", file=sys.stderr)
            frameworks = ["tinylm"]
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "weights.npz"
        write_weights(args, weights)
        measured = run_rounds(args, frameworks, weights)
    result = summarize(args, measured)
    from tinylm.kernels.numba.vectors import note as numba_vectors

    from tinylm.environment import numpy_blas

    print(f"NumPy's BLAS: {numpy_blas()}")
    print(f"Numba's vectors (tinylm's kernels): {numba_vectors()}")
    print(f"tokens/s, median over {args.rounds - 1} rounds (spread = (p90 − p10) / median):")
    for key, row in result["table"].items():
        print(f"  {key:<28} {row['tokens_per_s']:10.1f} tok/s   spread {row['spread']:.0%}")
    for key, summary in result["ratios"].items():
        print(f"  {key}: {summary.describe()}")
    plot(args, result["table"])
    print(f"plot: {args.plot}")
    if args.json:
        out = {
            "table": result["table"],
            "ratios": {k: vars(v) for k, v in result["ratios"].items()},
        }
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
