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
=======================  ==================================================================

Set, as defaults only (a value the user set is kept), by :func:`apply_thread_defaults` when
``tinylm`` is imported — see :data:`THREAD_DEFAULTS` for why.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "THREAD_DEFAULTS",
    "apply_thread_defaults",
    "backend",
    "cache_dir",
    "fast",
    "plots_dir",
]

#: Defaults for the thread pools that a training step alternates between: OpenBLAS's (matrix
#: products) and the OpenMP runtime's (Numba's parallel kernels). Idle threads of either
#: busy-wait for the next call and steal the cores the other pool needs; these make them
#: sleep instead. Each runtime reads its variable when it loads, so they only take effect
#: when tinylm is imported before numpy (as by the ``tinylm`` command) or before the first
#: parallel kernel.
THREAD_DEFAULTS = {
    "OPENBLAS_THREAD_TIMEOUT": "12",  # 2^12 cycles instead of 2^28 before a thread sleeps
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply_thread_defaults() -> None:
    """Set each of :data:`THREAD_DEFAULTS` that the user has not set."""
    for name, value in THREAD_DEFAULTS.items():
        os.environ.setdefault(name, value)


def backend() -> str:
    """``TINYLM_BACKEND``, lower-cased; ``"auto"`` when unset or empty."""
    return os.environ.get("TINYLM_BACKEND", "").strip().lower() or "auto"


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
