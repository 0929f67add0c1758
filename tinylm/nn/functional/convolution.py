"""1-D convolution by im2col: ``conv1d`` and ``conv_transpose1d``.

The convolution sum (PyTorch's, a cross-correlation: the kernel is not flipped)::

    y[n, o, t] = b[o] + Σ_c Σ_k w[o, c, k] · x[n, c, t·stride + k·dilation − padding]

(c runs over the C_in/groups channels of o's group; x is 0 outside [0, L)). Computed in two
steps that a learner can print:

1. **im2col** (:func:`unfold1d`): copy every window of the input into a column,
   cols[n, c, k, t] = x[n, c, t·stride + k·dilation − padding]  — (N, C_in, K, L_out);
2. **one matrix product** per group: the weight as (C_out/G, C_in/G·K) times the columns as
   (C_in/G·K, L_out).

Backward is the same two steps transposed: dL/dcols = Wᵀ g (one product), then **col2im**
(:func:`fold1d`), which adds each column's gradient back onto the input position it was
read from (a position read by several windows gets the sum). dL/dW = g colsᵀ summed over
the batch, dL/db = g summed over the batch and time.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.parallel import note_blas_product
from tinylm.nn.functional.common import check_same_dtype
from tinylm.tensor import Tensor

__all__ = ["conv1d", "conv_transpose1d", "fold1d", "one_int", "unfold1d"]


def unfold1d(
    x: Any, kernel_size: int, stride: int, dilation: int, padding: int, out_len: int, fill=0.0
) -> Any:
    """im2col on arrays: (N, C, L) → (N, C, K, L_out) with
    cols[n, c, k, t] = x[n, c, t·stride + k·dilation − padding], or ``fill`` where that
    position lies outside [0, L) (the left ``padding``, or past the end on the right)."""
    xp = array_module(x)
    n, c, length = x.shape
    cols = xp.empty((n, c, kernel_size, out_len), dtype=x.dtype)
    if out_len == 0 or kernel_size == 0:
        return cols
    span = (out_len - 1) * stride + (kernel_size - 1) * dilation + 1  # positions the windows read
    padded = xp.full((n, c, max(padding + length, span)), fill, dtype=x.dtype)
    padded[:, :, padding : padding + length] = x
    last = (out_len - 1) * stride + 1
    for k in range(kernel_size):  # tap k of every window: one strided slice
        start = k * dilation
        cols[:, :, k, :] = padded[:, :, start : start + last : stride]
    return cols


def fold1d(cols: Any, length: int, stride: int, dilation: int, padding: int) -> Any:
    """col2im, the adjoint of :func:`unfold1d`: (N, C, K, L_out) → (N, C, L) with
    out[n, c, i] = Σ over the (k, t) with t·stride + k·dilation − padding = i of cols[n, c, k, t]
    (values that fall on the padding are dropped)."""
    xp = array_module(cols)
    n, c, kernel_size, out_len = cols.shape
    span = (out_len - 1) * stride + (kernel_size - 1) * dilation + 1 if out_len else 0
    padded = xp.zeros((n, c, max(padding + length, span)), dtype=cols.dtype)
    last = (out_len - 1) * stride + 1
    for k in range(kernel_size if out_len else 0):
        start = k * dilation
        padded[:, :, start : start + last : stride] += cols[:, :, k, :]
    return padded[:, :, padding : padding + length]


class _Conv1d(Function):
    """y[n, o, t] = b[o] + Σ_c Σ_k w[o, c, k] · x[n, c, t·s + k·d − p_left].

    Shapes: x (N, C_in, L), w (C_out, C_in/G, K), b (C_out,) → y (N, C_out, L_out) with
    L_out = ⌊(L + p_left + p_right − d(K−1) − 1) / s⌋ + 1. With G groups, channels
    [g·C_in/G, (g+1)·C_in/G) of x feed outputs [g·C_out/G, (g+1)·C_out/G) only.

    Forward: cols = unfold1d(x) viewed as (N, G, C_in/G·K, L_out); y = W_g cols_g with W_g
    the weight as (G, C_out/G, C_in/G·K).
    Backward (g = dL/dy viewed as (N, G, C_out/G, L_out)):
        dL/dW_g = Σ_n g_n,g cols_n,gᵀ                (C_out/G, C_in/G·K) per group
        dL/dx   = fold1d(W_gᵀ g)                     the column gradients added back in place
        dL/db_o = Σ_n Σ_t g[n, o, t]
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        weight: Any,
        *bias: Any,
        stride: int,
        padding: tuple[int, int],
        dilation: int,
        groups: int,
    ) -> Any:
        n, c_in, length = x.shape
        c_out, _, k = weight.shape
        left, right = padding
        out_len = (length + left + right - dilation * (k - 1) - 1) // stride + 1
        cols = unfold1d(x, k, stride, dilation, left, out_len)
        cols = cols.reshape(n, groups, c_in // groups * k, out_len)
        w = weight.reshape(groups, c_out // groups, c_in // groups * k)
        y = (w @ cols).reshape(n, c_out, out_len)  # (G, O/G, J) @ (N, G, J, T) → (N, G, O/G, T)
        note_blas_product()
        if bias:
            y += bias[0].reshape(1, c_out, 1)
        ctx.save_for_backward(cols, weight)
        ctx.meta = (length, stride, dilation, left, groups, bool(bias))
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        cols, weight = ctx.saved_arrays
        length, stride, dilation, left, groups, has_bias = ctx.meta
        n, _, j, out_len = cols.shape
        c_out, c_per_group, k = weight.shape
        g4 = g.reshape(n, groups, c_out // groups, out_len)
        w = weight.reshape(groups, c_out // groups, j)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gcols = (w.swapaxes(-1, -2) @ g4).reshape(n, groups * c_per_group, k, out_len)
            gx = fold1d(gcols, length, stride, dilation, left)
        if ctx.needs_input_grad[1]:
            gw = (g4 @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        note_blas_product()
        if has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2))
        return (gx, gw, gb) if has_bias else (gx, gw)


class _ConvTranspose1d(Function):
    """The transposed convolution: the gradient of ``conv1d`` with respect to its input,
    used as a layer. Each input position scatters a weighted copy of the kernel:

        y[n, o, i·s + k·d − p] += Σ_c x[n, c, i] · w[c, o, k]        (then + b[o])

    Shapes: x (N, C_in, L), w (C_in, C_out/G, K), b (C_out,) → y (N, C_out, L_out) with
    L_out = (L−1)s − 2p + d(K−1) + output_padding + 1.

    Forward: cols = W_gᵀ x_g (N, G, C_out/G·K, L) with W_g the weight as (G, C_in/G,
    C_out/G·K); y = fold1d(cols) — the col2im step of conv1d's backward.
    Backward (g = dL/dy): cols_g = unfold1d(g) viewed as (N, G, C_out/G·K, L), then
        dL/dx_g = W_g cols_g,   dL/dW_g = Σ_n x_n,g cols_n,gᵀ,   dL/db_o = Σ_n Σ_t g[n, o, t].
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        weight: Any,
        *bias: Any,
        stride: int,
        padding: int,
        out_len: int,
        dilation: int,
        groups: int,
    ) -> Any:
        n, c_in, length = x.shape
        _, c_per_group, k = weight.shape
        x4 = x.reshape(n, groups, c_in // groups, length)
        w = weight.reshape(groups, c_in // groups, c_per_group * k)
        cols = w.swapaxes(-1, -2) @ x4  # (G, J, C_in/G) @ (N, G, C_in/G, L) → (N, G, J, L)
        note_blas_product()
        cols = cols.reshape(n, groups * c_per_group, k, length)  # (N, C_out, K, L)
        y = fold1d(cols, out_len, stride, dilation, padding)
        if bias:
            y += bias[0].reshape(1, -1, 1)
        ctx.save_for_backward(x, weight)
        ctx.meta = (stride, dilation, padding, groups, bool(bias))
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        x, weight = ctx.saved_arrays
        stride, dilation, padding, groups, has_bias = ctx.meta
        n, c_in, length = x.shape
        _, c_per_group, k = weight.shape
        cols = unfold1d(g, k, stride, dilation, padding, length)  # (N, C_out, K, L)
        cols = cols.reshape(n, groups, c_per_group * k, length)
        w = weight.reshape(groups, c_in // groups, c_per_group * k)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (w @ cols).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            x4 = x.reshape(n, groups, c_in // groups, length)
            gw = (x4 @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        note_blas_product()
        if has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2))
        return (gx, gw, gb) if has_bias else (gx, gw)


def one_int(op: str, name: str, value: Any, least: int) -> int:
    """An int argument given as PyTorch allows for 1-D ops (``3``, ``(3,)`` or ``[3]``), at
    least ``least``, or one line naming ``op`` and the argument."""
    v = value
    if isinstance(v, tuple | list) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TinyLMError(f"{op}: {name} must be an int or a tuple of one int, got {value!r:.60}")
    v = int(v.__index__())
    if v < least:
        raise TinyLMError(f"{op}: {name} must be at least {least}, got {value!r:.60}")
    return v


def _check_conv_inputs(
    op: str, input: Any, weight: Any, bias: Any, groups: int, transposed: bool
) -> None:
    """The checks conv1d and conv_transpose1d share: Tensors, 3-D weight, batched (N, C, L)
    or unbatched (C, L) float input, channels that fit the weight and groups, one dtype."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TinyLMError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if input.ndim not in (2, 3):
        raise TinyLMError(
            f"{op}: input must be (N, C_in, L) or unbatched (C_in, L), got shape "
            f"{tuple(input.shape)}"
        )
    if weight.ndim != 3:
        layout = "(C_in, C_out/groups, K)" if transposed else "(C_out, C_in/groups, K)"
        raise TinyLMError(f"{op}: weight must be 3-D {layout}, got shape {tuple(weight.shape)}")
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")
    check_same_dtype(op, input=input, weight=weight, bias=bias)
    c_in = input.shape[-2]
    if transposed:
        if weight.shape[0] != c_in or c_in % groups:
            raise TinyLMError(
                f"{op}: input {tuple(input.shape)} has {c_in} channels but weight "
                f"{tuple(weight.shape)} expects {weight.shape[0]} (divisible by groups={groups})"
            )
        c_out = weight.shape[1] * groups
    else:
        if weight.shape[0] % groups:
            raise TinyLMError(
                f"{op}: weight {tuple(weight.shape)} has {weight.shape[0]} output channels, "
                f"not divisible by groups={groups}"
            )
        if weight.shape[1] * groups != c_in:
            raise TinyLMError(
                f"{op}: input {tuple(input.shape)} has {c_in} channels but weight "
                f"{tuple(weight.shape)} with groups={groups} expects "
                f"{weight.shape[1] * groups}"
            )
        c_out = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise TinyLMError(
            f"{op}: bias has shape {tuple(bias.shape)}, expected ({c_out},) (one per output "
            "channel)"
        )


def _batched(input: Tensor) -> tuple[Tensor, bool]:
    """(N, C, L) as it is, or unbatched (C, L) as a batch of one; and whether it was."""
    return (input, False) if input.ndim == 3 else (input.unsqueeze(0), True)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``:
    y[n, o, t] = b[o] + Σ_c Σ_k w[o, c, k] · x[n, c, t·stride + k·dilation − padding].

    Args:
        input: (N, C_in, L), or unbatched (C_in, L).
        weight: (C_out, C_in/groups, K).
        bias: (C_out,) or None.
        stride, dilation: ints ≥ 1 (or a tuple of one).
        padding: zeros added on both sides, an int ≥ 0; or "valid" (none), or "same"
            (output as long as the input; stride 1 only; d(K−1) zeros split with the odd
            one on the right, as PyTorch).
        groups: C_in and C_out split into this many groups, each convolved on its own.
    Returns:
        (N, C_out, L_out) (or (C_out, L_out)), L_out = ⌊(L + 2p − d(K−1) − 1) / s⌋ + 1.
    """
    op = "conv1d"
    groups = one_int(op, "groups", groups, 1)
    _check_conv_inputs(op, input, weight, bias, groups, transposed=False)
    s = one_int(op, "stride", stride, 1)
    d = one_int(op, "dilation", dilation, 1)
    k = weight.shape[2]
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0)
        elif padding == "same":
            if s != 1:
                raise TinyLMError(f"{op}: padding='same' is not supported for strided convolutions")
            total = d * (k - 1)
            pads = (total // 2, total - total // 2)
        else:
            raise TinyLMError(f"{op}: padding must be an int, 'valid' or 'same', got {padding!r}")
    else:
        p = one_int(op, "padding", padding, 0)
        pads = (p, p)
    length = input.shape[-1]
    if length + sum(pads) < d * (k - 1) + 1:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} padded by {pads} is shorter than the kernel's "
            f"reach d(K−1)+1 = {d * (k - 1) + 1} (kernel {k}, dilation {d})"
        )
    x, unbatched = _batched(input)
    params = {"stride": s, "padding": pads, "dilation": d, "groups": groups}
    tensors = (x, weight) if bias is None else (x, weight, bias)
    y = _Conv1d.apply(*tensors, **params)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d`` (note
    PyTorch's order: ``groups`` before ``dilation``): the gradient of ``conv1d`` with
    respect to its input, y[n, o, i·s + k·d − p] += Σ_c x[n, c, i] · w[c, o, k], plus b[o].

    Args:
        input: (N, C_in, L), or unbatched (C_in, L).
        weight: (C_in, C_out/groups, K).
        bias: (C_out,) or None.
        stride, dilation: ints ≥ 1; padding: int ≥ 0 cut from both ends of the output.
        output_padding: extra positions at the end, < stride or < dilation.
    Returns:
        (N, C_out, L_out) (or (C_out, L_out)), L_out = (L−1)s − 2p + d(K−1) + output_padding + 1.
    """
    op = "conv_transpose1d"
    groups = one_int(op, "groups", groups, 1)
    _check_conv_inputs(op, input, weight, bias, groups, transposed=True)
    if isinstance(padding, str):
        raise TinyLMError(f"{op}: padding must be an int (PyTorch has no {padding!r} here)")
    s = one_int(op, "stride", stride, 1)
    d = one_int(op, "dilation", dilation, 1)
    p = one_int(op, "padding", padding, 0)
    extra = one_int(op, "output_padding", output_padding, 0)
    if extra >= max(s, d):
        raise TinyLMError(
            f"{op}: output_padding ({extra}) must be smaller than either stride ({s}) or "
            f"dilation ({d})"
        )
    k = weight.shape[2]
    out_len = (input.shape[-1] - 1) * s - 2 * p + d * (k - 1) + extra + 1
    if out_len < 1:
        raise TinyLMError(
            f"{op}: the output would have length {out_len} (input {tuple(input.shape)}, "
            f"kernel {k}, stride {s}, padding {p}, dilation {d}); it must be at least 1"
        )
    x, unbatched = _batched(input)
    params = {"stride": s, "padding": p, "out_len": out_len, "dilation": d, "groups": groups}
    tensors = (x, weight) if bias is None else (x, weight, bias)
    y = _ConvTranspose1d.apply(*tensors, **params)
    return y.squeeze(0) if unbatched else y
