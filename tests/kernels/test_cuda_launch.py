"""The CUDA launcher's arithmetic and argument preparation, checked on the host (no GPU).

``tinylm.kernels.cuda`` reaches CuPy only through its module name ``cupy`` and through
``get_kernel``. Here ``cupy`` is NumPy and ``get_kernel`` returns a recorder that checks every
launch against the kernel's own parameter list, read from its ``.cu`` source: the grid within
CUDA's limits and never 0, the block the size ``__launch_bounds__`` names, one argument per
parameter, each pointer a C-contiguous array of the parameter's dtype (float32 / int64) and
each scalar exactly the parameter's type (a float64 where the kernel reads a float32 would be
read as garbage). The GPU tests (test_cuda_runtime.py) check the numbers.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tinylm.kernels import cuda, reference
from tinylm.kernels.cuda import build

from tinylm.ops.fused_multiply_add import fma_lerp

DTYPES = {"float": np.float32, "int": np.int32, "long long": np.int64, "signed char": np.int8}


def launch_bound(expression: str, stem: str, d: int) -> int:
    """The value of a ``__launch_bounds__`` expression such as ``FWD_BR * (D / COLS_PER_THREAD)``
    for head size ``d``, with the source's #defines."""
    names = {**build.defines(f"{stem}.cu"), "D": d}
    arithmetic = re.sub(r"[A-Za-z_]\w*", lambda m: str(names[m.group()]), expression)
    assert re.fullmatch(r"[\d\s*/+()-]+", arithmetic), arithmetic
    return eval(arithmetic.replace("/", "//"))  # integers and + - * / ( ) only: C's arithmetic


def kernel_parameters(stem: str) -> dict[str, tuple[str | None, list[tuple[str, type]]]]:
    """{kernel: (launch-bound expression or None, [(kind, dtype), ...])} of ``<stem>.cu``."""
    return {
        name: (bound, [
            ("pointer", DTYPES[t[:-1]]) if t.endswith("*") else ("scalar", DTYPES[t])
            for t in types
        ])
        for name, (bound, types) in build.kernel_signatures(stem).items()
    }  # fmt: skip


class LaunchRecorder:
    """Stands for the compiled kernels: checks each launch and records (kernel, grid, block)."""

    def __init__(self):
        self.params = {stem: kernel_parameters(stem) for stem in build.stems()}
        self.launches: list[tuple[str, tuple, tuple]] = []

    def get_kernel(self, stem: str, name: str):
        base, _, template = name.partition("<")
        expression, params = self.params[stem][base]
        d = int(template.rstrip(">")) if template else 0
        bound = launch_bound(expression, stem, d) if expression else None

        def launch(grid, block, args):
            self.check(name, bound, params, grid, block, args)
            self.launches.append((name, grid, block))

        return launch

    @staticmethod
    def check(name, bound, params, grid, block, args):
        assert all(type(g) is int for g in (*grid, *block)), (name, grid, block)
        cuda.check_launch(grid, block)  # raises on a 0-sized or oversized grid
        if bound is not None:
            # the attention kernels map threadIdx.x to (row, part) assuming exactly this many
            assert math.prod(block) == bound, f"{name}: block {block} != launch bound {bound}"
        assert len(args) == len(params), f"{name}: {len(args)} arguments for {len(params)}"
        for i, (arg, (kind, dtype)) in enumerate(zip(args, params)):
            if kind == "pointer":
                assert isinstance(arg, np.ndarray), f"{name} argument {i}: {type(arg)}"
                assert arg.dtype == dtype, f"{name} argument {i}: {arg.dtype}, kernel reads {dtype}"
                assert arg.flags.c_contiguous, f"{name} argument {i} is not contiguous"
            else:
                assert type(arg) is dtype, f"{name} argument {i}: {type(arg)}, kernel reads {dtype}"


@pytest.fixture
def recorder(monkeypatch):
    rec = LaunchRecorder()
    monkeypatch.setattr(cuda, "cupy", np)
    monkeypatch.setattr(cuda, "get_kernel", rec.get_kernel)
    return rec


rng = np.random.default_rng(0)


