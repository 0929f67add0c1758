"""1-D pooling over the last axis of (N, C, L) or unbatched (C, L) inputs: ``max_pool1d``,
``avg_pool1d``, ``lp_pool1d``, ``adaptive_avg_pool1d``, ``adaptive_max_pool1d``.

The fixed-window ones read their windows with ``unfold1d`` (im2col, from
:mod:`~tinylm.nn.functional.convolution`): windows[n, c, k, t] = x[n, c, t·stride +
k·dilation − padding], and reduce over k. The output length is PyTorch's:

    L_out = ⌊(L + 2p − d(K−1) − 1) / s⌋ + 1      (⌈…⌉ with ceil_mode, but a last window that
                                                  would start in the right padding is dropped)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.creation import where
from tinylm.devices import array_module
from tinylm.nn.functional.convolution import fold1d, one_int, unfold1d
from tinylm.tensor import Tensor

__all__ = [
    "TakeAlongLast",
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "avg_pool1d",
    "lp_pool1d",
    "max_pool1d",
    "pool_out_len",
    "positions_of_max",
]


def pool_out_len(length: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool):
    """PyTorch's pooled length: ⌊(L + 2p − d(K−1) − 1) / s⌋ + 1 (rounded up with ``ceil``,
    dropping a last window that would start past the input and the left padding)."""
    span = length + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= length + padding:
        out -= 1
    return out


def _check_input(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise TinyLMError(
            f"{op}: input must be (N, C, L) or unbatched (C, L), got shape {tuple(input.shape)}"
        )


def _window_args(
    op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil: bool
) -> tuple[int, int, int, int, int]:
    """(K, stride, padding, dilation, L_out), checked as PyTorch checks them."""
    _check_input(op, input)
    k = one_int(op, "kernel_size", kernel_size, 1)
    no_stride = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
    s = k if no_stride else one_int(op, "stride", stride, 1)
    p = one_int(op, "padding", padding, 0)
    d = one_int(op, "dilation", dilation, 1)
    if p > k // 2:
        raise TinyLMError(f"{op}: padding ({p}) must be at most half of kernel_size ({k})")
    length = input.shape[-1]
    out_len = pool_out_len(length, k, s, p, d, ceil)
    if out_len < 1:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} is too short for kernel {k} (dilation {d}, "
            f"padding {p}): the output would have length {out_len}"
        )
    return k, s, p, d, out_len


def _as3d(x: Any) -> Any:
    return x if x.ndim == 3 else x[None]


def positions_of_max(values: Any, positions: Any) -> Any:
    """Where each window's maximum is: values (N, C, K, T) read from ``positions``
    (broadcastable to it; -1 where a window reads padding) → (N, C, T) positions. PyTorch's
    choice: the first position holding the maximum (so the earliest of a tie, and the
    first real position of a window of -inf), or the last NaN of a window holding one."""
    xp = array_module(values)
    valid = positions >= 0
    nan = xp.isnan(values) & valid
    best = xp.where(valid, values, -xp.inf).max(axis=2, keepdims=True)
    first_max = xp.argmax(valid & (values == best), axis=2)
    kernel = values.shape[2]
    last_nan = kernel - 1 - xp.argmax(nan[:, :, ::-1, :], axis=2)
    pick = xp.where(nan.any(axis=2), last_nan, first_max)[:, :, None, :]
    return xp.take_along_axis(xp.broadcast_to(positions, values.shape), pick, axis=2)[:, :, 0, :]


class TakeAlongLast(Function):
    """y[..., t] = x[..., idx[..., t]]: pick one element of each row per output position.

    Shapes: x (..., L), idx (..., T) ints in [0, L) → y (..., T).
    Backward: dL/dx[..., i] = Σ_{t: idx[..., t] = i} g[..., t] — each gradient goes back
    to the element that was picked, summed where several outputs picked the same one.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, indices: Any) -> Any:
        ctx.indices, ctx.length = indices, x.shape[-1]
        return array_module(x).take_along_axis(x, indices, axis=-1)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        xp = array_module(g)
        length, indices = ctx.length, ctx.indices
        rows = int(np.prod(g.shape[:-1]))
        flat = (xp.arange(rows).reshape(-1, 1) * length + indices.reshape(rows, -1)).reshape(-1)
        summed = xp.bincount(flat, weights=g.reshape(-1), minlength=rows * length)
        return summed.astype(g.dtype).reshape(g.shape[:-1] + (length,))


def _check_float(op: str, input: Tensor) -> None:
    """Max pooling pads with −inf, which no integer holds: refused before any padding."""
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")


