"""The 2-D vision layers checked against PyTorch itself: conv2d, conv_transpose2d,
unfold/fold, the 2-D pools, dropout2d, pixel_shuffle/unshuffle, interpolate and their
Modules (with BatchNorm2d and Upsample). The same call in both libraries on the same float64
values gives the same output values, shapes and dtypes, and the same gradients of every
float input (input, weight, bias) for one random upstream gradient — over a grid of
stride/padding/dilation/groups/kernel sizes and random ones (hypothesis), on permuted and
step-sliced inputs, unbatched inputs, pooling ties, NaNs and -inf where PyTorch defines the
index; the Modules' reprs, state_dict keys, init and forward with copied weights; a small
LeNet's loss and gradients; and tinylm's refusals, one line each.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinylm
import tinylm.nn as nn
import tinylm.nn.functional as F
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import assert_same, backward_of_random_sum, values  # noqa: E402 - after the skip

TF = torch.nn.functional

pytestmark = pytest.mark.torch


def functional(lib: Any) -> Any:
    return F if lib is tinylm else TF


def run(lib: Any, fn: Any, arrays: list[np.ndarray], seed: int = 0) -> list[np.ndarray | None]:
    """fn(lib, *tensors): the outputs, then each float input's gradient after a backward
    with one random upstream gradient (the same in both libraries) per float output."""
    ts = [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = fn(lib, *ts)
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    backward_of_random_sum(lib, outs, np.random.default_rng(seed + 1))
    return [values(o) for o in outs] + [None if t.grad is None else values(t.grad) for t in ts]


def both(fn: Any, arrays: list[np.ndarray], rtol: float = 1e-10, atol: float = 1e-12) -> None:
    assert_same(run(tinylm, fn, arrays), run(torch, fn, arrays), rtol, atol)


RNG = np.random.default_rng(0)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------

GRID = [
    g
    for g in itertools.product(
        [1, (2, 1)], [0, (1, 2), "valid", "same"], [1, (2, 1)], [1, 2], [(3, 3), (2, 3)]
    )
    if not (g[1] == "same" and g[0] != 1)
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own copy
@pytest.mark.parametrize("stride, padding, dilation, groups, kernel", GRID)
def test_conv2d_matches_torch_over_the_grid(stride, padding, dilation, groups, kernel) -> None:
    """Output and the gradients of input, weight and bias, with bias and without (by
    keyword)."""
    x, w, b = randn(2, 4, 7, 8), randn(6, 4 // groups, *kernel), randn(6)
    both(
        lambda lib, x, w, b: functional(lib).conv2d(x, w, b, stride, padding, dilation, groups),
        [x, w, b],
    )
    both(
        lambda lib, x, w: functional(lib).conv2d(
            x, w, stride=stride, padding=padding, dilation=dilation, groups=groups
        ),
        [x, w],
    )


def test_conv2d_on_strided_and_unbatched_inputs_matches_torch() -> None:
    """A channels-last input permuted to (N, C, H, W), a weight made by permuting, a
    step-sliced input, and unbatched (C, H, W) input."""
    x, w, b = randn(3, 9, 8, 4), randn(3, 2, 2, 6), randn(6)  # x (N, H, W, C), w (KH, KW, C/G, O)
    both(
        lambda lib, x, w, b: functional(lib).conv2d(
            x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b, 2, 1, 1, 2
        ),
        [x, w, b],
    )
    both(
        lambda lib, x, w: functional(lib).conv2d(x[:, :, ::2, 1::3], w, padding="same"),
        [randn(2, 4, 15, 20), randn(5, 4, 4, 3)],
    )
    both(
        lambda lib, x, w, b: functional(lib).conv2d(x, w, b, 1, 2, 2),
        [randn(4, 6, 5), randn(5, 4, 3, 2), randn(5)],
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2, 3]),
    per_group=st.integers(1, 2),
    out_per_group=st.integers(1, 2),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    extra=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    seed=st.integers(0, 10_000),
)
def test_conv2d_matches_torch_for_random_arguments(
    n, groups, per_group, out_per_group, kernel, stride, padding, dilation, extra, seed
) -> None:
    size = [
        max(d * (k - 1) + 1 - 2 * p, 1) + e for k, p, d, e in zip(kernel, padding, dilation, extra)
    ]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * per_group, *size))
    w = rng.standard_normal((groups * out_per_group, per_group, *kernel))
    b = rng.standard_normal(groups * out_per_group)
    both(
        lambda lib, x, w, b: functional(lib).conv2d(x, w, b, stride, padding, dilation, groups),
        [x, w, b],
    )


def test_conv2d_keeps_float32_matches_torch_and_is_fast() -> None:
    """float32 in, float32 out, to float32's precision; a CIFAR-sized batch (64, 3, 32, 32)
    through a 3×3 conv forward and backward well under a second (best of three)."""
    x, w = randn(2, 3, 10, 9).astype(np.float32), randn(4, 3, 3, 3).astype(np.float32)
    both(lambda lib, x, w: functional(lib).conv2d(x, w, padding=1), [x, w], rtol=1e-5, atol=1e-5)
    assert F.conv2d(tinylm.tensor(x), tinylm.tensor(w)).dtype == tinylm.float32
    big = tinylm.tensor(randn(64, 3, 32, 32).astype(np.float32), requires_grad=True)
    kernel = tinylm.tensor(randn(16, 3, 3, 3).astype(np.float32), requires_grad=True)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        F.conv2d(big, kernel, padding=1).sum().backward()
        times.append(time.perf_counter() - start)
    assert min(times) < 0.5, times
    assert big.grad.dtype == kernel.grad.dtype == tinylm.float32


# ---------------------------------------------------------------------------------------
# conv_transpose2d, unfold, fold
# ---------------------------------------------------------------------------------------

TGRID = list(itertools.product([1, 2, (3, 2)], [0, 1, (1, 0)], [1, (1, 2)], [1, 2], [0, 1]))


@pytest.mark.parametrize("stride, padding, dilation, groups, extra", TGRID)
def test_conv_transpose2d_matches_torch_over_the_grid(
    stride, padding, dilation, groups, extra
) -> None:
    s, d = (
        (stride, stride) if isinstance(stride, int) else stride,
        ((dilation, dilation) if isinstance(dilation, int) else dilation),
    )
    if extra >= max(min(s), min(d)):
        extra = 0  # output_padding must stay below the stride or the dilation, per dim
    x, w, b = randn(2, 4, 5, 4), randn(4, 6 // groups, 3, 2), randn(6)
    both(
        lambda lib, x, w, b: functional(lib).conv_transpose2d(
            x, w, b, stride, padding, extra, groups, dilation
        ),
        [x, w, b],
    )


def test_conv_transpose2d_on_strided_and_unbatched_inputs_matches_torch() -> None:
    both(
        lambda lib, x, w, b: functional(lib).conv_transpose2d(
            x.permute(0, 3, 1, 2), w[:, :, ::2], b, 2, 1, (1, 0)
        ),
        [randn(2, 5, 4, 3), randn(3, 2, 6, 3), randn(2)],
    )
    both(
        lambda lib, x, w: functional(lib).conv_transpose2d(x, w, stride=(1, 2), dilation=2),
        [randn(3, 4, 5), randn(3, 2, 2, 3)],
    )


@pytest.mark.parametrize(
    "kernel, dilation, padding, stride",
    [(2, 1, 0, 1), ((3, 2), 1, 1, 2), (3, (2, 1), (1, 0), (1, 3)), (1, 1, 0, 2), (4, 2, 2, 3)],
)
def test_unfold_and_fold_match_torch(kernel, dilation, padding, stride) -> None:
    """unfold (im2col) and fold (col2im) and their gradients, batched and unbatched; fold of
    unfold counts how many blocks cover each pixel, as PyTorch's."""
    x = randn(2, 3, 9, 10)
    both(lambda lib, x: functional(lib).unfold(x, kernel, dilation, padding, stride), [x])
    both(lambda lib, x: functional(lib).unfold(x[0], kernel, dilation, padding, stride), [x])
    cols = TF.unfold(torch.tensor(x), kernel, dilation, padding, stride).numpy()
    both(
        lambda lib, c: functional(lib).fold(c, (9, 10), kernel, dilation, padding, stride),
        [randn(*cols.shape)],
    )
    both(
        lambda lib, c: functional(lib).fold(c, (9, 10), kernel, dilation, padding, stride),
        [randn(*cols.shape[1:])],
    )
    ones = np.ones((1, 1, 9, 10))
    counts = [
        values(
            functional(lib).fold(
                functional(lib).unfold(lib.tensor(ones), kernel, dilation, padding, stride),
                (9, 10), kernel, dilation, padding, stride,
            )
        )
        for lib in (tinylm, torch)
    ]  # fmt: skip
    np.testing.assert_array_equal(*counts)


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------

