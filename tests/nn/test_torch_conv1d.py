"""1-D convolution and pooling, ``embedding_bag`` and ``bilinear``, and their Modules,
checked against PyTorch itself: the same call in both libraries on the same float64 values
gives the same output values, shapes and dtypes, and the same gradients of every float
input (input, weight, bias, per-sample weights) for one random upstream gradient — over a
grid of stride/padding/dilation/groups/kernel sizes and random ones (hypothesis), on
transposed and step-sliced inputs, unbatched inputs, pooling ties, NaNs and -inf where
PyTorch defines the index; the Modules' reprs, state_dict keys, init and forward with
copied weights; and tinylm's refusals, one line each.
"""

from __future__ import annotations

import itertools
import math
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
# conv1d
# ---------------------------------------------------------------------------------------

GRID = list(itertools.product([1, 2, 3], [0, 1, 2, "valid", "same"], [1, 2], [1, 2], [1, 2, 3, 4]))


@pytest.mark.parametrize(
    "stride, padding, dilation, groups, kernel",
    [g for g in GRID if not (g[1] == "same" and g[0] != 1)],
)
def test_conv1d_matches_torch_over_the_grid(stride, padding, dilation, groups, kernel) -> None:
    """Output and the gradients of input, weight and bias, with bias and without, with the
    arguments by position and by keyword."""
    x, w, b = randn(2, 4, 11), randn(6, 4 // groups, kernel), randn(6)
    both(
        lambda lib, x, w, b: functional(lib).conv1d(x, w, b, stride, padding, dilation, groups),
        [x, w, b],
    )
    both(
        lambda lib, x, w: functional(lib).conv1d(
            x, w, stride=stride, padding=padding, dilation=dilation, groups=groups
        ),
        [x, w],
    )


def test_conv1d_on_strided_and_unbatched_inputs_matches_torch() -> None:
    """A transposed input (N, L, C).transpose(1, 2), a weight made by permuting, a
    step-sliced input, and unbatched (C, L) input."""
    x, w, b = randn(3, 13, 4), randn(3, 2, 6), randn(6)  # x as (N, L, C), w as (K, C/G, O)
    both(
        lambda lib, x, w, b: functional(lib).conv1d(
            x.transpose(1, 2), w.permute(2, 1, 0), b, 2, 1, 1, 2
        ),
        [x, w, b],
    )
    xs = randn(2, 4, 23)
    both(
        lambda lib, x, w: functional(lib).conv1d(x[:, :, ::2], w, padding="same"),
        [xs, randn(5, 4, 4)],
    )
    both(
        lambda lib, x, w, b: functional(lib).conv1d(x, w, b, 1, 2, 2),
        [randn(4, 9), randn(5, 4, 3), randn(5)],
    )


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.sampled_from([1, 2, 3]),
    per_group=st.integers(1, 3),
    out_per_group=st.integers(1, 3),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
    extra=st.integers(0, 6),
    seed=st.integers(0, 10_000),
)
def test_conv1d_matches_torch_for_random_arguments(
    n, groups, per_group, out_per_group, kernel, stride, padding, dilation, extra, seed
) -> None:
    reach = dilation * (kernel - 1) + 1
    length = max(reach - 2 * padding, 1) + extra
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * per_group, length))
    w = rng.standard_normal((groups * out_per_group, per_group, kernel))
    b = rng.standard_normal(groups * out_per_group)
    both(
        lambda lib, x, w, b: functional(lib).conv1d(x, w, b, stride, padding, dilation, groups),
        [x, w, b],
    )


def test_conv1d_keeps_float32_and_matches_torch() -> None:
    x, w = randn(2, 3, 10).astype(np.float32), randn(4, 3, 3).astype(np.float32)
    both(lambda lib, x, w: functional(lib).conv1d(x, w, padding=1), [x, w], rtol=1e-5, atol=1e-5)
    assert F.conv1d(tinylm.tensor(x), tinylm.tensor(w)).dtype == tinylm.float32


