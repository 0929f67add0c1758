"""tinylm's threads (kernels/parallel.py): the attention kernels share their jobs through one
atomic counter, the other kernels take ranges of rows.

What must hold whatever the threads do: every job and every row is done exactly once, the
result does not depend on how many threads there are or which thread took which piece, and a
helper thread that never got to start does not leave the call waiting or the output
unwritten.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from tinylm.kernels import numba as nk  # noqa: E402
from tinylm.kernels import parallel, policy, reference  # noqa: E402
from tinylm.kernels.numba import attention_backward, attention_forward  # noqa: E402
from tinylm.kernels.numba.jit import take_job  # noqa: E402


@numba.njit(nogil=True)
def _take_all(counter, n_jobs, taken):
    """Take jobs until none is left; count each job number in ``taken``; return how many."""
    mine = 0
    while True:
        job = take_job(counter)
        if job >= n_jobs:
            return mine
        taken[job] += 1
        mine += 1


def test_take_job_hands_out_every_number_exactly_once_across_threads():
    n_jobs, n_threads = 200_000, 4
    counter = np.zeros(1, dtype=np.intp)
    taken = np.zeros(n_jobs, dtype=np.int64)  # each job index is written by one thread only
    counts = [0] * n_threads
    _take_all(np.zeros(1, dtype=np.intp), 1, np.zeros(1, dtype=np.int64))  # compile first

    def work(i):
        counts[i] = _take_all(counter, n_jobs, taken)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (taken == 1).all()
    assert sum(counts) == n_jobs
    # the counter moved past the end once per thread (each thread's last, empty take)
    assert counter[0] == n_jobs + n_threads


def test_take_job_rejects_a_counter_of_the_wrong_type():
    @numba.njit
    def take(counter):
        return take_job(counter)

    with pytest.raises(numba.core.errors.TypingError):
        take(np.zeros(1, dtype=np.int32))


@pytest.fixture(autouse=True)
def _no_recent_product():
    """Every test here starts as if no matrix product had run lately: right after one, kernels
    of moderate size stay on the calling thread (``parallel.blas_threads_awake``), and the
    tests below are about the threads."""
    parallel.note_blas_product(when=-math.inf)


def _packed_heads(rng, b, t, h, d, dtype):
    """q, k, v (B, H, T, D) as strided views into one (B, T, 3·H·D) array, as in the GPT."""
    qkv = rng.standard_normal((b, t, 3 * h * d)).astype(dtype)
    return qkv.reshape(b, t, 3, h, d).transpose(2, 0, 3, 1, 4)


def _threaded(q, k):
    """Is attention on q, k enough work to run on several threads? (Else the op would run on
    the calling thread alone, and the tests below would test nothing about threads.)"""
    return q.size * k.shape[-2] >= policy.SMALL_ATTENTION_WORK


def _same_bits_on_any_thread_count(run) -> list[np.ndarray]:
    """``run()`` (a list of arrays) on 1, 2 and 3 threads: the same bits each time, and no
    NaN left (tests fill destinations with NaN, so an element no thread wrote stays NaN).
    Returns the one-thread results."""
    results = []
    before = parallel.get_num_threads()
    try:
        for n in (1, 2, 3):
            parallel.set_num_threads(n)
            results.append(run())
    finally:
        parallel.set_num_threads(before)
    first, *others = results
    assert not any(np.isnan(a).any() for a in first)
    for other in others:
        for a, b in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b)  # every job is computed the same way anywhere
    return first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [True, False])
def test_attention_does_not_depend_on_the_thread_count(dtype, causal):
    rng = np.random.default_rng(7)
    b, t, h, d = 3, 100, 4, 8  # 100: not a multiple of the 32-query block
    q, k, v = _packed_heads(rng, b, t, h, d, dtype)
    assert _threaded(q, k)
    scale = d**-0.5
    gout = rng.standard_normal((b, h, t, d)).astype(dtype)

    def run():
        out = np.full((b, h, t, d), np.nan, dtype=dtype)
        out, lse = attention_forward(q, k, v, scale, causal, out=out)
        grads = tuple(np.full((b, h, t, d), np.nan, dtype=dtype) for _ in range(3))
        grads = attention_backward(q, k, v, out, lse, gout, scale, causal, grads=grads)
        return [out, lse, *grads]

    _same_bits_on_any_thread_count(run)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("batch", [3, 1])  # 1: the heads' axis is the one shared out
def test_attention_by_blas_gives_the_same_bits_with_the_heads_shared_out(dtype, causal, batch):
    """With P kept and small heads, the batched products are shared out between the threads,
    a range of heads each, every thread running all of attention's steps for its heads
    (``_by_heads``): same bits as on one thread, every element written, for packed (strided)
    heads and a broadcast, read-only upstream gradient."""
    rng = np.random.default_rng(11)
    h, t, d = 4, 64, 32
    q, k, v = _packed_heads(rng, batch, t, h, d, dtype)
    # the conditions for sharing the heads out (else this would test the serial path)
    assert t * t * d <= policy.BLAS_SERIAL_PRODUCT and not parallel.blas_threads_awake()
    assert batch * h * t * t * d >= policy.SMALL_ATTENTION_WORK
    scale = d**-0.5
    gout = np.broadcast_to(rng.standard_normal((1, h, t, d)).astype(dtype), (batch, h, t, d))

    def run():
        probs = np.full((batch, h, t, t), np.nan, dtype=dtype)
        out = np.full((batch, h, t, d), np.nan, dtype=dtype)
        out, lse = attention_forward(q, k, v, scale, causal, out=out, probs=probs)
        assert not parallel.blas_threads_awake()  # one-thread products: BLAS still asleep
        grads = tuple(np.full((batch, h, t, d), np.nan, dtype=dtype) for _ in range(3))
        grads = attention_backward(q, k, v, out, lse, gout, scale, causal, grads=grads, probs=probs)
        return [out, lse, probs, *grads]

    first = _same_bits_on_any_thread_count(run)
    expected = reference.attention_forward(q, k, v, scale, causal)[0]
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(first[0], expected, **tol)  # the shared path computes attention


def test_attention_notes_its_products_only_when_blas_threads_took_part():
    """Heads whose products BLAS runs on one thread leave its threads asleep: no note, and
    the backward that follows may share its heads out; larger heads wake them: noted."""
    rng = np.random.default_rng(12)
    for t, d, noted in ((64, 32, False), (128, 32, True)):
        assert (t * t * d <= policy.BLAS_SERIAL_PRODUCT) != noted
        q, k, v = (rng.standard_normal((2, 2, t, d)).astype(np.float32) for _ in range(3))
        probs = np.empty((2, 2, t, t), dtype=np.float32)
        parallel.note_blas_product(when=-math.inf)
        out, lse = attention_forward(q, k, v, 0.2, True, probs=probs)
        assert parallel.blas_threads_awake() == noted
        parallel.note_blas_product(when=-math.inf)
        attention_backward(q, k, v, out, lse, q, 0.2, True, probs=probs)
        assert parallel.blas_threads_awake() == noted


def test_a_helper_that_never_starts_is_cancelled_not_awaited():
    """The caller finishes all jobs itself when its helpers are stuck behind other work."""
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    started, release = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    try:
        # occupies the only helper the attention kernels could hand a job to; a kernel that
        # waited for its helper would wait these 10 s
        blocker = parallel.helpers(1)[0]
        assert blocker.post(block)
        assert started.wait(10)
        rng = np.random.default_rng(0)
        q, k, v = _packed_heads(rng, 2, 128, 2, 16, np.float32)
        assert _threaded(q, k)
        out = np.full((2, 2, 128, 16), np.nan, dtype=np.float32)
        out, lse = attention_forward(q, k, v, 0.25, True, out=out)
        want, want_lse = reference.attention_forward(q, k, v, 0.25, True)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-6)
        assert blocker.state == parallel.Helper.RUNNING  # the call returned; it is still busy
    finally:
        release.set()
        blocker.finish()
        parallel.set_num_threads(before)


@pytest.mark.parametrize("pieces_per_thread", [1, 2, 5])  # 1: copy_array's; 2: the default
def test_parallel_ranges_covers_every_row_once_on_any_thread_count(pieces_per_thread):
    ranges = []

    def kernel(start, end, log):
        log.append((start, end))

    before = parallel.get_num_threads()
    try:
        for n_threads in (1, 2, 3, 5):
            parallel.set_num_threads(n_threads)
            for n in (0, 1, 7, 100_000):  # 7: fewer rows than pieces at 2 × 5
                ranges.clear()
                parallel.parallel_ranges(
                    kernel, n, ranges, work=policy.SMALL_WORK, pieces_per_thread=pieces_per_thread
                )
                assert sorted(i for r in ranges for i in range(*r)) == list(range(n))
                threaded = n_threads > 1 and n >= 2
                assert len(ranges) == (min(n, pieces_per_thread * n_threads) if threaded else 1)
    finally:
        parallel.set_num_threads(before)


def _every_op(rng, dtype):
    """Each threaded row-wise, element-wise and optimizer kernel on enough work to thread."""
    x = rng.standard_normal((600, 257)).astype(dtype)  # 257: no multiple of a vector width
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.standard_normal(257).astype(dtype), rng.standard_normal(257).astype(dtype)
    t = rng.integers(0, 257, 600)
    y = nk.softmax_forward(x)
    ly = nk.log_softmax_forward(x)
    loss, lse = nk.cross_entropy_forward(x, t, -100)
    ln, mean, rstd = nk.layer_norm_forward(x, w, b, 1e-5)
    p, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
    nk.adam_update(p, g, m, v, lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1,
                   step=3, decoupled=True)  # fmt: skip
    return [
        y, nk.softmax_backward(y, g), ly, nk.log_softmax_backward(ly, g), loss, lse,
        nk.cross_entropy_backward(x, t, lse, g[:, 0], -100), ln, mean, rstd,
        *nk.layer_norm_backward(g, x, w, mean, rstd), nk.gelu_forward(x),
        nk.gelu_backward(x, g), nk.gelu_exact_forward(x), nk.gelu_exact_backward(x, g), p, m, v,
    ]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_kernel_gives_the_same_bits_on_any_thread_count(dtype):
    x = np.zeros((600, 257))
    assert x.size >= policy.SMALL_WORK  # else the kernels would not use the threads at all
    _same_bits_on_any_thread_count(lambda: _every_op(np.random.default_rng(1), dtype))


def test_set_num_threads_refuses_nonsense():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads"):
            parallel.set_num_threads(bad)


def test_no_kernel_uses_numbas_openmp_threads_whatever_was_imported_first():
    """The mechanism behind "speed does not depend on import order": with PyTorch imported
    and used first, a whole GPT training step never starts Numba's parallel runtime (whose
    OpenMP layer would bind to PyTorch's libgomp and fight its threads), and no kernel source
    asks for it."""
    import subprocess
    import sys
    from pathlib import Path

    kernels = Path(__file__).resolve().parents[2] / "kernels"
    for source in kernels.rglob("*.py"):
        text = source.read_text()
        assert "prange(" not in text and "parallel=True" not in text, source
    child = """
