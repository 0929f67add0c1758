"""The CUDA kernels themselves, run on the CPU through the launcher, vs the reference.

No GPU has to be present for the code of ``kernels/cuda/*.cu`` to run: ``cuda_on_cpu.h``
supplies what the kernels use of CUDA (thread and block indices, ``__syncthreads``,
``__shfl_xor_sync``, shared memory) with one OS thread per CUDA thread, and g++ compiles each
``.cu`` (as :func:`build.source` gives it to NVRTC) with a generated ``main`` that runs one
launch. ``tinylm.kernels.cuda`` runs with ``cupy`` = NumPy and ``get_kernel`` = that program,
so the wrappers' casts, launch configurations and argument lists drive the kernels' own index
arithmetic, masks and shuffles, and the results are compared with the reference at the
tolerances the GPU tests use. What a CPU cannot show (timing, races that need real
concurrency, memory errors) is left to the GPU tests and compute-sanitizer
(benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tinylm.kernels import cuda, reference
from tinylm.kernels.cuda import build

SHIM = Path(__file__).with_name("cuda_on_cpu.h")
CXX = shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++ or clang++)")

C_TYPES = {"float": "float", "int": "int", "long long": "long long"}


def _driver(stem: str) -> str:
    """A main() that loads each argument of a launch from argN.bin, runs the kernel named on
    the command line as grid x block threads, and writes every argument back."""
    calls = []
    signatures = build.kernel_signatures(stem)
    names = build.name_expressions(stem) or tuple(signatures)
    for name in names:
        _, types = signatures[name.split("<")[0]]
        args = [
            f"({t}){'a'}[{i}].data()" if t.endswith("*") else f"*({t}*)a[{i}].data()"
            for i, t in enumerate(types)
        ]
        calls.append(
            f'    if (name == "{name}") launch(grid, block, [&] {{ {name}({", ".join(args)}); }});'
        )
    return f"""#include "cuda_on_cpu.h"
