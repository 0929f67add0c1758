"""``torch.nn.utils.rnn``: batches of sequences of different lengths, padded or packed.

A *padded* batch is one tensor (T, B, *) (or (B, T, *) with ``batch_first``) whose sequence b
fills its first ``lengths[b]`` steps; the rest is ``padding_value``.

A *packed* batch (:class:`PackedSequence`, PyTorch's layout exactly) keeps the real steps
only, time-major and longest sequence first: with the sequences sorted by decreasing length
(``sorted_indices[k]`` = the batch index of the k-th longest), ``batch_sizes[t]`` = how many
sequences are longer than t, and ``data`` (Σ_t batch_sizes[t], *) lists, for t = 0, 1 …, step t
of the ``batch_sizes[t]`` longest sequences in sorted order. E.g. lengths [2, 3] give
sorted_indices [1, 0], batch_sizes [2, 2, 1], data = [s1[0], s0[0], s1[1], s0[1], s1[2]].

Packing is a gather and unpacking a scatter of the same rows, so their gradients are each
other: :class:`_PackRows` and :class:`_UnpackRows`. ``nn.LSTM``/``GRU``/``RNN`` take a
PackedSequence (``tinylm/nn/recurrent.py``): they unpack it, run their padded-batch path with
the lengths, and pack the output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.creation import cat, full, stack
from tinylm.devices import array_module, device_of, to_device_array
from tinylm.tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


# ---------------------------------------------------------------------------------------
# The two Functions: packing gathers rows of the padded batch, unpacking scatters them back
# ---------------------------------------------------------------------------------------


class _PackRows(Function):
    """data[n] = padded[steps[n], seqs[n]]: the rows of a padded batch listed in packed order.

    Shapes: padded (T, B, *) (or (B, T, *) with ``batch_first``, the two index arrays swapped
    by the caller); steps, seqs (N,) integer arrays naming N distinct (t, b) → data (N, *).
    Backward: each row's gradient goes back to where it was read, zeros elsewhere:
        d padded[steps[n], seqs[n]] = d data[n]   (the pairs are distinct: no sums)
    """

    @staticmethod
    def forward(ctx: Context, padded: Any, *, index: tuple[Any, Any]) -> Any:
        ctx.index, ctx.shape = index, padded.shape
        return padded[index]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        grad = array_module(g).zeros(ctx.shape, dtype=g.dtype)
        grad[ctx.index] = g
        return grad


class _UnpackRows(Function):
    """padded[steps[n], seqs[n]] = data[n], ``padding_value`` everywhere else.

    Shapes: data (N, *), index = (steps, seqs) (N,) each, naming N distinct cells of the
    (T, B) (or (B, T)) grid ``shape[:2]`` → padded ``shape`` = (T, B, *) (or (B, T, *)).
    Backward: d data[n] = d padded[steps[n], seqs[n]] (the padding gets no gradient).
    """

    @staticmethod
    def forward(
        ctx: Context, data: Any, *, index: tuple[Any, Any], shape: tuple[int, ...], value: Any
    ) -> Any:
        ctx.index = index
        padded = array_module(data).full(shape, value, dtype=data.dtype)
        padded[index] = data
        return padded

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g[ctx.index]


# ---------------------------------------------------------------------------------------
# PackedSequence
# ---------------------------------------------------------------------------------------


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation of 0 … n−1 (int64 (n,), or None → None): inv[p[i]] = i."""
    if permutation is None:
        return None
    raw = permutation.data
    inverse = array_module(raw).empty_like(raw)
    inverse[raw] = array_module(raw).arange(raw.shape[0], dtype=raw.dtype)
    return Tensor._wrap(inverse)


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """A packed batch of sequences (``torch.nn.utils.rnn.PackedSequence``), a named tuple of
    ``data`` (N, *) — the real steps, time-major, longest sequence first (see the module's
    docstring) — ``batch_sizes`` (T,) int64 on the CPU (how many sequences have a step t),
    and ``sorted_indices``/``unsorted_indices`` (B,) int64 (the batch order by decreasing
    length and its inverse; None when the batch came sorted, ``enforce_sorted=True``).

    Made by :func:`pack_padded_sequence` or :func:`pack_sequence`, as in PyTorch;
    ``PackedSequence(data, batch_sizes, sorted_indices)`` fills ``unsorted_indices`` in.
    ``to``/``cpu``/``cuda``/``double``/``float``/``half``/``long``/``int``/``bool`` convert
    ``data`` (the indices follow its device; ``batch_sizes`` stays on the CPU).
    """

    def __new__(
        cls,
        data: Any,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if batch_sizes is None:  # PyTorch's other form: PackedSequence((data, batch_sizes))
            if not isinstance(data, tuple | list) or len(data) != 2:
                raise TinyLMError(
                    "PackedSequence: give data and batch_sizes (or one pair (data, batch_sizes))"
                )
            data, batch_sizes = data
        for name, t in (("data", data), ("batch_sizes", batch_sizes)):
            if not isinstance(t, Tensor):
                raise TinyLMError(
                    f"PackedSequence: {name} must be a Tensor, got {type(t).__name__}"
                )
        if batch_sizes.device.type != "cpu":
            raise TinyLMError(
                "PackedSequence: batch_sizes must be on the CPU (it says how to read data)"
            )
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(*args, **kwargs)``; the indices move to data's new device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return type(self)(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to(dtype=np.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=np.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=np.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=np.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=np.int32)

    def bool(self) -> PackedSequence:
        return self.to(dtype=np.bool_)

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


# ---------------------------------------------------------------------------------------
# Checks and the row index shared by packing and unpacking
# ---------------------------------------------------------------------------------------


def _lengths_array(op: str, lengths: Any) -> np.ndarray:
    """``lengths`` (a list, array or Tensor of whole numbers) as a 1-D int64 numpy array."""
    raw = lengths.data if isinstance(lengths, Tensor) else lengths
    if hasattr(raw, "get"):  # a CuPy array: the lengths steer the indexing, on the CPU
        raw = raw.get()
    try:
        raw = np.asarray(raw)
    except (TypeError, ValueError):
        raw = np.asarray(None, dtype=object)
    whole = raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and np.all(raw == np.round(raw)))
    if raw.ndim != 1 or not whole:
        raise TinyLMError(
            f"{op}: lengths must be a 1-D list or tensor of whole numbers, got "
            f"shape {raw.shape} dtype {raw.dtype}"
        )
    return raw.astype(np.int64)


