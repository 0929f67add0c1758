"""Kernel benchmark: each op as a raw kernel and as a user calls it, against PyTorch eager.

Run as ``python benchmarks/bench_kernels.py`` or ``tinylm bench kernels`` (which runs this
script from a repository checkout). float32, transformer-sized arrays. Two rows per op:

* ``kernel``: the registry's kernels on arrays made beforehand, forward + backward (Adam: one
  step), for the NumPy reference, Numba (and CuPy on a GPU); PyTorch the same op on tensors
  made beforehand.
* ``public``: the public API exactly as a user calls it — the input tensors made from NumPy
  arrays, the op of ``tinylm.nn.functional`` (``torch.nn.functional``), ``backward`` — so the
  engine, the Function's wrapper and the copies are all in the figure.

Timing: tinylm and PyTorch each run in their own process, as users run them (``--rounds``, at
least 5; ``--same-process`` instead imports PyTorch first and runs both in one process). In a
round they take turns row by row, the order swapped from row to row and round to round, with
a pause (``--settle``) before each turn so that the other's BLAS and OpenMP threads are asleep;
in its turn a row is called ``--repeats`` times after one untimed call and its best time kept.
``vs torch`` is PyTorch's time over tinylm's (>1: tinylm faster), taken per round between the
two neighbouring turns (a fraction of a second apart, so a drift of the machine over seconds
cancels; whole-round turns, several seconds apart, spread twice as wide on the 2026-12-04 VM)
and reported as the median with the 10th-90th percentile spread (``benchmarks/timing.py``); a
row whose spread exceeds 20 % is marked UNSTABLE: that ratio is not a figure. Rounds during
which other processes used the cores are counted in the header. The ms columns are medians
over rounds; compare ratios, not times.

``--baseline PYTHON`` adds a third worker: tinylm as installed for that interpreter (the
virtual environment of another checkout, e.g. ``main`` before a change), taking its turns
with the others; ``vs base`` is its time over this checkout's (>1: this one faster), paired
per round the same way — a before/after figure that a drifting machine cannot fake.

``numba/numpy`` is the kernel's speed-up over the reference; ``GB/s`` is the bytes every
fused pass must move (inputs read once, outputs written once) over the Numba time, and
``%copy`` compares it with a measured large ``np.copyto`` (read + write).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
F32 = np.float32
KINDS = ("kernel", "public")
BASE = "baseline"  # the worker of --baseline: tinylm as another interpreter has it


@dataclass
class Bench:
    """One row of the table: the op, its shape, kernel or public, the bytes it must move,
    one callable per backend (in this process) and the times collected over the rounds."""

    name: str
    shape: str
    kind: str
    nbytes: int
    runs: dict[str, Callable[[], object]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}|{self.shape}|{self.kind}"


def _sync_cupy() -> None:
    import cupy

    cupy.cuda.Device().synchronize()


def _time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_copy_bandwidth(n_bytes: int = 256 * 2**20, repeats: int = 5) -> float:
    """GB/s of np.copyto over a large float32 array (counting read + write)."""
    src = np.ones(n_bytes // 4, dtype=F32)
    dst = np.empty_like(src)
    best = min(_time_once(lambda: np.copyto(dst, src)) for _ in range(repeats))
    return 2 * n_bytes / best / 1e9


# --------------------------------------------------------------------------------------------
# the rows: shapes and inputs shared by both frameworks, callables built in each one's process
# --------------------------------------------------------------------------------------------


def _shapes(quick: bool) -> dict:
    if quick:
        return dict(
            softmax=(64, 96), layer_norm=(64, 32), gelu=(64, 64), ce=[(64, 65), (16, 1000)],
            attn_t=[16], n_params=2**14, lstm=(10, 4, 8, 16), linear=(64, 32, 48),
        )  # fmt: skip
    return dict(
        softmax=(768, 1024), layer_norm=(768, 128), gelu=(768, 512),
        ce=[(768, 65), (256, 50257)], attn_t=[64, 256], n_params=2**20,
        lstm=(100, 32, 50, 128),  # (T, B, I, H): the LSTM issue's shape
        linear=(768, 128, 512),  # (rows, in, out): the GPT step's MLP c_fc, batch 12 x 64
    )  # fmt: skip


def _inputs(quick: bool) -> dict:
    """Every row's NumPy inputs, drawn from one seed: both processes get the same values."""
    rng = np.random.default_rng(0)
    s = _shapes(quick)

    def randn(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(F32)

    out = {}
    for op in ("softmax", "log_softmax"):
        out[op] = (randn(*s["softmax"], scale=2), randn(*s["softmax"]))
    rows, width = s["layer_norm"]
    out["layer_norm"] = (randn(rows, width), randn(rows, width), randn(width), randn(width))
    out["gelu"] = (randn(*s["gelu"], scale=2), randn(*s["gelu"]))
    for n, v in s["ce"]:
        out[f"ce{n}x{v}"] = (randn(n, v, scale=3), rng.integers(0, v, n), randn(n))
    for t in s["attn_t"]:
        out[f"attn{t}"] = tuple(randn(12, 4, t, 32) for _ in range(4))
    out["adam"] = (randn(s["n_params"]), randn(s["n_params"]))
    t, b, i, h = s["lstm"]
    out["lstm"] = (randn(t, b, i), randn(t, b, h))
    n, i, o = s["linear"]
    out["linear"] = (randn(n, i), randn(o, i, scale=i**-0.5), randn(n, o))
    return out


def op_rows(quick: bool) -> list[tuple[str, str, str, int]]:
    """(name, shape, input key, bytes moved) of every op, in table order."""
    s, inp = _shapes(quick), _inputs(quick)
    rows = []
    for op in ("softmax", "log_softmax"):
        rows.append((op, "x".join(map(str, s["softmax"])), op, 5 * inp[op][0].nbytes))
    r, w = s["layer_norm"]
    rows.append(("layer_norm", f"{r}x{w}", "layer_norm", 5 * inp["layer_norm"][0].nbytes))
    g = "x".join(map(str, s["gelu"]))
    rows.append(("gelu_tanh", g, "gelu", 5 * inp["gelu"][0].nbytes))
    rows.append(("gelu_exact", g, "gelu", 5 * inp["gelu"][0].nbytes))
    for n, v in s["ce"]:
        rows.append(("cross_entropy", f"{n}x{v}", f"ce{n}x{v}", 3 * inp[f"ce{n}x{v}"][0].nbytes))
    for t in s["attn_t"]:
        rows.append(("attention", f"12x4x{t}x32 causal", f"attn{t}", 8 * inp[f"attn{t}"][0].nbytes))
    n = s["n_params"]
    rows.append(("adamw", f"{n} params", "adam", 7 * inp["adam"][0].nbytes))
    n, i, o = s["linear"]
    x, w, g = inp["linear"]
    # compute-bound: GB/s counts each operand read once and y, dx, dW written once
    rows.append(("linear", f"{n}x{i} to {o}", "linear", 2 * (x.nbytes + w.nbytes + g.nbytes)))
    t, b, i, h = s["lstm"]
    # the cell kernels' traffic per step and row: forward reads 4H + H, writes 2H + 4H;
    # backward reads 4H + 4H, writes 4H + H
    rows.append(("lstm", f"T{t} B{b} I{i} H{h}", "lstm", 24 * h * b * t * 4))
    return rows


HYPER = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
GELU = {"gelu_tanh": ("gelu", "tanh"), "gelu_exact": ("gelu_exact", "none")}


def tinylm_runs(quick: bool, reference: bool = True) -> list[Bench]:
    """The tinylm process's rows: kernels (reference, Numba, CuPy) and the public API;
    ``reference=False`` leaves out the NumPy reference (slow: minutes at full size)."""
    from tinylm.kernels import registry
    from tinylm.kernels.policy import attention_keeps_probs, attention_probs_array

    import tinylm
    import tinylm.nn.functional as F
    import tinylm.optim

    inp = _inputs(quick)
    devices = {"numpy": "cpu"} if reference else {}
    if "numba" in registry.implementations("softmax_forward", "cpu"):
        devices["numba"] = "cpu"
    if "cupy" in registry.implementations("softmax_forward", "cuda"):
        devices["cupy"] = "cuda"

    def kernels(op: str, backend: str):
        impl = registry.implementations
        dev = devices[backend]
        return impl(f"{op}_forward", dev)[backend], impl(f"{op}_backward", dev)[backend]

    def to_dev(backend: str, *arrays):
        if devices[backend] == "cuda":
            import cupy

            return tuple(cupy.asarray(a) for a in arrays)
        return arrays

    def T(a, grad=False):  # a user's tensor from a NumPy array (a copy, as torch.tensor makes)
        return tinylm.tensor(a, requires_grad=grad)

    benches = []
    for name, shape, key, nbytes in op_rows(quick):
        kb, pb = Bench(name, shape, "kernel", nbytes), Bench(name, shape, "public", nbytes)
        arrays = inp[key]
        for backend in devices:
            d = to_dev(backend, *arrays)
            if name in ("softmax", "log_softmax"):
                f, b = kernels(name, backend)
                kb.runs[backend] = lambda f=f, b=b, d=d: b(f(d[0]), d[1])
            elif name in GELU:
                f, b = kernels(GELU[name][0], backend)
                kb.runs[backend] = lambda f=f, b=b, d=d: (f(d[0]), b(d[0], d[1]))
            elif name == "layer_norm":
                f, b = kernels("layer_norm", backend)

                def run(f=f, b=b, d=d):
                    _, mean, rstd = f(d[0], d[2], d[3], 1e-5)
                    return b(d[1], d[0], d[2], mean, rstd)

                kb.runs[backend] = run
            elif name == "cross_entropy":
                f, b = kernels("cross_entropy", backend)

                def run(f=f, b=b, d=d):
                    _, lse = f(d[0], d[1], -100)
                    return b(d[0], d[1], lse, d[2], -100)

                kb.runs[backend] = run
            elif name == "attention":
                f, b = kernels("attention", backend)
                bsz, h, t, hd = d[0].shape
                # as tinylm's op does: P kept for the backward while it is small (a new
                # buffer each call, as in training), else recomputed from the log-sum-exp
                p_dims = (bsz, h, t, t) if attention_keeps_probs(d[0], bsz, h, t, t) else None

                def run(f=f, b=b, d=d, p_dims=p_dims, scale=hd**-0.5):
                    probs = attention_probs_array(*p_dims, F32) if p_dims else None
                    out, lse = f(d[0], d[1], d[2], scale, True, probs=probs)
                    return b(d[0], d[1], d[2], out, lse, d[3], scale, True, probs=probs)

                kb.runs[backend] = run
            elif name == "adamw":
                step = registry.implementations("adam_update", devices[backend])[backend]
                state = to_dev(
                    backend, arrays[0].copy(), arrays[1], *(np.zeros_like(arrays[0]) for _ in "mv")
                )
                kb.runs[backend] = lambda s=step, a=state: s(*a, **HYPER, step=10, decoupled=True)
            elif name == "lstm" and devices[backend] == "cpu":
                kb.runs[backend] = _tinylm_lstm(backend, *arrays)
            elif name == "linear" and devices[backend] == "cpu":
                # no kernel of its own: the three BLAS products that _Linear makes (NumPy's
                # BLAS for either CPU backend), y = x Wᵀ, dx = g W, dW = gᵀ x
                kb.runs[backend] = lambda x=d[0], w=d[1], g=d[2]: (x @ w.T, g @ w, g.T @ x)
        # the public API, CPU tensors, exactly as a user writes it
        a = arrays
        if name in ("softmax", "log_softmax"):
            fn, g = getattr(F, name), T(a[1])
            pb.runs["tinylm"] = lambda fn=fn, a=a, g=g: fn(T(a[0], True), -1).backward(g)
        elif name in GELU:
            approx, g = GELU[name][1], T(a[1])
            pb.runs["tinylm"] = lambda ap=approx, a=a, g=g: F.gelu(
                T(a[0], True), approximate=ap
            ).backward(g)
        elif name == "layer_norm":
            g, width = T(a[1]), a[0].shape[-1]

            def run(a=a, g=g, width=width):
                x, w, b = T(a[0], True), T(a[2], True), T(a[3], True)
                F.layer_norm(x, (width,), w, b, 1e-5).backward(g)

            pb.runs["tinylm"] = run
        elif name == "cross_entropy":
            target = T(a[1])
            pb.runs["tinylm"] = lambda a=a, t=target: F.cross_entropy(T(a[0], True), t).backward()
        elif name == "attention":
            g = T(a[3])

            def run(a=a, g=g):
                q, k, v = (T(x, True) for x in a[:3])
                F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)

            pb.runs["tinylm"] = run
        elif name == "adamw":
            p = T(a[0].copy(), True)
            p.grad = T(a[1])
            opt = tinylm.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
            pb.runs["tinylm"] = opt.step
        elif name == "lstm":
            tinylm.manual_seed(0)
            lstm, g = tinylm.nn.LSTM(a[0].shape[-1], a[1].shape[-1]), T(a[1])
            pb.runs["tinylm"] = lambda m=lstm, a=a, g=g: m(T(a[0], True))[0].backward(g)
        elif name == "linear":
            g = T(a[2])
            pb.runs["tinylm"] = lambda a=a, g=g: F.linear(T(a[0], True), T(a[1], True)).backward(g)
        benches += [kb, pb]
    return benches