POOLS = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, True),
    ((3, 2), (2, 1), (1, 0), (1, 2), True),
    (3, 1, 1, 2, False),
    (2, 3, 1, 1, True),
    ((1, 3), (2, 2), (0, 1), 1, False),
    (4, 3, 0, 1, True),  # the last window runs past the image and its padding
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOLS)
def test_max_pool2d_values_indices_and_gradients_match_torch(
    kernel, stride, padding, dilation, ceil_mode
) -> None:
    """On random values, on small integers (ties: PyTorch's first in row-major order), on
    a permuted input and an unbatched one; the indices are flat positions in H·W."""
    x = randn(2, 3, 9, 11)
    ties = np.round(randn(2, 3, 9, 11))
    for arr in (x, ties):
        both(
            lambda lib, x: functional(lib).max_pool2d(
                x, kernel, stride, padding, dilation, ceil_mode, True
            ),
            [arr],
        )
    both(
        lambda lib, x: functional(lib).max_pool2d(
            x.permute(0, 3, 1, 2), kernel, stride, padding, dilation, ceil_mode
        ),
        [np.round(randn(2, 9, 11, 3))],
    )
    both(
        lambda lib, x: functional(lib).max_pool2d(
            x, kernel, stride, padding, dilation, ceil_mode, return_indices=True
        ),
        [ties[0]],
    )