# ---------------------------------------------------------------------------------------
# conv_transpose1d
# ---------------------------------------------------------------------------------------

TRANSPOSED = [
    g
    for g in itertools.product([1, 2, 3], [0, 1, 2], [0, 1, 2], [1, 2], [1, 2], [1, 2, 3])
    if g[2] < max(g[0], g[3]) and (6 - 1) * g[0] - 2 * g[1] + g[3] * (g[5] - 1) + g[2] + 1 > 0
]


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups, kernel", TRANSPOSED)
def test_conv_transpose1d_matches_torch_over_the_grid(
    stride, padding, output_padding, dilation, groups, kernel
) -> None:
    """PyTorch's argument order: ..., output_padding, groups, dilation."""
    x, w, b = randn(2, 4, 6), randn(4, 6 // groups, kernel), randn(6)
    both(
        lambda lib, x, w, b: functional(lib).conv_transpose1d(
            x, w, b, stride, padding, output_padding, groups, dilation
        ),
        [x, w, b],
    )
    both(
        lambda lib, x, w: functional(lib).conv_transpose1d(
            x.transpose(1, 2).transpose(1, 2)[..., ::1],
            w,
            stride=stride,
            dilation=dilation,
            groups=groups,
            padding=padding,
            output_padding=output_padding,
        ),
        [x, w],
    )


def test_conv_transpose1d_on_strided_and_unbatched_inputs_matches_torch() -> None:
    x, w = randn(2, 7, 4), randn(3, 5, 4)  # x as (N, L, C), w as (K, O, C)
    both(
        lambda lib, x, w: functional(lib).conv_transpose1d(
            x.transpose(1, 2), w.permute(2, 1, 0), None, 2, 1, 1
        ),
        [x, w],
    )
    both(
        lambda lib, x, w: functional(lib).conv_transpose1d(x, w, stride=3),
        [randn(4, 5), randn(4, 2, 2)],
    )


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------

# ties (runs of equal values), -inf, and values that make windows of their own
X_POOL = randn(2, 3, 12)
X_POOL[0, 0, :5] = 1.0
X_POOL[0, 1, 2:6] = -np.inf
X_POOL[1, 2, ::3] = 0.5

POOLS = [
    g
    for g in itertools.product([1, 2, 3, 4], [None, 1, 2, 3], [0, 1, 2], [1, 2], [False, True])
    if g[2] <= g[0] // 2
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOLS)
def test_max_pool1d_values_indices_and_gradients_match_torch(
    kernel, stride, padding, dilation, ceil_mode
) -> None:
    """Ties go to the first maximum (its index and its gradient), as PyTorch's."""

    def call(lib, x):
        return functional(lib).max_pool1d(
            x, kernel, stride, padding, dilation, ceil_mode, return_indices=True
        )

    ours, theirs = run(tinylm, call, [X_POOL]), run(torch, call, [X_POOL])
    np.testing.assert_array_equal(ours[1], theirs[1])  # the indices, int64 in both
    assert ours[1].dtype == theirs[1].dtype == np.int64
    assert_same(ours[:1] + ours[2:], theirs[:1] + theirs[2:])
    both(
        lambda lib, x: functional(lib).max_pool1d(x, kernel, stride, padding, dilation, ceil_mode),
        [X_POOL],
    )


def test_max_pool1d_picks_torchs_index_at_nans_and_windows_of_minus_inf() -> None:
    """A window with NaNs gives NaN and the index of its last NaN; a window of -inf and
    padding gives its first real position; the gradient goes there too."""
    x = np.array([[[1.0, 3, 3, np.nan, 2, np.nan, 0, -np.inf, -np.inf, -np.inf]]])
    for args in [(3, 1), (3, 1, 1), (2, 1, 1), (3, 2, 1, 2, True)]:

        def call(lib, x, args=args):
            return functional(lib).max_pool1d(x, *args, return_indices=True)

        ours, theirs = run(tinylm, call, [x]), run(torch, call, [x])
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, _, ceil_mode", [g for g in POOLS if g[3] == 1])
def test_avg_pool1d_matches_torch(kernel, stride, padding, _, ceil_mode, count_include_pad) -> None:
    """The divisors of windows that reach into the padding or (ceil_mode) past it."""
    x = randn(2, 3, 11)
    both(
        lambda lib, x: functional(lib).avg_pool1d(
            x, kernel, stride, padding, ceil_mode, count_include_pad
        ),
        [x],
    )


@pytest.mark.parametrize("output_size", [1, 2, 3, 5, 7, 10, 13, 25])
def test_adaptive_pools_match_torch(output_size: int) -> None:
    """Overlapping windows (output_size ≠ a divisor of L), more outputs than inputs, ties."""
    x = randn(2, 3, 10)
    x[0, 0, :6] = 2.0
    both(lambda lib, x: functional(lib).adaptive_avg_pool1d(x, output_size), [x])
    both(
        lambda lib, x: functional(lib).adaptive_avg_pool1d(x.transpose(0, 1)[1], (output_size,)),
        [x],
    )
    both(lambda lib, x: functional(lib).adaptive_max_pool1d(x, output_size, True), [x])
    both(lambda lib, x: functional(lib).adaptive_max_pool1d(x[0, :, ::2], output_size), [x])


def test_adaptive_pools_to_zero_outputs_match_torch() -> None:
    for fn in (lambda f, x: f.adaptive_avg_pool1d(x, 0), lambda f, x: f.adaptive_max_pool1d(x, 0)):
        ours = fn(F, tinylm.tensor(randn(2, 3, 4)))
        theirs = fn(TF, torch.tensor(randn(2, 3, 4)))
        assert tuple(ours.shape) == tuple(theirs.shape) == (2, 3, 0)


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5, math.inf, -math.inf])
@pytest.mark.parametrize("stride, ceil_mode", [(None, False), (2, True), (1, False), (3, True)])
def test_lp_pool1d_matches_torch(norm_type: float, stride: Any, ceil_mode: bool) -> None:
    x = np.abs(randn(2, 3, 10)) + 0.1  # fractional powers of negatives are NaN in both
    both(lambda lib, x: functional(lib).lp_pool1d(x, norm_type, 3, stride, ceil_mode), [x])
    signed = randn(2, 3, 10)
    both(lambda lib, x: functional(lib).lp_pool1d(x, 2, 2, stride, ceil_mode), [signed])


