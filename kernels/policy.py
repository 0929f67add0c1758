"""Decisions that more than one place asks about, made in one place.

* When attention keeps P, and in which layout: the autograd op (``tinylm.nn.functional``)
  asks before it gives the forward a buffer for P, and the kernel benchmark asks to time the
  op as training runs it.
* How much work is too little for threads: the Numba kernels run on the calling thread alone
  below these sizes (see ``kernels/README.md``, "Measured", for the figures behind them).
* Which transposed arrays are copied by tiles: the Numba kernels' inputs
  (``numba/threads.py: kernel_input``) and ``contiguous()`` (``c_order_copy``).

Plain constants and NumPy only: importing this imports neither Numba nor CuPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .reference import get_array_module

__all__ = [
    "ATTENTION_BLAS_MAX_SCORES",
    "BLAS_SERIAL_PRODUCT",
    "BLAS_SPIN_S",
    "LARGE_ATTENTION_WORK",
    "LARGE_WORK",
    "PARALLEL_COPY_BYTES",
    "SAVE_PROBS_MAX",
    "SMALL_ATTENTION_WORK",
    "SMALL_WORK",
    "CROSS_ENTROPY_PROBS_MAX",
    "TRANSPOSED_COPY_MIN",
    "attention_keeps_probs",
    "attention_probs_array",
    "copies_by_tiles",
    "cross_entropy_keeps_probs",
    "gelu_keeps_derivative",
]

#: Largest P = softmax(QKᵀ·scale) (elements; 16 MB in float32) that the CPU forward keeps for
#: the backward, which then skips recomputing S = QKᵀ and its exp (about a fifth of its work
#: at a GPT's T = 64). Larger P (long sequences) are recomputed from the saved log-sum-exp,
#: as on the GPU, where flash attention never forms P at all.
SAVE_PROBS_MAX = 1 << 22

#: Largest logits (N·V elements; 4 MB in float32) for which the CPU cross-entropy forward keeps
#: softmax(logits) for the backward, which is then one multiply per element instead of an exp
#: (768×65: 12 → ~4 µs), or, for a mean or a sum, writes the whole gradient (softmax − onehot)/N
#: (or · 1) for the backward to hand on. A language model's vocabulary (256×50257: 51 MB) is
#: recomputed from the saved log-sum-exp instead: that large a buffer would leave the cache and
#: cost memory.
CROSS_ENTROPY_PROBS_MAX = 1 << 20

#: Elements below which a row-wise or element-wise Numba kernel runs on one thread: waking
#: the others costs more than they save, and a descheduled one can cost a time slice (~10 ms).
SMALL_WORK = 1 << 17

#: Attention's B·H·Tq·Tk·D multiply-adds below which it runs on one thread: at small T and D
#: this much is already ~0.25 ms on one core, and a late helper costs little (it is cancelled).
SMALL_ATTENTION_WORK = 1 << 19

#: Largest Tq·Tk per head for which the CPU attention with P kept runs on BLAS products (the
#: full (Tq, Tk) products, masked half included) instead of the blocked kernels (which skip
#: the masked keys). One thread, causal, 12x4 heads of D = 32, forward + backward: T = 64
#: 1.9 → 1.2 ms, T = 128 5.0 → 4.5 ms, T = 256 17.5 → 28 ms.
ATTENTION_BLAS_MAX_SCORES = 128 * 128

#: Seconds after a matrix product during which NumPy's BLAS keeps its threads awake: OpenBLAS's
#: idle threads spin (burning a core each) for ~0.1 s before they sleep (measured: 61 ms of CPU
#: during a 100 ms pause after one product on an earlier VM, ~0.10 s during pauses of 0.1, 0.3
#: and 1 s on the 2026-12-03 one). A tinylm helper thread started in that window
#: shares its core with a spinning BLAS thread, and the calling thread waits for it: a GPT
#: step, whose kernels all run between products, was ~10 % faster with its kernels on one
#: thread. So within this window a kernel runs on the calling thread unless its work is large.
BLAS_SPIN_S = 0.1

#: Multiply-adds M·N·K of one matrix product up to which OpenBLAS computes it on the calling
#: thread alone (its interface/gemm.c: 65536 × GEMM_MULTITHREAD_THRESHOLD, 4 by default), so
#: its own threads stay asleep. Attention's batched products of heads that small (T = 64,
#: D = 32: 131072) are shared out between tinylm's threads instead, a range of heads each.
BLAS_SERIAL_PRODUCT = 65536 * 4

#: Elements (row-wise and element-wise kernels) and multiply-adds (attention) from which a
#: kernel uses all threads even right after a matrix product: long enough that the helpers'
#: share outweighs the core they share with a spinning BLAS thread.
LARGE_WORK = 1 << 22
LARGE_ATTENTION_WORK = 1 << 26

#: Bytes from which ``parallel.copy_array`` copies on all threads. Below ~1 MB the source and
#: the copy stay in one core's cache and that core copies in a few µs (0.4 MB: 4.5 µs alone,
#: 20-30 µs with a helper woken); from 1.5 MB two threads take ~0.7x one's time.
PARALLEL_COPY_BYTES = 1 << 20


#: Elements per matrix from which a float array with its last two axes swapped (``x.t()``) is
#: copied to C order by tiles (``numba/threads.py: transposed_copy``) instead of by NumPy:
#: smaller matrices stay in cache and NumPy copies them as fast (a 128 x 128 float32: 5.6 µs
#: NumPy, 6.2 µs by tiles; 256 x 256: 49 and 20 µs; 12 of 128 x 64: 21 and 30 µs).
TRANSPOSED_COPY_MIN = 1 << 14


def copies_by_tiles(a: Any) -> bool:
    """Is the NumPy array ``a`` copied to C order by tiles: float32/float64, writable (one
    compile per dtype), its last two axes swapped in memory (``a.swapaxes(-1, -2)``
    C-contiguous, as ``x.t()`` or ``x.transpose(-1, -2)`` of a C-ordered x), each matrix of at
    least :data:`TRANSPOSED_COPY_MIN` elements, and not C-ordered already?"""
    return (
        type(a) is np.ndarray
        and a.ndim >= 2
        and a.shape[-1] * a.shape[-2] >= TRANSPOSED_COPY_MIN
        and a.dtype in (np.float32, np.float64)
        and a.flags.writeable
        and not a.flags.c_contiguous
        and a.swapaxes(-1, -2).flags.c_contiguous
    )


def attention_keeps_probs(like: Any, b: int, h: int, tq: int, tk: int) -> bool:
    """Does the attention forward keep P (b, h, tq, tk) for the backward, for arrays like
    ``like``? On the CPU (NumPy arrays) while b·h·tq·tk <= :data:`SAVE_PROBS_MAX`; never on
    the GPU."""
    return get_array_module(like) is np and b * h * tq * tk <= SAVE_PROBS_MAX


def attention_probs_array(b: int, h: int, tq: int, tk: int, dtype: Any) -> np.ndarray:
    """An array for the CPU attention forward to keep P (b, h, tq, tk) in, laid out as its
    kernels write it: where they run on BLAS products (tq·tk ≤ :data:`ATTENTION_BLAS_MAX_SCORES`)
    they compute Pᵀ (``numba/attention.py: attention_probs_kernel`` says why), so its memory
    is a (b, h, tk, tq) array's, seen transposed; else P's rows, C-contiguous. The kernels
    accept P in any layout, at the cost of a copy."""
    if tq * tk <= ATTENTION_BLAS_MAX_SCORES:
        return np.empty((b, h, tk, tq), dtype=dtype).swapaxes(-1, -2)
    return np.empty((b, h, tq, tk), dtype=dtype)


def cross_entropy_keeps_probs(logits: Any) -> bool:
    """Does the cross-entropy forward keep softmax(``logits``) (N, V), or the gradient made
    of it, for the backward? On the CPU while N·V <= :data:`CROSS_ENTROPY_PROBS_MAX`; never on
    the GPU."""
    return get_array_module(logits) is np and logits.size <= CROSS_ENTROPY_PROBS_MAX


def gelu_keeps_derivative(x: Any) -> bool:
    """Does the GELU forward of a training step also write dy/dx (x's shape) for the backward,
    which is then one multiply instead of a second pass of exps and erfs (exact form,
    768×512: ~150 → ~95 µs per forward + backward on the CPU)? On the CPU, at the cost of one
    array of x's size kept until the backward; never on the GPU, where the kernel recomputes
    it from x in registers and memory is what is short."""
    return get_array_module(x) is np
