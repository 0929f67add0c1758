"""The kernel benchmark (benchmarks/bench_kernels.py) runs end to end in quick mode and prints
its table, directly and as ``tinylm bench kernels``."""

import os
import sys
from pathlib import Path

import pytest

from tinylm import cli

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))


OPS = ("softmax", "log_softmax", "layer_norm", "gelu_tanh", "gelu_exact", "cross_entropy",
       "attention", "adamw", "lstm", "linear")  # fmt: skip


def _table_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("op "))
    return [ln.split() for ln in lines[first + 2 :] if ln.split() and ln.split()[0] in OPS]


def test_quick_benchmark_in_separate_processes(capsys, tmp_path):
    """The default: a tinylm worker and a PyTorch worker take turns (here with a baseline
    tinylm too); each op has a kernel row and a public row, each with its ratio against
    PyTorch."""
    import bench_kernels

    argv = ["--quick", "--rounds", "1", "--repeats", "1", "--settle", "0.01"]
    argv += ["--plot", str(tmp_path / "k.png")]
    argv += ["--baseline", sys.executable]  # a third worker: "before", here the same code
    assert bench_kernels.main(argv) == 0
    out = capsys.readouterr().out
    assert "separate processes" in out and "memory bandwidth" in out
    assert "vs base" in out and "tinylm@base ms" in out
    rows = _table_rows(out)
    kind = [next(c for c in r if c in ("kernel", "public")) for r in rows]
    assert {(r[0], k) for r, k in zip(rows, kind)} == {
        (op, kind) for op in OPS for kind in ("kernel", "public")
    }
    assert all(any(c.endswith("x") and c[:-1].replace(".", "").isdigit() for c in r) for r in rows)
    assert (tmp_path / "k.png").stat().st_size > 0


def test_quick_benchmark_in_one_process_torch_first(capsys):
    import bench_kernels

    argv = ["--quick", "--rounds", "2", "--repeats", "1", "--same-process", "--no-plot"]
    argv += ["--settle", "0.01"]
    assert bench_kernels.main([*argv, "--no-reference"]) == 0
    out = capsys.readouterr().out
    assert "2 alternating rounds (one process, PyTorch first)" in out
    assert len(_table_rows(out)) == 2 * len(bench_kernels.op_rows(quick=True))
    assert "numpy ms" not in out and "numba ms" in out  # --no-reference


def test_ops_picks_the_rows_and_refuses_an_unknown_op(capsys):
    import bench_kernels

    argv = ["--quick", "--rounds", "1", "--repeats", "1", "--same-process", "--no-plot"]
    argv += ["--settle", "0.01", "--no-reference", "--ops", "layer_norm,attention"]
    assert bench_kernels.main(argv) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert {r[0] for r in rows} == {"layer_norm", "attention"}
    assert len(rows) == 2 * (1 + 1)  # one layer_norm shape, one quick attention length
    with pytest.raises(SystemExit):
        bench_kernels.main(["--ops", "layer_norm,softmx"])
    assert "unknown op(s) softmx" in capsys.readouterr().err


def test_summary_marks_a_spread_ratio_unstable():
    """Per-round ratios are paired: a row whose rounds disagree by more than 20 % is marked,
    and the times and ratios reported are the medians over rounds."""
    import bench_kernels

    rows = bench_kernels.op_rows(quick=True)
    rounds = []
    for wobble in [1.0, 1.0, 1.0, 2.0, 0.5]:
        times = {}
        for name, shape, _, _ in rows:
            steady = name != "softmax"  # softmax's torch time wobbles from round to round
            times[f"{name}|{shape}|kernel"] = {
                "numpy": 4e-3, "numba": 1e-3, "torch": 2e-3 * (1.0 if steady else wobble)
            }  # fmt: skip
            times[f"{name}|{shape}|public"] = {"tinylm": 2e-3, "torch": 1e-3}
        rounds.append((times, None))
    table = bench_kernels.summarize(rounds, quick=True)
    by = {(t["name"], t["shape"], t["kind"]): t for t in table}
    soft = by[("softmax", "64x96", "kernel")]["vs_torch"]
    ln = by[("layer_norm", "64x32", "kernel")]["vs_torch"]
    assert soft.unstable and soft.median == 2.0
    assert not ln.unstable and ln.median == 2.0 and ln.spread == 0
    assert by[("layer_norm", "64x32", "public")]["vs_torch"].median == 0.5
    text = bench_kernels.format_table(table, bandwidth=10.0)
    marked = [ln.split()[:3] for ln in text.splitlines() if ln.endswith("UNSTABLE")]
    assert marked == [["softmax", "64x96", "kernel"]]


def test_a_turn_measures_one_row_and_every_row_has_a_key():
    """The workers take turns row by row: ``measure_round(..., key)`` calls that row's
    backends only (untimed once, then ``repeats`` timed calls), and ``row_keys`` names every
    row of the table in order."""
    import bench_kernels

    calls = []
    benches = [bench_kernels.Bench(n, "2x2", "kernel", 0) for n in ("a", "b")]
    for b in benches:
        b.runs["numba"] = lambda n=b.name: calls.append(n)
    got = bench_kernels.measure_round(benches, repeats=3, key="b|2x2|kernel")
    assert list(got) == ["b|2x2|kernel"] and calls == ["b"] * 4
    assert set(bench_kernels.measure_round(benches, repeats=1)) == {"a|2x2|kernel", "b|2x2|kernel"}
    keys = bench_kernels.row_keys(quick=True)
    assert keys[:2] == ["softmax|64x96|kernel", "softmax|64x96|public"]
    assert len(keys) == 2 * len(bench_kernels.op_rows(quick=True)) == len(set(keys))


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
    names = (
        "softmax", "log_softmax", "cross_entropy", "layer_norm", "gelu", "gelu_exact",
        "attention", "attention_probs", "attention_decode", "lstm", "lstm_recurrence",
        "int8_linear", "block_decode", "adam",
    )  # fmt: skip
    assert {f"{name} float32" for name in names} <= set(timings)


def test_thread_hand_over_benchmark_prints_its_table(capsys):
    """benchmarks/bench_threads.py: one round of each comparison prints a row per op with its
    ratio, and tinylm's own thread settings are back in place afterwards."""
    import bench_threads
    from tinylm.kernels import parallel

    before = (parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S, parallel.PIECES_PER_THREAD)
    runs = {
        "sleeping": ["--rounds", "1", "--repeats", "1"],
        "1 pieces": ["--rounds", "2", "--pieces", "3", "1"],
        "OS-placed": ["--rounds", "1", "--repeats", "1", "--placement", "--pause", "0"],
    }
    for variant, argv in runs.items():
        assert bench_threads.main(argv) == 0
        out = capsys.readouterr().out
        rows = [ln for ln in out.splitlines() if ln.startswith(("softmax", "log_softmax", "gelu"))]
        assert len(rows) == 4 and all(f"{variant} " in row for row in rows), out
    assert (parallel.HELPER_SPIN_S, parallel.FINISH_SPIN_S, parallel.PIECES_PER_THREAD) == before


def test_erf_accuracy_script_reports_within_the_bound(capsys):
    """benchmarks/erf_accuracy.py on a sparse grid: a count and a worst error under 2 ulp."""
    import erf_accuracy

    assert erf_accuracy.main(["--step", "100003"]) == 0
    out = capsys.readouterr().out
    worst = float(out.split("at most ")[1].split(" ulp")[0])
    assert 0 < worst <= 2.0, out