@pytest.mark.parametrize("norm_type", [1, 2, 3])
def test_lp_pool1d_of_a_window_summing_to_zero_has_torchs_zero_gradient(norm_type: int) -> None:
    """PyTorch sets the gradient of a window whose x^p sum to 0 to zero (not the ∞·0 of
    the power's derivative); a negative sum under an odd p gives NaN in both."""
    x = np.zeros((1, 2, 9))
    x[0, 1] = np.arange(9) - 4.0
    with np.errstate(divide="ignore", invalid="ignore"):
        both(lambda lib, x: functional(lib).lp_pool1d(x, norm_type, 3), [x])


# ---------------------------------------------------------------------------------------
# embedding_bag and bilinear
# ---------------------------------------------------------------------------------------

TABLE = randn(10, 4)
TABLE[5] = TABLE[3]  # two rows with equal values: a tie in mode="max"
BAG_INDICES = np.array([1, 3, 5, 5, 0, 9, 3, 2, 2, 7])


@pytest.mark.parametrize("padding_idx", [None, 3, -1, 5])
@pytest.mark.parametrize(
    "offsets, last",
    [([0, 4, 4, 7], False), ([0, 10], False), ([0, 0, 3, 10], True), ([0, 3, 10], True)],
)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_torch(mode, offsets, last, padding_idx) -> None:
    """Empty bags (zeros), padding_idx left out of its bag (and of the mean's count),
    the last offset as CSR's end, and ties in mode="max" (the first index's row)."""

    def call(lib, w):
        return functional(lib).embedding_bag(
            lib.tensor(BAG_INDICES),
            w,
            lib.tensor(offsets),
            mode=mode,
            include_last_offset=last,
            padding_idx=padding_idx,
        )

    both(call, [TABLE])
    if mode == "sum":

        def weighted(lib, w, a):
            return functional(lib).embedding_bag(
                lib.tensor(BAG_INDICES),
                w,
                lib.tensor(offsets),
                None,
                2,
                False,
                "sum",
                False,
                a,
                last,
                padding_idx,
            )

        both(weighted, [TABLE, randn(10)])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_of_a_2d_input_and_int32_indices_match_torch(mode: str) -> None:
    idx = BAG_INDICES.reshape(2, 5)
    both(
        lambda lib, w: functional(lib).embedding_bag(lib.tensor(idx), w, mode=mode, padding_idx=5),
        [TABLE],
    )
    both(
        lambda lib, w: functional(lib).embedding_bag(
            lib.tensor(BAG_INDICES.astype(np.int32)),
            w.transpose(0, 1).transpose(0, 1),
            lib.tensor(np.array([0, 2, 6], dtype=np.int32)),
            mode=mode,
        ),
        [TABLE],
    )


