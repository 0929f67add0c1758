"""tinylm's threads: one pool that every parallel CPU kernel runs on, and nothing else.

The Numba kernels do not use Numba's own threading (``prange``, which runs on an OpenMP
runtime): in a process that loaded PyTorch first, Numba's OpenMP layer picks up PyTorch's
``libgomp``, and the two runtimes' spinning threads took a GPT step from 50 ms to 270 ms
(figures in ``kernels/README.md``). Instead each kernel is a serial ``nogil`` function of a
range of rows, and this module runs it on ``get_num_threads()`` threads at once: the calling
thread and helpers from one small pool. Idle helpers sleep (they never spin), so tinylm's
speed does not depend on what else is loaded, and it sets no environment variable to get
there. NumPy's BLAS keeps its own threads for the matrix products, between the kernels.

* :func:`parallel_ranges` — ``kernel(start, end, *args)`` over contiguous pieces of ``[0, n)``;
* :func:`on_all_threads` — a job function that takes job numbers from a shared counter;
* :func:`set_num_threads` / :func:`get_num_threads` — as ``torch.set_num_threads``.

NumPy only: importing this imports neither Numba nor CuPy.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .policy import SMALL_WORK

__all__ = [
    "get_num_threads",
    "helper_pool",
    "on_all_threads",
    "parallel_ranges",
    "set_num_threads",
]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_num_threads = _available_cores()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def get_num_threads() -> int:
    """How many threads tinylm's CPU kernels use (default: the cores this process may use)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for tinylm's CPU kernels (``torch.set_num_threads``'s counterpart;
    NumPy's matrix products keep their own setting, see ``threadpoolctl``)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"set_num_threads: need an integer ≥ 1, got {n!r}")
    _num_threads = int(n)


def helper_pool(n_helpers: int) -> ThreadPoolExecutor:
    """The pool of ``n_helpers`` threads beside the calling one: made on first use and remade
    when the count changes (:func:`set_num_threads`)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != n_helpers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(n_helpers, thread_name_prefix="tinylm")
        _pool_size = n_helpers
    return _pool


def _run_with_helpers(work: Callable[[], None]) -> None:
    """``work()`` on the calling thread and on every helper at once; ``work`` itself hands
    out the pieces, so a helper that wakes late only finds what is left, and one that has
    not started when the caller is done is cancelled rather than waited for."""
    n_helpers = _num_threads - 1
    pool = helper_pool(n_helpers)
    helpers = [pool.submit(work) for _ in range(n_helpers)]
    work()
    for helper in helpers:
        if not helper.cancel():  # it started: it may still be finishing its last piece
            helper.result()


def parallel_ranges(kernel: Callable, n: int, *args: Any, work: int | None = None) -> None:
    """``kernel(start, end, *args)`` for contiguous ranges that together cover ``[0, n)``.

    ``kernel`` is a compiled ``nogil`` function, so the threads really run at once. It runs on
    the calling thread alone for the whole range when ``work`` (default ``n``) is below
    ``policy.SMALL_WORK``: waking threads would cost more than they save. Otherwise ``[0, n)``
    is cut into two pieces per thread, which the threads take in turn.
    """
    if _num_threads == 1 or n < 2 or (n if work is None else work) < SMALL_WORK:
        kernel(0, n, *args)
        return
    pieces = min(n, 2 * _num_threads)
    bounds = [n * k // pieces for k in range(pieces + 1)]
    counter = itertools.count()  # next() is atomic: the GIL is held while it runs

    def work_through() -> None:
        while (k := next(counter)) < pieces:
            kernel(bounds[k], bounds[k + 1], *args)

    _run_with_helpers(work_through)


def on_all_threads(jobs: Callable, *args: Any, serial: bool = False) -> None:
    """Run ``jobs(*args, next_job)`` on ``get_num_threads()`` threads at once (on the calling
    thread alone when ``serial``: too little work to share).

    ``jobs`` is a compiled ``nogil`` function that takes job numbers from the shared 1-element
    counter ``next_job`` (``numba/jit.py: take_job``, an atomic fetch-and-add) until none is
    left: the attention kernels, whose jobs are (batch, head) pairs.
    """
    next_job = np.zeros(1, dtype=np.intp)
    if _num_threads == 1 or serial:
        jobs(*args, next_job)
        return
    _run_with_helpers(lambda: jobs(*args, next_job))