def layouts(a: np.ndarray) -> dict[str, np.ndarray]:
    """``a`` (float32) as an upstream gradient may arrive: every layout the wrappers accept."""
    readonly = a.copy()
    readonly.flags.writeable = False
    return {
        "contiguous": a,
        "float64": a.astype(np.float64),
        "float16": a.astype(np.float16),
        "transposed": np.ascontiguousarray(a.T).T,  # Fortran order
        "strided": np.repeat(a, 2, axis=-1)[..., ::2],
        "broadcast": np.broadcast_to(a[:1], a.shape),  # stride 0 along axis 0
        "read-only": readonly,
    }


LAYOUTS = list(layouts(np.zeros((2, 3), np.float32)))


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- the checker itself


def test_the_recorder_catches_a_wrong_argument():
    rec = LaunchRecorder()
    launch = rec.get_kernel("softmax", "softmax_backward")
    y = np.zeros((4, 8), np.float32)
    good = (y, y, y, np.int64(4), np.int32(8))
    launch((1,), (128,), good)
    with pytest.raises(AssertionError, match="kernel reads"):
        launch((1,), (128,), (y, y.astype(np.float64), y, np.int64(4), np.int32(8)))
    with pytest.raises(AssertionError, match="not contiguous"):
        launch((1,), (128,), (y, y.T.copy().T, y, np.int64(4), np.int32(8)))
    with pytest.raises(AssertionError, match="kernel reads"):
        launch((1,), (128,), (y, y, y, 4, np.int32(8)))  # a Python int is not a long long
    with pytest.raises(ValueError, match="grid dimension x = 0"):
        launch((0,), (128,), good)
    att = rec.get_kernel("attention", "attention_forward<64>")
    args = (y, y, y, y, y, np.int32(1), np.int32(1), np.float32(1), np.int32(0))
    with pytest.raises(AssertionError, match="launch bound"):
        att((1, 1), (1024,), args)


def test_kernel_parameters_are_read_from_the_sources():
    params = kernel_parameters("adam")["adam_update"][1]
    assert len(params) == 14 and params[0] == ("pointer", np.float32)
    assert params[-1] == ("scalar", np.int64)
    expression, _ = kernel_parameters("attention")["attention_backward_dkdv"]
    for d, threads_per_row in ((32, 1), (64, 2)):
        want = cuda.ATTENTION_TILES["BWD_BK"] * threads_per_row
        assert launch_bound(expression, "attention", d) == want
        assert cuda.attention_launch(3, 100, cuda.ATTENTION_TILES["BWD_BK"], d)[1] == (want,)


# ---------------------------------------------------------------- launch arithmetic


def test_a_grid_is_never_empty():
    assert cuda.blocks_for(0, 4) == 1
    assert cuda.row_launch(0) == ((1,), (128,))
    assert cuda.flat_launch(0)[0] == (1,)
    assert cuda.attention_launch(0, 0, 64, 32)[0] == (1, 1)
    assert cuda.layer_norm_params_launch(0, 0)[0][0] == (1, 1)


def test_batch_times_heads_goes_in_grid_x():
    """B*H = 70 000 (> 65 535) launches; in grid.y it could not."""
    grid, block = cuda.attention_launch(70_000, 100, 64, 64)
    assert grid == (70_000, 2) and block == (128,)
    with pytest.raises(ValueError, match="grid dimension y"):
        cuda.check_launch((2, 70_000), (64,))
    with pytest.raises(ValueError, match="grid dimension y"):
        cuda.attention_launch(
            1, 64 * 65_536, 64, 32
        )  # T past 4.2M rows says so, not a launch error


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 10**12), threads=st.sampled_from([32, 128, 256, 1024]))
def test_flat_launch_is_capped_and_covers_by_striding(n, threads):
    (blocks,), (t,) = cuda.flat_launch(n, threads)
    assert t == threads and 1 <= blocks <= cuda.MAX_GRID_YZ
    assert blocks == cuda.MAX_GRID_YZ or blocks * threads >= n


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 10**11), per=st.sampled_from([4, 32, 64]))
def test_row_blocks_cover_every_row_once(n, per):
    blocks = cuda.blocks_for(n, per)
    assert blocks * per >= n and (n == 0 or (blocks - 1) * per < n)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 10**10), c=st.integers(0, 100_000))
