"""Recurrent steps and layers: the LSTM's (``lstm_cell``, ``lstm_layer``), fused, and the
Elman RNN's and the GRU's (``rnn_cell``, ``rnn_layer``, ``gru_cell``, ``gru_layer``), compositions
of ops (``linear``, ``tanh``, ``σ`` …) whose gradient autograd derives step by step.

The LSTM: one cell step (``lstm_cell``) and one layer over a whole sequence (``lstm_layer``).

Both split a step into its two matrix products (BLAS) and its element-wise part, the fused
cell kernel of the registry (``kernels/reference.py: lstm_cell_forward/lstm_cell_backward``;
fast: ``kernels/numba/recurrent.py``, ``kernels/cuda/lstm.cu``). An autograd Function has one
output, so each returns its results packed along one axis and hands out views of them.

Gate order and equations are PyTorch's (``torch.nn.LSTM``), with a = the 4H pre-activations:
    a = x W_ihᵀ + b_ih + h_prev W_hhᵀ + b_hh = [a_i, a_f, a_g, a_o]
    i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
    c = f ⊙ c_prev + i ⊙ g,   h = o ⊙ tanh(c)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.creation import stack, where, zeros_like
from tinylm.devices import array_module
from tinylm.nn.functional.common import as_array, check_same_dtype, kernel
from tinylm.nn.functional.linear import linear
from tinylm.tensor import Tensor

__all__ = ["gru_cell", "gru_layer", "lstm_cell", "lstm_layer", "rnn_cell", "rnn_layer"]


class _LSTMCell(Function):
    """(h, c) of one step from the pre-activations, packed as [h, c] along the last axis.

    Shapes: gates (..., 4H), c_prev (..., H) → (..., 2H).
    Backward, from the gradients dh, dc arriving at h and c, with t = tanh(c):
        dc_total = dc + dh ⊙ o ⊙ (1 − t²)
        d a_i = dc_total ⊙ g ⊙ i(1 − i)        d a_f = dc_total ⊙ c_prev ⊙ f(1 − f)
        d a_g = dc_total ⊙ i ⊙ (1 − g²)         d a_o = dh ⊙ t ⊙ o(1 − o)
        dc_prev = dc_total ⊙ f
    Readable: ``kernels/reference.py: lstm_cell_forward/lstm_cell_backward``.
    """

    @staticmethod
    def forward(ctx: Context, gates: Any, c_prev: Any) -> Any:
        h, c, act = kernel("lstm_cell_forward", gates)(gates, c_prev)
        ctx.save_for_backward(act, c_prev, c)
        return array_module(h).concatenate([h, c], axis=-1)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        act, c_prev, c = ctx.saved_arrays
        hs = c.shape[-1]
        return kernel("lstm_cell_backward", act)(act, c_prev, c, g[..., :hs], g[..., hs:])


def _initial_state(
    op: str, hx: Any, input: Tensor, batch: int, hs: int, names: tuple[str, str]
) -> tuple[Tensor, Tensor]:
    """``hx`` = (h, c) checked to be (batch, hs) each, or zeros like ``input`` when None."""
    if hx is None:
        zeros = Tensor._wrap(array_module(input.data).zeros((batch, hs), dtype=input.dtype))
        return zeros, zeros
    h, c = hx
    for name, t in zip(names, (h, c)):
        if tuple(t.shape) != (batch, hs):
            raise TinyLMError(f"{op}: {name} must have shape {(batch, hs)}, got {tuple(t.shape)}")
    return h, c


def lstm_cell(
    input: Tensor,
    hx: tuple[Tensor, Tensor] | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step (``torch.lstm_cell``'s arguments): input (B, I), hx = (h, c) each (B, H)
    or None for zeros, weight_ih (4H, I), weight_hh (4H, H), biases (4H,) → (h', c') (B, H).

    gates = input W_ihᵀ + b_ih + h W_hhᵀ + b_hh in the order i, f, g, o; the element-wise
    rest is one fused op (:class:`_LSTMCell`)."""
    if input.ndim != 2 or weight_ih.ndim != 2 or weight_ih.shape[0] % 4:
        raise TinyLMError(
            f"lstm_cell: need input (B, input_size) and weight_ih (4*hidden_size, input_size), "
            f"got input {tuple(input.shape)} and weight_ih {tuple(weight_ih.shape)}"
        )
    b, hs = input.shape[0], weight_ih.shape[0] // 4
    h, c = _initial_state("lstm_cell", hx, input, b, hs, ("h", "c"))
    check_same_dtype("lstm_cell", input=input, weight_ih=weight_ih, weight_hh=weight_hh, h=h, c=c)
    gates = linear(input, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh)
    hc = _LSTMCell.apply(gates, c)
    return hc[:, :hs], hc[:, hs:]


