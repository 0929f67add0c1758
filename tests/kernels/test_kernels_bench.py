"""The kernel benchmark runs end to end in quick mode and prints its table."""

from tinylm.kernels.bench import main


def test_quick_benchmark_prints_a_table(capsys, tmp_path):
    assert main(["--quick", "--repeats", "1", "--plot", str(tmp_path / "k.png")]) == 0
    out = capsys.readouterr().out
    assert "memory bandwidth" in out
    for name in ("softmax fwd+bwd", "cross_entropy fwd+bwd", "attention fwd+bwd", "adamw step"):
        assert name in out
    assert "numba/numpy" in out
    # the attention rows run the op as tinylm's autograd does: P kept at these small sizes
    assert "causal, P kept" in out
    assert (tmp_path / "k.png").stat().st_size > 0
