"""Kernel benchmark: reference (NumPy) vs Numba vs CuPy (on a GPU) vs PyTorch eager.

Run as ``python benchmarks/bench_kernels.py`` or ``tinylm bench kernels`` (which runs this
script from a repository checkout). Every kernel is timed forward + backward (Adam: one step)
on transformer-sized arrays, float32. Timings are best-of-N per backend, all in one run:
compare the ratios, not absolute times (a busy machine slows everything).

Columns: milliseconds per backend; ``numba/numpy`` and ``numba/torch`` are speed-ups (>1 means
Numba is faster); ``GB/s`` is the bytes every fused pass must move (inputs read once, outputs
written once) divided by the Numba time, and ``%copy`` compares it with a measured large
``np.copyto`` (read + write), the practical memory-bandwidth ceiling of this machine.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tinylm.kernels import registry
from tinylm.kernels.policy import attention_keeps_probs

F32 = np.float32


@dataclass
class Bench:
    """One row of the table: a name, the bytes it must move, one callable per backend."""

    name: str
    shape: str
    nbytes: int
    runs: dict[str, Callable[[], object]] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)


def _sync_cupy() -> None:
    import cupy

    cupy.cuda.Device().synchronize()


def _synced(fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` followed by a wait for the GPU: a CuPy call returns before its kernels finish."""

    def call() -> None:
        fn()
        _sync_cupy()

    return call


