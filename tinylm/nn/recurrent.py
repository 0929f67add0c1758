"""Recurrent layers: ``LSTMCell`` (one step) and ``LSTM`` (stacked layers over a sequence),
and likewise the Elman RNN (``RNNCell``, ``RNN``) and the GRU (``GRUCell``, ``GRU``).

PyTorch's parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n) and
initialisation (every weight and bias ~ U(−1/√H, 1/√H)), so a ``torch.nn.LSTM``'s (``RNN``'s,
``GRU``'s) ``state_dict`` loads as it is. The equations and their gradients are in
:mod:`tinylm.nn.functional.recurrent`.

``LSTM``, ``GRU`` and ``RNN`` take a ``PackedSequence`` (``tinylm.nn.utils.rnn``) as PyTorch's do
and return the output packed the same way, with h_n (and c_n) of each sequence at its own
length, in the caller's batch order. They unpack it, run the padded batch with its lengths
(:func:`_forward_packed`) and pack the output. One extension: ``forward(input, hx,
lengths=...)`` takes the true length of each padded sequence directly. Padding then never
changes a sequence's final state, and its outputs are 0, as PyTorch's
``pad_packed_sequence`` gives them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import stack
from tinylm.devices import normalize_device, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.nn import functional as F
from tinylm.nn.functional.common import check_probability
from tinylm.nn.module import Module, Parameter
from tinylm.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]


def _uniform_parameter(bound: float, shape: tuple[int, ...], dtype: Any, device: Any) -> Parameter:
    """A Parameter ~ U(−bound, bound) of ``shape``, in ``dtype`` (default float32) on ``device``."""
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    values = default_generator.numpy.uniform(-bound, bound, size=shape).astype(dtype)
    return Parameter(Tensor._wrap(to_device_array(values, normalize_device(device))))


def _forward_packed(op: str, packed: PackedSequence, hx: Any, run: Any) -> tuple[Any, Any]:
    """A PackedSequence through a layer stack, as PyTorch's: ``run(x, hx, lengths)`` is the
    stack's padded path (x (T, B, I) time-major, longest sequence first) → (output (T, B, H),
    state); state is h_n (L, B, H) or the pair (h_n, c_n). ``hx`` comes in the caller's batch
    order, so it is put in sorted order (``sorted_indices``) and the final state put back
    (``unsorted_indices``); the output is packed again with the input's batch_sizes."""
    if hx is not None:
        _check_packed_state(op, hx)
    order, inverse = packed.sorted_indices, packed.unsorted_indices

    def permute(state: Any, index: Tensor | None) -> Any:
        if state is None or index is None:
            return state
        if isinstance(state, tuple | list):
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)

    padded, lengths = pad_packed_sequence(PackedSequence(packed.data, packed.batch_sizes))
    output, state = run(padded, permute(hx, order), lengths)
    data = pack_padded_sequence(output, lengths).data
    return PackedSequence(data, packed.batch_sizes, order, inverse), permute(state, inverse)


def _check_packed_state(op: str, hx: Any) -> None:
    """With a PackedSequence (a batch) the state is 3-D: h_0 (LSTM: the pair h_0, c_0)."""
    if op == "LSTM":
        _check_state_dims(op, hx, 3, ("h_0", "c_0"), False)
    elif not isinstance(hx, Tensor) or hx.ndim != 3:
        got = tuple(hx.shape) if isinstance(hx, Tensor) else type(hx).__name__
        raise TinyLMError(f"{op}: for a PackedSequence (a batch), hx must be 3-D, got {got}")


def _check_state_dims(op: str, hx: Any, ndim: int, names: tuple[str, str], unbatched: bool) -> None:
    """The state (h, c) has ``ndim`` dims: batched with batched input, else unbatched."""
    if not isinstance(hx, tuple | list) or len(hx) != 2:
        raise TinyLMError(f"{op}: hx must be a pair ({names[0]}, {names[1]}), got {hx!r:.80}")
    for name, t in zip(names, hx):
        if t.ndim != ndim:
            kind = "unbatched" if unbatched else "batched"
            raise TinyLMError(
                f"{op}: for {kind} input, {name} must be {ndim}-D, got shape {tuple(t.shape)}"
            )


