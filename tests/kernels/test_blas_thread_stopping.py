"""NumPy's OpenBLAS threads spin for ~0.1 s after each product and hold the other cores;
``parallel.blas_threads_awake`` stops them when that is safe (one Python thread) so that the
kernels between a training step's products get every core, and never when another Python
thread might be inside a product (OpenBLAS's stop could then lose that product's job)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading

import pytest
from tinylm.kernels import parallel


def _helper_threads() -> int:
    return sum(t.name.startswith("tinylm-") for t in threading.enumerate())


@pytest.fixture
def fake_stop(monkeypatch):
    """A stand-in for OpenBLAS's ``blas_thread_shutdown_`` that counts its calls, and a
    process that looks like one Python thread plus tinylm's helpers."""
    calls = []
    parallel.helpers(1)  # at least one helper exists, as in a multi-core process
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1 + _helper_threads())
    parallel.set_blas_thread_stopping(True, stop=lambda: calls.append(1))
    yield calls
    parallel.set_blas_thread_stopping(True)  # OpenBLAS's own stop again
    parallel.note_blas_product(when=-math.inf)


def test_spinning_blas_threads_are_stopped_once_and_the_cores_are_free(fake_stop):
    parallel.note_blas_product()
    assert not parallel.blas_threads_awake()
    assert fake_stop == [1]
    assert not parallel.blas_threads_awake()  # stopped: nothing spins until the next product
    assert fake_stop == [1]
    parallel.note_blas_product(when=-math.inf)  # long after a product: nothing to stop
    assert not parallel.blas_threads_awake()
    assert fake_stop == [1]


def test_never_stopped_while_another_python_thread_exists(fake_stop, monkeypatch):
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 2 + _helper_threads())
    parallel.note_blas_product()
    assert parallel.blas_threads_awake()
    assert fake_stop == []


def test_never_stopped_from_a_thread_other_than_the_main_one(fake_stop):
    seen = []

    def run():
        parallel.note_blas_product()
        seen.append(parallel.blas_threads_awake())

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [True] and fake_stop == []


def test_never_stopped_when_turned_off(fake_stop):
    parallel.set_blas_thread_stopping(False)
    try:
        parallel.note_blas_product()
        assert parallel.blas_threads_awake()
        assert fake_stop == []
    finally:
        parallel.set_blas_thread_stopping(True)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


PROLOGUE = """
    import os, threading, numpy as np
    from tinylm.kernels import parallel
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 512, 512)).astype(np.float32)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tasks = lambda: len(os.listdir("/proc/self/task"))
    stop = parallel.find_openblas_stop()
    if stop is None or (os.cpu_count() or 1) < 2:
        print("no OpenBLAS of NumPy's own with threads here"); raise SystemExit(0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_openblas_threads_really_stop_and_come_back_with_the_next_product():
    """In a fresh process: after a threaded product, stopping takes OpenBLAS's worker
    threads away; the next product makes them again and is still right."""
    run = _run(
        PROLOGUE
        + """
    c = a @ b
    with_workers = tasks()
    parallel.note_blas_product()
    assert not parallel.blas_threads_awake()
    without = tasks()
    assert without < with_workers, (with_workers, without)
    c = a @ b
    assert tasks() == with_workers
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-3)
    print("stopped and back", with_workers, without)
    """
    )
    assert run.returncode == 0, run.stderr
    assert "stopped and back" in run.stdout or "no OpenBLAS" in run.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_stop_and_no_hang_while_another_thread_multiplies():
    """A second Python thread runs products the whole time: the main thread's kernels after
    its own products never stop BLAS's threads, and both threads finish with right results
    (a fresh process, under a timeout)."""
    run = _run(
        PROLOGUE
        + """
    stops = []
    parallel.set_blas_thread_stopping(True, stop=lambda: (stops.append(1), stop()))
    done = threading.Event()
    errors = []

    def other():
        while not done.is_set():
            if not np.allclose(a @ b, want, rtol=1e-4, atol=1e-3):
                errors.append("wrong product")

    worker = threading.Thread(target=other)
    worker.start()
    for _ in range(300):
        c = a @ b
        parallel.note_blas_product()
        assert parallel.blas_threads_awake()
    done.set()
    worker.join()
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-3)
    assert stops == [] and errors == [], (stops, errors)
    print("no stop")
    """
    )
    assert run.returncode == 0, run.stderr
    assert "no stop" in run.stdout or "no OpenBLAS" in run.stdout