def _tinylm_lstm(backend: str, x: np.ndarray, g: np.ndarray) -> Callable[[], None]:
    """``tinylm.nn.LSTM`` forward + backward on (T, B, I) float32 ``x`` made beforehand,
    upstream gradient ``g``, with the LSTM cell kernels of ``backend``."""
    from tinylm.kernels import registry

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


def torch_runs(quick: bool) -> list[Bench]:
    """The PyTorch process's rows: the same ops, on tensors made beforehand (``kernel``) and
    as a user calls them (``public``)."""
    import torch
    import torch.nn.functional as F

    inp = _inputs(quick)
    T = torch.tensor  # a copy of the NumPy array, as tinylm.tensor makes
    benches = []
    for name, shape, key, nbytes in op_rows(quick):
        kb, pb = Bench(name, shape, "kernel", nbytes), Bench(name, shape, "public", nbytes)
        a = inp[key]
        if name in ("softmax", "log_softmax"):
            fn, g, x = getattr(F, name), T(a[1]), T(a[0], requires_grad=True)
            kb.runs["torch"] = lambda fn=fn, x=x, g=g: fn(x, -1).backward(g)
            pb.runs["torch"] = lambda fn=fn, a=a, g=g: fn(T(a[0], requires_grad=True), -1).backward(
                g
            )
        elif name in GELU:
            ap, g, x = GELU[name][1], T(a[1]), T(a[0], requires_grad=True)
            kb.runs["torch"] = lambda ap=ap, x=x, g=g: F.gelu(x, approximate=ap).backward(g)
            pb.runs["torch"] = lambda ap=ap, a=a, g=g: F.gelu(
                T(a[0], requires_grad=True), approximate=ap
            ).backward(g)
        elif name == "layer_norm":
            g, width = T(a[1]), a[0].shape[-1]
            x, w, b = (T(v, requires_grad=True) for v in (a[0], a[2], a[3]))
            kb.runs["torch"] = lambda x=x, w=w, b=b, g=g, n=width: F.layer_norm(
                x, (n,), w, b, 1e-5
            ).backward(g)

            def run(a=a, g=g, n=width):
                x, w, b = (T(v, requires_grad=True) for v in (a[0], a[2], a[3]))
                F.layer_norm(x, (n,), w, b, 1e-5).backward(g)

            pb.runs["torch"] = run
        elif name == "cross_entropy":
            x, t, g = T(a[0], requires_grad=True), T(a[1]), T(a[2])
            kb.runs["torch"] = lambda x=x, t=t, g=g: F.cross_entropy(
                x, t, reduction="none"
            ).backward(g)
            pb.runs["torch"] = lambda a=a, t=t: F.cross_entropy(
                T(a[0], requires_grad=True), t
            ).backward()
        elif name == "attention":
            sdpa, g = F.scaled_dot_product_attention, T(a[3])
            q, k, v = (T(x, requires_grad=True) for x in a[:3])
            kb.runs["torch"] = lambda q=q, k=k, v=v, g=g, sdpa=sdpa: sdpa(
                q, k, v, is_causal=True
            ).backward(g)

            def run(a=a, g=g, sdpa=sdpa):
                q, k, v = (T(x, requires_grad=True) for x in a[:3])
                sdpa(q, k, v, is_causal=True).backward(g)

            pb.runs["torch"] = run
        elif name == "adamw":
            for bench in (kb, pb):  # the optimizer's step is the op, either way
                p = T(a[0].copy(), requires_grad=True)
                p.grad = T(a[1])
                opt = torch.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
                bench.runs["torch"] = opt.step
        elif name == "lstm":
            torch.manual_seed(0)
            lstm, g = torch.nn.LSTM(a[0].shape[-1], a[1].shape[-1]), T(a[1])
            x = T(a[0], requires_grad=True)
            kb.runs["torch"] = lambda m=lstm, x=x, g=g: m(x)[0].backward(g)
            pb.runs["torch"] = lambda m=lstm, a=a, g=g: m(T(a[0], requires_grad=True))[0].backward(
                g
            )
        elif name == "linear":
            x, w, g = T(a[0], requires_grad=True), T(a[1], requires_grad=True), T(a[2])
            kb.runs["torch"] = lambda x=x, w=w, g=g: F.linear(x, w).backward(g)
            pb.runs["torch"] = lambda a=a, g=g: F.linear(
                T(a[0], requires_grad=True), T(a[1], requires_grad=True)
            ).backward(g)
        benches += [kb, pb]
    return benches


