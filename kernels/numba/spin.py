"""Waiting without sleeping: the compiled loops that tinylm's helper threads
(``kernels/parallel.py``) and their callers use to hand jobs over without waking a sleeping
thread.

Why spin at all: a sleeping thread is woken by the kernel through its core's interrupt, and on
a virtual machine whose idle cores halt (no halt-polling) that takes 15-40 µs, as long as a
whole exact-GELU piece of work. A spinning thread notices a changed number within ~0.1 µs; a
helper then starts its share ~5 µs after the post (it still has to take the GIL).
Why compiled: a thread that waits in Python holds the GIL, which the thread it waits for
needs. These functions are ``nogil``: while one spins, the other thread runs Python freely.

Each function watches one slot of a small ``int64`` array (``flags``) that the other thread
changes; ``cpu_relax`` (the x86 ``pause`` instruction) between looks keeps the loop from
flooding the memory system. Every wait gives up after ``spins`` looks and says so: the
callers then fall back to sleeping on a lock.
"""

from __future__ import annotations

import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["hand_over", "spins_per_second", "wait_for_change", "wait_for_value"]


@intrinsic
def _load(typingctx, flags, i):
    """flags[i], read from memory every time (an atomic load: the compiler may not keep an
    earlier value in a register, which would make the loop below wait forever)."""
    if not (isinstance(flags, types.Array) and flags.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(arr.data, [args[1]])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(flags, types.intp), codegen


@intrinsic
def _store(typingctx, flags, i, value):
    """flags[i] = value, as an atomic store that the other thread's _load sees."""
    if not (isinstance(flags, types.Array) and flags.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(arr.data, [args[1]])
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(v, ptr, "release", 8)
        return context.get_dummy_value()

    return types.none(flags, types.intp, value), codegen


@intrinsic
def cpu_relax(typingctx):
    """The x86 ``pause`` instruction (a hint that this is a wait loop); nothing elsewhere."""

    def codegen(context, builder, signature, args):
        if "x86" in builder.module.triple:  # LLVM's name for the instruction
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(
                cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause"), []
            )
        return context.get_dummy_value()

    return types.none(), codegen


@njit(cache=True, nogil=True)
def wait_for_value(flags, i, value, spins):
    """Spin until ``flags[i] == value`` (True) or ``spins`` looks have passed (False)."""
    for _ in range(spins):
        if _load(flags, i) == value:
            return True
        cpu_relax()
    return _load(flags, i) == value


@njit(cache=True, nogil=True)
def wait_for_change(flags, i, old, spins):
    """Spin until ``flags[i] != old`` (True) or ``spins`` looks have passed (False)."""
    for _ in range(spins):
        if _load(flags, i) != old:
            return True
        cpu_relax()
    return _load(flags, i) != old


@njit(cache=True, nogil=True)
def hand_over(flags, done_slot, done, watch_slot, old, spins, settle):
    """A helper's step between jobs, all without the GIL: say job ``done`` is finished
    (``flags[done_slot] = done``: the caller waiting in :func:`wait_for_value` goes on), then
    spin until a new job is posted (``flags[watch_slot] != old``). True if one was; then
    keep spinning ``settle`` looks more before returning, so that the poster — which posts,
    then starts its own share in compiled code — has let go of the GIL by the time this thread
    asks for it (asking while it is held means sleeping on it, and a ~20 µs wake-up)."""
    _store(flags, done_slot, done)
    if not wait_for_change(flags, watch_slot, old, spins):
        return False
    for _ in range(settle):
        cpu_relax()
    return True


def spins_per_second() -> float:
    """How many looks :func:`wait_for_change` makes per second on this machine (measured
    once, ~1 ms: ``pause`` takes from ~10 to ~140 cycles depending on the CPU)."""
    flags = np.zeros(1, dtype=np.int64)
    wait_for_change(flags, 0, 0, 10)  # compile or load from the cache first
    n = 20_000
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        wait_for_change(flags, 0, 0, n)
        best = min(best, time.perf_counter() - t)
    return n / max(best, 1e-9)
