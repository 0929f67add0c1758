"""The kernel benchmark (benchmarks/bench_kernels.py) runs end to end in quick mode and prints
its table, directly and as ``tinylm bench kernels``."""

import os
import sys
from pathlib import Path

import pytest

from tinylm import cli

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))


def test_quick_benchmark_prints_a_table(capsys, tmp_path):
    import bench_kernels

    assert bench_kernels.main(["--quick", "--repeats", "1", "--plot", str(tmp_path / "k.png")]) == 0
    out = capsys.readouterr().out
    assert "memory bandwidth" in out
    for name in (
        "softmax fwd+bwd",
        "cross_entropy fwd+bwd",
        "attention fwd+bwd",
        "adamw step",
        "lstm fwd+bwd",
    ):
        assert name in out
    assert "numba/numpy" in out
    # the attention rows run the op as tinylm's autograd does: P kept at these small sizes
    assert "causal, P kept" in out
    assert (tmp_path / "k.png").stat().st_size > 0


def test_tinylm_bench_kernels_runs_the_script(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the command sets the script's argv
    with pytest.raises(SystemExit) as done:
        cli.main(["bench", "kernels", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinylm bench kernels") and "--quick" in out


def test_compile_time_script_times_every_kernel():
    """benchmarks/compile_time.py: --help answers without compiling, and its child process
    (which imports the Numba backend by its module path) times every kernel. The ambient
    Numba cache is used, so this is quick once the kernels are cached."""
    import compile_time

    with pytest.raises(SystemExit) as done:
        compile_time.main(["--help"])
    assert done.value.code == 0
    timings = compile_time.run("float32", os.environ.get("NUMBA_CACHE_DIR", ""))
    names = ("softmax", "log_softmax", "cross_entropy", "layer_norm", "gelu", "attention", "adam")
    assert {f"{name} float32" for name in names} <= set(timings)
