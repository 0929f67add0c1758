"""``tinylm.nn.utils.rnn`` and packed sequences through ``nn.LSTM``/``GRU``/``RNN``, checked
against PyTorch itself: the same call in both libraries on the same float64 values gives the
same values, shapes and dtypes — ``data``, ``batch_sizes``, ``sorted_indices`` and
``unsorted_indices`` of a PackedSequence included — and the same gradient of every float input
(and every parameter of the layers, their weights copied) for one random upstream gradient;
transposed (strided) inputs, ties among the lengths, one and two layers, ``batch_first``, sorted
and unsorted batches, with and without an initial state. Then the refusals, one line each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError
from tinylm.nn.utils import rnn

torch = pytest.importorskip("torch")
from torch_parity import assert_same, backward_of_random_sum, values  # noqa: E402 - after the skip

trnn = torch.nn.utils.rnn

pytestmark = pytest.mark.torch


def utils(lib: Any) -> Any:
    return rnn if lib is tinylm else trnn


def flatten(outs: Any) -> list[Any]:
    """Outputs as a flat list of tensors (or None): a PackedSequence gives its four fields."""
    if isinstance(outs, rnn.PackedSequence | trnn.PackedSequence):
        return list(outs)
    if isinstance(outs, tuple | list):
        return [t for o in outs for t in flatten(o)]
    return [outs]


def run(
    lib: Any,
    fn: Any,
    arrays: list[np.ndarray],
    transpose: tuple[bool, ...] = (),
    module: Any = None,
) -> list[np.ndarray | None]:
    """fn(lib, *tensors): every output, then each input's gradient and ``module``'s parameters'
    gradients after a backward with one random upstream gradient per float output that
    requires grad. ``transpose[i]`` makes input i the transpose of a contiguous array (its
    first two dims swapped), so the call sees a strided tensor."""
    leaves, ts = [], []
    for i, a in enumerate(arrays):
        flip = i < len(transpose) and transpose[i]
        stored = np.ascontiguousarray(np.swapaxes(a, 0, 1)) if flip else a
        leaf = lib.tensor(stored, requires_grad=a.dtype.kind == "f")
        leaves.append(leaf)
        ts.append(leaf.transpose(0, 1) if flip else leaf)
    outs = flatten(fn(lib, *ts))
    backward_of_random_sum(lib, outs, np.random.default_rng(7))
    params = [] if module is None else [p for _, p in module.named_parameters()]
    return (
        [None if o is None else values(o) for o in outs]
        + [None if t.grad is None else values(t.grad) for t in leaves]
        + [None if p.grad is None else values(p.grad) for p in params]
    )


def both(fn: Any, arrays: list[np.ndarray], transpose: tuple[bool, ...] = ()) -> None:
    assert_same(run(tinylm, fn, arrays, transpose), run(torch, fn, arrays, transpose))


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------------
# pad_sequence, unpad_sequence
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first: bool, padding_side: str) -> None:
    arrays = [randn(3, 2, 4, seed=1), randn(5, 2, 4, seed=2), randn(0, 2, 4), randn(2, 2, 4)]

    def fn(lib, a, b, c, d):
        return utils(lib).pad_sequence(
            [a, b, c, d], batch_first=batch_first, padding_value=-1.5, padding_side=padding_side
        )

    both(fn, arrays, transpose=(False, False, False, True))  # the last one strided


def test_pad_sequence_of_one_tensor_and_of_integers_and_mixed_dtypes_as_torch() -> None:
    both(lambda lib, x: utils(lib).pad_sequence(x, batch_first=True), [randn(3, 4, 2)])
    both(lambda lib, x: utils(lib).pad_sequence([x[0], x[1, :2]]), [randn(2, 3, 5)])
    for lib in (tinylm, torch):  # integers and bools keep their dtype; the padding is cast
        ints = [lib.tensor([1, 2, 3]), lib.tensor([4])]
        got = utils(lib).pad_sequence(ints, padding_value=7.9)
        bools = utils(lib).pad_sequence([lib.tensor([True]), lib.tensor([False, True])])
        if lib is tinylm:
            mine = (values(got), values(bools))
        else:
            assert_same([*mine], [values(got), values(bools)])

    def mixed(lib, a, b):  # the first sequence's dtype, as PyTorch's; b's gradient in float32
        return utils(lib).pad_sequence([a, b.float()])

    both(mixed, [randn(2, 3), randn(3, 3, seed=1)])


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch(batch_first: bool) -> None:
    shape = (3, 5, 2) if batch_first else (5, 3, 2)

    def fn(lib, x):
        # x · 1: PyTorch's unpad_sequence transposes its argument in place (batch_first=False),
        # which a leaf that requires grad refuses; tinylm leaves the argument as it is
        return utils(lib).unpad_sequence(x * 1.0, lib.tensor([5, 1, 3]), batch_first=batch_first)

    both(fn, [randn(*shape)])
    both(fn, [randn(*shape)], transpose=(True,))


# ---------------------------------------------------------------------------------------
# pack_padded_sequence, pad_packed_sequence, pack_sequence, unpack_sequence
# ---------------------------------------------------------------------------------------

LENGTHS = {
    "sorted": ([5, 3, 3, 1], True),
    "sorted, all full": ([5, 5, 5, 5], True),
    "unsorted": ([2, 5, 1, 4], False),
    "unsorted with ties": ([3, 5, 3, 1], False),
    "sorted, enforce_sorted=False": ([5, 4, 2, 2], False),
}


@pytest.mark.parametrize("lengths, enforce_sorted", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("strided", [False, True])
def test_pack_padded_sequence_matches_torch(lengths, enforce_sorted, batch_first, strided):
    shape = (4, 5, 3) if batch_first else (5, 4, 3)

    def fn(lib, x):
        lens = lib.tensor(lengths) if lib is torch or strided else lengths
        return utils(lib).pack_padded_sequence(x, lens, batch_first, enforce_sorted)

    x = randn(*shape)
    both(fn, [x], transpose=(strided,))
    ours = fn(tinylm, tinylm.tensor(x))
    assert ours._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert ours.batch_sizes.device.type == "cpu" and not ours.is_cuda


@pytest.mark.parametrize("lengths, enforce_sorted", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_packed_sequence_matches_torch(lengths, enforce_sorted, batch_first) -> None:
    def fn(lib, x):
        packed = utils(lib).pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        # repacked from its own fields: the gradient reaches data through pad_packed_sequence
        again = utils(lib).PackedSequence(packed.data * 2.0, *packed[1:])
        padded, lens = utils(lib).pad_packed_sequence(
            again, batch_first=batch_first, padding_value=0.25, total_length=7
        )
        shortest = utils(lib).pad_packed_sequence(again, batch_first=batch_first)
        return padded, lens, *shortest

    both(fn, [randn(5, 4, 2, 3)])


def test_pack_sequence_and_unpack_sequence_match_torch() -> None:
    def fn(lib, a, b, c):
        u = utils(lib)
        return [
            u.pack_sequence([a, b, c], enforce_sorted=False),
            u.unpack_sequence(u.pack_sequence([a, b, c], enforce_sorted=False)),
            u.unpack_sequence(u.pack_sequence([b, a, c])),
        ]

    both(fn, [randn(4, 3, seed=1), randn(6, 3, seed=2), randn(2, 3, seed=3)])


def test_pack_of_integers_keeps_their_dtype_as_torch() -> None:
    def fn(lib, x):
        packed = utils(lib).pack_padded_sequence(x, [3, 1, 2], enforce_sorted=False)
        return *packed, *utils(lib).pad_packed_sequence(packed, padding_value=-1)

    both(fn, [np.arange(12).reshape(4, 3)])


def test_packed_sequence_made_by_hand_and_converted_as_torch() -> None:
    mine, theirs = [], []
    for lib, out in ((tinylm, mine), (torch, theirs)):
        u = utils(lib)
        data = lib.tensor(randn(3, 2))
        p = u.PackedSequence(data, lib.tensor([2, 1]), lib.tensor([1, 0]))
        pair = u.PackedSequence((data, lib.tensor([2, 1])))
        out += [*p, *pair, p.float().data, p.double().data, p.to(lib.float32).data]
        out += [u.invert_permutation(lib.tensor([2, 0, 3, 1]))]
        assert u.invert_permutation(None) is None and p.to(lib.float64) is p
    assert_same(
        [None if t is None else values(t) for t in mine],
        [None if t is None else values(t) for t in theirs],
    )


# ---------------------------------------------------------------------------------------
# Packed sequences through nn.LSTM, nn.GRU and nn.RNN
# ---------------------------------------------------------------------------------------

LAYERS = {
    "LSTM": ("LSTM", {}),
    "GRU": ("GRU", {}),
    "RNN tanh": ("RNN", {}),
    "RNN relu": ("RNN", {"nonlinearity": "relu"}),
}
BATCHES = {"sorted": ([6, 4, 4, 2, 1], True), "unsorted": ([3, 6, 1, 4, 4], False)}


def _layers(kind: str, kwargs: dict, num_layers: int, batch_first: bool) -> tuple[Any, Any]:
    tinylm.manual_seed(3)
    made = []
    for lib in (tinylm, torch):
        made.append(
            getattr(lib.nn, kind)(
                3,
                4,
                num_layers=num_layers,
                batch_first=batch_first,
                dtype=lib.float64,
                **kwargs,
            )
        )
    ours, theirs = made
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(values(p)))
    return ours, theirs


@pytest.mark.parametrize("kind, kwargs", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", BATCHES.values(), ids=BATCHES.keys())
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_take_a_packed_sequence_as_torch(
    kind, kwargs, num_layers, batch_first, lengths, enforce_sorted, with_state
) -> None:
    ours, theirs = _layers(kind, kwargs, num_layers, batch_first)
    batch, steps = len(lengths), max(lengths)
    shape = (batch, steps, 3) if batch_first else (steps, batch, 3)
    arrays = [randn(*shape, seed=num_layers)]
    if with_state:
        arrays += [
            randn(num_layers, batch, 4, seed=s) for s in (5, 6)[: 2 if kind == "LSTM" else 1]
        ]

    def fn(lib, x, *state):
        u = utils(lib)
        packed = u.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
        module = ours if lib is tinylm else theirs
        hx = None if not state else (tuple(state) if kind == "LSTM" else state[0])
        out, final = module(packed, hx)
        padded, lens = u.pad_packed_sequence(out, batch_first=batch_first)
        return out, padded, lens, final

    mine = run(tinylm, fn, arrays, module=ours)
    assert_same(mine, run(torch, fn, arrays, module=theirs))


def test_lengths_on_a_padded_batch_give_the_packed_results_for_gru_and_rnn() -> None:
    """tinylm's ``lengths=`` extension (``LSTM`` had it; ``GRU`` and ``RNN`` now too) gives
    what the PackedSequence gives: PyTorch's h_n, and 0 at the padding."""
    lengths = [3, 6, 1, 4]
    x = randn(6, 4, 3)
    for kind in ("GRU", "RNN"):
        ours, theirs = _layers(kind, {}, 2, False)
        out, h_n = ours(tinylm.tensor(x), lengths=lengths)
        packed = trnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
        out_t, h_t = theirs(packed)
        padded_t, _ = trnn.pad_packed_sequence(out_t)
        np.testing.assert_allclose(values(out), values(padded_t), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(values(h_n), values(h_t), rtol=1e-10, atol=1e-12)


def test_many_equal_lengths_give_torchs_results_whatever_the_order_among_them() -> None:
    """tinylm sorts equal lengths stably; PyTorch's order among them is unspecified (it differs
    beyond 16 sequences), which only reorders ``data`` and ``sorted_indices`` among equal
    lengths: unpacked outputs, h_n, c_n and every gradient are the same."""
    lengths = [3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
    ours, theirs = _layers("LSTM", {}, 2, False)

    def fn(lib, x, h0, c0):
        packed = utils(lib).pack_padded_sequence(x, lengths, enforce_sorted=False)
        sorted_lengths = lib.tensor(lengths)[packed.sorted_indices]
        out, final = (ours if lib is tinylm else theirs)(packed, (h0, c0))
        return sorted_lengths, utils(lib).pad_packed_sequence(out), final

    arrays = [randn(3, 20, 3), randn(2, 20, 4, seed=1), randn(2, 20, 4, seed=2)]
    assert_same(run(tinylm, fn, arrays, module=ours), run(torch, fn, arrays, module=theirs))


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lengths, enforce_sorted, torch_says, match",
    [
        ([3, 2, 0], True, "greater than 0", "greater than 0"),
        ([3, 0, 2], False, "greater than 0", "greater than 0"),
        ([-1, 2, 2], False, "greater than 0", "greater than 0"),
        ([2, 3, 1], True, "sorted in decreasing order", "sorted in decreasing order"),
        ([3, 1], True, "equal to batch_size", "equal to batch_size"),
        ([[3, 2, 1]], True, "1D", "1-D"),
    ],
)
def test_bad_lengths_are_refused_as_torch(lengths, enforce_sorted, torch_says, match) -> None:
    x = randn(4, 3, 2)
    with pytest.raises(RuntimeError, match=torch_says):
        trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), False, enforce_sorted)
    with pytest.raises(TinyLMError, match=match):
        rnn.pack_padded_sequence(tinylm.tensor(x), lengths, False, enforce_sorted)


