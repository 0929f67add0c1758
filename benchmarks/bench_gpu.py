"""On a GPU: each CUDA kernel (fwd+bwd) vs PyTorch's on the same GPU, and one GPT training step
of tinylm on the GPU vs the same model in PyTorch (benchmarks/torch_gpt.py) on the GPU.

    python benchmarks/bench_gpu.py [--quick] [--repeats 20] [--skip-gpt]

Needs CuPy and a CUDA device, and a CUDA build of PyTorch for the comparisons (without one,
tinylm's figures are printed alone). Times are the median of ``--repeats`` runs after two
warm-up runs, each closed by a device synchronisation. Run by benchmarks/gpu_check.sh.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def timed(fn: Callable[[], object], sync: Callable[[], None], repeats: int) -> float:
    """Median milliseconds of ``fn``, synchronised, after two warm-up calls."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def kernel_cases(quick: bool):
    """(name, shape text, tinylm fwd+bwd thunk, torch fwd+bwd thunk or None)."""
    import cupy
    from tinylm.kernels import registry

    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None

    def impl(op):
        return registry.implementations(op, "cuda")["cupy"]

    rng = np.random.default_rng(0)
    rows, width = (1024, 256) if quick else (8192, 768)

    def pair(*shape, scale=1.0):
        a = (rng.standard_normal(shape) * scale).astype(np.float32)
        t = torch.tensor(a, device="cuda", requires_grad=True) if torch else None
        return cupy.asarray(a), t

    x, xt = pair(rows, width, scale=2)
    g, gt = pair(rows, width)
    cases = []
    for op, torch_fn in (
        ("softmax", lambda t: torch.softmax(t, -1)),
        ("log_softmax", lambda t: torch.log_softmax(t, -1)),
        ("gelu", lambda t: torch.nn.functional.gelu(t, approximate="tanh")),
    ):
        fwd, bwd = impl(f"{op}_forward"), impl(f"{op}_backward")
        if op == "gelu":
            ours = lambda f=fwd, b=bwd: (f(x), b(x, g))  # noqa: E731
        else:
            ours = lambda f=fwd, b=bwd: b(f(x), g)  # noqa: E731
        theirs = (lambda fn=torch_fn: fn(xt).backward(gt.detach())) if torch else None
        cases.append((f"{op} fwd+bwd", f"{rows}x{width}", ours, theirs))

    w, wt = pair(width)
    b, bt = pair(width)
    ln_f, ln_b = impl("layer_norm_forward"), impl("layer_norm_backward")

    def ln_ours():
        _, mean, rstd = ln_f(x, w, b, 1e-5)
        return ln_b(g, x, w, mean, rstd)

    def ln_theirs():
        torch.nn.functional.layer_norm(xt, (width,), wt, bt, 1e-5).backward(gt.detach())

    cases.append(("layer_norm fwd+bwd", f"{rows}x{width}", ln_ours, ln_theirs if torch else None))

    vocab = 8192 if quick else 50257
    n = 1024 if quick else 8192
    logits, logits_t = pair(n, vocab, scale=2)
    target = rng.integers(0, vocab, n)
    target_c = cupy.asarray(target)
    ce_f, ce_b = impl("cross_entropy_forward"), impl("cross_entropy_backward")
    ones = cupy.full(n, 1.0 / n, dtype=cupy.float32)

    def ce_ours():
        _, lse = ce_f(logits, target_c, -100)
        return ce_b(logits, target_c, lse, ones, -100)

    def ce_theirs():
        t = torch.tensor(target, device="cuda")
        torch.nn.functional.cross_entropy(logits_t, t).backward()

    cases.append(("cross_entropy fwd+bwd", f"{n}x{vocab}", ce_ours, ce_theirs if torch else None))

    at_f, at_b = impl("attention_forward"), impl("attention_backward")
    for t_len in (256,) if quick else (256, 1024):
        for d in (32, 64):
            heads = 768 // d
            q, qt = pair(8, heads, t_len, d)
            k, kt = pair(8, heads, t_len, d)
            v, vt = pair(8, heads, t_len, d)
            go, got = pair(8, heads, t_len, d)

            def at_ours(q=q, k=k, v=v, go=go, d=d):
                out, lse = at_f(q, k, v, d**-0.5, True)
                return at_b(q, k, v, out, lse, go, d**-0.5, True)

            def at_theirs(qt=qt, kt=kt, vt=vt, got=got):
                sdpa = torch.nn.functional.scaled_dot_product_attention
                sdpa(qt, kt, vt, is_causal=True).backward(got.detach())

            shape = f"8x{heads}x{t_len}x{d}"
            cases.append(("causal attention fwd+bwd", shape, at_ours, at_theirs if torch else None))

    size = 1 << (20 if quick else 24)
    p, pt = pair(size)
    grad, gradt = pair(size)
    m, vv = cupy.zeros_like(p), cupy.zeros_like(p)
    adam = impl("adam_update")
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, decoupled=True)
    if torch:
        pt.grad = gradt.detach()
        opt = torch.optim.AdamW([pt], lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, fused=True)
    cases.append(
        (
            "AdamW step",
            f"{size} floats",
            lambda: adam(p, grad, m, vv, step=1, **hyper),
            (lambda: opt.step()) if torch else None,
        )
    )
    return cases, torch


