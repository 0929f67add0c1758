"""tinylm's threads: one pool that every parallel CPU kernel runs on, and nothing else.

The Numba kernels do not use Numba's own threading (``prange``, which runs on an OpenMP
runtime): in a process that loaded PyTorch first, Numba's OpenMP layer picks up PyTorch's
``libgomp``, and the two runtimes' spinning threads took a GPT step from 50 ms to 270 ms
(figures in ``kernels/README.md``). Instead each kernel is a serial ``nogil`` function of a
range of rows, and this module runs it on ``get_num_threads()`` threads at once: the calling
thread and :class:`Helper` threads (one per extra core). A helper spins for its next job
for ``HELPER_SPIN_S`` (0.1 ms) after each one and then sleeps on a lock, so an idle process
burns no core, tinylm's speed does not depend on what else is loaded, and it sets no
environment variable to get there. NumPy's BLAS keeps its own threads for the matrix
products, between the kernels.

* :func:`parallel_ranges` — ``kernel(start, end, *args)`` over contiguous pieces of ``[0, n)``;
* :func:`on_all_threads` — a job function that takes job numbers from a shared counter;
* :func:`keep_helpers_off_caller` — before each parallel call, the helpers are moved off the
  caller's CPU if it changed (Linux's scheduler sometimes stacks them on one core);
  :func:`set_helper_placement` turns that off and on (benchmarks);
* :func:`copy_array` — a copy of a large array made by all threads (``tinylm.tensor``'s copy);
* :func:`set_num_threads` / :func:`get_num_threads` — as ``torch.set_num_threads``;
* :func:`note_blas_product` / :func:`blas_threads_awake` — the ops that call NumPy's matrix
  products say when they did, and a kernel of moderate size that follows within
  ``policy.BLAS_SPIN_S`` runs on the calling thread: BLAS's own threads are still spinning on
  the other cores then, and a helper would have to share one with them.

NumPy only: importing this imports neither Numba nor CuPy (the first helper imports
``numba/spin.py``).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .policy import BLAS_SPIN_S, LARGE_WORK, PARALLEL_COPY_BYTES, SMALL_WORK

__all__ = [
    "blas_threads_awake",
    "copy_array",
    "get_num_threads",
    "Helper",
    "helpers",
    "keep_helpers_off_caller",
    "note_blas_product",
    "on_all_threads",
    "parallel_ranges",
    "set_helper_placement",
    "set_num_threads",
]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_num_threads = _available_cores()
PIECES_PER_THREAD = 2  #: how finely parallel_ranges cuts its range (see there)
_helpers: list[Helper] = []  # the helper threads, made on first use (see helpers())
_helpers_lock = threading.Lock()
_spin_lock = threading.Lock()  # guards the one-time import of numba/spin.py
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
    threads still spin on the other cores (OpenBLAS's do, for ~0.1 s)."""
    return time.perf_counter() - _last_product < BLAS_SPIN_S


#: after a job, a helper spins this long for the next one before it sleeps: ops follow each
#: other within tens of µs (a forward, the engine, its backward), and a sleeping helper wakes
#: 15-40 µs late on a VM whose idle cores halt; the spin costs at most this much of a core
HELPER_SPIN_S = 100e-6
#: the caller spins this long for a started helper to finish before it sleeps on a lock
FINISH_SPIN_S = 2e-3
#: a helper that sees a new job waits this long before it asks for the GIL (see hand_over)
GIL_SETTLE_S = 3e-6
_POSTED, _FINISHED = 0, 1  # the slots of Helper.flags
_spins_per_s: float | None = None  # spin.spins_per_second(), measured with the first helper
spin: Any = None  # the module numba/spin.py, imported with the first helper (it needs Numba)


def _spins(seconds: float) -> int:
    return max(1, int(seconds * (_spins_per_s or 1e7)))


