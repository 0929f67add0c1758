"""How wide a vector LLVM may use in tinylm's kernels: 512 bits on a CPU with AVX-512.

LLVM tunes for Intel's AVX-512 server CPUs (Skylake-SP up to Emerald Rapids) with a feature
called ``prefer-256-bit``: its loop vectoriser then fills 256-bit registers (8 float32) even
though the CPU has 512-bit ones (16 float32), because on the oldest of them a core running
512-bit instructions lowered its clock. PyTorch's CPU kernels and OpenBLAS's SkylakeX kernels
use 512-bit registers on the same CPUs. tinylm does too, by adding ``-prefer-256-bit`` to the
CPU features Numba compiles with (``numba.core.config.CPU_FEATURES``) before it compiles
anything; measured on an Emerald Rapids VM (kernels/README.md, "Measured"): the public ops
forward + backward 7–15 % faster, the exact GELU's compute-bound loop 1.3–1.9× on one core.

On a CPU without AVX-512, or one that LLVM already lets use 512-bit registers, the setting
changes nothing. Numba's disk cache keys each kernel by the CPU features it was compiled
for, so the two settings keep separate cached copies.

The setting is process-wide (Numba has one compiler per process), like the malloc
thresholds of ``tinylm/allocator.py``: Numba code of your own compiled after tinylm's kernels
are loaded also may use 512-bit vectors. It is left alone when

* ``TINYLM_VECTOR_WIDTH=256`` asks for LLVM's own choice;
* ``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` is set (your choice of target wins);
* ``NUMBA_ENABLE_AVX=0`` turned AVX off;
* Numba's compiler already exists, because something in the process compiled Numba code
  before tinylm's first kernel was loaded: it cannot change then, and the kernels keep
  LLVM's choice. :func:`note` says which of these applied (``tinylm info`` prints it).
"""

from __future__ import annotations

import warnings

from tinylm import environment

__all__ = ["WIDE_FEATURE", "features_for", "note", "prefer_wide_vectors"]

#: what is added to the host's feature string: "do not prefer 256-bit vectors"
WIDE_FEATURE = "-prefer-256-bit"

_note = "not decided yet (no tinylm kernel loaded)"


def features_for(
    host_features: str,
    setting: str,
    *,
    numba_target_set: bool = False,
    avx_enabled: bool = True,
    compiler_exists: bool = False,
) -> tuple[str | None, str]:
    """Decide: the CPU feature string Numba should compile with (None: leave Numba's own) and
    one line saying why. ``host_features`` is LLVM's flattened list (``+avx512f,-sse4a,...``);
    ``setting`` is ``TINYLM_VECTOR_WIDTH`` ("auto", "512" or "256"; anything else is
    reported by :func:`prefer_wide_vectors` and read as "auto")."""
    if setting == "256":
        return None, "LLVM's choice (TINYLM_VECTOR_WIDTH=256)"
    if numba_target_set:
        return None, "LLVM's choice (NUMBA_CPU_NAME or NUMBA_CPU_FEATURES is set)"
    if not avx_enabled:
        return None, "LLVM's choice (NUMBA_ENABLE_AVX=0)"
    if "+avx512f" not in host_features.split(","):
        return None, "LLVM's choice (this CPU has no AVX-512)"
    if compiler_exists:
        return None, (
            "LLVM's choice (Numba compiled code before tinylm's first kernel loaded, which "
            "fixed its CPU features; import tinylm.kernels.numba first for 512-bit vectors)"
        )
    return f"{host_features},{WIDE_FEATURE}", "512-bit allowed (AVX-512; -prefer-256-bit)"


def prefer_wide_vectors() -> str:
    """Apply :func:`features_for` to this process's Numba; returns :func:`note`. Importing
    this module calls it, and ``kernels/numba/__init__.py`` imports it before any kernel."""
    global _note
    import llvmlite.binding as llvm
    from numba.core import config, registry

    setting = environment.vector_width()
    if setting not in ("auto", "512", "256"):
        warnings.warn(
            f"TINYLM_VECTOR_WIDTH must be 512, 256 or unset, got {setting!r}: using the default",
            stacklevel=2,
        )
        setting = "auto"
    try:
        host = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot read this CPU's features: leave Numba as it is
        host = ""
    features, _note = features_for(
        host,
        setting,
        numba_target_set=config.CPU_NAME is not None or config.CPU_FEATURES is not None,
        avx_enabled=bool(config.ENABLE_AVX),
        # the compiler is made on first use and then kept (a cached_property of the target)
        compiler_exists="_toplevel_target_context" in vars(registry.cpu_target),
    )
    if features is not None:
        config.CPU_FEATURES = features
    return _note


def note() -> str:
    """One line: which vector width tinylm's Numba kernels were compiled for, and why."""
    return _note


# on import, which kernels/numba/__init__.py does before it imports any kernel
prefer_wide_vectors()
