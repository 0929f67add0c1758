"""Every kernels/cuda/*.cu compiles for sm_80 and sm_90 (no GPU needed): a syntax error fails CI.

Path 1: nvcc -cubin (preferred, found with shutil.which). Path 2: CuPy's low-level NVRTC
bindings (-arch=compute_XX), which compile without a device. Skips only when neither exists.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from tinylm.kernels.cuda import KERNEL_DIR

CU_FILES = sorted(KERNEL_DIR.glob("*.cu"))
ARCHS = ["80", "90"]


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()  # loads libnvrtc; raises when the library is missing
        return nvrtc
    except Exception:
        return None


NVCC = shutil.which("nvcc")
NVRTC = None if NVCC else _nvrtc()


def test_there_are_cuda_sources():
    names = {p.name for p in CU_FILES}
    assert {"softmax.cu", "cross_entropy.cu", "layer_norm.cu", "gelu.cu", "attention.cu"} <= names
    assert "adam.cu" in names


@pytest.mark.skipif(NVCC is None and NVRTC is None, reason="neither nvcc nor NVRTC available")
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("source", CU_FILES, ids=lambda p: p.name)
def test_cuda_source_compiles(source, arch, tmp_path):
    if NVCC:
        cmd = [NVCC, "-std=c++17", "-cubin", f"-arch=sm_{arch}", "-o", str(tmp_path / "k.cubin")]
        done = subprocess.run([*cmd, str(source)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"nvcc failed for {source.name}:\n{done.stderr}"
        assert (tmp_path / "k.cubin").stat().st_size > 0
    else:
        prog = NVRTC.createProgram(source.read_text(), source.name, [], [])
        try:
            NVRTC.compileProgram(prog, [f"-arch=compute_{arch}", "-std=c++17", f"-I{KERNEL_DIR}"])
        except Exception as err:  # the log says which line is wrong
            pytest.fail(f"NVRTC failed for {source.name}: {err}\n{NVRTC.getProgramLog(prog)}")