def test_lengths_longer_than_the_input_are_refused() -> None:
    """PyTorch reads past the input there: batch_sizes then sum to more rows than data has.
    tinylm refuses; a fractional length (PyTorch truncates it) is refused too."""
    x = randn(4, 3, 2)
    bad = trnn.pack_padded_sequence(torch.tensor(x), [6, 3, 1])
    assert int(bad.batch_sizes.sum()) != bad.data.shape[0]
    for lengths in ([6, 3, 1], [5, 1, 1]):
        with pytest.raises(TinyLMError, match="exceeds the padded input's 4 steps"):
            rnn.pack_padded_sequence(tinylm.tensor(x), lengths)
    with pytest.raises(TinyLMError, match="whole numbers"):
        rnn.pack_padded_sequence(tinylm.tensor(x), [3.5, 1, 1])
    with pytest.raises(TinyLMError, match="Cannot pack empty"):
        rnn.pack_padded_sequence(tinylm.zeros(4, 0, 2), [])


def test_the_other_utilities_refuse_bad_arguments_in_one_line() -> None:
    cases = [
        (lambda: rnn.pad_sequence([]), "empty list"),
        (lambda: rnn.pad_sequence([tinylm.zeros(2, 3), tinylm.zeros(3, 2)]), "sequence 1 is"),
        (lambda: rnn.pad_sequence([tinylm.zeros(2)], padding_side="middle"), "'left' or"),
        (lambda: rnn.pad_sequence([tinylm.tensor(1.0)]), "≥ 1 dims"),
        (lambda: rnn.pack_padded_sequence(tinylm.zeros(4), [1]), r"\(T, B, \*\)"),
        (lambda: rnn.pad_packed_sequence(tinylm.zeros(3, 2)), "expected a PackedSequence"),
        (lambda: rnn.unpad_sequence(tinylm.zeros(4, 3), [5, 1, 1]), r"lie in \[0, 4\]"),
        (lambda: rnn.unpad_sequence(tinylm.zeros(4, 3), [2, 1]), "2 lengths for 3"),
    ]
    packed = rnn.pack_sequence([tinylm.zeros(3, 2), tinylm.zeros(1, 2)])
    cases += [
        (lambda: rnn.pad_packed_sequence(packed, total_length=2), "total_length=2"),
        (
            lambda: rnn.pad_packed_sequence(
                rnn.PackedSequence(tinylm.zeros(5, 2), tinylm.tensor([2, 1]))
            ),
            "batch_sizes sum to 3",
        ),
        (lambda: rnn.PackedSequence(tinylm.zeros(3)), "give data and batch_sizes"),
    ]
    with pytest.raises(ValueError, match="total_length=2"):
        trnn.pad_packed_sequence(
            trnn.pack_sequence([torch.zeros(3, 2), torch.zeros(1, 2)]), total_length=2
        )
    for call, match in cases:
        with pytest.raises(TinyLMError, match=match) as info:
            call()
        assert "\n" not in str(info.value)