import importlib.util, numpy as np
if importlib.util.find_spec("torch"):
    import torch
    torch.ones(64, 64, requires_grad=True).matmul(torch.ones(64, 64)).sum().backward()
import tinylm, numba.np.ufunc.parallel as numba_parallel
from tinylm.models.gpt import GPT, GPTConfig
tinylm.set_num_threads(2)
model = GPT(GPTConfig(vocab_size=11, block_size=64, n_layer=1, n_head=2, n_embd=64))
opt = model.configure_optimizers(1e-3, 0.1, (0.9, 0.99))
x = np.random.default_rng(0).integers(0, 11, (16, 64))
_, loss = model(tinylm.tensor(x), tinylm.tensor(x))
loss.backward()
opt.step()
print("numba parallel runtime started:", numba_parallel._is_initialized)
"""
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "numba parallel runtime started: False" in run.stdout


def test_right_after_a_matrix_product_moderate_work_stays_on_the_calling_thread():
    """Within policy.BLAS_SPIN_S of a product, BLAS's threads still spin on the other cores:
    work below policy.LARGE_WORK runs as one range on the calling thread; larger work, and
    any work once the window has passed, is shared out again."""
    calls = []

    def kernel(start, end, log):
        log.append((start, end, threading.get_ident()))

    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        n = policy.SMALL_WORK
        parallel.note_blas_product()
        assert parallel.blas_threads_awake()
        parallel.parallel_ranges(kernel, n, calls)
        assert calls == [(0, n, threading.get_ident())]

        calls.clear()
        parallel.parallel_ranges(kernel, n, calls, work=policy.LARGE_WORK)
        pieces = 2 * parallel.PIECES_PER_THREAD
        assert len(calls) == pieces
        want = [(k * n // pieces, (k + 1) * n // pieces) for k in range(pieces)]
        assert sorted(c[:2] for c in calls) == want

        calls.clear()
        parallel.note_blas_product(when=-math.inf)
        assert not parallel.blas_threads_awake()
        parallel.parallel_ranges(kernel, n, calls)
        assert len(calls) == 2 * parallel.PIECES_PER_THREAD
    finally:
        parallel.set_num_threads(before)


def test_the_ops_that_call_blas_note_their_products():
    import tinylm
    import tinylm.nn.functional as F

    x = tinylm.randn(4, 8, requires_grad=True)
    w = tinylm.randn(3, 8, requires_grad=True)
    for run in (
        lambda: F.linear(x, w),
        lambda: F.linear(x, w).sum().backward(),
        lambda: x @ w.T,
        lambda: (x @ w.T).sum().backward(),
        lambda: F.embedding([0, 2], w).sum().backward(),
    ):
        parallel.note_blas_product(when=-math.inf)
        run()
        assert parallel.blas_threads_awake()


def test_a_helper_hands_back_what_its_job_raised_and_refuses_a_second_job():
    helper = parallel.helpers(1)[0]
    started, release = threading.Event(), threading.Event()

    def job():
        started.set()
        release.wait(10)
        raise ZeroDivisionError("from the helper")

    assert helper.post(job)
    assert started.wait(10)  # running: finish() must wait for it, not cancel it
    try:
        assert not helper.post(lambda: None)  # busy with the first job: refused, not queued
    finally:
        release.set()
    with pytest.raises(ZeroDivisionError, match="from the helper"):
        helper.finish()
    assert helper.state == parallel.Helper.IDLE
    assert helper.post(lambda: None)  # free again
    helper.finish()


def test_a_forked_child_makes_its_own_helpers():
    """After os.fork the child has none of the parent's threads: waiting on one would hang."""
    import multiprocessing

    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        parallel.helpers(1)  # the parent's helper exists before the fork
        with multiprocessing.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(_sum_on_two_threads, (100_000,)).get(timeout=60)
    finally:
        parallel.set_num_threads(before)
    assert got == sum(range(100_000))