def row_keys(quick: bool, ops: list[str] | None = None) -> list[str]:
    """The keys of every row (``Bench.key``) in table order, or of the ops named in ``ops``."""
    return [
        f"{name}|{shape}|{kind}"
        for name, shape, _, _ in op_rows(quick)
        if ops is None or name in ops
        for kind in KINDS
    ]


def measure_round(
    benches: list[Bench], repeats: int, key: str | None = None
) -> dict[str, dict[str, float]]:
    """One turn: every backend of the row ``key`` (None: of every row), best of ``repeats``
    calls after one untimed call (it absorbs the hand-over from the row before). Returns
    key -> backend -> seconds."""
    out: dict[str, dict[str, float]] = {}
    for bench in benches:
        if key is not None and bench.key != key:
            continue
        times = out.setdefault(bench.key, {})
        for backend, fn in bench.runs.items():
            call = fn
            if backend == "cupy":

                def call(fn=fn):
                    fn()
                    _sync_cupy()

            call()
            times[backend] = min(_time_once(call) for _ in range(repeats))
    return out


def warm_up(benches: list[Bench]) -> None:
    """Two calls of everything: the first compiles (Numba from its cache, CUDA kernels)."""
    for bench in benches:
        for fn in bench.runs.values():
            for _ in range(2):
                fn()