def test_layer_norm_parts_cover_every_row_once(n, c):
    (grid, block), rows_per_part = cuda.layer_norm_params_launch(n, c)
    parts = grid[1]
    assert parts * rows_per_part >= n and (n == 0 or (parts - 1) * rows_per_part < n)
    assert grid[0] * block[0] >= c and rows_per_part >= cuda.LN_PARAMS_ROWS


def test_constants_are_the_sources():
    assert cuda.WARPS_PER_BLOCK == build.defines("common.cuh")["WARPS_PER_BLOCK"] == 4
    assert cuda.ATTENTION_HEAD_DIMS == (32, 64)
    from tinylm.kernels.cuda import flash_emulation as E

    tiles = cuda.ATTENTION_TILES
    assert (E.FWD_BR, E.FWD_BC, E.BWD_BK, E.BWD_BQ) == (
        tiles["FWD_BR"], tiles["FWD_BC"], tiles["BWD_BK"], tiles["BWD_BQ"],
    )  # fmt: skip
    for kernel in ("attention_forward", "attention_backward_dq", "attention_backward_dkdv"):
        assert kernel_parameters("attention")[kernel][0] is not None, f"{kernel}: no bound"


# ---------------------------------------------------------------- every wrapper, every layout


def _calls(layout: str):
    """(op, args) for every op; every array argument in ``layout``, except that the first stays
    float32 (its dtype picks the kernel), in the layout's strides."""

    def lay(a):
        return layouts(a)[layout]

    def first(a):
        return a if layout in ("float64", "float16") else lay(a)

    x, g, w, b = f32(3, 5, 33), f32(3, 5, 33), f32(1, 33), f32(1, 33)
    _, mean, rstd = reference.layer_norm_forward(x, w[0], b[0], 1e-5)
    logits, target = f32(6, 7), np.array([0, 6, -100, 3, 3, 1])
    lse = reference.cross_entropy_forward(logits, target)[1]
    q, k, v, gout = (f32(2, 3, t, 32) for t in (40, 70, 70, 40))
    out, alse = reference.attention_forward(q, k, v, 0.2, True)
    gates, c_prev, dh, dc = f32(3, 5, 44), f32(3, 5, 11), f32(3, 5, 11), f32(3, 5, 11)
    _, c, act = reference.lstm_cell_forward(gates, c_prev)
    return [
        ("softmax_forward", (first(x),)),
        ("softmax_backward", (first(x), lay(g))),
        ("log_softmax_forward", (first(x),)),
        ("log_softmax_backward", (first(x), lay(g))),
        ("gelu_forward", (first(x),)),
        ("gelu_backward", (first(x), lay(g))),
        ("gelu_exact_forward", (first(x),)),
        ("gelu_exact_backward", (first(x), lay(g))),
        ("layer_norm_forward", (first(x), lay(w)[0], lay(b)[0], 1e-5)),
        ("layer_norm_backward", (first(g), lay(x), lay(w)[0], lay(mean), lay(rstd))),
        ("cross_entropy_forward", (first(logits), target)),
        ("cross_entropy_backward", (first(logits), target, lay(lse[:, None])[:, 0], lay(lse))),
        ("attention_forward", (first(q), lay(k), lay(v), 0.2, True)),
        ("attention_backward", (first(q), lay(k), lay(v), lay(out), lay(alse), lay(gout), 0.2)),
        ("int8_linear", (first(x), np.ones((4, 33), np.int8), lay(w)[0, :4], lay(b)[0, :4])),
        ("lstm_cell_forward", (first(gates), lay(c_prev))),
        ("lstm_cell_backward", (first(act), lay(c_prev), lay(c), lay(dh), lay(dc))),
    ]


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_wrapper_takes_any_layout_and_dtype_of_its_other_arrays(recorder, layout):
    for op, args in _calls(layout):
        recorder.launches.clear()
        got = _as_tuple(getattr(cuda, op)(*args))
        assert recorder.launches, f"{op} ran no kernel"
        want = _as_tuple(getattr(reference, op)(*args))
        assert len(got) == len(want), op
        for got_a, want_a in zip(got, want):
            assert got_a.shape == want_a.shape and got_a.dtype == np.float32, op


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_other_dtypes_take_the_reference(recorder, dtype):
    for op, args in _calls("contiguous"):
        args = tuple(
            a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in args
        )
        recorder.launches.clear()
        got = _as_tuple(getattr(cuda, op)(*args))
        assert not recorder.launches, f"{op} launched a float32 kernel for {dtype.__name__}"
        for got_a, want_a in zip(got, _as_tuple(getattr(reference, op)(*args))):
            np.testing.assert_array_equal(got_a, want_a, err_msg=op)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0, 7), (4, 0)], ids=lambda s: "x".join(map(str, s)))
