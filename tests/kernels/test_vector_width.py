"""kernels/numba/vectors.py: on a CPU with AVX-512, tinylm's Numba kernels compile for 512-bit
vectors unless the user chose otherwise; the choice is made before anything is compiled."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

from tinylm.kernels.numba.vectors import WIDE_FEATURE, features_for  # noqa: E402

AVX512 = "+64bit,+avx2,+avx512f,+avx512vl,-sse4a"
AVX2 = "+64bit,+avx2,-avx512f,-sse4a"


def test_avx512_host_gets_the_wide_feature_appended() -> None:
    features, why = features_for(AVX512, "auto")
    assert features == f"{AVX512},{WIDE_FEATURE}"
    assert why.startswith("512-bit")
    assert features_for(AVX512, "512")[0] == features


@pytest.mark.parametrize(
    "host, setting, kwargs, reason",
    [
        (AVX512, "256", {}, "TINYLM_VECTOR_WIDTH=256"),
        (AVX512, "auto", {"numba_target_set": True}, "NUMBA_CPU_NAME"),
        (AVX512, "auto", {"avx_enabled": False}, "NUMBA_ENABLE_AVX=0"),
        (AVX2, "auto", {}, "no AVX-512"),
        ("", "auto", {}, "no AVX-512"),
        (AVX512, "auto", {"compiler_exists": True}, "before tinylm's first kernel"),
    ],
)
def test_numba_left_alone(host: str, setting: str, kwargs: dict, reason: str) -> None:
    features, why = features_for(host, setting, **kwargs)
    assert features is None
    assert why.startswith("LLVM's choice") and reason in why


CHILD = """
import numpy as np, llvmlite.binding as llvm
from numba import njit
from numba.core import config
from tinylm.kernels.numba import vectors
print("note", vectors.note())
print("features", config.CPU_FEATURES)
print("avx512", "+avx512f" in llvm.get_host_cpu_features().flatten().split(","))

@njit(fastmath=True)  # compiled here, not cached: its machine code shows the width
def scale(x, y):
    for i in range(x.shape[0]):
        y[i] = x[i] * np.float32(2) + np.float32(1)

x = np.ones(64, np.float32)
scale(x, np.empty_like(x))
print("zmm", "zmm" in "".join(scale.inspect_asm().values()))
"""


def _child(**env: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU")}
    environ.pop("TINYLM_VECTOR_WIDTH", None)
    run = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    out["stderr"] = run.stderr
    return out


def test_a_fresh_process_compiles_for_the_width_chosen() -> None:
    out = _child()
    if out["avx512"] == "True":
        assert out["note"].startswith("512-bit"), out["note"]
        assert out["features"].endswith("," + WIDE_FEATURE)
        assert out["zmm"] == "True"  # LLVM really used 512-bit registers
    else:
        assert out["note"] == "LLVM's choice (this CPU has no AVX-512)"
        assert out["features"] == "None"
        assert out["zmm"] == "False"


def test_tinylm_vector_width_256_leaves_llvm_its_choice() -> None:
    out = _child(TINYLM_VECTOR_WIDTH="256")
    assert out["note"] == "LLVM's choice (TINYLM_VECTOR_WIDTH=256)"
    assert out["features"] == "None"


def test_a_bad_setting_is_one_warning_and_the_default() -> None:
    out = _child(TINYLM_VECTOR_WIDTH="wide")
    assert "TINYLM_VECTOR_WIDTH must be 512, 256 or unset, got 'wide'" in out["stderr"]
    if out["avx512"] == "True":
        assert out["note"].startswith("512-bit")