def make_runs(framework: str, quick: bool, reference: bool = True) -> list[Bench]:
    return tinylm_runs(quick, reference) if framework == "tinylm" else torch_runs(quick)


def run_worker(framework: str, quick: bool, repeats: int, reference: bool = True) -> None:
    """A worker process: build and warm up the rows, then one turn per ``go KEY`` line on
    stdin (the row KEY; ``go`` alone: every row), answering ``ROUND {json}``;
    ``INFO {json}`` once first."""
    benches = make_runs(framework, quick, reference)
    warm_up(benches)
    info: dict = {"framework": framework}
    if framework == "torch":
        import torch

        info.update(version=torch.__version__, threads=torch.get_num_threads())
    else:
        import tinylm

        info.update(threads=tinylm.get_num_threads())
        info["bandwidth"] = measure_copy_bandwidth(32 * 2**20 if quick else 256 * 2**20)
    print("INFO " + json.dumps(info), flush=True)
    for line in sys.stdin:
        command, _, key = line.strip().partition(" ")
        if command != "go":
            break
        print("ROUND " + json.dumps(measure_round(benches, repeats, key or None)), flush=True)


def _read_tagged(worker: subprocess.Popen, tag: str) -> dict | None:
    line = worker.stdout.readline()
    while line and not line.startswith(tag + " "):
        print(line, end="", file=sys.stderr)  # pass on anything else the worker prints
        line = worker.stdout.readline()
    return json.loads(line[len(tag) + 1 :]) if line else None