def test_recurrent_layers_refuse_what_a_packed_batch_cannot_take() -> None:
    packed = rnn.pack_sequence([tinylm.zeros(3, 2, dtype=tinylm.float64)])
    lstm = tinylm.nn.LSTM(2, 3, dtype=tinylm.float64)
    gru = tinylm.nn.GRU(2, 3, dtype=tinylm.float64)
    with pytest.raises(TinyLMError, match="LSTM: lengths= is for a padded batch"):
        lstm(packed, lengths=[3])
    with pytest.raises(TinyLMError, match="LSTM: for batched input, h_0 must be 3-D"):
        lstm(packed, (tinylm.zeros(1, 3), tinylm.zeros(1, 3)))
    with pytest.raises(TinyLMError, match=r"LSTM: h_0 must be \(1, 1, 3\)"):
        lstm(packed, (tinylm.zeros(1, 2, 3), tinylm.zeros(1, 2, 3)))
    with pytest.raises(TinyLMError, match="GRU: for a PackedSequence .* 3-D"):
        gru(packed, tinylm.zeros(1, 3))
    with pytest.raises(TinyLMError, match="RNN: lengths= marks the padding of a batch"):
        tinylm.nn.RNN(2, 3)(tinylm.zeros(3, 2), lengths=[3])
    for kind in ("LSTM", "GRU", "RNN"):  # one direction only, said when the layer is made
        with pytest.raises(TinyLMError, match=f"{kind}: bidirectional=True is not supported"):
            getattr(tinylm.nn, kind)(2, 3, bidirectional=True)