@pytest.mark.parametrize("shapes", [((5, 2), (5, 3)), ((2, 5, 2), (2, 5, 3)), ((2,), (3,))])
def test_bilinear_matches_torch(shapes) -> None:
    (a, b), w = shapes, randn(4, 2, 3)
    both(
        lambda lib, x1, x2, w, bias: functional(lib).bilinear(x1, x2, w, bias),
        [randn(*a), randn(*b), w, randn(4)],
    )
    both(lambda lib, x1, x2, w: functional(lib).bilinear(x1, x2, w), [randn(*a), randn(*b), w])
    # strided: inputs and weight made by transposing
    both(
        lambda lib, x1, x2, w: functional(lib).bilinear(
            x1.transpose(0, 1), x2.transpose(0, 1), w.permute(1, 2, 0)
        ),
        [randn(2, 5), randn(3, 5), randn(3, 4, 2)],
    )


# ---------------------------------------------------------------------------------------
# the Modules
# ---------------------------------------------------------------------------------------

MODULES = {
    "Conv1d": ((4, 6, 3), {}),
    "Conv1d strided": ((4, 6, 3, 2, 1, 2, 2, False), {}),
    "Conv1d same": ((4, 6, 4), {"padding": "same", "dilation": 3}),
    "Conv1d valid": ((4, 6, 4), {"padding": "valid"}),
    "Conv1d reflect": ((4, 6, 3), {"padding": 2, "padding_mode": "reflect"}),
    "Conv1d replicate same": ((4, 6, 4), {"padding": "same", "padding_mode": "replicate"}),
    "Conv1d circular": ((4, 6, 3, 2, 3), {"padding_mode": "circular", "groups": 2}),
    "ConvTranspose1d": ((4, 6, 3), {}),
    "ConvTranspose1d all": ((4, 6, 3, 2, 1, 1, 2, False, 2), {}),
    "MaxPool1d": ((3,), {}),
    "MaxPool1d all": ((3, 2, 1, 2, False, True), {}),
    "AvgPool1d": ((3,), {}),
    "AvgPool1d all": ((3, 2, 1, True, False), {}),
    "LPPool1d": ((2, 3), {}),
    "LPPool1d all": ((3, 2, 1, True), {}),
    "AdaptiveAvgPool1d": ((5,), {}),
    "AdaptiveMaxPool1d": ((5, True), {}),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_match_torch_with_copied_weights(name: str) -> None:
    """Repr, state_dict keys and shapes, then the forward and every gradient with the
    weights copied from PyTorch's module."""
    args, kwargs = MODULES[name]
    cls = name.split()[0]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double()
    ours = getattr(nn, cls)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in state.items()
    }
    ours.load_state_dict({k: tinylm.tensor(v) for k, v in state.items()})
    x = np.abs(randn(2, 4, 9)) + 0.1

    def forward(lib, x):
        module = ours if lib is tinylm else theirs
        return module(x)

    ours_run, theirs_run = run(tinylm, forward, [x]), run(torch, forward, [x])
    assert_same(ours_run, theirs_run)
    params = [
        (p.grad, q.grad)
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters())
    ]
    for a, b in params:
        np.testing.assert_allclose(values(a), values(b), rtol=1e-10, atol=1e-12)