class _LSTMRecurrence(Function):
    """The recurrence of one LSTM layer over T steps, after the input projection.

    Shapes: xproj (T, B, 4H) = x W_ihᵀ + b_ih + b_hh for every step at once, W_hh (4H, H),
    h0, c0 (B, H); mask (T, B) bool or None → (T + 2, B, H) = [output h_1..h_T, h_n, c_n].
    Step t: a = xproj[t] + h W_hhᵀ, then the cell. Where mask[t, b] is False (padding after
    sequence b's end) the state is carried unchanged and the output is 0, so h_n, c_n are each
    sequence's state at its own last step; the steps after the longest sequence's end are
    skipped.
    Backward (backpropagation through time), from t = T−1 down to 0, with dh, dc the
    gradients reaching the state after step t (plus the output's gradient for dh):
        d a_t, dc_prev = cell backward(dh, dc)
        dh_prev = d a_t W_hh  (dh itself where the step was padding; dc likewise)
        dW_hh = Σ_t d a_tᵀ h_{t−1}  (one matrix product over all steps),  dxproj[t] = d a_t
    Readable: ``kernels/reference.py: lstm_recurrence_forward/lstm_recurrence_backward`` (a
    loop over steps calling the cell); fast: ``kernels/numba/recurrent.py`` (one BLAS product
    and one fused step kernel per step); on a GPU the same loop with ``kernels/cuda/lstm.cu``.
    """

    @staticmethod
    def forward(ctx: Context, xproj: Any, w_hh: Any, h0: Any, c0: Any, *, mask: Any) -> Any:
        run = kernel("lstm_recurrence_forward", xproj)
        out, act, states_h, states_c = run(xproj, w_hh, h0, c0, mask)
        ctx.save_for_backward(act, states_h, states_c, w_hh)
        ctx.mask = mask
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        act, states_h, states_c, w_hh = ctx.saved_arrays
        run = kernel("lstm_recurrence_backward", act)
        return run(g, act, states_h, states_c, w_hh, ctx.mask)


def lengths_mask(lengths: Any, steps: int, batch: int, like: Any, op: str = "lstm") -> Any:
    """The (steps, batch) bool mask, True where step t < lengths[b], on ``like``'s device;
    ``lengths`` must be batch integers in [1, steps] (else an error naming ``op``)."""
    raw = as_array(op, lengths, like, "lengths")
    if raw.shape != (batch,) or not array_module(raw).issubdtype(raw.dtype, np.integer):
        raise TinyLMError(
            f"{op}: lengths must be {batch} integers (one per sequence), "
            f"got shape {tuple(raw.shape)} dtype {raw.dtype}"
        )
    if batch and (int(raw.min()) < 1 or int(raw.max()) > steps):
        raise TinyLMError(
            f"{op}: lengths must lie in [1, {steps}] (the padded length), "
            f"got min {int(raw.min())} max {int(raw.max())}"
        )
    xp = array_module(raw)
    return xp.arange(steps)[:, None] < raw[None, :]