class Helper:
    """One helper thread, which takes one job at a time and waits for the next.

    The caller that hands it a job (:meth:`post`) later calls :meth:`finish`, which cancels the
    job if the helper has not started it yet (the caller did the work itself) and otherwise
    waits for it to end. The hand-offs go through ``flags`` (``[number of the last posted job,
    number of the last finished one]``) and compiled loops that watch them without the GIL
    (``numba/spin.py``): after a job the helper spins ``HELPER_SPIN_S`` for the next one, and
    the caller spins for the helper's end, so back-to-back jobs involve no sleeping thread.
    Past those spins both sleep on a lock ("go" wakes the helper, "done" the caller); a third
    lock guards the state (figures: kernels/README.md, "Measured").
    """

    IDLE, POSTED, RUNNING, FINISHED = range(4)

    def __init__(self, name: str) -> None:
        self.state = Helper.IDLE
        self.job: Callable[[], None] | None = None
        self.error: BaseException | None = None
        self.guard = threading.Lock()
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()  # released to wake the helper when it sleeps
        self.done.acquire()  # released once per job it started, when that job has ended
        self.sleeping = False  # waiting on "go" (set under guard)
        self.posted = 0  # number of the last job posted
        self.flags = np.zeros(2, dtype=np.int64)
        #: the CPUs it may run on: its creator's, as a new thread inherits them (Linux)
        self.cpus = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        _load_compiled_waits()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def post(self, job: Callable[[], None]) -> bool:
        """Hand ``job`` to this helper; False (and nothing done) if it is busy with another."""
        with self.guard:
            if self.state != Helper.IDLE:
                return False
            self.job, self.state, self.error = job, Helper.POSTED, None
            self.posted += 1
            self.flags[_POSTED] = self.posted  # a spinning helper sees this at once
            if self.sleeping:
                self.sleeping = False
                self.go.release()
        return True

    def finish(self) -> None:
        """After :meth:`post`: cancel the job if it has not started, else wait for its end
        (re-raising what it raised)."""
        with self.guard:
            if self.state == Helper.POSTED:  # not started: the caller did all the work
                self.state, self.job = Helper.IDLE, None
                return
        spin.wait_for_value(self.flags, _FINISHED, self.posted, _spins(FINISH_SPIN_S))
        self.done.acquire()  # at once if the spin saw the end; else sleeps until it
        with self.guard:
            self.state, self.job = Helper.IDLE, None
            error, self.error = self.error, None
        if error is not None:
            raise error

    def _loop(self) -> None:
        seen = finished = 0  # the last job number looked at, and the last one run
        while True:
            if not spin.hand_over(
                self.flags, _FINISHED, finished, _POSTED, seen, _spins(HELPER_SPIN_S),
                _spins(GIL_SETTLE_S),
            ):  # fmt: skip
                with self.guard:
                    self.sleeping = self.posted == seen  # else a job came in meanwhile
                    sleep = self.sleeping
                if sleep:
                    self.go.acquire()
            with self.guard:
                seen = self.posted
                if self.state != Helper.POSTED:  # cancelled before it got here
                    continue
                self.state, job = Helper.RUNNING, self.job
            try:
                job()
            except BaseException as e:  # handed to the caller by finish()
                self.error = e
            with self.guard:
                self.state = Helper.FINISHED
            finished = seen
            self.done.release()


def _load_compiled_waits() -> None:
    """Import ``numba/spin.py`` (compiling or loading its loops) and measure its spin rate,
    once, before the first helper starts."""
    global _spins_per_s, spin
    with _spin_lock:
        if spin is None:
            from .numba import spin as compiled_waits

            _spins_per_s = compiled_waits.spins_per_second()
            spin = compiled_waits


def helpers(n_helpers: int) -> list[Helper]:
    """The first ``n_helpers`` helper threads, made on first use (they are never stopped: an
    idle one sleeps in a lock)."""
    if len(_helpers) < n_helpers:
        with _helpers_lock:  # two calling threads must not both add the same helper
            while len(_helpers) < n_helpers:
                _helpers.append(Helper(f"tinylm-{len(_helpers) + 1}"))
                _forget_placement()  # the new helper runs anywhere until the next call
    return _helpers[:n_helpers]


def _forget_placement() -> None:
    global _helpers_kept_off
    _helpers_kept_off = -1


def _forget_helpers_after_fork() -> None:
    global _helpers_lock, _spin_lock
    _forget_placement()
    _helpers.clear()  # a forked child has none of the parent's threads: it makes its own
    # and a lock some other parent thread held at the fork would stay held in the child
    _helpers_lock, _spin_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_forget_helpers_after_fork)