#include "kernel.cu"
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {{
    std::string name = argv[1];
    auto arg = [&](int i) {{ return (unsigned)std::atoi(argv[i]); }};
    dim3 grid{{arg(2), arg(3), arg(4)}}, block{{arg(5), 1, 1}};
    std::string dir = argv[6];
    int n = std::atoi(argv[7]);
    std::vector<std::vector<char>> a(n);
    for (int i = 0; i < n; ++i) {{
        std::ifstream in(dir + "/arg" + std::to_string(i) + ".bin", std::ios::binary);
        a[i].assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        a[i].resize(a[i].size() + 16);  // an empty array still gets a valid pointer
    }}
{chr(10).join(calls)}
    for (int i = 0; i < n; ++i) {{
        std::ofstream out(dir + "/arg" + std::to_string(i) + ".bin", std::ios::binary);
        out.write(a[i].data(), a[i].size() - 16);
    }}
    return 0;
}}
"""


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """stem -> path of its compiled CPU program (compiled once per module, on first use)."""
    root = tmp_path_factory.mktemp("cuda_on_cpu")
    built: dict[str, Path] = {}

    def program(stem: str) -> Path:
        if stem not in built:
            source = build.source(stem)
            folder = root / f"{stem}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"
            folder.mkdir()
            (folder / "kernel.cu").write_text(source)
            (folder / "main.cpp").write_text(_driver(stem))
            exe = folder / stem
            cmd = [CXX, "-std=c++20", "-O1", "-pthread", "-w", f"-I{SHIM.parent}"]
            done = subprocess.run(
                [*cmd, "main.cpp", "-o", str(exe)], cwd=folder, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{stem}.cu does not build on the CPU:\n{done.stderr}"
            built[stem] = exe
        return built[stem]

    return program


@pytest.fixture
def on_cpu(monkeypatch, programs, tmp_path):
    """Run tinylm.kernels.cuda's wrappers with NumPy arrays and the kernels on the CPU."""
    launches = []

    def get_kernel(stem: str, name: str):
        def launch(grid, block, args):
            for i, arg in enumerate(args):
                np.asarray(arg).tofile(tmp_path / f"arg{i}.bin")
            size = (*grid, 1, 1)[:3]
            cmd = [str(programs(stem)), name, *map(str, size), str(block[0])]
            done = subprocess.run(
                [*cmd, str(tmp_path), str(len(args))], capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"{name} failed on the CPU:\n{done.stderr}"
            for i, arg in enumerate(args):
                if isinstance(arg, np.ndarray) and arg.flags.writeable:
                    arg.reshape(-1)[...] = np.fromfile(tmp_path / f"arg{i}.bin", dtype=arg.dtype)
            launches.append(name)

        return launch

    monkeypatch.setattr(cuda, "cupy", NaNNumPy())
    monkeypatch.setattr(cuda, "get_kernel", get_kernel)
    return launches


class NaNNumPy:
    """NumPy, except that new arrays start as NaN: an entry a kernel forgets to write shows."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(*args, **kwargs):
        return NaNNumPy.poison(np.empty(*args, **kwargs))

    @staticmethod
    def empty_like(*args, **kwargs):
        return NaNNumPy.poison(np.empty_like(*args, **kwargs))

    @staticmethod
    def poison(a):
        a[...] = np.nan
        return a


def _close(got, want, tol, name):
    for g, w in zip(
        got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
    ):
        assert g.dtype == np.float32, name
        assert not np.isnan(g).any(), f"{name}: NaN (an entry never written?)"
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale, err_msg=name)


rng = np.random.default_rng(0)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def f64(*arrays):
    return [
        a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
        for a in arrays
    ]


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("tq,tk", [(1, 1), (33, 130), (130, 33), (100, 100)])
@pytest.mark.parametrize("d", [32, 64])
def test_attention_kernels(on_cpu, d, tq, tk, causal):
    q, k, v = f32(1, 2, tq, d), f32(1, 2, tk, d), f32(1, 2, tk, d)
    gout = f32(1, 2, tq, d)
    kw = {"scale": d**-0.5, "is_causal": causal}
    out, lse = cuda.attention_forward(q, k, v, **kw)
    want_out, want_lse = reference.attention_forward(*f64(q, k, v), **kw)
    _close((out, lse), (want_out, want_lse), 2e-5, "attention_forward")
    grads = cuda.attention_backward(q, k, v, out, lse, gout, **kw)
    want = reference.attention_backward(*f64(q, k, v, out, lse, gout), **kw)
    _close(grads, want, 1e-4, "attention_backward")
    assert on_cpu == [
        f"attention_forward<{d}>",
        f"attention_backward_delta<{d}>",
        f"attention_backward_dkdv<{d}>",
        f"attention_backward_dq<{d}>",
    ]


def test_attention_writes_strided_destinations(on_cpu):
    """out= and grads= as views of packed (B, T, 3C)-style buffers, as the GPT passes them."""
    b, h, t, d = 1, 2, 45, 64
    qkv = f32(b, t, 3, h, d).transpose(2, 0, 3, 1, 4)  # q, k, v: (B, H, T, D) views
    q, k, v = qkv[0], qkv[1], qkv[2]
    y = np.full((b, t, h, d), np.nan, np.float32)
    out, lse = cuda.attention_forward(q, k, v, d**-0.5, True, out=y.transpose(0, 2, 1, 3))
    want_out, want_lse = reference.attention_forward(*f64(q, k, v), d**-0.5, True)
    _close((out, lse), (want_out, want_lse), 2e-5, "attention_forward")
    gqkv = np.full((3, b, h, t, d), np.nan, np.float32)
    gout = f32(b, h, t, d)
    cuda.attention_backward(q, k, v, out, lse, gout, d**-0.5, True, grads=tuple(gqkv))
    want = reference.attention_backward(*f64(q, k, v, out, lse, gout), d**-0.5, True)
    _close(tuple(gqkv), want, 1e-4, "attention_backward")


@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (3, 5, 129), (70, 64)])
def test_rowwise_and_elementwise_kernels(on_cpu, shape):
    x, g = f32(*shape, scale=3), f32(*shape)
    for op, args in [
        ("softmax_forward", (x,)),
        ("softmax_backward", (reference.softmax_forward(x), g)),
        ("log_softmax_forward", (x,)),
        ("log_softmax_backward", (reference.log_softmax_forward(x), g)),
        ("gelu_forward", (x,)),
        ("gelu_backward", (x, g)),
        ("gelu_exact_forward", (x,)),
        ("gelu_exact_backward", (x, g)),
    ]:
        _close(getattr(cuda, op)(*args), getattr(reference, op)(*f64(*args)), 2e-5, op)


@pytest.mark.parametrize("rows,hidden", [(1, 1), (3, 33), (32, 128)])
def test_lstm_cell_kernels(on_cpu, rows, hidden):
    gates, c_prev = f32(rows, 4 * hidden, scale=4), f32(rows, hidden, scale=2)
    got = cuda.lstm_cell_forward(gates, c_prev)
    want = reference.lstm_cell_forward(*f64(gates, c_prev))
    _close(got, want, 2e-5, "lstm_cell_forward")
    h, c, act = got
    dh, dc = f32(rows, hidden), f32(rows, hidden)
    got = cuda.lstm_cell_backward(act, c_prev, c, dh, dc)
    want = reference.lstm_cell_backward(*f64(act, c_prev, c, dh, dc))
    _close(got, want, 2e-5, "lstm_cell_backward")
    assert on_cpu == ["lstm_cell_forward", "lstm_cell_backward"]


@pytest.mark.parametrize("n", [1, 7, 200])  # 200 rows: four partial sums of the parameter grads
def test_layer_norm_kernels(on_cpu, n):
    x, g, w, b = f32(n, 48, scale=2), f32(n, 48), f32(48), f32(48)
    _close(
        cuda.layer_norm_forward(x, w, b, 1e-5),
        reference.layer_norm_forward(*f64(x, w, b), 1e-5),
        2e-5,
        "layer_norm_forward",
    )
    _, mean, rstd = reference.layer_norm_forward(x, w, b, 1e-5)
    got = cuda.layer_norm_backward(g, x, w, mean, rstd)
    _close(got, reference.layer_norm_backward(*f64(g, x, w, mean, rstd)), 1e-4, "ln_backward")
    assert on_cpu[-2:] == ["layer_norm_backward_input", "layer_norm_backward_params"]


@pytest.mark.parametrize("v", [5, 1000])
def test_cross_entropy_kernels(on_cpu, v):
    logits = f32(33, v, scale=4)
    target = rng.integers(0, v, 33)
    target[::5] = -100
    got_loss, got_lse = cuda.cross_entropy_forward(logits, target, -100)
    want_loss, want_lse = reference.cross_entropy_forward(*f64(logits), target, -100)
    _close((got_loss, got_lse), (want_loss, want_lse), 2e-5, "cross_entropy_forward")
    grad_rows = f32(33)
    got = cuda.cross_entropy_backward(logits, target, want_lse.astype(np.float32), grad_rows, -100)
    want = reference.cross_entropy_backward(*f64(logits), target, want_lse, *f64(grad_rows), -100)
    _close(got, want, 2e-5, "cross_entropy_backward")


@pytest.mark.parametrize("decoupled", [True, False])
def test_adam_kernel(on_cpu, decoupled):
    p = f32(1000)
    m, v = np.zeros_like(p), np.zeros_like(p)
    p_ref, m_ref, v_ref = p.copy(), m.copy(), v.copy()
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=decoupled)
    for step in range(1, 6):
        grad = f32(1000)
        cuda.adam_update(p, grad, m, v, step=step, **hyper)
        reference.adam_update(p_ref, grad, m_ref, v_ref, step=step, **hyper)
    assert on_cpu == ["adam_update"] * 5
    np.testing.assert_allclose(p, p_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(v, v_ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 128, 65), (5, 33, 7), (3, 100, 40)])
def test_int8_linear_kernel(on_cpu, m, k, n):
    x, scale, bias = f32(m, k), np.abs(f32(n)) * 0.01, f32(n)
    q = rng.integers(-127, 128, (n, k)).astype(np.int8)
    got = cuda.int8_linear(x, q, scale, bias)
    _close(got, reference.int8_linear(*f64(x), q, *f64(scale, bias)), 2e-5, "int8_linear")
    _close(
        cuda.int8_linear(x, q, scale),
        reference.int8_linear(*f64(x), q, *f64(scale)),
        2e-5,
        "no bias",
    )
    assert on_cpu == ["int8_linear", "int8_linear"]
