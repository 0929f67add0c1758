"""The LSTM: one cell step (``lstm_cell``) and one layer over a whole sequence (``lstm_layer``).

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
from tinylm.device import array_module
from tinylm.nn.functional.common import as_array, check_same_dtype, kernel
from tinylm.nn.functional.linear import linear
from tinylm.tensor import Tensor

__all__ = ["lstm_cell", "lstm_layer"]


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


def lengths_mask(lengths: Any, steps: int, batch: int, like: Any) -> Any:
    """The (steps, batch) bool mask, True where step t < lengths[b], on ``like``'s device;
    ``lengths`` must be batch integers in [1, steps]."""
    raw = as_array("lstm", lengths, like, "lengths")
    if raw.shape != (batch,) or not array_module(raw).issubdtype(raw.dtype, np.integer):
        raise TinyLMError(
            f"lstm: lengths must be {batch} integers (one per sequence), "
            f"got shape {tuple(raw.shape)} dtype {raw.dtype}"
        )
    if batch and (int(raw.min()) < 1 or int(raw.max()) > steps):
        raise TinyLMError(
            f"lstm: lengths must lie in [1, {steps}] (the padded length), "
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
