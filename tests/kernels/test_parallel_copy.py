"""``kernels/parallel.py: copy_array``, the copy behind ``tinylm.tensor(ndarray)``: whatever
the size, layout, dtype or thread count, it is what ``np.array(a, copy=True)`` makes — same
values, dtype, shape and memory order, memory of its own — and large arrays are split
between the threads."""

from __future__ import annotations

import numpy as np
import pytest
from tinylm.kernels import parallel
from tinylm.kernels.policy import PARALLEL_COPY_BYTES

import tinylm

LARGE = PARALLEL_COPY_BYTES // 4 + 12_345  # float32 elements: above the threshold, odd count


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    big = rng.standard_normal(LARGE).astype(np.float32)
    return [
        big,  # 1-D, above the threshold
        big[: LARGE - LARGE % 7].reshape(-1, 7),  # 2-D, C-contiguous
        np.asfortranarray(big[: LARGE - LARGE % 7].reshape(-1, 7)),  # Fortran order
        big[::2],  # strided
        rng.standard_normal((300, 200)),  # float64, below the threshold
        rng.integers(-5, 5, size=PARALLEL_COPY_BYTES // 8 + 3),  # int64, above
        rng.random(PARALLEL_COPY_BYTES + 5) < 0.5,  # bool, above
        np.float32(3.5) * np.ones(()),  # 0-d
        np.zeros((0, 4), dtype=np.float32),  # empty
    ]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_copy_array_is_numpys_copy(threads: int) -> None:
    before = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        for a in _arrays():
            expected = np.array(a, copy=True)
            got = parallel.copy_array(a)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert got.flags.c_contiguous == expected.flags.c_contiguous
            assert got.flags.f_contiguous == expected.flags.f_contiguous
            np.testing.assert_array_equal(got, a)
            assert not np.shares_memory(got, a)
    finally:
        parallel.set_num_threads(before)


def test_every_piece_of_a_large_copy_is_written() -> None:
    # a pattern that no stale or uninitialised memory can reproduce by chance
    a = np.arange(LARGE, dtype=np.int32) * 7 + 3
    got = parallel.copy_array(a)
    assert np.array_equal(got, a)


def test_a_large_tensor_is_its_own_copy() -> None:
    a = np.random.default_rng(1).standard_normal((LARGE // 64, 64)).astype(np.float32)
    t = tinylm.tensor(a, requires_grad=True)
    snapshot = a.copy()
    a[:] = 0  # the source changes afterwards: the tensor must not
    np.testing.assert_array_equal(t.detach().numpy(), snapshot)
    assert t.requires_grad and t.dtype == tinylm.float32
