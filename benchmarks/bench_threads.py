"""How tinylm's helper threads hand work over, measured on the ops a user calls.

    python benchmarks/bench_threads.py                  # spinning vs sleeping helpers
    python benchmarks/bench_threads.py --pieces 8 2     # pieces per thread of parallel_ranges
    python benchmarks/bench_threads.py --placement      # helpers kept off the caller's core

Each row is a public op, forward + backward, tensors made from NumPy arrays as a user makes
them (softmax and log-softmax 768×1024, exact and tanh GELU 768×512). The variants take turns
in one process, round after round (best of ``--repeats`` calls per round), so the machine's
drift cancels in each round's ratio; the table gives the median time of each variant and the
median and range of the rounds' ratios to the first variant.

* ``--modes`` (default): helpers that spin ``parallel.HELPER_SPIN_S`` for their next job and
  callers that spin for a helper's end (tinylm's setting), against both sleeping at once on
  their locks (the spins set to nothing): what ``kernels/numba/spin.py`` buys.
* ``--pieces A B …``: ``parallel.PIECES_PER_THREAD`` = A, B, … with spinning helpers.
* ``--placement``: helpers moved off the caller's CPU before each parallel call (tinylm's
  setting, ``parallel.keep_helpers_off_caller``) against leaving them where the OS puts them.
  Linux stacked helper and caller on one core after a pause, so each turn starts after
  ``--pause`` seconds (0.25 here, none in the other modes).

The figures in kernels/README.md ("Measured") come from this script.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def public_ops() -> dict[str, Callable[[], None]]:
    """The rows: each a call that makes its input tensor, runs the op and its backward."""
    import tinylm
    import tinylm.nn.functional as F

    rng = np.random.default_rng(0)

    def tensor(a: np.ndarray, grad: bool = False) -> tinylm.Tensor:
        return tinylm.tensor(a, requires_grad=grad)

    wide = (rng.standard_normal((768, 1024)) * 2).astype(np.float32)
    g_wide = tensor(rng.standard_normal((768, 1024)).astype(np.float32))
    mid = (rng.standard_normal((768, 512)) * 2).astype(np.float32)
    g_mid = tensor(rng.standard_normal((768, 512)).astype(np.float32))
    return {
        "softmax 768x1024": lambda: F.softmax(tensor(wide, True), -1).backward(g_wide),
        "log_softmax 768x1024": lambda: F.log_softmax(tensor(wide, True), -1).backward(g_wide),
        "gelu exact 768x512": lambda: F.gelu(tensor(mid, True), approximate="none").backward(g_mid),
        "gelu tanh 768x512": lambda: F.gelu(tensor(mid, True), approximate="tanh").backward(g_mid),
    }


def variants(pieces: list[int] | None, placement: bool = False) -> dict[str, Callable[[], None]]:
    """name -> a function that puts tinylm's threads in that variant."""
    from tinylm.kernels import parallel

    spin, finish = parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S

    def setting(
        helper_spin: float, finish_spin: float, n_pieces: int, keep_off: bool = True
    ) -> Callable[[], None]:
        def apply() -> None:
            parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S = helper_spin, finish_spin
            parallel.PIECES_PER_THREAD = n_pieces
            parallel.set_helper_placement(keep_off)
            parallel.note_blas_product(when=-np.inf)  # no product nearby: every thread is used

        return apply

    default = parallel.PIECES_PER_THREAD
    if pieces:
        return {f"{p} pieces": setting(spin, finish, p) for p in pieces}
    if placement:
        return {
            "kept off": setting(spin, finish, default, True),
            "OS-placed": setting(spin, finish, default, False),
        }
    return {"spinning": setting(spin, finish, default), "sleeping": setting(0.0, 0.0, default)}


def best_of(fn: Callable[[], None], repeats: int) -> float:
    fn()  # the first call absorbs the switch from the variant before
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=10, help="calls per row and round")
    parser.add_argument("--pieces", type=int, nargs="+", help="compare PIECES_PER_THREAD values")
    parser.add_argument(
        "--placement", action="store_true", help="helpers kept off the caller's core, or not"
    )
    parser.add_argument(
        "--pause", type=float, help="seconds before each turn (default 0.25 with --placement)"
    )
    args = parser.parse_args(argv)
    pause = args.pause if args.pause is not None else (0.25 if args.placement else 0.0)

    from tinylm.kernels import parallel

    import tinylm

    ops, kinds = public_ops(), variants(args.pieces, args.placement)
    names = list(kinds)
    times = {(op, k): [] for op in ops for k in names}
    own = (parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S, parallel.PIECES_PER_THREAD)
    try:
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for op, fn in ops.items():
                for k in order:
                    kinds[k]()
                    time.sleep(pause)  # every thread asleep before the turn starts
                    times[(op, k)].append(best_of(fn, args.repeats))
            print(f"  round {r + 1}/{args.rounds}", end="\r", flush=True)
    finally:  # tinylm's own settings back
        parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S, parallel.PIECES_PER_THREAD = own
        parallel.set_helper_placement(True)
    print()
    print(f"tinylm {tinylm.get_num_threads()} threads, {args.rounds} alternating rounds, "
          f"best of {args.repeats} calls per round; µs: median over rounds")  # fmt: skip
    head = "".join(f"{k:>14}" for k in names)
    print(f"{'op (forward + backward)':<26}{head}   ratio to '{names[0]}' (median, range)")
    for op in ops:
        first = np.array(times[(op, names[0])])
        cells = "".join(f"{1e6 * np.median(times[(op, k)]):14.0f}" for k in names)
        ratios = [np.array(times[(op, k)]) / first for k in names[1:]]
        said = ", ".join(
            f"{k} {np.median(q):.2f} ({q.min():.2f}-{q.max():.2f})"
            for k, q in zip(names[1:], ratios, strict=True)
        )
        print(f"{op:<26}{cells}   {said}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
