"""How the Numba kernels take their inputs: dtypes, layouts, and which implementation runs.

* :func:`float32_or_64` wraps each op: float32/float64 inputs run the kernel, anything else
  (float16) the reference.
* :func:`kernel_input` is where each op's wrapper turns the arrays it was given, in whatever
  layout (a read-only broadcast gradient, a transposed view, float64 into a float32 op), into
  the one layout its compiled kernel takes.

The threads the kernels run on are tinylm's own (``kernels/parallel.py``), not Numba's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["float32_or_64", "kernel_input"]


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
    return np.array(a, dtype=dtype, order="C")  # one copy: broadcast, strided, read-only


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
