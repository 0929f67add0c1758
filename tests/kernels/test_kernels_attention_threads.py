"""The Numba attention kernels share their jobs between threads through one atomic counter.

What must hold whatever the threads do: every job is done exactly once, the result does not
depend on how many threads there are or which thread took which job, and a helper thread that
never got to start does not leave the call waiting or the output unwritten.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from tinylm.kernels import policy, reference  # noqa: E402
from tinylm.kernels.numba import attention_backward, attention_forward  # noqa: E402
from tinylm.kernels.numba.jit import take_job  # noqa: E402
from tinylm.kernels.numba.threads import helper_pool  # noqa: E402


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


def _packed_heads(rng, b, t, h, d, dtype):
    """q, k, v (B, H, T, D) as strided views into one (B, T, 3·H·D) array, as in the GPT."""
    qkv = rng.standard_normal((b, t, 3 * h * d)).astype(dtype)
    return qkv.reshape(b, t, 3, h, d).transpose(2, 0, 3, 1, 4)


def _threaded(q, k):
    """Is attention on q, k enough work to run on several threads? (Else the op would run on
    the calling thread alone, and the tests below would test nothing about threads.)"""
    return q.size * k.shape[-2] >= policy.SMALL_ATTENTION_WORK


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [True, False])
def test_attention_does_not_depend_on_the_thread_count(dtype, causal):
    rng = np.random.default_rng(7)
    b, t, h, d = 3, 100, 4, 8  # 100: not a multiple of the 32-query block
    q, k, v = _packed_heads(rng, b, t, h, d, dtype)
    assert _threaded(q, k)
    scale = d**-0.5
    gout = rng.standard_normal((b, h, t, d)).astype(dtype)
    results = {}
    before = numba.get_num_threads()
    try:
        for n in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            # NaN-filled destinations: an element no job wrote stays NaN
            out = np.full((b, h, t, d), np.nan, dtype=dtype)
            out, lse = attention_forward(q, k, v, scale, causal, out=out)
            grads = tuple(np.full((b, h, t, d), np.nan, dtype=dtype) for _ in range(3))
            grads = attention_backward(q, k, v, out, lse, gout, scale, causal, grads=grads)
            results[n] = [out, lse, *grads]
    finally:
        numba.set_num_threads(before)
    first, *others = results.values()
    assert not any(np.isnan(a).any() for a in first)
    for other in others:
        for a, b_ in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b_)  # every job is computed the same way anywhere


def test_a_helper_that_never_starts_is_cancelled_not_awaited():
    """The caller finishes all jobs itself when its helpers are stuck behind other work."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two threads")
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    release = threading.Event()
    try:
        # occupies the only thread of the pool the attention kernels hand their helper job
        # to; a kernel that waited for its helper would wait these 10 s, then find it done
        blocker = helper_pool(1).submit(release.wait, 10)
        rng = np.random.default_rng(0)
        q, k, v = _packed_heads(rng, 2, 128, 2, 16, np.float32)
        assert _threaded(q, k)
        out = np.full((2, 2, 128, 16), np.nan, dtype=np.float32)
        out, lse = attention_forward(q, k, v, 0.25, True, out=out)
        want, want_lse = reference.attention_forward(q, k, v, 0.25, True)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-6)
        assert not blocker.done()  # the call above returned while the helper was still busy
    finally:
        release.set()
        numba.set_num_threads(before)