def test_empty_inputs_launch_nothing(recorder, shape):
    x = np.zeros(shape, np.float32)
    recorder.launches.clear()
    for op in ("softmax_forward", "gelu_forward", "log_softmax_forward"):
        try:
            want = getattr(reference, op)(x)
        except ValueError:  # an empty softmax row: the reference says so, and so does the GPU
            with pytest.raises(ValueError):
                getattr(cuda, op)(x)
            continue
        np.testing.assert_array_equal(getattr(cuda, op)(x), want)
    assert not recorder.launches


@pytest.mark.parametrize("bhtk", [(0, 3, 8, 8), (2, 0, 8, 8), (2, 3, 0, 8), (2, 3, 8, 0)])
def test_empty_attention_launches_nothing(recorder, bhtk):
    b, h, tq, tk = bhtk
    q, k, v = (np.zeros((b, h, t, 32), np.float32) for t in (tq, tk, tk))
    for op in (cuda.attention_forward,):
        try:
            want = reference.attention_forward(q, k, v, 0.2, False)
        except ValueError:
            with pytest.raises(ValueError):
                op(q, k, v, 0.2, False)
        else:
            for got_a, want_a in zip(op(q, k, v, 0.2, False), want):
                np.testing.assert_array_equal(got_a, want_a)
    assert not recorder.launches


def test_attention_into_strided_destinations(recorder):
    """out= and grads= views of a packed buffer are written through (as the GPT passes them)."""
    q, k, v, gout = (f32(2, 3, 40, 64) for _ in range(4))
    packed = np.full((2, 3, 40, 3 * 64), np.nan, np.float32)
    dests = tuple(packed[..., i * 64 : (i + 1) * 64] for i in range(3))
    out, lse = cuda.attention_forward(q, k, v, 0.125, False, out=dests[0])
    assert out is dests[0]
    grads = cuda.attention_backward(q, k, v, out, lse, gout, 0.125, False, grads=dests)
    assert all(g is d for g, d in zip(grads, dests))
    names = [name for name, _, _ in recorder.launches]
    assert names == [
        "attention_forward<64>",
        "attention_backward_delta<64>",
        "attention_backward_dkdv<64>",
        "attention_backward_dq<64>",
    ]


def test_attention_head_sizes_without_a_kernel_take_the_reference(recorder):
    q = f32(1, 2, 9, 16)
    got = cuda.attention_forward(q, q, q, 0.25, True)
    for got_a, want_a in zip(got, reference.attention_forward(q, q, q, 0.25, True)):
        np.testing.assert_array_equal(got_a, want_a)
    assert not recorder.launches


# ---------------------------------------------------------------- cross-entropy targets


@pytest.mark.parametrize("bad", [5, -1, 1_000_000])
@pytest.mark.parametrize("op", ["cross_entropy_forward", "cross_entropy_backward"])
def test_cross_entropy_target_out_of_range_is_an_index_error(recorder, bad, op):
    logits = f32(3, 5)
    target = np.array([0, bad, 4])
    lse = reference.cross_entropy_forward(logits, np.array([0, 0, 4]))[1]
    args = (logits, target) if op == "cross_entropy_forward" else (logits, target, lse, lse)
    with pytest.raises(IndexError, match=f"target {bad} out of range for 5 classes"):
        getattr(cuda, op)(*args)
    assert not recorder.launches  # the kernel would have read logits[bad]