def _row_index(batch_sizes: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps, seqs), one pair per row of ``data``: row n is step steps[n] of batch entry
    seqs[n] = order[k], k its rank by length (``batch_sizes`` (T,) int64, order (B,))."""
    steps = np.repeat(np.arange(batch_sizes.shape[0]), batch_sizes)
    starts = np.cumsum(batch_sizes) - batch_sizes
    ranks = np.arange(steps.shape[0]) - np.repeat(starts, batch_sizes)
    return steps, order[ranks]


def _on_device(index: tuple[np.ndarray, np.ndarray], like: Any) -> tuple[Any, Any]:
    device = device_of(like)
    return to_device_array(index[0], device), to_device_array(index[1], device)


def _int64_tensor(values: np.ndarray, like: Any = None) -> Tensor:
    raw = np.ascontiguousarray(values, dtype=np.int64)
    return Tensor._wrap(raw if like is None else to_device_array(raw, device_of(like)))


# ---------------------------------------------------------------------------------------
# The public functions
# ---------------------------------------------------------------------------------------


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of different lengths into one padded tensor.

    sequences: B tensors (L_b, *) with the same trailing dims * (a Tensor counts as the
    list of its rows) → (T, B, *), or (B, T, *) with ``batch_first``, T = max L_b, in the
    first sequence's dtype. Sequence b fills steps [0, L_b) (``padding_side="right"``) or
    [T − L_b, T) (``"left"``); the rest is ``padding_value``. Differentiable: each sequence
    gets the gradient of its own steps (it is ``cat`` with a constant, then ``stack``).
    """
    if padding_side not in ("left", "right"):
        raise TinyLMError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r:.40}"
        )
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0)) if sequences.ndim else [sequences]
    elif not isinstance(sequences, Iterable):
        raise TinyLMError(
            f"pad_sequence: sequences must be a list of tensors, got {type(sequences).__name__}"
        )
    seqs = list(sequences)
    if not seqs:
        raise TinyLMError("pad_sequence: received an empty list of sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor) or s.ndim == 0:
            got = f"shape {tuple(s.shape)}" if isinstance(s, Tensor) else type(s).__name__
            raise TinyLMError(
                f"pad_sequence: sequence {i} must be a tensor (length, *) of ≥ 1 dims, got {got}"
            )
    trailing, dtype = tuple(seqs[0].shape[1:]), seqs[0].dtype
    for i, s in enumerate(seqs):
        if tuple(s.shape[1:]) != trailing:
            raise TinyLMError(
                f"pad_sequence: every sequence must be (length, *{trailing}), but sequence {i} "
                f"is {tuple(s.shape)}"
            )
    steps = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        s = s if s.dtype == dtype else s.to(dtype)
        gap = steps - s.shape[0]
        if gap:
            fill = full((gap, *trailing), padding_value, dtype=dtype, device=s.device)
            s = cat([s, fill] if padding_side == "right" else [fill, s])
        padded.append(s)
    return stack(padded, dim=0 if batch_first else 1)


def pack_padded_sequence(
    input: Tensor,
    lengths: Tensor | Sequence[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch: input (T, B, *) (or (B, T, *) with ``batch_first``), ``lengths``
    B integers in [1, T] → :class:`PackedSequence` (data (Σ lengths, *), batch_sizes
    (max length,)). With ``enforce_sorted=True`` the lengths must not increase (and
    sorted_indices is None); else the batch is sorted by decreasing length, equal lengths in
    their order (PyTorch's order among equal lengths is unspecified beyond 16 sequences: that
    reorders data and sorted_indices among them, never what unpacking gives). Differentiable
    in ``input`` (:class:`_PackRows`).

    Refused, where PyTorch would read past the input: a length longer than T.
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"{op}: input must be a tensor (T, B, *) or (B, T, *), got {got}")
    lens = _lengths_array(op, lengths)
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lens.shape[0] != batch:
        raise TinyLMError(
            f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {lens.shape[0]} "
            f"(batch_size={batch})"
        )
    if batch == 0:
        raise TinyLMError(f"{op}: Cannot pack empty tensors (batch of 0 sequences)")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise TinyLMError(
                f"{op}: lengths must be sorted in decreasing order when enforce_sorted=True, got "
                f"{lens.tolist()!s:.80}; pass enforce_sorted=False to sort them"
            )
        order, sorted_indices = np.arange(batch), None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = _int64_tensor(order, input.data)
    if lens.min() <= 0:
        raise TinyLMError(
            f"{op}: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0"
        )
    if lens.max() > steps:
        raise TinyLMError(f"{op}: a length ({lens.max()}) exceeds the padded input's {steps} steps")
    sorted_lens = lens[order]
    batch_sizes = (sorted_lens[None, :] > np.arange(sorted_lens[0])[:, None]).sum(axis=1)
    index = _row_index(batch_sizes, order)
    if batch_first:
        index = (index[1], index[0])
    data = _PackRows.apply(input, index=_on_device(index, input.data))
    return PackedSequence(data, _int64_tensor(batch_sizes), sorted_indices)


def _check_packed(op: str, sequence: Any) -> np.ndarray:
    """``sequence`` is a PackedSequence whose batch_sizes fit its data → batch_sizes (T,)."""
    if not isinstance(sequence, PackedSequence):
        raise TinyLMError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    sizes = _lengths_array(op, sequence.batch_sizes)
    if sizes.shape[0] == 0 or np.any(np.diff(sizes) > 0) or sizes[-1] < 1:
        raise TinyLMError(
            f"{op}: batch_sizes must be positive and non-increasing, got {sizes.tolist()!s:.80}"
        )
    if sequence.data.ndim < 1 or sequence.data.shape[0] != sizes.sum():
        raise TinyLMError(
            f"{op}: data has {tuple(sequence.data.shape)[:1]} rows but batch_sizes sum to "
            f"{sizes.sum()}"
        )
    return sizes


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: → (padded, lengths), padded (T, B, *) (or (B, T, *)
    with ``batch_first``) in the original batch order, T = ``total_length`` or the longest
    length, ``padding_value`` after each sequence's end; lengths (B,) int64 on the CPU.
    Differentiable in ``sequence.data`` (:class:`_UnpackRows`)."""
    op = "pad_packed_sequence"
    sizes = _check_packed(op, sequence)
    steps, batch = sizes.shape[0], int(sizes[0])
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, int | np.integer):
            raise TinyLMError(f"{op}: total_length must be an int, got {total_length!r:.40}")
        if total_length < steps:
            raise TinyLMError(
                f"{op}: Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {steps}"
            )
        steps = int(total_length)
    order = (
        np.arange(batch)
        if sequence.sorted_indices is None
        else _lengths_array(op, sequence.sorted_indices)
    )
    if sorted(order.tolist()) != list(range(batch)):
        raise TinyLMError(f"{op}: sorted_indices must be a permutation of 0 … {batch - 1}")
    index = _row_index(sizes, order)
    shape = (steps, batch)
    if batch_first:
        index, shape = (index[1], index[0]), (batch, steps)
    data = sequence.data
    padded = _UnpackRows.apply(
        data,
        index=_on_device(index, data.data),
        shape=shape + tuple(data.shape[1:]),
        value=padding_value,
    )
    lengths = np.empty(batch, dtype=np.int64)
    lengths[order] = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    return padded, _int64_tensor(lengths)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack B sequences (L_b, *) (each L_b ≥ 1): ``pack_padded_sequence(pad_sequence(s),
    [L_b], enforce_sorted=enforce_sorted)``."""
    padded = pad_sequence(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(padded, lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo :func:`pack_sequence`: → the B sequences (L_b, *) in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[b, : int(n)] for b, n in enumerate(lengths.data)]


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False
) -> list[Tensor]:
    """Undo :func:`pad_sequence` (right padding): padded (T, B, *) (or (B, T, *)), lengths B
    integers in [0, T] → the B sequences (L_b, *), views with their gradients.

    Refused, where PyTorch would return something else silently: a length outside [0, T]
    (PyTorch gives the T steps there are) or a count of lengths other than B (PyTorch stops
    at the shorter)."""
    op = "unpad_sequence"
    if not isinstance(padded_sequences, Tensor) or padded_sequences.ndim < 2:
        got = (
            tuple(padded_sequences.shape)
            if isinstance(padded_sequences, Tensor)
            else type(padded_sequences).__name__
        )
        raise TinyLMError(f"{op}: padded_sequences must be a tensor (T, B, *), got {got}")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = _lengths_array(op, lengths)
    if lens.shape[0] != x.shape[0]:
        raise TinyLMError(f"{op}: got {lens.shape[0]} lengths for {x.shape[0]} sequences")
    if lens.size and (lens.min() < 0 or lens.max() > x.shape[1]):
        raise TinyLMError(
            f"{op}: lengths must lie in [0, {x.shape[1]}] (the padded length), got "
            f"min {lens.min()} max {lens.max()}"
        )
    return [x[b, : int(n)] for b, n in enumerate(lens)]
