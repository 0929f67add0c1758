"""``kernels/numba/threads.py: kernel_input``, the one place where every Numba op's wrapper
brings its arrays to the C-ordered layout its kernel reads, and ``c_order_copy`` (the registry op
behind ``contiguous()``): whatever the layout an array arrives in, the result holds the same
values as ``np.ascontiguousarray`` (in the asked dtype), in C order; a large matrix with its
last two axes swapped is copied by tiles (``transposed_copy``), on any number of threads, to
the bit."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
from tinylm.kernels import parallel  # noqa: E402
from tinylm.kernels.numba import rowwise  # noqa: E402
from tinylm.kernels.numba.threads import c_order_copy, kernel_input, transposed_copy  # noqa: E402
from tinylm.kernels.policy import TRANSPOSED_COPY_MIN  # noqa: E402

import tinylm  # noqa: E402

#: (shape of the C-ordered base, from which .swapaxes(-1, -2) is taken): tiles of 64 cut
#: unevenly, a single row or column of tiles, batches, and matrices at and below the threshold
SHAPES = [(65, 257), (257, 65), (64, 256), (3, 129, 131), (2, 2, 64, 300), (128, 128), (127, 128)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_transposed_input_is_copied_to_c_order_with_the_same_values(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape).astype(dtype).swapaxes(-1, -2)
    want = np.ascontiguousarray(a)
    before = parallel.get_num_threads()
    try:
        for threads in (1, 2, 3):
            parallel.set_num_threads(threads)
            parallel.note_blas_product(when=-np.inf)  # no product nearby: threads are used
            for got in (kernel_input(a, dtype), transposed_copy(a), c_order_copy(a)):
                assert got.flags.c_contiguous and got.dtype == dtype and got.shape == a.shape
                np.testing.assert_array_equal(got, want)
                assert not np.shares_memory(got, a)
    finally:
        parallel.set_num_threads(before)


def test_only_large_writable_float_transposes_take_the_tiles(monkeypatch):
    """The other layouts keep NumPy's copy, with the same result: converted dtypes, read-only
    views, small matrices, gaps; a C-ordered writable array is returned as it is (by
    kernel_input; c_order_copy copies it)."""
    from tinylm.kernels.numba import threads

    used = []
    real = threads.transposed_copy
    monkeypatch.setattr(threads, "transposed_copy", lambda a: used.append(a.shape) or real(a))
    rng = np.random.default_rng(1)
    big = rng.standard_normal((256, 300)).astype(np.float32)
    assert big.size >= TRANSPOSED_COPY_MIN
    frozen = big.T.copy().T  # a transposed layout, then made read-only
    frozen.flags.writeable = False
    cases = {
        "large transpose": (big.T, np.float32, True),
        "to float64": (big.T, np.float64, False),
        "read-only": (frozen, np.float32, False),
        "small": (big[:100, :100].T.copy().T, np.float32, False),
        "with gaps": (big.T[:, ::2], np.float32, False),
        "int64": (big.astype(np.int64).T, np.int64, False),
    }
    for name, (a, dtype, tiles) in cases.items():
        used.clear()
        got = kernel_input(a, dtype)
        assert got.flags.c_contiguous and got.dtype == dtype, name
        np.testing.assert_array_equal(got, np.ascontiguousarray(a, dtype=dtype), err_msg=name)
        assert bool(used) == tiles, name
        if dtype == a.dtype:
            copied = c_order_copy(a)
            assert copied.flags.c_contiguous and not np.shares_memory(copied, a), name
            np.testing.assert_array_equal(copied, np.ascontiguousarray(a), err_msg=name)
    assert kernel_input(big, np.float32) is big
    copied = c_order_copy(big)
    assert copied is not big and np.array_equal(copied, big)


def test_contiguous_of_a_transposed_tensor_is_its_c_ordered_copy_with_its_gradient():
    x = np.random.default_rng(3).standard_normal((300, 200))
    t = tinylm.tensor(x, requires_grad=True)
    y = t.t().contiguous()
    assert y.is_contiguous() and y.stride() == (300, 1)
    np.testing.assert_array_equal(y.detach().numpy(), np.ascontiguousarray(x.T))
    g = np.random.default_rng(4).standard_normal(y.shape)
    y.backward(tinylm.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), g.T)


def test_a_kernel_gives_the_same_bits_for_a_transposed_input():
    x = np.random.default_rng(2).standard_normal((300, 200)).astype(np.float32)
    np.testing.assert_array_equal(
        rowwise.softmax_forward(x.T), rowwise.softmax_forward(np.ascontiguousarray(x.T))
    )


def test_reshape_of_a_transposed_tensor_copies_by_tiles_only_when_it_must(monkeypatch):
    """``x.t().reshape(-1)`` needs a copy (by tiles, same values as NumPy's); a reshape the
    layout allows stays a view of x; a wrong shape is one clear error; gradients flow back."""
    from tinylm.kernels.numba import threads

    used = []
    real = threads.transposed_copy
    monkeypatch.setattr(threads, "transposed_copy", lambda a: used.append(1) or real(a))
    x = np.random.default_rng(5).standard_normal((300, 200))
    t = tinylm.tensor(x, requires_grad=True)
    flat = t.t().reshape(-1)
    np.testing.assert_array_equal(flat.detach().numpy(), x.T.reshape(-1))
    assert used and flat.is_contiguous()
    used.clear()
    split = t.t().reshape(2, 100, 300)  # splits the outer dim of the transpose: a view
    assert not used and np.shares_memory(split.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(split.detach().numpy(), x.T.reshape(2, 100, 300))
    with pytest.raises(tinylm.TinyLMError, match="cannot reshape"):
        t.t().reshape(7, -1)
    g = np.random.default_rng(6).standard_normal(flat.shape)
    flat.backward(tinylm.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), g.reshape(200, 300).T)
