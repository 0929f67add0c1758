"""benchmarks/bench_generate.py runs end to end (tiny), writes its plot and its figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))


def test_bench_generate_tiny(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import bench_generate

    out = tmp_path / "g.json"
    argv = ["--contexts", "6,9", "--new-tokens", "3", "--rounds", "2", "--repeats", "2"]
    argv += ["--n-layer", "1"]
    argv += [
        "--n-head",
        "2",
        "--n-embd",
        "16",
        "--plot",
        str(tmp_path / "g.png"),
        "--json",
        str(out),
    ]
    assert bench_generate.main(argv) == 0
    assert (tmp_path / "g.png").stat().st_size > 0
    table = json.loads(out.read_text())["table"]
    frameworks = ["tinylm"] + (["torch"] if "torch f32 cache|6" in table else [])
    for fw in frameworks:
        for variant in bench_generate.VARIANTS[fw]:
            for t in (6, 9):
                assert table[f"{fw} {variant}|{t}"]["tokens_per_s"] > 0
    printed = capsys.readouterr().out
    if "torch" in frameworks:  # same weights, same greedy tokens
        assert "greedy tokens equal to PyTorch's (float32): 4 of 4 runs" in printed


def test_bad_arguments_are_refused():
    import bench_generate

    with pytest.raises(SystemExit):
        bench_generate.parse_args(["--contexts", "4", "--new-tokens", "4"])
    with pytest.raises(SystemExit):
        bench_generate.parse_args(["--repeats", "0"])
    assert bench_generate.parse_args([]).repeats == 5  # a round's figure: median of 5 calls
