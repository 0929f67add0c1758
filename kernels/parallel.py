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
* :func:`set_num_threads` / :func:`get_num_threads` — as ``torch.set_num_threads``;
* :func:`note_blas_product` / :func:`blas_threads_awake` — the ops that call NumPy's matrix
  products say when they did, and a kernel of moderate size that follows within
  ``policy.BLAS_SPIN_S`` runs on the calling thread: BLAS's own threads are still spinning on
  the other cores then, and a helper would have to share one with them.

NumPy only: importing this imports neither Numba nor CuPy.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .policy import BLAS_SPIN_S, LARGE_WORK, SMALL_WORK

__all__ = [
    "blas_threads_awake",
    "get_num_threads",
    "helper_pool",
    "note_blas_product",
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
_last_product = -math.inf  # time.perf_counter() at the end of the last noted matrix product


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


def note_blas_product(when: float | None = None) -> None:
    """Record that a NumPy matrix product (BLAS, with its own threads) has just finished.

    The ops that call BLAS (``Linear``, ``MatMul``, the embedding's one-hot product) call this
    right after their products; :func:`blas_threads_awake` reads it. ``when``: the
    ``time.perf_counter()`` of the product instead of now (``-math.inf``: none yet, as tests
    that need the threads say)."""
    global _last_product
    _last_product = time.perf_counter() if when is None else when


def blas_threads_awake() -> bool:
    """True within ``policy.BLAS_SPIN_S`` of the last noted matrix product, while BLAS's idle
    threads still spin on the other cores (OpenBLAS's do, for ~60 ms)."""
    return time.perf_counter() - _last_product < BLAS_SPIN_S


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
    ``policy.SMALL_WORK`` (waking threads would cost more than they save), or below
    ``policy.LARGE_WORK`` right after a matrix product (:func:`blas_threads_awake`: the other
    cores are busy with BLAS's spinning threads). Otherwise ``[0, n)`` is cut into two pieces
    per thread, which the threads take in turn.
    """
    work = n if work is None else work
    if (
        _num_threads == 1
        or n < 2
        or work < SMALL_WORK
        or (work < LARGE_WORK and blas_threads_awake())
    ):
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