def measure_copy_bandwidth(n_bytes: int = 256 * 2**20, repeats: int = 5) -> float:
    """GB/s of np.copyto over a large float32 array (counting read + write)."""
    src = np.ones(n_bytes // 4, dtype=F32)
    dst = np.empty_like(src)
    best = min(_time_once(lambda: np.copyto(dst, src)) for _ in range(repeats))
    return 2 * n_bytes / best / 1e9


def _time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _torch():
    # PyTorch in this process, as a user comparing the two would have it: tinylm's kernels run
    # on tinylm's own threads, which sleep while PyTorch runs (kernels/parallel.py)
    try:
        import torch

        return torch
    except ImportError:
        return None


def _backends() -> dict[str, str]:
    """Backend name -> device, for every backend available here."""
    out = {"numpy": "cpu"}
    if "numba" in registry.implementations("softmax_forward", "cpu"):
        out["numba"] = "cpu"
    if "cupy" in registry.implementations("softmax_forward", "cuda"):
        out["cupy"] = "cuda"
    return out


def _make_benches(quick: bool) -> list[Bench]:
    rng = np.random.default_rng(0)
    torch = _torch()
    backends = _backends()
    rows, width = (64, 32) if quick else (768, 128)
    ce_shapes = [(64, 65), (64, 1000)] if quick else [(768, 65), (768, 50257)]
    attn_ts = [16, 64] if quick else [64, 256, 1024]
    n_params = 2**14 if quick else 2**20
    benches: list[Bench] = []

    def impl(op: str, backend: str):
        return registry.implementations(op, backends[backend])[backend]

    def to_dev(backend: str, *arrays):
        if backends[backend] == "cuda":
            import cupy

            return tuple(cupy.asarray(a) for a in arrays)
        return arrays

    def randn(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(F32)

    # -- row-wise ops on (rows, width): softmax, log-softmax, LayerNorm, GELU
    x, gy = randn(rows, width, scale=2), randn(rows, width)
    w, b = randn(width), randn(width)
    row_bytes = 5 * x.nbytes  # fwd: read x, write y; bwd: read y (or x) and gy, write gx
    for op, torch_fn in (
        ("softmax", lambda t: torch.softmax(t, -1)),
        ("log_softmax", lambda t: torch.log_softmax(t, -1)),
        ("gelu", lambda t: torch.nn.functional.gelu(t, approximate="tanh")),
    ):
        bench = Bench(f"{op} fwd+bwd", f"{rows}x{width}", row_bytes)
        for backend in backends:
            fwd, bwd = impl(f"{op}_forward", backend), impl(f"{op}_backward", backend)
            xd, gd = to_dev(backend, x, gy)
            if op == "gelu":
                bench.runs[backend] = lambda f=fwd, g=bwd, xd=xd, gd=gd: (f(xd), g(xd, gd))
            else:
                bench.runs[backend] = lambda f=fwd, g=bwd, xd=xd, gd=gd: g(f(xd), gd)
        if torch is not None:
            xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gy)
            bench.runs["torch"] = lambda fn=torch_fn, xt=xt, gt=gt: fn(xt).backward(gt)
        benches.append(bench)

    bench = Bench("layer_norm fwd+bwd", f"{rows}x{width}", row_bytes)
    for backend in backends:
        fwd, bwd = impl("layer_norm_forward", backend), impl("layer_norm_backward", backend)
        xd, gd, wd, bd = to_dev(backend, x, gy, w, b)

        def run(fwd=fwd, bwd=bwd, xd=xd, gd=gd, wd=wd, bd=bd):
            _, mean, rstd = fwd(xd, wd, bd, 1e-5)
            return bwd(gd, xd, wd, mean, rstd)

        bench.runs[backend] = run
    if torch is not None:
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gy)
        wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        bench.runs["torch"] = lambda xt=xt, wt=wt, bt=bt, gt=gt: torch.nn.functional.layer_norm(
            xt, (width,), wt, bt, 1e-5
        ).backward(gt)
    benches.append(bench)

    # -- cross-entropy on (N, V) logits
    for n, v in ce_shapes:
        logits, target = randn(n, v, scale=3), rng.integers(0, v, n)
        grad_rows = randn(n)
        bench = Bench("cross_entropy fwd+bwd", f"{n}x{v}", 3 * logits.nbytes)
        for backend in backends:
            fwd, bwd = (
                impl("cross_entropy_forward", backend),
                impl("cross_entropy_backward", backend),
            )
            ld, td, gd = to_dev(backend, logits, target, grad_rows)

            def run(fwd=fwd, bwd=bwd, ld=ld, td=td, gd=gd):
                _, lse = fwd(ld, td, -100)
                return bwd(ld, td, lse, gd, -100)

            bench.runs[backend] = run
        if torch is not None:
            lt, tt, gt = (
                torch.tensor(logits, requires_grad=True),
                torch.tensor(target),
                torch.tensor(grad_rows),
            )
            bench.runs["torch"] = lambda lt=lt, tt=tt, gt=gt: torch.nn.functional.cross_entropy(
                lt, tt, reduction="none"
            ).backward(gt)
        benches.append(bench)

    # -- causal attention, B=12, H=4, D=32
    scale = 32**-0.5
    sdpa = torch.nn.functional.scaled_dot_product_attention if torch is not None else None
    for t in attn_ts:
        q, k, v, gout = (randn(12, 4, t, 32) for _ in range(4))
        # As tinylm's attention op does: while P = softmax(QKᵀ) is small enough (and on the
        # CPU), the forward keeps it for the backward (a new buffer each call, as in
        # training); otherwise the backward recomputes it from the log-sum-exp.
        kept = attention_keeps_probs(q, 12, 4, t, t)
        label = f"12x4x{t}x32 causal" + (", P kept" if kept else "")
        bench = Bench("attention fwd+bwd", label, 8 * q.nbytes)
        for backend in backends:
            fwd, bwd = impl("attention_forward", backend), impl("attention_backward", backend)
            qd, kd, vd, gd = to_dev(backend, q, k, v, gout)
            p_shape = (12, 4, t, t) if attention_keeps_probs(qd, 12, 4, t, t) else None

            def run(fwd=fwd, bwd=bwd, qd=qd, kd=kd, vd=vd, gd=gd, p_shape=p_shape):
                probs = np.empty(p_shape, dtype=F32) if p_shape else None
                out, lse = fwd(qd, kd, vd, scale, True, probs=probs)
                return bwd(qd, kd, vd, out, lse, gd, scale, True, probs=probs)

            bench.runs[backend] = run
        if torch is not None:
            qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
            gt = torch.tensor(gout)
            bench.runs["torch"] = lambda qt=qt, kt=kt, vt=vt, gt=gt: sdpa(
                qt, kt, vt, is_causal=True
            ).backward(gt)
        benches.append(bench)

    # -- AdamW step over n_params parameters
    p0, g0 = randn(n_params), randn(n_params)
    bench = Bench("adamw step", f"{n_params} params", 7 * p0.nbytes)  # read p,g,m,v; write p,m,v
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, decoupled=True)
    for backend in backends:
        step_fn = impl("adam_update", backend)
        pd, gd, md, vd = to_dev(backend, p0.copy(), g0, np.zeros_like(p0), np.zeros_like(p0))
        bench.runs[backend] = lambda f=step_fn, a=(pd, gd, md, vd): f(*a, **hyper, step=10)
    if torch is not None:
        pt = torch.tensor(p0.copy(), requires_grad=True)
        pt.grad = torch.tensor(g0)
        opt = torch.optim.AdamW([pt], lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
        bench.runs["torch"] = opt.step
    benches.append(bench)

    # -- one LSTM layer over a sequence, the public path: tensors in, forward + backward
    # (the input projection, the recurrence's matrix products and the fused cell kernels)
    t, n, i, h = (10, 4, 8, 16) if quick else (100, 32, 50, 128)
    x, g = randn(t, n, i), randn(t, n, h)
    # the cell kernels' traffic per step and row: forward reads 4H + H, writes 2H + 4H;
    # backward reads 4H + 4H, writes 4H + H
    bench = Bench("lstm fwd+bwd", f"T{t} B{n} I{i} H{h}", 24 * h * n * t * x.itemsize)
    for backend, device in backends.items():
        if device == "cpu":
            bench.runs[backend] = _tinylm_lstm(backend, x, g)
    if torch is not None:
        torch.manual_seed(0)
        lstm_t = torch.nn.LSTM(i, h)
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g)
        bench.runs["torch"] = lambda m=lstm_t, xt=xt, gt=gt: m(xt)[0].backward(gt)
    benches.append(bench)
    return benches


