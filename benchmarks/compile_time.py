"""How long Numba takes to compile every CPU kernel from a cold cache, and to load it warm.

    python benchmarks/compile_time.py            # float32 (training) and float64 (gradcheck)

Each measurement runs in a fresh process with its own empty ``NUMBA_CACHE_DIR``, so nothing
compiled earlier on this machine is reused; the second run of the same process loads the
machine code that the first one cached (what every later ``import`` costs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time
import numpy as np
import tinylm.kernels.numba as K
from tinylm.kernels.policy import attention_probs_array

dtypes = [np.dtype(d) for d in sys.argv[1].split(",")]
rng = np.random.default_rng(0)
timings = {}
for dt in dtypes:
    x = rng.standard_normal((64, 40)).astype(dt)
    g = rng.standard_normal((64, 40)).astype(dt)
    w, b = np.ones(40, dt), np.zeros(40, dt)
    t = rng.integers(0, 40, 64)
    q = rng.standard_normal((2, 2, 40, 16)).astype(dt)
    p = attention_probs_array(2, 2, 40, 40, dt)  # attention's kept P (the BLAS path)
    q1 = q[:, :, :1].copy()  # one new query against a KV cache's time-major keys (decoding)
    kv = np.ascontiguousarray(q.transpose(2, 0, 1, 3)).transpose(1, 2, 0, 3)
    x3, w_hh, h0 = x.reshape(4, 16, 40), x[:40, :10].copy(), np.zeros((16, 10), dt)
    q8, s8 = rng.integers(-127, 128, (20, 40)).astype(np.int8), np.ones(20, dt)
    kv8 = np.zeros((4, 2, 2, 4), dt)  # a block decoding step: time-major cache, 2 heads of 4
    q32 = rng.integers(-127, 128, (32, 32)).astype(np.int8)

    def block(weights, dt=dt, kv8=kv8, x=x, w=w, b=b):
        # a block of width 8 (MLP 32) whose linear layers are slices of weights
        lin = lambda n, k: (weights[:n, :k], np.ones(n, dt), np.zeros(n, dt))  # noqa: E731
        return K.transformer_block_decode(
            x[:2, :8], kv8.copy(), kv8.copy(), 1, (w[:8], b[:8]), lin(24, 8), lin(8, 8),
            (w[:8], b[:8]), lin(32, 8), lin(8, 32), 2, 1e-5, 1e-5, False,
        )  # fmt: skip

    calls = {
        "softmax": lambda: K.softmax_backward(K.softmax_forward(x), g),
        "log_softmax": lambda: K.log_softmax_backward(K.log_softmax_forward(x), g),
        "cross_entropy": lambda: K.cross_entropy_backward(
            x, t, K.cross_entropy_forward(x, t, -100)[1], np.ones(64, dt), -100
        ),
        "layer_norm": lambda: K.layer_norm_backward(g, x, w, *K.layer_norm_forward(x, w, b)[1:]),
        "gelu": lambda: K.gelu_backward(x, K.gelu_forward(x)),
        "gelu_exact": lambda: K.gelu_exact_backward(x, K.gelu_exact_forward(x)),
        "attention": lambda: K.attention_backward(
            q, q, q, *K.attention_forward(q, q, q, 0.25, True), q, 0.25, True
        ),
        "lstm": lambda: K.lstm_cell_backward(
            *(lambda h, c, act: (act, x[:, :10], c, h, h))(
                *K.lstm_cell_forward(x, x[:, :10])
            )
        ),
        "attention_probs": lambda: K.attention_backward(
            q, q, q, *K.attention_forward(q, q, q, 0.25, True, probs=p), q, 0.25, True, probs=p
        ),
        "attention_decode": lambda: K.attention_forward(q1, kv, kv, 0.25, False),
        "lstm_recurrence": lambda: K.lstm_recurrence_backward(
            *(lambda o, a, sh, sc: (o, a, sh, sc, w_hh))(
                *K.lstm_recurrence_forward(x3, w_hh, h0, h0)
            )
        ),
        "int8_linear": lambda: (K.int8_linear(x, q8, s8), K.int8_linear(x[:1], q8, s8)),
        "block_decode": lambda: (block(x[:32, :32]), block(q32)),  # float and int8 weights
        "adam": lambda: [
            K.adam_update(p, p.copy(), np.zeros_like(p), np.zeros_like(p), lr=1e-3, beta1=0.9,
                          beta2=0.99, eps=1e-8, weight_decay=0.1, step=1, decoupled=True)
            for p in (np.ones(10, dt), np.ones(1 << 16, dt))
        ],
    }
    for name, call in calls.items():
        t0 = time.perf_counter()
        call()
        timings[f"{name} {dt}"] = time.perf_counter() - t0
print(repr(timings))
"""


def run(dtypes: str, cache: str) -> dict[str, float]:
    """Seconds per kernel pair for the comma-separated ``dtypes``, measured in a child process
    whose Numba cache is the folder ``cache`` ("" for Numba's default)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, dtypes], env=env, capture_output=True, text=True, check=True
    )
    return eval(out.stdout.strip().splitlines()[-1])  # a dict literal printed by CHILD


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)  # no options: --help only
    for dtypes in ("float32", "float32,float64"):
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            cold = run(dtypes, cache)
            cold_wall = time.perf_counter() - t0
            t0 = time.perf_counter()
            warm = run(dtypes, cache)
            warm_wall = time.perf_counter() - t0
        print(
            f"\n{dtypes}: first run {sum(cold.values()):.1f} s compiling "
            f"({cold_wall:.1f} s process), cached run {sum(warm.values()):.2f} s loading "
            f"({warm_wall:.1f} s process)"
        )
        for name in cold:
            print(f"  {name:24s} cold {cold[name]:6.2f} s   warm {warm[name]:6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
