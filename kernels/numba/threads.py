"""How the Numba kernels take their inputs: dtypes, layouts, and which implementation runs.

* :func:`float32_or_64` wraps each op: float32/float64 inputs run the kernel, anything else
  (float16) the reference.
* :func:`kernel_input` is where each op's wrapper turns the arrays it was given, in whatever
  layout (a read-only broadcast gradient, a transposed view, float64 into a float32 op), into
  the one layout its compiled kernel takes; a large transposed matrix is copied by tiles
  (:func:`transposed_copy`), 4-18x faster than NumPy's copy of it.

The threads the kernels run on are tinylm's own (``kernels/parallel.py``), not Numba's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..parallel import parallel_ranges
from ..policy import copies_by_tiles
from .jit import rjit

__all__ = [
    "c_order_copy",
    "float32_or_64",
    "kernel_input",
    "transposed_copy",
    "transposed_copy_kernel",
]


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
    if not contiguous:  # the kernel reads any strides, and its signature accepts read-only
        return np.asarray(a, dtype=dtype)
    if a.dtype == dtype:
        flags = a.flags  # (each .flags builds a new object: read it once)
        if flags.c_contiguous and flags.writeable:
            return a
        if copies_by_tiles(a):
            return transposed_copy(a)
    return np.array(a, dtype=dtype, order="C")  # one copy: broadcast, strided, read-only


_BLOCK = 64  # transposed_copy's tile: 64 x 64 float64s are 32 KB, in L1 beside its two rows


@rjit
def transposed_copy_kernel(start, end, src, out):
    """out[b, i, j] = src[b, j, i] for the jobs start:end, a job being a band of _BLOCK rows
    of one out[b]. NumPy's copy of a transpose reads one array along its columns, every read
    on another cache line and, with rows a multiple of 4 KB apart, in the same cache set, which
    the L1 cache cannot hold (a 1024 x 1024 float32 took 3.6 ms). Here each tile of src is read
    row by row into a buffer that stays in L1, then written out row by row: every access to
    memory runs along a row (0.33 ms)."""
    batch, n, m = src.shape
    bands = (m + _BLOCK - 1) // _BLOCK
    tile = np.empty((_BLOCK, _BLOCK), dtype=src.dtype)
    for job in range(start, end):
        b, i0 = job // bands, (job % bands) * _BLOCK
        ni = min(_BLOCK, m - i0)
        for j0 in range(0, n, _BLOCK):
            nj = min(_BLOCK, n - j0)
            for jj in range(nj):
                row = src[b, j0 + jj, i0 : i0 + ni]
                for ii in range(ni):
                    tile[jj, ii] = row[ii]
            for ii in range(ni):
                out_row = out[b, i0 + ii, j0 : j0 + nj]
                for jj in range(nj):
                    out_row[jj] = tile[jj, ii]


def transposed_copy(a: np.ndarray) -> np.ndarray:
    """A C-ordered copy of ``a`` (..., m, n) whose last two axes are swapped in memory
    (``a.swapaxes(-1, -2)`` C-contiguous), by tiles on tinylm's threads; the same values as
    ``np.ascontiguousarray(a)``."""
    src = a.swapaxes(-1, -2)
    out = np.empty(a.shape, dtype=a.dtype)
    m, n = a.shape[-2], a.shape[-1]
    src3, out3 = src.reshape(-1, n, m), out.reshape(-1, m, n)
    jobs = src3.shape[0] * ((m + _BLOCK - 1) // _BLOCK)
    parallel_ranges(transposed_copy_kernel, jobs, src3, out3, work=a.size)
    return out


def float32_or_64(fallback: Callable, *, dtype_arg: int = 0) -> Callable[[Callable], Callable]:
    """Decorator: run the kernel when the op's dtype (that of positional argument
    ``dtype_arg``, the first unless the first is a gradient) is float32/float64, and
    ``fallback`` (the reference op of the same signature) for any other dtype."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(first, *args, **kwargs):
            if (first, *args)[dtype_arg].dtype not in (np.float32, np.float64):
                # float16 by NumPy: its overflows give inf in silence, as the kernels do
                with np.errstate(all="ignore"):
                    return fallback(first, *args, **kwargs)
            return fn(first, *args, **kwargs)

        return wrapper

    return decorate


def c_order_copy(a: np.ndarray) -> np.ndarray:
    """A C-ordered copy of ``a``; see :func:`reference.c_order_copy`. A large transposed
    float matrix (``policy.copies_by_tiles``) is copied by :func:`transposed_copy`: NumPy's
    copy of ``x.t()`` took 3.6 ms at 1024 x 1024 float32, the tiles ~0.2 ms."""
    if copies_by_tiles(a):
        return transposed_copy(a)
    return np.array(a, copy=True, order="C")