def test_conv_transpose1d_output_size_picks_torchs_output_padding() -> None:
    theirs = torch.nn.ConvTranspose1d(4, 3, 3, stride=3).double()
    ours = nn.ConvTranspose1d(4, 3, 3, stride=3).double()
    ours.load_state_dict(
        {k: tinylm.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    )
    x = randn(2, 4, 5)
    for size in ([15], [2, 3, 16], (17,)):
        a = ours(tinylm.tensor(x), output_size=size)
        b = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(values(a), values(b), rtol=1e-10, atol=1e-12)
    with pytest.raises(TinyLMError, match=r"ConvTranspose1d: output_size 18 is not in \[15, 17\]"):
        ours(tinylm.tensor(x), output_size=[18])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_and_bilinear_modules_match_torch(mode: str) -> None:
    theirs = torch.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=2).double()
    ours = nn.EmbeddingBag(10, 4, mode=mode, padding_idx=2).double()
    assert repr(ours) == repr(theirs)
    assert float(ours.weight[2].abs().sum()) == 0.0  # the padding row starts at zeros
    ours.load_state_dict({"weight": tinylm.tensor(theirs.weight.detach().numpy())})
    idx, offsets = BAG_INDICES, np.array([0, 3, 3, 8])
    a = ours(tinylm.tensor(idx), tinylm.tensor(offsets))
    b = theirs(torch.tensor(idx), torch.tensor(offsets))
    g = randn(*b.shape)
    (a * tinylm.tensor(g)).sum().backward()
    (b * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(values(a), values(b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        values(ours.weight.grad), values(theirs.weight.grad), rtol=1e-10, atol=1e-12
    )
    frozen = nn.EmbeddingBag.from_pretrained(tinylm.tensor(TABLE), mode=mode)
    assert not frozen.weight.requires_grad and repr(frozen) == repr(
        torch.nn.EmbeddingBag.from_pretrained(torch.tensor(TABLE), mode=mode)
    )

    theirs_b = torch.nn.Bilinear(2, 3, 4).double()
    ours_b = nn.Bilinear(2, 3, 4).double()
    assert repr(ours_b) == repr(theirs_b) and repr(nn.Bilinear(2, 3, 4, False)) == repr(
        torch.nn.Bilinear(2, 3, 4, False)
    )
    ours_b.load_state_dict(
        {k: tinylm.tensor(v.detach().numpy()) for k, v in theirs_b.state_dict().items()}
    )
    x1, x2 = randn(5, 2), randn(5, 3)
    np.testing.assert_allclose(
        values(ours_b(tinylm.tensor(x1), tinylm.tensor(x2))),
        values(theirs_b(torch.tensor(x1), torch.tensor(x2))),
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: nn.Conv1d(8, 64, 5), 40),
        (lambda: nn.Conv1d(8, 64, 5, groups=4), 10),
        (lambda: nn.ConvTranspose1d(8, 64, 5, groups=2), 160),
        (lambda: nn.Bilinear(9, 3, 64), 9),
    ],
)
def test_init_is_torchs_uniform_bound(make: Any, fan_in: int) -> None:
    """kaiming_uniform(a=√5) is U(±1/√fan_in) for the weight; the bias has the same bound
    (Bilinear's: 1/√in1_features); each fills its range; reproducible from the seed."""
    tinylm.manual_seed(3)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        a = values(p)
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound
    assert layer.weight.dtype == tinylm.float32
    tinylm.manual_seed(3)
    np.testing.assert_array_equal(values(make().weight), values(layer.weight))