def lstm_layer(
    input: Tensor,
    hx: tuple[Tensor, Tensor] | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    lengths: Any = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer over a sequence, time-major: input (T, B, I), hx = (h0, c0) each (B, H)
    or None for zeros → output (T, B, H), h_n (B, H), c_n (B, H).

    The input projection of all T steps is one matrix product (``linear`` on (T·B, I)); the
    recurrence is :class:`_LSTMRecurrence`. ``lengths`` (B integers in [1, T]), a tinylm
    extension standing for PyTorch's ``pack_padded_sequence``: steps at and after a sequence's
    length are padding, they leave its state unchanged and their output is 0."""
    if input.ndim != 3 or weight_ih.ndim != 2 or weight_ih.shape[0] % 4:
        raise TinyLMError(
            f"lstm: need input (T, B, input_size) and weight_ih (4*hidden_size, input_size), "
            f"got input {tuple(input.shape)} and weight_ih {tuple(weight_ih.shape)}"
        )
    steps, batch = input.shape[0], input.shape[1]
    hs = weight_ih.shape[0] // 4
    if tuple(weight_hh.shape) != (4 * hs, hs):
        raise TinyLMError(
            f"lstm: weight_hh must be (4*hidden_size, hidden_size) = {(4 * hs, hs)}, "
            f"got {tuple(weight_hh.shape)}"
        )
    h0, c0 = _initial_state("lstm", hx, input, batch, hs, ("h0", "c0"))
    check_same_dtype("lstm", input=input, weight_ih=weight_ih, weight_hh=weight_hh, h0=h0, c0=c0)
    if bias_ih is not None and bias_hh is not None:
        bias = bias_ih + bias_hh  # both biases add to every step's gates: add them once
    else:
        bias = bias_ih if bias_ih is not None else bias_hh
    xproj = linear(input, weight_ih, bias)
    mask = None if lengths is None else lengths_mask(lengths, steps, batch, input.data)
    packed = _LSTMRecurrence.apply(xproj, weight_hh, h0, c0, mask=mask)
    return packed[:steps], packed[steps], packed[steps + 1]


# ---------------------------------------------------------------------------------------
# The Elman RNN and the GRU: compositions of ops
# ---------------------------------------------------------------------------------------

NONLINEARITIES = ("tanh", "relu")


def _one_state(op: str, hx: Any, input: Tensor, batch: int, hs: int) -> Tensor:
    """The state ``hx`` checked to be (batch, hs), or zeros like ``input`` when None."""
    if hx is None:
        return Tensor._wrap(array_module(input.data).zeros((batch, hs), dtype=input.dtype))
    if not isinstance(hx, Tensor) or tuple(hx.shape) != (batch, hs):
        got = tuple(hx.shape) if isinstance(hx, Tensor) else type(hx).__name__
        raise TinyLMError(f"{op}: hx must have shape {(batch, hs)}, got {got}")
    return hx


def _check_weights(op: str, input: Tensor, w_ih: Tensor, w_hh: Tensor, gates: int, ndim: int):
    """input (…, I) with ``ndim`` dims, w_ih (gates·H, I), w_hh (gates·H, H) → H."""
    what = "(B, input_size)" if ndim == 2 else "(T, B, input_size)"
    if (
        input.ndim != ndim
        or w_ih.ndim != 2
        or w_ih.shape[0] % gates
        or w_ih.shape[1] != input.shape[-1]
    ):
        raise TinyLMError(
            f"{op}: need input {what} and weight_ih ({gates}*hidden_size, input_size), got input "
            f"{tuple(input.shape)} and weight_ih {tuple(w_ih.shape)}"
        )
    hs = w_ih.shape[0] // gates
    if tuple(w_hh.shape) != (gates * hs, hs):
        raise TinyLMError(
            f"{op}: weight_hh must be ({gates}*hidden_size, hidden_size) = {(gates * hs, hs)}, "
            f"got {tuple(w_hh.shape)}"
        )
    return hs


def _activation(op: str, nonlinearity: str) -> Any:
    if nonlinearity not in NONLINEARITIES:
        raise TinyLMError(
            f"{op}: nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r:.40}"
        )
    return Tensor.tanh if nonlinearity == "tanh" else Tensor.relu


def rnn_cell(
    input: Tensor,
    hx: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One Elman RNN step (``torch.rnn_tanh_cell`` / ``rnn_relu_cell``):
    h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    Shapes: input (B, I), hx (B, H) or None for zeros, weight_ih (H, I), weight_hh (H, H),
    biases (H,) → h' (B, H).
    """
    act = _activation("rnn_cell", nonlinearity)
    hs = _check_weights("rnn_cell", input, weight_ih, weight_hh, 1, 2)
    h = _one_state("rnn_cell", hx, input, input.shape[0], hs)
    check_same_dtype("rnn_cell", input=input, weight_ih=weight_ih, weight_hh=weight_hh, hx=h)
    return act(linear(input, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh))


def _summed_bias(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    if bias_ih is not None and bias_hh is not None:
        return bias_ih + bias_hh  # both add to every step: add them once
    return bias_ih if bias_ih is not None else bias_hh


def rnn_layer(
    input: Tensor,
    hx: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    lengths: Any = None,
) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer over a sequence, time-major: input (T, B, I), hx (B, H) or None
    for zeros → output (T, B, H) (h after every step), h_n (B, H).

    The input projection of all T steps is one matrix product; then, step by step,
    h_t = act(xproj_t + h_{t−1} W_hhᵀ). Backpropagation through time is autograd's walk back
    through the recorded steps: dh_{t−1} = (dh_t ⊙ act'(a_t)) W_hh. ``lengths`` (B integers
    in [1, T]) as in :func:`lstm_layer`: padding steps keep the state (:func:`_masked_step`).
    """
    act = _activation("rnn", nonlinearity)
    hs = _check_weights("rnn", input, weight_ih, weight_hh, 1, 3)
    h = _one_state("rnn", hx, input, input.shape[1], hs)
    check_same_dtype("rnn", input=input, weight_ih=weight_ih, weight_hh=weight_hh, hx=h)
    if input.shape[0] == 0:
        raise TinyLMError(f"rnn: input has no time steps (shape {tuple(input.shape)})")
    mask = _step_mask("rnn", lengths, input)
    xproj = linear(input, weight_ih, _summed_bias(bias_ih, bias_hh))
    outputs = []
    for t in range(input.shape[0]):
        h, out = _masked_step(act(xproj[t] + linear(h, weight_hh)), h, mask, t)
        outputs.append(out)
    return stack(outputs), h


def _step_mask(op: str, lengths: Any, input: Tensor) -> Tensor | None:
    """``lengths`` (B integers in [1, T]) → the (T, B, 1) bool mask of real steps, or None."""
    if lengths is None:
        return None
    steps, batch = input.shape[0], input.shape[1]
    return Tensor._wrap(lengths_mask(lengths, steps, batch, input.data, op)[:, :, None])


def _masked_step(new: Tensor, h: Tensor, mask: Tensor | None, t: int) -> tuple[Tensor, Tensor]:
    """(state, output) after step t: (new, new) where step t is real; (h, 0) where it is
    padding (mask[t, b] False): the state passes unchanged, so h_n is each sequence's state at
    its own length, and its gradient flows straight through the padding steps."""
    if mask is None:
        return new, new
    return where(mask[t], new, h), where(mask[t], new, zeros_like(new))


def _gru_step(xg: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, hs: int):
    """h' from the input's gate pre-activations xg (B, 3H) = x W_ihᵀ + b_ih and h (B, H)."""
    hg = linear(h, weight_hh, bias_hh)
    r = (xg[:, :hs] + hg[:, :hs]).sigmoid()
    z = (xg[:, hs : 2 * hs] + hg[:, hs : 2 * hs]).sigmoid()
    n = (xg[:, 2 * hs :] + r * hg[:, 2 * hs :]).tanh()
    return n + z * (h - n)  # = (1 − z) ⊙ n + z ⊙ h


def gru_cell(
    input: Tensor,
    hx: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> Tensor:
    """One GRU step (``torch.gru_cell``), gate order r, z, n as PyTorch's:
        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),   z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),   h' = (1 − z) ⊙ n + z ⊙ h
    Shapes: input (B, I), hx (B, H) or None for zeros, weight_ih (3H, I), weight_hh (3H, H),
    biases (3H,) → h' (B, H).
    """
    hs = _check_weights("gru_cell", input, weight_ih, weight_hh, 3, 2)
    h = _one_state("gru_cell", hx, input, input.shape[0], hs)
    check_same_dtype("gru_cell", input=input, weight_ih=weight_ih, weight_hh=weight_hh, hx=h)
    return _gru_step(linear(input, weight_ih, bias_ih), h, weight_hh, bias_hh, hs)


def gru_layer(
    input: Tensor,
    hx: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    lengths: Any = None,
) -> tuple[Tensor, Tensor]:
    """One GRU layer over a sequence, time-major: input (T, B, I), hx (B, H) or None for
    zeros → output (T, B, H), h_n (B, H). The input projection of all steps is one matrix
    product; the steps are :func:`gru_cell`'s equations (b_hn stays inside r ⊙ (…)).
    ``lengths`` (B integers in [1, T]) as in :func:`lstm_layer`: padding steps keep the
    state and output 0 (:func:`_masked_step`)."""
    hs = _check_weights("gru", input, weight_ih, weight_hh, 3, 3)
    h = _one_state("gru", hx, input, input.shape[1], hs)
    check_same_dtype("gru", input=input, weight_ih=weight_ih, weight_hh=weight_hh, hx=h)
    if input.shape[0] == 0:
        raise TinyLMError(f"gru: input has no time steps (shape {tuple(input.shape)})")
    mask = _step_mask("gru", lengths, input)
    xproj = linear(input, weight_ih, bias_ih)
    outputs = []
    for t in range(input.shape[0]):
        h, out = _masked_step(_gru_step(xproj[t], h, weight_hh, bias_hh, hs), h, mask, t)
        outputs.append(out)
    return stack(outputs), h