def run_separate(args: argparse.Namespace, frameworks: list[str]) -> tuple[list, dict] | None:
    """Each framework in its own process (the user's environment, nothing added). In every
    round the workers take turns row by row, so that the times a ratio compares are taken
    a fraction of a second apart, the order swapped from row to row and round to round.
    Returns the rounds and infos."""
    from timing import OthersCPU, settle

    workers, infos = {}, {}
    for name in frameworks:
        python = args.baseline if name == BASE else sys.executable
        role = "tinylm" if name == BASE else name
        cmd = [python, __file__, "--worker", role, "--repeats", str(args.repeats)]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--no-reference"] if args.no_reference else []
        workers[name] = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ)
        )
    try:
        for name, w in workers.items():
            infos[name] = _read_tagged(w, "INFO")
            if infos[name] is None:
                print(f"{name} worker failed (see its messages above)", file=sys.stderr)
                return None
        monitor = OthersCPU([os.getpid(), *(w.pid for w in workers.values())])
        rounds = []
        for r in range(args.rounds):
            merged: dict[str, dict[str, float]] = {}
            monitor.start()  # others' CPU over the whole round: a turn is too short to tell
            for i, row in enumerate(row_keys(args.quick, args.ops)):
                for name in frameworks if (r + i) % 2 == 0 else frameworks[::-1]:
                    w = workers[name]
                    settle(args.settle)  # the other worker's BLAS / OpenMP threads asleep
                    w.stdin.write(f"go {row}\n")
                    w.stdin.flush()
                    got = _read_tagged(w, "ROUND")
                    if got is None:
                        print(f"{name} worker failed (see its messages above)", file=sys.stderr)
                        return None
                    suffix = "@base" if name == BASE else ""
                    for key, times in got.items():
                        merged.setdefault(key, {}).update({b + suffix: t for b, t in times.items()})
            rounds.append((merged, monitor.stop()))
            print(f"  round {r + 1}/{args.rounds}", end="\r", file=sys.stderr, flush=True)
    finally:
        for w in workers.values():
            if w.poll() is None:
                w.stdin.close()
                w.wait()
    return rounds, infos