def _find_sched_getcpu() -> Callable[[], int] | None:
    """glibc's ``sched_getcpu`` (the CPU the calling thread runs on, read without a system
    call), or None where there is none (not Linux with glibc)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        import ctypes

        getcpu = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    getcpu.argtypes, getcpu.restype = [], ctypes.c_int
    return getcpu


_sched_getcpu = _find_sched_getcpu()
_helpers_kept_off = -1  # the CPU the helpers were last moved off (-1: none yet)
_keep_off_caller = True  # see set_helper_placement


def set_helper_placement(keep_off_caller: bool) -> None:
    """``True`` (tinylm's setting): :func:`keep_helpers_off_caller` before each parallel call.
    ``False``: every helper gets back all the CPUs it was made with and the OS places it, as
    before 2026-12-05 (for ``benchmarks/bench_threads.py --placement``)."""
    global _keep_off_caller
    _keep_off_caller = bool(keep_off_caller)
    _forget_placement()
    if not _keep_off_caller and _sched_getcpu is not None:
        for helper in _helpers:
            try:
                os.sched_setaffinity(helper.thread.native_id, helper.cpus)
            except OSError:  # its CPUs taken offline meanwhile: the OS places it anyway
                pass


def keep_helpers_off_caller() -> None:
    """Move the helper threads off the CPU the calling thread runs on now.

    Linux's scheduler sometimes wakes a helper on the CPU of the thread that woke it (or
    moves that thread onto the helper's CPU after a sleep) while the other CPU idles; the two
    then take turns on one core, and a parallel kernel takes its serial time (measured on a
    2-core KVM: in 28 of 40 rounds of a 768×1024 row kernel, 213 µs instead of 113–130 µs).
    Only the helpers are moved (the caller and other threads keep their affinity), and only
    when the caller's CPU has changed since the last call: one ``sched_getcpu`` otherwise.
    Each helper keeps to the CPUs it was made with (:attr:`Helper.cpus`), less this one."""
    global _helpers_kept_off
    if _sched_getcpu is None or not _keep_off_caller:
        return
    cpu = _sched_getcpu()
    if cpu == _helpers_kept_off or cpu < 0:
        return
    try:
        for helper in _helpers:
            # a helper made when only this CPU was allowed keeps it: never more than it had
            os.sched_setaffinity(helper.thread.native_id, helper.cpus - {cpu} or helper.cpus)
    except OSError:  # e.g. its CPUs taken offline: a placement hint is not worth an error
        return
    _helpers_kept_off = cpu


def _run_with_helpers(work: Callable[[], None]) -> None:
    """``work()`` on the calling thread and on every free helper at once; ``work`` itself
    hands out the pieces, so a helper that wakes late only finds what is left, and one that
    has not started when the caller is done is cancelled rather than waited for (a helper busy
    with another caller's job is left out)."""
    team = helpers(_num_threads - 1)
    keep_helpers_off_caller()
    posted = [h for h in team if h.post(work)]
    try:
        work()
    finally:
        # every helper is finished, even after one's error: an unfinished one would stay busy
        # and never take a job again; the first error is raised once all are done
        error = None
        for helper in posted:
            try:
                helper.finish()
            except BaseException as e:
                error = error or e
        if error is not None:
            raise error


def parallel_ranges(
    kernel: Callable,
    n: int,
    *args: Any,
    work: int | None = None,
    pieces_per_thread: int = PIECES_PER_THREAD,
) -> None:
    """``kernel(start, end, *args)`` for contiguous ranges that together cover ``[0, n)``.

    ``kernel`` is a compiled ``nogil`` function, so the threads really run at once. It runs on
    the calling thread alone for the whole range when ``work`` (default ``n``) is below
    ``policy.SMALL_WORK`` (waking threads would cost more than they save), or below
    ``policy.LARGE_WORK`` right after a matrix product (:func:`blas_threads_awake`: the other
    cores are busy with BLAS's spinning threads). Otherwise ``[0, n)`` is cut into
    ``pieces_per_thread`` pieces per thread (default :data:`PIECES_PER_THREAD`), which the
    threads take in turn: a helper that starts late (asleep after 0.1 ms without work) still
    gets a share, and a spinning one starts ~5 µs after the caller. More pieces cost more:
    each piece is a call from Python, and two threads returning at once hand the GIL over
    with a wake-up (figures in kernels/README.md, "Measured").
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
    pieces = min(n, pieces_per_thread * _num_threads)
    bounds = [n * k // pieces for k in range(pieces + 1)]
    counter = itertools.count()  # next() is atomic: the GIL is held while it runs

    def work_through() -> None:
        while (k := next(counter)) < pieces:
            kernel(bounds[k], bounds[k + 1], *args)

    _run_with_helpers(work_through)


def _copy_range(start: int, end: int, src: np.ndarray, dst: np.ndarray) -> None:
    np.copyto(dst[start:end], src[start:end])  # NumPy lets go of the GIL while it copies


def copy_array(a: np.ndarray) -> np.ndarray:
    """A copy of the NumPy array ``a``, as ``np.array(a, copy=True)`` makes it, with the
    threads sharing the work when ``a`` is C-contiguous and at least
    ``policy.PARALLEL_COPY_BYTES``: one core does not reach the memory's bandwidth (3 MB:
    64 µs on one thread, 38 µs on two; figures in kernels/README.md, "Measured")."""
    if a.nbytes < PARALLEL_COPY_BYTES or not a.flags.c_contiguous or _num_threads == 1:
        return np.array(a, copy=True)
    out = np.empty_like(a)
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    # one piece per thread: a copy needs no balancing, and each further piece is one more
    # return into Python where the two threads can meet at the GIL
    parallel_ranges(
        _copy_range, flat_in.shape[0], flat_in, flat_out, work=flat_in.shape[0], pieces_per_thread=1
    )
    return out


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