@pytest.mark.parametrize("kernel, stride, padding, _, ceil_mode", POOLS[:4])
def test_max_unpool2d_puts_values_back_as_torch(kernel, stride, padding, _, ceil_mode) -> None:
    """max_pool2d's values put back at its indices (output_size the input's, with N and C
    or without), the default size where it fits, and the unbatched form; gradients too."""
    x = randn(2, 3, 9, 11)
    pooled, where = TF.max_pool2d(torch.tensor(x), kernel, stride, padding, 1, ceil_mode, True)
    idx = where.numpy()

    def unpool(lib, v, size):
        fn = functional(lib)
        return fn.max_unpool2d(v, lib.tensor(idx[: len(v)]), kernel, stride, padding, size)

    both(lambda lib, v: unpool(lib, v, (9, 11)), [values(pooled)])
    both(lambda lib, v: unpool(lib, v, (2, 3, 9, 11)), [values(pooled)])
    both(
        lambda lib, v: functional(lib).max_unpool2d(
            v, lib.tensor(idx[0]), kernel, stride, padding, (9, 11)
        ),
        [values(pooled)[0]],
    )
    even = randn(2, 3, 8, 10)  # MaxUnpool2d(2)'s default size is the pooled input's

    def round_trip(lib, x):
        top, at = lib.nn.MaxPool2d(2, return_indices=True)(x)
        return lib.nn.MaxUnpool2d(2)(top, at)

    both(round_trip, [even])
    assert repr(nn.MaxUnpool2d((3, 2), 1, 1)) == repr(torch.nn.MaxUnpool2d((3, 2), 1, 1))


def test_max_pools_pick_torchs_index_at_nans_ties_and_minus_inf() -> None:
    """A window holding NaNs gives its last NaN, a window of -inf its first pixel, a tie
    of equal values its first: as PyTorch's, with the gradient sent there."""
    x = np.zeros((1, 2, 6, 6))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = np.nan
    x[0, 0, 2:4, 2:4] = -np.inf
    x[0, 1, 4, 5] = x[0, 1, 5, 4] = 3.0
    both(lambda lib, x: functional(lib).max_pool2d(x, 2, return_indices=True), [x])
    both(lambda lib, x: functional(lib).max_pool2d(x, 3, 2, 1, ceil_mode=True), [x])
    both(lambda lib, x: functional(lib).adaptive_max_pool2d(x, (4, 3), True), [x])


@pytest.mark.parametrize("kernel, stride, padding, _, ceil_mode", POOLS)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 5])
def test_avg_pool2d_matches_torch(
    kernel, stride, padding, _, ceil_mode, count_include_pad, divisor_override
) -> None:
    both(
        lambda lib, x: functional(lib).avg_pool2d(
            x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
        ),
        [randn(2, 3, 9, 11)],
    )
    both(
        lambda lib, x: functional(lib).avg_pool2d(
            x.mT, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
        ),
        [randn(3, 11, 9)],
    )


@pytest.mark.parametrize("output_size", [1, 3, (4, 5), (None, 2), (9, 11), (7, 13)])
def test_adaptive_pools_match_torch(output_size: Any) -> None:
    """Windows [⌊iH/OH⌋, ⌈(i+1)H/OH⌉), overlapping where OH does not divide H; None keeps a
    dim; batched, unbatched, ties and a transposed input."""
    x = randn(2, 3, 9, 11)
    for arr in (x, np.round(x), x[0]):
        both(lambda lib, x: functional(lib).adaptive_avg_pool2d(x, output_size), [arr])
        both(lambda lib, x: functional(lib).adaptive_max_pool2d(x, output_size, True), [arr])
    both(lambda lib, x: functional(lib).adaptive_avg_pool2d(x.mT, output_size), [randn(2, 11, 9)])


@pytest.mark.parametrize("norm_type", [1, 2, 3.5, math.inf, -math.inf])
@pytest.mark.parametrize("kernel, stride, ceil_mode", [(2, None, False), ((3, 2), (2, 1), True)])
def test_lp_pool2d_matches_torch(norm_type: float, kernel: Any, stride: Any, ceil_mode) -> None:
    """Values and gradients, with a window of zeros (PyTorch's zero gradient there)."""
    x = np.abs(randn(2, 3, 9, 11)) + 0.1
    x[0, 0, :3, :3] = 0.0
    both(lambda lib, x: functional(lib).lp_pool2d(x, norm_type, kernel, stride, ceil_mode), [x])