def test_a_text_cnn_trains_as_torchs() -> None:
    """Embedding → Conv1d → ReLU → max over time → Linear: loss and every gradient equal
    PyTorch's with the weights copied (the shape of a text classifier a user ports)."""

    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv1d(8, 6, 3, padding=1),
            lib.nn.ReLU(),
            lib.nn.AdaptiveMaxPool1d(1),
            lib.nn.Flatten(),
            lib.nn.Linear(6, 2),
        )

    theirs = build(torch).double()
    ours = build(tinylm).double()
    ours.load_state_dict(
        {k: tinylm.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    )
    emb, tokens, labels = randn(20, 8), RNG.integers(0, 20, (4, 12)), np.array([0, 1, 1, 0])
    losses = []
    for lib, model in ((tinylm, ours), (torch, theirs)):
        table = lib.tensor(emb, requires_grad=True)
        x = functional(lib).embedding(lib.tensor(tokens), table).transpose(1, 2)  # (N, C, L)
        loss = functional(lib).cross_entropy(model(x), lib.tensor(labels))
        loss.backward()
        losses.append((float(loss), values(table.grad)))
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-12)
    np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-10, atol=1e-12)
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(values(p.grad), values(q.grad), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------

T = tinylm.tensor
X3, W3 = T(randn(2, 4, 10)), T(randn(6, 4, 3))

REFUSALS = [
    (lambda: F.conv1d(T(randn(2, 2, 4, 10)), W3), r"conv1d: input must be \(N, C_in, L\)"),
    (lambda: F.conv1d(X3, T(randn(6, 4))), r"conv1d: weight must be 3-D"),
    (lambda: F.conv1d(X3, T(randn(6, 3, 3))), r"has 4 channels but weight \(6, 3, 3\)"),
    (lambda: F.conv1d(X3, T(randn(5, 2, 3)), groups=2), r"not divisible by groups=2"),
    (lambda: F.conv1d(X3, W3, T(randn(5))), r"conv1d: bias has shape \(5,\), expected \(6,\)"),
    (lambda: F.conv1d(X3, W3, stride=0), r"conv1d: stride must be at least 1"),
    (lambda: F.conv1d(X3, W3, padding=-1), r"conv1d: padding must be at least 0"),
    (lambda: F.conv1d(X3, W3, stride=2, padding="same"), r"'same' is not supported for strided"),
    (lambda: F.conv1d(X3, W3, padding="full"), r"padding must be an int, 'valid' or 'same'"),
    (lambda: F.conv1d(X3, W3, dilation=1.5), r"dilation must be an int"),
    (lambda: F.conv1d(T(randn(2, 4, 2)), W3), r"shorter than the kernel's reach"),
    (lambda: F.conv1d(T(np.ones((2, 4, 10), np.int64)), W3), r"conv1d: input must be a float"),
    (lambda: F.conv1d(X3.float(), W3), r"conv1d: all inputs must have the same dtype"),
    (
        lambda: F.conv_transpose1d(X3, T(randn(4, 3, 3)), output_padding=1),
        r"output_padding \(1\) must be smaller",
    ),
    (lambda: F.conv_transpose1d(X3, T(randn(3, 2, 3))), r"has 4 channels but weight \(3, 2, 3\)"),
    (
        lambda: F.conv_transpose1d(T(randn(2, 4, 1)), T(randn(4, 3, 3)), padding=2),
        r"output would have length -1",
    ),
    (lambda: F.max_pool1d(X3, 3, padding=2), r"max_pool1d: padding \(2\) must be at most half"),
    (lambda: F.max_pool1d(X3, 0), r"max_pool1d: kernel_size must be at least 1"),
    (lambda: F.max_pool1d(T(randn(2, 4, 2)), 5), r"max_pool1d: input \(2, 4, 2\) is too short"),
    (lambda: F.max_pool1d(T(randn(3, 2, 4, 10)), 2), r"max_pool1d: input must be \(N, C, L\)"),
    (lambda: F.max_pool1d(T(np.ones((2, 4), np.int64)), 2), r"max_pool1d: input must be a float"),
    (lambda: F.avg_pool1d(X3, 2, stride=0), r"avg_pool1d: stride must be at least 1"),
    (lambda: F.adaptive_avg_pool1d(X3, -1), r"output_size must be at least 0"),
    (lambda: F.adaptive_max_pool1d(T(randn(2, 4, 0)), 2), r"is empty along its last dim"),
    (lambda: F.lp_pool1d(X3, 0, 2), r"lp_pool1d: norm_type must be a non-zero number"),
    (lambda: F.embedding_bag(T([1, 2]), X3), r"embedding_bag: weight must be a 2-D Tensor"),
    (lambda: F.embedding_bag(T([1, 2]), T(TABLE)), r"a 1-D input \(2,\) needs 1-D offsets"),
    (lambda: F.embedding_bag(T([[1, 2]]), T(TABLE), T([0])), r"is 2-D .* offsets must be None"),
    (lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([1])), r"offsets\[0\] must be 0"),
    (lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([0, 3])), r"must not decrease nor exceed"),
    (
        lambda: F.embedding_bag(T([1, 2, 3]), T(TABLE), T([0, 2]), include_last_offset=True),
        r"last offset must be the input's length 3",
    ),
    (lambda: F.embedding_bag(T([1, 20]), T(TABLE), T([0])), r"index 20 is out of range"),
    (lambda: F.embedding_bag(T([1.0]), T(TABLE), T([0])), r"input must be int64 or int32"),
    (lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([0]), mode="prod"), r"mode must be one of"),
    (
        lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([0]), max_norm=1.0),
        r"max_norm, scale_grad_by_freq and sparse",
    ),
    (
        lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([0]), per_sample_weights=T([1.0, 2.0])),
        r"only supported for mode='sum'",
    ),
    (
        lambda: F.embedding_bag(
            T([1, 2]), T(TABLE), T([0]), mode="sum", per_sample_weights=T([1.0])
        ),
        r"per_sample_weights must be a Tensor of the input's shape",
    ),
    (
        lambda: F.embedding_bag(T([1, 2]), T(TABLE), T([0]), padding_idx=10),
        r"padding_idx 10 out of range",
    ),
    (
        lambda: F.bilinear(T(randn(5, 2)), T(randn(1, 3)), T(randn(4, 2, 3))),
        r"leading dims .* must be equal",
    ),
    (
        lambda: F.bilinear(T(randn(5, 2)), T(randn(5, 4)), T(randn(4, 2, 3))),
        r"bilinear: inputs \(5, 2\) and \(5, 4\) do not fit",
    ),
    (
        lambda: nn.Conv1d(4, 6, 3, groups=4),
        r"Conv1d: out_channels \(6\) must be divisible by groups",
    ),
    (lambda: nn.Conv1d(4, 6, 3, padding_mode="foo"), r"Conv1d: padding_mode must be one of"),
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding="same"), r"'same' is not supported for strided"),
    (lambda: nn.ConvTranspose1d(4, 6, 3, padding_mode="reflect"), r'only "zeros" padding mode'),
    (lambda: nn.EmbeddingBag(10, 3, sparse=True), r"EmbeddingBag: max_norm, scale_grad_by_freq"),
    (lambda: nn.EmbeddingBag(10, 3, mode="prod"), r"EmbeddingBag: mode must be one of"),
]


@pytest.mark.parametrize("call, message", REFUSALS, ids=[m for _, m in REFUSALS])
def test_bad_arguments_are_refused_in_one_line(call: Any, message: str) -> None:
    with pytest.raises(TinyLMError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