def bench_kernels(args) -> None:
    import cupy

    cases, torch = kernel_cases(args.quick)
    sync_c = cupy.cuda.Device().synchronize
    print(f"{'kernel':26} {'shape':18} {'tinylm ms':>10} {'torch ms':>10} {'ratio':>7}")
    for name, shape, ours, theirs in cases:
        mine = timed(ours, sync_c, args.repeats)
        line = f"{name:26} {shape:18} {mine:10.3f}"
        if theirs is not None:
            ref = timed(theirs, torch.cuda.synchronize, args.repeats)
            line += f" {ref:10.3f} {mine / ref:7.2f}"
        print(line, flush=True)


def bench_gpt(args) -> None:
    """One AdamW training step of the same GPT (nanoGPT's shakespeare-char GPU size)."""
    import cupy

    import tinylm
    from tinylm.models.gpt import GPT, GPTConfig

    config = dict(
        vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.0, bias=False
    )
    batch = 16 if args.quick else 64
    tinylm.manual_seed(0)
    model = GPT(GPTConfig(**config))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    model = model.to("cuda")
    opt = model.configure_optimizers(1e-3, 0.1, (0.9, 0.99))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 65, (batch, config["block_size"]))
    y = rng.integers(0, 65, (batch, config["block_size"]))
    xd, yd = tinylm.tensor(x, device="cuda"), tinylm.tensor(y, device="cuda")

    def step_ours():
        _, loss = model(xd, yd)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    first_ours = step_ours().item()
    mine = timed(step_ours, cupy.cuda.Device().synchronize, args.repeats)
    print(f"GPT step (6x384, T=256, B={batch}): tinylm {mine:.2f} ms", end="", flush=True)
    try:
        import torch

        if not torch.cuda.is_available():
            raise ImportError("no CUDA build of torch")
    except ImportError as err:
        print(f"  (torch: {err})")
        return
    sys.path.insert(0, str(HERE))
    from torch_gpt import TorchGPT, load_tinylm_state

    tmodel = TorchGPT(config)
    load_tinylm_state(tmodel, state)
    tmodel = tmodel.cuda()
    topt = tmodel.configure_optimizers(1e-3, 0.1, (0.9, 0.99))
    xt, yt = torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda")

    def step_theirs():
        _, loss = tmodel(xt, yt)
        topt.zero_grad(set_to_none=True)
        loss.backward()
        topt.step()
        return loss

    first_theirs = step_theirs().item()
    ref = timed(step_theirs, torch.cuda.synchronize, args.repeats)
    print(f", torch eager {ref:.2f} ms, ratio {mine / ref:.2f}")
    print(f"first-step loss: tinylm {first_ours:.6f}, torch {first_theirs:.6f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-gpt", action="store_true")
    args = parser.parse_args(argv)
    import tinylm

    if not tinylm.cuda_is_available():
        print("bench_gpu: no CUDA device (or no CuPy): nothing to measure", file=sys.stderr)
        return 2
    bench_kernels(args)
    if not args.skip_gpt:
        bench_gpt(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
