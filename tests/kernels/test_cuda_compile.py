"""Every kernels/cuda/*.cu compiles for sm_80 and sm_90 as the GPU path compiles it (no GPU
needed), so that a kernel that would not build fails CI instead of the first GPU run.

The compiler that matters is NVRTC: ``cupy.RawModule`` compiles with it, and NVRTC lacks
what ``nvcc`` brings implicitly (``math.h``'s ``INFINITY`` for one). The NVRTC test therefore
always runs, through CuPy's own low-level bindings (``cupy_backends.cuda.libs.nvrtc``, which
load ``libnvrtc`` without a device; ``pip install -e ".[dev]"`` installs both), on the text
the launcher compiles (:func:`build.source`), with the options the launcher gives and those
CuPy adds, and with the template kernels resolved through their name expressions as CuPy
resolves them. Where NVRTC cannot be loaded the test fails, naming the missing package: it
never passes by skipping. ``nvcc -cubin`` (when on PATH) is an extra check, not a substitute.
"""

from __future__ import annotations

import platform
import shutil
import subprocess

import pytest
from tinylm.kernels.cuda import build

ARCHS = ["80", "90"]  # A100, H100/H200
STEMS = build.stems()

# What CuPy 13/14 adds to RawModule's options before it calls nvrtcCompileProgram
# (cupy/cuda/compiler.py: _compile_with_cache_cuda adds -ftz=true; compile_using_nvrtc adds the
# architecture, as sm_XX since NVRTC can emit a cubin for it, and the default execution space).
CUPY_ADDS = ("-ftz=true",)
CUPY_APPENDS = ("--device-as-default-execution-space",)

# where the dev extra installs cupy-cuda12x and nvidia-cuda-nvrtc-cu12 (pyproject.toml markers)
NVRTC_WHEELS_EXIST = platform.system() in ("Linux", "Windows") and platform.machine().lower() in (
    "x86_64",
    "amd64",
    "aarch64",
)


def _load_nvrtc():
    """CuPy's NVRTC bindings with libnvrtc loaded, or the reason they are not available."""
    try:
        from cupy_backends.cuda.libs import nvrtc
    except ImportError as err:
        return None, f"CuPy is not installed ({err})"
    try:
        nvrtc.getVersion()  # loads libnvrtc: raises when the library is missing
    except Exception as err:
        return None, f"libnvrtc could not be loaded ({err})"
    return nvrtc, ""


NVRTC, NVRTC_MISSING = _load_nvrtc()
NVCC = shutil.which("nvcc")


def nvrtc_options(arch: str) -> list[str]:
    """The option list nvrtcCompileProgram receives from ``cupy.RawModule`` for ``arch``."""
    return [*build.COMPILE_OPTIONS, *CUPY_ADDS, f"-arch=sm_{arch}", *CUPY_APPENDS]


def nvrtc_compile(source: str, name: str, arch: str, names=()) -> tuple[bytes, dict, str]:
    """Compile as CuPy's _NVRTCProgram does: (cubin, {name expression: lowered name}, log)."""
    prog = NVRTC.createProgram(source, name, [], [])
    try:
        for expression in names:
            NVRTC.addNameExpression(prog, expression)
        try:
            NVRTC.compileProgram(prog, nvrtc_options(arch))
        except NVRTC.NVRTCError:
            pytest.fail(f"NVRTC cannot compile {name} for sm_{arch}:\n{NVRTC.getProgramLog(prog)}")
        lowered = {expression: NVRTC.getLoweredName(prog, expression) for expression in names}
        return NVRTC.getCUBIN(prog), lowered, NVRTC.getProgramLog(prog)
    finally:
        NVRTC.destroyProgram(prog)


def test_there_are_cuda_sources():
    assert set(STEMS) >= {"adam", "attention", "cross_entropy", "gelu", "layer_norm", "softmax"}


def test_nvrtc_is_available():
    """The compile checks below need NVRTC; without it they must not pass quietly."""
    if NVRTC is None and not NVRTC_WHEELS_EXIST:
        pytest.skip(f"no NVRTC wheel for {platform.system()} {platform.machine()}: {NVRTC_MISSING}")
    assert NVRTC is not None, (
        f"NVRTC is needed to check the CUDA kernels: {NVRTC_MISSING}. "
        'pip install -e ".[dev]" installs cupy-cuda12x and nvidia-cuda-nvrtc-cu12.'
    )
    assert tuple(NVRTC.getVersion()) >= (12, 0)
    assert {80, 90} <= set(NVRTC.getSupportedArchs())


needs_nvrtc = pytest.mark.skipif(
    NVRTC is None, reason=f"NVRTC missing (test_nvrtc_is_available says why): {NVRTC_MISSING}"
)


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("stem", STEMS)
def test_kernel_compiles_with_nvrtc_as_cupy_compiles_it(stem, arch):
    names = build.name_expressions(stem)
    cubin, lowered, log = nvrtc_compile(build.source(stem), f"{stem}.cu", arch, names)
    assert len(cubin) > 0
    assert "warning" not in log.lower(), log
    for expression, mangled in lowered.items():  # what RawModule.get_function will look up
        kernel = expression.split("<")[0]
        assert mangled.startswith("_Z") and kernel in mangled, (expression, mangled)
        assert mangled.encode() in cubin, f"{expression} -> {mangled} is not in the cubin"


@needs_nvrtc
def test_nvrtc_check_catches_what_nvcc_hides():
    """The check can fail: INFINITY without common.cuh is what broke the GPU path once."""
    bad = 'extern "C" __global__ void k(float* y) { y[0] = -INFINITY; }'
    prog = NVRTC.createProgram(bad, "bad.cu", [], [])
    try:
        with pytest.raises(NVRTC.NVRTCError):
            NVRTC.compileProgram(prog, nvrtc_options("80"))
        assert "INFINITY" in NVRTC.getProgramLog(prog)
    finally:
        NVRTC.destroyProgram(prog)


def test_source_splices_the_header():
    """CuPy's cache keys on the source text: the header's text must be part of it."""
    header = (build.KERNEL_DIR / build.HEADER).read_text()
    for stem in STEMS:
        text = build.source(stem)
        assert f'#include "{build.HEADER}"' not in text, stem
        assert "#pragma once" not in text, stem
        assert "__device__ __forceinline__ float warp_sum" in text, stem
        assert header.replace("#pragma once\n", "") in text, stem


def test_name_expressions_cover_every_attention_kernel_and_head_size():
    names = build.name_expressions("attention")
    assert build.attention_head_dims() == (32, 64)
    assert len(names) == len(build.ATTENTION_KERNELS) * 2
    assert "attention_backward_dkdv<64>" in names
    assert build.name_expressions("softmax") == ()


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH (NVRTC is the check that counts)")
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("stem", STEMS)
def test_kernel_compiles_with_nvcc(stem, arch, tmp_path):
    source = tmp_path / f"{stem}.cu"
    source.write_text(build.source(stem))
    cubin = tmp_path / "k.cubin"
    cmd = [NVCC, *build.COMPILE_OPTIONS, "-cubin", f"-arch=sm_{arch}", "-o", str(cubin)]
    done = subprocess.run([*cmd, str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nvcc failed for {stem}.cu:\n{done.stderr}"
    assert cubin.stat().st_size > 0