def _sum_on_two_threads(n: int) -> int:
    parallel.set_num_threads(2)
    parts = []
    parallel.parallel_ranges(lambda s, e, out: out.append(sum(range(s, e))), n, parts, work=1 << 30)
    return sum(parts)


def _pinning_works() -> bool:
    """Linux with glibc (sched_getcpu) and at least two CPUs to tell apart."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return False
    return hasattr(ctypes.CDLL(None), "sched_getcpu")


needs_two_cpus = pytest.mark.skipif(not _pinning_works(), reason="needs Linux, glibc, 2 CPUs")


@needs_two_cpus
def test_helpers_are_moved_off_the_callers_cpu_and_the_caller_is_not_moved():
    """The scheduler may stack a helper on its caller's core; each parallel call moves the
    helpers off the caller's CPU when that changed, and touches no other thread."""
    mine, before = os.sched_getaffinity(0), parallel.get_num_threads()
    first, second = sorted(mine)[:2]
    parallel.set_num_threads(2)
    try:
        team = parallel.helpers(1)
        assert all({first, second} <= h.cpus for h in team)
        for cpu in (first, second, first):
            os.sched_setaffinity(0, {cpu})  # the caller on a CPU the test knows
            parallel.parallel_ranges(lambda start, end: None, 100, work=1 << 30)
            assert os.sched_getaffinity(0) == {cpu}
            for h in team:
                assert os.sched_getaffinity(h.thread.native_id) == h.cpus - {cpu}
    finally:
        os.sched_setaffinity(0, mine)
        parallel.set_num_threads(before)