class LSTMCell(Module):
    """One LSTM step: (h, c) = cell(x, (h_prev, c_prev)).

    Parameters (PyTorch's): weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,),
    the rows in gate order i, f, g, o. ``forward(input (B, I), hx=None)`` → (h, c), each
    (B, H); ``hx=None`` starts from zeros. Unbatched, as in PyTorch: input (I,) and h, c
    (H,) give h, c (H,).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        four_h = 4 * self.hidden_size
        self.weight_ih = _uniform_parameter(k, (four_h, self.input_size), dtype, device)
        self.weight_hh = _uniform_parameter(k, (four_h, self.hidden_size), dtype, device)
        if bias:
            self.bias_ih = _uniform_parameter(k, (four_h,), dtype, device)
            self.bias_hh = _uniform_parameter(k, (four_h,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        if input.ndim not in (1, 2):
            raise TinyLMError(
                f"LSTMCell: input must be (batch, input_size) or unbatched (input_size,), got "
                f"{tuple(input.shape)}"
            )
        unbatched = input.ndim == 1
        if hx is not None:
            _check_state_dims("LSTMCell", hx, input.ndim, ("h", "c"), input.ndim == 1)
        if unbatched:  # a batch of one, taken away again below (PyTorch does the same)
            input = input.unsqueeze(0)
            hx = None if hx is None else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h, c = F.lstm_cell(input, hx, *params)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class LSTM(Module):
    """A stack of ``num_layers`` LSTM layers over a sequence (``torch.nn.LSTM``).

    Parameters of layer k (PyTorch's names and shapes): ``weight_ih_l{k}`` (4H, I for k = 0,
    else H), ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,).

    ``forward(input, hx=None, lengths=None)``: input (T, B, I), or (B, T, I) with
    ``batch_first=True``; hx = (h_0, c_0) each (num_layers, B, H), zeros if None →
    ``output, (h_n, c_n)``: output (T, B, H) (or (B, T, H)), the last layer's h at every step;
    h_n, c_n (num_layers, B, H). Unbatched, as in PyTorch: input (T, I) (with or without
    ``batch_first``) and h_0, c_0 (num_layers, H) give output (T, H) and h_n, c_n
    (num_layers, H). A ``PackedSequence`` input (PyTorch's; ``batch_first`` does not apply
    to it) gives a PackedSequence output (data (N, H)) and h_n, c_n (num_layers, B, H) at each
    sequence's own length, in the batch's original order. ``lengths`` (B integers in [1, T],
    a tinylm extension) marks everything after a sequence's length as padding in a padded
    batch, with the same results (batched input only).
    Dropout ``dropout`` is applied to the output of every layer but the last, while training.

    Not supported (an error, not a silent difference): ``bidirectional=True``,
    ``proj_size > 0``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if bidirectional:
            raise TinyLMError("LSTM: bidirectional=True is not supported (one direction only)")
        if proj_size:
            raise TinyLMError(f"LSTM: proj_size={proj_size} is not supported (only 0)")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise TinyLMError(f"LSTM: num_layers must be an integer ≥ 1, got {num_layers!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = num_layers, bias, bool(batch_first)
        self.dropout = check_probability("LSTM", dropout, "dropout")
        k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        four_h = 4 * self.hidden_size
        for layer in range(num_layers):
            width = self.input_size if layer == 0 else self.hidden_size
            shapes = {
                f"weight_ih_l{layer}": (four_h, width),
                f"weight_hh_l{layer}": (four_h, self.hidden_size),
            }
            if bias:
                shapes[f"bias_ih_l{layer}"] = (four_h,)
                shapes[f"bias_hh_l{layer}"] = (four_h,)
            for name, shape in shapes.items():
                setattr(self, name, _uniform_parameter(k, shape, dtype, device))

    def _layer_parameters(self, layer: int) -> tuple[Any, ...]:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self, f"{n}_l{layer}", None) for n in names)

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Any = None,
    ) -> tuple[Any, tuple[Tensor, Tensor]]:
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise TinyLMError("LSTM: lengths= is for a padded batch; a PackedSequence has them")
            return _forward_packed("LSTM", input, hx, self._run)
        if input.ndim not in (2, 3):
            raise TinyLMError(
                f"LSTM: input must be 3-D ({'batch, seq' if self.batch_first else 'seq, batch'}"
                f", input_size) or unbatched 2-D (seq, input_size), got {tuple(input.shape)}"
            )
        if hx is not None:
            _check_state_dims("LSTM", hx, input.ndim, ("h_0", "c_0"), input.ndim == 2)
        unbatched = input.ndim == 2
        if unbatched:  # a batch of one, taken away again below (PyTorch does the same)
            if lengths is not None:
                raise TinyLMError(
                    "LSTM: lengths= marks the padding of a batch; unbatched (2-D) input is one "
                    "sequence, with no padding"
                )
            input = input.unsqueeze(0 if self.batch_first else 1)
            hx = None if hx is None else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        x = input.transpose(0, 1) if self.batch_first else input
        x, (h_n, c_n) = self._run(x, hx, lengths)
        output = x.transpose(0, 1) if self.batch_first else x
        if unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            return output, (h_n.squeeze(1), c_n.squeeze(1))
        return output, (h_n, c_n)

    def _run(
        self, x: Tensor, hx: tuple[Tensor, Tensor] | None, lengths: Any
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The stack on a time-major batch: x (T, B, I), hx (h_0, c_0) each (num_layers, B, H)
        or None → output (T, B, H), (h_n, c_n) each (num_layers, B, H)."""
        want = (self.num_layers, x.shape[1], self.hidden_size)
        if hx is not None:
            for name, t in zip(("h_0", "c_0"), hx):
                if tuple(t.shape) != want:
                    raise TinyLMError(f"LSTM: {name} must be {want}, got {tuple(t.shape)}")
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            state = None if hx is None else (hx[0][layer], hx[1][layer])
            x, h, c = F.lstm_layer(x, state, *self._layer_parameters(layer), lengths=lengths)
            h_n.append(h)
            c_n.append(c)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, (stack(h_n), stack(c_n))

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if not self.bias:
            extra += ", bias=False"
        if self.batch_first:
            extra += ", batch_first=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        return extra


def _check_nonlinearity(op: str, nonlinearity: Any) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise TinyLMError(f"{op}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r:.40}")
    return nonlinearity


class _CellBase(Module):
    """What RNNCell and GRUCell share: weight_ih (G·H, I), weight_hh (G·H, H), bias_ih,
    bias_hh (G·H,) ~ U(−1/√H, 1/√H), G gates; unbatched input as in PyTorch."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: Any):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        rows = self.gates * self.hidden_size
        self.weight_ih = _uniform_parameter(k, (rows, self.input_size), dtype, device)
        self.weight_hh = _uniform_parameter(k, (rows, self.hidden_size), dtype, device)
        if bias:
            self.bias_ih = _uniform_parameter(k, (rows,), dtype, device)
            self.bias_hh = _uniform_parameter(k, (rows,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _step(self, input: Tensor, hx: Tensor | None) -> Tensor:
        raise NotImplementedError

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise TinyLMError(
                f"{name}: input must be (batch, input_size) or unbatched (input_size,), got "
                f"{tuple(input.shape)}"
            )
        if hx is not None and (not isinstance(hx, Tensor) or hx.ndim != input.ndim):
            kind = "unbatched" if input.ndim == 1 else "batched"
            got = tuple(hx.shape) if isinstance(hx, Tensor) else type(hx).__name__
            raise TinyLMError(f"{name}: for {kind} input, hx must be {input.ndim}-D, got {got}")
        if input.ndim == 1:  # a batch of one, taken away again (PyTorch does the same)
            h = self._step(input.unsqueeze(0), None if hx is None else hx.unsqueeze(0))
            return h.squeeze(0)
        return self._step(input, hx)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        return extra if self.bias else extra + ", bias=False"


class RNNCell(_CellBase):
    """One Elman RNN step: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh or relu.

    Parameters (PyTorch's): weight_ih (H, I), weight_hh (H, H), bias_ih, bias_hh (H,).
    ``forward(input (B, I), hx (B, H) = None)`` → h' (B, H); zeros when ``hx`` is None;
    unbatched input (I,) with hx (H,) gives (H,).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self.nonlinearity = _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _step(self, input: Tensor, hx: Tensor | None) -> Tensor:
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return F.rnn_cell(input, hx, *params, nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return (
            extra if self.nonlinearity == "tanh" else extra + f", nonlinearity={self.nonlinearity}"
        )


class GRUCell(_CellBase):
    """One GRU step, gate order r, z, n (PyTorch's); see ``F.gru_cell`` for the equations.

    Parameters: weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H,).
    ``forward(input (B, I), hx (B, H) = None)`` → h' (B, H); unbatched (I,) → (H,).
    """

    gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _step(self, input: Tensor, hx: Tensor | None) -> Tensor:
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return F.gru_cell(input, hx, *params)


class _StackBase(Module):
    """What RNN and GRU share (PyTorch's ``RNNBase``): ``num_layers`` layers of G gates with
    parameters ``weight_ih_l{k}`` (G·H, I for k = 0, else H), ``weight_hh_l{k}`` (G·H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,), all ~ U(−1/√H, 1/√H); one state h.

    ``forward(input, hx=None, lengths=None)``: input (T, B, I), or (B, T, I) with
    ``batch_first``; hx (num_layers, B, H), zeros if None → ``output, h_n``: output (T, B, H)
    (or (B, T, H)), the last layer's h at every step, and h_n (num_layers, B, H). Unbatched,
    as in PyTorch: input (T, I) and hx (num_layers, H) give output (T, H) and h_n
    (num_layers, H). A ``PackedSequence`` input gives a PackedSequence output and h_n at each
    sequence's own length, in the batch's original order (PyTorch's); ``lengths`` (B integers
    in [1, T], a tinylm extension, as ``LSTM``'s) does the same for a padded batch.
    ``dropout`` is applied to the output of every layer but the last, while training.
    ``bidirectional=True`` is refused (one direction only).
    """

    gates = 1

    def _build(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        device: Any,
        dtype: Any,
    ) -> None:
        name = type(self).__name__
        if bidirectional:
            raise TinyLMError(f"{name}: bidirectional=True is not supported (one direction only)")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise TinyLMError(f"{name}: num_layers must be an integer ≥ 1, got {num_layers!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = num_layers, bias, bool(batch_first)
        self.dropout = check_probability(name, dropout, "dropout")
        k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        rows = self.gates * self.hidden_size
        for layer in range(num_layers):
            width = self.input_size if layer == 0 else self.hidden_size
            shapes = {
                f"weight_ih_l{layer}": (rows, width),
                f"weight_hh_l{layer}": (rows, self.hidden_size),
            }
            if bias:
                shapes[f"bias_ih_l{layer}"] = (rows,)
                shapes[f"bias_hh_l{layer}"] = (rows,)
            for pname, shape in shapes.items():
                setattr(self, pname, _uniform_parameter(k, shape, dtype, device))

    def _layer(self, x: Tensor, h: Tensor | None, params: tuple[Any, ...], lengths: Any):
        raise NotImplementedError

    def forward(
        self, input: Tensor, hx: Tensor | None = None, lengths: Any = None
    ) -> tuple[Any, Tensor]:
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise TinyLMError(
                    f"{name}: lengths= is for a padded batch; a PackedSequence has them"
                )
            return _forward_packed(name, input, hx, self._run)
        if input.ndim not in (2, 3):
            raise TinyLMError(
                f"{name}: input must be 3-D ({'batch, seq' if self.batch_first else 'seq, batch'}"
                f", input_size) or unbatched 2-D (seq, input_size), got {tuple(input.shape)}"
            )
        unbatched = input.ndim == 2
        if hx is not None and (not isinstance(hx, Tensor) or hx.ndim != input.ndim):
            kind = "unbatched" if unbatched else "batched"
            got = tuple(hx.shape) if isinstance(hx, Tensor) else type(hx).__name__
            raise TinyLMError(f"{name}: for {kind} input, hx must be {input.ndim}-D, got {got}")
        if unbatched:  # a batch of one, taken away again below (PyTorch does the same)
            if lengths is not None:
                raise TinyLMError(
                    f"{name}: lengths= marks the padding of a batch; unbatched (2-D) input is one "
                    "sequence, with no padding"
                )
            input = input.unsqueeze(0 if self.batch_first else 1)
            hx = None if hx is None else hx.unsqueeze(1)
        x = input.transpose(0, 1) if self.batch_first else input
        x, h_n = self._run(x, hx, lengths)
        output = x.transpose(0, 1) if self.batch_first else x
        if unbatched:
            return output.squeeze(0 if self.batch_first else 1), h_n.squeeze(1)
        return output, h_n

    def _run(self, x: Tensor, hx: Tensor | None, lengths: Any) -> tuple[Tensor, Tensor]:
        """The stack on a time-major batch: x (T, B, I), hx (num_layers, B, H) or None →
        output (T, B, H), h_n (num_layers, B, H)."""
        name = type(self).__name__
        want = (self.num_layers, x.shape[1], self.hidden_size)
        if hx is not None and tuple(hx.shape) != want:
            raise TinyLMError(f"{name}: hx must be {want}, got {tuple(hx.shape)}")
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        h_n = []
        for layer in range(self.num_layers):
            params = tuple(getattr(self, f"{n}_l{layer}", None) for n in names)
            x, h = self._layer(x, None if hx is None else hx[layer], params, lengths)
            h_n.append(h)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, stack(h_n)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if not self.bias:
            extra += ", bias=False"
        if self.batch_first:
            extra += ", batch_first=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        return extra


class RNN(_StackBase):
    """A stack of ``num_layers`` Elman RNN layers over a sequence (``torch.nn.RNN``):
    h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), act tanh or relu
    (``nonlinearity``). Parameters and shapes as described in ``_StackBase`` with G = 1:
    weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0, bias_hh_l0 (H,) …
    ``forward(input, hx=None, lengths=None)`` → ``output, h_n``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.nonlinearity = _check_nonlinearity("RNN", nonlinearity)
        self._build(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def _layer(self, x: Tensor, h: Tensor | None, params: tuple[Any, ...], lengths: Any):
        return F.rnn_layer(x, h, *params, nonlinearity=self.nonlinearity, lengths=lengths)


class GRU(_StackBase):
    """A stack of ``num_layers`` GRU layers over a sequence (``torch.nn.GRU``), gate order
    r, z, n; see ``F.gru_cell`` for the equations. Parameters as described in ``_StackBase``
    with G = 3: weight_ih_l0 (3H, I), weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0 (3H,) …
    ``forward(input, hx=None, lengths=None)`` → ``output, h_n``.
    """

    gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._build(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def _layer(self, x: Tensor, h: Tensor | None, params: tuple[Any, ...], lengths: Any):
        return F.gru_layer(x, h, *params, lengths=lengths)