def run_same_process(args: argparse.Namespace, frameworks: list[str]) -> tuple[list, dict]:
    """Both in this process, PyTorch imported and run first (as a notebook comparing the two
    would have it); the frameworks take turns row by row, as in :func:`run_separate`."""
    from timing import OthersCPU, settle

    benches = {
        name: make_runs(name, args.quick, not args.no_reference)
        for name in sorted(frameworks, reverse=True)
    }
    for b in benches.values():  # "torch" first
        warm_up(b)
    infos = {"tinylm": {"bandwidth": measure_copy_bandwidth(32 * 2**20 if args.quick else 2**28)}}
    monitor, rounds = OthersCPU([os.getpid()]), []
    for r in range(args.rounds):
        merged: dict[str, dict[str, float]] = {}
        monitor.start()
        for i, row in enumerate(row_keys(args.quick, args.ops)):
            for name in list(benches) if (r + i) % 2 == 0 else list(benches)[::-1]:
                settle(args.settle)
                for key, times in measure_round(benches[name], args.repeats, row).items():
                    merged.setdefault(key, {}).update(times)
        rounds.append((merged, monitor.stop()))
    return rounds, infos


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------


def summarize(rounds: list[tuple[dict, float | None]], quick: bool) -> list[dict]:
    """One dict per row: median ms per backend, and the tinylm/torch ratio's summary."""
    from timing import ratio_summary

    table = []
    for name, shape, _key, nbytes in op_rows(quick):
        for kind in KINDS:
            key = f"{name}|{shape}|{kind}"
            per_round = [r[key] for r, _ in rounds if key in r]
            if not per_round:  # a row that --ops left out
                continue
            backends = sorted({b for times in per_round for b in times})
            row = {"name": name, "shape": shape, "kind": kind, "nbytes": nbytes}
            row["ms"] = {b: 1e3 * float(np.median([t[b] for t in per_round])) for b in backends}
            ours = "tinylm" if kind == "public" else "numba" if "numba" in backends else "numpy"
            ratios = [t["torch"] / t[ours] for t in per_round if "torch" in t and ours in t]
            row["vs_torch"] = ratio_summary(ratios) if ratios else None
            base = [t[ours + "@base"] / t[ours] for t in per_round if ours + "@base" in t]
            row["vs_base"] = ratio_summary(base) if base else None
            table.append(row)
    return table


