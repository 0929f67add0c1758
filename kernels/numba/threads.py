"""How the Numba kernels use threads: the thread count per call, and attention's own pool.

* :func:`float32_or_64` wraps each op: float32/float64 inputs run the kernel, anything else
  (float16) the reference; work below a threshold (``kernels/policy.py``) runs on one thread.
* :func:`kernel_input` is where each op's wrapper turns the arrays it was given, in whatever
  layout (a read-only broadcast gradient, a transposed view, float64 into a float32 op), into
  the one layout its compiled kernel takes.
* :func:`on_all_threads` runs a ``nogil`` job function on every Numba thread at once, the
  threads taking job numbers from one shared counter (``jit.take_job``). The attention
  kernels use it instead of ``prange`` (see ``kernels/README.md``, "Attention's threads").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from ..policy import SMALL_WORK

__all__ = ["elements", "float32_or_64", "helper_pool", "kernel_input", "on_all_threads"]


def elements(first: np.ndarray, *args: Any, **kwargs: Any) -> int:
    """The default measure of an op's work: the number of elements of its first array."""
    return first.size


def kernel_input(a: np.ndarray, dtype: Any, contiguous: bool = True) -> np.ndarray:
    """``a`` as a compiled kernel reads it: in ``dtype``, and C-contiguous in memory of its
    own unless the kernel reads strided arrays itself (``contiguous=False``: attention).

    An op's arrays arrive in any layout. The upstream gradient of ``x.sum()`` is a read-only
    broadcast view (all strides 0), a permuted op hands a transposed one, and a float64
    gradient may meet a float32 op. Numba compiles one machine code per combination of dtype,
    layout and read-only flag of its arguments, and an attention kernel compiled for one
    combination refuses the others; here every array is brought to the single combination
    the kernel was compiled for. An array already in it (the common case: a fresh product of
    the op before) is returned as it is, without a copy.
    """
    dtype = np.dtype(dtype)
    if not contiguous:  # the kernel reads any strides, and its signature accepts read-only
        return np.asarray(a, dtype=dtype)
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, dtype=dtype, order="C")  # one copy: broadcast, strided, read-only


def float32_or_64(
    fallback: Callable,
    *,
    work: Callable[..., int] = elements,
    small_work: int = SMALL_WORK,
    dtype_arg: int = 0,
) -> Callable[[Callable], Callable]:
    """Decorator: run the kernel when the op's dtype (that of positional argument
    ``dtype_arg``, the first unless the first is a gradient) is float32/float64, and
    ``fallback`` (the reference op of the same signature) for any other dtype;
    single-threaded when ``work(*args, **kwargs) < small_work`` (waking threads would cost
    more than they save)."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(first, *args, **kwargs):
            if (first, *args)[dtype_arg].dtype not in (np.float32, np.float64):
                return fallback(first, *args, **kwargs)
            if work(first, *args, **kwargs) >= small_work:
                return fn(first, *args, **kwargs)
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                return fn(first, *args, **kwargs)
            finally:
                numba.set_num_threads(threads)

        return wrapper

    return decorate


_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def helper_pool(n_helpers: int) -> ThreadPoolExecutor:
    """The pool of ``n_helpers`` threads that :func:`on_all_threads` hands jobs to: made on
    first use and remade when the count changes (``numba.set_num_threads``)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != n_helpers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(n_helpers, thread_name_prefix="tinylm-attention")
        _pool_size = n_helpers
    return _pool


def on_all_threads(jobs: Callable, *args: Any) -> None:
    """Run ``jobs(*args, next_job)`` on ``numba.get_num_threads()`` threads at once.

    ``jobs`` is a compiled ``nogil`` function (so the threads do run in parallel) that takes
    job numbers from the shared counter ``next_job`` with ``jit.take_job`` until none is left.
    Nothing is split in advance: the calling thread starts at once, and a helper thread that
    is slow to wake up (on a busy or virtual machine that can take longer than the whole
    kernel) only takes what is left. A helper that has not started by the time the caller
    runs out of jobs is cancelled rather than waited for.
    """
    n_helpers = numba.get_num_threads() - 1
    pool = helper_pool(n_helpers) if n_helpers > 0 else None
    next_job = np.zeros(1, dtype=np.intp)
    helpers = [pool.submit(jobs, *args, next_job) for _ in range(n_helpers)]
    jobs(*args, next_job)  # the calling thread works too, until no job is left
    for helper in helpers:
        if not helper.cancel():  # it started: it may still be finishing its last job
            helper.result()