def test_batch_norm_of_images_matches_torch() -> None:
    """F.batch_norm on (N, C, H, W): statistics over (N, H, W), the running ones moved
    (unbiased variance), then evaluation with them; weight and bias gradients too."""
    x, w, b = randn(3, 4, 5, 6), randn(4), randn(4)
    stats = {}
    for lib in (tinylm, torch):
        mean, var = lib.zeros(4, dtype=lib.float64), lib.ones(4, dtype=lib.float64)
        stats[lib] = (mean, var)

    def train(lib, x, w, b):
        mean, var = stats[lib]
        return functional(lib).batch_norm(x.mT, mean, var, w, b, True, 0.3)

    both(train, [x.swapaxes(-1, -2), w, b])
    np.testing.assert_allclose(values(stats[tinylm][1]), values(stats[torch][1]), rtol=1e-12)
    both(lambda lib, x: functional(lib).batch_norm(x, *stats[lib]), [x])


def test_adaptive_pools_to_empty_outputs_match_torch() -> None:
    """An output size of 0 gives PyTorch's empty shape (its backward refuses empty
    gradients, so only the forward is compared)."""
    x = randn(2, 3, 9, 11)
    for size in ((0, 2), 0):
        for lib in (tinylm, torch):
            avg = functional(lib).adaptive_avg_pool2d(lib.tensor(x), size)
            top, where = functional(lib).adaptive_max_pool2d(lib.tensor(x), size, True)
            assert (tuple(avg.shape), tuple(top.shape), str(where.dtype)[-5:]) == (
                (2, 3, 0, 2 if size else 0),
                (2, 3, 0, 2 if size else 0),
                "int64",
            )


# ---------------------------------------------------------------------------------------
# dropout2d, pixel_shuffle, interpolate
# ---------------------------------------------------------------------------------------