def test_cross_entropy_ignore_index_may_be_out_of_range(recorder):
    logits = f32(3, 5)
    cuda.cross_entropy_forward(logits, np.array([-100, 2, -100]), -100)
    cuda.cross_entropy_forward(logits, np.array([7, 2, 7]), 7)
    assert len(recorder.launches) == 2


# ---------------------------------------------------------------- Adam


def test_adam_scalars_are_rounded_once_from_float64():
    """1 - beta1 in float32 arithmetic rounds twice: 1 - f32(0.9) != f32(1 - 0.9)."""
    s = cuda.adam_scalars(
        lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, step=3, decoupled=True
    )
    assert all(type(value) is np.float32 for value in s)
    beta1, one_minus_beta1, beta2, one_minus_beta2, eps, decay, l2, step_size, bc2_sqrt = s
    assert one_minus_beta1 == np.float32(1.0 - 0.9) != np.float32(1) - np.float32(0.9)
    assert one_minus_beta2 == np.float32(1.0 - 0.999) != np.float32(1) - np.float32(0.999)
    assert decay == np.float32(1.0 - 1e-3 * 0.1)
    assert l2 == 0 and step_size == np.float32(1e-3 / (1 - 0.9**3))
    assert bc2_sqrt == np.float32(math.sqrt(1 - 0.999**3))
    adam = cuda.adam_scalars(
        lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, step=3, decoupled=False
    )
    assert adam[5] == 1 and adam[6] == np.float32(0.1)


def test_adam_matches_what_the_reference_rounds(recorder):
    """The scalars reproduce the reference's own float32 constants: with them, the kernel's
    formula replayed in NumPy float32 equals the reference step bit for bit, but for the
    first moment, which the reference rounds once as PyTorch's lerp (``fma_lerp``) and the
    kernel's β₁m + (1 − β₁)g twice: those agree to the rounding of the terms."""
    hyper = dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=7)
    for decoupled in (True, False):
        p, g, m, v = f32(1000), f32(1000), f32(1000) * 0.1, np.abs(f32(1000)) * 0.01
        b1, omb1, b2, omb2, eps, decay, l2, step_size, bc2 = cuda.adam_scalars(
            **hyper, decoupled=decoupled
        )
        pk = p * decay
        gk = g + l2 * pk if l2 != 0 else g
        kernel_m = b1 * m + omb1 * gk
        mk = fma_lerp(m, gk, omb1)
        vk = b2 * v + omb2 * (gk * gk)
        pk = pk - step_size * (mk / (np.sqrt(vk) / bc2 + eps))
        reference.adam_update(p, g, m, v, **hyper, decoupled=decoupled)
        np.testing.assert_array_equal(mk, m)
        np.testing.assert_allclose(kernel_m, m, rtol=0, atol=1e-7)  # terms of size ≲ 1
        np.testing.assert_array_equal(vk, v)
        np.testing.assert_array_equal(pk, p)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_adam_takes_any_gradient_and_updates_in_place(recorder, layout):
    p, m, v = f32(4, 8), np.zeros((4, 8), np.float32), np.zeros((4, 8), np.float32)
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, step=1)
    cuda.adam_update(p, layouts(f32(4, 8))[layout], m, v, **hyper, decoupled=True)
    assert [name for name, _, _ in recorder.launches] == ["adam_update"]


def test_adam_state_that_is_not_contiguous_float32_takes_the_reference(recorder):
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, step=1)
    p = f32(8, 4).T  # a transposed parameter must be updated where it is
    m, v, g = np.zeros((4, 8), np.float32), np.zeros((4, 8), np.float32), f32(4, 8)
    want = p.copy()
    reference.adam_update(want, g, m.copy(), v.copy(), **hyper, decoupled=True)
    cuda.adam_update(p, g, m, v, **hyper, decoupled=True)
    assert not recorder.launches
    np.testing.assert_array_equal(p, want)