def _tinylm_lstm(backend: str, x: np.ndarray, g: np.ndarray) -> Callable[[], None]:
    """``tinylm.nn.LSTM`` forward + backward on (T, B, I) float32 ``x``, upstream gradient
    ``g``, with the cell kernels of ``backend``."""
    import tinylm

    tinylm.manual_seed(0)
    lstm = tinylm.nn.LSTM(x.shape[-1], g.shape[-1])
    xt, gt = tinylm.tensor(x, requires_grad=True), tinylm.tensor(g)

    def run() -> None:
        before = registry.get_backend()
        registry.set_backend(backend)
        try:
            lstm(xt)[0].backward(gt)
        finally:
            registry.set_backend(before)

    return run


def run_benches(benches: list[Bench], repeats: int) -> None:
    """Best-of-``repeats`` time per backend, the backends taking turns.

    Each round runs every backend in turn: one untimed call (it absorbs the hand-over — after
    a parallel region, OpenMP threads of PyTorch, and of Numba when it uses OpenMP, keep
    spinning for a while and steal the cores from whichever library runs next) and one timed
    call. Taking turns means every backend is measured in the same seconds: on a shared
    machine the speed drifts, and timing one backend's block after another's would compare a
    fast second with a slow one. Two warm-up calls first (the first compiles Numba/CUDA).
    """
    for bench in benches:
        for name, fn in bench.runs.items():
            for _ in range(2):
                fn()
            bench.times[name] = math.inf
        for _ in range(repeats):
            for name, fn in bench.runs.items():
                call = _synced(fn) if name == "cupy" else fn
                call()  # the hand-over call
                bench.times[name] = min(bench.times[name], _time_once(call))


def format_table(benches: list[Bench], bandwidth: float) -> str:
    backends = [
        b for b in ("numpy", "numba", "cupy", "torch") if any(b in x.times for x in benches)
    ]
    head = ["kernel", "shape", *(f"{b} ms" for b in backends)]
    head += ["numba/numpy", "numba/torch", "numba GB/s", "%copy"]
    rows = []
    for bench in benches:
        t = bench.times
        row = [bench.name, bench.shape]
        row += [f"{t[b] * 1e3:.3f}" if b in t else "-" for b in backends]
        nb = t.get("numba")
        row.append(f"{t['numpy'] / nb:.2f}x" if nb else "-")
        row.append(f"{t['torch'] / nb:.2f}x" if nb and "torch" in t else "-")
        gbs = bench.nbytes / nb / 1e9 if nb else None
        row.append(f"{gbs:.1f}" if gbs else "-")
        row.append(f"{100 * gbs / bandwidth:.0f}%" if gbs else "-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save_plot(benches: list[Bench], path: Path) -> None:
    """Grouped bars: speed-up of each backend over the NumPy reference (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [b for b in ("numba", "cupy", "torch") if any(b in x.times for x in benches)]
    labels = [f"{b.name}\n{b.shape}" for b in benches]
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(benches)), 5))
    width = 0.8 / max(1, len(backends))
    for i, backend in enumerate(backends):
        speedups = [
            b.times["numpy"] / b.times[backend] if backend in b.times else 0 for b in benches
        ]
        xs = [j + (i - (len(backends) - 1) / 2) * width for j in range(len(benches))]
        ax.bar(xs, speedups, width, label=backend)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed-up over the NumPy reference (fwd+bwd)")
    ax.set_xticks(range(len(benches)), labels, rotation=45, ha="right", fontsize=8)
    ax.legend()
    ax.set_title("tinylm kernels, float32 (higher is faster)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tinylm bench kernels``; returns a process exit code."""
    parser = argparse.ArgumentParser(
        prog="tinylm bench kernels", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=None, help="best-of-N (default 10, quick 3)")
    parser.add_argument("--plot", type=Path, default=Path("plots/kernels.png"))
    parser.add_argument("--no-plot", action="store_true", help="skip the bar chart")
    parser.add_argument("--only", help="run only the rows whose name contains this (e.g. lstm)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 10)

    bandwidth = measure_copy_bandwidth(32 * 2**20 if args.quick else 256 * 2**20)
    benches = _make_benches(args.quick)
    if args.only:
        benches = [b for b in benches if args.only in b.name]
    run_benches(benches, repeats)
    torch = _torch()
    print(f"memory bandwidth (np.copyto, read+write): {bandwidth:.1f} GB/s; best of {repeats}")
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(format_table(benches, bandwidth))
    if not args.no_plot:
        save_plot(benches, args.plot)
        print(f"plot saved to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
