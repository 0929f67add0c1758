"""Every environment variable tinylm reads or sets, in one place.

Read (each by the function of the same topic below):

=======================  ==================================================================
``TINYLM_BACKEND``       kernel backend at start-up: ``auto`` (default), ``numpy``,
                         ``numba`` or ``cupy`` (see ``tinylm.set_backend``); a bad
                         value is reported by the first kernel lookup, not at import
``TINYLM_FAST``          ``1``: lessons run with short iteration counts (set in CI)
``TINYLM_PLOTS_DIR``     where lessons write their figures (default: the repository's
                         ``plots/``)
``TINYLM_CACHE``         where downloaded data sets and pre-trained backbones are kept
                         (default ``~/.cache/tinylm``)
``TINYLM_MALLOC``        ``default``: leave glibc's malloc as it is; otherwise ``import
                         tinylm`` keeps freed memory for reuse (``tinylm/allocator.py``)
``TINYLM_VECTOR_WIDTH``  ``256``: Numba compiles tinylm's kernels with LLVM's own choice of
                         vector width; unset (or ``512``): 512-bit vectors on a CPU with
                         AVX-512 (``kernels/numba/vectors.py``)
``OPENBLAS_CORETYPE``    only reported (``tinylm info``, the benchmarks: :func:`numpy_blas`)
=======================  ==================================================================

tinylm sets none: its CPU kernels run on its own threads (``kernels/parallel.py``), which
sleep when idle, so it needs no setting of OpenMP's or OpenBLAS's (and would change other
libraries' behaviour in the same process by making one). It makes two process-wide settings,
neither through the environment: glibc's malloc thresholds (``tinylm/allocator.py``, with
``mallopt``) and, when its first kernel loads on a CPU with AVX-512, the CPU features Numba
compiles with (``kernels/numba/vectors.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "backend",
    "cache_dir",
    "fast",
    "malloc",
    "numpy_blas",
    "plots_dir",
    "vector_width",
]


def backend() -> str:
    """``TINYLM_BACKEND``, lower-cased; ``"auto"`` when unset or empty."""
    return os.environ.get("TINYLM_BACKEND", "").strip().lower() or "auto"


def malloc() -> str:
    """``TINYLM_MALLOC``, lower-cased; ``"keep"`` (tinylm's setting) when unset or empty."""
    return os.environ.get("TINYLM_MALLOC", "").strip().lower() or "keep"


def vector_width() -> str:
    """``TINYLM_VECTOR_WIDTH``, stripped and lower-cased; ``"auto"`` when unset or empty."""
    return os.environ.get("TINYLM_VECTOR_WIDTH", "").strip().lower() or "auto"


def fast() -> bool:
    """True when ``TINYLM_FAST=1``: lessons use their short CI configuration."""
    return os.environ.get("TINYLM_FAST") == "1"


def plots_dir() -> Path | None:
    """``TINYLM_PLOTS_DIR`` as a path, or None when unset."""
    value = os.environ.get("TINYLM_PLOTS_DIR")
    return Path(value) if value else None


def cache_dir() -> Path:
    """``TINYLM_CACHE`` if set, else ``~/.cache/tinylm``."""
    value = os.environ.get("TINYLM_CACHE")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "tinylm"


def numpy_blas() -> str:
    """Which BLAS runs NumPy's matrix products in this process, with which kernels, e.g.
    ``"openblas 0.3.31, SkylakeX kernels, 2 threads"``.

    OpenBLAS picks the kernels for the CPU it finds unless ``OPENBLAS_CORETYPE`` names others.
    Some machines set that variable (with ``OPENBLAS_L2_SIZE``) as a workaround for older
    OpenBLAS builds; on an AVX-512 CPU, ``Haswell`` then halves a float32 product's speed
    (kernels/README.md, "Measured"), while PyTorch's MKL and oneDNN choose their own kernels.
    A speed figure is only comparable with the BLAS it was taken with, so every benchmark
    prints this line (and ``tinylm info``). Needs ``threadpoolctl`` (the ``oracle`` extra) to
    name the kernels; tinylm never changes the setting.
    """
    forced = os.environ.get("OPENBLAS_CORETYPE")
    note = f" (OPENBLAS_CORETYPE={forced} set)" if forced else ""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"unknown: pip install threadpoolctl to name it{note}"
    import numpy  # noqa: F401 - threadpoolctl sees only libraries already loaded

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # NumPy's own first (a wheel's lives in numpy.libs): PyTorch may have loaded another
    blas.sort(key=lambda i: "numpy" not in str(i.get("filepath", "")))
    if not blas:
        return f"none found{note}"
    info = blas[0]
    kernels = f", {info['architecture']} kernels" if info.get("architecture") else ""
    return f"{info['internal_api']} {info['version']}{kernels}, {info['num_threads']} threads{note}"
