"""Where a GPT training step spends its time, op by op, as the user's code runs it.

    python benchmarks/profile_gpt_step.py                 # nanoGPT's baby config, 60 steps
    python benchmarks/profile_gpt_step.py --threads 1     # the same on one thread

Every autograd ``Function``'s ``forward`` and ``backward`` is wrapped with a timer for the
run (nothing in tinylm is changed), and so are the optimizer step and gradient clipping.
What the timers do not cover — Python in the modules, the engine's graph walk, gradient
accumulation, tensor creation — is reported as one row, "engine and Python". The step is
the benchmark's (``bench_gpt.py``): forward with targets, ``zero_grad``, ``backward``,
``clip_grad_norm_``, ``AdamW.step``. The first steps (compiles, first allocations) are not
counted. Times are medians over steps per row, so that a step disturbed by another process
moves the table less; on a busy machine rerun it. The timers stay in place until the
process ends: run it as a script, not inside a program that goes on.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def all_functions(base: type) -> list[type]:
    """Every subclass of ``base`` that tinylm has defined so far, depth first."""
    found, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def timed(fn: Any, label: str, totals: dict[str, float]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    return wrapper


def instrument(totals: dict[str, float]) -> None:
    """Time every Function's forward/backward, clipping and the optimizers' step."""
    import tinylm
    from tinylm.autograd import Function

    for cls in all_functions(Function):
        for phase in ("forward", "backward"):
            if phase in vars(cls):  # only where the class itself defines it
                fn = getattr(cls, phase)
                setattr(cls, phase, staticmethod(timed(fn, f"{cls.__name__}.{phase}", totals)))
    for cls in [tinylm.optim.Optimizer, *all_functions(tinylm.optim.Optimizer)]:
        if "step" in vars(cls):  # the base class's step calls each subclass's update
            cls.step = timed(cls.step, "optimizer.step", totals)
    tinylm.optim.clip_grad_norm_ = timed(tinylm.optim.clip_grad_norm_, "clip_grad_norm_", totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5, help="steps not counted")
    parser.add_argument("--threads", type=int, default=None, help="tinylm.set_num_threads")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--min-ms", type=float, default=0.05, help="hide smaller rows")
    parser.add_argument("--json", default=None, help="also write every step's seconds per row")
    args = parser.parse_args(argv)

    import tinylm
    from tinylm.data import TextDataset, load_default_corpus, random_starts
    from tinylm.models.gpt import GPT, GPTConfig

    if args.threads is not None:
        tinylm.set_num_threads(args.threads)
    data = TextDataset.from_text(load_default_corpus(), tokenizer="char")
    tinylm.manual_seed(0)
    config = GPTConfig(
        vocab_size=data.vocab_size,
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=0.0,
        bias=False,
    )
    model = GPT(config)
    opt = model.configure_optimizers(1e-3, 0.1, (0.9, 0.99))
    rng = np.random.default_rng(0)
    B, T = args.batch_size, args.block_size

    totals: dict[str, float] = defaultdict(float)
    instrument(totals)
    per_step: dict[str, list[float]] = defaultdict(list)
    for it in range(args.warmup + args.steps):
        starts = random_starts(len(data.train), B, T, rng)
        x = np.stack([data.train[s : s + T] for s in starts])
        y = np.stack([data.train[s + 1 : s + T + 1] for s in starts])
        totals.clear()
        start = time.perf_counter()
        _, loss = model(tinylm.tensor(x), tinylm.tensor(y))
        opt.zero_grad()
        loss.backward()
        tinylm.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step = time.perf_counter() - start
        if it < args.warmup:
            continue
        per_step["step"].append(step)
        for label, seconds in totals.items():
            per_step[label].append(seconds)
        per_step["engine and Python"].append(step - sum(totals.values()))

    if args.json:  # per step, the rows add up to the step exactly (the last row is the rest)
        Path(args.json).write_text(json.dumps(per_step))
    step_ms = 1e3 * float(np.median(per_step.pop("step")))
    rows = sorted(((1e3 * float(np.median(v)), k) for k, v in per_step.items()), reverse=True)
    print(
        f"GPT {args.n_layer}L/{args.n_head}H/{args.n_embd}C, block {T}, batch {B}, "
        f"{tinylm.get_num_threads()} thread(s): median step {step_ms:.1f} ms "
        f"over {args.steps} steps"
    )
    print(f"{'where':<40} {'ms/step':>8} {'share':>6}")
    for ms, label in rows:
        if ms >= args.min_ms:
            print(f"{label:<40} {ms:8.2f} {100 * ms / step_ms:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
