"""Freed memory kept for the next array: glibc's malloc tuned once, at ``import tinylm``.

Every op returns new arrays, and a GPT step makes and frees a few hundred of them, many of
0.1–2 MB. glibc's malloc (Linux) hands memory above its *mmap threshold* back to the kernel
on ``free`` and trims the top of its heap above its *trim threshold*; its defaults start at
128 KiB and adapt only to the largest block freed so far. The next array of that size then
comes back as fresh pages, and the kernel zero-fills every 4 KiB page on its first touch:
measured on the GPT of ``benchmarks/bench_gpt.py``, ~7,000 such page faults a step (27 MB)
and 43 ms a step, against 2 faults and 28.5 ms with the thresholds below, at the same peak
memory (211 MB). An LSTM of ``tinylm bench kernels`` (forward + backward): 1,633 faults and
18 ms against 0 and 14 ms.

:func:`keep_freed_memory` raises both thresholds with glibc's ``mallopt``: blocks up to 32 MiB
come from the heap, and up to 64 MiB of freed heap stay with the process for reuse instead of
going back to the kernel. That is the whole cost: a process that shrinks from its peak keeps
up to 64 MiB more than before. The setting is process-wide (it also serves NumPy and any
other library); ``TINYLM_MALLOC=default`` leaves glibc as it is. Elsewhere (macOS, Windows,
musl) nothing is done.
"""

from __future__ import annotations

import ctypes
import platform

from tinylm import environment

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

MMAP_THRESHOLD = 32 << 20  #: blocks larger than this are mapped and unmapped on their own
TRIM_THRESHOLD = 64 << 20  #: free heap above this at the top goes back to the kernel

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module's docstring); True if set.

    False where it does not apply: not Linux with glibc, or ``TINYLM_MALLOC=default``."""
    if environment.malloc() == "default" or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them
    except OSError:
        return False
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return False  # not glibc (musl's mallopt does nothing)
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # setting either fixes both (glibc stops adapting them), so both are set
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