def _pick(op: str, input: Tensor, indices: Any, return_indices: bool) -> Any:
    """The values at ``indices`` (a gather with a scatter-add backward), and the int64
    indices as a Tensor with ``return_indices``."""
    _check_float(op, input)
    y = TakeAlongLast.apply(input, indices=indices)
    return (y, Tensor._wrap(indices)) if return_indices else y


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window, as ``torch.nn.functional.max_pool1d``:
    y[n, c, t] = max_k x[n, c, t·s + k·d − p] over the window's positions inside [0, L).

    Computed in two steps: the position of each window's maximum (windows read by
    ``unfold1d``, no gradient), then the values at those positions (``TakeAlongLast``,
    whose backward sends each window's gradient to its maximum).

    Args:
        input: (N, C, L) or (C, L), float.
        kernel_size: K; stride: defaults to K; padding: -inf on both sides, at most half
            of the window's reach d(K−1)+1; dilation: the gap between a window's taps.
        ceil_mode: round L_out up (see the module docstring).
        return_indices: also return where each maximum is: int64 positions in [0, L)
            (the first of a tie, the last NaN of a window with NaNs, as PyTorch).
    Returns:
        (N, C, L_out) or (C, L_out), and the indices of that shape with ``return_indices``.
    """
    op = "max_pool1d"
    _check_float(op, input)
    k, s, p, d, out_len = _window_args(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    x = input.data
    xp = array_module(x)
    windows = unfold1d(_as3d(x), k, s, d, p, out_len, fill=-np.inf)  # (N, C, K, T)
    positions = unfold1d(xp.arange(x.shape[-1]).reshape(1, 1, -1), k, s, d, p, out_len, -1)
    indices = positions_of_max(windows, positions).reshape(x.shape[:-1] + (out_len,))
    return _pick(op, input, indices.astype(np.int64), return_indices)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum of each of ``output_size`` windows that cover the input, as
    ``torch.nn.functional.adaptive_max_pool1d``: window t is [⌊tL/T⌋, ⌈(t+1)L/T⌉).

    Args:
        input: (N, C, L) or (C, L), float, L ≥ 1; output_size: T ≥ 0 (an int or a tuple
            of one).
        return_indices: also return the int64 positions of the maxima (PyTorch's choice
            at ties and NaNs, as ``max_pool1d``).
    Returns:
        (N, C, T) or (C, T), and the indices with ``return_indices``.
    """
    op = "adaptive_max_pool1d"
    _check_input(op, input)
    length = input.shape[-1]
    starts, ends = _adaptive_windows(op, input, output_size)
    x = input.data
    xp = array_module(x)
    widest = int((ends - starts).max()) if len(starts) else 0
    positions = starts[None, :] + np.arange(widest)[:, None]  # (K, T)
    positions = np.where(positions < ends[None, :], positions, -1)
    pos = xp.asarray(positions)
    shape = x.shape[:-1] + (len(starts),)
    if widest == 0:  # output_size 0: nothing to pick
        return _pick(op, input, xp.zeros(shape, dtype=np.int64), return_indices)
    windows = _as3d(x)[:, :, xp.clip(pos, 0, length - 1)]  # (N, C, K, T)
    indices = positions_of_max(windows, pos[None, None]).reshape(shape)
    return _pick(op, input, indices.astype(np.int64), return_indices)


def _adaptive_windows(op: str, input: Tensor, output_size: Any) -> tuple[Any, Any]:
    """PyTorch's adaptive windows over L positions: window t is [⌊tL/T⌋, ⌈(t+1)L/T⌉)."""
    out = one_int(op, "output_size", output_size, 0)
    length = input.shape[-1]
    if length < 1:
        raise TinyLMError(f"{op}: input {tuple(input.shape)} is empty along its last dim")
    t = np.arange(out)
    return (t * length) // out, -((-(t + 1) * length) // out)


class _AdaptiveAvgPool1d(Function):
    """y[n, c, t] = (1/|W_t|) Σ_{i ∈ W_t} x[n, c, i], W_t = [⌊tL/T⌋, ⌈(t+1)L/T⌉): each
    window's mean from its own elements only (an inf or NaN stays in its windows).

    Shapes: x (N, C, L) → y (N, C, T); ``positions`` (K, T) ints, the K = max |W_t| slots
    of each window, −1 past its end; ``counts`` |W_t| (T,).
    Forward: the windows gathered to (N, C, K, T) (0 in the unused slots), summed over K.
    Backward: dL/dx[n, c, i] = Σ_{t: i ∈ W_t} g[n, c, t] / |W_t| — each window's gradient
    spread evenly over it, added where neighbouring windows overlap.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, positions: Any, counts: Any) -> Any:
        xp = array_module(x)
        inside = positions >= 0
        windows = x[:, :, xp.clip(positions, 0, None)]  # (N, C, K, T)
        sums = xp.where(inside, windows, 0).sum(axis=2)
        ctx.meta = (x.shape, positions, counts)
        return (sums / counts).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, positions, counts = ctx.meta
        xp = array_module(g)
        n, c, length = shape
        # (N, C, T, K): added window after window, as PyTorch's loop adds them
        share = xp.where(positions.T >= 0, (g / counts)[:, :, :, None], 0)
        rows = xp.arange(n * c).reshape(n, c, 1, 1) * length
        flat = xp.broadcast_to(rows + xp.clip(positions.T, 0, None), share.shape).reshape(-1)
        if xp is np:  # summed in g's dtype, in that order, as PyTorch's
            summed = np.zeros(n * c * length, dtype=g.dtype)
            np.add.at(summed, flat, share.reshape(-1))
        else:
            summed = xp.bincount(flat, weights=share.reshape(-1), minlength=n * c * length)
        return summed.astype(g.dtype, copy=False).reshape(shape)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """The mean of each of ``output_size`` windows that cover the input, as
    ``torch.nn.functional.adaptive_avg_pool1d``: window t is [⌊tL/T⌋, ⌈(t+1)L/T⌉).

    Each window is summed from its own elements (``_AdaptiveAvgPool1d``), so an inf or NaN
    spoils only the windows that hold it, as in PyTorch.

    Shapes: input (N, C, L) or (C, L), float → (N, C, T) or (C, T).
    """
    op = "adaptive_avg_pool1d"
    _check_input(op, input)
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")
    starts, ends = _adaptive_windows(op, input, output_size)
    x = input if input.ndim == 3 else input.unsqueeze(0)
    if len(starts) == 0:  # output_size 0
        y = x[:, :, :0] * 0.0
    else:
        xp = array_module(input.data)
        widest = int((ends - starts).max())
        slots = starts[None, :] + np.arange(widest)[:, None]  # (K, T)
        positions = xp.asarray(np.where(slots < ends[None, :], slots, -1))
        counts = xp.asarray((ends - starts).astype(input.dtype))
        y = _AdaptiveAvgPool1d.apply(x, positions=positions, counts=counts)
    return y if input.ndim == 3 else y.squeeze(0)


class _AvgPool1d(Function):
    """y[n, c, t] = (1/m_t) Σ_k x[n, c, t·s + k − p]  (x = 0 on the padding), with m_t the
    window's length inside [−p, L + p) (``count_include_pad``) or inside [0, L).

    Shapes: x (N, C, L) → y (N, C, T); ``divisors`` m (T,).
    Backward: dL/dx = fold1d(g / m) — every position of window t gets g[t] / m_t.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, k: int, s: int, p: int, divisors: Any) -> Any:
        out_len = divisors.shape[0]
        windows = unfold1d(_as3d(x), k, s, 1, p, out_len)  # (N, C, K, T), 0 on the padding
        ctx.meta = (x.shape, k, s, p, divisors)
        return (windows.sum(axis=2) / divisors).reshape(x.shape[:-1] + (out_len,))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, k, s, p, divisors = ctx.meta
        share = _as3d(g / divisors)[:, :, None, :]  # (N, C, 1, T)
        xp = array_module(g)
        cols = xp.broadcast_to(share, share.shape[:2] + (k, share.shape[3]))
        return fold1d(cols, shape[-1], s, 1, p).reshape(shape)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window, as ``torch.nn.functional.avg_pool1d``.

    Args:
        input: (N, C, L) or (C, L), float.
        kernel_size: K; stride: defaults to K; padding: zeros on both sides, at most K/2.
        ceil_mode: round L_out up; the extra last window's divisor counts only positions
            up to the end of the right padding.
        count_include_pad: divide by the window's length including the padding (PyTorch's
            default), else by its positions inside the input.
    Returns:
        (N, C, L_out) or (C, L_out).
    """
    op = "avg_pool1d"
    k, s, p, _, out_len = _window_args(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")
    length = input.shape[-1]
    start = np.arange(out_len) * s - p
    end = np.minimum(start + k, length + p)
    if count_include_pad:
        divisors = end - start
    else:
        divisors = np.minimum(end, length) - np.maximum(start, 0)
    divisors = array_module(input.data).asarray(divisors.astype(input.dtype))
    return _AvgPool1d.apply(input, k=k, s=s, p=p, divisors=divisors)


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """The p-norm of each window, (Σ_k x^p)^(1/p), as ``torch.nn.functional.lp_pool1d``, and
    computed as PyTorch computes it (so values and gradients agree at the edges too):
    out = avg_pool1d(x^p) · K, then to the power 1/p, with a zero gradient for a window whose
    x^p sum to 0 (as PyTorch's). No padding.
    norm_type ±inf gives the largest (smallest) |x| of each window, by ``max_pool1d``.

    Shapes: input (N, C, L) or (C, L), float → (N, C, L_out) or (C, L_out).
    """
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float) or norm_type == 0:
        raise TinyLMError(f"lp_pool1d: norm_type must be a non-zero number, got {norm_type!r:.40}")
    _check_input("lp_pool1d", input)
    k = one_int("lp_pool1d", "kernel_size", kernel_size, 1)
    if norm_type in (np.inf, -np.inf):  # the largest (or smallest) |x| of each window
        sign = 1 if norm_type > 0 else -1
        return max_pool1d(input.abs() * sign, k, stride, 0, 1, ceil_mode) * sign
    out = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    # PyTorch's sign(out)·relu(|out|) is out itself, but its relu turns the infinite
    # gradient of (·)^(1/p) at a window summing to 0 into 0: where(out ≠ 0, out, 0) does both
    kept = where(out != 0, out, 0.0)
    return kept.mul(k).pow(1.0 / norm_type)
