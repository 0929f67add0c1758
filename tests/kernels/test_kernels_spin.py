"""The compiled waits of ``kernels/numba/spin.py`` and the hand-over they give the helper
threads (``kernels/parallel.py``): a wait sees another thread's change and gives up after
its spins; back-to-back jobs reach a spinning helper; an idle helper stops spinning and
burns no core; a job that outlasts the caller's spin is still waited for.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
from tinylm.kernels import parallel  # noqa: E402
from tinylm.kernels.numba import spin  # noqa: E402


def _later(seconds: float, fn) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        fn()

    t = threading.Thread(target=run)
    t.start()
    return t


def test_waits_see_a_change_made_by_another_thread():
    flags = np.zeros(3, dtype=np.int64)
    writer = _later(0.01, lambda: flags.__setitem__(1, 7))
    # ~1 s of spins: the writer's change, 10 ms in, must end the wait long before
    spins = int(spin.spins_per_second())
    start = time.perf_counter()
    assert spin.wait_for_value(flags, 1, 7, spins)
    assert time.perf_counter() - start < 0.5
    writer.join()
    writer = _later(0.01, lambda: flags.__setitem__(2, -1))
    assert spin.wait_for_change(flags, 2, 0, spins)
    writer.join()
    assert flags.tolist() == [0, 7, -1]


def test_waits_give_up_after_their_spins():
    flags = np.zeros(1, dtype=np.int64)
    assert not spin.wait_for_value(flags, 0, 1, 1000)
    assert not spin.wait_for_change(flags, 0, 0, 1000)
    assert spin.wait_for_value(flags, 0, 0, 0)  # already there: True without a spin
    assert 1e5 < spin.spins_per_second() < 1e11


def test_hand_over_publishes_the_finished_job_then_waits_for_the_next():
    flags = np.zeros(2, dtype=np.int64)
    assert not spin.hand_over(flags, 1, 5, 0, 0, 100, 0)  # nothing posted: gives up
    assert flags[1] == 5  # but said that job 5 is finished first
    writer = _later(0.01, lambda: flags.__setitem__(0, 6))
    assert spin.hand_over(flags, 1, 5, 0, 0, int(spin.spins_per_second()), 10)
    writer.join()


def _thread_cpu_seconds(thread: threading.Thread) -> float:
    """CPU time of one thread of this process (Linux: /proc/self/task/<id>/stat), so that other
    libraries' threads (OpenBLAS's spin ~0.1 s after a product) do not count."""
    path = Path(f"/proc/self/task/{thread.native_id}/stat")
    if not path.exists():
        pytest.skip("needs Linux's /proc to read one thread's CPU time")
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _run_on(helper: parallel.Helper, job) -> None:
    """Post ``job`` and wait until the helper has started it (finish() would otherwise
    cancel a job the helper has not reached yet), then finish."""
    started = threading.Event()

    def wrapped() -> None:
        started.set()
        job()

    assert helper.post(wrapped)
    assert started.wait(10)
    helper.finish()


def test_an_idle_helper_stops_spinning_and_a_posted_job_still_reaches_it():
    helper = parallel.helpers(1)[0]
    ran = []
    _run_on(helper, lambda: ran.append(-1))
    time.sleep(0.05)  # far past HELPER_SPIN_S
    assert helper.sleeping  # on its lock now
    cpu = _thread_cpu_seconds(helper.thread)
    time.sleep(0.3)
    assert _thread_cpu_seconds(helper.thread) - cpu < 0.05  # an idle helper burns no core
    for k in range(50):  # back to back, while it spins: each one reaches it
        _run_on(helper, lambda k=k: ran.append(k))
    assert ran == [-1, *range(50)]
    assert helper.state == parallel.Helper.IDLE


def test_every_helper_is_finished_when_helpers_raise():
    """Two helpers' jobs raise: the call raises the first error, and neither helper is left
    busy (an unfinished one would refuse every later job, silently)."""
    before = parallel.get_num_threads()
    parallel.set_num_threads(3)
    parallel.note_blas_product(when=-math.inf)  # no product nearby: all threads are used
    caller = threading.current_thread()

    def kernel(start: int, end: int) -> None:
        time.sleep(0.02)  # long enough for both helpers to take a piece
        if threading.current_thread() is not caller:
            raise ZeroDivisionError(f"piece {start}:{end}")

    try:
        with pytest.raises(ZeroDivisionError):
            parallel.parallel_ranges(kernel, 6, work=1 << 30)
        pair = parallel.helpers(2)
        assert [h.state for h in pair] == [parallel.Helper.IDLE] * 2
        for h in pair:  # and each takes a job again
            _run_on(h, lambda: None)
    finally:
        parallel.set_num_threads(before)


def test_a_job_longer_than_the_callers_spin_is_still_awaited():
    helper = parallel.helpers(1)[0]
    started, done = threading.Event(), []

    def job() -> None:
        started.set()
        time.sleep(5 * parallel.FINISH_SPIN_S + 0.02)
        done.append(True)

    assert helper.post(job)
    assert started.wait(10)
    helper.finish()  # spins FINISH_SPIN_S, then sleeps on the lock until the job ends
    assert done == [True]
    assert helper.state == parallel.Helper.IDLE