@needs_two_cpus
def test_helper_placement_can_be_left_to_the_os_and_taken_back():
    """``set_helper_placement(False)`` gives every helper all its CPUs back and parallel calls
    leave them there; ``True`` moves them off the caller's CPU again at the next call."""
    mine, before = os.sched_getaffinity(0), parallel.get_num_threads()
    cpu = min(mine)
    parallel.set_num_threads(2)
    try:
        team = parallel.helpers(1)
        os.sched_setaffinity(0, {cpu})
        for keep_off in (False, True, False):
            parallel.set_helper_placement(keep_off)
            parallel.parallel_ranges(lambda start, end: None, 100, work=1 << 30)
            for h in team:
                want = h.cpus - {cpu} if keep_off else h.cpus
                assert os.sched_getaffinity(h.thread.native_id) == want
    finally:
        parallel.set_helper_placement(True)
        os.sched_setaffinity(0, mine)
        parallel.set_num_threads(before)


def _helper_cpus_when_made_on_one_cpu(cpu: int) -> tuple[set, set]:
    os.sched_setaffinity(0, {cpu})  # in a forked child: its helpers are made from here
    parallel.set_num_threads(2)
    parallel.parallel_ranges(lambda start, end: None, 100, work=1 << 30)
    (helper,) = parallel.helpers(1)
    return set(helper.cpus), os.sched_getaffinity(helper.thread.native_id)


@needs_two_cpus
def test_a_helper_made_on_one_cpu_is_never_given_more():
    """A user who pinned the process to one CPU keeps it pinned: the helper stays there too."""
    import multiprocessing

    cpu = min(os.sched_getaffinity(0))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        made_with, now = pool.apply_async(_helper_cpus_when_made_on_one_cpu, (cpu,)).get(60)
    assert made_with == now == {cpu}