def format_table(table: list[dict], bandwidth: float | None) -> str:
    names = ("numpy", "numba", "tinylm", "cupy", "torch", "numba@base", "tinylm@base")
    backends = [b for b in names if any(b in r["ms"] for r in table)]
    compared = ["vs torch"] + (["vs base"] if any(r.get("vs_base") for r in table) else [])
    head = ["op", "shape", "row", *(f"{b} ms" for b in backends)]
    for c in compared:
        head += [c, "p10-p90", "spread"]
    head += ["numba/numpy", "GB/s", "%copy", ""]
    lines = []
    for r in table:
        ms = r["ms"]
        row = [r["name"], r["shape"], r["kind"]]
        row += [f"{ms[b]:.3f}" if b in ms else "" for b in backends]
        summaries = [r["vs_torch"]] + ([r.get("vs_base")] if len(compared) > 1 else [])
        for s in summaries:
            if s is not None:
                row += [f"{s.median:.2f}x", f"{s.p10:.2f}-{s.p90:.2f}", f"{s.spread:.0%}"]
            else:
                row += ["-", "-", "-"]
        nb = ms.get("numba")
        row.append(f"{ms['numpy'] / nb:.2f}x" if nb and "numpy" in ms else "")
        gbs = r["nbytes"] / (nb * 1e-3) / 1e9 if nb else None
        row.append(f"{gbs:.1f}" if gbs else "")
        row.append(f"{100 * gbs / bandwidth:.0f}%" if gbs and bandwidth else "")
        row.append("UNSTABLE" if any(s is not None and s.unstable for s in summaries) else "")
        lines.append(row)
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(x, widths)).rstrip() for x in [head, *lines]]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def save_plot(table: list[dict], path: Path) -> None:
    """Bars: tinylm's speed-up over PyTorch eager, kernel and public row of each op (log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = [r for r in table if r["kind"] == "kernel"]
    fig, ax = plt.subplots(figsize=(max(8, 1.0 * len(ops)), 5))
    for i, kind in enumerate(KINDS):
        rows = [r for r in table if r["kind"] == kind]
        ys = [r["vs_torch"].median if r["vs_torch"] else 0 for r in rows]
        ax.bar([j + (i - 0.5) * 0.4 for j in range(len(rows))], ys, 0.4, label=kind)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("PyTorch time / tinylm time (fwd+bwd, median of rounds)")
    labels = [f"{r['name']}\n{r['shape']}" for r in ops]
    ax.set_xticks(range(len(ops)), labels, rotation=45, ha="right", fontsize=8)
    ax.legend()
    ax.set_title("tinylm vs PyTorch eager, float32 (higher is faster)")
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
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="calls per row and round (default 10, quick 3)"
    )
    parser.add_argument(
        "--same-process", action="store_true", help="PyTorch imported first, in this process"
    )
    parser.add_argument("--no-torch", action="store_true", help="tinylm only")
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds of pause before each turn (default: benchmarks/timing.py's SETTLE_S)",
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="leave out the NumPy reference (slow)"
    )
    parser.add_argument(
        "--baseline", metavar="PYTHON", help="also time the tinylm of this interpreter (before)"
    )
    parser.add_argument(
        "--ops",
        type=lambda text: text.split(","),
        default=None,
        metavar="OP[,OP]",
        help="only these ops' rows, e.g. --ops layer_norm,attention (default: all)",
    )
    parser.add_argument("--plot", type=Path, default=Path("plots/kernels.png"))
    parser.add_argument("--no-plot", action="store_true", help="skip the bar chart")
    parser.add_argument("--worker", choices=["tinylm", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 10)
    known = sorted({name for name, *_ in op_rows(args.quick)})
    unknown = sorted(set(args.ops or ()) - set(known))
    if unknown:
        parser.error(f"--ops: unknown op(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.worker:
        run_worker(args.worker, args.quick, args.repeats, not args.no_reference)
        return 0

    sys.path.insert(0, str(HERE))  # timing.py
    from timing import BUSY_CORES
    from tinylm.kernels.numba.vectors import note as numba_vectors

    from tinylm.environment import numpy_blas

    frameworks = ["tinylm"]
    if not args.no_torch:
        try:
            import importlib.util

            if importlib.util.find_spec("torch") is not None:
                frameworks.append("torch")
        except ValueError:
            pass
    if "torch" not in frameworks:
        print("measuring tinylm only (no PyTorch here, or --no-torch)")
    if args.same_process and "torch" not in frameworks:
        print("--same-process needs PyTorch", file=sys.stderr)
        return 2
    if args.baseline:
        if args.same_process:
            print("--baseline runs in separate processes only", file=sys.stderr)
            return 2
        frameworks.append(BASE)
    runner = run_same_process if args.same_process else run_separate
    got = runner(args, frameworks)
    if got is None:
        return 1
    rounds, infos = got
    mode = "one process, PyTorch first" if args.same_process else "separate processes"
    busy = [o for _, o in rounds if o is not None and o > BUSY_CORES]
    print(
        f"{args.rounds} alternating rounds ({mode}), best of {args.repeats} calls per round; "
        f"{len(busy)} round(s) in which other processes used > {BUSY_CORES} of a core"
    )
    bandwidth = infos.get("tinylm", {}).get("bandwidth")
    if bandwidth:
        print(f"memory bandwidth (np.copyto, read+write): {bandwidth:.1f} GB/s")
    print(f"NumPy's BLAS: {numpy_blas()}")
    print(f"Numba's vectors (tinylm's kernels): {numba_vectors()}")
    if "torch" in infos and infos["torch"].get("version"):
        print(f"torch {infos['torch']['version']}, {infos['torch']['threads']} threads")
    table = summarize(rounds, args.quick)
    print(format_table(table, bandwidth))
    print("vs torch: PyTorch's time / tinylm's (>1: tinylm faster), median over paired rounds")
    if args.baseline:
        print(f"vs base: the time of {args.baseline}'s tinylm / this checkout's (>1: faster now)")
    if not args.no_plot and "torch" in frameworks:
        save_plot(table, args.plot)
        print(f"plot saved to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