def test_dropout2d_drops_whole_channels_and_scales_the_rest() -> None:
    """Each (n, c) plane is all zeros or all 1/(1 − p), about p of them dropped; the
    gradient is the same mask; eval mode and p = 0 give the input; a 3-D input is (N, C, L)
    with PyTorch's warning."""
    tinylm.manual_seed(0)
    x = tinylm.ones(40, 50, 3, 4, requires_grad=True)
    y = F.dropout2d(x, 0.3)
    planes = values(y).reshape(40, 50, 12)
    assert (planes == planes[..., :1]).all()
    assert set(np.unique(planes)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((planes[..., 0] == 0).mean() - 0.3) < 0.05
    g = randn(40, 50, 3, 4)
    y.backward(tinylm.tensor(g.astype(np.float32)))
    np.testing.assert_allclose(values(x.grad), g * values(y), rtol=1e-6)
    assert F.dropout2d(x, 0.3, training=False) is x and F.dropout2d(x, 0.0) is x
    assert not values(F.dropout2d(x, 1.0)).any()
    layer = nn.Dropout2d(0.3)
    assert repr(layer) == repr(torch.nn.Dropout2d(0.3))
    assert layer.eval()(x) is x
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        z = values(F.dropout2d(tinylm.ones(6, 40, 5), 0.5))
    assert (z == z[..., :1]).all()


@pytest.mark.parametrize(
    "factor, shape", [(2, (2, 12, 4, 6)), (3, (9, 2, 3)), (2, (2, 3, 8, 1, 5))]
)
def test_pixel_shuffle_and_unshuffle_match_torch(factor: int, shape: tuple) -> None:
    x = randn(*shape)
    both(lambda lib, x: functional(lib).pixel_shuffle(x, factor), [x])
    big = randn(*shape[:-3], 2, shape[-2] * factor, shape[-1] * factor)
    both(lambda lib, x: functional(lib).pixel_unshuffle(x, factor), [big])
    both(lambda lib, x: functional(lib).pixel_unshuffle(x.mT, factor), [big.swapaxes(-1, -2)])
    ints = np.arange(int(np.prod(shape))).reshape(shape)
    for lib in (tinylm, torch):  # any dtype, kept
        assert str(functional(lib).pixel_shuffle(lib.tensor(ints), factor).dtype).endswith("int64")
    np.testing.assert_array_equal(
        values(F.pixel_shuffle(tinylm.tensor(ints), factor)),
        values(TF.pixel_shuffle(torch.tensor(ints), factor)),
    )


@pytest.mark.parametrize("groups, shape", [(2, (2, 6, 3, 4)), (3, (1, 6, 5)), (1, (2, 4, 3, 3))])
def test_channel_shuffle_matches_torch(groups: int, shape: tuple) -> None:
    both(lambda lib, x: functional(lib).channel_shuffle(x, groups), [randn(*shape)])
    both(lambda lib, x: lib.nn.ChannelShuffle(groups)(x.mT), [randn(*shape).swapaxes(-1, -2)])
    assert repr(nn.ChannelShuffle(groups)) == repr(torch.nn.ChannelShuffle(groups))


@pytest.mark.parametrize("name", ["upsample", "upsample_nearest", "upsample_bilinear"])
def test_deprecated_upsample_functions_match_torch_and_warn(name: str) -> None:
    """PyTorch's deprecated F.upsample … : interpolate (bilinear with align_corners=True),
    with the same deprecation warning."""
    for lib in (tinylm, torch):
        with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
            getattr(functional(lib), name)(lib.zeros(1, 1, 2, 2), scale_factor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both(lambda lib, x: getattr(functional(lib), name)(x, (5, 3)), [randn(2, 3, 4, 4)])


RESIZES = [
    {"size": (10, 14)},
    {"size": (3, 4)},
    {"size": (5, 9)},
    {"size": 1},
    {"size": (13, 6)},
    {"scale_factor": 2},
    {"scale_factor": 2.0001},  # ⌊H·2.0001⌋ = 2H: PyTorch's i // 2, not ⌊i / 2.0001⌋
    {"scale_factor": 1.7},
    {"scale_factor": (0.5, 2.3)},
    {"scale_factor": 1.05},
    {"scale_factor": 1.7, "recompute_scale_factor": True},
]


@pytest.mark.parametrize("resize", RESIZES, ids=str)
def test_interpolate_matches_torch(resize: dict) -> None:
    """ "nearest" (PyTorch's float32 index arithmetic, ×2 and ×1 special cases) and
    "bilinear" with align_corners unset, False and True; float64 and float32; uint8 for
    nearest; a transposed input."""
    x = randn(2, 3, 5, 7)
    both(lambda lib, x: functional(lib).interpolate(x, mode="nearest", **resize), [x])
    both(lambda lib, x: functional(lib).interpolate(x.mT, **resize), [x.swapaxes(-1, -2)])
    for corners in (None, False, True):

        def bilinear(lib: Any, x: Any, corners: bool | None = corners) -> Any:
            return functional(lib).interpolate(x, mode="bilinear", align_corners=corners, **resize)

        both(bilinear, [x])
        both(
            bilinear,
            [x.astype(np.float32)],
            rtol=1e-5,
            atol=1e-6,
        )
    pixels = RNG.integers(0, 256, (1, 3, 5, 7)).astype(np.uint8)
    both(lambda lib, x: functional(lib).interpolate(x, **resize), [pixels])


def test_interpolate_indexes_in_float32_as_torch() -> None:
    """26 → 22 rows, where PyTorch's float32 scale for "nearest" picks another pixel than
    float64 would; and for "bilinear" sizes whose source positions land within rounding
    of a pixel (3 → 47 rows at half-pixel centres, 2 → 50 columns with align_corners)."""
    both(lambda lib, x: functional(lib).interpolate(x, (22, 5)), [randn(1, 2, 26, 3)])
    both(
        lambda lib, x: functional(lib).interpolate(x, (47, 3), mode="bilinear"),
        [randn(1, 2, 3, 2)],
    )
    both(
        lambda lib, x: functional(lib).interpolate(x, (4, 50), mode="bilinear", align_corners=True),
        [randn(1, 2, 3, 2)],
    )


# ---------------------------------------------------------------------------------------
# the Modules
# ---------------------------------------------------------------------------------------

MODULES = {
    "Conv2d": ((4, 6, 3), {}),
    "Conv2d strided": ((4, 6, (3, 2), (2, 1), (1, 0), (1, 2), 2, False), {}),
    "Conv2d same": ((4, 6, (4, 3)), {"padding": "same", "dilation": (2, 1)}),
    "Conv2d valid": ((4, 6, 2), {"padding": "valid"}),
    "Conv2d reflect": ((4, 6, 3), {"padding": (2, 1), "padding_mode": "reflect"}),
    "Conv2d replicate same": ((4, 6, 4), {"padding": "same", "padding_mode": "replicate"}),
    "Conv2d circular": ((4, 6, 3, 2, 3), {"padding_mode": "circular", "groups": 2}),
    "ConvTranspose2d": ((4, 6, 3), {}),
    "ConvTranspose2d all": ((4, 6, (3, 2), 2, 1, (1, 0), 2, False, (1, 2)), {}),
    "MaxPool2d": ((3,), {}),
    "MaxPool2d all": ((3, 2, 1, 2, False, True), {}),
    "AvgPool2d": ((3,), {}),
    "AvgPool2d all": (((3, 2), 2, 1, True, False, 4), {}),
    "LPPool2d": ((2, 3), {}),
    "LPPool2d all": ((1.5, (3, 2), 2, True), {}),
    "AdaptiveAvgPool2d": (((3, None),), {}),
    "AdaptiveMaxPool2d": ((4, True), {}),
    "BatchNorm2d": ((4,), {}),
    "BatchNorm2d no affine": ((4, 1e-3, None, False), {}),
    "BatchNorm2d no bias": ((4,), {"momentum": 0.3, "bias": False}),
    "Unfold": (((2, 3),), {"padding": 1, "stride": 2}),
    "PixelShuffle": ((2,), {}),
    "PixelUnshuffle": ((3,), {}),
    "Upsample": ((), {"scale_factor": 2}),
    "Upsample bilinear": (((4, 13),), {"mode": "bilinear"}),
    "Upsample bilinear corners": (
        (),
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
    ),
    "UpsamplingNearest2d": (((5, 5),), {}),
    "UpsamplingBilinear2d": ((), {"scale_factor": 2}),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_match_torch_with_copied_weights(name: str) -> None:
    """Repr, state_dict keys and shapes, then the forward and every gradient with the
    weights copied from PyTorch's module (BatchNorm2d: two training steps, with their
    running statistics, then one in eval mode)."""
    args, kwargs = MODULES[name]
    cls = name.split()[0]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double()
    ours = getattr(nn, cls)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    state = {k: values(v) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in state.items()
    }
    ours.load_state_dict({k: tinylm.tensor(v) for k, v in state.items()})
    x = np.abs(randn(2, 4, 9, 9)) + 0.1

    def forward(lib, x):
        module = ours if lib is tinylm else theirs
        return module(x)

    steps = 3 if cls == "BatchNorm2d" else 1
    for step in range(steps):
        if step == 2:
            ours.eval(), theirs.eval()
        assert_same(run(tinylm, forward, [x], seed=step), run(torch, forward, [x], seed=step))
    for (k, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(values(p), values(q), rtol=1e-10, atol=1e-12, err_msg=k)
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(values(p.grad), values(q.grad), rtol=1e-10, atol=1e-12)


def test_fold_module_and_conv_transpose2d_output_size_match_torch() -> None:
    cols = randn(2, 3 * 4, 20)
    both(lambda lib, c: lib.nn.Fold((5, 6), 2, stride=1)(c), [cols])
    assert repr(nn.Fold((5, 6), 2)) == repr(torch.nn.Fold((5, 6), 2))
    theirs = torch.nn.ConvTranspose2d(4, 3, 3, stride=(3, 2)).double()
    ours = nn.ConvTranspose2d(4, 3, 3, stride=(3, 2)).double()
    ours.load_state_dict({k: tinylm.tensor(values(v)) for k, v in theirs.state_dict().items()})
    x = randn(2, 4, 5, 4)
    for size in ([15, 9], [2, 3, 16, 10], (17, 10)):
        a = ours(tinylm.tensor(x), output_size=size)
        b = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(values(a), values(b), rtol=1e-10, atol=1e-12)
    with pytest.raises(TinyLMError, match=r"ConvTranspose2d: output_size \(18, 9\) is not"):
        ours(tinylm.tensor(x), output_size=[18, 9])


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: nn.Conv2d(8, 64, 5), 200),
        (lambda: nn.Conv2d(8, 64, (3, 2), groups=4), 12),
        (lambda: nn.ConvTranspose2d(8, 64, 3, groups=2), 288),
    ],
)
def test_init_is_torchs_uniform_bound(make: Any, fan_in: int) -> None:
    """kaiming_uniform(a=√5) is U(±1/√fan_in) for the weight, fan_in = weight.shape[1]·KH·KW;
    the bias has the same bound; each fills its range; reproducible from the seed."""
    tinylm.manual_seed(3)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        a = values(p)
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound
    assert layer.weight.dtype == tinylm.float32
    tinylm.manual_seed(3)
    np.testing.assert_array_equal(values(make().weight), values(layer.weight))


def test_a_lenet_trains_as_torchs() -> None:
    """Conv2d → BatchNorm2d → ReLU → MaxPool2d → Conv2d → ReLU → AvgPool2d → Dropout2d (eval)
    → Flatten → Linear on MNIST-shaped input: the loss, the input's gradient and every
    parameter's gradient equal PyTorch's with the weights copied, over two SGD steps."""

    def build(lib):
        n = lib.nn
        return n.Sequential(
            n.Conv2d(1, 4, 5, padding=2),
            n.BatchNorm2d(4),
            n.ReLU(),
            n.MaxPool2d(2),
            n.Conv2d(4, 6, 3),
            n.ReLU(),
            n.AvgPool2d(2, ceil_mode=True),
            n.Dropout2d(0.0),
            n.Flatten(),
            n.Linear(6 * 6 * 6, 10),
        )

    theirs = build(torch).double()
    ours = build(tinylm).double()
    ours.load_state_dict({k: tinylm.tensor(values(v)) for k, v in theirs.state_dict().items()})
    images, labels = randn(5, 1, 28, 28), RNG.integers(0, 10, 5)
    results = []
    for lib, model in ((tinylm, ours), (torch, theirs)):
        steps = []
        for _ in range(2):
            x = lib.tensor(images, requires_grad=True)
            loss = functional(lib).cross_entropy(model(x), lib.tensor(labels))
            model.zero_grad()
            loss.backward()
            grads = [values(p.grad) for p in model.parameters()]
            steps.append([float(loss.detach()), values(x.grad), *grads])
            with lib.no_grad():  # a plain SGD step (torch.optim's first step imports dynamo)
                for p in model.parameters():
                    p.sub_(p.grad * 0.1)
        results.append(steps)
    for ours_step, theirs_step in zip(*results):
        assert ours_step[0] == pytest.approx(theirs_step[0], rel=1e-12)
        for a, b in zip(ours_step[1:], theirs_step[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_top_level_forms_match_torchs() -> None:
    x, w = randn(2, 3, 8, 8), randn(4, 3, 3, 3)
    both(lambda lib, x, w: lib.conv2d(x, w, None, 2, 1), [x, w])
    both(lambda lib, x, w: lib.conv_transpose2d(x, w.swapaxes(0, 1)[:3], None, 2), [x, w])
    both(lambda lib, x: lib.max_pool2d(x, 3, padding=1), [x])
    both(
        lambda lib, x: lib.pixel_unshuffle(lib.pixel_shuffle(x[:, :, :4], 2), 2),
        [randn(2, 4, 4, 3)],
    )


# ---------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------

T = tinylm.tensor
X4, W4 = T(randn(2, 4, 8, 8)), T(randn(6, 4, 3, 3))

REFUSALS = [
    (lambda: F.conv2d(T(randn(4, 8)), W4), r"conv2d: input must be \(N, C_in, H, W\)"),
    (lambda: F.conv2d(X4, T(randn(6, 4, 3))), r"conv2d: weight must be 4-D"),
    (lambda: F.conv2d(X4, T(randn(6, 3, 3, 3))), r"has 4 channels but weight \(6, 3, 3, 3\)"),
    (lambda: F.conv2d(X4, T(randn(5, 2, 3, 3)), groups=2), r"not divisible by groups=2"),
    (lambda: F.conv2d(X4, W4, T(randn(5))), r"conv2d: bias has shape \(5,\), expected \(6,\)"),
    (lambda: F.conv2d(X4, W4, stride=(1, 0)), r"conv2d: stride must be at least 1"),
    (lambda: F.conv2d(X4, W4, stride=(1, 2, 3)), r"conv2d: stride must be an int or a pair"),
    (lambda: F.conv2d(X4, W4, padding=-1), r"conv2d: padding must be at least 0"),
    (lambda: F.conv2d(X4, W4, stride=2, padding="same"), r"'same' is not supported for strided"),
    (lambda: F.conv2d(X4, W4, padding="full"), r"padding must be an int, a pair, 'valid'"),
    (lambda: F.conv2d(T(randn(2, 4, 2, 8)), W4), r"smaller than the kernel's reach"),
    (lambda: F.conv2d(T(np.ones((2, 4, 8, 8), np.int64)), W4), r"conv2d: input must be a float"),
    (lambda: F.conv2d(X4.float(), W4), r"conv2d: all inputs must have the same dtype"),
    (
        lambda: F.conv_transpose2d(X4, T(randn(4, 3, 3, 3)), output_padding=(0, 1)),
        r"output_padding \(1\) must be smaller",
    ),
    (
        lambda: F.conv_transpose2d(X4, T(randn(4, 3, 3, 3)), padding="same"),
        r"padding must be an int or a pair",
    ),
    (
        lambda: F.conv_transpose2d(T(randn(2, 4, 1, 1)), T(randn(4, 3, 3, 3)), padding=2),
        r"output would have size \(-1, -1\)",
    ),
    (lambda: F.unfold(T(randn(8, 8)), 2), r"unfold: input must be \(N, C, H, W\)"),
    (lambda: F.unfold(X4, 9), r"unfold: spatial size \(8, 8\) .* too small"),
    (lambda: F.fold(T(randn(2, 7, 4)), 3, 2), r"fold: input \(2, 7, 4\) dim -2 \(7\) is not"),
    (lambda: F.fold(T(randn(2, 8, 5)), 3, 2), r"fold: input \(2, 8, 5\) has 5 blocks"),
    (lambda: F.max_pool2d(X4, 3, padding=2), r"max_pool2d: padding \(2, 2\) must be at most"),
    (lambda: F.max_pool2d(X4, (2, 0)), r"max_pool2d: kernel_size must be at least 1"),
    (lambda: F.max_pool2d(X4, 9), r"max_pool2d: input \(2, 4, 8, 8\) is too small"),
    (lambda: F.max_pool2d(T(randn(8, 8)), 2), r"max_pool2d: input must be \(N, C, H, W\)"),
    (lambda: F.max_pool2d(T(np.ones((1, 4, 4), np.int64)), 2), r"max_pool2d: input must be a "),
    (lambda: F.avg_pool2d(X4, 2, divisor_override=0), r"avg_pool2d: divisor_override must not"),
    (lambda: F.avg_pool2d(X4, 2, stride=0), r"avg_pool2d: stride must be at least 1"),
    (lambda: F.lp_pool2d(X4, 0, 2), r"lp_pool2d: norm_type must be a non-zero number"),
    (
        lambda: F.max_unpool2d(X4, T(np.zeros((2, 4, 8, 8), np.int64)), 2, output_size=(20, 16)),
        r"max_unpool2d: invalid output_size \(20, 16\) \(dim 0 must be between 14 and 18\)",
    ),
    (
        lambda: F.max_unpool2d(X4, T(np.full((2, 4, 8, 8), 300)), 2),
        r"max_unpool2d: found an invalid max index 300 \(the output is 16x16\)",
    ),
    (lambda: F.max_unpool2d(X4, T(np.zeros((2, 4, 8, 8))), 2), r"indices must be an int64"),
    (lambda: F.max_unpool2d(X4, T(np.zeros((2, 4, 8), np.int64)), 2), r"must have the input's"),
    (lambda: F.batch_norm(T(randn(4)), None, None, training=True), r"batch_norm: input must be"),
    (lambda: F.adaptive_avg_pool2d(X4, -1), r"output_size must be at least 0"),
    (lambda: F.adaptive_avg_pool2d(X4, (1, 2, 3)), r"output_size must be an int or a pair"),
    (lambda: F.adaptive_max_pool2d(T(randn(2, 4, 0, 3)), 2), r"is empty along its last two"),
    (lambda: F.dropout2d(T(randn(2, 4)), 0.5), r"dropout2d: expected a 4-D"),
    (lambda: F.dropout2d(X4, 1.5), r"dropout2d: .*p"),
    (lambda: F.pixel_shuffle(X4, 3), r"pixel_shuffle: input \(2, 4, 8, 8\) has 4 channels"),
    (lambda: F.pixel_shuffle(T(randn(4, 4)), 2), r"pixel_shuffle: input must have at least 3"),
    (lambda: F.pixel_unshuffle(X4, 3), r"height and width must be divisible by"),
    (lambda: F.channel_shuffle(X4, 3), r"channel_shuffle: input \(2, 4, 8, 8\) has 4 channels"),
    (lambda: F.channel_shuffle(T(randn(4, 4)), 2), r"channel_shuffle: input must have at least"),
    (lambda: F.interpolate(X4, 4, mode="bicubic"), r"interpolate: mode 'bicubic' is not"),
    (lambda: F.interpolate(X4[0], 4), r"interpolate: only 4-D \(N, C, H, W\) input"),
    (lambda: F.interpolate(X4, 4, antialias=True), r"antialias=True is not supported"),
    (lambda: F.interpolate(X4, 4, align_corners=True), r"align_corners can only be set"),
    (lambda: F.interpolate(X4, 4, 2.0), r"only one of size or scale_factor"),
    (lambda: F.interpolate(X4), r"either size or scale_factor should be defined"),
    (lambda: F.interpolate(X4, scale_factor=0.1), r"sizes must be greater than 0"),
    (lambda: F.interpolate(X4, (2, 3, 4)), r"size must be an int or a pair"),
    (lambda: F.interpolate(X4, 4, recompute_scale_factor=True), r"not meaningful with a size"),
    (
        lambda: F.interpolate(T(np.ones((1, 1, 2, 2), np.uint8)), 4, mode="bilinear"),
        r"bilinear needs a float input",
    ),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), r"Conv2d: out_channels \(6\) must be divisible"),
    (lambda: nn.Conv2d(4, 6, 3, padding_mode="foo"), r"Conv2d: padding_mode must be one of"),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), r"'same' is not supported for strided"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"), r'only "zeros" padding mode'),
    (lambda: nn.BatchNorm2d(4)(T(randn(4, 8, 8))), r"BatchNorm2d: expected 4-D input"),
    (lambda: nn.BatchNorm2d(3)(X4), r"BatchNorm2d: expected 4-D input \(N, 3, H, W\)"),
]


@pytest.mark.parametrize("call, message", REFUSALS, ids=[m for _, m in REFUSALS])
def test_bad_arguments_are_refused_in_one_line(call: Any, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the way to the refusal
        with pytest.raises(TinyLMError, match=message) as info:
            call()
    assert "\n" not in str(info.value)
